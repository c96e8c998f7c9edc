/*
 * scsi.c - SCSI targets and LUNs, command dispatch, and what a transport
 * must know of a CDB before it has the data (scsi_cdb_info).
 *
 * Commands a missing LUN may still get: INQUIRY (peripheral qualifier 3)
 * and REPORT LUNS; everything else there is LOGICAL UNIT NOT SUPPORTED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

int scsi_target_create(struct cowstore *cs, struct cowstore_queue *queue, const char *name,
		       struct scsi_target **out)
{
	if (!cs || !queue || !name || strlen(name) >= sizeof((*out)->name) || !out)
		return -EINVAL;
	struct scsi_target *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cs = cs;
	t->queue = queue;
	snprintf(t->name, sizeof(t->name), "%s", name);
	*out = t;
	return 0;
}

void scsi_target_destroy(struct scsi_target *t)
{
	free(t);
}

int scsi_target_add_lun(struct scsi_target *t, uint64_t lun, uint64_t volume_id)
{
	struct cowstore_volume_info info;
	if (lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	if (t->luns[lun].present)
		return -EEXIST;
	int rc = cowstore_volume_info(t->cs, volume_id, 0, &info);
	if (rc)
		return rc;
	t->luns[lun] = (struct scsi_lun){ true, volume_id };
	return 0;
}

int scsi_target_lun_count(const struct scsi_target *t)
{
	int n = 0;
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		n += t->luns[i].present;
	return n;
}

uint64_t lun_blocks(struct scsi_target *t, const struct scsi_lun *lun)
{
	struct cowstore_volume_info info;
	if (cowstore_volume_info(t->cs, lun->volume_id, 0, &info) != 0)
		return 0;
	return info.size_bytes / BLOCK_BYTES;
}

void scsi_task_execute(struct scsi_target *t, struct scsi_task *task)
{
	struct scsi_lun *lun = task->lun < SCSI_MAX_LUNS ? &t->luns[task->lun] : NULL;
	task->data_in_len = 0;
	task_good(task);
	if (spc_execute(t, lun && lun->present ? lun : NULL, task))
		return;
	if (!lun || !lun->present) {
		sense_set(task, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		task->done(task);
		return;
	}
	if (sbc_execute(t, lun, task))
		return;
	sense_set(task, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	task->done(task);
}

/* ---- CDB facts for the transport ------------------------------------- */

static uint32_t blocks_to_bytes(uint32_t blocks) { return blocks * BLOCK_BYTES; }

void scsi_cdb_info(const uint8_t *cdb, uint8_t cdb_len, struct scsi_cdb_info *info)
{
	info->dir = SCSI_DIR_NONE;
	info->data_len = 0;
	info->known = true;
	switch (cdb[0]) {
	case 0x08: /* READ(6): 0 means 256 blocks */
	case 0x0a: /* WRITE(6) */
		info->dir = cdb[0] == 0x08 ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
		info->data_len = blocks_to_bytes(cdb[4] ? cdb[4] : 256);
		break;
	case 0x28: case 0x2a: case 0x2e: /* READ/WRITE/WRITE AND VERIFY(10) */
		info->dir = cdb[0] == 0x28 ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
		info->data_len = blocks_to_bytes(be16(cdb + 7));
		break;
	case 0xa8: case 0xaa: /* READ/WRITE(12) */
		info->dir = cdb[0] == 0xa8 ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
		info->data_len = blocks_to_bytes(be32(cdb + 6));
		break;
	case 0x88: case 0x8a: case 0x8e: /* READ/WRITE/WRITE AND VERIFY(16) */
		info->dir = cdb[0] == 0x88 ? SCSI_DIR_FROM_DEV : SCSI_DIR_TO_DEV;
		info->data_len = blocks_to_bytes(be32(cdb + 10));
		break;
	case 0x2f: /* VERIFY(10): data only with BYTCHK */
		if (cdb[1] & 0x06) {
			info->dir = SCSI_DIR_TO_DEV;
			info->data_len = blocks_to_bytes(be16(cdb + 7));
		}
		break;
	case 0x41: case 0x93: /* WRITE SAME(10/16): one block unless NDOB */
		if (!(cdb[1] & 0x01)) {
			info->dir = SCSI_DIR_TO_DEV;
			info->data_len = BLOCK_BYTES;
		}
		break;
	case 0x42: case 0x55: /* UNMAP, MODE SELECT(10) */
		info->dir = SCSI_DIR_TO_DEV;
		info->data_len = be16(cdb + 7);
		break;
	case 0x15: /* MODE SELECT(6) */
		info->dir = SCSI_DIR_TO_DEV;
		info->data_len = cdb[4];
		break;
	case 0x12: case 0x5a: /* INQUIRY, MODE SENSE(10) */
		info->dir = SCSI_DIR_FROM_DEV;
		info->data_len = be16(cdb + (cdb[0] == 0x12 ? 3 : 7));
		break;
	case 0x03: case 0x1a: /* REQUEST SENSE, MODE SENSE(6) */
		info->dir = SCSI_DIR_FROM_DEV;
		info->data_len = cdb[4];
		break;
	case 0x25: /* READ CAPACITY(10) */
		info->dir = SCSI_DIR_FROM_DEV;
		info->data_len = 8;
		break;
	case 0x9e: case 0xa0: case 0xa3: /* SERVICE ACTION IN(16), REPORT LUNS, MAINTENANCE IN */
		info->dir = SCSI_DIR_FROM_DEV;
		info->data_len = be32(cdb + (cdb[0] == 0x9e ? 10 : 6));
		break;
	case 0x00: case 0x1b: case 0x1e: case 0x35: case 0x91: case 0x34: case 0x90:
		break; /* TUR, START STOP, PREVENT ALLOW, SYNCHRONIZE CACHE, PRE-FETCH */
	default:
		info->known = false;
	}
	(void)cdb_len;
}
