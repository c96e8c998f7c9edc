/*
 * table.c - the shared latency table: every controller's per-host entries
 * (normalized latency, IOs, window, IOs in flight, shares) for one period,
 * in the pool's configuration records (prefix "Q/t/", so several slated
 * processes on one pool see each other) or in memory (the simulator).
 *
 * A record is text: "2 time_ms latency_us ios window outstanding shares
 * period_ms node host window_held", node and host %XX-escaped (no spaces).
 * Version 1, written by slated before window_held, ends at host and is
 * still read (window_held = window), so that a process not yet upgraded on
 * the same pool is not taken for garbage.  Readers delete records that do
 * not parse and those older than QOS_TABLE_FORGET_MS; staleness for the
 * average (a few periods) is the reader's max_age_ms.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "qos/internal.h"

#define PREFIX "Q/t/"
#define RECORD_VERSION 2
#define ESC_MAX (3 * QOS_HOST_MAX + 1)
#define RECORD_MAX (2 * ESC_MAX + 256)

static bool name_ok(const char *name, size_t max)
{
	size_t len = name ? strnlen(name, max + 1) : 0;
	return len >= 1 && len <= max;
}

static int entry_key(const struct qos_table_entry *e, char *key, size_t size)
{
	char node[3 * QOS_NAME_MAX + 1], host[ESC_MAX];
	if (qos_key_escape(e->node, node, sizeof(node)) < 0 ||
	    qos_key_escape(e->host, host, sizeof(host)) < 0)
		return -EINVAL;
	int n = snprintf(key, size, PREFIX "%s/%s", node, host);
	if (n > 0 && (size_t)n <= COWSTORE_CONFIG_KEY_MAX && (size_t)n < size)
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)e->host; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	n = snprintf(key, size, PREFIX "%s/#%016" PRIx64, node, h);
	return n > 0 && (size_t)n < size ? 0 : -EINVAL;
}

int table_entry_format(const struct qos_table_entry *e, char *buf, size_t size)
{
	char node[3 * QOS_NAME_MAX + 1], host[ESC_MAX];
	if (qos_key_escape(e->node, node, sizeof(node)) < 0 ||
	    qos_key_escape(e->host, host, sizeof(host)) < 0)
		return -EINVAL;
	int n = snprintf(buf, size, "%d %" PRId64 " %.3f %" PRIu64 " %.4f %.4f %" PRIu32 " %" PRIu32
			 " %s %s %.4f", RECORD_VERSION, e->time_ms, e->latency_us, e->ios, e->window,
			 e->outstanding, e->shares, e->period_ms, node, host, e->window_held);
	return n > 0 && (size_t)n < size ? n : -EINVAL;
}

int table_entry_parse(const char *buf, size_t len, struct qos_table_entry *e)
{
	char text[RECORD_MAX], node[3 * QOS_NAME_MAX + 1], host[ESC_MAX];
	if (len >= sizeof(text))
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = 0;
	int version, end = 0, tail = 0;
	memset(e, 0, sizeof(*e));
	/* widths: sizeof(node) - 1 = 189, sizeof(host) - 1 = 765 */
	if (sscanf(text, "%d %" SCNd64 " %lf %" SCNu64 " %lf %lf %" SCNu32 " %" SCNu32
		   " %189s %765s%n", &version, &e->time_ms, &e->latency_us, &e->ios, &e->window,
		   &e->outstanding, &e->shares, &e->period_ms, node, host, &end) != 10)
		return -EINVAL;
	if (version == 1)
		e->window_held = e->window;
	else if (version != RECORD_VERSION ||
		 sscanf(text + end, " %lf%n", &e->window_held, &tail) != 1)
		return -EINVAL;
	if ((size_t)(end + tail) != len)
		return -EINVAL;
	if (!qos_key_unescape(node, e->node, sizeof(e->node)) ||
	    !qos_key_unescape(host, e->host, sizeof(e->host)))
		return -EINVAL;
	if (!(e->latency_us >= 0) || !(e->window >= 0) || !(e->window_held >= 0) ||
	    !(e->outstanding >= 0))
		return -EINVAL;
	return 0;
}

/* ---- creation ------------------------------------------------------------------ */

static int table_new(struct cowstore *cs, struct qos_table **out)
{
	if (!out)
		return -EINVAL;
	struct qos_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cs = cs;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

int qos_table_create_memory(struct qos_table **out)
{
	return table_new(NULL, out);
}

int qos_table_create_pool(struct cowstore *cs, struct qos_table **out)
{
	return cs ? table_new(cs, out) : -EINVAL;
}

void qos_table_destroy(struct qos_table *t)
{
	if (!t)
		return;
	free(t->rows);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* ---- memory backend (under t->lock) --------------------------------------------- */

static struct table_row *row_find(struct qos_table *t, const char *node, const char *host)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].e.node, node) && !strcmp(t->rows[i].e.host, host))
			return &t->rows[i];
	return NULL;
}

static int memory_publish(struct qos_table *t, const struct qos_table_entry *entries, size_t count)
{
	if (t->nrows + count > t->rows_cap) {
		size_t cap = t->rows_cap ? t->rows_cap : 16;
		while (cap < t->nrows + count)
			cap *= 2;
		struct table_row *rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		t->rows_cap = cap;
	}
	for (size_t i = 0; i < count; i++) {
		struct table_row *r = row_find(t, entries[i].node, entries[i].host);
		if (!r)
			r = &t->rows[t->nrows++];
		r->e = entries[i];
	}
	return 0;
}

static void memory_remove_row(struct qos_table *t, size_t i)
{
	t->rows[i] = t->rows[--t->nrows];
}

/* ---- pool backend ---------------------------------------------------------------- */

static int pool_publish(struct qos_table *t, const struct qos_table_entry *entries, size_t count)
{
	struct cowstore_config_change *ch = calloc(count, sizeof(*ch));
	char (*keys)[COWSTORE_CONFIG_KEY_MAX + 1] = calloc(count, sizeof(*keys));
	char (*values)[RECORD_MAX] = calloc(count, sizeof(*values));
	int rc = -ENOMEM;
	if (!ch || !keys || !values)
		goto out;
	for (size_t i = 0; i < count; i++) {
		int n = table_entry_format(&entries[i], values[i], RECORD_MAX);
		if (n < 0 || (rc = entry_key(&entries[i], keys[i], sizeof(keys[i]))) < 0) {
			rc = -EINVAL;
			goto out;
		}
		ch[i] = (struct cowstore_config_change){ keys[i], values[i], (size_t)n };
	}
	rc = cowstore_config_apply(t->cs, ch, count);
out:
	free(ch);
	free(keys);
	free(values);
	return rc;
}

struct pool_read {
	struct qos_table_entry *rows;
	size_t n, cap;
	char **old;              /* keys to delete */
	size_t nold, old_cap;
	int64_t forget_before;
	int rc;
};

static int pool_read_one(void *arg, const char *key, const void *value, size_t len)
{
	struct pool_read *r = arg;
	struct qos_table_entry e;
	bool forget = table_entry_parse(value, len, &e) < 0 || e.time_ms < r->forget_before;
	if (forget) {
		if (r->nold == r->old_cap) {
			size_t cap = r->old_cap ? r->old_cap * 2 : 8;
			char **old = realloc(r->old, cap * sizeof(*old));
			if (!old)
				return 0; /* deleted by a later reader */
			r->old = old;
			r->old_cap = cap;
		}
		if ((r->old[r->nold] = strdup(key)))
			r->nold++;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct qos_table_entry *rows = realloc(r->rows, cap * sizeof(*rows));
		if (!rows) {
			r->rc = -ENOMEM;
			return 1;
		}
		r->rows = rows;
		r->cap = cap;
	}
	r->rows[r->n++] = e;
	return 0;
}

/* ---- the public functions -------------------------------------------------------- */

int qos_table_publish(struct qos_table *t, const struct qos_table_entry *entries, size_t count)
{
	if (!t || (count && !entries))
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		if (!name_ok(entries[i].node, QOS_NAME_MAX) || !name_ok(entries[i].host, QOS_HOST_MAX))
			return -EINVAL;
	if (!count)
		return 0;
	if (t->cs)
		return pool_publish(t, entries, count);
	pthread_mutex_lock(&t->lock);
	int rc = memory_publish(t, entries, count);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int qos_table_remove(struct qos_table *t, const char *node, const char *host)
{
	if (!t || !name_ok(node, QOS_NAME_MAX) || !name_ok(host, QOS_HOST_MAX))
		return -EINVAL;
	if (t->cs) {
		struct qos_table_entry e;
		char key[COWSTORE_CONFIG_KEY_MAX + 1];
		memset(&e, 0, sizeof(e));
		strcpy(e.node, node);
		strcpy(e.host, host);
		int rc = entry_key(&e, key, sizeof(key));
		return rc ? rc : cowstore_config_delete(t->cs, key);
	}
	pthread_mutex_lock(&t->lock);
	struct table_row *r = row_find(t, node, host);
	if (r)
		memory_remove_row(t, (size_t)(r - t->rows));
	pthread_mutex_unlock(&t->lock);
	return r ? 0 : -ENOENT;
}

int qos_table_read(struct qos_table *t, int64_t now_ms, int64_t max_age_ms,
		   struct qos_table_entry **out, size_t *count)
{
	if (!t || !out || !count || max_age_ms < 0)
		return -EINVAL;
	*out = NULL;
	*count = 0;
	int64_t fresh_after = now_ms - max_age_ms;
	int64_t forget_before = now_ms - QOS_TABLE_FORGET_MS;
	if (!t->cs) {
		int rc = 0;
		pthread_mutex_lock(&t->lock);
		for (size_t i = t->nrows; i-- > 0;)
			if (t->rows[i].e.time_ms < forget_before)
				memory_remove_row(t, i);
		size_t n = 0;
		for (size_t i = 0; i < t->nrows; i++)
			n += t->rows[i].e.time_ms >= fresh_after;
		if (n && !(*out = malloc(n * sizeof(**out))))
			rc = -ENOMEM;
		for (size_t i = 0; !rc && i < t->nrows; i++)
			if (t->rows[i].e.time_ms >= fresh_after)
				(*out)[(*count)++] = t->rows[i].e;
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
	struct pool_read r = { .forget_before = forget_before };
	int rc = cowstore_config_list(t->cs, PREFIX, pool_read_one, &r);
	if (rc == 1)
		rc = r.rc;
	if (r.nold) {
		struct cowstore_config_change *ch = calloc(r.nold, sizeof(*ch));
		for (size_t i = 0; ch && i < r.nold; i++)
			ch[i].key = r.old[i];
		if (ch)
			cowstore_config_apply(t->cs, ch, r.nold); /* else: a later reader */
		free(ch);
		for (size_t i = 0; i < r.nold; i++)
			free(r.old[i]);
	}
	free(r.old);
	if (rc < 0) {
		free(r.rows);
		return rc;
	}
	size_t n = 0;
	for (size_t i = 0; i < r.n; i++)
		if (r.rows[i].time_ms >= fresh_after)
			r.rows[n++] = r.rows[i];
	if (!n) {
		free(r.rows);
		r.rows = NULL;
	}
	*out = r.rows;
	*count = n;
	return 0;
}

double qos_table_average_us(const struct qos_table_entry *entries, size_t count)
{
	double ios = 0, sum = 0;
	for (size_t i = 0; i < count; i++) {
		ios += (double)entries[i].ios;
		sum += (double)entries[i].ios * entries[i].latency_us;
	}
	return ios > 0 ? sum / ios : 0;
}
