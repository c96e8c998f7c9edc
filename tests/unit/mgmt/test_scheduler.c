/*
 * test_scheduler.c - snapshot schedules in simulated time: cron edge cases
 * through the API's next_run and through real ticks, retention (keep_last,
 * keep_for, a clone holding a snapshot), restart catch-up, disabled
 * schedules, name collisions, run now, VM targets and validation.
 */
#include <errno.h>

#include "tests/harness.h"
#include "tests/unit/mgmt/apiutil.h"

#include "cowstore/cowstore.h"
#include "mgmt/api.h"

#define HOUR 3600
#define DAY 86400
#define T_2027_04_15 INT64_C(1807747200) /* a Thursday */
#define T_2027_03_01 INT64_C(1803859200)
#define T_2027_01_01 INT64_C(1798761600) /* a Friday */
#define T_2027_03_27 INT64_C(1806105600)

static json_t *make_schedule(struct t_api *t, int want, const char *fmt, ...)
{
	char body[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	int st;
	json_t *r = t_req(t, "POST", "/api/v1/schedules", &st, "%s", body);
	if (st != want)
		fprintf(stderr, "  POST %s -> %d, want %d\n", body, st, want);
	CHECK_EQ(st, want);
	return r;
}

static const char *next_run(struct t_api *t, const char *name, char *buf, size_t len)
{
	char path[128];
	int st;
	snprintf(path, sizeof(path), "/api/v1/schedules/%s", name);
	json_t *r = t_req(t, "GET", path, &st, NULL);
	snprintf(buf, len, "%s", json_is_string(json_object_get(r, "next_run"))
				 ? t_str(r, "next_run") : "null");
	json_decref(r);
	return buf;
}

/* Names of the volume's snapshots, oldest first, joined by ' '. */
static const char *snapshots(struct t_api *t, const char *volume, char *buf, size_t len)
{
	struct cowstore_snapshot_info *list;
	size_t n;
	uint64_t id;
	buf[0] = '\0';
	if (cowstore_volume_lookup(t->tp.cs, volume, &id) ||
	    cowstore_snapshot_list(t->tp.cs, id, &list, &n))
		return buf;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", list[i].name);
	free(list);
	return buf;
}

#define EXPECT_STR(got, want)                                                              \
	do {                                                                                \
		const char *g_ = (got), *w_ = (want);                                       \
		if (strcmp(g_, w_)) {                                                       \
			fprintf(stderr, "  %s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, \
				g_, w_);                                                    \
			harness_failures++;                                                 \
		}                                                                           \
	} while (0)

static void test_next_run_edges(void)
{
	struct t_api t;
	char buf[64];
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(make_schedule(&t, 201, "{\"name\":\"monthend\",\"minute\":\"0\",\"hour\":\"0\","
				  "\"day_of_month\":\"31\",\"target\":{\"kind\":\"volume\","
				  "\"name\":\"v\"},\"retention\":{\"keep_last\":3}}"));
	/* April and June have 30 days: the 31st skips them */
	EXPECT_STR(next_run(&t, "monthend", buf, sizeof(buf)), "2027-05-31T00:00:00.000Z");
	t.now_s += 50 * DAY; /* 2027-06-04 */
	EXPECT_STR(next_run(&t, "monthend", buf, sizeof(buf)), "2027-07-31T00:00:00.000Z");

	t.now_s = T_2027_03_01;
	json_decref(make_schedule(&t, 201, "{\"name\":\"leap\",\"minute\":\"0\",\"hour\":\"12\","
				  "\"day_of_month\":\"29\",\"month\":\"2\",\"target\":{\"kind\":"
				  "\"volume\",\"name\":\"v\"},\"retention\":{\"keep_last\":3}}"));
	EXPECT_STR(next_run(&t, "leap", buf, sizeof(buf)), "2028-02-29T12:00:00.000Z");

	/* both day fields restricted: the 13th OR a Friday (Vixie cron) */
	t.now_s = T_2027_01_01;
	json_decref(make_schedule(&t, 201, "{\"name\":\"fri13\",\"minute\":\"0\",\"hour\":\"0\","
				  "\"day_of_month\":\"13\",\"day_of_week\":\"5\",\"target\":"
				  "{\"kind\":\"volume\",\"name\":\"v\"},\"retention\":"
				  "{\"keep_last\":3}}"));
	EXPECT_STR(next_run(&t, "fri13", buf, sizeof(buf)), "2027-01-08T00:00:00.000Z");
	t.now_s = T_2027_01_01 + 11 * DAY; /* 2027-01-12, a Tuesday */
	EXPECT_STR(next_run(&t, "fri13", buf, sizeof(buf)), "2027-01-13T00:00:00.000Z");

	/* Berlin springs forward at 02:00 on 2027-03-28: 02:30 does not exist that day */
	t.now_s = T_2027_03_27 + 12 * HOUR;
	json_decref(make_schedule(&t, 201, "{\"name\":\"berlin\",\"minute\":\"30\",\"hour\":\"2\","
				  "\"timezone\":\"Europe/Berlin\",\"target\":{\"kind\":\"volume\","
				  "\"name\":\"v\"},\"retention\":{\"keep_last\":3}}"));
	EXPECT_STR(next_run(&t, "berlin", buf, sizeof(buf)), "2027-03-29T00:30:00.000Z");
	t_close(&t);
}

static void test_ticks_month_end(void)
{
	struct t_api t;
	char buf[512];
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(make_schedule(&t, 201, "{\"name\":\"monthend\",\"minute\":\"0\",\"hour\":\"0\","
				  "\"day_of_month\":\"31\",\"target\":{\"kind\":\"volume\","
				  "\"name\":\"v\"},\"retention\":{\"keep_last\":5}}"));
	int ran = 0;
	for (int64_t day = 1; day <= 110; day++) /* to 2027-08-03, a tick each midnight */
		ran += mgmt_scheduler_tick(t.m, T_2027_04_15 + day * DAY);
	CHECK_EQ(ran, 2); /* May 31, July 31 */
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270531-0000 auto-20270731-0000");
	CHECK_EQ(t_events(&t, "schedule-run", "auto-20270731-0000"), 1);

	/* a Berlin schedule on the day of the gap: no run at the missing 02:30 */
	t.now_s = T_2027_03_27 + 12 * HOUR;
	json_decref(make_schedule(&t, 201, "{\"name\":\"berlin\",\"minute\":\"30\",\"hour\":\"2\","
				  "\"timezone\":\"Europe/Berlin\",\"name_pattern\":\"b-%%Y%%m%%d-%%H%%M\","
				  "\"target\":{\"kind\":\"volume\",\"name\":\"v\"},"
				  "\"retention\":{\"keep_last\":5}}"));
	ran = 0;
	for (int64_t m = 1; m <= 2 * 24 * 60; m++)
		ran += mgmt_scheduler_tick(t.m, t.now_s + m * 60);
	CHECK_EQ(ran, 1); /* 28th none; 29th 02:30 CEST (00:30Z); monthend ran in August already */
	CHECK(strstr(snapshots(&t, "v", buf, sizeof(buf)), "b-20270329-0230") != NULL);
	CHECK(strstr(buf, "b-20270328") == NULL);
	t_close(&t);
}

static void test_keep_last_and_manual(void)
{
	struct t_api t;
	char buf[512];
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(t_req(&t, "POST", "/api/v1/volumes/v/snapshots", &st, "{\"name\":\"manual\"}"));
	CHECK_EQ(st, 201);
	json_decref(make_schedule(&t, 201, "{\"name\":\"hourly\",\"minute\":\"0\",\"target\":"
				  "{\"kind\":\"volume\",\"name\":\"v\"},\"retention\":"
				  "{\"keep_last\":3}}"));
	int ran = 0;
	for (int h = 1; h <= 5; h++)
		ran += mgmt_scheduler_tick(t.m, T_2027_04_15 + h * HOUR);
	CHECK_EQ(ran, 5);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)),
		   "manual auto-20270415-0300 auto-20270415-0400 auto-20270415-0500");
	/* a tick within the same minute runs nothing more */
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + 5 * HOUR + 30), 0);
	t_close(&t);
}

static void test_keep_for(void)
{
	struct t_api t;
	char buf[512];
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(make_schedule(&t, 201, "{\"name\":\"hourly\",\"minute\":\"0\",\"target\":"
				  "{\"kind\":\"volume\",\"name\":\"v\"},\"retention\":"
				  "{\"keep_for\":\"PT2H\"}}"));
	for (int h = 1; h <= 5; h++) {
		t.now_s = T_2027_04_15 + h * HOUR;
		mgmt_scheduler_tick(t.m, t.now_s);
	}
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)),
		   "auto-20270415-0300 auto-20270415-0400 auto-20270415-0500");
	t_close(&t);
}

static void test_clone_holds(void)
{
	struct t_api t;
	char buf[512];
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(make_schedule(&t, 201, "{\"name\":\"hourly\",\"minute\":\"0\",\"target\":"
				  "{\"kind\":\"volume\",\"name\":\"v\"},\"retention\":"
				  "{\"keep_last\":1}}"));
	t.now_s = T_2027_04_15 + HOUR;
	CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 1);
	json_decref(t_req(&t, "POST", "/api/v1/volumes/v/snapshots/auto-20270415-0100/clone", &st,
			  "{\"name\":\"dev\"}"));
	CHECK_EQ(st, 201);
	t.now_s += HOUR;
	CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 1);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270415-0100 auto-20270415-0200");
	CHECK_EQ(t_events(&t, "schedule-prune", "auto-20270415-0100"), 1);
	char path[] = "/api/v1/events?type=schedule-prune";
	json_t *r = t_req(&t, "GET", path, &st, NULL);
	CHECK(!strcmp(t_str(json_array_get(json_object_get(r, "items"), 0), "severity"), "warning"));
	json_decref(r);
	/* without the clone, the next run lets it go */
	json_decref(t_req(&t, "DELETE", "/api/v1/volumes/dev", &st, NULL));
	CHECK_EQ(st, 204);
	t.now_s += HOUR;
	CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 1);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270415-0300");
	t_close(&t);
}

static void catch_up(bool enabled_catch_up)
{
	struct t_api t;
	char buf[512];
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_decref(make_schedule(&t, 201, "{\"name\":\"hourly\",\"minute\":\"0\",\"catch_up\":%s,"
				  "\"target\":{\"kind\":\"volume\",\"name\":\"v\"},"
				  "\"retention\":{\"keep_last\":10}}",
				  enabled_catch_up ? "true" : "false"));
	t.now_s = T_2027_04_15 + HOUR;
	CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 1);
	/* down from 01:00:30 to 04:10: 02:00, 03:00 and 04:00 were missed */
	mgmt_destroy(t.m);
	t.m = NULL;
	t.now_s = T_2027_04_15 + 4 * HOUR + 600;
	REQUIRE(t_mgmt_create(&t) == 0);
	CHECK_EQ(api_sched_catch_up(t.m, t.now_s), enabled_catch_up ? 1 : 0);
	CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 0);
	if (enabled_catch_up) {
		EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)),
			   "auto-20270415-0100 auto-20270415-0400");
		CHECK_EQ(t_events(&t, "schedule-catch-up", "missed 3 runs"), 1);
	} else {
		EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270415-0100");
		CHECK_EQ(t_events(&t, "schedule-skipped", "missed 3 runs"), 1);
	}
	EXPECT_STR(next_run(&t, "hourly", buf, sizeof(buf)), "2027-04-15T05:00:00.000Z");
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + 5 * HOUR), 1);
	t_close(&t);
}

static void test_catch_up(void)
{
	catch_up(true);
}

static void test_no_catch_up(void)
{
	catch_up(false);
}

static void test_disabled_and_stall(void)
{
	struct t_api t;
	char buf[512];
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	json_t *r = make_schedule(&t, 201, "{\"name\":\"off\",\"minute\":\"*\",\"enabled\":false,"
				  "\"target\":{\"kind\":\"volume\",\"name\":\"v\"},"
				  "\"retention\":{\"keep_last\":10}}");
	CHECK(json_is_null(json_object_get(r, "next_run")));
	CHECK(json_is_null(json_object_get(r, "last_result")));
	json_decref(r);
	int ran = 0;
	for (int m = 1; m <= 180; m++)
		ran += mgmt_scheduler_tick(t.m, T_2027_04_15 + m * 60);
	CHECK_EQ(ran, 0);
	CHECK_EQ(api_sched_catch_up(t.m, T_2027_04_15 + DAY), 0);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "");

	/* enabled later: it starts then, not from its creation */
	t.now_s = T_2027_04_15 + 10 * HOUR + 30;
	r = t_req(&t, "PATCH", "/api/v1/schedules/off", &st, "{\"enabled\":true,\"minute\":\"15\"}");
	CHECK_EQ(st, 200);
	CHECK(!strcmp(t_str(r, "next_run"), "2027-04-15T10:15:00.000Z"));
	CHECK(!strcmp(t_str(r, "minute"), "15"));
	json_decref(r);
	/* a stall: the next tick comes hours late and runs once, for the latest minute */
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + 13 * HOUR + 20 * 60), 1);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270415-1315");
	t_close(&t);
}

static void test_collision_and_run_now(void)
{
	struct t_api t;
	char buf[512];
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
	for (int i = 0; i < 2; i++)
		json_decref(make_schedule(&t, 201, "{\"name\":\"s%d\",\"minute\":\"0\",\"target\":"
					  "{\"kind\":\"volume\",\"name\":\"v\"},\"retention\":"
					  "{\"keep_last\":2}}", i));
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + HOUR), 2);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)), "auto-20270415-0100 auto-20270415-0100-2");
	/* each prunes only its own */
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + 2 * HOUR), 2);
	CHECK_EQ(mgmt_scheduler_tick(t.m, T_2027_04_15 + 3 * HOUR), 2);
	EXPECT_STR(snapshots(&t, "v", buf, sizeof(buf)),
		   "auto-20270415-0200 auto-20270415-0200-2 auto-20270415-0300 "
		   "auto-20270415-0300-2");

	t.now_s = T_2027_04_15 + 3 * HOUR + 17 * 60 + 5;
	json_t *r = t_req(&t, "POST", "/api/v1/schedules/s0/run", &st, NULL);
	CHECK_EQ(st, 200);
	json_t *res = json_object_get(r, "last_result");
	CHECK(!strcmp(t_str(res, "status"), "ok"));
	CHECK(!strcmp(t_str(res, "snapshot"), "auto-20270415-0317"));
	CHECK(!strcmp(t_str(r, "next_run"), "2027-04-15T04:00:00.000Z"));
	json_decref(r);
	/* a failure is reported in last_result and as an error event */
	json_decref(t_req(&t, "DELETE", "/api/v1/volumes/v", &st, NULL));
	CHECK_EQ(st, 204);
	r = t_req(&t, "POST", "/api/v1/schedules/s1/run", &st, NULL);
	CHECK_EQ(st, 200);
	res = json_object_get(r, "last_result");
	CHECK(!strcmp(t_str(res, "status"), "failed"));
	CHECK(json_is_null(json_object_get(res, "snapshot")));
	json_decref(r);
	r = t_req(&t, "GET", "/api/v1/events?type=schedule-run&severity=error", &st, NULL);
	CHECK_EQ(json_array_size(json_object_get(r, "items")), 1);
	json_decref(r);

	r = t_req(&t, "GET", "/api/v1/schedules", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_EQ(json_array_size(json_object_get(r, "items")), 2);
	json_decref(r);
	json_decref(t_req(&t, "DELETE", "/api/v1/schedules/s0", &st, NULL));
	CHECK_EQ(st, 204);
	json_decref(t_req(&t, "GET", "/api/v1/schedules/s0", &st, NULL));
	CHECK_EQ(st, 404);
	t_close(&t);
}

static void test_vm_target(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "a", 1 << 20);
	t_volume(&t, "b", 1 << 20);
	json_decref(t_req(&t, "POST", "/api/v1/vms", &st,
			  "{\"name\":\"web\",\"volumes\":[\"a\",\"b\"]}"));
	CHECK_EQ(st, 201);
	json_decref(make_schedule(&t, 201, "{\"name\":\"vmhourly\",\"minute\":\"0\",\"target\":"
				  "{\"kind\":\"vm\",\"name\":\"web\"},\"retention\":"
				  "{\"keep_last\":2},\"name_pattern\":\"h-%%H\"}"));
	for (int h = 1; h <= 4; h++) {
		t.now_s = T_2027_04_15 + h * HOUR;
		CHECK_EQ(mgmt_scheduler_tick(t.m, t.now_s), 1);
	}
	json_t *r = t_req(&t, "GET", "/api/v1/vms/web/snapshots", &st, NULL);
	json_t *items = json_object_get(r, "items");
	CHECK_EQ(json_array_size(items), 2);
	CHECK(!strcmp(t_str(json_array_get(items, 0), "name"), "h-03"));
	CHECK(!strcmp(t_str(json_array_get(items, 1), "name"), "h-04"));
	json_decref(r);
	uint64_t id, snap;
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "b", &id), 0);
	CHECK_EQ(cowstore_snapshot_lookup(t.tp.cs, id, "h-01", &snap), -ENOENT);
	CHECK_EQ(cowstore_snapshot_lookup(t.tp.cs, id, "h-04", &snap), 0);
	t_close(&t);
}

static void expect_bad(struct t_api *t, const char *members, const char *field)
{
	json_t *r = make_schedule(t, 422, "{\"name\":\"bad\",%s}", members);
	if (strcmp(t_field(r), field))
		fprintf(stderr, "  %s: field '%s', want '%s'\n", members, t_field(r), field);
	CHECK(!strcmp(t_field(r), field));
	json_decref(r);
}

static void test_validation(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T_2027_04_15) == 0);
	t_volume(&t, "v", 1 << 20);
#define TGT "\"target\":{\"kind\":\"volume\",\"name\":\"v\"}"
#define RET "\"retention\":{\"keep_last\":1}"
	expect_bad(&t, "\"minute\":\"0\",\"hour\":\"25\"," TGT "," RET, "/hour");
	expect_bad(&t, "\"minute\":\"61\"," TGT "," RET, "/minute");
	expect_bad(&t, "\"minute\":\"0 0\"," TGT "," RET, "/minute");
	expect_bad(&t, "\"minute\":\"0\",\"month\":\"foo\"," TGT "," RET, "/month");
	expect_bad(&t, "\"minute\":\"0\",\"timezone\":\"Mars/Olympus\"," TGT "," RET, "/timezone");
	expect_bad(&t, "\"minute\":\"0\",\"hour\":\"0\",\"day_of_month\":\"30\",\"month\":\"2\","
		   TGT "," RET, "/day_of_month");
	expect_bad(&t, "\"minute\":\"0\"," TGT ",\"retention\":{}", "/retention");
	expect_bad(&t, "\"minute\":\"0\"," TGT ",\"retention\":{\"keep_for\":\"7 days\"}",
		   "/retention/keep_for");
	expect_bad(&t, "\"minute\":\"0\"," TGT "," RET ",\"name_pattern\":\"x-%%Q\"", "/name_pattern");
	expect_bad(&t, "\"minute\":\"0\",\"target\":{\"kind\":\"disk\",\"name\":\"v\"}," RET,
		   "/target/kind");
	expect_bad(&t, "\"minute\":\"0\",\"target\":{\"kind\":\"vm\",\"name\":\"v\"}," RET,
		   "/target/name");
	expect_bad(&t, TGT "," RET, "/minute");
	expect_bad(&t, "\"minute\":\"0\"," RET, "/target");
	expect_bad(&t, "\"minute\":\"0\"," TGT "," RET ",\"when\":1", "/when");
	json_t *r = make_schedule(&t, 201, "{\"name\":\"ok\",\"minute\":\"0\"," TGT "," RET "}");
	CHECK(!strcmp(t_str(r, "hour"), "*"));
	CHECK(!strcmp(t_str(r, "timezone"), "UTC"));
	CHECK(!strcmp(t_str(r, "name_pattern"), "auto-%Y%m%d-%H%M"));
	CHECK(json_is_true(json_object_get(r, "enabled")));
	CHECK(json_is_true(json_object_get(r, "catch_up")));
	json_decref(r);
	json_decref(make_schedule(&t, 409, "{\"name\":\"ok\",\"minute\":\"0\"," TGT "," RET "}"));
	r = t_req(&t, "PATCH", "/api/v1/schedules/ok", &st, "{\"hour\":\"x\"}");
	CHECK_EQ(st, 422);
	CHECK(!strcmp(t_field(r), "/hour"));
	json_decref(r);
	CHECK_EQ(t_status(&t, "PATCH", "/api/v1/schedules/ok", "{\"name\":\"x\"}"), 422);
	t_close(&t);
}

static const struct harness_test tests[] = {
	{ "next_run_edges", test_next_run_edges },
	{ "ticks_month_end", test_ticks_month_end },
	{ "keep_last_and_manual", test_keep_last_and_manual },
	{ "keep_for", test_keep_for },
	{ "clone_holds", test_clone_holds },
	{ "catch_up", test_catch_up },
	{ "no_catch_up", test_no_catch_up },
	{ "disabled_and_stall", test_disabled_and_stall },
	{ "collision_and_run_now", test_collision_and_run_now },
	{ "vm_target", test_vm_target },
	{ "validation", test_validation },
};
HARNESS_MAIN(tests)
