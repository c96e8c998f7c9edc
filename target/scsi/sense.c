/*
 * sense.c - status and fixed-format sense data (SPC-4 4.5.3).
 * Byte 0 0x70 (current, VALID when INFORMATION holds an LBA), byte 2 the
 * key, bytes 3-6 INFORMATION, byte 7 the additional length (10), bytes
 * 12-13 ASC/ASCQ, bytes 15-17 the sense-key-specific field pointer.
 */
#include <string.h>

#include "target/scsi/internal.h"

#define FIXED_SENSE_LEN 18

void task_good(struct scsi_task *t)
{
	t->status = SCSI_STATUS_GOOD;
	t->sense_len = 0;
}

void sense_set(struct scsi_task *t, uint8_t key, uint16_t asc_ascq)
{
	memset(t->sense, 0, FIXED_SENSE_LEN);
	t->sense[0] = 0x70;
	t->sense[2] = key;
	t->sense[7] = FIXED_SENSE_LEN - 8;
	t->sense[12] = (uint8_t)(asc_ascq >> 8);
	t->sense[13] = (uint8_t)asc_ascq;
	t->sense_len = FIXED_SENSE_LEN;
	t->status = SCSI_STATUS_CHECK_CONDITION;
	t->data_in_len = 0;
}

void sense_set_info(struct scsi_task *t, uint8_t key, uint16_t asc_ascq, uint64_t info)
{
	sense_set(t, key, asc_ascq);
	t->sense[0] |= 0x80; /* VALID */
	put32(t->sense + 3, (uint32_t)info);
}

void sense_cdb_field(struct scsi_task *t, uint16_t byte, int bit)
{
	sense_set(t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	t->sense[15] = 0x80 | 0x40; /* SKSV, C/D: the field is in the CDB */
	if (bit >= 0)
		t->sense[15] |= 0x08 | (uint8_t)(bit & 7); /* BPV and the bit */
	put16(t->sense + 16, byte);
}

void task_data_in(struct scsi_task *t, const void *data, uint32_t len)
{
	uint32_t n = len < t->transfer_len ? len : t->transfer_len;
	if (n)
		memcpy(t->data, data, n);
	t->data_in_len = n;
	task_good(t);
}
