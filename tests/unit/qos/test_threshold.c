/*
 * test_threshold.c - the automatic latency threshold: the latency at 90%
 * of peak throughput, found from one period's (IOs in flight, throughput,
 * latency) at a time while load ramps up on a simulated array whose
 * throughput curve bends smoothly (8 disks, each IO to a random one),
 * against the knee of the same device measured by long steady runs; and
 * the estimator's refusals (no curve seen past the knee, nothing below it).
 */
#include <errno.h>
#include <math.h>

#include "qos/internal.h"
#include "tests/harness.h"
#include "tests/unit/qos/sim.h"

static const struct sim_device_cfg DISKS = {
	.channels = 8, .fixed_us = 500, .mib_per_s = 100, .jitter = 0.25, .random_routing = true,
};

/* Steady throughput (IO/s) and latency (us) with n IOs in flight. */
static void steady(unsigned n, double *iops, double *lat_us)
{
	struct sim s;
	sim_init(&s, &DISKS, 500, 11 + n);
	struct sim_host_cfg h = { "load", 1, n, { { 8192, 1 } }, 0, 0, -1, 0 };
	sim_add_host(&s, &h);
	sim_run(&s, 6);
	struct sim_sums r = sim_sum(&s, 1, 6, false);
	*iops = r.ios[0] / 5;
	*lat_us = r.latency_ns / r.ios[0] / 1000;
	sim_free(&s);
}

static void test_knee_from_a_ramp(void)
{
	/* the reference: steady runs on a fine grid up to the ramp's top */
	static const unsigned grid[] = { 1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64,
					 72, 80, 96, 112, 128, 160, 192, 224, 256 };
	size_t ng = sizeof(grid) / sizeof(grid[0]);
	double x[32], l[32];
	for (size_t i = 0; i < ng; i++)
		steady(grid[i], &x[i], &l[i]);
	double peak = x[ng - 1], knee_lat = 0, knee_n = 0;
	for (size_t i = 1; i < ng; i++)
		if (x[i] >= 0.9 * peak) {
			double f = (0.9 * peak - x[i - 1]) / (x[i] - x[i - 1]);
			knee_lat = l[i - 1] + f * (l[i] - l[i - 1]);
			knee_n = grid[i - 1] + f * (grid[i] - grid[i - 1]);
			break;
		}
	/* the ramp: a host more every 2 s, 256 in flight at the end */
	struct sim s;
	sim_init(&s, &DISKS, 500, 5);
	static const unsigned qd[] = { 2, 1, 1, 2, 2, 3, 5, 6, 10, 13, 19, 26, 38, 52, 76 };
	for (size_t i = 0; i < sizeof(qd) / sizeof(qd[0]); i++) {
		struct sim_host_cfg h = { "load", 1, qd[i], { { 8192, 1 } }, 2.0 * i, 0, -1, 0 };
		sim_add_host(&s, &h);
	}
	sim_run(&s, 32);
	struct qos_threshold *t;
	REQUIRE(qos_threshold_create(0.9, 0.9, &t) == 0);
	double lat, got_peak, got_n;
	bool answered_early = false;
	for (size_t i = 0; i < s.nperiods; i++) {
		const struct sim_period *p = &s.periods[i];
		double ios = 0, lat_ns = 0;
		for (size_t h = 0; h < s.nhosts; h++) {
			ios += (double)p->h[h].ios;
			lat_ns += p->h[h].latency_ns;
		}
		if (!ios)
			continue;
		/* Little: IOs in flight = latency sum / period */
		qos_threshold_observe(t, lat_ns / 1e9 / 0.5, ios / 0.5, lat_ns / ios / 1000);
		if (p->t_s < 12 && qos_threshold_estimate(t, &lat, NULL, NULL) == 0)
			answered_early = true; /* before the curve flattened */
	}
	REQUIRE(qos_threshold_estimate(t, &lat, &got_peak, &got_n) == 0);
	printf("  knee by steady runs: %.0f us at %.1f in flight (peak %.0f IO/s); "
	       "from the ramp: %.0f us at %.1f (peak %.0f), error %.1f%%\n", knee_lat, knee_n, peak,
	       lat, got_n, got_peak, fabs(lat / knee_lat - 1) * 100);
	CHECK(!answered_early);
	CHECK(fabs(lat / knee_lat - 1) <= 0.10);
	CHECK(fabs(got_peak / peak - 1) <= 0.03);
	qos_threshold_destroy(t);
	sim_free(&s);
}

static void test_refusals(void)
{
	struct qos_threshold *t;
	double lat;
	REQUIRE(qos_threshold_create(0.9, 0.5, &t) == 0);
	CHECK_EQ(qos_threshold_estimate(t, &lat, NULL, NULL), -EAGAIN);
	/* throughput still rising at the top: no answer */
	for (int n = 1; n <= 64; n *= 2)
		for (int k = 0; k < 3; k++)
			qos_threshold_observe(t, n, 1000.0 * n, 100.0);
	CHECK_EQ(qos_threshold_estimate(t, &lat, NULL, NULL), -EAGAIN);
	/* flat from the start: nothing seen below the knee */
	struct qos_threshold *flat;
	REQUIRE(qos_threshold_create(0.9, 0.5, &flat) == 0);
	for (int n = 16; n <= 256; n *= 2)
		for (int k = 0; k < 3; k++)
			qos_threshold_observe(flat, n, 5000, n * 200.0);
	CHECK_EQ(qos_threshold_estimate(flat, &lat, NULL, NULL), -EAGAIN);
	qos_threshold_destroy(flat);
	/* a curve with a plain knee: 1000 IO/s per IO in flight up to 8, flat
	 * after; latency 1 ms then growing */
	struct qos_threshold *knee;
	REQUIRE(qos_threshold_create(0.9, 0.5, &knee) == 0);
	for (int n = 1; n <= 64; n *= 2)
		for (int k = 0; k < 3; k++)
			qos_threshold_observe(knee, n, 1000.0 * fmin(n, 8), n <= 8 ? 1000 : 125.0 * n);
	double peak, at;
	REQUIRE(qos_threshold_estimate(knee, &lat, &peak, &at) == 0);
	CHECK(fabs(peak - 8000) < 1e-6);
	CHECK(fabs(lat - 1000) < 1e-6); /* 7200 IO/s is reached between 4 and 8, at 1 ms */
	CHECK(fabs(at - 7.2) < 1e-6);
	CHECK_EQ(qos_threshold_create(1.5, 0.5, &knee), -EINVAL);
	qos_threshold_destroy(knee);
	qos_threshold_destroy(t);
}

static const struct harness_test tests[] = {
	{ "knee_from_a_ramp", test_knee_from_a_ramp },
	{ "refusals", test_refusals },
};

HARNESS_MAIN(tests)
