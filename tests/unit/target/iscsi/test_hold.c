/*
 * test_hold.c - moving a volume to another pool under a running server
 * (hold.c), as the management daemon does it, seen by a real initiator
 * (libiscsi): writes of known patterns, each read back, go on while the
 * test holds the volume (the initiator's commands wait), copies it to the
 * second pool and releases with a switch; the initiator sees no error and
 * every write it completed is in the new pool's volume, those after the
 * switch not in the old one.  A configuration applied after the switch
 * keeps the LUN on the new volume, whether the name still resolves to the
 * old one or already to the new.  A hold whose command cannot finish in
 * time (the emulated device makes writes slow) gives -ETIMEDOUT and leaves
 * the volume unheld.  Holds before start / after stop are immediate.
 * Run it under the ASan build too (build/asan/tests/unit/target/iscsi/).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tests/unit/target/iscsi/servertest.h"

#define OTHER_INITIATOR "iqn.2026-11.dev.slate:hold-other"
#define SLOT_BLOCKS 8u
#define SLOTS 256u /* of SLOT_BLOCKS, at the start of volume a */
#define SLOT_BYTES (SLOT_BLOCKS * BLOCK)

static void op_pattern(uint8_t *buf, unsigned op)
{
	for (unsigned k = 0; k < SLOT_BYTES; k++)
		buf[k] = (uint8_t)(op * 131u + k / 7u);
}

static unsigned slot_of(unsigned op) { return op * 7u % SLOTS; }

static struct outcome write_slot(struct iscsi_context *ini, unsigned slot, uint8_t *buf)
{
	return outcome_of(iscsi_write10_sync(ini, 0, slot * SLOT_BLOCKS, buf, SLOT_BYTES, BLOCK,
					     0, 0, 0, 0, 0));
}

/* Does slot of the volume hold op's pattern? */
static bool volume_has(struct cowstore *cs, uint64_t id, unsigned slot, unsigned op)
{
	uint8_t want[SLOT_BYTES], got[SLOT_BYTES];
	op_pattern(want, op);
	return cowstore_read(cs, id, slot * SLOT_BLOCKS, SLOT_BLOCKS, got) == 0 &&
	       memcmp(got, want, sizeof(got)) == 0;
}

/* What the management daemon does while the volume is held. */
static int copy_volume(struct fixture *f, uint64_t to)
{
	static uint8_t buf[1 << 20];
	const uint32_t n = sizeof(buf) / BLOCK;
	for (uint64_t lba = 0; lba < volumes[0].bytes / BLOCK; lba += n)
		if (cowstore_read(f->cs, f->ids[0], lba, n, buf) ||
		    cowstore_write(f->cs2, to, lba, n, buf, 0))
			return -1;
	return 0;
}

/* ---- an initiator writing and verifying all the time ---------------------- */

struct writer {
	struct fixture *f;
	atomic_bool stop;
	atomic_uint ops;        /* writes done and read back */
	unsigned errors;        /* a command not GOOD, or data read back wrong */
	int last[SLOTS];        /* the op each slot was last written by; -1: none */
	bool logged_in;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct iscsi_context *ini = login(w->f, INITIATOR, T1);
	uint8_t buf[SLOT_BYTES];
	w->logged_in = ini && settle(ini, 0);
	for (unsigned op = 0; w->logged_in && !atomic_load(&w->stop); op++) {
		unsigned slot = slot_of(op);
		op_pattern(buf, op);
		if (write_slot(ini, slot, buf).status != SCSI_STATUS_GOOD) {
			w->errors++;
			continue;
		}
		w->last[slot] = (int)op;
		struct scsi_task *task = iscsi_read10_sync(ini, 0, slot * SLOT_BLOCKS, SLOT_BYTES,
							  BLOCK, 0, 0, 0, 0, 0);
		if (!task || task->status != SCSI_STATUS_GOOD || task->datain.size != SLOT_BYTES ||
		    memcmp(task->datain.data, buf, SLOT_BYTES) != 0)
			w->errors++;
		if (task)
			scsi_free_scsi_task(task);
		atomic_fetch_add(&w->ops, 1);
	}
	if (ini) {
		iscsi_logout_sync(ini);
		iscsi_destroy_context(ini);
	}
	return NULL;
}

static bool wait_ops(struct writer *w, unsigned ops)
{
	for (int i = 0; i < 1000 && atomic_load(&w->ops) < ops; i++)
		usleep(10000);
	return atomic_load(&w->ops) >= ops;
}

static void test_volume_moved_under_io(void)
{
	struct fixture f;
	struct writer w = { .f = &f };
	pthread_t thread;
	uint64_t to;
	REQUIRE(fixture_start(&f) == 0);
	REQUIRE(cowstore_volume_create(f.cs2, "a", volumes[0].bytes, &to, NULL) == 0);
	for (unsigned i = 0; i < SLOTS; i++)
		w.last[i] = -1;
	REQUIRE(pthread_create(&thread, NULL, writer_main, &w) == 0);
	CHECK(wait_ops(&w, 50));

	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs, f.ids[0], 5000), 0);
	unsigned at_hold = atomic_load(&w.ops);
	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs, f.ids[0], 5000), -EBUSY);
	CHECK_EQ(copy_volume(&f, to), 0);
	usleep(100000);
	CHECK(atomic_load(&w.ops) - at_hold <= 1); /* its next command waits */
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs, f.ids[0], f.cs2, to), 0);
	unsigned at_release = atomic_load(&w.ops);
	CHECK(wait_ops(&w, at_release + 50));
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	printf("  %u writes verified, %u before the hold\n", atomic_load(&w.ops), at_hold);

	CHECK(w.logged_in);
	CHECK_EQ(w.errors, 0);
	unsigned missing = 0, after = 0, in_old = 0;
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		if (w.last[slot] < 0)
			continue;
		missing += !volume_has(f.cs2, to, slot, (unsigned)w.last[slot]);
		if ((unsigned)w.last[slot] > at_release + 1) { /* sent after the release */
			after++;
			in_old += volume_has(f.cs, f.ids[0], slot, (unsigned)w.last[slot]);
		}
	}
	CHECK_EQ(missing, 0);
	CHECK(after > 0);
	CHECK_EQ(in_old, 0);
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs, f.ids[0], NULL, 0), -ENOENT);
	fixture_stop(&f);
}

/* ---- configurations after the switch ---------------------------------------- */

static void test_switched_lun_stays_on_its_new_volume(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	uint8_t buf[SLOT_BYTES];
	uint64_t to;
	REQUIRE(fixture_start(&f) == 0);
	REQUIRE(cowstore_volume_create(f.cs2, "a", volumes[0].bytes, &to, NULL) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 0));
	op_pattern(buf, 1);
	CHECK_EQ(write_slot(ini, 1, buf).status, SCSI_STATUS_GOOD);

	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs, f.ids[0], 1000), 0);
	CHECK_EQ(copy_volume(&f, to), 0);
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs, f.ids[0], f.cs2, to + 100), -EINVAL);
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs, f.ids[0], f.cs2, to), 0);
	CHECK_EQ(tur(ini, 0).status, SCSI_STATUS_GOOD); /* same size: nothing to report */
	CHECK(volume_has(f.cs2, to, 1, 1));

	/* "a" still resolves to the old volume (first pool first) */
	cfg_lun(cfg_target(&cfg, T1), 0, "a");
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK_EQ(tur(ini, 0).status, SCSI_STATUS_GOOD); /* not remapped: no unit attention */
	op_pattern(buf, 2);
	CHECK_EQ(write_slot(ini, 2, buf).status, SCSI_STATUS_GOOD);
	CHECK(volume_has(f.cs2, to, 2, 2));
	CHECK(!volume_has(f.cs, f.ids[0], 2, 2));

	/* the daemon deletes the old volume: "a" is the new one */
	REQUIRE(cowstore_volume_delete(f.cs, f.ids[0], NULL) == 0);
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK_EQ(tur(ini, 0).status, SCSI_STATUS_GOOD);
	op_pattern(buf, 3);
	CHECK_EQ(write_slot(ini, 3, buf).status, SCSI_STATUS_GOOD);
	CHECK(volume_has(f.cs2, to, 3, 3));
	iscsi_destroy_context(ini);

	iscsi_server_stop(f.srv); /* stopped: holds are immediate */
	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs2, to, 0), 0);
	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs2, to, 0), -EBUSY);
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs2, to, NULL, 0), 0);
	fixture_stop(&f);
}

/* ---- a hold that cannot become quiet ---------------------------------------- */

struct slow_writer {
	struct fixture *f;
	atomic_bool sending;
	int status;
};

static void *slow_writer_main(void *arg)
{
	struct slow_writer *w = arg;
	struct iscsi_context *ini = login(w->f, INITIATOR, T1);
	uint8_t buf[SLOT_BYTES];
	w->status = -1;
	if (ini && settle(ini, 0)) {
		op_pattern(buf, 9);
		atomic_store(&w->sending, true);
		w->status = write_slot(ini, 0, buf).status;
	}
	atomic_store(&w->sending, true);
	if (ini)
		iscsi_destroy_context(ini);
	return NULL;
}

static long ms_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void test_hold_times_out_while_a_command_runs(void)
{
	struct fixture f;
	struct slow_writer w = { .f = &f };
	const struct cowstore_emulation slow = { .on = 1, .channels = 1, .fixed_us = 3000000 };
	const struct cowstore_emulation off = { 0 };
	pthread_t thread;
	struct timespec start;
	REQUIRE(fixture_start(&f) == 0);
	REQUIRE(cowstore_emulation_set(f.cs, &slow) == 0); /* every write takes 3 s */
	REQUIRE(pthread_create(&thread, NULL, slow_writer_main, &w) == 0);
	while (!atomic_load(&w.sending))
		usleep(1000);
	usleep(300000); /* the write is in cowstore now */

	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ(iscsi_server_hold_volume(f.srv, f.cs, f.ids[0], 300), -ETIMEDOUT);
	long waited = ms_since(&start);
	CHECK(waited >= 300 && waited < 2000);
	CHECK_EQ(iscsi_server_release_volume(f.srv, f.cs, f.ids[0], NULL, 0), -ENOENT);
	struct iscsi_context *other = login(&f, OTHER_INITIATOR, T1); /* not held */
	CHECK(other && settle(other, 0));
	if (other)
		iscsi_destroy_context(other);
	pthread_join(thread, NULL);
	CHECK_EQ(w.status, SCSI_STATUS_GOOD);
	CHECK_EQ(cowstore_emulation_set(f.cs, &off), 0);
	fixture_stop(&f);
}

static const struct harness_test tests[] = {
	{ "volume_moved_under_io", test_volume_moved_under_io },
	{ "switched_lun_stays_on_its_new_volume", test_switched_lun_stays_on_its_new_volume },
	{ "hold_times_out_while_a_command_runs", test_hold_times_out_while_a_command_runs },
};

HARNESS_MAIN(tests)
