/*
 * test_pools.c - an appliance with two pools (mgmt/pools.c, api_move.c):
 * the settings that name them, disjoint id ranges (and the refusal of
 * overlapping ones), volumes made in either pool and found by name in
 * both, names unique across them, snapshots and VM snapshots over volumes
 * of both pools, moving a volume with its snapshots to the other pool (the
 * data, the snapshots and the VM snapshot records follow), what a move
 * refuses, and a move a stop interrupted, undone or completed at the next
 * open.  No iSCSI server here (tests/integration/pools.sh moves under IO).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "tests/harness.h"
#include "tests/unit/mgmt/apiutil.h"

struct two {
	char base[64];
	struct mgmt_settings set;
	struct mgmt_pools pools;
	struct t_api api;
};

static void quiet(void *arg, const char *line)
{
	(void)arg, (void)line;
}

static int pools_open(struct two *w)
{
	return mgmt_pools_open(&w->pools, &w->set, quiet, NULL);
}

/* The primary in BASE/main, "fast" in BASE/fast; the API over both. */
static int two_open(struct two *w)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->base, sizeof(w->base), "/tmp/slate-pools-XXXXXX");
	if (!mkdtemp(w->base))
		return -1;
	mgmt_settings_default(&w->set);
	char dir[128];
	snprintf(w->set.data_dir, sizeof(w->set.data_dir), "%s/main", w->base);
	snprintf(dir, sizeof(dir), "%s/fast", w->base);
	if (mgmt_settings_set(&w->set, "pool.fast", dir) || pools_open(w))
		return -1;
	snprintf(w->api.data_dir, sizeof(w->api.data_dir), "%s", w->set.data_dir);
	w->api.now_s = 1796601600; /* 2026-12-07 */
	return t_mgmt_create_on(&w->api, &w->pools);
}

static void two_close(struct two *w)
{
	char cmd[160];
	mgmt_destroy(w->api.m);
	mgmt_pools_close(&w->pools);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->base);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", w->base);
}

static struct cowstore *pool_cs(struct two *w, const char *name)
{
	return mgmt_pools_find(&w->pools, name)->cs;
}

/* Wait for a task to end; its final state ("succeeded"/"failed"). */
static const char *wait_task(struct two *w, json_t *accepted, char *result, size_t len)
{
	static char state[16];
	char path[64];
	int status;
	snprintf(path, sizeof(path), "/api/v1/tasks/%" PRId64,
		 (int64_t)json_integer_value(json_object_get(accepted, "id")));
	snprintf(state, sizeof(state), "timeout");
	for (int i = 0; i < 3000; i++) {
		json_t *j = t_req(&w->api, "GET", path, &status, NULL);
		bool done = status != 200 || strcmp(t_str(j, "state"), "running");
		if (done) {
			snprintf(state, sizeof(state), "%s", t_str(j, "state"));
			snprintf(result, len, "%s", t_str(j, "result"));
		}
		json_decref(j);
		if (done)
			break;
		usleep(10000);
	}
	return state;
}

static void fill(struct cowstore *cs, uint64_t id, uint64_t lba, unsigned char byte)
{
	char block[4096];
	memset(block, byte, sizeof(block));
	REQUIRE(!cowstore_write(cs, id, lba, 8, block, 0));
}

static bool holds(struct cowstore *cs, uint64_t id, uint64_t snap_id, uint64_t lba,
		  unsigned char byte)
{
	char block[4096], want[4096];
	memset(want, byte, sizeof(want));
	int rc = snap_id ? cowstore_read_snapshot(cs, snap_id, lba, 8, block)
			 : cowstore_read(cs, id, lba, 8, block);
	return !rc && !memcmp(block, want, sizeof(block));
}

static void test_settings_name_pools(void)
{
	struct mgmt_settings s;
	mgmt_settings_default(&s);
	CHECK_EQ(mgmt_settings_set(&s, "pool.fast", "/srv/fast"), 0);
	CHECK_EQ(mgmt_settings_set(&s, "pool.slow-1", "/srv/slow"), 0);
	CHECK_EQ(mgmt_settings_set(&s, "pool.fast", "/srv/fast2"), 0);
	CHECK_EQ(s.npools, 2);
	CHECK(!strcmp(s.pools[0].dir, "/srv/fast2"));
	CHECK_EQ(mgmt_settings_set(&s, "pool.fast", ""), 0);
	CHECK_EQ(s.npools, 1);
	CHECK(!strcmp(s.pools[0].name, "slow-1"));
	CHECK_EQ(mgmt_settings_set(&s, "pool.default", "/x"), -EINVAL);
	CHECK_EQ(mgmt_settings_set(&s, "pool.Fast", "/x"), -EINVAL);
	CHECK_EQ(mgmt_settings_set(&s, "pool.", "/x"), -EINVAL);
	CHECK_EQ(mgmt_settings_set(&s, "pool.-a", "/x"), -EINVAL);
	char name[16];
	for (unsigned i = 1; i < MGMT_POOLS_MAX - 1; i++) {
		snprintf(name, sizeof(name), "pool.p%u", i);
		CHECK_EQ(mgmt_settings_set(&s, name, "/x"), 0);
	}
	CHECK_EQ(mgmt_settings_set(&s, "pool.onetoomany", "/x"), -EINVAL);
}

static void test_id_ranges(void)
{
	struct two w;
	struct cowstore_pool_info info;
	REQUIRE(!two_open(&w));
	REQUIRE(w.pools.count == 2);
	CHECK_EQ(w.pools.pool[0].first_id, 1);
	CHECK_EQ(w.pools.pool[1].first_id, MGMT_POOL_ID_SPAN);
	REQUIRE(!cowstore_pool_info(pool_cs(&w, "fast"), &info));
	CHECK_EQ(info.first_id, MGMT_POOL_ID_SPAN);
	/* reopened, the ranges stay */
	mgmt_destroy(w.api.m);
	mgmt_pools_close(&w.pools);
	REQUIRE(!pools_open(&w));
	CHECK_EQ(w.pools.pool[1].first_id, MGMT_POOL_ID_SPAN);
	REQUIRE(!t_mgmt_create_on(&w.api, &w.pools));
	/* a pool made elsewhere (ids from 1) overlaps the primary's range */
	char dir[128];
	struct cowstore_pool_options o = { .capacity_bytes = 64ull << 20 };
	struct cowstore_err err = { "" };
	snprintf(dir, sizeof(dir), "%s/foreign", w.base);
	REQUIRE(!cowstore_pool_create(dir, &o, &err));
	struct mgmt_settings s = w.set;
	REQUIRE(!mgmt_settings_set(&s, "pool.foreign", dir));
	mgmt_destroy(w.api.m);
	mgmt_pools_close(&w.pools);
	CHECK_EQ(mgmt_pools_open(&w.pools, &s, quiet, NULL), -EEXIST);
	CHECK_EQ(w.pools.count, 0);
	REQUIRE(!pools_open(&w));
	REQUIRE(!t_mgmt_create_on(&w.api, &w.pools));
	two_close(&w);
}

static void test_volumes_in_both_pools(void)
{
	struct two w;
	json_t *j;
	int status;
	REQUIRE(!two_open(&w));
	j = t_req(&w.api, "POST", "/api/v1/volumes", &status,
		  "{\"name\":\"quick\",\"size_bytes\":1048576,\"pool\":\"fast\"}");
	CHECK_EQ(status, 201);
	CHECK(!strcmp(t_str(j, "pool"), "fast"));
	CHECK((uint64_t)json_integer_value(json_object_get(j, "id")) >= MGMT_POOL_ID_SPAN);
	json_decref(j);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"plain\",\"size_bytes\":1048576}"), 201);
	/* one name across the pools */
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"quick\",\"size_bytes\":1048576}"), 409);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"x\",\"size_bytes\":1048576,\"pool\":\"nope\"}"), 422);
	j = t_req(&w.api, "GET", "/api/v1/volumes", &status, NULL);
	CHECK_EQ(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);
	j = t_req(&w.api, "GET", "/api/v1/pools", &status, NULL);
	CHECK_EQ(json_array_size(json_object_get(j, "items")), 2);
	json_t *fast = json_array_get(json_object_get(j, "items"), 1);
	CHECK(!strcmp(t_str(fast, "name"), "fast"));
	CHECK(!json_is_true(json_object_get(fast, "primary")));
	CHECK_EQ(json_integer_value(json_object_get(fast, "volumes")), 1);
	json_decref(j);
	CHECK_EQ(t_status(&w.api, "GET", "/api/v1/pools/fast", NULL), 200);
	CHECK_EQ(t_status(&w.api, "GET", "/api/v1/pools/nope", NULL), 404);
	/* snapshots, rollback and clones in the volume's own pool */
	uint64_t id;
	REQUIRE(!cowstore_volume_lookup(pool_cs(&w, "fast"), "quick", &id));
	fill(pool_cs(&w, "fast"), id, 0, 0x11);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/quick/snapshots", "{\"name\":\"s\"}"),
		 201);
	fill(pool_cs(&w, "fast"), id, 0, 0x22);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/quick/snapshots/s/rollback", NULL),
		 200);
	CHECK(holds(pool_cs(&w, "fast"), id, 0, 0, 0x11));
	j = t_req(&w.api, "POST", "/api/v1/volumes/quick/snapshots/s/clone", &status,
		  "{\"name\":\"plain\"}");
	CHECK_EQ(status, 409); /* the name is taken in the other pool */
	json_decref(j);
	j = t_req(&w.api, "POST", "/api/v1/volumes/quick/snapshots/s/clone", &status,
		  "{\"name\":\"kid\"}");
	CHECK_EQ(status, 201);
	CHECK(!strcmp(t_str(j, "pool"), "fast"));
	json_decref(j);
	CHECK_EQ(t_status(&w.api, "DELETE", "/api/v1/volumes/kid", NULL), 204);
	CHECK_EQ(t_status(&w.api, "PATCH", "/api/v1/volumes/quick", "{\"size_bytes\":2097152}"),
		 200);
	/* a VM over both pools: one snapshot, one group per pool */
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms",
			  "{\"name\":\"vm1\",\"volumes\":[\"quick\",\"plain\"]}"), 201);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms/vm1/snapshots", "{\"name\":\"both\"}"),
		 201);
	uint64_t snap;
	CHECK(!cowstore_snapshot_lookup(pool_cs(&w, "fast"), id, "both", &snap));
	REQUIRE(!cowstore_volume_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), "plain", &id));
	CHECK(!cowstore_snapshot_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), id, "both", &snap));
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms/vm1/snapshots/both/rollback", NULL), 200);
	CHECK_EQ(t_status(&w.api, "DELETE", "/api/v1/vms/vm1/snapshots/both", NULL), 204);
	two_close(&w);
}

static void test_move_with_snapshots(void)
{
	struct two w;
	json_t *j;
	int status;
	char result[256];
	REQUIRE(!two_open(&w));
	struct cowstore *main_cs = pool_cs(&w, MGMT_PRIMARY_POOL), *fast_cs = pool_cs(&w, "fast");
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"disk\",\"size_bytes\":4194304}"), 201);
	uint64_t id, new_id, snap;
	REQUIRE(!cowstore_volume_lookup(main_cs, "disk", &id));
	fill(main_cs, id, 0, 0xa1);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms", "{\"name\":\"vm\",\"volumes\":[\"disk\"]}"),
		 201);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms/vm/snapshots", "{\"name\":\"old\"}"), 201);
	fill(main_cs, id, 0, 0xb2);
	fill(main_cs, id, 4096, 0xc3);
	/* refusals */
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/disk/move", "{\"pool\":\"default\"}"),
		 422);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/disk/move", "{\"pool\":\"nope\"}"), 422);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/none/move", "{\"pool\":\"fast\"}"), 404);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes/disk/move", "{}"), 422);
	/* the move */
	j = t_req(&w.api, "POST", "/api/v1/volumes/disk/move", &status, "{\"pool\":\"fast\"}");
	CHECK_EQ(status, 202);
	CHECK(!strcmp(wait_task(&w, j, result, sizeof(result)), "succeeded"));
	json_decref(j);
	CHECK(strstr(result, "moved volume 'disk' from pool default to pool fast") != NULL);
	CHECK_EQ(cowstore_volume_lookup(main_cs, "disk", &new_id), -ENOENT);
	REQUIRE(!cowstore_volume_lookup(fast_cs, "disk", &new_id));
	CHECK(holds(fast_cs, new_id, 0, 0, 0xb2));
	CHECK(holds(fast_cs, new_id, 0, 4096, 0xc3));
	REQUIRE(!cowstore_snapshot_lookup(fast_cs, new_id, "old", &snap));
	CHECK(holds(fast_cs, new_id, snap, 0, 0xa1));
	j = t_req(&w.api, "GET", "/api/v1/volumes/disk", &status, NULL);
	CHECK(!strcmp(t_str(j, "pool"), "fast"));
	json_decref(j);
	/* the VM snapshot follows: rolling the VM back reaches the moved volume */
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms/vm/snapshots/old/rollback", NULL), 200);
	CHECK(holds(fast_cs, new_id, 0, 0, 0xa1));
	CHECK(!holds(fast_cs, new_id, 0, 4096, 0xc3));
	/* and back again; no leftover volumes in either pool */
	j = t_req(&w.api, "POST", "/api/v1/volumes/disk/move", &status, "{\"pool\":\"default\"}");
	CHECK_EQ(status, 202);
	CHECK(!strcmp(wait_task(&w, j, result, sizeof(result)), "succeeded"));
	json_decref(j);
	struct cowstore_pool_info info;
	REQUIRE(!cowstore_pool_info(fast_cs, &info));
	CHECK_EQ(info.nvolumes, 0);
	REQUIRE(!cowstore_pool_info(main_cs, &info));
	CHECK_EQ(info.nvolumes, 1);
	CHECK_EQ(t_status(&w.api, "DELETE", "/api/v1/vms/vm/snapshots/old", NULL), 204);
	two_close(&w);
}

/* A record as api_move.c leaves it, then the pools reopened. */
static void interrupted(struct two *w, const char *state, uint64_t source_id)
{
	char rec[256];
	int n = snprintf(rec, sizeof(rec), "{\"name\":\"disk\",\"from\":\"default\",\"to\":\"fast\","
			 "\"source_id\":%" PRIu64 ",\"state\":\"%s\"}", source_id, state);
	REQUIRE(!cowstore_config_put(w->pools.pool[0].cs, "M/move/disk", rec, (size_t)n));
	mgmt_destroy(w->api.m);
	mgmt_pools_close(&w->pools);
	REQUIRE(!pools_open(w));
	REQUIRE(!t_mgmt_create_on(&w->api, &w->pools));
}

static void test_interrupted_moves_end_at_open(void)
{
	struct two w;
	uint64_t id, tmp_id, got;
	char tmp[64];
	struct cowstore_err err = { "" };
	void *value;
	size_t len;
	REQUIRE(!two_open(&w));
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"disk\",\"size_bytes\":1048576}"), 201);
	REQUIRE(!cowstore_volume_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), "disk", &id));
	snprintf(tmp, sizeof(tmp), ".moving.%" PRIu64, id);
	/* still copying: the partial copy goes, the source stays */
	REQUIRE(!cowstore_volume_create(pool_cs(&w, "fast"), tmp, 1048576, &tmp_id, &err));
	interrupted(&w, "copying", id);
	CHECK_EQ(cowstore_volume_lookup(pool_cs(&w, "fast"), tmp, &got), -ENOENT);
	CHECK(!cowstore_volume_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), "disk", &got));
	CHECK_EQ(cowstore_config_get(w.pools.pool[0].cs, "M/move/disk", &value, &len), -ENOENT);
	/* switched: the copy takes the name, the source goes, and the VM
	 * snapshot record names the copy's snapshot */
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms", "{\"name\":\"vm\",\"volumes\":[\"disk\"]}"),
		 201);
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/vms/vm/snapshots", "{\"name\":\"snap\"}"), 201);
	uint64_t copy_snap;
	REQUIRE(!cowstore_volume_create(pool_cs(&w, "fast"), tmp, 1048576, &tmp_id, &err));
	fill(pool_cs(&w, "fast"), tmp_id, 0, 0x77);
	REQUIRE(!cowstore_snapshot_create(pool_cs(&w, "fast"), tmp_id, "snap", &copy_snap, &err));
	interrupted(&w, "switched", id);
	json_t *rec;
	int status;
	rec = t_req(&w.api, "GET", "/api/v1/vms/vm/snapshots/snap", &status, NULL);
	CHECK_EQ(status, 200);
	json_t *member = json_array_get(json_object_get(rec, "volumes"), 0);
	CHECK_EQ((uint64_t)json_integer_value(json_object_get(member, "snapshot_id")), copy_snap);
	json_decref(rec);
	CHECK_EQ(cowstore_volume_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), "disk", &got), -ENOENT);
	REQUIRE(!cowstore_volume_lookup(pool_cs(&w, "fast"), "disk", &got));
	CHECK_EQ(got, tmp_id);
	CHECK(holds(pool_cs(&w, "fast"), got, 0, 0, 0x77));
	CHECK_EQ(cowstore_config_get(w.pools.pool[0].cs, "M/move/disk", &value, &len), -ENOENT);
	two_close(&w);
}

/* A stop in the middle of a move loses nothing: afterwards the volume is in
 * one pool or the other, whole, and no partial copy or record is left. */
static void test_stop_during_a_move(void)
{
	struct two w;
	json_t *j;
	int status;
	uint64_t id, got;
	char tmp[64];
	void *value;
	size_t len;
	REQUIRE(!two_open(&w));
	CHECK_EQ(t_status(&w.api, "POST", "/api/v1/volumes",
			  "{\"name\":\"disk\",\"size_bytes\":67108864}"), 201);
	REQUIRE(!cowstore_volume_lookup(pool_cs(&w, MGMT_PRIMARY_POOL), "disk", &id));
	for (uint64_t lba = 0; lba < 131072; lba += 2048)
		fill(pool_cs(&w, MGMT_PRIMARY_POOL), id, lba, (unsigned char)(lba >> 11));
	j = t_req(&w.api, "POST", "/api/v1/volumes/disk/move", &status, "{\"pool\":\"fast\"}");
	CHECK_EQ(status, 202);
	json_decref(j);
	mgmt_destroy(w.api.m); /* at once: the move gives up, or has just finished */
	mgmt_pools_close(&w.pools);
	REQUIRE(!pools_open(&w));
	REQUIRE(!t_mgmt_create_on(&w.api, &w.pools));
	struct cowstore *cs = pool_cs(&w, MGMT_PRIMARY_POOL);
	if (cowstore_volume_lookup(cs, "disk", &got))
		cs = pool_cs(&w, "fast");
	REQUIRE(!cowstore_volume_lookup(cs, "disk", &got));
	for (uint64_t lba = 0; lba < 131072; lba += 2048)
		CHECK(holds(cs, got, 0, lba, (unsigned char)(lba >> 11)));
	snprintf(tmp, sizeof(tmp), ".moving.%" PRIu64, id);
	CHECK_EQ(cowstore_volume_lookup(pool_cs(&w, "fast"), tmp, &got), -ENOENT);
	CHECK_EQ(cowstore_config_get(w.pools.pool[0].cs, "M/move/disk", &value, &len), -ENOENT);
	two_close(&w);
}

static const struct harness_test tests[] = {
	{ "settings_name_pools", test_settings_name_pools },
	{ "id_ranges", test_id_ranges },
	{ "volumes_in_both_pools", test_volumes_in_both_pools },
	{ "move_with_snapshots", test_move_with_snapshots },
	{ "interrupted_moves_end_at_open", test_interrupted_moves_end_at_open },
	{ "stop_during_a_move", test_stop_during_a_move },
};
HARNESS_MAIN(tests)
