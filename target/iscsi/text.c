/*
 * text.c - iSCSI text key=value pairs (RFC 7143 6.1): the data of Login and
 * Text PDUs.  Pairs are separated by NUL bytes; keys are at most 63 bytes
 * and values at most 255, or 2050 for CHAP's large-binary values (longer
 * ones are refused, not truncated).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/iscsi/internal.h"

static size_t value_max(const char *key)
{
	return !strcmp(key, "CHAP_C") || !strcmp(key, "CHAP_R") ? LARGE_BINARY_TEXT_MAX
								 : VALUE_MAX;
}

int kv_add(struct kvlist *l, const char *key, const char *value)
{
	if (strlen(key) > KEY_MAX || strlen(value) > value_max(key))
		return -EINVAL;
	char *copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) { /* a key given again replaces the old value */
		if (strcmp(l->items[i].key, key) == 0) {
			free(l->items[i].value);
			l->items[i].value = copy;
			return 0;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct kv *p = realloc(l->items, cap * sizeof(*p));
		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		l->items = p;
		l->cap = cap;
	}
	strcpy(l->items[l->n].key, key);
	l->items[l->n].value = copy;
	l->n++;
	return 0;
}

int kv_parse(const uint8_t *data, uint32_t len, struct kvlist *out)
{
	uint32_t i = 0;
	while (i < len) {
		const char *pair = (const char *)data + i;
		const uint8_t *nul = memchr(data + i, 0, len - i);
		if (!nul)
			return -EINVAL; /* the last pair must end with NUL too */
		uint32_t pair_len = (uint32_t)(nul - (data + i));
		if (pair_len == 0) { /* padding NULs */
			i++;
			continue;
		}
		const char *eq = memchr(pair, '=', pair_len);
		if (!eq || eq == pair || (size_t)(eq - pair) >= sizeof(out->items[0].key))
			return -EINVAL;
		char key[KEY_MAX + 1];
		memcpy(key, pair, (size_t)(eq - pair));
		key[eq - pair] = 0;
		int rc = kv_add(out, key, eq + 1); /* checks the value's length */
		if (rc)
			return rc;
		i += pair_len + 1;
	}
	return 0;
}

const char *kv_get(const struct kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

int kv_encode(const struct kvlist *l, uint8_t **data, uint32_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < l->n; i++)
		total += strlen(l->items[i].key) + 1 + strlen(l->items[i].value) + 1;
	uint8_t *p = malloc(total ? total : 1);
	if (!p)
		return -ENOMEM;
	size_t at = 0;
	for (size_t i = 0; i < l->n; i++) {
		size_t k = strlen(l->items[i].key), v = strlen(l->items[i].value);
		memcpy(p + at, l->items[i].key, k);
		p[at + k] = '=';
		memcpy(p + at + k + 1, l->items[i].value, v + 1);
		at += k + v + 2;
	}
	*data = p;
	*len = (uint32_t)total;
	return 0;
}

void kv_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].value);
	free(l->items);
	memset(l, 0, sizeof(*l));
}
