/*
 * server.c - the iSCSI server: targets, the listening portal and the event
 * loop thread that owns every connection (see iscsi.h for the threading).
 *
 * The loop waits on the listening sockets (one per portal), a stop eventfd, a notify eventfd
 * (events from other threads: the pool's soft threshold, a configuration to
 * apply, a volume to hold or release), a timer (keepalive and the stop deadline),
 * the cowstore completion queue and every connection.  After each round it writes out
 * what commands queued and frees connections that died and whose commands
 * have all finished: that is the only place a connection is freed.
 *
 * Targets live alone on the heap (see struct target_entry): a removed one
 * is freed by the release of the last connection that refers to it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "target/iscsi/internal.h"

#define MAX_EVENTS 64
#define DEFAULT_NOP_MS 10000u
#define DEFAULT_STOP_GRACE_MS 2000u
#define DEFAULT_LOGIN_TIMEOUT_MS 30000u

/* epoll tags for the server's own descriptors (connections use their pointer) */
static char tag_stop, tag_queue, tag_timer, tag_notify;

uint64_t server_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int iscsi_server_create(struct cowstore *cs, const struct iscsi_server_options *opts,
			struct iscsi_server **out)
{
	if (!cs || !opts || !opts->address || !out)
		return -EINVAL;
	struct iscsi_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cs = cs;
	srv->finder = opts->finder;
	srv->stats = opts->stats;
	srv->gate = opts->gate;
	int rc = iscsi_server_add_portal(srv, opts->address, opts->port);
	if (rc) {
		free(srv);
		return rc;
	}
	srv->nop_interval_ms = opts->nop_interval_ms ? opts->nop_interval_ms : DEFAULT_NOP_MS;
	srv->nop_timeout_ms = opts->nop_timeout_ms ? opts->nop_timeout_ms : DEFAULT_NOP_MS;
	srv->stop_grace_ms = opts->stop_grace_ms ? opts->stop_grace_ms : DEFAULT_STOP_GRACE_MS;
	srv->login_timeout_ms = opts->login_timeout_ms ? opts->login_timeout_ms
						       : DEFAULT_LOGIN_TIMEOUT_MS;
	srv->epoll_fd = srv->stop_fd = srv->timer_fd = srv->notify_fd = -1;
	rc = cowstore_queue_create(cs, &srv->queue);
	if (rc) {
		free(srv);
		return rc;
	}
	pthread_condattr_t monotonic;
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_mutex_init(&srv->sessions_lock, NULL);
	pthread_mutex_init(&srv->reconf_lock, NULL);
	pthread_cond_init(&srv->reconf_cond, &monotonic);
	pthread_condattr_destroy(&monotonic);
	*out = srv;
	return 0;
}

struct target_entry *server_find_target(struct iscsi_server *srv, const char *iqn)
{
	for (int i = 0; i < srv->ntargets; i++)
		if (strcasecmp(srv->targets[i]->iqn, iqn) == 0) /* names ignore case */
			return srv->targets[i];
	return NULL;
}

static void target_free(struct target_entry *t)
{
	scsi_target_destroy(t->scsi);
	free(t->access.acl);
	free(t);
}

void server_target_hold(struct target_entry *t) { t->conns++; }

void server_target_put(struct iscsi_server *srv, struct target_entry *t)
{
	if (--t->conns || !t->removed)
		return;
	struct target_entry **pp = &srv->retired;
	while (*pp && *pp != t)
		pp = &(*pp)->next_retired;
	if (*pp)
		*pp = t->next_retired;
	target_free(t);
}

void server_remove_target(struct iscsi_server *srv, struct target_entry *t)
{
	for (int i = 0; i < srv->ntargets; i++) {
		if (srv->targets[i] == t) { /* SendTargets keeps the order of the rest */
			memmove(&srv->targets[i], &srv->targets[i + 1],
				(size_t)(srv->ntargets - i - 1) * sizeof(srv->targets[0]));
			srv->ntargets--;
			break;
		}
	}
	t->removed = true;
	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->target == t)
			conn_fail(c, "its target was removed");
	if (!t->conns) {
		target_free(t);
		return;
	}
	t->next_retired = srv->retired; /* until its connections are released */
	srv->retired = t;
}

/* ---- persistent reservations with APTPL --------------------------------- */

/* Kept as configuration records "scsi-pr/<iqn>/<lun>".  They are saved on
 * the event loop (a synced RocksDB write), which is a pause for the loop, but
 * only when an initiator changes reservations with APTPL set: rare. */
static void pr_key(char *key, size_t len, const struct target_entry *t, uint64_t lun)
{
	snprintf(key, len, "scsi-pr/%s/%llu", t->iqn, (unsigned long long)lun);
}

static int save_pr(void *arg, uint64_t lun, const void *blob, size_t len)
{
	struct target_entry *t = arg;
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	pr_key(key, sizeof(key), t, lun);
	if (len)
		return cowstore_config_put(t->cs, key, blob, len);
	int rc = cowstore_config_delete(t->cs, key); /* APTPL cleared */
	return rc == -ENOENT ? 0 : rc;
}

/* A damaged record is reported and left out: the LUN serves without it. */
static void load_pr(struct target_entry *t, uint64_t lun)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	void *blob;
	size_t len;
	pr_key(key, sizeof(key), t, lun);
	int rc = cowstore_config_get(t->cs, key, &blob, &len);
	if (rc == -ENOENT)
		return;
	if (!rc) {
		rc = scsi_target_load_pr(t->scsi, lun, blob, len);
		free(blob);
	}
	if (rc)
		fprintf(stderr, "iscsi: target %s LUN %llu: persistent reservations not restored "
			"(%s)\n", t->iqn, (unsigned long long)lun, strerror(-rc));
}

int iscsi_server_add_target(struct iscsi_server *srv, const char *iqn)
{
	if (!iqn || !*iqn || strlen(iqn) > ISCSI_NAME_MAX)
		return -EINVAL;
	if (server_find_target(srv, iqn))
		return -EEXIST;
	if (srv->ntargets == MAX_TARGETS)
		return -ENOSPC;
	struct target_entry *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int rc = scsi_target_create(srv->cs, srv->queue, iqn, &t->scsi);
	if (rc) {
		free(t);
		return rc;
	}
	snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
	t->cs = srv->cs;
	scsi_target_set_pr_save(t->scsi, save_pr, t);
	scsi_target_set_gate(t->scsi, srv->gate);
	srv->targets[srv->ntargets++] = t;
	return 0;
}

int iscsi_server_add_lun(struct iscsi_server *srv, const char *iqn, uint64_t lun,
			 struct cowstore *cs, uint64_t volume_id)
{
	struct target_entry *t = server_find_target(srv, iqn);
	struct lun_binding volume = { cs ? cs : srv->cs, volume_id };
	int rc = t ? scsi_target_add_lun(t->scsi, lun, volume.cs, volume_id) : -ENOENT;
	if (!rc) {
		t->served[lun] = t->configured[lun] = volume;
		load_pr(t, lun);
		holds_apply(srv, t); /* a volume being moved: held from the start */
	}
	return rc;
}

int iscsi_server_set_access(struct iscsi_server *srv, const char *iqn,
			    const struct iscsi_auth *auth, const char (*acl)[ISCSI_NAME_MAX + 1],
			    unsigned nacl)
{
	struct target_entry *t = iqn ? server_find_target(srv, iqn) : NULL;
	struct access *a = iqn ? (t ? &t->access : NULL) : &srv->discovery;
	if (!a)
		return -ENOENT;
	if (!auth || (nacl && !acl) || nacl > ISCSI_MAX_ACL)
		return -EINVAL;
	char (*copy)[ISCSI_NAME_MAX + 1] = nacl ? malloc(nacl * sizeof(*copy)) : NULL;
	if (nacl && !copy)
		return -ENOMEM;
	if (nacl)
		memcpy(copy, acl, nacl * sizeof(*copy));
	free(a->acl);
	a->auth = *auth;
	a->acl = copy;
	a->nacl = nacl;
	return 0;
}

int iscsi_server_add_portal(struct iscsi_server *srv, const char *address, uint16_t port)
{
	unsigned char buf[16];
	if (!address || strlen(address) >= sizeof(srv->portals[0].address) ||
	    (inet_pton(AF_INET, address, buf) != 1 && inet_pton(AF_INET6, address, buf) != 1))
		return -EINVAL;
	if (srv->nportals == ISCSI_MAX_PORTALS)
		return -ENOSPC;
	struct portal *p = &srv->portals[srv->nportals++];
	snprintf(p->address, sizeof(p->address), "%s", address);
	p->port = port;
	p->fd = -1;
	return 0;
}

uint16_t iscsi_server_port(const struct iscsi_server *srv) { return srv->portals[0].port; }

void iscsi_server_thin_threshold_reached(struct iscsi_server *srv)
{
	uint64_t one = 1;
	atomic_store(&srv->thin_threshold, true);
	if (srv->notify_fd >= 0 && write(srv->notify_fd, &one, sizeof(one)) < 0)
		perror("iscsi: cannot wake the event loop");
}

static void on_notify(struct iscsi_server *srv)
{
	uint64_t count;
	if (read(srv->notify_fd, &count, sizeof(count)) < 0)
		return; /* nothing was written after all */
	if (atomic_exchange(&srv->thin_threshold, false))
		for (int i = 0; i < srv->ntargets; i++)
			scsi_target_thin_threshold(srv->targets[i]->scsi);
	reconf_service(srv);
	holds_service(srv);
}

/* ---- sockets ---------------------------------------------------------- */

static int listen_on(struct portal *p)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	if (inet_pton(AF_INET, p->address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(p->port);
		len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, p->address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(p->port);
		len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	p->port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
	p->fd = fd;
	return 0;
}

static struct portal *portal_of(struct iscsi_server *srv, void *tag)
{
	for (unsigned i = 0; i < srv->nportals; i++)
		if (tag == &srv->portals[i])
			return &srv->portals[i];
	return NULL;
}

static int watch(struct iscsi_server *srv, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	return epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* A socket address as text; an IPv4 client of a dual-stack IPv6 socket
 * (::ffff:a.b.c.d) as plain IPv4, the form it can connect to. */
static void address_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)len);
	else if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
		inet_ntop(AF_INET, v6->sin6_addr.s6_addr + 12, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, &v6->sin6_addr, out, (socklen_t)len);
}

static void accept_all(struct iscsi_server *srv, struct portal *p)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(p->fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = conn_new(srv, fd);
		if (!c) {
			close(fd);
			continue;
		}
		address_text(&ss, c->peer, sizeof(c->peer));
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			address_text(&ss, c->local, sizeof(c->local));
	}
}

/* ---- the loop --------------------------------------------------------- */

/* Stop accepting and ask sessions to log out; on_tick closes the rest at
 * the deadline. */
static void begin_stop(struct iscsi_server *srv)
{
	srv->stopping = true;
	srv->stop_deadline_ms = server_now_ms() + srv->stop_grace_ms;
	for (unsigned i = 0; i < srv->nportals; i++) {
		epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, srv->portals[i].fd, NULL);
		close(srv->portals[i].fd);
		srv->portals[i].fd = -1;
	}
	sessions_request_logout(srv, (srv->stop_grace_ms + 999) / 1000);
}

static void on_tick(struct iscsi_server *srv)
{
	uint64_t expirations, now_ms = server_now_ms();
	if (read(srv->timer_fd, &expirations, sizeof(expirations)) < 0)
		return; /* spurious wake-up: nothing expired */
	sessions_tick(srv, now_ms);
	if (srv->stopping && now_ms >= srv->stop_deadline_ms)
		for (struct conn *c = srv->conns; c; c = c->next)
			conn_fail(c, "did not log out before the server stopped");
}

/* The timer ticks often enough for the shortest of the keepalive, login and
 * stop delays to be kept within a quarter of itself. */
static int start_timer(struct iscsi_server *srv)
{
	uint32_t ms = srv->nop_interval_ms;
	if (srv->nop_timeout_ms < ms)
		ms = srv->nop_timeout_ms;
	if (srv->stop_grace_ms < ms)
		ms = srv->stop_grace_ms;
	if (srv->login_timeout_ms < ms)
		ms = srv->login_timeout_ms;
	ms = ms / 4 < 10 ? 10 : ms / 4 > 1000 ? 1000 : ms / 4;
	struct itimerspec its = { { ms / 1000, (long)(ms % 1000) * 1000000 },
				  { ms / 1000, (long)(ms % 1000) * 1000000 } };
	srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->timer_fd < 0 || timerfd_settime(srv->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	return watch(srv, srv->timer_fd, &tag_timer);
}

/* Answer the holds whose volume became quiet; write out what commands
 * queued; free what died and is idle. */
static void after_round(struct iscsi_server *srv)
{
	if (srv->hold_waiters)
		holds_service(srv);
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (!c->dead && c->tx_head)
			conn_flush(c);
		conn_release(c);
	}
	if (srv->reconf_retry)
		reconf_service(srv); /* a LUN number it remaps may have drained */
}

void server_poll(struct iscsi_server *srv, int timeout_ms)
{
	struct epoll_event events[MAX_EVENTS];
	int n = epoll_wait(srv->epoll_fd, events, MAX_EVENTS, timeout_ms);
	for (int i = 0; i < n; i++) {
		void *tag = events[i].data.ptr;
		struct portal *portal = portal_of(srv, tag);
		if (portal) {
			accept_all(srv, portal);
		} else if (tag == &tag_stop) {
			if (!srv->stopping)
				begin_stop(srv);
		} else if (tag == &tag_queue) {
			cowstore_queue_reap(srv->queue, 0);
		} else if (tag == &tag_timer) {
			on_tick(srv);
		} else if (tag == &tag_notify) {
			on_notify(srv);
		} else {
			conn_event(tag, events[i].events);
		}
	}
	after_round(srv);
}

static void *loop_main(void *arg)
{
	struct iscsi_server *srv = arg;
	while (!srv->stopping || srv->conns)
		server_poll(srv, -1);
	return NULL;
}

int server_open_loop(struct iscsi_server *srv)
{
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	srv->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->epoll_fd < 0 || srv->stop_fd < 0 || srv->notify_fd < 0)
		return -errno;
	int rc = watch(srv, srv->stop_fd, &tag_stop);
	if (!rc)
		rc = watch(srv, cowstore_queue_fd(srv->queue), &tag_queue);
	if (!rc)
		rc = watch(srv, srv->notify_fd, &tag_notify);
	return rc ? rc : start_timer(srv);
}

int iscsi_server_start(struct iscsi_server *srv)
{
	int rc = 0;
	for (unsigned i = 0; i < srv->nportals && !rc; i++)
		rc = listen_on(&srv->portals[i]);
	if (!rc)
		rc = server_open_loop(srv);
	for (unsigned i = 0; i < srv->nportals && !rc; i++)
		rc = watch(srv, srv->portals[i].fd, &srv->portals[i]);
	/* From here the loop owns the targets: iscsi_server_apply_config hands
	 * its work over instead of doing it itself. */
	pthread_mutex_lock(&srv->reconf_lock);
	if (!rc)
		rc = -pthread_create(&srv->thread, NULL, loop_main, srv);
	srv->loop_owns = !rc;
	pthread_mutex_unlock(&srv->reconf_lock);
	if (rc)
		return rc; /* iscsi_server_destroy closes what was opened */
	srv->running = true;
	return 0;
}

void iscsi_server_stop(struct iscsi_server *srv)
{
	if (!srv->running)
		return;
	uint64_t one = 1;
	if (write(srv->stop_fd, &one, sizeof(one)) < 0)
		perror("iscsi: cannot signal the event loop to stop");
	pthread_join(srv->thread, NULL);
	srv->running = false;
	pthread_mutex_lock(&srv->reconf_lock);
	srv->loop_owns = false;
	pthread_mutex_unlock(&srv->reconf_lock);
	reconf_service(srv); /* a request the loop ended before taking */
	holds_service(srv);  /* and holds: no command runs now */
}

void iscsi_server_destroy(struct iscsi_server *srv)
{
	if (!srv)
		return;
	iscsi_server_stop(srv);
	for (int i = 0; i < srv->ntargets; i++)
		target_free(srv->targets[i]);
	while (srv->retired) {
		struct target_entry *t = srv->retired;
		srv->retired = t->next_retired;
		target_free(t);
	}
	free(srv->discovery.acl);
	holds_free(srv);
	for (unsigned i = 0; i < srv->nportals; i++)
		if (srv->portals[i].fd >= 0)
			close(srv->portals[i].fd);
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	if (srv->timer_fd >= 0)
		close(srv->timer_fd);
	if (srv->notify_fd >= 0)
		close(srv->notify_fd);
	cowstore_queue_destroy(srv->queue);
	pthread_mutex_destroy(&srv->sessions_lock);
	pthread_mutex_destroy(&srv->reconf_lock);
	pthread_cond_destroy(&srv->reconf_cond);
	free(srv);
}
