/*
 * history_pool.c - minute records of the statistics history in the pool's
 * configuration records: their keys, writing a sample's records and
 * deletions as one batch, pruning after QOS_HISTORY_KEEP_S, and reading
 * them back.  Key layout and record format are in qos.h.
 *
 * Called with qos_history.lock held, except history_pool_query (which
 * reads the pool only).  Record times are 12 decimal digits, so a series'
 * records list oldest first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "qos/internal.h"

#define MARKER_PREFIX "Q/s/"
#define RECORD_PREFIX "Q/m/"
#define RECORD_VERSION 1u

void history_key_name(const char *name, char *key, size_t size)
{
	size_t room = size < KEY_NAME_MAX + 1 ? size : KEY_NAME_MAX + 1;
	if (qos_key_escape(name, key, room) < 0)
		key[0] = 0; /* too long: memory only */
}

/* ---- the batch ------------------------------------------------------------- */

/* Queue a put (value non-NULL) or delete; the key and value are copied into
 * one allocation, owned by the batch. */
static void batch_add(struct qos_history *h, const char *key, const char *value, size_t len)
{
	if (h->nbatch == h->batch_cap) {
		size_t cap = h->batch_cap ? h->batch_cap * 2 : 32;
		struct cowstore_config_change *b = realloc(h->batch, cap * sizeof(*b));
		if (!b)
			return; /* the change is lost; counted as a failed write below */
		h->batch = b;
		h->batch_cap = cap;
	}
	size_t klen = strlen(key);
	char *block = malloc(klen + 1 + (value ? len + 1 : 0));
	if (!block)
		return;
	memcpy(block, key, klen + 1);
	if (value) {
		memcpy(block + klen + 1, value, len);
		block[klen + 1 + len] = 0;
	}
	h->batch[h->nbatch++] = (struct cowstore_config_change){
		.key = block, .value = value ? block + klen + 1 : NULL, .len = value ? len : 0
	};
}

void history_batch_clear(struct qos_history *h)
{
	for (size_t i = 0; i < h->nbatch; i++)
		free((void *)h->batch[i].key);
	h->nbatch = 0;
}

int history_pool_flush(struct qos_history *h)
{
	if (!h->nbatch)
		return 0;
	int rc = cowstore_config_apply(h->cs, h->batch, h->nbatch);
	if (rc)
		fprintf(stderr, "qos: writing %zu statistics records to the pool failed: %s\n",
			h->nbatch, strerror(-rc));
	history_batch_clear(h);
	return rc ? -EIO : 0;
}

/* ---- writing and pruning ------------------------------------------------- */

void history_pool_put_minute(struct qos_history *h, struct series *s, const struct accum *m,
			     uint64_t p99_ns)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1], value[160];
	snprintf(key, sizeof(key), RECORD_PREFIX "%s/%012" PRId64, s->key, s->minute_start);
	int n = snprintf(value, sizeof(value), "%u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			 " %" PRIu64 " %" PRIu64, RECORD_VERSION, m->ios[0], m->ios[1],
			 m->bytes[0], m->bytes[1], m->latency_sum_ns, p99_ns);
	if (!s->marker) {
		char marker[COWSTORE_CONFIG_KEY_MAX + 1];
		snprintf(marker, sizeof(marker), MARKER_PREFIX "%s", s->key);
		batch_add(h, marker, "", 0);
		s->marker = true;
	}
	batch_add(h, key, value, (size_t)n);
	if (s->oldest_s == INT64_MAX)
		s->oldest_s = s->minute_start;
}

/* Parse the time of a record key that starts with prefix; false if not one. */
static bool record_time(const char *key, size_t prefix_len, int64_t *unix_s)
{
	const char *p = key + prefix_len;
	if (strlen(p) != 12)
		return false;
	int64_t t = 0;
	for (int i = 0; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		t = t * 10 + (p[i] - '0');
	}
	*unix_s = t;
	return true;
}

struct prune_walk {
	struct qos_history *h;
	size_t prefix_len;
	int64_t cutoff_s;
	int64_t kept_s;        /* first record kept, INT64_MAX none */
};

static int prune_record(void *arg, const char *key, const void *value, size_t len)
{
	struct prune_walk *w = arg;
	int64_t t;
	if (!record_time(key, w->prefix_len, &t))
		return 0;
	if (t >= w->cutoff_s) {
		w->kept_s = t;
		return 1; /* the rest are newer */
	}
	batch_add(w->h, key, NULL, 0);
	return 0;
}

void history_pool_prune(struct qos_history *h, int64_t cutoff_s)
{
	for (size_t i = 0; i < h->nseries; i++) {
		struct series *s = h->all[i];
		if (!s->marker || !s->key[0] || (s->oldest_s != INT64_MIN && s->oldest_s >= cutoff_s))
			continue;
		char prefix[COWSTORE_CONFIG_KEY_MAX + 1];
		int n = snprintf(prefix, sizeof(prefix), RECORD_PREFIX "%s/", s->key);
		struct prune_walk w = { h, (size_t)n, cutoff_s, INT64_MAX };
		int rc = cowstore_config_list(h->cs, prefix, prune_record, &w);
		if (rc < 0)
			continue; /* tried again next minute */
		s->oldest_s = w.kept_s;
		if (w.kept_s == INT64_MAX) { /* no record left: no marker */
			char marker[COWSTORE_CONFIG_KEY_MAX + 1];
			snprintf(marker, sizeof(marker), MARKER_PREFIX "%s", s->key);
			batch_add(h, marker, NULL, 0);
			s->marker = false;
		}
	}
}

/* ---- reading ------------------------------------------------------------------ */

static int load_marker(void *arg, const char *key, const void *value, size_t len)
{
	struct qos_history *h = arg;
	char name[KEY_NAME_MAX + 1];
	if (!qos_key_unescape(key + strlen(MARKER_PREFIX), name, sizeof(name)))
		return 0; /* not ours */
	struct series *s = history_series_get(h, name, false);
	if (!s)
		return -ENOMEM;
	s->marker = true;
	s->oldest_s = INT64_MIN; /* found by the first prune */
	return 0;
}

int history_pool_load(struct qos_history *h)
{
	return cowstore_config_list(h->cs, MARKER_PREFIX, load_marker, h);
}

struct query_walk {
	size_t prefix_len;
	int64_t since_s, until_s;
	struct qos_point *points;
	size_t n, cap;
	int err;
};

static int query_record(void *arg, const char *key, const void *value, size_t len)
{
	struct query_walk *w = arg;
	int64_t t;
	char text[160];
	unsigned version;
	uint64_t ios[2], bytes[2], latency_sum_ns, p99_ns;
	if (!record_time(key, w->prefix_len, &t) || t < w->since_s)
		return 0;
	if (t >= w->until_s)
		return 1;
	if (len >= sizeof(text))
		return 0; /* not a record we wrote */
	memcpy(text, value, len);
	text[len] = 0;
	if (sscanf(text, "%u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   &version, &ios[0], &ios[1], &bytes[0], &bytes[1], &latency_sum_ns,
		   &p99_ns) != 7 || version != RECORD_VERSION)
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct qos_point *p = realloc(w->points, cap * sizeof(*p));
		if (!p) {
			w->err = -ENOMEM;
			return 1;
		}
		w->points = p;
		w->cap = cap;
	}
	history_point(&w->points[w->n++], t, 60, ios, bytes, latency_sum_ns, (double)p99_ns);
	return 0;
}

int history_pool_query(struct qos_history *h, const char *key, int64_t since_s,
		       int64_t until_s, struct qos_point **out, size_t *count)
{
	char prefix[COWSTORE_CONFIG_KEY_MAX + 1];
	int n = snprintf(prefix, sizeof(prefix), RECORD_PREFIX "%s/", key);
	struct query_walk w = { .prefix_len = (size_t)n, .since_s = since_s, .until_s = until_s };
	int rc = cowstore_config_list(h->cs, prefix, query_record, &w);
	if (rc < 0 || w.err) {
		free(w.points);
		return rc < 0 ? rc : w.err;
	}
	if (w.n == 0) {
		free(w.points);
		w.points = NULL;
	}
	*out = w.points;
	*count = w.n;
	return 0;
}
