/*
 * api_schedule.c - snapshot schedules: create, list (with next_run and
 * last_result), change, delete (the snapshots it made stay), run now.
 *
 * A schedule is the record M/schedule/<name>, always stored complete (the
 * defaults filled in) so the scheduler (scheduler.c) never guesses; a
 * PATCH merges the body into it and checks the whole again.  Cron fields
 * are checked one by one so a problem names the field ("/hour").  Any
 * change restarts the schedule's clock at now: it never runs for a minute
 * from before it existed, was enabled, or was changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "sched/sched.h"

#define DEFAULT_PATTERN "auto-%Y%m%d-%H%M"
#define CRON_FIELD_MAX 128

struct target_req {
	char kind[16];
	char name[COWSTORE_NAME_MAX + 1];
};
static const struct api_field target_fields[] = {
	API_STRING(struct target_req, kind, "kind", true, 1),
	API_STRING(struct target_req, name, "name", true, 1),
};
static const struct api_fields target_spec = API_SPEC("target", target_fields);

struct retention_req {
	uint32_t keep_last;
	int64_t keep_for_s;
};
static const struct api_field retention_fields[] = {
	API_U32(struct retention_req, keep_last, "keep_last", false, 1, 100000),
	API_DURATION(struct retention_req, keep_for_s, "keep_for", false),
};
static const struct api_fields retention_spec = API_SPEC("retention", retention_fields);

struct schedule_req {
	char name[COWSTORE_NAME_MAX + 1];
	char minute[CRON_FIELD_MAX], hour[CRON_FIELD_MAX], day_of_month[CRON_FIELD_MAX],
		month[CRON_FIELD_MAX], day_of_week[CRON_FIELD_MAX];
	char timezone[64];
	struct target_req target;
	struct retention_req retention;
	char name_pattern[COWSTORE_NAME_MAX + 1];
	bool enabled, catch_up;
};
/* The members after "name"; required (create) or not (patch). */
#define SCHEDULE_FIELDS(req)                                                                \
	API_STRING(struct schedule_req, minute, "minute", req, 1),                         \
	API_STRING(struct schedule_req, hour, "hour", false, 1),                          \
	API_STRING(struct schedule_req, day_of_month, "day_of_month", false, 1),          \
	API_STRING(struct schedule_req, month, "month", false, 1),                        \
	API_STRING(struct schedule_req, day_of_week, "day_of_week", false, 1),            \
	API_STRING(struct schedule_req, timezone, "timezone", false, 1),                  \
	API_OBJECT(struct schedule_req, target, "target", req, &target_spec),              \
	API_OBJECT(struct schedule_req, retention, "retention", req, &retention_spec),     \
	API_STRING(struct schedule_req, name_pattern, "name_pattern", false, 1),          \
	API_BOOL(struct schedule_req, enabled, "enabled", false),                         \
	API_BOOL(struct schedule_req, catch_up, "catch_up", false)
static const struct api_field schedule_fields[] = {
	API_STRING(struct schedule_req, name, "name", true, 1),
	SCHEDULE_FIELDS(true),
};
static const struct api_field schedule_patch_fields[] = { SCHEDULE_FIELDS(false) };
const struct api_fields api_schedule_create_spec = API_SPEC("schedule", schedule_fields);
const struct api_fields api_schedule_patch_spec = API_SPEC("schedule", schedule_patch_fields);

static const char *const cron_names[5] = { "minute", "hour", "day_of_month", "month",
					   "day_of_week" };

static int64_t now_s(const struct api_call *c)
{
	return api_now_ns(c->m) / 1000000000;
}

/* The complete record from a decoded body (defaults filled in); the
 * retention keeps the rules given, as given. */
static json_t *build(const struct schedule_req *req, const json_t *body, const char *created_at)
{
	const json_t *retention = json_object_get(body, "retention");
	json_t *ret = json_object();
	if (json_object_get(retention, "keep_last"))
		json_object_set_new(ret, "keep_last", json_integer(req->retention.keep_last));
	if (json_object_get(retention, "keep_for"))
		json_object_set(ret, "keep_for", json_object_get(retention, "keep_for"));
#define OR(key, member, dflt) (json_object_get(body, key) ? req->member : (dflt))
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:b, s:b, s:s}",
			 "name", req->name, "minute", req->minute, "hour", OR("hour", hour, "*"),
			 "day_of_month", OR("day_of_month", day_of_month, "*"), "month",
			 OR("month", month, "*"), "day_of_week", OR("day_of_week", day_of_week, "*"),
			 "timezone", OR("timezone", timezone, "UTC"), "target", "kind",
			 req->target.kind, "name", req->target.name, "retention", ret,
			 "name_pattern", OR("name_pattern", name_pattern, DEFAULT_PATTERN),
			 "enabled", OR("enabled", enabled, true), "catch_up",
			 OR("catch_up", catch_up, true), "created_at", created_at);
#undef OR
}

/* Check the cron fields and zone of a record into *cron and *tz (freed by
 * the caller); answers 422 naming the member and returns false when one is
 * wrong. */
static bool check_when(struct api_call *c, const json_t *rec, struct sched_cron *cron,
		       struct sched_tz **tz)
{
	char err[256], field[32];
	*tz = NULL;
	for (int i = 0; i < 5; i++) {
		const char *text = json_string_value(json_object_get(rec, cron_names[i]));
		char expr[5 * CRON_FIELD_MAX];
		snprintf(field, sizeof(field), "/%s", cron_names[i]);
		if (strpbrk(text, " \t\r\n")) {
			api_problem(c, 422, "invalid-value", field, "%s must be one cron field, "
				    "without blanks", cron_names[i]);
			return false;
		}
		snprintf(expr, sizeof(expr), "%s %s %s %s %s", i == 0 ? text : "*",
			 i == 1 ? text : "*", i == 2 ? text : "*", i == 3 ? text : "*",
			 i == 4 ? text : "*");
		if (sched_cron_parse(expr, cron, err, sizeof(err))) {
			api_problem(c, 422, "invalid-value", field, "%s '%.64s' is not a cron field: %s",
				    cron_names[i], text, err);
			return false;
		}
	}
	if (api_sched_parse(rec, cron, tz, err, sizeof(err))) {
		api_problem(c, 422, "invalid-value", "/timezone", "%s", err);
		sched_tz_free(*tz);
		*tz = NULL;
		return false;
	}
	return true;
}

/* Check a complete record; answers 422 naming the member and returns
 * false when something is wrong. */
static bool check(struct api_call *c, const json_t *rec)
{
	struct sched_cron cron;
	struct sched_tz *tz;
	if (!check_when(c, rec, &cron, &tz))
		return false;
	int64_t next;
	char name[COWSTORE_NAME_MAX + 1];
	bool ok = false;
	const json_t *target = json_object_get(rec, "target"), *ret = json_object_get(rec, "retention");
	const char *kind = json_string_value(json_object_get(target, "kind"));
	const char *target_name = json_string_value(json_object_get(target, "name"));
	const char *pattern = json_string_value(json_object_get(rec, "name_pattern"));
	int64_t keep_for = 0;
	uint64_t vol;
	json_t *vm = NULL;
	if (sched_next_run(&cron, tz, now_s(c), &next))
		api_problem(c, 422, "invalid-value", "/day_of_month", "the schedule never runs: no "
			    "day matches within %d years", SCHED_SEARCH_YEARS);
	else if (strcmp(kind, "vm") && strcmp(kind, "volume"))
		api_problem(c, 422, "invalid-value", "/target/kind", "a target's kind is \"vm\" or "
			    "\"volume\", not '%.16s'", kind);
	else if (!strcmp(kind, "vm") && api_obj_get(c->m, "vm", target_name, &vm))
		api_problem(c, 422, "invalid-value", "/target/name", "there is no VM '%s'",
			    target_name);
	else if (!strcmp(kind, "volume") && (api_volume_id(c->m, target_name, &vol) ||
					     !strncmp(target_name, "file.", 5)))
		api_problem(c, 422, "invalid-value", "/target/name", "there is no volume '%s'",
			    target_name);
	else if (!json_object_get(ret, "keep_last") && !json_object_get(ret, "keep_for"))
		api_problem(c, 422, "invalid-value", "/retention", "retention needs keep_last, "
			    "keep_for or both");
	else if (json_object_get(ret, "keep_for") &&
		 (api_duration_parse(json_string_value(json_object_get(ret, "keep_for")), &keep_for) ||
		  keep_for <= 0))
		api_problem(c, 422, "invalid-value", "/retention/keep_for", "keep_for must be a "
			    "positive duration such as \"P7D\"");
	else if (sched_snapshot_name(pattern, now_s(c), tz, name, sizeof(name)))
		api_problem(c, 422, "invalid-value", "/name_pattern", "name_pattern '%.64s' does not "
			    "make a snapshot name (1 to 63 of letters, digits and - _ . : @; fields "
			    "%%Y %%m %%d %%H %%M %%S %%j %%a %%b %%%%)", pattern);
	else
		ok = true;
	json_decref(vm);
	sched_tz_free(tz);
	return ok;
}

/* The schedule named by the path's first parameter; answers 404. */
static int schedule_find(struct api_call *c, json_t **rec)
{
	int rc = api_obj_get(c->m, "schedule", c->params[0], rec);
	if (rc == -ENOENT || rc == -ENAMETOOLONG)
		api_problem(c, 404, "not-found", "name", "there is no schedule '%.64s'",
			    c->params[0]);
	else if (rc)
		api_errno(c, rc, NULL, "cannot read the schedule");
	return rc;
}

static void list_schedules(struct api_call *c)
{
	json_t *all, *rec;
	size_t i;
	int rc = api_obj_list(c->m, "schedule", &all);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the schedules");
		return;
	}
	json_t *items = json_array();
	json_array_foreach(all, i, rec)
		json_array_append_new(items, api_sched_json(c->m, rec, now_s(c)));
	json_decref(all);
	api_list(c, items, "name");
}

static void get_schedule(struct api_call *c)
{
	json_t *rec;
	if (!schedule_find(c, &rec)) {
		api_json(c, 200, api_sched_json(c->m, rec, now_s(c)));
		json_decref(rec);
	}
}

static void create_schedule(struct api_call *c)
{
	struct schedule_req req;
	json_t *existing;
	memset(&req, 0, sizeof(req));
	if (api_decode_body(c, &api_schedule_create_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name"))
		return;
	json_t *created = api_time(api_now_ns(c->m));
	json_t *rec = build(&req, c->body, json_string_value(created));
	json_decref(created);
	if (!rec) {
		api_problem(c, 500, "internal", NULL, "out of memory");
		return;
	}
	struct mgmt *m = c->m;
	int rc = 0;
	if (check(c, rec)) {
		pthread_mutex_lock(&m->lock);
		rc = api_obj_get(m, "schedule", req.name, &existing);
		if (rc == 0) {
			json_decref(existing);
			api_problem(c, 409, "already-exists", "/name", "schedule '%s' exists already",
				    req.name);
		} else {
			rc = api_obj_put(m, "schedule", req.name, rec);
			if (rc)
				api_errno(c, rc, NULL, "cannot store the schedule");
		}
		pthread_mutex_unlock(&m->lock);
	}
	/* after m->lock: the scheduler's lock comes first (scheduler.c); a tick
	 * before this starts the schedule at created_at, the same time */
	if (!c->resp->status && api_sched_state_reset(m, req.name, now_s(c), true))
		api_problem(c, 500, "internal", NULL, "cannot start the schedule's clock");
	if (!c->resp->status)
		api_created(c, api_sched_json(m, rec, now_s(c)), "/api/v1/schedules/%s", req.name);
	json_decref(rec);
}

static void patch_schedule(struct api_call *c)
{
	struct schedule_req req;
	json_t *old, *merged = NULL;
	memset(&req, 0, sizeof(req));
	if (api_decode_body(c, &api_schedule_patch_spec, &req, NULL))
		return;
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	if (schedule_find(c, &old))
		goto out;
	merged = json_deep_copy(old);
	json_object_del(merged, "created_at");
	json_object_update(merged, c->body);
	memset(&req, 0, sizeof(req));
	struct api_decode_error derr;
	if (api_decode(merged, &api_schedule_create_spec, &req, NULL, &derr)) {
		api_problem(c, derr.status, derr.type, derr.field, "%s", derr.detail);
		goto out;
	}
	json_t *rec = build(&req, merged, json_string_value(json_object_get(old, "created_at")));
	json_decref(merged);
	merged = rec;
	if (!rec || !check(c, rec))
		goto out;
	int rc = api_obj_put(m, "schedule", req.name, rec);
	if (rc)
		api_errno(c, rc, NULL, "cannot store the schedule");
out:
	pthread_mutex_unlock(&m->lock);
	/* after m->lock: the scheduler's lock comes first (scheduler.c) */
	if (!c->resp->status && api_sched_state_reset(m, req.name, now_s(c), false))
		api_problem(c, 500, "internal", NULL, "cannot restart the schedule's clock");
	if (!c->resp->status)
		api_json(c, 200, api_sched_json(m, merged, now_s(c)));
	json_decref(merged);
	json_decref(old);
}

static void delete_schedule(struct api_call *c)
{
	json_t *rec;
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	int rc = schedule_find(c, &rec);
	if (!rc) {
		json_decref(rec);
		rc = api_obj_delete(m, "schedule", c->params[0]);
		if (rc)
			api_errno(c, rc, NULL, "cannot delete the schedule");
	}
	pthread_mutex_unlock(&m->lock);
	if (!rc && (rc = api_sched_forget(m, c->params[0])))
		api_errno(c, rc, NULL, "cannot delete the schedule's state");
	if (!c->resp->status)
		api_no_content(c);
}

static void run_schedule(struct api_call *c)
{
	json_t *rec;
	if (schedule_find(c, &rec))
		return;
	api_sched_run_now(c->m, rec, now_s(c)); /* a failure is in last_result */
	api_json(c, 200, api_sched_json(c->m, rec, now_s(c)));
	json_decref(rec);
}

/* ---- previews: when would these fields run ----------------------------------- */

#define PREVIEW_MAX 20

struct preview_req {
	char minute[CRON_FIELD_MAX], hour[CRON_FIELD_MAX], day_of_month[CRON_FIELD_MAX],
		month[CRON_FIELD_MAX], day_of_week[CRON_FIELD_MAX];
	char timezone[64];
	uint32_t count;
};
static const struct api_field preview_fields[] = {
	API_STRING(struct preview_req, minute, "minute", true, 1),
	API_STRING(struct preview_req, hour, "hour", false, 1),
	API_STRING(struct preview_req, day_of_month, "day_of_month", false, 1),
	API_STRING(struct preview_req, month, "month", false, 1),
	API_STRING(struct preview_req, day_of_week, "day_of_week", false, 1),
	API_STRING(struct preview_req, timezone, "timezone", false, 1),
	API_U32(struct preview_req, count, "count", false, 1, PREVIEW_MAX),
};
const struct api_fields api_schedule_preview_spec = API_SPEC("preview", preview_fields);

/* POST /schedules/preview: the next runs (5 unless count says) of cron
 * fields in a zone, from now; what a console shows while one is edited. */
static void preview_schedule(struct api_call *c)
{
	struct preview_req req = { .hour = "*", .day_of_month = "*", .month = "*",
				   .day_of_week = "*", .timezone = "UTC", .count = 5 };
	struct sched_cron cron;
	struct sched_tz *tz;
	if (api_decode_body(c, &api_schedule_preview_spec, &req, NULL))
		return;
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "minute", req.minute, "hour",
				req.hour, "day_of_month", req.day_of_month, "month", req.month,
				"day_of_week", req.day_of_week, "timezone", req.timezone);
	bool ok = rec && check_when(c, rec, &cron, &tz);
	json_decref(rec);
	if (!ok)
		return;
	json_t *runs = json_array();
	int64_t t = now_s(c);
	for (uint32_t i = 0; i < req.count && !sched_next_run(&cron, tz, t, &t); i++)
		json_array_append_new(runs, api_time(t * INT64_C(1000000000)));
	api_json(c, 200, json_pack("{s:s, s:o}", "timezone", sched_tz_name(tz), "runs", runs));
	sched_tz_free(tz);
}

static const struct api_route routes[] = {
	{ "POST", "/api/v1/schedules/preview", API_BODY, ROLE_READ, preview_schedule },
	{ "GET", "/api/v1/schedules", 0, ROLE_READ, list_schedules },
	{ "POST", "/api/v1/schedules", API_BODY | API_CREATES, ROLE_ADMIN, create_schedule },
	{ "GET", "/api/v1/schedules/{name}", 0, ROLE_READ, get_schedule },
	{ "PATCH", "/api/v1/schedules/{name}", API_BODY, ROLE_ADMIN, patch_schedule },
	{ "DELETE", "/api/v1/schedules/{name}", 0, ROLE_ADMIN, delete_schedule },
	{ "POST", "/api/v1/schedules/{name}/run", 0, ROLE_ADMIN, run_schedule },
};
API_ROUTE_TABLE(api_schedule_routes, routes);
