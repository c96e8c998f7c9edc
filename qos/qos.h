/*
 * qos.h - IO statistics per host, volume, VM (group of volumes) and for the
 * appliance: IOPS, bytes per second, average and p99 latency, kept at 1 s
 * resolution for the last hour in memory and at 1 min resolution for
 * 7 days in the pool.  The QoS control below (PARDA windows per host,
 * mClock per VM) is fed from the same streams' counters.
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

/* Every host's counters summed over its streams (cumulative, like a
 * stream's), for the QoS loop to take each period's difference; *out is
 * malloc'ed (NULL when *count is 0), the caller frees it.  Takes the
 * registry mutex.  0 or -ENOMEM. */
struct qos_host_counts {
	char host[QOS_HOST_MAX + 1];
	struct qos_stream_counts counts;
};
int qos_stats_hosts(struct qos_stats *st, struct qos_host_counts **out, size_t *count);
/* The same per volume (summed over the hosts that use it). */
struct qos_volume_counts {
	uint64_t volume_id;
	struct qos_stream_counts counts;
};
int qos_stats_volumes(struct qos_stats *st, struct qos_volume_counts **out, size_t *count);

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


/* =========================================================================
 * QoS control: PARDA windows per host, mClock scheduling per VM.
 *
 * The pieces below are pure computation over numbers the caller hands in
 * (no threads, no clocks of their own: every call takes the time), so the
 * simulator in tests/unit/qos/sim.h drives them exactly as slated will.
 * Units: latency in microseconds (double), time in milliseconds (int64,
 * the table's and controller's) or nanoseconds (uint64, mClock's, the
 * targets' qos_now_ns()).  "Normalized" means "as if every IO were the
 * reference size" (QOS_REF_IO_BYTES), by the cost model below.
 * ========================================================================= */

/* ---- cost model (cost.c) -------------------------------------------------
 *
 * cost(size) = a + b * size, in microseconds, learned online per pool.
 *
 *   b (us per byte) is the least-squares slope of latency on IO size
 *     *within* each period: every period the IO-weighted means of that
 *     period's observations (one per stream: a (host, volume) pair) are
 *     subtracted before the pairs are added to exponentially decayed sums
 *     (forgetting factor `decay` per period).  Queueing delay is common to
 *     all IOs of a period and drops out, so b is the device's transfer cost
 *     even while the queue length changes.  It needs two streams of
 *     different mean sizes in some period; until then b is 0.
 *   a (us) is the device's fixed cost: the smallest (latency - b * size)
 *     over the fastest period (at least QOS_COST_MIN_IOS IOs) of a stream
 *     of each size class (powers of two) seen in the last QOS_COST_FLOOR_
 *     PERIODS to twice that, re-derived with the current b.  It is exact
 *     once the pool has been seen lightly loaded (hosts start at the
 *     minimum window, so it is at start-up); a pool never seen so
 *     overestimates it, and large IOs are then charged too little.
 *     qos_cost_pin() sets a and b from a device's known figures.
 *   In a closed loop the within-period slope reads b short by about 1/C
 *   (C: the device's parallel channels): an IO finds its own host's other
 *   IOs ahead of it, and a large-IO host's are the large ones.
 *
 * Latency normalization (what PARDA compares and what the table holds):
 *   L_norm = L - b * (mean_size - ref)  =  L - cost(mean_size) + cost(ref)
 * i.e. the stream's measured latency with its own transfer time replaced
 * by a reference IO's.  Additive, not a ratio: the queueing part of a
 * latency is shared by every IO waiting in the same queue and does not
 * grow with the IO's own size, so dividing by size (or by cost) would make
 * large-IO hosts look fast and break the common signal that PARDA needs.
 * The reference size is 8 KiB: about the typical random IO of VM disks,
 * so the normalized latency of a typical host is its measured latency and
 * a threshold L set by an administrator keeps its usual meaning.
 *
 * IO cost (what windows and mClock count): units(size) = cost(size) /
 * cost(ref), so a reference IO is 1 and a 64 KiB IO on a disk whose
 * transfer time dominates counts several.
 */
#define QOS_REF_IO_BYTES 8192u
#define QOS_COST_MIN_IOS 32u          /* per stream and period, for a */
#define QOS_COST_FLOOR_PERIODS 3600u  /* a: min over the last 3600..7200 periods */

struct qos_cost;
struct qos_cost_params {
	uint32_t ref_bytes;
	double fixed_us;          /* a; 0 until known */
	double us_per_kib;        /* b * 1024 */
	bool fixed_known, slope_known, pinned;
	uint64_t periods;         /* periods folded in */
};
/* ref_bytes 0: QOS_REF_IO_BYTES; decay in (0, 1], e.g. 0.98 per period.
 * The caller owns *out (qos_cost_destroy). */
int qos_cost_create(uint32_t ref_bytes, double decay, struct qos_cost **out);
void qos_cost_destroy(struct qos_cost *m);
/* One stream's IO over the period being collected. */
void qos_cost_observe(struct qos_cost *m, uint64_t ios, uint64_t bytes, uint64_t latency_sum_ns);
/* Fold the period's observations into the model. */
void qos_cost_end_period(struct qos_cost *m);
/* A known device: a and b fixed, learning stops; fixed_us < 0 learns again. */
void qos_cost_pin(struct qos_cost *m, double fixed_us, double us_per_kib);
void qos_cost_params(const struct qos_cost *m, struct qos_cost_params *out);
/* The latency a stream of mean IO size mean_bytes would have had with
 * reference-size IOs (never below 5% of latency_us). */
double qos_cost_normalize_us(const struct qos_cost *m, double latency_us, double mean_bytes);
/* Cost of an IO of `bytes` in reference IOs (1 until a is known). */
double qos_cost_units(const struct qos_cost *m, double bytes);

/* ---- shared latency table (table.c) ---------------------------------------
 *
 * Every period each controller publishes one entry per host it manages and
 * reads everybody's; the IO-weighted average of the normalized latencies
 * of fresh entries is the cluster latency L-bar.  The controllers share
 * nothing else.  Two backends:
 *   pool:   configuration records of the pool (cowstore_config_*), so that
 *           several slated processes serving one pool share them; a
 *           controller's entries go in one synced batch per period.
 *             Q/t/<node>/<host>  "2 time_ms latency_us ios window
 *                                 outstanding shares period_ms node host
 *                                 window_held"
 *           <node> and <host> written as in history keys (%XX escapes); a
 *           host whose key would be too long is keyed "#<64-bit hash>".
 *           A record of version 1 (no window_held) reads as window_held =
 *           window.  Entries older than QOS_TABLE_FORGET_MS are deleted by
 *           readers.
 *   memory: the same in a process (the simulator; tests); thread-safe.
 * Times are the controllers' clock: slated uses wall-clock milliseconds
 * (CLOCK_REALTIME), so that processes on one machine agree.
 */
#define QOS_TABLE_FORGET_MS (10 * 60 * 1000)

struct qos_table_entry {
	char node[QOS_NAME_MAX + 1];  /* the publishing process */
	char host[QOS_HOST_MAX + 1];
	int64_t time_ms;              /* end of the period it describes */
	double latency_us;            /* normalized average latency (0: no IO) */
	uint64_t ios;                 /* IOs completed in the period */
	double window;                /* its PARDA window, in reference IOs */
	double window_held;           /* the window enforced over the period (whole IOs),
					 in reference IOs */
	double outstanding;           /* average reference IOs in flight */
	uint32_t shares;
	uint32_t period_ms;
};
struct qos_table;
/* The caller owns *out (qos_table_destroy, after every controller on it). */
int qos_table_create_memory(struct qos_table **out);
/* cs stays the caller's; it must outlive the table. */
int qos_table_create_pool(struct cowstore *cs, struct qos_table **out);
void qos_table_destroy(struct qos_table *t);
/* Write entries (each replaces the one of its node and host; node: 1..
 * QOS_NAME_MAX printable bytes, host 1..QOS_HOST_MAX) in one batch. */
int qos_table_publish(struct qos_table *t, const struct qos_table_entry *entries, size_t count);
int qos_table_remove(struct qos_table *t, const char *node, const char *host);
/* Entries with now_ms - max_age_ms <= time_ms (fresh), any order; *out
 * malloc'ed (NULL when *count is 0), caller frees. */
int qos_table_read(struct qos_table *t, int64_t now_ms, int64_t max_age_ms,
		   struct qos_table_entry **out, size_t *count);
/* IO-weighted average normalized latency of entries; 0 when none had IO. */
double qos_table_average_us(const struct qos_table_entry *entries, size_t count);

/* ---- PARDA window control (parda.c) ----------------------------------------
 *
 * The paper's law (FAST'09 eq. 2), per host h and period t:
 *   w(t+1) = (1 - gamma) w(t) + gamma (L / Lbar(t) * w(t) + beta_h)
 * where L is the threshold, Lbar(t) the cluster-wide average latency (the
 * table's, not the host's own: local latencies diverge, section 4 of the
 * paper), beta_h = beta_per_share * shares_h, and w is clamped to
 * [window_min, window_max].  Its fixed point is w_h = beta_h Lbar /
 * (Lbar - L): windows in proportion to beta (so to shares), and Lbar
 * settles *above* L by the factor W / (W - B) (W, B: sums of windows and
 * betas), so beta must stay small against W to keep latency near L; but
 * the share split then converges only by the factor (1 - gamma B / W) per
 * period: slowly (the paper reports ~160 s with 2 s periods).
 *
 * QOS_PARDA_TARGET (the default) separates the two jobs, still from the
 * table alone.  By Little's law the reference IOs in flight over the
 * cluster, N, give Lbar = N / X at throughput X; the total window that
 * would give latency L at the same throughput is N * L / Lbar (its factor
 * bounded by step_max per period).  Every host computes the same total and
 * splits it by the published shares, weighted max-min: a host using less
 * than 80% of its window (demand-limited) is given its use plus 50% and
 * the rest goes to the others in proportion to shares.  Each host moves
 * its window by gain (default 0.6) of the way to its part.
 *   In N a demand-limited host counts its `outstanding`, and a host held by
 * its window its window_held (or `outstanding` if more, as when its window
 * has just shrunk): a real initiator never keeps its window full, a freed
 * slot idles for the client's round trip (bench/qos.sh: 0.87 of a window
 * in flight), and scaling only what is in flight would settle Lbar at that
 * fraction of L.  Fixed point: with every host held by its window, Lbar =
 * L * (sum of window_held) / (sum of window), i.e. L but for the rounding
 * of windows to whole IOs; the headroom of demand-limited hosts is not in
 * flight and takes Lbar under that by half their `outstanding` over X.
 * tests/unit/qos/test_parda.c measures both laws on the simulated device.
 */
enum qos_parda_law { QOS_PARDA_TARGET = 0, QOS_PARDA_PLAIN = 1 };

struct qos_parda_config {
	enum qos_parda_law law;
	double gamma;            /* plain: smoothing, (0, 1] */
	double beta_per_share;   /* plain: beta_h = beta_per_share * shares_h */
	double gain;             /* target: fraction of the way per period, (0, 1] */
	double step_max;         /* target: largest factor of the total per period (> 1) */
	double window_min, window_max;   /* reference IOs */
	double window_initial;   /* a host's first window */
};
/* Defaults: target law, gamma 0.2, beta_per_share 0.001 (1 per 1000 shares,
 * the API's default), gain 0.6, step_max 2, window 1..256, initial 1
 * (a host starts small: the pool is seen lightly loaded, see the cost model). */
void qos_parda_config_default(struct qos_parda_config *cfg);
/* Host self's next window.  self is its entry as published this period
 * (shares, window, outstanding); entries are the table's fresh ones (self
 * among them or not); lbar_us the latency the law uses (the table's average,
 * maybe smoothed).  Lbar 0 (no IO anywhere): the window stays. */
double qos_parda_next_window(const struct qos_parda_config *cfg, double threshold_us,
			     double lbar_us, const struct qos_table_entry *self,
			     const struct qos_table_entry *entries, size_t count);

/* ---- mClock scheduling among VMs (mclock.c) -------------------------------
 *
 * Requests admitted by their host's window wait here for the device.  Each
 * VM has a reservation (IOPS it is owed), a limit (IOPS it may not pass)
 * and shares (its part of the rest); IOPS count reference IOs (a request's
 * cost, from qos_cost_units).  Tags as in mClock (Gulati, Merchant, Varman,
 * OSDI'10), computed when a request reaches the head of its VM's queue:
 *   R = max(R + cost / reservation, arrival)
 *   L = max(L + cost / limit, arrival)
 *   P = max(P + cost / shares, arrival-time virtual clock)
 * dequeue(now): a request whose R <= now first (smallest R); otherwise,
 * among VMs whose L <= now, the smallest P; when the reservation phase
 * served a VM, its P tags go back by cost / shares, so that reserved IO is
 * not charged twice.  Otherwise nothing is eligible: "wait until" the
 * smallest R or L tag.  P of a VM that becomes busy starts at the smallest
 * P among busy VMs, so an idle VM does not bank credit.  Three indexed
 * heaps (R; L of VMs over their limit; P of VMs under it): O(log VMs) per
 * call.  Requests are the caller's (struct qos_mclock_req embedded in its
 * IO); the scheduler allocates only per VM.  Not thread-safe: the caller
 * serializes (one per pool, under the dispatch lock).
 */
struct qos_mclock;
struct qos_mclock_req {
	struct qos_mclock_req *next;  /* scheduler's */
	uint64_t arrival_ns;          /* scheduler's */
	double cost;                  /* scheduler's */
	uint32_t vm;                  /* the VM it was queued for */
};
struct qos_mclock_policy {
	double reservation_iops;  /* 0: none */
	double limit_iops;        /* 0: none */
	uint32_t shares;          /* 1.. (0 is taken as 1) */
};
int qos_mclock_create(struct qos_mclock **out);
void qos_mclock_destroy(struct qos_mclock *s);
/* vm: a small integer chosen by the caller (its VM table's index); the
 * scheduler keeps an array up to the largest.  -EINVAL reservation above
 * limit or vm >= 1<<20. */
int qos_mclock_set_vm(struct qos_mclock *s, uint32_t vm, const struct qos_mclock_policy *p);
/* -EBUSY while it has requests queued; -ENOENT unknown. */
int qos_mclock_remove_vm(struct qos_mclock *s, uint32_t vm);
/* Queue req (cost > 0 reference IOs) for vm; -ENOENT unknown vm. */
int qos_mclock_enqueue(struct qos_mclock *s, uint32_t vm, struct qos_mclock_req *req,
		       double cost, uint64_t now_ns);
/* The request to dispatch now, or NULL: then *wait_until_ns is when one
 * becomes eligible (0: nothing queued).  *by_reservation (may be NULL)
 * tells which phase chose it. */
struct qos_mclock_req *qos_mclock_dequeue(struct qos_mclock *s, uint64_t now_ns,
					  uint64_t *wait_until_ns, bool *by_reservation);
size_t qos_mclock_queued(const struct qos_mclock *s);

/* ---- the gate: mClock in the IO path of the targets (gate.c) ---------------
 *
 * One per daemon, shared by the iSCSI and NFS targets: every cowstore
 * request of a data volume goes through qos_gate_submit() and, once its
 * done() runs, qos_gate_done().  While the gate is active (the management
 * plane gave at least one VM a policy), it lets at most `capacity` requests
 * be in flight in the pool and queues the others in an mClock scheduler
 * (above): reservation first, then shares, and a VM over its limit waits
 * even when there is room (a timer thread releases it when its limit tag
 * comes).  A queued request is submitted later by whichever thread frees
 * room or the timer: cowstore_submit() is safe from any thread and done()
 * still runs on the request's own queue.  A deferred submit that fails is
 * completed with its error through the request's queue
 * (cowstore_io_fail), so the target sees it as any failed IO.
 *
 * Volumes map to VMs (small ids 1..QOS_GATE_VM_MAX chosen by the caller);
 * a volume in no VM with a policy is in the "unmanaged" class, id 0: it
 * competes like a VM with QOS_GATE_DEFAULT_SHARES shares and no
 * reservation or limit, so reservations hold against unmanaged load too.
 * Cost: READ and WRITE cost qos_cost_units(bytes) with the parameters
 * set by qos_gate_set_cost (1 until then); other requests (FLUSH, COPY,
 * WRITE_ZEROES, DISCARD: no data transfer) cost 1.
 *
 * Inactive (the default; QoS off or no VM with a policy): submit is one
 * relaxed atomic load and cowstore_submit, done() one branch; nothing is
 * counted.  Requests in flight when it turns active are not counted;
 * requests queued when it turns inactive are released at once.
 *
 * Threading: every call may come from any thread; one mutex guards the
 * scheduler, the maps and the counters; submissions and failure
 * completions happen after it is dropped.
 */
#define QOS_GATE_VM_MAX 4096u
#define QOS_GATE_DEFAULT_CAPACITY 64u
#define QOS_GATE_DEFAULT_SHARES 1000u

struct cowstore_io;
struct qos_gate;

/* Embedded in the target's per-IO structure next to its cowstore_io; every
 * field is the gate's.  Zeroed, or left by a previous qos_gate_done(). */
struct qos_gate_req {
	struct qos_mclock_req mclock;
	struct cowstore *cs;
	struct cowstore_io *io;
	bool counted;             /* in the gate's in-flight count */
};

/* Hooks for tests (NULL: the real ones).  submit is cowstore_submit; fail
 * completes io with result through its queue (cowstore_io_fail); now is
 * qos_now_ns. */
typedef int (*qos_gate_submit_fn)(void *arg, struct cowstore *cs, struct cowstore_io *io);
typedef int (*qos_gate_fail_fn)(void *arg, struct cowstore_io *io, int result);
typedef uint64_t (*qos_gate_clock_fn)(void *arg);
struct qos_gate_config {
	uint32_t capacity;        /* 0: QOS_GATE_DEFAULT_CAPACITY */
	qos_gate_submit_fn submit;
	qos_gate_fail_fn fail;
	qos_gate_clock_fn now;
	void *hook_arg;
	bool no_timer;            /* tests: no thread; qos_gate_poll() instead */
};
/* cfg may be NULL (defaults).  The caller owns *out (qos_gate_destroy,
 * once no target submits any more and nothing is in flight). */
int qos_gate_create(const struct qos_gate_config *cfg, struct qos_gate **out);
void qos_gate_destroy(struct qos_gate *g);

/* Submit io (io->volume_id says whose it is) now or later.  g NULL: just
 * cowstore_submit.  Returns 0 (done() will run; call qos_gate_done from
 * it) or, as cowstore_submit, a negative errno for a request refused now
 * (done() will not run; nothing to undo). */
int qos_gate_submit(struct qos_gate *g, struct qos_gate_req *req, struct cowstore *cs,
		    struct cowstore_io *io);
/* From the request's done(), before it submits anything else with req:
 * frees its room and releases waiting requests (submitting them from this
 * thread).  g NULL or a request the gate did not count: nothing. */
void qos_gate_done(struct qos_gate *g, struct qos_gate_req *req);

/* Requests in flight at most (>= 1). */
void qos_gate_set_capacity(struct qos_gate *g, uint32_t capacity);
/* The cost model's a (us) and b (us per KiB), e.g. from
 * qos_controller_readout; ref_bytes 0: QOS_REF_IO_BYTES. */
void qos_gate_set_cost(struct qos_gate *g, double fixed_us, double us_per_kib,
		       uint32_t ref_bytes);
/* A VM's policy (name for the read-out); the gate is active while some VM
 * has one.  -EINVAL vm 0 or above QOS_GATE_VM_MAX, reservation above limit. */
int qos_gate_set_vm(struct qos_gate *g, uint32_t vm, const char *name,
		    const struct qos_mclock_policy *p);
/* Forget a VM: its volumes become unmanaged; requests it has queued go on
 * by default shares.  -ENOENT. */
int qos_gate_remove_vm(struct qos_gate *g, uint32_t vm);
/* Put a volume in VM vm (0: in none).  -ENOENT unknown VM, -ENOMEM. */
int qos_gate_set_volume_vm(struct qos_gate *g, uint64_t volume_id, uint32_t vm);
/* Remove every VM and volume: inactive; queued requests go now. */
void qos_gate_clear(struct qos_gate *g);
/* Tests without the timer: release what has become eligible at the
 * clock's now; returns when the next one will be (0: none waits on time). */
uint64_t qos_gate_poll(struct qos_gate *g);

struct qos_gate_vm_status {
	uint32_t vm;                       /* 0: the unmanaged class */
	char name[QOS_NAME_MAX + 1];       /* "" for vm 0 */
	struct qos_mclock_policy policy;
	uint32_t volumes;                  /* mapped to it */
	uint64_t queued;                   /* now */
	uint64_t dispatched_reservation;   /* since the VM was set */
	uint64_t dispatched_shares;
	uint64_t held_by_limit;            /* requests that waited for the limit with room free */
};
struct qos_gate_status {
	bool active;
	uint32_t capacity, inflight;
	uint64_t queued;
	uint64_t deferred;                 /* requests that ever waited */
	uint64_t deferred_errors;          /* deferred submits that failed */
	struct qos_gate_vm_status *vms;    /* vm 0 first, then by id */
	size_t nvms;
};
/* *out's array is malloc'ed (qos_gate_status_free).  0 or -ENOMEM. */
int qos_gate_status(struct qos_gate *g, struct qos_gate_status *out);
void qos_gate_status_free(struct qos_gate_status *s);

/* ---- latency threshold from the throughput curve (threshold.c) ------------
 *
 * SIOC's rule: L is the latency at which the pool gives about 90% of its
 * peak throughput.  Observations (average IOs in flight, normalized IOPS,
 * normalized latency; one per period) go into bins of the IOs in flight,
 * 4 per octave, each an exponentially weighted mean (weight `decay` for
 * the old value; a bin not observed keeps its value).  Estimate: the peak
 * is the largest bin mean; the knee the first bin, in order of IOs in
 * flight, reaching fraction * peak, its latency interpolated linearly (by
 * throughput) with the bin before.  It answers only once the curve has
 * flattened: a bin with at least 1.5 times the knee's IOs in flight holds
 * at least 97% of the peak.
 */
struct qos_threshold;
int qos_threshold_create(double fraction, double decay, struct qos_threshold **out);
void qos_threshold_destroy(struct qos_threshold *t);
void qos_threshold_observe(struct qos_threshold *t, double outstanding, double iops,
			   double latency_us);
/* 0 with the knee's latency (and, if not NULL, the peak and the knee's IOs
 * in flight), or -EAGAIN: not enough of the curve seen yet. */
int qos_threshold_estimate(const struct qos_threshold *t, double *latency_us,
			   double *peak_iops, double *knee_outstanding);

/* ---- anomaly: an external workload (anomaly.c) -----------------------------
 *
 * Latency above L, for `periods` periods in a row, while every active host
 * in the table is throttled (window <= throttle_factor * window_min) or
 * lightly loaded (outstanding <= light_fraction * window) means the load
 * comes from somewhere PARDA does not control: another client of the
 * device.  "Above L" is Lbar > (1 + tolerance) L.  since_ms is the end of
 * the first period of the streak, detected_ms that of the period that
 * raised it (the detection delay is detected_ms minus when the load came);
 * it ends after `periods` periods without the condition.  Measured on the
 * simulator (test_anomaly.c): a client taking most of the device is raised
 * 6.5 s (13 periods) after it starts under the target law; no event in runs
 * where managed hosts start and stop.  Under the plain law the windows stay
 * at beta * Lbar / (Lbar - L), above the minimum, and the rule does not fire.
 */
struct qos_anomaly_config {
	unsigned periods;        /* 3 */
	double tolerance;        /* 0.1 */
	double throttle_factor;  /* 1.5 */
	double light_fraction;   /* 0.5 */
};
struct qos_anomaly_state {
	bool active;
	int64_t since_ms, detected_ms;  /* of the current or last event; 0: none */
	int64_t ended_ms;               /* 0 while active or none */
	uint64_t events;                /* raised since creation */
	unsigned streak;                /* periods in a row with (active: without) the condition */
};
enum qos_anomaly_change { QOS_ANOMALY_NONE = 0, QOS_ANOMALY_STARTED = 1, QOS_ANOMALY_ENDED = 2 };
struct qos_anomaly;
void qos_anomaly_config_default(struct qos_anomaly_config *cfg);
int qos_anomaly_create(const struct qos_anomaly_config *cfg, struct qos_anomaly **out);
void qos_anomaly_destroy(struct qos_anomaly *a);
/* One period: what changed. */
enum qos_anomaly_change qos_anomaly_update(struct qos_anomaly *a, int64_t now_ms,
					   double threshold_us, double lbar_us,
					   double window_min,
					   const struct qos_table_entry *entries, size_t count);
void qos_anomaly_get(const struct qos_anomaly *a, struct qos_anomaly_state *out);

/* ---- the controller: one per slated process and pool (controller.c) -------
 *
 * Ties the above together.  The caller registers hosts (shares) and VMs
 * (policies), hands in each period's IO per (host, stream) -- deltas of
 * qos_stream_counts or its own sums -- and calls qos_controller_tick()
 * every period_ms.  A tick: folds the observations into the cost model,
 * normalizes each host's latency, publishes the hosts to the table, reads
 * it, forms Lbar (IO-weighted), feeds the threshold estimator (when L is
 * automatic), moves every host's window by the PARDA law and updates the
 * anomaly detector.  The targets then read each host's window in IOs
 * (qos_controller_window) and cost IOs for mClock (qos_controller_io_cost).
 *
 * Windows.  PARDA's window w is in reference IOs at the normalized
 * latency.  A host's window in IOs (what iSCSI's CmdSN window and NFS's
 * admission count) is w * (L_h / L_norm_h) / units(mean size_h): by
 * Little's law its size-normalized throughput is then w / L_norm_h, the
 * same per unit of window for every host whatever its IO sizes.
 *
 * Threading: every call takes the controller's mutex; ticks come from one
 * thread (slated's QoS timer), the others from any.
 */
enum qos_threshold_source {
	QOS_THRESHOLD_POLICY = 0,     /* configured */
	QOS_THRESHOLD_AUTOMATIC = 1,  /* estimated: latency at 90% of peak */
	QOS_THRESHOLD_DEFAULT = 2,    /* automatic, but no estimate yet */
};
struct qos_controller_config {
	char node[QOS_NAME_MAX + 1];  /* this process in the table; "" = "slated" */
	uint32_t period_ms;           /* 500 */
	double threshold_us;          /* L; 0: automatic */
	double threshold_default_us;  /* automatic without an estimate: 30000 */
	double threshold_fraction;    /* of peak throughput: 0.9 */
	double latency_alpha;         /* EWMA weight of the past on Lbar (paper's alpha): 0 */
	uint32_t ref_bytes;           /* QOS_REF_IO_BYTES */
	double cost_decay;            /* 0.98 per period */
	unsigned stale_periods;       /* table entries older are ignored: 3 */
	struct qos_parda_config parda;
	struct qos_anomaly_config anomaly;
};
void qos_controller_config_default(struct qos_controller_config *cfg);

struct qos_controller;
/* table stays the caller's (it may be shared by several controllers).  The
 * caller owns *out (qos_controller_destroy).  -EINVAL bad config. */
int qos_controller_create(const struct qos_controller_config *cfg, struct qos_table *table,
			  struct qos_controller **out);
void qos_controller_destroy(struct qos_controller *c);
/* Add a host or change its shares (1..); -EINVAL, -ENOMEM. */
int qos_controller_set_host(struct qos_controller *c, const char *host, uint32_t shares);
/* Forget a host and its table entry; -ENOENT. */
int qos_controller_remove_host(struct qos_controller *c, const char *host);
/* Change the threshold (0: automatic) or the law at run time. */
void qos_controller_set_threshold(struct qos_controller *c, double threshold_us);
void qos_controller_set_law(struct qos_controller *c, enum qos_parda_law law);
/* Pin the cost model to a known device (fixed_us < 0: learn again). */
void qos_controller_pin_cost(struct qos_controller *c, double fixed_us, double us_per_kib);
/* A VM's policy (IOPS in reference IOs); -EINVAL as qos_mclock_set_vm. */
int qos_controller_set_vm(struct qos_controller *c, uint32_t vm, const struct qos_mclock_policy *p);
int qos_controller_remove_vm(struct qos_controller *c, uint32_t vm);
int qos_controller_vm_policy(struct qos_controller *c, uint32_t vm, struct qos_mclock_policy *out);
/* IO of host over the current period, one call per stream (several calls
 * add up); -ENOENT unmanaged host (its IO is not counted). */
int qos_controller_observe(struct qos_controller *c, const char *host, uint64_t ios,
			   uint64_t bytes, uint64_t latency_sum_ns);
/* The same from two snapshots of a stream's counters. */
int qos_controller_observe_counts(struct qos_controller *c, const char *host,
				  const struct qos_stream_counts *before,
				  const struct qos_stream_counts *after);
/* End the period at now_ms (the table's clock) and compute the windows.
 * The first tick only starts a period.  -EAGAIN not after the previous
 * tick; a table error is returned after the windows were computed from
 * what could be read (0 otherwise). */
int qos_controller_tick(struct qos_controller *c, int64_t now_ms);
/* Host's window in IOs (>= 1), for the target to enforce; -ENOENT. */
int qos_controller_window(struct qos_controller *c, const char *host, uint32_t *window_ios);
/* Cost of one IO of `bytes` in reference IOs (for qos_mclock_enqueue). */
double qos_controller_io_cost(struct qos_controller *c, uint32_t bytes);

/* What the REST API shows.  qos_readout_free() frees the arrays. */
struct qos_readout_host {
	char host[QOS_HOST_MAX + 1];
	uint32_t shares;
	double window;           /* reference IOs */
	uint32_t window_ios;     /* what the target enforces */
	double latency_us;       /* normalized, last period (0: no IO) */
	double raw_latency_us;   /* measured */
	double iops, mean_bytes; /* last period */
	double outstanding;      /* reference IOs in flight, average */
};
struct qos_readout_vm {
	uint32_t vm;
	struct qos_mclock_policy policy;
};
struct qos_readout {
	int64_t time_ms;                     /* of the last tick */
	uint32_t period_ms;
	enum qos_parda_law law;
	double threshold_us;                 /* L in use */
	enum qos_threshold_source threshold_source;
	double peak_iops;                    /* automatic: the estimator's peak (0: none) */
	double cluster_latency_us;           /* Lbar: the table's IO-weighted average */
	size_t table_hosts;                  /* fresh entries read */
	struct qos_cost_params cost;
	struct qos_anomaly_state anomaly;
	struct qos_readout_host *hosts;
	size_t nhosts;
	struct qos_readout_vm *vms;
	size_t nvms;
};
int qos_controller_readout(struct qos_controller *c, struct qos_readout *out);
void qos_readout_free(struct qos_readout *r);

/* ---- per-pool load model (loadmodel.c) -------------------------------------
 *
 * A pool's latency as a line in its IOs in flight, the device model of
 * BASIL (Gulati et al., FAST'10) fitted online from periodic measurements
 * as Pesto (Gulati et al., SoCC'11) does:
 *
 *   latency_us = a + b * (oio - 1)        for oio >= 1
 *
 * oio is a period's average IOs in flight (reference IOs), latency its
 * average size-normalized latency.  a is the latency of a lone IO, b
 * (us per IO in flight) the device's slowness, 1/b its throughput P in
 * IOs per us.  The line is exact for C channels of mean service S, each
 * IO sent to a random one (disks behind a stripe), with exponential
 * service: the closed queueing network's states are equally likely, a
 * channel is busy with probability oio / (oio + C - 1), so by Little's
 * law latency = S + (S / C) (oio - 1): a = S, b = S / C.  A device with
 * one shared queue is flat up to C and then a line; the fit is the chord
 * over the range seen.  An IO sees at least itself in flight, so the line
 * is never used below 1.
 *
 * Samples: one per period.  Below 1 IO in flight the pool was idle part
 * of the period and its IOs saw more than its average (they queue behind
 * themselves), so such samples are ignored, as are non-finite ones: idle
 * periods neither add nor age anything.  A sample goes to a bin of IOs in
 * flight (4 per octave, 1 .. 2^14); a bin is the mean of its last ~16
 * samples (QOS_LOAD_BIN_SAMPLES, exponentially weighted after).
 *
 * Fit: weighted least squares over the bins.  A bin weighs its samples,
 * halved for every QOS_LOAD_HALF_LIFE_SAMPLES samples taken since it was
 * last seen, down to QOS_LOAD_STALE_WEIGHT; a bin not seen for
 * QOS_LOAD_FORGET_SAMPLES is dropped.  So the bins the load visits
 * outweigh those it left (up to 256 to 1) and the line follows a changed
 * device over the range the load visits, while a long steady load (one or
 * two bins) keeps the slope the bins it left give: their weights scale
 * out of the slope when the rest is one point.  A new sample's weight in
 * its bin is 1 / (the bin's weight + 1): a stale bin follows at once.
 * Fitted once the bins span a factor QOS_LOAD_MIN_SPREAD of IOs in flight
 * and hold QOS_LOAD_MIN_SAMPLES samples; a slope below 0 (noise on a
 * device that does not slow down) is taken as 0.
 *
 * Limits.  After a device change, a range the load has not visited since
 * keeps the old device's values at the stale weight; should the load then
 * stay at one level for hours, those and the refreshed bins weigh alike
 * and the line mixes both devices until the load moves again.  A device
 * that is flat up to its knee and seen only below it has a slope near 0.
 */
#define QOS_LOAD_BINS 56u                  /* 4 per octave, 1 .. 2^14 IOs in flight */
#define QOS_LOAD_MIN_OIO 1.0               /* below: idle, ignored */
#define QOS_LOAD_BIN_SAMPLES 16.0          /* a bin's memory */
#define QOS_LOAD_HALF_LIFE_SAMPLES 600.0   /* 5 min at 500 ms periods */
#define QOS_LOAD_STALE_WEIGHT 0.0625       /* samples */
#define QOS_LOAD_FORGET_SAMPLES 172800u    /* a day at 500 ms periods */
#define QOS_LOAD_MIN_SPREAD 2.0            /* largest / smallest IOs in flight of the bins */
#define QOS_LOAD_MIN_SAMPLES 8.0

/* Fixed size, no allocation: embed it.  The fields are loadmodel.c's. */
struct qos_load_model {
	uint64_t samples_taken;            /* not idle */
	struct qos_load_bin {
		double samples;            /* 0: empty; at most QOS_LOAD_BIN_SAMPLES */
		double oio, latency_us;    /* means */
		uint64_t last_seen;        /* samples_taken when last fed */
	} bins[QOS_LOAD_BINS];
};
struct qos_load_fit {
	bool fitted;               /* false: "unknown", and a, b are 0 */
	double unloaded_us;        /* a: a lone IO's latency */
	double us_per_io;          /* b: latency added per IO in flight (1/P) */
	double samples;            /* in the bins the fit rests on (each <= 16) */
	double oio_min, oio_max;   /* the bins' range of IOs in flight (0: none) */
	double r2;                 /* weighted; 1 when every bin is on the line */
};
void qos_load_model_init(struct qos_load_model *m);
/* One period's average IOs in flight and size-normalized latency. */
void qos_load_model_add(struct qos_load_model *m, double oio, double latency_us);
void qos_load_model_fit(const struct qos_load_model *m, struct qos_load_fit *out);
/* a + b (max(oio, 1) - 1); NAN when not fitted.  A known device's model
 * is a fit filled by hand (fitted, a, b). */
double qos_load_fit_predict(const struct qos_load_fit *f, double oio);

/* ---- migration advice between pools (advice.c) ----------------------------
 *
 * Which volume to move to which pool so that the worst pool's latency
 * drops: BASIL's greedy step (move load from the most loaded device to one
 * that takes it best, minimizing the larger of the two), one move at a
 * time, each applied to the inputs before the next is chosen.
 *
 * A pool's latency now is the measured one when it is loaded (at least 1
 * IO in flight), else its model's at its IOs in flight; with IOs in
 * flight changed by a move, it is the model's prediction plus the
 * model's error now (the measured minus the predicted latency), so a
 * model whose level has drifted still gives the change by its slope.  A
 * volume is taken to carry its IOs in flight with it (BASIL's workload
 * model; a closed loop).  An open workload (fixed IOPS) brings fewer to a
 * faster pool and the prediction errs high there.
 *
 * Pools without a fitted model take no part.  The source is the loaded
 * pool with the highest latency.  A move of volume v to pool d is advised
 * when all of these hold:
 *   - the source's latency now is above d's by the fraction margin and
 *     by margin_us;
 *   - d has free the volume's used bytes times (1 + headroom), plus
 *     headroom_bytes (the source's space is not counted back: snapshots
 *     may keep it);
 *   - gain = source now - max(source after, d after) is at least min_gain
 *     times the source's latency now;
 *   - d does not become the worse of the two by more than the gain
 *     (d after - source after <= gain): no overshoot that the next
 *     round would move back;
 *   - within a plan, v has not moved and no move went from d to the source.
 * Of those, the largest gain; ties go to the destination left with the
 * lower latency, then to fewer used bytes, the lower volume id and the
 * lower pool index.  No advice when no move passes, which covers one
 * pool, balanced pools and nothing loaded.
 */
#define QOS_ADVICE_POOLS_MAX 64u
#define QOS_ADVICE_REASON_MAX 400u

struct qos_advice_config {
	double margin;             /* 0.2 */
	double margin_us;          /* 1000 */
	double min_gain;           /* 0.1 */
	double headroom;           /* 0.1 */
	uint64_t headroom_bytes;   /* 1 GiB */
};
void qos_advice_config_default(struct qos_advice_config *cfg);

struct qos_advice_pool {
	char name[QOS_NAME_MAX + 1];   /* for the reason; "": "pool <index>" */
	struct qos_load_fit fit;
	double oio;                    /* average IOs in flight over the last period */
	double latency_us;             /* average size-normalized latency then (0: no IO) */
	uint64_t free_bytes;
};
struct qos_advice_volume {
	uint64_t volume_id;
	uint32_t pool;                 /* index in the pools array */
	double oio;                    /* its IOs in flight, as the pool's: IOPS x latency */
	double iops;                   /* for the reason */
	uint64_t used_bytes;
	char name[QOS_NAME_MAX + 1];   /* for the reason; "": the id */
};
struct qos_advice_move {
	uint64_t volume_id;
	uint32_t from_pool, to_pool;
	double from_before_us, from_after_us;  /* before: after the plan's earlier moves */
	double to_before_us, to_after_us;
	double gain_us;
	char reason[QOS_ADVICE_REASON_MAX];    /* one line */
};
/* Plan up to max_moves moves into moves[], their number in *nmoves.  cfg
 * NULL: the defaults.  -EINVAL: more than QOS_ADVICE_POOLS_MAX pools, a
 * volume in no pool of the array, NULL arrays with a count. */
int qos_advice_plan(const struct qos_advice_config *cfg,
		    const struct qos_advice_pool *pools, size_t npools,
		    const struct qos_advice_volume *volumes, size_t nvolumes,
		    struct qos_advice_move *moves, size_t max_moves, size_t *nmoves);

#endif /* SLATE_QOS_H */
