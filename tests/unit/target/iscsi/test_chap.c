/*
 * test_chap.c - the security stage (target/iscsi/chap.c) driven key by key:
 * method choice, the challenge, responses in hex and base64, mutual CHAP,
 * and every way to fail (wrong user, wrong response, bad encodings, a
 * reflected challenge, mutual CHAP the target has no secret for).
 */
#include <openssl/evp.h>

#include "target/iscsi/internal.h"
#include "tests/harness.h"

static const struct access chap_access = {
	.auth = { .chap = { "alice", "alice-secret-1" }, .mutual = { "array", "array-secret-1" } },
};

/* One round: keys "K=V\0K=V\0" in, the response list out; returns status. */
static uint16_t round_trip(struct conn *c, const struct access *a, const char *text, size_t len,
			   struct kvlist *resp)
{
	struct kvlist keys = { 0 };
	kv_free(resp);
	memset(resp, 0, sizeof(*resp));
	if (kv_parse((const uint8_t *)text, (uint32_t)len, &keys)) {
		kv_free(&keys); /* what was parsed before the bad pair */
		return 0xffff;
	}
	uint16_t status = chap_negotiate(c, a, &keys, resp);
	kv_free(&keys);
	return status;
}
#define ROUND(c, a, lit, resp) round_trip(c, a, lit, sizeof(lit) - 1, resp)

static void md5_response(uint8_t id, const char *secret, const uint8_t *challenge, size_t n,
			 uint8_t *out)
{
	unsigned len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, &id, 1);
	EVP_DigestUpdate(ctx, secret, strlen(secret));
	EVP_DigestUpdate(ctx, challenge, n);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	out += sprintf(out, "0x");
	for (size_t i = 0; i < n; i++)
		out += sprintf(out, "%02X", p[i]); /* upper case is valid too */
}

/* Start an exchange up to the challenge; fills id and challenge. */
static bool challenged(struct conn *c, struct kvlist *resp, uint8_t *id, uint8_t *challenge)
{
	if (ROUND(c, &chap_access, "AuthMethod=None,CHAP\0", resp) ||
	    strcmp(kv_get(resp, "AuthMethod"), "CHAP") != 0 ||
	    ROUND(c, &chap_access, "CHAP_A=7,5\0", resp) || strcmp(kv_get(resp, "CHAP_A"), "5"))
		return false;
	const char *c_text = kv_get(resp, "CHAP_C");
	*id = (uint8_t)atoi(kv_get(resp, "CHAP_I"));
	if (!c_text || strlen(c_text) != 34)
		return false;
	for (int i = 0; i < 16; i++)
		sscanf(c_text + 2 + 2 * i, "%2hhx", &challenge[i]);
	return true;
}

static uint16_t respond(struct conn *c, const char *user, const char *value, struct kvlist *resp)
{
	char text[512];
	int n = snprintf(text, sizeof(text), "CHAP_N=%s%cCHAP_R=%s%c", user, 0, value, 0);
	return round_trip(c, &chap_access, text, (size_t)n, resp);
}

static void test_one_way_hex_and_base64(void)
{
	for (int base64 = 0; base64 < 2; base64++) {
		struct conn c = { 0 };
		struct kvlist resp = { 0 };
		uint8_t id, challenge[16], md5[16];
		char value[64];
		REQUIRE(challenged(&c, &resp, &id, challenge));
		md5_response(id, "alice-secret-1", challenge, 16, md5);
		if (base64) {
			strcpy(value, "0b");
			EVP_EncodeBlock((unsigned char *)value + 2, md5, 16);
		} else {
			hex(md5, 16, value);
		}
		CHECK_EQ(respond(&c, "alice", value, &resp), 0);
		CHECK(c.authenticated);
		CHECK(kv_get(&resp, "CHAP_N") == NULL); /* no mutual asked */
		kv_free(&resp);
		chap_free(&c);
	}
}

static void test_mutual(void)
{
	struct conn c = { 0 };
	struct kvlist resp = { 0 };
	uint8_t id, challenge[16], md5[16], mine[16] = { 9, 8, 7 }, want[16], got[16];
	char value[64], mine_hex[64], text[512];
	REQUIRE(challenged(&c, &resp, &id, challenge));
	md5_response(id, "alice-secret-1", challenge, 16, md5);
	hex(md5, 16, value);
	hex(mine, 16, mine_hex);
	int n = snprintf(text, sizeof(text), "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=77%cCHAP_C=%s%c",
			 0, value, 0, 0, mine_hex, 0);
	CHECK_EQ(round_trip(&c, &chap_access, text, (size_t)n, &resp), 0);
	CHECK(c.authenticated);
	REQUIRE(kv_get(&resp, "CHAP_N") && kv_get(&resp, "CHAP_R"));
	CHECK(strcmp(kv_get(&resp, "CHAP_N"), "array") == 0);
	md5_response(77, "array-secret-1", mine, 16, want);
	for (int i = 0; i < 16; i++)
		sscanf(kv_get(&resp, "CHAP_R") + 2 + 2 * i, "%2hhx", &got[i]);
	CHECK(memcmp(got, want, 16) == 0);
	kv_free(&resp);
	chap_free(&c);
}

/* Mutual CHAP with the largest challenge RFC 7143 allows (1024 bytes),
 * in hex and in base64; one byte more is refused. */
static uint16_t mutual_with(const char *challenge_text, const uint8_t *challenge, size_t n,
			    bool *answered_right)
{
	static char text[4096];
	struct conn c = { 0 };
	struct kvlist resp = { 0 };
	uint8_t id, ours[16], md5[16], want[16], got[16];
	char value[64];
	*answered_right = false;
	if (!challenged(&c, &resp, &id, ours))
		return 0xfffe;
	md5_response(id, "alice-secret-1", ours, 16, md5);
	hex(md5, 16, value);
	int len = snprintf(text, sizeof(text), "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=200%cCHAP_C=%s%c",
			   0, value, 0, 0, challenge_text, 0);
	uint16_t status = round_trip(&c, &chap_access, text, (size_t)len, &resp);
	const char *r = kv_get(&resp, "CHAP_R");
	if (!status && r && strlen(r) == 34) {
		md5_response(200, "array-secret-1", challenge, n, want);
		for (int i = 0; i < 16; i++)
			sscanf(r + 2 + 2 * i, "%2hhx", &got[i]);
		*answered_right = memcmp(got, want, 16) == 0;
	}
	kv_free(&resp);
	chap_free(&c);
	return status;
}

static void test_mutual_large_challenge(void)
{
	static uint8_t challenge[1025];
	static char text[2 * 1025 + 3];
	bool right;
	for (size_t i = 0; i < sizeof(challenge); i++)
		challenge[i] = (uint8_t)(i * 7 + 1);
	hex(challenge, 1024, text);
	CHECK_EQ(mutual_with(text, challenge, 1024, &right), 0);
	CHECK(right);
	strcpy(text, "0b");
	EVP_EncodeBlock((unsigned char *)text + 2, challenge, 1024);
	CHECK_EQ(mutual_with(text, challenge, 1024, &right), 0);
	CHECK(right);
	hex(challenge, 1025, text);
	CHECK(mutual_with(text, challenge, 1025, &right) != 0);
	CHECK(!right);
}

static void test_failures(void)
{
	struct conn c = { 0 };
	struct kvlist resp = { 0 };
	uint8_t id, challenge[16], md5[16];
	char value[64], reflected[80];
	const struct access no_mutual = { .auth = { .chap = { "alice", "alice-secret-1" } } };

	REQUIRE(challenged(&c, &resp, &id, challenge));
	md5_response(id, "alice-secret-1", challenge, 16, md5);
	hex(md5, 16, value);
	CHECK_EQ(respond(&c, "bob", value, &resp), 0x0201);          /* wrong user */
	REQUIRE(challenged(&c, &resp, &id, challenge));
	md5_response(id, "alice-secret-2", challenge, 16, md5);
	hex(md5, 16, value);
	CHECK_EQ(respond(&c, "alice", value, &resp), 0x0201);        /* wrong secret */
	REQUIRE(challenged(&c, &resp, &id, challenge));
	CHECK_EQ(respond(&c, "alice", "0xZZ", &resp), 0x0201);       /* not hex */
	REQUIRE(challenged(&c, &resp, &id, challenge));
	CHECK_EQ(respond(&c, "alice", "0b@@@@", &resp), 0x0201);     /* not base64 */
	REQUIRE(challenged(&c, &resp, &id, challenge));
	CHECK_EQ(respond(&c, "alice", "1234", &resp), 0x0201);       /* no prefix */
	/* the initiator hands our own challenge back for us to answer */
	REQUIRE(challenged(&c, &resp, &id, challenge));
	md5_response(id, "alice-secret-1", challenge, 16, md5);
	hex(md5, 16, value);
	hex(challenge, 16, reflected);
	char text[512];
	int n = snprintf(text, sizeof(text), "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=1%cCHAP_C=%s%c", 0,
			 value, 0, 0, reflected, 0);
	CHECK_EQ(round_trip(&c, &chap_access, text, (size_t)n, &resp), 0x0201);
	CHECK(!c.authenticated);
	/* mutual CHAP asked of a target with no mutual secret */
	c.chap = NULL;
	CHECK_EQ(ROUND(&c, &no_mutual, "AuthMethod=CHAP\0", &resp), 0);
	CHECK_EQ(ROUND(&c, &no_mutual, "CHAP_A=5\0", &resp), 0);
	id = (uint8_t)atoi(kv_get(&resp, "CHAP_I"));
	for (int i = 0; i < 16; i++)
		sscanf(kv_get(&resp, "CHAP_C") + 2 + 2 * i, "%2hhx", &challenge[i]);
	md5_response(id, "alice-secret-1", challenge, 16, md5);
	hex(md5, 16, value);
	n = snprintf(text, sizeof(text), "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=3%cCHAP_C=0x0102%c", 0,
		     value, 0, 0, 0);
	CHECK_EQ(round_trip(&c, &no_mutual, text, (size_t)n, &resp), 0x0201);
	/* out of order, and an algorithm we do not have */
	CHECK_EQ(ROUND(&c, &chap_access, "CHAP_A=5\0", &resp), 0x0200);
	CHECK_EQ(ROUND(&c, &chap_access, "AuthMethod=CHAP\0", &resp), 0);
	CHECK_EQ(ROUND(&c, &chap_access, "CHAP_A=7\0", &resp), 0x0201);
	CHECK(strcmp(kv_get(&resp, "CHAP_A"), "Reject") == 0);
	/* CHAP required but only None offered; None when nothing is required */
	CHECK_EQ(ROUND(&c, &chap_access, "AuthMethod=None\0", &resp), 0x0201);
	struct access open = { 0 };
	CHECK_EQ(ROUND(&c, &open, "AuthMethod=CHAP,None\0", &resp), 0);
	CHECK(strcmp(kv_get(&resp, "AuthMethod"), "None") == 0 && c.authenticated);
	kv_free(&resp);
	chap_free(&c);
}

static void test_acl(void)
{
	char acl[2][ISCSI_NAME_MAX + 1] = { "iqn.2026-11.dev.slate:a", "iqn.2026-11.dev.slate:b" };
	struct access a = { .nacl = 2, .acl = acl };
	CHECK(access_allows(&a, "iqn.2026-11.dev.slate:b"));
	CHECK(!access_allows(&a, "iqn.2026-11.dev.slate:c"));
	CHECK(access_allows(&a, "IQN.2026-11.Dev.Slate:A")); /* names ignore case */
	a.nacl = 0;
	CHECK(access_allows(&a, "iqn.2026-11.dev.slate:c"));
}

static const struct harness_test tests[] = {
	{ "one_way_hex_and_base64", test_one_way_hex_and_base64 },
	{ "mutual", test_mutual },
	{ "mutual_large_challenge", test_mutual_large_challenge },
	{ "failures", test_failures },
	{ "acl", test_acl },
};

HARNESS_MAIN(tests)
