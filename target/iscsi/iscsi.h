/*
 * iscsi.h - the iSCSI target (RFC 7143): portals, targets, sessions, login
 * negotiation, SCSI command transport.  The SCSI command set itself is
 * target/scsi; this module moves PDUs.
 *
 * Threading: the server runs one event-loop thread (epoll) that owns every
 * socket, session and SCSI target and the cowstore completion queue, so no
 * connection ever blocks on disk and serving takes no lock.  Functions here
 * are called from the thread that created the server, and only before
 * iscsi_server_start() or after iscsi_server_stop(), except for the
 * start/stop pair itself, iscsi_server_thin_threshold_reached,
 * iscsi_server_apply_config and the volume hold and release (which hand
 * their work to the loop and wait for it), and the session functions at the
 * end, which any thread may call while the server runs (they take the
 * sessions lock).
 */
#ifndef SLATE_TARGET_ISCSI_H
#define SLATE_TARGET_ISCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowstore/cowstore.h"

#define ISCSI_NAME_MAX 223 /* RFC 3720 iSCSI names: at most 223 bytes */

struct iscsi_server;
struct qos_stats;
struct qos_gate;

#define ISCSI_DEFAULT_WINDOW 64u  /* CmdSN window of a new session */
#define ISCSI_MAX_WINDOW 256u

/* Where the volumes named in the configuration are: an appliance has
 * several pools, and volume ids are unique across them. */
struct iscsi_volume_finder {
	/* The volume named name: its pool and id.  0 or -ENOENT.  Any thread. */
	int (*find)(void *arg, const char *name, struct cowstore **cs, uint64_t *volume_id);
	void *arg;
};

struct iscsi_server_options {
	const char *address; /* numeric IPv4 or IPv6 address to listen on */
	uint16_t port;       /* 0: any free port (tests); slated uses 3260 */
	/* Keepalive: a session silent for nop_interval_ms gets a NOP-In ping; no
	 * answer within nop_timeout_ms ends it.  0 picks 10 s for each. */
	uint32_t nop_interval_ms, nop_timeout_ms;
	/* On stop, sessions are asked to log out (Async Message) and closed
	 * after stop_grace_ms at most.  0 picks 2 s. */
	uint32_t stop_grace_ms;
	/* A connection that has not finished logging in within login_timeout_ms
	 * of connecting is closed (a half-open login holds no resources for
	 * long).  0 picks 30 s. */
	uint32_t login_timeout_ms;
	/* IO statistics: every READ- or WRITE-class command that completes GOOD
	 * is recorded (bytes, latency from the command PDU's arrival to its
	 * completion) on the stream of (initiator name, the LUN's volume).
	 * NULL: none.  Must outlive the server. */
	struct qos_stats *stats;
	/* QoS: every LUN's IO goes through this gate (qos.h), shared with the
	 * NFS server.  NULL: none.  Must outlive the server. */
	struct qos_gate *gate;
	/* How iscsi_server_apply_config finds the volumes it names.  find NULL:
	 * in the server's pool.  The pools must outlive the server. */
	struct iscsi_volume_finder finder;
};

/* ---- configuration (config.c): what is served, kept in the pool ------- */

#define ISCSI_CHAP_USER_MAX 63
#define ISCSI_CHAP_SECRET_MIN 12 /* RFC 7143 12.1.3: at least 96 bits */
#define ISCSI_CHAP_SECRET_MAX 64
#define ISCSI_MAX_ACL 32
#define ISCSI_MAX_TARGET_LUNS 64
#define ISCSI_MAX_TARGETS 64
#define ISCSI_MAX_PORTALS 8
#define ISCSI_PORTAL_MAX 63      /* "ADDR:PORT" or "[V6ADDR]:PORT" */

/* A CHAP name and secret: printable ASCII without spaces; user "" = none. */
struct iscsi_chap {
	char user[ISCSI_CHAP_USER_MAX + 1];
	char secret[ISCSI_CHAP_SECRET_MAX + 1];
};
/* chap: the initiator must prove itself (one-way CHAP) when chap.user is
 * set; mutual: what the target answers an initiator that asks it to prove
 * itself too. */
struct iscsi_auth {
	struct iscsi_chap chap, mutual;
};

struct iscsi_lun_map {
	uint64_t lun;
	char volume[COWSTORE_NAME_MAX + 1];
};

struct iscsi_target_config {
	char iqn[ISCSI_NAME_MAX + 1];
	struct iscsi_auth auth;
	unsigned nacl;           /* 0: every initiator may log in */
	char acl[ISCSI_MAX_ACL][ISCSI_NAME_MAX + 1];
	unsigned nluns;
	struct iscsi_lun_map luns[ISCSI_MAX_TARGET_LUNS];
};

struct iscsi_config {
	/* The pool holds the global record: its iSCSI setup was made once, so
	 * having no target is a choice (slated adds no demo target then). */
	bool initialized;
	struct iscsi_auth discovery; /* for SendTargets sessions */
	unsigned nportals;           /* 0: the default, 127.0.0.1:3260 */
	char portals[ISCSI_MAX_PORTALS][ISCSI_PORTAL_MAX + 1];
	unsigned ntargets;
	struct iscsi_target_config targets[ISCSI_MAX_TARGETS];
};

/* Read the whole configuration from the pool into *cfg (all zero when none
 * is stored); -EINVAL when a record is damaged (why says which). */
int iscsi_config_load(struct cowstore *cs, struct iscsi_config *cfg, char *why, size_t why_len);
/* Store one target / the global part (discovery auth, portals); both are
 * checked first (-EINVAL, why says what is wrong). */
int iscsi_config_save_target(struct cowstore *cs, const struct iscsi_target_config *t,
			     char *why, size_t why_len);
int iscsi_config_save_global(struct cowstore *cs, const struct iscsi_config *cfg, char *why,
			     size_t why_len);
int iscsi_config_delete_target(struct cowstore *cs, const char *iqn);
/* iSCSI names compare without regard to case (RFC 3722), here and in logins. */
struct iscsi_target_config *iscsi_config_find(struct iscsi_config *cfg, const char *iqn);
/* What can be served of cfg: drop the LUNs whose volume cannot be found
 * (deleted while nothing served it), telling dropped(arg, ...) about each
 * (may be NULL), so that the rest is served while iscsi_server_apply_config
 * would refuse the whole for one missing volume.  Volumes are found by
 * finder, or in pool cs when finder or finder->find is NULL (as the server
 * given the same finder finds them). */
typedef void (*iscsi_lun_dropped_fn)(void *arg, const struct iscsi_target_config *target,
				     const struct iscsi_lun_map *lun);
void iscsi_config_drop_missing_luns(struct cowstore *cs, const struct iscsi_volume_finder *finder,
				    struct iscsi_config *cfg, iscsi_lun_dropped_fn dropped,
				    void *arg);
/* iqn.YYYY-MM.reversed.domain[:anything] (MM a month) or eui.<16 hex> or
 * naa.<16|32 hex>. */
int iscsi_name_valid(const char *name);
/* Split "ADDR:PORT" / "[ADDR]:PORT" (numeric address); 0 or -EINVAL. */
int iscsi_portal_parse(const char *portal, char *address, size_t address_len, uint16_t *port);
/* Nonzero when two portals are the same socket however written ([::1] and
 * [0::1]); configured portals must be distinct and bindable together. */
int iscsi_portal_equal(const char *a, const char *b);

/* ---- the server ----------------------------------------------------------- */

/* cs is the server's pool: the completion queue is created on it, APTPL
 * reservations are kept in it, and a LUN is in it unless said otherwise.
 * The caller owns *out; iscsi_server_destroy() releases it. */
int iscsi_server_create(struct cowstore *cs, const struct iscsi_server_options *opts,
			struct iscsi_server **out);
/* Listen on one more portal (the options give the first). */
int iscsi_server_add_portal(struct iscsi_server *srv, const char *address, uint16_t port);
/* Add a target named iqn; then map volumes as its LUNs (cs NULL: a volume
 * of the server's pool). */
int iscsi_server_add_target(struct iscsi_server *srv, const char *iqn);
int iscsi_server_add_lun(struct iscsi_server *srv, const char *iqn, uint64_t lun,
			 struct cowstore *cs, uint64_t volume_id);
/* Who may log in to target iqn (NULL: discovery sessions) and how they
 * authenticate; acl has nacl initiator names (0: anyone).  Copied. */
int iscsi_server_set_access(struct iscsi_server *srv, const char *iqn,
			    const struct iscsi_auth *auth, const char (*acl)[ISCSI_NAME_MAX + 1],
			    unsigned nacl);
/* Make a running (or not yet started) server serve exactly cfg's targets,
 * LUN mappings, ACLs and CHAP (portals are not touched).  Targets not in cfg
 * are removed: their sessions are closed.  A LUN no longer mapped answers
 * LOGICAL UNIT NOT SUPPORTED and the sessions of that target get a
 * REPORTED LUNS DATA HAS CHANGED unit attention; a newly mapped LUN also
 * raises that unit attention.  Volumes are found by the options' finder.  A
 * volume named in cfg that does not exist is an error (-ENOENT, why names
 * it) and nothing changes.  Any thread.
 * 0 or negative errno with a sentence in why.
 *
 * More precisely: cfg is checked as iscsi_config_save_target checks a
 * target (-EINVAL) and every volume looked up before anything changes.
 * Then, on the event loop, between two commands: discovery's CHAP is set;
 * targets not in cfg are removed (sessions and logins in progress closed;
 * commands already in the pool finish, their results dropped); new targets
 * are added; every target's CHAP and ACL replaced, and its sessions whose
 * initiator the new ACL leaves out are closed (a session that logged in
 * with CHAP since changed keeps going); a LUN mapped to another volume is
 * unmapped and mapped again (a LUN that a volume move switched matches the
 * volume it serves and the one the move came from: it is not mapped back).
 * Commands running on an unmapped LUN finish; remapping its number waits
 * for them.  The call returns once all of it is
 * done: a login or command after it sees the new configuration.  A failure
 * past the checks (out of memory) leaves what was already applied. */
int iscsi_server_apply_config(struct iscsi_server *srv, const struct iscsi_config *cfg,
                              char *why, size_t why_len);
/* Bind and listen, then serve in a new thread. */
int iscsi_server_start(struct iscsi_server *srv);
/* Stop accepting, close every connection once its commands finish, join. */
void iscsi_server_stop(struct iscsi_server *srv);
void iscsi_server_destroy(struct iscsi_server *srv);
/* The port the first portal bound (useful with port 0 in tests). */
uint16_t iscsi_server_port(const struct iscsi_server *srv);

/* The pool crossed its soft threshold (any thread, e.g. cowstore's event
 * handler): every session learns it as a unit attention on every LUN. */
void iscsi_server_thin_threshold_reached(struct iscsi_server *srv);

/* ---- volume moves (hold.c; any thread) --------------------------------
 * Moving a volume online to another pool: copy while initiators write,
 * hold, copy the last changes, release with a switch to the copy.  cs NULL
 * means the server's pool.  While held, the commands sent to the volume's
 * LUNs wait in the server (they stay in the CmdSN window); task management
 * and a session's end can still end them (they get no response then). */

/* Hold every LUN (all targets) mapped to (cs, volume_id) and wait until no
 * command runs on them.  0 once held and quiet; -ETIMEDOUT after
 * timeout_ms (< 0: no limit; the hold is then released, nothing changed).
 * Only one hold per volume at a time (-EBUSY).  Before start/after stop:
 * immediate.  A LUN mapped to the volume while it is held is held too. */
int iscsi_server_hold_volume(struct iscsi_server *srv, struct cowstore *cs, uint64_t volume_id,
			     int timeout_ms);
/* Release it; to_cs not NULL switches those LUNs to (to_cs, to_volume_id)
 * first (a new size raises CAPACITY DATA HAS CHANGED; the LUNs keep their
 * identity).  Then the held commands run on it, in arrival order.  0,
 * -ENOENT (no such hold, or one still waiting to be quiet), -EINVAL
 * (to_volume_id is not a volume of to_cs: the hold stays).  A later
 * iscsi_server_apply_config keeps a switched LUN on its new volume whether
 * its name resolves to the new volume or still to the old one. */
int iscsi_server_release_volume(struct iscsi_server *srv, struct cowstore *cs, uint64_t volume_id,
				struct cowstore *to_cs, uint64_t to_volume_id);

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
