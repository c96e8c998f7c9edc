/*
 * store_tool.h - what the files of slate-store share: the run's state and
 * the helpers that print results and errors.  store_tool.c has the command
 * line and the pool, volume, snapshot and iSCSI commands; store_nfs.c the
 * NFS export and per-file commands.
 */
#ifndef SLATE_MGMT_STORE_TOOL_H
#define SLATE_MGMT_STORE_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "cowstore/cowstore.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define TOOL_OPTIONS 12 /* entries of store_tool.c's option table */

/* What one run of the tool works on; owned by main. */
struct tool {
	const char *pooldir;
	struct cowstore *cs;    /* NULL for `pool create` */
	char **args;            /* the command's positional arguments */
	int nargs;              /* how many */
	unsigned given;         /* OPT_* bits present on the command line */
	const char *values[TOOL_OPTIONS]; /* option values, indexed like option_specs */
};

struct text {
	char s[2 * COWSTORE_NAME_MAX + 8]; /* room for "volume@snapshot" */
};

/* A failure message ("slate-store: what: cause", or err's sentence); returns
 * EXIT_FAIL. */
int __attribute__((format(printf, 3, 4)))
fail(int rc, const struct cowstore_err *err, const char *fmt, ...);
/* A usage message and the command list; returns EXIT_USAGE. */
int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...);
struct text size_text(uint64_t bytes);  /* "8388608 (8.0 MiB)" */
struct text time_text(int64_t unix_ns); /* local "YYYY-MM-DD HH:MM:SS" */

/* store_nfs.c */
int cmd_nfs_export_add(struct tool *t);
int cmd_nfs_export_remove(struct tool *t);
int cmd_nfs_export_list(struct tool *t);
int cmd_file_snapshot(struct tool *t);
int cmd_file_snapshots(struct tool *t);
int cmd_file_rollback(struct tool *t);
int cmd_file_snapshot_delete(struct tool *t);
int cmd_file_clone(struct tool *t);

#endif
