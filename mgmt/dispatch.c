/*
 * dispatch.c - one API request: route, authenticate, authorize, parse the
 * body, honour Idempotency-Key, call the handler.
 *
 * Order of checks (each answers with a problem): unknown path 404; known
 * path, other method 405 with Allow; no token 401; bad token 401 (and an
 * "authentication failure" event); read-only role on a change 403; a body
 * that is not JSON 400, not application/json 415.  The body size limit
 * (413) is enforced while receiving (http.c).
 *
 * Idempotency-Key (creating POSTs): the first response for a (token, key)
 * is kept 24 hours and replayed for a retry with the same method, path and
 * body; a different request under the same key is 422; a retry while the
 * first is still running is 409.  The cache is in memory (up to
 * IDEM_MAX entries, oldest evicted): a retry after a daemon restart runs
 * again, and a create then answers 409 already-exists, never a duplicate.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/api.h"

const struct api_routes *const api_all_routes[] = {
	&api_meta_routes,    &api_pool_routes,	 &api_volume_routes, &api_move_routes,
	&api_snapshot_routes,
	&api_vm_routes,	     &api_target_routes, &api_export_routes, &api_file_routes,
	&api_schedule_routes, &api_session_routes, &api_qos_routes, &api_qos_status_routes,  &api_stats_routes,
	&api_event_routes,   &api_task_routes,	 &api_user_routes,
};
const size_t api_nroute_tables = sizeof(api_all_routes) / sizeof(api_all_routes[0]);

/* ---- routing ------------------------------------------------------------ */

/* Match path against pattern, capturing {name} segments into c->params. */
static bool match(const char *pattern, const char *path, struct api_call *c)
{
	unsigned nparam = 0;
	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++, path++;
		size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
		if (pattern[0] == '{') {
			if (len == 0 || len >= sizeof(c->params[0]) || nparam == API_MAX_PARAMS)
				return false;
			memcpy(c->params[nparam], path, len);
			c->params[nparam++][len] = '\0';
		} else if (plen != len || memcmp(pattern, path, len)) {
			return false;
		}
		pattern += plen, path += len;
	}
	return !*pattern && !*path;
}

static const struct api_route *find_route(struct api_call *c, char *allow, size_t allow_len)
{
	bool path_known = false;
	allow[0] = '\0';
	for (size_t t = 0; t < api_nroute_tables; t++) {
		const struct api_routes *table = api_all_routes[t];
		for (size_t i = 0; i < table->count; i++) {
			const struct api_route *r = &table->routes[i];
			if (!match(r->pattern, c->req->path, c))
				continue;
			if (!strcmp(r->method, c->req->method))
				return r;
			path_known = true;
			size_t used = strlen(allow);
			snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", r->method);
		}
	}
	if (!path_known)
		allow[0] = '\0';
	return NULL;
}

/* ---- idempotency ---------------------------------------------------------- */

#define IDEM_MAX 1024
#define IDEM_TTL_NS (24 * 3600 * INT64_C(1000000000))

struct idem_entry {
	char scope[24 + 256 + 2];      /* token id, '|', key */
	unsigned char fingerprint[32]; /* SHA-256 of method, path, body */
	int64_t created_ns;
	bool done;
	int status;
	char *body;
	size_t body_len;
	const char *content_type;
	char location[256];
};

struct api_idem {
	struct idem_entry entries[IDEM_MAX];
};

int api_idem_create(struct mgmt *m)
{
	m->idem = calloc(1, sizeof(*m->idem));
	return m->idem ? 0 : -ENOMEM;
}

void api_idem_destroy(struct mgmt *m)
{
	if (!m->idem)
		return;
	for (size_t i = 0; i < IDEM_MAX; i++)
		free(m->idem->entries[i].body);
	free(m->idem);
	m->idem = NULL;
}

static void fingerprint(const struct mgmt_request *req, unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 32;
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		memset(out, 0, 32);
		EVP_MD_CTX_free(md);
		return;
	}
	EVP_DigestUpdate(md, req->method, strlen(req->method) + 1);
	EVP_DigestUpdate(md, req->path, strlen(req->path) + 1);
	if (req->body)
		EVP_DigestUpdate(md, req->body, req->body_len);
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
}

/* Under m->lock: the entry for scope, or a fresh one (NULL when scope is
 * new and *fresh is set to the slot to fill, or NULL when all are busy). */
static struct idem_entry *idem_find(struct api_idem *idem, const char *scope, int64_t now,
				    struct idem_entry **fresh)
{
	struct idem_entry *victim = NULL; /* an empty slot, else the oldest finished one */
	for (size_t i = 0; i < IDEM_MAX; i++) {
		struct idem_entry *e = &idem->entries[i];
		if (e->scope[0] && now - e->created_ns > IDEM_TTL_NS && e->done) {
			free(e->body);
			memset(e, 0, sizeof(*e));
		}
		if (e->scope[0] && !strcmp(e->scope, scope))
			return e;
		if (!e->scope[0] ? !victim || victim->scope[0]
				 : e->done && victim && victim->scope[0] &&
					   e->created_ns < victim->created_ns)
			victim = e;
		else if (e->scope[0] && e->done && !victim)
			victim = e;
	}
	*fresh = victim;
	return NULL;
}

/* Returns true when the call was answered from the cache (or refused);
 * otherwise *slot is the entry to complete with idem_finish(). */
static bool idem_begin(struct api_call *c, struct idem_entry **slot)
{
	const char *key = c->req->idempotency_key;
	*slot = NULL;
	if (!key)
		return false;
	size_t len = strlen(key);
	if (len == 0 || len > 255) {
		api_problem(c, 400, "invalid-parameter", "Idempotency-Key",
			    "Idempotency-Key must be 1 to 255 characters");
		return true;
	}
	char scope[sizeof((*slot)->scope)];
	snprintf(scope, sizeof(scope), "%s|%s", c->who.token_id, key);
	unsigned char fp[32];
	fingerprint(c->req, fp);
	struct mgmt *m = c->m;
	int64_t now = api_now_ns(m);
	bool answered = true;
	pthread_mutex_lock(&m->lock);
	struct idem_entry *fresh = NULL, *e = idem_find(m->idem, scope, now, &fresh);
	if (e && memcmp(e->fingerprint, fp, sizeof(fp))) {
		api_problem(c, 422, "idempotency-key-reused", "Idempotency-Key",
			    "this Idempotency-Key was used for a different request");
	} else if (e && !e->done) {
		api_problem(c, 409, "idempotency-in-progress", "Idempotency-Key",
			    "a request with this Idempotency-Key is still running; retry later");
	} else if (e) {
		struct mgmt_response *r = c->resp;
		free(r->body);
		r->status = e->status;
		r->content_type = e->content_type;
		r->body = e->body ? strdup(e->body) : NULL;
		r->body_len = r->body ? e->body_len : 0;
		snprintf(r->location, sizeof(r->location), "%s", e->location);
	} else if (fresh) {
		free(fresh->body);
		memset(fresh, 0, sizeof(*fresh));
		snprintf(fresh->scope, sizeof(fresh->scope), "%s", scope);
		memcpy(fresh->fingerprint, fp, sizeof(fp));
		fresh->created_ns = now;
		*slot = fresh;
		answered = false;
	} else {
		api_problem(c, 503, "busy", "Idempotency-Key",
			    "too many requests with an Idempotency-Key are running; retry later");
	}
	pthread_mutex_unlock(&m->lock);
	return answered;
}

/* Keep the answer (success or failure: a retry gets the same one), except
 * a server error, which a retry may get past. */
static void idem_finish(struct api_call *c, struct idem_entry *e)
{
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	if (c->resp->status >= 500) {
		memset(e, 0, sizeof(*e));
	} else {
		e->done = true;
		e->status = c->resp->status;
		e->content_type = c->resp->content_type;
		e->body = c->resp->body ? strdup(c->resp->body) : NULL;
		e->body_len = c->resp->body_len;
		snprintf(e->location, sizeof(e->location), "%s", c->resp->location);
	}
	pthread_mutex_unlock(&m->lock);
}

/* ---- the request ------------------------------------------------------------ */

static bool authorize(struct api_call *c, const struct api_route *r)
{
	if (r->flags & API_PUBLIC)
		return true;
	int rc = api_auth_check(c->m, c->req->authorization, &c->who);
	if (rc == -ENOENT) {
		c->resp->www_authenticate = true;
		api_problem(c, 401, "unauthorized", NULL,
			    "this request needs a token: Authorization: Bearer <token>");
		return false;
	}
	if (rc) {
		c->resp->www_authenticate = true;
		mgmt_event(c->m, "warning", "auth-failure", c->req->peer ? c->req->peer : "",
			   "rejected a request for %.100s from %.64s: the token is not valid",
			   c->req->path, c->req->peer ? c->req->peer : "an unknown address");
		api_problem(c, 401, "unauthorized", NULL, "the token is not valid (revoked, expired "
			    "or mistyped)");
		return false;
	}
	if (c->who.role < r->role) {
		api_problem(c, 403, "forbidden", NULL,
			    "user '%s' has the read-only role; %s %s needs admin", c->who.user,
			    c->req->method, r->pattern);
		return false;
	}
	return true;
}

static bool parse_body(struct api_call *c)
{
	const struct mgmt_request *req = c->req;
	const char *type = req->content_type;
	if (type && strncasecmp(type, "application/json", 16)) {
		api_problem(c, 415, "unsupported-media-type", NULL,
			    "the body must be application/json, not %.64s", type);
		return false;
	}
	if (!req->body || req->body_len == 0) {
		api_problem(c, 400, "missing-body", NULL, "%s %s needs a JSON object body",
			    req->method, req->path);
		return false;
	}
	json_error_t jerr;
	c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body) {
		api_problem(c, 400, "malformed-json", NULL, "the body is not valid JSON: %s "
			    "(line %d, column %d)", jerr.text, jerr.line, jerr.column);
		return false;
	}
	if (!json_is_object(c->body)) {
		api_problem(c, 400, "wrong-type", "", "the body must be a JSON object");
		return false;
	}
	return true;
}

void mgmt_handle(struct mgmt *m, const struct mgmt_request *req, struct mgmt_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	struct api_call c = { .m = m, .req = req, .resp = resp };
	const struct api_route *r = req->method && req->path
		? find_route(&c, resp->allow, sizeof(resp->allow)) : NULL;
	if (!r && resp->allow[0]) {
		api_problem(&c, 405, "method-not-allowed", NULL, "%s is not allowed here; use %s",
			    req->method, resp->allow);
		return;
	}
	if (!r) {
		api_problem(&c, 404, "not-found", NULL, "no such resource: %.200s",
			    req->path ? req->path : "");
		return;
	}
	bool want_body = (r->flags & API_BODY) ||
			 ((r->flags & API_BODY_OPTIONAL) && req->body && req->body_len);
	if (!authorize(&c, r) || (want_body && !parse_body(&c))) {
		json_decref(c.body);
		return;
	}
	struct idem_entry *slot = NULL;
	if ((r->flags & API_CREATES) && idem_begin(&c, &slot)) {
		json_decref(c.body);
		return;
	}
	r->handler(&c);
	if (!resp->status)
		api_problem(&c, 500, "internal", NULL, "the handler gave no answer");
	if (slot)
		idem_finish(&c, slot);
	json_decref(c.body);
}

void mgmt_response_free(struct mgmt_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}
