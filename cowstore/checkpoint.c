/*
 * checkpoint.c - moving the in-memory metadata into RocksDB.
 *
 * The IO path changes only memory and the journal.  A checkpoint writes
 * every dirty 1 MiB chunk of every layer (volume heads and snapshots) to
 * RocksDB in one synced batch that also records the last journal
 * transaction it includes, then empties the journal.  Data and checksums are synced first, so durable
 * metadata never points at data that is not.  Runs on the store thread:
 * when the journal grows large, before every control request that frees
 * space (those read and write RocksDB directly), and at open and close.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cowstore/internal.h"


/* Every dirty chunk of every layer, as chunk records into wb. */
static int put_dirty_maps(struct cowstore *cs, rocksdb_writebatch_t *wb)
{
	for (uint32_t i = 0; i < cs->nvols; i++) {
		struct vol *v = cs->vols[i];
		int rc = headmap_flush_dirty(&v->map, v->id, wb);
		for (uint32_t j = 0; !rc && j < v->nsnaps; j++)
			rc = headmap_flush_dirty(&v->snaps[j]->map, v->snaps[j]->id, wb);
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
	int rc = put_dirty_maps(cs, wb);
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
	rc = journal_reset(&cs->journal);
	/* Every free so far is in durable metadata now. */
	alloc_release_pending(&cs->alloc, cs->alloc.npending);
	if (cs->plog)
		plog_mark_synced(cs->plog, plog_last_seq(cs->plog));
	return rc;
}

int control_commit(struct cowstore *cs)
{
	int rc = cs->ctl_heads ? put_dirty_maps(cs, cs->ctl_wb) : 0;
	if (!rc)
		rc = meta_commit(cs, cs->ctl_wb);
	rocksdb_writebatch_clear(cs->ctl_wb);
	if (rc)
		cs->failed = true;
	return rc;
}
