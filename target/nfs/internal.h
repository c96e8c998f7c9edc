/*
 * internal.h - what the files of target/nfs share; private to the module.
 *
 * A call's life: server.c assembles a record, decodes its RPC header and
 * makes a struct nfs_call; the program's dispatcher (nfs3.c, mount.c,
 * rpc_portmap_serve) decodes the arguments and either answers at once or,
 * for READ and WRITE, submits cowstore IO and answers from its completion.
 * nfs_call_reply() hands the finished reply back to server.c, which sends
 * it on the connection if that still lives.  Everything runs on the loop
 * thread and takes no lock, but for two doors other threads come through:
 * nfs_server_reload_exports hands a new export set to the loop (ctl_lock,
 * the notify eventfd), and nfs_server_list_clients reads the connection
 * list (clients_lock guards its links; the figures it reads are atomics).
 */
#ifndef SLATE_NFS_INTERNAL_H
#define SLATE_NFS_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "qos/qos.h"
#include "target/nfs/nfs.h"
#include "target/nfs/rpc.h"

/* ---- protocol numbers ---------------------------------------------------- */

#define NFS_PROG 100003u
#define NFS_V3 3u
#define MOUNT_PROG 100005u
#define MOUNT_V3 3u

#define NFS3_FHSIZE 64u
#define MNTPATHLEN 1024u
#define NFS3_COOKIEVERFSIZE 8u
#define NFS3_CREATEVERFSIZE 8u
#define NFS3_WRITEVERFSIZE 8u
#define NFS_MAX_IO_BYTES (1u << 20) /* rtmax, wtmax, dtpref */
/* A READ or WRITE payload buffer: the largest request, widened to whole
 * blocks when it starts or ends inside one. */
#define NFS_IO_BUF_BYTES (NFS_MAX_IO_BYTES + 2 * COWSTORE_BLOCK_SIZE)
#define NFS_IO_BUFS_KEPT 32u

enum nfs3_proc {
	NFS3_NULL, NFS3_GETATTR, NFS3_SETATTR, NFS3_LOOKUP, NFS3_ACCESS, NFS3_READLINK,
	NFS3_READ, NFS3_WRITE, NFS3_CREATE, NFS3_MKDIR, NFS3_SYMLINK, NFS3_MKNOD,
	NFS3_REMOVE, NFS3_RMDIR, NFS3_RENAME, NFS3_LINK, NFS3_READDIR, NFS3_READDIRPLUS,
	NFS3_FSSTAT, NFS3_FSINFO, NFS3_PATHCONF, NFS3_COMMIT, NFS3_NPROCS
};

enum nfsstat3 {
	NFS3_OK = 0, NFS3ERR_PERM = 1, NFS3ERR_NOENT = 2, NFS3ERR_IO = 5, NFS3ERR_NXIO = 6,
	NFS3ERR_ACCES = 13, NFS3ERR_EXIST = 17, NFS3ERR_XDEV = 18, NFS3ERR_NODEV = 19,
	NFS3ERR_NOTDIR = 20, NFS3ERR_ISDIR = 21, NFS3ERR_INVAL = 22, NFS3ERR_FBIG = 27,
	NFS3ERR_NOSPC = 28, NFS3ERR_ROFS = 30, NFS3ERR_MLINK = 31, NFS3ERR_NAMETOOLONG = 63,
	NFS3ERR_NOTEMPTY = 66, NFS3ERR_DQUOT = 69, NFS3ERR_STALE = 70, NFS3ERR_REMOTE = 71,
	NFS3ERR_BADHANDLE = 10001, NFS3ERR_NOT_SYNC = 10002, NFS3ERR_BAD_COOKIE = 10003,
	NFS3ERR_NOTSUPP = 10004, NFS3ERR_TOOSMALL = 10005, NFS3ERR_SERVERFAULT = 10006,
	NFS3ERR_BADTYPE = 10007, NFS3ERR_JUKEBOX = 10008,
};

enum ftype3 { NF3REG = 1, NF3DIR, NF3BLK, NF3CHR, NF3LNK, NF3SOCK, NF3FIFO };
enum stable_how { NFS3_UNSTABLE = 0, NFS3_DATA_SYNC = 1, NFS3_FILE_SYNC = 2 };
enum createmode3 { NFS3_CREATE_UNCHECKED, NFS3_CREATE_GUARDED, NFS3_CREATE_EXCLUSIVE };

#define ACCESS3_READ 0x01u
#define ACCESS3_LOOKUP 0x02u
#define ACCESS3_MODIFY 0x04u
#define ACCESS3_EXTEND 0x08u
#define ACCESS3_DELETE 0x10u
#define ACCESS3_EXECUTE 0x20u

enum mountstat3 {
	MNT3_OK = 0, MNT3ERR_PERM = 1, MNT3ERR_NOENT = 2, MNT3ERR_IO = 5, MNT3ERR_ACCES = 13,
	MNT3ERR_NOTDIR = 20, MNT3ERR_INVAL = 22, MNT3ERR_NAMETOOLONG = 63,
	MNT3ERR_NOTSUPP = 10004, MNT3ERR_SERVERFAULT = 10006,
};

/* ---- file handles (fh.c) ------------------------------------------------ */

/* A handle: version, export id, inode, generation: 20 bytes (ESXi takes at
 * most 56). */
#define NFS_FH_BYTES 20u
struct nfs_fh {
	uint32_t export_id;
	uint64_t ino;
	uint32_t gen;
};
void nfs_fh_encode(struct xdr_out *out, const struct nfs_fh *fh);
/* Decode an nfs_fh3: false with *status NFS3ERR_BADHANDLE for one that is
 * not ours (wrong length or version); GARBAGE (x->err) for bad XDR. */
bool nfs_fh_decode(struct xdr_in *x, struct nfs_fh *fh, enum nfsstat3 *status);

/* ---- who is asking (access.c) ------------------------------------------- */

/* The caller's identity after the export rule's squashing. */
struct nfs_cred {
	uint32_t uid, gid;
	uint32_t ngids;
	uint32_t gids[RPC_AUTH_SYS_GIDS_MAX];
};

/* The rule of export that admits a client at addr/port, or NULL. */
const struct nfs_client_rule *nfs_export_match(const struct nfs_export *exp,
					       const struct sockaddr_storage *addr);
void nfs_cred_from_rpc(struct nfs_cred *cred, const struct rpc_cred *rc,
		       const struct nfs_client_rule *rule);
/* ACCESS3_* bits that cred has on the inode (asked is the set wanted). */
uint32_t nfs_access_bits(const struct nfs_cred *cred, const struct cowstore_ns_attr *attr,
			 uint32_t asked);
/* 0 when cred may do everything in want (ACCESS3_* bits), else
 * NFS3ERR_ACCES.  Owners may read and write their files whatever the mode
 * bits say (an open file keeps working after chmod), as Linux's nfsd does. */
enum nfsstat3 nfs_access_check(const struct nfs_cred *cred, const struct cowstore_ns_attr *attr,
			       uint32_t want);

/* ---- the server's objects (server.c) ------------------------------------ */

struct nfs_conn;

struct nfs_call {
	struct nfs_server *srv;
	struct nfs_conn *conn;       /* holds a reference until the reply */
	struct rpc_call rpc;         /* args point into the record: valid only
				      * until the dispatcher returns */
	struct xdr_out reply;        /* 4-byte record mark room, then the reply */
	/* READ's payload, sent after reply: data[data_skip .. +data_len), then
	 * padding to 4 bytes. */
	uint8_t *data;
	size_t data_skip, data_len;
	/* Asynchronous IO of READ/WRITE (nfs3.c). */
	struct cowstore_io io;
	struct qos_gate_req gate_req;  /* io's place at the QoS gate */
	uint64_t ino;
	uint64_t offset;
	uint32_t count;
	uint32_t stable;
	struct cowstore_ns_attr attr;  /* WRITE: the file before it */
	size_t reply_mark;           /* where READ/WRITE results continue */
	uint64_t received_ns;        /* READ/WRITE with statistics: qos_now_ns() at dispatch */
	struct nfs_call *next;       /* server.c: the list of calls waiting to be sent */
};

#define NFS_MOUNT_LIST_MAX 256u
struct nfs_mount_entry {
	char host[48];                /* the client's address */
	char path[NFS_EXPORT_PATH_MAX + 1];
};

/* The exports as read from the pool, with the inode of each one's
 * directory (0 for one whose directory is gone). */
struct nfs_export_set {
	struct nfs_export *exports;
	uint64_t *roots;
	size_t n;
};

/* A client's admission window (nfs_server_set_client_window). */
struct nfs_client_window {
	char address[64];
	uint32_t window;
};

struct nfs_server {
	struct cowstore *cs;
	struct nfs_server_options opts;
	char address[64];            /* opts.address points here */
	/* The export set in use: read at start, replaced by
	 * nfs_server_reload_exports.  The loop's own while it runs (loop_owns);
	 * pointers into it live no longer than one call's dispatch. */
	struct nfs_export *exports;
	uint64_t *export_roots;      /* the inode of each export's directory */
	size_t nexports;
	/* ctl_lock guards loop_owns (the loop thread runs and owns the export
	 * set) and pending_exports (a reload waiting for the loop to swap it
	 * in; the caller waits on ctl_cond).  Never held by the loop while it
	 * takes clients_lock, nor the other way round. */
	pthread_mutex_t ctl_lock;
	pthread_cond_t ctl_cond;
	bool loop_owns;
	struct nfs_export_set *pending_exports;
	int notify_fd;               /* eventfd: pending_exports was set */
	pthread_mutex_t clients_lock; /* the links of conns, for list_clients;
				       * client_windows too */
	struct nfs_client_window client_windows[NFS_MAX_CLIENT_WINDOWS];
	size_t nclient_windows;
	_Atomic bool windows_changed; /* the loop re-reads every connection's input */
	uint8_t write_verf[NFS3_WRITEVERFSIZE]; /* new on every start */
	struct cowstore_queue *queue;
	int listen_fd, portmap_fd, epoll_fd, stop_fd;
	uint16_t port, portmap_port;
	char portmap_mode[32];
	bool registered;             /* with a running rpcbind */
	pthread_t thread;
	bool running;
	struct nfs_conn *conns;      /* every open connection */
	uint64_t io_inflight;        /* READs and WRITEs in cowstore */
	struct rpc_mapping maps[5];   /* NFS v3, MOUNT v3; PMAP v2-4 when own */
	size_t nmaps;
	struct rpc_portmap portmap;
	void *io_bufs[NFS_IO_BUFS_KEPT]; /* free payload buffers, kept for reuse */
	unsigned nio_bufs;
	struct nfs_mount_entry mounts[NFS_MOUNT_LIST_MAX]; /* MOUNT's DUMP list */
	size_t nmounts;
	/* IO statistics (nfs3_io.c): streams by (client address, volume),
	 * direct-mapped; stream NULL: empty slot. */
	struct nfs_stream_slot {
		uint8_t addr[16];
		sa_family_t family;
		uint64_t volume_id;
		struct qos_stream *stream;
	} streams[64];
};

/* Seams for tests and fuzz targets, which turn the loop themselves: make
 * the loop without listeners or thread; run it once (false on stop); serve
 * a connected socket as if accepted from peer. */
int nfs_server_open_loop(struct nfs_server *srv, char *err, size_t errlen);
bool nfs_server_poll(struct nfs_server *srv, int timeout_ms);
int nfs_server_adopt(struct nfs_server *srv, int fd, const struct sockaddr_storage *peer);

/* Finish a call: send its reply (when the connection still lives), free it. */
void nfs_call_reply(struct nfs_call *call);
/* Payload buffers (NFS_IO_BUF_BYTES, block-aligned): reused, because a
 * fresh megabyte from malloc is a fresh mapping, faulted in page by page
 * on every request.  get: NULL when out of memory; put takes NULL. */
void *nfs_io_buf_get(struct nfs_server *srv);
void nfs_io_buf_put(struct nfs_server *srv, void *buf);
/* Wait (running completions) until no READ or WRITE is in flight. */
void nfs_server_drain_io(struct nfs_server *srv);
/* The caller's address, for export rules and MOUNT's DUMP. */
const struct sockaddr_storage *nfs_call_peer(const struct nfs_call *call);
/* The parent of dir as the export shows it: an export's root is its own
 * parent, so ".." never leads out of an export. */
int nfs_server_parent(const struct nfs_server *srv, const struct nfs_export *exp,
		      uint64_t dir, uint64_t *parent);
/* The export with that id, or NULL. */
const struct nfs_export *nfs_server_export(const struct nfs_server *srv, uint32_t id);

/* ---- programs ------------------------------------------------------------ */

/* Each serves one call of its program: appends the accepted reply header
 * and results (or an RPC-level error) to call->reply, then calls
 * nfs_call_reply() - now, or later from an IO completion. */
void nfs3_dispatch(struct nfs_call *call);
void mount_dispatch(struct nfs_call *call);

/* Map a negative errno from cowstore to an NFS status. */
enum nfsstat3 nfs3_status(int err);

#endif
