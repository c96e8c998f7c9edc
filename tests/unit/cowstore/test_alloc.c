/*
 * test_alloc.c - the block allocator: contiguous runs, the reserve, shared
 * references, and frees that wait for a sync.
 */
#include <errno.h>

#include "cowstore/internal.h"
#include "tests/harness.h"

static void test_runs_and_reserve(void)
{
	struct alloc a;
	uint64_t start, got;
	REQUIRE(alloc_init(&a, 1000) == 0);
	CHECK_EQ(a.reserve, 64);
	alloc_get(&a, 100, false, &start, &got);
	CHECK(got == 100 && start == 0);
	alloc_get(&a, 900, false, &start, &got);
	CHECK_EQ(got, 1000 - 100 - 64); /* stops at the reserve */
	alloc_get(&a, 10, false, &start, &got);
	CHECK_EQ(got, 0);
	alloc_get(&a, 100, true, &start, &got);
	CHECK_EQ(got, 64);
	CHECK_EQ(alloc_free_blocks(&a), 0);
	alloc_put(&a, 10, 5);
	CHECK_EQ(alloc_free_blocks(&a), 5);
	alloc_get(&a, 8, true, &start, &got);
	CHECK(got == 5 && start == 10);
	alloc_destroy(&a);
}

/* Freed blocks go out again before blocks never used, so the data file
 * stays as small as the data it holds. */
static void test_reuse_before_fresh(void)
{
	struct alloc a;
	uint64_t start, got;
	REQUIRE(alloc_init(&a, 4096) == 0);
	alloc_get(&a, 100, false, &start, &got);
	alloc_get(&a, 100, false, &start, &got);
	REQUIRE(got == 100 && start == 100);
	CHECK_EQ(alloc_unref(&a, 20, 10), 0);
	alloc_release_pending(&a, a.npending);
	alloc_get(&a, 50, false, &start, &got);
	CHECK(start == 20 && got == 10); /* the hole first, however small */
	alloc_get(&a, 50, false, &start, &got);
	CHECK(start == 200 && got == 50);
	alloc_destroy(&a);
}

static void test_refs_and_pending(void)
{
	struct alloc a;
	uint64_t start, got;
	REQUIRE(alloc_init(&a, 4096) == 0);
	alloc_get(&a, 16, false, &start, &got);
	REQUIRE(got == 16);
	CHECK_EQ(alloc_ref(&a, 4, 4), 0); /* shared: two references */
	CHECK_EQ(alloc_refcount(&a, 4), 2);
	CHECK_EQ(alloc_refcount(&a, 8), 1);
	CHECK_EQ(alloc_refcount(&a, 100), 0);
	CHECK_EQ(alloc_unref(&a, 0, 16), 0);
	CHECK_EQ(a.pending_blocks, 12);     /* the shared four keep a reference */
	CHECK_EQ(alloc_refcount(&a, 4), 1);
	CHECK_EQ(alloc_refcount(&a, 0), 1); /* pending, not yet free */
	CHECK_EQ(a.npending, 2);            /* [0,4) and [8,16) */
	a.sealed = a.npending;              /* a sync starts */
	CHECK_EQ(alloc_unref(&a, 4, 4), 0); /* after it: must not join a sealed run */
	CHECK_EQ(a.npending, 3);
	alloc_release_pending(&a, a.sealed); /* that sync completes */
	CHECK_EQ(alloc_refcount(&a, 0), 0);
	CHECK_EQ(alloc_refcount(&a, 4), 1);
	CHECK_EQ(a.npending, 1);
	alloc_release_pending(&a, 1);
	CHECK_EQ(a.pending_blocks, 0);
	CHECK_EQ(alloc_free_blocks(&a), 4096);
	CHECK_EQ(alloc_unref(&a, 0, 1), -EUCLEAN); /* a free block has no reference */
	CHECK_EQ(alloc_ref(&a, 4090, 10), -EINVAL);
	alloc_destroy(&a);
}

static void test_many_shared(void)
{
	struct alloc a;
	REQUIRE(alloc_init(&a, 1 << 20) == 0);
	for (uint64_t b = 0; b < 100000; b++)
		REQUIRE(alloc_ref(&a, b * 7 % (1 << 20), 1) == 0);
	for (uint64_t b = 0; b < 100000; b++)
		REQUIRE(alloc_ref(&a, b * 7 % (1 << 20), 1) == 0);
	CHECK_EQ(alloc_refcount(&a, 7 * 500), 2);
	for (uint64_t b = 0; b < 100000; b += 2)
		REQUIRE(alloc_unref(&a, b * 7 % (1 << 20), 1) == 0);
	CHECK_EQ(alloc_refcount(&a, 0), 1);
	CHECK_EQ(alloc_refcount(&a, 7), 2);
	CHECK_EQ(a.extra_count, 50000);
	alloc_destroy(&a);
}

static const struct harness_test tests[] = {
	{ "runs_and_reserve", test_runs_and_reserve },
	{ "reuse_before_fresh", test_reuse_before_fresh },
	{ "refs_and_pending", test_refs_and_pending },
	{ "many_shared", test_many_shared },
};
HARNESS_MAIN(tests)
