/*
 * nfs_checks.h - what nfs_api.c's modes share: the connection to the
 * server under test, "ok/FAIL" checks on replies, mounting, and directory
 * walks.  Included once, by nfs_api.c (a header so that no file of the
 * program passes the size a reader can hold).
 */
#ifndef SLATE_TESTS_NFS_CHECKS_H
#define SLATE_TESTS_NFS_CHECKS_H

#include <unistd.h>

#include "tests/integration/nfs_client.h"


#define MiB (1u << 20)
#define SLATE_FH_MAX 56u     /* slated's handles are at most this long */
#define NAME_MAX_BYTES 255u  /* PATHCONF name_max; checked below */

static const char *host;
static int nfs_port, mount_port;
static const char *export_path = "/demo";
static struct client *nfs, *mnt;
static struct fh root;
static fattr3 root_attr;
static uint64_t max_file_bytes = 1ull << 40;
static uint32_t wtmax = MiB, rtmax = MiB;

/* ---- small helpers ---------------------------------------------------- */

static const char *st_name(int st)
{
	return nfsstat3_to_str(st);
}

static void vfmt(char *out, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(out, len, fmt, ap);
}

/* ok when the call was answered with status want1 or want2 (RFC 1813
 * allows either in places); name() spells statuses of the program. */
static int vexpect(const struct reply *r, int want1, int want2, const char *(*name)(int),
		   const char *fmt, va_list ap)
{
	char what[512];
	vfmt(what, sizeof(what), fmt, ap);
	if (r->rpc_status != RPC_STATUS_SUCCESS)
		return check(0, "%s (RPC error: %s)", what, r->error);
	if (r->status == want1 || r->status == want2)
		return check(1, "%s", what);
	if (want1 == want2)
		return check(0, "%s (got %s, want %s)", what, name(r->status), name(want1));
	return check(0, "%s (got %s, want %s or %s)", what, name(r->status), name(want1),
		     name(want2));
}

static const char *mnt_name(int st)
{
	return mountstat3_to_str(st);
}

static int __attribute__((format(printf, 3, 4)))
expect(const struct reply *r, int want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ok = vexpect(r, want, want, st_name, fmt, ap);
	va_end(ap);
	return ok;
}

static int __attribute__((format(printf, 4, 5)))
expect2(const struct reply *r, int want1, int want2, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ok = vexpect(r, want1, want2, st_name, fmt, ap);
	va_end(ap);
	return ok;
}

static int __attribute__((format(printf, 3, 4)))
expect_mnt(const struct reply *r, int want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ok = vexpect(r, want, want, mnt_name, fmt, ap);
	va_end(ap);
	return ok;
}

/* Setup steps: silent when the call succeeds, a FAIL line otherwise. */
static int __attribute__((format(printf, 2, 3))) quiet_ok(const struct reply *r,
							   const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (r->rpc_status == RPC_STATUS_SUCCESS && r->status == NFS3_OK)
		return 1;
	va_start(ap, fmt);
	vfmt(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->rpc_status != RPC_STATUS_SUCCESS)
		fail("%s (RPC error: %s)", what, r->error);
	else
		fail("%s (got %s)", what, st_name(r->status));
	return 0;
}

/* Attributes against what they should be; a negative want is not checked. */
static int check_attr(const char *what, int has, const fattr3 *a, int type, int mode,
		      int64_t size, int nlink)
{
	char why[512] = "";
	size_t n = 0;

	if (!has)
		return check(0, "%s (no attributes returned)", what);
	if (type >= 0 && (int)a->type != type)
		n += (size_t)snprintf(why + n, sizeof(why) - n, " type %d, want %d;", a->type, type);
	if (mode >= 0 && (int)(a->mode & 07777) != mode)
		n += (size_t)snprintf(why + n, sizeof(why) - n, " mode %04o, want %04o;",
				      a->mode & 07777, mode);
	if (size >= 0 && a->size != (uint64_t)size)
		n += (size_t)snprintf(why + n, sizeof(why) - n, " size %" PRIu64 ", want %" PRId64 ";",
				      (uint64_t)a->size, size);
	if (nlink >= 0 && (int)a->nlink != nlink)
		n += (size_t)snprintf(why + n, sizeof(why) - n, " nlink %u, want %d;", a->nlink,
				      nlink);
	if (n)
		return check(0, "%s (%s )", what, why);
	return check(1, "%s", what);
}

static int64_t t_ns(nfstime3 t)
{
	return (int64_t)t.seconds * 1000000000 + t.nseconds;
}

/* Let the server's clock move on, so that an mtime set now differs from one
 * set a moment ago even on a coarse clock. */
static void tick(void)
{
	usleep(20000);
}

static sattr3 sa_none(void)
{
	sattr3 s;

	memset(&s, 0, sizeof(s));
	return s;
}

static sattr3 sa_mode(int mode)
{
	sattr3 s = sa_none();

	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = (mode3)mode;
	return s;
}

static sattr3 sa_size(uint64_t size)
{
	sattr3 s = sa_none();

	s.size.set_it = 1;
	s.size.set_size3_u.size = size;
	return s;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The bytes a file made with seed holds at off: any range can be checked
 * without keeping the file. */
static void pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		buf[i] = (uint8_t)(mix64(seed ^ (o >> 3)) >> ((o & 7) * 8));
	}
}

static int is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

static void hex(char *out, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * len] = '\0';
}

static int unhex(const char *s, void *p, size_t max, size_t *len)
{
	uint8_t *b = p;
	size_t n = strlen(s);

	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		b[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* ---- connecting and mounting ------------------------------------------- */

static void connect_both(void)
{
	char why[256];

	mnt = client_connect(host, mount_port, MOUNT_PROGRAM, MOUNT_V3, "MOUNT", why, sizeof(why));
	if (!mnt)
		fatal("connect to MOUNT at %s:%d (%s)", host, mount_port, why);
	nfs = client_connect(host, nfs_port, NFS_PROGRAM, NFS_V3, "NFS", why, sizeof(why));
	if (!nfs)
		fatal("connect to NFS at %s:%d (%s)", host, nfs_port, why);
}

/* MNT the export into root (and root_attr); fatal when it fails. */
static void mount_root(void)
{
	struct reply r = { 0 };

	m3_mnt(mnt, export_path, &r);
	if (r.rpc_status != RPC_STATUS_SUCCESS || r.status != MNT3_OK)
		fatal("MNT %s (%s)", export_path,
		      r.rpc_status ? r.error : mountstat3_to_str(r.status));
	root = r.fh;
	v3_getattr(nfs, &root, &r);
	if (!quiet_ok(&r, "GETATTR of the export root"))
		fatal("no attributes for the export root");
	root_attr = r.attr;
	reply_reset(&r);
}

/* Make the mode's work directory under the export root. */
static void make_workdir(const char *mode, char *name, size_t len, struct fh *dir)
{
	struct reply r = { 0 };

	snprintf(name, len, "nfs_api.%s.%d", mode, (int)getpid());
	v3_mkdir(nfs, &root, name, 0755, &r);
	if (!quiet_ok(&r, "MKDIR %s", name))
		fatal("cannot continue without a work directory");
	if (!r.has_fh) {
		v3_lookup(nfs, &root, name, &r);
		if (!quiet_ok(&r, "LOOKUP %s", name))
			fatal("cannot continue without a work directory");
	}
	*dir = r.fh;
	reply_reset(&r);
}

/* ---- directory walks ------------------------------------------------------ */

struct walk {
	struct entry_copy *e;  /* every entry returned, in order */
	size_t n;
	int calls;
	int status;            /* NFS3_OK, or the status that ended the walk */
	char rpc_error[256];
	int verf_changed;      /* the cookie verifier changed during the walk */
	int stuck;             /* a reply with no entries and no eof */
	char verf[NFS3_COOKIEVERFSIZE];
};

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->e[i].name);
	free(w->e);
	memset(w, 0, sizeof(*w));
}

/* READDIR (plus = 0) or READDIRPLUS the whole directory with cookies:
 * count is READDIR's count or READDIRPLUS's dircount. */
static void walk_dir(struct client *c, const struct fh *dir, int plus, uint32_t count,
		     uint32_t maxcount, struct walk *w)
{
	struct reply r = { 0 };
	uint64_t cookie = 0;

	memset(w, 0, sizeof(*w));
	for (int i = 0; i < 100000; i++) {
		if (plus)
			v3_readdirplus(c, dir, cookie, w->verf, count, maxcount, &r);
		else
			v3_readdir(c, dir, cookie, w->verf, count, &r);
		w->calls++;
		if (r.rpc_status != RPC_STATUS_SUCCESS) {
			w->status = -1;
			snprintf(w->rpc_error, sizeof(w->rpc_error), "%s", r.error);
			break;
		}
		w->status = r.status;
		if (r.status != NFS3_OK)
			break;
		if (w->calls > 1 && memcmp(w->verf, r.cookieverf, sizeof(w->verf)) != 0)
			w->verf_changed = 1;
		memcpy(w->verf, r.cookieverf, sizeof(w->verf));
		if (r.nentries) {
			struct entry_copy *e = realloc(w->e, (w->n + r.nentries) * sizeof(*e));

			if (!e)
				fatal("out of memory");
			w->e = e;
			for (size_t k = 0; k < r.nentries; k++) {
				w->e[w->n + k] = r.entries[k];
				r.entries[k].name = NULL; /* moved */
			}
			w->n += r.nentries;
			cookie = r.entries[r.nentries - 1].cookie;
		}
		if (r.eof)
			break;
		if (!r.nentries) {
			w->stuck = 1;
			break;
		}
	}
	reply_reset(&r);
}

static const char *walk_error(const struct walk *w)
{
	static char why[300];

	if (w->status == -1)
		snprintf(why, sizeof(why), "RPC error: %s", w->rpc_error);
	else if (w->status != NFS3_OK)
		snprintf(why, sizeof(why), "%s", st_name(w->status));
	else if (w->stuck)
		snprintf(why, sizeof(why), "a reply with no entries and no eof");
	else
		snprintf(why, sizeof(why), "ok");
	return why;
}

static int is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Remove everything under dir (depth-first), then name in parent. */
static void remove_tree(const struct fh *parent, const char *name, int depth)
{
	struct reply r = { 0 };
	struct walk w;
	struct fh dir;

	v3_lookup(nfs, parent, name, &r);
	if (r.rpc_status || r.status != NFS3_OK)
		goto out;
	if (!r.has_attr || r.attr.type != NF3DIR) {
		v3_remove(nfs, parent, name, &r);
		goto out;
	}
	dir = r.fh;
	if (depth < 8) {
		walk_dir(nfs, &dir, 0, 8192, 0, &w);
		for (size_t i = 0; i < w.n; i++)
			if (!is_dot(w.e[i].name))
				remove_tree(&dir, w.e[i].name, depth + 1);
		walk_free(&w);
	}
	v3_rmdir(nfs, parent, name, &r);
out:
	reply_reset(&r);
}


#endif
