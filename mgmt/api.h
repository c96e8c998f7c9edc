/*
 * api.h - private to mgmt/: the context, one API call, the route tables,
 * replies (JSON, RFC 9457 problems, pages) and request decoding.
 *
 * A handler gets a struct api_call with its path parameters decoded, the
 * body parsed (a JSON object for routes that take one) and the caller's
 * identity checked against the route's role; it answers with api_json(),
 * api_problem() or api_list().  Handlers never see HTTP.
 */
#ifndef SLATE_MGMT_API_H
#define SLATE_MGMT_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "mgmt/mgmt.h"

struct MHD_Daemon;
struct api_idem;
struct api_tasks;
struct api_sched;
struct api_qos;
struct api_queued_event;

/* The context; one per daemon (mgmt_create). */
struct mgmt {
	struct cowstore *cs;          /* the primary pool: objects, configuration, NFS */
	struct mgmt_pools pools;      /* every pool; pools.pool[0].cs == cs */
	struct iscsi_server *iscsi;
	struct nfs_server *nfs;
	struct qos_stats *stats;
	struct qos_history *history;
	struct qos_gate *gate;        /* the QoS loop sets it each period; NULL: none */
	char data_dir[4096];
	char listen[80];
	char web_root[4096];          /* "" : no console */
	char *tls_cert, *tls_key;     /* PEM text, owned */
	unsigned http_threads;
	bool no_scheduler;
	mgmt_clock_fn clock;
	void *clock_arg;
	mgmt_log_fn log;
	void *log_arg;

	/* lock guards: event_seq, the idempotency cache, tasks, and every
	 * read-modify-write of the iSCSI configuration or VM records. */
	pthread_mutex_t lock;
	uint64_t event_seq;           /* the last event's id */
	struct api_idem *idem;
	struct api_tasks *tasks;
	struct api_sched *sched;
	struct api_qos *qos;          /* the QoS loop (qos_loop.c); NULL without stats */

	struct MHD_Daemon *httpd;
	uint16_t port;

	/* The management thread (mgmt.c): once a second it records queued
	 * events, samples stats and runs due schedules. */
	pthread_t thread;
	bool thread_running;
	bool stopping;                /* under lock; signalled with wake */
	pthread_cond_t wake;
	struct api_queued_event *queued; /* under lock; QUEUED_EVENTS slots */
	unsigned nqueued, dropped;
};

enum api_role { ROLE_NONE, ROLE_READ, ROLE_ADMIN };

struct api_who {
	enum api_role role;
	char user[64];
	char token_id[24];
};

#define API_MAX_PARAMS 4

struct api_call {
	struct mgmt *m;
	const struct mgmt_request *req;
	char params[API_MAX_PARAMS][256]; /* {name} segments, in order */
	json_t *body;                     /* the parsed object, or NULL */
	struct api_who who;
	struct mgmt_response *resp;
};

/* ---- routes ------------------------------------------------------------- */

#define API_PUBLIC 0x1   /* no token needed */
#define API_BODY 0x2     /* takes a JSON object body */
#define API_CREATES 0x4  /* honours Idempotency-Key */
#define API_BODY_OPTIONAL 0x8 /* a JSON object body may be given (c->body NULL if not) */

struct api_route {
	const char *method;
	const char *pattern;  /* "/api/v1/volumes/{name}" */
	unsigned flags;
	enum api_role role;   /* needed (ignored with API_PUBLIC) */
	void (*handler)(struct api_call *c);
};

struct api_routes {
	const struct api_route *routes;
	size_t count;
};
#define API_ROUTE_TABLE(name, array) \
	const struct api_routes name = { array, sizeof(array) / sizeof(array[0]) }

/* Every table (dispatch.c); tests compare them with the OpenAPI document. */
extern const struct api_routes *const api_all_routes[];
extern const size_t api_nroute_tables;

extern const struct api_routes api_pool_routes, api_volume_routes, api_move_routes,
	api_snapshot_routes,
	api_vm_routes, api_target_routes, api_export_routes, api_file_routes,
	api_schedule_routes, api_qos_routes, api_qos_status_routes, api_session_routes, api_stats_routes,
	api_event_routes, api_task_routes, api_user_routes, api_meta_routes;

/* ---- replies (reply.c) ---------------------------------------------------- */

/* Answer status with obj (the reference is taken). */
void api_json(struct api_call *c, int status, json_t *obj);
/* 201 with obj and a Location header (printf-style). */
void api_created(struct api_call *c, json_t *obj, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_no_content(struct api_call *c);
/* RFC 9457 problem: type is a short slug ("not-found") made into
 * "urn:slate:problem:<slug>"; field a JSON pointer into the body or the
 * name of a path/query parameter, or NULL. */
void api_problem(struct api_call *c, int status, const char *type, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Map a negative errno from a library call to a problem about what
 * (-ENOENT 404, -EEXIST/-EBUSY/-ENOTEMPTY 409, -EINVAL 422, -ENOSPC 507,
 * else 500); detail is the library's sentence, or strerror. */
void api_errno(struct api_call *c, int rc, const char *field, const char *detail);
/* A page of items (a JSON array in list order, taken): ?limit=1..1000
 * (default 100) and ?after=CURSOR, the key_field of the last item seen.
 * Answers {"items": [...], "next": cursor or null}. */
void api_list(struct api_call *c, json_t *items, const char *key_field);
/* ?limit= (1..1000, default 100) into *limit; answers 400 when bad. */
int api_page_limit(struct api_call *c, size_t *limit);
/* The value of query parameter name, or NULL. */
const char *api_query(const struct api_call *c, const char *name);
/* ISO 8601 UTC with milliseconds: "2026-12-07T05:00:00.000Z". */
json_t *api_time(int64_t unix_ns);
/* Parse one; 0 or -EINVAL. */
int api_time_parse(const char *text, int64_t *unix_ns);
int64_t api_now_ns(const struct mgmt *m);

/* ---- request decoding (decode.c) ----------------------------------------- */

enum api_ftype {
	API_F_STRING,   /* char[size] */
	API_F_U64,      /* uint64_t in [min, max] */
	API_F_U32,      /* uint32_t in [min, max] */
	API_F_BOOL,     /* bool */
	API_F_STRINGS,  /* char[max][size] with an unsigned count at count_offset */
	API_F_OBJECT,   /* nested fields at offset */
	API_F_DURATION, /* ISO 8601 duration "P7D", "PT12H" into int64_t seconds */
};

struct api_fields;

struct api_field {
	const char *name;
	enum api_ftype type;
	bool required;
	size_t offset;
	size_t size;                   /* STRING/STRINGS: bytes of one string */
	uint64_t min, max;             /* numbers; STRING: length; STRINGS: count */
	size_t count_offset;           /* STRINGS */
	const struct api_fields *sub;  /* OBJECT */
};

/* Table entries: API_STRING(struct, member, "name", required, min_len) ... */
#define API_FIELD_(t, m, n, req, ty) \
	.name = (n), .type = (ty), .required = (req), .offset = offsetof(t, m)
#define API_STRING(t, m, n, req, min_len) \
	{ API_FIELD_(t, m, n, req, API_F_STRING), .size = sizeof(((t *)0)->m), .min = (min_len) }
#define API_U64(t, m, n, req, lo, hi) \
	{ API_FIELD_(t, m, n, req, API_F_U64), .min = (lo), .max = (hi) }
#define API_U32(t, m, n, req, lo, hi) \
	{ API_FIELD_(t, m, n, req, API_F_U32), .min = (lo), .max = (hi) }
#define API_BOOL(t, m, n, req) { API_FIELD_(t, m, n, req, API_F_BOOL) }
#define API_DURATION(t, m, n, req) { API_FIELD_(t, m, n, req, API_F_DURATION) }
#define API_STRINGS(t, m, count_member, n, req, max_count)                            \
	{ API_FIELD_(t, m, n, req, API_F_STRINGS), .size = sizeof(((t *)0)->m[0]),      \
	  .min = 0, .max = (max_count), .count_offset = offsetof(t, count_member) }
#define API_OBJECT(t, m, n, req, spec) { API_FIELD_(t, m, n, req, API_F_OBJECT), .sub = (spec) }
#define API_SPEC(what, table) { what, table, sizeof(table) / sizeof(table[0]) }

struct api_fields {
	const char *what;              /* "volume", for messages */
	const struct api_field *fields;
	size_t count;                  /* at most 32: bits of *present */
};

struct api_decode_error {
	int status;                    /* 400 or 422 */
	char type[32];                 /* problem slug */
	char field[128];               /* JSON pointer */
	char detail[256];
};

/* Every request body kind (specs.c), for the fuzz target. */
extern const struct api_fields *const api_request_specs[];
extern const size_t api_nrequest_specs;
/* The largest request struct any of them decodes into. */
#define API_REQUEST_MAX 65536

/* Decode obj into out by spec: unknown members, wrong types, missing
 * required members and values out of range are errors.  Bit i of *present
 * (may be NULL) says field i was given. */
int api_decode(const json_t *obj, const struct api_fields *spec, void *out, uint32_t *present,
	       struct api_decode_error *err);
/* The same answering the call with a problem on error; 0 or -EINVAL. */
int api_decode_body(struct api_call *c, const struct api_fields *spec, void *out,
		    uint32_t *present);
/* A body that is only a name: {"name": "..."} (snapshots, clones). */
struct api_name_req {
	char name[64];
};
extern const struct api_fields api_name_spec;
/* A rollback's optional body: {"delete_newer": bool}. */
struct api_rollback_req {
	bool delete_newer;
};
extern const struct api_fields api_rollback_spec;
/* An ISO 8601 duration ("P1W", "P7D", "PT36H", "P1DT12H30M") in seconds. */
int api_duration_parse(const char *text, int64_t *seconds);
/* Object names: 1..63 of [A-Za-z0-9._:@-], not starting with '.'. */
bool api_name_valid(const char *name);

/* ---- shared by handlers ------------------------------------------------------ */

struct cowstore_volume_info;
/* A volume as the API shows it; pool is the name of the pool holding it. */
json_t *api_volume_json(const struct cowstore_volume_info *v, const char *pool);
/* The volume named by c->params[0], in whichever pool: its pool and id;
 * answers 404 when missing. */
int api_volume_find(struct api_call *c, struct cowstore **cs, uint64_t *id);
/* The id of the volume named name in whichever pool: 0 or -ENOENT. */
int api_volume_id(struct mgmt *m, const char *name, uint64_t *id);
/* The pool holding an id (a volume's or a snapshot's). */
struct cowstore *api_pool_of(struct mgmt *m, uint64_t id);
struct cowstore_err;
/* Create a volume in pool cs unless any pool has one of that name
 * (-EEXIST, err says where). */
int api_volume_create(struct mgmt *m, struct cowstore *cs, const char *name,
		      uint64_t size_bytes, uint64_t *id, struct cowstore_err *err);
/* 0 when no pool has a volume named name, else -EEXIST saying where.  The
 * caller holds m->lock, so that the creation that follows is the only one. */
int api_volume_name_free(struct mgmt *m, const char *name, struct cowstore_err *err);
/* The same for a clone of snapshot snap_id of pool cs (made in that pool). */
int api_clone_create(struct mgmt *m, struct cowstore *cs, uint64_t snap_id, const char *name,
		     uint64_t *id, struct cowstore_err *err);
/* The iSCSI sessions now (api_session.c): malloc'ed, *n of them; NULL
 * with *n 0 when there is no iSCSI server or on failure. */
struct iscsi_session_info *api_iscsi_sessions(struct mgmt *m, size_t *n);
/* A name for a new volume, snapshot or object; answers 422 when bad. */
bool api_new_name_ok(struct api_call *c, const char *name, const char *field);

/* ---- objects kept in the pool (objects.c) ------------------------------- */

/* JSON records under "M/<kind>/<name>". */
int api_obj_get(struct mgmt *m, const char *kind, const char *name, json_t **out);
int api_obj_put(struct mgmt *m, const char *kind, const char *name, const json_t *obj);
int api_obj_delete(struct mgmt *m, const char *kind, const char *name);
/* Every object of kind in name order, as a new array. */
int api_obj_list(struct mgmt *m, const char *kind, json_t **out);

/* ---- auth (auth.c) --------------------------------------------------------- */

/* Check "Bearer <token>"; fills who.  0, -EACCES (bad or expired token),
 * -ENOENT (none given). */
int api_auth_check(struct mgmt *m, const char *authorization, struct api_who *who);
/* First start: the admin user and token, written to the data directory. */
int api_auth_bootstrap(struct mgmt *m, char *err, size_t errlen);
/* "slt_" and 64 hex digits. */
#define API_TOKEN_LEN 68
/* A new token for user (ttl_s 0: no expiry); the secret is returned once,
 * only its hash is kept.  *record (may be NULL) gets the stored record. */
int api_token_create(struct mgmt *m, const char *user, const char *name, enum api_role role,
		     int64_t ttl_s, char secret[API_TOKEN_LEN + 1], json_t **record);
const char *api_role_name(enum api_role role);
int api_role_parse(const char *text, enum api_role *role);
/* Set a user record's salt and password hash; check a password. */
int api_password_set(json_t *user, const char *password);
bool api_password_check(const json_t *user, const char *password);

/* ---- tasks (tasks.c) ------------------------------------------------------- */

struct api_task;
/* The work of a task, in its own thread: 0 or -errno, and a sentence for
 * people in result; it reports progress with api_task_progress(). */
typedef int (*api_task_fn)(struct mgmt *m, void *arg, struct api_task *t, char *result,
			   size_t result_len);
void api_task_progress(struct api_task *t, int pct);
/* Start fn(arg) in its own thread; arg (malloc'ed) is freed after.  *id_out
 * gets the task's id.  0 or -errno (arg freed too). */
int api_task_start(struct mgmt *m, const char *kind, const char *object, api_task_fn fn,
		   void *arg, uint64_t *id_out);
/* Answer 202 with task id and its Location, or the problem rc (api_pool.c). */
void api_accepted_task(struct api_call *c, int rc, uint64_t id);
/* The task as the API shows it, or NULL. */
json_t *api_task_json(struct mgmt *m, uint64_t id);
int api_tasks_create(struct mgmt *m);
void api_tasks_join(struct mgmt *m);
void api_tasks_stop(struct mgmt *m);

/* ---- the pools' load and migration advice (pool_load.c) ---------------------- */

struct api_pool_load;
int api_pool_load_create(struct api_pool_load **out);
void api_pool_load_destroy(struct api_pool_load *pl);
/* One QoS period ending at now_ns (monotonic). */
void api_pool_load_step(struct mgmt *m, struct api_pool_load *pl, uint64_t now_ns);
/* Pool number pool's load: IOs in flight, latency, the fitted model (pl
 * NULL: nothing measured). */
json_t *api_pool_load_json(struct api_pool_load *pl, unsigned pool);
/* The advised moves, as an array. */
json_t *api_pool_advice_json(struct mgmt *m, struct api_pool_load *pl);
/* The same for a pool of m (qos_loop.c; without a QoS loop, nothing measured). */
json_t *api_qos_pool_load(struct mgmt *m, const struct mgmt_pool *pool);

/* ---- idempotency (dispatch.c) and scheduler (scheduler.c) -------------------- */

int api_events_load(struct mgmt *m);
/* Record the events mgmt_event_async() queued (the management thread). */
void api_events_drain(struct mgmt *m);
int api_http_start(struct mgmt *m, char *err, size_t errlen);
void api_http_stop(struct mgmt *m);
int api_idem_create(struct mgmt *m);
void api_idem_destroy(struct mgmt *m);
int api_sched_create(struct mgmt *m);
void api_sched_destroy(struct mgmt *m);
/* The QoS loop: started with the API when the daemon records stats. */
int api_qos_start(struct mgmt *m);
void api_qos_stop(struct mgmt *m);
/* At start: run once now each schedule with catch_up that missed runs while
 * the daemon was down (an event says how many); skip them for the others
 * (an event too).  Returns how many ran. */
int api_sched_catch_up(struct mgmt *m, int64_t now_unix_s);
struct sched_cron;
struct sched_tz;
/* A schedule record's cron expression and zone (*tz: sched_tz_free). */
int api_sched_parse(const json_t *schedule, struct sched_cron *cron, struct sched_tz **tz,
		    char *err, size_t errlen);
/* Its state starts over at since (clear: also forget results and made). */
int api_sched_state_reset(struct mgmt *m, const char *name, int64_t since_unix_s, bool clear);
int api_sched_forget(struct mgmt *m, const char *name);
/* The schedule as the API shows it: with next_run and last_result. */
json_t *api_sched_json(struct mgmt *m, const json_t *schedule, int64_t now_unix_s);
/* Run it now (once, outside its cadence); 0 or -errno (last_result says). */
int api_sched_run_now(struct mgmt *m, const json_t *schedule, int64_t now_unix_s);

/* ---- VMs (api_vm.c), shared with the scheduler -------------------------------- */

/* Snapshot VM vm as snap: its volumes in one instant, then its files.
 * 0 or -errno with a sentence in why; on failure nothing is left made. */
int api_vm_snapshot_create(struct mgmt *m, const char *vm, const char *snap, char *why,
			   size_t whylen);
/* Delete a VM snapshot and its members; -EBUSY (why names it) while clones
 * depend on a member. */
int api_vm_snapshot_delete(struct mgmt *m, const char *vm, const char *snap, char *why,
			   size_t whylen);
/* Clones that depend on the members of a VM snapshot record. */
uint32_t api_vm_snapshot_dependents(struct mgmt *m, const json_t *vmsnap);
/* Put every VM's volumes in its QoS stat group (mgmt_create). */
int api_vm_groups_load(struct mgmt *m);

#endif /* SLATE_MGMT_API_H */
