# harness.sh - what the integration scripts share (the shell side of
# tests/harness.h): a temp folder removed on exit (killing a slated still
# running), "ok"/"FAIL" check lines with their counters, and slated started
# on an ephemeral loopback port.  Scripts cd to the repository root, then
# source this file.
SLATED=${SLATED:-build/slated}
TMP=$(mktemp -d /tmp/slate-test-XXXXXX)
pass=0
fail=0
slated_pid=

cleanup() {
	[ -n "$slated_pid" ] && kill -KILL "$slated_pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# check WHAT COMMAND [ARGS...]: one line, "ok" when the command succeeds.
check() {
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok   $what"
		pass=$((pass + 1))
	else
		echo "FAIL $what"
		fail=$((fail + 1))
	fi
}

# start_slated POOLDIR [configured]: slated on 127.0.0.1 and a port the
# kernel picks, or with "configured" on the portals the pool holds (the
# first must be on 127.0.0.1); sets PORT and PORTAL (the first portal).
# When it does not come up, prints the failure with its log
# ($TMP/slated.log) and the closing line, and returns 1.
start_slated() {
	if [ "${2:-}" = configured ]; then
		"$SLATED" --data "$1" 2>"$TMP/slated.log" &
	else
		"$SLATED" --data "$1" --iscsi 127.0.0.1:0 2>"$TMP/slated.log" &
	fi
	slated_pid=$!
	# Until "ready" or slated dies; the bound (5 minutes) is there only so
	# that a hung daemon cannot hang the suite on a loaded machine.
	for _ in $(seq 3000); do
		grep -q 'ready;' "$TMP/slated.log" && break
		kill -0 "$slated_pid" 2>/dev/null || break
		sleep 0.1
	done
	PORT=$(sed -n 's/.*iSCSI: listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$TMP/slated.log")
	PORTAL=127.0.0.1:$PORT
	[ -n "$PORT" ] && return 0
	echo "FAIL slated starts serving iSCSI (log: $(tr '\n' '|' <"$TMP/slated.log"))"
	echo "$pass passed, $((fail + 1)) failed"
	return 1
}

# stop_slated: SIGTERM, wait; slated_rc gets its exit status.
stop_slated() {
	kill -TERM "$slated_pid"
	wait "$slated_pid"
	slated_rc=$?
	slated_pid=
}
