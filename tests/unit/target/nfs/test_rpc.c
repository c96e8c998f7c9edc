/*
 * test_rpc.c - ONC RPC (target/nfs/rpc.c): the record reader fed at every
 * split point and byte by byte, record limits, call header decoding for
 * every status it can conclude (including AUTH_SYS cut at each byte and
 * every credential limit), and reply headers against hand-built bytes.
 */
#include <errno.h>

#include "target/nfs/rpc.h"
#include "tests/harness.h"

/* ---- record reader --------------------------------------------------- */

/* Append a fragment (marker + bytes) to out. */
static void put_fragment(struct xdr_out *out, bool last, const char *bytes, uint32_t len)
{
	xdr_put_u32(out, (last ? 0x80000000u : 0) | len);
	size_t at = xdr_reserve(out, len);
	memcpy(out->buf + at, bytes, len);
	out->len = at + len; /* fragments are not padded */
}

/* Two records: "abc" + "" + "defghijklm" + "n" + "opqrs" (several
 * fragments, one empty), then "XYZ" in one fragment. */
static void two_records(struct xdr_out *stream)
{
	xdr_out_init(stream);
	put_fragment(stream, false, "abc", 3);
	put_fragment(stream, false, "", 0);
	put_fragment(stream, false, "defghijklm", 10);
	put_fragment(stream, false, "n", 1);
	put_fragment(stream, true, "opqrs", 5);
	put_fragment(stream, true, "XYZ", 3);
}

/* Feed data in pieces cut at the given offsets (ascending), collecting the
 * records seen into got ("|" after each); the reader's verdict. */
static long feed_split(struct rpc_record_reader *r, const uint8_t *data, size_t len,
		       const size_t *cuts, size_t ncuts, char *got)
{
	size_t start = 0;
	got[0] = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		while (start < end) {
			const uint8_t *rec;
			size_t rec_len;
			long n = rpc_record_reader_feed(r, data + start, end - start, &rec, &rec_len);
			if (n < 0)
				return n;
			if (n == 0 && !rec)
				return -EPROTO; /* no progress: a reader bug */
			if (rec) {
				strncat(got, (const char *)rec, rec_len);
				strcat(got, "|");
			}
			start += (size_t)n;
		}
	}
	return 0;
}

static void test_reader_every_split(void)
{
	struct xdr_out s;
	two_records(&s);
	char got[64];
	for (size_t a = 0; a <= s.len; a++) {
		for (size_t b = a; b <= s.len; b++) {
			struct rpc_record_reader r;
			size_t cuts[2] = { a, b };
			rpc_record_reader_init(&r, 19);
			CHECK_EQ(feed_split(&r, s.buf, s.len, cuts, 2, got), 0);
			if (strcmp(got, "abcdefghijklmnopqrs|XYZ|") != 0) {
				fprintf(stderr, "  cuts %zu %zu: got %s\n", a, b, got);
				harness_failures++;
			}
			rpc_record_reader_free(&r);
		}
	}
	xdr_out_free(&s);
}

static void test_reader_byte_by_byte(void)
{
	struct xdr_out s;
	struct rpc_record_reader r;
	const uint8_t *rec;
	size_t rec_len;
	int records = 0;
	two_records(&s);
	rpc_record_reader_init(&r, 1 << 20);
	for (size_t i = 0; i < s.len; i++) {
		CHECK_EQ(rpc_record_reader_feed(&r, s.buf + i, 1, &rec, &rec_len), 1);
		if (!rec)
			continue;
		records++;
		/* The first record completes with its last byte, the second too. */
		CHECK(i == 4 + 3 + 4 + 4 + 10 + 4 + 1 + 4 + 5 - 1 || i == s.len - 1);
		CHECK_EQ(rec_len, records == 1 ? 19 : 3);
		CHECK(memcmp(rec, records == 1 ? "abcdefghijklmnopqrs" : "XYZ", rec_len) == 0);
	}
	CHECK_EQ(records, 2);
	CHECK_EQ(rpc_record_reader_feed(&r, NULL, 0, &rec, &rec_len), 0);
	CHECK(rec == NULL);
	rpc_record_reader_free(&r);
	xdr_out_free(&s);
}

/* Several records in one feed: each call stops after a record. */
static void test_reader_records_in_one_feed(void)
{
	struct xdr_out s;
	struct rpc_record_reader r;
	const uint8_t *rec;
	size_t rec_len;
	xdr_out_init(&s);
	put_fragment(&s, true, "one", 3);
	put_fragment(&s, true, "", 0); /* an empty record */
	put_fragment(&s, false, "tw", 2);
	put_fragment(&s, true, "o", 1);
	rpc_record_reader_init(&r, 64);
	long n = rpc_record_reader_feed(&r, s.buf, s.len, &rec, &rec_len);
	CHECK_EQ(n, 7);
	CHECK(rec && rec_len == 3 && memcmp(rec, "one", 3) == 0);
	size_t at = (size_t)n;
	n = rpc_record_reader_feed(&r, s.buf + at, s.len - at, &rec, &rec_len);
	CHECK_EQ(n, 4);
	CHECK(rec != NULL);
	CHECK_EQ(rec_len, 0);
	at += (size_t)n;
	n = rpc_record_reader_feed(&r, s.buf + at, s.len - at, &rec, &rec_len);
	CHECK_EQ(n, (long)(s.len - at)); /* the last record ends the data */
	CHECK(rec && rec_len == 3 && memcmp(rec, "two", 3) == 0);
	rpc_record_reader_free(&r);
	xdr_out_free(&s);
}

static void test_reader_limits(void)
{
	struct xdr_out s;
	struct rpc_record_reader r;
	const uint8_t *rec;
	size_t rec_len;
	char got[64];
	two_records(&s); /* 19 bytes and 3 bytes */
	rpc_record_reader_init(&r, 18);
	CHECK_EQ(feed_split(&r, s.buf, s.len, NULL, 0, got), -EMSGSIZE);
	CHECK_EQ(strlen(got), 0);
	rpc_record_reader_free(&r);
	/* Refused at the last fragment's header, before its bytes arrive. */
	rpc_record_reader_init(&r, 18);
	size_t last_header = 4 + 3 + 4 + 4 + 10 + 4 + 1;
	long n = 0;
	size_t fed = 0;
	while (n >= 0 && fed < s.len)
		n = rpc_record_reader_feed(&r, s.buf + fed++, 1, &rec, &rec_len);
	CHECK_EQ(n, -EMSGSIZE);
	CHECK_EQ(fed, last_header + 4);
	rpc_record_reader_free(&r);
	xdr_out_free(&s);

	/* 2 GiB announced: refused at once, nothing allocated for it. */
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'x' };
	rpc_record_reader_init(&r, 1 << 20);
	CHECK_EQ(rpc_record_reader_feed(&r, huge, sizeof(huge), &rec, &rec_len), -EMSGSIZE);
	CHECK(r.cap == 0);
	rpc_record_reader_free(&r);

	/* Exactly the limit is fine, also when the limit is 0. */
	static const uint8_t empty[] = { 0x80, 0, 0, 0 };
	rpc_record_reader_init(&r, 0);
	CHECK_EQ(rpc_record_reader_feed(&r, empty, 4, &rec, &rec_len), 4);
	CHECK(rec != NULL && rec_len == 0);
	rpc_record_reader_free(&r);
	two_records(&s);
	rpc_record_reader_init(&r, 19);
	CHECK_EQ(feed_split(&r, s.buf, s.len, NULL, 0, got), 0);
	CHECK(strcmp(got, "abcdefghijklmnopqrs|XYZ|") == 0);
	rpc_record_reader_free(&r);
	xdr_out_free(&s);
}

/* Reading a fragment's body in place (room/filled) makes the same records
 * as feeding it. */
static void test_reader_room(void)
{
	struct rpc_record_reader r;
	struct xdr_out stream;
	two_records(&stream);
	rpc_record_reader_init(&r, 1024);
	uint8_t *room;
	const uint8_t *rec = NULL;
	size_t rec_len = 0, at = 0;
	char got[64] = "";
	CHECK_EQ(rpc_record_reader_room(&r, &room), 0); /* a marker comes first */
	while (at < stream.len) {
		size_t want = rpc_record_reader_room(&r, &room);
		if (want) { /* copy at most 2 bytes at a time, as short reads would */
			size_t n = want < 2 ? want : 2;
			memcpy(room, stream.buf + at, n);
			rpc_record_reader_filled(&r, n);
			at += n;
			CHECK_EQ(rpc_record_reader_feed(&r, NULL, 0, &rec, &rec_len), 0);
		} else {
			long n = rpc_record_reader_feed(&r, stream.buf + at, 1, &rec, &rec_len);
			REQUIRE(n >= 0);
			at += (size_t)n;
		}
		if (rec) {
			strncat(got, (const char *)rec, rec_len);
			strcat(got, "|");
			rec = NULL;
		}
	}
	CHECK(!strcmp(got, "abcdefghijklmnopqrs|XYZ|"));
	rpc_record_reader_free(&r);
	xdr_out_free(&stream);
}

static void test_record_mark(void)
{
	uint8_t mark[4];
	rpc_record_mark(mark, 0x12345);
	CHECK(memcmp(mark, "\x80\x01\x23\x45", 4) == 0);
	rpc_record_mark(mark, 0);
	CHECK(memcmp(mark, "\x80\0\0\0", 4) == 0);
}

/* ---- call headers ---------------------------------------------------- */

struct call_spec {
	uint32_t xid, msg_type, rpcvers, prog, vers, proc;
	uint32_t flavor, verf_flavor;
	const uint8_t *cred_body; /* NULL: the AUTH_SYS body below */
	uint32_t cred_len, verf_len;
};

/* An AUTH_SYS body: stamp, machinename, uid, gid, gids. */
static void put_auth_sys(struct xdr_out *b, const char *machine, uint32_t ngids)
{
	xdr_put_u32(b, 0x5eed);
	xdr_put_string(b, machine);
	xdr_put_u32(b, 1000);
	xdr_put_u32(b, 100);
	xdr_put_u32(b, ngids);
	for (uint32_t i = 0; i < ngids; i++)
		xdr_put_u32(b, 500 + i);
}

static const struct call_spec base_call = {
	.xid = 0xabcd0001, .rpcvers = 2, .prog = 100003, .vers = 3, .proc = 1,
};

/* The call's bytes, then "ARGS" as the procedure's arguments. */
static void put_call(struct xdr_out *out, const struct call_spec *c)
{
	static const uint8_t zeros[512];
	xdr_out_init(out);
	xdr_put_u32(out, c->xid);
	xdr_put_u32(out, c->msg_type);
	xdr_put_u32(out, c->rpcvers);
	xdr_put_u32(out, c->prog);
	xdr_put_u32(out, c->vers);
	xdr_put_u32(out, c->proc);
	xdr_put_u32(out, c->flavor);
	xdr_put_opaque(out, c->cred_body ? c->cred_body : zeros, c->cred_len);
	xdr_put_u32(out, c->verf_flavor);
	xdr_put_opaque(out, zeros, c->verf_len);
	xdr_put_fixed(out, "ARGS", 4);
}

static enum rpc_call_status decode(const struct call_spec *c, struct rpc_call *call,
				   enum rpc_auth_stat *auth_stat)
{
	struct xdr_out out;
	put_call(&out, c);
	enum rpc_call_status status = rpc_call_decode(out.buf, out.len, call, auth_stat);
	xdr_out_free(&out);
	return status;
}

static void test_call_auth_none(void)
{
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	struct xdr_out out;
	put_call(&out, &base_call);
	CHECK_EQ(rpc_call_decode(out.buf, out.len, &call, &auth_stat), RPC_CALL_OK);
	CHECK_EQ(auth_stat, RPC_AUTH_OK);
	CHECK_EQ(call.xid, 0xabcd0001);
	CHECK(call.prog == 100003 && call.vers == 3 && call.proc == 1);
	CHECK_EQ(call.cred.flavor, RPC_AUTH_NONE);
	CHECK_EQ(xdr_left(&call.args), 4);
	CHECK(memcmp(xdr_get_fixed(&call.args, 4), "ARGS", 4) == 0);
	xdr_out_free(&out);

	struct call_spec c = base_call; /* AUTH_NONE may carry a body */
	c.cred_len = RPC_AUTH_BODY_MAX;
	c.verf_len = RPC_AUTH_BODY_MAX;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_OK);
	CHECK_EQ(xdr_left(&call.args), 4);
}

static void test_call_auth_sys(void)
{
	struct xdr_out body;
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	char machine[256];
	memset(machine, 'm', 255);
	machine[255] = 0;
	xdr_out_init(&body);
	put_auth_sys(&body, machine, RPC_AUTH_SYS_GIDS_MAX);
	struct call_spec c = base_call;
	c.flavor = RPC_AUTH_SYS;
	c.cred_body = body.buf;
	c.cred_len = (uint32_t)body.len;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_OK);
	CHECK_EQ(call.cred.flavor, RPC_AUTH_SYS);
	CHECK_EQ(call.cred.stamp, 0x5eed);
	CHECK(strcmp(call.cred.machine, machine) == 0);
	CHECK(call.cred.uid == 1000 && call.cred.gid == 100);
	CHECK_EQ(call.cred.ngids, 16);
	CHECK(call.cred.gids[0] == 500 && call.cred.gids[15] == 515);
	CHECK_EQ(xdr_left(&call.args), 4);
	xdr_out_free(&body);
}

/* The body cut at every byte (its length says so), a body with bytes left
 * over, and each AUTH_SYS limit: all AUTH_BADCRED. */
static void test_call_auth_sys_malformed(void)
{
	struct xdr_out body;
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	struct call_spec c = base_call;
	c.flavor = RPC_AUTH_SYS;
	xdr_out_init(&body);
	put_auth_sys(&body, "host", 3);
	xdr_put_u32(&body, 0); /* one unit too many */
	c.cred_body = body.buf;
	for (c.cred_len = 0; c.cred_len <= body.len; c.cred_len++) {
		if (c.cred_len == body.len - 4)
			continue; /* the right length */
		CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
		CHECK_EQ(auth_stat, RPC_AUTH_BADCRED);
	}
	xdr_out_free(&body);

	char long_name[257];
	memset(long_name, 'n', 256);
	long_name[256] = 0;
	const char *machines[] = { "ok", long_name, NULL }; /* 17 gids, 256 bytes, a NUL */
	for (int i = 0; i < 3; i++) {
		xdr_out_init(&body);
		if (i == 2) { /* a NUL inside machinename */
			xdr_put_u32(&body, 1);
			xdr_put_opaque(&body, "a\0b", 3);
			xdr_put_u32(&body, 0);
			xdr_put_u32(&body, 0);
			xdr_put_u32(&body, 0);
		} else {
			put_auth_sys(&body, machines[i], i == 0 ? 17 : 0);
		}
		c.cred_body = body.buf;
		c.cred_len = (uint32_t)body.len;
		CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
		CHECK_EQ(auth_stat, RPC_AUTH_BADCRED);
		xdr_out_free(&body);
	}
}

static void test_call_auth_limits(void)
{
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	struct call_spec c = base_call;
	c.cred_len = RPC_AUTH_BODY_MAX + 1;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
	CHECK_EQ(auth_stat, RPC_AUTH_BADCRED);
	c = base_call;
	c.verf_len = RPC_AUTH_BODY_MAX + 1;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
	CHECK_EQ(auth_stat, RPC_AUTH_BADVERF);
	c = base_call;
	c.verf_flavor = RPC_AUTH_SYS;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
	CHECK_EQ(auth_stat, RPC_AUTH_BADVERF);
	static const uint32_t refused[] = { 2, 3, 6, 390003 }; /* SHORT, DH, RPCSEC_GSS, krb5 */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		c = base_call;
		c.flavor = c.verf_flavor = refused[i];
		c.cred_len = c.verf_len = 24;
		CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_AUTH_ERROR);
		CHECK_EQ(auth_stat, RPC_AUTH_TOOWEAK);
		CHECK_EQ(call.xid, base_call.xid);
	}
}

static void test_call_not_a_call(void)
{
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	struct call_spec c = base_call;
	c.msg_type = RPC_REPLY;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_DROP);
	c.msg_type = 7;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_DROP);
	c = base_call;
	c.rpcvers = 3;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_RPC_MISMATCH);
	CHECK_EQ(call.xid, base_call.xid);
	c.rpcvers = 1;
	CHECK_EQ(decode(&c, &call, &auth_stat), RPC_CALL_RPC_MISMATCH);
	CHECK_EQ(rpc_call_decode(NULL, 0, &call, &auth_stat), RPC_CALL_DROP);
}

/* The whole record cut at every byte: no xid or message type -> DROP, a
 * wrong rpcvers -> MISMATCH as soon as it is there, else GARBAGE. */
static void test_call_truncated_at_every_byte(void)
{
	struct xdr_out body, out;
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	xdr_out_init(&body);
	put_auth_sys(&body, "client.example", 5);
	struct call_spec c = base_call;
	c.flavor = RPC_AUTH_SYS;
	c.cred_body = body.buf;
	c.cred_len = (uint32_t)body.len;
	c.verf_len = 8;
	put_call(&out, &c);
	size_t header = out.len - 4; /* without "ARGS" */
	for (size_t cut = 0; cut < header; cut++) {
		enum rpc_call_status want = cut < 8 ? RPC_CALL_DROP : RPC_CALL_GARBAGE;
		CHECK_EQ(rpc_call_decode(out.buf, cut, &call, &auth_stat), want);
	}
	CHECK_EQ(rpc_call_decode(out.buf, header, &call, &auth_stat), RPC_CALL_OK);
	CHECK_EQ(xdr_left(&call.args), 0);
	xdr_out_free(&out);
	c.rpcvers = 3;
	put_call(&out, &c);
	for (size_t cut = 12; cut < out.len; cut++)
		CHECK_EQ(rpc_call_decode(out.buf, cut, &call, &auth_stat), RPC_CALL_RPC_MISMATCH);
	xdr_out_free(&out);
	xdr_out_free(&body);
}

/* ---- replies --------------------------------------------------------- */

static void check_reply(void (*encode)(struct xdr_out *), const uint32_t *want, size_t n)
{
	struct xdr_out out;
	xdr_out_init(&out);
	encode(&out);
	CHECK(!out.err);
	CHECK_EQ(out.len, n * 4);
	struct xdr_in x;
	xdr_in_init(&x, out.buf, out.len);
	for (size_t i = 0; i < n && i * 4 < out.len; i++) {
		uint32_t got = xdr_get_u32(&x);
		if (got != want[i]) {
			fprintf(stderr, "  word %zu: %u, want %u\n", i, got, want[i]);
			harness_failures++;
		}
	}
	xdr_out_free(&out);
}

static void success(struct xdr_out *o) { rpc_reply_accepted(o, 0x11, RPC_SUCCESS, 9, 9); }
static void prog_mismatch(struct xdr_out *o) { rpc_reply_accepted(o, 0x12, RPC_PROG_MISMATCH, 2, 4); }
static void proc_unavail(struct xdr_out *o) { rpc_reply_accepted(o, 0x13, RPC_PROC_UNAVAIL, 2, 4); }
static void garbage(struct xdr_out *o) { rpc_reply_accepted(o, 0x14, RPC_GARBAGE_ARGS, 0, 0); }
static void rpc_mismatch(struct xdr_out *o) { rpc_reply_denied_mismatch(o, 0x15); }
static void auth_tooweak(struct xdr_out *o) { rpc_reply_denied_auth(o, 0x16, RPC_AUTH_TOOWEAK); }

static void test_replies(void)
{
	/* xid, REPLY, MSG_ACCEPTED, verifier AUTH_NONE + empty, accept_stat */
	static const uint32_t want_success[] = { 0x11, 1, 0, 0, 0, 0 };
	static const uint32_t want_prog_mismatch[] = { 0x12, 1, 0, 0, 0, 2, 2, 4 };
	static const uint32_t want_proc_unavail[] = { 0x13, 1, 0, 0, 0, 3 };
	static const uint32_t want_garbage[] = { 0x14, 1, 0, 0, 0, 4 };
	/* xid, REPLY, MSG_DENIED, RPC_MISMATCH low high / AUTH_ERROR stat */
	static const uint32_t want_rpc_mismatch[] = { 0x15, 1, 1, 0, 2, 2 };
	static const uint32_t want_auth[] = { 0x16, 1, 1, 1, 5 };
	check_reply(success, want_success, 6);
	check_reply(prog_mismatch, want_prog_mismatch, 8);
	check_reply(proc_unavail, want_proc_unavail, 6);
	check_reply(garbage, want_garbage, 6);
	check_reply(rpc_mismatch, want_rpc_mismatch, 6);
	check_reply(auth_tooweak, want_auth, 5);
}

static const struct harness_test tests[] = {
	{ "reader_room", test_reader_room },
	{ "reader_every_split", test_reader_every_split },
	{ "reader_byte_by_byte", test_reader_byte_by_byte },
	{ "reader_records_in_one_feed", test_reader_records_in_one_feed },
	{ "reader_limits", test_reader_limits },
	{ "record_mark", test_record_mark },
	{ "call_auth_none", test_call_auth_none },
	{ "call_auth_sys", test_call_auth_sys },
	{ "call_auth_sys_malformed", test_call_auth_sys_malformed },
	{ "call_auth_limits", test_call_auth_limits },
	{ "call_not_a_call", test_call_not_a_call },
	{ "call_truncated_at_every_byte", test_call_truncated_at_every_byte },
	{ "replies", test_replies },
};
HARNESS_MAIN(tests)
