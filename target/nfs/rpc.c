/*
 * rpc.c - ONC RPC v2 (RFC 5531) over TCP: the record reader (section 11,
 * record marking), call header decoding with AUTH_NONE and AUTH_SYS
 * credentials (appendix A), and reply header encoding.
 *
 * The record reader grows its buffer as bytes arrive, never from what a
 * fragment header claims, so a peer announcing 2 GiB costs nothing until it
 * sends it, and it is refused once the announced total passes the limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/rpc.h"

#define LAST_FRAGMENT 0x80000000u

void rpc_record_reader_init(struct rpc_record_reader *r, size_t max_record)
{
	memset(r, 0, sizeof(*r));
	r->max_record = max_record;
}

void rpc_record_reader_free(struct rpc_record_reader *r)
{
	free(r->buf);
	rpc_record_reader_init(r, r->max_record);
}

/* Make room for need bytes in the record buffer (need <= max_record). */
static int reserve(struct rpc_record_reader *r, size_t need)
{
	if (need <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap * 2 : 4096;
	if (cap > r->max_record)
		cap = r->max_record;
	if (cap < need)
		cap = need;
	uint8_t *buf = realloc(r->buf, cap);
	if (!buf)
		return -ENOMEM;
	r->buf = buf;
	r->cap = cap;
	return 0;
}

/* The 4-byte marker is complete: start its fragment. */
static int start_fragment(struct rpc_record_reader *r)
{
	uint32_t mark = (uint32_t)r->mark[0] << 24 | (uint32_t)r->mark[1] << 16 |
			(uint32_t)r->mark[2] << 8 | r->mark[3];
	uint32_t frag_len = mark & ~LAST_FRAGMENT;
	r->mark_len = 0;
	if (frag_len > r->max_record - r->len)
		return -EMSGSIZE;
	r->frag_left = frag_len;
	r->last_frag = (mark & LAST_FRAGMENT) != 0;
	r->in_fragment = true;
	return 0;
}

long rpc_record_reader_feed(struct rpc_record_reader *r, const uint8_t *data, size_t len,
			    const uint8_t **record, size_t *record_len)
{
	size_t used = 0;
	*record = NULL;
	*record_len = 0;
	while (used < len || (r->in_fragment && r->frag_left == 0)) {
		if (!r->in_fragment) {
			r->mark[r->mark_len++] = data[used++];
			if (r->mark_len == 4) {
				int rc = start_fragment(r);
				if (rc)
					return rc;
			}
			continue;
		}
		size_t n = len - used < r->frag_left ? len - used : r->frag_left;
		if (n) {
			int rc = reserve(r, r->len + n);
			if (rc)
				return rc;
			memcpy(r->buf + r->len, data + used, n);
			r->len += n;
			r->frag_left -= (uint32_t)n;
			used += n;
		}
		if (r->frag_left == 0) {
			r->in_fragment = false;
			if (r->last_frag) {
				/* An empty record has no buffer yet: any non-NULL pointer does. */
				*record = r->buf ? r->buf : r->mark;
				*record_len = r->len;
				r->len = 0; /* the bytes stay until the next call writes */
				return (long)used;
			}
		}
	}
	return (long)used;
}

size_t rpc_record_reader_room(struct rpc_record_reader *r, uint8_t **room)
{
	if (!r->in_fragment || r->frag_left == 0 || reserve(r, r->len + r->frag_left) < 0)
		return 0;
	*room = r->buf + r->len;
	return r->frag_left;
}

void rpc_record_reader_filled(struct rpc_record_reader *r, size_t n)
{
	r->len += n;
	r->frag_left -= (uint32_t)n;
}

void rpc_record_mark(uint8_t out[4], uint32_t len)
{
	uint32_t mark = LAST_FRAGMENT | len;
	out[0] = (uint8_t)(mark >> 24);
	out[1] = (uint8_t)(mark >> 16);
	out[2] = (uint8_t)(mark >> 8);
	out[3] = (uint8_t)mark;
}

/* An opaque_auth: its flavor and body.  -EMSGSIZE for a body over
 * RPC_AUTH_BODY_MAX, -EINVAL when the record ends inside it. */
static int get_auth(struct xdr_in *x, uint32_t *flavor, struct xdr_in *body)
{
	*flavor = xdr_get_u32(x);
	uint32_t len = xdr_get_u32(x);
	if (x->err)
		return -EINVAL;
	if (len > RPC_AUTH_BODY_MAX)
		return -EMSGSIZE;
	const uint8_t *p = xdr_get_fixed(x, len);
	if (!p)
		return -EINVAL;
	xdr_in_init(body, p, len);
	return 0;
}

/* An authsys_parms filling the whole credential body. */
static bool get_auth_sys(struct xdr_in *body, struct rpc_cred *cred)
{
	cred->stamp = xdr_get_u32(body);
	xdr_get_string(body, cred->machine, RPC_AUTH_SYS_MACHINE_MAX);
	cred->uid = xdr_get_u32(body);
	cred->gid = xdr_get_u32(body);
	cred->ngids = xdr_get_u32(body);
	if (cred->ngids > RPC_AUTH_SYS_GIDS_MAX) {
		cred->ngids = 0;
		return false;
	}
	for (uint32_t i = 0; i < cred->ngids; i++)
		cred->gids[i] = xdr_get_u32(body);
	return !body->err && xdr_left(body) == 0;
}

/* Judge the credential and verifier: RPC_AUTH_OK or why they are refused. */
static enum rpc_auth_stat check_auth(uint32_t flavor, struct xdr_in *body, uint32_t verf_flavor,
				     struct rpc_cred *cred)
{
	cred->flavor = flavor;
	if (flavor == RPC_AUTH_SYS && !get_auth_sys(body, cred))
		return RPC_AUTH_BADCRED;
	if (flavor != RPC_AUTH_NONE && flavor != RPC_AUTH_SYS)
		return RPC_AUTH_TOOWEAK;
	return verf_flavor == RPC_AUTH_NONE ? RPC_AUTH_OK : RPC_AUTH_BADVERF;
}

/* The credential and verifier after the procedure number. */
static enum rpc_call_status decode_auth(struct xdr_in *x, struct rpc_call *call,
					enum rpc_auth_stat *auth_stat)
{
	uint32_t flavor, verf_flavor;
	struct xdr_in body, verf_body;
	int rc = get_auth(x, &flavor, &body);
	if (rc == -EMSGSIZE) {
		*auth_stat = RPC_AUTH_BADCRED;
		return RPC_CALL_AUTH_ERROR;
	}
	if (rc == 0)
		rc = get_auth(x, &verf_flavor, &verf_body);
	if (rc == -EMSGSIZE) {
		*auth_stat = RPC_AUTH_BADVERF;
		return RPC_CALL_AUTH_ERROR;
	}
	if (rc)
		return RPC_CALL_GARBAGE;
	*auth_stat = check_auth(flavor, &body, verf_flavor, &call->cred);
	return *auth_stat == RPC_AUTH_OK ? RPC_CALL_OK : RPC_CALL_AUTH_ERROR;
}

enum rpc_call_status rpc_call_decode(const uint8_t *record, size_t len, struct rpc_call *call,
				     enum rpc_auth_stat *auth_stat)
{
	struct xdr_in x;
	xdr_in_init(&x, record, len);
	memset(call, 0, sizeof(*call));
	*auth_stat = RPC_AUTH_OK;
	call->xid = xdr_get_u32(&x);
	if (xdr_get_u32(&x) != RPC_CALL || x.err)
		return RPC_CALL_DROP;
	uint32_t rpcvers = xdr_get_u32(&x);
	if (!x.err && rpcvers != RPC_VERSION)
		return RPC_CALL_RPC_MISMATCH;
	call->prog = xdr_get_u32(&x);
	call->vers = xdr_get_u32(&x);
	call->proc = xdr_get_u32(&x);
	if (x.err)
		return RPC_CALL_GARBAGE;
	enum rpc_call_status status = decode_auth(&x, call, auth_stat);
	if (status == RPC_CALL_OK)
		xdr_in_init(&call->args, record + x.pos, xdr_left(&x));
	return status;
}

static void reply_header(struct xdr_out *out, uint32_t xid, uint32_t reply_stat)
{
	xdr_put_u32(out, xid);
	xdr_put_u32(out, RPC_REPLY);
	xdr_put_u32(out, reply_stat);
}

void rpc_reply_accepted(struct xdr_out *out, uint32_t xid, enum rpc_accept_stat stat,
			uint32_t mismatch_low, uint32_t mismatch_high)
{
	reply_header(out, xid, RPC_MSG_ACCEPTED);
	xdr_put_u32(out, RPC_AUTH_NONE); /* verifier: AUTH_NONE, empty body */
	xdr_put_u32(out, 0);
	xdr_put_u32(out, stat);
	if (stat == RPC_PROG_MISMATCH) {
		xdr_put_u32(out, mismatch_low);
		xdr_put_u32(out, mismatch_high);
	}
}

void rpc_reply_denied_mismatch(struct xdr_out *out, uint32_t xid)
{
	reply_header(out, xid, RPC_MSG_DENIED);
	xdr_put_u32(out, RPC_MISMATCH);
	xdr_put_u32(out, RPC_VERSION); /* lowest and highest version supported */
	xdr_put_u32(out, RPC_VERSION);
}

void rpc_reply_denied_auth(struct xdr_out *out, uint32_t xid, enum rpc_auth_stat stat)
{
	reply_header(out, xid, RPC_MSG_DENIED);
	xdr_put_u32(out, RPC_AUTH_ERROR);
	xdr_put_u32(out, stat);
}
