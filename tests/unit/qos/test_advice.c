/*
 * test_advice.c - the per-pool load model and the migration advice.
 *
 * Model: the line recovered, under noise, from a device whose latency is
 * known in closed form (C channels of service S, random routing,
 * exponential service: S + S/C (oio - 1), see qos.h); no fit without
 * spread; idle samples change nothing; a changed device is followed over
 * the range the load visits; a long steady load keeps the slope.
 */
#include <errno.h>
#include <math.h>

#include "qos/qos.h"
#include "tests/harness.h"
#include "tests/unit/qos/sim.h"

struct device {
	double service_us;
	unsigned channels;
};

static const struct device SLOW = { 2000, 4 };  /* a = 2000, b = 500 */
static const struct device FAST = { 500, 16 };  /* a = 500, b = 31.25 */

static double device_latency_us(const struct device *d, double oio)
{
	return d->service_us * (1 + (oio - 1) / d->channels);
}

static bool within(double got, double want, double tolerance)
{
	return fabs(got / want - 1) <= tolerance;
}

/* ---- the model ------------------------------------------------------------ */

static struct sim noise_source = { .rng = 42 }; /* only its generator */

/* n samples of d, IOs in flight spread evenly in log over [lo, hi],
 * latency with +-20% noise. */
static void feed(struct qos_load_model *m, const struct device *d, double lo, double hi,
		 unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		double oio = lo * pow(hi / lo, sim_uniform(&noise_source));
		double noise = 1 + 0.2 * (2 * sim_uniform(&noise_source) - 1);
		qos_load_model_add(m, oio, device_latency_us(d, oio) * noise);
	}
}

static void check_fit_is(const struct qos_load_model *m, const struct device *d)
{
	struct qos_load_fit f;
	qos_load_model_fit(m, &f);
	printf("  a %.0f us (want %.0f), b %.1f us/IO (want %.1f), r2 %.3f, %.0f samples "
	       "over %.1f..%.1f IOs\n", f.unloaded_us, d->service_us, f.us_per_io,
	       d->service_us / d->channels, f.r2, f.samples, f.oio_min, f.oio_max);
	CHECK(f.fitted);
	CHECK(within(f.unloaded_us, d->service_us, 0.10));
	CHECK(within(f.us_per_io, d->service_us / d->channels, 0.10));
}

static void test_fit_recovers_a_device(void)
{
	const struct device *devices[] = { &SLOW, &FAST };
	for (size_t i = 0; i < 2; i++) {
		struct qos_load_model m;
		qos_load_model_init(&m);
		feed(&m, devices[i], 1, 64, 2000);
		check_fit_is(&m, devices[i]);
		struct qos_load_fit f;
		qos_load_model_fit(&m, &f);
		CHECK(f.r2 > 0.8);
		CHECK(within(qos_load_fit_predict(&f, 32), device_latency_us(devices[i], 32), 0.10));
		/* an IO sees at least itself in flight */
		CHECK(qos_load_fit_predict(&f, 0.2) == f.unloaded_us);
	}
}

static void test_no_fit_without_spread(void)
{
	struct qos_load_model m;
	struct qos_load_fit f;
	qos_load_model_init(&m);
	qos_load_model_fit(&m, &f);
	CHECK(!f.fitted && f.samples == 0 && f.oio_max == 0);
	CHECK(isnan(qos_load_fit_predict(&f, 8)));
	feed(&m, &SLOW, 8, 9, 100); /* one bin, its mean about 8.5 */
	qos_load_model_fit(&m, &f);
	CHECK(!f.fitted);
	CHECK(f.samples == QOS_LOAD_BIN_SAMPLES);
	feed(&m, &SLOW, 12, 12, 20); /* a factor 1.4 */
	qos_load_model_fit(&m, &f);
	CHECK(!f.fitted);
	feed(&m, &SLOW, 18, 18, 20);
	qos_load_model_fit(&m, &f);
	CHECK(f.fitted);
	/* spread, but too few samples */
	qos_load_model_init(&m);
	feed(&m, &SLOW, 2, 2, 3);
	feed(&m, &SLOW, 8, 8, 4);
	qos_load_model_fit(&m, &f);
	CHECK(!f.fitted);
	feed(&m, &SLOW, 8, 8, 1);
	qos_load_model_fit(&m, &f);
	CHECK(f.fitted);
}

/* Samples of idle periods, and garbage. */
static void feed_idle(struct qos_load_model *m)
{
	static const double samples[][2] = {
		{ 0, 0 }, { 0.5, 3000 }, { 0.99, 1e6 }, { NAN, 100 }, { 10, NAN },
		{ INFINITY, 5 }, { -3, 100 }, { 4, 0 }, { 4, -1 }, { 4, INFINITY },
	};
	for (int k = 0; k < 1000; k++)
		for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
			qos_load_model_add(m, samples[i][0], samples[i][1]);
}

static void test_idle_samples_are_harmless(void)
{
	struct qos_load_model m;
	struct qos_load_fit before, after;
	qos_load_model_init(&m);
	feed_idle(&m);
	qos_load_model_fit(&m, &after);
	CHECK(!after.fitted && after.samples == 0); /* never loaded: unknown */
	feed(&m, &SLOW, 1, 64, 500);
	qos_load_model_fit(&m, &before);
	uint64_t taken = m.samples_taken;
	feed_idle(&m);
	qos_load_model_fit(&m, &after);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_EQ(m.samples_taken, taken);
}

static void test_follows_a_changed_device(void)
{
	static const struct device DEGRADED = { 3000, 3 }; /* a = 3000, b = 1000 */
	struct qos_load_model m;
	qos_load_model_init(&m);
	feed(&m, &SLOW, 1, 64, 3000);
	check_fit_is(&m, &SLOW);
	feed(&m, &DEGRADED, 1, 64, 1000);
	check_fit_is(&m, &DEGRADED);
	/* seen over part of the range only: the bins left behind fade */
	qos_load_model_init(&m);
	feed(&m, &SLOW, 1, 64, 3000);
	feed(&m, &DEGRADED, 2, 32, 5000);
	check_fit_is(&m, &DEGRADED);
}

static void test_steady_load_keeps_the_slope(void)
{
	struct qos_load_model m;
	qos_load_model_init(&m);
	feed(&m, &SLOW, 1, 64, 3000);
	feed(&m, &SLOW, 7.5, 8.5, 57600); /* 8 hours of 500 ms periods at one load */
	check_fit_is(&m, &SLOW);
}

static const struct harness_test tests[] = {
	{ "fit_recovers_a_device", test_fit_recovers_a_device },
	{ "no_fit_without_spread", test_no_fit_without_spread },
	{ "idle_samples_are_harmless", test_idle_samples_are_harmless },
	{ "follows_a_changed_device", test_follows_a_changed_device },
	{ "steady_load_keeps_the_slope", test_steady_load_keeps_the_slope },
};

HARNESS_MAIN(tests)
