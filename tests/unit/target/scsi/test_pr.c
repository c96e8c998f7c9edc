/*
 * test_pr.c - reservations on a real pool with four I_T nexuses (A holds, B
 * is registered, C is not, unless a test says otherwise; D only looks):
 * every PERSISTENT RESERVE IN and OUT service action, the six reservation
 * types and what they let the other nexuses do, generation, unit attentions,
 * READ FULL STATUS bytes, RESERVE/RELEASE(6/10), refused parameter lists and
 * CDBs, registrations that outlive their nexus, and the APTPL blob (round
 * trip and corrupt blobs).
 */
#include "tests/unit/target/scsi/scsitest.h"

enum { A = NEXUS, B = 2, C = 3, D = 4 }; /* D only looks (READ RESERVATION) */
enum { REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT_ABORT, REGISTER_IGNORE };
enum { WE = 1, EA = 3, WE_RO = 5, EA_RO = 6, WE_AR = 7, EA_AR = 8 };
#define PORT_A "iqn.2026-01.io.slate:initiator,i,0x000000000001"
#define PORT_B "iqn.2026-01.io.slate:second,i,0x23d000000002"
#define PORT_C "iqn.2026-01.io.slate:third,i,0x23d000000003"
#define PORT_D "iqn.2026-01.io.slate:observer,i,0x23d000000004"
#define SPEC_I_PT 0x08
#define ALL_TG_PT 0x04
#define APTPL 0x01

static uint8_t buf[8192];

static struct scsi_task *tur(struct fixture *f, uint64_t nexus)
{
	uint8_t cdb[16] = { 0 };
	f->nexus = nexus;
	return run(f, cdb, NULL, 0);
}

/* The fixture with nexuses B, C and D added and their POWER ON taken. */
static int open3(struct fixture *f)
{
	if (fixture_open(f, 64, 1 << 20, 0))
		return -1;
	scsi_nexus_add(f->t, B, PORT_B);
	scsi_nexus_add(f->t, C, PORT_C);
	scsi_nexus_add(f->t, D, PORT_D);
	return tur(f, B)->sense[12] == 0x29 && tur(f, C)->sense[12] == 0x29 &&
	       tur(f, D)->sense[12] == 0x29 ? 0 : -1;
}

static struct scsi_task *prout_len(struct fixture *f, uint64_t nexus, int sa, int type,
				   uint64_t key, uint64_t sa_key, uint8_t flags, uint32_t len)
{
	uint8_t cdb[16] = { 0x5f, (uint8_t)sa, (uint8_t)type };
	static uint8_t param[64];
	memset(param, 0, sizeof(param));
	put_be32(cdb + 5, len);
	put_be64(param, key);
	put_be64(param + 8, sa_key);
	param[20] = flags;
	f->nexus = nexus;
	return run(f, cdb, param, len);
}

static struct scsi_task *prout(struct fixture *f, uint64_t nexus, int sa, int type,
			       uint64_t key, uint64_t sa_key)
{
	return prout_len(f, nexus, sa, type, key, sa_key, 0, 24);
}

static struct scsi_task *prin(struct fixture *f, uint64_t nexus, int sa, uint16_t alloc)
{
	uint8_t cdb[16] = { 0x5e, (uint8_t)sa };
	put_be16(cdb + 7, alloc);
	memset(buf, 0xee, sizeof(buf));
	f->nexus = nexus;
	return run(f, cdb, buf, alloc);
}

static struct scsi_task *rw(struct fixture *f, uint64_t nexus, uint8_t op)
{
	uint8_t cdb[16];
	cdb10(cdb, op, 1, 1);
	f->nexus = nexus;
	return run(f, cdb, buf, 512);
}

static struct scsi_task *simple(struct fixture *f, uint64_t nexus, uint8_t op)
{
	uint8_t cdb[16] = { op };
	f->nexus = nexus;
	return run(f, cdb, NULL, 0);
}

#define CHECK_CONFLICT(task)                                                   \
	do {                                                                   \
		const struct scsi_task *c_ = (task);                           \
		CHECK_EQ(c_->status, SCSI_STATUS_RESERVATION_CONFLICT);        \
		CHECK_EQ(c_->sense_len, 0);                                    \
	} while (0)

static uint32_t generation(struct fixture *f)
{
	prin(f, D, 0, 8);
	return get_be32(buf);
}

/* READ RESERVATION: key and type, or type 0 when there is none. */
static void check_reservation(struct fixture *f, uint64_t key, uint8_t type)
{
	struct scsi_task *task = prin(f, D, 1, 64);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, type ? 24u : 8u);
	CHECK_EQ(get_be32(buf + 4), type ? 16u : 0u);
	if (type) {
		CHECK_EQ(get_be64(buf + 8), key);
		CHECK_EQ(buf[21], type);
	}
}

static void test_register_and_read_keys(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	struct scsi_task *task = prin(&f, A, 0, 64);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 8);
	CHECK_EQ(get_be32(buf), 0);
	CHECK_EQ(get_be32(buf + 4), 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER_IGNORE, 0, 0x1234, 0xb)); /* key ignored */
	task = prin(&f, C, 0, 64);
	CHECK_EQ(task->data_in_len, 24);
	CHECK_EQ(get_be32(buf), 2);
	CHECK_EQ(get_be32(buf + 4), 16);
	CHECK_EQ(get_be64(buf + 8), 0xa);
	CHECK_EQ(get_be64(buf + 16), 0xb);
	CHECK_CONFLICT(prout(&f, A, REGISTER, 0, 0xbad, 0xc));  /* wrong key */
	CHECK_CONFLICT(prout(&f, C, REGISTER, 0, 0xbad, 0xc));  /* not registered */
	CHECK_GOOD(prout(&f, C, REGISTER, 0, 0, 0));            /* no-op */
	CHECK_EQ(generation(&f), 2);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0xa, 0xaa));       /* new key */
	CHECK_GOOD(prout(&f, B, REGISTER_IGNORE, 0, 0, 0));     /* unregister */
	task = prin(&f, A, 0, 12); /* truncated: the length still says all */
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 12);
	CHECK_EQ(get_be32(buf), 4);
	CHECK_EQ(get_be32(buf + 4), 8);
	CHECK_EQ(buf[12], 0xee);
	prin(&f, A, 0, 64);
	CHECK_EQ(get_be64(buf + 8), 0xaa);
	fixture_close(&f);
}

/* What B (registered) and C (not) may do while A holds each type. */
static void test_access_by_type(void)
{
	static const struct {
		uint8_t type, b_read, b_write, c_read, c_write, c_mode_sense;
	} cases[] = {
		{ WE, 1, 0, 1, 0, 1 },    { EA, 0, 0, 0, 0, 0 },
		{ WE_RO, 1, 1, 1, 0, 1 }, { EA_RO, 1, 1, 0, 0, 0 },
		{ WE_AR, 1, 1, 1, 0, 1 }, { EA_AR, 1, 1, 0, 0, 0 },
	};
	struct fixture f;
	uint8_t inq[16] = { 0x12, 0, 0, 0, 36 }, ms[16] = { 0x1a, 0, 0x3f, 0, 255 };
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t type = cases[i].type;
		bool all = type == WE_AR || type == EA_AR;
		CHECK_GOOD(prout(&f, A, RESERVE, type, 0xa, 0));
		check_reservation(&f, all ? 0 : 0xa, type);
		CHECK_GOOD(rw(&f, A, 0x28));
		CHECK_GOOD(rw(&f, A, 0x2a));
		CHECK_EQ(rw(&f, B, 0x28)->status, cases[i].b_read ? 0 : 0x18);
		CHECK_EQ(rw(&f, B, 0x2a)->status, cases[i].b_write ? 0 : 0x18);
		CHECK_EQ(rw(&f, C, 0x28)->status, cases[i].c_read ? 0 : 0x18);
		CHECK_EQ(rw(&f, C, 0x2a)->status, cases[i].c_write ? 0 : 0x18);
		f.nexus = C;
		CHECK_EQ(run(&f, ms, buf, 255)->status, cases[i].c_mode_sense ? 0 : 0x18);
		CHECK_GOOD(run(&f, inq, buf, 36));
		CHECK_GOOD(tur(&f, C));
		CHECK_GOOD(prout(&f, A, RELEASE, type, 0xa, 0));
		check_reservation(&f, 0, 0);
		if (type >= WE_RO) /* RESERVATIONS RELEASED for the other registrants */
			CHECK_SENSE(tur(&f, B), 0x06, 0x2a04);
		CHECK_GOOD(tur(&f, B));
		CHECK_GOOD(tur(&f, A));
	}
	CHECK_EQ(generation(&f), 2); /* RESERVE and RELEASE leave it alone */
	fixture_close(&f);
}

static void test_reserve_release_conflicts(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_CONFLICT(prout(&f, A, RESERVE, WE, 0, 0)); /* not registered */
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_CONFLICT(prout(&f, A, RESERVE, WE, 0xb, 0)); /* B's key */
	CHECK_GOOD(prout(&f, A, RESERVE, WE, 0xa, 0));
	CHECK_GOOD(prout(&f, A, RESERVE, WE, 0xa, 0));     /* again: fine */
	CHECK_CONFLICT(prout(&f, A, RESERVE, EA, 0xa, 0)); /* another type */
	CHECK_CONFLICT(prout(&f, B, RESERVE, WE, 0xb, 0));
	CHECK_GOOD(prout(&f, B, RELEASE, WE, 0xb, 0));     /* not the holder: nothing */
	check_reservation(&f, 0xa, WE);
	CHECK_CONFLICT(prout(&f, C, RELEASE, WE, 0, 0));
	CHECK_CONFLICT(prout(&f, A, RELEASE, WE, 0xb, 0));
	CHECK_SENSE(prout(&f, A, RELEASE, EA, 0xa, 0), 0x05, 0x2604);
	check_reservation(&f, 0xa, WE);
	CHECK_GOOD(prout(&f, A, RELEASE, WE, 0xa, 0));
	CHECK_GOOD(prout(&f, A, RELEASE, WE, 0xa, 0));     /* none left: GOOD */
	CHECK_GOOD(tur(&f, B));                            /* WE: no UA */
	fixture_close(&f);
}

static void test_holder_unregisters(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, A, RESERVE, EA_RO, 0xa, 0));
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0xa, 0));     /* holder leaves */
	check_reservation(&f, 0, 0);
	CHECK_SENSE(tur(&f, B), 0x06, 0x2a04);
	CHECK_GOOD(tur(&f, A));
	/* ALL REGISTRANTS: the reservation stays until the last one leaves */
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, A, RESERVE, WE_AR, 0xa, 0));
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0xa, 0));
	check_reservation(&f, 0, WE_AR);
	CHECK_GOOD(rw(&f, B, 0x2a));                       /* B holds it now */
	CHECK_CONFLICT(rw(&f, A, 0x2a));
	CHECK_GOOD(prout(&f, B, RELEASE, WE_AR, 0xb, 0));
	check_reservation(&f, 0, 0);
	CHECK_GOOD(prout(&f, B, RESERVE, EA_AR, 0xb, 0));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0xb, 0));
	check_reservation(&f, 0, 0);
	CHECK_EQ(generation(&f), 6);
	fixture_close(&f);
}

static void test_clear(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, C, REGISTER, 0, 0, 0xc));
	CHECK_GOOD(prout(&f, A, RESERVE, EA, 0xa, 0));
	CHECK_CONFLICT(prout(&f, B, CLEAR, 0, 0xa, 0));    /* B's key is 0xb */
	CHECK_GOOD(prout(&f, B, CLEAR, 0, 0xb, 0));        /* any registrant may */
	check_reservation(&f, 0, 0);
	struct scsi_task *task = prin(&f, B, 0, 64);
	CHECK_EQ(get_be32(buf), 4);
	CHECK_EQ(get_be32(buf + 4), 0);
	CHECK_EQ(task->data_in_len, 8);
	CHECK_SENSE(tur(&f, A), 0x06, 0x2a03);
	CHECK_SENSE(tur(&f, C), 0x06, 0x2a03);
	CHECK_GOOD(tur(&f, B));
	CHECK_CONFLICT(prout(&f, B, CLEAR, 0, 0xb, 0));    /* no longer registered */
	fixture_close(&f);
}

static void test_preempt(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, C, REGISTER, 0, 0, 0xc));
	/* no reservation: PREEMPT only removes registrations */
	CHECK_CONFLICT(prout(&f, A, PREEMPT, WE, 0xa, 0x99)); /* nobody has 0x99 */
	CHECK_FIELD(prout(&f, A, PREEMPT, WE, 0xa, 0), 0x2600, 0, 8, -1);
	CHECK_GOOD(prout(&f, A, PREEMPT, WE, 0xa, 0xc));
	check_reservation(&f, 0, 0);
	CHECK_SENSE(tur(&f, C), 0x06, 0x2a05);
	CHECK_EQ(generation(&f), 4);
	/* B takes A's EXCLUSIVE ACCESS reservation as WRITE EXCLUSIVE */
	CHECK_GOOD(prout(&f, C, REGISTER, 0, 0, 0xc));
	CHECK_GOOD(prout(&f, A, RESERVE, EA, 0xa, 0));
	CHECK_CONFLICT(prout(&f, C, PREEMPT, WE, 0xb, 0xa)); /* C's key is 0xc */
	CHECK_GOOD(prout(&f, B, PREEMPT_ABORT, WE, 0xb, 0xa));
	check_reservation(&f, 0xb, WE);
	CHECK_EQ(generation(&f), 6);
	CHECK_SENSE(tur(&f, A), 0x06, 0x2a05);             /* A lost its registration */
	CHECK_SENSE(tur(&f, C), 0x06, 0x2a04);             /* the type changed */
	CHECK_GOOD(tur(&f, B));
	CHECK_CONFLICT(rw(&f, A, 0x2a));
	CHECK_GOOD(rw(&f, A, 0x28));
	/* ALL REGISTRANTS with key 0: everyone else goes, a new reservation */
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(prout(&f, B, RELEASE, WE, 0xb, 0));
	CHECK_GOOD(prout(&f, B, RESERVE, EA_AR, 0xb, 0));
	CHECK_GOOD(prout(&f, C, PREEMPT, EA, 0xc, 0));
	check_reservation(&f, 0xc, EA);
	prin(&f, C, 0, 64);
	CHECK_EQ(get_be32(buf + 4), 8);
	CHECK_EQ(get_be64(buf + 8), 0xc);
	CHECK_SENSE(tur(&f, A), 0x06, 0x2a05);
	CHECK_SENSE(tur(&f, B), 0x06, 0x2a05);
	fixture_close(&f);
}

static void test_read_full_status(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout_len(&f, A, REGISTER, 0, 0, 0x1122334455667788ull, ALL_TG_PT, 24));
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, A, RESERVE, EA, 0x1122334455667788ull, 0));
	struct scsi_task *task = prin(&f, C, 3, 1024);
	CHECK_GOOD(task);
	/* PORT_A is 47 characters and PORT_B 44: with the NUL and padding, 48 */
	uint32_t len_a = 24 + 4 + 48, len_b = 24 + 4 + 48;
	CHECK_EQ(task->data_in_len, 8 + len_a + len_b);
	CHECK_EQ(get_be32(buf), 2);
	CHECK_EQ(get_be32(buf + 4), len_a + len_b);
	static const uint8_t want_a[28] = {
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0,
		0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 52, 0x45, 0, 0, 48,
	};
	CHECK(memcmp(buf + 8, want_a, sizeof(want_a)) == 0);
	CHECK(memcmp(buf + 8 + 28, PORT_A, 48) == 0); /* with its NUL */
	static const uint8_t want_b[28] = {
		0, 0, 0, 0, 0, 0, 0, 0x0b, 0, 0, 0, 0,
		0x00, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 52, 0x45, 0, 0, 48,
	};
	uint8_t *b = buf + 8 + len_a;
	CHECK(memcmp(b, want_b, sizeof(want_b)) == 0);
	CHECK(memcmp(b + 28, PORT_B, sizeof(PORT_B)) == 0); /* with its NUL */
	CHECK(b[28 + 45] == 0 && b[28 + 46] == 0 && b[28 + 47] == 0);
	fixture_close(&f);
}

static int saves;
static uint8_t saved[4096];
static size_t saved_len;
static int save_rc;

static int save_blob(void *arg, uint64_t lun, const void *blob, size_t len)
{
	CHECK_EQ(lun, 0);
	CHECK_EQ(arg, &saves);
	saves++;
	if (len <= sizeof(saved)) {
		if (len)
			memcpy(saved, blob, len);
		saved_len = len;
	}
	return save_rc;
}

static void test_report_capabilities(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	struct scsi_task *task = prin(&f, A, 2, 64);
	CHECK_GOOD(task);
	static const uint8_t want[8] = { 0, 8, 0x04, 0x90, 0xea, 0x01, 0, 0 };
	CHECK_EQ(task->data_in_len, 8);
	CHECK(memcmp(buf, want, 8) == 0);
	/* without a save function APTPL is refused */
	CHECK_FIELD(prout_len(&f, A, REGISTER, 0, 0, 0xa, APTPL, 24), 0x2600, 0, 20, 0);
	scsi_target_set_pr_save(f.t, save_blob, &saves);
	prin(&f, A, 2, 64);
	CHECK_EQ(buf[2], 0x05); /* PTPL_C */
	CHECK_EQ(buf[3], 0x90);
	CHECK_GOOD(prout_len(&f, A, REGISTER, 0, 0, 0xa, APTPL, 24));
	prin(&f, A, 2, 64);
	CHECK_EQ(buf[3], 0x91); /* PTPL_A */
	fixture_close(&f);
}

static void test_bad_parameter_lists(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_SENSE(prout_len(&f, A, REGISTER, 0, 0, 0xa, 0, 0), 0x05, 0x1a00);
	CHECK_SENSE(prout_len(&f, A, REGISTER, 0, 0, 0xa, 0, 23), 0x05, 0x1a00);
	CHECK_SENSE(prout_len(&f, A, REGISTER, 0, 0, 0xa, 0, 28), 0x05, 0x1a00);
	CHECK_FIELD(prout_len(&f, A, REGISTER, 0, 0, 0xa, SPEC_I_PT, 24), 0x2600, 0, 20, 3);
	CHECK_FIELD(prout_len(&f, A, REGISTER, 0, 0, 0xa, SPEC_I_PT, 28), 0x2600, 0, 20, 3);
	CHECK_FIELD(prout_len(&f, A, REGISTER, 0, 0, 0xa, 0x10, 24), 0x2600, 0, 20, 4);
	CHECK_FIELD(prout_len(&f, A, REGISTER, 0, 0, 0xa, 0x02, 24), 0x2600, 0, 20, 1);
	CHECK_EQ(generation(&f), 0);
	/* a hostile length: nothing to allocate, refused without reading */
	uint8_t cdb[16] = { 0x5f, REGISTER, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	struct scsi_cdb_info info;
	scsi_cdb_info(cdb, 16, &info);
	CHECK(info.known);
	CHECK_EQ(info.data_len, 0);
	f.nexus = A;
	CHECK_SENSE(run(&f, cdb, NULL, 0), 0x05, 0x1a00);
	fixture_close(&f);
}

static void test_bad_cdbs(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_BAD_CDB(prout(&f, A, RESERVE, 0x10 | WE, 0xa, 0), 2, 7); /* scope */
	CHECK_BAD_CDB(prout(&f, A, RESERVE, 2, 0xa, 0), 2, 3);         /* type 2 */
	CHECK_BAD_CDB(prout(&f, A, PREEMPT, 0, 0xa, 0xa), 2, 3);
	CHECK_BAD_CDB(prout(&f, A, 7, WE, 0xa, 0), 1, 4);              /* REGISTER AND MOVE */
	CHECK_BAD_CDB(prin(&f, A, 4, 64), 1, 4);
	CHECK_BAD_CDB(prin(&f, A, 0x1f, 64), 1, 4);
	uint8_t cdb[16] = { 0x5f, REGISTER, 0, 0, 0, 0, 0, 0, 24 }, param[24] = { 0 };
	f.nexus = A;
	CHECK_BAD_CDB(run(&f, cdb, param, 16), 5, -1); /* less data than the list */
	check_reservation(&f, 0, 0);
	fixture_close(&f);
}

static void test_reserve6(void)
{
	struct fixture f;
	uint8_t inq[16] = { 0x12, 0, 0, 0, 36 }, ms[16] = { 0x1a, 0, 0x3f, 0, 255 };
	uint8_t res10[16] = { 0x56, 0x10 };
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(simple(&f, A, 0x16));
	CHECK_GOOD(simple(&f, A, 0x16));                  /* again: fine */
	CHECK_CONFLICT(simple(&f, B, 0x16));
	CHECK_CONFLICT(simple(&f, B, 0x56));
	CHECK_GOOD(simple(&f, B, 0x17));                  /* releases nothing */
	CHECK_CONFLICT(tur(&f, B));
	CHECK_CONFLICT(rw(&f, B, 0x28));
	f.nexus = B;
	CHECK_CONFLICT(run(&f, ms, buf, 255));
	CHECK_GOOD(run(&f, inq, buf, 36));
	CHECK_CONFLICT(prin(&f, B, 0, 64));
	CHECK_CONFLICT(prin(&f, A, 0, 64));               /* even for the holder */
	CHECK_CONFLICT(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_GOOD(rw(&f, A, 0x2a));
	f.nexus = A;
	CHECK_GOOD(run(&f, ms, buf, 255));
	CHECK_BAD_CDB(run(&f, res10, NULL, 0), 1, 4);     /* third party */
	/* the holder's nexus going away releases it */
	scsi_nexus_remove(f.t, A);
	CHECK_GOOD(simple(&f, B, 0x56));
	CHECK_CONFLICT(simple(&f, C, 0x16));
	CHECK_GOOD(simple(&f, B, 0x57));
	CHECK_GOOD(simple(&f, C, 0x16));
	/* and so does a LUN reset, with its unit attention */
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0);
	CHECK_EQ(scsi_lun_reset(f.t, 5), -ENOENT);
	CHECK_SENSE(tur(&f, B), 0x06, 0x2903); /* BUS DEVICE RESET FUNCTION OCCURRED */
	CHECK_GOOD(simple(&f, B, 0x16));
	scsi_target_reset(f.t);
	CHECK_SENSE(tur(&f, B), 0x06, 0x2900);
	CHECK_SENSE(tur(&f, C), 0x06, 0x2900);
	CHECK_SENSE(tur(&f, C), 0x06, 0x2903); /* the LUN reset's, still pending */
	CHECK_GOOD(simple(&f, C, 0x16));
	CHECK_GOOD(simple(&f, C, 0x17));
	/* registrations make RESERVE and RELEASE conflict (CRH 0) */
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_CONFLICT(simple(&f, C, 0x16));
	CHECK_CONFLICT(simple(&f, B, 0x17));
	fixture_close(&f);
}

/* Registrations belong to the port name: a new nexus with it holds them. */
static void test_registration_outlives_nexus(void)
{
	struct fixture f;
	REQUIRE(open3(&f) == 0);
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0, 0xb));
	CHECK_GOOD(prout(&f, B, RESERVE, EA, 0xb, 0));
	scsi_nexus_remove(f.t, B);
	check_reservation(&f, 0xb, EA);
	scsi_nexus_add(f.t, 9, PORT_B);
	CHECK_SENSE(tur(&f, 9), 0x06, 0x2900);
	CHECK_GOOD(rw(&f, 9, 0x2a));
	scsi_nexus_add(f.t, 10, "iqn.2026-01.io.slate:second,i,0x23d000000009");
	CHECK_SENSE(tur(&f, 10), 0x06, 0x2900);
	CHECK_CONFLICT(rw(&f, 10, 0x28));                 /* another ISID */
	CHECK_GOOD(prout(&f, 9, RELEASE, EA, 0xb, 0));
	/* a nexus without a usable name gets one of its own */
	char long_name[300];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	scsi_nexus_add(f.t, 11, long_name);
	CHECK_SENSE(tur(&f, 11), 0x06, 0x2900);
	CHECK_GOOD(prout(&f, 11, REGISTER, 0, 0, 0x11));
	struct scsi_task *task = prin(&f, A, 3, 1024);
	CHECK_GOOD(task);
	uint8_t *d = buf + 8 + 24 + 4 + 48; /* after B's descriptor */
	CHECK_EQ(get_be64(d), 0x11);
	CHECK_EQ(d[24], 0x05); /* format 00h: no ISID in the name */
	CHECK(strcmp((char *)d + 28, "nexus.11") == 0);
	fixture_close(&f);
}

/* Switch f to a second target on the same pool (LUN 0 on the same volume,
 * nexuses A, B and C with POWER ON taken); returns the first one. */
static struct scsi_target *use_second_target(struct fixture *f)
{
	struct scsi_target *t1 = f->t, *t2;
	if (scsi_target_create(f->tp.cs, f->q, "iqn.2026-01.io.slate:test", &t2))
		return NULL;
	if (scsi_target_add_lun(t2, 0, NULL, f->vol)) {
		scsi_target_destroy(t2);
		return NULL;
	}
	scsi_nexus_add(t2, A, PORT_A);
	scsi_nexus_add(t2, B, PORT_B);
	scsi_nexus_add(t2, C, PORT_C);
	scsi_nexus_add(t2, D, PORT_D);
	f->t = t2;
	tur(f, A);
	tur(f, B);
	tur(f, C);
	tur(f, D);
	return t1;
}

static void back_to_first_target(struct fixture *f, struct scsi_target *t1)
{
	scsi_target_destroy(f->t);
	f->t = t1;
}

static void test_aptpl_round_trip(void)
{
	struct fixture f;
	uint8_t status_before[1024];
	REQUIRE(open3(&f) == 0);
	scsi_target_set_pr_save(f.t, save_blob, &saves);
	saves = 0;
	save_rc = 0;
	CHECK_GOOD(prout(&f, A, REGISTER, 0, 0, 0xa));
	CHECK_EQ(saves, 0);                               /* APTPL 0 so far */
	CHECK_GOOD(prout_len(&f, B, REGISTER, 0, 0, 0xb, APTPL | ALL_TG_PT, 24));
	CHECK_EQ(saves, 1);
	CHECK_GOOD(prout(&f, A, RESERVE, WE_RO, 0xa, 0));
	CHECK_EQ(saves, 2);
	CHECK_GOOD(prout(&f, A, RESERVE, WE_RO, 0xa, 0)); /* no change: no save */
	CHECK_EQ(saves, 2);
	struct scsi_task *task = prin(&f, C, 3, 1024);
	uint32_t status_len = task->data_in_len;
	memcpy(status_before, buf, status_len);
	/* restore into a fresh target: the same keys, holder, type, generation */
	struct scsi_target *t1 = use_second_target(&f), *t2 = f.t;
	REQUIRE(t1 != NULL);
	CHECK_EQ(scsi_target_load_pr(t2, 0, saved, saved_len), 0);
	task = prin(&f, C, 3, 1024);
	CHECK_EQ(task->data_in_len, status_len);
	CHECK(memcmp(buf, status_before, status_len) == 0);
	prin(&f, C, 2, 64);
	CHECK_EQ(buf[3] & 1, 1);                          /* PTPL_A */
	CHECK_GOOD(tur(&f, A));
	CHECK_CONFLICT(rw(&f, C, 0x2a));
	CHECK_GOOD(rw(&f, B, 0x2a));
	/* APTPL 0 forgets what was saved */
	scsi_target_set_pr_save(t2, save_blob, &saves);
	CHECK_GOOD(prout(&f, B, REGISTER, 0, 0xb, 0xbb));
	CHECK_EQ(saves, 3);
	CHECK_EQ(saved_len, 0);
	/* a failed save is reported */
	CHECK_GOOD(prout_len(&f, B, REGISTER, 0, 0xbb, 0xb, APTPL, 24));
	save_rc = -EIO;
	CHECK_SENSE(prout(&f, A, RELEASE, WE_RO, 0xa, 0), 0x04, 0x4400);
	save_rc = 0;
	CHECK_EQ(scsi_target_load_pr(t2, 7, saved, saved_len), -ENOENT);
	back_to_first_target(&f, t1);
	fixture_close(&f);
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void reseal(uint8_t *blob, size_t len)
{
	put_be32(blob + 16, fnv(fnv(2166136261u, blob, 16), blob + 20, len - 20));
}

static void test_aptpl_corrupt_blobs(void)
{
	struct fixture f;
	uint8_t good[512], bad[520];
	REQUIRE(open3(&f) == 0);
	scsi_target_set_pr_save(f.t, save_blob, &saves);
	CHECK_GOOD(prout_len(&f, A, REGISTER, 0, 0, 0xa, APTPL, 24));
	CHECK_GOOD(prout_len(&f, B, REGISTER, 0, 0, 0xb, APTPL, 24));
	CHECK_GOOD(prout(&f, B, RESERVE, EA, 0xb, 0));
	size_t len = saved_len;
	REQUIRE(len == 20 + 2 * 10 + strlen(PORT_A) + strlen(PORT_B));
	memcpy(good, saved, len);
	CHECK(memcmp(good, "SLPR\0\1\0\2\0\0\0\2\3\0\0\1", 16) == 0);
	struct scsi_target *t1 = use_second_target(&f), *t2 = f.t;
	REQUIRE(t1 != NULL);
	for (size_t n = 0; n < len; n++) /* every truncation */
		CHECK_EQ(scsi_target_load_pr(t2, 0, good, n), -EINVAL);
	for (size_t i = 0; i < len; i++) { /* every single-byte change */
		memcpy(bad, good, len);
		bad[i] ^= 0x41;
		CHECK_EQ(scsi_target_load_pr(t2, 0, bad, len), -EINVAL);
	}
	memcpy(bad, good, len); /* a byte too many, checksum right */
	bad[len] = 0;
	reseal(bad, len + 1);
	CHECK_EQ(scsi_target_load_pr(t2, 0, bad, len + 1), -EINVAL);
	/* well sealed but wrong inside: version, type, holder, key 0, NUL in a
	 * name, name length 0, a duplicate port, unknown flags */
	static const struct { size_t off; uint8_t value; } edits[] = {
		{ 5, 2 }, { 12, 2 }, { 15, 2 }, { 12, 0 }, { 13, 1 }, { 27, 0 },
		{ 20 + 10 + 5, 0 }, { 29, 0 }, { 28, 2 },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(bad, good, len);
		bad[edits[i].off] = edits[i].value;
		reseal(bad, len);
		CHECK_EQ(scsi_target_load_pr(t2, 0, bad, len), -EINVAL);
	}
	memcpy(bad, good, len); /* B's record with A's name */
	memcpy(bad + 20 + 10 + strlen(PORT_A) + 10, PORT_A, strlen(PORT_B));
	bad[20 + 10 + strlen(PORT_A) + 9] = (uint8_t)strlen(PORT_A);
	reseal(bad, len);
	CHECK_EQ(scsi_target_load_pr(t2, 0, bad, len), -EINVAL);
	CHECK_EQ(scsi_target_load_pr(t2, 0, NULL, 0), -EINVAL);
	/* nothing was taken from the bad blobs; the good one still loads */
	check_reservation(&f, 0, 0);
	CHECK_EQ(scsi_target_load_pr(t2, 0, good, len), 0);
	check_reservation(&f, 0xb, EA);
	CHECK_EQ(generation(&f), 2);
	back_to_first_target(&f, t1);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "register_and_read_keys", test_register_and_read_keys },
	{ "access_by_type", test_access_by_type },
	{ "reserve_release_conflicts", test_reserve_release_conflicts },
	{ "holder_unregisters", test_holder_unregisters },
	{ "clear", test_clear },
	{ "preempt", test_preempt },
	{ "read_full_status", test_read_full_status },
	{ "report_capabilities", test_report_capabilities },
	{ "bad_parameter_lists", test_bad_parameter_lists },
	{ "bad_cdbs", test_bad_cdbs },
	{ "reserve6", test_reserve6 },
	{ "registration_outlives_nexus", test_registration_outlives_nexus },
	{ "aptpl_round_trip", test_aptpl_round_trip },
	{ "aptpl_corrupt_blobs", test_aptpl_corrupt_blobs },
};
HARNESS_MAIN(tests)
