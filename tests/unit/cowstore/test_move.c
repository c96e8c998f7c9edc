/*
 * test_move.c - pool id ranges and volume rename: what moving volumes
 * between the pools of an appliance builds on.
 */
#include <errno.h>
#include <rocksdb/c.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define MIB (1ull << 20)
#define MIB_SECTORS 2048u

static uint8_t buf[1 << 20], out[1 << 20];

static int open_pool(struct test_pool *tp, uint64_t capacity_mib, uint64_t first_id)
{
	struct cowstore_pool_options o = { .capacity_bytes = capacity_mib << 20,
					   .first_id = first_id };
	return test_pool_open_with(tp, &o);
}

static int write_pattern(struct cowstore *cs, uint64_t id, uint64_t lba, uint32_t n, uint32_t seed)
{
	fill_pattern(buf, lba, n, seed);
	return cowstore_write(cs, id, lba, n, buf, 0);
}

/* ---- id ranges and rename ------------------------------------------- */

/* A pool from before id ranges has no "I" record: take it away. */
static int forget_first_id(const char *dir)
{
	char meta[128], *dberr = NULL;
	snprintf(meta, sizeof(meta), "%s/meta", dir);
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_writeoptions_t *w = rocksdb_writeoptions_create();
	rocksdb_t *db = rocksdb_open(o, meta, &dberr);
	if (db) {
		rocksdb_delete(db, w, "I", 1, &dberr);
		rocksdb_close(db);
	}
	rocksdb_writeoptions_destroy(w);
	rocksdb_options_destroy(o);
	free(dberr);
	return db && !dberr ? 0 : -1;
}

static void test_pool_id_ranges(void)
{
	struct test_pool a, b, c;
	struct cowstore_pool_info info;
	struct cowstore_err err = { "" };
	uint64_t va, sa, vb, vc;
	REQUIRE(open_pool(&a, 64, 1000) == 0);
	REQUIRE(open_pool(&b, 64, 5000000) == 0);
	REQUIRE(open_pool(&c, 64, 0) == 0);
	CHECK_EQ(cowstore_pool_info(a.cs, &info), 0);
	CHECK_EQ(info.first_id, 1000);
	CHECK_EQ(info.next_id, 1000);
	CHECK_EQ(cowstore_volume_create(a.cs, "v", MIB, &va, NULL), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, va, "s", &sa, NULL), 0);
	CHECK_EQ(cowstore_volume_create(b.cs, "v", MIB, &vb, NULL), 0);
	CHECK_EQ(cowstore_volume_create(c.cs, "v", MIB, &vc, NULL), 0);
	CHECK_EQ(va, 1000);
	CHECK_EQ(sa, 1001);
	CHECK_EQ(vb, 5000000);
	CHECK_EQ(vc, 1); /* 0 means 1 */
	CHECK_EQ(cowstore_pool_info(b.cs, &info), 0);
	CHECK_EQ(info.first_id, 5000000);
	CHECK_EQ(info.next_id, 5000001);

	REQUIRE(test_pool_reopen(&a) == 0);
	CHECK_EQ(cowstore_pool_info(a.cs, &info), 0);
	CHECK_EQ(info.first_id, 1000);
	CHECK_EQ(info.next_id, 1002);
	CHECK_EQ(cowstore_volume_create(a.cs, "w", MIB, &va, NULL), 0);
	CHECK_EQ(va, 1002);

	/* A pool made before ranges opens unchanged and reports first id 1. */
	cowstore_close(a.cs);
	a.cs = NULL;
	CHECK_EQ(forget_first_id(a.dir), 0);
	CHECK_EQ(cowstore_open(a.dir, &a.cs, &err), 0);
	CHECK_EQ(cowstore_pool_info(a.cs, &info), 0);
	CHECK_EQ(info.first_id, 1);
	CHECK_EQ(info.next_id, 1003);
	CHECK_EQ(info.nvolumes, 2);

	struct cowstore_pool_options too_far = { .first_id = 1ull << 62 };
	CHECK_EQ(cowstore_pool_create("/tmp/slate-test-never", &too_far, &err), -EINVAL);
	CHECK(strstr(err.msg, "first id") != NULL);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
	test_pool_destroy(&c);
}

static void test_rename(void)
{
	struct test_pool tp;
	struct cowstore_err err = { "" };
	struct cowstore_snapshot_info *snaps;
	size_t nsnaps;
	uint64_t v1, v2, s1, found;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "one", MIB, &v1, NULL) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "two", MIB, &v2, NULL) == 0);
	CHECK_EQ(write_pattern(tp.cs, v1, 0, 64, 3), 0);
	CHECK_EQ(cowstore_snapshot_create(tp.cs, v1, "s1", &s1, NULL), 0);

	CHECK_EQ(cowstore_volume_rename(tp.cs, v1, "uno", &err), 0);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "uno", &found), 0);
	CHECK_EQ(found, v1);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "one", &found), -ENOENT);
	CHECK_EQ(cowstore_volume_rename(tp.cs, v1, "two", &err), -EEXIST);
	CHECK(strstr(err.msg, "two") != NULL);
	CHECK_EQ(cowstore_volume_rename(tp.cs, 4242, "three", &err), -ENOENT);
	CHECK_EQ(cowstore_volume_rename(tp.cs, v1, "a/b", &err), -EINVAL);
	CHECK_EQ(cowstore_volume_rename(tp.cs, v1, "", &err), -EINVAL);
	CHECK_EQ(cowstore_volume_rename(tp.cs, v1, NULL, &err), -EINVAL);
	CHECK_EQ(cowstore_volume_rename(tp.cs, v2, "two", &err), 0); /* its own name */

	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "uno", &found), 0);
	CHECK_EQ(found, v1);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "two", &found), 0);
	CHECK_EQ(found, v2);
	REQUIRE(cowstore_snapshot_list(tp.cs, v1, &snaps, &nsnaps) == 0);
	CHECK_EQ(nsnaps, 1);
	CHECK_EQ(snaps[0].id, s1);
	free(snaps);
	CHECK(cowstore_read_snapshot(tp.cs, s1, 0, 64, out) == 0 && check_pattern(out, 0, 64, 3));
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "pool_id_ranges", test_pool_id_ranges },
	{ "rename", test_rename },
};

HARNESS_MAIN(tests)
