/*
 * retention.c - which of a schedule's snapshots to delete.
 *
 * Rules (sched.h): keep the newest keep_last, keep those younger than
 * keep_for_s; delete only what every set rule lets go; never delete a
 * snapshot that clones depend on (SCHED_HELD, with a reason to report).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/internal.h"

/* qsort_r order: newest first, ties by array position. */
static int newest_first(const void *a, const void *b, void *arg)
{
	const struct sched_snap *snaps = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	if (snaps[i].created_unix_s != snaps[j].created_unix_s)
		return snaps[i].created_unix_s > snaps[j].created_unix_s ? -1 : 1;
	return i < j ? -1 : 1;
}

/* Judge one snapshot, RANK places from the newest (0 = newest). */
static void judge(const struct sched_snap *snap, size_t rank, const struct sched_retention *r,
		  int64_t now_unix_s, struct sched_prune_result *out)
{
	const char *name = snap->name ? snap->name : "?";
	int64_t age_s = now_unix_s - snap->created_unix_s;

	if (!r->keep_last && !r->keep_for_s) {
		out->verdict = SCHED_KEEP;
		snprintf(out->reason, SCHED_REASON_LEN, "snapshot %s kept: no retention rule is set",
			 name);
	} else if (r->keep_last && rank < r->keep_last) {
		out->verdict = SCHED_KEEP;
		snprintf(out->reason, SCHED_REASON_LEN, "snapshot %s kept: one of the newest %u", name,
			 r->keep_last);
	} else if (r->keep_for_s && age_s <= r->keep_for_s) {
		out->verdict = SCHED_KEEP;
		snprintf(out->reason, SCHED_REASON_LEN,
			 "snapshot %s kept: %lld s old, within %lld s", name, (long long)age_s,
			 (long long)r->keep_for_s);
	} else if (snap->dependents) {
		out->verdict = SCHED_HELD;
		snprintf(out->reason, SCHED_REASON_LEN, "snapshot %s kept: %u clone%s depend%s on it",
			 name, snap->dependents, snap->dependents == 1 ? "" : "s",
			 snap->dependents == 1 ? "s" : "");
	} else {
		out->verdict = SCHED_DELETE;
		snprintf(out->reason, SCHED_REASON_LEN, "snapshot %s deleted: %lld s old, beyond retention",
			 name, (long long)age_s);
	}
}

int sched_prune(const struct sched_snap *snaps, size_t n, const struct sched_retention *r,
		int64_t now_unix_s, struct sched_prune_result *out)
{
	if (r->keep_for_s < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	size_t *order = malloc(n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), newest_first, (void *)snaps);
	for (size_t rank = 0; rank < n; rank++)
		judge(&snaps[order[rank]], rank, r, now_unix_s, &out[order[rank]]);
	free(order);
	return 0;
}
