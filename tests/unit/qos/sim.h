/*
 * sim.h - a simulated contended device for the QoS controller's tests, in
 * simulated time (deterministic: one seeded generator, no clock).
 *
 * Device: `channels` servers; an IO's service time is fixed_us + size /
 * bandwidth, times a uniform factor in [1 - jitter, 1 + jitter].  Queueing
 * is one FIFO shared by all channels (an array with internal parallelism),
 * or, with random_routing, a FIFO per channel and each IO sent to a random
 * one (disks behind a stripe: the throughput curve bends smoothly).
 * Hosts: closed loop, each keeps min(qd, window) slots busy, sizes drawn
 * from its mix; a size is a stream (as a (host, volume) pair is in
 * slated), and each period the simulator hands every stream's IOs, bytes
 * and latency sum to the host's controller, ticks the controllers and
 * applies their windows.  A slot is busy from its IO's arrival at the
 * device until round_trip_us after the IO completes: the response reaches
 * the client, it sends the next command, that arrives.  A real initiator
 * held by its window leaves the slot idle meanwhile, so its IOs in flight
 * are latency / (latency + round trip) of its window (0: the next IO
 * arrives as the last completes, the window always full).  An unmanaged
 * host (controller -1) is load the controllers do not see: an external
 * workload.
 *
 * Every period is recorded (per host: IOs, true cost in reference IOs,
 * latency sums raw and truly normalized, window) for the tests to judge;
 * "true" means by the device's real service times, not the controller's
 * learned model.
 */
#ifndef SLATE_TESTS_QOS_SIM_H
#define SLATE_TESTS_QOS_SIM_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qos/qos.h"

#define SIM_HOSTS 16
#define SIM_SIZES 4
#define SIM_CHANNELS 64
#define SIM_CONTROLLERS 2
#define SIM_PERIODS 4096
#define SIM_T0_MS 1000000 /* the controllers' clock at simulated time 0 */

struct sim_size {
	uint32_t bytes;
	double weight;
};

struct sim_host_cfg {
	const char *name;
	uint32_t shares;
	unsigned qd;                 /* IOs it wants outstanding */
	struct sim_size sizes[SIM_SIZES];
	double start_s, stop_s;      /* active in [start_s, stop_s); stop_s 0: to the end */
	int controller;              /* index into sim.ctl; -1: unmanaged */
	double round_trip_us;        /* a slot idles so long after its IO completes */
};

struct sim_device_cfg {
	unsigned channels;
	double fixed_us;
	double mib_per_s;
	double jitter;
	bool random_routing;
};

struct sim_io {
	int host, stream;
	uint32_t bytes;
	uint64_t issue_ns;
	uint64_t service_ns;
};

struct sim_ring {
	struct sim_io *io;
	size_t head, n, cap;
};

struct sim_host_period {
	uint64_t ios, bytes;
	double units;                /* true cost in reference IOs */
	double latency_ns;           /* sum, measured */
	double norm_latency_ns;      /* sum, minus the true extra service time of its size */
	double window;               /* the controller's, reference IOs (0 unmanaged) */
	uint32_t window_ios;
};

struct sim_period {
	double t_s;                  /* end of the period */
	struct sim_host_period h[SIM_HOSTS];
	double lbar_us, threshold_us;
	bool anomaly;
	enum qos_threshold_source source;
};

struct sim_channel {
	bool busy;
	struct sim_io io;
	uint64_t done_ns;
	struct sim_ring queue;       /* random routing only */
};

struct sim_stream_acc {
	uint64_t ios, bytes, latency_ns;
};

struct sim {
	struct sim_device_cfg dev;
	struct sim_host_cfg hosts[SIM_HOSTS];
	size_t nhosts;
	struct qos_controller *ctl[SIM_CONTROLLERS];
	uint32_t period_ms;
	bool no_qos;                 /* windows are ignored (the peer: no control) */
	uint64_t rng;
	uint64_t now_ns;
	struct sim_channel ch[SIM_CHANNELS];
	struct sim_ring queue;       /* shared FIFO */
	unsigned outstanding[SIM_HOSTS];     /* IOs at the device */
	struct sim_ring returning[SIM_HOSTS]; /* slots in the round trip: issue_ns is when
						 the host's next IO in that slot arrives */
	uint32_t window_ios[SIM_HOSTS];
	struct sim_stream_acc acc[SIM_HOSTS][SIM_SIZES];
	struct sim_host_period cur[SIM_HOSTS];
	struct sim_period *periods;
	size_t nperiods;
	uint64_t next_tick_ns;
};

static inline uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline double sim_uniform(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) / 9007199254740992.0;
}

/* The device's mean service time of one IO, in microseconds. */
static inline double sim_service_us(const struct sim_device_cfg *d, double bytes)
{
	return d->fixed_us + bytes / (d->mib_per_s * 1048576.0) * 1e6;
}

static inline void ring_push(struct sim_ring *r, const struct sim_io *io)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct sim_io *a = malloc(cap * sizeof(*a));
		for (size_t i = 0; i < r->n; i++)
			a[i] = r->io[(r->head + i) % r->cap];
		free(r->io);
		r->io = a;
		r->head = 0;
		r->cap = cap;
	}
	r->io[(r->head + r->n++) % r->cap] = *io;
}

static inline bool ring_pop(struct sim_ring *r, struct sim_io *io)
{
	if (!r->n)
		return false;
	*io = r->io[r->head];
	r->head = (r->head + 1) % r->cap;
	r->n--;
	return true;
}

static inline void sim_init(struct sim *s, const struct sim_device_cfg *dev, uint32_t period_ms,
			    uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->dev = *dev;
	s->period_ms = period_ms;
	s->rng = seed;
	s->periods = calloc(SIM_PERIODS, sizeof(*s->periods));
	s->next_tick_ns = 0; /* the first tick (at 0) only starts the controllers' period */
}

static inline void sim_free(struct sim *s)
{
	free(s->periods);
	free(s->queue.io);
	for (unsigned c = 0; c < SIM_CHANNELS; c++)
		free(s->ch[c].queue.io);
	for (unsigned h = 0; h < SIM_HOSTS; h++)
		free(s->returning[h].io);
}

static inline int sim_add_host(struct sim *s, const struct sim_host_cfg *h)
{
	if (s->nhosts == SIM_HOSTS)
		return -1;
	s->hosts[s->nhosts] = *h;
	s->window_ios[s->nhosts] = h->qd;
	if (h->controller >= 0 && s->ctl[h->controller])
		qos_controller_set_host(s->ctl[h->controller], h->name, h->shares);
	return (int)s->nhosts++;
}

static inline bool sim_active(const struct sim *s, int h)
{
	double t = (double)s->now_ns / 1e9;
	const struct sim_host_cfg *c = &s->hosts[h];
	return t >= c->start_s && (c->stop_s <= 0 || t < c->stop_s);
}

static inline void sim_start_io(struct sim *s, unsigned c, const struct sim_io *io)
{
	s->ch[c].busy = true;
	s->ch[c].io = *io;
	s->ch[c].done_ns = s->now_ns + io->service_ns;
}

static inline void sim_issue(struct sim *s, int h)
{
	const struct sim_host_cfg *hc = &s->hosts[h];
	unsigned limit = hc->qd;
	if (!s->no_qos && hc->controller >= 0 && s->window_ios[h] < limit)
		limit = s->window_ios[h];
	while (s->outstanding[h] + s->returning[h].n < limit && sim_active(s, h)) {
		double total = 0, pick;
		int k = 0;
		for (int i = 0; i < SIM_SIZES && hc->sizes[i].bytes; i++)
			total += hc->sizes[i].weight;
		pick = sim_uniform(s) * total;
		for (k = 0; k < SIM_SIZES - 1 && hc->sizes[k + 1].bytes; k++) {
			if (pick < hc->sizes[k].weight)
				break;
			pick -= hc->sizes[k].weight;
		}
		struct sim_io io = { .host = h, .stream = k, .bytes = hc->sizes[k].bytes,
				     .issue_ns = s->now_ns };
		double f = 1 + s->dev.jitter * (2 * sim_uniform(s) - 1);
		io.service_ns = (uint64_t)(sim_service_us(&s->dev, io.bytes) * f * 1000.0);
		s->outstanding[h]++;
		if (s->dev.random_routing) {
			unsigned c = (unsigned)(sim_rand(s) % s->dev.channels);
			if (s->ch[c].busy)
				ring_push(&s->ch[c].queue, &io);
			else
				sim_start_io(s, c, &io);
			continue;
		}
		unsigned c;
		for (c = 0; c < s->dev.channels && s->ch[c].busy; c++)
			;
		if (c < s->dev.channels)
			sim_start_io(s, c, &io);
		else
			ring_push(&s->queue, &io);
	}
}

static inline void sim_complete(struct sim *s, unsigned c)
{
	struct sim_io io = s->ch[c].io;
	s->ch[c].busy = false;
	int h = io.host;
	double lat = (double)(s->now_ns - io.issue_ns);
	double ref_us = sim_service_us(&s->dev, QOS_REF_IO_BYTES);
	double own_us = sim_service_us(&s->dev, io.bytes);
	struct sim_stream_acc *a = &s->acc[h][io.stream];
	a->ios++;
	a->bytes += io.bytes;
	a->latency_ns += (uint64_t)lat;
	struct sim_host_period *p = &s->cur[h];
	p->ios++;
	p->bytes += io.bytes;
	p->units += own_us / ref_us;
	p->latency_ns += lat;
	p->norm_latency_ns += lat - (own_us - ref_us) * 1000.0;
	s->outstanding[h]--;
	struct sim_io next;
	struct sim_ring *q = s->dev.random_routing ? &s->ch[c].queue : &s->queue;
	if (ring_pop(q, &next))
		sim_start_io(s, c, &next);
	if (s->hosts[h].round_trip_us > 0) {
		struct sim_io slot = { .host = h,
				       .issue_ns = s->now_ns + (uint64_t)(s->hosts[h].round_trip_us * 1000) };
		ring_push(&s->returning[h], &slot); /* a fixed delay: the ring stays in order */
		return;
	}
	sim_issue(s, h);
}

/* The oldest slot of host h in its round trip is back: its IO may go. */
static inline void sim_slot_back(struct sim *s, int h)
{
	struct sim_io slot;
	ring_pop(&s->returning[h], &slot);
	sim_issue(s, h);
}

static inline void sim_tick(struct sim *s)
{
	int64_t now_ms = SIM_T0_MS + (int64_t)(s->now_ns / 1000000u);
	for (size_t h = 0; h < s->nhosts; h++) {
		int ci = s->hosts[h].controller;
		for (int k = 0; k < SIM_SIZES; k++) {
			struct sim_stream_acc *a = &s->acc[h][k];
			if (ci >= 0 && s->ctl[ci] && a->ios)
				qos_controller_observe(s->ctl[ci], s->hosts[h].name, a->ios, a->bytes,
						       a->latency_ns);
			memset(a, 0, sizeof(*a));
		}
	}
	for (int ci = 0; ci < SIM_CONTROLLERS; ci++)
		if (s->ctl[ci])
			qos_controller_tick(s->ctl[ci], now_ms);
	struct sim_period *p = s->nperiods < SIM_PERIODS && s->now_ns ? &s->periods[s->nperiods++] : NULL;
	if (p) {
		p->t_s = (double)s->now_ns / 1e9;
		memcpy(p->h, s->cur, sizeof(p->h));
	}
	memset(s->cur, 0, sizeof(s->cur));
	struct qos_readout r;
	if (s->ctl[0] && qos_controller_readout(s->ctl[0], &r) == 0) {
		if (p) {
			p->lbar_us = r.cluster_latency_us;
			p->threshold_us = r.threshold_us;
			p->anomaly = r.anomaly.active;
			p->source = r.threshold_source;
		}
		qos_readout_free(&r);
	}
	for (size_t h = 0; h < s->nhosts; h++) {
		int ci = s->hosts[h].controller;
		if (ci < 0 || !s->ctl[ci])
			continue;
		uint32_t w;
		if (qos_controller_window(s->ctl[ci], s->hosts[h].name, &w) == 0)
			s->window_ios[h] = w;
		if (p && qos_controller_readout(s->ctl[ci], &r) == 0) {
			for (size_t i = 0; i < r.nhosts; i++)
				if (!strcmp(r.hosts[i].host, s->hosts[h].name)) {
					p->h[h].window = r.hosts[i].window;
					p->h[h].window_ios = r.hosts[i].window_ios;
				}
			qos_readout_free(&r);
		}
	}
	s->next_tick_ns += (uint64_t)s->period_ms * 1000000u;
}

/* Run until simulated time end_s. */
static inline void sim_run(struct sim *s, double end_s)
{
	uint64_t end_ns = (uint64_t)(end_s * 1e9);
	while (s->now_ns < end_ns) {
		/* the next event: a completion, a tick, a host starting or a
		 * slot back from its round trip */
		uint64_t t = s->next_tick_ns;
		int what = -1; /* -1 tick, >= 0 channel, -2 host start, -3 slot back */
		int slot_host = -1;
		for (unsigned c = 0; c < s->dev.channels; c++)
			if (s->ch[c].busy && s->ch[c].done_ns < t) {
				t = s->ch[c].done_ns;
				what = (int)c;
			}
		for (size_t h = 0; h < s->nhosts; h++) {
			uint64_t start = (uint64_t)(s->hosts[h].start_s * 1e9);
			if (start > s->now_ns && start < t) {
				t = start;
				what = -2;
			}
			const struct sim_ring *back = &s->returning[h];
			if (back->n && back->io[back->head].issue_ns < t) {
				t = back->io[back->head].issue_ns;
				what = -3;
				slot_host = (int)h;
			}
		}
		if (t > end_ns) {
			s->now_ns = end_ns;
			break;
		}
		s->now_ns = t;
		if (what >= 0) {
			sim_complete(s, (unsigned)what);
		} else if (what == -1) {
			sim_tick(s);
			for (size_t h = 0; h < s->nhosts; h++)
				sim_issue(s, (int)h);
		} else if (what == -3) {
			sim_slot_back(s, slot_host);
		} else {
			for (size_t h = 0; h < s->nhosts; h++)
				sim_issue(s, (int)h);
		}
	}
}

/* ---- judging a run ------------------------------------------------------------ */

/* Sums of periods with t_s in (t0, t1]. */
struct sim_sums {
	double units[SIM_HOSTS], ios[SIM_HOSTS];
	double host_latency_ns[SIM_HOSTS];   /* each host's latency sum */
	double latency_ns, norm_latency_ns, all_ios;
};

static inline struct sim_sums sim_sum(const struct sim *s, double t0, double t1, bool managed_only)
{
	struct sim_sums r;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < s->nperiods; i++) {
		const struct sim_period *p = &s->periods[i];
		if (p->t_s <= t0 + 1e-9 || p->t_s > t1 + 1e-9)
			continue;
		for (size_t h = 0; h < s->nhosts; h++) {
			r.units[h] += p->h[h].units;
			r.ios[h] += (double)p->h[h].ios;
			r.host_latency_ns[h] += p->h[h].latency_ns;
			if (managed_only && s->hosts[h].controller < 0)
				continue;
			r.latency_ns += p->h[h].latency_ns;
			r.norm_latency_ns += p->h[h].norm_latency_ns;
			r.all_ios += (double)p->h[h].ios;
		}
	}
	return r;
}

/* Largest relative error of a managed host's size-normalized throughput
 * share against its shares, among the hosts active over all of (t0, t1]. */
static inline double sim_share_error(const struct sim *s, double t0, double t1)
{
	struct sim_sums r = sim_sum(s, t0, t1, true);
	double total = 0, shares = 0, worst = 0;
	for (size_t h = 0; h < s->nhosts; h++) {
		const struct sim_host_cfg *c = &s->hosts[h];
		if (c->controller < 0 || c->start_s > t0 || (c->stop_s > 0 && c->stop_s < t1))
			continue;
		total += r.units[h];
		shares += c->shares;
	}
	for (size_t h = 0; h < s->nhosts; h++) {
		const struct sim_host_cfg *c = &s->hosts[h];
		if (c->controller < 0 || c->start_s > t0 || (c->stop_s > 0 && c->stop_s < t1))
			continue;
		double err = fabs((r.units[h] / total) / (c->shares / shares) - 1);
		worst = fmax(worst, err);
	}
	return worst;
}

/* IO-weighted average latency of managed hosts, truly normalized (us). */
static inline double sim_norm_latency_us(const struct sim *s, double t0, double t1)
{
	struct sim_sums r = sim_sum(s, t0, t1, true);
	return r.all_ios ? r.norm_latency_ns / r.all_ios / 1000.0 : 0;
}

/* Size-normalized throughput of all hosts, reference IOs per second. */
static inline double sim_units_per_s(const struct sim *s, double t0, double t1)
{
	struct sim_sums r = sim_sum(s, t0, t1, false);
	double u = 0;
	for (size_t h = 0; h < s->nhosts; h++)
		u += r.units[h];
	return u / (t1 - t0);
}

/* Seconds after t_event until the run stays converged through t_end:
 * every sliding window of `smooth_s` ending in [t, t_end] has, when
 * shares, share error at most tol and, when threshold_us > 0, |latency /
 * L - 1| at most tol.  INFINITY: never. */
static inline double sim_convergence_s(const struct sim *s, double t_event, double t_end,
				       bool shares, double threshold_us, double smooth_s, double tol)
{
	double period = s->period_ms / 1000.0;
	double converged_at = INFINITY;
	for (double t = t_end; t >= t_event + smooth_s - 1e-9; t -= period) {
		if (shares && sim_share_error(s, t - smooth_s, t) > tol)
			break;
		double lat = sim_norm_latency_us(s, t - smooth_s, t);
		if (threshold_us > 0 && fabs(lat / threshold_us - 1) > tol)
			break;
		converged_at = t - smooth_s;
	}
	return converged_at - t_event;
}

/* Largest (max - min) / mean of a managed host's window over (t0, t1]. */
static inline double sim_window_swing(const struct sim *s, double t0, double t1)
{
	double worst = 0;
	for (size_t h = 0; h < s->nhosts; h++) {
		if (s->hosts[h].controller < 0)
			continue;
		double lo = INFINITY, hi = 0, sum = 0;
		int n = 0;
		for (size_t i = 0; i < s->nperiods; i++) {
			const struct sim_period *p = &s->periods[i];
			if (p->t_s <= t0 + 1e-9 || p->t_s > t1 + 1e-9)
				continue;
			lo = fmin(lo, p->h[h].window);
			hi = fmax(hi, p->h[h].window);
			sum += p->h[h].window;
			n++;
		}
		if (n && sum > 0)
			worst = fmax(worst, (hi - lo) / (sum / n));
	}
	return worst;
}

#endif /* SLATE_TESTS_QOS_SIM_H */
