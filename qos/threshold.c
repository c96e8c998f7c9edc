/*
 * threshold.c - the latency threshold L derived from the pool's
 * throughput curve: the latency at which throughput first reaches a
 * fraction (0.9) of the peak seen, as vSphere SIOC sets it.  The bins and
 * the rule are in qos.h.
 *
 * Bins cover 1/4 .. 2^14 IOs in flight, 4 per octave; a bin's value is
 * the plain mean of its first 1/(1 - decay) observations, then an
 * exponentially weighted one.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "qos/internal.h"

#define BINS_PER_OCTAVE 4
#define BIN_OFFSET 8         /* bin 0 holds 2^-2 */
#define NBINS (BINS_PER_OCTAVE * 16 + BIN_OFFSET)
#define BIN_MIN_COUNT 2
#define FLAT_SPAN 2.0        /* seen at least this far past the knee ... */
#define FLAT_KEEP 0.95       /* ... still giving this much of the peak */

struct bin {
	double count, outstanding, iops, latency_us;
};

struct qos_threshold {
	double fraction, decay;
	struct bin bins[NBINS];
};

int qos_threshold_create(double fraction, double decay, struct qos_threshold **out)
{
	if (!out || !(fraction > 0 && fraction < 1) || !(decay >= 0 && decay < 1))
		return -EINVAL;
	struct qos_threshold *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fraction = fraction;
	t->decay = decay;
	*out = t;
	return 0;
}

void qos_threshold_destroy(struct qos_threshold *t)
{
	free(t);
}

void qos_threshold_observe(struct qos_threshold *t, double outstanding, double iops,
			   double latency_us)
{
	if (!(outstanding > 0) || !(iops > 0) || !(latency_us > 0))
		return;
	int b = (int)floor(BINS_PER_OCTAVE * log2(outstanding)) + BIN_OFFSET;
	if (b < 0)
		b = 0;
	if (b >= NBINS)
		b = NBINS - 1;
	struct bin *bin = &t->bins[b];
	double limit = 1 / (1 - t->decay);
	if (bin->count < limit)
		bin->count++;
	double w = 1 / bin->count; /* the new observation's weight */
	bin->outstanding += w * (outstanding - bin->outstanding);
	bin->iops += w * (iops - bin->iops);
	bin->latency_us += w * (latency_us - bin->latency_us);
}

int qos_threshold_estimate(const struct qos_threshold *t, double *latency_us,
			   double *peak_iops, double *knee_outstanding)
{
	double peak = 0;
	int last = -1;
	for (int b = 0; b < NBINS; b++) {
		if (t->bins[b].count < BIN_MIN_COUNT)
			continue;
		peak = fmax(peak, t->bins[b].iops);
		last = b;
	}
	if (last < 0)
		return -EAGAIN;
	double want = t->fraction * peak;
	const struct bin *prev = NULL, *knee = NULL;
	for (int b = 0; b <= last && !knee; b++) {
		if (t->bins[b].count < BIN_MIN_COUNT)
			continue;
		if (t->bins[b].iops >= want)
			knee = &t->bins[b];
		else
			prev = &t->bins[b];
	}
	if (!prev) /* never seen below the knee: it is somewhere before */
		return -EAGAIN;
	double f = (want - prev->iops) / (knee->iops - prev->iops);
	double lat = prev->latency_us + f * (knee->latency_us - prev->latency_us);
	double out = prev->outstanding + f * (knee->outstanding - prev->outstanding);
	const struct bin *top = &t->bins[last];
	if (top->outstanding < FLAT_SPAN * out || top->iops < FLAT_KEEP * peak)
		return -EAGAIN; /* the curve may still be rising */
	*latency_us = lat;
	if (peak_iops)
		*peak_iops = peak;
	if (knee_outstanding)
		*knee_outstanding = out;
	return 0;
}
