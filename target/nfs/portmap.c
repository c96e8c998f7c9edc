/*
 * portmap.c - the portmapper (RFC 1833) for slated's own programs: PMAP v2
 * and RPCBIND v3/v4 answered from a fixed table of TCP mappings, and the
 * small client that registers that table with the system's rpcbind.
 *
 * The table is slated's, not a registry: SET and UNSET from others answer
 * FALSE.  Lookups match program and version exactly.  Universal addresses
 * (RFC 5665) are "h1.h2.h3.h4.p1.p2" for IPv4 and "x:...:x.p1.p2" for IPv6,
 * p1 and p2 being the port's high and low bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target/nfs/rpc.h"

#define PMAP_VERS 2u
#define RPCB_VERS_MAX 4u
#define RPCB_STRING_MAX 255u        /* netid, uaddr and owner in RPCBIND args */
#define UADDR_MAX (INET6_ADDRSTRLEN + 8)
#define RPCB_OWNER "slated"
#define REGISTER_TIMEOUT_MS 2000
#define REGISTER_REPLY_MAX 4096u

/* RPCBIND's struct rpcb, the argument of SET, UNSET, GETADDR and GETVERSADDR. */
struct rpcb_args {
	uint32_t prog, vers;
	char netid[RPCB_STRING_MAX + 1];
	char uaddr[RPCB_STRING_MAX + 1];
	char owner[RPCB_STRING_MAX + 1];
};

static const struct rpc_mapping *find_mapping(const struct rpc_portmap *pm, uint32_t prog,
					      uint32_t vers)
{
	for (size_t i = 0; i < pm->nmaps; i++)
		if (pm->maps[i].prog == prog && pm->maps[i].vers == vers)
			return &pm->maps[i];
	return NULL;
}

/* The netid of pm->host and the universal address of port on it (uaddr
 * holds UADDR_MAX bytes); NULL when host is no address literal. */
static const char *universal_addr(const struct rpc_portmap *pm, uint32_t port, char *uaddr)
{
	uint8_t addr[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	const char *netid = "tcp";
	int family = AF_INET;
	if (inet_pton(AF_INET, pm->host, addr) != 1) {
		netid = "tcp6";
		family = AF_INET6;
		if (inet_pton(AF_INET6, pm->host, addr) != 1)
			return NULL;
	}
	inet_ntop(family, addr, text, sizeof(text)); /* the canonical spelling */
	snprintf(uaddr, UADDR_MAX, "%s.%u.%u", text, (port >> 8) & 0xff, port & 0xff);
	return netid;
}

/* ---- PMAP v2 --------------------------------------------------------- */

static void pmap_dump(const struct rpc_portmap *pm, struct xdr_out *out)
{
	for (size_t i = 0; i < pm->nmaps; i++) {
		xdr_put_bool(out, true); /* a pmaplist entry follows */
		xdr_put_u32(out, pm->maps[i].prog);
		xdr_put_u32(out, pm->maps[i].vers);
		xdr_put_u32(out, RPC_IPPROTO_TCP);
		xdr_put_u32(out, pm->maps[i].port);
	}
	xdr_put_bool(out, false);
}

static enum rpc_accept_stat serve_pmap(const struct rpc_portmap *pm, struct rpc_call *call,
				       struct xdr_out *out)
{
	struct xdr_in *args = &call->args;
	if (call->proc == PMAP_PROC_NULL)
		return RPC_SUCCESS;
	if (call->proc == PMAP_PROC_DUMP) {
		pmap_dump(pm, out);
		return RPC_SUCCESS;
	}
	if (call->proc > PMAP_PROC_GETPORT)
		return RPC_PROC_UNAVAIL;
	uint32_t prog = xdr_get_u32(args); /* struct mapping: prog, vers, prot, port */
	uint32_t vers = xdr_get_u32(args);
	uint32_t prot = xdr_get_u32(args);
	xdr_get_u32(args);
	if (args->err)
		return RPC_GARBAGE_ARGS;
	if (call->proc == PMAP_PROC_GETPORT) {
		const struct rpc_mapping *m = find_mapping(pm, prog, vers);
		xdr_put_u32(out, m && prot == RPC_IPPROTO_TCP ? m->port : 0);
	} else {
		xdr_put_bool(out, false); /* SET, UNSET */
	}
	return RPC_SUCCESS;
}

/* ---- RPCBIND v3 and v4 ----------------------------------------------- */

static bool get_rpcb(struct xdr_in *args, struct rpcb_args *a)
{
	a->prog = xdr_get_u32(args);
	a->vers = xdr_get_u32(args);
	xdr_get_string(args, a->netid, RPCB_STRING_MAX);
	xdr_get_string(args, a->uaddr, RPCB_STRING_MAX);
	xdr_get_string(args, a->owner, RPCB_STRING_MAX);
	return !args->err;
}

/* GETADDR and GETVERSADDR: the mapping's universal address, or "". */
static void rpcb_getaddr(const struct rpc_portmap *pm, const struct rpcb_args *a,
			 struct xdr_out *out)
{
	const struct rpc_mapping *m = find_mapping(pm, a->prog, a->vers);
	char uaddr[UADDR_MAX];
	const char *netid = m ? universal_addr(pm, m->port, uaddr) : NULL;
	xdr_put_string(out, netid && strcmp(netid, a->netid) == 0 ? uaddr : "");
}

static void rpcb_dump(const struct rpc_portmap *pm, struct xdr_out *out)
{
	char uaddr[UADDR_MAX];
	for (size_t i = 0; i < pm->nmaps; i++) {
		const char *netid = universal_addr(pm, pm->maps[i].port, uaddr);
		if (!netid)
			break; /* no address to give for any of them */
		xdr_put_bool(out, true); /* an rpcblist entry follows */
		xdr_put_u32(out, pm->maps[i].prog);
		xdr_put_u32(out, pm->maps[i].vers);
		xdr_put_string(out, netid);
		xdr_put_string(out, uaddr);
		xdr_put_string(out, RPCB_OWNER);
	}
	xdr_put_bool(out, false);
}

static enum rpc_accept_stat serve_rpcb(const struct rpc_portmap *pm, struct rpc_call *call,
				       struct xdr_out *out)
{
	struct rpcb_args a;
	switch (call->proc) {
	case PMAP_PROC_NULL:
		return RPC_SUCCESS;
	case RPCB_PROC_DUMP:
		rpcb_dump(pm, out);
		return RPC_SUCCESS;
	case RPCB_PROC_GETTIME:
		xdr_put_u32(out, (uint32_t)time(NULL));
		return RPC_SUCCESS;
	case PMAP_PROC_SET:
	case PMAP_PROC_UNSET:
	case RPCB_PROC_GETADDR:
	case RPCB_PROC_GETVERSADDR:
		if (call->proc == RPCB_PROC_GETVERSADDR && call->vers < 4)
			return RPC_PROC_UNAVAIL;
		if (!get_rpcb(&call->args, &a))
			return RPC_GARBAGE_ARGS;
		if (call->proc == PMAP_PROC_SET || call->proc == PMAP_PROC_UNSET)
			xdr_put_bool(out, false);
		else
			rpcb_getaddr(pm, &a, out);
		return RPC_SUCCESS;
	default:
		return RPC_PROC_UNAVAIL;
	}
}

void rpc_portmap_serve(const struct rpc_portmap *pm, struct rpc_call *call, struct xdr_out *out)
{
	size_t start = out->len;
	if (call->prog != PMAP_PROG) {
		rpc_reply_accepted(out, call->xid, RPC_PROG_UNAVAIL, 0, 0);
		return;
	}
	if (call->vers < PMAP_VERS || call->vers > RPCB_VERS_MAX) {
		rpc_reply_accepted(out, call->xid, RPC_PROG_MISMATCH, PMAP_VERS, RPCB_VERS_MAX);
		return;
	}
	rpc_reply_accepted(out, call->xid, RPC_SUCCESS, 0, 0);
	enum rpc_accept_stat stat = call->vers == PMAP_VERS ? serve_pmap(pm, call, out)
							    : serve_rpcb(pm, call, out);
	if (stat != RPC_SUCCESS) { /* nothing but the header was written: redo it */
		out->len = start;
		rpc_reply_accepted(out, call->xid, stat, 0, 0);
	}
}

/* ---- registering with the system's rpcbind --------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int64_t left_ms = deadline_ms - now_ms();
		int n = poll(&p, 1, left_ms > 0 ? (int)left_ms : 0);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* A non-blocking TCP connection to addr: the socket, or a negative errno. */
static int connect_to(const struct sockaddr *addr, socklen_t addr_len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (connect(fd, addr, addr_len) < 0) {
		rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, now_ms() + REGISTER_TIMEOUT_MS)
					  : -errno;
		int err = 0;
		socklen_t err_len = sizeof(err);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == 0)
			rc = -err;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t len, int64_t deadline_ms)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLOUT, deadline_ms);
			if (rc)
				return rc;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until one whole record arrives; more bytes after it are garbage,
 * since one call is outstanding. */
static int read_record(int fd, struct rpc_record_reader *r, int64_t deadline_ms,
		       const uint8_t **record, size_t *record_len)
{
	uint8_t buf[512];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLIN, deadline_ms);
			if (rc)
				return rc;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* closed without answering */
		long used = rpc_record_reader_feed(r, buf, (size_t)n, record, record_len);
		if (used < 0)
			return used == -ENOMEM ? -ENOMEM : -EIO;
		if (*record)
			return used == n ? 0 : -EIO;
	}
}

/* The boolean result of an accepted, successful reply to xid. */
static int get_bool_reply(const uint8_t *record, size_t len, uint32_t xid, bool *result)
{
	struct xdr_in x;
	uint32_t verf_len;
	xdr_in_init(&x, record, len);
	uint32_t reply_xid = xdr_get_u32(&x);
	uint32_t msg_type = xdr_get_u32(&x);
	uint32_t reply_stat = xdr_get_u32(&x);
	xdr_get_u32(&x); /* verifier flavor and body */
	xdr_get_opaque(&x, RPC_AUTH_BODY_MAX, &verf_len);
	uint32_t accept_stat = xdr_get_u32(&x);
	*result = xdr_get_bool(&x);
	if (x.err || reply_xid != xid || msg_type != RPC_REPLY ||
	    reply_stat != RPC_MSG_ACCEPTED || accept_stat != RPC_SUCCESS)
		return -EIO;
	return 0;
}

/* A PMAP v2 SET or UNSET call for one mapping, record mark included. */
static void put_register_call(struct xdr_out *out, uint32_t xid, uint32_t proc,
			      const struct rpc_mapping *m)
{
	size_t mark = xdr_reserve(out, 4);
	xdr_put_u32(out, xid);
	xdr_put_u32(out, RPC_CALL);
	xdr_put_u32(out, RPC_VERSION);
	xdr_put_u32(out, PMAP_PROG);
	xdr_put_u32(out, PMAP_VERS);
	xdr_put_u32(out, proc);
	for (int i = 0; i < 2; i++) { /* credential and verifier: AUTH_NONE */
		xdr_put_u32(out, RPC_AUTH_NONE);
		xdr_put_u32(out, 0);
	}
	xdr_put_u32(out, m->prog);
	xdr_put_u32(out, m->vers);
	xdr_put_u32(out, RPC_IPPROTO_TCP);
	xdr_put_u32(out, m->port);
	if (!out->err)
		rpc_record_mark(out->buf + mark, (uint32_t)(out->len - mark - 4));
}

static int register_one(int fd, struct rpc_record_reader *r, uint32_t xid,
			const struct rpc_mapping *m, int set)
{
	struct xdr_out call;
	const uint8_t *record;
	size_t record_len;
	bool done = false;
	int64_t deadline_ms = now_ms() + REGISTER_TIMEOUT_MS;
	xdr_out_init(&call);
	put_register_call(&call, xid, set ? PMAP_PROC_SET : PMAP_PROC_UNSET, m);
	int rc = call.err ? -ENOMEM : send_all(fd, call.buf, call.len, deadline_ms);
	if (rc == 0)
		rc = read_record(fd, r, deadline_ms, &record, &record_len);
	if (rc == 0)
		rc = get_bool_reply(record, record_len, xid, &done);
	if (rc == 0 && set && !done)
		rc = -EIO;
	xdr_out_free(&call);
	return rc;
}

int rpc_portmap_register_at(const struct sockaddr *addr, socklen_t addr_len,
			    const struct rpc_mapping *maps, size_t nmaps, int set)
{
	struct rpc_record_reader reader;
	struct timespec ts;
	int fd = connect_to(addr, addr_len);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t xid = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 12; /* differs per run */
	rpc_record_reader_init(&reader, REGISTER_REPLY_MAX);
	int rc = 0;
	for (size_t i = 0; i < nmaps && rc == 0; i++)
		rc = register_one(fd, &reader, xid + (uint32_t)i, &maps[i], set);
	rpc_record_reader_free(&reader);
	close(fd);
	return rc;
}

int rpc_portmap_register(const struct rpc_mapping *maps, size_t nmaps, int set)
{
	struct sockaddr_in rpcbind = {
		.sin_family = AF_INET,
		.sin_port = htons(PMAP_PORT),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	return rpc_portmap_register_at((const struct sockaddr *)&rpcbind, sizeof(rpcbind), maps,
				       nmaps, set);
}
