/*
 * io.c - running a task's IO on cowstore: requests split at
 * COWSTORE_MAX_IO_BYTES and issued one after another, cowstore errors turned
 * into sense data, the end of a task, and COMPARE AND WRITE exclusion (which
 * ORWRITE, the other read-modify-write, shares).
 *
 * COMPARE AND WRITE exclusion.  cowstore runs overlapping requests in
 * submission order, but a compare-and-write is two requests (read, then
 * write) and another write must not land between them.  So each LUN keeps
 * the list of tasks whose compare-and-write is in flight (caw_active);
 * before any request that changes data (WRITE, WRITE_ZEROES, DISCARD or
 * COPY) is submitted, and before a compare-and-write starts, the task checks
 * that list, and if its range overlaps one in flight (other than itself) it is
 * parked (parked_head..tail, FIFO).  When a compare-and-write ends, every
 * parked task is retried in order; overlapping ones park again behind any
 * compare-and-write that was started by the retry.  Reads never wait: the
 * write half is one cowstore request, which is atomic.
 *
 * Pools.  A request goes to the pool of the LUN the task works on
 * (st->lun->cs); completions of every pool come back on the target's one
 * queue.
 *
 * QoS.  Each chunk goes through the target's QoS gate (qos.h), which may
 * submit it later from another thread (room freed, or its VM's limit
 * reached); its completion still comes back on this target's queue, and
 * chunk_done gives its room back first.  A chunk the gate refuses later
 * completes with the error, like any failed request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

static bool overlaps(uint64_t lba_a, uint64_t n_a, uint64_t lba_b, uint64_t n_b)
{
	return lba_a < lba_b + n_b && lba_b < lba_a + n_a;
}

/* The range of a compare-and-write comes from its CDB. */
static void caw_range(struct scsi_task *task, uint64_t *lba, uint64_t *nblocks)
{
	const struct scsi_cmd *cmd = task_state(task)->cmd;
	*lba = cmd_lba(cmd, task->cdb);
	*nblocks = cmd_len_field(cmd, task->cdb);
}

static bool caw_conflict(struct scsi_task *task, uint64_t lba, uint64_t nblocks)
{
	for (struct scsi_task *c = task_state(task)->lun->caw_active; c; c = task_state(c)->link) {
		uint64_t c_lba, c_n;
		caw_range(c, &c_lba, &c_n);
		if (c != task && overlaps(lba, nblocks, c_lba, c_n))
			return true;
	}
	return false;
}

static void park(struct scsi_task *task, task_fn resume)
{
	struct task_state *st = task_state(task);
	struct scsi_lun *lun = st->lun;
	st->resume = resume;
	st->link = NULL;
	if (lun->parked_tail)
		task_state(lun->parked_tail)->link = task;
	else
		lun->parked_head = task;
	lun->parked_tail = task;
}

static void caw_release(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct scsi_lun *lun = st->lun;
	for (struct scsi_task **p = &lun->caw_active; *p; p = &task_state(*p)->link) {
		if (*p == task) {
			*p = st->link;
			break;
		}
	}
	st->flags &= (uint16_t)~TS_CAW_ACTIVE;
	struct scsi_task *retry = lun->parked_head;
	lun->parked_head = lun->parked_tail = NULL;
	while (retry) {
		struct scsi_task *next = task_state(retry)->link;
		task_state(retry)->resume(retry);
		retry = next;
	}
}

static void caw_retry(struct scsi_task *task)
{
	io_caw_begin(task, task_state(task)->after_io);
}

void io_caw_begin(struct scsi_task *task, task_fn start)
{
	struct task_state *st = task_state(task);
	uint64_t lba, nblocks;
	caw_range(task, &lba, &nblocks);
	if (caw_conflict(task, lba, nblocks)) {
		st->after_io = start; /* unused until its IO starts */
		park(task, caw_retry); /* to check again, and become active */
		return;
	}
	st->flags |= TS_CAW_ACTIVE;
	st->link = st->lun->caw_active;
	st->lun->caw_active = task;
	start(task);
}

/* ---- chunks ----------------------------------------------------------------- */

static bool changes_data(enum cowstore_op op)
{
	return op == COWSTORE_OP_WRITE || op == COWSTORE_OP_WRITE_ZEROES ||
	       op == COWSTORE_OP_DISCARD || op == COWSTORE_OP_COPY;
}

static void submit_chunk(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct cowstore_io *io = &task->io;
	if (changes_data(io->op) && caw_conflict(task, io->lba, io->nsectors)) {
		park(task, submit_chunk);
		return;
	}
	int rc = qos_gate_submit(st->t->gate, &task->gate_req, st->lun->cs, io);
	if (rc)
		task_fail_errno(task, rc, 0);
}

static void chunk_done(struct cowstore_io *io);

static void next_chunk(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct cowstore_io *io = &task->io;
	uint32_t n = st->left_blocks < MAX_IO_BLOCKS ? st->left_blocks : MAX_IO_BLOCKS;
	io->lba = st->next_lba;
	io->nsectors = n;
	io->buf = st->buf;
	io->queue = st->t->queue;
	io->done = chunk_done;
	io->priv = task;
	submit_chunk(task);
}

static void chunk_done(struct cowstore_io *io)
{
	struct scsi_task *task = io->priv;
	struct task_state *st = task_state(task);
	qos_gate_done(st->t->gate, &task->gate_req); /* before the next chunk reuses it */
	if (io->result) {
		task_fail_errno(task, io->result, io->error_lba);
		return;
	}
	st->next_lba += io->nsectors;
	st->left_blocks -= io->nsectors;
	io->src_lba += io->nsectors; /* COPY: the source moves along */
	if (st->buf && !(st->flags & TS_SAME_BUF))
		st->buf += (size_t)io->nsectors * BLOCK_BYTES;
	if (st->left_blocks)
		next_chunk(task);
	else
		st->after_io(task);
}

static void io_setup(struct scsi_task *task, enum cowstore_op op, unsigned flags,
		     uint64_t lba, uint32_t nblocks, uint8_t *buf, task_fn after)
{
	struct task_state *st = task_state(task);
	memset(&task->io, 0, sizeof(task->io));
	task->io.op = op;
	task->io.flags = flags;
	task->io.volume_id = st->lun->volume_id;
	st->next_lba = lba;
	st->left_blocks = nblocks;
	st->buf = buf;
	st->after_io = after;
}

void io_run(struct scsi_task *task, enum cowstore_op op, unsigned flags, uint64_t lba,
	    uint32_t nblocks, uint8_t *buf, task_fn after)
{
	io_setup(task, op, flags, lba, nblocks, buf, after);
	next_chunk(task);
}

void io_copy(struct scsi_task *task, uint64_t lba, uint64_t src_volume_id, uint64_t src_lba,
	     uint32_t nblocks, task_fn after)
{
	io_setup(task, COWSTORE_OP_COPY, 0, lba, nblocks, NULL, after);
	task->io.src_volume_id = src_volume_id;
	task->io.src_lba = src_lba;
	next_chunk(task);
}

/* ---- ending a task ---------------------------------------------------------- */

void task_fail_errno(struct scsi_task *task, int err, uint64_t error_lba)
{
	switch (err) {
	case -ENOSPC:
		task_check(task, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED_WP);
		break;
	case -EIO:
		task_check_info(task, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR, error_lba);
		break;
	case -EINVAL: /* past the end: the volume shrank under us */
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		break;
	case -ENOENT: /* the volume was deleted */
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		break;
	case -ENOMEM:
	case -EAGAIN:
		task->status = SCSI_STATUS_BUSY;
		task->sense_len = 0;
		task->data_in_len = 0;
		break;
	default:
		task_check(task, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	task_finish(task);
}

void task_finish(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	if (st->flags & TS_CAW_ACTIVE)
		caw_release(task);
	free(st->scratch);
	st->scratch = NULL;
	if (st->lun)
		st->lun->inflight--;
	if (st->lun2)
		st->lun2->inflight--;
	if (task->status != SCSI_STATUS_GOOD)
		task->io_kind = SCSI_IO_NONE; /* only IO that was done is counted */
	task->done(task);
}

void task_data_in(struct scsi_task *task, const uint8_t *resp, uint32_t resp_len,
		  uint32_t alloc_len)
{
	uint32_t n = resp_len;
	if (n > alloc_len)
		n = alloc_len;
	if (n > task->transfer_len)
		n = task->transfer_len;
	if (n)
		memcpy(task->data, resp, n);
	task->data_in_len = n;
	task->status = SCSI_STATUS_GOOD;
	task_finish(task);
}
