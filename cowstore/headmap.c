/*
 * headmap.c - the in-memory copy of each volume head's extent map.
 *
 * Every read and write of a head needs its mappings, so heads are kept in
 * memory and RocksDB is only written, never read, on the IO path (snapshot
 * layers, read rarely, stay in RocksDB only).  The copy is exact: it is
 * loaded at open from the same scan that rebuilds allocation, and every
 * extent_put/extent_delete on a head layer changes both (write-through).
 *
 * Snapshots' maps (the mappings saved into them) use the same structure.
 * A checkpoint writes each dirty chunk of a layer as one 'H' record.
 *
 * Layout: the volume is cut into chunks of MAX_EXTENT_BLOCKS blocks; an
 * extent never crosses a chunk boundary, so each chunk is a small sorted
 * array and finding a block's extent is an index plus a short search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

struct mext {
	uint16_t off; /* first block within the chunk */
	uint16_t len;
	uint8_t kind;
	uint64_t pblock;
	uint64_t birth;
};

struct mchunk {
	uint32_t n, cap;
	struct mext e[];
};

static uint64_t chunk_of(uint64_t block) { return block / MAX_EXTENT_BLOCKS; }

void headmap_free(struct headmap *m)
{
	for (uint64_t c = 0; c < m->nchunks; c++)
		free(m->chunks[c]);
	free(m->chunks);
	free(m->dirty);
	memset(m, 0, sizeof(*m));
}

static void mark_dirty(struct headmap *m, uint64_t c)
{
	m->dirty[c / 64] |= 1ull << (c % 64);
}

static struct extent to_extent(uint64_t layer, uint64_t c, const struct mext *x)
{
	return (struct extent){ .layer = layer, .lba = c * MAX_EXTENT_BLOCKS + x->off,
				.nblocks = x->len, .birth = x->birth, .kind = x->kind,
				.pblock = x->pblock };
}

/* Index of the first extent of chunk k ending after off. */
static uint32_t first_ending_after(const struct mchunk *k, uint32_t off)
{
	uint32_t lo = 0, hi = k->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if ((uint32_t)k->e[mid].off + k->e[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow_chunks(struct headmap *m, uint64_t need)
{
	if (need <= m->nchunks)
		return 0;
	uint64_t cap = m->nchunks ? m->nchunks : 16;
	while (cap < need)
		cap *= 2;
	struct mchunk **p = realloc(m->chunks, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + m->nchunks, 0, (cap - m->nchunks) * sizeof(*p));
	m->chunks = p;
	uint64_t old_words = (m->nchunks + 63) / 64, words = (cap + 63) / 64;
	uint64_t *d = realloc(m->dirty, words * sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d + old_words, 0, (words - old_words) * sizeof(*d));
	m->dirty = d;
	m->nchunks = cap;
	return 0;
}

int headmap_put(struct headmap *m, const struct extent *e)
{
	uint64_t c = chunk_of(e->lba);
	if (!e->nblocks || chunk_of(e->lba + e->nblocks - 1) != c)
		return -EUCLEAN; /* crosses a chunk: not a valid extent */
	int rc = grow_chunks(m, c + 1);
	if (rc)
		return rc;
	struct mchunk *k = m->chunks[c];
	if (!k || k->n == k->cap) {
		uint32_t cap = k ? k->cap * 2 : 4;
		struct mchunk *nk = realloc(k, sizeof(*k) + cap * sizeof(k->e[0]));
		if (!nk)
			return -ENOMEM;
		if (!k)
			nk->n = 0;
		nk->cap = cap;
		m->chunks[c] = k = nk;
	}
	struct mext x = { (uint16_t)(e->lba % MAX_EXTENT_BLOCKS), (uint16_t)e->nblocks, e->kind,
			  e->pblock, e->birth };
	uint32_t at = first_ending_after(k, x.off);
	if (at < k->n && k->e[at].off < x.off + x.len)
		return -EUCLEAN; /* overlaps a mapping that was not deleted first */
	memmove(&k->e[at + 1], &k->e[at], (k->n - at) * sizeof(k->e[0]));
	k->e[at] = x;
	k->n++;
	m->nextents++;
	mark_dirty(m, c);
	return 0;
}

int headmap_delete(struct headmap *m, const struct extent *e)
{
	uint64_t c = chunk_of(e->lba);
	struct mchunk *k = c < m->nchunks ? m->chunks[c] : NULL;
	uint32_t off = (uint32_t)(e->lba % MAX_EXTENT_BLOCKS);
	uint32_t at = k ? first_ending_after(k, off) : 0;
	if (!k || at == k->n || k->e[at].off != off || k->e[at].len != e->nblocks)
		return -EUCLEAN;
	memmove(&k->e[at], &k->e[at + 1], (k->n - at - 1) * sizeof(k->e[0]));
	k->n--;
	m->nextents--;
	mark_dirty(m, c);
	return 0;
}

int headmap_get_ending(const struct headmap *m, uint64_t layer, uint64_t end,
		       struct extent *out)
{
	if (end == 0)
		return -ENOENT;
	uint64_t c = chunk_of(end - 1);
	const struct mchunk *k = c < m->nchunks ? m->chunks[c] : NULL;
	uint32_t off = (uint32_t)((end - 1) % MAX_EXTENT_BLOCKS);
	uint32_t at = k ? first_ending_after(k, off) : 0;
	if (!k || at == k->n || (uint32_t)k->e[at].off + k->e[at].len != off + 1)
		return -ENOENT;
	*out = to_extent(layer, c, &k->e[at]);
	return 0;
}

/* Calls fn for each extent overlapping [lba, lba+n).  The extents are
 * copied out first, so fn may change the map. */
int headmap_scan(const struct headmap *m, uint64_t layer, uint64_t lba, uint64_t n,
		 extent_fn fn, void *arg)
{
	uint64_t end = lba + n < lba ? UINT64_MAX : lba + n;
	uint64_t last = chunk_of(end - 1) + 1;
	struct extent small[16], *list = small;
	size_t count = 0, cap = 16;
	int rc = 0;

	if (last > m->nchunks)
		last = m->nchunks;
	for (uint64_t c = chunk_of(lba); c < last && !rc; c++) {
		const struct mchunk *k = m->chunks[c];
		uint32_t from = c == chunk_of(lba) ? (uint32_t)(lba % MAX_EXTENT_BLOCKS) : 0;
		for (uint32_t i = k ? first_ending_after(k, from) : 0; k && i < k->n; i++) {
			struct extent e = to_extent(layer, c, &k->e[i]);
			if (e.lba >= end)
				break;
			if (count == cap) {
				struct extent *p = malloc(2 * cap * sizeof(*p));
				if (!p) {
					rc = -ENOMEM;
					break;
				}
				memcpy(p, list, count * sizeof(*p));
				if (list != small)
					free(list);
				list = p;
				cap *= 2;
			}
			list[count++] = e;
		}
	}
	for (size_t j = 0; j < count && !rc; j++)
		rc = fn(arg, &list[j]);
	if (list != small)
		free(list);
	return rc < 0 ? rc : 0;
}

/* ---- checkpoint records ------------------------------------------------
 * A chunk record: per extent, off and len-1 (one byte each), kind, then
 * varints pblock and birth. */

#define CHUNK_RECORD_MAX (MAX_EXTENT_BLOCKS * (3 + 10 + 10))

int headmap_flush_dirty(struct headmap *m, uint64_t layer, rocksdb_writebatch_t *wb)
{
	uint8_t *val = malloc(CHUNK_RECORD_MAX);
	if (!val)
		return -ENOMEM;
	for (uint64_t w = 0; w < (m->nchunks + 63) / 64; w++) {
		while (m->dirty[w]) {
			uint64_t c = w * 64 + (uint64_t)__builtin_ctzll(m->dirty[w]);
			m->dirty[w] &= m->dirty[w] - 1;
			const struct mchunk *k = c < m->nchunks ? m->chunks[c] : NULL;
			size_t len = 0;
			for (uint32_t i = 0; k && i < k->n; i++) {
				val[len++] = (uint8_t)k->e[i].off;
				val[len++] = (uint8_t)(k->e[i].len - 1);
				val[len++] = k->e[i].kind;
				len += put_varint(val + len, k->e[i].pblock);
				len += put_varint(val + len, k->e[i].birth);
			}
			chunk_record_put(wb, layer, c, val, len);
		}
	}
	free(val);
	return 0;
}

int headmap_load_chunk(struct headmap *m, uint64_t layer, uint64_t chunk, const uint8_t *val,
		       size_t len)
{
	while (len) {
		struct extent e = { .layer = layer };
		if (len < 3)
			return -EUCLEAN;
		e.lba = chunk * MAX_EXTENT_BLOCKS + val[0];
		e.nblocks = (uint64_t)val[1] + 1;
		e.kind = val[2];
		val += 3;
		len -= 3;
		if (!get_varint(&val, &len, &e.pblock) || !get_varint(&val, &len, &e.birth) ||
		    (e.kind != BLK_DATA && e.kind != BLK_ZERO))
			return -EUCLEAN;
		int rc = headmap_put(m, &e);
		if (rc)
			return rc;
	}
	return 0;
}
