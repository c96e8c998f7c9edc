#!/bin/sh
# rest_api.sh - the REST API over HTTP against a real slated, every answer
# checked against the OpenAPI document (tests/integration/rest_api.py); and
# the API's HTTPS mode with a throw-away certificate.  slated serves two
# pools (the second for a volume move).  Debian's python3 runs
# the checks: its python3-jsonschema is what packaging/deps.sh installs.
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

# a second pool, "fast", for volume moves
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$TMP/pool" || exit 1
run_checks rest /usr/bin/python3 tests/integration/rest_api.py "$API_URL" "$(cat "$TMP/pool/admin-token")" \
	"$PORT" "$NFS_PORT"
stop_slated
check "slated exits 0 after the REST run" [ "$slated_rc" -eq 0 ]

# HTTPS: a certificate made here, the same daemon settings otherwise.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
# The console's files come from the web setting: a page, a symlink out.
mkdir -p "$TMP/web/js" && echo '<title>console</title>' >"$TMP/web/index.html"
echo 'export const x = 1;' >"$TMP/web/js/app.js"
ln -s /etc/passwd "$TMP/web/passwd.txt"
printf 'tls_cert = %s\ntls_key = %s\nweb = %s\n' "$TMP/cert.pem" "$TMP/key.pem" "$TMP/web" \
	>"$TMP/tls.conf"
build/slated --config "$TMP/tls.conf" --data "$TMP/pool" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:0 \
	--portmap off --api 127.0.0.1:0 2>"$TMP/tls.log" &
slated_pid=$!
for _ in $(seq 100); do
	grep -qs 'ready;' "$TMP/tls.log" && break
	sleep 0.1
done
TLS_PORT=$(sed -n 's,.*API: listening on https://127\.0\.0\.1:\([0-9]*\)/.*,\1,p' "$TMP/tls.log")
check "slated serves the API over HTTPS when given a certificate" [ -n "$TLS_PORT" ]
check "an HTTPS request with the certificate trusted succeeds" \
	sh -c "curl -sf --cacert '$TMP/cert.pem' https://127.0.0.1:$TLS_PORT/api/v1/health | grep -q ok"
check "plain HTTP is not answered on the HTTPS port" \
	sh -c "! curl -sf -m 5 http://127.0.0.1:$TLS_PORT/api/v1/health"
web() { # web PATH: the status and Content-Type of a console file
	curl -s --path-as-is --cacert "$TMP/cert.pem" -o /dev/null -w '%{http_code} %{content_type}' \
		"https://127.0.0.1:$TLS_PORT$1"
}
check "/ serves the console's index.html without a token" \
	sh -c "[ \"\$(curl -s --cacert '$TMP/cert.pem' https://127.0.0.1:$TLS_PORT/)\" = '<title>console</title>' ]"
check "a script is served as JavaScript" [ "$(web /js/app.js)" = '200 text/javascript; charset=utf-8' ]
check "a symlink out of the console is 404" [ "$(web /passwd.txt | cut -c1-3)" = 404 ]
check "a path with .. is 404" [ "$(web /js/../../../etc/passwd | cut -c1-3)" = 404 ]
check "a missing file is 404" [ "$(web /nope.js | cut -c1-3)" = 404 ]
stop_slated
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
