/*
 * inquiry.c - INQUIRY: standard data (SPC-4 6.6.2) and the VPD pages
 * 00, 80, 83, 86 (SPC-4 7.8) and B0, B1, B2 (SBC-3 6.5); 8F is xcopy.c's.
 *
 * Identity must not change across restarts (hosts key multipath on it): the
 * unit serial number is the volume's serial in hex, and the NAA designator
 * is made of that serial and a hash of the target name, nothing allocated
 * at run time.  The hash keeps two appliances that export the same volume
 * id from claiming to be one LU (cowstore pools have no id of their own to
 * use).  A volume's serial is its id, or, once it was moved to another
 * pool, the serial of the volume it was moved from (cowstore keeps it):
 * the LUN a move switches keeps its identity (lun->serial_id) while it
 * runs and after a restart.
 */
#include <stdio.h>
#include <string.h>

#include "target/scsi/internal.h"

/* NAA 6 needs an IEEE company id; Slate has none registered yet, so this is
 * a locally administered one (bit 1 of the first octet set: 02h). */
#define SLATE_COMPANY_ID 0x02534cu /* 02h 'S' 'L' */
#define VPD_MAX 512u

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };

static uint32_t inquiry_standard(const struct task_state *st, uint8_t *d)
{
	static const uint16_t versions[] = { 0x00a0 /* SAM-5 */, 0x0460 /* SPC-4 */,
					     0x04c0 /* SBC-3 */, 0x0960 /* iSCSI */ };
	const uint32_t len = 58 + 2 * sizeof(versions) / sizeof(versions[0]);
	memset(d, 0, len);
	d[0] = st->lun ? 0x00 : 0x7f; /* direct access; or qualifier 3: no LU here */
	d[2] = 0x06;                  /* VERSION: SPC-4 */
	d[3] = 0x12;                  /* HISUP, response data format 2 */
	d[4] = (uint8_t)(len - 5);
	d[5] = 0x10 | 0x08;           /* TPGS: implicit ALUA; 3PC: EXTENDED COPY */
	d[7] = 0x02;                  /* CMDQUE */
	memcpy(d + 8, "SLATE   ", 8);
	memcpy(d + 16, "COWSTORE        ", 16);
	memcpy(d + 32, "0001", 4);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		put_be16(d + 58 + 2 * i, versions[i]);
	return len;
}

/* One designation descriptor header (SPC-4 7.8.6.1); returns its size. */
static uint32_t put_designator(uint8_t *p, uint8_t proto_codeset, uint8_t piv_assoc_type,
			       const void *id, uint32_t id_len, uint32_t padded_len)
{
	p[0] = proto_codeset;
	p[1] = piv_assoc_type;
	p[2] = 0;
	p[3] = (uint8_t)padded_len;
	memset(p + 4, 0, padded_len);
	memcpy(p + 4, id, id_len);
	return 4 + padded_len;
}

void lun_naa(const struct scsi_lun *lun, uint8_t *naa)
{
	/* NAA 6h, 24-bit company id, 36-bit vendor specific id, 64-bit extension */
	uint64_t hi = (uint64_t)6 << 60 | (uint64_t)SLATE_COMPANY_ID << 36 |
		      (uint64_t)lun->t->name_hash << 4;
	put_be64(naa, hi);
	put_be64(naa + 8, lun->serial_id);
}

static uint32_t put_naa(uint8_t *p, const struct task_state *st)
{
	uint8_t naa[16];
	lun_naa(st->lun, naa);
	return put_designator(p, 0x01 /* binary */, 0x03 /* LU, NAA */, naa, 16, 16);
}

static uint32_t put_port_ids(uint8_t *p, const struct task_state *st)
{
	char name[sizeof(st->t->name) + 16];
	uint8_t id[4] = { 0 };
	uint32_t n = 0;
	int name_len = snprintf(name, sizeof(name), "%s,t,0x%04x", st->t->name, RELATIVE_PORT_ID);
	uint32_t padded = ((uint32_t)name_len + 1 + 3) & ~3u; /* null-terminated, 4-aligned */
	/* iSCSI protocol, UTF-8; PIV, target port, SCSI name string */
	n += put_designator(p + n, 0x53, 0x98, name, (uint32_t)name_len, padded);
	put_be16(id + 2, RELATIVE_PORT_ID);
	n += put_designator(p + n, 0x51, 0x94, id, 4, 4); /* relative target port */
	put_be16(id + 2, PORT_GROUP_ID);
	n += put_designator(p + n, 0x51, 0x95, id, 4, 4); /* target port group */
	return n;
}

static uint32_t vpd_block_limits(uint8_t *d)
{
	d[4] = 0x01;                                       /* WSNZ */
	d[5] = 1;                                          /* max COMPARE AND WRITE length */
	put_be16(d + 6, OPTIMAL_GRANULARITY_BLOCKS);
	put_be32(d + 8, MAX_TRANSFER_BLOCKS);
	put_be32(d + 12, MAX_IO_BLOCKS);                   /* optimal transfer length */
	put_be32(d + 20, MAX_UNMAP_BLOCKS);
	put_be32(d + 24, MAX_UNMAP_DESCRIPTORS);
	put_be32(d + 28, UNMAP_GRANULARITY_BLOCKS);
	put_be32(d + 32, 0x80000000u);                     /* UGAVALID, alignment 0 */
	put_be64(d + 36, MAX_WRITE_SAME_BLOCKS);
	put_be32(d + 44, MAX_ATOMIC_BLOCKS);               /* SBC-4 atomic limits */
	put_be32(d + 56, MAX_ATOMIC_BLOCKS);
	put_be32(d + 60, MAX_ATOMIC_BLOCKS);
	return 64;
}

/* Fills page d (header included); 0 when the page is not supported. */
static uint32_t vpd_page(const struct task_state *st, uint8_t page, uint8_t *d)
{
	uint32_t n = 4;
	memset(d, 0, VPD_MAX);
	d[1] = page;
	switch (page) {
	case 0x00:
		memcpy(d + 4, vpd_pages, sizeof(vpd_pages));
		n += sizeof(vpd_pages);
		break;
	case 0x80: /* unit serial number */
		n += (uint32_t)snprintf((char *)d + 4, 17, "%016llx",
					(unsigned long long)st->lun->serial_id);
		break;
	case 0x83: /* device identification */
		n += put_naa(d + n, st);
		n += put_port_ids(d + n, st);
		break;
	case 0x86: /* extended INQUIRY data */
		d[5] = 0x04;  /* SIMPSUP */
		d[6] = 0x01;  /* V_SUP: a volatile cache (WCE) */
		d[7] = 0x01;  /* LUICLR: unit attentions are cleared per LU */
		n = 64;
		break;
	case 0x8f:
		n = xcopy_vpd_page(d);
		break;
	case 0xb0:
		n = vpd_block_limits(d);
		break;
	case 0xb1: /* block device characteristics */
		put_be16(d + 4, 1); /* non-rotating medium */
		n = 64;
		break;
	case 0xb2: /* logical block provisioning */
		d[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
		d[6] = 0x02;                      /* provisioning type: thin */
		n = 8;
		break;
	default:
		return 0;
	}
	put_be16(d + 2, (uint16_t)(n - 4));
	return n;
}

void spc_inquiry(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint8_t d[VPD_MAX];
	uint32_t alloc = get_be16(task->cdb + 3), len;
	bool evpd = task->cdb[1] & 0x01;
	if (!evpd && task->cdb[2]) {
		task_bad_cdb(task, 2, -1); /* a page code without EVPD */
		task_finish(task);
		return;
	}
	if (!evpd) {
		len = inquiry_standard(st, d);
	} else if (!st->lun) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		task_finish(task);
		return;
	} else if (!(len = vpd_page(st, task->cdb[2], d))) {
		task_bad_cdb(task, 2, -1);
		task_finish(task);
		return;
	}
	task_data_in(task, d, len, alloc);
}
