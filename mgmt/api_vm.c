/*
 * api_vm.c - VMs: a named group of volumes and NFS files (and a QoS policy)
 * that is snapshotted, rolled back, cloned and deleted as one.
 *
 * A VM is the record M/vm/<name>; deleting it never touches its disks.  A
 * VM snapshot is the record M/vmsnap/<vm>/<snap> naming its members: the
 * volumes are snapshotted by ONE cowstore_snapshot_group_create (one
 * instant, one group id); the files right after, one by one (NFS clients'
 * writes are ordered per file, so each file is consistent in itself, but
 * not in the same instant as the volumes).  A create that fails part way
 * undoes the parts it made.
 *
 * Lock: m->lock guards every read-modify-write of VM records (a volume in
 * at most one VM); no mgmt_event() is called while holding it (it takes
 * m->lock itself).  The scheduler (scheduler.c) shares the snapshot code
 * through api_vm_snapshot_create/_delete.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "qos/qos.h"
#include "target/nfs/nfs.h"

#define VM_MAX_VOLUMES 32
#define VM_MAX_FILES 32
#define VM_PATH_MAX 512

/* ---- VM records ------------------------------------------------------------ */

struct vm_req {
	char name[COWSTORE_NAME_MAX + 1];
	char volumes[VM_MAX_VOLUMES][COWSTORE_NAME_MAX + 1];
	unsigned nvolumes;
	char files[VM_MAX_FILES][VM_PATH_MAX];
	unsigned nfiles;
	char qos_policy[COWSTORE_NAME_MAX + 1];
};
static const struct api_field vm_fields[] = {
	API_STRING(struct vm_req, name, "name", true, 1),
	API_STRINGS(struct vm_req, volumes, nvolumes, "volumes", false, VM_MAX_VOLUMES),
	API_STRINGS(struct vm_req, files, nfiles, "files", false, VM_MAX_FILES),
	API_STRING(struct vm_req, qos_policy, "qos_policy", false, 1),
};
enum { F_NAME, F_VOLUMES, F_FILES, F_QOS };
const struct api_fields api_vm_create_spec = API_SPEC("VM", vm_fields);
const struct api_fields api_vm_patch_spec = { "VM", vm_fields + 1, 3 };

/* A string array as JSON. */
static json_t *strings_json(const char *first, unsigned n, size_t size)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_string(first + i * size));
	return a;
}

/* Decode a create or patch body; "qos_policy": null is allowed (none) and
 * sets *qos_null. */
static int decode_vm(struct api_call *c, const struct api_fields *spec, struct vm_req *req,
		     uint32_t *present, bool *qos_null)
{
	memset(req, 0, sizeof(*req));
	*qos_null = json_is_null(json_object_get(c->body, "qos_policy"));
	json_t *body = json_copy(c->body);
	if (!body) {
		api_problem(c, 500, "internal", NULL, "out of memory");
		return -ENOMEM;
	}
	if (*qos_null)
		json_object_del(body, "qos_policy");
	json_t *saved = c->body;
	c->body = body;
	int rc = api_decode_body(c, spec, req, present);
	c->body = saved;
	json_decref(body);
	return rc;
}

/* Check a VM record's members (vm: its name, or NULL for a new one);
 * answers 409/422 and returns false when one is wrong.  Under m->lock. */
static bool vm_check(struct api_call *c, const json_t *rec)
{
	struct mgmt *m = c->m;
	const char *name = json_string_value(json_object_get(rec, "name"));
	const json_t *vols = json_object_get(rec, "volumes"), *files = json_object_get(rec, "files");
	const json_t *qos = json_object_get(rec, "qos_policy");
	json_t *vms = NULL, *v;
	char field[64];
	size_t i, k;
	if (json_array_size(vols) + json_array_size(files) == 0) {
		api_problem(c, 422, "invalid-value", "/volumes",
			    "a VM needs at least one volume or file");
		return false;
	}
	int rc = api_obj_list(m, "vm", &vms);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the VMs");
		return false;
	}
	bool ok = true;
	json_array_foreach(vols, i, v) {
		const char *vol = json_string_value(v);
		uint64_t id;
		snprintf(field, sizeof(field), "/volumes/%zu", i);
		for (k = 0; k < i; k++)
			if (!strcmp(json_string_value(json_array_get(vols, k)), vol))
				break;
		if (k < i) {
			api_problem(c, 422, "invalid-value", field, "volume '%s' is listed twice", vol);
			ok = false;
		} else if (!api_name_valid(vol) || api_volume_id(m, vol, &id) ||
			   !strncmp(vol, "file.", 5)) {
			api_problem(c, 422, "invalid-value", field, "there is no volume '%.64s'", vol);
			ok = false;
		}
		json_t *other;
		json_array_foreach(vms, k, other) {
			const char *other_name = json_string_value(json_object_get(other, "name"));
			size_t j;
			json_t *ov;
			if (!ok || !strcmp(other_name, name))
				continue;
			json_array_foreach(json_object_get(other, "volumes"), j, ov)
				if (!strcmp(json_string_value(ov), vol)) {
					api_problem(c, 409, "in-use", field, "volume '%s' belongs to VM "
						    "'%s' already; a volume is in at most one VM",
						    vol, other_name);
					ok = false;
					break;
				}
		}
		if (!ok)
			break;
	}
	json_decref(vms);
	json_array_foreach(files, i, v) {
		const char *path = json_string_value(v);
		struct cowstore_ns_attr attr = { 0 };
		if (!ok)
			break;
		snprintf(field, sizeof(field), "/files/%zu", i);
		for (k = 0; k < i; k++)
			if (!strcmp(json_string_value(json_array_get(files, k)), path))
				break;
		rc = path[0] == '/' ? nfs_path_lookup(m->cs, path, &attr) : -EINVAL;
		if (k < i)
			api_problem(c, 422, "invalid-value", field, "file '%s' is listed twice", path);
		else if (rc)
			api_problem(c, 422, "invalid-value", field, "there is no file '%.200s' (%s)",
				    path, path[0] == '/' ? strerror(-rc) : "a path starts with '/'");
		else if (attr.type != COWSTORE_NS_REG)
			api_problem(c, 422, "invalid-value", field, "'%.200s' is not a regular file",
				    path);
		ok = k == i && !rc && attr.type == COWSTORE_NS_REG;
	}
	if (ok && json_is_string(qos)) {
		json_t *policy;
		rc = api_obj_get(m, "qos", json_string_value(qos), &policy);
		if (rc == 0)
			json_decref(policy);
		else if (rc == -ENOENT || rc == -ENAMETOOLONG)
			api_problem(c, 422, "invalid-value", "/qos_policy",
				    "there is no QoS policy '%.64s'", json_string_value(qos));
		else
			api_errno(c, rc, NULL, "cannot read the QoS policies");
		ok = rc == 0;
	}
	return ok;
}

/* Put the volumes of new (may be NULL) in the QoS stat group of its VM and
 * take those only old has out of theirs. */
static void vm_groups(struct mgmt *m, const json_t *old, const json_t *new)
{
	size_t i, k;
	json_t *v, *w;
	uint64_t id;
	if (!m->stats)
		return;
	json_array_foreach(old ? json_object_get(old, "volumes") : NULL, i, v) {
		bool kept = false;
		json_array_foreach(new ? json_object_get(new, "volumes") : NULL, k, w)
			kept |= json_equal(v, w);
		if (!kept && !api_volume_id(m, json_string_value(v), &id))
			qos_stats_set_group(m->stats, id, "");
	}
	json_array_foreach(new ? json_object_get(new, "volumes") : NULL, i, v)
		if (!api_volume_id(m, json_string_value(v), &id))
			qos_stats_set_group(m->stats, id,
					    json_string_value(json_object_get(new, "name")));
}

int api_vm_groups_load(struct mgmt *m)
{
	json_t *vms, *vm;
	size_t i;
	if (!m->stats)
		return 0;
	int rc = api_obj_list(m, "vm", &vms);
	if (rc)
		return rc;
	json_array_foreach(vms, i, vm)
		vm_groups(m, NULL, vm);
	json_decref(vms);
	return 0;
}

/* The VM named by the path's first parameter; answers 404 when missing. */
static int vm_find(struct api_call *c, json_t **vm)
{
	int rc = api_obj_get(c->m, "vm", c->params[0], vm);
	if (rc == -ENOENT || rc == -ENAMETOOLONG)
		api_problem(c, 404, "not-found", "name", "there is no VM '%.64s'", c->params[0]);
	else if (rc)
		api_errno(c, rc, NULL, "cannot read the VM");
	return rc;
}

static void list_vms(struct api_call *c)
{
	json_t *vms;
	int rc = api_obj_list(c->m, "vm", &vms);
	if (rc)
		api_errno(c, rc, NULL, "cannot list the VMs");
	else
		api_list(c, vms, "name");
}

static void get_vm(struct api_call *c)
{
	json_t *vm;
	if (!vm_find(c, &vm))
		api_json(c, 200, vm);
}

static void create_vm(struct api_call *c)
{
	struct vm_req *req = malloc(sizeof(*req));
	uint32_t present;
	bool qos_null;
	json_t *existing;
	if (!req) {
		api_problem(c, 500, "internal", NULL, "out of memory");
		return;
	}
	if (decode_vm(c, &api_vm_create_spec, req, &present, &qos_null) ||
	    !api_new_name_ok(c, req->name, "/name")) {
		free(req);
		return;
	}
	json_t *rec = json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", req->name, "volumes",
				strings_json(req->volumes[0], req->nvolumes, sizeof(req->volumes[0])),
				"files", strings_json(req->files[0], req->nfiles, VM_PATH_MAX),
				"qos_policy", (present & (1u << F_QOS)) ? json_string(req->qos_policy)
									: json_null(),
				"created_at", api_time(api_now_ns(c->m)));
	free(req);
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	int rc = api_obj_get(m, "vm", json_string_value(json_object_get(rec, "name")), &existing);
	if (rc == 0) {
		json_decref(existing);
		api_problem(c, 409, "already-exists", "/name", "VM '%s' exists already",
			    json_string_value(json_object_get(rec, "name")));
	} else if (rc != -ENOENT) {
		api_errno(c, rc, NULL, "cannot read the VMs");
	} else if (vm_check(c, rec)) {
		rc = api_obj_put(m, "vm", json_string_value(json_object_get(rec, "name")), rec);
		if (rc)
			api_errno(c, rc, NULL, "cannot store the VM");
		else
			vm_groups(m, NULL, rec);
	}
	pthread_mutex_unlock(&m->lock);
	if (!c->resp->status)
		api_created(c, json_incref(rec), "/api/v1/vms/%s",
			    json_string_value(json_object_get(rec, "name")));
	json_decref(rec);
}

static void patch_vm(struct api_call *c)
{
	struct vm_req *req = malloc(sizeof(*req));
	uint32_t present;
	bool qos_null;
	json_t *old, *rec;
	if (!req) {
		api_problem(c, 500, "internal", NULL, "out of memory");
		return;
	}
	if (decode_vm(c, &api_vm_patch_spec, req, &present, &qos_null)) {
		free(req);
		return;
	}
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	if (vm_find(c, &old)) {
		pthread_mutex_unlock(&m->lock);
		free(req);
		return;
	}
	rec = json_deep_copy(old);
	/* present's bits follow the patch table, which starts at "volumes" */
	if (present & (1u << (F_VOLUMES - 1)))
		json_object_set_new(rec, "volumes", strings_json(req->volumes[0], req->nvolumes,
								  sizeof(req->volumes[0])));
	if (present & (1u << (F_FILES - 1)))
		json_object_set_new(rec, "files", strings_json(req->files[0], req->nfiles, VM_PATH_MAX));
	if (present & (1u << (F_QOS - 1)))
		json_object_set_new(rec, "qos_policy", json_string(req->qos_policy));
	else if (qos_null)
		json_object_set_new(rec, "qos_policy", json_null());
	free(req);
	if (vm_check(c, rec)) {
		int rc = api_obj_put(m, "vm", c->params[0], rec);
		if (rc)
			api_errno(c, rc, NULL, "cannot store the VM");
		else
			vm_groups(m, old, rec);
	}
	pthread_mutex_unlock(&m->lock);
	if (!c->resp->status)
		api_json(c, 200, json_incref(rec));
	json_decref(rec);
	json_decref(old);
}

static void delete_vm(struct api_call *c)
{
	json_t *vm;
	struct mgmt *m = c->m;
	pthread_mutex_lock(&m->lock);
	int rc = vm_find(c, &vm);
	if (!rc) {
		rc = api_obj_delete(m, "vm", c->params[0]);
		if (rc)
			api_errno(c, rc, NULL, "cannot delete the VM");
		else
			vm_groups(m, vm, NULL);
		json_decref(vm);
	}
	pthread_mutex_unlock(&m->lock);
	if (!rc)
		api_no_content(c);
}

/* ---- VM snapshots ------------------------------------------------------------ */

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)) ?: "";
}

static uint64_t u64(const json_t *obj, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(obj, key));
}

static int vmsnap_get(struct mgmt *m, const char *vm, const char *snap, json_t **out)
{
	char kind[320];
	snprintf(kind, sizeof(kind), "vmsnap/%s", vm);
	return api_obj_get(m, kind, snap, out);
}

/* Undo what a VM snapshot made: the volume snapshots in vol_ids (n of
 * them) and the file snapshots named snap on inos (nfiles). */
static void undo_snapshot(struct mgmt *m, const uint64_t *vol_ids, size_t n, const uint64_t *inos,
			  size_t nfiles, const char *snap)
{
	for (size_t i = 0; i < nfiles; i++)
		cowstore_ns_snapshot_delete(m->cs, inos[i], snap, NULL);
	for (size_t i = 0; i < n; i++)
		cowstore_snapshot_delete(api_pool_of(m, vol_ids[i]), vol_ids[i], NULL);
}

/* Snapshot the volumes (ids, n of them) at one instant in each pool: a
 * consistency group per pool, taken one pool after the other.  On failure
 * the pools' groups already taken are deleted again. */
static int group_snapshot(struct mgmt *m, const uint64_t *ids, size_t n, const char *snap,
			  uint64_t *snap_ids, struct cowstore_err *err)
{
	uint64_t pool_ids[VM_MAX_VOLUMES], pool_snaps[VM_MAX_VOLUMES];
	size_t done = 0;
	int rc = 0;
	for (unsigned p = 0; !rc && p < m->pools.count; p++) {
		struct cowstore *cs = m->pools.pool[p].cs;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (api_pool_of(m, ids[i]) == cs)
				pool_ids[k++] = ids[i];
		if (k && !(rc = cowstore_snapshot_group_create(cs, pool_ids, k, snap, pool_snaps,
							       err)))
			for (size_t i = 0, j = 0; i < n; i++)
				if (api_pool_of(m, ids[i]) == cs)
					snap_ids[i] = pool_snaps[j++], done++;
	}
	for (size_t i = 0; rc && done && i < n; i++)
		if (snap_ids[i])
			cowstore_snapshot_delete(api_pool_of(m, snap_ids[i]), snap_ids[i], NULL);
	return rc;
}

int api_vm_snapshot_create(struct mgmt *m, const char *vm_name, const char *snap, char *why,
			   size_t whylen)
{
	uint64_t vol_ids[VM_MAX_VOLUMES], snap_ids[VM_MAX_VOLUMES] = { 0 }, inos[VM_MAX_FILES];
	struct cowstore_err err = { "" };
	json_t *vm, *existing;
	size_t nvol = 0, nfiles = 0, i;
	int rc = api_obj_get(m, "vm", vm_name, &vm);
	if (rc) {
		snprintf(why, whylen, rc == -ENOENT ? "there is no VM '%s'" : "cannot read VM '%s'",
			 vm_name);
		return rc;
	}
	json_t *vols = json_object_get(vm, "volumes"), *files = json_object_get(vm, "files"), *v;
	rc = vmsnap_get(m, vm_name, snap, &existing);
	if (rc == 0) {
		json_decref(existing);
		snprintf(why, whylen, "VM '%s' has a snapshot '%s' already", vm_name, snap);
		rc = -EEXIST;
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	json_array_foreach(vols, i, v) {
		if (rc || i >= VM_MAX_VOLUMES)
			break;
		rc = api_volume_id(m, json_string_value(v), &vol_ids[nvol++]);
		if (rc)
			snprintf(why, whylen, "volume '%s' of VM '%s' is gone", json_string_value(v),
				 vm_name);
	}
	json_t *vol_items = json_array(), *file_items = json_array();
	/* the volumes: one instant in each pool */
	if (!rc && nvol) {
		rc = group_snapshot(m, vol_ids, nvol, snap, snap_ids, &err);
		if (rc)
			snprintf(why, whylen, "%s", err.msg);
		for (i = 0; !rc && i < nvol; i++)
			json_array_append_new(vol_items, json_pack("{s:O, s:I}", "volume",
								   json_array_get(vols, i), "snapshot_id",
								   (json_int_t)snap_ids[i]));
	}
	bool volumes_made = !rc && nvol;
	/* the files: right after, one by one (each consistent in itself) */
	json_array_foreach(files, i, v) {
		struct cowstore_ns_attr attr;
		struct cowstore_ns_snapshot fsnap;
		if (rc || i >= VM_MAX_FILES)
			break;
		rc = nfs_path_lookup(m->cs, json_string_value(v), &attr);
		if (rc) {
			snprintf(why, whylen, "file '%s' of VM '%s': %s", json_string_value(v),
				 vm_name, strerror(-rc));
			break;
		}
		rc = cowstore_ns_snapshot_create(m->cs, attr.ino, snap, &fsnap, &err);
		if (rc) {
			snprintf(why, whylen, "file '%s': %s", json_string_value(v), err.msg);
			break;
		}
		inos[nfiles++] = attr.ino;
		json_array_append_new(file_items, json_pack("{s:O, s:I}", "path", v, "ino",
							    (json_int_t)attr.ino));
	}
	json_t *rec = NULL;
	if (!rc) {
		rec = json_pack("{s:s, s:s, s:o, s:O, s:O}", "name", snap, "vm", vm_name,
				"created_at", api_time(api_now_ns(m)), "volumes", vol_items,
				"files", file_items);
		char kind[320];
		snprintf(kind, sizeof(kind), "vmsnap/%s", vm_name);
		rc = rec ? api_obj_put(m, kind, snap, rec) : -ENOMEM;
		if (rc)
			snprintf(why, whylen, "cannot store the snapshot record: %s", strerror(-rc));
	}
	if (rc)
		undo_snapshot(m, snap_ids, volumes_made ? nvol : 0, inos, nfiles, snap);
	json_decref(rec);
	json_decref(vol_items);
	json_decref(file_items);
	json_decref(vm);
	return rc;
}

/* The snapshots of a member volume ({"volume", "snapshot_id"}), oldest
 * first (*list malloc'ed), or the member's own snapshot into *info. */
static int member_snapshots(struct mgmt *m, const json_t *item,
			    struct cowstore_snapshot_info **list, size_t *n)
{
	uint64_t vol_id;
	int rc = api_volume_id(m, str(item, "volume"), &vol_id);
	return rc ? rc : cowstore_snapshot_list(api_pool_of(m, vol_id), vol_id, list, n);
}

static int member_snapshot(struct mgmt *m, const json_t *item, struct cowstore_snapshot_info *info)
{
	struct cowstore_snapshot_info *list;
	size_t n;
	int rc = member_snapshots(m, item, &list, &n);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t k = 0; k < n && rc; k++)
		if (list[k].id == u64(item, "snapshot_id")) {
			*info = list[k];
			rc = 0;
		}
	free(list);
	return rc;
}

/* Clones that depend on the VM snapshot's volume snapshots: their count,
 * and a sentence naming the first in why ("" when none). */
static uint32_t snapshot_dependents(struct mgmt *m, const json_t *rec, char *why, size_t whylen)
{
	uint32_t total = 0;
	size_t i;
	json_t *item;
	if (why && whylen)
		why[0] = '\0';
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		struct cowstore_snapshot_info info;
		if (member_snapshot(m, item, &info) || !info.nclones)
			continue;
		if (why && !why[0])
			snprintf(why, whylen, "%u clone(s) depend on the snapshot of volume '%s' in "
				 "VM snapshot '%s'; delete them first", info.nclones,
				 str(item, "volume"), str(rec, "name"));
		total += info.nclones;
	}
	return total;
}

uint32_t api_vm_snapshot_dependents(struct mgmt *m, const json_t *rec)
{
	return snapshot_dependents(m, rec, NULL, 0);
}

int api_vm_snapshot_delete(struct mgmt *m, const char *vm_name, const char *snap, char *why,
			   size_t whylen)
{
	json_t *rec, *item;
	size_t i;
	int rc = vmsnap_get(m, vm_name, snap, &rec);
	if (rc) {
		snprintf(why, whylen, "VM '%s' has no snapshot '%s'", vm_name, snap);
		return rc;
	}
	if (snapshot_dependents(m, rec, why, whylen)) {
		json_decref(rec);
		return -EBUSY;
	}
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		struct cowstore_err err = { "" };
		uint64_t snap_id = u64(item, "snapshot_id");
		int r = cowstore_snapshot_delete(api_pool_of(m, snap_id), snap_id, &err);
		if (r && r != -ENOENT && !rc) {
			rc = r;
			snprintf(why, whylen, "%s", err.msg);
		}
	}
	json_array_foreach(json_object_get(rec, "files"), i, item) {
		struct cowstore_err err = { "" };
		int r = cowstore_ns_snapshot_delete(m->cs, u64(item, "ino"), snap, &err);
		if (r && r != -ENOENT && r != -ESTALE && !rc) {
			rc = r;
			snprintf(why, whylen, "%s", err.msg);
		}
	}
	if (!rc) {
		char kind[320];
		snprintf(kind, sizeof(kind), "vmsnap/%s", vm_name);
		rc = api_obj_delete(m, kind, snap);
		if (rc)
			snprintf(why, whylen, "cannot delete the snapshot record: %s", strerror(-rc));
	}
	json_decref(rec);
	return rc;
}

/* The record as the API shows it: with unique_bytes summed over members. */
static json_t *vmsnap_json(struct mgmt *m, const json_t *rec)
{
	uint64_t unique = 0;
	size_t i;
	json_t *item, *out = json_deep_copy(rec);
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		struct cowstore_snapshot_info info;
		if (!member_snapshot(m, item, &info))
			unique += info.unique_bytes;
	}
	json_array_foreach(json_object_get(rec, "files"), i, item) {
		struct cowstore_ns_snapshot *list;
		size_t n;
		if (cowstore_ns_snapshot_list(m->cs, u64(item, "ino"), &list, &n))
			continue;
		for (size_t k = 0; k < n; k++)
			if (!strcmp(list[k].name, str(rec, "name")))
				unique += list[k].unique_bytes;
		free(list);
	}
	json_object_set_new(out, "unique_bytes", json_integer((json_int_t)unique));
	return out;
}

/* The VM snapshot named by the path's second parameter. */
static int vmsnap_find(struct api_call *c, json_t **rec)
{
	json_t *vm;
	int rc = vm_find(c, &vm);
	if (rc)
		return rc;
	json_decref(vm);
	rc = vmsnap_get(c->m, c->params[0], c->params[1], rec);
	if (rc == -ENOENT || rc == -ENAMETOOLONG)
		api_problem(c, 404, "not-found", "snapshot", "VM '%s' has no snapshot '%.64s'",
			    c->params[0], c->params[1]);
	else if (rc)
		api_errno(c, rc, NULL, "cannot read the VM snapshot");
	return rc;
}

static int64_t created_ns(const json_t *rec)
{
	int64_t ns = 0;
	api_time_parse(str(rec, "created_at"), &ns);
	return ns;
}

/* The VM's snapshots, oldest first. */
static int vmsnap_list(struct mgmt *m, const char *vm, json_t **out)
{
	char kind[320];
	snprintf(kind, sizeof(kind), "vmsnap/%s", vm);
	int rc = api_obj_list(m, kind, out);
	if (rc)
		return rc;
	size_t n = json_array_size(*out);
	for (size_t i = 1; i < n; i++) /* insertion sort by created_at (lists are short) */
		for (size_t k = i; k > 0 && created_ns(json_array_get(*out, k - 1)) >
						    created_ns(json_array_get(*out, k)); k--) {
			json_t *a = json_incref(json_array_get(*out, k - 1));
			json_array_set(*out, k - 1, json_array_get(*out, k));
			json_array_set_new(*out, k, a);
		}
	return 0;
}

static void list_vm_snapshots(struct api_call *c)
{
	json_t *vm, *all, *rec;
	size_t i;
	if (vm_find(c, &vm))
		return;
	json_decref(vm);
	int rc = vmsnap_list(c->m, c->params[0], &all);
	if (rc) {
		api_errno(c, rc, NULL, "cannot list the VM's snapshots");
		return;
	}
	json_t *items = json_array();
	json_array_foreach(all, i, rec)
		json_array_append_new(items, vmsnap_json(c->m, rec));
	json_decref(all);
	api_list(c, items, "name");
}

static void get_vm_snapshot(struct api_call *c)
{
	json_t *rec;
	if (!vmsnap_find(c, &rec)) {
		api_json(c, 200, vmsnap_json(c->m, rec));
		json_decref(rec);
	}
}

static void create_vm_snapshot(struct api_call *c)
{
	struct api_name_req req;
	char why[512] = "";
	json_t *vm, *rec;
	if (api_decode_body(c, &api_name_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || vm_find(c, &vm))
		return;
	json_decref(vm);
	int rc = api_vm_snapshot_create(c->m, c->params[0], req.name, why, sizeof(why));
	if (rc) {
		api_errno(c, rc, "/name", why);
		return;
	}
	mgmt_event(c->m, "info", "vm-snapshot", c->params[0], "VM '%s': snapshot '%s' taken by %s",
		   c->params[0], req.name, c->who.user);
	rc = vmsnap_get(c->m, c->params[0], req.name, &rec);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the VM snapshot");
		return;
	}
	api_created(c, vmsnap_json(c->m, rec), "/api/v1/vms/%s/snapshots/%s", c->params[0],
		    req.name);
	json_decref(rec);
}

static void delete_vm_snapshot(struct api_call *c)
{
	json_t *rec;
	char why[512] = "";
	if (vmsnap_find(c, &rec))
		return;
	json_decref(rec);
	int rc = api_vm_snapshot_delete(c->m, c->params[0], c->params[1], why, sizeof(why));
	if (rc == -EBUSY)
		api_problem(c, 409, "in-use", "snapshot", "%s", why);
	else if (rc)
		api_errno(c, rc, "snapshot", why);
	else
		api_no_content(c);
}

/* Names of the volume and file snapshots newer than the VM snapshot's
 * members that are not themselves VM snapshots to be deleted (manual ones):
 * a rollback without delete_newer is refused when any exist. */
static bool members_newest(struct mgmt *m, const json_t *rec, char *why, size_t whylen)
{
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		struct cowstore_snapshot_info *list;
		size_t n;
		if (member_snapshots(m, item, &list, &n))
			continue;
		bool last = n == 0 || list[n - 1].id == u64(item, "snapshot_id");
		if (!last)
			snprintf(why, whylen, "volume '%s' has snapshot '%s', newer than '%s'; "
				 "delete it or roll back with {\"delete_newer\": true}",
				 str(item, "volume"), list[n - 1].name, str(rec, "name"));
		free(list);
		if (!last)
			return false;
	}
	json_array_foreach(json_object_get(rec, "files"), i, item) {
		struct cowstore_ns_snapshot *list;
		size_t n;
		if (cowstore_ns_snapshot_list(m->cs, u64(item, "ino"), &list, &n))
			continue;
		bool last = n == 0 || !strcmp(list[n - 1].name, str(rec, "name"));
		if (!last)
			snprintf(why, whylen, "file '%s' has snapshot '%s', newer than '%s'; "
				 "delete it or roll back with {\"delete_newer\": true}",
				 str(item, "path"), list[n - 1].name, str(rec, "name"));
		free(list);
		if (!last)
			return false;
	}
	return true;
}

/* Delete the file snapshots taken after name (cowstore does the volumes'
 * with COWSTORE_ROLLBACK_DELETE_NEWER). */
static int delete_newer_file_snapshots(struct mgmt *m, uint64_t ino, const char *name,
				       char *why, size_t whylen)
{
	struct cowstore_ns_snapshot *list;
	size_t n, at;
	int rc = cowstore_ns_snapshot_list(m->cs, ino, &list, &n);
	if (rc)
		return rc;
	for (at = 0; at < n && strcmp(list[at].name, name); at++)
		;
	for (size_t k = n; !rc && k-- > at + 1;) {
		struct cowstore_err err = { "" };
		rc = cowstore_ns_snapshot_delete(m->cs, ino, list[k].name, &err);
		if (rc)
			snprintf(why, whylen, "%s", err.msg);
	}
	free(list);
	return rc;
}

static void rollback_vm_snapshot(struct api_call *c)
{
	struct api_rollback_req req = { false };
	json_t *rec, *all, *other, *item;
	char why[512] = "";
	size_t i;
	if ((c->body && api_decode_body(c, &api_rollback_spec, &req, NULL)) ||
	    vmsnap_find(c, &rec))
		return;
	struct mgmt *m = c->m;
	int rc = vmsnap_list(m, c->params[0], &all);
	int64_t at = created_ns(rec);
	/* newer VM snapshots first: refuse, or delete them (409 if clones hold one) */
	json_array_foreach(rc ? NULL : all, i, other) {
		if (created_ns(other) <= at || !strcmp(str(other, "name"), str(rec, "name")))
			continue;
		if (!req.delete_newer) {
			snprintf(why, sizeof(why), "VM '%s' has snapshot '%s', newer than '%s'; "
				 "delete it or roll back with {\"delete_newer\": true}",
				 c->params[0], str(other, "name"), str(rec, "name"));
			rc = -EBUSY;
			break;
		}
		rc = api_vm_snapshot_delete(m, c->params[0], str(other, "name"), why, sizeof(why));
		if (rc)
			break;
	}
	json_decref(all);
	if (!rc && !req.delete_newer && !members_newest(m, rec, why, sizeof(why)))
		rc = -EBUSY;
	json_array_foreach(rc ? NULL : json_object_get(rec, "volumes"), i, item) {
		struct cowstore_err err = { "" };
		rc = cowstore_snapshot_rollback(api_pool_of(m, u64(item, "snapshot_id")),
						u64(item, "snapshot_id"),
						req.delete_newer ? COWSTORE_ROLLBACK_DELETE_NEWER : 0,
						&err);
		if (rc) {
			snprintf(why, sizeof(why), "volume '%s': %s", str(item, "volume"), err.msg);
			break;
		}
	}
	json_array_foreach(rc ? NULL : json_object_get(rec, "files"), i, item) {
		struct cowstore_err err = { "" };
		if (req.delete_newer)
			rc = delete_newer_file_snapshots(m, u64(item, "ino"), str(rec, "name"), why,
							 sizeof(why));
		if (!rc)
			rc = cowstore_ns_snapshot_rollback(m->cs, u64(item, "ino"), str(rec, "name"),
							   &err);
		if (rc) {
			if (err.msg[0])
				snprintf(why, sizeof(why), "file '%s': %s", str(item, "path"), err.msg);
			break;
		}
	}
	if (rc == -EBUSY) {
		api_problem(c, 409, "in-use", "snapshot", "%s", why);
	} else if (rc) {
		api_errno(c, rc, "snapshot", why[0] ? why : NULL);
	} else {
		mgmt_event(m, "info", "rollback", c->params[0], "VM '%s' rolled back to snapshot "
			   "'%s' by %s", c->params[0], str(rec, "name"), c->who.user);
		api_json(c, 200, vmsnap_json(m, rec));
	}
	json_decref(rec);
}

/* ---- clones ------------------------------------------------------------------ */

/* A new file dir/name holding the data of the file snapshot snap of ino, as
 * it was then: cowstore_ns_clone() shares a file's current data, so the
 * snapshot's data is shared in through a temporary clone volume instead
 * (extents are shared, not copied; nothing depends on the snapshot after). */
static int clone_file_snapshot(struct mgmt *m, uint64_t ino, const char *snap, uint64_t dir,
			       const char *name, uint64_t *new_ino, char *why, size_t whylen)
{
	struct cowstore_ns_snapshot *list = NULL;
	struct cowstore_ns_attr src, attr;
	struct cowstore_err err = { "" };
	struct cowstore_volume_info tmp_info;
	uint64_t tmp_vol = 0, file_vol, snap_id = 0, size = 0;
	char tmp_name[COWSTORE_NAME_MAX + 1];
	size_t n;
	bool created = false;
	int rc = cowstore_ns_getattr(m->cs, ino, 0, &src);
	if (!rc)
		rc = cowstore_ns_snapshot_list(m->cs, ino, &list, &n);
	for (size_t k = 0; !rc && k < n; k++)
		if (!strcmp(list[k].name, snap)) {
			snap_id = list[k].snap_id;
			size = list[k].size_bytes;
		}
	free(list);
	if (!rc && !snap_id)
		rc = -ENOENT;
	if (rc) {
		snprintf(why, whylen, "file %" PRIu64 " has no snapshot '%s'", ino, snap);
		return rc;
	}
	struct cowstore_ns_create how = { .type = COWSTORE_NS_REG, .mode = src.mode,
					  .uid = src.uid, .gid = src.gid };
	snprintf(tmp_name, sizeof(tmp_name), "vmclone-tmp-%" PRIu64, snap_id);
	rc = cowstore_ns_create(m->cs, dir, name, &how, &attr);
	if (rc) {
		snprintf(why, whylen, "cannot create file '%s': %s", name, strerror(-rc));
		return rc;
	}
	created = true;
	*new_ino = attr.ino;
	rc = cowstore_clone_create(m->cs, snap_id, tmp_name, &tmp_vol, &err);
	if (!rc)
		rc = cowstore_volume_info(m->cs, tmp_vol, 0, &tmp_info);
	if (!rc)
		rc = cowstore_ns_volume(m->cs, attr.ino, tmp_info.size_bytes, &file_vol);
	uint64_t sectors = rc ? 0 : tmp_info.size_bytes / COWSTORE_SECTOR_SIZE;
	const uint64_t chunk = COWSTORE_MAX_IO_BYTES / COWSTORE_SECTOR_SIZE;
	for (uint64_t lba = 0; !rc && lba < sectors; lba += chunk)
		rc = cowstore_copy(m->cs, file_vol, lba, tmp_vol, lba,
				   (uint32_t)(sectors - lba < chunk ? sectors - lba : chunk));
	if (!rc) {
		struct cowstore_ns_attr values = { .size_bytes = size };
		rc = cowstore_ns_setattr(m->cs, attr.ino, COWSTORE_NS_SET_SIZE, &values, 0, &attr);
	}
	if (rc)
		snprintf(why, whylen, "cloning snapshot '%s' of file %" PRIu64 ": %s", snap, ino,
			 err.msg[0] ? err.msg : strerror(-rc));
	if (tmp_vol)
		cowstore_volume_delete(m->cs, tmp_vol, NULL);
	if (rc && created)
		cowstore_ns_remove(m->cs, dir, name, 0);
	return rc;
}

/* Split "/a/b/c.raw" into its directory's inode and its last name. */
static int split_path(struct mgmt *m, const char *path, uint64_t *dir, const char **base)
{
	struct cowstore_ns_attr attr;
	const char *slash = strrchr(path, '/');
	char dir_path[VM_PATH_MAX];
	if (!slash || (size_t)(slash - path) >= sizeof(dir_path))
		return -EINVAL;
	memcpy(dir_path, path, (size_t)(slash - path));
	dir_path[slash - path] = '\0';
	int rc = nfs_path_lookup(m->cs, dir_path[0] ? dir_path : "/", &attr);
	*dir = attr.ino;
	*base = slash + 1;
	return rc;
}

static void clone_vm_snapshot(struct api_call *c)
{
	struct api_name_req req;
	json_t *rec, *src_vm, *existing, *item;
	char why[512] = "", name[COWSTORE_NAME_MAX + 1];
	uint64_t made_vols[VM_MAX_VOLUMES], made_dirs[VM_MAX_FILES];
	char made_names[VM_MAX_FILES][COWSTORE_NS_NAME_MAX + 1];
	size_t nvols = 0, nfiles = 0, i;
	if (api_decode_body(c, &api_name_spec, &req, NULL) ||
	    !api_new_name_ok(c, req.name, "/name") || vmsnap_find(c, &rec))
		return;
	struct mgmt *m = c->m;
	int rc = api_obj_get(m, "vm", c->params[0], &src_vm);
	if (rc) {
		api_errno(c, rc, NULL, "cannot read the VM");
		json_decref(rec);
		return;
	}
	json_t *vols = json_array(), *files = json_array();
	pthread_mutex_lock(&m->lock);
	rc = api_obj_get(m, "vm", req.name, &existing);
	if (rc == 0) {
		json_decref(existing);
		api_problem(c, 409, "already-exists", "/name", "VM '%s' exists already", req.name);
		goto out;
	}
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		int n = snprintf(name, sizeof(name), "%s.%s", req.name, str(item, "volume"));
		if (n < 0 || (size_t)n >= sizeof(name)) {
			api_problem(c, 422, "invalid-value", "/name", "the clone of volume '%s' would "
				    "be named '%s.%s', longer than 63 characters; choose a shorter "
				    "VM name", str(item, "volume"), req.name, str(item, "volume"));
			goto out;
		}
	}
	rc = 0;
	json_array_foreach(json_object_get(rec, "volumes"), i, item) {
		struct cowstore_err err = { "" };
		if (snprintf(name, sizeof(name), "%s.%s", req.name, str(item, "volume")) >=
		    (int)sizeof(name))
			continue; /* checked above */
		uint64_t snap_id = u64(item, "snapshot_id");
		rc = api_volume_name_free(m, name, &err) ?:
		     cowstore_clone_create(api_pool_of(m, snap_id), snap_id, name, &made_vols[nvols],
					   &err);
		if (rc) {
			api_errno(c, rc, "/name", err.msg);
			goto undo;
		}
		nvols++;
		json_array_append_new(vols, json_string(name));
	}
	json_array_foreach(json_object_get(rec, "files"), i, item) {
		const char *base;
		uint64_t new_ino;
		char path[VM_PATH_MAX + COWSTORE_NAME_MAX + 2];
		rc = split_path(m, str(item, "path"), &made_dirs[nfiles], &base);
		if (!rc && snprintf(made_names[nfiles], sizeof(made_names[0]), "%s.%s", req.name,
				    base) >= (int)sizeof(made_names[0]))
			rc = -ENAMETOOLONG;
		if (rc) {
			api_errno(c, rc == -ENAMETOOLONG ? -EINVAL : rc, "/name",
				  "cannot name the clone of a file next to its original");
			goto undo;
		}
		rc = clone_file_snapshot(m, u64(item, "ino"), str(rec, "name"), made_dirs[nfiles],
					 made_names[nfiles], &new_ino, why, sizeof(why));
		if (rc) {
			api_errno(c, rc, "/name", why);
			goto undo;
		}
		int dir_len = (int)(base - str(item, "path"));
		snprintf(path, sizeof(path), "%.*s%s", dir_len, str(item, "path"), made_names[nfiles]);
		nfiles++;
		json_array_append_new(files, json_string(path));
	}
	json_t *vm = json_pack("{s:s, s:O, s:O, s:O, s:o}", "name", req.name, "volumes", vols,
			       "files", files, "qos_policy",
			       json_object_get(src_vm, "qos_policy") ?: json_null(), "created_at",
			       api_time(api_now_ns(m)));
	rc = vm ? api_obj_put(m, "vm", req.name, vm) : -ENOMEM;
	if (rc) {
		json_decref(vm);
		api_errno(c, rc, NULL, "cannot store the VM");
		goto undo;
	}
	vm_groups(m, NULL, vm);
	api_created(c, vm, "/api/v1/vms/%s", req.name);
	goto out;
undo:
	for (i = 0; i < nfiles; i++)
		cowstore_ns_remove(m->cs, made_dirs[i], made_names[i], 0);
	for (i = 0; i < nvols; i++)
		cowstore_volume_delete(api_pool_of(m, made_vols[i]), made_vols[i], NULL);
out:
	pthread_mutex_unlock(&m->lock);
	if (c->resp->status == 201)
		mgmt_event(m, "info", "vm-clone", req.name, "VM '%s' cloned from snapshot '%s' of "
			   "VM '%s' by %s", req.name, str(rec, "name"), c->params[0], c->who.user);
	json_decref(vols);
	json_decref(files);
	json_decref(src_vm);
	json_decref(rec);
}

static const struct api_route routes[] = {
	{ "GET", "/api/v1/vms", 0, ROLE_READ, list_vms },
	{ "POST", "/api/v1/vms", API_BODY | API_CREATES, ROLE_ADMIN, create_vm },
	{ "GET", "/api/v1/vms/{name}", 0, ROLE_READ, get_vm },
	{ "PATCH", "/api/v1/vms/{name}", API_BODY, ROLE_ADMIN, patch_vm },
	{ "DELETE", "/api/v1/vms/{name}", 0, ROLE_ADMIN, delete_vm },
	{ "GET", "/api/v1/vms/{name}/snapshots", 0, ROLE_READ, list_vm_snapshots },
	{ "POST", "/api/v1/vms/{name}/snapshots", API_BODY | API_CREATES, ROLE_ADMIN,
	  create_vm_snapshot },
	{ "GET", "/api/v1/vms/{name}/snapshots/{snapshot}", 0, ROLE_READ, get_vm_snapshot },
	{ "DELETE", "/api/v1/vms/{name}/snapshots/{snapshot}", 0, ROLE_ADMIN, delete_vm_snapshot },
	{ "POST", "/api/v1/vms/{name}/snapshots/{snapshot}/rollback", API_BODY_OPTIONAL,
	  ROLE_ADMIN, rollback_vm_snapshot },
	{ "POST", "/api/v1/vms/{name}/snapshots/{snapshot}/clone", API_BODY | API_CREATES,
	  ROLE_ADMIN, clone_vm_snapshot },
};
API_ROUTE_TABLE(api_vm_routes, routes);
