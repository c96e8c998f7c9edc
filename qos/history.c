/*
 * history.c - the time series: sampling the registry's streams into 1 s
 * points per series (rings of an hour, in memory), minute rollups, and
 * queries.  The pool side of minutes (keys, records, pruning) is
 * history_pool.c.
 *
 * Everything here runs under qos_history.lock; the sampling pass over
 * streams also takes qos_stats.lock (after it).  A series is "live" once a
 * stream of this run maps to it: only live series get 1 s points; series
 * known only from the pool's records are listed and queried at 60 s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

#define SERIES_TABLE_INITIAL 64u

/* ---- series ------------------------------------------------------------------ */

static size_t name_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ h >> 29);
}

struct series *history_find(struct qos_history *h, const char *name)
{
	struct series *s = h->table[name_hash(name) & (h->table_size - 1)];
	while (s && strcmp(s->name, name) != 0)
		s = s->hash_next;
	return s;
}

static void table_grow(struct qos_history *h)
{
	size_t size = h->table_size * 2;
	struct series **table = calloc(size, sizeof(*table));
	if (!table)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < h->nseries; i++) {
		struct series *s = h->all[i];
		size_t slot = name_hash(s->name) & (size - 1);
		s->hash_next = table[slot];
		table[slot] = s;
	}
	free(h->table);
	h->table = table;
	h->table_size = size;
}

static int make_live(struct series *s)
{
	if (s->live)
		return 0;
	s->ring = malloc(QOS_HISTORY_SECONDS * sizeof(*s->ring));
	if (!s->ring)
		return -ENOMEM;
	for (size_t i = 0; i < QOS_HISTORY_SECONDS; i++)
		s->ring[i].unix_s = INT64_MIN;
	s->live = true;
	return 0;
}

struct series *history_series_get(struct qos_history *h, const char *name, bool live)
{
	struct series *s = history_find(h, name);
	if (!s) {
		if (h->nseries == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 32;
			struct series **all = realloc(h->all, cap * sizeof(*all));
			if (!all)
				return NULL;
			h->all = all;
			h->cap = cap;
		}
		s = calloc(1, sizeof(*s));
		if (!s || !(s->name = strdup(name))) {
			free(s);
			return NULL;
		}
		history_key_name(name, s->key, sizeof(s->key));
		s->minute_start = INT64_MIN;
		s->oldest_s = INT64_MAX;
		size_t slot = name_hash(name) & (h->table_size - 1);
		s->hash_next = h->table[slot];
		h->table[slot] = s;
		h->all[h->nseries++] = s;
		if (h->nseries > h->table_size)
			table_grow(h);
	}
	if (live && make_live(s) < 0)
		return NULL;
	return s;
}

static void series_free(struct series *s)
{
	free(s->name);
	free(s->ring);
	free(s);
}

/* ---- streams seen by the history ---------------------------------------------- */

static void counts_now(struct qos_stream *s, struct track *t)
{
	t->ios[0] = atomic_load_explicit(&s->ios[0], memory_order_relaxed);
	t->ios[1] = atomic_load_explicit(&s->ios[1], memory_order_relaxed);
	t->bytes[0] = atomic_load_explicit(&s->bytes[0], memory_order_relaxed);
	t->bytes[1] = atomic_load_explicit(&s->bytes[1], memory_order_relaxed);
	t->latency_sum_ns = atomic_load_explicit(&s->latency_sum_ns, memory_order_relaxed);
	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		t->hist[b] = atomic_load_explicit(&s->hist[b], memory_order_relaxed);
}

/* The track of stream s, made with its series when new: from the stream's
 * current counters (baseline) or from zero (a stream made since the last
 * sample: all its IO is new).  NULL when out of memory. */
static struct track *track_get(struct qos_history *h, struct qos_stream *s, bool baseline)
{
	if (s->index >= h->tracks_cap) {
		size_t cap = h->tracks_cap ? h->tracks_cap : 16;
		while (cap <= s->index)
			cap *= 2;
		struct track **tracks = realloc(h->tracks, cap * sizeof(*tracks));
		if (!tracks)
			return NULL;
		memset(tracks + h->tracks_cap, 0, (cap - h->tracks_cap) * sizeof(*tracks));
		h->tracks = tracks;
		h->tracks_cap = cap;
	}
	if (h->tracks[s->index])
		return h->tracks[s->index];
	char name[QOS_HOST_MAX + 32];
	struct track *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(name, sizeof(name), "host:%s", s->host);
	t->host = history_series_get(h, name, true);
	snprintf(name, sizeof(name), "volume:%llu", (unsigned long long)s->volume_id);
	t->volume = history_series_get(h, name, true);
	if (!t->host || !t->volume) {
		free(t);
		return NULL;
	}
	if (baseline)
		counts_now(s, t);
	h->tracks[s->index] = t;
	return t;
}

static struct series *group_series(struct qos_history *h, const struct qos_group *g)
{
	if (g->id >= h->ngroup_series) {
		size_t n = g->id + 1;
		struct series **gs = realloc(h->group_series, n * sizeof(*gs));
		if (!gs)
			return NULL;
		memset(gs + h->ngroup_series, 0, (n - h->ngroup_series) * sizeof(*gs));
		h->group_series = gs;
		h->ngroup_series = n;
	}
	if (!h->group_series[g->id]) {
		char name[QOS_NAME_MAX + 8];
		snprintf(name, sizeof(name), "group:%s", g->name);
		h->group_series[g->id] = history_series_get(h, name, true);
	}
	return h->group_series[g->id];
}

static void pending_add(struct series *s, const struct track *delta)
{
	if (!s)
		return;
	struct accum *a = &s->pending;
	for (int d = 0; d < 2; d++) {
		a->ios[d] += delta->ios[d];
		a->bytes[d] += delta->bytes[d];
	}
	a->latency_sum_ns += delta->latency_sum_ns;
	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		a->hist[b] += delta->hist[b];
	s->pending_any = true;
}

/* Move what every stream did since the last pass into its series' pending
 * accumulators.  A stream whose IO counts did not move is skipped: counts
 * that moved without them (an IO being recorded) wait for the next pass. */
static int collect(struct qos_history *h, bool baseline)
{
	struct qos_stats *st = h->st;
	struct track now, delta;
	int rc = 0;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->nstreams; i++) {
		struct qos_stream *s = st->streams[i];
		struct track *t = track_get(h, s, baseline);
		struct series *gs = s->group ? group_series(h, s->group) : NULL;
		if (!t || (s->group && !gs)) {
			rc = -ENOMEM; /* its counts wait for a pass with memory */
			continue;
		}
		if (baseline)
			continue;
		if (atomic_load_explicit(&s->ios[0], memory_order_relaxed) == t->ios[0] &&
		    atomic_load_explicit(&s->ios[1], memory_order_relaxed) == t->ios[1])
			continue;
		counts_now(s, &now);
		for (int d = 0; d < 2; d++) {
			delta.ios[d] = now.ios[d] - t->ios[d];
			delta.bytes[d] = now.bytes[d] - t->bytes[d];
		}
		delta.latency_sum_ns = now.latency_sum_ns - t->latency_sum_ns;
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			delta.hist[b] = now.hist[b] - t->hist[b];
		memcpy(t->ios, now.ios, sizeof(now.ios));
		memcpy(t->bytes, now.bytes, sizeof(now.bytes));
		t->latency_sum_ns = now.latency_sum_ns;
		memcpy(t->hist, now.hist, sizeof(now.hist));
		pending_add(h->appliance, &delta);
		pending_add(t->host, &delta);
		pending_add(t->volume, &delta);
		pending_add(gs, &delta);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- points ------------------------------------------------------------------- */

void history_point(struct qos_point *p, int64_t unix_s, uint32_t interval_s,
		   const uint64_t ios[2], const uint64_t bytes[2], uint64_t latency_sum_ns,
		   double p99_ns)
{
	uint64_t n = ios[0] + ios[1];
	p->unix_s = unix_s;
	p->interval_s = interval_s;
	p->read_iops = (double)ios[0] / interval_s;
	p->write_iops = (double)ios[1] / interval_s;
	p->read_bytes_per_s = (double)bytes[0] / interval_s;
	p->write_bytes_per_s = (double)bytes[1] / interval_s;
	p->avg_latency_us = n ? (double)latency_sum_ns / (double)n / 1000.0 : 0;
	p->p99_latency_us = n ? p99_ns / 1000.0 : 0;
}

/* A minute starting at minute_start has ended: its record goes to the
 * batch when it had IO. */
static void minute_end(struct qos_history *h, struct series *s)
{
	struct accum *m = &s->minute;
	if (s->minute_start != INT64_MIN && s->minute_any && h->cs && s->key[0]) {
		uint64_t n = m->ios[0] + m->ios[1];
		double p99 = hist_quantile_ns(m->hist, n, 0.99);
		history_pool_put_minute(h, s, m, (uint64_t)(p99 + 0.5));
	}
	memset(m, 0, sizeof(*m));
	s->minute_any = false;
}

/* Credit the series' pending counts to the seconds [start, start + n):
 * evenly, the histogram to the last one, every second the same p99. */
static void emit(struct qos_history *h, struct series *s, int64_t start, int64_t n)
{
	struct accum *a = &s->pending;
	uint64_t total = a->ios[0] + a->ios[1];
	double p99 = s->pending_any ? hist_quantile_ns(a->hist, total, 0.99) : 0;
	uint64_t lat_given = 0;
	for (int64_t k = 0; k < n; k++) {
		int64_t t = start + k;
		bool last = k == n - 1;
		uint64_t ios[2], bytes[2], lat;
		for (int d = 0; d < 2; d++) {
			ios[d] = a->ios[d] / (uint64_t)n;
			bytes[d] = a->bytes[d] / (uint64_t)n;
			if (last) {
				ios[d] = a->ios[d] - ios[d] * (uint64_t)(n - 1);
				bytes[d] = a->bytes[d] - bytes[d] * (uint64_t)(n - 1);
			}
		}
		/* the latency sum follows the IOs, so each second's average is the
		 * sample's */
		uint64_t nios = ios[0] + ios[1];
		lat = total ? (uint64_t)((unsigned __int128)a->latency_sum_ns * nios / total) : 0;
		if (last)
			lat = a->latency_sum_ns - lat_given;
		lat_given += lat;
		int64_t minute = t - t % 60;
		if (minute != s->minute_start) {
			minute_end(h, s);
			s->minute_start = minute;
		}
		struct accum *m = &s->minute;
		for (int d = 0; d < 2; d++) {
			m->ios[d] += ios[d];
			m->bytes[d] += bytes[d];
		}
		m->latency_sum_ns += lat;
		if (ios[0] + ios[1])
			s->minute_any = true;
		if (last && s->pending_any)
			for (unsigned b = 0; b < HIST_BUCKETS; b++)
				m->hist[b] += a->hist[b];
		history_point(&s->ring[t % QOS_HISTORY_SECONDS], t, 1, ios, bytes, lat,
			      ios[0] + ios[1] ? p99 : 0);
	}
	if (s->pending_any)
		memset(a, 0, sizeof(*a));
	s->pending_any = false;
}

/* ---- the public functions ---------------------------------------------------- */

int qos_history_create(struct qos_stats *st, struct cowstore *cs, struct qos_history **out)
{
	if (!st || !out)
		return -EINVAL;
	int rc = -ENOMEM;
	struct qos_history *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->st = st;
	h->cs = cs;
	h->table = calloc(SERIES_TABLE_INITIAL, sizeof(*h->table));
	if (!h->table)
		goto fail;
	h->table_size = SERIES_TABLE_INITIAL;
	h->appliance = history_series_get(h, "appliance", true);
	if (!h->appliance)
		goto fail;
	if (cs && (rc = history_pool_load(h)) < 0)
		goto fail;
	/* Streams that exist now start from their present counts. */
	if ((rc = collect(h, true)) < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	qos_history_destroy(h);
	return rc;
}

void qos_history_destroy(struct qos_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nseries; i++)
		series_free(h->all[i]);
	for (size_t i = 0; i < h->tracks_cap; i++)
		free(h->tracks[i]);
	history_batch_clear(h);
	free(h->batch);
	free(h->tracks);
	free(h->group_series);
	free(h->all);
	free(h->table);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int qos_history_sample(struct qos_history *h, int64_t now_unix_s)
{
	if (!h || now_unix_s < 1)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	int rc = 0;
	if (h->have_last && now_unix_s <= h->last_s) {
		rc = -EAGAIN;
		goto out;
	}
	int64_t n = h->have_last ? now_unix_s - h->last_s : 1;
	if (n > QOS_HISTORY_SECONDS)
		n = QOS_HISTORY_SECONDS;
	bool new_minute = !h->have_last || now_unix_s / 60 != h->last_s / 60;
	int collect_rc = collect(h, false);
	/* Deletions first: the batch applies in order, and a series pruned
	 * empty may get a new record (and marker) in the same batch. */
	if (h->cs && new_minute)
		history_pool_prune(h, now_unix_s - QOS_HISTORY_KEEP_S);
	for (size_t i = 0; i < h->nseries; i++)
		if (h->all[i]->live)
			emit(h, h->all[i], now_unix_s - n, n);
	h->last_s = now_unix_s;
	h->have_last = true;
	rc = h->cs ? history_pool_flush(h) : 0;
	if (!rc)
		rc = collect_rc;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int qos_history_query(struct qos_history *h, const char *series, unsigned resolution_s,
		      int64_t since_unix_s, int64_t until_unix_s,
		      struct qos_point **out, size_t *count)
{
	if (!h || !series || !out || !count || (resolution_s != 1 && resolution_s != 60))
		return -EINVAL;
	*out = NULL;
	*count = 0;
	char key[sizeof(((struct series *)0)->key)];
	pthread_mutex_lock(&h->lock);
	struct series *s = history_find(h, series);
	if (!s) {
		pthread_mutex_unlock(&h->lock);
		return -ENOENT;
	}
	if (resolution_s == 60) {
		memcpy(key, s->key, sizeof(key));
		pthread_mutex_unlock(&h->lock);
		if (!h->cs || !key[0] || since_unix_s >= until_unix_s)
			return 0;
		return history_pool_query(h, key, since_unix_s, until_unix_s, out, count);
	}
	int rc = 0;
	int64_t from = since_unix_s, to = until_unix_s;
	if (h->have_last) {
		if (from < h->last_s - (int64_t)QOS_HISTORY_SECONDS)
			from = h->last_s - (int64_t)QOS_HISTORY_SECONDS;
		if (to > h->last_s)
			to = h->last_s;
	}
	if (s->live && h->have_last && from < to) {
		struct qos_point *p = malloc((size_t)(to - from) * sizeof(*p));
		if (!p) {
			rc = -ENOMEM;
		} else {
			size_t n = 0;
			for (int64_t t = from; t < to; t++)
				if (s->ring[t % QOS_HISTORY_SECONDS].unix_s == t)
					p[n++] = s->ring[t % QOS_HISTORY_SECONDS];
			if (n) {
				*out = p;
				*count = n;
			} else {
				free(p);
			}
		}
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int qos_history_series(struct qos_history *h, char ***names, size_t *count)
{
	if (!h || !names || !count)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	size_t n = h->nseries;
	char **list = calloc(n ? n : 1, sizeof(*list));
	int rc = list ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		if (!(list[i] = strdup(h->all[i]->name)))
			rc = -ENOMEM;
	pthread_mutex_unlock(&h->lock);
	if (rc) {
		qos_history_series_free(list, n);
		return rc;
	}
	qsort(list, n, sizeof(*list), compare_names);
	*names = list;
	*count = n;
	return 0;
}

void qos_history_series_free(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}
