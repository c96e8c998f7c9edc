#!/bin/sh
# iscsi_load.sh - bench/iscsi-load (the libiscsi load generator) against
# slated's demo target: its JSON figures are consistent (IOPS > 0, ordered
# percentiles, counts that add up), --max-ios and SIGINT bound a run, and on
# a pool with an EMULATED DEVICE (set with slate-store before start) slated
# says so at open and the measured IOPS stay within what the model allows
# (channels / service time, +10% for the measurement's edges) while every
# command takes at least the service time.  Those are correctness checks of
# the model, not timing tests: the model forbids faster completions, and a
# slow machine only lowers the figures.
# Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
TARGET=iqn.2026-11.dev.slate:demo
LOAD=build/bench/iscsi-load
TOOL=build/slate-store

# json_ok FILE PYTHON-EXPRESSION: the expression over the object `r` is true.
json_ok() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$2"
}

SANE='r["iops"] > 0 and r["errors"] == 0 and r["ios"] == r["reads"] + r["writes"]
and 0 < r["latency_us"]["min"] <= r["latency_us"]["p50"] <= r["latency_us"]["p90"]
<= r["latency_us"]["p99"] <= r["latency_us"]["p99.9"] <= r["latency_us"]["max"]
and r["latency_us"]["min"] <= r["latency_us"]["avg"] <= r["latency_us"]["max"]'

start_slated "$TMP/pool" || exit 1
URL=iscsi://$PORTAL/$TARGET/0

timeout 60 "$LOAD" --initiator iqn.2026-11.dev.slate:load-a --seconds 2 --qd 8 --size 4k \
	--random --json "$URL" >"$TMP/plain.json" 2>"$TMP/plain.err"
check "iscsi-load runs 2 s of 4 KiB random reads at QD 8 and exits 0" test $? -eq 0
check "its JSON: IOPS > 0, no errors, ordered percentiles" json_ok "$TMP/plain.json" "$SANE"
check "its JSON names the run" json_ok "$TMP/plain.json" \
	'r["qd"] == 8 and r["sizes"] == "4k" and r["pattern"] == "random" and r["read_pct"] == 100
and r["initiator"] == "iqn.2026-11.dev.slate:load-a" and 1.5 <= r["seconds"]'

timeout 60 "$LOAD" --sizes 4k:70,64k:30 --read-pct 50 --max-ios 2000 --qd 4 --json "$URL" \
	>"$TMP/mixed.json" 2>"$TMP/mixed.err"
check "a mixed run (4k:70,64k:30, 50% reads) exits 0" test $? -eq 0
check "--max-ios bounds it: exactly 2000 commands, reads and writes both" json_ok \
	"$TMP/mixed.json" "$SANE"' and r["ios"] == 2000 and r["reads"] > 0 and r["writes"] > 0
and len(r["by_size"]) == 2 and sum(s["ios"] for s in r["by_size"]) == 2000
and r["bytes"] == sum(s["bytes"] * s["ios"] for s in r["by_size"])'

timeout 60 "$LOAD" --seconds 50 --json "$URL" >"$TMP/int.json" 2>"$TMP/int.err" &
load_pid=$!
sleep 1
kill -INT "$load_pid"
wait "$load_pid"
check "SIGINT ends a 50 s run with the partial figures and exit 0" test $? -eq 0
check "  ... marked interrupted, IOPS > 0, sane" json_ok "$TMP/int.json" \
	"$SANE"' and r["interrupted"] and r["seconds"] < 40'

"$LOAD" --size 3000 "$URL" >/dev/null 2>"$TMP/bad.err"
check "an IO size that is not a multiple of the block size is refused (exit 1)" test $? -eq 1
"$LOAD" --qd 0 "$URL" >/dev/null 2>&1
check "a usage error exits 2" test $? -eq 2

stop_slated

# ---- on an emulated device: 2 channels of 2 ms = at most 1000 IOPS --------
"$TOOL" "$TMP/pool" pool emulate --channels 2 --service-us 2000 >"$TMP/emu.out" 2>&1
check "slate-store pool emulate sets the emulated device" grep -q "EMULATED DEVICE" "$TMP/emu.out"
"$TOOL" "$TMP/pool" pool info >"$TMP/info.out" 2>&1
check "pool info shows it" grep -q "^emulated device: ON .*2 channels, 2000 us" "$TMP/info.out"
start_slated "$TMP/pool" || exit 1
URL=iscsi://$PORTAL/$TARGET/0 # a new port each start
check "slated logs the EMULATED DEVICE at open" \
	grep -q "pool default uses an EMULATED DEVICE (for tests and benchmarks): 2 channels" "$TMP/slated.log"

for mix in 100 0; do
	timeout 60 "$LOAD" --seconds 2 --qd 8 --size 4k --read-pct "$mix" --json "$URL" \
		>"$TMP/emu$mix.json" 2>"$TMP/emu$mix.err"
	check "emulated device, ${mix}% reads: iscsi-load exits 0, sane figures" \
		json_ok "$TMP/emu$mix.json" "$SANE"
	check "  ... IOPS at most the model's 1000 (+10%)" json_ok "$TMP/emu$mix.json" \
		'r["iops"] <= 1100'
	check "  ... no command faster than the 2000 us service time" json_ok \
		"$TMP/emu$mix.json" 'r["latency_us"]["min"] >= 2000'
done
stop_slated
check "slated exits 0 with an emulated device" test "$slated_rc" -eq 0

"$TOOL" "$TMP/pool" pool emulate off >"$TMP/off.out" 2>&1
check "slate-store pool emulate off" grep -q "emulated device off" "$TMP/off.out"
start_slated "$TMP/pool" || exit 1
URL=iscsi://$PORTAL/$TARGET/0
check "slated no longer mentions an emulated device" \
	sh -c "! grep -qi 'emulated device' '$TMP/slated.log'"
timeout 60 "$LOAD" --seconds 1 --json "$URL" >"$TMP/after.json" 2>"$TMP/after.err"
check "with it off, iscsi-load runs as before (no bound asserted)" json_ok "$TMP/after.json" \
	"$SANE"
stop_slated

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
