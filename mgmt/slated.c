/*
 * slated.c - the Slate daemon.  It owns the pools, the iSCSI target, the
 * NFS v3 server and the management plane (mgmt.h: REST API, users, events,
 * tasks, schedules), and starts and stops them in that order and its
 * reverse: the API goes first on SIGTERM or SIGINT, so no request starts
 * work while the data path drains; then iSCSI and NFS (in-flight commands
 * finish); then the pools close cleanly.
 *
 *   slated [--config FILE] [--data DIR] [--pool NAME=DIR]... [--iscsi ADDR:PORT]
 *          [--nfs ADDR:PORT] [--portmap on|off] [--api ADDR:PORT] [--print-config]
 *
 * Settings (settings.c): built-in defaults (data ./var, NFS 127.0.0.1:2049,
 * API 127.0.0.1:8080, log level info), then the --config file, then flags.
 * SIGHUP re-reads them; the log level changes live, the rest at the next
 * start.  Objects (volumes, targets, exports, VMs, schedules, users) live
 * in the pool and are managed through the API.
 *
 * What is served is kept in the pool (target/iscsi/config.c): targets, LUN
 * mappings, ACLs, CHAP, portals.  Embedded default: when the pool has no
 * iSCSI configuration at all (a new pool), a 1 GiB thin volume "demo" is
 * created and saved as LUN 0 of target iqn.2026-11.dev.slate:demo
 * (deleting it later is for good); with no portal configured, iSCSI
 * listens on 127.0.0.1:3260.  --iscsi ADDR:PORT replaces the portals
 * (tests use 127.0.0.1:0).
 *
 * NFS: exports live in the pool too; a pool that never had one gets /demo,
 * exported read-write with no_root_squash to 127.0.0.1 and ::1.  NFS and
 * MOUNT share one port.  The portmapper: slated registers with an rpcbind
 * running on 127.0.0.1:111, or else answers it itself on ADDR:111
 * (--portmap off: neither; clients then need the port).
 *
 * DIR is created with a pool in it (64 GiB thin capacity, no plog) when it is
 * missing or empty; a non-empty DIR must already hold a pool.  DIR holds the
 * primary pool; --pool NAME=DIR (setting pool.NAME) adds more, made the same
 * way, each with its own range of volume ids (mgmt.h, pools.c).  On the first
 * start the API's admin token and password are written to DIR/admin-token
 * and DIR/admin-password (mode 0600).
 *
 * Signals: SIGTERM, SIGINT and SIGHUP are blocked before cowstore starts
 * its threads, so every thread inherits the mask and the signals arrive
 * only through the signalfd that main polls.
 * Logs go to stderr, one write(2) per line with a UTC timestamp prefix, so
 * lines from other threads never interleave with main's.
 * Exit status: 0 after a clean shutdown, 1 a failure, 2 a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/cowstore.h"
#include "target/iscsi/iscsi.h"
#include "mgmt/mgmt.h"
#include "qos/qos.h"
#include "target/nfs/nfs.h"

#define DEMO_VOLUME "demo"
#define DEMO_VOLUME_BYTES (1ull << 30)
#define DEMO_TARGET "iqn.2026-11.dev.slate:demo"
#define DEFAULT_PORTAL "127.0.0.1:3260"
#define DEFAULT_NFS "127.0.0.1:2049"

/* The daemon's state; owned by main, handed down. */
struct slated {
	struct mgmt_settings set;  /* built-in defaults, then --config, then flags */
	const char *data_dir;      /* set.data_dir */
	const char *config_path;   /* NULL when not given */
	char *flags[16][2];        /* the flags given, re-applied over a reloaded file */
	unsigned nflags;
	char pool_keys[MGMT_POOLS_MAX][MGMT_POOL_NAME_MAX + 6]; /* "pool.NAME" of --pool */
	unsigned npool_keys;
	struct mgmt_pools pools;   /* every pool served; [0] is the primary */
	struct cowstore *cs;       /* the primary's */
	int signal_fd;
	const char *iscsi_portal;  /* set.iscsi, or NULL: the configured portals */
	struct iscsi_config *iscsi_cfg;
	struct iscsi_server *iscsi;
	const char *nfs_address;   /* set.nfs */
	bool no_portmap;
	struct nfs_server *nfs;
	struct mgmt *mgmt;         /* freed after the pool closes: events may still come */
	struct qos_stats *stats;   /* IO counters the targets record into */
	struct qos_gate *gate;     /* mClock between both targets and the pool */
	struct qos_history *history; /* sampled each second by the management thread */
	/* The server that cowstore events (store thread) are forwarded to: set
	 * once it serves; the pool is closed before the server is destroyed. */
	struct iscsi_server *_Atomic iscsi_events;
	struct mgmt *_Atomic mgmt_events; /* likewise, once the API serves */
};

/* ---- logging -------------------------------------------------------- */

/* Lines below this level are dropped: 0 error, 1 warning, 2 info.  The one
 * piece of process-wide state here, like stderr itself; SIGHUP changes it. */
static atomic_int log_threshold = 2;

/* A line's level, from how it begins: "error...", "warning...", else info. */
static int line_level(const char *text)
{
	return !strncmp(text, "error", 5) ? 0 : !strncmp(text, "warning", 7) ? 1 : 2;
}

static void __attribute__((format(printf, 1, 2))) log_line(const char *fmt, ...)
{
	char line[1024];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	len += (size_t)snprintf(line + len, sizeof(line) - len, ".%03ldZ slated: ",
				now.tv_nsec / 1000000);
	size_t start = len;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap); /* keep room for '\n' */
	va_end(ap);
	if (line_level(line + start) > atomic_load(&log_threshold))
		return;
	len = strlen(line);
	line[len++] = '\n';
	/* One write per line; a failing stderr has nowhere to report to. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

/* The management plane's lines (events, HTTP errors), any thread. */
static void log_mgmt(void *arg, const char *text)
{
	log_line("%s", text);
}

static const char *event_name(enum cowstore_event_type type)
{
	switch (type) {
	case COWSTORE_EVENT_SOFT_THRESHOLD:
		return "soft threshold crossed";
	case COWSTORE_EVENT_CHECKSUM_ERROR:
		return "checksum error";
	case COWSTORE_EVENT_POOL_FULL:
		return "pool full";
	}
	return "unknown event";
}

/* Runs on the store thread: one formatted write, and the soft threshold
 * passed on to iSCSI sessions as a unit attention. */
static void on_cowstore_event(void *arg, const struct cowstore_event *ev)
{
	struct slated *sd = arg;
	struct iscsi_server *iscsi = atomic_load(&sd->iscsi_events);
	if (ev->type == COWSTORE_EVENT_SOFT_THRESHOLD && iscsi)
		iscsi_server_thin_threshold_reached(iscsi);
	log_line("event: %s: %s (volume %" PRIu64 ", snapshot %" PRIu64 ", sector %" PRIu64
		 ", data block %" PRIu64 ")", event_name(ev->type), ev->message, ev->volume_id,
		 ev->snapshot_id, ev->lba, ev->pblock);
	struct mgmt *m = atomic_load(&sd->mgmt_events);
	char object[32];
	snprintf(object, sizeof(object), "volume %" PRIu64, ev->volume_id);
	if (m)
		mgmt_event_async(m, ev->type == COWSTORE_EVENT_SOFT_THRESHOLD ? "warning" : "error",
				 ev->type == COWSTORE_EVENT_SOFT_THRESHOLD ? "soft-threshold"
				 : ev->type == COWSTORE_EVENT_POOL_FULL	   ? "pool-full"
									   : "checksum-error",
				 ev->volume_id ? object : "pool", ev->message);
}

/* ---- the pools -------------------------------------------------------- */

/* The primary (the data directory) and those the settings name; each
 * pool's events come to on_cowstore_event. */
static int open_pools(struct slated *sd)
{
	int rc = mgmt_pools_open(&sd->pools, &sd->set, log_mgmt, NULL);
	if (rc)
		return rc;
	sd->cs = sd->pools.pool[0].cs;
	for (unsigned i = 0; i < sd->pools.count; i++)
		cowstore_set_event_handler(sd->pools.pool[i].cs, on_cowstore_event, sd);
	return 0;
}

static void log_pool_state(const struct mgmt_pool *pool)
{
	struct cowstore_pool_info info;
	int rc = cowstore_pool_info(pool->cs, &info);
	if (rc < 0) {
		log_line("warning: cannot read the state of pool %s in %s: %s", pool->name,
			 pool->dir, strerror(-rc));
		return;
	}
	log_line("pool %s in %s: format %" PRIu32 ", capacity %" PRIu64 " bytes, allocated %"
		 PRIu64 " bytes (%.1f%%), free %" PRIu64 " bytes, %" PRIu32 " volumes, %" PRIu32
		 " snapshots, plog %" PRIu64 " bytes, soft threshold %u%%%s, ids from %" PRIu64,
		 pool->name, pool->dir, info.format_version, info.capacity_bytes,
		 info.allocated_bytes, info.capacity_bytes ? 100.0 * (double)info.allocated_bytes /
							       (double)info.capacity_bytes : 0.0,
		 info.free_bytes, info.nvolumes, info.nsnapshots, info.plog_bytes,
		 info.soft_threshold_pct, info.soft_threshold_crossed ? " (CROSSED)" : "",
		 info.first_id);
	struct cowstore_emulation emu;
	char text[160];
	if (cowstore_emulation_get(pool->cs, &emu) == 0 && emu.on) {
		cowstore_emulation_describe(&emu, text, sizeof(text));
		log_line("warning: pool %s uses an EMULATED DEVICE (for tests and benchmarks): %s; "
			 "remove it with slate-store %s pool emulate off", pool->name, text,
			 pool->dir);
	}
}

/* ---- iSCSI ------------------------------------------------------------ */

/* First start: the demo volume and a target serving it, saved in the pool
 * like any target an operator makes with slate-store, then the global
 * record, which says the pool's iSCSI setup is made: an operator who later
 * deletes every target does not get the demo target back. */
static int create_demo(struct slated *sd)
{
	struct cowstore_err err = { "" };
	struct iscsi_target_config *t = &sd->iscsi_cfg->targets[0];
	char why[256];
	uint64_t id;
	int rc = cowstore_volume_lookup(sd->cs, DEMO_VOLUME, &id);
	if (rc == -ENOENT) {
		rc = cowstore_volume_create(sd->cs, DEMO_VOLUME, DEMO_VOLUME_BYTES, &id, &err);
		if (rc == 0)
			log_line("created volume '%s' (1 GiB thin)", DEMO_VOLUME);
	}
	if (rc) {
		log_line("error: cannot create volume '%s': %s", DEMO_VOLUME,
			 err.msg[0] ? err.msg : strerror(-rc));
		return rc;
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->iqn, sizeof(t->iqn), "%s", DEMO_TARGET);
	snprintf(t->luns[0].volume, sizeof(t->luns[0].volume), "%s", DEMO_VOLUME);
	t->nluns = 1;
	rc = iscsi_config_save_target(sd->cs, t, why, sizeof(why));
	if (rc) {
		log_line("error: cannot save the demo target: %s", rc == -EINVAL ? why : strerror(-rc));
		return rc;
	}
	sd->iscsi_cfg->ntargets = 1;
	rc = iscsi_config_save_global(sd->cs, sd->iscsi_cfg, why, sizeof(why));
	if (rc) {
		log_line("error: cannot save the iSCSI settings: %s", rc == -EINVAL ? why : strerror(-rc));
		return rc;
	}
	log_line("created target %s with LUN 0 = volume '%s'", DEMO_TARGET, DEMO_VOLUME);
	return 0;
}

static int load_iscsi_config(struct slated *sd)
{
	char why[256];
	if (!(sd->iscsi_cfg = calloc(1, sizeof(*sd->iscsi_cfg))))
		return -ENOMEM;
	int rc = iscsi_config_load(sd->cs, sd->iscsi_cfg, why, sizeof(why));
	if (rc) {
		log_line("error: cannot load the iSCSI configuration: %s",
			 rc == -EINVAL ? why : strerror(-rc));
		return rc;
	}
	if (!sd->iscsi_cfg->ntargets && !sd->iscsi_cfg->initialized)
		return create_demo(sd);
	if (!sd->iscsi_cfg->ntargets)
		log_line("warning: no iSCSI target is configured; add one with "
			 "'slate-store %s target create IQN'", sd->data_dir);
	return 0;
}

/* The portals: --iscsi, else the configured ones, else 127.0.0.1:3260. */
static int add_portals(struct slated *sd, char *first, size_t first_len)
{
	struct iscsi_server_options opts = { .stats = sd->stats, .gate = sd->gate,
					     .finder = { mgmt_pools_finder, &sd->pools } };
	const struct iscsi_config *cfg = sd->iscsi_cfg;
	unsigned n = sd->iscsi_portal ? 1 : cfg->nportals ? cfg->nportals : 1;
	for (unsigned i = 0; i < n; i++) {
		const char *portal = sd->iscsi_portal ? sd->iscsi_portal
				     : cfg->nportals  ? cfg->portals[i] : DEFAULT_PORTAL;
		char address[64];
		uint16_t port;
		int rc = iscsi_portal_parse(portal, address, sizeof(address), &port);
		if (!rc && i == 0) {
			opts.address = address;
			opts.port = port;
			snprintf(first, first_len, strchr(address, ':') ? "[%s]" : "%s", address);
			rc = iscsi_server_create(sd->cs, &opts, &sd->iscsi);
		} else if (!rc) {
			rc = iscsi_server_add_portal(sd->iscsi, address, port);
		}
		if (rc) {
			log_line("error: cannot use portal %s: %s", portal, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* The configuration to serve: the stored one less the LUNs whose volume is
 * gone, which are logged and left out rather than keeping every other
 * target from being served (iscsi_server_apply_config refuses a missing
 * volume).  The caller frees it. */
static void log_dropped_lun(void *arg, const struct iscsi_target_config *t,
			    const struct iscsi_lun_map *l)
{
	log_line("warning: target %s LUN %llu: no volume '%s'; LUN not served", t->iqn,
		 (unsigned long long)l->lun, l->volume);
}

static struct iscsi_config *servable_config(struct slated *sd)
{
	struct iscsi_config *cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return NULL;
	*cfg = *sd->iscsi_cfg;
	struct iscsi_volume_finder finder = { mgmt_pools_finder, &sd->pools };
	iscsi_config_drop_missing_luns(sd->cs, &finder, cfg, log_dropped_lun, NULL);
	return cfg;
}

static int start_iscsi(struct slated *sd)
{
	char first[72], why[256] = "";
	const struct iscsi_config *cfg;
	int rc = load_iscsi_config(sd);
	if (!rc)
		rc = add_portals(sd, first, sizeof(first));
	if (rc)
		return rc;
	cfg = sd->iscsi_cfg;
	struct iscsi_config *serve = servable_config(sd);
	rc = serve ? iscsi_server_apply_config(sd->iscsi, serve, why, sizeof(why)) : -ENOMEM;
	if (rc)
		log_line("error: cannot serve the iSCSI configuration: %s",
			 why[0] ? why : strerror(-rc));
	for (unsigned i = 0; serve && !rc && i < serve->ntargets; i++) {
		const struct iscsi_target_config *t = &serve->targets[i];
		log_line("iSCSI: target %s, %u LUN(s)%s%s", t->iqn, t->nluns,
			 t->auth.chap.user[0] ? ", CHAP" : "", t->nacl ? ", ACL" : "");
	}
	free(serve);
	if (!rc)
		rc = iscsi_server_start(sd->iscsi);
	if (rc) {
		log_line("error: cannot serve iSCSI: %s", strerror(-rc));
		return rc;
	}
	atomic_store(&sd->iscsi_events, sd->iscsi);
	log_line("iSCSI: listening on %s:%u, %u portal(s), %u target(s)", first,
		 iscsi_server_port(sd->iscsi), sd->iscsi_portal ? 1 : cfg->nportals ? cfg->nportals : 1,
		 cfg->ntargets);
	return 0;
}

/* ---- NFS ---------------------------------------------------------------- */

static int start_nfs(struct slated *sd)
{
	char address[64], err[256] = "";
	uint16_t port;
	bool created;
	int rc = nfs_export_default(sd->cs, &created);
	if (rc < 0) {
		log_line("error: cannot create the default NFS export /demo: %s", strerror(-rc));
		return rc;
	}
	if (created)
		log_line("NFS: exported /demo to 127.0.0.1 and ::1 (read-write, no_root_squash)");
	iscsi_portal_parse(sd->nfs_address ? sd->nfs_address : DEFAULT_NFS, address,
			   sizeof(address), &port);
	struct nfs_server_options opts = { .address = address, .port = port, .stats = sd->stats,
					   .gate = sd->gate, .portmap = !sd->no_portmap };
	rc = nfs_server_create(sd->cs, &opts, &sd->nfs, err, sizeof(err));
	if (rc == 0)
		rc = nfs_server_start(sd->nfs, err, sizeof(err));
	if (rc < 0) {
		log_line("error: cannot serve NFS: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	log_line(strchr(address, ':') ? "NFS: listening on [%s]:%u (NFS v3, MOUNT v3), portmapper %s"
				       : "NFS: listening on %s:%u (NFS v3, MOUNT v3), portmapper %s",
		 address, nfs_server_port(sd->nfs), nfs_server_portmap_mode(sd->nfs));
	return 0;
}

/* ---- signals and the main loop -------------------------------------- */

/* Block SIGTERM, SIGINT and SIGHUP (inherited by threads started later)
 * and return a signalfd for them, or -errno. */
static int block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* A shell starts background jobs with SIGINT ignored; take it back. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc)
		return -rc;
	int fd = signalfd(-1, &set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void apply_log_level(const struct mgmt_settings *set)
{
	atomic_store(&log_threshold, !strcmp(set->log_level, "error")     ? 0
				     : !strcmp(set->log_level, "warning") ? 1 : 2);
}

/* Settings: the built-in defaults, the file, then the flags.  0, or -EINVAL
 * with the reason in err. */
static int load_settings(struct slated *sd, struct mgmt_settings *set, char *err, size_t errlen)
{
	mgmt_settings_default(set);
	int rc = sd->config_path ? mgmt_settings_load(sd->config_path, set, err, errlen) : 0;
	for (unsigned i = 0; i < sd->nflags && !rc; i++)
		if ((rc = mgmt_settings_set(set, sd->flags[i][0], sd->flags[i][1])))
			snprintf(err, errlen, "bad --%s '%s'", sd->flags[i][0], sd->flags[i][1]);
	return rc;
}

/* SIGHUP: re-read the settings file.  Only the log level changes live; the
 * others (addresses, data directory, certificate) need a restart, which a
 * line says when they differ. */
static void reload(struct slated *sd)
{
	struct mgmt_settings set;
	char err[512];
	if (load_settings(sd, &set, err, sizeof(err))) {
		log_line("warning: SIGHUP: keeping the current settings: %s", err);
		return;
	}
	bool restart = strcmp(set.data_dir, sd->set.data_dir) || strcmp(set.iscsi, sd->set.iscsi) ||
		       strcmp(set.nfs, sd->set.nfs) || set.portmap != sd->set.portmap ||
		       strcmp(set.api, sd->set.api) || strcmp(set.tls_cert, sd->set.tls_cert) ||
		       strcmp(set.tls_key, sd->set.tls_key);
	log_line("SIGHUP: settings re-read; log level %s%s", set.log_level,
		 restart ? "; changed addresses, data directory or certificate apply at the next "
			   "start" : "");
	apply_log_level(&set); /* after the line above, which a quieter level would drop */
	snprintf(sd->set.log_level, sizeof(sd->set.log_level), "%s", set.log_level);
}

/* Serve until SIGTERM or SIGINT (SIGHUP reloads); 0, or -errno if waiting
 * failed. */
static int serve(struct slated *sd)
{
	struct pollfd fds[] = { { .fd = sd->signal_fd, .events = POLLIN } };
	for (;;) {
		if (poll(fds, sizeof(fds) / sizeof(fds[0]), -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		struct signalfd_siginfo si;
		ssize_t n = read(sd->signal_fd, &si, sizeof(si));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n != (ssize_t)sizeof(si))
			return n < 0 ? -errno : -EIO;
		if (si.ssi_signo == SIGHUP) {
			reload(sd);
			continue;
		}
		log_line("received %s from pid %" PRIu32 ", shutting down",
			 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", si.ssi_pid);
		return 0;
	}
}

/* ---- the management plane ---------------------------------------------- */

/* The console's files: the web setting, else "web" beside this binary
 * (build/web after make), else none. */
static void find_web_root(struct slated *sd, char *out, size_t len)
{
	char exe[2048];
	struct stat st;
	out[0] = '\0';
	if (sd->set.web[0]) {
		snprintf(out, len, "%s", sd->set.web);
		return;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(out, len, "%s/web", exe);
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		out[0] = '\0';
}

static int start_mgmt(struct slated *sd)
{
	char err[512] = "", web[4096];
	find_web_root(sd, web, sizeof(web));
	struct mgmt_options opts = {
		.cs = sd->cs,
		.pools = &sd->pools,
		.iscsi = sd->iscsi,
		.nfs = sd->nfs,
		.stats = sd->stats,
		.history = sd->history,
		.gate = sd->gate,
		.data_dir = sd->data_dir,
		.listen = sd->set.api,
		.web_root = web[0] ? web : NULL,
		.tls_cert_file = sd->set.tls_cert[0] ? sd->set.tls_cert : NULL,
		.tls_key_file = sd->set.tls_key[0] ? sd->set.tls_key : NULL,
		.log = log_mgmt,
	};
	int rc = mgmt_create(&opts, &sd->mgmt, err, sizeof(err));
	if (!rc)
		rc = mgmt_start(sd->mgmt, err, sizeof(err));
	if (rc) {
		log_line("error: cannot serve the API: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	atomic_store(&sd->mgmt_events, sd->mgmt);
	log_line("API: listening on %s://%.*s:%u/api/v1 (admin token in %s/admin-token)",
		 sd->set.tls_cert[0] ? "https" : "http", (int)(strrchr(sd->set.api, ':') - sd->set.api),
		 sd->set.api, mgmt_port(sd->mgmt), sd->data_dir);
	if (web[0])
		log_line("web console: %s, served at / on the API's port", web);
	else
		log_line("web console: not built (make web), so / answers 404");
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: slated [--config FILE] [--data DIR] [--pool NAME=DIR]... [--iscsi ADDR:PORT]\n"
		     "              [--nfs ADDR:PORT] [--portmap on|off] [--api ADDR:PORT] [--print-config]\n"
		     "  --config FILE     settings file (key = value; see --print-config)\n"
		     "  --data DIR        the primary pool's directory (default ./var); created with a\n"
		     "                    64 GiB thin pool if missing or empty\n"
		     "  --pool NAME=DIR   one more pool (setting pool.NAME), made the same way\n"
		     "  --iscsi ADDR:PORT iSCSI portal (default: the pool's, else 127.0.0.1:3260)\n"
		     "  --nfs ADDR:PORT   NFS v3 and MOUNT v3 (default 127.0.0.1:2049)\n"
		     "  --portmap on|off  register with rpcbind, or answer the portmapper on ADDR:111\n"
		     "                    when none runs (default on)\n"
		     "  --api ADDR:PORT   REST API (default 127.0.0.1:8080; port 0 picks one)\n"
		     "  --print-config    print the settings in effect and exit\n");
}

/* The last flag taken was --pool NAME=DIR: make it the setting pool.NAME
 * with value DIR (kept in sd->pool_keys).  false when it is not NAME=DIR. */
static bool pool_flag(struct slated *sd)
{
	char **flag = sd->flags[sd->nflags - 1];
	const char *eq = strchr(flag[1], '=');
	unsigned n = sd->npool_keys;
	if (!eq || eq == flag[1] || !eq[1] || (size_t)(eq - flag[1]) > MGMT_POOL_NAME_MAX ||
	    n == sizeof(sd->pool_keys) / sizeof(sd->pool_keys[0]))
		return false;
	snprintf(sd->pool_keys[n], sizeof(sd->pool_keys[n]), "pool.%.*s", (int)(eq - flag[1]),
		 flag[1]);
	flag[0] = sd->pool_keys[n];
	flag[1] = (char *)eq + 1;
	sd->npool_keys++;
	return true;
}

/* 0, or the exit status after a usage message (or -1 after printing the
 * settings). */
static int parse_args(int argc, char **argv, struct slated *sd)
{
	static const char *const keys[][2] = { { "--data", "data" },	 { "--iscsi", "iscsi" },
					       { "--nfs", "nfs" },	 { "--portmap", "portmap" },
					       { "--api", "api" },	 { "--pool", "pool" } };
	bool print = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(argv[i], "--print-config")) {
			print = true;
			continue;
		}
		size_t k = 0;
		while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(argv[i], keys[k][0]))
			k++;
		if (k == sizeof(keys) / sizeof(keys[0]) && strcmp(argv[i], "--config")) {
			fprintf(stderr, "slated: unknown argument '%s'\n", argv[i]);
			return usage(stderr), 2;
		}
		if (i + 1 >= argc || argv[i + 1][0] == '\0') {
			fprintf(stderr, "slated: %s needs a value\n", argv[i]);
			return usage(stderr), 2;
		}
		if (k == sizeof(keys) / sizeof(keys[0])) {
			sd->config_path = argv[++i];
			continue;
		}
		if (sd->nflags == sizeof(sd->flags) / sizeof(sd->flags[0])) {
			fprintf(stderr, "slated: too many flags\n");
			return usage(stderr), 2;
		}
		sd->flags[sd->nflags][0] = (char *)keys[k][1], sd->flags[sd->nflags++][1] = argv[++i];
		if (!strcmp(keys[k][1], "pool") && !pool_flag(sd)) {
			fprintf(stderr, "slated: --pool wants NAME=DIR\n");
			return usage(stderr), 2;
		}
	}
	char err[512];
	if (load_settings(sd, &sd->set, err, sizeof(err))) {
		fprintf(stderr, "slated: %s\n", err);
		return usage(stderr), 2;
	}
	char address[64];
	uint16_t port;
	const char *bad = sd->set.iscsi[0] && iscsi_portal_parse(sd->set.iscsi, address, sizeof(address), &port)
				  ? "iscsi"
			  : iscsi_portal_parse(sd->set.nfs, address, sizeof(address), &port) ? "nfs"
			  : iscsi_portal_parse(sd->set.api, address, sizeof(address), &port) ? "api" : NULL;
	if (bad) {
		fprintf(stderr, "slated: bad %s address: want ADDR:PORT or [ADDR]:PORT\n", bad);
		return usage(stderr), 2;
	}
	if (print) {
		mgmt_settings_print(&sd->set, stdout);
		return -1;
	}
	sd->data_dir = sd->set.data_dir;
	sd->iscsi_portal = sd->set.iscsi[0] ? sd->set.iscsi : NULL;
	sd->nfs_address = sd->set.nfs;
	sd->no_portmap = !sd->set.portmap;
	apply_log_level(&sd->set);
	return 0;
}

int main(int argc, char **argv)
{
	struct slated sd = { .signal_fd = -1 };
	int status = parse_args(argc, argv, &sd);
	if (status)
		return status < 0 ? 0 : status;
	log_line("starting, pid %ld, data directory %s%s%s", (long)getpid(), sd.data_dir,
		 sd.config_path ? ", settings " : "", sd.config_path ? sd.config_path : "");
	sd.signal_fd = block_signals();
	if (sd.signal_fd < 0) {
		log_line("error: cannot set up signal handling: %s", strerror(-sd.signal_fd));
		return 1;
	}
	if (open_pools(&sd) < 0) {
		log_line("exiting: the pools cannot all be opened");
		close(sd.signal_fd);
		return 1;
	}
	for (unsigned i = 0; i < sd.pools.count; i++)
		log_pool_state(&sd.pools.pool[i]);
	int rc;
	if ((rc = qos_stats_create(&sd.stats)) == 0)
		rc = qos_history_create(sd.stats, sd.cs, &sd.history);
	if (rc == 0)
		rc = qos_gate_create(NULL, &sd.gate); /* inactive until QoS gives a VM a policy */
	if (rc)
		log_line("error: cannot set up IO statistics and QoS: %s", strerror(-rc));
	/* Start order: data path first (iSCSI, NFS), then the API that
	 * manages them; stop order is the reverse. */
	if (rc == 0)
		rc = start_iscsi(&sd);
	if (rc == 0)
		rc = start_nfs(&sd);
	if (rc == 0)
		rc = start_mgmt(&sd);
	if (rc == 0) {
		log_line("ready; serving until SIGTERM or SIGINT");
		rc = serve(&sd);
		if (rc < 0)
			log_line("error: waiting for signals failed: %s; shutting down",
				 strerror(-rc));
	}
	if (sd.mgmt)
		mgmt_stop(sd.mgmt);     /* no request, schedule or task runs after */
	if (sd.iscsi)
		iscsi_server_stop(sd.iscsi); /* sessions asked to log out; commands finish */
	nfs_server_destroy(sd.nfs);     /* calls in flight finish; unregistered */
	mgmt_pools_close(&sd.pools);    /* no more events after this */
	mgmt_destroy(sd.mgmt);
	iscsi_server_destroy(sd.iscsi);
	qos_gate_destroy(sd.gate);      /* both targets are gone */
	qos_history_destroy(sd.history);
	qos_stats_destroy(sd.stats);
	free(sd.iscsi_cfg);
	log_line("pools closed cleanly; exiting");
	close(sd.signal_fd);
	return rc < 0 ? 1 : 0;
}
