/*
 * test_move.c - pool id ranges, which moving volumes between the pools of
 * an appliance builds on.
 */
#include <errno.h>
#include <rocksdb/c.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define MIB (1ull << 20)
#define MIB_SECTORS 2048u

static int open_pool(struct test_pool *tp, uint64_t capacity_mib, uint64_t first_id)
{
	struct cowstore_pool_options o = { .capacity_bytes = capacity_mib << 20,
					   .first_id = first_id };
	return test_pool_open_with(tp, &o);
}

/* ---- id ranges -------------------------------------------------- */

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

static const struct harness_test tests[] = {
	{ "pool_id_ranges", test_pool_id_ranges },
};

HARNESS_MAIN(tests)
