/*
 * http.c - the REST API's HTTP(S) server on libmicrohttpd: gathers one
 * request (headers, query, a body of at most MGMT_MAX_BODY bytes), hands
 * it to mgmt_handle() and sends the answer.
 *
 * libmicrohttpd runs http_threads polling threads; each serves its
 * connections one request at a time, so a slow handler delays only the
 * connections of its thread.  A body larger than the limit is answered 413
 * as soon as its Content-Length (or its size so far) says so, without
 * reading the rest.
 *
 * Everything outside /api/ is the web console: files under web_root,
 * GET and HEAD only, "/" meaning index.html, no token needed (the console
 * itself calls the API with one).  A path with a ".." segment, a symlink
 * or anything but a regular file is 404.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/api.h"

struct http_request {
	char *body;
	size_t len;
	bool too_large;
};

struct query_collect {
	struct mgmt_request *req;
	bool too_many;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct query_collect *q = cls;
	if (q->req->nquery == MGMT_MAX_QUERY) {
		q->too_many = true;
		return MHD_NO;
	}
	q->req->query[q->req->nquery++] = (struct mgmt_kv){ key, value };
	return MHD_YES;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct mgmt_response *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		r->body_len, r->body, r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		mgmt_response_free(r);
		return MHD_NO;
	}
	r->body = NULL; /* libmicrohttpd frees it */
	if (r->content_type)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (r->location[0])
		MHD_add_response_header(resp, "Location", r->location);
	if (r->allow[0])
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"slate\"");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A 413 or 400 made without the router (the body was never read). */
static enum MHD_Result refuse(struct mgmt *m, struct MHD_Connection *conn, const char *url,
			      int status, const char *type, const char *detail)
{
	struct mgmt_response r = { 0 };
	struct mgmt_request req = { .method = "", .path = url };
	struct api_call c = { .m = m, .req = &req, .resp = &r };
	api_problem(&c, status, type, NULL, "%s", detail);
	return send_response(conn, &r);
}

static void peer_address(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	out[0] = '\0';
	if (info && info->client_addr)
		getnameinfo(info->client_addr,
			    info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								     : sizeof(struct sockaddr_in),
			    out, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
}

/* ---- the web console's files --------------------------------------------- */

static const char *content_type(const char *path)
{
	static const char *const types[][2] = {
		{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },	 { ".svg", "image/svg+xml" },
		{ ".png", "image/png" },		 { ".ico", "image/x-icon" },
		{ ".json", "application/json" },	 { ".map", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i][0]))
			return types[i][1];
	return "application/octet-stream";
}

/* A path safe to join to web_root: absolute, no "." or ".." segment. */
static bool safe_path(const char *url)
{
	if (url[0] != '/' || strlen(url) > 1024)
		return false;
	for (const char *seg = url; seg; seg = strchr(seg + 1, '/'))
		if (!strncmp(seg, "/..", 3) || !strncmp(seg, "/./", 3) || !strcmp(seg, "/."))
			return false;
	return true;
}

static enum MHD_Result serve_file(struct mgmt *m, struct MHD_Connection *conn, const char *url,
				  const char *method)
{
	char path[4096 + 1100];
	struct stat st;
	int fd = -1;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return refuse(m, conn, url, 405, "method-not-allowed", "the console's files are read "
			      "with GET");
	if (m->web_root[0] && safe_path(url)) {
		snprintf(path, sizeof(path), "%s%s%s", m->web_root, url,
			 url[strlen(url) - 1] == '/' ? "index.html" : "");
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return refuse(m, conn, url, 404, "not-found", m->web_root[0]
			      ? "no such file in the web console"
			      : "this slated serves no web console (build it: make web)");
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type(path));
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'; "
				"img-src 'self' data:; frame-ancestors 'none'");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct mgmt *m = cls;
	struct http_request *hr = *state;
	if (strncmp(url, "/api/", 5) && strcmp(url, "/api"))
		return serve_file(m, conn, url, method);
	if (!hr) { /* headers only: set up, and refuse an announced huge body */
		if (!(hr = calloc(1, sizeof(*hr))))
			return MHD_NO;
		*state = hr;
		const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length && strtoull(length, NULL, 10) > MGMT_MAX_BODY)
			hr->too_large = true;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!hr->too_large && hr->len + *upload_size > MGMT_MAX_BODY)
			hr->too_large = true;
		if (!hr->too_large) {
			char *grown = realloc(hr->body, hr->len + *upload_size + 1);
			if (!grown)
				return MHD_NO;
			hr->body = grown;
			memcpy(hr->body + hr->len, upload, *upload_size);
			hr->len += *upload_size;
			hr->body[hr->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (hr->too_large) {
		char detail[96];
		snprintf(detail, sizeof(detail), "the body is larger than the limit of %u bytes",
			 MGMT_MAX_BODY);
		return refuse(m, conn, url, 413, "body-too-large", detail);
	}
	char peer[64];
	peer_address(conn, peer, sizeof(peer));
	struct mgmt_request req = {
		.method = method,
		.path = url,
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
		.idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							       "Idempotency-Key"),
		.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = hr->body,
		.body_len = hr->len,
		.peer = peer,
	};
	struct query_collect q = { &req, false };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	if (q.too_many)
		return refuse(m, conn, url, 400, "invalid-parameter", "too many query parameters");
	struct mgmt_response r;
	mgmt_handle(m, &req, &r);
	return send_response(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode code)
{
	struct http_request *hr = *state;
	if (hr) {
		free(hr->body);
		free(hr);
		*state = NULL;
	}
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	struct mgmt *m = cls;
	char line[512] = "http: ";
	vsnprintf(line + 6, sizeof(line) - 6, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	m->log(m->log_arg, line);
}

/* "ADDR:PORT" or "[ADDR]:PORT" into a socket address. */
static int parse_listen(const char *text, struct sockaddr_storage *ss)
{
	char address[64];
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(address))
		return -EINVAL;
	memcpy(address, text, (size_t)(colon - text));
	address[colon - text] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	size_t len = strlen(address);
	if (address[0] == '[' && len > 2 && address[len - 1] == ']') {
		address[len - 1] = '\0';
		if (inet_pton(AF_INET6, address + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET, address, &in4->sin_addr) != 1)
		return -EINVAL;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	return 0;
}

int api_http_start(struct mgmt *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	if (parse_listen(m->listen, &ss)) {
		snprintf(err, errlen, "bad API listen address '%s': want ADDR:PORT or [ADDR]:PORT",
			 m->listen);
		return -EINVAL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (m->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "this libmicrohttpd has no TLS support");
			return -ENOTSUP;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, m->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, m->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	m->httpd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, m->http_threads, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
		MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
		MHD_OPTION_ARRAY,
		m->tls_cert ? tls : &tls[2], MHD_OPTION_END);
	if (!m->httpd) {
		snprintf(err, errlen, "cannot listen on %s for the API (address in use, or a bad "
			 "certificate)", m->listen);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
		m->port = ntohs(bound.ss_family == AF_INET6
					? ((struct sockaddr_in6 *)&bound)->sin6_port
					: ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

void api_http_stop(struct mgmt *m)
{
	if (m->httpd)
		MHD_stop_daemon(m->httpd);
	m->httpd = NULL;
}
