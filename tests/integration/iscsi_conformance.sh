#!/bin/sh
# iscsi_conformance.sh - libiscsi's conformance suite (iscsi-test-cu, Debian
# libiscsi-bin 1.19) against slated: every test of the ALL family in its own
# process, destructive tests included (-d, -S), with two initiator names and
# the LUN given twice so the multi-initiator and multipath tests run.
# slated runs on a temp pool and an ephemeral loopback port.
#
# Prints "ok", "FAIL", "skip" (the target lacks the feature; not a failure)
# or "known" (a failure listed below as a bug of the 1.19 tool, with its
# reason) per test, a pass/fail/skip table per suite, and the closing
# "N passed, N failed".  Tests run one after another: the whole suite takes
# well under a minute, and tests that reset the target or reserve the LUN
# must not run beside others on the same LUN.
#
#   SLATED=path  the daemon to test (build/slated)
#   ONLY=regex   run only the tests whose name matches (while debugging)
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
TARGET=iqn.2026-11.dev.slate:demo
INITIATOR_A=iqn.2026-11.dev.slate:conf-a
INITIATOR_B=iqn.2026-11.dev.slate:conf-b
TEST_TIMEOUT=60
skip=0
known=0

# Failures that are bugs of iscsi-test-cu 1.19 itself, not of the target.
# Each is still run and reported ("known"), and becomes "ok" if it passes.
known_bug() {
	case $1 in
	# The test asserts reconnect_succeeded right after queueing the LUN
	# RESET, before any response could have set it: it fails on every
	# target.  Fixed upstream after 1.19 (libiscsi pull request #341).
	ALL.iSCSITMF.LUNResetSimpleAsync)
		echo "asserts on the TMF callback's result before the TMF is sent (libiscsi PR #341)" ;;
	# The second loop asks GET LBA STATUS for LBA i+1 and expects the first
	# descriptor to start at i+LBPPB; SBC-3 5.6 says it starts at the LBA
	# asked for, so the test passes only on targets with one logical block
	# per physical block (ours has 8: 4 KiB physical blocks).
	ALL.GetLBAStatus.UnmapSingle)
		echo "expects the descriptor at LBA i+LBPPB when it asked for i+1 (SBC-3 5.6)" ;;
	*)
		return 1 ;;
	esac
}

# passed, FAILED or skipped for one test's output: the CUnit verdict that
# follows "Test: NAME ...", skipped when the test logged [SKIPPED] before it.
verdict() {
	awk '
		/^  Test: / { intest = 1; seen = 1 }
		intest && /(^|\.\.\.)FAILED/ { v = "FAILED"; intest = 0 }
		intest && /(^|\.\.\.)passed/ { v = skipped ? "skipped" : "passed"; intest = 0 }
		intest && /\[SKIPPED\]/ { skipped = 1 }
		END { print (v == "" ? "FAILED" : v) }
	' "$1"
}

start_slated "$TMP/pool" || exit 1
LUN_URL=iscsi://127.0.0.1:$PORT/$TARGET/0

if ! iscsi-test-cu --list >"$TMP/list" 2>&1; then
	echo "FAIL iscsi-test-cu --list ($(head -c 200 "$TMP/list"))"
	echo "0 passed, 1 failed"
	exit 1
fi
grep -E '^ALL\.[^.]+\.[^.]+$' "$TMP/list" | grep -E "${ONLY:-.}" >"$TMP/tests"

: >"$TMP/results"
while read -r test; do
	out=$TMP/$test.out
	timeout "$TEST_TIMEOUT" iscsi-test-cu -d -S -i "$INITIATOR_A" -I "$INITIATOR_B" \
		-t "$test" "$LUN_URL" "$LUN_URL" >"$out" 2>&1 </dev/null
	rc=$?
	result=$(verdict "$out")
	suite=$(echo "$test" | cut -d. -f2)
	case $result in
	passed)
		echo "ok   $test"
		pass=$((pass + 1)) ;;
	skipped)
		echo "skip $test: $(sed -n '/^  Test: /,$s/.*\[SKIPPED\] *//p' "$out" | head -n 1)"
		skip=$((skip + 1)) ;;
	*)
		if reason=$(known_bug "$test"); then
			echo "known $test: libiscsi 1.19 bug: $reason"
			known=$((known + 1))
			result=known
		else
			echo "FAIL $test (exit $rc):"
			grep -E '^ +[0-9]+\. |\[FAILED\]' "$out" | head -n 8 | sed 's/^ */       /'
			fail=$((fail + 1))
		fi ;;
	esac
	echo "$suite $result" >>"$TMP/results"
done <"$TMP/tests"

echo "suite                          passed failed  known skipped"
awk '{ n[$1] = 1; c[$1, $2]++ }
     END { for (s in n) printf "%-30s %6d %6d %6d %7d\n", s, c[s, "passed"],
		c[s, "FAILED"], c[s, "known"], c[s, "skipped"] }' "$TMP/results" | sort
echo "iscsi-test-cu: $pass passed, $fail failed, $known known tool bugs, $skip skipped"

if kill -0 "$slated_pid" 2>/dev/null; then
	echo "ok   slated is still serving after the suite"
	pass=$((pass + 1))
else
	echo "FAIL slated died during the suite (log: $(tail -n 5 "$TMP/slated.log" | tr '\n' '|'))"
	fail=$((fail + 1))
fi
stop_slated
if [ "$slated_rc" -eq 0 ]; then
	echo "ok   slated exits 0 on SIGTERM after the suite"
	pass=$((pass + 1))
else
	echo "FAIL slated exits $slated_rc on SIGTERM after the suite"
	fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
