/*
 * test_sched.c - the snapshot-schedule core (sched/): cron parsing and its
 * errors, next runs (month ends, leap days, the day-of-month OR
 * day-of-week rule, steps, year rollover), time zones from zoneinfo files
 * and their POSIX footer rules (Berlin and New York DST changes), missed
 * runs, retention and snapshot names.
 *
 * Every time is a fixed instant, never the clock.  Expected UTC instants
 * come from timegm(), which ignores TZ.  Zones need Debian's tzdata.
 */
#include <errno.h>
#include <time.h>

#include "sched/sched.h"
#include "tests/harness.h"

static int64_t utc(int year, int month, int mday, int hour, int minute)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = mday,
			 .tm_hour = hour, .tm_min = minute };
	return (int64_t)timegm(&tm);
}

static struct sched_cron cron(const char *expr)
{
	struct sched_cron c = { 0 };
	char err[160];
	if (sched_cron_parse(expr, &c, err, sizeof(err)) != 0)
		fprintf(stderr, "  cron '%s': %s\n", expr, err);
	return c;
}

/* The next run of EXPR in TZ after AFTER, or -1 when there is none. */
static int64_t next_in(const char *expr, const struct sched_tz *tz, int64_t after)
{
	struct sched_cron c = cron(expr);
	int64_t next;
	return sched_next_run(&c, tz, after, &next) == 0 ? next : -1;
}

static int64_t next_utc(const char *expr, int64_t after)
{
	return next_in(expr, NULL, after);
}

static void test_parse_valid(void)
{
	struct sched_cron c;
	CHECK_EQ(sched_cron_parse("*/15 * * * *", &c, NULL, 0), 0);
	CHECK(c.minutes == (1ull << 0 | 1ull << 15 | 1ull << 30 | 1ull << 45));
	CHECK(c.hours == 0xffffff && c.mdays == 0xfffffffe && c.months == 0x1ffe);
	CHECK(c.wdays == 0x7f && c.mday_star && c.wday_star);

	CHECK_EQ(sched_cron_parse(" 0  9-17/4\t1,15 JAN,jul Mon-FRI ", &c, NULL, 0), 0);
	CHECK(c.minutes == 1 && c.hours == (1u << 9 | 1u << 13 | 1u << 17));
	CHECK(c.mdays == (1u << 1 | 1u << 15) && c.months == (1u << 1 | 1u << 7));
	CHECK(c.wdays == 0x3e && !c.mday_star && !c.wday_star);

	CHECK_EQ(sched_cron_parse("0 0 1-30/10 * 7", &c, NULL, 0), 0);
	CHECK(c.mdays == (1u << 1 | 1u << 11 | 1u << 21) && c.wdays == 1); /* 7 = Sunday */
	CHECK_EQ(sched_cron_parse("0 0 * * 5-7", &c, NULL, 0), 0);
	CHECK_EQ(c.wdays, 1 | 1 << 5 | 1 << 6);
	CHECK_EQ(sched_cron_parse("0 0 * * sun,sat", &c, NULL, 0), 0);
	CHECK_EQ(c.wdays, 1 | 1 << 6);
	CHECK_EQ(sched_cron_parse("59 23 31 dec 0-6/3", &c, NULL, 0), 0);
	CHECK(c.minutes == 1ull << 59 && c.hours == 1u << 23 && c.mdays == 1u << 31);
	CHECK(c.months == 1u << 12 && c.wdays == (1 | 1 << 3 | 1 << 6));
}

static void test_parse_errors(void)
{
	static const struct {
		const char *expr, *message;
	} cases[] = {
		{ "* * * *", "a cron expression has 5 fields (minute hour day-of-month month "
			     "day-of-week), '* * * *' has 4" },
		{ "* * * * * *", "has 6" },
		{ "", "has 0" },
		{ "60 * * * *", "minute field: 60 is out of range 0-59" },
		{ "* 24 * * *", "hour field: 24 is out of range 0-23" },
		{ "* * 0 * *", "day-of-month field: 0 is out of range 1-31" },
		{ "* * 32 * *", "day-of-month field: 32 is out of range 1-31" },
		{ "* * * 13 *", "month field: 13 is out of range 1-12" },
		{ "* * * * 8", "day-of-week field: 8 is out of range 0-7" },
		{ "* * * foo *", "month field: unknown name 'foo' (use jan..dec)" },
		{ "* * * * funday", "day-of-week field: unknown name 'funday' (use sun..sat)" },
		{ "* * * * jan", "day-of-week field: unknown name 'jan' (use sun..sat)" },
		{ "abc * * * *", "minute field: 'abc' is not a number" },
		{ "30-5 * * * *", "minute field: range 30-5 is backwards" },
		{ "* * * * fri-mon", "day-of-week field: range 5-1 is backwards" },
		{ "*/0 * * * *", "minute field: step 0 is out of range 1-59" },
		{ "* */24 * * *", "hour field: step 24 is out of range 1-23" },
		{ "5/10 * * * *", "minute field: a step needs '*' or a range before it" },
		{ "*/ * * * *", "minute field: '/' must be followed by a step number" },
		{ "1, * * * *", "minute field: the list ends with ','" },
		{ "1,,2 * * * *", "minute field: unexpected ','" },
		{ "1-* * * * *", "minute field: unexpected '*'" },
		{ "* 1- * * *", "hour field: a value is missing" },
		{ "1x * * * *", "minute field: unexpected 'x'" },
		{ "123456 * * * *", "minute field: '1234...' is too large" },
	};
	struct sched_cron c;
	char err[160];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CHECK_EQ(sched_cron_parse(cases[i].expr, &c, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].message))
			fprintf(stderr, "  '%s': got '%s'\n", cases[i].expr, err);
		CHECK(strstr(err, cases[i].message) != NULL);
	}
	CHECK_EQ(sched_cron_parse(NULL, &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ(sched_cron_parse("61 * * * *", &c, err, 8), -EINVAL); /* truncated, terminated */
	CHECK(strlen(err) == 7);
	CHECK_EQ(sched_cron_parse("61 * * * *", &c, NULL, 0), -EINVAL);
}

static void test_next_month_ends(void)
{
	/* the 31st skips 30-day months and February */
	CHECK_EQ(next_utc("0 12 31 * *", utc(2027, 4, 1, 0, 0)), utc(2027, 5, 31, 12, 0));
	CHECK_EQ(next_utc("0 12 31 * *", utc(2027, 1, 31, 12, 0)), utc(2027, 3, 31, 12, 0));
	CHECK_EQ(next_utc("0 12 31 * *", utc(2027, 3, 31, 11, 59)), utc(2027, 3, 31, 12, 0));
	CHECK_EQ(next_utc("0 0 30 * *", utc(2027, 1, 30, 0, 0)), utc(2027, 3, 30, 0, 0));
}

static void test_next_leap_day(void)
{
	CHECK_EQ(next_utc("0 0 29 2 *", utc(2026, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
	CHECK_EQ(next_utc("0 0 29 feb *", utc(2028, 2, 29, 0, 0)), utc(2032, 2, 29, 0, 0));
	/* 2100 is no leap year: the longest gap, inside the search */
	CHECK_EQ(next_utc("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0));
	CHECK_EQ(next_utc("0 0 30 2 *", utc(2027, 1, 1, 0, 0)), -1);
	CHECK_EQ(next_utc("0 0 31 4,6,9,11 *", utc(2027, 1, 1, 0, 0)), -1);
	struct sched_cron c = cron("* * * * *");
	int64_t next;
	CHECK_EQ(sched_next_run(&c, NULL, INT64_MAX, &next), -EINVAL);
	CHECK_EQ(sched_next_run(&c, NULL, INT64_MIN, &next), -EINVAL);
}

static void test_next_day_or_rule(void)
{
	/* both restricted: the 13th OR a Friday (2027-01-01 is a Friday) */
	CHECK_EQ(next_utc("0 0 13 * fri", utc(2027, 1, 1, 0, 0)), utc(2027, 1, 8, 0, 0));
	CHECK_EQ(next_utc("0 0 13 * fri", utc(2027, 1, 8, 0, 0)), utc(2027, 1, 13, 0, 0));
	CHECK_EQ(next_utc("0 0 13 * fri", utc(2027, 1, 13, 0, 0)), utc(2027, 1, 15, 0, 0));
	/* one day field '*': both must match, so Fridays only */
	CHECK_EQ(next_utc("0 0 * * fri", utc(2027, 1, 1, 0, 0)), utc(2027, 1, 8, 0, 0));
	CHECK_EQ(next_utc("0 0 13 * *", utc(2027, 1, 1, 0, 0)), utc(2027, 1, 13, 0, 0));
	/* a stepped '*' is not restricted (Vixie): odd days that are Fridays */
	CHECK_EQ(next_utc("0 0 */2 * fri", utc(2027, 1, 1, 0, 0)), utc(2027, 1, 15, 0, 0));
	/* February 30 never comes, but with the OR rule February's Sundays match */
	CHECK_EQ(next_utc("0 0 30 2 sun", utc(2027, 1, 1, 0, 0)), utc(2027, 2, 7, 0, 0));
}

static void test_next_every_15_minutes(void)
{
	const char *every15 = "*/15 * * * *";
	CHECK_EQ(next_utc(every15, utc(2027, 1, 1, 10, 7) + 30), utc(2027, 1, 1, 10, 15));
	CHECK_EQ(next_utc(every15, utc(2027, 1, 1, 10, 15)), utc(2027, 1, 1, 10, 30));
	CHECK_EQ(next_utc(every15, utc(2027, 1, 1, 10, 59) + 59), utc(2027, 1, 1, 11, 0));
	CHECK_EQ(next_utc(every15, utc(2027, 1, 1, 10, 15) - 1), utc(2027, 1, 1, 10, 15));
	CHECK_EQ(next_utc("* * * * *", utc(2027, 1, 1, 10, 15)), utc(2027, 1, 1, 10, 16));
	/* before 1970 too */
	CHECK_EQ(next_utc(every15, utc(1969, 12, 31, 23, 50)), utc(1970, 1, 1, 0, 0));
}

static void test_next_year_rollover(void)
{
	CHECK_EQ(next_utc("30 23 31 12 *", utc(2026, 12, 31, 23, 30)), utc(2027, 12, 31, 23, 30));
	CHECK_EQ(next_utc("0 0 1 1 *", utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0, 0));
	CHECK_EQ(next_utc("0 0 * jan mon", utc(2026, 12, 31, 0, 0)), utc(2027, 1, 4, 0, 0));
}

static struct sched_tz *zone(const char *name)
{
	struct sched_tz *tz = NULL;
	int rc = sched_tz_load(name, &tz);
	if (rc != 0)
		fprintf(stderr, "  sched_tz_load(%s): %d (is tzdata installed?)\n", name, rc);
	return tz;
}

/* Berlin, 2027-03-28: 02:00 CET jumps to 03:00 CEST (01:00 UTC). */
static void test_berlin_spring_forward(void)
{
	struct sched_tz *tz = zone("Europe/Berlin");
	REQUIRE(tz);
	CHECK_EQ(sched_tz_offset(tz, utc(2027, 3, 28, 0, 59)), 3600);
	CHECK_EQ(sched_tz_offset(tz, utc(2027, 3, 28, 1, 0)), 7200);
	/* 02:30 local does not exist that day: the next run is a day later */
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2027, 3, 27, 1, 30)), utc(2027, 3, 29, 0, 30));
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2027, 3, 26, 12, 0)), utc(2027, 3, 27, 1, 30));
	/* half-hourly: after 01:45 CET, 02:00 and 02:30 are skipped, 03:00 CEST runs */
	CHECK_EQ(next_in("*/30 * * * *", tz, utc(2027, 3, 28, 0, 45)), utc(2027, 3, 28, 1, 0));
	CHECK_EQ(next_in("0 3 * * *", tz, utc(2027, 3, 27, 12, 0)), utc(2027, 3, 28, 1, 0));
	sched_tz_free(tz);
}

/* Berlin, 2027-10-31: 03:00 CEST goes back to 02:00 CET (01:00 UTC). */
static void test_berlin_fall_back(void)
{
	struct sched_tz *tz = zone("Europe/Berlin");
	struct sched_cron c = cron("30 2 * * *");
	uint32_t count;
	int64_t latest;
	REQUIRE(tz);
	/* 02:30 occurs at 00:30 and 01:30 UTC: it runs at the first only */
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2027, 10, 30, 12, 0)), utc(2027, 10, 31, 0, 30));
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2027, 10, 31, 0, 30)), utc(2027, 11, 1, 1, 30));
	CHECK_EQ(sched_missed(&c, tz, utc(2027, 10, 30, 12, 0), utc(2027, 10, 31, 12, 0), &count,
			      &latest), 0);
	CHECK_EQ(count, 1);
	CHECK_EQ(latest, utc(2027, 10, 31, 0, 30));
	/* a quarter-hourly schedule does not run the repeated hour again */
	CHECK_EQ(next_in("*/15 * * * *", tz, utc(2027, 10, 31, 0, 45)), utc(2027, 10, 31, 2, 0));
	/* asked from inside the second 02:xx, it waits for the next local match */
	CHECK_EQ(next_in("*/15 * * * *", tz, utc(2027, 10, 31, 1, 10)), utc(2027, 10, 31, 2, 0));
	sched_tz_free(tz);
}

static void test_new_york(void)
{
	struct sched_tz *tz = zone("America/New_York");
	const char *weekdays9 = "0 9 * * mon-fri";
	REQUIRE(tz);
	CHECK(strcmp(sched_tz_name(tz), "America/New_York") == 0);
	/* winter: EST, UTC-5 */
	CHECK_EQ(next_in(weekdays9, tz, utc(2027, 1, 1, 14, 0)), utc(2027, 1, 4, 14, 0));
	/* DST began Sunday 2027-03-14: Monday 09:00 EDT is 13:00 UTC */
	CHECK_EQ(next_in(weekdays9, tz, utc(2027, 3, 12, 15, 0)), utc(2027, 3, 15, 13, 0));
	/* 02:30 does not exist on 2027-03-14 */
	CHECK_EQ(next_in("30 2 14 3 *", tz, utc(2027, 3, 1, 0, 0)), utc(2028, 3, 14, 6, 30));
	sched_tz_free(tz);
}

static void test_utc_default(void)
{
	struct sched_tz *tz = zone("UTC");
	REQUIRE(tz);
	CHECK(strcmp(sched_tz_name(NULL), "UTC") == 0);
	CHECK_EQ(sched_tz_offset(NULL, utc(2027, 7, 1, 0, 0)), 0);
	CHECK_EQ(sched_tz_offset(tz, utc(2027, 7, 1, 0, 0)), 0);
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2027, 3, 28, 0, 0)), utc(2027, 3, 28, 2, 30));
	CHECK_EQ(next_in("30 2 * * *", NULL, utc(2027, 3, 28, 0, 0)), utc(2027, 3, 28, 2, 30));
	sched_tz_free(tz);
	sched_tz_free(NULL);
}

static void test_tz_load_errors(void)
{
	struct sched_tz *tz = NULL;
	CHECK_EQ(sched_tz_load("../../etc/passwd", &tz), -EINVAL);
	CHECK_EQ(sched_tz_load("Europe/../../etc/passwd", &tz), -EINVAL);
	CHECK_EQ(sched_tz_load("/etc/passwd", &tz), -EINVAL);
	CHECK_EQ(sched_tz_load("", &tz), -EINVAL);
	CHECK_EQ(sched_tz_load(NULL, &tz), -EINVAL);
	CHECK_EQ(sched_tz_load("Europe/Berlin ", &tz), -EINVAL);
	CHECK_EQ(sched_tz_load("Mars/Olympus_Mons", &tz), -ENOENT);
	CHECK_EQ(sched_tz_load("Europe", &tz), -EINVAL); /* a directory */
	CHECK(tz == NULL);
}

/* A TZif v2 image with no transition, one type (OFFSET_S) and FOOTER. */
static size_t footer_only_tzif(uint8_t *buf, int32_t offset_s, const char *footer)
{
	size_t n = 0;
	for (int part = 0; part < 2; part++) {
		memset(buf + n, 0, 44);
		memcpy(buf + n, "TZif2", 5);
		buf[n + 39] = 1; /* typecnt */
		buf[n + 43] = 1; /* charcnt */
		n += 44;
		for (int i = 0; i < 4; i++)
			buf[n++] = (uint8_t)((uint32_t)offset_s >> (24 - 8 * i));
		buf[n++] = 0; /* isdst */
		buf[n++] = 0; /* abbreviation index */
		buf[n++] = 0; /* the abbreviation: "" */
	}
	n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
	return n;
}

/* A zone's footer rule alone must give what its full table gives. */
static void check_rule_matches_zone(const char *name, const char *footer, int32_t std_offset_s)
{
	uint8_t image[256];
	struct sched_tz *full = zone(name), *rule = NULL;
	size_t len = footer_only_tzif(image, std_offset_s, footer);
	REQUIRE(full);
	CHECK_EQ(sched_tz_parse(image, len, footer, &rule), 0);
	if (rule) {
		int mismatches = 0;
		for (int64_t t = utc(2025, 1, 1, 0, 0); t < utc(2030, 1, 1, 0, 0); t += 1800)
			mismatches += sched_tz_offset(rule, t) != sched_tz_offset(full, t);
		CHECK_EQ(mismatches, 0);
	}
	sched_tz_free(rule);
	sched_tz_free(full);
}

static void test_tz_footer_rules(void)
{
	check_rule_matches_zone("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", 3600);
	check_rule_matches_zone("America/New_York", "EST5EDT,M3.2.0,M11.1.0", -5 * 3600);
	check_rule_matches_zone("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3", 10 * 3600);

	/* past the table's last transition (2037) the footer still gives DST */
	struct sched_tz *tz = zone("Europe/Berlin");
	REQUIRE(tz);
	CHECK_EQ(sched_tz_offset(tz, utc(2050, 7, 1, 0, 0)), 7200);
	CHECK_EQ(sched_tz_offset(tz, utc(2050, 12, 1, 0, 0)), 3600);
	/* 2050-03-27 02:30 falls in the footer rule's gap */
	CHECK_EQ(next_in("30 2 * * *", tz, utc(2050, 3, 26, 12, 0)), utc(2050, 3, 28, 0, 30));
	sched_tz_free(tz);

	uint8_t image[256];
	struct sched_tz *fixed = NULL;
	size_t len = footer_only_tzif(image, 0, "<+0530>-5:30");
	CHECK_EQ(sched_tz_parse(image, len, "fixed", &fixed), 0);
	CHECK_EQ(sched_tz_offset(fixed, utc(2027, 1, 1, 0, 0)), 5 * 3600 + 1800);
	sched_tz_free(fixed);
}

static void test_tz_malformed(void)
{
	static const char *bad_footers[] = { "CET", "CE-1", "CET-1CEST", "CET-1CEST,M3.5.0",
					     "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
					     "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365",
					     "CET-1CEST,M3.5.0,M10.5.0/168", "CET-1CEST,M3.5.0,M10.5.0x" };
	uint8_t image[256];
	struct sched_tz *tz = NULL;
	for (size_t i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
		size_t len = footer_only_tzif(image, 0, bad_footers[i]);
		CHECK_EQ(sched_tz_parse(image, len, "bad", &tz), -EINVAL);
	}
	size_t len = footer_only_tzif(image, 0, "UTC0");
	for (size_t cut = 0; cut < len; cut++) /* every truncation is refused */
		CHECK_EQ(sched_tz_parse(image, cut, "cut", &tz), -EINVAL);
	image[4] = '\0'; /* version 1 */
	CHECK_EQ(sched_tz_parse(image, len, "v1", &tz), -ENOTSUP);
	image[4] = '2';
	image[44 + 7 + 39] = 0; /* no local time type */
	CHECK_EQ(sched_tz_parse(image, len, "notype", &tz), -EINVAL);
	CHECK(tz == NULL);
}

static void test_missed_runs(void)
{
	struct sched_cron hourly = cron("0 * * * *"), every_minute = cron("* * * * *");
	struct sched_cron never = cron("0 0 30 2 *");
	uint32_t count;
	int64_t latest;
	int64_t down = utc(2027, 1, 1, 0, 0);

	CHECK_EQ(sched_missed(&hourly, NULL, down, utc(2027, 1, 1, 5, 30), &count, &latest), 0);
	CHECK_EQ(count, 5);
	CHECK_EQ(latest, utc(2027, 1, 1, 5, 0));
	CHECK_EQ(sched_missed(&hourly, NULL, down, utc(2027, 1, 1, 5, 0), &count, &latest), 0);
	CHECK_EQ(count, 5); /* the interval's end is included */
	CHECK_EQ(sched_missed(&hourly, NULL, down, down + 3599, &count, &latest), 0);
	CHECK_EQ(count, 0);
	CHECK_EQ(latest, down);
	CHECK_EQ(sched_missed(&hourly, NULL, down, down, &count, &latest), 0);
	CHECK_EQ(count, 0);
	CHECK_EQ(sched_missed(&hourly, NULL, down, down - 1, &count, &latest), -EINVAL);
	CHECK_EQ(sched_missed(&never, NULL, down, utc(2030, 1, 1, 0, 0), &count, &latest), 0);
	CHECK_EQ(count, 0);
	/* 30 days of minutes: the count stops, the latest is still exact */
	CHECK_EQ(sched_missed(&every_minute, NULL, down, utc(2027, 1, 31, 0, 0) + 30, &count,
			      &latest), 0);
	CHECK_EQ(count, SCHED_MISSED_MAX);
	CHECK_EQ(latest, utc(2027, 1, 31, 0, 0));
	struct sched_cron yearly = cron("0 0 1 7 *");
	CHECK_EQ(sched_missed(&yearly, NULL, utc(2020, 1, 1, 0, 0), utc(2027, 6, 30, 0, 0), &count,
			      &latest), 0);
	CHECK_EQ(count, 7);
	CHECK_EQ(latest, utc(2026, 7, 1, 0, 0));
}

#define DAY (24 * 3600)

static const int64_t now = 1800000000; /* 2027-01-15 08:00 UTC */

/* Five daily snapshots, given oldest first: d-4 (4 days old) .. d-0 (now). */
static const struct sched_snap daily[] = {
	{ "d-4", now - 4 * DAY, 0 }, { "d-3", now - 3 * DAY, 0 }, { "d-2", now - 2 * DAY, 0 },
	{ "d-1", now - 1 * DAY, 0 }, { "d-0", now, 0 },
};

/* The verdicts for DAILY as a string, oldest first: K keep, D delete, H held. */
static void verdicts(const struct sched_snap *snaps, const struct sched_retention *r, char *out,
		     struct sched_prune_result *res)
{
	CHECK_EQ(sched_prune(snaps, 5, r, now, res), 0);
	for (int i = 0; i < 5; i++)
		out[i] = "KDH"[res[i].verdict];
	out[5] = '\0';
}

static void test_retention(void)
{
	struct sched_prune_result res[5];
	char got[6];

	verdicts(daily, &(struct sched_retention){ .keep_last = 2 }, got, res);
	CHECK(strcmp(got, "DDDKK") == 0);
	CHECK(strcmp(res[0].reason, "snapshot d-4 deleted: 345600 s old, beyond retention") == 0);
	CHECK(strcmp(res[4].reason, "snapshot d-0 kept: one of the newest 2") == 0);
	verdicts(daily, &(struct sched_retention){ .keep_for_s = 2 * DAY }, got, res);
	CHECK(strcmp(got, "DDKKK") == 0); /* exactly 2 days old is kept */
	CHECK(strcmp(res[2].reason, "snapshot d-2 kept: 172800 s old, within 172800 s") == 0);
	/* both: kept if either keeps it */
	verdicts(daily, &(struct sched_retention){ .keep_last = 1, .keep_for_s = 3 * DAY }, got, res);
	CHECK(strcmp(got, "DKKKK") == 0);
	verdicts(daily, &(struct sched_retention){ .keep_last = 4, .keep_for_s = DAY }, got, res);
	CHECK(strcmp(got, "DKKKK") == 0);
	verdicts(daily, &(struct sched_retention){ .keep_last = 10 }, got, res);
	CHECK(strcmp(got, "KKKKK") == 0);
	verdicts(daily, &(struct sched_retention){ 0 }, got, res);
	CHECK(strcmp(got, "KKKKK") == 0);
	CHECK(strcmp(res[0].reason, "snapshot d-4 kept: no retention rule is set") == 0);
	CHECK_EQ(sched_prune(daily, 5, &(struct sched_retention){ .keep_for_s = -1 }, now, res),
		 -EINVAL);
	CHECK_EQ(sched_prune(NULL, 0, &(struct sched_retention){ .keep_last = 1 }, now, NULL), 0);
}

static void test_retention_dependents_and_order(void)
{
	struct sched_prune_result res[5];
	char got[6];
	/* newest first in the array, one clone of d-3 and two of d-4 */
	struct sched_snap snaps[5] = {
		daily[4], daily[3], daily[2], daily[1], daily[0],
	};
	snaps[3].dependents = 1;
	snaps[4].dependents = 2;
	verdicts(snaps, &(struct sched_retention){ .keep_last = 1 }, got, res);
	CHECK(strcmp(got, "KDDHH") == 0);
	CHECK(strcmp(res[3].reason, "snapshot d-3 kept: 1 clone depends on it") == 0);
	CHECK(strcmp(res[4].reason, "snapshot d-4 kept: 2 clones depend on it") == 0);
	/* equal times: the earlier array entry counts as newer */
	struct sched_snap same[5] = { { "a", now, 0 }, { "b", now, 0 }, { "c", now, 0 },
				      { "d", now, 0 }, { "e", now, 0 } };
	verdicts(same, &(struct sched_retention){ .keep_last = 2 }, got, res);
	CHECK(strcmp(got, "KKDDD") == 0);
}

static void test_snapshot_names(void)
{
	struct sched_tz *berlin = zone("Europe/Berlin");
	char name[SCHED_NAME_MAX + 1];
	int64_t t = utc(2027, 3, 28, 1, 30) + 7; /* 03:30:07 CEST, a Sunday, day 87 */
	REQUIRE(berlin);

	CHECK_EQ(sched_snapshot_name("auto-%Y%m%d-%H%M", t, berlin, name, sizeof(name)), 0);
	CHECK(strcmp(name, "auto-20270328-0330") == 0);
	CHECK_EQ(sched_snapshot_name("auto-%Y%m%d-%H%M", t, NULL, name, sizeof(name)), 0);
	CHECK(strcmp(name, "auto-20270328-0130") == 0);
	CHECK_EQ(sched_snapshot_name("%a.%b.%j@%H:%M:%S", t, berlin, name, sizeof(name)), 0);
	CHECK(strcmp(name, "Sun.Mar.087@03:30:07") == 0);
	CHECK_EQ(sched_snapshot_name("d%j", utc(2028, 12, 31, 12, 0), NULL, name, sizeof(name)), 0);
	CHECK(strcmp(name, "d366") == 0);
	CHECK_EQ(sched_snapshot_name("daily", t, NULL, name, sizeof(name)), 0);
	CHECK(strcmp(name, "daily") == 0);

	/* 63 characters is the longest name */
	char pattern[80];
	memset(pattern, 'x', 59);
	strcpy(pattern + 59, "%Y");
	CHECK_EQ(sched_snapshot_name(pattern, t, NULL, name, sizeof(name)), 0);
	CHECK_EQ(strlen(name), 63);
	strcpy(pattern + 59, "x%Y");
	CHECK_EQ(sched_snapshot_name(pattern, t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("snap %Y", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("snap/%Y", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("snap-%q", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("snap-%", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("100%%", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("", t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name(NULL, t, NULL, name, sizeof(name)), -EINVAL);
	CHECK_EQ(sched_snapshot_name("auto-%Y", t, NULL, name, 9), -ERANGE);
	CHECK_EQ(sched_snapshot_name("auto-%Y", t, NULL, name, 10), 0);
	sched_tz_free(berlin);
}

static const struct harness_test tests[] = {
	{ "parse_valid", test_parse_valid },
	{ "parse_errors", test_parse_errors },
	{ "next_month_ends", test_next_month_ends },
	{ "next_leap_day", test_next_leap_day },
	{ "next_day_or_rule", test_next_day_or_rule },
	{ "next_every_15_minutes", test_next_every_15_minutes },
	{ "next_year_rollover", test_next_year_rollover },
	{ "berlin_spring_forward", test_berlin_spring_forward },
	{ "berlin_fall_back", test_berlin_fall_back },
	{ "new_york", test_new_york },
	{ "utc_default", test_utc_default },
	{ "tz_load_errors", test_tz_load_errors },
	{ "tz_footer_rules", test_tz_footer_rules },
	{ "tz_malformed", test_tz_malformed },
	{ "missed_runs", test_missed_runs },
	{ "retention", test_retention },
	{ "retention_dependents_and_order", test_retention_dependents_and_order },
	{ "snapshot_names", test_snapshot_names },
};

HARNESS_MAIN(tests)
