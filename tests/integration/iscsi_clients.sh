#!/bin/sh
# iscsi_clients.sh - slated's iSCSI target driven by clients we did not
# write: libiscsi's iscsi-ls, iscsi-inq, iscsi-readcapacity16 and qemu-img
# (iscsi:// URLs), plus malformed PDUs from python3, after which the daemon
# must still serve.  slated runs on a temp pool and an ephemeral loopback
# port.  Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
TARGET=iqn.2026-11.dev.slate:demo

start_slated "$TMP/pool" || exit 1
LUN_URL=iscsi://$PORTAL/$TARGET/0
INITIATOR=iqn.2026-11.dev.slate:test-client

timeout 30 iscsi-ls -i "$INITIATOR" -s "iscsi://$PORTAL" >"$TMP/ls.out" 2>&1
check "iscsi-ls finds the demo target" grep -q "Target:$TARGET Portal:$PORTAL" "$TMP/ls.out"
check "iscsi-ls lists LUN 0 as a disk" grep -qE "Lun:0 +Type:DIRECT_ACCESS" "$TMP/ls.out"

timeout 30 iscsi-inq -i "$INITIATOR" "$LUN_URL" >"$TMP/inq.out" 2>&1
check "iscsi-inq reports the vendor" grep -q "Vendor:SLATE" "$TMP/inq.out"
timeout 30 iscsi-inq -i "$INITIATOR" -e 1 -c 0x80 "$LUN_URL" >"$TMP/vpd80.out" 2>&1
check "iscsi-inq reads the unit serial VPD page" grep -qi "serial" "$TMP/vpd80.out"

timeout 30 iscsi-readcapacity16 -i "$INITIATOR" "$LUN_URL" >"$TMP/rc16.out" 2>&1
check "READ CAPACITY 16: 512-byte blocks" grep -q "LOGICAL BLOCK LENGTH IN BYTES:512" "$TMP/rc16.out"
check "READ CAPACITY 16: last LBA of 1 GiB" grep -q "RETURNED LOGICAL BLOCK ADDRESS:2097151" "$TMP/rc16.out"
check "READ CAPACITY 16: 4 KiB physical blocks" grep -q "PHYSICAL BLOCK EXPONENT:3" "$TMP/rc16.out"
check "READ CAPACITY 16: thin provisioned (LBPME)" grep -q "LBPME:1" "$TMP/rc16.out"

head -c $((256 << 20)) /dev/urandom >"$TMP/disk.raw"
timeout 300 qemu-img convert -n -f raw -O raw "$TMP/disk.raw" "$LUN_URL" 2>"$TMP/convert.err"
check "qemu-img convert writes 256 MiB onto the LUN" test $? -eq 0
# Read back with CRC32C header digests (libiscsi offers no data digest).
DIGEST_OPTS="driver=iscsi,transport=tcp,portal=$PORTAL,target=$TARGET,lun=0,header-digest=crc32c"
timeout 300 qemu-img compare --image-opts "driver=raw,file.filename=$TMP/disk.raw" \
	"$DIGEST_OPTS" >"$TMP/compare.out" 2>&1
check "qemu-img compare reads the same 256 MiB back" grep -q "Images are identical" "$TMP/compare.out"
check "that session used CRC32C header digests" \
	grep -q "iqn.2008-11.org.linux-kvm.*header digest CRC32C" "$TMP/slated.log"

# Malformed PDUs: each connection gets garbage; the daemon must drop it and
# keep serving.
python3 - "$PORT" >"$TMP/malformed.out" 2>&1 <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
def send(payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
send(b"\x03")                                   # truncated header
send(b"\x01" + b"\x00" * 47)                      # SCSI command before login
huge = bytearray(48); huge[0] = 0x43; huge[5:8] = b"\xff\xff\xff"
send(bytes(huge))                               # 16 MiB data segment announced
send(bytes([0x3a]) + b"\x00" * 47)                # unknown opcode
bad = bytearray(48); bad[0] = 0x43; bad[1] = 0x87; bad[5:8] = (20).to_bytes(3, "big")
send(bytes(bad) + b"InitiatorName\x00\x00\x00\x00\x00\x00\x00")  # key without '='
print("sent")
EOF
check "malformed PDUs were sent" grep -q sent "$TMP/malformed.out"
timeout 30 iscsi-inq -i "$INITIATOR" "$LUN_URL" >"$TMP/inq2.out" 2>&1
check "slated still serves after malformed PDUs" grep -q "Vendor:SLATE" "$TMP/inq2.out"
check "slated logged the dropped connections" grep -q "closing it" "$TMP/slated.log"

timeout 30 iscsi-inq -i "$INITIATOR" "iscsi://$PORTAL/iqn.2026-11.dev.slate:nope/0" \
	>"$TMP/nope.out" 2>&1
check "login to an unknown target fails" test $? -ne 0

stop_slated
check "slated exits 0 on SIGTERM with iSCSI running" test "$slated_rc" -eq 0
check "slated closed the pool cleanly" grep -q 'closed cleanly' "$TMP/slated.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
