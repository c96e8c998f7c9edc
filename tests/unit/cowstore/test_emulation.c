/*
 * test_emulation.c - the emulated device (cowstore/emulation.c, for tests
 * and benchmarks only): its model gives lower bounds on how long IO takes
 * (one channel of 2 ms, four channels, the bandwidth term, the IOPS cap),
 * completions come in order, data written through it reads back intact, the
 * setting persists across a reopen, and off means no model at all.
 *
 * Every timing check is a lower bound: the model forbids completing sooner,
 * while a loaded machine may always be slower, so no test fails for being
 * slow.
 */
#include <errno.h>
#include <time.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define VOLUME_BYTES (64ull << 20)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- a small async driver: count IOs at queue depth qd ----------------- */

struct run {
	struct cowstore_queue *q; /* run_ios's own */
	unsigned inflight;
	unsigned order[256];  /* indexes in completion order */
	unsigned ncompleted;
	int errors;
};

struct slot {
	struct cowstore_io io;
	struct run *run;
	unsigned index;
};

static void slot_done(struct cowstore_io *io)
{
	struct slot *s = io->priv;
	struct run *r = s->run;
	r->inflight--;
	if (io->result)
		r->errors++;
	if (r->ncompleted < 256)
		r->order[r->ncompleted] = s->index;
	r->ncompleted++;
}

/* count IOs of `bytes` each at sectors first + i * bytes/512 (sequential),
 * op READ or WRITE, at most qd in flight; buf holds count * bytes. Returns
 * elapsed ms, or -1 on a submit failure. */
static double run_ios(struct cowstore *cs, uint64_t vol, enum cowstore_op op, unsigned count,
		      uint32_t bytes, unsigned qd, uint8_t *buf, struct run *r)
{
	struct slot *slots = calloc(count, sizeof(*slots));
	memset(r, 0, sizeof(*r));
	if (!slots || cowstore_queue_create(cs, &r->q)) {
		free(slots);
		return -1;
	}
	double t0 = now_ms();
	unsigned next = 0;
	while (r->ncompleted < count) {
		while (next < count && r->inflight < qd) {
			struct slot *s = &slots[next];
			s->run = r;
			s->index = next;
			s->io = (struct cowstore_io){ .op = op, .volume_id = vol,
						      .lba = (uint64_t)next * (bytes / 512),
						      .nsectors = bytes / 512,
						      .buf = buf + (size_t)next * bytes,
						      .queue = r->q, .done = slot_done, .priv = s };
			if (cowstore_submit(cs, &s->io)) {
				r->errors++;
				next = count;
				break;
			}
			r->inflight++;
			next++;
		}
		if (r->inflight == 0)
			break;
		cowstore_queue_wait(r->q, 1000);
		cowstore_queue_reap(r->q, 0);
	}
	double elapsed = now_ms() - t0;
	cowstore_queue_destroy(r->q);
	free(slots);
	return elapsed;
}

static int in_order(const struct run *r, unsigned count)
{
	for (unsigned i = 0; i < count && i < 256; i++)
		if (r->order[i] != i)
			return 0;
	return 1;
}

static int open_with_volume(struct test_pool *tp, uint64_t *vol)
{
	if (test_pool_open(tp, 256, 0))
		return -1;
	return cowstore_volume_create(tp->cs, "v", VOLUME_BYTES, vol, NULL);
}

/* ---- tests -------------------------------------------------------------- */

/* 100 sequential 4 KiB IOs at QD 8 on channels of 2 ms: at least
 * 100 * 2 / channels ms, in order, data intact. */
static void channels_case(uint32_t channels, double at_least_ms)
{
	struct test_pool tp;
	uint64_t vol;
	struct run r;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = channels, .fixed_us = 2000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	uint8_t *wbuf = malloc(100 * 4096), *rbuf = malloc(100 * 4096);
	REQUIRE(wbuf && rbuf);
	fill_pattern(wbuf, 0, 100 * 8, channels);

	double ms = run_ios(tp.cs, vol, COWSTORE_OP_WRITE, 100, 4096, 8, wbuf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.ncompleted, 100);
	CHECK(ms >= at_least_ms);
	CHECK(in_order(&r, 100));
	if (ms < at_least_ms || !in_order(&r, 100))
		fprintf(stderr, "  writes: %.1f ms (want >= %.0f), order %s\n", ms, at_least_ms,
			in_order(&r, 100) ? "kept" : "NOT kept");

	memset(rbuf, 0, 100 * 4096);
	ms = run_ios(tp.cs, vol, COWSTORE_OP_READ, 100, 4096, 8, rbuf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK(ms >= at_least_ms);
	CHECK(in_order(&r, 100));
	CHECK(check_pattern(rbuf, 0, 100 * 8, channels));
	free(wbuf);
	free(rbuf);
	test_pool_destroy(&tp);
}

static void test_one_channel(void) { channels_case(1, 200.0); }
static void test_four_channels(void) { channels_case(4, 50.0); }

/* The size term: 1 MiB at 100 MB/s holds a channel >= 10 ms (10.49). */
static void test_bandwidth(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct run r;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 1, .bytes_per_s = 100000000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	uint8_t *buf = malloc(8u << 20);
	REQUIRE(buf);
	fill_pattern(buf, 0, 8 * 2048, 7);
	for (unsigned i = 0; i < 3; i++) { /* one at a time: each alone >= 10 ms */
		double t0 = now_ms();
		CHECK_EQ(cowstore_write(tp.cs, vol, (uint64_t)i * 2048, 2048, buf + (i << 20), 0), 0);
		double ms = now_ms() - t0;
		CHECK(ms >= 10.0);
	}
	double ms = run_ios(tp.cs, vol, COWSTORE_OP_WRITE, 8, 1 << 20, 4, buf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK(ms >= 80.0);
	CHECK(in_order(&r, 8));
	memset(buf, 0, 8u << 20);
	ms = run_ios(tp.cs, vol, COWSTORE_OP_READ, 8, 1 << 20, 4, buf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK(ms >= 80.0);
	CHECK(check_pattern(buf, 0, 8 * 2048, 7));
	free(buf);
	test_pool_destroy(&tp);
}

/* The IOPS cap alone: 100 IOs at 1000 IOPS start >= 99 ms apart end to end. */
static void test_iops_cap(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct run r;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 8, .max_iops = 1000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	uint8_t *buf = calloc(100, 4096);
	REQUIRE(buf);
	double ms = run_ios(tp.cs, vol, COWSTORE_OP_READ, 100, 4096, 16, buf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.ncompleted, 100);
	CHECK(ms >= 99.0);
	free(buf);
	test_pool_destroy(&tp);
}

/* Mixed aligned and unaligned writes through the device, then read back
 * after a reopen (which applies the device again). */
static void test_data_intact(void)
{
	struct test_pool tp;
	uint64_t vol;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 2, .fixed_us = 200,
					.bytes_per_s = 1000000000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	uint8_t *buf = malloc(1 << 20), *back = malloc(1 << 20);
	REQUIRE(buf && back);
	fill_pattern(buf, 0, 2048, 11);
	CHECK_EQ(cowstore_write(tp.cs, vol, 0, 2048, buf, 0), 0);
	fill_pattern(buf, 3, 5, 12); /* unaligned: read-modify-write */
	CHECK_EQ(cowstore_write(tp.cs, vol, 3, 5, buf, COWSTORE_IO_FUA), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	struct cowstore_emulation got;
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(got.on);
	CHECK_EQ(cowstore_read(tp.cs, vol, 0, 2048, back), 0);
	CHECK(check_pattern(back, 0, 3, 11));
	CHECK(check_pattern(back + 3 * 512, 3, 5, 12));
	CHECK(check_pattern(back + 8 * 512, 8, 2040, 11));
	free(buf);
	free(back);
	test_pool_destroy(&tp);
}

static void test_persists(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct cowstore_emulation got;
	void *value;
	size_t len;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(!got.on); /* a new pool has none */
	CHECK_EQ(cowstore_config_get(tp.cs, COWSTORE_EMULATION_KEY, &value, &len), -ENOENT);
	struct cowstore_emulation e = { .on = 1, .channels = 3, .fixed_us = 1234,
					.bytes_per_s = 987654321, .max_iops = 4321 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(got.on);
	CHECK_EQ(got.channels, 3);
	CHECK_EQ(got.fixed_us, 1234);
	CHECK_EQ(got.bytes_per_s, 987654321);
	CHECK_EQ(got.max_iops, 4321);
	char text[128];
	cowstore_emulation_describe(&got, text, sizeof(text));
	CHECK(strstr(text, "3 channels") && strstr(text, "4321 IOPS"));

	struct cowstore_emulation off = { .on = 0, .channels = 99999 }; /* ignored when off */
	CHECK_EQ(cowstore_emulation_set(tp.cs, &off), 0);
	CHECK_EQ(cowstore_emulation_set(tp.cs, &off), 0); /* twice: no record is no error */
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(!got.on);
	CHECK_EQ(cowstore_config_get(tp.cs, COWSTORE_EMULATION_KEY, &value, &len), -ENOENT);
	cowstore_emulation_describe(&got, text, sizeof(text));
	CHECK(strcmp(text, "off") == 0);
	test_pool_destroy(&tp);
}

/* A damaged record fails the open with a sentence naming it, rather than
 * running without the device the pool says it has. */
static void test_damaged_record(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct cowstore_err err = { "" };
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	static const char good_plus[] = "channels=2 fixed_us=5 bytes_per_s=0 max_iops=0 later=7";
	CHECK_EQ(cowstore_config_put(tp.cs, COWSTORE_EMULATION_KEY, good_plus,
				     sizeof(good_plus) - 1), 0);
	REQUIRE(test_pool_reopen(&tp) == 0); /* a newer writer's words are skipped */
	struct cowstore_emulation got;
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(got.on && got.channels == 2 && got.fixed_us == 5);
	static const char bad[] = "channels=0 fixed_us=5";
	CHECK_EQ(cowstore_config_put(tp.cs, COWSTORE_EMULATION_KEY, bad, sizeof(bad) - 1), 0);
	cowstore_close(tp.cs);
	tp.cs = NULL;
	CHECK_EQ(cowstore_open(tp.dir, &tp.cs, &err), -EUCLEAN);
	CHECK(strstr(err.msg, "emulated device") != NULL);
	tp.cs = NULL;
	test_pool_destroy(&tp);
}

static void test_bad_settings(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct cowstore_emulation got;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 2, .fixed_us = 10 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	struct cowstore_emulation bad[] = {
		{ .on = 1, .channels = 0 },
		{ .on = 1, .channels = COWSTORE_EMULATION_MAX_CHANNELS + 1 },
		{ .on = 1, .channels = 1, .fixed_us = COWSTORE_EMULATION_MAX_FIXED_US + 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(cowstore_emulation_set(tp.cs, &bad[i]), -EINVAL);
	CHECK_EQ(cowstore_emulation_set(NULL, &e), -EINVAL);
	CHECK_EQ(cowstore_emulation_set(tp.cs, NULL), -EINVAL);
	CHECK_EQ(cowstore_emulation_get(tp.cs, &got), 0);
	CHECK(got.on && got.channels == 2 && got.fixed_us == 10); /* unchanged */
	test_pool_destroy(&tp);
}

/* Off after on: IO works and the model holds nothing (no upper bound is
 * asserted: a loaded machine may be slow). */
static void test_off(void)
{
	struct test_pool tp;
	uint64_t vol;
	struct run r;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 1, .fixed_us = 2000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	e.on = 0;
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	uint8_t *buf = malloc(100 * 4096);
	REQUIRE(buf);
	fill_pattern(buf, 0, 800, 5);
	run_ios(tp.cs, vol, COWSTORE_OP_WRITE, 100, 4096, 8, buf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.ncompleted, 100);
	memset(buf, 0, 100 * 4096);
	run_ios(tp.cs, vol, COWSTORE_OP_READ, 100, 4096, 8, buf, &r);
	CHECK_EQ(r.errors, 0);
	CHECK(check_pattern(buf, 0, 800, 5));
	free(buf);
	test_pool_destroy(&tp);
}

/* Switched off while IO waits in the model: every request still completes
 * and close (which waits for in-flight IO) returns. */
static void test_switch_while_busy(void)
{
	struct test_pool tp;
	uint64_t vol;
	REQUIRE(open_with_volume(&tp, &vol) == 0);
	struct cowstore_emulation e = { .on = 1, .channels = 1, .fixed_us = 20000 };
	REQUIRE(cowstore_emulation_set(tp.cs, &e) == 0);
	struct cowstore_queue *q;
	REQUIRE(cowstore_queue_create(tp.cs, &q) == 0);
	static uint8_t buf[8][4096];
	struct slot slots[8];
	struct run r = { .q = q };
	for (unsigned i = 0; i < 8; i++) {
		slots[i] = (struct slot){ .run = &r, .index = i };
		slots[i].io = (struct cowstore_io){ .op = COWSTORE_OP_WRITE, .volume_id = vol,
						    .lba = i * 8, .nsectors = 8, .buf = buf[i],
						    .queue = q, .done = slot_done,
						    .priv = &slots[i] };
		CHECK_EQ(cowstore_submit(tp.cs, &slots[i].io), 0);
		r.inflight++;
	}
	e.on = 0;
	CHECK_EQ(cowstore_emulation_set(tp.cs, &e), 0);
	while (r.inflight) {
		cowstore_queue_wait(q, 1000);
		cowstore_queue_reap(q, 0);
	}
	CHECK_EQ(r.errors, 0);
	CHECK(in_order(&r, 8));
	cowstore_queue_destroy(q);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "one_channel", test_one_channel },
	{ "four_channels", test_four_channels },
	{ "bandwidth", test_bandwidth },
	{ "iops_cap", test_iops_cap },
	{ "data_intact", test_data_intact },
	{ "persists", test_persists },
	{ "damaged_record", test_damaged_record },
	{ "bad_settings", test_bad_settings },
	{ "off", test_off },
	{ "switch_while_busy", test_switch_while_busy },
};
HARNESS_MAIN(tests)
