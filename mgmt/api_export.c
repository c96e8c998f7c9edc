/*
 * api_export.c - NFS exports and their client rules.  Rules are strings in
 * exports(5) syntax, "CLIENT(opt,...)", as nfs_client_rule_parse() reads
 * them, so what an operator knows from /etc/exports works here.  Every
 * change is saved in the pool, then the running server re-reads the
 * exports (nfs_server_reload_exports): a new export mounts at once, a
 * removed one answers NFS3ERR_STALE to handles already given out.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/api.h"
#include "target/nfs/nfs.h"

static json_t *export_json(const struct nfs_export *e)
{
	json_t *clients = json_array();
	for (uint32_t i = 0; i < e->nrules; i++) {
		char text[160];
		nfs_client_rule_format(&e->rules[i], text, sizeof(text));
		json_array_append_new(clients, json_string(text));
	}
	return json_pack("{s:I, s:s, s:o}", "id", (json_int_t)e->id, "path", e->path, "clients",
			 clients);
}

/* The export whose id is c->params[0] (or, with by_path, whose path is
 * path) into *out; answers 404 when there is none and when not found_ok. */
static int find_export(struct api_call *c, const char *path, struct nfs_export *out)
{
	struct nfs_export *list;
	size_t n;
	int rc = nfs_export_list(c->m->cs, &list, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the exports");
		return rc;
	}
	char *end;
	uint64_t id = path ? 0 : strtoull(c->params[0], &end, 10);
	rc = -ENOENT;
	for (size_t i = 0; i < n && rc; i++)
		if (path ? !strcmp(list[i].path, path) : (!*end && list[i].id == id)) {
			*out = list[i];
			rc = 0;
		}
	free(list);
	if (rc && !path)
		api_problem(c, 404, "not-found", "id", "no export %.32s", c->params[0]);
	return rc;
}

static void list_exports(struct api_call *c)
{
	struct nfs_export *list;
	size_t n;
	int rc = nfs_export_list(c->m->cs, &list, &n);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the exports");
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, export_json(&list[i]));
	free(list);
	api_list(c, items, "id");
}

static void get_export(struct api_call *c)
{
	struct nfs_export e;
	if (!find_export(c, NULL, &e))
		api_json(c, 200, export_json(&e));
}

struct export_req {
	char path[NFS_EXPORT_PATH_MAX + 1];
	char clients[NFS_EXPORT_MAX_CLIENTS][96];
	unsigned nclients;
};
static const struct api_field export_fields[] = {
	API_STRING(struct export_req, path, "path", true, 1),
	API_STRINGS(struct export_req, clients, nclients, "clients", true, NFS_EXPORT_MAX_CLIENTS),
};
const struct api_fields api_export_create_spec = API_SPEC("export", export_fields);
const struct api_fields api_export_update_spec = { "export", export_fields + 1, 1 };

/* Parse the rules, save, reload the server; then answer with the export. */
static void put_export(struct api_call *c, const char *path, const struct export_req *req,
		       bool created)
{
	struct nfs_client_rule rules[NFS_EXPORT_MAX_CLIENTS];
	char err[256] = "", field[32];
	if (req->nclients == 0) {
		api_problem(c, 422, "invalid-value", "/clients", "an export needs at least one "
			    "client rule, e.g. \"192.168.1.0/24(rw)\"");
		return;
	}
	for (unsigned i = 0; i < req->nclients; i++)
		if (nfs_client_rule_parse(req->clients[i], &rules[i], err, sizeof(err))) {
			snprintf(field, sizeof(field), "/clients/%u", i);
			api_problem(c, 422, "invalid-value", field, "%s", err);
			return;
		}
	int rc = nfs_export_put(c->m->cs, path, rules, req->nclients, err, sizeof(err));
	if (rc) {
		api_errno(c, rc, "/path", err);
		return;
	}
	if (c->m->nfs && (rc = nfs_server_reload_exports(c->m->nfs, err, sizeof(err)))) {
		api_errno(c, rc, NULL, err);
		return;
	}
	struct nfs_export e;
	if (find_export(c, path, &e))
		api_problem(c, 500, "internal", NULL, "the export of %s was saved but is not listed",
			    path);
	else if (created)
		api_created(c, export_json(&e), "/api/v1/exports/%" PRIu32, e.id);
	else
		api_json(c, 200, export_json(&e));
}

static void create_export(struct api_call *c)
{
	struct export_req req;
	struct nfs_export e;
	if (api_decode_body(c, &api_export_create_spec, &req, NULL))
		return;
	if (req.path[0] != '/' || strstr(req.path, "//") || strstr(req.path, "/../") ||
	    strstr(req.path, "/./")) {
		api_problem(c, 422, "invalid-value", "/path", "an export path is absolute, like "
			    "/vms or /vms/prod, without . or .. or //");
		return;
	}
	pthread_mutex_lock(&c->m->lock);
	if (!find_export(c, req.path, &e))
		api_problem(c, 409, "already-exists", "/path", "%s is exported already (id %" PRIu32
			    "); change its clients with PUT /api/v1/exports/%" PRIu32, req.path, e.id,
			    e.id);
	else
		put_export(c, req.path, &req, true);
	pthread_mutex_unlock(&c->m->lock);
}

static void update_export(struct api_call *c)
{
	struct export_req req;
	struct nfs_export e;
	if (api_decode_body(c, &api_export_update_spec, &req, NULL))
		return;
	pthread_mutex_lock(&c->m->lock);
	if (!find_export(c, NULL, &e))
		put_export(c, e.path, &req, false);
	pthread_mutex_unlock(&c->m->lock);
}

static void delete_export(struct api_call *c)
{
	struct nfs_export e;
	char err[256] = "";
	pthread_mutex_lock(&c->m->lock);
	int rc = find_export(c, NULL, &e);
	if (!rc && (rc = nfs_export_remove(c->m->cs, e.path)))
		api_errno(c, rc, NULL, "cannot remove the export");
	else if (!rc && c->m->nfs && (rc = nfs_server_reload_exports(c->m->nfs, err, sizeof(err))))
		api_errno(c, rc, NULL, err);
	else if (!rc)
		api_no_content(c);
	pthread_mutex_unlock(&c->m->lock);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/exports", 0, ROLE_READ, list_exports },
	{ "POST", "/api/v1/exports", API_BODY | API_CREATES, ROLE_ADMIN, create_export },
	{ "GET", "/api/v1/exports/{id}", 0, ROLE_READ, get_export },
	{ "PUT", "/api/v1/exports/{id}", API_BODY, ROLE_ADMIN, update_export },
	{ "DELETE", "/api/v1/exports/{id}", 0, ROLE_ADMIN, delete_export },
};
API_ROUTE_TABLE(api_export_routes, routes);
