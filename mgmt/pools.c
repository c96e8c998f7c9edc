/*
 * pools.c - the pools an appliance serves: opening them at start (creating
 * a pool in a missing or empty directory), and finding which one holds a
 * volume, by name or by id.
 *
 * The invariant everything else leans on (mgmt.h): volume and snapshot ids
 * are unique across the pools.  A pool made here gets first_id, the next
 * multiple of MGMT_POOL_ID_SPAN above every id the pools opened before it
 * use; at every start each pool's used ids [first_id, next_id) must lie
 * below the next pool's first_id, or slated refuses to start (a pool made
 * elsewhere, say by slate-store with ids from 1, cannot join as is).
 *
 * A move between pools that a stop interrupted (api_move.c keeps a record
 * "M/move/<name>" in the primary pool) is ended here, before anything
 * serves: undone while it was still copying, completed once it switched.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cowstore/cowstore.h"
#include "mgmt/mgmt.h"

struct mgmt_pool *mgmt_pools_find(struct mgmt_pools *p, const char *name)
{
	for (unsigned i = 0; i < p->count; i++)
		if (!strcmp(p->pool[i].name, name))
			return &p->pool[i];
	return NULL;
}

struct mgmt_pool *mgmt_pools_of_id(struct mgmt_pools *p, uint64_t id)
{
	struct mgmt_pool *best = &p->pool[0];
	for (unsigned i = 1; i < p->count; i++)
		if (p->pool[i].first_id <= id && p->pool[i].first_id > best->first_id)
			best = &p->pool[i];
	return best;
}

int mgmt_pools_find_volume(struct mgmt_pools *p, const char *name, struct cowstore **cs,
			   uint64_t *volume_id)
{
	for (unsigned i = 0; i < p->count; i++)
		if (!cowstore_volume_lookup(p->pool[i].cs, name, volume_id)) {
			*cs = p->pool[i].cs;
			return 0;
		}
	return -ENOENT;
}

int mgmt_pools_finder(void *pools, const char *name, struct cowstore **cs, uint64_t *volume_id)
{
	return mgmt_pools_find_volume(pools, name, cs, volume_id);
}

/* ---- opening ---------------------------------------------------------------- */

static void say(mgmt_log_fn log, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(mgmt_log_fn log, void *arg, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(arg, line);
}

/* mkdir -p; 0 or -errno. */
static int make_dirs(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *c = copy + 1; ; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char saved = *c;
		*c = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*c = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	struct stat st;
	if (rc == 0 && stat(path, &st) < 0)
		rc = -errno;
	else if (rc == 0 && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	return rc;
}

/* 1 when dir has no entries, 0 when it has some, -errno on error. */
static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int empty = 1;
	struct dirent *entry;
	while ((entry = readdir(d))) {
		if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* The first id of a pool made now: the next multiple of the span above
 * every id the pools already open may use. */
static uint64_t fresh_first_id(const struct mgmt_pools *p)
{
	uint64_t top = 1;
	for (unsigned i = 0; i < p->count; i++) {
		struct cowstore_pool_info info;
		if (!cowstore_pool_info(p->pool[i].cs, &info) && info.next_id > top)
			top = info.next_id;
		if (p->pool[i].first_id >= top)
			top = p->pool[i].first_id + 1;
	}
	return (top + MGMT_POOL_ID_SPAN - 1) / MGMT_POOL_ID_SPAN * MGMT_POOL_ID_SPAN;
}

/* Create the directory and a pool in it unless something is there. */
static int prepare(const struct mgmt_pools *p, const char *name, const char *dir,
		   mgmt_log_fn log, void *arg)
{
	int rc = make_dirs(dir);
	if (rc < 0) {
		say(log, arg, "error: pool %s: cannot create directory %s: %s", name, dir,
		    strerror(-rc));
		return rc;
	}
	rc = dir_is_empty(dir);
	if (rc <= 0) {
		if (rc < 0)
			say(log, arg, "error: pool %s: cannot read directory %s: %s", name, dir,
			    strerror(-rc));
		return rc; /* 0: an existing pool (cowstore_open checks it) */
	}
	/* 64 GiB thin, no plog, 80%; the primary's ids start at 1 */
	struct cowstore_pool_options opts = { .first_id = p->count ? fresh_first_id(p) : 0 };
	struct cowstore_err err = { "" };
	rc = cowstore_pool_create(dir, &opts, &err);
	if (rc < 0) {
		say(log, arg, "error: cannot create pool %s in %s: %s", name, dir,
		    err.msg[0] ? err.msg : strerror(-rc));
		return rc;
	}
	say(log, arg, "created pool %s in %s (64 GiB thin capacity, no plog)", name, dir);
	return 0;
}

static int open_one(struct mgmt_pools *p, const char *name, const char *dir, mgmt_log_fn log,
		    void *arg)
{
	struct mgmt_pool *pool = &p->pool[p->count];
	struct cowstore_err err = { "" };
	struct cowstore_pool_info info;
	int rc = prepare(p, name, dir, log, arg);
	if (rc == 0 && (rc = cowstore_open(dir, &pool->cs, &err)) < 0)
		say(log, arg, "error: cannot open pool %s in %s: %s", name, dir,
		    err.msg[0] ? err.msg : strerror(-rc));
	if (rc)
		return rc;
	rc = cowstore_pool_info(pool->cs, &info);
	if (rc) {
		say(log, arg, "error: pool %s: cannot read its state: %s", name, strerror(-rc));
		cowstore_close(pool->cs);
		return rc;
	}
	snprintf(pool->name, sizeof(pool->name), "%s", name);
	snprintf(pool->dir, sizeof(pool->dir), "%s", dir);
	pool->first_id = info.first_id;
	p->count++;
	return 0;
}

/* Every pool's used ids lie below the first id of the next range up. */
static int check_ranges(struct mgmt_pools *p, mgmt_log_fn log, void *arg)
{
	for (unsigned i = 0; i < p->count; i++) {
		struct cowstore_pool_info info;
		int rc = cowstore_pool_info(p->pool[i].cs, &info);
		if (rc)
			return rc;
		for (unsigned j = 0; j < p->count; j++) {
			const struct mgmt_pool *other = &p->pool[j];
			if (j == i || other->first_id < p->pool[i].first_id ||
			    (other->first_id >= info.next_id && other->first_id != info.first_id))
				continue;
			say(log, arg, "error: pools %s and %s use the same volume ids (%s's run from %"
			    PRIu64 " to %" PRIu64 ", %s's start at %" PRIu64 "): a pool joins an "
			    "appliance only when slated creates it in an empty directory",
			    p->pool[i].name, other->name, p->pool[i].name, p->pool[i].first_id,
			    info.next_id, other->name, other->first_id);
			return -EEXIST;
		}
	}
	return 0;
}

/* ---- VM snapshot records after a move ---------------------------------------- */

struct remap {
	struct cowstore *primary, *cs;
	const char *volume;
	uint64_t volume_id;
};

/* One record "M/vmsnap/<vm>/<snapshot>": its members on the moved volume
 * get the id of the snapshot of the record's name in the new volume. */
static int remap_record(void *arg, const char *key, const void *value, size_t len)
{
	struct remap *r = arg;
	json_t *rec = json_loadb(value, len, 0, NULL), *item;
	const char *name = json_string_value(json_object_get(rec, "name"));
	bool changed = false;
	size_t i;
	uint64_t snap_id;
	json_array_foreach(name ? json_object_get(rec, "volumes") : NULL, i, item)
		if (!strcmp(json_string_value(json_object_get(item, "volume")) ?: "", r->volume) &&
		    !cowstore_snapshot_lookup(r->cs, r->volume_id, name, &snap_id))
			changed |= !json_object_set_new(item, "snapshot_id",
							json_integer((json_int_t)snap_id));
	char *text = changed ? json_dumps(rec, JSON_COMPACT) : NULL;
	int rc = text ? cowstore_config_put(r->primary, key, text, strlen(text)) : 0;
	free(text);
	json_decref(rec);
	return rc;
}

int mgmt_pools_remap_snapshots(struct cowstore *primary, const char *volume, struct cowstore *cs,
			       uint64_t volume_id)
{
	struct remap r = { primary, cs, volume, volume_id };
	return cowstore_config_list(primary, "M/vmsnap/", remap_record, &r);
}

/* ---- moves a stop interrupted ------------------------------------------------ */

static int collect_move(void *arg, const char *key, const void *value, size_t len)
{
	json_t *rec = json_loadb(value, len, 0, NULL);
	if (rec && json_object_set_new(rec, "key", json_string(key)) == 0)
		json_array_append(arg, rec);
	json_decref(rec);
	return 0; /* a damaged record is left for the operator */
}

static const char *str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key)) ?: "";
}

/* Undo ("copying": the source is the truth) or complete ("switched": the
 * destination is) one interrupted move; 0 when the record can go. */
static int end_move(struct mgmt_pools *p, const json_t *rec, mgmt_log_fn log, void *arg)
{
	struct mgmt_pool *from = mgmt_pools_find(p, str(rec, "from"));
	struct mgmt_pool *to = mgmt_pools_find(p, str(rec, "to"));
	uint64_t source_id = (uint64_t)json_integer_value(json_object_get(rec, "source_id")), id;
	struct cowstore_volume_info info;
	struct cowstore_err err = { "" };
	char tmp[COWSTORE_NAME_MAX + 1];
	if (!from || !to) {
		say(log, arg, "warning: the interrupted move of volume '%s' names pool %s or %s, "
		    "which is not served now; left as it is", str(rec, "name"), str(rec, "from"),
		    str(rec, "to"));
		return -ENOENT;
	}
	snprintf(tmp, sizeof(tmp), ".moving.%" PRIu64, source_id);
	bool have_tmp = !cowstore_volume_lookup(to->cs, tmp, &id);
	int rc = 0;
	if (strcmp(str(rec, "state"), "switched")) {
		rc = have_tmp ? cowstore_volume_delete(to->cs, id, &err) : 0;
		say(log, arg, "%s: volume '%s' stays in pool %s; its move to pool %s was interrupted "
		    "before the switch%s%s", rc ? "error" : "warning", str(rec, "name"), from->name,
		    to->name, rc ? " and the partial copy cannot be deleted: " : "", err.msg);
		return rc;
	}
	if (!cowstore_volume_info(from->cs, source_id, 0, &info))
		rc = cowstore_volume_delete(from->cs, source_id, &err);
	if (!rc && have_tmp)
		rc = cowstore_volume_rename(to->cs, id, str(rec, "name"), &err);
	if (!rc && !cowstore_volume_lookup(to->cs, str(rec, "name"), &id))
		rc = mgmt_pools_remap_snapshots(p->pool[0].cs, str(rec, "name"), to->cs, id);
	say(log, arg, "%s: the move of volume '%s' from pool %s to pool %s was interrupted after "
	    "the switch; %s%s", rc ? "error" : "warning", str(rec, "name"), from->name, to->name,
	    rc ? "cannot complete it: " : "completed", err.msg);
	return rc;
}

static int end_moves(struct mgmt_pools *p, mgmt_log_fn log, void *arg)
{
	json_t *recs = json_array(), *rec;
	size_t i;
	int rc = recs ? cowstore_config_list(p->pool[0].cs, "M/move/", collect_move, recs)
		      : -ENOMEM;
	json_array_foreach(rc ? NULL : recs, i, rec)
		if (!end_move(p, rec, log, arg))
			cowstore_config_delete(p->pool[0].cs, str(rec, "key"));
	json_decref(recs);
	return rc;
}

int mgmt_pools_open(struct mgmt_pools *p, const struct mgmt_settings *s, mgmt_log_fn log,
		    void *log_arg)
{
	memset(p, 0, sizeof(*p));
	int rc = open_one(p, MGMT_PRIMARY_POOL, s->data_dir, log, log_arg);
	for (unsigned i = 0; !rc && i < s->npools; i++)
		rc = open_one(p, s->pools[i].name, s->pools[i].dir, log, log_arg);
	if (!rc)
		rc = check_ranges(p, log, log_arg);
	if (!rc)
		rc = end_moves(p, log, log_arg);
	if (rc)
		mgmt_pools_close(p);
	return rc;
}

void mgmt_pools_close(struct mgmt_pools *p)
{
	for (unsigned i = p->count; i-- > 0;)
		cowstore_close(p->pool[i].cs);
	p->count = 0;
}
