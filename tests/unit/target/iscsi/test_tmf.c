/*
 * test_tmf.c - task management (target/iscsi/tmf.c) over a real loopback
 * connection: a server on a throw-away pool, and a minimal initiator here
 * that logs in with InitialR2T=Yes and ImmediateData=No, so a WRITE waits
 * for its Data-Out after the R2T and can be aborted.  Checks the TMF
 * Response codes of every function, that an aborted command's data is
 * refused, the unit attention each reset leaves, and that TARGET COLD
 * RESET closes the connection after its response.  Commands held by a
 * volume move (iscsi_server_hold_volume): ABORT TASK and LOGICAL UNIT
 * RESET end them without a SCSI Response, one left runs at the release,
 * and a session that closes with one held goes away cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "target/iscsi/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define TARGET "iqn.2026-11.dev.slate:tmf"

struct session {
	struct test_pool tp;
	struct iscsi_server *srv;
	uint64_t vol;
	int fd;
	uint32_t cmd_sn, itt;
	uint8_t bhs[BHS_LEN];  /* the last PDU received */
	uint8_t data[1024];
	uint32_t data_len;
};

static int send_pdu(struct session *s, uint8_t *bhs, const void *data, uint32_t len)
{
	static const uint8_t pad[4];
	bhs[5] = (uint8_t)(len >> 16);
	bhs[6] = (uint8_t)(len >> 8);
	bhs[7] = (uint8_t)len;
	if (write(s->fd, bhs, BHS_LEN) != BHS_LEN)
		return -1;
	if (len && write(s->fd, data, len) != (ssize_t)len)
		return -1;
	return len % 4 && write(s->fd, pad, 4 - len % 4) < 0 ? -1 : 0;
}

static int read_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The next PDU into s->bhs/s->data; its opcode, or -1 (closed, timeout). */
static int recv_pdu(struct session *s)
{
	if (read_all(s->fd, s->bhs, BHS_LEN) != 0)
		return -1;
	s->data_len = get_be24(s->bhs + 5);
	uint32_t padded = (s->data_len + 3) & ~3u;
	if (padded > sizeof(s->data) || read_all(s->fd, s->data, padded) != 0)
		return -1;
	return pdu_opcode(s->bhs);
}

static int login(struct session *s)
{
	static const char keys[] = "InitiatorName=iqn.2026-11.dev.slate:tmf-test\0"
				   "TargetName=" TARGET "\0SessionType=Normal\0"
				   "InitialR2T=Yes\0ImmediateData=No\0"
				   "MaxRecvDataSegmentLength=65536\0";
	uint8_t bhs[BHS_LEN] = { OP_LOGIN_REQ | 0x40, 0x80 | (1 << 2) | 3 }; /* T, CSG 1, NSG 3 */
	bhs[8] = 0x40; /* ISID: random qualifier format */
	bhs[13] = 1;
	put_be32(bhs + 24, s->cmd_sn);
	if (send_pdu(s, bhs, keys, sizeof(keys) - 1) != 0 || recv_pdu(s) != OP_LOGIN_RSP)
		return -1;
	return s->bhs[36] == 0 && s->bhs[37] == 0 ? 0 : -1;
}

static int session_open(struct session *s)
{
	struct iscsi_server_options opts = { .address = "127.0.0.1" };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval timeout = { .tv_sec = 10 };
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->cmd_sn = 1;
	if (test_pool_open(&s->tp, 64, 0) ||
	    cowstore_volume_create(s->tp.cs, "vol", 1 << 20, &s->vol, NULL) ||
	    iscsi_server_create(s->tp.cs, &opts, &s->srv) ||
	    iscsi_server_add_target(s->srv, TARGET) ||
	    iscsi_server_add_lun(s->srv, TARGET, 0, NULL, s->vol) || iscsi_server_start(s->srv))
		return -1;
	sin.sin_port = htons(iscsi_server_port(s->srv));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return -1;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	return login(s);
}

static void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	iscsi_server_destroy(s->srv);
	test_pool_destroy(&s->tp);
}

/* Send a SCSI Command (a WRITE of one block announces 512 bytes). */
static int send_cdb(struct session *s, uint64_t lun, const uint8_t *cdb, bool write)
{
	uint8_t bhs[BHS_LEN] = { OP_SCSI_CMD, 0x80 | (write ? 0x20 : 0) | 0x01 };
	pdu_put_lun(bhs, lun);
	put_be32(bhs + 16, ++s->itt);
	put_be32(bhs + 20, write ? 512 : 0);
	put_be32(bhs + 24, s->cmd_sn++);
	memcpy(bhs + 32, cdb, 16);
	return send_pdu(s, bhs, NULL, 0);
}

/* A TEST UNIT READY: its SCSI status, and the ASC/ASCQ of any sense. */
static int tur(struct session *s, uint16_t *asc_ascq)
{
	static const uint8_t cdb[16] = { 0 };
	*asc_ascq = 0;
	if (send_cdb(s, 0, cdb, false) != 0 || recv_pdu(s) != OP_SCSI_RSP)
		return -1;
	if (s->data_len >= 2 + 14)
		*asc_ascq = (uint16_t)(s->data[2 + 12] << 8 | s->data[2 + 13]);
	return s->bhs[3];
}

/* A TMF request (immediate, with CmdSN cmd_sn_ahead past the next one);
 * the Response field of its answer, or -1. */
static int tmf_at(struct session *s, uint8_t function, uint64_t lun, uint32_t ref_itt,
		  uint32_t ref_cmd_sn, uint32_t cmd_sn_ahead)
{
	uint8_t bhs[BHS_LEN] = { OP_TMF_REQ | 0x40, 0x80 | function };
	pdu_put_lun(bhs, lun);
	put_be32(bhs + 16, ++s->itt);
	put_be32(bhs + 20, ref_itt);
	put_be32(bhs + 24, s->cmd_sn + cmd_sn_ahead);
	put_be32(bhs + 32, ref_cmd_sn);
	if (send_pdu(s, bhs, NULL, 0) != 0 || recv_pdu(s) != OP_TMF_RSP)
		return -1;
	return get_be32(s->bhs + 16) == s->itt ? s->bhs[2] : -1;
}

static int tmf(struct session *s, uint8_t function, uint64_t lun, uint32_t ref_itt,
	       uint32_t ref_cmd_sn)
{
	return tmf_at(s, function, lun, ref_itt, ref_cmd_sn, 0);
}

/* A WRITE(10) of one block left waiting for its data after the R2T; its ITT. */
static uint32_t write_waiting_for_data(struct session *s)
{
	static const uint8_t cdb[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
	if (send_cdb(s, 0, cdb, true) != 0 || recv_pdu(s) != OP_R2T)
		return 0;
	return s->itt;
}

static int send_data_out(struct session *s, uint32_t itt)
{
	static const uint8_t block[512];
	uint8_t bhs[BHS_LEN] = { OP_DATA_OUT, 0x80 };
	put_be32(bhs + 16, itt);
	put_be32(bhs + 20, get_be32(s->bhs + 20)); /* TTT of the R2T */
	return send_pdu(s, bhs, block, sizeof(block));
}

static void test_abort_task(void)
{
	struct session s;
	uint16_t asc;
	REQUIRE(session_open(&s) == 0);
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_CHECK_CONDITION); /* power on */
	CHECK_EQ(asc, 0x2900);
	uint32_t itt = write_waiting_for_data(&s);
	REQUIRE(itt != 0);
	uint8_t r2t[BHS_LEN];
	memcpy(r2t, s.bhs, BHS_LEN);
	CHECK_EQ(tmf(&s, 1, 0, itt, s.cmd_sn - 1), 0); /* ABORT TASK: complete */
	memcpy(s.bhs, r2t, BHS_LEN);
	REQUIRE(send_data_out(&s, itt) == 0); /* data for the aborted task */
	CHECK_EQ(recv_pdu(&s), OP_REJECT);
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_GOOD); /* the session goes on */
	/* a task already done, or never sent: does not exist; one sent before
	 * the TMF but lost on the way: complete */
	CHECK_EQ(tmf(&s, 1, 0, s.itt, s.cmd_sn - 1), 1);
	CHECK_EQ(tmf(&s, 1, 0, 0x7777, s.cmd_sn), 1);
	CHECK_EQ(tmf_at(&s, 1, 0, 0x7777, s.cmd_sn, 1), 0);
	REQUIRE(write_waiting_for_data(&s) != 0);
	CHECK_EQ(tmf(&s, 2, 0, 0, 0), 0); /* ABORT TASK SET */
	CHECK_EQ(tmf(&s, 2, 5, 0, 0), 2); /* on a LUN that is not there */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_GOOD); /* no unit attention for aborts */
	session_close(&s);
}

static void test_resets(void)
{
	struct session s;
	uint16_t asc;
	REQUIRE(session_open(&s) == 0);
	tur(&s, &asc);
	REQUIRE(write_waiting_for_data(&s) != 0);
	CHECK_EQ(tmf(&s, 4, 0, 0, 0), 0); /* CLEAR TASK SET */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_GOOD);
	REQUIRE(write_waiting_for_data(&s) != 0);
	CHECK_EQ(tmf(&s, 5, 0, 0, 0), 0); /* LOGICAL UNIT RESET */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(asc, 0x2903);
	CHECK_EQ(tmf(&s, 5, 9, 0, 0), 2);
	CHECK_EQ(tmf(&s, 6, 0, 0, 0), 0); /* TARGET WARM RESET */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(asc, 0x2900);
	CHECK_EQ(tmf(&s, 3, 0, 0, 0), 5);  /* CLEAR ACA: not supported */
	CHECK_EQ(tmf(&s, 8, 0, 0, 0), 4);  /* TASK REASSIGN: not at ERL 0 */
	CHECK_EQ(tmf(&s, 42, 0, 0, 0), 5); /* no such function */
	CHECK_EQ(tmf(&s, 7, 0, 0, 0), 0); /* TARGET COLD RESET */
	CHECK_EQ(recv_pdu(&s), -1);       /* then the connection closes */
	session_close(&s);
}

/* Nothing arrives from the target within ms. */
static bool silent_for(struct session *s, int ms)
{
	struct pollfd pfd = { s->fd, POLLIN, 0 };
	return poll(&pfd, 1, ms) == 0;
}

static const uint8_t tur_cdb[16] = { 0 };

static void test_held_commands_and_task_management(void)
{
	struct session s;
	uint16_t asc;
	REQUIRE(session_open(&s) == 0);
	tur(&s, &asc); /* power on */
	CHECK_EQ(iscsi_server_hold_volume(s.srv, NULL, s.vol, 1000), 0);
	CHECK_EQ(iscsi_server_hold_volume(s.srv, NULL, s.vol, 1000), -EBUSY);

	REQUIRE(send_cdb(&s, 0, tur_cdb, false) == 0);
	uint32_t held = s.itt;
	CHECK(silent_for(&s, 200));                    /* held: no answer */
	CHECK_EQ(tmf(&s, 1, 0, held, s.cmd_sn - 1), 0); /* ABORT TASK: its response only */
	CHECK_EQ(tmf(&s, 1, 0, held, s.cmd_sn - 1), 1); /* and it is gone */

	REQUIRE(send_cdb(&s, 0, tur_cdb, false) == 0);
	CHECK(silent_for(&s, 100));
	CHECK_EQ(tmf(&s, 5, 0, 0, 0), 0);              /* LOGICAL UNIT RESET */

	REQUIRE(send_cdb(&s, 0, tur_cdb, false) == 0); /* this one waits for the release */
	uint32_t last = s.itt;
	CHECK(silent_for(&s, 100));
	CHECK_EQ(iscsi_server_release_volume(s.srv, NULL, s.vol, NULL, 0), 0);
	CHECK_EQ(recv_pdu(&s), OP_SCSI_RSP);
	CHECK_EQ(get_be32(s.bhs + 16), last);
	CHECK_EQ(s.bhs[3], SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(s.data[2 + 12] << 8 | s.data[2 + 13], 0x2903); /* the reset's */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_GOOD);
	CHECK_EQ(iscsi_server_release_volume(s.srv, NULL, s.vol, NULL, 0), -ENOENT);
	session_close(&s);
}

static size_t session_count(struct iscsi_server *srv)
{
	size_t count = 0;
	iscsi_server_list_sessions(srv, NULL, 0, &count);
	return count;
}

/* The initiator hangs up with a command held: the connection goes (its
 * command ended), the release finds nothing to run, and the target serves
 * a new session. */
static void test_session_closed_with_held_command(void)
{
	struct session s;
	uint16_t asc;
	REQUIRE(session_open(&s) == 0);
	tur(&s, &asc);
	CHECK_EQ(iscsi_server_hold_volume(s.srv, NULL, s.vol, 1000), 0);
	REQUIRE(send_cdb(&s, 0, tur_cdb, false) == 0);
	CHECK(silent_for(&s, 100));
	close(s.fd);
	s.fd = -1;
	for (int i = 0; i < 200 && session_count(s.srv); i++)
		usleep(10000);
	CHECK_EQ(session_count(s.srv), 0);
	CHECK_EQ(iscsi_server_release_volume(s.srv, NULL, s.vol, NULL, 0), 0);

	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(iscsi_server_port(s.srv)) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(connect(s.fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	s.cmd_sn = 1;
	REQUIRE(login(&s) == 0);
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_CHECK_CONDITION); /* a new nexus: power on */
	CHECK_EQ(tur(&s, &asc), SCSI_STATUS_GOOD);
	session_close(&s);
}

static const struct harness_test tests[] = {
	{ "abort_task", test_abort_task },
	{ "resets", test_resets },
	{ "held_commands_and_task_management", test_held_commands_and_task_management },
	{ "session_closed_with_held_command", test_session_closed_with_held_command },
};
HARNESS_MAIN(tests)
