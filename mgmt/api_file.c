/*
 * api_file.c - the NFS namespace's files as the API sees them: list a
 * directory by path, show a file by id (its inode number), and per-file
 * snapshots (take, list, delete, roll back) and clones (a new file that
 * shares the source's blocks and depends on nothing).  This is how a VM
 * disk kept on NFS (a .raw or .qcow2 file) gets the snapshots a LUN gets.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "target/nfs/nfs.h"

static const char *type_name(uint32_t type)
{
	switch (type) {
	case COWSTORE_NS_REG: return "file";
	case COWSTORE_NS_DIR: return "directory";
	case COWSTORE_NS_LNK: return "symlink";
	case COWSTORE_NS_SOCK: return "socket";
	case COWSTORE_NS_FIFO: return "fifo";
	}
	return "other";
}

static json_t *file_json(const struct cowstore_ns_attr *a, const char *name)
{
	json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:i, s:i, s:i, s:o, s:o}", "id",
			      (json_int_t)a->ino, "type", type_name(a->type), "size_bytes",
			      (json_int_t)a->size_bytes, "used_bytes", (json_int_t)a->used_bytes,
			      "mode", (int)a->mode, "uid", (int)a->uid, "gid", (int)a->gid,
			      "mtime", api_time(a->mtime_ns), "ctime", api_time(a->ctime_ns));
	if (j && name)
		json_object_set_new(j, "name", json_string(name));
	return j;
}

/* ---- listing ------------------------------------------------------------------ */

struct dir_walk {
	struct cowstore *cs;
	json_t *items;
};

static int add_entry(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct dir_walk *w = arg;
	struct cowstore_ns_attr a;
	if (cowstore_ns_getattr(w->cs, ino, 0, &a))
		return 0; /* removed while listing */
	return json_array_append_new(w->items, file_json(&a, name)) ? -ENOMEM : 0;
}

/* GET /files?path=DIR: the directory's entries in its stable readdir order. */
static void list_files(struct api_call *c)
{
	const char *path = api_query(c, "path");
	struct cowstore_ns_attr dir;
	if (!path || path[0] != '/') {
		api_problem(c, 400, "invalid-parameter", "path",
			    "give the directory as ?path=/absolute/path");
		return;
	}
	int rc = nfs_path_lookup(c->m->cs, path, &dir);
	if (!rc && dir.type != COWSTORE_NS_DIR)
		rc = -ENOTDIR;
	if (rc) {
		api_errno(c, rc == -ENOTDIR ? -EINVAL : rc, "path",
			  rc == -ENOENT ? "no such directory" : rc == -ENOTDIR ? "not a directory" : NULL);
		return;
	}
	struct dir_walk w = { c->m->cs, json_array() };
	rc = w.items ? cowstore_ns_readdir(c->m->cs, dir.ino, 0, add_entry, &w) : -ENOMEM;
	if (rc) {
		json_decref(w.items);
		api_errno(c, rc, "path", "cannot read the directory");
		return;
	}
	api_list(c, w.items, "name");
}

/* ---- one file ------------------------------------------------------------------- */

/* The regular file whose id is c->params[0]; answers 404/422 otherwise. */
static int find_file(struct api_call *c, struct cowstore_ns_attr *a)
{
	char *end;
	uint64_t ino = strtoull(c->params[0], &end, 10);
	int rc = *end || c->params[0][0] == '-' ? -ENOENT : cowstore_ns_getattr(c->m->cs, ino, 0, a);
	if (rc == -ESTALE || rc == -ENOENT) {
		api_problem(c, 404, "not-found", "id", "no file %.32s", c->params[0]);
		return -ENOENT;
	}
	if (!rc && a->type != COWSTORE_NS_REG) {
		api_problem(c, 422, "invalid-value", "id", "%.32s is a %s; snapshots and clones are "
			    "of regular files", c->params[0], type_name(a->type));
		return -EINVAL;
	}
	if (rc)
		api_errno(c, rc, "id", NULL);
	return rc;
}

static void get_file(struct api_call *c)
{
	struct cowstore_ns_attr a;
	if (!find_file(c, &a))
		api_json(c, 200, file_json(&a, NULL));
}

static json_t *file_snapshot_json(const struct cowstore_ns_snapshot *s)
{
	return json_pack("{s:s, s:I, s:o, s:I, s:I}", "name", s->name, "id", (json_int_t)s->snap_id,
			 "created_at", api_time(s->created_unix_ns), "size_bytes",
			 (json_int_t)s->size_bytes, "unique_bytes", (json_int_t)s->unique_bytes);
}

static void list_file_snapshots(struct api_call *c)
{
	struct cowstore_ns_attr a;
	struct cowstore_ns_snapshot *list;
	size_t n;
	if (find_file(c, &a))
		return;
	int rc = cowstore_ns_snapshot_list(c->m->cs, a.ino, &list, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the snapshots");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, file_snapshot_json(&list[i]));
	free(list);
	api_list(c, items, "name");
}

static void create_file_snapshot(struct api_call *c)
{
	struct api_name_req req;
	struct cowstore_ns_attr a;
	struct cowstore_ns_snapshot snap;
	struct cowstore_err err = { "" };
	if (api_decode_body(c, &api_name_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || find_file(c, &a))
		return;
	int rc = cowstore_ns_snapshot_create(c->m->cs, a.ino, req.name, &snap, &err);
	if (rc)
		api_errno(c, rc, "/name", err.msg);
	else
		api_created(c, file_snapshot_json(&snap), "/api/v1/files/%" PRIu64 "/snapshots/%s",
			    a.ino, req.name);
}

static void delete_file_snapshot(struct api_call *c)
{
	struct cowstore_ns_attr a;
	struct cowstore_err err = { "" };
	if (find_file(c, &a))
		return;
	int rc = cowstore_ns_snapshot_delete(c->m->cs, a.ino, c->params[1], &err);
	if (rc)
		api_errno(c, rc, "snapshot", err.msg);
	else
		api_no_content(c);
}

static void rollback_file(struct api_call *c)
{
	struct cowstore_ns_attr a;
	struct cowstore_err err = { "" };
	if (find_file(c, &a))
		return;
	int rc = cowstore_ns_snapshot_rollback(c->m->cs, a.ino, c->params[1], &err);
	if (!rc)
		rc = cowstore_ns_getattr(c->m->cs, a.ino, 0, &a);
	if (rc) {
		api_errno(c, rc, "snapshot", err.msg);
		return;
	}
	mgmt_event(c->m, "info", "rollback", c->params[0], "file %s rolled back to snapshot '%s' "
		   "by %s", c->params[0], c->params[1], c->who.user);
	api_json(c, 200, file_json(&a, NULL));
}

struct file_clone_req {
	char path[NFS_EXPORT_PATH_MAX + 1];
};
static const struct api_field file_clone_fields[] = {
	API_STRING(struct file_clone_req, path, "path", true, 2),
};
const struct api_fields api_file_clone_spec = API_SPEC("clone", file_clone_fields);

/* POST /files/{id}/clone {"path": "/dir/new-name"} */
static void clone_file(struct api_call *c)
{
	struct file_clone_req req;
	struct cowstore_ns_attr a, dir, clone;
	struct cowstore_err err = { "" };
	if (api_decode_body(c, &api_file_clone_spec, &req, NULL) || find_file(c, &a))
		return;
	char *slash = strrchr(req.path, '/');
	if (req.path[0] != '/' || !slash[1]) {
		api_problem(c, 422, "invalid-value", "/path", "path is the clone's absolute path, "
			    "such as /demo/vm2.raw");
		return;
	}
	*slash = '\0';
	int rc = nfs_path_lookup(c->m->cs, slash == req.path ? "/" : req.path, &dir);
	*slash = '/';
	if (rc) {
		api_errno(c, rc == -ENOENT ? -EINVAL : rc, "/path",
			  rc == -ENOENT ? "the clone's directory does not exist" : NULL);
		return;
	}
	rc = cowstore_ns_clone(c->m->cs, a.ino, dir.ino, slash + 1, &clone, &err);
	if (rc)
		api_errno(c, rc, "/path", err.msg);
	else
		api_created(c, file_json(&clone, slash + 1), "/api/v1/files/%" PRIu64, clone.ino);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/files", 0, ROLE_READ, list_files },
	{ "GET", "/api/v1/files/{id}", 0, ROLE_READ, get_file },
	{ "GET", "/api/v1/files/{id}/snapshots", 0, ROLE_READ, list_file_snapshots },
	{ "POST", "/api/v1/files/{id}/snapshots", API_BODY | API_CREATES, ROLE_ADMIN,
	  create_file_snapshot },
	{ "DELETE", "/api/v1/files/{id}/snapshots/{snapshot}", 0, ROLE_ADMIN, delete_file_snapshot },
	{ "POST", "/api/v1/files/{id}/snapshots/{snapshot}/rollback", 0, ROLE_ADMIN, rollback_file },
	{ "POST", "/api/v1/files/{id}/clone", API_BODY | API_CREATES, ROLE_ADMIN, clone_file },
};
API_ROUTE_TABLE(api_file_routes, routes);
