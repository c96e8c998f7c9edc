/*
 * internal.h - what the files of target/iscsi share; private to it.
 *
 * A connection reads one PDU at a time (BHS, AHS, data segment, padding)
 * into its rx buffer (through in_buf, so that one read() takes many small
 * PDUs), handles it, and queues outgoing PDUs on a tx list that the event
 * loop writes out without blocking, many PDUs per writev().  Sessions have
 * one connection (MaxConnections=1), so session state lives in struct conn.
 * A command's memory (struct cmd) stays alive until cowstore has finished
 * with its buffer, even if the connection dies first (conn->ncmds keeps the
 * connection's memory alive too).  RFC 7143 section numbers in comments.
 */
#ifndef SLATE_TARGET_ISCSI_INTERNAL_H
#define SLATE_TARGET_ISCSI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qos/qos.h"
#include "target/iscsi/iscsi.h"
#include "target/scsi/scsi.h"

#define BHS_LEN 48
#define MAX_TARGETS ISCSI_MAX_TARGETS
#define OUR_MAX_RECV_DSL 262144u  /* data segment we accept */
#define MAX_DATA_SEGMENT (16u << 20) /* anything larger is a protocol error */

/* Opcodes (10.2.1.2) */
enum {
	OP_NOP_OUT = 0x00, OP_SCSI_CMD = 0x01, OP_TMF_REQ = 0x02, OP_LOGIN_REQ = 0x03,
	OP_TEXT_REQ = 0x04, OP_DATA_OUT = 0x05, OP_LOGOUT_REQ = 0x06, OP_SNACK = 0x10,
	OP_NOP_IN = 0x20, OP_SCSI_RSP = 0x21, OP_TMF_RSP = 0x22, OP_LOGIN_RSP = 0x23,
	OP_TEXT_RSP = 0x24, OP_DATA_IN = 0x25, OP_LOGOUT_RSP = 0x26, OP_R2T = 0x31,
	OP_ASYNC = 0x32, OP_REJECT = 0x3f,
};

/* Reject reasons (11.17.1) */
enum {
	REJECT_DATA_DIGEST = 0x02, REJECT_PROTOCOL_ERROR = 0x04, REJECT_NOT_SUPPORTED = 0x05,
	REJECT_INVALID_PDU_FIELD = 0x09, REJECT_WAITING_FOR_LOGOUT = 0x0b,
};

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- PDUs (pdu.c) ----------------------------------------------------- */

/* A received PDU: the BHS and its data segment (AHS is skipped). */
struct pdu {
	uint8_t bhs[BHS_LEN];
	uint8_t *data;
	uint32_t data_len;
};

static inline uint8_t pdu_opcode(const uint8_t *bhs) { return bhs[0] & 0x3f; }
static inline bool pdu_immediate(const uint8_t *bhs) { return bhs[0] & 0x40; }
/* The LUN field (8 bytes, SAM) as a flat LUN number. */
uint64_t pdu_lun(const uint8_t *bhs);
void pdu_put_lun(uint8_t *bhs, uint64_t lun);
/* Check a BHS on its face: total AHS and data lengths within limits. */
int pdu_check_header(const uint8_t *bhs, uint32_t max_data, uint32_t *ahs_len,
		     uint32_t *data_len);
/* The iSCSI digest (CRC32C, 13.1) of a then b; sent little-endian. */
uint32_t pdu_digest(const void *a, size_t a_len, const void *b, size_t b_len);
#define DIGEST_LEN 4u

/* An outgoing PDU: header, data (owned or borrowed), send progress. */
struct txpdu {
	struct txpdu *next;
	uint8_t bhs[BHS_LEN];
	const uint8_t *data;  /* borrowed from a command, or own_data */
	uint32_t data_len;
	uint8_t *own_data;
	uint8_t header_digest[DIGEST_LEN], data_digest[DIGEST_LEN];
	uint8_t header_digest_len, data_digest_len; /* 0 or DIGEST_LEN */
	size_t sent;          /* bytes of the whole PDU already written */
	struct cmd *hold;     /* command kept alive until this is sent */
	bool close_after;     /* close the connection once this is sent */
	const char *close_reason; /* for the log line (optional) */
};

/* ---- text keys (text.c) ----------------------------------------------- */

/* Values are at most VALUE_MAX bytes, except the large-binary values of
 * CHAP (CHAP_C, CHAP_R: up to 1024 bytes, RFC 7143 12.1.3), whose text may
 * be LARGE_BINARY_TEXT_MAX ("0x" and two hex digits a byte). */
#define KEY_MAX 63
#define VALUE_MAX 255
#define LARGE_BINARY_TEXT_MAX (2 + 2 * 1024)
struct kv {
	char key[KEY_MAX + 1];
	char *value; /* owned */
};
struct kvlist {
	struct kv *items;
	size_t n, cap;
};
/* Parse "key=value\0key=value\0..."; -EINVAL on malformed text. */
int kv_parse(const uint8_t *data, uint32_t len, struct kvlist *out);
const char *kv_get(const struct kvlist *l, const char *key);
int kv_add(struct kvlist *l, const char *key, const char *value);
/* Serialize as "key=value\0..." into a new buffer. */
int kv_encode(const struct kvlist *l, uint8_t **data, uint32_t *len);
void kv_free(struct kvlist *l);

/* ---- server, targets, connections ------------------------------------ */

/* Who may log in to a target (or to discovery) and how. */
struct access {
	struct iscsi_auth auth;
	unsigned nacl;         /* 0: anyone */
	char (*acl)[ISCSI_NAME_MAX + 1]; /* owned */
};

/* A volume: its pool and id. */
struct lun_binding {
	struct cowstore *cs;
	uint64_t volume_id;
};

static inline bool binding_equal(const struct lun_binding *a, const struct lun_binding *b)
{
	return a->cs == b->cs && a->volume_id == b->volume_id;
}

/* A target, owned by the event loop once the server runs (before: by the
 * thread that creates the server).  Allocated alone so that its address
 * stays put: connections point at it (conn->target).  A target removed by
 * iscsi_server_apply_config leaves srv->targets for srv->retired and is
 * freed when the last connection referring to it is released (conns), or
 * at iscsi_server_destroy. */
struct target_entry {
	char iqn[ISCSI_NAME_MAX + 1];
	struct scsi_target *scsi;
	struct cowstore *cs;   /* where its APTPL reservations are kept */
	struct access access;
	/* Each LUN mapped: the volume it serves, and the one its configured
	 * name resolved to when mapped.  They differ once a volume move has
	 * switched the LUN (hold.c), until the name resolves to the new
	 * volume: reconf.c takes either as a match. */
	struct lun_binding served[SCSI_MAX_LUNS], configured[SCSI_MAX_LUNS];
	unsigned conns;        /* connections whose c->target is this one */
	bool removed;          /* on srv->retired: no new login finds it */
	struct target_entry *next_retired;
};

struct conn;
struct tmf;

/* An address the server listens on. */
struct portal {
	char address[64];     /* numeric IPv4 or IPv6 */
	uint16_t port;        /* once listening: the port bound (0 picks one) */
	int fd;
};

struct iscsi_server {
	struct cowstore *cs;
	struct iscsi_volume_finder finder; /* find NULL: volumes are in cs */
	struct qos_stats *stats; /* NULL: no IO statistics */
	struct qos_gate *gate;   /* NULL: no QoS gate */
	struct cowstore_queue *queue;
	struct portal portals[ISCSI_MAX_PORTALS];
	unsigned nportals;
	uint32_t nop_interval_ms, nop_timeout_ms, stop_grace_ms, login_timeout_ms;
	int epoll_fd, stop_fd, timer_fd;
	int notify_fd;         /* eventfd: thin_threshold was set by another thread */
	atomic_bool thin_threshold;
	pthread_t thread;
	bool running, stopping;
	uint64_t stop_deadline_ms;
	/* Guards the conns list against the session functions of iscsi.h; the
	 * loop takes it only to link and unlink a connection. */
	pthread_mutex_t sessions_lock;
	struct target_entry *targets[MAX_TARGETS];
	int ntargets;
	struct target_entry *retired; /* removed, still referred to by a connection */
	struct access discovery;
	/* iscsi_server_apply_config (reconf.c) and volume holds (hold.c): a
	 * request from another thread waits in reconf or volreq until the loop
	 * has applied it.  reconf_lock guards reconf, volreq, the answers to
	 * hold requests and loop_owns (set while the loop thread runs: then
	 * only it may touch targets, discovery, retired and holds); it is never
	 * taken with sessions_lock held.  reconf_cond (CLOCK_MONOTONIC) signals
	 * answers and free request slots.  reconf_retry and hold_waiters are
	 * the loop's own: a request is waiting for a LUN number to drain, and
	 * how many holds wait for their volume to be quiet. */
	pthread_mutex_t reconf_lock;
	pthread_cond_t reconf_cond;
	struct reconf *reconf;
	struct volume_request *volreq;
	bool loop_owns;
	bool reconf_retry;
	struct volume_hold *holds;
	unsigned hold_waiters;
	struct conn *conns;
	uint64_t next_nexus;
	uint16_t next_tsih;
};

enum conn_phase { PHASE_LOGIN, PHASE_FULL, PHASE_LOGGED_OUT };
enum rx_state { RX_BHS, RX_AHS, RX_DATA };

/* Negotiated operational parameters (13). */
struct params {
	uint32_t max_send_dsl; /* the initiator's MaxRecvDataSegmentLength */
	uint32_t max_burst, first_burst;
	bool initial_r2t, immediate_data;
	uint32_t max_outstanding_r2t;
	bool header_digest, data_digest; /* CRC32C negotiated (13.1) */
};

struct conn {
	struct conn *next;
	struct iscsi_server *srv;
	int fd;
	bool dead;             /* socket closed; freed when ncmds reaches 0 */
	uint32_t ncmds;        /* commands whose memory cowstore may still use */
	char peer[64];
	char local[64];        /* our address the initiator reached (SendTargets) */

	/* receive: bytes read ahead of the PDU being received wait in in_buf */
	uint8_t in_buf[65536];
	uint32_t in_off, in_len;
	enum rx_state rx_state;
	uint8_t bhs[BHS_LEN];
	uint8_t *rx_buf;
	uint32_t rx_need, rx_have, rx_data_len;

	/* send */
	struct txpdu *tx_head, *tx_tail;
	bool want_out;

	/* login and session */
	enum conn_phase phase;
	int login_stage;       /* CSG we are in */
	bool discovery;
	struct target_entry *target;
	struct chap_exchange *chap; /* during the security stage */
	bool authenticated;    /* CHAP succeeded, or none was required */
	char initiator[ISCSI_NAME_MAX + 1];
	uint8_t isid[6];
	uint16_t tsih;
	uint64_t nexus_id;
	struct params p;
	bool digests_live;     /* p's digests are on: login has completed */
	uint32_t stat_sn, exp_cmd_sn;
	uint32_t max_cmd_sn;   /* the highest MaxCmdSN sent: it never goes back */
	atomic_uint window;    /* CmdSN window; iscsi_server_set_session_window */
	uint32_t in_window;    /* SCSI commands received in order and not yet done:
				* MaxCmdSN lets window of them be in progress */
	atomic_bool published; /* identity final: iscsi_server_list_sessions shows it */
	uint32_t next_ttt;

	/* keepalive (server.c) */
	uint64_t connected_ms; /* login must finish within srv->login_timeout_ms */
	uint64_t last_rx_ms;   /* when bytes last arrived */
	uint32_t ping_ttt;     /* TTT of our unanswered NOP-In; 0xffffffff: none */
	uint64_t ping_sent_ms;

	struct cmd *cmds;      /* commands in progress */

	/* IO statistics (command.c): the stream of each LUN's volume, cached
	 * by LUN number (direct-mapped); stream NULL: empty slot. */
	struct stream_slot {
		uint64_t lun, volume_id;
		struct qos_stream *stream;
	} streams[8];
};

/* One SCSI command in progress (receiving data, executing, sending). */
struct cmd {
	struct cmd *next;
	struct conn *c;
	struct scsi_task task;
	uint32_t itt, ttt, cmd_sn;
	uint32_t exp_len;      /* Expected Data Transfer Length */
	uint32_t cdb_data_len; /* bytes the CDB says it moves (the SCSI transfer length) */
	uint32_t data_len;     /* bytes the CDB moves, capped by exp_len */
	uint32_t received;     /* data-out bytes in so far */
	uint32_t r2t_offset;   /* next offset to ask for */
	uint32_t r2t_sn, data_sn;
	bool is_write, executing, sent_response;
	bool in_window;        /* counted in conn->in_window until done */
	bool bad_data;         /* a Data-Out broke the sequence: fails at its end */
	uint32_t tx_refs;      /* queued PDUs that point into task.data */
	struct tmf *tmf;       /* aborted while executing: its response waits for us */
	uint64_t received_ns;  /* qos_now_ns() at the command PDU; 0: not timed */
};

/* conn.c */
/* A connection on a connected non-blocking socket, watched by the server's
 * epoll set and on its list; the server frees it (conn_release). */
struct conn *conn_new(struct iscsi_server *srv, int fd);
void conn_queue(struct conn *c, struct txpdu *pdu);
struct txpdu *txpdu_new(uint8_t opcode, uint8_t flags);
/* Fill StatSN (and advance it), ExpCmdSN and MaxCmdSN in a response BHS. */
void conn_stamp(struct conn *c, uint8_t *bhs, bool advance_stat_sn);
void conn_reject(struct conn *c, const uint8_t *bhs, uint8_t reason);
void conn_fail(struct conn *c, const char *why);
bool conn_release(struct conn *c);
void conn_flush(struct conn *c);
void conn_event(struct conn *c, uint32_t events);
/* A fresh Target Transfer Tag (never 0xffffffff, the reserved value). */
uint32_t conn_next_ttt(struct conn *c);

/* login.c */
void login_handle(struct conn *c, const struct pdu *pdu);
void text_handle(struct conn *c, const struct pdu *pdu);
void logout_handle(struct conn *c, const struct pdu *pdu);

/* command.c */
void command_handle(struct conn *c, const struct pdu *pdu);
void data_out_handle(struct conn *c, const struct pdu *pdu);
void commands_abort_all(struct conn *c);
struct cmd *cmd_by_itt(struct conn *c, uint32_t itt);
/* Unlink and free a command; only when nothing (cowstore, a queued PDU)
 * still points into it. */
void cmd_free(struct cmd *cmd);
/* A queued PDU that pointed into cmd's buffer has been sent or dropped. */
void cmd_tx_done(struct cmd *cmd);
/* Is cmd_sn acceptable now (10.2.2.1); advances ExpCmdSN for non-immediate. */
bool cmd_sn_accept(struct conn *c, const uint8_t *bhs);

/* chap.c: CHAP (RFC 1994 with MD5, RFC 7143 12.1.3) in the security stage */
struct chap_exchange;
/* Does a's ACL let the initiator in? */
bool access_allows(const struct access *a, const char *initiator);
/* The security-stage keys of one login PDU: answers AuthMethod and the
 * CHAP_* keys into resp.  Returns 0, or the login status of a failure
 * (0x0201 authentication failure, 0x0200 initiator error). */
uint16_t chap_negotiate(struct conn *c, const struct access *a, const struct kvlist *keys,
			struct kvlist *resp);
void chap_free(struct conn *c);

/* tmf.c */
void tmf_handle(struct conn *c, const struct pdu *pdu);
/* An aborted command that was executing has ended. */
void tmf_task_ended(struct tmf *tmf);

/* server.c */
struct target_entry *server_find_target(struct iscsi_server *srv, const char *iqn);
/* A connection starts / stops referring to t (conn->target); the last put
 * of a removed target frees it. */
void server_target_hold(struct target_entry *t);
void server_target_put(struct iscsi_server *srv, struct target_entry *t);
/* Take t out of service: off the table (no login or SendTargets finds it),
 * its connections closed; freed once none refers to it.  Loop thread. */
void server_remove_target(struct iscsi_server *srv, struct target_entry *t);
uint64_t server_now_ms(void);

/* config.c: the checks iscsi_config_save_target applies, for a
 * configuration that is applied without being saved; -EINVAL, why set. */
int config_check_target(const struct iscsi_target_config *t, char *why, size_t why_len);
int config_check_auth(const struct iscsi_auth *a, const char *what, char *why, size_t why_len);
/* The volume named name, by finder (NULL, or find NULL: in pool cs).
 * 0, -ENOENT or another negative errno. */
int config_find_volume(struct cowstore *cs, const struct iscsi_volume_finder *finder,
		       const char *name, struct cowstore **cs_out, uint64_t *volume_id);

/* reconf.c */
/* The loop's part of iscsi_server_apply_config: apply a waiting request
 * (from on_notify, and after each round while one waits for a LUN to
 * drain); on stop, the request the loop did not take. */
void reconf_service(struct iscsi_server *srv);

/* hold.c */
/* The loop's part of iscsi_server_hold_volume / _release_volume: take a
 * waiting request, answer the holds whose volume became quiet or whose
 * caller gave up (from on_notify, and after each round while hold_waiters);
 * on stop, what the loop left. */
void holds_service(struct iscsi_server *srv);
/* Hold, on target t, every volume held (a LUN was added to t). */
void holds_apply(struct iscsi_server *srv, struct target_entry *t);
void holds_free(struct iscsi_server *srv);

/* session.c */
/* c entered full feature phase: publish it to iscsi_server_list_sessions and
 * end any older session of the same initiator, ISID and target (session
 * reinstatement, 6.3.5). */
void session_begin(struct conn *c);
/* Keepalive, every tick of the server's timer: ping idle sessions, end
 * those whose ping went unanswered. */
void sessions_tick(struct iscsi_server *srv, uint64_t now_ms);
/* A NOP-Out with ITT 0xffffffff: the answer to our ping ttt. */
void session_ping_answered(struct conn *c, uint32_t ttt);
/* Ask every session to log out (Async Message, 11.9.1). */
void sessions_request_logout(struct iscsi_server *srv, uint32_t within_s);

/* The loop's epoll set with its eventfds, timer and completion queue in it
 * (all of the loop but the portal), then one round of the loop: wait up to
 * timeout_ms, handle what is ready, write out, free dead connections.
 * iscsi_server_start() uses both; tests/fuzz drives them without a thread. */
int server_open_loop(struct iscsi_server *srv);
void server_poll(struct iscsi_server *srv, int timeout_ms);

#endif /* SLATE_TARGET_ISCSI_INTERNAL_H */
