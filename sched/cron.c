/*
 * cron.c - five-field cron expressions: parsing into bit sets, and matching
 * a local day against them.
 *
 * Grammar per field: item {',' item}; item = ('*' | value | value '-' value)
 * ['/' step], a step only after '*' or a range.  Vixie cron's day rule: a
 * day field beginning with '*' is "not restricted"; when neither day field
 * is, a day matches if either does (see sched.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sched/internal.h"

struct field_spec {
	const char *what;
	int min, max;       /* values accepted (day of week: 0..7) */
	const char *const *names; /* names[i] is value first_name + i, or NULL */
	int first_name;
	int nnames;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, NFIELDS };

static const struct field_spec fields[NFIELDS] = {
	{ "minute", 0, 59, NULL, 0, 0 },
	{ "hour", 0, 23, NULL, 0, 0 },
	{ "day-of-month", 1, 31, NULL, 0, 0 },
	{ "month", 1, 12, month_names, 1, 12 },
	{ "day-of-week", 0, 7, wday_names, 0, 7 },
};

/* Parsing state of one field: the text left, where errors go. */
struct cursor {
	const struct field_spec *spec;
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int fail(struct cursor *cur, const char *fmt, ...)
{
	if (cur->errlen == 0)
		return -EINVAL;
	int n = snprintf(cur->err, cur->errlen, "%s field: ", cur->spec->what);
	if (n >= 0 && (size_t)n < cur->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(cur->err + n, cur->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_name(struct cursor *cur, int *value)
{
	const char *start = cur->p;
	while (cur->p < cur->end && isalpha((unsigned char)*cur->p))
		cur->p++;
	size_t len = (size_t)(cur->p - start);
	for (int i = 0; i < cur->spec->nnames; i++) {
		if (len == 3 && strncasecmp(start, cur->spec->names[i], 3) == 0) {
			*value = cur->spec->first_name + i;
			return 0;
		}
	}
	if (!cur->spec->names)
		return fail(cur, "'%.*s' is not a number", (int)len, start);
	return fail(cur, "unknown name '%.*s' (use %s..%s)", (int)len, start, cur->spec->names[0],
		    cur->spec->names[cur->spec->nnames - 1]);
}

static int parse_number(struct cursor *cur, int *value)
{
	long n = 0;
	const char *start = cur->p;
	while (cur->p < cur->end && isdigit((unsigned char)*cur->p) && n <= 1000)
		n = n * 10 + (*cur->p++ - '0');
	if (cur->p < cur->end && isdigit((unsigned char)*cur->p))
		return fail(cur, "'%.*s...' is too large", (int)(cur->p - start), start);
	*value = (int)n;
	return 0;
}

/* A value: a number in [min, max] or a name. */
static int parse_value(struct cursor *cur, int *value)
{
	int rc;
	if (cur->p == cur->end)
		return fail(cur, "a value is missing");
	if (isalpha((unsigned char)*cur->p))
		return parse_name(cur, value);
	if (!isdigit((unsigned char)*cur->p))
		return fail(cur, "unexpected '%c'", *cur->p);
	if ((rc = parse_number(cur, value)) < 0)
		return rc;
	if (*value < cur->spec->min || *value > cur->spec->max)
		return fail(cur, "%d is out of range %d-%d", *value, cur->spec->min, cur->spec->max);
	return 0;
}

static int parse_step(struct cursor *cur, int *step)
{
	int rc;
	if (cur->p == cur->end || !isdigit((unsigned char)*cur->p))
		return fail(cur, "'/' must be followed by a step number");
	if ((rc = parse_number(cur, step)) < 0)
		return rc;
	if (*step == 0 || *step > cur->spec->max)
		return fail(cur, "step %d is out of range 1-%d", *step, cur->spec->max);
	return 0;
}

/* One list item into *BITS. */
static int parse_item(struct cursor *cur, uint64_t *bits)
{
	int lo, hi, step = 1, rc;
	bool ranged = true;

	if (cur->p < cur->end && *cur->p == '*') {
		cur->p++;
		lo = cur->spec->min;
		hi = cur->spec->max;
	} else {
		if ((rc = parse_value(cur, &lo)) < 0)
			return rc;
		hi = lo;
		ranged = cur->p < cur->end && *cur->p == '-';
		if (ranged) {
			cur->p++;
			if ((rc = parse_value(cur, &hi)) < 0)
				return rc;
			if (hi < lo)
				return fail(cur, "range %d-%d is backwards", lo, hi);
		}
	}
	if (cur->p < cur->end && *cur->p == '/') {
		if (!ranged)
			return fail(cur, "a step needs '*' or a range before it");
		cur->p++;
		if ((rc = parse_step(cur, &step)) < 0)
			return rc;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ull << v;
	return 0;
}

static int parse_field(struct cursor *cur, uint64_t *bits)
{
	int rc;
	*bits = 0;
	for (;;) {
		if ((rc = parse_item(cur, bits)) < 0)
			return rc;
		if (cur->p == cur->end)
			return 0;
		if (*cur->p != ',')
			return fail(cur, "unexpected '%c'", *cur->p);
		cur->p++;
		if (cur->p == cur->end)
			return fail(cur, "the list ends with ','");
	}
}

static int error_at(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Split EXPR into five blank-separated fields; -EINVAL on another count. */
static int split_fields(const char *expr, const char *start[NFIELDS], const char *end[NFIELDS],
			char *err, size_t errlen)
{
	int n = 0;
	const char *p = expr;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		const char *s = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n < NFIELDS) {
			start[n] = s;
			end[n] = p;
		}
		n++;
	}
	if (n != NFIELDS)
		return error_at(err, errlen,
				"a cron expression has 5 fields (minute hour day-of-month month "
				"day-of-week), '%s' has %d", expr, n);
	return 0;
}

int sched_cron_parse(const char *expr, struct sched_cron *out, char *err, size_t errlen)
{
	const char *start[NFIELDS], *end[NFIELDS];
	uint64_t bits[NFIELDS];
	int rc;

	if (!expr || !out)
		return error_at(err, errlen, "no cron expression");
	if ((rc = split_fields(expr, start, end, err, errlen)) < 0)
		return rc;
	for (int f = 0; f < NFIELDS; f++) {
		struct cursor cur = { &fields[f], start[f], end[f], err, errlen };
		if ((rc = parse_field(&cur, &bits[f])) < 0)
			return rc;
	}
	if (bits[F_WDAY] & (1u << 7))
		bits[F_WDAY] = (bits[F_WDAY] | 1u) & 0x7f; /* 7 is Sunday */
	*out = (struct sched_cron){
		.minutes = bits[F_MINUTE],
		.hours = (uint32_t)bits[F_HOUR],
		.mdays = (uint32_t)bits[F_MDAY],
		.months = (uint16_t)bits[F_MONTH],
		.wdays = (uint8_t)bits[F_WDAY],
		.mday_star = *start[F_MDAY] == '*',
		.wday_star = *start[F_WDAY] == '*',
	};
	return 0;
}

bool cron_matches_day(const struct sched_cron *c, const struct civil_time *t)
{
	bool mday = (c->mdays >> t->mday) & 1, wday = (c->wdays >> t->wday) & 1;
	if (!((c->months >> t->month) & 1))
		return false;
	if (c->mday_star || c->wday_star)
		return mday && wday;
	return mday || wday;
}
