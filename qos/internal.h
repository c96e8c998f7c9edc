/*
 * internal.h - what the files of qos/ share; private to the module.
 *
 * Lock order: qos_history.lock, then qos_stats.lock.  A stream's counters
 * are atomics written by any thread; its other fields are set at creation,
 * except group, which changes under qos_stats.lock.
 */
#ifndef SLATE_QOS_INTERNAL_H
#define SLATE_QOS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "qos/qos.h"

/* ---- the latency histogram (log-linear in ns; see qos.h) ---------------- */

#define HIST_SUB_BITS 4u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40u /* 2^40 ns and above share the last bucket */
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)

static inline unsigned hist_bucket(uint64_t ns)
{
	if (ns < HIST_SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= HIST_SUB_BITS */
	if (e >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
	       (unsigned)((ns >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The value a bucket stands for: its middle (exact below HIST_SUB). */
double hist_bucket_value_ns(unsigned bucket);
/* The latency at quantile q (0 < q <= 1) of total IOs counted in hist: the
 * middle of the bucket holding rank ceil(q * total); 0 when total is 0. */
double hist_quantile_ns(const uint64_t *hist, uint64_t total, double q);

/* ---- names in record keys (keyname.c) -------------------------------------- */

/* name %XX-escaped into out[size]; its length, or -1 when it does not fit. */
int qos_key_escape(const char *name, char *out, size_t size);
/* The name back; false when in is not an escaped name or does not fit. */
bool qos_key_unescape(const char *in, char *out, size_t size);

/* ---- the registry (stats.c) ----------------------------------------------- */

struct qos_group {
	unsigned id;             /* index in qos_stats.groups */
	char name[QOS_NAME_MAX + 1];
};

struct qos_stream {
	/* hot: written by every IO */
	_Alignas(64) _Atomic uint64_t ios[2];     /* [0] reads, [1] writes */
	_Atomic uint64_t bytes[2];
	_Atomic uint64_t latency_sum_ns;
	_Alignas(64) _Atomic uint64_t hist[HIST_BUCKETS];
	/* cold */
	_Alignas(64) struct qos_stream *hash_next;
	unsigned index;          /* in qos_stats.streams */
	uint64_t volume_id;
	struct qos_group *group; /* qos_stats.lock; NULL: none */
	char host[QOS_HOST_MAX + 1];
};

struct volume_group {
	uint64_t volume_id;
	struct qos_group *group;
};

struct qos_stats {
	pthread_mutex_t lock;    /* everything below */
	struct qos_stream **table; /* hash of (host, volume) */
	size_t table_size;
	struct qos_stream **streams; /* by index; never shrinks */
	size_t nstreams, streams_cap;
	struct qos_group **groups;   /* by id; never freed before the registry */
	size_t ngroups, groups_cap;
	struct volume_group *members; /* volume -> group, unordered */
	size_t nmembers, members_cap;
};

/* ---- the history (history.c, history_pool.c) ------------------------------ */

#define KEY_NAME_MAX 238u /* "Q/m/" + name + "/" + 12 digits fits a config key */

/* Counts over an interval. */
struct accum {
	uint64_t ios[2], bytes[2], latency_sum_ns;
	uint64_t hist[HIST_BUCKETS];
};

struct series {
	struct series *hash_next;
	char *name;
	char key[KEY_NAME_MAX + 1]; /* name as written in pool keys; "": memory only */
	bool live;               /* fed by a stream of this run: has 1 s points */
	struct qos_point *ring;  /* QOS_HISTORY_SECONDS when live; unix_s INT64_MIN: empty */
	struct accum pending;    /* counts of this sample, not yet credited */
	bool pending_any;
	struct accum minute;     /* the minute in progress */
	int64_t minute_start;    /* INT64_MIN: none yet */
	bool minute_any;         /* the minute had IO */
	bool marker;             /* its Q/s/ marker is in the pool */
	int64_t oldest_s;        /* oldest minute record in the pool: INT64_MAX none,
				  * INT64_MIN not known (found at the next prune) */
};

/* A stream as the history last saw it: its counters then, and its series. */
struct track {
	uint64_t ios[2], bytes[2], latency_sum_ns;
	uint64_t hist[HIST_BUCKETS];
	struct series *host, *volume;
};

struct cowstore_config_change;

struct qos_history {
	pthread_mutex_t lock;    /* everything below */
	struct qos_stats *st;
	struct cowstore *cs;     /* NULL: no persistence */
	struct series **table;   /* hash by name */
	size_t table_size;
	struct series **all;     /* every series, in creation order */
	size_t nseries, cap;
	struct series *appliance;
	struct track **tracks;   /* by stream index */
	size_t tracks_cap;
	struct series **group_series; /* by group id */
	size_t ngroup_series;
	int64_t last_s;          /* the previous sample */
	bool have_last;
	struct cowstore_config_change *batch; /* pool changes of this sample */
	size_t nbatch, batch_cap;
};

struct series *history_find(struct qos_history *h, const char *name);
/* The series so named, made when new (live: with its ring); NULL: no memory. */
struct series *history_series_get(struct qos_history *h, const char *name, bool live);
void history_point(struct qos_point *p, int64_t unix_s, uint32_t interval_s,
		   const uint64_t ios[2], const uint64_t bytes[2], uint64_t latency_sum_ns,
		   double p99_ns);

/* history_pool.c */
/* name as written in keys into key[size]; "" when it would not fit. */
void history_key_name(const char *name, char *key, size_t size);
/* Learn the series that have records (their markers). */
int history_pool_load(struct qos_history *h);
/* Queue the record of a finished minute (and the series' marker). */
void history_pool_put_minute(struct qos_history *h, struct series *s, const struct accum *m,
			     uint64_t p99_ns);
/* Queue the deletion of every record before cutoff_s. */
void history_pool_prune(struct qos_history *h, int64_t cutoff_s);
/* Write the queued changes as one synced batch; -EIO when that failed. */
int history_pool_flush(struct qos_history *h);
void history_batch_clear(struct qos_history *h);
int history_pool_query(struct qos_history *h, const char *key, int64_t since_s,
		       int64_t until_s, struct qos_point **out, size_t *count);

/* ---- QoS control (cost.c, table.c, mclock.c, threshold.c, anomaly.c,
 * controller.c); none has a lock of its own except the memory table and the
 * controller (which calls the others under its mutex). ---------------------- */

#define COST_CLASSES 16

struct cost_obs {
	double ios, mean_bytes, latency_us;
};

struct qos_cost {
	uint32_t ref_bytes;
	double decay;
	struct cost_obs *obs;    /* this period's */
	size_t nobs, obs_cap;
	double sxx, sxy;         /* decayed sums of within-period deviations */
	double slope_us_per_byte;
	bool slope_known, pinned;
	double fixed_us;         /* 0: not known */
	struct cost_floor {
		bool set;
		double latency_us, mean_bytes;
	} floor[2][COST_CLASSES];    /* [0] the block in progress, [1] the one before */
	unsigned floor_age;      /* periods into the current block */
	uint64_t periods;
};

struct table_row {
	struct qos_table_entry e;
};

struct qos_table {
	struct cowstore *cs;     /* NULL: memory */
	pthread_mutex_t lock;    /* memory rows */
	struct table_row *rows;
	size_t nrows, rows_cap;
};

/* table.c: the record format, shared with its test through these two */
int table_entry_format(const struct qos_table_entry *e, char *buf, size_t size);
int table_entry_parse(const char *buf, size_t len, struct qos_table_entry *e);

#endif /* SLATE_QOS_INTERNAL_H */
