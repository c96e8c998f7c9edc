/*
 * test_pr.c - RESERVE(6)/RELEASE(6) (pr.c): the holder runs everything,
 * another nexus gets RESERVATION CONFLICT but for the commands that never
 * conflict, its RELEASE is a no-op; the reservation ends with the holder's
 * RELEASE, a LUN reset, a target reset or the holder's nexus going away.
 */
#include "tests/unit/target/scsi/scsitest.h"

#define OTHER_NEXUS 2

static uint8_t buf[512];
static const uint8_t tur[16] = { 0x00 };
static const uint8_t reserve[16] = { 0x16 };
static const uint8_t release[16] = { 0x17 };
static const uint8_t inquiry[16] = { 0x12, 0, 0, 0, 36 };
static const uint8_t mode_sense[16] = { 0x1a, 0x08, 0x3f, 0, 255 };

static struct scsi_task *run_as(struct fixture *f, uint64_t nexus, const uint8_t *cdb,
				uint32_t transfer_len)
{
	f->nexus = nexus;
	return run(f, cdb, transfer_len ? buf : NULL, transfer_len);
}

static int open_two_nexuses(struct fixture *f)
{
	if (fixture_open(f, 64, 1 << 20, 0) != 0)
		return -1;
	scsi_nexus_add(f->t, OTHER_NEXUS);
	return run_as(f, OTHER_NEXUS, tur, 0)->sense[12] == 0x29 ? 0 : -1;
}

#define CHECK_CONFLICT(task)                                                   \
	do {                                                                   \
		CHECK_EQ((task)->status, SCSI_STATUS_RESERVATION_CONFLICT);    \
		CHECK_EQ((task)->sense_len, 0);                                \
	} while (0)

static void test_reserve_release(void)
{
	struct fixture f;
	REQUIRE(open_two_nexuses(&f) == 0);
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0));
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0)); /* the holder again */
	CHECK_GOOD(run_as(&f, NEXUS, mode_sense, 255));
	CHECK_CONFLICT(run_as(&f, OTHER_NEXUS, mode_sense, 255));
	CHECK_CONFLICT(run_as(&f, OTHER_NEXUS, tur, 0));
	CHECK_CONFLICT(run_as(&f, OTHER_NEXUS, reserve, 0));
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, inquiry, 36));
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, release, 0)); /* a no-op */
	CHECK_CONFLICT(run_as(&f, OTHER_NEXUS, tur, 0));
	CHECK_GOOD(run_as(&f, NEXUS, release, 0));
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, reserve, 0));
	CHECK_CONFLICT(run_as(&f, NEXUS, tur, 0));
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, release, 0));
	CHECK_GOOD(run_as(&f, NEXUS, tur, 0));
	fixture_close(&f);
}

static void test_reservation_ends(void)
{
	struct fixture f;
	REQUIRE(open_two_nexuses(&f) == 0);
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0));
	/* a pending unit attention is reported before the conflict */
	scsi_nexus_tasks_cleared(f.t, OTHER_NEXUS, 0);
	CHECK_SENSE(run_as(&f, OTHER_NEXUS, tur, 0), 0x06, 0x2f00);
	CHECK_CONFLICT(run_as(&f, OTHER_NEXUS, tur, 0));
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0);
	CHECK_SENSE(run_as(&f, NEXUS, tur, 0), 0x06, 0x2903);
	CHECK_SENSE(run_as(&f, OTHER_NEXUS, tur, 0), 0x06, 0x2903);
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, reserve, 0));
	scsi_target_reset(f.t);
	CHECK_SENSE(run_as(&f, NEXUS, tur, 0), 0x06, 0x2900);
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0));
	scsi_nexus_remove(f.t, NEXUS); /* logout or a dropped connection */
	CHECK_SENSE(run_as(&f, OTHER_NEXUS, tur, 0), 0x06, 0x2900);
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, tur, 0));
	CHECK_GOOD(run_as(&f, OTHER_NEXUS, reserve, 0));
	scsi_nexus_add(f.t, OTHER_NEXUS); /* an id reused by a new nexus */
	scsi_nexus_add(f.t, NEXUS);
	CHECK_SENSE(run_as(&f, NEXUS, tur, 0), 0x06, 0x2900);
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0));
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "reserve_release", test_reserve_release },
	{ "reservation_ends", test_reservation_ends },
};
HARNESS_MAIN(tests)
