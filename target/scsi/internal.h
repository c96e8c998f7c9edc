/*
 * internal.h - what the files of target/scsi share; private to it.
 *
 * A task that does IO keeps its progress in struct progress (sbc.c, inside
 * task->state): a request larger than cowstore takes is cut into pieces
 * submitted one after the other on the target's queue.
 */
#ifndef SLATE_TARGET_SCSI_INTERNAL_H
#define SLATE_TARGET_SCSI_INTERNAL_H

#include "target/scsi/scsi.h"

#define BLOCK_BYTES 512u

/* Sense keys (SPC-4 4.5.6) */
enum {
	SK_NO_SENSE = 0x0, SK_MEDIUM_ERROR = 0x3, SK_HARDWARE_ERROR = 0x4,
	SK_ILLEGAL_REQUEST = 0x5, SK_DATA_PROTECT = 0x7, SK_MISCOMPARE = 0xe,
};

/* ASC/ASCQ pairs used here, as (asc << 8 | ascq). */
enum {
	ASC_INVALID_OPCODE = 0x2000, ASC_LBA_OUT_OF_RANGE = 0x2100,
	ASC_INVALID_FIELD_IN_CDB = 0x2400, ASC_LUN_NOT_SUPPORTED = 0x2500,
	ASC_PARAM_LIST_LENGTH = 0x1a00, ASC_UNRECOVERED_READ_ERROR = 0x1100,
	ASC_SPACE_ALLOC_FAILED_WP = 0x2707, ASC_INTERNAL_FAILURE = 0x4400,
	ASC_MISCOMPARE_DURING_VERIFY = 0x1d00,
};

struct scsi_lun {
	bool present;
	uint64_t volume_id;
};

struct scsi_target {
	struct cowstore *cs;
	struct cowstore_queue *queue;
	char name[224];
	struct scsi_lun luns[SCSI_MAX_LUNS];
};

/* sense.c */
void sense_set(struct scsi_task *t, uint8_t key, uint16_t asc_ascq);
/* ILLEGAL REQUEST with a sense-key-specific field pointer into the CDB. */
void sense_cdb_field(struct scsi_task *t, uint16_t byte, int bit);
/* Also fill INFORMATION (an LBA or offset) and set VALID. */
void sense_set_info(struct scsi_task *t, uint8_t key, uint16_t asc_ascq, uint64_t info);
void task_good(struct scsi_task *t);
/* Copy a response of len bytes into the data-in buffer, cut at transfer_len. */
void task_data_in(struct scsi_task *t, const void *data, uint32_t len);

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* spc.c: primary commands; false when the opcode is not one of them */
bool spc_execute(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task);
/* sbc.c: block commands; false when the opcode is not one of them */
bool sbc_execute(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task);
/* The LUN's size in 512-byte blocks, or 0 when it cannot be read. */
uint64_t lun_blocks(struct scsi_target *t, const struct scsi_lun *lun);

#endif /* SLATE_TARGET_SCSI_INTERNAL_H */
