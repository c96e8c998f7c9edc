/*
 * testutil.h - helpers shared by the cowstore unit tests: a throw-away pool
 * under /tmp, deterministic block contents, and damage to its data file.
 */
#ifndef SLATE_TESTS_COWSTORE_TESTUTIL_H
#define SLATE_TESTS_COWSTORE_TESTUTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowstore/cowstore.h"

struct test_pool {
	char dir[64];
	struct cowstore *cs;
};

/* Create and open a pool made with options o. */
static inline int test_pool_open_with(struct test_pool *tp, const struct cowstore_pool_options *o)
{
	struct cowstore_err err = { "" };
	snprintf(tp->dir, sizeof(tp->dir), "/tmp/slate-test-XXXXXX");
	tp->cs = NULL;
	if (!mkdtemp(tp->dir))
		return -1;
	int rc = cowstore_pool_create(tp->dir, o, &err);
	if (!rc)
		rc = cowstore_open(tp->dir, &tp->cs, &err);
	if (rc)
		fprintf(stderr, "  test pool: %s\n", err.msg);
	return rc;
}

/* Create and open a pool of capacity_mib (plog_mib 0: none). */
static inline int test_pool_open(struct test_pool *tp, uint64_t capacity_mib, uint64_t plog_mib)
{
	struct cowstore_pool_options o = { .capacity_bytes = capacity_mib << 20,
					   .plog_bytes = plog_mib << 20 };
	return test_pool_open_with(tp, &o);
}

static inline int test_pool_reopen(struct test_pool *tp)
{
	struct cowstore_err err = { "" };
	cowstore_close(tp->cs);
	int rc = cowstore_open(tp->dir, &tp->cs, &err);
	if (rc)
		fprintf(stderr, "  reopen: %s\n", err.msg);
	return rc;
}

static inline void test_pool_destroy(struct test_pool *tp)
{
	char cmd[128];
	if (tp->cs)
		cowstore_close(tp->cs);
	tp->cs = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tp->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", tp->dir);
}

/* Sector s of a pattern named by seed: every byte depends on both. */
/* Overwrite 16 bytes of the pool's data file at offset (a checksum error
 * waiting for the block that holds them). */
static inline void test_pool_corrupt(const char *dir, uint64_t offset)
{
	char path[128];
	uint8_t junk[16];
	snprintf(path, sizeof(path), "%s/data", dir);
	int fd = open(path, O_WRONLY);
	memset(junk, 0xa5, sizeof(junk));
	if (fd < 0 || pwrite(fd, junk, sizeof(junk), (off_t)offset) != (ssize_t)sizeof(junk))
		fprintf(stderr, "  cannot corrupt %s\n", path);
	if (fd >= 0)
		close(fd);
}

static inline void fill_pattern(void *buf, uint64_t first_sector, uint32_t nsectors,
				uint32_t seed)
{
	uint8_t *p = buf;
	for (uint32_t s = 0; s < nsectors; s++)
		for (uint32_t i = 0; i < 512; i += 4) {
			uint32_t v = (uint32_t)(first_sector + s) * 2654435761u ^ seed * 40503u ^ i;
			memcpy(p + (size_t)s * 512 + i, &v, 4);
		}
}

static inline int check_pattern(const void *buf, uint64_t first_sector, uint32_t nsectors,
				uint32_t seed)
{
	uint8_t tmp[512];
	for (uint32_t s = 0; s < nsectors; s++) {
		fill_pattern(tmp, first_sector + s, 1, seed);
		if (memcmp(tmp, (const uint8_t *)buf + (size_t)s * 512, 512) != 0)
			return 0;
	}
	return 1;
}

static inline int is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

#endif
