/*
 * ns_record.c - how the file namespace (namespace.c, ns_file.c) is kept in
 * the pool's RocksDB, its lock, and its loading on first use.
 *
 * Keys (integers big-endian, so a directory's entries sort by cookie):
 *   "Nn"              counters: next inode number, inodes in use, hash seed
 *   "Ni" ino          inode: attributes
 *   "Nd" dir cookie   directory entry: type, child inode, name
 *   "Nl" ino          symlink target
 *   "Ns" ino snap     per-file snapshot: the file's size and time when taken
 *   "No" ino          orphan: a volume to delete (its file is gone, or a
 *                     clone of it failed half-way), by id or, 0, by name
 * Values start with a version byte; then fixed little-endian fields.
 *
 * Cookies.  An entry's cookie is its name's seeded hash (NS_FIRST_COOKIE
 * to 2^63 + 2), or the first free value above it when that is taken.  A
 * directory's probe_max records the farthest any entry ever sat above its
 * hash slot, so a lookup reads the slots [hash, hash + probe_max]: removals
 * leave holes that need no repair, and a live entry's cookie never changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cowstore/internal.h"

#define RECORD_VERSION 1u
#define INODE_BYTES 102u  /* version, type, 5 x u32, 10 x u64 */
#define DIRENT_FIXED 10u  /* version, type, ino; the name follows */
#define COUNTERS_BYTES 25u
#define SNAPREC_BYTES 17u
#define ORPHAN_BYTES 9u

struct ns_key {
	uint8_t b[18];
	size_t len;
};

/* "N" kind, then nids of a, b. */
static struct ns_key make_key(char kind, int nids, uint64_t a, uint64_t b)
{
	struct ns_key k = { { 'N', (uint8_t)kind }, 2 + 8 * (size_t)nids };
	if (nids > 0)
		put_be64(k.b + 2, a);
	if (nids > 1)
		put_be64(k.b + 10, b);
	return k;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_le(const uint8_t **p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += bytes;
	return v;
}

/* *val is malloc'd; -ENOENT when absent. */
static int db_get(struct cowstore *cs, struct ns_key k, char **val, size_t *len)
{
	char *dberr = NULL;
	*val = rocksdb_get(cs->db, cs->ropts, (const char *)k.b, k.len, len, &dberr);
	if (dberr) {
		free(dberr);
		return -EIO;
	}
	return *val ? 0 : -ENOENT;
}

static void db_put(rocksdb_writebatch_t *wb, struct ns_key k, const uint8_t *val, size_t len)
{
	rocksdb_writebatch_put(wb, (const char *)k.b, k.len, (const char *)val, len);
}

static void db_delete(rocksdb_writebatch_t *wb, struct ns_key k)
{
	rocksdb_writebatch_delete(wb, (const char *)k.b, k.len);
}

int ns_commit(struct cowstore *cs, rocksdb_writebatch_t *wb, bool sync)
{
	char *dberr = NULL;
	rocksdb_write(cs->db, sync ? cs->wopts : cs->ns.nosync, wb, &dberr);
	if (!dberr)
		return 0;
	free(dberr);
	return -EIO;
}

static int random_bytes(void *buf, size_t len)
{
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -EIO;
}

int ns_name_check(const char *name)
{
	size_t len = name ? strnlen(name, COWSTORE_NS_NAME_MAX + 1) : 0;
	if (len > COWSTORE_NS_NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* ---- inodes ------------------------------------------------------------ */

int ns_inode_init(struct ns_inode *in, uint64_t ino, uint32_t type, uint32_t mode,
		  uint32_t uid, uint32_t gid)
{
	memset(in, 0, sizeof(*in));
	do {
		if (random_bytes(&in->gen, sizeof(in->gen)))
			return -EIO;
	} while (!in->gen);
	in->ino = ino;
	in->type = type;
	in->mode = mode;
	in->uid = uid;
	in->gid = gid;
	in->nlink = type == COWSTORE_NS_DIR ? 2 : 1;
	in->atime_ns = in->mtime_ns = in->ctime_ns = now_ns();
	in->change = 1;
	return 0;
}

void ns_inode_put(rocksdb_writebatch_t *wb, const struct ns_inode *in)
{
	uint8_t v[INODE_BYTES], *p = v;
	*p++ = RECORD_VERSION;
	*p++ = (uint8_t)in->type;
	p = put_le(p, in->gen, 4);
	p = put_le(p, in->mode, 4);
	p = put_le(p, in->nlink, 4);
	p = put_le(p, in->uid, 4);
	p = put_le(p, in->gid, 4);
	p = put_le(p, in->size_bytes, 8);
	p = put_le(p, in->volume_id, 8);
	p = put_le(p, in->volume_bytes, 8);
	p = put_le(p, (uint64_t)in->atime_ns, 8);
	p = put_le(p, (uint64_t)in->mtime_ns, 8);
	p = put_le(p, (uint64_t)in->ctime_ns, 8);
	p = put_le(p, in->change, 8);
	p = put_le(p, in->parent, 8);
	put_le(p, in->probe_max, 8);
	db_put(wb, make_key('i', 1, in->ino, 0), v, sizeof(v));
}

static void inode_decode(const uint8_t *p, struct ns_inode *in)
{
	p++; /* version */
	in->type = (uint32_t)get_le(&p, 1);
	in->gen = (uint32_t)get_le(&p, 4);
	in->mode = (uint32_t)get_le(&p, 4);
	in->nlink = (uint32_t)get_le(&p, 4);
	in->uid = (uint32_t)get_le(&p, 4);
	in->gid = (uint32_t)get_le(&p, 4);
	in->size_bytes = get_le(&p, 8);
	in->volume_id = get_le(&p, 8);
	in->volume_bytes = get_le(&p, 8);
	in->atime_ns = (int64_t)get_le(&p, 8);
	in->mtime_ns = (int64_t)get_le(&p, 8);
	in->ctime_ns = (int64_t)get_le(&p, 8);
	in->change = get_le(&p, 8);
	in->parent = get_le(&p, 8);
	in->probe_max = get_le(&p, 8);
}

int ns_inode_get(struct cowstore *cs, uint64_t ino, struct ns_inode *in)
{
	char *val;
	size_t len;
	int rc = ino ? db_get(cs, make_key('i', 1, ino, 0), &val, &len) : -ENOENT;
	if (rc)
		return rc == -ENOENT ? -ESTALE : rc;
	if (len == INODE_BYTES && (uint8_t)val[0] == RECORD_VERSION) {
		in->ino = ino;
		inode_decode((const uint8_t *)val, in);
	} else {
		rc = -EIO;
	}
	free(val);
	return rc;
}

int ns_dir_get(struct cowstore *cs, uint64_t ino, struct ns_inode *dir)
{
	int rc = ns_inode_get(cs, ino, dir);
	return !rc && dir->type != COWSTORE_NS_DIR ? -ENOTDIR : rc;
}

int ns_inode_save(struct cowstore *cs, const struct ns_inode *in, bool sync)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_inode_put(wb, in);
	int rc = ns_commit(cs, wb, sync);
	rocksdb_writebatch_destroy(wb);
	return rc;
}

/* Point deletes only: a range tombstone would make every later read of the
 * memtable slower (RocksDB fragments them on each get), and removing files
 * is common.  Only a file that had a volume can have snapshot records. */
void ns_inode_delete(struct cowstore *cs, rocksdb_writebatch_t *wb, const struct ns_inode *in)
{
	db_delete(wb, make_key('i', 1, in->ino, 0));
	if (in->type == COWSTORE_NS_LNK)
		db_delete(wb, make_key('l', 1, in->ino, 0));
	if (!in->volume_id)
		return;
	struct ns_key k = make_key('s', 1, in->ino, 0);
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	for (rocksdb_iter_seek(it, (const char *)k.b, k.len); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);
		if (klen < k.len || memcmp(key, k.b, k.len) != 0)
			break;
		rocksdb_writebatch_delete(wb, key, klen);
	}
	rocksdb_iter_destroy(it);
}

void ns_touch(struct ns_inode *in, bool data)
{
	in->ctime_ns = now_ns();
	if (data)
		in->mtime_ns = in->ctime_ns;
	in->change++;
}

void ns_attr_fill(const struct ns_inode *in, struct cowstore_ns_attr *attr)
{
	uint64_t rounded = ns_round_block(in->size_bytes);
	if (!attr)
		return;
	memset(attr, 0, sizeof(*attr));
	attr->ino = in->ino;
	attr->gen = in->gen;
	attr->type = in->type;
	attr->mode = in->mode;
	attr->nlink = in->nlink;
	attr->uid = in->uid;
	attr->gid = in->gid;
	attr->size_bytes = in->size_bytes;
	attr->used_bytes = rounded < in->volume_bytes ? rounded : in->volume_bytes;
	attr->volume_id = in->volume_id;
	attr->volume_bytes = in->volume_bytes;
	attr->atime_ns = in->atime_ns;
	attr->mtime_ns = in->mtime_ns;
	attr->ctime_ns = in->ctime_ns;
	attr->change = in->change;
}

/* ---- counters, symlinks, snapshots, orphans -------------------------- */

void ns_counters_put(struct cowstore *cs, rocksdb_writebatch_t *wb, const struct ns_counts *c)
{
	uint8_t v[COUNTERS_BYTES], *p = v;
	*p++ = RECORD_VERSION;
	p = put_le(p, c->next_ino, 8);
	p = put_le(p, c->files, 8);
	put_le(p, cs->ns.hash_seed, 8);
	db_put(wb, make_key('n', 0, 0, 0), v, sizeof(v));
}

void ns_symlink_put(rocksdb_writebatch_t *wb, uint64_t ino, const char *target)
{
	db_put(wb, make_key('l', 1, ino, 0), (const uint8_t *)target, strlen(target));
}

int ns_symlink_get(struct cowstore *cs, uint64_t ino, char *target)
{
	char *val;
	size_t len;
	int rc = db_get(cs, make_key('l', 1, ino, 0), &val, &len);
	if (rc)
		return rc == -ENOENT ? -EIO : rc; /* a symlink without its target */
	if (len == 0 || len > COWSTORE_NS_PATH_MAX) {
		free(val);
		return -EIO;
	}
	memcpy(target, val, len);
	target[len] = 0;
	free(val);
	return 0;
}

void ns_snaprec_put(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t snap_id,
		    uint64_t size_bytes, int64_t created_ns)
{
	uint8_t v[SNAPREC_BYTES], *p = v;
	*p++ = RECORD_VERSION;
	p = put_le(p, size_bytes, 8);
	put_le(p, (uint64_t)created_ns, 8);
	db_put(wb, make_key('s', 2, ino, snap_id), v, sizeof(v));
}

int ns_snaprec_get(struct cowstore *cs, uint64_t ino, uint64_t snap_id, uint64_t *size_bytes,
		   int64_t *created_ns)
{
	char *val;
	size_t len;
	int rc = db_get(cs, make_key('s', 2, ino, snap_id), &val, &len);
	if (rc)
		return rc;
	const uint8_t *p = (const uint8_t *)val + 1;
	if (len == SNAPREC_BYTES && (uint8_t)val[0] == RECORD_VERSION) {
		*size_bytes = get_le(&p, 8);
		*created_ns = (int64_t)get_le(&p, 8);
	} else {
		rc = -EIO;
	}
	free(val);
	return rc;
}

void ns_snaprec_delete(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t snap_id)
{
	db_delete(wb, make_key('s', 2, ino, snap_id));
}

void ns_orphan_put(rocksdb_writebatch_t *wb, uint64_t ino, uint64_t volume_id)
{
	uint8_t v[ORPHAN_BYTES];
	v[0] = RECORD_VERSION;
	put_le(v + 1, volume_id, 8);
	db_put(wb, make_key('o', 1, ino, 0), v, sizeof(v));
}

void ns_orphan_delete(rocksdb_writebatch_t *wb, uint64_t ino)
{
	db_delete(wb, make_key('o', 1, ino, 0));
}

/* ---- directory entries --------------------------------------------------- */

/* The slot of a name: seeded FNV-1a, then a finalizer (murmur3's). */
static uint64_t name_slot(uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return NS_FIRST_COOKIE + (h >> 1);
}

static void dirent_put(rocksdb_writebatch_t *wb, uint64_t dir, uint64_t cookie,
		       const char *name, uint64_t ino, uint32_t type)
{
	size_t n = strlen(name);
	uint8_t v[DIRENT_FIXED + COWSTORE_NS_NAME_MAX];
	v[0] = RECORD_VERSION;
	v[1] = (uint8_t)type;
	put_le(v + 2, ino, 8);
	memcpy(v + DIRENT_FIXED, name, n);
	db_put(wb, make_key('d', 2, dir, cookie), v, DIRENT_FIXED + n);
}

static int dirent_decode(const char *val, size_t len, struct ns_dirent *de)
{
	const uint8_t *p = (const uint8_t *)val + 2;
	if (len <= DIRENT_FIXED || len > DIRENT_FIXED + COWSTORE_NS_NAME_MAX ||
	    (uint8_t)val[0] != RECORD_VERSION)
		return -EIO;
	de->type = (uint8_t)val[1];
	de->ino = get_le(&p, 8);
	memcpy(de->name, val + DIRENT_FIXED, len - DIRENT_FIXED);
	de->name[len - DIRENT_FIXED] = 0;
	return 0;
}

int ns_entries_walk(struct cowstore *cs, uint64_t dir, uint64_t from_cookie, ns_entry_fn fn,
		    void *arg)
{
	struct ns_key k = make_key('d', 2, dir, from_cookie);
	struct ns_dirent de;
	char *dberr = NULL;
	int rc = 0;
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	for (rocksdb_iter_seek(it, (const char *)k.b, k.len); !rc && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		if (klen != k.len || memcmp(key, k.b, 10) != 0)
			break;
		const char *val = rocksdb_iter_value(it, &vlen);
		de.cookie = get_be64((const uint8_t *)key + 10);
		rc = dirent_decode(val, vlen, &de);
		if (!rc)
			rc = fn(arg, &de);
	}
	rocksdb_iter_get_error(it, &dberr);
	rocksdb_iter_destroy(it);
	if (dberr) {
		free(dberr);
		rc = -EIO;
	}
	return rc;
}

struct find_ctx {
	const char *name;
	uint64_t last; /* the last slot the name may sit in */
	struct ns_dirent *out;
};

static int find_step(void *arg, const struct ns_dirent *de)
{
	struct find_ctx *f = arg;
	if (de->cookie > f->last)
		return -ENOENT;
	if (strcmp(de->name, f->name) != 0)
		return 0;
	*f->out = *de;
	return 1;
}

/* Probing a few slots is point gets: a RocksDB iterator costs more to make
 * than several gets, and nearly every name sits in its own slot. */
#define PROBE_GETS_MAX 8u

/* The entry in one slot: 0, or -ENOENT when the slot is free. */
static int slot_get(struct cowstore *cs, uint64_t dir, uint64_t cookie, struct ns_dirent *de)
{
	char *val;
	size_t len;
	int rc = db_get(cs, make_key('d', 2, dir, cookie), &val, &len);
	if (rc)
		return rc;
	de->cookie = cookie;
	rc = dirent_decode(val, len, de);
	free(val);
	return rc;
}

int ns_entry_find(struct cowstore *cs, const struct ns_inode *dir, const char *name,
		  struct ns_dirent *de)
{
	uint64_t slot = name_slot(cs->ns.hash_seed, name);
	if (dir->probe_max >= PROBE_GETS_MAX) {
		struct find_ctx f = { name, slot + dir->probe_max, de };
		int rc = ns_entries_walk(cs, dir->ino, slot, find_step, &f);
		return rc == 1 ? 0 : rc ? rc : -ENOENT;
	}
	for (uint64_t cookie = slot; cookie <= slot + dir->probe_max; cookie++) {
		int rc = slot_get(cs, dir->ino, cookie, de);
		if (rc == 0 && strcmp(de->name, name) == 0)
			return 0;
		if (rc && rc != -ENOENT)
			return rc;
	}
	return -ENOENT;
}

static int gap_step(void *arg, const struct ns_dirent *de)
{
	uint64_t *next = arg;
	if (de->cookie != *next)
		return 1;
	(*next)++;
	return 0;
}

/* The first free slot at or after the name's own. */
static int free_slot(struct cowstore *cs, uint64_t dir, uint64_t slot, uint64_t *cookie)
{
	struct ns_dirent de;
	for (*cookie = slot; *cookie - slot < PROBE_GETS_MAX; (*cookie)++) {
		int rc = slot_get(cs, dir, *cookie, &de);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
	}
	int rc = ns_entries_walk(cs, dir, *cookie, gap_step, cookie);
	return rc < 0 ? rc : 0;
}

int ns_entry_add(struct cowstore *cs, rocksdb_writebatch_t *wb, struct ns_inode *dir,
		 const char *name, uint64_t ino, uint32_t type)
{
	uint64_t slot = name_slot(cs->ns.hash_seed, name), cookie;
	int rc = free_slot(cs, dir->ino, slot, &cookie);
	if (rc < 0)
		return rc;
	if (cookie - slot > dir->probe_max)
		dir->probe_max = cookie - slot;
	dirent_put(wb, dir->ino, cookie, name, ino, type);
	dir->size_bytes += NS_DIRENT_BYTES;
	ns_touch(dir, true);
	return 0;
}

void ns_entry_remove(rocksdb_writebatch_t *wb, struct ns_inode *dir, const struct ns_dirent *de)
{
	db_delete(wb, make_key('d', 2, dir->ino, de->cookie));
	dir->size_bytes -= NS_DIRENT_BYTES;
	ns_touch(dir, true);
}

void ns_entry_repoint(rocksdb_writebatch_t *wb, struct ns_inode *dir, const struct ns_dirent *de,
		      uint64_t ino, uint32_t type)
{
	dirent_put(wb, dir->ino, de->cookie, de->name, ino, type);
	ns_touch(dir, true);
}

/* ---- the lock and loading -------------------------------------------- */

void ns_open(struct cowstore *cs)
{
	pthread_mutex_init(&cs->ns.lock, NULL);
	cs->ns.nosync = rocksdb_writeoptions_create();
}

void ns_close(struct cowstore *cs)
{
	pthread_mutex_destroy(&cs->ns.lock);
	rocksdb_writeoptions_destroy(cs->ns.nosync);
}

/* A new namespace: the root directory, 0755 root:root. */
static int make_root(struct cowstore *cs)
{
	struct ns_inode root;
	struct ns_counts c = { COWSTORE_NS_ROOT + 1, 1 };
	int rc = random_bytes(&cs->ns.hash_seed, sizeof(cs->ns.hash_seed));
	if (!rc)
		rc = ns_inode_init(&root, COWSTORE_NS_ROOT, COWSTORE_NS_DIR, 0755, 0, 0);
	if (rc)
		return rc;
	root.parent = COWSTORE_NS_ROOT;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_inode_put(wb, &root);
	ns_counters_put(cs, wb, &c);
	rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		cs->ns.count = c;
	return rc;
}

static int load_counters(struct cowstore *cs)
{
	char *val;
	size_t len;
	int rc = db_get(cs, make_key('n', 0, 0, 0), &val, &len);
	if (rc == -ENOENT)
		return make_root(cs);
	if (rc)
		return rc;
	const uint8_t *p = (const uint8_t *)val + 1;
	if (len == COUNTERS_BYTES && (uint8_t)val[0] == RECORD_VERSION) {
		cs->ns.count.next_ino = get_le(&p, 8);
		cs->ns.count.files = get_le(&p, 8);
		cs->ns.hash_seed = get_le(&p, 8);
	} else {
		rc = -EIO;
	}
	free(val);
	return rc;
}

/* Orphans left by a crash, or by a delete that failed: try each once per
 * open; one that fails again stays recorded for the next. */
static void reap_orphans(struct cowstore *cs)
{
	struct ns_key k = make_key('o', 0, 0, 0);
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	for (rocksdb_iter_seek(it, (const char *)k.b, k.len); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *val = (const uint8_t *)rocksdb_iter_value(it, &vlen) + 1;
		if (klen != 10 || memcmp(key, k.b, 2) != 0)
			break;
		if (vlen == ORPHAN_BYTES)
			ns_orphan_reap(cs, get_be64((const uint8_t *)key + 2), get_le(&val, 8));
	}
	rocksdb_iter_destroy(it);
}

int ns_enter(struct cowstore *cs)
{
	if (!cs)
		return -EINVAL;
	pthread_mutex_lock(&cs->ns.lock);
	if (cs->ns.loaded)
		return 0;
	int rc = load_counters(cs);
	if (rc) {
		pthread_mutex_unlock(&cs->ns.lock);
		return rc;
	}
	reap_orphans(cs);
	cs->ns.loaded = true;
	return 0;
}

void ns_leave(struct cowstore *cs)
{
	pthread_mutex_unlock(&cs->ns.lock);
}
