/*
 * test_xcopy.c - EXTENDED COPY (LID1), RECEIVE COPY RESULTS and the
 * Third-party Copy VPD page (target/scsi/xcopy.c) on a real pool: copies
 * within a LUN (overlapping both ways), across LUNs and across pools
 * (through the bounce buffer, in pieces), a copy that waits for a held LUN
 * (hold.c) and follows its switch to another pool, or ends when the LUN
 * goes, the copy status, and every refusal with its exact sense.
 */
#include "tests/unit/target/scsi/scsitest.h"

#define VOL_BYTES (8u << 20)
#define VOL_BLOCKS (VOL_BYTES / 512)

struct list {
	uint8_t bytes[2048];
	uint32_t cscd_len, seg_len;
};

static void add_cscd(struct list *l, const struct scsi_target *t, uint64_t lun)
{
	uint8_t *d = l->bytes + 16 + l->cscd_len;
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01; /* binary */
	d[5] = 0x03; /* LU, NAA */
	d[7] = 16;
	lun_naa(&t->luns[lun], d + 8);
	put_be(d + 29, 3, 512);
	l->cscd_len += 32;
}

static void add_segment(struct list *l, uint16_t src, uint16_t dst, uint16_t nblocks,
			uint64_t src_lba, uint64_t dst_lba)
{
	uint8_t *d = l->bytes + 16 + l->cscd_len + l->seg_len;
	memset(d, 0, 28);
	d[0] = 0x02;
	put_be16(d + 2, 24);
	put_be16(d + 4, src);
	put_be16(d + 6, dst);
	put_be16(d + 10, nblocks);
	put_be64(d + 12, src_lba);
	put_be64(d + 20, dst_lba);
	l->seg_len += 28;
}

/* Header for list id; returns the parameter list length. */
static uint32_t finish(struct list *l, uint8_t list_id)
{
	l->bytes[0] = list_id;
	put_be16(l->bytes + 2, (uint16_t)l->cscd_len);
	put_be32(l->bytes + 8, l->seg_len);
	return 16 + l->cscd_len + l->seg_len;
}

static struct scsi_task *xcopy(struct fixture *f, struct list *l, uint32_t len)
{
	uint8_t cdb[16] = { 0x83 };
	put_be32(cdb + 10, len);
	return run(f, cdb, l->bytes, len);
}

static struct scsi_task *rw(struct fixture *f, uint64_t lun, uint8_t op, uint32_t lba,
			    uint16_t n, uint8_t *buf)
{
	uint8_t cdb[16];
	cdb10(cdb, op, lba, n);
	return run_on(f, lun, cdb, 16, buf, n * 512u);
}

static void fill(uint8_t *buf, uint32_t nblocks, uint8_t seed)
{
	for (uint32_t i = 0; i < nblocks * 512; i++)
		buf[i] = (uint8_t)(seed + i / 512 * 7 + i % 251);
}

static void test_copy_within_a_lun_and_status(void)
{
	struct fixture f;
	static uint8_t data[64 * 512], back[64 * 512], resp[64];
	struct list l = { 0 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill(data, 64, 1);
	CHECK_GOOD(rw(&f, 0, 0x2a, 0, 64, data));
	add_cscd(&l, f.t, 0);
	add_segment(&l, 0, 0, 40, 0, 1000);    /* 4 KiB aligned: shared */
	add_segment(&l, 0, 0, 24, 40, 3001);   /* unaligned: copied */
	add_segment(&l, 0, 0, 0, 0, 0);        /* empty: counts, moves nothing */
	CHECK_GOOD(xcopy(&f, &l, finish(&l, 7)));
	CHECK_GOOD(rw(&f, 0, 0x28, 1000, 40, back));
	CHECK(memcmp(back, data, 40 * 512) == 0);
	CHECK_GOOD(rw(&f, 0, 0x28, 3001, 24, back));
	CHECK(memcmp(back, data + 40 * 512, 24 * 512) == 0);

	uint8_t cdb[16] = { 0x84, 0x00, 7 };
	put_be32(cdb + 10, sizeof(resp));
	struct scsi_task *task = run(&f, cdb, resp, sizeof(resp));
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 12);
	CHECK_EQ(get_be32(resp), 8);
	CHECK_EQ(resp[4], 0x01);              /* completed, no errors */
	CHECK_EQ(get_be16(resp + 5), 3);      /* segments processed */
	CHECK_EQ(resp[7], 0x00);              /* bytes */
	CHECK_EQ(get_be32(resp + 8), 64 * 512);
	cdb[2] = 8;                           /* no copy with that list id */
	CHECK_BAD_CDB(run(&f, cdb, resp, sizeof(resp)), 2, -1);
	f.nexus = 2;                          /* nor for another nexus */
	cdb[2] = 7;
	scsi_nexus_add(f.t, 2, "iqn.2026-01.io.slate:other,i,0x000000000002");
	run(&f, cdb, resp, sizeof(resp));     /* its power-on unit attention */
	CHECK_BAD_CDB(run(&f, cdb, resp, sizeof(resp)), 2, -1);
	fixture_close(&f);
}

static void test_overlapping_copies_are_memmove(void)
{
	struct fixture f;
	static uint8_t data[4096 * 2], back[4096 * 2];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	for (int upward = 0; upward < 2; upward++) {
		struct list l = { 0 };
		uint32_t src = upward ? 100 : 110, dst = upward ? 110 : 100;
		fill(data, 16, (uint8_t)(upward + 9));
		CHECK_GOOD(rw(&f, 0, 0x2a, src, 16, data));
		add_cscd(&l, f.t, 0);
		add_segment(&l, 0, 0, 16, src, dst);
		CHECK_GOOD(xcopy(&f, &l, finish(&l, 1)));
		CHECK_GOOD(rw(&f, 0, 0x28, dst, 16, back));
		CHECK(memcmp(back, data, 16 * 512) == 0);
	}
	fixture_close(&f);
}

static void test_copy_across_luns(void)
{
	struct fixture f;
	static uint8_t data[128 * 512], back[128 * 512];
	uint64_t vol2;
	struct list l = { 0 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	REQUIRE(cowstore_volume_create(f.tp.cs, "second", VOL_BYTES, &vol2, NULL) == 0);
	REQUIRE(scsi_target_add_lun(f.t, 1, NULL, vol2) == 0);
	run(&f, (uint8_t[16]){ 0 }, NULL, 0); /* REPORTED LUNS DATA HAS CHANGED */
	fill(data, 128, 3);
	CHECK_GOOD(rw(&f, 0, 0x2a, 64, 128, data));
	add_cscd(&l, f.t, 0);
	add_cscd(&l, f.t, 1);
	add_segment(&l, 0, 1, 128, 64, VOL_BLOCKS - 128);
	CHECK_GOOD(xcopy(&f, &l, finish(&l, 2)));
	CHECK_EQ(f.t->luns[0].inflight, 0);   /* the task left no count behind */
	CHECK_EQ(f.t->luns[1].inflight, 0);
	for (int i = 0; i < 3; i++) /* LUN 1's unit attentions */
		run_on(&f, 1, (uint8_t[16]){ 0 }, 16, NULL, 0);
	CHECK_GOOD(rw(&f, 1, 0x28, VOL_BLOCKS - 128, 128, back));
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	fixture_close(&f);
}

/* LUN 0 on the fixture's pool, LUN 1 on another: a segment each way, the
 * first unaligned and longer than a bounce piece (2048 blocks). */
static void test_copy_across_pools(void)
{
	struct fixture f;
	struct test_pool other;
	static uint8_t data[4500 * 512], back[4500 * 512], resp[16];
	uint64_t vol1;
	struct list l = { 0 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	REQUIRE(fixture_add_pool(&f, &other, 1, VOL_BYTES, &vol1) == 0);
	run(&f, (uint8_t[16]){ 0 }, NULL, 0); /* REPORTED LUNS DATA HAS CHANGED */
	fill(data, 4500, 5);
	CHECK_GOOD(rw(&f, 0, 0x2a, 3, 4500, data));
	fill(back, 16, 6);
	REQUIRE(cowstore_write(other.cs, vol1, 9000, 16, back, 0) == 0);
	add_cscd(&l, f.t, 0);
	add_cscd(&l, f.t, 1);
	add_segment(&l, 0, 1, 4500, 3, 1001);   /* pool 1 to pool 2 */
	add_segment(&l, 1, 0, 16, 9000, 7000);  /* and back */
	CHECK_GOOD(xcopy(&f, &l, finish(&l, 4)));
	CHECK_EQ(f.t->luns[0].inflight, 0);
	CHECK_EQ(f.t->luns[1].inflight, 0);
	memset(back, 0, sizeof(back));
	CHECK_EQ(cowstore_read(other.cs, vol1, 1001, 4500, back), 0);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	fill(data, 16, 6);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 7000, 16, back), 0);
	CHECK(memcmp(back, data, 16 * 512) == 0);

	uint8_t cdb[16] = { 0x84, 0x00, 4 };    /* RECEIVE COPY RESULTS */
	put_be32(cdb + 10, sizeof(resp));
	CHECK_GOOD(run(&f, cdb, resp, sizeof(resp)));
	CHECK_EQ(resp[4], 0x01);
	CHECK_EQ(get_be16(resp + 5), 2);
	CHECK_EQ(get_be32(resp + 8), (4500 + 16) * 512);
	fixture_close(&f);
	test_pool_destroy(&other);
}

static void start_xcopy(struct fixture *f, struct pending *p, struct list *l, uint32_t len)
{
	uint8_t cdb[16] = { 0x83 };
	put_be32(cdb + 10, len);
	start_on(f, p, 0, cdb, l->bytes, len);
}

/* LUN 0 and LUN 1 (volume vol1) in the fixture's pool, the unit attentions
 * taken, and a segment 0 to 1 of 64 blocks of known data in l. */
static int open_two_luns(struct fixture *f, struct list *l, uint8_t *data, uint64_t *vol1)
{
	if (fixture_open(f, 64, VOL_BYTES, 0) ||
	    cowstore_volume_create(f->tp.cs, "second", VOL_BYTES, vol1, NULL) ||
	    scsi_target_add_lun(f->t, 1, NULL, *vol1))
		return -1;
	run(f, (uint8_t[16]){ 0 }, NULL, 0); /* REPORTED LUNS DATA HAS CHANGED */
	fill(data, 64, 8);
	if (rw(f, 0, 0x2a, 0, 64, data)->status != SCSI_STATUS_GOOD)
		return -1;
	memset(l, 0, sizeof(*l));
	add_cscd(l, f->t, 0);
	add_cscd(l, f->t, 1);
	add_segment(l, 0, 1, 64, 0, 500);
	return 0;
}

/* The destination's volume is held: the copy waits, counted nowhere, and
 * after the switch to a volume of another pool it writes there. */
static void test_copy_waits_for_held_lun_and_follows_switch(void)
{
	struct fixture f;
	struct test_pool other;
	struct list l;
	struct pending copy;
	static uint8_t data[64 * 512], back[64 * 512], zero[64 * 512];
	uint64_t vol1, to;
	REQUIRE(open_two_luns(&f, &l, data, &vol1) == 0);
	REQUIRE(test_pool_open(&other, 64, 0) == 0);
	REQUIRE(fixture_other_volume(&f, other.cs, VOL_BYTES, &to) == 0);
	CHECK_EQ(scsi_target_hold_volume(f.t, NULL, vol1), 0);
	start_xcopy(&f, &copy, &l, finish(&l, 9));
	CHECK(!reap_until(&f, &copy.done, 200));
	CHECK_EQ(f.t->luns[0].inflight, 0);
	CHECK_EQ(f.t->luns[1].inflight, 0);
	scsi_target_release_volume(f.t, NULL, vol1, other.cs, to);
	CHECK(reap_until(&f, &copy.done, 10000));
	CHECK_GOOD(&copy.task);
	CHECK_EQ(cowstore_read(other.cs, to, 500, 64, back), 0);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	CHECK_EQ(cowstore_read(f.tp.cs, vol1, 500, 64, back), 0);
	CHECK(memcmp(back, zero, sizeof(zero)) == 0);
	fixture_close(&f);
	test_pool_destroy(&other);
}

/* The copy waits for held LUN 1, which is then unmapped: COPY ABORTED,
 * UNREACHABLE COPY TARGET, at once. */
static void test_copy_waiting_for_removed_lun_ends(void)
{
	struct fixture f;
	struct list l;
	struct pending copy;
	static uint8_t data[64 * 512];
	uint64_t vol1;
	REQUIRE(open_two_luns(&f, &l, data, &vol1) == 0);
	scsi_target_hold_volume(f.t, NULL, vol1);
	start_xcopy(&f, &copy, &l, finish(&l, 9));
	CHECK(!reap_until(&f, &copy.done, 200));
	CHECK_EQ(scsi_target_remove_lun(f.t, 1), 0);
	CHECK_EQ(copy.done, 1);
	CHECK_SENSE(&copy.task, 0x0a, 0x0804);
	CHECK_EQ(f.t->luns[0].inflight, 0);
	fixture_close(&f);
}

static void test_refusals(void)
{
	struct fixture f;
	struct list l;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	CHECK_GOOD(xcopy(&f, &l, 0));         /* an empty list does nothing */

	memset(&l, 0, sizeof(l));
	add_cscd(&l, f.t, 0);
	add_segment(&l, 0, 0, 8, 0, 64);
	uint32_t len = finish(&l, 1);
	CHECK_SENSE(xcopy(&f, &l, 16 + 31), 0x05, 0x1a00);      /* truncated CSCD */
	CHECK_SENSE(xcopy(&f, &l, len - 1), 0x05, 0x1a00);      /* truncated segment */
	CHECK_SENSE(xcopy(&f, &l, 12), 0x05, 0x1a00);           /* no header */

	l.bytes[16] = 0xe0;                                      /* FC N_Port_Name */
	CHECK_FIELD(xcopy(&f, &l, len), 0x2607, 0, 16, -1);
	l.bytes[16] = 0xe4;
	l.bytes[16 + 32] = 0x01;                                 /* stream to block */
	CHECK_FIELD(xcopy(&f, &l, len), 0x2609, 0, 48, -1);
	l.bytes[16 + 32] = 0x02;
	l.bytes[16 + 32 + 7] = 1;                                /* no CSCD 1 */
	CHECK_SENSE(xcopy(&f, &l, len), 0x0a, 0x0804);
	l.bytes[16 + 32 + 7] = 0;
	put_be64(l.bytes + 16 + 32 + 20, VOL_BLOCKS - 7);       /* beyond the end */
	CHECK_SENSE(xcopy(&f, &l, len), 0x0a, 0x0000);
	put_be64(l.bytes + 16 + 32 + 20, 64);
	l.bytes[16 + 8 + 15] ^= 0xff;                            /* names no LUN */
	CHECK_SENSE(xcopy(&f, &l, len), 0x0a, 0x0804);
	l.bytes[16 + 8 + 15] ^= 0xff;
	l.bytes[1] = 0x20;                                       /* STR */
	CHECK_FIELD(xcopy(&f, &l, len), 0x2600, 0, 1, -1);
	l.bytes[1] = 0;
	f.t->luns[0].swp = true;                                 /* write protected */
	CHECK_SENSE(xcopy(&f, &l, len), 0x07, 0x2702);
	f.t->luns[0].swp = false;
	CHECK_GOOD(xcopy(&f, &l, len));                          /* all fixed */

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 9; i++)
		add_cscd(&l, f.t, 0);
	add_segment(&l, 0, 0, 8, 0, 64);
	CHECK_SENSE(xcopy(&f, &l, finish(&l, 1)), 0x05, 0x2606);
	memset(&l, 0, sizeof(l));
	add_cscd(&l, f.t, 0);
	for (int i = 0; i < 33; i++)
		add_segment(&l, 0, 0, 8, 0, 64);
	CHECK_SENSE(xcopy(&f, &l, finish(&l, 1)), 0x05, 0x2608);
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 8; i++)
		add_cscd(&l, f.t, 0);
	for (int i = 0; i < 32; i++)
		add_segment(&l, 0, 0, 8, 0, 64);
	CHECK_SENSE(xcopy(&f, &l, finish(&l, 1)), 0x05, 0x1a00); /* > 1024 bytes */
	fixture_close(&f);
}

static void test_operating_parameters_and_vpd(void)
{
	struct fixture f;
	uint8_t resp[512];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	uint8_t cdb[16] = { 0x84, 0x03 };
	put_be32(cdb + 10, sizeof(resp));
	struct scsi_task *task = run(&f, cdb, resp, sizeof(resp));
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 46);
	CHECK_EQ(get_be16(resp + 8), 8);      /* CSCD descriptors */
	CHECK_EQ(get_be16(resp + 10), 32);    /* segment descriptors */
	CHECK_EQ(get_be32(resp + 12), 1024);
	CHECK_EQ(resp[43], 2);
	CHECK(resp[44] == 0x02 && resp[45] == 0xe4);

	uint8_t inq[16] = { 0x12, 0x01, 0x8f };
	put_be16(inq + 3, sizeof(resp));
	task = run(&f, inq, resp, sizeof(resp));
	CHECK_GOOD(task);
	CHECK_EQ(resp[1], 0x8f);
	CHECK_EQ(get_be16(resp + 2) + 4, task->data_in_len);
	/* descriptors in order: 0001h, 0004h, 0008h, 000Ch, 8001h */
	static const uint16_t types[] = { 0x0001, 0x0004, 0x0008, 0x000c, 0x8001 };
	uint32_t at = 4;
	for (size_t i = 0; i < 5; i++) {
		CHECK_EQ(get_be16(resp + at), types[i]);
		CHECK_EQ(get_be16(resp + at + 2) % 4, 0);
		at += 4 + get_be16(resp + at + 2);
	}
	CHECK_EQ(at, task->data_in_len);
	inq[1] = 0;
	inq[2] = 0;
	CHECK_GOOD(run(&f, inq, resp, 96));
	CHECK(resp[5] & 0x08);                /* 3PC */
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "copy_within_a_lun_and_status", test_copy_within_a_lun_and_status },
	{ "overlapping_copies_are_memmove", test_overlapping_copies_are_memmove },
	{ "copy_across_luns", test_copy_across_luns },
	{ "copy_across_pools", test_copy_across_pools },
	{ "copy_waits_for_held_lun_and_follows_switch",
	  test_copy_waits_for_held_lun_and_follows_switch },
	{ "copy_waiting_for_removed_lun_ends", test_copy_waiting_for_removed_lun_ends },
	{ "refusals", test_refusals },
	{ "operating_parameters_and_vpd", test_operating_parameters_and_vpd },
};

HARNESS_MAIN(tests)
