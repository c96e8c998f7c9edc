/*
 * settings.c - the daemon's own settings: where it keeps data, where it
 * listens, its TLS certificate, how much it logs.  Everything else (volumes,
 * targets, exports, VMs, schedules, users) lives in the pool and is managed
 * through the API.
 *
 * The file is "key = value" lines ("pool.NAME = DIR" for each pool beside
 * the primary, which is the data directory); '#' starts a comment; unknown keys and
 * bad values are errors naming the line.  Built-in defaults (printed by
 * `slated --print-config`) apply to keys the file does not set, and
 * command-line flags override both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt.h"

void mgmt_settings_default(struct mgmt_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->data_dir, sizeof(s->data_dir), "./var");
	snprintf(s->iscsi, sizeof(s->iscsi), "%s", "");
	snprintf(s->nfs, sizeof(s->nfs), "127.0.0.1:2049");
	s->portmap = true;
	snprintf(s->api, sizeof(s->api), "127.0.0.1:8080");
	snprintf(s->log_level, sizeof(s->log_level), "info");
}

static int set_string(char *dst, size_t len, const char *value)
{
	if (strlen(value) >= len)
		return -ENAMETOOLONG;
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* A pool's name: 1 to MGMT_POOL_NAME_MAX of a-z 0-9 - _, a letter or digit
 * first, not the primary's. */
static bool pool_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (!len || len > MGMT_POOL_NAME_MAX || !strcmp(name, MGMT_PRIMARY_POOL) ||
	    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

/* "pool.NAME = DIR": add, change or (DIR "") remove a pool. */
static int set_pool(struct mgmt_settings *s, const char *name, const char *dir)
{
	unsigned i = 0;
	if (!pool_name_valid(name))
		return -EINVAL;
	while (i < s->npools && strcmp(s->pools[i].name, name))
		i++;
	if (!dir[0]) {
		if (i < s->npools)
			memmove(&s->pools[i], &s->pools[i + 1], (s->npools-- - i - 1) *
				sizeof(s->pools[0]));
		return 0;
	}
	if (i == s->npools && s->npools == MGMT_POOLS_MAX - 1)
		return -EINVAL;
	if (i == s->npools)
		snprintf(s->pools[s->npools++].name, sizeof(s->pools[0].name), "%s", name);
	return set_string(s->pools[i].dir, sizeof(s->pools[i].dir), dir);
}

int mgmt_settings_set(struct mgmt_settings *s, const char *key, const char *value)
{
	if (!strncmp(key, "pool.", 5))
		return set_pool(s, key + 5, value);
	if (!strcmp(key, "data"))
		return value[0] ? set_string(s->data_dir, sizeof(s->data_dir), value) : -EINVAL;
	if (!strcmp(key, "iscsi"))
		return set_string(s->iscsi, sizeof(s->iscsi), value);
	if (!strcmp(key, "nfs"))
		return value[0] ? set_string(s->nfs, sizeof(s->nfs), value) : -EINVAL;
	if (!strcmp(key, "api"))
		return value[0] ? set_string(s->api, sizeof(s->api), value) : -EINVAL;
	if (!strcmp(key, "tls_cert"))
		return set_string(s->tls_cert, sizeof(s->tls_cert), value);
	if (!strcmp(key, "tls_key"))
		return set_string(s->tls_key, sizeof(s->tls_key), value);
	if (!strcmp(key, "web"))
		return set_string(s->web, sizeof(s->web), value);
	if (!strcmp(key, "portmap")) {
		if (strcmp(value, "on") && strcmp(value, "off"))
			return -EINVAL;
		s->portmap = !strcmp(value, "on");
		return 0;
	}
	if (!strcmp(key, "log_level")) {
		if (strcmp(value, "error") && strcmp(value, "warning") && strcmp(value, "info"))
			return -EINVAL;
		return set_string(s->log_level, sizeof(s->log_level), value);
	}
	return -ENOENT;
}

static char *trim(char *text)
{
	while (*text == ' ' || *text == '\t')
		text++;
	size_t len = strlen(text);
	while (len && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	return text;
}

int mgmt_settings_load(const char *path, struct mgmt_settings *s, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	char line[8192];
	int rc = 0;
	for (unsigned n = 1; !rc && fgets(line, sizeof(line), f); n++) {
		*strchrnul(line, '#') = '\0';
		char *text = trim(line);
		if (!*text)
			continue;
		char *eq = strchr(text, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: want 'key = value'", path, n);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		char *key = trim(text), *value = trim(eq + 1);
		rc = mgmt_settings_set(s, key, value);
		if (rc == -ENOENT)
			snprintf(err, errlen, "%s:%u: unknown setting '%.64s' (known: data, pool.NAME, "
				 "iscsi, nfs, portmap, api, tls_cert, tls_key, web, log_level)", path, n, key);
		else if (rc)
			snprintf(err, errlen, "%s:%u: bad value for %.64s: '%.200s'", path, n, key, value);
		if (rc == -ENOENT)
			rc = -EINVAL;
	}
	fclose(f);
	return rc;
}

void mgmt_settings_print(const struct mgmt_settings *s, FILE *out)
{
	fprintf(out, "# slated settings (key = value); flags override them\n"
		     "data = %s\n"
		     "# iSCSI portal; empty: the portals kept in the pool (default 127.0.0.1:3260)\n"
		     "iscsi = %s\n"
		     "nfs = %s\n"
		     "portmap = %s\n"
		     "# REST API and web console; HTTPS when tls_cert and tls_key are set\n"
		     "api = %s\n"
		     "tls_cert = %s\n"
		     "tls_key = %s\n"
		     "# the web console's files; empty: \"web\" beside the slated binary\n"
		     "web = %s\n"
		     "# error, warning or info; SIGHUP re-reads it\n"
		     "log_level = %s\n",
		s->data_dir, s->iscsi, s->nfs, s->portmap ? "on" : "off", s->api, s->tls_cert,
		s->tls_key, s->web, s->log_level);
	fprintf(out, "# more pools (NAME: a-z 0-9 - _), each in its own directory:\n"
		     "# pool.NAME = DIR\n");
	for (unsigned i = 0; i < s->npools; i++)
		fprintf(out, "pool.%s = %s\n", s->pools[i].name, s->pools[i].dir);
}
