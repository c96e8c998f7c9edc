/*
 * ns_file.c - a regular file's data in the file namespace: its volume,
 * writes, size changes, per-file snapshots and clones.
 *
 * A file's data is the volume "file.<ino>", made on the first write (or
 * snapshot) at the write's end rounded up to a block, then grown by
 * doubling up to COWSTORE_NS_MAX_FILE_BYTES, so extending writes rarely
 * resize it.  Invariant: the volume reads zeros past the file's size, so a
 * file grows (by setattr, or a write past a hole) without writing zeros.
 * A shrink keeps it by cutting the volume back to the block holding the new
 * end and zeroing the rest of that block.  Data changes go before the
 * record that describes them: a crash between shows a half-done truncate,
 * never old bytes past the end.  A write that reached the volume but whose
 * cowstore_ns_written() never came (a crash) is the one way around it.
 *
 * Volumes are the store's records and cannot join a namespace batch, so:
 * a volume made for an inode but not yet recorded in it (a crash) is
 * adopted by the next cowstore_ns_volume() of that inode, whose name it
 * bears; a clone's volume is covered by an orphan record from before it is
 * made until the batch that names the clone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

static void volume_name(char name[32], uint64_t ino)
{
	snprintf(name, 32, "file.%llu", (unsigned long long)ino);
}

int ns_file_kind(const struct ns_inode *in)
{
	if (in->type == COWSTORE_NS_DIR)
		return -EISDIR;
	return in->type == COWSTORE_NS_REG ? 0 : -EINVAL;
}

/* A regular file's inode; err (when not NULL) says why not. */
static int file_get(struct cowstore *cs, uint64_t ino, struct ns_inode *in,
		    struct cowstore_err *err)
{
	int rc = ns_inode_get(cs, ino, in);
	if (!rc)
		rc = ns_file_kind(in);
	if (rc)
		set_err(err, "inode %llu: %s", (unsigned long long)ino,
			rc == -ESTALE ? "no such file" :
			rc == -EINVAL ? "not a regular file" : strerror(-rc));
	return rc;
}

int ns_orphan_reap(struct cowstore *cs, uint64_t ino, uint64_t volume_id)
{
	char name[32];
	int rc = 0;
	volume_name(name, ino);
	if (!volume_id)
		rc = cowstore_volume_lookup(cs, name, &volume_id);
	if (!rc)
		rc = cowstore_volume_delete(cs, volume_id, NULL);
	if (rc && rc != -ENOENT)
		return rc;
	/* Not synced: if it is lost, the next open finds nothing to delete. */
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_orphan_delete(wb, ino);
	rc = ns_commit(cs, wb, false);
	rocksdb_writebatch_destroy(wb);
	return rc;
}

/* ---- the volume -------------------------------------------------------- */

/* Make the file's volume, or adopt the one a crash left unrecorded. */
static int volume_make(struct cowstore *cs, struct ns_inode *in, uint64_t bytes)
{
	char name[32];
	struct cowstore_volume_info info;
	volume_name(name, in->ino);
	int rc = cowstore_volume_create(cs, name, bytes, &in->volume_id, NULL);
	if (rc != -EEXIST) {
		in->volume_bytes = rc ? 0 : bytes;
		return rc;
	}
	rc = cowstore_volume_lookup(cs, name, &in->volume_id);
	if (!rc)
		rc = cowstore_volume_info(cs, in->volume_id, 0, &info);
	in->volume_bytes = rc ? 0 : info.size_bytes;
	if (rc)
		in->volume_id = 0;
	return rc;
}

static int volume_grow(struct cowstore *cs, struct ns_inode *in, uint64_t want)
{
	uint64_t bytes = in->volume_bytes ? in->volume_bytes : COWSTORE_BLOCK_SIZE;
	while (bytes < want)
		bytes *= 2;
	if (bytes > COWSTORE_NS_MAX_FILE_BYTES)
		bytes = COWSTORE_NS_MAX_FILE_BYTES; /* still >= want */
	int rc = cowstore_volume_resize(cs, in->volume_id, bytes, NULL);
	if (!rc)
		in->volume_bytes = bytes;
	return rc;
}

/* Give a regular file a volume holding at least end_bytes; *changed when
 * in's volume fields changed (the caller records them). */
static int file_volume(struct cowstore *cs, struct ns_inode *in, uint64_t end_bytes,
		       bool *changed)
{
	uint64_t want = end_bytes ? ns_round_block(end_bytes) : COWSTORE_BLOCK_SIZE;
	uint64_t id = in->volume_id, bytes = in->volume_bytes;
	int rc = id ? 0 : volume_make(cs, in, want);
	if (!rc && in->volume_bytes < want)
		rc = volume_grow(cs, in, want);
	*changed = in->volume_id != id || in->volume_bytes != bytes;
	return rc;
}

/* Bytes [from, to) of a volume read zeros; to is a block boundary. */
static int zero_range(struct cowstore *cs, uint64_t volume_id, uint64_t from, uint64_t to)
{
	uint8_t block[COWSTORE_BLOCK_SIZE];
	uint64_t in_block = from % COWSTORE_BLOCK_SIZE, n;
	int rc = 0;
	if (from >= to)
		return 0;
	if (in_block) { /* read-modify-write the block holding from */
		uint64_t lba = (from - in_block) / COWSTORE_SECTOR_SIZE;
		rc = cowstore_read(cs, volume_id, lba, SECTORS_PER_BLOCK, block);
		memset(block + in_block, 0, COWSTORE_BLOCK_SIZE - in_block);
		if (!rc)
			rc = cowstore_write(cs, volume_id, lba, SECTORS_PER_BLOCK, block, 0);
		from += COWSTORE_BLOCK_SIZE - in_block;
	}
	for (; !rc && from < to; from += n) {
		n = to - from < COWSTORE_MAX_IO_BYTES ? to - from : COWSTORE_MAX_IO_BYTES;
		rc = cowstore_discard(cs, volume_id, from / COWSTORE_SECTOR_SIZE,
				      (uint32_t)(n / COWSTORE_SECTOR_SIZE));
	}
	return rc;
}

/* Keep the invariant for a shrink to size_bytes: one resize releases the
 * blocks past the new end's block whatever the volume's size. */
static int volume_cut(struct cowstore *cs, struct ns_inode *in, uint64_t size_bytes)
{
	uint64_t keep = size_bytes ? ns_round_block(size_bytes) : COWSTORE_BLOCK_SIZE;
	uint64_t old_end = ns_round_block(in->size_bytes);
	int rc = 0;
	if (keep < in->volume_bytes) {
		rc = cowstore_volume_resize(cs, in->volume_id, keep, NULL);
		if (!rc)
			in->volume_bytes = keep;
	}
	if (old_end > in->volume_bytes)
		old_end = in->volume_bytes;
	return rc ? rc : zero_range(cs, in->volume_id, size_bytes, old_end);
}

int ns_file_resize(struct cowstore *cs, struct ns_inode *in, uint64_t size_bytes)
{
	int rc = 0;
	if (size_bytes < in->size_bytes && in->volume_id)
		rc = volume_cut(cs, in, size_bytes);
	if (!rc)
		in->size_bytes = size_bytes;
	return rc;
}

int cowstore_ns_volume(struct cowstore *cs, uint64_t ino, uint64_t end_bytes,
		       uint64_t *volume_id)
{
	struct ns_inode in;
	bool changed = false;
	int rc = volume_id ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = file_get(cs, ino, &in, NULL);
	if (!rc && end_bytes > COWSTORE_NS_MAX_FILE_BYTES)
		rc = -EFBIG;
	if (!rc)
		rc = file_volume(cs, &in, end_bytes, &changed);
	if (!rc && changed)
		rc = ns_inode_save(cs, &in, true);
	if (!rc)
		*volume_id = in.volume_id;
	ns_leave(cs);
	return rc;
}

int cowstore_ns_written(struct cowstore *cs, uint64_t ino, uint64_t end_bytes,
			struct cowstore_ns_attr *attr)
{
	struct ns_inode in;
	int rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = file_get(cs, ino, &in, NULL);
	if (!rc && end_bytes > COWSTORE_NS_MAX_FILE_BYTES)
		rc = -EFBIG;
	if (!rc) {
		if (end_bytes > in.size_bytes)
			in.size_bytes = end_bytes;
		ns_touch(&in, true);
		rc = ns_inode_save(cs, &in, false); /* durable at cowstore_ns_sync() */
	}
	if (!rc)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}

/* Data first, then the records: a synced RocksDB write also makes every
 * earlier unsynced one (cowstore_ns_written) durable. */
int cowstore_ns_sync(struct cowstore *cs)
{
	char *dberr = NULL;
	int rc = cowstore_flush(cs);
	if (rc)
		return rc;
	rocksdb_flush_wal(cs->db, 1, &dberr);
	if (!dberr)
		return 0;
	free(dberr);
	return -EIO;
}

/* ---- snapshots --------------------------------------------------------- */

static int file_snap_lookup(struct cowstore *cs, const struct ns_inode *in, const char *name,
			    uint64_t *snap_id, struct cowstore_err *err)
{
	int rc = in->volume_id ? cowstore_snapshot_lookup(cs, in->volume_id, name, snap_id)
			       : -ENOENT;
	if (rc == -ENOENT)
		set_err(err, "file %llu has no snapshot '%s'", (unsigned long long)in->ino, name);
	return rc;
}

static int snapshot_create(struct cowstore *cs, struct ns_inode *in, const char *name,
			   struct cowstore_ns_snapshot *snap, struct cowstore_err *err)
{
	bool changed;
	int rc = file_volume(cs, in, 0, &changed); /* an empty file gets a block */
	if (!rc)
		rc = cowstore_snapshot_create(cs, in->volume_id, name, &snap->snap_id, err);
	if (rc)
		return rc;
	snprintf(snap->name, sizeof(snap->name), "%s", name);
	snap->created_unix_ns = now_ns();
	snap->size_bytes = in->size_bytes;
	snap->unique_bytes = 0;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	if (changed)
		ns_inode_put(wb, in);
	ns_snaprec_put(wb, in->ino, snap->snap_id, snap->size_bytes, snap->created_unix_ns);
	rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	return rc;
}

/* One snapshot as the namespace shows it.  One taken just before a crash
 * lost its record shows the volume's size then, and its creation time. */
static int snapshot_describe(struct cowstore *cs, uint64_t ino,
			     const struct cowstore_snapshot_info *info,
			     struct cowstore_ns_snapshot *snap)
{
	snap->snap_id = info->id;
	snprintf(snap->name, sizeof(snap->name), "%s", info->name);
	snap->unique_bytes = info->unique_bytes;
	int rc = ns_snaprec_get(cs, ino, info->id, &snap->size_bytes, &snap->created_unix_ns);
	if (rc != -ENOENT)
		return rc;
	snap->size_bytes = info->size_bytes;
	snap->created_unix_ns = info->created_unix_ns;
	return 0;
}

static int snapshot_list(struct cowstore *cs, const struct ns_inode *in,
			 struct cowstore_ns_snapshot **list, size_t *count)
{
	struct cowstore_snapshot_info *infos = NULL;
	size_t n = 0;
	int rc = in->volume_id ? cowstore_snapshot_list(cs, in->volume_id, &infos, &n) : 0;
	struct cowstore_ns_snapshot *out = rc ? NULL : calloc(n + 1, sizeof(*out));
	if (!rc && !out)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		rc = snapshot_describe(cs, in->ino, &infos[i], &out[i]);
	free(infos);
	if (rc) {
		free(out);
		return rc;
	}
	*list = out;
	*count = n;
	return 0;
}

int cowstore_ns_snapshot_list(struct cowstore *cs, uint64_t ino,
			      struct cowstore_ns_snapshot **list, size_t *count)
{
	struct ns_inode in;
	int rc = list && count ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = file_get(cs, ino, &in, NULL);
	if (!rc)
		rc = snapshot_list(cs, &in, list, count);
	ns_leave(cs);
	return rc;
}

static int snapshot_delete(struct cowstore *cs, const struct ns_inode *in, const char *name,
			   struct cowstore_err *err)
{
	uint64_t snap_id;
	int rc = file_snap_lookup(cs, in, name, &snap_id, err);
	if (!rc)
		rc = cowstore_snapshot_delete(cs, snap_id, err);
	if (rc)
		return rc;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_snaprec_delete(wb, in->ino, snap_id);
	rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	return rc;
}

/* The data and the volume's size come back with the store's rollback; the
 * file's size from the snapshot's record (as in snapshot_describe). */
static int snapshot_rollback(struct cowstore *cs, struct ns_inode *in, const char *name,
			     struct cowstore_err *err)
{
	struct cowstore_volume_info info;
	uint64_t snap_id, size_bytes;
	int64_t created_ns;
	int rc = file_snap_lookup(cs, in, name, &snap_id, err);
	if (!rc)
		rc = cowstore_snapshot_rollback(cs, snap_id, 0, err);
	if (!rc)
		rc = cowstore_volume_info(cs, in->volume_id, 0, &info);
	if (rc)
		return rc;
	rc = ns_snaprec_get(cs, in->ino, snap_id, &size_bytes, &created_ns);
	if (rc == -ENOENT) {
		size_bytes = info.size_bytes;
		rc = 0;
	}
	if (rc)
		return rc;
	in->volume_bytes = info.size_bytes;
	in->size_bytes = size_bytes;
	ns_touch(in, true);
	return ns_inode_save(cs, in, true);
}

enum snap_op { SNAP_CREATE, SNAP_DELETE, SNAP_ROLLBACK };

/* What the per-file snapshot entry points share: the name checked, the
 * namespace held, the file found. */
static int snapshot_op(struct cowstore *cs, uint64_t ino, const char *name, enum snap_op op,
		       struct cowstore_ns_snapshot *snap, struct cowstore_err *err)
{
	struct ns_inode in;
	int rc = check_name(name, "snapshot", err);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = file_get(cs, ino, &in, err);
	if (!rc && op == SNAP_CREATE)
		rc = snapshot_create(cs, &in, name, snap, err);
	else if (!rc)
		rc = op == SNAP_ROLLBACK ? snapshot_rollback(cs, &in, name, err)
					 : snapshot_delete(cs, &in, name, err);
	ns_leave(cs);
	return rc;
}

int cowstore_ns_snapshot_create(struct cowstore *cs, uint64_t ino, const char *name,
				struct cowstore_ns_snapshot *snap, struct cowstore_err *err)
{
	return snap ? snapshot_op(cs, ino, name, SNAP_CREATE, snap, err) : -EINVAL;
}

int cowstore_ns_snapshot_delete(struct cowstore *cs, uint64_t ino, const char *name,
				struct cowstore_err *err)
{
	return snapshot_op(cs, ino, name, SNAP_DELETE, NULL, err);
}

int cowstore_ns_snapshot_rollback(struct cowstore *cs, uint64_t ino, const char *name,
				  struct cowstore_err *err)
{
	return snapshot_op(cs, ino, name, SNAP_ROLLBACK, NULL, err);
}

/* ---- clones ------------------------------------------------------------ */

/* Reserve the clone's inode number, with an orphan record that covers the
 * volume about to be made for it until the clone is named. */
static int clone_reserve(struct cowstore *cs, const struct ns_counts *c, uint64_t ino)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_counters_put(cs, wb, c);
	ns_orphan_put(wb, ino, 0);
	int rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		cs->ns.count.next_ino = c->next_ino;
	return rc;
}

/* A new volume for dst sharing src's data: extents are shared, not copied. */
static int clone_data(struct cowstore *cs, const struct ns_inode *src, struct ns_inode *dst,
		      struct cowstore_err *err)
{
	char name[32];
	uint64_t end = ns_round_block(src->size_bytes), n;
	volume_name(name, dst->ino);
	int rc = cowstore_volume_create(cs, name, src->volume_bytes, &dst->volume_id, err);
	if (rc)
		return rc;
	dst->volume_bytes = src->volume_bytes;
	if (end > src->volume_bytes)
		end = src->volume_bytes; /* the rest reads zeros */
	for (uint64_t lba = 0; !rc && lba * COWSTORE_SECTOR_SIZE < end; lba += n) {
		n = (end / COWSTORE_SECTOR_SIZE) - lba;
		if (n > COWSTORE_MAX_IO_BYTES / COWSTORE_SECTOR_SIZE)
			n = COWSTORE_MAX_IO_BYTES / COWSTORE_SECTOR_SIZE;
		rc = cowstore_copy(cs, dst->volume_id, lba, src->volume_id, lba, (uint32_t)n);
	}
	if (rc)
		set_err(err, "sharing the data of file %llu with its clone failed: %s",
			(unsigned long long)src->ino, strerror(-rc));
	return rc;
}

static int clone_file(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		      struct ns_inode *in, struct cowstore_err *err)
{
	struct ns_inode src, d;
	struct ns_counts c = cs->ns.count;
	int rc = file_get(cs, ino, &src, err);
	if (!rc && (rc = ns_dir_free_name(cs, dir, name, &d, NULL)))
		set_err(err, "cannot name the clone '%s' in directory %llu: %s", name,
			(unsigned long long)dir, strerror(-rc));
	if (!rc)
		rc = ns_inode_init(in, c.next_ino++, COWSTORE_NS_REG, src.mode, src.uid, src.gid);
	if (!rc && src.volume_id)
		rc = clone_reserve(cs, &c, in->ino);
	if (rc)
		return rc;
	in->size_bytes = src.size_bytes;
	in->atime_ns = src.atime_ns;
	in->mtime_ns = src.mtime_ns;
	if (src.volume_id)
		rc = clone_data(cs, &src, in, err);
	c.files++;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	if (src.volume_id)
		ns_orphan_delete(wb, in->ino);
	if (!rc)
		rc = ns_add_name(cs, wb, &d, name, in, &c);
	rocksdb_writebatch_destroy(wb);
	if (rc && src.volume_id)
		ns_orphan_reap(cs, in->ino, in->volume_id);
	if (!rc)
		cs->ns.count = c;
	return rc;
}

int cowstore_ns_clone(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		      struct cowstore_ns_attr *attr, struct cowstore_err *err)
{
	struct ns_inode in;
	int rc = ns_name_check(name);
	if (rc)
		set_err(err, "'%s' cannot name a file", name ? name : "");
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = clone_file(cs, ino, dir, name, &in, err);
	if (!rc)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}
