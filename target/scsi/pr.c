/*
 * pr.c - reservations: RESERVE(6)/RELEASE(6) (SPC-2 7.21, 7.19, the legacy
 * way to own a LUN) and PERSISTENT RESERVE IN/OUT (SPC-4 5.9, 6.15, 6.16:
 * what ESXi and cluster software use).
 *
 * RESERVE(6): a LUN is reserved by at most one I_T nexus; every other nexus
 * gets RESERVATION CONFLICT but for the commands flagged CMD_NO_CONFLICT in
 * opcodes.c.  It ends with RELEASE from its holder, a LUN or target reset,
 * or the loss of the holder's nexus (scsi.c calls reservation_drop()).
 *
 * Persistent reservations belong to initiator ports (scsi_nexus_add names
 * them), not nexuses: they outlive logouts, dropped connections and resets,
 * and end only by PERSISTENT RESERVE OUT (or the LUN being unmapped).  They
 * are not kept across a restart of slated (APTPL is not supported).  All
 * conflict checks come after the unit attention check (SAM-5 5.14).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

static bool pr_conflict(struct scsi_task *task);

bool reservation_conflict(struct scsi_task *task)
{
	const struct task_state *st = task_state(task);
	if (!st->lun)
		return false;
	if (st->lun->reserved)
		return st->lun->holder != task->nexus_id && !(st->cmd->flags & CMD_NO_CONFLICT);
	return pr_conflict(task);
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

/* ---- persistent reservations (SPC-4 5.9, 6.15, 6.16) ---------------------- */

enum {
	PR_WE = 1, PR_EA = 3, PR_WE_RO = 5, PR_EA_RO = 6, PR_WE_AR = 7, PR_EA_AR = 8,
};
enum {
	PROUT_REGISTER = 0, PROUT_RESERVE = 1, PROUT_RELEASE = 2, PROUT_CLEAR = 3,
	PROUT_PREEMPT = 4, PROUT_PREEMPT_ABORT = 5, PROUT_REGISTER_IGNORE = 6,
};
enum { PRIN_READ_KEYS = 0, PRIN_READ_RESERVATION = 1, PRIN_CAPABILITIES = 2, PRIN_FULL = 3 };

#define PROUT_LIST_LEN 24u
#define PR_MAX_REGISTRANTS 256u

static bool valid_type(uint8_t type)
{
	return type == PR_WE || type == PR_EA || (type >= PR_WE_RO && type <= PR_EA_AR);
}
static bool all_registrants(uint8_t type) { return type == PR_WE_AR || type == PR_EA_AR; }
/* Registrants get in: the registrants-only and all-registrants types. */
static bool registrants_in(uint8_t type) { return type >= PR_WE_RO; }
static bool exclusive_access(uint8_t type)
{
	return type == PR_EA || type == PR_EA_RO || type == PR_EA_AR;
}

static struct pr_reg *reg_find(struct pr_state *pr, const char *port)
{
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		if (strcmp(r->port, port) == 0)
			return r;
	return NULL;
}

static bool is_holder(const struct pr_state *pr, const struct pr_reg *reg)
{
	return pr->held && reg && (all_registrants(pr->type) || pr->holder == reg);
}

static uint32_t reg_count(const struct pr_state *pr)
{
	uint32_t n = 0;
	for (const struct pr_reg *r = pr->regs; r; r = r->next)
		n++;
	return n;
}

void pr_clear(struct scsi_lun *lun)
{
	while (lun->pr.regs) {
		struct pr_reg *r = lun->pr.regs;
		lun->pr.regs = r->next;
		free(r);
	}
	memset(&lun->pr, 0, sizeof(lun->pr));
}

/* Does the command change what the unit stores (a write, a mode change)? */
static bool changes_unit(const struct scsi_cmd *cmd)
{
	return (cmd->flags & CMD_WRITES) || cmd->opcode == 0x15 || cmd->opcode == 0x55;
}

/* SPC-4 5.9.1 table 62, simplified: a non-holder may always run the
 * commands flagged CMD_NO_CONFLICT or CMD_PR_ALLOWED; a registrant may run
 * everything under the registrants-only and all-registrants types; anyone
 * else may not change the unit under Write Exclusive, nor touch it under
 * Exclusive Access.  RESERVE(6)/RELEASE(6) conflict while registrations
 * exist. */
static bool pr_conflict(struct scsi_task *task)
{
	const struct task_state *st = task_state(task);
	struct pr_state *pr = &st->lun->pr;
	if (!pr->regs)
		return false;
	if (st->cmd->opcode == 0x16 || st->cmd->opcode == 0x17)
		return true;
	struct pr_reg *reg = reg_find(pr, nexus_port(st->t, task->nexus_id));
	if (!pr->held || is_holder(pr, reg) ||
	    (st->cmd->flags & (CMD_NO_CONFLICT | CMD_PR_ALLOWED)))
		return false;
	if (reg && registrants_in(pr->type))
		return false;
	return exclusive_access(pr->type) || changes_unit(st->cmd);
}

/* Every registrant but except gets the unit attention bit. */
static void ua_registrants(struct scsi_lun *lun, const struct pr_reg *except, uint16_t bit)
{
	for (struct pr_reg *r = lun->pr.regs; r; r = r->next)
		if (r != except)
			ua_raise_port(lun->t, lun->number, r->port, bit);
}

static void release(struct scsi_lun *lun, const struct pr_reg *by)
{
	if (lun->pr.type == PR_WE_RO || lun->pr.type == PR_EA_RO || all_registrants(lun->pr.type))
		ua_registrants(lun, by, UA_RES_RELEASED); /* SPC-4 5.9.11.2 */
	lun->pr.held = false;
	lun->pr.holder = NULL;
}

/* Unlink a registration; the reservation goes with its holder (or with the
 * last registrant of an all-registrants one). */
static void reg_remove(struct scsi_lun *lun, struct pr_reg *reg)
{
	struct pr_state *pr = &lun->pr;
	for (struct pr_reg **p = &pr->regs; *p; p = &(*p)->next) {
		if (*p == reg) {
			*p = reg->next;
			break;
		}
	}
	if (pr->held && (pr->holder == reg || (all_registrants(pr->type) && !pr->regs))) {
		pr->held = false;
		pr->holder = NULL;
	}
	free(reg);
}

/* ---- PERSISTENT RESERVE OUT -------------------------------------------------- */

static void conflict(struct scsi_task *task)
{
	task->status = SCSI_STATUS_RESERVATION_CONFLICT;
	task_finish(task);
}

static void check_and_finish(struct scsi_task *task, uint8_t key, uint16_t asc_ascq)
{
	task_check(task, key, asc_ascq);
	task_finish(task);
}

/* REGISTER (the reservation key must match, 0 when not registered) and
 * REGISTER AND IGNORE EXISTING KEY; a service action key of 0 unregisters. */
static void pr_register(struct scsi_task *task, struct pr_reg *reg, uint64_t rk, uint64_t sark,
			bool ignore)
{
	struct scsi_lun *lun = task_state(task)->lun;
	struct pr_state *pr = &lun->pr;
	if (!ignore && (reg ? reg->key != rk : rk != 0)) {
		conflict(task);
		return;
	}
	if (!reg && sark) {
		if (reg_count(pr) >= PR_MAX_REGISTRANTS || !(reg = calloc(1, sizeof(*reg)))) {
			check_and_finish(task, SENSE_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REGISTRATIONS);
			return;
		}
		snprintf(reg->port, sizeof(reg->port), "%s",
			 nexus_port(task_state(task)->t, task->nexus_id));
		reg->next = pr->regs;
		pr->regs = reg;
	} else if (reg && !sark) {
		if (is_holder(pr, reg) && !all_registrants(pr->type))
			release(lun, reg);
		reg_remove(lun, reg);
		reg = NULL;
	} else if (!reg) {
		task_finish(task); /* unregistering what is not registered */
		return;
	}
	if (reg && sark)
		reg->key = sark;
	pr->generation++;
	task_finish(task);
}

static void pr_reserve(struct scsi_task *task, struct pr_reg *reg, uint8_t type)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	if (pr->held) {
		if (is_holder(pr, reg) && pr->type == type)
			task_finish(task);
		else
			conflict(task);
		return;
	}
	pr->held = true;
	pr->type = type;
	pr->holder = all_registrants(type) ? NULL : reg;
	task_finish(task);
}

static void pr_release(struct scsi_task *task, struct pr_reg *reg, uint8_t type)
{
	struct scsi_lun *lun = task_state(task)->lun;
	if (!is_holder(&lun->pr, reg)) { /* nothing held, or not by us: a no-op */
		task_finish(task);
		return;
	}
	if (lun->pr.type != type) {
		check_and_finish(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_RELEASE_OF_PR);
		return;
	}
	release(lun, reg);
	task_finish(task);
}

static void pr_clear_all(struct scsi_task *task, struct pr_reg *reg)
{
	struct scsi_lun *lun = task_state(task)->lun;
	uint32_t generation = lun->pr.generation;
	ua_registrants(lun, reg, UA_RES_PREEMPTED);
	pr_clear(lun);
	lun->pr.generation = generation + 1;
	task_finish(task);
}

/* Remove the registrations other than reg whose key is sark (every other
 * one if all); returns how many went. */
static uint32_t preempt_registrations(struct scsi_lun *lun, struct pr_reg *reg, uint64_t sark,
				      bool all)
{
	uint32_t removed = 0;
	for (struct pr_reg *r = lun->pr.regs, *next; r; r = next) {
		next = r->next;
		if (r != reg && (all || r->key == sark)) {
			ua_raise_port(lun->t, lun->number, r->port, UA_REG_PREEMPTED);
			reg_remove(lun, r);
			removed++;
		}
	}
	return removed;
}

/* PREEMPT (and PREEMPT AND ABORT, whose task abort is the transport's to
 * do): remove the registrations of key sark; if they held the reservation,
 * it becomes reg's, of the new type (SPC-4 5.9.11.4). */
static void pr_preempt(struct scsi_task *task, struct pr_reg *reg, uint64_t sark, uint8_t type)
{
	struct scsi_lun *lun = task_state(task)->lun;
	struct pr_state *pr = &lun->pr;
	bool take = pr->held && (all_registrants(pr->type) ? sark == 0 : pr->holder->key == sark);
	if (!sark && !take) {
		task_bad_param(task, 8, -1);
		task_finish(task);
		return;
	}
	if (!preempt_registrations(lun, reg, sark, sark == 0) && !take) {
		conflict(task);
		return;
	}
	if (take) {
		pr->held = true;
		pr->type = type;
		pr->holder = all_registrants(type) ? NULL : reg;
	}
	pr->generation++;
	task_finish(task);
}

/* The parameter list is the basic 24 bytes: SPEC_I_PT, ALL_TG_PT and
 * APTPL are not supported (REPORT CAPABILITIES says so). */
static bool prout_list_valid(struct scsi_task *task)
{
	uint32_t len = get_be32(task->cdb + 5);
	if (len != PROUT_LIST_LEN || task->transfer_len < PROUT_LIST_LEN) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	uint8_t unsupported = task->data[20] & 0x0d;
	if (unsupported) {
		task_bad_param(task, 20, 31 - __builtin_clz(unsupported));
		return false;
	}
	return true;
}

uint32_t spc_pr_out_data_len(const uint8_t *cdb)
{
	uint32_t len = get_be32(cdb + 5);
	return len == PROUT_LIST_LEN ? len : 0; /* else refused before any data */
}

void spc_pr_out(struct scsi_task *task)
{
	const struct task_state *st = task_state(task);
	uint8_t sa = task->cdb[1] & 0x1f, scope = task->cdb[2] >> 4, type = task->cdb[2] & 0x0f;
	if (!prout_list_valid(task)) {
		task_finish(task);
		return;
	}
	uint64_t rk = get_be64(task->data), sark = get_be64(task->data + 8);
	struct pr_reg *reg = reg_find(&st->lun->pr, nexus_port(st->t, task->nexus_id));
	if (sa == PROUT_REGISTER || sa == PROUT_REGISTER_IGNORE) {
		pr_register(task, reg, rk, sark, sa == PROUT_REGISTER_IGNORE);
		return;
	}
	if (!reg || reg->key != rk) {
		conflict(task);
		return;
	}
	if (sa != PROUT_CLEAR && (scope != 0 || !valid_type(type))) { /* LU_SCOPE only */
		task_bad_cdb(task, 2, scope ? 7 : 3);
		task_finish(task);
		return;
	}
	switch (sa) {
	case PROUT_RESERVE:
		pr_reserve(task, reg, type);
		break;
	case PROUT_RELEASE:
		pr_release(task, reg, type);
		break;
	case PROUT_CLEAR:
		pr_clear_all(task, reg);
		break;
	case PROUT_PREEMPT:
	case PROUT_PREEMPT_ABORT:
	default: /* the opcode table lets no other service action through */
		pr_preempt(task, reg, sark, type);
	}
}

/* ---- PERSISTENT RESERVE IN --------------------------------------------------- */

static uint32_t read_keys(const struct pr_state *pr, uint8_t *resp)
{
	uint32_t n = 8;
	for (const struct pr_reg *r = pr->regs; r; r = r->next, n += 8)
		put_be64(resp + n, r->key);
	return n;
}

static uint32_t read_reservation(const struct pr_state *pr, uint8_t *resp)
{
	if (!pr->held)
		return 8;
	memset(resp + 8, 0, 16);
	put_be64(resp + 8, pr->holder ? pr->holder->key : 0); /* 0: all registrants */
	resp[21] = pr->type; /* scope 0: the logical unit */
	return 24;
}

static uint32_t report_capabilities(uint8_t *resp)
{
	memset(resp, 0, 8);
	put_be16(resp, 8);
	resp[3] = 0x80;        /* TMV: the type mask is valid; no SIP_C, ATP_C, PTPL_C */
	resp[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX */
	resp[5] = 0x01;        /* EX_AC_AR */
	return 8;
}

/* One full status descriptor with the iSCSI TransportID of the initiator
 * port (SPC-4 7.6.4.6: format 01b, the name with ",i,0x<ISID>"). */
static uint32_t full_status_descriptor(const struct pr_state *pr, const struct pr_reg *r,
				       uint8_t *d)
{
	uint32_t name_len = (uint32_t)strlen(r->port) + 1;
	uint32_t id_len = 4 + ((name_len < 20 ? 20 : name_len) + 3) / 4 * 4;
	memset(d, 0, 24 + id_len);
	put_be64(d, r->key);
	if (is_holder(pr, r)) {
		d[12] = 0x01; /* R_HOLDER */
		d[13] = pr->type;
	}
	put_be16(d + 18, RELATIVE_PORT_ID);
	put_be32(d + 20, id_len);
	d[24] = 0x45; /* initiator port with ISID, iSCSI */
	put_be16(d + 26, (uint16_t)(id_len - 4));
	memcpy(d + 28, r->port, name_len);
	return 24 + id_len;
}

static uint32_t read_full_status(const struct pr_state *pr, uint8_t *resp)
{
	uint32_t n = 8;
	for (const struct pr_reg *r = pr->regs; r; r = r->next)
		n += full_status_descriptor(pr, r, resp + n);
	return n;
}

void spc_pr_in(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	const struct pr_state *pr = &st->lun->pr;
	uint8_t sa = task->cdb[1] & 0x1f;
	uint32_t len;
	st->scratch = malloc(8 + (size_t)reg_count(pr) * (24 + 8 + SCSI_PORT_NAME_MAX));
	if (!st->scratch) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	switch (sa) {
	case PRIN_READ_KEYS:
		len = read_keys(pr, st->scratch);
		break;
	case PRIN_READ_RESERVATION:
		len = read_reservation(pr, st->scratch);
		break;
	case PRIN_CAPABILITIES:
		len = report_capabilities(st->scratch);
		break;
	case PRIN_FULL:
	default:
		len = read_full_status(pr, st->scratch);
	}
	if (sa != PRIN_CAPABILITIES) {
		put_be32(st->scratch, pr->generation);
		put_be32(st->scratch + 4, len - 8);
	}
	task_data_in(task, st->scratch, len, get_be16(task->cdb + 7));
}
