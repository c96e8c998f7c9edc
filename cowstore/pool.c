/*
 * pool.c - creating, opening (with recovery) and closing a pool, and the
 * pool-wide figures.
 *
 * Recovery is the normal open path: RocksDB holds the last checkpoint, the
 * metadata journal's later transactions are applied to the in-memory maps,
 * the allocator is rebuilt by counting the references of every extent
 * (nothing else records allocation), writes acknowledged from the
 * persistent log whose metadata was lost are applied again, and a new
 * checkpoint empties the journal.  A pool's layout:
 *   DIR/meta/   RocksDB
 *   DIR/data    data file, capacity_bytes long (sparse unless preallocated)
 *   DIR/crc     CRC32C of each data block, 4 bytes a block (likewise)
 *   DIR/journal metadata journal of the IO path (journal.c)
 *   DIR/plog    persistent FUA log, when configured
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "cowstore/internal.h"

#define DEFAULT_CAPACITY (64ull << 30)
#define DEFAULT_SOFT_PCT 80u
#define FIRST_ID_LIMIT (1ull << 62) /* ids, and layer id + 1, never wrap */

static char *path_in(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%s/%s", dir, name);
	return p;
}

static void db_options(struct cowstore *cs)
{
	cs->dbopts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(cs->dbopts, 1);
	rocksdb_options_set_compression(cs->dbopts, rocksdb_lz4_compression);
	rocksdb_options_set_write_buffer_size(cs->dbopts, 64 << 20);
	rocksdb_options_set_max_background_jobs(cs->dbopts, 2);
	rocksdb_options_set_info_log_level(cs->dbopts, 2); /* warnings and worse */
	rocksdb_options_set_keep_log_file_num(cs->dbopts, 2);
	cs->tableopts = rocksdb_block_based_options_create();
	cs->cache = rocksdb_cache_create_lru(128 << 20);
	rocksdb_block_based_options_set_block_cache(cs->tableopts, cs->cache);
	rocksdb_options_set_block_based_table_factory(cs->dbopts, cs->tableopts);
	cs->wopts = rocksdb_writeoptions_create();
	/* Only control requests and checkpoints write RocksDB: always durably. */
	rocksdb_writeoptions_set_sync(cs->wopts, 1);
	cs->ropts = rocksdb_readoptions_create();
}

/* meta/ holds configuration records with CHAP secrets in clear (the target
 * needs them to check responses): only the pool's owner may read it, even
 * when the pool directory was made world-readable, or by an older build. */
static int restrict_meta(const char *meta, struct cowstore_err *err)
{
	struct stat st;
	int saved;
	if (mkdir(meta, 0700) < 0 && errno != EEXIST) {
		saved = errno;
		set_err(err, "cannot create %s: %s", meta, strerror(saved));
		return -saved;
	}
	if (stat(meta, &st) < 0 || ((st.st_mode & 077) && chmod(meta, 0700) < 0)) {
		saved = errno;
		set_err(err, "cannot make %s private to its owner (it holds CHAP secrets): %s",
			meta, strerror(saved));
		return -saved;
	}
	return 0;
}

static int db_open(struct cowstore *cs, struct cowstore_err *err)
{
	char *dberr = NULL;
	char *meta = path_in(cs->dir, "meta");
	if (!meta)
		return -ENOMEM;
	int rc = restrict_meta(meta, err);
	if (rc) {
		free(meta);
		return rc;
	}
	db_options(cs);
	cs->db = rocksdb_open(cs->dbopts, meta, &dberr);
	free(meta);
	if (dberr) {
		set_err(err, "%s: cannot open metadata: %s", cs->dir, dberr);
		free(dberr);
		return -EIO;
	}
	return 0;
}

static void db_close(struct cowstore *cs)
{
	if (cs->db)
		rocksdb_close(cs->db);
	if (cs->wopts)
		rocksdb_writeoptions_destroy(cs->wopts);
	if (cs->ropts)
		rocksdb_readoptions_destroy(cs->ropts);
	if (cs->dbopts)
		rocksdb_options_destroy(cs->dbopts);
	if (cs->tableopts)
		rocksdb_block_based_options_destroy(cs->tableopts);
	if (cs->cache)
		rocksdb_cache_destroy(cs->cache);
	cs->db = NULL;
}

static void free_objects(struct cowstore *cs)
{
	while (cs->nvols)
		vol_remove(cs, cs->vols[cs->nvols - 1]);
	free(cs->vols);
	cs->vols = NULL;
}

/* Release everything open() set up, in reverse order. */
static void teardown(struct cowstore *cs)
{
	if (cs->plog)
		plog_close(cs->plog);
	ns_close(cs);
	journal_close(&cs->journal);
	db_close(cs);
	if (cs->crcmap)
		munmap(cs->crcmap, cs->capacity_blocks * sizeof(uint32_t));
	if (cs->crc_fd > 0)
		close(cs->crc_fd);
	if (cs->data_fd > 0)
		close(cs->data_fd);
	free_objects(cs);
	alloc_destroy(&cs->alloc);
	free(cs->dir);
	free(cs);
}

static int create_file(const char *path, uint64_t bytes, bool preallocate,
		       struct cowstore_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd >= 0 && preallocate) {
		int rc = posix_fallocate(fd, 0, (off_t)bytes);
		if (rc) {
			set_err(err, "cannot preallocate %s: %s", path, strerror(rc));
			close(fd);
			return -rc;
		}
	}
	if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0 || fsync(fd) < 0) {
		int rc = -errno;
		set_err(err, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

int cowstore_pool_create(const char *dir, const struct cowstore_pool_options *opts,
			 struct cowstore_err *err)
{
	struct cowstore_pool_options o = opts ? *opts : (struct cowstore_pool_options){ 0 };
	if (!dir) {
		set_err(err, "no pool directory given");
		return -EINVAL;
	}
	if (!o.capacity_bytes)
		o.capacity_bytes = DEFAULT_CAPACITY;
	if (!o.soft_threshold_pct)
		o.soft_threshold_pct = DEFAULT_SOFT_PCT;
	if (!o.first_id)
		o.first_id = 1;
	if (o.capacity_bytes < (1u << 20) || o.capacity_bytes % COWSTORE_BLOCK_SIZE ||
	    o.soft_threshold_pct > 100) {
		set_err(err, "capacity must be a multiple of 4096 bytes of at least 1 MiB, "
			"and the soft threshold 1 to 100%%");
		return -EINVAL;
	}
	if (o.first_id >= FIRST_ID_LIMIT) {
		set_err(err, "first id %llu is not below 2^62", (unsigned long long)o.first_id);
		return -EINVAL;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		set_err(err, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	struct cowstore *cs = calloc(1, sizeof(*cs));
	if (!cs || !(cs->dir = strdup(dir))) {
		free(cs);
		return -ENOMEM;
	}
	char *data = path_in(dir, "data"), *meta = path_in(dir, "meta");
	char *plog = path_in(dir, "plog"), *crc = path_in(dir, "crc");
	int rc = 0;
	struct stat st;
	if (!data || !meta || !plog || !crc) {
		rc = -ENOMEM;
		goto out;
	}
	if (stat(meta, &st) == 0) {
		set_err(err, "%s already holds a pool", dir);
		rc = -EEXIST;
		goto out;
	}
	if ((rc = create_file(data, o.capacity_bytes, o.preallocate, err)) ||
	    (rc = create_file(crc, o.capacity_bytes / COWSTORE_BLOCK_SIZE * 4, o.preallocate, err)))
		goto out;
	if (o.plog_bytes && (rc = plog_create(plog, o.plog_bytes, err)))
		goto out;
	if ((rc = db_open(cs, err)))
		goto out;
	cs->capacity_blocks = o.capacity_bytes / COWSTORE_BLOCK_SIZE;
	cs->plog_bytes = o.plog_bytes;
	cs->soft_threshold_pct = o.soft_threshold_pct;
	cs->next_id = o.first_id;
	cs->created_ns = now_ns();
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	pool_record_put(cs, wb);
	first_id_put(wb, o.first_id);
	rc = meta_commit(cs, wb);
	rocksdb_writebatch_destroy(wb);
	if (rc)
		set_err(err, "%s: cannot write the pool record", dir);
out:
	free(data);
	free(meta);
	free(plog);
	free(crc);
	db_close(cs);
	free(cs->dir);
	free(cs);
	return rc;
}

/* ---- open ------------------------------------------------------------ */

static int ref_extent(void *arg, const struct extent *e)
{
	struct cowstore *cs = arg;
	return e->kind == BLK_DATA ? alloc_ref(&cs->alloc, e->pblock, e->nblocks) : 0;
}

/* References held by the layer maps: every reference there is. */
static int ref_memory_maps(struct cowstore *cs)
{
	int rc = 0;
	for (uint32_t i = 0; !rc && i < cs->nvols; i++) {
		struct vol *v = cs->vols[i];
		rc = headmap_scan(&v->map, v->id, 0, UINT64_MAX, ref_extent, cs);
		for (uint32_t j = 0; !rc && j < v->nsnaps; j++)
			rc = headmap_scan(&v->snaps[j]->map, v->snaps[j]->id, 0, UINT64_MAX,
					  ref_extent, cs);
	}
	return rc;
}

/* Count every extent's references: the allocator's whole state. */
static int rebuild_allocation(struct cowstore *cs, struct cowstore_err *err)
{
	int rc = alloc_init(&cs->alloc, cs->capacity_blocks);
	if (!rc)
		rc = ref_memory_maps(cs);
	if (rc) {
		set_err(err, "%s: a volume's extent map is damaged (%s)", cs->dir, strerror(-rc));
		return rc;
	}
	cs->soft_crossed =
		cs->alloc.used * 100 >= (uint64_t)cs->soft_threshold_pct * cs->alloc.nblocks;
	return rc;
}

/* Open a pool file that must be at least bytes long. */
static int open_sized(struct cowstore *cs, const char *name, uint64_t bytes, int *fd,
		      struct cowstore_err *err)
{
	char *path = path_in(cs->dir, name);
	struct stat st;
	if (!path)
		return -ENOMEM;
	*fd = open(path, O_RDWR | O_CLOEXEC);
	int rc = *fd < 0 ? -errno : 0;
	if (!rc && fstat(*fd, &st) < 0)
		rc = -errno;
	if (!rc && (uint64_t)st.st_size < bytes)
		rc = -EUCLEAN;
	if (rc)
		set_err(err, "%s: missing or shorter than the pool needs (%s)", path,
			strerror(-rc));
	free(path);
	return rc;
}

static int open_data(struct cowstore *cs, struct cowstore_err *err)
{
	uint64_t crc_bytes = cs->capacity_blocks * sizeof(uint32_t);
	int rc = open_sized(cs, "data", cs->capacity_blocks * COWSTORE_BLOCK_SIZE, &cs->data_fd,
			    err);
	if (!rc)
		rc = open_sized(cs, "crc", crc_bytes, &cs->crc_fd, err);
	if (rc)
		return rc;
	void *map = mmap(NULL, crc_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, cs->crc_fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		set_err(err, "%s: cannot map the checksum file: %s", cs->dir, strerror(errno));
		return rc;
	}
	cs->crcmap = map;
	return 0;
}

/* Journal transactions after the checkpoint, applied to the memory maps. */
static int apply_journal(void *arg, enum journal_op op, const struct extent *e,
			 uint64_t plog_seq)
{
	struct cowstore *cs = arg;
	struct headmap *m = e ? layer_map(cs, e->layer) : NULL;
	switch (op) {
	case JOURNAL_APPLIED:
		if (plog_seq > cs->plog_applied)
			cs->plog_applied = plog_seq;
		return 0;
	case JOURNAL_PUT:
		return m ? headmap_put(m, e) : -EUCLEAN;
	case JOURNAL_DEL:
		return m ? headmap_delete(m, e) : -EUCLEAN;
	}
	return -EUCLEAN;
}

static int check_extent_data(void *arg, const struct extent *e)
{
	struct cowstore *cs = arg;
	uint8_t *block = aligned_alloc(COWSTORE_BLOCK_SIZE, COWSTORE_BLOCK_SIZE);
	int rc = block ? 0 : -ENOMEM;
	for (uint64_t i = 0; !rc && i < e->nblocks; i++) {
		uint64_t pb = e->pblock + i;
		if (pb >= cs->capacity_blocks ||
		    pread(cs->data_fd, block, COWSTORE_BLOCK_SIZE, (off_t)(pb << BLOCK_SHIFT)) !=
			    COWSTORE_BLOCK_SIZE ||
		    crc32_iscsi(block, COWSTORE_BLOCK_SIZE, 0xffffffffu) != cs->crcmap[pb])
			rc = -EIO;
	}
	free(block);
	return rc;
}

static int replay_journal(struct cowstore *cs, struct cowstore_err *err)
{
	char *path = path_in(cs->dir, "journal");
	uint64_t count;
	int rc = path ? journal_open(&cs->journal, path, cs->checkpoint_seq) : -ENOMEM;
	free(path);
	if (!rc)
		rc = journal_replay(&cs->journal, apply_journal, check_extent_data, cs, &count);
	if (rc)
		set_err(err, "%s: the metadata journal does not apply to the checkpoint: %s",
			cs->dir, strerror(-rc));
	return rc;
}

static int do_checkpoint(struct cowstore *cs, void *arg)
{
	return 0; /* quiesced control requests start with a checkpoint */
}

struct replay_ctx {
	struct cowstore *cs;
	uint64_t applied;
	int replayed;
};

static int replay_record(void *arg, uint64_t seq, uint64_t volume_id, uint64_t lba,
			 uint32_t nsectors, const void *data)
{
	struct replay_ctx *r = arg;
	if (seq <= r->applied)
		return 0; /* its metadata was committed: nothing to redo */
	int rc = cowstore_write(r->cs, volume_id, lba, nsectors, data, 0);
	if (rc == -ENOENT)
		return 0; /* the volume was deleted after the write */
	r->replayed++;
	return rc;
}

static int replay_plog(struct cowstore *cs, struct cowstore_err *err)
{
	char *path = path_in(cs->dir, "plog");
	int rc = path ? plog_open(path, &cs->plog, err) : -ENOMEM;
	free(path);
	if (rc)
		return rc;
	struct replay_ctx r = { cs, cs->plog_applied, 0 };
	rc = plog_replay(cs->plog, replay_record, &r);
	if (!rc)
		rc = cowstore_flush(cs);
	if (rc)
		set_err(err, "%s: replaying the persistent log failed: %s", cs->dir,
			strerror(-rc));
	return rc;
}

int cowstore_open(const char *dir, struct cowstore **out, struct cowstore_err *err)
{
	if (!dir || !out)
		return -EINVAL;
	struct cowstore *cs = calloc(1, sizeof(*cs));
	if (!cs || !(cs->dir = strdup(dir))) {
		free(cs);
		return -ENOMEM;
	}
	cs->data_fd = cs->crc_fd = cs->journal.fd = -1;
	ns_open(cs);
	char *meta = path_in(dir, "meta");
	struct stat st;
	int rc = meta && stat(meta, &st) == 0 ? 0 : -ENOENT;
	free(meta);
	if (rc) {
		set_err(err, "%s holds no pool", dir);
		teardown(cs);
		return rc;
	}
	rc = db_open(cs, err);
	if (!rc)
		rc = pool_record_load(cs, err);
	if (!rc)
		rc = open_data(cs, err);
	if (!rc)
		rc = meta_load_objects(cs, err);
	if (!rc)
		rc = meta_load_maps(cs, err);
	if (!rc)
		rc = replay_journal(cs, err);
	if (!rc)
		rc = rebuild_allocation(cs, err);
	if (!rc && (rc = engine_start(cs)))
		set_err(err, "cannot start the store threads: %s", strerror(-rc));
	if (rc) {
		teardown(cs);
		return rc;
	}
	if (cs->plog_bytes)
		rc = replay_plog(cs, err);
	if (!rc && (rc = engine_control(cs, do_checkpoint, NULL, true)))
		set_err(err, "%s: cannot checkpoint the recovered metadata: %s", cs->dir,
			strerror(-rc));
	if (!rc) /* after recovery, which need not wait for a model */
		rc = emulation_load(cs, err);
	if (rc) {
		engine_stop(cs);
		teardown(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

void cowstore_close(struct cowstore *cs)
{
	if (!cs)
		return;
	cowstore_flush(cs);
	engine_stop(cs);
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *dberr = NULL;
	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush(cs->db, fo, &dberr); /* a short log to replay at the next open */
	free(dberr);
	rocksdb_flushoptions_destroy(fo);
	teardown(cs);
}

/* ---- figures --------------------------------------------------------- */

static int do_info(struct cowstore *cs, void *arg)
{
	struct cowstore_pool_info *info = arg;
	memset(info, 0, sizeof(*info));
	info->capacity_bytes = cs->alloc.nblocks * COWSTORE_BLOCK_SIZE;
	info->allocated_bytes = cs->alloc.used * COWSTORE_BLOCK_SIZE;
	info->free_bytes = info->capacity_bytes - info->allocated_bytes;
	info->metadata_bytes = meta_disk_bytes(cs);
	info->plog_bytes = cs->plog_bytes;
	info->soft_threshold_pct = cs->soft_threshold_pct;
	info->soft_threshold_crossed = cs->soft_crossed;
	info->nvolumes = cs->nvols;
	info->format_version = FORMAT_VERSION;
	info->first_id = cs->first_id;
	info->next_id = cs->next_id;
	for (uint32_t i = 0; i < cs->nvols; i++) {
		struct vol *v = cs->vols[i];
		uint64_t mapped;
		int rc = view_mapped_blocks(cs, v, NULL, &mapped);
		for (uint32_t j = 0; !rc && j <= v->nsnaps; j++) {
			info->logical_bytes += mapped * COWSTORE_BLOCK_SIZE;
			if (j < v->nsnaps)
				rc = view_mapped_blocks(cs, v, v->snaps[j], &mapped);
		}
		if (rc)
			return rc;
		info->nsnapshots += v->nsnaps;
	}
	return 0;
}

int cowstore_pool_info(struct cowstore *cs, struct cowstore_pool_info *info)
{
	return info ? engine_control(cs, do_info, info, false) : -EINVAL;
}

static int do_scrub(struct cowstore *cs, void *arg)
{
	return scrub_run(cs, arg);
}

int cowstore_scrub(struct cowstore *cs, struct cowstore_scrub_report *report)
{
	return report ? engine_control(cs, do_scrub, report, true) : -EINVAL;
}
