/*
 * alloc.c - data-file block allocation and reference counts.
 *
 * Nothing here is persisted: at open the pool scans every extent and counts
 * references (pool.c), so allocation state can never disagree with the
 * metadata after a crash.  A block's first reference is its bit in the
 * bitmap; further references (shared by extent-sharing copies) live in a
 * small hash table, which is empty for volumes that never shared.
 *
 * Invariant: a block whose last reference is dropped stays marked used on
 * the pending list until a sync has made the metadata that dropped it
 * durable; only then can it be handed out again (otherwise a crash could
 * leave durable metadata pointing at overwritten data).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

static bool bit_get(const uint64_t *bm, uint64_t i)
{
	return (bm[i >> 6] >> (i & 63)) & 1;
}
static void bit_set(uint64_t *bm, uint64_t i) { bm[i >> 6] |= 1ull << (i & 63); }
static void bit_clear(uint64_t *bm, uint64_t i) { bm[i >> 6] &= ~(1ull << (i & 63)); }

int alloc_init(struct alloc *a, uint64_t nblocks)
{
	memset(a, 0, sizeof(*a));
	a->nblocks = nblocks;
	a->bitmap = calloc((nblocks + 63) / 64 + 1, sizeof(uint64_t));
	if (!a->bitmap)
		return -ENOMEM;
	/* Keep 1/256 of the pool (at least 64 blocks) for overwrites that free
	 * as much as they take, so a full pool still accepts them. */
	a->reserve = nblocks / 256 > 64 ? nblocks / 256 : 64;
	if (a->reserve > nblocks / 2)
		a->reserve = nblocks / 2;
	return 0;
}

void alloc_destroy(struct alloc *a)
{
	free(a->bitmap);
	free(a->extra_keys);
	free(a->extra_refs);
	free(a->pending);
	memset(a, 0, sizeof(*a));
}

/* ---- extra references: open addressing with linear probing ----------- */

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static int64_t extra_find(const struct alloc *a, uint64_t pblock)
{
	if (!a->extra_cap)
		return -1;
	uint64_t mask = a->extra_cap - 1;
	for (uint64_t i = hash64(pblock) & mask;; i = (i + 1) & mask) {
		if (a->extra_keys[i] == 0)
			return -1;
		if (a->extra_keys[i] == pblock + 1)
			return (int64_t)i;
	}
}

static int extra_grow(struct alloc *a)
{
	uint64_t cap = a->extra_cap ? a->extra_cap * 2 : 1024;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *refs = calloc(cap, sizeof(*refs));
	if (!keys || !refs) {
		free(keys);
		free(refs);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < a->extra_cap; i++) {
		if (!a->extra_keys[i])
			continue;
		uint64_t j = hash64(a->extra_keys[i] - 1) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = a->extra_keys[i];
		refs[j] = a->extra_refs[i];
	}
	free(a->extra_keys);
	free(a->extra_refs);
	a->extra_keys = keys;
	a->extra_refs = refs;
	a->extra_cap = cap;
	return 0;
}

static int extra_inc(struct alloc *a, uint64_t pblock)
{
	int64_t at = extra_find(a, pblock);
	if (at >= 0) {
		a->extra_refs[at]++;
		return 0;
	}
	if ((a->extra_count + 1) * 2 > a->extra_cap) {
		int rc = extra_grow(a);
		if (rc)
			return rc;
	}
	uint64_t mask = a->extra_cap - 1, i = hash64(pblock) & mask;
	while (a->extra_keys[i])
		i = (i + 1) & mask;
	a->extra_keys[i] = pblock + 1;
	a->extra_refs[i] = 1;
	a->extra_count++;
	return 0;
}

/* Remove slot i, shifting later members of its probe run back. */
static void extra_remove_slot(struct alloc *a, uint64_t i)
{
	uint64_t mask = a->extra_cap - 1;
	a->extra_keys[i] = 0;
	a->extra_count--;
	for (uint64_t j = (i + 1) & mask; a->extra_keys[j]; j = (j + 1) & mask) {
		uint64_t home = hash64(a->extra_keys[j] - 1) & mask;
		/* move j into the hole i when its home is not in (i, j] */
		bool in_between = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
		if (in_between)
			continue;
		a->extra_keys[i] = a->extra_keys[j];
		a->extra_refs[i] = a->extra_refs[j];
		a->extra_keys[j] = 0;
		i = j;
	}
}

/* ---- references ------------------------------------------------------ */

int alloc_ref(struct alloc *a, uint64_t pblock, uint64_t n)
{
	if (pblock + n > a->nblocks || pblock + n < pblock)
		return -EINVAL;
	for (uint64_t b = pblock; b < pblock + n; b++) {
		if (!bit_get(a->bitmap, b)) {
			bit_set(a->bitmap, b);
			a->used++;
		} else {
			int rc = extra_inc(a, b);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int pending_add(struct alloc *a, uint64_t b)
{
	a->pending_blocks++;
	if (a->npending > a->sealed &&
	    a->pending[a->npending - 1].start + a->pending[a->npending - 1].count == b) {
		a->pending[a->npending - 1].count++;
		return 0;
	}
	if (a->npending == a->pending_cap) {
		size_t cap = a->pending_cap ? a->pending_cap * 2 : 256;
		struct run *p = realloc(a->pending, cap * sizeof(*p));
		if (!p) {
			a->pending_blocks--;
			return -ENOMEM;
		}
		a->pending = p;
		a->pending_cap = cap;
	}
	a->pending[a->npending++] = (struct run){ b, 1 };
	return 0;
}

int alloc_unref(struct alloc *a, uint64_t pblock, uint64_t n)
{
	if (pblock + n > a->nblocks || pblock + n < pblock)
		return -EINVAL;
	for (uint64_t b = pblock; b < pblock + n; b++) {
		int64_t at = extra_find(a, b);
		if (at >= 0) {
			if (--a->extra_refs[at] == 0)
				extra_remove_slot(a, (uint64_t)at);
			continue;
		}
		if (!bit_get(a->bitmap, b))
			return -EUCLEAN; /* unreferencing a free block: a bug */
		int rc = pending_add(a, b);
		if (rc)
			return rc;
	}
	return 0;
}

uint32_t alloc_refcount(const struct alloc *a, uint64_t pblock)
{
	if (pblock >= a->nblocks || !bit_get(a->bitmap, pblock))
		return 0;
	int64_t at = extra_find(a, pblock);
	return 1 + (at >= 0 ? a->extra_refs[at] : 0);
}

void alloc_release_pending(struct alloc *a, size_t n)
{
	for (size_t i = 0; i < n && i < a->npending; i++) {
		alloc_put(a, a->pending[i].start, a->pending[i].count);
		a->pending_blocks -= a->pending[i].count;
	}
	a->sealed = a->sealed > n ? a->sealed - n : 0;
	if (n >= a->npending) {
		a->npending = 0;
		return;
	}
	memmove(a->pending, a->pending + n, (a->npending - n) * sizeof(*a->pending));
	a->npending -= n;
}

/* ---- allocation ------------------------------------------------------ */

uint64_t alloc_free_blocks(const struct alloc *a) { return a->nblocks - a->used; }

/* First free block at or after from, or nblocks. */
static uint64_t next_free(const struct alloc *a, uint64_t from)
{
	uint64_t words = (a->nblocks + 63) / 64;
	uint64_t w = from >> 6;
	if (w >= words)
		return a->nblocks;
	uint64_t bits = ~a->bitmap[w] & (~0ull << (from & 63));
	while (!bits) {
		if (++w >= words)
			return a->nblocks;
		bits = ~a->bitmap[w];
	}
	uint64_t b = (w << 6) + (uint64_t)__builtin_ctzll(bits);
	return b < a->nblocks ? b : a->nblocks;
}

void alloc_get(struct alloc *a, uint64_t want, bool use_reserve, uint64_t *start,
	       uint64_t *got)
{
	*got = 0;
	uint64_t avail = alloc_free_blocks(a);
	if (!use_reserve)
		avail = avail > a->reserve ? avail - a->reserve : 0;
	if (!avail || !want)
		return;
	if (want > avail)
		want = avail;
	uint64_t b = next_free(a, a->cursor);
	if (b >= a->nblocks)
		b = next_free(a, 0);
	if (b >= a->nblocks)
		return;
	uint64_t n = 0;
	while (n < want && b + n < a->nblocks && !bit_get(a->bitmap, b + n)) {
		bit_set(a->bitmap, b + n);
		n++;
	}
	a->used += n;
	a->cursor = b + n;
	*start = b;
	*got = n;
}

/* Freed blocks are handed out again before untouched ones (the cursor goes
 * back to them): the data file stays as small as the data, and rewrites
 * reuse blocks the file system (or tmpfs) already holds instead of making
 * it allocate, and zero, new ones. */
void alloc_put(struct alloc *a, uint64_t start, uint64_t n)
{
	if (n && start < a->cursor)
		a->cursor = start;
	for (uint64_t b = start; b < start + n; b++) {
		if (bit_get(a->bitmap, b)) {
			bit_clear(a->bitmap, b);
			a->used--;
		}
	}
}

/* ---- tallies: which blocks a set of mappings alone holds ---------------- */

int tally_add(struct tally *t, uint64_t pblock, uint64_t n)
{
	if (t->n + n > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->n + n)
			cap *= 2;
		uint64_t *p = realloc(t->blocks, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->blocks = p;
		t->cap = cap;
	}
	for (uint64_t i = 0; i < n; i++)
		t->blocks[t->n++] = pblock + i;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t tally_unique(struct tally *t, const struct alloc *a)
{
	uint64_t unique = 0;
	if (!t->n)
		return 0;
	qsort(t->blocks, t->n, sizeof(*t->blocks), cmp_u64);
	for (size_t i = 0; i < t->n;) {
		size_t j = i + 1;
		while (j < t->n && t->blocks[j] == t->blocks[i])
			j++;
		unique += alloc_refcount(a, t->blocks[i]) == j - i;
		i = j;
	}
	return unique;
}

void tally_free(struct tally *t)
{
	free(t->blocks);
	memset(t, 0, sizeof(*t));
}
