/*
 * internal.h - what the files of cowstore share; private to cowstore/.
 *
 * Layers.  Every volume head and every snapshot is a layer with its own
 * extent map, kept in memory (headmap.c) and checkpointed to RocksDB as one
 * record per 1 MiB chunk.  A volume head maps every
 * block it can read; snapshots are reverse deltas: when the head overwrites
 * or releases a mapping born before its newest snapshot, the old mapping is
 * moved into that snapshot's layer.  A snapshot S therefore reads block x
 * from the first layer, going S, newer snapshots..., head, that maps x, as
 * long as that mapping was born no later than S (birth <= S.gen); a newer
 * birth means x was unmapped at S.  Clones fall through unmapped blocks to
 * the snapshot they were made from.  Taking a snapshot only bumps cur_gen.
 *
 * Checksums live beside the data, not in the extents: the crc file holds one
 * CRC32C per data-file block (mapped; written when a block is allocated for
 * new data, before the metadata that references it), so that splitting an
 * extent costs a few bytes of metadata whatever its length.
 *
 * Extents never cross a MAX_EXTENT_BLOCKS-aligned boundary (see headmap.c).
 *
 * Invariant: along one volume's chain of layers, the mappings of a block
 * have strictly increasing births, so each layer holds at most one of them.
 *
 * Ownership: struct cowstore and everything it points to belong to the store
 * thread once cowstore_open() returns; other threads talk to it only through
 * the submission list (sub_lock) and completion queues (queue->lock).  The
 * file namespace's state (cs->ns) is the exception: its own lock guards it.
 */
#ifndef SLATE_COWSTORE_INTERNAL_H
#define SLATE_COWSTORE_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdbool.h>

#include "cowstore/cowstore.h"

#define FORMAT_VERSION 1u
#define BLOCK_SHIFT 12
#define SECTORS_PER_BLOCK (COWSTORE_BLOCK_SIZE / COWSTORE_SECTOR_SIZE)
#define MAX_EXTENT_BLOCKS 256u  /* a data extent maps at most 1 MiB */
#define GEN_NONE 0u             /* births start at 1 */

/* ---- extent maps (extent.c) ----------------------------------------- */

enum blk_kind {
	BLK_NONE = 0, /* not mapped in the layer(s) looked at */
	BLK_ZERO,     /* mapped to zeros (hides a clone's parent) */
	BLK_DATA,     /* mapped to a data-file block */
};

/* One 4 KiB block's mapping, as resolved or as about to be written. */
struct blk {
	uint64_t pblock;
	uint8_t kind;
};

struct extent {
	uint64_t layer;
	uint64_t lba;     /* first block */
	uint64_t nblocks;
	uint64_t birth;
	uint8_t kind;     /* BLK_ZERO or BLK_DATA */
	uint64_t pblock;  /* BLK_DATA: first data-file block */
};

/* ---- in-memory objects (loaded at open, persisted in RocksDB) -------- */

/* An extent map in memory (headmap.c): a volume head's, or the mappings
 * saved into a snapshot since the last checkpoint. */
struct mchunk;
struct headmap {
	uint64_t nchunks;
	struct mchunk **chunks;
	uint64_t *dirty;   /* chunks changed since the last checkpoint */
	uint64_t nextents;
};

struct snap {
	uint64_t id; /* also its layer id */
	struct vol *vol;
	char name[COWSTORE_NAME_MAX + 1];
	uint64_t gen;
	uint64_t size_bytes;
	int64_t created_ns;
	uint64_t group_id;
	uint32_t nclones;
	struct headmap map; /* the mappings saved into this snapshot */
};

struct vol {
	uint64_t id; /* also its head layer id */
	char name[COWSTORE_NAME_MAX + 1];
	uint64_t size_bytes;
	uint64_t cur_gen;  /* birth of mappings written now */
	int64_t created_ns;
	uint64_t serial;     /* the identity hosts see (SCSI serial number, NAA): its
			      * id, or the serial of the volume it was moved from */
	struct snap *parent; /* clone source, or NULL */
	struct snap **snaps; /* alive snapshots, oldest (lowest gen) first */
	uint32_t nsnaps, snaps_cap;
	struct headmap map;  /* the head's extents, as in RocksDB */
	struct move_track *moving; /* while the volume is being moved: where
				    * io_start() records what its writes change */
};

/* ---- allocation (alloc.c) ------------------------------------------ */

struct run {
	uint64_t start, count;
};

struct alloc {
	uint64_t nblocks;      /* data-file capacity */
	uint64_t *bitmap;      /* 1 = referenced (or pending free) */
	uint64_t used;         /* bits set */
	uint64_t cursor;       /* next place to look */
	uint64_t reserve;      /* blocks kept for net-neutral overwrites */
	/* extra references beyond the first: open addressing, key+1 (0 = empty) */
	uint64_t *extra_keys;
	uint32_t *extra_refs;
	uint64_t extra_cap, extra_count;
	/* freed since the last sync started: released after the next sync */
	struct run *pending;
	size_t npending, pending_cap;
	uint64_t pending_blocks; /* blocks in those runs */
	size_t sealed; /* runs a running sync covers: never extended */
};

int alloc_init(struct alloc *a, uint64_t nblocks);
void alloc_destroy(struct alloc *a);
/* Count one more reference to each of [pblock, pblock+n) (open-time scan, shares). */
int alloc_ref(struct alloc *a, uint64_t pblock, uint64_t n);
/* Drop a reference; blocks reaching zero go to the pending list. */
int alloc_unref(struct alloc *a, uint64_t pblock, uint64_t n);
/* Up to want contiguous free blocks; *got == 0 when none.  use_reserve
 * lets the request dip into the reserve. */
void alloc_get(struct alloc *a, uint64_t want, bool use_reserve, uint64_t *start,
	       uint64_t *got);
/* Give back blocks that were allocated but never referenced in metadata. */
void alloc_put(struct alloc *a, uint64_t start, uint64_t n);
uint64_t alloc_free_blocks(const struct alloc *a);
uint32_t alloc_refcount(const struct alloc *a, uint64_t pblock);
/* Move the first n pending runs to the free map (their sync completed). */
void alloc_release_pending(struct alloc *a, size_t n);

/* A multiset of block references, to ask which blocks it alone holds:
 * the space that dropping those references would free. */
struct tally {
	uint64_t *blocks;
	size_t n, cap;
};
int tally_add(struct tally *t, uint64_t pblock, uint64_t n);
uint64_t tally_unique(struct tally *t, const struct alloc *a); /* sorts t */
void tally_free(struct tally *t);

/* ---- persistent FUA log (plog.c) ------------------------------------ */

struct plog;
int plog_create(const char *path, uint64_t bytes, struct cowstore_err *err);
int plog_open(const char *path, struct plog **out, struct cowstore_err *err);
void plog_close(struct plog *pl);
/* Append one write durably; *seq gets its sequence number.  -ENOSPC when
 * the log holds too much unsynced data (the caller falls back to a sync). */
int plog_append(struct plog *pl, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		const void *data, uint64_t *seq);
uint64_t plog_last_seq(const struct plog *pl);
/* Everything up to seq is in the synced pool: its space can be reused. */
void plog_mark_synced(struct plog *pl, uint64_t seq);
/* Calls fn for each record not yet marked synced, oldest first. */
typedef int (*plog_replay_fn)(void *arg, uint64_t seq, uint64_t volume_id, uint64_t lba,
			      uint32_t nsectors, const void *data);
int plog_replay(struct plog *pl, plog_replay_fn fn, void *arg);

/* ---- metadata journal (journal.c) ----------------------------------- */

struct journal {
	int fd;
	uint64_t seq;  /* last transaction written (or checkpointed) */
	uint64_t size; /* bytes in the file */
	uint8_t *buf;  /* the transaction being built */
	size_t len, cap;
};

enum journal_op { JOURNAL_PUT, JOURNAL_DEL, JOURNAL_APPLIED };
typedef int (*journal_apply_fn)(void *arg, enum journal_op op, const struct extent *e,
				uint64_t plog_seq);
/* 0 when the data blocks of e hold what their checksums say. */
typedef int (*journal_check_fn)(void *arg, const struct extent *e);
int journal_open(struct journal *j, const char *path, uint64_t checkpoint_seq);
void journal_close(struct journal *j);
int journal_put(struct journal *j, const struct extent *e);
int journal_del(struct journal *j, const struct extent *e);
int journal_applied(struct journal *j, uint64_t plog_seq);
int journal_synced(struct journal *j, uint64_t seq);
bool journal_pending(const struct journal *j);
/* Write the records gathered so far as one transaction. */
int journal_commit(struct journal *j);
/* Everything is checkpointed: start an empty file. */
int journal_reset(struct journal *j);
/* Apply the transactions after the checkpoint; *count gets how many.  Those
 * after the last SYNCED mark are applied only while check() finds their
 * data intact. */
int journal_replay(struct journal *j, journal_apply_fn apply, journal_check_fn check, void *arg,
		   uint64_t *count);

/* ---- the store ------------------------------------------------------ */

struct io_list {
	struct cowstore_io_state *head, *tail;
};

struct cowstore_queue {
	struct cowstore *cs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct io_list done;
	int efd; /* -1 for the sync helpers' private queues */
};

struct ns_counts {
	uint64_t next_ino; /* never reused */
	uint64_t files;    /* inodes in use */
};

/* The file namespace's share of the pool (ns_record.c). */
struct ns_state {
	pthread_mutex_t lock;   /* serializes cowstore_ns_* calls; taken before
				 * any call into the store thread, never inside one */
	bool loaded;            /* counters read (root made), orphans reaped */
	struct ns_counts count; /* as in the "Nn" record */
	uint64_t hash_seed;     /* of directory entry cookies, per pool */
	rocksdb_writeoptions_t *nosync; /* cowstore_ns_written's records */
};

struct sync_state {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool requested, finished, stop;
	int result;
};

/* The model's state: the store thread's, except setting (under lock). */
struct emulation {
	pthread_mutex_t lock;               /* guards setting; serializes setters */
	struct cowstore_emulation setting;  /* as stored in the pool; any thread */
	struct cowstore_emulation model;    /* store thread: in force */
	uint64_t *channel_free_ns;          /* store thread: when each channel frees */
	uint64_t next_start_ns;             /* store thread: max_iops spacing */
	struct cowstore_io_state *admitted, *admitted_tail; /* store thread: by
					     * finish time, linked by emu_next */
	int timer_fd;                       /* timerfd polled through the ring */
	uint64_t armed_ns;                  /* its deadline (0: disarmed) */
};

struct cowstore {
	char *dir;
	rocksdb_t *db;
	rocksdb_options_t *dbopts;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	rocksdb_cache_t *cache;
	rocksdb_block_based_table_options_t *tableopts;
	int data_fd;
	int crc_fd;
	uint32_t *crcmap;  /* CRC32C of each data-file block, the crc file mapped */
	struct plog *plog;
	uint64_t plog_applied; /* highest plog seq whose metadata is committed */
	uint64_t checkpoint_seq; /* last journal transaction in RocksDB */
	struct journal journal;
	rocksdb_writebatch_t *ctl_wb; /* the running control request's records */
	bool ctl_heads;               /* ... and it may change heads: commit them */

	/* pool record */
	uint64_t capacity_blocks;
	uint64_t plog_bytes;
	unsigned soft_threshold_pct;
	bool soft_crossed;
	uint64_t next_id;
	int64_t created_ns;
	uint64_t first_id;  /* its own record ("I"), written once at create */

	struct vol **vols;
	uint32_t nvols, vols_cap;
	struct alloc alloc;

	cowstore_event_fn event_fn;
	void *event_arg;

	/* engine (engine.c) */
	struct io_uring ring;
	int wake_fd;
	pthread_t thread;
	pthread_mutex_t sub_lock;
	struct io_list submitted;  /* guarded by sub_lock */
	struct io_list waiting;    /* store thread: not yet started, in order */
	struct io_list inflight;   /* store thread: started, not done */
	uint32_t ninflight;
	bool sync_needed;          /* someone waits for a sync not yet started */
	bool sync_running;
	uint64_t syncs_started;    /* epoch of the newest sync started */
	uint64_t syncing_plog_seq; /* plog records the running sync covers */
	uint64_t syncing_journal_seq; /* journal transactions it covers */
	struct sync_state sync;
	struct cowstore_io_state *committing; /* journaled this turn (commit_next) */
	bool stopping;
	bool failed;               /* a metadata write failed: refuse IO */
	struct emulation emu;      /* emulated device (emulation.c) */

	struct ns_state ns;        /* file namespace: its own lock, any thread */
};

/* ---- emulated device (emulation.c) ---------------------------------- */

#define EMU_TIMER_TAG 2ull /* ring tag of the timer's poll (engine.c's WAKE_TAG is 1) */

/* Engine start and stop: the timer and the lock. */
int emulation_init(struct cowstore *cs);
void emulation_fini(struct cowstore *cs);
/* Read the pool's record and apply it (open, after recovery). */
int emulation_load(struct cowstore *cs, struct cowstore_err *err);
/* Store thread: a request about to start; a READ or WRITE joins the model. */
void emulation_admit(struct cowstore *cs, struct cowstore_io_state *st);
/* Store thread: deliver the admitted requests that are done and due, in
 * order; arm the timer for the next one.  Returns how many it delivered. */
unsigned emulation_release(struct cowstore *cs);
/* Store thread: the timer's poll completed. */
void emulation_timer_fired(struct cowstore *cs);
/* Store thread: (re)arm the ring's poll of the timer. */
void emulation_arm_poll(struct cowstore *cs);

/* ---- metadata (meta.c) ---------------------------------------------- */

enum { KEY_CHUNK_LEN = 17 };
size_t put_varint(uint8_t *p, uint64_t v);
bool get_varint(const uint8_t **p, size_t *left, uint64_t *v);
/* Big-endian integers in keys, so that RocksDB order is numeric order. */
void put_be64(uint8_t *p, uint64_t v);
uint64_t get_be64(const uint8_t *p);
/* Change one layer's map in memory: journaled on the IO path; inside a
 * control request, committed with it (control_commit writes dirty chunks). */
int extent_put(struct cowstore *cs, const struct extent *e);
int extent_delete(struct cowstore *cs, const struct extent *e);
/* The map of a layer (volume head or snapshot), or NULL. */
struct headmap *layer_map(struct cowstore *cs, uint64_t layer);
/* Chunk records ('H' layer chunk): the checkpointed layer maps. */
void chunk_record_put(rocksdb_writebatch_t *wb, uint64_t layer, uint64_t chunk,
		      const uint8_t *val, size_t len);
void chunk_records_drop(rocksdb_writebatch_t *wb, uint64_t layer);
int meta_load_maps(struct cowstore *cs, struct cowstore_err *err);
void checkpoint_seq_put(rocksdb_writebatch_t *wb, uint64_t seq);
void pool_record_put(struct cowstore *cs, rocksdb_writebatch_t *wb);
void first_id_put(rocksdb_writebatch_t *wb, uint64_t first_id);
/* Loads the pool record and the first id with it. */
int pool_record_load(struct cowstore *cs, struct cowstore_err *err);
void vol_record_put(rocksdb_writebatch_t *wb, const struct vol *v);
void vol_record_delete(rocksdb_writebatch_t *wb, uint64_t id);
void snap_record_put(rocksdb_writebatch_t *wb, const struct snap *s);
void snap_record_delete(rocksdb_writebatch_t *wb, uint64_t id);
void applied_seq_put(rocksdb_writebatch_t *wb, uint64_t seq);
int meta_load_objects(struct cowstore *cs, struct cowstore_err *err);
/* Write a batch to RocksDB durably. */
int meta_commit(struct cowstore *cs, rocksdb_writebatch_t *wb);
uint64_t meta_disk_bytes(struct cowstore *cs);

/* Iterate a layer's extents that overlap [lba, lba+n); fn returns nonzero to
 * stop. */
typedef int (*extent_fn)(void *arg, const struct extent *e);
void headmap_free(struct headmap *m);
int headmap_put(struct headmap *m, const struct extent *e);
int headmap_delete(struct headmap *m, const struct extent *e);
int headmap_get_ending(const struct headmap *m, uint64_t layer, uint64_t end,
		       struct extent *out);
int headmap_scan(const struct headmap *m, uint64_t layer, uint64_t lba, uint64_t n,
		 extent_fn fn, void *arg);
/* Put (or delete) the 'H' record of every dirty chunk into wb; clean them. */
int headmap_flush_dirty(struct headmap *m, uint64_t layer, rocksdb_writebatch_t *wb);
/* Load one chunk record of a layer. */
int headmap_load_chunk(struct headmap *m, uint64_t layer, uint64_t chunk, const uint8_t *val,
		       size_t len);
int layer_scan(struct cowstore *cs, uint64_t layer, uint64_t lba, uint64_t n, extent_fn fn,
	       void *arg);

/* ---- extent maps (extent.c) ----------------------------------------- */

/* Resolve what volume v's head (snap == NULL) or snapshot snap shows for
 * blocks [lba, lba+n): every out[i] ends BLK_DATA or BLK_ZERO. */
int view_resolve(struct cowstore *cs, struct vol *v, struct snap *snap, uint64_t lba,
		 uint64_t n, struct blk *out);
/* Replace head mappings of [lba, lba+n) with newmap[] (kinds DATA, ZERO or
 * NONE), or with uniform_kind when newmap is NULL.  Old mappings born before
 * the newest snapshot move into it; others are unreferenced. */
int head_replace(struct cowstore *cs, struct vol *v, uint64_t lba, uint64_t n,
		 const struct blk *newmap, uint8_t uniform_kind);
/* The kind that makes a released range read zeros in v (NONE or ZERO). */
uint8_t vol_zero_kind(const struct vol *v);
/* Blocks that v's head (snap NULL) or snapshot snap shows as data. */
int view_mapped_blocks(struct cowstore *cs, struct vol *v, struct snap *snap, uint64_t *out);
/* Delete every extent of a layer, dropping block references. */
int layer_drop(struct cowstore *cs, uint64_t layer);
/* Names of the clones made from s, as "'a', 'b'"; returns how many. */
size_t clone_names(struct cowstore *cs, const struct snap *s, char *buf, size_t cap);

/* ---- objects (volume.c, snapshot.c) --------------------------------- */

struct vol *vol_find(struct cowstore *cs, uint64_t id);
struct vol *vol_find_name(struct cowstore *cs, const char *name);
struct snap *snap_find(struct cowstore *cs, uint64_t id);
int vol_add(struct cowstore *cs, struct vol *v);
void vol_remove(struct cowstore *cs, struct vol *v);
int vol_snap_add(struct vol *v, struct snap *s);
/* Take s out of its volume's list and free it with its map. */
void snap_destroy(struct snap *s);
struct snap *vol_newest_snap(const struct vol *v);
uint64_t vol_nblocks(const struct vol *v);
int check_name(const char *name, const char *what, struct cowstore_err *err);
void set_err(struct cowstore_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t now_ns(void);

/* ---- moving a volume to another pool (move.c) ------------------------ */

struct move_track;
/* Store thread, before a request that may change blocks [b0, b1) of a
 * volume being moved changes anything: record the chunks it touches. */
void move_track_mark(struct move_track *t, uint64_t b0, uint64_t b1);
/* -EBUSY ("volume 'x' is being moved") when v is; 0 otherwise. */
int vol_refuse_if_moving(const struct vol *v, struct cowstore_err *err);

/* ---- engine (engine.c) ---------------------------------------------- */

typedef int (*control_fn)(struct cowstore *cs, void *arg);
/* Run fn on the store thread, after in-flight IO drains when quiesce. */
int engine_control(struct cowstore *cs, control_fn fn, void *arg, bool quiesce);
int engine_start(struct cowstore *cs);
void engine_stop(struct cowstore *cs);
void emit_event(struct cowstore *cs, enum cowstore_event_type type, uint64_t volume_id,
		uint64_t snapshot_id, uint64_t lba, uint64_t pblock, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void check_soft_threshold(struct cowstore *cs);
/* Synchronous durable sync from the store thread (open, close, full pool). */
int store_sync_now(struct cowstore *cs);
/* st's metadata is in cs->batch: complete it once the batch is written. */
void commit_later(struct cowstore *cs, struct cowstore_io_state *st, bool sync_after);
/* Write this turn's journal transaction (group commit) and complete the
 * requests it carries. */
void flush_batch(struct cowstore *cs);
/* checkpoint.c: write every in-memory map change to RocksDB durably and
 * empty the journal; commit a control request's batch. */
int checkpoint(struct cowstore *cs);
int control_commit(struct cowstore *cs);

/* ---- IO paths (io.c) ------------------------------------------------ */

struct cowstore_io_state {
	struct cowstore_io *io;
	struct cowstore_io_state *next;
	uint64_t lock_id;     /* volume (or snapshot) whose range is locked */
	uint64_t b0, b1;      /* locked block range */
	bool writer;
	uint64_t src_lock_id, src_b0, src_b1; /* COPY source, read-locked */
	/* control ops */
	control_fn control;
	void *control_arg;
	bool quiesce;
	/* data phase */
	int pending;          /* io_uring requests outstanding */
	int error;
	struct blk *map;      /* per block of [b0, b1) */
	uint8_t *bounce;      /* block-aligned staging buffer, or NULL */
	int phase;
	uint64_t expect_bytes, got_bytes; /* of the current io_uring phase */
	uint8_t *copybuf;     /* COPY through data: the source sectors */
	struct cowstore_io_state *commit_next;
	bool sync_after_commit; /* FUA that the log did not take */
	bool wants_sync;      /* done once sync epoch need_epoch completes */
	uint64_t need_epoch;
	/* emulated device (emulation.c) */
	bool emu_admitted;    /* in cs->emu.admitted: done() waits for the model */
	struct cowstore_io_state *emu_next;
	bool emu_done;        /* the real request has finished (result is set) */
	uint64_t emu_due_ns;  /* the model's finish time (CLOCK_MONOTONIC) */
};

void io_start(struct cowstore *cs, struct cowstore_io_state *st);
/* Set the range-lock fields of a request from its cowstore_io. */
void io_set_locks(struct cowstore_io_state *st);
/* Ask for st to complete after the next sync that starts from now. */
void request_durability(struct cowstore *cs, struct cowstore_io_state *st);
struct io_uring_sqe *get_sqe(struct cowstore *cs);
void io_uring_done(struct cowstore *cs, struct cowstore_io_state *st, int res);
/* Finish st with result: deliver it to its queue now, or, when the
 * emulated device admitted it, once the model lets it go. */
void io_complete(struct cowstore *cs, struct cowstore_io_state *st, int result);
/* Take a finished st out of flight and hand it to its queue. */
void io_deliver(struct cowstore *cs, struct cowstore_io_state *st);
void io_state_free(struct cowstore_io_state *st);
/* Blocks of a sector range. */
static inline uint64_t sector_to_block(uint64_t lba) { return lba / SECTORS_PER_BLOCK; }
static inline uint64_t sector_end_block(uint64_t lba, uint64_t n)
{
	return (lba + n + SECTORS_PER_BLOCK - 1) / SECTORS_PER_BLOCK;
}

/* scrub.c: runs on the store thread */
int scrub_run(struct cowstore *cs, struct cowstore_scrub_report *rep);

/* ---- file namespace (ns_record.c, namespace.c, ns_file.c) ----------- */

#define NS_FIRST_COOKIE 3u
#define NS_DIRENT_BYTES 32u /* a directory's size grows by this per entry */

/* An inode record, decoded.  Callers' copies: load, change, put in a batch. */
struct ns_inode {
	uint64_t ino;
	uint32_t gen, type, mode, nlink, uid, gid;
	uint64_t size_bytes;
	uint64_t volume_id;    /* regular file: 0 until its volume exists */
	uint64_t volume_bytes; /* that volume's size */
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint64_t change;
	uint64_t parent;       /* directory: the one holding it (the root: itself) */
	uint64_t probe_max;    /* directory: farthest an entry ever sat above its
				* name's hash slot (ns_record.c) */
};

struct ns_dirent {
	uint64_t cookie, ino;
	uint32_t type;
	char name[COWSTORE_NS_NAME_MAX + 1];
};

/* Open/close the namespace's share of struct cowstore (pool.c). */
void ns_open(struct cowstore *cs);
void ns_close(struct cowstore *cs);
/* Take the namespace lock (loading the namespace on first use) / drop it. */
int ns_enter(struct cowstore *cs);
void ns_leave(struct cowstore *cs);
int ns_commit(struct cowstore *cs, rocksdb_writebatch_t *wb, bool sync);
int ns_name_check(const char *name);

/* A new inode in memory: random generation, times now, change 1. */
int ns_inode_init(struct ns_inode *in, uint64_t ino, uint32_t type, uint32_t mode,
		  uint32_t uid, uint32_t gid);
/* -ESTALE when no such inode. */
int ns_inode_get(struct cowstore *cs, uint64_t ino, struct ns_inode *in);
/* -ESTALE, or -ENOTDIR for another kind. */
int ns_dir_get(struct cowstore *cs, uint64_t ino, struct ns_inode *dir);
void ns_inode_put(rocksdb_writebatch_t *wb, const struct ns_inode *in);
/* Put in and commit it alone. */
int ns_inode_save(struct cowstore *cs, const struct ns_inode *in, bool sync);
/* Forget the inode with its symlink target and snapshot records. */
void ns_inode_delete(struct cowstore *cs, rocksdb_writebatch_t *wb, const struct ns_inode *in);
/* ctime (and mtime when data) become now; change is bumped. */
void ns_touch(struct ns_inode *in, bool data);
void ns_attr_fill(const struct ns_inode *in, struct cowstore_ns_attr *attr);
void ns_counters_put(struct cowstore *cs, rocksdb_writebatch_t *wb, const struct ns_counts *c);

/* Directory entries.  fn returns nonzero to stop the walk (returned). */
typedef int (*ns_entry_fn)(void *arg, const struct ns_dirent *de);
int ns_entries_walk(struct cowstore *cs, uint64_t dir, uint64_t from_cookie, ns_entry_fn fn,
		    void *arg);
int ns_entry_find(struct cowstore *cs, const struct ns_inode *dir, const char *name,
		  struct ns_dirent *de);
/* Add, remove or repoint an entry of dir, updating dir's size, times and
 * probe_max (the caller puts dir). */
int ns_entry_add(struct cowstore *cs, rocksdb_writebatch_t *wb, struct ns_inode *dir,
		 const char *name, uint64_t ino, uint32_t type);
void ns_entry_remove(rocksdb_writebatch_t *wb, struct ns_inode *dir, const struct ns_dirent *de);
void ns_entry_repoint(rocksdb_writebatch_t *wb, struct ns_inode *dir, const struct ns_dirent *de,
		      uint64_t ino, uint32_t type);

void ns_symlink_put(rocksdb_writebatch_t *wb, uint64_t ino, const char *target);
int ns_symlink_get(struct cowstore *cs, uint64_t ino, char *target);
void ns_snaprec_put(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t snap_id,
		    uint64_t size_bytes, int64_t created_ns);
int ns_snaprec_get(struct cowstore *cs, uint64_t ino, uint64_t snap_id, uint64_t *size_bytes,
		   int64_t *created_ns);
void ns_snaprec_delete(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t snap_id);
/* An orphan: a volume to delete, named by id or (0) by its inode. */
void ns_orphan_put(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t volume_id);
void ns_orphan_delete(rocksdb_writebatch_t *wb, uint64_t ino);

static inline uint64_t ns_round_block(uint64_t bytes)
{
	return (bytes + COWSTORE_BLOCK_SIZE - 1) & ~(uint64_t)(COWSTORE_BLOCK_SIZE - 1);
}

/* namespace.c: dir, with name free in it (-EEXIST, the holder in *old
 * when old is not NULL, if not). */
int ns_dir_free_name(struct cowstore *cs, uint64_t dir, const char *name, struct ns_inode *d,
		     struct ns_inode *old);
/* Put dir d with name added for in (new, or one more link), in itself and
 * the counters c (when not NULL) into wb, and commit it synced. */
int ns_add_name(struct cowstore *cs, rocksdb_writebatch_t *wb, struct ns_inode *d,
		const char *name, const struct ns_inode *in, const struct ns_counts *c);

/* ns_file.c: 0 for a regular file, -EISDIR for a directory, else -EINVAL. */
int ns_file_kind(const struct ns_inode *in);
/* Delete an orphan's volume, then its record. */
int ns_orphan_reap(struct cowstore *cs, uint64_t ino, uint64_t volume_id);
/* Set a regular file's size; a shrink zeroes the volume past the new end. */
int ns_file_resize(struct cowstore *cs, struct ns_inode *in, uint64_t size_bytes);

#endif /* SLATE_COWSTORE_INTERNAL_H */
