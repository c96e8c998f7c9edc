/*
 * store_nfs.c - slate-store's NFS commands: exports and their client rules
 * (target/nfs's export records), and per-file snapshots, rollback and
 * clones in the pool's file namespace, named by their namespace paths.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store_tool.h"
#include "target/nfs/nfs.h"

int cmd_nfs_export_add(struct tool *t)
{
	struct nfs_client_rule rules[NFS_EXPORT_MAX_CLIENTS];
	char why[256];
	int nrules = t->nargs - 1;
	if (nrules > (int)NFS_EXPORT_MAX_CLIENTS)
		return usage_error("at most %u clients per export", NFS_EXPORT_MAX_CLIENTS);
	for (int i = 0; i < nrules; i++)
		if (nfs_client_rule_parse(t->args[1 + i], &rules[i], why, sizeof(why)) < 0)
			return usage_error("%s", why);
	int rc = nfs_export_put(t->cs, t->args[0], rules, (uint32_t)nrules, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "slate-store: %s\n", why);
		return EXIT_FAIL;
	}
	printf("export %s saved\n", t->args[0]);
	return 0;
}

int cmd_nfs_export_remove(struct tool *t)
{
	int rc = nfs_export_remove(t->cs, t->args[0]);
	if (rc < 0)
		return fail(rc, NULL, "removing export %s", t->args[0]);
	printf("export %s removed\n", t->args[0]);
	return 0;
}

int cmd_nfs_export_list(struct tool *t)
{
	struct nfs_export *list;
	size_t count;
	int rc = nfs_export_list(t->cs, &list, &count);
	if (rc < 0)
		return fail(rc, NULL, "reading the exports");
	printf("%-4s %-24s %s\n", "ID", "PATH", "CLIENTS");
	for (size_t i = 0; i < count; i++) {
		printf("%-4" PRIu32 " %-24s", list[i].id, list[i].path);
		for (uint32_t r = 0; r < list[i].nrules; r++) {
			char rule[128];
			nfs_client_rule_format(&list[i].rules[r], rule, sizeof(rule));
			printf(" %s", rule);
		}
		printf("\n");
	}
	free(list);
	return 0;
}

/* The inode of a namespace path; a message when there is none. */
static int file_arg(struct tool *t, const char *path, struct cowstore_ns_attr *attr)
{
	int rc = nfs_path_lookup(t->cs, path, attr);
	if (rc < 0)
		return fail(rc, NULL, "finding %s", path);
	return 0;
}

int cmd_file_snapshot(struct tool *t)
{
	struct cowstore_ns_attr attr;
	struct cowstore_ns_snapshot snap;
	struct cowstore_err err = { "" };
	int status = file_arg(t, t->args[0], &attr);
	if (status)
		return status;
	int rc = cowstore_ns_snapshot_create(t->cs, attr.ino, t->args[1], &snap, &err);
	if (rc < 0)
		return fail(rc, &err, "snapshotting %s", t->args[0]);
	printf("snapshot %s of %s created (%" PRIu64 " bytes)\n", t->args[1], t->args[0],
	       snap.size_bytes);
	return 0;
}

int cmd_file_snapshots(struct tool *t)
{
	struct cowstore_ns_attr attr;
	struct cowstore_ns_snapshot *list;
	size_t count;
	int status = file_arg(t, t->args[0], &attr);
	if (status)
		return status;
	int rc = cowstore_ns_snapshot_list(t->cs, attr.ino, &list, &count);
	if (rc < 0)
		return fail(rc, NULL, "listing the snapshots of %s", t->args[0]);
	printf("%-24s %-20s %-24s %s\n", "NAME", "CREATED", "SIZE", "UNIQUE");
	for (size_t i = 0; i < count; i++)
		printf("%-24s %-20s %-24s %s\n", list[i].name, time_text(list[i].created_unix_ns).s,
		       size_text(list[i].size_bytes).s, size_text(list[i].unique_bytes).s);
	free(list);
	return 0;
}

/* PATH NAME: call fn on snapshot NAME of the file at PATH; what says what
 * it does ("rolled back to", "deleted") in the messages. */
static int file_snapshot_call(struct tool *t,
			      int (*fn)(struct cowstore *, uint64_t, const char *,
					struct cowstore_err *),
			      const char *what)
{
	struct cowstore_ns_attr attr;
	struct cowstore_err err = { "" };
	int status = file_arg(t, t->args[0], &attr);
	if (status)
		return status;
	int rc = fn(t->cs, attr.ino, t->args[1], &err);
	if (rc < 0)
		return fail(rc, &err, "%s: snapshot %s not %s", t->args[0], t->args[1], what);
	printf("%s: snapshot %s %s\n", t->args[0], t->args[1], what);
	return 0;
}

int cmd_file_rollback(struct tool *t)
{
	return file_snapshot_call(t, cowstore_ns_snapshot_rollback, "rolled back to");
}

int cmd_file_snapshot_delete(struct tool *t)
{
	return file_snapshot_call(t, cowstore_ns_snapshot_delete, "deleted");
}

int cmd_file_clone(struct tool *t)
{
	struct cowstore_ns_attr src, dir;
	struct cowstore_err err = { "" };
	char parent[NFS_EXPORT_PATH_MAX + 1];
	const char *slash = strrchr(t->args[1], '/');
	if (!slash || slash == t->args[1] + strlen(t->args[1]) - 1 ||
	    (size_t)(slash - t->args[1]) > NFS_EXPORT_PATH_MAX)
		return usage_error("NEWPATH '%s' must be an absolute path to a new name", t->args[1]);
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - t->args[1]), t->args[1]);
	int status = file_arg(t, t->args[0], &src);
	if (!status)
		status = file_arg(t, parent[0] ? parent : "/", &dir);
	if (status)
		return status;
	int rc = cowstore_ns_clone(t->cs, src.ino, dir.ino, slash + 1, &src, &err);
	if (rc < 0)
		return fail(rc, &err, "cloning %s to %s", t->args[0], t->args[1]);
	printf("%s cloned to %s\n", t->args[0], t->args[1]);
	return 0;
}
