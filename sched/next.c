/*
 * next.c - when a schedule runs next, and which runs were missed.
 *
 * The search walks local wall-clock time (seconds from 1970 as if the zone
 * were UTC), skipping whole months, days and hours that cannot match, and
 * maps each matching local minute back to UTC: no UTC instant (a
 * spring-forward gap) means no run; two (fall-back) mean a run at the
 * first.  The mapping assumes at most one offset change within a day of
 * any instant, true of every real zone.
 */
#include <errno.h>

#include "sched/internal.h"

/*
 * The first UTC instant whose local time is LOCAL_S, into *UNIX_S; false
 * when LOCAL_S falls in a gap.  The offsets that can be in effect are those
 * two days before and after (offsets stay within 25 h, see tz.c).
 */
static bool local_to_utc(const struct sched_tz *tz, int64_t local_s, int64_t *unix_s)
{
	int32_t offsets[2] = { sched_tz_offset(tz, local_s - 2 * SECS_PER_DAY),
			       sched_tz_offset(tz, local_s + 2 * SECS_PER_DAY) };
	int64_t first = INT64_MAX;

	for (int i = 0; i < 2; i++) {
		int64_t candidate = local_s - offsets[i];
		if (sched_tz_offset(tz, candidate) == offsets[i] && candidate < first)
			first = candidate;
	}
	*unix_s = first;
	return first != INT64_MAX;
}

/* The next local time not ruled out at LOCAL_S (a whole minute), or
 * LOCAL_S itself when it matches C. */
static int64_t skip_unmatched(const struct sched_cron *c, int64_t local_s)
{
	struct civil_time t;
	civil_from_secs(local_s, &t);
	int64_t day_s = local_s - (int64_t)(t.hour * 3600 + t.minute * 60);

	if (!((c->months >> t.month) & 1))
		return days_from_civil(t.year + (t.month == 12), t.month % 12 + 1, 1) * SECS_PER_DAY;
	if (!cron_matches_day(c, &t))
		return day_s + SECS_PER_DAY;
	if (!((c->hours >> t.hour) & 1))
		return day_s + (t.hour + 1) * 3600;
	if (!((c->minutes >> t.minute) & 1))
		return local_s + 60;
	return local_s;
}

int sched_next_run(const struct sched_cron *c, const struct sched_tz *tz,
		   int64_t after_unix_s, int64_t *next_unix_s)
{
	if (after_unix_s < -SCHED_TIME_LIMIT_S || after_unix_s > SCHED_TIME_LIMIT_S)
		return -EINVAL;
	int64_t local_s = after_unix_s + sched_tz_offset(tz, after_unix_s);
	local_s = floor_div(local_s, 60) * 60 + 60;
	int64_t limit_s = local_s + (int64_t)SCHED_SEARCH_YEARS * 366 * SECS_PER_DAY;

	while (local_s < limit_s) {
		int64_t skipped = skip_unmatched(c, local_s);
		if (skipped != local_s) {
			local_s = skipped;
			continue;
		}
		int64_t unix_s;
		if (local_to_utc(tz, local_s, &unix_s) && unix_s > after_unix_s) {
			*next_unix_s = unix_s;
			return 0;
		}
		local_s += 60; /* in a gap, or its first occurrence already passed */
	}
	return -ENOENT;
}

/*
 * The latest run in (FROM, NOW], into *LATEST (which must start at FROM):
 * look back over a window that doubles until it holds a run, so the work
 * is about the number of runs in a window a little longer than the gap
 * between two runs.
 */
static void find_latest(const struct sched_cron *c, const struct sched_tz *tz, int64_t from,
			int64_t now, int64_t *latest)
{
	for (int64_t window = 3600;; window *= 2) {
		int64_t at = now - window > from ? now - window : from, next;
		bool whole = at == from;
		for (; sched_next_run(c, tz, at, &next) == 0 && next <= now; at = next)
			*latest = next;
		if (*latest != from || whole)
			return;
	}
}

int sched_missed(const struct sched_cron *c, const struct sched_tz *tz, int64_t last_run_unix_s,
		 int64_t now_unix_s, uint32_t *count, int64_t *latest_unix_s)
{
	int64_t at = last_run_unix_s, next;
	if (now_unix_s < last_run_unix_s || last_run_unix_s < -SCHED_TIME_LIMIT_S ||
	    now_unix_s > SCHED_TIME_LIMIT_S)
		return -EINVAL;
	*count = 0;
	*latest_unix_s = last_run_unix_s;
	while (*count < SCHED_MISSED_MAX && sched_next_run(c, tz, at, &next) == 0 &&
	       next <= now_unix_s) {
		at = *latest_unix_s = next;
		++*count;
	}
	if (*count == SCHED_MISSED_MAX)
		find_latest(c, tz, *latest_unix_s, now_unix_s, latest_unix_s);
	return 0;
}
