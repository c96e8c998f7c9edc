/*
 * fh.c - NFS file handles: what a client holds to name a file.
 *
 * Layout (20 bytes, big-endian): version byte 1, three zero bytes, export
 * id (u32), inode number (u64), generation (u32).  The export id selects
 * the client rules that apply; the generation makes a handle of a removed
 * inode, or one from another pool, answer NFS3ERR_STALE.  Handles do not
 * change across restarts because nothing in them does.
 */
#include <string.h>

#include "target/nfs/internal.h"

#define FH_VERSION 1u

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void nfs_fh_encode(struct xdr_out *out, const struct nfs_fh *fh)
{
	uint8_t b[NFS_FH_BYTES] = { FH_VERSION };
	put_be32(b + 4, fh->export_id);
	put_be32(b + 8, (uint32_t)(fh->ino >> 32));
	put_be32(b + 12, (uint32_t)fh->ino);
	put_be32(b + 16, fh->gen);
	xdr_put_opaque(out, b, sizeof(b));
}

bool nfs_fh_decode(struct xdr_in *x, struct nfs_fh *fh, enum nfsstat3 *status)
{
	uint32_t len;
	const uint8_t *b = xdr_get_opaque(x, NFS3_FHSIZE, &len);
	*status = NFS3ERR_BADHANDLE;
	if (!b)
		return false;
	if (len != NFS_FH_BYTES || b[0] != FH_VERSION || b[1] || b[2] || b[3])
		return false;
	fh->export_id = get_be32(b + 4);
	fh->ino = (uint64_t)get_be32(b + 8) << 32 | get_be32(b + 12);
	fh->gen = get_be32(b + 16);
	if (fh->ino == 0)
		return false;
	*status = NFS3_OK;
	return true;
}
