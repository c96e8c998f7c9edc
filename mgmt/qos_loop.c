/*
 * qos_loop.c - QoS control in the daemon.  A thread that, every period,
 * hands each host's IO of the period to the PARDA controller (qos/), ticks
 * it, and enforces the hosts' windows on the targets: the CmdSN window of
 * the host's iSCSI sessions (split over them) and the admission window of
 * an NFS client address.  The shared latency table is the pool's ("Q/t/"),
 * so several slated processes on one pool would coordinate through it.
 *
 * Settings are the API's records, read every period (a few small
 * records): qos-settings {enabled, latency_threshold_us (0: automatic),
 * period_ms, law, device_fixed_us and device_us_per_mib: the device's cost
 * model when it is known, both 0 to learn it online}, qos-hosts (shares;
 * 1000 when none).  QoS is off until
 * enabled: then hosts start at a window of 1 and open up as the controller
 * learns (qos.h).  Turning it off gives every session and client the
 * targets' default windows back.  An anomaly (latency above L while the
 * managed hosts are throttled or idle: an external workload) starting or
 * ending is an event.
 *
 * Per-VM scheduling: while QoS is on, every period pushes to the targets'
 * gate (qos.h, m->gate) each VM that names a QoS policy (shares,
 * reservation and limit IOPS, in reference IOs), its volumes and the data
 * volumes of its NFS files (a file gets one at its first write: it is
 * mapped the period after), the capacity (qos-settings gate_capacity: the
 * requests let into the pool at once) and the controller's cost model.  A
 * VM keeps its small gate id while it has a policy (its tags go on from
 * period to period); VMs and volumes gone since the last period are taken
 * out.  Turning QoS off, or stopping, clears the gate: requests waiting
 * in it go at once and the targets submit straight to the pool again.
 *
 * Every period too, QoS on or off, the pools' load models take the
 * period's IO and, now and then, plan migration advice (pool_load.c).
 *
 * Threads: the loop is the only caller of qos_controller_tick() and the
 * only writer of the gate's configuration; the API's status route reads
 * the controller and the gate (each takes its own mutex).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/api.h"
#include "qos/qos.h"
#include "target/iscsi/iscsi.h"
#include "target/nfs/nfs.h"

#define DEFAULT_SHARES 1000
#define DEFAULT_PERIOD_MS 500
#define GATE_VMS 1024                 /* VMs with a policy the gate schedules */

struct api_qos {
	pthread_t thread;
	bool running;
	struct qos_table *table;
	struct qos_controller *ctl;
	struct qos_host_counts *prev; /* the last period's cumulative counts */
	size_t nprev;
	bool enabled;                 /* as of the last period */
	uint64_t anomalies_seen;
	/* the gate's VMs: gate_vms[id] is the VM name of gate id id ("": free) */
	char (*gate_vms)[COWSTORE_NAME_MAX + 1];
	uint64_t *gate_volumes;       /* mapped last period */
	size_t ngate_volumes;
	bool gate_on;
	struct api_pool_load *load;   /* the pools' load models and advice (pool_load.c) */
};

struct qos_settings {
	bool enabled;
	uint32_t threshold_us, period_ms;
	enum qos_parda_law law;
	uint32_t gate_capacity;
	uint32_t device_fixed_us, device_us_per_mib; /* both 0: learn the cost model */
};

static void read_settings(struct mgmt *m, struct qos_settings *s)
{
	json_t *j;
	*s = (struct qos_settings){ .period_ms = DEFAULT_PERIOD_MS, .law = QOS_PARDA_TARGET,
				    .gate_capacity = QOS_GATE_DEFAULT_CAPACITY };
	if (api_obj_get(m, "qosglobal", "settings", &j))
		return;
	s->enabled = json_is_true(json_object_get(j, "enabled"));
	s->threshold_us = (uint32_t)json_integer_value(json_object_get(j, "latency_threshold_us"));
	if (json_integer_value(json_object_get(j, "period_ms")) > 0)
		s->period_ms = (uint32_t)json_integer_value(json_object_get(j, "period_ms"));
	if (!strcmp(json_string_value(json_object_get(j, "law")) ?: "", "plain"))
		s->law = QOS_PARDA_PLAIN;
	if (json_integer_value(json_object_get(j, "gate_capacity")) > 0)
		s->gate_capacity = (uint32_t)json_integer_value(json_object_get(j, "gate_capacity"));
	s->device_fixed_us = (uint32_t)json_integer_value(json_object_get(j, "device_fixed_us"));
	s->device_us_per_mib = (uint32_t)json_integer_value(json_object_get(j, "device_us_per_mib"));
	json_decref(j);
}

static uint32_t host_shares(struct mgmt *m, const char *host)
{
	json_t *j;
	if (api_obj_get(m, "qoshost", host, &j))
		return DEFAULT_SHARES;
	json_int_t shares = json_integer_value(json_object_get(j, "shares"));
	json_decref(j);
	return shares > 0 ? (uint32_t)shares : DEFAULT_SHARES;
}

/* Apply window to host on both targets (0: the targets' defaults). */
static void enforce(struct mgmt *m, const char *host, uint32_t window,
		    const struct iscsi_session_info *sessions, size_t nsessions)
{
	size_t mine = 0;
	for (size_t i = 0; i < nsessions; i++)
		mine += !strcmp(sessions[i].initiator, host);
	for (size_t i = 0; i < nsessions && mine; i++) {
		if (strcmp(sessions[i].initiator, host))
			continue;
		uint32_t share = window ? (uint32_t)((window + mine - 1) / mine) : ISCSI_DEFAULT_WINDOW;
		if (share > ISCSI_MAX_WINDOW)
			share = ISCSI_MAX_WINDOW;
		iscsi_server_set_session_window(m->iscsi, sessions[i].session_id, share);
	}
	if (m->nfs) /* a host that is no NFS address is refused: harmless */
		nfs_server_set_client_window(m->nfs, host, window);
}


/* The difference of one host's counters since the last period. */
static void observe(struct api_qos *q, const struct qos_host_counts *now)
{
	struct qos_stream_counts zero = { 0 };
	const struct qos_stream_counts *before = &zero;
	for (size_t i = 0; i < q->nprev; i++)
		if (!strcmp(q->prev[i].host, now->host))
			before = &q->prev[i].counts;
	qos_controller_observe_counts(q->ctl, now->host, before, &now->counts);
}

static void report_anomaly(struct mgmt *m, struct api_qos *q)
{
	struct qos_readout r;
	if (qos_controller_readout(q->ctl, &r))
		return;
	if (r.anomaly.events > q->anomalies_seen)
		mgmt_event(m, "warning", "external-workload", "pool", "latency stays above %.0f us "
			   "while the managed hosts are throttled or idle: another workload shares "
			   "the device (detected %.1f s after it began)", r.threshold_us,
			   (double)(r.anomaly.detected_ms - r.anomaly.since_ms) / 1000.0);
	else if (q->anomalies_seen && !r.anomaly.active && r.anomaly.ended_ms &&
		 q->enabled && r.anomaly.ended_ms > r.time_ms - (int64_t)r.period_ms)
		mgmt_event(m, "info", "external-workload", "pool", "the outside workload is gone: "
			   "latency is back under %.0f us", r.threshold_us);
	q->anomalies_seen = r.anomaly.events;
	qos_readout_free(&r);
}

/* ---- the gate ---------------------------------------------------------------- */

/* The gate id of VM name: the one it had, else a free one (0: none left). */
static uint32_t gate_id(struct api_qos *q, const char *name, const bool *taken)
{
	uint32_t free_id = 0;
	for (uint32_t id = 1; id <= GATE_VMS; id++) {
		if (!strcmp(q->gate_vms[id], name))
			return id;
		if (!free_id && !q->gate_vms[id][0] && !taken[id])
			free_id = id;
	}
	if (free_id)
		snprintf(q->gate_vms[free_id], sizeof(q->gate_vms[free_id]), "%s", name);
	return free_id;
}

static int add_volume(uint64_t **vols, size_t *n, size_t *cap, uint64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		uint64_t *a = realloc(*vols, c * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*vols = a;
		*cap = c;
	}
	(*vols)[(*n)++] = id;
	return 0;
}

/* One VM's policy and volumes to the gate; its gate id, 0 when it has none. */
static uint32_t gate_push_vm(struct mgmt *m, struct api_qos *q, json_t *vm, bool *taken,
			     uint64_t **vols, size_t *nvols, size_t *cap)
{
	const char *name = json_string_value(json_object_get(vm, "name"));
	const char *policy = json_string_value(json_object_get(vm, "qos_policy"));
	json_t *pj, *v;
	size_t i;
	if (!name || !policy || api_obj_get(m, "qos", policy, &pj))
		return 0;
	struct qos_mclock_policy p = {
		.reservation_iops = (double)json_integer_value(json_object_get(pj, "reservation_iops")),
		.limit_iops = (double)json_integer_value(json_object_get(pj, "limit_iops")),
		.shares = (uint32_t)json_integer_value(json_object_get(pj, "shares")),
	};
	json_decref(pj);
	uint32_t id = gate_id(q, name, taken);
	if (!id || qos_gate_set_vm(m->gate, id, name, &p))
		return 0;
	taken[id] = true;
	json_array_foreach(json_object_get(vm, "volumes"), i, v) {
		uint64_t volume_id;
		if (!api_volume_id(m, json_string_value(v) ?: "", &volume_id) &&
		    !qos_gate_set_volume_vm(m->gate, volume_id, id))
			add_volume(vols, nvols, cap, volume_id);
	}
	json_array_foreach(json_object_get(vm, "files"), i, v) {
		struct cowstore_ns_attr attr;
		if (!nfs_path_lookup(m->cs, json_string_value(v) ?: "", &attr) && attr.volume_id &&
		    !qos_gate_set_volume_vm(m->gate, attr.volume_id, id))
			add_volume(vols, nvols, cap, attr.volume_id);
	}
	return id;
}

/* Every VM with a policy, the capacity and the cost model to the gate. */
static void gate_push(struct mgmt *m, struct api_qos *q, const struct qos_settings *s)
{
	json_t *vms, *vm;
	size_t i, nvols = 0, cap = 0;
	uint64_t *vols = NULL;
	bool taken[GATE_VMS + 1] = { false };
	struct qos_readout r;
	if (api_obj_list(m, "vm", &vms))
		return; /* try again next period */
	if (!qos_controller_readout(q->ctl, &r)) {
		qos_gate_set_cost(m->gate, r.cost.fixed_known ? r.cost.fixed_us : 0,
				  r.cost.us_per_kib, r.cost.ref_bytes);
		qos_readout_free(&r);
	}
	qos_gate_set_capacity(m->gate, s->gate_capacity);
	json_array_foreach(vms, i, vm)
		gate_push_vm(m, q, vm, taken, &vols, &nvols, &cap);
	json_decref(vms);
	for (uint32_t id = 1; id <= GATE_VMS; id++) {
		if (q->gate_vms[id][0] && !taken[id]) { /* gone, or lost its policy */
			qos_gate_remove_vm(m->gate, id);
			q->gate_vms[id][0] = '\0';
		}
	}
	for (size_t k = 0; k < q->ngate_volumes; k++) {
		bool kept = false;
		for (size_t j = 0; j < nvols && !kept; j++)
			kept = vols[j] == q->gate_volumes[k];
		if (!kept)
			qos_gate_set_volume_vm(m->gate, q->gate_volumes[k], 0);
	}
	free(q->gate_volumes);
	q->gate_volumes = vols;
	q->ngate_volumes = nvols;
	q->gate_on = true;
}

static void gate_off(struct mgmt *m, struct api_qos *q)
{
	qos_gate_clear(m->gate);
	for (uint32_t id = 1; id <= GATE_VMS; id++)
		q->gate_vms[id][0] = '\0';
	free(q->gate_volumes);
	q->gate_volumes = NULL;
	q->ngate_volumes = 0;
	q->gate_on = false;
}

/* One period. */
static void qos_step(struct mgmt *m, struct api_qos *q, const struct qos_settings *s)
{
	struct qos_host_counts *hosts = NULL;
	size_t nhosts = 0, nsessions;
	if (qos_stats_hosts(m->stats, &hosts, &nhosts))
		return;
	struct iscsi_session_info *sessions = api_iscsi_sessions(m, &nsessions);
	if (s->enabled) {
		qos_controller_set_threshold(q->ctl, s->threshold_us);
		qos_controller_set_law(q->ctl, s->law);
		if (s->device_fixed_us || s->device_us_per_mib) /* a known device */
			qos_controller_pin_cost(q->ctl, s->device_fixed_us,
						s->device_us_per_mib / 1024.0);
		else
			qos_controller_pin_cost(q->ctl, -1, 0); /* learn it */
		for (size_t i = 0; i < nhosts; i++) {
			qos_controller_set_host(q->ctl, hosts[i].host, host_shares(m, hosts[i].host));
			observe(q, &hosts[i]);
		}
		qos_controller_tick(q->ctl, api_now_ns(m) / 1000000);
		for (size_t i = 0; i < nhosts; i++) {
			uint32_t window;
			if (!qos_controller_window(q->ctl, hosts[i].host, &window))
				enforce(m, hosts[i].host, window, sessions, nsessions);
		}
		report_anomaly(m, q);
		if (m->gate)
			gate_push(m, q, s);
	} else if (q->enabled) { /* just turned off: defaults back */
		for (size_t i = 0; i < nhosts; i++)
			enforce(m, hosts[i].host, 0, sessions, nsessions);
	}
	if (!s->enabled && q->gate_on)
		gate_off(m, q);
	api_pool_load_step(m, q->load, qos_now_ns());
	q->enabled = s->enabled;
	free(sessions);
	free(q->prev);
	q->prev = hosts;
	q->nprev = nhosts;
}

static void *qos_main(void *arg)
{
	struct mgmt *m = arg;
	struct qos_settings s;
	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		pthread_mutex_unlock(&m->lock);
		read_settings(m, &s);
		qos_step(m, m->qos, &s);
		pthread_mutex_lock(&m->lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(s.period_ms % 1000) * 1000000;
		until.tv_sec += s.period_ms / 1000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (!m->stopping &&
		       pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int api_qos_start(struct mgmt *m)
{
	struct qos_controller_config cfg;
	if (!m->stats)
		return 0; /* nothing recorded, nothing to control (unit tests) */
	struct api_qos *q = calloc(1, sizeof(*q));
	if (q && !(q->gate_vms = calloc(GATE_VMS + 1, sizeof(*q->gate_vms)))) {
		free(q);
		q = NULL;
	}
	if (!q)
		return -ENOMEM;
	qos_controller_config_default(&cfg);
	int rc = api_pool_load_create(&q->load) ?: qos_table_create_pool(m->cs, &q->table);
	if (!rc)
		rc = qos_controller_create(&cfg, q->table, &q->ctl);
	m->qos = q;
	if (!rc)
		rc = -pthread_create(&q->thread, NULL, qos_main, m);
	q->running = !rc;
	return rc;
}

void api_qos_stop(struct mgmt *m)
{
	struct api_qos *q = m->qos;
	if (!q)
		return;
	if (q->running) /* m->stopping is set and broadcast */
		pthread_join(q->thread, NULL);
	if (q->gate_on) /* the targets may outlive the API: nothing waits for policies */
		gate_off(m, q);
	free(q->gate_vms);
	qos_controller_destroy(q->ctl);
	qos_table_destroy(q->table);
	api_pool_load_destroy(q->load);
	free(q->prev);
	free(q);
	m->qos = NULL;
}

json_t *api_qos_pool_load(struct mgmt *m, const struct mgmt_pool *pool)
{
	return api_pool_load_json(m->qos ? m->qos->load : NULL, (unsigned)(pool - m->pools.pool));
}

/* ---- GET /api/v1/qos-status ------------------------------------------------ */

static json_t *host_json(const struct qos_readout_host *h)
{
	return json_pack("{s:s, s:i, s:f, s:i, s:f, s:f, s:f, s:f, s:f}", "host", h->host, "shares",
			 (int)h->shares, "window", h->window, "window_ios", (int)h->window_ios,
			 "latency_us", h->latency_us, "raw_latency_us", h->raw_latency_us, "iops",
			 h->iops, "mean_bytes", h->mean_bytes, "outstanding", h->outstanding);
}

static json_t *gate_vm_json(const struct qos_gate_vm_status *v)
{
	return json_pack("{s:s, s:i, s:f, s:f, s:i, s:I, s:I, s:I, s:I}", "name", v->name, "shares",
			 (int)v->policy.shares, "reservation_iops", v->policy.reservation_iops,
			 "limit_iops", v->policy.limit_iops, "volumes", (int)v->volumes, "queued",
			 (json_int_t)v->queued, "dispatched_reservation",
			 (json_int_t)v->dispatched_reservation, "dispatched_shares",
			 (json_int_t)v->dispatched_shares, "held_by_limit",
			 (json_int_t)v->held_by_limit);
}

/* The gate's state, or null when the daemon has none (or it cannot be read). */
static json_t *gate_json(struct mgmt *m)
{
	struct qos_gate_status g;
	if (!m->gate || qos_gate_status(m->gate, &g))
		return json_null();
	json_t *vms = json_array();
	for (size_t i = 1; i < g.nvms; i++)
		json_array_append_new(vms, gate_vm_json(&g.vms[i]));
	const struct qos_gate_vm_status *u = &g.vms[0];
	json_t *j = json_pack("{s:b, s:i, s:i, s:I, s:I, s:I, s:{s:I, s:I}, s:o}", "active",
			      g.active, "capacity", (int)g.capacity, "inflight", (int)g.inflight,
			      "queued", (json_int_t)g.queued, "deferred", (json_int_t)g.deferred,
			      "deferred_errors", (json_int_t)g.deferred_errors, "unmanaged",
			      "queued", (json_int_t)u->queued, "dispatched",
			      (json_int_t)(u->dispatched_reservation + u->dispatched_shares), "vms",
			      vms);
	qos_gate_status_free(&g);
	return j ? j : json_null();
}

static json_t *status_json(struct mgmt *m, const struct qos_readout *r)
{
	static const char *const sources[] = { "policy", "automatic", "default" };
	struct qos_settings s;
	read_settings(m, &s);
	json_t *hosts = json_array();
	for (size_t i = 0; i < r->nhosts; i++)
		json_array_append_new(hosts, host_json(&r->hosts[i]));
	json_t *pools = json_array();
	for (unsigned i = 0; i < m->pools.count; i++) {
		json_t *load = api_pool_load_json(m->qos->load, i);
		json_object_set_new(load, "pool", json_string(m->pools.pool[i].name));
		json_array_append_new(pools, load);
	}
	return json_pack("{s:b, s:s, s:i, s:f, s:s, s:f, s:f, s:{s:f, s:f, s:b}, "
			 "s:{s:b, s:o, s:o, s:I}, s:o, s:o, s:o, s:o}",
			 "enabled", s.enabled, "law", r->law == QOS_PARDA_PLAIN ? "plain" : "target",
			 "period_ms", (int)r->period_ms, "threshold_us", r->threshold_us,
			 "threshold_source", sources[r->threshold_source], "peak_iops", r->peak_iops,
			 "cluster_latency_us", r->cluster_latency_us, "cost", "fixed_us",
			 r->cost.fixed_us, "us_per_kib", r->cost.us_per_kib, "learned",
			 r->cost.fixed_known && r->cost.slope_known, "anomaly", "active",
			 r->anomaly.active, "since",
			 r->anomaly.since_ms ? api_time(r->anomaly.since_ms * 1000000) : json_null(),
			 "detected",
			 r->anomaly.detected_ms ? api_time(r->anomaly.detected_ms * 1000000)
						: json_null(),
			 "events", (json_int_t)r->anomaly.events, "hosts", hosts, "gate",
			 gate_json(m), "pools", pools, "advice", api_pool_advice_json(m, m->qos->load));
}

static void get_status(struct api_call *c)
{
	struct qos_readout r;
	if (!c->m->qos) {
		api_problem(c, 404, "not-found", NULL, "this daemon runs no QoS control");
		return;
	}
	int rc = qos_controller_readout(c->m->qos->ctl, &r);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the QoS controller");
		return;
	}
	api_json(c, 200, status_json(c->m, &r));
	qos_readout_free(&r);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/qos-status", 0, ROLE_READ, get_status },
};
API_ROUTE_TABLE(api_qos_status_routes, routes);
