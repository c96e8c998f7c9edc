/*
 * test_scsi.c - what task management leaves in the SCSI layer (scsi.c):
 * LOGICAL UNIT RESET and target resets raise their unit attention on every
 * nexus, the requester's included, and put mode parameters back to their
 * defaults; CLEAR TASK SET by another nexus is reported to the one whose
 * tasks went; a transport-ended task gets DATA PHASE ERROR.
 */
#include "tests/unit/target/scsi/scsitest.h"

#define OTHER_NEXUS 2

static const uint8_t tur[16] = { 0 };

static struct scsi_task *tur_on(struct fixture *f, uint64_t nexus)
{
	f->nexus = nexus;
	return run(f, tur, NULL, 0);
}

/* Two nexuses on LUN 0, their POWER ON unit attentions taken. */
static int open_two_nexuses(struct fixture *f)
{
	if (fixture_open(f, 64, 1 << 20, 0) != 0)
		return -1;
	scsi_nexus_add(f->t, OTHER_NEXUS, NULL);
	return tur_on(f, OTHER_NEXUS)->sense[12] == 0x29 ? 0 : -1;
}

static void test_lun_reset(void)
{
	struct fixture f;
	REQUIRE(open_two_nexuses(&f) == 0);
	f.t->luns[0].wce = false; /* as a MODE SELECT would leave it */
	CHECK(scsi_target_lun_present(f.t, 0));
	CHECK(!scsi_target_lun_present(f.t, 5));
	CHECK_EQ(scsi_lun_reset(f.t, 5), -ENOENT);
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0);
	CHECK(f.t->luns[0].wce);
	CHECK_SENSE(tur_on(&f, NEXUS), 0x06, 0x2903);
	CHECK_GOOD(tur_on(&f, NEXUS));
	CHECK_SENSE(tur_on(&f, OTHER_NEXUS), 0x06, 0x2903);
	CHECK_GOOD(tur_on(&f, OTHER_NEXUS));
	fixture_close(&f);
}

static void test_target_reset(void)
{
	struct fixture f;
	uint64_t vol2;
	REQUIRE(open_two_nexuses(&f) == 0);
	REQUIRE(cowstore_volume_create(f.tp.cs, "vol2", 1 << 20, &vol2, NULL) == 0);
	REQUIRE(scsi_target_add_lun(f.t, 1, vol2) == 0);
	f.nexus = NEXUS;
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x3f0e);
	CHECK_GOOD(run_on(&f, 1, tur, 16, NULL, 0));
	CHECK_SENSE(tur_on(&f, NEXUS), 0x06, 0x3f0e);
	CHECK_SENSE(tur_on(&f, OTHER_NEXUS), 0x06, 0x3f0e);
	f.t->luns[1].wce = false;
	scsi_target_reset(f.t);
	CHECK(f.t->luns[1].wce);
	CHECK_SENSE(tur_on(&f, NEXUS), 0x06, 0x2900);
	CHECK_SENSE(tur_on(&f, OTHER_NEXUS), 0x06, 0x2900);
	f.nexus = NEXUS;
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_GOOD(run_on(&f, 1, tur, 16, NULL, 0));
	fixture_close(&f);
}

static void test_tasks_cleared(void)
{
	struct fixture f;
	REQUIRE(open_two_nexuses(&f) == 0);
	scsi_nexus_tasks_cleared(f.t, OTHER_NEXUS, 0);
	scsi_nexus_tasks_cleared(f.t, 99, 0); /* no such nexus: ignored */
	CHECK_GOOD(tur_on(&f, NEXUS));
	CHECK_SENSE(tur_on(&f, OTHER_NEXUS), 0x06, 0x2f00);
	CHECK_GOOD(tur_on(&f, OTHER_NEXUS));
	fixture_close(&f);
}

static void test_data_phase_error(void)
{
	struct scsi_task task = { .data_in_len = 512 };
	scsi_task_data_phase_error(&task);
	CHECK_SENSE(&task, 0x0b, 0x4b00);
}

static const struct harness_test tests[] = {
	{ "lun_reset", test_lun_reset },
	{ "target_reset", test_target_reset },
	{ "tasks_cleared", test_tasks_cleared },
	{ "data_phase_error", test_data_phase_error },
};
HARNESS_MAIN(tests)
