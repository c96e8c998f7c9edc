/*
 * events.c - what happened, for people: thin-provisioning threshold,
 * checksum errors, schedule results, authentication failures.
 *
 * Each event is a record M/event/<id> (id: 16 hex digits, increasing) in
 * the pool, so events survive restarts; the newest EVENTS_KEPT are kept and
 * older ones deleted as new ones come.  Each is also logged.  The list is
 * newest first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"

#define EVENTS_KEPT 10000

static void event_key(uint64_t id, char *out, size_t len)
{
	snprintf(out, len, "%016" PRIx64, id);
}

static int last_id(void *arg, const char *key, const void *value, size_t len)
{
	uint64_t id = strtoull(key + strlen("M/event/"), NULL, 16);
	if (id > *(uint64_t *)arg)
		*(uint64_t *)arg = id;
	return 0;
}

int api_events_load(struct mgmt *m)
{
	return cowstore_config_list(m->cs, "M/event/", last_id, &m->event_seq);
}

void mgmt_event(struct mgmt *m, const char *severity, const char *type, const char *object,
		const char *fmt, ...)
{
	char message[512], key[24], line[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&m->lock);
	uint64_t id = ++m->event_seq;
	pthread_mutex_unlock(&m->lock);
	event_key(id, key, sizeof(key));
	json_t *ev = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}", "id", key, "time",
			       api_time(api_now_ns(m)), "severity", severity, "type", type,
			       "object", object, "message", message);
	if (ev)
		api_obj_put(m, "event", key, ev); /* a failure is still logged below */
	json_decref(ev);
	if (id > EVENTS_KEPT) {
		event_key(id - EVENTS_KEPT, key, sizeof(key));
		api_obj_delete(m, "event", key);
	}
	/* slated's log levels read the line's first word */
	if (strcmp(severity, "info"))
		snprintf(line, sizeof(line), "%s: event %s: %s", severity, type, message);
	else
		snprintf(line, sizeof(line), "event %s: %s", type, message);
	m->log(m->log_arg, line);
}

/* ---- from threads that must not wait ----------------------------------- */

#define QUEUED_EVENTS 64

struct api_queued_event {
	char severity[16], type[32], object[64], message[256];
};

void mgmt_event_async(struct mgmt *m, const char *severity, const char *type, const char *object,
		      const char *message)
{
	pthread_mutex_lock(&m->lock);
	if (!m->queued)
		m->queued = calloc(QUEUED_EVENTS, sizeof(*m->queued));
	if (!m->queued || m->nqueued == QUEUED_EVENTS) {
		m->dropped++;
	} else {
		struct api_queued_event *e = &m->queued[m->nqueued++];
		snprintf(e->severity, sizeof(e->severity), "%s", severity);
		snprintf(e->type, sizeof(e->type), "%s", type);
		snprintf(e->object, sizeof(e->object), "%s", object);
		snprintf(e->message, sizeof(e->message), "%s", message);
	}
	pthread_mutex_unlock(&m->lock);
}

void api_events_drain(struct mgmt *m)
{
	struct api_queued_event batch[QUEUED_EVENTS];
	pthread_mutex_lock(&m->lock);
	unsigned n = m->nqueued, dropped = m->dropped;
	if (n)
		memcpy(batch, m->queued, n * sizeof(batch[0]));
	m->nqueued = m->dropped = 0;
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < n; i++)
		mgmt_event(m, batch[i].severity, batch[i].type, batch[i].object, "%s",
			   batch[i].message);
	if (dropped)
		mgmt_event(m, "warning", "events-dropped", "", "%u events came faster than they "
			   "could be recorded and were dropped", dropped);
}

static bool event_matches(const json_t *ev, const char *severity, const char *type)
{
	const char *s = json_string_value(json_object_get(ev, "severity"));
	const char *t = json_string_value(json_object_get(ev, "type"));
	return (!severity || (s && !strcmp(severity, s))) && (!type || (t && !strcmp(type, t)));
}

/* GET /events[?severity=&type=&since=]: newest first.  Ids count up, so a
 * page is read from the cursor (or the newest) downwards with point reads
 * and stops when it is full or the events are older than since: the cost
 * is the page, not the 10,000 events kept. */
static void list_events(struct api_call *c)
{
	const char *severity = api_query(c, "severity"), *type = api_query(c, "type");
	const char *since_text = api_query(c, "since"), *after = api_query(c, "after");
	int64_t since = 0;
	size_t limit;
	char *end = NULL;
	if (since_text && api_time_parse(since_text, &since)) {
		api_problem(c, 400, "invalid-parameter", "since",
			    "since must be an ISO 8601 UTC time such as 2026-12-07T05:00:00Z");
		return;
	}
	uint64_t cursor = after ? strtoull(after, &end, 16) : 0;
	if (after && (!*after || *end || !cursor)) {
		api_problem(c, 400, "invalid-parameter", "after",
			    "after='%.64s' is not an event id this list gave", after);
		return;
	}
	if (api_page_limit(c, &limit))
		return;
	pthread_mutex_lock(&c->m->lock);
	uint64_t newest = c->m->event_seq;
	pthread_mutex_unlock(&c->m->lock);
	uint64_t oldest = newest > EVENTS_KEPT ? newest - EVENTS_KEPT + 1 : 1;
	json_t *items = json_array(), *next = json_null();
	for (uint64_t id = after ? cursor - 1 : newest; id >= oldest && id > 0; id--) {
		char key[24];
		json_t *ev;
		event_key(id, key, sizeof(key));
		if (api_obj_get(c->m, "event", key, &ev))
			continue; /* pruned, or an id whose write failed */
		int64_t at = 0;
		api_time_parse(json_string_value(json_object_get(ev, "time")) ?: "", &at);
		if (at < since - INT64_C(1000000000)) { /* older by a second: the rest are too */
			json_decref(ev);
			break;
		}
		if (at < since || !event_matches(ev, severity, type)) {
			json_decref(ev);
			continue;
		}
		if (json_array_size(items) == limit) { /* one more: there is a next page */
			json_decref(ev);
			next = json_string(json_string_value(json_object_get(
				json_array_get(items, limit - 1), "id")));
			break;
		}
		json_array_append_new(items, ev);
	}
	api_json(c, 200, json_pack("{s:o, s:o}", "items", items, "next", next));
}

static void get_event(struct api_call *c)
{
	json_t *ev;
	int rc = api_obj_get(c->m, "event", c->params[0], &ev);
	if (rc)
		api_errno(c, rc, "id", rc == -ENOENT ? "no such event (it may have been pruned)" : NULL);
	else
		api_json(c, 200, ev);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/events", 0, ROLE_READ, list_events },
	{ "GET", "/api/v1/events/{id}", 0, ROLE_READ, get_event },
};
API_ROUTE_TABLE(api_event_routes, routes);
