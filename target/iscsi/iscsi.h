/*
 * iscsi.h - the iSCSI target (RFC 7143): portals, targets, sessions, login
 * negotiation, SCSI command transport.  The SCSI command set itself is
 * target/scsi; this module moves PDUs.
 *
 * Threading: the server runs one event-loop thread (epoll) that owns every
 * socket, session and SCSI target and the cowstore completion queue, so no
 * connection ever blocks on disk and nothing needs a lock.  Functions here
 * are called from the thread that created the server, and only before
 * iscsi_server_start() or after iscsi_server_stop(), except for the
 * start/stop pair itself, iscsi_server_thin_threshold_reached, and the
 * session functions at the end, which any thread may call while the server
 * runs (they take the sessions lock).
 */
#ifndef SLATE_TARGET_ISCSI_H
#define SLATE_TARGET_ISCSI_H

#include <stddef.h>
#include <stdint.h>

#include "cowstore/cowstore.h"

#define ISCSI_NAME_MAX 223 /* RFC 3720 iSCSI names: at most 223 bytes */

struct iscsi_server;

#define ISCSI_DEFAULT_WINDOW 64u  /* CmdSN window of a new session */
#define ISCSI_MAX_WINDOW 256u

struct iscsi_server_options {
	const char *address; /* numeric IPv4 or IPv6 address to listen on */
	uint16_t port;       /* 0: any free port (tests); slated uses 3260 */
	/* Keepalive: a session silent for nop_interval_ms gets a NOP-In ping; no
	 * answer within nop_timeout_ms ends it.  0 picks 10 s for each. */
	uint32_t nop_interval_ms, nop_timeout_ms;
	/* On stop, sessions are asked to log out (Async Message) and closed
	 * after stop_grace_ms at most.  0 picks 2 s. */
	uint32_t stop_grace_ms;
};

/* The caller owns *out; iscsi_server_destroy() releases it. */
int iscsi_server_create(struct cowstore *cs, const struct iscsi_server_options *opts,
			struct iscsi_server **out);
/* Add a target named iqn; then map volumes as its LUNs. */
int iscsi_server_add_target(struct iscsi_server *srv, const char *iqn);
int iscsi_server_add_lun(struct iscsi_server *srv, const char *iqn, uint64_t lun,
			 uint64_t volume_id);
/* Bind and listen, then serve in a new thread. */
int iscsi_server_start(struct iscsi_server *srv);
/* Stop accepting, close every connection once its commands finish, join. */
void iscsi_server_stop(struct iscsi_server *srv);
void iscsi_server_destroy(struct iscsi_server *srv);
/* The port actually bound (useful with port 0 in tests). */
uint16_t iscsi_server_port(const struct iscsi_server *srv);

/* The pool crossed its soft threshold (any thread, e.g. cowstore's event
 * handler): every session learns it as a unit attention on every LUN. */
void iscsi_server_thin_threshold_reached(struct iscsi_server *srv);

/* ---- sessions (any thread, while the server runs) ---------------------- */

struct iscsi_session_info {
	uint64_t session_id;   /* unique for the server's life; also the SCSI I_T nexus */
	char initiator[ISCSI_NAME_MAX + 1];
	char target[ISCSI_NAME_MAX + 1]; /* empty for a discovery session */
	char peer[64];         /* the initiator's address */
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t window;       /* CmdSN window: MaxCmdSN - ExpCmdSN + 1 */
};

/* Copy up to max sessions in full feature phase into out; *count gets how
 * many there are (which may exceed max). */
int iscsi_server_list_sessions(struct iscsi_server *srv, struct iscsi_session_info *out,
			       size_t max, size_t *count);
/* Set a session's CmdSN window (1..ISCSI_MAX_WINDOW commands): the QoS
 * lever.  A larger window is granted with the next response; a smaller one
 * takes effect as commands complete, since MaxCmdSN never goes back
 * (RFC 7143 4.2.2.1).  -ENOENT if no such session. */
int iscsi_server_set_session_window(struct iscsi_server *srv, uint64_t session_id,
				    uint32_t window);

#endif /* SLATE_TARGET_ISCSI_H */
