/*
 * test_mclock.c - mClock scheduling among VMs: tags and "wait until"
 * alone, then on a simulated device (8 channels, 578 us per reference IO,
 * about 13,800 reference IOs per second) with closed-loop VMs:
 * reservations met under contention, limits enforced, shares splitting
 * the rest, IO cost counted in reference IOs, and an idle VM not banking
 * credit.  Simulated time.
 */
#include <errno.h>
#include <math.h>

#include "qos/internal.h"
#include "tests/harness.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S)

static void test_tags_and_wait(void)
{
	struct qos_mclock *s;
	REQUIRE(qos_mclock_create(&s) == 0);
	struct qos_mclock_policy limited = { .limit_iops = 1000, .shares = 1 };
	REQUIRE(qos_mclock_set_vm(s, 3, &limited) == 0);
	struct qos_mclock_req r[3];
	uint64_t wait;
	CHECK(qos_mclock_dequeue(s, T0, &wait, NULL) == NULL);
	CHECK_EQ(wait, 0);
	for (int i = 0; i < 3; i++)
		REQUIRE(qos_mclock_enqueue(s, 3, &r[i], 1, T0) == 0);
	CHECK_EQ(qos_mclock_queued(s), 3);
	bool by_res = true;
	CHECK(qos_mclock_dequeue(s, T0, &wait, &by_res) == &r[0]);
	CHECK(!by_res);
	/* the limit: the next one 1 ms later */
	CHECK(qos_mclock_dequeue(s, T0, &wait, NULL) == NULL);
	CHECK_EQ(wait, T0 + 1 * MS);
	CHECK(qos_mclock_dequeue(s, T0 + 1 * MS, &wait, NULL) == &r[1]);
	CHECK(r[1].vm == 3);
	/* a cost of 4 reference IOs takes 4 ms of the limit */
	struct qos_mclock_req big;
	REQUIRE(qos_mclock_dequeue(s, T0 + 2 * MS, &wait, NULL) == &r[2]);
	REQUIRE(qos_mclock_enqueue(s, 3, &big, 4, T0 + 2 * MS) == 0);
	CHECK(qos_mclock_dequeue(s, T0 + 2 * MS, &wait, NULL) == NULL);
	CHECK_EQ(wait, T0 + 6 * MS);
	/* reservation: served first when due, even against a smaller P tag */
	struct qos_mclock_policy reserved = { .reservation_iops = 100, .shares = 1 };
	struct qos_mclock_policy heavy = { .shares = 1000 };
	REQUIRE(qos_mclock_set_vm(s, 0, &reserved) == 0);
	REQUIRE(qos_mclock_set_vm(s, 1, &heavy) == 0);
	struct qos_mclock_req a, b;
	REQUIRE(qos_mclock_enqueue(s, 1, &b, 1, T0 + 3 * MS) == 0);
	REQUIRE(qos_mclock_enqueue(s, 0, &a, 1, T0 + 3 * MS) == 0);
	CHECK(qos_mclock_dequeue(s, T0 + 3 * MS, &wait, &by_res) == &a);
	CHECK(by_res);
	/* errors */
	CHECK_EQ(qos_mclock_remove_vm(s, 3), -EBUSY);
	CHECK_EQ(qos_mclock_enqueue(s, 9, &a, 1, T0), -ENOENT);
	CHECK_EQ(qos_mclock_enqueue(s, 0, &a, 0, T0), -EINVAL);
	struct qos_mclock_policy bad = { .reservation_iops = 200, .limit_iops = 100 };
	CHECK_EQ(qos_mclock_set_vm(s, 5, &bad), -EINVAL);
	CHECK_EQ(qos_mclock_set_vm(s, 1u << 20, &heavy), -EINVAL);
	CHECK_EQ(qos_mclock_remove_vm(s, 7), -ENOENT);
	CHECK(qos_mclock_dequeue(s, T0 + 3 * MS, &wait, NULL) == &b);
	CHECK(qos_mclock_dequeue(s, T0 + 6 * MS, &wait, NULL) == &big);
	CHECK_EQ(qos_mclock_remove_vm(s, 3), 0);
	CHECK_EQ(qos_mclock_queued(s), 0);
	qos_mclock_destroy(s);
}

/* ---- a device behind the scheduler ------------------------------------------- */

#define CHANNELS 8
#define REF_SERVICE_NS 578000.0
#define VMS 4
#define QD 32

struct vm_load {
	struct qos_mclock_policy p;
	double cost;          /* of each of its IOs, reference IOs */
	double start_s;       /* begins issuing */
};

struct dev_io {
	struct qos_mclock_req req;
	bool busy;
};

struct dev_run {
	double units[VMS];    /* completed, in reference IOs, in the window */
};

/* Run for end_s; count completions with t in [from_s, end_s). */
static struct dev_run run_device(const struct vm_load *load, int nvms, double from_s, double end_s)
{
	struct dev_run out;
	memset(&out, 0, sizeof(out));
	struct qos_mclock *s;
	if (qos_mclock_create(&s) != 0)
		return out;
	static struct dev_io ios[VMS][QD];
	memset(ios, 0, sizeof(ios));
	struct {
		bool busy;
		uint64_t done;
		struct dev_io *io;
	} ch[CHANNELS];
	memset(ch, 0, sizeof(ch));
	for (int v = 0; v < nvms; v++)
		qos_mclock_set_vm(s, (uint32_t)v, &load[v].p);
	uint64_t now = T0, end = T0 + (uint64_t)(end_s * S), wake = 0;
	bool started[VMS] = { false };
	while (now < end) {
		/* VMs that begin now fill their queue depth */
		for (int v = 0; v < nvms; v++) {
			if (started[v] || now < T0 + (uint64_t)(load[v].start_s * S))
				continue;
			started[v] = true;
			for (int k = 0; k < QD; k++) {
				ios[v][k].busy = true;
				qos_mclock_enqueue(s, (uint32_t)v, &ios[v][k].req, load[v].cost, now);
			}
		}
		/* dispatch to free channels */
		for (int c = 0; c < CHANNELS; c++) {
			if (ch[c].busy)
				continue;
			uint64_t w;
			struct qos_mclock_req *r = qos_mclock_dequeue(s, now, &w, NULL);
			if (!r) {
				wake = w;
				break;
			}
			ch[c].busy = true;
			ch[c].io = (struct dev_io *)r;
			ch[c].done = now + (uint64_t)(r->cost * REF_SERVICE_NS);
		}
		/* next event */
		uint64_t next = end;
		for (int c = 0; c < CHANNELS; c++)
			if (ch[c].busy && ch[c].done < next)
				next = ch[c].done;
		if (wake > now && wake < next)
			next = wake;
		for (int v = 0; v < nvms; v++) {
			uint64_t st = T0 + (uint64_t)(load[v].start_s * S);
			if (!started[v] && st < next)
				next = st;
		}
		now = next;
		for (int c = 0; c < CHANNELS; c++) {
			if (!ch[c].busy || ch[c].done > now)
				continue;
			ch[c].busy = false;
			struct dev_io *io = ch[c].io;
			uint32_t v = io->req.vm;
			if (now >= T0 + (uint64_t)(from_s * S))
				out.units[v] += load[v].cost;
			qos_mclock_enqueue(s, v, &io->req, load[v].cost, now); /* closed loop */
		}
	}
	qos_mclock_destroy(s);
	return out;
}

/* Reservation 5000 for a VM of small shares, a limit of 1500 on another:
 * expected 5000 / 7300 / 1500 (and the rest of ~13,800 by shares). */
static void test_reservation_limit_shares(void)
{
	struct vm_load load[3] = {
		{ { .reservation_iops = 5000, .shares = 100 }, 1, 0 },
		{ { .shares = 300 }, 1, 0 },
		{ { .limit_iops = 1500, .shares = 100 }, 1, 0 },
	};
	struct dev_run r = run_device(load, 3, 2, 12);
	double total = 0, got[3];
	for (int v = 0; v < 3; v++) {
		got[v] = r.units[v] / 10;
		total += got[v];
	}
	printf("  reservation 5000 / shares 300 / limit 1500: %.0f / %.0f / %.0f IO/s (device %.0f)\n",
	       got[0], got[1], got[2], total);
	CHECK(got[0] >= 5000 * 0.98);
	CHECK(got[2] <= 1500 * 1.01 && got[2] >= 1500 * 0.95);
	CHECK(fabs(got[1] / (total - 5000 - 1500) - 1) <= 0.05);
	CHECK(total >= 0.97 * CHANNELS / (REF_SERVICE_NS / 1e9));
}

/* Shares alone split the device 1:2:3 in reference IOs, whatever the IO
 * sizes (VM 2's IOs cost 4 reference IOs). */
static void test_shares_in_reference_ios(void)
{
	struct vm_load load[3] = {
		{ { .shares = 1000 }, 1, 0 },
		{ { .shares = 2000 }, 1, 0 },
		{ { .shares = 3000 }, 4, 0 },
	};
	struct dev_run r = run_device(load, 3, 2, 12);
	double total = r.units[0] + r.units[1] + r.units[2];
	double worst = 0;
	for (int v = 0; v < 3; v++)
		worst = fmax(worst, fabs(r.units[v] / total / ((v + 1) / 6.0) - 1));
	printf("  shares 1:2:3 (third VM's IOs cost 4): %.0f : %.0f : %.0f ref IO/s, error %.1f%%\n",
	       r.units[0] / 10, r.units[1] / 10, r.units[2] / 10, worst * 100);
	CHECK(worst <= 0.05);
}

/* A VM idle for 10 s and then busy gets its share, not a burst for the
 * time it was idle. */
static void test_idle_vm_banks_no_credit(void)
{
	struct vm_load load[2] = {
		{ { .shares = 1000 }, 1, 0 },
		{ { .shares = 1000 }, 1, 10 },
	};
	struct dev_run r = run_device(load, 2, 10, 10.5);
	double share = r.units[1] / (r.units[0] + r.units[1]);
	printf("  VM busy after 10 s idle: %.1f%% of the first 0.5 s (equal shares)\n", share * 100);
	CHECK(share >= 0.45 && share <= 0.55);
}

static const struct harness_test tests[] = {
	{ "tags_and_wait", test_tags_and_wait },
	{ "reservation_limit_shares", test_reservation_limit_shares },
	{ "shares_in_reference_ios", test_shares_in_reference_ios },
	{ "idle_vm_banks_no_credit", test_idle_vm_banks_no_credit },
};

HARNESS_MAIN(tests)
