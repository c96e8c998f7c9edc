/*
 * nfs.h - the NFS front end: ONC RPC over TCP serving NFS v3 (RFC 1813),
 * MOUNT v3 and, when no rpcbind runs, the portmapper (RFC 1833) for its own
 * programs.  Files and directories are cowstore's file namespace
 * (cowstore_ns_*); a regular file's data is a cowstore volume.
 *
 * Exports are kept in the pool (export.c): each is a directory of the
 * namespace with client rules in the manner of exports(5).  They are read
 * when the server starts and again by nfs_server_reload_exports.
 *
 * Threading: one event-loop thread (epoll) owns every socket, the export
 * set in use and the cowstore completion queue; data IO is asynchronous,
 * namespace calls run on the loop.  nfs_server_* functions are called from
 * one thread (the daemon's main), except nfs_server_reload_exports and
 * nfs_server_list_clients, which any thread may call.
 */
#ifndef SLATE_TARGET_NFS_H
#define SLATE_TARGET_NFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowstore/cowstore.h"

/* ---- exports (export.c) ------------------------------------------------ */

#define NFS_EXPORT_PATH_MAX 255u
#define NFS_EXPORT_MAX_CLIENTS 32u
#define NFS_MAX_EXPORTS 64u
#define NFS_SQUASH_NONE 0u
#define NFS_SQUASH_ROOT 1u
#define NFS_SQUASH_ALL 2u

struct nfs_client_rule {
	char pattern[64];      /* "*", an address, or ADDRESS/PREFIX */
	/* the pattern parsed (by nfs_client_rule_parse): family 0 for "*";
	 * else AF_INET or AF_INET6, the address and the prefix length */
	int family;
	uint8_t addr[16];
	unsigned prefix_bits;
	bool read_only;
	unsigned squash;       /* NFS_SQUASH_* */
	bool insecure;         /* accept source ports >= 1024 */
	uint32_t anon_uid, anon_gid;
};

struct nfs_export {
	uint32_t id;           /* in file handles; never reused in a pool */
	char path[NFS_EXPORT_PATH_MAX + 1]; /* "/demo", "/a/b" */
	uint32_t nrules;
	struct nfs_client_rule rules[NFS_EXPORT_MAX_CLIENTS];
};

/* Parse "CLIENT(opt,opt,...)" (exports(5) options rw ro root_squash
 * no_root_squash all_squash secure insecure anonuid=N anongid=N; defaults
 * rw, root_squash, secure, 65534/65534).  0 or -EINVAL with err set. */
int nfs_client_rule_parse(const char *text, struct nfs_client_rule *rule, char *err,
			  size_t errlen);
/* Format a rule back in the same syntax. */
void nfs_client_rule_format(const struct nfs_client_rule *rule, char *out, size_t len);

/* Add or replace the export of path (its directories are created when
 * missing); remove one; list them (*list malloc'ed, owned by the caller). */
int nfs_export_put(struct cowstore *cs, const char *path, const struct nfs_client_rule *rules,
		   uint32_t nrules, char *err, size_t errlen);
int nfs_export_remove(struct cowstore *cs, const char *path);
int nfs_export_list(struct cowstore *cs, struct nfs_export **list, size_t *count);
/* On a pool that never had an export: export /demo (read-write,
 * no_root_squash, insecure, to 127.0.0.1 and ::1).  *created says whether
 * it did; once a pool has had an export this never exports anything. */
int nfs_export_default(struct cowstore *cs, bool *created);
/* Resolve a path of the namespace ("/a/b") to its inode. */
int nfs_path_lookup(struct cowstore *cs, const char *path, struct cowstore_ns_attr *attr);

/* ---- the server (server.c) --------------------------------------------- */

struct nfs_server;
struct qos_stats;
struct qos_gate;

struct nfs_server_options {
	const char *address;   /* numeric IPv4 or IPv6 address */
	uint16_t port;         /* NFS and MOUNT; 0: any free port (tests) */
	/* The portmapper: when portmap is set, slated registers NFS and MOUNT
	 * with an rpcbind running on 127.0.0.1:111, or else listens on
	 * address:portmap_port itself. */
	bool portmap;
	uint16_t portmap_port; /* 0 picks 111 */
	size_t max_record;     /* largest call accepted; 0 picks 1 MiB + 4 KiB */
	/* IO statistics: every READ and WRITE that succeeds on a file's volume
	 * is recorded (bytes, latency from the call's arrival to its reply) on
	 * the stream of (client address, the file's volume).  NULL: none.
	 * Must outlive the server. */
	struct qos_stats *stats;
	/* QoS: READ and WRITE go through this gate (qos.h), shared with the
	 * iSCSI server.  NULL: none.  Must outlive the server. */
	struct qos_gate *gate;
};

int nfs_server_create(struct cowstore *cs, const struct nfs_server_options *opts,
		      struct nfs_server **out, char *err, size_t errlen);
/* Bind, register with rpcbind or answer the portmapper, start the loop. */
int nfs_server_start(struct nfs_server *srv, char *err, size_t errlen);
uint16_t nfs_server_port(const struct nfs_server *srv);
/* How the portmapper is served: "off", "rpcbind" or "own:PORT". */
const char *nfs_server_portmap_mode(const struct nfs_server *srv);
/* Re-read the exports from the pool (nfs_export_put/remove change them);
 * MOUNT and file-handle checks use the new set from the next call on.
 * Handles of a removed export answer NFS3ERR_STALE.  Any thread.
 * (The set is read in the calling thread, then swapped in by the event loop
 * between two calls; this returns once it is in use.  A client's rights are
 * judged on every call, so a changed rule applies to mounted clients too.
 * 0, or a negative errno with err set.) */
int nfs_server_reload_exports(struct nfs_server *srv, char *err, size_t errlen);

struct nfs_client_info {
	char address[64];          /* numeric, without port */
	uint16_t port;
	int64_t connected_unix_ns;
	int64_t last_call_unix_ns; /* 0: none yet */
	uint64_t calls;            /* RPC calls answered on this connection */
	uint32_t uid;              /* AUTH_SYS uid of the last call (UINT32_MAX: none) */
	uint32_t outstanding;      /* calls in progress now */
	uint32_t window;           /* calls admitted at once (nfs_server_set_client_window) */
};
/* Copy up to max connected clients (one per TCP connection) into out;
 * *count gets how many there are.  Any thread while the server runs.
 * (uid is that of the last call that carried AUTH_SYS credentials; calls
 * counts replies handed to the socket, outstanding the calls received and
 * not yet answered.  Portmapper connections are listed too.) */
int nfs_server_list_clients(struct nfs_server *srv, struct nfs_client_info *out, size_t max,
                            size_t *count);
/* The QoS lever: at most window calls of the client at address (numeric,
 * as nfs_client_info shows it) are admitted at once, split evenly over its
 * connections (each gets at least 1); beyond that its input is not read.
 * 0 restores the default (128 per connection).  Kept for the address, so
 * a client that connects later gets it too.  A larger window is used at
 * once; a smaller one as calls complete.  Any thread.  -EINVAL bad
 * address, -ENOSPC more than NFS_MAX_CLIENT_WINDOWS addresses set. */
#define NFS_MAX_CLIENT_WINDOWS 256u
int nfs_server_set_client_window(struct nfs_server *srv, const char *address, uint32_t window);
/* Stop serving (calls in flight finish), unregister, close sockets. */
void nfs_server_stop(struct nfs_server *srv);
void nfs_server_destroy(struct nfs_server *srv);

#endif
