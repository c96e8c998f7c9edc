/*
 * pool_load.c - how loaded each pool is, and which volume to move where
 * (the "migration advice"): the QoS loop calls api_pool_load_step
 * every period, QoS on or off.
 *
 * Per period, from the volumes' IO counters (qos_stats_volumes) summed by
 * the pool that holds each volume: a pool's IOs in flight on average (by
 * Little's law, the latency summed over its IOs divided by the period) and
 * its average latency normalized to the reference IO size by the pool's
 * own cost model (qos_cost: a pool is its own device).  Those feed the
 * pool's load model (qos_load_model: latency as a line in IOs in flight).
 * Every ADVICE_PERIODS the advice is planned (qos_advice_plan) from the
 * fitted models, each volume's IOs in flight and used space and each
 * pool's free space; advice that appears or changes is an event
 * ("migration-advice").  Moves are never made by themselves: an operator
 * (or a script) runs POST /volumes/{name}/move.
 *
 * Threads: the QoS loop writes, the API's threads read; one mutex.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "qos/qos.h"

#define ADVICE_PERIODS 10  /* plan every so many periods */
#define ADVICE_MAX 4
#define COST_DECAY 0.98

struct pool_sample {
	double oio, latency_us;      /* last period (latency 0: no IO) */
	uint64_t ios;
};

struct api_pool_load {
	pthread_mutex_t lock;        /* guards everything below */
	struct qos_load_model models[MGMT_POOLS_MAX];
	struct qos_cost *costs[MGMT_POOLS_MAX];
	struct pool_sample last[MGMT_POOLS_MAX];
	struct qos_volume_counts *prev; /* last period's cumulative counters */
	size_t nprev;
	uint64_t prev_ns;
	unsigned periods;
	struct qos_advice_move advice[ADVICE_MAX];
	size_t nadvice;
	uint64_t advised_volume;     /* of the last advice event (0: none) */
	uint32_t advised_to;
};

int api_pool_load_create(struct api_pool_load **out)
{
	struct api_pool_load *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	pthread_mutex_init(&pl->lock, NULL);
	int rc = 0;
	for (unsigned i = 0; i < MGMT_POOLS_MAX; i++) {
		qos_load_model_init(&pl->models[i]);
		if (!rc)
			rc = qos_cost_create(0, COST_DECAY, &pl->costs[i]);
	}
	if (rc) {
		api_pool_load_destroy(pl);
		return rc;
	}
	*out = pl;
	return 0;
}

void api_pool_load_destroy(struct api_pool_load *pl)
{
	if (!pl)
		return;
	for (unsigned i = 0; i < MGMT_POOLS_MAX; i++)
		qos_cost_destroy(pl->costs[i]);
	free(pl->prev);
	pthread_mutex_destroy(&pl->lock);
	free(pl);
}

/* ---- one period ------------------------------------------------------------- */

static const struct qos_stream_counts *previous(const struct api_pool_load *pl, uint64_t id)
{
	for (size_t i = 0; i < pl->nprev; i++)
		if (pl->prev[i].volume_id == id)
			return &pl->prev[i].counts;
	return NULL;
}

/* What a volume did in the period, and the pool that holds it. */
struct vol_period {
	uint64_t id;
	unsigned pool;
	uint64_t ios, bytes, latency_ns;
};

/* The period's differences of the cumulative counters (allocated; NULL
 * when out of memory). */
static struct vol_period *periods_of(struct mgmt *m, const struct api_pool_load *pl,
				     const struct qos_volume_counts *vols, size_t n)
{
	struct vol_period *out = calloc(n ? n : 1, sizeof(*out));
	static const struct qos_stream_counts zero;
	for (size_t i = 0; out && i < n; i++) {
		const struct qos_stream_counts *c = &vols[i].counts;
		const struct qos_stream_counts *b = previous(pl, vols[i].volume_id) ?: &zero;
		out[i] = (struct vol_period){
			.id = vols[i].volume_id,
			.pool = (unsigned)(mgmt_pools_of_id(&m->pools, vols[i].volume_id) -
					   m->pools.pool),
			.ios = c->read_ios + c->write_ios - b->read_ios - b->write_ios,
			.bytes = c->read_bytes + c->write_bytes - b->read_bytes - b->write_bytes,
			.latency_ns = c->latency_sum_ns - b->latency_sum_ns,
		};
	}
	return out;
}

/* The period's samples into the pools' cost and load models (under lock). */
static void sample_pools(struct mgmt *m, struct api_pool_load *pl, const struct vol_period *vols,
			 size_t n, double period_ns)
{
	uint64_t ios[MGMT_POOLS_MAX] = { 0 }, bytes[MGMT_POOLS_MAX] = { 0 };
	uint64_t latency_ns[MGMT_POOLS_MAX] = { 0 };
	for (size_t i = 0; i < n; i++) {
		ios[vols[i].pool] += vols[i].ios;
		bytes[vols[i].pool] += vols[i].bytes;
		latency_ns[vols[i].pool] += vols[i].latency_ns;
	}
	for (unsigned p = 0; p < m->pools.count; p++) {
		struct pool_sample *s = &pl->last[p];
		*s = (struct pool_sample){ (double)latency_ns[p] / period_ns, 0, ios[p] };
		if (!ios[p])
			continue;
		qos_cost_observe(pl->costs[p], ios[p], bytes[p], latency_ns[p]);
		qos_cost_end_period(pl->costs[p]);
		s->latency_us = qos_cost_normalize_us(pl->costs[p],
						      (double)latency_ns[p] / 1000.0 / (double)ios[p],
						      (double)bytes[p] / (double)ios[p]);
		qos_load_model_add(&pl->models[p], s->oio, s->latency_us);
	}
}

/* The volumes that did IO in the period, for the planner (allocated). */
static struct qos_advice_volume *advice_volumes(struct mgmt *m, const struct vol_period *vols,
						size_t n, double period_ns, size_t *count)
{
	struct qos_advice_volume *out = calloc(n ? n : 1, sizeof(*out));
	*count = 0;
	for (size_t i = 0; out && i < n; i++) {
		struct cowstore_volume_info info;
		if (!vols[i].ios || cowstore_volume_info(m->pools.pool[vols[i].pool].cs, vols[i].id, 1,
							 &info) ||
		    !strncmp(info.name, "file.", 5)) /* NFS files' data cannot move */
			continue;
		struct qos_advice_volume *v = &out[(*count)++];
		*v = (struct qos_advice_volume){ .volume_id = vols[i].id, .pool = vols[i].pool,
			.oio = (double)vols[i].latency_ns / period_ns,
			.iops = (double)vols[i].ios * 1e9 / period_ns,
			.used_bytes = info.mapped_bytes };
		snprintf(v->name, sizeof(v->name), "%s", info.name);
	}
	return out;
}

static void plan(struct mgmt *m, struct api_pool_load *pl, const struct qos_advice_volume *vols,
		 size_t nvols)
{
	struct qos_advice_pool pools[MGMT_POOLS_MAX];
	memset(pools, 0, sizeof(pools));
	for (unsigned p = 0; p < m->pools.count; p++) {
		struct cowstore_pool_info info;
		snprintf(pools[p].name, sizeof(pools[p].name), "%s", m->pools.pool[p].name);
		qos_load_model_fit(&pl->models[p], &pools[p].fit);
		pools[p].oio = pl->last[p].oio;
		pools[p].latency_us = pl->last[p].latency_us;
		pools[p].free_bytes = cowstore_pool_info(m->pools.pool[p].cs, &info) ? 0
										    : info.free_bytes;
	}
	if (qos_advice_plan(NULL, pools, m->pools.count, vols, nvols, pl->advice, ADVICE_MAX,
			    &pl->nadvice))
		pl->nadvice = 0;
}

/* An event when the first advised move is new. */
static void announce(struct mgmt *m, struct api_pool_load *pl)
{
	const struct qos_advice_move *a = pl->nadvice ? &pl->advice[0] : NULL;
	if (!a) {
		pl->advised_volume = 0;
		return;
	}
	if (a->volume_id == pl->advised_volume && a->to_pool == pl->advised_to)
		return;
	pl->advised_volume = a->volume_id;
	pl->advised_to = a->to_pool;
	struct cowstore_volume_info info;
	if (!cowstore_volume_info(api_pool_of(m, a->volume_id), a->volume_id, 0, &info))
		mgmt_event(m, "info", "migration-advice", info.name, "move volume '%s' from pool "
			   "%s to pool %s: %s", info.name, m->pools.pool[a->from_pool].name,
			   m->pools.pool[a->to_pool].name, a->reason);
}

void api_pool_load_step(struct mgmt *m, struct api_pool_load *pl, uint64_t now_ns)
{
	struct qos_volume_counts *vols;
	struct vol_period *periods = NULL;
	struct qos_advice_volume *adv = NULL;
	size_t n, nadv = 0;
	if (qos_stats_volumes(m->stats, &vols, &n))
		return;
	pthread_mutex_lock(&pl->lock);
	double period_ns = (double)(now_ns - pl->prev_ns);
	bool first = !pl->prev_ns || now_ns <= pl->prev_ns;
	if (!first)
		periods = periods_of(m, pl, vols, n);
	if (periods)
		sample_pools(m, pl, periods, n, period_ns);
	if (periods && m->pools.count > 1 && ++pl->periods % ADVICE_PERIODS == 0)
		adv = advice_volumes(m, periods, n, period_ns, &nadv);
	if (adv)
		plan(m, pl, adv, nadv);
	free(pl->prev);
	pl->prev = vols;
	pl->nprev = n;
	pl->prev_ns = now_ns;
	pthread_mutex_unlock(&pl->lock);
	if (adv)
		announce(m, pl);
	free(adv);
	free(periods);
}

/* ---- what the API shows ------------------------------------------------------- */

json_t *api_pool_load_json(struct api_pool_load *pl, unsigned pool)
{
	struct qos_load_fit fit = { 0 };
	struct pool_sample s = { 0 };
	if (pl) {
		pthread_mutex_lock(&pl->lock);
		qos_load_model_fit(&pl->models[pool], &fit);
		s = pl->last[pool];
		pthread_mutex_unlock(&pl->lock);
	}
	return json_pack("{s:f, s:f, s:b, s:f, s:f, s:f, s:f}", "oio", s.oio, "latency_us",
			 s.latency_us, "fitted", fit.fitted, "unloaded_us", fit.unloaded_us,
			 "us_per_io", fit.us_per_io, "samples", fit.samples, "r2",
			 isfinite(fit.r2) ? fit.r2 : 0.0);
}

json_t *api_pool_advice_json(struct mgmt *m, struct api_pool_load *pl)
{
	json_t *items = json_array();
	if (!pl)
		return items;
	pthread_mutex_lock(&pl->lock);
	for (size_t i = 0; i < pl->nadvice; i++) {
		const struct qos_advice_move *a = &pl->advice[i];
		struct cowstore_volume_info info;
		if (cowstore_volume_info(api_pool_of(m, a->volume_id), a->volume_id, 0, &info))
			continue; /* gone since */
		json_array_append_new(items, json_pack(
			"{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:s}", "volume", info.name, "from",
			m->pools.pool[a->from_pool].name, "to", m->pools.pool[a->to_pool].name,
			"from_before_us", a->from_before_us, "from_after_us", a->from_after_us,
			"to_before_us", a->to_before_us, "to_after_us", a->to_after_us, "gain_us",
			a->gain_us, "reason", a->reason));
	}
	pthread_mutex_unlock(&pl->lock);
	return items;
}
