/*
 * session.c - what the target does to sessions as a whole: publishing them
 * to other threads (listing, the CmdSN window the QoS module sets), session
 * reinstatement, keepalive pings, the login timeout and the logout request
 * sent on shutdown.
 *
 * A session is one connection (MaxConnections=1), so "session" here is a
 * struct conn in full feature phase.  Other threads see a connection only
 * through iscsi_server_list_sessions / iscsi_server_set_session_window,
 * under srv->sessions_lock, and only once c->published is set: from then on
 * its identity fields (initiator, target, ISID, TSIH, nexus) never change.
 * Everything else here runs on the event loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/iscsi/internal.h"

#define ASYNC_LOGOUT_REQUEST 1 /* AsyncEvent (11.9.1) */

static bool same_session(const struct conn *a, const struct conn *b)
{
	return a->target == b->target && memcmp(a->isid, b->isid, sizeof(a->isid)) == 0 &&
	       strcmp(a->initiator, b->initiator) == 0;
}

void session_begin(struct conn *c)
{
	c->ping_ttt = 0xffffffffu;
	c->last_rx_ms = server_now_ms();
	for (struct conn *old = c->srv->conns; old; old = old->next) {
		if (old != c && !old->dead && old->phase == PHASE_FULL && !c->discovery &&
		    same_session(old, c))
			conn_fail(old, "session reinstated by a new login with the same ISID");
	}
	atomic_store(&c->published, true);
}

int iscsi_server_list_sessions(struct iscsi_server *srv, struct iscsi_session_info *out,
			       size_t max, size_t *count)
{
	if (!srv || (max && !out) || !count)
		return -EINVAL;
	size_t n = 0;
	pthread_mutex_lock(&srv->sessions_lock);
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!atomic_load(&c->published) || c->dead)
			continue;
		if (n < max) {
			struct iscsi_session_info *info = &out[n];
			memset(info, 0, sizeof(*info));
			info->session_id = c->nexus_id;
			snprintf(info->initiator, sizeof(info->initiator), "%s", c->initiator);
			if (c->target)
				snprintf(info->target, sizeof(info->target), "%s", c->target->iqn);
			snprintf(info->peer, sizeof(info->peer), "%s", c->peer);
			memcpy(info->isid, c->isid, sizeof(info->isid));
			info->tsih = c->tsih;
			info->window = atomic_load(&c->window);
		}
		n++;
	}
	pthread_mutex_unlock(&srv->sessions_lock);
	*count = n;
	return 0;
}

int iscsi_server_set_session_window(struct iscsi_server *srv, uint64_t session_id,
				    uint32_t window)
{
	if (!srv || window < 1 || window > ISCSI_MAX_WINDOW)
		return -EINVAL;
	int rc = -ENOENT;
	pthread_mutex_lock(&srv->sessions_lock);
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (atomic_load(&c->published) && c->nexus_id == session_id) {
			atomic_store(&c->window, window);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&srv->sessions_lock);
	return rc;
}

/* ---- keepalive (NOP-In pings, 11.19) --------------------------------- */

static void send_ping(struct conn *c, uint64_t now_ms)
{
	struct txpdu *t = txpdu_new(OP_NOP_IN, 0x80);
	if (!t) {
		conn_fail(c, "out of memory");
		return;
	}
	c->ping_ttt = conn_next_ttt(c);
	c->ping_sent_ms = now_ms;
	put_be32(t->bhs + 16, 0xffffffffu); /* ITT: target-initiated */
	put_be32(t->bhs + 20, c->ping_ttt); /* the initiator echoes it */
	conn_stamp(c, t->bhs, false);       /* a ping does not consume a StatSN */
	conn_queue(c, t);
}

void sessions_tick(struct iscsi_server *srv, uint64_t now_ms)
{
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->dead && c->phase == PHASE_LOGIN &&
		    now_ms - c->connected_ms >= srv->login_timeout_ms)
			conn_fail(c, "login not finished in time");
		if (c->dead || c->phase != PHASE_FULL)
			continue;
		if (c->ping_ttt != 0xffffffffu) {
			if (now_ms - c->ping_sent_ms >= srv->nop_timeout_ms)
				conn_fail(c, "no answer to a NOP-In ping; the initiator is gone");
		} else if (now_ms - c->last_rx_ms >= srv->nop_interval_ms) {
			send_ping(c, now_ms);
		}
	}
}

void session_ping_answered(struct conn *c, uint32_t ttt)
{
	if (ttt == c->ping_ttt)
		c->ping_ttt = 0xffffffffu;
}

/* ---- shutdown --------------------------------------------------------- */

void sessions_request_logout(struct iscsi_server *srv, uint32_t within_s)
{
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (c->dead)
			continue;
		if (c->phase != PHASE_FULL) {
			conn_fail(c, "the server is stopping");
			continue;
		}
		struct txpdu *t = txpdu_new(OP_ASYNC, 0x80);
		if (!t) {
			conn_fail(c, "out of memory");
			continue;
		}
		put_be32(t->bhs + 16, 0xffffffffu);
		t->bhs[36] = ASYNC_LOGOUT_REQUEST;
		t->bhs[42] = (uint8_t)(within_s >> 8); /* Parameter3: logout within */
		t->bhs[43] = (uint8_t)within_s;
		conn_stamp(c, t->bhs, true);
		conn_queue(c, t);
	}
}
