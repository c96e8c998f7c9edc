/*
 * test_cost.c - the cost model: the slope of latency on IO size learned
 * while the queueing delay changes every period, the fixed cost from the
 * fastest periods (re-derived as the slope improves, forgotten after two
 * blocks), normalization to the reference size, IO cost in reference
 * IOs, and pinning to a known device.
 */
#include <errno.h>
#include <math.h>

#include "qos/internal.h"
#include "tests/harness.h"

#define A_US 300.0
#define B_US_PER_KIB 4.0 /* 256 MiB/s */

static double service_us(double bytes)
{
	return A_US + B_US_PER_KIB * bytes / 1024;
}

/* One period: streams of sizes[] each with n IOs and queueing wait_us. */
static void period(struct qos_cost *m, const double *sizes, int nsizes, uint64_t n, double wait_us)
{
	for (int i = 0; i < nsizes; i++) {
		double lat_ns = (wait_us + service_us(sizes[i])) * 1000.0;
		qos_cost_observe(m, n, (uint64_t)(sizes[i] * n), (uint64_t)(lat_ns * n));
	}
	qos_cost_end_period(m);
}

static void test_nothing_learned_is_identity(void)
{
	struct qos_cost *m;
	REQUIRE(qos_cost_create(0, 0.98, &m) == 0);
	CHECK(qos_cost_units(m, 65536) == 1.0);
	CHECK(qos_cost_normalize_us(m, 1234, 65536) == 1234);
	/* one size only: no slope, but the floor is that size's latency */
	double sizes[] = { 65536 };
	for (int t = 0; t < 10; t++)
		period(m, sizes, 1, 100, 1000);
	struct qos_cost_params p;
	qos_cost_params(m, &p);
	CHECK(!p.slope_known);
	CHECK_EQ(p.ref_bytes, QOS_REF_IO_BYTES);
	CHECK(qos_cost_normalize_us(m, 1234, 65536) == 1234);
	CHECK_EQ(qos_cost_create(0, 0, &m), -EINVAL);
	CHECK_EQ(qos_cost_create(0, 1.5, &m), -EINVAL);
	qos_cost_destroy(m);
}

static void test_slope_despite_changing_queueing(void)
{
	struct qos_cost *m;
	REQUIRE(qos_cost_create(8192, 0.98, &m) == 0);
	double sizes[] = { 4096, 16384, 65536, 262144 };
	uint64_t seed = 7;
	for (int t = 0; t < 200; t++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		double wait = (double)(seed >> 40) / (double)(1u << 24) * 20000; /* 0..20 ms */
		period(m, sizes, 4, 500, wait);
	}
	struct qos_cost_params p;
	qos_cost_params(m, &p);
	CHECK(p.slope_known);
	CHECK(fabs(p.us_per_kib / B_US_PER_KIB - 1) < 0.001);
	/* never lightly loaded: the floor is too high by the smallest wait */
	CHECK(p.fixed_us > A_US);
	/* one light period: exact */
	period(m, sizes, 4, 500, 0);
	qos_cost_params(m, &p);
	CHECK(fabs(p.fixed_us - A_US) < 0.01);
	/* normalization swaps a stream's transfer time for a reference IO's */
	double lat = 7000 + service_us(65536);
	CHECK(fabs(qos_cost_normalize_us(m, lat, 65536) - (7000 + service_us(8192))) < 0.01);
	CHECK(fabs(qos_cost_units(m, 65536) - service_us(65536) / service_us(8192)) < 1e-6);
	CHECK(fabs(qos_cost_units(m, 8192) - 1) < 1e-9);
	/* never below 5% of the measured latency */
	CHECK(qos_cost_normalize_us(m, 10, 1 << 30) == 0.5);
	qos_cost_destroy(m);
}

/* The floor is kept per size class as (latency, size): a light period
 * seen before the slope was known still gives the right a. */
static void test_floor_rederived_with_slope(void)
{
	struct qos_cost *m;
	REQUIRE(qos_cost_create(0, 0.98, &m) == 0);
	double big[] = { 131072 }, both[] = { 4096, 131072 };
	period(m, big, 1, 100, 0); /* light, one size: a + b*128K taken as a */
	struct qos_cost_params p;
	qos_cost_params(m, &p);
	CHECK(fabs(p.fixed_us - service_us(131072)) < 0.01);
	for (int t = 0; t < 20; t++)
		period(m, both, 2, 100, 5000);
	qos_cost_params(m, &p);
	CHECK(fabs(p.fixed_us - A_US) < 0.01);
	/* too few IOs do not make a floor */
	struct qos_cost *m2;
	REQUIRE(qos_cost_create(0, 0.98, &m2) == 0);
	period(m2, both, 2, QOS_COST_MIN_IOS - 1, 0);
	qos_cost_params(m2, &p);
	CHECK(!p.fixed_known);
	qos_cost_destroy(m2);
	/* a floor not seen again is forgotten after two blocks */
	for (unsigned t = 0; t < 2 * QOS_COST_FLOOR_PERIODS; t++)
		period(m, both, 2, 100, 2000);
	qos_cost_params(m, &p);
	CHECK(fabs(p.fixed_us - (A_US + 2000)) < 0.01);
	qos_cost_destroy(m);
}

static void test_pin(void)
{
	struct qos_cost *m;
	REQUIRE(qos_cost_create(0, 0.98, &m) == 0);
	qos_cost_pin(m, 100, 10);
	double sizes[] = { 4096, 65536 };
	period(m, sizes, 2, 100, 0); /* ignored while pinned */
	struct qos_cost_params p;
	qos_cost_params(m, &p);
	CHECK(p.pinned);
	CHECK(p.fixed_us == 100);
	CHECK(fabs(p.us_per_kib - 10) < 1e-9);
	CHECK(fabs(qos_cost_units(m, 65536) - (100 + 640) / (100 + 80.0)) < 1e-9);
	qos_cost_pin(m, -1, 0);
	for (int t = 0; t < 5; t++)
		period(m, sizes, 2, 100, 0);
	qos_cost_params(m, &p);
	CHECK(!p.pinned);
	CHECK(fabs(p.us_per_kib - B_US_PER_KIB) < 1e-6);
	qos_cost_destroy(m);
}

static const struct harness_test tests[] = {
	{ "nothing_learned_is_identity", test_nothing_learned_is_identity },
	{ "slope_despite_changing_queueing", test_slope_despite_changing_queueing },
	{ "floor_rederived_with_slope", test_floor_rederived_with_slope },
	{ "pin", test_pin },
};

HARNESS_MAIN(tests)
