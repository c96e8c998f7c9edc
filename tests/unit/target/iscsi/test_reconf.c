/*
 * test_reconf.c - iscsi_server_apply_config (reconf.c) on a running server,
 * seen by a real initiator (libiscsi): a target added live is found by
 * discovery and serves its LUNs; an unmapped LUN leaves REPORT LUNS with a
 * unit attention and answers LOGICAL UNIT NOT SUPPORTED; a removed target's
 * session is closed; an ACL that leaves a session's initiator out closes
 * it; a configuration naming a missing volume fails and changes nothing;
 * and configurations applied in a loop while a client does IO (run it under
 * the ASan build too: build/asan/tests/unit/target/iscsi/test_reconf).
 *
 * Only the public iscsi.h is included: libiscsi's headers define
 * struct scsi_task and SCSI_STATUS_* as target/scsi does.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "target/iscsi/iscsi.h"
#include "tests/harness.h"

#define T1 "iqn.2026-11.dev.slate:reconf-one"
#define T2 "iqn.2026-11.dev.slate:reconf-two"
#define INITIATOR "iqn.2026-11.dev.slate:reconf-client"
#define OTHER_INITIATOR "iqn.2026-11.dev.slate:someone-else"
#define BLOCK 512

/* Volumes of different sizes, so READ CAPACITY tells which one a LUN is. */
static const struct {
	const char *name;
	uint64_t bytes;
} volumes[] = { { "a", 8 << 20 }, { "b", 12 << 20 }, { "c", 20 << 20 } };

struct fixture {
	char dir[64];
	struct cowstore *cs;
	struct iscsi_server *srv;
	char portal[32];
};

/* ---- configurations ----------------------------------------------------- */

static struct iscsi_target_config *cfg_target(struct iscsi_config *cfg, const char *iqn)
{
	struct iscsi_target_config *t = &cfg->targets[cfg->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
	return t;
}

static void cfg_lun(struct iscsi_target_config *t, uint64_t lun, const char *volume)
{
	t->luns[t->nluns].lun = lun;
	snprintf(t->luns[t->nluns].volume, sizeof(t->luns[0].volume), "%s", volume);
	t->nluns++;
}

static int apply(struct fixture *f, const struct iscsi_config *cfg)
{
	char why[256] = "";
	int rc = iscsi_server_apply_config(f->srv, cfg, why, sizeof(why));
	if (rc)
		fprintf(stderr, "  apply: %s (%s)\n", why, strerror(-rc));
	return rc;
}

/* T1 with LUN 0 = a, applied before start (the path slated takes). */
static int fixture_start(struct fixture *f)
{
	struct cowstore_err err = { "" };
	struct iscsi_server_options opts = { .address = "127.0.0.1" };
	static struct iscsi_config cfg;
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/slate-reconf-XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	int rc = cowstore_pool_create(f->dir, NULL, &err);
	if (!rc)
		rc = cowstore_open(f->dir, &f->cs, &err);
	for (size_t i = 0; !rc && i < sizeof(volumes) / sizeof(volumes[0]); i++) {
		uint64_t id;
		rc = cowstore_volume_create(f->cs, volumes[i].name, volumes[i].bytes, &id, &err);
	}
	if (!rc)
		rc = iscsi_server_create(f->cs, &opts, &f->srv);
	if (rc)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	cfg_lun(cfg_target(&cfg, T1), 0, "a");
	rc = apply(f, &cfg);
	if (!rc)
		rc = iscsi_server_start(f->srv);
	snprintf(f->portal, sizeof(f->portal), "127.0.0.1:%u", iscsi_server_port(f->srv));
	return rc;
}

static void fixture_stop(struct fixture *f)
{
	iscsi_server_destroy(f->srv);
	cowstore_close(f->cs);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	CHECK_EQ(system(cmd), 0);
}

/* ---- the initiator ------------------------------------------------------- */

static struct iscsi_context *login(struct fixture *f, const char *initiator, const char *target)
{
	struct iscsi_context *ini = iscsi_create_context(initiator);
	if (!ini)
		return NULL;
	iscsi_set_targetname(ini, target);
	iscsi_set_session_type(ini, ISCSI_SESSION_NORMAL);
	iscsi_set_timeout(ini, 10);
	if (iscsi_full_connect_sync(ini, f->portal, 0) != 0) {
		iscsi_destroy_context(ini);
		return NULL;
	}
	return ini;
}

/* SCSI status of a command, with its sense key and ASC/ASCQ; -1 when the
 * command got no answer. */
struct outcome {
	int status;
	int key, asc_ascq;
};

static struct outcome outcome_of(struct scsi_task *task)
{
	struct outcome o = { -1, 0, 0 };
	if (!task)
		return o;
	o.status = task->status;
	if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		o.key = task->sense.key;
		o.asc_ascq = task->sense.ascq;
	}
	scsi_free_scsi_task(task);
	return o;
}

static struct outcome tur(struct iscsi_context *ini, int lun)
{
	return outcome_of(iscsi_testunitready_sync(ini, lun));
}

/* TEST UNIT READY until GOOD: the unit attentions of a new nexus pass. */
static bool settle(struct iscsi_context *ini, int lun)
{
	for (int i = 0; i < 8; i++)
		if (tur(ini, lun).status == SCSI_STATUS_GOOD)
			return true;
	return false;
}

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

/* The LUN's size in bytes by READ CAPACITY(16); 0 on failure. */
static uint64_t capacity(struct iscsi_context *ini, int lun)
{
	struct scsi_task *task = iscsi_readcapacity16_sync(ini, lun);
	uint64_t bytes = 0;
	if (task && task->status == SCSI_STATUS_GOOD) {
		struct scsi_readcapacity16 *rc16 = scsi_datain_unmarshall(task);
		if (rc16)
			bytes = (rc16->returned_lba + 1) * rc16->block_length;
	}
	if (task)
		scsi_free_scsi_task(task);
	return bytes;
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
	{ "configs_applied_during_io", test_configs_applied_during_io },
};

HARNESS_MAIN(tests)
