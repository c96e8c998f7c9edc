/*
 * meta.c - how cowstore's metadata is laid out in RocksDB.
 *
 * Keys (integers big-endian so that RocksDB order is numeric order):
 *   "P"                  pool record: magic, format version, capacity, ...
 *   "I"                  the pool's first volume/snapshot id, written once at
 *                        create; absent in pools made before id ranges (1)
 *   "V" id               volume record
 *   "S" id               snapshot record
 *   "A"                  highest persistent-log sequence whose write is applied
 *   "J"                  last journal transaction included (checkpoint)
 *   "H" layer chunk      the extents of a volume head or snapshot in one 1 MiB
 *                        chunk (headmap.c)
 *   "C" name             a configuration record of the layers above (config.c)
 *   "N" ...              the file namespace of the NFS server (ns_record.c)
 * Values are little-endian fixed fields, except extents, which are kept
 * small with varints (headmap.c); checksums are in the crc file.
 *
 * Changing any layout here means a new FORMAT_VERSION; open refuses others.
 * A new key that older builds ignore and whose absence has a meaning (as
 * "I") needs none.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cowstore/internal.h"

#define POOL_MAGIC "SLATE-COWSTORE-1"

struct enc {
	uint8_t buf[4096];
	size_t len;
};

static void enc_bytes(struct enc *e, const void *p, size_t n)
{
	if (e->len + n <= sizeof(e->buf))
		memcpy(e->buf + e->len, p, n);
	e->len += n;
}
static void enc_u64(struct enc *e, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	enc_bytes(e, b, 8);
}
static void enc_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);
	enc_u64(e, n);
	enc_bytes(e, s, n);
}

struct dec {
	const uint8_t *p;
	size_t left;
	bool bad;
};
static uint64_t dec_u64(struct dec *d)
{
	if (d->left < 8) {
		d->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)d->p[i] << (8 * i);
	d->p += 8;
	d->left -= 8;
	return v;
}
static void dec_str(struct dec *d, char *out, size_t cap)
{
	uint64_t n = dec_u64(d);
	if (d->bad || n >= cap || n > d->left) {
		d->bad = true;
		out[0] = 0;
		return;
	}
	memcpy(out, d->p, n);
	out[n] = 0;
	d->p += n;
	d->left -= n;
}

size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}
bool get_varint(const uint8_t **p, size_t *left, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (!*left)
			return false;
		uint8_t b = *(*p)++;
		(*left)--;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void key_id(uint8_t key[9], char tag, uint64_t id)
{
	key[0] = (uint8_t)tag;
	put_be64(key + 1, id);
}

/* ---- layer maps -------------------------------------------------------- */

struct headmap *layer_map(struct cowstore *cs, uint64_t layer)
{
	struct vol *v = vol_find(cs, layer);
	if (v)
		return &v->map;
	struct snap *s = snap_find(cs, layer);
	return s ? &s->map : NULL;
}

int extent_put(struct cowstore *cs, const struct extent *e)
{
	struct headmap *m = layer_map(cs, e->layer);
	int rc = m ? headmap_put(m, e) : -EUCLEAN;
	return rc || cs->ctl_wb ? rc : journal_put(&cs->journal, e);
}

int extent_delete(struct cowstore *cs, const struct extent *e)
{
	struct headmap *m = layer_map(cs, e->layer);
	int rc = m ? headmap_delete(m, e) : -EUCLEAN;
	return rc || cs->ctl_wb ? rc : journal_del(&cs->journal, e);
}

int layer_scan(struct cowstore *cs, uint64_t layer, uint64_t lba, uint64_t n, extent_fn fn,
	       void *arg)
{
	struct headmap *m = layer_map(cs, layer);
	return m ? headmap_scan(m, layer, lba, n, fn, arg) : -ENOENT;
}

static void key_chunk(uint8_t key[KEY_CHUNK_LEN], uint64_t layer, uint64_t chunk)
{
	key[0] = 'H';
	put_be64(key + 1, layer);
	put_be64(key + 9, chunk);
}

void chunk_record_put(rocksdb_writebatch_t *wb, uint64_t layer, uint64_t chunk,
		      const uint8_t *val, size_t len)
{
	uint8_t key[KEY_CHUNK_LEN];
	key_chunk(key, layer, chunk);
	if (len)
		rocksdb_writebatch_put(wb, (const char *)key, sizeof(key), (const char *)val, len);
	else
		rocksdb_writebatch_delete(wb, (const char *)key, sizeof(key));
}

void chunk_records_drop(rocksdb_writebatch_t *wb, uint64_t layer)
{
	uint8_t from[KEY_CHUNK_LEN], to[KEY_CHUNK_LEN];
	key_chunk(from, layer, 0);
	key_chunk(to, layer + 1, 0);
	rocksdb_writebatch_delete_range(wb, (const char *)from, sizeof(from), (const char *)to,
					sizeof(to));
}

void checkpoint_seq_put(rocksdb_writebatch_t *wb, uint64_t seq)
{
	uint8_t v[8];
	memcpy(v, &seq, 8);
	rocksdb_writebatch_put(wb, "J", 1, (const char *)v, 8);
}

/* ---- records --------------------------------------------------------- */

void pool_record_put(struct cowstore *cs, rocksdb_writebatch_t *wb)
{
	struct enc e = { .len = 0 };
	enc_bytes(&e, POOL_MAGIC, 16);
	enc_u64(&e, FORMAT_VERSION);
	enc_u64(&e, COWSTORE_BLOCK_SIZE);
	enc_u64(&e, cs->capacity_blocks);
	enc_u64(&e, cs->plog_bytes);
	enc_u64(&e, cs->soft_threshold_pct);
	enc_u64(&e, cs->next_id);
	enc_u64(&e, (uint64_t)cs->created_ns);
	rocksdb_writebatch_put(wb, "P", 1, (const char *)e.buf, e.len);
}

void first_id_put(rocksdb_writebatch_t *wb, uint64_t first_id)
{
	struct enc e = { .len = 0 };
	enc_u64(&e, first_id);
	rocksdb_writebatch_put(wb, "I", 1, (const char *)e.buf, e.len);
}

static int get_value(struct cowstore *cs, const char *key, size_t klen, char **val,
		     size_t *vlen)
{
	char *dberr = NULL;
	*val = rocksdb_get(cs->db, cs->ropts, key, klen, vlen, &dberr);
	if (dberr) {
		free(dberr);
		return -EIO;
	}
	return *val ? 0 : -ENOENT;
}

static int first_id_load(struct cowstore *cs, struct cowstore_err *err)
{
	char *val;
	size_t vlen;
	int rc = get_value(cs, "I", 1, &val, &vlen);
	if (rc == -ENOENT) {
		cs->first_id = 1;
		return 0;
	}
	if (rc)
		return rc;
	struct dec d = { (const uint8_t *)val, vlen, false };
	cs->first_id = dec_u64(&d);
	free(val);
	if (d.bad || cs->first_id == 0) {
		set_err(err, "%s: the first-id record is damaged", cs->dir);
		return -EUCLEAN;
	}
	return 0;
}

int pool_record_load(struct cowstore *cs, struct cowstore_err *err)
{
	char *val;
	size_t vlen;
	int rc = get_value(cs, "P", 1, &val, &vlen);
	if (rc) {
		set_err(err, "%s holds no cowstore pool record", cs->dir);
		return rc == -ENOENT ? -ENOENT : rc;
	}
	struct dec d = { (const uint8_t *)val, vlen, false };
	if (vlen < 16 || memcmp(val, POOL_MAGIC, 14) != 0) {
		set_err(err, "%s: pool record has a wrong magic", cs->dir);
		free(val);
		return -EUCLEAN;
	}
	d.p += 16;
	d.left -= 16;
	uint64_t version = dec_u64(&d), bsize = dec_u64(&d);
	cs->capacity_blocks = dec_u64(&d);
	cs->plog_bytes = dec_u64(&d);
	cs->soft_threshold_pct = (unsigned)dec_u64(&d);
	cs->next_id = dec_u64(&d);
	cs->created_ns = (int64_t)dec_u64(&d);
	free(val);
	if (d.bad) {
		set_err(err, "%s: pool record is truncated", cs->dir);
		return -EUCLEAN;
	}
	if (version != FORMAT_VERSION || bsize != COWSTORE_BLOCK_SIZE) {
		set_err(err, "%s: pool format version %llu, this build reads version %u",
			cs->dir, (unsigned long long)version, FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	rc = first_id_load(cs, err);
	if (rc)
		return rc;
	rc = get_value(cs, "J", 1, &val, &vlen);
	if (rc == 0) {
		if (vlen == 8)
			memcpy(&cs->checkpoint_seq, val, 8);
		free(val);
	} else if (rc != -ENOENT) {
		return rc;
	}
	rc = get_value(cs, "A", 1, &val, &vlen);
	if (rc == 0) {
		struct dec a = { (const uint8_t *)val, vlen, false };
		cs->plog_applied = dec_u64(&a);
		free(val);
	} else if (rc != -ENOENT) {
		return rc;
	}
	return 0;
}

void applied_seq_put(rocksdb_writebatch_t *wb, uint64_t seq)
{
	struct enc e = { .len = 0 };
	enc_u64(&e, seq);
	rocksdb_writebatch_put(wb, "A", 1, (const char *)e.buf, e.len);
}

void vol_record_put(rocksdb_writebatch_t *wb, const struct vol *v)
{
	uint8_t key[9];
	struct enc e = { .len = 0 };
	key_id(key, 'V', v->id);
	enc_str(&e, v->name);
	enc_u64(&e, v->size_bytes);
	enc_u64(&e, v->cur_gen);
	enc_u64(&e, (uint64_t)v->created_ns);
	enc_u64(&e, v->parent ? v->parent->id : 0);
	enc_u64(&e, v->serial); /* added after format 1's first records: optional */
	rocksdb_writebatch_put(wb, (const char *)key, 9, (const char *)e.buf, e.len);
}

void vol_record_delete(rocksdb_writebatch_t *wb, uint64_t id)
{
	uint8_t key[9];
	key_id(key, 'V', id);
	rocksdb_writebatch_delete(wb, (const char *)key, 9);
}

void snap_record_put(rocksdb_writebatch_t *wb, const struct snap *s)
{
	uint8_t key[9];
	struct enc e = { .len = 0 };
	key_id(key, 'S', s->id);
	enc_str(&e, s->name);
	enc_u64(&e, s->vol->id);
	enc_u64(&e, s->gen);
	enc_u64(&e, s->size_bytes);
	enc_u64(&e, (uint64_t)s->created_ns);
	enc_u64(&e, s->group_id);
	rocksdb_writebatch_put(wb, (const char *)key, 9, (const char *)e.buf, e.len);
}

void snap_record_delete(rocksdb_writebatch_t *wb, uint64_t id)
{
	uint8_t key[9];
	key_id(key, 'S', id);
	rocksdb_writebatch_delete(wb, (const char *)key, 9);
}

/* Volumes first, then snapshots (linked to their volumes), then clones'
 * parents, which may be snapshots of volumes loaded in any order. */
struct pending_parent {
	struct vol *vol;
	uint64_t snap_id;
};

static int load_prefix(struct cowstore *cs, char tag,
		       int (*fn)(struct cowstore *cs, uint64_t id, struct dec *d, void *arg),
		       void *arg)
{
	int rc = 0;
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	char start = tag;
	for (rocksdb_iter_seek(it, &start, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen < 1 || k[0] != tag)
			break;
		if (klen != 9) {
			rc = -EUCLEAN;
			break;
		}
		struct dec d = { (const uint8_t *)v, vlen, false };
		rc = fn(cs, get_be64((const uint8_t *)k + 1), &d, arg);
		if (rc)
			break;
	}
	rocksdb_iter_destroy(it);
	return rc;
}

struct parents {
	struct pending_parent *list;
	size_t n;
};

static int load_vol(struct cowstore *cs, uint64_t id, struct dec *d, void *arg)
{
	struct parents *pp = arg;
	struct vol *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->id = id;
	dec_str(d, v->name, sizeof(v->name));
	v->size_bytes = dec_u64(d);
	v->cur_gen = dec_u64(d);
	v->created_ns = (int64_t)dec_u64(d);
	uint64_t parent = dec_u64(d);
	v->serial = d->left >= 8 ? dec_u64(d) : id; /* older records: the id */
	if (d->bad) {
		free(v);
		return -EUCLEAN;
	}
	int rc = vol_add(cs, v);
	if (rc) {
		free(v);
		return rc;
	}
	if (parent) {
		struct pending_parent *l = realloc(pp->list, (pp->n + 1) * sizeof(*l));
		if (!l)
			return -ENOMEM;
		pp->list = l;
		pp->list[pp->n++] = (struct pending_parent){ v, parent };
	}
	return 0;
}

static int load_snap(struct cowstore *cs, uint64_t id, struct dec *d, void *arg)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->id = id;
	dec_str(d, s->name, sizeof(s->name));
	uint64_t vol_id = dec_u64(d);
	s->gen = dec_u64(d);
	s->size_bytes = dec_u64(d);
	s->created_ns = (int64_t)dec_u64(d);
	s->group_id = dec_u64(d);
	struct vol *v = vol_find(cs, vol_id);
	if (d->bad || !v) {
		free(s);
		return -EUCLEAN;
	}
	s->vol = v;
	int rc = vol_snap_add(v, s);
	if (rc)
		free(s);
	return rc;
}

int meta_load_objects(struct cowstore *cs, struct cowstore_err *err)
{
	struct parents pp = { NULL, 0 };
	int rc = load_prefix(cs, 'V', load_vol, &pp);
	if (!rc)
		rc = load_prefix(cs, 'S', load_snap, NULL);
	for (size_t i = 0; !rc && i < pp.n; i++) {
		struct snap *s = snap_find(cs, pp.list[i].snap_id);
		if (!s) {
			rc = -EUCLEAN;
			break;
		}
		pp.list[i].vol->parent = s;
		s->nclones++;
	}
	free(pp.list);
	if (rc)
		set_err(err, "%s: volume or snapshot records are inconsistent (%s)", cs->dir,
			strerror(-rc));
	return rc;
}

static int load_chunk(struct cowstore *cs, uint64_t layer, const uint8_t *key, const char *val,
		      size_t vlen)
{
	struct headmap *m = layer_map(cs, layer);
	if (!m)
		return -EUCLEAN; /* a chunk of no volume or snapshot */
	return headmap_load_chunk(m, layer, get_be64(key + 9), (const uint8_t *)val, vlen);
}

int meta_load_maps(struct cowstore *cs, struct cowstore_err *err)
{
	int rc = 0;
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	for (rocksdb_iter_seek(it, "H", 1); rocksdb_iter_valid(it) && !rc; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen < 1 || k[0] != 'H')
			break;
		uint64_t layer = klen == KEY_CHUNK_LEN ? get_be64((const uint8_t *)k + 1) : 0;
		rc = klen == KEY_CHUNK_LEN ? load_chunk(cs, layer, (const uint8_t *)k, v, vlen)
					   : -EUCLEAN;
		if (rc)
			set_err(err, "%s: extent map of layer %llu is damaged (%s)", cs->dir,
				(unsigned long long)layer, strerror(-rc));
	}
	rocksdb_iter_destroy(it);
	return rc;
}

int meta_commit(struct cowstore *cs, rocksdb_writebatch_t *wb)
{
	char *dberr = NULL;
	rocksdb_write(cs->db, cs->wopts, wb, &dberr);
	if (dberr) {
		free(dberr);
		return -EIO;
	}
	return 0;
}

uint64_t meta_disk_bytes(struct cowstore *cs)
{
	char path[4096];
	uint64_t total = 0;
	snprintf(path, sizeof(path), "%s/meta", cs->dir);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		char f[4096 + 256];
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}
