/*
 * test_snapshot.c - snapshots, groups, clones, rollback, snapshot deletion
 * with exact space reclaim, and extent-sharing copies.
 */
#include <errno.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define VOL_SECTORS 2048u /* 1 MiB volumes */

static uint8_t buf[1 << 20], out[1 << 20];

static int write_pattern(struct cowstore *cs, uint64_t id, uint64_t lba, uint32_t n, uint32_t seed)
{
	fill_pattern(buf, lba, n, seed);
	return cowstore_write(cs, id, lba, n, buf, 0);
}

static int volume_is(struct cowstore *cs, uint64_t id, uint64_t lba, uint32_t n, uint32_t seed)
{
	return cowstore_read(cs, id, lba, n, out) == 0 && check_pattern(out, lba, n, seed);
}

static int snapshot_is(struct cowstore *cs, uint64_t snap, uint64_t lba, uint32_t n, uint32_t seed)
{
	return cowstore_read_snapshot(cs, snap, lba, n, out) == 0 && check_pattern(out, lba, n, seed);
}

static uint64_t allocated(struct cowstore *cs)
{
	struct cowstore_pool_info info;
	cowstore_flush(cs);
	return cowstore_pool_info(cs, &info) == 0 ? info.allocated_bytes : UINT64_MAX;
}

static void test_snapshot_views(void)
{
	struct test_pool tp;
	uint64_t id, s1, s2, s3;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, VOL_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s1", &s1, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, 512, 2), 0);
	CHECK_EQ(cowstore_discard(tp.cs, id, 1024, 512), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s2", &s2, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 256, 512, 3), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 1024, 8, 4), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s3", &s3, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, VOL_SECTORS, 5), 0);

	CHECK(snapshot_is(tp.cs, s1, 0, VOL_SECTORS, 1));
	CHECK(snapshot_is(tp.cs, s2, 0, 512, 2));
	CHECK(snapshot_is(tp.cs, s2, 512, 512, 1));
	CHECK(cowstore_read_snapshot(tp.cs, s2, 1024, 512, out) == 0 && is_zero(out, 512 * 512));
	CHECK(snapshot_is(tp.cs, s3, 0, 256, 2));
	CHECK(snapshot_is(tp.cs, s3, 256, 512, 3));
	CHECK(snapshot_is(tp.cs, s3, 1024, 8, 4));
	CHECK(cowstore_read_snapshot(tp.cs, s3, 1032, 504, out) == 0 && is_zero(out, 504 * 512));
	CHECK(volume_is(tp.cs, id, 0, VOL_SECTORS, 5));
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK(snapshot_is(tp.cs, s1, 0, VOL_SECTORS, 1));
	CHECK(snapshot_is(tp.cs, s3, 256, 512, 3));
	CHECK_EQ(cowstore_write(tp.cs, s1, 0, 1, buf, 0), -ENOENT); /* snapshots are read-only */
	test_pool_destroy(&tp);
}

static void test_snapshot_delete_reclaims_unique(void)
{
	struct test_pool tp;
	uint64_t id, s1, s2, s3;
	struct cowstore_snapshot_info *list;
	size_t n;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, VOL_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s1", &s1, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, 512, 2), 0);       /* 64 blocks */
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s2", &s2, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, 256, 3), 0);       /* 32 blocks */
	CHECK_EQ(write_pattern(tp.cs, id, 1024, 256, 3), 0);    /* 32 blocks */
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s3", &s3, NULL), 0);

	REQUIRE(cowstore_snapshot_list(tp.cs, id, &list, &n) == 0);
	REQUIRE(n == 3);
	CHECK_EQ(list[0].unique_bytes, 64 * 4096); /* s1: blocks 128-159 are s2's too */
	CHECK_EQ(list[1].unique_bytes, 32 * 4096);              /* s2: gen-2 blocks replaced after */
	CHECK_EQ(list[2].unique_bytes, 0);                      /* s3: the head still shows it all */
	CHECK_EQ(list[0].shared_bytes + list[0].unique_bytes, 1 << 20);
	CHECK(strcmp(list[1].name, "s2") == 0);
	free(list);

	uint64_t before = allocated(tp.cs);
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s2, NULL), 0);
	CHECK_EQ(before - allocated(tp.cs), 32 * 4096);
	CHECK(snapshot_is(tp.cs, s1, 0, VOL_SECTORS, 1));
	CHECK(snapshot_is(tp.cs, s3, 0, 256, 3));
	CHECK(snapshot_is(tp.cs, s3, 256, 256, 2));
	CHECK(snapshot_is(tp.cs, s3, 512, 512, 1));
	before = allocated(tp.cs);
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s1, NULL), 0);
	CHECK_EQ(before - allocated(tp.cs), 96 * 4096);
	CHECK(snapshot_is(tp.cs, s3, 256, 256, 2));
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s3, NULL), 0);
	CHECK_EQ(allocated(tp.cs), 1 << 20);
	CHECK(volume_is(tp.cs, id, 0, 256, 3));
	CHECK(volume_is(tp.cs, id, 256, 256, 2));
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s3, NULL), -ENOENT);
	test_pool_destroy(&tp);
}

static void test_rollback(void)
{
	struct test_pool tp;
	uint64_t id, s1, s2;
	struct cowstore_err err = { "" };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, VOL_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s1", &s1, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, 1024, 2), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s2", &s2, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 512, 1024, 3), 0);
	CHECK_EQ(cowstore_volume_resize(tp.cs, id, 2 << 20, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, id, 3000, 8, 4), 0);

	CHECK_EQ(cowstore_snapshot_rollback(tp.cs, s1, 0, &err), -EBUSY);
	CHECK(strstr(err.msg, "s2") != NULL);
	CHECK_EQ(cowstore_snapshot_rollback(tp.cs, s2, 0, NULL), 0);
	CHECK(volume_is(tp.cs, id, 0, 1024, 2));
	CHECK(volume_is(tp.cs, id, 1024, 1024, 1));
	CHECK_EQ(cowstore_read(tp.cs, id, 3000, 8, out), -EINVAL); /* size rolled back */
	CHECK(snapshot_is(tp.cs, s1, 0, VOL_SECTORS, 1));
	CHECK_EQ(write_pattern(tp.cs, id, 0, 8, 6), 0);
	CHECK(snapshot_is(tp.cs, s2, 0, 1024, 2));
	CHECK_EQ(cowstore_snapshot_rollback(tp.cs, s1, COWSTORE_ROLLBACK_DELETE_NEWER, NULL), 0);
	CHECK(volume_is(tp.cs, id, 0, VOL_SECTORS, 1));
	CHECK_EQ(cowstore_read_snapshot(tp.cs, s2, 0, 1, out), -ENOENT);
	CHECK_EQ(allocated(tp.cs), 1 << 20);
	test_pool_destroy(&tp);
}

static void test_clones(void)
{
	struct test_pool tp;
	uint64_t id, s1, c1, cs1, c2, other;
	struct cowstore_err err = { "" };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "gold", 1 << 20, &id, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, id, 0, VOL_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "base", &s1, NULL), 0);
	uint64_t before = allocated(tp.cs);
	CHECK_EQ(cowstore_clone_create(tp.cs, s1, "vm1", &c1, NULL), 0);
	CHECK_EQ(allocated(tp.cs), before); /* instant, nothing copied */
	CHECK(volume_is(tp.cs, c1, 0, VOL_SECTORS, 1));
	CHECK_EQ(write_pattern(tp.cs, id, 0, 512, 2), 0);   /* the origin moves on */
	CHECK(volume_is(tp.cs, c1, 0, VOL_SECTORS, 1));
	CHECK_EQ(write_pattern(tp.cs, c1, 512, 512, 3), 0);
	CHECK_EQ(cowstore_discard(tp.cs, c1, 1024, 512), 0); /* hides the parent's data */
	CHECK(volume_is(tp.cs, c1, 0, 512, 1));
	CHECK(volume_is(tp.cs, c1, 512, 512, 3));
	CHECK(cowstore_read(tp.cs, c1, 1024, 512, out) == 0 && is_zero(out, 512 * 512));
	CHECK(volume_is(tp.cs, id, 512, 1536, 1));
	/* clone of a clone */
	CHECK_EQ(cowstore_snapshot_create(tp.cs, c1, "s", &cs1, NULL), 0);
	CHECK_EQ(cowstore_clone_create(tp.cs, cs1, "vm2", &c2, NULL), 0);
	CHECK(volume_is(tp.cs, c2, 0, 512, 1));
	CHECK(volume_is(tp.cs, c2, 512, 512, 3));
	CHECK(cowstore_read(tp.cs, c2, 1024, 512, out) == 0 && is_zero(out, 512 * 512));
	CHECK_EQ(cowstore_clone_create(tp.cs, cs1, "vm1", &other, &err), -EEXIST);
	/* dependencies are named */
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s1, &err), -EBUSY);
	CHECK(strstr(err.msg, "vm1") != NULL);
	CHECK_EQ(cowstore_volume_delete(tp.cs, id, &err), -EBUSY);
	CHECK(strstr(err.msg, "vm1") != NULL);
	CHECK_EQ(cowstore_volume_delete(tp.cs, c1, &err), -EBUSY);
	CHECK(strstr(err.msg, "vm2") != NULL);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK(volume_is(tp.cs, c2, 512, 512, 3));
	CHECK_EQ(cowstore_volume_delete(tp.cs, c2, NULL), 0);
	CHECK_EQ(cowstore_volume_delete(tp.cs, c1, NULL), 0);
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, s1, NULL), 0);
	CHECK_EQ(cowstore_volume_delete(tp.cs, id, NULL), 0);
	CHECK_EQ(allocated(tp.cs), 0);
	test_pool_destroy(&tp);
}

static void test_group_snapshot(void)
{
	struct test_pool tp;
	uint64_t ids[2], snaps[2];
	struct cowstore_snapshot_info *a, *b;
	size_t na, nb;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "d0", 1 << 20, &ids[0], NULL) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "d1", 1 << 20, &ids[1], NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, ids[0], 0, 64, 1), 0);
	CHECK_EQ(write_pattern(tp.cs, ids[1], 0, 64, 2), 0);
	CHECK_EQ(cowstore_snapshot_group_create(tp.cs, ids, 2, "ckpt", snaps, NULL), 0);
	CHECK_EQ(write_pattern(tp.cs, ids[0], 0, 64, 3), 0);
	CHECK(snapshot_is(tp.cs, snaps[0], 0, 64, 1));
	CHECK(snapshot_is(tp.cs, snaps[1], 0, 64, 2));
	REQUIRE(cowstore_snapshot_list(tp.cs, ids[0], &a, &na) == 0);
	REQUIRE(cowstore_snapshot_list(tp.cs, ids[1], &b, &nb) == 0);
	CHECK(na == 1 && nb == 1 && a[0].group_id != 0 && a[0].group_id == b[0].group_id);
	CHECK(a[0].created_unix_ns == b[0].created_unix_ns);
	free(a);
	free(b);
	uint64_t dup[2] = { ids[0], ids[0] };
	CHECK_EQ(cowstore_snapshot_group_create(tp.cs, dup, 2, "x", snaps, NULL), -EINVAL);
	CHECK_EQ(cowstore_snapshot_group_create(tp.cs, ids, 2, "ckpt", snaps, NULL), -EEXIST);
	CHECK_EQ(cowstore_snapshot_group_create(tp.cs, ids, 0, "y", snaps, NULL), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_copy_shares_extents(void)
{
	struct test_pool tp;
	uint64_t a, b;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "a", 1 << 20, &a, NULL) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "b", 1 << 20, &b, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, a, 0, VOL_SECTORS, 1), 0);
	uint64_t before = allocated(tp.cs);
	CHECK_EQ(cowstore_copy(tp.cs, b, 512, a, 0, 1024), 0); /* aligned: shared */
	CHECK_EQ(allocated(tp.cs), before);
	CHECK_EQ(cowstore_read(tp.cs, b, 512, 1024, out), 0);
	CHECK(check_pattern(out, 0, 1024, 1));
	CHECK_EQ(write_pattern(tp.cs, a, 0, VOL_SECTORS, 2), 0); /* b keeps the old data */
	CHECK_EQ(cowstore_read(tp.cs, b, 512, 1024, out), 0);
	CHECK(check_pattern(out, 0, 1024, 1));
	CHECK_EQ(cowstore_copy(tp.cs, b, 3, a, 10, 20), 0); /* unaligned: copied */
	CHECK_EQ(cowstore_read(tp.cs, b, 3, 20, out), 0);
	CHECK(check_pattern(out, 10, 20, 2));
	CHECK_EQ(cowstore_copy(tp.cs, b, 0, a, 2040, 16), -EINVAL);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_read(tp.cs, b, 512, 1024, out), 0);
	CHECK(check_pattern(out, 0, 1024, 1));
	CHECK_EQ(cowstore_volume_delete(tp.cs, a, NULL), 0);
	CHECK_EQ(cowstore_read(tp.cs, b, 512, 1024, out), 0);
	CHECK(check_pattern(out, 0, 1024, 1));
	CHECK_EQ(cowstore_volume_delete(tp.cs, b, NULL), 0);
	CHECK_EQ(allocated(tp.cs), 0);
	test_pool_destroy(&tp);
}

static void test_bad_arguments(void)
{
	struct test_pool tp;
	uint64_t id, snap, out_id;
	struct cowstore_err err = { "" };
	struct cowstore_snapshot_info *list;
	size_t n;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "v", 1 << 20, &id, NULL) == 0);
	REQUIRE(cowstore_snapshot_create(tp.cs, id, "s", &snap, NULL) == 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id + 100, "s", &out_id, &err), -ENOENT);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "bad name", &out_id, &err), -EINVAL);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, NULL, &out_id, &err), -EINVAL);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, id, "s", &out_id, &err), -EEXIST);
	CHECK(strstr(err.msg, "'s'") != NULL);
	CHECK_EQ(cowstore_snapshot_group_create(tp.cs, NULL, 1, "g", &out_id, &err), -EINVAL);
	CHECK_EQ(cowstore_snapshot_lookup(tp.cs, id, "nope", &out_id), -ENOENT);
	CHECK_EQ(cowstore_snapshot_lookup(tp.cs, id, NULL, &out_id), -EINVAL);
	CHECK_EQ(cowstore_snapshot_lookup(tp.cs, id, "s", &out_id), 0);
	CHECK_EQ(out_id, snap);
	CHECK_EQ(cowstore_snapshot_list(tp.cs, id + 100, &list, &n), -ENOENT);
	CHECK_EQ(cowstore_snapshot_list(tp.cs, id, NULL, &n), -EINVAL);
	CHECK_EQ(cowstore_snapshot_delete(tp.cs, 9999, &err), -ENOENT);
	CHECK_EQ(cowstore_snapshot_rollback(tp.cs, 9999, 0, &err), -ENOENT);
	CHECK_EQ(cowstore_snapshot_rollback(tp.cs, snap, 0x100, &err), -EINVAL);
	CHECK_EQ(cowstore_clone_create(tp.cs, 9999, "c", &out_id, &err), -ENOENT);
	CHECK_EQ(cowstore_clone_create(tp.cs, snap, "v", &out_id, &err), -EEXIST);
	CHECK_EQ(cowstore_clone_create(tp.cs, snap, "", &out_id, &err), -EINVAL);
	CHECK_EQ(cowstore_clone_create(tp.cs, id, "c", &out_id, &err), -ENOENT); /* a volume id */
	CHECK_EQ(cowstore_copy(tp.cs, id, 0, id + 100, 0, 8), -ENOENT);
	CHECK_EQ(cowstore_copy(tp.cs, id + 100, 0, id, 0, 8), -ENOENT);
	CHECK_EQ(cowstore_queue_create(tp.cs, NULL), -EINVAL);
	CHECK_EQ(cowstore_pool_info(tp.cs, NULL), -EINVAL);
	CHECK_EQ(cowstore_scrub(tp.cs, NULL), -EINVAL);
	struct cowstore_io io = { .op = COWSTORE_OP_WRITE, .volume_id = id, .nsectors = 1,
				  .buf = buf };
	CHECK_EQ(cowstore_submit(tp.cs, &io), -EINVAL); /* no queue */
	struct cowstore_queue *q;
	REQUIRE(cowstore_queue_create(tp.cs, &q) == 0);
	io.queue = q;
	io.nsectors = (COWSTORE_MAX_IO_BYTES / 512) + 1;
	CHECK_EQ(cowstore_submit(tp.cs, &io), -EINVAL); /* too large */
	io.nsectors = 1;
	io.snapshot_id = snap;
	CHECK_EQ(cowstore_submit(tp.cs, &io), -EINVAL); /* snapshots are read-only */
	io.snapshot_id = 0;
	io.op = (enum cowstore_op)42;
	CHECK_EQ(cowstore_submit(tp.cs, &io), -EINVAL);
	CHECK_EQ(cowstore_queue_wait(q, 0), -ETIMEDOUT);
	CHECK_EQ(cowstore_queue_reap(q, 0), 0);
	cowstore_queue_destroy(q);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "bad_arguments", test_bad_arguments },
	{ "snapshot_views", test_snapshot_views },
	{ "snapshot_delete_reclaims_unique", test_snapshot_delete_reclaims_unique },
	{ "rollback", test_rollback },
	{ "clones", test_clones },
	{ "group_snapshot", test_group_snapshot },
	{ "copy_shares_extents", test_copy_shares_extents },
};
HARNESS_MAIN(tests)
