/*
 * api_snapshot.c - snapshots of one volume: take (instant), list with
 * space (unique: freed by deleting it; shared: also held elsewhere),
 * delete, roll back, clone into a new volume.
 *
 * Rolling back to an older snapshot while newer ones exist is refused
 * (409 naming them) unless the body says {"delete_newer": true}: the
 * newer snapshots are what a rollback would lose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"

static json_t *snapshot_json(const struct cowstore_snapshot_info *s, const char *volume)
{
	return json_pack("{s:s, s:I, s:s, s:o, s:I, s:I, s:i, s:I, s:I}", "name", s->name, "id",
			 (json_int_t)s->id, "volume", volume, "created_at",
			 api_time(s->created_unix_ns), "size_bytes", (json_int_t)s->size_bytes,
			 "group_id", (json_int_t)s->group_id, "clones", (int)s->nclones,
			 "unique_bytes", (json_int_t)s->unique_bytes, "shared_bytes",
			 (json_int_t)s->shared_bytes);
}

/* The snapshot named by the path's second parameter, of the volume named by
 * the first; answers 404 when either is missing. */
static int find_snapshot(struct api_call *c, struct cowstore **cs, uint64_t *volume_id,
			 struct cowstore_snapshot_info *out)
{
	struct cowstore_snapshot_info *list;
	size_t n;
	int rc = api_volume_find(c, cs, volume_id);
	if (rc)
		return rc;
	rc = cowstore_snapshot_list(*cs, *volume_id, &list, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the snapshots");
		return rc;
	}
	rc = -ENOENT;
	for (size_t i = 0; i < n && rc; i++)
		if (!strcmp(list[i].name, c->params[1])) {
			*out = list[i];
			rc = 0;
		}
	free(list);
	if (rc)
		api_problem(c, 404, "not-found", "snapshot", "volume '%s' has no snapshot '%.64s'",
			    c->params[0], c->params[1]);
	return rc;
}

static void list_snapshots(struct api_call *c)
{
	struct cowstore_snapshot_info *list;
	size_t n;
	struct cowstore *cs;
	uint64_t id;
	if (api_volume_find(c, &cs, &id))
		return;
	int rc = cowstore_snapshot_list(cs, id, &list, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the snapshots");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, snapshot_json(&list[i], c->params[0]));
	free(list);
	api_list(c, items, "name");
}

static void create_snapshot(struct api_call *c)
{
	struct api_name_req req;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id, snap_id;
	if (api_decode_body(c, &api_name_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || api_volume_find(c, &cs, &id))
		return;
	int rc = cowstore_snapshot_create(cs, id, req.name, &snap_id, &err);
	if (rc) {
		api_errno(c, rc, "/name", err.msg);
		return;
	}
	snprintf(c->params[1], sizeof(c->params[1]), "%s", req.name);
	struct cowstore_snapshot_info info;
	if (!find_snapshot(c, &cs, &id, &info))
		api_created(c, snapshot_json(&info, c->params[0]), "/api/v1/volumes/%s/snapshots/%s",
			    c->params[0], req.name);
}

static void get_snapshot(struct api_call *c)
{
	struct cowstore_snapshot_info info;
	struct cowstore *cs;
	uint64_t id;
	if (!find_snapshot(c, &cs, &id, &info))
		api_json(c, 200, snapshot_json(&info, c->params[0]));
}

static void delete_snapshot(struct api_call *c)
{
	struct cowstore_snapshot_info info;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id;
	if (find_snapshot(c, &cs, &id, &info))
		return;
	int rc = cowstore_snapshot_delete(cs, info.id, &err);
	if (rc)
		api_errno(c, rc, "snapshot", err.msg);
	else
		api_no_content(c);
}

static void rollback_snapshot(struct api_call *c)
{
	struct api_rollback_req req = { false };
	struct cowstore_snapshot_info info;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id;
	if ((c->body && api_decode_body(c, &api_rollback_spec, &req, NULL)) ||
	    find_snapshot(c, &cs, &id, &info))
		return;
	int rc = cowstore_snapshot_rollback(cs, info.id,
					    req.delete_newer ? COWSTORE_ROLLBACK_DELETE_NEWER : 0, &err);
	if (rc) {
		api_errno(c, rc, "snapshot", err.msg);
		return;
	}
	mgmt_event(c->m, "info", "rollback", c->params[0], "volume '%s' rolled back to snapshot "
		   "'%s' by %s", c->params[0], info.name, c->who.user);
	struct cowstore_volume_info vol;
	rc = cowstore_volume_info(cs, id, 1, &vol);
	if (rc)
		api_errno(c, rc, NULL, "cannot read the volume");
	else
		api_json(c, 200, api_volume_json(&vol, mgmt_pools_of_id(&c->m->pools, id)->name));
}

static void clone_snapshot(struct api_call *c)
{
	struct api_name_req req;
	struct cowstore_snapshot_info info;
	struct cowstore_volume_info vol;
	struct cowstore_err err = { "" };
	struct cowstore *cs;
	uint64_t id, clone_id;
	if (api_decode_body(c, &api_name_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || find_snapshot(c, &cs, &id, &info))
		return;
	int rc = api_clone_create(c->m, cs, info.id, req.name, &clone_id, &err);
	if (!rc)
		rc = cowstore_volume_info(cs, clone_id, 1, &vol);
	if (rc)
		api_errno(c, rc, "/name", err.msg);
	else
		api_created(c, api_volume_json(&vol, mgmt_pools_of_id(&c->m->pools, id)->name),
			    "/api/v1/volumes/%s", vol.name);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/volumes/{name}/snapshots", 0, ROLE_READ, list_snapshots },
	{ "POST", "/api/v1/volumes/{name}/snapshots", API_BODY | API_CREATES, ROLE_ADMIN,
	  create_snapshot },
	{ "GET", "/api/v1/volumes/{name}/snapshots/{snapshot}", 0, ROLE_READ, get_snapshot },
	{ "DELETE", "/api/v1/volumes/{name}/snapshots/{snapshot}", 0, ROLE_ADMIN, delete_snapshot },
	{ "POST", "/api/v1/volumes/{name}/snapshots/{snapshot}/rollback", API_BODY_OPTIONAL,
	  ROLE_ADMIN, rollback_snapshot },
	{ "POST", "/api/v1/volumes/{name}/snapshots/{snapshot}/clone", API_BODY | API_CREATES,
	  ROLE_ADMIN, clone_snapshot },
};
API_ROUTE_TABLE(api_snapshot_routes, routes);
