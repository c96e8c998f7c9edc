#!/bin/sh
# nfs_rpcbind.sh - slated with Debian's rpcbind: when one runs, slated
# registers NFS v3 and MOUNT v3 with it (instead of answering port 111
# itself), clients find them through it, and a clean stop unregisters them.
# rpcbind cannot be limited to loopback, so it runs in a network namespace
# made here (only lo) with a private /run (its socket and lock live there).
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

cat >"$TMP/ns.sh" <<'INNER'
# runs in "unshare --net --mount": SLATED TMP
SLATED=$1 T=$2
ip link set lo up
mount -t tmpfs -o mode=0755,size=16m slate-test-run /run || exit 1
rpcbind -f >"$T/rpcbind.log" 2>&1 &
rpcbind_pid=$!
trap 'kill -KILL $rpcbind_pid $slated_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
	rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
	sleep 0.1
done
"$SLATED" --data "$T/pool" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:2049 2>"$T/slated.log" &
slated_pid=$!
for _ in $(seq 3000); do
	grep -q 'ready;' "$T/slated.log" && break
	kill -0 $slated_pid 2>/dev/null || exit 1
	sleep 0.1
done
rpcinfo -p 127.0.0.1 >"$T/registered.out" 2>&1
echo hello >"$T/hello.txt"
timeout 30 nfs-cp "$T/hello.txt" nfs://127.0.0.1/demo/hello.txt >"$T/cp.out" 2>&1
echo "rc=$?" >>"$T/cp.out"
timeout 30 nfs-cat nfs://127.0.0.1/demo/hello.txt >"$T/cat.out" 2>&1
kill -TERM $slated_pid
wait $slated_pid
echo "rc=$?" >"$T/stop.out"
slated_pid=
rpcinfo -p 127.0.0.1 >"$T/unregistered.out" 2>&1
INNER
timeout 300 unshare --net --mount --propagation private sh "$TMP/ns.sh" "$SLATED" "$TMP"

check "slated registered with the running rpcbind" \
	grep -q 'NFS: listening on 127.0.0.1:2049 (NFS v3, MOUNT v3), portmapper rpcbind' \
	"$TMP/slated.log"
check "rpcbind maps NFS v3 to TCP 2049" grep -qE '100003 +3 +tcp +2049' "$TMP/registered.out"
check "rpcbind maps MOUNT v3 to TCP 2049" grep -qE '100005 +3 +tcp +2049' "$TMP/registered.out"
check "nfs-cp through rpcbind" grep -q '^rc=0$' "$TMP/cp.out"
check "nfs-cat reads the file back" grep -qx 'hello' "$TMP/cat.out"
check "slated stopped cleanly" grep -q '^rc=0$' "$TMP/stop.out"
check "rpcbind still answers after slated stopped" grep -qE '100000 +2 +tcp +111' \
	"$TMP/unregistered.out"
check "the stop unregistered NFS and MOUNT" sh -c "! grep -qE '10000[35] ' '$TMP/unregistered.out'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
