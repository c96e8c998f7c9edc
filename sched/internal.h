/*
 * internal.h - what sched's files share: proleptic Gregorian date arithmetic
 * on day numbers (day 0 = 1970-01-01), a broken-down local time, cron
 * matching and the POSIX TZ rule of a TZif footer.  Private to sched/.
 */
#ifndef SLATE_SCHED_INTERNAL_H
#define SLATE_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/sched.h"

#define SECS_PER_DAY 86400

/* A local wall-clock time, broken down. */
struct civil_time {
	int64_t year;
	int month;   /* 1..12 */
	int mday;    /* 1..31 */
	int hour, minute, second;
	int wday;    /* 0..6, 0 = Sunday */
	int yday;    /* 0..365 */
};

int64_t floor_div(int64_t a, int64_t b);
int64_t days_from_civil(int64_t year, int month, int mday);
bool is_leap_year(int64_t year);
int days_in_month(int64_t year, int month);
/* Break SECS (seconds since 1970-01-01 00:00 in some zone) down. */
void civil_from_secs(int64_t secs, struct civil_time *out);

/* Whether C matches local time T (seconds are ignored). */
bool cron_matches_day(const struct sched_cron *c, const struct civil_time *t);

/*
 * The POSIX TZ rule of a TZif footer (RFC 8536 section 3.3), e.g.
 * "CET-1CEST,M3.5.0,M10.5.0/3".  Offsets are seconds east of UTC.
 */
enum tz_date_kind { TZ_JULIAN1, TZ_JULIAN0, TZ_MONTH_WEEK_DAY };

struct tz_date {
	enum tz_date_kind kind;
	int day;             /* Jn: 1..365, n: 0..365, M: weekday 0..6 */
	int month, week;     /* M only: 1..12, 1..5 */
	int32_t time_s;      /* local time of the change, -167h..167h */
};

struct tz_rule {
	int32_t std_offset_s;
	int32_t dst_offset_s;
	bool has_dst;
	struct tz_date start, end; /* start in standard time, end in DST */
};

/* Parse STR (not NUL-terminated, LEN bytes); 0 or -EINVAL. */
int tz_rule_parse(const char *str, size_t len, struct tz_rule *out);
int32_t tz_rule_offset(const struct tz_rule *rule, int64_t unix_s);

#endif /* SLATE_SCHED_INTERNAL_H */
