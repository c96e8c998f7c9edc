#!/bin/sh
# deps.sh - install every Debian package that Slate's build, tests and
# benchmarks need. Idempotent: when everything is present it only runs
# dpkg-query and exits, so `make run` and `make test` can call it each time.
#
# Packages are grouped by what needs them; add new ones to the right line.
set -eu

BUILD="build-essential pkg-config clang librocksdb-dev libisal-dev libpmem-dev liburing-dev libssl-dev zlib1g-dev"
# The REST API (libmicrohttpd, jansson) and slatectl (libcurl); python3
# merges the OpenAPI parts at build time.
MGMT="libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev python3"
# tzdata: the zoneinfo files sched_tz_load() reads (its unit tests, and
# slated's schedules at run time).  python3-jsonschema: the OpenAPI
# conformance test validates answers against the document's schemas.
TEST="libclang-rt-14-dev tzdata python3-jsonschema"
# The web console's end-to-end test (tests/integration/console.sh) drives
# Debian's chromium headless with playwright-core from npm.
BROWSER="chromium"
# Clients and peers used by integration tests and benchmarks (later issues).
CLIENTS="libiscsi-dev libiscsi-bin libnfs-dev libnfs-utils qemu-utils qemu-block-extra python3"
# Peers the benchmarks compare against (bench/iscsi.sh: tgt; bench/nfs.sh:
# nfs-ganesha with its VFS backend and rpcbind, run inside namespaces made
# with iproute2).  On a machine with systemd, installing them may also start
# their services (tgtd, rpcbind, nfs-ganesha) on every address; the benches
# start their own copies on loopback or in namespaces and need none of them.
PEERS="tgt nfs-ganesha nfs-ganesha-vfs rpcbind iproute2"

missing=""
# node and npm build the console (web/: npm ci for uPlot and playwright-core).
# Debian's packages only when the commands are missing: a machine may carry
# its own Node.js (with its own npm) that Debian's nodejs would conflict with.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
for pkg in $BUILD $MGMT $TEST $BROWSER $CLIENTS $PEERS; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
