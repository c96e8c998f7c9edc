/*
 * reconf.c - iscsi_server_apply_config: changing what a running server
 * serves (targets, LUN mappings, ACLs, CHAP) without a restart.
 *
 * Who does what: the caller's thread checks the configuration and resolves
 * volume names through the server's finder (cowstore and the finder may be
 * called from any thread), then hands the
 * request to the event loop, which owns the targets, through srv->reconf
 * and the notify eventfd; the loop makes its table match between two
 * events (sync_targets), so nothing that serves commands takes a lock, and
 * the caller waits on reconf_cond until it is done.  Before start and after
 * stop no loop runs and the caller applies the request itself, holding
 * reconf_lock, which iscsi_server_start/_stop take to hand the targets to
 * the loop and back (loop_owns).  Lock order: reconf_lock, then
 * sessions_lock (conn_release takes it on the loop, never under reconf_lock).
 *
 * A LUN removed while commands run on it is absent for new commands at once
 * (target/scsi); mapping the same number again waits until those have
 * finished, so a request may take several rounds of the loop (reconf_retry).
 * sync_targets only moves the table towards the request, so running it
 * again is harmless.  A LUN matches its configuration when the name
 * resolves to the volume it serves or to the one it was mapped with (a
 * volume move switched it, and the name still resolves to the old volume).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "target/iscsi/internal.h"

struct reconf {
	const struct iscsi_config *cfg;   /* the caller's; it waits while we use it */
	struct lun_binding (*volumes)[ISCSI_MAX_TARGET_LUNS]; /* of cfg->targets[i].luns[j] */
	bool done;
	int rc;
	char why[256];
};

static int fail(char *why, size_t why_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t why_len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && why_len)
		vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- the caller's side: check, resolve ------------------------------- */

static int check_config(struct iscsi_server *srv, const struct iscsi_config *cfg,
			struct reconf *rq)
{
	if (cfg->ntargets > ISCSI_MAX_TARGETS)
		return fail(rq->why, sizeof(rq->why), -EINVAL, "at most %d targets",
			    ISCSI_MAX_TARGETS);
	int rc = config_check_auth(&cfg->discovery, "discovery", rq->why, sizeof(rq->why));
	for (unsigned i = 0; i < cfg->ntargets && !rc; i++) {
		const struct iscsi_target_config *t = &cfg->targets[i];
		rc = config_check_target(t, rq->why, sizeof(rq->why));
		for (unsigned j = 0; j < i && !rc; j++)
			if (!strcasecmp(cfg->targets[j].iqn, t->iqn))
				rc = fail(rq->why, sizeof(rq->why), -EINVAL,
					  "target %s is configured twice", t->iqn);
		for (unsigned j = 0; j < t->nluns && !rc; j++) {
			struct lun_binding *v = &rq->volumes[i][j];
			rc = config_find_volume(srv->cs, &srv->finder, t->luns[j].volume, &v->cs,
						&v->volume_id);
			if (rc == -ENOENT)
				fail(rq->why, sizeof(rq->why), rc, "target %s LUN %llu: no volume named "
				     "'%s'", t->iqn, (unsigned long long)t->luns[j].lun,
				     t->luns[j].volume);
			else if (rc)
				fail(rq->why, sizeof(rq->why), rc, "target %s LUN %llu: cannot look up "
				     "volume '%s': %s", t->iqn, (unsigned long long)t->luns[j].lun,
				     t->luns[j].volume, strerror(-rc));
		}
	}
	return rc;
}

/* ---- the loop's side: make the table match ------------------------------ */

static const struct iscsi_target_config *config_target(const struct iscsi_config *cfg,
						       const char *iqn)
{
	for (unsigned i = 0; i < cfg->ntargets; i++)
		if (!strcasecmp(cfg->targets[i].iqn, iqn))
			return &cfg->targets[i];
	return NULL;
}

/* The session of an initiator that t's new ACL leaves out ends now; one
 * that authenticated with CHAP that has since changed keeps going (it
 * proved itself when it logged in). */
static void close_disallowed(struct iscsi_server *srv, struct target_entry *t)
{
	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->target == t && !c->dead && c->initiator[0] &&
		    !access_allows(&t->access, c->initiator))
			conn_fail(c, "the target's ACL no longer admits this initiator");
}

/* Does LUN lun of t serve volume v (or was it mapped with v, and switched
 * since by a volume move)?  Then v is what its name resolves to now. */
static bool lun_matches(struct target_entry *t, uint64_t lun, const struct lun_binding *v)
{
	if (!binding_equal(&t->served[lun], v) && !binding_equal(&t->configured[lun], v))
		return false;
	t->configured[lun] = *v;
	return true;
}

/* Unmap the LUNs of t that config tc does not map, or maps to another
 * volume; map those it adds.  -EBUSY when a LUN number to map again still
 * drains. */
static int sync_luns(struct iscsi_server *srv, struct target_entry *t,
		     const struct iscsi_target_config *tc, const struct lun_binding *volumes,
		     struct reconf *rq)
{
	bool busy = false;
	for (uint64_t lun = 0; lun < SCSI_MAX_LUNS; lun++) {
		if (!scsi_target_lun_present(t->scsi, lun))
			continue;
		unsigned j = 0;
		while (j < tc->nluns && tc->luns[j].lun != lun)
			j++;
		if (j < tc->nluns && lun_matches(t, lun, &volumes[j]))
			continue;
		scsi_target_remove_lun(t->scsi, lun); /* cannot fail: it is present */
		fprintf(stderr, "iscsi: target %s: LUN %llu unmapped\n", t->iqn,
			(unsigned long long)lun);
	}
	for (unsigned j = 0; j < tc->nluns; j++) {
		uint64_t lun = tc->luns[j].lun;
		if (scsi_target_lun_present(t->scsi, lun))
			continue;
		int rc = iscsi_server_add_lun(srv, t->iqn, lun, volumes[j].cs,
					      volumes[j].volume_id);
		if (rc == -EBUSY) {
			busy = true;
			continue;
		}
		if (rc)
			return fail(rq->why, sizeof(rq->why), rc, "target %s: cannot map volume '%s' "
				    "as LUN %llu: %s", t->iqn, tc->luns[j].volume,
				    (unsigned long long)lun, strerror(-rc));
		fprintf(stderr, "iscsi: target %s: LUN %llu = volume '%s'\n", t->iqn,
			(unsigned long long)lun, tc->luns[j].volume);
	}
	return busy ? -EBUSY : 0;
}

static int sync_targets(struct iscsi_server *srv, struct reconf *rq)
{
	const struct iscsi_config *cfg = rq->cfg;
	bool busy = false;
	int rc = iscsi_server_set_access(srv, NULL, &cfg->discovery, NULL, 0);
	if (rc)
		return fail(rq->why, sizeof(rq->why), rc, "cannot set discovery's access: %s",
			    strerror(-rc));
	for (int i = srv->ntargets - 1; i >= 0; i--) {
		struct target_entry *t = srv->targets[i];
		if (config_target(cfg, t->iqn))
			continue;
		fprintf(stderr, "iscsi: target %s removed; its sessions end\n", t->iqn);
		server_remove_target(srv, t);
	}
	for (unsigned i = 0; i < cfg->ntargets; i++) {
		const struct iscsi_target_config *tc = &cfg->targets[i];
		struct target_entry *t = server_find_target(srv, tc->iqn);
		if (!t) {
			rc = iscsi_server_add_target(srv, tc->iqn);
			if (rc)
				return fail(rq->why, sizeof(rq->why), rc, "cannot add target %s: %s",
					    tc->iqn, strerror(-rc));
			t = server_find_target(srv, tc->iqn);
			fprintf(stderr, "iscsi: target %s added\n", tc->iqn);
		}
		rc = iscsi_server_set_access(srv, tc->iqn, &tc->auth, tc->acl, tc->nacl);
		if (rc)
			return fail(rq->why, sizeof(rq->why), rc, "target %s: cannot set its "
				    "access: %s", tc->iqn, strerror(-rc));
		close_disallowed(srv, t);
		rc = sync_luns(srv, t, tc, rq->volumes[i], rq);
		if (rc == -EBUSY)
			busy = true;
		else if (rc)
			return rc;
	}
	return busy ? -EBUSY : 0;
}

void reconf_service(struct iscsi_server *srv)
{
	pthread_mutex_lock(&srv->reconf_lock);
	struct reconf *rq = srv->reconf;
	pthread_mutex_unlock(&srv->reconf_lock);
	if (!rq)
		return;
	int rc = sync_targets(srv, rq);
	srv->reconf_retry = rc == -EBUSY;
	if (srv->reconf_retry)
		return;
	pthread_mutex_lock(&srv->reconf_lock);
	rq->rc = rc;
	rq->done = true;
	srv->reconf = NULL;
	pthread_cond_broadcast(&srv->reconf_cond);
	pthread_mutex_unlock(&srv->reconf_lock);
}

int iscsi_server_apply_config(struct iscsi_server *srv, const struct iscsi_config *cfg,
			      char *why, size_t why_len)
{
	if (!srv || !cfg)
		return fail(why, why_len, -EINVAL, "no server or no configuration");
	struct reconf rq = { .cfg = cfg };
	rq.volumes = calloc(ISCSI_MAX_TARGETS, sizeof(*rq.volumes));
	if (!rq.volumes)
		return fail(why, why_len, -ENOMEM, "out of memory");
	int rc = check_config(srv, cfg, &rq);
	if (rc)
		goto out;
	uint64_t one = 1;
	pthread_mutex_lock(&srv->reconf_lock);
	while (srv->reconf) /* one request at a time */
		pthread_cond_wait(&srv->reconf_cond, &srv->reconf_lock);
	if (!srv->loop_owns) {
		/* No loop: this thread may touch the targets; the lock keeps
		 * iscsi_server_start from handing them over meanwhile.  Nothing
		 * runs, so no LUN drains. */
		rc = sync_targets(srv, &rq);
		pthread_mutex_unlock(&srv->reconf_lock);
		goto out;
	}
	srv->reconf = &rq;
	if (write(srv->notify_fd, &one, sizeof(one)) < 0) {
		rc = fail(rq.why, sizeof(rq.why), -errno, "cannot wake the event loop: %s",
			  strerror(errno));
		srv->reconf = NULL;
		pthread_mutex_unlock(&srv->reconf_lock);
		goto out;
	}
	while (!rq.done)
		pthread_cond_wait(&srv->reconf_cond, &srv->reconf_lock);
	rc = rq.rc;
	pthread_mutex_unlock(&srv->reconf_lock);
out:
	if (rc)
		fail(why, why_len, rc, "%s", rq.why);
	free(rq.volumes);
	return rc;
}
