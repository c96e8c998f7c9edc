/*
 * sbc.c - SCSI block commands (SBC-3) on a cowstore volume: READ/WRITE
 * 6/10/12/16 (FUA), WRITE AND VERIFY, VERIFY (BYTCHK 0 reads and checks
 * checksums, 1 compares), READ CAPACITY 10/16, SYNCHRONIZE CACHE, PRE-FETCH,
 * UNMAP and WRITE SAME (UNMAP bit, NDOB, or zeros: write-zeroes).
 *
 * IO runs as a chain of cowstore requests of at most COWSTORE_MAX_IO_BYTES,
 * one after another, tracked in struct progress inside task->state.
 * cowstore errors map to sense: -EINVAL out of range (21/00), -ENOSPC pool
 * full (07/27/07), -EIO checksum (03/11/00 with the LBA), -ENOENT no LUN.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

#define MAX_CHUNK_BLOCKS (COWSTORE_MAX_IO_BYTES / BLOCK_BYTES)
#define WRITE_SAME_BUF_BLOCKS 2048u

enum step { STEP_IO, STEP_VERIFY_COMPARE, STEP_UNMAP };

struct progress {
	struct scsi_target *t;
	struct scsi_lun *lun;
	uint64_t lba;          /* next block */
	uint64_t left;         /* blocks still to do (in this descriptor, for UNMAP) */
	uint32_t done_bytes;   /* bytes of task->data already moved */
	enum cowstore_op op;
	unsigned flags;
	uint8_t *scratch;      /* VERIFY reads, WRITE SAME pattern: owned, freed at the end */
	uint32_t next_desc;    /* UNMAP: descriptors taken so far */
	uint8_t step;
	bool reuse_buf;        /* WRITE SAME: every chunk writes the same buffer */
};
_Static_assert(sizeof(struct progress) <= sizeof(((struct scsi_task *)0)->state),
	       "progress must fit in task->state");

static struct progress *prog(struct scsi_task *task) { return (struct progress *)task->state; }

static void map_error(struct scsi_task *task, int rc, uint64_t lba_hint)
{
	struct progress *p = prog(task);
	switch (rc) {
	case -EINVAL:
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		break;
	case -ENOSPC:
		sense_set(task, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED_WP);
		break;
	case -EIO:
		sense_set_info(task, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR,
			       task->io.error_lba ? task->io.error_lba : lba_hint);
		break;
	case -ENOENT:
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		break;
	default:
		sense_set(task, SK_HARDWARE_ERROR, ASC_INTERNAL_FAILURE);
	}
	(void)p;
}

static void finish(struct scsi_task *task)
{
	struct progress *p = prog(task);
	free(p->scratch);
	p->scratch = NULL;
	task->done(task);
}

static void submit_next(struct scsi_task *task);

static bool unmap_next_descriptor(struct scsi_task *task);

static void chunk_done(struct cowstore_io *io)
{
	struct scsi_task *task = io->priv;
	struct progress *p = prog(task);
	if (io->result) {
		map_error(task, io->result, p->lba);
		finish(task);
		return;
	}
	if (p->step == STEP_VERIFY_COMPARE) {
		const uint8_t *want = task->data + p->done_bytes;
		for (uint32_t i = 0; i < io->nsectors * BLOCK_BYTES; i++) {
			if (p->scratch[i] != want[i]) {
				sense_set_info(task, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
					       p->done_bytes + i);
				finish(task);
				return;
			}
		}
	}
	if (!p->reuse_buf && p->op != COWSTORE_OP_DISCARD && p->op != COWSTORE_OP_WRITE_ZEROES)
		p->done_bytes += io->nsectors * BLOCK_BYTES;
	p->lba += io->nsectors;
	p->left -= io->nsectors;
	if (p->left || (p->step == STEP_UNMAP && unmap_next_descriptor(task)))
		submit_next(task);
	else
		finish(task);
}

static void submit_next(struct scsi_task *task)
{
	struct progress *p = prog(task);
	uint32_t n = p->left < MAX_CHUNK_BLOCKS ? (uint32_t)p->left : MAX_CHUNK_BLOCKS;
	if (p->reuse_buf && n > WRITE_SAME_BUF_BLOCKS)
		n = WRITE_SAME_BUF_BLOCKS;
	struct cowstore_io *io = &task->io;
	memset(io, 0, sizeof(*io));
	io->op = p->op;
	io->flags = p->flags;
	io->volume_id = p->lun->volume_id;
	io->lba = p->lba;
	io->nsectors = n;
	if (p->op == COWSTORE_OP_READ || p->op == COWSTORE_OP_WRITE)
		io->buf = p->scratch && (p->reuse_buf || p->step == STEP_VERIFY_COMPARE ||
					 p->op == COWSTORE_OP_READ)
				  ? p->scratch
				  : task->data + p->done_bytes;
	if (p->op == COWSTORE_OP_READ && !p->scratch)
		io->buf = task->data + p->done_bytes;
	io->queue = p->t->queue;
	io->done = chunk_done;
	io->priv = task;
	int rc = cowstore_submit(p->t->cs, io);
	if (rc) {
		map_error(task, rc, p->lba);
		finish(task);
	}
}

/* Start IO over [lba, lba+blocks): op on task->data (or scratch). */
static void start_io(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task,
		     enum cowstore_op op, uint64_t lba, uint64_t blocks, unsigned flags)
{
	struct progress *p = prog(task);
	uint8_t *scratch = p->scratch;
	bool reuse = p->reuse_buf;
	uint8_t step = p->step;
	memset(p, 0, sizeof(*p));
	*p = (struct progress){ .t = t, .lun = lun, .lba = lba, .left = blocks, .op = op,
				.flags = flags, .scratch = scratch, .step = step,
				.reuse_buf = reuse };
	if (lba + blocks < lba) {
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		finish(task);
		return;
	}
	if (op == COWSTORE_OP_READ && !scratch)
		task->data_in_len = (uint32_t)(blocks * BLOCK_BYTES);
	if (!blocks) {
		finish(task);
		return;
	}
	submit_next(task);
}

/* ---- CDB decoding ----------------------------------------------------- */

struct rw {
	uint64_t lba;
	uint32_t blocks;
	bool fua;
};

static bool decode_rw(const uint8_t *cdb, struct rw *rw)
{
	switch (cdb[0]) {
	case 0x08: case 0x0a:
		rw->lba = (uint64_t)(cdb[1] & 0x1f) << 16 | be16(cdb + 2);
		rw->blocks = cdb[4] ? cdb[4] : 256;
		rw->fua = false;
		return true;
	case 0x28: case 0x2a: case 0x2e: case 0x2f: case 0x34:
		rw->lba = be32(cdb + 2);
		rw->blocks = be16(cdb + 7);
		break;
	case 0xa8: case 0xaa:
		rw->lba = be32(cdb + 2);
		rw->blocks = be32(cdb + 6);
		break;
	case 0x88: case 0x8a: case 0x8e: case 0x90:
		rw->lba = be64(cdb + 2);
		rw->blocks = be32(cdb + 10);
		break;
	default:
		return false;
	}
	rw->fua = cdb[1] & 0x08;
	return true;
}

/* ---- commands --------------------------------------------------------- */

static void read_capacity(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task,
			  bool sixteen)
{
	uint64_t blocks = lun_blocks(t, lun);
	uint8_t d[32] = { 0 };
	if (!blocks) {
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	} else if (!sixteen) {
		put32(d, blocks - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(blocks - 1));
		put32(d + 4, BLOCK_BYTES);
		task_data_in(task, d, 8);
	} else {
		put64(d, blocks - 1);
		put32(d + 8, BLOCK_BYTES);
		d[13] = 3;           /* 8 logical blocks per 4 KiB physical block */
		d[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
		task_data_in(task, d, sizeof(d));
	}
	task->done(task);
}

/* UNMAP parameter list: 8-byte header, then 16-byte descriptors. */
static bool unmap_next_descriptor(struct scsi_task *task)
{
	struct progress *p = prog(task);
	uint32_t list_len = be16(task->cdb + 7);
	uint32_t desc_len = list_len >= 8 ? be16(task->data + 2) : 0;
	for (;;) {
		uint32_t off = 8 + p->next_desc * 16;
		if (off + 16 > 8 + desc_len || off + 16 > list_len)
			return false;
		p->next_desc++;
		p->lba = be64(task->data + off);
		p->left = be32(task->data + off + 8);
		if (p->left)
			return true;
	}
}

static void unmap(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	uint32_t list_len = be16(task->cdb + 7);
	if (list_len && (list_len < 8 || be16(task->data + 2) % 16 ||
			 be16(task->data + 2) + 8u > list_len)) {
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		task->done(task);
		return;
	}
	struct progress *p = prog(task);
	memset(p, 0, sizeof(*p));
	*p = (struct progress){ .t = t, .lun = lun, .op = COWSTORE_OP_DISCARD, .step = STEP_UNMAP };
	if (list_len && unmap_next_descriptor(task))
		submit_next(task);
	else
		task->done(task);
}

static bool all_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void write_same(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	bool sixteen = cdb[0] == 0x93;
	uint64_t lba = sixteen ? be64(cdb + 2) : be32(cdb + 2);
	uint32_t blocks = sixteen ? be32(cdb + 10) : be16(cdb + 7);
	bool zeroes = (cdb[1] & 0x08) || (cdb[1] & 0x01) || all_zero(task->data, BLOCK_BYTES);
	struct progress *p = prog(task);
	memset(p, 0, sizeof(*p));
	if (blocks == 0 || blocks > MAX_CHUNK_BLOCKS) { /* 0 would mean "to the end" */
		sense_cdb_field(task, sixteen ? 10 : 7, -1);
		task->done(task);
		return;
	}
	if (!zeroes) {
		uint32_t n = blocks < WRITE_SAME_BUF_BLOCKS ? blocks : WRITE_SAME_BUF_BLOCKS;
		p->scratch = malloc((size_t)n * BLOCK_BYTES);
		if (!p->scratch) {
			sense_set(task, SK_HARDWARE_ERROR, ASC_INTERNAL_FAILURE);
			task->done(task);
			return;
		}
		for (uint32_t i = 0; i < n; i++)
			memcpy(p->scratch + (size_t)i * BLOCK_BYTES, task->data, BLOCK_BYTES);
		p->reuse_buf = true;
	}
	start_io(t, lun, task, zeroes ? COWSTORE_OP_WRITE_ZEROES : COWSTORE_OP_WRITE, lba, blocks,
		 0);
}

static void verify(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	struct rw rw;
	decode_rw(task->cdb, &rw);
	struct progress *p = prog(task);
	memset(p, 0, sizeof(*p));
	uint32_t n = rw.blocks < MAX_CHUNK_BLOCKS ? rw.blocks : MAX_CHUNK_BLOCKS;
	if (rw.blocks && !(p->scratch = malloc((size_t)n * BLOCK_BYTES))) {
		sense_set(task, SK_HARDWARE_ERROR, ASC_INTERNAL_FAILURE);
		task->done(task);
		return;
	}
	if (task->cdb[1] & 0x02) /* BYTCHK: compare with the data sent */
		p->step = STEP_VERIFY_COMPARE;
	start_io(t, lun, task, COWSTORE_OP_READ, rw.lba, rw.blocks, 0);
	task->data_in_len = 0;
}

bool sbc_execute(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	struct rw rw;
	switch (cdb[0]) {
	case 0x08: case 0x28: case 0xa8: case 0x88: /* READ */
		decode_rw(cdb, &rw);
		start_io(t, lun, task, COWSTORE_OP_READ, rw.lba, rw.blocks, 0);
		return true;
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: /* WRITE */
	case 0x2e: case 0x8e:                       /* WRITE AND VERIFY: checksummed anyway */
		decode_rw(cdb, &rw);
		start_io(t, lun, task, COWSTORE_OP_WRITE, rw.lba, rw.blocks,
			 rw.fua ? COWSTORE_IO_FUA : 0);
		return true;
	case 0x2f: /* VERIFY(10) */
		verify(t, lun, task);
		return true;
	case 0x25:
		read_capacity(t, lun, task, false);
		return true;
	case 0x9e:
		if ((cdb[1] & 0x1f) != 0x10)
			return false;
		read_capacity(t, lun, task, true);
		return true;
	case 0x35: case 0x91: /* SYNCHRONIZE CACHE */
		start_io(t, lun, task, COWSTORE_OP_FLUSH, 0, 1, 0);
		return true;
	case 0x34: case 0x90: /* PRE-FETCH: nothing to warm */
		task->done(task);
		return true;
	case 0x42:
		unmap(t, lun, task);
		return true;
	case 0x41: case 0x93:
		write_same(t, lun, task);
		return true;
	}
	return false;
}
