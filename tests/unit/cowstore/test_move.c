/*
 * test_move.c - pool id ranges, volume rename, and moving a volume (with
 * its snapshots) to another pool, also while a thread keeps writing to it.
 *
 * Every move is checked by comparing the two volumes (and their snapshots)
 * byte for byte, not against a model: the model could share a mistake.
 */
#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <time.h>

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

static uint64_t allocated(struct cowstore *cs)
{
	struct cowstore_pool_info info;
	cowstore_flush(cs);
	return cowstore_pool_info(cs, &info) == 0 ? info.allocated_bytes : UINT64_MAX;
}

static uint64_t mapped(struct cowstore *cs, uint64_t id)
{
	struct cowstore_volume_info info;
	return cowstore_volume_info(cs, id, 1, &info) == 0 ? info.mapped_bytes : UINT64_MAX;
}

static int read_view(struct cowstore *cs, uint64_t vol, uint64_t snap, uint64_t lba, uint32_t n,
		     void *into)
{
	return snap ? cowstore_read_snapshot(cs, snap, lba, n, into)
		    : cowstore_read(cs, vol, lba, n, into);
}

/* 1 when views a and b (a snapshot, or 0: the volume's head) of size_bytes
 * read the same, MiB by MiB. */
static int views_equal(struct cowstore *a, uint64_t a_vol, uint64_t a_snap, struct cowstore *b,
		       uint64_t b_vol, uint64_t b_snap, uint64_t size_bytes)
{
	for (uint64_t at = 0; at < size_bytes; at += MIB) {
		uint32_t n = (uint32_t)((size_bytes - at < MIB ? size_bytes - at : MIB) / 512);
		if (read_view(a, a_vol, a_snap, at / 512, n, buf) ||
		    read_view(b, b_vol, b_snap, at / 512, n, out) || memcmp(buf, out, n * 512u)) {
			fprintf(stderr, "  views differ in MiB %llu\n", (unsigned long long)(at / MIB));
			return 0;
		}
	}
	return 1;
}

static uint64_t volume_size(struct cowstore *cs, uint64_t id)
{
	struct cowstore_volume_info info;
	return cowstore_volume_info(cs, id, 0, &info) == 0 ? info.size_bytes : 0;
}

/* Step until passes 0 and 1 are done and nothing is changed; checks the
 * figures of every step.  Returns the last step's result. */
static int step_to_end(struct cowstore_move *m, uint64_t max_bytes,
		       struct cowstore_move_progress *p)
{
	unsigned last_pass = 0;
	int rc;
	do {
		rc = cowstore_move_step(m, max_bytes, p);
		CHECK(p->copied_bytes <= p->total_bytes);
		CHECK(p->pass >= last_pass);
		last_pass = p->pass;
	} while (!rc && (p->pass < 2 || p->dirty_bytes));
	return rc;
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

/* ---- moves without writers -------------------------------------------- */

static void test_move_data_and_holes(void)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p;
	struct cowstore_volume_info src_info, dst_info;
	struct cowstore_err err = { "" };
	uint64_t src, dst, found;
	REQUIRE(open_pool(&a, 64, 1) == 0);
	REQUIRE(open_pool(&b, 64, 1000000) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "data", 16 * MIB, &src, NULL) == 0);
	CHECK_EQ(write_pattern(a.cs, src, 0, MIB_SECTORS, 1), 0);           /* MiB 0 */
	CHECK_EQ(write_pattern(a.cs, src, 3 * MIB_SECTORS + 8, 100, 2), 0); /* part of MiB 3 */
	CHECK_EQ(write_pattern(a.cs, src, 9 * MIB_SECTORS - 3, 7, 3), 0);   /* across 8 and 9, unaligned */
	CHECK_EQ(write_pattern(a.cs, src, 15 * MIB_SECTORS, MIB_SECTORS, 4), 0); /* the last */
	CHECK_EQ(cowstore_discard(a.cs, src, 256, 512), 0);                 /* a hole in MiB 0 */
	uint64_t src_mapped = mapped(a.cs, src);

	REQUIRE(cowstore_move_start(a.cs, src, b.cs, "data.moving", &m, &err) == 0);
	CHECK_EQ(step_to_end(m, 4 * MIB, &p), 0);
	CHECK_EQ(p.copied_bytes, src_mapped); /* exactly the data, no hole */
	CHECK_EQ(p.total_bytes, p.copied_bytes);
	CHECK_EQ(p.dirty_bytes, 0);
	CHECK_EQ(p.pass, 2);
	CHECK_EQ(cowstore_move_finish(m, &dst, &err), 0);
	cowstore_move_end(m, true);

	CHECK_EQ(cowstore_volume_lookup(b.cs, "data.moving", &found), 0);
	CHECK_EQ(found, dst);
	CHECK(dst >= 1000000);
	CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 16 * MIB));
	CHECK_EQ(cowstore_volume_info(a.cs, src, 1, &src_info), 0);
	CHECK_EQ(cowstore_volume_info(b.cs, dst, 1, &dst_info), 0);
	CHECK_EQ(dst_info.mapped_bytes, src_mapped); /* holes stayed holes */
	CHECK_EQ(allocated(b.cs), src_mapped);
	CHECK_EQ(dst_info.size_bytes, src_info.size_bytes);
	CHECK_EQ(dst_info.created_unix_ns, src_info.created_unix_ns);
	CHECK_EQ(src_info.serial, src);           /* a volume's identity: its id... */
	CHECK_EQ(dst_info.serial, src);           /* ...which its moved copy keeps */
	/* the source is intact, and its own again */
	CHECK(cowstore_read(a.cs, src, 15 * MIB_SECTORS, MIB_SECTORS, out) == 0 &&
	      check_pattern(out, 15 * MIB_SECTORS, MIB_SECTORS, 4));
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 32 * MIB, NULL), 0);
	REQUIRE(test_pool_reopen(&b) == 0);
	CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 16 * MIB));
	CHECK(cowstore_volume_info(b.cs, dst, 0, &dst_info) == 0 && dst_info.serial == src);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Prints the rate of a move of a full 256 MiB volume, beside that of the
 * writes that filled it (a figure, not a check). */
static void test_move_256mib_rate(void)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p;
	uint64_t src, dst;
	REQUIRE(open_pool(&a, 512, 1) == 0);
	REQUIRE(open_pool(&b, 512, 1000000) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "big", 256 * MIB, &src, NULL) == 0);
	double t0 = seconds_now();
	for (uint32_t i = 0; i < 256; i++)
		CHECK_EQ(write_pattern(a.cs, src, (uint64_t)i * MIB_SECTORS, MIB_SECTORS, i), 0);
	CHECK_EQ(cowstore_flush(a.cs), 0);
	double fill = seconds_now() - t0;

	t0 = seconds_now();
	REQUIRE(cowstore_move_start(a.cs, src, b.cs, "big", &m, NULL) == 0);
	CHECK_EQ(step_to_end(m, 64 * MIB, &p), 0);
	CHECK_EQ(cowstore_move_finish(m, &dst, NULL), 0);
	double took = seconds_now() - t0;
	cowstore_move_end(m, true);
	CHECK_EQ(p.copied_bytes, 256 * MIB);
	printf("  move of a 256 MiB volume: %.0f ms, %.0f MiB/s (filling it: %.0f MiB/s)\n",
	       took * 1e3, 256 / took, 256 / fill);
	CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 256 * MIB));
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

/* Pools a (ids from 1) and b (from 1000000); in a, an 8 MiB volume name
 * written with pattern 1 and its snapshot "s1".  false if a step failed. */
static bool two_pools_and_a_snapshot(struct test_pool *a, struct test_pool *b, const char *name,
				     uint64_t *src, uint64_t *s1)
{
	bool ok = open_pool(a, 64, 1) == 0 && open_pool(b, 64, 1000000) == 0 &&
		  cowstore_volume_create(a->cs, name, 8 * MIB, src, NULL) == 0;
	for (uint32_t i = 0; ok && i < 8; i++)
		ok = write_pattern(a->cs, *src, (uint64_t)i * MIB_SECTORS, MIB_SECTORS, 1) == 0;
	return ok && cowstore_snapshot_create(a->cs, *src, "s1", s1, NULL) == 0;
}

static void test_move_snapshots(void)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p;
	struct cowstore_snapshot_info *src_snaps, *dst_snaps;
	size_t n_src, n_dst;
	uint64_t src, dst, s;
	REQUIRE(two_pools_and_a_snapshot(&a, &b, "vm", &src, &s));
	CHECK_EQ(write_pattern(a.cs, src, MIB_SECTORS, MIB_SECTORS, 2), 0);
	CHECK_EQ(write_pattern(a.cs, src, 2 * MIB_SECTORS, MIB_SECTORS, 2), 0);
	CHECK_EQ(cowstore_discard(a.cs, src, 5 * MIB_SECTORS, MIB_SECTORS), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s2", &s, NULL), 0);
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 80 * MIB, NULL), 0);
	CHECK_EQ(write_pattern(a.cs, src, 70 * MIB_SECTORS, MIB_SECTORS, 3), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s3", &s, NULL), 0);
	CHECK_EQ(write_pattern(a.cs, src, 0, 1024, 4), 0);
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 2 * MIB, NULL), 0); /* s3 is 78 MiB larger */
	uint64_t src_allocated = allocated(a.cs); /* 8 + 2 + 1 + 0.5 MiB */

	REQUIRE(cowstore_move_start(a.cs, src, b.cs, "vm", &m, NULL) == 0);
	CHECK_EQ(step_to_end(m, 2 * MIB, &p), 0);
	CHECK_EQ(p.copied_bytes, src_allocated);
	CHECK_EQ(cowstore_move_finish(m, &dst, NULL), 0);
	cowstore_move_end(m, true);

	REQUIRE(cowstore_snapshot_list(a.cs, src, &src_snaps, &n_src) == 0);
	REQUIRE(cowstore_snapshot_list(b.cs, dst, &dst_snaps, &n_dst) == 0);
	CHECK_EQ(n_dst, 3);
	for (size_t i = 0; i < n_src && i < n_dst; i++) {
		CHECK(strcmp(src_snaps[i].name, dst_snaps[i].name) == 0);
		CHECK_EQ(dst_snaps[i].size_bytes, src_snaps[i].size_bytes);
		CHECK_EQ(dst_snaps[i].created_unix_ns, src_snaps[i].created_unix_ns);
		CHECK_EQ(dst_snaps[i].unique_bytes, src_snaps[i].unique_bytes);
		CHECK(views_equal(a.cs, src, src_snaps[i].id, b.cs, dst, dst_snaps[i].id,
				  src_snaps[i].size_bytes));
	}
	free(src_snaps);
	free(dst_snaps);
	CHECK_EQ(volume_size(b.cs, dst), 2 * MIB);
	CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 2 * MIB));
	CHECK_EQ(mapped(b.cs, dst), mapped(a.cs, src));
	/* shared as in the source: not 8 + 8 + 9 + 2 MiB */
	CHECK_EQ(allocated(b.cs), src_allocated);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

static void test_move_of_a_clone(void)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p;
	struct cowstore_volume_info info;
	struct cowstore_err err = { "" };
	uint64_t gold, base, clone, dst;
	REQUIRE(open_pool(&a, 64, 1) == 0);
	REQUIRE(open_pool(&b, 64, 1000000) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "gold", 4 * MIB, &gold, NULL) == 0);
	for (uint32_t i = 0; i < 4; i++)
		CHECK_EQ(write_pattern(a.cs, gold, (uint64_t)i * MIB_SECTORS, MIB_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, gold, "base", &base, NULL), 0);
	CHECK_EQ(cowstore_clone_create(a.cs, base, "vm7", &clone, NULL), 0);
	CHECK_EQ(write_pattern(a.cs, clone, MIB_SECTORS, 64, 2), 0);
	CHECK_EQ(cowstore_write_zeroes(a.cs, clone, 2 * MIB_SECTORS, MIB_SECTORS), 0);

	/* the clone's parent cannot leave: the clone needs its blocks */
	CHECK_EQ(cowstore_move_start(a.cs, gold, b.cs, "gold", &m, &err), -EBUSY);
	CHECK(strstr(err.msg, "vm7") != NULL);
	/* the clone moves as a full, independent volume */
	REQUIRE(cowstore_move_start(a.cs, clone, b.cs, "vm7", &m, &err) == 0);
	CHECK_EQ(step_to_end(m, 8 * MIB, &p), 0);
	CHECK_EQ(cowstore_move_finish(m, &dst, &err), 0);
	cowstore_move_end(m, true);
	CHECK(views_equal(a.cs, clone, 0, b.cs, dst, 0, 4 * MIB));
	CHECK_EQ(cowstore_volume_info(b.cs, dst, 1, &info), 0);
	CHECK_EQ(info.parent_snapshot_id, 0);
	CHECK_EQ(info.mapped_bytes, 3 * MIB); /* the zeroed MiB is a hole */
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

static void test_move_refusals(void)
{
	struct test_pool a, b;
	struct cowstore_move *m, *again;
	struct cowstore_err err = { "" };
	uint64_t src, peer, taken, s1, s2, clone, dst;
	REQUIRE(open_pool(&a, 64, 1) == 0);
	REQUIRE(open_pool(&b, 64, 1000000) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "src", 4 * MIB, &src, NULL) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "peer", MIB, &peer, NULL) == 0);
	REQUIRE(cowstore_volume_create(b.cs, "taken", MIB, &taken, NULL) == 0);
	CHECK_EQ(write_pattern(a.cs, src, 0, MIB_SECTORS, 1), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s1", &s1, NULL), 0);

	CHECK_EQ(cowstore_move_start(a.cs, src, a.cs, "x", &m, &err), -EXDEV);
	CHECK_EQ(cowstore_move_start(a.cs, src, b.cs, "taken", &m, &err), -EEXIST);
	CHECK(strstr(err.msg, "taken") != NULL);
	CHECK_EQ(cowstore_move_start(a.cs, 4242, b.cs, "x", &m, &err), -ENOENT);
	CHECK_EQ(cowstore_move_start(a.cs, src, b.cs, "a b", &m, &err), -EINVAL);
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 8 * MIB, &err), 0); /* the refusals left no trace */

	REQUIRE(cowstore_move_start(a.cs, src, b.cs, "src", &m, &err) == 0);
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 4 * MIB, &err), -EBUSY);
	CHECK(strstr(err.msg, "'src' is being moved") != NULL);
	CHECK_EQ(cowstore_volume_delete(a.cs, src, &err), -EBUSY);
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s2", &s2, &err), -EBUSY);
	CHECK_EQ(cowstore_snapshot_group_create(a.cs, (uint64_t[]){ peer, src }, 2, "g", NULL,
						&err), -EBUSY);
	CHECK_EQ(cowstore_snapshot_delete(a.cs, s1, &err), -EBUSY);
	CHECK_EQ(cowstore_snapshot_rollback(a.cs, s1, 0, &err), -EBUSY);
	CHECK_EQ(cowstore_clone_create(a.cs, s1, "c", &clone, &err), -EBUSY);
	CHECK_EQ(cowstore_move_start(a.cs, src, b.cs, "again", &again, &err), -EBUSY);
	/* IO and a rename go on */
	CHECK_EQ(write_pattern(a.cs, src, 100, 8, 5), 0);
	CHECK_EQ(cowstore_volume_rename(a.cs, src, "src2", &err), 0);
	CHECK_EQ(cowstore_move_step(m, MIB, NULL), 0);
	CHECK_EQ(cowstore_move_finish(m, &dst, &err), 0);
	CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 8 * MIB));
	cowstore_move_end(m, true);

	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s2", &s2, &err), 0);
	CHECK_EQ(cowstore_snapshot_rollback(a.cs, s1, COWSTORE_ROLLBACK_DELETE_NEWER, &err), 0);
	CHECK_EQ(cowstore_clone_create(a.cs, s1, "c", &clone, &err), 0);
	CHECK_EQ(cowstore_volume_delete(a.cs, clone, &err), 0);
	CHECK_EQ(cowstore_snapshot_delete(a.cs, s1, &err), 0);
	CHECK_EQ(cowstore_volume_resize(a.cs, src, 4 * MIB, &err), 0);
	CHECK_EQ(cowstore_volume_delete(a.cs, src, &err), 0);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

static void test_move_abandoned(void)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p;
	struct cowstore_pool_info info;
	uint64_t src, s, found;
	REQUIRE(two_pools_and_a_snapshot(&a, &b, "v", &src, &s));
	CHECK_EQ(write_pattern(a.cs, src, 0, MIB_SECTORS, 2), 0);
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s2", &s, NULL), 0);
	CHECK_EQ(write_pattern(a.cs, src, MIB_SECTORS, MIB_SECTORS, 3), 0);
	uint64_t src_allocated = allocated(a.cs);

	REQUIRE(cowstore_move_start(a.cs, src, b.cs, "v", &m, NULL) == 0);
	int rc;
	do
		rc = cowstore_move_step(m, MIB, &p);
	while (!rc && p.pass < 1);
	CHECK_EQ(rc, 0);
	CHECK(allocated(b.cs) >= 8 * MIB); /* the snapshots are there */
	cowstore_move_end(m, false);
	CHECK_EQ(cowstore_volume_lookup(b.cs, "v", &found), -ENOENT);
	CHECK_EQ(cowstore_pool_info(b.cs, &info), 0);
	CHECK_EQ(info.nvolumes, 0);
	CHECK_EQ(info.nsnapshots, 0);
	CHECK_EQ(allocated(b.cs), 0);
	CHECK_EQ(allocated(a.cs), src_allocated);
	CHECK(cowstore_read(a.cs, src, MIB_SECTORS, MIB_SECTORS, out) == 0 &&
	      check_pattern(out, MIB_SECTORS, MIB_SECTORS, 3));
	CHECK_EQ(cowstore_snapshot_create(a.cs, src, "s3", &s, NULL), 0);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

/* ---- a move while a thread writes ---------------------------------------- */

#define WRITER_SLOTS 16
#define WRITER_MAX_SECTORS 512u /* 256 KiB */

struct writer {
	struct cowstore *cs;
	uint64_t volume_id, nsectors;
	uint32_t seed;
	int stop;           /* atomic: main thread asks */
	uint64_t done;      /* atomic: the main thread reads it */
	uint64_t failed;
	struct cowstore_io io[WRITER_SLOTS];
	uint8_t data[WRITER_SLOTS][WRITER_MAX_SECTORS * 512];
	bool busy[WRITER_SLOTS];
};

static uint32_t next_random(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

static void writer_io_done(struct cowstore_io *io)
{
	struct writer *w = io->priv;
	w->busy[io - w->io] = false;
	__atomic_add_fetch(&w->done, 1, __ATOMIC_RELAXED);
	w->failed += io->result != 0;
}

/* A random request: writes (of a pattern no other write has), write-zeroes,
 * discards and copies within the volume, aligned or not. */
static void writer_prepare(struct writer *w, int slot, uint32_t *state)
{
	struct cowstore_io *io = &w->io[slot];
	uint32_t kind = next_random(state) % 10;
	uint32_t n = 1 + next_random(state) % WRITER_MAX_SECTORS;
	uint64_t lba = next_random(state) % (w->nsectors - n);
	if (next_random(state) % 2) { /* often block-aligned, so whole blocks are mapped or freed */
		lba &= ~7ull;
		n = (n + 7) & ~7u;
	}
	memset(io, 0, sizeof(*io));
	io->volume_id = w->volume_id;
	io->lba = lba;
	io->nsectors = n;
	if (kind < 6) {
		io->op = COWSTORE_OP_WRITE;
		io->buf = w->data[slot];
		fill_pattern(io->buf, lba, n, next_random(state));
	} else if (kind < 7) {
		io->op = COWSTORE_OP_WRITE_ZEROES;
	} else if (kind < 8) {
		io->op = COWSTORE_OP_DISCARD;
	} else { /* copy from the other half of the volume */
		io->op = COWSTORE_OP_COPY;
		io->src_volume_id = w->volume_id;
		io->src_lba = (lba + w->nsectors / 2) % (w->nsectors - n);
		if (io->src_lba < lba + n && lba < io->src_lba + n)
			io->op = COWSTORE_OP_DISCARD;
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct cowstore_queue *q;
	uint32_t state = w->seed;
	int inflight = 0;
	if (cowstore_queue_create(w->cs, &q))
		return NULL;
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED) || inflight) {
		for (int slot = 0; slot < WRITER_SLOTS && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED);
		     slot++) {
			if (w->busy[slot])
				continue;
			writer_prepare(w, slot, &state);
			w->io[slot].queue = q;
			w->io[slot].done = writer_io_done;
			w->io[slot].priv = w;
			w->busy[slot] = true;
			if (cowstore_submit(w->cs, &w->io[slot])) {
				w->busy[slot] = false;
				w->failed++;
			}
		}
		cowstore_queue_wait(q, 5);
		cowstore_queue_reap(q, 0);
		inflight = 0;
		for (int slot = 0; slot < WRITER_SLOTS; slot++)
			inflight += w->busy[slot];
	}
	cowstore_queue_destroy(q);
	return NULL;
}

static void move_under_writes(uint32_t seed)
{
	struct test_pool a, b;
	struct cowstore_move *m;
	struct cowstore_move_progress p = { 0 };
	static struct writer w;
	pthread_t thread;
	uint32_t state = seed;
	uint64_t src, dst, done_at_start;
	unsigned last_pass = 0, steps = 0;
	bool seen_dirty = false;
	REQUIRE(open_pool(&a, 256, 1) == 0);
	REQUIRE(open_pool(&b, 256, 1000000) == 0);
	REQUIRE(cowstore_volume_create(a.cs, "busy", 32 * MIB, &src, NULL) == 0);
	for (int i = 0; i < 16; i++) /* some chunks with data, others holes */
		CHECK_EQ(write_pattern(a.cs, src, (next_random(&state) % 32) * MIB_SECTORS,
				       MIB_SECTORS, seed + i), 0);

	memset(&w, 0, sizeof(w));
	w.cs = a.cs;
	w.volume_id = src;
	w.nsectors = 32 * MIB / 512;
	w.seed = seed;
	REQUIRE(pthread_create(&thread, NULL, writer_main, &w) == 0);
	while (__atomic_load_n(&w.done, __ATOMIC_RELAXED) < 50)
		usleep(1000);
	done_at_start = __atomic_load_n(&w.done, __ATOMIC_RELAXED);
	int rc = cowstore_move_start(a.cs, src, b.cs, "busy", &m, NULL);
	CHECK_EQ(rc, 0);
	double until = seconds_now() + 3;
	while (!rc && (p.pass < 4 || steps < 100) && seconds_now() < until) {
		rc = cowstore_move_step(m, 2 * MIB, &p);
		CHECK_EQ(rc, 0);
		CHECK(p.copied_bytes <= p.total_bytes);
		CHECK(p.pass >= last_pass);
		last_pass = p.pass;
		seen_dirty |= p.dirty_bytes > 0;
		steps++;
		if (p.pass >= 2 && !p.dirty_bytes)
			usleep(1000); /* caught up: let the writer change something */
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	CHECK(p.pass >= 3); /* changed chunks were copied again, more than once */
	CHECK(seen_dirty);
	CHECK(w.done - done_at_start > 100);
	CHECK_EQ(w.failed, 0);
	if (!rc) {
		CHECK_EQ(cowstore_move_finish(m, &dst, NULL), 0);
		CHECK(views_equal(a.cs, src, 0, b.cs, dst, 0, 32 * MIB));
		CHECK_EQ(mapped(b.cs, dst), mapped(a.cs, src));
		CHECK_EQ(cowstore_move_step(m, 0, &p), 0);
		CHECK_EQ(p.dirty_bytes, 0);
		CHECK_EQ(p.total_bytes, p.copied_bytes);
		printf("  seed %u: %llu requests during the move, %u steps to pass %u, "
		       "%llu MiB copied\n", seed, (unsigned long long)(w.done - done_at_start),
		       steps, p.pass, (unsigned long long)(p.copied_bytes / MIB));
	}
	cowstore_move_end(m, true);
	test_pool_destroy(&a);
	test_pool_destroy(&b);
}

static void test_move_under_writes(void)
{
	for (uint32_t seed = 1; seed <= 4; seed++)
		move_under_writes(seed);
}

static const struct harness_test tests[] = {
	{ "pool_id_ranges", test_pool_id_ranges },
	{ "rename", test_rename },
	{ "move_data_and_holes", test_move_data_and_holes },
	{ "move_256mib_rate", test_move_256mib_rate },
	{ "move_snapshots", test_move_snapshots },
	{ "move_of_a_clone", test_move_of_a_clone },
	{ "move_refusals", test_move_refusals },
	{ "move_abandoned", test_move_abandoned },
	{ "move_under_writes", test_move_under_writes },
};

HARNESS_MAIN(tests)
