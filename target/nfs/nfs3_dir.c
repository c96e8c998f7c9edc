/*
 * nfs3_dir.c - READDIR and READDIRPLUS: a directory's entries in pieces
 * that fit the client's byte counts.
 *
 * Cookies are cowstore's: stable for as long as an entry lives, and a
 * cookie whose entry was removed still positions the walk, so a listing
 * survives concurrent changes.  "." and ".." come first with cookies 1 and
 * 2.  The cookie verifier is derived from the directory's inode and
 * generation: a cookie presented with another directory's verifier (or a
 * made-up one) is NFS3ERR_BAD_COOKIE; an all-zero verifier is accepted, as
 * RFC 1813 lets a client send one with any cookie it got in this listing.
 */
#include <stdlib.h>
#include <string.h>

#include "target/nfs/nfs3.h"

#define FATTR3_BYTES 84u
#define ENTRY_FIXED_BYTES (4u + 8u + 4u + 8u)                 /* follows, fileid, len, cookie */
#define ENTRY_PLUS_BYTES (4u + FATTR3_BYTES + 4u + 4u + NFS_FH_BYTES)
#define RESOK_FIXED_BYTES (4u + 4u + FATTR3_BYTES + NFS3_COOKIEVERFSIZE + 4u + 4u)

struct dir_entry {
	char *name;
	uint64_t ino;
	uint64_t cookie;
};

struct dir_walk {
	struct dir_entry *items;
	size_t count, cap;
	size_t used, budget;       /* reply bytes (maxcount / count) */
	size_t dir_used, dir_budget; /* READDIRPLUS's dircount: names, ids, cookies */
	bool plus;
	bool full;                 /* stopped for room: not at the end */
};

static size_t name_bytes(const char *name)
{
	return (strlen(name) + 3) & ~(size_t)3;
}

static int add_entry(struct dir_walk *w, const char *name, uint64_t ino, uint64_t cookie)
{
	size_t dir_need = ENTRY_FIXED_BYTES + name_bytes(name);
	size_t need = dir_need + (w->plus ? ENTRY_PLUS_BYTES : 0);
	if (w->used + need > w->budget || (w->plus && w->dir_used + dir_need > w->dir_budget)) {
		w->full = true;
		return 1;
	}
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct dir_entry *grown = realloc(w->items, cap * sizeof(*grown));
		if (!grown)
			return -1;
		w->items = grown;
		w->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -1;
	w->items[w->count++] = (struct dir_entry){ copy, ino, cookie };
	w->used += need;
	w->dir_used += dir_need;
	return 0;
}

static int collect(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	return add_entry(arg, name, ino, cookie);
}

static void walk_free(struct dir_walk *w)
{
	for (size_t i = 0; i < w->count; i++)
		free(w->items[i].name);
	free(w->items);
}

static void dir_verifier(const struct cowstore_ns_attr *dir, uint8_t verf[8])
{
	uint64_t v = dir->ino * 0x9e3779b97f4a7c15ull ^ dir->gen;
	for (int i = 0; i < 8; i++)
		verf[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Collect the entries after cookie; NFS3_OK, TOOSMALL or IO. */
static enum nfsstat3 walk(struct nfs3_ctx *c, const struct cowstore_ns_attr *dir,
			  uint64_t cookie, struct dir_walk *w)
{
	uint64_t parent = dir->ino;
	int rc = 0;
	if (cookie == 0)
		rc = add_entry(w, ".", dir->ino, 1);
	if (rc == 0 && cookie <= 1 &&
	    nfs_server_parent(c->call->srv, c->exp, dir->ino, &parent) == 0)
		rc = add_entry(w, "..", parent, 2);
	if (rc == 0)
		rc = cowstore_ns_readdir(c->cs, dir->ino, cookie <= 2 ? 0 : cookie, collect, w);
	if (rc < 0)
		return NFS3ERR_IO;
	if (w->count == 0 && w->full)
		return NFS3ERR_TOOSMALL;
	return NFS3_OK;
}

static enum nfs3_result readdir_common(struct nfs3_ctx *c, bool plus)
{
	struct nfs_fh fh;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	uint64_t cookie = xdr_get_u64(c->in);
	const uint8_t *verf = xdr_get_fixed(c->in, NFS3_COOKIEVERFSIZE);
	uint32_t dircount = plus ? xdr_get_u32(c->in) : 0;
	uint32_t count = xdr_get_u32(c->in);
	if (c->in->err)
		return NFS3_GARBAGE;
	struct cowstore_ns_attr dir;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &dir);
	bool have_dir = fh_ok && st == NFS3_OK;
	if (st == NFS3_OK && dir.type != COWSTORE_NS_DIR)
		st = NFS3ERR_NOTDIR;
	if (st == NFS3_OK)
		st = nfs_access_check(&c->cred, &dir, ACCESS3_READ);
	uint8_t want[8], zero[8] = { 0 };
	if (have_dir)
		dir_verifier(&dir, want);
	if (st == NFS3_OK && cookie && memcmp(verf, zero, 8) && memcmp(verf, want, 8))
		st = NFS3ERR_BAD_COOKIE;
	if (count > NFS_MAX_IO_BYTES)
		count = NFS_MAX_IO_BYTES;
	struct dir_walk w = { .plus = plus, .budget = count > RESOK_FIXED_BYTES ?
				      count - RESOK_FIXED_BYTES : 0, .dir_budget = dircount };
	if (st == NFS3_OK)
		st = walk(c, &dir, cookie, &w);
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, have_dir ? &dir : NULL);
	if (st == NFS3_OK) {
		xdr_put_fixed(c->out, want, sizeof(want));
		for (size_t i = 0; i < w.count; i++) {
			const struct dir_entry *e = &w.items[i];
			xdr_put_bool(c->out, true);
			xdr_put_u64(c->out, e->ino);
			xdr_put_string(c->out, e->name);
			xdr_put_u64(c->out, e->cookie);
			if (!plus)
				continue;
			struct cowstore_ns_attr attr;
			bool ok = cowstore_ns_getattr(c->cs, e->ino, 0, &attr) == 0;
			nfs3_put_post_attr(c->out, ok ? &attr : NULL);
			nfs3_put_post_fh(c->out, fh.export_id, ok ? &attr : NULL);
		}
		xdr_put_bool(c->out, false);
		xdr_put_bool(c->out, !w.full);
	}
	walk_free(&w);
	return NFS3_DONE;
}

enum nfs3_result nfs3_proc_readdir(struct nfs3_ctx *c)
{
	return readdir_common(c, false);
}

enum nfs3_result nfs3_proc_readdirplus(struct nfs3_ctx *c)
{
	return readdir_common(c, true);
}
