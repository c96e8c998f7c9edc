#!/usr/bin/python3
"""rest_api.py - the REST API over real HTTP, checked against its OpenAPI
document while it runs.

    rest_api.py API_URL TOKEN ISCSI_PORT NFS_PORT

Every request goes through Api.call(), which finds the documented operation
for the method and path, fails the run when the status is not one the
document lists for it, and validates the body against the documented schema
(python3-jsonschema, draft 2020-12, $refs into the document).  At the end,
every documented operation must have been called at least once: with the
route-table test (tests/unit/mgmt/test_openapi.c) this is the OpenAPI
conformance test.  Prints "ok"/"FAIL" lines and "N passed, N failed".
"""
import json
import re
import subprocess
import tempfile
import sys
import threading
import time
import urllib.error
import warnings
import urllib.parse
import urllib.request

import jsonschema

# Debian 12's jsonschema (4.10) has RefResolver; newer ones warn about it.
warnings.simplefilter("ignore", DeprecationWarning)

BASE, TOKEN, ISCSI_PORT, NFS_PORT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
passed = failed = 0
violations = []


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}{': ' + str(detail) if detail else ''}")
    sys.stdout.flush()


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token
        self.prefix = urllib.parse.urlparse(base).path  # "/api/v1"
        req = urllib.request.Request(base + "/openapi.json", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req) as r:
            self.doc = json.load(r)
        self.routes = []
        for tpl in self.doc["paths"]:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(tpl).replace(r"\{", "{").replace(r"\}", "}")) + "$"
            self.routes.append((re.compile(rx), tpl))
        # literal paths win over templated ones (/stats/series vs /stats/{x})
        self.routes.sort(key=lambda r: r[1].count("{"))
        self.called = set()
        self.lock = threading.Lock()

    def template(self, path):
        for rx, tpl in self.routes:
            if rx.match(self.prefix + path):
                return tpl
        return None

    def validate(self, schema, value):
        resolver = jsonschema.RefResolver.from_schema(self.doc)
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(value)

    def call(self, method, path, body=None, token=None, headers=None, raw=None, query=None):
        url = self.base + path + ("?" + query if query else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        tok = self.token if token is None else token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, text, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read(), e.headers
        payload = json.loads(text) if text else None
        self.conform(method, path, status, hdrs, payload)
        return status, payload, hdrs

    def conform(self, method, path, status, hdrs, payload):
        tpl = self.template(path)
        op = self.doc["paths"].get(tpl, {}).get(method.lower()) if tpl else None
        where = f"{method} {path} -> {status}"
        if op is None:
            if status not in (404, 405):
                violations.append(f"{where}: undocumented operation answered")
            return
        with self.lock:
            self.called.add((tpl, method.lower()))
        resp = op["responses"].get(str(status))
        if resp is None:
            violations.append(f"{where}: status not documented for {method} {tpl}")
            return
        if "$ref" in resp:
            resp = self.doc["components"]["responses"][resp["$ref"].split("/")[-1]]
        content = resp.get("content")
        if not content:
            if payload is not None:
                violations.append(f"{where}: a body where none is documented")
            return
        ctype = (hdrs.get("Content-Type") or "").split(";")[0]
        if ctype not in content:
            violations.append(f"{where}: Content-Type {ctype} not documented")
            return
        try:
            self.validate(content[ctype]["schema"], payload)
        except jsonschema.ValidationError as e:
            violations.append(f"{where}: {e.message} at {list(e.absolute_path)}")


api = Api(BASE, TOKEN)
SCRATCH = tempfile.mkdtemp(prefix="rest_api.")  # local files nfs-cp reads and writes
call = api.call


def problem(name, got, status, ptype=None, field=None):
    s, p, _ = got
    ok = s == status and (ptype is None or (p or {}).get("type") == "urn:slate:problem:" + ptype)
    ok = ok and (field is None or (p or {}).get("field") == field)
    check(name, ok, f"{s} {p}")


def wait_task(task):
    """Follow a task until it ends (30 s at most): the last status and body."""
    for _ in range(600):
        s, p, _ = call("GET", f"/tasks/{task}")
        if s != 200 or p["state"] != "running":
            break
        time.sleep(0.05)
    return s, p


def page_all(path, query=""):
    items, after = [], None
    while True:
        q = "limit=2" + (f"&after={after}" if after else "") + ("&" + query if query else "")
        s, p, _ = call("GET", path, query=q)
        if s != 200:
            return None
        items += p["items"]
        if p["next"] is None:
            return items
        after = urllib.request.quote(str(p["next"]), safe="")


# ---- meta, auth ---------------------------------------------------------------
s, p, _ = call("GET", "/health", token="")
check("health answers without a token", s == 200 and p["status"] == "ok")
problem("no token: 401", call("GET", "/volumes", token=""), 401, "unauthorized")
problem("a wrong token: 401", call("GET", "/volumes", token="slt_" + "0" * 64), 401, "unauthorized")
s, _, h = call("GET", "/volumes", token="")
check("401 says WWW-Authenticate: Bearer", "Bearer" in (h.get("WWW-Authenticate") or ""))
s, p, _ = call("POST", "/users", {"name": "viewer", "password": "viewer-pw-1", "role": "read-only"})
check("create a read-only user", s == 201 and p["role"] == "read-only" and "password_hash" not in p)
problem("a user twice: 409", call("POST", "/users", {"name": "viewer", "password": "viewer-pw-1", "role": "read-only"}), 409, "already-exists")
problem("a bad role: 422", call("POST", "/users", {"name": "x", "password": "password-1", "role": "root"}), 422, "invalid-value", "/role")
problem("a short password: 422", call("POST", "/users", {"name": "x", "password": "short", "role": "admin"}), 422, "invalid-value", "/password")
s, p, _ = call("GET", "/users/viewer")
check("show a user", s == 200 and p["name"] == "viewer")
s, p, _ = call("PATCH", "/users/viewer", {"password": "viewer-pw-2"})
check("change a password", s == 200)
problem("a wrong password: 401", call("POST", "/login", {"user": "viewer", "password": "viewer-pw-1"}, token=""), 401, "login-failed")
s, p, _ = call("POST", "/login", {"user": "viewer", "password": "viewer-pw-2"}, token="")
check("log in", s == 201 and p["token"].startswith("slt_"))
ro = p["token"] if s == 201 else ""
s, p, _ = call("GET", "/volumes", token=ro)
check("read-only token reads", s == 200)
problem("read-only token cannot create: 403", call("POST", "/volumes", {"name": "x", "size_bytes": 4096}, token=ro), 403, "forbidden")
problem("read-only token cannot list users: 403", call("GET", "/users", token=ro), 403, "forbidden")
s, p, _ = call("POST", "/tokens", {"name": "ci", "role": "read-only", "expires_in": "P30D"})
check("create a token", s == 201 and p["role"] == "read-only" and p["expires_at"])
tid = p["id"] if s == 201 else "none"
s, p, _ = call("GET", f"/tokens/{tid}")
check("show a token without its secret", s == 200 and "token" not in p and "hash" not in p)
items = page_all("/tokens")
check("tokens list pages", items is not None and any(t["id"] == tid for t in items))
check("delete a token", call("DELETE", f"/tokens/{tid}")[0] == 204)
problem("delete it again: 404", call("DELETE", f"/tokens/{tid}"), 404, "not-found")
check("log out", call("POST", "/logout", token=ro)[0] == 204)
problem("the logged-out token: 401", call("GET", "/volumes", token=ro), 401)
s, p, _ = call("POST", "/tokens", {"name": "x", "expires_in": "a week"})
problem("a bad duration: 422", (s, p, None), 422, "invalid-value", "/expires_in")
check("list users", len(page_all("/users") or []) == 2)
check("delete a user", call("DELETE", "/users/viewer")[0] == 204)
problem("admin cannot be deleted: 409", call("DELETE", "/users/admin"), 409, "in-use")

# ---- bodies ----------------------------------------------------------------------
problem("malformed JSON: 400", call("POST", "/volumes", raw=b'{"name": '), 400, "malformed-json")
problem("a body that is an array: 400", call("POST", "/volumes", raw=b"[]"), 400)
problem("no body: 400", call("POST", "/volumes", raw=b""), 400, "missing-body")
problem("wrong type: 422 naming the member", call("POST", "/volumes", {"name": "v", "size_bytes": "1G"}), 422, "wrong-type", "/size_bytes")
problem("missing member: 422", call("POST", "/volumes", {"name": "v"}), 422, "missing-field", "/size_bytes")
problem("unknown member: 422", call("POST", "/volumes", {"name": "v", "size_bytes": 4096, "thin": True}), 422, "unknown-field", "/thin")
problem("a body over 64 KiB: 413", call("POST", "/volumes", raw=b'{"name":"' + b"a" * 70000 + b'"}'), 413, "body-too-large")
problem("not JSON content: 415", call("POST", "/volumes", raw=b"{}", headers={"Content-Type": "text/plain"}), 415)
problem("unknown path: 404", call("GET", "/nothing-here"), 404, "not-found")
s, p, h = call("DELETE", "/volumes")
check("wrong method: 405 with Allow", s == 405 and h.get("Allow") == "GET, POST")

# ---- pools, volumes, snapshots, tasks ---------------------------------------------
s, p, _ = call("GET", "/pools")
check("list pools", s == 200 and p["items"][0]["name"] == "default")
s, pool, _ = call("GET", "/pools/default")
check("show the pool", s == 200 and pool["capacity_bytes"] > 0)
problem("another pool: 404", call("GET", "/pools/other"), 404)
s, p, _ = call("POST", "/volumes", {"name": "vm1-disk", "size_bytes": 64 << 20})
check("create a volume", s == 201 and p["size_bytes"] == 64 << 20)
s, p, _ = call("POST", "/volumes", {"name": "vm2-disk", "size_bytes": 64 << 20})
problem("a volume twice: 409", call("POST", "/volumes", {"name": "vm1-disk", "size_bytes": 4096}), 409, "already-exists")
problem("a bad name: 422", call("POST", "/volumes", {"name": "a/b", "size_bytes": 4096}), 422, "invalid-value", "/name")
s, p, _ = call("PATCH", "/volumes/vm1-disk", {"size_bytes": 128 << 20})
check("resize a volume", s == 200 and p["size_bytes"] == 128 << 20)
problem("resize to a bad size: 422", call("PATCH", "/volumes/vm1-disk", {"size_bytes": 1000}), 422)
problem("a missing volume: 404", call("GET", "/volumes/nope"), 404, "not-found")
s, p, _ = call("POST", "/volumes/vm1-disk/snapshots", {"name": "before"})
check("snapshot a volume", s == 201 and p["volume"] == "vm1-disk")
s, p, _ = call("GET", "/volumes/vm1-disk/snapshots/before")
check("show a snapshot with space", s == 200 and "unique_bytes" in p)
s, p, _ = call("POST", "/volumes/vm1-disk/snapshots", {"name": "after"})
problem("roll back past a newer snapshot: 409", call("POST", "/volumes/vm1-disk/snapshots/before/rollback"), 409, "in-use")
s, p, _ = call("POST", "/volumes/vm1-disk/snapshots/before/rollback", {"delete_newer": True})
check("roll back deleting newer snapshots", s == 200 and p["snapshots"] == 1)
s, p, _ = call("POST", "/volumes/vm1-disk/snapshots/before/clone", {"name": "vm1-clone"})
check("clone a snapshot", s == 201 and p["parent_snapshot_id"] > 0)
problem("delete a snapshot a clone needs: 409", call("DELETE", "/volumes/vm1-disk/snapshots/before"), 409, "in-use")
s, p, _ = call("GET", "/volumes/vm1-disk/snapshots")
check("list snapshots", s == 200 and [x["name"] for x in p["items"]] == ["before"])
s, p, h = call("POST", "/volumes/vm1-clone/copy", {"name": "vm1-flat"})
check("copy a volume: 202 with a task", s == 202 and h.get("Location", "").startswith("/api/v1/tasks/"))
s, p = wait_task(p["id"] if s == 202 else 0)
check("the copy task finishes at 100%", s == 200 and p["state"] == "succeeded" and p["progress_pct"] == 100, p)
s, p, _ = call("POST", "/volumes/vm1-flat/move", {"pool": "fast"})
check("move a volume to pool fast: 202 with a task", s == 202 and p["kind"] == "move")
s, p = wait_task(p["id"] if s == 202 else 0)
check("the move task succeeds", s == 200 and p["state"] == "succeeded", p)
s, p, _ = call("GET", "/volumes/vm1-flat")
check("the volume is in pool fast", s == 200 and p["pool"] == "fast", p)
problem("a move to a missing pool: 422", call("POST", "/volumes/vm1-flat/move", {"pool": "nope"}), 422, None, "/pool")
s, p, _ = call("POST", "/pools/default/scrub")
check("scrub the pool: 202", s == 202 and p["kind"] == "scrub")
check("list tasks", len(page_all("/tasks") or []) >= 2)
problem("a missing task: 404", call("GET", "/tasks/999999"), 404)
check("delete the clone", call("DELETE", "/volumes/vm1-clone")[0] == 204)
check("delete the snapshot", call("DELETE", "/volumes/vm1-disk/snapshots/before")[0] == 204)
names = [v["name"] for v in page_all("/volumes") or []]
check("volumes list pages to the end", {"demo", "vm1-disk", "vm2-disk", "vm1-flat"} <= set(names), names)
problem("stats of a missing VM: 404", call("GET", "/vms/nope/stats"), 404)
problem("a bad page size: 400", call("GET", "/volumes", query="limit=5000"), 400, "invalid-parameter", "limit")

# ---- concurrency -----------------------------------------------------------------
results = []


def worker(body, key):
    results.append(call("POST", "/volumes", body, headers={"Idempotency-Key": key} if key else None))


def run_all(bodies):
    results.clear()
    threads = [threading.Thread(target=worker, args=b) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r[0] for r in results]


statuses = run_all([({"name": f"par{i}", "size_bytes": 4096}, None) for i in range(16)])
check("16 concurrent creates all succeed", statuses.count(201) == 16, statuses)
statuses = run_all([({"name": "race", "size_bytes": 4096}, None) for _ in range(8)])
check("8 concurrent creates of one name: one 201, the rest 409", statuses.count(201) == 1 and statuses.count(409) == 7, statuses)
statuses = run_all([({"name": "idem", "size_bytes": 4096}, "same-key") for _ in range(8)])
ids = {r[1].get("id") for r in results if r[0] == 201}
check("8 concurrent retries with one Idempotency-Key: one volume", len(ids) == 1 and all(s in (201, 409) for s in statuses), statuses)
s, p, _ = call("POST", "/volumes", {"name": "idem", "size_bytes": 4096}, headers={"Idempotency-Key": "same-key"})
check("a later retry replays the 201", s == 201 and p["id"] in ids)
problem("the key with another body: 422", call("POST", "/volumes", {"name": "idem2", "size_bytes": 4096}, headers={"Idempotency-Key": "same-key"}), 422, "idempotency-key-reused")

# ---- iSCSI targets, LUNs, portals, sessions, stats -----------------------------------
IQN = "iqn.2026-12.dev.slate:rest"
s, p, _ = call("POST", "/targets", {"iqn": IQN, "chap": {"user": "u1", "secret": "0123456789abcdef"}})
check("create a target with CHAP; the secret is not shown", s == 201 and p["chap"] == {"user": "u1"})
problem("a bad IQN: 422", call("POST", "/targets", {"iqn": "not-an-iqn"}), 422, "invalid-value", "/iqn")
problem("a short CHAP secret: 422", call("POST", "/targets", {"iqn": IQN + "2", "chap": {"user": "u", "secret": "short"}}), 422)
problem("a target twice: 409", call("POST", "/targets", {"iqn": IQN}), 409)
s, p, _ = call("POST", f"/targets/{IQN}/luns", {"lun": 0, "volume": "vm2-disk"})
check("map a LUN", s == 201 and p["volume"] == "vm2-disk")
problem("a LUN of a missing volume: 422", call("POST", f"/targets/{IQN}/luns", {"lun": 1, "volume": "nope"}), 422, "invalid-value", "/volume")
problem("a LUN number twice: 409", call("POST", f"/targets/{IQN}/luns", {"lun": 0, "volume": "vm1-disk"}), 409)
s, p, _ = call("PATCH", f"/targets/{IQN}", {"chap": {"user": "", "secret": ""}, "acl": []})
check("remove CHAP", s == 200 and p["chap"] is None)
url = f"iscsi://127.0.0.1:{ISCSI_PORT}/{IQN}/0"
inq = subprocess.run(["iscsi-inq", url], capture_output=True, text=True, timeout=60)
check("the new target serves at once (iscsi-inq)", inq.returncode == 0, inq.stderr)
problem("delete a volume a LUN uses: 409", call("DELETE", "/volumes/vm2-disk"), 409, "in-use")
perf = subprocess.Popen(["iscsi-perf", "-t", "3", "-i", "iqn.2026-12.dev.test:perf", url],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)
s, p, _ = call("GET", "/sessions")
check("the session is listed with its initiator", s == 200 and any(x["host"] == "iqn.2026-12.dev.test:perf" and x["protocol"] == "iscsi" for x in p["items"]), p)
perf.wait(timeout=60)
time.sleep(1.2)
s, p, _ = call("GET", "/volumes/vm2-disk/stats")
check("the volume's stats show the IO", s == 200 and sum(x["read_iops"] for x in p["points"]) > 100, p and p.get("points", [])[-3:])
s, p, _ = call("GET", "/stats", query="series=host:iqn.2026-12.dev.test:perf&resolution=1")
check("the host's stats show the IO", s == 200 and any(x["read_iops"] > 0 and x["p99_latency_us"] > 0 for x in p["points"]))
s, p, _ = call("GET", "/stats", query="series=appliance&resolution=60")
check("minute stats answer", s == 200 and p["resolution_s"] == 60)
problem("a bad series: 400", call("GET", "/stats", query="series=disk"), 400, "invalid-parameter")
problem("a bad resolution: 400", call("GET", "/stats", query="resolution=5"), 400, "invalid-parameter")
s, p, _ = call("GET", "/stats/series")
check("series list names the volume and the host", s == 200 and {"volume:vm2-disk", "host:iqn.2026-12.dev.test:perf"} <= {x["series"] for x in p["items"]}, p)
s, p, _ = call("GET", f"/targets/{IQN}/luns")
check("list LUNs", s == 200 and len(p["items"]) == 1)
s, p, _ = call("GET", f"/targets/{IQN}")
check("show a target", s == 200 and p["luns"][0]["lun"] == 0)
check("unmap the LUN", call("DELETE", f"/targets/{IQN}/luns/0")[0] == 204)
problem("unmap it again: 404", call("DELETE", f"/targets/{IQN}/luns/0"), 404)
check("delete the target", call("DELETE", f"/targets/{IQN}")[0] == 204)
inq = subprocess.run(["iscsi-inq", url], capture_output=True, text=True, timeout=60)
check("the deleted target is gone at once", inq.returncode != 0)
check("targets list", any(t["iqn"] == "iqn.2026-11.dev.slate:demo" for t in page_all("/targets") or []))
s, p, _ = call("PUT", "/iscsi-discovery", {"chap": {"user": "disc", "secret": "discovery-secret"}})
check("set discovery CHAP", s == 200 and p["chap"] == {"user": "disc"})
ls = subprocess.run(["iscsi-ls", f"iscsi://127.0.0.1:{ISCSI_PORT}"], capture_output=True, text=True, timeout=60)
check("discovery without CHAP is refused at once", ls.returncode != 0)
ls = subprocess.run(["iscsi-ls", f"iscsi://disc%discovery-secret@127.0.0.1:{ISCSI_PORT}"], capture_output=True, text=True, timeout=60)
check("discovery with the CHAP secret works", ls.returncode == 0 and "iqn.2026-11.dev.slate:demo" in ls.stdout, ls.stderr)
s, p, _ = call("PUT", "/iscsi-discovery", {"chap": {"user": "", "secret": ""}})
check("remove discovery CHAP", s == 200 and p["chap"] is None)
problem("a short discovery secret: 422", call("PUT", "/iscsi-discovery", {"chap": {"user": "u", "secret": "x"}}), 422)
check("read discovery CHAP", call("GET", "/iscsi-discovery")[1] == {"chap": None, "mutual_chap": None})
s, p, _ = call("POST", "/portals", {"portal": "127.0.0.1:3261"})
check("add a portal", s == 201)
problem("a bad portal: 422", call("POST", "/portals", {"portal": "localhost"}), 422)
check("list portals", [x["portal"] for x in page_all("/portals") or []] == ["127.0.0.1:3261"])
check("remove a portal", call("DELETE", "/portals/127.0.0.1:3261")[0] == 204)

# ---- NFS exports and files ------------------------------------------------------------
s, p, _ = call("POST", "/exports", {"path": "/vms", "clients": ["127.0.0.1(rw,no_root_squash,insecure)"]})
check("export a directory", s == 201 and p["path"] == "/vms")
eid = p["id"] if s == 201 else 0
problem("a bad client rule: 422 naming it", call("POST", "/exports", {"path": "/x", "clients": ["10.0.0.0/99(rw)"]}), 422, "invalid-value", "/clients/0")
problem("a path twice: 409", call("POST", "/exports", {"path": "/vms", "clients": ["*(ro)"]}), 409)
nfs = f"nfs://127.0.0.1/vms/disk.raw?nfsport={NFS_PORT}&mountport={NFS_PORT}"
with open(SCRATCH + "/disk.raw", "wb") as f:
    f.write(b"x" * 65536)
cp = subprocess.run(["nfs-cp", SCRATCH + "/disk.raw", nfs], capture_output=True, text=True, timeout=60)
check("the new export mounts at once (nfs-cp)", cp.returncode == 0, cp.stderr)
s, p, _ = call("GET", "/files", query="path=/vms")
disk = next((f for f in (p or {}).get("items", []) if f.get("name") == "disk.raw"), None)
check("list a directory", s == 200 and disk and disk["size_bytes"] == 65536, p)
fid = disk["id"] if disk else 0
s, p, _ = call("GET", f"/files/{fid}")
check("show a file", s == 200 and p["type"] == "file")
s, p, _ = call("POST", f"/files/{fid}/snapshots", {"name": "f1"})
check("snapshot a file", s == 201 and p["size_bytes"] == 65536)
s, p, _ = call("GET", f"/files/{fid}/snapshots")
check("list file snapshots", s == 200 and p["items"][0]["name"] == "f1")
s, p, _ = call("POST", f"/files/{fid}/clone", {"path": "/vms/disk2.raw"})
check("clone a file", s == 201 and p["size_bytes"] == 65536 and p["name"] == "disk2.raw")
s, p, _ = call("POST", f"/files/{fid}/snapshots/f1/rollback")
check("roll a file back", s == 200)
check("delete a file snapshot", call("DELETE", f"/files/{fid}/snapshots/f1")[0] == 204)
problem("a missing file: 404", call("GET", "/files/999999"), 404)
problem("a directory is not a file: 422", call("GET", "/files", query="path=/vms/disk.raw"), 422)
problem("no path: 400", call("GET", "/files"), 400)
s, p, _ = call("PUT", f"/exports/{eid}", {"clients": ["127.0.0.2(ro)"]})
check("replace an export's rules", s == 200 and p["clients"][0].startswith("127.0.0.2(ro"))
ls = subprocess.run(["nfs-ls", f"nfs://127.0.0.1/vms?nfsport={NFS_PORT}&mountport={NFS_PORT}"], capture_output=True, text=True, timeout=60)
check("a client the new rules leave out cannot mount", ls.returncode != 0)
s, p, _ = call("GET", f"/exports/{eid}")
check("show an export", s == 200 and p["path"] == "/vms")
check("list exports", len(page_all("/exports") or []) == 2)
check("remove the export", call("DELETE", f"/exports/{eid}")[0] == 204)

# ---- QoS ------------------------------------------------------------------------------
s, p, _ = call("POST", "/qos-policies", {"name": "gold", "shares": 2000, "reservation_iops": 100, "limit_iops": 5000})
check("create a QoS policy", s == 201 and p["shares"] == 2000)
problem("reservation above limit: 422", call("POST", "/qos-policies", {"name": "bad", "reservation_iops": 10, "limit_iops": 5}), 422, "invalid-value", "/reservation_iops")
s, p, _ = call("PATCH", "/qos-policies/gold", {"limit_iops": 0})
check("change a QoS policy", s == 200 and p["limit_iops"] == 0 and p["shares"] == 2000)
check("show a QoS policy", call("GET", "/qos-policies/gold")[0] == 200)
check("list QoS policies", len(page_all("/qos-policies") or []) == 1)
s, p, _ = call("PUT", "/qos-hosts/iqn.2026-12.dev.test:perf", {"shares": 300})
check("set a host's shares", s == 200 and p["shares"] == 300)
check("list host shares", len(page_all("/qos-hosts") or []) == 1)
check("reset a host's shares", call("DELETE", "/qos-hosts/iqn.2026-12.dev.test:perf")[0] == 204)
s, p, _ = call("PATCH", "/qos-settings", {"latency_threshold_us": 3000})
check("set the latency threshold", s == 200 and p["latency_threshold_us"] == 3000)
s, p, _ = call("GET", "/qos-settings")
check("read the QoS settings", s == 200 and p["latency_threshold_us"] == 3000)
s, p, _ = call("GET", "/qos-status")
check("the QoS controller's status (off by default)", s == 200 and p["enabled"] is False, p)
problem("a law that does not exist: 422", call("PATCH", "/qos-settings", {"law": "fast"}), 422, "invalid-value", "/law")
check("delete a QoS policy", call("DELETE", "/qos-policies/gold")[0] == 204)

# ---- VMs and schedules ----------------------------------------------------------------------
check("a policy for a VM", call("POST", "/qos-policies", {"name": "silver", "shares": 500})[0] == 201)
s, p, _ = call("POST", "/vms", {"name": "web", "volumes": ["vm1-disk", "par0"], "files": ["/vms/disk.raw"], "qos_policy": "silver"})
check("create a VM of two volumes and an NFS file", s == 201 and p["volumes"] == ["vm1-disk", "par0"], p)
problem("a VM naming a missing volume: 422 with its index", call("POST", "/vms", {"name": "bad", "volumes": ["par1", "nope"]}), 422, None, "/volumes/1")
problem("a volume in two VMs: 409", call("POST", "/vms", {"name": "db", "volumes": ["par0"]}), 409)
problem("a policy a VM uses cannot go: 409", call("DELETE", "/qos-policies/silver"), 409, "in-use")
problem("a volume a VM uses cannot go: 409", call("DELETE", "/volumes/par0"), 409, "in-use")

# ---- QoS gate: a VM's policy enforced inside the targets ---------------------------------------
def gate_status():
    s, p, _ = call("GET", "/qos-status")
    return p.get("gate") if s == 200 else None


def gate_vm(gate, name):
    return next((v for v in (gate or {}).get("vms", []) if v["name"] == name), None)


check("a limiting policy", call("POST", "/qos-policies", {"name": "cap200", "limit_iops": 200})[0] == 201)
check("the VM takes it", call("PATCH", "/vms/web", {"qos_policy": "cap200"})[0] == 200)
QIQN = "iqn.2026-12.dev.slate:qos"
check("a target for the QoS run", call("POST", "/targets", {"iqn": QIQN})[0] == 201)
check("LUN 0: a disk of the limited VM", call("POST", f"/targets/{QIQN}/luns", {"lun": 0, "volume": "vm1-disk"})[0] == 201)
check("LUN 1: a disk of no VM", call("POST", f"/targets/{QIQN}/luns", {"lun": 1, "volume": "vm2-disk"})[0] == 201)
gate = gate_status()
check("the gate is off while QoS is", gate is not None and gate["active"] is False and gate["vms"] == [], gate)
s, p, _ = call("PATCH", "/qos-settings", {"enabled": True, "period_ms": 100, "gate_capacity": 32})
check("QoS on, with a gate capacity", s == 200 and p["enabled"] is True and p["gate_capacity"] == 32, p)
for _ in range(50):
    gate = gate_status()
    if gate and gate["active"] and gate_vm(gate, "web") and gate["capacity"] == 32:
        break
    time.sleep(0.1)
web = gate_vm(gate, "web")
check("the gate schedules the VM: its two volumes and its NFS file's data", gate and gate["active"] and web and web["volumes"] == 3 and web["limit_iops"] == 200 and gate["capacity"] == 32, gate)
perfs = [subprocess.Popen(["iscsi-perf", "-t", "4", "-i", f"iqn.2026-12.dev.test:qos{lun}", f"iscsi://127.0.0.1:{ISCSI_PORT}/{QIQN}/{lun}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for lun in (0, 1)]
time.sleep(1.0)
g0, t0 = gate_status(), time.monotonic()
time.sleep(2.0)
g1, t1 = gate_status(), time.monotonic()
for perf in perfs:
    perf.wait(timeout=60)


def dispatched(g):
    v = gate_vm(g, "web") or {"dispatched_reservation": 0, "dispatched_shares": 0}
    return v["dispatched_reservation"] + v["dispatched_shares"], (g or {}).get("unmanaged", {}).get("dispatched", 0)


(l0, u0), (l1, u1) = dispatched(g0), dispatched(g1)
limited, free = (l1 - l0) / (t1 - t0), (u1 - u0) / (t1 - t0)
print(f"  iscsi-perf on two LUNs: the VM limited to 200 IOPS did {limited:.0f}/s, the volume of no VM {free:.0f}/s")
check("the limited VM's LUN stays under its limit (200 IOPS + 10%)", 100 < limited <= 220, (limited, g1))
check("the LUN of no VM is not held to it", free > 2 * limited, (free, g1))
check("the gate says the limit held requests back", (gate_vm(g1, "web") or {}).get("held_by_limit", 0) > 0, g1)
s, p, _ = call("POST", "/exports", {"path": "/vms", "clients": ["127.0.0.1(rw,no_root_squash,insecure)"]})
qeid = p["id"] if s == 201 else 0
before = dispatched(gate_status())[0]
cp2 = subprocess.run(["nfs-cp", nfs, SCRATCH + "/disk.back"], capture_output=True, text=True, timeout=60)
try:
    with open(SCRATCH + "/disk.back", "rb") as f:
        back = f.read()
except OSError:
    back = b""
check("an NFS READ of the VM's file goes through the gate intact", cp2.returncode == 0 and back == b"x" * 65536 and dispatched(gate_status())[0] >= before + 1, (cp2.stderr, len(back)))
s, p, _ = call("PATCH", "/qos-settings", {"enabled": False})
for _ in range(50):
    gate = gate_status()
    if gate and not gate["active"]:
        break
    time.sleep(0.1)
check("QoS off: the gate lets everything through", gate and gate["active"] is False and gate["vms"] == [] and gate["queued"] == 0, gate)
check("the QoS run's export goes", call("DELETE", f"/exports/{qeid}")[0] == 204)
check("the QoS run's target goes", call("DELETE", f"/targets/{QIQN}")[0] == 204)
check("the VM's policy back", call("PATCH", "/vms/web", {"qos_policy": "silver"})[0] == 200)
check("the limiting policy goes", call("DELETE", "/qos-policies/cap200")[0] == 204)

s, p, _ = call("PATCH", "/vms/web", {"qos_policy": None})
check("change a VM", s == 200 and p["qos_policy"] is None)
check("show a VM", call("GET", "/vms/web")[0] == 200)
check("list VMs", [v["name"] for v in page_all("/vms") or []] == ["web"])
s, p, _ = call("POST", "/vms/web/snapshots", {"name": "vs1"})
check("snapshot a VM (volumes at one instant, then its files)", s == 201 and len(p["volumes"]) == 2 and len(p["files"]) == 1, p)
s, p, _ = call("GET", "/volumes/vm1-disk/snapshots/vs1")
g1 = p.get("group_id") if s == 200 else None
s, p, _ = call("GET", "/volumes/par0/snapshots/vs1")
check("the VM's volume snapshots share one group", s == 200 and g1 and p["group_id"] == g1)
check("show a VM snapshot", call("GET", "/vms/web/snapshots/vs1")[0] == 200)
check("list VM snapshots", len(page_all("/vms/web/snapshots") or []) == 1)
s, p, _ = call("POST", "/vms/web/snapshots/vs1/rollback")
check("roll a VM back", s == 200, p)
s, p, _ = call("POST", "/vms/web/snapshots/vs1/clone", {"name": "web2"})
check("clone a VM from its snapshot", s == 201 and p["volumes"] == ["web2.vm1-disk", "web2.par0"], p)
problem("a VM snapshot its clone depends on: 409", call("DELETE", "/vms/web/snapshots/vs1"), 409)
s, p, _ = call("GET", "/vms/web/stats")
check("a VM's stats answer", s == 200 and p["series"] == "vm:web")
sched = {"name": "nightly", "minute": "30", "hour": "2", "timezone": "Europe/Berlin",
         "target": {"kind": "vm", "name": "web2"}, "retention": {"keep_last": 2, "keep_for": "P7D"}}
s, p, _ = call("POST", "/schedules", sched)
check("create a schedule with its next run", s == 201 and p["next_run"] and p["last_result"] is None, p)
problem("a bad cron field: 422 naming it", call("POST", "/schedules", dict(sched, name="x", hour="25")), 422, None, "/hour")
problem("an unknown time zone: 422", call("POST", "/schedules", dict(sched, name="x", timezone="Mars/Base")), 422, None, "/timezone")
problem("no retention rule: 422", call("POST", "/schedules", dict(sched, name="x", retention={})), 422)
s, p, _ = call("POST", "/schedules/preview", {"minute": "0", "hour": "*/6", "timezone": "Europe/Berlin"})
check("preview the next five runs of cron fields", s == 200 and len(p["runs"]) == 5 and p["timezone"] == "Europe/Berlin", p)
problem("preview a bad field: 422 naming it", call("POST", "/schedules/preview", {"minute": "61"}), 422, None, "/minute")
s, p, _ = call("POST", "/schedules/nightly/run")
check("run a schedule now", s == 200 and p["last_result"]["status"] == "ok", p)
s, p, _ = call("PATCH", "/schedules/nightly", {"enabled": False})
check("disable a schedule", s == 200 and p["enabled"] is False)
check("show a schedule", call("GET", "/schedules/nightly")[0] == 200)
check("list schedules", len(page_all("/schedules") or []) == 1)
s, p, _ = call("GET", "/events", query="type=schedule-run")
check("a run is an event", s == 200 and len(p["items"]) == 1)
check("delete a schedule", call("DELETE", "/schedules/nightly")[0] == 204)
check("delete a VM (its disks stay)", call("DELETE", "/vms/web2")[0] == 204 and call("GET", "/volumes/web2.par0")[0] == 200)
check("delete the VM", call("DELETE", "/vms/web")[0] == 204)

# ---- events ----------------------------------------------------------------------------
s, p, _ = call("GET", "/events", query="type=auth-failure")
check("authentication failures are events", s == 200 and len(p["items"]) >= 2)
ev = p["items"][0]["id"] if s == 200 and p["items"] else "0"
check("show an event", call("GET", f"/events/{ev}")[0] == 200)
problem("a missing event: 404", call("GET", "/events/ffffffffffffffff"), 404)

# ---- conformance -----------------------------------------------------------------------
s, p, _ = call("GET", "/openapi.json")
check("the document is served", s == 200 and p["openapi"] == "3.1.0")
problem("the document needs a token too", call("GET", "/openapi.json", token=""), 401)
documented = {(t, m) for t, ops in api.doc["paths"].items() for m in ops if m in ("get", "post", "put", "patch", "delete")}
missing = sorted(documented - api.called)
check("every documented operation was called", not missing, missing)
check("every answer matched the document", not violations, "\n  ".join(violations))
subprocess.run(["rm", "-rf", SCRATCH])
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
