/*
 * objects.c - the API's own objects (VMs, schedules, QoS policies, users,
 * tokens, events) as JSON records in the pool's metadata, under
 * "M/<kind>/<name>", written with cowstore's synced configuration writes.
 * Volumes, snapshots, targets and exports are not here: they live in
 * their own modules' records and the API reads them there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"

static int make_key(char *key, size_t len, const char *kind, const char *name)
{
	int n = snprintf(key, len, "M/%s/%s", kind, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int api_obj_get(struct mgmt *m, const char *kind, const char *name, json_t **out)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	void *value;
	size_t len;
	int rc = make_key(key, sizeof(key), kind, name);
	if (!rc)
		rc = cowstore_config_get(m->cs, key, &value, &len);
	if (rc)
		return rc;
	*out = json_loadb(value, len, 0, NULL);
	free(value);
	return *out ? 0 : -EIO;
}

int api_obj_put(struct mgmt *m, const char *kind, const char *name, const json_t *obj)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	int rc = make_key(key, sizeof(key), kind, name);
	if (rc)
		return rc;
	char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	rc = cowstore_config_put(m->cs, key, text, strlen(text));
	free(text);
	return rc;
}

int api_obj_delete(struct mgmt *m, const char *kind, const char *name)
{
	char key[COWSTORE_CONFIG_KEY_MAX + 1];
	int rc = make_key(key, sizeof(key), kind, name);
	return rc ? rc : cowstore_config_delete(m->cs, key);
}

static int add_one(void *arg, const char *key, const void *value, size_t len)
{
	json_t *obj = json_loadb(value, len, 0, NULL);
	if (!obj)
		return -EIO;
	return json_array_append_new(arg, obj) ? -ENOMEM : 0;
}

int api_obj_list(struct mgmt *m, const char *kind, json_t **out)
{
	char prefix[COWSTORE_CONFIG_KEY_MAX + 1];
	int rc = make_key(prefix, sizeof(prefix), kind, "");
	json_t *list = json_array();
	if (!rc && !list)
		rc = -ENOMEM;
	if (!rc)
		rc = cowstore_config_list(m->cs, prefix, add_one, list);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return 0;
}
