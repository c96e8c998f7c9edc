/*
 * nfs_api.c - slated's NFSv3 and MOUNTv3 server driven call by call with
 * libnfs's raw RPC API (see nfs_client.h): every NFSv3 procedure and every
 * MOUNTv3 procedure, the error statuses a client can provoke, and the
 * attributes each reply carries.  nfs_clients.sh runs it in phases around
 * a restart; it also runs against nfs-ganesha (tests/nfs_ganesha.sh), which
 * is how the program itself was checked.
 *
 *   nfs_api [-m MOUNTPORT] [-e EXPORT] MODE HOST PORT [ARG...]
 *
 *   all                    every procedure, status and attribute check
 *   save-handles FILE      write data (committed), save handles + verifier
 *   check-handles FILE     after a restart: handles valid, data there,
 *                          write verifier changed
 *   lck-race N             N connections race to create and remove
 *                          .lck-XXXX files (EXCLUSIVE and GUARDED)
 *   readonly               EXPORT is read-only: every modifying call gets
 *                          ROFS or ACCES, nothing changes
 *   squash ANONUID ANONGID [all]
 *                          EXPORT squashes root (or everyone, "all") to
 *                          ANONUID:ANONGID
 *   put NAME LOCALFILE     rewrite NAME in the export root in place (same
 *                          inode; made if missing) with LOCALFILE's bytes:
 *                          what nfs-cp cannot do, it refuses existing names
 *   chmod MODE             set the export root's mode (octal)
 *   rm NAME                remove NAME from the export root
 *   fill NAME              write NAME until the pool is full: NOSPC, and
 *                          what was acknowledged is kept
 *
 * MOUNT is on PORT too unless -m says otherwise; EXPORT defaults to /demo.
 * Prints "ok   what" / "FAIL what (why)" per check and "N passed, N failed";
 * exits 0 only when nothing failed.  Work happens in a directory named
 * after the mode and the pid under the export root, removed at the end.
 *
 * What is checked follows RFC 1813 and the interface slated announces
 * (handles <= 56 bytes, rtmax/wtmax >= 1 MiB, MKNOD of devices NOTSUPP,
 * BAD_COOKIE for a stale cookie verifier); where RFC 1813 lists several
 * acceptable statuses, every one of them is accepted.
 */
#include <getopt.h>
#include <unistd.h>

#include "tests/integration/nfs_checks.h"
#include "tests/integration/nfs_modes.h"

/* ---- all: MOUNT ------------------------------------------------------------ */

static int lists_dir(const struct reply *r, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < r->nstrs; i++) {
		const char *s = r->strs[i];
		const char *sp = strchr(s, ' ');

		/* DUMP lines are "host dir"; EXPORT lines "dir group..." */
		if (sp && !strcmp(sp + 1, dir))
			return 1;
		if (!strncmp(s, dir, n) && (s[n] == ' ' || s[n] == '\0'))
			return 1;
	}
	return 0;
}

static int dump_lists(const struct reply *r, const char *dir)
{
	for (size_t i = 0; i < r->nstrs; i++) {
		const char *sp = strchr(r->strs[i], ' ');

		if (sp && !strcmp(sp + 1, dir))
			return 1;
	}
	return 0;
}

static void test_mount(void)
{
	struct reply r = { 0 };
	struct fh first;
	int sys = 0;

	m3_null(mnt, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS, "MOUNT NULL is answered");

	m3_export(mnt, &r);
	if (check(r.rpc_status == RPC_STATUS_SUCCESS, "MOUNT EXPORT is answered"))
		check(lists_dir(&r, export_path), "MOUNT EXPORT lists %s (%zu exports)", export_path,
		      r.nstrs);

	m3_mnt(mnt, export_path, &r);
	if (!expect_mnt(&r, MNT3_OK, "MOUNT MNT %s", export_path))
		fatal("cannot go on without the export's root handle");
	first = r.fh;
	check(r.fh.len > 0 && r.fh.len <= SLATE_FH_MAX, "MNT: the root handle is 1..%u bytes (%u)",
	      SLATE_FH_MAX, r.fh.len);
	for (int i = 0; i < r.nflavors; i++)
		sys |= r.flavors[i] == 1; /* AUTH_SYS */
	check(sys, "MNT offers AUTH_SYS (%d flavors)", r.nflavors);

	m3_mnt(mnt, "/nfs_api-no-such-export", &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS &&
		      (r.status == MNT3ERR_NOENT || r.status == MNT3ERR_ACCES),
	      "MNT of a path not exported answers NOENT or ACCES (%s)",
	      r.rpc_status ? r.error : mountstat3_to_str(r.status));

	m3_dump(mnt, &r);
	if (check(r.rpc_status == RPC_STATUS_SUCCESS, "MOUNT DUMP is answered"))
		check(dump_lists(&r, export_path), "DUMP lists the mount of %s (%zu entries)",
		      export_path, r.nstrs);
	m3_umnt(mnt, export_path, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS, "MOUNT UMNT %s is answered", export_path);
	m3_dump(mnt, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS && !dump_lists(&r, export_path),
	      "after UMNT, DUMP no longer lists %s", export_path);

	m3_mnt(mnt, export_path, &r);
	if (expect_mnt(&r, MNT3_OK, "MNT %s again", export_path))
		check(fh_equal(&r.fh, &first), "MNT gives the same root handle each time");
	m3_umntall(mnt, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS, "MOUNT UMNTALL is answered");
	m3_dump(mnt, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS && !dump_lists(&r, export_path),
	      "after UMNTALL, DUMP lists no mount of %s", export_path);
	reply_reset(&r);
	mount_root();
}

/* ---- all: server information ------------------------------------------------ */

static void test_server_info(void)
{
	struct reply r = { 0 };
	const uint32_t props = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;

	v3_null(nfs, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS, "NFS NULL is answered");
	v3_getattr(nfs, &root, &r);
	if (expect(&r, NFS3_OK, "GETATTR of the export root"))
		check_attr("the export root is a directory", r.has_attr, &r.attr, NF3DIR, -1, -1,
			   -1);

	v3_fsinfo(nfs, &root, &r);
	if (expect(&r, NFS3_OK, "FSINFO")) {
		FSINFO3resok *f = &r.fsinfo;

		check(f->rtmax >= MiB, "FSINFO rtmax %u >= 1 MiB", f->rtmax);
		check(f->wtmax >= MiB, "FSINFO wtmax %u >= 1 MiB", f->wtmax);
		check(f->rtpref > 0 && f->rtpref <= f->rtmax && f->wtpref > 0 &&
			      f->wtpref <= f->wtmax && f->dtpref > 0,
		      "FSINFO rtpref %u, wtpref %u, dtpref %u are sane", f->rtpref, f->wtpref,
		      f->dtpref);
		check(f->maxfilesize >= 1ull << 40, "FSINFO maxfilesize %" PRIu64 " >= 1 TiB",
		      (uint64_t)f->maxfilesize);
		check((f->properties & props) == props,
		      "FSINFO properties 0x%x have LINK, SYMLINK, HOMOGENEOUS, CANSETTIME",
		      f->properties);
		check(t_ns(f->time_delta) > 0 && t_ns(f->time_delta) <= 1000000000,
		      "FSINFO time_delta %u.%09u s is at most 1 s", f->time_delta.seconds,
		      f->time_delta.nseconds);
		max_file_bytes = f->maxfilesize;
		wtmax = f->wtmax;
		rtmax = f->rtmax;
	}

	v3_fsstat(nfs, &root, &r);
	if (expect(&r, NFS3_OK, "FSSTAT")) {
		FSSTAT3resok *s = &r.fsstat;

		check(s->tbytes > 0 && s->fbytes <= s->tbytes && s->abytes <= s->fbytes,
		      "FSSTAT bytes: total %" PRIu64 " >= free %" PRIu64 " >= available %" PRIu64,
		      (uint64_t)s->tbytes, (uint64_t)s->fbytes, (uint64_t)s->abytes);
		check(s->ffiles <= s->tfiles && s->afiles <= s->ffiles,
		      "FSSTAT files: total %" PRIu64 " >= free %" PRIu64 " >= available %" PRIu64,
		      (uint64_t)s->tfiles, (uint64_t)s->ffiles, (uint64_t)s->afiles);
	}

	v3_pathconf(nfs, &root, &r);
	if (expect(&r, NFS3_OK, "PATHCONF")) {
		PATHCONF3resok *p = &r.pathconf;

		check(p->name_max == NAME_MAX_BYTES, "PATHCONF name_max is %u (%u)", NAME_MAX_BYTES,
		      p->name_max);
		check(p->linkmax >= 2, "PATHCONF linkmax %u >= 2", p->linkmax);
		check(p->no_trunc && !p->case_insensitive && p->case_preserving,
		      "PATHCONF: no_trunc, case sensitive, case preserving");
	}
	reply_reset(&r);
}

/* ---- all: directories and lookups ------------------------------------------ */

static char work_name[64];
static struct fh work;      /* the work directory */
static fattr3 work_attr;

static void test_mkdir_lookup(void)
{
	struct reply r = { 0 };
	fattr3 before = root_attr;

	snprintf(work_name, sizeof(work_name), "nfs_api.all.%d", (int)getpid());
	tick();
	v3_mkdir(nfs, &root, work_name, 0755, &r);
	if (!expect(&r, NFS3_OK, "MKDIR the work directory"))
		fatal("cannot continue without a work directory");
	check(r.has_fh, "MKDIR returns the new handle");
	if (!r.has_fh) {
		v3_lookup(nfs, &root, work_name, &r);
		if (!quiet_ok(&r, "LOOKUP the work directory"))
			fatal("cannot continue without a work directory");
	}
	work = r.fh;
	work_attr = r.attr;
	check(work.len > 0 && work.len <= SLATE_FH_MAX, "a directory handle is 1..%u bytes (%u)",
	      SLATE_FH_MAX, work.len);
	check_attr("MKDIR: a directory, mode 0755, nlink 2", r.has_attr, &r.attr, NF3DIR, 0755,
		   -1, 2);
	check(r.has_attr && r.attr.uid == getuid() && r.attr.gid == getgid(),
	      "MKDIR: owned by the caller (%u:%u)", r.attr.uid, r.attr.gid);
	check(r.has_attr && r.attr.fsid == root_attr.fsid && r.attr.fileid != root_attr.fileid,
	      "MKDIR: same fsid as the root, a fileid of its own");
	if (check(r.wcc.after.attributes_follow, "MKDIR returns the parent's attributes")) {
		fattr3 *after = &r.wcc.after.post_op_attr_u.attributes;

		check(after->nlink == before.nlink + 1, "MKDIR: the parent's nlink %u -> %u",
		      before.nlink, after->nlink);
		check(t_ns(after->mtime) > t_ns(before.mtime), "MKDIR: the parent's mtime moves");
	}
	v3_mkdir(nfs, &root, work_name, 0755, &r);
	expect(&r, NFS3ERR_EXIST, "MKDIR of an existing name answers EXIST");

	v3_lookup(nfs, &root, work_name, &r);
	if (expect(&r, NFS3_OK, "LOOKUP the new directory"))
		check(r.has_attr && r.attr.fileid == work_attr.fileid && r.attr.type == NF3DIR,
		      "LOOKUP finds the same fileid");
	v3_lookup(nfs, &work, ".", &r);
	if (expect(&r, NFS3_OK, "LOOKUP ."))
		check(r.has_attr && r.attr.fileid == work_attr.fileid, "LOOKUP . is the directory");
	v3_lookup(nfs, &work, "..", &r);
	if (expect(&r, NFS3_OK, "LOOKUP .."))
		check(r.has_attr && r.attr.fileid == root_attr.fileid, "LOOKUP .. is the parent");
	v3_lookup(nfs, &root, "..", &r);
	if (expect(&r, NFS3_OK, "LOOKUP .. at the export root"))
		check(r.has_attr && r.attr.fileid == root_attr.fileid,
		      "LOOKUP .. at the export root stays in the export");
	v3_lookup(nfs, &work, "no-such-name", &r);
	expect(&r, NFS3ERR_NOENT, "LOOKUP of a missing name answers NOENT");
	v3_access(nfs, &work, ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND |
				      ACCESS3_DELETE, &r);
	if (expect(&r, NFS3_OK, "ACCESS on the directory"))
		check((r.access & (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY |
				   ACCESS3_EXTEND)) ==
			      (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND),
		      "ACCESS grants the owner READ, LOOKUP, MODIFY, EXTEND (0x%x)", r.access);
	reply_reset(&r);
}

/* ---- all: files, data, verifiers -------------------------------------------- */

static struct fh file;      /* work/file */
static uint64_t file_id;
static char boot_verf[NFS3_WRITEVERFSIZE];
static int have_boot_verf;

/* Every WRITE and COMMIT of one server instance has the same verifier. */
static void note_verf(const char *what, const struct reply *r)
{
	if (!have_boot_verf) {
		memcpy(boot_verf, r->verf, sizeof(boot_verf));
		have_boot_verf = 1;
		return;
	}
	check(memcmp(boot_verf, r->verf, sizeof(boot_verf)) == 0,
	      "%s: the same write verifier as before", what);
}

static void test_create_write_read(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	const uint32_t small = 100 * 1024;
	uint8_t *want = xmalloc(2 * MiB);
	fattr3 created;
	int64_t size;

	tick();
	v3_create(nfs, &work, "file", UNCHECKED, &sa, 0, &r);
	if (!expect(&r, NFS3_OK, "CREATE UNCHECKED file"))
		fatal("cannot continue without a file");
	check(r.has_fh, "CREATE returns the new handle");
	if (!r.has_fh)
		v3_lookup(nfs, &work, "file", &r);
	file = r.fh;
	check(file.len > 0 && file.len <= SLATE_FH_MAX, "a file handle is 1..%u bytes (%u)",
	      SLATE_FH_MAX, file.len);
	check_attr("CREATE: a regular file, mode 0644, size 0, nlink 1", r.has_attr, &r.attr,
		   NF3REG, 0644, 0, 1);
	created = r.attr;
	file_id = r.attr.fileid;
	if (check(r.wcc.after.attributes_follow, "CREATE returns the directory's attributes"))
		check(t_ns(r.wcc.after.post_op_attr_u.attributes.mtime) > t_ns(work_attr.mtime),
		      "CREATE: the directory's mtime moves");
	v3_getattr(nfs, &file, &r);
	if (expect(&r, NFS3_OK, "GETATTR the new file"))
		check(r.attr.fileid == file_id && r.attr.type == NF3REG,
		      "GETATTR: the same fileid as CREATE returned");
	v3_access(nfs, &file, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_EXECUTE, &r);
	if (expect(&r, NFS3_OK, "ACCESS on the file"))
		check((r.access & (ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND)) ==
			      (ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND) &&
			      !(r.access & ~(ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND |
					     ACCESS3_EXECUTE)),
		      "ACCESS grants READ, MODIFY, EXTEND on the file, nothing not asked (0x%x)",
		      r.access);

	/* FILE_SYNC, then reads around the end of the file. */
	pattern(1, 0, want, small);
	tick();
	v3_write(nfs, &file, 0, want, small, FILE_SYNC, &r);
	if (expect(&r, NFS3_OK, "WRITE FILE_SYNC 100 KiB")) {
		check(r.count == small, "WRITE wrote all of it (%u)", r.count);
		check(r.committed == FILE_SYNC, "WRITE FILE_SYNC is committed FILE_SYNC (%d)",
		      r.committed);
		note_verf("WRITE", &r);
		if (check_attr("WRITE: the size is 100 KiB", r.has_attr, &r.attr, NF3REG, -1,
			       small, 1)) {
			check(t_ns(r.attr.mtime) > t_ns(created.mtime) &&
				      t_ns(r.attr.ctime) > t_ns(created.ctime),
			      "WRITE: mtime and ctime move");
			check(r.attr.used >= small, "WRITE: used %" PRIu64 " >= size",
			      (uint64_t)r.attr.used);
		}
		if (r.wcc.before.attributes_follow)
			check(r.wcc.before.pre_op_attr_u.attributes.size == 0,
			      "WRITE: the pre-op size was 0");
	}
	v3_read(nfs, &file, 0, small, &r);
	if (expect(&r, NFS3_OK, "READ the 100 KiB back")) {
		check(r.count == small && r.data_len == small && !memcmp(r.data, want, small),
		      "READ returns the bytes written");
		check(r.eof, "READ up to the end of the file reports eof");
		check(r.has_attr && r.attr.fileid == file_id && r.attr.size == small,
		      "READ returns the file's attributes");
	}
	v3_read(nfs, &file, 0, 4096, &r);
	if (expect(&r, NFS3_OK, "READ 4 KiB at 0"))
		check(r.count == 4096 && !r.eof && !memcmp(r.data, want, 4096),
		      "READ short of the end: the bytes, no eof");
	v3_read(nfs, &file, small, 4096, &r);
	if (expect(&r, NFS3_OK, "READ at the end of the file"))
		check(r.count == 0 && r.data_len == 0 && r.eof, "READ at EOF: 0 bytes and eof");
	v3_read(nfs, &file, 10 * (uint64_t)small, 4096, &r);
	if (expect(&r, NFS3_OK, "READ past the end of the file"))
		check(r.count == 0 && r.eof, "READ past EOF: 0 bytes and eof");
	v3_read(nfs, &file, small - 10, 100, &r);
	if (expect(&r, NFS3_OK, "READ across the end of the file"))
		check(r.count == 10 && r.eof && !memcmp(r.data, want + small - 10, 10),
		      "READ across EOF: the last 10 bytes and eof");

	/* UNSTABLE writes, then COMMIT with the same verifier. */
	for (uint32_t i = 0; i < 4; i++) {
		uint64_t off = MiB + i * 256 * 1024;

		pattern(1, off, want, 256 * 1024);
		v3_write(nfs, &file, off, want, 256 * 1024, UNSTABLE, &r);
		if (!quiet_ok(&r, "WRITE UNSTABLE 256 KiB at %" PRIu64, off))
			continue;
		check(r.count == 256 * 1024 && r.committed >= UNSTABLE && r.committed <= FILE_SYNC,
		      "WRITE UNSTABLE #%u: all written, committed %d", i + 1, r.committed);
		note_verf("WRITE UNSTABLE", &r);
	}
	v3_commit(nfs, &file, 0, 0, &r);
	if (expect(&r, NFS3_OK, "COMMIT the whole file")) {
		note_verf("COMMIT", &r);
		check(r.has_attr && r.attr.size == 2 * MiB, "COMMIT: the size is 2 MiB");
	}
	v3_read(nfs, &file, MiB, MiB, &r);
	pattern(1, MiB, want, MiB);
	if (expect(&r, NFS3_OK, "READ the unstable-written MiB"))
		check(r.count == MiB && !memcmp(r.data, want, MiB) && r.eof,
		      "READ: the unstable writes are there, eof at 2 MiB");
	v3_read(nfs, &file, small, MiB - small, &r);
	if (expect(&r, NFS3_OK, "READ the gap never written"))
		check(r.count == MiB - small && is_zero(r.data, r.data_len),
		      "READ: a gap never written reads as zeros");

	/* One write of wtmax (1 MiB), and a DATA_SYNC one. */
	pattern(1, 2 * MiB, want, MiB);
	v3_write(nfs, &file, 2 * MiB, want, MiB, FILE_SYNC, &r);
	if (expect(&r, NFS3_OK, "WRITE FILE_SYNC of 1 MiB in one call")) {
		check(r.count == MiB, "WRITE 1 MiB: all of it (%u)", r.count);
		note_verf("WRITE 1 MiB", &r);
	}
	v3_read(nfs, &file, 2 * MiB, MiB, &r);
	if (expect(&r, NFS3_OK, "READ 1 MiB in one call"))
		check(r.count == MiB && !memcmp(r.data, want, MiB) && r.eof,
		      "READ 1 MiB: the bytes, eof at 3 MiB");
	pattern(2, 0, want, 512);
	v3_write(nfs, &file, 3 * MiB, want, 512, DATA_SYNC, &r);
	if (expect(&r, NFS3_OK, "WRITE DATA_SYNC 512 bytes"))
		check(r.committed >= DATA_SYNC, "WRITE DATA_SYNC is committed at least DATA_SYNC (%d)",
		      r.committed);

	/* A sparse write far out. */
	size = 64ll * MiB + 1;
	v3_write(nfs, &file, 64ull * MiB, "z", 1, FILE_SYNC, &r);
	if (expect(&r, NFS3_OK, "WRITE 1 byte at 64 MiB"))
		check(r.has_attr && r.attr.size == (uint64_t)size, "WRITE far out: size 64 MiB + 1");
	v3_read(nfs, &file, 32ull * MiB, 65536, &r);
	if (expect(&r, NFS3_OK, "READ in the hole"))
		check(r.count == 65536 && is_zero(r.data, r.data_len) && !r.eof,
		      "READ in a hole: zeros, no eof");
	v3_read(nfs, &file, 64ull * MiB, 10, &r);
	if (expect(&r, NFS3_OK, "READ the last byte"))
		check(r.count == 1 && r.data[0] == 'z' && r.eof, "READ the last byte: 'z' and eof");
	v3_getattr(nfs, &file, &r);
	if (expect(&r, NFS3_OK, "GETATTR after the writes"))
		check(r.attr.fileid == file_id && r.attr.size == (uint64_t)size && r.attr.nlink == 1,
		      "GETATTR: same fileid, size 64 MiB + 1, nlink 1");
	reply_reset(&r);
	free(want);
}

/* ---- all: SETATTR ------------------------------------------------------------- */

static void test_setattr(void)
{
	struct reply r = { 0 };
	sattr3 sa;
	uint8_t want[1000];
	fattr3 before;
	time_t now;

	pattern(1, 0, want, sizeof(want));
	sa = sa_size(1000);
	v3_setattr(nfs, &file, &sa, NULL, &r);
	if (expect(&r, NFS3_OK, "SETATTR size 1000 (truncate)"))
		check_attr("SETATTR: the size is 1000", r.has_attr, &r.attr, NF3REG, -1, 1000, -1);
	v3_read(nfs, &file, 0, 4096, &r);
	if (expect(&r, NFS3_OK, "READ after the truncate"))
		check(r.count == 1000 && r.eof && !memcmp(r.data, want, 1000),
		      "READ after truncate: the first 1000 bytes and eof");
	sa = sa_size(8192);
	v3_setattr(nfs, &file, &sa, NULL, &r);
	expect(&r, NFS3_OK, "SETATTR size 8192 (extend)");
	v3_read(nfs, &file, 0, 8192, &r);
	if (expect(&r, NFS3_OK, "READ after the extend"))
		check(r.count == 8192 && !memcmp(r.data, want, 1000) &&
			      is_zero(r.data + 1000, 8192 - 1000),
		      "READ after extend: the old bytes past 1000 do not come back");

	v3_getattr(nfs, &file, &r);
	before = r.attr;
	tick();
	sa = sa_mode(0600);
	v3_setattr(nfs, &file, &sa, NULL, &r);
	if (expect(&r, NFS3_OK, "SETATTR mode 0600")) {
		check_attr("SETATTR: mode 0600", r.has_attr, &r.attr, NF3REG, 0600, 8192, 1);
		check(r.has_attr && t_ns(r.attr.ctime) > t_ns(before.ctime) &&
			      t_ns(r.attr.mtime) == t_ns(before.mtime),
		      "SETATTR mode: ctime moves, mtime does not");
		if (r.wcc.before.attributes_follow)
			check(t_ns(r.wcc.before.pre_op_attr_u.attributes.ctime) == t_ns(before.ctime),
			      "SETATTR: the pre-op ctime is the one GETATTR gave");
	}

	sa = sa_none();
	sa.uid.set_it = 1;
	sa.uid.set_uid3_u.uid = 1234;
	sa.gid.set_it = 1;
	sa.gid.set_gid3_u.gid = 5678;
	v3_setattr(nfs, &file, &sa, NULL, &r);
	if (expect(&r, NFS3_OK, "SETATTR uid 1234 gid 5678"))
		check(r.has_attr && r.attr.uid == 1234 && r.attr.gid == 5678,
		      "SETATTR: the new owner and group (%u:%u)", r.attr.uid, r.attr.gid);
	sa.uid.set_uid3_u.uid = getuid();
	sa.gid.set_gid3_u.gid = getgid();
	v3_setattr(nfs, &file, &sa, NULL, &r);
	quiet_ok(&r, "SETATTR the owner back");

	sa = sa_none();
	sa.mtime.set_it = SET_TO_CLIENT_TIME;
	sa.mtime.set_mtime_u.mtime.seconds = 1000000000;
	sa.mtime.set_mtime_u.mtime.nseconds = 123456789;
	sa.atime.set_it = SET_TO_CLIENT_TIME;
	sa.atime.set_atime_u.atime.seconds = 999999999;
	sa.atime.set_atime_u.atime.nseconds = 5;
	v3_setattr(nfs, &file, &sa, NULL, &r);
	expect(&r, NFS3_OK, "SETATTR mtime and atime to client times");
	v3_getattr(nfs, &file, &r);
	if (expect(&r, NFS3_OK, "GETATTR after setting times"))
		check(r.attr.mtime.seconds == 1000000000 && r.attr.mtime.nseconds == 123456789 &&
			      r.attr.atime.seconds == 999999999 && r.attr.atime.nseconds == 5,
		      "the times set are kept to the nanosecond (mtime %u.%09u atime %u.%09u)",
		      r.attr.mtime.seconds, r.attr.mtime.nseconds, r.attr.atime.seconds,
		      r.attr.atime.nseconds);
	sa = sa_none();
	sa.mtime.set_it = SET_TO_SERVER_TIME;
	v3_setattr(nfs, &file, &sa, NULL, &r);
	now = time(NULL);
	if (expect(&r, NFS3_OK, "SETATTR mtime to server time"))
		check(r.has_attr && llabs((long long)r.attr.mtime.seconds - (long long)now) < 300,
		      "SETATTR server time: mtime is now (%u vs %lld)", r.attr.mtime.seconds,
		      (long long)now);

	/* The guard: the right ctime passes, another one is NOT_SYNC. */
	v3_getattr(nfs, &file, &r);
	before = r.attr;
	sa = sa_mode(0640);
	v3_setattr(nfs, &file, &sa, &before.ctime, &r);
	expect(&r, NFS3_OK, "SETATTR guarded by the current ctime");
	v3_getattr(nfs, &file, &r);
	before = r.attr;
	{
		nfstime3 wrong = before.ctime;

		wrong.seconds -= 1000;
		sa = sa_mode(0604);
		v3_setattr(nfs, &file, &sa, &wrong, &r);
		expect(&r, NFS3ERR_NOT_SYNC, "SETATTR guarded by a wrong ctime answers NOT_SYNC");
	}
	v3_getattr(nfs, &file, &r);
	check(r.status == NFS3_OK && (r.attr.mode & 07777) == 0640 &&
		      t_ns(r.attr.ctime) == t_ns(before.ctime),
	      "a NOT_SYNC SETATTR changes nothing (mode %04o)", r.attr.mode & 07777);

	sa = sa_size(0);
	v3_setattr(nfs, &work, &sa, NULL, &r);
	expect2(&r, NFS3ERR_ISDIR, NFS3ERR_INVAL, "SETATTR size on a directory is refused");
	if (max_file_bytes < UINT64_MAX - 4096) {
		sa = sa_size(max_file_bytes + 4096);
		v3_setattr(nfs, &file, &sa, NULL, &r);
		expect(&r, NFS3ERR_FBIG, "SETATTR size past FSINFO maxfilesize answers FBIG");
	}
	reply_reset(&r);
}

/* ---- all: CREATE modes ------------------------------------------------------- */

static void test_create_modes(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0640);
	uint64_t verf_a = 0x1122334455667788ull, verf_b = 0x8877665544332211ull, excl_id = 0;

	v3_create(nfs, &work, "file", GUARDED, &sa, 0, &r);
	expect(&r, NFS3ERR_EXIST, "CREATE GUARDED of an existing name answers EXIST");
	v3_create(nfs, &work, "guarded", GUARDED, &sa, 0, &r);
	if (expect(&r, NFS3_OK, "CREATE GUARDED of a new name"))
		check_attr("CREATE GUARDED: mode 0640, size 0", r.has_attr, &r.attr, NF3REG, 0640,
			   0, 1);
	v3_create(nfs, &work, "file", UNCHECKED, NULL, 0, &r);
	if (expect(&r, NFS3_OK, "CREATE UNCHECKED of an existing name"))
		check(r.has_attr && r.attr.fileid == file_id && r.attr.size == 8192,
		      "CREATE UNCHECKED keeps the existing file (same fileid, size 8192)");

	v3_create(nfs, &work, "excl", EXCLUSIVE, NULL, verf_a, &r);
	if (expect(&r, NFS3_OK, "CREATE EXCLUSIVE")) {
		if (!r.has_fh)
			v3_lookup(nfs, &work, "excl", &r);
		v3_getattr(nfs, &r.fh, &r);
		if (check(r.status == NFS3_OK && r.attr.type == NF3REG && r.attr.size == 0,
			  "CREATE EXCLUSIVE made an empty regular file"))
			excl_id = r.attr.fileid;
	}
	v3_create(nfs, &work, "excl", EXCLUSIVE, NULL, verf_a, &r);
	if (expect(&r, NFS3_OK, "CREATE EXCLUSIVE retried with the same verifier succeeds")) {
		if (!r.has_fh)
			v3_lookup(nfs, &work, "excl", &r);
		v3_getattr(nfs, &r.fh, &r);
		check(r.status == NFS3_OK && r.attr.fileid == excl_id,
		      "the retried EXCLUSIVE create names the same file");
	}
	v3_create(nfs, &work, "excl", EXCLUSIVE, NULL, verf_b, &r);
	expect(&r, NFS3ERR_EXIST, "CREATE EXCLUSIVE with another verifier answers EXIST");
	v3_create(nfs, &work, "file", EXCLUSIVE, NULL, verf_a, &r);
	expect(&r, NFS3ERR_EXIST, "CREATE EXCLUSIVE over a file made otherwise answers EXIST");
	/* RFC 1813: after an exclusive create the client sets the attributes. */
	v3_lookup(nfs, &work, "excl", &r);
	if (quiet_ok(&r, "LOOKUP excl")) {
		struct fh f = r.fh;

		sa = sa_mode(0644);
		sa.mtime.set_it = SET_TO_SERVER_TIME;
		sa.atime.set_it = SET_TO_SERVER_TIME;
		v3_setattr(nfs, &f, &sa, NULL, &r);
		if (expect(&r, NFS3_OK, "SETATTR after CREATE EXCLUSIVE"))
			check_attr("the exclusive file now has mode 0644", r.has_attr, &r.attr,
				   NF3REG, 0644, 0, 1);
	}
	reply_reset(&r);
}

/* ---- all: names -------------------------------------------------------------- */

static void test_names(void)
{
	struct reply r = { 0 };
	char name[NAME_MAX_BYTES + 2];
	sattr3 sa = sa_mode(0644);

	memset(name, 'n', NAME_MAX_BYTES);
	name[NAME_MAX_BYTES] = '\0';
	v3_create(nfs, &work, name, GUARDED, &sa, 0, &r);
	expect(&r, NFS3_OK, "CREATE of a 255-byte name");
	v3_lookup(nfs, &work, name, &r);
	expect(&r, NFS3_OK, "LOOKUP of the 255-byte name");
	v3_remove(nfs, &work, name, &r);
	expect(&r, NFS3_OK, "REMOVE of the 255-byte name");
	name[NAME_MAX_BYTES] = 'n';
	name[NAME_MAX_BYTES + 1] = '\0';
	v3_create(nfs, &work, name, GUARDED, &sa, 0, &r);
	expect(&r, NFS3ERR_NAMETOOLONG, "CREATE of a 256-byte name answers NAMETOOLONG");
	v3_mkdir(nfs, &work, name, 0755, &r);
	expect(&r, NFS3ERR_NAMETOOLONG, "MKDIR of a 256-byte name answers NAMETOOLONG");
	v3_lookup(nfs, &work, name, &r);
	expect(&r, NFS3ERR_NAMETOOLONG, "LOOKUP of a 256-byte name answers NAMETOOLONG");
	v3_symlink(nfs, &work, name, "file", &r);
	expect(&r, NFS3ERR_NAMETOOLONG, "SYMLINK to a 256-byte name answers NAMETOOLONG");

	v3_create(nfs, &work, "gr\xc3\xbc\xc3\x9f" "e \xe2\x98\x83", GUARDED, &sa, 0, &r);
	expect(&r, NFS3_OK, "CREATE of a UTF-8 name with a space");
	v3_lookup(nfs, &work, "gr\xc3\xbc\xc3\x9f" "e \xe2\x98\x83", &r);
	expect(&r, NFS3_OK, "LOOKUP of the UTF-8 name");
	v3_create(nfs, &work, "a/b", GUARDED, &sa, 0, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS && r.status != NFS3_OK,
	      "CREATE of a name holding '/' is refused (%s)",
	      r.rpc_status ? r.error : st_name(r.status));
	v3_create(nfs, &work, "", GUARDED, &sa, 0, &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS && r.status != NFS3_OK,
	      "CREATE of an empty name is refused (%s)",
	      r.rpc_status ? r.error : st_name(r.status));
	reply_reset(&r);
}

/* ---- all: links, symlinks, special files ------------------------------------- */

static struct fh d1, d2;
static uint64_t d1_id, d2_id;

static void test_links(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	struct fh h;
	uint64_t h_id;
	char long_target[1001];

	v3_mkdir(nfs, &work, "d1", 0755, &r);
	if (quiet_ok(&r, "MKDIR d1")) {
		d1 = r.fh;
		d1_id = r.attr.fileid;
	}
	v3_mkdir(nfs, &work, "d2", 0700, &r);
	if (quiet_ok(&r, "MKDIR d2")) {
		d2 = r.fh;
		d2_id = r.attr.fileid;
		check_attr("MKDIR d2: mode 0700", r.has_attr, &r.attr, NF3DIR, 0700, -1, 2);
	}
	v3_getattr(nfs, &work, &r);
	check(r.status == NFS3_OK && r.attr.nlink == 4, "the work directory has nlink 4 (%u)",
	      r.attr.nlink);

	/* Hard links: nlink, the same inode by both names, the last name. */
	v3_create(nfs, &work, "h", GUARDED, &sa, 0, &r);
	if (!quiet_ok(&r, "CREATE h"))
		return;
	h = r.fh;
	h_id = r.attr.fileid;
	v3_write(nfs, &h, 0, "hello", 5, FILE_SYNC, &r);
	quiet_ok(&r, "WRITE h");
	tick();
	v3_link(nfs, &h, &d1, "h2", &r);
	if (expect(&r, NFS3_OK, "LINK h to d1/h2")) {
		check_attr("LINK: the file has nlink 2", r.has_attr, &r.attr, NF3REG, 0644, 5, 2);
		check(r.wcc.after.attributes_follow &&
			      r.wcc.after.post_op_attr_u.attributes.fileid == d1_id,
		      "LINK returns the link directory's attributes");
	}
	v3_lookup(nfs, &d1, "h2", &r);
	if (expect(&r, NFS3_OK, "LOOKUP d1/h2"))
		check(r.has_attr && r.attr.fileid == h_id && r.attr.nlink == 2,
		      "d1/h2 is the same file (fileid, nlink 2)");
	v3_link(nfs, &h, &d1, "h2", &r);
	expect(&r, NFS3ERR_EXIST, "LINK to an existing name answers EXIST");
	/* RFC 1813 names no one status for this (servers answer ISDIR, PERM,
	 * INVAL, BADTYPE...): any refusal that leaves no name will do. */
	v3_link(nfs, &d2, &d1, "dirlink", &r);
	check(r.rpc_status == RPC_STATUS_SUCCESS && r.status != NFS3_OK,
	      "LINK of a directory is refused (%s)", r.rpc_status ? r.error : st_name(r.status));
	v3_lookup(nfs, &d1, "dirlink", &r);
	expect(&r, NFS3ERR_NOENT, "the refused LINK left no name");
	v3_remove(nfs, &work, "h", &r);
	expect(&r, NFS3_OK, "REMOVE h (d1/h2 remains)");
	v3_getattr(nfs, &h, &r);
	if (expect(&r, NFS3_OK, "the handle of a file with a name left stays valid"))
		check(r.attr.nlink == 1 && r.attr.size == 5, "after REMOVE of one name: nlink 1");
	v3_read(nfs, &h, 0, 100, &r);
	check(r.status == NFS3_OK && r.count == 5 && !memcmp(r.data, "hello", 5),
	      "the data is there through the other name");
	v3_remove(nfs, &d1, "h2", &r);
	expect(&r, NFS3_OK, "REMOVE the last name");
	v3_getattr(nfs, &h, &r);
	expect(&r, NFS3ERR_STALE, "GETATTR of a removed file's handle answers STALE");
	v3_read(nfs, &h, 0, 100, &r);
	expect(&r, NFS3ERR_STALE, "READ of a removed file's handle answers STALE");
	v3_write(nfs, &h, 0, "x", 1, FILE_SYNC, &r);
	expect(&r, NFS3ERR_STALE, "WRITE to a removed file's handle answers STALE");
	sa = sa_mode(0600);
	v3_setattr(nfs, &h, &sa, NULL, &r);
	expect(&r, NFS3ERR_STALE, "SETATTR of a removed file's handle answers STALE");

	/* Symlinks. */
	v3_symlink(nfs, &work, "sl", "file", &r);
	if (expect(&r, NFS3_OK, "SYMLINK sl -> file")) {
		check_attr("SYMLINK: a link of size 4", r.has_attr, &r.attr, NF3LNK, -1, 4, 1);
		if (!r.has_fh)
			v3_lookup(nfs, &work, "sl", &r);
		v3_readlink(nfs, &r.fh, &r);
		if (expect(&r, NFS3_OK, "READLINK sl"))
			check(r.path && !strcmp(r.path, "file"), "READLINK gives \"file\" (\"%s\")",
			      r.path ? r.path : "");
	}
	v3_lookup(nfs, &work, "sl", &r);
	if (expect(&r, NFS3_OK, "LOOKUP sl"))
		check(r.has_attr && r.attr.type == NF3LNK, "LOOKUP does not follow the symlink");
	memset(long_target, 'p', 1000);
	long_target[1000] = '\0';
	for (int i = 50; i < 1000; i += 50)
		long_target[i] = '/';
	v3_symlink(nfs, &work, "sl-long", long_target, &r);
	if (expect(&r, NFS3_OK, "SYMLINK to a 1000-byte target")) {
		if (!r.has_fh)
			v3_lookup(nfs, &work, "sl-long", &r);
		v3_readlink(nfs, &r.fh, &r);
		check(r.status == NFS3_OK && r.path && !strcmp(r.path, long_target),
		      "READLINK gives the 1000-byte target back");
	}
	v3_symlink(nfs, &work, "sl", "other", &r);
	expect(&r, NFS3ERR_EXIST, "SYMLINK to an existing name answers EXIST");
	v3_readlink(nfs, &file, &r);
	expect(&r, NFS3ERR_INVAL, "READLINK of a regular file answers INVAL");

	/* MKNOD: FIFO and SOCK are made, devices are not supported. */
	v3_mknod(nfs, &work, "fifo", NF3FIFO, 0600, &r);
	if (expect(&r, NFS3_OK, "MKNOD FIFO"))
		check_attr("MKNOD FIFO: a fifo, mode 0600", r.has_attr, &r.attr, NF3FIFO, 0600,
			   -1, 1);
	v3_mknod(nfs, &work, "sock", NF3SOCK, 0644, &r);
	if (expect(&r, NFS3_OK, "MKNOD SOCK"))
		check_attr("MKNOD SOCK: a socket, mode 0644", r.has_attr, &r.attr, NF3SOCK, 0644,
			   -1, 1);
	v3_mknod(nfs, &work, "fifo", NF3FIFO, 0600, &r);
	expect(&r, NFS3ERR_EXIST, "MKNOD of an existing name answers EXIST");
	v3_mknod(nfs, &work, "chr", NF3CHR, 0600, &r);
	expect(&r, NFS3ERR_NOTSUPP, "MKNOD CHR answers NOTSUPP");
	v3_mknod(nfs, &work, "blk", NF3BLK, 0600, &r);
	expect(&r, NFS3ERR_NOTSUPP, "MKNOD BLK answers NOTSUPP");
	v3_mknod(nfs, &work, "reg", NF3REG, 0600, &r);
	expect(&r, NFS3ERR_BADTYPE, "MKNOD of a regular file answers BADTYPE");
	v3_lookup(nfs, &work, "chr", &r);
	expect(&r, NFS3ERR_NOENT, "a refused MKNOD leaves no name behind");
	reply_reset(&r);
}

/* ---- all: RENAME ------------------------------------------------------------- */

static void test_rename(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	uint64_t g_id = 0, sub_id = 0;
	struct fh victim;
	uint32_t work_nlink = 0, d2_nlink = 0;

	v3_lookup(nfs, &work, "guarded", &r);
	if (quiet_ok(&r, "LOOKUP guarded"))
		g_id = r.attr.fileid;
	v3_rename(nfs, &work, "guarded", &work, "g2", &r);
	if (expect(&r, NFS3_OK, "RENAME guarded -> g2 in one directory"))
		check(r.wcc.after.attributes_follow && r.wcc2.after.attributes_follow,
		      "RENAME returns both directories' attributes");
	v3_lookup(nfs, &work, "guarded", &r);
	expect(&r, NFS3ERR_NOENT, "the old name is gone");
	v3_lookup(nfs, &work, "g2", &r);
	check(r.status == NFS3_OK && r.attr.fileid == g_id, "the new name has the same fileid");

	v3_rename(nfs, &work, "g2", &d2, "g3", &r);
	expect(&r, NFS3_OK, "RENAME g2 -> d2/g3 across directories");
	v3_lookup(nfs, &d2, "g3", &r);
	check(r.status == NFS3_OK && r.attr.fileid == g_id, "d2/g3 has the same fileid");
	v3_lookup(nfs, &work, "g2", &r);
	expect(&r, NFS3ERR_NOENT, "g2 is gone from the old directory");

	/* A directory moving changes both parents' link counts and its "..". */
	v3_mkdir(nfs, &d1, "sub", 0755, &r);
	if (quiet_ok(&r, "MKDIR d1/sub"))
		sub_id = r.attr.fileid;
	v3_getattr(nfs, &work, &r);
	work_nlink = r.attr.nlink;
	v3_getattr(nfs, &d2, &r);
	d2_nlink = r.attr.nlink;
	v3_rename(nfs, &work, "d1", &d2, "d1moved", &r);
	if (expect(&r, NFS3_OK, "RENAME directory d1 -> d2/d1moved")) {
		check(r.wcc.after.attributes_follow &&
			      r.wcc.after.post_op_attr_u.attributes.nlink == work_nlink - 1,
		      "RENAME of a directory: the old parent's nlink goes down by one");
		check(r.wcc2.after.attributes_follow &&
			      r.wcc2.after.post_op_attr_u.attributes.nlink == d2_nlink + 1,
		      "RENAME of a directory: the new parent's nlink goes up by one");
	}
	v3_lookup(nfs, &d1, "..", &r);
	check(r.status == NFS3_OK && r.attr.fileid == d2_id, "the moved directory's .. is d2");
	v3_lookup(nfs, &d1, "sub", &r);
	check(r.status == NFS3_OK && r.attr.fileid == sub_id,
	      "the moved directory keeps its entries and its handle");
	v3_rename(nfs, &work, "d2", &d1, "loop", &r);
	expect(&r, NFS3ERR_INVAL, "RENAME of a directory into its own subtree answers INVAL");

	/* Onto existing names. */
	v3_create(nfs, &work, "victim", GUARDED, &sa, 0, &r);
	if (quiet_ok(&r, "CREATE victim")) {
		if (!r.has_fh)
			v3_lookup(nfs, &work, "victim", &r);
		victim = r.fh;
		v3_rename(nfs, &d2, "g3", &work, "victim", &r);
		expect(&r, NFS3_OK, "RENAME onto an existing file replaces it");
		v3_lookup(nfs, &work, "victim", &r);
		check(r.status == NFS3_OK && r.attr.fileid == g_id,
		      "the name now holds the renamed file");
		v3_getattr(nfs, &victim, &r);
		expect(&r, NFS3ERR_STALE, "the replaced file's handle answers STALE");
	}
	v3_rename(nfs, &work, "victim", &work, "victim", &r);
	expect(&r, NFS3_OK, "RENAME of a name onto itself succeeds");
	v3_lookup(nfs, &work, "victim", &r);
	expect(&r, NFS3_OK, "and leaves the file there");
	v3_rename(nfs, &work, "no-such-name", &work, "x", &r);
	expect(&r, NFS3ERR_NOENT, "RENAME of a missing name answers NOENT");
	v3_rename(nfs, &work, "victim", &work, "d2", &r);
	expect2(&r, NFS3ERR_ISDIR, NFS3ERR_EXIST, "RENAME of a file onto a directory is refused");
	v3_rename(nfs, &d2, "d1moved", &work, "victim", &r);
	expect2(&r, NFS3ERR_NOTDIR, NFS3ERR_EXIST, "RENAME of a directory onto a file is refused");
	v3_mkdir(nfs, &work, "d3", 0755, &r);
	quiet_ok(&r, "MKDIR d3");
	v3_rename(nfs, &work, "d3", &work, "d2", &r);
	expect2(&r, NFS3ERR_NOTEMPTY, NFS3ERR_EXIST,
		"RENAME of a directory onto a non-empty one is refused");
	v3_mkdir(nfs, &work, "d4", 0755, &r);
	quiet_ok(&r, "MKDIR d4");
	v3_rename(nfs, &work, "d3", &work, "d4", &r);
	expect(&r, NFS3_OK, "RENAME of a directory onto an empty one replaces it");
	v3_lookup(nfs, &work, "d3", &r);
	expect(&r, NFS3ERR_NOENT, "the renamed directory's old name is gone");
	reply_reset(&r);
}

/* ---- all: error statuses ------------------------------------------------------ */

static void test_errors(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	struct fh bad, empty, gone;

	v3_lookup(nfs, &file, "x", &r);
	expect(&r, NFS3ERR_NOTDIR, "LOOKUP in a regular file answers NOTDIR");
	v3_create(nfs, &file, "x", GUARDED, &sa, 0, &r);
	expect(&r, NFS3ERR_NOTDIR, "CREATE in a regular file answers NOTDIR");
	v3_readdir(nfs, &file, 0, NULL, 4096, &r);
	expect(&r, NFS3ERR_NOTDIR, "READDIR of a regular file answers NOTDIR");
	v3_rmdir(nfs, &work, "file", &r);
	expect(&r, NFS3ERR_NOTDIR, "RMDIR of a regular file answers NOTDIR");
	v3_remove(nfs, &work, "d2", &r);
	expect(&r, NFS3ERR_ISDIR, "REMOVE of a directory answers ISDIR");
	v3_read(nfs, &work, 0, 100, &r);
	expect2(&r, NFS3ERR_ISDIR, NFS3ERR_INVAL, "READ of a directory is refused");
	v3_write(nfs, &work, 0, "x", 1, FILE_SYNC, &r);
	expect2(&r, NFS3ERR_ISDIR, NFS3ERR_INVAL, "WRITE to a directory is refused");
	v3_rmdir(nfs, &work, "d2", &r);
	expect(&r, NFS3ERR_NOTEMPTY, "RMDIR of a non-empty directory answers NOTEMPTY");
	v3_remove(nfs, &work, "no-such-name", &r);
	expect(&r, NFS3ERR_NOENT, "REMOVE of a missing name answers NOENT");
	v3_rmdir(nfs, &work, "no-such-name", &r);
	expect(&r, NFS3ERR_NOENT, "RMDIR of a missing name answers NOENT");

	/* A removed directory's handle. */
	v3_mkdir(nfs, &work, "gone", 0755, &r);
	if (quiet_ok(&r, "MKDIR gone")) {
		if (!r.has_fh)
			v3_lookup(nfs, &work, "gone", &r);
		gone = r.fh;
		v3_rmdir(nfs, &work, "gone", &r);
		expect(&r, NFS3_OK, "RMDIR of an empty directory");
		v3_lookup(nfs, &gone, "x", &r);
		expect(&r, NFS3ERR_STALE, "LOOKUP in a removed directory answers STALE");
		v3_create(nfs, &gone, "x", GUARDED, &sa, 0, &r);
		expect(&r, NFS3ERR_STALE, "CREATE in a removed directory answers STALE");
		v3_readdir(nfs, &gone, 0, NULL, 4096, &r);
		expect(&r, NFS3ERR_STALE, "READDIR of a removed directory answers STALE");
	}

	/* Handles the server never made. */
	bad.len = 40;
	memset(bad.data, 0xa5, bad.len);
	v3_getattr(nfs, &bad, &r);
	expect(&r, NFS3ERR_BADHANDLE, "GETATTR of a garbage handle answers BADHANDLE");
	v3_lookup(nfs, &bad, "x", &r);
	expect(&r, NFS3ERR_BADHANDLE, "LOOKUP in a garbage handle answers BADHANDLE");
	empty.len = 0;
	v3_getattr(nfs, &empty, &r);
	expect(&r, NFS3ERR_BADHANDLE, "GETATTR of an empty handle answers BADHANDLE");
	bad.len = NFS3_FHSIZE;
	memset(bad.data, 0, bad.len);
	v3_getattr(nfs, &bad, &r);
	expect(&r, NFS3ERR_BADHANDLE, "GETATTR of a 64-byte zero handle answers BADHANDLE");
	reply_reset(&r);
}

/* ---- all: READDIR and READDIRPLUS over many entries -------------------------- */

#define MANY 300

static void many_name(char *out, size_t len, int i)
{
	/* Different lengths, so every XDR padding shows up. */
	snprintf(out, len, "entry-%03d-%.*s", i, i % 9, "xxxxxxxxx");
}

static int many_index(const char *name)
{
	int i;
	char expect_name[64];

	if (sscanf(name, "entry-%d-", &i) != 1 || i < 0 || i >= MANY)
		return -1;
	many_name(expect_name, sizeof(expect_name), i);
	return strcmp(expect_name, name) ? -1 : i;
}

/* Every name of the MANY once, fileids as made; "." and ".." at most once. */
static void check_walk(const char *what, const struct walk *w, const uint64_t *ids, int plus)
{
	int seen[MANY] = { 0 }, dups = 0, missing = 0, strange = 0, bad_id = 0, dots[2] = { 0 };
	int bad_attr = 0, no_fh = 0;

	for (size_t k = 0; k < w->n; k++) {
		const struct entry_copy *e = &w->e[k];
		int i = many_index(e->name);

		if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) {
			dots[e->name[1] == '.']++;
			continue;
		}
		if (i < 0) {
			strange++;
			continue;
		}
		if (seen[i]++)
			dups++;
		if (e->fileid != ids[i])
			bad_id++;
		if (plus) {
			if (!e->has_attr || e->attr.fileid != ids[i] || e->attr.type != NF3REG)
				bad_attr++;
			if (!e->has_fh)
				no_fh++;
		}
	}
	for (int i = 0; i < MANY; i++)
		missing += !seen[i];
	check(w->status == NFS3_OK && !w->stuck, "%s: walks to eof (%s)", what, walk_error(w));
	check(w->calls >= 3, "%s: needs several calls with cookies (%d)", what, w->calls);
	check(!missing && !dups && !strange && dots[0] <= 1 && dots[1] <= 1,
	      "%s: every one of %d names exactly once (%d missing, %d twice, %d unknown)", what,
	      MANY, missing, dups, strange);
	check(!bad_id, "%s: fileids match the files made (%d differ)", what, bad_id);
	check(!w->verf_changed, "%s: one cookie verifier for the whole walk", what);
	if (plus)
		check(!bad_attr && !no_fh, "%s: every entry has its attributes and handle "
		      "(%d bad attributes, %d without handle)", what, bad_attr, no_fh);
}

static void test_readdir(void)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	uint64_t ids[MANY];
	struct fh many;
	struct walk w1, w2;
	char name[64], bad_verf[NFS3_COOKIEVERFSIZE];
	int made = 0;

	v3_mkdir(nfs, &work, "many", 0755, &r);
	if (!quiet_ok(&r, "MKDIR many"))
		return;
	many = r.fh;
	for (int i = 0; i < MANY; i++) {
		many_name(name, sizeof(name), i);
		v3_create(nfs, &many, name, GUARDED, &sa, 0, &r);
		if (!quiet_ok(&r, "CREATE many/%s", name))
			break;
		ids[i] = r.attr.fileid;
		made++;
	}
	if (!check(made == MANY, "CREATE %d files in one directory", MANY))
		return;

	walk_dir(nfs, &many, 0, 1024, 0, &w1);
	check_walk("READDIR count 1024", &w1, ids, 0);
	walk_dir(nfs, &many, 1, 512, 4096, &w2);
	check_walk("READDIRPLUS dircount 512 maxcount 4096", &w2, ids, 1);
	for (size_t k = 0; k < w2.n; k++) {
		if (!w2.e[k].has_fh || is_dot(w2.e[k].name))
			continue;
		v3_getattr(nfs, &w2.e[k].fh, &r);
		check(r.status == NFS3_OK && r.attr.fileid == w2.e[k].fileid,
		      "a READDIRPLUS handle works for GETATTR");
		break;
	}

	/* Resume from the middle with a cookie and the verifier. */
	if (w1.n > 110 && w1.status == NFS3_OK) {
		v3_readdir(nfs, &many, w1.e[100].cookie, w1.verf, 1024, &r);
		if (expect(&r, NFS3_OK, "READDIR from the 101st entry's cookie"))
			check(r.nentries > 0 && !strcmp(r.entries[0].name, w1.e[101].name),
			      "READDIR resumes right after that entry (\"%s\", want \"%s\")",
			      r.nentries ? r.entries[0].name : "", w1.e[101].name);
		memcpy(bad_verf, w1.verf, sizeof(bad_verf));
		for (size_t i = 0; i < sizeof(bad_verf); i++)
			bad_verf[i] ^= (char)0xff;
		v3_readdir(nfs, &many, w1.e[100].cookie, bad_verf, 1024, &r);
		expect(&r, NFS3ERR_BAD_COOKIE,
		       "READDIR with a cookie and a stale verifier answers BAD_COOKIE");
		v3_readdirplus(nfs, &many, w1.e[100].cookie, bad_verf, 512, 4096, &r);
		expect(&r, NFS3ERR_BAD_COOKIE,
		       "READDIRPLUS with a cookie and a stale verifier answers BAD_COOKIE");
	}
	/* 40 bytes cannot hold even an empty READDIR3resok (about 100). */
	v3_readdir(nfs, &many, 0, NULL, 40, &r);
	if (!expect(&r, NFS3ERR_TOOSMALL,
		    "READDIR with a count too small for any reply answers TOOSMALL"))
		printf("     (that READDIR returned %zu entries, eof %d)\n", r.nentries, r.eof);
	walk_free(&w1);
	walk_free(&w2);

	/* Removing them all leaves an empty directory that RMDIR takes. */
	made = 0;
	for (int i = 0; i < MANY; i++) {
		many_name(name, sizeof(name), i);
		v3_remove(nfs, &many, name, &r);
		made += r.rpc_status == RPC_STATUS_SUCCESS && r.status == NFS3_OK;
	}
	check(made == MANY, "REMOVE all %d files (%d)", MANY, made);
	walk_dir(nfs, &many, 0, 4096, 0, &w1);
	{
		int others = 0;

		for (size_t k = 0; k < w1.n; k++)
			others += !is_dot(w1.e[k].name);
		check(w1.status == NFS3_OK && others == 0, "READDIR of the emptied directory (%d left)",
		      others);
	}
	walk_free(&w1);
	v3_rmdir(nfs, &work, "many", &r);
	expect(&r, NFS3_OK, "RMDIR of the emptied directory");
	v3_getattr(nfs, &many, &r);
	expect(&r, NFS3ERR_STALE, "the removed directory's handle answers STALE");
	reply_reset(&r);
}

static int mode_all(void)
{
	struct reply r = { 0 };

	test_mount();
	test_server_info();
	test_mkdir_lookup();
	test_create_write_read();
	test_setattr();
	test_create_modes();
	test_names();
	test_links();
	test_rename();
	test_errors();
	test_readdir();

	remove_tree(&root, work_name, 0);
	v3_lookup(nfs, &root, work_name, &r);
	expect(&r, NFS3ERR_NOENT, "the work directory and everything in it are removed");
	v3_getattr(nfs, &work, &r);
	expect(&r, NFS3ERR_STALE, "the removed work directory's handle answers STALE");
	reply_reset(&r);
	return summary();
}

/* ---- main -------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: nfs_api [-m MOUNTPORT] [-e EXPORT] MODE HOST PORT [ARG...]\n"
		"  all | save-handles FILE | check-handles FILE | lck-race N | readonly |\n"
		"  squash ANONUID ANONGID [all] | put NAME LOCALFILE | chmod MODE\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode;
	int opt;

	mount_port = -1;
	while ((opt = getopt(argc, argv, "+m:e:")) != -1) {
		switch (opt) {
		case 'm':
			mount_port = atoi(optarg);
			break;
		case 'e':
			export_path = optarg;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 3)
		return usage();
	mode = argv[optind];
	host = argv[optind + 1];
	nfs_port = atoi(argv[optind + 2]);
	if (mount_port < 0)
		mount_port = nfs_port;
	argv += optind + 3;
	argc -= optind + 3;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(mode, "all") && argc == 0) {
		connect_both();
		return mode_all();
	}
	if (!strcmp(mode, "save-handles") && argc == 1)
		return mode_save_handles(argv[0]);
	if (!strcmp(mode, "check-handles") && argc == 1)
		return mode_check_handles(argv[0]);
	if (!strcmp(mode, "lck-race") && argc == 1)
		return mode_lck_race(atoi(argv[0]));
	if (!strcmp(mode, "readonly") && argc == 0)
		return mode_readonly();
	if (!strcmp(mode, "chmod") && argc == 1)
		return mode_chmod(argv[0]);
	if (!strcmp(mode, "rm") && argc == 1)
		return mode_rm(argv[0]);
	if (!strcmp(mode, "fill") && argc == 1)
		return mode_fill(argv[0]);
	if (!strcmp(mode, "put") && argc == 2)
		return mode_put(argv[0], argv[1]);
	if (!strcmp(mode, "squash") && (argc == 2 || (argc == 3 && !strcmp(argv[2], "all"))))
		return mode_squash((uint32_t)strtoul(argv[0], NULL, 10),
				   (uint32_t)strtoul(argv[1], NULL, 10), argc == 3);
	return usage();
}
