/*
 * servertest.h - helpers shared by the target/iscsi tests that drive a
 * running server with a real initiator (libiscsi): the server on two
 * throw-away pools, with a volume finder that looks a name up in the first
 * pool, then in the second; configuration builders; and the initiator's
 * side (login, TEST UNIT READY until the unit attentions pass, READ
 * CAPACITY, the outcome of a command).
 *
 * Only the public iscsi.h is included: libiscsi's headers define
 * struct scsi_task and SCSI_STATUS_* as target/scsi does.
 */
#ifndef SLATE_TESTS_TARGET_ISCSI_SERVERTEST_H
#define SLATE_TESTS_TARGET_ISCSI_SERVERTEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "target/iscsi/iscsi.h"
#include "tests/harness.h"

#define T1 "iqn.2026-11.dev.slate:reconf-one"
#define T2 "iqn.2026-11.dev.slate:reconf-two"
#define INITIATOR "iqn.2026-11.dev.slate:reconf-client"
#define BLOCK 512

/* Volumes of different sizes, so READ CAPACITY tells which one a LUN is;
 * the last ones are in the second pool. */
static const struct {
	const char *name;
	uint64_t bytes;
	bool second_pool;
} volumes[] = { { "a", 8 << 20, false }, { "b", 12 << 20, false }, { "c", 20 << 20, false },
		{ "d", 16 << 20, true } };
#define NVOLUMES (sizeof(volumes) / sizeof(volumes[0]))

struct fixture {
	char dir[2][64];
	struct cowstore *cs, *cs2;  /* the server's pool, and a second one */
	uint64_t ids[NVOLUMES];     /* of volumes[] */
	struct iscsi_server *srv;
	char portal[32];
};

/* The server's finder: the first pool, then the second. */
static inline int find_volume(void *arg, const char *name, struct cowstore **cs, uint64_t *id)
{
	struct fixture *f = arg;
	*cs = f->cs;
	if (cowstore_volume_lookup(f->cs, name, id) == 0)
		return 0;
	*cs = f->cs2;
	return cowstore_volume_lookup(f->cs2, name, id);
}

/* ---- configurations ----------------------------------------------------- */

static inline struct iscsi_target_config *cfg_target(struct iscsi_config *cfg, const char *iqn)
{
	struct iscsi_target_config *t = &cfg->targets[cfg->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
	return t;
}

static inline void cfg_lun(struct iscsi_target_config *t, uint64_t lun, const char *volume)
{
	t->luns[t->nluns].lun = lun;
	snprintf(t->luns[t->nluns].volume, sizeof(t->luns[0].volume), "%s", volume);
	t->nluns++;
}

static inline int apply(struct fixture *f, const struct iscsi_config *cfg)
{
	char why[256] = "";
	int rc = iscsi_server_apply_config(f->srv, cfg, why, sizeof(why));
	if (rc)
		fprintf(stderr, "  apply: %s (%s)\n", why, strerror(-rc));
	return rc;
}

/* A pool in dir with cowstore's defaults. */
static inline int pool_open(char *dir, size_t len, struct cowstore **cs)
{
	struct cowstore_err err = { "" };
	snprintf(dir, len, "/tmp/slate-reconf-XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	int rc = cowstore_pool_create(dir, NULL, &err);
	if (!rc)
		rc = cowstore_open(dir, cs, &err);
	if (rc)
		fprintf(stderr, "  pool: %s\n", err.msg);
	return rc;
}

/* The pools and their volumes (the second pool's ids follow the first's:
 * ids are unique across the pools of an appliance), the server, T1 with
 * LUN 0 = a applied before start (the path slated takes). */
static inline int fixture_start(struct fixture *f)
{
	struct iscsi_server_options opts = { .address = "127.0.0.1",
					     .finder = { find_volume, f } };
	static struct iscsi_config cfg;
	uint64_t spare;
	memset(f, 0, sizeof(*f));
	int rc = pool_open(f->dir[0], sizeof(f->dir[0]), &f->cs);
	if (!rc)
		rc = pool_open(f->dir[1], sizeof(f->dir[1]), &f->cs2);
	for (size_t i = 0; !rc && i < NVOLUMES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "spare%zu", i);
		if (!volumes[i].second_pool)
			rc = cowstore_volume_create(f->cs2, name, 4096, &spare, NULL);
	}
	for (size_t i = 0; !rc && i < NVOLUMES; i++)
		rc = cowstore_volume_create(volumes[i].second_pool ? f->cs2 : f->cs,
					    volumes[i].name, volumes[i].bytes, &f->ids[i], NULL);
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

static inline void fixture_stop(struct fixture *f)
{
	iscsi_server_destroy(f->srv);
	for (int i = 0; i < 2; i++) {
		char cmd[96];
		cowstore_close(i ? f->cs2 : f->cs);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir[i]);
		CHECK_EQ(system(cmd), 0);
	}
}

/* ---- the initiator ------------------------------------------------------- */

static inline struct iscsi_context *login(struct fixture *f, const char *initiator,
					  const char *target)
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

static inline struct outcome outcome_of(struct scsi_task *task)
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

static inline struct outcome tur(struct iscsi_context *ini, int lun)
{
	return outcome_of(iscsi_testunitready_sync(ini, lun));
}

/* TEST UNIT READY until GOOD: the unit attentions of a new nexus pass. */
static inline bool settle(struct iscsi_context *ini, int lun)
{
	for (int i = 0; i < 8; i++)
		if (tur(ini, lun).status == SCSI_STATUS_GOOD)
			return true;
	return false;
}

/* The LUN's size in bytes by READ CAPACITY(16); 0 on failure. */
static inline uint64_t capacity(struct iscsi_context *ini, int lun)
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

#endif /* SLATE_TESTS_TARGET_ISCSI_SERVERTEST_H */
