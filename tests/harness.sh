# harness.sh - what the integration scripts share (the shell side of
# tests/harness.h): a temp folder removed on exit (killing a slated still
# running), "ok"/"FAIL" check lines with their counters, and slated started
# on ephemeral loopback ports (iSCSI, and NFS when this slated serves it).
# Scripts cd to the repository root, then source this file.
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

# run_checks LABEL COMMAND [ARGS...]: run a test program that prints its
# own "ok"/"FAIL" lines and closing line (at most 10 minutes): its check
# lines become this script's, marked [LABEL], and count here; a non-zero
# exit without a FAIL line counts as one failure.
run_checks() {
	label=$1
	shift
	timeout 600 "$@" >"$TMP/run_checks.out" 2>&1
	rc=$?
	grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$TMP/run_checks.out" |
		sed -E "s,^(ok   |FAIL ),\1[$label] ,"
	pass=$((pass + $(grep -c '^ok ' "$TMP/run_checks.out")))
	f=$(grep -c '^FAIL ' "$TMP/run_checks.out")
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL [$label] exited $rc without a FAIL line"
		fail=$((fail + 1))
	fi
}

# start_slated POOLDIR [configured]: slated with iSCSI on 127.0.0.1 and a
# port the kernel picks, or with "configured" on the portals the pool holds
# (the first must be on 127.0.0.1); NFS always on 127.0.0.1 and a port the
# kernel picks, without portmapper.  Sets PORT and PORTAL (the first portal)
# and NFS_PORT (NFS and MOUNT share it), API_PORT and API_URL (the REST base URL;
# the admin token is in POOLDIR/admin-token).  $SLATED_ARGS, when set, are more
# flags (split at blanks), e.g. "--pool fast=DIR".
# When it does not come up, prints the failure with its log
# ($TMP/slated.log) and the closing line, and returns 1.
start_slated() {
	# The old log goes first: the shell truncates it only in the child, so
	# a restart could otherwise read the previous run's "ready" and ports.
	rm -f "$TMP/slated.log"
	NFS_PORT=
	if [ "${2:-}" = configured ]; then
		"$SLATED" --data "$1" --nfs 127.0.0.1:0 --portmap off --api 127.0.0.1:0 \
			${SLATED_ARGS:-} 2>"$TMP/slated.log" &
	else
		"$SLATED" --data "$1" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:0 --portmap off \
			--api 127.0.0.1:0 ${SLATED_ARGS:-} 2>"$TMP/slated.log" &
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
	NFS_PORT=$(sed -n 's/.*NFS: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' \
		"$TMP/slated.log" | tail -n 1)
	API_PORT=$(sed -n 's,.*API: listening on http://127\.0\.0\.1:\([0-9]*\)/.*,\1,p' \
		"$TMP/slated.log" | tail -n 1)
	API_URL=http://127.0.0.1:$API_PORT/api/v1
	[ -n "$PORT" ] && return 0
	echo "FAIL slated starts serving iSCSI (log: $(tr '\n' '|' <"$TMP/slated.log"))"
	echo "$pass passed, $((fail + 1)) failed"
	return 1
}

# require_nfs: for NFS tests after start_slated; when slated logged no NFS
# port, prints why with the closing line and returns 1.
require_nfs() {
	[ -n "${NFS_PORT:-}" ] && return 0
	echo "FAIL slated serves NFS (no \"NFS: listening\" line; log: $(tr '\n' '|' \
		<"$TMP/slated.log"))"
	echo "$pass passed, $((fail + 1)) failed"
	return 1
}

# nfs_url PATH: the libnfs URL of PATH (/demo/FILE) on slated's NFS port,
# which serves MOUNT too.
nfs_url() {
	echo "nfs://127.0.0.1$1?nfsport=$NFS_PORT&mountport=$NFS_PORT"
}

# stop_slated: SIGTERM, wait; slated_rc gets its exit status.
stop_slated() {
	kill -TERM "$slated_pid"
	wait "$slated_pid"
	slated_rc=$?
	slated_pid=
}
