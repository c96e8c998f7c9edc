/*
 * slatectl.c - the command line over slated's REST API (/api/v1).
 *
 *   slatectl [--url URL] [--token TOKEN] [--data DIR] [--json] [--insecure]
 *            [--wait] [--limit N] RESOURCE [VERB] [ARGS...] [key=value...]
 *
 * What RESOURCE and VERB mean is data: the command table in ctl_table.c
 * (ctl.h says how a row reads); this file turns the words into one
 * request (or the pages of a list, or a task followed to its end) and
 * prints the answer.  URL: --url, $SLATE_URL, http://127.0.0.1:8080; the
 * token: --token, $SLATE_TOKEN, DIR/admin-token with DIR from --data,
 * $SLATE_DATA or ./var.
 *
 * Exit status: 0 done, 1 the server refused or could not be reached (the
 * reason on stderr), 2 a usage error.  Options may come anywhere before
 * a "--".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mgmt/ctl.h"

#define MAX_WORDS 64
#define DEFAULT_URL "http://127.0.0.1:8080"
#define TASK_POLL_US (250 * 1000)

struct command {
	const struct ctl_resource *r;
	const struct ctl_verb *v;
	const char *pos[MAX_WORDS];
	size_t npos;
	const char *pairs[MAX_WORDS];
	size_t npairs;
	bool verb_given;        /* else v is the resource's first verb */
};

/* ---- usage -------------------------------------------------------------------- */

/* "VOLUME SNAPSHOT NEWNAME size=SIZE" for r and v. */
static void verb_usage(const struct ctl_resource *r, const struct ctl_verb *v, char *out,
		       size_t len)
{
	char tmpl[512];
	size_t used = 0;
	out[0] = '\0';
	snprintf(tmpl, sizeof(tmpl), "%s%s", r->path, v->path);
	for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{')) {
		size_t n = strcspn(p + 1, "}");
		used += (size_t)snprintf(out + used, len - used, " ");
		for (size_t i = 0; i < n && used + 1 < len; i++)
			out[used++] = (char)(p[1 + i] >= 'a' && p[1 + i] <= 'z' ? p[1 + i] - 32
									  : p[1 + i]);
		out[used] = '\0';
	}
	for (const char *p = v->args ? v->args : ""; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		const char *colon = memchr(p, ':', n);
		used += (size_t)snprintf(out + used, len - used, " ");
		if (colon) {
			used += (size_t)snprintf(out + used, len - used, "%.*s",
						 (int)(n - (size_t)(colon + 1 - p)), colon + 1);
		} else {
			for (size_t i = *p == '?'; i < n && used + 1 < len; i++)
				out[used++] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
			out[used] = '\0';
		}
		p += n;
	}
	if (v->pairs_help)
		snprintf(out + used, len - used, " %s", v->pairs_help);
}

static void resource_help(FILE *out, const struct ctl_resource *r)
{
	fprintf(out, "  %-14s %s\n", r->name, r->about);
	for (size_t i = 0; i < CTL_MAX_VERBS && r->verbs[i].method; i++) {
		char args[512];
		verb_usage(r, &r->verbs[i], args, sizeof(args));
		fprintf(out, "      slatectl %s%s%s%s%s\n", r->name, *r->verbs[i].name ? " " : "",
			r->verbs[i].name, args, r->verbs[i].flags & V_TASK ? " [--wait]" : "");
	}
}

static void help(FILE *out, const struct ctl_resource *only)
{
	fprintf(out,
		"usage: slatectl [--url URL] [--token TOKEN] [--data DIR] [--json] [--insecure]\n"
		"                [--wait] [--limit N] RESOURCE [VERB] [ARGS...] [key=value...]\n\n");
	if (!only)
		fprintf(out,
			"  --url URL      the API (else $SLATE_URL, else " DEFAULT_URL "); /api/v1 is added\n"
			"  --token TOKEN  else $SLATE_TOKEN, else the file DIR/admin-token\n"
			"  --data DIR     slated's data directory (else $SLATE_DATA, else ./var)\n"
			"  --json         print the server's JSON (a list: one array of every item)\n"
			"  --insecure     do not verify the server's TLS certificate\n"
			"  --wait         follow a task (copy, scrub, run) until it ends\n"
			"  --limit N      fetch lists N items a page (every page is still printed)\n\n"
			"  key=value      a member of the request: digits are numbers, true/false\n"
			"                 booleans, sizes take K/M/G/T (binary), a.b=v nests, lists\n"
			"                 are comma-separated; on show/list, a query parameter\n\n"
			"resources and verbs (the first verb is the default):\n");
	for (size_t i = 0; i < ctl_nresources; i++)
		if (!only || only == &ctl_resources[i])
			resource_help(out, &ctl_resources[i]);
}

/* The usage of what cmd got to (its verb, its resource, or all). */
static int usage_of(const struct command *cmd)
{
	if (cmd && cmd->r && cmd->v) {
		char args[512];
		verb_usage(cmd->r, cmd->v, args, sizeof(args));
		fprintf(stderr, "usage: slatectl %s%s%s%s\n", cmd->r->name, *cmd->v->name ? " " : "",
			cmd->v->name, args);
	} else if (cmd && cmd->r) {
		resource_help(stderr, cmd->r);
	} else {
		fprintf(stderr, "usage: slatectl [OPTIONS] RESOURCE [VERB] [ARGS...] [key=value...] "
			"(slatectl --help lists them)\n");
	}
	return CTL_EXIT_USAGE;
}

static int usage_error(const struct command *cmd, const char *fmt, const char *what)
{
	fprintf(stderr, "slatectl: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	return usage_of(cmd);
}

/* ---- building the request ----------------------------------------------------- */

static const struct ctl_resource *find_resource(const char *name)
{
	for (size_t i = 0; i < ctl_nresources; i++) {
		const char *have = ctl_resources[i].name;
		size_t n = strlen(have);
		/* "volume" for "volumes" too */
		if (!strcmp(have, name) || (n > 1 && have[n - 1] == 's' && strlen(name) == n - 1 &&
					    !strncmp(have, name, n - 1)))
			return &ctl_resources[i];
	}
	return NULL;
}

static void append_query(char *path, size_t len, const char *key, const char *value)
{
	size_t used = strlen(path);
	snprintf(path + used, len - used, "%s%s=", strchr(path, '?') ? "&" : "?", key);
	ctl_escape(path, len, value);
}

/* The path (placeholders filled, query from ?args and, for GET, pairs)
 * and the body; 0 or CTL_EXIT_USAGE. */
static int build(const struct command *cmd, char *path, size_t len, json_t **body)
{
	const struct ctl_resource *r = cmd->r;
	const struct ctl_verb *v = cmd->v;
	char tmpl[512];
	size_t next = 0;
	bool is_get = !strcmp(v->method, "GET");
	*body = NULL;
	path[0] = '\0';
	snprintf(tmpl, sizeof(tmpl), "%s%s", r->path, v->path);
	for (const char *p = tmpl; *p;) {
		if (*p != '{') {
			size_t used = strlen(path);
			size_t n = strcspn(p, "{");
			snprintf(path + used, len - used, "%.*s", (int)n, p);
			p += n;
			continue;
		}
		if (next == cmd->npos)
			return usage_error(cmd, "missing %s", "arguments");
		if (!*cmd->pos[next])
			return usage_error(cmd, "an empty %s", "argument");
		ctl_escape(path, len, cmd->pos[next++]);
		p += strcspn(p, "}") + 1;
	}
	json_t *obj = json_object();
	int rc = 0;
	for (const char *p = v->args ? v->args : ""; *p && !rc;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		char member[64];
		snprintf(member, sizeof(member), "%.*s", (int)n, p);
		member[strcspn(member, ":")] = '\0';
		p += n;
		if (next == cmd->npos) {
			rc = usage_error(cmd, "missing %s", "arguments");
		} else if (member[0] == '?') {
			append_query(path, len, member + 1, cmd->pos[next++]);
		} else {
			if ((rc = ctl_body_set(r, obj, member, cmd->pos[next++], true)))
				usage_of(cmd);
		}
	}
	if (!rc && next < cmd->npos && !cmd->verb_given && next == 0) {
		struct command no_verb = { .r = r };
		char msg[256];
		snprintf(msg, sizeof(msg), "%s has no verb '%.64s'; its verbs:", r->name, cmd->pos[0]);
		rc = usage_error(&no_verb, "%s", msg);
	} else if (!rc && next < cmd->npos) {
		rc = usage_error(cmd, "extra argument '%s'", cmd->pos[next]);
	}
	if (!rc && cmd->npairs && !(v->flags & V_PAIRS))
		rc = usage_error(cmd, "this verb takes no key=value words (got '%s')",
				 cmd->pairs[0]);
	if (!rc && !cmd->npairs && (v->flags & V_NEEDS_PAIRS))
		rc = usage_error(cmd, "%s: say what to set", "nothing to do");
	for (size_t i = 0; i < cmd->npairs && !rc; i++) {
		char key[256];
		const char *eq = strchr(cmd->pairs[i], '=');
		snprintf(key, sizeof(key), "%.*s", (int)(eq - cmd->pairs[i]), cmd->pairs[i]);
		if (is_get)
			append_query(path, len, key, eq + 1);
		else if ((rc = ctl_body_set(r, obj, key, eq + 1, false)))
			usage_of(cmd);
	}
	if (rc || is_get || !strcmp(v->method, "DELETE") ||
	    (!json_object_size(obj) && !(v->flags & V_PASSWORD))) {
		json_decref(obj);
		return rc;
	}
	*body = obj;
	return 0;
}

/* The password for login: a prompt without echo on a terminal, else the
 * first line of standard input. */
static char *read_password(void)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (n <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

/* ---- answers ------------------------------------------------------------------- */

static int failed(struct ctl *ctl, const char *method, const char *path, struct ctl_reply *reply)
{
	ctl_print_problem(ctl, method, path, reply);
	ctl_reply_free(reply);
	return CTL_EXIT_FAIL;
}

/* GET every page of path into one array. */
static int list_all(struct ctl *ctl, const struct command *cmd, const char *path)
{
	json_t *all = json_array();
	char *cursor = NULL;
	int rc = 0;
	for (;;) {
		char page[4096];
		struct ctl_reply reply;
		snprintf(page, sizeof(page), "%s", path);
		if (ctl->limit) {
			char n[16];
			snprintf(n, sizeof(n), "%u", ctl->limit);
			append_query(page, sizeof(page), "limit", n);
		}
		if (cursor)
			append_query(page, sizeof(page), "after", cursor);
		if ((rc = ctl_http(ctl, "GET", page, NULL, cmd->v->flags & V_PUBLIC, false, &reply)))
			break;
		if (reply.status != 200) {
			rc = failed(ctl, "GET", page, &reply);
			break;
		}
		json_t *items = json_object_get(reply.json, "items");
		json_t *next = json_object_get(reply.json, "next");
		if (!json_is_array(items)) { /* not a page: show what it is */
			if (ctl->json)
				ctl_print_json(reply.json);
			else
				ctl_print_object(reply.json);
			ctl_reply_free(&reply);
			json_decref(all);
			free(cursor);
			return 0;
		}
		json_array_extend(all, items);
		bool more = json_is_string(next) &&
			    (!cursor || strcmp(cursor, json_string_value(next)));
		free(cursor);
		cursor = more ? strdup(json_string_value(next)) : NULL;
		ctl_reply_free(&reply);
		if (!cursor)
			break;
	}
	free(cursor);
	if (!rc) {
		if (ctl->json)
			ctl_print_json(all);
		else
			ctl_print_table(cmd->v->columns ? cmd->v->columns : cmd->r->columns, all);
	}
	json_decref(all);
	return rc;
}

/* Print a task; with --wait, poll it until it ends (1 if it failed). */
static int follow_task(struct ctl *ctl, json_t *task)
{
	json_t *now = json_incref(task);
	json_int_t last_pct = -1;
	int rc = 0;
	for (;;) {
		const char *state = json_string_value(json_object_get(now, "state")) ?: "";
		json_int_t pct = json_integer_value(json_object_get(now, "progress_pct"));
		bool running = !strcmp(state, "running");
		if (!ctl->wait || !running || pct != last_pct)
			ctl_print_task_line(now, ctl->json ? stderr : stdout);
		last_pct = pct;
		if (!ctl->wait || !running)
			break;
		usleep(TASK_POLL_US);
		char path[64];
		struct ctl_reply reply;
		snprintf(path, sizeof(path), "/tasks/%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(now, "id")));
		if ((rc = ctl_http(ctl, "GET", path, NULL, false, false, &reply)))
			break;
		if (reply.status != 200) {
			rc = failed(ctl, "GET", path, &reply);
			break;
		}
		json_decref(now);
		now = json_incref(reply.json);
		ctl_reply_free(&reply);
	}
	if (!rc && ctl->json)
		ctl_print_json(now);
	if (!rc && ctl->wait && !strcmp(json_string_value(json_object_get(now, "state")) ?: "",
					"failed")) {
		fprintf(stderr, "slatectl: task %" JSON_INTEGER_FORMAT " failed: %s\n",
			json_integer_value(json_object_get(now, "id")),
			json_string_value(json_object_get(now, "result")) ?: "no reason given");
		rc = CTL_EXIT_FAIL;
	}
	json_decref(now);
	return rc;
}

static int run(struct ctl *ctl, const struct command *cmd)
{
	const struct ctl_verb *v = cmd->v;
	char path[4096];
	json_t *body;
	int rc = build(cmd, path, sizeof(path), &body);
	if (rc)
		return rc;
	if (v->flags & V_PASSWORD) {
		char *password = read_password();
		if (!password) {
			json_decref(body);
			fprintf(stderr, "slatectl: no password on standard input\n");
			return CTL_EXIT_USAGE;
		}
		json_object_set_new(body, "password", json_string(password));
		free(password);
	}
	if (v->flags & V_LIST) {
		json_decref(body);
		return list_all(ctl, cmd, path);
	}
	struct ctl_reply reply;
	rc = ctl_http(ctl, v->method, path, body, v->flags & V_PUBLIC, v->flags & V_CREATES, &reply);
	json_decref(body);
	if (rc)
		return rc;
	if (reply.status == 404 && reply.retried && !strcmp(v->method, "DELETE"))
		reply.status = 204; /* the first try did it; its answer was lost */
	if (reply.status >= 300)
		return failed(ctl, v->method, path, &reply);
	if (reply.status == 202 && json_object_get(reply.json, "state")) {
		rc = follow_task(ctl, reply.json);
	} else if (!reply.json) {
		if (!ctl->json) {
			printf("%s", cmd->r->name);
			if (*v->name)
				printf(" %s", v->name);
			for (size_t i = 0; i < cmd->npos; i++)
				printf(" %s", cmd->pos[i]);
			printf(": done\n");
		}
	} else if (ctl->json) {
		ctl_print_json(reply.json);
	} else if (v->flags & V_PASSWORD) {
		printf("%s\n", json_string_value(json_object_get(reply.json, "token")) ?: "");
	} else {
		ctl_print_object(reply.json);
		if (v->flags & V_SECRET)
			fprintf(stderr, "slatectl: the token's secret is shown only this once\n");
	}
	ctl_reply_free(&reply);
	return rc;
}

/* ---- main ------------------------------------------------------------------------ */

/* --name VALUE or --name=VALUE at argv[*i]; NULL when this is not it. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .token_source = "" };
	struct command cmd = { 0 };
	const char *words[MAX_WORDS], *url = getenv("SLATE_URL");
	size_t nwords = 0;
	bool want_help = false, options_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value;
		bool missing = false;
		if (options_done || a[0] != '-' || !a[1]) {
			if (nwords == MAX_WORDS)
				return usage_error(NULL, "more than %s words", "64");
			words[nwords++] = a;
		} else if (!strcmp(a, "--")) {
			options_done = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			want_help = true;
		} else if (!strcmp(a, "--json")) {
			ctl.json = true;
		} else if (!strcmp(a, "--insecure") || !strcmp(a, "-k")) {
			ctl.insecure = true;
		} else if (!strcmp(a, "--wait")) {
			ctl.wait = true;
		} else if ((value = option_value(argc, argv, &i, "--url", &missing))) {
			url = value;
		} else if ((value = option_value(argc, argv, &i, "--token", &missing))) {
			ctl.token_flag = value;
		} else if ((value = option_value(argc, argv, &i, "--data", &missing))) {
			ctl.data_flag = value;
		} else if ((value = option_value(argc, argv, &i, "--limit", &missing))) {
			char *end;
			unsigned long n = strtoul(value, &end, 10);
			if (!*value || *end || n < 1 || n > 1000)
				return usage_error(NULL, "--limit takes 1 to 1000, not '%s'", value);
			ctl.limit = (unsigned)n;
		} else {
			return usage_error(NULL, missing ? "%s needs a value" : "unknown option %s", a);
		}
		if (missing)
			return usage_error(NULL, "%s needs a value", a);
	}
	cmd.r = nwords ? find_resource(words[0]) : NULL;
	if (want_help) {
		help(stdout, cmd.r);
		return 0;
	}
	if (!nwords)
		return usage_error(NULL, "%s", "say what to do");
	if (!cmd.r)
		return usage_error(NULL, "unknown resource '%s'", words[0]);
	size_t w = 1;
	cmd.v = &cmd.r->verbs[0];
	for (size_t i = 0; w < nwords && i < CTL_MAX_VERBS && cmd.r->verbs[i].method; i++)
		if (*cmd.r->verbs[i].name && !strcmp(cmd.r->verbs[i].name, words[w])) {
			cmd.v = &cmd.r->verbs[i];
			cmd.verb_given = true;
			w++;
			break;
		}
	for (; w < nwords; w++) {
		if (ctl_is_pair(words[w]))
			cmd.pairs[cmd.npairs++] = words[w];
		else
			cmd.pos[cmd.npos++] = words[w];
	}

	/* the base URL: /api/v1 added unless it is there */
	url = url && *url ? url : DEFAULT_URL;
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	bool has_prefix = n >= 7 && !strncmp(url + n - 7, "/api/v1", 7);
	snprintf(ctl.base, sizeof(ctl.base), "%.*s%s", (int)n, url, has_prefix ? "" : "/api/v1");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = run(&ctl, &cmd);
	if (ctl.curl)
		curl_easy_cleanup(ctl.curl);
	curl_global_cleanup();
	free(ctl.token);
	return rc;
}
