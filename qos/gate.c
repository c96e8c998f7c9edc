/*
 * gate.c - mClock in the targets' IO path: at most `capacity` cowstore
 * requests in flight, the others queued and released in mClock order, a
 * VM's limit holding its requests back even with room free (the rules and
 * the API are in qos.h).
 *
 * Decisions a reader must know before changing it:
 *  - Lock: one mutex (g->lock) guards everything but `active`; it is a leaf
 *    lock: cowstore_submit and cowstore_io_fail are called only after it is
 *    dropped (a dispatch pass collects the released requests in a list),
 *    and no target callback ever runs under it.
 *  - Every request submitted while active goes through the scheduler, even
 *    when there is room: its tags must advance for limits and reservations
 *    to mean anything.  It is usually dequeued by the same call.
 *  - `counted` is set under the lock by the pass that releases a request,
 *    before cowstore_submit; the completion that reads it is ordered after
 *    by cowstore's queue mutex.  qos_gate_done of an uncounted request (the
 *    gate was inactive at submit) does nothing, so turning the gate on or
 *    off never unbalances `inflight`.
 *  - A deferred submit that fails is completed with its error through the
 *    request's own queue (cowstore_io_fail), so its done() runs on its
 *    owner's thread as usual; if even that fails (out of memory), the
 *    request is retried by the timer after RETRY_NS, still counted.
 *  - The timer: one thread waits (CLOCK_MONOTONIC condition variable) until
 *    the earliest time the scheduler said a request becomes eligible, then
 *    runs a dispatch pass.  With room full, completions run the passes.
 *  - VM ids are the caller's; the scheduler keeps a removed VM (it cannot
 *    drop one with requests queued) with the unmanaged class's policy.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "qos/qos.h"

#define RETRY_NS 1000000ull /* 1 ms */
#define FAR_FUTURE_NS (UINT64_MAX / 4)

struct gate_vm {
	bool used;                /* set (vm 0: always) */
	char name[QOS_NAME_MAX + 1];
	struct qos_mclock_policy policy;
	uint32_t volumes;
	uint64_t queued, dispatched_reservation, dispatched_shares, held_by_limit;
};

struct gate_volume {
	uint64_t volume_id;
	uint32_t vm;
};

struct qos_gate {
	_Atomic bool active;      /* read without the lock on every submit */
	pthread_mutex_t lock;
	pthread_cond_t timer_cond; /* CLOCK_MONOTONIC */
	pthread_t timer;
	bool has_timer, stopping;
	uint64_t timer_at_ns;     /* when the timer runs its next pass (0: not armed) */

	struct qos_mclock *mc;
	uint32_t capacity, inflight;
	uint64_t queued, deferred, deferred_errors;
	uint32_t nused;           /* VMs with a policy (id >= 1) */
	struct gate_vm *vms;      /* [0, nvms) */
	size_t nvms;
	struct gate_volume *volumes; /* sorted by volume_id */
	size_t nvolumes, volumes_cap;
	struct qos_gate_req *retry; /* failed twice: resubmitted by the timer */

	double fixed_us, us_per_kib;
	uint32_t ref_bytes;

	qos_gate_submit_fn submit;
	qos_gate_fail_fn fail;
	qos_gate_clock_fn now;
	void *hook_arg;
};

static int real_submit(void *arg, struct cowstore *cs, struct cowstore_io *io)
{
	return cowstore_submit(cs, io);
}

static int real_fail(void *arg, struct cowstore_io *io, int result)
{
	return cowstore_io_fail(io, result);
}

static uint64_t real_now(void *arg)
{
	return qos_now_ns();
}

static struct qos_gate_req *req_of(struct qos_mclock_req *m)
{
	return (struct qos_gate_req *)(void *)((char *)m - offsetof(struct qos_gate_req, mclock));
}

static void default_policy(struct qos_mclock_policy *p)
{
	*p = (struct qos_mclock_policy){ .shares = QOS_GATE_DEFAULT_SHARES };
}

/* ---- the released list ------------------------------------------------------ */

/* Released requests, in order, linked through mclock.next (free once out
 * of the scheduler). */
struct released {
	struct qos_gate_req *head, *tail;
};

static void released_push(struct released *l, struct qos_gate_req *r)
{
	r->mclock.next = NULL;
	if (l->tail)
		l->tail->mclock.next = &r->mclock;
	else
		l->head = r;
	l->tail = r;
}

static void arm_timer(struct qos_gate *g, uint64_t at_ns)
{
	if (g->timer_at_ns && g->timer_at_ns <= at_ns)
		return;
	g->timer_at_ns = at_ns;
	pthread_cond_signal(&g->timer_cond);
}

/* Release what may go at now_ns (all of it when drain) onto l. */
static void dispatch_locked(struct qos_gate *g, uint64_t now_ns, bool drain, struct released *l)
{
	while (g->queued && (drain || g->inflight < g->capacity)) {
		uint64_t wait_ns;
		bool by_reservation;
		struct qos_mclock_req *m = qos_mclock_dequeue(g->mc, drain ? FAR_FUTURE_NS : now_ns,
							      &wait_ns, &by_reservation);
		if (!m) {
			if (wait_ns)
				arm_timer(g, wait_ns);
			break;
		}
		struct qos_gate_req *r = req_of(m);
		struct gate_vm *v = &g->vms[m->vm];
		v->queued--;
		g->queued--;
		if (by_reservation)
			v->dispatched_reservation++;
		else
			v->dispatched_shares++;
		g->inflight++;
		r->counted = true;
		released_push(l, r);
	}
}

static void release_slot_locked(struct qos_gate *g, struct qos_gate_req *req)
{
	req->counted = false;
	g->inflight--;
}

/* Submit the released requests (lock not held).  self (may be NULL) is the
 * caller's own: its error is returned, and its room given back, rather
 * than completed through its queue. */
static int submit_released(struct qos_gate *g, struct released *l, struct qos_gate_req *self)
{
	int self_rc = 0;
	struct qos_gate_req *r = l->head;
	while (r) {
		struct qos_gate_req *next = r->mclock.next ? req_of(r->mclock.next) : NULL;
		r->mclock.next = NULL;
		int rc = g->submit(g->hook_arg, r->cs, r->io);
		if (rc && r == self) {
			self_rc = rc;
			qos_gate_done(g, r);
		} else if (rc) {
			if (g->fail(g->hook_arg, r->io, rc)) {
				pthread_mutex_lock(&g->lock);
				r->mclock.next = g->retry ? &g->retry->mclock : NULL;
				g->retry = r;
				arm_timer(g, g->now(g->hook_arg) + RETRY_NS);
				pthread_mutex_unlock(&g->lock);
			}
			pthread_mutex_lock(&g->lock);
			g->deferred_errors++;
			pthread_mutex_unlock(&g->lock);
		}
		r = next;
	}
	return self_rc;
}

/* ---- the timer ---------------------------------------------------------------- */

/* One pass: the retry list, then what became eligible.  Lock held on entry
 * and exit; dropped while submitting. */
static void timer_pass_locked(struct qos_gate *g, uint64_t now_ns)
{
	struct released l = { 0 };
	struct qos_gate_req *retry = g->retry;
	g->retry = NULL;
	while (retry) { /* still counted: they were released before */
		struct qos_gate_req *next = retry->mclock.next ? req_of(retry->mclock.next) : NULL;
		released_push(&l, retry);
		retry = next;
	}
	dispatch_locked(g, now_ns, false, &l);
	pthread_mutex_unlock(&g->lock);
	submit_released(g, &l, NULL);
	pthread_mutex_lock(&g->lock);
}

static void *timer_main(void *arg)
{
	struct qos_gate *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		if (!g->timer_at_ns) {
			pthread_cond_wait(&g->timer_cond, &g->lock);
			continue;
		}
		uint64_t now_ns = g->now(g->hook_arg);
		if (now_ns < g->timer_at_ns) {
			/* the hook is qos_now_ns (CLOCK_MONOTONIC) when there is a timer */
			struct timespec until = { .tv_sec = (time_t)(g->timer_at_ns / 1000000000u),
						  .tv_nsec = (long)(g->timer_at_ns % 1000000000u) };
			pthread_cond_timedwait(&g->timer_cond, &g->lock, &until);
			continue;
		}
		g->timer_at_ns = 0;
		timer_pass_locked(g, now_ns);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

uint64_t qos_gate_poll(struct qos_gate *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	uint64_t now_ns = g->now(g->hook_arg);
	if (!g->timer_at_ns || g->timer_at_ns <= now_ns) {
		g->timer_at_ns = 0;
		timer_pass_locked(g, now_ns);
	}
	uint64_t next = g->timer_at_ns;
	pthread_mutex_unlock(&g->lock);
	return next;
}

/* ---- life ---------------------------------------------------------------------- */

static int grow_vms(struct qos_gate *g, uint32_t vm)
{
	if (vm < g->nvms)
		return 0;
	size_t n = g->nvms ? g->nvms : 8;
	while (n <= vm)
		n *= 2;
	struct gate_vm *vms = realloc(g->vms, n * sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	memset(vms + g->nvms, 0, (n - g->nvms) * sizeof(*vms));
	g->vms = vms;
	g->nvms = n;
	return 0;
}

int qos_gate_create(const struct qos_gate_config *cfg, struct qos_gate **out)
{
	struct qos_gate_config none = { 0 };
	if (!out)
		return -EINVAL;
	if (!cfg)
		cfg = &none;
	struct qos_gate *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->capacity = cfg->capacity ? cfg->capacity : QOS_GATE_DEFAULT_CAPACITY;
	g->submit = cfg->submit ? cfg->submit : real_submit;
	g->fail = cfg->fail ? cfg->fail : real_fail;
	g->now = cfg->now ? cfg->now : real_now;
	g->hook_arg = cfg->hook_arg;
	g->ref_bytes = QOS_REF_IO_BYTES;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&g->timer_cond, &attr);
	pthread_condattr_destroy(&attr);
	struct qos_mclock_policy p;
	default_policy(&p);
	int rc = qos_mclock_create(&g->mc);
	if (!rc)
		rc = grow_vms(g, 0);
	if (!rc)
		rc = qos_mclock_set_vm(g->mc, 0, &p);
	if (!rc) {
		g->vms[0].used = true;
		g->vms[0].policy = p;
	}
	if (!rc && !cfg->no_timer) {
		rc = -pthread_create(&g->timer, NULL, timer_main, g);
		g->has_timer = !rc;
	}
	if (rc) {
		qos_gate_destroy(g);
		return rc;
	}
	*out = g;
	return 0;
}

void qos_gate_destroy(struct qos_gate *g)
{
	if (!g)
		return;
	if (g->has_timer) {
		pthread_mutex_lock(&g->lock);
		g->stopping = true;
		pthread_cond_signal(&g->timer_cond);
		pthread_mutex_unlock(&g->lock);
		pthread_join(g->timer, NULL);
	}
	qos_mclock_destroy(g->mc);
	pthread_cond_destroy(&g->timer_cond);
	pthread_mutex_destroy(&g->lock);
	free(g->vms);
	free(g->volumes);
	free(g);
}

/* ---- the IO path ---------------------------------------------------------------- */

static double io_cost(const struct qos_gate *g, const struct cowstore_io *io)
{
	if (io->op != COWSTORE_OP_READ && io->op != COWSTORE_OP_WRITE)
		return 1.0;
	double bytes = (double)io->nsectors * COWSTORE_SECTOR_SIZE;
	double per_byte = g->us_per_kib / 1024.0;
	double ref = g->fixed_us + per_byte * g->ref_bytes;
	if (!(g->fixed_us > 0) || !(ref > 0))
		return 1.0;
	double units = (g->fixed_us + per_byte * bytes) / ref;
	return units > 1e-3 ? units : 1e-3;
}

/* Where volume_id is or would go in the sorted volumes. */
static size_t volume_index(const struct qos_gate *g, uint64_t volume_id)
{
	size_t lo = 0, hi = g->nvolumes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->volumes[mid].volume_id < volume_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t volume_vm_locked(const struct qos_gate *g, uint64_t volume_id)
{
	size_t i = volume_index(g, volume_id);
	return i < g->nvolumes && g->volumes[i].volume_id == volume_id ? g->volumes[i].vm : 0;
}

int qos_gate_submit(struct qos_gate *g, struct qos_gate_req *req, struct cowstore *cs,
		    struct cowstore_io *io)
{
	if (!g)
		return cowstore_submit(cs, io);
	req->counted = false;
	if (!atomic_load_explicit(&g->active, memory_order_relaxed))
		return g->submit(g->hook_arg, cs, io);
	req->cs = cs;
	req->io = io;
	struct released l = { 0 };
	pthread_mutex_lock(&g->lock);
	uint32_t vm = volume_vm_locked(g, io->volume_id);
	uint64_t now_ns = g->now(g->hook_arg);
	int rc = qos_mclock_enqueue(g->mc, vm, &req->mclock, io_cost(g, io), now_ns);
	if (rc) { /* cannot happen: vm is known and the cost positive */
		pthread_mutex_unlock(&g->lock);
		return g->submit(g->hook_arg, cs, io);
	}
	g->vms[vm].queued++;
	g->queued++;
	dispatch_locked(g, now_ns, false, &l);
	if (!req->counted) {
		g->deferred++;
		if (g->inflight < g->capacity)
			g->vms[vm].held_by_limit++;
	}
	pthread_mutex_unlock(&g->lock);
	return submit_released(g, &l, req);
}

void qos_gate_done(struct qos_gate *g, struct qos_gate_req *req)
{
	if (!g || !req->counted)
		return;
	struct released l = { 0 };
	pthread_mutex_lock(&g->lock);
	release_slot_locked(g, req);
	dispatch_locked(g, g->now(g->hook_arg), false, &l);
	pthread_mutex_unlock(&g->lock);
	submit_released(g, &l, NULL);
}

/* ---- configuration ---------------------------------------------------------------- */

void qos_gate_set_capacity(struct qos_gate *g, uint32_t capacity)
{
	if (!g)
		return;
	struct released l = { 0 };
	pthread_mutex_lock(&g->lock);
	g->capacity = capacity ? capacity : 1;
	dispatch_locked(g, g->now(g->hook_arg), false, &l);
	pthread_mutex_unlock(&g->lock);
	submit_released(g, &l, NULL);
}

void qos_gate_set_cost(struct qos_gate *g, double fixed_us, double us_per_kib, uint32_t ref_bytes)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->fixed_us = fixed_us > 0 ? fixed_us : 0;
	g->us_per_kib = us_per_kib > 0 ? us_per_kib : 0;
	g->ref_bytes = ref_bytes ? ref_bytes : QOS_REF_IO_BYTES;
	pthread_mutex_unlock(&g->lock);
}

int qos_gate_set_vm(struct qos_gate *g, uint32_t vm, const char *name,
		    const struct qos_mclock_policy *p)
{
	if (!g || !p || vm == 0 || vm > QOS_GATE_VM_MAX)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = grow_vms(g, vm);
	if (!rc)
		rc = qos_mclock_set_vm(g->mc, vm, p);
	if (!rc) {
		struct gate_vm *v = &g->vms[vm];
		if (!v->used) {
			uint64_t queued = v->queued; /* of a removed VM, still draining */
			memset(v, 0, sizeof(*v));
			v->queued = queued;
			v->used = true;
			g->nused++;
		}
		v->policy = *p;
		if (!v->policy.shares)
			v->policy.shares = 1;
		snprintf(v->name, sizeof(v->name), "%s", name ? name : "");
		atomic_store(&g->active, true);
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static void unmap_vm_locked(struct qos_gate *g, uint32_t vm)
{
	size_t k = 0;
	for (size_t i = 0; i < g->nvolumes; i++)
		if (g->volumes[i].vm != vm)
			g->volumes[k++] = g->volumes[i];
	g->nvolumes = k;
	g->vms[vm].volumes = 0;
}

/* The gate has just become inactive: everything queued goes now. */
static void deactivate_locked(struct qos_gate *g, struct released *l)
{
	atomic_store(&g->active, false);
	dispatch_locked(g, 0, true, l);
}

int qos_gate_remove_vm(struct qos_gate *g, uint32_t vm)
{
	if (!g)
		return -EINVAL;
	struct released l = { 0 };
	pthread_mutex_lock(&g->lock);
	int rc = 0;
	if (vm == 0 || vm >= g->nvms || !g->vms[vm].used) {
		rc = -ENOENT;
	} else {
		struct qos_mclock_policy p;
		default_policy(&p);
		qos_mclock_set_vm(g->mc, vm, &p); /* its queue drains as unmanaged */
		unmap_vm_locked(g, vm);
		g->vms[vm].used = false;
		g->vms[vm].policy = p;
		if (--g->nused == 0)
			deactivate_locked(g, &l);
	}
	pthread_mutex_unlock(&g->lock);
	submit_released(g, &l, NULL);
	return rc;
}

int qos_gate_set_volume_vm(struct qos_gate *g, uint64_t volume_id, uint32_t vm)
{
	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = 0;
	size_t lo = volume_index(g, volume_id);
	bool found = lo < g->nvolumes && g->volumes[lo].volume_id == volume_id;
	if (vm && (vm >= g->nvms || !g->vms[vm].used)) {
		rc = -ENOENT;
	} else if (found && vm) {
		g->vms[g->volumes[lo].vm].volumes--;
		g->volumes[lo].vm = vm;
		g->vms[vm].volumes++;
	} else if (found) {
		g->vms[g->volumes[lo].vm].volumes--;
		memmove(g->volumes + lo, g->volumes + lo + 1,
			(g->nvolumes - lo - 1) * sizeof(*g->volumes));
		g->nvolumes--;
	} else if (vm) {
		if (g->nvolumes == g->volumes_cap) {
			size_t cap = g->volumes_cap ? 2 * g->volumes_cap : 16;
			struct gate_volume *a = realloc(g->volumes, cap * sizeof(*a));
			if (!a) {
				pthread_mutex_unlock(&g->lock);
				return -ENOMEM;
			}
			g->volumes = a;
			g->volumes_cap = cap;
		}
		memmove(g->volumes + lo + 1, g->volumes + lo,
			(g->nvolumes - lo) * sizeof(*g->volumes));
		g->volumes[lo] = (struct gate_volume){ volume_id, vm };
		g->nvolumes++;
		g->vms[vm].volumes++;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void qos_gate_clear(struct qos_gate *g)
{
	if (!g)
		return;
	struct released l = { 0 };
	struct qos_mclock_policy p;
	default_policy(&p);
	pthread_mutex_lock(&g->lock);
	for (size_t vm = 1; vm < g->nvms; vm++) {
		if (!g->vms[vm].used)
			continue;
		qos_mclock_set_vm(g->mc, (uint32_t)vm, &p);
		g->vms[vm].used = false;
		g->vms[vm].policy = p;
		g->vms[vm].volumes = 0;
	}
	g->nvolumes = 0;
	g->nused = 0;
	deactivate_locked(g, &l);
	pthread_mutex_unlock(&g->lock);
	submit_released(g, &l, NULL);
}

/* ---- read-out ------------------------------------------------------------------------ */

int qos_gate_status(struct qos_gate *g, struct qos_gate_status *out)
{
	if (!g || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&g->lock);
	out->active = atomic_load(&g->active);
	out->capacity = g->capacity;
	out->inflight = g->inflight;
	out->queued = g->queued;
	out->deferred = g->deferred;
	out->deferred_errors = g->deferred_errors;
	out->vms = calloc(g->nused + 1, sizeof(*out->vms));
	if (!out->vms) {
		pthread_mutex_unlock(&g->lock);
		return -ENOMEM;
	}
	for (size_t vm = 0; vm < g->nvms; vm++) {
		const struct gate_vm *v = &g->vms[vm];
		if (!v->used || out->nvms > g->nused)
			continue;
		struct qos_gate_vm_status *s = &out->vms[out->nvms++];
		s->vm = (uint32_t)vm;
		memcpy(s->name, v->name, sizeof(s->name));
		s->policy = v->policy;
		s->volumes = v->volumes;
		s->queued = v->queued;
		s->dispatched_reservation = v->dispatched_reservation;
		s->dispatched_shares = v->dispatched_shares;
		s->held_by_limit = v->held_by_limit;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void qos_gate_status_free(struct qos_gate_status *s)
{
	if (!s)
		return;
	free(s->vms);
	s->vms = NULL;
	s->nvms = 0;
}
