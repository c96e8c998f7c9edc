/*
 * test_text.c - iSCSI text keys (target/iscsi/text.c) and BHS checks
 * (pdu.c): well-formed and hostile inputs.
 */
#include <errno.h>

#include "target/iscsi/internal.h"
#include "tests/harness.h"

static void test_parse_and_encode(void)
{
	static const uint8_t text[] = "InitiatorName=iqn.a:b\0SessionType=Normal\0\0";
	struct kvlist l = { 0 };
	uint8_t *out;
	uint32_t len;
	REQUIRE(kv_parse(text, sizeof(text) - 1, &l) == 0);
	CHECK_EQ(l.n, 2);
	CHECK(kv_get(&l, "SessionType") && strcmp(kv_get(&l, "SessionType"), "Normal") == 0);
	CHECK(kv_get(&l, "TargetName") == NULL);
	CHECK_EQ(kv_add(&l, "SessionType", "Discovery"), 0); /* replaces */
	CHECK_EQ(l.n, 2);
	REQUIRE(kv_encode(&l, &out, &len) == 0);
	CHECK_EQ(len, strlen("InitiatorName=iqn.a:b") + 1 + strlen("SessionType=Discovery") + 1);
	CHECK(memcmp(out, "InitiatorName=iqn.a:b\0SessionType=Discovery\0", len) == 0);
	free(out);
	kv_free(&l);
}

static void test_hostile_text(void)
{
	struct kvlist l = { 0 };
	char long_key[100], long_value[300];
	memset(long_key, 'k', sizeof(long_key));
	memcpy(long_key + 90, "=v", 3);
	memset(long_value, 'v', sizeof(long_value));
	memcpy(long_value, "K=", 2);
	long_value[299] = 0;
	CHECK_EQ(kv_parse((const uint8_t *)"NoEquals\0", 9, &l), -EINVAL);
	CHECK_EQ(kv_parse((const uint8_t *)"=value\0", 7, &l), -EINVAL);
	CHECK_EQ(kv_parse((const uint8_t *)"Key=unterminated", 16, &l), -EINVAL);
	CHECK_EQ(kv_parse((const uint8_t *)long_key, 93, &l), -EINVAL);
	CHECK_EQ(kv_parse((const uint8_t *)long_value, 300, &l), -EINVAL);
	CHECK_EQ(kv_parse((const uint8_t *)"", 0, &l), 0);
	kv_free(&l);
}

/* CHAP_C and CHAP_R are large-binary values: up to 1024 bytes, so their hex
 * text may be 2050 characters (RFC 7143 12.1.3); other keys stay at 255. */
static void test_large_binary_values(void)
{
	static char text[2200];
	struct kvlist l = { 0 };
	int n = sprintf(text, "CHAP_C=0x");
	memset(text + n, 'a', 2048);
	text[n + 2048] = 0;
	REQUIRE(kv_parse((const uint8_t *)text, (uint32_t)(n + 2049), &l) == 0);
	CHECK_EQ(strlen(kv_get(&l, "CHAP_C")), 2050);
	CHECK_EQ(kv_add(&l, "CHAP_C", "0x01"), 0); /* replaced, the long one freed */
	CHECK(strcmp(kv_get(&l, "CHAP_C"), "0x01") == 0);
	kv_free(&l);
	text[n + 2048] = 'a'; /* one digit more */
	text[n + 2049] = 0;
	CHECK_EQ(kv_parse((const uint8_t *)text, (uint32_t)(n + 2050), &l), -EINVAL);
	kv_free(&l);
	memcpy(text, "CHAP_X", 6); /* not a large-binary key */
	text[n + 300] = 0;
	CHECK_EQ(kv_parse((const uint8_t *)text, (uint32_t)(n + 301), &l), -EINVAL);
	kv_free(&l);
}

static void test_bhs_checks(void)
{
	uint8_t bhs[BHS_LEN] = { 0x43, 0x87 };
	uint32_t ahs, data;
	bhs[4] = 2;    /* 8 bytes of AHS */
	bhs[7] = 100; /* 100 bytes of data */
	CHECK_EQ(pdu_check_header(bhs, 65536, &ahs, &data), 0);
	CHECK_EQ(ahs, 8);
	CHECK_EQ(data, 100);
	bhs[5] = 0xff; /* 16 MiB announced */
	CHECK_EQ(pdu_check_header(bhs, 65536, &ahs, &data), -EMSGSIZE);
	memset(bhs + 8, 0, 8);
	bhs[9] = 7;
	CHECK_EQ(pdu_lun(bhs), 7);
	pdu_put_lun(bhs, 300);
	CHECK_EQ(pdu_lun(bhs), 300);
	bhs[8] = 0xc0; /* extended addressing: not ours */
	CHECK(pdu_lun(bhs) == UINT64_MAX);
}

static const struct harness_test tests[] = {
	{ "parse_and_encode", test_parse_and_encode },
	{ "hostile_text", test_hostile_text },
	{ "large_binary_values", test_large_binary_values },
	{ "bhs_checks", test_bhs_checks },
};
HARNESS_MAIN(tests)
