/*
 * hold.c - holding the LUNs of a volume while a volume move switches them
 * to the volume's copy in another pool, and the tasks that wait meanwhile.
 *
 * A held LUN starts nothing.  A task that reaches scsi_task_execute() for
 * it waits on the target's held list (t->held_head..tail, arrival order)
 * before any check, counted in no LUN's inflight; so does an EXTENDED COPY
 * whose next piece reads or writes a held LUN (xcopy.c).  Tasks already
 * running are not stopped: the caller waits until the volume's in-flight
 * count is zero.  Whenever a hold may have ended (a release, a LUN
 * removed), the list is kicked: each task, in order, is resumed once, and
 * one whose LUN is still held waits again behind the others, so arrival
 * order is kept among the tasks of a LUN.
 *
 * Walking the list (held_each) takes one task off the head at a time, so
 * that a done() run meanwhile may abort or add held tasks safely.
 */
#include <stdio.h>
#include <string.h>

#include "target/scsi/internal.h"

bool lun_held(const struct scsi_lun *lun)
{
	return lun->present && lun->held;
}

static bool lun_is(const struct scsi_lun *lun, const struct cowstore *cs, uint64_t volume_id)
{
	return lun->cs == cs && lun->volume_id == volume_id;
}

void hold_wait(struct scsi_task *task, task_fn resume)
{
	struct task_state *st = task_state(task);
	struct scsi_target *t = st->t;
	st->resume = resume;
	st->link = NULL;
	if (t->held_tail)
		task_state(t->held_tail)->link = task;
	else
		t->held_head = task;
	t->held_tail = task;
}

/* Unlink task from the held list, whose element after prev (NULL: the
 * head) it is. */
static void held_unlink(struct scsi_target *t, struct scsi_task *prev, struct scsi_task *task)
{
	struct scsi_task *next = task_state(task)->link;
	if (prev)
		task_state(prev)->link = next;
	else
		t->held_head = next;
	if (t->held_tail == task)
		t->held_tail = prev;
}

/* Give fn each task on the held list once, in order, taken off the list;
 * what fn puts back (hold_wait) goes behind the rest. */
static void held_each(struct scsi_target *t, void (*fn)(struct scsi_task *task, const void *arg),
		      const void *arg)
{
	size_t n = 0;
	for (struct scsi_task *p = t->held_head; p; p = task_state(p)->link)
		n++;
	while (n-- && t->held_head) {
		struct scsi_task *task = t->held_head;
		held_unlink(t, NULL, task);
		fn(task, arg);
	}
}

static void resume(struct scsi_task *task, const void *arg)
{
	task_state(task)->resume(task);
}

void holds_kick(struct scsi_target *t)
{
	held_each(t, resume, NULL);
}

/* A held task ends without having run (SAM-5 5.6: TASK ABORTED). */
static void end_aborted(struct scsi_task *task)
{
	task->status = SCSI_STATUS_TASK_ABORTED;
	task->sense_len = 0;
	task->data_in_len = 0;
	task_finish(task);
}

struct abort_filter {
	uint64_t nexus_id, lun;
};

static void abort_if_covered(struct scsi_task *task, const void *arg)
{
	const struct abort_filter *f = arg;
	if ((f->nexus_id == HOLD_ANY || task->nexus_id == f->nexus_id) &&
	    (f->lun == HOLD_ANY || task->lun == f->lun))
		end_aborted(task);
	else
		hold_wait(task, task_state(task)->resume);
}

void holds_abort(struct scsi_target *t, uint64_t nexus_id, uint64_t lun)
{
	struct abort_filter f = { nexus_id, lun };
	held_each(t, abort_if_covered, &f);
}

bool scsi_task_abort(struct scsi_target *t, struct scsi_task *task)
{
	struct scsi_task *prev = NULL;
	for (struct scsi_task *p = t->held_head; p; prev = p, p = task_state(p)->link) {
		if (p == task) {
			held_unlink(t, prev, task);
			end_aborted(task);
			return true;
		}
	}
	return false; /* running (or unknown): its done() comes when it ends */
}

unsigned scsi_target_volume_inflight(const struct scsi_target *t, struct cowstore *cs,
				     uint64_t volume_id)
{
	unsigned n = 0;
	if (!cs)
		cs = t->cs;
	for (size_t i = 0; i < SCSI_MAX_LUNS; i++) /* removed LUNs still draining too */
		if (lun_is(&t->luns[i], cs, volume_id))
			n += t->luns[i].inflight;
	return n;
}

unsigned scsi_target_hold_volume(struct scsi_target *t, struct cowstore *cs, uint64_t volume_id)
{
	if (!cs)
		cs = t->cs;
	for (size_t i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->luns[i].present && lun_is(&t->luns[i], cs, volume_id))
			t->luns[i].held = true;
	return scsi_target_volume_inflight(t, cs, volume_id);
}

/* The LUN serves volume_id of pool cs from now on; its identity stays. */
static void lun_switch(struct scsi_lun *lun, struct cowstore *cs, uint64_t volume_id)
{
	uint64_t from = lun->volume_id;
	lun->cs = cs;
	lun->volume_id = volume_id;
	int rc = lun_refresh_size(lun); /* a new size: CAPACITY DATA HAS CHANGED */
	if (rc)
		fprintf(stderr, "scsi: target %s LUN %llu: switched from volume %llu to volume "
				"%llu, whose size cannot be read (%s); its commands will fail\n",
			lun->t->name, (unsigned long long)lun->number, (unsigned long long)from,
			(unsigned long long)volume_id, strerror(-rc));
}

void scsi_target_release_volume(struct scsi_target *t, struct cowstore *cs, uint64_t volume_id,
				struct cowstore *to_cs, uint64_t to_volume_id)
{
	if (!cs)
		cs = t->cs;
	for (size_t i = 0; i < SCSI_MAX_LUNS; i++) {
		struct scsi_lun *lun = &t->luns[i];
		if (!lun_held(lun) || !lun_is(lun, cs, volume_id))
			continue;
		lun->held = false;
		if (to_cs)
			lun_switch(lun, to_cs, to_volume_id);
	}
	holds_kick(t);
}
