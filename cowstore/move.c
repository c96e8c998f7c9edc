/*
 * move.c - moving a volume, with its snapshots, to another pool while its
 * users keep writing to it.
 *
 * The copy.  Snapshots first, oldest first: the destination volume is given
 * the blocks where the snapshot differs from the one copied before it, then
 * a snapshot of the same name is taken of the destination, which so shares
 * what consecutive snapshots have in common.  Then the live volume: pass 1
 * visits every chunk and writes where it differs from the newest snapshot
 * (a hole stays a hole, a chunk the same as that snapshot costs nothing);
 * passes 2.. copy again the chunks changed since they were copied; finish,
 * with the users stopped, copies the last of them.  "Differs" is read from
 * the source's block maps: two views that map a block to the same data-file
 * block show the same bytes (blocks are never overwritten in place).
 *
 * What the destination holds.  A chunk of it that no live pass has written
 * holds the last snapshot copied (base_snap; nothing before the first), and
 * is written only where the source differs from that; a chunk a live pass
 * has written is "diverged": its next copy writes every block (data, or
 * zeroes where the source has a hole).
 *
 * The change record.  A bitmap of the source's chunks (CHUNK_BLOCKS, 1 MiB)
 * hung on the source volume (vol->moving).  The store thread sets a chunk's
 * bit in io_start() for every request that may change the volume (WRITE,
 * WRITE_ZEROES, DISCARD, COPY into it): when it starts the request, before
 * the request changes any block.  (There the volume is at hand, so a pool
 * with no move pays one pointer test per request.)  The mover takes (tests
 * and clears) bits.  Both change the bitmap's words with atomic
 * read-modify-writes: no lock.
 *
 * Why no write is lost.  The mover takes chunk c's bit BEFORE it submits
 * the READ that copies c.  A write W overlapping c either
 *   - set c's bit before the take: then the store thread started W before it
 *     took in the READ, submitted after the take, and the engine starts no
 *     request while an earlier one overlapping its blocks, with a writer
 *     among the two, is unfinished (engine.c, blocked()): W is done before
 *     the READ starts, which sees its data; or
 *   - set c's bit after the take: a later pass (or finish) copies c again.
 * The block map saying which blocks to write is asked for after the READ
 * completes, so it shows every write of the first kind too; where a write
 * of the second kind makes map and data disagree, c is copied again.  With
 * the users stopped, finish copies every chunk whose bit is set and no bit
 * comes back: each chunk of the destination equals the source's.
 *   Pass 1 looks at the maps BEFORE taking anything, to pass over the chunks
 * that need nothing, and leaves their bits alone: start waits until no IO
 * is in flight, so every write that changes a chunk after the look set its
 * bit, and a later pass copies it.  Passes 2.. must not pass over a chunk on
 * the map alone: that map may miss a write in flight whose bit was just
 * taken.
 *
 * While a move runs, what would change the source's size or snapshots is
 * refused (vol_refuse_if_moving): resize, delete, rollback, snapshot create
 * and delete, clones of its snapshots.
 *
 * Threads.  The cowstore_move_* calls run in the caller's thread (one at a
 * time) and work through both pools' public calls and private queues; block
 * maps are read by control requests on the source's store thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

#define CHUNK_BLOCKS MAX_EXTENT_BLOCKS /* 1 MiB, an extent map chunk */
#define CHUNK_BYTES ((uint64_t)CHUNK_BLOCKS * COWSTORE_BLOCK_SIZE)
#define MASK_WORDS (CHUNK_BLOCKS / 64)
#define BATCH_CHUNKS 8u /* chunks read, then written, at once */
#define SCAN_CHUNKS 64u /* chunks passes 0 and 1 ask the maps of at once */

static uint64_t chunks_of(uint64_t size_bytes)
{
	return (size_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES;
}

/* Blocks of chunk c in a view of size_bytes. */
static uint64_t chunk_nblocks(uint64_t size_bytes, uint64_t c)
{
	uint64_t left = size_bytes / COWSTORE_BLOCK_SIZE - c * CHUNK_BLOCKS;
	return left < CHUNK_BLOCKS ? left : CHUNK_BLOCKS;
}

static uint64_t word_bit(uint64_t i) { return 1ull << (i % 64); }

/* ---- the change record: the store thread marks, the mover takes ------- */

struct move_track {
	uint64_t nchunks;
	uint64_t bits[]; /* chunk c changed since the mover took it (atomic) */
};

void move_track_mark(struct move_track *t, uint64_t b0, uint64_t b1)
{
	for (uint64_t c = b0 / CHUNK_BLOCKS; c < t->nchunks && c * CHUNK_BLOCKS < b1; c++)
		__atomic_fetch_or(&t->bits[c / 64], word_bit(c), __ATOMIC_SEQ_CST);
}

static void track_take(struct move_track *t, uint64_t c)
{
	__atomic_fetch_and(&t->bits[c / 64], ~word_bit(c), __ATOMIC_SEQ_CST);
}

/* The first chunk from c on whose bit is set, or nchunks. */
static uint64_t track_next(const struct move_track *t, uint64_t c)
{
	while (c < t->nchunks) {
		uint64_t w = __atomic_load_n(&t->bits[c / 64], __ATOMIC_SEQ_CST) >> (c % 64);
		if (w)
			return c + (uint64_t)__builtin_ctzll(w); /* bits past nchunks stay clear */
		c = (c / 64 + 1) * 64;
	}
	return t->nchunks;
}

/* Bits set among chunks [0, end). */
static uint64_t track_count(const struct move_track *t, uint64_t end)
{
	uint64_t count = 0;
	for (uint64_t w = 0; w * 64 < end; w++) {
		uint64_t bits = __atomic_load_n(&t->bits[w], __ATOMIC_RELAXED);
		if (end - w * 64 < 64)
			bits &= word_bit(end) - 1;
		count += (uint64_t)__builtin_popcountll(bits);
	}
	return count;
}

int vol_refuse_if_moving(const struct vol *v, struct cowstore_err *err)
{
	if (!v->moving)
		return 0;
	set_err(err, "volume '%s' is being moved", v->name);
	return -EBUSY;
}

/* ---- the move --------------------------------------------------------- */

struct move_snap {
	uint64_t id;
	char name[COWSTORE_NAME_MAX + 1];
	uint64_t size_bytes;
	int64_t created_ns;
};

/* Which blocks of a chunk the destination must be given. */
struct chunk_masks {
	uint64_t data[MASK_WORDS]; /* the source's data */
	uint64_t zero[MASK_WORDS]; /* zeroes: a hole in the source, data in the destination */
};

/* The mover's; the source's store thread reads diverged and fills masks in
 * do_masks(), while the mover waits for it. */
struct cowstore_move {
	struct cowstore *src, *dst;
	uint64_t src_id, dst_id;
	uint64_t size_bytes;         /* the source's; fixed while it moves */
	int64_t created_ns;
	uint64_t serial;             /* the source's identity, which the destination takes */
	struct move_snap *snaps;     /* the source's snapshots, oldest first */
	size_t nsnaps;
	struct move_track *track;    /* vol->moving of the source until end */
	uint64_t *diverged;          /* per chunk: a live pass wrote it */
	unsigned pass;
	size_t snaps_copied;         /* pass 0 */
	uint64_t cursor;             /* the next chunk the pass looks at */
	uint64_t base_snap;          /* the source snapshot the destination holds where
				      * not diverged; 0: none (it holds nothing) */
	uint64_t dst_size;           /* the destination's size now */
	uint64_t planned_bytes;      /* what passes 0 and 1 were to copy, at start */
	uint64_t planned_copied;     /* what they copied */
	uint64_t copied_bytes;
	int error;                   /* a step failed: only end is left */
	struct cowstore_queue *src_queue, *dst_queue;
	uint8_t *buf;                /* BATCH_CHUNKS chunks read from the source */
	struct cowstore_io *ios;     /* the requests of one batch */
	struct chunk_masks masks[SCAN_CHUNKS];
};

static bool mask_test(const uint64_t *mask, uint64_t i) { return mask[i / 64] & word_bit(i); }

static uint64_t mask_count(const uint64_t *mask)
{
	uint64_t count = 0;
	for (unsigned w = 0; w < MASK_WORDS; w++)
		count += (uint64_t)__builtin_popcountll(mask[w]);
	return count;
}

static bool masks_empty(const struct chunk_masks *k)
{
	return mask_count(k->data) + mask_count(k->zero) == 0;
}

/* A snapshot may reach past the live volume, whose chunks alone diverge. */
static bool is_diverged(const struct cowstore_move *m, uint64_t c)
{
	return c < m->track->nchunks && (m->diverged[c / 64] & word_bit(c));
}

/* ---- block maps (store thread) ---------------------------------------- */

/* What the destination needs so that chunk c shows what view (a snapshot;
 * NULL: the head) of v shows, when it holds base (NULL: nothing) or, when
 * diverged, anything. */
static int chunk_masks_get(struct cowstore *cs, struct vol *v, struct snap *view,
			   struct snap *base, bool diverged, uint64_t c, struct chunk_masks *out)
{
	struct blk now[CHUNK_BLOCKS], held[CHUNK_BLOCKS];
	uint64_t first = c * CHUNK_BLOCKS;
	uint64_t n = chunk_nblocks(view ? view->size_bytes : v->size_bytes, c);
	uint64_t base_blocks = base ? base->size_bytes / COWSTORE_BLOCK_SIZE : 0;
	uint64_t nheld = diverged || base_blocks <= first ? 0 : base_blocks - first;
	int rc = view_resolve(cs, v, view, first, n, now);

	if (nheld > n)
		nheld = n;
	if (!rc && nheld)
		rc = view_resolve(cs, v, base, first, nheld, held);
	memset(out, 0, sizeof(*out));
	for (uint64_t i = 0; !rc && i < n; i++) {
		bool data = now[i].kind == BLK_DATA;
		bool held_data = i < nheld && held[i].kind == BLK_DATA;
		bool same = held_data && data && held[i].pblock == now[i].pblock;
		if (data && !same)
			out->data[i / 64] |= word_bit(i);
		else if (!data && (diverged || held_data))
			out->zero[i / 64] |= word_bit(i);
	}
	return rc;
}

struct masks_query {
	struct cowstore_move *m;
	uint64_t view_id; /* a snapshot of the source; 0: its head */
	const uint64_t *chunks;
	size_t n;
};

static int do_masks(struct cowstore *cs, void *arg)
{
	struct masks_query *q = arg;
	struct cowstore_move *m = q->m;
	struct vol *v = vol_find(cs, m->src_id);
	struct snap *view = q->view_id ? snap_find(cs, q->view_id) : NULL;
	struct snap *base = m->base_snap ? snap_find(cs, m->base_snap) : NULL;
	int rc = 0;
	if (!v || (q->view_id && !view) || (m->base_snap && !base))
		return -ENOENT;
	for (size_t i = 0; !rc && i < q->n; i++)
		rc = chunk_masks_get(cs, v, view, base, is_diverged(m, q->chunks[i]), q->chunks[i],
				     &m->masks[i]);
	return rc;
}

/* m->masks[i] for chunks[i] of a view of the source. */
static int query_masks(struct cowstore_move *m, uint64_t view_id, const uint64_t *chunks,
		       size_t n)
{
	struct masks_query q = { m, view_id, chunks, n };
	return engine_control(m->src, do_masks, &q, false);
}

/* Bytes passes 0 and 1 will write if nothing changes: each snapshot's
 * difference from the one before it, then the head's from the newest. */
static int plan_bytes(struct cowstore *cs, struct vol *v, uint64_t *out)
{
	struct chunk_masks k;
	*out = 0;
	for (uint32_t i = 0; i <= v->nsnaps; i++) {
		struct snap *view = i < v->nsnaps ? v->snaps[i] : NULL;
		struct snap *base = i ? v->snaps[i - 1] : NULL;
		uint64_t nchunks = chunks_of(view ? view->size_bytes : v->size_bytes);
		for (uint64_t c = 0; c < nchunks; c++) {
			int rc = chunk_masks_get(cs, v, view, base, false, c, &k);
			if (rc)
				return rc;
			*out += mask_count(k.data) * COWSTORE_BLOCK_SIZE;
		}
	}
	return 0;
}

/* Every snapshot of v, oldest first, into m; -EBUSY if one has clones. */
static int list_snapshots(struct cowstore *cs, struct vol *v, struct cowstore_move *m,
			  struct cowstore_err *err)
{
	char names[200];
	m->snaps = calloc(v->nsnaps + 1, sizeof(*m->snaps));
	if (!m->snaps)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->nsnaps; i++) {
		struct snap *s = v->snaps[i];
		if (clone_names(cs, s, names, sizeof(names))) {
			set_err(err, "snapshot '%s' of volume '%s' has clones, whose blocks "
				"cannot leave the pool: %s", s->name, v->name, names);
			return -EBUSY;
		}
		m->snaps[i].id = s->id;
		snprintf(m->snaps[i].name, sizeof(m->snaps[i].name), "%s", s->name);
		m->snaps[i].size_bytes = s->size_bytes;
		m->snaps[i].created_ns = s->created_ns;
	}
	m->nsnaps = v->nsnaps;
	return 0;
}

struct start_args {
	struct cowstore_move *m;
	struct cowstore_err *err;
};

/* Quiesced: no write is in flight, so every later change sets a bit. */
static int do_start(struct cowstore *cs, void *arg)
{
	struct start_args *a = arg;
	struct cowstore_move *m = a->m;
	struct vol *v = vol_find(cs, m->src_id);
	if (!v) {
		set_err(a->err, "no volume with id %llu", (unsigned long long)m->src_id);
		return -ENOENT;
	}
	if (v->moving) {
		set_err(a->err, "volume '%s' is being moved already", v->name);
		return -EBUSY;
	}
	m->size_bytes = v->size_bytes;
	m->created_ns = v->created_ns;
	m->serial = v->serial;
	uint64_t nchunks = chunks_of(v->size_bytes), words = (nchunks + 63) / 64;
	int rc = list_snapshots(cs, v, m, a->err);
	if (!rc)
		rc = plan_bytes(cs, v, &m->planned_bytes);
	if (rc)
		return rc;
	m->track = calloc(1, sizeof(*m->track) + words * sizeof(uint64_t));
	m->diverged = calloc(words, sizeof(uint64_t));
	if (!m->track || !m->diverged)
		return -ENOMEM;
	m->track->nchunks = nchunks;
	v->moving = m->track;
	return 0;
}

static int do_stop(struct cowstore *cs, void *arg)
{
	struct cowstore_move *m = arg;
	struct vol *v = vol_find(cs, m->src_id);
	if (v && v->moving == m->track)
		v->moving = NULL;
	return 0;
}

struct created_args {
	uint64_t id; /* a volume or a snapshot */
	int64_t created_ns;
	uint64_t serial; /* a volume's */
};

static int do_set_created(struct cowstore *cs, void *arg)
{
	struct created_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	struct snap *s = v ? NULL : snap_find(cs, a->id);
	if (v) {
		v->created_ns = a->created_ns;
		v->serial = a->serial;
		vol_record_put(cs->ctl_wb, v);
	} else if (s) {
		s->created_ns = a->created_ns;
		snap_record_put(cs->ctl_wb, s);
	}
	return v || s ? 0 : -ENOENT;
}

/* The destination's copies keep their originals' creation times, and the
 * volume its identity (hosts must see the same device after a restart). */
static int set_created(struct cowstore *cs, uint64_t id, int64_t created_ns, uint64_t serial)
{
	struct created_args a = { id, created_ns, serial };
	return engine_control(cs, do_set_created, &a, false);
}

/* ---- data: batches of requests on the move's own queues ---------------- */

struct batch_wait {
	size_t done;
	int error;
};

static void batch_io_done(struct cowstore_io *io)
{
	struct batch_wait *w = io->priv;
	if (io->result && !w->error)
		w->error = io->result;
	w->done++;
}

/* Submit ios[0, n) on q and wait for all of them; the first error. */
static int run_batch(struct cowstore *cs, struct cowstore_queue *q, struct cowstore_io *ios,
		     size_t n)
{
	struct batch_wait w = { 0, 0 };
	size_t submitted = 0;
	int rc = 0;
	while (!rc && submitted < n) {
		struct cowstore_io *io = &ios[submitted];
		io->queue = q;
		io->done = batch_io_done;
		io->priv = &w;
		rc = cowstore_submit(cs, io);
		submitted += rc == 0;
	}
	while (w.done < submitted) {
		cowstore_queue_wait(q, -1);
		cowstore_queue_reap(q, 0);
	}
	return rc ? rc : w.error;
}

/* Read chunks[i] of a view of the source (size size_bytes) into buf slot i. */
static int read_chunks(struct cowstore_move *m, uint64_t view_id, uint64_t size_bytes,
		       const uint64_t *chunks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m->ios[i] = (struct cowstore_io){
			.op = COWSTORE_OP_READ,
			.volume_id = m->src_id,
			.snapshot_id = view_id,
			.lba = chunks[i] * CHUNK_BLOCKS * SECTORS_PER_BLOCK,
			.nsectors = (uint32_t)(chunk_nblocks(size_bytes, chunks[i]) * SECTORS_PER_BLOCK),
			.buf = m->buf + i * CHUNK_BYTES,
		};
	return run_batch(m->src, m->src_queue, m->ios, n);
}

/* Requests for the runs of a chunk's masks (data at chunk_data) into ios;
 * returns how many. */
static size_t plan_writes(struct cowstore_move *m, const struct chunk_masks *k, uint64_t chunk,
			  uint8_t *chunk_data, struct cowstore_io *ios)
{
	size_t n = 0;
	for (uint64_t b = 0; b < CHUNK_BLOCKS;) {
		bool data = mask_test(k->data, b);
		if (!data && !mask_test(k->zero, b)) {
			b++;
			continue;
		}
		const uint64_t *run = data ? k->data : k->zero;
		uint64_t len = 1;
		while (b + len < CHUNK_BLOCKS && mask_test(run, b + len))
			len++;
		ios[n++] = (struct cowstore_io){
			.op = data ? COWSTORE_OP_WRITE : COWSTORE_OP_WRITE_ZEROES,
			.volume_id = m->dst_id,
			.lba = (chunk * CHUNK_BLOCKS + b) * SECTORS_PER_BLOCK,
			.nsectors = (uint32_t)(len * SECTORS_PER_BLOCK),
			.buf = data ? chunk_data + b * COWSTORE_BLOCK_SIZE : NULL,
		};
		b += len;
	}
	return n;
}

/* Give the destination what m->masks[i] says of chunks[i], read into buf. */
static int write_chunks(struct cowstore_move *m, const uint64_t *chunks, size_t n, bool live)
{
	size_t nios = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		size_t more = plan_writes(m, &m->masks[i], chunks[i], m->buf + i * CHUNK_BYTES,
					  m->ios + nios);
		if (live && more)
			m->diverged[chunks[i] / 64] |= word_bit(chunks[i]);
		nios += more;
		bytes += mask_count(m->masks[i].data) * COWSTORE_BLOCK_SIZE;
	}
	int rc = run_batch(m->dst, m->dst_queue, m->ios, nios);
	if (rc)
		return rc;
	m->copied_bytes += bytes;
	if (m->pass <= 1)
		m->planned_copied += bytes;
	return 0;
}

/* Copy chunks[0, n) of a view of the source (a snapshot, or 0: the live
 * head) whose masks are in m->masks.  For the head, the bits are taken
 * before the reads and the masks asked for again after them (see the top
 * of the file).  *read_bytes grows by what was read. */
static int copy_chunks(struct cowstore_move *m, uint64_t view_id, uint64_t size_bytes,
		       const uint64_t *chunks, size_t n, uint64_t *read_bytes)
{
	bool live = view_id == 0;
	for (size_t i = 0; live && i < n; i++)
		track_take(m->track, chunks[i]);
	int rc = read_chunks(m, view_id, size_bytes, chunks, n);
	if (!rc && live)
		rc = query_masks(m, 0, chunks, n);
	if (!rc)
		rc = write_chunks(m, chunks, n, live);
	*read_bytes += n * CHUNK_BYTES;
	return rc;
}

/* ---- passes ------------------------------------------------------------ */

/* Passes 0 and 1: ask the maps of the chunks from the cursor on, copy the
 * first BATCH_CHUNKS that need anything, and move the cursor past them. */
static int scan_and_copy(struct cowstore_move *m, uint64_t view_id, uint64_t size_bytes,
			 uint64_t *read_bytes)
{
	uint64_t chunks[SCAN_CHUNKS], nchunks = chunks_of(size_bytes);
	size_t n = nchunks - m->cursor < SCAN_CHUNKS ? nchunks - m->cursor : SCAN_CHUNKS;
	size_t picked = 0, looked = 0;
	for (size_t i = 0; i < n; i++)
		chunks[i] = m->cursor + i;
	int rc = query_masks(m, view_id, chunks, n);
	if (rc)
		return rc;
	while (looked < n && picked < BATCH_CHUNKS) {
		if (!masks_empty(&m->masks[looked])) {
			chunks[picked] = chunks[looked];
			m->masks[picked++] = m->masks[looked];
		}
		looked++;
	}
	m->cursor += looked;
	return picked ? copy_chunks(m, view_id, size_bytes, chunks, picked, read_bytes) : 0;
}

static int resize_destination(struct cowstore_move *m, uint64_t size_bytes)
{
	int rc = 0;
	if (m->dst_size != size_bytes)
		rc = cowstore_volume_resize(m->dst, m->dst_id, size_bytes, NULL);
	if (!rc)
		m->dst_size = size_bytes;
	return rc;
}

/* The destination holds snapshot s now: take its copy. */
static int snapshot_destination(struct cowstore_move *m, const struct move_snap *s)
{
	uint64_t snap_id;
	int rc = cowstore_snapshot_create(m->dst, m->dst_id, s->name, &snap_id, NULL);
	if (!rc)
		rc = set_created(m->dst, snap_id, s->created_ns, 0);
	if (rc)
		return rc;
	m->base_snap = s->id;
	m->snaps_copied++;
	m->cursor = 0;
	if (m->snaps_copied < m->nsnaps)
		return 0;
	m->pass = 1;
	return resize_destination(m, m->size_bytes);
}

static int snapshot_pass(struct cowstore_move *m, uint64_t *read_bytes)
{
	const struct move_snap *s = &m->snaps[m->snaps_copied];
	int rc = resize_destination(m, s->size_bytes);
	if (rc)
		return rc;
	if (m->cursor < chunks_of(s->size_bytes))
		return scan_and_copy(m, s->id, s->size_bytes, read_bytes);
	return snapshot_destination(m, s);
}

static int first_pass(struct cowstore_move *m, uint64_t *read_bytes)
{
	if (m->cursor < chunks_of(m->size_bytes))
		return scan_and_copy(m, 0, m->size_bytes, read_bytes);
	m->pass = 2;
	m->cursor = 0;
	return 0;
}

/* Passes 2..: the next changed chunks from the cursor on; a new pass
 * starts over from the first when the cursor reaches the end.  *idle when
 * no chunk is changed. */
static int changed_pass(struct cowstore_move *m, uint64_t *read_bytes, bool *idle)
{
	uint64_t chunks[BATCH_CHUNKS], nchunks = m->track->nchunks;
	size_t n = 0;
	uint64_t c = track_next(m->track, m->cursor);
	if (c == nchunks) {
		c = track_next(m->track, 0);
		*idle = c == nchunks;
		if (*idle)
			return 0;
		m->pass++;
	}
	for (; c < nchunks && n < BATCH_CHUNKS; c = track_next(m->track, c + 1))
		chunks[n++] = c;
	m->cursor = chunks[n - 1] + 1;
	return copy_chunks(m, 0, m->size_bytes, chunks, n, read_bytes);
}

/* One batch of whichever pass is running. */
static int advance(struct cowstore_move *m, uint64_t *read_bytes, bool *idle)
{
	*idle = false;
	if (m->pass == 0 && m->snaps_copied < m->nsnaps)
		return snapshot_pass(m, read_bytes);
	if (m->pass <= 1) {
		m->pass = 1;
		return first_pass(m, read_bytes);
	}
	return changed_pass(m, read_bytes, idle);
}

static void fill_progress(const struct cowstore_move *m, struct cowstore_move_progress *p)
{
	uint64_t planned_left = m->pass <= 1 && m->planned_bytes > m->planned_copied
					? m->planned_bytes - m->planned_copied : 0;
	uint64_t copied_chunks = m->pass == 0 ? 0 : m->pass == 1 ? m->cursor : m->track->nchunks;
	p->copied_bytes = m->copied_bytes;
	p->dirty_bytes = track_count(m->track, copied_chunks) * CHUNK_BYTES;
	p->total_bytes = m->copied_bytes + planned_left + p->dirty_bytes;
	p->pass = m->pass;
}

/* ---- the public calls --------------------------------------------------- */

static void move_free(struct cowstore_move *m)
{
	cowstore_queue_destroy(m->src_queue);
	cowstore_queue_destroy(m->dst_queue);
	free(m->track);
	free(m->diverged);
	free(m->snaps);
	free(m->buf);
	free(m->ios);
	free(m);
}

static int move_alloc(struct cowstore *src, uint64_t volume_id, struct cowstore *dst,
		      struct cowstore_move **out)
{
	struct cowstore_move *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->src = src;
	m->dst = dst;
	m->src_id = volume_id;
	m->buf = aligned_alloc(COWSTORE_BLOCK_SIZE, BATCH_CHUNKS * CHUNK_BYTES);
	m->ios = calloc(BATCH_CHUNKS * CHUNK_BLOCKS, sizeof(*m->ios)); /* runs alternate at worst */
	int rc = m->buf && m->ios ? 0 : -ENOMEM;
	if (!rc)
		rc = cowstore_queue_create(src, &m->src_queue);
	if (!rc)
		rc = cowstore_queue_create(dst, &m->dst_queue);
	if (rc) {
		move_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int cowstore_move_start(struct cowstore *src, uint64_t volume_id, struct cowstore *dst,
			const char *dst_name, struct cowstore_move **out, struct cowstore_err *err)
{
	struct cowstore_move *m;
	if (!src || !dst || !out)
		return -EINVAL;
	if (src == dst) {
		set_err(err, "volume %llu cannot move into the pool that holds it",
			(unsigned long long)volume_id);
		return -EXDEV;
	}
	int rc = check_name(dst_name, "volume", err);
	if (!rc)
		rc = move_alloc(src, volume_id, dst, &m);
	if (rc)
		return rc;
	struct start_args a = { m, err };
	rc = engine_control(src, do_start, &a, true);
	if (rc) {
		move_free(m);
		return rc;
	}
	rc = cowstore_volume_create(dst, dst_name, m->size_bytes, &m->dst_id, err);
	if (!rc)
		rc = set_created(dst, m->dst_id, m->created_ns, m->serial);
	if (rc) {
		cowstore_move_end(m, false);
		return rc;
	}
	m->dst_size = m->size_bytes;
	*out = m;
	return 0;
}

int cowstore_move_step(struct cowstore_move *m, uint64_t max_bytes,
		       struct cowstore_move_progress *p)
{
	uint64_t work = 0;
	bool idle = false;
	if (!m)
		return -EINVAL;
	while (!m->error && !idle && work < max_bytes) {
		uint64_t read_bytes = 0;
		m->error = advance(m, &read_bytes, &idle);
		work += read_bytes ? read_bytes : CHUNK_BYTES; /* a look at the maps counts as one */
	}
	if (p)
		fill_progress(m, p);
	return m->error;
}

int cowstore_move_finish(struct cowstore_move *m, uint64_t *dst_volume_id,
			 struct cowstore_err *err)
{
	bool idle = false;
	if (!m || !dst_volume_id)
		return -EINVAL;
	while (!m->error && !(m->pass >= 2 && idle)) {
		uint64_t read_bytes = 0;
		m->error = advance(m, &read_bytes, &idle);
	}
	if (!m->error)
		m->error = cowstore_flush(m->dst);
	if (m->error) {
		set_err(err, "moving volume %llu failed: %s", (unsigned long long)m->src_id,
			strerror(-m->error));
		return m->error;
	}
	*dst_volume_id = m->dst_id;
	return 0;
}

void cowstore_move_end(struct cowstore_move *m, bool keep)
{
	if (!m)
		return;
	/* Should the store thread not take the request, it may still mark the
	 * record: leave it allocated rather than freed under it. */
	if (m->track && engine_control(m->src, do_stop, m, false) != 0)
		m->track = NULL;
	if (!keep && m->dst_id)
		cowstore_volume_delete(m->dst, m->dst_id, NULL);
	move_free(m);
}
