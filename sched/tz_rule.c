/*
 * tz_rule.c - the POSIX TZ rule in a TZif footer (RFC 8536 section 3.3,
 * POSIX.1-2017 section 8.3), e.g. "CET-1CEST,M3.5.0,M10.5.0/3", which gives
 * the offset for times after a zone's last listed transition.
 *
 * POSIX offsets count west of UTC ("EST5" is UTC-5); stored here east, like
 * TZif.  Rule times may run from -167h to 167h (RFC 8536's extension).  A
 * rule with a DST name must give its dates (RFC 8536 requires it).
 */
#include <ctype.h>
#include <errno.h>

#include "sched/internal.h"

struct scan {
	const char *p, *end;
};

static bool at(const struct scan *s, char ch)
{
	return s->p < s->end && *s->p == ch;
}

/* Skip CH if it is next; whether it was. */
static bool take(struct scan *s, char ch)
{
	if (!at(s, ch))
		return false;
	s->p++;
	return true;
}

/* A zone abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static int scan_abbrev(struct scan *s)
{
	const char *start = s->p;
	if (at(s, '<')) {
		while (s->p < s->end && *s->p != '>')
			s->p++;
		if (!at(s, '>') || s->p - start < 4)
			return -EINVAL;
		s->p++;
		return 0;
	}
	while (s->p < s->end && isalpha((unsigned char)*s->p))
		s->p++;
	return s->p - start >= 3 ? 0 : -EINVAL;
}

static int scan_int(struct scan *s, int max, int *value)
{
	int n = 0;
	if (s->p == s->end || !isdigit((unsigned char)*s->p))
		return -EINVAL;
	while (s->p < s->end && isdigit((unsigned char)*s->p)) {
		n = n * 10 + (*s->p++ - '0');
		if (n > max)
			return -EINVAL;
	}
	*value = n;
	return 0;
}

/* [+-]hh[:mm[:ss]] into seconds, hours up to MAX_HOURS. */
static int scan_hms(struct scan *s, int max_hours, int32_t *secs)
{
	int sign = 1, h, m = 0, sec = 0;
	if (at(s, '+') || at(s, '-'))
		sign = *s->p++ == '-' ? -1 : 1;
	if (scan_int(s, max_hours, &h) < 0)
		return -EINVAL;
	if (take(s, ':') && (scan_int(s, 59, &m) < 0 || (take(s, ':') && scan_int(s, 59, &sec) < 0)))
		return -EINVAL;
	*secs = sign * (h * 3600 + m * 60 + sec);
	return 0;
}

/* An integer in [MIN, MAX]. */
static int scan_ranged(struct scan *s, int min, int max, int *value)
{
	return scan_int(s, max, value) < 0 || *value < min ? -EINVAL : 0;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00). */
static int scan_date(struct scan *s, struct tz_date *d)
{
	if (take(s, 'M')) {
		d->kind = TZ_MONTH_WEEK_DAY;
		if (scan_ranged(s, 1, 12, &d->month) < 0 || !take(s, '.') ||
		    scan_ranged(s, 1, 5, &d->week) < 0 || !take(s, '.') ||
		    scan_ranged(s, 0, 6, &d->day) < 0)
			return -EINVAL;
	} else if (take(s, 'J')) {
		d->kind = TZ_JULIAN1;
		if (scan_ranged(s, 1, 365, &d->day) < 0)
			return -EINVAL;
	} else {
		d->kind = TZ_JULIAN0;
		if (scan_ranged(s, 0, 365, &d->day) < 0)
			return -EINVAL;
	}
	d->time_s = 2 * 3600;
	return take(s, '/') ? scan_hms(s, 167, &d->time_s) : 0;
}

int tz_rule_parse(const char *str, size_t len, struct tz_rule *out)
{
	struct scan s = { str, str + len };
	int32_t west;
	*out = (struct tz_rule){ 0 };
	if (scan_abbrev(&s) < 0 || scan_hms(&s, 24, &west) < 0)
		return -EINVAL;
	out->std_offset_s = -west;
	if (s.p == s.end)
		return 0;
	if (scan_abbrev(&s) < 0)
		return -EINVAL;
	out->has_dst = true;
	out->dst_offset_s = out->std_offset_s + 3600;
	if (!at(&s, ',')) {
		if (scan_hms(&s, 24, &west) < 0)
			return -EINVAL;
		out->dst_offset_s = -west;
	}
	if (!take(&s, ',') || scan_date(&s, &out->start) < 0 || !take(&s, ',') ||
	    scan_date(&s, &out->end) < 0 || s.p != s.end)
		return -EINVAL;
	return 0;
}

/* Local seconds (from 1970 in the zone) at which date D happens in YEAR. */
static int64_t date_local_s(const struct tz_date *d, int64_t year)
{
	int64_t day;
	switch (d->kind) {
	case TZ_JULIAN1: /* 1..365, February 29 never counted */
		day = days_from_civil(year, 1, 1) + d->day - 1;
		if (is_leap_year(year) && d->day >= 60)
			day++;
		break;
	case TZ_JULIAN0:
		day = days_from_civil(year, 1, 1) + d->day;
		break;
	default: { /* weekday d->day of week d->week (5 = last) of d->month */
		int64_t first = days_from_civil(year, d->month, 1);
		int64_t first_wday = first + 4 - floor_div(first + 4, 7) * 7;
		day = first + (d->day - first_wday + 7) % 7 + 7 * (d->week - 1);
		while (day >= first + days_in_month(year, d->month))
			day -= 7;
	}
	}
	return day * SECS_PER_DAY + d->time_s;
}

int32_t tz_rule_offset(const struct tz_rule *rule, int64_t unix_s)
{
	if (!rule->has_dst)
		return rule->std_offset_s;
	struct civil_time t;
	civil_from_secs(unix_s + rule->std_offset_s, &t);
	int64_t start = date_local_s(&rule->start, t.year) - rule->std_offset_s;
	int64_t end = date_local_s(&rule->end, t.year) - rule->dst_offset_s;
	bool dst = start < end ? (unix_s >= start && unix_s < end) : !(unix_s >= end && unix_s < start);
	return dst ? rule->dst_offset_s : rule->std_offset_s;
}
