#!/bin/sh
# iscsi_auth.sh - who may log in, checked with libiscsi's own clients:
# targets, LUNs, ACLs, CHAP (one-way and mutual) and discovery CHAP set with
# slate-store, kept in the pool, served by slated after a restart too.
# Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
STORE=${STORE:-build/slate-store}
POOL=$TMP/pool
Q=iqn.2026-11.dev.slate

refused() { ! "$@"; }

# mutual_inq SECRET: log in to the CHAP target asking it to prove itself
# with SECRET (libiscsi takes the target's credentials from the environment).
mutual_inq() {
	LIBISCSI_CHAP_TARGET_USERNAME=array LIBISCSI_CHAP_TARGET_PASSWORD=$1 timeout 30 \
		iscsi-inq -i $Q:host-a "iscsi://alice%alice-secret-1@$PORTAL/$Q:secure/0" 2>&1 |
		grep -q "Vendor:SLATE"
}

# inq INITIATOR URL-PREFIX TARGET: a standard INQUIRY of LUN 0 that works.
inq() {
	timeout 30 iscsi-inq -i "$1" "iscsi://$2$PORTAL/$3/0" 2>&1 | grep -q "Vendor:SLATE"
}

"$STORE" "$POOL" pool create >/dev/null &&
	"$STORE" "$POOL" volume create v1 64M >/dev/null &&
	"$STORE" "$POOL" volume create v2 64M >/dev/null
check "slate-store makes a target" "$STORE" "$POOL" target create $Q:secure
check "slate-store maps a volume as LUN 0" "$STORE" "$POOL" target map $Q:secure 0 v1
check "slate-store sets mutual CHAP" "$STORE" "$POOL" target chap $Q:secure alice \
	alice-secret-1 --mutual-user array --mutual-secret array-secret-1
check "a short CHAP secret is refused" refused "$STORE" "$POOL" target chap $Q:secure a short
check "a bad target name is refused" refused "$STORE" "$POOL" target create not-an-iqn
"$STORE" "$POOL" target create $Q:fenced >/dev/null
"$STORE" "$POOL" target map $Q:fenced 0 v2 >/dev/null
check "slate-store adds an ACL entry" "$STORE" "$POOL" target allow $Q:fenced $Q:host-a
check "the same initiator, in other capitals, is not added twice" refused \
	"$STORE" "$POOL" target allow $Q:fenced IQN.2026-11.DEV.SLATE:HOST-A
check "a month 13 in a target name is refused" refused \
	"$STORE" "$POOL" target create iqn.2026-13.dev.slate:x
check "slate-store sets discovery CHAP" "$STORE" "$POOL" discovery chap finder finder-secret-1
"$STORE" "$POOL" target list >"$TMP/list.out" 2>&1
check "target list shows the ACL" grep -q "allows $Q:host-a" "$TMP/list.out"

start_slated "$POOL" || exit 1
check "no demo target when targets are configured" refused grep -q "slate:demo" "$TMP/slated.log"

check "CHAP: the right secret logs in" inq $Q:host-a "alice%alice-secret-1@" $Q:secure
check "CHAP: a wrong secret is refused" refused inq $Q:host-a "alice%alice-secret-2@" $Q:secure
check "CHAP: a wrong user is refused" refused inq $Q:host-a "bob%alice-secret-1@" $Q:secure
check "CHAP: no secret is refused" refused inq $Q:host-a "" $Q:secure
check "mutual CHAP: the target proves itself" mutual_inq array-secret-1
check "mutual CHAP: the initiator refuses a target with the wrong secret" refused \
	mutual_inq array-secret-9

# Logins libiscsi would never send, each answered with its login status.
python3 - "$PORT" $Q >"$TMP/raw.out" 2>&1 <<'EOF'
import socket, sys
port, q = int(sys.argv[1]), sys.argv[2]
def pdu(itt, csg, nsg, transit, keys):
    data = b"".join(k.encode() + b"=" + v.encode() + b"\0" for k, v in keys)
    bhs = bytearray(48)
    bhs[0], bhs[1] = 0x43, (0x80 if transit else 0) | csg << 2 | nsg
    bhs[5:8] = len(data).to_bytes(3, "big")
    bhs[8:14] = bytes([0x80, 0, 0, 0, 0, 1])
    bhs[16:20] = itt.to_bytes(4, "big")
    return bytes(bhs) + data + b"\0" * (-len(data) % 4)
def read(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b
def statuses(steps):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    got = []
    for itt, (csg, nsg, transit, keys) in enumerate(steps, 1):
        if itt == 1:
            keys = [("InitiatorName", q + ":host-a"), ("TargetName", q + ":secure")] + keys
        s.sendall(pdu(itt, csg, nsg, transit, keys))
        h = read(s, 48)
        n = int.from_bytes(h[5:8], "big")
        read(s, n + (-n % 4))
        got.append("%04x" % (h[36] << 8 | h[37]))
    s.close()
    return " ".join(got)
print("skip", statuses([(1, 3, 1, [])]))
print("none", statuses([(0, 1, 1, [("AuthMethod", "None")])]))
print("early", statuses([(0, 1, 0, [("CHAP_A", "5")])]))
print("long", statuses([(0, 1, 0, [("AuthMethod", "CHAP")]), (0, 1, 0, [("CHAP_A", "5")]),
      (0, 1, 1, [("CHAP_N", "alice"), ("CHAP_R", "0x" + "00" * 16), ("CHAP_I", "1"),
                 ("CHAP_C", "0x" + "ab" * 1025)])]))
EOF
check "a login that skips the security stage is an authentication failure" \
	grep -qx "skip 0201" "$TMP/raw.out"
check "AuthMethod=None to a CHAP target is an authentication failure" \
	grep -qx "none 0201" "$TMP/raw.out"
check "CHAP_A before AuthMethod is an initiator error" grep -qx "early 0200" "$TMP/raw.out"
check "a CHAP_C over 1024 bytes is an initiator error" grep -qx "long 0000 0000 0200" \
	"$TMP/raw.out"
check "slated still serves after those logins" inq $Q:host-a "alice%alice-secret-1@" $Q:secure

check "ACL: a listed initiator logs in" inq $Q:host-a "" $Q:fenced
check "ACL: another initiator is refused" refused inq $Q:host-b "" $Q:fenced
check "ACL: names match in other capitals" inq IQN.2026-11.DEV.SLATE:HOST-A "" \
	IQN.2026-11.DEV.SLATE:FENCED
timeout 30 iscsi-inq -i $Q:host-b "iscsi://$PORTAL/$Q:fenced/0" >"$TMP/denied.out" 2>&1
check "ACL: the refusal is an authorization failure" grep -qi "authorization" "$TMP/denied.out"

timeout 30 iscsi-ls -i $Q:host-b "iscsi://finder%finder-secret-1@$PORTAL" >"$TMP/ls-b.out" 2>&1
check "discovery CHAP: the right secret lists targets" grep -q "Target:$Q:secure" "$TMP/ls-b.out"
check "discovery lists only targets the initiator may use" refused grep -q "$Q:fenced" \
	"$TMP/ls-b.out"
timeout 30 iscsi-ls -i $Q:host-a "iscsi://finder%finder-secret-1@$PORTAL" >"$TMP/ls-a.out" 2>&1
check "discovery lists the ACL target to its initiator" grep -q "Target:$Q:fenced" "$TMP/ls-a.out"
check "discovery CHAP: no secret is refused" refused sh -c \
	"timeout 30 iscsi-ls -i $Q:host-a iscsi://$PORTAL 2>&1 | grep -q Target:"

stop_slated
"$STORE" "$POOL" target nochap $Q:secure >/dev/null
"$STORE" "$POOL" target disallow $Q:fenced $Q:host-a >/dev/null
start_slated "$POOL" || exit 1
check "after a restart with CHAP cleared, no secret is needed" inq $Q:host-a "" $Q:secure
check "an emptied ACL lets anyone in" inq $Q:host-b "" $Q:fenced
stop_slated
check "target delete finds a target named in other capitals" \
	"$STORE" "$POOL" target delete IQN.2026-11.DEV.SLATE:FENCED
"$STORE" "$POOL" target list >"$TMP/list2.out" 2>&1
check "the deleted target is gone" refused grep -q "$Q:fenced" "$TMP/list2.out"

# The demo target belongs to a new pool only: deleted, it stays deleted.
POOL=$TMP/fresh
start_slated "$POOL" || exit 1
check "a new pool gets the demo target" grep -q "created target $Q:demo" "$TMP/slated.log"
stop_slated
check "slate-store deletes the demo target" "$STORE" "$POOL" target delete $Q:demo
start_slated "$POOL" || exit 1
check "a deleted demo target stays deleted" refused grep -q "created target" "$TMP/slated.log"
check "slated says that no target is configured" grep -q "no iSCSI target is configured" \
	"$TMP/slated.log"
stop_slated

# Configured portals: slated listens on each, and SendTargets names them all.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
P1=$(free_port)
P2=$(free_port)
check "slate-store adds a portal" "$STORE" "$POOL" portal add 127.0.0.1:$P1
check "slate-store adds a second portal" "$STORE" "$POOL" portal add 127.0.0.1:$P2
check "the same portal twice is refused" refused "$STORE" "$POOL" portal add 127.0.0.1:$P1
check "a wildcard on a used port is refused" refused "$STORE" "$POOL" portal add 0.0.0.0:$P2
check "a portal without a port is refused" refused "$STORE" "$POOL" portal add 127.0.0.1:0
"$STORE" "$POOL" target create $Q:two-portals >/dev/null
"$STORE" "$POOL" target map $Q:two-portals 0 demo >/dev/null
check "target unmap takes 00 for LUN 0" "$STORE" "$POOL" target unmap $Q:two-portals 00
"$STORE" "$POOL" target map $Q:two-portals 0 demo >/dev/null
check "a CHAP secret can come from standard input" sh -c "printf 'carol-secret-9\\n' |
	'$STORE' '$POOL' target chap $Q:two-portals carol -"
check "no secret on standard input is refused" refused sh -c \
	"'$STORE' '$POOL' target chap $Q:two-portals carol - </dev/null"
start_slated "$POOL" configured || exit 1
timeout 30 iscsi-ls -i $Q:host-a "iscsi://127.0.0.1:$P2" >"$TMP/ls-portals.out" 2>&1
check "slated listens on the second configured portal" \
	grep -q "Target:$Q:two-portals Portal:127.0.0.1:$P2" "$TMP/ls-portals.out"
check "SendTargets names the first portal too" \
	grep -q "Target:$Q:two-portals Portal:127.0.0.1:$P1" "$TMP/ls-portals.out"
check "a LUN is served on the first portal, with the secret read from stdin" \
	inq $Q:host-a "carol%carol-secret-9@" $Q:two-portals
stop_slated
check "slate-store removes a portal" "$STORE" "$POOL" portal remove 127.0.0.1:$P2
"$STORE" "$POOL" target list >"$TMP/list3.out" 2>&1
check "the removed portal is gone" refused grep -q "portal 127.0.0.1:$P2" "$TMP/list3.out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
