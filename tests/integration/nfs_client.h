/*
 * nfs_client.h - a synchronous NFSv3 + MOUNTv3 client for the integration
 * tests, over libnfs's raw RPC API (rpc_nfs3_*_async, rpc_mount3_*_async),
 * plus the "ok"/"FAIL" lines and counters that nfs_api.c prints.
 *
 * The raw API is used, not libnfs's POSIX-like nfs_* calls, because the
 * tests need what those hide: statuses as the server sent them, cookies and
 * cookie verifiers, write verifiers, CREATE modes, SETATTR guards, MKNOD.
 *
 * libnfs frees a decoded reply when its callback returns, so every callback
 * here copies what the tests look at into a struct reply: flat XDR structs
 * (fattr3, wcc_data, FSINFO3resok...) by value, handles into struct fh,
 * strings, READ data and directory entries into malloc'ed copies that
 * reply_reset() frees.  A call waits at most CALL_TIMEOUT_S for its reply;
 * a timeout or a lost connection ends the program with a FAIL line (the
 * server is hung or gone, so nothing after it means anything).
 */
#ifndef SLATE_TESTS_NFS_CLIENT_H
#define SLATE_TESTS_NFS_CLIENT_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#define CALL_TIMEOUT_S 60

/* ---- reporting ---------------------------------------------------------- */

static int checks_passed, checks_failed;

static void report(int good, const char *fmt, va_list ap)
{
	fputs(good ? "ok   " : "FAIL ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	if (good)
		checks_passed++;
	else
		checks_failed++;
}

/* One line, "ok" when cond holds; returns cond. */
static int __attribute__((format(printf, 2, 3))) check(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(cond != 0, fmt, ap);
	va_end(ap);
	return cond != 0;
}

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(0, fmt, ap);
	va_end(ap);
}

static int summary(void)
{
	printf("%d passed, %d failed\n", checks_passed, checks_failed);
	fflush(stdout);
	return checks_failed ? 1 : 0;
}

/* Give up: the server stopped answering or dropped us. */
static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(0, fmt, ap);
	va_end(ap);
	exit(summary() ? 1 : 1);
}

/* ---- handles and replies -------------------------------------------------- */

struct fh {
	uint32_t len;
	uint8_t data[NFS3_FHSIZE];
};

static nfs_fh3 fh3(const struct fh *f)
{
	nfs_fh3 x;

	x.data.data_len = f->len;
	x.data.data_val = (char *)f->data;
	return x;
}

static void fh_copy(struct fh *to, const char *data, uint32_t len)
{
	if (len > NFS3_FHSIZE)
		len = NFS3_FHSIZE; /* XDR already refused longer ones */
	to->len = len;
	memcpy(to->data, data, len);
}

static int fh_equal(const struct fh *a, const struct fh *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

struct entry_copy {
	char *name;
	uint64_t fileid, cookie;
	int has_attr;
	fattr3 attr;
	int has_fh;
	struct fh fh;
};

struct reply {
	int done;
	int rpc_status;      /* RPC_STATUS_*: SUCCESS means a reply with results */
	char error[256];     /* libnfs's text when rpc_status is not SUCCESS */
	int status;          /* nfsstat3 or mountstat3 */
	int has_fh;          /* new object's handle (CREATE, MKDIR, ..., LOOKUP, MNT) */
	struct fh fh;
	int has_attr;        /* the object's attributes (post_op_attr or GETATTR) */
	fattr3 attr;
	int has_dir_attr;    /* LOOKUP's, READDIR's directory attributes */
	fattr3 dir_attr;
	wcc_data wcc;        /* dir_wcc, obj_wcc, file_wcc, fromdir_wcc, linkdir_wcc */
	wcc_data wcc2;       /* RENAME's todir_wcc */
	count3 count;        /* READ, WRITE */
	int eof;             /* READ, READDIR */
	int committed;       /* WRITE */
	char verf[NFS3_WRITEVERFSIZE]; /* WRITE, COMMIT */
	char *data;          /* READ data, malloc'ed */
	uint32_t data_len;   /* its length (the opaque's, which should be count) */
	uint32_t access;     /* ACCESS */
	char *path;          /* READLINK, malloc'ed */
	char cookieverf[NFS3_COOKIEVERFSIZE];
	struct entry_copy *entries; /* READDIR(PLUS), malloc'ed */
	size_t nentries;
	FSINFO3resok fsinfo;
	FSSTAT3resok fsstat;
	PATHCONF3resok pathconf;
	char **strs;         /* DUMP: "host dir"; EXPORT: "dir group group..." */
	size_t nstrs;
	int flavors[16];     /* MNT */
	int nflavors;
};

static void reply_reset(struct reply *r)
{
	free(r->data);
	free(r->path);
	for (size_t i = 0; i < r->nentries; i++)
		free(r->entries[i].name);
	free(r->entries);
	for (size_t i = 0; i < r->nstrs; i++)
		free(r->strs[i]);
	free(r->strs);
	memset(r, 0, sizeof(*r));
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = xmalloc(strlen(s) + 1);

	return strcpy(p, s);
}

static void add_str(struct reply *r, const char *s)
{
	char **strs = realloc(r->strs, (r->nstrs + 1) * sizeof(*strs));

	if (!strs)
		fatal("out of memory");
	r->strs = strs;
	r->strs[r->nstrs++] = xstrdup(s);
}

/* Common start of every callback: NULL when there are no results to copy. */
static struct reply *cb_begin(int status, void *data, void *priv)
{
	struct reply *r = priv;

	r->done = 1;
	r->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS)
		return r;
	snprintf(r->error, sizeof(r->error), "%s",
		 status == RPC_STATUS_ERROR && data ? (const char *)data
		 : status == RPC_STATUS_TIMEOUT	    ? "timed out"
						    : "cancelled");
	return NULL;
}

static void copy_post(int *has, fattr3 *to, const post_op_attr *p)
{
	*has = p->attributes_follow != 0;
	if (*has)
		*to = p->post_op_attr_u.attributes;
}

static void copy_post_fh(struct reply *r, const post_op_fh3 *p)
{
	r->has_fh = p->handle_follows != 0;
	if (r->has_fh)
		fh_copy(&r->fh, p->post_op_fh3_u.handle.data.data_val,
			p->post_op_fh3_u.handle.data.data_len);
}

/* ---- callbacks: one per result type ---------------------------------------- */

static void cb_void(struct rpc_context *rpc, int st, void *data, void *priv)
{
	cb_begin(st, data, priv);
}

static void cb_getattr(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	GETATTR3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->has_attr = 1;
		r->attr = res->GETATTR3res_u.resok.obj_attributes;
	}
}

static void cb_setattr(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	SETATTR3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	r->wcc = res->status == NFS3_OK ? res->SETATTR3res_u.resok.obj_wcc
					: res->SETATTR3res_u.resfail.obj_wcc;
	copy_post(&r->has_attr, &r->attr, &r->wcc.after);
}

static void cb_lookup(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	LOOKUP3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		LOOKUP3resok *ok = &res->LOOKUP3res_u.resok;

		r->has_fh = 1;
		fh_copy(&r->fh, ok->object.data.data_val, ok->object.data.data_len);
		copy_post(&r->has_attr, &r->attr, &ok->obj_attributes);
		copy_post(&r->has_dir_attr, &r->dir_attr, &ok->dir_attributes);
	} else {
		copy_post(&r->has_dir_attr, &r->dir_attr,
			  &res->LOOKUP3res_u.resfail.dir_attributes);
	}
}

static void cb_access(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	ACCESS3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->access = res->ACCESS3res_u.resok.access;
		copy_post(&r->has_attr, &r->attr, &res->ACCESS3res_u.resok.obj_attributes);
	}
}

static void cb_readlink(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	READLINK3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->path = xstrdup(res->READLINK3res_u.resok.data ? res->READLINK3res_u.resok.data
								 : "");
		copy_post(&r->has_attr, &r->attr,
			  &res->READLINK3res_u.resok.symlink_attributes);
	}
}

static void cb_read(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	READ3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		READ3resok *ok = &res->READ3res_u.resok;

		r->count = ok->count;
		r->eof = ok->eof != 0;
		/* count and the opaque's length must agree; keep the
		 * opaque's, and let the test compare the two. */
		r->data_len = ok->data.data_len;
		r->data = xmalloc(ok->data.data_len);
		memcpy(r->data, ok->data.data_val, ok->data.data_len);
		copy_post(&r->has_attr, &r->attr, &ok->file_attributes);
	} else {
		copy_post(&r->has_attr, &r->attr, &res->READ3res_u.resfail.file_attributes);
	}
}

static void cb_write(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	WRITE3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		WRITE3resok *ok = &res->WRITE3res_u.resok;

		r->wcc = ok->file_wcc;
		r->count = ok->count;
		r->committed = ok->committed;
		memcpy(r->verf, ok->verf, sizeof(r->verf));
	} else {
		r->wcc = res->WRITE3res_u.resfail.file_wcc;
	}
	copy_post(&r->has_attr, &r->attr, &r->wcc.after);
}

static void cb_commit(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	COMMIT3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->wcc = res->COMMIT3res_u.resok.file_wcc;
		memcpy(r->verf, res->COMMIT3res_u.resok.verf, sizeof(r->verf));
	} else {
		r->wcc = res->COMMIT3res_u.resfail.file_wcc;
	}
	copy_post(&r->has_attr, &r->attr, &r->wcc.after);
}

/* CREATE, MKDIR, SYMLINK and MKNOD share one result layout. */
#define CB_NEWOBJ(fn, T, U)                                                        \
	static void fn(struct rpc_context *rpc, int st, void *data, void *priv)     \
	{                                                                          \
		struct reply *r = cb_begin(st, data, priv);                        \
		T *res = data;                                                     \
		if (!r)                                                            \
			return;                                                    \
		r->status = res->status;                                           \
		if (res->status == NFS3_OK) {                                      \
			copy_post_fh(r, &res->U.resok.obj);                        \
			copy_post(&r->has_attr, &r->attr,                          \
				  &res->U.resok.obj_attributes);                   \
			r->wcc = res->U.resok.dir_wcc;                             \
		} else {                                                           \
			r->wcc = res->U.resfail.dir_wcc;                           \
		}                                                                  \
	}
CB_NEWOBJ(cb_create, CREATE3res, CREATE3res_u)
CB_NEWOBJ(cb_mkdir, MKDIR3res, MKDIR3res_u)
CB_NEWOBJ(cb_symlink, SYMLINK3res, SYMLINK3res_u)
CB_NEWOBJ(cb_mknod, MKNOD3res, MKNOD3res_u)

static void cb_remove(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	REMOVE3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	r->wcc = res->status == NFS3_OK ? res->REMOVE3res_u.resok.dir_wcc
					: res->REMOVE3res_u.resfail.dir_wcc;
}

static void cb_rmdir(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	RMDIR3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	r->wcc = res->status == NFS3_OK ? res->RMDIR3res_u.resok.dir_wcc
					: res->RMDIR3res_u.resfail.dir_wcc;
}

static void cb_rename(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	RENAME3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->wcc = res->RENAME3res_u.resok.fromdir_wcc;
		r->wcc2 = res->RENAME3res_u.resok.todir_wcc;
	} else {
		r->wcc = res->RENAME3res_u.resfail.fromdir_wcc;
		r->wcc2 = res->RENAME3res_u.resfail.todir_wcc;
	}
}

static void cb_link(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	LINK3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		copy_post(&r->has_attr, &r->attr, &res->LINK3res_u.resok.file_attributes);
		r->wcc = res->LINK3res_u.resok.linkdir_wcc;
	} else {
		copy_post(&r->has_attr, &r->attr, &res->LINK3res_u.resfail.file_attributes);
		r->wcc = res->LINK3res_u.resfail.linkdir_wcc;
	}
}

static struct entry_copy *add_entry(struct reply *r, const char *name, uint64_t fileid,
				    uint64_t cookie)
{
	struct entry_copy *e = realloc(r->entries, (r->nentries + 1) * sizeof(*e));

	if (!e)
		fatal("out of memory");
	r->entries = e;
	e = &r->entries[r->nentries++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name ? name : "");
	e->fileid = fileid;
	e->cookie = cookie;
	return e;
}

static void cb_readdir(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	READDIR3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		READDIR3resok *ok = &res->READDIR3res_u.resok;

		copy_post(&r->has_dir_attr, &r->dir_attr, &ok->dir_attributes);
		memcpy(r->cookieverf, ok->cookieverf, sizeof(r->cookieverf));
		for (entry3 *e = ok->reply.entries; e; e = e->nextentry)
			add_entry(r, e->name, e->fileid, e->cookie);
		r->eof = ok->reply.eof != 0;
	} else {
		copy_post(&r->has_dir_attr, &r->dir_attr,
			  &res->READDIR3res_u.resfail.dir_attributes);
	}
}

static void cb_readdirplus(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	READDIRPLUS3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		READDIRPLUS3resok *ok = &res->READDIRPLUS3res_u.resok;

		copy_post(&r->has_dir_attr, &r->dir_attr, &ok->dir_attributes);
		memcpy(r->cookieverf, ok->cookieverf, sizeof(r->cookieverf));
		for (entryplus3 *e = ok->reply.entries; e; e = e->nextentry) {
			struct entry_copy *c = add_entry(r, e->name, e->fileid, e->cookie);

			copy_post(&c->has_attr, &c->attr, &e->name_attributes);
			c->has_fh = e->name_handle.handle_follows != 0;
			if (c->has_fh)
				fh_copy(&c->fh, e->name_handle.post_op_fh3_u.handle.data.data_val,
					e->name_handle.post_op_fh3_u.handle.data.data_len);
		}
		r->eof = ok->reply.eof != 0;
	} else {
		copy_post(&r->has_dir_attr, &r->dir_attr,
			  &res->READDIRPLUS3res_u.resfail.dir_attributes);
	}
}

static void cb_fsstat(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	FSSTAT3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->fsstat = res->FSSTAT3res_u.resok;
		copy_post(&r->has_attr, &r->attr, &r->fsstat.obj_attributes);
	}
}

static void cb_fsinfo(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	FSINFO3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->fsinfo = res->FSINFO3res_u.resok;
		copy_post(&r->has_attr, &r->attr, &r->fsinfo.obj_attributes);
	}
}

static void cb_pathconf(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	PATHCONF3res *res = data;

	if (!r)
		return;
	r->status = res->status;
	if (res->status == NFS3_OK) {
		r->pathconf = res->PATHCONF3res_u.resok;
		copy_post(&r->has_attr, &r->attr, &r->pathconf.obj_attributes);
	}
}

static void cb_mnt(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	mountres3 *res = data;

	if (!r)
		return;
	r->status = res->fhs_status;
	if (res->fhs_status == MNT3_OK) {
		mountres3_ok *ok = &res->mountres3_u.mountinfo;

		r->has_fh = 1;
		fh_copy(&r->fh, ok->fhandle.fhandle3_val, ok->fhandle.fhandle3_len);
		for (u_int i = 0; i < ok->auth_flavors.auth_flavors_len && i < 16; i++)
			r->flavors[r->nflavors++] = ok->auth_flavors.auth_flavors_val[i];
	}
}

static void cb_dump(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	char line[MNTNAMLEN + MNTPATHLEN + 4];

	if (!r)
		return;
	for (mountbody *m = data ? *(mountlist *)data : NULL; m; m = m->ml_next) {
		snprintf(line, sizeof(line), "%s %s", m->ml_hostname ? m->ml_hostname : "",
			 m->ml_directory ? m->ml_directory : "");
		add_str(r, line);
	}
}

static void cb_export(struct rpc_context *rpc, int st, void *data, void *priv)
{
	struct reply *r = cb_begin(st, data, priv);
	char line[4096];

	if (!r)
		return;
	for (exportnode *e = data ? *(exports *)data : NULL; e; e = e->ex_next) {
		size_t n = (size_t)snprintf(line, sizeof(line), "%s", e->ex_dir ? e->ex_dir : "");

		for (groupnode *g = e->ex_groups; g && n < sizeof(line); g = g->gr_next)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s",
					      g->gr_name ? g->gr_name : "");
		add_str(r, line);
	}
}

/* ---- connections and the wait loop ------------------------------------------ */

struct client {
	struct rpc_context *rpc;
	const char *what;  /* "NFS" or "MOUNT", for messages */
	int queue_only;    /* calls are queued; the caller waits (wait_all) */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Serve the n clients until every one of the nr replies is done. */
static void wait_all(struct client **cs, int n, struct reply **rs, int nr)
{
	double deadline = now_s() + CALL_TIMEOUT_S;
	struct pollfd pfd[64];

	if (n > 64)
		fatal("wait_all: %d connections, at most 64", n);
	for (;;) {
		int pending = 0;

		for (int i = 0; i < nr; i++)
			pending += !rs[i]->done;
		if (!pending)
			return;
		if (now_s() > deadline)
			fatal("%d call(s) got no reply within %d s", pending, CALL_TIMEOUT_S);
		for (int i = 0; i < n; i++) {
			pfd[i].fd = rpc_get_fd(cs[i]->rpc);
			pfd[i].events = (short)rpc_which_events(cs[i]->rpc);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			if (rpc_service(cs[i]->rpc, pfd[i].revents) < 0)
				fatal("the %s connection failed: %s", cs[i]->what,
				      rpc_get_error(cs[i]->rpc));
		}
	}
}

static void wait_reply(struct client *c, struct reply *r)
{
	wait_all(&c, 1, &r, 1);
}

static void cb_connected(struct rpc_context *rpc, int st, void *data, void *priv)
{
	cb_begin(st, data, priv);
}

/* Connect to host:port for program/version (no portmapper); NULL on
 * failure, with the reason in *why. */
static struct client *client_connect(const char *host, int port, int prog, int vers,
				     const char *what, char *why, size_t why_len)
{
	struct client *c = xmalloc(sizeof(*c));
	struct reply r;

	memset(&r, 0, sizeof(r));
	c->what = what;
	c->queue_only = 0;
	c->rpc = rpc_init_context();
	if (!c->rpc) {
		snprintf(why, why_len, "rpc_init_context failed");
		free(c);
		return NULL;
	}
	if (rpc_connect_port_async(c->rpc, host, port, prog, vers, cb_connected, &r) != 0) {
		snprintf(why, why_len, "%s", rpc_get_error(c->rpc));
		rpc_destroy_context(c->rpc);
		free(c);
		return NULL;
	}
	wait_reply(c, &r);
	if (r.rpc_status != RPC_STATUS_SUCCESS) {
		snprintf(why, why_len, "%s", r.error);
		rpc_destroy_context(c->rpc);
		free(c);
		return NULL;
	}
	return c;
}

static void client_close(struct client *c)
{
	if (!c)
		return;
	rpc_destroy_context(c->rpc);
	free(c);
}

/* Queue a call and, unless the client only queues, wait for its reply.  The
 * reply is reset after libnfs has encoded the call, so arguments may point
 * into the reply they are about to replace (v3_getattr(c, &r.fh, &r)).  A
 * call libnfs cannot even encode is a reply with an error. */
#define SUBMIT(c, r, queued)                                                        \
	do {                                                                       \
		int submit_rc_ = (queued);                                         \
		reply_reset(r);                                                    \
		if (submit_rc_ != 0) {                                             \
			(r)->done = 1;                                             \
			(r)->rpc_status = RPC_STATUS_ERROR;                        \
			snprintf((r)->error, sizeof((r)->error), "not sent: %s",   \
				 rpc_get_error((c)->rpc));                         \
		}                                                                  \
		if (!(c)->queue_only)                                              \
			wait_reply(c, r);                                          \
	} while (0)

/* ---- the procedures: v3_* (NFSv3), m3_* (MOUNTv3) ----------------------------- */

static void v3_null(struct client *c, struct reply *r)
{
	SUBMIT(c, r, rpc_nfs3_null_async(c->rpc, cb_void, r));
}

static void v3_getattr(struct client *c, const struct fh *f, struct reply *r)
{
	GETATTR3args a = { .object = fh3(f) };

	SUBMIT(c, r, rpc_nfs3_getattr_async(c->rpc, cb_getattr, &a, r));
}

/* guard_ctime NULL: no guard. */
static void v3_setattr(struct client *c, const struct fh *f, const sattr3 *sa,
		      const nfstime3 *guard_ctime, struct reply *r)
{
	SETATTR3args a;

	memset(&a, 0, sizeof(a));
	a.object = fh3(f);
	a.new_attributes = *sa;
	if (guard_ctime) {
		a.guard.check = 1;
		a.guard.sattrguard3_u.obj_ctime = *guard_ctime;
	}
	SUBMIT(c, r, rpc_nfs3_setattr_async(c->rpc, cb_setattr, &a, r));
}

static void v3_lookup(struct client *c, const struct fh *dir, const char *name, struct reply *r)
{
	LOOKUP3args a = { .what = { .dir = fh3(dir), .name = (char *)name } };

	SUBMIT(c, r, rpc_nfs3_lookup_async(c->rpc, cb_lookup, &a, r));
}

static void v3_access(struct client *c, const struct fh *f, uint32_t mask, struct reply *r)
{
	ACCESS3args a = { .object = fh3(f), .access = mask };

	SUBMIT(c, r, rpc_nfs3_access_async(c->rpc, cb_access, &a, r));
}

static void v3_readlink(struct client *c, const struct fh *f, struct reply *r)
{
	READLINK3args a = { .symlink = fh3(f) };

	SUBMIT(c, r, rpc_nfs3_readlink_async(c->rpc, cb_readlink, &a, r));
}

static void v3_read(struct client *c, const struct fh *f, uint64_t off, uint32_t count,
		   struct reply *r)
{
	READ3args a = { .file = fh3(f), .offset = off, .count = count };

	SUBMIT(c, r, rpc_nfs3_read_async(c->rpc, cb_read, &a, r));
}

static void v3_write(struct client *c, const struct fh *f, uint64_t off, const void *buf,
		    uint32_t len, int stable, struct reply *r)
{
	WRITE3args a;

	memset(&a, 0, sizeof(a));
	a.file = fh3(f);
	a.offset = off;
	a.count = len;
	a.stable = stable;
	a.data.data_len = len;
	a.data.data_val = (char *)buf;
	SUBMIT(c, r, rpc_nfs3_write_async(c->rpc, cb_write, &a, r));
}

static void v3_commit(struct client *c, const struct fh *f, uint64_t off, uint32_t count,
		     struct reply *r)
{
	COMMIT3args a = { .file = fh3(f), .offset = off, .count = count };

	SUBMIT(c, r, rpc_nfs3_commit_async(c->rpc, cb_commit, &a, r));
}

/* how: UNCHECKED or GUARDED with sa (NULL: set nothing), or EXCLUSIVE with verf. */
static void v3_create(struct client *c, const struct fh *dir, const char *name, int how,
		     const sattr3 *sa, uint64_t verf, struct reply *r)
{
	CREATE3args a;

	memset(&a, 0, sizeof(a));
	a.where.dir = fh3(dir);
	a.where.name = (char *)name;
	a.how.mode = how;
	if (how == EXCLUSIVE)
		memcpy(a.how.createhow3_u.verf, &verf, sizeof(verf));
	else if (sa)
		a.how.createhow3_u.obj_attributes = *sa;
	SUBMIT(c, r, rpc_nfs3_create_async(c->rpc, cb_create, &a, r));
}

static void v3_mkdir(struct client *c, const struct fh *dir, const char *name, int mode,
		    struct reply *r)
{
	MKDIR3args a;

	memset(&a, 0, sizeof(a));
	a.where.dir = fh3(dir);
	a.where.name = (char *)name;
	if (mode >= 0) {
		a.attributes.mode.set_it = 1;
		a.attributes.mode.set_mode3_u.mode = (mode3)mode;
	}
	SUBMIT(c, r, rpc_nfs3_mkdir_async(c->rpc, cb_mkdir, &a, r));
}

static void v3_symlink(struct client *c, const struct fh *dir, const char *name,
		      const char *target, struct reply *r)
{
	SYMLINK3args a;

	memset(&a, 0, sizeof(a));
	a.where.dir = fh3(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_attributes.mode.set_it = 1;
	a.symlink.symlink_attributes.mode.set_mode3_u.mode = 0777;
	a.symlink.symlink_data = (char *)target;
	SUBMIT(c, r, rpc_nfs3_symlink_async(c->rpc, cb_symlink, &a, r));
}

static void v3_mknod(struct client *c, const struct fh *dir, const char *name, int type,
		    int mode, struct reply *r)
{
	MKNOD3args a;
	sattr3 *sa = NULL;

	memset(&a, 0, sizeof(a));
	a.where.dir = fh3(dir);
	a.where.name = (char *)name;
	a.what.type = type;
	switch (type) {
	case NF3CHR:
		sa = &a.what.mknoddata3_u.chr_device.dev_attributes;
		a.what.mknoddata3_u.chr_device.spec.specdata1 = 1; /* /dev/null: 1,3 */
		a.what.mknoddata3_u.chr_device.spec.specdata2 = 3;
		break;
	case NF3BLK:
		sa = &a.what.mknoddata3_u.blk_device.dev_attributes;
		a.what.mknoddata3_u.blk_device.spec.specdata1 = 7; /* loop0: 7,0 */
		break;
	case NF3SOCK:
		sa = &a.what.mknoddata3_u.sock_attributes;
		break;
	case NF3FIFO:
		sa = &a.what.mknoddata3_u.pipe_attributes;
		break;
	}
	if (sa && mode >= 0) {
		sa->mode.set_it = 1;
		sa->mode.set_mode3_u.mode = (mode3)mode;
	}
	SUBMIT(c, r, rpc_nfs3_mknod_async(c->rpc, cb_mknod, &a, r));
}

static void v3_remove(struct client *c, const struct fh *dir, const char *name, struct reply *r)
{
	REMOVE3args a = { .object = { .dir = fh3(dir), .name = (char *)name } };

	SUBMIT(c, r, rpc_nfs3_remove_async(c->rpc, cb_remove, &a, r));
}

static void v3_rmdir(struct client *c, const struct fh *dir, const char *name, struct reply *r)
{
	RMDIR3args a = { .object = { .dir = fh3(dir), .name = (char *)name } };

	SUBMIT(c, r, rpc_nfs3_rmdir_async(c->rpc, cb_rmdir, &a, r));
}

static void v3_rename(struct client *c, const struct fh *from_dir, const char *from,
		     const struct fh *to_dir, const char *to, struct reply *r)
{
	RENAME3args a = { .from = { .dir = fh3(from_dir), .name = (char *)from },
			  .to = { .dir = fh3(to_dir), .name = (char *)to } };

	SUBMIT(c, r, rpc_nfs3_rename_async(c->rpc, cb_rename, &a, r));
}

static void v3_link(struct client *c, const struct fh *f, const struct fh *dir, const char *name,
		   struct reply *r)
{
	LINK3args a = { .file = fh3(f), .link = { .dir = fh3(dir), .name = (char *)name } };

	SUBMIT(c, r, rpc_nfs3_link_async(c->rpc, cb_link, &a, r));
}

static void v3_readdir(struct client *c, const struct fh *dir, uint64_t cookie,
		      const char *verf, uint32_t count, struct reply *r)
{
	READDIR3args a;

	memset(&a, 0, sizeof(a));
	a.dir = fh3(dir);
	a.cookie = cookie;
	if (verf)
		memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
	a.count = count;
	SUBMIT(c, r, rpc_nfs3_readdir_async(c->rpc, cb_readdir, &a, r));
}

static void v3_readdirplus(struct client *c, const struct fh *dir, uint64_t cookie,
			  const char *verf, uint32_t dircount, uint32_t maxcount, struct reply *r)
{
	READDIRPLUS3args a;

	memset(&a, 0, sizeof(a));
	a.dir = fh3(dir);
	a.cookie = cookie;
	if (verf)
		memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
	a.dircount = dircount;
	a.maxcount = maxcount;
	SUBMIT(c, r, rpc_nfs3_readdirplus_async(c->rpc, cb_readdirplus, &a, r));
}

static void v3_fsstat(struct client *c, const struct fh *root, struct reply *r)
{
	FSSTAT3args a = { .fsroot = fh3(root) };

	SUBMIT(c, r, rpc_nfs3_fsstat_async(c->rpc, cb_fsstat, &a, r));
}

static void v3_fsinfo(struct client *c, const struct fh *root, struct reply *r)
{
	FSINFO3args a = { .fsroot = fh3(root) };

	SUBMIT(c, r, rpc_nfs3_fsinfo_async(c->rpc, cb_fsinfo, &a, r));
}

static void v3_pathconf(struct client *c, const struct fh *f, struct reply *r)
{
	PATHCONF3args a = { .object = fh3(f) };

	SUBMIT(c, r, rpc_nfs3_pathconf_async(c->rpc, cb_pathconf, &a, r));
}

static void m3_null(struct client *c, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_null_async(c->rpc, cb_void, r));
}

static void m3_mnt(struct client *c, const char *path, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_mnt_async(c->rpc, cb_mnt, (char *)path, r));
}

static void m3_dump(struct client *c, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_dump_async(c->rpc, cb_dump, r));
}

static void m3_umnt(struct client *c, const char *path, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_umnt_async(c->rpc, cb_void, (char *)path, r));
}

static void m3_umntall(struct client *c, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_umntall_async(c->rpc, cb_void, r));
}

static void m3_export(struct client *c, struct reply *r)
{
	SUBMIT(c, r, rpc_mount3_export_async(c->rpc, cb_export, r));
}

#endif /* SLATE_TESTS_NFS_CLIENT_H */
