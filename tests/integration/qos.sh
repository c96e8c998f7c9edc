#!/bin/sh
# qos.sh - QoS between hosts with real initiators: three iscsi-load
# processes with their own initiator names and shares 1:2:4 against one
# slated whose pool sits on an emulated device (4 channels, 1 ms per IO:
# contended on purpose).  With QoS off all three get about the same; with
# QoS on the hosts' CmdSN windows move apart and their IOPS follow the
# shares.  The checks are on ratios with wide margins and on the
# controller's state, never on absolute speed.
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

LOAD=build/bench/iscsi-load
POOL=$TMP/pool
build/slate-store "$POOL" pool create --capacity 4G >/dev/null &&
	build/slate-store "$POOL" pool emulate --channels 4 --service-us 1000 >/dev/null
check "the pool sits on an emulated device" sh -c "build/slate-store '$POOL' pool info | grep -q 'emulated device: ON'"
start_slated "$POOL" || exit 1
TOKEN=$(cat "$POOL/admin-token")
api() { # api METHOD PATH [BODY]: the answer's body
	curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		${3:+-d "$3"} "$API_URL$2"
}
json() { # json EXPR: evaluate a Python expression over the JSON on stdin as d
	/usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
# jcheck WHAT FILE EXPR: a check that a Python expression over FILE's JSON holds
jcheck() {
	check "$1" /usr/bin/python3 -c "import json,sys; d=json.load(open('$2')); sys.exit(0 if ($3) else 1)"
}
URL=iscsi://127.0.0.1:$PORT/iqn.2026-11.dev.slate:demo/0

# run3 NAME SECONDS: three hosts at QD 16, 4 KiB random reads, at once,
# in the background (their pids in $pids); their JSON into $TMP/NAME.a .b .c
run3() {
	pids=
	for h in a b c; do
		"$LOAD" --initiator "iqn.2026-12.dev.test:host-$h" --qd 16 --seconds "$2" --json "$URL" \
			>"$TMP/$1.$h" 2>"$TMP/$1.$h.err" &
		pids="$pids $!"
	done
}
# the loads only: a bare wait would wait for slated too
wait_loads() {
	for p in $pids; do wait "$p"; done
}
iops() { json 'd["iops"]' <"$TMP/$1"; }

run3 off 4
wait_loads
A=$(iops off.a) B=$(iops off.b) C=$(iops off.c)
echo "     QoS off: host-a $A, host-b $B, host-c $C IOPS"
check "without QoS the three hosts get about the same (within 1.6x)" /usr/bin/python3 -c \
	"a,b,c=$A,$B,$C; import sys; sys.exit(0 if max(a,b,c) < 1.6*min(a,b,c) and min(a,b,c) > 0 else 1)"

api PUT /qos-hosts/iqn.2026-12.dev.test:host-a '{"shares":1000}' >/dev/null
api PUT /qos-hosts/iqn.2026-12.dev.test:host-b '{"shares":2000}' >/dev/null
api PUT /qos-hosts/iqn.2026-12.dev.test:host-c '{"shares":4000}' >/dev/null
api PATCH /qos-settings '{"enabled":true,"latency_threshold_us":8000,"period_ms":250}' >"$TMP/settings"
jcheck "QoS is enabled through the API" "$TMP/settings" 'd["enabled"] is True'

# the controller learns while the hosts run; sessions are sampled midway
run3 on 12
sleep 8
api GET /sessions >"$TMP/sessions"
api GET /qos-status >"$TMP/status"
wait_loads
A=$(iops on.a) B=$(iops on.b) C=$(iops on.c)
echo "     QoS on (1:2:4): host-a $A, host-b $B, host-c $C IOPS"
json '"     windows: " + ", ".join("%s %s" % (h["host"][-6:], h["window_ios"]) for h in d["hosts"])' <"$TMP/status"
jcheck "the controller manages the three hosts" "$TMP/status" \
	'len([h for h in d["hosts"] if h["host"].startswith("iqn.2026-12.dev.test:host-")]) == 3'
jcheck "the sessions' CmdSN windows moved off the default of 64" "$TMP/sessions" \
	'all(s["window"] != 64 for s in d["items"] if s["host"].startswith("iqn.2026-12.dev.test"))'
json '"     sessions: " + ", ".join("%s %s" % (s["host"][-6:], s["window"]) for s in d["items"])' <"$TMP/sessions"
check "host-c (4 shares) gets more than host-a (1 share): IOPS ratio above 2" /usr/bin/python3 -c \
	"import sys; sys.exit(0 if $C > 2 * $A else 1)"
check "the IOPS order follows the shares" /usr/bin/python3 -c \
	"import sys; sys.exit(0 if $A < $B < $C else 1)"
check "the three still get the device between them (no host starved)" /usr/bin/python3 -c \
	"import sys; sys.exit(0 if min($A, $B, $C) > 50 else 1)"

api PATCH /qos-settings '{"enabled":false}' >/dev/null
sleep 1
api GET /sessions >"$TMP/sessions.off"
stop_slated
check "slated exits 0" [ "$slated_rc" -eq 0 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
