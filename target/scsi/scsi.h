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
 */
#ifndef SLATE_TARGET_SCSI_H
#define SLATE_TARGET_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowstore/cowstore.h"

#define SCSI_SENSE_MAX 64
#define SCSI_MAX_LUNS 256

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

/* One command.  The transport fills the "in" fields, calls
 * scsi_task_execute(), and gets done() exactly once. */
struct scsi_task {
	/* in */
	uint64_t lun;
	uint8_t cdb[32];
	uint8_t cdb_len;
	uint32_t transfer_len; /* the initiator's expected data transfer length */
	uint64_t nexus_id;     /* I_T nexus (one per iSCSI session): UAs, reservations */
	/* Data-out: all of it, transfer_len bytes, before execute; data-in: a
	 * buffer of transfer_len bytes that the command fills. */
	uint8_t *data;
	void (*done)(struct scsi_task *task);
	void *priv;

	/* out, valid in done() */
	uint8_t status;
	uint8_t sense[SCSI_SENSE_MAX]; /* fixed-format sense data */
	uint32_t sense_len;
	uint32_t data_in_len;  /* bytes of data to send back (<= transfer_len) */

	/* private to target/scsi */
	struct cowstore_io io;
	uint64_t state[8];
};

/* What a transport needs to know before it has the data. */
struct scsi_cdb_info {
	enum scsi_dir dir;
	uint32_t data_len; /* bytes the CDB asks to move */
	bool known;        /* false: unsupported opcode (execute answers it) */
};
void scsi_cdb_info(const uint8_t *cdb, uint8_t cdb_len, struct scsi_cdb_info *info);

/* A SCSI target device: a set of LUNs on one pool.  name is the target's
 * name (iSCSI IQN) for VPD 0x83; the queue must belong to the calling
 * thread.  The caller owns *out; scsi_target_destroy() releases it. */
int scsi_target_create(struct cowstore *cs, struct cowstore_queue *queue, const char *name,
		       struct scsi_target **out);
void scsi_target_destroy(struct scsi_target *t);
/* Map a cowstore volume as a LUN (0..SCSI_MAX_LUNS-1). */
int scsi_target_add_lun(struct scsi_target *t, uint64_t lun, uint64_t volume_id);
int scsi_target_lun_count(const struct scsi_target *t);

/* Start a command; done() runs later (or before this returns, for commands
 * that need no IO).  Never fails: errors come back as status and sense. */
void scsi_task_execute(struct scsi_target *t, struct scsi_task *task);

#endif /* SLATE_TARGET_SCSI_H */
