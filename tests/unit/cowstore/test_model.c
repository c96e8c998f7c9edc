/*
 * test_model.c - model-based test of cowstore: random sequences of IO and
 * management operations run against the real store (a pool in a temporary
 * directory) and against a small in-memory reference model; every answer of
 * the store is checked against the model.
 *
 * The model keeps, per volume and per snapshot, one 32-bit content seed per
 * 512-byte sector (0 = zeros).  A sector's bytes are a pure function of its
 * seed (sector_fill), and seeds come from one counter, so every sector ever
 * written has its own content and a wrong read names the seed it did get.
 * Invariant of the model: seeds past a view's size are always 0, so growing a
 * volume or rolling back to a smaller snapshot needs no special case.
 *
 * After every step the ranges it touched are read back; every FULL_VERIFY_EVERY
 * steps every volume and snapshot is read in full and its info compared; the
 * pool is closed and reopened on a schedule and verified in full.  A random
 * test stops at its first mismatch and prints the last operations and the
 * command that replays it.
 *
 * Environment: SLATE_MODEL_SEED (base seed; default from the clock),
 * SLATE_MODEL_OPS (random operations summed over all tests; default 100000,
 * 20000 when built with ASan; 10000000 is the long mode), SLATE_MODEL_TRACE=1
 * (print every operation).
 *
 * The model, the context and the checks are in model.h; this file has the
 * pool's lifecycle, the operations, the random driver and the tests.
 */
#include "tests/unit/cowstore/model.h"

/* ---- pool lifecycle ------------------------------------------------------ */

static bool pool_open(struct ctx *c)
{
	struct cowstore_err err = {{0}};
	int rc = cowstore_open(c->dir, &c->cs, &err);

	if (rc) {
		c->cs = NULL;
		failf(c, "cowstore_open(%s) returned %d: %s", c->dir, rc, err.msg);
		return false;
	}
	return true;
}

static bool ctx_init(struct ctx *c, const char *test, uint64_t base_seed, uint64_t total_ops,
		     uint64_t nops, uint64_t plog_bytes, unsigned account_pct)
{
	struct cowstore_pool_options opts = {
		.capacity_bytes = 4ull << 30,
		.plog_bytes = plog_bytes,
	};
	struct cowstore_err err = {{0}};
	const char *trace = getenv("SLATE_MODEL_TRACE");
	uint64_t mix = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	c->test = test;
	c->base_seed = base_seed;
	c->total_ops = total_ops;
	for (const char *p = test; *p; p++)
		mix = mix * 131 + (uint8_t)*p;
	c->rng = base_seed ^ (mix * 0x9E3779B97F4A7C15ull);
	c->nops = nops;
	c->next_seed = 1;
	c->trace = trace && *trace && strcmp(trace, "0") != 0;
	c->account_pct = account_pct;
	for (int i = 0; i < MAX_VOLS; i++) {
		c->vols[i].seeds = calloc(MAX_VOL_SECTORS, sizeof(uint32_t));
		c->vols[i].parent = -1;
	}
	for (int i = 0; i < MAX_SNAPS; i++)
		c->snaps[i].seeds = calloc(MAX_VOL_SECTORS, sizeof(uint32_t));
	c->wbuf_mem = aligned_alloc(4096, IO_BUF_BYTES + 4096);
	c->rbuf_mem = aligned_alloc(4096, IO_BUF_BYTES + 4096);
	c->wbuf = c->wbuf_mem;
	c->rbuf = c->rbuf_mem;
	if (!c->wbuf || !c->rbuf) {
		failf(c, "out of memory");
		return false;
	}
	snprintf(c->dir, sizeof(c->dir), "/tmp/slate-model-XXXXXX");
	if (!mkdtemp(c->dir)) {
		failf(c, "mkdtemp: %s", strerror(errno));
		c->dir[0] = 0;
		return false;
	}
	rc = cowstore_pool_create(c->dir, &opts, &err);
	if (rc) {
		failf(c, "cowstore_pool_create(%s) returned %d: %s", c->dir, rc, err.msg);
		return false;
	}
	return pool_open(c);
}

static void ctx_destroy(struct ctx *c)
{
	if (c->cs)
		cowstore_close(c->cs);
	c->cs = NULL;
	if (c->dir[0]) {
		if (c->failed)
			fprintf(stderr, "  pool kept for inspection: %s\n", c->dir);
		else
			rm_tree(c->dir);
	}
	for (int i = 0; i < MAX_VOLS; i++)
		free(c->vols[i].seeds);
	for (int i = 0; i < MAX_SNAPS; i++)
		free(c->snaps[i].seeds);
	free(c->wbuf_mem);
	free(c->rbuf_mem);
}

/* ---- operations ---------------------------------------------------------- */

static int op_vol_create(struct ctx *c)
{
	struct cowstore_err err = {{0}};
	int v = free_vol_slot(c), rc;
	struct mvol *mv;
	uint64_t id = 0;

	if (v < 0)
		return -1;
	mv = &c->vols[v];
	snprintf(mv->name, sizeof(mv->name), "v%" PRIu64, c->name_seq++);
	mv->nsectors = rand_vol_sectors(c);
	note(c, "vol-create %s slot %d size %u sectors", mv->name, v, mv->nsectors);
	rc = cowstore_volume_create(c->cs, mv->name, (uint64_t)mv->nsectors * SECT, &id, &err);
	if (!expect_rc(c, rc, 0, "cowstore_volume_create", &err))
		return -1;
	mv->alive = true;
	mv->id = id;
	mv->parent = -1;
	memset(mv->seeds, 0, MAX_VOL_SECTORS * sizeof(uint32_t));
	verify_sample(c, v, -1, "after vol-create");
	return v;
}

static void op_write(struct ctx *c, int v, unsigned flags)
{
	struct mvol *mv = &c->vols[v];
	uint8_t *buf = io_ptr(c, c->wbuf);
	uint32_t lba, n;
	int rc;

	if (rnd_below(c, 100) == 0) {
		/* Past the end: refused, nothing changes. */
		n = 1 + rnd_below(c, 16);
		lba = mv->nsectors - n + 1 + rnd_below(c, n + 8);
		for (uint32_t i = 0; i < n; i++)
			sector_fill(0xFFFFFFF0u, buf + (size_t)i * SECT);
		note(c, "write %s past end lba %u n %u (size %u)", mv->name, lba, n, mv->nsectors);
		rc = cowstore_write(c->cs, mv->id, lba, n, buf, flags);
		if (!expect_rc(c, rc, -EINVAL, "cowstore_write past the end", NULL))
			return;
		verify_range(c, v, -1, mv->nsectors - 16, 16, "after write past the end");
		return;
	}
	pick_range(c, mv->nsectors, MAX_WRITE_SECTORS, rand_len(c, MAX_WRITE_SECTORS), &lba, &n);
	uint32_t first_seed = c->next_seed;
	uint32_t *seeds = malloc(n * sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++) {
		seeds[i] = new_seed(c);
		sector_fill(seeds[i], buf + (size_t)i * SECT);
	}
	note(c, "write%s %s lba %u n %u seeds %u..%u%s", flags & COWSTORE_IO_FUA ? "-fua" : "",
	     mv->name, lba, n, first_seed, seeds[n - 1], buf != c->wbuf ? " (unaligned buf)" : "");
	rc = cowstore_write(c->cs, mv->id, lba, n, buf, flags);
	if (expect_rc(c, rc, 0, "cowstore_write", NULL)) {
		memcpy(mv->seeds + lba, seeds, n * sizeof(uint32_t));
		verify_around(c, v, -1, lba, n, "after write");
	}
	free(seeds);
}

static void op_zero(struct ctx *c, int v, bool discard)
{
	struct mvol *mv = &c->vols[v];
	uint32_t lba, n, len;
	int rc;

	len = rnd_below(c, 2) ? rand_len(c, MAX_WRITE_SECTORS) : 1 + rnd_below(c, MAX_ZERO_SECTORS);
	pick_range(c, mv->nsectors, MAX_ZERO_SECTORS, len, &lba, &n);
	note(c, "%s %s lba %u n %u", discard ? "discard" : "write-zeroes", mv->name, lba, n);
	rc = discard ? cowstore_discard(c->cs, mv->id, lba, n)
		     : cowstore_write_zeroes(c->cs, mv->id, lba, n);
	if (!expect_rc(c, rc, 0, discard ? "cowstore_discard" : "cowstore_write_zeroes", NULL))
		return;
	memset(mv->seeds + lba, 0, n * sizeof(uint32_t));
	verify_around(c, v, -1, lba, n, discard ? "after discard" : "after write-zeroes");
}

static void op_read(struct ctx *c)
{
	int s = rnd_below(c, 10) < 3 ? pick_snap(c) : -1;
	int v = s >= 0 ? -1 : pick_vol(c);
	uint32_t size, lba, n;
	uint64_t id;
	int rc;

	if (s < 0 && v < 0)
		return;
	size = s >= 0 ? c->snaps[s].nsectors : c->vols[v].nsectors;
	id = s >= 0 ? c->snaps[s].id : c->vols[v].id;
	if (rnd_below(c, 50) == 0) {
		n = 1 + rnd_below(c, 16);
		lba = size - n + 1 + rnd_below(c, n + 8);
		note(c, "read %s past end lba %u n %u (size %u)",
		     s >= 0 ? c->snaps[s].name : c->vols[v].name, lba, n, size);
		rc = s >= 0 ? cowstore_read_snapshot(c->cs, id, lba, n, c->rbuf)
			    : cowstore_read(c->cs, id, lba, n, c->rbuf);
		expect_rc(c, rc, -EINVAL, "read past the end", NULL);
		return;
	}
	pick_range(c, size, CHUNK_SECTORS, rnd_below(c, 4) ? rand_len(c, 512) : 1 + rnd_below(c, CHUNK_SECTORS),
		   &lba, &n);
	note(c, "read %s lba %u n %u", s >= 0 ? c->snaps[s].name : c->vols[v].name, lba, n);
	verify_range(c, v, s, lba, n, "read");
}

static void op_flush(struct ctx *c)
{
	note(c, "flush");
	expect_rc(c, cowstore_flush(c->cs), 0, "cowstore_flush", NULL);
}

static void op_snap(struct ctx *c, int v)
{
	struct cowstore_err err = {{0}};
	int s = free_snap_slot(c), rc;
	struct msnap *ms;
	uint64_t id = 0;

	if (s < 0)
		return;
	ms = &c->snaps[s];
	snprintf(ms->name, sizeof(ms->name), "s%" PRIu64, c->name_seq++);
	note(c, "snap %s of %s slot %d", ms->name, c->vols[v].name, s);
	rc = cowstore_snapshot_create(c->cs, c->vols[v].id, ms->name, &id, &err);
	if (!expect_rc(c, rc, 0, "cowstore_snapshot_create", &err))
		return;
	ms->alive = true;
	ms->id = id;
	ms->vol = v;
	ms->order = ++c->snap_order;
	ms->nsectors = c->vols[v].nsectors;
	ms->nclones = 0;
	memcpy(ms->seeds, c->vols[v].seeds, MAX_VOL_SECTORS * sizeof(uint32_t));
	if (verify_sample(c, -1, s, "after snapshot create"))
		verify_sample(c, v, -1, "after snapshot create");
}

static void op_clone(struct ctx *c, int s)
{
	struct cowstore_err err = {{0}};
	int v = free_vol_slot(c), rc;
	struct mvol *mv;
	uint64_t id = 0;

	if (v < 0)
		return;
	mv = &c->vols[v];
	snprintf(mv->name, sizeof(mv->name), "c%" PRIu64, c->name_seq++);
	note(c, "clone %s of %s slot %d", mv->name, c->snaps[s].name, v);
	rc = cowstore_clone_create(c->cs, c->snaps[s].id, mv->name, &id, &err);
	if (!expect_rc(c, rc, 0, "cowstore_clone_create", &err))
		return;
	mv->alive = true;
	mv->id = id;
	mv->parent = s;
	mv->nsectors = c->snaps[s].nsectors;
	memcpy(mv->seeds, c->snaps[s].seeds, MAX_VOL_SECTORS * sizeof(uint32_t));
	c->snaps[s].nclones++;
	if (verify_sample(c, v, -1, "after clone create"))
		verify_sample(c, -1, s, "after clone create");
}

static void drop_snap(struct ctx *c, int s)
{
	c->snaps[s].alive = false;
	memset(c->snaps[s].seeds, 0, MAX_VOL_SECTORS * sizeof(uint32_t));
}

static void op_rollback(struct ctx *c, int s)
{
	struct cowstore_err err = {{0}};
	struct msnap *ms = &c->snaps[s];
	int v = ms->vol, rc, want = 0;
	bool newer = false, newer_busy = false, delete_newer;
	unsigned flags;

	for (int i = 0; i < MAX_SNAPS; i++) {
		if (c->snaps[i].alive && c->snaps[i].vol == v && c->snaps[i].order > ms->order) {
			newer = true;
			newer_busy |= c->snaps[i].nclones > 0;
		}
	}
	delete_newer = newer && rnd_below(c, 4) != 0;
	flags = delete_newer || rnd_below(c, 4) == 0 ? COWSTORE_ROLLBACK_DELETE_NEWER : 0;
	if (newer && (!(flags & COWSTORE_ROLLBACK_DELETE_NEWER) || newer_busy))
		want = -EBUSY;
	note(c, "rollback %s to %s flags %u (newer %d, newer with clones %d)", c->vols[v].name,
	     ms->name, flags, newer, newer_busy);
	rc = cowstore_snapshot_rollback(c->cs, ms->id, flags, &err);
	if (!expect_rc(c, rc, want, "cowstore_snapshot_rollback", &err))
		return;
	if (want == 0) {
		for (int i = 0; i < MAX_SNAPS; i++) {
			if (c->snaps[i].alive && c->snaps[i].vol == v &&
			    c->snaps[i].order > ms->order) {
				uint64_t gone = c->snaps[i].id;

				drop_snap(c, i);
				if (!check_gone_snapshot(c, gone, "after rollback deleting newer"))
					return;
			}
		}
		c->vols[v].nsectors = ms->nsectors;
		memcpy(c->vols[v].seeds, ms->seeds, MAX_VOL_SECTORS * sizeof(uint32_t));
	} else if (!check_vol_intact(c, v, "after refused rollback")) {
		return;
	}
	if (verify_sample(c, v, -1, "after rollback") && verify_sample(c, v, -1, "after rollback"))
		verify_sample(c, -1, s, "after rollback");
}

/* Flush and return allocated_bytes (pending frees are released by a sync). */
static bool allocated_after_flush(struct ctx *c, uint64_t *bytes)
{
	struct cowstore_pool_info pi;

	if (!expect_rc(c, cowstore_flush(c->cs), 0, "cowstore_flush", NULL))
		return false;
	if (!expect_rc(c, cowstore_pool_info(c->cs, &pi), 0, "cowstore_pool_info", NULL))
		return false;
	*bytes = pi.allocated_bytes;
	return true;
}

static bool snapshot_info(struct ctx *c, uint64_t vol_id, uint64_t snap_id,
			  struct cowstore_snapshot_info *out)
{
	struct cowstore_snapshot_info *list = NULL;
	size_t count = 0;
	int rc = cowstore_snapshot_list(c->cs, vol_id, &list, &count);

	if (!expect_rc(c, rc, 0, "cowstore_snapshot_list", NULL))
		return false;
	for (size_t i = 0; i < count; i++) {
		if (list[i].id == snap_id) {
			*out = list[i];
			free(list);
			return true;
		}
	}
	free(list);
	failf(c, "snapshot id %" PRIu64 " missing from the list of volume %" PRIu64, snap_id,
	      vol_id);
	return false;
}

static void op_snap_del(struct ctx *c, int s)
{
	struct cowstore_err err = {{0}};
	struct msnap *ms = &c->snaps[s];
	struct cowstore_snapshot_info si;
	bool account = rnd_below(c, 100) < c->account_pct;
	int want = ms->nclones ? -EBUSY : 0, rc;
	uint64_t before = 0, after = 0, id = ms->id;

	if (account) {
		if (!allocated_after_flush(c, &before) ||
		    !snapshot_info(c, c->vols[ms->vol].id, id, &si))
			return;
		c->account_checks++;
	}
	note(c, "snap-del %s (nclones %u)%s", ms->name, ms->nclones,
	     account ? " with space check" : "");
	rc = cowstore_snapshot_delete(c->cs, id, &err);
	if (!expect_rc(c, rc, want, "cowstore_snapshot_delete", &err))
		return;
	if (want == 0) {
		drop_snap(c, s);
		if (!check_gone_snapshot(c, id, "after snapshot delete"))
			return;
	}
	if (account) {
		uint64_t freed = want ? 0 : si.unique_bytes;

		if (!allocated_after_flush(c, &after))
			return;
		if (before - after != freed || after > before)
			failf(c, "snapshot delete (rc %d) of %s: allocated_bytes went %" PRIu64
			      " -> %" PRIu64 " (freed %" PRId64 "), but its unique_bytes was %" PRIu64
			      " (want freed %" PRIu64 ")",
			      rc, ms->name, before, after, (int64_t)(before - after),
			      si.unique_bytes, freed);
	}
	if (want == 0 && !c->failed) {
		int v = ms->vol;

		verify_sample(c, v, -1, "after snapshot delete");
	}
}

static void op_vol_del(struct ctx *c, int v)
{
	struct cowstore_err err = {{0}};
	struct mvol *mv = &c->vols[v];
	struct cowstore_volume_info vi;
	bool account = vol_nsnaps(c, v) == 0 && rnd_below(c, 100) < c->account_pct;
	int want = vol_nclones(c, v) ? -EBUSY : 0, rc, del_rc;
	uint64_t before = 0, after = 0, id = mv->id;

	if (account) {
		if (!allocated_after_flush(c, &before))
			return;
		rc = cowstore_volume_info(c->cs, id, 1, &vi);
		if (!expect_rc(c, rc, 0, "cowstore_volume_info", NULL))
			return;
		c->account_checks++;
	}
	note(c, "vol-del %s (snapshots %u, clones of them %u)%s", mv->name, vol_nsnaps(c, v),
	     vol_nclones(c, v), account ? " with space check" : "");
	rc = del_rc = cowstore_volume_delete(c->cs, id, &err);
	if (!expect_rc(c, rc, want, "cowstore_volume_delete", &err))
		return;
	if (want == 0) {
		uint64_t gone[MAX_SNAPS];
		int ngone = 0;

		for (int i = 0; i < MAX_SNAPS; i++) {
			if (c->snaps[i].alive && c->snaps[i].vol == v) {
				gone[ngone++] = c->snaps[i].id;
				drop_snap(c, i);
			}
		}
		if (mv->parent >= 0)
			c->snaps[mv->parent].nclones--;
		mv->alive = false;
		mv->parent = -1;
		memset(mv->seeds, 0, MAX_VOL_SECTORS * sizeof(uint32_t));
		rc = cowstore_read(c->cs, id, 0, 1, c->rbuf);
		if (rc != -ENOENT) {
			failf(c, "read of deleted volume id %" PRIu64 " returned %d, want -ENOENT",
			      id, rc);
			return;
		}
		for (int i = 0; i < ngone; i++)
			if (!check_gone_snapshot(c, gone[i], "after volume delete"))
				return;
	}
	if (want && !check_vol_intact(c, v, "after refused volume delete"))
		return;
	if (account) {
		uint64_t freed = want ? 0 : vi.unique_bytes;

		if (!allocated_after_flush(c, &after))
			return;
		if (before - after != freed || after > before)
			failf(c, "volume delete (rc %d) of %s (no snapshots): allocated_bytes went %" PRIu64
			      " -> %" PRIu64 " (freed %" PRId64 "), but its unique_bytes was %" PRIu64
			      " (want freed %" PRIu64 ")",
			      del_rc, mv->name, before, after, (int64_t)(before - after),
			      vi.unique_bytes, freed);
	}
}

static void op_resize(struct ctx *c, int v)
{
	struct cowstore_err err = {{0}};
	struct mvol *mv = &c->vols[v];
	uint32_t old = mv->nsectors, size, low;
	int rc;

	switch (rnd_below(c, 3)) {
	case 0: /* a block or two either way */
		size = old + SPB * rnd_below(c, 5) - 2 * SPB;
		break;
	case 1:
		size = old + (rnd_below(c, 2) ? 1 : -1) * (int32_t)(SPB * (1 + rnd_below(c, 64)));
		break;
	default:
		size = rand_vol_sectors(c);
		break;
	}
	size = max_u32(MIN_VOL_SECTORS, min_u32(size, MAX_VOL_SECTORS));
	note(c, "resize %s %u -> %u sectors", mv->name, old, size);
	rc = cowstore_volume_resize(c->cs, mv->id, (uint64_t)size * SECT, &err);
	if (!expect_rc(c, rc, 0, "cowstore_volume_resize", &err))
		return;
	if (size < old)
		memset(mv->seeds + size, 0, (old - size) * sizeof(uint32_t));
	mv->nsectors = size;
	low = min_u32(old, size);
	if (!verify_range(c, v, -1, low > 32 ? low - 32 : 0, 64 + 2 * SPB, "after resize"))
		return;
	if (!verify_range(c, v, -1, size > 24 ? size - 24 : 0, 24, "after resize"))
		return;
	rc = cowstore_read(c->cs, mv->id, size - 1, 2, c->rbuf);
	if (!expect_rc(c, rc, -EINVAL, "read across the new end", NULL))
		return;
	verify_sample(c, v, -1, "after resize");
}

static void op_copy(struct ctx *c)
{
	int dst = pick_vol(c), src = pick_vol(c), rc;
	uint32_t dsize, ssize, n, dlba, slba, kind = rnd_below(c, 4);
	uint32_t *tmp;
	bool oob = false;

	if (dst < 0)
		return;
	if (src == dst && rnd_below(c, 4) != 0) {
		src = pick_vol(c); /* mostly between two volumes */
	}
	dsize = c->vols[dst].nsectors;
	ssize = c->vols[src].nsectors;
	n = rnd_below(c, 3) ? rand_len(c, 512) : 1 + rnd_below(c, MAX_COPY_SECTORS);
	n = min_u32(n, min_u32(dsize, ssize));
	if (kind <= 1) {
		/* Both block-aligned: pure sharing. */
		n = max_u32(SPB, n & ~(SPB - 1));
		dlba = SPB * rnd_below(c, (dsize - n) / SPB + 1);
		slba = SPB * rnd_below(c, (ssize - n) / SPB + 1);
	} else if (kind == 2) {
		/* Same offset in the block: shares the middle, copies the edges. */
		uint32_t off = rnd_below(c, SPB);

		n = max_u32(1, min_u32(n, min_u32(dsize, ssize) - off));
		dlba = off + SPB * rnd_below(c, (dsize - off - n) / SPB + 1);
		slba = off + SPB * rnd_below(c, (ssize - off - n) / SPB + 1);
	} else {
		dlba = rnd_below(c, dsize - n + 1);
		slba = rnd_below(c, ssize - n + 1);
	}
	if (src == dst) {
		/* Same volume: only non-overlapping ranges (overlap is unspecified). */
		if (dlba < slba + n && slba < dlba + n) {
			if (slba >= n)
				dlba = slba - n;
			else if (slba + 2 * n <= dsize)
				dlba = slba + n;
			else
				return;
			if (kind <= 1)
				dlba &= ~(SPB - 1);
			if (dlba < slba + n && slba < dlba + n)
				return;
		}
	}
	if (rnd_below(c, 100) == 0) {
		oob = true;
		slba = ssize - n + 1 + rnd_below(c, 8);
	}
	note(c, "copy %s lba %u <- %s lba %u n %u%s", c->vols[dst].name, dlba,
	     c->vols[src].name, slba, n, oob ? " (source past the end)" : "");
	rc = cowstore_copy(c->cs, c->vols[dst].id, dlba, c->vols[src].id, slba, n);
	if (!expect_rc(c, rc, oob ? -EINVAL : 0, "cowstore_copy", NULL))
		return;
	if (oob) {
		verify_around(c, dst, -1, dlba, n, "after refused copy");
		return;
	}
	tmp = malloc(n * sizeof(uint32_t));
	memcpy(tmp, c->vols[src].seeds + slba, n * sizeof(uint32_t));
	memcpy(c->vols[dst].seeds + dlba, tmp, n * sizeof(uint32_t));
	free(tmp);
	if (verify_around(c, dst, -1, dlba, n, "after copy (destination)"))
		verify_range(c, src, -1, slba, n, "after copy (source)");
}

static void op_reopen(struct ctx *c)
{
	note(c, "reopen");
	c->reopens++;
	cowstore_close(c->cs);
	c->cs = NULL;
	if (pool_open(c))
		verify_all(c, "after reopen");
}

/* Delete every volume (clones before what they depend on), then the pool
 * must hold no data. */
static void teardown_check(struct ctx *c)
{
	struct cowstore_pool_info pi;
	struct cowstore_err err = {{0}};
	bool progress = true;

	while (!c->failed && count_vols(c) && progress) {
		progress = false;
		for (int v = 0; v < MAX_VOLS && !c->failed; v++) {
			if (!c->vols[v].alive || vol_nclones(c, v))
				continue;
			note(c, "teardown: vol-del %s", c->vols[v].name);
			int rc = cowstore_volume_delete(c->cs, c->vols[v].id, &err);
			if (!expect_rc(c, rc, 0, "cowstore_volume_delete (teardown)", &err))
				return;
			for (int i = 0; i < MAX_SNAPS; i++)
				if (c->snaps[i].alive && c->snaps[i].vol == v)
					drop_snap(c, i);
			if (c->vols[v].parent >= 0)
				c->snaps[c->vols[v].parent].nclones--;
			c->vols[v].alive = false;
			c->vols[v].parent = -1;
			progress = true;
		}
	}
	if (c->failed)
		return;
	if (!expect_rc(c, cowstore_flush(c->cs), 0, "cowstore_flush", NULL) ||
	    !expect_rc(c, cowstore_pool_info(c->cs, &pi), 0, "cowstore_pool_info", NULL))
		return;
	if (pi.allocated_bytes != 0 || pi.nvolumes != 0 || pi.nsnapshots != 0 ||
	    pi.logical_bytes != 0)
		failf(c, "after deleting every volume and a flush: allocated_bytes %" PRIu64
		      " logical_bytes %" PRIu64 " nvolumes %u nsnapshots %u, want all 0",
		      pi.allocated_bytes, pi.logical_bytes, pi.nvolumes, pi.nsnapshots);
}

/* ---- the random driver ---------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	v = strtoull(s, &end, 0);
	return *end ? def : (uint64_t)v;
}

static uint64_t g_seed;
static uint64_t g_total_ops;
static bool g_seed_set;

static void model_globals(void)
{
	if (g_seed_set)
		return;
	g_seed_set = true;
	g_seed = env_u64("SLATE_MODEL_SEED", 0);
	if (!getenv("SLATE_MODEL_SEED")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		g_seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
			 ((uint64_t)getpid() << 32);
		g_seed &= 0xFFFFFFFFFFFFull;
	}
	g_total_ops = env_u64("SLATE_MODEL_OPS", MODEL_ASAN ? 20000 : 100000);
	printf("  model: SLATE_MODEL_SEED=%" PRIu64 " SLATE_MODEL_OPS=%" PRIu64 "%s\n", g_seed,
	       g_total_ops, MODEL_ASAN ? " (ASan build)" : "");
	fflush(stdout);
}

static enum op choose_op(struct ctx *c, const struct mix *m)
{
	unsigned total = 0, r;

	for (int i = 0; i < OP_COUNT; i++)
		total += m->weight[i];
	r = rnd_below(c, total);
	for (int i = 0; i < OP_COUNT; i++) {
		if (r < m->weight[i])
			return (enum op)i;
		r -= m->weight[i];
	}
	return OP_WRITE;
}

static void step(struct ctx *c, const struct mix *m)
{
	enum op op = choose_op(c, m);
	int nvols = count_vols(c), v, s;
	struct timespec t0, t1;

	if (nvols == 0)
		op = OP_VOL_CREATE;
	switch (op) {
	case OP_SNAP:
		if (count_snaps(c) >= MAX_SNAPS)
			op = OP_SNAP_DEL;
		break;
	case OP_CLONE:
	case OP_VOL_CREATE:
		if (nvols >= (int)m->max_vols)
			op = OP_VOL_DEL;
		break;
	case OP_VOL_DEL:
		if (nvols <= 1)
			op = OP_WRITE;
		break;
	default:
		break;
	}
	if ((op == OP_CLONE || op == OP_ROLLBACK || op == OP_SNAP_DEL) && count_snaps(c) == 0)
		op = OP_WRITE;
	c->stats[op]++;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (op) {
	case OP_WRITE:
	case OP_WRITE_FUA:
		op_write(c, pick_vol(c), op == OP_WRITE_FUA ? COWSTORE_IO_FUA : 0);
		break;
	case OP_READ:
		op_read(c);
		break;
	case OP_DISCARD:
	case OP_ZERO:
		op_zero(c, pick_vol(c), op == OP_DISCARD);
		break;
	case OP_FLUSH:
		op_flush(c);
		break;
	case OP_SNAP:
		op_snap(c, pick_vol(c));
		break;
	case OP_CLONE:
		op_clone(c, pick_snap(c));
		break;
	case OP_ROLLBACK:
		op_rollback(c, pick_snap(c));
		break;
	case OP_SNAP_DEL:
		s = pick_snap(c);
		op_snap_del(c, s);
		break;
	case OP_VOL_DEL:
		v = pick_vol(c);
		op_vol_del(c, v);
		break;
	case OP_VOL_CREATE:
		op_vol_create(c);
		break;
	case OP_RESIZE:
		op_resize(c, pick_vol(c));
		break;
	case OP_COPY:
		op_copy(c);
		break;
	case OP_REOPEN:
		op_reopen(c);
		break;
	case OP_COUNT:
		break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->op_ns[op] += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
			(uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
}

static void run_random(const char *test, const struct mix *m)
{
	struct ctx *c = malloc(sizeof(*c));
	uint64_t nops;
	struct timespec t0, t1;

	model_globals();
	nops = g_total_ops * m->ops_permille / 1000;
	if (nops == 0)
		nops = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!c || !ctx_init(c, test, g_seed, g_total_ops, nops, m->plog_bytes, m->account_pct))
		goto out;
	for (unsigned i = 0; i < m->init_vols && !c->failed; i++)
		op_vol_create(c);
	for (c->step = 1; c->step <= nops && !c->failed; c->step++) {
		step(c, m);
		if (c->failed)
			break;
		if (c->step % FULL_VERIFY_EVERY == 0 && !verify_all(c, "full verify"))
			break;
		if (m->reopen_every && c->step % m->reopen_every == 0)
			op_reopen(c);
	}
	if (!c->failed) {
		c->step = nops;
		op_reopen(c);
	}
	if (!c->failed)
		teardown_check(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (c->failed) {
		uint64_t first = c->nhist > HIST ? c->nhist - HIST : 0;

		fprintf(stderr, "  last operations of %s:\n", test);
		for (uint64_t i = first; i < c->nhist; i++)
			fprintf(stderr, "    %s\n", c->hist[i % HIST]);
		fprintf(stderr, "  reproduce: SLATE_MODEL_SEED=%" PRIu64 " SLATE_MODEL_OPS=%" PRIu64
			" %s %s  (SLATE_MODEL_TRACE=1 prints every operation)\n",
			g_seed, g_total_ops, "build/tests/unit/cowstore/test_model", test);
	} else {
		printf("  %s: %" PRIu64 " ops in %.1f s, %" PRIu64 " full verifies (%.1f s), %" PRIu64
		       " reopens, %" PRIu64 " space checks;", test, nops,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       c->full_verifies, (double)c->verify_ns / 1e9, c->reopens, c->account_checks);
		for (int i = 0; i < OP_COUNT; i++)
			if (c->stats[i])
				printf(" %s %" PRIu64 " (%.1f s)", op_names[i], c->stats[i],
				       (double)c->op_ns[i] / 1e9);
		printf("\n");
	}
out:
	if (c)
		ctx_destroy(c);
	free(c);
}

/* ---- tests -------------------------------------------------------------- */

/* Shares of SLATE_MODEL_OPS and operation mixes are set so that the default
 * 100000 operations take about a minute: management operations are a tenth to
 * a fifth of each mix (still thousands of each per run); the rest are writes
 * and reads whose results are checked. */
static void test_single_volume(void)
{
	static const struct mix m = {
		.weight = {
			[OP_WRITE] = 64, [OP_READ] = 10, [OP_DISCARD] = 8, [OP_ZERO] = 8,
			[OP_FLUSH] = 2, [OP_RESIZE] = 2,
		},
		.init_vols = 1, .max_vols = 1, .reopen_every = 5000, .ops_permille = 250,
	};

	run_random("single_volume", &m);
}

static void test_snapshots_clones(void)
{
	static const struct mix m = {
		.weight = {
			[OP_WRITE] = 70, [OP_READ] = 8, [OP_DISCARD] = 3, [OP_ZERO] = 3,
			[OP_FLUSH] = 2, [OP_SNAP] = 5, [OP_CLONE] = 2, [OP_ROLLBACK] = 3,
			[OP_SNAP_DEL] = 4, [OP_VOL_DEL] = 2, [OP_VOL_CREATE] = 1, [OP_RESIZE] = 1,
		},
		.init_vols = 2, .max_vols = MAX_VOLS, .reopen_every = 1000, .account_pct = 25,
		.ops_permille = 250,
	};

	run_random("snapshots_clones", &m);
}

static void test_copy_resize(void)
{
	static const struct mix m = {
		.weight = {
			[OP_WRITE] = 48, [OP_READ] = 8, [OP_DISCARD] = 3, [OP_ZERO] = 3,
			[OP_FLUSH] = 2, [OP_SNAP] = 3, [OP_CLONE] = 1, [OP_SNAP_DEL] = 2,
			[OP_VOL_DEL] = 1, [OP_VOL_CREATE] = 1, [OP_RESIZE] = 6, [OP_COPY] = 20,
		},
		.init_vols = 3, .max_vols = MAX_VOLS, .reopen_every = 1000, .account_pct = 25,
		.ops_permille = 250,
	};

	run_random("copy_resize", &m);
}

static void test_mixed_reopen(void)
{
	static const struct mix m = {
		.weight = {
			[OP_WRITE] = 55, [OP_WRITE_FUA] = 5, [OP_READ] = 8, [OP_DISCARD] = 3,
			[OP_ZERO] = 3, [OP_FLUSH] = 2, [OP_SNAP] = 4, [OP_CLONE] = 2,
			[OP_ROLLBACK] = 2, [OP_SNAP_DEL] = 3, [OP_VOL_DEL] = 2, [OP_VOL_CREATE] = 1,
			[OP_RESIZE] = 2, [OP_COPY] = 8, [OP_REOPEN] = 0,
		},
		.init_vols = 3, .max_vols = MAX_VOLS, .reopen_every = 1000,
		.plog_bytes = 8u << 20, .account_pct = 25, .ops_permille = 250,
	};

	run_random("mixed_reopen", &m);
}

/* Exact space figures on a small hand-made history, then the drop in
 * allocated_bytes on every delete against the unique_bytes reported first. */
/* REQUIRE that still releases the pool. */
#define SREQ(cond)                                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			CHECK(cond);                                           \
			goto out;                                              \
		}                                                              \
	} while (0)

static void test_space_accounting(void)
{
	struct ctx *c = malloc(sizeof(*c));
	struct cowstore_err err = {{0}};
	struct cowstore_pool_info pi;
	struct cowstore_volume_info vi;
	struct cowstore_snapshot_info si;
	uint64_t a, b, vol = 0, vol2 = 0, clone = 0, snap1 = 0, snap2 = 0;
	const uint64_t KiB = 1024;

	model_globals();
	if (!c) {
		CHECK(c != NULL);
		return;
	}
	if (!ctx_init(c, "space_accounting", g_seed, g_total_ops, 0, 0, 0))
		goto out;

	/* 1 MiB written in four aligned pieces: 256 blocks. */
	CHECK_EQ(cowstore_volume_create(c->cs, "a", 4 << 20, &vol, &err), 0);
	for (uint32_t i = 0; i < 4; i++) {
		for (uint32_t s = 0; s < 512; s++)
			sector_fill(new_seed(c), c->wbuf + (size_t)s * SECT);
		CHECK_EQ(cowstore_write(c->cs, vol, i * 512, 512, c->wbuf, 0), 0);
	}
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, 1024 * KiB);
	SREQ(cowstore_volume_info(c->cs, vol, 1, &vi) == 0);
	CHECK_EQ(vi.mapped_bytes, 1024 * KiB);
	CHECK_EQ(vi.unique_bytes, 1024 * KiB);

	/* Snapshot, then overwrite 256 KiB: the old 64 blocks live on in it. */
	SREQ(cowstore_snapshot_create(c->cs, vol, "s1", &snap1, &err) == 0);
	for (uint32_t s = 0; s < 512; s++)
		sector_fill(new_seed(c), c->wbuf + (size_t)s * SECT);
	CHECK_EQ(cowstore_write(c->cs, vol, 0, 512, c->wbuf, 0), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, 1280 * KiB);
	SREQ(cowstore_pool_info(c->cs, &pi) == 0);
	CHECK_EQ(pi.logical_bytes, 2048 * KiB);
	SREQ(snapshot_info(c, vol, snap1, &si));
	CHECK_EQ(si.unique_bytes, 256 * KiB);
	CHECK_EQ(si.shared_bytes, 768 * KiB);
	CHECK_EQ(si.size_bytes, 4 << 20);
	SREQ(cowstore_volume_info(c->cs, vol, 1, &vi) == 0);
	CHECK_EQ(vi.mapped_bytes, 1024 * KiB);
	CHECK_EQ(vi.unique_bytes, 256 * KiB);

	/* Discard the new blocks: they go; the snapshot keeps its own. */
	CHECK_EQ(cowstore_discard(c->cs, vol, 0, 512), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, 1024 * KiB);
	SREQ(snapshot_info(c, vol, snap1, &si));
	CHECK_EQ(si.unique_bytes, 256 * KiB);
	SREQ(cowstore_volume_info(c->cs, vol, 1, &vi) == 0);
	CHECK_EQ(vi.mapped_bytes, 768 * KiB);
	CHECK_EQ(vi.unique_bytes, 0);

	/* A clone of s1 blocks its deletion; then an unaligned 1-sector write
	 * in the clone costs exactly one block. */
	SREQ(cowstore_clone_create(c->cs, snap1, "a-clone", &clone, &err) == 0);
	CHECK_EQ(cowstore_snapshot_delete(c->cs, snap1, &err), -EBUSY);
	CHECK_EQ(cowstore_volume_delete(c->cs, vol, &err), -EBUSY);
	sector_fill(new_seed(c), c->wbuf);
	CHECK_EQ(cowstore_write(c->cs, clone, 3, 1, c->wbuf, 0), 0);
	SREQ(allocated_after_flush(c, &b));
	CHECK_EQ(b, a + 4 * KiB);
	SREQ(cowstore_volume_info(c->cs, clone, 1, &vi) == 0);
	CHECK_EQ(vi.unique_bytes, 4 * KiB);
	CHECK_EQ(vi.parent_snapshot_id, snap1);

	/* A block-aligned copy shares: no new space. */
	CHECK_EQ(cowstore_volume_create(c->cs, "b", 2 << 20, &vol2, &err), 0);
	CHECK_EQ(cowstore_copy(c->cs, vol2, 0, vol, 512, 1024), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, b);
	SREQ(cowstore_volume_info(c->cs, vol2, 1, &vi) == 0);
	CHECK_EQ(vi.mapped_bytes, 512 * KiB);
	CHECK_EQ(vi.unique_bytes, 0);

	/* Deleting the clone frees its one block, then s1 frees its 64. */
	CHECK_EQ(cowstore_volume_delete(c->cs, clone, &err), 0);
	SREQ(allocated_after_flush(c, &b));
	CHECK_EQ(b, a - 4 * KiB);
	SREQ(snapshot_info(c, vol, snap1, &si));
	CHECK_EQ(si.nclones, 0);
	CHECK_EQ(cowstore_snapshot_delete(c->cs, snap1, &err), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, b - 256 * KiB);

	/* A second snapshot shares everything with the head: unique 0. */
	SREQ(cowstore_snapshot_create(c->cs, vol, "s2", &snap2, &err) == 0);
	SREQ(snapshot_info(c, vol, snap2, &si));
	CHECK_EQ(si.unique_bytes, 0);
	CHECK_EQ(cowstore_write_zeroes(c->cs, vol, 0, 8192), 0);
	SREQ(allocated_after_flush(c, &b));
	CHECK_EQ(b, a);
	SREQ(snapshot_info(c, vol, snap2, &si));
	/* s2 alone holds the 64 blocks not copied into b. */
	CHECK_EQ(si.unique_bytes, 256 * KiB);
	CHECK_EQ(cowstore_volume_delete(c->cs, vol, &err), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, 512 * KiB);
	CHECK_EQ(cowstore_volume_delete(c->cs, vol2, &err), 0);
	SREQ(allocated_after_flush(c, &a));
	CHECK_EQ(a, 0);
	SREQ(cowstore_pool_info(c->cs, &pi) == 0);
	CHECK_EQ(pi.logical_bytes, 0);
	CHECK_EQ(pi.nvolumes, 0);
	CHECK_EQ(pi.nsnapshots, 0);
out:
	if (c) {
		if (harness_failures)
			c->failed = true;
		ctx_destroy(c);
	}
	free(c);
}

static const struct harness_test tests[] = {
	{"space_accounting", test_space_accounting},
	{"single_volume", test_single_volume},
	{"snapshots_clones", test_snapshots_clones},
	{"copy_resize", test_copy_resize},
	{"mixed_reopen", test_mixed_reopen},
};

HARNESS_MAIN(tests)
