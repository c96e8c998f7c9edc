/*
 * test_plog.c - the persistent FUA log on its own: records come back in
 * order after a reopen until marked synced, the ring wraps, a damaged
 * record ends the replay, and a full log says -ENOSPC.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cowstore/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

struct seen {
	uint64_t seqs[4096];
	uint32_t seeds_ok;
	size_t n;
};

static int collect(void *arg, uint64_t seq, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		   const void *data)
{
	struct seen *s = arg;
	if (s->n < 4096)
		s->seqs[s->n++] = seq;
	s->seeds_ok += check_pattern(data, lba, nsectors, (uint32_t)volume_id);
	return 0;
}

static char path[64];

static struct plog *fresh_log(uint64_t bytes)
{
	struct plog *pl = NULL;
	snprintf(path, sizeof(path), "/tmp/slate-plog-XXXXXX");
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	if (plog_create(path, bytes, NULL) || plog_open(path, &pl, NULL))
		return NULL;
	return pl;
}

static struct plog *reopen(struct plog *pl, struct seen *s)
{
	plog_close(pl);
	memset(s, 0, sizeof(*s));
	if (plog_open(path, &pl, NULL) || plog_replay(pl, collect, s))
		return NULL;
	return pl;
}

static void test_replay_until_synced(void)
{
	static uint8_t data[8 * 512];
	struct seen s;
	uint64_t seq;
	struct plog *pl = fresh_log(1 << 20);
	REQUIRE(pl);
	for (uint32_t i = 1; i <= 10; i++) {
		fill_pattern(data, i * 8, 8, i);
		CHECK_EQ(plog_append(pl, i, i * 8, 8, data, &seq), 0);
		CHECK_EQ(seq, i);
	}
	REQUIRE((pl = reopen(pl, &s)) != NULL);
	CHECK_EQ(s.n, 10);
	CHECK_EQ(s.seeds_ok, 10);
	CHECK(s.n == 10 && s.seqs[0] == 1 && s.seqs[9] == 10);
	plog_mark_synced(pl, 6);
	REQUIRE((pl = reopen(pl, &s)) != NULL);
	CHECK_EQ(s.n, 4);
	CHECK(s.n == 4 && s.seqs[0] == 7);
	CHECK_EQ(plog_last_seq(pl), 10);
	plog_mark_synced(pl, 10);
	CHECK_EQ(plog_append(pl, 11, 88, 8, data, &seq), 0);
	CHECK_EQ(seq, 11);
	REQUIRE((pl = reopen(pl, &s)) != NULL);
	CHECK(s.n == 1 && s.seqs[0] == 11);
	plog_close(pl);
	unlink(path);
}

static void test_wrap_and_full(void)
{
	static uint8_t data[64 << 10];
	struct seen s;
	uint64_t seq, synced = 0;
	int full = 0;
	struct plog *pl = fresh_log(1 << 20);
	REQUIRE(pl);
	fill_pattern(data, 0, 128, 5);
	/* 64 KiB records in a 1 MiB ring: about 15 fit before it is full */
	for (int i = 0; i < 20 && !full; i++)
		full = plog_append(pl, 5, 0, 128, data, &seq) == -ENOSPC;
	CHECK(full);
	for (int round = 0; round < 5; round++) { /* sync half, append more: wraps */
		synced = plog_last_seq(pl) - 4;
		plog_mark_synced(pl, synced);
		for (int i = 0; i < 6; i++)
			CHECK_EQ(plog_append(pl, 5, 0, 128, data, &seq), 0);
	}
	REQUIRE((pl = reopen(pl, &s)) != NULL);
	CHECK_EQ(s.n, plog_last_seq(pl) - synced);
	CHECK_EQ(s.seeds_ok, s.n);
	CHECK(s.n && s.seqs[0] == synced + 1);
	plog_close(pl);
	unlink(path);
}

static void test_damaged_record_ends_replay(void)
{
	static uint8_t data[8 * 512];
	struct seen s;
	uint64_t seq;
	struct plog *pl = fresh_log(1 << 20);
	REQUIRE(pl);
	for (uint32_t i = 1; i <= 3; i++) {
		fill_pattern(data, 0, 8, i);
		CHECK_EQ(plog_append(pl, i, 0, 8, data, &seq), 0);
	}
	plog_close(pl);
	/* the second record starts at 4096 + align64(40 + 4096) = 8256 */
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "XXXX", 4, 8256 + 100) == 4);
	close(fd);
	REQUIRE(plog_open(path, &pl, NULL) == 0);
	memset(&s, 0, sizeof(s));
	CHECK_EQ(plog_replay(pl, collect, &s), 0);
	CHECK_EQ(s.n, 1);
	plog_close(pl);
	unlink(path);
	CHECK_EQ(plog_create(path, 1000, NULL), -EINVAL);
	CHECK(plog_open("/nonexistent/plog", &pl, NULL) < 0);
}

static const struct harness_test tests[] = {
	{ "replay_until_synced", test_replay_until_synced },
	{ "wrap_and_full", test_wrap_and_full },
	{ "damaged_record_ends_replay", test_damaged_record_ends_replay },
};
HARNESS_MAIN(tests)
