/*
 * test_hold.c - holding and switching the LUNs of a volume (target/scsi/
 * hold.c), as a volume move does: commands sent while held do not start,
 * the in-flight count is that of commands started before, the release
 * runs them in arrival order on the volume switched to (in another pool),
 * or on the same one; reservations are checked when a held command starts;
 * ABORT (scsi_task_abort), a nexus going away, LUN and target resets end
 * held commands exactly once; a LUN removed while held ends its commands.
 */
#include "tests/unit/target/scsi/scsitest.h"

#define VOL_BYTES (1u << 20)
#define VOL_BLOCKS (VOL_BYTES / 512)
#define OTHER_NEXUS 2
#define QUIET_MS 200 /* long enough for an unheld command to finish */

static const uint8_t tur[16] = { 0 };

static void pattern(uint8_t *buf, uint32_t nblocks, uint8_t seed)
{
	for (uint32_t i = 0; i < nblocks * 512; i++)
		buf[i] = (uint8_t)(seed ^ (i / 512 * 29) ^ i);
}

static struct scsi_task *rw(struct fixture *f, uint8_t op, uint32_t lba, uint16_t nblocks,
			    uint8_t *buf)
{
	uint8_t cdb[16];
	cdb10(cdb, op, lba, nblocks);
	return run(f, cdb, buf, nblocks * 512u);
}

static void start_rw(struct fixture *f, struct pending *p, uint8_t op, uint32_t lba,
		     uint16_t nblocks, uint8_t *buf)
{
	uint8_t cdb[16];
	cdb10(cdb, op, lba, nblocks);
	start_on(f, p, 0, cdb, buf, nblocks * 512u);
}

/* What the management daemon does while the volume is held. */
static int copy_volume(struct cowstore *from, uint64_t from_id, struct cowstore *to,
		       uint64_t to_id)
{
	static uint8_t buf[256 * 512];
	for (uint32_t lba = 0; lba < VOL_BLOCKS; lba += 256)
		if (cowstore_read(from, from_id, lba, 256, buf) ||
		    cowstore_write(to, to_id, lba, 256, buf, 0))
			return -1;
	return 0;
}

/* The fixture (LUN 0 on volume f->vol) and an empty volume in another pool. */
static int open_with_target_volume(struct fixture *f, struct test_pool *other, uint64_t *to)
{
	if (fixture_open(f, 64, VOL_BYTES, 0) || test_pool_open(other, 64, 0))
		return -1;
	return fixture_other_volume(f, other->cs, VOL_BYTES, to);
}

static void test_switch_runs_held_commands_on_the_new_volume(void)
{
	struct fixture f;
	struct test_pool other;
	struct pending before, write, read, unit;
	static uint8_t old[8 * 512], now[8 * 512], early[8 * 512], back[8 * 512], serial[64];
	uint64_t to;
	REQUIRE(open_with_target_volume(&f, &other, &to) == 0);
	pattern(old, 8, 1);
	pattern(now, 8, 2);
	pattern(early, 8, 3);
	CHECK_GOOD(rw(&f, 0x2a, 0, 8, old));

	start_rw(&f, &before, 0x2a, 16, 8, early); /* in cowstore when the hold comes */
	CHECK_EQ(scsi_target_hold_volume(f.t, f.tp.cs, f.vol), 1);
	CHECK_EQ(scsi_target_volume_inflight(f.t, f.tp.cs, f.vol), 1);
	CHECK(reap_until(&f, &before.done, 10000));
	CHECK_GOOD(&before.task);
	CHECK_EQ(scsi_target_volume_inflight(f.t, f.tp.cs, f.vol), 0);

	start_rw(&f, &write, 0x2a, 0, 8, now);
	start_rw(&f, &read, 0x28, 0, 8, back);
	start_on(&f, &unit, 0, tur, NULL, 0);
	CHECK(!reap_until(&f, &read.done, QUIET_MS));
	CHECK_EQ(write.done + read.done + unit.done, 0);
	CHECK_EQ(scsi_target_volume_inflight(f.t, f.tp.cs, f.vol), 0); /* held: not running */

	REQUIRE(copy_volume(f.tp.cs, f.vol, other.cs, to) == 0);
	scsi_target_release_volume(f.t, f.tp.cs, f.vol, other.cs, to);
	CHECK(f.t->luns[0].cs == other.cs && f.t->luns[0].volume_id == to);
	CHECK(reap_until(&f, &read.done, 10000));
	CHECK_EQ(write.done, 1);
	CHECK_EQ(unit.done, 1);
	CHECK_GOOD(&write.task);
	CHECK_GOOD(&read.task);
	CHECK_GOOD(&unit.task);                      /* same size: no unit attention */
	CHECK(memcmp(back, now, sizeof(now)) == 0);  /* the read came after the write */

	CHECK_EQ(cowstore_read(other.cs, to, 0, 8, back), 0);
	CHECK(memcmp(back, now, sizeof(now)) == 0);
	CHECK_EQ(cowstore_read(other.cs, to, 16, 8, back), 0);
	CHECK(memcmp(back, early, sizeof(early)) == 0);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 0, 8, back), 0);
	CHECK(memcmp(back, old, sizeof(old)) == 0); /* the old volume was left alone */

	uint8_t inq[16] = { 0x12, 0x01, 0x80, 0, sizeof(serial) }; /* unit serial number */
	char want[17];
	CHECK_GOOD(run(&f, inq, serial, sizeof(serial)));
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)f.vol);
	CHECK(memcmp(serial + 4, want, 16) == 0);    /* the LUN kept its identity */
	fixture_close(&f);
	test_pool_destroy(&other);
}

static void test_release_without_switch(void)
{
	struct fixture f;
	struct pending write, unit;
	static uint8_t data[8 * 512], back[8 * 512];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	CHECK_EQ(scsi_target_hold_volume(f.t, NULL, f.vol), 0); /* NULL: the target's pool */
	CHECK_EQ(scsi_target_hold_volume(f.t, NULL, f.vol), 0); /* again: harmless */
	pattern(data, 8, 4);
	start_rw(&f, &write, 0x2a, 40, 8, data);
	start_on(&f, &unit, 0, tur, NULL, 0);
	CHECK(!reap_until(&f, &write.done, QUIET_MS));
	CHECK_EQ(unit.done, 0);
	scsi_target_release_volume(f.t, NULL, f.vol, NULL, 0);
	CHECK(reap_until(&f, &write.done, 10000));
	CHECK_EQ(unit.done, 1);
	CHECK_GOOD(&write.task);
	CHECK_EQ(cowstore_read(f.tp.cs, f.vol, 40, 8, back), 0);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	CHECK_GOOD(run(&f, tur, NULL, 0));          /* and it is no longer held */
	fixture_close(&f);
}

/* A RESERVE(6) and another nexus's WRITE, held in that order: at the
 * release the reservation is taken first, and the WRITE conflicts. */
static void test_reservation_checked_when_held_command_starts(void)
{
	struct fixture f;
	struct pending reserve, write;
	static uint8_t data[512];
	const uint8_t reserve6[16] = { 0x16 };
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	scsi_nexus_add(f.t, OTHER_NEXUS, NULL);
	f.nexus = OTHER_NEXUS;
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x2900);
	scsi_target_hold_volume(f.t, NULL, f.vol);
	f.nexus = NEXUS;
	start_on(&f, &reserve, 0, reserve6, NULL, 0);
	f.nexus = OTHER_NEXUS;
	start_rw(&f, &write, 0x2a, 0, 1, data);
	scsi_target_release_volume(f.t, NULL, f.vol, NULL, 0);
	CHECK(reap_until(&f, &write.done, 10000));
	CHECK_EQ(reserve.done, 1);
	CHECK_GOOD(&reserve.task);
	CHECK_EQ(write.task.status, SCSI_STATUS_RESERVATION_CONFLICT);
	fixture_close(&f);
}

static void check_aborted(const struct pending *p)
{
	CHECK_EQ(p->done, 1);
	CHECK_EQ(p->task.status, SCSI_STATUS_TASK_ABORTED);
	CHECK_EQ(p->task.sense_len, 0);
}

static void test_abort_and_resets_end_held_commands(void)
{
	struct fixture f;
	struct pending a, b, c, d, running;
	static uint8_t data[8 * 512];
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	scsi_nexus_add(f.t, OTHER_NEXUS, NULL);
	start_rw(&f, &running, 0x2a, 0, 8, data);
	scsi_target_hold_volume(f.t, NULL, f.vol);
	CHECK(!scsi_task_abort(f.t, &running.task)); /* started before: it runs on */
	start_on(&f, &a, 0, tur, NULL, 0);
	start_rw(&f, &b, 0x2a, 8, 8, data);
	f.nexus = OTHER_NEXUS;
	start_on(&f, &c, 0, tur, NULL, 0);
	f.nexus = NEXUS;
	start_on(&f, &d, 0, tur, NULL, 0);

	CHECK(scsi_task_abort(f.t, &a.task));        /* ABORT TASK */
	check_aborted(&a);
	CHECK(!scsi_task_abort(f.t, &a.task));       /* gone */
	scsi_nexus_remove(f.t, OTHER_NEXUS);         /* its session closed */
	check_aborted(&c);
	CHECK_EQ(b.done + d.done, 0);
	CHECK_EQ(scsi_lun_reset(f.t, 0), 0);         /* LOGICAL UNIT RESET */
	check_aborted(&b);
	check_aborted(&d);

	start_on(&f, &a, 0, tur, NULL, 0);
	scsi_target_reset(f.t);                      /* TARGET RESET */
	check_aborted(&a);
	CHECK(reap_until(&f, &running.done, 10000));
	CHECK_GOOD(&running.task);
	scsi_target_release_volume(f.t, NULL, f.vol, NULL, 0);
	reap_until(&f, &f.done_calls, QUIET_MS);
	CHECK(a.done == 1 && b.done == 1 && c.done == 1 && d.done == 1); /* exactly once */
	CHECK_EQ(f.t->luns[0].inflight, 0);
	fixture_close(&f);
}

/* LUNs 0 and 1 on one volume: removing LUN 1 ends its held command at once
 * (LOGICAL UNIT NOT SUPPORTED), LUN 0's stays held in place. */
static void test_lun_removed_while_held(void)
{
	struct fixture f;
	struct pending on0, on1;
	REQUIRE(fixture_open(&f, 64, VOL_BYTES, 0) == 0);
	REQUIRE(scsi_target_add_lun(f.t, 1, NULL, f.vol) == 0);
	CHECK_SENSE(run(&f, tur, NULL, 0), 0x06, 0x3f0e);
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x2900);
	CHECK_SENSE(run_on(&f, 1, tur, 16, NULL, 0), 0x06, 0x3f0e);
	scsi_target_hold_volume(f.t, NULL, f.vol);
	start_on(&f, &on1, 1, tur, NULL, 0);
	start_on(&f, &on0, 0, tur, NULL, 0);
	CHECK_EQ(scsi_target_remove_lun(f.t, 1), 0);
	CHECK_EQ(on1.done, 1);
	CHECK_SENSE(&on1.task, 0x05, 0x2500);
	CHECK_EQ(on0.done, 0);
	scsi_target_release_volume(f.t, NULL, f.vol, NULL, 0);
	CHECK_EQ(on0.done, 1);
	CHECK_SENSE(&on0.task, 0x06, 0x3f0e);        /* LUN 1 went: reported first */
	CHECK_EQ(on1.done, 1);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "switch_runs_held_commands_on_the_new_volume",
	  test_switch_runs_held_commands_on_the_new_volume },
	{ "release_without_switch", test_release_without_switch },
	{ "reservation_checked_when_held_command_starts",
	  test_reservation_checked_when_held_command_starts },
	{ "abort_and_resets_end_held_commands", test_abort_and_resets_end_held_commands },
	{ "lun_removed_while_held", test_lun_removed_while_held },
};

HARNESS_MAIN(tests)
