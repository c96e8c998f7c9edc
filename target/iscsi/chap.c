/*
 * chap.c - the security stage of login: AuthMethod, CHAP with MD5 (RFC
 * 1994, RFC 7143 12.1.3), one-way and mutual, and initiator ACLs.
 *
 * The exchange: the initiator offers AuthMethod (we pick CHAP when the
 * target or discovery requires it, else None); it sends CHAP_A, we answer
 * CHAP_A=5, CHAP_I and a fresh 16-byte CHAP_C; it sends CHAP_N and CHAP_R
 * = MD5(I | secret | C), and for mutual CHAP its own CHAP_I and CHAP_C,
 * which we answer with our CHAP_N and CHAP_R.  Responses are compared in
 * constant time; a challenge equal to ours (a reflection attack) is refused.
 * Binary values are "0x" hex or "0b" base64 (RFC 7143 6.1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "target/iscsi/internal.h"

#define ST_INITIATOR_ERROR 0x0200
#define ST_AUTH_FAILED 0x0201
#define CHALLENGE_LEN 16
#define MD5_LEN 16
#define BINARY_MAX 1024 /* RFC 7143 12.1.3: CHAP_C at most 1024 bytes */

enum chap_state { WAIT_ALGORITHM, WAIT_RESPONSE };

struct chap_exchange {
	enum chap_state state;
	uint8_t id;
	uint8_t challenge[CHALLENGE_LEN];
};

bool access_allows(const struct access *a, const char *initiator)
{
	if (!a->nacl)
		return true;
	for (unsigned i = 0; i < a->nacl; i++)
		if (!strcasecmp(a->acl[i], initiator)) /* names ignore case (RFC 3722) */
			return true;
	return false;
}

void chap_free(struct conn *c)
{
	free(c->chap);
	c->chap = NULL;
}

/* ---- values ----------------------------------------------------------- */

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A binary value (0x hex or 0b base64) into out; its length or -EINVAL. */
static int decode_binary(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n < 3 || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X') {
		size_t digits = n - 2, len = (digits + 1) / 2;
		if (len > cap)
			return -EINVAL;
		memset(out, 0, len);
		for (size_t i = 0; i < digits; i++) {
			int v = hex_value(s[2 + i]);
			if (v < 0)
				return -EINVAL;
			size_t nibble = i + (digits & 1); /* an odd count has a leading 0 nibble */
			out[nibble / 2] |= (uint8_t)(nibble & 1 ? v : v << 4);
		}
		return (int)len;
	}
	if (s[1] == 'b' || s[1] == 'B') {
		size_t chars = n - 2;
		uint8_t tmp[BINARY_MAX + 3];
		if (chars % 4 || chars / 4 * 3 > sizeof(tmp))
			return -EINVAL;
		int len = EVP_DecodeBlock(tmp, (const unsigned char *)s + 2, (int)chars);
		if (len < 0)
			return -EINVAL;
		len -= (s[n - 1] == '=') + (s[n - 2] == '='); /* DecodeBlock counts padding */
		if ((size_t)len > cap)
			return -EINVAL;
		memcpy(out, tmp, (size_t)len);
		return len;
	}
	return -EINVAL;
}

static void encode_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	*out++ = '0';
	*out++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 15];
	}
	*out = 0;
}

/* MD5(id | secret | challenge), RFC 1994 4.1. */
static bool chap_response(uint8_t id, const char *secret, const uint8_t *challenge,
			  size_t challenge_len, uint8_t *md5)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
		  EVP_DigestUpdate(ctx, &id, 1) &&
		  EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
		  EVP_DigestUpdate(ctx, challenge, challenge_len) &&
		  EVP_DigestFinal_ex(ctx, md5, &len) && len == MD5_LEN;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool list_has(const char *list, const char *item)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, item))
			return true;
	return false;
}

/* ---- the steps -------------------------------------------------------- */

static uint16_t choose_method(struct conn *c, const struct access *a, const char *offer,
			      struct kvlist *resp)
{
	bool required = a->auth.chap.user[0] != 0;
	const char *choice = required ? (list_has(offer, "CHAP") ? "CHAP" : "Reject")
				      : (list_has(offer, "None") ? "None" : "Reject");
	kv_add(resp, "AuthMethod", choice);
	if (!strcmp(choice, "Reject"))
		return ST_AUTH_FAILED;
	if (!required) {
		c->authenticated = true;
		return 0;
	}
	chap_free(c);
	if (!(c->chap = calloc(1, sizeof(*c->chap))))
		return ST_AUTH_FAILED;
	return 0;
}

static uint16_t send_challenge(struct conn *c, const char *algorithms, struct kvlist *resp)
{
	char text[2 * CHALLENGE_LEN + 3], id[8];
	if (!c->chap || c->chap->state != WAIT_ALGORITHM)
		return ST_INITIATOR_ERROR;
	if (!list_has(algorithms, "5")) {
		kv_add(resp, "CHAP_A", "Reject");
		return ST_AUTH_FAILED;
	}
	if (getrandom(&c->chap->id, 1, 0) != 1 ||
	    getrandom(c->chap->challenge, CHALLENGE_LEN, 0) != CHALLENGE_LEN)
		return ST_AUTH_FAILED;
	snprintf(id, sizeof(id), "%u", c->chap->id);
	encode_hex(c->chap->challenge, CHALLENGE_LEN, text);
	kv_add(resp, "CHAP_A", "5");
	kv_add(resp, "CHAP_I", id);
	kv_add(resp, "CHAP_C", text);
	c->chap->state = WAIT_RESPONSE;
	return 0;
}

/* The initiator asks us to prove ourselves: answer its challenge. */
static uint16_t answer_mutual(struct conn *c, const struct access *a, const char *id_text,
			      const char *challenge_text, struct kvlist *resp)
{
	uint8_t challenge[BINARY_MAX], md5[MD5_LEN];
	char text[2 * MD5_LEN + 3], *end;
	unsigned long id = strtoul(id_text, &end, 10);
	int len = decode_binary(challenge_text, challenge, sizeof(challenge));
	if (!a->auth.mutual.user[0] || !*id_text || *end || id > 255 || len <= 0)
		return ST_AUTH_FAILED;
	if ((size_t)len == CHALLENGE_LEN && !memcmp(challenge, c->chap->challenge, CHALLENGE_LEN))
		return ST_AUTH_FAILED; /* our own challenge reflected back */
	if (!chap_response((uint8_t)id, a->auth.mutual.secret, challenge, (size_t)len, md5))
		return ST_AUTH_FAILED;
	encode_hex(md5, MD5_LEN, text);
	kv_add(resp, "CHAP_N", a->auth.mutual.user);
	kv_add(resp, "CHAP_R", text);
	return 0;
}

static uint16_t check_response(struct conn *c, const struct access *a, const struct kvlist *keys,
			       struct kvlist *resp)
{
	const char *name = kv_get(keys, "CHAP_N"), *response = kv_get(keys, "CHAP_R");
	const char *mutual_id = kv_get(keys, "CHAP_I"), *mutual_c = kv_get(keys, "CHAP_C");
	uint8_t got[MD5_LEN], want[MD5_LEN];
	if (!c->chap || c->chap->state != WAIT_RESPONSE || !name || !response)
		return ST_INITIATOR_ERROR;
	bool ok = decode_binary(response, got, sizeof(got)) == MD5_LEN &&
		  chap_response(c->chap->id, a->auth.chap.secret, c->chap->challenge,
				CHALLENGE_LEN, want) &&
		  strcmp(name, a->auth.chap.user) == 0 && CRYPTO_memcmp(got, want, MD5_LEN) == 0;
	if (!ok)
		return ST_AUTH_FAILED;
	if ((mutual_id != NULL) != (mutual_c != NULL))
		return ST_INITIATOR_ERROR;
	uint16_t status = mutual_id ? answer_mutual(c, a, mutual_id, mutual_c, resp) : 0;
	if (!status)
		c->authenticated = true;
	chap_free(c);
	return status;
}

uint16_t chap_negotiate(struct conn *c, const struct access *a, const struct kvlist *keys,
			struct kvlist *resp)
{
	const char *method = kv_get(keys, "AuthMethod"), *algorithms = kv_get(keys, "CHAP_A");
	uint16_t status = 0;
	if (method)
		status = choose_method(c, a, method, resp);
	if (!status && algorithms)
		status = send_challenge(c, algorithms, resp);
	if (!status && (kv_get(keys, "CHAP_N") || kv_get(keys, "CHAP_R")))
		status = check_response(c, a, keys, resp);
	return status;
}
