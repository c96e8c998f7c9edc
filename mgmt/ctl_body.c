/*
 * ctl_body.c - request bodies from the command line's key=value words.
 *
 * A value becomes a number when it is all digits (or, for a *_bytes
 * member, a size with a K/M/G/T suffix, binary units), a boolean when it
 * is true or false, a list for a member the row marks key[], and a string
 * otherwise; the row's hints (ctl.h) rename keys and pin types.  A dotted
 * key (retention.keep_last=3) nests.  Positional words are strings unless
 * the member is marked '#'.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/ctl.h"

bool ctl_is_pair(const char *word)
{
	const char *eq = strchr(word, '=');
	if (!eq || eq == word)
		return false;
	for (const char *p = word; p < eq; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

/* The hint for key in hints ("key>target", "key[]", "key$", ...): the
 * character after the key, and for '>' the target in target[]. */
static char hint_in(const char *hints, const char *key, char *target, size_t len)
{
	size_t klen = strlen(key);
	for (const char *p = hints; *p;) {
		p += strspn(p, " ");
		size_t wlen = strcspn(p, " ");
		if (wlen > klen && !strncmp(p, key, klen) && strchr(">[$#@", p[klen])) {
			if (p[klen] == '>' && target)
				snprintf(target, len, "%.*s", (int)(wlen - klen - 1), p + klen + 1);
			return p[klen];
		}
		p += wlen;
	}
	return 0;
}

static char hint(const struct ctl_resource *r, const char *key, char *target, size_t len)
{
	char h = hint_in(r->hints, key, target, len);
	return h ? h : hint_in(ctl_common_hints, key, target, len);
}

int ctl_size_parse(const char *text, unsigned long long *bytes)
{
	static const char units[] = "KMGTP";
	char *end;
	errno = 0;
	long double n = strtold(text, &end);
	if (end == text || errno || n < 0 || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -EINVAL;
		for (long i = 0; i <= u - units; i++)
			n *= 1024;
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (n > 18e18L || n != (long double)(unsigned long long)n)
		return -EINVAL;
	*bytes = (unsigned long long)n;
	return 0;
}

static bool all_digits(const char *text)
{
	if (!*text || strlen(text) > 18)
		return false;
	for (const char *p = text; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* One line from standard input, without its newline (a secret given as
 * "-"); NULL at end of input. */
static char *stdin_line(void)
{
	char *line = NULL;
	size_t cap = 0;
	if (getline(&line, &cap, stdin) <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

/* Split at commas and blanks outside parentheses: "a,b" and
 * "10.0.0.0/8(rw,no_root_squash) 127.0.0.1(ro)" are two each. */
static json_t *split_list(const char *text)
{
	json_t *list = json_array();
	const char *start = text;
	int depth = 0;
	for (const char *p = text;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		if (*p && (depth > 0 || !strchr(", \t", *p)))
			continue;
		if (p > start)
			json_array_append_new(list, json_stringn(start, (size_t)(p - start)));
		if (!*p)
			break;
		start = p + 1;
	}
	return list;
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "slatectl: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	return CTL_EXIT_USAGE;
}

/* The JSON value of text for member (its last dotted part is leaf). */
static int convert(const struct ctl_resource *r, const char *member, const char *leaf,
		   const char *text, bool positional, json_t **out)
{
	char h = hint(r, member, NULL, 0);
	if (!h)
		h = hint(r, leaf, NULL, 0);
	size_t len = strlen(leaf);
	*out = NULL;
	if (h == '[') {
		*out = split_list(text);
	} else if (h == '@') {
		const char *colon = strchr(text, ':');
		if (!colon || colon == text || !colon[1])
			return usage_error("%s must be KIND:NAME (vm:web1, volume:db), not '%s'",
					   member, text);
		*out = json_pack("{s:s#, s:s}", "kind", text, (int)(colon - text), "name",
				 colon + 1);
	} else if (len > 6 && !strcmp(leaf + len - 6, "_bytes") && h != '$') {
		unsigned long long bytes;
		if (ctl_size_parse(text, &bytes))
			return usage_error("%s takes a size such as 4096, 512M or 1G, not '%s'",
					   member, text);
		*out = json_integer((json_int_t)bytes);
	} else if (h == '#' || (!positional && h != '$' && all_digits(text))) {
		if (!all_digits(text))
			return usage_error("%s takes a whole number, not '%s'", member, text);
		*out = json_integer(strtoll(text, NULL, 10));
	} else if (!positional && h != '$' && (!strcmp(text, "true") || !strcmp(text, "false"))) {
		*out = json_boolean(!strcmp(text, "true"));
	} else {
		*out = json_string(text);
	}
	if (!*out)
		return usage_error("%s: '%s' is not valid UTF-8 text", member, text);
	return 0;
}

int ctl_body_set(const struct ctl_resource *r, json_t *obj, const char *key, const char *value,
		 bool positional)
{
	char member[256];
	snprintf(member, sizeof(member), "%s", key);
	if (hint(r, key, member, sizeof(member)) != '>')
		snprintf(member, sizeof(member), "%s", key);
	char *secret = NULL;
	if (!strcmp(value, "-") && (!strcmp(member, "password") || strstr(member, "secret"))) {
		if (!(secret = stdin_line()))
			return usage_error("%s=- reads %s from standard input, which was empty",
					   key, member);
		value = secret;
	}
	/* Walk down the dotted path, making the objects on the way. */
	json_t *at = obj;
	char *part = member, *dot;
	int rc = 0;
	while ((dot = strchr(part, '.'))) {
		*dot = '\0';
		json_t *next = json_object_get(at, part);
		if (!next) {
			next = json_object();
			json_object_set_new(at, part, next);
		} else if (!json_is_object(next)) {
			rc = usage_error("%s is given twice (once as a value, once with members "
					 "under it)%s", part, "");
			goto out;
		}
		*dot = '.';
		at = next;
		part = dot + 1;
	}
	if (!*part || json_object_get(at, part)) {
		rc = usage_error(*part ? "%s is given twice%s" : "'%s' is not a member name%s", key,
				 "");
		goto out;
	}
	json_t *v;
	rc = convert(r, member, part, value, positional, &v);
	if (!rc)
		json_object_set_new(at, part, v);
out:
	free(secret);
	return rc;
}
