/*
 * test_namespace.c - the file namespace (cowstore/namespace.c, ns_file.c,
 * ns_record.c): names, kinds, links, remove, rename, readdir cookies (with
 * a forced hash collision), attributes and the ctime guard, sizes and the
 * zeros past them, written/sync, statfs, per-file snapshots and clones,
 * persistence across a reopen, stale handles, and the recovery of volumes
 * a crash left behind (records written straight into RocksDB while the pool
 * is closed).
 */
#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>

#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define ROOT COWSTORE_NS_ROOT

static uint8_t buf[1 << 20], out[1 << 20];

/* ---- helpers ------------------------------------------------------------ */

static int make(struct cowstore *cs, uint64_t dir, const char *name, uint32_t type,
		struct cowstore_ns_attr *attr)
{
	struct cowstore_ns_create how = { .type = type, .uid = 1000, .gid = 100,
					  .symlink = "target" };
	how.mode = type == COWSTORE_NS_DIR ? 0755 : 0644;
	struct cowstore_ns_attr ignored;
	return cowstore_ns_create(cs, dir, name, &how, attr ? attr : &ignored);
}

static uint64_t make_ino(struct cowstore *cs, uint64_t dir, const char *name, uint32_t type)
{
	struct cowstore_ns_attr a;
	return make(cs, dir, name, type, &a) == 0 ? a.ino : 0;
}

static struct cowstore_ns_attr attr_of(struct cowstore *cs, uint64_t ino)
{
	struct cowstore_ns_attr a;
	memset(&a, 0, sizeof(a));
	if (cowstore_ns_getattr(cs, ino, 0, &a))
		a.ino = 0;
	return a;
}

/* Write sectors [lba, lba + n) of a file with a pattern, as the NFS server
 * will: volume, IO, written. */
static int write_file(struct cowstore *cs, uint64_t ino, uint64_t lba, uint32_t n, uint32_t seed)
{
	uint64_t vol, end = (lba + n) * 512;
	int rc = cowstore_ns_volume(cs, ino, end, &vol);
	fill_pattern(buf, lba, n, seed);
	if (!rc)
		rc = cowstore_write(cs, vol, lba, n, buf, 0);
	return rc ? rc : cowstore_ns_written(cs, ino, end, NULL);
}

/* Read bytes [off, off + len) of the file's volume (zeros past its end). */
static int read_file(struct cowstore *cs, uint64_t ino, uint64_t off, size_t len)
{
	struct cowstore_ns_attr a = attr_of(cs, ino);
	struct cowstore_volume_info vi;
	memset(out, 0, len);
	if (!a.volume_id)
		return a.ino ? 0 : -ESTALE;
	int rc = cowstore_volume_info(cs, a.volume_id, 0, &vi);
	uint64_t end = off + len < vi.size_bytes ? off + len : vi.size_bytes;
	if (!rc && end > off)
		rc = cowstore_read(cs, a.volume_id, off / 512, (uint32_t)((end - off) / 512), out);
	return rc;
}

static int file_is(struct cowstore *cs, uint64_t ino, uint64_t lba, uint32_t n, uint32_t seed)
{
	return read_file(cs, ino, lba * 512, n * 512) == 0 && check_pattern(out, lba, n, seed);
}

static uint64_t allocated(struct cowstore *cs)
{
	struct cowstore_pool_info info;
	cowstore_flush(cs);
	return cowstore_pool_info(cs, &info) == 0 ? info.allocated_bytes : UINT64_MAX;
}

struct listing {
	char names[128][64];
	uint64_t inos[128], cookies[128];
	int n;
};

static int collect(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct listing *l = arg;
	if (l->n == 128)
		return -ENOSPC;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->inos[l->n] = ino;
	l->cookies[l->n++] = cookie;
	return 0;
}

static int list_dir(struct cowstore *cs, uint64_t dir, uint64_t after, struct listing *l)
{
	l->n = 0;
	return cowstore_ns_readdir(cs, dir, after, collect, l);
}

/* The cookie of name in l, 0 when absent. */
static uint64_t cookie_of(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return l->cookies[i];
	return 0;
}

static uint64_t volume_named(struct cowstore *cs, uint64_t ino)
{
	char name[32];
	uint64_t id;
	snprintf(name, sizeof(name), "file.%llu", (unsigned long long)ino);
	return cowstore_volume_lookup(cs, name, &id) == 0 ? id : 0;
}

/* ---- RocksDB straight, with the pool closed ---------------------------- */

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static size_t ns_key(uint8_t key[18], char kind, uint64_t a, uint64_t b, int nids)
{
	key[0] = 'N';
	key[1] = (uint8_t)kind;
	be64(key + 2, a);
	be64(key + 10, b);
	return 2 + 8 * (size_t)nids;
}

struct raw {
	rocksdb_options_t *opts;
	rocksdb_t *db;
	rocksdb_writeoptions_t *w;
	rocksdb_readoptions_t *r;
};

static int raw_open(struct test_pool *tp, struct raw *raw)
{
	char path[128], *err = NULL;
	cowstore_close(tp->cs);
	tp->cs = NULL;
	snprintf(path, sizeof(path), "%s/meta", tp->dir);
	raw->opts = rocksdb_options_create();
	raw->db = rocksdb_open(raw->opts, path, &err);
	raw->w = rocksdb_writeoptions_create();
	raw->r = rocksdb_readoptions_create();
	free(err);
	return raw->db ? 0 : -1;
}

static int raw_close(struct test_pool *tp, struct raw *raw)
{
	struct cowstore_err err;
	rocksdb_close(raw->db);
	rocksdb_options_destroy(raw->opts);
	rocksdb_writeoptions_destroy(raw->w);
	rocksdb_readoptions_destroy(raw->r);
	return cowstore_open(tp->dir, &tp->cs, &err);
}

/* ---- names and kinds --------------------------------------------------------- */

static void test_root(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a;
	uint64_t parent = 0;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, 0, &a), 0);
	CHECK_EQ(a.ino, ROOT);
	CHECK_EQ(a.type, COWSTORE_NS_DIR);
	CHECK_EQ(a.mode, 0755);
	CHECK_EQ(a.uid, 0);
	CHECK_EQ(a.gid, 0);
	CHECK_EQ(a.nlink, 2);
	CHECK_EQ(a.size_bytes, 0);
	CHECK(a.gen != 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, a.gen, &a), 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, a.gen + 1, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, 0, 0, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, 999, 0, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, 0, NULL), -EINVAL);
	CHECK_EQ(cowstore_ns_getattr(NULL, ROOT, 0, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_parent(tp.cs, ROOT, &parent), 0);
	CHECK_EQ(parent, ROOT);
	CHECK_EQ(cowstore_ns_parent(tp.cs, ROOT, NULL), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_create_lookup(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a, b, root0, root1;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	root0 = attr_of(tp.cs, ROOT);
	REQUIRE(make(tp.cs, ROOT, "a", COWSTORE_NS_REG, &a) == 0);
	CHECK(a.ino > ROOT && a.gen != 0);
	CHECK_EQ(a.type, COWSTORE_NS_REG);
	CHECK_EQ(a.mode, 0644);
	CHECK_EQ(a.uid, 1000);
	CHECK_EQ(a.gid, 100);
	CHECK_EQ(a.nlink, 1);
	CHECK_EQ(a.size_bytes, 0);
	CHECK_EQ(a.used_bytes, 0);
	CHECK_EQ(a.volume_id, 0);
	CHECK_EQ(a.change, 1);
	CHECK(a.ctime_ns > 0 && a.mtime_ns == a.ctime_ns);
	root1 = attr_of(tp.cs, ROOT);
	CHECK_EQ(root1.size_bytes, 32);
	CHECK(root1.change > root0.change);
	CHECK(root1.mtime_ns >= root0.mtime_ns && root1.ctime_ns >= root0.ctime_ns);
	CHECK_EQ(root1.nlink, 2);

	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, "a", &b), 0);
	CHECK_EQ(b.ino, a.ino);
	CHECK_EQ(b.gen, a.gen);
	memset(&b, 0, sizeof(b));
	CHECK_EQ(make(tp.cs, ROOT, "a", COWSTORE_NS_DIR, &b), -EEXIST);
	CHECK_EQ(b.ino, a.ino); /* the existing inode */
	CHECK_EQ(b.type, COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, "b", &b), -ENOENT);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, a.ino, "x", &b), -ENOTDIR);
	CHECK_EQ(make(tp.cs, a.ino, "x", COWSTORE_NS_REG, NULL), -ENOTDIR);
	CHECK_EQ(make(tp.cs, 12345, "x", COWSTORE_NS_REG, NULL), -ESTALE);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, 12345, "x", &b), -ESTALE);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, "a", NULL), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_names(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr b;
	char longname[COWSTORE_NS_NAME_MAX + 2];
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	static const char *bad[] = { "", ".", "..", "a/b", "/", NULL };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(make(tp.cs, ROOT, bad[i], COWSTORE_NS_REG, NULL), -EINVAL);
		CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, bad[i], &b), -EINVAL);
	}
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(make(tp.cs, ROOT, longname, COWSTORE_NS_REG, NULL), -ENAMETOOLONG);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, longname, &b), -ENAMETOOLONG);
	longname[COWSTORE_NS_NAME_MAX] = 0;
	CHECK_EQ(make(tp.cs, ROOT, longname, COWSTORE_NS_REG, NULL), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, longname, &b), 0);
	CHECK_EQ(make(tp.cs, ROOT, "..a", COWSTORE_NS_REG, NULL), 0); /* only . and .. */
	test_pool_destroy(&tp);
}

static void test_create_arguments(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a;
	char target[COWSTORE_NS_PATH_MAX + 2];
	struct cowstore_ns_create how = { .type = COWSTORE_NS_REG, .mode = 0644 };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	how.mode = 010000;
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), -EINVAL);
	how.mode = 0644;
	how.type = 3; /* NFS's block device: not kept here */
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), -EINVAL);
	how.type = COWSTORE_NS_LNK;
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), -EINVAL); /* no target */
	how.symlink = "";
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), -EINVAL);
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	how.symlink = target;
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), -ENAMETOOLONG);
	target[COWSTORE_NS_PATH_MAX] = 0;
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "x", &how, &a), 0);
	CHECK_EQ(a.size_bytes, COWSTORE_NS_PATH_MAX);
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "y", NULL, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_create(NULL, ROOT, "y", &how, &a), -EINVAL);
	/* NFS exclusive create keeps its verifier in the times */
	how = (struct cowstore_ns_create){ .type = COWSTORE_NS_REG, .mode = 0600,
					   .atime_ns = 12345, .mtime_ns = 67890 };
	CHECK_EQ(cowstore_ns_create(tp.cs, ROOT, "excl", &how, &a), 0);
	CHECK_EQ(a.atime_ns, 12345);
	CHECK_EQ(a.mtime_ns, 67890);
	CHECK(a.ctime_ns > 67890);
	test_pool_destroy(&tp);
}

static void test_kinds(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr d, s, f, k, a;
	char target[COWSTORE_NS_PATH_MAX + 1];
	uint64_t parent;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(make(tp.cs, ROOT, "d", COWSTORE_NS_DIR, &d) == 0);
	CHECK_EQ(d.nlink, 2);
	CHECK_EQ(d.mode, 0755);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 3);
	CHECK_EQ(cowstore_ns_parent(tp.cs, d.ino, &parent), 0);
	CHECK_EQ(parent, ROOT);
	REQUIRE(make(tp.cs, d.ino, "e", COWSTORE_NS_DIR, &a) == 0);
	CHECK_EQ(cowstore_ns_parent(tp.cs, a.ino, &parent), 0);
	CHECK_EQ(parent, d.ino);
	CHECK_EQ(attr_of(tp.cs, d.ino).nlink, 3);

	REQUIRE(make(tp.cs, d.ino, "link", COWSTORE_NS_LNK, &s) == 0);
	CHECK_EQ(s.type, COWSTORE_NS_LNK);
	CHECK_EQ(s.size_bytes, 6);
	CHECK_EQ(cowstore_ns_readlink(tp.cs, s.ino, target), 0);
	CHECK(strcmp(target, "target") == 0);
	REQUIRE(make(tp.cs, d.ino, "fifo", COWSTORE_NS_FIFO, &f) == 0);
	CHECK_EQ(f.type, COWSTORE_NS_FIFO);
	REQUIRE(make(tp.cs, d.ino, "sock", COWSTORE_NS_SOCK, &k) == 0);
	CHECK_EQ(k.type, COWSTORE_NS_SOCK);
	CHECK_EQ(attr_of(tp.cs, d.ino).nlink, 3); /* only directories count */
	CHECK_EQ(attr_of(tp.cs, d.ino).size_bytes, 4 * 32);

	CHECK_EQ(cowstore_ns_readlink(tp.cs, f.ino, target), -EINVAL);
	CHECK_EQ(cowstore_ns_readlink(tp.cs, d.ino, target), -EINVAL);
	CHECK_EQ(cowstore_ns_readlink(tp.cs, 999, target), -ESTALE);
	CHECK_EQ(cowstore_ns_readlink(tp.cs, s.ino, NULL), -EINVAL);
	CHECK_EQ(cowstore_ns_parent(tp.cs, f.ino, &parent), -ENOTDIR);
	CHECK_EQ(cowstore_ns_parent(tp.cs, 999, &parent), -ESTALE);
	uint64_t vol;
	CHECK_EQ(cowstore_ns_volume(tp.cs, d.ino, 10, &vol), -EISDIR);
	CHECK_EQ(cowstore_ns_volume(tp.cs, s.ino, 10, &vol), -EINVAL);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f.ino, 10, &vol), -EINVAL);
	CHECK_EQ(cowstore_ns_written(tp.cs, d.ino, 10, &a), -EISDIR);
	test_pool_destroy(&tp);
}

/* ---- links, remove, rename --------------------------------------------- */

static void test_link(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr f, l, a;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	REQUIRE(make(tp.cs, ROOT, "f", COWSTORE_NS_REG, &f) == 0);
	CHECK_EQ(cowstore_ns_link(tp.cs, f.ino, d, "g", &l), 0);
	CHECK_EQ(l.ino, f.ino);
	CHECK_EQ(l.nlink, 2);
	CHECK(l.change > f.change && l.ctime_ns >= f.ctime_ns);
	CHECK_EQ(attr_of(tp.cs, d).size_bytes, 32);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "g", &a), 0);
	CHECK_EQ(a.ino, f.ino);
	CHECK_EQ(cowstore_ns_link(tp.cs, f.ino, d, "g", &a), -EEXIST);
	CHECK_EQ(cowstore_ns_link(tp.cs, d, ROOT, "d2", &a), -EISDIR);
	CHECK_EQ(cowstore_ns_link(tp.cs, 999, ROOT, "x", &a), -ESTALE);
	CHECK_EQ(cowstore_ns_link(tp.cs, f.ino, f.ino, "x", &a), -ENOTDIR);
	CHECK_EQ(cowstore_ns_link(tp.cs, f.ino, ROOT, "..", &a), -EINVAL);
	CHECK_EQ(write_file(tp.cs, f.ino, 0, 8, 1), 0);
	/* the data is the inode's, whichever name */
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "f", 0), 0);
	CHECK_EQ(attr_of(tp.cs, f.ino).nlink, 1);
	CHECK(file_is(tp.cs, f.ino, 0, 8, 1));
	CHECK(volume_named(tp.cs, f.ino) != 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "g", 0), 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f.ino, 0, &a), -ESTALE);
	CHECK_EQ(volume_named(tp.cs, f.ino), 0);
	test_pool_destroy(&tp);
}

static void test_remove(void)
{
	struct test_pool tp;
	struct cowstore_ns_stat st;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	uint64_t f = make_ino(tp.cs, d, "f", COWSTORE_NS_REG);
	REQUIRE(d && f);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 3);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "d", 0), -EISDIR);
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "f", 1), -ENOTDIR);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "d", 1), -ENOTEMPTY);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "nothing", 0), -ENOENT);
	CHECK_EQ(cowstore_ns_remove(tp.cs, f, "x", 0), -ENOTDIR);
	CHECK_EQ(cowstore_ns_remove(tp.cs, 999, "x", 0), -ESTALE);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, ".", 1), -EINVAL);
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "f", 0), 0);
	CHECK_EQ(attr_of(tp.cs, d).size_bytes, 0);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 3);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "d", 1), 0);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 2);
	CHECK_EQ(attr_of(tp.cs, ROOT).size_bytes, 0);
	CHECK_EQ(attr_of(tp.cs, d).ino, 0);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 1);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 1);
	/* inode numbers are never reused */
	CHECK(make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR) > f);
	test_pool_destroy(&tp);
}

static void test_rename_basic(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a;
	struct listing l;
	uint64_t parent;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d1 = make_ino(tp.cs, ROOT, "d1", COWSTORE_NS_DIR);
	uint64_t d2 = make_ino(tp.cs, ROOT, "d2", COWSTORE_NS_DIR);
	uint64_t f = make_ino(tp.cs, d1, "f", COWSTORE_NS_REG);
	REQUIRE(d1 && d2 && f);
	uint64_t change = attr_of(tp.cs, f).change;
	/* same directory */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "f", d1, "g"), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d1, "f", &a), -ENOENT);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d1, "g", &a), 0);
	CHECK_EQ(a.ino, f);
	CHECK(a.change > change);
	CHECK_EQ(attr_of(tp.cs, d1).size_bytes, 32);
	CHECK_EQ(list_dir(tp.cs, d1, 0, &l), 0);
	CHECK_EQ(l.n, 1);
	/* across directories */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "g", d2, "h"), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d2, "h", &a), 0);
	CHECK_EQ(a.ino, f);
	CHECK_EQ(attr_of(tp.cs, d1).size_bytes, 0);
	CHECK_EQ(attr_of(tp.cs, d2).size_bytes, 32);
	/* a directory: its parent and both parents' link counts */
	uint64_t sub = make_ino(tp.cs, d1, "sub", COWSTORE_NS_DIR);
	CHECK_EQ(attr_of(tp.cs, d1).nlink, 3);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "sub", d2, "sub"), 0);
	CHECK_EQ(attr_of(tp.cs, d1).nlink, 2);
	CHECK_EQ(attr_of(tp.cs, d2).nlink, 3);
	CHECK_EQ(cowstore_ns_parent(tp.cs, sub, &parent), 0);
	CHECK_EQ(parent, d2);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 4);
	/* onto itself, and onto another name of the same inode: nothing happens */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d2, "h", d2, "h"), 0);
	CHECK_EQ(cowstore_ns_link(tp.cs, f, d1, "other", &a), 0);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d2, "h", d1, "other"), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d2, "h", &a), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d1, "other", &a), 0);
	CHECK_EQ(a.nlink, 2);
	/* errors */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "missing", d2, "x"), -ENOENT);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "other", f, "x"), -ENOTDIR);
	CHECK_EQ(cowstore_ns_rename(tp.cs, f, "x", d1, "x"), -ENOTDIR);
	CHECK_EQ(cowstore_ns_rename(tp.cs, 999, "x", d1, "x"), -ESTALE);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "other", d1, ".."), -EINVAL);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d1, "", d1, "x"), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_rename_replace(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	uint64_t a1 = make_ino(tp.cs, d, "a", COWSTORE_NS_REG);
	uint64_t b1 = make_ino(tp.cs, d, "b", COWSTORE_NS_REG);
	REQUIRE(d && a1 && b1);
	REQUIRE(write_file(tp.cs, b1, 0, 2048, 3) == 0);
	uint64_t used = allocated(tp.cs);
	/* a file replaces a file: the old one goes, with its volume */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, "a", d, "b"), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "b", &a), 0);
	CHECK_EQ(a.ino, a1);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "a", &a), -ENOENT);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, b1, 0, &a), -ESTALE);
	CHECK_EQ(volume_named(tp.cs, b1), 0);
	CHECK_EQ(used - allocated(tp.cs), 1 << 20);
	CHECK_EQ(attr_of(tp.cs, d).size_bytes, 32);
	/* a replaced file with another name only loses a link */
	uint64_t c1 = make_ino(tp.cs, d, "c", COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_link(tp.cs, c1, ROOT, "c-too", &a), 0);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, "b", d, "c"), 0);
	CHECK_EQ(attr_of(tp.cs, c1).nlink, 1);
	/* a directory replaces an empty directory, not a full one */
	uint64_t e1 = make_ino(tp.cs, d, "e1", COWSTORE_NS_DIR);
	uint64_t e2 = make_ino(tp.cs, ROOT, "e2", COWSTORE_NS_DIR);
	REQUIRE(e1 && e2);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 4);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, "e1", ROOT, "e2"), 0);
	CHECK_EQ(attr_of(tp.cs, e2).ino, 0);
	CHECK_EQ(attr_of(tp.cs, ROOT).nlink, 4);
	CHECK_EQ(attr_of(tp.cs, d).nlink, 2);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, "e2", &a), 0);
	CHECK_EQ(a.ino, e1);
	uint64_t full = make_ino(tp.cs, ROOT, "full", COWSTORE_NS_DIR);
	CHECK(make_ino(tp.cs, full, "x", COWSTORE_NS_REG) != 0);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "e2", ROOT, "full"), -ENOTEMPTY);
	/* kinds must match */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, "c", ROOT, "e2"), -EISDIR);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "e2", d, "c"), -ENOTDIR);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, ROOT, "e2", &a), 0); /* untouched */
	struct cowstore_ns_stat st;
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 7); /* root, d, a1, c1, e1, full, full/x */
	test_pool_destroy(&tp);
}

static void test_rename_subtree(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t a = make_ino(tp.cs, ROOT, "a", COWSTORE_NS_DIR);
	uint64_t b = make_ino(tp.cs, a, "b", COWSTORE_NS_DIR);
	uint64_t c = make_ino(tp.cs, b, "c", COWSTORE_NS_DIR);
	REQUIRE(a && b && c);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "a", c, "a"), -EINVAL);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "a", a, "a2"), -EINVAL);
	CHECK_EQ(cowstore_ns_rename(tp.cs, a, "b", b, "b2"), -EINVAL);
	/* a directory may move up, and a file anywhere */
	CHECK_EQ(cowstore_ns_rename(tp.cs, b, "c", ROOT, "c"), 0);
	CHECK(make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG) != 0);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "f", b, "f"), 0);
	CHECK_EQ(cowstore_ns_rename(tp.cs, ROOT, "a", c, "a"), 0); /* c is no longer below a */
	uint64_t parent;
	CHECK_EQ(cowstore_ns_parent(tp.cs, a, &parent), 0);
	CHECK_EQ(parent, c);
	test_pool_destroy(&tp);
}

/* ---- readdir -------------------------------------------------------------- */

static int stop_at_third(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	int *seen = arg;
	return ++*seen == 3 ? 77 : 0;
}

struct nested {
	struct cowstore *cs;
	int ok;
};

static int getattr_inside(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct nested *n = arg;
	struct cowstore_ns_attr a;
	n->ok += cowstore_ns_getattr(n->cs, ino, 0, &a) == 0 && a.ino == ino;
	return 0;
}

static void test_readdir_cookies(void)
{
	struct test_pool tp;
	struct listing all, rest, again;
	char name[16];
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "file%02d", i);
		REQUIRE(make(tp.cs, d, name, COWSTORE_NS_REG, NULL) == 0);
	}
	CHECK_EQ(list_dir(tp.cs, d, 0, &all), 0);
	REQUIRE(all.n == 60);
	for (int i = 0; i < all.n; i++) {
		CHECK(all.cookies[i] >= 3);
		CHECK(i == 0 || all.cookies[i] > all.cookies[i - 1]);
		struct cowstore_ns_attr a;
		CHECK(cowstore_ns_lookup(tp.cs, d, all.names[i], &a) == 0 && a.ino == all.inos[i]);
	}
	/* cookies 1 and 2 are NFS's "." and ".." */
	CHECK_EQ(list_dir(tp.cs, d, 2, &again), 0);
	CHECK_EQ(again.n, 60);
	/* resume in the middle */
	CHECK_EQ(list_dir(tp.cs, d, all.cookies[29], &rest), 0);
	REQUIRE(rest.n == 30);
	CHECK(strcmp(rest.names[0], all.names[30]) == 0);
	/* removals: survivors keep their cookies; a removed cookie still positions */
	for (int i = 20; i < 40; i += 2)
		CHECK_EQ(cowstore_ns_remove(tp.cs, d, all.names[i], 0), 0);
	CHECK_EQ(list_dir(tp.cs, d, all.cookies[30], &rest), 0);
	CHECK_EQ(rest.n, 25); /* 31..59 without 32, 34, 36, 38 */
	CHECK(strcmp(rest.names[0], all.names[31]) == 0);
	CHECK_EQ(rest.cookies[0], all.cookies[31]);
	CHECK_EQ(list_dir(tp.cs, d, 0, &again), 0);
	CHECK_EQ(again.n, 50);
	for (int i = 0; i < again.n; i++)
		CHECK_EQ(again.cookies[i], cookie_of(&all, again.names[i]));
	/* a renamed entry gets its new name's cookie; others stay */
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, all.names[0], d, "renamed"), 0);
	CHECK_EQ(list_dir(tp.cs, d, 0, &again), 0);
	CHECK_EQ(again.n, 50);
	CHECK_EQ(cookie_of(&again, all.names[0]), 0);
	CHECK(cookie_of(&again, "renamed") >= 3);
	CHECK_EQ(cookie_of(&again, all.names[1]), all.cookies[1]);
	test_pool_destroy(&tp);
}

/* Stopping, the end, errors, and a callback that calls back in. */
static void test_readdir_walk(void)
{
	struct test_pool tp;
	struct listing l;
	char name[16];
	int seen = 0;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		REQUIRE(make(tp.cs, d, name, COWSTORE_NS_REG, NULL) == 0);
	}
	CHECK_EQ(cowstore_ns_readdir(tp.cs, d, 0, stop_at_third, &seen), 77);
	CHECK_EQ(seen, 3);
	REQUIRE(list_dir(tp.cs, d, 0, &l) == 0 && l.n == 5);
	uint64_t f = l.inos[0];
	CHECK_EQ(list_dir(tp.cs, d, l.cookies[4], &l), 0);
	CHECK_EQ(l.n, 0);
	CHECK_EQ(list_dir(tp.cs, d, UINT64_MAX, &l), 0);
	CHECK_EQ(l.n, 0);
	CHECK_EQ(list_dir(tp.cs, f, 0, &l), -ENOTDIR);
	CHECK_EQ(list_dir(tp.cs, 999, 0, &l), -ESTALE);
	CHECK_EQ(cowstore_ns_readdir(tp.cs, d, 0, NULL, NULL), -EINVAL);
	struct nested n = { tp.cs, 0 };
	CHECK_EQ(cowstore_ns_readdir(tp.cs, d, 0, getattr_inside, &n), 0);
	CHECK_EQ(n.ok, 5);
	CHECK_EQ(list_dir(tp.cs, ROOT, 0, &l), 0);
	CHECK_EQ(l.n, 1);
	test_pool_destroy(&tp);
}

/* Two names in one hash slot: a decoy entry (a copy of another entry's
 * record) is put where "x" hashes; "x" must go to the next slot, and be
 * found there even after the decoy leaves a hole. */
static void test_cookie_collision(void)
{
	struct test_pool tp;
	struct raw raw;
	struct listing l;
	struct cowstore_ns_attr a;
	uint8_t from[18], to[18];
	size_t vlen;
	char *err = NULL;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	uint64_t f = make_ino(tp.cs, d, "f", COWSTORE_NS_REG);
	uint64_t x = make_ino(tp.cs, d, "x", COWSTORE_NS_REG);
	REQUIRE(d && f && x && list_dir(tp.cs, d, 0, &l) == 0);
	uint64_t slot_x = cookie_of(&l, "x"), slot_f = cookie_of(&l, "f");
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "x", 0), 0);
	REQUIRE(raw_open(&tp, &raw) == 0);
	size_t klen = ns_key(from, 'd', d, slot_f, 2);
	ns_key(to, 'd', d, slot_x, 2);
	char *val = rocksdb_get(raw.db, raw.r, (char *)from, klen, &vlen, &err);
	REQUIRE(val != NULL);
	rocksdb_put(raw.db, raw.w, (char *)to, klen, val, vlen, &err);
	free(val);
	REQUIRE(raw_close(&tp, &raw) == 0 && err == NULL);

	x = make_ino(tp.cs, d, "x", COWSTORE_NS_REG);
	REQUIRE(x != 0);
	CHECK_EQ(list_dir(tp.cs, d, 0, &l), 0);
	CHECK_EQ(l.n, 3); /* f, the decoy f, x */
	CHECK_EQ(cookie_of(&l, "x"), slot_x + 1);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "x", &a), 0);
	CHECK_EQ(a.ino, x);
	CHECK_EQ(make(tp.cs, d, "x", COWSTORE_NS_REG, NULL), -EEXIST);

	REQUIRE(raw_open(&tp, &raw) == 0);
	rocksdb_delete(raw.db, raw.w, (char *)to, klen, &err);
	REQUIRE(raw_close(&tp, &raw) == 0 && err == NULL);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "x", &a), 0); /* across the hole */
	CHECK_EQ(a.ino, x);
	CHECK_EQ(cowstore_ns_rename(tp.cs, d, "x", d, "y"), 0);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "y", &a), 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "y", 0), 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, d, "f", 0), 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "d", 1), 0);
	test_pool_destroy(&tp);
}

/* ---- attributes and sizes -------------------------------------------- */

static void test_setattr(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr v = { 0 }, a, before;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	REQUIRE(f && d);
	before = attr_of(tp.cs, f);
	v.mode = 04711;
	v.uid = 7;
	v.gid = 8;
	v.atime_ns = 1000;
	unsigned mask = COWSTORE_NS_SET_MODE | COWSTORE_NS_SET_UID | COWSTORE_NS_SET_GID |
			COWSTORE_NS_SET_ATIME | COWSTORE_NS_SET_MTIME_NOW;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, mask, &v, 0, &a), 0);
	CHECK_EQ(a.mode, 04711);
	CHECK_EQ(a.uid, 7);
	CHECK_EQ(a.gid, 8);
	CHECK_EQ(a.atime_ns, 1000);
	CHECK(a.mtime_ns >= before.mtime_ns && a.mtime_ns == a.ctime_ns);
	CHECK(a.change > before.change);
	CHECK_EQ(attr_of(tp.cs, f).mode, 04711);
	/* the ctime guard */
	v.mode = 0600;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_MODE, &v, a.ctime_ns + 1, NULL),
		 -EAGAIN);
	CHECK_EQ(attr_of(tp.cs, f).mode, 04711);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_MODE, &v, a.ctime_ns, &a), 0);
	CHECK_EQ(a.mode, 0600);
	/* nothing asked: the attributes, unchanged */
	before = a;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, 0, NULL, 0, &a), 0);
	CHECK_EQ(a.change, before.change);
	/* times */
	v.atime_ns = 5;
	v.mtime_ns = 6;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, d, COWSTORE_NS_SET_ATIME | COWSTORE_NS_SET_MTIME, &v, 0,
				     &a), 0);
	CHECK_EQ(a.atime_ns, 5);
	CHECK_EQ(a.mtime_ns, 6);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, d, COWSTORE_NS_SET_ATIME_NOW, &v, 0, &a), 0);
	CHECK(a.atime_ns == a.ctime_ns && a.mtime_ns == 6);
	test_pool_destroy(&tp);
}

static void test_setattr_errors(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr v = { 0 }, a;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	uint64_t s = make_ino(tp.cs, ROOT, "s", COWSTORE_NS_LNK);
	REQUIRE(f && d && s);
	v.size_bytes = 10;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, d, COWSTORE_NS_SET_SIZE, &v, 0, &a), -EISDIR);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, s, COWSTORE_NS_SET_SIZE, &v, 0, &a), -EINVAL);
	v.size_bytes = COWSTORE_NS_MAX_FILE_BYTES + 1;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_SIZE, &v, 0, &a), -EFBIG);
	v.mode = 010000;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_MODE, &v, 0, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, 0x100, &v, 0, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_UID, NULL, 0, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_MTIME | COWSTORE_NS_SET_MTIME_NOW,
				     &v, 0, &a), -EINVAL);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, 999, COWSTORE_NS_SET_UID, &v, 0, &a), -ESTALE);
	test_pool_destroy(&tp);
}

static void test_size_shrink_grow(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr v = { 0 }, a;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(write_file(tp.cs, f, 0, 64, 5) == 0); /* 32 KiB */
	a = attr_of(tp.cs, f);
	CHECK_EQ(a.size_bytes, 32768);
	CHECK_EQ(a.used_bytes, 32768);
	/* shrink into the middle of a block, then grow: zeros past the cut */
	v.size_bytes = 5000;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_SIZE, &v, 0, &a), 0);
	CHECK_EQ(a.size_bytes, 5000);
	CHECK_EQ(a.used_bytes, 8192);
	CHECK(a.mtime_ns == a.ctime_ns);
	v.size_bytes = 32768;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_SIZE, &v, 0, &a), 0);
	CHECK_EQ(a.size_bytes, 32768);
	CHECK_EQ(read_file(tp.cs, f, 0, 32768), 0);
	fill_pattern(buf, 0, 64, 5);
	CHECK(memcmp(out, buf, 5000) == 0);
	CHECK(is_zero(out + 5000, 32768 - 5000));
	/* a write past the end after a grow keeps the hole zero */
	CHECK_EQ(write_file(tp.cs, f, 128, 8, 6), 0);
	CHECK_EQ(attr_of(tp.cs, f).size_bytes, 136 * 512);
	CHECK_EQ(read_file(tp.cs, f, 0, 136 * 512), 0);
	fill_pattern(buf, 0, 64, 5);
	CHECK(memcmp(out, buf, 5000) == 0);
	CHECK(is_zero(out + 5000, 128 * 512 - 5000));
	CHECK(check_pattern(out + 128 * 512, 128, 8, 6));
	/* to zero and back */
	v.size_bytes = 0;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_SIZE, &v, 0, &a), 0);
	CHECK_EQ(a.size_bytes, 0);
	CHECK_EQ(a.used_bytes, 0);
	v.size_bytes = 1 << 20;
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_SIZE, &v, 0, &a), 0);
	CHECK_EQ(read_file(tp.cs, f, 0, 1 << 20), 0);
	CHECK(is_zero(out, 1 << 20));
	CHECK_EQ(allocated(tp.cs), 0);
	/* a grow alone makes no volume; a grow does not need one */
	uint64_t g = make_ino(tp.cs, ROOT, "g", COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, g, COWSTORE_NS_SET_SIZE, &v, 0, &a), 0);
	CHECK_EQ(a.size_bytes, 1 << 20);
	CHECK_EQ(a.volume_id, 0);
	test_pool_destroy(&tp);
}

static void test_volume_written_sync(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr a;
	struct cowstore_volume_info vi;
	uint64_t vol, vol2;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 5000, &vol), 0);
	CHECK(vol != 0);
	CHECK_EQ(vol, volume_named(tp.cs, f));
	CHECK(cowstore_volume_info(tp.cs, vol, 0, &vi) == 0 && vi.size_bytes == 8192);
	a = attr_of(tp.cs, f);
	CHECK_EQ(a.volume_id, vol);
	CHECK_EQ(a.size_bytes, 0); /* only a write's record sets the size */
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 8192, &vol2), 0);
	CHECK_EQ(vol2, vol);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 20000, &vol2), 0); /* doubled twice */
	CHECK(cowstore_volume_info(tp.cs, vol, 0, &vi) == 0 && vi.size_bytes == 32768);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, COWSTORE_NS_MAX_FILE_BYTES + 1, &vol2), -EFBIG);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 10, NULL), -EINVAL);
	CHECK_EQ(cowstore_ns_volume(tp.cs, 999, 10, &vol2), -ESTALE);

	fill_pattern(buf, 0, 16, 9);
	CHECK_EQ(cowstore_write(tp.cs, vol, 0, 16, buf, 0), 0);
	int64_t mtime = attr_of(tp.cs, f).mtime_ns;
	CHECK_EQ(cowstore_ns_written(tp.cs, f, 8192, &a), 0);
	CHECK_EQ(a.size_bytes, 8192);
	CHECK(a.mtime_ns >= mtime && a.ctime_ns == a.mtime_ns);
	CHECK_EQ(a.used_bytes, 8192);
	CHECK_EQ(cowstore_ns_written(tp.cs, f, 100, &a), 0); /* an earlier range: no shrink */
	CHECK_EQ(a.size_bytes, 8192);
	CHECK_EQ(cowstore_ns_written(tp.cs, f, COWSTORE_NS_MAX_FILE_BYTES + 1, &a), -EFBIG);
	CHECK_EQ(cowstore_ns_written(tp.cs, 999, 1, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_sync(tp.cs), 0);
	CHECK_EQ(cowstore_ns_sync(NULL), -EINVAL);
	REQUIRE(test_pool_reopen(&tp) == 0);
	a = attr_of(tp.cs, f);
	CHECK_EQ(a.size_bytes, 8192);
	CHECK(file_is(tp.cs, f, 0, 16, 9));
	/* a big file grows by doubling, never past the limit */
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, (1ull << 30) + 1, &vol2), 0);
	CHECK(cowstore_volume_info(tp.cs, vol, 0, &vi) == 0 && vi.size_bytes == 2ull << 30);
	test_pool_destroy(&tp);
}

static void test_statfs(void)
{
	struct test_pool tp;
	struct cowstore_ns_stat st;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 1);
	CHECK_EQ(st.max_files, 1 + (64 << 20) / 4096);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	CHECK_EQ(write_file(tp.cs, f, 0, 2048, 1), 0);
	CHECK_EQ(cowstore_flush(tp.cs), 0);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 2);
	CHECK_EQ(st.max_files, 2 + (63 << 20) / 4096);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, NULL), -EINVAL);
	CHECK_EQ(cowstore_ns_statfs(NULL, &st), -EINVAL);
	test_pool_destroy(&tp);
}

/* ---- persistence and handles ----------------------------------------- */

static void test_persistence(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr f0, d0, s0, a;
	struct cowstore_ns_stat st;
	struct listing l;
	char target[COWSTORE_NS_PATH_MAX + 1];
	uint64_t parent;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(make(tp.cs, ROOT, "dir", COWSTORE_NS_DIR, &d0) == 0);
	REQUIRE(make(tp.cs, d0.ino, "file", COWSTORE_NS_REG, &f0) == 0);
	REQUIRE(make(tp.cs, d0.ino, "sym", COWSTORE_NS_LNK, &s0) == 0);
	REQUIRE(write_file(tp.cs, f0.ino, 8, 24, 4) == 0);
	REQUIRE(cowstore_ns_link(tp.cs, f0.ino, ROOT, "hard", &a) == 0);
	f0 = attr_of(tp.cs, f0.ino);
	d0 = attr_of(tp.cs, d0.ino);
	REQUIRE(cowstore_ns_sync(tp.cs) == 0);
	REQUIRE(test_pool_reopen(&tp) == 0);

	CHECK_EQ(cowstore_ns_lookup(tp.cs, d0.ino, "file", &a), 0);
	CHECK(memcmp(&a, &f0, sizeof(a)) == 0);
	CHECK_EQ(a.size_bytes, 32 * 512);
	CHECK_EQ(a.nlink, 2);
	a = attr_of(tp.cs, d0.ino);
	CHECK(memcmp(&a, &d0, sizeof(a)) == 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f0.ino, f0.gen, &a), 0);
	CHECK(file_is(tp.cs, f0.ino, 8, 24, 4));
	CHECK_EQ(read_file(tp.cs, f0.ino, 0, 4096), 0);
	CHECK(is_zero(out, 4096));
	CHECK_EQ(cowstore_ns_readlink(tp.cs, s0.ino, target), 0);
	CHECK(strcmp(target, "target") == 0);
	CHECK_EQ(cowstore_ns_parent(tp.cs, d0.ino, &parent), 0);
	CHECK_EQ(parent, ROOT);
	CHECK_EQ(list_dir(tp.cs, ROOT, 0, &l), 0);
	CHECK_EQ(l.n, 2);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 4);
	CHECK(make_ino(tp.cs, ROOT, "new", COWSTORE_NS_REG) > s0.ino); /* counter kept */
	test_pool_destroy(&tp);
}

static void test_stale_handles(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr f, a;
	uint64_t vol;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	REQUIRE(make(tp.cs, ROOT, "f", COWSTORE_NS_REG, &f) == 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f.ino, f.gen ^ 1, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "f", 0), 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f.ino, f.gen, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f.ino, 0, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f.ino, 1, &vol), -ESTALE);
	CHECK_EQ(cowstore_ns_written(tp.cs, f.ino, 1, &a), -ESTALE);
	CHECK_EQ(cowstore_ns_link(tp.cs, f.ino, ROOT, "again", &a), -ESTALE);
	CHECK_EQ(cowstore_ns_setattr(tp.cs, f.ino, 0, NULL, 0, &a), -ESTALE);
	/* the same name again is another inode: the old handle stays stale */
	struct cowstore_ns_attr g;
	REQUIRE(make(tp.cs, ROOT, "f", COWSTORE_NS_REG, &g) == 0);
	CHECK(g.ino != f.ino);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, f.ino, f.gen, &a), -ESTALE);
	/* a handle from another pool: same numbers, another generation (a
	 * chance of 2^-32 that they agree) */
	struct test_pool other;
	REQUIRE(test_pool_open(&other, 64, 0) == 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, attr_of(other.cs, ROOT).gen, &a), -ESTALE);
	test_pool_destroy(&other);
	test_pool_destroy(&tp);
}

/* ---- volumes: freed, orphaned, adopted ------------------------------- */

static void test_remove_frees_volume(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(write_file(tp.cs, f, 0, 2048, 2) == 0);
	struct cowstore_ns_snapshot snap;
	REQUIRE(cowstore_ns_snapshot_create(tp.cs, f, "s", &snap, NULL) == 0);
	REQUIRE(write_file(tp.cs, f, 0, 2048, 3) == 0);
	CHECK_EQ(allocated(tp.cs), 2 << 20);
	CHECK(volume_named(tp.cs, f) != 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "f", 0), 0);
	CHECK_EQ(volume_named(tp.cs, f), 0);
	CHECK_EQ(allocated(tp.cs), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(volume_named(tp.cs, f), 0);
	test_pool_destroy(&tp);
}

/* What a crash can leave: an orphan record whose volume still exists, and
 * a volume made for an inode that never recorded it. */
static void test_crash_leftovers(void)
{
	struct test_pool tp;
	struct raw raw;
	uint8_t key[18], val[9] = { 1 };
	char *err = NULL;
	uint64_t junk, made, vol;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(cowstore_volume_create(tp.cs, "file.999", 1 << 20, &junk, NULL) == 0);
	char name[32];
	snprintf(name, sizeof(name), "file.%llu", (unsigned long long)f);
	REQUIRE(cowstore_volume_create(tp.cs, name, 1 << 20, &made, NULL) == 0);
	REQUIRE(cowstore_volume_create(tp.cs, "orphan-by-id", 1 << 20, &vol, NULL) == 0);
	REQUIRE(raw_open(&tp, &raw) == 0);
	size_t klen = ns_key(key, 'o', 999, 0, 1); /* by name */
	rocksdb_put(raw.db, raw.w, (char *)key, klen, (char *)val, sizeof(val), &err);
	ns_key(key, 'o', 12345, 0, 1); /* by id */
	for (int i = 0; i < 8; i++)
		val[1 + i] = (uint8_t)(vol >> (8 * i));
	rocksdb_put(raw.db, raw.w, (char *)key, klen, (char *)val, sizeof(val), &err);
	REQUIRE(raw_close(&tp, &raw) == 0 && err == NULL);

	CHECK(cowstore_volume_lookup(tp.cs, "file.999", &junk) == 0); /* not before first use */
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 4096, &vol), 0);
	CHECK_EQ(vol, made); /* adopted */
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "file.999", &junk), -ENOENT);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "orphan-by-id", &junk), -ENOENT);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_ns_volume(tp.cs, f, 4096, &vol), 0);
	CHECK_EQ(vol, made);

	/* a snapshot whose record was lost: the volume's size stands in */
	struct cowstore_ns_snapshot *list;
	size_t n;
	uint64_t snap;
	REQUIRE(write_file(tp.cs, f, 0, 16, 1) == 0);
	REQUIRE(cowstore_snapshot_create(tp.cs, made, "raw", &snap, NULL) == 0);
	REQUIRE(write_file(tp.cs, f, 0, 16, 2) == 0);
	REQUIRE(cowstore_ns_snapshot_list(tp.cs, f, &list, &n) == 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(list[0].snap_id, snap);
	CHECK_EQ(list[0].size_bytes, 1 << 20);
	CHECK(list[0].created_unix_ns > 0);
	free(list);
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "raw", NULL), 0);
	CHECK_EQ(attr_of(tp.cs, f).size_bytes, 1 << 20);
	CHECK(file_is(tp.cs, f, 0, 16, 1));
	test_pool_destroy(&tp);
}

/* A volume that cannot go with its file's last name (a clone made with the
 * store's own calls depends on it) is deleted at a later open. */
static void test_deferred_volume_delete(void)
{
	struct test_pool tp;
	uint64_t snap, clone, id;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(write_file(tp.cs, f, 0, 16, 1) == 0);
	uint64_t vol = attr_of(tp.cs, f).volume_id;
	REQUIRE(cowstore_snapshot_create(tp.cs, vol, "s", &snap, NULL) == 0);
	REQUIRE(cowstore_clone_create(tp.cs, snap, "outside", &clone, NULL) == 0);
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "f", 0), 0);
	CHECK_EQ(attr_of(tp.cs, f).ino, 0);
	CHECK_EQ(volume_named(tp.cs, f), vol); /* still there */
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK(make_ino(tp.cs, ROOT, "g", COWSTORE_NS_REG) != 0); /* tries again: refused */
	CHECK_EQ(volume_named(tp.cs, f), vol);
	CHECK_EQ(cowstore_volume_delete(tp.cs, clone, NULL), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(cowstore_ns_getattr(tp.cs, ROOT, 0, &(struct cowstore_ns_attr){ 0 }), 0);
	CHECK_EQ(volume_named(tp.cs, f), 0);
	CHECK_EQ(cowstore_volume_lookup(tp.cs, "outside", &id), -ENOENT);
	test_pool_destroy(&tp);
}

/* ---- per-file snapshots and clones ------------------------------------- */

static void test_snapshots(void)
{
	struct test_pool tp;
	struct cowstore_ns_snapshot s1, s2, *list;
	struct cowstore_err err = { "" };
	size_t n;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(write_file(tp.cs, f, 0, 16, 1) == 0);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "s1", &s1, &err), 0);
	CHECK(strcmp(s1.name, "s1") == 0);
	CHECK_EQ(s1.size_bytes, 8192);
	CHECK(s1.snap_id != 0 && s1.created_unix_ns > 0);
	REQUIRE(write_file(tp.cs, f, 0, 32, 2) == 0);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "s2", &s2, &err), 0);
	CHECK_EQ(s2.size_bytes, 16384);
	REQUIRE(write_file(tp.cs, f, 0, 48, 3) == 0);

	REQUIRE(test_pool_reopen(&tp) == 0);
	REQUIRE(cowstore_ns_snapshot_list(tp.cs, f, &list, &n) == 0);
	REQUIRE(n == 2);
	CHECK(strcmp(list[0].name, "s1") == 0 && strcmp(list[1].name, "s2") == 0);
	CHECK_EQ(list[0].size_bytes, 8192);
	CHECK_EQ(list[1].size_bytes, 16384);
	CHECK_EQ(list[0].snap_id, s1.snap_id);
	CHECK_EQ(list[0].created_unix_ns, s1.created_unix_ns);
	CHECK_EQ(list[0].unique_bytes, 8192); /* its blocks 0-1: overwritten since */
	free(list);

	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "s1", &err), -EBUSY);
	CHECK(strstr(err.msg, "s2") != NULL);
	CHECK(file_is(tp.cs, f, 0, 48, 3));
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "s2", &err), 0);
	CHECK_EQ(attr_of(tp.cs, f).size_bytes, 16384);
	CHECK(file_is(tp.cs, f, 0, 32, 2));
	CHECK_EQ(read_file(tp.cs, f, 16384, 8192), 0);
	CHECK(is_zero(out, 8192)); /* past the restored size */
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "s2", &err), 0);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "s2", &err), -ENOENT);
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "s2", &err), -ENOENT);
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "s1", &err), 0);
	CHECK_EQ(attr_of(tp.cs, f).size_bytes, 8192);
	CHECK(file_is(tp.cs, f, 0, 16, 1));
	REQUIRE(cowstore_ns_snapshot_list(tp.cs, f, &list, &n) == 0);
	CHECK_EQ(n, 1);
	free(list);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "s1", &err), 0);
	test_pool_destroy(&tp);
}

static void test_snapshot_errors(void)
{
	struct test_pool tp;
	struct cowstore_ns_snapshot s, *list;
	struct cowstore_err err = { "" };
	size_t n;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	REQUIRE(cowstore_ns_snapshot_create(tp.cs, f, "s", &s, &err) == 0);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "s", &s, &err), -EEXIST);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "bad name", &s, &err), -EINVAL);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, d, "s", &s, &err), -EISDIR);
	CHECK(strstr(err.msg, "directory") != NULL);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, 999, "s", &s, &err), -ESTALE);
	CHECK(strstr(err.msg, "no such file") != NULL);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "s", NULL, &err), -EINVAL);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, d, "s", &err), -EISDIR);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "", &err), -EINVAL);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "other", &err), -ENOENT);
	CHECK(strstr(err.msg, "no snapshot 'other'") != NULL);
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "other", &err), -ENOENT);
	CHECK_EQ(cowstore_ns_snapshot_list(tp.cs, d, &list, &n), -EISDIR);
	CHECK_EQ(cowstore_ns_snapshot_list(tp.cs, f, NULL, &n), -EINVAL);
	CHECK_EQ(cowstore_ns_snapshot_list(tp.cs, 999, &list, &n), -ESTALE);
	test_pool_destroy(&tp);
}

static void test_snapshot_empty_file(void)
{
	struct test_pool tp;
	struct cowstore_ns_snapshot s, *list;
	struct cowstore_err err;
	size_t n = 9;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_snapshot_list(tp.cs, f, &list, &n), 0);
	CHECK_EQ(n, 0);
	free(list);
	CHECK_EQ(cowstore_ns_snapshot_delete(tp.cs, f, "s", &err), -ENOENT);
	CHECK_EQ(cowstore_ns_snapshot_create(tp.cs, f, "empty", &s, &err), 0);
	CHECK_EQ(s.size_bytes, 0);
	struct cowstore_ns_attr a = attr_of(tp.cs, f);
	CHECK(a.volume_id != 0);
	CHECK_EQ(a.size_bytes, 0);
	CHECK_EQ(a.used_bytes, 0);
	REQUIRE(write_file(tp.cs, f, 0, 2048, 7) == 0);
	CHECK_EQ(cowstore_ns_snapshot_rollback(tp.cs, f, "empty", &err), 0);
	a = attr_of(tp.cs, f);
	CHECK_EQ(a.size_bytes, 0);
	CHECK_EQ(read_file(tp.cs, f, 0, 1 << 20), 0);
	CHECK(is_zero(out, 1 << 20));
	test_pool_destroy(&tp);
}

static void test_clone(void)
{
	struct test_pool tp;
	struct cowstore_ns_attr src, c, a, v = { .mode = 0640 };
	struct cowstore_err err = { "" };
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	uint64_t f = make_ino(tp.cs, ROOT, "f", COWSTORE_NS_REG);
	REQUIRE(write_file(tp.cs, f, 0, 2047, 1) == 0); /* 1 MiB less a sector */
	REQUIRE(cowstore_ns_setattr(tp.cs, f, COWSTORE_NS_SET_MODE, &v, 0, &src) == 0);
	uint64_t before = allocated(tp.cs);
	CHECK_EQ(cowstore_ns_clone(tp.cs, f, d, "c", &c, &err), 0);
	CHECK(c.ino != f && c.gen != 0 && c.volume_id != src.volume_id);
	CHECK_EQ(c.type, COWSTORE_NS_REG);
	CHECK_EQ(c.mode, 0640);
	CHECK_EQ(c.uid, src.uid);
	CHECK_EQ(c.gid, src.gid);
	CHECK_EQ(c.size_bytes, src.size_bytes);
	CHECK_EQ(c.mtime_ns, src.mtime_ns);
	CHECK_EQ(c.nlink, 1);
	CHECK_EQ(allocated(tp.cs), before); /* shared, not copied */
	CHECK(file_is(tp.cs, c.ino, 0, 2047, 1));
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "c", &a), 0);
	CHECK_EQ(a.ino, c.ino);
	/* independent of its source */
	REQUIRE(write_file(tp.cs, f, 0, 1024, 2) == 0);
	CHECK(file_is(tp.cs, c.ino, 0, 2047, 1));
	REQUIRE(write_file(tp.cs, c.ino, 1024, 1023, 3) == 0);
	CHECK(file_is(tp.cs, f, 1024, 1023, 1));
	CHECK_EQ(cowstore_ns_remove(tp.cs, ROOT, "f", 0), 0);
	CHECK(file_is(tp.cs, c.ino, 0, 1024, 1));
	CHECK(file_is(tp.cs, c.ino, 1024, 1023, 3));
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK(file_is(tp.cs, c.ino, 0, 1024, 1));
	/* errors, and an empty file's clone */
	uint64_t e = make_ino(tp.cs, ROOT, "e", COWSTORE_NS_REG);
	CHECK_EQ(cowstore_ns_clone(tp.cs, e, d, "c", &a, &err), -EEXIST);
	CHECK(strstr(err.msg, "'c'") != NULL);
	CHECK_EQ(cowstore_ns_clone(tp.cs, d, ROOT, "x", &a, &err), -EISDIR);
	CHECK_EQ(cowstore_ns_clone(tp.cs, f, ROOT, "x", &a, &err), -ESTALE);
	CHECK_EQ(cowstore_ns_clone(tp.cs, e, e, "x", &a, &err), -ENOTDIR);
	CHECK_EQ(cowstore_ns_clone(tp.cs, e, ROOT, "a/b", &a, &err), -EINVAL);
	CHECK_EQ(cowstore_ns_clone(tp.cs, e, ROOT, "e2", &a, &err), 0);
	CHECK_EQ(a.size_bytes, 0);
	CHECK_EQ(a.volume_id, 0);
	struct cowstore_ns_stat st;
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 5); /* root, d, c, e, e2 */
	test_pool_destroy(&tp);
}

/* ---- threads ------------------------------------------------------------- */

struct worker {
	struct cowstore *cs;
	uint64_t dir;
	int id, failures;
};

/* Create 40 files, rename every other one, write to each: all in one
 * directory that three other workers change at the same time. */
static void *work(void *arg)
{
	struct worker *w = arg;
	char name[32], renamed[32];
	for (int i = 0; i < 40; i++) {
		struct cowstore_ns_attr a;
		uint64_t vol;
		uint8_t block[4096];
		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		snprintf(renamed, sizeof(renamed), "w%d-%d-r", w->id, i);
		memset(block, w->id, sizeof(block));
		w->failures += make(w->cs, w->dir, name, COWSTORE_NS_REG, &a) != 0;
		if (i % 2)
			w->failures += cowstore_ns_rename(w->cs, w->dir, name, w->dir, renamed) != 0;
		w->failures += cowstore_ns_volume(w->cs, a.ino, 4096, &vol) != 0 ||
			       cowstore_write(w->cs, vol, 0, 8, block, 0) != 0 ||
			       cowstore_ns_written(w->cs, a.ino, 4096, NULL) != 0;
	}
	return NULL;
}

static int count_entries(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	++*(int *)arg;
	return 0;
}

static void test_threads(void)
{
	struct test_pool tp;
	struct worker w[4];
	pthread_t t[4];
	struct cowstore_ns_stat st;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	uint64_t d = make_ino(tp.cs, ROOT, "d", COWSTORE_NS_DIR);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ tp.cs, d, i + 1, 0 };
		REQUIRE(pthread_create(&t[i], NULL, work, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
	CHECK_EQ(attr_of(tp.cs, d).size_bytes, 160 * 32);
	CHECK_EQ(cowstore_ns_statfs(tp.cs, &st), 0);
	CHECK_EQ(st.files, 162);
	struct cowstore_ns_attr a;
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "w3-7-r", &a), 0);
	CHECK(a.size_bytes == 4096 && read_file(tp.cs, a.ino, 0, 4096) == 0 && out[4095] == 3);
	CHECK_EQ(cowstore_ns_lookup(tp.cs, d, "w3-7", &a), -ENOENT);
	int seen = 0;
	CHECK_EQ(cowstore_ns_readdir(tp.cs, d, 0, count_entries, &seen), 0);
	CHECK_EQ(seen, 160);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "root", test_root },
	{ "create_lookup", test_create_lookup },
	{ "names", test_names },
	{ "create_arguments", test_create_arguments },
	{ "kinds", test_kinds },
	{ "link", test_link },
	{ "remove", test_remove },
	{ "rename_basic", test_rename_basic },
	{ "rename_replace", test_rename_replace },
	{ "rename_subtree", test_rename_subtree },
	{ "readdir_cookies", test_readdir_cookies },
	{ "readdir_walk", test_readdir_walk },
	{ "cookie_collision", test_cookie_collision },
	{ "setattr", test_setattr },
	{ "setattr_errors", test_setattr_errors },
	{ "size_shrink_grow", test_size_shrink_grow },
	{ "volume_written_sync", test_volume_written_sync },
	{ "statfs", test_statfs },
	{ "persistence", test_persistence },
	{ "stale_handles", test_stale_handles },
	{ "remove_frees_volume", test_remove_frees_volume },
	{ "crash_leftovers", test_crash_leftovers },
	{ "deferred_volume_delete", test_deferred_volume_delete },
	{ "snapshots", test_snapshots },
	{ "snapshot_empty_file", test_snapshot_empty_file },
	{ "snapshot_errors", test_snapshot_errors },
	{ "clone", test_clone },
	{ "threads", test_threads },
};

HARNESS_MAIN(tests)
