/*
 * test_sbc.c - block commands on a real pool: data round trips through every
 * READ/WRITE size, IO split at COWSTORE_MAX_IO_BYTES, capacity, WRITE SAME,
 * UNMAP, GET LBA STATUS, READ DEFECT DATA, VERIFY (10, 12), ORWRITE and
 * COMPARE AND WRITE (with its exclusion against a racing write), and the
 * error paths with exact sense: LBA out of range, bad fields, pool full,
 * checksum error, miscompare.
 */
#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/target/scsi/scsitest.h"

#define VOL_BYTES (16u << 20) /* 32768 blocks */
#define VOL_BLOCKS (VOL_BYTES / 512)

static uint8_t wbuf[12 << 20], rbuf[12 << 20];

static struct scsi_task *rw10(struct fixture *f, uint8_t op, uint32_t lba, uint16_t n, void *data)
{
	uint8_t cdb[16];
	cdb10(cdb, op, lba, n);
	return run(f, cdb, data, n * 512u);
}

static struct scsi_task *rw16(struct fixture *f, uint8_t op, uint64_t lba, uint32_t n, void *data)
{
	uint8_t cdb[16];
	cdb16(cdb, op, lba, n);
	return run(f, cdb, data, n * 512u);
}

static void test_read_write_sizes(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 8, 16, 1);
	CHECK_GOOD(rw10(&f, 0x2a, 8, 16, wbuf));
	memset(rbuf, 0, 16 * 512);
	struct scsi_task *task = rw10(&f, 0x28, 8, 16, rbuf);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 16 * 512);
	CHECK(check_pattern(rbuf, 8, 16, 1));
	/* 6-byte: 21-bit LBA in bytes 1-3 */
	uint8_t w6[16] = { 0x0a, 0x00, 0x01, 0x00, 2 }, r6[16] = { 0x08, 0x00, 0x01, 0x00, 2 };
	fill_pattern(wbuf, 256, 2, 2);
	CHECK_GOOD(run(&f, w6, wbuf, 1024));
	CHECK_GOOD(run(&f, r6, rbuf, 1024));
	CHECK(check_pattern(rbuf, 256, 2, 2));
	/* 12-byte */
	uint8_t w12[16] = { 0xaa, 0, 0, 0, 0x02, 0x00, 0, 0, 0, 4 };
	uint8_t r12[16] = { 0xa8, 0, 0, 0, 0x02, 0x00, 0, 0, 0, 4 };
	fill_pattern(wbuf, 512, 4, 3);
	CHECK_GOOD(run(&f, w12, wbuf, 2048));
	CHECK_GOOD(run(&f, r12, rbuf, 2048));
	CHECK(check_pattern(rbuf, 512, 4, 3));
	/* 16-byte with FUA and DPO on the write, FUA on the read */
	uint8_t cdb[16];
	fill_pattern(wbuf, VOL_BLOCKS - 8, 8, 4);
	cdb16(cdb, 0x8a, VOL_BLOCKS - 8, 8);
	cdb[1] = 0x18;
	CHECK_GOOD(run(&f, cdb, wbuf, 4096));
	cdb16(cdb, 0x88, VOL_BLOCKS - 8, 8);
	cdb[1] = 0x08;
	CHECK_GOOD(run(&f, cdb, rbuf, 4096));
	CHECK(check_pattern(rbuf, VOL_BLOCKS - 8, 8, 4));
	/* WRITE ATOMIC(16): length in bytes 12-13 */
	cdb16(cdb, 0x9c, 1000, 0);
	put_be16(cdb + 12, 8);
	fill_pattern(wbuf, 1000, 8, 5);
	CHECK_GOOD(run(&f, cdb, wbuf, 4096));
	CHECK_GOOD(rw10(&f, 0x28, 1000, 8, rbuf));
	CHECK(check_pattern(rbuf, 1000, 8, 5));
	put_be16(cdb + 12, 0xffff); /* above the atomic maximum (16384) */
	CHECK_BAD_CDB(run(&f, cdb, wbuf, 0), 12, -1);
	fixture_close(&f);
}

static void test_zero_length_and_range(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	struct scsi_task *task = rw10(&f, 0x28, 0, 0, rbuf);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 0);
	CHECK_GOOD(rw10(&f, 0x2a, VOL_BLOCKS, 0, wbuf)); /* at the end, nothing moved */
	CHECK_SENSE(rw10(&f, 0x28, VOL_BLOCKS + 1, 0, rbuf), 0x05, 0x2100);
	CHECK_SENSE(rw10(&f, 0x28, VOL_BLOCKS - 1, 2, rbuf), 0x05, 0x2100);
	CHECK_SENSE(rw10(&f, 0x2a, VOL_BLOCKS, 1, wbuf), 0x05, 0x2100);
	CHECK_SENSE(rw16(&f, 0x8a, UINT64_MAX - 1, 4, wbuf), 0x05, 0x2100); /* no wrap */
	CHECK_GOOD(rw10(&f, 0x28, VOL_BLOCKS - 1, 1, rbuf));
	/* above MAXIMUM TRANSFER LENGTH, and a transport buffer too short */
	CHECK_BAD_CDB(rw16(&f, 0x88, 0, 65537, NULL), 10, -1);
	uint8_t cdb[16];
	/* the initiator sends less than the CDB says: only whole blocks sent are
	 * written, the rest stays as it was */
	fill_pattern(wbuf, 0, 8, 20);
	CHECK_GOOD(rw10(&f, 0x2a, 0, 8, wbuf));
	fill_pattern(wbuf, 0, 8, 21);
	cdb10(cdb, 0x2a, 0, 8);
	CHECK_GOOD(run(&f, cdb, wbuf, 4095));
	cdb10(cdb, 0x2e, 0, 8); /* WRITE AND VERIFY likewise, and verifies what it wrote */
	CHECK_GOOD(run(&f, cdb, wbuf, 1024));
	CHECK_GOOD(rw10(&f, 0x28, 0, 8, rbuf));
	CHECK(check_pattern(rbuf, 0, 7, 21));
	CHECK(check_pattern(rbuf + 7 * 512, 7, 1, 20));
	cdb10(cdb, 0x28, 0, 8); /* a read expecting less: all is read, the transport cuts */
	struct scsi_task *short_read = run(&f, cdb, rbuf, 512);
	CHECK_GOOD(short_read);
	CHECK_EQ(short_read->data_in_len, 4096);
	fixture_close(&f);
}

/* 10 MiB moves as two cowstore requests. */
static void test_split_io(void)
{
	struct fixture f;
	const uint32_t n = 20480;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 100, n, 6);
	CHECK_GOOD(rw16(&f, 0x8a, 100, n, wbuf));
	memset(rbuf, 0, (size_t)n * 512);
	struct scsi_task *task = rw16(&f, 0x88, 100, n, rbuf);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, n * 512);
	CHECK(check_pattern(rbuf, 100, n, 6));
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 100 + n - 8, 8, rbuf), 0);
	CHECK(check_pattern(rbuf, 100 + n - 8, 8, 6));
	fixture_close(&f);
}

static void test_read_capacity(void)
{
	struct fixture f;
	uint8_t rc10[16] = { 0x25 }, rc16[16] = { 0x9e, 0x10 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	struct scsi_task *task = run(&f, rc10, rbuf, 8);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 8);
	CHECK_EQ(get_be32(rbuf), VOL_BLOCKS - 1);
	CHECK_EQ(get_be32(rbuf + 4), 512);
	rc10[5] = 1; /* LBA without PMI */
	CHECK_BAD_CDB(run(&f, rc10, rbuf, 8), 2, -1);
	put_be32(rc16 + 10, 32);
	memset(rbuf, 0xee, 32);
	task = run(&f, rc16, rbuf, 32);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 32);
	CHECK_EQ(get_be64(rbuf), VOL_BLOCKS - 1);
	CHECK_EQ(get_be32(rbuf + 8), 512);
	CHECK_EQ(rbuf[12], 0);
	CHECK_EQ(rbuf[13], 3);    /* 4 KiB physical */
	CHECK_EQ(rbuf[14], 0xc0); /* LBPME, LBPRZ */
	CHECK_EQ(rbuf[15], 0);
	/* a resize shows in READ CAPACITY, and raises the UA for the next command */
	CHECK_EQ(cowstore_volume_resize(f.tp.cs, f.vol, 2 * VOL_BYTES, NULL), 0);
	rc10[5] = 0;
	task = run(&f, rc10, rbuf, 8);
	CHECK_GOOD(task);
	CHECK_EQ(get_be32(rbuf), 2 * VOL_BLOCKS - 1);
	CHECK_SENSE(run(&f, rc10, rbuf, 8), 0x06, 0x2a09);
	/* more than 2^32 blocks: READ CAPACITY(10) says FFFFFFFFh */
	CHECK_EQ(cowstore_volume_resize(f.tp.cs, f.vol, 4ull << 40, NULL), 0);
	CHECK_GOOD(run(&f, rc10, rbuf, 8));
	CHECK_EQ(get_be32(rbuf), 0xffffffffu);
	CHECK_SENSE(run(&f, rc16, rbuf, 32), 0x06, 0x2a09);
	CHECK_GOOD(run(&f, rc16, rbuf, 32));
	CHECK_EQ(get_be64(rbuf), (4ull << 40) / 512 - 1);
	fixture_close(&f);
}

static void test_sync_prefetch_lba_status(void)
{
	struct fixture f;
	uint8_t cdb[16];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	cdb10(cdb, 0x35, 0, 0);
	CHECK_GOOD(run(&f, cdb, NULL, 0));
	cdb16(cdb, 0x91, 10, 10);
	cdb[1] = 0x02; /* IMMED */
	CHECK_GOOD(run(&f, cdb, NULL, 0));
	cdb16(cdb, 0x91, VOL_BLOCKS, 1);
	CHECK_SENSE(run(&f, cdb, NULL, 0), 0x05, 0x2100);
	cdb10(cdb, 0x34, 100, 8);
	CHECK_GOOD(run(&f, cdb, NULL, 0));
	cdb16(cdb, 0x90, VOL_BLOCKS - 4, 8);
	CHECK_SENSE(run(&f, cdb, NULL, 0), 0x05, 0x2100);
	cdb16(cdb, 0x9e, 100, 24);
	cdb[1] = 0x12;
	memset(rbuf, 0xee, 24);
	struct scsi_task *task = run(&f, cdb, rbuf, 24);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 24);
	CHECK_EQ(get_be32(rbuf), 20);
	CHECK_EQ(get_be64(rbuf + 8), 100);
	CHECK_EQ(get_be32(rbuf + 16), VOL_BLOCKS - 100);
	CHECK_EQ(rbuf[20] & 0x0f, 0);
	put_be64(cdb + 2, VOL_BLOCKS);
	CHECK_SENSE(run(&f, cdb, rbuf, 24), 0x05, 0x2100);
	fixture_close(&f);
}

static struct scsi_task *write_same(struct fixture *f, bool sixteen, uint8_t byte1, uint64_t lba,
				    uint32_t n, void *block)
{
	uint8_t cdb[16];
	if (sixteen)
		cdb16(cdb, 0x93, lba, n);
	else
		cdb10(cdb, 0x41, (uint32_t)lba, (uint16_t)n);
	cdb[1] = byte1;
	return run(f, cdb, block, block ? 512 : 0);
}

static void test_write_same(void)
{
	struct fixture f;
	uint8_t block[512], zero[512] = { 0 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(block, 0, 1, 7);
	CHECK_GOOD(write_same(&f, false, 0, 10, 40, block));
	CHECK_GOOD(rw10(&f, 0x28, 10, 40, rbuf));
	int same = 1;
	for (int b = 0; b < 40; b++)
		same &= memcmp(rbuf + b * 512, block, 512) == 0;
	CHECK(same);
	/* more than one cowstore request of replicated data */
	CHECK_GOOD(write_same(&f, true, 0, 100, 20000, block));
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 100 + 19999, 1, rbuf), 0);
	CHECK(memcmp(rbuf, block, 512) == 0);
	/* zeros: write-zeroes; with UNMAP: discard; NDOB: no data at all */
	CHECK_GOOD(write_same(&f, false, 0, 10, 8, zero));
	CHECK_GOOD(write_same(&f, false, 0x08, 18, 8, zero));
	CHECK_GOOD(write_same(&f, true, 0x09, 26, 8, NULL));
	CHECK_GOOD(rw10(&f, 0x28, 10, 40, rbuf));
	CHECK(is_zero(rbuf, 24 * 512));
	CHECK(memcmp(rbuf + 24 * 512, block, 512) == 0);
	/* UNMAP with non-zero data writes the data (unmapped reads zeros) */
	CHECK_GOOD(write_same(&f, true, 0x08, 26, 2, block));
	CHECK_GOOD(rw10(&f, 0x28, 26, 2, rbuf));
	CHECK(memcmp(rbuf + 512, block, 512) == 0);
	/* refusals */
	CHECK_BAD_CDB(write_same(&f, false, 0, 10, 0, block), 7, -1);  /* WSNZ */
	CHECK_BAD_CDB(write_same(&f, true, 0, 10, 0, block), 10, -1);
	CHECK_BAD_CDB(write_same(&f, true, 0, 0, (1u << 22) + 1, block), 10, -1);
	CHECK_SENSE(write_same(&f, true, 0, VOL_BLOCKS - 1, 2, block), 0x05, 0x2100);
	CHECK_BAD_CDB(write_same(&f, false, 0x10, 10, 1, block), 1, 4); /* ANCHOR */
	CHECK_BAD_CDB(write_same(&f, false, 0x02, 10, 1, block), 1, 1); /* LBDATA */
	uint8_t cdb[16];
	cdb10(cdb, 0x41, 10, 1); /* the initiator sends two blocks for one */
	CHECK_BAD_CDB(run(&f, cdb, wbuf, 1024), 7, -1);
	fixture_close(&f);
}

static uint32_t unmap_list(uint8_t *p, const uint64_t *lbas, const uint32_t *counts, int n)
{
	memset(p, 0, 8 + 16 * n);
	put_be16(p, (uint16_t)(6 + 16 * n));
	put_be16(p + 2, (uint16_t)(16 * n));
	for (int i = 0; i < n; i++) {
		put_be64(p + 8 + 16 * i, lbas[i]);
		put_be32(p + 16 + 16 * i, counts[i]);
	}
	return 8 + 16 * (uint32_t)n;
}

static struct scsi_task *unmap(struct fixture *f, uint8_t *list, uint32_t len)
{
	uint8_t cdb[16] = { 0x42 };
	put_be16(cdb + 7, (uint16_t)len);
	return run(f, cdb, list, len);
}

static void test_unmap(void)
{
	struct fixture f;
	uint8_t list[256];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 0, 4096, 8);
	CHECK_GOOD(rw16(&f, 0x8a, 0, 4096, wbuf));
	uint64_t lbas[] = { 0, 2048, VOL_BLOCKS - 1 };
	uint32_t counts[] = { 1024, 0, 1 };
	uint32_t len = unmap_list(list, lbas, counts, 3);
	CHECK_GOOD(unmap(&f, list, len));
	CHECK_GOOD(rw16(&f, 0x88, 0, 4096, rbuf));
	CHECK(is_zero(rbuf, 1024 * 512));
	CHECK(check_pattern(rbuf + 1024 * 512, 1024, 3072, 8));
	CHECK_GOOD(unmap(&f, list, 0)); /* nothing */
	/* a descriptor past the end: refused, and nothing unmapped */
	lbas[0] = 1024;
	counts[0] = 8;
	lbas[1] = VOL_BLOCKS - 4;
	counts[1] = 8;
	len = unmap_list(list, lbas, counts, 2);
	CHECK_SENSE(unmap(&f, list, len), 0x05, 0x2100);
	CHECK_GOOD(rw10(&f, 0x28, 1024, 8, rbuf));
	CHECK(check_pattern(rbuf, 1024, 8, 8));
	/* lengths */
	CHECK_SENSE(unmap(&f, list, 7), 0x05, 0x1a00);
	len = unmap_list(list, lbas, counts, 1);
	put_be16(list + 2, 32); /* descriptors run past the list */
	CHECK_FIELD(unmap(&f, list, len), 0x2600, 0, 2, -1);
	len = unmap_list(list, lbas, counts, 1);
	put_be16(list, 4); /* data length shorter than the descriptors */
	CHECK_FIELD(unmap(&f, list, len), 0x2600, 0, 0, -1);
	counts[0] = (1u << 22) + 1; /* above MAXIMUM UNMAP LBA COUNT */
	len = unmap_list(list, lbas, counts, 1);
	CHECK_FIELD(unmap(&f, list, len), 0x2600, 0, 16, -1);
	/* a trailing partial descriptor is ignored */
	lbas[0] = 1024;
	counts[0] = 8;
	len = unmap_list(list, lbas, counts, 1);
	put_be16(list + 2, 16 + 8);
	put_be16(list, 6 + 16 + 8);
	CHECK_GOOD(unmap(&f, list, len + 8));
	CHECK_GOOD(rw10(&f, 0x28, 1024, 8, rbuf));
	CHECK(is_zero(rbuf, 8 * 512));
	fixture_close(&f);
}

static struct scsi_task *verify(struct fixture *f, uint8_t bytchk, uint32_t lba, uint16_t n,
				void *data, uint32_t len)
{
	uint8_t cdb[16];
	cdb10(cdb, 0x2f, lba, n);
	cdb[1] = (uint8_t)(bytchk << 1);
	return run(f, cdb, data, len);
}

static void test_verify(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 0, 64, 9);
	CHECK_GOOD(rw10(&f, 0x2a, 0, 64, wbuf));
	CHECK_GOOD(verify(&f, 0, 0, 64, NULL, 0));
	CHECK_GOOD(verify(&f, 1, 0, 64, wbuf, 64 * 512));
	wbuf[700] ^= 1;
	struct scsi_task *task = verify(&f, 1, 0, 64, wbuf, 64 * 512);
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK_EQ(task->sense[0], 0xf0); /* VALID */
	CHECK_EQ(get_be32(task->sense + 3), 700);
	wbuf[700] ^= 1;
	/* BYTCHK 3: one block against each; blocks 40.. differ from block 0 */
	CHECK_GOOD(write_same(&f, false, 0, 100, 16, wbuf));
	CHECK_GOOD(verify(&f, 3, 100, 16, wbuf, 512));
	task = verify(&f, 3, 0, 2, wbuf, 512);
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK(get_be32(task->sense + 3) >= 512); /* in the second block */
	CHECK_BAD_CDB(verify(&f, 2, 0, 1, wbuf, 512), 1, 2);
	CHECK_SENSE(verify(&f, 0, VOL_BLOCKS - 1, 2, NULL, 0), 0x05, 0x2100);
	/* WRITE AND VERIFY(10/16) */
	uint8_t cdb[16];
	fill_pattern(wbuf, 200, 8, 10);
	cdb10(cdb, 0x2e, 200, 8);
	cdb[1] = 0x02;
	CHECK_GOOD(run(&f, cdb, wbuf, 4096));
	cdb16(cdb, 0x8e, 208, 8);
	fill_pattern(wbuf + 4096, 208, 8, 10);
	CHECK_GOOD(run(&f, cdb, wbuf + 4096, 4096));
	CHECK_GOOD(rw10(&f, 0x28, 200, 16, rbuf));
	CHECK(check_pattern(rbuf, 200, 16, 10));
	fixture_close(&f);
}

static struct scsi_task *caw(struct fixture *f, uint64_t lba, uint8_t n, void *data)
{
	uint8_t cdb[16] = { 0x89 };
	put_be64(cdb + 2, lba);
	cdb[13] = n;
	return run(f, cdb, data, 2u * n * 512);
}

static void test_compare_and_write(void)
{
	struct fixture f;
	uint8_t data[1024];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 50, 1, 11);
	CHECK_GOOD(rw10(&f, 0x2a, 50, 1, wbuf));
	memcpy(data, wbuf, 512);
	fill_pattern(data + 512, 50, 1, 12);
	CHECK_GOOD(caw(&f, 50, 1, data));
	CHECK_GOOD(rw10(&f, 0x28, 50, 1, rbuf));
	CHECK(check_pattern(rbuf, 50, 1, 12));
	/* the same again miscompares at byte 0... */
	struct scsi_task *task = caw(&f, 50, 1, data);
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK_EQ(task->sense[0], 0xf0);
	CHECK_EQ(get_be32(task->sense + 3), 0);
	/* ...and one differing byte is named by its offset */
	memcpy(data, rbuf, 512);
	data[300] ^= 0x40;
	task = caw(&f, 50, 1, data);
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK_EQ(get_be32(task->sense + 3), 300);
	CHECK_GOOD(rw10(&f, 0x28, 50, 1, rbuf));
	CHECK(check_pattern(rbuf, 50, 1, 12)); /* unchanged */
	CHECK_GOOD(caw(&f, 50, 0, NULL));
	uint8_t caw0[16] = { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 50 }; /* 0 blocks, data anyway */
	CHECK_BAD_CDB(run(&f, caw0, data, 1024), 13, -1);
	CHECK_BAD_CDB(caw(&f, 50, 2, data), 13, -1);
	uint8_t cdb[16] = { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 1 };
	CHECK_BAD_CDB(run(&f, cdb, data, 512), 13, -1); /* one block of data for two */
	CHECK_SENSE(caw(&f, VOL_BLOCKS, 1, data), 0x05, 0x2100);
	fixture_close(&f);
}

static void task_init(struct scsi_task *task, const uint8_t *cdb, void *data, uint32_t len,
		      int *done)
{
	memset(task, 0, sizeof(*task));
	memcpy(task->cdb, cdb, 16);
	task->cdb_len = 16;
	task->transfer_len = len;
	task->data = data;
	task->nexus_id = NEXUS;
	task->done = fixture_on_done;
	task->priv = done;
}

/* Reap until every task's done() ran, once each. */
static void wait_all(struct fixture *f, const int *done, int n)
{
	for (int round = 0, left = n; round < 100 && left; round++) {
		cowstore_queue_wait(f->q, 100);
		cowstore_queue_reap(f->q, 0);
		left = 0;
		for (int i = 0; i < n; i++)
			left += done[i] == 0;
	}
	for (int i = 0; i < n; i++)
		CHECK_EQ(done[i], 1);
}

/* A write submitted right behind a compare-and-write of the same block must
 * not land between its read and its write: it waits, then overwrites. */
static void test_compare_and_write_exclusion(void)
{
	struct fixture f;
	static uint8_t caw_data[1024];
	struct scsi_task caw_task, write_task;
	int done[2] = { 0 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(caw_data, 60, 1, 13); /* what is there */
	CHECK_GOOD(rw10(&f, 0x2a, 60, 1, caw_data));
	fill_pattern(caw_data + 512, 60, 1, 14);
	uint8_t caw_cdb[16] = { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 1 }, w_cdb[16];
	cdb10(w_cdb, 0x2a, 56, 8); /* overlaps block 60 */
	fill_pattern(wbuf, 56, 8, 15);
	task_init(&caw_task, caw_cdb, caw_data, 1024, &done[0]);
	task_init(&write_task, w_cdb, wbuf, 4096, &done[1]);
	scsi_task_execute(f.t, &caw_task);
	scsi_task_execute(f.t, &write_task);
	wait_all(&f, done, 2);
	CHECK_GOOD(&caw_task);
	CHECK_GOOD(&write_task);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 56, 8, rbuf), 0);
	CHECK(check_pattern(rbuf, 56, 8, 15)); /* the write came last */
	CHECK(f.t->luns[0].caw_active == NULL && f.t->luns[0].parked_head == NULL);
	fixture_close(&f);
}

/* Two compare-and-writes of one block and a write, all at once: the second
 * waits for the first, then holds the block itself, so the write lands
 * after both. */
static void test_compare_and_write_queue(void)
{
	struct fixture f;
	static uint8_t first[1024], second[1024], last[512];
	struct scsi_task tasks[3];
	int done[3] = { 0 };
	uint8_t caw_cdb[16] = { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 1 }, w_cdb[16];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(first, 70, 1, 30);
	CHECK_GOOD(rw10(&f, 0x2a, 70, 1, first));
	fill_pattern(first + 512, 70, 1, 31);
	fill_pattern(second, 70, 1, 31);
	fill_pattern(second + 512, 70, 1, 32);
	fill_pattern(last, 70, 1, 33);
	cdb10(w_cdb, 0x2a, 70, 1);
	task_init(&tasks[0], caw_cdb, first, 1024, &done[0]);
	task_init(&tasks[1], caw_cdb, second, 1024, &done[1]);
	task_init(&tasks[2], w_cdb, last, 512, &done[2]);
	for (int i = 0; i < 3; i++)
		scsi_task_execute(f.t, &tasks[i]);
	wait_all(&f, done, 3);
	for (int i = 0; i < 3; i++)
		CHECK_GOOD(&tasks[i]);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 70, 1, rbuf), 0);
	CHECK(check_pattern(rbuf, 70, 1, 33));
	fixture_close(&f);
}

static void test_pool_full(void)
{
	struct fixture f;
	struct scsi_task *task = NULL;
	REQUIRE(fixture_open(&f, 4, VOL_BYTES, 0) == 0); /* 4 MiB pool, 16 MiB volume */
	fill_pattern(wbuf, 0, 256, 16);
	for (uint32_t lba = 0; lba < VOL_BLOCKS; lba += 256) {
		task = rw10(&f, 0x2a, lba, 256, wbuf);
		if (task->status != SCSI_STATUS_GOOD)
			break;
	}
	REQUIRE(task != NULL);
	CHECK_SENSE(task, 0x07, 0x2707);
	CHECK_GOOD(rw10(&f, 0x28, 0, 256, rbuf)); /* reads still work */
	fixture_close(&f);
}

static void test_checksum_error(void)
{
	struct fixture f;
	uint8_t sync[16] = { 0x35 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 0, 2048, 17);
	CHECK_GOOD(rw10(&f, 0x2a, 0, 2048, wbuf));
	CHECK_GOOD(run(&f, sync, NULL, 0));
	/* the first write of an empty pool lands at data block 0: block 5 is LBA 40 */
	test_pool_corrupt(f.tp.dir, 5 * 4096 + 100);
	struct scsi_task *task = rw10(&f, 0x28, 0, 2048, rbuf);
	CHECK_SENSE(task, 0x03, 0x1100);
	CHECK_EQ(task->sense[0], 0xf0); /* VALID */
	CHECK_EQ(get_be32(task->sense + 3), 40);
	CHECK_GOOD(rw10(&f, 0x28, 0, 40, rbuf));
	task = verify(&f, 0, 0, 2048, NULL, 0);
	CHECK_SENSE(task, 0x03, 0x1100);
	CHECK_EQ(get_be32(task->sense + 3), 40);
	fixture_close(&f);
}

static void test_orwrite(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	memset(wbuf, 0x0f, 3 * 512);
	CHECK_GOOD(rw16(&f, 0x8a, 100, 3, wbuf));
	for (int i = 0; i < 3 * 512; i++)
		wbuf[i] = (uint8_t)(i & 0xf0);
	CHECK_GOOD(rw16(&f, 0x8b, 100, 3, wbuf));
	CHECK_GOOD(rw16(&f, 0x88, 100, 3, rbuf));
	for (int i = 0; i < 3 * 512; i++)
		if (rbuf[i] != (uint8_t)((i & 0xf0) | 0x0f)) {
			CHECK_EQ(rbuf[i], (i & 0xf0) | 0x0f);
			break;
		}
	CHECK_GOOD(rw16(&f, 0x8b, 100, 0, wbuf));                        /* nothing to do */
	CHECK_SENSE(rw16(&f, 0x8b, VOL_BLOCKS - 1, 2, wbuf), 0x05, 0x2100);
	CHECK_BAD_CDB(rw16(&f, 0x8b, 0, MAX_ATOMIC_BLOCKS + 1, wbuf), 10, -1);
	uint8_t cdb[16];
	cdb16(cdb, 0x8b, 0, 1);
	cdb[1] = 0x20;                                                   /* ORPROTECT */
	CHECK_BAD_CDB(run(&f, cdb, wbuf, 512), 1, 5);
	fixture_close(&f);
}

/* The 12-byte forms: LBA in bytes 2-5, length in bytes 6-9. */
static void cdb12(uint8_t *cdb, uint8_t op, uint32_t lba, uint32_t nblocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be32(cdb + 6, nblocks);
}

static void test_verify12(void)
{
	struct fixture f;
	uint8_t cdb[16];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 300, 4, 12);
	cdb12(cdb, 0xae, 300, 4); /* WRITE AND VERIFY(12) */
	CHECK_GOOD(run(&f, cdb, wbuf, 4 * 512));
	CHECK_GOOD(rw10(&f, 0x28, 300, 4, rbuf));
	CHECK(check_pattern(rbuf, 300, 4, 12));
	cdb12(cdb, 0xaf, 300, 4); /* VERIFY(12), BYTCHK 1 */
	cdb[1] = 0x02;
	CHECK_GOOD(run(&f, cdb, wbuf, 4 * 512));
	wbuf[513] ^= 1;
	struct scsi_task *task = run(&f, cdb, wbuf, 4 * 512);
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK_EQ(get_be32(task->sense + 3), 513);
	struct scsi_cdb_info info;
	scsi_cdb_info(cdb, 16, &info);
	CHECK_EQ(info.data_len, 4 * 512);
	cdb12(cdb, 0xaf, VOL_BLOCKS - 1, 2);
	CHECK_SENSE(run(&f, cdb, NULL, 0), 0x05, 0x2100);
	fixture_close(&f);
}

static void test_read_defect_data(void)
{
	struct fixture f;
	uint8_t cdb10[16] = { 0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 32 };
	uint8_t cdb12[16] = { 0xb7, 0x08 | 0x04, 0, 0, 0, 0, 0, 0, 0, 32 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	memset(rbuf, 0xff, 64);
	struct scsi_task *task = run(&f, cdb10, rbuf, 32);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 4);
	CHECK_EQ(rbuf[1], 0x1d); /* both lists valid, format 5, no defects */
	CHECK_EQ(get_be16(rbuf + 2), 0);
	task = run(&f, cdb12, rbuf, 32);
	CHECK_GOOD(task);
	CHECK_EQ(task->data_in_len, 8);
	CHECK_EQ(rbuf[1], 0x0c);
	CHECK_EQ(get_be32(rbuf + 4), 0);
	fixture_close(&f);
}

/* IO accounting for the statistics: READ- and WRITE-class commands that
 * end GOOD say what they moved on which volume; the rest say nothing. */
static void test_io_accounting(void)
{
	struct fixture f;
	uint8_t data[1024];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	fill_pattern(wbuf, 60, 4, 13);
	struct scsi_task *task = rw10(&f, 0x2a, 60, 4, wbuf);
	CHECK_GOOD(task);
	CHECK_EQ(task->io_kind, SCSI_IO_WRITE);
	CHECK_EQ(task->io_bytes, 4 * 512);
	CHECK_EQ(task->io_volume_id, f.vol);
	task = rw10(&f, 0x28, 60, 3, rbuf);
	CHECK_EQ(task->io_kind, SCSI_IO_READ);
	CHECK_EQ(task->io_bytes, 3 * 512);
	CHECK_EQ(task->io_volume_id, f.vol);
	memcpy(data, rbuf, 512);
	memcpy(data + 512, rbuf, 512);
	task = caw(&f, 60, 1, data);
	CHECK_GOOD(task);
	CHECK_EQ(task->io_kind, SCSI_IO_WRITE);
	CHECK_EQ(task->io_bytes, 512);
	data[0] ^= 1;
	task = caw(&f, 60, 1, data); /* miscompare: nothing written */
	CHECK_SENSE(task, 0x0e, 0x1d00);
	CHECK_EQ(task->io_kind, SCSI_IO_NONE);
	task = rw10(&f, 0x28, VOL_BLOCKS, 1, rbuf); /* past the end */
	CHECK_EQ(task->status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(task->io_kind, SCSI_IO_NONE);
	uint8_t sync_cache[16] = { 0x35 };
	task = run(&f, sync_cache, NULL, 0);
	CHECK_GOOD(task);
	CHECK_EQ(task->io_kind, SCSI_IO_NONE);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "orwrite", test_orwrite },
	{ "read_write_sizes", test_read_write_sizes },
	{ "zero_length_and_range", test_zero_length_and_range },
	{ "split_io", test_split_io },
	{ "read_capacity", test_read_capacity },
	{ "sync_prefetch_lba_status", test_sync_prefetch_lba_status },
	{ "write_same", test_write_same },
	{ "unmap", test_unmap },
	{ "verify", test_verify },
	{ "verify12", test_verify12 },
	{ "read_defect_data", test_read_defect_data },
	{ "compare_and_write", test_compare_and_write },
	{ "compare_and_write_exclusion", test_compare_and_write_exclusion },
	{ "compare_and_write_queue", test_compare_and_write_queue },
	{ "pool_full", test_pool_full },
	{ "checksum_error", test_checksum_error },
	{ "io_accounting", test_io_accounting },
};
HARNESS_MAIN(tests)
