/*
 * test_sense.c - fixed-format sense building (sense.c): key, ASC/ASCQ,
 * INFORMATION with its VALID bit, and the ILLEGAL REQUEST field pointer.
 */
#include "target/scsi/internal.h"
#include "tests/harness.h"

static void test_fixed_layout(void)
{
	uint8_t s[SENSE_FIXED_LEN];
	memset(s, 0xee, sizeof(s));
	sense_fixed(s, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
	static const uint8_t want[18] = { 0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00 };
	CHECK(memcmp(s, want, sizeof(want)) == 0);
	sense_fixed(s, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED_WP);
	CHECK_EQ(s[2], 0x07);
	CHECK_EQ(s[12], 0x27);
	CHECK_EQ(s[13], 0x07);
}

static void test_information(void)
{
	uint8_t s[SENSE_FIXED_LEN];
	sense_fixed(s, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
	sense_set_information(s, 0x12345678);
	CHECK_EQ(s[0], 0xf0); /* VALID */
	CHECK_EQ(get_be32(s + 3), 0x12345678);
	sense_set_information(s, 0x100000000ull); /* does not fit: not VALID */
	CHECK_EQ(s[0], 0x70);
	CHECK_EQ(get_be32(s + 3), 0);
}

static void test_field_pointer(void)
{
	uint8_t s[SENSE_FIXED_LEN];
	sense_fixed(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	sense_set_field_pointer(s, true, 9, 2);
	CHECK_EQ(s[15], 0x80 | 0x40 | 0x08 | 2); /* SKSV, C/D, BPV, bit 2 */
	CHECK_EQ(s[16], 0);
	CHECK_EQ(s[17], 9);
	sense_set_field_pointer(s, false, 0x0123, -1);
	CHECK_EQ(s[15], 0x80); /* parameter list, no bit pointer */
	CHECK_EQ(get_be16(s + 16), 0x0123);
}

static void test_task_helpers(void)
{
	struct scsi_task task;
	memset(&task, 0, sizeof(task));
	task.data_in_len = 100;
	task_bad_cdb(&task, 1, 7);
	CHECK_EQ(task.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(task.sense_len, 18);
	CHECK_EQ(task.data_in_len, 0);
	CHECK_EQ(task.sense[2], 0x05);
	CHECK_EQ(get_be16(task.sense + 12), 0x2400);
	CHECK_EQ(task.sense[15], 0xcf);
	CHECK_EQ(get_be16(task.sense + 16), 1);
	task_bad_param(&task, 20, 5);
	CHECK_EQ(get_be16(task.sense + 12), 0x2600);
	CHECK_EQ(task.sense[15], 0x8d);
	CHECK_EQ(get_be16(task.sense + 16), 20);
	task_check_info(&task, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, 513);
	CHECK_EQ(task.sense[0], 0xf0);
	CHECK_EQ(task.sense[2], 0x0e);
	CHECK_EQ(get_be32(task.sense + 3), 513);
	CHECK_EQ(get_be16(task.sense + 12), 0x1d00);
	CHECK_EQ(task.sense[15], 0); /* no sense-key specific data left over */
}

static const struct harness_test tests[] = {
	{ "fixed_layout", test_fixed_layout },
	{ "information", test_information },
	{ "field_pointer", test_field_pointer },
	{ "task_helpers", test_task_helpers },
};
HARNESS_MAIN(tests)
