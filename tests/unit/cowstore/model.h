/*
 * model.h - the reference model of test_model.c: deterministic sector
 * contents, the model's volumes and snapshots, the test context, random
 * choices and the checks that compare the store with the model.  Only
 * test_model.c includes it (its own file so that the operations and the
 * driver read apart from the model they drive).
 */
#ifndef SLATE_TESTS_COWSTORE_MODEL_H
#define SLATE_TESTS_COWSTORE_MODEL_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "tests/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define MODEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MODEL_ASAN 1
#endif
#endif
#ifndef MODEL_ASAN
#define MODEL_ASAN 0
#endif

#define SECT 512u
#define SPB 8u                         /* sectors per 4 KiB block */
#define MAX_VOLS 6
#define MAX_SNAPS 12
#define MIN_VOL_SECTORS 2048u          /* 1 MiB */
#define MAX_VOL_SECTORS 32768u         /* 16 MiB */
#define MAX_WRITE_SECTORS 512u         /* 256 KiB */
#define MAX_ZERO_SECTORS 4096u         /* 2 MiB */
#define MAX_COPY_SECTORS 2048u         /* 1 MiB */
#define CHUNK_SECTORS 2048u            /* reads are split into 1 MiB pieces */
#define IO_BUF_BYTES (CHUNK_SECTORS * SECT + 4096u)
#define FULL_VERIFY_EVERY 500u
#define HIST 48

/* ---- deterministic content ------------------------------------------ */

static inline uint32_t content_word(uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 0x9E3779B1u ^ (i * 0x85EBCA77u + 0x27D4EB2Fu);

	x ^= x >> 16;
	x *= 0x7FEB352Du;
	x ^= x >> 15;
	x *= 0x846CA68Bu;
	x ^= x >> 16;
	return x;
}

/* Word 0 is the seed itself and word 1 its complement, so a wrong sector
 * tells which write it came from. */
static void sector_fill(uint32_t seed, uint8_t *out)
{
	uint32_t w[SECT / 4];

	if (!seed) {
		memset(out, 0, SECT);
		return;
	}
	w[0] = seed;
	w[1] = ~seed;
	for (uint32_t i = 2; i < SECT / 4; i++)
		w[i] = content_word(seed, i);
	memcpy(out, w, SECT);
}

static bool sector_is(uint32_t seed, const uint8_t *p)
{
	uint32_t w[SECT / 4];

	memcpy(w, p, SECT);
	if (!seed) {
		for (uint32_t i = 0; i < SECT / 4; i++)
			if (w[i])
				return false;
		return true;
	}
	if (w[0] != seed || w[1] != ~seed)
		return false;
	for (uint32_t i = 2; i < SECT / 4; i++)
		if (w[i] != content_word(seed, i))
			return false;
	return true;
}

static void sector_describe(const uint8_t *p, char *out, size_t len)
{
	uint32_t w[2];

	memcpy(w, p, sizeof(w));
	if (sector_is(0, p))
		snprintf(out, len, "zeros");
	else if (w[0] && sector_is(w[0], p))
		snprintf(out, len, "seed %u", w[0]);
	else
		snprintf(out, len, "garbage (words %08x %08x)", w[0], w[1]);
}

/* ---- model ------------------------------------------------------------ */

struct mvol {
	bool alive;
	uint64_t id;
	char name[24];
	uint32_t nsectors;
	uint32_t *seeds;  /* MAX_VOL_SECTORS entries; 0 past nsectors */
	int parent;       /* snapshot slot this clone was made from, or -1 */
};

struct msnap {
	bool alive;
	uint64_t id;
	int vol;          /* volume slot */
	char name[24];
	uint64_t order;   /* creation sequence: newer is larger */
	uint32_t nsectors;
	uint32_t *seeds;
	uint32_t nclones;
};

enum op {
	OP_WRITE,
	OP_WRITE_FUA,
	OP_READ,
	OP_DISCARD,
	OP_ZERO,
	OP_FLUSH,
	OP_SNAP,
	OP_CLONE,
	OP_ROLLBACK,
	OP_SNAP_DEL,
	OP_VOL_DEL,
	OP_VOL_CREATE,
	OP_RESIZE,
	OP_COPY,
	OP_REOPEN,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"write", "write-fua", "read", "discard", "zero", "flush", "snap", "clone",
	"rollback", "snap-del", "vol-del", "vol-create", "resize", "copy", "reopen",
};

struct mix {
	unsigned weight[OP_COUNT];
	unsigned init_vols;
	unsigned max_vols;
	unsigned reopen_every;   /* steps; 0: never on schedule */
	uint64_t plog_bytes;
	unsigned account_pct;    /* deletes that also check space accounting */
	unsigned ops_permille;   /* share of SLATE_MODEL_OPS */
};

struct ctx {
	const char *test;
	uint64_t base_seed;
	uint64_t total_ops;
	uint64_t rng;
	uint64_t nops;
	uint64_t step;
	char dir[64];
	struct cowstore *cs;
	struct mvol vols[MAX_VOLS];
	struct msnap snaps[MAX_SNAPS];
	uint64_t snap_order;
	uint64_t name_seq;
	uint32_t next_seed;
	uint8_t *wbuf_mem, *rbuf_mem;
	uint8_t *wbuf, *rbuf;  /* 4 KiB aligned, IO_BUF_BYTES */
	bool failed;
	bool trace;
	unsigned account_pct;
	char hist[HIST][220];
	uint64_t nhist;
	uint64_t stats[OP_COUNT];
	uint64_t op_ns[OP_COUNT];   /* time spent in each kind, checks included */
	uint64_t full_verifies, reopens, account_checks;
	uint64_t verify_ns;        /* time in verify_all */
};

/* ---- plumbing ---------------------------------------------------------- */

static uint64_t rnd(struct ctx *c)
{
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(struct ctx *c, uint32_t n)
{
	return n ? (uint32_t)(rnd(c) % n) : 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static void failf(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  [%s step %" PRIu64 "] ", c->test, c->step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (!c->failed) {
		c->failed = true;
		harness_failures++;
	}
}

static void note(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ctx *c, const char *fmt, ...)
{
	char *line = c->hist[c->nhist % HIST];
	int len = snprintf(line, sizeof(c->hist[0]), "#%" PRIu64 " ", c->step);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(c->hist[0]) - (size_t)len, fmt, ap);
	va_end(ap);
	c->nhist++;
	if (c->trace)
		fprintf(stderr, "    %s\n", line);
}

static bool expect_rc(struct ctx *c, int got, int want, const char *what,
		      const struct cowstore_err *err)
{
	if (got == want)
		return true;
	failf(c, "%s returned %d (%s), want %d (%s)%s%s", what, got, strerror(-got), want,
	      strerror(-want), err && err->msg[0] ? ": " : "", err ? err->msg : "");
	return false;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint32_t new_seed(struct ctx *c)
{
	if (c->next_seed == 0)
		c->next_seed = 1;
	return c->next_seed++;
}

static int count_vols(const struct ctx *c)
{
	int n = 0;

	for (int i = 0; i < MAX_VOLS; i++)
		n += c->vols[i].alive;
	return n;
}

static int count_snaps(const struct ctx *c)
{
	int n = 0;

	for (int i = 0; i < MAX_SNAPS; i++)
		n += c->snaps[i].alive;
	return n;
}

static int pick_vol(struct ctx *c)
{
	int n = count_vols(c), k;

	if (!n)
		return -1;
	k = (int)rnd_below(c, (uint32_t)n);
	for (int i = 0; i < MAX_VOLS; i++)
		if (c->vols[i].alive && k-- == 0)
			return i;
	return -1;
}

static int pick_snap(struct ctx *c)
{
	int n = count_snaps(c), k;

	if (!n)
		return -1;
	k = (int)rnd_below(c, (uint32_t)n);
	for (int i = 0; i < MAX_SNAPS; i++)
		if (c->snaps[i].alive && k-- == 0)
			return i;
	return -1;
}

static int free_vol_slot(const struct ctx *c)
{
	for (int i = 0; i < MAX_VOLS; i++)
		if (!c->vols[i].alive)
			return i;
	return -1;
}

static int free_snap_slot(const struct ctx *c)
{
	for (int i = 0; i < MAX_SNAPS; i++)
		if (!c->snaps[i].alive)
			return i;
	return -1;
}

static uint32_t vol_nsnaps(const struct ctx *c, int v)
{
	uint32_t n = 0;

	for (int i = 0; i < MAX_SNAPS; i++)
		n += c->snaps[i].alive && c->snaps[i].vol == v;
	return n;
}

static uint32_t vol_nclones(const struct ctx *c, int v)
{
	uint32_t n = 0;

	for (int i = 0; i < MAX_SNAPS; i++)
		if (c->snaps[i].alive && c->snaps[i].vol == v)
			n += c->snaps[i].nclones;
	return n;
}

/* Volume sizes: 1..16 MiB, whole 4 KiB blocks (the store refuses other
 * sizes with -EINVAL); small ones are likelier (more overlap, cheaper full
 * verifies): 1-2 MiB 45%, 2-4 30%, 4-8 15%, 8-16 10%. */
static uint32_t rand_vol_sectors(struct ctx *c)
{
	uint32_t dice = rnd_below(c, 100);
	uint32_t shift = dice < 45 ? 0 : dice < 75 ? 1 : dice < 90 ? 2 : 3;
	uint32_t lo = MIN_VOL_SECTORS << shift;
	uint32_t hi = min_u32(lo * 2, MAX_VOL_SECTORS);
	uint32_t n = (lo + rnd_below(c, hi - lo + 1)) & ~(SPB - 1);

	return max_u32(min_u32(n, MAX_VOL_SECTORS), MIN_VOL_SECTORS);
}

static uint32_t rand_len(struct ctx *c, uint32_t max_sectors)
{
	uint32_t r = rnd_below(c, 100), cap;

	if (r < 55)
		cap = 16;
	else if (r < 85)
		cap = 128;
	else
		cap = 512;
	cap = min_u32(cap, max_sectors);
	return 1 + rnd_below(c, cap);
}

/* A range [lba, lba+n) inside size sectors, n <= maxn: half block-aligned,
 * a third in a small hot zone (overlapping RMW), some ending at the end. */
static void pick_range(struct ctx *c, uint32_t size, uint32_t maxn, uint32_t len,
		       uint32_t *lba, uint32_t *n)
{
	uint32_t kind = rnd_below(c, 12);
	uint32_t zone = rnd_below(c, 3) == 0 ? min_u32(size, 1024) : size;

	len = max_u32(1, min_u32(min_u32(len, maxn), zone));
	if (kind < 6 && zone >= SPB && maxn >= SPB) {
		uint32_t nb = min_u32((len + SPB - 1) / SPB, zone / SPB);
		uint32_t zb = zone / SPB;

		nb = max_u32(1, min_u32(nb, maxn / SPB));
		*n = nb * SPB;
		*lba = SPB * rnd_below(c, zb - nb + 1);
	} else {
		*n = len;
		*lba = rnd_below(c, zone - len + 1);
	}
	if (kind == 11)
		*lba = size - *n;
}

/* A buffer pointer that is sometimes not sector-aligned: the API takes any. */
static uint8_t *io_ptr(struct ctx *c, uint8_t *base)
{
	if (rnd_below(c, 10) == 0)
		return base + 8 * (1 + rnd_below(c, 63));
	return base;
}

/* ---- verification ------------------------------------------------------ */

/* Read [lba, lba+n) of a volume (snap < 0) or snapshot and compare it with
 * the model.  Returns false (and fails the test) on the first mismatch. */
static bool verify_range(struct ctx *c, int vol, int snap, uint32_t lba, uint32_t n,
			 const char *why)
{
	const uint32_t *seeds;
	uint32_t size;
	uint64_t id;
	char what[64];

	if (snap >= 0) {
		seeds = c->snaps[snap].seeds;
		size = c->snaps[snap].nsectors;
		id = c->snaps[snap].id;
		snprintf(what, sizeof(what), "snapshot %s (id %" PRIu64 ")", c->snaps[snap].name, id);
	} else {
		seeds = c->vols[vol].seeds;
		size = c->vols[vol].nsectors;
		id = c->vols[vol].id;
		snprintf(what, sizeof(what), "volume %s (id %" PRIu64 ")", c->vols[vol].name, id);
	}
	if (lba >= size)
		return true;
	n = min_u32(n, size - lba);
	while (n) {
		uint32_t chunk = min_u32(n, CHUNK_SECTORS);
		uint8_t *buf = io_ptr(c, c->rbuf);
		int rc;

		rc = snap >= 0 ? cowstore_read_snapshot(c->cs, id, lba, chunk, buf)
			       : cowstore_read(c->cs, id, lba, chunk, buf);
		if (rc) {
			failf(c, "%s: read of %s lba %u n %u returned %d (%s)", why, what, lba,
			      chunk, rc, strerror(-rc));
			return false;
		}
		for (uint32_t i = 0; i < chunk; i++) {
			uint32_t first, last, bad = 0;
			char got[64], want[32];

			if (sector_is(seeds[lba + i], buf + (size_t)i * SECT))
				continue;
			first = last = lba + i;
			for (uint32_t j = i; j < chunk; j++) {
				if (!sector_is(seeds[lba + j], buf + (size_t)j * SECT)) {
					bad++;
					last = lba + j;
				}
			}
			sector_describe(buf + (size_t)i * SECT, got, sizeof(got));
			if (seeds[first])
				snprintf(want, sizeof(want), "seed %u", seeds[first]);
			else
				snprintf(want, sizeof(want), "zeros");
			failf(c, "%s: %s sector %u (block %u, sector %u of it) reads %s, want %s;"
			      " %u bad sectors in %u..%u of this %u-sector read at lba %u",
			      why, what, first, first / SPB, first % SPB, got, want, bad, first,
			      last, chunk, lba);
			return false;
		}
		lba += chunk;
		n -= chunk;
	}
	return true;
}

/* A range with a block of margin on both sides (neighbours of an RMW). */
static bool verify_around(struct ctx *c, int vol, int snap, uint32_t lba, uint32_t n,
			  const char *why)
{
	uint32_t lo = lba >= SPB ? lba - SPB : 0;

	return verify_range(c, vol, snap, lo, lba + n + SPB - lo, why);
}

/* A random window and the tail of a view. */
static bool verify_sample(struct ctx *c, int vol, int snap, const char *why)
{
	uint32_t size = snap >= 0 ? c->snaps[snap].nsectors : c->vols[vol].nsectors;
	uint32_t n = min_u32(size, 1 + rnd_below(c, 256));
	uint32_t lba = rnd_below(c, size - n + 1);

	if (!verify_range(c, vol, snap, lba, n, why))
		return false;
	return verify_range(c, vol, snap, size > 24 ? size - 24 : 0, 24, why);
}

static bool check_gone_snapshot(struct ctx *c, uint64_t id, const char *why)
{
	int rc = cowstore_read_snapshot(c->cs, id, 0, 1, c->rbuf);

	if (rc != -ENOENT) {
		failf(c, "%s: read of deleted snapshot id %" PRIu64 " returned %d, want -ENOENT",
		      why, id, rc);
		return false;
	}
	return true;
}

/* After a refused operation on volume v: it and its snapshots are intact
 * (a refusal must have no side effect). */
static bool check_vol_intact(struct ctx *c, int v, const char *why)
{
	for (int s = 0; s < MAX_SNAPS; s++)
		if (c->snaps[s].alive && c->snaps[s].vol == v && !verify_sample(c, -1, s, why))
			return false;
	return verify_sample(c, v, -1, why);
}

/* Every volume and snapshot in full, plus the info the API reports. */
static bool verify_all_views(struct ctx *c, const char *why);

static bool verify_all(struct ctx *c, const char *why)
{
	struct timespec t0, t1;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = verify_all_views(c, why);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->verify_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
			(uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	return ok;
}

static bool verify_all_views(struct ctx *c, const char *why)
{
	struct cowstore_pool_info pi;
	uint64_t mapped_sum = 0;
	int rc;

	c->full_verifies++;
	for (int v = 0; v < MAX_VOLS; v++) {
		struct mvol *mv = &c->vols[v];
		struct cowstore_volume_info vi;
		uint64_t data_blocks = 0;

		if (!mv->alive)
			continue;
		if (!verify_range(c, v, -1, 0, mv->nsectors, why))
			return false;
		rc = cowstore_volume_info(c->cs, mv->id, 1, &vi);
		if (!expect_rc(c, rc, 0, "cowstore_volume_info", NULL))
			return false;
		for (uint32_t b = 0; b < (mv->nsectors + SPB - 1) / SPB; b++) {
			for (uint32_t s = 0; s < SPB; s++) {
				if (mv->seeds[b * SPB + s]) {
					data_blocks++;
					break;
				}
			}
		}
		mapped_sum += vi.mapped_bytes;
		if (vi.size_bytes != (uint64_t)mv->nsectors * SECT ||
		    strcmp(vi.name, mv->name) != 0 ||
		    vi.parent_snapshot_id != (mv->parent >= 0 ? c->snaps[mv->parent].id : 0) ||
		    vi.nsnapshots != vol_nsnaps(c, v) || vi.nclones != vol_nclones(c, v) ||
		    vi.mapped_bytes < data_blocks * COWSTORE_BLOCK_SIZE ||
		    vi.mapped_bytes > (uint64_t)(mv->nsectors + SPB - 1) / SPB * COWSTORE_BLOCK_SIZE ||
		    vi.unique_bytes > vi.mapped_bytes) {
			failf(c, "%s: volume_info of %s: size %" PRIu64 " name %s parent %" PRIu64
			      " nsnapshots %u nclones %u mapped %" PRIu64 " unique %" PRIu64
			      "; want size %u name %s parent %" PRIu64 " nsnapshots %u nclones %u"
			      " mapped >= %" PRIu64 " (blocks holding nonzero data) and <= size,"
			      " unique <= mapped",
			      why, mv->name, vi.size_bytes, vi.name, vi.parent_snapshot_id,
			      vi.nsnapshots, vi.nclones, vi.mapped_bytes, vi.unique_bytes,
			      mv->nsectors * SECT, mv->name,
			      mv->parent >= 0 ? c->snaps[mv->parent].id : 0, vol_nsnaps(c, v),
			      vol_nclones(c, v), data_blocks * COWSTORE_BLOCK_SIZE);
			return false;
		}
	}
	for (int s = 0; s < MAX_SNAPS; s++)
		if (c->snaps[s].alive && !verify_range(c, -1, s, 0, c->snaps[s].nsectors, why))
			return false;
	for (int v = 0; v < MAX_VOLS; v++) {
		struct cowstore_snapshot_info *list = NULL;
		size_t count = 0, k = 0;
		uint64_t prev_order = 0;

		if (!c->vols[v].alive)
			continue;
		rc = cowstore_snapshot_list(c->cs, c->vols[v].id, &list, &count);
		if (!expect_rc(c, rc, 0, "cowstore_snapshot_list", NULL))
			return false;
		if (count != vol_nsnaps(c, v)) {
			failf(c, "%s: snapshot_list of %s has %zu entries, want %u", why,
			      c->vols[v].name, count, vol_nsnaps(c, v));
			free(list);
			return false;
		}
		/* The model's snapshots of v in creation order, against the list. */
		for (;;) {
			int next = -1;

			for (int s = 0; s < MAX_SNAPS; s++) {
				const struct msnap *ms = &c->snaps[s];

				if (ms->alive && ms->vol == v && ms->order > prev_order &&
				    (next < 0 || ms->order < c->snaps[next].order))
					next = s;
			}
			if (next < 0)
				break;
			prev_order = c->snaps[next].order;
			if (list[k].id != c->snaps[next].id || list[k].volume_id != c->vols[v].id ||
			    strcmp(list[k].name, c->snaps[next].name) != 0 ||
			    list[k].size_bytes != (uint64_t)c->snaps[next].nsectors * SECT ||
			    list[k].nclones != c->snaps[next].nclones) {
				failf(c, "%s: snapshot_list of %s entry %zu: id %" PRIu64 " vol %" PRIu64
				      " name %s size %" PRIu64 " nclones %u; want id %" PRIu64
				      " vol %" PRIu64 " name %s size %u nclones %u (oldest first)",
				      why, c->vols[v].name, k, list[k].id, list[k].volume_id,
				      list[k].name, list[k].size_bytes, list[k].nclones,
				      c->snaps[next].id, c->vols[v].id, c->snaps[next].name,
				      c->snaps[next].nsectors * SECT, c->snaps[next].nclones);
				free(list);
				return false;
			}
			k++;
		}
		free(list);
	}
	rc = cowstore_pool_info(c->cs, &pi);
	if (!expect_rc(c, rc, 0, "cowstore_pool_info", NULL))
		return false;
	if (pi.nvolumes != (uint32_t)count_vols(c) || pi.nsnapshots != (uint32_t)count_snaps(c) ||
	    pi.logical_bytes < mapped_sum || pi.allocated_bytes > pi.capacity_bytes) {
		failf(c, "%s: pool_info: nvolumes %u nsnapshots %u logical %" PRIu64
		      " allocated %" PRIu64 " capacity %" PRIu64 "; want nvolumes %d nsnapshots %d"
		      " logical >= %" PRIu64 " (sum of volumes' mapped bytes), allocated <= capacity",
		      why, pi.nvolumes, pi.nsnapshots, pi.logical_bytes, pi.allocated_bytes,
		      pi.capacity_bytes, count_vols(c), count_snaps(c), mapped_sum);
		return false;
	}
	return true;
}

#endif
