/*
 * checkpoint.c - moving the in-memory metadata into RocksDB.
 *
 * The IO path changes only memory and the journal.  A checkpoint writes
 * every dirty head chunk and every snapshot overlay to RocksDB in one synced
 * batch that also records the last journal transaction it includes, then
 * empties the journal.  Data and checksums are synced first, so durable
 * metadata never points at data that is not.  Runs on the store thread:
 * when the journal grows large, before every control request that frees
 * space (those read and write RocksDB directly), and at open and close.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cowstore/internal.h"


struct overlay_ctx {
	rocksdb_writebatch_t *wb;
	struct cowstore *cs;
};

static int overlay_to_rocks(void *arg, const struct extent *e)
{
	struct overlay_ctx *o = arg;
	rocksdb_writebatch_t *saved = o->cs->ctl_wb;
	o->cs->ctl_wb = o->wb; /* route the put to RocksDB */
	int rc = extent_put(o->cs, e);
	o->cs->ctl_wb = saved;
	return rc;
}

static int put_overlays(struct cowstore *cs, rocksdb_writebatch_t *wb)
{
	struct overlay_ctx o = { wb, cs };
	for (uint32_t i = 0; i < cs->nvols; i++) {
		struct vol *v = cs->vols[i];
		for (uint32_t j = 0; j < v->nsnaps; j++) {
			struct snap *s = v->snaps[j];
			if (!s->overlay.nextents)
				continue;
			int rc = headmap_scan(&s->overlay, s->id, 0, UINT64_MAX, overlay_to_rocks, &o);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void drop_overlays(struct cowstore *cs)
{
	for (uint32_t i = 0; i < cs->nvols; i++)
		for (uint32_t j = 0; j < cs->vols[i]->nsnaps; j++)
			headmap_free(&cs->vols[i]->snaps[j]->overlay);
}

static int put_dirty_heads(struct cowstore *cs, rocksdb_writebatch_t *wb)
{
	for (uint32_t i = 0; i < cs->nvols; i++) {
		int rc = headmap_flush_dirty(&cs->vols[i]->map, cs->vols[i]->id, wb);
		if (rc)
			return rc;
	}
	return 0;
}

int checkpoint(struct cowstore *cs)
{
	flush_batch(cs);
	if (cs->journal.seq == cs->checkpoint_seq)
		return 0; /* nothing journaled since the last one */
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	int rc = put_overlays(cs, wb);
	if (!rc)
		rc = put_dirty_heads(cs, wb);
	checkpoint_seq_put(wb, cs->journal.seq);
	applied_seq_put(wb, cs->plog_applied);
	if (!rc && (fdatasync(cs->data_fd) < 0 || fdatasync(cs->crc_fd) < 0))
		rc = -errno;
	if (!rc)
		rc = meta_commit(cs, wb);
	rocksdb_writebatch_destroy(wb);
	if (rc) {
		cs->failed = true; /* dirty marks are gone: memory is ahead of RocksDB */
		return rc;
	}
	cs->checkpoint_seq = cs->journal.seq;
	drop_overlays(cs);
	rc = journal_reset(&cs->journal);
	/* Every free so far is in durable metadata now. */
	alloc_release_pending(&cs->alloc, cs->alloc.npending);
	if (cs->plog)
		plog_mark_synced(cs->plog, plog_last_seq(cs->plog));
	return rc;
}

int control_commit(struct cowstore *cs)
{
	int rc = cs->ctl_heads ? put_dirty_heads(cs, cs->ctl_wb) : 0;
	if (!rc)
		rc = meta_commit(cs, cs->ctl_wb);
	rocksdb_writebatch_clear(cs->ctl_wb);
	if (rc)
		cs->failed = true;
	return rc;
}
