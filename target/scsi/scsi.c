/*
 * scsi.c - SCSI targets, their LUNs and I_T nexuses, unit attentions, the
 * state task management resets leave, and command dispatch (SAM-5 / SPC-4
 * 4.6 order of checks).
 *
 * Dispatch order: LUN not present (only INQUIRY, REPORT LUNS and REQUEST
 * SENSE run there: LOGICAL UNIT NOT SUPPORTED for the rest), then a pending
 * unit attention (not reported to INQUIRY, REPORT LUNS, REQUEST SENSE), then
 * unknown opcode, then reserved CDB bits (from the usage bitmaps in
 * opcodes.c), then a reservation conflict (pr.c), then software write
 * protection, then the handler.  All of it waits while the LUN is held
 * (hold.c): a held task is checked when it starts, after the release.
 * Unit attentions are kept per I_T nexus and LUN (I_T_L, SAM-5 5.14): a
 * bit per condition, reported one at a time in the order of ua_codes[].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

static const struct {
	uint16_t bit;
	uint16_t asc_ascq;
} ua_codes[] = {
	{ UA_POWER_ON, ASC_POWER_ON_RESET },
	{ UA_LUN_RESET, ASC_BUS_DEVICE_RESET },
	{ UA_CLEARED, ASC_COMMANDS_CLEARED },
	{ UA_CAPACITY, ASC_CAPACITY_CHANGED },
	{ UA_LUNS_CHANGED, ASC_REPORTED_LUNS_CHANGED },
	{ UA_MODE_CHANGED, ASC_MODE_PARAMETERS_CHANGED },
	{ UA_THIN_THRESHOLD, ASC_THIN_THRESHOLD_REACHED },
	{ UA_REGS_PREEMPTED, ASC_REGISTRATIONS_PREEMPTED },
	{ UA_RES_PREEMPTED, ASC_RESERVATIONS_PREEMPTED },
	{ UA_RES_RELEASED, ASC_RESERVATIONS_RELEASED },
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int scsi_target_create(struct cowstore *cs, struct cowstore_queue *queue, const char *name,
		       struct scsi_target **out)
{
	if (!cs || !queue || !name || !out || strlen(name) >= sizeof((*out)->name))
		return -EINVAL;
	struct scsi_target *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cs = cs;
	t->queue = queue;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->name_hash = fnv1a(name);
	*out = t;
	return 0;
}

/* Every task must have completed (done() ran) before this. */
void scsi_target_destroy(struct scsi_target *t)
{
	if (!t)
		return;
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		pr_clear_all(&t->luns[i]);
	while (t->nexuses) {
		struct scsi_nexus *n = t->nexuses;
		t->nexuses = n->next;
		free(n);
	}
	free(t);
}

/* ---- unit attentions ------------------------------------------------------ */

struct scsi_nexus *nexus_find(struct scsi_target *t, uint64_t id)
{
	for (struct scsi_nexus *n = t->nexuses; n; n = n->next)
		if (n->id == id)
			return n;
	return NULL;
}

static void ua_power_on(struct scsi_nexus *n)
{
	for (size_t i = 0; i < SCSI_MAX_LUNS; i++)
		n->ua[i] = UA_POWER_ON;
}

static struct scsi_nexus *nexus_get(struct scsi_target *t, uint64_t id)
{
	struct scsi_nexus *n = nexus_find(t, id);
	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->id = id;
	snprintf(n->port, sizeof(n->port), "nexus.%llu", (unsigned long long)id);
	ua_power_on(n);
	n->next = t->nexuses;
	t->nexuses = n;
	return n;
}

/* Raise a unit attention on every nexus for one LUN, or all present LUNs
 * (lun == SCSI_MAX_LUNS). */
static void ua_raise(struct scsi_target *t, uint64_t lun, uint16_t bit)
{
	for (struct scsi_nexus *n = t->nexuses; n; n = n->next)
		for (uint64_t i = 0; i < SCSI_MAX_LUNS; i++)
			if (i == lun || (lun == SCSI_MAX_LUNS && t->luns[i].present))
				n->ua[i] |= bit;
}

void scsi_nexus_add(struct scsi_target *t, uint64_t nexus_id, const char *initiator_port)
{
	struct scsi_nexus *n = nexus_find(t, nexus_id);
	if (n) /* a reused id is a new nexus: it starts from power on */
		ua_power_on(n);
	else if (!(n = nexus_get(t, nexus_id))) {
		fprintf(stderr, "scsi: target %s: no memory for nexus %llu; it will be made "
				"on its first command\n", t->name, (unsigned long long)nexus_id);
		return;
	}
	if (initiator_port && initiator_port[0] && strlen(initiator_port) < sizeof(n->port))
		snprintf(n->port, sizeof(n->port), "%s", initiator_port);
	else
		fprintf(stderr, "scsi: target %s: nexus %llu has no usable initiator port "
				"name; reservations know it as %s\n", t->name,
			(unsigned long long)nexus_id, n->port);
}

void scsi_nexus_remove(struct scsi_target *t, uint64_t nexus_id)
{
	holds_abort(t, nexus_id, HOLD_ANY);
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		pr_nexus_gone(&t->luns[i], nexus_id);
	for (struct scsi_nexus **p = &t->nexuses; *p; p = &(*p)->next) {
		if ((*p)->id == nexus_id) {
			struct scsi_nexus *n = *p;
			*p = n->next;
			free(n);
			return;
		}
	}
}

bool nexus_take_ua(struct scsi_target *t, struct scsi_task *task, uint8_t *sense)
{
	struct scsi_nexus *n = nexus_find(t, task->nexus_id);
	if (!n || task->lun >= SCSI_MAX_LUNS)
		return false;
	for (size_t i = 0; i < sizeof(ua_codes) / sizeof(ua_codes[0]); i++) {
		if (n->ua[task->lun] & ua_codes[i].bit) {
			n->ua[task->lun] &= (uint16_t)~ua_codes[i].bit;
			sense_fixed(sense, SENSE_UNIT_ATTENTION, ua_codes[i].asc_ascq);
			return true;
		}
	}
	return false;
}

void scsi_target_thin_threshold(struct scsi_target *t)
{
	ua_raise(t, SCSI_MAX_LUNS, UA_THIN_THRESHOLD);
}

void nexus_mode_changed(struct scsi_target *t, uint64_t lun, uint64_t except_nexus_id)
{
	for (struct scsi_nexus *n = t->nexuses; n; n = n->next)
		if (n->id != except_nexus_id && lun < SCSI_MAX_LUNS)
			n->ua[lun] |= UA_MODE_CHANGED;
}

void nexus_port_ua(struct scsi_target *t, uint64_t lun, const char *port, uint16_t ua)
{
	for (struct scsi_nexus *n = t->nexuses; n; n = n->next)
		if (lun < SCSI_MAX_LUNS && strcmp(n->port, port) == 0)
			n->ua[lun] |= ua;
}

void nexus_clear_luns_changed(struct scsi_target *t, uint64_t nexus_id)
{
	struct scsi_nexus *n = nexus_find(t, nexus_id);
	for (size_t i = 0; n && i < SCSI_MAX_LUNS; i++)
		n->ua[i] &= (uint16_t)~UA_LUNS_CHANGED;
}

/* ---- LUNs ----------------------------------------------------------------- */

int lun_refresh_size(struct scsi_lun *lun)
{
	struct cowstore_volume_info info;
	int rc = cowstore_volume_info(lun->cs, lun->volume_id, 0, &info);
	if (rc)
		return rc;
	uint64_t nblocks = info.size_bytes / BLOCK_BYTES;
	if (nblocks != lun->nblocks) {
		lun->nblocks = nblocks;
		ua_raise(lun->t, lun->number, UA_CAPACITY);
	}
	return 0;
}

int scsi_target_add_lun(struct scsi_target *t, uint64_t lun, struct cowstore *cs,
			uint64_t volume_id)
{
	struct cowstore_volume_info info;
	if (lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	if (t->luns[lun].present)
		return -EEXIST;
	if (t->luns[lun].inflight)
		return -EBUSY; /* removed, and its last commands still run on the old volume */
	if (!cs)
		cs = t->cs;
	int rc = cowstore_volume_info(cs, volume_id, 0, &info);
	if (rc)
		return rc;
	t->luns[lun] = (struct scsi_lun){ .t = t, .number = lun, .cs = cs, .volume_id = volume_id,
					  .serial_id = info.serial,
					  .generation = t->luns[lun].generation + 1,
					  .nblocks = info.size_bytes / BLOCK_BYTES,
					  .present = true, .wce = true };
	ua_raise(t, SCSI_MAX_LUNS, UA_LUNS_CHANGED);
	return 0;
}

int scsi_target_remove_lun(struct scsi_target *t, uint64_t lun)
{
	if (lun >= SCSI_MAX_LUNS || !t->luns[lun].present)
		return -ENOENT;
	/* Commands already running keep their struct scsi_lun (the slot is not
	 * reused until inflight is 0) and finish on the volume; new ones find
	 * the LUN absent, held ones too (they end now). */
	t->luns[lun].present = false;
	t->luns[lun].held = false;
	pr_clear_all(&t->luns[lun]);
	for (struct scsi_nexus *n = t->nexuses; n; n = n->next)
		n->ua[lun] = UA_POWER_ON; /* as new, should it come back */
	ua_raise(t, SCSI_MAX_LUNS, UA_LUNS_CHANGED);
	holds_kick(t);
	return 0;
}

int scsi_target_lun_resized(struct scsi_target *t, uint64_t lun)
{
	if (lun >= SCSI_MAX_LUNS || !t->luns[lun].present)
		return -ENOENT;
	return lun_refresh_size(&t->luns[lun]);
}

bool scsi_target_lun_present(const struct scsi_target *t, uint64_t lun)
{
	return lun < SCSI_MAX_LUNS && t->luns[lun].present;
}

/* SAM-5 6.3.3: a reset leaves mode parameters at their defaults (nothing is
 * saved), ends RESERVE(6) reservations and leaves a unit attention for every
 * nexus, the requester's included. */
static void lun_reset(struct scsi_lun *lun, uint16_t ua_bit)
{
	mode_reset(lun);
	pr_reset(lun);
	ua_raise(lun->t, lun->number, ua_bit);
}

int scsi_lun_reset(struct scsi_target *t, uint64_t lun)
{
	if (!scsi_target_lun_present(t, lun))
		return -ENOENT;
	holds_abort(t, HOLD_ANY, lun);
	lun_reset(&t->luns[lun], UA_LUN_RESET);
	return 0;
}

void scsi_target_reset(struct scsi_target *t)
{
	holds_abort(t, HOLD_ANY, HOLD_ANY);
	for (uint64_t i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->luns[i].present)
			lun_reset(&t->luns[i], UA_POWER_ON);
}

void scsi_nexus_tasks_cleared(struct scsi_target *t, uint64_t nexus_id, uint64_t lun)
{
	struct scsi_nexus *n = nexus_find(t, nexus_id);
	if (n && lun < SCSI_MAX_LUNS)
		n->ua[lun] |= UA_CLEARED;
}

void scsi_target_set_gate(struct scsi_target *t, struct qos_gate *g)
{
	t->gate = g;
}

void scsi_target_set_pr_save(struct scsi_target *t, scsi_pr_save_fn save, void *arg)
{
	t->pr_save = save;
	t->pr_save_arg = arg;
}

int scsi_target_lun_count(const struct scsi_target *t)
{
	int n = 0;
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		n += t->luns[i].present;
	return n;
}

/* ---- dispatch ------------------------------------------------------------- */

static int highest_bit(uint8_t bits) { return 31 - __builtin_clz(bits); }

/* Reserved bits (those the usage bitmap does not allow) must be zero. */
static bool cdb_bits_valid(const struct scsi_cmd *cmd, struct scsi_task *task)
{
	for (unsigned i = 1; i < cmd->cdb_len; i++) {
		uint8_t allowed = cmd->usage[i];
		if (i == 1 && cmd->sa >= 0)
			allowed |= 0x1f; /* the service action itself */
		uint8_t stray = task->cdb[i] & (uint8_t)~allowed;
		if (stray) {
			task_bad_cdb(task, (uint16_t)i, highest_bit(stray));
			return false;
		}
	}
	return true;
}

/* Checks before the handler; false when the task already has its answer. */
static bool task_admit(struct scsi_task *task, const struct scsi_cmd *cmd, bool bad_sa)
{
	struct task_state *st = task_state(task);
	if (!st->lun && !(cmd && (cmd->flags & CMD_ANY_LUN))) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return false;
	}
	if (st->lun && !(cmd && (cmd->flags & CMD_NO_UA)) &&
	    nexus_take_ua(st->t, task, task->sense)) {
		task->status = SCSI_STATUS_CHECK_CONDITION;
		task->sense_len = SENSE_FIXED_LEN;
		return false;
	}
	if (!cmd) {
		if (bad_sa)
			task_bad_cdb(task, 1, 4);
		else
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return false;
	}
	if (task->cdb_len < cmd->cdb_len) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return false;
	}
	if (!cdb_bits_valid(cmd, task))
		return false;
	if (st->lun && pr_conflict(task, cmd))
		return false;
	if ((cmd->flags & CMD_WRITES) && st->lun->swp) {
		task_check(task, SENSE_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
		return false;
	}
	/* Data-out whose size the CDB fixes (WRITE SAME, COMPARE AND WRITE,
	 * VERIFY with BYTCHK) must be exactly that size.  (A WRITE sent less
	 * data than its CDB says writes the whole blocks it got, see sbc.c;
	 * data-in always fits, the buffer holding what scsi_cdb_info() said.) */
	uint32_t data_len = cmd_data_len(cmd, task->cdb);
	if (cmd->dir == SCSI_DIR_TO_DEV && cmd->len_unit == LEN_SPECIAL && data_len &&
	    data_len != task->transfer_len) {
		task_bad_cdb(task, cmd->len_off, -1);
		return false;
	}
	return true;
}

/* Run the task, or let it wait while its LUN is held. */
static void task_start(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct scsi_target *t = st->t;
	bool bad_sa = false;
	if (task->lun < SCSI_MAX_LUNS && lun_held(&t->luns[task->lun])) {
		hold_wait(task, task_start);
		return;
	}
	if (task->lun < SCSI_MAX_LUNS && t->luns[task->lun].present) {
		st->lun = &t->luns[task->lun];
		st->lun->inflight++;
	}
	if (!nexus_get(t, task->nexus_id)) {
		task->status = SCSI_STATUS_BUSY;
		task_finish(task);
		return;
	}
	const struct scsi_cmd *cmd = task->cdb_len ? cmd_lookup(task->cdb, &bad_sa) : NULL;
	st->cmd = cmd;
	if (!task_admit(task, cmd, bad_sa)) {
		task_finish(task);
		return;
	}
	cmd->exec(task);
}

void scsi_task_execute(struct scsi_target *t, struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	memset(st, 0, sizeof(*st));
	task->status = SCSI_STATUS_GOOD;
	task->sense_len = 0;
	task->data_in_len = 0;
	task->io_kind = SCSI_IO_NONE;
	st->t = t;
	task_start(task);
}
