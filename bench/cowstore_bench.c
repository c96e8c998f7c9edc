/*
 * cowstore_bench.c - figures for the copy-on-write extent store, and the same
 * access pattern on a plain file (the peer), one subcommand per measurement.
 *
 * Every subcommand prints "name value unit" lines on stdout and nothing else;
 * errors go to stderr and exit 1.  bench/cowstore.sh runs the subcommands,
 * alternates cowstore with its peer and takes medians; it never judges.
 * The peer uses liburing with buffered IO on a posix_fallocate'd file, which
 * is what cowstore's own data path does, so the ratio is the cost of the
 * store's mapping, copy-on-write and metadata commits.
 *
 * Every 4 KiB block written carries a stamp (its block number) in its first
 * 8 bytes; reads check it, so a benchmark that returns wrong data fails
 * instead of reporting a fast figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"

#define KIB_BYTES UINT64_C(1024)
#define MIB_BYTES (UINT64_C(1024) * 1024)
#define GIB_BYTES (UINT64_C(1024) * MIB_BYTES)
#define NS_PER_SEC UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

#define SMALL_IO_BYTES 4096u
#define LARGE_IO_BYTES (1u << 20)
#define PREFILL_QD 8u
#define RANDOM_QD 32u
/* Upper bounds on one timed run, whatever its duration says. */
#define MAX_SMALL_OPS UINT64_C(20000000)
#define MAX_LARGE_OPS UINT64_C(200000)
/* A run with requests in flight and no completion for this long has hung. */
#define STALL_NS (120 * NS_PER_SEC)
#define QUEUE_WAIT_MS 1000

#define STAMP_MAGIC UINT64_C(0x534c415445000000) /* "SLATE\0\0\0" */
#define TMPFS_MAGIC_NUMBER 0x01021994

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("cowstore-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Fail on a negative errno from cowstore, with its sentence when it gave one. */
static void check(int rc, const char *what, const struct cowstore_err *err)
{
	if (rc >= 0)
		return;
	if (err && err->msg[0])
		fail("%s: %s (%s)", what, strerror(-rc), err->msg);
	fail("%s: %s", what, strerror(-rc));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fail("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static double ns_to_ms(uint64_t ns)
{
	return (double)ns / (double)NS_PER_MS;
}

/* xorshift64*: fast, and good enough for offsets and buffer contents. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

static uint64_t rng_seed(void)
{
	uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);

	return seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

/* An IO buffer: 4 KiB aligned, filled with random bytes (zeros could be
 * special-cased by a store, which would flatter it). */
static void *alloc_io_buf(size_t len, uint64_t *rng)
{
	uint64_t *words = aligned_alloc(4096, len);

	if (!words)
		fail("aligned_alloc %zu bytes: out of memory", len);
	for (size_t i = 0; i < len / sizeof(uint64_t); i++)
		words[i] = rng_next(rng);
	return words;
}

static void stamp_blocks(void *buf, size_t len, uint64_t first_block, uint64_t write_seq)
{
	for (size_t i = 0; i < len / SMALL_IO_BYTES; i++) {
		uint64_t *block = (uint64_t *)((char *)buf + i * SMALL_IO_BYTES);

		block[0] = STAMP_MAGIC ^ (first_block + i);
		block[1] = write_seq; /* every write differs from the last one */
	}
}

/* Returns -1 when every block carries its own stamp (or, when allow_zero,
 * reads as never written), else the index of the first wrong block. */
static long check_stamps(const void *buf, size_t len, uint64_t first_block, int allow_zero)
{
	for (size_t i = 0; i < len / SMALL_IO_BYTES; i++) {
		const uint64_t *block = (const uint64_t *)((const char *)buf + i * SMALL_IO_BYTES);

		if (block[0] == (STAMP_MAGIC ^ (first_block + i)))
			continue;
		if (allow_zero && block[0] == 0 && block[1] == 0)
			continue;
		return (long)i;
	}
	return -1;
}

static uint64_t parse_u64(const char *text, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value < min || value > max)
		fail("%s must be a whole number from %" PRIu64 " to %" PRIu64 ", not \"%s\"",
		     what, min, max, text);
	return value;
}

/* ---- space checks -------------------------------------------------- */

static uint64_t mem_available_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kib = 0;

	if (!f)
		fail("open /proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * KIB_BYTES;
}

/* Make dir (if missing) and refuse to start when its file system, or for
 * tmpfs the memory behind it, cannot hold need_bytes. */
static void prepare_dir(const char *dir, uint64_t need_bytes)
{
	struct statvfs vfs;
	struct statfs fs;
	uint64_t free_bytes;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		fail("mkdir %s: %s", dir, strerror(errno));
	if (statvfs(dir, &vfs) != 0)
		fail("statvfs %s: %s", dir, strerror(errno));
	free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (free_bytes < need_bytes)
		fail("%s has %" PRIu64 " MiB free; this measurement needs about %" PRIu64 " MiB",
		     dir, free_bytes / MIB_BYTES, need_bytes / MIB_BYTES);
	if (statfs(dir, &fs) != 0)
		fail("statfs %s: %s", dir, strerror(errno));
	if ((unsigned long)fs.f_type == TMPFS_MAGIC_NUMBER) {
		uint64_t avail = mem_available_bytes();

		if (avail < need_bytes + GIB_BYTES)
			fail("%s is tmpfs and the machine has %" PRIu64
			     " MiB of memory available; this measurement needs about %" PRIu64
			     " MiB plus 1 GiB of headroom",
			     dir, avail / MIB_BYTES, need_bytes / MIB_BYTES);
	}
}

/* Directory parent of a file path, for prepare_dir on the raw peer. */
static void parent_dir(const char *path, char *out, size_t out_len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, out_len, ".");
	else if (slash == path)
		snprintf(out, out_len, "/");
	else
		snprintf(out, out_len, "%.*s", (int)(slash - path), path);
}

/* ---- workloads ----------------------------------------------------- */

enum pattern {
	PATTERN_RANDOM,     /* uniform over the span, with repeats */
	PATTERN_SEQUENTIAL, /* from start_unit upward, wrapping at the span */
	PATTERN_LIST,       /* the units in units[], in order */
};

struct workload {
	int is_write;
	enum pattern pattern;
	uint32_t io_bytes;
	unsigned qd;
	uint64_t span_units;     /* IO lands in units [0, span_units) of io_bytes */
	uint64_t start_unit;     /* PATTERN_SEQUENTIAL */
	const uint32_t *units;   /* PATTERN_LIST */
	uint64_t max_ops;        /* never more requests than this */
	uint64_t duration_ns;    /* stop submitting after this; 0: no limit */
	int verify_zero_ok;      /* reads may also find never-written blocks */
};

struct workload_result {
	uint64_t ops;
	uint64_t elapsed_ns;
};

struct offset_gen {
	const struct workload *w;
	uint64_t next_unit;
	uint64_t issued;
	uint64_t rng;
};

static void offset_gen_init(struct offset_gen *gen, const struct workload *w)
{
	gen->w = w;
	gen->next_unit = w->start_unit;
	gen->issued = 0;
	gen->rng = rng_seed();
}

static uint64_t offset_gen_next(struct offset_gen *gen)
{
	const struct workload *w = gen->w;
	uint64_t unit;

	switch (w->pattern) {
	case PATTERN_RANDOM:
		unit = rng_next(&gen->rng) % w->span_units;
		break;
	case PATTERN_SEQUENTIAL:
		unit = gen->next_unit;
		gen->next_unit = (gen->next_unit + 1) % w->span_units;
		break;
	case PATTERN_LIST:
	default:
		unit = w->units[gen->issued];
		break;
	}
	gen->issued++;
	return unit * w->io_bytes;
}

static double iops_of(const struct workload_result *r)
{
	return r->elapsed_ns ? (double)r->ops * NS_PER_SEC / (double)r->elapsed_ns : 0.0;
}

static double mibs_of(const struct workload_result *r, uint32_t io_bytes)
{
	return iops_of(r) * io_bytes / (double)MIB_BYTES;
}

/* ---- the cowstore engine ------------------------------------------- */

struct cs_run;

struct cs_slot {
	struct cowstore_io io;
	void *buf;
	uint64_t offset;
	int busy;
	struct cs_run *run;
};

struct cs_run {
	const struct workload *w;
	uint64_t completed;
	unsigned inflight;
	int failed;
	char error[320];
};

/* Runs in cowstore_queue_reap(), on this program's only thread. */
static void cs_done(struct cowstore_io *io)
{
	struct cs_slot *slot = io->priv;
	struct cs_run *run = slot->run;

	slot->busy = 0;
	run->inflight--;
	if (io->result < 0) {
		if (!run->failed)
			snprintf(run->error, sizeof(run->error),
				 "%s of %u bytes at byte %" PRIu64 " failed: %s",
				 io->op == COWSTORE_OP_WRITE ? "write" : "read",
				 io->nsectors * COWSTORE_SECTOR_SIZE, slot->offset,
				 strerror(-io->result));
		run->failed = 1;
		return;
	}
	if (io->op == COWSTORE_OP_READ) {
		uint32_t len = io->nsectors * COWSTORE_SECTOR_SIZE;
		long bad = check_stamps(slot->buf, len, slot->offset / SMALL_IO_BYTES,
					run->w->verify_zero_ok);

		if (bad >= 0) {
			const uint64_t *block =
				(const uint64_t *)((char *)slot->buf + (size_t)bad * SMALL_IO_BYTES);
			if (!run->failed)
				snprintf(run->error, sizeof(run->error),
					 "wrong data: read of block %" PRIu64
					 " returned a block whose stamp is %#" PRIx64
					 " (block %" PRIu64 " would be %#" PRIx64 ")",
					 slot->offset / SMALL_IO_BYTES + (uint64_t)bad, block[0],
					 slot->offset / SMALL_IO_BYTES + (uint64_t)bad,
					 STAMP_MAGIC ^ (slot->offset / SMALL_IO_BYTES + (uint64_t)bad));
			run->failed = 1;
			return;
		}
	}
	run->completed++;
}

/* Run w against volume_id through queue q; fails the program on any error.
 * Requests are resubmitted from this loop, not from done(). */
static void cs_run_workload(struct cowstore *cs, struct cowstore_queue *q, uint64_t volume_id,
			    const struct workload *w, struct workload_result *res)
{
	struct cs_run run = { .w = w };
	struct cs_slot *slots = calloc(w->qd, sizeof(*slots));
	struct offset_gen gen;
	uint64_t rng = rng_seed();
	uint64_t submitted = 0, start, deadline, last_progress;

	if (!slots)
		fail("calloc %u request slots: out of memory", w->qd);
	for (unsigned i = 0; i < w->qd; i++) {
		slots[i].buf = alloc_io_buf(w->io_bytes, &rng);
		slots[i].run = &run;
	}
	offset_gen_init(&gen, w);

	start = now_ns();
	deadline = w->duration_ns ? start + w->duration_ns : UINT64_MAX;
	last_progress = start;
	for (;;) {
		uint64_t now = now_ns();
		int may_submit = !run.failed && submitted < w->max_ops && now < deadline;
		int rc;

		for (unsigned i = 0; may_submit && i < w->qd && submitted < w->max_ops; i++) {
			struct cs_slot *slot = &slots[i];

			if (slot->busy)
				continue;
			slot->offset = offset_gen_next(&gen);
			memset(&slot->io, 0, sizeof(slot->io));
			slot->io.op = w->is_write ? COWSTORE_OP_WRITE : COWSTORE_OP_READ;
			slot->io.volume_id = volume_id;
			slot->io.lba = slot->offset / COWSTORE_SECTOR_SIZE;
			slot->io.nsectors = w->io_bytes / COWSTORE_SECTOR_SIZE;
			slot->io.buf = slot->buf;
			slot->io.queue = q;
			slot->io.done = cs_done;
			slot->io.priv = slot;
			if (w->is_write)
				stamp_blocks(slot->buf, w->io_bytes, slot->offset / SMALL_IO_BYTES,
					     submitted);
			rc = cowstore_submit(cs, &slot->io);
			if (rc < 0)
				fail("cowstore_submit %s of %u bytes at byte %" PRIu64 ": %s",
				     w->is_write ? "write" : "read", w->io_bytes, slot->offset,
				     strerror(-rc));
			slot->busy = 1;
			run.inflight++;
			submitted++;
		}
		if (run.inflight == 0)
			break;
		rc = cowstore_queue_wait(q, QUEUE_WAIT_MS);
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN)
			fail("cowstore_queue_wait: %s", strerror(-rc));
		rc = cowstore_queue_reap(q, 0);
		if (rc < 0)
			fail("cowstore_queue_reap: %s", strerror(-rc));
		now = now_ns();
		if (rc > 0)
			last_progress = now;
		else if (now - last_progress > STALL_NS)
			fail("no completion for %" PRIu64 " s with %u requests in flight "
			     "(%" PRIu64 " of the run's requests done)",
			     STALL_NS / NS_PER_SEC, run.inflight, run.completed);
	}
	res->elapsed_ns = now_ns() - start;
	if (run.failed)
		fail("%s", run.error);
	res->ops = run.completed;
	for (unsigned i = 0; i < w->qd; i++)
		free(slots[i].buf);
	free(slots);
}

/* ---- the raw-file engine (the peer) -------------------------------- */

struct raw_slot {
	void *buf;
	uint64_t offset;
	int busy;
};

static void raw_run_workload(int fd, const struct workload *w, struct workload_result *res)
{
	struct io_uring ring;
	struct raw_slot *slots = calloc(w->qd, sizeof(*slots));
	struct offset_gen gen;
	uint64_t rng = rng_seed();
	uint64_t submitted = 0, completed = 0, start, deadline;
	unsigned inflight = 0;
	int rc;

	if (!slots)
		fail("calloc %u request slots: out of memory", w->qd);
	rc = io_uring_queue_init(w->qd, &ring, 0);
	if (rc < 0)
		fail("io_uring_queue_init(%u): %s", w->qd, strerror(-rc));
	for (unsigned i = 0; i < w->qd; i++)
		slots[i].buf = alloc_io_buf(w->io_bytes, &rng);
	offset_gen_init(&gen, w);

	start = now_ns();
	deadline = w->duration_ns ? start + w->duration_ns : UINT64_MAX;
	for (;;) {
		int may_submit = submitted < w->max_ops && now_ns() < deadline;
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		for (unsigned i = 0; may_submit && i < w->qd && submitted < w->max_ops; i++) {
			struct raw_slot *slot = &slots[i];
			struct io_uring_sqe *sqe;

			if (slot->busy)
				continue;
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				fail("io_uring_get_sqe: submission queue full with %u in flight",
				     inflight);
			slot->offset = offset_gen_next(&gen);
			if (w->is_write) {
				stamp_blocks(slot->buf, w->io_bytes, slot->offset / SMALL_IO_BYTES,
					     submitted);
				io_uring_prep_write(sqe, fd, slot->buf, w->io_bytes, slot->offset);
			} else {
				io_uring_prep_read(sqe, fd, slot->buf, w->io_bytes, slot->offset);
			}
			io_uring_sqe_set_data(sqe, slot);
			slot->busy = 1;
			inflight++;
			submitted++;
		}
		if (inflight == 0)
			break;
		do
			rc = io_uring_submit_and_wait(&ring, 1);
		while (rc == -EINTR);
		if (rc < 0)
			fail("io_uring_submit_and_wait: %s", strerror(-rc));
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct raw_slot *slot = io_uring_cqe_get_data(cqe);

			seen++;
			slot->busy = 0;
			inflight--;
			if (cqe->res < 0)
				fail("%s of %u bytes at byte %" PRIu64 ": %s",
				     w->is_write ? "write" : "read", w->io_bytes, slot->offset,
				     strerror(-cqe->res));
			if ((uint32_t)cqe->res != w->io_bytes)
				fail("%s of %u bytes at byte %" PRIu64 " moved only %d bytes",
				     w->is_write ? "write" : "read", w->io_bytes, slot->offset,
				     cqe->res);
			if (!w->is_write) {
				long bad = check_stamps(slot->buf, w->io_bytes,
							slot->offset / SMALL_IO_BYTES,
							w->verify_zero_ok);
				if (bad >= 0)
					fail("wrong data in the raw file at block %" PRIu64,
					     slot->offset / SMALL_IO_BYTES + (uint64_t)bad);
			}
			completed++;
		}
		io_uring_cq_advance(&ring, seen);
	}
	res->elapsed_ns = now_ns() - start;
	res->ops = completed;
	io_uring_queue_exit(&ring);
	for (unsigned i = 0; i < w->qd; i++)
		free(slots[i].buf);
	free(slots);
}

/* ---- common setups ------------------------------------------------- */

struct cs_bench {
	struct cowstore *cs;
	struct cowstore_queue *q;
	uint64_t volume_id;
	uint64_t volume_bytes;
};

static void cs_setup(struct cs_bench *b, const char *dir, uint64_t volume_bytes,
		     uint64_t capacity_bytes)
{
	/* Preallocated like the raw-file peer: a write to a fresh block must not
	 * pay for the file system allocating (and zeroing) its page. */
	struct cowstore_pool_options opts = { .capacity_bytes = capacity_bytes,
					      .preallocate = 1 };
	struct cowstore_err err = { { 0 } };

	check(cowstore_pool_create(dir, &opts, &err), "cowstore_pool_create", &err);
	check(cowstore_open(dir, &b->cs, &err), "cowstore_open", &err);
	check(cowstore_volume_create(b->cs, "bench", volume_bytes, &b->volume_id, &err),
	      "cowstore_volume_create", &err);
	check(cowstore_queue_create(b->cs, &b->q), "cowstore_queue_create", NULL);
	b->volume_bytes = volume_bytes;
}

static void cs_teardown(struct cs_bench *b)
{
	cowstore_queue_destroy(b->q);
	cowstore_close(b->cs);
	b->q = NULL;
	b->cs = NULL;
}

/* Sequential 1 MiB writes at QD 8 over the first whole MiBs of the volume;
 * a tail shorter than 1 MiB is written with one synchronous request. */
static double cs_prefill(struct cs_bench *b)
{
	uint64_t whole = b->volume_bytes / LARGE_IO_BYTES;
	uint64_t tail = b->volume_bytes % LARGE_IO_BYTES;
	struct workload_result res = { 0, 0 };
	uint64_t rng = rng_seed();

	if (whole) {
		struct workload w = {
			.is_write = 1, .pattern = PATTERN_SEQUENTIAL, .io_bytes = LARGE_IO_BYTES,
			.qd = PREFILL_QD, .span_units = whole, .max_ops = whole,
		};
		cs_run_workload(b->cs, b->q, b->volume_id, &w, &res);
		if (res.ops != whole)
			fail("prefill wrote %" PRIu64 " of %" PRIu64 " MiB", res.ops, whole);
	}
	if (tail) {
		void *buf = alloc_io_buf(tail, &rng);
		uint64_t offset = whole * LARGE_IO_BYTES;

		stamp_blocks(buf, tail, offset / SMALL_IO_BYTES, 0);
		check(cowstore_write(b->cs, b->volume_id, offset / COWSTORE_SECTOR_SIZE,
				     (uint32_t)(tail / COWSTORE_SECTOR_SIZE), buf, 0),
		      "cowstore_write (prefill tail)", NULL);
		free(buf);
	}
	return mibs_of(&res, LARGE_IO_BYTES);
}

/* n random 4 KiB writes at QD 32 (repeats allowed). */
static void cs_random_writes(struct cs_bench *b, uint64_t n, struct workload_result *res)
{
	struct workload w = {
		.is_write = 1, .pattern = PATTERN_RANDOM, .io_bytes = SMALL_IO_BYTES,
		.qd = RANDOM_QD, .span_units = b->volume_bytes / SMALL_IO_BYTES, .max_ops = n,
	};
	cs_run_workload(b->cs, b->q, b->volume_id, &w, res);
	if (res->ops != n)
		fail("wrote %" PRIu64 " of %" PRIu64 " random blocks", res->ops, n);
}

/* 4 KiB random writes at QD 32 for a fixed time. */
static double cs_timed_randwrite(struct cs_bench *b, uint64_t seconds)
{
	struct workload_result res;
	struct workload w = {
		.is_write = 1, .pattern = PATTERN_RANDOM, .io_bytes = SMALL_IO_BYTES,
		.qd = RANDOM_QD, .span_units = b->volume_bytes / SMALL_IO_BYTES,
		.max_ops = MAX_SMALL_OPS, .duration_ns = seconds * NS_PER_SEC,
	};
	cs_run_workload(b->cs, b->q, b->volume_id, &w, &res);
	return iops_of(&res);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_u64(uint64_t *values, size_t n)
{
	qsort(values, n, sizeof(*values), cmp_u64);
	return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* ---- randwrite | randread | seqwrite | seqread, and raw-* ----------- */

struct io_mode {
	const char *command;
	int is_write;
	enum pattern pattern;
	uint32_t io_bytes;
	const char *figure;   /* the result name bench/cowstore.sh looks for */
};

static const struct io_mode io_modes[] = {
	{ "randwrite", 1, PATTERN_RANDOM, SMALL_IO_BYTES, "4k-randwrite-iops" },
	{ "randread", 0, PATTERN_RANDOM, SMALL_IO_BYTES, "4k-randread-iops" },
	{ "seqwrite", 1, PATTERN_SEQUENTIAL, LARGE_IO_BYTES, "1m-seqwrite-mibs" },
	{ "seqread", 0, PATTERN_SEQUENTIAL, LARGE_IO_BYTES, "1m-seqread-mibs" },
};

static void print_figure(const struct io_mode *mode, const struct workload_result *res)
{
	if (mode->io_bytes == SMALL_IO_BYTES)
		printf("%s %.0f iops\n", mode->figure, iops_of(res));
	else
		printf("%s %.1f MiB/s\n", mode->figure, mibs_of(res, mode->io_bytes));
	printf("%s-ops %" PRIu64 " ops\n", mode->figure, res->ops);
	printf("%s-seconds %.3f s\n", mode->figure, (double)res->elapsed_ns / NS_PER_SEC);
}

static void make_io_workload(struct workload *w, const struct io_mode *mode,
			     uint64_t size_bytes, unsigned qd, uint64_t seconds)
{
	memset(w, 0, sizeof(*w));
	w->is_write = mode->is_write;
	w->pattern = mode->pattern;
	w->io_bytes = mode->io_bytes;
	w->qd = qd;
	w->span_units = size_bytes / mode->io_bytes;
	w->max_ops = mode->io_bytes == SMALL_IO_BYTES ? MAX_SMALL_OPS : MAX_LARGE_OPS;
	w->duration_ns = seconds * NS_PER_SEC;
}

static int cmd_cowstore_io(const struct io_mode *mode, int argc, char **argv)
{
	struct cs_bench b;
	struct workload w;
	struct workload_result res;
	uint64_t size_bytes, seconds;
	unsigned qd;
	double prefill_mibs;

	if (argc != 4)
		fail("usage: %s DIR SIZE_MIB QD SECONDS", mode->command);
	size_bytes = parse_u64(argv[1], "SIZE_MIB", 1, 1 << 20) * MIB_BYTES;
	qd = (unsigned)parse_u64(argv[2], "QD", 1, 1024);
	seconds = parse_u64(argv[3], "SECONDS", 1, 3600);

	prepare_dir(argv[0], size_bytes + size_bytes / 4 + 256 * MIB_BYTES);
	cs_setup(&b, argv[0], size_bytes, 4 * size_bytes);
	prefill_mibs = cs_prefill(&b);
	make_io_workload(&w, mode, size_bytes, qd, seconds);
	cs_run_workload(b.cs, b.q, b.volume_id, &w, &res);
	cs_teardown(&b);

	print_figure(mode, &res);
	printf("prefill-mibs %.1f MiB/s\n", prefill_mibs);
	return 0;
}

static int cmd_raw_io(const struct io_mode *mode, int argc, char **argv)
{
	struct workload w;
	struct workload_result res, prefill;
	uint64_t size_bytes, seconds;
	unsigned qd;
	char dir[PATH_MAX];
	int fd, rc;

	if (argc != 4)
		fail("usage: raw-%s FILE SIZE_MIB QD SECONDS", mode->command);
	size_bytes = parse_u64(argv[1], "SIZE_MIB", 1, 1 << 20) * MIB_BYTES;
	qd = (unsigned)parse_u64(argv[2], "QD", 1, 1024);
	seconds = parse_u64(argv[3], "SECONDS", 1, 3600);

	parent_dir(argv[0], dir, sizeof(dir));
	prepare_dir(dir, size_bytes + 256 * MIB_BYTES);
	fd = open(argv[0], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("open %s: %s", argv[0], strerror(errno));
	rc = posix_fallocate(fd, 0, (off_t)size_bytes);
	if (rc != 0)
		fail("posix_fallocate %s, %" PRIu64 " bytes: %s", argv[0], size_bytes,
		     strerror(rc));

	/* The same prefill as cowstore's: sequential 1 MiB writes at QD 8. */
	struct workload fill = {
		.is_write = 1, .pattern = PATTERN_SEQUENTIAL, .io_bytes = LARGE_IO_BYTES,
		.qd = PREFILL_QD, .span_units = size_bytes / LARGE_IO_BYTES,
		.max_ops = size_bytes / LARGE_IO_BYTES,
	};
	raw_run_workload(fd, &fill, &prefill);

	make_io_workload(&w, mode, size_bytes, qd, seconds);
	raw_run_workload(fd, &w, &res);
	if (close(fd) != 0)
		fail("close %s: %s", argv[0], strerror(errno));

	print_figure(mode, &res);
	printf("prefill-mibs %.1f MiB/s\n", mibs_of(&prefill, LARGE_IO_BYTES));
	return 0;
}

/* ---- snapratio ----------------------------------------------------- */

static void take_snapshot(struct cs_bench *b, unsigned index, uint64_t *snap_id,
			  uint64_t *took_ns)
{
	struct cowstore_err err = { { 0 } };
	char name[32];
	uint64_t t0;

	snprintf(name, sizeof(name), "s%u", index);
	t0 = now_ns();
	check(cowstore_snapshot_create(b->cs, b->volume_id, name, snap_id, &err),
	      "cowstore_snapshot_create", &err);
	if (took_ns)
		*took_ns = now_ns() - t0;
}

static int cmd_snapratio(int argc, char **argv)
{
	static const unsigned marks[] = { 1, 10, 100 };
	/* Writes between two snapshots, so that no two are alike. */
	const uint64_t writes_between = 256;
	struct cs_bench b;
	struct workload_result res;
	uint64_t size_bytes = GIB_BYTES, seconds = 3, snap_id;
	uint64_t create_ns[100];
	unsigned taken = 0;
	double iops_none, iops_after[3];

	if (argc < 1 || argc > 3)
		fail("usage: snapratio DIR [SIZE_MIB [SECONDS]]");
	if (argc >= 2)
		size_bytes = parse_u64(argv[1], "SIZE_MIB", 16, 1 << 20) * MIB_BYTES;
	if (argc >= 3)
		seconds = parse_u64(argv[2], "SECONDS", 1, 3600);

	/* Head, the first snapshot's view, and the final state of each timed
	 * phase can each hold the whole volume: 4x, plus the small writes. */
	prepare_dir(argv[0], 5 * size_bytes);
	cs_setup(&b, argv[0], size_bytes, 6 * size_bytes);
	cs_prefill(&b);

	iops_none = cs_timed_randwrite(&b, seconds);
	printf("4k-randwrite-iops-0-snapshots %.0f iops\n", iops_none);
	for (unsigned m = 0; m < 3; m++) {
		while (taken < marks[m]) {
			if (taken > 0)
				cs_random_writes(&b, writes_between, &res);
			take_snapshot(&b, taken, &snap_id, &create_ns[taken]);
			taken++;
		}
		iops_after[m] = cs_timed_randwrite(&b, seconds);
		printf("4k-randwrite-iops-%u-snapshots %.0f iops\n", marks[m], iops_after[m]);
	}
	cs_teardown(&b);

	for (unsigned m = 0; m < 3; m++)
		printf("4k-randwrite-after-%u-snapshots-ratio %.3f ratio\n", marks[m],
		       iops_none > 0 ? iops_after[m] / iops_none : 0.0);
	printf("snapratio-snapshot-create-median-ms %.3f ms\n",
	       ns_to_ms(median_u64(create_ns, taken)));
	return 0;
}

/* ---- snapcreate ---------------------------------------------------- */

/* count distinct block numbers below nblocks, in random order. */
static uint32_t *distinct_random_blocks(uint64_t nblocks, uint64_t count)
{
	uint32_t *all = malloc(nblocks * sizeof(*all));
	uint64_t rng = rng_seed();

	if (!all)
		fail("malloc %" PRIu64 " block numbers: out of memory", nblocks);
	for (uint64_t i = 0; i < nblocks; i++)
		all[i] = (uint32_t)i;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t j = i + rng_next(&rng) % (nblocks - i);
		uint32_t t = all[i];

		all[i] = all[j];
		all[j] = t;
	}
	return all;
}

static int find_snapshot(struct cs_bench *b, uint64_t snap_id,
			 struct cowstore_snapshot_info *out)
{
	struct cowstore_snapshot_info *list = NULL;
	size_t count = 0;
	int found = 0;

	check(cowstore_snapshot_list(b->cs, b->volume_id, &list, &count),
	      "cowstore_snapshot_list", NULL);
	for (size_t i = 0; i < count; i++)
		if (list[i].id == snap_id) {
			*out = list[i];
			found = 1;
		}
	free(list);
	return found;
}

static int cmd_snapcreate(int argc, char **argv)
{
	enum { NSNAPS = 7, NCLONES = 5 };
	struct cowstore_err err = { { 0 } };
	struct cs_bench b;
	struct workload_result res;
	struct cowstore_pool_info before, after, flushed;
	struct cowstore_snapshot_info snap_info;
	uint64_t nblocks = 1000000, snap_ids[NSNAPS], clone_ids[NCLONES];
	uint64_t create_ns[NSNAPS], clone_ns[NCLONES], delete_ns, flush_ns, overwrite, t0, del_id;
	uint32_t *units;
	double map_mibs;

	if (argc < 1 || argc > 2)
		fail("usage: snapcreate DIR [NBLOCKS]");
	if (argc == 2)
		nblocks = parse_u64(argv[1], "NBLOCKS", 1000, UINT32_MAX);
	overwrite = nblocks / 10;

	prepare_dir(argv[0], nblocks * SMALL_IO_BYTES * 13 / 10 + 512 * MIB_BYTES);
	cs_setup(&b, argv[0], nblocks * SMALL_IO_BYTES, 4 * nblocks * SMALL_IO_BYTES);
	map_mibs = cs_prefill(&b);

	/* Snapshot creation: a few, each after a handful of writes. */
	for (unsigned i = 0; i < NSNAPS; i++) {
		cs_random_writes(&b, 16, &res);
		take_snapshot(&b, i, &snap_ids[i], &create_ns[i]);
	}
	/* Clones of the newest snapshot. */
	for (unsigned i = 0; i < NCLONES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "clone%u", i);
		t0 = now_ns();
		check(cowstore_clone_create(b.cs, snap_ids[NSNAPS - 1], name, &clone_ids[i], &err),
		      "cowstore_clone_create", &err);
		clone_ns[i] = now_ns() - t0;
	}
	/* Drop them all so the snapshot timed below is the only one holding
	 * the blocks overwritten after it: its unique space is then known. */
	for (unsigned i = 0; i < NCLONES; i++)
		check(cowstore_volume_delete(b.cs, clone_ids[i], &err),
		      "cowstore_volume_delete (clone)", &err);
	for (unsigned i = 0; i < NSNAPS; i++)
		check(cowstore_snapshot_delete(b.cs, snap_ids[i], &err),
		      "cowstore_snapshot_delete", &err);

	take_snapshot(&b, NSNAPS, &del_id, NULL);
	units = distinct_random_blocks(nblocks, overwrite);
	struct workload w = {
		.is_write = 1, .pattern = PATTERN_LIST, .io_bytes = SMALL_IO_BYTES,
		.qd = RANDOM_QD, .span_units = nblocks, .units = units, .max_ops = overwrite,
	};
	cs_run_workload(b.cs, b.q, b.volume_id, &w, &res);
	free(units);
	if (res.ops != overwrite)
		fail("overwrote %" PRIu64 " of %" PRIu64 " blocks", res.ops, overwrite);

	if (!find_snapshot(&b, del_id, &snap_info))
		fail("cowstore_snapshot_list does not list snapshot %" PRIu64 " just taken",
		     del_id);
	/* Settle blocks freed earlier (they count as allocated until a sync). */
	check(cowstore_flush(b.cs), "cowstore_flush", NULL);
	check(cowstore_pool_info(b.cs, &before), "cowstore_pool_info", NULL);
	t0 = now_ns();
	check(cowstore_snapshot_delete(b.cs, del_id, &err), "cowstore_snapshot_delete", &err);
	delete_ns = now_ns() - t0;
	check(cowstore_pool_info(b.cs, &after), "cowstore_pool_info", NULL);
	/* Freed blocks may stay allocated until a sync makes the metadata that
	 * freed them durable; a flush forces that sync. */
	t0 = now_ns();
	check(cowstore_flush(b.cs), "cowstore_flush", NULL);
	flush_ns = now_ns() - t0;
	check(cowstore_pool_info(b.cs, &flushed), "cowstore_pool_info", NULL);
	cs_teardown(&b);

	printf("snapshot-create-ms %.3f ms\n", ns_to_ms(median_u64(create_ns, NSNAPS)));
	printf("snapshot-create-max-ms %.3f ms\n", ns_to_ms(create_ns[NSNAPS - 1]));
	printf("clone-create-ms %.3f ms\n", ns_to_ms(median_u64(clone_ns, NCLONES)));
	printf("clone-create-max-ms %.3f ms\n", ns_to_ms(clone_ns[NCLONES - 1]));
	printf("snapshot-delete-ms %.3f ms\n", ns_to_ms(delete_ns));
	printf("snapshot-delete-overwritten-bytes %" PRIu64 " bytes\n",
	       overwrite * SMALL_IO_BYTES);
	printf("snapshot-delete-unique-bytes %" PRIu64 " bytes\n", snap_info.unique_bytes);
	printf("snapshot-delete-reclaimed-bytes %" PRId64 " bytes\n",
	       (int64_t)(before.allocated_bytes - flushed.allocated_bytes));
	printf("snapshot-delete-reclaimed-before-flush-bytes %" PRId64 " bytes\n",
	       (int64_t)(before.allocated_bytes - after.allocated_bytes));
	printf("snapshot-delete-flush-ms %.3f ms\n", ns_to_ms(flush_ns));
	printf("snapshot-delete-allocated-before-bytes %" PRIu64 " bytes\n",
	       before.allocated_bytes);
	printf("snapshot-delete-allocated-after-bytes %" PRIu64 " bytes\n",
	       after.allocated_bytes);
	printf("snapshot-delete-allocated-after-flush-bytes %" PRIu64 " bytes\n",
	       flushed.allocated_bytes);
	printf("snapcreate-mapped-blocks %" PRIu64 " blocks\n", nblocks);
	printf("snapcreate-map-mibs %.1f MiB/s\n", map_mibs);
	return 0;
}

/* ---- metadata ------------------------------------------------------ */

static uint64_t tree_bytes;
static uint64_t tree_log_bytes;

static int add_file_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *base = path + ftw->base;

	if (type == FTW_F) {
		tree_bytes += (uint64_t)st->st_size;
		if (strncmp(base, "LOG", 3) == 0) /* RocksDB's human-readable info log */
			tree_log_bytes += (uint64_t)st->st_size;
	}
	return 0;
}

/* Sum of the sizes of the regular files under path; *log_bytes gets the
 * part that is RocksDB's info log (LOG, LOG.old.*). */
static uint64_t dir_file_bytes(const char *path, uint64_t *log_bytes)
{
	tree_bytes = 0;
	tree_log_bytes = 0;
	if (nftw(path, add_file_size, 16, FTW_PHYS) != 0)
		fail("walk %s: %s", path, strerror(errno));
	*log_bytes = tree_log_bytes;
	return tree_bytes;
}

static int cmd_metadata(int argc, char **argv)
{
	struct cowstore_err err = { { 0 } };
	struct cs_bench b;
	struct workload_result res;
	struct cowstore_pool_info info;
	struct cowstore *cs;
	uint64_t size_bytes = GIB_BYTES, nwrites, closed_bytes, closed_log, reopened_bytes,
		 reopened_log;
	char meta[PATH_MAX];
	double written_gib;

	if (argc < 1 || argc > 2)
		fail("usage: metadata DIR [SIZE_MIB]");
	if (argc == 2)
		size_bytes = parse_u64(argv[1], "SIZE_MIB", 16, 1 << 20) * MIB_BYTES;
	nwrites = size_bytes / SMALL_IO_BYTES;
	written_gib = (double)(nwrites * SMALL_IO_BYTES) / (double)GIB_BYTES;
	if ((size_t)snprintf(meta, sizeof(meta), "%s/meta", argv[0]) >= sizeof(meta))
		fail("path too long: %s/meta", argv[0]);

	prepare_dir(argv[0], 2 * size_bytes + 256 * MIB_BYTES);
	cs_setup(&b, argv[0], size_bytes, 4 * size_bytes);
	cs_random_writes(&b, nwrites, &res);
	check(cowstore_flush(b.cs), "cowstore_flush", NULL);
	check(cowstore_pool_info(b.cs, &info), "cowstore_pool_info", NULL);
	cs_teardown(&b);
	closed_bytes = dir_file_bytes(meta, &closed_log);

	check(cowstore_open(argv[0], &cs, &err), "cowstore_open (reopen)", &err);
	cowstore_close(cs);
	reopened_bytes = dir_file_bytes(meta, &reopened_log);

	printf("metadata-mib-per-gib %.2f MiB/GiB\n",
	       (double)reopened_bytes / MIB_BYTES / written_gib);
	printf("metadata-mib-per-gib-before-reopen %.2f MiB/GiB\n",
	       (double)closed_bytes / MIB_BYTES / written_gib);
	printf("metadata-mib-per-gib-without-info-log %.2f MiB/GiB\n",
	       (double)(reopened_bytes - reopened_log) / MIB_BYTES / written_gib);
	printf("metadata-pool-info-bytes %" PRIu64 " bytes\n", info.metadata_bytes);
	printf("metadata-written-bytes %" PRIu64 " bytes\n", nwrites * SMALL_IO_BYTES);
	printf("metadata-fill-iops %.0f iops\n", iops_of(&res));
	return 0;
}

/* ---- recovery ------------------------------------------------------ */

/* The child: acknowledged but unflushed writes, then wait to be killed. */
static void recovery_child(const char *dir, uint64_t size_bytes, int ready_fd)
{
	struct cs_bench b;
	struct workload_result res;
	char ready = 'k';

	cs_setup(&b, dir, size_bytes, 4 * size_bytes);
	check(cowstore_flush(b.cs), "cowstore_flush", NULL);
	cs_random_writes(&b, size_bytes / SMALL_IO_BYTES, &res);
	if (write(ready_fd, &ready, 1) != 1)
		fail("write to parent: %s", strerror(errno));
	for (;;)
		pause();
}

static int cmd_recovery(int argc, char **argv)
{
	enum { NVERIFY = 1024 };
	struct cowstore_err err = { { 0 } };
	struct cowstore *cs;
	uint64_t size_bytes = GIB_BYTES, t0, open_ns, close_ns, volume_id, rng = rng_seed();
	struct pollfd pfd;
	int pipe_fds[2], status, rc;
	char ready;
	pid_t pid;
	void *buf;

	if (argc < 1 || argc > 2)
		fail("usage: recovery DIR [SIZE_MIB]");
	if (argc == 2)
		size_bytes = parse_u64(argv[1], "SIZE_MIB", 16, 1 << 20) * MIB_BYTES;

	prepare_dir(argv[0], 2 * size_bytes + 256 * MIB_BYTES);
	if (pipe(pipe_fds) != 0)
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(pipe_fds[0]);
		recovery_child(argv[0], size_bytes, pipe_fds[1]);
		_exit(1);
	}
	close(pipe_fds[1]);
	pfd.fd = pipe_fds[0];
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, 1800 * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		fail("poll: %s", strerror(errno));
	if (rc == 0 || read(pipe_fds[0], &ready, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail("the writer child failed before it was killed (%s)",
		     rc == 0 ? "timed out" : "see its error above");
	}
	close(pipe_fds[0]);
	if (kill(pid, SIGKILL) != 0)
		fail("kill %d: %s", (int)pid, strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid %d: %s", (int)pid, strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail("the writer child ended on its own (status %#x) instead of by SIGKILL",
		     status);

	t0 = now_ns();
	check(cowstore_open(argv[0], &cs, &err), "cowstore_open (after SIGKILL)", &err);
	open_ns = now_ns() - t0;

	/* Sanity, not durability: the volume exists and a sample of blocks each
	 * reads as its own data or as never written. */
	check(cowstore_volume_lookup(cs, "bench", &volume_id), "cowstore_volume_lookup bench",
	      NULL);
	buf = alloc_io_buf(SMALL_IO_BYTES, &rng);
	for (unsigned i = 0; i < NVERIFY; i++) {
		uint64_t block = rng_next(&rng) % (size_bytes / SMALL_IO_BYTES);
		const uint64_t *words = buf;

		check(cowstore_read(cs, volume_id, block * (SMALL_IO_BYTES / COWSTORE_SECTOR_SIZE),
				    SMALL_IO_BYTES / COWSTORE_SECTOR_SIZE, buf),
		      "cowstore_read (after recovery)", NULL);
		if (check_stamps(buf, SMALL_IO_BYTES, block, 1) >= 0)
			fail("wrong data after recovery: block %" PRIu64 " has stamp %#" PRIx64,
			     block, words[0]);
	}
	free(buf);
	t0 = now_ns();
	cowstore_close(cs);
	close_ns = now_ns() - t0;

	printf("recovery-ms %.1f ms\n", ns_to_ms(open_ns));
	printf("recovery-close-ms %.1f ms\n", ns_to_ms(close_ns));
	printf("recovery-verified-blocks %u blocks\n", (unsigned)NVERIFY);
	return 0;
}

/* ---- main ---------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: cowstore-bench COMMAND ARGS...\n"
	      "  randwrite|randread|seqwrite|seqread DIR SIZE_MIB QD SECONDS\n"
	      "  raw-randwrite|raw-randread|raw-seqwrite|raw-seqread FILE SIZE_MIB QD SECONDS\n"
	      "  snapratio DIR [SIZE_MIB [SECONDS]]\n"
	      "  snapcreate DIR [NBLOCKS]\n"
	      "  metadata DIR [SIZE_MIB]\n"
	      "  recovery DIR [SIZE_MIB]\n"
	      "Prints \"name value unit\" lines; DIR must hold no pool.\n",
	      stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *command;
	int rc;

	if (argc < 2)
		usage();
	command = argv[1];
	argc -= 2;
	argv += 2;

	rc = -1;
	for (size_t i = 0; i < sizeof(io_modes) / sizeof(io_modes[0]); i++) {
		if (strcmp(command, io_modes[i].command) == 0)
			rc = cmd_cowstore_io(&io_modes[i], argc, argv);
		else if (strncmp(command, "raw-", 4) == 0 &&
			 strcmp(command + 4, io_modes[i].command) == 0)
			rc = cmd_raw_io(&io_modes[i], argc, argv);
	}
	if (rc < 0) {
		if (strcmp(command, "snapratio") == 0)
			rc = cmd_snapratio(argc, argv);
		else if (strcmp(command, "snapcreate") == 0)
			rc = cmd_snapcreate(argc, argv);
		else if (strcmp(command, "metadata") == 0)
			rc = cmd_metadata(argc, argv);
		else if (strcmp(command, "recovery") == 0)
			rc = cmd_recovery(argc, argv);
		else
			usage();
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		fail("writing results to stdout: %s", strerror(errno));
	return rc;
}
