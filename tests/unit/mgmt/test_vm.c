/*
 * test_vm.c - the VM routes through mgmt_handle(): create, list, change
 * and delete VMs with their validation; VM snapshots as one consistency
 * group, rollback of every member, clones into a new VM, and the 409s.
 */
#include <errno.h>

#include "tests/harness.h"
#include "tests/unit/mgmt/apiutil.h"

#include "cowstore/cowstore.h"
#include "mgmt/api.h"
#include "target/nfs/nfs.h"

#define T0 INT64_C(1807747200) /* 2027-04-15T00:00:00Z */
#define VOL_BYTES (1u << 20)

/* An empty regular file /demo/<name>; its inode back (0 on failure). */
static uint64_t make_file(struct t_api *t, const char *name)
{
	struct cowstore_ns_attr dir, file;
	struct cowstore_ns_create how_dir = { .type = COWSTORE_NS_DIR, .mode = 0755 };
	struct cowstore_ns_create how = { .type = COWSTORE_NS_REG, .mode = 0644 };
	int rc = cowstore_ns_lookup(t->tp.cs, COWSTORE_NS_ROOT, "demo", &dir);
	if (rc == -ENOENT)
		rc = cowstore_ns_create(t->tp.cs, COWSTORE_NS_ROOT, "demo", &how_dir, &dir);
	if (!rc)
		rc = cowstore_ns_create(t->tp.cs, dir.ino, name, &how, &file);
	if (rc)
		return 0;
	return file.ino;
}

static void write_file(struct t_api *t, uint64_t ino, uint32_t seed)
{
	uint8_t buf[4096];
	uint64_t vol;
	fill_pattern(buf, 0, 8, seed);
	CHECK_EQ(cowstore_ns_volume(t->tp.cs, ino, sizeof(buf), &vol), 0);
	CHECK_EQ(cowstore_write(t->tp.cs, vol, 0, 8, buf, 0), 0);
	CHECK_EQ(cowstore_ns_written(t->tp.cs, ino, sizeof(buf), NULL), 0);
}

static bool file_has(struct t_api *t, uint64_t ino, uint32_t seed)
{
	struct cowstore_ns_attr attr;
	uint8_t buf[4096];
	if (cowstore_ns_getattr(t->tp.cs, ino, 0, &attr) || attr.size_bytes != sizeof(buf) ||
	    !attr.volume_id || cowstore_read(t->tp.cs, attr.volume_id, 0, 8, buf))
		return false;
	return check_pattern(buf, 0, 8, seed);
}

static void write_volume(struct t_api *t, uint64_t id, uint32_t seed)
{
	uint8_t buf[4096];
	fill_pattern(buf, 0, 8, seed);
	CHECK_EQ(cowstore_write(t->tp.cs, id, 0, 8, buf, 0), 0);
}

static bool volume_has(struct t_api *t, const char *name, uint32_t seed)
{
	uint8_t buf[4096];
	uint64_t id;
	return !cowstore_volume_lookup(t->tp.cs, name, &id) &&
	       !cowstore_read(t->tp.cs, id, 0, 8, buf) && check_pattern(buf, 0, 8, seed);
}

static void test_vm_crud(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T0) == 0);
	t_volume(&t, "a", VOL_BYTES);
	t_volume(&t, "b", VOL_BYTES);
	REQUIRE(make_file(&t, "disk.raw") != 0);
	json_t *r = t_req(&t, "POST", "/api/v1/vms", &st,
			  "{\"name\":\"web\",\"volumes\":[\"a\",\"b\"],\"files\":[\"/demo/disk.raw\"]}");
	CHECK_EQ(st, 201);
	CHECK(!strcmp(t_str(r, "name"), "web"));
	CHECK_EQ(json_array_size(json_object_get(r, "volumes")), 2);
	CHECK(json_is_null(json_object_get(r, "qos_policy")));
	CHECK(!strcmp(t_str(r, "created_at"), "2027-04-15T00:00:00.000Z"));
	json_decref(r);

	r = t_req(&t, "GET", "/api/v1/vms", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_EQ(json_array_size(json_object_get(r, "items")), 1);
	json_decref(r);

	r = t_req(&t, "PATCH", "/api/v1/vms/web", &st, "{\"volumes\":[\"a\"]}");
	CHECK_EQ(st, 200);
	CHECK_EQ(json_array_size(json_object_get(r, "volumes")), 1);
	CHECK_EQ(json_array_size(json_object_get(r, "files")), 1); /* untouched */
	json_decref(r);

	/* a volume is in at most one VM */
	r = t_req(&t, "POST", "/api/v1/vms", &st, "{\"name\":\"db\",\"volumes\":[\"b\",\"a\"]}");
	CHECK_EQ(st, 409);
	CHECK(!strcmp(t_field(r), "/volumes/1"));
	CHECK(strstr(t_str(r, "detail"), "web") != NULL);
	json_decref(r);
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms", "{\"name\":\"db\",\"volumes\":[\"b\"]}"), 201);
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms", "{\"name\":\"db\",\"volumes\":[\"b\"]}"), 409);

	/* a volume of a VM cannot be deleted; the VM's delete leaves its disks */
	CHECK_EQ(t_status(&t, "DELETE", "/api/v1/volumes/a", NULL), 409);
	r = t_req(&t, "DELETE", "/api/v1/vms/web", &st, NULL);
	CHECK_EQ(st, 204);
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms/web", NULL), 404);
	uint64_t id;
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "a", &id), 0);
	t_close(&t);
}

static void expect_422(struct t_api *t, const char *body, const char *field)
{
	int st;
	json_t *r = t_req(t, "POST", "/api/v1/vms", &st, "%s", body);
	CHECK_EQ(st, 422);
	if (strcmp(t_field(r), field))
		fprintf(stderr, "  %s: field '%s', want '%s'\n", body, t_field(r), field);
	CHECK(!strcmp(t_field(r), field));
	json_decref(r);
}

static void test_vm_validation(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T0) == 0);
	t_volume(&t, "a", VOL_BYTES);
	REQUIRE(make_file(&t, "disk.raw") != 0);
	expect_422(&t, "{\"name\":\"v\",\"volumes\":[\"a\",\"nope\"]}", "/volumes/1");
	expect_422(&t, "{\"name\":\"v\",\"volumes\":[\"a\",\"a\"]}", "/volumes/1");
	expect_422(&t, "{\"name\":\"v\",\"files\":[\"/demo/missing.raw\"]}", "/files/0");
	expect_422(&t, "{\"name\":\"v\",\"files\":[\"/demo\"]}", "/files/0");
	expect_422(&t, "{\"name\":\"v\",\"files\":[\"demo/disk.raw\"]}", "/files/0");
	expect_422(&t, "{\"name\":\"v\",\"volumes\":[\"a\"],\"qos_policy\":\"gold\"}", "/qos_policy");
	expect_422(&t, "{\"name\":\"v\"}", "/volumes");
	expect_422(&t, "{\"name\":\"v\",\"volumes\":[]}", "/volumes");
	expect_422(&t, "{\"name\":\".v\",\"volumes\":[\"a\"]}", "/name");
	expect_422(&t, "{\"name\":\"v\",\"volumes\":[\"a\"],\"color\":1}", "/color");
	expect_422(&t, "{\"volumes\":[\"a\"]}", "/name");
	char body[4096] = "{\"name\":\"v\",\"volumes\":[";
	for (int i = 0; i < 33; i++)
		strcat(body, i ? ",\"a\"" : "\"a\"");
	strcat(body, "]}");
	expect_422(&t, body, "/volumes");

	/* a QoS policy that exists (its routes are another file's: put it directly) */
	json_t *policy = json_pack("{s:s}", "name", "gold");
	CHECK_EQ(api_obj_put(t.m, "qos", "gold", policy), 0);
	json_decref(policy);
	json_t *r = t_req(&t, "POST", "/api/v1/vms", &st,
			  "{\"name\":\"v\",\"volumes\":[\"a\"],\"qos_policy\":\"gold\"}");
	CHECK_EQ(st, 201);
	CHECK(!strcmp(t_str(r, "qos_policy"), "gold"));
	json_decref(r);
	r = t_req(&t, "PATCH", "/api/v1/vms/v", &st, "{\"qos_policy\":null}");
	CHECK_EQ(st, 200);
	CHECK(json_is_null(json_object_get(r, "qos_policy")));
	json_decref(r);
	CHECK_EQ(t_status(&t, "PATCH", "/api/v1/vms/v", "{\"volumes\":[],\"files\":[]}"), 422);
	r = t_req(&t, "PATCH", "/api/v1/vms/v", &st, "{\"name\":\"w\"}");
	CHECK_EQ(st, 422);
	CHECK(!strcmp(t_field(r), "/name"));
	json_decref(r);
	CHECK_EQ(t_status(&t, "PATCH", "/api/v1/vms/nope", "{\"files\":[]}"), 404);
	t_close(&t);
}

/* A VM "web" of volumes a, b, c and /demo/disk.raw, each written with seed. */
static uint64_t make_vm(struct t_api *t, uint32_t seed)
{
	int st;
	const char *names[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++)
		write_volume(t, t_volume(t, names[i], VOL_BYTES), seed);
	uint64_t ino = make_file(t, "disk.raw");
	write_file(t, ino, seed);
	json_t *r = t_req(t, "POST", "/api/v1/vms", &st,
			  "{\"name\":\"web\",\"volumes\":[\"a\",\"b\",\"c\"],"
			  "\"files\":[\"/demo/disk.raw\"]}");
	CHECK_EQ(st, 201);
	json_decref(r);
	return ino;
}

static void test_vm_snapshot_group(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T0) == 0);
	uint64_t ino = make_vm(&t, 1);
	json_t *r = t_req(&t, "POST", "/api/v1/vms/web/snapshots", &st, "{\"name\":\"s1\"}");
	CHECK_EQ(st, 201);
	CHECK_EQ(json_array_size(json_object_get(r, "volumes")), 3);
	CHECK_EQ(json_array_size(json_object_get(r, "files")), 1);
	CHECK(json_is_integer(json_object_get(r, "unique_bytes")));
	json_decref(r);
	/* one group: the same group id on every volume's snapshot */
	uint64_t group = 0;
	const char *names[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/volumes/%s/snapshots/s1", names[i]);
		r = t_req(&t, "GET", path, &st, NULL);
		CHECK_EQ(st, 200);
		uint64_t g = (uint64_t)json_integer_value(json_object_get(r, "group_id"));
		CHECK(g != 0);
		if (i == 0)
			group = g;
		CHECK_EQ(g, group);
		json_decref(r);
	}
	struct cowstore_ns_snapshot *list;
	size_t n;
	CHECK_EQ(cowstore_ns_snapshot_list(t.tp.cs, ino, &list, &n), 0);
	CHECK_EQ(n, 1);
	CHECK(n == 1 && !strcmp(list[0].name, "s1"));
	free(list);

	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots", "{\"name\":\"s1\"}"), 409);
	r = t_req(&t, "GET", "/api/v1/vms/web/snapshots", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_EQ(json_array_size(json_object_get(r, "items")), 1);
	json_decref(r);

	/* a part that fails undoes the others: the file has a snapshot "s2" already */
	struct cowstore_ns_snapshot fsnap;
	CHECK_EQ(cowstore_ns_snapshot_create(t.tp.cs, ino, "s2", &fsnap, NULL), 0);
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots", "{\"name\":\"s2\"}"), 409);
	uint64_t vol, snap;
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "a", &vol), 0);
	CHECK_EQ(cowstore_snapshot_lookup(t.tp.cs, vol, "s2", &snap), -ENOENT);
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms/web/snapshots/s2", NULL), 404);

	/* delete removes every member */
	r = t_req(&t, "DELETE", "/api/v1/vms/web/snapshots/s1", &st, NULL);
	CHECK_EQ(st, 204);
	CHECK_EQ(cowstore_snapshot_lookup(t.tp.cs, vol, "s1", &snap), -ENOENT);
	CHECK_EQ(cowstore_ns_snapshot_list(t.tp.cs, ino, &list, &n), 0);
	CHECK_EQ(n, 1); /* only the manual s2 */
	free(list);
	t_close(&t);
}

static void test_vm_rollback(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T0) == 0);
	uint64_t ino = make_vm(&t, 1);
	json_t *r;
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots", "{\"name\":\"s1\"}"), 201);
	uint64_t a, b, c;
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "a", &a), 0);
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "b", &b), 0);
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "c", &c), 0);
	write_volume(&t, a, 2);
	write_volume(&t, b, 2);
	write_volume(&t, c, 2);
	write_file(&t, ino, 2);
	CHECK(volume_has(&t, "a", 2) && file_has(&t, ino, 2));

	r = t_req(&t, "POST", "/api/v1/vms/web/snapshots/s1/rollback", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK(!strcmp(t_str(r, "name"), "s1"));
	json_decref(r);
	CHECK(volume_has(&t, "a", 1));
	CHECK(volume_has(&t, "b", 1));
	CHECK(volume_has(&t, "c", 1));
	CHECK(file_has(&t, ino, 1));

	/* a newer VM snapshot: 409 unless delete_newer */
	t.now_s += 60;
	write_volume(&t, a, 3);
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots", "{\"name\":\"s2\"}"), 201);
	r = t_req(&t, "POST", "/api/v1/vms/web/snapshots/s1/rollback", &st, "{}");
	CHECK_EQ(st, 409);
	CHECK(strstr(t_str(r, "detail"), "s2") != NULL);
	json_decref(r);
	CHECK(volume_has(&t, "a", 3));
	r = t_req(&t, "POST", "/api/v1/vms/web/snapshots/s1/rollback", &st,
		  "{\"delete_newer\":true}");
	CHECK_EQ(st, 200);
	json_decref(r);
	CHECK(volume_has(&t, "a", 1));
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms/web/snapshots/s2", NULL), 404);
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots/s1/rollback", "{\"x\":1}"), 422);
	t_close(&t);
}

static void test_vm_clone(void)
{
	struct t_api t;
	int st;
	REQUIRE(t_open(&t, T0) == 0);
	uint64_t ino = make_vm(&t, 1);
	json_t *r;
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots", "{\"name\":\"s1\"}"), 201);
	uint64_t a;
	CHECK_EQ(cowstore_volume_lookup(t.tp.cs, "a", &a), 0);
	write_volume(&t, a, 2);
	write_file(&t, ino, 2);

	r = t_req(&t, "POST", "/api/v1/vms/web/snapshots/s1/clone", &st, "{\"name\":\"copy\"}");
	CHECK_EQ(st, 201);
	json_t *vols = json_object_get(r, "volumes"), *files = json_object_get(r, "files");
	CHECK_EQ(json_array_size(vols), 3);
	CHECK(!strcmp(json_string_value(json_array_get(vols, 0)) ?: "", "copy.a"));
	CHECK(!strcmp(json_string_value(json_array_get(files, 0)) ?: "", "/demo/copy.disk.raw"));
	json_decref(r);
	/* the clones hold the snapshot's data, not the current one */
	CHECK(volume_has(&t, "copy.a", 1));
	CHECK(volume_has(&t, "copy.c", 1));
	CHECK(volume_has(&t, "a", 2));
	struct cowstore_ns_attr attr;
	CHECK_EQ(nfs_path_lookup(t.tp.cs, "/demo/copy.disk.raw", &attr), 0);
	CHECK(file_has(&t, attr.ino, 1));
	CHECK(file_has(&t, ino, 2));
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms/copy", NULL), 200);

	/* the clones depend on s1 */
	r = t_req(&t, "DELETE", "/api/v1/vms/web/snapshots/s1", &st, NULL);
	CHECK_EQ(st, 409);
	CHECK(strstr(t_str(r, "detail"), "clone") != NULL);
	json_decref(r);
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms/web/snapshots/s1", NULL), 200);

	/* names: taken, and too long for the clones' volumes */
	CHECK_EQ(t_status(&t, "POST", "/api/v1/vms/web/snapshots/s1/clone", "{\"name\":\"copy\"}"), 409);
	char longname[64];
	memset(longname, 'x', 62);
	longname[62] = '\0';
	r = t_req(&t, "POST", "/api/v1/vms/web/snapshots/s1/clone", &st, "{\"name\":\"%s\"}",
		  longname);
	CHECK_EQ(st, 422);
	CHECK(!strcmp(t_field(r), "/name"));
	json_decref(r);
	t_close(&t);
}

static void test_vm_auth(void)
{
	struct t_api t;
	REQUIRE(t_open(&t, T0) == 0);
	snprintf(t.auth, sizeof(t.auth), "Bearer slt_nope");
	CHECK_EQ(t_status(&t, "GET", "/api/v1/vms", NULL), 401);
	t_close(&t);
}

static const struct harness_test tests[] = {
	{ "vm_crud", test_vm_crud },
	{ "vm_validation", test_vm_validation },
	{ "vm_snapshot_group", test_vm_snapshot_group },
	{ "vm_rollback", test_vm_rollback },
	{ "vm_clone", test_vm_clone },
	{ "vm_auth", test_vm_auth },
};
HARNESS_MAIN(tests)
