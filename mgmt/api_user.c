/*
 * api_user.c - users (name, role, password) and API tokens.  Only admins
 * manage them; a token's secret is shown once, when it is made.  User
 * "admin" cannot be deleted or lose the admin role, so the appliance never
 * locks its operators out.
 */
#include <errno.h>
#include <string.h>

#include "mgmt/api.h"

/* A user or token as shown: without salt and hashes. */
static json_t *shown(json_t *record)
{
	json_object_del(record, "salt");
	json_object_del(record, "password_hash");
	json_object_del(record, "hash");
	return record;
}

static void list_users(struct api_call *c)
{
	json_t *list;
	int rc = api_obj_list(c->m, "user", &list);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the users");
		return;
	}
	for (size_t i = 0; i < json_array_size(list); i++)
		shown(json_array_get(list, i));
	api_list(c, list, "name");
}

static void get_user(struct api_call *c)
{
	json_t *u;
	int rc = api_obj_get(c->m, "user", c->params[0], &u);
	if (rc)
		api_errno(c, rc, "name", rc == -ENOENT ? "no such user" : NULL);
	else
		api_json(c, 200, shown(u));
}

struct user_req {
	char name[64];
	char password[256];
	char role[16];
};
static const struct api_field user_fields[] = {
	API_STRING(struct user_req, name, "name", true, 1),
	API_STRING(struct user_req, password, "password", true, 8),
	API_STRING(struct user_req, role, "role", true, 1),
};
const struct api_fields api_user_create_spec = API_SPEC("user", user_fields);
/* PATCH: password and role, both optional (the name is the path's). */
static const struct api_field user_update_fields[] = {
	API_STRING(struct user_req, password, "password", false, 8),
	API_STRING(struct user_req, role, "role", false, 1),
};
const struct api_fields api_user_update_spec = API_SPEC("user", user_update_fields);

static void create_user(struct api_call *c)
{
	struct user_req req;
	enum api_role role;
	json_t *old;
	if (api_decode_body(c, &api_user_create_spec, &req, NULL))
		return;
	if (!api_name_valid(req.name)) {
		api_problem(c, 422, "invalid-value", "/name", "a user name is 1 to 63 letters, "
			    "digits and . _ : @ -");
		return;
	}
	if (api_role_parse(req.role, &role)) {
		api_problem(c, 422, "invalid-value", "/role", "role is admin or read-only");
		return;
	}
	if (!api_obj_get(c->m, "user", req.name, &old)) {
		json_decref(old);
		api_problem(c, 409, "already-exists", "/name", "user '%s' exists", req.name);
		return;
	}
	json_t *u = json_pack("{s:s, s:s, s:o}", "name", req.name, "role", api_role_name(role),
			      "created_at", api_time(api_now_ns(c->m)));
	int rc = u ? api_password_set(u, req.password) : -ENOMEM;
	if (!rc)
		rc = api_obj_put(c->m, "user", req.name, u);
	if (rc) {
		json_decref(u);
		api_errno(c, rc, NULL, "cannot save the user");
		return;
	}
	api_created(c, shown(u), "/api/v1/users/%s", req.name);
}

static void update_user(struct api_call *c)
{
	struct user_req req;
	uint32_t present;
	enum api_role role;
	json_t *u;
	if (api_decode_body(c, &api_user_update_spec, &req, &present))
		return;
	if ((present & 2) && api_role_parse(req.role, &role)) {
		api_problem(c, 422, "invalid-value", "/role", "role is admin or read-only");
		return;
	}
	if ((present & 2) && role != ROLE_ADMIN && !strcmp(c->params[0], "admin")) {
		api_problem(c, 409, "in-use", "/role", "user 'admin' keeps the admin role");
		return;
	}
	int rc = api_obj_get(c->m, "user", c->params[0], &u);
	if (rc) {
		api_errno(c, rc, "name", rc == -ENOENT ? "no such user" : NULL);
		return;
	}
	if (present & 2)
		json_object_set_new(u, "role", json_string(api_role_name(role)));
	if (present & 1)
		rc = api_password_set(u, req.password);
	if (!rc)
		rc = api_obj_put(c->m, "user", c->params[0], u);
	if (rc) {
		json_decref(u);
		api_errno(c, rc, NULL, "cannot save the user");
		return;
	}
	api_json(c, 200, shown(u));
}

static void delete_user(struct api_call *c)
{
	json_t *u;
	if (!strcmp(c->params[0], "admin")) {
		api_problem(c, 409, "in-use", "name", "user 'admin' cannot be deleted");
		return;
	}
	int rc = api_obj_get(c->m, "user", c->params[0], &u);
	json_decref(rc ? NULL : u);
	if (!rc)
		rc = api_obj_delete(c->m, "user", c->params[0]);
	if (rc)
		api_errno(c, rc, "name", rc == -ENOENT ? "no such user" : NULL);
	else
		api_no_content(c);
}

/* ---- tokens ---------------------------------------------------------------- */

static void list_tokens(struct api_call *c)
{
	json_t *list;
	int rc = api_obj_list(c->m, "token", &list);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the tokens");
		return;
	}
	for (size_t i = 0; i < json_array_size(list); i++)
		shown(json_array_get(list, i));
	api_list(c, list, "id");
}

struct token_req {
	char name[64];
	char role[16];
	int64_t expires_in_s;
};
static const struct api_field token_fields[] = {
	API_STRING(struct token_req, name, "name", true, 1),
	API_STRING(struct token_req, role, "role", false, 1),
	API_DURATION(struct token_req, expires_in_s, "expires_in", false),
};
const struct api_fields api_token_create_spec = API_SPEC("token", token_fields);

/* A token for the caller's user, with the caller's role unless a lower one
 * is asked for. */
static void create_token(struct api_call *c)
{
	struct token_req req = { .role = "" };
	uint32_t present;
	enum api_role role = c->who.role;
	char secret[API_TOKEN_LEN + 1];
	json_t *t;
	if (api_decode_body(c, &api_token_create_spec, &req, &present))
		return;
	if ((present & 2) && api_role_parse(req.role, &role)) {
		api_problem(c, 422, "invalid-value", "/role", "role is admin or read-only");
		return;
	}
	if (role > c->who.role) {
		api_problem(c, 403, "forbidden", "/role", "a token cannot have more rights than its maker");
		return;
	}
	int rc = api_token_create(c->m, c->who.user, req.name, role,
				  (present & 4) ? req.expires_in_s : 0, secret, &t);
	if (rc) {
		api_errno(c, rc, NULL, "cannot create the token");
		return;
	}
	shown(t);
	json_object_set_new(t, "token", json_string(secret));
	api_created(c, t, "/api/v1/tokens/%s", json_string_value(json_object_get(t, "id")));
}

static void get_token(struct api_call *c)
{
	json_t *t;
	int rc = api_obj_get(c->m, "token", c->params[0], &t);
	if (rc)
		api_errno(c, rc, "id", rc == -ENOENT ? "no such token" : NULL);
	else
		api_json(c, 200, shown(t));
}

static void delete_token(struct api_call *c)
{
	json_t *t;
	int rc = api_obj_get(c->m, "token", c->params[0], &t);
	json_decref(rc ? NULL : t);
	if (!rc)
		rc = api_obj_delete(c->m, "token", c->params[0]);
	if (rc)
		api_errno(c, rc, "id", rc == -ENOENT ? "no such token" : NULL);
	else
		api_no_content(c);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/users", 0, ROLE_ADMIN, list_users },
	{ "POST", "/api/v1/users", API_BODY | API_CREATES, ROLE_ADMIN, create_user },
	{ "GET", "/api/v1/users/{name}", 0, ROLE_ADMIN, get_user },
	{ "PATCH", "/api/v1/users/{name}", API_BODY, ROLE_ADMIN, update_user },
	{ "DELETE", "/api/v1/users/{name}", 0, ROLE_ADMIN, delete_user },
	{ "GET", "/api/v1/tokens", 0, ROLE_ADMIN, list_tokens },
	{ "POST", "/api/v1/tokens", API_BODY | API_CREATES, ROLE_READ, create_token },
	{ "GET", "/api/v1/tokens/{id}", 0, ROLE_ADMIN, get_token },
	{ "DELETE", "/api/v1/tokens/{id}", 0, ROLE_ADMIN, delete_token },
};
API_ROUTE_TABLE(api_user_routes, routes);
