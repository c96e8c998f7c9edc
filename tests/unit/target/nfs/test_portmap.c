/*
 * test_portmap.c - the portmapper (target/nfs/portmap.c): every procedure of
 * PMAP v2 and RPCBIND v3/v4 through rpc_call_decode + rpc_portmap_serve with
 * IPv4 and IPv6 hosts, version and procedure mismatches, garbage arguments;
 * and rpc_portmap_register against a fake rpcbind on 127.0.0.1:0 (never
 * port 111) that answers as told: TRUE, FALSE, the wrong xid, a denial,
 * slowly in pieces, twice, not at all; and a closed port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "target/nfs/rpc.h"
#include "tests/harness.h"

static const struct rpc_mapping maps[] = {
	{ 100003, 3, 2049 },
	{ 100005, 3, 20048 },
	{ 100005, 1, 20048 },
};

/* ---- serving --------------------------------------------------------- */

/* Call the portmapper (version vers, procedure proc, arguments args) on
 * host; the reply's accept_stat, results left in *results (out owns them). */
static uint32_t serve(const char *host, uint32_t vers, uint32_t proc, const struct xdr_out *args,
		      struct xdr_out *out, struct xdr_in *results)
{
	struct rpc_portmap pm = { maps, 3, host };
	struct xdr_out call;
	struct rpc_call decoded;
	enum rpc_auth_stat auth_stat;
	xdr_out_init(&call);
	xdr_put_u32(&call, 0x600d + proc);
	xdr_put_u32(&call, RPC_CALL);
	xdr_put_u32(&call, RPC_VERSION);
	xdr_put_u32(&call, PMAP_PROG);
	xdr_put_u32(&call, vers);
	xdr_put_u32(&call, proc);
	xdr_put_u64(&call, 0); /* credential and verifier: AUTH_NONE */
	xdr_put_u64(&call, 0);
	if (args)
		xdr_put_fixed(&call, args->buf, args->len);
	xdr_out_init(out);
	if (rpc_call_decode(call.buf, call.len, &decoded, &auth_stat) == RPC_CALL_OK)
		rpc_portmap_serve(&pm, &decoded, out);
	xdr_out_free(&call);
	xdr_in_init(results, out->buf, out->len);
	bool header_ok = xdr_get_u32(results) == 0x600d + proc && xdr_get_u32(results) == RPC_REPLY &&
			 xdr_get_u32(results) == RPC_MSG_ACCEPTED && xdr_get_u64(results) == 0;
	uint32_t stat = xdr_get_u32(results);
	CHECK(header_ok && !results->err && !out->err);
	return header_ok ? stat : 0xdead;
}

static void put_mapping(struct xdr_out *a, uint32_t prog, uint32_t vers, uint32_t prot)
{
	xdr_out_init(a);
	xdr_put_u32(a, prog);
	xdr_put_u32(a, vers);
	xdr_put_u32(a, prot);
	xdr_put_u32(a, 0);
}

static void put_rpcb(struct xdr_out *a, uint32_t prog, uint32_t vers, const char *netid)
{
	xdr_out_init(a);
	xdr_put_u32(a, prog);
	xdr_put_u32(a, vers);
	xdr_put_string(a, netid);
	xdr_put_string(a, "");
	xdr_put_string(a, "");
}

/* PMAP v2 GETPORT's answer for prog/vers/prot. */
static uint32_t getport(uint32_t prog, uint32_t vers, uint32_t prot)
{
	struct xdr_out args, out;
	struct xdr_in res;
	put_mapping(&args, prog, vers, prot);
	CHECK_EQ(serve("127.0.0.1", 2, PMAP_PROC_GETPORT, &args, &out, &res), RPC_SUCCESS);
	uint32_t port = xdr_get_u32(&res);
	CHECK(!res.err && xdr_left(&res) == 0);
	xdr_out_free(&args);
	xdr_out_free(&out);
	return port;
}

static void test_pmap_v2(void)
{
	struct xdr_out args, out;
	struct xdr_in res;
	CHECK_EQ(serve("127.0.0.1", 2, PMAP_PROC_NULL, NULL, &out, &res), RPC_SUCCESS);
	CHECK_EQ(xdr_left(&res), 0);
	xdr_out_free(&out);
	for (uint32_t proc = PMAP_PROC_SET; proc <= PMAP_PROC_UNSET; proc++) {
		put_mapping(&args, 100003, 3, RPC_IPPROTO_TCP);
		CHECK_EQ(serve("127.0.0.1", 2, proc, &args, &out, &res), RPC_SUCCESS);
		CHECK(!xdr_get_bool(&res) && !res.err && xdr_left(&res) == 0); /* FALSE */
		xdr_out_free(&args);
		xdr_out_free(&out);
	}
	CHECK_EQ(getport(100003, 3, RPC_IPPROTO_TCP), 2049);
	CHECK_EQ(getport(100005, 1, RPC_IPPROTO_TCP), 20048);
	CHECK_EQ(getport(100003, 3, RPC_IPPROTO_UDP), 0);
	CHECK_EQ(getport(100003, 4, RPC_IPPROTO_TCP), 0);
	CHECK_EQ(getport(100021, 4, RPC_IPPROTO_TCP), 0);

	static const uint32_t want_dump[] = { 1, 100003, 3, 6, 2049, 1, 100005, 3, 6, 20048,
					      1, 100005, 1, 6, 20048, 0 };
	CHECK_EQ(serve("::1", 2, PMAP_PROC_DUMP, NULL, &out, &res), RPC_SUCCESS);
	CHECK_EQ(xdr_left(&res), sizeof(want_dump));
	for (size_t i = 0; i < 16; i++)
		CHECK_EQ(xdr_get_u32(&res), want_dump[i]);
	xdr_out_free(&out);

	CHECK_EQ(serve("127.0.0.1", 2, 5, NULL, &out, &res), RPC_PROC_UNAVAIL); /* CALLIT */
	CHECK_EQ(xdr_left(&res), 0);
	xdr_out_free(&out);
	put_mapping(&args, 100003, 3, RPC_IPPROTO_TCP);
	args.len -= 4; /* the port missing */
	CHECK_EQ(serve("127.0.0.1", 2, PMAP_PROC_GETPORT, &args, &out, &res), RPC_GARBAGE_ARGS);
	CHECK_EQ(xdr_left(&res), 0);
	xdr_out_free(&out);
	CHECK_EQ(serve("127.0.0.1", 2, PMAP_PROC_SET, &args, &out, &res), RPC_GARBAGE_ARGS);
	xdr_out_free(&out);
	xdr_out_free(&args);
}

/* RPCBIND GETADDR (or GETVERSADDR) on host: the universal address given. */
static void getaddr(const char *host, uint32_t vers, uint32_t proc, uint32_t prog,
		    uint32_t prog_vers, const char *netid, char *uaddr)
{
	struct xdr_out args, out;
	struct xdr_in res;
	put_rpcb(&args, prog, prog_vers, netid);
	CHECK_EQ(serve(host, vers, proc, &args, &out, &res), RPC_SUCCESS);
	CHECK(xdr_get_string(&res, uaddr, 63));
	CHECK_EQ(xdr_left(&res), 0);
	xdr_out_free(&args);
	xdr_out_free(&out);
}

static void test_rpcb_getaddr(void)
{
	char uaddr[64];
	for (uint32_t vers = 3; vers <= 4; vers++) {
		getaddr("127.0.0.1", vers, RPCB_PROC_GETADDR, 100003, 3, "tcp", uaddr);
		CHECK(strcmp(uaddr, "127.0.0.1.8.1") == 0); /* 2049 = 8 * 256 + 1 */
		getaddr("192.168.10.200", vers, RPCB_PROC_GETADDR, 100005, 1, "tcp", uaddr);
		CHECK(strcmp(uaddr, "192.168.10.200.78.80") == 0); /* 20048 */
		getaddr("::1", vers, RPCB_PROC_GETADDR, 100003, 3, "tcp6", uaddr);
		CHECK(strcmp(uaddr, "::1.8.1") == 0);
		getaddr("0:0:0:0:0:0:0:1", vers, RPCB_PROC_GETADDR, 100003, 3, "tcp6", uaddr);
		CHECK(strcmp(uaddr, "::1.8.1") == 0); /* canonical spelling */
		getaddr("fd00:0::a:1", vers, RPCB_PROC_GETADDR, 100005, 3, "tcp6", uaddr);
		CHECK(strcmp(uaddr, "fd00::a:1.78.80") == 0);
		/* Not mapped: another netid, version or program; no address. */
		getaddr("::1", vers, RPCB_PROC_GETADDR, 100003, 3, "tcp", uaddr);
		CHECK_EQ(uaddr[0], 0);
		getaddr("127.0.0.1", vers, RPCB_PROC_GETADDR, 100003, 3, "udp", uaddr);
		CHECK_EQ(uaddr[0], 0);
		getaddr("127.0.0.1", vers, RPCB_PROC_GETADDR, 100003, 4, "tcp", uaddr);
		CHECK_EQ(uaddr[0], 0);
		getaddr("127.0.0.1", vers, RPCB_PROC_GETADDR, 100024, 1, "tcp", uaddr);
		CHECK_EQ(uaddr[0], 0);
		getaddr("localhost", vers, RPCB_PROC_GETADDR, 100003, 3, "tcp", uaddr);
		CHECK_EQ(uaddr[0], 0);
	}
	getaddr("127.0.0.1", 4, RPCB_PROC_GETVERSADDR, 100003, 3, "tcp", uaddr);
	CHECK(strcmp(uaddr, "127.0.0.1.8.1") == 0);
	getaddr("::1", 4, RPCB_PROC_GETVERSADDR, 100005, 3, "tcp6", uaddr);
	CHECK(strcmp(uaddr, "::1.78.80") == 0);
	getaddr("::1", 4, RPCB_PROC_GETVERSADDR, 100005, 2, "tcp6", uaddr);
	CHECK_EQ(uaddr[0], 0);
}

static void test_rpcb_other_procs(void)
{
	struct xdr_out args, out;
	struct xdr_in res;
	char s[256];
	for (uint32_t vers = 3; vers <= 4; vers++) {
		CHECK_EQ(serve("::1", vers, PMAP_PROC_NULL, NULL, &out, &res), RPC_SUCCESS);
		CHECK_EQ(xdr_left(&res), 0);
		xdr_out_free(&out);
		for (uint32_t proc = PMAP_PROC_SET; proc <= PMAP_PROC_UNSET; proc++) {
			put_rpcb(&args, 100003, 3, "tcp");
			CHECK_EQ(serve("::1", vers, proc, &args, &out, &res), RPC_SUCCESS);
			CHECK(!xdr_get_bool(&res) && !res.err && xdr_left(&res) == 0);
			xdr_out_free(&args);
			xdr_out_free(&out);
		}
		time_t before = time(NULL);
		CHECK_EQ(serve("::1", vers, RPCB_PROC_GETTIME, NULL, &out, &res), RPC_SUCCESS);
		uint32_t now = xdr_get_u32(&res);
		CHECK(now >= (uint32_t)before && now <= (uint32_t)time(NULL));
		CHECK_EQ(xdr_left(&res), 0);
		xdr_out_free(&out);

		CHECK_EQ(serve("::1", vers, RPCB_PROC_DUMP, NULL, &out, &res), RPC_SUCCESS);
		for (size_t i = 0; i < 3; i++) {
			CHECK(xdr_get_bool(&res));
			CHECK_EQ(xdr_get_u32(&res), maps[i].prog);
			CHECK_EQ(xdr_get_u32(&res), maps[i].vers);
			CHECK(xdr_get_string(&res, s, 255) && strcmp(s, "tcp6") == 0);
			CHECK(xdr_get_string(&res, s, 255) &&
			      strcmp(s, i == 0 ? "::1.8.1" : "::1.78.80") == 0);
			CHECK(xdr_get_string(&res, s, 255) && strcmp(s, "slated") == 0);
		}
		CHECK(!xdr_get_bool(&res) && !res.err && xdr_left(&res) == 0);
		xdr_out_free(&out);
		CHECK_EQ(serve("localhost", vers, RPCB_PROC_DUMP, NULL, &out, &res), RPC_SUCCESS);
		CHECK(!xdr_get_bool(&res) && !res.err && xdr_left(&res) == 0); /* empty list */
		xdr_out_free(&out);

		for (uint32_t proc = 5; proc <= 12; proc++) {
			if (proc == RPCB_PROC_GETTIME || (vers == 4 && proc == RPCB_PROC_GETVERSADDR))
				continue;
			CHECK_EQ(serve("::1", vers, proc, NULL, &out, &res), RPC_PROC_UNAVAIL);
			xdr_out_free(&out);
		}
	}
}

static void test_rpcb_garbage_args(void)
{
	struct xdr_out args, out;
	struct xdr_in res;
	put_rpcb(&args, 100003, 3, "tcp");
	size_t full = args.len;
	for (args.len = 0; args.len < full; args.len += 4) {
		for (uint32_t proc = PMAP_PROC_SET; proc <= RPCB_PROC_GETADDR; proc++) {
			CHECK_EQ(serve("127.0.0.1", 3, proc, &args, &out, &res), RPC_GARBAGE_ARGS);
			CHECK_EQ(xdr_left(&res), 0);
			xdr_out_free(&out);
		}
	}
	xdr_out_free(&args);
	char netid[300];
	memset(netid, 'n', 299);
	netid[299] = 0;
	put_rpcb(&args, 100003, 3, netid); /* longer than any netid we read */
	CHECK_EQ(serve("127.0.0.1", 4, RPCB_PROC_GETADDR, &args, &out, &res), RPC_GARBAGE_ARGS);
	xdr_out_free(&out);
	xdr_out_free(&args);
}

static void test_mismatches(void)
{
	struct xdr_out out;
	struct xdr_in res;
	static const uint32_t versions[] = { 0, 1, 5, 0xffffffff };
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ(serve("127.0.0.1", versions[i], PMAP_PROC_NULL, NULL, &out, &res),
			 RPC_PROG_MISMATCH);
		CHECK_EQ(xdr_get_u32(&res), 2);
		CHECK_EQ(xdr_get_u32(&res), 4);
		CHECK(!res.err && xdr_left(&res) == 0);
		xdr_out_free(&out);
	}
	/* A call for another program is not the portmapper's. */
	struct rpc_portmap pm = { maps, 3, "127.0.0.1" };
	struct rpc_call call = { .xid = 7, .prog = 100003, .vers = 3 };
	xdr_out_init(&out);
	rpc_portmap_serve(&pm, &call, &out);
	static const uint8_t want[] = { 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	CHECK(out.len == sizeof(want) && memcmp(out.buf, want, sizeof(want)) == 0);
	xdr_out_free(&out);
}

/* ---- registering ----------------------------------------------------- */

enum fake_answer { ANSWER_TRUE, ANSWER_FALSE, ANSWER_WRONG_XID, ANSWER_DENIED,
		   ANSWER_IN_PIECES, ANSWER_TWICE, ANSWER_NOTHING, ANSWER_HANG_UP };

/* A one-connection rpcbind on 127.0.0.1:0 run by a thread. */
struct fake_rpcbind {
	int listen_fd;
	struct sockaddr_in addr;
	enum fake_answer answer;
	pthread_t thread;
	int ncalls;
	bool call_ok[8];              /* a well-formed PMAP v2 call */
	uint32_t proc[8], mapping[8][4];
};

static void send_bytes(int fd, const void *p, size_t len)
{
	if (send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len)
		fprintf(stderr, "  fake rpcbind: short send\n");
}

static void fake_answer(struct fake_rpcbind *f, int fd, const struct rpc_call *call)
{
	struct xdr_out out;
	xdr_out_init(&out);
	size_t mark = xdr_reserve(&out, 4);
	uint32_t xid = call->xid + (f->answer == ANSWER_WRONG_XID);
	if (f->answer == ANSWER_DENIED) {
		rpc_reply_denied_auth(&out, xid, RPC_AUTH_TOOWEAK);
	} else {
		rpc_reply_accepted(&out, xid, RPC_SUCCESS, 0, 0);
		xdr_put_bool(&out, f->answer != ANSWER_FALSE);
	}
	rpc_record_mark(out.buf + mark, (uint32_t)(out.len - 4));
	if (f->answer == ANSWER_TWICE) { /* a reply and more: one segment */
		uint8_t reply[64];
		size_t len = out.len;
		memcpy(reply, out.buf, len);
		xdr_put_fixed(&out, reply, len);
		send_bytes(fd, out.buf, out.len);
	} else if (f->answer != ANSWER_IN_PIECES) {
		send_bytes(fd, out.buf, out.len);
	} else { /* two fragments, a byte at a time */
		uint8_t first[4] = { 0, 0, 0, 5 };
		out.buf[3] -= 5;
		send_bytes(fd, first, 4);
		for (size_t i = 4; i < out.len; i++) {
			if (i == 9)
				send_bytes(fd, out.buf, 4); /* the last fragment's marker */
			send_bytes(fd, out.buf + i, 1);
			usleep(1000);
		}
	}
	xdr_out_free(&out);
}

static void fake_record(struct fake_rpcbind *f, int fd, const uint8_t *rec, size_t len)
{
	struct rpc_call call;
	enum rpc_auth_stat auth_stat;
	int i = f->ncalls < 8 ? f->ncalls++ : 7;
	f->call_ok[i] = rpc_call_decode(rec, len, &call, &auth_stat) == RPC_CALL_OK &&
			call.prog == PMAP_PROG && call.vers == 2;
	f->proc[i] = call.proc;
	for (int k = 0; k < 4; k++)
		f->mapping[i][k] = xdr_get_u32(&call.args);
	f->call_ok[i] &= !call.args.err && xdr_left(&call.args) == 0;
	if (f->answer == ANSWER_HANG_UP)
		shutdown(fd, SHUT_RDWR);
	else if (f->answer != ANSWER_NOTHING)
		fake_answer(f, fd, &call);
}

static void *fake_run(void *arg)
{
	struct fake_rpcbind *f = arg;
	struct rpc_record_reader r;
	uint8_t buf[256];
	ssize_t n;
	int fd = accept(f->listen_fd, NULL, NULL);
	rpc_record_reader_init(&r, 4096);
	while (fd >= 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (size_t at = 0; at < (size_t)n;) {
			const uint8_t *rec;
			size_t rec_len;
			long used = rpc_record_reader_feed(&r, buf + at, (size_t)n - at, &rec, &rec_len);
			if (used < 0)
				break;
			if (rec)
				fake_record(f, fd, rec, rec_len);
			at += (size_t)used;
		}
	}
	rpc_record_reader_free(&r);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static bool fake_start(struct fake_rpcbind *f, enum fake_answer answer)
{
	socklen_t len = sizeof(f->addr);
	memset(f, 0, sizeof(*f));
	f->answer = answer;
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return f->listen_fd >= 0 &&
	       bind(f->listen_fd, (struct sockaddr *)&f->addr, sizeof(f->addr)) == 0 &&
	       getsockname(f->listen_fd, (struct sockaddr *)&f->addr, &len) == 0 &&
	       listen(f->listen_fd, 1) == 0 && pthread_create(&f->thread, NULL, fake_run, f) == 0;
}

/* Register through the fake, then wait for it to finish. */
static int fake_register(struct fake_rpcbind *f, size_t nmaps, int set)
{
	int rc = rpc_portmap_register_at((struct sockaddr *)&f->addr, sizeof(f->addr), maps, nmaps,
					 set);
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	return rc;
}

static void test_register(void)
{
	struct fake_rpcbind f;
	for (int set = 0; set <= 1; set++) {
		REQUIRE(fake_start(&f, ANSWER_TRUE));
		CHECK_EQ(fake_register(&f, 3, set), 0);
		CHECK_EQ(f.ncalls, 3);
		for (int i = 0; i < 3 && i < f.ncalls; i++) {
			CHECK(f.call_ok[i]);
			CHECK_EQ(f.proc[i], set ? PMAP_PROC_SET : PMAP_PROC_UNSET);
			CHECK_EQ(f.mapping[i][0], maps[i].prog);
			CHECK_EQ(f.mapping[i][1], maps[i].vers);
			CHECK_EQ(f.mapping[i][2], RPC_IPPROTO_TCP);
			CHECK_EQ(f.mapping[i][3], maps[i].port);
		}
	}
	REQUIRE(fake_start(&f, ANSWER_IN_PIECES));
	CHECK_EQ(fake_register(&f, 2, 1), 0);
	CHECK_EQ(f.ncalls, 2);
	REQUIRE(fake_start(&f, ANSWER_TRUE));
	CHECK_EQ(fake_register(&f, 0, 1), 0); /* nothing to say: connects only */
	CHECK_EQ(f.ncalls, 0);
}

static void test_register_refused(void)
{
	struct fake_rpcbind f;
	REQUIRE(fake_start(&f, ANSWER_FALSE));
	CHECK_EQ(fake_register(&f, 3, 1), -EIO);
	CHECK_EQ(f.ncalls, 1); /* stops at the first refusal */
	REQUIRE(fake_start(&f, ANSWER_FALSE));
	CHECK_EQ(fake_register(&f, 3, 0), 0); /* UNSET of nothing mapped */
	CHECK_EQ(f.ncalls, 3);
	static const enum fake_answer bad[] = { ANSWER_WRONG_XID, ANSWER_DENIED, ANSWER_TWICE,
						ANSWER_HANG_UP };
	for (size_t i = 0; i < 4; i++) {
		REQUIRE(fake_start(&f, bad[i]));
		CHECK_EQ(fake_register(&f, 3, 1), -EIO);
		CHECK_EQ(f.ncalls, 1);
	}
}

static void test_register_timeout(void)
{
	struct fake_rpcbind f;
	struct timespec start, end;
	REQUIRE(fake_start(&f, ANSWER_NOTHING));
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ(fake_register(&f, 1, 1), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &end);
	double seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	CHECK(seconds > 1.5 && seconds < 10);
}

static void test_register_no_rpcbind(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0); /* a port bound, never listened on */
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
		getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
	CHECK_EQ(rpc_portmap_register_at((struct sockaddr *)&addr, len, maps, 3, 1),
		 -ECONNREFUSED);
	close(fd);
}

static const struct harness_test tests[] = {
	{ "pmap_v2", test_pmap_v2 },
	{ "rpcb_getaddr", test_rpcb_getaddr },
	{ "rpcb_other_procs", test_rpcb_other_procs },
	{ "rpcb_garbage_args", test_rpcb_garbage_args },
	{ "mismatches", test_mismatches },
	{ "register", test_register },
	{ "register_refused", test_register_refused },
	{ "register_timeout", test_register_timeout },
	{ "register_no_rpcbind", test_register_no_rpcbind },
};
HARNESS_MAIN(tests)
