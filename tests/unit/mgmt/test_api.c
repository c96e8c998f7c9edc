/*
 * test_api.c - the API's core without HTTP: decoding of request bodies
 * (every kind of bad member), durations and times, authentication and
 * roles, problems, paging, Idempotency-Key, routing errors, first-start
 * credentials and events that outlive a restart.  Requests go through
 * mgmt_handle() on a real pool.
 */
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

#include "mgmt/api.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

struct env {
	struct test_pool pool;
	struct mgmt *m;
	char token[API_TOKEN_LEN + 8];
	char auth[API_TOKEN_LEN + 16];
};

static void quiet(void *arg, const char *line)
{
}

static int env_open_mgmt(struct env *e)
{
	char err[256] = "";
	struct mgmt_options o = { .cs = e->pool.cs, .data_dir = e->pool.dir, .no_scheduler = true,
				  .listen = "127.0.0.1:0", .log = quiet };
	int rc = mgmt_create(&o, &e->m, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  mgmt_create: %s\n", err);
	return rc;
}

static int env_open(struct env *e)
{
	memset(e, 0, sizeof(*e));
	if (test_pool_open(&e->pool, 256, 0) || env_open_mgmt(e))
		return -1;
	char path[128];
	snprintf(path, sizeof(path), "%s/admin-token", e->pool.dir);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(e->token, sizeof(e->token), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	e->token[strcspn(e->token, "\n")] = '\0';
	snprintf(e->auth, sizeof(e->auth), "Bearer %s", e->token);
	return 0;
}

static void env_close(struct env *e)
{
	mgmt_destroy(e->m);
	test_pool_destroy(&e->pool);
}

/* One request; returns the status, *out (may be NULL) the parsed body. */
static int call_full(struct env *e, const char *auth, const char *method, const char *path,
		     const char *query, const char *body, const char *idem, json_t **out)
{
	struct mgmt_request req = { .method = method, .path = path, .authorization = auth,
				    .idempotency_key = idem, .body = body,
				    .body_len = body ? strlen(body) : 0 };
	char qbuf[256];
	if (query) { /* "key=value&key=value" */
		snprintf(qbuf, sizeof(qbuf), "%s", query);
		for (char *save, *kv = strtok_r(qbuf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			*eq = '\0';
			req.query[req.nquery++] = (struct mgmt_kv){ kv, eq + 1 };
		}
	}
	struct mgmt_response resp;
	mgmt_handle(e->m, &req, &resp);
	if (out)
		*out = resp.body ? json_loads(resp.body, 0, NULL) : NULL;
	mgmt_response_free(&resp);
	return resp.status;
}

static int call(struct env *e, const char *method, const char *path, const char *body,
		json_t **out)
{
	return call_full(e, e->auth, method, path, NULL, body, NULL, out);
}

static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)) ?: "";
}

/* ---- decoding ------------------------------------------------------------------ */

struct sample {
	char name[8];
	uint32_t count;
	bool flag;
	int64_t keep_s;
	char tags[3][5];
	unsigned ntags;
	struct {
		uint64_t n;
	} inner;
};
static const struct api_field inner_fields[] = {
	{ .name = "n", .type = API_F_U64, .required = true, .offset = 0, .min = 1, .max = 9 },
};
static const struct api_fields inner_spec = API_SPEC("inner", inner_fields);
static const struct api_field sample_fields[] = {
	API_STRING(struct sample, name, "name", true, 2),
	API_U32(struct sample, count, "count", false, 1, 100),
	API_BOOL(struct sample, flag, "flag", false),
	API_DURATION(struct sample, keep_s, "keep", false),
	API_STRINGS(struct sample, tags, ntags, "tags", false, 3),
	API_OBJECT(struct sample, inner, "inner", false, &inner_spec),
};
static const struct api_fields sample_spec = API_SPEC("sample", sample_fields);

/* Decode text; returns the status (0 when it decoded) and the field. */
static int decode(const char *text, struct sample *out, uint32_t *present, char *field)
{
	struct api_decode_error err = { 0 };
	json_t *j = json_loads(text, 0, NULL);
	memset(out, 0, sizeof(*out));
	int rc = api_decode(j, &sample_spec, out, present, &err);
	json_decref(j);
	strcpy(field, err.field);
	return rc ? err.status : 0;
}

static void test_decode_good_and_bad_members(void)
{
	struct sample s;
	uint32_t present;
	char field[128];
	CHECK_EQ(decode("{\"name\":\"abc\",\"count\":5,\"flag\":true,\"keep\":\"P1DT2H\","
			"\"tags\":[\"a\",\"bb\"],\"inner\":{\"n\":3}}", &s, &present, field), 0);
	CHECK(!strcmp(s.name, "abc") && s.count == 5 && s.flag && s.keep_s == 93600);
	CHECK(s.ntags == 2 && !strcmp(s.tags[1], "bb") && s.inner.n == 3);
	CHECK_EQ(present, 0x3f);
	CHECK_EQ(decode("{\"name\":\"abc\"}", &s, &present, field), 0);
	CHECK_EQ(present, 1);
	struct {
		const char *body, *field;
		int status;
	} bad[] = {
		{ "{}", "/name", 422 },                                   /* missing */
		{ "{\"name\":\"abc\",\"colour\":1}", "/colour", 422 },    /* unknown */
		{ "{\"name\":7}", "/name", 422 },                          /* wrong type */
		{ "{\"name\":\"a\"}", "/name", 422 },                      /* too short */
		{ "{\"name\":\"abcdefgh\"}", "/name", 422 },               /* too long */
		{ "{\"name\":\"abc\",\"count\":0}", "/count", 422 },      /* below range */
		{ "{\"name\":\"abc\",\"count\":-3}", "/count", 422 },     /* negative */
		{ "{\"name\":\"abc\",\"count\":1.5}", "/count", 422 },    /* not an integer */
		{ "{\"name\":\"abc\",\"flag\":\"yes\"}", "/flag", 422 },
		{ "{\"name\":\"abc\",\"keep\":\"7 days\"}", "/keep", 422 },
		{ "{\"name\":\"abc\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", "/tags", 422 },
		{ "{\"name\":\"abc\",\"tags\":[\"a\",5]}", "/tags/1", 422 },
		{ "{\"name\":\"abc\",\"tags\":[\"toolong\"]}", "/tags/0", 422 },
		{ "{\"name\":\"abc\",\"inner\":{}}", "/inner/n", 422 },
		{ "{\"name\":\"abc\",\"inner\":{\"n\":10}}", "/inner/n", 422 },
		{ "{\"name\":\"abc\",\"inner\":[]}", "/inner", 422 },
		{ "[1,2]", "", 400 },                                       /* not an object */
		{ "{\"name\":\"a\\u0000b\"}", "", 400 }, /* NUL inside: jansson refuses the text */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int status = decode(bad[i].body, &s, &present, field);
		if (status != bad[i].status || strcmp(field, bad[i].field)) {
			fprintf(stderr, "  %s: status %d field '%s', want %d '%s'\n", bad[i].body,
				status, field, bad[i].status, bad[i].field);
			harness_failures++;
		}
	}
}

static void test_durations_and_times(void)
{
	int64_t s, ns;
	CHECK(!api_duration_parse("P7D", &s) && s == 7 * 86400);
	CHECK(!api_duration_parse("P1W", &s) && s == 7 * 86400);
	CHECK(!api_duration_parse("PT36H", &s) && s == 36 * 3600);
	CHECK(!api_duration_parse("P1DT12H30M5S", &s) && s == 86400 + 12 * 3600 + 1805);
	const char *bad[] = { "", "P", "PT", "7D", "P1H", "PT1D", "P1D1W", "P-1D", "P1DT",
			      "P99999999999999999999D", "P1.5D" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_duration_parse(bad[i], &s) != -EINVAL) {
			fprintf(stderr, "  duration '%s' accepted\n", bad[i]);
			harness_failures++;
		}
	json_t *t = api_time(INT64_C(1796619545123000000));
	CHECK(!strcmp(json_string_value(t), "2026-12-07T04:59:05.123Z"));
	CHECK(!api_time_parse(json_string_value(t), &ns) && ns == INT64_C(1796619545123000000));
	json_decref(t);
	CHECK(!api_time_parse("2026-12-07T04:59:05Z", &ns) && ns == INT64_C(1796619545000000000));
	CHECK(api_time_parse("2026-12-07 04:59:05", &ns) == -EINVAL);
	CHECK(api_time_parse("2026-12-07T04:59:05+01:00", &ns) == -EINVAL);
	CHECK(api_time_parse("20-12-07T05:00:15.123Z", &ns) == -EINVAL); /* year 20: before 1970 */
	CHECK(api_name_valid("vm-01.disk_0:a@b") && !api_name_valid(".hidden") &&
	      !api_name_valid("") && !api_name_valid("a/b") && !api_name_valid("a b"));
}

/* ---- the request path ------------------------------------------------------------- */

static void test_first_start_credentials(void)
{
	struct env e;
	REQUIRE(!env_open(&e));
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/admin-token", e.pool.dir);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/admin-password", e.pool.dir);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600);
	CHECK(strlen(e.token) == API_TOKEN_LEN && !strncmp(e.token, "slt_", 4));
	/* Only the hash is kept: the secret appears in no record. */
	json_t *list;
	CHECK_EQ(call(&e, "GET", "/api/v1/tokens", NULL, &list), 200);
	char *dump = json_dumps(list, 0);
	CHECK(dump && !strstr(dump, e.token + 4) && !strstr(dump, "\"hash\""));
	free(dump);
	json_decref(list);
	/* A second start makes no new credentials. */
	unlink(path);
	mgmt_destroy(e.m);
	REQUIRE(!env_open_mgmt(&e));
	CHECK(stat(path, &st) == -1);
	CHECK_EQ(call(&e, "GET", "/api/v1/volumes", NULL, NULL), 200);
	env_close(&e);
}

static void test_auth_roles_and_login(void)
{
	struct env e;
	json_t *j;
	REQUIRE(!env_open(&e));
	CHECK_EQ(call_full(&e, NULL, "GET", "/api/v1/health", NULL, NULL, NULL, NULL), 200);
	CHECK_EQ(call_full(&e, NULL, "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL), 401);
	CHECK_EQ(call_full(&e, "Bearer slt_nope", "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL),
		 401);
	CHECK_EQ(call_full(&e, "Basic abc", "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL), 401);
	CHECK_EQ(call(&e, "POST", "/api/v1/users",
		      "{\"name\":\"ro\",\"password\":\"secret-pw\",\"role\":\"read-only\"}", &j), 201);
	CHECK(!strcmp(str(j, "role"), "read-only") && !json_object_get(j, "password_hash"));
	json_decref(j);
	CHECK_EQ(call_full(&e, NULL, "POST", "/api/v1/login", NULL,
			   "{\"user\":\"ro\",\"password\":\"wrong-pw\"}", NULL, NULL), 401);
	CHECK_EQ(call_full(&e, NULL, "POST", "/api/v1/login", NULL,
			   "{\"user\":\"ro\",\"password\":\"secret-pw\"}", NULL, &j), 201);
	char ro[128];
	snprintf(ro, sizeof(ro), "Bearer %s", str(j, "token"));
	CHECK(json_is_string(json_object_get(j, "expires_at")));
	json_decref(j);
	CHECK_EQ(call_full(&e, ro, "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL), 200);
	CHECK_EQ(call_full(&e, ro, "POST", "/api/v1/volumes", NULL,
			   "{\"name\":\"v\",\"size_bytes\":4096}", NULL, &j), 403);
	CHECK(!strcmp(str(j, "type"), "urn:slate:problem:forbidden"));
	json_decref(j);
	CHECK_EQ(call_full(&e, ro, "GET", "/api/v1/users", NULL, NULL, NULL, NULL), 403);
	/* A read-only user may make a read-only token, not an admin one. */
	CHECK_EQ(call_full(&e, ro, "POST", "/api/v1/tokens", NULL,
			   "{\"name\":\"t\",\"role\":\"admin\"}", NULL, NULL), 403);
	/* Deleting the user disables its tokens; logout revokes one. */
	CHECK_EQ(call(&e, "DELETE", "/api/v1/users/ro", NULL, NULL), 204);
	CHECK_EQ(call_full(&e, ro, "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL), 401);
	CHECK_EQ(call(&e, "DELETE", "/api/v1/users/admin", NULL, NULL), 409);
	CHECK_EQ(call(&e, "POST", "/api/v1/tokens", "{\"name\":\"short\",\"expires_in\":\"PT1H\"}", &j),
		 201);
	snprintf(ro, sizeof(ro), "Bearer %s", str(j, "token"));
	json_decref(j);
	CHECK_EQ(call_full(&e, ro, "POST", "/api/v1/logout", NULL, NULL, NULL, NULL), 204);
	CHECK_EQ(call_full(&e, ro, "GET", "/api/v1/volumes", NULL, NULL, NULL, NULL), 401);
	/* Each rejected token is an event. */
	CHECK_EQ(call(&e, "GET", "/api/v1/events", NULL, &j), 200);
	size_t failures = 0, i;
	json_t *ev;
	json_array_foreach(json_object_get(j, "items"), i, ev)
		failures += !strcmp(str(ev, "type"), "auth-failure");
	CHECK(failures >= 4);
	json_decref(j);
	env_close(&e);
}

static void test_routing_and_bodies(void)
{
	struct env e;
	json_t *j;
	REQUIRE(!env_open(&e));
	CHECK_EQ(call(&e, "GET", "/api/v1/nothing", NULL, NULL), 404);
	struct mgmt_request req = { .method = "PUT", .path = "/api/v1/volumes",
				    .authorization = e.auth };
	struct mgmt_response resp;
	mgmt_handle(e.m, &req, &resp);
	CHECK_EQ(resp.status, 405);
	CHECK(!strcmp(resp.allow, "GET, POST"));
	mgmt_response_free(&resp);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":", &j), 400);
	CHECK(!strcmp(str(j, "type"), "urn:slate:problem:malformed-json"));
	CHECK(!strcmp(str(j, "instance"), "/api/v1/volumes"));
	json_decref(j);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", NULL, NULL), 400);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "[]", NULL), 400);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"a\",\"name\":\"b\",\"size_bytes\":4096}",
		      NULL), 400); /* duplicate member */
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"v\",\"size_bytes\":\"1G\"}", &j), 422);
	CHECK(!strcmp(str(j, "field"), "/size_bytes") &&
	      !strcmp(str(j, "type"), "urn:slate:problem:wrong-type"));
	json_decref(j);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"v\",\"size_bytes\":4097}", &j), 422);
	CHECK(!strcmp(str(j, "field"), "/size_bytes"));
	json_decref(j);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"file.3\",\"size_bytes\":4096}", NULL),
		 422);
	struct mgmt_request typed = { .method = "POST", .path = "/api/v1/volumes",
				      .authorization = e.auth, .content_type = "text/plain",
				      .body = "{}", .body_len = 2 };
	mgmt_handle(e.m, &typed, &resp);
	CHECK_EQ(resp.status, 415);
	mgmt_response_free(&resp);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"v\",\"size_bytes\":8192}", NULL), 201);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"v\",\"size_bytes\":8192}", &j), 409);
	CHECK(!strcmp(str(j, "type"), "urn:slate:problem:already-exists"));
	json_decref(j);
	CHECK_EQ(call(&e, "GET", "/api/v1/volumes/none", NULL, NULL), 404);
	env_close(&e);
}

static void test_pages(void)
{
	struct env e;
	json_t *j;
	REQUIRE(!env_open(&e));
	for (int i = 0; i < 5; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"name\":\"v%d\",\"size_bytes\":4096}", i);
		CHECK_EQ(call(&e, "POST", "/api/v1/volumes", body, NULL), 201);
	}
	char query[64] = "limit=2";
	int seen = 0, pages = 0;
	for (;;) {
		REQUIRE(call_full(&e, e.auth, "GET", "/api/v1/volumes", query, NULL, NULL, &j) == 200);
		seen += (int)json_array_size(json_object_get(j, "items"));
		pages++;
		json_t *next = json_object_get(j, "next");
		if (json_is_null(next)) {
			json_decref(j);
			break;
		}
		snprintf(query, sizeof(query), "limit=2&after=%s", json_string_value(next));
		json_decref(j);
	}
	CHECK_EQ(seen, 5);
	CHECK_EQ(pages, 3);
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/volumes", "limit=0", NULL, NULL, NULL), 400);
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/volumes", "limit=1001", NULL, NULL, NULL), 400);
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/volumes", "limit=x", NULL, NULL, NULL), 400);
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/volumes", "after=zzz", NULL, NULL, &j), 400);
	CHECK(!strcmp(str(j, "field"), "after"));
	json_decref(j);
	env_close(&e);
}

static void test_idempotency_key(void)
{
	struct env e;
	json_t *a, *b;
	REQUIRE(!env_open(&e));
	const char *body = "{\"name\":\"once\",\"size_bytes\":4096}";
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL, body, "k1", &a), 201);
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL, body, "k1", &b), 201);
	CHECK(json_equal(a, b)); /* the first answer, replayed */
	json_decref(a);
	json_decref(b);
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL,
			   "{\"name\":\"other\",\"size_bytes\":4096}", "k1", &a), 422);
	CHECK(!strcmp(str(a, "type"), "urn:slate:problem:idempotency-key-reused"));
	json_decref(a);
	/* Without a key, a retry is a second create: refused as a duplicate. */
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", body, NULL), 409);
	/* A refusal is replayed too: the same key gets the same 409. */
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL, body, "k2", NULL), 409);
	CHECK_EQ(call(&e, "DELETE", "/api/v1/volumes/once", NULL, NULL), 204);
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL, body, "k2", NULL), 409);
	CHECK_EQ(call_full(&e, e.auth, "POST", "/api/v1/volumes", NULL, body, "", NULL), 400);
	env_close(&e);
}

static void test_events_outlive_a_restart(void)
{
	struct env e;
	json_t *j;
	REQUIRE(!env_open(&e));
	mgmt_event(e.m, "error", "checksum-error", "volume 3", "block %d is bad", 7);
	mgmt_event_async(e.m, "warning", "soft-threshold", "pool", "80% used");
	mgmt_destroy(e.m);
	REQUIRE(!test_pool_reopen(&e.pool) && !env_open_mgmt(&e));
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/events", "severity=error", NULL, NULL, &j), 200);
	json_t *items = json_object_get(j, "items");
	CHECK_EQ(json_array_size(items), 1);
	CHECK(!strcmp(str(json_array_get(items, 0), "message"), "block 7 is bad"));
	json_decref(j);
	/* The queued one was never drained (no management thread ran): it is
	 * gone, by design only a lost log line at shutdown. */
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/events", "type=soft-threshold", NULL, NULL,
			   &j), 200);
	CHECK_EQ(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	mgmt_event(e.m, "info", "x", "", "newest");
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/events", "limit=1", NULL, NULL, &j), 200);
	CHECK(!strcmp(str(json_array_get(json_object_get(j, "items"), 0), "message"), "newest"));
	json_decref(j);
	CHECK_EQ(call_full(&e, e.auth, "GET", "/api/v1/events", "since=yesterday", NULL, NULL, NULL),
		 400);
	env_close(&e);
}

/* The management thread records what other threads queue (cowstore's
 * store thread: the soft threshold, checksum errors) within a second or so. */
static void test_queued_events_are_recorded(void)
{
	struct env e;
	char err[256];
	json_t *j = NULL;
	REQUIRE(!env_open(&e));
	REQUIRE(!mgmt_start(e.m, err, sizeof(err)));
	CHECK(mgmt_port(e.m) > 0);
	mgmt_event_async(e.m, "warning", "soft-threshold", "pool", "80% of the pool is used");
	size_t found = 0;
	for (int i = 0; i < 50 && !found; i++) {
		usleep(100000);
		json_decref(j);
		REQUIRE(call_full(&e, e.auth, "GET", "/api/v1/events", "type=soft-threshold", NULL,
				  NULL, &j) == 200);
		found = json_array_size(json_object_get(j, "items"));
	}
	CHECK_EQ(found, 1);
	CHECK(!strcmp(str(json_array_get(json_object_get(j, "items"), 0), "severity"), "warning"));
	json_decref(j);
	mgmt_stop(e.m);
	env_close(&e);
}

static void test_volume_lifecycle_and_tasks(void)
{
	struct env e;
	json_t *j;
	REQUIRE(!env_open(&e));
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes", "{\"name\":\"src\",\"size_bytes\":1048576}", NULL),
		 201);
	uint64_t id;
	REQUIRE(!cowstore_volume_lookup(e.pool.cs, "src", &id));
	char block[4096];
	memset(block, 0x5a, sizeof(block));
	REQUIRE(!cowstore_write(e.pool.cs, id, 8, 8, block, 0));
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes/src/snapshots", "{\"name\":\"s1\"}", NULL), 201);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes/src/snapshots/s1/clone", "{\"name\":\"c1\"}", &j),
		 201);
	CHECK(json_integer_value(json_object_get(j, "parent_snapshot_id")) > 0);
	json_decref(j);
	CHECK_EQ(call(&e, "DELETE", "/api/v1/volumes/src/snapshots/s1", NULL, &j), 409);
	json_decref(j);
	CHECK_EQ(call(&e, "PATCH", "/api/v1/volumes/src", "{\"size_bytes\":2097152}", &j), 200);
	CHECK_EQ(json_integer_value(json_object_get(j, "size_bytes")), 2097152);
	json_decref(j);
	CHECK_EQ(call(&e, "POST", "/api/v1/volumes/src/copy", "{\"name\":\"full\"}", &j), 202);
	int64_t task = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/tasks/%lld", (long long)task);
	for (int i = 0; i < 500; i++) {
		REQUIRE(call(&e, "GET", path, NULL, &j) == 200);
		bool done = strcmp(str(j, "state"), "running");
		if (done) {
			CHECK(!strcmp(str(j, "state"), "succeeded"));
			CHECK_EQ(json_integer_value(json_object_get(j, "progress_pct")), 100);
			json_decref(j);
			break;
		}
		json_decref(j);
		usleep(10000);
	}
	uint64_t copy_id;
	char got[4096];
	REQUIRE(!cowstore_volume_lookup(e.pool.cs, "full", &copy_id));
	REQUIRE(!cowstore_read(e.pool.cs, copy_id, 8, 8, got));
	CHECK(!memcmp(got, block, sizeof(got)));
	CHECK_EQ(call(&e, "GET", "/api/v1/tasks/999", NULL, NULL), 404);
	env_close(&e);
}

static const struct harness_test tests[] = {
	{ "decode_good_and_bad_members", test_decode_good_and_bad_members },
	{ "durations_and_times", test_durations_and_times },
	{ "first_start_credentials", test_first_start_credentials },
	{ "auth_roles_and_login", test_auth_roles_and_login },
	{ "routing_and_bodies", test_routing_and_bodies },
	{ "pages", test_pages },
	{ "idempotency_key", test_idempotency_key },
	{ "events_outlive_a_restart", test_events_outlive_a_restart },
	{ "queued_events_are_recorded", test_queued_events_are_recorded },
	{ "volume_lifecycle_and_tasks", test_volume_lifecycle_and_tasks },
};
HARNESS_MAIN(tests)
