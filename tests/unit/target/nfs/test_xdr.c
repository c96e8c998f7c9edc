/*
 * test_xdr.c - the XDR codecs (target/nfs/xdr.c): every get against known
 * bytes and cut short at every byte, padding that must exist but may hold
 * anything, length limits, strings with NUL, and every put against the bytes
 * RFC 4506 prescribes, including reserve and growth of the buffer.
 */
#include "target/nfs/xdr.h"
#include "tests/harness.h"

/* u32 7, u64, bool TRUE, fixed(5), opaque<8> of 3, string "abc". */
static const uint8_t sample[] = {
	0, 0, 0, 7,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0, 0, 0, 1,
	'h', 'e', 'l', 'l', 'o', 0, 0, 0,
	0, 0, 0, 3, 'x', 'y', 'z', 0,
	0, 0, 0, 3, 'a', 'b', 'c', 0,
};

/* Decode sample's fields from x; true when all decoded with their values. */
static bool decode_sample(struct xdr_in *x)
{
	uint32_t len;
	char text[9];
	bool ok = xdr_get_u32(x) == 7;
	ok &= xdr_get_u64(x) == 0x0102030405060708ull;
	ok &= xdr_get_bool(x);
	const uint8_t *fixed = xdr_get_fixed(x, 5);
	ok &= fixed && memcmp(fixed, "hello", 5) == 0;
	const uint8_t *opaque = xdr_get_opaque(x, 8, &len);
	ok &= opaque && len == 3 && memcmp(opaque, "xyz", 3) == 0;
	ok &= xdr_get_string(x, text, 8) && strcmp(text, "abc") == 0;
	return ok && !x->err;
}

static void test_get_known_bytes(void)
{
	struct xdr_in x;
	xdr_in_init(&x, sample, sizeof(sample));
	CHECK(decode_sample(&x));
	CHECK_EQ(xdr_left(&x), 0);
	CHECK_EQ(xdr_get_u32(&x), 0); /* past the end */
	CHECK(x.err);
}

/* A record cut at any byte fails, and every get after the failure gives
 * zeros even where bytes remain. */
static void test_get_truncated_at_every_byte(void)
{
	for (size_t cut = 0; cut < sizeof(sample); cut++) {
		struct xdr_in x;
		xdr_in_init(&x, sample, cut);
		CHECK(!decode_sample(&x));
		CHECK(x.err);
		CHECK_EQ(xdr_get_u32(&x), 0);
		CHECK_EQ(xdr_get_u64(&x), 0);
		CHECK(!xdr_get_bool(&x));
		CHECK(xdr_get_fixed(&x, 0) == NULL);
	}
	struct xdr_in x;
	xdr_in_init(&x, sample, sizeof(sample));
	CHECK(xdr_get_fixed(&x, 1) != NULL); /* then the rest is out of step */
	CHECK_EQ(xdr_get_u32(&x), 0x01020304);
	xdr_in_init(&x, sample, 3);
	CHECK_EQ(xdr_get_u32(&x), 0);
	CHECK(x.err);
	xdr_in_init(&x, sample + 4, 7); /* a u64 one byte short */
	CHECK_EQ(xdr_get_u64(&x), 0);
	CHECK(x.err);
}

static void test_bool_values(void)
{
	static const uint8_t values[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1 };
	struct xdr_in x;
	xdr_in_init(&x, values, sizeof(values));
	CHECK(!xdr_get_bool(&x));
	CHECK(!x.err);
	CHECK(xdr_get_bool(&x));
	CHECK(!x.err);
	CHECK(!xdr_get_bool(&x)); /* 2 */
	CHECK(x.err);
	CHECK(!xdr_get_bool(&x)); /* 1, but err is sticky */
	static const uint8_t all_ones[] = { 0xff, 0xff, 0xff, 0xff };
	xdr_in_init(&x, all_ones, 4);
	CHECK(!xdr_get_bool(&x));
	CHECK(x.err);
}

/* Padding must be present; its bytes may be anything. */
static void test_padding(void)
{
	static const uint8_t dirty[] = { 0, 0, 0, 1, 'a', 0xaa, 0xbb, 0xcc, 0, 0, 0, 9 };
	struct xdr_in x;
	uint32_t len;
	for (size_t n = 1; n <= 4; n++) { /* fixed(n) always takes 4 bytes */
		xdr_in_init(&x, dirty + 4, 8);
		CHECK(xdr_get_fixed(&x, n) == dirty + 4);
		CHECK_EQ(xdr_get_u32(&x), 9);
		CHECK(!x.err);
	}
	xdr_in_init(&x, dirty, sizeof(dirty));
	const uint8_t *p = xdr_get_opaque(&x, 4, &len);
	CHECK(p == dirty + 4 && len == 1);
	CHECK_EQ(xdr_get_u32(&x), 9);
	CHECK(!x.err);
	for (size_t cut = 5; cut < 8; cut++) { /* data there, padding cut */
		xdr_in_init(&x, dirty, cut);
		CHECK(xdr_get_opaque(&x, 4, &len) == NULL);
		CHECK_EQ(len, 0);
		CHECK(x.err);
	}
	xdr_in_init(&x, NULL, 0); /* nothing to take is no error */
	CHECK(xdr_get_fixed(&x, 0) != NULL);
	CHECK(!x.err);
	CHECK(xdr_get_fixed(&x, 1) == NULL);
	CHECK(x.err);
}

static void test_opaque_limits(void)
{
	uint8_t buf[4 + 12] = { 0, 0, 0, 12 };
	struct xdr_in x;
	uint32_t len = 99;
	xdr_in_init(&x, buf, sizeof(buf));
	CHECK(xdr_get_opaque(&x, 12, &len) == buf + 4);
	CHECK_EQ(len, 12);
	CHECK(!x.err);
	xdr_in_init(&x, buf, sizeof(buf));
	CHECK(xdr_get_opaque(&x, 11, &len) == NULL);
	CHECK_EQ(len, 0);
	CHECK(x.err);
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	xdr_in_init(&x, huge, sizeof(huge)); /* a length near 2^32 must not wrap */
	CHECK(xdr_get_opaque(&x, UINT32_MAX, &len) == NULL);
	CHECK(x.err);
	xdr_in_init(&x, huge, sizeof(huge));
	CHECK(xdr_get_fixed(&x, SIZE_MAX) == NULL);
	CHECK(x.err);
	xdr_in_init(&x, huge, sizeof(huge));
	CHECK(xdr_get_fixed(&x, SIZE_MAX - 2) == NULL);
	CHECK(x.err);
}

static void test_strings(void)
{
	static const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'c', 0 };
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	uint8_t max[4 + 256] = { 0, 0, 1, 0 };
	char out[257];
	struct xdr_in x;
	xdr_in_init(&x, nul, sizeof(nul));
	CHECK(!xdr_get_string(&x, out, 8));
	CHECK(x.err);
	CHECK_EQ(out[0], 0);
	xdr_in_init(&x, empty, sizeof(empty));
	CHECK(xdr_get_string(&x, out, 0));
	CHECK_EQ(out[0], 0);
	memset(max + 4, 'm', 256);
	xdr_in_init(&x, max, sizeof(max));
	CHECK(xdr_get_string(&x, out, 256));
	CHECK_EQ(strlen(out), 256);
	xdr_in_init(&x, max, sizeof(max));
	CHECK(!xdr_get_string(&x, out, 255));
	CHECK(x.err);
	CHECK_EQ(out[0], 0);
}

static void check_bytes(const struct xdr_out *out, const uint8_t *want, size_t len)
{
	CHECK(!out->err);
	CHECK_EQ(out->len, len);
	CHECK(out->len == len && memcmp(out->buf, want, len) == 0);
}

static void test_put_bytes(void)
{
	struct xdr_out out;
	xdr_out_init(&out);
	xdr_put_u32(&out, 7);
	xdr_put_u64(&out, 0x0102030405060708ull);
	xdr_put_bool(&out, true);
	xdr_put_fixed(&out, "hello", 5);
	xdr_put_opaque(&out, "xyz", 3);
	xdr_put_string(&out, "abc");
	check_bytes(&out, sample, sizeof(sample));
	struct xdr_in x; /* and it decodes back */
	xdr_in_init(&x, out.buf, out.len);
	CHECK(decode_sample(&x));
	xdr_out_free(&out);
	CHECK(out.buf == NULL && out.len == 0);

	static const uint8_t edges[] = {
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,    /* u32 max, bool false */
		0, 0, 0, 0,                            /* empty string */
		0, 0, 0, 0,                            /* empty opaque */
		'a', 'b', 'c', 'd',                    /* fixed(4): no padding */
		0, 0, 0, 2, 'x', 'y', 0, 0,            /* opaque with 2 padding bytes */
	};
	xdr_put_u32(&out, UINT32_MAX);
	xdr_put_bool(&out, false);
	xdr_put_string(&out, "");
	xdr_put_opaque(&out, NULL, 0);
	xdr_put_fixed(&out, NULL, 0); /* nothing at all */
	xdr_put_fixed(&out, "abcd", 4);
	xdr_put_opaque(&out, "xy", 2);
	check_bytes(&out, edges, sizeof(edges));
	xdr_out_free(&out);
}

static void test_reserve(void)
{
	struct xdr_out out;
	xdr_out_init(&out);
	size_t count_at = xdr_reserve(&out, 4); /* a count known only at the end */
	CHECK_EQ(count_at, 0);
	size_t data_at = xdr_reserve(&out, 5);
	CHECK_EQ(data_at, 4);
	CHECK_EQ(out.len, 12);
	CHECK(memcmp(out.buf + 9, "\0\0\0", 3) == 0); /* padding zeroed */
	for (uint32_t i = 0; i < 20000; i++) /* buf moves many times */
		xdr_put_u32(&out, i);
	memcpy(out.buf + data_at, "hello", 5);
	static const uint8_t count_be[4] = { 0, 0, 0x4e, 0x20 }; /* 20000 */
	memcpy(out.buf + count_at, count_be, 4);
	CHECK(!out.err);
	struct xdr_in x;
	xdr_in_init(&x, out.buf, out.len);
	CHECK_EQ(xdr_get_u32(&x), 20000);
	const uint8_t *hello = xdr_get_fixed(&x, 5);
	CHECK(hello && memcmp(hello, "hello", 5) == 0);
	bool all = true;
	for (uint32_t i = 0; i < 20000; i++)
		all &= xdr_get_u32(&x) == i;
	CHECK(all && !x.err && xdr_left(&x) == 0);
	CHECK_EQ(xdr_reserve(&out, 0), out.len);
	xdr_out_free(&out);
}

/* Once err is set (an allocation that cannot succeed), nothing more is
 * written and reserve reports failure. */
static void test_put_after_error(void)
{
	struct xdr_out out;
	xdr_out_init(&out);
	xdr_put_u32(&out, 1);
	CHECK_EQ(xdr_reserve(&out, SIZE_MAX), (size_t)-1);
	CHECK(out.err);
	CHECK_EQ(out.len, 4);
	xdr_put_u32(&out, 2);
	xdr_put_string(&out, "more");
	CHECK_EQ(xdr_reserve(&out, 4), (size_t)-1);
	CHECK_EQ(out.len, 4);
	xdr_out_free(&out);
	CHECK(!out.err);
	xdr_put_u32(&out, 3);
	CHECK_EQ(xdr_reserve(&out, SIZE_MAX / 2 - 1), (size_t)-1); /* too big to allocate */
	CHECK(out.err);
	CHECK_EQ(out.len, 4);
	xdr_out_free(&out);
}

static const struct harness_test tests[] = {
	{ "get_known_bytes", test_get_known_bytes },
	{ "get_truncated_at_every_byte", test_get_truncated_at_every_byte },
	{ "bool_values", test_bool_values },
	{ "padding", test_padding },
	{ "opaque_limits", test_opaque_limits },
	{ "strings", test_strings },
	{ "put_bytes", test_put_bytes },
	{ "reserve", test_reserve },
	{ "put_after_error", test_put_after_error },
};
HARNESS_MAIN(tests)
