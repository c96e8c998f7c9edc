/*
 * pdu.c - the iSCSI Basic Header Segment: the fields every PDU shares
 * (RFC 7143 11.2) and their checks.  Everything here reads bytes that came
 * from the network: every length is checked before it is trusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "target/iscsi/internal.h"

/* SAM-5 LUN structure: peripheral (0b00) and flat (0b01) addressing. */
uint64_t pdu_lun(const uint8_t *bhs)
{
	const uint8_t *l = bhs + 8;
	switch (l[0] >> 6) {
	case 0:
		return l[1];
	case 1:
		return (uint64_t)(l[0] & 0x3f) << 8 | l[1];
	default:
		return UINT64_MAX; /* an addressing method we do not use: no such LUN */
	}
}

void pdu_put_lun(uint8_t *bhs, uint64_t lun)
{
	memset(bhs + 8, 0, 8);
	if (lun < 256) {
		bhs[9] = (uint8_t)lun;
	} else {
		bhs[8] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
		bhs[9] = (uint8_t)lun;
	}
}

int pdu_check_header(const uint8_t *bhs, uint32_t max_data, uint32_t *ahs_len,
		     uint32_t *data_len)
{
	*ahs_len = (uint32_t)bhs[4] * 4;
	*data_len = get_be24(bhs + 5);
	if (*data_len > max_data)
		return -EMSGSIZE;
	return 0;
}

uint32_t pdu_digest(const void *a, size_t a_len, const void *b, size_t b_len)
{
	uint32_t crc = crc32_iscsi((unsigned char *)a, (int)a_len, 0xffffffffu);
	if (b_len)
		crc = crc32_iscsi((unsigned char *)b, (int)b_len, crc);
	return ~crc;
}

struct txpdu *txpdu_new(uint8_t opcode, uint8_t flags)
{
	struct txpdu *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->bhs[0] = opcode;
	t->bhs[1] = flags;
	return t;
}
