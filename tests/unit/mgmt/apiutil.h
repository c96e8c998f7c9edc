/*
 * apiutil.h - helpers shared by the mgmt unit tests: a throw-away pool and
 * data directory, a management plane over them with a simulated clock and
 * no scheduler thread, and requests through mgmt_handle() (no HTTP) with
 * the admin token.
 */
#ifndef SLATE_TESTS_MGMT_APIUTIL_H
#define SLATE_TESTS_MGMT_APIUTIL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>

#include "mgmt/mgmt.h"
#include "tests/unit/cowstore/testutil.h"

struct t_api {
	struct test_pool tp;
	char data_dir[64];
	struct mgmt *m;
	char auth[128];
	int64_t now_s; /* the simulated clock */
};

static int64_t t_clock(void *arg)
{
	return ((struct t_api *)arg)->now_s * INT64_C(1000000000);
}

static void t_quiet(void *arg, const char *line)
{
	(void)arg, (void)line;
}

/* A management plane over pools (NULL: t->tp's pool alone). */
static inline int t_mgmt_create_on(struct t_api *t, const struct mgmt_pools *pools)
{
	struct mgmt_options o = { .cs = pools ? pools->pool[0].cs : t->tp.cs, .pools = pools,
				  .data_dir = t->data_dir, .no_scheduler = true,
				  .clock = t_clock, .clock_arg = t, .log = t_quiet };
	char err[256] = "", path[128];
	int rc = mgmt_create(&o, &t->m, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "  mgmt_create: %s\n", err);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/admin-token", t->data_dir);
	FILE *f = fopen(path, "r");
	char token[100] = "";
	if (!f || !fgets(token, sizeof(token), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	token[strcspn(token, "\r\n")] = '\0';
	snprintf(t->auth, sizeof(t->auth), "Bearer %s", token);
	return 0;
}

static inline int t_mgmt_create(struct t_api *t)
{
	return t_mgmt_create_on(t, NULL);
}

static inline int t_open(struct t_api *t, int64_t now_s)
{
	memset(t, 0, sizeof(*t));
	t->now_s = now_s;
	snprintf(t->data_dir, sizeof(t->data_dir), "/tmp/slate-mgmt-XXXXXX");
	if (!mkdtemp(t->data_dir) || test_pool_open(&t->tp, 256, 0))
		return -1;
	return t_mgmt_create(t);
}

static inline void t_close(struct t_api *t)
{
	char cmd[128];
	mgmt_destroy(t->m);
	t->m = NULL;
	test_pool_destroy(&t->tp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->data_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", t->data_dir);
}

/* One request; the status into *status, the parsed body back (NULL when
 * none).  The query, if any, follows '?' in path: "k=v" pairs joined by '&'. */
static inline json_t *t_req(struct t_api *t, const char *method, const char *path, int *status,
			    const char *body_fmt, ...)
{
	char body[16384] = "", path_only[512], query[512] = "";
	struct mgmt_request req = { .method = method, .authorization = t->auth,
				    .peer = "test" };
	struct mgmt_response resp;
	if (body_fmt) {
		va_list ap;
		va_start(ap, body_fmt);
		vsnprintf(body, sizeof(body), body_fmt, ap);
		va_end(ap);
		req.body = body;
		req.body_len = strlen(body);
		req.content_type = "application/json";
	}
	snprintf(path_only, sizeof(path_only), "%s", path);
	char *q = strchr(path_only, '?');
	if (q) {
		*q = '\0';
		snprintf(query, sizeof(query), "%s", q + 1);
		for (char *kv = strtok(query, "&"); kv && req.nquery < MGMT_MAX_QUERY;
		     kv = strtok(NULL, "&")) {
			char *eq = strchr(kv, '=');
			if (!eq)
				continue;
			*eq = '\0';
			req.query[req.nquery++] = (struct mgmt_kv){ kv, eq + 1 };
		}
	}
	req.path = path_only;
	mgmt_handle(t->m, &req, &resp);
	*status = resp.status;
	json_t *out = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "  %s %s -> %d %s\n", method, path, resp.status,
			resp.body ? resp.body : "");
	mgmt_response_free(&resp);
	return out;
}

/* Only the status of a request whose body (NULL: none) is sent as is. */
static inline int t_status(struct t_api *t, const char *method, const char *path,
			   const char *body)
{
	int status;
	json_decref(body ? t_req(t, method, path, &status, "%s", body)
			 : t_req(t, method, path, &status, NULL));
	return status;
}

static inline const char *t_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)) ?: "";
}

/* The problem's field pointer. */
static inline const char *t_field(const json_t *problem)
{
	return t_str(problem, "field");
}

/* Events of type whose message holds text (NULL: any). */
static inline int t_events(struct t_api *t, const char *type, const char *text)
{
	char path[128];
	int status, n = 0;
	snprintf(path, sizeof(path), "/api/v1/events?type=%s&limit=1000", type);
	json_t *page = t_req(t, "GET", path, &status, NULL), *ev;
	size_t i;
	json_array_foreach(json_object_get(page, "items"), i, ev)
		if (!text || strstr(t_str(ev, "message"), text))
			n++;
	json_decref(page);
	return n;
}

static inline uint64_t t_volume(struct t_api *t, const char *name, uint64_t size_bytes)
{
	uint64_t id = 0;
	struct cowstore_err err = { "" };
	if (cowstore_volume_create(t->tp.cs, name, size_bytes, &id, &err))
		fprintf(stderr, "  volume %s: %s\n", name, err.msg);
	return id;
}

#endif
