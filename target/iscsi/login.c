/*
 * login.c - login negotiation (RFC 7143 6.3, 7, 13), discovery through
 * SendTargets (Text PDUs, 11.10) and logout (11.14).
 *
 * Stages: security (CSG 0, AuthMethod and CHAP: chap.c), operational (CSG
 * 1), full feature (NSG 3).  Each offered key is answered with the result
 * of its negotiation function (min, max, AND, OR) against our values;
 * digests (CRC32C or None, the initiator's preference first) start with the
 * first PDU after the final login response;
 * unknown keys get NotUnderstood.  A failed login answers a status class
 * and detail (11.13.5) and closes the connection after the response.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target/iscsi/internal.h"

#define OUR_MAX_BURST (1u << 20)
#define OUR_FIRST_BURST (256u << 10)

/* Login status (11.13.5) */
#define ST_SUCCESS 0x0000
#define ST_INITIATOR_ERROR 0x0200
#define ST_AUTH_FAILED 0x0201
#define ST_AUTHORIZATION_FAILED 0x0202
#define ST_NOT_FOUND 0x0203
#define ST_UNSUPPORTED_VERSION 0x0205
#define ST_MISSING_PARAMETER 0x0207
#define ST_SESSION_NOT_FOUND 0x020a
#define ST_INVALID_REQUEST 0x020b
#define ST_OUT_OF_RESOURCES 0x0302

static void default_params(struct params *p)
{
	p->max_send_dsl = 8192;
	p->max_burst = 262144;
	p->first_burst = 65536;
	p->initial_r2t = true;
	p->immediate_data = true;
	p->max_outstanding_r2t = 1;
	p->header_digest = false;
	p->data_digest = false;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "Yes") == 0 || strcmp(s, "No") == 0) {
		*out = s[0] == 'Y';
		return true;
	}
	return false;
}

/* The first digest of the initiator's list that we do (13.1): its order
 * is its preference. */
static const char *choose_digest(const char *offer)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", offer);
	for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "CRC32C") == 0)
			return "CRC32C";
		if (strcmp(tok, "None") == 0)
			return "None";
	}
	return "Reject";
}

struct negotiation {
	struct conn *c;
	struct kvlist *resp;
	uint16_t status;
};

static void answer_u32(struct negotiation *n, const char *key, uint32_t v)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%u", v);
	kv_add(n->resp, key, buf);
}

/* One operational key (13.x).  Returns false when the value is invalid. */
static bool negotiate_key(struct negotiation *n, const char *key, const char *value)
{
	struct params *p = &n->c->p;
	uint32_t u;
	bool b;
	if (!strcmp(key, "HeaderDigest") || !strcmp(key, "DataDigest")) {
		const char *choice = choose_digest(value);
		bool crc = strcmp(choice, "CRC32C") == 0;
		if (key[0] == 'H')
			p->header_digest = crc;
		else
			p->data_digest = crc;
		kv_add(n->resp, key, choice);
	} else if (!strcmp(key, "MaxRecvDataSegmentLength")) { /* declarative */
		if (!parse_u32(value, 512, (1u << 24) - 1, &p->max_send_dsl))
			return false;
		answer_u32(n, key, OUR_MAX_RECV_DSL);
	} else if (!strcmp(key, "MaxBurstLength")) {
		if (!parse_u32(value, 512, (1u << 24) - 1, &u))
			return false;
		p->max_burst = u < OUR_MAX_BURST ? u : OUR_MAX_BURST;
		answer_u32(n, key, p->max_burst);
	} else if (!strcmp(key, "FirstBurstLength")) {
		if (!parse_u32(value, 512, (1u << 24) - 1, &u))
			return false;
		p->first_burst = u < OUR_FIRST_BURST ? u : OUR_FIRST_BURST;
		answer_u32(n, key, p->first_burst);
	} else if (!strcmp(key, "InitialR2T")) { /* OR with our No */
		if (!parse_bool(value, &b))
			return false;
		p->initial_r2t = b;
		kv_add(n->resp, key, b ? "Yes" : "No");
	} else if (!strcmp(key, "ImmediateData")) { /* AND with our Yes */
		if (!parse_bool(value, &b))
			return false;
		p->immediate_data = b;
		kv_add(n->resp, key, b ? "Yes" : "No");
	} else if (!strcmp(key, "DataPDUInOrder") || !strcmp(key, "DataSequenceInOrder")) {
		if (!parse_bool(value, &b))
			return false;
		kv_add(n->resp, key, "Yes"); /* OR with our Yes */
	} else if (!strcmp(key, "MaxOutstandingR2T") || !strcmp(key, "MaxConnections")) {
		if (!parse_u32(value, 1, 65535, &u))
			return false;
		answer_u32(n, key, 1); /* min with our 1 */
	} else if (!strcmp(key, "ErrorRecoveryLevel")) {
		if (!parse_u32(value, 0, 2, &u))
			return false;
		answer_u32(n, key, 0);
	} else if (!strcmp(key, "DefaultTime2Wait")) {
		if (!parse_u32(value, 0, 3600, &u))
			return false;
		answer_u32(n, key, u > 2 ? u : 2); /* max */
	} else if (!strcmp(key, "DefaultTime2Retain")) {
		if (!parse_u32(value, 0, 3600, &u))
			return false;
		answer_u32(n, key, 0); /* min with our 0 (ERL 0) */
	} else if (!strcmp(key, "IFMarker") || !strcmp(key, "OFMarker")) {
		kv_add(n->resp, key, "No");
	} else {
		kv_add(n->resp, key, "NotUnderstood");
	}
	return true;
}

/* Keys of the first login PDU that say who is logging in to what. */
static void identify(struct negotiation *n, const struct kvlist *keys)
{
	struct conn *c = n->c;
	const char *initiator = kv_get(keys, "InitiatorName");
	const char *type = kv_get(keys, "SessionType");
	const char *target = kv_get(keys, "TargetName");
	if (!initiator || strlen(initiator) > ISCSI_NAME_MAX) {
		n->status = ST_MISSING_PARAMETER;
		return;
	}
	snprintf(c->initiator, sizeof(c->initiator), "%s", initiator);
	c->discovery = type && strcmp(type, "Discovery") == 0;
	if (type && !c->discovery && strcmp(type, "Normal") != 0) {
		n->status = ST_INVALID_REQUEST;
		return;
	}
	if (c->discovery)
		return;
	if (!target) {
		n->status = ST_MISSING_PARAMETER;
		return;
	}
	c->target = server_find_target(c->srv, target);
	if (!c->target) {
		n->status = ST_NOT_FOUND;
		return;
	}
	server_target_hold(c->target); /* until conn_release */
	if (!access_allows(&c->target->access, c->initiator)) {
		n->status = ST_AUTHORIZATION_FAILED;
		return;
	}
	kv_add(n->resp, "TargetPortalGroupTag", "1");
}

static bool is_identity_key(const char *key)
{
	return !strcmp(key, "InitiatorName") || !strcmp(key, "SessionType") ||
	       !strcmp(key, "TargetName") || !strcmp(key, "InitiatorAlias") ||
	       !strcmp(key, "TargetAlias");
}

static const struct access *session_access(const struct conn *c)
{
	return c->discovery ? &c->srv->discovery : &c->target->access;
}

/* Leaving the security stage (or skipping it) needs CHAP done when the
 * target or discovery requires it. */
static bool may_leave_security(struct conn *c)
{
	if (!session_access(c)->auth.chap.user[0])
		c->authenticated = true;
	return c->authenticated;
}

static void negotiate(struct negotiation *n, const struct kvlist *keys, int csg)
{
	if (csg == 0)
		n->status = chap_negotiate(n->c, session_access(n->c), keys, n->resp);
	for (size_t i = 0; i < keys->n && n->status == ST_SUCCESS; i++) {
		const char *key = keys->items[i].key, *value = keys->items[i].value;
		if (is_identity_key(key) || !strcmp(key, "AuthMethod") ||
		    !strncmp(key, "CHAP_", 5)) {
			if (csg != 0 && !is_identity_key(key))
				n->status = ST_INITIATOR_ERROR; /* security keys after security */
			continue;
		}
		if (!negotiate_key(n, key, value))
			n->status = ST_INITIATOR_ERROR;
	}
}

static void send_login_response(struct conn *c, const uint8_t *req, struct kvlist *resp,
				uint16_t status, uint8_t flags)
{
	struct txpdu *t = txpdu_new(OP_LOGIN_RSP, flags);
	if (!t) {
		conn_fail(c, "out of memory");
		return;
	}
	memcpy(t->bhs + 8, c->isid, 6);
	t->bhs[14] = (uint8_t)(c->tsih >> 8);
	t->bhs[15] = (uint8_t)c->tsih;
	memcpy(t->bhs + 16, req + 16, 4); /* ITT */
	t->bhs[36] = (uint8_t)(status >> 8);
	t->bhs[37] = (uint8_t)status;
	if (status == ST_SUCCESS && resp->n &&
	    kv_encode(resp, &t->own_data, &t->data_len) == 0)
		t->data = t->own_data;
	conn_stamp(c, t->bhs, true);
	t->close_after = status != ST_SUCCESS;
	t->close_reason = "login refused";
	if (status != ST_SUCCESS)
		c->phase = PHASE_LOGGED_OUT;
	conn_queue(c, t);
}

static void enter_full_feature(struct conn *c)
{
	c->phase = PHASE_FULL;
	if (++c->srv->next_tsih == 0) /* TSIH 0 means "new session" */
		++c->srv->next_tsih;
	c->tsih = c->srv->next_tsih;
	c->nexus_id = ++c->srv->next_nexus;
	if (c->target) {
		/* SPC-4 7.6.4.6: reservations know the initiator port by this name */
		char port[SCSI_PORT_NAME_MAX];
		snprintf(port, sizeof(port), "%s,i,0x%02x%02x%02x%02x%02x%02x", c->initiator,
			 c->isid[0], c->isid[1], c->isid[2], c->isid[3], c->isid[4], c->isid[5]);
		scsi_nexus_add(c->target->scsi, c->nexus_id, port);
	}
	session_begin(c);
	fprintf(stderr, "iscsi: %s (%s) logged in to %s, header digest %s, data digest %s\n",
		c->initiator, c->peer, c->discovery ? "discovery" : c->target->iqn,
		c->p.header_digest ? "CRC32C" : "None", c->p.data_digest ? "CRC32C" : "None");
}

void login_handle(struct conn *c, const struct pdu *pdu)
{
	const uint8_t *bhs = pdu->bhs;
	bool transit = bhs[1] & 0x80;
	int csg = (bhs[1] >> 2) & 3, nsg = bhs[1] & 3;
	bool first = c->initiator[0] == 0;
	struct kvlist keys = { 0 }, resp = { 0 };
	struct negotiation n = { c, &resp, ST_SUCCESS };

	if (c->phase != PHASE_LOGIN) {
		conn_reject(c, bhs, REJECT_PROTOCOL_ERROR);
		return;
	}
	if (first) {
		memcpy(c->isid, bhs + 8, 6);
		c->exp_cmd_sn = get_be32(bhs + 24);
		c->max_cmd_sn = c->exp_cmd_sn - 1; /* the first response opens the window */
		c->stat_sn = get_be32(bhs + 28);
		default_params(&c->p);
	}
	if (bhs[3] > 0x00) /* Version-min above the only version there is */
		n.status = ST_UNSUPPORTED_VERSION;
	else if ((bhs[14] || bhs[15]) && first)
		n.status = ST_SESSION_NOT_FOUND; /* adding connections: MaxConnections=1 */
	else if (csg == 2 || (transit && (nsg == 2 || nsg <= csg)) || csg < c->login_stage)
		n.status = ST_INVALID_REQUEST;
	else if (kv_parse(pdu->data, pdu->data_len, &keys) != 0)
		n.status = ST_INITIATOR_ERROR;
	if (n.status == ST_SUCCESS && first)
		identify(&n, &keys);
	if (n.status == ST_SUCCESS)
		negotiate(&n, &keys, csg);
	if (n.status == ST_SUCCESS && (csg > 0 || (transit && nsg > 0)) && !may_leave_security(c)) {
		if (csg == 0 && c->chap)
			transit = false; /* CHAP is still going: answer T=0 (6.3) */
		else
			n.status = ST_AUTH_FAILED;
	}
	uint8_t flags = (uint8_t)(csg << 2);
	if (n.status == ST_SUCCESS && transit) {
		flags |= (uint8_t)(0x80 | nsg);
		c->login_stage = nsg;
	}
	bool full_feature = n.status == ST_SUCCESS && transit && nsg == 3;
	if (full_feature)
		enter_full_feature(c);
	send_login_response(c, bhs, &resp, n.status, flags);
	c->digests_live = full_feature; /* from the PDU after this response on */
	kv_free(&keys);
	kv_free(&resp);
}

/* ---- Text: SendTargets ------------------------------------------------ */

/* What a portal is reached at: a wildcard portal (0.0.0.0 or ::) by the
 * address this initiator reached, since the wildcard itself is not one an
 * initiator can connect to. */
static const char *portal_address(const struct conn *c, const struct portal *portal)
{
	struct in_addr v4;
	struct in6_addr v6;
	bool wildcard = (inet_pton(AF_INET, portal->address, &v4) == 1 &&
			 v4.s_addr == htonl(INADDR_ANY)) ||
			(inet_pton(AF_INET6, portal->address, &v6) == 1 &&
			 IN6_IS_ADDR_UNSPECIFIED(&v6));
	return wildcard && c->local[0] ? c->local : portal->address;
}

/* "TargetName=iqn\0" and a TargetAddress per portal (SendTargets repeats
 * keys, which a kvlist cannot hold, so this writes the text itself). */
static size_t put_target(struct conn *c, const struct target_entry *t, char *p)
{
	size_t at = (size_t)sprintf(p, "TargetName=%s", t->iqn) + 1;
	for (unsigned i = 0; i < c->srv->nportals; i++) {
		const struct portal *portal = &c->srv->portals[i];
		const char *address = portal_address(c, portal);
		const char *fmt = strchr(address, ':') ? "TargetAddress=[%s]:%u,1"
						       : "TargetAddress=%s:%u,1";
		at += (size_t)sprintf(p + at, fmt, address, portal->port) + 1;
	}
	return at;
}

static int send_targets_text(struct conn *c, const char *which, uint8_t **data, uint32_t *len)
{
	size_t per_target = ISCSI_NAME_MAX + 16 + c->srv->nportals * 96, at = 0;
	char *p = malloc(1 + (size_t)c->srv->ntargets * per_target);
	if (!p)
		return -ENOMEM;
	for (int i = 0; i < c->srv->ntargets; i++) {
		const struct target_entry *t = c->srv->targets[i];
		if ((!c->discovery && t != c->target) || !access_allows(&t->access, c->initiator))
			continue;
		if (strcmp(which, "All") != 0 && which[0] && strcasecmp(which, t->iqn) != 0)
			continue;
		at += put_target(c, t, p + at);
	}
	*data = (uint8_t *)p;
	*len = (uint32_t)at;
	return 0;
}

void text_handle(struct conn *c, const struct pdu *pdu)
{
	struct kvlist keys = { 0 };
	const char *which;
	if (c->phase != PHASE_FULL || kv_parse(pdu->data, pdu->data_len, &keys) != 0) {
		kv_free(&keys);
		conn_reject(c, pdu->bhs, REJECT_PROTOCOL_ERROR);
		return;
	}
	cmd_sn_accept(c, pdu->bhs);
	struct txpdu *t = txpdu_new(OP_TEXT_RSP, 0x80);
	if (!t) {
		kv_free(&keys);
		conn_fail(c, "out of memory");
		return;
	}
	memcpy(t->bhs + 16, pdu->bhs + 16, 4);  /* ITT */
	put_be32(t->bhs + 20, 0xffffffffu);     /* TTT: no continuation */
	which = kv_get(&keys, "SendTargets");
	if (which && send_targets_text(c, which, &t->own_data, &t->data_len) == 0)
		t->data = t->own_data;
	conn_stamp(c, t->bhs, true);
	conn_queue(c, t);
	kv_free(&keys);
}

/* ---- Logout ----------------------------------------------------------- */

void logout_handle(struct conn *c, const struct pdu *pdu)
{
	if (c->phase != PHASE_FULL) {
		conn_reject(c, pdu->bhs, REJECT_PROTOCOL_ERROR);
		return;
	}
	cmd_sn_accept(c, pdu->bhs);
	struct txpdu *t = txpdu_new(OP_LOGOUT_RSP, 0x80);
	if (!t) {
		conn_fail(c, "out of memory");
		return;
	}
	memcpy(t->bhs + 16, pdu->bhs + 16, 4);
	t->bhs[2] = 0; /* connection or session closed successfully */
	conn_stamp(c, t->bhs, true);
	t->close_after = true;
	t->close_reason = "logged out";
	c->phase = PHASE_LOGGED_OUT;
	conn_queue(c, t);
}
