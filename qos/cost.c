/*
 * cost.c - the pool's IO cost model, cost(size) = a + b * size, learned
 * online from each period's (stream, IOs, bytes, latency) observations:
 * b by decayed least squares on deviations from the period's means, a as
 * the floor of (latency - b * size).  The reasoning (and why latency is
 * normalized by subtraction, not division) is in qos.h.
 *
 * Not thread-safe: the controller calls it under its mutex.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

#define OBS_INITIAL 16u
/* Slope known once the decayed spread of sizes is worth this many IOs
 * 1 KiB away from their period's mean. */
#define SLOPE_MIN_SXX (16.0 * 1024.0 * 1024.0)

/* Size class of a floor: log2 of the mean size, 512 B .. 16 MiB. */
static int size_class(double bytes)
{
	int k = bytes >= 1 ? (int)log2(bytes) - 9 : 0;
	return k < 0 ? 0 : k >= COST_CLASSES ? COST_CLASSES - 1 : k;
}

int qos_cost_create(uint32_t ref_bytes, double decay, struct qos_cost **out)
{
	if (!out || !(decay > 0 && decay <= 1))
		return -EINVAL;
	struct qos_cost *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ref_bytes = ref_bytes ? ref_bytes : QOS_REF_IO_BYTES;
	m->decay = decay;
	*out = m;
	return 0;
}

void qos_cost_destroy(struct qos_cost *m)
{
	if (!m)
		return;
	free(m->obs);
	free(m);
}

void qos_cost_observe(struct qos_cost *m, uint64_t ios, uint64_t bytes, uint64_t latency_sum_ns)
{
	if (!ios)
		return;
	if (m->nobs == m->obs_cap) {
		size_t cap = m->obs_cap ? m->obs_cap * 2 : OBS_INITIAL;
		struct cost_obs *obs = realloc(m->obs, cap * sizeof(*obs));
		if (!obs)
			return; /* the model learns from the others */
		m->obs = obs;
		m->obs_cap = cap;
	}
	struct cost_obs *o = &m->obs[m->nobs++];
	o->ios = (double)ios;
	o->mean_bytes = (double)bytes / (double)ios;
	o->latency_us = (double)latency_sum_ns / (double)ios / 1000.0;
}

void qos_cost_end_period(struct qos_cost *m)
{
	size_t n = m->nobs;
	m->nobs = 0;
	if (m->pinned || n == 0)
		return;
	m->periods++;
	/* slope: deviations from this period's IO-weighted means */
	double w = 0, sbar = 0, lbar = 0;
	for (size_t i = 0; i < n; i++) {
		w += m->obs[i].ios;
		sbar += m->obs[i].ios * m->obs[i].mean_bytes;
		lbar += m->obs[i].ios * m->obs[i].latency_us;
	}
	sbar /= w;
	lbar /= w;
	m->sxx *= m->decay;
	m->sxy *= m->decay;
	for (size_t i = 0; i < n; i++) {
		double ds = m->obs[i].mean_bytes - sbar;
		m->sxx += m->obs[i].ios * ds * ds;
		m->sxy += m->obs[i].ios * ds * (m->obs[i].latency_us - lbar);
	}
	if (m->sxx >= SLOPE_MIN_SXX) {
		double b = m->sxy / m->sxx;
		m->slope_us_per_byte = b > 0 ? b : 0; /* a larger IO never costs less */
		m->slope_known = true;
	}
	/* floor: per size class, the fastest period of two blocks of
	 * QOS_COST_FLOOR_PERIODS, kept as (latency, size) so that a is
	 * re-derived with the slope as it is now */
	for (size_t i = 0; i < n; i++) {
		if (m->obs[i].ios < QOS_COST_MIN_IOS)
			continue;
		struct cost_floor *f = &m->floor[0][size_class(m->obs[i].mean_bytes)];
		if (!f->set || m->obs[i].latency_us < f->latency_us) {
			f->set = true;
			f->latency_us = m->obs[i].latency_us;
			f->mean_bytes = m->obs[i].mean_bytes;
		}
	}
	if (++m->floor_age >= QOS_COST_FLOOR_PERIODS) {
		memcpy(m->floor[1], m->floor[0], sizeof(m->floor[1]));
		memset(m->floor[0], 0, sizeof(m->floor[0]));
		m->floor_age = 0;
	}
	double fixed = INFINITY;
	for (int b = 0; b < 2; b++)
		for (int k = 0; k < COST_CLASSES; k++)
			if (m->floor[b][k].set)
				fixed = fmin(fixed, m->floor[b][k].latency_us -
						    m->slope_us_per_byte * m->floor[b][k].mean_bytes);
	if (isfinite(fixed) && fixed > 0)
		m->fixed_us = fixed;
}

void qos_cost_pin(struct qos_cost *m, double fixed_us, double us_per_kib)
{
	if (fixed_us < 0) {
		m->pinned = false;
		return;
	}
	m->pinned = true;
	m->fixed_us = fixed_us;
	m->slope_us_per_byte = us_per_kib > 0 ? us_per_kib / 1024.0 : 0;
	m->slope_known = true;
	m->nobs = 0;
}

void qos_cost_params(const struct qos_cost *m, struct qos_cost_params *out)
{
	memset(out, 0, sizeof(*out));
	out->ref_bytes = m->ref_bytes;
	out->fixed_us = m->fixed_us;
	out->us_per_kib = m->slope_us_per_byte * 1024.0;
	out->fixed_known = m->fixed_us > 0;
	out->slope_known = m->slope_known;
	out->pinned = m->pinned;
	out->periods = m->periods;
}

double qos_cost_normalize_us(const struct qos_cost *m, double latency_us, double mean_bytes)
{
	double norm = latency_us - m->slope_us_per_byte * (mean_bytes - (double)m->ref_bytes);
	return fmax(norm, 0.05 * latency_us);
}

double qos_cost_units(const struct qos_cost *m, double bytes)
{
	double ref = m->fixed_us + m->slope_us_per_byte * (double)m->ref_bytes;
	if (!(m->fixed_us > 0) || !(ref > 0))
		return 1.0;
	return (m->fixed_us + m->slope_us_per_byte * bytes) / ref;
}
