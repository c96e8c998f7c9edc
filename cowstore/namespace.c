/*
 * namespace.c - the file namespace's tree: names, directories, links,
 * attributes, symlinks (the NFS server's LOOKUP ... RENAME, READDIR and
 * SETATTR).  Records are laid out in ns_record.c; file data, snapshots and
 * clones are ns_file.c's.
 *
 * Every call holds cs->ns.lock throughout, reads the records it needs,
 * changes copies in memory and writes them in one synced batch: a call is
 * atomic and durable, and no two calls interleave.  An inode touched twice
 * by a call (the same directory as source and target of a rename) is one
 * copy, so the batch never carries two versions of it.  Volumes are deleted
 * after the batch that drops their last name, through an orphan record
 * written in that batch, so a crash between the two loses no space.
 */
#include <errno.h>
#include <string.h>

#include "cowstore/internal.h"

#define MAX_DEPTH (1u << 20) /* parent walks: more means a loop in the records */

/* A name's child, which must exist (a dangling entry is damage). */
static int child_get(struct cowstore *cs, uint64_t ino, struct ns_inode *in)
{
	int rc = ns_inode_get(cs, ino, in);
	return rc == -ESTALE ? -EIO : rc;
}

int cowstore_ns_getattr(struct cowstore *cs, uint64_t ino, uint32_t gen,
			struct cowstore_ns_attr *attr)
{
	struct ns_inode in;
	int rc = attr ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = ns_inode_get(cs, ino, &in);
	if (!rc && gen && gen != in.gen)
		rc = -ESTALE;
	if (!rc)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}

/* The inode dir/name, into *child. */
static int lookup(struct cowstore *cs, uint64_t dir, const char *name, struct ns_inode *child)
{
	struct ns_inode d;
	struct ns_dirent de;
	int rc = ns_dir_get(cs, dir, &d);
	if (!rc)
		rc = ns_entry_find(cs, &d, name, &de);
	return rc ? rc : child_get(cs, de.ino, child);
}

int cowstore_ns_lookup(struct cowstore *cs, uint64_t dir, const char *name,
		       struct cowstore_ns_attr *attr)
{
	struct ns_inode child;
	int rc = attr ? ns_name_check(name) : -EINVAL;
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = lookup(cs, dir, name, &child);
	if (!rc)
		ns_attr_fill(&child, attr);
	ns_leave(cs);
	return rc;
}

/* ---- create and link ------------------------------------------------- */

static int check_how(const struct cowstore_ns_create *how)
{
	if (!how || (how->mode & ~07777u))
		return -EINVAL;
	switch (how->type) {
	case COWSTORE_NS_REG:
	case COWSTORE_NS_DIR:
	case COWSTORE_NS_SOCK:
	case COWSTORE_NS_FIFO:
		return 0;
	case COWSTORE_NS_LNK: {
		size_t len = how->symlink ? strnlen(how->symlink, COWSTORE_NS_PATH_MAX + 1) : 0;
		return len == 0 ? -EINVAL : len > COWSTORE_NS_PATH_MAX ? -ENAMETOOLONG : 0;
	}
	}
	return -EINVAL;
}

int ns_add_name(struct cowstore *cs, rocksdb_writebatch_t *wb, struct ns_inode *d,
		const char *name, const struct ns_inode *in, const struct ns_counts *c)
{
	int rc = ns_entry_add(cs, wb, d, name, in->ino, in->type);
	if (rc)
		return rc;
	d->nlink += in->type == COWSTORE_NS_DIR;
	ns_inode_put(wb, d);
	ns_inode_put(wb, in);
	if (c)
		ns_counters_put(cs, wb, c);
	return ns_commit(cs, wb, true);
}

int ns_dir_free_name(struct cowstore *cs, uint64_t dir, const char *name, struct ns_inode *d,
		     struct ns_inode *old)
{
	struct ns_dirent de;
	int rc = ns_dir_get(cs, dir, d);
	if (!rc)
		rc = ns_entry_find(cs, d, name, &de);
	if (rc == -ENOENT)
		return 0;
	if (!rc && old)
		rc = child_get(cs, de.ino, old);
	return rc ? rc : -EEXIST;
}

static int create_inode(struct cowstore *cs, uint64_t dir, const char *name,
			const struct cowstore_ns_create *how, struct ns_inode *in)
{
	struct ns_inode d;
	struct ns_counts c = cs->ns.count;
	int rc = ns_dir_free_name(cs, dir, name, &d, in);
	if (!rc && how->type == COWSTORE_NS_DIR && d.nlink >= COWSTORE_NS_LINK_MAX)
		rc = -EMLINK;
	if (!rc)
		rc = ns_inode_init(in, c.next_ino++, how->type, how->mode, how->uid, how->gid);
	if (rc)
		return rc;
	c.files++;
	in->parent = how->type == COWSTORE_NS_DIR ? d.ino : 0;
	in->atime_ns = how->atime_ns ? how->atime_ns : in->atime_ns;
	in->mtime_ns = how->mtime_ns ? how->mtime_ns : in->mtime_ns;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	if (how->type == COWSTORE_NS_LNK) {
		in->size_bytes = strlen(how->symlink);
		ns_symlink_put(wb, in->ino, how->symlink);
	}
	rc = ns_add_name(cs, wb, &d, name, in, &c);
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		cs->ns.count = c;
	return rc;
}

int cowstore_ns_create(struct cowstore *cs, uint64_t dir, const char *name,
		       const struct cowstore_ns_create *how, struct cowstore_ns_attr *attr)
{
	struct ns_inode in;
	int rc = ns_name_check(name);
	if (!rc)
		rc = check_how(how);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = create_inode(cs, dir, name, how, &in);
	if (!rc || rc == -EEXIST)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}

static int add_link(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		struct ns_inode *in)
{
	struct ns_inode d;
	int rc = ns_inode_get(cs, ino, in);
	if (!rc && in->type == COWSTORE_NS_DIR)
		rc = -EISDIR;
	if (!rc && in->nlink >= COWSTORE_NS_LINK_MAX)
		rc = -EMLINK;
	if (!rc)
		rc = ns_dir_free_name(cs, dir, name, &d, NULL);
	if (rc)
		return rc;
	in->nlink++;
	ns_touch(in, false);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rc = ns_add_name(cs, wb, &d, name, in, NULL);
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int cowstore_ns_link(struct cowstore *cs, uint64_t ino, uint64_t dir, const char *name,
		     struct cowstore_ns_attr *attr)
{
	struct ns_inode in;
	int rc = ns_name_check(name);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = add_link(cs, ino, dir, name, &in);
	if (!rc)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}

/* ---- remove and rename ----------------------------------------------- */

/* One name of in is gone (the caller removed the entry): in loses a link,
 * or is forgotten with its last one; *orphan gets its volume to delete. */
static void drop_link(struct cowstore *cs, rocksdb_writebatch_t *wb, struct ns_inode *in,
		      struct ns_counts *c, uint64_t *orphan)
{
	if (in->type != COWSTORE_NS_DIR && in->nlink > 1) {
		in->nlink--;
		ns_touch(in, false);
		ns_inode_put(wb, in);
		return;
	}
	ns_inode_delete(cs, wb, in);
	c->files--;
	ns_counters_put(cs, wb, c);
	if (in->volume_id)
		ns_orphan_put(wb, in->ino, in->volume_id);
	*orphan = in->volume_id;
}

/* After the batch: delete the volume of a file that lost its last name.
 * The name is gone whatever happens here; a failed delete stays recorded
 * and is tried again at the next open (ns_record.c). */
static void reap(struct cowstore *cs, uint64_t ino, uint64_t volume_id)
{
	if (volume_id)
		ns_orphan_reap(cs, ino, volume_id);
}

static int remove_name(struct cowstore *cs, uint64_t dir, const char *name, int is_dir,
		       struct ns_inode *child)
{
	struct ns_inode d;
	struct ns_dirent de;
	struct ns_counts c = cs->ns.count;
	uint64_t orphan = 0;
	int rc = ns_dir_get(cs, dir, &d);
	if (!rc)
		rc = ns_entry_find(cs, &d, name, &de);
	if (!rc && (de.type == COWSTORE_NS_DIR) != !!is_dir)
		rc = is_dir ? -ENOTDIR : -EISDIR;
	if (!rc)
		rc = child_get(cs, de.ino, child);
	if (!rc && child->type == COWSTORE_NS_DIR && child->size_bytes)
		rc = -ENOTEMPTY;
	if (rc)
		return rc;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_entry_remove(wb, &d, &de);
	d.nlink -= child->type == COWSTORE_NS_DIR;
	ns_inode_put(wb, &d);
	drop_link(cs, wb, child, &c, &orphan);
	rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	if (rc)
		return rc;
	cs->ns.count = c;
	reap(cs, child->ino, orphan);
	return 0;
}

int cowstore_ns_remove(struct cowstore *cs, uint64_t dir, const char *name, int is_dir)
{
	struct ns_inode child;
	int rc = ns_name_check(name);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = remove_name(cs, dir, name, is_dir, &child);
	ns_leave(cs);
	return rc;
}

/* -EINVAL when dir is src or lies below it. */
static int check_outside(struct cowstore *cs, uint64_t src, uint64_t dir)
{
	struct ns_inode d;
	for (uint32_t depth = 0; depth < MAX_DEPTH; depth++) {
		if (dir == src)
			return -EINVAL;
		if (dir == COWSTORE_NS_ROOT)
			return 0;
		int rc = ns_inode_get(cs, dir, &d);
		if (rc)
			return rc == -ESTALE ? -EIO : rc;
		dir = d.parent;
	}
	return -EIO;
}

/* May src replace old (loaded into *old)? */
static int check_replace(struct cowstore *cs, const struct ns_inode *src,
			 const struct ns_dirent *target, struct ns_inode *old)
{
	int rc = child_get(cs, target->ino, old);
	if (rc)
		return rc;
	if (src->type == COWSTORE_NS_DIR && old->type != COWSTORE_NS_DIR)
		return -ENOTDIR;
	if (src->type != COWSTORE_NS_DIR && old->type == COWSTORE_NS_DIR)
		return -EISDIR;
	return old->type == COWSTORE_NS_DIR && old->size_bytes ? -ENOTEMPTY : 0;
}

/* A rename as loaded and checked: from and to may be one inode. */
struct move {
	struct ns_inode from_store, to_store, *from, *to;
	struct ns_inode src, old;
	struct ns_dirent src_de, old_de;
	bool replace;
};

/* Load and check a rename; 1 when there is nothing to do. */
static int rename_check(struct cowstore *cs, struct move *m, uint64_t from_dir,
			const char *from_name, uint64_t to_dir, const char *to_name)
{
	bool is_dir;
	m->from = &m->from_store;
	m->to = from_dir == to_dir ? m->from : &m->to_store;
	int rc = ns_dir_get(cs, from_dir, m->from);
	if (!rc && m->to != m->from)
		rc = ns_dir_get(cs, to_dir, m->to);
	if (!rc)
		rc = ns_entry_find(cs, m->from, from_name, &m->src_de);
	if (!rc)
		rc = child_get(cs, m->src_de.ino, &m->src);
	if (rc)
		return rc;
	rc = ns_entry_find(cs, m->to, to_name, &m->old_de);
	if (rc && rc != -ENOENT)
		return rc;
	m->replace = rc == 0;
	if (m->replace && m->old_de.ino == m->src.ino)
		return 1;
	is_dir = m->src.type == COWSTORE_NS_DIR;
	if (is_dir && (rc = check_outside(cs, m->src.ino, to_dir)))
		return rc;
	if (m->replace)
		return check_replace(cs, &m->src, &m->old_de, &m->old);
	return is_dir && m->to != m->from && m->to->nlink >= COWSTORE_NS_LINK_MAX ? -EMLINK : 0;
}

static int rename_apply(struct cowstore *cs, struct move *m, const char *to_name,
			uint64_t *orphan)
{
	struct ns_counts c = cs->ns.count;
	uint32_t is_dir = m->src.type == COWSTORE_NS_DIR;
	int rc = 0;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	ns_entry_remove(wb, m->from, &m->src_de);
	if (m->replace)
		ns_entry_repoint(wb, m->to, &m->old_de, m->src.ino, m->src.type);
	else
		rc = ns_entry_add(cs, wb, m->to, to_name, m->src.ino, m->src.type);
	m->from->nlink -= is_dir;
	m->to->nlink += is_dir;
	if (m->replace) {
		m->to->nlink -= m->old.type == COWSTORE_NS_DIR;
		drop_link(cs, wb, &m->old, &c, orphan);
	}
	if (is_dir)
		m->src.parent = m->to->ino;
	ns_touch(&m->src, false);
	ns_inode_put(wb, &m->src);
	ns_inode_put(wb, m->from);
	if (m->to != m->from)
		ns_inode_put(wb, m->to);
	if (!rc)
		rc = ns_commit(cs, wb, true);
	rocksdb_writebatch_destroy(wb);
	if (!rc)
		cs->ns.count = c;
	return rc;
}

int cowstore_ns_rename(struct cowstore *cs, uint64_t from_dir, const char *from_name,
		       uint64_t to_dir, const char *to_name)
{
	struct move m = { 0 };
	uint64_t orphan = 0;
	int rc = ns_name_check(from_name);
	if (!rc)
		rc = ns_name_check(to_name);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = rename_check(cs, &m, from_dir, from_name, to_dir, to_name);
	if (!rc)
		rc = rename_apply(cs, &m, to_name, &orphan);
	if (!rc)
		reap(cs, m.old.ino, orphan);
	ns_leave(cs);
	return rc < 0 ? rc : 0;
}

/* ---- reading directories ---------------------------------------------- */

struct readdir_ctx {
	cowstore_ns_dirent_fn fn;
	void *arg;
};

static int readdir_step(void *arg, const struct ns_dirent *de)
{
	struct readdir_ctx *r = arg;
	return r->fn(r->arg, de->name, de->ino, de->cookie);
}

/* The walk runs without the lock, on a RocksDB iterator: the directory as
 * it was when the walk began, and fn may call back into the namespace. */
int cowstore_ns_readdir(struct cowstore *cs, uint64_t dir, uint64_t after_cookie,
			cowstore_ns_dirent_fn fn, void *arg)
{
	struct ns_inode d;
	struct readdir_ctx r = { fn, arg };
	int rc = fn ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = ns_dir_get(cs, dir, &d);
	ns_leave(cs);
	if (rc || after_cookie == UINT64_MAX)
		return rc;
	uint64_t from = after_cookie < NS_FIRST_COOKIE ? NS_FIRST_COOKIE : after_cookie + 1;
	return ns_entries_walk(cs, dir, from, readdir_step, &r);
}

int cowstore_ns_parent(struct cowstore *cs, uint64_t dir, uint64_t *parent)
{
	struct ns_inode d;
	int rc = parent ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = ns_dir_get(cs, dir, &d);
	if (!rc)
		*parent = d.parent;
	ns_leave(cs);
	return rc;
}

int cowstore_ns_readlink(struct cowstore *cs, uint64_t ino, char *target)
{
	struct ns_inode in;
	int rc = target ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	rc = ns_inode_get(cs, ino, &in);
	if (!rc)
		rc = in.type == COWSTORE_NS_LNK ? ns_symlink_get(cs, ino, target) : -EINVAL;
	ns_leave(cs);
	return rc;
}

/* ---- attributes ------------------------------------------------------- */

#define SET_ALL                                                                          \
	(COWSTORE_NS_SET_MODE | COWSTORE_NS_SET_UID | COWSTORE_NS_SET_GID |               \
	 COWSTORE_NS_SET_SIZE | COWSTORE_NS_SET_ATIME | COWSTORE_NS_SET_MTIME |           \
	 COWSTORE_NS_SET_ATIME_NOW | COWSTORE_NS_SET_MTIME_NOW)

static int check_setattr(unsigned mask, const struct cowstore_ns_attr *values)
{
	if ((mask & ~SET_ALL) || (mask && !values))
		return -EINVAL;
	if (((mask & COWSTORE_NS_SET_ATIME) && (mask & COWSTORE_NS_SET_ATIME_NOW)) ||
	    ((mask & COWSTORE_NS_SET_MTIME) && (mask & COWSTORE_NS_SET_MTIME_NOW)))
		return -EINVAL;
	return (mask & COWSTORE_NS_SET_MODE) && (values->mode & ~07777u) ? -EINVAL : 0;
}

/* Only a regular file has a size to set. */
static int check_size(const struct ns_inode *in, uint64_t size_bytes)
{
	int rc = ns_file_kind(in);
	return !rc && size_bytes > COWSTORE_NS_MAX_FILE_BYTES ? -EFBIG : rc;
}

static int setattr(struct cowstore *cs, uint64_t ino, unsigned mask,
		   const struct cowstore_ns_attr *values, int64_t if_ctime_ns, struct ns_inode *in)
{
	int rc = ns_inode_get(cs, ino, in);
	if (!rc && if_ctime_ns && in->ctime_ns != if_ctime_ns)
		rc = -EAGAIN;
	if (!rc && (mask & COWSTORE_NS_SET_SIZE))
		rc = check_size(in, values->size_bytes);
	if (!rc && (mask & COWSTORE_NS_SET_SIZE))
		rc = ns_file_resize(cs, in, values->size_bytes); /* data first: see ns_file.c */
	if (rc || !mask)
		return rc;
	ns_touch(in, mask & COWSTORE_NS_SET_SIZE);
	if (mask & COWSTORE_NS_SET_MODE)
		in->mode = values->mode;
	if (mask & COWSTORE_NS_SET_UID)
		in->uid = values->uid;
	if (mask & COWSTORE_NS_SET_GID)
		in->gid = values->gid;
	if (mask & (COWSTORE_NS_SET_ATIME | COWSTORE_NS_SET_ATIME_NOW))
		in->atime_ns = mask & COWSTORE_NS_SET_ATIME ? values->atime_ns : in->ctime_ns;
	if (mask & (COWSTORE_NS_SET_MTIME | COWSTORE_NS_SET_MTIME_NOW))
		in->mtime_ns = mask & COWSTORE_NS_SET_MTIME ? values->mtime_ns : in->ctime_ns;
	return ns_inode_save(cs, in, true);
}

int cowstore_ns_setattr(struct cowstore *cs, uint64_t ino, unsigned mask,
			const struct cowstore_ns_attr *values, int64_t if_ctime_ns,
			struct cowstore_ns_attr *attr)
{
	struct ns_inode in;
	int rc = check_setattr(mask, values);
	if (!rc)
		rc = ns_enter(cs);
	if (rc)
		return rc;
	rc = setattr(cs, ino, mask, values, if_ctime_ns, &in);
	if (!rc)
		ns_attr_fill(&in, attr);
	ns_leave(cs);
	return rc;
}

/* ---- figures -------------------------------------------------------------- */

static int read_free_blocks(struct cowstore *cs, void *arg)
{
	*(uint64_t *)arg = alloc_free_blocks(&cs->alloc);
	return 0;
}

int cowstore_ns_statfs(struct cowstore *cs, struct cowstore_ns_stat *st)
{
	uint64_t free_blocks = 0;
	int rc = st ? ns_enter(cs) : -EINVAL;
	if (rc)
		return rc;
	st->files = cs->ns.count.files;
	ns_leave(cs);
	rc = engine_control(cs, read_free_blocks, &free_blocks, false);
	st->max_files = st->files + free_blocks;
	return rc;
}
