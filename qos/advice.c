/*
 * advice.c - which volume to move to which pool: BASIL's greedy load
 * balancing step on the pools' load models (loadmodel.c).  The rule is in
 * qos.h.
 *
 * Pure computation on the caller's arrays, which are only read: a plan
 * works on a copy of the pools (at most QOS_ADVICE_POOLS_MAX, on the
 * stack) that each move it records changes, and knows which volumes have
 * moved from the moves recorded so far.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qos/qos.h"

struct plan {
	const struct qos_advice_config *cfg;
	struct qos_advice_pool pools[QOS_ADVICE_POOLS_MAX]; /* as the moves so far leave them */
	size_t npools;
	const struct qos_advice_volume *volumes;
	size_t nvolumes;
	const struct qos_advice_move *moves;                 /* so far */
	size_t nmoves;
};

struct candidate {
	const struct qos_advice_volume *volume;              /* NULL: none yet */
	size_t to;
	double from_after_us, to_after_us, gain_us;
};

void qos_advice_config_default(struct qos_advice_config *cfg)
{
	cfg->margin = 0.2;
	cfg->margin_us = 1000;
	cfg->min_gain = 0.1;
	cfg->headroom = 0.1;
	cfg->headroom_bytes = 1ull << 30;
}

static bool pool_loaded(const struct qos_advice_pool *p)
{
	return p->oio >= QOS_LOAD_MIN_OIO && p->latency_us > 0;
}

/* Measured when loaded, else the model's (NAN without one). */
static double latency_now_us(const struct qos_advice_pool *p)
{
	return pool_loaded(p) ? p->latency_us : qos_load_fit_predict(&p->fit, p->oio);
}

/* With oio in flight instead: the model's prediction plus its error now. */
static double latency_at_us(const struct qos_advice_pool *p, double oio)
{
	double error_us = latency_now_us(p) - qos_load_fit_predict(&p->fit, p->oio);
	return qos_load_fit_predict(&p->fit, oio) + error_us;
}

/* The loaded pool with a model and the highest latency; -1: none. */
static int worst_pool(const struct plan *p)
{
	int worst = -1;
	for (size_t i = 0; i < p->npools; i++) {
		const struct qos_advice_pool *pool = &p->pools[i];
		if (!pool->fit.fitted || !pool_loaded(pool))
			continue;
		if (worst < 0 || pool->latency_us > p->pools[worst].latency_us)
			worst = (int)i;
	}
	return worst;
}

static bool volume_moved(const struct plan *p, const struct qos_advice_volume *v)
{
	for (size_t i = 0; i < p->nmoves; i++)
		if (p->moves[i].volume_id == v->volume_id)
			return true;
	return false;
}

/* Pool `to` may take load from `from`: a model, the margin, and no move
 * of this plan the other way. */
static bool destination_ok(const struct plan *p, size_t from, size_t to)
{
	const struct qos_advice_pool *dst = &p->pools[to];
	if (to == from || !dst->fit.fitted)
		return false;
	double src_us = latency_now_us(&p->pools[from]), dst_us = latency_now_us(dst);
	if (src_us < (1 + p->cfg->margin) * dst_us || src_us - dst_us < p->cfg->margin_us)
		return false;
	for (size_t i = 0; i < p->nmoves; i++)
		if (p->moves[i].from_pool == to && p->moves[i].to_pool == from)
			return false;
	return true;
}

static bool space_ok(const struct plan *p, const struct qos_advice_volume *v, size_t to)
{
	double need_bytes = (double)v->used_bytes * (1 + p->cfg->headroom) +
			    (double)p->cfg->headroom_bytes;
	return need_bytes <= (double)p->pools[to].free_bytes;
}

/* Predict moving v from `from` to `to` into *c; whether it is worth it. */
static bool evaluate(const struct plan *p, size_t from, const struct qos_advice_volume *v,
		     size_t to, struct candidate *c)
{
	const struct qos_advice_pool *src = &p->pools[from], *dst = &p->pools[to];
	double before_us = latency_now_us(src);
	c->volume = v;
	c->to = to;
	c->from_after_us = latency_at_us(src, src->oio - v->oio);
	c->to_after_us = latency_at_us(dst, dst->oio + v->oio);
	c->gain_us = before_us - fmax(c->from_after_us, c->to_after_us);
	return c->gain_us > 0 && c->gain_us >= p->cfg->min_gain * before_us &&
	       c->to_after_us - c->from_after_us <= c->gain_us;
}

/* Larger gain; then the destination left lower (the gain is often the
 * source's own drop, the same whichever pool takes the volume), fewer
 * used bytes, the lower volume id (equal: the same volume, and the pool
 * found first stays). */
static bool better(const struct candidate *c, const struct candidate *best)
{
	if (!best->volume)
		return true;
	if (c->gain_us != best->gain_us)
		return c->gain_us > best->gain_us;
	if (c->to_after_us != best->to_after_us)
		return c->to_after_us < best->to_after_us;
	if (c->volume->used_bytes != best->volume->used_bytes)
		return c->volume->used_bytes < best->volume->used_bytes;
	return c->volume->volume_id < best->volume->volume_id;
}

/* The best move off pool `from` into *best; false when none passes. */
static bool best_move(const struct plan *p, size_t from, struct candidate *best)
{
	memset(best, 0, sizeof(*best));
	for (size_t to = 0; to < p->npools; to++) {
		if (!destination_ok(p, from, to))
			continue;
		for (size_t i = 0; i < p->nvolumes; i++) {
			const struct qos_advice_volume *v = &p->volumes[i];
			struct candidate c;
			if (v->pool != from || volume_moved(p, v) || !space_ok(p, v, to))
				continue;
			if (evaluate(p, from, v, to, &c) && better(&c, best))
				*best = c;
		}
	}
	return best->volume != NULL;
}

static void pool_label(const struct plan *p, size_t index, char *out, size_t size)
{
	if (p->pools[index].name[0])
		snprintf(out, size, "pool %s", p->pools[index].name);
	else
		snprintf(out, size, "pool %zu", index);
}

static void write_reason(const struct plan *p, const struct qos_advice_move *m,
			 const struct qos_advice_volume *v, char *out, size_t size)
{
	char from[QOS_NAME_MAX + 8], to[QOS_NAME_MAX + 8], volume[QOS_NAME_MAX + 24];
	pool_label(p, m->from_pool, from, sizeof(from));
	pool_label(p, m->to_pool, to, sizeof(to));
	if (v->name[0])
		snprintf(volume, sizeof(volume), "'%s'", v->name);
	else
		snprintf(volume, sizeof(volume), "%" PRIu64, v->volume_id);
	snprintf(out, size,
		 "%s at %.2f ms, %s at %.2f ms: moving volume %s"
		 " (%.1f IOs in flight, %.0f IO/s, %.1f GiB) leaves %.2f ms and %.2f ms",
		 from, m->from_before_us / 1000, to, m->to_before_us / 1000, volume, v->oio,
		 v->iops, (double)v->used_bytes / (1u << 30), m->from_after_us / 1000,
		 m->to_after_us / 1000);
}

/* Write the move into *m and apply its effect to the plan's pools. */
static void record_move(struct plan *p, size_t from, const struct candidate *c,
			struct qos_advice_move *m)
{
	struct qos_advice_pool *src = &p->pools[from], *dst = &p->pools[c->to];
	const struct qos_advice_volume *v = c->volume;
	memset(m, 0, sizeof(*m));
	m->volume_id = v->volume_id;
	m->from_pool = (uint32_t)from;
	m->to_pool = (uint32_t)c->to;
	m->from_before_us = latency_now_us(src);
	m->to_before_us = latency_now_us(dst);
	m->from_after_us = c->from_after_us;
	m->to_after_us = c->to_after_us;
	m->gain_us = c->gain_us;
	write_reason(p, m, v, m->reason, sizeof(m->reason));
	src->oio = fmax(src->oio - v->oio, 0);
	src->latency_us = c->from_after_us;
	dst->oio += v->oio;
	dst->latency_us = c->to_after_us;
	dst->free_bytes -= v->used_bytes;
}

static bool arguments_ok(const struct qos_advice_pool *pools, size_t npools,
			 const struct qos_advice_volume *volumes, size_t nvolumes,
			 const struct qos_advice_move *moves, size_t max_moves, const size_t *nmoves)
{
	if (!nmoves || npools > QOS_ADVICE_POOLS_MAX || (npools && !pools) ||
	    (nvolumes && !volumes) || (max_moves && !moves))
		return false;
	for (size_t i = 0; i < nvolumes; i++)
		if (volumes[i].pool >= npools)
			return false;
	return true;
}

int qos_advice_plan(const struct qos_advice_config *cfg,
		    const struct qos_advice_pool *pools, size_t npools,
		    const struct qos_advice_volume *volumes, size_t nvolumes,
		    struct qos_advice_move *moves, size_t max_moves, size_t *nmoves)
{
	if (!arguments_ok(pools, npools, volumes, nvolumes, moves, max_moves, nmoves))
		return -EINVAL;
	struct qos_advice_config defaults;
	if (!cfg) {
		qos_advice_config_default(&defaults);
		cfg = &defaults;
	}
	struct plan p = { .cfg = cfg, .npools = npools, .volumes = volumes,
			  .nvolumes = nvolumes, .moves = moves };
	if (npools)
		memcpy(p.pools, pools, npools * sizeof(*pools));
	*nmoves = 0;
	while (p.nmoves < max_moves) {
		int from = worst_pool(&p);
		struct candidate best;
		if (from < 0 || !best_move(&p, (size_t)from, &best))
			break;
		record_move(&p, (size_t)from, &best, &moves[p.nmoves]);
		*nmoves = ++p.nmoves;
	}
	return 0;
}
