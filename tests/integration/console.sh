#!/bin/sh
# console.sh - the web console end to end in a real browser: Debian's
# chromium, headless, driven by playwright-core (tests/integration/
# console.mjs) against a real slated serving build/web beside build/slated.
# Screenshots go to build/artifacts/console/ (test artifacts, not committed).
# Needs `make web` (make test builds it first).
cd "$(dirname "$0")/../.." || exit 1
. tests/harness.sh

ARTIFACTS=build/artifacts/console
if [ ! -f build/web/index.html ] || [ ! -d web/node_modules/playwright-core ]; then
	echo "FAIL the console is built (run make web)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
	echo "FAIL /usr/bin/chromium is installed (packaging/deps.sh installs it)"
	echo "0 passed, 1 failed"
	exit 1
fi
# a second pool, "fast", for a volume move in the page
SLATED_ARGS="--pool fast=$TMP/fast" start_slated "$TMP/pool" || exit 1
check "slated serves the console at /" \
	sh -c "curl -sf http://127.0.0.1:$API_PORT/ | grep -q 'js/app.js'"
rm -rf "$ARTIFACTS"
# the script has its own 110 s watchdog; this bound is for node itself
run_checks console timeout -k 5 150 node tests/integration/console.mjs \
	"http://127.0.0.1:$API_PORT/" "$(cat "$TMP/pool/admin-password")" "$PORTAL" "$ARTIFACTS"
check "the screenshots were saved" \
	[ -s "$ARTIFACTS/dashboard.png" -a -s "$ARTIFACTS/volume-snapshots.png" -a -s "$ARTIFACTS/schedule-editor.png" ]
stop_slated
check "slated exits 0 after the console run" [ "$slated_rc" -eq 0 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
