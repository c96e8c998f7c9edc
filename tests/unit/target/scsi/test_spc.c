/*
 * test_spc.c - primary commands on a real pool: unit attentions (power on,
 * capacity changed, reported LUNs changed), a missing LUN, INQUIRY and its
 * VPD pages, REPORT LUNS, REQUEST SENSE, MODE SENSE/SELECT (software write
 * protect included), START STOP, PREVENT ALLOW, REPORT SUPPORTED OPERATION
 * CODES, REPORT TARGET PORT GROUPS.
 */
#include "tests/unit/target/scsi/scsitest.h"

static uint8_t buf[8192];

static void test_unit_attention_power_on(void)
{
	struct fixture f;
	uint8_t tur[16] = { 0 }, inq[16] = { 0x12, 0, 0, 0, 36 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 1) == 0);
	CHECK_GOOD(run(&f, inq, buf, 36)); /* INQUIRY does not report it */
	struct scsi_task *task = run(&f, tur, NULL, 0);
	CHECK_SENSE(task, 0x06, 0x2900);
	CHECK_GOOD(run(&f, tur, NULL, 0)); /* reported once */
	/* a nexus never announced gets it too, on its first command */
	uint8_t rs[16] = { 0x03, 0, 0, 0, 18 };
	struct scsi_task t2 = { .lun = 0, .cdb_len = 16, .transfer_len = 18, .nexus_id = 77,
				.data = buf, .done = fixture_on_done, .priv = &f.done_calls };
	memcpy(t2.cdb, rs, 16);
	f.done_calls = 0;
	scsi_task_execute(f.t, &t2); /* REQUEST SENSE returns the UA as data */
	CHECK_EQ(f.done_calls, 1);
	CHECK_GOOD(&t2);
	CHECK_EQ(t2.data_in_len, 18);
	CHECK_EQ(buf[2], 0x06);
	CHECK_EQ(buf[12], 0x29);
	scsi_nexus_remove(f.t, 77);
	fixture_close(&f);
}

static void test_unit_attention_capacity_and_luns(void)
{
	struct fixture f;
	uint8_t tur[16] = { 0 }, rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
	uint64_t vol2;
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	CHECK_EQ(cowstore_volume_resize(f.tp.cs, f.vol, 2 << 20, NULL), 0);
	CHECK_EQ(scsi_target_lun_resized(f.t, 0), 0);
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2a09);
	CHECK_GOOD(run(&f, tur, NULL, 0));
	CHECK_EQ(scsi_target_lun_resized(f.t, 0), 0); /* no change: no UA */
	CHECK_GOOD(run(&f, tur, NULL, 0));
	/* a new LUN: LUN 0 reports REPORTED LUNS DATA HAS CHANGED */
	REQUIRE(cowstore_volume_create(f.tp.cs, "vol2", 1 << 20, &vol2, NULL) == 0);
	CHECK_EQ(scsi_target_add_lun(f.t, 3, NULL, vol2), 0);
	CHECK_EQ(scsi_target_add_lun(f.t, 3, NULL, vol2), -EEXIST);
	CHECK_EQ(scsi_target_lun_count(f.t), 2);
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x3f0e);
	/* LUN 3: power on first, then LUNs changed, which REPORT LUNS clears */
	CHECK_SENSE(run_on(&f, 3, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_GOOD(run_on(&f, 3, rl, 16, buf, 4096));
	CHECK_GOOD(run_on(&f, 3, tur, 16, NULL, 0));
	CHECK_EQ(scsi_target_remove_lun(f.t, 3), 0);
	CHECK_EQ(scsi_target_remove_lun(f.t, 3), -ENOENT);
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x3f0e);
	CHECK_SENSE(run_on(&f, 3, tur, 16, NULL, 0), 0x05, 0x2500);
	fixture_close(&f);
}

/* A LUN removed while a READ runs on it: new commands find it absent at
 * once, the READ finishes on the volume, and the number can be mapped again
 * only after that. */
static void test_remove_lun_while_busy(void)
{
	struct fixture f;
	uint8_t tur[16] = { 0 }, rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
	uint8_t read10[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 }, rl_data[4096];
	uint64_t vol2;
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	REQUIRE(cowstore_volume_create(f.tp.cs, "vol2", 1 << 20, &vol2, NULL) == 0);
	CHECK_EQ(scsi_target_add_lun(f.t, 3, NULL, vol2), 0);
	CHECK_SENSE(run_on(&f, 3, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_GOOD(run_on(&f, 3, rl, 16, rl_data, 4096));
	CHECK_GOOD(run(&f, tur, NULL, 0));

	static uint8_t data[4096];
	struct scsi_task busy = { .lun = 3, .cdb_len = 16, .transfer_len = sizeof(data),
				  .nexus_id = NEXUS, .data = data, .done = fixture_on_done };
	int busy_done = 0;
	memcpy(busy.cdb, read10, sizeof(read10));
	busy.priv = &busy_done;
	scsi_task_execute(f.t, &busy); /* in cowstore: not reaped yet */
	REQUIRE(busy_done == 0);
	CHECK_EQ(scsi_target_remove_lun(f.t, 3), 0);
	CHECK_SENSE(run_on(&f, 3, tur, 16, NULL, 0), 0x05, 0x2500);
	CHECK_EQ(scsi_target_add_lun(f.t, 3, NULL, f.vol), -EBUSY);
	for (int i = 0; i < 1000 && !busy_done; i++) {
		cowstore_queue_wait(f.q, 100);
		cowstore_queue_reap(f.q, 0);
	}
	CHECK_EQ(busy_done, 1);
	CHECK_EQ(busy.status, SCSI_STATUS_GOOD);
	CHECK_EQ(scsi_target_add_lun(f.t, 3, NULL, f.vol), 0);
	CHECK_SENSE(run_on(&f, 3, tur, 16, NULL, 0), 0x06, 0x2900);
	fixture_close(&f);
}

static void test_missing_lun(void)
{
	struct fixture f;
	uint8_t tur[16] = { 0 }, inq[16] = { 0x12, 0, 0, 0, 96 };
	uint8_t rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
	uint8_t rs[16] = { 0x03, 0, 0, 0, 18 }, unknown[16] = { 0xc5 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	CHECK_SENSE(run_on(&f, 9, tur, 16, NULL, 0), 0x05, 0x2500);
	CHECK_SENSE(run_on(&f, 9, unknown, 16, NULL, 0), 0x05, 0x2500);
	CHECK_SENSE(run_on(&f, UINT64_MAX, tur, 16, NULL, 0), 0x05, 0x2500);
	struct scsi_task *task = run_on(&f, 9, inq, 16, buf, 96);
	CHECK_GOOD(task);
	CHECK_EQ(buf[0], 0x7f); /* qualifier 3, type 1Fh */
	inq[1] = 1; /* VPD of a missing LUN */
	CHECK_SENSE(run_on(&f, 9, inq, 16, buf, 96), 0x05, 0x2500);
	task = run_on(&f, 9, rl, 16, buf, 4096);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 16);
	CHECK_EQ(get_be32(buf), 8);
	task = run_on(&f, 9, rs, 16, buf, 18);
	CHECK_GOOD(task);
	CHECK_EQ(buf[2], 0x05);
	CHECK_EQ(get_be16(buf + 12), 0x2500);
	fixture_close(&f);
}

static void test_inquiry_standard(void)
{
	struct fixture f;
	uint8_t inq[16] = { 0x12, 0, 0, 0, 255 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	memset(buf, 0xee, 256);
	struct scsi_task *task = run(&f, inq, buf, 255);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 66);
	CHECK_EQ(buf[0], 0x00);
	CHECK_EQ(buf[2], 0x06);
	CHECK_EQ(buf[3], 0x12);
	CHECK_EQ(buf[4], 61);
	CHECK_EQ(buf[5], 0x18); /* TPGS implicit, 3PC */
	CHECK_EQ(buf[7], 0x02);
	CHECK(memcmp(buf + 8, "SLATE   COWSTORE        ", 24) == 0);
	CHECK_EQ(get_be16(buf + 60), 0x0460);
	inq[4] = 5; /* allocation length cuts the data */
	CHECK_EQ(run(&f, inq, buf, 255)->data_in_len, 5);
	inq[2] = 0x80; /* page code without EVPD */
	CHECK_BAD_CDB(run(&f, inq, buf, 255), 2, -1);
	fixture_close(&f);
}

static struct scsi_task *vpd(struct fixture *f, uint8_t page)
{
	uint8_t inq[16] = { 0x12, 1, page, 0x02, 0 };
	memset(buf, 0xee, 512);
	return run(f, inq, buf, 512);
}

static void test_vpd_pages(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	struct scsi_task *task = vpd(&f, 0x00);
	CHECK_GOOD(task);
	static const uint8_t list[] = { 0, 0, 0, 8, 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };
	CHECK(memcmp(buf, list, sizeof(list)) == 0);
	CHECK_EQ(task->data_in_len, sizeof(list));
	task = vpd(&f, 0x80);
	char serial[17];
	snprintf(serial, sizeof(serial), "%016llx", (unsigned long long)f.vol);
	CHECK_EQ(buf[1], 0x80);
	CHECK_EQ(buf[3], 16);
	CHECK(memcmp(buf + 4, serial, 16) == 0);
	task = vpd(&f, 0xb0);
	CHECK_EQ(get_be16(buf + 2), 0x3c);
	CHECK_EQ(buf[5], 1);                 /* max COMPARE AND WRITE */
	CHECK_EQ(get_be16(buf + 6), 8);      /* optimal granularity */
	CHECK_EQ(get_be32(buf + 8), 65536);  /* max transfer */
	CHECK_EQ(get_be32(buf + 20), 1 << 20);
	CHECK_EQ(get_be32(buf + 24), 256);
	CHECK_EQ(get_be32(buf + 28), 2048);  /* unmap granularity 1 MiB */
	CHECK_EQ(get_be32(buf + 32), 0x80000000u);
	CHECK_EQ(get_be64(buf + 36), 1 << 22);
	task = vpd(&f, 0xb1);
	CHECK_EQ(get_be16(buf + 4), 1);
	task = vpd(&f, 0xb2);
	CHECK_EQ(task->data_in_len, 8);
	CHECK_EQ(buf[5], 0xe4);
	CHECK_EQ(buf[6] & 7, 2);
	task = vpd(&f, 0x86);
	CHECK_EQ(get_be16(buf + 2), 60);
	CHECK_EQ(buf[6], 0x01);
	CHECK_BAD_CDB(vpd(&f, 0x99), 2, -1);
	fixture_close(&f);
}

/* Page 83: NAA 6 from the volume id, target port name, relative port, group;
 * the same after the pool is reopened. */
static void test_vpd_device_id(void)
{
	struct fixture f;
	uint8_t first[512];
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	struct scsi_task *task = vpd(&f, 0x83);
	CHECK_GOOD(task);
	uint32_t len = get_be16(buf + 2) + 4;
	CHECK_EQ(task->data_in_len, len);
	memcpy(first, buf, len);
	const uint8_t *d = buf + 4;
	CHECK_EQ(d[0], 0x01);
	CHECK_EQ(d[1], 0x03);
	CHECK_EQ(d[3], 16);
	CHECK_EQ(d[4] >> 4, 6);
	CHECK_EQ(get_be64(d + 12), f.vol);
	d += 20;
	CHECK_EQ(d[0], 0x53);
	CHECK_EQ(d[1], 0x98);
	CHECK_EQ(d[3] % 4, 0);
	CHECK(strcmp((const char *)d + 4, "iqn.2026-01.io.slate:test,t,0x0001") == 0);
	d += 4 + d[3];
	CHECK_EQ(d[1], 0x94);
	CHECK_EQ(get_be16(d + 6), 1);
	d += 8;
	CHECK_EQ(d[1], 0x95);
	CHECK_EQ(get_be16(d + 6), 1);
	CHECK_EQ((uint32_t)(d + 8 - buf), len);
	/* restart: a new target on the reopened pool says the same */
	scsi_target_destroy(f.t);
	cowstore_queue_destroy(f.q);
	f.q = NULL;
	REQUIRE(test_pool_reopen(&f.tp) == 0);
	REQUIRE(cowstore_queue_create(f.tp.cs, &f.q) == 0);
	REQUIRE(scsi_target_create(f.tp.cs, f.q, "iqn.2026-01.io.slate:test", &f.t) == 0);
	REQUIRE(scsi_target_add_lun(f.t, 0, NULL, f.vol) == 0);
	CHECK_GOOD(vpd(&f, 0x83)); /* INQUIRY does not report the power-on UA */
	CHECK(memcmp(first, buf, len) == 0);
	uint8_t tur[16] = { 0 };
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2900); /* the restart is a power on */
	fixture_close(&f);
}

static void test_report_luns(void)
{
	struct fixture f;
	uint64_t vol2;
	uint8_t rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	REQUIRE(cowstore_volume_create(f.tp.cs, "vol2", 1 << 20, &vol2, NULL) == 0);
	REQUIRE(scsi_target_add_lun(f.t, 200, NULL, vol2) == 0);
	for (uint8_t select = 0; select <= 2; select++) {
		rl[2] = select;
		memset(buf, 0xee, 64);
		struct scsi_task *task = run(&f, rl, buf, 4096);
		CHECK_GOOD(task);
		uint32_t want = select == 1 ? 0 : 16;
		CHECK_EQ(get_be32(buf), want);
		CHECK_EQ(task->data_in_len, 8 + want);
		if (want) {
			CHECK_EQ(get_be64(buf + 8), 0);
			CHECK_EQ(get_be64(buf + 16), 200ull << 48);
		}
	}
	rl[2] = 3;
	CHECK_BAD_CDB(run(&f, rl, buf, 4096), 2, -1);
	rl[2] = 0;
	put_be32(rl + 6, 15);
	CHECK_BAD_CDB(run(&f, rl, buf, 15), 6, -1);
	put_be32(rl + 6, 16); /* the list length says 16 even when cut to 8 bytes */
	struct scsi_task *task = run(&f, rl, buf, 16);
	CHECK_EQ(task->data_in_len, 16);
	CHECK_EQ(get_be32(buf), 16);
	fixture_close(&f);
}

static void test_request_sense_and_simple(void)
{
	struct fixture f;
	uint8_t rs[16] = { 0x03, 0, 0, 0, 252 }, ssu[16] = { 0x1b, 0x01, 0, 0, 0x01 };
	uint8_t pamr[16] = { 0x1e, 0, 0, 0, 0x01 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	memset(buf, 0xee, 64);
	struct scsi_task *task = run(&f, rs, buf, 252);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 18);
	CHECK_EQ(buf[0], 0x70);
	CHECK_EQ(buf[2], 0);
	CHECK_EQ(buf[7], 10);
	CHECK_EQ(get_be16(buf + 12), 0);
	rs[1] = 1; /* DESC */
	CHECK_BAD_CDB(run(&f, rs, buf, 252), 1, 0);
	CHECK_GOOD(run(&f, ssu, NULL, 0));
	ssu[4] = 0x02 | 0x04; /* LOEJ, NO_FLUSH */
	CHECK_GOOD(run(&f, ssu, NULL, 0));
	CHECK_GOOD(run(&f, pamr, NULL, 0));
	pamr[4] = 0x04;
	CHECK_BAD_CDB(run(&f, pamr, NULL, 0), 4, 2);
	fixture_close(&f);
}

static struct scsi_task *mode_sense(struct fixture *f, bool ten, uint8_t byte1, uint8_t pc_page,
				    uint8_t subpage)
{
	uint8_t cdb[16] = { ten ? 0x5a : 0x1a, byte1, pc_page, subpage };
	if (ten)
		put_be16(cdb + 7, 1024);
	else
		cdb[4] = 255;
	memset(buf, 0xee, 1024);
	return run(f, cdb, buf, ten ? 1024 : 255);
}

static void test_mode_sense(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	struct scsi_task *task = mode_sense(&f, false, 0, 0x08, 0);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 4 + 8 + 20);
	CHECK_EQ(buf[0], 31);
	CHECK_EQ(buf[2], 0x10); /* DPOFUA */
	CHECK_EQ(buf[3], 8);
	CHECK_EQ(get_be32(buf + 4), 2048); /* blocks */
	CHECK_EQ(get_be32(buf + 8), 512);
	CHECK_EQ(buf[12], 0x08);
	CHECK_EQ(buf[13], 0x12);
	CHECK_EQ(buf[14], 0x04); /* WCE */
	task = mode_sense(&f, false, 0x08, 0x3f, 0); /* DBD, all pages */
	CHECK_EQ(task->data_in_len, 4 + 20 + 12 + 12);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(buf[4], 0x08);
	CHECK_EQ(buf[24], 0x0a);
	CHECK_EQ(buf[36], 0x1c);
	CHECK_EQ(buf[38], 0x08); /* DEXCPT */
	task = mode_sense(&f, true, 0x10, 0x0a, 0); /* LLBAA */
	CHECK_EQ(task->data_in_len, 8 + 16 + 12);
	CHECK_EQ(get_be16(buf), 34);
	CHECK_EQ(buf[4], 0x01);
	CHECK_EQ(get_be16(buf + 6), 16);
	CHECK_EQ(get_be64(buf + 8), 2048);
	CHECK_EQ(get_be32(buf + 20), 512);
	CHECK_EQ(buf[24], 0x0a);
	task = mode_sense(&f, true, 0x08, 0x40 | 0x08, 0); /* changeable */
	CHECK_EQ(buf[8 + 2], 0x04);
	task = mode_sense(&f, true, 0x08, 0x40 | 0x0a, 0);
	CHECK_EQ(buf[8 + 2], 0x00);
	task = mode_sense(&f, true, 0x08, 0x80 | 0x1c, 0); /* default */
	CHECK_EQ(buf[8 + 2], 0x08);
	task = mode_sense(&f, true, 0x08, 0x3f, 0xff); /* all pages and subpages */
	CHECK_GOOD(task);
	CHECK_SENSE(mode_sense(&f, true, 0x08, 0xc8, 0), 0x05, 0x3900); /* saved */
	CHECK_BAD_CDB(mode_sense(&f, false, 0, 0x19, 0), 2, 5);
	CHECK_BAD_CDB(mode_sense(&f, false, 0, 0x08, 0x01), 3, -1);
	fixture_close(&f);
}

static struct scsi_task *mode_select(struct fixture *f, bool ten, uint8_t byte1,
				     const uint8_t *list, uint32_t len)
{
	uint8_t cdb[16] = { ten ? 0x55 : 0x15, byte1 };
	if (ten)
		put_be16(cdb + 7, (uint16_t)len);
	else
		cdb[4] = (uint8_t)len;
	memcpy(buf, list, len);
	return run(f, cdb, buf, len);
}

static void test_mode_select(void)
{
	struct fixture f;
	uint8_t list[64] = { 0 };
	uint8_t tur[16] = { 0 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	f.nexus = 2; /* a second nexus, past its power-on UA */
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2900);
	f.nexus = 0;
	/* header(6), block descriptor, caching page with WCE 0 */
	list[3] = 8;
	put_be32(list + 4, 2048);
	put_be32(list + 8, 512);
	list[12] = 0x08;
	list[13] = 0x12;
	CHECK_GOOD(mode_select(&f, false, 0x10, list, 32));
	mode_sense(&f, false, 0x08, 0x08, 0);
	CHECK_EQ(buf[6], 0x00); /* WCE now 0 */
	CHECK_GOOD(run(&f, tur, NULL, 0)); /* the other nexus is told, not this one */
	f.nexus = 2;
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2a01);
	CHECK_GOOD(run(&f, tur, NULL, 0));
	f.nexus = 0;
	list[14] = 0x04;
	CHECK_GOOD(mode_select(&f, false, 0x10, list, 32));
	mode_sense(&f, false, 0x08, 0x08, 0);
	CHECK_EQ(buf[6], 0x04);
	/* an unchangeable bit (RCD, byte 2 bit 0 of the page at offset 12) */
	list[14] = 0x05;
	CHECK_FIELD(mode_select(&f, false, 0x10, list, 32), 0x2600, 0, 14, 0);
	list[14] = 0x04;
	put_be32(list + 8, 4096); /* block length */
	CHECK_FIELD(mode_select(&f, false, 0x10, list, 32), 0x2600, 0, 9, -1);
	put_be32(list + 8, 512);
	list[13] = 0x10; /* page length */
	CHECK_FIELD(mode_select(&f, false, 0x10, list, 32), 0x2600, 0, 13, -1);
	list[13] = 0x12;
	list[12] = 0x19; /* a page we do not have */
	CHECK_FIELD(mode_select(&f, false, 0x10, list, 32), 0x2600, 0, 12, 5);
	list[12] = 0x08;
	CHECK_SENSE(mode_select(&f, false, 0x10, list, 30), 0x05, 0x1a00); /* page cut */
	CHECK_BAD_CDB(mode_select(&f, false, 0x11, list, 32), 1, 0);      /* SP */
	CHECK_GOOD(mode_select(&f, false, 0x10, list, 0));
	/* MODE SELECT(10): control page unchanged is fine, a change is not */
	uint8_t list10[64] = { 0 };
	list10[8] = 0x0a;
	list10[9] = 0x0a;
	list10[10] = 0x02;
	list10[11] = 0x10;
	CHECK_GOOD(mode_select(&f, true, 0x10, list10, 20));
	list10[10] = 0x06; /* D_SENSE */
	CHECK_FIELD(mode_select(&f, true, 0x10, list10, 20), 0x2600, 0, 10, 2);
	/* nothing was applied from a list refused halfway: WCE stays 1 */
	mode_sense(&f, false, 0x08, 0x08, 0);
	CHECK_EQ(buf[6], 0x04);
	fixture_close(&f);
}

static void test_software_write_protect(void)
{
	struct fixture f;
	uint8_t list10[20] = { 0 }, tur[16] = { 0 }, data[512] = { 0 };
	uint8_t write10[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t read10[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t unmap[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 0 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	f.nexus = 2;
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2900);
	f.nexus = 0;
	mode_sense(&f, false, 0x08, 0x40 | 0x0a, 0); /* SWP is changeable */
	CHECK_EQ(buf[4 + 4], 0x08);
	list10[8] = 0x0a;
	list10[9] = 0x0a;
	list10[10] = 0x02;
	list10[11] = 0x10;
	list10[12] = 0x08; /* SWP */
	CHECK_GOOD(mode_select(&f, true, 0x10, list10, 20));
	mode_sense(&f, false, 0x08, 0x0a, 0);
	CHECK_EQ(buf[2], 0x90); /* WP, DPOFUA */
	CHECK_EQ(buf[4 + 4], 0x08);
	CHECK_SENSE(run(&f, write10, data, 512), 0x07, 0x2702);
	CHECK_SENSE(run(&f, unmap, NULL, 0), 0x07, 0x2702);
	CHECK_GOOD(run(&f, read10, data, 512));
	f.nexus = 2; /* the other nexus is told, then refused too */
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2a01);
	CHECK_SENSE(run(&f, write10, data, 512), 0x07, 0x2702);
	f.nexus = 0;
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0); /* a reset clears it */
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2903);
	CHECK_GOOD(run(&f, write10, data, 512));
	fixture_close(&f);
}

static void test_report_opcodes(void)
{
	struct fixture f;
	uint8_t cdb[16] = { 0xa3, 0x0c, 0x00 };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	put_be32(cdb + 6, 8192);
	struct scsi_task *task = run(&f, cdb, buf, 8192);
	CHECK_GOOD(task);
	uint32_t len = get_be32(buf);
	CHECK_EQ(len % 8, 0);
	CHECK_EQ(task->data_in_len, len + 4);
	int saw_read16 = 0, saw_rc16 = 0;
	for (uint32_t off = 4; off < len + 4; off += 8) {
		if (buf[off] == 0x88 && get_be16(buf + off + 6) == 16 && buf[off + 5] == 0)
			saw_read16 = 1;
		if (buf[off] == 0x9e && get_be16(buf + off + 2) == 0x10 && buf[off + 5] == 1)
			saw_rc16 = 1;
	}
	CHECK(saw_read16 && saw_rc16);
	cdb[2] = 0x80; /* RCTD: 20 bytes a command */
	task = run(&f, cdb, buf, 8192);
	CHECK_EQ(get_be32(buf), len / 8 * 20);
	CHECK_EQ(buf[4 + 5] & 0x02, 0x02);
	CHECK_EQ(get_be16(buf + 12), 10);
	/* one command: READ(10) and its usage bitmap */
	cdb[2] = 1;
	cdb[3] = 0x28;
	task = run(&f, cdb, buf, 8192);
	static const uint8_t read10[] = { 0, 3, 0, 10, 0x28, 0x1e, 0xff, 0xff, 0xff, 0xff,
					  0x1f, 0xff, 0xff, 0x00 };
	CHECK_EQ(task->data_in_len, sizeof(read10));
	CHECK(memcmp(buf, read10, sizeof(read10)) == 0);
	cdb[3] = 0x9e; /* has service actions: option 1 is wrong */
	CHECK_BAD_CDB(run(&f, cdb, buf, 8192), 2, 2);
	cdb[2] = 2;
	put_be16(cdb + 4, 0x10);
	task = run(&f, cdb, buf, 8192);
	CHECK_EQ(buf[1], 3);
	CHECK_EQ(get_be16(buf + 2), 16);
	CHECK_EQ(buf[4], 0x9e);
	CHECK_EQ(buf[5], 0x10);
	cdb[3] = 0x28; /* option 2 for an opcode without service actions */
	CHECK_BAD_CDB(run(&f, cdb, buf, 8192), 2, 2);
	cdb[2] = 1;
	cdb[3] = 0x1d; /* SEND DIAGNOSTIC: not supported */
	task = run(&f, cdb, buf, 8192);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 4);
	CHECK_EQ(buf[1], 1);
	cdb[2] = 4;
	CHECK_BAD_CDB(run(&f, cdb, buf, 8192), 2, 2);
	fixture_close(&f);
}

static void test_report_tpgs(void)
{
	struct fixture f;
	uint8_t cdb[16] = { 0xa3, 0x0a };
	REQUIRE(fixture_open(&f, 64, 1 << 20, 0) == 0);
	put_be32(cdb + 6, 256);
	struct scsi_task *task = run(&f, cdb, buf, 256);
	CHECK_GOOD(task);
	static const uint8_t want[] = { 0, 0, 0, 12, 0x80, 0x01, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
	CHECK_EQ(task->data_in_len, sizeof(want));
	CHECK(memcmp(buf, want, sizeof(want)) == 0);
	cdb[1] = 0x20 | 0x0a; /* extended header */
	task = run(&f, cdb, buf, 256);
	CHECK_EQ(task->data_in_len, 20);
	CHECK_EQ(get_be32(buf), 16);
	CHECK_EQ(buf[4], 0x10);
	CHECK_EQ(buf[8], 0x80);
	cdb[1] = 0x40 | 0x0a;
	CHECK_BAD_CDB(run(&f, cdb, buf, 256), 1, 7);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "unit_attention_power_on", test_unit_attention_power_on },
	{ "unit_attention_capacity_and_luns", test_unit_attention_capacity_and_luns },
	{ "remove_lun_while_busy", test_remove_lun_while_busy },
	{ "missing_lun", test_missing_lun },
	{ "inquiry_standard", test_inquiry_standard },
	{ "vpd_pages", test_vpd_pages },
	{ "vpd_device_id", test_vpd_device_id },
	{ "report_luns", test_report_luns },
	{ "request_sense_and_simple", test_request_sense_and_simple },
	{ "mode_sense", test_mode_sense },
	{ "mode_select", test_mode_select },
	{ "software_write_protect", test_software_write_protect },
	{ "report_opcodes", test_report_opcodes },
	{ "report_tpgs", test_report_tpgs },
};
HARNESS_MAIN(tests)
