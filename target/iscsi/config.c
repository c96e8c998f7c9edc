/*
 * config.c - the iSCSI configuration kept in the pool (cowstore config
 * records): targets with their LUN mappings, initiator ACL and CHAP
 * secrets, and a global record with discovery CHAP and portals.
 *
 * Records are versioned text, one setting per line, so that an operator can
 * read them in a dump:
 *   iscsi/target/<iqn>:  "version 1", "chap USER SECRET", "mutual USER
 *                        SECRET", "acl INITIATOR", "lun N VOLUME"
 *   iscsi/global:        "version 1", "discovery-chap USER SECRET",
 *                        "discovery-mutual USER SECRET", "portal ADDR:PORT"
 * Loading is strict: an unknown line, a bad value or a second copy of a
 * single setting makes the record damaged (-EINVAL) rather than half read.
 * Everything saved is checked by the same rules first.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target/iscsi/iscsi.h"

#define TARGET_PREFIX "iscsi/target/"
#define GLOBAL_KEY "iscsi/global"
#define FORMAT_VERSION 1

static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && why_len)
		vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- checks ----------------------------------------------------------- */

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == 0;
}

/* "YYYY-MM" of an iqn name: the month the naming authority owned its
 * domain (RFC 3720 3.2.6.3.1). */
static bool iqn_date_valid(const char *d)
{
	for (int i = 0; i < 7; i++)
		if (i == 4 ? d[i] != '-' : !isdigit((unsigned char)d[i]))
			return false;
	int month = (d[5] - '0') * 10 + (d[6] - '0');
	return month >= 1 && month <= 12;
}

/* iSCSI names compare without regard to case: RFC 3722 maps them to lower
 * case, and initiators and operators do not always write them that way. */
int iscsi_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > ISCSI_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr(".-:", name[i]))
			return 0; /* RFC 3722 stringprep output, restricted to ASCII */
	if (!strncasecmp(name, "iqn.", 4))
		return n > 12 && iqn_date_valid(name + 4) && name[11] == '.' &&
		       isalnum((unsigned char)name[12]);
	if (!strncasecmp(name, "eui.", 4))
		return all_hex(name + 4, 16);
	if (!strncasecmp(name, "naa.", 4))
		return all_hex(name + 4, 16) || all_hex(name + 4, 32);
	return 0;
}

static bool token_valid(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static int check_auth(const struct iscsi_auth *a, const char *what, char *why, size_t why_len)
{
	const struct iscsi_chap *pair[2] = { &a->chap, &a->mutual };
	for (int i = 0; i < 2; i++) {
		const struct iscsi_chap *c = pair[i];
		if (!c->user[0] && !c->secret[0])
			continue;
		if (!token_valid(c->user, 1, ISCSI_CHAP_USER_MAX))
			return fail(why, why_len, "%s: CHAP user must be 1-%d printable characters "
				    "without spaces", what, ISCSI_CHAP_USER_MAX);
		if (!token_valid(c->secret, ISCSI_CHAP_SECRET_MIN, ISCSI_CHAP_SECRET_MAX))
			return fail(why, why_len, "%s: CHAP secret must be %d-%d printable "
				    "characters without spaces", what, ISCSI_CHAP_SECRET_MIN,
				    ISCSI_CHAP_SECRET_MAX);
	}
	if (a->mutual.user[0] && !a->chap.user[0])
		return fail(why, why_len, "%s: mutual CHAP needs one-way CHAP too", what);
	if (a->mutual.user[0] && !strcmp(a->mutual.secret, a->chap.secret))
		return fail(why, why_len, "%s: the mutual secret must differ from the "
			    "initiator's (RFC 7143 12.1.3)", what);
	return 0;
}

static int check_target(const struct iscsi_target_config *t, char *why, size_t why_len)
{
	if (!iscsi_name_valid(t->iqn))
		return fail(why, why_len, "'%s' is not an iSCSI name (iqn.YYYY-MM.domain[:id], "
			    "eui.<16 hex>, naa.<hex>)", t->iqn);
	int rc = check_auth(&t->auth, t->iqn, why, why_len);
	if (rc)
		return rc;
	if (t->nacl > ISCSI_MAX_ACL || t->nluns > ISCSI_MAX_TARGET_LUNS)
		return fail(why, why_len, "%s: too many ACL entries or LUNs", t->iqn);
	for (unsigned i = 0; i < t->nacl; i++)
		if (!iscsi_name_valid(t->acl[i]))
			return fail(why, why_len, "%s: ACL entry '%s' is not an iSCSI name",
				    t->iqn, t->acl[i]);
	for (unsigned i = 0; i < t->nluns; i++) {
		if (t->luns[i].lun >= 256 || !token_valid(t->luns[i].volume, 1, COWSTORE_NAME_MAX))
			return fail(why, why_len, "%s: LUN %llu: LUNs are 0-255 mapping a volume "
				    "name", t->iqn, (unsigned long long)t->luns[i].lun);
		for (unsigned j = 0; j < i; j++)
			if (t->luns[j].lun == t->luns[i].lun)
				return fail(why, why_len, "%s: LUN %llu is mapped twice", t->iqn,
					    (unsigned long long)t->luns[i].lun);
	}
	return 0;
}

int config_check_target(const struct iscsi_target_config *t, char *why, size_t why_len)
{
	return check_target(t, why, why_len);
}

int config_check_auth(const struct iscsi_auth *a, const char *what, char *why, size_t why_len)
{
	return check_auth(a, what, why, why_len);
}

int iscsi_portal_parse(const char *portal, char *address, size_t address_len, uint16_t *port)
{
	const char *colon = portal ? strrchr(portal, ':') : NULL;
	if (!colon || colon == portal)
		return -EINVAL;
	const char *host = portal;
	size_t len = (size_t)(colon - portal);
	if (host[0] == '[') {
		if (len < 3 || host[len - 1] != ']')
			return -EINVAL;
		host++;
		len -= 2;
	}
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	unsigned char buf[16];
	char addr[64];
	if (!colon[1] || *end || p > 65535 || len == 0 || len >= sizeof(addr) || len >= address_len)
		return -EINVAL;
	memcpy(addr, host, len);
	addr[len] = 0;
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
		return -EINVAL;
	memcpy(address, addr, len + 1);
	*port = (uint16_t)p;
	return 0;
}

/* A portal as the socket it binds. */
struct bind_key {
	int family;
	unsigned char addr[16];
	uint16_t port;
	bool wildcard;
};

static bool bind_key(const char *portal, struct bind_key *k)
{
	static const unsigned char any[16];
	char address[64];
	memset(k, 0, sizeof(*k));
	if (iscsi_portal_parse(portal, address, sizeof(address), &k->port))
		return false;
	k->family = inet_pton(AF_INET, address, k->addr) == 1 ? AF_INET : AF_INET6;
	if (k->family == AF_INET6 && inet_pton(AF_INET6, address, k->addr) != 1)
		return false;
	k->wildcard = !memcmp(k->addr, any, sizeof(any));
	return true;
}

int iscsi_portal_equal(const char *a, const char *b)
{
	struct bind_key ka, kb;
	return bind_key(a, &ka) && bind_key(b, &kb) && ka.family == kb.family &&
	       ka.port == kb.port && !memcmp(ka.addr, kb.addr, sizeof(ka.addr));
}

/* Both cannot listen: the same socket, or a wildcard (an IPv6 one takes
 * IPv4 too) and another address on its port. */
static bool portals_collide(const struct bind_key *a, const struct bind_key *b)
{
	return a->port == b->port && (a->wildcard || b->wildcard ||
				      (a->family == b->family && !memcmp(a->addr, b->addr, 16)));
}

static int check_global(const struct iscsi_config *cfg, char *why, size_t why_len)
{
	struct bind_key keys[ISCSI_MAX_PORTALS];
	int rc = check_auth(&cfg->discovery, "discovery", why, why_len);
	if (rc)
		return rc;
	if (cfg->nportals > ISCSI_MAX_PORTALS)
		return fail(why, why_len, "at most %d portals", ISCSI_MAX_PORTALS);
	for (unsigned i = 0; i < cfg->nportals; i++) {
		const char *portal = cfg->portals[i];
		if (!bind_key(portal, &keys[i]))
			return fail(why, why_len, "portal '%s' is not ADDR:PORT with a numeric "
				    "address", portal);
		if (!keys[i].port)
			return fail(why, why_len, "portal '%s': a configured portal needs a port "
				    "(3260 is iSCSI's)", portal);
		for (unsigned j = 0; j < i; j++)
			if (portals_collide(&keys[i], &keys[j]))
				return fail(why, why_len, "portals '%s' and '%s' cannot both "
					    "listen: same port, and one of them takes every address "
					    "or both are the same", cfg->portals[j], portal);
	}
	return 0;
}

/* ---- writing records -------------------------------------------------- */

struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void __attribute__((format(printf, 2, 3))) put_line(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0,
				  fmt, ap);
		va_end(ap);
		if (n < 0 || t->oom) {
			t->oom = true;
			return;
		}
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap + (size_t)n + 1) * 2;
		char *grown = realloc(t->buf, cap);
		if (!grown) {
			t->oom = true;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
}

static void put_auth(struct text *t, const struct iscsi_auth *a, const char *one_way,
		     const char *mutual)
{
	if (a->chap.user[0])
		put_line(t, "%s %s %s\n", one_way, a->chap.user, a->chap.secret);
	if (a->mutual.user[0])
		put_line(t, "%s %s %s\n", mutual, a->mutual.user, a->mutual.secret);
}

static int store(struct cowstore *cs, const char *key, struct text *t)
{
	int rc = t->oom ? -ENOMEM : cowstore_config_put(cs, key, t->buf, t->len);
	free(t->buf);
	return rc;
}

int iscsi_config_save_target(struct cowstore *cs, const struct iscsi_target_config *tc,
			     char *why, size_t why_len)
{
	char key[sizeof(TARGET_PREFIX) + ISCSI_NAME_MAX];
	struct text t = { 0 };
	int rc = check_target(tc, why, why_len);
	if (rc)
		return rc;
	put_line(&t, "version %d\n", FORMAT_VERSION);
	put_auth(&t, &tc->auth, "chap", "mutual");
	for (unsigned i = 0; i < tc->nacl; i++)
		put_line(&t, "acl %s\n", tc->acl[i]);
	for (unsigned i = 0; i < tc->nluns; i++)
		put_line(&t, "lun %llu %s\n", (unsigned long long)tc->luns[i].lun,
			 tc->luns[i].volume);
	snprintf(key, sizeof(key), TARGET_PREFIX "%s", tc->iqn);
	return store(cs, key, &t);
}

int iscsi_config_save_global(struct cowstore *cs, const struct iscsi_config *cfg, char *why,
			     size_t why_len)
{
	struct text t = { 0 };
	int rc = check_global(cfg, why, why_len);
	if (rc)
		return rc;
	put_line(&t, "version %d\n", FORMAT_VERSION);
	put_auth(&t, &cfg->discovery, "discovery-chap", "discovery-mutual");
	for (unsigned i = 0; i < cfg->nportals; i++)
		put_line(&t, "portal %s\n", cfg->portals[i]);
	return store(cs, GLOBAL_KEY, &t);
}

int iscsi_config_delete_target(struct cowstore *cs, const char *iqn)
{
	char key[sizeof(TARGET_PREFIX) + ISCSI_NAME_MAX];
	if (!iqn || strlen(iqn) > ISCSI_NAME_MAX)
		return -EINVAL;
	snprintf(key, sizeof(key), TARGET_PREFIX "%s", iqn);
	return cowstore_config_delete(cs, key);
}

int config_find_volume(struct cowstore *cs, const struct iscsi_volume_finder *finder,
		       const char *name, struct cowstore **cs_out, uint64_t *volume_id)
{
	if (finder && finder->find)
		return finder->find(finder->arg, name, cs_out, volume_id);
	*cs_out = cs;
	return cowstore_volume_lookup(cs, name, volume_id);
}

void iscsi_config_drop_missing_luns(struct cowstore *cs, const struct iscsi_volume_finder *finder,
				    struct iscsi_config *cfg, iscsi_lun_dropped_fn dropped,
				    void *arg)
{
	for (unsigned i = 0; i < cfg->ntargets; i++) {
		struct iscsi_target_config *t = &cfg->targets[i];
		unsigned kept = 0;
		for (unsigned j = 0; j < t->nluns; j++) {
			struct cowstore *found;
			uint64_t id;
			if (!config_find_volume(cs, finder, t->luns[j].volume, &found, &id))
				t->luns[kept++] = t->luns[j];
			else if (dropped)
				dropped(arg, t, &t->luns[j]);
		}
		t->nluns = kept;
	}
}

struct iscsi_target_config *iscsi_config_find(struct iscsi_config *cfg, const char *iqn)
{
	for (unsigned i = 0; i < cfg->ntargets; i++)
		if (!strcasecmp(cfg->targets[i].iqn, iqn))
			return &cfg->targets[i];
	return NULL;
}

/* ---- reading records -------------------------------------------------- */

/* Copy word into out (cap bytes) when it fits. */
static bool take(char *out, size_t cap, const char *word)
{
	if (!word || strlen(word) >= cap)
		return false;
	strcpy(out, word);
	return true;
}

static bool parse_chap(struct iscsi_chap *c, char **save)
{
	if (c->user[0])
		return false; /* set twice */
	const char *user = strtok_r(NULL, " ", save), *secret = strtok_r(NULL, " ", save);
	return take(c->user, sizeof(c->user), user) && take(c->secret, sizeof(c->secret), secret);
}

/* One line of a target record; false when it is not a valid one. */
static bool target_line(struct iscsi_target_config *t, const char *word, char **save)
{
	if (!strcmp(word, "chap"))
		return parse_chap(&t->auth.chap, save);
	if (!strcmp(word, "mutual"))
		return parse_chap(&t->auth.mutual, save);
	if (!strcmp(word, "acl"))
		return t->nacl < ISCSI_MAX_ACL &&
		       take(t->acl[t->nacl++], sizeof(t->acl[0]), strtok_r(NULL, " ", save));
	if (!strcmp(word, "lun")) {
		const char *n = strtok_r(NULL, " ", save);
		char *end;
		if (!n || t->nluns == ISCSI_MAX_TARGET_LUNS)
			return false;
		struct iscsi_lun_map *m = &t->luns[t->nluns++];
		m->lun = strtoull(n, &end, 10);
		return *n && !*end &&
		       take(m->volume, sizeof(m->volume), strtok_r(NULL, " ", save));
	}
	return false;
}

static bool global_line(struct iscsi_config *cfg, const char *word, char **save)
{
	if (!strcmp(word, "discovery-chap"))
		return parse_chap(&cfg->discovery.chap, save);
	if (!strcmp(word, "discovery-mutual"))
		return parse_chap(&cfg->discovery.mutual, save);
	if (!strcmp(word, "portal"))
		return cfg->nportals < ISCSI_MAX_PORTALS &&
		       take(cfg->portals[cfg->nportals++], sizeof(cfg->portals[0]),
			    strtok_r(NULL, " ", save));
	return false;
}

struct loader {
	struct iscsi_config *cfg;
	char *why;
	size_t why_len;
};

/* Feed each line of value to line(); checks the version line first. */
static int parse_record(const char *key, const void *value, size_t len, void *obj,
			bool (*line)(void *obj, const char *word, char **save), char *why,
			size_t why_len)
{
	char *text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	memcpy(text, value, len);
	text[len] = 0;
	int rc = 0, n = 0;
	char *save_line, *save;
	for (char *l = strtok_r(text, "\n", &save_line); l && !rc;
	     l = strtok_r(NULL, "\n", &save_line), n++) {
		char *word = strtok_r(l, " ", &save);
		bool ok = word && (n == 0 ? !strcmp(word, "version") &&
						    (word = strtok_r(NULL, " ", &save)) &&
						    atoi(word) == FORMAT_VERSION
					  : line(obj, word, &save));
		if (!ok || strtok_r(NULL, " ", &save))
			rc = fail(why, why_len, "configuration record %s is damaged at line %d",
				  key, n + 1);
	}
	if (!rc && n == 0)
		rc = fail(why, why_len, "configuration record %s is empty", key);
	free(text);
	return rc;
}

static bool target_line_cb(void *obj, const char *word, char **save)
{
	return target_line(obj, word, save);
}

static bool global_line_cb(void *obj, const char *word, char **save)
{
	return global_line(obj, word, save);
}

static int load_target(void *arg, const char *key, const void *value, size_t len)
{
	struct loader *l = arg;
	struct iscsi_config *cfg = l->cfg;
	if (cfg->ntargets == ISCSI_MAX_TARGETS)
		return fail(l->why, l->why_len, "more than %d targets stored", ISCSI_MAX_TARGETS);
	struct iscsi_target_config *t = &cfg->targets[cfg->ntargets];
	memset(t, 0, sizeof(*t));
	if (!take(t->iqn, sizeof(t->iqn), key + strlen(TARGET_PREFIX)))
		return fail(l->why, l->why_len, "configuration record %s is damaged", key);
	int rc = parse_record(key, value, len, t, target_line_cb, l->why, l->why_len);
	if (!rc)
		rc = check_target(t, l->why, l->why_len);
	if (!rc)
		cfg->ntargets++;
	return rc;
}

int iscsi_config_load(struct cowstore *cs, struct iscsi_config *cfg, char *why, size_t why_len)
{
	struct loader l = { cfg, why, why_len };
	void *value;
	size_t len;
	memset(cfg, 0, sizeof(*cfg));
	int rc = cowstore_config_get(cs, GLOBAL_KEY, &value, &len);
	if (rc == 0) {
		cfg->initialized = true;
		rc = parse_record(GLOBAL_KEY, value, len, cfg, global_line_cb, why, why_len);
		free(value);
		if (!rc)
			rc = check_global(cfg, why, why_len);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (!rc)
		rc = cowstore_config_list(cs, TARGET_PREFIX, load_target, &l);
	return rc;
}
