/*
 * test_stats.c - the statistics registry and history (qos/): the
 * histogram's error bound, IOPS, bytes, average and p99 of known IOs,
 * sums for hosts, volumes, groups and the appliance, idle and late
 * samples, the hour-long ring wrapping, minute records written to a
 * temporary pool and read back after reopening it, pruning after 7 days,
 * and recorders on several threads losing no count.
 *
 * Time is a simulated clock: qos_history_sample() takes the second.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>

#include "qos/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define T0 1700000040 /* a minute boundary (divisible by 60) */
#define US 1000ull    /* ns */

static bool near(double got, double want, double rel)
{
	if (want == 0)
		return got == 0;
	return fabs(got - want) <= rel * fabs(want);
}
#define CHECK_NEAR(got, want, rel)                                                       \
	do {                                                                             \
		double g_ = (got), w_ = (want);                                          \
		if (!near(g_, w_, rel)) {                                                \
			fprintf(stderr, "  %s:%d: %s == %.6g, want %.6g (+-%g%%)\n", __FILE__, \
				__LINE__, #got, g_, w_, (rel) * 100);                    \
			harness_failures++;                                              \
		}                                                                        \
	} while (0)

/* The one point of series at second t (resolution 1); zeroed if absent. */
static struct qos_point point_at(struct qos_history *h, const char *series, int64_t t)
{
	struct qos_point *p = NULL, r = { .unix_s = -1 };
	size_t n = 0;
	if (qos_history_query(h, series, 1, t, t + 1, &p, &n) == 0 && n == 1)
		r = p[0];
	free(p);
	return r;
}

struct fixture {
	struct qos_stats *st;
	struct qos_history *h;
};

static int fixture_open(struct fixture *f, struct cowstore *cs)
{
	f->st = NULL;
	f->h = NULL;
	int rc = qos_stats_create(&f->st);
	return rc ? rc : qos_history_create(f->st, cs, &f->h);
}

static void fixture_close(struct fixture *f)
{
	qos_history_destroy(f->h);
	qos_stats_destroy(f->st);
}

/* ---- the histogram --------------------------------------------------------- */

static void test_histogram_error_bound(void)
{
	unsigned last = 0;
	int bad = 0;
	for (double v = 1; v < 1e12; v *= 1.0137) {
		uint64_t ns = (uint64_t)v;
		unsigned b = hist_bucket(ns);
		if (b < last || b >= HIST_BUCKETS)
			bad++; /* buckets grow with the value */
		last = b;
		double rel = fabs(hist_bucket_value_ns(b) - (double)ns) / (double)ns;
		if (rel > 1.0 / 32 + 1e-9) {
			if (bad++ < 5)
				fprintf(stderr, "  %llu ns -> bucket %u = %.1f ns\n",
					(unsigned long long)ns, b, hist_bucket_value_ns(b));
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(hist_bucket(0), 0);
	CHECK_EQ(hist_bucket(15), 15);
	CHECK_EQ(hist_bucket(16), 16);
	CHECK_EQ(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	/* quantiles: 1..100 once each; p99 is 99, p50 is 50 */
	uint64_t hist[HIST_BUCKETS] = { 0 };
	for (uint64_t v = 1; v <= 100; v++)
		hist[hist_bucket(v * 1000)]++;
	CHECK_NEAR(hist_quantile_ns(hist, 100, 0.99), 99000, 1.0 / 32);
	CHECK_NEAR(hist_quantile_ns(hist, 100, 0.50), 50000, 1.0 / 32);
	CHECK_EQ(hist_quantile_ns(hist, 0, 0.99), 0);
}

/* ---- one stream ---------------------------------------------------------------- */

static void test_rates_average_and_p99_of_known_ios(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	struct qos_stream *s = qos_stats_stream(f.st, "iqn.2026-01.dev.slate:esx1", 7);
	REQUIRE(s != NULL);
	CHECK(qos_stats_stream(f.st, "iqn.2026-01.dev.slate:esx1", 7) == s);
	CHECK(qos_stats_stream(f.st, "iqn.2026-01.dev.slate:esx1", 8) != s);
	for (int i = 0; i < 100; i++)
		qos_stream_record(s, false, 4096, 1000 * US);
	for (int i = 0; i < 50; i++)
		qos_stream_record(s, true, 8192, 3000 * US);
	struct qos_stream_counts c;
	qos_stream_counts(s, &c);
	CHECK_EQ(c.read_ios, 100);
	CHECK_EQ(c.write_ios, 50);
	CHECK_EQ(c.read_bytes, 409600);
	CHECK_EQ(c.write_bytes, 409600);
	CHECK_EQ(c.latency_sum_ns, 100 * 1000 * US + 50 * 3000 * US);

	CHECK_EQ(qos_history_sample(f.h, T0 + 1), 0);
	const char *names[] = { "appliance", "host:iqn.2026-01.dev.slate:esx1", "volume:7" };
	for (size_t i = 0; i < 3; i++) {
		struct qos_point p = point_at(f.h, names[i], T0);
		CHECK_EQ(p.unix_s, T0);
		CHECK_EQ(p.interval_s, 1);
		CHECK_NEAR(p.read_iops, 100, 1e-9);
		CHECK_NEAR(p.write_iops, 50, 1e-9);
		CHECK_NEAR(p.read_bytes_per_s, 409600, 1e-9);
		CHECK_NEAR(p.write_bytes_per_s, 409600, 1e-9);
		CHECK_NEAR(p.avg_latency_us, (100 * 1000.0 + 50 * 3000.0) / 150, 1e-9);
		CHECK_NEAR(p.p99_latency_us, 3000, 0.04); /* rank 149 of 150 is a write */
	}
	/* volume 8's stream exists but did nothing */
	struct qos_point idle = point_at(f.h, "volume:8", T0);
	CHECK_EQ(idle.unix_s, T0);
	CHECK(idle.read_iops == 0 && idle.write_iops == 0 && idle.avg_latency_us == 0 &&
	      idle.p99_latency_us == 0);

	/* p99 of 1..1000 us (one IO each) is 990 us */
	for (uint64_t v = 1; v <= 1000; v++)
		qos_stream_record(s, v % 2, 512, v * US);
	CHECK_EQ(qos_history_sample(f.h, T0 + 2), 0);
	struct qos_point p = point_at(f.h, "volume:7", T0 + 1);
	CHECK_NEAR(p.p99_latency_us, 990, 0.04);
	CHECK_NEAR(p.avg_latency_us, 500.5, 1e-9);
	CHECK_NEAR(p.read_iops + p.write_iops, 1000, 1e-9);
	/* the next second is idle: zeros, not the last second's values */
	CHECK_EQ(qos_history_sample(f.h, T0 + 3), 0);
	p = point_at(f.h, "volume:7", T0 + 2);
	CHECK_EQ(p.unix_s, T0 + 2);
	CHECK(p.read_iops == 0 && p.p99_latency_us == 0);
	fixture_close(&f);
}

static void test_sample_refuses_going_back_and_keeps_counts(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	struct qos_stream *s = qos_stats_stream(f.st, "10.0.0.5", 3);
	REQUIRE(s != NULL);
	CHECK_EQ(qos_history_sample(f.h, T0 + 10), 0);
	qos_stream_record(s, false, 1024, 100 * US);
	CHECK_EQ(qos_history_sample(f.h, T0 + 10), -EAGAIN);
	CHECK_EQ(qos_history_sample(f.h, T0 + 9), -EAGAIN);
	CHECK_EQ(qos_history_sample(f.h, T0 + 11), 0);
	CHECK_NEAR(point_at(f.h, "host:10.0.0.5", T0 + 10).read_iops, 1, 1e-9);
	CHECK_EQ(qos_history_sample(f.h, 0), -EINVAL);
	fixture_close(&f);
}

static void test_late_sample_spreads_counts_over_its_seconds(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	struct qos_stream *s = qos_stats_stream(f.st, "h", 1);
	REQUIRE(s != NULL);
	CHECK_EQ(qos_history_sample(f.h, T0), 0);
	for (int i = 0; i < 301; i++)
		qos_stream_record(s, true, 4096, 200 * US);
	CHECK_EQ(qos_history_sample(f.h, T0 + 3), 0); /* two seconds missed */
	struct qos_point *p = NULL;
	size_t n = 0;
	CHECK_EQ(qos_history_query(f.h, "volume:1", 1, T0, T0 + 3, &p, &n), 0);
	REQUIRE(n == 3);
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(p[i].unix_s, T0 + (int64_t)i);
		CHECK(p[i].write_iops >= 100 && p[i].write_iops <= 101);
		CHECK_NEAR(p[i].p99_latency_us, 200, 0.04);
		CHECK_NEAR(p[i].avg_latency_us, 200, 1e-9);
		total += p[i].write_iops;
	}
	CHECK_NEAR(total, 301, 1e-9);
	free(p);
	fixture_close(&f);
}

/* ---- sums ---------------------------------------------------------------------- */

static void test_hosts_volumes_groups_and_appliance_sum(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	/* host A: volumes 1, 2; host B: volumes 2, 3; VM "vm1" = volumes 1 and 2 */
	CHECK_EQ(qos_stats_set_group(f.st, 1, "vm1"), 0);
	struct qos_stream *a1 = qos_stats_stream(f.st, "A", 1), *a2 = qos_stats_stream(f.st, "A", 2);
	struct qos_stream *b2 = qos_stats_stream(f.st, "B", 2), *b3 = qos_stats_stream(f.st, "B", 3);
	REQUIRE(a1 && a2 && b2 && b3);
	CHECK_EQ(qos_stats_set_group(f.st, 2, "vm1"), 0); /* after its streams exist */
	CHECK_EQ(qos_stats_set_group(f.st, 3, "vm2"), 0);
	CHECK_EQ(qos_stats_set_group(f.st, 3, ""), 0);    /* and out again */
	CHECK_EQ(qos_stats_set_group(f.st, 4, "bad\nname"), -EINVAL);
	char long_name[QOS_NAME_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	CHECK_EQ(qos_stats_set_group(f.st, 4, long_name), -EINVAL);
	struct { struct qos_stream *s; int reads, writes; uint64_t lat_us; } io[] = {
		{ a1, 10, 1, 100 }, { a2, 20, 2, 200 }, { b2, 30, 3, 300 }, { b3, 40, 4, 400 },
	};
	for (size_t i = 0; i < 4; i++) {
		for (int k = 0; k < io[i].reads; k++)
			qos_stream_record(io[i].s, false, 4096, io[i].lat_us * US);
		for (int k = 0; k < io[i].writes; k++)
			qos_stream_record(io[i].s, true, 512, io[i].lat_us * US);
	}
	/* the cumulative sums per host and per volume (the QoS loop's inputs) */
	struct qos_host_counts *hosts;
	struct qos_volume_counts *vols;
	size_t nhosts, nvols;
	REQUIRE(qos_stats_hosts(f.st, &hosts, &nhosts) == 0);
	REQUIRE(nhosts == 2);
	CHECK(!strcmp(hosts[1].host, "B"));
	CHECK_EQ(hosts[1].counts.read_ios, 70);
	CHECK_EQ(hosts[1].counts.latency_sum_ns, (33 * 300 + 44 * 400) * US);
	free(hosts);
	REQUIRE(qos_stats_volumes(f.st, &vols, &nvols) == 0);
	REQUIRE(nvols == 3);
	CHECK_EQ(vols[1].volume_id, 2);
	CHECK_EQ(vols[1].counts.read_ios, 50);
	CHECK_EQ(vols[1].counts.write_ios, 5);
	CHECK_EQ(vols[1].counts.write_bytes, 5 * 512);
	CHECK_EQ(vols[1].counts.latency_sum_ns, (22 * 200 + 33 * 300) * US);
	free(vols);
	CHECK_EQ(qos_history_sample(f.h, T0 + 1), 0);
	struct { const char *series; double reads, writes, avg_us; } want[] = {
		{ "appliance", 100, 10, (11 * 100 + 22 * 200 + 33 * 300 + 44 * 400) / 110.0 },
		{ "host:A", 30, 3, (11 * 100 + 22 * 200) / 33.0 },
		{ "host:B", 70, 7, (33 * 300 + 44 * 400) / 77.0 },
		{ "volume:1", 10, 1, 100 },
		{ "volume:2", 50, 5, (22 * 200 + 33 * 300) / 55.0 },
		{ "volume:3", 40, 4, 400 },
		{ "group:vm1", 60, 6, (11 * 100 + 22 * 200 + 33 * 300) / 66.0 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct qos_point p = point_at(f.h, want[i].series, T0);
		if (p.unix_s != T0)
			fprintf(stderr, "  no point for %s\n", want[i].series);
		CHECK_EQ(p.unix_s, T0);
		CHECK_NEAR(p.read_iops, want[i].reads, 1e-9);
		CHECK_NEAR(p.write_iops, want[i].writes, 1e-9);
		CHECK_NEAR(p.read_bytes_per_s, want[i].reads * 4096, 1e-9);
		CHECK_NEAR(p.write_bytes_per_s, want[i].writes * 512, 1e-9);
		CHECK_NEAR(p.avg_latency_us, want[i].avg_us, 1e-9);
	}
	CHECK_NEAR(point_at(f.h, "appliance", T0).p99_latency_us, 400, 0.04);
	CHECK_NEAR(point_at(f.h, "group:vm1", T0).p99_latency_us, 300, 0.04);
	struct qos_point *p = NULL;
	size_t n = 0;
	/* vm2 held volume 3 only between two samples: no stream ever fed it */
	CHECK_EQ(qos_history_query(f.h, "group:vm2", 1, 0, T0 + 1, &p, &n), -ENOENT);
	/* volume 2 leaves vm1: the group now sums volume 1 only */
	CHECK_EQ(qos_stats_set_group(f.st, 2, ""), 0);
	qos_stream_record(a1, false, 4096, 100 * US);
	qos_stream_record(a2, false, 4096, 100 * US);
	CHECK_EQ(qos_history_sample(f.h, T0 + 2), 0);
	CHECK_NEAR(point_at(f.h, "group:vm1", T0 + 1).read_iops, 1, 1e-9);
	CHECK_NEAR(point_at(f.h, "appliance", T0 + 1).read_iops, 2, 1e-9);

	char **names = NULL;
	size_t count = 0;
	CHECK_EQ(qos_history_series(f.h, &names, &count), 0);
	const char *all[] = { "appliance", "group:vm1", "host:A", "host:B",
			      "volume:1", "volume:2", "volume:3" };
	CHECK_EQ(count, 7);
	for (size_t i = 0; i < count && i < 7; i++)
		CHECK(strcmp(names[i], all[i]) == 0);
	qos_history_series_free(names, count);
	CHECK_EQ(qos_history_query(f.h, "host:C", 1, 0, T0 + 10, &p, &n), -ENOENT);
	CHECK_EQ(qos_history_query(f.h, "host:A", 5, 0, T0 + 10, &p, &n), -EINVAL);
	CHECK_EQ(qos_history_query(f.h, "host:A", 60, 0, T0 + 10, &p, &n), 0); /* no pool */
	CHECK_EQ(n, 0);
	fixture_close(&f);
}

/* ---- the ring ------------------------------------------------------------------ */

static void test_ring_keeps_the_last_hour(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	struct qos_stream *s = qos_stats_stream(f.st, "h", 1);
	REQUIRE(s != NULL);
	const int64_t seconds = QOS_HISTORY_SECONDS + 100;
	for (int64_t i = 0; i < seconds; i++) {
		qos_stream_record(s, false, (uint32_t)(i + 1), 10 * US); /* bytes name the second */
		REQUIRE(qos_history_sample(f.h, T0 + i + 1) == 0);
	}
	struct qos_point *p = NULL;
	size_t n = 0;
	CHECK_EQ(qos_history_query(f.h, "volume:1", 1, 0, T0 + seconds + 10, &p, &n), 0);
	REQUIRE(n == QOS_HISTORY_SECONDS);
	CHECK_EQ(p[0].unix_s, T0 + 100);
	CHECK_NEAR(p[0].read_bytes_per_s, 101, 1e-9);
	CHECK_EQ(p[n - 1].unix_s, T0 + seconds - 1);
	CHECK_NEAR(p[n - 1].read_bytes_per_s, (double)seconds, 1e-9);
	int in_order = 1;
	for (size_t i = 1; i < n; i++)
		in_order &= p[i].unix_s == p[i - 1].unix_s + 1 &&
			    p[i].read_bytes_per_s == (double)(p[i].unix_s - T0 + 1);
	CHECK(in_order);
	free(p);
	CHECK_EQ(point_at(f.h, "volume:1", T0 + 99).unix_s, -1); /* overwritten */
	CHECK_EQ(qos_history_query(f.h, "volume:1", 1, T0 + 200, T0 + 210, &p, &n), 0);
	CHECK_EQ(n, 10);
	free(p);
	fixture_close(&f);
}

/* ---- minutes in the pool ------------------------------------------------------- */

static int count_keys(void *arg, const char *key, const void *value, size_t len)
{
	(*(int *)arg)++;
	return 0;
}

static int pool_keys(struct cowstore *cs, const char *prefix)
{
	int n = 0;
	cowstore_config_list(cs, prefix, count_keys, &n);
	return n;
}

static void test_minutes_persist_and_read_back_after_reopen(void)
{
	struct test_pool tp;
	struct fixture f;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(fixture_open(&f, tp.cs) == 0);
	/* an awkward host name: '/', '%' and a space must survive the key */
	const char *host = "10.1.2.3 a/b%c";
	struct qos_stream *s = qos_stats_stream(f.st, host, 42);
	REQUIRE(s != NULL);
	CHECK_EQ(qos_stats_set_group(f.st, 42, "web-vm"), 0);
	/* minute 0: 60 reads of 4 KiB at 500 us each second; minute 1: idle;
	 * minute 2: 6 writes in one second at 2 ms */
	for (int64_t t = T0; t < T0 + 181; t++) {
		if (t < T0 + 60)
			for (int i = 0; i < 60; i++)
				qos_stream_record(s, false, 4096, 500 * US);
		if (t == T0 + 150)
			for (int i = 0; i < 6; i++)
				qos_stream_record(s, true, 65536, 2000 * US);
		REQUIRE(qos_history_sample(f.h, t + 1) == 0); /* credits second t */
	}
	char series[64];
	snprintf(series, sizeof(series), "host:%s", host);
	struct qos_point *p = NULL;
	size_t n = 0;
	CHECK_EQ(qos_history_query(f.h, series, 60, T0, T0 + 3600, &p, &n), 0);
	REQUIRE(n == 2); /* the idle minute has no record */
	CHECK_EQ(p[0].unix_s, T0);
	CHECK_EQ(p[0].interval_s, 60);
	CHECK_NEAR(p[0].read_iops, 60, 1e-9);
	CHECK_NEAR(p[0].read_bytes_per_s, 60 * 4096, 1e-9);
	CHECK_NEAR(p[0].avg_latency_us, 500, 1e-9);
	CHECK_NEAR(p[0].p99_latency_us, 500, 0.04);
	CHECK_EQ(p[1].unix_s, T0 + 120);
	CHECK_NEAR(p[1].write_iops, 0.1, 1e-9);
	CHECK_NEAR(p[1].write_bytes_per_s, 6 * 65536 / 60.0, 1e-9);
	CHECK_NEAR(p[1].p99_latency_us, 2000, 0.04);
	free(p);
	/* the minute in progress (T0+180) is not written yet */
	CHECK_EQ(qos_history_query(f.h, "group:web-vm", 60, T0 + 121, T0 + 3600, &p, &n), 0);
	CHECK_EQ(n, 0);
	free(p);
	CHECK(pool_keys(tp.cs, "Q/s/") == 4); /* appliance, host, volume, group */
	fixture_close(&f);

	REQUIRE(test_pool_reopen(&tp) == 0);
	REQUIRE(fixture_open(&f, tp.cs) == 0);
	char **names = NULL;
	size_t count = 0;
	CHECK_EQ(qos_history_series(f.h, &names, &count), 0);
	const char *all[] = { "appliance", "group:web-vm", series, "volume:42" };
	CHECK_EQ(count, 4);
	for (size_t i = 0; i < count && i < 4; i++)
		CHECK(strcmp(names[i], all[i]) == 0);
	qos_history_series_free(names, count);
	const char *check[] = { "appliance", "group:web-vm", series, "volume:42" };
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ(qos_history_query(f.h, check[i], 60, 0, INT64_MAX, &p, &n), 0);
		CHECK_EQ(n, 2);
		if (n == 2) {
			CHECK_NEAR(p[0].read_iops, 60, 1e-9);
			CHECK_NEAR(p[1].write_iops, 0.1, 1e-9);
		}
		free(p);
	}
	/* [since, until) bounds */
	CHECK_EQ(qos_history_query(f.h, "appliance", 60, T0 + 1, T0 + 121, &p, &n), 0);
	CHECK(n == 1 && p[0].unix_s == T0 + 120);
	free(p);
	CHECK_EQ(qos_history_query(f.h, "appliance", 60, T0, T0 + 120, &p, &n), 0);
	CHECK(n == 1 && p[0].unix_s == T0);
	free(p);
	/* no 1 s points survive a restart */
	CHECK_EQ(qos_history_query(f.h, "volume:42", 1, 0, INT64_MAX, &p, &n), 0);
	CHECK_EQ(n, 0);
	fixture_close(&f);
	test_pool_destroy(&tp);
}

static void test_records_older_than_seven_days_are_pruned(void)
{
	struct test_pool tp;
	struct fixture f;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(fixture_open(&f, tp.cs) == 0);
	struct qos_stream *old = qos_stats_stream(f.st, "old-host", 1);
	struct qos_stream *recent = qos_stats_stream(f.st, "recent-host", 2);
	REQUIRE(old && recent);
	/* day 0: both; day 3: the recent host only */
	qos_stream_record(old, false, 4096, 100 * US);
	qos_stream_record(recent, false, 4096, 100 * US);
	CHECK_EQ(qos_history_sample(f.h, T0 + 1), 0);
	CHECK_EQ(qos_history_sample(f.h, T0 + 61), 0); /* minute T0 written */
	CHECK_EQ(pool_keys(tp.cs, "Q/m/host:old-host/"), 1);
	const int64_t day3 = T0 + 3 * 86400;
	CHECK_EQ(qos_history_sample(f.h, day3), 0);
	qos_stream_record(recent, true, 4096, 100 * US);
	CHECK_EQ(qos_history_sample(f.h, day3 + 1), 0);
	CHECK_EQ(qos_history_sample(f.h, day3 + 61), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/m/host:recent-host/"), 2);
	/* one minute short of 7 days after minute T0 ended: still there */
	CHECK_EQ(qos_history_sample(f.h, T0 + QOS_HISTORY_KEEP_S), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/m/host:old-host/"), 1);
	/* 7 days after T0: T0's records go, day 3's stay */
	CHECK_EQ(qos_history_sample(f.h, T0 + QOS_HISTORY_KEEP_S + 60), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/m/host:old-host/"), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/s/host:old-host"), 0); /* its marker too */
	CHECK_EQ(pool_keys(tp.cs, "Q/m/host:recent-host/"), 1);
	CHECK_EQ(pool_keys(tp.cs, "Q/m/appliance/"), 1);
	struct qos_point *p = NULL;
	size_t n = 0;
	CHECK_EQ(qos_history_query(f.h, "host:recent-host", 60, 0, INT64_MAX, &p, &n), 0);
	CHECK(n == 1 && p[0].unix_s == day3 && p[0].write_iops * 60 == 1);
	free(p);
	fixture_close(&f);

	/* after a restart, records that aged while the daemon was down go at
	 * the first sample */
	REQUIRE(test_pool_reopen(&tp) == 0);
	REQUIRE(fixture_open(&f, tp.cs) == 0);
	CHECK_EQ(qos_history_sample(f.h, day3 + QOS_HISTORY_KEEP_S + 60), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/m/"), 0);
	CHECK_EQ(pool_keys(tp.cs, "Q/s/"), 0);
	char **names = NULL;
	size_t count = 0;
	CHECK_EQ(qos_history_series(f.h, &names, &count), 0);
	qos_history_series_free(names, count);
	fixture_close(&f);
	test_pool_destroy(&tp);
}

/* ---- threads --------------------------------------------------------------------- */

#define THREADS 4

struct recorder {
	struct qos_stats *st;
	struct qos_stream *shared;
	atomic_bool *stop;
	char host[16];
	uint64_t done;      /* IOs recorded on each stream */
	uint64_t latency_sum_ns;
};

/* Record until told to stop, so the sampling runs while IO is recorded. */
static void *record_many(void *arg)
{
	struct recorder *r = arg;
	struct qos_stream *own = qos_stats_stream(r->st, r->host, 99); /* made while others record */
	uint64_t i = 0;
	while (!atomic_load_explicit(r->stop, memory_order_relaxed) || i < 1000) {
		uint64_t lat = (i % 1000 + 1) * US;
		qos_stream_record(r->shared, i & 1, 512, lat);
		r->latency_sum_ns += lat;
		if (own)
			qos_stream_record(own, false, 4096, 50 * US);
		i++;
	}
	r->done = own ? i : 0;
	return NULL;
}

static void test_concurrent_recorders_lose_nothing(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, NULL) == 0);
	struct qos_stream *shared = qos_stats_stream(f.st, "shared", 1);
	REQUIRE(shared != NULL);
	struct recorder r[THREADS];
	pthread_t th[THREADS];
	atomic_bool stop = false;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct recorder){ .st = f.st, .shared = shared, .stop = &stop };
		snprintf(r[i].host, sizeof(r[i].host), "t%d", i);
		REQUIRE(pthread_create(&th[i], NULL, record_many, &r[i]) == 0);
	}
	int64_t t = T0;
	int sample_errors = 0;
	for (int i = 0; i < 200; i++) { /* sample while they record */
		sample_errors += qos_history_sample(f.h, ++t) != 0;
		usleep(500);
	}
	atomic_store(&stop, true);
	uint64_t total = 0, latency_sum_ns = 0, reads = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(r[i].done >= 1000);
		total += r[i].done;
		latency_sum_ns += r[i].latency_sum_ns;
		reads += (r[i].done + 1) / 2; /* i even: a read */
	}
	sample_errors += qos_history_sample(f.h, ++t) != 0;
	CHECK_EQ(sample_errors, 0);
	struct qos_stream_counts c;
	qos_stream_counts(shared, &c);
	CHECK_EQ(c.read_ios, reads);
	CHECK_EQ(c.write_ios, total - reads);
	CHECK_EQ(c.read_bytes + c.write_bytes, total * 512);
	CHECK(c.latency_sum_ns == latency_sum_ns);
	uint64_t hist_total = 0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		hist_total += atomic_load(&shared->hist[b]);
	CHECK_EQ(hist_total, total);
	/* every IO landed in exactly one second of the history, and the IO
	 * was spread over many of them */
	struct qos_point *p = NULL;
	size_t n = 0, busy = 0;
	double ios = 0, host_ios = 0;
	CHECK_EQ(qos_history_query(f.h, "volume:1", 1, 0, INT64_MAX, &p, &n), 0);
	for (size_t i = 0; i < n; i++) {
		ios += p[i].read_iops + p[i].write_iops;
		busy += p[i].read_iops + p[i].write_iops > 0;
	}
	free(p);
	CHECK_EQ((long long)ios, (long long)total);
	CHECK(busy > 50);
	CHECK_EQ(qos_history_query(f.h, "appliance", 1, 0, INT64_MAX, &p, &n), 0);
	ios = 0;
	for (size_t i = 0; i < n; i++)
		ios += p[i].read_iops + p[i].write_iops;
	free(p);
	CHECK_EQ((long long)ios, 2 * (long long)total);
	CHECK_EQ(qos_history_query(f.h, "host:t2", 1, 0, INT64_MAX, &p, &n), 0);
	for (size_t i = 0; i < n; i++)
		host_ios += p[i].read_iops;
	free(p);
	CHECK_EQ((long long)host_ios, (long long)r[2].done);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "histogram_error_bound", test_histogram_error_bound },
	{ "rates_average_and_p99_of_known_ios", test_rates_average_and_p99_of_known_ios },
	{ "sample_refuses_going_back_and_keeps_counts",
	  test_sample_refuses_going_back_and_keeps_counts },
	{ "late_sample_spreads_counts_over_its_seconds",
	  test_late_sample_spreads_counts_over_its_seconds },
	{ "hosts_volumes_groups_and_appliance_sum", test_hosts_volumes_groups_and_appliance_sum },
	{ "ring_keeps_the_last_hour", test_ring_keeps_the_last_hour },
	{ "minutes_persist_and_read_back_after_reopen",
	  test_minutes_persist_and_read_back_after_reopen },
	{ "records_older_than_seven_days_are_pruned",
	  test_records_older_than_seven_days_are_pruned },
	{ "concurrent_recorders_lose_nothing", test_concurrent_recorders_lose_nothing },
};

HARNESS_MAIN(tests)
