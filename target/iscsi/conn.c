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

static uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }

void conn_stamp(struct conn *c, uint8_t *bhs, bool advance_stat_sn)
{
	put_be32(bhs + 24, c->stat_sn);
	if (advance_stat_sn)
		c->stat_sn++;
	put_be32(bhs + 28, c->exp_cmd_sn);
	put_be32(bhs + 32, c->exp_cmd_sn + CMD_WINDOW - 1);
}

static void txpdu_free(struct txpdu *t)
{
	free(t->own_data);
	free(t);
}

void conn_queue(struct conn *c, struct txpdu *t)
{
	put_be32(t->bhs + 4, t->data_len & 0xffffff); /* TotalAHSLength 0 */
	t->next = NULL;
	if (c->dead) {
		txpdu_free(t);
		return;
	}
	if (c->tx_tail)
		c->tx_tail->next = t;
	else
		c->tx_head = t;
	c->tx_tail = t;
}

void conn_reject(struct conn *c, const uint8_t *bhs, uint8_t reason)
{
	struct txpdu *t = txpdu_new(OP_REJECT, 0x80);
	if (!t || !(t->own_data = malloc(BHS_LEN))) {
		free(t);
		conn_fail(c, "out of memory");
		return;
	}
	t->bhs[2] = reason;
	put_be32(t->bhs + 16, 0xffffffffu);
	memcpy(t->own_data, bhs, BHS_LEN);
	t->data = t->own_data;
	t->data_len = BHS_LEN;
	conn_stamp(c, t->bhs, true);
	conn_queue(c, t);
}

void conn_fail(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	fprintf(stderr, "iscsi: connection from %s (%s): %s; closing it\n", c->peer,
		c->initiator[0] ? c->initiator : "not logged in", why);
	c->dead = true;
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
		if (get_be32(pdu->bhs + 16) == 0xffffffffu) /* a ping that wants no answer */
			break;
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
	c->rx_data_len = data_len;
	c->rx_need = ahs_len + pad4(data_len);
	c->rx_have = 0;
	free(c->rx_buf);
	c->rx_buf = c->rx_need ? malloc(c->rx_need) : NULL;
	if (c->rx_need && !c->rx_buf)
		return -ENOMEM;
	c->rx_state = RX_DATA;
	return 0;
}

static void pdu_complete(struct conn *c)
{
	uint32_t ahs_len = (uint32_t)c->bhs[4] * 4;
	struct pdu pdu = { .data = c->rx_buf ? c->rx_buf + ahs_len : NULL,
			   .data_len = c->rx_data_len };
	memcpy(pdu.bhs, c->bhs, BHS_LEN);
	c->rx_state = RX_BHS;
	c->rx_have = 0;
	dispatch(c, &pdu);
}

/* Read what the socket has; handle each whole PDU. */
static void conn_read(struct conn *c)
{
	for (;;) {
		uint8_t *dst = c->rx_state == RX_BHS ? c->bhs + c->rx_have : c->rx_buf + c->rx_have;
		size_t want = (c->rx_state == RX_BHS ? BHS_LEN : c->rx_need) - c->rx_have;
		ssize_t got = want ? read(c->fd, dst, want) : 0;
		if (want && got == 0) {
			conn_fail(c, "closed by the initiator");
			return;
		}
		if (got < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_fail(c, strerror(errno));
			return;
		}
		c->rx_have += (uint32_t)got;
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
	const char *reason = t->close_reason ? t->close_reason : "logged out";
	struct cmd *hold = t->hold;
	txpdu_free(t);
	if (hold)
		cmd_tx_done(hold);
	if (close_after)
		conn_fail(c, reason);
}

/* Write queued PDUs until the socket is full or the queue empty. */
void conn_flush(struct conn *c)
{
	static const uint8_t zeros[4];
	while (!c->dead && c->tx_head) {
		struct txpdu *t = c->tx_head;
		uint32_t pad = pad4(t->data_len) - t->data_len;
		struct iovec iov[3] = { { t->bhs, BHS_LEN }, { (void *)t->data, t->data_len },
					{ (void *)zeros, pad } };
		size_t skip = t->sent, total = BHS_LEN + t->data_len + pad;
		int first = 0;
		while (first < 3 && skip >= iov[first].iov_len)
			skip -= iov[first++].iov_len;
		iov[first].iov_base = (uint8_t *)iov[first].iov_base + skip;
		iov[first].iov_len -= skip;
		ssize_t n = writev(c->fd, iov + first, 3 - first);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_fail(c, strerror(errno));
			return;
		}
		t->sent += (size_t)n;
		if (t->sent == total)
			tx_done(c, t);
		else
			break;
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
	struct conn **pp = &c->srv->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	if (c->target && c->nexus_id)
		scsi_nexus_remove(c->target->scsi, c->nexus_id);
	free(c->rx_buf);
	free(c);
	return true;
}
