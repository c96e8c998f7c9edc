/*
 * test_reconf.c - iscsi_server_apply_config (reconf.c) on a running server,
 * seen by a real initiator (libiscsi): a target added live is found by
 * discovery and serves its LUNs; an unmapped LUN leaves REPORT LUNS with a
 * unit attention and answers LOGICAL UNIT NOT SUPPORTED; a removed target's
 * session is closed; an ACL that leaves a session's initiator out closes
 * it; a configuration naming a missing volume fails and changes nothing;
 * and configurations applied in a loop while a client does IO (run it under
 * the ASan build too: build/asan/tests/unit/target/iscsi/test_reconf).
 * Volumes are found across two pools (the server's finder): a LUN on the
 * second pool serves that pool's volume, and iscsi_config_drop_missing_luns
 * finds volumes the same way.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tests/unit/target/iscsi/servertest.h"

#define OTHER_INITIATOR "iqn.2026-11.dev.slate:someone-else"

/* REPORT LUNS as a bitmap of LUNs 0..63; UINT64_MAX on failure. */
static uint64_t report_luns(struct iscsi_context *ini)
{
	struct scsi_task *task = iscsi_reportluns_sync(ini, 0, 4096);
	uint64_t map = UINT64_MAX;
	if (task && task->status == SCSI_STATUS_GOOD) {
		struct scsi_reportluns_list *list = scsi_datain_unmarshall(task);
		if (list) {
			map = 0;
			for (uint32_t i = 0; i < list->num; i++)
				if (list->luns[i] < 64)
					map |= 1ull << list->luns[i];
		}
	}
	if (task)
		scsi_free_scsi_task(task);
	return map;
}

/* Has the target closed this session's connection (EOF within 5 s)? */
static bool closed_by_target(struct iscsi_context *ini)
{
	int fd = iscsi_get_fd(ini);
	char buf[4096];
	for (int waited = 0; waited < 5000; waited += 100) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 100) != 1)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf)); /* an Async logout or data first */
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

static bool discovered(struct fixture *f, const char *iqn)
{
	struct iscsi_context *ini = iscsi_create_context(INITIATOR);
	bool found = false;
	iscsi_set_session_type(ini, ISCSI_SESSION_DISCOVERY);
	iscsi_set_timeout(ini, 10);
	if (iscsi_connect_sync(ini, f->portal) == 0 && iscsi_login_sync(ini) == 0) {
		struct iscsi_discovery_address *list = iscsi_discovery_sync(ini);
		for (struct iscsi_discovery_address *a = list; a; a = a->next)
			found |= !strcmp(a->target_name, iqn);
		if (list)
			iscsi_free_discovery_data(ini, list);
		iscsi_logout_sync(ini);
	}
	iscsi_destroy_context(ini);
	return found;
}

static size_t sessions_of(struct fixture *f, const char *iqn)
{
	struct iscsi_session_info info[16];
	size_t count = 0, n = 0;
	CHECK_EQ(iscsi_server_list_sessions(f->srv, info, 16, &count), 0);
	for (size_t i = 0; i < count && i < 16; i++)
		n += !strcmp(info[i].target, iqn);
	return n;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_target_added_live_is_discovered_and_served(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	REQUIRE(fixture_start(&f) == 0);
	struct iscsi_context *one = login(&f, INITIATOR, T1);
	REQUIRE(one);
	CHECK(settle(one, 0));
	CHECK_EQ(report_luns(one), 1);
	CHECK(!discovered(&f, T2));
	CHECK(!login(&f, INITIATOR, T2)); /* not there yet */

	struct iscsi_target_config *t = cfg_target(&cfg, T1);
	cfg_lun(t, 0, "a");
	t = cfg_target(&cfg, T2);
	cfg_lun(t, 0, "b");
	cfg_lun(t, 3, "c");
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK(discovered(&f, T1));
	CHECK(discovered(&f, T2));
	struct iscsi_context *two = login(&f, INITIATOR, T2);
	REQUIRE(two);
	CHECK(settle(two, 0));
	CHECK(settle(two, 3));
	CHECK_EQ(report_luns(two), (1u << 0) | (1u << 3));
	CHECK_EQ(capacity(two, 0), volumes[1].bytes);
	CHECK_EQ(capacity(two, 3), volumes[2].bytes);
	/* T1, unchanged, raised nothing for its session */
	CHECK_EQ(tur(one, 0).status, SCSI_STATUS_GOOD);
	CHECK_EQ(capacity(one, 0), volumes[0].bytes);
	iscsi_destroy_context(one);
	iscsi_destroy_context(two);
	fixture_stop(&f);
}

static void test_unmapped_lun_leaves_report_luns(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	REQUIRE(fixture_start(&f) == 0);
	struct iscsi_target_config *t = cfg_target(&cfg, T1);
	cfg_lun(t, 0, "a");
	cfg_lun(t, 1, "b");
	REQUIRE(apply(&f, &cfg) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 0));
	CHECK(settle(ini, 1));
	CHECK_EQ(report_luns(ini), 3);

	t->nluns = 1; /* LUN 1 goes */
	REQUIRE(apply(&f, &cfg) == 0);
	struct outcome o = tur(ini, 0);
	CHECK_EQ(o.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(o.key, SCSI_SENSE_UNIT_ATTENTION);
	CHECK_EQ(o.asc_ascq, 0x3f0e); /* REPORTED LUNS DATA HAS CHANGED */
	CHECK_EQ(report_luns(ini), 1);
	o = tur(ini, 1);
	CHECK_EQ(o.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(o.key, SCSI_SENSE_ILLEGAL_REQUEST);
	CHECK_EQ(o.asc_ascq, 0x2500); /* LOGICAL UNIT NOT SUPPORTED */

	cfg_lun(t, 1, "c"); /* back, on another volume */
	REQUIRE(apply(&f, &cfg) == 0);
	o = tur(ini, 0);
	CHECK_EQ(o.key, SCSI_SENSE_UNIT_ATTENTION);
	CHECK_EQ(o.asc_ascq, 0x3f0e);
	CHECK_EQ(report_luns(ini), 3);
	CHECK(settle(ini, 1));
	CHECK_EQ(capacity(ini, 1), volumes[2].bytes);

	/* the same LUN to another volume in one step */
	snprintf(t->luns[1].volume, sizeof(t->luns[1].volume), "b");
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK(settle(ini, 1));
	CHECK_EQ(capacity(ini, 1), volumes[1].bytes);
	iscsi_destroy_context(ini);
	fixture_stop(&f);
}

static void test_removed_target_closes_its_session(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	REQUIRE(fixture_start(&f) == 0);
	cfg_lun(cfg_target(&cfg, T1), 0, "a");
	cfg_lun(cfg_target(&cfg, T2), 0, "b");
	REQUIRE(apply(&f, &cfg) == 0);
	struct iscsi_context *one = login(&f, INITIATOR, T1);
	struct iscsi_context *two = login(&f, INITIATOR, T2);
	REQUIRE(one && two);
	CHECK(settle(one, 0));
	CHECK(settle(two, 0));
	CHECK_EQ(sessions_of(&f, T2), 1);

	cfg.ntargets = 1; /* T2 goes */
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK(closed_by_target(two));
	CHECK_EQ(sessions_of(&f, T2), 0);
	CHECK_EQ(sessions_of(&f, T1), 1);
	CHECK_EQ(tur(one, 0).status, SCSI_STATUS_GOOD); /* the other target is untouched */
	CHECK(!discovered(&f, T2));
	CHECK(!login(&f, INITIATOR, T2));
	iscsi_destroy_context(two);

	/* and it can come back */
	cfg_lun(cfg_target(&cfg, T2), 0, "c");
	REQUIRE(apply(&f, &cfg) == 0);
	two = login(&f, INITIATOR, T2);
	REQUIRE(two);
	CHECK(settle(two, 0));
	CHECK_EQ(capacity(two, 0), volumes[2].bytes);
	iscsi_destroy_context(one);
	iscsi_destroy_context(two);
	fixture_stop(&f);
}

static void test_acl_leaving_out_a_session_closes_it(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	REQUIRE(fixture_start(&f) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 0));
	struct iscsi_target_config *t = cfg_target(&cfg, T1);
	cfg_lun(t, 0, "a");
	t->nacl = 1;
	snprintf(t->acl[0], sizeof(t->acl[0]), "%s", OTHER_INITIATOR);
	REQUIRE(apply(&f, &cfg) == 0);
	CHECK(closed_by_target(ini));
	iscsi_destroy_context(ini);
	CHECK(!login(&f, INITIATOR, T1));
	ini = login(&f, OTHER_INITIATOR, T1);
	CHECK(ini != NULL);
	if (ini)
		iscsi_destroy_context(ini);
	fixture_stop(&f);
}

static void test_missing_volume_fails_and_changes_nothing(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	char why[256] = "";
	REQUIRE(fixture_start(&f) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 0));
	struct iscsi_target_config *t = cfg_target(&cfg, T1);
	cfg_lun(t, 1, "b"); /* LUN 0 would go, LUN 1 come */
	cfg_lun(t, 2, "no-such-volume");
	cfg_lun(cfg_target(&cfg, T2), 0, "c");
	CHECK_EQ(iscsi_server_apply_config(f.srv, &cfg, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "no-such-volume") != NULL);
	CHECK_EQ(tur(ini, 0).status, SCSI_STATUS_GOOD); /* no unit attention */
	CHECK_EQ(report_luns(ini), 1);
	CHECK(!discovered(&f, T2));
	/* a bad name is refused the same way */
	snprintf(t->luns[1].volume, sizeof(t->luns[1].volume), "c");
	snprintf(t->iqn, sizeof(t->iqn), "not-an-iqn");
	CHECK_EQ(iscsi_server_apply_config(f.srv, &cfg, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "not-an-iqn") != NULL);
	CHECK_EQ(tur(ini, 0).status, SCSI_STATUS_GOOD);
	CHECK_EQ(sessions_of(&f, T1), 1);
	iscsi_destroy_context(ini);
	fixture_stop(&f);
}

static void test_volumes_found_across_pools(void)
{
	struct fixture f;
	struct iscsi_config cfg = { 0 };
	uint8_t block[BLOCK], back[BLOCK];
	REQUIRE(fixture_start(&f) == 0);
	struct iscsi_target_config *t = cfg_target(&cfg, T1);
	cfg_lun(t, 0, "a");
	cfg_lun(t, 1, "d"); /* in the second pool */
	REQUIRE(apply(&f, &cfg) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 1));
	CHECK_EQ(capacity(ini, 1), volumes[3].bytes);
	memset(block, 0x5d, sizeof(block));
	CHECK_EQ(outcome_of(iscsi_write10_sync(ini, 1, 9, block, BLOCK, BLOCK, 0, 0, 0, 0, 0))
			 .status,
		 SCSI_STATUS_GOOD);
	CHECK_EQ(cowstore_read(f.cs2, f.ids[3], 9, 1, back), 0);
	CHECK(memcmp(back, block, BLOCK) == 0);
	iscsi_destroy_context(ini);

	struct iscsi_volume_finder finder = { find_volume, &f };
	cfg_lun(t, 2, "no-such-volume");
	iscsi_config_drop_missing_luns(f.cs, &finder, &cfg, NULL, NULL);
	CHECK_EQ(cfg.targets[0].nluns, 2);  /* a and d stay */
	iscsi_config_drop_missing_luns(f.cs, NULL, &cfg, NULL, NULL);
	CHECK_EQ(cfg.targets[0].nluns, 1);  /* d is not in the server's pool */
	CHECK(!strcmp(cfg.targets[0].luns[0].volume, "a"));
	fixture_stop(&f);
}

/* ---- configurations applied while a client does IO ------------------------ */

struct io_worker {
	struct fixture *f;
	atomic_bool stop;
	unsigned ops, unexpected, mismatches;
	bool logged_in;
};

static bool expected(struct outcome o)
{
	return o.status == SCSI_STATUS_GOOD ||
	       (o.status == SCSI_STATUS_CHECK_CONDITION &&
		(o.key == SCSI_SENSE_UNIT_ATTENTION ||
		 (o.key == SCSI_SENSE_ILLEGAL_REQUEST && o.asc_ascq == 0x2500)));
}

/* Writes and reads back LUN 0 (always mapped) and reads LUN 1 (mapped,
 * unmapped and remapped under it). */
static void *io_main(void *arg)
{
	struct io_worker *w = arg;
	struct iscsi_context *ini = login(w->f, INITIATOR, T1);
	uint8_t block[8 * BLOCK];
	w->logged_in = ini != NULL;
	if (!ini)
		return NULL;
	for (unsigned i = 0; !atomic_load(&w->stop) && i < 20000; i++) {
		uint32_t lba = (i * 8) % 4096;
		memset(block, (int)(i & 0xff), sizeof(block));
		struct outcome o = outcome_of(iscsi_write10_sync(ini, 0, lba, block, sizeof(block),
								 BLOCK, 0, 0, 0, 0, 0));
		if (o.status == SCSI_STATUS_GOOD) {
			struct scsi_task *task = iscsi_read10_sync(ini, 0, lba, sizeof(block), BLOCK,
								  0, 0, 0, 0, 0);
			if (task && task->status == SCSI_STATUS_GOOD) {
				for (size_t k = 0; k < sizeof(block); k++)
					if (task->datain.data[k] != (uint8_t)(i & 0xff)) {
						w->mismatches++;
						break;
					}
			}
			o = outcome_of(task);
		}
		w->unexpected += !expected(o);
		o = outcome_of(iscsi_read10_sync(ini, 1, lba, sizeof(block), BLOCK, 0, 0, 0, 0, 0));
		w->unexpected += !expected(o);
		if (!expected(o))
			fprintf(stderr, "  LUN 1: status %d key %d asc %04x\n", o.status, o.key,
				o.asc_ascq);
		w->ops += 3;
	}
	iscsi_logout_sync(ini);
	iscsi_destroy_context(ini);
	return NULL;
}

static void test_configs_applied_during_io(void)
{
	struct fixture f;
	struct io_worker w = { .f = &f };
	pthread_t thread;
	static struct iscsi_config cfgs[4];
	REQUIRE(fixture_start(&f) == 0);
	/* LUN 1: b, gone, c, b (a direct remap); T2 comes and goes */
	for (int i = 0; i < 4; i++) {
		struct iscsi_config *cfg = &cfgs[i];
		memset(cfg, 0, sizeof(*cfg));
		struct iscsi_target_config *t = cfg_target(cfg, T1);
		cfg_lun(t, 0, "a");
		if (i != 1)
			cfg_lun(t, 1, i == 2 ? "c" : "b");
		if (i % 2)
			cfg_lun(cfg_target(cfg, T2), 0, "c");
	}
	REQUIRE(apply(&f, &cfgs[0]) == 0);
	REQUIRE(pthread_create(&thread, NULL, io_main, &w) == 0);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned applied = 0, failed = 0;
	do {
		failed += apply(&f, &cfgs[applied % 4]) != 0;
		applied++;
		usleep(2000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (applied < 2000 && now.tv_sec - start.tv_sec < 4);
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	printf("  %u configurations applied during %u IOs\n", applied, w.ops);
	CHECK(w.logged_in);
	CHECK_EQ(failed, 0);
	CHECK(applied >= 20);
	CHECK(w.ops >= 30);
	CHECK_EQ(w.unexpected, 0);
	CHECK_EQ(w.mismatches, 0);
	/* the server is still sound: the last configuration is what it serves */
	REQUIRE(apply(&f, &cfgs[2]) == 0);
	struct iscsi_context *ini = login(&f, INITIATOR, T1);
	REQUIRE(ini);
	CHECK(settle(ini, 1));
	CHECK_EQ(report_luns(ini), 3);
	CHECK_EQ(capacity(ini, 1), volumes[2].bytes);
	CHECK(!discovered(&f, T2));
	iscsi_destroy_context(ini);
	fixture_stop(&f);
}

static const struct harness_test tests[] = {
	{ "target_added_live_is_discovered_and_served",
	  test_target_added_live_is_discovered_and_served },
	{ "unmapped_lun_leaves_report_luns", test_unmapped_lun_leaves_report_luns },
	{ "removed_target_closes_its_session", test_removed_target_closes_its_session },
	{ "acl_leaving_out_a_session_closes_it", test_acl_leaving_out_a_session_closes_it },
	{ "missing_volume_fails_and_changes_nothing",
	  test_missing_volume_fails_and_changes_nothing },
	{ "volumes_found_across_pools", test_volumes_found_across_pools },
	{ "configs_applied_during_io", test_configs_applied_during_io },
};

HARNESS_MAIN(tests)
