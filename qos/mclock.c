/*
 * mclock.c - mClock scheduling of admitted IOs among VMs: reservation,
 * limit and shares tags (the rules are in qos.h).
 *
 * Tags are those of each VM's head request, computed when it becomes the
 * head, in nanoseconds (double).  A VM with requests is in the R heap when
 * it has a reservation, and in exactly one of the L heap (its limit tag is
 * in the future) or the P heap (it may be served by shares).  A VM moves
 * from L to P when dequeue() is called at or after its L tag; time passed
 * to the scheduler must not go backwards.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

#define VM_MAX (1u << 20)
enum { HEAP_R, HEAP_L, HEAP_P, NHEAPS };

struct mc_vm {
	bool exists;
	struct qos_mclock_policy p;
	struct qos_mclock_req *head, *tail;
	size_t queued;
	double r, l, pt;          /* head's tags */
	double r_last, l_last, p_last; /* the last dispatched request's tags */
	size_t pos[NHEAPS];       /* SIZE_MAX: not in that heap */
};

struct heap {
	uint32_t *vm;
	size_t n, cap;
};

struct qos_mclock {
	struct mc_vm *vms;
	size_t nvms;
	struct heap heaps[NHEAPS];
	size_t queued;
	double vtime;             /* P tag of the last request served by shares */
};

static double key(const struct qos_mclock *s, int h, uint32_t vm)
{
	const struct mc_vm *v = &s->vms[vm];
	return h == HEAP_R ? v->r : h == HEAP_L ? v->l : v->pt;
}

static void heap_set(struct qos_mclock *s, int h, size_t i, uint32_t vm)
{
	s->heaps[h].vm[i] = vm;
	s->vms[vm].pos[h] = i;
}

static void sift_up(struct qos_mclock *s, int h, size_t i)
{
	struct heap *hp = &s->heaps[h];
	uint32_t vm = hp->vm[i];
	double k = key(s, h, vm);
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (key(s, h, hp->vm[parent]) <= k)
			break;
		heap_set(s, h, i, hp->vm[parent]);
		i = parent;
	}
	heap_set(s, h, i, vm);
}

static void sift_down(struct qos_mclock *s, int h, size_t i)
{
	struct heap *hp = &s->heaps[h];
	uint32_t vm = hp->vm[i];
	double k = key(s, h, vm);
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && key(s, h, hp->vm[c + 1]) < key(s, h, hp->vm[c]))
			c++;
		if (key(s, h, hp->vm[c]) >= k)
			break;
		heap_set(s, h, i, hp->vm[c]);
		i = c;
	}
	heap_set(s, h, i, vm);
}

/* Room is reserved when the VM is made (every heap can hold every VM). */
static void heap_push(struct qos_mclock *s, int h, uint32_t vm)
{
	struct heap *hp = &s->heaps[h];
	hp->vm[hp->n] = vm;
	s->vms[vm].pos[h] = hp->n++;
	sift_up(s, h, hp->n - 1);
}

static void heap_remove(struct qos_mclock *s, int h, uint32_t vm)
{
	struct heap *hp = &s->heaps[h];
	size_t i = s->vms[vm].pos[h];
	if (i == SIZE_MAX)
		return;
	s->vms[vm].pos[h] = SIZE_MAX;
	uint32_t last = hp->vm[--hp->n];
	if (i == hp->n)
		return;
	heap_set(s, h, i, last);
	sift_down(s, h, i);
	sift_up(s, h, s->vms[last].pos[h]);
}

int qos_mclock_create(struct qos_mclock **out)
{
	if (!out)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void qos_mclock_destroy(struct qos_mclock *s)
{
	if (!s)
		return;
	for (int h = 0; h < NHEAPS; h++)
		free(s->heaps[h].vm);
	free(s->vms);
	free(s);
}

static int grow(struct qos_mclock *s, uint32_t vm)
{
	if (vm < s->nvms)
		return 0;
	size_t n = s->nvms ? s->nvms : 8;
	while (n <= vm)
		n *= 2;
	/* heaps first: a heap larger than the VM table is harmless */
	for (int h = 0; h < NHEAPS; h++) {
		uint32_t *a = realloc(s->heaps[h].vm, n * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->heaps[h].vm = a;
		s->heaps[h].cap = n;
	}
	struct mc_vm *vms = realloc(s->vms, n * sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	memset(vms + s->nvms, 0, (n - s->nvms) * sizeof(*vms));
	s->vms = vms;
	s->nvms = n;
	return 0;
}

int qos_mclock_set_vm(struct qos_mclock *s, uint32_t vm, const struct qos_mclock_policy *p)
{
	if (!s || !p || vm >= VM_MAX || p->reservation_iops < 0 || p->limit_iops < 0 ||
	    (p->limit_iops > 0 && p->reservation_iops > p->limit_iops))
		return -EINVAL;
	int rc = grow(s, vm);
	if (rc)
		return rc;
	struct mc_vm *v = &s->vms[vm];
	if (!v->exists) {
		memset(v, 0, sizeof(*v));
		v->exists = true;
		for (int h = 0; h < NHEAPS; h++)
			v->pos[h] = SIZE_MAX;
		v->p_last = s->vtime;
	}
	v->p = *p;
	if (!v->p.shares)
		v->p.shares = 1;
	/* a VM with requests keeps its head's tags until it is next served,
	 * except for joining or leaving the R heap */
	if (v->queued && v->p.reservation_iops > 0 && v->pos[HEAP_R] == SIZE_MAX) {
		v->r = v->head->arrival_ns;
		heap_push(s, HEAP_R, vm);
	} else if (!(v->p.reservation_iops > 0)) {
		heap_remove(s, HEAP_R, vm);
	}
	return 0;
}

int qos_mclock_remove_vm(struct qos_mclock *s, uint32_t vm)
{
	if (!s || vm >= s->nvms || !s->vms[vm].exists)
		return -ENOENT;
	if (s->vms[vm].queued)
		return -EBUSY;
	s->vms[vm].exists = false;
	return 0;
}

/* v's head request has just become the head: its tags and heaps. */
static void head_tags(struct qos_mclock *s, uint32_t vm, bool was_idle, uint64_t now_ns)
{
	struct mc_vm *v = &s->vms[vm];
	double arrival = (double)v->head->arrival_ns, cost = v->head->cost;
	if (v->p.reservation_iops > 0) {
		v->r = fmax(v->r_last + cost * 1e9 / v->p.reservation_iops, arrival);
		heap_push(s, HEAP_R, vm);
	}
	v->l = v->p.limit_iops > 0 ? fmax(v->l_last + cost * 1e9 / v->p.limit_iops, arrival) : 0;
	double start = was_idle ? fmax(v->p_last, s->vtime) : v->p_last;
	v->pt = start + cost * 1e9 / v->p.shares;
	heap_push(s, v->l <= (double)now_ns ? HEAP_P : HEAP_L, vm);
}

int qos_mclock_enqueue(struct qos_mclock *s, uint32_t vm, struct qos_mclock_req *req,
		       double cost, uint64_t now_ns)
{
	if (!s || !req || !(cost > 0))
		return -EINVAL;
	if (vm >= s->nvms || !s->vms[vm].exists)
		return -ENOENT;
	struct mc_vm *v = &s->vms[vm];
	req->next = NULL;
	req->arrival_ns = now_ns;
	req->cost = cost;
	req->vm = vm;
	s->queued++;
	if (v->queued++) {
		v->tail->next = req;
		v->tail = req;
		return 0;
	}
	v->head = v->tail = req;
	head_tags(s, vm, true, now_ns);
	return 0;
}

struct qos_mclock_req *qos_mclock_dequeue(struct qos_mclock *s, uint64_t now_ns,
					  uint64_t *wait_until_ns, bool *by_reservation)
{
	double now = (double)now_ns;
	struct heap *hr = &s->heaps[HEAP_R], *hl = &s->heaps[HEAP_L], *hp = &s->heaps[HEAP_P];
	*wait_until_ns = 0;
	if (!s->queued)
		return NULL;
	while (hl->n && s->vms[hl->vm[0]].l <= now) {
		uint32_t vm = hl->vm[0];
		heap_remove(s, HEAP_L, vm);
		heap_push(s, HEAP_P, vm);
	}
	uint32_t vm;
	bool reserved = false;
	if (hr->n && s->vms[hr->vm[0]].r <= now) {
		vm = hr->vm[0];
		reserved = true;
	} else if (hp->n) {
		vm = hp->vm[0];
	} else {
		double t = INFINITY;
		if (hr->n)
			t = s->vms[hr->vm[0]].r;
		if (hl->n)
			t = fmin(t, s->vms[hl->vm[0]].l);
		*wait_until_ns = (uint64_t)ceil(t);
		if (*wait_until_ns <= now_ns)
			*wait_until_ns = now_ns + 1;
		return NULL;
	}
	struct mc_vm *v = &s->vms[vm];
	for (int h = 0; h < NHEAPS; h++)
		heap_remove(s, h, vm);
	struct qos_mclock_req *req = v->head;
	v->r_last = v->r;
	v->l_last = v->l;
	if (!reserved) {
		v->p_last = v->pt;
		s->vtime = v->pt;
	}
	/* served by reservation: P does not advance (the IO is not charged
	 * against the VM's shares) */
	v->head = req->next;
	if (!v->head)
		v->tail = NULL;
	v->queued--;
	s->queued--;
	if (v->head)
		head_tags(s, vm, false, now_ns);
	if (by_reservation)
		*by_reservation = reserved;
	req->next = NULL;
	return req;
}

size_t qos_mclock_queued(const struct qos_mclock *s)
{
	return s ? s->queued : 0;
}
