/*
 * anomaly.c - detecting a workload PARDA does not control: latency above
 * the threshold for several periods in a row although every managed host
 * is throttled or lightly loaded (the rule and its figures are in qos.h).
 *
 * Reads only the shared table, so every controller on the pool reaches the
 * same verdict from the same numbers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

struct qos_anomaly {
	struct qos_anomaly_config cfg;
	struct qos_anomaly_state st;
	int64_t streak_start_ms;
};

void qos_anomaly_config_default(struct qos_anomaly_config *cfg)
{
	cfg->periods = 3;
	cfg->tolerance = 0.1;
	cfg->throttle_factor = 1.5;
	cfg->light_fraction = 0.5;
}

int qos_anomaly_create(const struct qos_anomaly_config *cfg, struct qos_anomaly **out)
{
	if (!cfg || !out || !cfg->periods || cfg->tolerance < 0)
		return -EINVAL;
	struct qos_anomaly *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	*out = a;
	return 0;
}

void qos_anomaly_destroy(struct qos_anomaly *a)
{
	free(a);
}

/* Latency above L and no managed host able to be the cause. */
static bool condition(const struct qos_anomaly *a, double threshold_us, double lbar_us,
		      double window_min, const struct qos_table_entry *entries, size_t count)
{
	if (!(threshold_us > 0) || !(lbar_us > (1 + a->cfg.tolerance) * threshold_us))
		return false;
	size_t active = 0;
	for (size_t i = 0; i < count; i++) {
		const struct qos_table_entry *e = &entries[i];
		if (!e->ios)
			continue;
		active++;
		bool throttled = e->window <= a->cfg.throttle_factor * window_min;
		bool light = e->outstanding <= a->cfg.light_fraction * e->window;
		if (!throttled && !light)
			return false;
	}
	return active > 0;
}

enum qos_anomaly_change qos_anomaly_update(struct qos_anomaly *a, int64_t now_ms,
					   double threshold_us, double lbar_us,
					   double window_min,
					   const struct qos_table_entry *entries, size_t count)
{
	bool cond = condition(a, threshold_us, lbar_us, window_min, entries, count);
	struct qos_anomaly_state *st = &a->st;
	if (!st->active) {
		if (!cond) {
			st->streak = 0;
			return QOS_ANOMALY_NONE;
		}
		if (st->streak++ == 0)
			a->streak_start_ms = now_ms;
		if (st->streak < a->cfg.periods)
			return QOS_ANOMALY_NONE;
		st->active = true;
		st->since_ms = a->streak_start_ms;
		st->detected_ms = now_ms;
		st->ended_ms = 0;
		st->events++;
		st->streak = 0;
		return QOS_ANOMALY_STARTED;
	}
	if (cond) {
		st->streak = 0;
		return QOS_ANOMALY_NONE;
	}
	if (++st->streak < a->cfg.periods)
		return QOS_ANOMALY_NONE;
	st->active = false;
	st->ended_ms = now_ms;
	st->streak = 0;
	return QOS_ANOMALY_ENDED;
}

void qos_anomaly_get(const struct qos_anomaly *a, struct qos_anomaly_state *out)
{
	*out = a->st;
}
