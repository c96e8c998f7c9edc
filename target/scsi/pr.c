/*
 * pr.c - reservations: RESERVE(6) and RELEASE(6) (SPC-2 7.21, 7.19; kept
 * in SPC-4 as the legacy way to own a logical unit, still used by cluster
 * software and by hosts that never send PERSISTENT RESERVE).
 *
 * A LUN is reserved by at most one I_T nexus.  While it is, every other
 * nexus gets RESERVATION CONFLICT except for the commands flagged
 * CMD_NO_CONFLICT in opcodes.c (the unit attention check comes first, as
 * in SAM-5 5.14).  A reservation ends with RELEASE from its holder, a
 * LOGICAL UNIT RESET or target reset, or the loss of the holder's nexus
 * (logout, dropped connection): scsi.c calls reservation_drop().
 */
#include "target/scsi/internal.h"

bool reservation_conflict(struct scsi_task *task)
{
	const struct task_state *st = task_state(task);
	return st->lun && st->lun->reserved && st->lun->holder != task->nexus_id &&
	       !(st->cmd->flags & CMD_NO_CONFLICT);
}

void reservation_drop(struct scsi_target *t, uint64_t nexus_id)
{
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->luns[i].reserved && t->luns[i].holder == nexus_id)
			t->luns[i].reserved = false;
}

/* The holder may reserve again; another nexus conflicts (scsi.c has already
 * refused it, RESERVE is not CMD_NO_CONFLICT). */
void spc_reserve(struct scsi_task *task)
{
	struct scsi_lun *lun = task_state(task)->lun;
	lun->reserved = true;
	lun->holder = task->nexus_id;
	task_finish(task);
}

/* GOOD whoever sends it; only the holder's ends the reservation. */
void spc_release(struct scsi_task *task)
{
	struct scsi_lun *lun = task_state(task)->lun;
	if (lun->reserved && lun->holder == task->nexus_id)
		lun->reserved = false;
	task_finish(task);
}
