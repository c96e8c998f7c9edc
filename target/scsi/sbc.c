/*
 * sbc.c - SBC-3 block commands on a cowstore volume: READ/WRITE 6/10/12/16,
 * WRITE AND VERIFY and VERIFY 10/12/16, WRITE ATOMIC(16), COMPARE AND WRITE,
 * ORWRITE, WRITE SAME, UNMAP, READ CAPACITY 10/16, GET LBA STATUS, READ
 * DEFECT DATA, SYNCHRONIZE CACHE, PRE-FETCH.
 *
 * Logical blocks are 512 bytes (cowstore sectors); physical blocks 4 KiB.
 * Every LBA range is checked against the LUN's cached size before any IO
 * (LOGICAL BLOCK ADDRESS OUT OF RANGE); a volume that shrank since is caught
 * by cowstore (-EINVAL, same sense).  Large requests are split by io_run().
 * DPO is accepted and ignored; FUA, or WCE 0 in the caching page, makes a
 * write COWSTORE_IO_FUA.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

/* ---- shared checks ---------------------------------------------------------- */

static void cdb_range(struct scsi_task *task, uint64_t *lba, uint32_t *nblocks)
{
	const struct scsi_cmd *cmd = task_state(task)->cmd;
	*lba = cmd_lba(cmd, task->cdb);
	*nblocks = cmd_len_field(cmd, task->cdb);
}

/* The CDB's range, refused (false, task finished) when the length is above
 * max_blocks or the range passes the end of the LUN. */
static bool checked_range(struct scsi_task *task, uint32_t max_blocks, uint64_t *lba,
			  uint32_t *nblocks)
{
	const struct task_state *st = task_state(task);
	cdb_range(task, lba, nblocks);
	if (*nblocks > max_blocks) {
		task_bad_cdb(task, st->cmd->len_off, -1);
	} else if (*lba > st->lun->nblocks || st->lun->nblocks - *lba < *nblocks) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	} else {
		return true;
	}
	task_finish(task);
	return false;
}

/* Blocks a write really has data for: the initiator may send less than the
 * CDB says (iSCSI overflow); then only the whole blocks sent are written. */
static uint32_t sent_blocks(const struct scsi_task *task, uint32_t nblocks)
{
	uint32_t sent = task->transfer_len / BLOCK_BYTES;
	return nblocks < sent ? nblocks : sent;
}

static bool is_write_verify(const struct scsi_task *task)
{
	return task->cdb[0] == 0x2e || task->cdb[0] == 0xae || task->cdb[0] == 0x8e;
}

/* The range a VERIFY or WRITE AND VERIFY reads back and compares. */
static void verify_range(struct scsi_task *task, uint64_t *lba, uint32_t *nblocks)
{
	cdb_range(task, lba, nblocks);
	if (is_write_verify(task))
		*nblocks = sent_blocks(task, *nblocks);
}

static unsigned write_flags(struct scsi_task *task)
{
	const struct task_state *st = task_state(task);
	bool fua = st->cmd->cdb_len > 6 && (task->cdb[1] & 0x08);
	return fua || !st->lun->wce ? COWSTORE_IO_FUA : 0;
}

static uint8_t *scratch_alloc(struct scsi_task *task, uint32_t nblocks)
{
	struct task_state *st = task_state(task);
	st->scratch = malloc((size_t)nblocks * BLOCK_BYTES);
	if (!st->scratch)
		task_fail_errno(task, -ENOMEM, 0);
	return st->scratch;
}

static uint64_t first_difference(const uint8_t *a, const uint8_t *b, uint64_t len)
{
	if (memcmp(a, b, len) == 0)
		return len;
	uint64_t i = 0;
	while (a[i] == b[i])
		i++;
	return i;
}

/* Compares the blocks read (scratch) with the data-out buffer, which holds
 * either as many blocks (one_block false) or one block to match each.  On a
 * difference: MISCOMPARE with the offset of the first differing byte. */
static bool data_matches(struct scsi_task *task, const uint8_t *expected, uint32_t nblocks,
			 bool one_block)
{
	const uint8_t *medium = task_state(task)->scratch;
	uint64_t len = one_block ? BLOCK_BYTES : (uint64_t)nblocks * BLOCK_BYTES;
	for (uint32_t b = 0; b < (one_block ? nblocks : 1); b++) {
		uint64_t at = first_difference(medium + (uint64_t)b * len, expected, len);
		if (at < len) {
			task_check_info(task, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
					(uint64_t)b * len + at);
			task_finish(task);
			return false;
		}
	}
	return true;
}

/* The task moves nblocks for its initiator: READ- or WRITE-class IO, for
 * the statistics (cleared by task_finish unless the task ends GOOD). */
static void account(struct scsi_task *task, enum scsi_io_kind kind, uint32_t nblocks)
{
	task->io_kind = (uint8_t)kind;
	task->io_bytes = nblocks * BLOCK_BYTES;
	task->io_volume_id = task_state(task)->lun->volume_id;
}

/* ---- READ, WRITE, WRITE ATOMIC ---------------------------------------------- */

void sbc_read(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (!checked_range(task, MAX_TRANSFER_BLOCKS, &lba, &nblocks))
		return;
	if (!nblocks) { /* not an error (SBC-3 5.11) */
		task_finish(task);
		return;
	}
	task->data_in_len = nblocks * BLOCK_BYTES; /* cleared if the read fails */
	account(task, SCSI_IO_READ, nblocks);
	io_run(task, COWSTORE_OP_READ, 0, lba, nblocks, task->data, task_finish);
}

static void write_blocks(struct scsi_task *task, uint32_t max_blocks)
{
	uint64_t lba;
	uint32_t nblocks;
	if (!checked_range(task, max_blocks, &lba, &nblocks))
		return;
	nblocks = sent_blocks(task, nblocks);
	if (!nblocks) {
		task_finish(task);
		return;
	}
	account(task, SCSI_IO_WRITE, nblocks);
	io_run(task, COWSTORE_OP_WRITE, write_flags(task), lba, nblocks, task->data, task_finish);
}

void sbc_write(struct scsi_task *task) { write_blocks(task, MAX_TRANSFER_BLOCKS); }

/* SBC-4 5.48: one cowstore request is atomic, so the atomic boundary is
 * always honoured; the length is capped at one request. */
void sbc_write_atomic(struct scsi_task *task) { write_blocks(task, MAX_ATOMIC_BLOCKS); }

/* ---- WRITE AND VERIFY, VERIFY ----------------------------------------------- */

static void compare_with_data(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	verify_range(task, &lba, &nblocks);
	bool one_block = !is_write_verify(task) &&
			 ((task->cdb[1] >> 1) & 3) == 3; /* VERIFY with BYTCHK 11b */
	if (data_matches(task, task->data, nblocks, one_block))
		task_finish(task);
}

static void read_back(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	verify_range(task, &lba, &nblocks);
	io_run(task, COWSTORE_OP_READ, 0, lba, nblocks, task_state(task)->scratch,
	       compare_with_data);
}

/* The write (durable: the verification is of the medium), then a read of the
 * blocks compared with the data, whatever BYTCHK says: the comparison is the
 * stronger verification. */
void sbc_write_verify(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (!checked_range(task, MAX_TRANSFER_BLOCKS, &lba, &nblocks))
		return;
	nblocks = sent_blocks(task, nblocks);
	if (!nblocks) {
		task_finish(task);
		return;
	}
	if (!scratch_alloc(task, nblocks))
		return;
	account(task, SCSI_IO_WRITE, nblocks);
	io_run(task, COWSTORE_OP_WRITE, COWSTORE_IO_FUA, lba, nblocks, task->data, read_back);
}

/* VERIFY(10), (12) or (16): the length field (the table is not at hand in
 * scsi_cdb_info's callback). */
static uint32_t verify_blocks(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case 0x2f:
		return get_be16(cdb + 7);
	case 0xaf:
		return get_be32(cdb + 6);
	default:
		return get_be32(cdb + 10);
	}
}

uint32_t sbc_verify_data_len(const uint8_t *cdb)
{
	uint32_t nblocks = verify_blocks(cdb);
	switch ((cdb[1] >> 1) & 3) {
	case 1:
		return nblocks > MAX_TRANSFER_BLOCKS ? 0 : nblocks * BLOCK_BYTES;
	case 3:
		return BLOCK_BYTES;
	default:
		return 0;
	}
}

/* BYTCHK 0: read (checksums verify the medium); 1: compare with the data;
 * 3: compare every block with the one block of data (SBC-4 5.34). */
void sbc_verify(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint8_t bytchk = (task->cdb[1] >> 1) & 3;
	uint64_t lba;
	uint32_t nblocks;
	if (bytchk == 2) {
		task_bad_cdb(task, 1, 2);
		task_finish(task);
		return;
	}
	if (!checked_range(task, bytchk ? MAX_TRANSFER_BLOCKS : UINT32_MAX, &lba, &nblocks))
		return;
	if (!nblocks) {
		task_finish(task);
		return;
	}
	if (bytchk) {
		if (scratch_alloc(task, nblocks))
			read_back(task);
		return;
	}
	if (!scratch_alloc(task, nblocks < MAX_IO_BLOCKS ? nblocks : MAX_IO_BLOCKS))
		return;
	st->flags |= TS_SAME_BUF;
	io_run(task, COWSTORE_OP_READ, 0, lba, nblocks, st->scratch, task_finish);
}

/* ---- COMPARE AND WRITE ------------------------------------------------------ */

uint32_t sbc_caw_data_len(const uint8_t *cdb)
{
	return cdb[13] > 1 ? 0 : 2u * cdb[13] * BLOCK_BYTES; /* verify data, write data */
}

static void caw_write(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	cdb_range(task, &lba, &nblocks);
	if (data_matches(task, task->data, nblocks, false))
		io_run(task, COWSTORE_OP_WRITE, write_flags(task), lba, nblocks,
		       task->data + nblocks * BLOCK_BYTES, task_finish);
}

/* Read the blocks the initiator sent data for into scratch, then(). */
static void read_into_scratch(struct scsi_task *task, task_fn then)
{
	uint64_t lba;
	uint32_t nblocks;
	cdb_range(task, &lba, &nblocks);
	nblocks = sent_blocks(task, nblocks);
	if (scratch_alloc(task, nblocks))
		io_run(task, COWSTORE_OP_READ, 0, lba, nblocks, task_state(task)->scratch, then);
}

static void caw_read(struct scsi_task *task) { read_into_scratch(task, caw_write); }

/* SBC-3 5.2; atomic against other writes through io_caw_begin() (io.c). */
void sbc_compare_and_write(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (!checked_range(task, 1, &lba, &nblocks)) /* MAXIMUM COMPARE AND WRITE LENGTH */
		return;
	if (!nblocks) { /* nothing to do, but data sent for nothing is an error */
		if (task->transfer_len)
			task_bad_cdb(task, 13, -1);
		task_finish(task);
		return;
	}
	account(task, SCSI_IO_WRITE, nblocks);
	io_caw_begin(task, caw_read);
}

/* ---- ORWRITE ----------------------------------------------------------------- */

static void or_write(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	cdb_range(task, &lba, &nblocks);
	nblocks = sent_blocks(task, nblocks);
	uint8_t *medium = task_state(task)->scratch;
	for (size_t i = 0; i < (size_t)nblocks * BLOCK_BYTES; i++)
		medium[i] |= task->data[i];
	io_run(task, COWSTORE_OP_WRITE, write_flags(task), lba, nblocks, medium, task_finish);
}

static void or_read(struct scsi_task *task) { read_into_scratch(task, or_write); }

/* SBC-3 5.8: the medium becomes medium OR data, atomically against other
 * writes like COMPARE AND WRITE (so at most one cowstore request long). */
void sbc_orwrite(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (!checked_range(task, MAX_ATOMIC_BLOCKS, &lba, &nblocks))
		return;
	if (!sent_blocks(task, nblocks)) {
		task_finish(task);
		return;
	}
	account(task, SCSI_IO_WRITE, sent_blocks(task, nblocks));
	io_caw_begin(task, or_read);
}

/* ---- WRITE SAME, UNMAP ------------------------------------------------------ */

static bool ndob(const uint8_t *cdb) { return cdb[0] == 0x93 && (cdb[1] & 0x01); }

uint32_t sbc_write_same_data_len(const uint8_t *cdb) { return ndob(cdb) ? 0 : BLOCK_BYTES; }

static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* SBC-3 5.42: zeros (or NDOB) become a discard (UNMAP bit) or write-zeroes;
 * other data is written, replicated.  Unmapped blocks read as zeros
 * (LBPRZ), so non-zero data is written even with the UNMAP bit. */
void sbc_write_same(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint64_t lba;
	uint32_t nblocks;
	bool unmap = task->cdb[1] & 0x08;
	if (cmd_len_field(st->cmd, task->cdb) == 0) { /* WSNZ */
		task_bad_cdb(task, st->cmd->len_off, -1);
		task_finish(task);
		return;
	}
	if (!checked_range(task, MAX_WRITE_SAME_BLOCKS, &lba, &nblocks))
		return;
	if (ndob(task->cdb) || all_zero(task->data, BLOCK_BYTES)) {
		io_run(task, unmap ? COWSTORE_OP_DISCARD : COWSTORE_OP_WRITE_ZEROES,
		       write_flags(task), lba, nblocks, NULL, task_finish);
		return;
	}
	uint32_t chunk = nblocks < MAX_IO_BLOCKS ? nblocks : MAX_IO_BLOCKS;
	if (!scratch_alloc(task, chunk))
		return;
	for (uint32_t b = 0; b < chunk; b++)
		memcpy(st->scratch + (size_t)b * BLOCK_BYTES, task->data, BLOCK_BYTES);
	st->flags |= TS_SAME_BUF;
	io_run(task, COWSTORE_OP_WRITE, write_flags(task), lba, nblocks, st->scratch, task_finish);
}

#define UNMAP_HEADER 8u
#define UNMAP_DESCRIPTOR 16u

static uint32_t unmap_list_len(const struct scsi_task *task)
{
	uint32_t len = get_be16(task->cdb + 7);
	return len < task->transfer_len ? len : task->transfer_len;
}

static uint32_t unmap_count(const struct scsi_task *task)
{
	return get_be16(task->data + 2) / UNMAP_DESCRIPTOR; /* an incomplete one is ignored */
}

/* SBC-3 5.28: every length and every descriptor checked before any unmap. */
static bool unmap_list_valid(struct scsi_task *task)
{
	const struct scsi_lun *lun = task_state(task)->lun;
	const uint8_t *d = task->data;
	uint32_t len = unmap_list_len(task), total = 0;
	if (len < UNMAP_HEADER) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	uint32_t bd_len = get_be16(d + 2);
	if (bd_len > len - UNMAP_HEADER || unmap_count(task) > MAX_UNMAP_DESCRIPTORS) {
		task_bad_param(task, 2, -1);
		return false;
	}
	if (get_be16(d) < bd_len + 6) {
		task_bad_param(task, 0, -1);
		return false;
	}
	for (uint32_t i = 0; i < unmap_count(task); i++) {
		const uint8_t *desc = d + UNMAP_HEADER + i * UNMAP_DESCRIPTOR;
		uint64_t lba = get_be64(desc);
		uint32_t nblocks = get_be32(desc + 8);
		total += nblocks;
		if (nblocks > MAX_UNMAP_BLOCKS || total > MAX_UNMAP_BLOCKS) {
			task_bad_param(task, (uint16_t)(UNMAP_HEADER + i * UNMAP_DESCRIPTOR + 8), -1);
			return false;
		}
		if (lba > lun->nblocks || lun->nblocks - lba < nblocks) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return false;
		}
	}
	return true;
}

static void unmap_next(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	while (st->cursor < unmap_count(task)) {
		const uint8_t *desc = task->data + UNMAP_HEADER + st->cursor++ * UNMAP_DESCRIPTOR;
		uint32_t nblocks = get_be32(desc + 8);
		if (nblocks) {
			io_run(task, COWSTORE_OP_DISCARD, 0, get_be64(desc), nblocks, NULL,
			       unmap_next);
			return;
		}
	}
	task_finish(task);
}

void sbc_unmap(struct scsi_task *task)
{
	if (unmap_list_len(task) == 0 || unmap_list_valid(task))
		unmap_next(task);
	else
		task_finish(task);
}

/* ---- capacity, status, cache ------------------------------------------------ */

uint32_t sbc_rc10_data_len(const uint8_t *cdb) { return 8; }

/* Rereads the size (a resize shows here even if nobody told us); false with
 * the task finished when cowstore cannot say. */
static bool fresh_capacity(struct scsi_task *task)
{
	int rc = lun_refresh_size(task_state(task)->lun);
	if (rc)
		task_fail_errno(task, rc, 0);
	return rc == 0;
}

/* SBC-3 5.16: the PMI bit is obsolete; with it 0 the LBA must be 0. */
static bool pmi_valid(struct scsi_task *task, unsigned lba_off, unsigned lba_size,
		      unsigned pmi_byte)
{
	if (!(task->cdb[pmi_byte] & 0x01) && get_be(task->cdb + lba_off, lba_size)) {
		task_bad_cdb(task, (uint16_t)lba_off, -1);
		task_finish(task);
		return false;
	}
	return true;
}

void sbc_read_capacity10(struct scsi_task *task)
{
	uint8_t resp[8];
	if (!pmi_valid(task, 2, 4, 8) || !fresh_capacity(task))
		return;
	uint64_t last = task_state(task)->lun->nblocks - 1;
	put_be32(resp, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	put_be32(resp + 4, BLOCK_BYTES);
	task_data_in(task, resp, sizeof(resp), sizeof(resp));
}

void sbc_read_capacity16(struct scsi_task *task)
{
	uint8_t resp[32] = { 0 };
	if (!pmi_valid(task, 2, 8, 14) || !fresh_capacity(task))
		return;
	put_be64(resp, task_state(task)->lun->nblocks - 1);
	put_be32(resp + 8, BLOCK_BYTES);
	resp[13] = 3;    /* 2^3 logical blocks per 4 KiB physical block */
	resp[14] = 0xc0; /* LBPME, LBPRZ; lowest aligned LBA 0 */
	task_data_in(task, resp, sizeof(resp), get_be32(task->cdb + 10));
}

/* SBC-3 5.6: cowstore cannot say cheaply which blocks are mapped, so one
 * descriptor says "mapped or unknown" from the LBA to the end. */
void sbc_get_lba_status(struct scsi_task *task)
{
	const struct scsi_lun *lun = task_state(task)->lun;
	uint8_t resp[24] = { 0 };
	uint64_t lba = get_be64(task->cdb + 2);
	if (lba >= lun->nblocks) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		task_finish(task);
		return;
	}
	uint64_t left = lun->nblocks - lba;
	put_be32(resp, sizeof(resp) - 4);
	put_be64(resp + 8, lba);
	put_be32(resp + 16, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
	resp[20] = 0x00; /* provisioning status: mapped or unknown */
	task_data_in(task, resp, sizeof(resp), get_be32(task->cdb + 10));
}

/* SBC-3 5.12, 5.13: a volume has no defects; the lists asked for are valid
 * and empty, in the format asked for. */
void sbc_read_defect_data(struct scsi_task *task)
{
	bool twelve = task->cdb[0] == 0xb7;
	uint8_t resp[8] = { 0 };
	resp[1] = task->cdb[twelve ? 1 : 2] & 0x1f; /* PLISTV, GLISTV, format */
	task_data_in(task, resp, twelve ? 8 : 4,
		     cmd_len_field(task_state(task)->cmd, task->cdb));
}

/* SBC-3 5.22: the range is checked, the flush is of the whole pool (cowstore
 * has no narrower one).  IMMED is accepted; status still waits for the flush. */
void sbc_sync_cache(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (checked_range(task, UINT32_MAX, &lba, &nblocks))
		io_run(task, COWSTORE_OP_FLUSH, 0, 0, 0, NULL, task_finish);
}

/* SBC-3 5.9: nothing to load ahead of time; GOOD after the range check. */
void sbc_prefetch(struct scsi_task *task)
{
	uint64_t lba;
	uint32_t nblocks;
	if (checked_range(task, UINT32_MAX, &lba, &nblocks))
		task_finish(task);
}
