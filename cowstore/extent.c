/*
 * extent.c - reading and changing the extent maps of volumes and snapshots.
 *
 * view_resolve() answers "what does this volume or snapshot show for these
 * blocks" by walking the layers described in internal.h; head_replace() is
 * the one place where a volume head's mappings change, and so the one place
 * that moves old mappings into the newest snapshot or unreferences them.
 * Both take block ranges; callers bound them by the volume size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

#define BLK_FALL 3 /* resolve only: decided "not mapped here", ask the parent */

uint8_t vol_zero_kind(const struct vol *v)
{
	return v->parent ? BLK_ZERO : BLK_NONE;
}

/* ---- resolving ------------------------------------------------------- */

struct fill_ctx {
	uint64_t lba, n, gen;
	struct blk *out;
	uint64_t *unresolved;
};

static int fill_from_extent(void *arg, const struct extent *e)
{
	struct fill_ctx *c = arg;
	uint64_t from = e->lba > c->lba ? e->lba : c->lba;
	uint64_t to = e->lba + e->nblocks < c->lba + c->n ? e->lba + e->nblocks : c->lba + c->n;

	for (uint64_t b = from; b < to; b++) {
		struct blk *o = &c->out[b - c->lba];
		if (o->kind != BLK_NONE)
			continue;
		(*c->unresolved)--;
		if (e->birth > c->gen) {
			o->kind = BLK_FALL;
			continue;
		}
		o->kind = e->kind;
		o->layer = e->layer;
		if (e->kind == BLK_DATA) {
			o->pblock = e->pblock + (b - e->lba);
			o->crc = e->crcs[b - e->lba];
		}
	}
	return *c->unresolved == 0;
}

/* Fill the BLK_NONE entries of out[] from v's lineage as seen from snap
 * (NULL: the head), then from v's parent; what is left reads zeros. */
static int resolve_lineage(struct cowstore *cs, struct vol *v, struct snap *snap,
			   uint64_t lba, uint64_t n, struct blk *out, uint64_t unresolved)
{
	struct fill_ctx c = { lba, n, snap ? snap->gen : UINT64_MAX, out, &unresolved };
	uint32_t first = v->nsnaps;

	if (snap) {
		for (first = 0; first < v->nsnaps && v->snaps[first] != snap; first++)
			;
		if (first == v->nsnaps)
			return -ENOENT;
	}
	for (uint32_t i = first; i <= v->nsnaps && unresolved; i++) {
		uint64_t layer = i < v->nsnaps ? v->snaps[i]->id : v->id;
		int rc = layer_scan(cs, layer, lba, n, fill_from_extent, &c);
		if (rc)
			return rc;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (out[i].kind == BLK_FALL) {
			out[i].kind = BLK_NONE;
			unresolved++;
		}
	}
	if (!unresolved)
		return 0;
	if (v->parent) {
		uint64_t parent_blocks =
			(v->parent->size_bytes + COWSTORE_BLOCK_SIZE - 1) / COWSTORE_BLOCK_SIZE;
		for (uint64_t i = 0; i < n; i++) {
			if (out[i].kind == BLK_NONE && lba + i >= parent_blocks) {
				out[i].kind = BLK_ZERO;
				unresolved--;
			}
		}
		if (unresolved)
			return resolve_lineage(cs, v->parent->vol, v->parent, lba, n, out,
					       unresolved);
		return 0;
	}
	for (uint64_t i = 0; i < n; i++)
		if (out[i].kind == BLK_NONE)
			out[i].kind = BLK_ZERO;
	return 0;
}

int view_resolve(struct cowstore *cs, struct vol *v, struct snap *snap, uint64_t lba,
		 uint64_t n, struct blk *out)
{
	memset(out, 0, n * sizeof(*out));
	return resolve_lineage(cs, v, snap, lba, n, out, n);
}

/* ---- changing a head ------------------------------------------------- */

struct extent_list {
	struct extent *e;
	size_t n, cap;
};

static void extent_list_free(struct extent_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		extent_free(&l->e[i]);
	free(l->e);
}

static int extent_copy(struct extent *dst, const struct extent *src)
{
	*dst = *src;
	dst->crcs = NULL;
	if (src->kind == BLK_DATA) {
		dst->crcs = malloc(src->nblocks * sizeof(uint32_t));
		if (!dst->crcs)
			return -ENOMEM;
		memcpy(dst->crcs, src->crcs, src->nblocks * sizeof(uint32_t));
	}
	return 0;
}

static int collect_extent(void *arg, const struct extent *e)
{
	struct extent_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct extent *p = realloc(l->e, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->e = p;
		l->cap = cap;
	}
	int rc = extent_copy(&l->e[l->n], e);
	if (rc)
		return rc;
	l->n++;
	return 0;
}

/* The part [from, to) of e, as a new extent in layer (crcs borrowed). */
static struct extent extent_slice(const struct extent *e, uint64_t layer, uint64_t from,
				  uint64_t to)
{
	struct extent s = *e;
	s.layer = layer;
	s.lba = from;
	s.nblocks = to - from;
	if (e->kind == BLK_DATA) {
		s.pblock = e->pblock + (from - e->lba);
		s.crcs = e->crcs + (from - e->lba);
	}
	return s;
}

/* Old mapping [from, to) of e leaves the head: keep it for the newest
 * snapshot if that snapshot can see it, else drop the reference. */
static int release_slice(struct cowstore *cs, rocksdb_writebatch_t *wb, struct vol *v,
			 const struct extent *e, uint64_t from, uint64_t to)
{
	struct snap *newest = vol_newest_snap(v);
	if (newest && e->birth <= newest->gen) {
		struct extent s = extent_slice(e, newest->id, from, to);
		extent_put(wb, &s);
		return 0;
	}
	if (e->kind == BLK_DATA)
		return alloc_unref(&cs->alloc, e->pblock + (from - e->lba), to - from);
	return 0;
}

/* Length of the run of newmap starting at i that fits one extent. */
static uint64_t run_length(const struct blk *map, uint64_t i, uint64_t n)
{
	uint64_t len = 1;
	while (i + len < n && map[i + len].kind == map[i].kind) {
		if (map[i].kind == BLK_DATA &&
		    (len == MAX_EXTENT_BLOCKS || map[i + len].pblock != map[i].pblock + len))
			break;
		len++;
	}
	return len;
}

static bool can_merge(const struct extent *left, const struct extent *right)
{
	if (left->kind != right->kind || left->birth != right->birth ||
	    left->lba + left->nblocks != right->lba)
		return false;
	if (left->kind == BLK_ZERO)
		return true;
	return left->pblock + left->nblocks == right->pblock &&
	       left->nblocks + right->nblocks <= MAX_EXTENT_BLOCKS;
}

/* Put new extent ne, merged into *left when they join (left is updated). */
static int put_merged(rocksdb_writebatch_t *wb, struct extent *left, bool *have_left,
		      const struct extent *ne)
{
	if (*have_left && can_merge(left, ne)) {
		if (ne->kind == BLK_DATA) {
			uint32_t *crcs = realloc(left->crcs, (left->nblocks + ne->nblocks) * 4);
			if (!crcs)
				return -ENOMEM;
			memcpy(crcs + left->nblocks, ne->crcs, ne->nblocks * 4);
			left->crcs = crcs;
		}
		left->nblocks += ne->nblocks;
		return 0;
	}
	if (*have_left)
		extent_put(wb, left);
	extent_free(left);
	int rc = extent_copy(left, ne);
	*have_left = rc == 0;
	return rc;
}

static int find_left_neighbour(struct cowstore *cs, struct vol *v, uint64_t lba,
			       struct extent *left, bool *have_left)
{
	struct extent_list l = { 0 };
	*have_left = false;
	if (lba == 0)
		return 0;
	int rc = layer_scan(cs, v->id, lba - 1, 1, collect_extent, &l);
	if (!rc && l.n == 1 && l.e[0].lba + l.e[0].nblocks == lba) {
		*left = l.e[0];
		l.n = 0; /* ownership of crcs moves to *left */
		*have_left = true;
	}
	extent_list_free(&l);
	return rc;
}

int head_replace(struct cowstore *cs, rocksdb_writebatch_t *wb, struct vol *v, uint64_t lba,
		 uint64_t n, const struct blk *newmap, uint8_t uniform_kind)
{
	struct extent_list old = { 0 };
	struct extent left = { 0 };
	bool have_left = false;
	uint64_t end = lba + n;
	int rc = layer_scan(cs, v->id, lba, n, collect_extent, &old);

	for (size_t i = 0; !rc && i < old.n; i++) {
		struct extent *e = &old.e[i];
		uint64_t e_end = e->lba + e->nblocks;
		extent_delete(wb, v->id, e->lba);
		if (e->lba < lba) { /* the left remainder stays and may merge */
			struct extent s = extent_slice(e, v->id, e->lba, lba);
			rc = extent_copy(&left, &s);
			have_left = rc == 0;
		}
		if (!rc && e_end > end) {
			struct extent s = extent_slice(e, v->id, end, e_end);
			extent_put(wb, &s);
		}
		if (!rc)
			rc = release_slice(cs, wb, v, e, e->lba > lba ? e->lba : lba,
					   e_end < end ? e_end : end);
	}
	if (!rc && !have_left)
		rc = find_left_neighbour(cs, v, lba, &left, &have_left);
	for (uint64_t i = 0; !rc && i < n;) {
		struct extent ne = { .layer = v->id, .lba = lba + i, .birth = v->cur_gen };
		uint32_t crcs[MAX_EXTENT_BLOCKS];
		if (newmap) {
			ne.nblocks = run_length(newmap, i, n);
			ne.kind = newmap[i].kind;
			ne.pblock = newmap[i].pblock;
			for (uint64_t j = 0; ne.kind == BLK_DATA && j < ne.nblocks; j++)
				crcs[j] = newmap[i + j].crc;
			ne.crcs = crcs;
		} else {
			ne.nblocks = n;
			ne.kind = uniform_kind;
		}
		i += ne.nblocks;
		if (ne.kind != BLK_NONE)
			rc = put_merged(wb, &left, &have_left, &ne);
	}
	if (!rc && have_left)
		extent_put(wb, &left);
	extent_free(&left);
	extent_list_free(&old);
	return rc;
}
