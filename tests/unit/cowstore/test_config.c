/*
 * test_config.c - configuration records (cowstore/config.c): put, get,
 * list by prefix, delete, survival across a reopen, bad arguments, and a
 * metadata directory that only the pool's owner can read.
 */
#include <errno.h>
#include <sys/stat.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

struct seen {
	char keys[8][64];
	int n;
};

static int collect(void *arg, const char *key, const void *value, size_t len)
{
	struct seen *s = arg;
	if (s->n == 8 || len != strlen(key) || memcmp(value, key, len) != 0)
		return -EBADMSG;
	snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", key);
	return 0;
}

static int stop_at_first(void *arg, const char *key, const void *value, size_t len)
{
	(void)arg, (void)key, (void)value, (void)len;
	return 42;
}

static void test_records(void)
{
	struct test_pool tp;
	struct seen seen = { 0 };
	void *value;
	size_t len;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	static const char *keys[] = { "iscsi/target/b", "iscsi/target/a", "iscsi/portal/x",
				      "other" };
	for (int i = 0; i < 4; i++)
		CHECK_EQ(cowstore_config_put(tp.cs, keys[i], keys[i], strlen(keys[i])), 0);
	CHECK_EQ(cowstore_config_put(tp.cs, "empty", NULL, 0), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_config_get(tp.cs, "iscsi/target/a", &value, &len), 0);
	CHECK(len == 14 && memcmp(value, "iscsi/target/a", 14) == 0);
	free(value);
	CHECK_EQ(cowstore_config_get(tp.cs, "empty", &value, &len), 0);
	CHECK_EQ(len, 0);
	free(value);
	CHECK_EQ(cowstore_config_list(tp.cs, "iscsi/target/", collect, &seen), 0);
	REQUIRE(seen.n == 2);
	CHECK(strcmp(seen.keys[0], "iscsi/target/a") == 0); /* byte order */
	CHECK(strcmp(seen.keys[1], "iscsi/target/b") == 0);
	CHECK_EQ(cowstore_config_list(tp.cs, "", stop_at_first, NULL), 42);
	CHECK_EQ(cowstore_config_delete(tp.cs, "iscsi/target/a"), 0);
	CHECK_EQ(cowstore_config_delete(tp.cs, "iscsi/target/a"), -ENOENT);
	CHECK_EQ(cowstore_config_get(tp.cs, "iscsi/target/a", &value, &len), -ENOENT);
	/* the pool's own records are not configuration */
	seen.n = 0;
	CHECK_EQ(cowstore_config_list(tp.cs, "", collect, &seen), -EBADMSG); /* "empty" */
	test_pool_destroy(&tp);
}

static void test_bad_arguments(void)
{
	struct test_pool tp;
	void *value;
	size_t len;
	char long_key[COWSTORE_CONFIG_KEY_MAX + 2];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = 0;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_config_put(NULL, "k", "v", 1), -EINVAL);
	CHECK_EQ(cowstore_config_put(tp.cs, "", "v", 1), -EINVAL);
	CHECK_EQ(cowstore_config_put(tp.cs, "has space", "v", 1), -EINVAL);
	CHECK_EQ(cowstore_config_put(tp.cs, long_key, "v", 1), -EINVAL);
	CHECK_EQ(cowstore_config_put(tp.cs, "k", NULL, 1), -EINVAL);
	CHECK_EQ(cowstore_config_put(tp.cs, "k", "v", COWSTORE_CONFIG_VALUE_MAX + 1), -EINVAL);
	CHECK_EQ(cowstore_config_get(tp.cs, "k", NULL, &len), -EINVAL);
	CHECK_EQ(cowstore_config_get(tp.cs, NULL, &value, &len), -EINVAL);
	CHECK_EQ(cowstore_config_delete(tp.cs, "\x01"), -EINVAL);
	CHECK_EQ(cowstore_config_list(tp.cs, NULL, collect, NULL), -EINVAL);
	CHECK_EQ(cowstore_config_list(tp.cs, "", NULL, NULL), -EINVAL);
	test_pool_destroy(&tp);
}

static unsigned meta_mode(const struct test_pool *tp)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/meta", tp->dir);
	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0xffff;
}

/* Records hold CHAP secrets in clear: meta/ is the owner's alone, and an
 * open tightens a pool whose meta/ others could read. */
static void test_meta_is_private(void)
{
	struct test_pool tp;
	char path[128];
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(meta_mode(&tp), 0700);
	snprintf(path, sizeof(path), "%s/meta", tp.dir);
	REQUIRE(chmod(path, 0755) == 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(meta_mode(&tp), 0700);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "records", test_records },
	{ "bad_arguments", test_bad_arguments },
	{ "meta_is_private", test_meta_is_private },
};

HARNESS_MAIN(tests)
