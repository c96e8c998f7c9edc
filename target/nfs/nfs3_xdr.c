/*
 * nfs3_xdr.c - the NFSv3 types shared by many procedures (RFC 1813 section
 * 2.5-2.6): fattr3, post_op_attr, wcc_data, post_op_fh3, sattr3, file
 * names, and errno to nfsstat3.
 *
 * fsid is one constant: the whole namespace is one file system (hard links
 * and renames cross exports), as the client must see for LINK and RENAME.
 */
#include <errno.h>
#include <string.h>

#include "target/nfs/nfs3.h"

#define NFS_FSID 0x51a7e0000001ull

static void put_time(struct xdr_out *out, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	xdr_put_u32(out, (uint32_t)(ns / 1000000000));
	xdr_put_u32(out, (uint32_t)(ns % 1000000000));
}

void nfs3_put_fattr(struct xdr_out *out, const struct cowstore_ns_attr *a)
{
	xdr_put_u32(out, a->type);
	xdr_put_u32(out, a->mode & 07777);
	xdr_put_u32(out, a->nlink);
	xdr_put_u32(out, a->uid);
	xdr_put_u32(out, a->gid);
	xdr_put_u64(out, a->size_bytes);
	xdr_put_u64(out, a->used_bytes);
	xdr_put_u64(out, 0); /* rdev */
	xdr_put_u64(out, NFS_FSID);
	xdr_put_u64(out, a->ino);
	put_time(out, a->atime_ns);
	put_time(out, a->mtime_ns);
	put_time(out, a->ctime_ns);
}

void nfs3_put_post_attr(struct xdr_out *out, const struct cowstore_ns_attr *a)
{
	xdr_put_bool(out, a != NULL);
	if (a)
		nfs3_put_fattr(out, a);
}

void nfs3_put_wcc(struct xdr_out *out, const struct cowstore_ns_attr *before,
		  const struct cowstore_ns_attr *after)
{
	xdr_put_bool(out, before != NULL);
	if (before) {
		xdr_put_u64(out, before->size_bytes);
		put_time(out, before->mtime_ns);
		put_time(out, before->ctime_ns);
	}
	nfs3_put_post_attr(out, after);
}

void nfs3_put_post_fh(struct xdr_out *out, uint32_t export_id, const struct cowstore_ns_attr *a)
{
	xdr_put_bool(out, a != NULL);
	if (a) {
		struct nfs_fh fh = { .export_id = export_id, .ino = a->ino, .gen = a->gen };
		nfs_fh_encode(out, &fh);
	}
}

static int64_t get_time(struct xdr_in *x)
{
	int64_t sec = xdr_get_u32(x);
	uint32_t nsec = xdr_get_u32(x);
	if (nsec >= 1000000000u)
		x->err = true;
	return sec * 1000000000 + nsec;
}

/* time_how: DONT_CHANGE, SET_TO_SERVER_TIME, SET_TO_CLIENT_TIME. */
static void get_set_time(struct xdr_in *x, struct nfs3_sattr *s, unsigned now_bit,
			 unsigned set_bit, int64_t *ns)
{
	switch (xdr_get_u32(x)) {
	case 0:
		break;
	case 1:
		s->mask |= now_bit;
		break;
	case 2:
		s->mask |= set_bit;
		*ns = get_time(x);
		break;
	default:
		x->err = true;
	}
}

bool nfs3_get_sattr(struct xdr_in *x, struct nfs3_sattr *s)
{
	memset(s, 0, sizeof(*s));
	if (xdr_get_bool(x))
		s->mask |= COWSTORE_NS_SET_MODE, s->values.mode = xdr_get_u32(x) & 07777;
	if (xdr_get_bool(x))
		s->mask |= COWSTORE_NS_SET_UID, s->values.uid = xdr_get_u32(x);
	if (xdr_get_bool(x))
		s->mask |= COWSTORE_NS_SET_GID, s->values.gid = xdr_get_u32(x);
	if (xdr_get_bool(x))
		s->mask |= COWSTORE_NS_SET_SIZE, s->values.size_bytes = xdr_get_u64(x);
	get_set_time(x, s, COWSTORE_NS_SET_ATIME_NOW, COWSTORE_NS_SET_ATIME, &s->values.atime_ns);
	get_set_time(x, s, COWSTORE_NS_SET_MTIME_NOW, COWSTORE_NS_SET_MTIME, &s->values.mtime_ns);
	return !x->err;
}

bool nfs3_get_name(struct xdr_in *x, char name[NFS3_NAME_BUF], enum nfsstat3 *status)
{
	uint32_t len;
	const uint8_t *p = xdr_get_opaque(x, NFS3_NAME_WIRE_MAX, &len);
	*status = NFS3_OK;
	if (!p)
		return false;
	if (len > COWSTORE_NS_NAME_MAX) {
		*status = NFS3ERR_NAMETOOLONG;
		len = 0;
	} else if (len == 0 || memchr(p, '/', len) || memchr(p, 0, len)) {
		*status = NFS3ERR_INVAL;
	}
	memcpy(name, p, len);
	name[len] = 0;
	return true;
}

bool nfs3_get_diropargs(struct xdr_in *x, struct nfs_fh *dir, char name[NFS3_NAME_BUF],
			enum nfsstat3 *status)
{
	enum nfsstat3 name_status;
	bool fh_ok = nfs_fh_decode(x, dir, status);
	if (!nfs3_get_name(x, name, &name_status))
		return false;
	if (fh_ok)
		*status = name_status;
	return !x->err;
}

enum nfsstat3 nfs3_status(int err)
{
	switch (err) {
	case 0: return NFS3_OK;
	case -EPERM: return NFS3ERR_PERM;
	case -ENOENT: return NFS3ERR_NOENT;
	case -EACCES: return NFS3ERR_ACCES;
	case -EEXIST: return NFS3ERR_EXIST;
	case -EXDEV: return NFS3ERR_XDEV;
	case -ENOTDIR: return NFS3ERR_NOTDIR;
	case -EISDIR: return NFS3ERR_ISDIR;
	case -EINVAL: return NFS3ERR_INVAL;
	case -EFBIG: return NFS3ERR_FBIG;
	case -ENOSPC: return NFS3ERR_NOSPC;
	case -EROFS: return NFS3ERR_ROFS;
	case -EMLINK: return NFS3ERR_MLINK;
	case -ENAMETOOLONG: return NFS3ERR_NAMETOOLONG;
	case -ENOTEMPTY: return NFS3ERR_NOTEMPTY;
	case -EDQUOT: return NFS3ERR_DQUOT;
	case -ESTALE: return NFS3ERR_STALE;
	case -EAGAIN: return NFS3ERR_NOT_SYNC;
	case -EOPNOTSUPP: return NFS3ERR_NOTSUPP;
	default: return NFS3ERR_IO;
	}
}
