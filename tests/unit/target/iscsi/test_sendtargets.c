/*
 * test_sendtargets.c - the SendTargets answer (login.c) of a discovery
 * session, built without a socket: one TargetAddress per portal, a wildcard
 * portal (0.0.0.0, ::) advertised by the address the initiator reached
 * rather than by the wildcard it cannot connect to, and targets whose ACL
 * leaves the initiator out not listed.
 */
#include "target/iscsi/internal.h"
#include "tests/harness.h"

#define INITIATOR "iqn.2026-11.dev.slate:host-a"

struct session {
	struct iscsi_server srv;
	struct conn c;
	struct target_entry entries[MAX_TARGETS]; /* srv.targets points here */
};

static void session_init(struct session *s, const char *local)
{
	memset(s, 0, sizeof(*s));
	s->c.srv = &s->srv;
	s->c.fd = -1;
	s->c.phase = PHASE_FULL;
	s->c.discovery = true;
	atomic_init(&s->c.window, ISCSI_DEFAULT_WINDOW);
	snprintf(s->c.initiator, sizeof(s->c.initiator), "%s", INITIATOR);
	snprintf(s->c.local, sizeof(s->c.local), "%s", local);
}

static void add_portal(struct session *s, const char *address, uint16_t port)
{
	struct portal *p = &s->srv.portals[s->srv.nportals++];
	snprintf(p->address, sizeof(p->address), "%s", address);
	p->port = port;
	p->fd = -1;
}

static void add_target(struct session *s, const char *iqn, char (*acl)[ISCSI_NAME_MAX + 1],
		       unsigned nacl)
{
	struct target_entry *t = &s->entries[s->srv.ntargets];
	s->srv.targets[s->srv.ntargets++] = t;
	snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
	t->access.acl = acl;
	t->access.nacl = nacl;
}

/* Send "SendTargets=All" and flatten the answer's NUL-separated pairs into
 * one line separated by '|'; the answer is freed. */
static void send_targets(struct session *s, char *out, size_t cap)
{
	static const char text[] = "SendTargets=All";
	struct pdu pdu = { .data = (uint8_t *)text, .data_len = sizeof(text) };
	pdu.bhs[0] = OP_TEXT_REQ | 0x40; /* immediate */
	pdu.bhs[1] = 0x80;
	out[0] = 0;
	text_handle(&s->c, &pdu);
	struct txpdu *t = s->c.tx_head;
	if (!t)
		return;
	size_t n = t->data_len < cap - 1 ? t->data_len : cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = t->data[i] ? (char)t->data[i] : '|';
	out[n] = 0;
	free(t->own_data);
	free(t);
	s->c.tx_head = s->c.tx_tail = NULL;
}

static void test_portals_and_wildcards(void)
{
	static struct session s;
	char answer[1024];
	session_init(&s, "192.0.2.7");
	add_portal(&s, "127.0.0.1", 3260);
	add_portal(&s, "0.0.0.0", 3261);
	add_portal(&s, "::", 3262);
	add_portal(&s, "fd00::5", 3263);
	add_target(&s, "iqn.2026-11.dev.slate:one", NULL, 0);
	send_targets(&s, answer, sizeof(answer));
	CHECK(strcmp(answer, "TargetName=iqn.2026-11.dev.slate:one|"
			     "TargetAddress=127.0.0.1:3260,1|"
			     "TargetAddress=192.0.2.7:3261,1|"
			     "TargetAddress=192.0.2.7:3262,1|"
			     "TargetAddress=[fd00::5]:3263,1|") == 0);
	/* reached over IPv6: the wildcard is advertised in brackets */
	session_init(&s, "fd00::9");
	add_portal(&s, "::", 3260);
	add_target(&s, "iqn.2026-11.dev.slate:one", NULL, 0);
	send_targets(&s, answer, sizeof(answer));
	CHECK(strcmp(answer, "TargetName=iqn.2026-11.dev.slate:one|"
			     "TargetAddress=[fd00::9]:3260,1|") == 0);
}

static void test_acl_hides_targets(void)
{
	static struct session s;
	static char only_b[1][ISCSI_NAME_MAX + 1] = { "iqn.2026-11.dev.slate:host-b" };
	static char with_a[2][ISCSI_NAME_MAX + 1] = { "iqn.2026-11.dev.slate:host-b", INITIATOR };
	char answer[1024];
	session_init(&s, "127.0.0.1");
	add_portal(&s, "127.0.0.1", 3260);
	add_target(&s, "iqn.2026-11.dev.slate:hidden", only_b, 1);
	add_target(&s, "iqn.2026-11.dev.slate:shared", with_a, 2);
	add_target(&s, "iqn.2026-11.dev.slate:open", NULL, 0);
	send_targets(&s, answer, sizeof(answer));
	CHECK(strstr(answer, ":hidden") == NULL);
	CHECK(strstr(answer, "TargetName=iqn.2026-11.dev.slate:shared|") != NULL);
	CHECK(strstr(answer, "TargetName=iqn.2026-11.dev.slate:open|") != NULL);
}

static const struct harness_test tests[] = {
	{ "portals_and_wildcards", test_portals_and_wildcards },
	{ "acl_hides_targets", test_acl_hides_targets },
};

HARNESS_MAIN(tests)
