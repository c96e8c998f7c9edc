/*
 * api_stats.c - IO statistics from qos/'s history: IOPS, bytes per second,
 * average and p99 latency per series, at 1-second resolution for the last
 * hour (memory) or 1-minute resolution for 7 days (the pool).
 *
 * Series as the API names them: "appliance", "vm:<name>", "volume:<name>",
 * "host:<initiator or address>"; qos/ keys volumes by id and VMs as
 * groups, and this file translates.  A query is bounded by its time range
 * (at most 3600 points), which is how this list pages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "qos/qos.h"

#define MAX_POINTS 3600
#define DEFAULT_SPAN_S 300

/* The API's series name to qos/'s; answers 404/400 on failure. */
static int internal_series(struct api_call *c, const char *name, char *out, size_t len)
{
	uint64_t id;
	if (!strcmp(name, "appliance"))
		snprintf(out, len, "appliance");
	else if (!strncmp(name, "vm:", 3) && name[3])
		snprintf(out, len, "group:%s", name + 3);
	else if (!strncmp(name, "host:", 5) && name[5])
		snprintf(out, len, "%s", name);
	else if (!strncmp(name, "volume:", 7) && !api_volume_id(c->m, name + 7, &id))
		snprintf(out, len, "volume:%" PRIu64, id);
	else if (!strncmp(name, "volume:", 7)) {
		api_problem(c, 404, "not-found", "series", "no volume '%.64s'", name + 7);
		return -ENOENT;
	} else {
		api_problem(c, 400, "invalid-parameter", "series", "series is appliance, vm:NAME, "
			    "volume:NAME or host:NAME");
		return -EINVAL;
	}
	return 0;
}

static json_t *point_json(const struct qos_point *p)
{
	return json_pack("{s:o, s:f, s:f, s:f, s:f, s:f, s:f}", "time",
			 api_time(p->unix_s * INT64_C(1000000000)), "read_iops", p->read_iops,
			 "write_iops", p->write_iops, "read_bytes_per_s", p->read_bytes_per_s,
			 "write_bytes_per_s", p->write_bytes_per_s, "avg_latency_us", p->avg_latency_us,
			 "p99_latency_us", p->p99_latency_us);
}

/* ?resolution=1|60 &since= &until= (ISO 8601). */
static int parse_range(struct api_call *c, unsigned *resolution, int64_t *since, int64_t *until)
{
	const char *res = api_query(c, "resolution"), *s = api_query(c, "since"),
		   *u = api_query(c, "until");
	int64_t now = api_now_ns(c->m) / 1000000000, ns;
	*resolution = res && !strcmp(res, "60") ? 60 : 1;
	if (res && strcmp(res, "1") && strcmp(res, "60")) {
		api_problem(c, 400, "invalid-parameter", "resolution", "resolution is 1 or 60 (seconds)");
		return -EINVAL;
	}
	*until = now;
	if (u && api_time_parse(u, &ns) == 0)
		*until = ns / 1000000000;
	else if (u)
		goto bad_time;
	*since = *until - (int64_t)*resolution * (*resolution == 1 ? DEFAULT_SPAN_S : 60);
	if (s && api_time_parse(s, &ns) == 0)
		*since = ns / 1000000000;
	else if (s)
		goto bad_time;
	if (*since > *until || (*until - *since) / *resolution > MAX_POINTS) {
		api_problem(c, 400, "invalid-parameter", "since", "the range must run forward and "
			    "hold at most %d points", MAX_POINTS);
		return -EINVAL;
	}
	return 0;
bad_time:
	api_problem(c, 400, "invalid-parameter", s ? "since" : "until",
		    "times are ISO 8601 UTC, such as 2026-12-07T05:00:00Z");
	return -EINVAL;
}

/* Answer the points of API series name. */
static void reply_series(struct api_call *c, const char *name)
{
	char internal[320];
	unsigned resolution;
	int64_t since, until;
	struct qos_point *points = NULL;
	size_t n = 0;
	if (!c->m->history) {
		api_problem(c, 404, "not-found", NULL, "this daemon keeps no statistics");
		return;
	}
	if (internal_series(c, name, internal, sizeof(internal)) ||
	    parse_range(c, &resolution, &since, &until))
		return;
	int rc = qos_history_query(c->m->history, internal, resolution, since, until, &points, &n);
	if (rc && rc != -ENOENT) { /* no series yet: no IO yet, an empty answer */
		api_errno(c, rc, "series", "cannot read the statistics");
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, point_json(&points[i]));
	free(points);
	api_json(c, 200, json_pack("{s:s, s:i, s:o, s:o, s:o}", "series", name, "resolution_s",
				   (int)resolution, "since", api_time(since * INT64_C(1000000000)),
				   "until", api_time(until * INT64_C(1000000000)), "points", list));
}

static void get_stats(struct api_call *c)
{
	const char *series = api_query(c, "series");
	reply_series(c, series ? series : "appliance");
}

static void get_vm_stats(struct api_call *c)
{
	char name[300];
	json_t *vm;
	int rc = api_obj_get(c->m, "vm", c->params[0], &vm);
	if (rc) {
		api_errno(c, rc, "name", rc == -ENOENT ? "no such VM" : NULL);
		return;
	}
	json_decref(vm);
	snprintf(name, sizeof(name), "vm:%s", c->params[0]);
	reply_series(c, name);
}

static void get_volume_stats(struct api_call *c)
{
	char name[300];
	snprintf(name, sizeof(name), "volume:%s", c->params[0]);
	reply_series(c, name);
}

/* The series with data, in the API's names. */
static void list_series(struct api_call *c)
{
	char **names;
	size_t n;
	if (!c->m->history) {
		api_problem(c, 404, "not-found", NULL, "this daemon keeps no statistics");
		return;
	}
	int rc = qos_history_series(c->m->history, &names, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the statistics");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		char shown[320] = "";
		if (!strncmp(names[i], "group:", 6))
			snprintf(shown, sizeof(shown), "vm:%s", names[i] + 6);
		else if (!strncmp(names[i], "volume:", 7)) {
			uint64_t id = strtoull(names[i] + 7, NULL, 10);
			struct cowstore_volume_info vol;
			if (!cowstore_volume_info(api_pool_of(c->m, id), id, 0, &vol))
				snprintf(shown, sizeof(shown), "volume:%s", vol.name);
		}
		if (!strcmp(names[i], "appliance") || !strncmp(names[i], "host:", 5))
			snprintf(shown, sizeof(shown), "%s", names[i]);
		if (shown[0]) /* a deleted volume's history is not shown */
			json_array_append_new(items, json_pack("{s:s}", "series", shown));
	}
	qos_history_series_free(names, n);
	api_list(c, items, "series");
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/stats", 0, ROLE_READ, get_stats },
	{ "GET", "/api/v1/stats/series", 0, ROLE_READ, list_series },
	{ "GET", "/api/v1/vms/{name}/stats", 0, ROLE_READ, get_vm_stats },
	{ "GET", "/api/v1/volumes/{name}/stats", 0, ROLE_READ, get_volume_stats },
};
API_ROUTE_TABLE(api_stats_routes, routes);
