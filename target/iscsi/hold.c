/*
 * hold.c - iscsi_server_hold_volume / _release_volume: holding every LUN
 * of a volume, on every target, for a volume move, and switching them to
 * the copy (target/scsi does the holding, see scsi.h).
 *
 * Who does what, as in reconf.c: the caller's thread posts a request
 * (srv->volreq) and wakes the loop, which owns the targets; the loop takes
 * it, holds the volume on every target and answers once no command runs on
 * the volume in any target, retired ones included (holds_service, after
 * every round while a hold waits: srv->hold_waiters).  A caller whose time
 * runs out marks its request cancelled and waits for the answer: -ETIMEDOUT
 * with the hold released, or 0 if the volume was quiet first.  Before start
 * and after stop no command runs: the caller does it all itself, holding
 * reconf_lock, which guards volreq and the requests' answers (lock order
 * as in reconf.c).  The holds (srv->holds) are the loop's, or the lock
 * holder's when no loop runs, like the targets: a LUN mapped to a held
 * volume is held as it is added (holds_apply).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target/iscsi/internal.h"

struct volume_hold {
	struct volume_hold *next;
	struct lun_binding volume;
	struct volume_request *waiter; /* the hold call, until the volume is quiet */
};

struct volume_request {
	bool release;                 /* else a hold */
	struct lun_binding volume;
	struct lun_binding to;        /* release: to.cs NULL keeps the volume */
	/* guarded by reconf_lock */
	bool cancelled;               /* hold: the caller's time ran out */
	bool done;
	int rc;
};

static struct volume_hold *hold_find(struct iscsi_server *srv, const struct lun_binding *v)
{
	for (struct volume_hold *h = srv->holds; h; h = h->next)
		if (binding_equal(&h->volume, v))
			return h;
	return NULL;
}

void holds_apply(struct iscsi_server *srv, struct target_entry *t)
{
	for (struct volume_hold *h = srv->holds; h; h = h->next)
		scsi_target_hold_volume(t->scsi, h->volume.cs, h->volume.volume_id);
}

/* Commands running on volume v, in every target the server has. */
static unsigned volume_inflight(struct iscsi_server *srv, const struct lun_binding *v)
{
	unsigned n = 0;
	for (int i = 0; i < srv->ntargets; i++)
		n += scsi_target_volume_inflight(srv->targets[i]->scsi, v->cs, v->volume_id);
	for (struct target_entry *t = srv->retired; t; t = t->next_retired)
		n += scsi_target_volume_inflight(t->scsi, v->cs, v->volume_id);
	return n;
}

/* The LUNs of t that serve `from` serve `to` now (what reconf.c compares;
 * target/scsi does the switch). */
static void note_switch(struct target_entry *t, const struct lun_binding *from,
			const struct lun_binding *to)
{
	for (uint64_t lun = 0; lun < SCSI_MAX_LUNS; lun++)
		if (scsi_target_lun_present(t->scsi, lun) && binding_equal(&t->served[lun], from))
			t->served[lun] = *to;
}

/* Forget hold h: its LUNs switch to `to` (to->cs NULL: stay) and their held
 * commands run. */
static void hold_end(struct iscsi_server *srv, struct volume_hold *h, const struct lun_binding *to)
{
	struct volume_hold **pp = &srv->holds;
	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	for (int i = 0; i < srv->ntargets; i++) {
		struct target_entry *t = srv->targets[i];
		if (to->cs)
			note_switch(t, &h->volume, to);
		scsi_target_release_volume(t->scsi, h->volume.cs, h->volume.volume_id, to->cs,
					   to->volume_id);
	}
	free(h);
}

/* The work of a request; -EINPROGRESS: a hold waits for quiet (h->waiter).
 * Without a loop (may_wait false) no command runs: a hold is quiet. */
static int request_apply(struct iscsi_server *srv, struct volume_request *rq, bool may_wait)
{
	struct volume_hold *h = hold_find(srv, &rq->volume);
	if (rq->release) {
		if (!h || h->waiter)
			return -ENOENT; /* none, or not held yet */
		hold_end(srv, h, &rq->to);
		return 0;
	}
	if (h)
		return -EBUSY;
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	h->volume = rq->volume;
	h->next = srv->holds;
	srv->holds = h;
	for (int i = 0; i < srv->ntargets; i++)
		scsi_target_hold_volume(srv->targets[i]->scsi, h->volume.cs, h->volume.volume_id);
	if (!may_wait || volume_inflight(srv, &h->volume) == 0)
		return 0;
	h->waiter = rq;
	srv->hold_waiters++;
	return -EINPROGRESS;
}

static void answer(struct iscsi_server *srv, struct volume_request *rq, int rc)
{
	pthread_mutex_lock(&srv->reconf_lock);
	rq->rc = rc;
	rq->done = true;
	pthread_cond_broadcast(&srv->reconf_cond);
	pthread_mutex_unlock(&srv->reconf_lock);
}

/* A hold waiting for quiet: answer it if the volume is quiet (0) or its
 * caller gave up (-ETIMEDOUT, the hold ended). */
static void settle(struct iscsi_server *srv, struct volume_hold *h)
{
	static const struct lun_binding stay = { NULL, 0 };
	struct volume_request *rq = h->waiter;
	pthread_mutex_lock(&srv->reconf_lock);
	bool cancelled = rq->cancelled;
	pthread_mutex_unlock(&srv->reconf_lock);
	if (!cancelled && volume_inflight(srv, &h->volume))
		return;
	h->waiter = NULL;
	srv->hold_waiters--;
	if (cancelled)
		hold_end(srv, h, &stay);
	answer(srv, rq, cancelled ? -ETIMEDOUT : 0);
}

void holds_service(struct iscsi_server *srv)
{
	pthread_mutex_lock(&srv->reconf_lock);
	struct volume_request *rq = srv->volreq;
	srv->volreq = NULL;
	if (rq)
		pthread_cond_broadcast(&srv->reconf_cond); /* the slot is free */
	pthread_mutex_unlock(&srv->reconf_lock);
	if (rq) {
		int rc = request_apply(srv, rq, true);
		if (rc != -EINPROGRESS)
			answer(srv, rq, rc);
	}
	for (struct volume_hold *h = srv->holds, *next; h && srv->hold_waiters; h = next) {
		next = h->next; /* settle may free h */
		if (h->waiter)
			settle(srv, h);
	}
}

void holds_free(struct iscsi_server *srv)
{
	while (srv->holds) {
		struct volume_hold *h = srv->holds;
		srv->holds = h->next;
		free(h);
	}
}

static struct timespec deadline_after(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* reconf_cond's clock */
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static int wake_loop(struct iscsi_server *srv)
{
	uint64_t one = 1;
	return write(srv->notify_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

/* Have the loop apply rq and wait for its answer; a hold gives up after
 * timeout_ms (< 0: never). */
static int request_run(struct iscsi_server *srv, struct volume_request *rq, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
	pthread_mutex_lock(&srv->reconf_lock);
	while (srv->volreq) /* one request posted at a time */
		pthread_cond_wait(&srv->reconf_cond, &srv->reconf_lock);
	if (!srv->loop_owns) {
		int rc = request_apply(srv, rq, false);
		pthread_mutex_unlock(&srv->reconf_lock);
		return rc;
	}
	srv->volreq = rq;
	int rc = wake_loop(srv);
	if (rc) {
		srv->volreq = NULL;
		pthread_mutex_unlock(&srv->reconf_lock);
		return rc;
	}
	while (!rq->done) {
		if (timeout_ms < 0 || rq->cancelled) {
			pthread_cond_wait(&srv->reconf_cond, &srv->reconf_lock);
		} else if (pthread_cond_timedwait(&srv->reconf_cond, &srv->reconf_lock,
						  &deadline) == ETIMEDOUT && !rq->done) {
			rq->cancelled = true; /* the loop answers, with the hold released */
			if (wake_loop(srv))
				perror("iscsi: cannot wake the event loop");
		}
	}
	rc = rq->rc;
	pthread_mutex_unlock(&srv->reconf_lock);
	return rc;
}

int iscsi_server_hold_volume(struct iscsi_server *srv, struct cowstore *cs, uint64_t volume_id,
			     int timeout_ms)
{
	if (!srv)
		return -EINVAL;
	struct volume_request rq = { .volume = { cs ? cs : srv->cs, volume_id } };
	return request_run(srv, &rq, timeout_ms);
}

int iscsi_server_release_volume(struct iscsi_server *srv, struct cowstore *cs, uint64_t volume_id,
				struct cowstore *to_cs, uint64_t to_volume_id)
{
	struct cowstore_volume_info info;
	if (!srv)
		return -EINVAL;
	if (to_cs && cowstore_volume_info(to_cs, to_volume_id, 0, &info) != 0)
		return -EINVAL; /* nothing to switch to: the hold stays */
	struct volume_request rq = { .release = true, .volume = { cs ? cs : srv->cs, volume_id },
				     .to = { to_cs, to_volume_id } };
	int rc = request_run(srv, &rq, -1);
	if (!rc && to_cs)
		fprintf(stderr, "iscsi: volume %llu switched to volume %llu\n",
			(unsigned long long)volume_id, (unsigned long long)to_volume_id);
	return rc;
}
