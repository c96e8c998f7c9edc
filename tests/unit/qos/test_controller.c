/*
 * test_controller.c - the controller's own duties: configuration and
 * argument checks, hosts and VMs, observations from stream counters, the
 * period tick (first tick, -EAGAIN), windows in IOs, the read-out, the
 * pool-backed table, and the automatic threshold: default until the
 * throughput curve has been seen, then the estimated knee.
 */
#include <errno.h>
#include <math.h>

#include "qos/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define T0 1700000000000ll

static void test_config_and_arguments(void)
{
	struct qos_controller_config cfg;
	qos_controller_config_default(&cfg);
	CHECK_EQ(cfg.period_ms, 500);
	CHECK(cfg.period_ms <= 1000);
	CHECK(cfg.parda.law == QOS_PARDA_TARGET);
	struct qos_table *t;
	REQUIRE(qos_table_create_memory(&t) == 0);
	struct qos_controller *c;
	struct qos_controller_config bad = cfg;
	bad.parda.window_min = 0;
	CHECK_EQ(qos_controller_create(&bad, t, &c), -EINVAL);
	bad = cfg;
	bad.parda.gamma = 1.5;
	CHECK_EQ(qos_controller_create(&bad, t, &c), -EINVAL);
	bad = cfg;
	bad.period_ms = 0;
	CHECK_EQ(qos_controller_create(&bad, t, &c), -EINVAL);
	CHECK_EQ(qos_controller_create(&cfg, NULL, &c), -EINVAL);
	cfg.threshold_us = 5000;
	REQUIRE(qos_controller_create(&cfg, t, &c) == 0);
	CHECK_EQ(qos_controller_set_host(c, "", 1000), -EINVAL);
	CHECK_EQ(qos_controller_set_host(c, "h", 0), -EINVAL);
	char longname[QOS_HOST_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(qos_controller_set_host(c, longname, 1), -EINVAL);
	uint32_t w;
	CHECK_EQ(qos_controller_window(c, "nobody", &w), -ENOENT);
	CHECK_EQ(qos_controller_observe(c, "nobody", 1, 4096, 1000), -ENOENT);
	CHECK_EQ(qos_controller_remove_host(c, "nobody"), -ENOENT);
	CHECK_EQ(qos_controller_tick(c, T0), 0);
	CHECK_EQ(qos_controller_tick(c, T0), -EAGAIN);
	CHECK_EQ(qos_controller_tick(c, T0 - 1), -EAGAIN);
	/* VMs */
	struct qos_mclock_policy p = { .reservation_iops = 100, .limit_iops = 50, .shares = 1 };
	CHECK_EQ(qos_controller_set_vm(c, 1, &p), -EINVAL);
	p.limit_iops = 500;
	CHECK_EQ(qos_controller_set_vm(c, 1, &p), 0);
	p.shares = 0;
	CHECK_EQ(qos_controller_set_vm(c, 2, &p), 0);
	struct qos_mclock_policy got;
	CHECK_EQ(qos_controller_vm_policy(c, 2, &got), 0);
	CHECK_EQ(got.shares, 1);
	CHECK_EQ(qos_controller_remove_vm(c, 2), 0);
	CHECK_EQ(qos_controller_vm_policy(c, 2, &got), -ENOENT);
	struct qos_readout r;
	REQUIRE(qos_controller_readout(c, &r) == 0);
	CHECK_EQ(r.nvms, 1);
	CHECK(r.vms[0].vm == 1 && r.vms[0].policy.limit_iops == 500);
	CHECK(r.threshold_source == QOS_THRESHOLD_POLICY && r.threshold_us == 5000);
	qos_readout_free(&r);
	CHECK(qos_controller_io_cost(c, 65536) == 1.0); /* nothing learned yet */
	qos_controller_destroy(c);
	qos_table_destroy(t);
}

/* One host, fed from stream counters; the read-out and the table entry. */
static void test_period_and_readout(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	struct qos_table *t;
	REQUIRE(qos_table_create_pool(tp.cs, &t) == 0);
	struct qos_controller_config cfg;
	qos_controller_config_default(&cfg);
	cfg.threshold_us = 5000;
	struct qos_controller *c;
	REQUIRE(qos_controller_create(&cfg, t, &c) == 0);
	REQUIRE(qos_controller_set_host(c, "iqn.2026-01.test:esx1", 2000) == 0);
	uint32_t w;
	REQUIRE(qos_controller_window(c, "iqn.2026-01.test:esx1", &w) == 0);
	CHECK_EQ(w, 1); /* window_initial */
	REQUIRE(qos_controller_tick(c, T0) == 0);
	/* 1000 reads and 1000 writes of 8 KiB at 2.5 ms in 500 ms: 10
	 * reference IOs in flight, half of L: the window grows */
	struct qos_stream_counts before = { 0 }, after = {
		.read_ios = 1000, .write_ios = 1000, .read_bytes = 8192000, .write_bytes = 8192000,
		.latency_sum_ns = 2000ull * 2500000,
	};
	REQUIRE(qos_controller_observe_counts(c, "iqn.2026-01.test:esx1", &before, &after) == 0);
	REQUIRE(qos_controller_tick(c, T0 + 500) == 0);
	struct qos_readout r;
	REQUIRE(qos_controller_readout(c, &r) == 0);
	REQUIRE(r.nhosts == 1);
	CHECK(r.time_ms == T0 + 500);
	CHECK(fabs(r.hosts[0].raw_latency_us - 2500) < 1e-6);
	CHECK(fabs(r.hosts[0].latency_us - 2500) < 1e-6); /* reference size: no change */
	CHECK(fabs(r.hosts[0].iops - 4000) < 1e-6);
	CHECK(fabs(r.hosts[0].outstanding - 10) < 1e-6);
	CHECK(fabs(r.cluster_latency_us - 2500) < 1e-6);
	CHECK_EQ(r.table_hosts, 1);
	CHECK_EQ(r.hosts[0].shares, 2000);
	/* the host used more than its window of 1: it is window-limited and
	 * its part of twice the in-flight total is all of it (gain 0.6) */
	CHECK(fabs(r.hosts[0].window - (1 + 0.6 * (20 - 1))) < 1e-6);
	CHECK_EQ(r.hosts[0].window_ios, (uint32_t)round(1 + 0.6 * 19));
	qos_readout_free(&r);
	/* the entry is in the pool for other processes */
	struct qos_table_entry *e;
	size_t n;
	REQUIRE(qos_table_read(t, T0 + 500, 1000, &e, &n) == 0);
	REQUIRE(n == 1);
	CHECK(!strcmp(e[0].node, "slated") && e[0].ios == 2000 && e[0].shares == 2000);
	CHECK(e[0].window == 1 && e[0].window_held == 1); /* the period's, not the next */
	free(e);
	REQUIRE(qos_controller_remove_host(c, "iqn.2026-01.test:esx1") == 0);
	REQUIRE(qos_table_read(t, T0 + 500, 1000, &e, &n) == 0);
	CHECK_EQ(n, 0);
	free(e);
	qos_controller_destroy(c);
	qos_table_destroy(t);
	test_pool_destroy(&tp);
}

/* Automatic threshold: a device whose throughput is C N / (S (N + C - 1))
 * with N in flight (8 disks, S = 578 us); the load sweeps N up and down
 * over 1..256.  Default (30 ms) until the curve has flattened, then the
 * knee: 90% of the peak seen. */
static void test_automatic_threshold(void)
{
	struct qos_table *t;
	REQUIRE(qos_table_create_memory(&t) == 0);
	struct qos_controller_config cfg;
	qos_controller_config_default(&cfg);
	struct qos_controller *c;
	REQUIRE(qos_controller_create(&cfg, t, &c) == 0);
	REQUIRE(qos_controller_set_host(c, "h", 1000) == 0);
	const double C = 8, S_US = 578;
	int64_t now = T0;
	REQUIRE(qos_controller_tick(c, now) == 0);
	struct qos_readout r;
	REQUIRE(qos_controller_readout(c, &r) == 0);
	CHECK(r.threshold_source == QOS_THRESHOLD_DEFAULT && r.threshold_us == 30000);
	qos_readout_free(&r);
	bool early = false;
	double n_max = 256;
	for (int k = 0; k < 3; k++)
		for (double n = 1; n <= n_max; n *= 1.19) {
			double x = C * n / (S_US * 1e-6 * (n + C - 1)); /* IO/s */
			double lat_us = n / x * 1e6;
			uint64_t ios = (uint64_t)(x * 0.5);
			qos_controller_observe(c, "h", ios, ios * 8192, (uint64_t)(ios * lat_us * 1000));
			now += 500;
			REQUIRE(qos_controller_tick(c, now) == 0);
			REQUIRE(qos_controller_readout(c, &r) == 0);
			if (k == 0 && n < 64 && r.threshold_source != QOS_THRESHOLD_DEFAULT)
				early = true;
			qos_readout_free(&r);
		}
	REQUIRE(qos_controller_readout(c, &r) == 0);
	/* the curve's own knee against the peak seen (at n_max) */
	double peak = C * n_max / (S_US * 1e-6 * (n_max + C - 1));
	double n_knee = 0.9 * peak * S_US * 1e-6 * (C - 1) / (C - 0.9 * peak * S_US * 1e-6);
	double knee_us = S_US * (n_knee + C - 1) / C;
	printf("  automatic threshold %.0f us (knee %.0f us), peak %.0f IO/s (%.0f)\n", r.threshold_us,
	       knee_us, r.peak_iops, peak);
	CHECK(!early);
	CHECK(r.threshold_source == QOS_THRESHOLD_AUTOMATIC);
	CHECK(fabs(r.threshold_us / knee_us - 1) < 0.05);
	qos_readout_free(&r);
	/* a policy value wins at once; 0 goes back to automatic */
	qos_controller_set_threshold(c, 7000);
	REQUIRE(qos_controller_readout(c, &r) == 0);
	CHECK(r.threshold_source == QOS_THRESHOLD_POLICY && r.threshold_us == 7000);
	qos_readout_free(&r);
	qos_controller_set_threshold(c, 0);
	now += 500;
	REQUIRE(qos_controller_tick(c, now) == 0);
	REQUIRE(qos_controller_readout(c, &r) == 0);
	CHECK(r.threshold_source == QOS_THRESHOLD_AUTOMATIC);
	qos_readout_free(&r);
	qos_controller_destroy(c);
	qos_table_destroy(t);
}

static const struct harness_test tests[] = {
	{ "config_and_arguments", test_config_and_arguments },
	{ "period_and_readout", test_period_and_readout },
	{ "automatic_threshold", test_automatic_threshold },
};

HARNESS_MAIN(tests)
