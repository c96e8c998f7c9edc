/*
 * mode.c - MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4 6.11-6.14, 7.5).
 *
 * Pages: caching (08h, SBC-3 6.4.5), control (0Ah), informational
 * exceptions control (1Ch).  Each page is a table of default bytes and a
 * mask of changeable bits; the changeable bits are WCE (a LUN with WCE 0
 * makes every write FUA) and SWP (software write protect: scsi.c refuses
 * writes); a change raises MODE PARAMETERS CHANGED for the other nexuses,
 * and a reset puts both back to their defaults.  MODE SELECT validates the
 * whole parameter list before it applies anything, and refuses any change to
 * a bit that is not changeable with INVALID FIELD IN PARAMETER LIST pointing
 * at the bit.
 * Nothing can be saved: PC 3 and SP 1 are refused.
 */
#include <string.h>

#include "target/scsi/internal.h"

struct mode_page {
	uint8_t code;
	uint8_t len; /* whole page, header included */
	const uint8_t *defaults;
	const uint8_t *changeable;
};

#define WCE 0x04
static const uint8_t caching_defaults[20] = { 0x08, 0x12, WCE };
static const uint8_t caching_changeable[20] = { 0x08, 0x12, WCE };
/* GLTSD (no saved log parameters); unrestricted reordering; SWP changeable */
#define SWP 0x08
static const uint8_t control_defaults[12] = { 0x0a, 0x0a, 0x02, 0x10 };
static const uint8_t control_changeable[12] = { 0x0a, 0x0a, 0, 0, SWP };
/* DEXCPT: no informational exceptions are reported */
static const uint8_t iec_defaults[12] = { 0x1c, 0x0a, 0x08 };
static const uint8_t iec_changeable[12] = { 0x1c, 0x0a };

static const struct mode_page pages[] = {
	{ 0x08, sizeof(caching_defaults), caching_defaults, caching_changeable },
	{ 0x0a, sizeof(control_defaults), control_defaults, control_changeable },
	{ 0x1c, sizeof(iec_defaults), iec_defaults, iec_changeable },
};
#define NPAGES (sizeof(pages) / sizeof(pages[0]))
#define ALL_PAGES 0x3f

enum page_control { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

static const struct mode_page *page_find(uint8_t code)
{
	for (size_t i = 0; i < NPAGES; i++)
		if (pages[i].code == code)
			return &pages[i];
	return NULL;
}

static uint32_t put_page(const struct scsi_lun *lun, const struct mode_page *pg,
			 enum page_control pc, uint8_t *p)
{
	memcpy(p, pc == PC_CHANGEABLE ? pg->changeable : pg->defaults, pg->len);
	p[0] = pg->code; /* PS 0: not savable */
	if (pc == PC_CURRENT && pg->code == 0x08)
		p[2] = (uint8_t)((p[2] & ~WCE) | (lun->wce ? WCE : 0));
	if (pc == PC_CURRENT && pg->code == 0x0a)
		p[4] = (uint8_t)((p[4] & ~SWP) | (lun->swp ? SWP : 0));
	return pg->len;
}

void mode_reset(struct scsi_lun *lun)
{
	lun->wce = caching_defaults[2] & WCE;
	lun->swp = control_defaults[4] & SWP;
}

/* ---- MODE SENSE ------------------------------------------------------------ */

/* Block descriptor (SPC-4 7.5.5): short 8 bytes or long 16 bytes. */
static uint32_t put_block_descriptor(const struct scsi_lun *lun, bool long_lba, uint8_t *p)
{
	if (long_lba) {
		memset(p, 0, 16);
		put_be64(p, lun->nblocks);
		put_be32(p + 12, BLOCK_BYTES);
		return 16;
	}
	memset(p, 0, 8);
	put_be32(p, lun->nblocks > UINT32_MAX ? UINT32_MAX : (uint32_t)lun->nblocks);
	put_be32(p + 4, BLOCK_BYTES); /* byte 4 density code 0, then 3-byte length */
	return 8;
}

/* Checks the page/subpage fields; false with the task's sense set. */
static bool sense_request_valid(struct scsi_task *task, uint8_t page, uint8_t subpage,
				enum page_control pc)
{
	if (pc == PC_SAVED) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return false;
	}
	if (page != ALL_PAGES && !page_find(page)) {
		task_bad_cdb(task, 2, 5);
		return false;
	}
	if (subpage && !(subpage == 0xff && page == ALL_PAGES)) {
		task_bad_cdb(task, 3, -1);
		return false;
	}
	return true;
}

/* The header's device-specific parameter (SBC-3 6.4.1): WP, DPOFUA. */
static uint8_t device_specific(const struct scsi_lun *lun)
{
	return (uint8_t)((lun->swp ? 0x80 : 0) | 0x10);
}

void spc_mode_sense(struct scsi_task *task)
{
	struct scsi_lun *lun = task_state(task)->lun;
	const uint8_t *cdb = task->cdb;
	bool ten = cdb[0] == 0x5a, dbd = cdb[1] & 0x08, long_lba = ten && (cdb[1] & 0x10);
	uint8_t page = cdb[2] & 0x3f, resp[256] = { 0 };
	enum page_control pc = cdb[2] >> 6;
	uint32_t hdr = ten ? 8 : 4, n, alloc = ten ? get_be16(cdb + 7) : cdb[4];
	if (!sense_request_valid(task, page, cdb[3], pc)) {
		task_finish(task);
		return;
	}
	uint32_t bd_len = dbd ? 0 : put_block_descriptor(lun, long_lba, resp + hdr);
	n = hdr + bd_len;
	for (size_t i = 0; i < NPAGES; i++)
		if (page == ALL_PAGES || page == pages[i].code)
			n += put_page(lun, &pages[i], pc, resp + n);
	if (ten) {
		put_be16(resp, (uint16_t)(n - 2));
		resp[3] = device_specific(lun);
		resp[4] = bd_len == 16 ? 0x01 : 0x00; /* LONGLBA */
		put_be16(resp + 6, (uint16_t)bd_len);
	} else {
		resp[0] = (uint8_t)(n - 1);
		resp[2] = device_specific(lun);
		resp[3] = (uint8_t)bd_len;
	}
	task_data_in(task, resp, n, alloc);
}

/* ---- MODE SELECT ----------------------------------------------------------- */

/* Checks a block descriptor at data[off..off+len); false with sense set. */
static bool block_descriptor_valid(struct scsi_task *task, const struct scsi_lun *lun,
				   const uint8_t *data, uint32_t off, uint32_t len)
{
	uint64_t nblocks = len == 16 ? get_be64(data + off) : get_be32(data + off);
	uint32_t block_off = len == 16 ? off + 12 : off + 5;
	uint32_t block_len = (uint32_t)get_be(data + block_off, len == 16 ? 4 : 3);
	if (nblocks && nblocks != lun->nblocks &&
	    !(len == 8 && lun->nblocks > UINT32_MAX && nblocks == UINT32_MAX)) {
		task_bad_param(task, (uint16_t)off, -1); /* capacity is not set here */
		return false;
	}
	if (block_len != BLOCK_BYTES) {
		task_bad_param(task, (uint16_t)block_off, -1);
		return false;
	}
	return true;
}

/* Sets the changeable bits of a validated page; a change raises MODE
 * PARAMETERS CHANGED for the other nexuses. */
static void apply_page(struct scsi_task *task, struct scsi_lun *lun, uint8_t code,
		       const uint8_t *page)
{
	bool old_wce = lun->wce, old_swp = lun->swp;
	if (code == 0x08)
		lun->wce = page[2] & WCE;
	if (code == 0x0a)
		lun->swp = page[4] & SWP;
	if (lun->wce != old_wce || lun->swp != old_swp)
		nexus_mode_changed(lun->t, lun->number, task->nexus_id);
}

/* Walks the pages of data[off..len); with apply false only validates. */
static bool select_pages(struct scsi_task *task, struct scsi_lun *lun, const uint8_t *data,
			 uint32_t off, uint32_t len, bool apply)
{
	uint8_t current[256];
	while (off < len) {
		if (len - off < 2 || (uint32_t)data[off + 1] + 2 > len - off) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
			return false;
		}
		const struct mode_page *pg = page_find(data[off] & 0x3f);
		if (data[off] & 0x40 || !pg) { /* SPF, or a page we do not have */
			task_bad_param(task, (uint16_t)off, data[off] & 0x40 ? 6 : 5);
			return false;
		}
		if ((uint32_t)data[off + 1] + 2 != pg->len) {
			task_bad_param(task, (uint16_t)(off + 1), -1);
			return false;
		}
		put_page(lun, pg, PC_CURRENT, current);
		for (uint32_t i = 2; i < pg->len; i++) {
			uint8_t fixed = (uint8_t)((data[off + i] ^ current[i]) & ~pg->changeable[i]);
			if (fixed) {
				task_bad_param(task, (uint16_t)(off + i), 31 - __builtin_clz(fixed));
				return false;
			}
		}
		if (apply)
			apply_page(task, lun, pg->code, data + off);
		off += pg->len;
	}
	return true;
}

/* Parses the header; sets *pages_off.  False with sense set. */
static bool select_header(struct scsi_task *task, const struct scsi_lun *lun, const uint8_t *data,
			  uint32_t len, bool ten, uint32_t *pages_off)
{
	uint32_t hdr = ten ? 8 : 4;
	uint32_t bd_len = ten ? get_be16(data + 6) : data[3];
	bool long_lba = ten && (data[4] & 0x01);
	if (len < hdr || len - hdr < bd_len) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	if (data[ten ? 2 : 1]) { /* medium type */
		task_bad_param(task, ten ? 2 : 1, -1);
		return false;
	}
	if (bd_len && bd_len != (long_lba ? 16u : 8u)) {
		task_bad_param(task, ten ? 6 : 3, -1);
		return false;
	}
	if (bd_len && !block_descriptor_valid(task, lun, data, hdr, bd_len))
		return false;
	*pages_off = hdr + bd_len;
	return true;
}

void spc_mode_select(struct scsi_task *task)
{
	struct scsi_lun *lun = task_state(task)->lun;
	bool ten = task->cdb[0] == 0x55;
	uint32_t len = ten ? get_be16(task->cdb + 7) : task->cdb[4], pages_off;
	if (task->cdb[1] & 0x01) { /* SP: nothing can be saved */
		task_bad_cdb(task, 1, 0);
		task_finish(task);
		return;
	}
	if (len > task->transfer_len)
		len = task->transfer_len;
	if (len && select_header(task, lun, task->data, len, ten, &pages_off) &&
	    select_pages(task, lun, task->data, pages_off, len, false))
		select_pages(task, lun, task->data, pages_off, len, true);
	task_finish(task);
}
