#!/bin/sh
# run.sh - run the libFuzzer targets (build/fuzz/tests/fuzz/fuzz_*), each
# from its seed corpus (tests/fuzz/corpus/NAME/) plus a working corpus under
# build/fuzz/corpus/NAME/ (new inputs go there, never into the sources).
# Crash inputs are kept in build/fuzz/artifacts/.  Prints "ok/FAIL NAME" per
# target and "N passed, N failed", as tests/run.sh expects.
#
#   tests/fuzz/run.sh            short: FUZZ_RUNS inputs each (default 20000);
#                                what `make test` runs
#   tests/fuzz/run.sh --long     FUZZ_SECONDS each (default 600); `make fuzz`
#
# A target fails only on a crash, leak, sanitizer report or hang, never on
# time: a short run that reaches its time bound (FUZZ_SECONDS, default 120
# in short mode) before its count simply stops.
cd "$(dirname "$0")/../.." || exit 1
if [ "${1:-}" = "--long" ]; then
	limits="-max_total_time=${FUZZ_SECONDS:-600}"
else
	limits="-runs=${FUZZ_RUNS:-20000} -max_total_time=${FUZZ_SECONDS:-120}"
fi
pass=0
fail=0
mkdir -p build/fuzz/artifacts
for name in fuzz_pdu fuzz_text fuzz_rpc fuzz_nfs fuzz_sched fuzz_api; do
	bin=build/fuzz/tests/fuzz/$name
	work=build/fuzz/corpus/$name
	log=build/fuzz/$name.log
	mkdir -p "$work"
	# shellcheck disable=SC2086
	if "$bin" $limits -max_len=65536 -timeout=60 -close_fd_mask=3 \
		-artifact_prefix=build/fuzz/artifacts/ "$work" "tests/fuzz/corpus/$name" \
		>"$log" 2>&1; then
		echo "ok   $name: $(grep -E '^(#[0-9]+|Done)' "$log" | tail -n 1)"
		pass=$((pass + 1))
	else
		echo "FAIL $name (log: $log)"
		grep -E 'ERROR|SUMMARY|artifact|Test unit written' "$log" | head -n 20
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
