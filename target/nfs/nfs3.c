/*
 * nfs3.c - NFS version 3 (RFC 1813): the dispatcher and the procedures on
 * names and attributes.  Data (READ, WRITE, COMMIT) is nfs3_io.c,
 * directory listings nfs3_dir.c.
 *
 * Every procedure decodes all of its arguments before acting, so bad XDR
 * is GARBAGE_ARGS and never a half-done change.  Namespace calls are
 * synchronous and durable when they return (cowstore_ns_*), which is what
 * RFC 1813 asks of every modifying procedure but WRITE.  A read-only export
 * answers NFS3ERR_ROFS to every change.
 */
#include <errno.h>
#include <string.h>

#include "target/nfs/nfs3.h"

enum nfsstat3 nfs3_resolve(struct nfs3_ctx *c, const struct nfs_fh *fh,
			   struct cowstore_ns_attr *attr)
{
	const struct nfs_export *exp = nfs_server_export(c->call->srv, fh->export_id);
	if (!exp)
		return NFS3ERR_STALE;
	const struct nfs_client_rule *rule = nfs_export_match(exp, nfs_call_peer(c->call));
	if (!rule)
		return NFS3ERR_ACCES;
	if (!c->exp) {
		c->exp = exp;
		c->rule = rule;
		nfs_cred_from_rpc(&c->cred, &c->call->rpc.cred, rule);
	}
	int rc = cowstore_ns_getattr(c->cs, fh->ino, fh->gen, attr);
	return rc == -ENOENT ? NFS3ERR_STALE : nfs3_status(rc);
}

/* The checks of every change in a directory: resolvable, a directory,
 * writable export, write and search permission. */
static enum nfsstat3 dir_for_change(struct nfs3_ctx *c, const struct nfs_fh *fh,
				    struct cowstore_ns_attr *dir, bool *have_dir)
{
	enum nfsstat3 st = nfs3_resolve(c, fh, dir);
	if (have_dir)
		*have_dir = st == NFS3_OK; /* *dir holds its attributes */
	if (st)
		return st;
	if (dir->type != COWSTORE_NS_DIR)
		return NFS3ERR_NOTDIR;
	if (c->rule->read_only)
		return NFS3ERR_ROFS;
	return nfs_access_check(&c->cred, dir, ACCESS3_MODIFY | ACCESS3_LOOKUP);
}

/* ---- attributes ----------------------------------------------------------- */

static enum nfs3_result proc_getattr(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr attr;
	enum nfsstat3 st;
	if (!nfs_fh_decode(c->in, &fh, &st) && c->in->err)
		return NFS3_GARBAGE;
	if (st == NFS3_OK)
		st = nfs3_resolve(c, &fh, &attr);
	xdr_put_u32(c->out, st);
	if (st == NFS3_OK)
		nfs3_put_fattr(c->out, &attr);
	return NFS3_DONE;
}

/* May cred make the changes in s to the inode? (chown(2)/chmod(2)/utimes(2)
 * rules; size needs write permission) */
static enum nfsstat3 setattr_allowed(const struct nfs_cred *cred,
				     const struct cowstore_ns_attr *attr, const struct nfs3_sattr *s)
{
	bool owner = cred->uid == 0 || cred->uid == attr->uid;
	unsigned m = s->mask;
	if ((m & COWSTORE_NS_SET_UID) && s->values.uid != attr->uid && cred->uid != 0)
		return NFS3ERR_PERM;
	if ((m & (COWSTORE_NS_SET_MODE | COWSTORE_NS_SET_GID | COWSTORE_NS_SET_ATIME |
		  COWSTORE_NS_SET_MTIME)) && !owner)
		return NFS3ERR_PERM;
	if ((m & COWSTORE_NS_SET_SIZE) && attr->type == COWSTORE_NS_DIR)
		return NFS3ERR_ISDIR;
	if ((m & COWSTORE_NS_SET_SIZE) && attr->type != COWSTORE_NS_REG)
		return NFS3ERR_INVAL;
	if ((m & COWSTORE_NS_SET_SIZE) && nfs_access_check(cred, attr, ACCESS3_MODIFY))
		return NFS3ERR_ACCES;
	if ((m & (COWSTORE_NS_SET_ATIME_NOW | COWSTORE_NS_SET_MTIME_NOW)) && !owner &&
	    nfs_access_bits(cred, attr, ACCESS3_MODIFY) == 0)
		return NFS3ERR_ACCES;
	return NFS3_OK;
}

static enum nfs3_result proc_setattr(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct nfs3_sattr s;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	nfs3_get_sattr(c->in, &s);
	int64_t guard_ns = 0;
	if (xdr_get_bool(c->in)) {
		uint32_t sec = xdr_get_u32(c->in), nsec = xdr_get_u32(c->in);
		guard_ns = (int64_t)sec * 1000000000 + nsec;
		if (guard_ns == 0)
			guard_ns = 1; /* a guard of time 0 never matches */
	}
	if (c->in->err)
		return NFS3_GARBAGE;
	struct cowstore_ns_attr before, after, *post = NULL;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &before);
	bool have_before = fh_ok && st == NFS3_OK;
	if (st == NFS3_OK && c->rule->read_only)
		st = NFS3ERR_ROFS;
	if (st == NFS3_OK)
		st = setattr_allowed(&c->cred, &before, &s);
	if (st == NFS3_OK && (s.mask & COWSTORE_NS_SET_SIZE))
		nfs_server_drain_io(c->call->srv); /* writes in flight land before the cut */
	if (st == NFS3_OK && s.mask)
		st = nfs3_status(cowstore_ns_setattr(c->cs, fh.ino, s.mask, &s.values, guard_ns,
						     &after));
	else if (st == NFS3_OK && guard_ns && guard_ns != before.ctime_ns)
		st = NFS3ERR_NOT_SYNC;
	else if (st == NFS3_OK)
		after = before;
	if (st == NFS3_OK)
		post = &after;
	else if (have_before && cowstore_ns_getattr(c->cs, fh.ino, fh.gen, &after) == 0)
		post = &after;
	xdr_put_u32(c->out, st);
	nfs3_put_wcc(c->out, have_before ? &before : NULL, post);
	return NFS3_DONE;
}

static enum nfs3_result proc_access(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr attr;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	uint32_t asked = xdr_get_u32(c->in);
	if (c->in->err)
		return NFS3_GARBAGE;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &attr);
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, st == NFS3_OK ? &attr : NULL);
	if (st == NFS3_OK) {
		uint32_t have = nfs_access_bits(&c->cred, &attr, asked);
		if (c->cred.uid == attr.uid && attr.type == COWSTORE_NS_REG)
			have |= asked & (ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND);
		if (c->rule->read_only)
			have &= ~(ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE);
		xdr_put_u32(c->out, have);
	}
	return NFS3_DONE;
}

/* ---- names ------------------------------------------------------------------ */

static enum nfs3_result proc_lookup(struct nfs3_ctx *c)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st))
		return NFS3_GARBAGE;
	struct cowstore_ns_attr dir, obj;
	bool have_dir = false;
	if (st != NFS3ERR_BADHANDLE) {
		enum nfsstat3 dst = nfs3_resolve(c, &dirfh, &dir);
		have_dir = dst == NFS3_OK;
		if (dst)
			st = dst;
	}
	if (st == NFS3_OK && dir.type != COWSTORE_NS_DIR)
		st = NFS3ERR_NOTDIR;
	if (st == NFS3_OK)
		st = nfs_access_check(&c->cred, &dir, ACCESS3_LOOKUP);
	if (st == NFS3_OK && !strcmp(name, "."))
		obj = dir;
	else if (st == NFS3_OK && !strcmp(name, "..")) {
		uint64_t parent;
		int rc = nfs_server_parent(c->call->srv, c->exp, dir.ino, &parent);
		st = nfs3_status(rc ? rc : cowstore_ns_getattr(c->cs, parent, 0, &obj));
	} else if (st == NFS3_OK)
		st = nfs3_status(cowstore_ns_lookup(c->cs, dir.ino, name, &obj));
	xdr_put_u32(c->out, st);
	if (st == NFS3_OK) {
		struct nfs_fh fh = { .export_id = dirfh.export_id, .ino = obj.ino, .gen = obj.gen };
		nfs_fh_encode(c->out, &fh);
		nfs3_put_post_attr(c->out, &obj);
	}
	nfs3_put_post_attr(c->out, have_dir ? &dir : NULL);
	return NFS3_DONE;
}

static enum nfs3_result proc_readlink(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr attr;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	if (c->in->err)
		return NFS3_GARBAGE;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &attr);
	bool have_attr = fh_ok && st == NFS3_OK;
	char target[COWSTORE_NS_PATH_MAX + 1];
	if (st == NFS3_OK)
		st = attr.type == COWSTORE_NS_LNK
			     ? nfs3_status(cowstore_ns_readlink(c->cs, fh.ino, target))
			     : NFS3ERR_INVAL;
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, have_attr ? &attr : NULL);
	if (st == NFS3_OK)
		xdr_put_string(c->out, target);
	return NFS3_DONE;
}

/* The common tail of CREATE, MKDIR, SYMLINK and MKNOD: make the inode and
 * answer diropres3 (post_op_fh3, post_op_attr, wcc_data of the directory). */
static void create_reply(struct nfs3_ctx *c, const struct nfs_fh *dirfh, const char *name,
			 const struct cowstore_ns_create *how, enum nfsstat3 st,
			 const struct nfs3_sattr *sattr, uint32_t createmode)
{
	struct cowstore_ns_attr before, obj, after;
	bool have_dir = false;
	if (st != NFS3ERR_BADHANDLE && st != NFS3ERR_NAMETOOLONG && st != NFS3ERR_INVAL) {
		st = dir_for_change(c, dirfh, &before, &have_dir);
	} else if (st != NFS3ERR_BADHANDLE) {
		have_dir = nfs3_resolve(c, dirfh, &before) == NFS3_OK;
	}
	struct cowstore_ns_create h = *how;
	if (c->exp) {
		h.uid = c->cred.uid;
		h.gid = c->cred.gid;
	}
	if (st == NFS3_OK && (!strcmp(name, ".") || !strcmp(name, "..")))
		st = NFS3ERR_EXIST;
	if (st == NFS3_OK) {
		int rc = cowstore_ns_create(c->cs, dirfh->ino, name, &h, &obj);
		if (rc == -EEXIST && createmode == NFS3_CREATE_EXCLUSIVE && obj.type == COWSTORE_NS_REG &&
		    obj.atime_ns / 1000000000 == how->atime_ns / 1000000000 &&
		    obj.mtime_ns / 1000000000 == how->mtime_ns / 1000000000)
			rc = 0; /* a retransmitted exclusive create */
		else if (rc == -EEXIST && createmode == NFS3_CREATE_UNCHECKED &&
			 obj.type == COWSTORE_NS_REG)
			rc = 0; /* UNCHECKED: the existing file, with the attributes set */
		if (rc == 0 && sattr && sattr->mask)
			rc = cowstore_ns_setattr(c->cs, obj.ino, sattr->mask, &sattr->values, 0, &obj);
		st = nfs3_status(rc);
	}
	bool have_after = have_dir && cowstore_ns_getattr(c->cs, dirfh->ino, 0, &after) == 0;
	xdr_put_u32(c->out, st);
	if (st == NFS3_OK) {
		nfs3_put_post_fh(c->out, dirfh->export_id, &obj);
		nfs3_put_post_attr(c->out, &obj);
	}
	nfs3_put_wcc(c->out, have_dir ? &before : NULL, have_after ? &after : NULL);
}

static enum nfs3_result proc_create(struct nfs3_ctx *c)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	struct nfs3_sattr s = { 0 };
	struct cowstore_ns_create how = { .type = COWSTORE_NS_REG, .mode = 0644 };
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st))
		return NFS3_GARBAGE;
	uint32_t mode = xdr_get_u32(c->in);
	uint32_t verf[2]; /* createverf3: 8 opaque bytes, read as two words */
	if (mode == NFS3_CREATE_EXCLUSIVE)
		verf[0] = xdr_get_u32(c->in), verf[1] = xdr_get_u32(c->in);
	else if (mode <= NFS3_CREATE_GUARDED)
		nfs3_get_sattr(c->in, &s);
	else
		c->in->err = true;
	if (c->in->err)
		return NFS3_GARBAGE;
	if (mode == NFS3_CREATE_EXCLUSIVE) {
		/* The verifier is kept in atime and mtime seconds until the
		 * client's SETATTR that follows an exclusive create. */
		how.mode = 0600;
		how.atime_ns = (int64_t)verf[0] * 1000000000;
		how.mtime_ns = (int64_t)verf[1] * 1000000000;
	} else if (s.mask & COWSTORE_NS_SET_MODE) {
		how.mode = s.values.mode;
		s.mask &= ~COWSTORE_NS_SET_MODE;
	}
	create_reply(c, &dirfh, name, &how, st, s.mask ? &s : NULL, mode);
	return NFS3_DONE;
}

/* sattr3's mode goes into the create; the rest is set after. */
static void take_mode(struct nfs3_sattr *s, struct cowstore_ns_create *how)
{
	if (s->mask & COWSTORE_NS_SET_MODE)
		how->mode = s->values.mode;
	s->mask &= ~(unsigned)COWSTORE_NS_SET_MODE;
}

static enum nfs3_result proc_mkdir(struct nfs3_ctx *c)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	struct nfs3_sattr s;
	struct cowstore_ns_create how = { .type = COWSTORE_NS_DIR, .mode = 0755 };
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st) || !nfs3_get_sattr(c->in, &s))
		return NFS3_GARBAGE;
	take_mode(&s, &how);
	create_reply(c, &dirfh, name, &how, st, s.mask ? &s : NULL, NFS3_CREATE_GUARDED);
	return NFS3_DONE;
}

static enum nfs3_result proc_symlink(struct nfs3_ctx *c)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF], target[COWSTORE_NS_PATH_MAX + 1];
	enum nfsstat3 st;
	struct nfs3_sattr s;
	struct cowstore_ns_create how = { .type = COWSTORE_NS_LNK, .mode = 0777, .symlink = target };
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st) || !nfs3_get_sattr(c->in, &s))
		return NFS3_GARBAGE;
	uint32_t len;
	const uint8_t *p = xdr_get_opaque(c->in, NFS3_NAME_WIRE_MAX * 2, &len);
	if (!p)
		return NFS3_GARBAGE;
	if (st == NFS3_OK && (len == 0 || memchr(p, 0, len)))
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK && len > COWSTORE_NS_PATH_MAX)
		st = NFS3ERR_NAMETOOLONG;
	memcpy(target, p, st == NFS3_OK ? len : 0);
	target[st == NFS3_OK ? len : 0] = 0;
	take_mode(&s, &how);
	s.mask &= ~(unsigned)COWSTORE_NS_SET_SIZE;
	create_reply(c, &dirfh, name, &how, st, s.mask ? &s : NULL, NFS3_CREATE_GUARDED);
	return NFS3_DONE;
}

static enum nfs3_result proc_mknod(struct nfs3_ctx *c)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	struct nfs3_sattr s = { 0 };
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st))
		return NFS3_GARBAGE;
	uint32_t type = xdr_get_u32(c->in);
	if (type == NF3CHR || type == NF3BLK || type == NF3SOCK || type == NF3FIFO)
		nfs3_get_sattr(c->in, &s);
	if (type == NF3CHR || type == NF3BLK) {
		xdr_get_u32(c->in); /* specdata3 */
		xdr_get_u32(c->in);
	}
	if (c->in->err || type < NF3REG || type > NF3FIFO)
		return NFS3_GARBAGE;
	if (st == NFS3_OK && (type == NF3CHR || type == NF3BLK))
		st = NFS3ERR_NOTSUPP; /* device nodes have no use on a VM datastore */
	else if (st == NFS3_OK && type != NF3SOCK && type != NF3FIFO)
		st = NFS3ERR_BADTYPE;
	struct cowstore_ns_create how = { .type = type, .mode = 0644 };
	take_mode(&s, &how);
	s.mask &= ~(unsigned)COWSTORE_NS_SET_SIZE;
	if (st != NFS3_OK && st != NFS3ERR_BADHANDLE) {
		/* answer with the directory's attributes but change nothing */
		struct cowstore_ns_attr dir;
		bool have = nfs3_resolve(c, &dirfh, &dir) == NFS3_OK;
		xdr_put_u32(c->out, st);
		nfs3_put_wcc(c->out, have ? &dir : NULL, have ? &dir : NULL);
		return NFS3_DONE;
	}
	create_reply(c, &dirfh, name, &how, st, s.mask ? &s : NULL, NFS3_CREATE_GUARDED);
	return NFS3_DONE;
}

/* REMOVE and RMDIR: status and the directory's wcc_data. */
static enum nfs3_result remove_name(struct nfs3_ctx *c, bool is_dir)
{
	struct nfs_fh dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	if (!nfs3_get_diropargs(c->in, &dirfh, name, &st))
		return NFS3_GARBAGE;
	struct cowstore_ns_attr before, after;
	bool have_dir = false;
	if (st != NFS3ERR_BADHANDLE) {
		enum nfsstat3 dst = dir_for_change(c, &dirfh, &before, &have_dir);
		if (dst)
			st = dst;
	}
	if (st == NFS3_OK && !strcmp(name, "."))
		st = NFS3ERR_INVAL;
	else if (st == NFS3_OK && !strcmp(name, ".."))
		st = is_dir ? NFS3ERR_NOTEMPTY : NFS3ERR_ISDIR;
	if (st == NFS3_OK)
		st = nfs3_status(cowstore_ns_remove(c->cs, dirfh.ino, name, is_dir));
	bool have_after = have_dir && cowstore_ns_getattr(c->cs, dirfh.ino, 0, &after) == 0;
	xdr_put_u32(c->out, st);
	nfs3_put_wcc(c->out, have_dir ? &before : NULL, have_after ? &after : NULL);
	return NFS3_DONE;
}

static enum nfs3_result proc_remove(struct nfs3_ctx *c)
{
	return remove_name(c, false);
}

static enum nfs3_result proc_rmdir(struct nfs3_ctx *c)
{
	return remove_name(c, true);
}

static enum nfs3_result proc_rename(struct nfs3_ctx *c)
{
	struct nfs_fh from, to;
	char from_name[NFS3_NAME_BUF], to_name[NFS3_NAME_BUF];
	enum nfsstat3 st, st2;
	if (!nfs3_get_diropargs(c->in, &from, from_name, &st) ||
	    !nfs3_get_diropargs(c->in, &to, to_name, &st2))
		return NFS3_GARBAGE;
	struct cowstore_ns_attr fb, fa, tb, ta;
	bool have_from = st != NFS3ERR_BADHANDLE && nfs3_resolve(c, &from, &fb) == NFS3_OK;
	bool have_to = st2 != NFS3ERR_BADHANDLE && nfs3_resolve(c, &to, &tb) == NFS3_OK;
	if (st == NFS3_OK)
		st = st2;
	if (st == NFS3_OK)
		st = dir_for_change(c, &from, &fb, NULL);
	if (st == NFS3_OK)
		st = dir_for_change(c, &to, &tb, NULL);
	if (st == NFS3_OK && (!strcmp(from_name, ".") || !strcmp(from_name, "..") ||
			      !strcmp(to_name, ".") || !strcmp(to_name, "..")))
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK)
		st = nfs3_status(cowstore_ns_rename(c->cs, from.ino, from_name, to.ino, to_name));
	have_from = have_from && cowstore_ns_getattr(c->cs, from.ino, 0, &fa) == 0;
	have_to = have_to && cowstore_ns_getattr(c->cs, to.ino, 0, &ta) == 0;
	xdr_put_u32(c->out, st);
	nfs3_put_wcc(c->out, have_from ? &fb : NULL, have_from ? &fa : NULL);
	nfs3_put_wcc(c->out, have_to ? &tb : NULL, have_to ? &ta : NULL);
	return NFS3_DONE;
}

static enum nfs3_result proc_link(struct nfs3_ctx *c)
{
	struct nfs_fh file, dirfh;
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st, st2;
	bool file_ok = nfs_fh_decode(c->in, &file, &st);
	if (c->in->err || !nfs3_get_diropargs(c->in, &dirfh, name, &st2))
		return NFS3_GARBAGE;
	struct cowstore_ns_attr obj, before, after;
	bool have_obj = file_ok && nfs3_resolve(c, &file, &obj) == NFS3_OK;
	if (st == NFS3_OK)
		st = have_obj ? st2 : nfs3_resolve(c, &file, &obj);
	bool have_dir = st2 != NFS3ERR_BADHANDLE && nfs3_resolve(c, &dirfh, &before) == NFS3_OK;
	if (st == NFS3_OK)
		st = dir_for_change(c, &dirfh, &before, NULL);
	if (st == NFS3_OK && obj.type == COWSTORE_NS_DIR)
		st = NFS3ERR_ISDIR;
	if (st == NFS3_OK && (!strcmp(name, ".") || !strcmp(name, "..")))
		st = NFS3ERR_EXIST;
	if (st == NFS3_OK)
		st = nfs3_status(cowstore_ns_link(c->cs, file.ino, dirfh.ino, name, &obj));
	have_obj = have_obj && cowstore_ns_getattr(c->cs, file.ino, 0, &obj) == 0;
	bool have_after = have_dir && cowstore_ns_getattr(c->cs, dirfh.ino, 0, &after) == 0;
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, have_obj ? &obj : NULL);
	nfs3_put_wcc(c->out, have_dir ? &before : NULL, have_after ? &after : NULL);
	return NFS3_DONE;
}

/* ---- the file system -------------------------------------------------------- */

/* GETATTR-like start of FSSTAT, FSINFO and PATHCONF: status, post_op_attr. */
static bool fs_start(struct nfs3_ctx *c, enum nfs3_result *result)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr attr;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	*result = NFS3_GARBAGE;
	if (c->in->err)
		return false;
	*result = NFS3_DONE;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &attr);
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, st == NFS3_OK ? &attr : NULL);
	return st == NFS3_OK;
}

static enum nfs3_result proc_fsstat(struct nfs3_ctx *c)
{
	enum nfs3_result r;
	if (!fs_start(c, &r))
		return r;
	struct cowstore_pool_info info;
	struct cowstore_ns_stat ns;
	if (cowstore_pool_info(c->cs, &info) < 0 || cowstore_ns_statfs(c->cs, &ns) < 0)
		memset(&info, 0, sizeof(info)), memset(&ns, 0, sizeof(ns));
	xdr_put_u64(c->out, info.capacity_bytes);
	xdr_put_u64(c->out, info.free_bytes);
	xdr_put_u64(c->out, info.free_bytes);
	xdr_put_u64(c->out, ns.max_files);
	xdr_put_u64(c->out, ns.max_files - ns.files);
	xdr_put_u64(c->out, ns.max_files - ns.files);
	xdr_put_u32(c->out, 0); /* invarsec: the figures change any time */
	return NFS3_DONE;
}

#define FSF3_LINK 0x1u
#define FSF3_SYMLINK 0x2u
#define FSF3_HOMOGENEOUS 0x8u
#define FSF3_CANSETTIME 0x10u

static enum nfs3_result proc_fsinfo(struct nfs3_ctx *c)
{
	enum nfs3_result r;
	if (!fs_start(c, &r))
		return r;
	xdr_put_u32(c->out, NFS_MAX_IO_BYTES); /* rtmax */
	xdr_put_u32(c->out, NFS_MAX_IO_BYTES); /* rtpref */
	xdr_put_u32(c->out, COWSTORE_BLOCK_SIZE); /* rtmult */
	xdr_put_u32(c->out, NFS_MAX_IO_BYTES); /* wtmax */
	xdr_put_u32(c->out, NFS_MAX_IO_BYTES); /* wtpref */
	xdr_put_u32(c->out, COWSTORE_BLOCK_SIZE); /* wtmult */
	xdr_put_u32(c->out, 64u << 10); /* dtpref */
	xdr_put_u64(c->out, COWSTORE_NS_MAX_FILE_BYTES);
	xdr_put_u32(c->out, 0); /* time_delta: 1 ns */
	xdr_put_u32(c->out, 1);
	xdr_put_u32(c->out, FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME);
	return NFS3_DONE;
}

static enum nfs3_result proc_pathconf(struct nfs3_ctx *c)
{
	enum nfs3_result r;
	if (!fs_start(c, &r))
		return r;
	xdr_put_u32(c->out, COWSTORE_NS_LINK_MAX);
	xdr_put_u32(c->out, COWSTORE_NS_NAME_MAX);
	xdr_put_bool(c->out, true);  /* no_trunc */
	xdr_put_bool(c->out, true);  /* chown_restricted */
	xdr_put_bool(c->out, false); /* case_insensitive */
	xdr_put_bool(c->out, true);  /* case_preserving */
	return NFS3_DONE;
}

static enum nfs3_result proc_null(struct nfs3_ctx *c)
{
	return NFS3_DONE;
}

/* ---- dispatch ----------------------------------------------------------------- */

static enum nfs3_result (*const procs[NFS3_NPROCS])(struct nfs3_ctx *) = {
	[NFS3_NULL] = proc_null,         [NFS3_GETATTR] = proc_getattr,
	[NFS3_SETATTR] = proc_setattr,   [NFS3_LOOKUP] = proc_lookup,
	[NFS3_ACCESS] = proc_access,     [NFS3_READLINK] = proc_readlink,
	[NFS3_READ] = nfs3_proc_read,    [NFS3_WRITE] = nfs3_proc_write,
	[NFS3_CREATE] = proc_create,     [NFS3_MKDIR] = proc_mkdir,
	[NFS3_SYMLINK] = proc_symlink,   [NFS3_MKNOD] = proc_mknod,
	[NFS3_REMOVE] = proc_remove,     [NFS3_RMDIR] = proc_rmdir,
	[NFS3_RENAME] = proc_rename,     [NFS3_LINK] = proc_link,
	[NFS3_READDIR] = nfs3_proc_readdir, [NFS3_READDIRPLUS] = nfs3_proc_readdirplus,
	[NFS3_FSSTAT] = proc_fsstat,     [NFS3_FSINFO] = proc_fsinfo,
	[NFS3_PATHCONF] = proc_pathconf, [NFS3_COMMIT] = nfs3_proc_commit,
};

void nfs3_dispatch(struct nfs_call *call)
{
	struct xdr_out *out = &call->reply;
	if (call->rpc.vers != NFS_V3) {
		rpc_reply_accepted(out, call->rpc.xid, RPC_PROG_MISMATCH, NFS_V3, NFS_V3);
		nfs_call_reply(call);
		return;
	}
	if (call->rpc.proc >= NFS3_NPROCS) {
		rpc_reply_accepted(out, call->rpc.xid, RPC_PROC_UNAVAIL, 0, 0);
		nfs_call_reply(call);
		return;
	}
	size_t mark = out->len;
	rpc_reply_accepted(out, call->rpc.xid, RPC_SUCCESS, 0, 0);
	struct nfs3_ctx ctx = { .call = call, .cs = call->srv->cs, .in = &call->rpc.args,
				.out = out };
	enum nfs3_result r = procs[call->rpc.proc](&ctx);
	if (r == NFS3_PENDING)
		return;
	if (r == NFS3_GARBAGE) {
		out->len = mark;
		rpc_reply_accepted(out, call->rpc.xid, RPC_GARBAGE_ARGS, 0, 0);
	}
	nfs_call_reply(call);
}
