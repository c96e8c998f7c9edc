/*
 * io.c - the data paths: read, write, write-zeroes/discard, extent-sharing
 * copy and flush, as small state machines driven by io_uring completions on
 * the store thread.
 *
 * Writes never overwrite a block in place: data goes to freshly allocated
 * blocks, then head_replace() and one journal transaction make the whole
 * request visible at once (atomic even when it is read-modify-write).  Every block
 * carries a CRC32C (ISA-L, seed ~0) checked on every read: a mismatch fails
 * the read with -EIO and names the sector, never returns wrong data.
 */
#include <errno.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

enum phase {
	PHASE_READ,      /* reading blocks for the caller */
	PHASE_RMW_READ,  /* reading the partial edge blocks of a write */
	PHASE_WRITE,     /* writing new blocks */
	PHASE_COPY_READ, /* reading the source of an unaligned copy */
};

static uint32_t block_crc(const void *block)
{
	return crc32_iscsi((unsigned char *)block, COWSTORE_BLOCK_SIZE, 0xffffffffu);
}

static bool is_aligned(uint64_t lba, uint64_t nsectors)
{
	return lba % SECTORS_PER_BLOCK == 0 && nsectors % SECTORS_PER_BLOCK == 0;
}

void io_set_locks(struct cowstore_io_state *st)
{
	struct cowstore_io *io = st->io;
	if (io->op == COWSTORE_OP_FLUSH)
		return;
	st->lock_id = io->snapshot_id ? io->snapshot_id : io->volume_id;
	st->b0 = sector_to_block(io->lba);
	st->b1 = sector_end_block(io->lba, io->nsectors);
	st->writer = io->op != COWSTORE_OP_READ;
	if (io->op == COWSTORE_OP_COPY) {
		st->src_lock_id = io->src_volume_id;
		st->src_b0 = sector_to_block(io->src_lba);
		st->src_b1 = sector_end_block(io->src_lba, io->nsectors);
	}
}

/* ---- submitting block reads and writes ------------------------------- */

static void queue_rw(struct cowstore *cs, struct cowstore_io_state *st, bool write,
		     uint8_t *buf, uint64_t pblock, uint64_t nblocks)
{
	struct io_uring_sqe *sqe = get_sqe(cs);
	if (write)
		io_uring_prep_write(sqe, cs->data_fd, buf, (unsigned)(nblocks << BLOCK_SHIFT),
				    pblock << BLOCK_SHIFT);
	else
		io_uring_prep_read(sqe, cs->data_fd, buf, (unsigned)(nblocks << BLOCK_SHIFT),
				   pblock << BLOCK_SHIFT);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)st);
	st->pending++;
	st->expect_bytes += nblocks << BLOCK_SHIFT;
}

/* Read the DATA blocks of map[first, last) into dst (block i at dst + i*4K,
 * counted from first); zero blocks are cleared. */
static void read_blocks(struct cowstore *cs, struct cowstore_io_state *st, uint8_t *dst,
			uint64_t first, uint64_t last)
{
	for (uint64_t i = first; i < last;) {
		uint8_t *at = dst + ((i - first) << BLOCK_SHIFT);
		if (st->map[i].kind != BLK_DATA) {
			memset(at, 0, COWSTORE_BLOCK_SIZE);
			i++;
			continue;
		}
		uint64_t len = 1;
		while (i + len < last && st->map[i + len].kind == BLK_DATA &&
		       st->map[i + len].pblock == st->map[i].pblock + len && len < 256)
			len++;
		queue_rw(cs, st, false, at, st->map[i].pblock, len);
		i += len;
	}
}

/* Verify map[first, last) read into buf; on a bad block report and fail. */
static int verify_blocks(struct cowstore *cs, struct cowstore_io_state *st, const uint8_t *buf,
			 uint64_t first, uint64_t last, uint64_t map_b0)
{
	for (uint64_t i = first; i < last; i++) {
		const struct blk *b = &st->map[i];
		if (b->kind != BLK_DATA ||
		    block_crc(buf + ((i - first) << BLOCK_SHIFT)) == cs->crcmap[b->pblock])
			continue;
		uint64_t lba = (map_b0 + i) * SECTORS_PER_BLOCK;
		st->io->error_lba = lba > st->io->lba ? lba : st->io->lba;
		emit_event(cs, COWSTORE_EVENT_CHECKSUM_ERROR, st->io->volume_id,
			   st->io->snapshot_id, lba, b->pblock,
			   "checksum mismatch: volume %llu sector %llu, data block %llu",
			   (unsigned long long)st->io->volume_id, (unsigned long long)lba,
			   (unsigned long long)b->pblock);
		return -EIO;
	}
	return 0;
}

/* ---- finding and checking the target --------------------------------- */

static int find_target(struct cowstore *cs, struct cowstore_io *io, struct vol **v,
		       struct snap **s)
{
	uint64_t size;
	*s = NULL;
	if (io->snapshot_id) {
		*s = snap_find(cs, io->snapshot_id);
		if (!*s)
			return -ENOENT;
		*v = (*s)->vol;
		size = (*s)->size_bytes;
	} else {
		*v = vol_find(cs, io->volume_id);
		if (!*v)
			return -ENOENT;
		size = (*v)->size_bytes;
	}
	if (io->op == COWSTORE_OP_FLUSH)
		return 0;
	if (io->lba + io->nsectors > size / COWSTORE_SECTOR_SIZE)
		return -EINVAL;
	return 0;
}

static int alloc_map(struct cowstore_io_state *st)
{
	st->map = calloc(st->b1 - st->b0, sizeof(*st->map));
	return st->map ? 0 : -ENOMEM;
}

static int alloc_bounce(struct cowstore_io_state *st, uint64_t nblocks)
{
	st->bounce = aligned_alloc(COWSTORE_BLOCK_SIZE, nblocks << BLOCK_SHIFT);
	return st->bounce ? 0 : -ENOMEM;
}

/* ---- read ------------------------------------------------------------ */

static void start_read(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v,
		       struct snap *s)
{
	struct cowstore_io *io = st->io;
	uint64_t n = st->b1 - st->b0;
	int rc = alloc_map(st);
	if (!rc)
		rc = view_resolve(cs, v, s, st->b0, n, st->map);
	if (!rc && !is_aligned(io->lba, io->nsectors))
		rc = alloc_bounce(st, n);
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	st->phase = PHASE_READ;
	read_blocks(cs, st, st->bounce ? st->bounce : io->buf, 0, n);
	if (!st->pending)
		io_uring_done(cs, st, -1); /* nothing to wait for: finish now */
}

static void finish_read(struct cowstore *cs, struct cowstore_io_state *st)
{
	struct cowstore_io *io = st->io;
	uint8_t *buf = st->bounce ? st->bounce : io->buf;
	int rc = verify_blocks(cs, st, buf, 0, st->b1 - st->b0, st->b0);
	if (!rc && st->bounce)
		memcpy(io->buf, st->bounce + (io->lba - st->b0 * SECTORS_PER_BLOCK) * 512,
		       (size_t)io->nsectors * COWSTORE_SECTOR_SIZE);
	io_complete(cs, st, rc);
}

/* ---- write ----------------------------------------------------------- */

/* Blocks of the write that only partly change (need their old content). */
static bool head_partial(const struct cowstore_io *io) { return io->lba % SECTORS_PER_BLOCK; }
static bool tail_partial(const struct cowstore_io *io)
{
	return (io->lba + io->nsectors) % SECTORS_PER_BLOCK;
}

/* Exclusively-owned blocks of v's head in [b0, b1): what a write there frees. */
struct owned_ctx {
	struct cowstore *cs;
	uint64_t b0, b1, min_birth, blocks;
};

static int count_owned(void *arg, const struct extent *e)
{
	struct owned_ctx *c = arg;
	if (e->kind != BLK_DATA || e->birth < c->min_birth)
		return 0;
	uint64_t from = e->lba > c->b0 ? e->lba : c->b0;
	uint64_t to = e->lba + e->nblocks < c->b1 ? e->lba + e->nblocks : c->b1;
	for (uint64_t b = from; b < to; b++)
		c->blocks += alloc_refcount(&c->cs->alloc, e->pblock + (b - e->lba)) == 1;
	return 0;
}

static bool write_is_net_neutral(struct cowstore *cs, struct vol *v, uint64_t b0, uint64_t b1,
				 uint64_t need)
{
	struct snap *newest = vol_newest_snap(v);
	struct owned_ctx c = { cs, b0, b1, newest ? newest->gen + 1 : 0, 0 };
	if (layer_scan(cs, v->id, b0, b1 - b0, count_owned, &c))
		return false;
	return c.blocks >= need;
}

/* Give every DATA entry of map a fresh block; -ENOSPC when the pool is full. */
static int allocate_blocks(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	uint64_t n = st->b1 - st->b0, need = 0;
	bool reserve = false, synced = false;
	for (uint64_t i = 0; i < n; i++)
		need += st->map[i].kind == BLK_DATA;
	for (uint64_t i = 0; i < n;) {
		if (st->map[i].kind != BLK_DATA) {
			i++;
			continue;
		}
		uint64_t want = 1, start, got;
		while (i + want < n && st->map[i + want].kind == BLK_DATA)
			want++;
		alloc_get(&cs->alloc, want, reserve, &start, &got);
		if (!got) {
			if (!synced && cs->alloc.npending) { /* freed blocks wait for a sync */
				synced = true;
				if (store_sync_now(cs) == 0)
					continue;
			}
			if (!reserve && write_is_net_neutral(cs, v, st->b0, st->b1, need)) {
				reserve = true;
				continue;
			}
			for (uint64_t j = 0; j < i; j++)
				if (st->map[j].kind == BLK_DATA)
					alloc_put(&cs->alloc, st->map[j].pblock, 1);
			emit_event(cs, COWSTORE_EVENT_POOL_FULL, v->id, 0, st->io->lba, 0,
				   "pool %s is full: write to volume '%s' refused", cs->dir,
				   v->name);
			return -ENOSPC;
		}
		for (uint64_t j = 0; j < got; j++)
			st->map[i + j].pblock = start + j;
		i += got;
	}
	check_soft_threshold(cs);
	return 0;
}

static const uint8_t *write_source(struct cowstore_io_state *st)
{
	return st->copybuf ? st->copybuf : st->io->buf;
}

/* Fill map with what the request writes: DATA where bytes are written
 * (the whole block range for writes, only partial edges for zeroing). */
static void plan_write(struct cowstore_io_state *st, struct vol *v)
{
	struct cowstore_io *io = st->io;
	uint64_t n = st->b1 - st->b0;
	bool zeroing = io->op == COWSTORE_OP_WRITE_ZEROES || io->op == COWSTORE_OP_DISCARD;
	for (uint64_t i = 0; i < n; i++)
		st->map[i].kind = zeroing ? vol_zero_kind(v) : BLK_DATA;
	if (zeroing && head_partial(io))
		st->map[0].kind = BLK_DATA;
	if (zeroing && tail_partial(io))
		st->map[n - 1].kind = BLK_DATA;
}

static void write_data(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v);

static void start_write(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	struct cowstore_io *io = st->io;
	uint64_t n = st->b1 - st->b0;
	bool partial = head_partial(io) || tail_partial(io);
	int rc = st->map ? 0 : alloc_map(st);
	if (!rc && partial)
		rc = alloc_bounce(st, n);
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	if (!partial) {
		plan_write(st, v);
		write_data(cs, st, v);
		return;
	}
	/* Read the old content of the partial edge blocks first. */
	struct blk edge[2];
	uint64_t edges[2] = { 0, n - 1 };
	bool want[2] = { head_partial(io), tail_partial(io) && (n > 1 || !head_partial(io)) };
	st->phase = PHASE_RMW_READ;
	for (int k = 0; k < 2; k++) {
		if (!want[k])
			continue;
		rc = view_resolve(cs, v, NULL, st->b0 + edges[k], 1, &edge[k]);
		if (rc) {
			io_complete(cs, st, rc);
			return;
		}
		st->map[edges[k]] = edge[k];
		read_blocks(cs, st, st->bounce + (edges[k] << BLOCK_SHIFT), edges[k], edges[k] + 1);
	}
	if (!st->pending)
		io_uring_done(cs, st, -1);
}

/* The edges are in the bounce buffer: check them, lay the new bytes over. */
static void finish_rmw_read(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	struct cowstore_io *io = st->io;
	uint64_t n = st->b1 - st->b0;
	for (uint64_t k = 0; k < n; k += (n > 1 ? n - 1 : 1)) {
		int rc = verify_blocks(cs, st, st->bounce + (k << BLOCK_SHIFT), k, k + 1, st->b0);
		if (rc) {
			io_complete(cs, st, rc);
			return;
		}
	}
	uint8_t *at = st->bounce + (io->lba - st->b0 * SECTORS_PER_BLOCK) * COWSTORE_SECTOR_SIZE;
	size_t len = (size_t)io->nsectors * COWSTORE_SECTOR_SIZE;
	if (io->op == COWSTORE_OP_WRITE || io->op == COWSTORE_OP_COPY)
		memcpy(at, write_source(st), len);
	else
		memset(at, 0, len);
	plan_write(st, v);
	write_data(cs, st, v);
}

static void write_data(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	const uint8_t *src = st->bounce ? st->bounce : write_source(st);
	uint64_t n = st->b1 - st->b0;
	int rc = allocate_blocks(cs, st, v);
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	st->phase = PHASE_WRITE;
	st->expect_bytes = st->got_bytes = 0;
	for (uint64_t i = 0; i < n;) {
		if (st->map[i].kind != BLK_DATA) {
			i++;
			continue;
		}
		uint64_t len = 1;
		/* the blocks are fresh: nothing reads their checksums yet */
		cs->crcmap[st->map[i].pblock] = block_crc(src + (i << BLOCK_SHIFT));
		while (i + len < n && st->map[i + len].kind == BLK_DATA &&
		       st->map[i + len].pblock == st->map[i].pblock + len && len < 256) {
			cs->crcmap[st->map[i].pblock + len] = block_crc(src + ((i + len) << BLOCK_SHIFT));
			len++;
		}
		queue_rw(cs, st, true, (uint8_t *)src + (i << BLOCK_SHIFT), st->map[i].pblock, len);
		i += len;
	}
	if (!st->pending)
		io_uring_done(cs, st, -1);
}

static void give_back_blocks(struct cowstore *cs, struct cowstore_io_state *st)
{
	for (uint64_t i = 0; i < st->b1 - st->b0; i++)
		if (st->map[i].kind == BLK_DATA)
			alloc_put(&cs->alloc, st->map[i].pblock, 1);
}

/* Data is in place: make it visible with one metadata batch. */
static void commit_write(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	struct cowstore_io *io = st->io;
	bool fua = io->flags & COWSTORE_IO_FUA, logged = false;
	int rc = head_replace(cs, v, st->b0, st->b1 - st->b0, st->map, 0);
	if (!rc && fua && cs->plog && io->op == COWSTORE_OP_WRITE) {
		const uint8_t *src = st->bounce ? st->bounce : write_source(st);
		uint64_t seq;
		if (plog_append(cs->plog, v->id, st->b0 * SECTORS_PER_BLOCK,
				(uint32_t)((st->b1 - st->b0) * SECTORS_PER_BLOCK), src, &seq) == 0) {
			rc = journal_applied(&cs->journal, seq);
			cs->plog_applied = seq;
			logged = true;
		}
	}
	if (rc) {
		cs->failed = true; /* in-memory references no longer match the metadata */
		io_complete(cs, st, rc);
		return;
	}
	commit_later(cs, st, fua && !logged);
}

/* ---- write-zeroes, discard, copy ------------------------------------- */

static void start_zero(struct cowstore *cs, struct cowstore_io_state *st, struct vol *v)
{
	struct cowstore_io *io = st->io;
	if (head_partial(io) || tail_partial(io)) {
		start_write(cs, st, v); /* partial edges are read-modify-write */
		return;
	}
	int rc = head_replace(cs, v, st->b0, st->b1 - st->b0, NULL, vol_zero_kind(v));
	if (rc) {
		cs->failed = true;
		io_complete(cs, st, rc);
		return;
	}
	commit_later(cs, st, io->flags & COWSTORE_IO_FUA);
}

/* Block-aligned copy: the destination maps the source's blocks. */
static void share_copy(struct cowstore *cs, struct cowstore_io_state *st, struct vol *dst,
		       struct vol *src)
{
	uint64_t n = st->b1 - st->b0;
	int rc = alloc_map(st);
	if (!rc)
		rc = view_resolve(cs, src, NULL, st->src_b0, n, st->map);
	for (uint64_t i = 0; !rc && i < n; i++) {
		if (st->map[i].kind == BLK_DATA)
			rc = alloc_ref(&cs->alloc, st->map[i].pblock, 1);
		else
			st->map[i].kind = vol_zero_kind(dst);
	}
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	commit_write(cs, st, dst);
}

static void start_copy(struct cowstore *cs, struct cowstore_io_state *st, struct vol *dst)
{
	struct cowstore_io *io = st->io;
	struct vol *src = vol_find(cs, io->src_volume_id);
	if (!src) {
		io_complete(cs, st, -ENOENT);
		return;
	}
	if (io->src_lba + io->nsectors > src->size_bytes / COWSTORE_SECTOR_SIZE) {
		io_complete(cs, st, -EINVAL);
		return;
	}
	if (is_aligned(io->lba, io->nsectors) && is_aligned(io->src_lba, 0)) {
		share_copy(cs, st, dst, src);
		return;
	}
	/* Unaligned: read the source sectors, then write them like a WRITE. */
	uint64_t n = st->src_b1 - st->src_b0;
	int rc = alloc_bounce(st, n);
	if (!rc) {
		st->map = calloc(n, sizeof(*st->map));
		rc = st->map ? view_resolve(cs, src, NULL, st->src_b0, n, st->map) : -ENOMEM;
	}
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	st->phase = PHASE_COPY_READ;
	read_blocks(cs, st, st->bounce, 0, n);
	if (!st->pending)
		io_uring_done(cs, st, -1);
}

static void finish_copy_read(struct cowstore *cs, struct cowstore_io_state *st, struct vol *dst)
{
	struct cowstore_io *io = st->io;
	size_t len = (size_t)io->nsectors * COWSTORE_SECTOR_SIZE;
	int rc = verify_blocks(cs, st, st->bounce, 0, st->src_b1 - st->src_b0, st->src_b0);
	if (!rc) {
		st->copybuf = malloc(len);
		rc = st->copybuf ? 0 : -ENOMEM;
	}
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	memcpy(st->copybuf,
	       st->bounce + (io->src_lba - st->src_b0 * SECTORS_PER_BLOCK) * COWSTORE_SECTOR_SIZE,
	       len);
	free(st->bounce);
	free(st->map);
	st->bounce = NULL;
	st->map = NULL;
	start_write(cs, st, dst);
}

/* ---- dispatch and completions ---------------------------------------- */

void io_start(struct cowstore *cs, struct cowstore_io_state *st)
{
	struct cowstore_io *io = st->io;
	struct vol *v = NULL;
	struct snap *s = NULL;

	if (io->op == COWSTORE_OP_FLUSH) {
		request_durability(cs, st);
		return;
	}
	int rc = find_target(cs, io, &v, &s);
	if (rc) {
		io_complete(cs, st, rc);
		return;
	}
	if (v->moving && io->op != COWSTORE_OP_READ) /* before it changes anything (move.c) */
		move_track_mark(v->moving, st->b0, st->b1);
	if (cs->emu.model.on)
		emulation_admit(cs, st);
	switch (io->op) {
	case COWSTORE_OP_READ:
		start_read(cs, st, v, s);
		break;
	case COWSTORE_OP_WRITE:
		start_write(cs, st, v);
		break;
	case COWSTORE_OP_WRITE_ZEROES:
	case COWSTORE_OP_DISCARD:
		start_zero(cs, st, v);
		break;
	case COWSTORE_OP_COPY:
		start_copy(cs, st, v);
		break;
	case COWSTORE_OP_FLUSH:
		break;
	}
}

/* One io_uring completion for st (res < 0 with nothing pending means "no
 * request was queued: advance now"). */
void io_uring_done(struct cowstore *cs, struct cowstore_io_state *st, int res)
{
	if (st->pending) {
		st->pending--;
		if (res < 0)
			st->error = res;
		else
			st->got_bytes += (uint64_t)res;
		if (st->pending)
			return;
	}
	struct vol *v = st->io->snapshot_id ? NULL : vol_find(cs, st->io->volume_id);
	int rc = st->error;
	if (!rc && st->got_bytes != st->expect_bytes)
		rc = -EIO; /* short read or write of the data file */
	st->expect_bytes = st->got_bytes = 0;
	st->error = 0;
	if (rc) {
		if (st->phase == PHASE_WRITE)
			give_back_blocks(cs, st);
		io_complete(cs, st, rc);
		return;
	}
	switch (st->phase) {
	case PHASE_READ:
		finish_read(cs, st);
		break;
	case PHASE_RMW_READ:
		finish_rmw_read(cs, st, v);
		break;
	case PHASE_WRITE:
		commit_write(cs, st, v);
		break;
	case PHASE_COPY_READ:
		finish_copy_read(cs, st, v);
		break;
	}
}
