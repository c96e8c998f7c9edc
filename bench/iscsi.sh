#!/usr/bin/env bash
# iscsi.sh - benchmark slated's iSCSI target against tgt (Debian tgt), side
# by side in the same run, with the same clients (libiscsi's iscsi-perf and
# qemu-img over iscsi:// URLs).
#
# Usage: bench/iscsi.sh [--json] [--quick]
#
# Each target serves a fresh 1 GiB thin LUN on tmpfs (slated: a new pool
# under /dev/shm with its demo volume; tgt: a sparse backing file under
# /dev/shm) on a loopback port of its own (13260, 13261; tgtd's control
# port 13261), so nothing collides with a target on 3260.  Runs alternate
# slated, tgt, slated, tgt... (3 of each; 1 with --quick) and each run
# measures, in this order, on a freshly started target:
#   warm-up          2 MiB reads and writes: tgt's 1 MiB figures depend on
#                    having served a request above 1 MiB (glibc then keeps
#                    its buffers mapped); both targets get the same warm-up
#   4k-write-iops    qemu-img bench -w, 4 KiB, QD32 (first writes: thin)
#   convert-1g-s     qemu-img convert -n of a 1 GiB random image (so that
#                    the reads below read data, not holes)
#   1m-seqwrite-mibs, 1m-seqread-mibs   qemu-img bench, 1 MiB, QD8
#   4k-randread-iops iscsi-perf -r -m 32 -b 8 -t 10
#   cpu-us-per-4k-io the target process's utime+stime (/proc/PID/stat, all
#                    threads) over the two 4 KiB runs, per IO they did
# and prints the medians as one table like bench/cowstore.sh (name, value,
# peer, peer_name, ratio, unit; --json: one JSON object).  A ratio above 1
# favours slated except for convert-1g-s and cpu-us-per-4k-io (lower is
# better: there the ratio is slated / tgt too, so below 1 favours slated).
#
# It never passes or fails on a figure: the exit status is 1 only when a
# measurement could not run (its error is on stderr and its row is null).
# Both daemons are always stopped and /dev/shm cleaned, by a trap.
set -u

. "$(dirname "$0")/common.sh"
for tool in tgtd tgtadm iscsi-perf qemu-img; do
	if ! command -v "$tool" >/dev/null; then
		echo "iscsi.sh: $tool is missing (packaging/deps.sh installs it)" >&2
		exit 1
	fi
done
if ! make -s build/slated >&2; then
	echo "iscsi.sh: building build/slated failed" >&2
	exit 1
fi

SLATE_PORT=13260
TGT_PORT=13261
TGT_CONTROL=13261
SLATE_URL=iscsi://127.0.0.1:$SLATE_PORT/iqn.2026-11.dev.slate:demo/0
TGT_IQN=iqn.2026-11.peer:tgt1
TGT_URL=iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1 # tgt's LUN 0 is its controller

if [ "$quick" -eq 1 ]; then
	reps=1 read_seconds=2 write_ios=20000 mib_ios=256 image_mib=128
else
	# About 4 minutes when both targets run near tgt's measured level.
	reps=3 read_seconds=10 write_ios=200000 mib_ios=2048 image_mib=1024
fi

scratch=$(mktemp -d /dev/shm/iscsi-bench.XXXXXX) || exit 1
daemon_pid=
tgt_up=0

# Stop whichever target runs (tgt through tgtadm first, then its pid).
stop_target() {
	if [ "$tgt_up" -eq 1 ]; then
		tgtadm -C "$TGT_CONTROL" --lld iscsi --op delete --force --mode target --tid 1 \
			>/dev/null 2>&1
		tgtadm -C "$TGT_CONTROL" --lld iscsi --op delete --mode system >/dev/null 2>&1
		tgt_up=0
	fi
	if [ -n "$daemon_pid" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$daemon_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=
	fi
}
trap 'stop_target; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

start_slated() {
	"$root/build/slated" --data "$scratch/run/pool" --iscsi "127.0.0.1:$SLATE_PORT" --api 127.0.0.1:0 \
		2>"$scratch/run/slated.log" &
	daemon_pid=$!
	for _ in $(seq 100); do
		grep -q 'ready;' "$scratch/run/slated.log" && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "slated did not start: $(tr '\n' '|' <"$scratch/run/slated.log")"
	return 1
}

start_tgt() {
	truncate -s 1G "$scratch/run/lun1.img" || return 1
	tgtd -f -C "$TGT_CONTROL" --iscsi "portal=127.0.0.1:$TGT_PORT" \
		>"$scratch/run/tgtd.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 100); do
		tgtadm -C "$TGT_CONTROL" --op show --mode system >/dev/null 2>&1 && break
		sleep 0.1
	done
	tgt_up=1
	if tgtadm -C "$TGT_CONTROL" --lld iscsi --op new --mode target --tid 1 \
		--targetname "$TGT_IQN" &&
		tgtadm -C "$TGT_CONTROL" --lld iscsi --op new --mode logicalunit --tid 1 \
			--lun 1 --backing-store "$scratch/run/lun1.img" &&
		tgtadm -C "$TGT_CONTROL" --lld iscsi --op bind --mode target --tid 1 \
			--initiator-address 127.0.0.1; then
		return 0
	fi
	fail "tgtd did not start: $(tr '\n' '|' <"$scratch/run/tgtd.log")"
	return 1
}

# CPU time of the target process so far, in clock ticks (all threads).
cpu_ticks() {
	# Fields after "pid (comm) ": utime and stime are the 12th and 13th.
	sed 's/^.*) //' "/proc/$daemon_pid/stat" | awk '{ print $12 + $13 }'
}

# qemu_bench URL COUNT SIZE DEPTH [-w]: seconds the run took, or nothing.
qemu_bench() {
	local url=$1 count=$2 size=$3 depth=$4 out
	shift 4
	out=$(timeout 300 qemu-img bench -f raw -t none -c "$count" -s "$size" -d "$depth" "$@" \
		"$url" 2>&1) || { log "qemu-img bench $* on $url: $out"; return 1; }
	sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out"
}

# rate COUNT SECONDS [FORMAT]: COUNT per second.
rate() {
	awk -v n="$1" -v s="$2" -v f="${3:-%.0f}" 'BEGIN { if (s > 0) printf f, n / s }'
}

# measure TARGET URL: one run of every measurement on a started target.
measure() {
	local who=$1 url=$2 s t0 out iops ticks=0 ios=0 flag
	for flag in "" -w; do # warm-up
		qemu_bench "$url" 8 2097152 1 ${flag:+"$flag"} >/dev/null || fail "$who: warm-up failed"
	done

	t0=$(cpu_ticks)
	s=$(qemu_bench "$url" "$write_ios" 4096 32 -w)
	if [ -n "$s" ]; then
		record "$who" 4k-write-iops "$(rate "$write_ios" "$s")"
		ticks=$(($(cpu_ticks) - t0))
		ios=$write_ios
	else
		fail "$who: 4k-write-iops failed"
	fi

	t0=$(date +%s.%N)
	if out=$(timeout 600 qemu-img convert -n -f raw -O raw "$scratch/random.img" "$url" 2>&1); then
		record "$who" convert-1g-s "$(awk -v a="$t0" -v b="$(date +%s.%N)" \
			'BEGIN { printf "%.2f", b - a }')"
	else
		fail "$who: convert failed: $out"
	fi

	for flag in -w ""; do
		local name=1m-seqread-mibs
		[ -n "$flag" ] && name=1m-seqwrite-mibs
		s=$(qemu_bench "$url" "$mib_ios" 1048576 8 ${flag:+"$flag"})
		if [ -n "$s" ]; then
			record "$who" "$name" "$(rate "$mib_ios" "$s" %.1f)"
		else
			fail "$who: $name failed"
		fi
	done

	t0=$(cpu_ticks)
	out=$(timeout $((read_seconds + 60)) iscsi-perf -r -m 32 -b 8 -t "$read_seconds" "$url" \
		2>&1 | tr '\r' '\n')
	iops=$(grep -o 'iops average [0-9]*' <<<"$out" | tail -n 1 | awk '{ print $3 }')
	if [ -n "$iops" ]; then
		record "$who" 4k-randread-iops "$iops"
		ticks=$((ticks + $(cpu_ticks) - t0))
		ios=$((ios + iops * read_seconds))
	else
		fail "$who: iscsi-perf failed: $(tail -n 3 <<<"$out")"
	fi
	[ "$ios" -gt 0 ] && record "$who" cpu-us-per-4k-io \
		"$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$ios" \
			'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
}

# ---- measurements ------------------------------------------------------

log "writing a ${image_mib} MiB random image"
head -c $((image_mib << 20)) /dev/urandom >"$scratch/random.img" || exit 1
for rep in $(seq "$reps"); do
	for who in slated tgt; do
		log "run $rep/$reps: $who"
		rm -rf "$scratch/run"
		mkdir "$scratch/run" || exit 1
		if [ "$who" = slated ]; then
			start_slated && measure slated "$SLATE_URL"
		else
			start_tgt && measure tgt "$TGT_URL"
		fi
		stop_target
		rm -rf "$scratch/run"
	done
done

# ---- the table ---------------------------------------------------------

peer_rows tgt 4k-randread-iops:iops 4k-write-iops:iops 1m-seqread-mibs:MiB/s \
	1m-seqwrite-mibs:MiB/s convert-1g-s:s cpu-us-per-4k-io:us

tgt_version=$(package_version tgt)
qemu_version=$(package_version qemu-utils)
libiscsi_version=$(package_version libiscsi-bin)
print_results "$(printf '{"bench":"iscsi","machine":{"cpus":%s,"mem_gib":%s,"kernel":%s,"tgt":%s,"qemu":%s,"libiscsi":%s},"results":[' \
	"$cpus" "$mem_gib" "$(json_str "$kernel")" "$(json_str "$tgt_version")" \
	"$(json_str "$qemu_version")" "$(json_str "$libiscsi_version")")" \
	"# iscsi bench ($mode, median of $reps runs, LUNs on /dev/shm, slated vs tgt alternating)
# machine: $cpus cpus, $mem_gib GiB, kernel $kernel, tgt $tgt_version, qemu-utils $qemu_version, libiscsi-bin $libiscsi_version, slate $slate_rev"
finish
