/*
 * stats.c - the statistics registry: streams of (host, volume) counters,
 * the one-IO record path, volume groups, and the histogram arithmetic.
 *
 * qos_stream_record() is the only function on the IO path: relaxed atomic
 * adds on the stream, no lock, no allocation.  Everything else takes
 * qos_stats.lock.  Streams and groups are freed only by qos_stats_destroy,
 * so pointers to them stay valid without reference counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

#define TABLE_INITIAL 64u

/* ---- histogram -------------------------------------------------------------- */

double hist_bucket_value_ns(unsigned bucket)
{
	if (bucket < HIST_SUB)
		return bucket;
	unsigned e = (bucket - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	unsigned sub = (bucket - HIST_SUB) % HIST_SUB;
	double width = (double)(1ull << (e - HIST_SUB_BITS));
	return (double)(1ull << e) + width * sub + width / 2;
}

double hist_quantile_ns(const uint64_t *hist, uint64_t total, double q)
{
	if (total == 0)
		return 0;
	double want = q * (double)total;
	uint64_t rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank)
			return hist_bucket_value_ns(b);
	}
	return hist_bucket_value_ns(HIST_BUCKETS - 1); /* counts raced ahead of total */
}

/* ---- registry ----------------------------------------------------------------- */

int qos_stats_create(struct qos_stats **out)
{
	if (!out)
		return -EINVAL;
	struct qos_stats *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->table = calloc(TABLE_INITIAL, sizeof(*st->table));
	if (!st->table) {
		free(st);
		return -ENOMEM;
	}
	st->table_size = TABLE_INITIAL;
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

void qos_stats_destroy(struct qos_stats *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nstreams; i++)
		free(st->streams[i]);
	for (size_t i = 0; i < st->ngroups; i++)
		free(st->groups[i]);
	free(st->streams);
	free(st->groups);
	free(st->members);
	free(st->table);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static size_t stream_hash(const char *host, uint64_t volume_id)
{
	uint64_t h = 1469598103934665603ull ^ volume_id * 0x9e3779b97f4a7c15ull;
	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ h >> 29);
}

/* Double the hash table once it holds as many streams as it has slots. */
static void table_grow(struct qos_stats *st)
{
	size_t size = st->table_size * 2;
	struct qos_stream **table = calloc(size, sizeof(*table));
	if (!table)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < st->nstreams; i++) {
		struct qos_stream *s = st->streams[i];
		size_t slot = stream_hash(s->host, s->volume_id) & (size - 1);
		s->hash_next = table[slot];
		table[slot] = s;
	}
	free(st->table);
	st->table = table;
	st->table_size = size;
}

static struct qos_group *group_of_volume(struct qos_stats *st, uint64_t volume_id)
{
	for (size_t i = 0; i < st->nmembers; i++)
		if (st->members[i].volume_id == volume_id)
			return st->members[i].group;
	return NULL;
}

static struct qos_stream *stream_new(struct qos_stats *st, const char *host, uint64_t volume_id)
{
	if (st->nstreams == st->streams_cap) {
		size_t cap = st->streams_cap ? st->streams_cap * 2 : 16;
		struct qos_stream **streams = realloc(st->streams, cap * sizeof(*streams));
		if (!streams)
			return NULL;
		st->streams = streams;
		st->streams_cap = cap;
	}
	struct qos_stream *s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	size_t n = strlen(host);
	if (n > QOS_HOST_MAX)
		n = QOS_HOST_MAX;
	memcpy(s->host, host, n);
	s->host[n] = 0;
	s->volume_id = volume_id;
	s->group = group_of_volume(st, volume_id);
	s->index = (unsigned)st->nstreams;
	st->streams[st->nstreams++] = s;
	return s;
}

struct qos_stream *qos_stats_stream(struct qos_stats *st, const char *host, uint64_t volume_id)
{
	if (!st || !host)
		return NULL;
	char name[QOS_HOST_MAX + 1];
	size_t n = strlen(host);
	if (n > QOS_HOST_MAX) { /* compare as stored */
		memcpy(name, host, QOS_HOST_MAX);
		name[QOS_HOST_MAX] = 0;
		host = name;
	}
	pthread_mutex_lock(&st->lock);
	size_t slot = stream_hash(host, volume_id) & (st->table_size - 1);
	struct qos_stream *s = st->table[slot];
	while (s && (s->volume_id != volume_id || strcmp(s->host, host) != 0))
		s = s->hash_next;
	if (!s && (s = stream_new(st, host, volume_id))) {
		s->hash_next = st->table[slot];
		st->table[slot] = s;
		if (st->nstreams > st->table_size)
			table_grow(st);
	}
	pthread_mutex_unlock(&st->lock);
	return s;
}

void qos_stream_record(struct qos_stream *s, bool write, uint32_t bytes, uint64_t latency_ns)
{
	unsigned dir = write ? 1 : 0;
	atomic_fetch_add_explicit(&s->hist[hist_bucket(latency_ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_sum_ns, latency_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bytes[dir], bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->ios[dir], 1, memory_order_relaxed);
}

void qos_stream_counts(const struct qos_stream *s, struct qos_stream_counts *out)
{
	struct qos_stream *m = (struct qos_stream *)s; /* atomic loads take non-const */
	out->read_ios = atomic_load_explicit(&m->ios[0], memory_order_relaxed);
	out->write_ios = atomic_load_explicit(&m->ios[1], memory_order_relaxed);
	out->read_bytes = atomic_load_explicit(&m->bytes[0], memory_order_relaxed);
	out->write_bytes = atomic_load_explicit(&m->bytes[1], memory_order_relaxed);
	out->latency_sum_ns = atomic_load_explicit(&m->latency_sum_ns, memory_order_relaxed);
}

static void add_counts(struct qos_stream_counts *sum, const struct qos_stream *s)
{
	struct qos_stream_counts c;
	qos_stream_counts(s, &c);
	sum->read_ios += c.read_ios;
	sum->write_ios += c.write_ios;
	sum->read_bytes += c.read_bytes;
	sum->write_bytes += c.write_bytes;
	sum->latency_sum_ns += c.latency_sum_ns;
}

/* Where a stream's counters add up: the entry of its key among the n made
 * so far, or a new one appended (n grows). */
typedef struct qos_stream_counts *(*slot_fn)(void *entries, size_t *n,
					     const struct qos_stream *s);

/* Every stream's counters summed into entries of `size` bytes that slot
 * picks, under the registry mutex; *out malloc'ed (NULL when none). */
static int sum_streams(struct qos_stats *st, size_t size, slot_fn slot, void **out,
		       size_t *count)
{
	void *entries = NULL;
	size_t n = 0;
	pthread_mutex_lock(&st->lock);
	if (st->nstreams && !(entries = calloc(st->nstreams, size))) {
		pthread_mutex_unlock(&st->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->nstreams; i++)
		add_counts(slot(entries, &n, st->streams[i]), st->streams[i]);
	pthread_mutex_unlock(&st->lock);
	*out = entries;
	*count = n;
	return 0;
}

static struct qos_stream_counts *host_slot(void *entries, size_t *n, const struct qos_stream *s)
{
	struct qos_host_counts *hosts = entries;
	size_t h = 0;
	while (h < *n && strcmp(hosts[h].host, s->host))
		h++;
	if (h == *n)
		memcpy(hosts[(*n)++].host, s->host, sizeof(s->host));
	return &hosts[h].counts;
}

static struct qos_stream_counts *volume_slot(void *entries, size_t *n, const struct qos_stream *s)
{
	struct qos_volume_counts *vols = entries;
	size_t v = 0;
	while (v < *n && vols[v].volume_id != s->volume_id)
		v++;
	if (v == *n)
		vols[(*n)++].volume_id = s->volume_id;
	return &vols[v].counts;
}

int qos_stats_hosts(struct qos_stats *st, struct qos_host_counts **out, size_t *count)
{
	void *entries = NULL;
	int rc = sum_streams(st, sizeof(**out), host_slot, &entries, count);
	*out = entries;
	return rc;
}

int qos_stats_volumes(struct qos_stats *st, struct qos_volume_counts **out, size_t *count)
{
	void *entries = NULL;
	int rc = sum_streams(st, sizeof(**out), volume_slot, &entries, count);
	*out = entries;
	return rc;
}

/* ---- groups ------------------------------------------------------------------- */

static bool group_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n > QOS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

/* The group named so, made if new; NULL when out of memory. */
static struct qos_group *group_get(struct qos_stats *st, const char *name)
{
	for (size_t i = 0; i < st->ngroups; i++)
		if (strcmp(st->groups[i]->name, name) == 0)
			return st->groups[i];
	if (st->ngroups == st->groups_cap) {
		size_t cap = st->groups_cap ? st->groups_cap * 2 : 8;
		struct qos_group **groups = realloc(st->groups, cap * sizeof(*groups));
		if (!groups)
			return NULL;
		st->groups = groups;
		st->groups_cap = cap;
	}
	struct qos_group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->id = (unsigned)st->ngroups;
	strcpy(g->name, name);
	st->groups[st->ngroups++] = g;
	return g;
}

int qos_stats_set_group(struct qos_stats *st, uint64_t volume_id, const char *group)
{
	if (!st || !group || !group_name_valid(group))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&st->lock);
	struct qos_group *g = NULL;
	size_t at = 0;
	while (at < st->nmembers && st->members[at].volume_id != volume_id)
		at++;
	if (*group && !(g = group_get(st, group))) {
		rc = -ENOMEM;
		goto out;
	}
	if (!g) {
		if (at < st->nmembers)
			st->members[at] = st->members[--st->nmembers];
	} else if (at < st->nmembers) {
		st->members[at].group = g;
	} else {
		if (st->nmembers == st->members_cap) {
			size_t cap = st->members_cap ? st->members_cap * 2 : 16;
			struct volume_group *m = realloc(st->members, cap * sizeof(*m));
			if (!m) {
				rc = -ENOMEM;
				goto out;
			}
			st->members = m;
			st->members_cap = cap;
		}
		st->members[st->nmembers++] = (struct volume_group){ volume_id, g };
	}
	for (size_t i = 0; i < st->nstreams; i++)
		if (st->streams[i]->volume_id == volume_id)
			st->streams[i]->group = g;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}
