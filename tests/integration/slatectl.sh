#!/bin/sh
# slatectl.sh - build/slatectl end to end against the real slated: health,
# volumes (in two pools), snapshots, clones, rollback, copy and move tasks followed with --wait,
# paging, the three token sources, users, login and a read-only token,
# problems printed as one line (404, 409, 422 with its field, 401, 403),
# an unreachable URL, usage errors, events and the pool.  A fake server
# checks that a creating POST whose connection is reset is retried once
# under the same Idempotency-Key.
#
# Groups whose routes slated may not serve yet (vms, targets, portals,
# exports, files, schedules, qos-policies, sessions, stats) are probed
# first: a group is skipped, with an "ok   SKIP" line that counts as
# nothing, only when GET of its collection answers 404 "no such resource"
# (the router's answer for an unknown path).  Any other answer runs its
# checks.
#
# Prints "ok/FAIL <what>" per check and "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh
CTL=${SLATECTL:-build/slatectl}

if [ ! -x "$CTL" ] || [ ! -x "$SLATED" ]; then
	echo "FAIL $CTL and $SLATED are built (run: make $CTL $SLATED)"
	echo "0 passed, 1 failed"
	exit 1
fi
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$TMP/pool" || exit 1
export SLATE_URL="http://127.0.0.1:$API_PORT" SLATE_DATA="$TMP/pool"
unset SLATE_TOKEN
ADMIN=$(cat "$TMP/pool/admin-token")

# ctl ARGS...: run slatectl; stdout in $TMP/out, stderr in $TMP/err, status in $rc
ctl() { timeout 120 "$CTL" "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?; }
# expect WHAT CONDITION: a check (sh -c CONDITION) on the last ctl run;
# when it fails, shows what slatectl printed.
expect() {
	before=$fail
	check "$1" sh -c "$2"
	if [ "$fail" -ne "$before" ]; then
		echo "    (exit $rc)"
		head -n 15 "$TMP/out" | sed 's/^/    stdout: /'
		head -n 15 "$TMP/err" | sed 's/^/    stderr: /'
	fi
}
# $PY EXPR (inside a condition): true when the Python expression EXPR is,
# with d the JSON slatectl printed to $TMP/out.
printf '%s\n' 'import json, sys' 'd = json.load(open(sys.argv[1]))' \
	'sys.exit(0 if eval(sys.argv[2]) else 1)' >"$TMP/json_is.py"
PY="python3 $TMP/json_is.py $TMP/out"
# skip_unless_served GROUP ARGS...: run slatectl ARGS (a GET of the group's
# collection); returns 1, printing a SKIP line, when the route is not served.
skip_unless_served() {
	group=$1
	shift
	ctl "$@"
	if [ "$rc" -ne 0 ] && grep -q '(404): no such resource' "$TMP/err"; then
		echo "ok   SKIP $group (route not served yet)"
		return 1
	fi
	return 0
}

# ---- basics and usage -----------------------------------------------------------
ctl health
expect "health answers ok without a token" "[ $rc -eq 0 ] && grep -q '^status: *ok' '$TMP/out'"
ctl --help
expect "--help lists resources and verbs" \
	"[ $rc -eq 0 ] && grep -q 'slatectl snapshots clone VOLUME SNAPSHOT NEWNAME' '$TMP/out' && grep -q 'slatectl tokens create NAME' '$TMP/out'"
ctl
expect "no arguments is a usage error (exit 2)" "[ $rc -eq 2 ] && grep -q '^usage: ' '$TMP/err'"
ctl frobs list
expect "an unknown resource exits 2 naming it" "[ $rc -eq 2 ] && grep -q \"unknown resource 'frobs'\" '$TMP/err'"
ctl volumes frob
expect "an unknown verb exits 2 listing the verbs" \
	"[ $rc -eq 2 ] && grep -q \"no verb 'frob'\" '$TMP/err' && grep -q 'slatectl volumes resize NAME size=SIZE' '$TMP/err'"
ctl volumes create
expect "a missing argument exits 2 with the verb's usage" \
	"[ $rc -eq 2 ] && grep -q '^usage: slatectl volumes create NAME size=SIZE' '$TMP/err'"
ctl volumes create v1 size=12Q
expect "a bad size exits 2" "[ $rc -eq 2 ] && grep -q \"size_bytes takes a size.*'12Q'\" '$TMP/err'"
ctl --bogus health
expect "an unknown option exits 2" "[ $rc -eq 2 ] && grep -q 'unknown option --bogus' '$TMP/err'"

# ---- volumes ----------------------------------------------------------------------
ctl volumes create v1 size=1G
expect "volumes create v1 size=1G" "[ $rc -eq 0 ] && grep -q '^size_bytes: *1.0 GiB (1073741824)' '$TMP/out'"
ctl volumes list
expect "volumes list shows v1 with its size, 1.0 GiB" \
	"[ $rc -eq 0 ] && grep -q '^NAME ' '$TMP/out' && grep -qE '^v1 +default +1\\.0 GiB ' '$TMP/out'"
ctl volumes show v1 --json
expect "volumes show --json prints the server's JSON" \
	"[ $rc -eq 0 ] && $PY \"d['name'] == 'v1' and d['size_bytes'] == 1073741824\""
ctl volumes resize v1 size=2G
ctl --json volumes show v1
expect "volumes resize v1 size=2G" "[ $rc -eq 0 ] && $PY \"d['size_bytes'] == 2 * 1024**3\""
ctl volumes create v1 size=1G
expect "creating v1 again: Conflict (409) on stderr, exit 1" \
	"[ $rc -eq 1 ] && grep -q '^slatectl: Conflict (409): ' '$TMP/err' && [ ! -s '$TMP/out' ]"
ctl volumes show nosuch
expect "a missing volume: exit 1 and the detail on stderr" \
	"[ $rc -eq 1 ] && grep -qx 'slatectl: Not Found (404): no such volume \\[field: name\\]' '$TMP/err'"
ctl volumes create small size=1000
expect "a 422 names the field" \
	"[ $rc -eq 1 ] && grep -q '^slatectl: Unprocessable Content (422): size_bytes must be between .*\\[field: /size_bytes\\]$' '$TMP/err'"

# ---- snapshots, clones, rollback -----------------------------------------------------
ctl snapshots create v1 s1
expect "snapshots create v1 s1" "[ $rc -eq 0 ] && grep -q '^name: *s1' '$TMP/out'"
ctl snapshots list v1
expect "snapshots list v1 shows s1" "[ $rc -eq 0 ] && grep -qE '^s1 +v1 +2\\.0 GiB ' '$TMP/out'"
ctl snapshots clone v1 s1 c1
ctl volumes show c1 --json
expect "snapshots clone v1 s1 c1 makes a volume" "[ $rc -eq 0 ] && $PY \"d['parent_snapshot_id'] > 0\""
ctl snapshots create v1 s2
ctl snapshots rollback v1 s1
expect "rollback past a newer snapshot: 409 naming it" \
	"[ $rc -eq 1 ] && grep -q '^slatectl: Conflict (409): .*s2' '$TMP/err'"
ctl snapshots rollback v1 s1 delete_newer=true
expect "rollback delete_newer=true" "[ $rc -eq 0 ] && grep -q '^name: *v1' '$TMP/out'"
ctl snapshots list v1
expect "the newer snapshot is gone" "[ $rc -eq 0 ] && grep -q '^s1 ' '$TMP/out' && ! grep -q '^s2 ' '$TMP/out'"
ctl snapshots delete v1 s1
expect "deleting a snapshot a clone uses: 409" "[ $rc -eq 1 ] && grep -q '(409)' '$TMP/err'"
ctl volumes delete c1
expect "volumes delete c1" "[ $rc -eq 0 ] && grep -q 'volumes delete c1: done' '$TMP/out'"
ctl snapshots delete v1 s1
expect "snapshots delete v1 s1" "[ $rc -eq 0 ]"
ctl snapshots show v1 s1
expect "the deleted snapshot is not found" "[ $rc -eq 1 ] && grep -q '(404)' '$TMP/err'"

# ---- tasks -----------------------------------------------------------------------------
ctl volumes copy v1 new=v1copy --wait
expect "volumes copy --wait follows the task to 100%" \
	"[ $rc -eq 0 ] && tail -n 1 '$TMP/out' | grep -q '^task [0-9]* (copy of v1copy): succeeded 100%'"
task_id=$(sed -n 's/^task \([0-9]*\) .*/\1/p' "$TMP/out" | tail -n 1)
ctl --json tasks show "$task_id"
expect "tasks show ID --json: succeeded" "[ $rc -eq 0 ] && $PY \"d['state'] == 'succeeded' and d['progress_pct'] == 100\""
ctl tasks list
expect "tasks list shows the copy" "[ $rc -eq 0 ] && grep -qE '^$task_id +copy +v1copy +succeeded +100%' '$TMP/out'"
ctl --json volumes show v1copy
expect "the copy has v1's size" "[ $rc -eq 0 ] && $PY \"d['size_bytes'] == 2 * 1024**3\""
ctl volumes move v1copy pool=fast --wait
expect "volumes move v1copy pool=fast --wait follows the task" \
	"[ $rc -eq 0 ] && tail -n 1 '$TMP/out' | grep -q '^task [0-9]* (move of v1copy): succeeded 100%'"
ctl volumes create inf size=1M pool=fast
ctl volumes list
expect "volumes list shows each volume's pool" \
	"[ $rc -eq 0 ] && grep -qE '^v1copy +fast ' '$TMP/out' && grep -qE '^inf +fast ' '$TMP/out' && grep -qE '^v1 +default ' '$TMP/out'"
ctl pools scrub default --wait
expect "pools scrub --wait" "[ $rc -eq 0 ] && tail -n 1 '$TMP/out' | grep -q 'succeeded 100%'"
ctl volumes copy nosuch new=x --wait
expect "a copy of a missing volume fails before any task" "[ $rc -eq 1 ] && grep -q '(404)' '$TMP/err'"

# ---- pools and paging ----------------------------------------------------------------------
ctl pools show default
expect "pools show default" "[ $rc -eq 0 ] && grep -q '^name: *default' '$TMP/out' && grep -qE '^capacity_bytes: +[0-9.]+ [KMGT]iB \\([0-9]+\\)' '$TMP/out'"
ctl pools list
expect "pools list shows both pools" "[ $rc -eq 0 ] && grep -q '^default ' '$TMP/out' && grep -q '^fast ' '$TMP/out'"
for i in 1 2 3 4 5; do "$CTL" volumes create "p$i" size=4M >/dev/null 2>&1; done
ctl --json volumes list
total=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$TMP/out" 2>/dev/null)
curl -s -H "Authorization: Bearer $ADMIN" "$API_URL/volumes?limit=2" >"$TMP/page.json"
check "the server pages at limit=2 (next is a cursor)" python3 -c \
	"import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d['items']) == 2 and d['next'] else 1)" \
	"$TMP/page.json"
ctl --json --limit 2 volumes list
expect "--json list with --limit 2 returns every item across pages" \
	"[ $rc -eq 0 ] && [ -n '$total' ] && $PY \"len(d) == $total and len(set(v['name'] for v in d)) == $total and {'p1','p2','p3','p4','p5','v1'} <= set(v['name'] for v in d)\""
ctl volumes list --limit 2
expect "the table with --limit 2 shows every volume too" \
	"[ $rc -eq 0 ] && [ \$(grep -cE '^p[1-5] ' '$TMP/out') -eq 5 ]"

# ---- where the token comes from ------------------------------------------------------------
SLATE_DATA=$TMP/nowhere ctl --data "$TMP/pool" volumes list
expect "token from --data DIR/admin-token" "[ $rc -eq 0 ] && grep -q '^v1 ' '$TMP/out'"
SLATE_DATA=$TMP/nowhere SLATE_TOKEN=$ADMIN ctl volumes list
expect "token from \$SLATE_TOKEN" "[ $rc -eq 0 ] && grep -q '^v1 ' '$TMP/out'"
SLATE_DATA=$TMP/nowhere ctl --token "$ADMIN" volumes list
expect "token from --token" "[ $rc -eq 0 ] && grep -q '^v1 ' '$TMP/out'"
SLATE_TOKEN=slt_bad ctl --token "$ADMIN" volumes list
expect "--token wins over \$SLATE_TOKEN" "[ $rc -eq 0 ]"
SLATE_DATA=$TMP/nowhere ctl volumes list
expect "no token anywhere: exit 1 saying what was missing" \
	"[ $rc -eq 1 ] && grep -q 'no API token: no --token, no \$SLATE_TOKEN, and no token in $TMP/nowhere/admin-token' '$TMP/err'"
ctl --token slt_0000000000000000000000000000000000000000000000000000000000000000 volumes list
expect "a bad token: exit 1 with Unauthorized" \
	"[ $rc -eq 1 ] && grep -q '^slatectl: Unauthorized (401): ' '$TMP/err' && grep -q 'the token came from --token' '$TMP/err'"
ctl events list type=auth-failure
expect "events list shows the authentication failure" \
	"[ $rc -eq 0 ] && grep -qE ' warning +auth-failure +127\\.0\\.0\\.1 +rejected a request for /api/v1/volumes' '$TMP/out'"
ctl --url http://127.0.0.1:1 health
expect "an unreachable URL: exit 1 naming the URL and the cause" \
	"[ $rc -eq 1 ] && grep -q '^slatectl: cannot reach http://127.0.0.1:1/api/v1/health: ' '$TMP/err'"
SLATE_URL=http://127.0.0.1:$API_PORT/api/v1/ ctl health
expect "a URL that already ends in /api/v1 works" "[ $rc -eq 0 ]"

# ---- users, login, tokens, roles --------------------------------------------------------------
ctl users create viewer role=read-only password=viewer-pass-1
expect "users create viewer role=read-only" "[ $rc -eq 0 ] && grep -q '^role: *read-only' '$TMP/out'"
ctl users list
expect "users list shows viewer" "[ $rc -eq 0 ] && grep -qE '^viewer +read-only ' '$TMP/out'"
printf 'viewer-pass-1\n' >"$TMP/pw"
ctl login viewer <"$TMP/pw"
VIEWER=$(cat "$TMP/out")
expect "login reads the password from stdin and prints the token" \
	"[ $rc -eq 0 ] && grep -qxE 'slt_[0-9a-f]{64}' '$TMP/out'"
printf 'wrong-password\n' >"$TMP/pw2"
ctl login viewer <"$TMP/pw2"
expect "login with a wrong password: Unauthorized, exit 1" "[ $rc -eq 1 ] && grep -q 'Unauthorized (401)' '$TMP/err'"
ctl --token "$VIEWER" --json tokens create ro-ci expires_in=P30D
RO=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['token'])" "$TMP/out" 2>/dev/null)
RO_ID=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$TMP/out" 2>/dev/null)
expect "tokens create gives a read-only token with its secret" \
	"[ $rc -eq 0 ] && $PY \"d['role'] == 'read-only' and d['user'] == 'viewer' and d['expires_at']\""
ctl --token "$RO" volumes create x size=1M
expect "a read-only token creating: a plain 403 message, exit 1" \
	"[ $rc -eq 1 ] && grep -qx \"slatectl: Forbidden (403): user 'viewer' has the read-only role; POST /api/v1/volumes needs admin\" '$TMP/err'"
ctl volumes show x
expect "nothing was created" "[ $rc -eq 1 ]"
ctl --token "$RO" volumes list
expect "a read-only token lists" "[ $rc -eq 0 ] && grep -q '^v1 ' '$TMP/out'"
ctl tokens create ops
expect "tokens create prints the secret once (human)" \
	"[ $rc -eq 0 ] && grep -qE '^token: +slt_[0-9a-f]{64}' '$TMP/out' && grep -q 'shown only this once' '$TMP/err'"
ctl tokens list
expect "tokens list shows the tokens, no secrets" \
	"[ $rc -eq 0 ] && grep -qE '^$RO_ID +ro-ci +viewer +read-only' '$TMP/out' && ! grep -q slt_ '$TMP/out'"
ctl tokens delete "$RO_ID"
ctl --token "$RO" volumes list
expect "a deleted token is refused" "[ $rc -eq 1 ] && grep -q 'Unauthorized (401)' '$TMP/err'"
# (role and password both: slated's PATCH /users/{name} still requires both)
ctl users update viewer role=admin password=viewer-pass-2
expect "users update viewer role=admin password=..." "[ $rc -eq 0 ] && grep -q '^role: *admin' '$TMP/out'"
ctl users delete viewer
expect "users delete viewer" "[ $rc -eq 0 ]"
ctl users update admin
expect "update with nothing to set exits 2" "[ $rc -eq 2 ]"

# ---- a connection reset: one retry, same Idempotency-Key --------------------------------------
cat >"$TMP/reset_server.py" <<'EOF'
# Answers nothing to the first POST (closes the connection), 201 to the
# second; prints the Idempotency-Keys it saw.
import http.server, json, socket, sys
keys = []
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        keys.append(self.headers.get("Idempotency-Key"))
        if len(keys) == 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = json.dumps({"name": "r1", "size_bytes": 1048576}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.timeout = 30
server.handle_request()
server.handle_request()
print(json.dumps(keys))
EOF
timeout 60 python3 "$TMP/reset_server.py" "$TMP/reset.port" >"$TMP/keys.json" 2>&1 &
reset_pid=$!
for _ in $(seq 50); do [ -s "$TMP/reset.port" ] && break; sleep 0.1; done
ctl --url "http://127.0.0.1:$(cat "$TMP/reset.port" 2>/dev/null)" --token slt_x volumes create r1 size=1M
wait "$reset_pid"
expect "a create whose connection is reset is retried once and succeeds" "[ $rc -eq 0 ] && grep -q '^name: *r1' '$TMP/out'"
check "the retry carries the same Idempotency-Key" python3 -c \
	"import json,sys; k=json.load(open(sys.argv[1])); sys.exit(0 if len(k) == 2 and k[0] and k[0] == k[1] else 1)" \
	"$TMP/keys.json"

# ---- groups whose routes may not be served yet -------------------------------------------------
"$CTL" volumes create vmd1 size=4M >/dev/null 2>&1
"$CTL" volumes create vmd2 size=4M >/dev/null 2>&1
if skip_unless_served vms vms list; then
	expect "vms list" "[ $rc -eq 0 ]"
	ctl vms create web1 volumes=vmd1,vmd2
	expect "vms create web1 volumes=vmd1,vmd2" "[ $rc -eq 0 ]"
	ctl --json vms show web1
	expect "vms show web1 has both volumes" "[ $rc -eq 0 ] && $PY \"d['volumes'] == ['vmd1', 'vmd2']\""
	ctl vms list
	expect "vms list shows web1" "[ $rc -eq 0 ] && grep -q '^web1 ' '$TMP/out'"
	ctl vms update web1 volumes=vmd1,vmd2
	expect "vms update web1" "[ $rc -eq 0 ]"
	ctl vm-snapshots create web1 vs1
	expect "vm-snapshots create web1 vs1" "[ $rc -eq 0 ]"
	ctl vm-snapshots list web1
	expect "vm-snapshots list web1 shows vs1" "[ $rc -eq 0 ] && grep -q '^vs1 ' '$TMP/out'"
	ctl vm-snapshots show web1 vs1
	expect "vm-snapshots show web1 vs1" "[ $rc -eq 0 ]"
	ctl vm-snapshots rollback web1 vs1
	expect "vm-snapshots rollback web1 vs1" "[ $rc -eq 0 ]"
	ctl vm-snapshots clone web1 vs1 web2
	expect "vm-snapshots clone web1 vs1 web2" "[ $rc -eq 0 ]"
	ctl vms show web2
	expect "the cloned VM exists" "[ $rc -eq 0 ]"
	ctl vms delete web2
	expect "vms delete web2" "[ $rc -eq 0 ]"
	ctl vm-snapshots delete web1 vs1
	expect "vm-snapshots delete web1 vs1 (after its clone went)" "[ $rc -eq 0 ] || grep -q '(409)' '$TMP/err'"
	ctl vms delete web1
	expect "vms delete web1" "[ $rc -eq 0 ]"
	ctl vms show web1
	expect "a deleted VM is not found" "[ $rc -eq 1 ] && grep -q '(404)' '$TMP/err'"
fi

IQN=iqn.2026-12.dev.slate:ctl
if skip_unless_served targets targets list; then
	expect "targets list" "[ $rc -eq 0 ]"
	ctl targets create $IQN acl=iqn.2026-12.dev.slate:host-a,iqn.2026-12.dev.slate:host-b
	expect "targets create with an ACL" "[ $rc -eq 0 ]"
	ctl --json targets show $IQN
	expect "targets show has the ACL" \
		"[ $rc -eq 0 ] && $PY \"d['acl'] == ['iqn.2026-12.dev.slate:host-a', 'iqn.2026-12.dev.slate:host-b']\""
	ctl targets list
	expect "targets list shows it" "[ $rc -eq 0 ] && grep -q '^$IQN ' '$TMP/out'"
	ctl targets update $IQN acl=iqn.2026-12.dev.slate:host-a
	expect "targets update acl=" "[ $rc -eq 0 ]"
	ctl targets update $IQN chap_user=ctl chap_secret=ctl-secret-0123
	ctl --json targets show $IQN
	expect "targets update chap_user= chap_secret= (the secret is not shown)" \
		"[ $rc -eq 0 ] && $PY \"d['chap'] == {'user': 'ctl'}\" && ! grep -q ctl-secret '$TMP/out'"
	ctl iscsi-discovery set chap_user=disc chap_secret=disc-secret-0123
	ctl iscsi-discovery show
	expect "iscsi-discovery set and show" "[ $rc -eq 0 ] && grep -q disc '$TMP/out'"
	ctl iscsi-discovery set chap_user= chap_secret=
	expect "iscsi-discovery set with an empty user removes it" "[ $rc -eq 0 ]"
	ctl luns add $IQN 0 vmd1
	expect "luns add IQN 0 vmd1" "[ $rc -eq 0 ]"
	ctl luns list $IQN
	expect "luns list shows LUN 0 on vmd1" "[ $rc -eq 0 ] && grep -qE '^0 +vmd1' '$TMP/out'"
	ctl volumes delete vmd1
	expect "a volume mapped as a LUN cannot be deleted" "[ $rc -eq 1 ] && grep -q '(409)' '$TMP/err'"
	ctl luns remove $IQN 0
	expect "luns remove IQN 0" "[ $rc -eq 0 ]"
	ctl targets delete $IQN
	expect "targets delete" "[ $rc -eq 0 ]"
fi

if skip_unless_served portals portals list; then
	expect "portals list" "[ $rc -eq 0 ]"
	free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	ctl portals add 127.0.0.1:$free_port
	expect "portals add 127.0.0.1:PORT" "[ $rc -eq 0 ]"
	ctl portals list
	expect "portals list shows it" "[ $rc -eq 0 ] && grep -q '127.0.0.1:$free_port' '$TMP/out'"
	ctl portals remove 127.0.0.1:$free_port
	expect "portals remove" "[ $rc -eq 0 ]"
fi

if skip_unless_served exports exports list; then
	expect "exports list" "[ $rc -eq 0 ]"
	ctl --json exports create /ctl clients='127.0.0.1(rw,no_root_squash)'
	EXPORT_ID=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$TMP/out" 2>/dev/null)
	expect "exports create /ctl with a client rule" \
		"[ $rc -eq 0 ] && $PY \"d['path'] == '/ctl' and d['clients'][0].startswith('127.0.0.1(rw,no_root_squash,')\""
	ctl exports list
	expect "exports list shows /ctl" "[ $rc -eq 0 ] && grep -q '/ctl' '$TMP/out'"
	ctl exports update "$EXPORT_ID" clients='127.0.0.1(ro) ::1(ro)'
	ctl --json exports show "$EXPORT_ID"
	expect "exports update clients= (two rules)" \
		"[ $rc -eq 0 ] && $PY \"[c.split(',')[0] for c in d['clients']] == ['127.0.0.1(ro', '::1(ro']\""
	ctl exports delete "$EXPORT_ID"
	expect "exports delete" "[ $rc -eq 0 ]"
fi

if skip_unless_served files files list /demo; then
	expect "files list /demo" "[ $rc -eq 0 ]"
	head -c 1M /dev/urandom >"$TMP/f.raw"
	if [ -n "${NFS_PORT:-}" ] && timeout 60 nfs-cp "$TMP/f.raw" "$(nfs_url /demo/ctl.raw)" >/dev/null 2>&1; then
		ctl --json files list /demo
		FILE_ID=$(python3 -c "import json,sys
for f in json.load(open(sys.argv[1])):
    if any(isinstance(v, str) and v.endswith('ctl.raw') for v in f.values()): print(f['id'])" \
			"$TMP/out" 2>/dev/null)
		expect "files list shows a file written over NFS" "[ $rc -eq 0 ] && [ -n '$FILE_ID' ]"
		ctl files show "$FILE_ID"
		expect "files show ID" "[ $rc -eq 0 ]"
		ctl files snapshot "$FILE_ID" fs1
		expect "files snapshot ID fs1" "[ $rc -eq 0 ]"
		ctl files snapshots "$FILE_ID"
		expect "files snapshots ID shows fs1" "[ $rc -eq 0 ] && grep -q '^fs1 ' '$TMP/out'"
		ctl files rollback "$FILE_ID" fs1
		expect "files rollback ID fs1" "[ $rc -eq 0 ]"
		ctl files clone "$FILE_ID" /demo/ctl-clone.raw
		expect "files clone ID NEWNAME" "[ $rc -eq 0 ]"
		ctl files list /demo
		expect "the clone is listed" "[ $rc -eq 0 ] && grep -q 'ctl-clone.raw' '$TMP/out'"
		ctl files delete-snapshot "$FILE_ID" fs1
		expect "files delete-snapshot ID fs1" "[ $rc -eq 0 ]"
	else
		check "a file is written to /demo over NFS (for the files checks)" false
	fi
fi

"$CTL" volumes create sched-vol size=4M >/dev/null 2>&1
if skip_unless_served schedules schedules list; then
	expect "schedules list" "[ $rc -eq 0 ]"
	ctl schedules create every4h target=volume:sched-vol minute=0 'hour=*/4' keep_last=3 keep_for=P7D
	expect "schedules create (target, cron fields, retention)" "[ $rc -eq 0 ]"
	ctl --json schedules show every4h
	expect "schedules show: nested target and retention" \
		"[ $rc -eq 0 ] && $PY \"d['target']['name'] == 'sched-vol' and d['retention']['keep_last'] == 3 and d['hour'] == '*/4'\""
	ctl schedules list
	expect "schedules list shows it" "[ $rc -eq 0 ] && grep -q '^every4h ' '$TMP/out'"
	ctl schedules update every4h enabled=false
	ctl --json schedules show every4h
	expect "schedules update enabled=false" "[ $rc -eq 0 ] && $PY \"d['enabled'] is False\""
	ctl schedules run every4h --wait
	expect "schedules run" "[ $rc -eq 0 ]"
	ctl --json snapshots list sched-vol
	expect "the run took a snapshot" "[ $rc -eq 0 ] && $PY \"len(d) >= 1\""
	ctl schedules delete every4h
	expect "schedules delete" "[ $rc -eq 0 ]"
fi

if skip_unless_served qos-policies qos-policies list; then
	expect "qos-policies list" "[ $rc -eq 0 ]"
	ctl qos-policies create gold shares=2000 limit_iops=5000
	expect "qos-policies create gold" "[ $rc -eq 0 ]"
	ctl --json qos-policies show gold
	expect "qos-policies show gold" "[ $rc -eq 0 ] && $PY \"d['shares'] == 2000 and d['limit_iops'] == 5000\""
	ctl qos-policies update gold shares=1000
	ctl --json qos-policies show gold
	expect "qos-policies update gold shares=1000" "[ $rc -eq 0 ] && $PY \"d['shares'] == 1000\""
	ctl qos-policies list
	expect "qos-policies list shows gold" "[ $rc -eq 0 ] && grep -q '^gold ' '$TMP/out'"
	ctl qos-policies delete gold
	expect "qos-policies delete" "[ $rc -eq 0 ]"
	ctl qos-hosts set iqn.2026-12.dev.slate:host-a shares=300
	expect "qos-hosts set HOST shares=300" "[ $rc -eq 0 ]"
	ctl qos-hosts list
	expect "qos-hosts list shows it" "[ $rc -eq 0 ] && grep -qE '^iqn.2026-12.dev.slate:host-a +300' '$TMP/out'"
	ctl qos-hosts delete iqn.2026-12.dev.slate:host-a
	expect "qos-hosts delete HOST" "[ $rc -eq 0 ]"
	ctl qos-settings update latency_threshold_us=4000
	ctl --json qos-settings show
	expect "qos-settings update and show" "[ $rc -eq 0 ] && $PY \"d['latency_threshold_us'] == 4000\""
fi

if skip_unless_served sessions sessions list; then
	expect "sessions list" "[ $rc -eq 0 ]"
fi

if skip_unless_served stats stats show appliance; then
	expect "stats show appliance" "[ $rc -eq 0 ]"
	ctl --json stats show appliance resolution=1
	expect "stats show appliance resolution=1 --json" "[ $rc -eq 0 ] && $PY \"isinstance(d, dict)\""
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
