/*
 * xdr.c - XDR (RFC 4506) decoding and encoding: big-endian 4-byte units,
 * opaque data and strings padded with zero to a multiple of 4.
 *
 * Decoding is strict about lengths and lenient about padding: the padding
 * bytes must be in the record but may hold any value (RFC 4506 asks senders
 * for zeros; some clients do not send them).  Once err is set, a decoder
 * reads nothing more and an encoder writes nothing more, so a caller checks
 * err once at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "target/nfs/xdr.h"

/* Bytes of zero padding after n bytes of data. */
static size_t pad(size_t n)
{
	return (4 - (n & 3)) & 3;
}

/* Take n bytes plus their padding: a pointer to them, NULL on a short read. */
static const uint8_t *take(struct xdr_in *x, size_t n)
{
	static const uint8_t no_bytes[1]; /* what an empty take of an empty record returns */
	size_t left = xdr_left(x);
	if (x->err || n > left || pad(n) > left - n) {
		x->err = true;
		return NULL;
	}
	const uint8_t *p = x->buf ? x->buf + x->pos : no_bytes;
	x->pos += n + pad(n);
	return p;
}

uint32_t xdr_get_u32(struct xdr_in *x)
{
	const uint8_t *p = take(x, 4);
	if (!p)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t xdr_get_u64(struct xdr_in *x)
{
	uint64_t high = xdr_get_u32(x);
	uint64_t low = xdr_get_u32(x);
	return x->err ? 0 : high << 32 | low;
}

bool xdr_get_bool(struct xdr_in *x)
{
	uint32_t v = xdr_get_u32(x);
	if (v > 1)
		x->err = true;
	return v == 1;
}

const uint8_t *xdr_get_fixed(struct xdr_in *x, size_t n)
{
	return take(x, n);
}

const uint8_t *xdr_get_opaque(struct xdr_in *x, uint32_t max, uint32_t *len)
{
	uint32_t n = xdr_get_u32(x);
	const uint8_t *p = NULL;
	if (n > max)
		x->err = true;
	else
		p = take(x, n);
	*len = p ? n : 0;
	return p;
}

bool xdr_get_string(struct xdr_in *x, char *out, uint32_t max)
{
	uint32_t n;
	const uint8_t *p = xdr_get_opaque(x, max, &n);
	out[0] = 0;
	if (!p || memchr(p, 0, n)) {
		x->err = true;
		return false;
	}
	memcpy(out, p, n);
	out[n] = 0;
	return true;
}

void xdr_out_init(struct xdr_out *x)
{
	x->buf = NULL;
	x->len = 0;
	x->cap = 0;
	x->err = false;
}

void xdr_out_free(struct xdr_out *x)
{
	free(x->buf);
	xdr_out_init(x);
}

/* Append n bytes of room: a pointer to them, NULL (err set) when the buffer
 * cannot grow. */
static uint8_t *extend(struct xdr_out *x, size_t n)
{
	if (x->err || n > SIZE_MAX / 2 - x->len) {
		x->err = true;
		return NULL;
	}
	if (x->len + n > x->cap || !x->buf) { /* even empty room is a real pointer */
		size_t cap = x->cap ? x->cap * 2 : 256;
		if (cap < x->len + n)
			cap = x->len + n;
		uint8_t *buf = realloc(x->buf, cap);
		if (!buf) {
			x->err = true;
			return NULL;
		}
		x->buf = buf;
		x->cap = cap;
	}
	uint8_t *p = x->buf + x->len;
	x->len += n;
	return p;
}

static void store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void xdr_put_u32(struct xdr_out *x, uint32_t v)
{
	uint8_t *p = extend(x, 4);
	if (p)
		store_u32(p, v);
}

void xdr_put_u64(struct xdr_out *x, uint64_t v)
{
	xdr_put_u32(x, (uint32_t)(v >> 32));
	xdr_put_u32(x, (uint32_t)v);
}

void xdr_put_bool(struct xdr_out *x, bool v)
{
	xdr_put_u32(x, v ? 1 : 0);
}

void xdr_put_fixed(struct xdr_out *x, const void *p, size_t n)
{
	size_t offset = xdr_reserve(x, n);
	if (offset != (size_t)-1 && n)
		memcpy(x->buf + offset, p, n);
}

void xdr_put_opaque(struct xdr_out *x, const void *p, uint32_t n)
{
	xdr_put_u32(x, n);
	xdr_put_fixed(x, p, n);
}

void xdr_put_string(struct xdr_out *x, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT32_MAX) {
		x->err = true;
		return;
	}
	xdr_put_opaque(x, s, (uint32_t)n);
}

size_t xdr_reserve(struct xdr_out *x, size_t n)
{
	if (n > SIZE_MAX / 2) {
		x->err = true;
		return (size_t)-1;
	}
	uint8_t *p = extend(x, n + pad(n));
	if (!p)
		return (size_t)-1;
	memset(p + n, 0, pad(n));
	return (size_t)(p - x->buf);
}
