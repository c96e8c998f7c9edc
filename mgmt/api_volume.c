/*
 * api_volume.c - volumes: create, list with space (used: bytes that read
 * data; unique: bytes only this volume's head holds), resize, delete, and
 * a full copy as a task (the copy shares blocks with its source, copy on
 * write, but depends on no snapshot: a way to detach a clone).
 *
 * A volume that an iSCSI LUN or a VM uses cannot be deleted (409 naming
 * the user); neither can one that clones depend on (cowstore says which).
 *
 * Pools (mgmt.h): a volume is made in the pool its request names (the
 * primary by default) and found by name in whichever pool holds it; names
 * are unique across the pools (checked under the context's lock, which
 * every creation of a volume takes).  A copy is made in its source's pool:
 * it shares blocks with it.  Moving a volume to another pool: api_move.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "target/iscsi/iscsi.h"

#define MAX_VOLUME_BYTES (UINT64_C(1) << 50) /* 1 PiB */
#define COPY_CHUNK_SECTORS (COWSTORE_MAX_IO_BYTES / COWSTORE_SECTOR_SIZE)

json_t *api_volume_json(const struct cowstore_volume_info *v, const char *pool)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:I, s:i, s:i, s:I, s:I}", "name", v->name,
			 "pool", pool, "id", (json_int_t)v->id, "size_bytes",
			 (json_int_t)v->size_bytes, "created_at", api_time(v->created_unix_ns),
			 "parent_snapshot_id", (json_int_t)v->parent_snapshot_id, "snapshots",
			 (int)v->nsnapshots, "clones", (int)v->nclones, "used_bytes",
			 (json_int_t)v->mapped_bytes, "unique_bytes", (json_int_t)v->unique_bytes);
}

int api_volume_find(struct api_call *c, struct cowstore **cs, uint64_t *id)
{
	int rc = mgmt_pools_find_volume(&c->m->pools, c->params[0], cs, id);
	if (rc)
		api_errno(c, rc, "name", rc == -ENOENT ? "no such volume" : NULL);
	return rc;
}

struct cowstore *api_pool_of(struct mgmt *m, uint64_t id)
{
	return mgmt_pools_of_id(&m->pools, id)->cs;
}

static void reply_volume(struct api_call *c, struct cowstore *cs, uint64_t id, bool created)
{
	struct cowstore_volume_info info;
	int rc = cowstore_volume_info(cs, id, 1, &info);
	json_t *json = rc ? NULL : api_volume_json(&info, mgmt_pools_of_id(&c->m->pools, id)->name);
	if (rc)
		api_errno(c, rc, NULL, "cannot read the volume");
	else if (created)
		api_created(c, json, "/api/v1/volumes/%s", info.name);
	else
		api_json(c, 200, json);
}

/* The volumes of one pool (not the data of NFS files) onto items. */
static int list_pool(const struct mgmt_pool *pool, json_t *items)
{
	struct cowstore_volume_info *list;
	size_t n;
	int rc = cowstore_volume_list(pool->cs, 1, &list, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (strncmp(list[i].name, "file.", 5) && list[i].name[0] != '.') /* see /files */
			json_array_append_new(items, api_volume_json(&list[i], pool->name));
	if (!rc)
		free(list);
	return rc;
}

static void list_volumes(struct api_call *c)
{
	json_t *items = json_array();
	int rc = 0;
	for (unsigned i = 0; !rc && i < c->m->pools.count; i++)
		rc = list_pool(&c->m->pools.pool[i], items);
	if (rc) {
		json_decref(items);
		api_errno(c, rc, NULL, "cannot list the volumes");
		return;
	}
	api_list(c, items, "name");
}

static void get_volume(struct api_call *c)
{
	struct cowstore *cs;
	uint64_t id;
	if (!api_volume_find(c, &cs, &id))
		reply_volume(c, cs, id, false);
}

struct volume_req {
	char name[COWSTORE_NAME_MAX + 1];
	uint64_t size_bytes;
	char pool[MGMT_POOL_NAME_MAX + 1];
};
static const struct api_field volume_fields[] = {
	API_STRING(struct volume_req, name, "name", true, 1),
	API_U64(struct volume_req, size_bytes, "size_bytes", true, COWSTORE_BLOCK_SIZE,
		MAX_VOLUME_BYTES),
	API_STRING(struct volume_req, pool, "pool", false, 1),
};
const struct api_fields api_volume_create_spec = API_SPEC("volume", volume_fields);
const struct api_fields api_volume_resize_spec = { "volume", volume_fields + 1, 1 };
const struct api_fields api_volume_copy_spec = { "copy", volume_fields, 1 };

static bool size_ok(struct api_call *c, uint64_t size)
{
	if (size % COWSTORE_BLOCK_SIZE == 0)
		return true;
	api_problem(c, 422, "invalid-value", "/size_bytes",
		    "size_bytes must be a multiple of %u", COWSTORE_BLOCK_SIZE);
	return false;
}

bool api_new_name_ok(struct api_call *c, const char *name, const char *field)
{
	if (api_name_valid(name) && strncmp(name, "file.", 5))
		return true;
	api_problem(c, 422, "invalid-value", field, "a name is 1 to 63 letters, digits and "
		    ". _ : @ - (not starting with '.' or 'file.')");
	return false;
}

int api_volume_id(struct mgmt *m, const char *name, uint64_t *id)
{
	struct cowstore *cs;
	return mgmt_pools_find_volume(&m->pools, name, &cs, id);
}

int api_volume_name_free(struct mgmt *m, const char *name, struct cowstore_err *err)
{
	struct cowstore *holder;
	uint64_t other;
	if (mgmt_pools_find_volume(&m->pools, name, &holder, &other))
		return 0;
	snprintf(err->msg, sizeof(err->msg), "volume '%s' exists in pool %s", name,
		 mgmt_pools_of_id(&m->pools, other)->name);
	return -EEXIST;
}

int api_volume_create(struct mgmt *m, struct cowstore *cs, const char *name,
		      uint64_t size_bytes, uint64_t *id, struct cowstore_err *err)
{
	pthread_mutex_lock(&m->lock);
	int rc = api_volume_name_free(m, name, err) ?: cowstore_volume_create(cs, name, size_bytes, id, err);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int api_clone_create(struct mgmt *m, struct cowstore *cs, uint64_t snap_id, const char *name,
		     uint64_t *id, struct cowstore_err *err)
{
	pthread_mutex_lock(&m->lock);
	int rc = api_volume_name_free(m, name, err) ?: cowstore_clone_create(cs, snap_id, name, id, err);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static void create_volume(struct api_call *c)
{
	struct volume_req req = { .name = "" }; /* an absent pool stays "" */
	struct cowstore_err err = { "" };
	uint64_t id;
	if (api_decode_body(c, &api_volume_create_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || !size_ok(c, req.size_bytes))
		return;
	struct mgmt_pool *pool = mgmt_pools_find(&c->m->pools, req.pool[0] ? req.pool : MGMT_PRIMARY_POOL);
	if (!pool) {
		api_problem(c, 422, "invalid-value", "/pool", "no pool '%s'", req.pool);
		return;
	}
	int rc = api_volume_create(c->m, pool->cs, req.name, req.size_bytes, &id, &err);
	if (rc)
		api_errno(c, rc, "/name", err.msg);
	else
		reply_volume(c, pool->cs, id, true);
}

static void resize_volume(struct api_call *c)
{
	struct volume_req req;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id;
	if (api_decode_body(c, &api_volume_resize_spec, &req, NULL) ||
	    !size_ok(c, req.size_bytes) || api_volume_find(c, &cs, &id))
		return;
	int rc = cowstore_volume_resize(cs, id, req.size_bytes, &err);
	if (rc)
		api_errno(c, rc, "/size_bytes", err.msg);
	else
		reply_volume(c, cs, id, false);
}

/* Who uses the volume: a sentence in why, or "" when nobody. */
static int volume_users(struct mgmt *m, const char *name, char *why, size_t len)
{
	struct iscsi_config *cfg = calloc(1, sizeof(*cfg));
	char cfg_why[256];
	json_t *vms = NULL;
	why[0] = '\0';
	int rc = cfg ? iscsi_config_load(m->cs, cfg, cfg_why, sizeof(cfg_why)) : -ENOMEM;
	for (unsigned t = 0; !rc && t < cfg->ntargets && !why[0]; t++)
		for (unsigned l = 0; l < cfg->targets[t].nluns; l++)
			if (!strcmp(cfg->targets[t].luns[l].volume, name))
				snprintf(why, len, "volume '%s' is LUN %" PRIu64 " of target %s; "
					 "unmap it first", name, cfg->targets[t].luns[l].lun,
					 cfg->targets[t].iqn);
	free(cfg);
	if (!rc && !why[0])
		rc = api_obj_list(m, "vm", &vms);
	for (size_t i = 0; !rc && i < json_array_size(vms) && !why[0]; i++) {
		json_t *vm = json_array_get(vms, i), *vol;
		size_t k;
		json_array_foreach(json_object_get(vm, "volumes"), k, vol)
			if (!strcmp(json_string_value(vol) ?: "", name))
				snprintf(why, len, "volume '%s' belongs to VM '%s'; remove it there "
					 "first", name, json_string_value(json_object_get(vm, "name")));
	}
	json_decref(vms);
	return rc;
}

static void delete_volume(struct api_call *c)
{
	struct cowstore_err err = { "" };
	char why[512];
	struct cowstore *cs;
	uint64_t id;
	if (api_volume_find(c, &cs, &id))
		return;
	int rc = volume_users(c->m, c->params[0], why, sizeof(why));
	if (!rc && why[0]) {
		api_problem(c, 409, "in-use", "name", "%s", why);
		return;
	}
	if (!rc)
		rc = cowstore_volume_delete(cs, id, &err);
	if (rc)
		api_errno(c, rc, "name", err.msg);
	else
		api_no_content(c);
}

/* ---- full copy (a task) ------------------------------------------------------ */

struct copy_job {
	struct cowstore *cs;          /* the source's pool, and the copy's */
	uint64_t src, dst;
	uint64_t sectors;
};

static int copy_task(struct mgmt *m, void *arg, struct api_task *t, char *result, size_t len)
{
	struct copy_job *job = arg;
	for (uint64_t lba = 0; lba < job->sectors; lba += COPY_CHUNK_SECTORS) {
		uint64_t n = job->sectors - lba < COPY_CHUNK_SECTORS ? job->sectors - lba
								      : COPY_CHUNK_SECTORS;
		int rc = cowstore_copy(job->cs, job->dst, lba, job->src, lba, (uint32_t)n);
		if (rc) {
			snprintf(result, len, "copy failed at sector %" PRIu64 ": %s", lba,
				 strerror(-rc));
			return rc;
		}
		api_task_progress(t, (int)((lba + n) * 100 / job->sectors));
	}
	int rc = cowstore_flush(job->cs);
	snprintf(result, len, rc ? "could not make the copy durable" : "copied %" PRIu64 " bytes",
		 job->sectors * COWSTORE_SECTOR_SIZE);
	return rc;
}

static void copy_volume(struct api_call *c)
{
	struct volume_req req;
	struct cowstore_volume_info src;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id, dst, task_id = 0;
	if (api_decode_body(c, &api_volume_copy_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || api_volume_find(c, &cs, &id))
		return;
	int rc = cowstore_volume_info(cs, id, 0, &src);
	if (!rc)
		rc = api_volume_create(c->m, cs, req.name, src.size_bytes, &dst, &err);
	if (rc) {
		api_errno(c, rc, "/name", err.msg);
		return;
	}
	struct copy_job *job = malloc(sizeof(*job));
	if (job)
		*job = (struct copy_job){ cs, id, dst, src.size_bytes / COWSTORE_SECTOR_SIZE };
	rc = job ? api_task_start(c->m, "copy", req.name, copy_task, job, &task_id) : -ENOMEM;
	api_accepted_task(c, rc, task_id);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/volumes", 0, ROLE_READ, list_volumes },
	{ "POST", "/api/v1/volumes", API_BODY | API_CREATES, ROLE_ADMIN, create_volume },
	{ "GET", "/api/v1/volumes/{name}", 0, ROLE_READ, get_volume },
	{ "PATCH", "/api/v1/volumes/{name}", API_BODY, ROLE_ADMIN, resize_volume },
	{ "DELETE", "/api/v1/volumes/{name}", 0, ROLE_ADMIN, delete_volume },
	{ "POST", "/api/v1/volumes/{name}/copy", API_BODY | API_CREATES, ROLE_ADMIN, copy_volume },
};
API_ROUTE_TABLE(api_volume_routes, routes);
