/*
 * rpc.h - ONC RPC v2 (RFC 5531) over TCP: record marking, call headers,
 * reply headers, AUTH_SYS credentials; and the portmapper (RFC 1833: PMAP
 * v2, RPCBIND v3/v4) that slated answers itself when no rpcbind runs, with
 * the client that registers slated's programs with rpcbind when one does.
 * Private to target/nfs.
 *
 * A record is one RPC message: fragments, each behind a 4-byte marker
 * (last-fragment bit + 31-bit length), concatenated.  The reader takes
 * bytes as they arrive and yields whole records; a record larger than its
 * limit is an error that closes the connection (RFC 5531 gives no way to
 * answer it).
 */
#ifndef SLATE_NFS_RPC_H
#define SLATE_NFS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "target/nfs/xdr.h"

/* ---- record marking -------------------------------------------------- */

struct rpc_record_reader {
	size_t max_record;   /* limit for a whole record */
	uint8_t *buf;        /* the record being assembled (malloc'ed) */
	size_t len, cap;
	uint32_t frag_left;  /* bytes of the current fragment still to come */
	bool last_frag;      /* the current fragment ends the record */
	uint8_t mark[4];     /* a marker arriving in pieces */
	unsigned mark_len;
	bool in_fragment;
};

void rpc_record_reader_init(struct rpc_record_reader *r, size_t max_record);
void rpc_record_reader_free(struct rpc_record_reader *r);
/* Consume bytes from data[0..len): returns how many were consumed (< len
 * only when a record completed: *record points at it, valid until the next
 * call, and *record_len is its length; *record is NULL when no record
 * completed), or -EMSGSIZE for a record over the limit (checked as soon as
 * a fragment header announces it), -ENOMEM.  Call again with the rest until
 * it returns len with no record.  After an error the stream has lost its
 * framing: close the connection, do not feed the reader again. */
long rpc_record_reader_feed(struct rpc_record_reader *r, const uint8_t *data, size_t len,
			    const uint8_t **record, size_t *record_len);

/* Reading straight into the record: while a fragment's body is arriving,
 * *room is where its next bytes go and the return value how many may go
 * there (the rest of the fragment); 0 when the reader needs a marker next
 * (or memory).  After reading n bytes into it, rpc_record_reader_filled();
 * then a feed of 0 bytes returns the record if that completed one.  This
 * spares a copy of every large WRITE's payload. */
size_t rpc_record_reader_room(struct rpc_record_reader *r, uint8_t **room);
void rpc_record_reader_filled(struct rpc_record_reader *r, size_t n);

/* Prefix a record-marking header for a reply of len bytes (one fragment). */
void rpc_record_mark(uint8_t out[4], uint32_t len);

/* ---- messages -------------------------------------------------------- */

#define RPC_VERSION 2u
enum { RPC_CALL = 0, RPC_REPLY = 1 };
enum { RPC_MSG_ACCEPTED = 0, RPC_MSG_DENIED = 1 };
enum rpc_accept_stat {
	RPC_SUCCESS = 0,
	RPC_PROG_UNAVAIL = 1,
	RPC_PROG_MISMATCH = 2,
	RPC_PROC_UNAVAIL = 3,
	RPC_GARBAGE_ARGS = 4,
	RPC_SYSTEM_ERR = 5,
};
enum rpc_reject_stat { RPC_MISMATCH = 0, RPC_AUTH_ERROR = 1 };
enum rpc_auth_stat {
	RPC_AUTH_OK = 0,
	RPC_AUTH_BADCRED = 1,
	RPC_AUTH_REJECTEDCRED = 2,
	RPC_AUTH_BADVERF = 3,
	RPC_AUTH_REJECTEDVERF = 4,
	RPC_AUTH_TOOWEAK = 5,
};
enum { RPC_AUTH_NONE = 0, RPC_AUTH_SYS = 1 };

#define RPC_AUTH_SYS_MACHINE_MAX 255u
#define RPC_AUTH_SYS_GIDS_MAX 16u
#define RPC_AUTH_BODY_MAX 400u

struct rpc_cred {
	uint32_t flavor;   /* RPC_AUTH_NONE or RPC_AUTH_SYS */
	uint32_t stamp;
	char machine[RPC_AUTH_SYS_MACHINE_MAX + 1];
	uint32_t uid, gid;
	uint32_t ngids;
	uint32_t gids[RPC_AUTH_SYS_GIDS_MAX];
};

struct rpc_call {
	uint32_t xid;
	uint32_t prog, vers, proc;
	struct rpc_cred cred;
	struct xdr_in args;  /* the procedure's arguments (rest of the record) */
};

/* What decoding a call header concluded. */
enum rpc_call_status {
	RPC_CALL_OK,          /* call filled; serve it */
	RPC_CALL_DROP,        /* not a call at all (a reply, another message
			       * type, or too short for an xid and message
			       * type): nothing can be answered */
	RPC_CALL_RPC_MISMATCH, /* rpcvers != 2: answer rpc_reply_denied(RPC_MISMATCH) */
	RPC_CALL_AUTH_ERROR,  /* answer rpc_reply_denied(AUTH_ERROR, *auth_stat) */
	RPC_CALL_GARBAGE,     /* header cut short after the message type:
			       * GARBAGE_ARGS */
};

/* Decode a call header from a whole record.  Refused with AUTH_ERROR:
 * a credential body over RPC_AUTH_BODY_MAX bytes or a malformed AUTH_SYS
 * body (short, trailing bytes, machinename over 255, more than 16 gids, a
 * NUL in machinename) as AUTH_BADCRED; any flavor but AUTH_NONE and
 * AUTH_SYS (RPCSEC_GSS, AUTH_DH, ...) as AUTH_TOOWEAK, which tells the
 * client to retry with a flavor we take rather than that its credential
 * was broken; a verifier body over RPC_AUTH_BODY_MAX bytes, or a verifier
 * flavor other than AUTH_NONE, as AUTH_BADVERF.  A record ending inside
 * the header after the message type is RPC_CALL_GARBAGE.  On RPC_CALL_OK
 * call->args covers the rest of the record, which must outlive it. */
enum rpc_call_status rpc_call_decode(const uint8_t *record, size_t len, struct rpc_call *call,
				     enum rpc_auth_stat *auth_stat);

/* Encode reply headers into out (appending; the caller reserves the
 * 4-byte record mark first if it wants one).  An accepted SUCCESS reply is
 * followed by the procedure's results; PROG_MISMATCH carries low/high. */
void rpc_reply_accepted(struct xdr_out *out, uint32_t xid, enum rpc_accept_stat stat,
			uint32_t mismatch_low, uint32_t mismatch_high);
void rpc_reply_denied_mismatch(struct xdr_out *out, uint32_t xid);
void rpc_reply_denied_auth(struct xdr_out *out, uint32_t xid, enum rpc_auth_stat stat);

/* ---- portmapper ------------------------------------------------------ */

#define PMAP_PROG 100000u
#define PMAP_PORT 111u
enum { PMAP_PROC_NULL = 0, PMAP_PROC_SET = 1, PMAP_PROC_UNSET = 2, PMAP_PROC_GETPORT = 3,
       PMAP_PROC_DUMP = 4 };
/* RPCBIND v3/v4 share procedure numbers 0..4 (NULL, SET, UNSET, GETADDR, DUMP)
 * and add GETTIME (6), UADDR2TADDR, TADDR2UADDR; v4 adds GETVERSADDR (9),
 * GETADDRLIST (11). */
enum { RPCB_PROC_GETADDR = 3, RPCB_PROC_DUMP = 4, RPCB_PROC_GETTIME = 6,
       RPCB_PROC_GETVERSADDR = 9 };
#define RPC_IPPROTO_TCP 6u
#define RPC_IPPROTO_UDP 17u

/* One program slated serves, as the portmapper reports it. */
struct rpc_mapping {
	uint32_t prog, vers;
	uint32_t port;       /* TCP */
};

struct rpc_portmap {
	const struct rpc_mapping *maps;
	size_t nmaps;
	const char *host;    /* the address to report in universal addresses,
			      * e.g. "127.0.0.1" or "::1" */
};

/* Serve one portmapper call (call->prog == PMAP_PROG): appends the whole
 * reply (accepted header and results, or PROG_MISMATCH/PROC_UNAVAIL/
 * GARBAGE_ARGS) to out.  SET and UNSET are refused (FALSE): only slated's
 * own programs are mapped.  pm->host must be an IPv4 or IPv6 literal: it
 * gives the RPCBIND netid ("tcp" or "tcp6"), and GETADDR for any other
 * netid answers "" (not mapped), as do PMAP GETPORT asks for UDP. */
void rpc_portmap_serve(const struct rpc_portmap *pm, struct rpc_call *call, struct xdr_out *out);

/* Register (set != 0) or unregister each mapping with the rpcbind listening
 * on 127.0.0.1:111 (PMAP v2 SET/UNSET over TCP, one connection, blocking,
 * about 2 s allowed for connecting and for each answer).  0, -ECONNREFUSED
 * when no rpcbind runs, -EIO when it answers but refuses a SET (rpcbind
 * refuses to SET a program and version mapped already: unset first to
 * clear what an earlier run left) or answers garbage, -ETIMEDOUT.  An
 * UNSET answered FALSE (nothing was mapped) is not an error. */
int rpc_portmap_register(const struct rpc_mapping *maps, size_t nmaps, int set);
/* The same with the rpcbind at addr (tests use a fake one on loopback). */
int rpc_portmap_register_at(const struct sockaddr *addr, socklen_t addr_len,
			    const struct rpc_mapping *maps, size_t nmaps, int set);

#endif
