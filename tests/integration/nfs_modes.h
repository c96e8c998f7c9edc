/*
 * nfs_modes.h - nfs_api's modes other than "all": handles across a
 * restart, the .lck race, read-only and squashing exports, and the small
 * put/fill/rm/chmod helpers nfs_clients.sh uses.  Included once, by nfs_api.c.
 */
#ifndef SLATE_TESTS_NFS_MODES_H
#define SLATE_TESTS_NFS_MODES_H

#include "tests/integration/nfs_checks.h"

/* ---- save-handles / check-handles ---------------------------------------------- */

#define PERSIST_BYTES (3u * MiB)
#define PERSIST_SEED 7

static int mode_save_handles(const char *path)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	char name[64], line[NFS3_FHSIZE * 2 + 1];
	struct fh dir, f, link;
	uint8_t *buf = xmalloc(MiB);
	char verf[NFS3_WRITEVERFSIZE];
	uint64_t f_id = 0, dir_id = 0;
	FILE *out;

	connect_both();
	mount_root();
	make_workdir("persist", name, sizeof(name), &dir);
	v3_getattr(nfs, &dir, &r);
	dir_id = r.attr.fileid;
	v3_create(nfs, &dir, "data", GUARDED, &sa, 0, &r);
	if (!expect(&r, NFS3_OK, "CREATE the file to keep"))
		return summary();
	if (!r.has_fh)
		v3_lookup(nfs, &dir, "data", &r);
	f = r.fh;
	f_id = r.attr.fileid;
	/* 1 MiB FILE_SYNC, then 2 MiB UNSTABLE made durable by COMMIT. */
	pattern(PERSIST_SEED, 0, buf, MiB);
	v3_write(nfs, &f, 0, buf, MiB, FILE_SYNC, &r);
	expect(&r, NFS3_OK, "WRITE FILE_SYNC the first MiB");
	memcpy(verf, r.verf, sizeof(verf));
	for (uint32_t i = 1; i < PERSIST_BYTES / MiB; i++) {
		pattern(PERSIST_SEED, (uint64_t)i * MiB, buf, MiB);
		v3_write(nfs, &f, (uint64_t)i * MiB, buf, MiB, UNSTABLE, &r);
		if (expect(&r, NFS3_OK, "WRITE UNSTABLE MiB %u", i + 1))
			check(!memcmp(r.verf, verf, sizeof(verf)),
			      "WRITE UNSTABLE: the same verifier as FILE_SYNC");
	}
	v3_commit(nfs, &f, 0, 0, &r);
	if (expect(&r, NFS3_OK, "COMMIT"))
		check(!memcmp(r.verf, verf, sizeof(verf)), "COMMIT: the verifier of the writes");
	v3_symlink(nfs, &dir, "data.link", "data", &r);
	if (!expect(&r, NFS3_OK, "SYMLINK data.link -> data"))
		return summary();
	if (!r.has_fh)
		v3_lookup(nfs, &dir, "data.link", &r);
	link = r.fh;

	out = fopen(path, "w");
	if (!check(out != NULL, "write the handles to %s", path))
		return summary();
	fprintf(out, "dirname %s\n", name);
	hex(line, root.data, root.len);
	fprintf(out, "root %s\n", line);
	hex(line, dir.data, dir.len);
	fprintf(out, "dir %s\n", line);
	hex(line, f.data, f.len);
	fprintf(out, "file %s\n", line);
	hex(line, link.data, link.len);
	fprintf(out, "link %s\n", line);
	hex(line, verf, sizeof(verf));
	fprintf(out, "verf %s\n", line);
	fprintf(out, "dirid %" PRIu64 "\nfileid %" PRIu64 "\n", dir_id, f_id);
	check(fclose(out) == 0, "handles saved");
	free(buf);
	reply_reset(&r);
	return summary();
}

static int mode_check_handles(const char *path)
{
	struct reply r = { 0 };
	char key[32], val[300], dirname[128] = "";
	struct fh saved_root = { 0 }, dir = { 0 }, f = { 0 }, link = { 0 };
	char verf[NFS3_WRITEVERFSIZE] = { 0 };
	uint64_t dir_id = 0, f_id = 0;
	uint8_t *want = xmalloc(MiB);
	size_t len;
	int bad = 0;
	FILE *in = fopen(path, "r");

	if (!check(in != NULL, "read the saved handles from %s", path))
		return summary();
	while (fscanf(in, "%31s %299s", key, val) == 2) {
		size_t l = 0;

		if (!strcmp(key, "dirname"))
			snprintf(dirname, sizeof(dirname), "%.127s", val);
		else if (!strcmp(key, "root"))
			bad |= unhex(val, saved_root.data, NFS3_FHSIZE, &l), saved_root.len = (uint32_t)l;
		else if (!strcmp(key, "dir"))
			bad |= unhex(val, dir.data, NFS3_FHSIZE, &l), dir.len = (uint32_t)l;
		else if (!strcmp(key, "file"))
			bad |= unhex(val, f.data, NFS3_FHSIZE, &l), f.len = (uint32_t)l;
		else if (!strcmp(key, "link"))
			bad |= unhex(val, link.data, NFS3_FHSIZE, &l), link.len = (uint32_t)l;
		else if (!strcmp(key, "verf"))
			bad |= unhex(val, verf, sizeof(verf), &len);
		else if (!strcmp(key, "dirid"))
			dir_id = strtoull(val, NULL, 10);
		else if (!strcmp(key, "fileid"))
			f_id = strtoull(val, NULL, 10);
	}
	fclose(in);
	if (!check(!bad && f.len && dir.len && link.len && *dirname, "the saved handles parse"))
		return summary();

	connect_both();
	mount_root();
	check(fh_equal(&root, &saved_root), "MNT gives the same root handle as before");
	v3_getattr(nfs, &dir, &r);
	if (expect(&r, NFS3_OK, "GETATTR with the saved directory handle"))
		check(r.attr.type == NF3DIR && r.attr.fileid == dir_id,
		      "the saved directory handle names the same directory");
	v3_getattr(nfs, &f, &r);
	if (expect(&r, NFS3_OK, "GETATTR with the saved file handle"))
		check(r.attr.type == NF3REG && r.attr.fileid == f_id &&
			      r.attr.size == PERSIST_BYTES,
		      "the saved file handle names the same file, 3 MiB");
	for (uint32_t i = 0; i < PERSIST_BYTES / MiB; i++) {
		pattern(PERSIST_SEED, (uint64_t)i * MiB, want, MiB);
		v3_read(nfs, &f, (uint64_t)i * MiB, MiB, &r);
		if (expect(&r, NFS3_OK, "READ MiB %u through the saved handle", i + 1))
			check(r.count == MiB && !memcmp(r.data, want, MiB),
			      "MiB %u holds what was written (%s)", i + 1,
			      i ? "UNSTABLE + COMMIT" : "FILE_SYNC");
	}
	v3_readlink(nfs, &link, &r);
	if (expect(&r, NFS3_OK, "READLINK through the saved symlink handle"))
		check(r.path && !strcmp(r.path, "data"), "the symlink still says \"data\"");
	v3_lookup(nfs, &root, dirname, &r);
	if (expect(&r, NFS3_OK, "LOOKUP the directory by name"))
		check(r.attr.fileid == dir_id, "by name: the same fileid");
	v3_lookup(nfs, &dir, "data", &r);
	if (expect(&r, NFS3_OK, "LOOKUP the file by name"))
		check(r.attr.fileid == f_id, "by name: the same fileid");

	v3_write(nfs, &f, PERSIST_BYTES, "tail", 4, UNSTABLE, &r);
	if (expect(&r, NFS3_OK, "WRITE UNSTABLE after the restart")) {
		char now_verf[NFS3_WRITEVERFSIZE];

		memcpy(now_verf, r.verf, sizeof(now_verf));
		check(memcmp(now_verf, verf, sizeof(verf)) != 0,
		      "the write verifier changed across the restart");
		v3_commit(nfs, &f, 0, 0, &r);
		if (expect(&r, NFS3_OK, "COMMIT after the restart"))
			check(!memcmp(r.verf, now_verf, sizeof(now_verf)),
			      "COMMIT: the verifier of this server instance's writes");
	}
	remove_tree(&root, dirname, 0);
	v3_getattr(nfs, &f, &r);
	expect(&r, NFS3ERR_STALE, "after removing it all, the saved file handle answers STALE");
	free(want);
	reply_reset(&r);
	return summary();
}

/* ---- lck-race ------------------------------------------------------------------ */

#define LCK_ROUNDS 40
#define LCK_MAX 32

/* The first reply among n that is neither OK nor want, for messages. */
static const char *odd_reply(const struct reply *rs, int n, int want)
{
	static char why[300];

	for (int i = 0; i < n; i++) {
		if (rs[i].rpc_status != RPC_STATUS_SUCCESS) {
			snprintf(why, sizeof(why), "; connection %d: RPC error %s", i, rs[i].error);
			return why;
		}
		if (rs[i].status != NFS3_OK && rs[i].status != want) {
			snprintf(why, sizeof(why), "; connection %d: %s", i, st_name(rs[i].status));
			return why;
		}
	}
	return "";
}

static int mode_lck_race(int n)
{
	struct client *cs[LCK_MAX];
	struct reply *rs[LCK_MAX], reps[LCK_MAX], r = { 0 };
	char dirname[64], name[64], why[256], first_bad[3][400] = { "", "", "" };
	char kept[LCK_ROUNDS][64];
	int nkept = 0, bad_create = 0, bad_read = 0, bad_remove = 0;
	struct fh dir;
	struct walk w;
	sattr3 sa = sa_mode(0644);

	if (n < 2 || n > LCK_MAX) {
		fprintf(stderr, "lck-race: N must be 2..%d\n", LCK_MAX);
		return 2;
	}
	connect_both();
	mount_root();
	make_workdir("lck", dirname, sizeof(dirname), &dir);
	memset(reps, 0, sizeof(reps));
	for (int i = 0; i < n; i++) {
		cs[i] = client_connect(host, nfs_port, NFS_PROGRAM, NFS_V3, "NFS", why, sizeof(why));
		if (!cs[i])
			fatal("connection %d of %d: %s", i + 1, n, why);
		cs[i]->queue_only = 1;
		rs[i] = &reps[i];
	}
	check(1, "lck-race: %d connections open", n);

	for (int round = 0; round < LCK_ROUNDS; round++) {
		int winner = -1, wins = 0, exists = 0, kind = round % 3;
		char owner[24];

		snprintf(name, sizeof(name), ".lck-%08x%08x", (unsigned)getpid(), (unsigned)round);
		/* kind 0: all EXCLUSIVE; 1: all GUARDED; 2: half and half. */
		for (int i = 0; i < n; i++) {
			int how = kind == 0 ? EXCLUSIVE : kind == 1 ? GUARDED
							: (i % 2 ? GUARDED : EXCLUSIVE);

			v3_create(cs[i], &dir, name, how, &sa, ((uint64_t)round << 32) | (uint64_t)(i + 1),
				  rs[i]);
		}
		wait_all(cs, n, rs, n);
		for (int i = 0; i < n; i++) {
			if (reps[i].rpc_status == RPC_STATUS_SUCCESS && reps[i].status == NFS3_OK) {
				wins++;
				winner = i;
			} else if (reps[i].rpc_status == RPC_STATUS_SUCCESS &&
				   reps[i].status == NFS3ERR_EXIST) {
				exists++;
			}
		}
		if (wins != 1 || exists != n - 1) {
			if (!bad_create++)
				snprintf(first_bad[0], sizeof(first_bad[0]),
					 "round %d: %d won, %d got EXIST%s", round, wins, exists,
					 odd_reply(reps, n, NFS3ERR_EXIST));
			if (wins != 1)
				continue;
		}

		/* The winner writes its id; everyone reads the same. */
		{
			struct client *wc = cs[winner];
			struct fh lf;

			wc->queue_only = 0;
			if (reps[winner].has_fh) {
				lf = reps[winner].fh;
			} else {
				v3_lookup(wc, &dir, name, &r);
				lf = r.fh;
			}
			snprintf(owner, sizeof(owner), "owner=%02d", winner);
			v3_write(wc, &lf, 0, owner, 8, FILE_SYNC, &r);
			wc->queue_only = 1;
			for (int i = 0; i < n; i++)
				v3_read(cs[i], &lf, 0, 64, rs[i]);
			wait_all(cs, n, rs, n);
			for (int i = 0; i < n; i++)
				if (reps[i].status != NFS3_OK || reps[i].count != 8 ||
				    memcmp(reps[i].data, owner, 8)) {
					if (!bad_read++)
						snprintf(first_bad[1], sizeof(first_bad[1]),
							 "round %d: connection %d read %s", round, i,
							 st_name(reps[i].status));
				}
		}

		/* Every fourth lock stays; the others are removed by all at once. */
		if (round % 4 == 3) {
			snprintf(kept[nkept++], sizeof(kept[0]), "%s", name);
			continue;
		}
		for (int i = 0; i < n; i++)
			v3_remove(cs[i], &dir, name, rs[i]);
		wait_all(cs, n, rs, n);
		wins = exists = 0;
		for (int i = 0; i < n; i++) {
			if (reps[i].rpc_status == RPC_STATUS_SUCCESS && reps[i].status == NFS3_OK)
				wins++;
			else if (reps[i].rpc_status == RPC_STATUS_SUCCESS &&
				 reps[i].status == NFS3ERR_NOENT)
				exists++;
		}
		if (wins != 1 || exists != n - 1) {
			if (!bad_remove++)
				snprintf(first_bad[2], sizeof(first_bad[2]),
					 "round %d: %d removed, %d got NOENT%s", round, wins, exists,
					 odd_reply(reps, n, NFS3ERR_NOENT));
		}
	}
	check(!bad_create,
	      "lck-race: in each of %d rounds exactly one of %d concurrent creators won, the "
	      "others got EXIST (%d bad rounds%s%s)",
	      LCK_ROUNDS, n, bad_create, bad_create ? "; first " : "", first_bad[0]);
	check(!bad_read, "lck-race: every connection read the winner's id (%d bad%s%s)", bad_read,
	      bad_read ? "; first " : "", first_bad[1]);
	check(!bad_remove,
	      "lck-race: exactly one of %d concurrent REMOVEs won, the others got NOENT (%d bad "
	      "rounds%s%s)",
	      n, bad_remove, bad_remove ? "; first " : "", first_bad[2]);

	/* The directory holds exactly the locks kept. */
	walk_dir(nfs, &dir, 0, 4096, 0, &w);
	{
		int found = 0, others = 0;

		for (size_t k = 0; k < w.n; k++) {
			int hit = 0;

			if (is_dot(w.e[k].name))
				continue;
			for (int i = 0; i < nkept; i++)
				hit |= !strcmp(kept[i], w.e[k].name);
			if (hit)
				found++;
			else
				others++;
		}
		check(w.status == NFS3_OK && found == nkept && others == 0,
		      "lck-race: the directory holds exactly the %d locks kept (%d found, %d others)",
		      nkept, found, others);
	}
	walk_free(&w);
	for (int i = 0; i < nkept; i++) {
		v3_remove(nfs, &dir, kept[i], &r);
		quiet_ok(&r, "REMOVE %s", kept[i]);
	}
	v3_rmdir(nfs, &root, dirname, &r);
	expect(&r, NFS3_OK, "lck-race: the emptied directory is removed");
	for (int i = 0; i < n; i++)
		client_close(cs[i]);
	reply_reset(&r);
	return summary();
}

/* ---- readonly ------------------------------------------------------------------ */

static int refused_ro(const struct reply *r)
{
	return r->rpc_status == RPC_STATUS_SUCCESS &&
	       (r->status == NFS3ERR_ROFS || r->status == NFS3ERR_ACCES);
}

static void expect_ro(const struct reply *r, const char *what)
{
	check(refused_ro(r), "read-only: %s answers ROFS or ACCES (%s)", what,
	      r->rpc_status ? r->error : st_name(r->status));
}

static int mode_readonly(void)
{
	struct reply r = { 0 };
	struct walk before, after;
	struct fh f = { 0 };
	fattr3 f_attr;
	const char *fname = NULL;
	sattr3 sa;
	int same = 1;

	connect_both();
	mount_root();
	check(1, "MNT of the read-only export %s", export_path);
	walk_dir(nfs, &root, 1, 4096, 32768, &before);
	check(before.status == NFS3_OK, "READDIRPLUS of the read-only export (%s)",
	      walk_error(&before));
	for (size_t k = 0; k < before.n; k++) {
		if (before.e[k].has_attr && before.e[k].attr.type == NF3REG && before.e[k].has_fh) {
			fname = before.e[k].name;
			f = before.e[k].fh;
			break;
		}
	}
	if (!check(fname != NULL, "the read-only export holds a regular file to try"))
		return summary();
	v3_getattr(nfs, &f, &r);
	f_attr = r.attr;
	v3_read(nfs, &f, 0, 4096, &r);
	expect(&r, NFS3_OK, "read-only: READ works");
	v3_access(nfs, &f, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND, &r);
	if (expect(&r, NFS3_OK, "read-only: ACCESS on a file"))
		check((r.access & ACCESS3_READ) && !(r.access & (ACCESS3_MODIFY | ACCESS3_EXTEND)),
		      "read-only: ACCESS grants READ, not MODIFY or EXTEND (0x%x)", r.access);
	v3_access(nfs, &root, ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE,
		  &r);
	if (expect(&r, NFS3_OK, "read-only: ACCESS on the root"))
		check((r.access & ACCESS3_LOOKUP) &&
			      !(r.access & (ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE)),
		      "read-only: ACCESS grants LOOKUP, not MODIFY, EXTEND or DELETE (0x%x)",
		      r.access);
	v3_fsinfo(nfs, &root, &r);
	expect(&r, NFS3_OK, "read-only: FSINFO works");

	sa = sa_mode(0600);
	v3_setattr(nfs, &f, &sa, NULL, &r);
	expect_ro(&r, "SETATTR mode");
	sa = sa_size(0);
	v3_setattr(nfs, &f, &sa, NULL, &r);
	expect_ro(&r, "SETATTR size");
	v3_write(nfs, &f, 0, "nope", 4, FILE_SYNC, &r);
	expect_ro(&r, "WRITE FILE_SYNC");
	v3_write(nfs, &f, 0, "nope", 4, UNSTABLE, &r);
	expect_ro(&r, "WRITE UNSTABLE");
	sa = sa_mode(0644);
	v3_create(nfs, &root, "nfs_api-ro-probe", UNCHECKED, &sa, 0, &r);
	expect_ro(&r, "CREATE UNCHECKED");
	v3_create(nfs, &root, "nfs_api-ro-probe", GUARDED, &sa, 0, &r);
	expect_ro(&r, "CREATE GUARDED");
	v3_create(nfs, &root, "nfs_api-ro-probe", EXCLUSIVE, NULL, 42, &r);
	expect_ro(&r, "CREATE EXCLUSIVE");
	v3_mkdir(nfs, &root, "nfs_api-ro-probe", 0755, &r);
	expect_ro(&r, "MKDIR");
	v3_symlink(nfs, &root, "nfs_api-ro-probe", "x", &r);
	expect_ro(&r, "SYMLINK");
	v3_mknod(nfs, &root, "nfs_api-ro-probe", NF3FIFO, 0644, &r);
	expect_ro(&r, "MKNOD FIFO");
	v3_link(nfs, &f, &root, "nfs_api-ro-probe", &r);
	expect_ro(&r, "LINK");
	v3_rename(nfs, &root, fname, &root, "nfs_api-ro-probe", &r);
	expect_ro(&r, "RENAME");
	v3_remove(nfs, &root, fname, &r);
	expect_ro(&r, "REMOVE");
	v3_rmdir(nfs, &root, "nfs_api-ro-probe", &r);
	expect_ro(&r, "RMDIR");

	walk_dir(nfs, &root, 1, 4096, 32768, &after);
	same = after.status == NFS3_OK && after.n == before.n;
	for (size_t k = 0; same && k < after.n; k++)
		same = !strcmp(after.e[k].name, before.e[k].name);
	check(same, "read-only: the export lists the same names afterwards");
	v3_getattr(nfs, &f, &r);
	check(r.status == NFS3_OK && r.attr.size == f_attr.size && r.attr.mode == f_attr.mode &&
		      t_ns(r.attr.mtime) == t_ns(f_attr.mtime),
	      "read-only: the file's size, mode and mtime did not change");
	walk_free(&before);
	walk_free(&after);
	reply_reset(&r);
	return summary();
}

/* ---- squash ---------------------------------------------------------------------- */

/* May uid:gid create in a directory with these attributes (POSIX w+x)? */
static int may_create(const fattr3 *dir, uint32_t uid, uint32_t gid)
{
	uint32_t m = dir->mode;

	if (uid == 0)
		return 1;
	if (uid == dir->uid)
		return (m & 0300) == 0300;
	if (gid == dir->gid)
		return (m & 0030) == 0030;
	return (m & 0003) == 0003;
}

static void squash_case(uint32_t uid, uint32_t gid, uint32_t want_uid, uint32_t want_gid)
{
	struct reply r = { 0 };
	char name[64];
	sattr3 sa = sa_mode(0644);

	rpc_set_uid(nfs->rpc, (int)uid);
	rpc_set_gid(nfs->rpc, (int)gid);
	snprintf(name, sizeof(name), "nfs_api-squash-%u.%d", uid, (int)getpid());
	v3_create(nfs, &root, name, GUARDED, &sa, 0, &r);
	if (may_create(&root_attr, want_uid, want_gid)) {
		if (expect(&r, NFS3_OK, "as %u:%u, CREATE in the export root (mode %04o, %u:%u)",
			   uid, gid, root_attr.mode & 07777, root_attr.uid, root_attr.gid))
			check(r.has_attr && r.attr.uid == want_uid && r.attr.gid == want_gid,
			      "as %u:%u, the new file belongs to %u:%u (%u:%u)", uid, gid, want_uid,
			      want_gid, r.attr.uid, r.attr.gid);
		v3_remove(nfs, &root, name, &r);
		quiet_ok(&r, "REMOVE %s", name);
	} else {
		expect2(&r, NFS3ERR_ACCES, NFS3ERR_PERM,
			"as %u:%u, acting as %u:%u, CREATE in the export root (mode %04o, %u:%u) "
			"is refused",
			uid, gid, want_uid, want_gid, root_attr.mode & 07777, root_attr.uid,
			root_attr.gid);
	}
	reply_reset(&r);
}

static int mode_squash(uint32_t anonuid, uint32_t anongid, int all)
{
	connect_both();
	mount_root();
	squash_case(0, 0, anonuid, anongid);
	squash_case(4321, 4321, all ? anonuid : 4321, all ? anongid : 4321);
	rpc_set_uid(nfs->rpc, (int)getuid());
	rpc_set_gid(nfs->rpc, (int)getgid());
	return summary();
}

/* ---- put ------------------------------------------------------------------------------ */

static int mode_put(const char *name, const char *local)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	uint8_t *buf = xmalloc(MiB);
	uint64_t off = 0, id;
	struct fh f;
	size_t n;
	FILE *in = fopen(local, "rb");
	int ok = 1;

	if (!in) {
		fail("put: open %s (%s)", local, strerror(errno));
		return summary();
	}
	connect_both();
	mount_root();
	v3_lookup(nfs, &root, name, &r);
	if (r.rpc_status == RPC_STATUS_SUCCESS && r.status == NFS3ERR_NOENT)
		v3_create(nfs, &root, name, GUARDED, &sa, 0, &r);
	if (!quiet_ok(&r, "put: LOOKUP or CREATE %s", name))
		return summary();
	if (!r.has_fh)
		v3_lookup(nfs, &root, name, &r);
	f = r.fh;
	v3_getattr(nfs, &f, &r);
	id = r.attr.fileid;
	sa = sa_size(0);
	v3_setattr(nfs, &f, &sa, NULL, &r);
	ok &= quiet_ok(&r, "put: SETATTR size 0");
	while (ok && (n = fread(buf, 1, MiB, in)) > 0) {
		v3_write(nfs, &f, off, buf, (uint32_t)n, FILE_SYNC, &r);
		ok &= quiet_ok(&r, "put: WRITE at %" PRIu64, off) && r.count == n;
		off += n;
	}
	fclose(in);
	v3_getattr(nfs, &f, &r);
	check(ok && r.status == NFS3_OK && r.attr.size == off && r.attr.fileid == id,
	      "put: %s rewritten in place with %" PRIu64 " bytes of %s", name, off, local);
	free(buf);
	reply_reset(&r);
	return summary();
}

/* fill NAME: on a pool about to be full, create NAME and write 1 MiB
 * pieces FILE_SYNC until a WRITE fails: it must fail with NFS3ERR_NOSPC,
 * and the file must keep every byte acknowledged before. */
static int mode_fill(const char *name)
{
	struct reply r = { 0 };
	sattr3 sa = sa_mode(0644);
	uint8_t *buf = xmalloc(MiB);
	uint64_t off = 0;
	connect_both();
	mount_root();
	v3_create(nfs, &root, name, GUARDED, &sa, 0, &r);
	if (!quiet_ok(&r, "fill: CREATE %s", name) || !r.has_fh)
		return free(buf), summary();
	struct fh f = r.fh;
	for (int i = 0; i < 1024; i++) { /* 1 GiB at most */
		memset(buf, i + 1, MiB);
		v3_write(nfs, &f, off, buf, MiB, FILE_SYNC, &r);
		if (r.rpc_status != RPC_STATUS_SUCCESS || r.status != NFS3_OK)
			break;
		off += MiB;
	}
	expect(&r, NFS3ERR_NOSPC, "fill: the WRITE past a full pool answers NOSPC");
	v3_getattr(nfs, &f, &r);
	check(r.status == NFS3_OK && r.attr.size == off,
	      "fill: the file keeps the %" PRIu64 " bytes written before", off);
	free(buf);
	reply_reset(&r);
	return summary();
}

/* rm NAME: REMOVE NAME from the export root, answered NFS3_OK. */
static int mode_rm(const char *name)
{
	struct reply r = { 0 };
	connect_both();
	mount_root();
	v3_remove(nfs, &root, name, &r);
	expect(&r, NFS3_OK, "REMOVE %s from %s", name, export_path);
	reply_reset(&r);
	return summary();
}

static int mode_chmod(const char *mode_text)
{
	struct reply r = { 0 };
	int mode = (int)strtol(mode_text, NULL, 8);
	sattr3 sa = sa_mode(mode);

	connect_both();
	mount_root();
	v3_setattr(nfs, &root, &sa, NULL, &r);
	if (expect(&r, NFS3_OK, "SETATTR mode %04o on the root of %s", mode, export_path))
		check_attr("the export root has the new mode", r.has_attr, &r.attr, NF3DIR, mode,
			   -1, -1);
	reply_reset(&r);
	return summary();
}

#endif
