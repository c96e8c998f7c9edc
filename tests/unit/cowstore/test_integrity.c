/*
 * test_integrity.c - checksums (a flipped byte in the data file reads as
 * -EIO naming the sector, scrub finds it), the full pool (-ENOSPC only for
 * writes that need space), the soft-threshold event, and the persistent log.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

static uint8_t buf[1 << 20], out[1 << 20];

struct events {
	int soft, checksum, full;
	uint64_t last_lba;
};

static void on_event(void *arg, const struct cowstore_event *ev)
{
	struct events *e = arg;
	if (ev->type == COWSTORE_EVENT_SOFT_THRESHOLD)
		e->soft++;
	if (ev->type == COWSTORE_EVENT_CHECKSUM_ERROR) {
		e->checksum++;
		e->last_lba = ev->lba;
	}
	if (ev->type == COWSTORE_EVENT_POOL_FULL)
		e->full++;
}

static void test_checksum_error(void)
{
	struct test_pool tp;
	struct events ev = { 0 };
	struct cowstore_scrub_report rep;
	uint64_t id, snap;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	cowstore_set_event_handler(tp.cs, on_event, &ev);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	fill_pattern(buf, 0, 2048, 1);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 2048, buf, 0), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s", &snap, NULL), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_scrub(tp.cs, &rep), 0);
	CHECK_EQ(rep.blocks_checked, 256);
	CHECK_EQ(rep.bad_blocks, 0);
	/* The first write of an empty pool lands at data block 0: block 5 is sector 40. */
	test_pool_corrupt(tp.dir, 5 * 4096 + 100);
	struct cowstore_io io = { .op = COWSTORE_OP_READ, .volume_id = id, .lba = 0,
				  .nsectors = 2048, .buf = out };
	struct cowstore_queue *q;
	REQUIRE(cowstore_queue_create(tp.cs, &q) == 0);
	io.queue = q;
	REQUIRE(cowstore_submit(tp.cs, &io) == 0);
	CHECK_EQ(cowstore_queue_wait(q, 5000), 0);
	CHECK_EQ(cowstore_queue_reap(q, 0), 1);
	CHECK_EQ(io.result, -EIO);
	CHECK_EQ(io.error_lba, 40);
	CHECK_EQ(ev.checksum, 1);
	CHECK_EQ(ev.last_lba, 40);
	cowstore_queue_destroy(q);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 40, out), 0);       /* the good part reads */
	CHECK_EQ(cowstore_read(tp.cs, id, 44, 4, out), -EIO);    /* inside the bad block */
	CHECK_EQ(cowstore_read_snapshot(tp.cs, snap, 40, 8, out), -EIO);
	CHECK_EQ(cowstore_write(tp.cs, id, 42, 1, buf, 0), -EIO); /* RMW of a bad block */
	CHECK_EQ(cowstore_scrub(tp.cs, &rep), 0);
	CHECK_EQ(rep.bad_blocks, 1);
	CHECK_EQ(rep.first_bad[0].lba, 40);
	CHECK_EQ(rep.first_bad[0].pblock, 5);
	CHECK_EQ(rep.first_bad[0].volume_id, id);
	/* overwriting the whole block repairs it */
	CHECK_EQ(cowstore_write(tp.cs, id, 40, 8, buf + 40 * 512, 0), 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 2048, out), 0);
	CHECK(check_pattern(out, 0, 2048, 1));
	test_pool_destroy(&tp);
}

static void test_full_pool(void)
{
	struct test_pool tp;
	struct events ev = { 0 };
	uint64_t id, snap;
	struct cowstore_pool_info info;
	REQUIRE(test_pool_open(&tp, 4, 0) == 0); /* 1024 blocks */
	cowstore_set_event_handler(tp.cs, on_event, &ev);
	REQUIRE(cowstore_volume_create(tp.cs, "big", 16 << 20, &id, NULL) == 0);
	int rc = 0;
	uint64_t lba = 0;
	fill_pattern(buf, 0, 256, 1);
	for (; lba < 16 * 2048 && rc == 0; lba += 256)
		rc = cowstore_write(tp.cs, id, lba, 256, buf, 0);
	CHECK_EQ(rc, -ENOSPC);
	CHECK(ev.full >= 1);
	CHECK(ev.soft >= 1);
	CHECK_EQ(cowstore_pool_info(tp.cs, &info), 0);
	CHECK(info.soft_threshold_crossed);
	CHECK(info.free_bytes < 1 << 20);
	/* reads work; an overwrite of owned blocks is net neutral and allowed */
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 256, out), 0);
	CHECK(check_pattern(out, 0, 256, 1));
	fill_pattern(buf, 0, 8, 2);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 8, buf, 0), 0);
	/* after a snapshot the same overwrite needs new space: refused */
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s", &snap, NULL), 0);
	int refused = 0;
	for (int i = 0; i < 200 && !refused; i++)
		refused = cowstore_write(tp.cs, id, (uint64_t)i * 8, 8, buf, 0) == -ENOSPC;
	CHECK(refused);
	/* deleting the snapshot and discarding give space back */
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, snap, NULL), 0);
	CHECK_EQ(cowstore_discard(tp.cs, id, 0, 4096), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 256, buf, 0), 0);
	test_pool_destroy(&tp);
}

static void test_plog_fua_replay(void)
{
	struct test_pool tp;
	uint64_t id;
	REQUIRE(test_pool_open(&tp, 64, 2) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 4 << 20, &id, NULL) == 0);
	/* more FUA data than the log holds: it wraps and falls back to syncs */
	for (int i = 0; i < 64; i++) {
		fill_pattern(buf, (uint64_t)i * 128, 128, 10 + i);
		REQUIRE(cowstore_write(tp.cs, id, (uint64_t)i * 128, 128, buf, COWSTORE_IO_FUA) == 0);
	}
	fill_pattern(buf, 5, 3, 99);
	CHECK_EQ(cowstore_write(tp.cs, id, 5, 3, buf, COWSTORE_IO_FUA), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	for (int i = 0; i < 64; i++) {
		CHECK_EQ(cowstore_read(tp.cs, id, (uint64_t)i * 128, 128, out), 0);
		if (i == 0) {
			CHECK(check_pattern(out, 0, 5, 10));
			CHECK(check_pattern(out + 5 * 512, 5, 3, 99));
			CHECK(check_pattern(out + 8 * 512, 8, 120, 10));
		} else {
			CHECK(check_pattern(out, (uint64_t)i * 128, 128, 10 + i));
		}
	}
	test_pool_destroy(&tp);
}

/* Empty the metadata journal and every RocksDB log file: the metadata
 * written since the last checkpoint is gone, as after a power loss before
 * any of it was synced. */
static void lose_unsynced_metadata(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/journal", dir);
	if (truncate(path, 0) != 0)
		fprintf(stderr, "  cannot truncate %s\n", path);
	snprintf(path, sizeof(path), "%s/meta", dir);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0) {
			char f[512];
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			if (truncate(f, 0) != 0)
				fprintf(stderr, "  cannot truncate %s\n", f);
		}
	}
	if (d)
		closedir(d);
}

/* Fork a child that opens the pool, runs work on volume id and dies by
 * SIGKILL; 0 when it died that way. */
static int crash_after(const char *dir, uint64_t id, int (*work)(struct cowstore *, uint64_t))
{
	pid_t pid = fork();
	if (pid == 0) {
		struct cowstore *cs;
		if (cowstore_open(dir, &cs, NULL) || work(cs, id))
			_exit(2);
		kill(getpid(), SIGKILL);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? 0 : -1;
}

/* Sixteen FUA writes of 62 sectors, one sector into each 32 KiB. */
static int fua_writes(struct cowstore *cs, uint64_t id)
{
	for (int i = 0; i < 16; i++) {
		fill_pattern(buf, (uint64_t)i * 64 + 1, 62, 40 + i);
		if (cowstore_write(cs, id, (uint64_t)i * 64 + 1, 62, buf, COWSTORE_IO_FUA))
			return -1;
	}
	return 0;
}

/* Blocks 8-15 written and flushed, then blocks 16-23 written, unflushed. */
static int flushed_then_unflushed(struct cowstore *cs, uint64_t id)
{
	fill_pattern(buf, 64, 64, 2);
	if (cowstore_write(cs, id, 64, 64, buf, 0) || cowstore_flush(cs))
		return -1;
	fill_pattern(buf, 0, 64, 3);
	return cowstore_write(cs, id, 0, 64, buf, 0);
}

static void test_plog_replays_lost_metadata(void)
{
	struct test_pool tp;
	uint64_t id;
	REQUIRE(test_pool_open(&tp, 64, 4) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 4 << 20, &id, NULL) == 0);
	cowstore_close(tp.cs); /* the volume record reaches a table file */
	tp.cs = NULL;
	REQUIRE(crash_after(tp.dir, id, fua_writes) == 0);
	lose_unsynced_metadata(tp.dir);
	REQUIRE(cowstore_open(tp.dir, &tp.cs, NULL) == 0);
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(cowstore_read(tp.cs, id, (uint64_t)i * 64, 64, out), 0);
		CHECK(is_zero(out, 512));
		CHECK(check_pattern(out + 512, (uint64_t)i * 64 + 1, 62, 40 + i));
		CHECK(is_zero(out + 63 * 512, 512));
	}
	test_pool_destroy(&tp);
}

/* Zero data blocks [from, to) of the pool, as if their writes had never
 * reached the disk before a power loss. */
static void lose_data_blocks(const char *dir, uint64_t from, uint64_t to)
{
	char path[128];
	static uint8_t zero[4096];
	snprintf(path, sizeof(path), "%s/data", dir);
	int fd = open(path, O_WRONLY);
	for (uint64_t b = from; fd >= 0 && b < to; b++)
		if (pwrite(fd, zero, sizeof(zero), (off_t)(b * 4096)) != (ssize_t)sizeof(zero))
			fprintf(stderr, "  cannot zero block %llu\n", (unsigned long long)b);
	if (fd >= 0)
		close(fd);
}

static void test_unflushed_write_with_lost_data_is_dropped(void)
{
	struct test_pool tp;
	uint64_t id;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	fill_pattern(buf, 0, 64, 1);
	REQUIRE(cowstore_write(tp.cs, id, 0, 64, buf, 0) == 0); /* data blocks 0-7 */
	cowstore_close(tp.cs);
	tp.cs = NULL;
	REQUIRE(crash_after(tp.dir, id, flushed_then_unflushed) == 0);
	lose_data_blocks(tp.dir, 16, 24);
	REQUIRE(cowstore_open(tp.dir, &tp.cs, NULL) == 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 128, out), 0); /* the old data, not -EIO */
	CHECK(check_pattern(out, 0, 64, 1));
	CHECK(check_pattern(out + 64 * 512, 64, 64, 2));
	struct cowstore_scrub_report rep;
	CHECK_EQ(cowstore_scrub(tp.cs, &rep), 0);
	CHECK_EQ(rep.bad_blocks, 0);
	test_pool_destroy(&tp);
}

static void test_pool_create_errors(void)
{
	struct test_pool tp;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	struct cowstore_pool_options small = { .capacity_bytes = 4096 };
	struct cowstore_pool_options prealloc = { .capacity_bytes = 8 << 20, .preallocate = 1 };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_pool_create(tp.dir, NULL, &err), -EEXIST);
	CHECK(strstr(err.msg, "already holds a pool") != NULL);
	CHECK_EQ(cowstore_pool_create("/tmp/slate-x", &small, &err), -EINVAL);
	CHECK_EQ(cowstore_open("/nonexistent/slate", &cs, &err), -ENOENT);
	/* a preallocated pool's data file has all its blocks in the file system */
	char dir[96], path[128];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/prealloc", tp.dir);
	CHECK_EQ(cowstore_pool_create(dir, &prealloc, &err), 0);
	snprintf(path, sizeof(path), "%s/data", dir);
	CHECK(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 >= (8u << 20));
	CHECK(strstr(err.msg, "no pool") != NULL);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "checksum_error", test_checksum_error },
	{ "full_pool", test_full_pool },
	{ "plog_fua_replay", test_plog_fua_replay },
	{ "plog_replays_lost_metadata", test_plog_replays_lost_metadata },
	{ "unflushed_write_with_lost_data_is_dropped",
	  test_unflushed_write_with_lost_data_is_dropped },
	{ "pool_create_errors", test_pool_create_errors },
};
HARNESS_MAIN(tests)
