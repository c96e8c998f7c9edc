#!/bin/sh
# run.sh - run test programs, echo their output, and sum their closing lines
# ("N passed, N failed") into one closing line for the whole run.
# A program that exits non-zero without a closing line counts as one failure.
# Usage: tests/run.sh LABEL PROGRAM...
label=$1
shift
total_pass=0
total_fail=0
for prog in "$@"; do
	out=$(mktemp)
	echo "== $label: $prog"
	"$prog" >"$out" 2>&1
	rc=$?
	cat "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "FAIL $prog: exit $rc after a closing line with no failure"
			total_fail=$((total_fail + 1))
		fi
	else
		echo "$prog: exit $rc without a closing line"
		total_fail=$((total_fail + 1))
	fi
done
echo "$label: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
