/*
 * test_cdb.c - scsi_cdb_info() (direction and data length before the data
 * arrives) for every supported opcode, and the decoding of bad CDB fields:
 * reserved bits, unknown service actions, unknown opcodes, with the exact
 * field pointer.
 */
#include "tests/unit/target/scsi/scsitest.h"

struct info_case {
	uint8_t cdb[16];
	enum scsi_dir dir;
	uint32_t data_len;
};

#define IN SCSI_DIR_FROM_DEV
#define OUT SCSI_DIR_TO_DEV
#define NONE SCSI_DIR_NONE

static const struct info_case cases[] = {
	{ { 0x00 }, NONE, 0 },                                   /* TEST UNIT READY */
	{ { 0x03, 0, 0, 0, 18 }, IN, 18 },                       /* REQUEST SENSE */
	{ { 0x12, 1, 0x83, 0x01, 0x00 }, IN, 256 },              /* INQUIRY */
	{ { 0x15, 0x10, 0, 0, 24 }, OUT, 24 },                   /* MODE SELECT(6) */
	{ { 0x1a, 0, 0x3f, 0, 252 }, IN, 252 },                  /* MODE SENSE(6) */
	{ { 0x1b, 0, 0, 0, 1 }, NONE, 0 },                       /* START STOP UNIT */
	{ { 0x1e, 0, 0, 0, 1 }, NONE, 0 },                       /* PREVENT ALLOW */
	{ { 0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x02 }, OUT, 258 }, /* MODE SELECT(10) */
	{ { 0x5a, 0, 0x08, 0, 0, 0, 0, 0, 200 }, IN, 200 },      /* MODE SENSE(10) */
	{ { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 }, IN, 4096 },    /* REPORT LUNS */
	{ { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0 }, IN, 256 },     /* REPORT TPGS */
	{ { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x20, 0 }, IN, 8192 }, /* REPORT OPCODES */
	{ { 0x08, 0, 0, 0, 0 }, IN, 256 * 512 },                 /* READ(6): 0 = 256 */
	{ { 0x08, 0, 0, 0, 3 }, IN, 3 * 512 },
	{ { 0x0a, 0, 0, 0, 1 }, OUT, 512 },                      /* WRITE(6) */
	{ { 0x28, 0, 0, 0, 0, 0, 0, 0, 8 }, IN, 4096 },          /* READ(10) */
	{ { 0x28, 0, 0, 0, 0, 0, 0, 0, 0 }, NONE, 0 },           /* nothing to move */
	{ { 0x2a, 0, 0, 0, 0, 0, 0, 0x01, 0 }, OUT, 256 * 512 }, /* WRITE(10) */
	{ { 0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, IN, 1024 },       /* READ(12) */
	{ { 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, OUT, 1024 },      /* WRITE(12) */
	{ { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, IN, 65536 * 512 }, /* READ(16) max */
	{ { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 }, NONE, 0 }, /* above the max: 0 */
	{ { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4 }, OUT, 2048 }, /* WRITE(16) */
	{ { 0x2e, 0, 0, 0, 0, 0, 0, 0, 1 }, OUT, 512 },          /* WRITE AND VERIFY(10) */
	{ { 0x8e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, OUT, 1024 },
	{ { 0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 }, OUT, 4096 }, /* WRITE ATOMIC(16) */
	{ { 0x2f, 0x00, 0, 0, 0, 0, 0, 0, 8 }, NONE, 0 },        /* VERIFY(10) BYTCHK 0 */
	{ { 0x2f, 0x02, 0, 0, 0, 0, 0, 0, 8 }, OUT, 4096 },      /* BYTCHK 1 */
	{ { 0x2f, 0x06, 0, 0, 0, 0, 0, 0, 8 }, OUT, 512 },       /* BYTCHK 3: one block */
	{ { 0x2f, 0x04, 0, 0, 0, 0, 0, 0, 8 }, NONE, 0 },        /* BYTCHK 2: refused later */
	{ { 0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, OUT, 1024 }, /* VERIFY(16) */
	{ { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, OUT, 1024 }, /* COMPARE AND WRITE */
	{ { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, NONE, 0 },   /* above the max */
	{ { 0x25 }, IN, 8 },                                     /* READ CAPACITY(10) */
	{ { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 }, IN, 32 }, /* READ CAPACITY(16) */
	{ { 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24 }, IN, 24 }, /* GET LBA STATUS */
	{ { 0x35, 0, 0, 0, 0, 0, 0, 0, 0 }, NONE, 0 },           /* SYNCHRONIZE CACHE(10) */
	{ { 0x91 }, NONE, 0 },                                   /* SYNCHRONIZE CACHE(16) */
	{ { 0x34, 0, 0, 0, 0, 0, 0, 0, 8 }, NONE, 0 },           /* PRE-FETCH(10) */
	{ { 0x90 }, NONE, 0 },                                   /* PRE-FETCH(16) */
	{ { 0x41, 0x08, 0, 0, 0, 0, 0, 0, 8 }, OUT, 512 },       /* WRITE SAME(10) */
	{ { 0x93, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 }, OUT, 512 }, /* WRITE SAME(16) */
	{ { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 }, NONE, 0 },  /* NDOB */
	{ { 0x42, 0, 0, 0, 0, 0, 0, 0, 24 }, OUT, 24 },          /* UNMAP */
};

static void test_info_every_opcode(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scsi_cdb_info info;
		memset(&info, 0xaa, sizeof(info));
		scsi_cdb_info(cases[i].cdb, 16, &info);
		if (!info.known || info.dir != cases[i].dir || info.data_len != cases[i].data_len)
			fprintf(stderr, "  case %zu (opcode %02x): known %d dir %d len %u\n", i,
				cases[i].cdb[0], info.known, info.dir, info.data_len);
		CHECK(info.known);
		CHECK_EQ(info.dir, cases[i].dir);
		CHECK_EQ(info.data_len, cases[i].data_len);
	}
}

static void test_info_unknown(void)
{
	struct scsi_cdb_info info;
	static const uint8_t unknown[][16] = {
		{ 0x5e, 0x04 },    /* PERSISTENT RESERVE IN, a reserved service action */
		{ 0x83, 0x1c },    /* EXTENDED COPY(LID4): only LID1 is ours */
		{ 0x1d },          /* SEND DIAGNOSTIC */
		{ 0x9e, 0x11 },    /* SERVICE ACTION IN with an unknown action */
		{ 0xa3, 0x05 },    /* MAINTENANCE IN, REPORT IDENTIFYING INFORMATION */
		{ 0xff },
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		scsi_cdb_info(unknown[i], 16, &info);
		CHECK(!info.known);
		CHECK_EQ(info.dir, SCSI_DIR_NONE);
		CHECK_EQ(info.data_len, 0);
	}
	uint8_t read16[16] = { 0x88 };
	scsi_cdb_info(read16, 10, &info); /* CDB shorter than the command */
	CHECK(!info.known);
}

/* ---- bad fields, through execute ------------------------------------------ */

static void test_bad_fields(void)
{
	struct fixture f;
	uint8_t cdb[16], buf[4096];
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	cdb10(cdb, 0x28, 0, 1);
	cdb[1] = 0x20; /* RDPROTECT: no protection information */
	CHECK_BAD_CDB(run(&f, cdb, buf, 512), 1, 5);
	cdb10(cdb, 0x28, 0, 1);
	cdb[9] = 0x04; /* NACA */
	CHECK_BAD_CDB(run(&f, cdb, buf, 512), 9, 2);
	cdb10(cdb, 0x2a, 0, 1);
	cdb[1] = 0x04; /* reserved in WRITE(10) */
	CHECK_BAD_CDB(run(&f, cdb, buf, 512), 1, 2);
	uint8_t inq[16] = { 0x12, 0x02, 0, 0, 96 }; /* CmdDt (obsolete) */
	CHECK_BAD_CDB(run(&f, inq, buf, 96), 1, 1);
	uint8_t sai[16] = { 0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	CHECK_BAD_CDB(run(&f, sai, buf, 32), 1, 4); /* unknown service action */
	uint8_t unmap[16] = { 0x42, 0x01, 0, 0, 0, 0, 0, 0, 24 }; /* ANCHOR */
	CHECK_BAD_CDB(run(&f, unmap, buf, 24), 1, 0);
	uint8_t tur[16] = { 0x00, 0, 0, 0, 0, 0x01 }; /* LINK */
	CHECK_BAD_CDB(run(&f, tur, NULL, 0), 5, 0);
	fixture_close(&f);
}

static void test_unknown_opcode(void)
{
	struct fixture f;
	uint8_t buf[64];
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	static const uint8_t opcodes[] = { 0x1c, 0x1d, 0x3b, 0x4d, 0x86, 0xa4, 0xc0 };
	for (size_t i = 0; i < sizeof(opcodes); i++) {
		uint8_t cdb[16] = { opcodes[i] };
		struct scsi_task *task = run(&f, cdb, buf, 0);
		CHECK_SENSE(task, 0x05, 0x2000);
		CHECK_EQ(task->sense[15], 0); /* no field pointer */
	}
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "info_every_opcode", test_info_every_opcode },
	{ "info_unknown", test_info_unknown },
	{ "bad_fields", test_bad_fields },
	{ "unknown_opcode", test_unknown_opcode },
};
HARNESS_MAIN(tests)
