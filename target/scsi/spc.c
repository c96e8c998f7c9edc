/*
 * spc.c - SCSI primary commands (SPC-4): TEST UNIT READY, INQUIRY with the
 * VPD pages hosts ask for (00, 80, 83, B0, B1, B2), REPORT LUNS, REQUEST
 * SENSE, MODE SENSE/SELECT (caching page with WCE=1, control page), START
 * STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL.
 *
 * Device identity is derived from the volume id, so it is the same after a
 * restart: unit serial "SLATE" + id in hex, NAA 6 designator from the id.
 */
#include <stdio.h>
#include <string.h>

#include "target/scsi/internal.h"

#define SLATE_OUI 0x5a4c41u /* NAA 6 "company id" field: a fixed locally chosen value */
#define MAX_XFER_BLOCKS (COWSTORE_MAX_IO_BYTES / BLOCK_BYTES)
#define UNMAP_GRANULARITY 2048u /* 1 MiB in 512-byte blocks */

static void inquiry_standard(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	uint8_t d[96] = { 0 };
	d[0] = lun ? 0x00 : 0x7f; /* direct access block device / no LUN here */
	d[2] = 0x06;              /* SPC-4 */
	d[3] = 0x02;              /* response data format 2 */
	d[4] = sizeof(d) - 5;
	d[5] = 0x10;              /* TPGS: implicit ALUA */
	d[7] = 0x02;              /* CMDQUE */
	memcpy(d + 8, "SLATE   ", 8);
	memcpy(d + 16, "COWSTORE        ", 16);
	memcpy(d + 32, "0001", 4);
	(void)t;
	task_data_in(task, d, sizeof(d));
}

/* NAA 6 (IEEE registered extended): OUI, then the volume id. */
static void put_naa(uint8_t *p, uint64_t volume_id)
{
	p[0] = 0x60 | (uint8_t)((SLATE_OUI >> 20) & 0x0f);
	p[1] = (uint8_t)(SLATE_OUI >> 12);
	p[2] = (uint8_t)(SLATE_OUI >> 4);
	p[3] = (uint8_t)((SLATE_OUI & 0x0f) << 4);
	put32(p + 4, 0);
	put64(p + 8, volume_id);
}

static uint32_t vpd_device_id(struct scsi_target *t, struct scsi_lun *lun, uint8_t *d)
{
	uint32_t n = 4;
	/* logical unit: NAA, binary */
	d[n] = 0x01;
	d[n + 1] = 0x03;
	d[n + 3] = 16;
	put_naa(d + n + 4, lun->volume_id);
	n += 20;
	/* target port: the iSCSI name, UTF-8, SCSI name string */
	size_t len = strlen(t->name) + 1, padded = (len + 3) & ~(size_t)3;
	d[n] = 0x53; /* protocol iSCSI, code set UTF-8 */
	d[n + 1] = 0x98; /* PIV, association target port, SCSI name string */
	d[n + 3] = (uint8_t)padded;
	memcpy(d + n + 4, t->name, len - 1);
	n += 4 + (uint32_t)padded;
	/* relative target port 1, target port group 1 */
	d[n + 1] = 0x14; /* association port, relative target port */
	d[n + 3] = 4;
	put16(d + n + 6, 1);
	n += 8;
	d[n + 1] = 0x15; /* target port group */
	d[n + 3] = 4;
	put16(d + n + 6, 1);
	n += 8;
	return n;
}

static void inquiry_vpd(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	uint8_t d[512] = { 0 };
	uint32_t n = 4;
	d[1] = task->cdb[2];
	switch (task->cdb[2]) {
	case 0x00:
		memcpy(d + 4, pages, sizeof(pages));
		n += sizeof(pages);
		break;
	case 0x80:
		n += (uint32_t)snprintf((char *)d + 4, 32, "SLATE%016llx",
					(unsigned long long)lun->volume_id);
		break;
	case 0x83:
		n = vpd_device_id(t, lun, d);
		break;
	case 0xb0: /* block limits */
		put16(d + 6, 8); /* optimal transfer length granularity: 4 KiB */
		put32(d + 8, MAX_XFER_BLOCKS);
		put32(d + 12, MAX_XFER_BLOCKS);
		put32(d + 20, MAX_XFER_BLOCKS);       /* max unmap LBA count */
		put32(d + 24, 256);                   /* max unmap descriptors */
		put32(d + 28, UNMAP_GRANULARITY);     /* optimal unmap granularity */
		put64(d + 36, MAX_XFER_BLOCKS);       /* max write same length */
		n = 64;
		break;
	case 0xb1: /* block device characteristics: non-rotating */
		put16(d + 4, 1);
		n = 64;
		break;
	case 0xb2: /* logical block provisioning: thin, UNMAP and WRITE SAME */
		d[5] = 0xe0 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
		d[6] = 0x02;        /* provisioning type: thin */
		n = 8;
		break;
	default:
		sense_cdb_field(task, 2, -1);
		task->done(task);
		return;
	}
	put16(d + 2, (uint16_t)(n - 4));
	task_data_in(task, d, n);
	task->done(task);
}

static void inquiry(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	if (task->cdb[1] & 0x01) {
		if (!lun) {
			sense_set(task, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
			task->done(task);
			return;
		}
		inquiry_vpd(t, lun, task);
		return;
	}
	if (task->cdb[2]) { /* a page code without EVPD */
		sense_cdb_field(task, 2, -1);
	} else {
		inquiry_standard(t, lun, task);
	}
	task->done(task);
}

static void report_luns(struct scsi_target *t, struct scsi_task *task)
{
	uint8_t d[8 + 8 * SCSI_MAX_LUNS] = { 0 };
	uint32_t n = 8;
	for (uint32_t i = 0; i < SCSI_MAX_LUNS; i++) {
		if (!t->luns[i].present)
			continue;
		d[n] = i < 256 ? 0 : (uint8_t)(0x40 | (i >> 8));
		d[n + 1] = (uint8_t)i;
		n += 8;
	}
	put32(d, n - 8);
	if (be32(task->cdb + 6) < 16)
		sense_cdb_field(task, 6, -1); /* allocation length below 16 (SPC-4 6.33) */
	else
		task_data_in(task, d, n);
	task->done(task);
}

/* MODE SENSE pages: caching (08, WCE set) and control (0A). */
static uint32_t mode_pages(uint8_t page, uint8_t *p)
{
	uint32_t n = 0;
	if (page == 0x08 || page == 0x3f) {
		p[n] = 0x08;
		p[n + 1] = 0x12;
		p[n + 2] = 0x04; /* WCE: writes are cached until SYNCHRONIZE CACHE or FUA */
		n += 20;
	}
	if (page == 0x0a || page == 0x3f) {
		p[n] = 0x0a;
		p[n + 1] = 0x0a;
		p[n + 2] = 0x02; /* GLTSD */
		n += 12;
	}
	return n;
}

static void mode_sense(struct scsi_task *task, bool ten)
{
	uint8_t d[128] = { 0 };
	uint8_t page = task->cdb[2] & 0x3f;
	uint32_t hdr = ten ? 8 : 4;
	uint32_t n = hdr + mode_pages(page, d + hdr);
	if (n == hdr) {
		sense_cdb_field(task, 2, 5);
		task->done(task);
		return;
	}
	if (ten)
		put16(d, (uint16_t)(n - 2));
	else
		d[0] = (uint8_t)(n - 1);
	task_data_in(task, d, n);
	task->done(task);
}

bool spc_execute(struct scsi_target *t, struct scsi_lun *lun, struct scsi_task *task)
{
	switch (task->cdb[0]) {
	case 0x12:
		inquiry(t, lun, task);
		return true;
	case 0xa0:
		report_luns(t, task);
		return true;
	}
	if (!lun)
		return false;
	switch (task->cdb[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1b: /* START STOP UNIT */
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
	case 0x15: /* MODE SELECT(6): the pages have nothing to change */
	case 0x55: /* MODE SELECT(10) */
		task->done(task);
		return true;
	case 0x03: { /* REQUEST SENSE: no deferred errors are kept */
		uint8_t d[18] = { 0x70, 0, SK_NO_SENSE, 0, 0, 0, 0, 10 };
		task_data_in(task, d, sizeof(d));
		task->done(task);
		return true;
	}
	case 0x1a:
	case 0x5a:
		mode_sense(task, task->cdb[0] == 0x5a);
		return true;
	}
	return false;
}
