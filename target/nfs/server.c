/*
 * server.c - the NFS server's sockets and event loop: listeners for NFS and
 * MOUNT (one port) and, when slated answers the portmapper itself, port
 * 111; connections that assemble RPC records, hand calls to the program
 * dispatchers, and send replies in whatever order they finish.
 *
 * One loop thread owns everything here.  A connection is freed when its
 * socket is closed and no call of it is still in flight (refs counts the
 * socket, every unfinished call, and the loop while it works on the
 * connection's input).  At most MAX_CALLS_PER_CONN calls of a connection
 * are in flight (fewer when QoS sets the client's window); beyond that the
 * loop stops reading it, so a client that floods cannot make the server
 * queue without bound.  Replies queued for a slow reader are bounded the
 * same way.
 *
 * Other threads: nfs_server_reload_exports reads the new exports itself and
 * leaves them in srv->pending_exports; the loop swaps them in between two
 * events (so a call sees one set from start to end) and the caller frees
 * the old set.  nfs_server_list_clients walks srv->conns under
 * clients_lock, which the loop takes only to link and unlink a connection;
 * the per-connection figures it copies are atomics the loop updates.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "target/nfs/internal.h"

#define MAX_CALLS_PER_CONN 128u
#define RX_BYTES (256u << 10)
#define MAX_IOV 64
#define DEFAULT_MAX_RECORD ((1u << 20) + 4096u)
#define DIRECT_READ_MIN (64u << 10) /* fragment bytes worth reading in place */

struct nfs_conn {
	struct nfs_server *srv;
	int fd;
	struct sockaddr_storage peer;
	struct rpc_record_reader reader;
	uint8_t *rx;                  /* bytes read, not yet fed: rx[rx_pos..rx_len) */
	size_t rx_pos, rx_len;
	struct nfs_call *tx_head, *tx_tail; /* replies waiting to be sent */
	size_t tx_sent;               /* bytes of tx_head already sent */
	unsigned refs;
	unsigned calls;               /* in flight, replied or not sent yet */
	bool closed;
	bool processing;              /* conn_process is on the stack */
	uint32_t events;              /* what epoll watches for */
	struct nfs_conn *next, **pprev; /* srv->conns, under clients_lock */
	/* for nfs_server_list_clients: written by the loop, read by any thread */
	int64_t connected_unix_ns;
	_Atomic int64_t last_call_unix_ns;
	_Atomic uint64_t calls_answered;
	_Atomic uint32_t last_uid;    /* UINT32_MAX: no AUTH_SYS call yet */
	_Atomic uint32_t outstanding;
	_Atomic uint32_t window;      /* its share of the client's window; 0: default */
};

/* epoll tags of the server's own descriptors */
static char tag_listen, tag_portmap, tag_stop, tag_queue, tag_notify;

static int64_t unix_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void conn_process(struct nfs_conn *conn);
static void spread_window(struct nfs_server *srv, const struct nfs_conn *conn);

/* ---- connections ----------------------------------------------------------- */

/* May another call of conn start? */
static bool conn_admits(const struct nfs_conn *conn)
{
	uint32_t window = atomic_load_explicit(&conn->window, memory_order_relaxed);
	return conn->calls < (window && window < MAX_CALLS_PER_CONN ? window : MAX_CALLS_PER_CONN);
}

static void conn_watch(struct nfs_conn *conn)
{
	uint32_t want = (conn_admits(conn) ? EPOLLIN : 0) |
			(conn->tx_head ? EPOLLOUT : 0);
	if (conn->closed || want == conn->events)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = conn };
	epoll_ctl(conn->srv->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
	conn->events = want;
}

void *nfs_io_buf_get(struct nfs_server *srv)
{
	if (srv->nio_bufs)
		return srv->io_bufs[--srv->nio_bufs];
	return aligned_alloc(COWSTORE_BLOCK_SIZE, NFS_IO_BUF_BYTES);
}

void nfs_io_buf_put(struct nfs_server *srv, void *buf)
{
	if (buf && srv->nio_bufs < NFS_IO_BUFS_KEPT)
		srv->io_bufs[srv->nio_bufs++] = buf;
	else
		free(buf);
}

static void call_free(struct nfs_call *call)
{
	xdr_out_free(&call->reply);
	nfs_io_buf_put(call->srv, call->data);
	free(call);
}

static void conn_put(struct nfs_conn *conn)
{
	if (--conn->refs)
		return;
	rpc_record_reader_free(&conn->reader);
	free(conn->rx);
	free(conn);
}

static void conn_close(struct nfs_conn *conn)
{
	if (conn->closed)
		return;
	conn->closed = true;
	epoll_ctl(conn->srv->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	pthread_mutex_lock(&conn->srv->clients_lock);
	*conn->pprev = conn->next;
	if (conn->next)
		conn->next->pprev = conn->pprev;
	pthread_mutex_unlock(&conn->srv->clients_lock);
	while (conn->tx_head) {
		struct nfs_call *call = conn->tx_head;
		conn->tx_head = call->next;
		call_free(call);
		conn->calls--;
		conn_put(conn);
	}
	conn_put(conn);
}

static size_t pad_of(size_t n)
{
	return (4 - n % 4) % 4;
}

/* Send what the socket takes; false when the connection failed. */
static bool conn_flush(struct nfs_conn *conn)
{
	static const uint8_t zeros[4];
	while (conn->tx_head) {
		struct iovec iov[MAX_IOV];
		int n = 0;
		size_t skip = conn->tx_sent;
		for (struct nfs_call *c = conn->tx_head; c && n + 3 <= MAX_IOV; c = c->next) {
			struct iovec parts[3] = {
				{ c->reply.buf, c->reply.len },
				{ c->data ? c->data + c->data_skip : NULL, c->data ? c->data_len : 0 },
				{ (void *)zeros, c->data ? pad_of(c->data_len) : 0 },
			};
			for (int i = 0; i < 3; i++) {
				if (skip >= parts[i].iov_len) {
					skip -= parts[i].iov_len;
					continue;
				}
				iov[n].iov_base = (uint8_t *)parts[i].iov_base + skip;
				iov[n++].iov_len = parts[i].iov_len - skip;
				skip = 0;
			}
		}
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t sent = sendmsg(conn->fd, &msg, MSG_NOSIGNAL); /* EPIPE, not SIGPIPE */
		if (sent < 0)
			return errno == EAGAIN || errno == EINTR;
		conn->tx_sent += (size_t)sent;
		while (conn->tx_head) {
			struct nfs_call *c = conn->tx_head;
			size_t total = c->reply.len + (c->data ? c->data_len + pad_of(c->data_len) : 0);
			if (conn->tx_sent < total)
				break;
			conn->tx_sent -= total;
			conn->tx_head = c->next;
			call_free(c);
			conn->calls--;
			conn_put(conn);
		}
	}
	conn->tx_tail = NULL;
	return true;
}

void nfs_call_reply(struct nfs_call *call)
{
	struct nfs_conn *conn = call->conn;
	atomic_fetch_sub_explicit(&conn->outstanding, 1, memory_order_relaxed);
	if (conn->closed) {
		call_free(call);
		conn->calls--;
		conn_put(conn);
		return;
	}
	size_t data = call->data ? call->data_len + pad_of(call->data_len) : 0;
	if (call->reply.err) {
		conn_close(conn); /* out of memory: the reply cannot be made */
		call_free(call);
		conn->calls--;
		conn_put(conn);
		return;
	}
	rpc_record_mark(call->reply.buf, (uint32_t)(call->reply.len - 4 + data));
	atomic_fetch_add_explicit(&conn->calls_answered, 1, memory_order_relaxed);
	call->next = NULL;
	if (conn->tx_tail)
		conn->tx_tail->next = call;
	else
		conn->tx_head = call;
	conn->tx_tail = call;
	conn->refs++; /* conn_flush may close and release the connection */
	if (!conn_flush(conn))
		conn_close(conn);
	else if (!conn->processing && conn->rx_pos < conn->rx_len)
		conn_process(conn); /* input left waiting for room */
	else
		conn_watch(conn);
	conn_put(conn);
}

const struct sockaddr_storage *nfs_call_peer(const struct nfs_call *call)
{
	return &call->conn->peer;
}

/* Serve one record: decode the RPC header and dispatch by program. */
static void serve_record(struct nfs_conn *conn, const uint8_t *record, size_t len)
{
	struct nfs_call *call = calloc(1, sizeof(*call));
	if (!call) {
		conn_close(conn);
		return;
	}
	call->srv = conn->srv;
	call->conn = conn;
	conn->refs++;
	conn->calls++;
	xdr_out_init(&call->reply);
	xdr_put_u32(&call->reply, 0); /* the record mark, set when sent */
	enum rpc_auth_stat auth;
	struct xdr_out *out = &call->reply;
	enum rpc_call_status status = rpc_call_decode(record, len, &call->rpc, &auth);
	if (status == RPC_CALL_DROP) {
		call_free(call);
		conn->calls--;
		conn_put(conn);
		return;
	}
	atomic_fetch_add_explicit(&conn->outstanding, 1, memory_order_relaxed);
	atomic_store_explicit(&conn->last_call_unix_ns, unix_now_ns(), memory_order_relaxed);
	if (status == RPC_CALL_OK && call->rpc.cred.flavor == RPC_AUTH_SYS)
		atomic_store_explicit(&conn->last_uid, call->rpc.cred.uid, memory_order_relaxed);
	switch (status) {
	case RPC_CALL_DROP:
		break; /* handled above */
	case RPC_CALL_RPC_MISMATCH:
		rpc_reply_denied_mismatch(out, call->rpc.xid);
		break;
	case RPC_CALL_AUTH_ERROR:
		rpc_reply_denied_auth(out, call->rpc.xid, auth);
		break;
	case RPC_CALL_GARBAGE:
		rpc_reply_accepted(out, call->rpc.xid, RPC_GARBAGE_ARGS, 0, 0);
		break;
	case RPC_CALL_OK:
		if (call->rpc.prog == NFS_PROG) {
			nfs3_dispatch(call);
			return;
		}
		if (call->rpc.prog == MOUNT_PROG) {
			mount_dispatch(call);
			return;
		}
		if (call->rpc.prog == PMAP_PROG)
			rpc_portmap_serve(&conn->srv->portmap, &call->rpc, out);
		else
			rpc_reply_accepted(out, call->rpc.xid, RPC_PROG_UNAVAIL, 0, 0);
		break;
	}
	nfs_call_reply(call);
}

/* Feed buffered input to the record reader while calls may start. */
static void conn_process(struct nfs_conn *conn)
{
	conn->processing = true;
	while (!conn->closed && conn->rx_pos < conn->rx_len && conn_admits(conn)) {
		const uint8_t *record = NULL;
		size_t record_len = 0;
		long used = rpc_record_reader_feed(&conn->reader, conn->rx + conn->rx_pos,
						   conn->rx_len - conn->rx_pos, &record, &record_len);
		if (used < 0) {
			conn_close(conn); /* over the size limit: RFC 5531 has no answer */
			return;
		}
		conn->rx_pos += (size_t)used;
		if (record)
			serve_record(conn, record, record_len);
	}
	conn->processing = false;
	if (conn->rx_pos == conn->rx_len)
		conn->rx_pos = conn->rx_len = 0;
	conn_watch(conn);
}

/* Read the rest of a large fragment straight into the record (no copy
 * through rx); false when this is not the moment for it. */
static bool conn_read_direct(struct nfs_conn *conn)
{
	uint8_t *room;
	size_t want = conn->rx_len || !conn_admits(conn)
			      ? 0 : rpc_record_reader_room(&conn->reader, &room);
	if (want < DIRECT_READ_MIN)
		return false;
	ssize_t n = read(conn->fd, room, want);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(conn);
		return true;
	}
	if (n > 0)
		rpc_record_reader_filled(&conn->reader, (size_t)n);
	const uint8_t *record = NULL;
	size_t record_len = 0;
	rpc_record_reader_feed(&conn->reader, NULL, 0, &record, &record_len);
	if (record)
		serve_record(conn, record, record_len);
	if (!conn->closed)
		conn_watch(conn);
	return true;
}

static void conn_readable(struct nfs_conn *conn)
{
	if (conn_read_direct(conn))
		return;
	if (conn->rx_len == 0) {
		ssize_t n = read(conn->fd, conn->rx, RX_BYTES);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(conn);
			return;
		}
		conn->rx_len = n > 0 ? (size_t)n : 0;
	}
	conn_process(conn);
}

static void conn_event(struct nfs_conn *conn, uint32_t events)
{
	conn->refs++;
	if (events & (EPOLLERR | EPOLLHUP))
		conn_close(conn);
	if ((events & EPOLLOUT) && !conn->closed && !conn_flush(conn))
		conn_close(conn);
	if ((events & EPOLLIN) && !conn->closed)
		conn_readable(conn);
	else if (!conn->closed)
		conn_watch(conn);
	conn_put(conn);
}

int nfs_server_adopt(struct nfs_server *srv, int fd, const struct sockaddr_storage *peer)
{
	struct nfs_conn *conn = calloc(1, sizeof(*conn));
	uint8_t *rx = malloc(RX_BYTES);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
	if (!conn || !rx || epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(conn);
		free(rx);
		return -ENOMEM;
	}
	*conn = (struct nfs_conn){ .srv = srv, .fd = fd, .peer = *peer, .rx = rx, .refs = 1,
				   .events = EPOLLIN, .connected_unix_ns = unix_now_ns() };
	atomic_init(&conn->last_call_unix_ns, 0);
	atomic_init(&conn->calls_answered, 0);
	atomic_init(&conn->last_uid, UINT32_MAX);
	atomic_init(&conn->outstanding, 0);
	rpc_record_reader_init(&conn->reader, srv->opts.max_record);
	pthread_mutex_lock(&srv->clients_lock);
	conn->next = srv->conns;
	conn->pprev = &srv->conns;
	if (srv->conns)
		srv->conns->pprev = &conn->next;
	srv->conns = conn;
	spread_window(srv, conn);
	pthread_mutex_unlock(&srv->clients_lock);
	return 0;
}

static void accept_all(struct nfs_server *srv, int listen_fd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (nfs_server_adopt(srv, fd, &peer) < 0)
			close(fd);
	}
}

/* ---- exports ------------------------------------------------------------------ */

static void export_set_swap(struct nfs_server *srv, struct nfs_export_set *set)
{
	struct nfs_export_set old = { srv->exports, srv->export_roots, srv->nexports };
	srv->exports = set->exports;
	srv->export_roots = set->roots;
	srv->nexports = set->n;
	*set = old;
}

static void export_set_free(struct nfs_export_set *set)
{
	free(set->exports);
	free(set->roots);
	*set = (struct nfs_export_set){ 0 };
}

/* The loop: windows changed; input a smaller window held back may go on. */
static void recheck_windows(struct nfs_server *srv)
{
	if (!atomic_exchange(&srv->windows_changed, false))
		return;
	for (struct nfs_conn *conn = srv->conns, *next; conn; conn = next) {
		next = conn->next; /* only conn itself can be closed below */
		conn->refs++;
		if (!conn->closed)
			conn_process(conn);
		conn_put(conn);
	}
}

/* The loop: a reload is waiting; swap its set in, hand the old one back. */
static void take_pending_exports(struct nfs_server *srv)
{
	uint64_t count;
	if (read(srv->notify_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	recheck_windows(srv);
	pthread_mutex_lock(&srv->ctl_lock);
	if (srv->pending_exports) {
		export_set_swap(srv, srv->pending_exports);
		srv->pending_exports = NULL;
		pthread_cond_broadcast(&srv->ctl_cond);
	}
	pthread_mutex_unlock(&srv->ctl_lock);
}

/* The exports and their directories' inodes (0 for one whose directory is
 * gone: nothing under it resolves then, MNT answers NOENT). */
static int read_exports(struct cowstore *cs, struct nfs_export_set *set, char *err,
			size_t errlen)
{
	*set = (struct nfs_export_set){ 0 };
	int rc = nfs_export_list(cs, &set->exports, &set->n);
	if (rc == 0 && !(set->roots = calloc(set->n + 1, sizeof(uint64_t))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < set->n; i++) {
		struct cowstore_ns_attr attr;
		if (nfs_path_lookup(cs, set->exports[i].path, &attr) == 0)
			set->roots[i] = attr.ino;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the exports: %s", strerror(-rc));
		export_set_free(set);
	}
	return rc;
}

int nfs_server_reload_exports(struct nfs_server *srv, char *err, size_t errlen)
{
	struct nfs_export_set set;
	int rc = read_exports(srv->cs, &set, err, errlen);
	if (rc < 0)
		return rc;
	uint64_t one = 1;
	pthread_mutex_lock(&srv->ctl_lock);
	while (srv->pending_exports) /* another reload waits for the loop */
		pthread_cond_wait(&srv->ctl_cond, &srv->ctl_lock);
	if (!srv->loop_owns) {
		export_set_swap(srv, &set); /* no loop thread: ours to change */
	} else if (write(srv->notify_fd, &one, sizeof(one)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot wake the NFS event loop: %s", strerror(errno));
	} else {
		srv->pending_exports = &set;
		while (srv->pending_exports == &set)
			pthread_cond_wait(&srv->ctl_cond, &srv->ctl_lock);
	}
	pthread_mutex_unlock(&srv->ctl_lock);
	export_set_free(&set); /* the old set, or the new one on failure */
	return rc;
}

/* ---- clients ------------------------------------------------------------------ */

static void client_address(const struct sockaddr_storage *ss, char *out, size_t len,
			   uint16_t *port)
{
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
	snprintf(out, len, "unknown");
	*port = 0;
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &v4->sin_addr, out, (socklen_t)len);
		*port = ntohs(v4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) /* a v4 client of a v6 socket */
			inet_ntop(AF_INET, v6->sin6_addr.s6_addr + 12, out, (socklen_t)len);
		else
			inet_ntop(AF_INET6, &v6->sin6_addr, out, (socklen_t)len);
		*port = ntohs(v6->sin6_port);
	}
}

int nfs_server_list_clients(struct nfs_server *srv, struct nfs_client_info *out, size_t max,
			    size_t *count)
{
	if (!srv || (max && !out) || !count)
		return -EINVAL;
	size_t n = 0;
	pthread_mutex_lock(&srv->clients_lock);
	for (struct nfs_conn *conn = srv->conns; conn; conn = conn->next, n++) {
		if (n >= max)
			continue;
		struct nfs_client_info *info = &out[n];
		memset(info, 0, sizeof(*info));
		client_address(&conn->peer, info->address, sizeof(info->address), &info->port);
		info->connected_unix_ns = conn->connected_unix_ns;
		info->last_call_unix_ns = atomic_load_explicit(&conn->last_call_unix_ns,
							       memory_order_relaxed);
		info->calls = atomic_load_explicit(&conn->calls_answered, memory_order_relaxed);
		info->uid = atomic_load_explicit(&conn->last_uid, memory_order_relaxed);
		info->outstanding = atomic_load_explicit(&conn->outstanding, memory_order_relaxed);
		info->window = atomic_load_explicit(&conn->window, memory_order_relaxed);
	}
	pthread_mutex_unlock(&srv->clients_lock);
	*count = n;
	return 0;
}

/* Under clients_lock: give every connection of conn's address its share
 * of the address's window (conn just joined or the window changed). */
static void spread_window(struct nfs_server *srv, const struct nfs_conn *conn)
{
	char address[64], other[64];
	uint16_t port;
	uint32_t window = 0, nconns = 0;
	client_address(&conn->peer, address, sizeof(address), &port);
	for (size_t i = 0; i < srv->nclient_windows; i++)
		if (!strcmp(srv->client_windows[i].address, address))
			window = srv->client_windows[i].window;
	for (struct nfs_conn *c = srv->conns; c; c = c->next) {
		client_address(&c->peer, other, sizeof(other), &port);
		nconns += !strcmp(other, address);
	}
	uint32_t share = window ? (window + nconns - 1) / nconns : 0;
	for (struct nfs_conn *c = srv->conns; c; c = c->next) {
		client_address(&c->peer, other, sizeof(other), &port);
		if (!strcmp(other, address))
			atomic_store_explicit(&c->window, share, memory_order_relaxed);
	}
}

int nfs_server_set_client_window(struct nfs_server *srv, const char *address, uint32_t window)
{
	unsigned char bytes[16];
	if (!srv || !address || strlen(address) >= sizeof(srv->client_windows[0].address) ||
	    (inet_pton(AF_INET, address, bytes) != 1 && inet_pton(AF_INET6, address, bytes) != 1))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&srv->clients_lock);
	size_t i = 0;
	while (i < srv->nclient_windows && strcmp(srv->client_windows[i].address, address))
		i++;
	if (i < srv->nclient_windows ? srv->client_windows[i].window == window : !window) {
		pthread_mutex_unlock(&srv->clients_lock); /* as it is: the QoS loop sets it each period */
		return 0;
	}
	if (i == srv->nclient_windows && window) {
		if (i == NFS_MAX_CLIENT_WINDOWS)
			rc = -ENOSPC;
		else
			snprintf(srv->client_windows[srv->nclient_windows++].address,
				 sizeof(srv->client_windows[0].address), "%s", address);
	}
	if (!rc && i < srv->nclient_windows)
		srv->client_windows[i].window = window;
	if (!rc && !window && i < srv->nclient_windows) /* back to the default: forget it */
		srv->client_windows[i] = srv->client_windows[--srv->nclient_windows];
	for (struct nfs_conn *c = srv->conns; !rc && c; c = c->next) {
		char other[64];
		uint16_t port;
		client_address(&c->peer, other, sizeof(other), &port);
		if (!strcmp(other, address)) {
			spread_window(srv, c);
			break;
		}
	}
	pthread_mutex_unlock(&srv->clients_lock);
	uint64_t one = 1;
	atomic_store(&srv->windows_changed, true);
	if (!rc && srv->notify_fd >= 0 && write(srv->notify_fd, &one, sizeof(one)) < 0)
		rc = -errno;
	return rc;
}

/* ---- the loop --------------------------------------------------------------- */

void nfs_server_drain_io(struct nfs_server *srv)
{
	while (srv->io_inflight) {
		cowstore_queue_wait(srv->queue, 1000);
		cowstore_queue_reap(srv->queue, 0);
	}
}

bool nfs_server_poll(struct nfs_server *srv, int timeout_ms)
{
	struct epoll_event events[64];
	int n = epoll_wait(srv->epoll_fd, events, 64, timeout_ms);
	for (int i = 0; i < n; i++) {
		void *tag = events[i].data.ptr;
		if (tag == &tag_stop)
			return false;
		if (tag == &tag_queue)
			cowstore_queue_reap(srv->queue, 0);
		else if (tag == &tag_notify)
			take_pending_exports(srv);
		else if (tag == &tag_listen)
			accept_all(srv, srv->listen_fd);
		else if (tag == &tag_portmap)
			accept_all(srv, srv->portmap_fd);
		else
			conn_event(tag, events[i].events);
	}
	return true;
}

static void *loop_main(void *arg)
{
	struct nfs_server *srv = arg;
	while (nfs_server_poll(srv, -1))
		;
	return NULL;
}

/* ---- life cycle --------------------------------------------------------------- */

const struct nfs_export *nfs_server_export(const struct nfs_server *srv, uint32_t id)
{
	for (size_t i = 0; i < srv->nexports; i++)
		if (srv->exports[i].id == id)
			return &srv->exports[i];
	return NULL;
}

int nfs_server_create(struct cowstore *cs, const struct nfs_server_options *opts,
		      struct nfs_server **out, char *err, size_t errlen)
{
	struct nfs_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	srv->cs = cs;
	srv->opts = *opts;
	snprintf(srv->address, sizeof(srv->address), "%s", opts->address);
	srv->opts.address = srv->address; /* the caller's string need not live on */
	if (!srv->opts.max_record)
		srv->opts.max_record = DEFAULT_MAX_RECORD;
	srv->portmap_port = opts->portmap_port ? opts->portmap_port : PMAP_PORT;
	srv->listen_fd = srv->portmap_fd = srv->epoll_fd = srv->stop_fd = srv->notify_fd = -1;
	pthread_mutex_init(&srv->ctl_lock, NULL);
	pthread_cond_init(&srv->ctl_cond, NULL);
	pthread_mutex_init(&srv->clients_lock, NULL);
	snprintf(srv->portmap_mode, sizeof(srv->portmap_mode), "off");
	if (getrandom(srv->write_verf, sizeof(srv->write_verf), 0) != sizeof(srv->write_verf)) {
		free(srv);
		snprintf(err, errlen, "no random bytes for the write verifier");
		return -EIO;
	}
	*out = srv;
	return 0;
}

/* A listening TCP socket on address:port; -errno. */
static int listen_on(const char *address, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	*bound = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
	return fd;
}

static int watch(struct nfs_server *srv, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	return epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Register with a running rpcbind, or else answer the portmapper. */
static int start_portmap(struct nfs_server *srv, char *err, size_t errlen)
{
	srv->maps[0] = (struct rpc_mapping){ NFS_PROG, NFS_V3, srv->port };
	srv->maps[1] = (struct rpc_mapping){ MOUNT_PROG, MOUNT_V3, srv->port };
	srv->nmaps = 2;
	srv->portmap = (struct rpc_portmap){ srv->maps, srv->nmaps, srv->opts.address };
	if (!srv->opts.portmap)
		return 0;
	rpc_portmap_register(srv->maps, srv->nmaps, 0); /* a stale registration */
	int rc = rpc_portmap_register(srv->maps, srv->nmaps, 1);
	if (rc == 0) {
		srv->registered = true;
		snprintf(srv->portmap_mode, sizeof(srv->portmap_mode), "rpcbind");
		return 0;
	}
	uint16_t port;
	int fd = listen_on(srv->opts.address, srv->portmap_port, &port);
	if (fd < 0) {
		snprintf(err, errlen, "no rpcbind to register with (%s) and cannot answer the "
			 "portmapper on %s port %u: %s", strerror(-rc), srv->opts.address,
			 srv->portmap_port, strerror(-fd));
		return fd;
	}
	srv->portmap_fd = fd;
	snprintf(srv->portmap_mode, sizeof(srv->portmap_mode), "own:%u", port);
	for (uint32_t vers = 2; vers <= 4; vers++) /* clients ask where it is, too */
		srv->maps[srv->nmaps++] = (struct rpc_mapping){ PMAP_PROG, vers, port };
	srv->portmap.nmaps = srv->nmaps;
	return watch(srv, fd, &tag_portmap);
}

int nfs_server_parent(const struct nfs_server *srv, const struct nfs_export *exp,
		      uint64_t dir, uint64_t *parent)
{
	size_t i = (size_t)(exp - srv->exports);
	if (dir == srv->export_roots[i]) {
		*parent = dir;
		return 0;
	}
	return cowstore_ns_parent(srv->cs, dir, parent);
}

int nfs_server_open_loop(struct nfs_server *srv, char *err, size_t errlen)
{
	struct nfs_export_set set;
	int rc = read_exports(srv->cs, &set, err, errlen);
	if (rc < 0)
		return rc;
	export_set_swap(srv, &set);
	export_set_free(&set);
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epoll_fd < 0 || srv->stop_fd < 0 || srv->notify_fd < 0) {
		snprintf(err, errlen, "cannot create the event loop: %s", strerror(errno));
		return -errno;
	}
	rc = cowstore_queue_create(srv->cs, &srv->queue);
	if (rc == 0)
		rc = watch(srv, srv->stop_fd, &tag_stop);
	if (rc == 0)
		rc = watch(srv, cowstore_queue_fd(srv->queue), &tag_queue);
	if (rc == 0)
		rc = watch(srv, srv->notify_fd, &tag_notify);
	if (rc < 0)
		snprintf(err, errlen, "cannot create the event loop: %s", strerror(-rc));
	return rc;
}

int nfs_server_start(struct nfs_server *srv, char *err, size_t errlen)
{
	int rc = nfs_server_open_loop(srv, err, errlen);
	if (rc < 0)
		return rc;
	rc = listen_on(srv->opts.address, srv->opts.port, &srv->port);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", srv->opts.address,
			 srv->opts.port, strerror(-rc));
		return rc;
	}
	srv->listen_fd = rc;
	rc = watch(srv, srv->listen_fd, &tag_listen);
	if (rc == 0)
		rc = start_portmap(srv, err, errlen);
	/* From here the loop thread owns the export set: a reload hands its
	 * set over instead of swapping it in itself. */
	pthread_mutex_lock(&srv->ctl_lock);
	if (rc == 0)
		rc = -pthread_create(&srv->thread, NULL, loop_main, srv);
	srv->loop_owns = rc == 0;
	pthread_mutex_unlock(&srv->ctl_lock);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "cannot start the NFS server: %s", strerror(-rc));
		return rc;
	}
	srv->running = true;
	return 0;
}

uint16_t nfs_server_port(const struct nfs_server *srv)
{
	return srv->port;
}

const char *nfs_server_portmap_mode(const struct nfs_server *srv)
{
	return srv->portmap_mode;
}

/* Calls still in cowstore finish and are dropped with their connections. */
static void close_all(struct nfs_server *srv)
{
	while (srv->conns)
		conn_close(srv->conns);
	nfs_server_drain_io(srv);
}

void nfs_server_stop(struct nfs_server *srv)
{
	if (!srv->running)
		return;
	uint64_t one = 1;
	if (write(srv->stop_fd, &one, sizeof(one)) < 0)
		return; /* cannot happen with an eventfd below its limit */
	pthread_join(srv->thread, NULL);
	srv->running = false;
	pthread_mutex_lock(&srv->ctl_lock);
	srv->loop_owns = false;
	if (srv->pending_exports) { /* the loop stopped before taking it */
		export_set_swap(srv, srv->pending_exports);
		srv->pending_exports = NULL;
		pthread_cond_broadcast(&srv->ctl_cond);
	}
	pthread_mutex_unlock(&srv->ctl_lock);
	if (srv->registered)
		rpc_portmap_register(srv->maps, srv->nmaps, 0);
	srv->registered = false;
	close_all(srv);
	cowstore_ns_sync(srv->cs);
}

void nfs_server_destroy(struct nfs_server *srv)
{
	if (!srv)
		return;
	nfs_server_stop(srv);
	if (srv->queue)
		close_all(srv); /* a loop turned by nfs_server_poll (tests) */
	int fds[] = { srv->listen_fd, srv->portmap_fd, srv->epoll_fd, srv->stop_fd,
		      srv->notify_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (srv->queue)
		cowstore_queue_destroy(srv->queue);
	while (srv->nio_bufs)
		free(srv->io_bufs[--srv->nio_bufs]);
	free(srv->exports);
	free(srv->export_roots);
	pthread_mutex_destroy(&srv->ctl_lock);
	pthread_cond_destroy(&srv->ctl_cond);
	pthread_mutex_destroy(&srv->clients_lock);
	free(srv);
}
