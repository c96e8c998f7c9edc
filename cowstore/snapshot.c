/*
 * snapshot.c - instant snapshots, consistency groups, clones, rollback and
 * snapshot deletion with exact space reclaim.
 *
 * A snapshot is a frozen generation number: taking one writes two small
 * records and copies nothing.  Deleting snapshot S hands each mapping in
 * S's layer to the next older snapshot P when P could see it (born no later
 * than P and not replaced in P's own layer); every other mapping was visible
 * to S alone and is unreferenced.  "Unique bytes" is that second set, so it
 * is exactly what a delete frees.  Each operation is one synced RocksDB
 * batch (cs->ctl_wb, with the chunks of every map it changed), so a crash
 * leaves it done or not done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

/* ---- walking a snapshot's layer for delete (or its dry run) ----------- */

struct covered {
	uint64_t lba, n;
	uint8_t *mask; /* 1 where the older snapshot's own layer maps the block */
};

static int mark_covered(void *arg, const struct extent *e)
{
	struct covered *c = arg;
	uint64_t from = e->lba > c->lba ? e->lba : c->lba;
	uint64_t to = e->lba + e->nblocks < c->lba + c->n ? e->lba + e->nblocks : c->lba + c->n;
	for (uint64_t b = from; b < to; b++)
		c->mask[b - c->lba] = 1;
	return 0;
}

struct release_ctx {
	struct cowstore *cs;
	struct snap *older;       /* receives what it can see, or NULL */
	bool apply; /* false: dry run, only count */
	struct tally dropped; /* references the delete drops */
};

/* Blocks [off, off+len) of snapshot extent e (len <= MAX_EXTENT_BLOCKS). */
static int release_chunk(struct release_ctx *r, const struct extent *e, uint64_t off,
			 uint64_t len)
{
	uint8_t mask[MAX_EXTENT_BLOCKS];
	struct covered c = { e->lba + off, len, mask };
	int rc = 0;

	memset(mask, 0, len);
	if (r->older && e->birth <= r->older->gen)
		rc = layer_scan(r->cs, r->older->id, e->lba + off, len, mark_covered, &c);
	else
		memset(mask, 1, len); /* the older snapshot cannot see any of it */
	for (uint64_t i = 0; i < len && !rc;) {
		uint64_t run = 1;
		while (i + run < len && mask[i + run] == mask[i])
			run++;
		if (!mask[i] && r->apply) { /* move to the older snapshot */
			struct extent s = *e;
			s.layer = r->older->id;
			s.lba = e->lba + off + i;
			s.nblocks = run;
			if (e->kind == BLK_DATA)
				s.pblock = e->pblock + off + i;
			rc = extent_put(r->cs, &s);
		} else if (mask[i] && e->kind == BLK_DATA) {
			if (r->apply)
				rc = alloc_unref(&r->cs->alloc, e->pblock + off + i, run);
			else
				rc = tally_add(&r->dropped, e->pblock + off + i, run);
		}
		i += run;
	}
	return rc;
}

static int release_snap_extent(void *arg, const struct extent *e)
{
	struct release_ctx *r = arg;
	int rc = 0;
	if (r->apply)
		rc = extent_delete(r->cs, e);
	return rc ? rc : release_chunk(r, e, 0, e->nblocks); /* extents fit one chunk */
}

static struct snap *older_snap(const struct snap *s)
{
	struct vol *v = s->vol;
	for (uint32_t i = 1; i < v->nsnaps; i++)
		if (v->snaps[i] == s)
			return v->snaps[i - 1];
	return NULL;
}

/* Delete snapshot s's layer (apply), or count what that would free. */
static int snap_walk(struct cowstore *cs, struct snap *s, bool apply, uint64_t *unique_blocks)
{
	struct release_ctx r = { cs, older_snap(s), apply, { 0 } };
	int rc = layer_scan(cs, s->id, 0, UINT64_MAX, release_snap_extent, &r);
	*unique_blocks = rc || apply ? 0 : tally_unique(&r.dropped, &cs->alloc);
	tally_free(&r.dropped);
	return rc;
}

/* ---- operations on the store thread ---------------------------------- */

struct snap_args {
	uint64_t id;
	const uint64_t *vol_ids;
	size_t count;
	const char *name;
	unsigned flags;
	uint64_t *ids_out;
	struct cowstore_snapshot_info **list;
	size_t *nlist;
	struct cowstore_err *err;
};

static struct snap *snap_by_name(const struct vol *v, const char *name)
{
	for (uint32_t i = 0; i < v->nsnaps; i++)
		if (strcmp(v->snaps[i]->name, name) == 0)
			return v->snaps[i];
	return NULL;
}

static int do_create(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct snap *made[a->count];
	int64_t now = now_ns();
	uint64_t group = a->count > 1 ? cs->next_id : 0;
	int rc = 0;

	for (size_t i = 0; i < a->count; i++) {
		struct vol *v = vol_find(cs, a->vol_ids[i]);
		if (!v) {
			set_err(a->err, "no volume with id %llu", (unsigned long long)a->vol_ids[i]);
			return -ENOENT;
		}
		if (snap_by_name(v, a->name)) {
			set_err(a->err, "volume '%s' already has a snapshot '%s'", v->name, a->name);
			return -EEXIST;
		}
		if ((rc = vol_refuse_if_moving(v, a->err)))
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (a->vol_ids[j] == a->vol_ids[i]) {
				set_err(a->err, "volume '%s' is named twice in the group", v->name);
				return -EINVAL;
			}
		}
	}
	for (size_t i = 0; i < a->count; i++) {
		struct vol *v = vol_find(cs, a->vol_ids[i]);
		struct snap *s = calloc(1, sizeof(*s));
		made[i] = s;
		if (!s) {
			rc = -ENOMEM;
			continue;
		}
		s->id = cs->next_id++;
		s->vol = v;
		snprintf(s->name, sizeof(s->name), "%s", a->name);
		s->gen = v->cur_gen;
		s->size_bytes = v->size_bytes;
		s->created_ns = now;
		s->group_id = group;
		snap_record_put(cs->ctl_wb, s);
		v->cur_gen++;
		vol_record_put(cs->ctl_wb, v);
	}
	pool_record_put(cs, cs->ctl_wb);
	for (size_t i = 0; i < a->count; i++) {
		if (!rc)
			rc = vol_snap_add(made[i]->vol, made[i]);
		if (rc) { /* out of memory: the records are not committed */
			if (made[i])
				made[i]->vol->cur_gen--;
			free(made[i]);
			continue;
		}
		if (a->ids_out)
			a->ids_out[i] = made[i]->id;
	}
	return rc;
}

int cowstore_snapshot_group_create(struct cowstore *cs, const uint64_t *volume_ids,
				   size_t count, const char *name, uint64_t *snap_ids_out,
				   struct cowstore_err *err)
{
	struct snap_args a = { .vol_ids = volume_ids, .count = count, .name = name,
			       .ids_out = snap_ids_out, .err = err };
	if (!volume_ids || count == 0 || count > 256) {
		set_err(err, "a group snapshot takes 1 to 256 volumes");
		return -EINVAL;
	}
	int rc = check_name(name, "snapshot", err);
	return rc ? rc : engine_control(cs, do_create, &a, false);
}

int cowstore_snapshot_create(struct cowstore *cs, uint64_t volume_id, const char *name,
			     uint64_t *snap_id_out, struct cowstore_err *err)
{
	return cowstore_snapshot_group_create(cs, &volume_id, 1, name, snap_id_out, err);
}

static int do_lookup(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	struct snap *s = v ? snap_by_name(v, a->name) : NULL;
	if (!s)
		return -ENOENT;
	*a->ids_out = s->id;
	return 0;
}

int cowstore_snapshot_lookup(struct cowstore *cs, uint64_t volume_id, const char *name,
			     uint64_t *snap_id_out)
{
	struct snap_args a = { .id = volume_id, .name = name, .ids_out = snap_id_out };
	return name && snap_id_out ? engine_control(cs, do_lookup, &a, false) : -EINVAL;
}

static int do_list(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct vol *v = vol_find(cs, a->id);
	if (!v)
		return -ENOENT;
	struct cowstore_snapshot_info *list = calloc(v->nsnaps + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; !rc && i < v->nsnaps; i++) {
		struct snap *s = v->snaps[i];
		struct cowstore_snapshot_info *info = &list[i];
		uint64_t unique = 0, mapped = 0; /* read only when rc stays 0 */
		info->id = s->id;
		info->volume_id = v->id;
		snprintf(info->name, sizeof(info->name), "%s", s->name);
		info->created_unix_ns = s->created_ns;
		info->size_bytes = s->size_bytes;
		info->group_id = s->group_id;
		info->nclones = s->nclones;
		rc = snap_walk(cs, s, false, &unique);
		if (!rc)
			rc = view_mapped_blocks(cs, v, s, &mapped);
		info->unique_bytes = unique * COWSTORE_BLOCK_SIZE;
		info->shared_bytes = (mapped > unique ? mapped - unique : 0) * COWSTORE_BLOCK_SIZE;
	}
	if (rc) {
		free(list);
		return rc;
	}
	*a->list = list;
	*a->nlist = v->nsnaps;
	return 0;
}

int cowstore_snapshot_list(struct cowstore *cs, uint64_t volume_id,
			   struct cowstore_snapshot_info **list, size_t *count)
{
	struct snap_args a = { .id = volume_id, .list = list, .nlist = count };
	return list && count ? engine_control(cs, do_list, &a, false) : -EINVAL;
}

static int delete_snap(struct cowstore *cs, struct snap *s, struct cowstore_err *err)
{
	char names[200];
	uint64_t unique;
	if (clone_names(cs, s, names, sizeof(names))) {
		set_err(err, "snapshot '%s' of volume '%s' has clones: %s", s->name,
			s->vol->name, names);
		return -EBUSY;
	}
	int rc = snap_walk(cs, s, true, &unique);
	snap_record_delete(cs->ctl_wb, s->id);
	chunk_records_drop(cs->ctl_wb, s->id);
	if (!rc) /* now: a later delete in the same request reads what this one moved */
		rc = control_commit(cs);
	if (rc) {
		set_err(err, "deleting snapshot '%s' failed: %s", s->name, strerror(-rc));
		return rc;
	}
	snap_destroy(s);
	return 0;
}

static int do_delete(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct snap *s = snap_find(cs, a->id);
	if (!s) {
		set_err(a->err, "no snapshot with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	int rc = vol_refuse_if_moving(s->vol, a->err);
	return rc ? rc : delete_snap(cs, s, a->err);
}

int cowstore_snapshot_delete(struct cowstore *cs, uint64_t snap_id, struct cowstore_err *err)
{
	struct snap_args a = { .id = snap_id, .err = err };
	return engine_control(cs, do_delete, &a, true);
}

/* ---- rollback -------------------------------------------------------- */

struct rollback_ctx {
	struct cowstore *cs;
	uint64_t gen;
	uint64_t head;
};

static int drop_newer(void *arg, const struct extent *e)
{
	struct rollback_ctx *r = arg;
	if (e->birth <= r->gen)
		return 0;
	int rc = extent_delete(r->cs, e);
	if (rc)
		return rc;
	return e->kind == BLK_DATA ? alloc_unref(&r->cs->alloc, e->pblock, e->nblocks) : 0;
}

static int move_to_head(void *arg, const struct extent *e)
{
	struct rollback_ctx *r = arg;
	struct extent m = *e;
	int rc = extent_delete(r->cs, e);
	m.layer = r->head;
	return rc ? rc : extent_put(r->cs, &m);
}

static int do_rollback(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct snap *s = snap_find(cs, a->id);
	if (!s) {
		set_err(a->err, "no snapshot with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	struct vol *v = s->vol;
	int rc = vol_refuse_if_moving(v, a->err);
	if (rc)
		return rc;
	if (vol_newest_snap(v) != s && !(a->flags & COWSTORE_ROLLBACK_DELETE_NEWER)) {
		set_err(a->err, "volume '%s' has snapshots newer than '%s' (newest '%s'): "
			"delete them first or ask for it", v->name, s->name,
			vol_newest_snap(v)->name);
		return -EBUSY;
	}
	for (uint32_t i = v->nsnaps; i-- > 0 && v->snaps[i] != s;) { /* all or nothing */
		char names[200];
		if (clone_names(cs, v->snaps[i], names, sizeof(names))) {
			set_err(a->err, "newer snapshot '%s' of volume '%s' has clones: %s",
				v->snaps[i]->name, v->name, names);
			return -EBUSY;
		}
	}
	while (vol_newest_snap(v) != s) {
		rc = delete_snap(cs, vol_newest_snap(v), a->err);
		if (rc)
			return rc;
	}
	/* Deletes of the head's newer mappings go first in the batch, then
	 * the snapshot's mappings move in: they never overlap the survivors. */
	struct rollback_ctx r = { cs, s->gen, v->id };
	rc = layer_scan(cs, v->id, 0, UINT64_MAX, drop_newer, &r);
	if (!rc)
		rc = layer_scan(cs, s->id, 0, UINT64_MAX, move_to_head, &r);
	if (rc) {
		set_err(a->err, "rollback of '%s' failed: %s", v->name, strerror(-rc));
		return rc;
	}
	v->size_bytes = s->size_bytes;
	vol_record_put(cs->ctl_wb, v);
	return 0;
}

int cowstore_snapshot_rollback(struct cowstore *cs, uint64_t snap_id, unsigned flags,
			       struct cowstore_err *err)
{
	struct snap_args a = { .id = snap_id, .flags = flags, .err = err };
	if (flags & ~COWSTORE_ROLLBACK_DELETE_NEWER)
		return -EINVAL;
	return engine_control(cs, do_rollback, &a, true);
}

/* ---- clones ---------------------------------------------------------- */

static int do_clone(struct cowstore *cs, void *arg)
{
	struct snap_args *a = arg;
	struct snap *s = snap_find(cs, a->id);
	if (!s) {
		set_err(a->err, "no snapshot with id %llu", (unsigned long long)a->id);
		return -ENOENT;
	}
	if (vol_find_name(cs, a->name)) {
		set_err(a->err, "volume '%s' already exists", a->name);
		return -EEXIST;
	}
	int rc = vol_refuse_if_moving(s->vol, a->err); /* its blocks could not leave the pool */
	if (rc)
		return rc;
	struct vol *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->id = cs->next_id++;
	snprintf(v->name, sizeof(v->name), "%s", a->name);
	v->size_bytes = s->size_bytes;
	v->cur_gen = 1;
	v->created_ns = now_ns();
	v->serial = v->id;
	v->parent = s;
	rc = vol_add(cs, v);
	if (rc) {
		free(v);
		return rc;
	}
	vol_record_put(cs->ctl_wb, v);
	pool_record_put(cs, cs->ctl_wb);
	s->nclones++;
	if (a->ids_out)
		*a->ids_out = v->id;
	return 0;
}

int cowstore_clone_create(struct cowstore *cs, uint64_t snap_id, const char *name,
			  uint64_t *volume_id_out, struct cowstore_err *err)
{
	struct snap_args a = { .id = snap_id, .name = name, .ids_out = volume_id_out,
			       .err = err };
	int rc = check_name(name, "volume", err);
	return rc ? rc : engine_control(cs, do_clone, &a, false);
}
