/*
 * loadmodel.c - a pool's device model: latency as a line in the IOs in
 * flight, latency_us = a + b * (oio - 1), fitted online from one sample
 * per QoS period (BASIL's device model, learned as Pesto does).  Why a
 * line, and the bins, weights and constants, are in qos.h.
 *
 * Bins are indexed as threshold.c's (4 per octave) but start at 1 IO in
 * flight: samples below are idle and never reach a bin.  The age of a bin
 * counts samples taken, not time, so an idle night ages nothing.
 */
#include <math.h>
#include <string.h>

#include "qos/qos.h"

#define BINS_PER_OCTAVE 4

/* A bin's mean and weight, for the fit. */
struct point {
	double weight, oio, latency_us, samples;
};

static unsigned bin_index(double oio)
{
	double b = floor(BINS_PER_OCTAVE * log2(oio));
	return b >= QOS_LOAD_BINS ? QOS_LOAD_BINS - 1 : (unsigned)b;
}

static uint64_t bin_age(const struct qos_load_model *m, const struct qos_load_bin *bin)
{
	return m->samples_taken - bin->last_seen;
}

/* Its samples, halved every half-life since it was last seen, down to
 * the stale weight. */
static double bin_weight(const struct qos_load_model *m, const struct qos_load_bin *bin)
{
	double halvings = (double)bin_age(m, bin) / QOS_LOAD_HALF_LIFE_SAMPLES;
	return fmax(bin->samples * exp2(-halvings), QOS_LOAD_STALE_WEIGHT);
}

static bool bin_present(const struct qos_load_model *m, const struct qos_load_bin *bin)
{
	return bin->samples > 0 && bin_age(m, bin) <= QOS_LOAD_FORGET_SAMPLES;
}

void qos_load_model_init(struct qos_load_model *m)
{
	memset(m, 0, sizeof(*m));
}

void qos_load_model_add(struct qos_load_model *m, double oio, double latency_us)
{
	if (!(oio >= QOS_LOAD_MIN_OIO) || !isfinite(oio) || !(latency_us > 0) ||
	    !isfinite(latency_us))
		return;
	struct qos_load_bin *bin = &m->bins[bin_index(oio)];
	double weight = bin_present(m, bin) ? bin_weight(m, bin) : 0;
	bin->samples = fmin(weight + 1, QOS_LOAD_BIN_SAMPLES);
	double gain = 1 / bin->samples; /* the new sample's weight in the mean */
	bin->oio += gain * (oio - bin->oio);
	bin->latency_us += gain * (latency_us - bin->latency_us);
	m->samples_taken++;
	bin->last_seen = m->samples_taken;
}

/* The bins in the fit into points[QOS_LOAD_BINS]; how many. */
static size_t model_points(const struct qos_load_model *m, struct point *points)
{
	size_t n = 0;
	for (unsigned i = 0; i < QOS_LOAD_BINS; i++) {
		const struct qos_load_bin *bin = &m->bins[i];
		if (!bin_present(m, bin))
			continue;
		points[n++] = (struct point){ .weight = bin_weight(m, bin), .oio = bin->oio,
					      .latency_us = bin->latency_us,
					      .samples = bin->samples };
	}
	return n;
}

/* Weighted least squares of latency on (oio - 1); the slope kept >= 0. */
static void fit_line(const struct point *p, size_t n, struct qos_load_fit *out)
{
	double sw = 0, sx = 0, sy = 0;
	for (size_t i = 0; i < n; i++) {
		sw += p[i].weight;
		sx += p[i].weight * (p[i].oio - 1);
		sy += p[i].weight * p[i].latency_us;
	}
	double xbar = sx / sw, ybar = sy / sw, sxx = 0, sxy = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		double dx = p[i].oio - 1 - xbar, dy = p[i].latency_us - ybar;
		sxx += p[i].weight * dx * dx;
		sxy += p[i].weight * dx * dy;
		syy += p[i].weight * dy * dy;
	}
	double b = sxy > 0 ? sxy / sxx : 0;
	double residual = syy - 2 * b * sxy + b * b * sxx;
	out->fitted = true;
	out->us_per_io = b;
	out->unloaded_us = ybar - b * xbar;
	out->r2 = syy > 0 ? 1 - residual / syy : 1;
}

void qos_load_model_fit(const struct qos_load_model *m, struct qos_load_fit *out)
{
	struct point points[QOS_LOAD_BINS];
	size_t n = model_points(m, points);
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return;
	out->oio_min = INFINITY;
	for (size_t i = 0; i < n; i++) {
		out->samples += points[i].samples;
		out->oio_min = fmin(out->oio_min, points[i].oio);
		out->oio_max = fmax(out->oio_max, points[i].oio);
	}
	if (out->oio_max < QOS_LOAD_MIN_SPREAD * out->oio_min ||
	    out->samples < QOS_LOAD_MIN_SAMPLES)
		return;
	fit_line(points, n, out);
}

double qos_load_fit_predict(const struct qos_load_fit *f, double oio)
{
	if (!f->fitted)
		return NAN;
	return f->unloaded_us + f->us_per_io * (fmax(oio, 1) - 1);
}
