/*
 * test_gate.c - the QoS gate between the targets and cowstore: capacity,
 * mClock order when saturated (reservation first, shares splitting the
 * rest in reference IOs), limits holding requests with room free and the
 * timer releasing them at the limit's rate, deferred submit errors, the
 * inactive fast path, and concurrent submitters losing nothing.
 *
 * The gate's submit/fail/clock hooks are fakes: a "device" here is the
 * test's list of submitted requests, completed by calling qos_gate_done
 * as a target's done() would.  Simulated time except in the two tests
 * that use the gate's real timer thread (they assert only bounds the gate
 * enforces: never faster than the limit).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "qos/qos.h"
#include "tests/harness.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S)

struct tio {
	struct cowstore_io io;
	struct qos_gate_req req;
	int vm_index;
	bool inflight;                /* the simulated device's */
	_Atomic bool busy;            /* concurrency test: at the gate or in flight */
	uint64_t finish_ns;
	_Atomic int submits, completions;
	int fail_with;                /* the fake submit refuses it with this */
};

struct fake {
	pthread_mutex_t lock;
	uint64_t now_ns;
	struct tio **submitted;       /* in order */
	size_t nsubmitted, cap;
	int fails;                    /* fail hook calls */
	int last_fail;
	double ns_per_unit;           /* service time of a reference IO */
	double fixed_us, us_per_kib;  /* the cost model the test gives the gate */
};

static struct tio *tio_of(struct cowstore_io *io)
{
	return (struct tio *)(void *)io;
}

static double units(const struct fake *f, const struct cowstore_io *io)
{
	double b = (double)io->nsectors * 512, ref = f->fixed_us + f->us_per_kib * 8;
	return f->fixed_us > 0 ? (f->fixed_us + f->us_per_kib * b / 1024) / ref : 1;
}

static int fake_submit(void *arg, struct cowstore *cs, struct cowstore_io *io)
{
	struct fake *f = arg;
	struct tio *t = tio_of(io);
	if (t->fail_with)
		return t->fail_with;
	pthread_mutex_lock(&f->lock);
	if (f->nsubmitted == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 1024;
		f->submitted = realloc(f->submitted, f->cap * sizeof(*f->submitted));
	}
	f->submitted[f->nsubmitted++] = t;
	t->inflight = true;
	t->finish_ns = f->now_ns + (uint64_t)(units(f, io) * f->ns_per_unit);
	pthread_mutex_unlock(&f->lock);
	atomic_fetch_add(&t->submits, 1);
	return 0;
}

static int fake_fail(void *arg, struct cowstore_io *io, int result)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->lock);
	f->fails++;
	f->last_fail = result;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static uint64_t fake_now(void *arg)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->lock);
	uint64_t now = f->now_ns;
	pthread_mutex_unlock(&f->lock);
	return now;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->now_ns = T0;
	f->ns_per_unit = 4 * MS;
}

static void fake_fini(struct fake *f)
{
	free(f->submitted);
	pthread_mutex_destroy(&f->lock);
}

static struct qos_gate *fake_gate(struct fake *f, uint32_t capacity)
{
	struct qos_gate_config cfg = { .capacity = capacity, .submit = fake_submit,
				       .fail = fake_fail, .now = fake_now, .hook_arg = f,
				       .no_timer = true };
	struct qos_gate *g = NULL;
	return qos_gate_create(&cfg, &g) == 0 ? g : NULL;
}

static void tio_setup(struct tio *t, uint64_t volume_id, uint32_t bytes)
{
	memset(&t->io, 0, sizeof(t->io));
	t->io.op = COWSTORE_OP_READ;
	t->io.volume_id = volume_id;
	t->io.nsectors = bytes / 512;
}

/* ---- capacity and the inactive path ------------------------------------------ */

static void test_capacity(void)
{
	struct fake f;
	fake_init(&f);
	struct qos_gate *g = fake_gate(&f, 4);
	REQUIRE(g);
	static struct tio t[10];
	memset(t, 0, sizeof(t));
	/* inactive: everything goes at once, nothing is counted */
	for (int i = 0; i < 10; i++) {
		tio_setup(&t[i], 7, 4096);
		CHECK_EQ(qos_gate_submit(g, &t[i].req, NULL, &t[i].io), 0);
	}
	CHECK_EQ(f.nsubmitted, 10);
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK(!st.active);
	CHECK_EQ(st.inflight, 0);
	qos_gate_status_free(&st);
	for (int i = 0; i < 10; i++)
		qos_gate_done(g, &t[i].req);
	/* active (a VM with a policy): at most 4 in flight, the rest waits */
	struct qos_mclock_policy p = { .shares = 100 };
	REQUIRE(qos_gate_set_vm(g, 1, "vm1", &p) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, 7, 1) == 0);
	f.nsubmitted = 0;
	for (int i = 0; i < 10; i++)
		CHECK_EQ(qos_gate_submit(g, &t[i].req, NULL, &t[i].io), 0);
	CHECK_EQ(f.nsubmitted, 4);
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK(st.active);
	CHECK_EQ(st.inflight, 4);
	CHECK_EQ(st.queued, 6);
	CHECK_EQ(st.nvms, 2);
	CHECK_EQ(st.vms[1].vm, 1);
	CHECK(!strcmp(st.vms[1].name, "vm1"));
	CHECK_EQ(st.vms[1].volumes, 1);
	CHECK_EQ(st.vms[1].queued, 6);
	CHECK_EQ(st.vms[1].held_by_limit, 0); /* waited for room, not for a limit */
	qos_gate_status_free(&st);
	/* one completes: one more goes, FIFO within the VM */
	qos_gate_done(g, &t[0].req);
	CHECK_EQ(f.nsubmitted, 5);
	CHECK(f.submitted[4] == &t[4]);
	qos_gate_done(g, &t[0].req); /* twice: nothing (no longer counted) */
	CHECK_EQ(f.nsubmitted, 5);
	/* more room releases more */
	qos_gate_set_capacity(g, 6);
	CHECK_EQ(f.nsubmitted, 7);
	/* turning it off releases everything waiting */
	qos_gate_clear(g);
	CHECK_EQ(f.nsubmitted, 10);
	for (int i = 1; i < 10; i++)
		qos_gate_done(g, &t[i].req);
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK(!st.active);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.queued, 0);
	qos_gate_status_free(&st);
	qos_gate_destroy(g);
	fake_fini(&f);
}

/* ---- saturated: reservation, then shares in reference IOs ------------------------- */

#define SAT_VMS 3
#define SAT_QD 16

/* Closed loop: every VM keeps SAT_QD requests at the gate; the device
 * serves what it was given (capacity = its channels, so no queue of its
 * own) in units * ns_per_unit.  Returns completed units per VM in
 * [from_s, end_s). */
static void run_saturated(struct fake *f, struct qos_gate *g, const uint32_t bytes[SAT_VMS],
			  double from_s, double end_s, double got_units[SAT_VMS],
			  double got_ios[SAT_VMS])
{
	static struct tio t[SAT_VMS][SAT_QD];
	memset(t, 0, sizeof(t));
	for (int v = 0; v < SAT_VMS; v++) {
		got_units[v] = got_ios[v] = 0;
		for (int k = 0; k < SAT_QD; k++) {
			t[v][k].vm_index = v;
			tio_setup(&t[v][k], 100 + (uint64_t)v, bytes[v]);
			qos_gate_submit(g, &t[v][k].req, NULL, &t[v][k].io);
		}
	}
	uint64_t end = T0 + (uint64_t)(end_s * S), from = T0 + (uint64_t)(from_s * S);
	for (;;) {
		/* the next completion */
		struct tio *next = NULL;
		for (int v = 0; v < SAT_VMS; v++)
			for (int k = 0; k < SAT_QD; k++)
				if (t[v][k].inflight && (!next || t[v][k].finish_ns < next->finish_ns))
					next = &t[v][k];
		uint64_t wake = qos_gate_poll(g);
		if (!next && !wake)
			break;
		uint64_t at = next ? next->finish_ns : wake;
		if (wake && wake < at)
			at = wake;
		if (at >= end)
			break;
		f->now_ns = at;
		if (!next || next->finish_ns != at)
			continue; /* a timer pass at `at` */
		next->inflight = false;
		if (at >= from) {
			got_units[next->vm_index] += units(f, &next->io);
			got_ios[next->vm_index]++;
		}
		qos_gate_done(g, &next->req);
		tio_setup(next, 100 + (uint64_t)next->vm_index, bytes[next->vm_index]);
		qos_gate_submit(g, &next->req, NULL, &next->io);
	}
}

static void test_reservation_then_shares(void)
{
	struct fake f;
	fake_init(&f);
	/* a = 100 us, b = 10 us/KiB: an 8 KiB IO is 1 unit, 64 KiB 740/180 = 4.11 */
	f.fixed_us = 100;
	f.us_per_kib = 10;
	struct qos_gate *g = fake_gate(&f, 4); /* 4 channels of 4 ms per unit: 1000 units/s */
	REQUIRE(g);
	qos_gate_set_cost(g, 100, 10, 0);
	struct qos_mclock_policy pa = { .reservation_iops = 500, .shares = 100 };
	struct qos_mclock_policy pb = { .shares = 100 }, pc = { .shares = 200 };
	REQUIRE(qos_gate_set_vm(g, 1, "a", &pa) == 0);
	REQUIRE(qos_gate_set_vm(g, 2, "b", &pb) == 0);
	REQUIRE(qos_gate_set_vm(g, 3, "c", &pc) == 0);
	for (uint32_t v = 0; v < 3; v++)
		REQUIRE(qos_gate_set_volume_vm(g, 100 + v, v + 1) == 0);
	const uint32_t bytes[SAT_VMS] = { 8192, 8192, 65536 };
	double u[SAT_VMS], ios[SAT_VMS];
	run_saturated(&f, g, bytes, 2, 20, u, ios);
	double secs = 18, total = (u[0] + u[1] + u[2]) / secs;
	printf("  reservation 500 / shares 100 (8K) / shares 200 (64K): %.0f / %.0f / %.0f IO/s, "
	       "%.0f / %.0f / %.0f units/s (device %.0f units/s)\n", ios[0] / secs, ios[1] / secs,
	       ios[2] / secs, u[0] / secs, u[1] / secs, u[2] / secs, total);
	CHECK(total >= 990 && total <= 1010);        /* the gate kept the device busy */
	CHECK(ios[0] / secs >= 500 * 0.98);          /* reservation met */
	CHECK(fabs(u[2] / u[1] / 2 - 1) <= 0.05);    /* the rest 1:2 in units, not IOs */
	CHECK(ios[2] < ios[1]);                      /* (in IOs, c gets fewer) */
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	REQUIRE(st.nvms == 4);
	CHECK(st.vms[1].dispatched_reservation > 0);
	CHECK_EQ(st.vms[2].dispatched_reservation, 0);
	CHECK(st.vms[2].dispatched_shares > 0);
	qos_gate_status_free(&st);
	qos_gate_clear(g); /* nothing left waiting */
	qos_gate_destroy(g);
	fake_fini(&f);
}

/* A VM with the same shares but no reservation does not get one: the
 * same run without a's reservation splits 1:1:2 (checks the test above
 * can fail on the reservation). */
static void test_shares_without_reservation(void)
{
	struct fake f;
	fake_init(&f);
	struct qos_gate *g = fake_gate(&f, 4);
	REQUIRE(g);
	struct qos_mclock_policy pa = { .shares = 100 }, pc = { .shares = 200 };
	REQUIRE(qos_gate_set_vm(g, 1, "a", &pa) == 0);
	REQUIRE(qos_gate_set_vm(g, 2, "b", &pa) == 0);
	REQUIRE(qos_gate_set_vm(g, 3, "c", &pc) == 0);
	for (uint32_t v = 0; v < 3; v++)
		REQUIRE(qos_gate_set_volume_vm(g, 100 + v, v + 1) == 0);
	const uint32_t bytes[SAT_VMS] = { 8192, 8192, 8192 };
	double u[SAT_VMS], ios[SAT_VMS];
	run_saturated(&f, g, bytes, 2, 12, u, ios);
	printf("  shares 100 / 100 / 200: %.0f / %.0f / %.0f IO/s\n", ios[0] / 10, ios[1] / 10,
	       ios[2] / 10);
	CHECK(fabs(ios[0] / 10 - 250) <= 250 * 0.03);
	CHECK(fabs(ios[1] / 10 - 250) <= 250 * 0.03);
	CHECK(fabs(ios[2] / 10 - 500) <= 500 * 0.03);
	qos_gate_clear(g);
	qos_gate_destroy(g);
	fake_fini(&f);
}

/* ---- limits: held with room free, released on time ------------------------------------ */

static void test_limit_holds_with_room(void)
{
	struct fake f;
	fake_init(&f);
	struct qos_gate *g = fake_gate(&f, 64);
	REQUIRE(g);
	struct qos_mclock_policy lim = { .limit_iops = 200, .shares = 100 };
	struct qos_mclock_policy free_vm = { .shares = 100 };
	REQUIRE(qos_gate_set_vm(g, 1, "limited", &lim) == 0);
	REQUIRE(qos_gate_set_vm(g, 2, "free", &free_vm) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, 1, 1) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, 2, 2) == 0);
	static struct tio t[40], u[20];
	memset(t, 0, sizeof(t));
	memset(u, 0, sizeof(u));
	for (int i = 0; i < 40; i++) {
		tio_setup(&t[i], 1, 8192);
		CHECK_EQ(qos_gate_submit(g, &t[i].req, NULL, &t[i].io), 0);
	}
	for (int i = 0; i < 20; i++) { /* the other VM is not held */
		tio_setup(&u[i], 2, 8192);
		CHECK_EQ(qos_gate_submit(g, &u[i].req, NULL, &u[i].io), 0);
	}
	CHECK_EQ(f.nsubmitted, 1 + 20);
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK_EQ(st.vms[1].held_by_limit, 39);
	CHECK_EQ(st.vms[2].held_by_limit, 0);
	CHECK_EQ(st.queued, 39);
	qos_gate_status_free(&st);
	/* the timer: the next release is due 5 ms later; step through its
	 * wake-ups and count the limited VM's releases over time */
	size_t limited = 1;
	uint64_t wake = qos_gate_poll(g);
	CHECK_EQ(wake, T0 + 5 * MS);
	int bad = 0;
	while (wake) {
		f.now_ns = wake;
		size_t before = f.nsubmitted;
		wake = qos_gate_poll(g);
		limited += f.nsubmitted - before;
		double elapsed_s = (double)(f.now_ns - T0) / S;
		if ((double)limited > 1 + 200 * elapsed_s + 1e-6 ||
		    (double)limited < 200 * elapsed_s - 1e-6)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(limited, 40);
	CHECK_EQ(f.now_ns, T0 + 39 * 5 * MS); /* the last at 195 ms: exactly 200/s */
	/* a poll early releases nothing */
	tio_setup(&t[0], 1, 8192);
	qos_gate_done(g, &t[0].req);
	size_t before = f.nsubmitted;
	CHECK_EQ(qos_gate_submit(g, &t[0].req, NULL, &t[0].io), 0);
	CHECK_EQ(f.nsubmitted, before); /* its L tag is 200 ms: in the future */
	f.now_ns = T0 + 199 * MS;
	qos_gate_poll(g);
	CHECK_EQ(f.nsubmitted, before);
	f.now_ns = T0 + 200 * MS;
	qos_gate_poll(g);
	CHECK_EQ(f.nsubmitted, before + 1);
	qos_gate_clear(g);
	qos_gate_destroy(g);
	fake_fini(&f);
}

/* The real timer thread (real clock): 41 requests of a VM limited to 200
 * IOPS cannot all go in less than 200 ms. */
struct timed {
	pthread_mutex_t lock;
	uint64_t first_ns, last_ns;
	int n;
};

static int timed_submit(void *arg, struct cowstore *cs, struct cowstore_io *io)
{
	struct timed *tm = arg;
	pthread_mutex_lock(&tm->lock);
	uint64_t now = qos_now_ns();
	if (!tm->n++)
		tm->first_ns = now;
	tm->last_ns = now;
	pthread_mutex_unlock(&tm->lock);
	return 0;
}

static void test_limit_real_timer(void)
{
	struct timed tm = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct qos_gate_config cfg = { .submit = timed_submit, .hook_arg = &tm };
	struct qos_gate *g;
	REQUIRE(qos_gate_create(&cfg, &g) == 0);
	struct qos_mclock_policy lim = { .limit_iops = 200, .shares = 100 };
	REQUIRE(qos_gate_set_vm(g, 1, "limited", &lim) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, 5, 1) == 0);
	static struct tio t[41];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 41; i++) {
		tio_setup(&t[i], 5, 8192);
		CHECK_EQ(qos_gate_submit(g, &t[i].req, NULL, &t[i].io), 0);
	}
	for (int i = 0; i < 400; i++) { /* 2 s at most */
		pthread_mutex_lock(&tm.lock);
		int n = tm.n;
		pthread_mutex_unlock(&tm.lock);
		if (n == 41)
			break;
		usleep(5000);
	}
	CHECK_EQ(tm.n, 41);
	double span_ms = (double)(tm.last_ns - tm.first_ns) / MS;
	printf("  41 requests at 200 IOPS released over %.1f ms by the timer (200 expected)\n",
	       span_ms);
	CHECK(span_ms >= 200 * 0.99);
	CHECK(span_ms <= 1500);
	for (int i = 0; i < 41; i++)
		qos_gate_done(g, &t[i].req);
	qos_gate_destroy(g);
}

/* ---- errors ------------------------------------------------------------------------------------ */

static void test_submit_errors(void)
{
	struct fake f;
	fake_init(&f);
	struct qos_gate *g = fake_gate(&f, 1);
	REQUIRE(g);
	struct qos_mclock_policy p = { .shares = 100 };
	REQUIRE(qos_gate_set_vm(g, 1, "vm", &p) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, 3, 1) == 0);
	static struct tio t[3];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 3; i++)
		tio_setup(&t[i], 3, 4096);
	/* refused now: the error comes back, its room too */
	t[0].fail_with = -EINVAL;
	CHECK_EQ(qos_gate_submit(g, &t[0].req, NULL, &t[0].io), -EINVAL);
	t[0].fail_with = 0;
	CHECK_EQ(qos_gate_submit(g, &t[0].req, NULL, &t[0].io), 0);
	CHECK_EQ(f.nsubmitted, 1);
	/* refused later: completed with its error through its queue */
	t[1].fail_with = -ENOMEM;
	CHECK_EQ(qos_gate_submit(g, &t[1].req, NULL, &t[1].io), 0);
	CHECK_EQ(qos_gate_submit(g, &t[2].req, NULL, &t[2].io), 0);
	qos_gate_done(g, &t[0].req);
	CHECK_EQ(f.fails, 1);
	CHECK_EQ(f.last_fail, -ENOMEM);
	CHECK_EQ(f.nsubmitted, 1); /* t[1] holds the room until its done() */
	qos_gate_done(g, &t[1].req); /* its done() runs, as a target's would */
	CHECK_EQ(f.nsubmitted, 2);
	CHECK(f.submitted[1] == &t[2]);
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK_EQ(st.deferred_errors, 1);
	CHECK_EQ(st.inflight, 1);
	qos_gate_status_free(&st);
	qos_gate_done(g, &t[2].req);
	/* bad calls */
	CHECK_EQ(qos_gate_set_vm(g, 0, "x", &p), -EINVAL);
	CHECK_EQ(qos_gate_set_vm(g, QOS_GATE_VM_MAX + 1, "x", &p), -EINVAL);
	struct qos_mclock_policy bad = { .reservation_iops = 10, .limit_iops = 5 };
	CHECK_EQ(qos_gate_set_vm(g, 2, "x", &bad), -EINVAL);
	CHECK_EQ(qos_gate_set_volume_vm(g, 9, 5), -ENOENT);
	CHECK_EQ(qos_gate_remove_vm(g, 5), -ENOENT);
	/* removing the last VM turns the gate off */
	CHECK_EQ(qos_gate_remove_vm(g, 1), 0);
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK(!st.active);
	CHECK_EQ(st.nvms, 1);
	qos_gate_status_free(&st);
	qos_gate_destroy(g);
	fake_fini(&f);
}

/* ---- concurrency ------------------------------------------------------------------------------------- */

#define CC_THREADS 3
#define CC_PER_THREAD 20000
#define CC_DEPTH 24

/* The device: a FIFO of submitted requests that a thread completes. */
struct cc_dev {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tio **fifo;
	size_t head, tail, cap;
	bool stop;
	_Atomic uint64_t completed;
	_Atomic int inflight, max_inflight;
	struct qos_gate *g;
};

static int cc_submit(void *arg, struct cowstore *cs, struct cowstore_io *io)
{
	struct cc_dev *d = arg;
	struct tio *t = tio_of(io);
	atomic_fetch_add(&t->submits, 1);
	int n = atomic_fetch_add(&d->inflight, 1) + 1;
	int m = atomic_load(&d->max_inflight);
	while (n > m && !atomic_compare_exchange_weak(&d->max_inflight, &m, n))
		;
	pthread_mutex_lock(&d->lock);
	d->fifo[d->tail++ % d->cap] = t;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void *cc_device(void *arg)
{
	struct cc_dev *d = arg;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (d->head == d->tail && !d->stop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->head == d->tail)
			break;
		struct tio *t = d->fifo[d->head++ % d->cap];
		pthread_mutex_unlock(&d->lock);
		atomic_fetch_sub(&d->inflight, 1);
		atomic_fetch_add(&t->completions, 1);
		qos_gate_done(d->g, &t->req); /* may submit more: d->lock is not held */
		atomic_store_explicit(&t->busy, false, memory_order_release);
		atomic_fetch_add(&d->completed, 1);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

struct cc_thread {
	struct cc_dev *d;
	int index;
	struct tio *t;          /* CC_DEPTH */
	uint64_t submitted;
};

static void *cc_submitter(void *arg)
{
	struct cc_thread *c = arg;
	uint64_t seq = 0;
	while (seq < CC_PER_THREAD) {
		bool any = false;
		for (int k = 0; k < CC_DEPTH && seq < CC_PER_THREAD; k++) {
			struct tio *t = &c->t[k];
			if (atomic_load_explicit(&t->busy, memory_order_acquire))
				continue;
			/* volumes 1, 2 (VMs), 3 (unmanaged) in turn */
			tio_setup(t, 1 + (seq + (uint64_t)c->index) % 3, 4096);
			atomic_store(&t->busy, true);
			if (qos_gate_submit(c->d->g, &t->req, NULL, &t->io) == 0)
				c->submitted++;
			seq++;
			any = true;
		}
		if (!any)
			sched_yield();
	}
	return NULL;
}

static void test_concurrent_submitters(void)
{
	struct cc_dev d = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	d.cap = CC_THREADS * CC_DEPTH + 1;
	d.fifo = calloc(d.cap, sizeof(*d.fifo));
	struct qos_gate_config cfg = { .capacity = 8, .submit = cc_submit, .hook_arg = &d };
	REQUIRE(qos_gate_create(&cfg, &d.g) == 0);
	/* a high limit keeps the timer thread busy too */
	struct qos_mclock_policy p1 = { .reservation_iops = 1000, .shares = 100 };
	struct qos_mclock_policy p2 = { .limit_iops = 20000, .shares = 300 };
	REQUIRE(qos_gate_set_vm(d.g, 1, "one", &p1) == 0);
	REQUIRE(qos_gate_set_vm(d.g, 2, "two", &p2) == 0);
	REQUIRE(qos_gate_set_volume_vm(d.g, 1, 1) == 0);
	REQUIRE(qos_gate_set_volume_vm(d.g, 2, 2) == 0);
	pthread_t dev, th[CC_THREADS];
	struct cc_thread ct[CC_THREADS];
	REQUIRE(pthread_create(&dev, NULL, cc_device, &d) == 0);
	for (int i = 0; i < CC_THREADS; i++) {
		ct[i] = (struct cc_thread){ .d = &d, .index = i, .t = calloc(CC_DEPTH, sizeof(struct tio)) };
		REQUIRE(pthread_create(&th[i], NULL, cc_submitter, &ct[i]) == 0);
	}
	uint64_t total = 0;
	for (int i = 0; i < CC_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += ct[i].submitted;
	}
	/* wait for the last ones (the limited VM's may wait for the timer) */
	for (int i = 0; i < 2000 && atomic_load(&d.completed) < total; i++)
		usleep(1000);
	pthread_mutex_lock(&d.lock);
	d.stop = true;
	pthread_cond_signal(&d.cond);
	pthread_mutex_unlock(&d.lock);
	pthread_join(dev, NULL);
	CHECK_EQ(total, (uint64_t)CC_THREADS * CC_PER_THREAD);
	CHECK_EQ(atomic_load(&d.completed), total);
	CHECK(atomic_load(&d.max_inflight) <= 8);
	int bad = 0;
	for (int i = 0; i < CC_THREADS; i++)
		for (int k = 0; k < CC_DEPTH; k++)
			bad += atomic_load(&ct[i].t[k].submits) != atomic_load(&ct[i].t[k].completions);
	CHECK_EQ(bad, 0);
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(d.g, &st) == 0);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.queued, 0);
	uint64_t dispatched = 0;
	for (size_t i = 0; i < st.nvms; i++)
		dispatched += st.vms[i].dispatched_reservation + st.vms[i].dispatched_shares;
	CHECK_EQ(dispatched, total);
	printf("  %d threads x %d requests: all completed once; at most %d in flight (capacity 8), "
	       "%" PRIu64 " waited\n", CC_THREADS, CC_PER_THREAD, atomic_load(&d.max_inflight),
	       st.deferred);
	qos_gate_status_free(&st);
	qos_gate_destroy(d.g);
	for (int i = 0; i < CC_THREADS; i++)
		free(ct[i].t);
	free(d.fifo);
}

static const struct harness_test tests[] = {
	{ "capacity", test_capacity },
	{ "reservation_then_shares", test_reservation_then_shares },
	{ "shares_without_reservation", test_shares_without_reservation },
	{ "limit_holds_with_room", test_limit_holds_with_room },
	{ "limit_real_timer", test_limit_real_timer },
	{ "submit_errors", test_submit_errors },
	{ "concurrent_submitters", test_concurrent_submitters },
};

HARNESS_MAIN(tests)
