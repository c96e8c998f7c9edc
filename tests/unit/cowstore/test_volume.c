/*
 * test_volume.c - volumes: create, IO (aligned, unaligned, zeroes, discard),
 * resize, delete, bad arguments, persistence across reopen.
 */
#include <errno.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

static void test_create_write_read(void)
{
	struct test_pool tp;
	uint64_t id;
	static uint8_t buf[1 << 20], out[1 << 20];
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_volume_create(tp.cs, "vm1-disk0", 16 << 20, &id, NULL), 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 2048, out), 0);
	CHECK(is_zero(out, sizeof(out)));
	fill_pattern(buf, 0, 2048, 7);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 2048, buf, 0), 0);
	memset(out, 0, sizeof(out));
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 2048, out), 0);
	CHECK(check_pattern(out, 0, 2048, 7));
	/* unaligned overwrite in the middle of a block */
	fill_pattern(buf, 3, 3, 9);
	CHECK_EQ(cowstore_write(tp.cs, id, 3, 3, buf, 0), 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 16, out), 0);
	CHECK(check_pattern(out, 0, 3, 7));
	CHECK(check_pattern(out + 3 * 512, 3, 3, 9));
	CHECK(check_pattern(out + 6 * 512, 6, 10, 7));
	/* unaligned read */
	CHECK_EQ(cowstore_read(tp.cs, id, 5, 2, out), 0);
	CHECK(check_pattern(out, 5, 1, 9));
	CHECK(check_pattern(out + 512, 6, 1, 7));
	/* survives reopen */
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 16, out), 0);
	CHECK(check_pattern(out, 0, 3, 7));
	CHECK(check_pattern(out + 3 * 512, 3, 3, 9));
	test_pool_destroy(&tp);
}

static void test_zeroes_discard(void)
{
	struct test_pool tp;
	uint64_t id;
	static uint8_t buf[256 << 10], out[256 << 10];
	struct cowstore_pool_info before, after;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	fill_pattern(buf, 0, 512, 1);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 512, buf, 0), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_pool_info(tp.cs, &before), 0);
	CHECK_EQ(before.allocated_bytes, 256 << 10);
	CHECK_EQ(cowstore_write_zeroes(tp.cs, id, 8, 64), 0);
	CHECK_EQ(cowstore_discard(tp.cs, id, 101, 50), 0); /* unaligned both ends */
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 512, out), 0);
	CHECK(check_pattern(out, 0, 8, 1));
	CHECK(is_zero(out + 8 * 512, 64 * 512));
	CHECK(check_pattern(out + 72 * 512, 72, 29, 1));
	CHECK(is_zero(out + 101 * 512, 50 * 512));
	CHECK(check_pattern(out + 151 * 512, 151, 512 - 151, 1));
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_pool_info(tp.cs, &after), 0);
	/* 8 whole blocks zeroed, and [104,144) sectors = 5 whole blocks discarded */
	CHECK_EQ(after.allocated_bytes, before.allocated_bytes - 13 * 4096);
	test_pool_destroy(&tp);
}

static void test_bad_arguments(void)
{
	struct test_pool tp;
	uint64_t id, other;
	uint8_t buf[4096];
	struct cowstore_err err = { "" };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_volume_create(tp.cs, "", 4096, &id, &err), -EINVAL);
	CHECK_EQ(cowstore_volume_create(tp.cs, "a/b", 4096, &id, &err), -EINVAL);
	CHECK(strstr(err.msg, "a/b") != NULL);
	CHECK_EQ(cowstore_volume_create(tp.cs, "v", 1000, &id, &err), -EINVAL);
	CHECK_EQ(cowstore_volume_create(tp.cs, "v", 0, &id, &err), -EINVAL);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 8192, &id, NULL) == 0);
	CHECK_EQ(cowstore_volume_create(tp.cs, "v", 8192, &other, &err), -EEXIST);
	CHECK(strstr(err.msg, "already exists") != NULL);
	CHECK_EQ(cowstore_read(tp.cs, id, 16, 1, buf), -EINVAL);   /* past the end */
	CHECK_EQ(cowstore_write(tp.cs, id, 15, 2, buf, 0), -EINVAL);
	CHECK_EQ(cowstore_read(tp.cs, id + 1000, 0, 1, buf), -ENOENT);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 0, buf), -EINVAL);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 1, NULL), -EINVAL);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 1, buf, 0x80), -EINVAL);
	CHECK_EQ(cowstore_read_snapshot(tp.cs, 0, 0, 1, buf), -EINVAL);
	CHECK_EQ(cowstore_read_snapshot(tp.cs, 999, 0, 1, buf), -ENOENT);
	CHECK_EQ(cowstore_volume_resize(tp.cs, id, 4095, &err), -EINVAL);
	CHECK_EQ(cowstore_volume_resize(tp.cs, 999, 4096, &err), -ENOENT);
	CHECK_EQ(cowstore_volume_delete(tp.cs, 999, &err), -ENOENT);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "nope", &other), -ENOENT);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "v", &other), 0);
	CHECK_EQ(other, id);
	CHECK_EQ(cowstore_submit(tp.cs, NULL), -EINVAL);
	CHECK_EQ(cowstore_volume_info(tp.cs, id, 0, NULL), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_resize_delete(void)
{
	struct test_pool tp;
	uint64_t id;
	static uint8_t buf[64 << 10], out[64 << 10];
	struct cowstore_pool_info info;
	struct cowstore_volume_info vi;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 64 << 10, &id, NULL) == 0);
	fill_pattern(buf, 0, 128, 3);
	CHECK_EQ(cowstore_write(tp.cs, id, 0, 128, buf, 0), 0);
	CHECK_EQ(cowstore_volume_resize(tp.cs, id, 32 << 10, NULL), 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 64, 1, out), -EINVAL);
	CHECK_EQ(cowstore_volume_resize(tp.cs, id, 64 << 10, NULL), 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 128, out), 0);
	CHECK(check_pattern(out, 0, 64, 3));
	CHECK(is_zero(out + 64 * 512, 64 * 512));
	CHECK_EQ(cowstore_volume_info(tp.cs, id, 1, &vi), 0);
	CHECK_EQ(vi.size_bytes, 64 << 10);
	CHECK_EQ(vi.mapped_bytes, 32 << 10);
	CHECK_EQ(vi.unique_bytes, 32 << 10);
	CHECK_EQ(cowstore_volume_delete(tp.cs, id, NULL), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_pool_info(tp.cs, &info), 0);
	CHECK_EQ(info.allocated_bytes, 0);
	CHECK_EQ(info.nvolumes, 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_pool_info(tp.cs, &info), 0);
	CHECK_EQ(info.allocated_bytes, 0);
	CHECK_EQ(cowstore_read(tp.cs, id, 0, 1, out), -ENOENT);
	test_pool_destroy(&tp);
}

static void test_sequential_writes_make_large_extents(void)
{
	struct test_pool tp;
	uint64_t id;
	static uint8_t buf[4096];
	struct cowstore_pool_info info;
	REQUIRE(test_pool_open(&tp, 256, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 64 << 20, &id, NULL) == 0);
	for (uint64_t lba = 0; lba < (32 << 20) / 512; lba += 8) {
		fill_pattern(buf, lba, 8, 5);
		REQUIRE(cowstore_write(tp.cs, id, lba, 8, buf, 0) == 0);
	}
	cowstore_close(tp.cs); /* flushes the memtable into a table file */
	REQUIRE(cowstore_open(tp.dir, &tp.cs, NULL) == 0);
	CHECK_EQ(cowstore_pool_info(tp.cs, &info), 0);
	/* 8192 4K writes: merged into 1 MiB extents, metadata stays small */
	CHECK(info.metadata_bytes < (2u << 20));
	fprintf(stderr, "  metadata after 32 MiB sequential 4K writes: %llu bytes\n",
		(unsigned long long)info.metadata_bytes);
	test_pool_destroy(&tp);
}

/* Rewrites without a flush: the store syncs by itself once 64 MiB of freed
 * blocks wait, so their space goes back into use instead of the data file
 * growing by everything rewritten. */
static void test_rewrites_reuse_space(void)
{
	struct test_pool tp;
	uint64_t id;
	static uint8_t buf[1 << 20];
	struct cowstore_pool_info info;
	REQUIRE(test_pool_open(&tp, 1024, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 16 << 20, &id, NULL) == 0);
	for (int pass = 0; pass < 16; pass++) {
		memset(buf, pass, sizeof(buf));
		for (uint64_t lba = 0; lba < (16 << 20) / 512; lba += sizeof(buf) / 512)
			REQUIRE(cowstore_write(tp.cs, id, lba, sizeof(buf) / 512, buf, 0) == 0);
	}
	/* 256 MiB written over 16 MiB.  Once the sync that the last 64 MiB of
	 * frees started has finished, at most the data and under 64 MiB of
	 * frees waiting for the next one stay allocated (without the sync:
	 * all 272 MiB).  The sync runs on its own thread: wait for it (the
	 * bound is only there so that a bug cannot hang the test). */
	for (int i = 0; i < 6000; i++) {
		CHECK_EQ(cowstore_pool_info(tp.cs, &info), 0);
		if (info.allocated_bytes <= (16u + 64 + 1) << 20)
			break;
		usleep(10000);
	}
	CHECK(info.allocated_bytes <= (16u + 64 + 1) << 20);
	REQUIRE(cowstore_read(tp.cs, id, 0, sizeof(buf) / 512, buf) == 0);
	CHECK(buf[0] == 15 && buf[sizeof(buf) - 1] == 15);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "create_write_read", test_create_write_read },
	{ "zeroes_discard", test_zeroes_discard },
	{ "bad_arguments", test_bad_arguments },
	{ "resize_delete", test_resize_delete },
	{ "sequential_writes_make_large_extents", test_sequential_writes_make_large_extents },
	{ "rewrites_reuse_space", test_rewrites_reuse_space },
};
HARNESS_MAIN(tests)
