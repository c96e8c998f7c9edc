#!/bin/sh
# nfs_ganesha.sh - run a command against nfs-ganesha 4.3, to check the NFS
# test programs themselves against a server we did not write (not part of
# "make test": it needs root and ganesha, and ganesha is a peer, not Slate).
#
#   tests/nfs_ganesha.sh COMMAND [ARGS...]
#
# COMMAND runs inside a private network and mount namespace whose only
# interface is lo, where rpcbind and ganesha serve NFSv3 + MOUNTv3 on
# 127.0.0.1 (NFS 2049, MOUNT 20048) with three exports on tmpfs: /export
# (rw, no_root_squash), /ro (read-only), /squash (root squashed to 65534)
# and /secure (clients on reserved ports only).  The private /run keeps rpcbind's socket and lock files apart
# from any other rpcbind on the machine.  Everything started is stopped and
# removed when COMMAND ends; its exit status is returned.  COMMAND may run
# "$NFS_GANESHA_RESTART" to stop ganesha (SIGTERM) and start it again on the
# same exports, e.g. to see handles outlive a restart.
#
# Setup follows ../shared/peers (ganesha-setup.sh): ganesha refuses to
# start without rpcbind, and binds every address for Bind_addr=127.0.0.1
# unless lo also has an IPv6 address besides ::1.
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
if [ "${NFS_GANESHA_INSIDE:-}" != 1 ]; then
	NFS_GANESHA_INSIDE=1 exec unshare --mount --net --propagation private "$0" "$@"
fi

PIDFILE=/run/ganesha/ganesha.pid
stop_ganesha() {
	[ -s "$PIDFILE" ] || return 0
	pid=$(cat "$PIDFILE")
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$PIDFILE"
}
start_ganesha() {
	ganesha.nfsd -F -f "$D/ganesha.conf" -L "$D/ganesha.log" -p "$PIDFILE.run" \
		-N NIV_EVENT >>"$D/ganesha.stdout" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 150); do
		ss -ltn 2>/dev/null | grep -qE '127\.0\.0\.1\]?:20048 ' &&
			ss -ltn | grep -qE '127\.0\.0\.1\]?:2049 ' && return 0
		kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
		sleep 0.1
	done
	echo "ganesha did not start:" >&2
	tail -5 "$D/ganesha.log" >&2
	return 1
}
if [ "${1:-}" = --restart ]; then
	D=$NFS_GANESHA_DIR
	stop_ganesha
	start_ganesha
	exit
fi

D=$(mktemp -d /dev/shm/slate-ganesha-XXXXXX)
mkdir -p "$D/export" "$D/ro" "$D/squash" "$D/secure" "$D/recov"
echo "read-only export" >"$D/ro/readme"
chmod 0777 "$D/squash"
sed "s|@RECOVERY@|$D/recov|" "$(dirname "$0")/../bench/ganesha-core.conf" >"$D/ganesha.conf"
cat >>"$D/ganesha.conf" <<EOF
EXPORT {
    Export_Id = 1; Path = "$D/export"; Pseudo = "/export";
    Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash;
    SecType = sys; Attr_Expiration_Time = 0; FSAL { Name = VFS; }
}
EXPORT {
    Export_Id = 2; Path = "$D/ro"; Pseudo = "/ro";
    Protocols = 3; Transports = TCP; Access_Type = RO; Squash = No_Root_Squash;
    SecType = sys; FSAL { Name = VFS; }
}
EXPORT {
    Export_Id = 3; Path = "$D/squash"; Pseudo = "/squash";
    Protocols = 3; Transports = TCP; Access_Type = RW; Squash = Root_Squash;
    Anonymous_Uid = 65534; Anonymous_Gid = 65534;
    SecType = sys; FSAL { Name = VFS; }
}
EXPORT {
    Export_Id = 4; Path = "$D/secure"; Pseudo = "/secure";
    Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash;
    PrivilegedPort = true; SecType = sys; FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
EOF

mount -t tmpfs -o mode=0755 slate-ganesha-run /run
mkdir -p /run/rpcbind /run/lock /run/ganesha
chown _rpc /run/rpcbind 2>/dev/null
ip link set lo up
ip addr add fd00:6e66:7300::1/128 dev lo

rpcbind -f >"$D/rpcbind.log" 2>&1 &
rpcbind_pid=$!
stop() {
	stop_ganesha
	kill -TERM "$rpcbind_pid" 2>/dev/null && wait "$rpcbind_pid"
	rm -rf "$D"
}
trap stop EXIT
for _ in $(seq 50); do
	rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
	sleep 0.1
done
start_ganesha || exit 1
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
export NFS_GANESHA_DIR="$D" NFS_GANESHA_RESTART="$self --restart"
"$@"
rc=$?
if [ -n "${NFS_GANESHA_LOG:-}" ]; then
	cp "$D/ganesha.log" "$NFS_GANESHA_LOG"
fi
exit $rc
