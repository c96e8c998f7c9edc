/*
 * test_table.c - the shared latency table, in memory and in a pool: an
 * entry per (node, host) replaced by the next period's, fresh entries only
 * (max age), old ones forgotten and deleted, the IO-weighted average,
 * records that survive reopening the pool, names that need escaping or a
 * hashed key, and two tables on one pool seeing each other's entries.
 */
#include <errno.h>
#include <math.h>

#include "qos/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define T0 1700000000000ll

static struct qos_table_entry entry(const char *node, const char *host, int64_t t, double lat,
				    uint64_t ios)
{
	struct qos_table_entry e;
	memset(&e, 0, sizeof(e));
	snprintf(e.node, sizeof(e.node), "%s", node);
	snprintf(e.host, sizeof(e.host), "%s", host);
	e.time_ms = t;
	e.latency_us = lat;
	e.ios = ios;
	e.window = 12.5;
	e.window_held = 12.25;
	e.outstanding = 10.25;
	e.shares = 1000;
	e.period_ms = 500;
	return e;
}

static const struct qos_table_entry *find(const struct qos_table_entry *e, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].host, host))
			return &e[i];
	return NULL;
}

/* The same checks on either backend. */
static void exercise(struct qos_table *t)
{
	struct qos_table_entry mine[2] = { entry("n1", "iqn.a", T0, 1000, 100),
					   entry("n1", "iqn.b", T0, 4000, 300) };
	REQUIRE(qos_table_publish(t, mine, 2) == 0);
	struct qos_table_entry theirs = entry("n2", "iqn.a", T0 - 400, 2000, 0);
	REQUIRE(qos_table_publish(t, &theirs, 1) == 0);
	struct qos_table_entry *e;
	size_t n;
	REQUIRE(qos_table_read(t, T0, 1500, &e, &n) == 0);
	CHECK_EQ(n, 3);
	/* IO-weighted; an entry without IO does not count */
	CHECK(fabs(qos_table_average_us(e, n) - (1000 * 100 + 4000 * 300) / 400.0) < 1e-9);
	const struct qos_table_entry *b = find(e, n, "iqn.b");
	REQUIRE(b != NULL);
	CHECK(b->window == 12.5 && b->window_held == 12.25 && b->outstanding == 10.25 &&
	      b->shares == 1000 &&
	      b->period_ms == 500 && b->time_ms == T0 && b->ios == 300);
	free(e);
	/* the next period replaces the entry */
	mine[1] = entry("n1", "iqn.b", T0 + 500, 3000, 10);
	REQUIRE(qos_table_publish(t, &mine[1], 1) == 0);
	/* stale: n2's entry is 1400 ms old at T0 + 1000 with max age 1000 */
	REQUIRE(qos_table_read(t, T0 + 1000, 1000, &e, &n) == 0);
	CHECK_EQ(n, 2);
	b = find(e, n, "iqn.b");
	CHECK(b && b->latency_us == 3000 && b->ios == 10);
	free(e);
	/* removal */
	CHECK_EQ(qos_table_remove(t, "n1", "iqn.b"), 0);
	REQUIRE(qos_table_read(t, T0 + 1000, 5000, &e, &n) == 0);
	CHECK_EQ(n, 2);
	CHECK(find(e, n, "iqn.b") == NULL);
	free(e);
	/* long after: forgotten (and deleted) */
	REQUIRE(qos_table_read(t, T0 + QOS_TABLE_FORGET_MS + 1000, INT64_MAX / 2, &e, &n) == 0);
	CHECK_EQ(n, 0);
	CHECK(e == NULL);
	/* bad names */
	struct qos_table_entry bad = entry("", "h", T0, 1, 1);
	CHECK_EQ(qos_table_publish(t, &bad, 1), -EINVAL);
	bad = entry("n", "", T0, 1, 1);
	CHECK_EQ(qos_table_publish(t, &bad, 1), -EINVAL);
	CHECK_EQ(qos_table_average_us(NULL, 0), 0);
}

static void test_memory_table(void)
{
	struct qos_table *t;
	REQUIRE(qos_table_create_memory(&t) == 0);
	exercise(t);
	qos_table_destroy(t);
}

static void test_record_format(void)
{
	struct qos_table_entry e = entry("node one", "10.0.0.7:900/%x", T0, 1234.5, 42), back;
	char buf[2048];
	int n = table_entry_format(&e, buf, sizeof(buf));
	REQUIRE(n > 0);
	CHECK(strchr(buf, '\n') == NULL);
	REQUIRE(table_entry_parse(buf, (size_t)n, &back) == 0);
	CHECK(!strcmp(back.node, "node one") && !strcmp(back.host, "10.0.0.7:900/%x"));
	CHECK(back.latency_us == 1234.5 && back.ios == 42 && back.time_ms == T0);
	CHECK(back.window == 12.5 && back.window_held == 12.25);
	/* version 1 (before window_held) still reads: held to its window */
	REQUIRE(table_entry_parse("1 1 1 1 7.5 1 1 1 a b", 21, &back) == 0);
	CHECK(back.window == 7.5 && back.window_held == 7.5 && !strcmp(back.host, "b"));
	CHECK_EQ(table_entry_parse("2 1 1 1 1 1 1 1 a b", 19, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("2 1 1 1 1 1 1 1 a b -1", 22, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("2 1 1 1 1 1 1 1 a b 1 junk", 26, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("3 1 1 1 1 1 1 1 a b 1", 21, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("1 1 1 1 1 1 1 1 a", 17, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("1 1 -1 1 1 1 1 1 a b", 20, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("1 1 1 1 1 1 1 1 a b junk", 24, &back), -EINVAL);
	CHECK_EQ(table_entry_parse("1 1 1 1 1 1 1 1 a %zz", 21, &back), -EINVAL);
}

static int count_keys(void *arg, const char *key, const void *value, size_t len)
{
	(*(int *)arg)++;
	return 0;
}

static void test_pool_table(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	struct qos_table *t;
	REQUIRE(qos_table_create_pool(tp.cs, &t) == 0);
	exercise(t);
	int keys = 0;
	cowstore_config_list(tp.cs, "Q/t/", count_keys, &keys);
	CHECK_EQ(keys, 0); /* the forgetting read deleted them */
	/* a host name whose key would be too long: hashed key, full name kept */
	char host[QOS_HOST_MAX + 1];
	memset(host, ' ', QOS_HOST_MAX);
	host[QOS_HOST_MAX] = 0;
	host[0] = 'h';
	struct qos_table_entry e = entry("n1", host, T0, 500, 5);
	REQUIRE(qos_table_publish(t, &e, 1) == 0);
	/* another process on the same pool */
	struct qos_table *t2;
	REQUIRE(qos_table_create_pool(tp.cs, &t2) == 0);
	struct qos_table_entry e2 = entry("n2", "iqn.other", T0, 1500, 15);
	REQUIRE(qos_table_publish(t2, &e2, 1) == 0);
	qos_table_destroy(t);
	qos_table_destroy(t2);
	REQUIRE(test_pool_reopen(&tp) == 0);
	REQUIRE(qos_table_create_pool(tp.cs, &t) == 0);
	struct qos_table_entry *rows;
	size_t n;
	REQUIRE(qos_table_read(t, T0 + 100, 1000, &rows, &n) == 0);
	CHECK_EQ(n, 2);
	CHECK(find(rows, n, host) != NULL);
	CHECK(find(rows, n, "iqn.other") != NULL);
	CHECK(fabs(qos_table_average_us(rows, n) - (500 * 5 + 1500 * 15) / 20.0) < 1e-9);
	free(rows);
	CHECK_EQ(qos_table_remove(t, "n1", host), 0);
	keys = 0;
	cowstore_config_list(tp.cs, "Q/t/", count_keys, &keys);
	CHECK_EQ(keys, 1);
	qos_table_destroy(t);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "memory_table", test_memory_table },
	{ "record_format", test_record_format },
	{ "pool_table", test_pool_table },
};

HARNESS_MAIN(tests)
