/*
 * qos.h - IO statistics per host, volume, VM (group of volumes) and for the
 * appliance: IOPS, bytes per second, average and p99 latency, kept at 1 s
 * resolution for the last hour in memory and at 1 min resolution for
 * 7 days in the pool.  The PARDA window control (later) reads the same
 * per-host numbers.
 *
 * Recording.  A stream counts the IO of one (host, volume) pair.  Its
 * counters are cumulative 64-bit atomics (relaxed): IOs and bytes by
 * direction, the latency sum, and a latency histogram; recording one IO is
 * four atomic adds and no lock, from any thread.  Streams are never freed
 * before the registry, so a target keeps the pointer it looked up (per
 * session LUN, per NFS client and file) for as long as it likes.
 *
 * Histogram.  Log-linear in nanoseconds: values below 16 ns have a bucket
 * each; above, every power of two [2^e, 2^(e+1)) is cut into 16 equal
 * buckets, up to 2^40 ns (18 minutes; longer IOs count in the last bucket).
 * A percentile is reported as the middle of the bucket holding its rank, so
 * it is within 1/32 (3.2%) of the true value.  p99 is the smallest latency
 * that at least 99% of the IOs did not exceed (rank ceil(0.99 n)).
 *
 * Sampling.  qos_history_sample(now) takes the difference of every stream's
 * counters since the previous sample and credits it to the seconds
 * [previous, now) (one second at the first sample): to the series
 * "appliance", "host:<host>", "volume:<id>" and "group:<name>" when the
 * volume is in a group at that moment.  A sample that comes late (the
 * seconds it covers are more than one) spreads the counts evenly over them,
 * the latency histogram going to the last one, and the other seconds take
 * its p99; at most an hour is filled so.  Every series known has a point
 * for every second sampled (zeros when idle); the in-memory ring holds the
 * last 3600.  A sample at or before the previous one is refused (-EAGAIN)
 * and its counts wait for the next.
 *
 * Minutes.  When a sample passes a minute boundary, each series that had
 * IO in the minute just ended gets a record in the pool; a minute without
 * IO has none (query shows no point: no IO, or the daemon was not
 * running).  Records are integer totals (IOs, bytes, latency sum, p99), so
 * coarser rollups can be made from them exactly.  Records older than 7 days
 * (QOS_HISTORY_KEEP_S) are deleted as minutes pass; one synced write batch
 * per minute holds the new records and the deletions.
 *   Q/s/<series>                  marker: the series has minute records
 *   Q/m/<series>/<unix_s, 12 digits>   "1 rios wios rbytes wbytes latsum_ns p99_ns"
 * <series> is the series name with bytes outside 0x21..0x7e, '%' and '/'
 * written as %XX; a series whose key would pass COWSTORE_CONFIG_KEY_MAX is
 * kept in memory only.
 *
 * Groups are not persisted: the management layer sets them at start and
 * whenever a VM's disks change.  A group name is 1..QOS_NAME_MAX printable
 * ASCII bytes.
 *
 * Threading.  The registry's mutex guards stream creation, groups and the
 * sampling pass over streams; the history's mutex guards its series (lock
 * order: history, then registry).  qos_history_sample() writes to the pool
 * while holding the history mutex, so a query may wait for one synced
 * write; a query at 60 s resolution reads the pool without it.
 */
#ifndef SLATE_QOS_H
#define SLATE_QOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cowstore;

#define QOS_NAME_MAX 63u           /* group names */
#define QOS_HOST_MAX 255u          /* host names (longer ones are cut) */
#define QOS_HISTORY_SECONDS 3600u  /* 1 s points kept in memory per series */
#define QOS_HISTORY_KEEP_S (7 * 86400) /* minute records kept in the pool */

struct qos_stats;    /* the registry: one per daemon */
struct qos_stream;   /* counters of one (host, volume) pair; owned by the registry */

/* The caller owns *out and frees it with qos_stats_destroy(), after every
 * history on it and once no thread records any more. */
int qos_stats_create(struct qos_stats **out);
void qos_stats_destroy(struct qos_stats *st);

/* The stream for host (iSCSI initiator name, or NFS client address) on
 * volume_id; created on first use, lives until qos_stats_destroy.  Targets
 * look it up once per session/LUN (or per NFS client and file) and keep
 * the pointer.  NULL only on allocation failure (or NULL arguments).  Any
 * thread; takes the registry mutex. */
struct qos_stream *qos_stats_stream(struct qos_stats *st, const char *host, uint64_t volume_id);

/* Hot path, any thread, lock-free (atomics): one completed IO. */
void qos_stream_record(struct qos_stream *s, bool write, uint32_t bytes, uint64_t latency_ns);

/* The cumulative counters of a stream since it was made (each one exact;
 * read while IO is recorded, they may be a few IOs apart). */
struct qos_stream_counts {
	uint64_t read_ios, write_ios;
	uint64_t read_bytes, write_bytes;
	uint64_t latency_sum_ns;
};
void qos_stream_counts(const struct qos_stream *s, struct qos_stream_counts *out);

/* Group volumes (a VM): a volume belongs to at most one group; "" removes it.
 * Series for the group are the sum of its volumes.  -EINVAL for a bad
 * name, -ENOMEM. */
int qos_stats_set_group(struct qos_stats *st, uint64_t volume_id, const char *group);

/* The monotonic clock the targets time IOs with, in nanoseconds. */
static inline uint64_t qos_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- history (1 s points for the last hour in memory; 1 min points in the
 * pool's metadata for 7 days) ---- */
struct qos_point {
	int64_t unix_s;            /* start of the interval */
	uint32_t interval_s;       /* 1 or 60 */
	double read_iops, write_iops;
	double read_bytes_per_s, write_bytes_per_s;
	double avg_latency_us;     /* over reads and writes; 0 when no IO */
	double p99_latency_us;     /* from a latency histogram, <= ~4% relative error */
};
/* series names: "appliance", "host:<name>", "volume:<id>", "group:<name>" */
struct qos_history;
/* cs may be NULL (no persistence, e.g. unit tests: resolution 60 then has
 * no points).  The caller owns *out; qos_history_destroy() frees it, before
 * qos_stats_destroy(st) and cowstore_close(cs). */
int qos_history_create(struct qos_stats *st, struct cowstore *cs, struct qos_history **out);
void qos_history_destroy(struct qos_history *h);
/* Take one sample of every stream at now_unix_s (the daemon calls it once a
 * second from its own thread; tests call it with a simulated clock): 1 s
 * points go to in-memory rings (3600 per series), each completed minute is
 * rolled up and written to the pool (prefix "Q/"), and minute records older
 * than 7 days are deleted.  Returns 0 or negative errno (-EAGAIN: not after
 * the previous sample; -EIO: the pool write failed, the minute is lost). */
int qos_history_sample(struct qos_history *h, int64_t now_unix_s);
/* Points of one series with since_unix_s <= t < until_unix_s at resolution
 * 1 (memory) or 60 (the pool), oldest first; *out malloc'ed (NULL when
 * *count is 0), caller frees.  -ENOENT no such series; -EINVAL another
 * resolution. */
int qos_history_query(struct qos_history *h, const char *series, unsigned resolution_s,
		      int64_t since_unix_s, int64_t until_unix_s,
		      struct qos_point **out, size_t *count);
/* Names of all series known (memory or pool), sorted; *names malloc'ed array of malloc'ed strings. */
int qos_history_series(struct qos_history *h, char ***names, size_t *count);
void qos_history_series_free(char **names, size_t count);

#endif /* SLATE_QOS_H */
