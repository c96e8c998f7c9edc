/*
 * controller.c - one QoS controller per slated process and pool: hosts and
 * their shares, VMs and their policies, and the period tick that turns the
 * period's IO into normalized latencies, table entries, the cluster
 * latency, the threshold in use, every host's window and the anomaly
 * state (qos.h says how).
 *
 * Everything is under c->lock.  Hosts and VMs are arrays searched
 * linearly: a pool has tens of hosts, and the targets look their window up
 * once per period per session, not per IO.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qos/internal.h"

struct ctl_host {
	char name[QOS_HOST_MAX + 1];
	uint32_t shares;
	double window;          /* reference IOs */
	double ios_per_ref;     /* window_ios = window * ios_per_ref */
	uint32_t window_ios;
	uint64_t ios, bytes, latency_ns; /* the period in progress */
	struct qos_readout_host last;    /* the last period */
};

struct ctl_vm {
	uint32_t vm;
	struct qos_mclock_policy p;
};

struct qos_controller {
	pthread_mutex_t lock;
	struct qos_controller_config cfg;
	struct qos_table *table;
	struct qos_cost *cost;
	struct qos_threshold *threshold;
	struct qos_anomaly *anomaly;
	struct ctl_host *hosts;
	size_t nhosts, hosts_cap;
	struct ctl_vm *vms;
	size_t nvms, vms_cap;
	bool started;
	int64_t last_ms;
	double lbar_us;          /* as used by the law (smoothed if configured) */
	double lbar_raw_us;      /* the table's average */
	size_t table_hosts;
	double threshold_us;
	enum qos_threshold_source source;
	double peak_iops;
};

void qos_controller_config_default(struct qos_controller_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->node, "slated");
	cfg->period_ms = 500;
	cfg->threshold_us = 0;
	cfg->threshold_default_us = 30000;
	cfg->threshold_fraction = 0.9;
	cfg->latency_alpha = 0;
	cfg->ref_bytes = QOS_REF_IO_BYTES;
	cfg->cost_decay = 0.98;
	cfg->stale_periods = 3;
	qos_parda_config_default(&cfg->parda);
	qos_anomaly_config_default(&cfg->anomaly);
}

static bool config_ok(const struct qos_controller_config *cfg)
{
	const struct qos_parda_config *p = &cfg->parda;
	size_t node = strnlen(cfg->node, sizeof(cfg->node));
	return node < sizeof(cfg->node) && cfg->period_ms >= 10 && cfg->threshold_us >= 0 &&
	       cfg->threshold_default_us > 0 && cfg->threshold_fraction > 0 &&
	       cfg->threshold_fraction < 1 && cfg->latency_alpha >= 0 && cfg->latency_alpha < 1 &&
	       cfg->stale_periods >= 1 && p->window_min > 0 && p->window_max >= p->window_min &&
	       p->gamma > 0 && p->gamma <= 1 && p->gain > 0 && p->gain <= 1 && p->step_max > 1 &&
	       p->beta_per_share >= 0 && (p->law == QOS_PARDA_PLAIN || p->law == QOS_PARDA_TARGET);
}

int qos_controller_create(const struct qos_controller_config *cfg, struct qos_table *table,
			  struct qos_controller **out)
{
	if (!cfg || !table || !out || !config_ok(cfg))
		return -EINVAL;
	struct qos_controller *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->cfg = *cfg;
	if (!c->cfg.node[0])
		strcpy(c->cfg.node, "slated");
	c->table = table;
	int rc = qos_cost_create(cfg->ref_bytes, cfg->cost_decay, &c->cost);
	if (!rc)
		rc = qos_threshold_create(cfg->threshold_fraction, 0.9, &c->threshold);
	if (!rc)
		rc = qos_anomaly_create(&cfg->anomaly, &c->anomaly);
	if (rc) {
		qos_controller_destroy(c);
		return rc;
	}
	c->threshold_us = cfg->threshold_us > 0 ? cfg->threshold_us : cfg->threshold_default_us;
	c->source = cfg->threshold_us > 0 ? QOS_THRESHOLD_POLICY : QOS_THRESHOLD_DEFAULT;
	*out = c;
	return 0;
}

void qos_controller_destroy(struct qos_controller *c)
{
	if (!c)
		return;
	qos_cost_destroy(c->cost);
	qos_threshold_destroy(c->threshold);
	qos_anomaly_destroy(c->anomaly);
	free(c->hosts);
	free(c->vms);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- hosts and VMs --------------------------------------------------------------- */

static struct ctl_host *host_find(struct qos_controller *c, const char *name)
{
	for (size_t i = 0; i < c->nhosts; i++)
		if (!strcmp(c->hosts[i].name, name))
			return &c->hosts[i];
	return NULL;
}

static uint32_t window_ios(const struct ctl_host *h)
{
	double ios = round(h->window * h->ios_per_ref);
	return ios < 1 ? 1 : ios > UINT32_MAX ? UINT32_MAX : (uint32_t)ios;
}

int qos_controller_set_host(struct qos_controller *c, const char *host, uint32_t shares)
{
	size_t len = host ? strnlen(host, QOS_HOST_MAX + 1) : 0;
	if (!c || len < 1 || len > QOS_HOST_MAX || !shares)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	struct ctl_host *h = host_find(c, host);
	if (!h) {
		if (c->nhosts == c->hosts_cap) {
			size_t cap = c->hosts_cap ? c->hosts_cap * 2 : 8;
			struct ctl_host *hosts = realloc(c->hosts, cap * sizeof(*hosts));
			if (!hosts) {
				rc = -ENOMEM;
				goto out;
			}
			c->hosts = hosts;
			c->hosts_cap = cap;
		}
		h = &c->hosts[c->nhosts++];
		memset(h, 0, sizeof(*h));
		memcpy(h->name, host, len);
		h->window = c->cfg.parda.window_initial;
		if (h->window < c->cfg.parda.window_min)
			h->window = c->cfg.parda.window_min;
		if (h->window > c->cfg.parda.window_max)
			h->window = c->cfg.parda.window_max;
		h->ios_per_ref = 1;
		h->window_ios = window_ios(h);
	}
	h->shares = shares;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int qos_controller_remove_host(struct qos_controller *c, const char *host)
{
	if (!c || !host)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	struct ctl_host *h = host_find(c, host);
	int rc = h ? 0 : -ENOENT;
	if (h) {
		qos_table_remove(c->table, c->cfg.node, host); /* else it goes stale */
		*h = c->hosts[--c->nhosts];
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void qos_controller_set_threshold(struct qos_controller *c, double threshold_us)
{
	pthread_mutex_lock(&c->lock);
	c->cfg.threshold_us = threshold_us > 0 ? threshold_us : 0;
	if (threshold_us > 0) {
		c->threshold_us = threshold_us;
		c->source = QOS_THRESHOLD_POLICY;
	} else if (c->source == QOS_THRESHOLD_POLICY) {
		c->threshold_us = c->cfg.threshold_default_us;
		c->source = QOS_THRESHOLD_DEFAULT; /* until the next tick's estimate */
	}
	pthread_mutex_unlock(&c->lock);
}

void qos_controller_set_law(struct qos_controller *c, enum qos_parda_law law)
{
	pthread_mutex_lock(&c->lock);
	c->cfg.parda.law = law;
	pthread_mutex_unlock(&c->lock);
}

void qos_controller_pin_cost(struct qos_controller *c, double fixed_us, double us_per_kib)
{
	pthread_mutex_lock(&c->lock);
	qos_cost_pin(c->cost, fixed_us, us_per_kib);
	pthread_mutex_unlock(&c->lock);
}

static struct ctl_vm *vm_find(struct qos_controller *c, uint32_t vm)
{
	for (size_t i = 0; i < c->nvms; i++)
		if (c->vms[i].vm == vm)
			return &c->vms[i];
	return NULL;
}

int qos_controller_set_vm(struct qos_controller *c, uint32_t vm, const struct qos_mclock_policy *p)
{
	if (!c || !p || p->reservation_iops < 0 || p->limit_iops < 0 ||
	    (p->limit_iops > 0 && p->reservation_iops > p->limit_iops))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	struct ctl_vm *v = vm_find(c, vm);
	if (!v) {
		if (c->nvms == c->vms_cap) {
			size_t cap = c->vms_cap ? c->vms_cap * 2 : 8;
			struct ctl_vm *vms = realloc(c->vms, cap * sizeof(*vms));
			if (!vms) {
				rc = -ENOMEM;
				goto out;
			}
			c->vms = vms;
			c->vms_cap = cap;
		}
		v = &c->vms[c->nvms++];
		v->vm = vm;
	}
	v->p = *p;
	if (!v->p.shares)
		v->p.shares = 1;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int qos_controller_remove_vm(struct qos_controller *c, uint32_t vm)
{
	pthread_mutex_lock(&c->lock);
	struct ctl_vm *v = vm_find(c, vm);
	if (v)
		*v = c->vms[--c->nvms];
	pthread_mutex_unlock(&c->lock);
	return v ? 0 : -ENOENT;
}

int qos_controller_vm_policy(struct qos_controller *c, uint32_t vm, struct qos_mclock_policy *out)
{
	pthread_mutex_lock(&c->lock);
	struct ctl_vm *v = vm_find(c, vm);
	if (v)
		*out = v->p;
	pthread_mutex_unlock(&c->lock);
	return v ? 0 : -ENOENT;
}

/* ---- IO ------------------------------------------------------------------------------ */

int qos_controller_observe(struct qos_controller *c, const char *host, uint64_t ios,
			   uint64_t bytes, uint64_t latency_sum_ns)
{
	if (!c || !host)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	struct ctl_host *h = host_find(c, host);
	if (h && ios) {
		h->ios += ios;
		h->bytes += bytes;
		h->latency_ns += latency_sum_ns;
		qos_cost_observe(c->cost, ios, bytes, latency_sum_ns);
	}
	pthread_mutex_unlock(&c->lock);
	return h ? 0 : -ENOENT;
}

int qos_controller_observe_counts(struct qos_controller *c, const char *host,
				  const struct qos_stream_counts *before,
				  const struct qos_stream_counts *after)
{
	if (!before || !after)
		return -EINVAL;
	return qos_controller_observe(c, host,
				      (after->read_ios - before->read_ios) +
				      (after->write_ios - before->write_ios),
				      (after->read_bytes - before->read_bytes) +
				      (after->write_bytes - before->write_bytes),
				      after->latency_sum_ns - before->latency_sum_ns);
}

double qos_controller_io_cost(struct qos_controller *c, uint32_t bytes)
{
	pthread_mutex_lock(&c->lock);
	double units = qos_cost_units(c->cost, bytes);
	pthread_mutex_unlock(&c->lock);
	return units;
}

int qos_controller_window(struct qos_controller *c, const char *host, uint32_t *out)
{
	if (!c || !host || !out)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	struct ctl_host *h = host_find(c, host);
	if (h)
		*out = h->window_ios;
	pthread_mutex_unlock(&c->lock);
	return h ? 0 : -ENOENT;
}

/* ---- the period --------------------------------------------------------------------- */

/* The host's last period from its counts (period_s long). */
static void host_period(struct qos_controller *c, struct ctl_host *h, double period_s)
{
	struct qos_readout_host *r = &h->last;
	memset(r, 0, sizeof(*r));
	memcpy(r->host, h->name, sizeof(r->host));
	r->shares = h->shares;
	if (!h->ios)
		return;
	double ios = (double)h->ios;
	r->raw_latency_us = (double)h->latency_ns / ios / 1000.0;
	r->mean_bytes = (double)h->bytes / ios;
	r->latency_us = qos_cost_normalize_us(c->cost, r->raw_latency_us, r->mean_bytes);
	r->iops = ios / period_s;
	double units = qos_cost_units(c->cost, r->mean_bytes);
	/* Little's law, in reference IOs at the normalized latency */
	r->outstanding = r->iops * units * r->latency_us / 1e6;
	h->ios_per_ref = r->raw_latency_us / r->latency_us / units;
}

static void update_threshold(struct qos_controller *c, const struct qos_table_entry *e,
			     size_t n)
{
	if (c->cfg.threshold_us > 0) {
		c->threshold_us = c->cfg.threshold_us;
		c->source = QOS_THRESHOLD_POLICY;
		return;
	}
	double in_flight = 0, iops = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].ios || !(e[i].latency_us > 0))
			continue;
		in_flight += e[i].outstanding;
		iops += e[i].outstanding / (e[i].latency_us / 1e6); /* Little */
	}
	if (in_flight > 0)
		qos_threshold_observe(c->threshold, in_flight, iops, c->lbar_raw_us);
	double lat, peak;
	if (qos_threshold_estimate(c->threshold, &lat, &peak, NULL) == 0) {
		c->threshold_us = lat;
		c->peak_iops = peak;
		c->source = QOS_THRESHOLD_AUTOMATIC;
	} else {
		c->threshold_us = c->cfg.threshold_default_us;
		c->source = QOS_THRESHOLD_DEFAULT;
	}
}

int qos_controller_tick(struct qos_controller *c, int64_t now_ms)
{
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	struct qos_table_entry *mine = NULL, *all = NULL;
	size_t nall = 0;
	if (c->started && now_ms <= c->last_ms) {
		rc = -EAGAIN;
		goto out;
	}
	if (!c->started) {
		c->started = true;
		c->last_ms = now_ms;
		for (size_t i = 0; i < c->nhosts; i++)
			c->hosts[i].ios = c->hosts[i].bytes = c->hosts[i].latency_ns = 0;
		qos_cost_end_period(c->cost); /* drops the observations: no period yet */
		goto out;
	}
	double period_s = (double)(now_ms - c->last_ms) / 1000.0;
	uint32_t period_ms = (uint32_t)(now_ms - c->last_ms);
	qos_cost_end_period(c->cost);
	if (c->nhosts && !(mine = calloc(c->nhosts, sizeof(*mine)))) {
		rc = -ENOMEM; /* windows stay; the counts go to the next period */
		goto out;
	}
	for (size_t i = 0; i < c->nhosts; i++) {
		struct ctl_host *h = &c->hosts[i];
		host_period(c, h, period_s);
		struct qos_table_entry *e = &mine[i];
		memcpy(e->node, c->cfg.node, sizeof(e->node));
		memcpy(e->host, h->name, sizeof(e->host));
		e->time_ms = now_ms;
		e->latency_us = h->last.latency_us;
		e->ios = h->ios;
		e->window = h->window;
		/* window_ios is still the period's; ios_per_ref is now the period's too */
		e->window_held = h->window_ios / h->ios_per_ref;
		e->outstanding = h->last.outstanding;
		e->shares = h->shares;
		e->period_ms = period_ms;
		h->ios = h->bytes = h->latency_ns = 0;
	}
	int table_rc = qos_table_publish(c->table, mine, c->nhosts);
	int read_rc = qos_table_read(c->table, now_ms,
				     (int64_t)c->cfg.stale_periods * c->cfg.period_ms, &all, &nall);
	if (read_rc < 0) { /* decide from our own hosts */
		all = NULL;
		nall = 0;
	}
	const struct qos_table_entry *entries = read_rc < 0 ? mine : all;
	size_t count = read_rc < 0 ? c->nhosts : nall;
	c->table_hosts = count;
	c->lbar_raw_us = qos_table_average_us(entries, count);
	if (c->lbar_raw_us > 0)
		c->lbar_us = c->cfg.latency_alpha > 0 && c->lbar_us > 0
				     ? c->cfg.latency_alpha * c->lbar_us +
					       (1 - c->cfg.latency_alpha) * c->lbar_raw_us
				     : c->lbar_raw_us;
	update_threshold(c, entries, count);
	for (size_t i = 0; i < c->nhosts; i++) {
		struct ctl_host *h = &c->hosts[i];
		h->window = qos_parda_next_window(&c->cfg.parda, c->threshold_us,
						  c->lbar_raw_us > 0 ? c->lbar_us : 0, &mine[i],
						  entries, count);
		h->window_ios = window_ios(h);
		h->last.window = h->window;
		h->last.window_ios = h->window_ios;
	}
	qos_anomaly_update(c->anomaly, now_ms, c->threshold_us, c->lbar_raw_us,
			   c->cfg.parda.window_min, entries, count);
	c->last_ms = now_ms;
	rc = table_rc < 0 ? table_rc : read_rc < 0 ? read_rc : 0;
out:
	free(mine);
	free(all);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- read-out ------------------------------------------------------------------------ */

int qos_controller_readout(struct qos_controller *c, struct qos_readout *out)
{
	if (!c || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	if ((c->nhosts && !(out->hosts = calloc(c->nhosts, sizeof(*out->hosts)))) ||
	    (c->nvms && !(out->vms = calloc(c->nvms, sizeof(*out->vms))))) {
		qos_readout_free(out);
		rc = -ENOMEM;
		goto out;
	}
	out->time_ms = c->last_ms;
	out->period_ms = c->cfg.period_ms;
	out->law = c->cfg.parda.law;
	out->threshold_us = c->threshold_us;
	out->threshold_source = c->source;
	out->peak_iops = c->source == QOS_THRESHOLD_AUTOMATIC ? c->peak_iops : 0;
	out->cluster_latency_us = c->lbar_raw_us;
	out->table_hosts = c->table_hosts;
	qos_cost_params(c->cost, &out->cost);
	qos_anomaly_get(c->anomaly, &out->anomaly);
	for (size_t i = 0; i < c->nhosts; i++) {
		out->hosts[i] = c->hosts[i].last;
		memcpy(out->hosts[i].host, c->hosts[i].name, sizeof(out->hosts[i].host));
		out->hosts[i].shares = c->hosts[i].shares;
		out->hosts[i].window = c->hosts[i].window;
		out->hosts[i].window_ios = c->hosts[i].window_ios;
	}
	out->nhosts = c->nhosts;
	for (size_t i = 0; i < c->nvms; i++) {
		out->vms[i].vm = c->vms[i].vm;
		out->vms[i].policy = c->vms[i].p;
	}
	out->nvms = c->nvms;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void qos_readout_free(struct qos_readout *r)
{
	if (!r)
		return;
	free(r->hosts);
	free(r->vms);
	r->hosts = NULL;
	r->vms = NULL;
	r->nhosts = r->nvms = 0;
}
