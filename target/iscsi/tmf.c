/*
 * tmf.c - task management (RFC 7143 11.5, 11.6; SAM-5 7): ABORT TASK, ABORT
 * TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET, TARGET WARM RESET and TARGET
 * COLD RESET.
 *
 * An aborted command that still waits for Data-Out is freed at once.  One
 * that executes is marked (cmd->tmf) and gets no SCSI Response when it
 * ends; the TMF Response waits until the last such command has ended
 * (11.6.1: the response says the tasks are gone).  One held by a volume
 * move (target/scsi) ends at once, inside scsi_task_abort(); one that
 * cowstore is running cannot be stopped and ends later.  So a TMF counts
 * itself as a task while it aborts: its response cannot go out before it
 * is complete.
 * Functions wider than ABORT TASK / ABORT TASK SET reach the tasks of every
 * session on the same target; the SCSI layer then sets the unit attentions.
 * A TARGET COLD RESET closes every connection to the target, the
 * requester's after the response.
 */
#include <stdlib.h>

#include "target/iscsi/internal.h"

/* Functions (11.5.1) and responses (11.6.1) */
enum {
	TMF_ABORT_TASK = 1, TMF_ABORT_TASK_SET = 2, TMF_CLEAR_ACA = 3, TMF_CLEAR_TASK_SET = 4,
	TMF_LUN_RESET = 5, TMF_TARGET_WARM_RESET = 6, TMF_TARGET_COLD_RESET = 7,
	TMF_TASK_REASSIGN = 8,
};
enum {
	TMF_COMPLETE = 0, TMF_NO_TASK = 1, TMF_NO_LUN = 2, TMF_NO_REASSIGN = 4,
	TMF_NOT_SUPPORTED = 5,
};

/* A TMF Response waiting for aborted commands to end.  It counts in its
 * connection's ncmds, so the connection's memory outlives it. */
struct tmf {
	struct conn *c;
	struct txpdu *rsp;
	uint32_t tasks; /* aborted commands still running, and tmf_handle itself */
};

static void tmf_send(struct tmf *tmf)
{
	conn_stamp(tmf->c, tmf->rsp->bhs, true);
	conn_queue(tmf->c, tmf->rsp); /* frees it if the connection died */
	tmf->c->ncmds--;
	free(tmf);
}

void tmf_task_ended(struct tmf *tmf)
{
	if (--tmf->tasks == 0)
		tmf_send(tmf);
}

/* Abort one command; true if it was still in progress. */
static bool abort_cmd(struct cmd *cmd, struct tmf *tmf)
{
	if (cmd->sent_response || cmd->tmf)
		return false; /* done already, or aborted by an earlier TMF */
	if (cmd->executing) {
		cmd->tmf = tmf;
		tmf->tasks++;
		/* one held by a volume move ends, and is freed, now */
		scsi_task_abort(cmd->c->target->scsi, &cmd->task);
	} else {
		cmd_free(cmd); /* waiting for Data-Out: nothing points into it */
	}
	return true;
}

/* Abort c's commands on lun (every LUN if lun is UINT64_MAX); true if any. */
static bool abort_on_conn(struct conn *c, uint64_t lun, struct tmf *tmf)
{
	bool any = false;
	for (struct cmd *cmd = c->cmds, *next; cmd; cmd = next) {
		next = cmd->next;
		if (lun == UINT64_MAX || cmd->task.lun == lun)
			any |= abort_cmd(cmd, tmf);
	}
	return any;
}

/* Every session logged in to the same target as c, c included. */
static bool same_target(const struct conn *c, const struct conn *other)
{
	return !other->dead && other->phase == PHASE_FULL && other->target == c->target;
}

/* CLEAR TASK SET, LOGICAL UNIT RESET, TARGET RESETs: the tasks of every
 * session; other sessions whose tasks a CLEAR TASK SET took are told so. */
static void abort_everywhere(struct conn *c, uint64_t lun, struct tmf *tmf, bool clear)
{
	for (struct conn *other = c->srv->conns; other; other = other->next) {
		if (!same_target(c, other))
			continue;
		if (abort_on_conn(other, lun, tmf) && clear && other != c)
			scsi_nexus_tasks_cleared(c->target->scsi, other->nexus_id, lun);
	}
}

static void close_other_sessions(struct conn *c)
{
	for (struct conn *other = c->srv->conns; other; other = other->next)
		if (other != c && same_target(c, other))
			conn_fail(other, "TARGET COLD RESET by another session");
}

/* ABORT TASK (11.5.1).  A task that has completed (its response is out or
 * queued) does not exist any more.  One never received whose RefCmdSN is
 * in the window and before the TMF's own CmdSN was lost on the way: it is
 * "Function complete" (we run commands in CmdSN order only, so it will not
 * run later). */
static uint8_t abort_task(struct conn *c, const uint8_t *bhs, struct tmf *tmf)
{
	struct cmd *cmd = cmd_by_itt(c, get_be32(bhs + 20));
	if (cmd) /* cmd->tmf first: abort_cmd may free cmd */
		return cmd->tmf || abort_cmd(cmd, tmf) ? TMF_COMPLETE : TMF_NO_TASK;
	uint32_t ref_cmd_sn = get_be32(bhs + 32), cmd_sn = get_be32(bhs + 24);
	bool lost = (int32_t)(ref_cmd_sn - c->exp_cmd_sn) >= 0 &&
		    (int32_t)(ref_cmd_sn - cmd_sn) < 0;
	return lost ? TMF_COMPLETE : TMF_NO_TASK;
}

static uint8_t run_function(struct conn *c, uint8_t function, const uint8_t *bhs,
			    struct tmf *tmf)
{
	struct scsi_target *scsi = c->target->scsi;
	uint64_t lun = pdu_lun(bhs);
	bool lun_scoped = function == TMF_ABORT_TASK_SET || function == TMF_CLEAR_TASK_SET ||
			  function == TMF_LUN_RESET;
	if (lun_scoped && !scsi_target_lun_present(scsi, lun))
		return TMF_NO_LUN;
	switch (function) {
	case TMF_ABORT_TASK:
		return abort_task(c, bhs, tmf);
	case TMF_ABORT_TASK_SET:
		abort_on_conn(c, lun, tmf);
		return TMF_COMPLETE;
	case TMF_CLEAR_TASK_SET:
		abort_everywhere(c, lun, tmf, true);
		return TMF_COMPLETE;
	case TMF_LUN_RESET:
		abort_everywhere(c, lun, tmf, false);
		scsi_lun_reset(scsi, lun);
		return TMF_COMPLETE;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		abort_everywhere(c, UINT64_MAX, tmf, false);
		scsi_target_reset(scsi);
		if (function == TMF_TARGET_COLD_RESET)
			close_other_sessions(c);
		return TMF_COMPLETE;
	case TMF_TASK_REASSIGN:
		return TMF_NO_REASSIGN; /* ErrorRecoveryLevel 0 */
	default:
		return TMF_NOT_SUPPORTED; /* CLEAR ACA (NACA is never set) and unknown */
	}
}

void tmf_handle(struct conn *c, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	uint8_t function = bhs[1] & 0x7f;
	if (c->discovery) {
		conn_reject(c, bhs, REJECT_PROTOCOL_ERROR);
		return;
	}
	struct tmf *tmf = calloc(1, sizeof(*tmf));
	struct txpdu *rsp = txpdu_new(OP_TMF_RSP, 0x80);
	if (!tmf || !rsp) {
		free(tmf);
		free(rsp);
		conn_fail(c, "out of memory");
		return;
	}
	cmd_sn_accept(c, bhs);
	tmf->c = c;
	tmf->rsp = rsp;
	tmf->tasks = 1; /* this function, until its response is ready */
	c->ncmds++;
	rsp->bhs[2] = run_function(c, function, bhs, tmf);
	put_be32(rsp->bhs + 16, get_be32(bhs + 16));
	rsp->close_after = function == TMF_TARGET_COLD_RESET && rsp->bhs[2] == TMF_COMPLETE;
	rsp->close_reason = "TARGET COLD RESET";
	tmf_task_ended(tmf);
}
