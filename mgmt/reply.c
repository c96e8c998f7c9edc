/*
 * reply.c - how the API answers: JSON bodies, RFC 9457 problem details,
 * pages of lists, and ISO 8601 times.
 *
 * Problems carry "type" (urn:slate:problem:<slug>, one per kind of
 * failure, listed in the OpenAPI document), "title" (the HTTP reason),
 * "status", "detail" (a sentence naming the object and the cause),
 * "instance" (the request path) and, when one member or parameter is at
 * fault, "field" (a JSON pointer into the body, or the parameter's name).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/api.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define TIME_MAX_S INT64_C(9214646399) /* 2261-12-31T23:59:59Z: the last year whose ns fit an int64 */

int64_t api_now_ns(const struct mgmt *m)
{
	if (m->clock)
		return m->clock(m->clock_arg);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_body(struct mgmt_response *resp, int status, const char *type, json_t *obj)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = type;
	resp->body = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	json_decref(obj);
	if (obj && !resp->body) { /* out of memory while dumping */
		resp->status = 500;
		resp->content_type = NULL;
	}
}

void api_json(struct api_call *c, int status, json_t *obj)
{
	set_body(c->resp, status, "application/json", obj);
}

void api_created(struct api_call *c, json_t *obj, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->resp->location, sizeof(c->resp->location), fmt, ap);
	va_end(ap);
	api_json(c, 201, obj);
}

void api_no_content(struct api_call *c)
{
	set_body(c->resp, 204, NULL, NULL);
}

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return status >= 500 ? "Internal Server Error" : "Error";
}

void api_problem(struct api_call *c, int status, const char *type, const char *field,
		 const char *fmt, ...)
{
	char detail[512], urn[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(urn, sizeof(urn), "urn:slate:problem:%s", type);
	json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", urn, "title", reason(status),
			      "status", status, "detail", detail, "instance",
			      c->req->path ? c->req->path : "");
	if (p && field)
		json_object_set_new(p, "field", json_string(field));
	set_body(c->resp, status, "application/problem+json", p);
}

void api_errno(struct api_call *c, int rc, const char *field, const char *detail)
{
	const char *text = detail && detail[0] ? detail : strerror(-rc);
	switch (rc) {
	case -ENOENT:
		api_problem(c, 404, "not-found", field, "%s", text);
		break;
	case -EEXIST:
		api_problem(c, 409, "already-exists", field, "%s", text);
		break;
	case -EBUSY:
	case -ENOTEMPTY:
		api_problem(c, 409, "in-use", field, "%s", text);
		break;
	case -EINVAL:
	case -ENAMETOOLONG:
	case -ERANGE:
	case -EFBIG:
		api_problem(c, 422, "invalid-value", field, "%s", text);
		break;
	case -ENOSPC:
		api_problem(c, 507, "no-space", field, "%s", text);
		break;
	default:
		api_problem(c, 500, "internal", field, "%s", text);
	}
}

const char *api_query(const struct api_call *c, const char *name)
{
	for (size_t i = 0; i < c->req->nquery; i++)
		if (!strcmp(c->req->query[i].key, name))
			return c->req->query[i].value ? c->req->query[i].value : "";
	return NULL;
}

int api_page_limit(struct api_call *c, size_t *limit)
{
	const char *text = api_query(c, "limit");
	*limit = LIST_DEFAULT;
	if (!text)
		return 0;
	char *end;
	unsigned long n = strtoul(text, &end, 10);
	if (!*text || *end || text[0] == '-' || n < 1 || n > LIST_MAX) {
		api_problem(c, 400, "invalid-parameter", "limit",
			    "limit must be a whole number from 1 to %d", LIST_MAX);
		return -EINVAL;
	}
	*limit = n;
	return 0;
}

static const char *key_of(json_t *item, const char *key_field, char *buf, size_t len)
{
	json_t *k = json_object_get(item, key_field);
	if (json_is_string(k))
		return json_string_value(k);
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
	return buf;
}

void api_list(struct api_call *c, json_t *items, const char *key_field)
{
	size_t limit;
	if (!items) {
		api_problem(c, 500, "internal", NULL, "out of memory while listing");
		return;
	}
	if (api_page_limit(c, &limit)) {
		json_decref(items);
		return;
	}
	const char *after = api_query(c, "after");
	size_t start = 0, n = json_array_size(items);
	char buf[32];
	if (after) {
		while (start < n && strcmp(key_of(json_array_get(items, start), key_field, buf,
						  sizeof(buf)), after))
			start++;
		if (start == n) {
			json_decref(items);
			api_problem(c, 400, "invalid-parameter", "after",
				    "after='%.100s' is not a cursor this list gave (the item may be gone)",
				    after);
			return;
		}
		start++;
	}
	json_t *page = json_array();
	for (size_t i = start; i < n && i < start + limit; i++)
		json_array_append(page, json_array_get(items, i));
	json_t *next = json_null();
	if (start + limit < n)
		next = json_string(key_of(json_array_get(items, start + limit - 1), key_field, buf,
					  sizeof(buf)));
	json_decref(items);
	api_json(c, 200, json_pack("{s:o, s:o}", "items", page, "next", next));
}

json_t *api_time(int64_t unix_ns)
{
	char text[40];
	time_t s = (time_t)(unix_ns / 1000000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t len = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text + len, sizeof(text) - len, ".%03dZ", (int)(unix_ns % 1000000000 / 1000000));
	return json_string(text);
}

int api_time_parse(const char *text, int64_t *unix_ns)
{
	struct tm tm = { 0 };
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	int64_t frac_ns = 0;
	if (*end == '.') {
		int64_t scale = 100000000;
		end++;
		if (*end < '0' || *end > '9')
			return -EINVAL;
		for (; *end >= '0' && *end <= '9'; end++, scale /= 10)
			frac_ns += scale * (*end - '0');
	}
	if (strcmp(end, "Z"))
		return -EINVAL;
	int64_t s = (int64_t)timegm(&tm);
	if (s < 0 || s > TIME_MAX_S) /* 1970 to 2261 */
		return -EINVAL;
	*unix_ns = s * 1000000000 + frac_ns;
	return 0;
}
