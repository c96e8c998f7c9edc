/*
 * mount.c - the MOUNT protocol, version 3 (RFC 1813 section 5): how a
 * client turns an export's path into its first file handle.
 *
 * MNT accepts an export's path or any directory below it (the export with
 * the longest matching path decides the rules).  DUMP reports the mounts
 * made since the server started (kept in memory, at most MOUNT_LIST_MAX,
 * as a hint: RFC 1813 calls the list advisory); UMNT and UMNTALL remove
 * them.  EXPORT lists every export with its client patterns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/internal.h"

enum { MOUNT_NULL, MOUNT_MNT, MOUNT_DUMP, MOUNT_UMNT, MOUNT_UMNTALL, MOUNT_EXPORT,
       MOUNT_NPROCS };

/* The client's address as DUMP reports it. */
static void peer_name(const struct nfs_call *call, char *out, size_t len)
{
	const struct sockaddr_storage *ss = nfs_call_peer(call);
	const void *addr = ss->ss_family == AF_INET
				   ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
				   : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!inet_ntop(ss->ss_family, addr, out, (socklen_t)len))
		snprintf(out, len, "unknown");
}

/* The export whose path is the longest prefix (at a '/') of path. */
static const struct nfs_export *export_of(const struct nfs_server *srv, const char *path)
{
	const struct nfs_export *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < srv->nexports; i++) {
		const struct nfs_export *e = &srv->exports[i];
		size_t n = strlen(e->path);
		bool under = n == 1 || (!strncmp(path, e->path, n) && (!path[n] || path[n] == '/'));
		if (under && n >= best_len) {
			best = e;
			best_len = n;
		}
	}
	return best;
}

static void remember_mount(struct nfs_server *srv, const char *host, const char *path)
{
	for (size_t i = 0; i < srv->nmounts; i++)
		if (!strcmp(srv->mounts[i].host, host) && !strcmp(srv->mounts[i].path, path))
			return;
	if (srv->nmounts == NFS_MOUNT_LIST_MAX)
		return;
	struct nfs_mount_entry *m = &srv->mounts[srv->nmounts++];
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->path, sizeof(m->path), "%s", path);
}

static void forget_mounts(struct nfs_server *srv, const char *host, const char *path)
{
	size_t kept = 0;
	for (size_t i = 0; i < srv->nmounts; i++) {
		struct nfs_mount_entry *m = &srv->mounts[i];
		if (!strcmp(m->host, host) && (!path || !strcmp(m->path, path)))
			continue;
		srv->mounts[kept++] = *m;
	}
	srv->nmounts = kept;
}

static enum mountstat3 mnt(struct nfs_call *call, const char *path, struct nfs_fh *fh)
{
	const struct nfs_export *exp = export_of(call->srv, path);
	if (!exp)
		return MNT3ERR_NOENT;
	if (!nfs_export_match(exp, nfs_call_peer(call)))
		return MNT3ERR_ACCES;
	struct cowstore_ns_attr attr;
	int rc = nfs_path_lookup(call->srv->cs, path, &attr);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return rc == -ENOENT ? MNT3ERR_NOENT : MNT3ERR_NOTDIR;
	if (rc == -ENAMETOOLONG)
		return MNT3ERR_NAMETOOLONG;
	if (rc < 0)
		return MNT3ERR_IO;
	if (attr.type != COWSTORE_NS_DIR)
		return MNT3ERR_NOTDIR;
	*fh = (struct nfs_fh){ .export_id = exp->id, .ino = attr.ino, .gen = attr.gen };
	return MNT3_OK;
}

/* MNT and UMNT take a dirpath; false when it does not decode. */
static bool get_dirpath(struct nfs_call *call, char path[MNTPATHLEN + 1])
{
	return xdr_get_string(&call->rpc.args, path, MNTPATHLEN) && !call->rpc.args.err;
}

static void proc_mnt(struct nfs_call *call, struct xdr_out *out, const char *path,
		     const char *host)
{
	struct nfs_fh fh;
	enum mountstat3 st = strlen(path) > NFS_EXPORT_PATH_MAX ? MNT3ERR_NAMETOOLONG
								 : mnt(call, path, &fh);
	xdr_put_u32(out, st);
	if (st != MNT3_OK)
		return;
	nfs_fh_encode(out, &fh);
	xdr_put_u32(out, 1); /* auth_flavors<>: AUTH_SYS */
	xdr_put_u32(out, RPC_AUTH_SYS);
	remember_mount(call->srv, host, path);
}

static void proc_dump(struct nfs_call *call, struct xdr_out *out)
{
	const struct nfs_server *srv = call->srv;
	for (size_t i = 0; i < srv->nmounts; i++) {
		xdr_put_bool(out, true);
		xdr_put_string(out, srv->mounts[i].host);
		xdr_put_string(out, srv->mounts[i].path);
	}
	xdr_put_bool(out, false);
}

static void proc_export(struct nfs_call *call, struct xdr_out *out)
{
	const struct nfs_server *srv = call->srv;
	for (size_t i = 0; i < srv->nexports; i++) {
		const struct nfs_export *e = &srv->exports[i];
		xdr_put_bool(out, true);
		xdr_put_string(out, e->path);
		for (uint32_t r = 0; r < e->nrules; r++) {
			xdr_put_bool(out, true);
			xdr_put_string(out, e->rules[r].pattern);
		}
		xdr_put_bool(out, false);
	}
	xdr_put_bool(out, false);
}

void mount_dispatch(struct nfs_call *call)
{
	struct xdr_out *out = &call->reply;
	uint32_t xid = call->rpc.xid;
	char path[MNTPATHLEN + 1], host[INET6_ADDRSTRLEN];
	if (call->rpc.vers != MOUNT_V3) {
		rpc_reply_accepted(out, xid, RPC_PROG_MISMATCH, MOUNT_V3, MOUNT_V3);
	} else if (call->rpc.proc >= MOUNT_NPROCS) {
		rpc_reply_accepted(out, xid, RPC_PROC_UNAVAIL, 0, 0);
	} else if ((call->rpc.proc == MOUNT_MNT || call->rpc.proc == MOUNT_UMNT) &&
		   !get_dirpath(call, path)) {
		rpc_reply_accepted(out, xid, RPC_GARBAGE_ARGS, 0, 0);
	} else {
		rpc_reply_accepted(out, xid, RPC_SUCCESS, 0, 0);
		peer_name(call, host, sizeof(host));
		switch (call->rpc.proc) {
		case MOUNT_MNT:
			proc_mnt(call, out, path, host);
			break;
		case MOUNT_DUMP:
			proc_dump(call, out);
			break;
		case MOUNT_UMNT:
			forget_mounts(call->srv, host, path);
			break;
		case MOUNT_UMNTALL:
			forget_mounts(call->srv, host, NULL);
			break;
		case MOUNT_EXPORT:
			proc_export(call, out);
			break;
		}
	}
	nfs_call_reply(call);
}
