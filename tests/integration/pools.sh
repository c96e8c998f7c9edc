#!/bin/sh
# pools.sh - an appliance with two pools, and a volume moved between them
# while a real initiator writes to it.  The primary pool sits on an
# emulated device (slow on purpose, so that the move's copy and the writes
# overlap); slated makes the second pool, "fast", in an empty directory.
# qemu-img writes whole images onto the volume's LUN over iscsi://, one
# after the other, while the volume moves to "fast" and back; afterwards the
# LUN reads exactly the last image written (no write was lost or torn by
# the switch), also after a restart, and iscsi-load saw no failed command
# during a move.  The checks are on data and states, never on time.
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

POOL=$TMP/pool
TARGET=iqn.2026-11.dev.slate:demo
build/slate-store "$POOL" pool create --capacity 4G >/dev/null &&
	build/slate-store "$POOL" pool emulate --channels 2 --service-us 300 --mbps 200 >/dev/null
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$POOL" || exit 1
TOKEN=$(cat "$POOL/admin-token")
api() { # api METHOD PATH [BODY]: the answer's body
	curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		${3:+-d "$3"} "$API_URL$2"
}
# jcheck WHAT FILE EXPR: a check that a Python expression over FILE's JSON holds
jcheck() {
	check "$1" /usr/bin/python3 -c "import json,sys; d=json.load(open('$2')); sys.exit(0 if ($3) else 1)"
}
# wait_task FILE: follow the task the 202 answer in FILE names until it ends;
# its final state into FILE.task
wait_task() {
	id=$(/usr/bin/python3 -c "import json; print(json.load(open('$1'))['id'])" 2>/dev/null)
	for _ in $(seq 1200); do
		api GET "/tasks/$id" >"$1.task"
		grep -q '"state": *"running"' "$1.task" || break
		sleep 0.25
	done
}

check "slated made pool fast in an empty directory" grep -q "created pool fast in $TMP/fast" \
	"$TMP/slated.log"
api GET /pools >"$TMP/pools.json"
jcheck "GET /pools lists default (primary) and fast" "$TMP/pools.json" \
	'[p["name"] for p in d["items"]] == ["default", "fast"] and d["items"][0]["primary"]'

api POST /volumes '{"name":"mv","size_bytes":33554432}' >"$TMP/vol.json"
jcheck "a volume is made in the primary pool by default" "$TMP/vol.json" 'd["pool"] == "default"'
api POST "/targets/$TARGET/luns" '{"lun":1,"volume":"mv"}' >/dev/null
LUN=iscsi://127.0.0.1:$PORT/$TARGET/1
head -c 33554432 /dev/urandom >"$TMP/img0"
head -c 33554432 /dev/urandom >"$TMP/img1"
timeout 300 qemu-img convert -n -f raw -O raw "$TMP/img0" "$LUN" 2>"$TMP/convert.err"
check "qemu-img writes an image onto the volume's LUN" test $? -eq 0
api POST /volumes/mv/snapshots '{"name":"before"}' >/dev/null
serial() { iscsi-inq -e 1 -c 0x80 "$LUN" 2>&1 | grep -i 'serial'; }
SERIAL=$(serial)
check "iscsi-inq reads the LUN's unit serial number" test -n "$SERIAL"

# writer: whole images onto the LUN, alternating, until $TMP/stop exists;
# the last one written completely is named in $TMP/last
writer() {
	i=1
	while [ ! -e "$TMP/stop" ]; do
		img=$TMP/img$((i % 2))
		if ! timeout 300 qemu-img convert -n -f raw -O raw "$img" "$LUN" 2>"$TMP/writer.err"; then
			echo failed >"$TMP/last"
			return
		fi
		echo "$img" >"$TMP/last"
		i=$((i + 1))
	done
}
# move_under_writes POOL: move mv to POOL while writer runs; the final
# task state in $TMP/move-POOL.json.task
move_under_writes() {
	rm -f "$TMP/stop" "$TMP/last"
	writer &
	writer_pid=$!
	sleep 1
	api POST /volumes/mv/move "{\"pool\":\"$1\"}" >"$TMP/move-$1.json"
	wait_task "$TMP/move-$1.json"
	sleep 1
	touch "$TMP/stop"
	wait "$writer_pid"
}

move_under_writes fast
jcheck "the move to pool fast succeeds while qemu-img writes" "$TMP/move-fast.json.task" \
	'd["state"] == "succeeded" and "IO held" in d["result"]'
grep -o '[0-9.]* MiB copied online in [0-9]* passes, IO held [0-9]* ms' "$TMP/move-fast.json.task" |
	sed 's/^/     /'
check "qemu-img saw no error during the move" sh -c "test \"\$(cat '$TMP/last')\" != failed"
api GET /volumes/mv >"$TMP/vol.json"
jcheck "the volume is in pool fast now" "$TMP/vol.json" 'd["pool"] == "fast" and d["snapshots"] == 1'
timeout 300 qemu-img compare -f raw -F raw "$LUN" "$(cat "$TMP/last")" >"$TMP/compare.out" 2>&1
check "the LUN reads exactly the last image written" grep -q "Images are identical" "$TMP/compare.out"
check "the LUN keeps its unit serial number through the move" test "$(serial)" = "$SERIAL"
api GET /volumes/mv/snapshots/before >"$TMP/snap.json"
jcheck "its snapshot moved with it" "$TMP/snap.json" 'd["name"] == "before"'
api GET /pools >"$TMP/pools.json"
jcheck "the old pool keeps no copy (default: demo only; fast: mv)" "$TMP/pools.json" \
	'[p["volumes"] for p in d["items"]] == [1, 1]'

stop_slated
check "slated stops cleanly after a move" test "$slated_rc" -eq 0
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$POOL" || exit 1
LUN=iscsi://127.0.0.1:$PORT/$TARGET/1
timeout 300 qemu-img compare -f raw -F raw "$LUN" "$(cat "$TMP/last")" >"$TMP/compare.out" 2>&1
check "after a restart the LUN still serves the moved volume" \
	grep -q "Images are identical" "$TMP/compare.out"
check "  ... with the same unit serial number (hosts see the same device)" \
	test "$(serial)" = "$SERIAL"

# back again, this time under iscsi-load's reads (4 KiB and 64 KiB) too
build/bench/iscsi-load --initiator iqn.2026-12.dev.test:mover --sizes 4k:70,64k:30 \
	--qd 8 --seconds 8 --json "$LUN" >"$TMP/load.json" 2>"$TMP/load.err" &
load_pid=$!
move_under_writes default
wait "$load_pid"
check "iscsi-load's reads saw no failed command while the volume moved back" test $? -eq 0
jcheck "the move back to pool default succeeds" "$TMP/move-default.json.task" \
	'd["state"] == "succeeded"'
jcheck "  ... with iscsi-load IO counted" "$TMP/load.json" 'd["errors"] == 0 and d["ios"] > 0'
timeout 300 qemu-img compare -f raw -F raw "$LUN" "$(cat "$TMP/last")" >"$TMP/compare.out" 2>&1
check "the LUN reads the last image written after the move back" \
	grep -q "Images are identical" "$TMP/compare.out"

api POST /volumes/mv/move '{"pool":"default"}' >"$TMP/same.json"
jcheck "moving a volume to the pool it is in is refused (422)" "$TMP/same.json" \
	'd["status"] == 422'

# ---- migration advice --------------------------------------------------------------
# The fast pool gets an emulated device too, 8 channels of 100 us, and the
# primary a slower one, 2 channels of 1 ms (slated must be down for
# slate-store): so slow that even a loaded machine's few IOs make its
# latency stand far above fast's.  Two hot volumes on the primary and a cool
# one on fast are loaded at two levels (each pool's load model needs a
# spread of IOs in flight), then hard, and slated must advise moving a hot
# volume to fast.
stop_slated
build/slate-store "$POOL" pool emulate --channels 2 --service-us 1000 >/dev/null
build/slate-store "$TMP/fast" pool emulate --channels 8 --service-us 100 >/dev/null
check "the fast pool gets an emulated device too" \
	sh -c "build/slate-store '$TMP/fast' pool info | grep -q 'emulated device: ON'"
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$POOL" || exit 1
api PATCH /qos-settings '{"period_ms":250}' >/dev/null
for v in hot1:default:2 hot2:default:3 cool:fast:4; do
	IFS=: read -r name pool lun <<EOF2
$v
EOF2
	api POST /volumes "{\"name\":\"$name\",\"size_bytes\":67108864,\"pool\":\"$pool\"}" >/dev/null
	api POST "/targets/$TARGET/luns" "{\"lun\":$lun,\"volume\":\"$name\"}" >/dev/null
done
# load SECONDS QD LUN...: iscsi-load 4 KiB random reads on each LUN at once
load() {
	secs=$1 qd=$2
	shift 2
	pids=
	for lun in "$@"; do
		build/bench/iscsi-load --initiator "iqn.2026-12.dev.test:lun$lun" --qd "$qd" \
			--seconds "$secs" "iscsi://127.0.0.1:$PORT/$TARGET/$lun" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
}
load 4 2 2 4
load 4 8 2 4
load 8 16 2 3 4 &
heavy_pid=$!
for _ in $(seq 40); do
	api GET /qos-status >"$TMP/status.json"
	grep -q '"from": *"default"' "$TMP/status.json" && break
	sleep 0.25
done
wait "$heavy_pid"
jcheck "qos-status shows both pools' fitted load models" "$TMP/status.json" \
	'[p["pool"] for p in d["pools"]] == ["default", "fast"] and all(p["fitted"] for p in d["pools"])'
jcheck "slated advises moving a hot volume from the primary to fast" "$TMP/status.json" \
	'any(a["volume"] in ("hot1", "hot2") and a["from"] == "default" and a["to"] == "fast" and a["gain_us"] > 0 for a in d["advice"])'
/usr/bin/python3 -c "import json; d=json.load(open('$TMP/status.json'))
for a in d['advice']: print('     advice:', a['reason'])" 2>/dev/null
api GET '/events?limit=50' >"$TMP/events.json"
jcheck "  ... and says so in a migration-advice event" "$TMP/events.json" \
	'any(e["type"] == "migration-advice" for e in d["items"])'

stop_slated
check "slated exits 0" test "$slated_rc" -eq 0
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
