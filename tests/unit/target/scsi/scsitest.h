/*
 * scsitest.h - helpers shared by the target/scsi unit tests: a throw-away
 * pool with one volume mapped as LUN 0 of a target (and a second pool for
 * more LUNs), a task runner that
 * executes a CDB and reaps the cowstore queue until done() ran, CDB builders
 * and a check of status plus exact sense bytes.
 */
#ifndef SLATE_TESTS_TARGET_SCSI_SCSITEST_H
#define SLATE_TESTS_TARGET_SCSI_SCSITEST_H

#include <errno.h>

#include "target/scsi/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define NEXUS 1

struct fixture {
	struct test_pool tp;
	struct cowstore_queue *q;
	struct scsi_target *t;
	uint64_t vol;
	struct scsi_task task;
	int done_calls;
	uint64_t nexus; /* the next command's I_T nexus; 0 means NEXUS */
};

static inline void fixture_on_done(struct scsi_task *task)
{
	(*(int *)task->priv)++;
}

/* Execute the CDB on lun with data (transfer_len bytes, either direction)
 * as task, for f->nexus; done() counts in *done_calls. */
static inline void start_task(struct fixture *f, struct scsi_task *task, int *done_calls,
			      uint64_t lun, const uint8_t *cdb, uint8_t cdb_len, void *data,
			      uint32_t transfer_len)
{
	memset(task, 0, sizeof(*task));
	task->lun = lun;
	memcpy(task->cdb, cdb, cdb_len);
	task->cdb_len = 16; /* as iSCSI gives it */
	task->transfer_len = transfer_len;
	task->nexus_id = f->nexus ? f->nexus : NEXUS;
	task->data = data;
	task->done = fixture_on_done;
	*done_calls = 0;
	task->priv = done_calls;
	scsi_task_execute(f->t, task);
}

/* Reap completions until *done_calls is set or timeout_ms has passed;
 * whether it was set. */
static inline bool reap_until(struct fixture *f, const int *done_calls, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms && !*done_calls; waited += 10) {
		cowstore_queue_wait(f->q, 10);
		cowstore_queue_reap(f->q, 0);
	}
	return *done_calls != 0;
}

/* A task of its own, for tests that keep several going (held ones). */
struct pending {
	struct scsi_task task;
	int done;
};

static inline void start_on(struct fixture *f, struct pending *p, uint64_t lun,
			    const uint8_t *cdb, void *data, uint32_t transfer_len)
{
	start_task(f, &p->task, &p->done, lun, cdb, 16, data, transfer_len);
}

/* Execute the CDB on lun with data (transfer_len bytes, either direction) and
 * wait until done() ran; returns the task for checks. */
static inline struct scsi_task *run_on(struct fixture *f, uint64_t lun, const uint8_t *cdb,
				       uint8_t cdb_len, void *data, uint32_t transfer_len)
{
	start_task(f, &f->task, &f->done_calls, lun, cdb, cdb_len, data, transfer_len);
	reap_until(f, &f->done_calls, 100000);
	if (f->done_calls != 1)
		fprintf(stderr, "  done() ran %d times for opcode %02x\n", f->done_calls, cdb[0]);
	return &f->task;
}

static inline struct scsi_task *run(struct fixture *f, const uint8_t *cdb, void *data,
				    uint32_t transfer_len)
{
	return run_on(f, 0, cdb, 16, data, transfer_len);
}

/* Pool of pool_mib, a volume of vol_bytes as LUN 0; the POWER ON unit
 * attention is taken (and checked) with a TEST UNIT READY unless keep_ua. */
static inline int fixture_open(struct fixture *f, uint64_t pool_mib, uint64_t vol_bytes,
			       int keep_ua)
{
	memset(f, 0, sizeof(*f));
	if (test_pool_open(&f->tp, pool_mib, 0) ||
	    cowstore_volume_create(f->tp.cs, "vol", vol_bytes, &f->vol, NULL) ||
	    cowstore_queue_create(f->tp.cs, &f->q) ||
	    scsi_target_create(f->tp.cs, f->q, "iqn.2026-01.io.slate:test", &f->t) ||
	    scsi_target_add_lun(f->t, 0, NULL, f->vol))
		return -1;
	scsi_nexus_add(f->t, NEXUS, "iqn.2026-01.io.slate:initiator,i,0x000000000001");
	if (keep_ua)
		return 0;
	uint8_t tur[16] = { 0 };
	struct scsi_task *task = run(f, tur, NULL, 0);
	return task->status == SCSI_STATUS_CHECK_CONDITION && task->sense[12] == 0x29 ? 0 : -1;
}

/* A volume of vol_bytes in pool cs whose id no volume of the fixture's pool
 * has (volume ids are unique across the pools of an appliance; test pools
 * count from 1 each). */
static inline int fixture_other_volume(struct fixture *f, struct cowstore *cs,
				       uint64_t vol_bytes, uint64_t *vol)
{
	struct cowstore_volume_info info;
	char name[16];
	for (int i = 0;; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		if (cowstore_volume_create(cs, name, vol_bytes, vol, NULL))
			return -1;
		if (cowstore_volume_info(f->tp.cs, *vol, 0, &info) == -ENOENT)
			return 0;
	}
}

/* A second pool in tp with such a volume, mapped as lun. */
static inline int fixture_add_pool(struct fixture *f, struct test_pool *tp, uint64_t lun,
				   uint64_t vol_bytes, uint64_t *vol)
{
	if (test_pool_open(tp, 64, 0) || fixture_other_volume(f, tp->cs, vol_bytes, vol))
		return -1;
	return scsi_target_add_lun(f->t, lun, tp->cs, *vol);
}

static inline void fixture_close(struct fixture *f)
{
	scsi_target_destroy(f->t);
	if (f->q)
		cowstore_queue_destroy(f->q);
	test_pool_destroy(&f->tp);
}

/* CDB builders for the usual block layouts. */
static inline void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t nblocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, nblocks);
}

static inline void cdb16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t nblocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, nblocks);
}

#define CHECK_GOOD(task)                                                       \
	do {                                                                   \
		const struct scsi_task *g_ = (task);                           \
		CHECK_EQ(g_->status, SCSI_STATUS_GOOD);                        \
		CHECK_EQ(g_->sense_len, 0);                                    \
		if (g_->sense_len)                                             \
			fprintf(stderr, "    sense %x/%02x/%02x\n", g_->sense[2],  \
				g_->sense[12], g_->sense[13]);                 \
	} while (0)

/* CHECK CONDITION, fixed sense with key and ASC/ASCQ (ASC in the high byte). */
#define CHECK_SENSE(task, key, asc_ascq)                                       \
	do {                                                                   \
		const struct scsi_task *s_ = (task);                           \
		CHECK_EQ(s_->status, SCSI_STATUS_CHECK_CONDITION);             \
		CHECK_EQ(s_->sense_len, 18);                                   \
		CHECK_EQ(s_->sense[0] & 0x7f, 0x70);                           \
		CHECK_EQ(s_->sense[2], (key));                                 \
		CHECK_EQ(s_->sense[7], 10);                                    \
		CHECK_EQ(get_be16(s_->sense + 12), (asc_ascq));                \
		CHECK_EQ(s_->data_in_len, 0);                                  \
	} while (0)

/* ILLEGAL REQUEST with a field pointer: in the CDB (cd 1) or parameter list,
 * at byte, bit (-1: no bit pointer). */
#define CHECK_FIELD(task, asc_ascq, cd, byte, bit)                             \
	do {                                                                   \
		const struct scsi_task *f_ = (task);                           \
		CHECK_SENSE(f_, 0x05, asc_ascq);                               \
		CHECK_EQ(f_->sense[15], 0x80 | ((cd) ? 0x40 : 0) |             \
				 ((bit) >= 0 ? 0x08 | (bit) : 0));             \
		CHECK_EQ(get_be16(f_->sense + 16), (byte));                    \
	} while (0)

#define CHECK_BAD_CDB(task, byte, bit) CHECK_FIELD(task, 0x2400, 1, byte, bit)

#endif
