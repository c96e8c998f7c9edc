/*
 * nfs3.h - what nfs3.c, nfs3_dir.c, nfs3_io.c and nfs3_xdr.c share:
 * the NFSv3 types' codecs and the per-call context of a procedure.
 * Private to target/nfs.
 */
#ifndef SLATE_NFS_NFS3_H
#define SLATE_NFS_NFS3_H

#include "target/nfs/internal.h"

/* A filename3 is decoded with up to this many bytes, so a too-long name
 * is answered NAMETOOLONG rather than GARBAGE_ARGS. */
#define NFS3_NAME_WIRE_MAX 4096u
#define NFS3_NAME_BUF (COWSTORE_NS_NAME_MAX + 1)

struct nfs3_sattr {
	unsigned mask;                     /* COWSTORE_NS_SET_* */
	struct cowstore_ns_attr values;
};

void nfs3_put_fattr(struct xdr_out *out, const struct cowstore_ns_attr *a);
void nfs3_put_post_attr(struct xdr_out *out, const struct cowstore_ns_attr *a); /* a may be NULL */
void nfs3_put_wcc(struct xdr_out *out, const struct cowstore_ns_attr *before,
		  const struct cowstore_ns_attr *after);
void nfs3_put_post_fh(struct xdr_out *out, uint32_t export_id, const struct cowstore_ns_attr *a);
bool nfs3_get_sattr(struct xdr_in *x, struct nfs3_sattr *s);
/* false on bad XDR; otherwise *status says whether the name is usable
 * (NAMETOOLONG, INVAL for "", '/' or NUL). */
bool nfs3_get_name(struct xdr_in *x, char name[NFS3_NAME_BUF], enum nfsstat3 *status);
/* A directory handle and a name; *status is the first problem of the two. */
bool nfs3_get_diropargs(struct xdr_in *x, struct nfs_fh *dir, char name[NFS3_NAME_BUF],
			enum nfsstat3 *status);

/* A procedure's view of its call: the export and rule its handle selects
 * and the squashed caller. */
struct nfs3_ctx {
	struct nfs_call *call;
	struct cowstore *cs;
	struct xdr_in *in;
	struct xdr_out *out;
	const struct nfs_export *exp;
	const struct nfs_client_rule *rule;
	struct nfs_cred cred;
};

/* What a procedure did with its call. */
enum nfs3_result {
	NFS3_DONE,     /* results are in out; reply now */
	NFS3_GARBAGE,  /* arguments did not decode: GARBAGE_ARGS */
	NFS3_PENDING,  /* IO submitted; the completion replies */
};

/* Resolve a handle for the caller: export known and admitting the client
 * (else STALE / ACCES), inode alive with that generation (else STALE).
 * Fills ctx->exp, rule and cred the first time. */
enum nfsstat3 nfs3_resolve(struct nfs3_ctx *c, const struct nfs_fh *fh,
			   struct cowstore_ns_attr *attr);

enum nfs3_result nfs3_proc_read(struct nfs3_ctx *c);
enum nfs3_result nfs3_proc_write(struct nfs3_ctx *c);
enum nfs3_result nfs3_proc_commit(struct nfs3_ctx *c);
enum nfs3_result nfs3_proc_readdir(struct nfs3_ctx *c);
enum nfs3_result nfs3_proc_readdirplus(struct nfs3_ctx *c);

#endif
