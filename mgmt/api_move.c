/*
 * api_move.c - moving a volume to another pool while it serves IO:
 * POST /volumes/{name}/move {"pool": NAME} answers 202 with a task.
 *
 * The task: cowstore copies the volume (its snapshots first) into a new
 * volume ".moving.<id>" of the destination pool while initiators go on
 * writing, pass after pass over what they changed (cowstore_move_step),
 * until little is left; then the iSCSI LUNs on the volume are held (new
 * commands wait, running ones finish), cowstore copies the rest
 * (cowstore_move_finish), the LUNs switch to the new volume and the held
 * commands run there.  The IO pause lasts one last pass.  Then the old
 * volume is renamed ".moved.<id>", the new one takes the name, the old one
 * is deleted, and VM snapshot records that named the old snapshot ids get
 * the new ones.
 *
 * Crash safety: a record "M/move/<name>" (pools.c reads it at start) says
 * where the move is.  Before the switch ("copying") the source is the
 * truth and a restart deletes the partial copy; the record turns
 * "switched" (durably) before the first command runs on the new volume,
 * and from then on the destination is the truth and a restart finishes the
 * renames, deletes the source and remaps the VM snapshot records
 * (mgmt_pools_remap_snapshots, which the task itself runs too).
 *
 * NFS files cannot move (their data volumes belong to the primary pool's
 * namespace); volumes whose snapshots have clones cannot either (cowstore
 * refuses: the clones share their blocks).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "target/iscsi/iscsi.h"

#define STEP_BYTES (16u << 20)        /* copied between progress updates */
#define SWITCH_DIRTY_BYTES (16u << 20) /* left to copy when IO is held */
#define MAX_PASSES 8                  /* then hold IO whatever is left */
#define HOLD_TIMEOUT_MS 10000         /* for the commands running to finish */
#define HOLD_TRIES 3

struct move_job {
	char name[COWSTORE_NAME_MAX + 1];
	unsigned from, to;                /* pool indexes */
	uint64_t source_id;
};

static bool stopping(struct mgmt *m)
{
	pthread_mutex_lock(&m->lock);
	bool stop = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static int put_record(struct mgmt *m, const struct move_job *job, const char *state)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:s}", "name", job->name, "from",
				m->pools.pool[job->from].name, "to", m->pools.pool[job->to].name,
				"source_id", (json_int_t)job->source_id, "state", state);
	int rc = rec ? api_obj_put(m, "move", job->name, rec) : -ENOMEM;
	json_decref(rec);
	return rc;
}

/* Copy until what is left is small enough to copy with IO held; *p: how
 * far it got. */
static int copy_online(struct mgmt *m, struct cowstore_move *mv, struct api_task *t,
		       struct cowstore_move_progress *p)
{
	do {
		if (stopping(m))
			return -ECANCELED;
		int rc = cowstore_move_step(mv, STEP_BYTES, p);
		if (rc)
			return rc;
		api_task_progress(t, p->total_bytes ? (int)(p->copied_bytes * 95 / p->total_bytes) : 0);
	} while (p->pass < 2 || (p->dirty_bytes > SWITCH_DIRTY_BYTES && p->pass <= MAX_PASSES));
	return 0;
}

/* Hold the volume's LUNs until none runs a command (copying more between
 * tries: a command that takes long may be waiting on a busy device). */
static int hold_io(struct mgmt *m, struct cowstore *cs, uint64_t id, struct cowstore_move *mv)
{
	struct cowstore_move_progress p;
	int rc = -ETIMEDOUT;
	for (unsigned i = 0; m->iscsi && rc == -ETIMEDOUT && i < HOLD_TRIES && !stopping(m); i++) {
		rc = iscsi_server_hold_volume(m->iscsi, cs, id, HOLD_TIMEOUT_MS);
		if (rc == -ETIMEDOUT && cowstore_move_step(mv, STEP_BYTES, &p))
			break;
	}
	return m->iscsi ? rc : 0;
}

/* After the switch (and the move's end): the new volume takes the name;
 * the old one goes (when it cannot, a sentence in warning). */
static int take_name(struct mgmt *m, const struct move_job *job, uint64_t new_id,
		     char *why, size_t len, char *warning, size_t warning_len)
{
	struct cowstore *from = m->pools.pool[job->from].cs, *to = m->pools.pool[job->to].cs;
	struct cowstore_err err = { "" };
	char moved[COWSTORE_NAME_MAX + 1];
	snprintf(moved, sizeof(moved), ".moved.%" PRIu64, job->source_id);
	int rc = cowstore_volume_rename(from, job->source_id, moved, &err) ?:
		 cowstore_volume_rename(to, new_id, job->name, &err);
	if (rc) {
		snprintf(why, len, "cannot rename: %s", err.msg);
		return rc;
	}
	mgmt_pools_remap_snapshots(m->cs, job->name, to, new_id);
	if (cowstore_volume_delete(from, job->source_id, &err))
		snprintf(warning, warning_len, "the old copy '%s' of volume '%s' in pool %s could "
			 "not be deleted: %s", moved, job->name, m->pools.pool[job->from].name,
			 err.msg);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With IO held: the last pass, the durable "switched", the switch. */
static int switch_over(struct mgmt *m, const struct move_job *job, struct cowstore_move *mv,
		       uint64_t *new_id, char *why, size_t len)
{
	struct cowstore *from = m->pools.pool[job->from].cs, *to = m->pools.pool[job->to].cs;
	struct cowstore_err err = { "" };
	int rc = cowstore_move_finish(mv, new_id, &err);
	if (rc) {
		snprintf(why, len, "the last pass failed: %s", err.msg[0] ? err.msg : strerror(-rc));
		return rc;
	}
	rc = put_record(m, job, "switched");
	if (rc) {
		snprintf(why, len, "cannot record the switch: %s", strerror(-rc));
		return rc;
	}
	if (m->iscsi)
		iscsi_server_release_volume(m->iscsi, from, job->source_id, to, *new_id);
	return 0;
}

static int move_task(struct mgmt *m, void *arg, struct api_task *t, char *result, size_t len)
{
	struct move_job *job = arg;
	struct cowstore *from = m->pools.pool[job->from].cs, *to = m->pools.pool[job->to].cs;
	struct cowstore_move *mv = NULL;
	struct cowstore_err err = { "" };
	char tmp[COWSTORE_NAME_MAX + 1], why[256] = "", warning[256] = "";
	uint64_t new_id = 0;
	int64_t held_ms = 0;
	bool switched = false;
	struct cowstore_move_progress progress = { 0 };
	snprintf(tmp, sizeof(tmp), ".moving.%" PRIu64, job->source_id);
	int rc = cowstore_move_start(from, job->source_id, to, tmp, &mv, &err);
	if (rc)
		snprintf(why, sizeof(why), "%s", err.msg);
	if (!rc && (rc = copy_online(m, mv, t, &progress)))
		snprintf(why, sizeof(why), "copying failed: %s", strerror(-rc));
	if (!rc && (rc = hold_io(m, from, job->source_id, mv)))
		snprintf(why, sizeof(why), "the volume's commands did not finish: %s",
			 strerror(-rc));
	if (!rc) {
		int64_t start = now_ms();
		pthread_mutex_lock(&m->lock); /* no iSCSI reconfiguration meanwhile */
		rc = switch_over(m, job, mv, &new_id, why, sizeof(why));
		switched = !rc;
		if (!switched && m->iscsi)
			iscsi_server_release_volume(m->iscsi, from, job->source_id, NULL, 0);
		held_ms = now_ms() - start;
		if (switched) {
			cowstore_move_end(mv, true); /* the source may go now */
			mv = NULL;
			rc = take_name(m, job, new_id, why, sizeof(why), warning, sizeof(warning));
		}
		pthread_mutex_unlock(&m->lock);
	}
	if (mv)
		cowstore_move_end(mv, false);
	if (warning[0])
		mgmt_event(m, "warning", "volume-move", job->name, "%s", warning);
	if (!rc || !switched) /* a switch whose renames failed: the next start ends it */
		api_obj_delete(m, "move", job->name);
	if (rc) {
		snprintf(result, len, "moving volume '%s' to pool %s failed: %s", job->name,
			 m->pools.pool[job->to].name, why[0] ? why : strerror(-rc));
		return rc;
	}
	snprintf(result, len, "moved volume '%s' from pool %s to pool %s: %.1f MiB copied online "
		 "in %u passes, IO held %" PRId64 " ms for the last", job->name,
		 m->pools.pool[job->from].name, m->pools.pool[job->to].name,
		 (double)progress.copied_bytes / 1048576.0, progress.pass, held_ms);
	return 0;
}

struct move_req {
	char pool[MGMT_POOL_NAME_MAX + 1];
};
static const struct api_field move_fields[] = {
	API_STRING(struct move_req, pool, "pool", true, 1),
};
const struct api_fields api_volume_move_spec = API_SPEC("move", move_fields);

/* 422 unless the volume can go to pool to; the pool it is in now. */
static struct mgmt_pool *check_move(struct api_call *c, uint64_t id, const struct mgmt_pool *to,
				    const char *to_name)
{
	struct mgmt_pool *from = mgmt_pools_of_id(&c->m->pools, id);
	if (!to)
		api_problem(c, 422, "invalid-value", "/pool", "no pool '%.64s'", to_name);
	else if (to == from)
		api_problem(c, 422, "invalid-value", "/pool", "volume '%s' is in pool %s already",
			    c->params[0], to->name);
	else if (!strncmp(c->params[0], "file.", 5))
		api_problem(c, 422, "invalid-value", "name", "volume '%s' holds an NFS file's data, "
			    "which stays in the primary pool", c->params[0]);
	return to && to != from && strncmp(c->params[0], "file.", 5) ? from : NULL;
}

/* The move's record, unless one is there: one move of a volume at a time. */
static int claim(struct api_call *c, const struct move_job *job)
{
	json_t *rec;
	pthread_mutex_lock(&c->m->lock);
	int rc = api_obj_get(c->m, "move", job->name, &rec);
	if (rc == 0) {
		json_decref(rec);
		rc = -EBUSY;
	} else if (rc == -ENOENT) {
		rc = put_record(c->m, job, "copying");
	}
	pthread_mutex_unlock(&c->m->lock);
	if (rc == -EBUSY)
		api_problem(c, 409, "in-use", "name", "volume '%s' is being moved already",
			    job->name);
	else if (rc)
		api_errno(c, rc, NULL, "cannot record the move");
	return rc;
}

static void move_volume(struct api_call *c)
{
	struct move_req req;
	struct move_job job;
	struct cowstore *cs;
	uint64_t id, task_id = 0;
	if (api_decode_body(c, &api_volume_move_spec, &req, NULL) ||
	    api_volume_find(c, &cs, &id))
		return;
	struct mgmt_pool *to = mgmt_pools_find(&c->m->pools, req.pool);
	struct mgmt_pool *from = check_move(c, id, to, req.pool);
	if (!from)
		return;
	job = (struct move_job){ "", (unsigned)(from - c->m->pools.pool),
				 (unsigned)(to - c->m->pools.pool), id };
	snprintf(job.name, sizeof(job.name), "%.63s", c->params[0]); /* found: <= 63 */
	if (claim(c, &job))
		return;
	struct move_job *copy = malloc(sizeof(*copy)); /* the task frees it */
	if (copy)
		*copy = job;
	int rc = copy ? api_task_start(c->m, "move", job.name, move_task, copy, &task_id)
		      : -ENOMEM;
	if (rc)
		api_obj_delete(c->m, "move", job.name);
	api_accepted_task(c, rc, task_id);
}

static const struct api_route routes[] = {
	{ "POST", "/api/v1/volumes/{name}/move", API_BODY, ROLE_ADMIN, move_volume },
};
API_ROUTE_TABLE(api_move_routes, routes);
