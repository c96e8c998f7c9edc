#!/bin/sh
# nfs_clients.sh - slated's NFSv3 server driven by clients we did not write
# (libnfs's nfs-ls, nfs-cp, nfs-cat; qemu-img with nfs:// URLs) and by
# nfs_api, a libnfs raw-API program that calls every NFSv3 and MOUNTv3
# procedure.  On a new pool's /demo export; across a restart (handles stay
# valid, the write verifier changes, committed data stays); with 8
# connections racing over .lck files; on read-only, root-squashing,
# all-squashing, secure, CIDR, wildcard and foreign-client exports made with
# slate-store; with per-file snapshots, rollback and clones; and with
# qemu-img going through slated's own portmapper on port 111, which only a
# private network namespace lets a test use.
# Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
STORE=${STORE:-build/slate-store}
API=${NFS_API:-build/tests/integration/nfs_api}
POOL=$TMP/pool

refused() { ! "$@"; }
same_sha() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]; }
# api EXPORT MODE [ARGS...]: one nfs_api phase against slated's EXPORT;
# its check lines count here.
api() {
	export_path=$1
	mode=$2
	shift 2
	run_checks "nfs_api $mode $export_path" "$API" -e "$export_path" "$mode" \
		127.0.0.1 "$NFS_PORT" "$@"
}
# nfs_get PATH FILE: nfs-cp PATH (/demo/x) out of slated to a local FILE.
nfs_get() {
	rm -f "$2"
	timeout 300 nfs-cp "$(nfs_url "$1")" "$2" >/dev/null 2>&1
}
restart() {
	stop_slated
	check "slated exits 0 on SIGTERM with NFS running" test "$slated_rc" -eq 0
	start_slated "$POOL" || exit 1
	require_nfs || exit 1
}

# ---- a new pool: /demo with libnfs's tools and nfs_api -----------------------
start_slated "$POOL" || exit 1
require_nfs || exit 1
check "slated serves NFS v3 and MOUNT v3 on one port" \
	grep -q "NFS: listening on 127.0.0.1:$NFS_PORT (NFS v3, MOUNT v3)" "$TMP/slated.log"

timeout 60 nfs-ls "$(nfs_url /demo)" >"$TMP/ls0.out" 2>&1
check "nfs-ls lists the demo export of a new pool" test $? -eq 0
head -c $((64 << 20)) /dev/urandom >"$TMP/big.bin"
timeout 300 nfs-cp "$TMP/big.bin" "$(nfs_url /demo/big.bin)" >"$TMP/cp-in.out" 2>&1
check "nfs-cp writes a 64 MiB file" grep -q "copied 67108864 bytes" "$TMP/cp-in.out"
timeout 60 nfs-ls "$(nfs_url /demo)" >"$TMP/ls1.out" 2>&1
check "nfs-ls lists it as a regular file of 67108864 bytes" \
	grep -qE '^-[rwx-]{9} +1 +[0-9]+ +[0-9]+ +67108864 big\.bin$' "$TMP/ls1.out"
nfs_get /demo/big.bin "$TMP/big.back"
check "nfs-cp reads the 64 MiB back with the same sha256" same_sha "$TMP/big.bin" "$TMP/big.back"
printf 'hello from nfs-cat\n' >"$TMP/hello.txt"
timeout 60 nfs-cp "$TMP/hello.txt" "$(nfs_url /demo/hello.txt)" >/dev/null 2>&1
timeout 60 nfs-cat "$(nfs_url /demo/hello.txt)" >"$TMP/hello.back" 2>/dev/null
check "nfs-cat prints a small file back" cmp -s "$TMP/hello.txt" "$TMP/hello.back"
check "nfs-cp onto an existing name is refused (its exclusive CREATE gets EXIST)" refused \
	timeout 60 nfs-cp "$TMP/hello.txt" "$(nfs_url /demo/hello.txt)"
check "nfs-ls of an export that does not exist fails" refused \
	timeout 60 nfs-ls "$(nfs_url /no-such-export)"
check "nfs-cat of a missing file fails" refused timeout 60 nfs-cat "$(nfs_url /demo/nope)"

api /demo all
api /demo lck-race 8

# ---- a restart: handles, data and the write verifier ------------------------
api /demo save-handles "$TMP/handles"
restart
api /demo check-handles "$TMP/handles"
nfs_get /demo/big.bin "$TMP/big.back"
check "after the restart the 64 MiB file reads back the same" \
	same_sha "$TMP/big.bin" "$TMP/big.back"

# ---- a full pool: NOSPC, then space back after a REMOVE ---------------------------
stop_slated
SMALL=$TMP/small
"$STORE" "$SMALL" pool create --capacity 32M >/dev/null
start_slated "$SMALL" || exit 1
require_nfs || exit 1
api /demo fill full.bin
check "slated says the pool is full" grep -q "event: pool full" "$TMP/slated.log"
head -c $((1 << 20)) /dev/urandom >"$TMP/small.bin"
check "nfs-cp into the full pool fails" refused \
	timeout 60 nfs-cp "$TMP/small.bin" "$(nfs_url /demo/s1.bin)"
api /demo rm full.bin
check "after the big file is removed a 1 MiB write fits" \
	timeout 60 nfs-cp "$TMP/small.bin" "$(nfs_url /demo/s2.bin)"
nfs_get /demo/s2.bin "$TMP/small.back"
check "and reads back" cmp -s "$TMP/small.bin" "$TMP/small.back"
stop_slated
start_slated "$POOL" || exit 1
require_nfs || exit 1

# ---- SIGKILL: what FILE_SYNC writes acknowledged survives -------------------------
head -c $((3 << 20)) /dev/urandom >"$TMP/sync.bin"
api /demo put synced.bin "$TMP/sync.bin"
kill -KILL "$slated_pid"
wait "$slated_pid" 2>/dev/null
slated_pid=
start_slated "$POOL" || exit 1
require_nfs || exit 1
nfs_get /demo/synced.bin "$TMP/sync.back"
check "after SIGKILL a file written FILE_SYNC reads back whole" cmp -s "$TMP/sync.bin" "$TMP/sync.back"
nfs_get /demo/big.bin "$TMP/big.back"
check "after SIGKILL the 64 MiB file (committed before the restart) is there" \
	same_sha "$TMP/big.bin" "$TMP/big.back"

# ---- exports made with slate-store ----------------------------------------------
stop_slated
"$STORE" "$POOL" nfs-export list >"$TMP/exports0.out" 2>&1
check "nfs-export list shows the demo export" grep -q '/demo' "$TMP/exports0.out"
# /ro, /sq and /asq start read-write and unsquashed, to put a file in /ro
# and open /sq and /asq to everyone (root squashed could not create in a
# root-owned 0755 directory); then they get their real options.
for e in /ro /sq /asq; do
	check "nfs-export add $e read-write" \
		"$STORE" "$POOL" nfs-export add $e '127.0.0.1(rw,no_root_squash,insecure)'
done
start_slated "$POOL" || exit 1
require_nfs || exit 1
printf 'read me, do not change me\n' >"$TMP/readme"
timeout 60 nfs-cp "$TMP/readme" "$(nfs_url /ro/readme)" >/dev/null 2>&1
check "a file is written to the new export /ro" test $? -eq 0
api /sq chmod 0777
api /asq chmod 0777
stop_slated
for e in /ro /sq /asq; do
	check "nfs-export remove $e" "$STORE" "$POOL" nfs-export remove $e
done
"$STORE" "$POOL" nfs-export list >"$TMP/exports1.out" 2>&1
check "nfs-export list no longer shows them" refused grep -qE '/ro|/sq|/asq' "$TMP/exports1.out"
check "nfs-export remove of an export that does not exist is refused" refused \
	"$STORE" "$POOL" nfs-export remove /ro
check "nfs-export add /ro read-only for two clients" "$STORE" "$POOL" nfs-export add /ro \
	'127.0.0.1(ro,no_root_squash,insecure)' '::1(ro,no_root_squash,insecure)'
check "nfs-export add /sq, root squashed to 1234:1235" "$STORE" "$POOL" nfs-export add /sq \
	'127.0.0.1(rw,insecure,anonuid=1234,anongid=1235)'
check "nfs-export add /asq, everyone squashed to 2000:2001" "$STORE" "$POOL" nfs-export add /asq \
	'127.0.0.1(rw,all_squash,insecure,anonuid=2000,anongid=2001)'
check "nfs-export add /sec, secure by default" "$STORE" "$POOL" nfs-export add /sec \
	'127.0.0.1(rw,no_root_squash)'
check "nfs-export add /cidr for 127.0.0.0/8" "$STORE" "$POOL" nfs-export add /cidr \
	'127.0.0.0/8(rw,no_root_squash,insecure)'
check "nfs-export add /any for *" "$STORE" "$POOL" nfs-export add /any '*(ro,insecure)'
check "nfs-export add /other for another host only" "$STORE" "$POOL" nfs-export add /other \
	'10.9.8.7(rw,insecure)'
check "nfs-export add with a client that is no address is refused" refused \
	"$STORE" "$POOL" nfs-export add /bad 'not-an-address(rw)'
check "nfs-export add with an unknown option is refused" refused \
	"$STORE" "$POOL" nfs-export add /bad '127.0.0.1(rw,frobnicate)'
"$STORE" "$POOL" nfs-export list >"$TMP/exports2.out" 2>&1
check "nfs-export list shows the new exports" sh -c "for e in /ro /sq /asq /sec /cidr /any /other; do
	grep -q \"\$e\" '$TMP/exports2.out' || exit 1; done"
start_slated "$POOL" || exit 1
require_nfs || exit 1

api /ro readonly
timeout 60 nfs-cat "$(nfs_url /ro/readme)" >"$TMP/readme.back" 2>/dev/null
check "nfs-cat reads the file on the read-only export" cmp -s "$TMP/readme" "$TMP/readme.back"
check "nfs-cp into the read-only export is refused" refused \
	timeout 60 nfs-cp "$TMP/hello.txt" "$(nfs_url /ro/hello.txt)"
api /sq squash 1234 1235
api /asq squash 2000 2001 all
run_checks "secure /sec" python3 tests/integration/nfs_malformed.py --secure "$NFS_PORT" \
	/sec /demo
timeout 60 nfs-ls "$(nfs_url /cidr)" >/dev/null 2>&1
check "a 127.0.0.0/8 export is mounted from 127.0.0.1" test $? -eq 0
timeout 60 nfs-ls "$(nfs_url /any)" >/dev/null 2>&1
check "a * export is mounted from 127.0.0.1" test $? -eq 0
check "an export for another host is refused to 127.0.0.1" refused \
	timeout 60 nfs-ls "$(nfs_url /other)"

# ---- per-file snapshots, rollback, clones (offline, with slate-store) ------------
head -c $((1 << 20)) /dev/urandom >"$TMP/a.bin"
printf 'and 17 more bytes' >>"$TMP/a.bin"
head -c $((3 << 20)) /dev/urandom >"$TMP/b.bin"
head -c 4096 /dev/urandom >"$TMP/c.bin"
timeout 60 nfs-cp "$TMP/a.bin" "$(nfs_url /demo/snap.bin)" >/dev/null 2>&1
stop_slated
check "file snapshot s1 of /demo/snap.bin" "$STORE" "$POOL" file snapshot /demo/snap.bin s1
check "a second snapshot named s1 is refused" refused \
	"$STORE" "$POOL" file snapshot /demo/snap.bin s1
check "a snapshot of a missing file is refused" refused \
	"$STORE" "$POOL" file snapshot /demo/missing.bin s1
"$STORE" "$POOL" file snapshots /demo/snap.bin >"$TMP/snaps1.out" 2>&1
check "file snapshots lists s1" grep -q 's1' "$TMP/snaps1.out"
start_slated "$POOL" || exit 1
require_nfs || exit 1
api /demo put snap.bin "$TMP/b.bin"
nfs_get /demo/snap.bin "$TMP/snap.back"
check "after the snapshot, the file takes new contents (3 MiB)" \
	same_sha "$TMP/b.bin" "$TMP/snap.back"
stop_slated
check "file clone /demo/snap.bin -> /demo/clone.bin" \
	"$STORE" "$POOL" file clone /demo/snap.bin /demo/clone.bin
check "a clone onto an existing name is refused" refused \
	"$STORE" "$POOL" file clone /demo/snap.bin /demo/big.bin
check "file rollback /demo/snap.bin to s1" "$STORE" "$POOL" file rollback /demo/snap.bin s1
check "a rollback to a missing snapshot is refused" refused \
	"$STORE" "$POOL" file rollback /demo/snap.bin nope
start_slated "$POOL" || exit 1
require_nfs || exit 1
nfs_get /demo/snap.bin "$TMP/snap.back"
check "after the rollback, NFS reads the snapshot's contents" \
	same_sha "$TMP/a.bin" "$TMP/snap.back"
timeout 60 nfs-ls "$(nfs_url /demo)" >"$TMP/ls2.out" 2>&1
check "after the rollback, the size is the snapshot's (1048593)" \
	grep -qE ' 1048593 snap\.bin$' "$TMP/ls2.out"
nfs_get /demo/clone.bin "$TMP/clone.back"
check "the clone holds what the file held when cloned" same_sha "$TMP/b.bin" "$TMP/clone.back"
api /demo put clone.bin "$TMP/c.bin"
nfs_get /demo/clone.bin "$TMP/clone.back"
check "the clone takes writes" same_sha "$TMP/c.bin" "$TMP/clone.back"
nfs_get /demo/snap.bin "$TMP/snap.back"
check "writing the clone leaves the original alone" same_sha "$TMP/a.bin" "$TMP/snap.back"
stop_slated
check "file snapshot-delete s1" "$STORE" "$POOL" file snapshot-delete /demo/snap.bin s1
"$STORE" "$POOL" file snapshots /demo/snap.bin >"$TMP/snaps2.out" 2>&1
check "file snapshots no longer lists s1" refused grep -q 's1' "$TMP/snaps2.out"
check "deleting it again is refused" refused \
	"$STORE" "$POOL" file snapshot-delete /demo/snap.bin s1

# ---- qemu-img through slated's portmapper, in a private network namespace ---------
# qemu-img's nfs:// URLs take no port: libnfs asks the portmapper on 111.
# slated answers it itself (no rpcbind in a new namespace), with NFS on
# 2049; neither port is touched outside the namespace.
truncate -s 256M "$TMP/vm.raw"
for mib in 0 100 240; do
	dd if=/dev/urandom of="$TMP/vm.raw" bs=1M count=16 seek=$mib conv=notrunc 2>/dev/null
done
cat >"$TMP/netns.sh" <<'EOF'
# runs inside "unshare --net": SLATED POOL OUT VM
SLATED=$1 POOL=$2 OUT=$3 VM=$4
URL=nfs://127.0.0.1/demo/vm.raw
ip link set lo up
"$SLATED" --data "$POOL" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:2049 2>"$OUT/ns-slated.log" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 3000); do
	grep -q 'ready;' "$OUT/ns-slated.log" && break
	kill -0 $pid 2>/dev/null || exit 1
	sleep 0.1
done
timeout 30 rpcinfo -p 127.0.0.1 >"$OUT/ns-rpcinfo.out" 2>&1
timeout 30 nfs-ls nfs://127.0.0.1/demo >"$OUT/ns-ls.out" 2>&1
echo "rc=$?" >>"$OUT/ns-ls.out"
timeout 300 qemu-img convert -f raw -O raw "$VM" "$URL" >"$OUT/ns-convert.out" 2>&1
echo "rc=$?" >>"$OUT/ns-convert.out"
timeout 60 qemu-img info -f raw "$URL" >"$OUT/ns-info.out" 2>&1
timeout 300 qemu-img compare -f raw -F raw "$VM" "$URL" >"$OUT/ns-compare.out" 2>&1
timeout 300 qemu-img convert -f raw -O raw "$URL" "$OUT/vm.back" >"$OUT/ns-back.out" 2>&1
echo "rc=$?" >>"$OUT/ns-back.out"
kill -TERM $pid
wait $pid
echo "rc=$?" >"$OUT/ns-stop.out"
EOF
timeout 1200 unshare --net sh "$TMP/netns.sh" "$SLATED" "$POOL" "$TMP" "$TMP/vm.raw"
check "in the namespace slated came up with NFS on 2049 and the portmapper" \
	grep -q "NFS: listening on 127.0.0.1:2049 (NFS v3, MOUNT v3)" "$TMP/ns-slated.log"
check "rpcinfo -p: NFS v3 on TCP 2049" grep -qE '100003 +3 +tcp +2049' "$TMP/ns-rpcinfo.out"
check "rpcinfo -p: MOUNT v3 on TCP 2049" grep -qE '100005 +3 +tcp +2049' "$TMP/ns-rpcinfo.out"
check "nfs-ls through the portmapper" grep -q '^rc=0$' "$TMP/ns-ls.out"
check "qemu-img convert writes a 256 MiB sparse image to nfs://" \
	grep -q '^rc=0$' "$TMP/ns-convert.out"
check "qemu-img info sees 256 MiB" grep -q 'virtual size: 256 MiB' "$TMP/ns-info.out"
check "qemu-img compare: the image over NFS is identical" \
	grep -q 'Images are identical' "$TMP/ns-compare.out"
check "qemu-img convert reads it back from nfs://" grep -q '^rc=0$' "$TMP/ns-back.out"
check "the image read back is the image written" cmp -s "$TMP/vm.raw" "$TMP/vm.back"
check "slated in the namespace exits 0 on SIGTERM" grep -q '^rc=0$' "$TMP/ns-stop.out"

# The same image from outside the namespace, on the harness's ports.
start_slated "$POOL" || exit 1
require_nfs || exit 1
nfs_get /demo/vm.raw "$TMP/vm.back2"
check "nfs-cp outside reads the image qemu-img wrote" cmp -s "$TMP/vm.raw" "$TMP/vm.back2"
stop_slated
check "slated exits 0 on SIGTERM at the end" test "$slated_rc" -eq 0
check "slated closed the pool cleanly" grep -q 'closed cleanly' "$TMP/slated.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
