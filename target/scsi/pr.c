/*
 * pr.c - reservations: SPC-4 persistent reservations (5.13; PERSISTENT
 * RESERVE IN 6.15 and OUT 6.16), SPC-2 RESERVE/RELEASE(6/10), and which
 * commands a reservation forbids to the nexuses that do not hold it.
 *
 * A registration belongs to an initiator port name (scsi_nexus.port), not to
 * a nexus id: a nexus that goes away keeps it and a new nexus with the same
 * name (an iSCSI initiator logging in again with the same ISID) holds it
 * again.  There is one target port, so ALL_TG_PT is accepted and only
 * reported back; SPEC_I_PT is refused (REPORT CAPABILITIES says SIP_C 0).
 * Compatible reservation handling is off (CRH 0, SPC-4 5.13.3): while any
 * registration exists RESERVE and RELEASE conflict, and while a RESERVE(6)
 * reservation exists every PERSISTENT RESERVE command conflicts.
 * Unit attentions go to the nexuses connected under the port name at that
 * moment; a port with no nexus then misses them.
 * PREEMPT AND ABORT aborts nothing (see scsi.h).
 *
 * APTPL blob, version 1, all numbers big-endian:
 *   0  4  magic "SLPR"
 *   4  2  version (1)
 *   6  2  number of registrations n (at most PR_MAX_REGS)
 *   8  4  PRgeneration
 *  12  1  reservation type (0: none; else 1, 3, 5, 6, 7 or 8)
 *  13  1  reserved (0)
 *  14  2  index of the holding registration (< n), 0xffff when no reservation
 *  16  4  FNV-1a (32 bits) of every other byte of the blob
 *  20     n registrations: key (8, never 0), flags (1: bit 0 ALL_TG_PT, others
 *         0), name length L (1, 1..255), the port name (L bytes, no NUL).
 * The blob ends exactly after the last registration.  An ALL REGISTRANTS
 * reservation names any registration as its holder.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

#define PR_MAX_REGS 256u
#define PROUT_PARAM_LEN 24u
#define PROUT_MAX_PARAM 4096u      /* read no more of a (refused) longer list */
#define TRANSPORT_ID_MAX (4u + SCSI_PORT_NAME_MAX)
#define FULL_STATUS_MAX (24u + TRANSPORT_ID_MAX)
#define BLOB_HEADER 20u
#define BLOB_VERSION 1u
#define NO_HOLDER 0xffffu

enum pr_type { PR_WE = 1, PR_EA = 3, PR_WE_RO = 5, PR_EA_RO = 6, PR_WE_AR = 7, PR_EA_AR = 8 };
enum prin_sa { PRIN_READ_KEYS, PRIN_READ_RESERVATION, PRIN_REPORT_CAPS, PRIN_FULL_STATUS };
enum prout_sa {
	PROUT_REGISTER, PROUT_RESERVE, PROUT_RELEASE, PROUT_CLEAR, PROUT_PREEMPT,
	PROUT_PREEMPT_ABORT, PROUT_REGISTER_IGNORE,
};

/* The parameter list of PERSISTENT RESERVE OUT (SPC-4 6.16.3). */
struct prout_params {
	uint64_t key, sa_key;
	bool all_tg_pt, aptpl;
};

static bool type_valid(unsigned type)
{
	return type == PR_WE || type == PR_EA || (type >= PR_WE_RO && type <= PR_EA_AR);
}
static bool type_all_registrants(unsigned type) { return type == PR_WE_AR || type == PR_EA_AR; }
/* REGISTRANTS ONLY and ALL REGISTRANTS: every registrant has access. */
static bool type_registrants(unsigned type) { return type >= PR_WE_RO; }
static bool type_write_exclusive(unsigned type)
{
	return type == PR_WE || type == PR_WE_RO || type == PR_WE_AR;
}

static void task_conflict(struct scsi_task *task)
{
	task->status = SCSI_STATUS_RESERVATION_CONFLICT;
	task->sense_len = 0;
	task->data_in_len = 0;
}

static const char *task_port(struct scsi_task *task)
{
	struct scsi_nexus *n = nexus_find(task_state(task)->t, task->nexus_id);
	return n ? n->port : "";
}

static struct pr_reg *reg_find(const struct pr_state *pr, const char *port)
{
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		if (strcmp(r->port, port) == 0)
			return r;
	return NULL;
}

static bool is_holder(const struct pr_state *pr, const struct pr_reg *reg)
{
	return reg && pr->holder && (pr->holder == reg || type_all_registrants(pr->type));
}

/* ---- which commands conflict ---------------------------------------------- */

bool pr_conflict(struct scsi_task *task, const struct scsi_cmd *cmd)
{
	const struct pr_state *pr = &task_state(task)->lun->pr;
	bool allowed = true;
	if (pr->res2) {
		bool pr_cmd = cmd->opcode == 0x5e || cmd->opcode == 0x5f; /* SPC-4 5.13.3 */
		allowed = !pr_cmd && (pr->res2_nexus == task->nexus_id ||
				      (cmd->flags & CMD_RES2_ALLOWED));
	} else if (pr->holder) {
		const struct pr_reg *reg = reg_find(pr, task_port(task));
		allowed = is_holder(pr, reg) || (reg && type_registrants(pr->type)) ||
			  (cmd->flags & CMD_PR_ALLOWED) ||
			  ((cmd->flags & CMD_PR_READ) && type_write_exclusive(pr->type));
	}
	if (!allowed)
		task_conflict(task);
	return !allowed;
}

/* ---- registrations -------------------------------------------------------- */

static void reg_unlink(struct pr_state *pr, struct pr_reg *reg)
{
	for (struct pr_reg **p = &pr->regs; *p; p = &(*p)->next) {
		if (*p == reg) {
			*p = reg->next;
			pr->nregs--;
			free(reg);
			return;
		}
	}
}

static struct pr_reg *reg_append(struct pr_state *pr, const char *port, uint64_t key,
				 bool all_tg_pt)
{
	struct pr_reg *reg = calloc(1, sizeof(*reg)), **tail = &pr->regs;
	if (!reg)
		return NULL;
	reg->key = key;
	reg->all_tg_pt = all_tg_pt;
	snprintf(reg->port, sizeof(reg->port), "%s", port);
	while (*tail)
		tail = &(*tail)->next;
	*tail = reg;
	pr->nregs++;
	return reg;
}

/* ua for the port of every registration but one. */
static void ua_registrants(struct scsi_lun *lun, const struct pr_reg *except, uint8_t ua)
{
	for (struct pr_reg *r = lun->pr.regs; r; r = r->next)
		if (r != except)
			nexus_port_ua(lun->t, lun->number, r->port, ua);
}

/* SPC-4 5.13.11.2.2: the holder going away releases the reservation (an ALL
 * REGISTRANTS one only with the last registrant). */
static void reg_unregister(struct scsi_lun *lun, struct pr_reg *reg)
{
	struct pr_state *pr = &lun->pr;
	if (pr->holder == reg) {
		if (type_all_registrants(pr->type) && pr->nregs > 1) {
			pr->holder = pr->regs != reg ? pr->regs : reg->next;
		} else {
			if (type_registrants(pr->type))
				ua_registrants(lun, reg, UA_RES_RELEASED);
			pr->holder = NULL;
		}
	}
	reg_unlink(pr, reg);
}

static void state_free(struct pr_state *pr)
{
	while (pr->regs)
		reg_unlink(pr, pr->regs);
	memset(pr, 0, sizeof(*pr));
}

void pr_clear_all(struct scsi_lun *lun) { state_free(&lun->pr); }

void pr_nexus_gone(struct scsi_lun *lun, uint64_t nexus_id)
{
	if (lun->pr.res2 && lun->pr.res2_nexus == nexus_id)
		lun->pr.res2 = false;
}

void pr_reset(struct scsi_lun *lun) { lun->pr.res2 = false; }

/* ---- PERSISTENT RESERVE IN ------------------------------------------------ */

static uint32_t read_keys(const struct pr_state *pr, uint8_t *resp)
{
	uint32_t n = 8;
	for (const struct pr_reg *r = pr->regs; r; r = r->next, n += 8)
		put_be64(resp + n, r->key);
	put_be32(resp, pr->generation);
	put_be32(resp + 4, n - 8);
	return n;
}

static uint32_t read_reservation(const struct pr_state *pr, uint8_t *resp)
{
	memset(resp, 0, 24);
	put_be32(resp, pr->generation);
	if (!pr->holder)
		return 8;
	put_be32(resp + 4, 16);
	if (!type_all_registrants(pr->type)) /* else the key is 0 (SPC-4 6.15.3.3) */
		put_be64(resp + 8, pr->holder->key);
	resp[21] = pr->type; /* scope 0: LU_SCOPE */
	return 24;
}

static uint32_t report_caps(const struct scsi_target *t, const struct pr_state *pr,
			    uint8_t *resp)
{
	memset(resp, 0, 8);
	put_be16(resp, 8);
	resp[2] = (uint8_t)(0x04 | (t->pr_save ? 0x01 : 0)); /* ATP_C, PTPL_C */
	resp[3] = (uint8_t)(0x80 | 0x10 | (pr->aptpl ? 0x01 : 0)); /* TMV, ALLOW 1, PTPL_A */
	resp[4] = 0xea; /* WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX */
	resp[5] = 0x01; /* EX_AC_AR */
	return 8;
}

/* SPC-4 7.6.4.6: iSCSI TransportID, format 01h when the name carries an ISID
 * (",i,0x"), else 00h; the name NUL-terminated, padded to 4 bytes, >= 20. */
static uint32_t put_transport_id(const char *port, uint8_t *p)
{
	uint32_t name_len = (uint32_t)strlen(port), len = (name_len + 1 + 3) & ~3u;
	if (len < 20)
		len = 20;
	memset(p, 0, 4 + len);
	p[0] = (uint8_t)((strstr(port, ",i,0x") ? 0x40 : 0x00) | 0x05); /* protocol: iSCSI */
	put_be16(p + 2, (uint16_t)len);
	memcpy(p + 4, port, name_len);
	return 4 + len;
}

static uint32_t read_full_status(const struct pr_state *pr, uint8_t *resp)
{
	uint32_t n = 8;
	for (const struct pr_reg *r = pr->regs; r; r = r->next) {
		uint8_t *d = resp + n;
		memset(d, 0, 24);
		put_be64(d, r->key);
		d[12] = (uint8_t)((r->all_tg_pt ? 0x02 : 0) | (is_holder(pr, r) ? 0x01 : 0));
		if (is_holder(pr, r))
			d[13] = pr->type;
		if (!r->all_tg_pt)
			put_be16(d + 18, RELATIVE_PORT_ID);
		uint32_t tid_len = put_transport_id(r->port, d + 24);
		put_be32(d + 20, tid_len);
		n += 24 + tid_len;
	}
	put_be32(resp, pr->generation);
	put_be32(resp + 4, n - 8);
	return n;
}

void pr_in(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	const struct pr_state *pr = &st->lun->pr;
	uint32_t len = 0;
	st->scratch = malloc(8 + (size_t)pr->nregs * FULL_STATUS_MAX + 16);
	if (!st->scratch) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	switch (task->cdb[1] & 0x1f) {
	case PRIN_READ_KEYS:
		len = read_keys(pr, st->scratch);
		break;
	case PRIN_READ_RESERVATION:
		len = read_reservation(pr, st->scratch);
		break;
	case PRIN_REPORT_CAPS:
		len = report_caps(st->t, pr, st->scratch);
		break;
	case PRIN_FULL_STATUS:
		len = read_full_status(pr, st->scratch);
		break;
	}
	task_data_in(task, st->scratch, len, get_be16(task->cdb + 7));
}

/* ---- APTPL: the blob ------------------------------------------------------ */

static uint32_t fnv1a_bytes(uint32_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t blob_checksum(const uint8_t *blob, size_t len)
{
	uint32_t h = fnv1a_bytes(2166136261u, blob, 16);
	return fnv1a_bytes(h, blob + BLOB_HEADER, len - BLOB_HEADER);
}

/* Encode pr into a new blob (*out, the caller frees it). */
static int blob_encode(const struct pr_state *pr, uint8_t **out, size_t *out_len)
{
	size_t len = BLOB_HEADER;
	uint16_t holder = NO_HOLDER, i = 0;
	for (const struct pr_reg *r = pr->regs; r; r = r->next)
		len += 10 + strlen(r->port);
	uint8_t *blob = calloc(1, len), *p = blob + BLOB_HEADER;
	if (!blob)
		return -ENOMEM;
	for (const struct pr_reg *r = pr->regs; r; r = r->next, i++) {
		size_t name_len = strlen(r->port);
		if (r == pr->holder)
			holder = i;
		put_be64(p, r->key);
		p[8] = r->all_tg_pt ? 1 : 0;
		p[9] = (uint8_t)name_len;
		memcpy(p + 10, r->port, name_len);
		p += 10 + name_len;
	}
	memcpy(blob, "SLPR", 4);
	put_be16(blob + 4, BLOB_VERSION);
	put_be16(blob + 6, (uint16_t)pr->nregs);
	put_be32(blob + 8, pr->generation);
	blob[12] = pr->holder ? pr->type : 0;
	put_be16(blob + 14, holder);
	put_be32(blob + 16, blob_checksum(blob, len));
	*out = blob;
	*out_len = len;
	return 0;
}

static int blob_header_check(const uint8_t *blob, size_t len)
{
	if (len < BLOB_HEADER || memcmp(blob, "SLPR", 4) != 0 ||
	    get_be16(blob + 4) != BLOB_VERSION || get_be16(blob + 6) > PR_MAX_REGS ||
	    blob[13] != 0 || get_be32(blob + 16) != blob_checksum(blob, len))
		return -EINVAL;
	uint8_t type = blob[12];
	uint16_t holder = get_be16(blob + 14);
	if (type ? !type_valid(type) || holder >= get_be16(blob + 6) : holder != NO_HOLDER)
		return -EINVAL;
	return 0;
}

/* Decode the registrations into pr (empty); -EINVAL on anything amiss. */
static int blob_decode(const uint8_t *blob, size_t len, struct pr_state *pr)
{
	size_t off = BLOB_HEADER;
	uint16_t nregs = get_be16(blob + 6), holder = get_be16(blob + 14);
	for (uint16_t i = 0; i < nregs; i++) {
		char port[SCSI_PORT_NAME_MAX];
		if (len - off < 10)
			return -EINVAL;
		uint64_t key = get_be64(blob + off);
		uint8_t flags = blob[off + 8], name_len = blob[off + 9];
		off += 10;
		if (key == 0 || (flags & ~1u) || name_len == 0 || len - off < name_len ||
		    memchr(blob + off, 0, name_len))
			return -EINVAL;
		memcpy(port, blob + off, name_len);
		port[name_len] = 0;
		off += name_len;
		if (reg_find(pr, port))
			return -EINVAL;
		struct pr_reg *reg = reg_append(pr, port, key, flags & 1);
		if (!reg)
			return -ENOMEM;
		if (i == holder)
			pr->holder = reg;
	}
	return off == len ? 0 : -EINVAL;
}

int scsi_target_load_pr(struct scsi_target *t, uint64_t lun, const void *blob, size_t len)
{
	struct pr_state loaded = { 0 };
	if (!t || !blob)
		return -EINVAL;
	if (lun >= SCSI_MAX_LUNS || !t->luns[lun].present)
		return -ENOENT;
	int rc = blob_header_check(blob, len);
	if (rc == 0)
		rc = blob_decode(blob, len, &loaded);
	if (rc) {
		state_free(&loaded);
		return rc;
	}
	loaded.generation = get_be32((const uint8_t *)blob + 8);
	loaded.type = ((const uint8_t *)blob)[12];
	loaded.aptpl = true;
	pr_clear_all(&t->luns[lun]);
	t->luns[lun].pr = loaded;
	return 0;
}

/* Save the LUN's state if APTPL asks (or asked until now: then forget it). */
static void persist(struct scsi_task *task, bool was_aptpl)
{
	struct task_state *st = task_state(task);
	struct pr_state *pr = &st->lun->pr;
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc = 0;
	if ((!pr->aptpl && !was_aptpl) || !st->t->pr_save)
		return;
	if (pr->aptpl)
		rc = blob_encode(pr, &blob, &len);
	if (rc == 0)
		rc = st->t->pr_save(st->t->pr_save_arg, st->lun->number, blob, len);
	free(blob);
	if (rc) {
		fprintf(stderr, "scsi: target %s LUN %llu: saving persistent reservations "
				"failed: %s\n", st->t->name, (unsigned long long)st->lun->number,
			strerror(-rc));
		task_check(task, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
}

/* ---- PERSISTENT RESERVE OUT ----------------------------------------------- */

uint32_t pr_out_data_len(const uint8_t *cdb)
{
	uint32_t len = get_be32(cdb + 5);
	return len <= PROUT_MAX_PARAM ? len : 0;
}

/* The parameter list; false (and the task has its sense) when it is refused. */
static bool prout_params(struct scsi_task *task, struct prout_params *p)
{
	uint32_t len = get_be32(task->cdb + 5);
	uint8_t sa = task->cdb[1] & 0x1f;
	const uint8_t *d = task->data;
	if (len < PROUT_PARAM_LEN || len > PROUT_MAX_PARAM || task->transfer_len < len) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	if (d[20] & 0x08) { /* SPEC_I_PT: not supported (SIP_C 0) */
		task_bad_param(task, 20, 3);
		return false;
	}
	if (len != PROUT_PARAM_LEN) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	if (d[20] & 0xf2) {
		task_bad_param(task, 20, 31 - __builtin_clz(d[20] & 0xf2));
		return false;
	}
	p->key = get_be64(d);
	p->sa_key = get_be64(d + 8);
	p->all_tg_pt = d[20] & 0x04;
	p->aptpl = d[20] & 0x01;
	bool registering = sa == PROUT_REGISTER || sa == PROUT_REGISTER_IGNORE;
	if (registering && p->aptpl && !task_state(task)->t->pr_save) {
		task_bad_param(task, 20, 0); /* PTPL_C 0: nowhere to persist */
		return false;
	}
	return true;
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7); true when
 * the registrations changed. */
static bool prout_register(struct scsi_task *task, const struct prout_params *p, bool ignore)
{
	struct scsi_lun *lun = task_state(task)->lun;
	struct pr_state *pr = &lun->pr;
	const char *port = task_port(task);
	struct pr_reg *reg = reg_find(pr, port);
	if (!ignore && (reg ? reg->key != p->key : p->key != 0)) {
		task_conflict(task);
		return false;
	}
	if (!reg && p->sa_key == 0)
		return false; /* nothing to do (and APTPL is not taken) */
	if (reg && p->sa_key == 0) {
		reg_unregister(lun, reg);
	} else if (reg) {
		reg->key = p->sa_key;
	} else if (pr->nregs >= PR_MAX_REGS) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
		return false;
	} else if (!reg_append(pr, port, p->sa_key, p->all_tg_pt)) {
		task_check(task, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return false;
	}
	pr->generation++;
	pr->aptpl = p->aptpl;
	return true;
}

static bool prout_reserve(struct scsi_task *task, struct pr_reg *reg, uint8_t type)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	if (pr->holder) { /* SPC-4 5.13.9: the holder may repeat it, nobody else */
		if (!is_holder(pr, reg) || pr->type != type)
			task_conflict(task);
		return false;
	}
	pr->holder = reg;
	pr->type = type;
	return true;
}

static bool prout_release(struct scsi_task *task, struct pr_reg *reg, uint8_t type)
{
	struct scsi_lun *lun = task_state(task)->lun;
	struct pr_state *pr = &lun->pr;
	if (!is_holder(pr, reg))
		return false; /* GOOD, nothing released (SPC-4 5.13.11.2.1) */
	if (pr->type != type) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_RELEASE_OF_PR);
		return false;
	}
	if (type_registrants(type))
		ua_registrants(lun, reg, UA_RES_RELEASED);
	pr->holder = NULL;
	return true;
}

static bool prout_clear(struct scsi_task *task, struct pr_reg *reg)
{
	struct scsi_lun *lun = task_state(task)->lun;
	ua_registrants(lun, reg, UA_RES_PREEMPTED);
	uint32_t generation = lun->pr.generation;
	bool aptpl = lun->pr.aptpl;
	pr_clear_all(lun);
	lun->pr.generation = generation + 1;
	lun->pr.aptpl = aptpl;
	return true;
}

/* Remove every registration but keep whose key is key (any key: all of
 * them), with REGISTRATIONS PREEMPTED; returns how many went. */
static uint32_t preempt_regs(struct scsi_lun *lun, struct pr_reg *keep, uint64_t key, bool any)
{
	struct pr_state *pr = &lun->pr;
	uint32_t removed = 0;
	for (struct pr_reg *r = pr->regs, *next; r; r = next) {
		next = r->next;
		if (r == keep || (!any && r->key != key))
			continue;
		nexus_port_ua(lun->t, lun->number, r->port, UA_REGS_PREEMPTED);
		if (pr->holder == r)
			pr->holder = keep; /* ALL REGISTRANTS: the rest still hold it */
		reg_unlink(pr, r);
		removed++;
	}
	return removed;
}

/* PREEMPT and PREEMPT AND ABORT (SPC-4 5.13.11.4). */
static bool prout_preempt(struct scsi_task *task, struct pr_reg *reg,
			  const struct prout_params *p, uint8_t type)
{
	struct scsi_lun *lun = task_state(task)->lun;
	struct pr_state *pr = &lun->pr;
	bool all_regs = pr->holder && type_all_registrants(pr->type);
	bool takes = pr->holder && (all_regs ? p->sa_key == 0 : pr->holder->key == p->sa_key);
	if (p->sa_key == 0 && !takes) {
		task_bad_param(task, 8, -1);
		return false;
	}
	uint8_t old_type = pr->type;
	uint32_t removed = preempt_regs(lun, reg, p->sa_key, all_regs && p->sa_key == 0);
	if (!removed && !takes) {
		task_conflict(task);
		return false;
	}
	if (takes) {
		pr->holder = reg;
		pr->type = type;
		if (old_type != type)
			ua_registrants(lun, reg, UA_RES_RELEASED);
	}
	pr->generation++;
	return true;
}

static bool prout_scope_type(struct scsi_task *task)
{
	if (task->cdb[2] >> 4) { /* only LU_SCOPE */
		task_bad_cdb(task, 2, 7);
		return false;
	}
	if (!type_valid(task->cdb[2] & 0x0f)) {
		task_bad_cdb(task, 2, 3);
		return false;
	}
	return true;
}

/* Run a service action for a registered nexus; true when state changed. */
static bool prout_registered(struct scsi_task *task, uint8_t sa, const struct prout_params *p)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	struct pr_reg *reg = reg_find(pr, task_port(task));
	uint8_t type = task->cdb[2] & 0x0f;
	if (sa != PROUT_CLEAR && !prout_scope_type(task))
		return false;
	if (!reg || reg->key != p->key) {
		task_conflict(task);
		return false;
	}
	switch (sa) {
	case PROUT_RESERVE:
		return prout_reserve(task, reg, type);
	case PROUT_RELEASE:
		return prout_release(task, reg, type);
	case PROUT_CLEAR:
		return prout_clear(task, reg);
	default: /* PREEMPT, PREEMPT AND ABORT */
		return prout_preempt(task, reg, p, type);
	}
}

void pr_out(struct scsi_task *task)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	uint8_t sa = task->cdb[1] & 0x1f;
	struct prout_params p;
	bool was_aptpl = pr->aptpl, changed;
	if (!prout_params(task, &p)) {
		task_finish(task);
		return;
	}
	if (sa == PROUT_REGISTER || sa == PROUT_REGISTER_IGNORE)
		changed = prout_register(task, &p, sa == PROUT_REGISTER_IGNORE);
	else
		changed = prout_registered(task, sa, &p);
	if (changed)
		persist(task, was_aptpl);
	task_finish(task);
}

/* ---- RESERVE(6/10) and RELEASE(6/10), SPC-2 5.5 ---------------------------- */

/* Another nexus's reservation already got RESERVATION CONFLICT in dispatch. */
void pr_reserve2(struct scsi_task *task)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	if (pr->nregs) {
		task_conflict(task);
	} else {
		pr->res2 = true;
		pr->res2_nexus = task->nexus_id;
	}
	task_finish(task);
}

void pr_release2(struct scsi_task *task)
{
	struct pr_state *pr = &task_state(task)->lun->pr;
	if (pr->nregs)
		task_conflict(task);
	else if (pr->res2 && pr->res2_nexus == task->nexus_id)
		pr->res2 = false;
	task_finish(task); /* releasing what another nexus holds does nothing */
}
