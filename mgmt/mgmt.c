/*
 * mgmt.c - the management plane's life: create (load events, first-start
 * credentials), start (the management thread, the QoS loop, then HTTP),
 * stop (HTTP first, so no request starts work after; then the threads) and
 * destroy (waits for running tasks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "qos/qos.h"

static void log_stderr(void *arg, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

/* The whole of a small file (a PEM certificate or key) as a string. */
static int read_text(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;
	int rc = f ? 0 : -errno;
	if (f) {
		text = malloc(65537);
		len = text ? fread(text, 1, 65536, f) : 0;
		if (!text || ferror(f) || len == 65536)
			rc = text ? -EFBIG : -ENOMEM;
		fclose(f);
	}
	if (rc) {
		free(text);
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	text[len] = '\0';
	*out = text;
	return 0;
}

int mgmt_create(const struct mgmt_options *opts, struct mgmt **out, char *err, size_t errlen)
{
	if (!opts->cs || !opts->data_dir || (!opts->tls_cert_file != !opts->tls_key_file)) {
		snprintf(err, errlen, "mgmt needs a pool, a data directory, and a TLS certificate "
			 "and key together or neither");
		return -EINVAL;
	}
	struct mgmt *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cs = opts->cs;
	if (opts->pools) {
		m->pools = *opts->pools;
	} else {
		struct cowstore_pool_info info;
		m->pools.count = 1;
		m->pools.pool[0] = (struct mgmt_pool){ MGMT_PRIMARY_POOL, "", opts->cs,
						       cowstore_pool_info(opts->cs, &info) ? 1
						       : info.first_id };
		snprintf(m->pools.pool[0].dir, sizeof(m->pools.pool[0].dir), "%s", opts->data_dir);
	}
	m->iscsi = opts->iscsi;
	m->nfs = opts->nfs;
	m->stats = opts->stats;
	m->history = opts->history;
	m->gate = opts->gate;
	snprintf(m->data_dir, sizeof(m->data_dir), "%s", opts->data_dir);
	snprintf(m->listen, sizeof(m->listen), "%s", opts->listen ? opts->listen : "127.0.0.1:8080");
	snprintf(m->web_root, sizeof(m->web_root), "%s", opts->web_root ? opts->web_root : "");
	m->http_threads = opts->http_threads ? opts->http_threads : 4;
	m->no_scheduler = opts->no_scheduler;
	m->clock = opts->clock;
	m->clock_arg = opts->clock_arg;
	m->log = opts->log ? opts->log : log_stderr;
	m->log_arg = opts->log_arg;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	int rc = 0;
	if (opts->tls_cert_file)
		rc = read_text(opts->tls_cert_file, &m->tls_cert, err, errlen);
	if (!rc && opts->tls_key_file)
		rc = read_text(opts->tls_key_file, &m->tls_key, err, errlen);
	if (!rc && (rc = api_idem_create(m) ?: api_tasks_create(m)))
		snprintf(err, errlen, "out of memory");
	if (!rc && (rc = api_events_load(m)))
		snprintf(err, errlen, "cannot read the events: %s", strerror(-rc));
	if (!rc)
		rc = api_auth_bootstrap(m, err, errlen);
	if (!rc && (rc = api_sched_create(m)))
		snprintf(err, errlen, "out of memory");
	if (!rc && (rc = api_vm_groups_load(m)))
		snprintf(err, errlen, "cannot read the VMs: %s", strerror(-rc));
	if (rc) {
		mgmt_destroy(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* The management thread: once a second, on the second. */
static void *housekeeping(void *arg)
{
	struct mgmt *m = arg;
	int64_t minute = -1; /* of the last scheduler tick */
	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		pthread_mutex_unlock(&m->lock);
		api_events_drain(m);
		int64_t now_s = api_now_ns(m) / 1000000000;
		if (!m->no_scheduler && minute < 0)
			api_sched_catch_up(m, now_s);
		if (!m->no_scheduler && now_s / 60 != minute)
			mgmt_scheduler_tick(m, now_s);
		minute = now_s / 60;
		if (m->history)
			qos_history_sample(m->history, api_now_ns(m) / 1000000000);
		pthread_mutex_lock(&m->lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec++;
		until.tv_nsec = 0;
		while (!m->stopping &&
		       pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->lock);
	api_events_drain(m);
	return NULL;
}

int mgmt_start(struct mgmt *m, char *err, size_t errlen)
{
	int rc = -pthread_create(&m->thread, NULL, housekeeping, m);
	if (rc) {
		snprintf(err, errlen, "cannot start the management thread: %s", strerror(-rc));
		return rc;
	}
	m->thread_running = true;
	rc = api_qos_start(m);
	if (rc)
		snprintf(err, errlen, "cannot start QoS control: %s", strerror(-rc));
	if (!rc)
		rc = api_http_start(m, err, errlen);
	if (rc)
		mgmt_stop(m);
	return rc;
}

uint16_t mgmt_port(const struct mgmt *m)
{
	return m->port;
}

void mgmt_stop(struct mgmt *m)
{
	api_http_stop(m);
	pthread_mutex_lock(&m->lock);
	m->stopping = true; /* a volume move gives up (it is undone) rather than hold the stop */
	pthread_cond_broadcast(&m->wake); /* the management thread and the QoS loop */
	pthread_mutex_unlock(&m->lock);
	api_tasks_join(m);
	if (!m->thread_running)
		return;
	pthread_join(m->thread, NULL);
	api_qos_stop(m);
	m->thread_running = false;
}

void mgmt_destroy(struct mgmt *m)
{
	if (!m)
		return;
	mgmt_stop(m);
	api_tasks_stop(m);
	api_idem_destroy(m);
	api_sched_destroy(m);
	free(m->tls_cert);
	free(m->tls_key);
	free(m->queued);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
