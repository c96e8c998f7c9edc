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
		if (e->kind == BLK_DATA)
			o->pblock = e->pblock + (b - e->lba);
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
	l->e[l->n++] = *e;
	return 0;
}

/* The part [from, to) of e, as a new extent in layer. */
static struct extent extent_slice(const struct extent *e, uint64_t layer, uint64_t from,
				  uint64_t to)
{
	struct extent s = *e;
	s.layer = layer;
	s.lba = from;
	s.nblocks = to - from;
	if (e->kind == BLK_DATA)
		s.pblock = e->pblock + (from - e->lba);
	return s;
}

/* Old mapping [from, to) of e leaves the head: keep it for the newest
 * snapshot if that snapshot can see it, else drop the reference. */
static int release_slice(struct cowstore *cs, struct vol *v,
			 const struct extent *e, uint64_t from, uint64_t to)
{
	struct snap *newest = vol_newest_snap(v);
	if (newest && e->birth <= newest->gen) {
		struct extent s = extent_slice(e, newest->id, from, to);
		return extent_put(cs, &s);
	}
	if (e->kind == BLK_DATA)
		return alloc_unref(&cs->alloc, e->pblock + (from - e->lba), to - from);
	return 0;
}

/* Length of the run of map[i, limit) that fits one extent: same kind and,
 * for data, contiguous blocks (the caller keeps limit within one chunk). */
static uint64_t run_length(const struct blk *map, uint64_t i, uint64_t limit)
{
	uint64_t len = 1;
	while (i + len < limit && map[i + len].kind == map[i].kind &&
	       (map[i].kind != BLK_DATA || map[i + len].pblock == map[i].pblock + len))
		len++;
	return len;
}

static bool can_merge(const struct extent *left, const struct extent *right)
{
	if (left->kind != right->kind || left->birth != right->birth ||
	    left->lba + left->nblocks != right->lba ||
	    left->lba / MAX_EXTENT_BLOCKS != (right->lba + right->nblocks - 1) / MAX_EXTENT_BLOCKS)
		return false;
	return left->kind == BLK_ZERO || left->pblock + left->nblocks == right->pblock;
}

/* Put new extent ne, merged into *left when they join (left is updated). */
static int put_merged(struct cowstore *cs, struct extent *left, bool *have_left,
		      const struct extent *ne)
{
	int rc = 0;
	if (*have_left && can_merge(left, ne)) {
		left->nblocks += ne->nblocks;
		return 0;
	}
	if (*have_left)
		rc = extent_put(cs, left);
	*left = *ne;
	*have_left = true;
	return rc;
}

/* The head extent ending at lba becomes *left, deleted from the batch: it
 * is put back, grown or not, when the new extents are in. */
static int find_left_neighbour(struct cowstore *cs, struct vol *v, uint64_t lba,
			       struct extent *left, bool *have_left)
{
	*have_left = headmap_get_ending(&v->map, v->id, lba, left) == 0;
	return *have_left ? extent_delete(cs, left) : 0;
}

/* Take the old mappings of [lba, end) out of the head. */
static int remove_old(struct cowstore *cs, struct vol *v, uint64_t lba, uint64_t end,
		      struct extent *left, bool *have_left)
{
	struct extent_list old = { 0 };
	int rc = layer_scan(cs, v->id, lba, end - lba, collect_extent, &old);
	for (size_t i = 0; !rc && i < old.n; i++) {
		struct extent *e = &old.e[i];
		uint64_t e_end = e->lba + e->nblocks;
		rc = extent_delete(cs, e);
		if (!rc && e->lba < lba) { /* the left remainder stays and may merge */
			*left = extent_slice(e, v->id, e->lba, lba);
			*have_left = true;
		}
		if (!rc && e_end > end) {
			struct extent s = extent_slice(e, v->id, end, e_end);
			rc = extent_put(cs, &s);
		}
		if (!rc)
			rc = release_slice(cs, v, e, e->lba > lba ? e->lba : lba,
					   e_end < end ? e_end : end);
	}
	free(old.e);
	return rc;
}

int head_replace(struct cowstore *cs, struct vol *v, uint64_t lba, uint64_t n,
		 const struct blk *newmap, uint8_t uniform_kind)
{
	struct extent left = { 0 };
	bool have_left = false;
	int rc = remove_old(cs, v, lba, lba + n, &left, &have_left);

	if (!rc && !have_left)
		rc = find_left_neighbour(cs, v, lba, &left, &have_left);
	for (uint64_t i = 0; !rc && i < n;) {
		struct extent ne = { .layer = v->id, .lba = lba + i, .birth = v->cur_gen };
		uint64_t room = MAX_EXTENT_BLOCKS - (lba + i) % MAX_EXTENT_BLOCKS;
		uint64_t limit = n - i < room ? n : i + room;
		if (newmap) {
			ne.nblocks = run_length(newmap, i, limit);
			ne.kind = newmap[i].kind;
			ne.pblock = newmap[i].pblock;
		} else {
			ne.nblocks = limit - i;
			ne.kind = uniform_kind;
		}
		i += ne.nblocks;
		if (ne.kind != BLK_NONE)
			rc = put_merged(cs, &left, &have_left, &ne);
	}
	if (!rc && have_left)
		rc = extent_put(cs, &left);
	return rc;
}
