/*
 * crash.c - crash test of cowstore durability.  A child process opens a pool,
 * writes to three volumes (aligned and unaligned, some with FUA), flushes and
 * takes snapshots, reporting each step to the parent through a pipe; the
 * parent SIGKILLs it at a random moment (5-40 ms after the fork in one round
 * of five, so that some kills land in cowstore_open's recovery; 5-300 ms
 * after the child reported cowstore_open done in the others), reopens the
 * pool with cowstore_open() and checks:
 *   - every sector holds the content of a write that may legally be there:
 *     the newest durable write to that sector (or the state the previous round
 *     left), or any write to it issued after that one;
 *   - writes are atomic: a write seen in one sector is not missing in another;
 *   - every snapshot reported durable exists and reads exactly the volume as
 *     it was when it was taken; a non-durable one that survived reads, per
 *     sector, something allowed at its creation; no unknown snapshot appears;
 *   - scrub finds no bad block.
 * Two pools alternate rounds, one with a persistent FUA log (plog_bytes =
 * 8 MiB) and one without; each carries its model from round to round, so the
 * child of round k+2 starts from what the crash of round k left.
 *
 * Durability rules (cowstore.h): a FUA write is durable when it returns; after
 * cowstore_flush returns 0 everything completed before it is durable, writes
 * and snapshots alike.  SIGKILL keeps the page cache, so this tests the
 * store's own ordering and recovery, not the disk's.
 *
 * Protocol, child -> parent: one 32-byte struct rec per write(2) on a pipe
 * (below PIPE_BUF, so a record arrives whole or not at all):
 *   REC_OPENED       cowstore_open returned.
 *   REC_WRITE_BEGIN  sent before a write is submitted (id, volume, lba, length,
 *                    FUA): a write in flight when the kill lands may or may
 *                    not persist, so the parent must know its content.
 *   REC_WRITE_DONE   the write returned 0; flag DURABLE when it was FUA.
 *   REC_SNAP_BEGIN   sent before cowstore_snapshot_create: sequence number,
 *                    volume, and the first write id it does not cover.
 *   REC_SNAP_DONE    the snapshot was created (its id).
 *   REC_FLUSH_DONE   cowstore_flush returned 0: writes with id < rec.id and
 *                    snapshots with sequence < rec.aux are durable.
 *   REC_ERROR        an unexpected error (rec.id = -errno); the round fails.
 * Only REC_FLUSH_DONE and a DURABLE REC_WRITE_DONE promise anything; the
 * other records only widen what the parent accepts.
 *
 * Environment: SLATE_CRASH_ROUNDS (default 100), SLATE_CRASH_SEED.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"

#define SECT 512u
#define SPB 8u
#define NVOLS 3
#define NPOOLS 2
#define MAX_WRITE_SECTORS 512u
#define MAX_SNAPS_PER_ROUND 6
#define KEEP_SNAPS_PER_VOL 2
#define MAX_KEPT (NVOLS * (KEEP_SNAPS_PER_VOL + MAX_SNAPS_PER_ROUND))
#define READ_CHUNK 2048u
#define SECTOR_MAGIC 0x534C4154u /* "SLAT" */
#define MAX_REPORTS 6            /* bad sectors printed per view */
#define OPEN_TIMEOUT_MS 10000    /* the child's cowstore_open must return by then */

static const uint32_t vol_sectors[NVOLS] = {
	8192,          /* 4 MiB */
	12288,         /* 6 MiB */
	16384,         /* 8 MiB */
};

/* ---- records ------------------------------------------------------------ */

enum rec_type {
	REC_OPENED = 1,
	REC_WRITE_BEGIN,
	REC_WRITE_DONE,
	REC_SNAP_BEGIN,
	REC_SNAP_DONE,
	REC_FLUSH_DONE,
	REC_ERROR,
};
#define REC_FUA 1u
#define REC_DURABLE 2u

struct rec {
	uint8_t type;
	uint8_t vol;
	uint8_t flags;
	uint8_t pad;
	uint32_t nsectors;
	uint64_t id;   /* write id, snapshot sequence, flush horizon, -errno */
	uint64_t lba;  /* write lba; snapshot horizon; snapshot id when done */
	uint64_t aux;  /* flush: snapshot horizon; error: what failed */
};
_Static_assert(sizeof(struct rec) == 32, "record size");

/* ---- content ------------------------------------------------------------ */

static inline uint32_t content_word(uint64_t wid, uint32_t vol, uint64_t lba, uint32_t i)
{
	uint64_t z = wid * 0x9E3779B97F4A7C15ull ^ lba * 0xC2B2AE3D27D4EB4Full ^
		     ((uint64_t)vol << 56) ^ (uint64_t)i * 0x165667B19E3779F9ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)(z ^ (z >> 31));
}

/* Sector lba of volume vol as write wid leaves it: a header naming all
 * three, then words that depend on all three. */
static void sector_fill(uint64_t wid, uint32_t vol, uint64_t lba, uint8_t *out)
{
	uint32_t w[SECT / 4];

	memcpy(&w[0], &wid, 8);
	memcpy(&w[2], &lba, 8);
	w[4] = vol;
	w[5] = SECTOR_MAGIC;
	for (uint32_t i = 6; i < SECT / 4; i++)
		w[i] = content_word(wid, vol, lba, i);
	memcpy(out, w, SECT);
}

#define DEC_GARBAGE UINT64_MAX
#define DEC_MISPLACED (UINT64_MAX - 1)

/* The write id whose content p holds (0: zeros), DEC_MISPLACED for a valid
 * sector that belongs elsewhere, DEC_GARBAGE otherwise. */
static uint64_t sector_decode(const uint8_t *p, uint32_t vol, uint64_t lba, uint64_t *hdr_wid,
			      uint64_t *hdr_lba)
{
	uint32_t w[SECT / 4];
	uint64_t wid, at;
	bool zero = true;

	memcpy(w, p, SECT);
	for (uint32_t i = 0; i < SECT / 4 && zero; i++)
		zero = w[i] == 0;
	if (zero)
		return 0;
	memcpy(&wid, &w[0], 8);
	memcpy(&at, &w[2], 8);
	*hdr_wid = wid;
	*hdr_lba = at;
	if (w[5] != SECTOR_MAGIC || wid == 0 || wid >= DEC_MISPLACED)
		return DEC_GARBAGE;
	for (uint32_t i = 6; i < SECT / 4; i++)
		if (w[i] != content_word(wid, w[4], at, i))
			return DEC_GARBAGE;
	if (w[4] != vol || at != lba)
		return DEC_MISPLACED;
	return wid;
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(splitmix(s) % n) : 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* ---- the child ------------------------------------------------------------ */

static void send_rec(int fd, const struct rec *r)
{
	ssize_t n;

	do
		n = write(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r))
		_exit(4);
}

static void child_fail(int fd, int rc, uint64_t what)
{
	struct rec r = {.type = REC_ERROR, .id = (uint64_t)(int64_t)rc, .aux = what};

	send_rec(fd, &r);
	_exit(2);
}

/* Runs until killed.  Write ids from first_wid, snapshot sequences from
 * first_seq; names are unique across rounds. */
static void child_main(const char *dir, const uint64_t *vol_ids, int fd, uint64_t seed,
		       uint64_t first_wid, uint64_t first_seq)
{
	struct cowstore *cs = NULL;
	struct cowstore_err err = {{0}};
	uint64_t rng = seed, wid = first_wid, seq = first_seq, start = now_ms();
	uint8_t *buf = aligned_alloc(4096, MAX_WRITE_SECTORS * SECT);
	struct rec r;
	int rc, nsnaps = 0;

	if (!buf)
		_exit(5);
	rc = cowstore_open(dir, &cs, &err);
	if (rc)
		child_fail(fd, rc, 1);
	r = (struct rec){.type = REC_OPENED};
	send_rec(fd, &r);
	while (now_ms() - start < 30000) {
		uint32_t dice = rnd_below(&rng, 1000);

		if (dice < 30) {
			rc = cowstore_flush(cs);
			if (rc)
				child_fail(fd, rc, 2);
			r = (struct rec){.type = REC_FLUSH_DONE, .id = wid, .aux = seq};
			send_rec(fd, &r);
		} else if (dice < 36 && nsnaps < MAX_SNAPS_PER_ROUND) {
			uint32_t v = rnd_below(&rng, NVOLS);
			uint64_t snap_id = 0;
			char name[32];

			snprintf(name, sizeof(name), "k%" PRIu64, seq);
			r = (struct rec){.type = REC_SNAP_BEGIN, .vol = (uint8_t)v, .id = seq,
					 .lba = wid};
			send_rec(fd, &r);
			rc = cowstore_snapshot_create(cs, vol_ids[v], name, &snap_id, &err);
			if (rc)
				child_fail(fd, rc, 3);
			r = (struct rec){.type = REC_SNAP_DONE, .vol = (uint8_t)v, .id = seq,
					 .lba = snap_id};
			send_rec(fd, &r);
			seq++;
			nsnaps++;
		} else {
			uint32_t v = rnd_below(&rng, NVOLS), size = vol_sectors[v];
			uint32_t zone = rnd_below(&rng, 5) < 2 ? 1024 : size;
			uint32_t pick = rnd_below(&rng, 100), n, lba;
			bool fua = rnd_below(&rng, 4) == 0;

			n = 1 + rnd_below(&rng, pick < 55 ? 16 : pick < 85 ? 128 : MAX_WRITE_SECTORS);
			if (rnd_below(&rng, 2)) {
				n = (n + SPB - 1) & ~(SPB - 1);
				lba = SPB * rnd_below(&rng, (zone - n) / SPB + 1);
			} else {
				lba = rnd_below(&rng, zone - n + 1);
			}
			if (rnd_below(&rng, 20) == 0)
				lba = size - n;
			for (uint32_t i = 0; i < n; i++)
				sector_fill(wid, v, lba + i, buf + (size_t)i * SECT);
			r = (struct rec){.type = REC_WRITE_BEGIN, .vol = (uint8_t)v,
					 .flags = fua ? REC_FUA : 0, .nsectors = n, .id = wid,
					 .lba = lba};
			send_rec(fd, &r);
			rc = cowstore_write(cs, vol_ids[v], lba, n, buf, fua ? COWSTORE_IO_FUA : 0);
			if (rc)
				child_fail(fd, rc, 4);
			r = (struct rec){.type = REC_WRITE_DONE, .vol = (uint8_t)v,
					 .flags = fua ? REC_DURABLE : 0, .id = wid};
			send_rec(fd, &r);
			wid++;
		}
	}
	_exit(3); /* never killed: the parent counts this as a failure */
}

/* ---- the parent's model ------------------------------------------------------ */

struct kept_snap {
	uint64_t id;
	char name[COWSTORE_NAME_MAX + 1];
	uint32_t vol;
	uint64_t seq;
	uint64_t *content; /* per sector: the write id it reads (0: zeros) */
};

struct pool_model {
	char dir[128];
	uint64_t plog_bytes;
	bool dead;                     /* could not be opened: no more rounds */
	uint64_t vol_ids[NVOLS];
	uint64_t *base[NVOLS];         /* per sector: write id, as verified last */
	struct kept_snap kept[MAX_KEPT];
	int nkept;
};

struct wlog {
	uint64_t lba;
	uint32_t n;
	uint8_t vol, fua, done;
	bool seen, missed;             /* atomicity evidence */
};

struct slog {
	uint64_t horizon;              /* writes with id < horizon are in it */
	uint64_t id;
	uint8_t vol;
	bool done;
	bool listed;
};

struct round_log {
	uint64_t first_wid, first_seq;
	struct wlog *w;
	size_t nw, capw;
	struct slog s[MAX_SNAPS_PER_ROUND];
	size_t ns;
	uint64_t flush_wid, flush_seq;
	unsigned nflushes;
	bool opened;
	bool protocol_error;
	struct rec error;
	bool have_error;
	uint8_t partial[sizeof(struct rec)];
	size_t npartial;
};

static int round_failures; /* problems found in the running round */

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	round_failures++;
}

static void log_record(struct round_log *lg, const struct rec *r)
{
	switch (r->type) {
	case REC_OPENED:
		lg->opened = true;
		break;
	case REC_WRITE_BEGIN:
		if (r->id != lg->first_wid + lg->nw || r->vol >= NVOLS || !r->nsectors ||
		    r->lba + r->nsectors > vol_sectors[r->vol]) {
			lg->protocol_error = true;
			break;
		}
		if (lg->nw == lg->capw) {
			lg->capw = lg->capw ? lg->capw * 2 : 4096;
			lg->w = realloc(lg->w, lg->capw * sizeof(*lg->w));
			if (!lg->w) {
				perror("realloc");
				exit(1);
			}
		}
		lg->w[lg->nw++] = (struct wlog){.lba = r->lba, .n = r->nsectors, .vol = r->vol,
						.fua = r->flags & REC_FUA};
		break;
	case REC_WRITE_DONE:
		if (r->id < lg->first_wid || r->id >= lg->first_wid + lg->nw) {
			lg->protocol_error = true;
			break;
		}
		lg->w[r->id - lg->first_wid].done = 1;
		break;
	case REC_SNAP_BEGIN:
		if (r->id != lg->first_seq + lg->ns || lg->ns >= MAX_SNAPS_PER_ROUND ||
		    r->vol >= NVOLS) {
			lg->protocol_error = true;
			break;
		}
		lg->s[lg->ns++] = (struct slog){.horizon = r->lba, .vol = r->vol};
		break;
	case REC_SNAP_DONE:
		if (r->id < lg->first_seq || r->id >= lg->first_seq + lg->ns) {
			lg->protocol_error = true;
			break;
		}
		lg->s[r->id - lg->first_seq].done = true;
		lg->s[r->id - lg->first_seq].id = r->lba;
		break;
	case REC_FLUSH_DONE:
		lg->flush_wid = r->id;
		lg->flush_seq = r->aux;
		lg->nflushes++;
		break;
	case REC_ERROR:
		lg->error = *r;
		lg->have_error = true;
		break;
	default:
		lg->protocol_error = true;
		break;
	}
}

/* Read what the pipe holds; returns false at end of file. */
static bool pump(int fd, struct round_log *lg)
{
	uint8_t buf[64 * sizeof(struct rec)];
	ssize_t n = read(fd, buf, sizeof(buf));
	size_t off = 0;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	while (off < (size_t)n) {
		size_t take = sizeof(struct rec) - lg->npartial;

		if (take > (size_t)n - off)
			take = (size_t)n - off;
		memcpy(lg->partial + lg->npartial, buf + off, take);
		lg->npartial += take;
		off += take;
		if (lg->npartial == sizeof(struct rec)) {
			struct rec r;

			memcpy(&r, lg->partial, sizeof(r));
			log_record(lg, &r);
			lg->npartial = 0;
		}
	}
	return true;
}

static bool wdurable(const struct round_log *lg, size_t wi)
{
	return (lg->w[wi].fua && lg->w[wi].done) || lg->first_wid + wi < lg->flush_wid;
}

/* Per volume: for each sector, this round's writes to it in issue order
 * (compressed rows: idx[start[x] .. start[x+1])). */
struct cands {
	uint32_t *start;
	uint32_t *idx;
	uint64_t *last_touch; /* per block: the newest write index + 1 touching it */
};

static void cands_build(const struct round_log *lg, uint32_t vol, struct cands *cd)
{
	uint32_t size = vol_sectors[vol], nblocks = (size + SPB - 1) / SPB;
	uint32_t *fill;
	size_t total = 0;

	cd->start = calloc(size + 1, sizeof(uint32_t));
	cd->last_touch = calloc(nblocks, sizeof(uint64_t));
	fill = calloc(size, sizeof(uint32_t));
	for (size_t i = 0; i < lg->nw; i++) {
		if (lg->w[i].vol != vol)
			continue;
		for (uint64_t x = lg->w[i].lba; x < lg->w[i].lba + lg->w[i].n; x++) {
			cd->start[x + 1]++;
			cd->last_touch[x / SPB] = i + 1;
		}
		total += lg->w[i].n;
	}
	for (uint32_t x = 0; x < size; x++)
		cd->start[x + 1] += cd->start[x];
	cd->idx = malloc((total ? total : 1) * sizeof(uint32_t));
	for (size_t i = 0; i < lg->nw; i++) {
		if (lg->w[i].vol != vol)
			continue;
		for (uint64_t x = lg->w[i].lba; x < lg->w[i].lba + lg->w[i].n; x++)
			cd->idx[cd->start[x] + fill[x]++] = (uint32_t)i;
	}
	free(fill);
}

static void cands_free(struct cands *cd)
{
	free(cd->start);
	free(cd->idx);
	free(cd->last_touch);
}

static void describe_sector(char *out, size_t len, uint64_t got, uint64_t hdr_wid,
			    uint64_t hdr_lba)
{
	if (got == 0)
		snprintf(out, len, "zeros");
	else if (got == DEC_GARBAGE)
		snprintf(out, len, "garbage");
	else if (got == DEC_MISPLACED)
		snprintf(out, len, "write %" PRIu64 "'s content for sector %" PRIu64
			 " (misplaced)", hdr_wid, hdr_lba);
	else
		snprintf(out, len, "write %" PRIu64, got);
}

/* Read one view (volume head when snap_id == 0) and check every sector
 * against what is allowed at horizon (UINT64_MAX for the head), or against
 * exact[] when given.  actual[] receives the decoded write ids (DEC_* for
 * bad sectors).  Returns the number of bad sectors, or -1 when unreadable. */
static long check_view(struct cowstore *cs, struct pool_model *pm, struct round_log *lg,
		       uint32_t vol, const struct cands *cd, uint64_t snap_id, const char *label,
		       uint64_t horizon, const uint64_t *exact, uint64_t *actual, bool atomicity)
{
	uint32_t size = vol_sectors[vol];
	uint8_t *buf = aligned_alloc(4096, READ_CHUNK * SECT);
	long bad = 0;

	for (uint32_t lba = 0; lba < size; lba += READ_CHUNK) {
		uint32_t n = size - lba < READ_CHUNK ? size - lba : READ_CHUNK;
		int rc = snap_id ? cowstore_read_snapshot(cs, snap_id, lba, n, buf)
				 : cowstore_read(cs, pm->vol_ids[vol], lba, n, buf);

		if (rc) {
			problem("%s: read of lba %u n %u returned %d (%s)", label, lba, n, rc,
				strerror(-rc));
			free(buf);
			return -1;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint64_t x = lba + i, hdr_wid = 0, hdr_lba = 0;
			uint64_t got = sector_decode(buf + (size_t)i * SECT, vol, x, &hdr_wid, &hdr_lba);
			uint32_t k0 = cd->start[x], k1 = cd->start[x + 1], kend = k0, kdur = UINT32_MAX;
			bool ok;
			char what[96], want[160];

			actual[x] = got;
			if (exact) {
				ok = got == exact[x];
				snprintf(want, sizeof(want), "exactly %s %" PRIu64,
					 exact[x] ? "write" : "zeros, id", exact[x]);
			} else {
				/* Candidates: this round's writes below the horizon; the
				 * newest durable one bounds them from below. */
				while (kend < k1 && lg->first_wid + cd->idx[kend] < horizon)
					kend++;
				for (uint32_t k = k0; k < kend; k++)
					if (wdurable(lg, cd->idx[k]))
						kdur = k;
				ok = false;
				if (kdur == UINT32_MAX && got == pm->base[vol][x])
					ok = true;
				for (uint32_t k = kdur == UINT32_MAX ? k0 : kdur; k < kend && !ok; k++)
					ok = got == lg->first_wid + cd->idx[k];
				snprintf(want, sizeof(want), "%s%" PRIu64 " (%s) or one of %u later writes",
					 kdur == UINT32_MAX ? "previous state: write " : "durable write ",
					 kdur == UINT32_MAX ? pm->base[vol][x]
							    : lg->first_wid + cd->idx[kdur],
					 kdur == UINT32_MAX ? "0 = zeros" : "newest durable",
					 kend - (kdur == UINT32_MAX ? k0 : kdur + 1));
			}
			if (!ok) {
				if (bad < MAX_REPORTS) {
					describe_sector(what, sizeof(what), got, hdr_wid, hdr_lba);
					problem("%s: sector %" PRIu64 " (block %" PRIu64 ") reads %s, want %s",
						label, x, x / SPB, what, want);
				}
				bad++;
				continue;
			}
			if (!atomicity)
				continue;
			/* Atomicity evidence: writes newer than what the sector shows
			 * did not land here; the write it shows did land, unless a
			 * newer write's read-modify-write of the block carried it. */
			for (uint32_t k = k0; k < k1; k++)
				if (lg->first_wid + cd->idx[k] > got)
					lg->w[cd->idx[k]].missed = true;
			if (got >= lg->first_wid && got < lg->first_wid + lg->nw &&
			    cd->last_touch[x / SPB] == got - lg->first_wid + 1)
				lg->w[got - lg->first_wid].seen = true;
		}
	}
	free(buf);
	if (bad > MAX_REPORTS)
		problem("%s: %ld bad sectors in all", label, bad);
	return bad;
}

static struct kept_snap *find_kept(struct pool_model *pm, uint64_t id)
{
	for (int i = 0; i < pm->nkept; i++)
		if (pm->kept[i].id == id)
			return &pm->kept[i];
	return NULL;
}

static void drop_kept(struct pool_model *pm, struct kept_snap *ks)
{
	free(ks->content);
	*ks = pm->kept[--pm->nkept];
}

/* Open the pool after the crash, check everything, fold the result into the
 * model, trim old snapshots, close.  Problems go through problem(). */
static void verify_round(struct pool_model *pm, struct round_log *lg)
{
	struct cowstore *cs = NULL;
	struct cowstore_err err = {{0}};
	struct cowstore_pool_info pi;
	struct cowstore_scrub_report scrub;
	uint64_t *actual[NVOLS] = {0};
	int rc;

	rc = cowstore_open(pm->dir, &cs, &err);
	if (rc) {
		problem("cowstore_open after the crash returned %d (%s): %s", rc, strerror(-rc),
			err.msg);
		pm->dead = true;
		return;
	}
	rc = cowstore_pool_info(cs, &pi);
	if (rc || pi.nvolumes != NVOLS)
		problem("pool_info returned %d, nvolumes %u, want 0 and %d", rc, pi.nvolumes, NVOLS);

	for (uint32_t v = 0; v < NVOLS; v++) {
		struct cowstore_snapshot_info *list = NULL;
		struct cands cd;
		size_t count = 0;
		char label[96];
		long bad;

		actual[v] = malloc(vol_sectors[v] * sizeof(uint64_t));
		cands_build(lg, v, &cd);
		snprintf(label, sizeof(label), "volume v%u", v);
		bad = check_view(cs, pm, lg, v, &cd, 0, label, UINT64_MAX, NULL, actual[v], true);

		/* Snapshots: kept ones exactly, this round's as allowed at their
		 * horizon (exact for durable ones, since a flush after a snapshot
		 * made everything before it durable). */
		rc = cowstore_snapshot_list(cs, pm->vol_ids[v], &list, &count);
		if (rc) {
			problem("snapshot_list of v%u returned %d", v, rc);
			count = 0;
		}
		for (size_t i = 0; i < count; i++) {
			struct kept_snap *ks = find_kept(pm, list[i].id);
			uint64_t *content = malloc(vol_sectors[v] * sizeof(uint64_t));
			struct slog *sl = NULL;
			uint64_t seq = 0;
			bool remove = false;

			snprintf(label, sizeof(label), "snapshot %s (id %" PRIu64 ") of v%u",
				 list[i].name, list[i].id, v);
			if (ks) {
				remove = check_view(cs, pm, lg, v, &cd, list[i].id, label, 0,
						    ks->content, content, false) != 0;
			} else if (sscanf(list[i].name, "k%" SCNu64, &seq) != 1 ||
				   seq < lg->first_seq || seq >= lg->first_seq + lg->ns ||
				   lg->s[seq - lg->first_seq].vol != v) {
				problem("%s: no child created a snapshot of that name on v%u", label, v);
				remove = true;
			} else {
				bool durable;

				sl = &lg->s[seq - lg->first_seq];
				durable = sl->done && seq < lg->flush_seq;
				sl->listed = true;
				if (sl->done && sl->id != list[i].id)
					problem("%s: the child was told id %" PRIu64, label, sl->id);
				if (list[i].size_bytes != (uint64_t)vol_sectors[v] * SECT)
					problem("%s: size_bytes %" PRIu64 ", want %u", label,
						list[i].size_bytes, vol_sectors[v] * SECT);
				snprintf(label + strlen(label), sizeof(label) - strlen(label), ", %s",
					 durable ? "durable" : "not durable");
				remove = check_view(cs, pm, lg, v, &cd, list[i].id, label, sl->horizon,
						    NULL, content, false) != 0 ||
					 pm->nkept == MAX_KEPT;
			}
			if (remove) {
				/* Unknown or wrong: drop it so later rounds start clean. */
				rc = cowstore_snapshot_delete(cs, list[i].id, &err);
				if (rc)
					problem("%s: delete returned %d: %s", label, rc, err.msg);
				if (ks)
					drop_kept(pm, ks);
				free(content);
			} else if (ks) {
				free(content);
			} else {
				ks = &pm->kept[pm->nkept++];
				ks->id = list[i].id;
				snprintf(ks->name, sizeof(ks->name), "%s", list[i].name);
				ks->vol = v;
				ks->seq = seq;
				ks->content = content;
			}
		}
		/* Everything durable must be there. */
		for (int i = 0; i < pm->nkept; i++) {
			bool found = false;

			for (size_t j = 0; j < count; j++)
				found |= list[j].id == pm->kept[i].id;
			if (pm->kept[i].vol == v && !found) {
				problem("snapshot %s (id %" PRIu64 ") of v%u, verified in an earlier round,"
					" is gone", pm->kept[i].name, pm->kept[i].id, v);
				drop_kept(pm, &pm->kept[i--]);
			}
		}
		for (size_t i = 0; i < lg->ns; i++) {
			const struct slog *sl = &lg->s[i];

			if (sl->vol == v && sl->done && lg->first_seq + i < lg->flush_seq && !sl->listed)
				problem("durable snapshot k%" PRIu64 " (id %" PRIu64 ") of v%u is missing",
					lg->first_seq + i, sl->id, v);
		}
		free(list);

		/* Atomicity: a write that landed somewhere landed everywhere. */
		for (size_t i = 0; i < lg->nw; i++) {
			if (lg->w[i].vol == v && lg->w[i].seen && lg->w[i].missed)
				problem("write %" PRIu64 " (v%u lba %" PRIu64 " n %u%s) is torn: some of its"
					" sectors show it, others older content",
					lg->first_wid + i, v, lg->w[i].lba, lg->w[i].n,
					lg->w[i].fua ? " FUA" : "");
		}
		cands_free(&cd);

		/* Fold into the model; repair what cannot be described. */
		for (uint32_t x = 0; x < vol_sectors[v]; x++) {
			if (actual[v][x] >= DEC_MISPLACED) {
				rc = cowstore_write_zeroes(cs, pm->vol_ids[v], x, 1);
				if (rc)
					problem("repair: write_zeroes v%u sector %u returned %d", v, x, rc);
				actual[v][x] = 0;
			}
		}
		memcpy(pm->base[v], actual[v], vol_sectors[v] * sizeof(uint64_t));
		(void)bad;
	}

	/* Keep the newest KEEP_SNAPS_PER_VOL snapshots of each volume. */
	for (uint32_t v = 0; v < NVOLS; v++) {
		for (;;) {
			int n = 0, oldest = -1;

			for (int i = 0; i < pm->nkept; i++) {
				if (pm->kept[i].vol != v)
					continue;
				n++;
				if (oldest < 0 || pm->kept[i].seq < pm->kept[oldest].seq)
					oldest = i;
			}
			if (n <= KEEP_SNAPS_PER_VOL)
				break;
			rc = cowstore_snapshot_delete(cs, pm->kept[oldest].id, &err);
			if (rc)
				problem("delete of snapshot %s returned %d: %s", pm->kept[oldest].name, rc,
					err.msg);
			drop_kept(pm, &pm->kept[oldest]);
		}
	}

	memset(&scrub, 0, sizeof(scrub));
	rc = cowstore_scrub(cs, &scrub);
	if (rc || scrub.bad_blocks)
		problem("scrub returned %d with %" PRIu64 " bad blocks of %" PRIu64
			" (first: volume %" PRIu64 " snapshot %" PRIu64 " lba %" PRIu64 ")",
			rc, scrub.bad_blocks, scrub.blocks_checked, scrub.first_bad[0].volume_id,
			scrub.first_bad[0].snapshot_id, scrub.first_bad[0].lba);
	cowstore_close(cs);
	for (int v = 0; v < NVOLS; v++)
		free(actual[v]);
}

static bool pool_setup(struct pool_model *pm, const char *root, int index, uint64_t plog_bytes)
{
	struct cowstore_pool_options opts = {.capacity_bytes = 2ull << 30,
					     .plog_bytes = plog_bytes};
	struct cowstore_err err = {{0}};
	struct cowstore *cs = NULL;
	int rc;

	memset(pm, 0, sizeof(*pm));
	snprintf(pm->dir, sizeof(pm->dir), "%s/pool%d", root, index);
	pm->plog_bytes = plog_bytes;
	rc = cowstore_pool_create(pm->dir, &opts, &err);
	if (!rc)
		rc = cowstore_open(pm->dir, &cs, &err);
	for (int v = 0; v < NVOLS && !rc; v++) {
		char name[8];

		snprintf(name, sizeof(name), "v%d", v);
		rc = cowstore_volume_create(cs, name, (uint64_t)vol_sectors[v] * SECT,
					    &pm->vol_ids[v], &err);
		pm->base[v] = calloc(vol_sectors[v], sizeof(uint64_t));
	}
	if (cs)
		cowstore_close(cs);
	if (rc)
		fprintf(stderr, "setup of %s failed: %d (%s) %s\n", pm->dir, rc, strerror(-rc),
			err.msg);
	return rc == 0;
}

int main(void)
{
	uint64_t rounds = env_u64("SLATE_CRASH_ROUNDS", 100);
	uint64_t seed = env_u64("SLATE_CRASH_SEED", 0), rng;
	uint64_t next_wid = 1, next_seq = 1;
	struct pool_model *pools = calloc(NPOOLS, sizeof(*pools));
	char root[] = "/tmp/slate-crash-XXXXXX";
	int passed = 0, failed = 0;

	if (!getenv("SLATE_CRASH_SEED")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec) & 0xFFFFFFFFFFFFull;
	}
	rng = seed;
	printf("crash: SLATE_CRASH_SEED=%" PRIu64 " SLATE_CRASH_ROUNDS=%" PRIu64 "\n", seed, rounds);
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	if (!pools || !mkdtemp(root)) {
		perror("crash: setup");
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (!pool_setup(&pools[0], root, 0, 8u << 20) || !pool_setup(&pools[1], root, 1, 0)) {
		printf("0 passed, 1 failed\n");
		return 1;
	}

	for (uint64_t round = 1; round <= rounds; round++) {
		struct pool_model *pm = &pools[round % NPOOLS];
		struct round_log lg = {0};
		uint64_t delay_ms = 5 + rnd_below(&rng, 296), child_seed = splitmix(&rng);
		uint64_t t0, killed_at, opened_at = 0;
		bool from_fork = rnd_below(&rng, 5) == 0;

		if (from_fork)
			delay_ms = 5 + delay_ms % 36; /* open takes a few ms: aim at it */
		int pipefd[2], status = 0;
		pid_t pid;
		uint64_t ndurable = 0, nsnap_durable = 0;

		if (pm->dead) {
			pm = &pools[(round + 1) % NPOOLS];
			if (pm->dead)
				break;
		}
		lg.first_wid = lg.flush_wid = next_wid;
		lg.first_seq = lg.flush_seq = next_seq;
		round_failures = 0;
		if (pipe(pipefd)) {
			perror("pipe");
			return 1;
		}
		fflush(stdout);
		fflush(stderr);
		t0 = now_ms();
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			close(pipefd[0]);
			child_main(pm->dir, pm->vol_ids, pipefd[1], child_seed, next_wid, next_seq);
		}
		close(pipefd[1]);
		/* Read reports until the deadline, then kill and read the rest.
		 * One round in five times the kill from the fork, so that it may
		 * land in the child's cowstore_open (recovery); the others from
		 * the child's REC_OPENED, so that it lands among writes. */
		for (;;) {
			uint64_t now = now_ms(), deadline = t0 + delay_ms;
			struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};

			if (!from_fork && !opened_at && lg.opened)
				opened_at = now;
			if (!from_fork)
				deadline = opened_at ? opened_at + delay_ms : t0 + OPEN_TIMEOUT_MS;
			if (now >= deadline)
				break;
			if (poll(&pfd, 1, (int)(deadline - now)) > 0 && !pump(pipefd[0], &lg))
				break;
		}
		kill(pid, SIGKILL);
		killed_at = now_ms() - t0;
		if (!from_fork && !lg.opened && killed_at >= OPEN_TIMEOUT_MS)
			problem("the child's cowstore_open did not return within %d ms", OPEN_TIMEOUT_MS);
		while (pump(pipefd[0], &lg))
			;
		close(pipefd[0]);
		waitpid(pid, &status, 0);

		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			if (lg.have_error)
				problem("child failed: error %d (%s) in %s", (int)(int64_t)lg.error.id,
					strerror(-(int)(int64_t)lg.error.id),
					lg.error.aux == 1 ? "cowstore_open" : lg.error.aux == 2 ? "cowstore_flush"
					: lg.error.aux == 3 ? "cowstore_snapshot_create" : "cowstore_write");
			else
				problem("child ended on its own (status 0x%x)", status);
		}
		if (lg.protocol_error)
			problem("malformed report from the child (test bug)");
		verify_round(pm, &lg);

		for (size_t i = 0; i < lg.nw; i++)
			ndurable += wdurable(&lg, i);
		for (size_t i = 0; i < lg.ns; i++)
			nsnap_durable += lg.s[i].done && lg.first_seq + i < lg.flush_seq;
		next_wid += lg.nw;
		next_seq += lg.ns;
		printf("%s round %" PRIu64 " (%s, killed %" PRIu64 " ms after the fork%s: %zu writes, %"
		       PRIu64 " durable, %u flushes, %zu snapshots, %" PRIu64 " durable)\n",
		       round_failures ? "FAIL" : "ok", round, pm->plog_bytes ? "plog" : "no plog",
		       killed_at, lg.opened ? "" : ", in cowstore_open", lg.nw, ndurable,
		       lg.nflushes, lg.ns, nsnap_durable);
		fflush(stdout);
		if (round_failures)
			failed++;
		else
			passed++;
		free(lg.w);
	}
	for (int p = 0; p < NPOOLS; p++) {
		for (int v = 0; v < NVOLS; v++)
			free(pools[p].base[v]);
		for (int i = 0; i < pools[p].nkept; i++)
			free(pools[p].kept[i].content);
	}
	free(pools);
	if (failed)
		fprintf(stderr, "crash: pools kept for inspection in %s; reproduce with"
			" SLATE_CRASH_SEED=%" PRIu64 " (kill timing varies)\n", root, seed);
	else
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
