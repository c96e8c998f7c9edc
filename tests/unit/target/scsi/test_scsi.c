/*
 * test_scsi.c - what task management leaves in the SCSI layer (scsi.c):
 * LOGICAL UNIT RESET and target resets raise their unit attention on every
 * nexus, the requester's included, and put mode parameters back to their
 * defaults; CLEAR TASK SET by another nexus is reported to the one whose
 * tasks went; a transport-ended task gets DATA PHASE ERROR.  LUNs of one
 * target on two pools: each LUN's IO and capacity come from its own pool.
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
	REQUIRE(scsi_target_add_lun(f.t, 1, NULL, vol2) == 0);
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

/* Block n of a known pattern (every byte depends on seed and n). */
static void pattern(uint8_t *buf, uint32_t nblocks, uint8_t seed)
{
	for (uint32_t i = 0; i < nblocks * 512; i++)
		buf[i] = (uint8_t)(seed ^ (i / 512 * 13) ^ i);
}

static struct scsi_task *rw_on(struct fixture *f, uint64_t lun, uint8_t op, uint32_t lba,
			       uint16_t nblocks, uint8_t *buf)
{
	uint8_t cdb[16];
	cdb10(cdb, op, lba, nblocks);
	return run_on(f, lun, cdb, 16, buf, nblocks * 512u);
}

/* LUN 0 on the fixture's pool (1 MiB), LUN 1 on another (2 MiB): READ
 * CAPACITY, WRITE, WRITE SAME and COMPARE AND WRITE on LUN 1 act on the
 * second pool's volume; LUN 0's volume is untouched. */
static void test_luns_on_two_pools(void)
{
	struct fixture f;
	struct test_pool other;
	static uint8_t data[8 * 512], back[8 * 512], zero[8 * 512], caw[2 * 512];
	uint8_t rc10[8], cdb[16];
	uint64_t vol1;
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	REQUIRE(fixture_add_pool(&f, &other, 1, 2 << 20, &vol1) == 0);
	CHECK(f.t->luns[1].cs == other.cs);
	CHECK_SENSE(run_on(&f, 0, tur, 16, NULL, 0), 0x06, 0x3f0e);
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x3f0e);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x25; /* READ CAPACITY(10): the last LBA */
	CHECK_GOOD(run_on(&f, 1, cdb, 16, rc10, sizeof(rc10)));
	CHECK_EQ(get_be32(rc10), (2 << 20) / 512 - 1);
	CHECK_GOOD(run_on(&f, 0, cdb, 16, rc10, sizeof(rc10)));
	CHECK_EQ(get_be32(rc10), (1 << 20) / 512 - 1);

	pattern(data, 8, 1);
	CHECK_GOOD(rw_on(&f, 1, 0x2a, 8, 8, data));
	CHECK_EQ(cowstore_read(other.cs, vol1, 8, 8, back), 0);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 8, 8, back), 0);
	CHECK(memcmp(back, zero, sizeof(zero)) == 0);
	CHECK_GOOD(rw_on(&f, 1, 0x28, 8, 8, back));
	CHECK(memcmp(back, data, sizeof(data)) == 0);

	cdb16(cdb, 0x93, 100, 8); /* WRITE SAME(16) of data's first block */
	CHECK_GOOD(run_on(&f, 1, cdb, 16, data, 512));
	CHECK_EQ(cowstore_read(other.cs, vol1, 100, 8, back), 0);
	for (int i = 0; i < 8; i++)
		CHECK(memcmp(back + i * 512, data, 512) == 0);

	memcpy(caw, data, 512);         /* COMPARE AND WRITE: block 8 is data's first */
	pattern(caw + 512, 1, 7);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x89;
	put_be64(cdb + 2, 8);
	cdb[13] = 1;
	CHECK_GOOD(run_on(&f, 1, cdb, 16, caw, sizeof(caw)));
	CHECK_EQ(cowstore_read(other.cs, vol1, 8, 1, back), 0);
	CHECK(memcmp(back, caw + 512, 512) == 0);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 0, 8, back), 0);
	CHECK(memcmp(back, zero, sizeof(zero)) == 0);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 100, 8, back), 0);
	CHECK(memcmp(back, zero, sizeof(zero)) == 0);
	fixture_close(&f);
	test_pool_destroy(&other);
}

static const struct harness_test tests[] = {
	{ "lun_reset", test_lun_reset },
	{ "target_reset", test_target_reset },
	{ "tasks_cleared", test_tasks_cleared },
	{ "data_phase_error", test_data_phase_error },
	{ "luns_on_two_pools", test_luns_on_two_pools },
};
HARNESS_MAIN(tests)
