/*
 * volume.c - volumes: create, look up, describe, rename, resize, delete.
 *
 * The public functions pack their arguments and run the work on the store
 * thread (engine_control), so the in-memory objects are only ever touched
 * there; what they record goes into cs->ctl_wb, committed when they return.  Sizes are whole 4 KiB blocks: a partial last block would keep
 * stale sectors past the end across a shrink and a grow.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowstore/internal.h"

void set_err(struct cowstore_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int check_name(const char *name, const char *what, struct cowstore_err *err)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > COWSTORE_NAME_MAX) {
		set_err(err, "%s name must be 1 to %u characters", what, COWSTORE_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':' || c == '@')) {
			set_err(err, "%s name '%s' has '%c': use letters, digits and - _ . : @",
				what, name, c);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_size(uint64_t size_bytes, struct cowstore_err *err)
{
	if (size_bytes == 0 || size_bytes % COWSTORE_BLOCK_SIZE ||
	    size_bytes > (1ull << 50)) {
		set_err(err, "size %llu is not a positive multiple of %u bytes up to 1 PiB",
			(unsigned long long)size_bytes, COWSTORE_BLOCK_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* ---- the in-memory object table (store thread) ----------------------- */

struct vol *vol_find(struct cowstore *cs, uint64_t id)
{
	for (uint32_t i = 0; i < cs->nvols; i++)
		if (cs->vols[i]->id == id)
			return cs->vols[i];
	return NULL;
}

struct vol *vol_find_name(struct cowstore *cs, const char *name)
{
	for (uint32_t i = 0; i < cs->nvols; i++)
		if (strcmp(cs->vols[i]->name, name) == 0)
			return cs->vols[i];
	return NULL;
}

struct snap *snap_find(struct cowstore *cs, uint64_t id)
{
	for (uint32_t i = 0; i < cs->nvols; i++)
		for (uint32_t j = 0; j < cs->vols[i]->nsnaps; j++)
			if (cs->vols[i]->snaps[j]->id == id)
				return cs->vols[i]->snaps[j];
	return NULL;
}

int vol_add(struct cowstore *cs, struct vol *v)
{
	if (cs->nvols == cs->vols_cap) {
		uint32_t cap = cs->vols_cap ? cs->vols_cap * 2 : 16;
		struct vol **p = realloc(cs->vols, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		cs->vols = p;
		cs->vols_cap = cap;
	}
	cs->vols[cs->nvols++] = v;
	return 0;
}

void vol_remove(struct cowstore *cs, struct vol *v)
{
	for (uint32_t i = 0; i < cs->nvols; i++) {
		if (cs->vols[i] == v) {
			cs->vols[i] = cs->vols[--cs->nvols];
			break;
		}
	}
	while (v->nsnaps)
		snap_destroy(v->snaps[v->nsnaps - 1]);
	free(v->snaps);
	headmap_free(&v->map);
	free(v);
}

int vol_snap_add(struct vol *v, struct snap *s)
{
	if (v->nsnaps == v->snaps_cap) {
		uint32_t cap = v->snaps_cap ? v->snaps_cap * 2 : 8;
		struct snap **p = realloc(v->snaps, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->snaps = p;
		v->snaps_cap = cap;
	}
	uint32_t at = v->nsnaps;
	while (at > 0 && v->snaps[at - 1]->gen > s->gen)
		at--;
	memmove(v->snaps + at + 1, v->snaps + at, (v->nsnaps - at) * sizeof(*v->snaps));
	v->snaps[at] = s;
	v->nsnaps++;
	return 0;
}

void snap_destroy(struct snap *s)
{
	struct vol *v = s->vol;
	for (uint32_t i = 0; i < v->nsnaps; i++) {
		if (v->snaps[i] == s) {
			memmove(v->snaps + i, v->snaps + i + 1,
				(v->nsnaps - i - 1) * sizeof(*v->snaps));
			v->nsnaps--;
			break;
		}
	}
	headmap_free(&s->map);
	free(s);
}

struct snap *vol_newest_snap(const struct vol *v)
{
	return v->nsnaps ? v->snaps[v->nsnaps - 1] : NULL;
}

uint64_t vol_nblocks(const struct vol *v)
{
	return v->size_bytes / COWSTORE_BLOCK_SIZE;
}

/* ---- space ----------------------------------------------------------- */

#define SPACE_CHUNK 1024u

/* Blocks that v's head (snap NULL) or a snapshot shows as data. */
int view_mapped_blocks(struct cowstore *cs, struct vol *v, struct snap *snap, uint64_t *out)
{
	static const uint64_t chunk = SPACE_CHUNK;
	struct blk *map = malloc(chunk * sizeof(*map));
	uint64_t nblocks = (snap ? snap->size_bytes : v->size_bytes) / COWSTORE_BLOCK_SIZE;
	int rc = map ? 0 : -ENOMEM;

	*out = 0;
	for (uint64_t b = 0; !rc && b < nblocks; b += chunk) {
		uint64_t n = nblocks - b < chunk ? nblocks - b : chunk;
		rc = view_resolve(cs, v, snap, b, n, map);
		for (uint64_t i = 0; !rc && i < n; i++)
			*out += map[i].kind == BLK_DATA;
	}
	free(map);
	return rc;
}

struct unique_ctx {
	uint64_t min_birth; /* mappings born before this are shared with a snapshot */
	struct tally held;
};

static int tally_unique_extent(void *arg, const struct extent *e)
{
	struct unique_ctx *u = arg;
	if (e->kind != BLK_DATA || e->birth < u->min_birth)
		return 0;
	return tally_add(&u->held, e->pblock, e->nblocks);
}

static int fill_info(struct cowstore *cs, struct vol *v, int with_space,
		     struct cowstore_volume_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = v->id;
	snprintf(info->name, sizeof(info->name), "%s", v->name);
	info->size_bytes = v->size_bytes;
	info->created_unix_ns = v->created_ns;
	info->serial = v->serial;
	info->parent_snapshot_id = v->parent ? v->parent->id : 0;
	info->nsnapshots = v->nsnaps;
	for (uint32_t i = 0; i < v->nsnaps; i++)
		info->nclones += v->snaps[i]->nclones;
	if (!with_space)
		return 0;
	struct snap *newest = vol_newest_snap(v);
	struct unique_ctx u = { newest ? newest->gen + 1 : 0, { 0 } };
	uint64_t mapped;
	int rc = view_mapped_blocks(cs, v, NULL, &mapped);
	if (!rc)
		rc = layer_scan(cs, v->id, 0, UINT64_MAX, tally_unique_extent, &u);
	info->mapped_bytes = mapped * COWSTORE_BLOCK_SIZE;
	info->unique_bytes = rc ? 0 : tally_unique(&u.held, &cs->alloc) * COWSTORE_BLOCK_SIZE;
	tally_free(&u.held);
	return rc;
}

/* ---- operations on the store thread ---------------------------------- */

struct vol_args {
	const char *name;
	uint64_t id;
	uint64_t size_bytes;
	int with_space;
	uint64_t *id_out;
	struct cowstore_volume_info *info;
	struct cowstore_volume_info **list;
	size_t *count;
	struct cowstore_err *err;
};

static int do_create(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	if (vol_find_name(cs, a->name)) {
		set_err(a->err, "volume '%s' already exists", a->name);
		return -EEXIST;
	}
	struct vol *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->id = cs->next_id++;
	snprintf(v->name, sizeof(v->name), "%s", a->name);
	v->size_bytes = a->size_bytes;
	v->cur_gen = 1;
	v->created_ns = now_ns();
	v->serial = v->id;
	int rc = vol_add(cs, v);
	if (rc) {
		free(v);
		return rc;
	}
	vol_record_put(cs->ctl_wb, v);
	pool_record_put(cs, cs->ctl_wb);
	if (a->id_out)
		*a->id_out = v->id;
	return 0;
}

int cowstore_volume_create(struct cowstore *cs, const char *name, uint64_t size_bytes,
			   uint64_t *id_out, struct cowstore_err *err)
{
	struct vol_args a = { .name = name, .size_bytes = size_bytes, .id_out = id_out,
			      .err = err };
	int rc = check_name(name, "volume", err);
	if (!rc)
		rc = check_size(size_bytes, err);
	return rc ? rc : engine_control(cs, do_create, &a, false);
}

static int do_lookup(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct vol *v = vol_find_name(cs, a->name);
	if (!v)
		return -ENOENT;
	*a->id_out = v->id;
	return 0;
}

int cowstore_volume_lookup(struct cowstore *cs, const char *name, uint64_t *id_out)
{
	struct vol_args a = { .name = name, .id_out = id_out };
	if (!name || !id_out)
		return -EINVAL;
	return engine_control(cs, do_lookup, &a, false);
}

static int do_info(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	return v ? fill_info(cs, v, a->with_space, a->info) : -ENOENT;
}

int cowstore_volume_info(struct cowstore *cs, uint64_t id, int with_space,
			 struct cowstore_volume_info *info)
{
	struct vol_args a = { .id = id, .with_space = with_space, .info = info };
	return info ? engine_control(cs, do_info, &a, false) : -EINVAL;
}

static int do_list(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct cowstore_volume_info *list = calloc(cs->nvols + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; !rc && i < cs->nvols; i++)
		rc = fill_info(cs, cs->vols[i], a->with_space, &list[i]);
	if (rc) {
		free(list);
		return rc;
	}
	*a->list = list;
	*a->count = cs->nvols;
	return 0;
}

int cowstore_volume_list(struct cowstore *cs, int with_space,
			 struct cowstore_volume_info **list, size_t *count)
{
	struct vol_args a = { .with_space = with_space, .list = list, .count = count };
	return list && count ? engine_control(cs, do_list, &a, false) : -EINVAL;
}

static int do_rename(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	struct vol *holder = vol_find_name(cs, a->name);
	if (!v) {
		set_err(a->err, "no volume with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	if (holder && holder != v) {
		set_err(a->err, "volume '%s' already exists", a->name);
		return -EEXIST;
	}
	snprintf(v->name, sizeof(v->name), "%s", a->name);
	vol_record_put(cs->ctl_wb, v);
	return 0;
}

int cowstore_volume_rename(struct cowstore *cs, uint64_t id, const char *name,
			   struct cowstore_err *err)
{
	struct vol_args a = { .id = id, .name = name, .err = err };
	int rc = check_name(name, "volume", err);
	return rc ? rc : engine_control(cs, do_rename, &a, false);
}

static int do_resize(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	if (!v) {
		set_err(a->err, "no volume with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	int rc = vol_refuse_if_moving(v, a->err);
	if (!rc && a->size_bytes < v->size_bytes) {
		uint64_t from = a->size_bytes / COWSTORE_BLOCK_SIZE;
		rc = head_replace(cs, v, from, vol_nblocks(v) - from, NULL, vol_zero_kind(v));
	}
	if (rc)
		return rc;
	v->size_bytes = a->size_bytes;
	vol_record_put(cs->ctl_wb, v);
	return 0;
}

int cowstore_volume_resize(struct cowstore *cs, uint64_t id, uint64_t size_bytes,
			   struct cowstore_err *err)
{
	struct vol_args a = { .id = id, .size_bytes = size_bytes, .err = err };
	int rc = check_size(size_bytes, err);
	return rc ? rc : engine_control(cs, do_resize, &a, true);
}

/* Append ", name" of every clone of v's snapshots to buf. */
static size_t name_clones(struct cowstore *cs, const struct vol *v, const struct snap *only,
			  char *buf, size_t cap)
{
	size_t len = 0, count = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < cs->nvols; i++) {
		struct snap *p = cs->vols[i]->parent;
		if (!p || p->vol != v || (only && p != only))
			continue;
		int n = snprintf(buf + len, cap - len, "%s'%s'", count ? ", " : "",
				 cs->vols[i]->name);
		if (n > 0 && (size_t)n < cap - len)
			len += (size_t)n;
		count++;
	}
	return count;
}

size_t clone_names(struct cowstore *cs, const struct snap *s, char *buf, size_t cap)
{
	return name_clones(cs, s->vol, s, buf, cap);
}

static int drop_extent(void *arg, const struct extent *e)
{
	struct cowstore *cs = arg;
	int rc = extent_delete(cs, e);
	if (rc)
		return rc;
	return e->kind == BLK_DATA ? alloc_unref(&cs->alloc, e->pblock, e->nblocks) : 0;
}

int layer_drop(struct cowstore *cs, uint64_t layer)
{
	return layer_scan(cs, layer, 0, UINT64_MAX, drop_extent, cs);
}

static int do_delete(struct cowstore *cs, void *arg)
{
	struct vol_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	char names[200];
	if (!v) {
		set_err(a->err, "no volume with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	if (name_clones(cs, v, NULL, names, sizeof(names))) {
		set_err(a->err, "volume '%s' has snapshots that clones depend on: %s", v->name,
			names);
		return -EBUSY;
	}
	int rc = vol_refuse_if_moving(v, a->err);
	if (rc)
		return rc;
	rc = layer_drop(cs, v->id);
	for (uint32_t i = 0; !rc && i < v->nsnaps; i++) {
		rc = layer_drop(cs, v->snaps[i]->id);
		snap_record_delete(cs->ctl_wb, v->snaps[i]->id);
	}
	chunk_records_drop(cs->ctl_wb, v->id); /* what the maps had checkpointed */
	for (uint32_t i = 0; i < v->nsnaps; i++)
		chunk_records_drop(cs->ctl_wb, v->snaps[i]->id);
	vol_record_delete(cs->ctl_wb, v->id);
	if (!rc)
		rc = control_commit(cs); /* before the head map goes with v */
	if (rc) {
		set_err(a->err, "deleting volume '%s' failed: %s", v->name, strerror(-rc));
		return rc;
	}
	if (v->parent)
		v->parent->nclones--;
	vol_remove(cs, v);
	return 0;
}

int cowstore_volume_delete(struct cowstore *cs, uint64_t id, struct cowstore_err *err)
{
	struct vol_args a = { .id = id, .err = err };
	return engine_control(cs, do_delete, &a, true);
}
