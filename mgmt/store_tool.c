/*
 * store_tool.c - slate-store, the offline admin tool for a cowstore pool:
 * pools, volumes, snapshots and clones, raw import/export, space and scrub,
 * for scripting and for recovery.
 *
 *   slate-store POOLDIR COMMAND [ARGS]    (run with no arguments for the list)
 *
 * Offline means no daemon may have the pool open: cowstore (RocksDB's lock)
 * refuses a second opener, and the tool says so.
 * Exit status: 0 success, 1 a failure, 2 a usage error; `pool scrub` also
 * exits 1 when it finds bad blocks.  Every message on stderr starts with
 * "slate-store: ".  Output is for people (aligned tables); sizes are printed
 * in bytes followed by a human form, so scripts can take the first number.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "target/iscsi/iscsi.h"
#include "mgmt/store_tool.h"

#define CHUNK_BYTES (1u << 20) /* import/export unit */

/* ---- options and the command table ---------------------------------- */

enum {
	OPT_CAPACITY = 1u << 0,
	OPT_PLOG = 1u << 1,
	OPT_SOFT_THRESHOLD = 1u << 2,
	OPT_SNAPSHOT = 1u << 3,
	OPT_DELETE_NEWER = 1u << 4,
	OPT_PREALLOCATE = 1u << 5,
	OPT_MUTUAL_USER = 1u << 6,
	OPT_MUTUAL_SECRET = 1u << 7,
	OPT_CHANNELS = 1u << 8,
	OPT_SERVICE_US = 1u << 9,
	OPT_MBPS = 1u << 10,
	OPT_MAX_IOPS = 1u << 11,
};

struct option_spec {
	const char *name;
	unsigned bit;
	bool takes_value;
};

static const struct option_spec option_specs[] = {
	{ "--capacity", OPT_CAPACITY, true },
	{ "--plog", OPT_PLOG, true },
	{ "--soft-threshold", OPT_SOFT_THRESHOLD, true },
	{ "--snapshot", OPT_SNAPSHOT, true },
	{ "--delete-newer", OPT_DELETE_NEWER, false },
	{ "--preallocate", OPT_PREALLOCATE, false },
	{ "--mutual-user", OPT_MUTUAL_USER, true },
	{ "--mutual-secret", OPT_MUTUAL_SECRET, true },
	{ "--channels", OPT_CHANNELS, true },
	{ "--service-us", OPT_SERVICE_US, true },
	{ "--mbps", OPT_MBPS, true },
	{ "--max-iops", OPT_MAX_IOPS, true },
};
#define NOPTIONS (sizeof(option_specs) / sizeof(option_specs[0]))
_Static_assert(NOPTIONS == TOOL_OPTIONS, "TOOL_OPTIONS in store_tool.h");

struct command {
	const char *group;
	const char *verb;  /* NULL for one-word commands; "a b" takes two words */
	int nargs;         /* negative: at least -nargs */
	unsigned allowed;  /* OPT_* bits */
	bool opens_pool;
	int (*run)(struct tool *t);
	const char *synopsis;
};

static void print_usage(FILE *out);

static const char *option_value(const struct tool *t, unsigned bit)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (option_specs[i].bit == bit)
			return t->values[i];
	return NULL;
}

/* ---- messages and formatting ---------------------------------------- */

/* Report a failed call: the API's sentence when it wrote one, else the
 * errno text after a description of what was being done.  Returns 1. */
int __attribute__((format(printf, 3, 4)))
fail(int rc, const struct cowstore_err *err, const char *fmt, ...)
{
	if (err && err->msg[0]) {
		fprintf(stderr, "slate-store: %s\n", err->msg);
		return EXIT_FAIL;
	}
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "slate-store: %s: %s\n", what, strerror(-rc));
	return EXIT_FAIL;
}

int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "slate-store: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	print_usage(stderr);
	return EXIT_USAGE;
}

/* "8.0 MiB" into out (16 bytes are always enough); exact under 1 KiB. */
static void format_human(uint64_t bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double value = (double)bytes;
	unsigned unit = 0;
	while (value >= 1024.0 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024.0;
		unit++;
	}
	if (unit == 0)
		snprintf(out, len, "%" PRIu64 " B", bytes);
	else
		snprintf(out, len, "%.1f %s", value, units[unit]);
}

static struct text human(uint64_t bytes)
{
	struct text t;
	format_human(bytes, t.s, sizeof(t.s));
	return t;
}

/* "8388608 (8.0 MiB)" */
struct text size_text(uint64_t bytes)
{
	struct text t;
	char short_form[16];
	format_human(bytes, short_form, sizeof(short_form));
	snprintf(t.s, sizeof(t.s), "%" PRIu64 " (%s)", bytes, short_form);
	return t;
}

struct text time_text(int64_t unix_ns)
{
	struct text t;
	time_t secs = (time_t)(unix_ns / 1000000000);
	struct tm tm;
	if (!localtime_r(&secs, &tm) || !strftime(t.s, sizeof(t.s), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(t.s, sizeof(t.s), "?");
	return t;
}

/* Parse "123", "64K", "10G", "1TiB": suffixes are powers of 1024. */
static int parse_size(const char *text, uint64_t *bytes)
{
	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long count = strtoull(text, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 0;
	if (*end) {
		const char *p = strchr("KMGT", toupper((unsigned char)*end));
		if (!p)
			return -EINVAL;
		shift = 10 * (unsigned)(p - "KMGT" + 1);
		end++;
		if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0)
			return -EINVAL;
	}
	if (shift && count > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)count << shift;
	return 0;
}

static int size_arg(const char *text, const char *what, uint64_t *bytes)
{
	if (parse_size(text, bytes) < 0)
		return usage_error("bad %s '%s': want a number of bytes with an optional "
				   "suffix K, M, G or T (powers of 1024)", what, text);
	return 0;
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* ---- looking objects up --------------------------------------------- */

/* Returns 0, or the exit status after printing why. */
static int find_volume(struct tool *t, const char *name, uint64_t *id)
{
	int rc = cowstore_volume_lookup(t->cs, name, id);
	if (rc == -ENOENT) {
		fprintf(stderr, "slate-store: no volume named '%s' in pool %s\n", name, t->pooldir);
		return EXIT_FAIL;
	}
	if (rc < 0)
		return fail(rc, NULL, "looking up volume '%s'", name);
	return 0;
}

static int find_snapshot(struct tool *t, const char *volume, const char *name,
			 uint64_t *vol_id, uint64_t *snap_id)
{
	int status = find_volume(t, volume, vol_id);
	if (status)
		return status;
	int rc = cowstore_snapshot_lookup(t->cs, *vol_id, name, snap_id);
	if (rc == -ENOENT) {
		fprintf(stderr, "slate-store: volume '%s' has no snapshot named '%s'\n", volume,
			name);
		return EXIT_FAIL;
	}
	if (rc < 0)
		return fail(rc, NULL, "looking up snapshot '%s' of volume '%s'", name, volume);
	return 0;
}

/* The snapshot's info, found through its volume's list; 0 or -errno. */
static int snapshot_info(struct cowstore *cs, uint64_t vol_id, uint64_t snap_id,
			 struct cowstore_snapshot_info *out)
{
	struct cowstore_snapshot_info *list;
	size_t count;
	int rc = cowstore_snapshot_list(cs, vol_id, &list, &count);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < count; i++) {
		if (list[i].id == snap_id) {
			*out = list[i];
			rc = 0;
			break;
		}
	}
	free(list);
	return rc;
}

/* "vm1@nightly" for a snapshot known only by id, searching every volume. */
static struct text snapshot_path(struct cowstore *cs, const struct cowstore_volume_info *vols,
				 size_t nvols, uint64_t snap_id)
{
	struct text t;
	snprintf(t.s, sizeof(t.s), "snapshot #%" PRIu64, snap_id);
	for (size_t i = 0; i < nvols; i++) {
		struct cowstore_snapshot_info snap;
		if (snapshot_info(cs, vols[i].id, snap_id, &snap) == 0) {
			snprintf(t.s, sizeof(t.s), "%s@%s", vols[i].name, snap.name);
			break;
		}
	}
	return t;
}

/* ---- pool commands -------------------------------------------------- */

static int pool_options(struct tool *t, struct cowstore_pool_options *opts)
{
	int status;
	memset(opts, 0, sizeof(*opts));
	if ((t->given & OPT_CAPACITY) &&
	    (status = size_arg(option_value(t, OPT_CAPACITY), "capacity", &opts->capacity_bytes)))
		return status;
	if ((t->given & OPT_PLOG) &&
	    (status = size_arg(option_value(t, OPT_PLOG), "plog size", &opts->plog_bytes)))
		return status;
	if (t->given & OPT_SOFT_THRESHOLD) {
		const char *text = option_value(t, OPT_SOFT_THRESHOLD);
		char *end;
		long pct = strtol(text, &end, 10);
		if (end == text || (*end && strcmp(end, "%") != 0) || pct < 1 || pct > 100)
			return usage_error("bad soft threshold '%s': want a percentage from 1 to 100",
					   text);
		opts->soft_threshold_pct = (unsigned)pct;
	}
	opts->preallocate = (t->given & OPT_PREALLOCATE) != 0;
	return 0;
}

static int cmd_pool_create(struct tool *t)
{
	struct cowstore_pool_options opts;
	int status = pool_options(t, &opts);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_pool_create(t->pooldir, &opts, &err);
	if (rc < 0)
		return fail(rc, &err, "creating pool %s", t->pooldir);
	printf("created pool %s: capacity %s, plog %s, soft threshold %u%%\n", t->pooldir,
	       opts.capacity_bytes ? human(opts.capacity_bytes).s : "64.0 GiB (default)",
	       opts.plog_bytes ? human(opts.plog_bytes).s : "none",
	       opts.soft_threshold_pct ? opts.soft_threshold_pct : 80);
	return 0;
}

static int cmd_pool_info(struct tool *t)
{
	struct cowstore_pool_info info;
	int rc = cowstore_pool_info(t->cs, &info);
	if (rc < 0)
		return fail(rc, NULL, "reading pool %s", t->pooldir);
	printf("%-16s %s\n", "pool:", t->pooldir);
	printf("%-16s %" PRIu32 "\n", "format version:", info.format_version);
	printf("%-16s %s\n", "capacity:", size_text(info.capacity_bytes).s);
	printf("%-16s %s\n", "allocated:", size_text(info.allocated_bytes).s);
	printf("%-16s %s\n", "free:", size_text(info.free_bytes).s);
	printf("%-16s %s\n", "logical:", size_text(info.logical_bytes).s);
	printf("%-16s %s\n", "metadata:", size_text(info.metadata_bytes).s);
	printf("%-16s %s\n", "plog:",
	       info.plog_bytes ? size_text(info.plog_bytes).s : "none");
	printf("%-16s %u%% (%s)\n", "soft threshold:", info.soft_threshold_pct,
	       info.soft_threshold_crossed ? "CROSSED" : "not crossed");
	printf("%-16s %" PRIu32 "\n", "volumes:", info.nvolumes);
	printf("%-16s %" PRIu32 "\n", "snapshots:", info.nsnapshots);
	struct cowstore_emulation emu;
	char text[160];
	if (cowstore_emulation_get(t->cs, &emu) == 0) {
		cowstore_emulation_describe(&emu, text, sizeof(text));
		printf("%-16s %s%s\n", "emulated device:", emu.on ? "ON (for tests and benchmarks): " : "",
		       text);
	}
	return 0;
}

/* A whole number from 0 to max for an option; a usage error otherwise. */
static int number_arg(struct tool *t, unsigned bit, const char *what, uint64_t max,
		      uint64_t *out)
{
	const char *text = option_value(t, bit);
	char *end;
	errno = 0;
	unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
	if (!isdigit((unsigned char)text[0]) || *end || errno || v > max)
		return usage_error("bad %s '%s': want a whole number from 0 to %" PRIu64, what,
				   text, max);
	*out = v;
	return 0;
}

/* pool emulate [--channels N] [--service-us U] [--mbps M] [--max-iops I]
 * sets the EMULATED DEVICE; `pool emulate off` removes it (the same
 * function: its words end in "off"); with no option, it shows the setting. */
static int cmd_pool_emulate(struct tool *t)
{
	struct cowstore_emulation e = { .on = 1, .channels = 1 };
	char text[160];
	uint64_t v;
	int status, rc;
	bool off = !strcmp(t->args[-1], "off");
	if (!off && !t->given) {
		if ((rc = cowstore_emulation_get(t->cs, &e)) < 0)
			return fail(rc, NULL, "reading the emulated device of pool %s", t->pooldir);
		cowstore_emulation_describe(&e, text, sizeof(text));
		printf("emulated device: %s%s\n", e.on ? "ON (for tests and benchmarks): " : "",
		       text);
		return 0;
	}
	if (off) {
		e.on = 0;
	} else {
		if (t->given & OPT_CHANNELS) {
			if ((status = number_arg(t, OPT_CHANNELS, "channel count",
						 COWSTORE_EMULATION_MAX_CHANNELS, &v)))
				return status;
			if (v == 0)
				return usage_error("bad channel count '0': want 1 to %u",
						   COWSTORE_EMULATION_MAX_CHANNELS);
			e.channels = (uint32_t)v;
		}
		if (t->given & OPT_SERVICE_US) {
			if ((status = number_arg(t, OPT_SERVICE_US, "service time (us)",
						 COWSTORE_EMULATION_MAX_FIXED_US, &v)))
				return status;
			e.fixed_us = (uint32_t)v;
		}
		if (t->given & OPT_MBPS) { /* MB/s: 10^6 bytes a second, per channel */
			if ((status = number_arg(t, OPT_MBPS, "bandwidth (MB/s)", 1000000000, &v)))
				return status;
			e.bytes_per_s = v * 1000000u;
		}
		if (t->given & OPT_MAX_IOPS) {
			if ((status = number_arg(t, OPT_MAX_IOPS, "IOPS cap", UINT32_MAX, &v)))
				return status;
			e.max_iops = (uint32_t)v;
		}
	}
	if ((rc = cowstore_emulation_set(t->cs, &e)) < 0)
		return fail(rc, NULL, "setting the emulated device of pool %s", t->pooldir);
	cowstore_emulation_describe(&e, text, sizeof(text));
	if (!e.on) {
		printf("pool %s: emulated device off\n", t->pooldir);
		return 0;
	}
	printf("pool %s: EMULATED DEVICE (for tests and benchmarks): %s\n", t->pooldir, text);
	double service_us = e.fixed_us + (e.bytes_per_s ? 4096.0 * 1e6 / (double)e.bytes_per_s : 0);
	double iops = service_us > 0 ? e.channels * 1e6 / service_us : 0;
	if (e.max_iops && (iops == 0 || e.max_iops < iops))
		iops = e.max_iops;
	if (iops > 0)
		printf("at most %.0f IOPS of 4 KiB%s\n", iops,
		       e.bytes_per_s ? "" : "; no bandwidth limit");
	return 0;
}

static void print_bad_block(struct tool *t, const struct cowstore_bad_block *bad)
{
	struct cowstore_volume_info vol;
	char where[160];
	if (cowstore_volume_info(t->cs, bad->volume_id, 0, &vol) == 0)
		snprintf(where, sizeof(where), "volume '%s'", vol.name);
	else
		snprintf(where, sizeof(where), "volume #%" PRIu64, bad->volume_id);
	if (bad->snapshot_id) {
		struct cowstore_snapshot_info snap;
		size_t len = strlen(where);
		if (snapshot_info(t->cs, bad->volume_id, bad->snapshot_id, &snap) == 0)
			snprintf(where + len, sizeof(where) - len, " snapshot '%s'", snap.name);
		else
			snprintf(where + len, sizeof(where) - len, " snapshot #%" PRIu64,
				 bad->snapshot_id);
	}
	printf("bad block: %s, sector %" PRIu64 " (byte %" PRIu64 "), data block %" PRIu64 "\n",
	       where, bad->lba, bad->lba * COWSTORE_SECTOR_SIZE, bad->pblock);
}

static int cmd_pool_scrub(struct tool *t)
{
	struct cowstore_scrub_report report;
	memset(&report, 0, sizeof(report));
	int rc = cowstore_scrub(t->cs, &report);
	if (rc < 0)
		return fail(rc, NULL, "scrubbing pool %s", t->pooldir);
	printf("blocks checked: %" PRIu64 "\n", report.blocks_checked);
	printf("bad blocks:     %" PRIu64 "\n", report.bad_blocks);
	size_t listed = sizeof(report.first_bad) / sizeof(report.first_bad[0]);
	if (report.bad_blocks < listed)
		listed = (size_t)report.bad_blocks;
	for (size_t i = 0; i < listed; i++)
		print_bad_block(t, &report.first_bad[i]);
	if (report.bad_blocks > listed)
		printf("(%" PRIu64 " more bad blocks not listed: the scrub report keeps the "
		       "first %zu)\n", report.bad_blocks - listed, listed);
	if (report.bad_blocks) {
		fprintf(stderr, "slate-store: pool %s has %" PRIu64 " bad blocks\n", t->pooldir,
			report.bad_blocks);
		return EXIT_FAIL;
	}
	return 0;
}

/* ---- volume commands ------------------------------------------------ */

static int cmd_volume_create(struct tool *t)
{
	uint64_t size, id;
	int status = size_arg(t->args[1], "volume size", &size);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_volume_create(t->cs, t->args[0], size, &id, &err);
	if (rc < 0)
		return fail(rc, &err, "creating volume '%s'", t->args[0]);
	printf("created volume '%s' (id %" PRIu64 ", %" PRIu64 " bytes, %s)\n", t->args[0], id,
	       size, human(size).s);
	return 0;
}

static int name_width(const struct cowstore_volume_info *vols, size_t count, int at_least)
{
	int width = at_least;
	for (size_t i = 0; i < count; i++)
		if ((int)strlen(vols[i].name) > width)
			width = (int)strlen(vols[i].name);
	return width;
}

static int cmd_volume_list(struct tool *t)
{
	struct cowstore_volume_info *vols;
	size_t count;
	int rc = cowstore_volume_list(t->cs, 0, &vols, &count);
	if (rc < 0)
		return fail(rc, NULL, "listing the volumes of pool %s", t->pooldir);
	int width = name_width(vols, count, 4);
	printf("%-*s %6s  %-26s %5s %6s  %-19s  %s\n", width, "NAME", "ID", "SIZE", "SNAPS",
	       "CLONES", "CREATED", "ORIGIN");
	for (size_t i = 0; i < count; i++) {
		const struct cowstore_volume_info *v = &vols[i];
		printf("%-*s %6" PRIu64 "  %-26s %5" PRIu32 " %6" PRIu32 "  %-19s  %s\n", width,
		       v->name, v->id, size_text(v->size_bytes).s, v->nsnapshots, v->nclones,
		       time_text(v->created_unix_ns).s,
		       v->parent_snapshot_id
			       ? snapshot_path(t->cs, vols, count, v->parent_snapshot_id).s
			       : "-");
	}
	if (count == 0)
		printf("(no volumes)\n");
	free(vols);
	return 0;
}

static int cmd_volume_resize(struct tool *t)
{
	uint64_t size, id;
	int status = size_arg(t->args[1], "volume size", &size);
	if (status || (status = find_volume(t, t->args[0], &id)))
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_volume_resize(t->cs, id, size, &err);
	if (rc < 0)
		return fail(rc, &err, "resizing volume '%s' to %" PRIu64 " bytes", t->args[0], size);
	printf("resized volume '%s' to %s\n", t->args[0], size_text(size).s);
	return 0;
}

static int cmd_volume_delete(struct tool *t)
{
	uint64_t id;
	int status = find_volume(t, t->args[0], &id);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_volume_delete(t->cs, id, &err);
	if (rc < 0)
		return fail(rc, &err, "deleting volume '%s'", t->args[0]);
	printf("deleted volume '%s' and its snapshots\n", t->args[0]);
	return 0;
}

/* ---- snapshot and clone commands ------------------------------------ */

static int cmd_snapshot_create(struct tool *t)
{
	uint64_t vol_id, snap_id;
	int status = find_volume(t, t->args[0], &vol_id);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_snapshot_create(t->cs, vol_id, t->args[1], &snap_id, &err);
	if (rc < 0)
		return fail(rc, &err, "creating snapshot '%s' of volume '%s'", t->args[1],
			    t->args[0]);
	printf("created snapshot '%s@%s' (id %" PRIu64 ")\n", t->args[0], t->args[1], snap_id);
	return 0;
}

static int cmd_snapshot_list(struct tool *t)
{
	uint64_t vol_id;
	int status = find_volume(t, t->args[0], &vol_id);
	if (status)
		return status;
	struct cowstore_snapshot_info *snaps;
	size_t count;
	int rc = cowstore_snapshot_list(t->cs, vol_id, &snaps, &count);
	if (rc < 0)
		return fail(rc, NULL, "listing the snapshots of volume '%s'", t->args[0]);
	int width = 4;
	for (size_t i = 0; i < count; i++)
		if ((int)strlen(snaps[i].name) > width)
			width = (int)strlen(snaps[i].name);
	printf("%-*s %6s  %-19s  %-26s %6s %6s  %-26s %s\n", width, "NAME", "ID", "CREATED",
	       "SIZE", "CLONES", "GROUP", "UNIQUE", "SHARED");
	for (size_t i = 0; i < count; i++) {
		const struct cowstore_snapshot_info *s = &snaps[i];
		printf("%-*s %6" PRIu64 "  %-19s  %-26s %6" PRIu32 " %6" PRIu64 "  %-26s %s\n",
		       width, s->name, s->id, time_text(s->created_unix_ns).s,
		       size_text(s->size_bytes).s, s->nclones, s->group_id,
		       size_text(s->unique_bytes).s, size_text(s->shared_bytes).s);
	}
	free(snaps);
	return 0;
}

static int cmd_snapshot_delete(struct tool *t)
{
	uint64_t vol_id, snap_id;
	int status = find_snapshot(t, t->args[0], t->args[1], &vol_id, &snap_id);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_snapshot_delete(t->cs, snap_id, &err);
	if (rc < 0)
		return fail(rc, &err, "deleting snapshot '%s@%s'", t->args[0], t->args[1]);
	printf("deleted snapshot '%s@%s'\n", t->args[0], t->args[1]);
	return 0;
}

static int cmd_snapshot_rollback(struct tool *t)
{
	uint64_t vol_id, snap_id;
	int status = find_snapshot(t, t->args[0], t->args[1], &vol_id, &snap_id);
	if (status)
		return status;
	unsigned flags = (t->given & OPT_DELETE_NEWER) ? COWSTORE_ROLLBACK_DELETE_NEWER : 0;
	struct cowstore_err err = { "" };
	int rc = cowstore_snapshot_rollback(t->cs, snap_id, flags, &err);
	if (rc < 0)
		return fail(rc, &err, "rolling volume '%s' back to snapshot '%s'", t->args[0],
			    t->args[1]);
	printf("rolled volume '%s' back to snapshot '%s'\n", t->args[0], t->args[1]);
	return 0;
}

static int cmd_clone(struct tool *t)
{
	uint64_t vol_id, snap_id, clone_id;
	int status = find_snapshot(t, t->args[0], t->args[1], &vol_id, &snap_id);
	if (status)
		return status;
	struct cowstore_err err = { "" };
	int rc = cowstore_clone_create(t->cs, snap_id, t->args[2], &clone_id, &err);
	if (rc < 0)
		return fail(rc, &err, "cloning snapshot '%s@%s' as '%s'", t->args[0], t->args[1],
			    t->args[2]);
	printf("created clone '%s' (id %" PRIu64 ") of snapshot '%s@%s'\n", t->args[2], clone_id,
	       t->args[0], t->args[1]);
	return 0;
}

/* ---- import --------------------------------------------------------- */

/* Read exactly len bytes at offset; 0 or -errno (-EIO on a short file). */
static int read_full(int fd, void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		done += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

/* The import target: the named volume, created with the file's size rounded
 * up to a 4 KiB block (cowstore's volume granularity) when missing.
 * Returns 0 or the exit status. */
static int import_target(struct tool *t, const char *name, uint64_t file_bytes, uint64_t *id)
{
	int rc = cowstore_volume_lookup(t->cs, name, id);
	if (rc < 0 && rc != -ENOENT)
		return fail(rc, NULL, "looking up volume '%s'", name);
	uint64_t size = (file_bytes + COWSTORE_BLOCK_SIZE - 1) & ~(uint64_t)(COWSTORE_BLOCK_SIZE - 1);
	if (rc == -ENOENT) {
		if (file_bytes == 0) {
			fprintf(stderr, "slate-store: cannot create volume '%s' from an empty file\n",
				name);
			return EXIT_FAIL;
		}
		struct cowstore_err err = { "" };
		rc = cowstore_volume_create(t->cs, name, size, id, &err);
		if (rc < 0)
			return fail(rc, &err, "creating volume '%s'", name);
		printf("created volume '%s' (id %" PRIu64 ", %" PRIu64 " bytes, %s)\n", name, *id,
		       size, human(size).s);
		return 0;
	}
	struct cowstore_volume_info info;
	rc = cowstore_volume_info(t->cs, *id, 0, &info);
	if (rc < 0)
		return fail(rc, NULL, "reading volume '%s'", name);
	if (size > info.size_bytes) {
		fprintf(stderr, "slate-store: file (%" PRIu64 " bytes) is larger than volume '%s' "
			"(%" PRIu64 " bytes); resize the volume first\n", file_bytes, name,
			info.size_bytes);
		return EXIT_FAIL;
	}
	return 0;
}

/* Copy the file into the volume chunk by chunk; all-zero chunks become
 * write-zeroes so the volume stays thin.  The last chunk is padded with
 * zeros to a whole sector. */
static int import_chunks(struct tool *t, int fd, uint64_t file_bytes, uint64_t vol_id,
			 const char *path, uint64_t *zero_chunks)
{
	char *buf = aligned_alloc(COWSTORE_BLOCK_SIZE, CHUNK_BYTES);
	if (!buf)
		return fail(-ENOMEM, NULL, "allocating the import buffer");
	int status = 0;
	for (uint64_t off = 0; off < file_bytes && !status; off += CHUNK_BYTES) {
		size_t len = file_bytes - off < CHUNK_BYTES ? (size_t)(file_bytes - off) : CHUNK_BYTES;
		uint32_t nsectors = (uint32_t)((len + COWSTORE_SECTOR_SIZE - 1) / COWSTORE_SECTOR_SIZE);
		memset(buf + len, 0, (size_t)nsectors * COWSTORE_SECTOR_SIZE - len);
		int rc = read_full(fd, buf, len, off);
		if (rc < 0) {
			status = fail(rc, NULL, "reading %s at byte %" PRIu64, path, off);
			break;
		}
		uint64_t lba = off / COWSTORE_SECTOR_SIZE;
		if (all_zero(buf, len)) {
			(*zero_chunks)++;
			rc = cowstore_write_zeroes(t->cs, vol_id, lba, nsectors);
		} else {
			rc = cowstore_write(t->cs, vol_id, lba, nsectors, buf, 0);
		}
		if (rc < 0)
			status = fail(rc, NULL, "writing volume '%s' at byte %" PRIu64, t->args[0], off);
	}
	free(buf);
	return status;
}

static int cmd_import(struct tool *t)
{
	const char *name = t->args[0], *path = t->args[1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, NULL, "opening %s", path);
	off_t end = lseek(fd, 0, SEEK_END); /* works for block devices too */
	if (end < 0) {
		int status = fail(-errno, NULL, "finding the size of %s", path);
		close(fd);
		return status;
	}
	uint64_t file_bytes = (uint64_t)end, vol_id, zero_chunks = 0;
	int status = import_target(t, name, file_bytes, &vol_id);
	if (!status)
		status = import_chunks(t, fd, file_bytes, vol_id, path, &zero_chunks);
	close(fd);
	if (status)
		return status;
	int rc = cowstore_flush(t->cs);
	if (rc < 0)
		return fail(rc, NULL, "flushing volume '%s'", name);
	printf("imported %s into volume '%s': %" PRIu64 " bytes (%s) in %" PRIu64
	       " chunks of 1 MiB, %" PRIu64 " of them all zeros and left thin\n", path, name,
	       file_bytes, human(file_bytes).s, (file_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES,
	       zero_chunks);
	return 0;
}

/* ---- export --------------------------------------------------------- */

/* What an export reads from: a volume's head or one of its snapshots. */
struct export_source {
	const char *volume;
	const char *snapshot; /* NULL: the head */
	uint64_t vol_id, snap_id;
	uint64_t size_bytes;
};

static int read_source(struct tool *t, const struct export_source *src, uint64_t lba,
		       uint32_t nsectors, void *buf)
{
	if (src->snap_id)
		return cowstore_read_snapshot(t->cs, src->snap_id, lba, nsectors, buf);
	return cowstore_read(t->cs, src->vol_id, lba, nsectors, buf);
}

/* A chunk read failed with -EIO: name the first 4 KiB block in it that does
 * not read, so the admin knows where the damage is. */
static int report_bad_chunk(struct tool *t, const struct export_source *src, uint64_t lba,
			    uint32_t nsectors, void *buf)
{
	const uint32_t step = COWSTORE_BLOCK_SIZE / COWSTORE_SECTOR_SIZE;
	uint64_t bad = lba;
	for (uint32_t i = 0; i < nsectors; i += step) {
		uint32_t n = nsectors - i < step ? nsectors - i : step;
		if (read_source(t, src, lba + i, n, buf) == -EIO) {
			bad = lba + i;
			break;
		}
	}
	fprintf(stderr, "slate-store: reading %s%s%s: the block at sector %" PRIu64
		" (byte %" PRIu64 ") failed its checksum (%s); run `pool scrub` to list "
		"all damaged blocks\n", src->volume, src->snapshot ? "@" : "",
		src->snapshot ? src->snapshot : "", bad, bad * COWSTORE_SECTOR_SIZE, strerror(EIO));
	return EXIT_FAIL;
}

/* Copy the source into fd; zero chunks become holes in a regular file. */
static int export_chunks(struct tool *t, const struct export_source *src, int fd, bool sparse)
{
	char *buf = aligned_alloc(COWSTORE_BLOCK_SIZE, CHUNK_BYTES);
	if (!buf)
		return fail(-ENOMEM, NULL, "allocating the export buffer");
	int status = 0;
	for (uint64_t off = 0; off < src->size_bytes && !status; off += CHUNK_BYTES) {
		uint64_t left = src->size_bytes - off;
		size_t len = left < CHUNK_BYTES ? (size_t)left : CHUNK_BYTES;
		uint32_t nsectors = (uint32_t)(len / COWSTORE_SECTOR_SIZE);
		uint64_t lba = off / COWSTORE_SECTOR_SIZE;
		int rc = read_source(t, src, lba, nsectors, buf);
		if (rc == -EIO) {
			status = report_bad_chunk(t, src, lba, nsectors, buf);
		} else if (rc < 0) {
			status = fail(rc, NULL, "reading %s at byte %" PRIu64, src->volume, off);
		} else if (!(sparse && all_zero(buf, len))) {
			rc = write_full(fd, buf, len, off);
			if (rc < 0)
				status = fail(rc, NULL, "writing the export file at byte %" PRIu64, off);
		}
	}
	free(buf);
	return status;
}

static int export_source(struct tool *t, struct export_source *src)
{
	int status;
	if (!src->snapshot) {
		if ((status = find_volume(t, src->volume, &src->vol_id)))
			return status;
		struct cowstore_volume_info info;
		int rc = cowstore_volume_info(t->cs, src->vol_id, 0, &info);
		if (rc < 0)
			return fail(rc, NULL, "reading volume '%s'", src->volume);
		src->size_bytes = info.size_bytes;
		return 0;
	}
	if ((status = find_snapshot(t, src->volume, src->snapshot, &src->vol_id, &src->snap_id)))
		return status;
	struct cowstore_snapshot_info snap;
	int rc = snapshot_info(t->cs, src->vol_id, src->snap_id, &snap);
	if (rc < 0)
		return fail(rc, NULL, "reading snapshot '%s@%s'", src->volume, src->snapshot);
	src->size_bytes = snap.size_bytes;
	return 0;
}

static int cmd_export(struct tool *t)
{
	struct export_source src = { .volume = t->args[0],
				     .snapshot = option_value(t, OPT_SNAPSHOT) };
	const char *path = t->args[1];
	int status = export_source(t, &src);
	if (status)
		return status;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(-errno, NULL, "creating %s", path);
	struct stat st;
	bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	status = export_chunks(t, &src, fd, regular);
	if (!status && regular && ftruncate(fd, (off_t)src.size_bytes) < 0)
		status = fail(-errno, NULL, "setting the size of %s", path);
	if (!status && fsync(fd) < 0 && errno != EINVAL)
		status = fail(-errno, NULL, "syncing %s", path);
	if (close(fd) < 0 && !status)
		status = fail(-errno, NULL, "closing %s", path);
	if (status && regular)
		unlink(path); /* a partial export must not pass for a good one */
	if (!status)
		printf("exported %s%s%s to %s: %s\n", src.volume, src.snapshot ? "@" : "",
		       src.snapshot ? src.snapshot : "", path, size_text(src.size_bytes).s);
	return status;
}

/* ---- space ---------------------------------------------------------- */

static void print_space_row(int width, const char *name, const char *size, const char *mapped,
			    const char *unique, const char *shared)
{
	printf("%-*s  %-26s %-26s %-26s %s\n", width, name, size, mapped, unique, shared);
}

static int print_volume_space(struct tool *t, const struct cowstore_volume_info *v, int width)
{
	print_space_row(width, v->name, size_text(v->size_bytes).s, size_text(v->mapped_bytes).s,
			size_text(v->unique_bytes).s, "-");
	struct cowstore_snapshot_info *snaps;
	size_t count;
	int rc = cowstore_snapshot_list(t->cs, v->id, &snaps, &count);
	if (rc < 0)
		return fail(rc, NULL, "listing the snapshots of volume '%s'", v->name);
	for (size_t i = 0; i < count; i++) {
		char label[COWSTORE_NAME_MAX + 4];
		snprintf(label, sizeof(label), "  @%s", snaps[i].name);
		print_space_row(width, label, size_text(snaps[i].size_bytes).s, "-",
				size_text(snaps[i].unique_bytes).s,
				size_text(snaps[i].shared_bytes).s);
	}
	free(snaps);
	return 0;
}

static int cmd_space(struct tool *t)
{
	int status = cmd_pool_info(t);
	if (status)
		return status;
	struct cowstore_volume_info *vols;
	size_t count;
	int rc = cowstore_volume_list(t->cs, 1, &vols, &count);
	if (rc < 0)
		return fail(rc, NULL, "listing the volumes of pool %s", t->pooldir);
	int width = name_width(vols, count, 8) + 3; /* room for "  @" of snapshot rows */
	printf("\n");
	print_space_row(width, "VOLUME", "SIZE", "MAPPED", "UNIQUE", "SHARED");
	for (size_t i = 0; i < count && !status; i++)
		status = print_volume_space(t, &vols[i], width);
	if (count == 0)
		printf("(no volumes)\n");
	free(vols);
	return status;
}

/* ---- iSCSI configuration (kept in the pool, read by slated) ----------- */

/* Load the configuration, let change() edit it, save what it touched. */
struct iscsi_edit {
	struct iscsi_config *cfg;
	struct iscsi_target_config *target; /* the target named by args[0], if any */
	char why[256];
};

static int load_iscsi(struct tool *t, struct iscsi_edit *e, bool need_target)
{
	e->cfg = calloc(1, sizeof(*e->cfg));
	if (!e->cfg)
		return fail(-ENOMEM, NULL, "loading the iSCSI configuration");
	int rc = iscsi_config_load(t->cs, e->cfg, e->why, sizeof(e->why));
	if (rc)
		return rc == -EINVAL ? (fprintf(stderr, "slate-store: %s\n", e->why), EXIT_FAIL)
				     : fail(rc, NULL, "loading the iSCSI configuration");
	e->target = need_target ? iscsi_config_find(e->cfg, t->args[0]) : NULL;
	if (need_target && !e->target) {
		fprintf(stderr, "slate-store: no target '%s' (see 'target list')\n", t->args[0]);
		return EXIT_FAIL;
	}
	return 0;
}

static int save_target(struct tool *t, struct iscsi_edit *e, const char *done)
{
	int rc = iscsi_config_save_target(t->cs, e->target, e->why, sizeof(e->why));
	if (rc == -EINVAL)
		fprintf(stderr, "slate-store: %s\n", e->why);
	else if (rc)
		fail(rc, NULL, "saving target %s", e->target->iqn);
	else
		printf("%s\n", done);
	free(e->cfg);
	return rc ? EXIT_FAIL : 0;
}

static int save_global(struct tool *t, struct iscsi_edit *e, const char *done)
{
	int rc = iscsi_config_save_global(t->cs, e->cfg, e->why, sizeof(e->why));
	if (rc == -EINVAL)
		fprintf(stderr, "slate-store: %s\n", e->why);
	else if (rc)
		fail(rc, NULL, "saving the iSCSI portals and discovery settings");
	else
		printf("%s\n", done);
	free(e->cfg);
	return rc ? EXIT_FAIL : 0;
}

/* An iSCSI name argument: too long a name would be cut to fit and might
 * then pass for another one.  0 or the exit status. */
static int name_arg(const char *name)
{
	if (strlen(name) <= ISCSI_NAME_MAX)
		return 0;
	fprintf(stderr, "slate-store: '%.40s...' is longer than the %d bytes of an iSCSI name\n",
		name, ISCSI_NAME_MAX);
	return EXIT_FAIL;
}

static int cmd_target_create(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = name_arg(t->args[0]);
	if (!status)
		status = load_iscsi(t, &e, false);
	if (status)
		return free(e.cfg), status;
	if (iscsi_config_find(e.cfg, t->args[0]) || e.cfg->ntargets == ISCSI_MAX_TARGETS) {
		fprintf(stderr, "slate-store: %s\n", e.cfg->ntargets == ISCSI_MAX_TARGETS ?
			"too many targets" : "that target exists already");
		free(e.cfg);
		return EXIT_FAIL;
	}
	e.target = &e.cfg->targets[e.cfg->ntargets++];
	snprintf(e.target->iqn, sizeof(e.target->iqn), "%s", t->args[0]);
	return save_target(t, &e, "target created");
}

/* After the last target of a pool whose demo target an older slated made
 * is deleted, the global record must exist, or slated would take the pool
 * for a new one and make the demo target again. */
static int mark_configured(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, false);
	if (status || e.cfg->initialized)
		return free(e.cfg), status;
	int rc = iscsi_config_save_global(t->cs, e.cfg, e.why, sizeof(e.why));
	free(e.cfg);
	return rc ? fail(rc, NULL, "saving the iSCSI settings") : 0;
}

static int cmd_target_delete(struct tool *t)
{
	int rc = iscsi_config_delete_target(t->cs, t->args[0]);
	if (rc == -ENOENT) { /* stored with other capitals, or not at all */
		struct iscsi_edit e = { 0 };
		int status = load_iscsi(t, &e, true);
		if (status)
			return free(e.cfg), status;
		rc = iscsi_config_delete_target(t->cs, e.target->iqn);
		free(e.cfg);
	}
	if (rc)
		return fail(rc, NULL, "deleting target %s", t->args[0]);
	printf("target deleted\n");
	return mark_configured(t);
}

static void print_auth(const char *what, const struct iscsi_auth *a)
{
	if (a->chap.user[0])
		printf("  %s CHAP user %s%s%s\n", what, a->chap.user,
		       a->mutual.user[0] ? ", mutual as " : "", a->mutual.user);
}

static int cmd_target_list(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, false);
	if (status)
		return free(e.cfg), status;
	for (unsigned i = 0; i < e.cfg->nportals; i++)
		printf("portal %s\n", e.cfg->portals[i]);
	print_auth("discovery", &e.cfg->discovery);
	for (unsigned i = 0; i < e.cfg->ntargets; i++) {
		const struct iscsi_target_config *tc = &e.cfg->targets[i];
		printf("target %s\n", tc->iqn);
		print_auth("login", &tc->auth);
		for (unsigned j = 0; j < tc->nacl; j++)
			printf("  allows %s\n", tc->acl[j]);
		for (unsigned j = 0; j < tc->nluns; j++)
			printf("  LUN %llu = volume %s\n", (unsigned long long)tc->luns[j].lun,
			       tc->luns[j].volume);
	}
	if (!e.cfg->ntargets)
		printf(e.cfg->initialized ? "(no targets)\n"
		       : "(no targets: slated creates the demo target on its first start)\n");
	free(e.cfg);
	return 0;
}

static int cmd_target_map(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	uint64_t id;
	char *end;
	unsigned long long lun = strtoull(t->args[1], &end, 10);
	if (!t->args[1][0] || *end || lun > 255)
		return usage_error("bad LUN '%s': want 0 to 255", t->args[1]);
	int status = load_iscsi(t, &e, true);
	if (!status)
		status = find_volume(t, t->args[2], &id);
	if (!status && e.target->nluns == ISCSI_MAX_TARGET_LUNS)
		status = (fprintf(stderr, "slate-store: target has %d LUNs already\n",
				  ISCSI_MAX_TARGET_LUNS), EXIT_FAIL);
	if (status)
		return free(e.cfg), status;
	struct iscsi_lun_map *m = &e.target->luns[e.target->nluns++];
	m->lun = lun;
	snprintf(m->volume, sizeof(m->volume), "%s", t->args[2]);
	return save_target(t, &e, "LUN mapped");
}

static int cmd_target_unmap(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, true);
	if (status)
		return free(e.cfg), status;
	struct iscsi_target_config *tc = e.target;
	char *end;
	unsigned long long lun = strtoull(t->args[1], &end, 10);
	for (unsigned i = 0; t->args[1][0] && !*end && i < tc->nluns; i++) {
		if (tc->luns[i].lun == lun) {
			tc->luns[i] = tc->luns[--tc->nluns];
			return save_target(t, &e, "LUN unmapped");
		}
	}
	fprintf(stderr, "slate-store: target %s has no LUN %s\n", tc->iqn, t->args[1]);
	free(e.cfg);
	return EXIT_FAIL;
}

/* Where initiator sits in tc's ACL (names ignore case), or -1. */
static int acl_index(const struct iscsi_target_config *tc, const char *initiator)
{
	for (unsigned i = 0; i < tc->nacl; i++)
		if (!strcasecmp(tc->acl[i], initiator))
			return (int)i;
	return -1;
}

static int cmd_target_allow(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = name_arg(t->args[1]);
	if (!status)
		status = load_iscsi(t, &e, true);
	if (!status && acl_index(e.target, t->args[1]) >= 0)
		status = (fprintf(stderr, "slate-store: %s is already in the ACL of %s\n",
				  t->args[1], e.target->iqn), EXIT_FAIL);
	if (!status && e.target->nacl == ISCSI_MAX_ACL)
		status = (fprintf(stderr, "slate-store: the ACL is full\n"), EXIT_FAIL);
	if (status)
		return free(e.cfg), status;
	snprintf(e.target->acl[e.target->nacl++], sizeof(e.target->acl[0]), "%s", t->args[1]);
	return save_target(t, &e, "initiator allowed");
}

static int cmd_target_disallow(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, true);
	if (status)
		return free(e.cfg), status;
	struct iscsi_target_config *tc = e.target;
	int i = acl_index(tc, t->args[1]);
	if (i < 0) {
		fprintf(stderr, "slate-store: %s is not in the ACL of %s\n", t->args[1], tc->iqn);
		free(e.cfg);
		return EXIT_FAIL;
	}
	/* every copy: a pool saved by an older slate-store may list one twice */
	for (; i >= 0; i = acl_index(tc, t->args[1]))
		memmove(tc->acl[i], tc->acl[--tc->nacl], sizeof(tc->acl[0]));
	return save_target(t, &e, tc->nacl ? "initiator removed from the ACL"
				     : "ACL now empty: every initiator may log in");
}

/* A secret argument into out (cap bytes): "-" reads the next line of
 * standard input, which keeps the secret out of ps and shell history.
 * 0 or the exit status. */
static int secret_arg(const char *given, char *out, size_t cap)
{
	char line[ISCSI_CHAP_SECRET_MAX + 3];
	if (strcmp(given, "-") != 0) {
		if (strlen(given) >= cap)
			return usage_error("CHAP secret too long");
		strcpy(out, given);
		return 0;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "slate-store: no CHAP secret on standard input\n");
		return EXIT_FAIL;
	}
	line[strcspn(line, "\r\n")] = 0;
	if (strlen(line) >= cap) {
		fprintf(stderr, "slate-store: the CHAP secret on standard input is too long\n");
		return EXIT_FAIL;
	}
	strcpy(out, line);
	return 0;
}

/* USER SECRET [--mutual-user U --mutual-secret S] into a; usage errors. */
static int auth_args(struct tool *t, char **args, struct iscsi_auth *a)
{
	const char *mu = option_value(t, OPT_MUTUAL_USER), *ms = option_value(t, OPT_MUTUAL_SECRET);
	if (!mu != !ms)
		return usage_error("--mutual-user and --mutual-secret go together");
	memset(a, 0, sizeof(*a));
	if (strlen(args[0]) >= sizeof(a->chap.user) || (mu && strlen(mu) >= sizeof(a->mutual.user)))
		return usage_error("CHAP user too long");
	strcpy(a->chap.user, args[0]);
	int status = secret_arg(args[1], a->chap.secret, sizeof(a->chap.secret));
	if (!status && mu) {
		strcpy(a->mutual.user, mu);
		status = secret_arg(ms, a->mutual.secret, sizeof(a->mutual.secret));
	}
	return status;
}

static int cmd_target_chap(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	struct iscsi_auth auth;
	int status = auth_args(t, t->args + 1, &auth);
	if (!status)
		status = load_iscsi(t, &e, true);
	if (status)
		return free(e.cfg), status;
	e.target->auth = auth;
	return save_target(t, &e, "CHAP set");
}

static int cmd_target_nochap(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, true);
	if (status)
		return free(e.cfg), status;
	memset(&e.target->auth, 0, sizeof(e.target->auth));
	return save_target(t, &e, "CHAP cleared");
}

static int cmd_discovery_chap(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	struct iscsi_auth auth;
	int status = auth_args(t, t->args, &auth);
	if (!status)
		status = load_iscsi(t, &e, false);
	if (status)
		return free(e.cfg), status;
	e.cfg->discovery = auth;
	return save_global(t, &e, "discovery CHAP set");
}

static int cmd_discovery_nochap(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, false);
	if (status)
		return free(e.cfg), status;
	memset(&e.cfg->discovery, 0, sizeof(e.cfg->discovery));
	return save_global(t, &e, "discovery CHAP cleared");
}

static int cmd_portal_add(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, false);
	if (!status && e.cfg->nportals == ISCSI_MAX_PORTALS)
		status = (fprintf(stderr, "slate-store: %d portals already\n", ISCSI_MAX_PORTALS),
			  EXIT_FAIL);
	if (!status && strlen(t->args[0]) > ISCSI_PORTAL_MAX)
		status = usage_error("portal '%s' is too long", t->args[0]);
	if (status)
		return free(e.cfg), status;
	strcpy(e.cfg->portals[e.cfg->nportals++], t->args[0]);
	return save_global(t, &e, "portal added");
}

static int cmd_portal_remove(struct tool *t)
{
	struct iscsi_edit e = { 0 };
	int status = load_iscsi(t, &e, false);
	if (status)
		return free(e.cfg), status;
	for (unsigned i = 0; i < e.cfg->nportals; i++) {
		if (iscsi_portal_equal(e.cfg->portals[i], t->args[0])) {
			memmove(e.cfg->portals[i], e.cfg->portals[--e.cfg->nportals],
				sizeof(e.cfg->portals[0]));
			return save_global(t, &e, "portal removed");
		}
	}
	fprintf(stderr, "slate-store: no portal '%s'\n", t->args[0]);
	free(e.cfg);
	return EXIT_FAIL;
}

/* ---- command line --------------------------------------------------- */

static const struct command commands[] = {
	{ "pool", "create", 0, OPT_CAPACITY | OPT_PLOG | OPT_SOFT_THRESHOLD | OPT_PREALLOCATE, false,
	  cmd_pool_create, "pool create [--capacity SIZE] [--plog SIZE] [--soft-threshold PCT] [--preallocate]" },
	{ "pool", "info", 0, 0, true, cmd_pool_info, "pool info" },
	{ "pool", "scrub", 0, 0, true, cmd_pool_scrub, "pool scrub" },
	{ "pool", "emulate off", 0, 0, true, cmd_pool_emulate, "pool emulate off" },
	{ "pool", "emulate", 0, OPT_CHANNELS | OPT_SERVICE_US | OPT_MBPS | OPT_MAX_IOPS, true,
	  cmd_pool_emulate, "pool emulate [--channels N] [--service-us U] [--mbps M] [--max-iops I]" },
	{ "volume", "create", 2, 0, true, cmd_volume_create, "volume create NAME SIZE" },
	{ "volume", "list", 0, 0, true, cmd_volume_list, "volume list" },
	{ "volume", "resize", 2, 0, true, cmd_volume_resize, "volume resize NAME SIZE" },
	{ "volume", "delete", 1, 0, true, cmd_volume_delete, "volume delete NAME" },
	{ "snapshot", "create", 2, 0, true, cmd_snapshot_create, "snapshot create VOLUME NAME" },
	{ "snapshot", "list", 1, 0, true, cmd_snapshot_list, "snapshot list VOLUME" },
	{ "snapshot", "delete", 2, 0, true, cmd_snapshot_delete, "snapshot delete VOLUME NAME" },
	{ "snapshot", "rollback", 2, OPT_DELETE_NEWER, true, cmd_snapshot_rollback,
	  "snapshot rollback VOLUME NAME [--delete-newer]" },
	{ "clone", NULL, 3, 0, true, cmd_clone, "clone VOLUME SNAPSHOT NEWNAME" },
	{ "import", NULL, 2, 0, true, cmd_import, "import VOLUME FILE" },
	{ "export", NULL, 2, OPT_SNAPSHOT, true, cmd_export, "export VOLUME FILE [--snapshot NAME]" },
	{ "space", NULL, 0, 0, true, cmd_space, "space" },
	{ "target", "create", 1, 0, true, cmd_target_create, "target create IQN" },
	{ "target", "delete", 1, 0, true, cmd_target_delete, "target delete IQN" },
	{ "target", "list", 0, 0, true, cmd_target_list, "target list" },
	{ "target", "map", 3, 0, true, cmd_target_map, "target map IQN LUN VOLUME" },
	{ "target", "unmap", 2, 0, true, cmd_target_unmap, "target unmap IQN LUN" },
	{ "target", "allow", 2, 0, true, cmd_target_allow, "target allow IQN INITIATOR" },
	{ "target", "disallow", 2, 0, true, cmd_target_disallow, "target disallow IQN INITIATOR" },
	{ "target", "chap", 3, OPT_MUTUAL_USER | OPT_MUTUAL_SECRET, true, cmd_target_chap,
	  "target chap IQN USER SECRET [--mutual-user USER --mutual-secret SECRET]" },
	{ "target", "nochap", 1, 0, true, cmd_target_nochap, "target nochap IQN" },
	{ "discovery", "chap", 2, OPT_MUTUAL_USER | OPT_MUTUAL_SECRET, true, cmd_discovery_chap,
	  "discovery chap USER SECRET [--mutual-user USER --mutual-secret SECRET]" },
	{ "discovery", "nochap", 0, 0, true, cmd_discovery_nochap, "discovery nochap" },
	{ "portal", "add", 1, 0, true, cmd_portal_add, "portal add ADDR:PORT" },
	{ "portal", "remove", 1, 0, true, cmd_portal_remove, "portal remove ADDR:PORT" },
	{ "nfs-export", "add", -2, 0, true, cmd_nfs_export_add,
	  "nfs-export add PATH CLIENT(OPTIONS) [CLIENT(OPTIONS)...]" },
	{ "nfs-export", "remove", 1, 0, true, cmd_nfs_export_remove, "nfs-export remove PATH" },
	{ "nfs-export", "list", 0, 0, true, cmd_nfs_export_list, "nfs-export list" },
	{ "file", "snapshot", 2, 0, true, cmd_file_snapshot, "file snapshot PATH NAME" },
	{ "file", "snapshots", 1, 0, true, cmd_file_snapshots, "file snapshots PATH" },
	{ "file", "rollback", 2, 0, true, cmd_file_rollback, "file rollback PATH NAME" },
	{ "file", "snapshot-delete", 2, 0, true, cmd_file_snapshot_delete,
	  "file snapshot-delete PATH NAME" },
	{ "file", "clone", 2, 0, true, cmd_file_clone, "file clone PATH NEWPATH" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	fprintf(out, "usage: slate-store POOLDIR COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fprintf(out, "SIZE is bytes with an optional suffix K, M, G or T (powers of 1024).\n"
		     "An empty ACL lets every initiator in; CHAP secrets are 12-64 characters;\n"
		     "a SECRET of - is read from a line of standard input (one-way first).\n"
		     "An NFS CLIENT is *, an address or ADDRESS/PREFIX; OPTIONS as in exports(5):\n"
		     "rw ro root_squash no_root_squash all_squash secure insecure anonuid=N anongid=N.\n"
		     "PATHs are paths of the NFS namespace (/demo/disk.img).\n"
		     "pool emulate puts an EMULATED DEVICE, for tests and benchmarks only, in front\n"
		     "of the pool's data: N channels (default 1), each busy U us + size / M MB/s\n"
		     "(10^6 bytes/s) per read or write, at most I IOPS; slated applies it at open.\n"
		     "The pool must not be open in slated.  Exit: 0 ok, 1 failure, 2 usage.\n");
}

/* Split argv[2..] into words (kept in argv order in words[]) and options
 * (into t).  Returns the number of words, or -1 after a usage message. */
static int split_args(int argc, char **argv, struct tool *t, char **words)
{
	int nwords = 0;
	for (int i = 2; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			words[nwords++] = argv[i];
			continue;
		}
		size_t k = 0;
		while (k < NOPTIONS && strcmp(argv[i], option_specs[k].name) != 0)
			k++;
		if (k == NOPTIONS)
			return usage_error("unknown option '%s'", argv[i]), -1;
		if (option_specs[k].takes_value) {
			if (i + 1 >= argc)
				return usage_error("option %s needs a value", argv[i]), -1;
			t->values[k] = argv[++i];
		}
		t->given |= option_specs[k].bit;
	}
	return nwords;
}

static const struct command *match_command(char **words, int nwords, int *consumed)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		if (strcmp(words[0], c->group) != 0)
			continue;
		if (!c->verb) {
			*consumed = 1;
			return c;
		}
		const char *space = strchr(c->verb, ' ');
		if (space && nwords > 2 && strlen(words[1]) == (size_t)(space - c->verb) &&
		    !strncmp(words[1], c->verb, (size_t)(space - c->verb)) &&
		    !strcmp(words[2], space + 1)) {
			*consumed = 3;
			return c;
		}
		if (nwords > 1 && strcmp(words[1], c->verb) == 0) {
			*consumed = 2;
			return c;
		}
	}
	return NULL;
}

/* Find the command and check its arguments; NULL after a usage message. */
static const struct command *parse_command(int argc, char **argv, struct tool *t, char **words)
{
	int nwords = split_args(argc, argv, t, words);
	if (nwords < 0)
		return NULL;
	if (nwords == 0)
		return usage_error("missing command"), NULL;
	int consumed = 0;
	const struct command *c = match_command(words, nwords, &consumed);
	if (!c)
		return usage_error("unknown command '%s%s%s'", words[0], nwords > 1 ? " " : "",
				   nwords > 1 ? words[1] : ""), NULL;
	int given = nwords - consumed, want = c->nargs < 0 ? -c->nargs : c->nargs;
	if (given < want || (c->nargs >= 0 && given > want))
		return usage_error("%s arguments for '%s'", given < want ? "missing" : "too many",
				   c->synopsis), NULL;
	if (t->given & ~c->allowed)
		return usage_error("an option given does not apply to '%s'", c->synopsis), NULL;
	t->args = words + consumed;
	t->nargs = given;
	return c;
}

static int open_pool(struct tool *t)
{
	struct cowstore_err err = { "" };
	int rc = cowstore_open(t->pooldir, &t->cs, &err);
	if (rc < 0) {
		fail(rc, &err, "opening pool %s", t->pooldir);
		if (rc == -EBUSY || rc == -EAGAIN)
			fprintf(stderr, "slate-store: is slated running on this pool? "
				"slate-store works only on a pool no daemon has open\n");
		return EXIT_FAIL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		print_usage(stdout);
		return 0;
	}
	if (argc < 3)
		return usage_error(argc < 2 ? "missing POOLDIR and command" : "missing command");
	struct tool t = { .pooldir = argv[1] };
	char **words = calloc((size_t)argc, sizeof(*words));
	if (!words)
		return fail(-ENOMEM, NULL, "parsing arguments");
	const struct command *c = parse_command(argc, argv, &t, words);
	int status = c ? 0 : EXIT_USAGE;
	if (c && c->opens_pool)
		status = open_pool(&t);
	if (c && !status)
		status = c->run(&t);
	if (t.cs)
		cowstore_close(t.cs);
	free(words);
	if (fflush(stdout) != 0 && !status)
		status = fail(-errno, NULL, "writing standard output");
	return status;
}
