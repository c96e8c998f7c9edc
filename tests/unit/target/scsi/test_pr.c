/*
 * test_pr.c - reservations (pr.c).  RESERVE(6)/RELEASE(6): the holder runs
 * everything, another nexus gets RESERVATION CONFLICT but for the commands
 * that never conflict, its RELEASE is a no-op; the reservation ends with the
 * holder's RELEASE, a reset or the holder's nexus going away.  PERSISTENT
 * RESERVE: keys, the access each type leaves to registrants and others,
 * release by unregistering, PREEMPT and CLEAR with their unit attentions,
 * registrations that outlive the nexus, and the IN formats.
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
	scsi_nexus_add(f->t, OTHER_NEXUS, NULL);
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
	scsi_nexus_add(f.t, OTHER_NEXUS, NULL); /* an id reused by a new nexus */
	scsi_nexus_add(f.t, NEXUS, NULL);
	CHECK_SENSE(run_as(&f, NEXUS, tur, 0), 0x06, 0x2900);
	CHECK_GOOD(run_as(&f, NEXUS, reserve, 0));
	fixture_close(&f);
}

/* ---- persistent reservations ---- */

#define PORT_A "iqn.2026-11.dev.slate:a,i,0x400000000001"
#define PORT_B "iqn.2026-11.dev.slate:b,i,0x400000000002"
#define NEXUS_A 11
#define NEXUS_B 12

static struct scsi_task *prout_list(struct fixture *f, uint64_t nexus, uint8_t sa,
				    uint8_t type, uint64_t rk, uint64_t sark, uint8_t flags,
				    uint32_t len)
{
	uint8_t cdb[16] = { 0x5f, sa, type };
	put_be32(cdb + 5, len);
	memset(buf, 0, 24);
	put_be64(buf, rk);
	put_be64(buf + 8, sark);
	buf[20] = flags;
	return run_as(f, nexus, cdb, len);
}

static struct scsi_task *prout(struct fixture *f, uint64_t nexus, uint8_t sa, uint8_t type,
			       uint64_t rk, uint64_t sark)
{
	return prout_list(f, nexus, sa, type, rk, sark, 0, 24);
}

static struct scsi_task *prin(struct fixture *f, uint64_t nexus, uint8_t sa)
{
	uint8_t cdb[16] = { 0x5e, sa, 0, 0, 0, 0, 0, 0x01, 0x00 };
	return run_as(f, nexus, cdb, 256);
}

/* Two nexuses of named initiator ports, their POWER ON taken. */
static int open_two_ports(struct fixture *f)
{
	if (fixture_open(f, 64, 1 << 20, 0) != 0)
		return -1;
	scsi_nexus_add(f->t, NEXUS_A, PORT_A);
	scsi_nexus_add(f->t, NEXUS_B, PORT_B);
	run_as(f, NEXUS_A, tur, 0);
	return run_as(f, NEXUS_B, tur, 0)->sense[12] == 0x29 ? 0 : -1;
}

static const uint8_t write10[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t read10[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };

static void test_pr_register_reserve(void)
{
	struct fixture f;
	REQUIRE(open_two_ports(&f) == 0);
	CHECK_CONFLICT(prout(&f, NEXUS_A, 0, 0, 5, 0xa)); /* REGISTER: key must be 0 */
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, NEXUS_B, 6, 0, 99, 0xb)); /* REGISTER AND IGNORE */
	struct scsi_task *task = prin(&f, NEXUS_A, 0); /* READ KEYS */
	CHECK_GOOD(task);
	CHECK_EQ(get_be32(buf), 2);  /* generation */
	CHECK_EQ(get_be32(buf + 4), 16);
	CHECK_CONFLICT(prout(&f, NEXUS_A, 1, 1, 0xb, 0)); /* RESERVE with B's key */
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 1, 0xa, 0));    /* Write Exclusive */
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 1, 0xa, 0));    /* again: same type */
	CHECK_CONFLICT(prout(&f, NEXUS_B, 1, 1, 0xb, 0));
	CHECK_GOOD(prin(&f, NEXUS_B, 1));                /* READ RESERVATION */
	CHECK_EQ(get_be32(buf + 4), 16);
	CHECK_EQ(get_be64(buf + 8), 0xa);
	CHECK_EQ(buf[21], 1);
	CHECK_GOOD(run_as(&f, NEXUS_A, write10, 512));
	CHECK_GOOD(run_as(&f, NEXUS_B, read10, 512));
	CHECK_CONFLICT(run_as(&f, NEXUS_B, write10, 512));
	CHECK_GOOD(run_as(&f, NEXUS_B, tur, 0));
	CHECK_CONFLICT(run_as(&f, NEXUS_B, reserve, 0)); /* RESERVE(6) while registered */
	CHECK_SENSE(prout(&f, NEXUS_A, 2, 3, 0xa, 0), 0x05, 0x2604); /* RELEASE, wrong type */
	CHECK_GOOD(prout(&f, NEXUS_A, 2, 1, 0xa, 0));
	CHECK_GOOD(prin(&f, NEXUS_B, 1));
	CHECK_EQ(get_be32(buf + 4), 0);
	/* Exclusive Access, registrants only: B is registered and gets in */
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 6, 0xa, 0));
	CHECK_GOOD(run_as(&f, NEXUS_B, write10, 512));
	CHECK_GOOD(prout(&f, NEXUS_B, 0, 0, 0xb, 0)); /* B unregisters: now it is out */
	CHECK_CONFLICT(run_as(&f, NEXUS_B, read10, 512));
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0xa, 0)); /* the holder unregisters: released */
	CHECK_GOOD(run_as(&f, NEXUS_B, read10, 512));
	CHECK_GOOD(prin(&f, NEXUS_B, 0));
	CHECK_EQ(get_be32(buf + 4), 0);
	fixture_close(&f);
}

static void test_pr_outlives_nexus(void)
{
	struct fixture f;
	REQUIRE(open_two_ports(&f) == 0);
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 3, 0xa, 0)); /* Exclusive Access */
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0);
	scsi_nexus_remove(f.t, NEXUS_A);            /* the session drops */
	CHECK_SENSE(run_as(&f, NEXUS_B, read10, 512), 0x06, 0x2903);
	CHECK_CONFLICT(run_as(&f, NEXUS_B, read10, 512));
	scsi_nexus_add(f.t, 21, PORT_A);            /* and logs in again */
	CHECK_SENSE(run_as(&f, 21, tur, 0), 0x06, 0x2900);
	CHECK_GOOD(run_as(&f, 21, read10, 512));
	CHECK_GOOD(prout(&f, 21, 2, 3, 0xa, 0));
	CHECK_GOOD(run_as(&f, NEXUS_B, read10, 512));
	fixture_close(&f);
}

static void test_pr_preempt_and_clear(void)
{
	struct fixture f;
	REQUIRE(open_two_ports(&f) == 0);
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, NEXUS_B, 0, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 1, 0xa, 0));
	CHECK_CONFLICT(prout(&f, NEXUS_B, 4, 3, 0xb, 0xc)); /* no such key */
	CHECK_FIELD(prout(&f, NEXUS_B, 4, 3, 0xb, 0), 0x2600, 0, 8, -1);
	CHECK_GOOD(prout(&f, NEXUS_B, 4, 3, 0xb, 0xa)); /* PREEMPT the holder */
	CHECK_SENSE(run_as(&f, NEXUS_A, tur, 0), 0x06, 0x2a05);
	CHECK_CONFLICT(run_as(&f, NEXUS_A, read10, 512)); /* B's, Exclusive Access */
	CHECK_GOOD(prin(&f, NEXUS_A, 1));
	CHECK_EQ(get_be64(buf + 8), 0xb);
	CHECK_EQ(buf[21], 3);
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, NEXUS_A, 3, 0, 0xa, 0)); /* CLEAR */
	CHECK_SENSE(run_as(&f, NEXUS_B, tur, 0), 0x06, 0x2a03);
	CHECK_GOOD(run_as(&f, NEXUS_B, write10, 512));
	CHECK_GOOD(prin(&f, NEXUS_B, 0));
	CHECK_EQ(get_be32(buf + 4), 0);
	CHECK_EQ(get_be32(buf), 5); /* 3 registrations, a preempt, a clear */
	fixture_close(&f);
}

static void test_pr_in_formats_and_checks(void)
{
	struct fixture f;
	REQUIRE(open_two_ports(&f) == 0);
	CHECK_GOOD(prin(&f, NEXUS_A, 2)); /* REPORT CAPABILITIES */
	CHECK_EQ(get_be16(buf), 8);
	CHECK_EQ(buf[2], 0);
	CHECK_EQ(buf[3], 0x80);
	CHECK_EQ(buf[4], 0xea);
	CHECK_EQ(buf[5], 0x01);
	CHECK_GOOD(prout(&f, NEXUS_A, 0, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, NEXUS_A, 1, 7, 0xa, 0)); /* all registrants */
	struct scsi_task *task = prin(&f, NEXUS_B, 3); /* READ FULL STATUS */
	CHECK_GOOD(task);
	uint32_t id_len = 4 + (uint32_t)(strlen(PORT_A) + 1 + 3) / 4 * 4;
	CHECK_EQ(get_be32(buf + 4), 24 + id_len);
	CHECK_EQ(get_be64(buf + 8), 0xa);
	CHECK_EQ(buf[8 + 12], 0x01); /* R_HOLDER */
	CHECK_EQ(buf[8 + 13], 7);
	CHECK_EQ(get_be32(buf + 8 + 20), id_len);
	CHECK_EQ(buf[8 + 24], 0x45);
	CHECK(memcmp(buf + 8 + 28, PORT_A, strlen(PORT_A) + 1) == 0);
	CHECK_GOOD(prin(&f, NEXUS_B, 1));
	CHECK_EQ(get_be64(buf + 8), 0); /* all registrants: key 0 */
	CHECK_SENSE(prout_list(&f, NEXUS_A, 0, 0, 0xa, 0xa, 0, 20), 0x05, 0x1a00);
	CHECK_FIELD(prout_list(&f, NEXUS_A, 0, 0, 0xa, 0xa, 0x01, 24), 0x2600, 0, 20, 0);
	CHECK_BAD_CDB(prout(&f, NEXUS_A, 1, 0x12, 0xa, 0), 2, 7); /* scope */
	CHECK_BAD_CDB(prout(&f, NEXUS_A, 1, 2, 0xa, 0), 2, 3);    /* type */
	uint8_t cdb[16] = { 0x5e, 4 };
	CHECK_BAD_CDB(run_as(&f, NEXUS_A, cdb, 0), 1, 4);           /* service action */
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "reserve_release", test_reserve_release },
	{ "reservation_ends", test_reservation_ends },
	{ "pr_register_reserve", test_pr_register_reserve },
	{ "pr_outlives_nexus", test_pr_outlives_nexus },
	{ "pr_preempt_and_clear", test_pr_preempt_and_clear },
	{ "pr_in_formats_and_checks", test_pr_in_formats_and_checks },
};
HARNESS_MAIN(tests)
