/*
 * conn.c - one iSCSI connection: reading PDUs off a non-blocking socket,
 * dispatching them, and writing queued PDUs out (RFC 7143 11).
 *
 * A malformed PDU (a data segment beyond what we accept, an opcode we do not
 * know in the wrong phase) is answered with a Reject or ends the connection,
 * never the daemon.  A dead connection's memory lives on while commands it
 * started still run in cowstore (conn->ncmds); conn_release() frees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "target/iscsi/internal.h"

#define FLUSH_PDUS 64 /* PDUs written by one sendmsg */

static uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }

void conn_stamp(struct conn *c, uint8_t *bhs, bool advance_stat_sn)
{
	put_be32(bhs + 24, c->stat_sn);
	if (advance_stat_sn)
		c->stat_sn++;
	/* The window counts commands in progress, not only those still to be
	 * sent: the initiator may send as many more as the window has room. */
	uint32_t window = atomic_load(&c->window);
	uint32_t room = window > c->in_window ? window - c->in_window : 0;
	uint32_t max_cmd_sn = c->exp_cmd_sn - 1 + room;
	if ((int32_t)(max_cmd_sn - c->max_cmd_sn) > 0) /* serial arithmetic */
		c->max_cmd_sn = max_cmd_sn;
	put_be32(bhs + 28, c->exp_cmd_sn);
	put_be32(bhs + 32, c->max_cmd_sn);
}

uint32_t conn_next_ttt(struct conn *c)
{
	if (c->next_ttt == 0xffffffffu)
		c->next_ttt = 0;
	return c->next_ttt++;
}

static void txpdu_free(struct txpdu *t)
{
	free(t->own_data);
	free(t);
}

static const uint8_t zero_pad[4];

/* The digests negotiated for this connection, once login has completed. */
static void add_digests(struct conn *c, struct txpdu *t)
{
	if (!c->digests_live)
		return;
	if (c->p.header_digest) {
		put_le32(t->header_digest, pdu_digest(t->bhs, BHS_LEN, NULL, 0));
		t->header_digest_len = DIGEST_LEN;
	}
	if (c->p.data_digest && t->data_len) {
		uint32_t pad = pad4(t->data_len) - t->data_len;
		put_le32(t->data_digest, pdu_digest(t->data, t->data_len, zero_pad, pad));
		t->data_digest_len = DIGEST_LEN;
	}
}

void conn_queue(struct conn *c, struct txpdu *t)
{
	put_be32(t->bhs + 4, t->data_len & 0xffffff); /* TotalAHSLength 0 */
	t->next = NULL;
	if (c->dead) {
		txpdu_free(t);
		return;
	}
	add_digests(c, t);
	if (c->tx_tail)
		c->tx_tail->next = t;
	else
		c->tx_head = t;
	c->tx_tail = t;
}

/* Reject the PDU whose header is bhs (11.17); close_after ends the
 * connection once the Reject is sent. */
static void reject(struct conn *c, const uint8_t *bhs, uint8_t reason, bool close_after)
{
	struct txpdu *t = txpdu_new(OP_REJECT, 0x80);
	if (!t || !(t->own_data = malloc(BHS_LEN))) {
		free(t);
		conn_fail(c, "out of memory");
		return;
	}
	t->close_after = close_after;
	t->bhs[2] = reason;
	put_be32(t->bhs + 16, 0xffffffffu);
	memcpy(t->own_data, bhs, BHS_LEN);
	t->data = t->own_data;
	t->data_len = BHS_LEN;
	conn_stamp(c, t->bhs, true);
	conn_queue(c, t);
}

void conn_reject(struct conn *c, const uint8_t *bhs, uint8_t reason)
{
	reject(c, bhs, reason, false);
}

void conn_fail(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	fprintf(stderr, "iscsi: connection from %s (%s): %s; closing it\n", c->peer,
		c->initiator[0] ? c->initiator : "not logged in", why);
	c->dead = true;
	atomic_store(&c->published, false);
	epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	while (c->tx_head) {
		struct txpdu *t = c->tx_head;
		c->tx_head = t->next;
		txpdu_free(t);
	}
	c->tx_tail = NULL;
	commands_abort_all(c);
}

struct conn *conn_new(struct iscsi_server *srv, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (!c || epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->connected_ms = server_now_ms();
	atomic_init(&c->window, ISCSI_DEFAULT_WINDOW);
	pthread_mutex_lock(&srv->sessions_lock);
	c->next = srv->conns;
	srv->conns = c;
	pthread_mutex_unlock(&srv->sessions_lock);
	return c;
}

/* ---- receiving -------------------------------------------------------- */

static void dispatch(struct conn *c, const struct pdu *pdu)
{
	uint8_t op = pdu_opcode(pdu->bhs);
	if (c->phase == PHASE_LOGIN && op != OP_LOGIN_REQ) {
		conn_fail(c, "a PDU other than Login before login completed");
		return;
	}
	if (c->phase == PHASE_LOGGED_OUT)
		return; /* everything after a logout or failed login is ignored */
	switch (op) {
	case OP_LOGIN_REQ:
		login_handle(c, pdu);
		break;
	case OP_TEXT_REQ:
		text_handle(c, pdu);
		break;
	case OP_LOGOUT_REQ:
		logout_handle(c, pdu);
		break;
	case OP_SCSI_CMD:
		if (c->discovery)
			conn_reject(c, pdu->bhs, REJECT_PROTOCOL_ERROR);
		else
			command_handle(c, pdu);
		break;
	case OP_DATA_OUT:
		data_out_handle(c, pdu);
		break;
	case OP_TMF_REQ:
		tmf_handle(c, pdu);
		break;
	case OP_NOP_OUT: {
		if (get_be32(pdu->bhs + 16) == 0xffffffffu) { /* wants no answer */
			session_ping_answered(c, get_be32(pdu->bhs + 20));
			break;
		}
		cmd_sn_accept(c, pdu->bhs);
		struct txpdu *t = txpdu_new(OP_NOP_IN, 0x80);
		if (!t || (pdu->data_len && !(t->own_data = malloc(pdu->data_len)))) {
			free(t);
			conn_fail(c, "out of memory");
			break;
		}
		memcpy(t->bhs + 8, pdu->bhs + 8, 12); /* LUN, ITT */
		put_be32(t->bhs + 20, 0xffffffffu);
		if (pdu->data_len) {
			memcpy(t->own_data, pdu->data, pdu->data_len);
			t->data = t->own_data;
			t->data_len = pdu->data_len;
		}
		conn_stamp(c, t->bhs, true);
		conn_queue(c, t);
		break;
	}
	default:
		conn_reject(c, pdu->bhs, REJECT_NOT_SUPPORTED);
	}
}

/* Prepare to read what follows the BHS just received. */
static int start_segments(struct conn *c)
{
	uint32_t ahs_len, data_len;
	if (pdu_check_header(c->bhs, c->phase == PHASE_FULL ? MAX_DATA_SEGMENT : 65536,
			     &ahs_len, &data_len) != 0)
		return -EMSGSIZE;
	bool header_digest = c->digests_live && c->p.header_digest;
	bool data_digest = c->digests_live && c->p.data_digest && data_len;
	c->rx_data_len = data_len;
	c->rx_need = ahs_len + (header_digest ? DIGEST_LEN : 0) + pad4(data_len) +
		     (data_digest ? DIGEST_LEN : 0);
	c->rx_have = 0;
	free(c->rx_buf);
	c->rx_buf = c->rx_need ? malloc(c->rx_need) : NULL;
	if (c->rx_need && !c->rx_buf)
		return -ENOMEM;
	c->rx_state = RX_DATA;
	return 0;
}

/* Check the digests of the PDU in c->bhs and c->rx_buf (13.1); returns the
 * offset of the data segment in rx_buf, or -1 after failing c.  A header
 * digest error leaves no PDU boundary to trust: the connection ends.  A data
 * digest error is rejected (7.8), and at ErrorRecoveryLevel 0 the session
 * ends too; the initiator retries on a new one, nothing was written. */
static int64_t check_digests(struct conn *c, uint32_t ahs_len)
{
	uint32_t at = ahs_len;
	if (!c->digests_live)
		return at;
	if (c->p.header_digest) {
		if (pdu_digest(c->bhs, BHS_LEN, c->rx_buf, ahs_len) != get_le32(c->rx_buf + at)) {
			conn_fail(c, "header digest error");
			return -1;
		}
		at += DIGEST_LEN;
	}
	if (c->p.data_digest && c->rx_data_len) {
		uint32_t padded = pad4(c->rx_data_len);
		if (pdu_digest(c->rx_buf + at, padded, NULL, 0) != get_le32(c->rx_buf + at + padded)) {
			fprintf(stderr, "iscsi: connection from %s (%s): data digest error\n",
				c->peer, c->initiator);
			reject(c, c->bhs, REJECT_DATA_DIGEST, true);
			c->phase = PHASE_LOGGED_OUT;
			return -1;
		}
	}
	return at;
}

static void pdu_complete(struct conn *c)
{
	int64_t data_at = check_digests(c, (uint32_t)c->bhs[4] * 4);
	c->rx_state = RX_BHS;
	c->rx_have = 0;
	if (data_at < 0)
		return;
	struct pdu pdu = { .data = c->rx_buf ? c->rx_buf + data_at : NULL,
			   .data_len = c->rx_data_len };
	memcpy(pdu.bhs, c->bhs, BHS_LEN);
	dispatch(c, &pdu);
}

/* Up to want bytes of the PDU being received into dst: from the input
 * buffer, refilled by one read() that may hold many small PDUs; a large
 * remainder with the buffer empty is read straight into dst.  Returns the
 * bytes taken, or -1 when there is nothing more to take now (the socket is
 * empty, closed or failed: conn_fail has run for the last two).  *drained
 * says a read() got less than it asked, so the socket is empty: reading
 * again would only get EAGAIN, and epoll will call us when more comes. */
static ssize_t rx_take(struct conn *c, uint8_t *dst, size_t want, bool *drained)
{
	if (c->in_off == c->in_len) {
		bool direct = want >= sizeof(c->in_buf);
		size_t ask = direct ? want : sizeof(c->in_buf);
		if (*drained)
			return -1;
		ssize_t got = read(c->fd, direct ? dst : c->in_buf, ask);
		if (got == 0)
			conn_fail(c, "closed by the initiator");
		else if (got < 0 && errno != EAGAIN && errno != EINTR)
			conn_fail(c, strerror(errno));
		if (got <= 0)
			return -1;
		c->last_rx_ms = server_now_ms();
		*drained = (size_t)got < ask;
		if (direct)
			return got;
		c->in_off = 0;
		c->in_len = (uint32_t)got;
	}
	size_t n = c->in_len - c->in_off < want ? c->in_len - c->in_off : want;
	memcpy(dst, c->in_buf + c->in_off, n);
	c->in_off += (uint32_t)n;
	return (ssize_t)n;
}

/* Read what the socket has; handle each whole PDU. */
static void conn_read(struct conn *c)
{
	bool drained = false;
	for (;;) {
		uint8_t *dst = c->rx_state == RX_BHS ? c->bhs + c->rx_have : c->rx_buf + c->rx_have;
		size_t want = (c->rx_state == RX_BHS ? BHS_LEN : c->rx_need) - c->rx_have;
		if (want) {
			ssize_t got = rx_take(c, dst, want, &drained);
			if (got < 0)
				return;
			c->rx_have += (uint32_t)got;
		}
		if (c->rx_state == RX_BHS && c->rx_have == BHS_LEN) {
			int rc = start_segments(c);
			if (rc) {
				conn_fail(c, rc == -EMSGSIZE ? "data segment larger than allowed"
							     : "out of memory");
				return;
			}
		}
		if (c->rx_state == RX_DATA && c->rx_have == c->rx_need) {
			pdu_complete(c);
			if (c->dead)
				return;
		}
	}
}

/* ---- sending ---------------------------------------------------------- */

static void set_want_out(struct conn *c, bool want)
{
	if (c->dead || want == c->want_out)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}

static void tx_done(struct conn *c, struct txpdu *t)
{
	c->tx_head = t->next;
	if (!c->tx_head)
		c->tx_tail = NULL;
	bool close_after = t->close_after;
	const char *reason = t->close_reason ? t->close_reason : "after a final response";
	struct cmd *hold = t->hold;
	txpdu_free(t);
	if (hold)
		cmd_tx_done(hold);
	if (close_after)
		conn_fail(c, reason);
}

/* The five parts of t on the wire (some may be empty); returns its length. */
static size_t txpdu_parts(const struct txpdu *t, struct iovec parts[5])
{
	uint32_t pad = pad4(t->data_len) - t->data_len;
	parts[0] = (struct iovec){ (void *)t->bhs, BHS_LEN };
	parts[1] = (struct iovec){ (void *)t->header_digest, t->header_digest_len };
	parts[2] = (struct iovec){ (void *)t->data, t->data_len };
	parts[3] = (struct iovec){ (void *)zero_pad, pad };
	parts[4] = (struct iovec){ (void *)t->data_digest, t->data_digest_len };
	return BHS_LEN + t->header_digest_len + t->data_len + pad + t->data_digest_len;
}

/* Gather the queued PDUs from the head (up to FLUSH_PDUS, and none after
 * one that closes the connection) into iov, skipping what the head has
 * already sent; returns the iovec count, *bytes what they hold. */
static int gather(struct conn *c, struct iovec *iov, size_t *bytes)
{
	size_t skip = c->tx_head->sent;
	int n = 0, pdus = 0;
	*bytes = 0;
	for (struct txpdu *t = c->tx_head; t && pdus < FLUSH_PDUS; t = t->next, pdus++) {
		struct iovec parts[5];
		txpdu_parts(t, parts);
		for (int i = 0; i < 5; i++) {
			if (skip >= parts[i].iov_len) {
				skip -= parts[i].iov_len;
				continue;
			}
			iov[n].iov_base = (uint8_t *)parts[i].iov_base + skip;
			iov[n].iov_len = parts[i].iov_len - skip;
			*bytes += iov[n++].iov_len;
			skip = 0;
		}
		if (t->close_after)
			break;
	}
	return n;
}

/* Write queued PDUs until the socket is full or the queue empty, many PDUs
 * per sendmsg: at queue depth 32, one system call and one TCP send instead
 * of one per PDU. */
void conn_flush(struct conn *c)
{
	struct iovec iov[FLUSH_PDUS * 5];
	while (!c->dead && c->tx_head) {
		size_t bytes;
		int n_iov = gather(c, iov, &bytes);
		/* sendmsg, not writev: MSG_NOSIGNAL, so an initiator that hung up
		 * is an EPIPE for this connection, not a SIGPIPE for the daemon */
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n_iov };
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_fail(c, strerror(errno));
			return;
		}
		/* Retire the PDUs written whole; tx_done() may close the connection,
		 * which empties the queue. */
		size_t left = (size_t)n;
		while (left && c->tx_head) {
			struct txpdu *t = c->tx_head;
			struct iovec parts[5];
			size_t rest = txpdu_parts(t, parts) - t->sent;
			if (left < rest) {
				t->sent += left;
				break;
			}
			left -= rest;
			tx_done(c, t);
		}
		if ((size_t)n < bytes)
			break; /* the socket is full */
	}
	set_want_out(c, !c->dead && c->tx_head != NULL);
}

void conn_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_fail(c, "socket error or hang-up");
	} else {
		if (events & EPOLLIN)
			conn_read(c);
		if (!c->dead)
			conn_flush(c);
	}
}

/* Free a dead connection once no command of it is still running; only the
 * event loop calls this, between events, when nothing else holds c. */
bool conn_release(struct conn *c)
{
	if (!c->dead || c->ncmds)
		return false;
	pthread_mutex_lock(&c->srv->sessions_lock);
	struct conn **pp = &c->srv->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	pthread_mutex_unlock(&c->srv->sessions_lock);
	if (c->target && c->nexus_id)
		scsi_nexus_remove(c->target->scsi, c->nexus_id);
	if (c->target)
		server_target_put(c->srv, c->target); /* may free a removed target */
	chap_free(c);
	free(c->rx_buf);
	free(c);
	return true;
}
