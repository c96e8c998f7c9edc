#!/usr/bin/env bash
# cowstore.sh - benchmark the copy-on-write extent store against a plain file.
#
# Usage: bench/cowstore.sh [--json] [--quick]
#
# Builds build/bench/cowstore-bench (make -s), then runs every measurement 3
# times on a scratch directory under /dev/shm, alternating cowstore with its
# peer (A B A B A B: a preallocated file driven by liburing with buffered IO)
# so that drift on the machine hits both alike, and prints the medians as one
# table: name, value, peer, peer_name, ratio (value / peer), unit.  --json
# prints exactly one JSON object instead.  --quick shrinks sizes and times for
# a smoke run; its figures mean little.
#
# It never passes or fails on a figure: the exit status is 1 only when a
# measurement could not run (its error is on stderr and its row is null).
set -u

. "$(dirname "$0")/common.sh"
if ! make -s build/bench/cowstore-bench >&2; then
	echo "cowstore.sh: building build/bench/cowstore-bench failed" >&2
	exit 1
fi
bin=$root/build/bench/cowstore-bench

scratch=$(mktemp -d /dev/shm/cowstore-bench.XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

reps=3
if [ "$quick" -eq 1 ]; then
	io_mib=128 io_seconds=1
	snap_mib=128 snap_seconds=1
	snap_blocks=20000
	meta_mib=64 recovery_mib=64
else
	# About 8 minutes on 2 cores when cowstore runs near its peer.
	io_mib=1024 io_seconds=5
	snap_mib=1024 snap_seconds=3
	snap_blocks=1000000
	meta_mib=1024 recovery_mib=1024
fi

# run_bench SUBCOMMAND TARGET ARGS...: run one measurement with TARGET (a
# pool directory or a file name) inside a fresh $scratch/run, record every
# "name value unit" line it prints, and remove its data.
run_bench() {
	local sub=$1 target=$2 out name value unit
	shift 2
	rm -rf "$scratch/run"
	mkdir "$scratch/run" || exit 1
	log "$sub $*"
	if ! out=$("$bin" "$sub" "$scratch/run/$target" "$@"); then
		fail "$sub $* failed"
		rm -rf "$scratch/run"
		return 1
	fi
	rm -rf "$scratch/run"
	while read -r name value unit; do
		[ -n "$name" ] || continue
		record "$sub" "$name" "$value"
	done <<<"$out"
}

# ---- measurements ------------------------------------------------------

for io in randwrite randread seqwrite seqread; do
	case $io in
	rand*) qd=32 ;;
	*) qd=8 ;;
	esac
	for _ in $(seq "$reps"); do
		run_bench "$io" pool "$io_mib" "$qd" "$io_seconds"
		run_bench "raw-$io" raw.img "$io_mib" "$qd" "$io_seconds"
	done
done
for _ in $(seq "$reps"); do
	run_bench snapratio pool "$snap_mib" "$snap_seconds"
done
for _ in $(seq "$reps"); do
	run_bench snapcreate pool "$snap_blocks"
done
for _ in $(seq "$reps"); do
	run_bench metadata pool "$meta_mib"
done
for _ in $(seq "$reps"); do
	run_bench recovery pool "$recovery_mib"
done

# ---- the table ---------------------------------------------------------

# add_row NAME KEY UNIT [PEER_KEY PEER_NAME]: medians of the recorded samples.
add_row() {
	local name=$1 key=$2 unit=$3 peer_key=${4:-} peer_name=${5:-} value peer=""
	value=$(median "${samples[$key]:-}")
	if [ -n "$peer_key" ]; then
		peer=$(median "${samples[$peer_key]:-}")
	fi
	rows+=("$name|$value|$peer|$peer_name|$unit")
}

# add_mib_row NAME KEY PEER_KEY PEER_NAME: like add_row for byte counts, in MiB.
add_mib_row() {
	local name=$1 key=$2 peer_key=$3 peer_name=$4 value peer
	value=$(median "${samples[$key]:-}")
	peer=$(median "${samples[$peer_key]:-}")
	[ -n "$value" ] && value=$(awk -v b="$value" 'BEGIN { printf "%.1f", b / 1048576 }')
	[ -n "$peer" ] && peer=$(awk -v b="$peer" 'BEGIN { printf "%.1f", b / 1048576 }')
	rows+=("$name|$value|$peer|$peer_name|MiB")
}

raw=raw-file-io_uring
add_row 4k-randwrite-iops randwrite:4k-randwrite-iops iops raw-randwrite:4k-randwrite-iops "$raw"
add_row 4k-randread-iops randread:4k-randread-iops iops raw-randread:4k-randread-iops "$raw"
add_row 1m-seqwrite-mibs seqwrite:1m-seqwrite-mibs MiB/s raw-seqwrite:1m-seqwrite-mibs "$raw"
add_row 1m-seqread-mibs seqread:1m-seqread-mibs MiB/s raw-seqread:1m-seqread-mibs "$raw"
for n in 1 10 100; do
	add_row "4k-randwrite-after-$n-snapshots-ratio" \
		"snapratio:4k-randwrite-after-$n-snapshots-ratio" ratio
done
add_row snapshot-create-ms snapcreate:snapshot-create-ms ms
add_row clone-create-ms snapcreate:clone-create-ms ms
add_row snapshot-delete-ms snapcreate:snapshot-delete-ms ms
add_mib_row snapshot-delete-reclaimed-mib snapcreate:snapshot-delete-reclaimed-bytes \
	snapcreate:snapshot-delete-overwritten-bytes overwritten-10pct
add_mib_row snapshot-delete-unique-mib snapcreate:snapshot-delete-unique-bytes \
	snapcreate:snapshot-delete-overwritten-bytes overwritten-10pct
add_row metadata-mib-per-gib metadata:metadata-mib-per-gib MiB/GiB
add_row recovery-ms recovery:recovery-ms ms

rocksdb=$(package_version librocksdb-dev)
[ -n "$rocksdb" ] || rocksdb=unknown
print_results "$(printf '{"bench":"cowstore","machine":{"cpus":%s,"mem_gib":%s,"kernel":%s,"rocksdb":%s},"results":[' \
	"$cpus" "$mem_gib" "$(json_str "$kernel")" "$(json_str "$rocksdb")")" \
	"# cowstore bench ($mode, median of $reps runs, scratch on /dev/shm)
# machine: $cpus cpus, $mem_gib GiB, kernel $kernel, librocksdb-dev $rocksdb, slate $slate_rev"
finish
