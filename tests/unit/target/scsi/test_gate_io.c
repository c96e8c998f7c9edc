/*
 * test_gate_io.c - SCSI commands through the QoS gate on a real pool: a
 * VM's limit holds its LUN's READs to the limit while another LUN runs
 * free; data written by many concurrent WRITEs that the gate held and
 * submitted from its timer thread reads back intact; a request the pool
 * refuses after waiting ends with its error (cowstore_io_fail).  Prints
 * the read rate with no gate, an inactive gate and an active one.
 *
 * The limit check is an upper bound the gate enforces (never more than
 * 1 + limit * elapsed requests), so it does not depend on the machine's
 * speed; the free LUN only has to do clearly more.
 */
#include "tests/unit/target/scsi/scsitest.h"

#define DEPTH 16
#define BLOCKS 8 /* 4 KiB READs */

struct loop_task {
	struct scsi_task task;
	uint8_t buf[BLOCKS * 512];
	bool done;
	int lun;
};

static void loop_done(struct scsi_task *task)
{
	((struct loop_task *)task->priv)->done = true;
}

static void start_read(struct fixture *f, struct loop_task *lt, uint32_t lba)
{
	struct scsi_task *task = &lt->task;
	memset(task, 0, sizeof(*task));
	task->lun = (uint64_t)lt->lun;
	cdb10(task->cdb, 0x28, lba, BLOCKS);
	task->cdb_len = 16;
	task->transfer_len = sizeof(lt->buf);
	task->nexus_id = NEXUS;
	task->data = lt->buf;
	task->done = loop_done;
	task->priv = lt;
	lt->done = false;
	scsi_task_execute(f->t, task);
}

/* Closed loop: DEPTH READs per LUN in nluns for seconds; completions per
 * LUN (GOOD ones) into good[], and every completion's time is checked
 * against limit_iops for LUN 0 (0: none) into *over. */
static void read_loop(struct fixture *f, int nluns, double seconds, uint64_t good[2],
		      double limit_iops, int *over)
{
	static struct loop_task lt[2][DEPTH];
	uint64_t start = qos_now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint32_t lba = 0;
	int running = 0;
	*over = 0;
	for (int l = 0; l < nluns; l++) {
		good[l] = 0;
		for (int k = 0; k < DEPTH; k++) {
			lt[l][k].lun = l;
			start_read(f, &lt[l][k], (lba += BLOCKS) % 8192);
			running++;
		}
	}
	while (running) {
		cowstore_queue_wait(f->q, 100);
		cowstore_queue_reap(f->q, 0);
		uint64_t now = qos_now_ns();
		for (int l = 0; l < nluns; l++) {
			for (int k = 0; k < DEPTH; k++) {
				struct loop_task *t = &lt[l][k];
				if (!t->done)
					continue;
				t->done = false;
				running--;
				if (t->task.status == SCSI_STATUS_GOOD)
					good[l]++;
				if (l == 0 && limit_iops > 0 &&
				    (double)good[0] > 1 + limit_iops * (double)(now - start) / 1e9)
					(*over)++;
				if (now < end) {
					start_read(f, t, (lba += BLOCKS) % 8192);
					running++;
				}
			}
		}
	}
}

static int open_two(struct fixture *f)
{
	uint64_t vol2;
	if (fixture_open(f, 256, 64ull << 20, 0) ||
	    cowstore_volume_create(f->tp.cs, "vol2", 64ull << 20, &vol2, NULL) ||
	    scsi_target_add_lun(f->t, 1, NULL, vol2))
		return -1;
	/* LUN 1's unit attention (LUNS CHANGED) goes to a TEST UNIT READY */
	uint8_t tur[16] = { 0 };
	run_on(f, 1, tur, 16, NULL, 0);
	run_on(f, 0, tur, 16, NULL, 0);
	return 0;
}

static uint64_t lun_volume(struct fixture *f, int lun)
{
	return f->t->luns[lun].volume_id;
}

static void test_limit_through_target(void)
{
	struct fixture f;
	REQUIRE(open_two(&f) == 0);
	struct qos_gate *g;
	REQUIRE(qos_gate_create(NULL, &g) == 0);
	scsi_target_set_gate(f.t, g);
	struct qos_mclock_policy limited = { .limit_iops = 200, .shares = 1000 };
	struct qos_mclock_policy free_vm = { .shares = 1000 };
	REQUIRE(qos_gate_set_vm(g, 1, "limited", &limited) == 0);
	REQUIRE(qos_gate_set_vm(g, 2, "free", &free_vm) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, lun_volume(&f, 0), 1) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, lun_volume(&f, 1), 2) == 0);
	uint64_t good[2];
	int over;
	read_loop(&f, 2, 1.0, good, 200, &over);
	printf("  limit 200 IOPS: %" PRIu64 " READs in 1 s; the free LUN: %" PRIu64 "\n", good[0],
	       good[1]);
	CHECK_EQ(over, 0);                  /* never ahead of the limit */
	CHECK(good[0] <= 1 + 200 * 1.1 + DEPTH); /* (the last ones finish after 1 s) */
	CHECK(good[0] >= 150);              /* the timer released them */
	CHECK(good[1] > 2 * good[0]);       /* the other VM is not held */
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.queued, 0);
	CHECK(st.vms[1].held_by_limit > 0);
	CHECK_EQ(st.vms[2].held_by_limit, 0);
	qos_gate_status_free(&st);
	/* policy gone: the LUN runs free */
	REQUIRE(qos_gate_remove_vm(g, 1) == 0);
	read_loop(&f, 1, 0.3, good, 0, &over);
	printf("  after the policy is removed: %" PRIu64 " READs in 0.3 s\n", good[0]);
	CHECK(good[0] > 200 * 0.3 * 2);
	fixture_close(&f);
	qos_gate_destroy(g);
}

/* WRITEs held by a limit and a capacity of 2 are submitted by other
 * threads; what they wrote reads back. */
static void test_data_through_gate(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 256, 64ull << 20, 0) == 0);
	struct qos_gate_config cfg = { .capacity = 2 };
	struct qos_gate *g;
	REQUIRE(qos_gate_create(&cfg, &g) == 0);
	scsi_target_set_gate(f.t, g);
	struct qos_mclock_policy p = { .limit_iops = 2000, .shares = 100 };
	REQUIRE(qos_gate_set_vm(g, 1, "vm", &p) == 0);
	REQUIRE(qos_gate_set_volume_vm(g, f.vol, 1) == 0);
	static struct loop_task lt[DEPTH];
	for (int k = 0; k < DEPTH; k++) {
		struct scsi_task *task = &lt[k].task;
		memset(task, 0, sizeof(*task));
		memset(lt[k].buf, 'a' + k, sizeof(lt[k].buf));
		cdb10(task->cdb, 0x2a, (uint32_t)k * BLOCKS, BLOCKS);
		task->cdb_len = 16;
		task->transfer_len = sizeof(lt[k].buf);
		task->nexus_id = NEXUS;
		task->data = lt[k].buf;
		task->done = loop_done;
		task->priv = &lt[k];
		lt[k].done = false;
		scsi_task_execute(f.t, task);
	}
	int done = 0;
	for (int i = 0; i < 100 && done < DEPTH; i++) {
		cowstore_queue_wait(f.q, 100);
		cowstore_queue_reap(f.q, 0);
		done = 0;
		for (int k = 0; k < DEPTH; k++)
			done += lt[k].done;
	}
	CHECK_EQ(done, DEPTH);
	int bad = 0;
	for (int k = 0; k < DEPTH; k++)
		bad += lt[k].task.status != SCSI_STATUS_GOOD;
	CHECK_EQ(bad, 0);
	struct qos_gate_status st;
	REQUIRE(qos_gate_status(g, &st) == 0);
	CHECK(st.deferred >= DEPTH - 2); /* most of them waited */
	qos_gate_status_free(&st);
	static uint8_t back[DEPTH * BLOCKS * 512];
	uint8_t cdb[16];
	cdb10(cdb, 0x28, 0, DEPTH * BLOCKS);
	CHECK_GOOD(run(&f, cdb, back, sizeof(back)));
	bad = 0;
	for (int k = 0; k < DEPTH; k++)
		for (size_t i = 0; i < BLOCKS * 512; i++)
			bad += back[(size_t)k * BLOCKS * 512 + i] != 'a' + k;
	CHECK_EQ(bad, 0);
	fixture_close(&f);
	qos_gate_destroy(g);
}

/* cowstore_io_fail: done() runs on the queue's thread with the error. */
static int fail_done_calls, fail_result;
static void fail_done(struct cowstore_io *io)
{
	fail_done_calls++;
	fail_result = io->result;
}

static void test_io_fail_completes(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 64, 1ull << 20, 0) == 0);
	struct cowstore_io io = { .op = COWSTORE_OP_READ, .queue = f.q, .done = fail_done };
	CHECK_EQ(cowstore_io_fail(&io, 0), -EINVAL);
	CHECK_EQ(cowstore_io_fail(&io, -ENOMEM), 0);
	CHECK_EQ(fail_done_calls, 0); /* not inline */
	cowstore_queue_wait(f.q, 1000);
	cowstore_queue_reap(f.q, 0);
	CHECK_EQ(fail_done_calls, 1);
	CHECK_EQ(fail_result, -ENOMEM);
	fixture_close(&f);
}

/* Not a check: the cost of the gate on a small-READ loop (one LUN). */
static void test_overhead_report(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f, 256, 64ull << 20, 0) == 0);
	struct qos_gate *g;
	REQUIRE(qos_gate_create(NULL, &g) == 0);
	uint64_t good[2];
	int over;
	double rate[3] = { 0 };
	struct qos_mclock_policy p = { .shares = 1000 };
	REQUIRE(qos_gate_set_volume_vm(g, f.vol, 0) == 0);
	for (int round = 0; round < 3; round++) { /* best of 3, modes interleaved */
		for (int i = 0; i < 3; i++) {
			int mode = (i + round) % 3; /* each mode first once */
			scsi_target_set_gate(f.t, mode ? g : NULL);
			if (mode == 2) {
				REQUIRE(qos_gate_set_vm(g, 1, "vm", &p) == 0);
				REQUIRE(qos_gate_set_volume_vm(g, f.vol, 1) == 0);
			}
			read_loop(&f, 1, 0.5, good, 0, &over);
			if (mode == 2)
				REQUIRE(qos_gate_remove_vm(g, 1) == 0); /* inactive again */
			if (2.0 * (double)good[0] > rate[mode])
				rate[mode] = 2.0 * (double)good[0];
		}
	}
	printf("  4 KiB READs of unwritten blocks, depth %d, best of 3 x 0.5 s: no gate %.0f/s, "
	       "gate inactive %.0f/s (%+.1f%%), active %.0f/s (%+.1f%%)\n", DEPTH, rate[0], rate[1],
	       (rate[1] / rate[0] - 1) * 100, rate[2], (rate[2] / rate[0] - 1) * 100);
	CHECK(rate[2] > 0);
	fixture_close(&f);
	qos_gate_destroy(g);
}

static const struct harness_test tests[] = {
	{ "limit_through_target", test_limit_through_target },
	{ "data_through_gate", test_data_through_gate },
	{ "io_fail_completes", test_io_fail_completes },
	{ "overhead_report", test_overhead_report },
};

HARNESS_MAIN(tests)
