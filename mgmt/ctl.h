/*
 * ctl.h - private to slatectl (mgmt/slatectl.c and mgmt/ctl_*.c): the
 * command table, the connection, request bodies from key=value words, and
 * output.  slatectl is a client of the REST API only: it links libcurl and
 * jansson, no Slate module.
 *
 * The command table (ctl_table.c) has one row per resource: its collection
 * path, the field naming an item, the columns of its table and its verbs.
 * A verb's path is appended to the resource's; every {placeholder} in the
 * two takes the next positional word, in order, then the verb's args do.
 * A new resource is one row; a new verb of the usual kinds is one macro.
 */
#ifndef SLATE_MGMT_CTL_H
#define SLATE_MGMT_CTL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses. */
#define CTL_EXIT_FAIL 1   /* the server said no, or could not be reached */
#define CTL_EXIT_USAGE 2  /* the command line is wrong */

/* Verb flags. */
#define V_LIST 0x01       /* GET a collection and follow "next" to its end */
#define V_CREATES 0x02    /* send an Idempotency-Key (and retry with it) */
#define V_TASK 0x04       /* 202 answers a task: print it; --wait follows it */
#define V_PAIRS 0x08      /* takes key=value words (body members; query for GET) */
#define V_NEEDS_PAIRS 0x10 /* ...at least one */
#define V_PUBLIC 0x20     /* needs no token */
#define V_PASSWORD 0x40   /* "password" comes from standard input; print only "token" */
#define V_SECRET 0x80     /* the answer holds a secret ("token") shown only this once */

struct ctl_verb {
	const char *name;       /* "" : the resource's only action, no verb word */
	const char *method;     /* GET POST PATCH DELETE */
	const char *path;       /* appended to the resource's: "/{name}/copy" */
	/* Positional words after the placeholders, space-separated:
	 * "member" or "member:LABEL" a body member (a string, or a number for
	 * a member with the '#' hint), "?param:LABEL" a query parameter. */
	const char *args;
	unsigned flags;
	const char *pairs_help; /* key=value words, for usage: "size=SIZE" */
	const char *columns;    /* a list of other things than the resource's items */
};

#define CTL_MAX_VERBS 10

struct ctl_resource {
	const char *name;       /* "volumes" */
	const char *path;       /* "/volumes/{volume}/snapshots", under /api/v1 */
	const char *key;        /* the member naming an item in a list */
	const char *columns;    /* the table's members, space-separated, dotted for nested */
	/* How key=value words become members, space-separated:
	 *   key>member   rename (size>size_bytes, keep_last>retention.keep_last)
	 *   key[]        an array of strings, split at commas and blanks outside ()
	 *   key$         always a string      key#   a number
	 *   key@         "kind:name" becomes {"kind": kind, "name": name}
	 * Every resource also has ctl_common_hints. */
	const char *hints;
	const char *about;      /* one line for --help */
	struct ctl_verb verbs[CTL_MAX_VERBS];
};

extern const struct ctl_resource ctl_resources[];
extern const size_t ctl_nresources;
extern const char ctl_common_hints[];

/* ---- the connection (ctl_http.c) ----------------------------------------- */

struct ctl {
	char base[1024];        /* "http://127.0.0.1:8080/api/v1" */
	const char *token_flag; /* --token */
	const char *data_flag;  /* --data */
	char *token;            /* resolved on first need; malloc'ed */
	char token_source[1100]; /* where it came from, for a 401 */
	bool json, insecure, wait;
	unsigned limit;         /* page size; 0: the server's */
	CURL *curl;
};

struct ctl_reply {
	long status;            /* HTTP status */
	char *body;             /* NUL-terminated, malloc'ed */
	size_t len;
	json_t *json;           /* the parsed body, or NULL */
	bool retried;           /* sent twice: the first try's connection was reset */
};

/* Send method path_query (under base) with body (may be NULL), the token
 * unless public, and a fresh Idempotency-Key when idempotent_create.  A
 * connection reset is retried once (same key).  0 with *reply filled (any
 * HTTP status), or CTL_EXIT_FAIL after printing why nothing came back. */
int ctl_http(struct ctl *ctl, const char *method, const char *path_query, const json_t *body,
	     bool public, bool idempotent_create, struct ctl_reply *reply);
void ctl_reply_free(struct ctl_reply *reply);
/* The token from --token, $SLATE_TOKEN or DIR/admin-token; 0 or prints
 * which were missing and returns CTL_EXIT_FAIL. */
int ctl_token_resolve(struct ctl *ctl);
/* Append text percent-encoded for a path segment or query value. */
void ctl_escape(char *out, size_t outlen, const char *text);

/* ---- bodies from words (ctl_body.c) ----------------------------------------- */

/* Is word "key=value" with key of [A-Za-z0-9_.-]? */
bool ctl_is_pair(const char *word);
/* Set key (after hints) to the converted value in obj, nesting dotted
 * keys.  0, or CTL_EXIT_USAGE after printing why. */
int ctl_body_set(const struct ctl_resource *r, json_t *obj, const char *key, const char *value,
		 bool positional);
/* "1G", "512M", "4096", "1.5T" (binary units) into bytes; 0 or -EINVAL. */
int ctl_size_parse(const char *text, unsigned long long *bytes);

/* ---- output (ctl_print.c) --------------------------------------------------- */

void ctl_print_json(const json_t *value);
/* A table of items: the resource's columns (those any item has), or every
 * scalar member of the first item when none matches. */
void ctl_print_table(const char *columns, const json_t *items);
/* One object as aligned "member: value" lines, nested members dotted. */
void ctl_print_object(const json_t *obj);
/* "1.0 GiB" */
void ctl_human_size(double bytes, char *out, size_t len);
/* The failure an error answer describes, on stderr. */
void ctl_print_problem(const struct ctl *ctl, const char *method, const char *path,
		       const struct ctl_reply *reply);
/* One line about a task: "task 3 (copy of v2): running 40%". */
void ctl_print_task_line(const json_t *task, FILE *out);

#endif /* SLATE_MGMT_CTL_H */
