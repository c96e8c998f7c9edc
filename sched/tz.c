/*
 * tz.c - time zones from TZif files (RFC 8536): load, parse, and the UTC
 * offset in effect at an instant.
 *
 * Only the version 2+ part is used (64-bit transition times); version 1
 * files are refused.  Before the first transition the zone is in time type
 * 0; from the last transition on, the footer's POSIX TZ rule (tz_rule.c)
 * applies when there is one.  Nothing here touches the process's TZ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/internal.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
#define TZ_NAME_MAX 255
#define TZIF_MAX_BYTES (1 << 20)
#define TZIF_HEADER_BYTES 44
/* Offsets beyond a day would break sched_next_run's local-time search. */
#define TZ_OFFSET_LIMIT_S (25 * 3600)

struct sched_tz {
	char name[TZ_NAME_MAX + 1];
	size_t ntrans;
	int64_t *trans_at;       /* ntrans ascending transition times */
	uint8_t *trans_type;     /* index into offsets, per transition */
	size_t ntypes;
	int32_t offsets_s[256];  /* UT offset of each local time type */
	bool has_rule;
	struct tz_rule rule;     /* the footer, for times after the last transition */
};

/* The counts of a TZif header (RFC 8536 section 3.1). */
struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Read a header at P (LEN bytes left); returns its data block's size or <0. */
static int64_t read_header(const uint8_t *p, size_t len, struct tzif_counts *c, int time_bytes)
{
	if (len < TZIF_HEADER_BYTES || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	if (c->type == 0 || c->type > 256 || c->time > TZIF_MAX_BYTES ||
	    c->chars > TZIF_MAX_BYTES || c->leap > TZIF_MAX_BYTES ||
	    (c->isut && c->isut != c->type) || (c->isstd && c->isstd != c->type))
		return -EINVAL;
	return (int64_t)c->time * (time_bytes + 1) + (int64_t)c->type * 6 + c->chars +
	       (int64_t)c->leap * (time_bytes + 4) + c->isstd + c->isut;
}

static int read_types(struct sched_tz *tz, const uint8_t *p, const struct tzif_counts *c)
{
	tz->ntypes = c->type;
	for (uint32_t i = 0; i < c->type; i++) {
		int32_t off = (int32_t)be32(p + 6 * i);
		if (off <= -TZ_OFFSET_LIMIT_S || off >= TZ_OFFSET_LIMIT_S)
			return -EINVAL;
		tz->offsets_s[i] = off;
	}
	return 0;
}

static int read_transitions(struct sched_tz *tz, const uint8_t *p, const struct tzif_counts *c)
{
	tz->ntrans = c->time;
	tz->trans_at = malloc(c->time * sizeof(int64_t) + 1);
	tz->trans_type = malloc(c->time + 1);
	if (!tz->trans_at || !tz->trans_type)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->time; i++) {
		tz->trans_at[i] = be64(p + 8 * i);
		tz->trans_type[i] = p[8 * c->time + i];
		if (tz->trans_type[i] >= c->type || (i && tz->trans_at[i] <= tz->trans_at[i - 1]))
			return -EINVAL;
	}
	return 0;
}

/* The footer "\nTZ\n" at P (LEN bytes): empty, or a rule. */
static int read_footer(struct sched_tz *tz, const uint8_t *p, size_t len)
{
	if (len < 2 || p[0] != '\n')
		return -EINVAL;
	const uint8_t *nl = memchr(p + 1, '\n', len - 1);
	if (!nl)
		return -EINVAL;
	size_t rule_len = (size_t)(nl - p - 1);
	if (rule_len == 0)
		return 0;
	tz->has_rule = true;
	return tz_rule_parse((const char *)p + 1, rule_len, &tz->rule);
}

static int parse_v2(struct sched_tz *tz, const uint8_t *p, size_t len)
{
	struct tzif_counts c;
	int64_t data = read_header(p, len, &c, 8);
	int rc;
	if (data < 0)
		return (int)data;
	if (c.leap)
		return -ENOTSUP; /* "right/" zones count leap seconds; cron times do not */
	if ((uint64_t)data > len - TZIF_HEADER_BYTES)
		return -EINVAL;
	p += TZIF_HEADER_BYTES;
	if ((rc = read_transitions(tz, p, &c)) < 0)
		return rc;
	if ((rc = read_types(tz, p + 9 * (size_t)c.time, &c)) < 0)
		return rc;
	return read_footer(tz, p + data, len - TZIF_HEADER_BYTES - (size_t)data);
}

static int parse_image(struct sched_tz *tz, const uint8_t *p, size_t len)
{
	struct tzif_counts c;
	int64_t v1_data = read_header(p, len, &c, 4);
	if (v1_data < 0)
		return (int)v1_data;
	if (p[4] < '2')
		return -ENOTSUP;
	if ((uint64_t)v1_data > len - TZIF_HEADER_BYTES)
		return -EINVAL;
	size_t skip = TZIF_HEADER_BYTES + (size_t)v1_data;
	return parse_v2(tz, p + skip, len - skip);
}

int sched_tz_parse(const void *tzif, size_t len, const char *name, struct sched_tz **out)
{
	struct sched_tz *tz = calloc(1, sizeof(*tz));
	int rc;
	if (!tz)
		return -ENOMEM;
	snprintf(tz->name, sizeof(tz->name), "%s", name ? name : "");
	rc = parse_image(tz, tzif, len);
	if (rc < 0) {
		sched_tz_free(tz);
		return rc;
	}
	*out = tz;
	return 0;
}

static int check_zone_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      strchr("/_-+.", ch)))
			return -EINVAL;
	}
	return 0;
}

/* Read a whole regular file of at most TZIF_MAX_BYTES into *BUF (malloc'd). */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_MAX_BYTES) {
		rc = -EINVAL;
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	ssize_t got = pread(fd, *buf, (size_t)st.st_size, 0);
	if (got != st.st_size) {
		free(*buf);
		rc = got < 0 ? -errno : -EIO;
		goto out;
	}
	*len = (size_t)got;
out:
	close(fd);
	return rc;
}

int sched_tz_load(const char *name, struct sched_tz **out)
{
	char path[sizeof(ZONEINFO_DIR) + TZ_NAME_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if ((rc = check_zone_name(name)) < 0)
		return rc;
	snprintf(path, sizeof(path), ZONEINFO_DIR "%s", name);
	if ((rc = read_file(path, &buf, &len)) < 0)
		return rc;
	rc = sched_tz_parse(buf, len, name, out);
	free(buf);
	return rc;
}

void sched_tz_free(struct sched_tz *tz)
{
	if (!tz)
		return;
	free(tz->trans_at);
	free(tz->trans_type);
	free(tz);
}

const char *sched_tz_name(const struct sched_tz *tz)
{
	return tz ? tz->name : "UTC";
}

int32_t sched_tz_offset(const struct sched_tz *tz, int64_t unix_s)
{
	if (!tz)
		return 0;
	if (tz->ntrans == 0 || unix_s >= tz->trans_at[tz->ntrans - 1]) {
		if (tz->has_rule)
			return tz_rule_offset(&tz->rule, unix_s);
		return tz->offsets_s[tz->ntrans ? tz->trans_type[tz->ntrans - 1] : 0];
	}
	if (unix_s < tz->trans_at[0])
		return tz->offsets_s[0];
	size_t lo = 0, hi = tz->ntrans - 1; /* trans_at[lo] <= unix_s < trans_at[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans_at[mid] <= unix_s)
			lo = mid;
		else
			hi = mid;
	}
	return tz->offsets_s[tz->trans_type[lo]];
}
