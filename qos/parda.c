/*
 * parda.c - a host's next window from the shared table: the paper's law
 * (QOS_PARDA_PLAIN) or the target law (QOS_PARDA_TARGET), both described
 * with their fixed points in qos.h.
 *
 * Invariant of the target law: every host computes the same total and the
 * same split from the same table, so the windows add up to the total that
 * Little's law says gives latency L; a host only ever decides its own.  So
 * the law keeps nothing between periods but each host's window: what it
 * needs to know about a host is in the host's entry (a correction kept by
 * each controller would differ between processes started at different
 * times, and so would their totals).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

#define DEMAND_LIMITED 0.8  /* using less than this of its window */
#define DEMAND_HEADROOM 1.5 /* 1 / 1.5 < 0.8: a host so sized stays demand-limited */

void qos_parda_config_default(struct qos_parda_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->law = QOS_PARDA_TARGET;
	cfg->gamma = 0.2;
	cfg->beta_per_share = 0.001;
	cfg->gain = 0.6;
	cfg->step_max = 2.0;
	cfg->window_min = 1;
	cfg->window_max = 256;
	cfg->window_initial = 1;
}

static double clamp(const struct qos_parda_config *cfg, double w)
{
	if (!(w >= cfg->window_min)) /* also NaN */
		return cfg->window_min;
	return w > cfg->window_max ? cfg->window_max : w;
}

static bool same_host(const struct qos_table_entry *a, const struct qos_table_entry *b)
{
	return !strcmp(a->node, b->node) && !strcmp(a->host, b->host);
}

struct part {
	double shares, cap; /* cap: INFINITY when window-limited */
	bool fixed;
};

/* Weighted max-min split of total among parts; the amount of part 0. */
static double split(struct part *parts, size_t n, double total)
{
	double left = total, shares = 0;
	for (size_t i = 0; i < n; i++)
		shares += parts[i].shares;
	for (bool changed = true; changed && shares > 0;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (parts[i].fixed || !(parts[i].cap < left * parts[i].shares / shares))
				continue;
			parts[i].fixed = true;
			left -= parts[i].cap;
			shares -= parts[i].shares;
			changed = true;
		}
	}
	if (parts[0].fixed)
		return parts[0].cap;
	return shares > 0 ? fmax(left, 0) * parts[0].shares / shares : 0;
}

static bool demand_limited(const struct qos_table_entry *e)
{
	return e->ios && e->outstanding < DEMAND_LIMITED * e->window;
}

static struct part part_of(const struct qos_table_entry *e)
{
	struct part p = { .shares = e->shares ? e->shares : 1, .cap = INFINITY };
	if (demand_limited(e))
		p.cap = DEMAND_HEADROOM * e->outstanding;
	return p;
}

/* Host e's part of the reference IOs in flight that the total scales: the
 * window it was held to, if that held it, since a freed slot idles for the
 * client's round trip and what is in flight falls short of the window by
 * that (or what it had in flight, if more: its window has just shrunk). */
static double in_flight_of(const struct qos_table_entry *e)
{
	if (demand_limited(e))
		return e->outstanding;
	return e->outstanding > e->window_held ? e->outstanding : e->window_held;
}

static double target_law(const struct qos_parda_config *cfg, double threshold_us,
			 double lbar_us, const struct qos_table_entry *self,
			 const struct qos_table_entry *entries, size_t count)
{
	struct part stack[32], *parts = count + 1 <= 32 ? stack : malloc((count + 1) * sizeof(*parts));
	if (!parts)
		return self->window; /* no memory: hold */
	double factor = threshold_us / lbar_us;
	if (factor > cfg->step_max)
		factor = cfg->step_max;
	if (factor < 1 / cfg->step_max)
		factor = 1 / cfg->step_max;
	double in_flight = 0;
	size_t n = 0;
	parts[n++] = part_of(self);
	if (self->ios)
		in_flight += in_flight_of(self);
	for (size_t i = 0; i < count; i++) {
		if (!entries[i].ios || same_host(&entries[i], self))
			continue;
		in_flight += in_flight_of(&entries[i]);
		parts[n++] = part_of(&entries[i]);
	}
	double target = split(parts, n, in_flight * factor);
	if (parts != stack)
		free(parts);
	return self->window + cfg->gain * (target - self->window);
}

double qos_parda_next_window(const struct qos_parda_config *cfg, double threshold_us,
			     double lbar_us, const struct qos_table_entry *self,
			     const struct qos_table_entry *entries, size_t count)
{
	double w = self->window;
	if (!(lbar_us > 0) || !(threshold_us > 0))
		return clamp(cfg, w);
	if (cfg->law == QOS_PARDA_PLAIN) {
		double beta = cfg->beta_per_share * (self->shares ? self->shares : 1);
		w = (1 - cfg->gamma) * w + cfg->gamma * (threshold_us / lbar_us * w + beta);
		return clamp(cfg, w);
	}
	return clamp(cfg, target_law(cfg, threshold_us, lbar_us, self, entries, count));
}
