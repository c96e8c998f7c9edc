/*
 * scrub.c - read every stored block of every volume and snapshot and check
 * it against its CRC32C.
 *
 * Runs on the store thread with IO quiesced (a control request), reading
 * the data file with pread; a block shared by several extents is checked
 * once for each.  Bad blocks are also reported as checksum events.
 */
#include <errno.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowstore/internal.h"

struct scrub_ctx {
	struct cowstore *cs;
	struct cowstore_scrub_report *rep;
	uint64_t volume_id, snapshot_id;
	uint8_t *buf; /* MAX_EXTENT_BLOCKS blocks */
};

static void report_bad(struct scrub_ctx *c, uint64_t lba_block, uint64_t pblock)
{
	struct cowstore_scrub_report *rep = c->rep;
	uint64_t lba = lba_block * SECTORS_PER_BLOCK;
	if (rep->bad_blocks < sizeof(rep->first_bad) / sizeof(rep->first_bad[0]))
		rep->first_bad[rep->bad_blocks] =
			(struct cowstore_bad_block){ c->volume_id, c->snapshot_id, lba, pblock };
	rep->bad_blocks++;
	emit_event(c->cs, COWSTORE_EVENT_CHECKSUM_ERROR, c->volume_id, c->snapshot_id, lba,
		   pblock, "scrub: checksum mismatch in volume %llu%s sector %llu, data block %llu",
		   (unsigned long long)c->volume_id, c->snapshot_id ? " snapshot" : "",
		   (unsigned long long)lba, (unsigned long long)pblock);
}

static int scrub_extent(void *arg, const struct extent *e)
{
	struct scrub_ctx *c = arg;
	if (e->kind != BLK_DATA)
		return 0;
	size_t len = e->nblocks << BLOCK_SHIFT;
	ssize_t got = pread(c->cs->data_fd, c->buf, len, (off_t)(e->pblock << BLOCK_SHIFT));
	if (got < 0)
		return -errno;
	for (uint64_t i = 0; i < e->nblocks; i++) {
		c->rep->blocks_checked++;
		uint8_t *block = c->buf + (i << BLOCK_SHIFT);
		bool ok = (size_t)got >= ((i + 1) << BLOCK_SHIFT) &&
			  crc32_iscsi(block, COWSTORE_BLOCK_SIZE, 0xffffffffu) ==
				  c->cs->crcmap[e->pblock + i];
		if (!ok)
			report_bad(c, e->lba + i, e->pblock + i);
	}
	return 0;
}

int scrub_run(struct cowstore *cs, struct cowstore_scrub_report *rep)
{
	struct scrub_ctx c = { cs, rep, 0, 0, NULL };
	memset(rep, 0, sizeof(*rep));
	c.buf = aligned_alloc(COWSTORE_BLOCK_SIZE, MAX_EXTENT_BLOCKS << BLOCK_SHIFT);
	if (!c.buf)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; !rc && i < cs->nvols; i++) {
		struct vol *v = cs->vols[i];
		c.volume_id = v->id;
		c.snapshot_id = 0;
		rc = layer_scan(cs, v->id, 0, UINT64_MAX, scrub_extent, &c);
		for (uint32_t j = 0; !rc && j < v->nsnaps; j++) {
			c.snapshot_id = v->snaps[j]->id;
			rc = layer_scan(cs, c.snapshot_id, 0, UINT64_MAX, scrub_extent, &c);
		}
	}
	free(c.buf);
	return rc;
}
