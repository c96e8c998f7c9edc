#!/bin/sh
# slate_store.sh - end-to-end test of build/slate-store on a throwaway pool
# under /tmp: pool, volumes, import/export byte-for-byte, snapshots,
# clones, rollback, resize, space, usage and lookup errors, and corruption
# caught by scrub and export.  Ends with a test of build/slated: first start
# creates the pool, restart reopens it, SIGTERM/SIGINT stop it cleanly, a
# directory without a pool is refused.
#
# Prints "ok WHAT" / "FAIL WHAT" per check and closes with the line
# "N passed, N failed" that tests/run.sh sums; exits 1 if any check failed.
# The corruption step relies on the first blocks written to an empty pool
# landing in the first MiB of its data file.
set -u
cd "$(dirname "$0")/../.." || exit 1

# Overridable to test other builds of the same sources (e.g. with ASan).
TOOL=${SLATE_STORE:-build/slate-store}
SLATED=${SLATED:-build/slated}
MIB=1048576
passed=0
failed=0
slated_pid=
TMP=$(mktemp -d /tmp/slate_store.XXXXXX) || exit 1
POOL=$TMP/pool

cleanup() {
	[ -n "$slated_pid" ] && kill -KILL "$slated_pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() {
	echo "FAIL $1"
	failed=$((failed + 1))
	# show what the last tool run said, to explain the failure
	[ -s "$TMP/err" ] && sed 's/^/    stderr: /' "$TMP/err"
	[ -s "$TMP/out" ] && sed 's/^/    stdout: /' "$TMP/out"
	return 0
}
# check WHAT COMMAND...: one check passing when COMMAND succeeds
check() { what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# st ARGS...: run slate-store on the pool; output in $TMP/out, $TMP/err, status in $rc
st() { timeout 120 "$TOOL" "$POOL" "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?; }
rc_is() { [ "$rc" -eq "$1" ]; }
allocated() { st pool info && awk '$1 == "allocated:" { print $2 }' "$TMP/out"; }

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

if [ ! -x "$TOOL" ] || [ ! -x "$SLATED" ]; then
	echo "FAIL $TOOL and $SLATED are built (run: make $TOOL $SLATED)"
	failed=1
	finish
fi

head -c 8M /dev/urandom >"$TMP/a.img"
head -c 1M /dev/urandom >"$TMP/b.img"
{ cat "$TMP/b.img"; tail -c +$((MIB + 1)) "$TMP/a.img"; } >"$TMP/ba.img" # b over a's first MiB

# ---- pool and volume ------------------------------------------------------
st pool create --capacity 1G --soft-threshold 90
check "pool create" rc_is 0
st pool info
check "pool info shows the capacity and threshold" \
	sh -c "[ $rc -eq 0 ] && grep -q '^capacity: *1073741824 ' '$TMP/out' && grep -q '^soft threshold: *90%' '$TMP/out'"
st pool create
check "pool create on an existing pool fails" rc_is 1
"$TOOL" "$TMP/prealloc" pool create --capacity 16M --preallocate >"$TMP/out" 2>&1
check "pool create --preallocate reserves the data file's space" \
	sh -c "[ $? -eq 0 ] && [ \$(du -k '$TMP/prealloc/data' | cut -f1) -ge 16384 ]"
st volume create vm1 8M
check "volume create vm1 8M" rc_is 0

# ---- import/export round trip ---------------------------------------------
st import vm1 "$TMP/a.img"
check "import 8 MiB random file" rc_is 0
st export vm1 "$TMP/out.img"
check "export equals the imported file" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a.img' '$TMP/out.img'"

# ---- snapshot, overwrite, clone -------------------------------------------
st snapshot create vm1 s1
check "snapshot create vm1 s1" rc_is 0
st import vm1 "$TMP/b.img"
check "import 1 MiB over the first MiB" rc_is 0
st export vm1 "$TMP/out.img"
check "volume shows the overwrite" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/ba.img' '$TMP/out.img'"
st export vm1 "$TMP/out.img" --snapshot s1
check "snapshot export equals the first file" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a.img' '$TMP/out.img'"
st snapshot list vm1
check "snapshot list shows s1" sh -c "[ $rc -eq 0 ] && grep -q '^s1 ' '$TMP/out'"

st clone vm1 s1 c1
check "clone vm1 s1 c1" rc_is 0
st export c1 "$TMP/out.img"
check "clone export equals the first file" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a.img' '$TMP/out.img'"
st import c1 "$TMP/b.img"
st export vm1 "$TMP/out.img" --snapshot s1
check "writing the clone leaves the snapshot alone" \
	sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a.img' '$TMP/out.img'"
st volume list
check "volume list shows the clone's origin" sh -c "[ $rc -eq 0 ] && grep -q '^c1 .*vm1@s1' '$TMP/out'"

# ---- rollback -------------------------------------------------------------
st snapshot create vm1 s2
st snapshot rollback vm1 s1
check "rollback past a newer snapshot fails naming it" sh -c "[ $rc -eq 1 ] && grep -q s2 '$TMP/err'"
st snapshot rollback vm1 s1 --delete-newer
check "rollback --delete-newer" rc_is 0
st export vm1 "$TMP/out.img"
check "rolled-back volume equals the first file" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a.img' '$TMP/out.img'"
st snapshot list vm1
check "rollback deleted the newer snapshot" sh -c "[ $rc -eq 0 ] && ! grep -q '^s2 ' '$TMP/out'"

# ---- deleting snapshots ---------------------------------------------------
st snapshot delete vm1 s1
check "deleting a snapshot with a clone fails naming the clone" \
	sh -c "[ $rc -eq 1 ] && grep -q c1 '$TMP/err'"
st snapshot create vm1 s3
st snapshot delete vm1 s3
check "snapshot delete without clones" rc_is 0
st snapshot list vm1
check "deleted snapshot is gone, s1 stays" \
	sh -c "[ $rc -eq 0 ] && ! grep -q '^s3 ' '$TMP/out' && grep -q '^s1 ' '$TMP/out'"

# ---- resize and space -----------------------------------------------------
st volume resize vm1 16M
check "volume resize vm1 16M" rc_is 0
st volume list
check "volume list shows the new size" sh -c "[ $rc -eq 0 ] && grep -q '^vm1 .* 16777216 ' '$TMP/out'"
{ cat "$TMP/a.img"; head -c 8M /dev/zero; } >"$TMP/a16.img"
st export vm1 "$TMP/out.img"
check "grown volume reads the old data then zeros" \
	sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/a16.img' '$TMP/out.img'"
st space
check "space lists the volumes and the snapshot" \
	sh -c "[ $rc -eq 0 ] && grep -q '^vm1 ' '$TMP/out' && grep -q '^c1 ' '$TMP/out' && grep -q '@s1 ' '$TMP/out'"

# ---- thin import and odd sizes --------------------------------------------
{ head -c 4M /dev/zero; head -c 1M /dev/urandom; } >"$TMP/z.img"
before=$(allocated)
st import thin "$TMP/z.img"
import_rc=$rc
after=$(allocated)
check "import creates the volume and skips zero chunks (allocated $before -> $after)" \
	sh -c "[ $import_rc -eq 0 ] && [ -n '$before' ] && [ -n '$after' ] && [ \$(($after - $before)) -le $((2 * MIB)) ]"
st export thin "$TMP/out.img"
check "thin volume round trip" sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/z.img' '$TMP/out.img'"
head -c 1000 /dev/urandom >"$TMP/odd.img"
st import odd "$TMP/odd.img"
check "import of a 1000-byte file creates the volume" rc_is 0
st export odd "$TMP/out.img"
# The import rounds a file up to whole 512-byte sectors (the API's unit).
check "1000-byte import makes a 4096-byte volume" \
	sh -c "[ $rc -eq 0 ] && [ \$(stat -c %s '$TMP/out.img') -eq 4096 ] && cmp -s -n 1000 '$TMP/odd.img' '$TMP/out.img'"
st import vm1 "$TMP/a16.img"
check "import of a file that fits the volume exactly" rc_is 0
{ cat "$TMP/a16.img"; echo x; } >"$TMP/big.img"
st import vm1 "$TMP/big.img"
check "import of a file larger than the volume fails" sh -c "[ $rc -eq 1 ] && grep -q 'larger than' '$TMP/err'"
st volume delete odd
st volume list
check "volume delete" sh -c "[ $rc -eq 0 ] && ! grep -q '^odd ' '$TMP/out'"

# ---- usage and lookup errors ----------------------------------------------
timeout 10 "$TOOL" >/dev/null 2>"$TMP/err"
check "no arguments exits 2" [ $? -eq 2 ]
st frobnicate
check "unknown command exits 2" sh -c "[ $rc -eq 2 ] && grep -q 'unknown command' '$TMP/err'"
st volume create x 12Q
check "bad size exits 2" sh -c "[ $rc -eq 2 ] && grep -q \"bad volume size '12Q'\" '$TMP/err'"
st snapshot create vm1
check "missing argument exits 2" rc_is 2
st volume list --bogus
check "unknown option exits 2" rc_is 2
st volume list --snapshot s1
check "option for another command exits 2" rc_is 2
st export nosuch "$TMP/out.img"
check "unknown volume exits 1 naming it" \
	sh -c "[ $rc -eq 1 ] && grep -q \"^slate-store: .*'nosuch'\" '$TMP/err'"
st snapshot delete vm1 nosnap
check "unknown snapshot exits 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q nosnap '$TMP/err'"
timeout 10 "$TOOL" "$TMP/nopool" pool info >/dev/null 2>"$TMP/err"
check "missing pool exits 1 with a message" sh -c "[ $? -eq 1 ] && grep -q '^slate-store: ' '$TMP/err'"

# ---- corruption -----------------------------------------------------------
st pool scrub
check "scrub of a healthy pool" sh -c "[ $rc -eq 0 ] && grep -q '^bad blocks: *0' '$TMP/out'"
# 16 blocks of garbage (64 KiB) spread over the first MiB of the data file,
# where the first import (now vm1, s1 and c1's shared data) was written.
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
	dd if=/dev/urandom of="$POOL/data" bs=4096 count=1 seek=$((i * 16)) conv=notrunc \
		status=none 2>/dev/null
done
st pool scrub
check "scrub finds the damage and exits 1" \
	sh -c "[ $rc -eq 1 ] && grep -q '^bad block: ' '$TMP/out'"
rm -f "$TMP/out.img"
st export vm1 "$TMP/out.img" --snapshot s1
check "export of damaged data fails and leaves no file" \
	sh -c "[ $rc -eq 1 ] && grep -q checksum '$TMP/err' && [ ! -e '$TMP/out.img' ]"

# ---- slated ---------------------------------------------------------------
# wait_for FILE PATTERN: up to 10 s for PATTERN to appear in FILE
wait_for() {
	n=0
	while [ $n -lt 100 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
# stop_slated SIGNAL: signal it, wait up to 5 s, set $rc to its exit status
stop_slated() {
	kill "-$1" "$slated_pid"
	n=0
	while kill -0 "$slated_pid" 2>/dev/null && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$slated_pid" 2>/dev/null; then
		kill -KILL "$slated_pid"
		wait "$slated_pid" 2>/dev/null
		rc=124
	else
		wait "$slated_pid"
		rc=$?
	fi
	slated_pid=
}

DPOOL=$TMP/daemon/pool
"$SLATED" --data "$DPOOL" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:0 --portmap off --api 127.0.0.1:0 \
	2>"$TMP/slated.log" &
slated_pid=$!
if wait_for "$TMP/slated.log" ready; then
	check "slated creates the directory and a pool on first start" \
		grep -q 'created pool default in ' "$TMP/slated.log"
	check "slated logs the pool state with a timestamp" \
		grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z slated: pool .*capacity 68719476736 bytes.*0 volumes, 0 snapshots' \
		"$TMP/slated.log"
	timeout 30 "$TOOL" "$DPOOL" pool info >/dev/null 2>"$TMP/err"
	check "slate-store refuses a pool slated has open" sh -c "[ $? -eq 1 ] && [ -s '$TMP/err' ]"
	stop_slated TERM
	check "slated exits 0 on SIGTERM within 5 s" rc_is 0
	check "slated logs a clean close" grep -q 'closed cleanly' "$TMP/slated.log"
else
	bad "slated starts (log: $(tr '\n' '|' <"$TMP/slated.log"))"
	[ -n "$slated_pid" ] && stop_slated KILL
fi

# The settings file gives the addresses; the flag overrides its data directory.
printf '# test settings\ndata = %s\nnfs = 127.0.0.1:0\napi=127.0.0.1:0 # any port\nportmap = off\n' \
	"$TMP/not-this-one" >"$TMP/slated.conf"
"$SLATED" --config "$TMP/slated.conf" --data "$DPOOL" --iscsi 127.0.0.1:0 2>"$TMP/slated2.log" &
slated_pid=$!
if wait_for "$TMP/slated2.log" ready; then
	check "slated reopens its pool instead of creating one" \
		sh -c "! grep -q 'created pool ' '$TMP/slated2.log'"
	check "slated takes its addresses from the settings file" \
		grep -q 'API: listening on http://127.0.0.1:[1-9]' "$TMP/slated2.log"
	check "a flag overrides the settings file" test ! -e "$TMP/not-this-one"
	check "slated logs its settings file" grep -q "settings $TMP/slated.conf" "$TMP/slated2.log"
	echo 'log_level = warning' >>"$TMP/slated.conf"
	kill -HUP "$slated_pid"
	check "SIGHUP re-reads the settings" wait_for "$TMP/slated2.log" \
		'SIGHUP: settings re-read; log level warning' 
	stop_slated INT
	check "slated exits 0 on SIGINT" rc_is 0
else
	bad "slated restarts (log: $(tr '\n' '|' <"$TMP/slated2.log"))"
	[ -n "$slated_pid" ] && stop_slated KILL
fi

mkdir -p "$TMP/junk" && echo hello >"$TMP/junk/file"
timeout 30 "$SLATED" --data "$TMP/junk" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:0 --portmap off \
	2>"$TMP/slated3.log"
check "slated refuses a directory without a pool" \
	sh -c "[ $? -eq 1 ] && grep -q 'cannot open pool default in ' '$TMP/slated3.log'"
timeout 10 "$SLATED" --bogus 2>/dev/null
check "slated with an unknown flag exits 2" [ $? -eq 2 ]
printf 'colour = blue\n' >"$TMP/bad.conf"
timeout 10 "$SLATED" --config "$TMP/bad.conf" 2>"$TMP/bad.err"
check "slated refuses an unknown setting, naming the line" \
	sh -c "[ $? -eq 2 ] && grep -q 'bad.conf:1: unknown setting' '$TMP/bad.err'"
timeout 10 "$SLATED" --print-config --api '[::1]:9000' >"$TMP/print.out"
check "--print-config prints the built-in defaults with the flags applied" \
	sh -c "grep -qx 'data = ./var' '$TMP/print.out' && grep -qxF 'api = [::1]:9000' '$TMP/print.out'"

finish
