/*
 * api_pool.c - the pools: capacity, used and free space, what sharing
 * saves (the bytes snapshots and clones show minus the bytes stored), the
 * soft threshold, the load model the QoS loop keeps of each (qos_loop.c);
 * and a scrub of every stored block of a pool, run as a task.  The primary
 * pool is named "default"; the others are named in the settings (mgmt.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"

static int pool_json(struct mgmt *m, const struct mgmt_pool *pool, json_t **out)
{
	struct cowstore_pool_info info;
	int rc = cowstore_pool_info(pool->cs, &info);
	if (rc)
		return rc;
	uint64_t saved = info.logical_bytes > info.allocated_bytes
				 ? info.logical_bytes - info.allocated_bytes : 0;
	*out = json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:i, s:i, s:o}",
			 "name", pool->name, "primary", pool == &m->pools.pool[0], "directory",
			 pool->dir, "capacity_bytes", (json_int_t)info.capacity_bytes,
			 "used_bytes", (json_int_t)info.allocated_bytes, "free_bytes",
			 (json_int_t)info.free_bytes, "logical_bytes", (json_int_t)info.logical_bytes,
			 "saved_bytes", (json_int_t)saved, "metadata_bytes",
			 (json_int_t)info.metadata_bytes, "soft_threshold_pct",
			 (int)info.soft_threshold_pct, "soft_threshold_crossed",
			 info.soft_threshold_crossed, "volumes", (int)info.nvolumes, "snapshots",
			 (int)info.nsnapshots, "load", api_qos_pool_load(m, pool));
	return *out ? 0 : -ENOMEM;
}

static struct mgmt_pool *known_pool(struct api_call *c)
{
	struct mgmt_pool *pool = mgmt_pools_find(&c->m->pools, c->params[0]);
	if (!pool)
		api_problem(c, 404, "not-found", "pool", "no pool '%.64s'", c->params[0]);
	return pool;
}

static void list_pools(struct api_call *c)
{
	json_t *items = json_array(), *pool;
	int rc = 0;
	for (unsigned i = 0; !rc && i < c->m->pools.count; i++)
		if (!(rc = pool_json(c->m, &c->m->pools.pool[i], &pool)))
			json_array_append_new(items, pool);
	if (rc) {
		json_decref(items);
		api_errno(c, rc, NULL, "cannot read the pools' state");
	} else {
		api_list(c, items, "name");
	}
}

static void get_pool(struct api_call *c)
{
	json_t *json;
	struct mgmt_pool *pool = known_pool(c);
	if (!pool)
		return;
	int rc = pool_json(c->m, pool, &json);
	if (rc)
		api_errno(c, rc, NULL, "cannot read the pool's state");
	else
		api_json(c, 200, json);
}

static int scrub_task(struct mgmt *m, void *arg, struct api_task *t, char *result, size_t len)
{
	const struct mgmt_pool *pool = &m->pools.pool[*(const unsigned *)arg];
	struct cowstore_scrub_report report;
	int rc = cowstore_scrub(pool->cs, &report);
	if (rc)
		return rc;
	snprintf(result, len, "%" PRIu64 " blocks checked, %" PRIu64 " bad", report.blocks_checked,
		 report.bad_blocks);
	if (report.bad_blocks)
		mgmt_event(m, "error", "checksum-error", pool->name,
			   "scrub found %" PRIu64 " bad blocks (first: volume %" PRIu64 " sector %"
			   PRIu64 ")", report.bad_blocks, report.first_bad[0].volume_id,
			   report.first_bad[0].lba);
	return 0;
}

/* Answer 202 with the task just started (or the failure to start it). */
void api_accepted_task(struct api_call *c, int rc, uint64_t id)
{
	json_t *task = rc ? NULL : api_task_json(c->m, id);
	if (rc || !task) {
		api_errno(c, rc ? rc : -ENOMEM, NULL, "cannot start the task");
		return;
	}
	snprintf(c->resp->location, sizeof(c->resp->location), "/api/v1/tasks/%" PRIu64, id);
	api_json(c, 202, task);
}

static void scrub_pool(struct api_call *c)
{
	uint64_t id = 0;
	struct mgmt_pool *pool = known_pool(c);
	if (!pool)
		return;
	unsigned *index = malloc(sizeof(*index)); /* the task frees it */
	if (index)
		*index = (unsigned)(pool - c->m->pools.pool);
	int rc = index ? api_task_start(c->m, "scrub", pool->name, scrub_task, index, &id)
		       : -ENOMEM;
	api_accepted_task(c, rc, id);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/pools", 0, ROLE_READ, list_pools },
	{ "GET", "/api/v1/pools/{pool}", 0, ROLE_READ, get_pool },
	{ "POST", "/api/v1/pools/{pool}/scrub", 0, ROLE_ADMIN, scrub_pool },
};
API_ROUTE_TABLE(api_pool_routes, routes);
