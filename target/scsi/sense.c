/*
 * sense.c - CHECK CONDITION status with fixed-format sense data (SPC-4 4.5.3).
 *
 * Layout: byte 0 response code 70h (bit 7 VALID: INFORMATION holds a value),
 * byte 2 sense key, bytes 3-6 INFORMATION, byte 7 additional length (10),
 * bytes 12-13 ASC/ASCQ, bytes 15-17 sense-key specific (for ILLEGAL REQUEST
 * the field pointer: SKSV, C/D, BPV, bit pointer, then the byte, SPC-4
 * 4.5.2.4.2).  Descriptor format is never produced (D_SENSE is 0).
 */
#include <string.h>

#include "target/scsi/internal.h"

void sense_fixed(uint8_t *sense, uint8_t key, uint16_t asc_ascq)
{
	memset(sense, 0, SENSE_FIXED_LEN);
	sense[0] = 0x70;
	sense[2] = key & 0x0f;
	sense[7] = SENSE_FIXED_LEN - 8;
	sense[12] = (uint8_t)(asc_ascq >> 8);
	sense[13] = (uint8_t)asc_ascq;
}

void sense_set_information(uint8_t *sense, uint64_t info)
{
	if (info > UINT32_MAX) { /* does not fit fixed format: VALID stays 0 */
		sense[0] &= 0x7f;
		put_be32(sense + 3, 0);
		return;
	}
	sense[0] |= 0x80;
	put_be32(sense + 3, (uint32_t)info);
}

void sense_set_field_pointer(uint8_t *sense, bool in_cdb, uint16_t byte, int bit)
{
	sense[15] = 0x80; /* SKSV */
	if (in_cdb)
		sense[15] |= 0x40;
	if (bit >= 0 && bit <= 7)
		sense[15] |= 0x08 | (uint8_t)bit; /* BPV and the bit */
	put_be16(sense + 16, byte);
}

void task_check(struct scsi_task *task, uint8_t key, uint16_t asc_ascq)
{
	sense_fixed(task->sense, key, asc_ascq);
	task->sense_len = SENSE_FIXED_LEN;
	task->status = SCSI_STATUS_CHECK_CONDITION;
	task->data_in_len = 0;
}

void task_check_info(struct scsi_task *task, uint8_t key, uint16_t asc_ascq, uint64_t info)
{
	task_check(task, key, asc_ascq);
	sense_set_information(task->sense, info);
}

void task_bad_cdb(struct scsi_task *task, uint16_t byte, int bit)
{
	task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	sense_set_field_pointer(task->sense, true, byte, bit);
}

void task_bad_param(struct scsi_task *task, uint16_t byte, int bit)
{
	task_check(task, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	sense_set_field_pointer(task->sense, false, byte, bit);
}

void scsi_task_data_phase_error(struct scsi_task *task)
{
	task_check(task, SENSE_ABORTED_COMMAND, ASC_DATA_PHASE_ERROR);
}
