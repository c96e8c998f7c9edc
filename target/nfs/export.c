/*
 * export.c - NFS exports kept in the pool: which directories are served
 * and to whom, with client rules in the manner of exports(5).
 *
 * Records (cowstore config): "nfs/export:PATH" holds a text record
 *     id N
 *     client PATTERN(opt,opt,...)
 * one client line per rule, first match wins; "nfs/next-export-id" holds
 * the next id as decimal text.  Ids go into file handles and are never
 * reused, so a handle from a removed export answers NFS3ERR_STALE instead
 * of reaching into whatever is exported next.  Paths are absolute, made of
 * namespace names of letters, digits and . _ - @ : +.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/nfs.h"

#define KEY_PREFIX "nfs/export:"
#define NEXT_ID_KEY "nfs/next-export-id"
#define ANON_ID 65534u

/* ---- client rules ------------------------------------------------------ */

/* "N" as a uid or gid: false unless all digits and in range. */
static bool parse_id(const char *text, uint32_t *id)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (!*text || *end || v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

static int rule_option(struct nfs_client_rule *rule, const char *opt, size_t len)
{
	char word[32];
	if (len == 0 || len >= sizeof(word))
		return -EINVAL;
	memcpy(word, opt, len);
	word[len] = 0;
	if (!strcmp(word, "rw") || !strcmp(word, "ro"))
		rule->read_only = word[1] == 'o';
	else if (!strcmp(word, "root_squash"))
		rule->squash = NFS_SQUASH_ROOT;
	else if (!strcmp(word, "no_root_squash"))
		rule->squash = NFS_SQUASH_NONE;
	else if (!strcmp(word, "all_squash"))
		rule->squash = NFS_SQUASH_ALL;
	else if (!strcmp(word, "secure") || !strcmp(word, "insecure"))
		rule->insecure = word[0] == 'i';
	else if (!strncmp(word, "anonuid=", 8))
		return parse_id(word + 8, &rule->anon_uid) ? 0 : -EINVAL;
	else if (!strncmp(word, "anongid=", 8))
		return parse_id(word + 8, &rule->anon_gid) ? 0 : -EINVAL;
	else
		return -EINVAL;
	return 0;
}

/* Parse "*", an address or ADDRESS/PREFIX into the rule's family, addr and
 * prefix_bits; false when it is none of those. */
static bool parse_pattern(struct nfs_client_rule *rule)
{
	rule->family = 0;
	if (!strcmp(rule->pattern, "*"))
		return true;
	char addr[64];
	snprintf(addr, sizeof(addr), "%s", rule->pattern);
	char *slash = strchr(addr, '/');
	unsigned long prefix = 0;
	if (slash) {
		char *end;
		*slash = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end)
			return false;
	}
	if (inet_pton(AF_INET, addr, rule->addr) == 1)
		rule->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, rule->addr) == 1)
		rule->family = AF_INET6;
	else
		return false;
	unsigned max = rule->family == AF_INET ? 32 : 128;
	rule->prefix_bits = slash ? (unsigned)prefix : max;
	return prefix <= max;
}

int nfs_client_rule_parse(const char *text, struct nfs_client_rule *rule, char *err,
			  size_t errlen)
{
	*rule = (struct nfs_client_rule){ .squash = NFS_SQUASH_ROOT, .anon_uid = ANON_ID,
					  .anon_gid = ANON_ID };
	const char *open = strchr(text, '(');
	size_t plen = open ? (size_t)(open - text) : strlen(text);
	if (plen == 0 || plen >= sizeof(rule->pattern)) {
		snprintf(err, errlen, "client '%s': expected ADDRESS[/PREFIX](options) or *", text);
		return -EINVAL;
	}
	memcpy(rule->pattern, text, plen);
	rule->pattern[plen] = 0;
	if (!parse_pattern(rule)) {
		snprintf(err, errlen, "client '%s': '%s' is not *, an address or a CIDR", text,
			 rule->pattern);
		return -EINVAL;
	}
	if (!open)
		return 0;
	const char *close = strchr(open, ')');
	if (!close || close[1]) {
		snprintf(err, errlen, "client '%s': options must end with ')'", text);
		return -EINVAL;
	}
	for (const char *p = open + 1; p < close;) {
		const char *comma = memchr(p, ',', (size_t)(close - p));
		const char *end = comma ? comma : close;
		if (rule_option(rule, p, (size_t)(end - p)) < 0) {
			snprintf(err, errlen, "client '%s': unknown option '%.*s'", text,
				 (int)(end - p), p);
			return -EINVAL;
		}
		p = comma ? comma + 1 : close;
	}
	return 0;
}

void nfs_client_rule_format(const struct nfs_client_rule *rule, char *out, size_t len)
{
	static const char *squash[] = { "no_root_squash", "root_squash", "all_squash" };
	snprintf(out, len, "%s(%s,%s,%s,anonuid=%" PRIu32 ",anongid=%" PRIu32 ")", rule->pattern,
		 rule->read_only ? "ro" : "rw", squash[rule->squash % 3],
		 rule->insecure ? "insecure" : "secure", rule->anon_uid, rule->anon_gid);
}

/* ---- paths ------------------------------------------------------------- */

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._-@:+/", c);
}

/* Absolute, no empty, "." or ".." components, no trailing '/' (but "/"). */
static bool path_valid(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > NFS_EXPORT_PATH_MAX || path[0] != '/')
		return false;
	if (n > 1 && path[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!path_char_ok(path[i]))
			return false;
		if (path[i] == '/' && i + 1 < n &&
		    (path[i + 1] == '/' || (path[i + 1] == '.' && (path[i + 2] == '/' || !path[i + 2] ||
			(path[i + 2] == '.' && (path[i + 3] == '/' || !path[i + 3]))))))
			return false;
	}
	return true;
}

/* Walk path from the root; with create, make missing directories (0755). */
static int walk_path(struct cowstore *cs, const char *path, bool create,
		     struct cowstore_ns_attr *attr)
{
	int rc = cowstore_ns_getattr(cs, COWSTORE_NS_ROOT, 0, attr);
	for (const char *p = path; rc == 0 && *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		char name[COWSTORE_NS_NAME_MAX + 1];
		if (n > COWSTORE_NS_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		uint64_t dir = attr->ino;
		rc = cowstore_ns_lookup(cs, dir, name, attr);
		if (rc == -ENOENT && create) {
			struct cowstore_ns_create how = { .type = COWSTORE_NS_DIR, .mode = 0755 };
			rc = cowstore_ns_create(cs, dir, name, &how, attr);
		}
		if (rc == 0 && attr->type != COWSTORE_NS_DIR && p[n])
			rc = -ENOTDIR;
		p += n;
	}
	return rc;
}

int nfs_path_lookup(struct cowstore *cs, const char *path, struct cowstore_ns_attr *attr)
{
	return walk_path(cs, path, false, attr);
}

/* ---- records ----------------------------------------------------------- */

static int next_export_id(struct cowstore *cs, uint32_t *id)
{
	void *value;
	size_t len;
	int rc = cowstore_config_get(cs, NEXT_ID_KEY, &value, &len);
	*id = 1;
	if (rc == 0) {
		char text[16] = "";
		memcpy(text, value, len < sizeof(text) - 1 ? len : sizeof(text) - 1);
		free(value);
		*id = (uint32_t)strtoul(text, NULL, 10);
		if (*id == 0)
			return -EIO;
	} else if (rc != -ENOENT) {
		return rc;
	}
	char text[16];
	int n = snprintf(text, sizeof(text), "%" PRIu32, *id + 1);
	return cowstore_config_put(cs, NEXT_ID_KEY, text, (size_t)n);
}

static int export_format(const struct nfs_export *exp, char **text, size_t *len)
{
	size_t cap = 32 + exp->nrules * 128;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t n = (size_t)snprintf(buf, cap, "id %" PRIu32 "\n", exp->id);
	for (uint32_t i = 0; i < exp->nrules; i++) {
		char rule[120];
		nfs_client_rule_format(&exp->rules[i], rule, sizeof(rule));
		n += (size_t)snprintf(buf + n, cap - n, "client %s\n", rule);
	}
	*text = buf;
	*len = n;
	return 0;
}

static int export_parse(const char *path, const char *text, size_t len, struct nfs_export *exp)
{
	char err[160];
	*exp = (struct nfs_export){ 0 };
	snprintf(exp->path, sizeof(exp->path), "%s", path);
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		char buf[160];
		if (n >= sizeof(buf))
			return -EIO;
		memcpy(buf, line, n);
		buf[n] = 0;
		if (!strncmp(buf, "id ", 3)) {
			exp->id = (uint32_t)strtoul(buf + 3, NULL, 10);
		} else if (!strncmp(buf, "client ", 7) && exp->nrules < NFS_EXPORT_MAX_CLIENTS) {
			if (nfs_client_rule_parse(buf + 7, &exp->rules[exp->nrules++], err,
						  sizeof(err)) < 0)
				return -EIO;
		} else if (n) {
			return -EIO;
		}
	}
	return exp->id ? 0 : -EIO;
}

static int export_get(struct cowstore *cs, const char *key, const char *path,
		      struct nfs_export *exp)
{
	void *value;
	size_t len;
	int rc = cowstore_config_get(cs, key, &value, &len);
	if (rc)
		return rc;
	rc = export_parse(path, value, len, exp);
	free(value);
	return rc;
}

int nfs_export_put(struct cowstore *cs, const char *path, const struct nfs_client_rule *rules,
		   uint32_t nrules, char *err, size_t errlen)
{
	if (!path_valid(path)) {
		snprintf(err, errlen, "export path '%s' must be absolute, made of names of "
			 "letters, digits and . _ - @ : +", path);
		return -EINVAL;
	}
	if (nrules == 0 || nrules > NFS_EXPORT_MAX_CLIENTS) {
		snprintf(err, errlen, "an export needs 1 to %u client rules", NFS_EXPORT_MAX_CLIENTS);
		return -EINVAL;
	}
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	snprintf(key, sizeof(key), KEY_PREFIX "%s", path);
	struct nfs_export exp;
	int rc = export_get(cs, key, path, &exp);
	if (rc == -ENOENT) {
		size_t count;
		struct nfs_export *all;
		rc = nfs_export_list(cs, &all, &count);
		if (rc == 0)
			free(all);
		if (rc == 0 && count >= NFS_MAX_EXPORTS)
			rc = -ENOSPC;
		if (rc == 0)
			rc = next_export_id(cs, &exp.id);
	}
	struct cowstore_ns_attr attr;
	if (rc == 0)
		rc = walk_path(cs, path, true, &attr);
	if (rc == 0 && attr.type != COWSTORE_NS_DIR)
		rc = -ENOTDIR;
	if (rc < 0) {
		snprintf(err, errlen, "cannot export %s: %s", path, strerror(-rc));
		return rc;
	}
	exp.nrules = nrules;
	memcpy(exp.rules, rules, nrules * sizeof(*rules));
	char *text;
	size_t len;
	rc = export_format(&exp, &text, &len);
	if (rc == 0) {
		rc = cowstore_config_put(cs, key, text, len);
		free(text);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot save the export of %s: %s", path, strerror(-rc));
	return rc;
}

int nfs_export_remove(struct cowstore *cs, const char *path)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	if (!path_valid(path))
		return -EINVAL;
	snprintf(key, sizeof(key), KEY_PREFIX "%s", path);
	return cowstore_config_delete(cs, key);
}

struct export_list {
	struct nfs_export *items;
	size_t count;
	int rc;
};

static int collect_export(void *arg, const char *key, const void *value, size_t len)
{
	struct export_list *l = arg;
	struct nfs_export *grown = realloc(l->items, (l->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->items = grown;
	return export_parse(key + strlen(KEY_PREFIX), value, len, &l->items[l->count++]);
}

int nfs_export_list(struct cowstore *cs, struct nfs_export **list, size_t *count)
{
	struct export_list l = { 0 };
	int rc = cowstore_config_list(cs, KEY_PREFIX, collect_export, &l);
	if (rc < 0) {
		free(l.items);
		return rc;
	}
	*list = l.items;
	*count = l.count;
	return 0;
}

int nfs_export_default(struct cowstore *cs, bool *created)
{
	void *value;
	size_t len;
	*created = false;
	int rc = cowstore_config_get(cs, NEXT_ID_KEY, &value, &len);
	if (rc == 0)
		free(value);
	if (rc != -ENOENT)
		return rc;
	struct nfs_client_rule rules[2];
	char err[160];
	const char *clients[] = { "127.0.0.1(rw,no_root_squash,insecure)",
				  "::1(rw,no_root_squash,insecure)" };
	for (int i = 0; i < 2; i++)
		nfs_client_rule_parse(clients[i], &rules[i], err, sizeof(err));
	rc = nfs_export_put(cs, "/demo", rules, 2, err, sizeof(err));
	*created = rc == 0;
	return rc;
}
