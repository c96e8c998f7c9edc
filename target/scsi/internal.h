/*
 * internal.h - what the files of target/scsi share; private to the module.
 *
 * Logical blocks are 512 bytes, the same as cowstore sectors, so an LBA is a
 * cowstore lba and a block count is an nsectors.  Every structure here belongs
 * to the thread that owns the target (see scsi.h); nothing is locked.
 * Each LUN has its pool (lun->cs): every cowstore call for a LUN goes there,
 * never to the target's pool (t->cs, only the default for new LUNs).
 * A task's private state lives in scsi_task.state (struct task_state).
 */
#ifndef SLATE_TARGET_SCSI_INTERNAL_H
#define SLATE_TARGET_SCSI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "target/scsi/scsi.h"

#define BLOCK_BYTES 512u
#define MAX_IO_BLOCKS (COWSTORE_MAX_IO_BYTES / BLOCK_BYTES)
/* Block limits reported in VPD page B0 and enforced by the commands. */
#define MAX_TRANSFER_BLOCKS SCSI_MAX_TRANSFER_BLOCKS
#define OPTIMAL_GRANULARITY_BLOCKS 8u  /* one 4 KiB cowstore block */
#define UNMAP_GRANULARITY_BLOCKS 2048u /* 1 MiB */
#define MAX_UNMAP_BLOCKS (1u << 20)    /* per UNMAP command: 512 MiB */
#define MAX_UNMAP_DESCRIPTORS 256u
#define MAX_WRITE_SAME_BLOCKS (1u << 22) /* 2 GiB */
#define MAX_ATOMIC_BLOCKS MAX_IO_BLOCKS /* one cowstore request is atomic */
#define RELATIVE_PORT_ID 1u
#define PORT_GROUP_ID 1u

/* ---- big-endian fields (CDBs, parameter lists, responses) ----------------- */

static inline uint64_t get_be(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v = v << 8 | p[i];
	return v;
}
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)get_be(p, 2); }
static inline uint32_t get_be32(const uint8_t *p) { return (uint32_t)get_be(p, 4); }
static inline uint64_t get_be64(const uint8_t *p) { return get_be(p, 8); }

static inline void put_be(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = size; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}
static inline void put_be16(uint8_t *p, uint16_t v) { put_be(p, 2, v); }
static inline void put_be32(uint8_t *p, uint32_t v) { put_be(p, 4, v); }
static inline void put_be64(uint8_t *p, uint64_t v) { put_be(p, 8, v); }

/* ---- sense data (sense.c) ------------------------------------------------- */

enum {
	SENSE_NO_SENSE = 0x0,
	SENSE_NOT_READY = 0x2,
	SENSE_MEDIUM_ERROR = 0x3,
	SENSE_HARDWARE_ERROR = 0x4,
	SENSE_ILLEGAL_REQUEST = 0x5,
	SENSE_UNIT_ATTENTION = 0x6,
	SENSE_DATA_PROTECT = 0x7,
	SENSE_COPY_ABORTED = 0xa,
	SENSE_ABORTED_COMMAND = 0xb,
	SENSE_MISCOMPARE = 0xe,
};

/* Additional sense code and qualifier, ASC in the high byte. */
enum {
	ASC_NONE = 0x0000,
	ASC_UNREACHABLE_COPY_TARGET = 0x0804,
	ASC_UNRECOVERED_READ_ERROR = 0x1100,
	ASC_MISCOMPARE_DURING_VERIFY = 0x1d00,
	ASC_PARAM_LIST_LENGTH_ERROR = 0x1a00,
	ASC_INVALID_OPCODE = 0x2000,
	ASC_LBA_OUT_OF_RANGE = 0x2100,
	ASC_INVALID_FIELD_IN_CDB = 0x2400,
	ASC_LUN_NOT_SUPPORTED = 0x2500,
	ASC_INVALID_FIELD_IN_PARAM = 0x2600,
	ASC_TOO_MANY_CSCDS = 0x2606,
	ASC_UNSUPPORTED_CSCD_TYPE = 0x2607,
	ASC_TOO_MANY_SEGMENTS = 0x2608,
	ASC_UNSUPPORTED_SEGMENT_TYPE = 0x2609,
	ASC_SOFTWARE_WRITE_PROTECTED = 0x2702,
	ASC_SPACE_ALLOC_FAILED_WP = 0x2707,
	ASC_POWER_ON_RESET = 0x2900,
	ASC_BUS_DEVICE_RESET = 0x2903,
	ASC_COMMANDS_CLEARED = 0x2f00,
	ASC_DATA_PHASE_ERROR = 0x4b00,
	ASC_MODE_PARAMETERS_CHANGED = 0x2a01,
	ASC_CAPACITY_CHANGED = 0x2a09,
	ASC_INVALID_RELEASE_OF_PR = 0x2604,
	ASC_RESERVATIONS_PREEMPTED = 0x2a03,
	ASC_RESERVATIONS_RELEASED = 0x2a04,
	ASC_REGISTRATIONS_PREEMPTED = 0x2a05,
	ASC_SAVING_NOT_SUPPORTED = 0x3900,
	ASC_THIN_THRESHOLD_REACHED = 0x3807,
	ASC_REPORTED_LUNS_CHANGED = 0x3f0e,
	ASC_INTERNAL_TARGET_FAILURE = 0x4400,
	ASC_INSUFFICIENT_RESOURCES = 0x5503,
	ASC_INSUFFICIENT_REGISTRATION_RESOURCES = 0x5504,
};

#define SENSE_FIXED_LEN 18u

/* Fixed-format sense (SPC-4 4.5.3) into sense[SENSE_FIXED_LEN]. */
void sense_fixed(uint8_t *sense, uint8_t key, uint16_t asc_ascq);
/* INFORMATION field; VALID only when info fits its four bytes. */
void sense_set_information(uint8_t *sense, uint64_t info);
/* Sense-key specific field pointer (SPC-4 4.5.2.4.2): byte of the CDB (in_cdb)
 * or of the parameter list, and bit 0..7 of it, or -1 for the whole byte. */
void sense_set_field_pointer(uint8_t *sense, bool in_cdb, uint16_t byte, int bit);

/* CHECK CONDITION with fixed sense in the task. */
void task_check(struct scsi_task *task, uint8_t key, uint16_t asc_ascq);
void task_check_info(struct scsi_task *task, uint8_t key, uint16_t asc_ascq, uint64_t info);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB / IN PARAMETER LIST, with the field. */
void task_bad_cdb(struct scsi_task *task, uint16_t byte, int bit);
void task_bad_param(struct scsi_task *task, uint16_t byte, int bit);

/* ---- targets, LUNs, nexuses (scsi.c) -------------------------------------- */

/* Unit attention conditions, a bit each (scsi.c's ua_codes[] gives the order
 * they are reported in). */
enum ua_bits {
	UA_POWER_ON = 1,        /* 29/00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
	UA_CAPACITY = 2,        /* 2A/09 CAPACITY DATA HAS CHANGED */
	UA_LUNS_CHANGED = 4,    /* 3F/0E REPORTED LUNS DATA HAS CHANGED */
	UA_MODE_CHANGED = 8,    /* 2A/01 MODE PARAMETERS CHANGED */
	UA_THIN_THRESHOLD = 16, /* 38/07 THIN PROVISIONING SOFT THRESHOLD REACHED */
	UA_REGS_PREEMPTED = 32, /* 2A/05 REGISTRATIONS PREEMPTED */
	UA_RES_PREEMPTED = 64,  /* 2A/03 RESERVATIONS PREEMPTED */
	UA_RES_RELEASED = 128,  /* 2A/04 RESERVATIONS RELEASED */
	UA_LUN_RESET = 256,     /* 29/03 BUS DEVICE RESET FUNCTION OCCURRED */
	UA_CLEARED = 512,       /* 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR */
};

/* One I_T nexus: its initiator port name and pending unit attentions for
 * each LUN. */
struct scsi_nexus {
	struct scsi_nexus *next;
	uint64_t id;
	char port[SCSI_PORT_NAME_MAX];
	uint16_t ua[SCSI_MAX_LUNS];
};

/* A persistent reservation registration (pr.c): an initiator port (by name:
 * there is one target port) and its reservation key. */
struct pr_reg {
	struct pr_reg *next;
	uint64_t key;
	bool all_tg_pt;
	char port[SCSI_PORT_NAME_MAX];
};

/* Reservations of one LUN (pr.c).  holder is NULL when there is no
 * persistent reservation; for the ALL REGISTRANTS types every registration
 * holds it and holder is just one of them.  A RESERVE(6) reservation
 * (res2) belongs to a nexus id, not a port name: it ends with the nexus. */
struct pr_state {
	struct pr_reg *regs;
	uint32_t nregs;
	uint32_t generation;
	struct pr_reg *holder;
	uint8_t type;            /* PR type of the reservation, when holder */
	bool aptpl;              /* the last REGISTER asked to persist */
	bool res2;               /* a RESERVE(6)/(10) reservation exists */
	uint64_t res2_nexus;
};

struct scsi_lun {
	struct scsi_target *t;
	uint64_t number;
	struct cowstore *cs;     /* the pool of the volume */
	uint64_t volume_id;
	/* The volume id the LUN was mapped with: its serial number and NAA
	 * designator (VPD 80h, 83h).  A volume move switches volume_id, not
	 * this: the initiator must see the same logical unit. */
	uint64_t serial_id;
	uint32_t generation;     /* counts the times the number was mapped */
	uint64_t nblocks;        /* capacity as last read from cowstore */
	bool present;
	bool wce;                /* caching mode page: 0 makes every write FUA */
	bool swp;                /* control mode page: software write protect */
	bool held;               /* scsi_target_hold_volume: tasks wait (hold.c) */
	uint32_t inflight;       /* tasks started and not finished */
	/* COMPARE AND WRITE exclusion (io.c): tasks whose compare-and-write is in
	 * flight, and tasks parked until none of those overlaps them. */
	struct scsi_task *caw_active;
	struct scsi_task *parked_head, *parked_tail;
	struct pr_state pr;
};

/* The status of one EXTENDED COPY, for RECEIVE COPY RESULTS (xcopy.c). */
#define XCOPY_SLOTS 8u
struct xcopy_slot {
	bool used;
	uint64_t nexus_id;
	uint8_t list_id;
	uint8_t status;             /* COPY STATUS once ended */
	uint32_t segments_done;
	uint64_t transfer_blocks;
	struct scsi_task *task;     /* the copy while it runs */
	void (*transport_done)(struct scsi_task *task);
};

struct scsi_target {
	struct cowstore *cs;     /* the pool of a LUN added without one */
	struct cowstore_queue *queue;
	char name[224];
	uint32_t name_hash;      /* FNV-1a of name: part of every LUN's NAA identifier */
	struct scsi_lun luns[SCSI_MAX_LUNS];
	struct scsi_nexus *nexuses;
	struct xcopy_slot xcopy[XCOPY_SLOTS];
	unsigned xcopy_next;     /* the slot to reuse first */
	/* Tasks waiting for a held LUN (hold.c), in arrival order, linked by
	 * task_state.link. */
	struct scsi_task *held_head, *held_tail;
	struct qos_gate *gate;       /* NULL: IO goes straight to cowstore */
	scsi_pr_save_fn pr_save;     /* NULL: APTPL is refused */
	void *pr_save_arg;
};

/* Read the volume's size from cowstore; a change raises CAPACITY DATA HAS
 * CHANGED on every nexus.  Returns 0 or a negative errno. */
int lun_refresh_size(struct scsi_lun *lun);
/* Pending unit attention for the task's nexus and LUN: take it (clear it)
 * into sense[SENSE_FIXED_LEN]; false when none waits. */
bool nexus_take_ua(struct scsi_target *t, struct scsi_task *task, uint8_t *sense);
/* MODE SELECT changed a page of lun: MODE PARAMETERS CHANGED for the other
 * nexuses (SPC-4 6.13). */
void nexus_mode_changed(struct scsi_target *t, uint64_t lun, uint64_t except_nexus_id);
/* REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED on every LUN of the nexus. */
void nexus_clear_luns_changed(struct scsi_target *t, uint64_t nexus_id);
/* Mode parameters back to their defaults (mode.c), after a reset. */
void mode_reset(struct scsi_lun *lun);
struct scsi_nexus *nexus_find(struct scsi_target *t, uint64_t id);
/* Raise ua on lun for every nexus whose initiator port is named port. */
void nexus_port_ua(struct scsi_target *t, uint64_t lun, const char *port, uint16_t ua);

/* ---- the command table (opcodes.c) ---------------------------------------- */

typedef void (*task_fn)(struct scsi_task *task);

enum cmd_flags {
	CMD_ANY_LUN = 1,  /* runs on a LUN that is not present (SPC-4 4.6.2) */
	CMD_NO_UA = 2,    /* does not report a pending unit attention */
	/* What a nexus that does not hold the LUN's reservation may run (the
	 * tables of SPC-4 5.13.1 and SBC-3 4.17); neither flag: conflict. */
	CMD_PR_ALLOWED = 4, /* under every persistent reservation type */
	CMD_PR_READ = 8,    /* under the WRITE EXCLUSIVE types only */
	CMD_RES2_ALLOWED = 16, /* under another nexus's RESERVE(6) (SPC-2 5.5.1) */
	CMD_WRITES = 32,  /* changes the medium: refused while SWP is set */
};
enum len_unit {
	LEN_NONE,
	LEN_BYTES,        /* allocation or parameter list length */
	LEN_BLOCKS,       /* transfer length in logical blocks */
	LEN_SPECIAL,      /* data_len() decides */
};

struct scsi_cmd {
	const char *name;
	uint8_t opcode;
	int16_t sa;                /* service action, or -1 */
	uint8_t cdb_len;
	uint8_t flags;
	enum scsi_dir dir;
	uint8_t lba_off, lba_size; /* LOGICAL BLOCK ADDRESS field, size 0 if none */
	uint8_t len_off, len_size; /* length field, size 0 if none */
	enum len_unit len_unit;
	uint32_t (*data_len)(const uint8_t *cdb); /* LEN_SPECIAL */
	task_fn exec;
	uint8_t usage[16];         /* CDB usage bitmap (SPC-4 6.35.3): settable bits */
};

/* The command for a CDB; NULL if not supported.  *bad_sa is set when the
 * opcode is known but its service action is not. */
const struct scsi_cmd *cmd_lookup(const uint8_t *cdb, bool *bad_sa);
/* By opcode and service action (-1: none), for REPORT SUPPORTED OPCODES. */
const struct scsi_cmd *cmd_find(uint8_t opcode, int sa);
bool cmd_opcode_has_sa(uint8_t opcode);
size_t cmd_count(void);
const struct scsi_cmd *cmd_at(size_t i);
/* The LBA and length fields of a block command (READ(6) style included). */
uint64_t cmd_lba(const struct scsi_cmd *cmd, const uint8_t *cdb);
uint32_t cmd_len_field(const struct scsi_cmd *cmd, const uint8_t *cdb);
/* Bytes the command moves (0 when the CDB asks for more than we allow). */
uint32_t cmd_data_len(const struct scsi_cmd *cmd, const uint8_t *cdb);

/* ---- task state and IO on cowstore (io.c) --------------------------------- */

enum task_flags {
	TS_SAME_BUF = 1,     /* every chunk uses the same buffer (WRITE SAME, VERIFY) */
	TS_CAW_ACTIVE = 2,   /* on lun->caw_active */
};

struct task_state {
	struct scsi_target *t;
	struct scsi_lun *lun;     /* NULL when the LUN is not present */
	struct scsi_lun *lun2;    /* EXTENDED COPY: the other LUN of its piece */
	const struct scsi_cmd *cmd;
	uint8_t *buf;             /* data for the next chunk */
	uint8_t *scratch;         /* owned by the task; task_finish() frees it */
	task_fn after_io;         /* runs when the last chunk has completed */
	task_fn resume;           /* runs when a parked or held task may go on */
	struct scsi_task *link;   /* on lun->caw_active, lun->parked_* or t->held_* */
	uint64_t next_lba;
	uint32_t left_blocks;
	uint32_t cursor;          /* command progress (UNMAP: next descriptor) */
	uint16_t flags;
};
_Static_assert(sizeof(struct task_state) <= sizeof(((struct scsi_task *)0)->state),
	       "struct task_state must fit in scsi_task.state");

static inline struct task_state *task_state(struct scsi_task *task)
{
	return (struct task_state *)(void *)task->state;
}

/* Run op over blocks [lba, lba + nblocks) as cowstore requests of at most
 * COWSTORE_MAX_IO_BYTES, one after another, then call after(task).  A failed
 * request ends the task with the matching sense.  FLUSH takes nblocks 0. */
void io_run(struct scsi_task *task, enum cowstore_op op, unsigned flags, uint64_t lba,
	    uint32_t nblocks, uint8_t *buf, task_fn after);
/* COPY nblocks from src_volume_id at src_lba into the task's LUN at lba
 * (cowstore shares extents where aligned), then call after(task).  The
 * source must be in the LUN's pool. */
void io_copy(struct scsi_task *task, uint64_t lba, uint64_t src_volume_id, uint64_t src_lba,
	     uint32_t nblocks, task_fn after);
/* COMPARE AND WRITE: become the owner of [lba, lba + nblocks) against other
 * writes (waiting for an overlapping compare-and-write first), then start(). */
void io_caw_begin(struct scsi_task *task, task_fn start);
/* Status and sense for a cowstore error; ends the task. */
void task_fail_errno(struct scsi_task *task, int err, uint64_t error_lba);
/* End the task: release what it holds, then call done(). */
void task_finish(struct scsi_task *task);
/* Copy a response into the data-in buffer (capped by allocation length and
 * transfer_len) and end the task with GOOD. */
void task_data_in(struct scsi_task *task, const uint8_t *resp, uint32_t resp_len,
		  uint32_t alloc_len);

/* ---- holds for volume moves (hold.c) --------------------------------------- */

/* Is lun present and held?  Then a task does nothing on it: it waits. */
bool lun_held(const struct scsi_lun *lun);
/* The task waits, counted nowhere, at the end of the target's held list;
 * resume(task) runs when a hold may have ended, and must check again. */
void hold_wait(struct scsi_task *task, task_fn resume);
/* Resume every held task once, in order: a hold ended, or a LUN went. */
void holds_kick(struct scsi_target *t);
/* End the held tasks of nexus_id on lun (HOLD_ANY: every nexus, every LUN;
 * lun is the one the task was sent to) with TASK ABORTED. */
#define HOLD_ANY UINT64_MAX
void holds_abort(struct scsi_target *t, uint64_t nexus_id, uint64_t lun);

/* ---- reservations (pr.c) -------------------------------------------------- */

/* Does the LUN's reservation forbid this command to the task's nexus?  Then
 * the task has RESERVATION CONFLICT status and the answer is true. */
bool pr_conflict(struct scsi_task *task, const struct scsi_cmd *cmd);
/* The nexus went away, or a reset: release RESERVE(6) reservations it held
 * (nexus_id), or all of them on lun (reset). */
void pr_nexus_gone(struct scsi_lun *lun, uint64_t nexus_id);
void pr_reset(struct scsi_lun *lun);
/* Free the registrations of a LUN being removed or destroyed. */
void pr_clear_all(struct scsi_lun *lun);
void pr_in(struct scsi_task *task);
void pr_out(struct scsi_task *task);
void pr_reserve2(struct scsi_task *task);
void pr_release2(struct scsi_task *task);
uint32_t pr_out_data_len(const uint8_t *cdb);

/* ---- command handlers (spc.c, inquiry.c, mode.c, sbc.c) -------------------- */

void spc_test_unit_ready(struct scsi_task *task);
void spc_request_sense(struct scsi_task *task);
void spc_report_luns(struct scsi_task *task);
void spc_start_stop_unit(struct scsi_task *task);
void spc_prevent_allow(struct scsi_task *task);
void spc_report_opcodes(struct scsi_task *task);
void spc_report_tpgs(struct scsi_task *task);
void spc_inquiry(struct scsi_task *task);
void spc_mode_sense(struct scsi_task *task);
void spc_mode_select(struct scsi_task *task);
void spc_extended_copy(struct scsi_task *task);
void spc_copy_status(struct scsi_task *task);
void spc_copy_operating_parameters(struct scsi_task *task);
/* The Third-party Copy VPD page (8Fh), header included; its length. */
uint32_t xcopy_vpd_page(uint8_t *d);
/* The LUN's NAA 6 designator (VPD page 83h), 16 bytes. */
void lun_naa(const struct scsi_lun *lun, uint8_t *naa);

void sbc_read(struct scsi_task *task);
void sbc_write(struct scsi_task *task);
void sbc_write_verify(struct scsi_task *task);
void sbc_verify(struct scsi_task *task);
void sbc_read_capacity10(struct scsi_task *task);
void sbc_read_capacity16(struct scsi_task *task);
void sbc_sync_cache(struct scsi_task *task);
void sbc_write_same(struct scsi_task *task);
void sbc_unmap(struct scsi_task *task);
void sbc_get_lba_status(struct scsi_task *task);
void sbc_read_defect_data(struct scsi_task *task);
void sbc_prefetch(struct scsi_task *task);
void sbc_compare_and_write(struct scsi_task *task);
void sbc_orwrite(struct scsi_task *task);
void sbc_write_atomic(struct scsi_task *task);
uint32_t sbc_verify_data_len(const uint8_t *cdb);
uint32_t sbc_write_same_data_len(const uint8_t *cdb);
uint32_t sbc_caw_data_len(const uint8_t *cdb);
uint32_t sbc_rc10_data_len(const uint8_t *cdb);

#endif /* SLATE_TARGET_SCSI_INTERNAL_H */
