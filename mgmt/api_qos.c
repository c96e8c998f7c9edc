/*
 * api_qos.c - QoS settings: per-VM policies (shares, reservation and limit
 * in IOPS; enforced by the targets' gate while QoS is on), per-host shares
 * and the appliance's settings (enabled, the latency threshold L, 0
 * meaning derived automatically as the latency at about 90% of peak
 * throughput, the period, the law, the gate's capacity), which the QoS
 * loop (qos_loop.c) reads every period.
 *
 * Records: M/qos/<policy>, M/qoshost/<host>, M/qosglobal/settings.  A
 * policy that a VM names cannot be deleted (409 naming the VM).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/api.h"

#define DEFAULT_SHARES 1000
#define MAX_SHARES 100000
#define MAX_IOPS 100000000
#define MAX_LATENCY_US 10000000
#define DEFAULT_GATE_CAPACITY 64   /* QOS_GATE_DEFAULT_CAPACITY */
#define MAX_GATE_CAPACITY 65536

/* ---- policies ---------------------------------------------------------------- */

struct policy_req {
	char name[64];
	uint32_t shares, reservation_iops, limit_iops;
};
static const struct api_field policy_fields[] = {
	API_STRING(struct policy_req, name, "name", true, 1),
	API_U32(struct policy_req, shares, "shares", false, 1, MAX_SHARES),
	API_U32(struct policy_req, reservation_iops, "reservation_iops", false, 0, MAX_IOPS),
	API_U32(struct policy_req, limit_iops, "limit_iops", false, 0, MAX_IOPS),
};
const struct api_fields api_policy_create_spec = API_SPEC("QoS policy", policy_fields);
const struct api_fields api_policy_update_spec = { "QoS policy", policy_fields + 1, 3 };

static json_t *policy_json(const struct policy_req *p)
{
	return json_pack("{s:s, s:i, s:i, s:i}", "name", p->name, "shares", (int)p->shares,
			 "reservation_iops", (int)p->reservation_iops, "limit_iops",
			 (int)p->limit_iops);
}

static bool policy_ok(struct api_call *c, const struct policy_req *p)
{
	if (!p->limit_iops || p->reservation_iops <= p->limit_iops)
		return true;
	api_problem(c, 422, "invalid-value", "/reservation_iops",
		    "reservation_iops (%u) is above limit_iops (%u)", p->reservation_iops,
		    p->limit_iops);
	return false;
}

/* Read record name into p (from its JSON); answers 404 when missing. */
static int load_policy(struct api_call *c, const char *name, struct policy_req *p)
{
	json_t *j;
	int rc = api_obj_get(c->m, "qos", name, &j);
	if (rc) {
		api_errno(c, rc, "name", rc == -ENOENT ? "no such QoS policy" : NULL);
		return rc;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->shares = (uint32_t)json_integer_value(json_object_get(j, "shares"));
	p->reservation_iops = (uint32_t)json_integer_value(json_object_get(j, "reservation_iops"));
	p->limit_iops = (uint32_t)json_integer_value(json_object_get(j, "limit_iops"));
	json_decref(j);
	return 0;
}

static int save_policy(struct api_call *c, const struct policy_req *p, json_t **shown)
{
	json_t *j = policy_json(p);
	int rc = j ? api_obj_put(c->m, "qos", p->name, j) : -ENOMEM;
	if (rc) {
		json_decref(j);
		api_errno(c, rc, NULL, "cannot save the QoS policy");
		return rc;
	}
	*shown = j;
	return 0;
}

static void list_policies(struct api_call *c)
{
	json_t *list;
	int rc = api_obj_list(c->m, "qos", &list);
	if (rc)
		api_errno(c, rc, NULL, "cannot read the QoS policies");
	else
		api_list(c, list, "name");
}

static void get_policy(struct api_call *c)
{
	struct policy_req p;
	if (!load_policy(c, c->params[0], &p))
		api_json(c, 200, policy_json(&p));
}

static void create_policy(struct api_call *c)
{
	struct policy_req p = { .shares = DEFAULT_SHARES };
	json_t *old, *shown;
	if (api_decode_body(c, &api_policy_create_spec, &p, NULL) ||
	    !api_new_name_ok(c, p.name, "/name") || !policy_ok(c, &p))
		return;
	pthread_mutex_lock(&c->m->lock);
	if (!api_obj_get(c->m, "qos", p.name, &old)) {
		json_decref(old);
		api_problem(c, 409, "already-exists", "/name", "QoS policy '%s' exists", p.name);
	} else if (!save_policy(c, &p, &shown)) {
		api_created(c, shown, "/api/v1/qos-policies/%s", p.name);
	}
	pthread_mutex_unlock(&c->m->lock);
}

static void update_policy(struct api_call *c)
{
	struct policy_req req, p;
	uint32_t present;
	json_t *shown;
	if (api_decode_body(c, &api_policy_update_spec, &req, &present))
		return;
	pthread_mutex_lock(&c->m->lock);
	if (!load_policy(c, c->params[0], &p)) {
		if (present & 1)
			p.shares = req.shares;
		if (present & 2)
			p.reservation_iops = req.reservation_iops;
		if (present & 4)
			p.limit_iops = req.limit_iops;
		if (policy_ok(c, &p) && !save_policy(c, &p, &shown))
			api_json(c, 200, shown);
	}
	pthread_mutex_unlock(&c->m->lock);
}

/* The VM that uses policy name, into vm ("" when none). */
static int policy_user(struct mgmt *m, const char *name, char *vm, size_t len)
{
	json_t *vms;
	int rc = api_obj_list(m, "vm", &vms);
	vm[0] = '\0';
	for (size_t i = 0; !rc && i < json_array_size(vms) && !vm[0]; i++) {
		json_t *v = json_array_get(vms, i);
		if (!strcmp(json_string_value(json_object_get(v, "qos_policy")) ?: "", name))
			snprintf(vm, len, "%s", json_string_value(json_object_get(v, "name")) ?: "?");
	}
	json_decref(rc ? NULL : vms);
	return rc;
}

static void delete_policy(struct api_call *c)
{
	struct policy_req p;
	char vm[64];
	pthread_mutex_lock(&c->m->lock);
	if (!load_policy(c, c->params[0], &p)) {
		int rc = policy_user(c->m, p.name, vm, sizeof(vm));
		if (!rc && vm[0])
			api_problem(c, 409, "in-use", "name", "VM '%s' uses QoS policy '%s'", vm, p.name);
		else if (rc || (rc = api_obj_delete(c->m, "qos", p.name)))
			api_errno(c, rc, NULL, "cannot delete the QoS policy");
		else
			api_no_content(c);
	}
	pthread_mutex_unlock(&c->m->lock);
}

/* ---- host shares and the appliance's settings ----------------------------------- */

struct host_req {
	uint32_t shares;
};
static const struct api_field host_fields[] = {
	API_U32(struct host_req, shares, "shares", true, 1, MAX_SHARES),
};
const struct api_fields api_host_shares_spec = API_SPEC("host shares", host_fields);

static void list_hosts(struct api_call *c)
{
	json_t *list;
	int rc = api_obj_list(c->m, "qoshost", &list);
	if (rc)
		api_errno(c, rc, NULL, "cannot read the host shares");
	else
		api_list(c, list, "host");
}

/* PUT /qos-hosts/{host}: a host (initiator name or NFS client address)
 * gets shares; hosts without a record have DEFAULT_SHARES. */
static void put_host(struct api_call *c)
{
	struct host_req req;
	if (api_decode_body(c, &api_host_shares_spec, &req, NULL))
		return;
	json_t *j = json_pack("{s:s, s:i}", "host", c->params[0], "shares", (int)req.shares);
	int rc = j ? api_obj_put(c->m, "qoshost", c->params[0], j) : -ENOMEM;
	if (rc) {
		json_decref(j);
		api_errno(c, rc, "host", rc == -ENAMETOOLONG ? "the host name is too long" : NULL);
	} else {
		api_json(c, 200, j);
	}
}

static void delete_host(struct api_call *c)
{
	json_t *j;
	int rc = api_obj_get(c->m, "qoshost", c->params[0], &j);
	json_decref(rc ? NULL : j);
	if (!rc)
		rc = api_obj_delete(c->m, "qoshost", c->params[0]);
	if (rc)
		api_errno(c, rc, "host", rc == -ENOENT ? "this host has default shares already" : NULL);
	else
		api_no_content(c);
}

struct settings_req {
	bool enabled;
	uint32_t latency_threshold_us, period_ms;
	char law[16];
	uint32_t gate_capacity, device_fixed_us, device_us_per_mib;
};
static const struct api_field settings_fields[] = {
	API_BOOL(struct settings_req, enabled, "enabled", false),
	API_U32(struct settings_req, latency_threshold_us, "latency_threshold_us", false, 0,
		MAX_LATENCY_US),
	API_U32(struct settings_req, period_ms, "period_ms", false, 100, 10000),
	API_STRING(struct settings_req, law, "law", false, 1),
	API_U32(struct settings_req, gate_capacity, "gate_capacity", false, 1, MAX_GATE_CAPACITY),
	API_U32(struct settings_req, device_fixed_us, "device_fixed_us", false, 0, MAX_LATENCY_US),
	API_U32(struct settings_req, device_us_per_mib, "device_us_per_mib", false, 0,
		MAX_LATENCY_US),
};
const struct api_fields api_qos_settings_spec = API_SPEC("QoS settings", settings_fields);

static json_t *settings_json(struct mgmt *m)
{
	json_t *j;
	if (api_obj_get(m, "qosglobal", "settings", &j))
		j = json_object();
	/* members added since a record was written get their defaults */
	static const struct {
		const char *name;
		json_int_t value;
	} numbers[] = { { "latency_threshold_us", 0 }, { "period_ms", 500 },
			{ "gate_capacity", DEFAULT_GATE_CAPACITY }, { "device_fixed_us", 0 },
			{ "device_us_per_mib", 0 } };
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (!json_object_get(j, numbers[i].name))
			json_object_set_new(j, numbers[i].name, json_integer(numbers[i].value));
	if (!json_object_get(j, "enabled"))
		json_object_set_new(j, "enabled", json_false());
	if (!json_object_get(j, "law"))
		json_object_set_new(j, "law", json_string("target"));
	return j;
}

static void get_settings(struct api_call *c)
{
	api_json(c, 200, settings_json(c->m));
}

static void patch_settings(struct api_call *c)
{
	struct settings_req req;
	uint32_t present;
	if (api_decode_body(c, &api_qos_settings_spec, &req, &present))
		return;
	if ((present & 8) && strcmp(req.law, "target") && strcmp(req.law, "plain")) {
		api_problem(c, 422, "invalid-value", "/law", "law is \"target\" (Slate's, the "
			    "default) or \"plain\" (the FAST'09 paper's)");
		return;
	}
	pthread_mutex_lock(&c->m->lock);
	json_t *j = settings_json(c->m);
	/* the members given, as given: the decoder has checked each */
	for (size_t i = 0; i < api_qos_settings_spec.count; i++)
		if (present & (1u << i))
			json_object_set(j, settings_fields[i].name,
					json_object_get(c->body, settings_fields[i].name));
	int rc = api_obj_put(c->m, "qosglobal", "settings", j);
	pthread_mutex_unlock(&c->m->lock);
	if (rc) {
		json_decref(j);
		api_errno(c, rc, NULL, "cannot save the QoS settings");
	} else {
		api_json(c, 200, j);
	}
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/qos-policies", 0, ROLE_READ, list_policies },
	{ "POST", "/api/v1/qos-policies", API_BODY | API_CREATES, ROLE_ADMIN, create_policy },
	{ "GET", "/api/v1/qos-policies/{name}", 0, ROLE_READ, get_policy },
	{ "PATCH", "/api/v1/qos-policies/{name}", API_BODY, ROLE_ADMIN, update_policy },
	{ "DELETE", "/api/v1/qos-policies/{name}", 0, ROLE_ADMIN, delete_policy },
	{ "GET", "/api/v1/qos-hosts", 0, ROLE_READ, list_hosts },
	{ "PUT", "/api/v1/qos-hosts/{host}", API_BODY, ROLE_ADMIN, put_host },
	{ "DELETE", "/api/v1/qos-hosts/{host}", 0, ROLE_ADMIN, delete_host },
	{ "GET", "/api/v1/qos-settings", 0, ROLE_READ, get_settings },
	{ "PATCH", "/api/v1/qos-settings", API_BODY, ROLE_ADMIN, patch_settings },
};
API_ROUTE_TABLE(api_qos_routes, routes);
