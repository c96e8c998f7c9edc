#!/bin/sh
# nfs_malformed.sh - slated's NFS port fed ONC RPC no client sends: broken
# record marking, wrong RPC/program/version/procedure numbers, arguments
# that do not decode, bad credentials, pipelined and fragmented calls
# (nfs_malformed.py holds the cases).  slated must answer each as RFC 5531
# says, drop only the offending connection, keep serving, and still shut
# down cleanly.  Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

start_slated "$TMP/pool" || exit 1
require_nfs || exit 1
run_checks malformed python3 tests/integration/nfs_malformed.py "$NFS_PORT"
check "slated is still running" kill -0 "$slated_pid"
timeout 30 nfs-ls "$(nfs_url /demo)" >"$TMP/ls.out" 2>&1
check "nfs-ls still lists /demo afterwards" test $? -eq 0

stop_slated
check "slated exits 0 on SIGTERM after it all" test "$slated_rc" -eq 0
check "slated closed the pool cleanly" grep -q 'closed cleanly' "$TMP/slated.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
