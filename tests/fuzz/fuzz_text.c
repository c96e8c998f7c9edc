/*
 * fuzz_text.c - libFuzzer target: iSCSI text keys (text.c) and the login
 * negotiation they feed (login.c), called directly so every input is text.
 *
 * Input: records of [BHS byte 1: T, C, CSG, NSG][length, 2 bytes BE][text].
 * Each record is a Login Request on one connection, or once the login
 * reached full feature phase, a Text Request (SendTargets).  Besides the
 * sanitizers, two properties are checked: text that parses encodes and
 * parses back to the same pairs, and every response we queue parses.
 */
#include "tests/fuzz/fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const uint8_t *text, uint32_t len)
{
	struct kvlist first = { 0 }, again = { 0 };
	uint8_t *encoded;
	uint32_t encoded_len;
	if (kv_parse(text, len, &first) == 0) {
		if (kv_encode(&first, &encoded, &encoded_len) != 0 ||
		    kv_parse(encoded, encoded_len, &again) != 0 || again.n != first.n)
			abort();
		for (size_t i = 0; i < first.n; i++)
			if (strcmp(first.items[i].key, again.items[i].key) != 0 ||
			    strcmp(first.items[i].value, again.items[i].value) != 0)
				abort();
		free(encoded);
	}
	kv_free(&first);
	kv_free(&again);
}

/* Every queued Login or Text Response carries well-formed text. */
static void check_responses(const struct conn *c)
{
	for (const struct txpdu *t = c->tx_head; t; t = t->next) {
		struct kvlist l = { 0 };
		uint8_t op = pdu_opcode(t->bhs);
		if ((op == OP_LOGIN_RSP || op == OP_TEXT_RSP) && kv_parse(t->data, t->data_len, &l))
			abort();
		kv_free(&l);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_server *srv = fuzz_server();
	int peer_fd;
	struct conn *c = fuzz_conn_open(srv, &peer_fd);
	uint32_t cmd_sn = 1;
	while (size >= 3 && !c->dead) {
		uint32_t len = (uint32_t)data[1] << 8 | data[2];
		if (len > size - 3)
			len = (uint32_t)(size - 3);
		/* An exact copy, so that reading past the text is caught. */
		struct pdu pdu = { .data = malloc(len ? len : 1), .data_len = len };
		memcpy(pdu.data, data + 3, len);
		bool full = c->phase == PHASE_FULL;
		pdu.bhs[0] = full ? OP_TEXT_REQ : 0x40 | OP_LOGIN_REQ;
		pdu.bhs[1] = full ? 0x80 : data[0];
		put_be32(pdu.bhs + 4, len); /* TotalAHSLength 0, DataSegmentLength */
		pdu.bhs[8] = 0x40;          /* ISID: random qualifier type */
		put_be32(pdu.bhs + 16, cmd_sn);  /* ITT */
		put_be32(pdu.bhs + 20, 0xffffffffu);
		put_be32(pdu.bhs + 24, cmd_sn++);
		check_round_trip(pdu.data, len);
		if (full)
			text_handle(c, &pdu);
		else
			login_handle(c, &pdu);
		check_responses(c);
		free(pdu.data);
		data += 3 + len;
		size -= 3 + len;
	}
	fuzz_conn_close(srv, peer_fd);
	return 0;
}
