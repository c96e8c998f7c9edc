/*
 * api_target.c - iSCSI targets, their LUNs, ACLs and CHAP credentials, and
 * the portals.  Secrets are write-only: the API shows a CHAP user name,
 * never its secret.
 *
 * A change is made on the configuration kept in the pool (target/iscsi
 * config records), applied to the running server first
 * (iscsi_server_apply_config: new targets and LUNs serve at once, removed
 * ones close their sessions) and saved only when that worked, so the pool
 * never holds a configuration the server refused.  m->lock serializes
 * these read-modify-write changes.  Portals are saved and listened on from
 * the next start (unless slated's --iscsi flag or setting replaces them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "target/iscsi/iscsi.h"

/* ---- the configuration ---------------------------------------------------- */

/* Load the pool's configuration (caller holds m->lock, frees *out). */
static int load_config(struct api_call *c, struct iscsi_config **out)
{
	char why[256] = "";
	struct iscsi_config *cfg = calloc(1, sizeof(*cfg));
	int rc = cfg ? iscsi_config_load(c->m->cs, cfg, why, sizeof(why)) : -ENOMEM;
	if (rc) {
		free(cfg);
		api_errno(c, rc < 0 && rc != -EINVAL ? rc : -EIO, NULL,
			  why[0] ? why : "cannot read the iSCSI configuration");
		return rc;
	}
	*out = cfg;
	return 0;
}

/* The configuration, for a handler that only reads it; NULL when the call
 * was answered with the failure.  The caller frees it. */
static struct iscsi_config *read_config(struct api_call *c)
{
	struct iscsi_config *cfg;
	pthread_mutex_lock(&c->m->lock);
	int rc = load_config(c, &cfg);
	pthread_mutex_unlock(&c->m->lock);
	return rc ? NULL : cfg;
}

/* Run change(c, cfg, req) on the loaded configuration under m->lock: the
 * read-modify-write of every changing handler. */
static void change_config(struct api_call *c,
			  void (*change)(struct api_call *c, struct iscsi_config *cfg, const void *req),
			  const void *req)
{
	struct iscsi_config *cfg;
	pthread_mutex_lock(&c->m->lock);
	if (!load_config(c, &cfg)) {
		change(c, cfg, req);
		free(cfg);
	}
	pthread_mutex_unlock(&c->m->lock);
}

/* Serve cfg (less LUNs whose volume is gone) on the running server. */
static int apply_live(struct mgmt *m, const struct iscsi_config *cfg, char *why, size_t len)
{
	if (!m->iscsi)
		return 0;
	struct iscsi_config *serve = malloc(sizeof(*serve));
	if (!serve)
		return -ENOMEM;
	*serve = *cfg;
	struct iscsi_volume_finder finder = { mgmt_pools_finder, &m->pools };
	iscsi_config_drop_missing_luns(m->cs, &finder, serve, NULL, NULL);
	int rc = iscsi_server_apply_config(m->iscsi, serve, why, len);
	free(serve);
	return rc;
}

/* Apply cfg live, then save target t (NULL: delete iqn).  Answers the call
 * with a problem on failure. */
static int commit(struct api_call *c, const struct iscsi_config *cfg,
		  const struct iscsi_target_config *t, const char *deleted_iqn)
{
	char why[256] = "";
	int rc = apply_live(c->m, cfg, why, sizeof(why));
	if (rc) {
		api_errno(c, rc == -ENOENT ? -EINVAL : rc, NULL, why);
		return rc;
	}
	rc = t ? iscsi_config_save_target(c->m->cs, t, why, sizeof(why))
	       : iscsi_config_delete_target(c->m->cs, deleted_iqn);
	if (!rc && !cfg->initialized) { /* the first change makes the setup deliberate */
		struct iscsi_config global = *cfg;
		global.initialized = true;
		rc = iscsi_config_save_global(c->m->cs, &global, why, sizeof(why));
	}
	if (rc)
		api_errno(c, rc, NULL, why[0] ? why : "cannot save the iSCSI configuration");
	return rc;
}

/* ---- JSON ------------------------------------------------------------------- */

static json_t *chap_json(const struct iscsi_chap *chap)
{
	return chap->user[0] ? json_pack("{s:s}", "user", chap->user) : json_null();
}

static json_t *lun_json(struct mgmt *m, const struct iscsi_lun_map *l)
{
	struct cowstore_volume_info info;
	uint64_t id;
	bool present = !api_volume_id(m, l->volume, &id) &&
		       !cowstore_volume_info(api_pool_of(m, id), id, 0, &info);
	return json_pack("{s:I, s:s, s:I}", "lun", (json_int_t)l->lun, "volume", l->volume,
			 "size_bytes", (json_int_t)(present ? info.size_bytes : 0));
}

static json_t *target_json(struct mgmt *m, const struct iscsi_target_config *t)
{
	json_t *acl = json_array(), *luns = json_array();
	for (unsigned i = 0; i < t->nacl; i++)
		json_array_append_new(acl, json_string(t->acl[i]));
	for (unsigned i = 0; i < t->nluns; i++)
		json_array_append_new(luns, lun_json(m, &t->luns[i]));
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "iqn", t->iqn, "acl", acl, "luns", luns,
			 "chap", chap_json(&t->auth.chap), "mutual_chap",
			 chap_json(&t->auth.mutual));
}

static struct iscsi_target_config *find_target(struct api_call *c, struct iscsi_config *cfg)
{
	struct iscsi_target_config *t = iscsi_config_find(cfg, c->params[0]);
	if (!t)
		api_problem(c, 404, "not-found", "iqn", "no target %.223s", c->params[0]);
	return t;
}

/* ---- targets ------------------------------------------------------------------ */

struct chap_req {
	char user[ISCSI_CHAP_USER_MAX + 1];
	char secret[ISCSI_CHAP_SECRET_MAX + 1];
};
static const struct api_field chap_fields[] = {
	API_STRING(struct chap_req, user, "user", true, 0),
	API_STRING(struct chap_req, secret, "secret", true, 0),
};
static const struct api_fields chap_spec = API_SPEC("chap", chap_fields);

struct target_req {
	char iqn[ISCSI_NAME_MAX + 1];
	char acl[ISCSI_MAX_ACL][ISCSI_NAME_MAX + 1];
	unsigned nacl;
	struct chap_req chap, mutual;
	uint32_t present;      /* which members the body gave (not decoded) */
};
static const struct api_field target_fields[] = {
	API_STRING(struct target_req, iqn, "iqn", true, 1),
	API_STRINGS(struct target_req, acl, nacl, "acl", false, ISCSI_MAX_ACL),
	API_OBJECT(struct target_req, chap, "chap", false, &chap_spec),
	API_OBJECT(struct target_req, mutual, "mutual_chap", false, &chap_spec),
};
const struct api_fields api_target_create_spec = API_SPEC("target", target_fields);
const struct api_fields api_target_update_spec = { "target", target_fields + 1, 3 };

/* Copy what the request gave (bits of present, in table order from acl). */
static void set_access(struct iscsi_target_config *t, const struct target_req *req,
		       uint32_t present)
{
	if (present & 1) {
		t->nacl = req->nacl;
		memcpy(t->acl, req->acl, sizeof(t->acl));
	}
	if (present & 2) {
		snprintf(t->auth.chap.user, sizeof(t->auth.chap.user), "%s", req->chap.user);
		snprintf(t->auth.chap.secret, sizeof(t->auth.chap.secret), "%s", req->chap.secret);
	}
	if (present & 4) {
		snprintf(t->auth.mutual.user, sizeof(t->auth.mutual.user), "%s", req->mutual.user);
		snprintf(t->auth.mutual.secret, sizeof(t->auth.mutual.secret), "%s",
			 req->mutual.secret);
	}
}

static void list_targets(struct api_call *c)
{
	struct iscsi_config *cfg = read_config(c);
	if (!cfg)
		return;
	json_t *items = json_array();
	for (unsigned i = 0; i < cfg->ntargets; i++)
		json_array_append_new(items, target_json(c->m, &cfg->targets[i]));
	free(cfg);
	api_list(c, items, "iqn");
}

static void get_target(struct api_call *c)
{
	struct iscsi_config *cfg = read_config(c);
	struct iscsi_target_config *t = cfg ? find_target(c, cfg) : NULL;
	if (t)
		api_json(c, 200, target_json(c->m, t));
	free(cfg);
}

static void add_target(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	const struct target_req *req = arg;
	if (iscsi_config_find(cfg, req->iqn)) {
		api_problem(c, 409, "already-exists", "/iqn", "target %s exists", req->iqn);
		return;
	}
	if (cfg->ntargets == ISCSI_MAX_TARGETS) {
		api_problem(c, 409, "in-use", "/iqn", "there are %d targets, the most one pool serves",
			    ISCSI_MAX_TARGETS);
		return;
	}
	struct iscsi_target_config *t = &cfg->targets[cfg->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->iqn, sizeof(t->iqn), "%s", req->iqn);
	set_access(t, req, req->present >> 1);
	if (!commit(c, cfg, t, NULL))
		api_created(c, target_json(c->m, t), "/api/v1/targets/%s", t->iqn);
}

static void create_target(struct api_call *c)
{
	struct target_req req;
	if (api_decode_body(c, &api_target_create_spec, &req, &req.present))
		return;
	if (!iscsi_name_valid(req.iqn)) {
		api_problem(c, 422, "invalid-value", "/iqn", "'%s' is not an iSCSI name "
			    "(iqn.YYYY-MM.reversed.domain[:id], eui.<16 hex> or naa.<hex>)", req.iqn);
		return;
	}
	change_config(c, add_target, &req);
}

static void change_target(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	const struct target_req *req = arg;
	struct iscsi_target_config *t = find_target(c, cfg);
	if (!t)
		return;
	set_access(t, req, req->present);
	if (!commit(c, cfg, t, NULL))
		api_json(c, 200, target_json(c->m, t));
}

static void update_target(struct api_call *c)
{
	struct target_req req;
	if (!api_decode_body(c, &api_target_update_spec, &req, &req.present))
		change_config(c, change_target, &req);
}

static void drop_target(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	struct iscsi_target_config *t = find_target(c, cfg);
	if (!t)
		return;
	char iqn[ISCSI_NAME_MAX + 1];
	snprintf(iqn, sizeof(iqn), "%s", t->iqn);
	*t = cfg->targets[--cfg->ntargets];
	if (!commit(c, cfg, NULL, iqn))
		api_no_content(c);
}

static void delete_target(struct api_call *c)
{
	change_config(c, drop_target, NULL);
}

/* ---- LUNs ------------------------------------------------------------------------ */

static void list_luns(struct api_call *c)
{
	struct iscsi_config *cfg = read_config(c);
	struct iscsi_target_config *t = cfg ? find_target(c, cfg) : NULL;
	if (t) {
		json_t *items = json_array();
		for (unsigned i = 0; i < t->nluns; i++)
			json_array_append_new(items, lun_json(c->m, &t->luns[i]));
		api_list(c, items, "lun");
	}
	free(cfg);
}

struct lun_req {
	uint64_t lun;
	char volume[COWSTORE_NAME_MAX + 1];
};
static const struct api_field lun_fields[] = {
	API_U64(struct lun_req, lun, "lun", true, 0, 16383),
	API_STRING(struct lun_req, volume, "volume", true, 1),
};
const struct api_fields api_lun_spec = API_SPEC("lun", lun_fields);

static void map_lun(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	const struct lun_req *req = arg;
	struct iscsi_target_config *t = find_target(c, cfg);
	if (!t)
		return;
	for (unsigned i = 0; i < t->nluns; i++)
		if (t->luns[i].lun == req->lun) {
			api_problem(c, 409, "already-exists", "/lun", "target %s has LUN %" PRIu64
				    " already", t->iqn, req->lun);
			return;
		}
	if (t->nluns == ISCSI_MAX_TARGET_LUNS) {
		api_problem(c, 409, "in-use", "/lun", "target %s has %d LUNs, the most it can",
			    t->iqn, ISCSI_MAX_TARGET_LUNS);
		return;
	}
	struct iscsi_lun_map *l = &t->luns[t->nluns++];
	l->lun = req->lun;
	snprintf(l->volume, sizeof(l->volume), "%s", req->volume);
	if (!commit(c, cfg, t, NULL))
		api_created(c, lun_json(c->m, l), "/api/v1/targets/%s/luns/%" PRIu64, t->iqn,
			    req->lun);
}

static void add_lun(struct api_call *c)
{
	struct lun_req req;
	uint64_t id;
	if (api_decode_body(c, &api_lun_spec, &req, NULL))
		return;
	if (api_volume_id(c->m, req.volume, &id))
		api_problem(c, 422, "invalid-value", "/volume", "no volume '%s'", req.volume);
	else
		change_config(c, map_lun, &req);
}

static void unmap_lun(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	uint64_t lun = *(const uint64_t *)arg;
	struct iscsi_target_config *t = find_target(c, cfg);
	unsigned i = 0;
	while (t && i < t->nluns && t->luns[i].lun != lun)
		i++;
	if (t && i == t->nluns) {
		api_problem(c, 404, "not-found", "lun", "target %s has no LUN %" PRIu64, t->iqn, lun);
	} else if (t) {
		t->luns[i] = t->luns[--t->nluns];
		if (!commit(c, cfg, t, NULL))
			api_no_content(c);
	}
}

static void remove_lun(struct api_call *c)
{
	char *end;
	uint64_t lun = strtoull(c->params[1], &end, 10);
	if (*end || c->params[1][0] == '-')
		api_problem(c, 404, "not-found", "lun", "no LUN %.32s", c->params[1]);
	else
		change_config(c, unmap_lun, &lun);
}

/* ---- discovery sessions' CHAP ------------------------------------------------------ */

struct discovery_req {
	struct chap_req chap, mutual;
	uint32_t present;
};
static const struct api_field discovery_fields[] = {
	API_OBJECT(struct discovery_req, chap, "chap", false, &chap_spec),
	API_OBJECT(struct discovery_req, mutual, "mutual_chap", false, &chap_spec),
};
const struct api_fields api_discovery_spec = API_SPEC("discovery authentication", discovery_fields);

static json_t *discovery_json(const struct iscsi_auth *a)
{
	return json_pack("{s:o, s:o}", "chap", chap_json(&a->chap), "mutual_chap",
			 chap_json(&a->mutual));
}

static void get_discovery(struct api_call *c)
{
	struct iscsi_config *cfg = read_config(c);
	if (cfg)
		api_json(c, 200, discovery_json(&cfg->discovery));
	free(cfg);
}

static void set_discovery(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	const struct discovery_req *req = arg;
	struct iscsi_auth *a = &cfg->discovery;
	char why[256] = "";
	if (req->present & 1) {
		snprintf(a->chap.user, sizeof(a->chap.user), "%s", req->chap.user);
		snprintf(a->chap.secret, sizeof(a->chap.secret), "%s", req->chap.secret);
	}
	if (req->present & 2) {
		snprintf(a->mutual.user, sizeof(a->mutual.user), "%s", req->mutual.user);
		snprintf(a->mutual.secret, sizeof(a->mutual.secret), "%s", req->mutual.secret);
	}
	int rc = apply_live(c->m, cfg, why, sizeof(why));
	if (!rc) {
		cfg->initialized = true;
		rc = iscsi_config_save_global(c->m->cs, cfg, why, sizeof(why));
	}
	if (rc)
		api_errno(c, rc == -ENOENT ? -EINVAL : rc, NULL, why[0] ? why : NULL);
	else
		api_json(c, 200, discovery_json(a));
}

/* PUT /iscsi-discovery: CHAP for SendTargets sessions, applied at once. */
static void put_discovery(struct api_call *c)
{
	struct discovery_req req;
	if (!api_decode_body(c, &api_discovery_spec, &req, &req.present))
		change_config(c, set_discovery, &req);
}

/* ---- portals ------------------------------------------------------------------------ */

static json_t *portal_json(const char *portal)
{
	return json_pack("{s:s}", "portal", portal);
}

static void list_portals(struct api_call *c)
{
	struct iscsi_config *cfg = read_config(c);
	if (!cfg)
		return;
	json_t *items = json_array();
	for (unsigned i = 0; i < cfg->nportals; i++)
		json_array_append_new(items, portal_json(cfg->portals[i]));
	free(cfg);
	api_list(c, items, "portal");
}

struct portal_req {
	char portal[ISCSI_PORTAL_MAX + 1];
};
static const struct api_field portal_fields[] = {
	API_STRING(struct portal_req, portal, "portal", true, 1),
};
const struct api_fields api_portal_spec = API_SPEC("portal", portal_fields);

/* Save the portals (global record); they are listened on from the next start. */
static int save_portals(struct api_call *c, struct iscsi_config *cfg)
{
	char why[256] = "";
	cfg->initialized = true;
	int rc = iscsi_config_save_global(c->m->cs, cfg, why, sizeof(why));
	if (rc)
		api_errno(c, rc, "/portal", why);
	return rc;
}

static void append_portal(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	const char *portal = arg;
	for (unsigned i = 0; i < cfg->nportals; i++)
		if (iscsi_portal_equal(cfg->portals[i], portal)) {
			api_problem(c, 409, "already-exists", "/portal", "portal %s exists", portal);
			return;
		}
	if (cfg->nportals == ISCSI_MAX_PORTALS) {
		api_problem(c, 409, "in-use", "/portal", "%d portals is the most", ISCSI_MAX_PORTALS);
		return;
	}
	snprintf(cfg->portals[cfg->nportals++], ISCSI_PORTAL_MAX + 1, "%s", portal);
	if (!save_portals(c, cfg))
		api_created(c, portal_json(portal), "/api/v1/portals/%s", portal);
}

static void add_portal(struct api_call *c)
{
	struct portal_req req;
	char address[64];
	uint16_t port;
	if (api_decode_body(c, &api_portal_spec, &req, NULL))
		return;
	if (iscsi_portal_parse(req.portal, address, sizeof(address), &port) || port == 0)
		api_problem(c, 422, "invalid-value", "/portal", "a portal is ADDR:PORT or "
			    "[IPV6ADDR]:PORT with a numeric address and a port from 1 to 65535");
	else
		change_config(c, append_portal, req.portal);
}

static void drop_portal(struct api_call *c, struct iscsi_config *cfg, const void *arg)
{
	unsigned i = 0;
	while (i < cfg->nportals && strcmp(cfg->portals[i], c->params[0]))
		i++;
	if (i == cfg->nportals) {
		api_problem(c, 404, "not-found", "portal", "no portal %.63s", c->params[0]);
		return;
	}
	memmove(cfg->portals[i], cfg->portals[i + 1],
		(cfg->nportals - i - 1) * sizeof(cfg->portals[0]));
	cfg->nportals--;
	if (!save_portals(c, cfg))
		api_no_content(c);
}

static void remove_portal(struct api_call *c)
{
	change_config(c, drop_portal, NULL);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/targets", 0, ROLE_READ, list_targets },
	{ "POST", "/api/v1/targets", API_BODY | API_CREATES, ROLE_ADMIN, create_target },
	{ "GET", "/api/v1/targets/{iqn}", 0, ROLE_READ, get_target },
	{ "PATCH", "/api/v1/targets/{iqn}", API_BODY, ROLE_ADMIN, update_target },
	{ "DELETE", "/api/v1/targets/{iqn}", 0, ROLE_ADMIN, delete_target },
	{ "GET", "/api/v1/targets/{iqn}/luns", 0, ROLE_READ, list_luns },
	{ "POST", "/api/v1/targets/{iqn}/luns", API_BODY | API_CREATES, ROLE_ADMIN, add_lun },
	{ "DELETE", "/api/v1/targets/{iqn}/luns/{lun}", 0, ROLE_ADMIN, remove_lun },
	{ "GET", "/api/v1/iscsi-discovery", 0, ROLE_READ, get_discovery },
	{ "PUT", "/api/v1/iscsi-discovery", API_BODY, ROLE_ADMIN, put_discovery },
	{ "GET", "/api/v1/portals", 0, ROLE_READ, list_portals },
	{ "POST", "/api/v1/portals", API_BODY | API_CREATES, ROLE_ADMIN, add_portal },
	{ "DELETE", "/api/v1/portals/{portal}", 0, ROLE_ADMIN, remove_portal },
};
API_ROUTE_TABLE(api_target_routes, routes);
