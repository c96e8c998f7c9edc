/*
 * config.c - configuration records of the layers above cowstore (iSCSI
 * targets, CHAP secrets, portals, persistent reservations) kept in the
 * pool's RocksDB, so that a pool carries everything needed to serve it.
 *
 * A record is an opaque value under "C" + key; cowstore reads only one
 * itself, COWSTORE_EMULATION_KEY (the emulated device, emulation.c).  Writes are synced RocksDB writes from the caller's thread:
 * RocksDB is thread-safe and these keys share nothing with the store
 * thread's records, so they need not wait in its queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

#define KEY_PREFIX 'C'

/* Printable ASCII, 1..COWSTORE_CONFIG_KEY_MAX bytes. */
static bool key_valid(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > COWSTORE_CONFIG_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

static size_t db_key(char *out, const char *key)
{
	size_t n = strlen(key);
	out[0] = KEY_PREFIX;
	memcpy(out + 1, key, n);
	return n + 1;
}

static int db_result(char *dberr)
{
	if (!dberr)
		return 0;
	free(dberr);
	return -EIO;
}

int cowstore_config_put(struct cowstore *cs, const char *key, const void *value, size_t len)
{
	char k[COWSTORE_CONFIG_KEY_MAX + 1], *dberr = NULL;
	if (!cs || !key_valid(key) || (len && !value) || len > COWSTORE_CONFIG_VALUE_MAX)
		return -EINVAL;
	rocksdb_put(cs->db, cs->wopts, k, db_key(k, key), value, len, &dberr);
	return db_result(dberr);
}

int cowstore_config_get(struct cowstore *cs, const char *key, void **value, size_t *len)
{
	char k[COWSTORE_CONFIG_KEY_MAX + 1], *dberr = NULL;
	if (!cs || !key_valid(key) || !value || !len)
		return -EINVAL;
	*value = rocksdb_get(cs->db, cs->ropts, k, db_key(k, key), len, &dberr);
	if (dberr)
		return db_result(dberr);
	return *value ? 0 : -ENOENT;
}

int cowstore_config_delete(struct cowstore *cs, const char *key)
{
	char k[COWSTORE_CONFIG_KEY_MAX + 1], *dberr = NULL;
	void *old;
	size_t len;
	int rc = cowstore_config_get(cs, key, &old, &len);
	if (rc)
		return rc;
	free(old);
	rocksdb_delete(cs->db, cs->wopts, k, db_key(k, key), &dberr);
	return db_result(dberr);
}

int cowstore_config_list(struct cowstore *cs, const char *prefix, cowstore_config_fn fn,
			 void *arg)
{
	char k[COWSTORE_CONFIG_KEY_MAX + 2], name[COWSTORE_CONFIG_KEY_MAX + 1];
	if (!cs || !prefix || !fn || strlen(prefix) > COWSTORE_CONFIG_KEY_MAX)
		return -EINVAL;
	size_t klen = db_key(k, prefix);
	int rc = 0;
	rocksdb_iterator_t *it = rocksdb_create_iterator(cs->db, cs->ropts);
	for (rocksdb_iter_seek(it, k, klen); rocksdb_iter_valid(it) && !rc; rocksdb_iter_next(it)) {
		size_t n, vlen;
		const char *key = rocksdb_iter_key(it, &n);
		if (n < klen || memcmp(key, k, klen) != 0)
			break;
		if (n - 1 > COWSTORE_CONFIG_KEY_MAX)
			continue; /* not a record this file wrote */
		memcpy(name, key + 1, n - 1);
		name[n - 1] = 0;
		const char *value = rocksdb_iter_value(it, &vlen);
		rc = fn(arg, name, value, vlen);
	}
	rocksdb_iter_destroy(it);
	return rc;
}

int cowstore_config_apply(struct cowstore *cs, const struct cowstore_config_change *changes,
			  size_t count)
{
	char k[COWSTORE_CONFIG_KEY_MAX + 1], *dberr = NULL;
	if (!cs || (count && !changes))
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		const struct cowstore_config_change *c = &changes[i];
		if (!key_valid(c->key) || (c->value && c->len > COWSTORE_CONFIG_VALUE_MAX))
			return -EINVAL;
	}
	rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
	for (size_t i = 0; i < count; i++) {
		size_t klen = db_key(k, changes[i].key);
		if (changes[i].value)
			rocksdb_writebatch_put(batch, k, klen, changes[i].value, changes[i].len);
		else
			rocksdb_writebatch_delete(batch, k, klen);
	}
	rocksdb_write(cs->db, cs->wopts, batch, &dberr);
	rocksdb_writebatch_destroy(batch);
	return db_result(dberr);
}
