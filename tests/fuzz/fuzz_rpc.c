/*
 * fuzz_rpc.c - libFuzzer target: the bytes a client sends to an RPC port,
 * through the record reader (target/nfs/rpc.c) in chunks, every whole
 * record through rpc_call_decode, and portmapper calls through
 * rpc_portmap_serve (target/nfs/portmap.c).
 *
 * Input: byte 0 chooses the chunk size (bits 0-5: 1 to 64 bytes), the host
 * (bit 6: "::1", else "127.0.0.1") and the record limit (bit 7: 64 bytes,
 * else 64 KiB); the rest is the stream.  Each record is copied to a buffer
 * of its exact size, so that reading past it is caught.  Besides the
 * sanitizers, two properties are checked: the reader takes every byte it
 * is given until it reports an error, and every call that is not dropped
 * gets a reply that starts with its xid and the REPLY message type.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct rpc_mapping fuzz_maps[] = {
	{ 100003, 3, 2049 },
	{ 100005, 3, 20048 },
	{ 100005, 1, 20048 },
};

/* Answer one record the way a dispatcher would, and check the reply. */
static void answer(const struct rpc_portmap *pm, const uint8_t *record, size_t len)
{
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	struct xdr_out out;
	xdr_out_init(&out);
	switch (rpc_call_decode(record, len, &call, &auth_stat)) {
	case RPC_CALL_DROP:
		return;
	case RPC_CALL_RPC_MISMATCH:
		rpc_reply_denied_mismatch(&out, call.xid);
		break;
	case RPC_CALL_AUTH_ERROR:
		rpc_reply_denied_auth(&out, call.xid, auth_stat);
		break;
	case RPC_CALL_GARBAGE:
		rpc_reply_accepted(&out, call.xid, RPC_GARBAGE_ARGS, 0, 0);
		break;
	case RPC_CALL_OK:
		if (call.prog == PMAP_PROG)
			rpc_portmap_serve(pm, &call, &out);
		else
			rpc_reply_accepted(&out, call.xid, RPC_PROG_UNAVAIL, 0, 0);
		break;
	}
	struct xdr_in reply;
	xdr_in_init(&reply, out.buf, out.len);
	if (out.err || xdr_get_u32(&reply) != call.xid || xdr_get_u32(&reply) != RPC_REPLY ||
	    reply.err) {
		fprintf(stderr, "fuzz_rpc: bad reply to xid %u\n", call.xid);
		abort();
	}
	xdr_out_free(&out);
}

/* Feed one chunk; false once the reader refuses the stream. */
static bool feed(struct rpc_record_reader *r, const struct rpc_portmap *pm, const uint8_t *chunk,
		 size_t len)
{
	while (len) {
		const uint8_t *record;
		size_t record_len;
		long used = rpc_record_reader_feed(r, chunk, len, &record, &record_len);
		if (used == -EMSGSIZE)
			return false;
		if (used < 0 || (size_t)used > len || (used == 0 && !record))
			abort(); /* -ENOMEM cannot happen under these limits */
		if (record) {
			uint8_t *copy = malloc(record_len ? record_len : 1);
			memcpy(copy, record, record_len);
			answer(pm, copy, record_len);
			free(copy);
		} else if ((size_t)used != len) {
			abort(); /* stopped without a record */
		}
		chunk += used;
		len -= (size_t)used;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (data[0] & 0x3f) + 1;
	struct rpc_portmap pm = { fuzz_maps, 3, data[0] & 0x40 ? "::1" : "127.0.0.1" };
	struct rpc_record_reader r;
	rpc_record_reader_init(&r, data[0] & 0x80 ? 64 : 65536);
	for (size_t at = 1; at < size; at += chunk) {
		size_t len = size - at < chunk ? size - at : chunk;
		if (!feed(&r, &pm, data + at, len))
			break;
	}
	rpc_record_reader_free(&r);
	return 0;
}
