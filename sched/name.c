/*
 * name.c - snapshot names from a strftime-like pattern, expanded in the
 * schedule's zone by hand (strftime() would use the process's TZ).
 *
 * The result must be a cowstore snapshot name: 1..63 letters, digits and
 * - _ . : @ (cowstore/volume.c's check_name(), which is private to cowstore;
 * sched depends on no module, so the rule is restated here).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sched/internal.h"

static const char *const wday_abbr[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_abbr[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == ':' || ch == '@';
}

/* The text of field CONV at T into BUF; -EINVAL for an unknown field. */
static int expand_field(char conv, const struct civil_time *t, char buf[24])
{
	switch (conv) {
	case 'Y': snprintf(buf, 24, "%04lld", (long long)t->year); break;
	case 'm': snprintf(buf, 24, "%02d", t->month); break;
	case 'd': snprintf(buf, 24, "%02d", t->mday); break;
	case 'H': snprintf(buf, 24, "%02d", t->hour); break;
	case 'M': snprintf(buf, 24, "%02d", t->minute); break;
	case 'S': snprintf(buf, 24, "%02d", t->second); break;
	case 'j': snprintf(buf, 24, "%03d", t->yday + 1); break;
	case 'a': snprintf(buf, 24, "%s", wday_abbr[t->wday]); break;
	case 'b': snprintf(buf, 24, "%s", month_abbr[t->month - 1]); break;
	case '%': snprintf(buf, 24, "%%"); break;
	default: return -EINVAL;
	}
	return 0;
}

int sched_snapshot_name(const char *pattern, int64_t unix_s, const struct sched_tz *tz,
			char *out, size_t len)
{
	char name[SCHED_NAME_MAX + 1], field[24];
	size_t used = 0;
	struct civil_time t;

	if (!pattern)
		return -EINVAL;
	civil_from_secs(unix_s + sched_tz_offset(tz, unix_s), &t);
	for (const char *p = pattern; *p; p++) {
		field[0] = *p;
		field[1] = '\0';
		if (*p == '%' && expand_field(*++p, &t, field) < 0)
			return -EINVAL; /* also a '%' that ends the pattern */
		size_t flen = strlen(field);
		if (used + flen > SCHED_NAME_MAX)
			return -EINVAL;
		memcpy(name + used, field, flen);
		used += flen;
	}
	for (size_t i = 0; i < used; i++)
		if (!name_char_ok(name[i]))
			return -EINVAL;
	if (used == 0)
		return -EINVAL;
	if (used >= len)
		return -ERANGE;
	memcpy(out, name, used);
	out[used] = '\0';
	return 0;
}
