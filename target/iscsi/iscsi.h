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
 * start/stop pair itself.
 */
#ifndef SLATE_TARGET_ISCSI_H
#define SLATE_TARGET_ISCSI_H

#include <stdint.h>

#include "cowstore/cowstore.h"

#define ISCSI_NAME_MAX 223 /* RFC 3720 iSCSI names: at most 223 bytes */

struct iscsi_server;

struct iscsi_server_options {
	const char *address; /* numeric IPv4 or IPv6 address to listen on */
	uint16_t port;       /* 0: any free port (tests); slated uses 3260 */
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

#endif /* SLATE_TARGET_ISCSI_H */
