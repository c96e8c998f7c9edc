/*
 * test_session.c - a running iSCSI server (server.c, conn.c, session.c,
 * login.c) on a real pool, driven over loopback by a raw-PDU initiator
 * written here: CRC32C digests both ways and digest errors, the CmdSN
 * window set at run time, session reinstatement, keepalive pings, the
 * logout request on stop, the login timeout, 200 sessions at once, the
 * pool's soft threshold reaching every session as a unit attention, and
 * READs and WRITEs counted in the IO statistics.
 * libiscsi cannot send bad digests, skip answering a ping, or show
 * MaxCmdSN, so these checks need the raw initiator; the integration tests
 * use real clients where they can.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "target/iscsi/internal.h"
#include "tests/harness.h"

#define TARGET_IQN "iqn.2026-11.dev.slate:unit"
#define INITIATOR_IQN "iqn.2026-11.dev.slate:raw"
#define RECV_TIMEOUT_MS 5000

/* ---- a server on a temporary pool ------------------------------------- */

struct fixture {
	char dir[64];
	struct cowstore *cs;
	struct iscsi_server *srv;
};

static int fixture_start_pool(struct fixture *f, const struct iscsi_server_options *extra,
			      const struct cowstore_pool_options *pool_opts)
{
	struct cowstore_err err = { "" };
	struct iscsi_server_options opts = { 0 };
	uint64_t volume_id;
	if (extra)
		opts = *extra;
	opts.address = "127.0.0.1";
	snprintf(f->dir, sizeof(f->dir), "/tmp/slate-session-XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	int rc = cowstore_pool_create(f->dir, pool_opts, &err);
	if (!rc)
		rc = cowstore_open(f->dir, &f->cs, &err);
	if (!rc)
		rc = cowstore_volume_create(f->cs, "v", 16 << 20, &volume_id, &err);
	if (!rc)
		rc = iscsi_server_create(f->cs, &opts, &f->srv);
	if (!rc)
		rc = iscsi_server_add_target(f->srv, TARGET_IQN);
	if (!rc)
		rc = iscsi_server_add_lun(f->srv, TARGET_IQN, 0, NULL, volume_id);
	return rc ? rc : iscsi_server_start(f->srv);
}

static int fixture_start(struct fixture *f, const struct iscsi_server_options *extra)
{
	struct cowstore_pool_options pool_opts = { 0 };
	return fixture_start_pool(f, extra, &pool_opts);
}

static void fixture_stop(struct fixture *f)
{
	iscsi_server_destroy(f->srv);
	cowstore_close(f->cs);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	CHECK_EQ(system(cmd), 0);
}

/* ---- the raw initiator ------------------------------------------------ */

struct ini {
	int fd;
	bool header_digest, data_digest;
	uint32_t cmd_sn, exp_stat_sn, itt;
	uint8_t isid[6];
	uint8_t last_sense_key;   /* of the last CHECK CONDITION */
	uint16_t last_asc_ascq;
};

static uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }

static int ini_connect(struct ini *in, uint16_t port, uint8_t isid_last)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0x51, 0xa7, 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	memset(in, 0, sizeof(*in));
	memcpy(in->isid, isid, sizeof(isid));
	in->isid[5] = isid_last;
	in->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (in->fd < 0 || connect(in->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	for (size_t at = 0; at < len;) {
		ssize_t n = write(fd, (const uint8_t *)p + at, len - at);
		if (n <= 0)
			return -EIO;
		at += (size_t)n;
	}
	return 0;
}

/* Send one PDU; corrupt: 1 spoils the header digest, 2 the data digest. */
static int ini_send(struct ini *in, uint8_t *bhs, const void *data, uint32_t len, int corrupt)
{
	uint8_t buf[48 + 4 + 8192 + 4 + 4] = { 0 }, *p = buf;
	if (len > 8192)
		return -EINVAL;
	bhs[5] = (uint8_t)(len >> 16);
	bhs[6] = (uint8_t)(len >> 8);
	bhs[7] = (uint8_t)len;
	memcpy(p, bhs, BHS_LEN);
	p += BHS_LEN;
	if (in->header_digest) {
		put_le32(p, pdu_digest(bhs, BHS_LEN, NULL, 0) ^ (corrupt == 1));
		p += 4;
	}
	if (len)
		memcpy(p, data, len);
	p += pad4(len);
	if (in->data_digest && len) {
		put_le32(p, pdu_digest(p - pad4(len), pad4(len), NULL, 0) ^ (corrupt == 2));
		p += 4;
	}
	return write_all(in->fd, buf, (size_t)(p - buf));
}

/* 0 on a whole read, -ECONNRESET on EOF, -ETIMEDOUT. */
static int read_all(int fd, void *p, size_t len)
{
	for (size_t at = 0; at < len;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, RECV_TIMEOUT_MS) != 1)
			return -ETIMEDOUT;
		ssize_t n = read(fd, (uint8_t *)p + at, len - at);
		if (n <= 0)
			return -ECONNRESET;
		at += (size_t)n;
	}
	return 0;
}

/* Receive one PDU, checking the target's digests (-EBADMSG if wrong). */
static int ini_recv(struct ini *in, uint8_t *bhs, uint8_t *data, uint32_t cap, uint32_t *len)
{
	uint8_t digest[4];
	int rc = read_all(in->fd, bhs, BHS_LEN);
	if (rc)
		return rc;
	*len = get_be24(bhs + 5);
	if (bhs[4] || pad4(*len) > cap)
		return -EMSGSIZE;
	if (in->header_digest && ((rc = read_all(in->fd, digest, 4)) ||
				  get_le32(digest) != pdu_digest(bhs, BHS_LEN, NULL, 0)))
		return rc ? rc : -EBADMSG;
	if (*len && (rc = read_all(in->fd, data, pad4(*len))))
		return rc;
	if (in->data_digest && *len &&
	    ((rc = read_all(in->fd, digest, 4)) ||
	     get_le32(digest) != pdu_digest(data, pad4(*len), NULL, 0)))
		return rc ? rc : -EBADMSG;
	if (bhs[0] != OP_NOP_IN || get_be32(bhs + 16) != 0xffffffffu)
		in->exp_stat_sn = get_be32(bhs + 24) + 1;
	return 0;
}

/* One Login PDU straight to full feature phase; digests as offered. */
static int ini_login(struct ini *in, const char *digests)
{
	char keys[512];
	uint8_t bhs[BHS_LEN] = { OP_LOGIN_REQ | 0x40, 0x87 }, rsp[BHS_LEN], data[1024];
	uint32_t len;
	int n = snprintf(keys, sizeof(keys),
			 "InitiatorName=" INITIATOR_IQN "%cSessionType=Normal%cTargetName="
			 TARGET_IQN "%cHeaderDigest=%s%cDataDigest=%s%c",
			 0, 0, 0, digests, 0, digests, 0);
	memcpy(bhs + 8, in->isid, 6);
	put_be32(bhs + 16, in->itt++);
	put_be32(bhs + 24, in->cmd_sn);
	int rc = ini_send(in, bhs, keys, (uint32_t)n, 0);
	if (!rc)
		rc = ini_recv(in, rsp, data, sizeof(data) - 1, &len);
	if (rc)
		return rc;
	if (rsp[0] != OP_LOGIN_RSP || rsp[36] || rsp[37] || !(rsp[1] & 0x80))
		return -EACCES;
	data[len] = 0;
	for (uint32_t at = 0; at < len; at += (uint32_t)strlen((char *)data + at) + 1) {
		if (!strcmp((char *)data + at, "HeaderDigest=CRC32C"))
			in->header_digest = true;
		if (!strcmp((char *)data + at, "DataDigest=CRC32C"))
			in->data_digest = true;
	}
	return 0;
}

/* A NOP-Out that wants an answer: returns the NOP-In's MaxCmdSN window. */
static int ini_ping(struct ini *in, uint32_t *exp_cmd_sn, uint32_t *max_cmd_sn)
{
	uint8_t bhs[BHS_LEN] = { OP_NOP_OUT, 0x80 }, rsp[BHS_LEN], data[64];
	uint32_t len;
	put_be32(bhs + 16, in->itt++);
	put_be32(bhs + 20, 0xffffffffu);
	put_be32(bhs + 24, in->cmd_sn++);
	put_be32(bhs + 28, in->exp_stat_sn);
	int rc = ini_send(in, bhs, "ping", 4, 0);
	if (!rc)
		rc = ini_recv(in, rsp, data, sizeof(data), &len);
	if (rc)
		return rc;
	if (rsp[0] != OP_NOP_IN || len != 4 || memcmp(data, "ping", 4) != 0)
		return -EPROTO;
	*exp_cmd_sn = get_be32(rsp + 28);
	*max_cmd_sn = get_be32(rsp + 32);
	return 0;
}

/* A SCSI command on LUN 0 with data-out (immediate) or data-in; returns
 * its SCSI status (a unit attention comes back as CHECK CONDITION). */
static int ini_scsi(struct ini *in, const uint8_t cdb[10], void *buf, uint32_t len, bool write)
{
	uint8_t bhs[BHS_LEN] = { OP_SCSI_CMD, (uint8_t)(0x80 | (write ? 0x20 : 0x40) | 1) };
	uint8_t rsp[BHS_LEN], data[8192];
	uint32_t got;
	put_be32(bhs + 16, in->itt++);
	put_be32(bhs + 20, len);
	put_be32(bhs + 24, in->cmd_sn++);
	put_be32(bhs + 28, in->exp_stat_sn);
	memcpy(bhs + 32, cdb, 10);
	int rc = ini_send(in, bhs, write ? buf : NULL, write ? len : 0, 0);
	if (!rc)
		rc = ini_recv(in, rsp, data, sizeof(data), &got);
	if (rc)
		return rc;
	if (rsp[0] == OP_DATA_IN && (rsp[1] & 1) && got <= len && !write)
		memcpy(buf, data, got); /* status in the last Data-In (an underflow too) */
	else if (rsp[0] != OP_SCSI_RSP)
		return -EPROTO;
	if (rsp[3] == SCSI_STATUS_CHECK_CONDITION && got >= 2 + 14) { /* SenseLength, sense */
		in->last_sense_key = data[2 + 2] & 0x0f;
		in->last_asc_ascq = (uint16_t)(data[2 + 12] << 8 | data[2 + 13]);
	}
	return rsp[3];
}

static bool closed_by_target(struct ini *in)
{
	uint8_t bhs[BHS_LEN], data[256];
	uint32_t len;
	int rc;
	while ((rc = ini_recv(in, bhs, data, sizeof(data), &len)) == 0)
		;
	return rc == -ECONNRESET;
}

/* ---- tests ------------------------------------------------------------ */

static void test_digests_both_ways(void)
{
	struct fixture f;
	struct ini in;
	uint8_t block[512], back[512];
	const uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
	const uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
	REQUIRE(fixture_start(&f, NULL) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	CHECK_EQ(ini_login(&in, "CRC32C,None"), 0);
	CHECK(in.header_digest && in.data_digest);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(ini_scsi(&in, write10, block, sizeof(block), true), SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(ini_scsi(&in, write10, block, sizeof(block), true), 0); /* after the UA */
	CHECK_EQ(ini_scsi(&in, read10, back, sizeof(back), false), 0);
	CHECK(memcmp(block, back, sizeof(block)) == 0);
	/* A data digest error: Reject (reason 2), then the session ends. */
	uint8_t nop[BHS_LEN] = { OP_NOP_OUT | 0x40, 0x80 }, rsp[BHS_LEN], data[64];
	uint32_t len;
	put_be32(nop + 16, in.itt++);
	put_be32(nop + 20, 0xffffffffu);
	put_be32(nop + 24, in.cmd_sn);
	CHECK_EQ(ini_send(&in, nop, "ping", 4, 2), 0);
	CHECK_EQ(ini_recv(&in, rsp, data, sizeof(data), &len), 0);
	CHECK_EQ(rsp[0], OP_REJECT);
	CHECK_EQ(rsp[2], REJECT_DATA_DIGEST);
	CHECK(closed_by_target(&in));
	close(in.fd);
	fixture_stop(&f);
}

static void test_header_digest_error_ends_only_that_connection(void)
{
	struct fixture f;
	struct ini bad, good;
	uint32_t exp, max;
	REQUIRE(fixture_start(&f, NULL) == 0);
	REQUIRE(ini_connect(&bad, iscsi_server_port(f.srv), 1) == 0);
	REQUIRE(ini_connect(&good, iscsi_server_port(f.srv), 2) == 0);
	CHECK_EQ(ini_login(&bad, "CRC32C"), 0);
	CHECK_EQ(ini_login(&good, "None,CRC32C"), 0);
	CHECK(bad.header_digest && !good.header_digest);
	uint8_t nop[BHS_LEN] = { OP_NOP_OUT | 0x40, 0x80 };
	put_be32(nop + 20, 0xffffffffu);
	CHECK_EQ(ini_send(&bad, nop, NULL, 0, 1), 0);
	CHECK(closed_by_target(&bad));
	CHECK_EQ(ini_ping(&good, &exp, &max), 0);
	close(bad.fd);
	close(good.fd);
	fixture_stop(&f);
}

static void test_window_set_at_run_time(void)
{
	struct fixture f;
	struct ini in;
	struct iscsi_session_info info[4];
	size_t count;
	uint32_t exp, max, max_before;
	REQUIRE(fixture_start(&f, NULL) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	REQUIRE(ini_login(&in, "None") == 0);
	CHECK_EQ(iscsi_server_list_sessions(f.srv, info, 4, &count), 0);
	REQUIRE(count == 1);
	CHECK(strcmp(info[0].initiator, INITIATOR_IQN) == 0);
	CHECK(strcmp(info[0].target, TARGET_IQN) == 0);
	CHECK_EQ(info[0].window, ISCSI_DEFAULT_WINDOW);
	REQUIRE(ini_ping(&in, &exp, &max) == 0);
	CHECK_EQ(max - exp + 1, ISCSI_DEFAULT_WINDOW);
	/* Smaller: MaxCmdSN does not go back; it stops growing until the
	 * window has shrunk to the new size. */
	max_before = max;
	CHECK_EQ(iscsi_server_set_session_window(f.srv, info[0].session_id, 4), 0);
	for (uint32_t i = 0; i < ISCSI_DEFAULT_WINDOW; i++)
		REQUIRE(ini_ping(&in, &exp, &max) == 0 && (int32_t)(max - max_before) >= 0);
	CHECK_EQ(max - exp + 1, 4);
	/* Larger: granted with the next response. */
	CHECK_EQ(iscsi_server_set_session_window(f.srv, info[0].session_id, 100), 0);
	REQUIRE(ini_ping(&in, &exp, &max) == 0);
	CHECK_EQ(max - exp + 1, 100);
	CHECK_EQ(iscsi_server_set_session_window(f.srv, info[0].session_id, 0), -EINVAL);
	CHECK_EQ(iscsi_server_set_session_window(f.srv, info[0].session_id,
						 ISCSI_MAX_WINDOW + 1), -EINVAL);
	CHECK_EQ(iscsi_server_set_session_window(f.srv, info[0].session_id + 99, 8), -ENOENT);
	close(in.fd);
	fixture_stop(&f);
}

static void test_reinstatement_replaces_the_old_session(void)
{
	struct fixture f;
	struct ini first, again, other;
	struct iscsi_session_info info[4];
	size_t count = 0;
	uint32_t exp, max;
	REQUIRE(fixture_start(&f, NULL) == 0);
	uint16_t port = iscsi_server_port(f.srv);
	REQUIRE(ini_connect(&first, port, 1) == 0 && ini_login(&first, "None") == 0);
	REQUIRE(ini_connect(&other, port, 2) == 0 && ini_login(&other, "None") == 0);
	REQUIRE(ini_connect(&again, port, 1) == 0 && ini_login(&again, "None") == 0);
	CHECK(closed_by_target(&first));
	CHECK_EQ(ini_ping(&again, &exp, &max), 0);
	CHECK_EQ(ini_ping(&other, &exp, &max), 0);
	CHECK_EQ(iscsi_server_list_sessions(f.srv, info, 4, &count), 0);
	CHECK_EQ(count, 2);
	CHECK_EQ(iscsi_server_list_sessions(f.srv, NULL, 0, &count), 0);
	CHECK_EQ(count, 2);
	CHECK_EQ(iscsi_server_list_sessions(f.srv, NULL, 1, &count), -EINVAL);
	close(first.fd);
	close(again.fd);
	close(other.fd);
	fixture_stop(&f);
}

static void test_keepalive_pings_and_drops_the_silent(void)
{
	struct fixture f;
	struct ini in;
	struct iscsi_server_options opts = { .nop_interval_ms = 100, .nop_timeout_ms = 300 };
	uint8_t bhs[BHS_LEN], data[64];
	uint32_t len;
	REQUIRE(fixture_start(&f, &opts) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	REQUIRE(ini_login(&in, "None") == 0);
	REQUIRE(ini_recv(&in, bhs, data, sizeof(data), &len) == 0);
	CHECK_EQ(bhs[0], OP_NOP_IN);
	CHECK_EQ(get_be32(bhs + 16), 0xffffffffu);
	uint32_t ttt = get_be32(bhs + 20);
	CHECK(ttt != 0xffffffffu);
	/* Answer it: the session lives on and is pinged again later. */
	uint8_t answer[BHS_LEN] = { OP_NOP_OUT | 0x40, 0x80 };
	put_be32(answer + 16, 0xffffffffu);
	put_be32(answer + 20, ttt);
	put_be32(answer + 24, in.cmd_sn);
	put_be32(answer + 28, in.exp_stat_sn);
	CHECK_EQ(ini_send(&in, answer, NULL, 0, 0), 0);
	REQUIRE(ini_recv(&in, bhs, data, sizeof(data), &len) == 0);
	CHECK_EQ(bhs[0], OP_NOP_IN);
	CHECK(get_be32(bhs + 20) != ttt);
	/* Stay silent: the target gives up on us. */
	CHECK(closed_by_target(&in));
	close(in.fd);
	fixture_stop(&f);
}

static void test_unfinished_login_times_out(void)
{
	struct fixture f;
	struct ini idle, quick;
	struct iscsi_server_options opts = { .login_timeout_ms = 200 };
	uint32_t exp, max;
	REQUIRE(fixture_start(&f, &opts) == 0);
	REQUIRE(ini_connect(&idle, iscsi_server_port(f.srv), 1) == 0); /* says nothing */
	REQUIRE(ini_connect(&quick, iscsi_server_port(f.srv), 2) == 0);
	CHECK_EQ(ini_login(&quick, "None"), 0);
	CHECK(closed_by_target(&idle));
	CHECK_EQ(ini_ping(&quick, &exp, &max), 0); /* a finished login is not touched */
	close(idle.fd);
	close(quick.fd);
	fixture_stop(&f);
}

static void *stop_server(void *arg)
{
	iscsi_server_stop(arg);
	return NULL;
}

static void test_stop_asks_sessions_to_log_out(void)
{
	struct fixture f;
	struct ini in;
	pthread_t stopper;
	uint8_t bhs[BHS_LEN], data[64];
	uint32_t len;
	REQUIRE(fixture_start(&f, NULL) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	REQUIRE(ini_login(&in, "None") == 0);
	REQUIRE(pthread_create(&stopper, NULL, stop_server, f.srv) == 0);
	CHECK_EQ(ini_recv(&in, bhs, data, sizeof(data), &len), 0);
	CHECK_EQ(bhs[0], OP_ASYNC);
	CHECK_EQ(bhs[36], 1); /* target requests logout */
	uint8_t logout[BHS_LEN] = { OP_LOGOUT_REQ | 0x40, 0x80 };
	put_be32(logout + 16, in.itt++);
	put_be32(logout + 24, in.cmd_sn);
	put_be32(logout + 28, in.exp_stat_sn);
	CHECK_EQ(ini_send(&in, logout, NULL, 0, 0), 0);
	CHECK_EQ(ini_recv(&in, bhs, data, sizeof(data), &len), 0);
	CHECK_EQ(bhs[0], OP_LOGOUT_RSP);
	CHECK_EQ(bhs[2], 0);
	CHECK(closed_by_target(&in));
	pthread_join(stopper, NULL);
	close(in.fd);
	fixture_stop(&f);
}

static void test_many_sessions_at_once(void)
{
	enum { SESSIONS = 200 };
	struct fixture f;
	static struct ini in[SESSIONS];
	size_t count = 0;
	uint32_t exp, max;
	int logged_in = 0, answered = 0;
	REQUIRE(fixture_start(&f, NULL) == 0);
	for (int i = 0; i < SESSIONS; i++) /* ISIDs differ: no reinstatement */
		if (ini_connect(&in[i], iscsi_server_port(f.srv), (uint8_t)i) == 0 &&
		    (in[i].isid[4] = (uint8_t)(i >> 8), ini_login(&in[i], "None") == 0))
			logged_in++;
	for (int i = 0; i < SESSIONS; i++)
		answered += ini_ping(&in[i], &exp, &max) == 0;
	CHECK_EQ(logged_in, SESSIONS);
	CHECK_EQ(answered, SESSIONS);
	CHECK_EQ(iscsi_server_list_sessions(f.srv, NULL, 0, &count), 0);
	CHECK_EQ(count, SESSIONS);
	for (int i = 0; i < SESSIONS; i++)
		close(in[i].fd);
	fixture_stop(&f);
}

/* PERSISTENT RESERVE OUT REGISTER with APTPL, then a new server on the same
 * pool: the registration is back (kept as a pool configuration record). */
static void test_aptpl_registration_survives_a_restart(void)
{
	struct fixture f;
	struct ini in;
	const uint8_t tur[10] = { 0 };
	uint8_t prout[10] = { 0x5f, 0x00 }, prin[10] = { 0x5e, 0x00 }, params[24] = { 0 };
	uint8_t keys[64];
	uint64_t volume_id;
	REQUIRE(fixture_start(&f, NULL) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0 && ini_login(&in, "None") == 0);
	ini_scsi(&in, tur, NULL, 0, false); /* power on */
	put_be32(params + 8, 0x11223344);   /* SERVICE ACTION RESERVATION KEY */
	put_be32(params + 12, 0x55667788);
	params[20] = 0x01;                  /* APTPL */
	prout[8] = sizeof(params);
	CHECK_EQ(ini_scsi(&in, prout, params, sizeof(params), true), SCSI_STATUS_GOOD);
	close(in.fd);
	iscsi_server_destroy(f.srv);

	struct iscsi_server_options opts = { .address = "127.0.0.1" };
	REQUIRE(cowstore_volume_lookup(f.cs, "v", &volume_id) == 0);
	REQUIRE(iscsi_server_create(f.cs, &opts, &f.srv) == 0);
	REQUIRE(iscsi_server_add_target(f.srv, TARGET_IQN) == 0);
	REQUIRE(iscsi_server_add_lun(f.srv, TARGET_IQN, 0, NULL, volume_id) == 0);
	REQUIRE(iscsi_server_start(f.srv) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 2) == 0 && ini_login(&in, "None") == 0);
	ini_scsi(&in, tur, NULL, 0, false);
	prin[8] = sizeof(keys);
	CHECK_EQ(ini_scsi(&in, prin, keys, sizeof(keys), false), SCSI_STATUS_GOOD);
	CHECK_EQ(get_be32(keys + 4), 8);    /* one key */
	CHECK_EQ(get_be32(keys + 8), 0x11223344);
	CHECK_EQ(get_be32(keys + 12), 0x55667788);
	close(in.fd);
	fixture_stop(&f);
}

static void forward_event(void *arg, const struct cowstore_event *ev)
{
	if (ev->type == COWSTORE_EVENT_SOFT_THRESHOLD)
		iscsi_server_thin_threshold_reached(arg);
}

static void test_soft_threshold_becomes_a_unit_attention(void)
{
	struct fixture f;
	struct ini in;
	struct cowstore_pool_options pool_opts = { .capacity_bytes = 32 << 20,
						   .soft_threshold_pct = 30 };
	static uint8_t data[COWSTORE_MAX_IO_BYTES];
	uint64_t volume_id;
	const uint8_t tur[10] = { 0 };
	REQUIRE(fixture_start_pool(&f, NULL, &pool_opts) == 0);
	cowstore_set_event_handler(f.cs, forward_event, f.srv);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	REQUIRE(ini_login(&in, "None") == 0);
	CHECK_EQ(ini_scsi(&in, tur, NULL, 0, false), SCSI_STATUS_CHECK_CONDITION); /* power on */
	CHECK_EQ(ini_scsi(&in, tur, NULL, 0, false), SCSI_STATUS_GOOD);
	memset(data, 0x5a, sizeof(data));
	REQUIRE(cowstore_volume_lookup(f.cs, "v", &volume_id) == 0);
	CHECK_EQ(cowstore_write(f.cs, volume_id, 0, sizeof(data) / 512, data, 0), 0); /* 8 of 32 MiB */
	CHECK_EQ(ini_scsi(&in, tur, NULL, 0, false), SCSI_STATUS_GOOD);         /* below 30% */
	CHECK_EQ(cowstore_write(f.cs, volume_id, sizeof(data) / 512, 4096, data, 0), 0);
	int status = SCSI_STATUS_GOOD;
	for (int i = 0; i < 100 && status == SCSI_STATUS_GOOD; i++) {
		status = ini_scsi(&in, tur, NULL, 0, false);
		if (status == SCSI_STATUS_GOOD)
			usleep(10000); /* the event crosses two threads */
	}
	CHECK_EQ(status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(in.last_sense_key, 0x06);
	CHECK_EQ(in.last_asc_ascq, 0x3807);
	close(in.fd);
	fixture_stop(&f);
}

/* With a statistics registry, READs and WRITEs that end GOOD are counted
 * on the stream of (initiator, the LUN's volume); other commands and
 * failed ones are not. */
static void test_reads_and_writes_are_counted_per_initiator_and_volume(void)
{
	struct fixture f;
	struct ini in;
	struct qos_stats *stats;
	uint8_t block[1024] = { 1 }, back[1024];
	const uint8_t write10[10] = { 0x2a, 0, 0, 0, 0, 8, 0, 0, 2, 0 };
	const uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
	const uint8_t read_past_end[10] = { 0x28, 0, 0, 0x01, 0, 0, 0, 0, 1, 0 };
	const uint8_t tur[10] = { 0 };
	REQUIRE(qos_stats_create(&stats) == 0);
	struct iscsi_server_options opts = { .stats = stats };
	REQUIRE(fixture_start(&f, &opts) == 0);
	uint64_t volume_id;
	REQUIRE(cowstore_volume_lookup(f.cs, "v", &volume_id) == 0);
	REQUIRE(ini_connect(&in, iscsi_server_port(f.srv), 1) == 0);
	CHECK_EQ(ini_login(&in, "None"), 0);
	CHECK_EQ(ini_scsi(&in, tur, NULL, 0, false), SCSI_STATUS_CHECK_CONDITION); /* the UA */
	CHECK_EQ(ini_scsi(&in, write10, block, sizeof(block), true), 0);
	CHECK_EQ(ini_scsi(&in, read10, back, 512, false), 0);
	CHECK_EQ(ini_scsi(&in, read10, back, 512, false), 0);
	CHECK_EQ(ini_scsi(&in, tur, NULL, 0, false), 0);
	CHECK_EQ(ini_scsi(&in, read_past_end, back, 512, false), SCSI_STATUS_CHECK_CONDITION);
	/* the response leaves after the count: no wait needed */
	struct qos_stream_counts c;
	qos_stream_counts(qos_stats_stream(stats, INITIATOR_IQN, volume_id), &c);
	CHECK_EQ(c.read_ios, 2);
	CHECK_EQ(c.write_ios, 1);
	CHECK_EQ(c.read_bytes, 1024);
	CHECK_EQ(c.write_bytes, 1024);
	CHECK(c.latency_sum_ns > 0 && c.latency_sum_ns < 10000000000ull);
	close(in.fd);
	fixture_stop(&f);
	qos_stats_destroy(stats);
}

static const struct harness_test tests[] = {
	{ "digests_both_ways", test_digests_both_ways },
	{ "header_digest_error_ends_only_that_connection",
	  test_header_digest_error_ends_only_that_connection },
	{ "window_set_at_run_time", test_window_set_at_run_time },
	{ "reinstatement_replaces_the_old_session", test_reinstatement_replaces_the_old_session },
	{ "keepalive_pings_and_drops_the_silent", test_keepalive_pings_and_drops_the_silent },
	{ "unfinished_login_times_out", test_unfinished_login_times_out },
	{ "stop_asks_sessions_to_log_out", test_stop_asks_sessions_to_log_out },
	{ "many_sessions_at_once", test_many_sessions_at_once },
	{ "aptpl_registration_survives_a_restart", test_aptpl_registration_survives_a_restart },
	{ "soft_threshold_becomes_a_unit_attention",
	  test_soft_threshold_becomes_a_unit_attention },
	{ "reads_and_writes_are_counted_per_initiator_and_volume",
	  test_reads_and_writes_are_counted_per_initiator_and_volume },
};

HARNESS_MAIN(tests)
