/*
 * ctl_print.c - what slatectl prints: aligned tables of items, one object
 * as "member: value" lines, tasks, sizes ("1.0 GiB") and, on stderr, the
 * problems (RFC 9457) the API answers with.
 *
 * Members ending in _bytes are shown as sizes and _pct as percentages;
 * times are shown as the server gave them.  --json bypasses all of this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/ctl.h"

#define MAX_COLUMNS 16

void ctl_print_json(const json_t *value)
{
	char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (text)
		printf("%s\n", text);
	free(text);
}

void ctl_human_size(double bytes, char *out, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (bytes < 1024) {
		snprintf(out, len, "%.0f B", bytes);
		return;
	}
	int u = -1;
	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", bytes, units[u]);
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t n = strlen(text), m = strlen(suffix);
	return n >= m && !strcmp(text + n - m, suffix);
}

/* value as one short text, formatted by the member's name. */
static void format_value(const char *member, const json_t *value, char *out, size_t len)
{
	out[0] = '\0';
	switch (json_typeof(value)) {
	case JSON_STRING:
		snprintf(out, len, "%s", json_string_value(value));
		break;
	case JSON_INTEGER:
	case JSON_REAL: {
		double n = json_number_value(value);
		if (ends_with(member, "_bytes"))
			ctl_human_size(n, out, len);
		else if (ends_with(member, "_pct"))
			snprintf(out, len, "%.0f%%", n);
		else if (json_is_integer(value))
			snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		else
			snprintf(out, len, "%g", n);
		break;
	}
	case JSON_TRUE:
		snprintf(out, len, "true");
		break;
	case JSON_FALSE:
		snprintf(out, len, "false");
		break;
	case JSON_NULL:
		snprintf(out, len, "-");
		break;
	case JSON_ARRAY: {
		/* scalars joined by commas; anything else as compact JSON */
		size_t i, used = 0;
		const json_t *item;
		json_array_foreach(value, i, item) {
			char one[256];
			if (json_is_object(item) || json_is_array(item)) {
				char *text = json_dumps(item, JSON_COMPACT);
				snprintf(one, sizeof(one), "%s", text ? text : "?");
				free(text);
			} else {
				format_value(member, item, one, sizeof(one));
			}
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
						 i ? "," : "", one);
			if (used >= len)
				break;
		}
		if (!json_array_size(value))
			snprintf(out, len, "-");
		break;
	}
	case JSON_OBJECT: {
		/* a reference {"kind": "vm", "name": "web1"} as typed: vm:web1 */
		const char *kind = json_string_value(json_object_get(value, "kind"));
		const char *name = json_string_value(json_object_get(value, "name"));
		if (kind && name && json_object_size(value) == 2) {
			snprintf(out, len, "%s:%s", kind, name);
			break;
		}
		/* else "k=v k=v" (a schedule's retention: keep_last=3 keep_for=P7D) */
		size_t used = 0;
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)value, k, v) {
			char one[256];
			format_value(k, v, one, sizeof(one));
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s=%s",
						 used ? " " : "", k, one);
			if (used >= len)
				break;
		}
		break;
	}
	}
	/* one line per row, whatever the text held */
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* The member at a dotted path, or NULL. */
static const json_t *get_path(const json_t *obj, const char *path)
{
	char part[128];
	while (obj && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		obj = json_is_object(obj) ? json_object_get(obj, part) : NULL;
		path += n + (path[n] == '.');
	}
	return obj;
}

/* The header of a column: upper case, without a unit suffix. */
static void header_of(const char *member, char *out, size_t len)
{
	size_t n = strlen(member);
	if (ends_with(member, "_bytes"))
		n -= 6;
	else if (ends_with(member, "_pct"))
		n -= 4;
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = member[i] == '.' ? '_' : (char)(member[i] >= 'a' && member[i] <= 'z'
							  ? member[i] - 32 : member[i]);
	out[n] = '\0';
}

void ctl_print_table(const char *columns, const json_t *items)
{
	char names[MAX_COLUMNS][64];
	size_t ncol = 0;
	/* the row's columns that some item has */
	for (const char *p = columns ? columns : ""; *p && ncol < MAX_COLUMNS;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		snprintf(names[ncol], sizeof(names[0]), "%.*s", (int)n, p);
		size_t i;
		const json_t *item;
		json_array_foreach(items, i, item)
			if (get_path(item, names[ncol])) {
				ncol++;
				break;
			}
		p += n;
	}
	/* none: the scalar members of the first item (a resource whose
	 * members are not the ones this table expected) */
	if (!ncol && json_array_size(items)) {
		const char *k;
		const json_t *v;
		json_object_foreach(json_array_get(items, 0), k, v)
			if (!json_is_object(v) && ncol < MAX_COLUMNS)
				snprintf(names[ncol++], sizeof(names[0]), "%s", k);
	}
	if (!ncol)
		return;
	size_t nrow = json_array_size(items);
	char **cells = calloc((nrow + 1) * ncol, sizeof(char *));
	size_t width[MAX_COLUMNS] = { 0 };
	if (!cells)
		return;
	for (size_t c = 0; c < ncol; c++) {
		char head[64];
		header_of(names[c], head, sizeof(head));
		cells[c] = strdup(head);
	}
	for (size_t r = 0; r < nrow; r++)
		for (size_t c = 0; c < ncol; c++) {
			const json_t *v = get_path(json_array_get(items, r), names[c]);
			char text[512] = "-";
			if (v)
				format_value(names[c], v, text, sizeof(text));
			cells[(r + 1) * ncol + c] = strdup(text);
		}
	for (size_t i = 0; i < (nrow + 1) * ncol; i++)
		if (cells[i] && strlen(cells[i]) > width[i % ncol])
			width[i % ncol] = strlen(cells[i]);
	for (size_t r = 0; r <= nrow; r++) {
		for (size_t c = 0; c < ncol; c++) {
			const char *cell = cells[r * ncol + c] ? cells[r * ncol + c] : "";
			if (c + 1 < ncol)
				printf("%-*s  ", (int)width[c], cell);
			else
				printf("%s\n", cell);
		}
	}
	for (size_t i = 0; i < (nrow + 1) * ncol; i++)
		free(cells[i]);
	free(cells);
}

static bool is_object_list(const json_t *v)
{
	return json_is_array(v) && json_is_object(json_array_get(v, 0));
}

/* Lines [member, text] into lines; lists of objects (a series' points)
 * into tables, [member, list], to print after them. */
static void collect_lines(const json_t *obj, const char *prefix, json_t *lines, json_t *tables)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		char member[256], text[1024];
		snprintf(member, sizeof(member), "%s%s%s", prefix, *prefix ? "." : "", k);
		if (json_is_object(v) && json_object_size(v)) {
			collect_lines(v, member, lines, tables);
			continue;
		}
		if (is_object_list(v)) {
			json_array_append_new(tables, json_pack("[s, O]", member, v));
			continue;
		}
		format_value(k, v, text, sizeof(text));
		if (json_is_integer(v) && ends_with(k, "_bytes")) {
			size_t n = strlen(text);
			snprintf(text + n, sizeof(text) - n, " (%" JSON_INTEGER_FORMAT ")",
				 json_integer_value(v));
		}
		json_array_append_new(lines, json_pack("[s, s]", member, text));
	}
}

void ctl_print_object(const json_t *obj)
{
	if (!json_is_object(obj)) {
		ctl_print_json(obj);
		return;
	}
	json_t *lines = json_array(), *tables = json_array();
	collect_lines(obj, "", lines, tables);
	size_t width = 0, i;
	json_t *line;
	json_array_foreach(lines, i, line) {
		size_t n = strlen(json_string_value(json_array_get(line, 0)));
		if (n > width)
			width = n;
	}
	json_array_foreach(lines, i, line) {
		char label[300];
		snprintf(label, sizeof(label), "%s:", json_string_value(json_array_get(line, 0)));
		printf("%-*s %s\n", (int)width + 1, label,
		       json_string_value(json_array_get(line, 1)));
	}
	json_array_foreach(tables, i, line) {
		printf("%s%s:\n", json_array_size(lines) || i ? "\n" : "",
		       json_string_value(json_array_get(line, 0)));
		ctl_print_table(NULL, json_array_get(line, 1));
	}
	json_decref(lines);
	json_decref(tables);
}

void ctl_print_task_line(const json_t *task, FILE *out)
{
	const char *result = json_string_value(json_object_get(task, "result"));
	fprintf(out, "task %" JSON_INTEGER_FORMAT " (%s of %s): %s %" JSON_INTEGER_FORMAT "%%%s%s\n",
		json_integer_value(json_object_get(task, "id")),
		json_string_value(json_object_get(task, "kind")) ?: "?",
		json_string_value(json_object_get(task, "object")) ?: "?",
		json_string_value(json_object_get(task, "state")) ?: "?",
		json_integer_value(json_object_get(task, "progress_pct")), result ? ": " : "",
		result ? result : "");
}

void ctl_print_problem(const struct ctl *ctl, const char *method, const char *path,
		       const struct ctl_reply *reply)
{
	const json_t *p = reply->json;
	const char *title = json_string_value(json_object_get(p, "title"));
	const char *detail = json_string_value(json_object_get(p, "detail"));
	const char *field = json_string_value(json_object_get(p, "field"));
	if (!title && !detail) {
		/* not a problem document: say what came back */
		size_t n = reply->len > 200 ? 200 : reply->len;
		fprintf(stderr, "slatectl: HTTP %ld from %s %s%s%s%.*s\n", reply->status, method,
			ctl->base, path, n ? ": " : "", (int)n, reply->body ? reply->body : "");
		return;
	}
	fprintf(stderr, "slatectl: %s (%ld): %s", title ? title : "Error", reply->status,
		detail ? detail : "(no detail)");
	if (field && *field)
		fprintf(stderr, " [field: %s]", field);
	fprintf(stderr, "\n");
	if (reply->status == 401 && ctl->token_source[0])
		fprintf(stderr, "slatectl: the token came from %s\n", ctl->token_source);
}
