/*
 * sched.h - the snapshot-schedule core: cron expressions, next-run times in
 * a time zone, missed runs, retention (which snapshots to delete) and
 * snapshot names made from a pattern.  The management daemon's scheduler
 * thread and REST API are built on it; this module does no IO except
 * sched_tz_load() reading one zoneinfo file, has no global state and never
 * reads the clock: every time is passed in, as Unix seconds (UTC).
 *
 * Time zones come from TZif files (RFC 8536), read without setenv("TZ") /
 * tzset(), so schedules in different zones coexist in one process.  Local
 * wall-clock rules, as cron users expect them:
 *   - a local time skipped by a spring-forward gap does not run at all;
 *   - a local time that occurs twice (fall-back) runs once, at its first
 *     occurrence.  This holds for every minute, so a schedule every 15
 *     minutes runs 4 times, not 8, in a repeated hour.
 *
 * Errors are negative errno values.  Structures are plain values owned by
 * the caller, except struct sched_tz (sched_tz_load() allocates it,
 * sched_tz_free() frees it); a loaded zone is read-only and may be shared
 * between threads.
 */
#ifndef SLATE_SCHED_H
#define SLATE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- cron expressions ------------------------------------------------- */

/*
 * A parsed five-field cron expression: minute hour day-of-month month
 * day-of-week.  Bit n of a set means value n matches (days of month 1..31,
 * months 1..12, days of week 0..6 with 0 = Sunday).
 */
struct sched_cron {
	uint64_t minutes;     /* bits 0..59 */
	uint32_t hours;       /* bits 0..23 */
	uint32_t mdays;       /* bits 1..31 */
	uint16_t months;      /* bits 1..12 */
	uint8_t wdays;        /* bits 0..6 */
	bool mday_star;       /* day-of-month field began with '*' */
	bool wday_star;       /* day-of-week field began with '*' */
};

/*
 * Parse EXPR into OUT.  Each field is a comma-separated list of items; an
 * item is '*', a number, a range a-b, or either of '*' and a range followed
 * by /step.  Months take jan..dec and weekdays sun..sat (any case, also in
 * ranges); weekday 7 is Sunday too.  Fields are separated by blanks.
 *
 * Day matching follows Vixie cron: when both day fields are restricted (do
 * not begin with '*'), a day matches if EITHER matches; otherwise both must
 * match.  A field beginning with '*', even a stepped one, counts as not
 * restricted, exactly as in Vixie cron.
 *
 * Returns 0, or -EINVAL with a sentence naming the field in ERR (ERRLEN
 * bytes, may be 0).
 */
int sched_cron_parse(const char *expr, struct sched_cron *out, char *err, size_t errlen);

/* ---- time zones ------------------------------------------------------- */

struct sched_tz;

/*
 * Load the zone NAME ("Europe/Berlin", "UTC") from /usr/share/zoneinfo/NAME
 * (Debian package tzdata).  NAME may hold letters, digits and "/_-+.", must
 * not begin with '/' or hold "..".  The file's 64-bit (version 2+) data is
 * used, and its footer's POSIX TZ rule for times after the last transition.
 * *OUT is allocated; free it with sched_tz_free().
 * Returns 0, -EINVAL (bad name or malformed file), -ENOENT (no such zone),
 * -ENOTSUP (version 1 file, or leap-second "right/" zone) or -ENOMEM.
 */
int sched_tz_load(const char *name, struct sched_tz **out);

/* The same from a TZif image in memory (tests, fuzzing); NAME is copied. */
int sched_tz_parse(const void *tzif, size_t len, const char *name, struct sched_tz **out);

void sched_tz_free(struct sched_tz *tz);

/* The zone's name as loaded; "UTC" for NULL. */
const char *sched_tz_name(const struct sched_tz *tz);

/* Seconds east of UTC in effect at UNIX_S (0 when TZ is NULL). */
int32_t sched_tz_offset(const struct sched_tz *tz, int64_t unix_s);

/* ---- next and missed runs --------------------------------------------- */

/* How far ahead sched_next_run() looks: 8 years covers the longest gap
 * between two February 29ths (2096 to 2104). */
#define SCHED_SEARCH_YEARS 8

/* Times these functions accept: about +-35,000 years around 1970. */
#define SCHED_TIME_LIMIT_S (INT64_C(1) << 40)

/*
 * The first minute strictly after AFTER_UNIX_S that C matches, in zone TZ
 * (UTC when NULL), into *NEXT_UNIX_S (always a whole minute).  Returns 0, or
 * -ENOENT when nothing matches within SCHED_SEARCH_YEARS (e.g. "0 0 30 2 *"),
 * -EINVAL for a time beyond SCHED_TIME_LIMIT_S.
 */
int sched_next_run(const struct sched_cron *c, const struct sched_tz *tz,
		   int64_t after_unix_s, int64_t *next_unix_s);

/* sched_missed() stops counting here; *count then means "at least". */
#define SCHED_MISSED_MAX 10000u

/*
 * Runs of C that fell in (LAST_RUN_UNIX_S, NOW_UNIX_S]: their number into
 * *COUNT (at most SCHED_MISSED_MAX) and the latest of them into *LATEST_UNIX_S
 * (exact even when the count stops; LAST_RUN_UNIX_S when there was none).
 * A daemon that was down runs a missed schedule once, for *LATEST_UNIX_S.
 * Returns 0 or -EINVAL (NOW before LAST_RUN, or either beyond
 * SCHED_TIME_LIMIT_S).
 */
int sched_missed(const struct sched_cron *c, const struct sched_tz *tz, int64_t last_run_unix_s,
		 int64_t now_unix_s, uint32_t *count, int64_t *latest_unix_s);

/* ---- retention -------------------------------------------------------- */

/* One snapshot a schedule made. */
struct sched_snap {
	const char *name;
	int64_t created_unix_s;
	uint32_t dependents; /* clones that depend on it */
};

/*
 * Keep the newest KEEP_LAST snapshots (0: no count rule) and those at most
 * KEEP_FOR_S seconds old (0: no age rule).  A snapshot is deleted only when
 * every rule that is set lets it go; with no rule set nothing is deleted.
 */
struct sched_retention {
	uint32_t keep_last;
	int64_t keep_for_s;
};

enum sched_verdict {
	SCHED_KEEP,   /* a rule keeps it */
	SCHED_DELETE, /* delete it */
	SCHED_HELD,   /* the rules let it go, but clones depend on it: keep, report */
};

#define SCHED_REASON_LEN 128

struct sched_prune_result {
	enum sched_verdict verdict;
	char reason[SCHED_REASON_LEN]; /* "snapshot X kept: 2 clones depend on it" */
};

/*
 * Decide, for each of the N snapshots in SNAPS (any order), whether to
 * delete it at NOW_UNIX_S; OUT[i] answers SNAPS[i] and always gets a reason
 * sentence.  Ties in creation time rank the earlier array entry as newer.
 * Returns 0, -EINVAL (negative keep_for_s) or -ENOMEM.
 */
int sched_prune(const struct sched_snap *snaps, size_t n, const struct sched_retention *r,
		int64_t now_unix_s, struct sched_prune_result *out);

/* ---- snapshot names --------------------------------------------------- */

/* cowstore's snapshot names: 1..63 letters, digits and - _ . : @ */
#define SCHED_NAME_MAX 63u

/*
 * Expand PATTERN at UNIX_S in zone TZ (UTC when NULL) into OUT (LEN bytes):
 * %Y year, %m month 01-12, %d day 01-31, %H hour 00-23, %M minute, %S
 * second, %j day of year 001-366, %a Sun..Sat, %b Jan..Dec, %% a '%'.
 * Returns 0; -EINVAL when the pattern has another '%' field or the result
 * is not a valid snapshot name; -ERANGE when it does not fit in LEN.
 */
int sched_snapshot_name(const char *pattern, int64_t unix_s, const struct sched_tz *tz,
			char *out, size_t len);

#endif /* SLATE_SCHED_H */
