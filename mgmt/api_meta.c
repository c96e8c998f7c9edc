/*
 * api_meta.c - the routes about the API itself: health, the OpenAPI
 * document, log in (password to token) and log out (revoke the token used).
 * Only health and login answer without a token.
 */
#include <errno.h>
#include <string.h>

#include "mgmt/api.h"

#define LOGIN_TTL_S (12 * 3600)

static void health(struct api_call *c)
{
	api_json(c, 200, json_pack("{s:s, s:o}", "status", "ok", "time", api_time(api_now_ns(c->m))));
}

static void openapi(struct api_call *c)
{
	json_t *doc = json_loads(mgmt_openapi_json, 0, NULL);
	if (!doc)
		api_problem(c, 500, "internal", NULL, "the built-in OpenAPI document does not parse");
	else
		api_json(c, 200, doc);
}

struct login_req {
	char user[64];
	char password[256];
};
static const struct api_field login_fields[] = {
	API_STRING(struct login_req, user, "user", true, 1),
	API_STRING(struct login_req, password, "password", true, 1),
};
const struct api_fields api_login_spec = API_SPEC("login", login_fields);

static void login(struct api_call *c)
{
	struct login_req req;
	if (api_decode_body(c, &api_login_spec, &req, NULL))
		return;
	json_t *user = NULL, *token = NULL;
	enum api_role role;
	char secret[API_TOKEN_LEN + 1];
	if (!api_name_valid(req.user) || api_obj_get(c->m, "user", req.user, &user) ||
	    !api_password_check(user, req.password) ||
	    api_role_parse(json_string_value(json_object_get(user, "role")) ?: "", &role)) {
		json_decref(user);
		mgmt_event(c->m, "warning", "auth-failure", req.user,
			   "failed login for user '%.64s' from %.64s", req.user,
			   c->req->peer ? c->req->peer : "an unknown address");
		c->resp->www_authenticate = true;
		api_problem(c, 401, "login-failed", NULL, "wrong user name or password");
		return;
	}
	json_decref(user);
	int rc = api_token_create(c->m, req.user, "login", role, LOGIN_TTL_S, secret, &token);
	if (rc) {
		api_errno(c, rc, NULL, "cannot create a token");
		return;
	}
	json_object_del(token, "hash");
	json_object_set_new(token, "token", json_string(secret));
	api_created(c, token, "/api/v1/tokens/%s", json_string_value(json_object_get(token, "id")));
}

static void logout(struct api_call *c)
{
	int rc = api_obj_delete(c->m, "token", c->who.token_id);
	if (rc)
		api_errno(c, rc, NULL, "cannot revoke the token");
	else
		api_no_content(c);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/health", API_PUBLIC, ROLE_NONE, health },
	{ "GET", "/api/v1/openapi.json", 0, ROLE_READ, openapi },
	{ "POST", "/api/v1/login", API_PUBLIC | API_BODY, ROLE_NONE, login },
	{ "POST", "/api/v1/logout", 0, ROLE_READ, logout },
};
API_ROUTE_TABLE(api_meta_routes, routes);
