/*
 * cowstore.h - the copy-on-write extent store: pools, volumes, snapshots,
 * clones, extent-sharing copies, checksums and crash-safe durability.
 *
 * Model.  A pool is a directory: RocksDB metadata (meta/), one data file
 * (data) cut into 4 KiB blocks with their checksums (crc), a metadata
 * journal, and an optional persistent write log (plog).  Volumes are
 * addressed in 512-byte sectors and sized in whole 4 KiB blocks; a request
 * that is not block-aligned is read-modify-write but still atomic.  Data is
 * never overwritten in place: every write goes to fresh blocks and the
 * metadata commit makes it visible, so a crash shows a request either whole
 * or not at all.
 *
 * Space.  Blocks freed by an overwrite, discard or delete count as
 * allocated until the next sync (a flush, or one the store starts itself),
 * because until then the durable metadata may still point at them.
 *
 * Threading.  One store thread owns all metadata and the io_uring ring; a
 * second thread performs durable syncs.  Every public function may be called
 * from any thread.  IO is asynchronous: cowstore_submit() queues a request,
 * and its done() callback later runs in the thread that calls
 * cowstore_queue_reap() on the request's queue (never in the store thread).
 * Management functions are synchronous: they run on the store thread, in
 * order with IO; the ones that free space first wait for in-flight IO.
 *
 * Errors are negative errno values.  Functions taking a struct cowstore_err
 * fill it (when not NULL) with a sentence naming the object and the cause.
 */
#ifndef SLATE_COWSTORE_H
#define SLATE_COWSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COWSTORE_SECTOR_SIZE 512u
#define COWSTORE_BLOCK_SIZE 4096u
#define COWSTORE_NAME_MAX 63u
/* Largest request cowstore_submit() takes; callers split larger ones. */
#define COWSTORE_MAX_IO_BYTES (8u << 20)

struct cowstore;
struct cowstore_queue;

struct cowstore_err {
	char msg[256];
};

/* ---- pools ---------------------------------------------------------- */

struct cowstore_pool_options {
	uint64_t capacity_bytes;     /* data space; 0 means 64 GiB (thin) */
	uint64_t plog_bytes;         /* persistent FUA log; 0 means none */
	unsigned soft_threshold_pct; /* 0 means 80 */
	int preallocate;             /* reserve the data file's space in the file system
				      * now, so writes never wait for it to allocate */
	uint64_t first_id;           /* ids of volumes and snapshots start here; 0 means 1.
				      * Pools of one appliance get disjoint ranges, so that
				      * an id names one volume among all of them.  Below 2^62. */
};

/* Create a new pool in dir (the last path component is created if missing;
 * it must hold no pool). */
int cowstore_pool_create(const char *dir, const struct cowstore_pool_options *opts,
			 struct cowstore_err *err);
/* Open a pool; replays the persistent log and rebuilds allocation state.
 * The caller owns *out and releases it with cowstore_close(). */
int cowstore_open(const char *dir, struct cowstore **out, struct cowstore_err *err);
/* Wait for in-flight IO, make everything durable, release the pool. */
void cowstore_close(struct cowstore *cs);

struct cowstore_pool_info {
	uint64_t capacity_bytes;
	uint64_t allocated_bytes;  /* blocks holding data (shared ones once) */
	uint64_t free_bytes;
	uint64_t logical_bytes;    /* mapped bytes summed over every volume and snapshot view */
	uint64_t metadata_bytes;   /* RocksDB files on disk */
	uint64_t plog_bytes;
	unsigned soft_threshold_pct;
	int soft_threshold_crossed;
	uint32_t nvolumes;
	uint32_t nsnapshots;
	uint32_t format_version;
	uint64_t first_id;         /* the pool's first id (1 for pools made before ranges) */
	uint64_t next_id;          /* the id the next volume or snapshot gets */
};
int cowstore_pool_info(struct cowstore *cs, struct cowstore_pool_info *info);

enum cowstore_event_type {
	COWSTORE_EVENT_SOFT_THRESHOLD, /* allocation crossed the soft threshold */
	COWSTORE_EVENT_CHECKSUM_ERROR, /* a stored block failed its CRC32C */
	COWSTORE_EVENT_POOL_FULL,      /* a write was refused with -ENOSPC */
};
struct cowstore_event {
	enum cowstore_event_type type;
	uint64_t volume_id;   /* 0 when not about one volume */
	uint64_t snapshot_id; /* 0 when about a volume's head */
	uint64_t lba;         /* sector, for checksum errors */
	uint64_t pblock;      /* data-file block, for checksum errors */
	char message[200];
};
/* The handler runs on the store thread: it must be quick and must not call
 * back into cowstore.  Set it before submitting IO. */
typedef void (*cowstore_event_fn)(void *arg, const struct cowstore_event *ev);
void cowstore_set_event_handler(struct cowstore *cs, cowstore_event_fn fn, void *arg);

/* ---- volumes -------------------------------------------------------- */

struct cowstore_volume_info {
	uint64_t id;
	char name[COWSTORE_NAME_MAX + 1];
	uint64_t size_bytes;
	int64_t created_unix_ns;
	uint64_t parent_snapshot_id; /* 0 unless a clone */
	uint64_t serial;             /* identity for hosts (SCSI serial, NAA): the id, or
				      * the serial of the volume it was moved from */
	uint32_t nsnapshots;
	uint32_t nclones;            /* clones made from this volume's snapshots */
	/* Space (filled by cowstore_volume_info/_list only when asked): */
	uint64_t mapped_bytes;       /* bytes of the volume that read data */
	uint64_t unique_bytes;       /* held by this volume's head alone */
};

/* size_bytes: a positive multiple of COWSTORE_BLOCK_SIZE. */
int cowstore_volume_create(struct cowstore *cs, const char *name, uint64_t size_bytes,
			   uint64_t *id_out, struct cowstore_err *err);
int cowstore_volume_lookup(struct cowstore *cs, const char *name, uint64_t *id_out);
/* with_space: also compute mapped/unique bytes (reads the extent maps). */
int cowstore_volume_info(struct cowstore *cs, uint64_t id, int with_space,
			 struct cowstore_volume_info *info);
/* *list is allocated with malloc and owned by the caller. */
int cowstore_volume_list(struct cowstore *cs, int with_space,
			 struct cowstore_volume_info **list, size_t *count);
/* Grow or shrink; shrinking releases the blocks past the new end. */
int cowstore_volume_resize(struct cowstore *cs, uint64_t id, uint64_t size_bytes,
			   struct cowstore_err *err);
/* Delete a volume with its snapshots; -EBUSY naming clones that depend on it. */
int cowstore_volume_delete(struct cowstore *cs, uint64_t id, struct cowstore_err *err);
/* Give a volume a new name (the rules of create; -EINVAL), durably; its id,
 * data, snapshots and clones stay as they are.  -ENOENT (no such volume),
 * -EEXIST (another volume has the name); its own name changes nothing. */
int cowstore_volume_rename(struct cowstore *cs, uint64_t id, const char *name,
			   struct cowstore_err *err);

/* ---- snapshots and clones ------------------------------------------- */

struct cowstore_snapshot_info {
	uint64_t id;
	uint64_t volume_id;
	char name[COWSTORE_NAME_MAX + 1];
	int64_t created_unix_ns;
	uint64_t size_bytes;
	uint64_t group_id;       /* shared by snapshots taken in one group */
	uint32_t nclones;
	uint64_t unique_bytes;   /* freed if this snapshot is deleted */
	uint64_t shared_bytes;   /* data it shows that something else also holds */
};

/* Instant, O(1): nothing is copied. */
int cowstore_snapshot_create(struct cowstore *cs, uint64_t volume_id, const char *name,
			     uint64_t *snap_id_out, struct cowstore_err *err);
/* Snapshot several volumes at one instant (a consistency group); every
 * snapshot gets the same name and group id.  snap_ids_out has count slots. */
int cowstore_snapshot_group_create(struct cowstore *cs, const uint64_t *volume_ids,
				   size_t count, const char *name, uint64_t *snap_ids_out,
				   struct cowstore_err *err);
int cowstore_snapshot_lookup(struct cowstore *cs, uint64_t volume_id, const char *name,
			     uint64_t *snap_id_out);
/* Oldest first; *list is malloc'ed and owned by the caller. */
int cowstore_snapshot_list(struct cowstore *cs, uint64_t volume_id,
			   struct cowstore_snapshot_info **list, size_t *count);
/* Reclaims exactly the snapshot's unique space; -EBUSY naming its clones. */
int cowstore_snapshot_delete(struct cowstore *cs, uint64_t snap_id, struct cowstore_err *err);

/* Roll the volume back to the snapshot.  Newer snapshots of the volume
 * must be deleted first (-EBUSY naming them) unless the flag asks for it. */
#define COWSTORE_ROLLBACK_DELETE_NEWER 1u
int cowstore_snapshot_rollback(struct cowstore *cs, uint64_t snap_id, unsigned flags,
			       struct cowstore_err *err);
/* A new writable volume sharing all of the snapshot's data; instant. */
int cowstore_clone_create(struct cowstore *cs, uint64_t snap_id, const char *name,
			  uint64_t *volume_id_out, struct cowstore_err *err);

/* ---- moving a volume to another pool (move.c) ------------------------ */

/*
 * A move copies a volume, with its snapshots, into a new volume of another
 * pool while its users keep writing to it: cowstore records which 1 MiB
 * chunks of the source change and copies them again, until the caller stops
 * the users and finishes.  The mover calls these from one thread at a time.
 * Until the move ends, the destination volume is the move's: nobody else
 * may use it.  End every move before closing either pool.
 */
struct cowstore_move;
struct cowstore_move_progress {
	uint64_t copied_bytes;  /* copied so far, all passes, snapshots included */
	uint64_t total_bytes;   /* estimate of all there is to copy: grows as writes dirty copied parts */
	uint64_t dirty_bytes;   /* of the live volume, known changed since copied (still to copy) */
	unsigned pass;          /* 0: snapshots, 1: first pass over the live volume, 2..: changed parts */
};
/* Start moving volume_id of src into a new volume named dst_name in dst
 * (same size, same creation time).  From now on cowstore records which
 * 1 MiB chunks of the source volume change (writes, write-zeroes, discards,
 * copies into it).  While a move runs, resize, delete, rollback, snapshot
 * create/delete and clone-from-its-snapshots of the source are refused with
 * -EBUSY ("volume X is being moved"); rename is not.  Refused with -EBUSY
 * when clones depend on the volume's snapshots (their blocks cannot leave
 * the pool) or when it is being moved already; a volume that is itself a
 * clone moves as a full, independent volume.  -EXDEV if src == dst,
 * -EEXIST if dst_name exists in dst, -ENOENT (no such volume), -EINVAL (bad
 * name).  Waits, once, until no IO is in flight on src.  The caller owns
 * *out (cowstore_move_end). */
int cowstore_move_start(struct cowstore *src, uint64_t volume_id, struct cowstore *dst,
			const char *dst_name, struct cowstore_move **out, struct cowstore_err *err);
/* Copy up to about max_bytes more (0: none, only fill *p); IO on the source
 * may go on meanwhile.  First the volume's snapshots, oldest first: each
 * one's data is written into the destination volume (only the blocks that
 * differ from what the destination holds, so snapshots in the destination
 * share what they have in common) and then a snapshot with the same name
 * (and creation time) is taken of the destination.  Then the live volume:
 * pass 1 copies every mapped chunk (holes stay holes), later passes copy
 * the chunks changed since they were copied.  Fills *p (when not NULL;
 * dirty_bytes counts whole changed chunks: 0 in pass 0, those behind the
 * cursor in pass 1).
 * 0 or a negative errno (the move is then unusable; call end). */
int cowstore_move_step(struct cowstore_move *m, uint64_t max_bytes,
		       struct cowstore_move_progress *p);
/* The caller has stopped all IO to the source volume (none in flight, none
 * will come): copy every chunk still changed, flush the destination; the
 * destination now reads exactly as the source and maps data exactly where
 * it does (a hole stays a hole).
 * *dst_volume_id: the destination volume.  The source volume is left as it
 * is (the caller switches its users over, then deletes it and may rename
 * the destination). */
int cowstore_move_finish(struct cowstore_move *m, uint64_t *dst_volume_id,
			 struct cowstore_err *err);
/* Stop recording changes and free m. keep false (an abandoned or failed
 * move): the destination volume and its snapshots are deleted.  After a
 * finish, keep true. */
void cowstore_move_end(struct cowstore_move *m, bool keep);

/* ---- asynchronous IO ------------------------------------------------ */

enum cowstore_op {
	COWSTORE_OP_READ,
	COWSTORE_OP_WRITE,
	COWSTORE_OP_WRITE_ZEROES, /* reads back as zeros, frees space */
	COWSTORE_OP_DISCARD,      /* same as write-zeroes here (LBPRZ) */
	COWSTORE_OP_FLUSH,        /* everything completed before it becomes durable */
	COWSTORE_OP_COPY,         /* share src range into dst; data copied only where unaligned */
};

#define COWSTORE_IO_FUA 1u /* durable when done() runs */

struct cowstore_io_state;

struct cowstore_io {
	/* Set by the caller. */
	enum cowstore_op op;
	unsigned flags;
	uint64_t volume_id;
	uint64_t snapshot_id;     /* READ only: nonzero reads that snapshot */
	uint64_t lba;             /* first 512-byte sector */
	uint32_t nsectors;
	void *buf;                /* READ/WRITE: nsectors * 512 bytes */
	uint64_t src_volume_id;   /* COPY: source volume and first sector */
	uint64_t src_lba;
	struct cowstore_queue *queue; /* where done() runs; NULL only inside the sync helpers */
	void (*done)(struct cowstore_io *io);
	void *priv;

	/* Set by cowstore before done(). */
	int result;               /* 0, or -EINVAL/-ENOENT/-ENOSPC/-EIO/... */
	uint64_t error_lba;       /* -EIO: first sector whose block failed its checksum */

	struct cowstore_io_state *state; /* private */
};

/* Queue a request.  Returns 0 (done() will run) or a negative errno for a
 * request that is malformed on its face (done() will not run). */
int cowstore_submit(struct cowstore *cs, struct cowstore_io *io);
/* Complete io with result (a negative errno) without running it: done()
 * runs in the thread that reaps io->queue, as for any request.  For a
 * scheduler that accepted a request and could not submit it later from
 * another thread.  0, or -EINVAL (no queue, result >= 0) / -ENOMEM
 * (done() will not run). */
int cowstore_io_fail(struct cowstore_io *io, int result);

/* A completion queue belongs to one thread.  Its fd (an eventfd) becomes
 * readable when completions wait; reap runs their done() callbacks. */
int cowstore_queue_create(struct cowstore *cs, struct cowstore_queue **out);
int cowstore_queue_fd(const struct cowstore_queue *q);
/* Runs up to max callbacks (0 means all waiting); returns how many ran. */
int cowstore_queue_reap(struct cowstore_queue *q, unsigned max);
/* Blocks until at least one completion waits or timeout_ms passes (-1: forever). */
int cowstore_queue_wait(struct cowstore_queue *q, int timeout_ms);
/* The queue must have no request in flight. */
void cowstore_queue_destroy(struct cowstore_queue *q);

/* Synchronous helpers for tools and tests: submit one request and wait. */
int cowstore_read(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		  void *buf);
int cowstore_read_snapshot(struct cowstore *cs, uint64_t snap_id, uint64_t lba,
			   uint32_t nsectors, void *buf);
int cowstore_write(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		   const void *buf, unsigned flags);
int cowstore_write_zeroes(struct cowstore *cs, uint64_t volume_id, uint64_t lba,
			  uint32_t nsectors);
int cowstore_discard(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors);
int cowstore_copy(struct cowstore *cs, uint64_t dst_volume_id, uint64_t dst_lba,
		  uint64_t src_volume_id, uint64_t src_lba, uint32_t nsectors);
int cowstore_flush(struct cowstore *cs);

/* ---- emulated device (for tests and benchmarks only) ---------------- */

/*
 * An EMULATED DEVICE is a model of a slower device put in front of the real
 * data path, so that tests and benchmarks can contend a pool on purpose (on
 * tmpfs nothing ever is).  It is not for production.
 *
 * The model: `channels` parallel channels serve READ and WRITE requests in
 * the order they start (FIFO).  A request takes the channel that frees
 * first, starts when it frees (never before it reaches the store thread,
 * and with max_iops set never sooner than 1/max_iops after the previous
 * start) and holds it for service(bytes) = fixed_us + bytes / bytes_per_s.
 * Its done() is delivered no earlier than the model's finish time, and in
 * the order of finish times: a real IO slower than the model holds back the
 * ones behind it, as on a FIFO device.  The real IO still happens at once,
 * so data stays exact.  Flush, write-zeroes, discard and copy pass through
 * unmodelled.  So the device serves at most
 *     channels * 1e6 / service_us(size) IOs per second (and max_iops),
 *     channels * bytes_per_s bytes per second.
 * When off, nothing on the IO path changes.
 *
 * The setting is kept in the pool (configuration record
 * COWSTORE_EMULATION_KEY) and applied by every later cowstore_open().
 */
#define COWSTORE_EMULATION_KEY "cowstore/emulated-device"
#define COWSTORE_EMULATION_MAX_CHANNELS 1024u
#define COWSTORE_EMULATION_MAX_FIXED_US 10000000u /* 10 s */

struct cowstore_emulation {
	int on;               /* 0: no emulated device (the other fields are ignored) */
	uint32_t channels;    /* 1..COWSTORE_EMULATION_MAX_CHANNELS */
	uint32_t fixed_us;    /* per request, whatever its size */
	uint64_t bytes_per_s; /* per channel; 0: no size term */
	uint32_t max_iops;    /* request starts per second, whole device; 0: no cap */
};

/* Store the setting in the pool (synced) and apply it now, from any thread
 * but the store thread; requests already admitted keep their finish times.
 * -EINVAL for figures out of range (nothing changes). */
int cowstore_emulation_set(struct cowstore *cs, const struct cowstore_emulation *e);
/* The setting in force ({.on = 0} when none); any thread. */
int cowstore_emulation_get(struct cowstore *cs, struct cowstore_emulation *e);
/* "3 channels, 2000 us + 100000000 B/s per request, at most 500 IOPS" (or
 * "off") into buf; for logs and tools. */
void cowstore_emulation_describe(const struct cowstore_emulation *e, char *buf, size_t len);

/* ---- configuration records ------------------------------------------ */

/* Named values for the layers above (iSCSI targets, CHAP, reservations),
 * stored in the pool's metadata with a synced write; any thread.  Keys are
 * printable ASCII without spaces; list visits keys in byte order. */
#define COWSTORE_CONFIG_KEY_MAX 255u
#define COWSTORE_CONFIG_VALUE_MAX (1u << 20)
typedef int (*cowstore_config_fn)(void *arg, const char *key, const void *value, size_t len);

int cowstore_config_put(struct cowstore *cs, const char *key, const void *value, size_t len);
/* *value is malloc'd (the caller frees it); -ENOENT when absent. */
int cowstore_config_get(struct cowstore *cs, const char *key, void **value, size_t *len);
int cowstore_config_delete(struct cowstore *cs, const char *key);
/* fn for every key starting with prefix; a nonzero return stops the walk
 * and is returned. */
int cowstore_config_list(struct cowstore *cs, const char *prefix, cowstore_config_fn fn,
			 void *arg);
/* Several puts and deletes (value NULL) as one atomic, synced write;
 * deleting an absent key is no error.  -EINVAL (nothing written) when any
 * key or value is not acceptable to cowstore_config_put. */
struct cowstore_config_change {
	const char *key;
	const void *value; /* NULL: delete key */
	size_t len;
};
int cowstore_config_apply(struct cowstore *cs, const struct cowstore_config_change *changes,
			  size_t count);

/* ---- file namespace (namespace.c, ns_file.c, ns_record.c) ------------ */

/*
 * A POSIX-like tree of files for the NFS server: directories, names,
 * attributes, hard links and symlinks are RocksDB records (prefix "N");
 * a regular file's data is a cowstore volume named "file.<ino>", created on
 * the first write or snapshot (an empty file has none) and grown by
 * doubling, so its size in blocks may exceed the file's size; the volume
 * reads zeros past the file's size, and bytes past the volume's end read
 * as zeros.  Volume names "file.<number>" belong to the namespace: a volume
 * so named for a live inode that has none is taken as its (what a crash
 * between making it and recording it leaves).  Every call is atomic and
 * durable when it returns (one synced RocksDB write batch; the data
 * changes of a size change or rollback come first), except
 * cowstore_ns_written(), whose record is durable after cowstore_ns_sync().
 * Calls are serialized by one mutex; any thread may call them.  atime
 * changes only by create and setattr (reads do not touch it).
 *
 * Inode numbers are never reused; each inode also has a random 32-bit
 * generation, so a file handle naming a removed inode, or one from another
 * pool, answers -ESTALE.  The root directory is COWSTORE_NS_ROOT and exists
 * from the first cowstore_ns_* call on.
 *
 * Errors: -ENOENT, -EEXIST, -ENOTDIR, -EISDIR, -ENOTEMPTY, -ESTALE (no
 * such inode or wrong generation), -ENAMETOOLONG, -EINVAL (bad name such
 * as "", ".", "..", or one holding '/' or NUL; a rename into its own
 * subtree), -EMLINK, -EFBIG (size past COWSTORE_NS_MAX_FILE_BYTES),
 * -ENOSPC, -EIO.
 */
#define COWSTORE_NS_ROOT 1u
#define COWSTORE_NS_NAME_MAX 255u
#define COWSTORE_NS_PATH_MAX 4095u            /* symlink target length */
#define COWSTORE_NS_MAX_FILE_BYTES (1ull << 44) /* 16 TiB */
#define COWSTORE_NS_LINK_MAX 32000u

enum cowstore_ns_type {
	COWSTORE_NS_REG = 1,
	COWSTORE_NS_DIR = 2,
	COWSTORE_NS_LNK = 5,
	COWSTORE_NS_SOCK = 6,
	COWSTORE_NS_FIFO = 7, /* numbered as NFSv3's ftype3 */
};

struct cowstore_ns_attr {
	uint64_t ino;
	uint32_t gen;
	uint32_t type;          /* enum cowstore_ns_type */
	uint32_t mode;          /* permission bits only (07777) */
	uint32_t nlink;         /* a directory: 2 + its subdirectories */
	uint32_t uid, gid;
	uint64_t size_bytes;    /* file length; a symlink's target length; a
				 * directory: number of entries * 32 (a hint) */
	uint64_t used_bytes;    /* a regular file: its size rounded up to a
				 * block, at most its volume's size (not a
				 * count of mapped blocks, which costs a scan
				 * of the volume's map); 0 for other kinds */
	uint64_t volume_id;     /* 0 until the first write */
	uint64_t volume_bytes;  /* the volume's size: bytes of the file past it
				 * read as zeros */
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint64_t change;        /* bumped by every change to the inode */
};

/* What cowstore_ns_setattr() changes: a mask of these. */
#define COWSTORE_NS_SET_MODE  0x01u
#define COWSTORE_NS_SET_UID   0x02u
#define COWSTORE_NS_SET_GID   0x04u
#define COWSTORE_NS_SET_SIZE  0x08u
#define COWSTORE_NS_SET_ATIME 0x10u /* to attr.atime_ns */
#define COWSTORE_NS_SET_MTIME 0x20u /* to attr.mtime_ns */
#define COWSTORE_NS_SET_ATIME_NOW 0x40u
#define COWSTORE_NS_SET_MTIME_NOW 0x80u

struct cowstore_ns_create {
	uint32_t type;             /* REG, DIR, LNK, SOCK or FIFO */
	uint32_t mode, uid, gid;
	const char *symlink;       /* LNK: the target, 1..COWSTORE_NS_PATH_MAX bytes */
	int64_t atime_ns, mtime_ns; /* 0: now (NFS exclusive create keeps its
				     * verifier here) */
};

/* ino and gen must match a live inode (gen 0 skips the generation check). */
int cowstore_ns_getattr(struct cowstore *cs, uint64_t ino, uint32_t gen,
			struct cowstore_ns_attr *attr);
int cowstore_ns_lookup(struct cowstore *cs, uint64_t dir, const char *name,
		       struct cowstore_ns_attr *attr);
/* -EEXIST (with *attr filled with the existing inode) when name exists. */
int cowstore_ns_create(struct cowstore *cs, uint64_t dir, const char *name,
		       const struct cowstore_ns_create *how, struct cowstore_ns_attr *attr);
/* A new name for a non-directory. */
int cowstore_ns_link(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		     struct cowstore_ns_attr *attr);
/* Remove a name: is_dir selects rmdir (-ENOTDIR otherwise) or unlink
 * (-EISDIR on a directory).  The last name of a file deletes its volume and
 * the volume's snapshots (the name is gone when this returns 0; a volume
 * whose delete failed is recorded and deleted at a later open). */
int cowstore_ns_remove(struct cowstore *cs, uint64_t dir, const char *name, int is_dir);
/* POSIX rename, atomic: an existing target is replaced when the kinds
 * match (a directory only when empty); renaming onto another name of the
 * same inode does nothing. */
int cowstore_ns_rename(struct cowstore *cs, uint64_t from_dir, const char *from_name,
		       uint64_t to_dir, const char *to_name);
/* A directory's entries in a stable order, "." and ".." excluded.  Each
 * entry has a cookie (>= 3, never reused for another name in that
 * directory while the entry lives) and the walk starts after the entry whose
 * cookie is given (0: from the start; a cookie whose entry was removed still
 * positions the walk).  fn returns nonzero to stop (returned as is).  The
 * walk shows the directory as it was when it began and holds no lock while
 * fn runs, so fn may call the other cowstore_ns_* functions. */
typedef int (*cowstore_ns_dirent_fn)(void *arg, const char *name, uint64_t ino,
				     uint64_t cookie);
int cowstore_ns_readdir(struct cowstore *cs, uint64_t dir, uint64_t after_cookie,
			cowstore_ns_dirent_fn fn, void *arg);
/* A directory's parent (the root's parent is the root). */
int cowstore_ns_parent(struct cowstore *cs, uint64_t dir, uint64_t *parent);
/* if_ctime_ns nonzero: -EAGAIN unless the inode's ctime equals it (NFS's
 * guard).  Any change sets ctime to now; SIZE also sets mtime (unless
 * MTIME/MTIME_NOW is given).  SIZE on a directory is -EISDIR, on another
 * non-regular file -EINVAL; shrinking releases the blocks past the new end
 * (the volume shrinks to the block holding it) and zeroes the rest of that
 * block.  mask 0 changes nothing and fills *attr. */
int cowstore_ns_setattr(struct cowstore *cs, uint64_t ino, unsigned mask,
			const struct cowstore_ns_attr *values, int64_t if_ctime_ns,
			struct cowstore_ns_attr *attr);
/* target: COWSTORE_NS_PATH_MAX + 1 bytes; -EINVAL on a non-symlink. */
int cowstore_ns_readlink(struct cowstore *cs, uint64_t ino, char *target);

/* Data.  cowstore_ns_volume() returns the volume holding the file's data,
 * creating it or growing it so it holds at least end_bytes (used before a
 * write; then IO goes straight to the volume with cowstore_submit()).
 * cowstore_ns_written() records a write that ended at end_bytes: the size
 * grows to it, mtime and ctime become now.  cowstore_ns_sync() makes every
 * record and data write made so far durable.  Both take regular files only
 * (-EISDIR, -EINVAL).  The caller orders a file's writes against changes
 * of its size: a shrink between cowstore_ns_volume() and the write may
 * leave the volume too small for it (the write fails with -EINVAL). */
int cowstore_ns_volume(struct cowstore *cs, uint64_t ino, uint64_t end_bytes,
		       uint64_t *volume_id);
int cowstore_ns_written(struct cowstore *cs, uint64_t ino, uint64_t end_bytes,
			struct cowstore_ns_attr *attr);
int cowstore_ns_sync(struct cowstore *cs);

struct cowstore_ns_stat {
	uint64_t files;     /* inodes in use */
	uint64_t max_files; /* files + the pool's free blocks: a new inode
			     * costs no block, but one to write to does */
};
int cowstore_ns_statfs(struct cowstore *cs, struct cowstore_ns_stat *st);

/* Per-file snapshots and clones: instant.  A snapshot keeps the file's
 * data and size; rolling back restores both (newer snapshots must be
 * deleted first: -EBUSY).  Snapshot names are the store's (1 to
 * COWSTORE_NAME_MAX of letters, digits and - _ . : @; -EINVAL).  A clone
 * is a new file name in dir whose data shares every block of the source's
 * current data (no dependency on it); it has the source's mode, owner,
 * size, atime and mtime, a new ctime.  A file written while it is cloned
 * may show each COWSTORE_MAX_IO_BYTES range of the clone at its own
 * instant. */
struct cowstore_ns_snapshot {
	uint64_t snap_id;
	char name[COWSTORE_NAME_MAX + 1];
	int64_t created_unix_ns;
	uint64_t size_bytes;    /* the file's size when taken */
	uint64_t unique_bytes;  /* freed if deleted */
};
int cowstore_ns_snapshot_create(struct cowstore *cs, uint64_t ino, const char *name,
				struct cowstore_ns_snapshot *snap, struct cowstore_err *err);
/* Oldest first; *list is malloc'ed, owned by the caller. */
int cowstore_ns_snapshot_list(struct cowstore *cs, uint64_t ino,
			      struct cowstore_ns_snapshot **list, size_t *count);
int cowstore_ns_snapshot_delete(struct cowstore *cs, uint64_t ino, const char *name,
				struct cowstore_err *err);
int cowstore_ns_snapshot_rollback(struct cowstore *cs, uint64_t ino, const char *name,
				  struct cowstore_err *err);
int cowstore_ns_clone(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		      struct cowstore_ns_attr *attr, struct cowstore_err *err);

/* ---- checking ------------------------------------------------------- */

struct cowstore_bad_block {
	uint64_t volume_id;
	uint64_t snapshot_id; /* 0: the volume's head */
	uint64_t lba;         /* first sector of the bad block */
	uint64_t pblock;
};
struct cowstore_scrub_report {
	uint64_t blocks_checked;
	uint64_t bad_blocks;
	struct cowstore_bad_block first_bad[16]; /* the first ones found */
};
/* Read and verify every stored block of the pool. */
int cowstore_scrub(struct cowstore *cs, struct cowstore_scrub_report *report);

#endif /* SLATE_COWSTORE_H */
