/*
 * scsi.h - the SCSI command set (SPC-4 primary commands, SBC-3 block
 * commands) executed on cowstore volumes.  Transport-independent: the iSCSI
 * layer (target/iscsi) turns PDUs into struct scsi_task and back; this layer
 * decodes CDBs, checks fields, runs the IO on cowstore and builds status and
 * sense data.  Mirrors SPDK's split of lib/iscsi and lib/scsi.
 *
 * Threading: a scsi_target and its LUNs belong to one thread (the event
 * loop that owns the cowstore completion queue given at creation); tasks
 * complete through task->done(), called when that thread reaps the queue
 * (cowstore_queue_reap) or, for commands without IO, inside execute.
 *
 * Pools: each LUN is a volume of its own pool (struct cowstore), and every
 * cowstore call for a LUN goes to that pool.  The target's one completion
 * queue serves the requests of every pool: cowstore delivers a completion
 * to io->queue whichever pool ran it (the queue's own pool is not used).
 */
#ifndef SLATE_TARGET_SCSI_H
#define SLATE_TARGET_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowstore/cowstore.h"
#include "qos/qos.h"

#define SCSI_SENSE_MAX 64
#define SCSI_MAX_LUNS 256
/* Largest READ/WRITE/VERIFY transfer accepted (VPD B0 MAXIMUM TRANSFER
 * LENGTH), in 512-byte logical blocks: 32 MiB. */
#define SCSI_MAX_TRANSFER_BLOCKS 65536u

/* SAM status codes */
enum {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
	SCSI_STATUS_CONDITION_MET = 0x04,
	SCSI_STATUS_BUSY = 0x08,
	SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	SCSI_STATUS_TASK_SET_FULL = 0x28,
	SCSI_STATUS_TASK_ABORTED = 0x40,
};

enum scsi_dir {
	SCSI_DIR_NONE,
	SCSI_DIR_TO_DEV,   /* data-out: the initiator sends data (WRITE) */
	SCSI_DIR_FROM_DEV, /* data-in: the target sends data (READ) */
};

struct scsi_target;

enum scsi_io_kind { SCSI_IO_NONE, SCSI_IO_READ, SCSI_IO_WRITE };

/* One command.  The transport fills the "in" fields, calls
 * scsi_task_execute(), and gets done() exactly once. */
struct scsi_task {
	/* in */
	uint64_t lun;
	uint8_t cdb[32];
	uint8_t cdb_len;
	uint32_t transfer_len; /* the initiator's expected data transfer length */
	uint64_t nexus_id;     /* I_T nexus (one per iSCSI session): UAs, reservations */
	/* At least max(transfer_len, scsi_cdb_info().data_len) bytes.  Data-out:
	 * all of it (the first transfer_len bytes) before execute.  A WRITE
	 * whose CDB asks for more than transfer_len writes only the whole blocks
	 * it was sent (the transport reports the overflow residual); WRITE SAME,
	 * COMPARE AND WRITE and VERIFY with data must send exactly what the CDB
	 * says or are refused (INVALID FIELD IN CDB).  Data-in: the command fills
	 * data_in_len bytes, which may exceed transfer_len for a READ; the
	 * transport sends what the initiator expects and reports the residual. */
	uint8_t *data;
	void (*done)(struct scsi_task *task);
	void *priv;

	/* out, valid in done() */
	uint8_t status;
	uint8_t sense[SCSI_SENSE_MAX]; /* fixed-format sense data */
	uint32_t sense_len;
	uint32_t data_in_len;  /* bytes of data the command produced */
	/* IO accounting (QoS statistics): a READ- or WRITE-class command (READ,
	 * WRITE, WRITE AND VERIFY, WRITE ATOMIC, ORWRITE, COMPARE AND WRITE)
	 * that ends GOOD says so in io_kind, with the bytes it moved between
	 * the initiator and the medium and its LUN's volume; every other task
	 * has io_kind SCSI_IO_NONE. */
	uint8_t io_kind;       /* enum scsi_io_kind */
	uint32_t io_bytes;
	uint64_t io_volume_id;

	/* private to target/scsi */
	struct cowstore_io io;
	struct qos_gate_req gate_req; /* io's place at the QoS gate */
	uint64_t state[12];
};

/* What a transport needs to know before it has the data.  The transport
 * must give execute a data buffer (and transfer_len) of at least data_len.
 * data_len is 0 for a CDB that execute will refuse before it moves data
 * (a transfer above SCSI_MAX_TRANSFER_BLOCKS, a reserved BYTCHK value), so a
 * hostile CDB never makes the transport allocate gigabytes. */
struct scsi_cdb_info {
	enum scsi_dir dir;
	uint32_t data_len; /* bytes the CDB asks to move */
	bool known;        /* false: unsupported opcode (execute answers it) */
};
void scsi_cdb_info(const uint8_t *cdb, uint8_t cdb_len, struct scsi_cdb_info *info);

/* A SCSI target device: a set of LUNs.  cs is the pool of the LUNs added
 * without one.  name is the target's name (iSCSI IQN) for VPD 0x83; the
 * queue must belong to the calling thread, and may have been created on
 * any pool (see "Pools" above).  The caller owns *out;
 * scsi_target_destroy() releases it. */
int scsi_target_create(struct cowstore *cs, struct cowstore_queue *queue, const char *name,
		       struct scsi_target **out);
void scsi_target_destroy(struct scsi_target *t);
/* Map volume_id of pool cs (NULL: the target's pool) as a LUN
 * (0..SCSI_MAX_LUNS-1).  Volume ids must be unique across the pools of one
 * target: the LUN's identifiers (VPD 80h, 83h) are made from it.  Every
 * nexus gets REPORTED LUNS DATA HAS CHANGED.  -EBUSY while commands started
 * before the LUN number was last removed are still running (try again
 * later). */
int scsi_target_add_lun(struct scsi_target *t, uint64_t lun, struct cowstore *cs,
			uint64_t volume_id);
/* Unmap a LUN (-ENOENT if absent): from now on commands find it absent
 * (LOGICAL UNIT NOT SUPPORTED), those held included, which end at once;
 * those already running finish on its volume.  Every nexus gets REPORTED
 * LUNS DATA HAS CHANGED. */
int scsi_target_remove_lun(struct scsi_target *t, uint64_t lun);
/* Call after the LUN's volume was resized: rereads its size and, if it
 * changed, raises CAPACITY DATA HAS CHANGED on every nexus.  (READ CAPACITY
 * also rereads the size.) */
int scsi_target_lun_resized(struct scsi_target *t, uint64_t lun);
int scsi_target_lun_count(const struct scsi_target *t);
/* The pool crossed its soft threshold: every nexus gets THIN PROVISIONING
 * SOFT THRESHOLD REACHED on every LUN (SBC-3 4.7.3.7). */
void scsi_target_thin_threshold(struct scsi_target *t);

/* Start a command; done() runs later (or before this returns, for commands
 * that need no IO).  Never fails: errors come back as status and sense. */
void scsi_task_execute(struct scsi_target *t, struct scsi_task *task);

/* ---- volume moves: hold and switch ----------------------------------------
 * To move a volume online to another pool, its LUNs are held while the last
 * changes are copied, then switched to the copy.  cs NULL below means the
 * target's pool.  Holding again is harmless; a LUN mapped to the volume
 * after the hold was taken is not held until it is taken again.  A
 * switched LUN keeps its identity (serial number, NAA designator). */

/* Hold the LUNs mapped to volume (cs, volume_id): commands that reach
 * scsi_task_execute for them from now on wait in the target, in arrival
 * order, without starting (their unit attention, reservation and other
 * checks come when they start).  So does an EXTENDED COPY, from any LUN,
 * before a piece that reads or writes a held LUN.  Returns how many
 * commands are running on those LUNs (started before the hold). */
unsigned scsi_target_hold_volume(struct scsi_target *t, struct cowstore *cs, uint64_t volume_id);
/* Commands running on the volume through this target (0: quiet), those of
 * LUNs removed since it was held and still finishing included. */
unsigned scsi_target_volume_inflight(const struct scsi_target *t, struct cowstore *cs,
				     uint64_t volume_id);
/* End the hold.  to_cs not NULL: those LUNs now serve (to_cs, to_volume_id)
 * (size re-read; a new size raises CAPACITY DATA HAS CHANGED; the caller
 * checks that the volume exists); then the held commands run, in arrival
 * order.  A LUN removed while held lost its held commands at the removal
 * (LOGICAL UNIT NOT SUPPORTED). */
void scsi_target_release_volume(struct scsi_target *t, struct cowstore *cs, uint64_t volume_id,
				struct cowstore *to_cs, uint64_t to_volume_id);

/* Longest initiator port name, NUL included (iSCSI: a 223-byte name, then
 * ",i,0x" and 12 hex digits of ISID). */
#define SCSI_PORT_NAME_MAX 256

/* A new I_T nexus logged in / went away (unit attentions, reservations).
 * initiator_port names the initiator port for persistent reservations, which
 * belong to the port name and not to nexus_id: a nexus that goes away keeps
 * its registrations, and a later nexus with the same name holds them again.
 * iSCSI: "<initiator name>,i,0x<ISID in 12 hex digits>" (SPC-4 7.6.4.6).
 * NULL or a name too long gives the nexus a name of its own ("nexus.<id>").
 * A task whose nexus_id was never added creates its nexus on the spot, with
 * POWER ON, RESET OR BUS DEVICE RESET OCCURRED pending, like scsi_nexus_add,
 * and such a name.  Removing a nexus ends its held tasks (TASK ABORTED) and
 * releases its RESERVE(6) reservations. */
void scsi_nexus_add(struct scsi_target *t, uint64_t nexus_id, const char *initiator_port);
void scsi_nexus_remove(struct scsi_target *t, uint64_t nexus_id);

/* ---- task management (SAM-5 7.x) ----------------------------------------
 * The transport finds and aborts the tasks a function covers (tasks already
 * in cowstore run to their end, and their done() still comes); these give
 * the logical units the state the function leaves behind.
 * A task waiting on a held LUN (scsi_target_hold_volume) has not started:
 * the transport ends it with scsi_task_abort().  A reset and the removal of
 * a nexus also end the held tasks they cover that the transport left. */
bool scsi_target_lun_present(const struct scsi_target *t, uint64_t lun);
/* Abort a task that waits on a held LUN: it leaves the wait and done() runs
 * before this returns, with TASK ABORTED status.  false for a task that is
 * not waiting (running: its done() comes when it ends). */
bool scsi_task_abort(struct scsi_target *t, struct scsi_task *task);
/* LOGICAL UNIT RESET of one LUN (-ENOENT if absent) or a target reset of
 * all: held tasks sent to the LUN (all) end with TASK ABORTED, mode
 * parameters return to their defaults, RESERVE(6) reservations end
 * (persistent ones stay, SPC-4 5.13.1) and every nexus gets BUS DEVICE
 * RESET FUNCTION OCCURRED (LUN reset) or POWER ON, RESET, OR BUS DEVICE
 * RESET OCCURRED (target reset). */
int scsi_lun_reset(struct scsi_target *t, uint64_t lun);
void scsi_target_reset(struct scsi_target *t);
/* Tasks of nexus_id on lun were aborted by another nexus's CLEAR TASK SET:
 * COMMANDS CLEARED BY ANOTHER INITIATOR for that nexus (TAS is 0). */
void scsi_nexus_tasks_cleared(struct scsi_target *t, uint64_t nexus_id, uint64_t lun);
/* For a transport that ends a task itself, without executing it, because
 * its data transfer broke the protocol: CHECK CONDITION, ABORTED COMMAND,
 * DATA PHASE ERROR.  Sets status and sense only; done() is not called. */
void scsi_task_data_phase_error(struct scsi_task *task);

/* Persistent reservations that survive a restart (APTPL, SPC-4 5.13.5).
 * When a LUN's registrations or reservation change while the last APTPL
 * received is 1, the target calls save(arg, lun, blob, len) before the
 * command completes; when an APTPL 0 arrives it calls save with len 0,
 * meaning "forget what was saved".  save returns 0 or a negative errno (the
 * command then ends with HARDWARE ERROR, INTERNAL TARGET FAILURE; the new
 * state stays in memory).  Without a save function APTPL 1 is refused
 * (INVALID FIELD IN PARAMETER LIST) and REPORT CAPABILITIES says PTPL_C 0.
 * The blob is self-contained, versioned and checksummed (format in pr.c);
 * scsi_target_load_pr() restores it on a LUN already added, at start-up,
 * before any command: -EINVAL for a blob that is not exactly valid (the LUN
 * keeps what it had), -ENOENT if the LUN is absent. */
/* PREEMPT AND ABORT preempts as PREEMPT does but aborts nothing: a command of
 * a preempted nexus that is already running on cowstore cannot be recalled
 * and completes; every command that reaches scsi_task_execute() afterwards
 * (one still waiting in the transport for its data-out included) is judged
 * against the new reservation and registrations. */
/* IO goes through the QoS gate g (NULL: straight to cowstore): requests
 * may wait there for room, or for their VM's limit (qos.h).  Set before
 * any command; g must outlive the target. */
void scsi_target_set_gate(struct scsi_target *t, struct qos_gate *g);

typedef int (*scsi_pr_save_fn)(void *arg, uint64_t lun, const void *blob, size_t len);
void scsi_target_set_pr_save(struct scsi_target *t, scsi_pr_save_fn save, void *arg);
int scsi_target_load_pr(struct scsi_target *t, uint64_t lun, const void *blob, size_t len);

#endif /* SLATE_TARGET_SCSI_H */
