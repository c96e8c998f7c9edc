/*
 * scheduler.c - running snapshot schedules: due runs each minute, missed
 * runs at start, "run now", and retention after each run.
 *
 * A schedule is the record M/schedule/<name> (api_schedule.c checks it);
 * its state is M/schedstate/<name>: "last_run" (the scheduled minute last
 * run, Unix s; at creation or enabling, that time, so a schedule never runs
 * for a minute from before it existed or was enabled), "last_result",
 * "made" (names of the snapshots it made, oldest first) and "made_at"
 * (name -> Unix s by the API's clock, for keep_for; cowstore's own times
 * are the real clock's, which tests in simulated time do not follow).
 * Only snapshots in "made" are ever pruned: manual snapshots of the same
 * volume or VM never are.
 *
 * Lock: sched->lock serializes every run and every read-modify-write of a
 * schedstate record (the management thread's ticks against "run now" from
 * HTTP threads).  Lock order: sched->lock, then m->lock; mgmt_event() may be
 * called with sched->lock held (it takes only m->lock, briefly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "sched/sched.h"

struct api_sched {
	pthread_mutex_t lock;
};

int api_sched_create(struct mgmt *m)
{
	m->sched = calloc(1, sizeof(*m->sched));
	if (!m->sched)
		return -ENOMEM;
	pthread_mutex_init(&m->sched->lock, NULL);
	return 0;
}

void api_sched_destroy(struct mgmt *m)
{
	if (!m->sched)
		return;
	pthread_mutex_destroy(&m->sched->lock);
	free(m->sched);
	m->sched = NULL;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)) ?: "";
}

int api_sched_parse(const json_t *rec, struct sched_cron *cron, struct sched_tz **tz, char *err,
		    size_t errlen)
{
	char expr[5 * 130];
	snprintf(expr, sizeof(expr), "%.128s %.128s %.128s %.128s %.128s", str(rec, "minute"),
		 str(rec, "hour"), str(rec, "day_of_month"), str(rec, "month"),
		 str(rec, "day_of_week"));
	int rc = sched_cron_parse(expr, cron, err, errlen);
	if (!rc && (rc = sched_tz_load(str(rec, "timezone"), tz)))
		snprintf(err, errlen, "cannot load time zone '%.64s': %s", str(rec, "timezone"),
			 strerror(-rc));
	return rc;
}

/* The schedule's state, or a fresh one starting at its creation. */
static json_t *state_get(struct mgmt *m, const json_t *rec)
{
	json_t *state;
	if (!api_obj_get(m, "schedstate", str(rec, "name"), &state))
		return state;
	int64_t created = 0;
	api_time_parse(str(rec, "created_at"), &created);
	return json_pack("{s:I, s:n, s:[], s:{}}", "last_run", (json_int_t)(created / 1000000000),
			 "last_result", "made", "made_at");
}

int api_sched_state_reset(struct mgmt *m, const char *name, int64_t since_unix_s, bool clear)
{
	json_t *state = NULL;
	pthread_mutex_lock(&m->sched->lock);
	if (clear || api_obj_get(m, "schedstate", name, &state))
		state = json_pack("{s:n, s:n, s:[], s:{}}", "last_run", "last_result", "made",
				  "made_at");
	int rc = -ENOMEM;
	if (state) {
		/* never back: a change right after a run must not run that minute again */
		if (json_integer_value(json_object_get(state, "last_run")) < since_unix_s)
			json_object_set_new(state, "last_run", json_integer(since_unix_s));
		rc = api_obj_put(m, "schedstate", name, state);
	}
	pthread_mutex_unlock(&m->sched->lock);
	json_decref(state);
	return rc;
}

int api_sched_forget(struct mgmt *m, const char *name)
{
	pthread_mutex_lock(&m->sched->lock);
	int rc = api_obj_delete(m, "schedstate", name);
	pthread_mutex_unlock(&m->sched->lock);
	return rc == -ENOENT ? 0 : rc;
}

json_t *api_sched_json(struct mgmt *m, const json_t *rec, int64_t now_unix_s)
{
	struct sched_cron cron;
	struct sched_tz *tz = NULL;
	char err[256];
	json_t *out = json_deep_copy(rec);
	pthread_mutex_lock(&m->sched->lock);
	json_t *state = state_get(m, rec);
	pthread_mutex_unlock(&m->sched->lock);
	int64_t last_run = json_integer_value(json_object_get(state, "last_run")), next;
	json_t *next_json = json_null();
	if (json_is_true(json_object_get(rec, "enabled")) &&
	    !api_sched_parse(rec, &cron, &tz, err, sizeof(err)) &&
	    !sched_next_run(&cron, tz, last_run > now_unix_s ? last_run : now_unix_s, &next))
		next_json = api_time(next * 1000000000);
	sched_tz_free(tz);
	json_object_set_new(out, "next_run", next_json);
	json_t *result = json_object_get(state, "last_result");
	json_object_set(out, "last_result", result ? result : json_null());
	json_decref(state);
	return out;
}

/* ---- one run ------------------------------------------------------------------ */

static bool is_vm(const json_t *rec)
{
	return !strcmp(str(json_object_get(rec, "target"), "kind"), "vm");
}

static const char *target_name(const json_t *rec)
{
	return str(json_object_get(rec, "target"), "name");
}

/* Does the target have a snapshot called name? */
static bool snapshot_exists(struct mgmt *m, const json_t *rec, const char *name)
{
	if (is_vm(rec)) {
		char kind[320];
		json_t *snap;
		snprintf(kind, sizeof(kind), "vmsnap/%s", target_name(rec));
		if (api_obj_get(m, kind, name, &snap))
			return false;
		json_decref(snap);
		return true;
	}
	uint64_t vol, snap_id;
	return !api_volume_id(m, target_name(rec), &vol) &&
	       !cowstore_snapshot_lookup(api_pool_of(m, vol), vol, name, &snap_id);
}

/* The snapshot name for scheduled_s: the pattern's, and "-2", "-3"... when
 * that exists already (two schedules with one pattern). */
static int pick_name(struct mgmt *m, const json_t *rec, const struct sched_tz *tz,
		     int64_t scheduled_s, char name[COWSTORE_NAME_MAX + 1], char *why, size_t whylen)
{
	char base[COWSTORE_NAME_MAX + 1];
	int rc = sched_snapshot_name(str(rec, "name_pattern"), scheduled_s, tz, base, sizeof(base));
	if (rc) {
		snprintf(why, whylen, "the name pattern '%s' gives no valid snapshot name",
			 str(rec, "name_pattern"));
		return rc;
	}
	snprintf(name, COWSTORE_NAME_MAX + 1, "%s", base);
	for (unsigned n = 2; snapshot_exists(m, rec, name); n++) {
		char suffix[16];
		int len = snprintf(suffix, sizeof(suffix), "-%u", n);
		if (n > 1000) {
			snprintf(why, whylen, "snapshots '%s' to '%s-1000' exist already", base, base);
			return -EEXIST;
		}
		snprintf(name, COWSTORE_NAME_MAX + 1, "%.*s%s", (int)(COWSTORE_NAME_MAX - len), base,
			 suffix);
	}
	return 0;
}

static int take_snapshot(struct mgmt *m, const json_t *rec, const char *name, char *why,
			 size_t whylen)
{
	if (is_vm(rec))
		return api_vm_snapshot_create(m, target_name(rec), name, why, whylen);
	struct cowstore_err err = { "" };
	uint64_t vol, snap_id;
	int rc = api_volume_id(m, target_name(rec), &vol);
	if (rc) {
		snprintf(why, whylen, "there is no volume '%s'", target_name(rec));
		return rc;
	}
	rc = cowstore_snapshot_create(api_pool_of(m, vol), vol, name, &snap_id, &err);
	if (rc)
		snprintf(why, whylen, "%s", err.msg);
	return rc;
}

struct made_snap {
	char name[COWSTORE_NAME_MAX + 1];
	int64_t created_s;
	uint32_t dependents;
	uint64_t snap_id; /* volume targets */
};

/* The snapshots in state's "made" that still exist, into *out (malloc'ed);
 * "made" loses the ones that are gone. */
static size_t made_list(struct mgmt *m, const json_t *rec, json_t *state, struct made_snap **out)
{
	json_t *made = json_object_get(state, "made"), *made_at = json_object_get(state, "made_at");
	struct cowstore_snapshot_info *infos = NULL;
	size_t ninfos = 0, n = 0;
	uint64_t vol;
	if (!is_vm(rec) && !api_volume_id(m, target_name(rec), &vol))
		cowstore_snapshot_list(api_pool_of(m, vol), vol, &infos, &ninfos);
	*out = calloc(json_array_size(made) + 1, sizeof(**out));
	for (size_t i = 0; *out && i < json_array_size(made);) {
		const char *name = json_string_value(json_array_get(made, i)) ?: "";
		struct made_snap *s = &(*out)[n];
		bool found = false;
		snprintf(s->name, sizeof(s->name), "%s", name);
		if (is_vm(rec)) {
			char kind[320];
			json_t *snap;
			snprintf(kind, sizeof(kind), "vmsnap/%s", target_name(rec));
			if (!api_obj_get(m, kind, name, &snap)) {
				int64_t ns = 0;
				api_time_parse(str(snap, "created_at"), &ns);
				s->created_s = ns / 1000000000;
				s->dependents = api_vm_snapshot_dependents(m, snap);
				json_decref(snap);
				found = true;
			}
		} else {
			for (size_t k = 0; k < ninfos && !found; k++)
				if (!strcmp(infos[k].name, name)) {
					s->created_s = infos[k].created_unix_ns / 1000000000;
					s->dependents = infos[k].nclones;
					s->snap_id = infos[k].id;
					found = true;
				}
		}
		json_t *at = json_object_get(made_at, name);
		if (json_is_integer(at))
			s->created_s = json_integer_value(at);
		if (found) {
			n++, i++;
		} else {
			json_array_remove(made, i);
			json_object_del(made_at, name);
		}
	}
	free(infos);
	return n;
}

static void forget_made(json_t *state, const char *name)
{
	json_t *made = json_object_get(state, "made");
	for (size_t i = 0; i < json_array_size(made); i++)
		if (!strcmp(json_string_value(json_array_get(made, i)) ?: "", name))
			json_array_remove(made, i--);
	json_object_del(json_object_get(state, "made_at"), name);
}

/* Apply the schedule's retention to what it made. */
static void prune(struct mgmt *m, const json_t *rec, json_t *state, int64_t now_s)
{
	const json_t *retention = json_object_get(rec, "retention");
	struct sched_retention r = { 0, 0 };
	struct made_snap *snaps;
	r.keep_last = (uint32_t)json_integer_value(json_object_get(retention, "keep_last"));
	if (json_is_string(json_object_get(retention, "keep_for")))
		api_duration_parse(str(retention, "keep_for"), &r.keep_for_s);
	size_t n = made_list(m, rec, state, &snaps);
	struct sched_snap *in = calloc(n + 1, sizeof(*in));
	struct sched_prune_result *out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; in && i < n; i++)
		in[i] = (struct sched_snap){ snaps[i].name, snaps[i].created_s, snaps[i].dependents };
	if (!snaps || !in || !out || sched_prune(in, n, &r, now_s, out))
		n = 0;
	for (size_t i = 0; i < n; i++) {
		char why[512] = "";
		int rc = 0;
		if (out[i].verdict == SCHED_HELD) {
			mgmt_event(m, "warning", "schedule-prune", str(rec, "name"),
				   "schedule '%s': %s", str(rec, "name"), out[i].reason);
			continue;
		}
		if (out[i].verdict != SCHED_DELETE)
			continue;
		if (is_vm(rec)) {
			rc = api_vm_snapshot_delete(m, target_name(rec), snaps[i].name, why,
						    sizeof(why));
		} else {
			struct cowstore_err err = { "" };
			rc = cowstore_snapshot_delete(api_pool_of(m, snaps[i].snap_id),
						      snaps[i].snap_id, &err);
			snprintf(why, sizeof(why), "%s", err.msg);
		}
		if (rc && rc != -ENOENT)
			mgmt_event(m, "warning", "schedule-prune", str(rec, "name"),
				   "schedule '%s' could not delete snapshot '%s' of %s '%s': %s",
				   str(rec, "name"), snaps[i].name, is_vm(rec) ? "VM" : "volume",
				   target_name(rec), why[0] ? why : strerror(-rc));
		else
			forget_made(state, snaps[i].name);
	}
	free(in);
	free(out);
	free(snaps);
}

/* Run rec for the minute scheduled_s, at now_s; updates state (the caller
 * stores it).  Under sched->lock. */
static int run(struct mgmt *m, const json_t *rec, json_t *state, int64_t scheduled_s,
	       int64_t now_s)
{
	struct sched_cron cron;
	struct sched_tz *tz = NULL;
	char name[COWSTORE_NAME_MAX + 1] = "", why[512] = "";
	int rc = api_sched_parse(rec, &cron, &tz, why, sizeof(why));
	if (!rc)
		rc = pick_name(m, rec, tz, scheduled_s, name, why, sizeof(why));
	sched_tz_free(tz);
	if (!rc)
		rc = take_snapshot(m, rec, name, why, sizeof(why));
	const char *kind = is_vm(rec) ? "VM" : "volume";
	if (rc) {
		if (!why[0])
			snprintf(why, sizeof(why), "%s", strerror(-rc));
		json_object_set_new(state, "last_result",
				    json_pack("{s:o, s:s, s:s, s:n}", "time", api_time(now_s * 1000000000),
					      "status", "failed", "message", why, "snapshot"));
		mgmt_event(m, "error", "schedule-run", str(rec, "name"),
			   "schedule '%s' could not snapshot %s '%s': %s", str(rec, "name"), kind,
			   target_name(rec), why);
		return rc;
	}
	char message[256];
	snprintf(message, sizeof(message), "took snapshot '%s' of %s '%s'", name, kind,
		 target_name(rec));
	json_object_set_new(state, "last_result",
			    json_pack("{s:o, s:s, s:s, s:s}", "time", api_time(now_s * 1000000000),
				      "status", "ok", "message", message, "snapshot", name));
	if (!json_is_array(json_object_get(state, "made")))
		json_object_set_new(state, "made", json_array());
	if (!json_is_object(json_object_get(state, "made_at")))
		json_object_set_new(state, "made_at", json_object());
	json_array_append_new(json_object_get(state, "made"), json_string(name));
	json_object_set_new(json_object_get(state, "made_at"), name, json_integer(now_s));
	mgmt_event(m, "info", "schedule-run", str(rec, "name"), "schedule '%s' %s",
		   str(rec, "name"), message);
	prune(m, rec, state, now_s);
	return 0;
}

static void state_put(struct mgmt *m, const json_t *rec, const json_t *state)
{
	int rc = api_obj_put(m, "schedstate", str(rec, "name"), state);
	if (rc)
		mgmt_event(m, "error", "schedule-run", str(rec, "name"), "cannot record the state "
			   "of schedule '%s': %s", str(rec, "name"), strerror(-rc));
}

int api_sched_run_now(struct mgmt *m, const json_t *rec, int64_t now_s)
{
	pthread_mutex_lock(&m->sched->lock);
	json_t *state = state_get(m, rec);
	int rc = run(m, rec, state, now_s - now_s % 60, now_s);
	state_put(m, rec, state);
	pthread_mutex_unlock(&m->sched->lock);
	json_decref(state);
	return rc;
}

/* ---- ticks and catch-up ---------------------------------------------------------- */

enum pass { PASS_TICK, PASS_CATCH_UP };

static int run_due(struct mgmt *m, int64_t now_s, enum pass pass)
{
	json_t *all, *rec;
	size_t i;
	int ran = 0;
	if (api_obj_list(m, "schedule", &all))
		return 0;
	pthread_mutex_lock(&m->sched->lock);
	json_array_foreach(all, i, rec) {
		struct sched_cron cron;
		struct sched_tz *tz = NULL;
		char err[256];
		uint32_t missed = 0;
		int64_t latest = 0;
		if (!json_is_true(json_object_get(rec, "enabled")))
			continue;
		json_t *state = state_get(m, rec);
		int64_t last_run = json_integer_value(json_object_get(state, "last_run"));
		int rc = api_sched_parse(rec, &cron, &tz, err, sizeof(err));
		if (!rc && last_run <= now_s)
			rc = sched_missed(&cron, tz, last_run, now_s, &missed, &latest);
		sched_tz_free(tz);
		if (rc || missed == 0) {
			json_decref(state);
			continue;
		}
		bool catch_up = json_is_true(json_object_get(rec, "catch_up"));
		if (pass == PASS_CATCH_UP && catch_up)
			mgmt_event(m, "info", "schedule-catch-up", str(rec, "name"),
				   "schedule '%s' missed %s%u run%s while the daemon was down; "
				   "running it once now", str(rec, "name"),
				   missed >= SCHED_MISSED_MAX ? "at least " : "", missed,
				   missed == 1 ? "" : "s");
		if (pass == PASS_CATCH_UP && !catch_up) {
			mgmt_event(m, "warning", "schedule-skipped", str(rec, "name"),
				   "schedule '%s' missed %s%u run%s while the daemon was down; "
				   "skipped (catch_up is false)", str(rec, "name"),
				   missed >= SCHED_MISSED_MAX ? "at least " : "", missed,
				   missed == 1 ? "" : "s");
		} else {
			/* several minutes missed within one tick (a stall): once, the latest */
			run(m, rec, state, latest, now_s);
			ran++;
		}
		json_object_set_new(state, "last_run", json_integer(latest));
		state_put(m, rec, state);
		json_decref(state);
	}
	pthread_mutex_unlock(&m->sched->lock);
	json_decref(all);
	return ran;
}

int mgmt_scheduler_tick(struct mgmt *m, int64_t now_unix_s)
{
	return run_due(m, now_unix_s, PASS_TICK);
}

int api_sched_catch_up(struct mgmt *m, int64_t now_unix_s)
{
	return run_due(m, now_unix_s, PASS_CATCH_UP);
}
