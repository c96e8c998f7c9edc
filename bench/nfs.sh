#!/usr/bin/env bash
# nfs.sh - benchmark slated's NFS v3 server against nfs-ganesha 4.3 (Debian
# nfs-ganesha + nfs-ganesha-vfs exporting a tmpfs directory), side by side in
# the same run, with the same clients (qemu-img over nfs:// URLs, and
# build/bench/nfs-meta on libnfs).
#
# Usage: bench/nfs.sh [--json] [--quick]
#
# qemu-img's nfs:// URLs take no port: they ask the portmapper on port 111.
# So each server runs in a sandbox of its own, made fresh for every run: a
# network namespace whose only interface is lo, and a mount namespace whose
# /run is a private tmpfs (rpcbind keeps its lock and socket in /run, and
# servers register with whatever rpcbind owns /run/rpcbind.sock: the private
# /run keeps them from meeting an rpcbind of the host or of another sandbox).
# Both namespaces live as long as the processes in them; nothing is bound
# outside them.  The clients run in the server's network namespace.
#   slated   build/slated --data POOL --iscsi 127.0.0.1:13260
#            --nfs 127.0.0.1:2049, POOL a new pool under /dev/shm; it
#            exports /demo and, with no rpcbind to register with, answers the
#            portmapper itself on 127.0.0.1:111
#   ganesha  rpcbind, then ganesha.nfsd exporting a tmpfs directory under
#            /dev/shm (VFS FSAL) as /demo, NFS v3 over TCP on 127.0.0.1
#            (../shared/peers).  Its lo also gets an IPv6 ULA: glibc's
#            AI_ADDRCONFIG does not count lo's own addresses, and without
#            one more ganesha 4.3 cannot take Bind_addr = 127.0.0.1 (in a
#            namespace with lo alone it refuses to start; beside other
#            interfaces it binds every address)
# Runs alternate slated, ganesha, slated, ganesha... (3 of each; 1 with
# --quick) and each run measures, in this order, on a freshly started server
# and a new file nfs://127.0.0.1/demo/bench.img of 1 GiB (256 MiB --quick):
#   warm-up            2 MiB reads and writes, the same for both servers
#   convert-1g-s       qemu-img convert -n of a random raw image of the
#                      file's size into it (so that reads below read data)
#   4k-randread-iops   qemu-img bench, 4 KiB, QD32, the offset stepping by
#   4k-randwrite-iops  104729 blocks (odd: every block of the file in turn,
#                      each far from the last) instead of a random generator
#   64k-seqread-mibs   qemu-img bench, 64 KiB, QD32
#   1m-seqread-mibs, 1m-seqwrite-mibs   qemu-img bench, 1 MiB, QD8
#   create-ops, getattr-ops, remove-ops   build/bench/nfs-meta: 2,000 files
#                      created, stat'ed, removed, one call at a time
#   cpu-us-per-4k-io   the server process's utime+stime (/proc/PID/stat, all
#                      threads) over the two 4 KiB runs, per IO they did
# Writes carry the byte 0xa5, not zeros.  It prints the medians as one table
# like the other bench scripts (name, value, peer, peer_name, ratio, unit;
# --json: one JSON object).  A ratio above 1 favours slated except for
# convert-1g-s and cpu-us-per-4k-io (lower is better: there the ratio is
# slated / ganesha too, so below 1 favours slated).
#
# It never passes or fails on a figure: the exit status is 1 only when a
# measurement could not run (its error is on stderr and its row is null;
# when build/slated cannot be built, ganesha is still measured).  Every
# server, rpcbind and namespace is stopped and /dev/shm cleaned, by a trap.
set -u

. "$(dirname "$0")/common.sh"
for tool in ganesha.nfsd rpcbind rpcinfo qemu-img unshare nsenter ip; do
	if ! command -v "$tool" >/dev/null; then
		echo "nfs.sh: $tool is missing (packaging/deps.sh installs it)" >&2
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	echo "nfs.sh: needs root (network and mount namespaces, rpcbind on port 111)" >&2
	exit 1
fi
if ! make -s build/bench/nfs-meta >&2; then
	echo "nfs.sh: building build/bench/nfs-meta failed" >&2
	exit 1
fi

EXPORT=/demo
URL=nfs://127.0.0.1$EXPORT/bench.img
STEP_4K=$((4096 * 104729)) # odd in blocks, so it visits every block of a 2^n file

if [ "$quick" -eq 1 ]; then
	reps=1 file_mib=256 ios_4k=20000 ios_64k=8000 reads_1m=1024 writes_1m=512
else
	# About 4-5 minutes when both servers run near ganesha's measured level.
	reps=3 file_mib=1024 ios_4k=100000 ios_64k=40000 reads_1m=4096 writes_1m=2048
fi
meta_files=2000

scratch=$(mktemp -d /dev/shm/nfs-bench.XXXXXX) || exit 1
run=$scratch/run
sandbox_pid= # the process holding the run's namespaces
server_pid=  # slated or ganesha.nfsd
rpcbind_pid=

# stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_pid() {
	local pid=$1 tenths=$(($2 * 10))
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq "$tenths"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# Stop the run's server, rpcbind and sandbox; the namespaces go with them.
stop_sandbox() {
	stop_pid "$server_pid" 20
	stop_pid "$rpcbind_pid" 5
	stop_pid "$sandbox_pid" 5
	server_pid='' rpcbind_pid='' sandbox_pid=''
}
trap 'stop_sandbox; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

# in_sandbox CMD...: CMD in the sandbox's network namespace (clients).
in_sandbox() {
	nsenter -t "$sandbox_pid" --net -- "$@"
}

# Servers run in both of the sandbox's namespaces, started as
#   nsenter -t "$sandbox_pid" --net --mount -- SERVER ... &
# written out (not through a function, which would run in a subshell) so that
# $! is the server itself (nsenter execs it) for /proc/PID/stat and kill; the
# working directory becomes /, so paths must be absolute.

# start_sandbox [IPV6_ADDRESS]: new network namespace with lo up (and the
# address on lo), new mount namespace with a private /run.
start_sandbox() {
	unshare --net --mount --propagation private -- sh -c '
		ip link set lo up &&
		{ [ -z "$1" ] || ip addr add "$1" dev lo; } &&
		mount -t tmpfs -o mode=0755,size=16m nfs-bench-run /run &&
		echo sandbox ready && exec sleep 7200' sandbox "${1:-}" >"$run/sandbox.log" 2>&1 &
	sandbox_pid=$!
	for _ in $(seq 100); do
		grep -q 'sandbox ready' "$run/sandbox.log" && return 0
		kill -0 "$sandbox_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "cannot make a network namespace: $(tr '\n' '|' <"$run/sandbox.log")"
	return 1
}

# wait_portmapper LOG: until NFS v3 and MOUNT v3 answer a NULL call over
# TCP at the ports the portmapper on 127.0.0.1 gives for them (what the
# clients will do), while server_pid lives; LOG is shown on failure.
wait_portmapper() {
	for _ in $(seq 300); do
		in_sandbox rpcinfo -t 127.0.0.1 100003 3 >/dev/null 2>&1 &&
			in_sandbox rpcinfo -t 127.0.0.1 100005 3 >/dev/null 2>&1 && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$(basename "$1" .log) did not start: $(tail -n 5 "$1" | tr '\n' '|')"
	return 1
}

# is_server COMM: server_pid is that program (not a shell or nsenter), so
# that its CPU time is the server's.
is_server() {
	local comm
	comm=$(cat "/proc/$server_pid/comm" 2>/dev/null)
	[ "$comm" = "$1" ] && return 0
	fail "process $server_pid is '$comm', not $1"
	return 1
}

start_slated() {
	start_sandbox || return 1
	nsenter -t "$sandbox_pid" --net --mount -- "$root/build/slated" --data "$run/pool" \
		--iscsi 127.0.0.1:13260 --nfs 127.0.0.1:2049 2>"$run/slated.log" &
	server_pid=$!
	for _ in $(seq 300); do
		grep -q 'ready;' "$run/slated.log" && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q 'ready;' "$run/slated.log"; then
		fail "slated did not start: $(tail -n 5 "$run/slated.log" | tr '\n' '|')"
		return 1
	fi
	is_server slated || return 1
	if ! grep -q 'portmapper own:111' "$run/slated.log"; then
		fail "slated does not answer the portmapper on 127.0.0.1:111: $(grep 'NFS:' "$run/slated.log")"
		return 1
	fi
	wait_portmapper "$run/slated.log"
}

start_ganesha() {
	mkdir -p "$run/export" "$run/recov" || return 1
	# ganesha's configuration expands no variables: the paths are written in.
	sed "s|@RECOVERY@|$run/recov|" "$root/bench/ganesha-core.conf" >"$run/ganesha.conf" || return 1
	cat >>"$run/ganesha.conf" <<-EOF
		EXPORT {
		    Export_Id = 1;
		    Path = "$run/export";
		    Pseudo = "$EXPORT";
		    Protocols = 3;
		    Transports = TCP;
		    Access_Type = RW;
		    Squash = No_Root_Squash;
		    SecType = sys;
		    FSAL { Name = VFS; }
		}
		LOG {
		    Default_Log_Level = EVENT;
		}
	EOF
	# the ULA: see ../shared/peers/ganesha-setup.sh
	start_sandbox fd00:6e66:7300::1/128 || return 1
	# ganesha 4.3 exits when it cannot register with rpcbind: rpcbind first
	nsenter -t "$sandbox_pid" --net --mount -- rpcbind -f >"$run/rpcbind.log" 2>&1 &
	rpcbind_pid=$!
	for _ in $(seq 100); do
		in_sandbox rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
		kill -0 "$rpcbind_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! in_sandbox rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
		fail "rpcbind did not start: $(tail -n 5 "$run/rpcbind.log" | tr '\n' '|')"
		return 1
	fi
	nsenter -t "$sandbox_pid" --net --mount -- ganesha.nfsd -F -f "$run/ganesha.conf" -L "$run/ganesha.log" \
		-p /run/ganesha.pid -N NIV_EVENT >"$run/ganesha.stdout" 2>&1 &
	server_pid=$!
	wait_portmapper "$run/ganesha.log" && is_server ganesha.nfsd
}

# CPU time of the server process so far, in clock ticks (all threads);
# nothing when it is gone.
cpu_ticks() {
	# Fields after "pid (comm) ": utime and stime are the 12th and 13th.
	sed 's/^.*) //' "/proc/$server_pid/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# qemu_bench COUNT SIZE DEPTH [ARGS...]: seconds the run took, or nothing.
qemu_bench() {
	local count=$1 size=$2 depth=$3 out
	shift 3
	out=$(in_sandbox timeout 300 qemu-img bench -f raw -t none -c "$count" -s "$size" \
		-d "$depth" "$@" "$URL" 2>&1) || { log "qemu-img bench $*: $out"; return 1; }
	sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out"
}

# rate COUNT SECONDS [FORMAT]: COUNT per second.
rate() {
	awk -v n="$1" -v s="$2" -v f="${3:-%.0f}" 'BEGIN { if (s > 0) printf f, n / s }'
}

# bench_row SERVER NAME COUNT SIZE DEPTH FORMAT [ARGS...]: one qemu-img bench
# run recorded as COUNT per second (FORMAT iops) or MiB per second (mibs);
# status 0 when it ran.
bench_row() {
	local who=$1 name=$2 count=$3 size=$4 depth=$5 format=$6 s
	shift 6
	s=$(qemu_bench "$count" "$size" "$depth" "$@")
	if [ -z "$s" ]; then
		fail "$who: $name failed"
		return 1
	fi
	if [ "$format" = iops ]; then
		record "$who" "$name" "$(rate "$count" "$s")"
	else
		record "$who" "$name" "$(rate "$((count * size))" "$(awk -v s="$s" 'BEGIN { print s * 1048576 }')" %.1f)"
	fi
}

# measure SERVER: one run of every measurement on a started server.
measure() {
	local who=$1 t0 out ticks=0 ios=0 flag
	if ! out=$(in_sandbox timeout 60 qemu-img create -f raw "$URL" "${file_mib}M" 2>&1); then
		fail "$who: qemu-img create $URL: $out"
		return 1
	fi
	for flag in -w ""; do # warm-up
		qemu_bench 8 2097152 1 ${flag:+"$flag" --pattern=0xa5} >/dev/null ||
			fail "$who: warm-up failed"
	done

	t0=$(date +%s.%N)
	if out=$(in_sandbox timeout 600 qemu-img convert -n -f raw -O raw "$scratch/random.img" \
		"$URL" 2>&1); then
		record "$who" convert-1g-s "$(awk -v a="$t0" -v b="$(date +%s.%N)" \
			'BEGIN { printf "%.2f", b - a }')"
	else
		fail "$who: convert failed: $out"
	fi

	for flag in "" -w; do
		local name=4k-randread-iops t1
		[ -n "$flag" ] && name=4k-randwrite-iops
		t0=$(cpu_ticks)
		bench_row "$who" "$name" "$ios_4k" 4096 32 iops -S "$STEP_4K" \
			${flag:+"$flag" --pattern=0xa5} || continue
		t1=$(cpu_ticks)
		if [ -n "$t0" ] && [ -n "$t1" ]; then
			ticks=$((ticks + t1 - t0))
			ios=$((ios + ios_4k))
		fi
	done
	[ "$ios" -gt 0 ] && record "$who" cpu-us-per-4k-io \
		"$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$ios" \
			'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"

	bench_row "$who" 64k-seqread-mibs "$ios_64k" 65536 32 mibs
	bench_row "$who" 1m-seqread-mibs "$reads_1m" 1048576 8 mibs
	bench_row "$who" 1m-seqwrite-mibs "$writes_1m" 1048576 8 mibs -w --pattern=0xa5

	if out=$(in_sandbox timeout 300 "$root/build/bench/nfs-meta" 127.0.0.1 "$EXPORT" \
		"$meta_files" 2>&1); then
		record "$who" create-ops "$(awk '$1 == "creates/s" { print $2 }' <<<"$out")"
		record "$who" getattr-ops "$(awk '$1 == "getattrs/s" { print $2 }' <<<"$out")"
		record "$who" remove-ops "$(awk '$1 == "removes/s" { print $2 }' <<<"$out")"
	else
		fail "$who: nfs-meta failed: $out"
	fi
}

# ---- measurements ------------------------------------------------------

# slated is built once; when it cannot be, ganesha is still measured.
slated_built=1
if ! make -s build/slated >"$scratch/make.log" 2>&1; then
	fail "slated: building build/slated failed, so it is not measured: $(tail -n 3 "$scratch/make.log" | tr '\n' '|')"
	slated_built=0
fi

log "writing a ${file_mib} MiB random image"
head -c $((file_mib << 20)) /dev/urandom >"$scratch/random.img" || exit 1
for rep in $(seq "$reps"); do
	for who in slated ganesha; do
		[ "$who" = slated ] && [ "$slated_built" -eq 0 ] && continue
		log "run $rep/$reps: $who"
		rm -rf "$run"
		mkdir "$run" || exit 1
		if [ "$who" = slated ]; then
			start_slated && measure slated
		else
			start_ganesha && measure ganesha
		fi
		stop_sandbox
		rm -rf "$run"
	done
done

# ---- the table ---------------------------------------------------------

peer_rows ganesha 4k-randread-iops:iops 4k-randwrite-iops:iops 64k-seqread-mibs:MiB/s \
	1m-seqread-mibs:MiB/s 1m-seqwrite-mibs:MiB/s convert-1g-s:s create-ops:ops/s \
	getattr-ops:ops/s remove-ops:ops/s cpu-us-per-4k-io:us

ganesha_version=$(package_version nfs-ganesha)
qemu_version=$(package_version qemu-utils)
libnfs_version=$(package_version libnfs-dev)
print_results "$(printf '{"bench":"nfs","machine":{"cpus":%s,"mem_gib":%s,"kernel":%s,"nfs_ganesha":%s,"qemu":%s,"libnfs":%s},"results":[' \
	"$cpus" "$mem_gib" "$(json_str "$kernel")" "$(json_str "$ganesha_version")" \
	"$(json_str "$qemu_version")" "$(json_str "$libnfs_version")")" \
	"# nfs bench ($mode, median of $reps runs, exports on /dev/shm, slated vs ganesha alternating)
# machine: $cpus cpus, $mem_gib GiB, kernel $kernel, nfs-ganesha $ganesha_version, qemu-utils $qemu_version, libnfs $libnfs_version, slate $slate_rev"
finish
