/*
 * mgmt.h - the management plane: the REST API (/api/v1), its users and
 * tokens, events, tasks and the snapshot scheduler, over a pool and the
 * servers slated runs.  slated.c puts the daemon together; tests and the
 * fuzz targets drive mgmt_handle() without HTTP.
 *
 * Threads.  mgmt_start() starts the HTTP server (libmicrohttpd, a small
 * thread pool) and the scheduler thread.  Every handler may run in any of
 * the HTTP threads at once: pool objects are read and written through
 * cowstore (itself thread-safe); in-memory state (events, tasks, the
 * idempotency cache, the live iSCSI configuration) is guarded by the
 * context's lock.  The clock is injectable so the scheduler can be tested
 * in simulated time.
 *
 * Errors are negative errno values; create and start fill a sentence.
 */
#ifndef SLATE_MGMT_H
#define SLATE_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cowstore;
struct iscsi_server;
struct nfs_server;
struct qos_stats;
struct qos_history;
struct qos_gate;
struct mgmt;

/* The time now in Unix nanoseconds. */
typedef int64_t (*mgmt_clock_fn)(void *arg);
/* One log line (no newline). */
typedef void (*mgmt_log_fn)(void *arg, const char *line);

/* ---- pools (pools.c) -------------------------------------------------------
 *
 * An appliance serves a primary pool, the data directory, which also keeps
 * the management objects, the iSCSI configuration and the NFS namespace
 * (NFS files live there only), and up to MGMT_POOLS_MAX - 1 more pools named
 * in the settings ("pool.NAME = DIR"), each on its own device.  Volumes live
 * in any pool.  Their names are unique across the pools, and so are their
 * ids: slated gives each pool it creates its own range of volume and
 * snapshot ids (cowstore's first_id, a multiple of MGMT_POOL_ID_SPAN), and
 * refuses to open pools whose ranges overlap, so an id alone says which pool
 * holds it (statistics, the QoS gate and VM records keep ids). */
#define MGMT_POOLS_MAX 8
#define MGMT_POOL_NAME_MAX 32
#define MGMT_PRIMARY_POOL "default"
#define MGMT_POOL_ID_SPAN (1ull << 40)

struct mgmt_pool {
	char name[MGMT_POOL_NAME_MAX + 1];
	char dir[4096];
	struct cowstore *cs;
	uint64_t first_id;            /* its ids: from here to the next pool's first_id */
};

struct mgmt_pools {
	struct mgmt_pool pool[MGMT_POOLS_MAX]; /* [0] is the primary */
	unsigned count;
};

/* The pool named name, or NULL. */
struct mgmt_pool *mgmt_pools_find(struct mgmt_pools *p, const char *name);
/* The pool whose id range holds id (a volume's or a snapshot's); the
 * primary for ids below every range. */
struct mgmt_pool *mgmt_pools_of_id(struct mgmt_pools *p, uint64_t id);
/* The volume named name in whichever pool holds it: 0 or -ENOENT. */
int mgmt_pools_find_volume(struct mgmt_pools *p, const char *name, struct cowstore **cs,
			   uint64_t *volume_id);
/* After a volume moved to pool cs as volume_id: the VM snapshot records in
 * the primary pool that name its snapshots get their new ids (by the
 * snapshots' names).  0 or a negative errno. */
int mgmt_pools_remap_snapshots(struct cowstore *primary, const char *volume, struct cowstore *cs,
			       uint64_t volume_id);
/* The same with the pools as a void * (an iscsi_volume_finder's find). */
int mgmt_pools_finder(void *pools, const char *name, struct cowstore **cs, uint64_t *volume_id);

struct mgmt_settings;
/* Create (a directory that is missing or empty gets a new 64 GiB thin pool,
 * with a fresh id range) and open every pool the settings name, the
 * primary first; check that their id ranges are disjoint.  Each step is a
 * line through log.  0, or a negative errno with the pools already opened
 * closed again. */
int mgmt_pools_open(struct mgmt_pools *p, const struct mgmt_settings *s, mgmt_log_fn log,
		    void *log_arg);
/* Close every pool (cowstore_close: in-flight IO finishes first). */
void mgmt_pools_close(struct mgmt_pools *p);

struct mgmt_options {
	struct cowstore *cs;          /* required: the primary pool */
	/* Every pool served, pools->pool[0].cs == cs (copied); NULL: cs alone,
	 * named MGMT_PRIMARY_POOL. */
	const struct mgmt_pools *pools;
	struct iscsi_server *iscsi;   /* NULL: no live iSCSI changes or sessions */
	struct nfs_server *nfs;       /* NULL: no live export changes or clients */
	struct qos_stats *stats;      /* NULL: no VM groups are kept in it */
	struct qos_history *history;  /* NULL: stats answer 404; else sampled each second */
	struct qos_gate *gate;        /* the targets' QoS gate; NULL: VM policies not enforced */
	const char *data_dir;         /* where admin-token/admin-password go on first start */
	const char *listen;           /* "ADDR:PORT" ("[::1]:8080"); port 0 picks one */
	const char *web_root;         /* the console's built files, served at "/"; NULL: none */
	const char *tls_cert_file;    /* both set: HTTPS */
	const char *tls_key_file;
	unsigned http_threads;        /* 0 picks 4 */
	bool no_scheduler;            /* tests drive mgmt_scheduler_tick() themselves */
	mgmt_clock_fn clock;          /* NULL: CLOCK_REALTIME */
	void *clock_arg;
	mgmt_log_fn log;              /* NULL: stderr */
	void *log_arg;
};

/* Open the management plane over opts->cs: loads users, tokens, events and
 * schedules; on a pool that never had one, creates the admin user and the
 * admin token and writes them once to DATA/admin-password and
 * DATA/admin-token (0600).  The caller owns *out (mgmt_destroy). */
int mgmt_create(const struct mgmt_options *opts, struct mgmt **out, char *err, size_t errlen);
/* Listen and start the scheduler (catching up missed runs first). */
int mgmt_start(struct mgmt *m, char *err, size_t errlen);
/* The port listened on (after mgmt_start). */
uint16_t mgmt_port(const struct mgmt *m);
/* Stop listening (requests in flight finish), wait for running tasks (a
 * volume move gives up and is undone), stop the management thread: after
 * it nothing uses the pool.  Idempotent; the
 * context stays valid (mgmt_event_async() only queues) until mgmt_destroy. */
void mgmt_stop(struct mgmt *m);
void mgmt_destroy(struct mgmt *m);

/* Record an event (any thread): severity "info", "warning" or "error". */
void mgmt_event(struct mgmt *m, const char *severity, const char *type, const char *object,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same from a thread that must not wait for the pool (cowstore's
 * event handler runs on its store thread): queued, recorded within a
 * second by the management thread.  Up to 64 wait; more are counted and
 * reported as dropped. */
void mgmt_event_async(struct mgmt *m, const char *severity, const char *type, const char *object,
		      const char *message);

/* ---- one request, without HTTP ------------------------------------------ */

#define MGMT_MAX_QUERY 16

struct mgmt_kv {
	const char *key, *value;
};

struct mgmt_request {
	const char *method;          /* "GET", "POST", ... */
	const char *path;            /* decoded, without the query: "/api/v1/volumes" */
	struct mgmt_kv query[MGMT_MAX_QUERY];
	size_t nquery;
	const char *authorization;   /* the header's value, or NULL */
	const char *idempotency_key; /* or NULL */
	const char *content_type;    /* or NULL */
	const char *body;            /* NULL when none */
	size_t body_len;
	const char *peer;            /* the client's address, for events */
};

struct mgmt_response {
	int status;
	const char *content_type;    /* static string */
	char *body;                  /* malloc'ed; NUL-terminated */
	size_t body_len;
	char location[256];          /* "" when none */
	char allow[64];              /* for 405 */
	bool www_authenticate;       /* 401 */
};

/* Answer one request (any thread).  The caller frees resp with
 * mgmt_response_free(). */
void mgmt_handle(struct mgmt *m, const struct mgmt_request *req, struct mgmt_response *resp);
void mgmt_response_free(struct mgmt_response *resp);

/* The largest request body accepted (413 beyond). */
#define MGMT_MAX_BODY (64u * 1024u)

/* Run the schedules due at now_unix_s (the scheduler thread calls it each
 * minute; tests call it with a simulated clock).  Returns how many ran. */
int mgmt_scheduler_tick(struct mgmt *m, int64_t now_unix_s);

/* ---- the daemon's settings (settings.c) ---------------------------------- */

struct mgmt_settings_pool {
	char name[MGMT_POOL_NAME_MAX + 1];
	char dir[4096];
};

struct mgmt_settings {
	char data_dir[4096];
	/* the pools besides the primary: "pool.NAME = DIR" (an empty DIR
	 * removes NAME), in the order first named */
	struct mgmt_settings_pool pools[MGMT_POOLS_MAX - 1];
	unsigned npools;
	char iscsi[80];      /* "" : the portals kept in the pool */
	char nfs[80];
	bool portmap;
	char api[80];
	char tls_cert[4096]; /* "" : plain HTTP */
	char tls_key[4096];
	char log_level[16];  /* error, warning, info */
	char web[4096];      /* the console's files; "" : "web" beside the slated binary */
};

void mgmt_settings_default(struct mgmt_settings *s);
/* One setting by its file key; -ENOENT unknown key, -EINVAL bad value. */
int mgmt_settings_set(struct mgmt_settings *s, const char *key, const char *value);
/* Apply a settings file over s; 0 or -errno with a sentence naming the line. */
int mgmt_settings_load(const char *path, struct mgmt_settings *s, char *err, size_t errlen);
void mgmt_settings_print(const struct mgmt_settings *s, FILE *out);

/* The OpenAPI 3.1 document served at /api/v1/openapi.json. */
extern const char mgmt_openapi_json[];

#endif /* SLATE_MGMT_H */
