/*
 * spc.c - SPC-4 primary commands without IO: TEST UNIT READY, REQUEST SENSE,
 * REPORT LUNS, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, REPORT
 * SUPPORTED OPERATION CODES and REPORT TARGET PORT GROUPS.  (INQUIRY is in
 * inquiry.c, MODE SENSE/SELECT in mode.c, RESERVE/RELEASE in pr.c.)
 *
 * There is one target port (relative port 1) in one target port group (1),
 * always active/optimized; VPD page 83 (inquiry.c) names the same ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

static uint32_t alloc_len(struct scsi_task *task)
{
	const struct scsi_cmd *cmd = task_state(task)->cmd;
	return (uint32_t)get_be(task->cdb + cmd->len_off, cmd->len_size);
}

void spc_test_unit_ready(struct scsi_task *task) { task_finish(task); }

/* Nothing to do on a thin volume: power conditions and ejection are no-ops. */
void spc_start_stop_unit(struct scsi_task *task) { task_finish(task); }

/* Media cannot be removed: accept both PREVENT and ALLOW. */
void spc_prevent_allow(struct scsi_task *task) { task_finish(task); }

/* SPC-4 6.39: the pending unit attention if any (and it is cleared), LOGICAL
 * UNIT NOT SUPPORTED for a missing LUN, else NO SENSE.  Only fixed format. */
void spc_request_sense(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint8_t sense[SENSE_FIXED_LEN];
	if (task->cdb[1] & 0x01) { /* DESC: descriptor format is not supported */
		task_bad_cdb(task, 1, 0);
		task_finish(task);
		return;
	}
	if (!st->lun)
		sense_fixed(sense, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	else if (!nexus_take_ua(st->t, task, sense))
		sense_fixed(sense, SENSE_NO_SENSE, ASC_NONE);
	task_data_in(task, sense, sizeof(sense), alloc_len(task));
}

/* SPC-4 6.33.  LUNs below 256 use the peripheral device address method. */
void spc_report_luns(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint8_t select = task->cdb[2];
	uint32_t n = 8;
	if (select > 2) {
		task_bad_cdb(task, 2, -1);
		task_finish(task);
		return;
	}
	if (alloc_len(task) < 16) {
		task_bad_cdb(task, 6, -1);
		task_finish(task);
		return;
	}
	uint8_t *resp = calloc(1, 8 + 8 * SCSI_MAX_LUNS);
	if (!resp) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	for (unsigned i = 0; select != 1 && i < SCSI_MAX_LUNS; i++) { /* 1: well known only */
		if (st->t->luns[i].present) {
			resp[n + 1] = (uint8_t)i;
			n += 8;
		}
	}
	put_be32(resp, n - 8);
	nexus_clear_luns_changed(st->t, task->nexus_id);
	st->scratch = resp; /* freed when the task ends */
	task_data_in(task, resp, n, alloc_len(task));
}

/* ---- REPORT TARGET PORT GROUPS (SPC-4 6.37) -------------------------------- */

void spc_report_tpgs(struct scsi_task *task)
{
	uint8_t resp[24] = { 0 };
	bool extended = (task->cdb[1] >> 5) == 1;
	uint32_t hdr = extended ? 8 : 4;
	if ((task->cdb[1] >> 5) > 1) {
		task_bad_cdb(task, 1, 7);
		task_finish(task);
		return;
	}
	uint8_t *d = resp + hdr;
	d[0] = 0x80;         /* PREF; asymmetric access state 0: active/optimized */
	d[1] = 0x01;         /* AO_SUP: the only state we ever report */
	put_be16(d + 2, PORT_GROUP_ID);
	d[7] = 1;            /* target port count */
	put_be16(d + 8 + 2, RELATIVE_PORT_ID);
	uint32_t len = hdr + 12;
	put_be32(resp, len - 4);
	if (extended)
		resp[4] = 0x10; /* format type 1; implicit transition time 0 */
	task_data_in(task, resp, len, alloc_len(task));
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) ------------------------- */

#define TIMEOUTS_LEN 12u

static uint32_t put_timeouts(uint8_t *p)
{
	memset(p, 0, TIMEOUTS_LEN);
	put_be16(p, TIMEOUTS_LEN - 2);
	put_be32(p + 8, 30); /* recommended command timeout: 30 s */
	return TIMEOUTS_LEN;
}

static uint32_t put_all_commands(uint8_t *resp, bool rctd)
{
	uint32_t n = 4;
	for (size_t i = 0; i < cmd_count(); i++) {
		const struct scsi_cmd *cmd = cmd_at(i);
		uint8_t *d = resp + n;
		memset(d, 0, 8);
		d[0] = cmd->opcode;
		put_be16(d + 2, cmd->sa >= 0 ? (uint16_t)cmd->sa : 0);
		d[5] = (uint8_t)((rctd ? 0x02 : 0) | (cmd->sa >= 0 ? 0x01 : 0)); /* CTDP, SERVACTV */
		put_be16(d + 6, cmd->cdb_len);
		n += 8;
		if (rctd)
			n += put_timeouts(resp + n);
	}
	put_be32(resp, n - 4);
	return n;
}

static uint32_t put_one_command(uint8_t *resp, const struct scsi_cmd *cmd, bool rctd)
{
	memset(resp, 0, 4);
	if (!cmd) {
		resp[1] = 0x01; /* SUPPORT: not supported */
		return 4;
	}
	resp[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03); /* CTDP, SUPPORT: as the standard says */
	put_be16(resp + 2, cmd->cdb_len);
	memcpy(resp + 4, cmd->usage, cmd->cdb_len);
	uint32_t n = 4 + cmd->cdb_len;
	return rctd ? n + put_timeouts(resp + n) : n;
}

/* The command asked about by reporting options 1, 2 and 3; false (and the
 * task has its sense) when the request does not fit the opcode. */
static bool requested_command(struct scsi_task *task, const struct scsi_cmd **cmd)
{
	uint8_t options = task->cdb[2] & 0x07, opcode = task->cdb[3];
	uint16_t sa = get_be16(task->cdb + 4);
	bool has_sa = cmd_opcode_has_sa(opcode);
	if ((options == 1 && has_sa) || (options == 2 && !has_sa && cmd_find(opcode, -1))) {
		task_bad_cdb(task, 2, 2);
		return false;
	}
	*cmd = cmd_find(opcode, has_sa && options != 1 ? (int)sa : -1);
	return true;
}

void spc_report_opcodes(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	bool rctd = task->cdb[2] & 0x80;
	uint8_t options = task->cdb[2] & 0x07;
	const struct scsi_cmd *cmd = NULL;
	uint32_t len;
	if (options > 3) {
		task_bad_cdb(task, 2, 2);
		task_finish(task);
		return;
	}
	if (options && !requested_command(task, &cmd)) {
		task_finish(task);
		return;
	}
	st->scratch = malloc(4 + cmd_count() * (8 + TIMEOUTS_LEN) + 16 + TIMEOUTS_LEN);
	if (!st->scratch) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	if (options == 0)
		len = put_all_commands(st->scratch, rctd);
	else
		len = put_one_command(st->scratch, cmd, rctd);
	task_data_in(task, st->scratch, len, alloc_len(task));
}
