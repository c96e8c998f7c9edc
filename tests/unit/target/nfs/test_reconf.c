/*
 * test_reconf.c - a running NFS server whose exports change under it
 * (nfs_server_reload_exports) and the clients it lists
 * (nfs_server_list_clients), seen by a real client (libnfs): an export put
 * and reloaded can be mounted; one removed and reloaded refuses MOUNT and
 * its handles answer NFS3ERR_STALE (libnfs: -ESTALE); reloads in a loop
 * while a client reads and writes another export.
 *
 * Only the public nfs.h is included: libnfs's raw headers name the NFS
 * statuses as target/nfs/internal.h does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#include "target/nfs/nfs.h"
#include "tests/harness.h"

#define CLIENT_UID 4242

struct fixture {
	char dir[64];
	struct cowstore *cs;
	struct nfs_server *srv;
};

static int put_export(struct fixture *f, const char *path)
{
	struct nfs_client_rule rule;
	char err[160] = "";
	int rc = nfs_client_rule_parse("127.0.0.1(rw,no_root_squash,insecure)", &rule, err,
				       sizeof(err));
	if (!rc)
		rc = nfs_export_put(f->cs, path, &rule, 1, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  export %s: %s\n", path, err);
	return rc;
}

static int reload(struct fixture *f)
{
	char err[160] = "";
	int rc = nfs_server_reload_exports(f->srv, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  reload: %s\n", err);
	return rc;
}

static int fixture_start(struct fixture *f)
{
	struct cowstore_err err = { "" };
	char why[160] = "";
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/slate-nfsreconf-XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	int rc = cowstore_pool_create(f->dir, NULL, &err);
	if (!rc)
		rc = cowstore_open(f->dir, &f->cs, &err);
	if (!rc)
		rc = put_export(f, "/first");
	struct nfs_server_options opts = { .address = "127.0.0.1" };
	if (!rc)
		rc = nfs_server_create(f->cs, &opts, &f->srv, why, sizeof(why));
	if (!rc)
		rc = nfs_server_start(f->srv, why, sizeof(why));
	if (rc)
		fprintf(stderr, "  fixture: %s %s\n", why, err.msg);
	return rc;
}

static void fixture_stop(struct fixture *f)
{
	nfs_server_destroy(f->srv);
	cowstore_close(f->cs);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	CHECK_EQ(system(cmd), 0);
}

/* A libnfs client of AUTH_SYS uid with path mounted, or NULL when the
 * mount fails. */
static struct nfs_context *mount_as(struct fixture *f, const char *path, int uid)
{
	char url[160];
	unsigned port = nfs_server_port(f->srv);
	struct nfs_context *nfs = nfs_init_context();
	if (!nfs)
		return NULL;
	nfs_set_uid(nfs, uid);
	nfs_set_timeout(nfs, 10000);
	snprintf(url, sizeof(url), "nfs://127.0.0.1%s?nfsport=%u&mountport=%u", path, port, port);
	struct nfs_url *u = nfs_parse_url_dir(nfs, url);
	int rc = u ? nfs_mount(nfs, u->server, u->path) : -1;
	if (u)
		nfs_destroy_url(u);
	if (rc) {
		nfs_destroy_context(nfs);
		return NULL;
	}
	return nfs;
}

/* As root (the exports do not squash it): the export directories are
 * root's. */
static struct nfs_context *mount_export(struct fixture *f, const char *path)
{
	return mount_as(f, path, 0);
}

static int stat_root(struct nfs_context *nfs)
{
	struct nfs_stat_64 st;
	return nfs_stat64(nfs, "/", &st);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_export_put_and_reloaded_mounts(void)
{
	struct fixture f;
	REQUIRE(fixture_start(&f) == 0);
	struct nfs_context *first = mount_export(&f, "/first");
	REQUIRE(first);
	CHECK(!mount_export(&f, "/second")); /* not exported */
	REQUIRE(put_export(&f, "/second") == 0);
	CHECK(!mount_export(&f, "/second")); /* stored, but not reloaded yet */
	REQUIRE(reload(&f) == 0);
	struct nfs_context *second = mount_export(&f, "/second");
	REQUIRE(second);
	CHECK_EQ(stat_root(second), 0);
	struct nfsfh *fh = NULL;
	CHECK_EQ(nfs_creat(second, "/hello", 0644, &fh), 0);
	if (fh) {
		CHECK_EQ(nfs_pwrite(second, fh, 0, 5, "hello"), 5);
		nfs_close(second, fh);
	}
	CHECK_EQ(stat_root(first), 0); /* the export that stayed still serves */
	nfs_destroy_context(first);
	nfs_destroy_context(second);
	fixture_stop(&f);
}

static void test_export_removed_refuses_mount_and_handles_go_stale(void)
{
	struct fixture f;
	REQUIRE(fixture_start(&f) == 0);
	REQUIRE(put_export(&f, "/second") == 0);
	REQUIRE(reload(&f) == 0);
	struct nfs_context *first = mount_export(&f, "/first");
	struct nfs_context *second = mount_export(&f, "/second");
	REQUIRE(first && second);
	CHECK_EQ(stat_root(second), 0);

	REQUIRE(nfs_export_remove(f.cs, "/second") == 0);
	CHECK_EQ(stat_root(second), 0); /* the server still uses the set it read */
	REQUIRE(reload(&f) == 0);
	CHECK(!mount_export(&f, "/second"));
	CHECK_EQ(stat_root(second), -ESTALE);
	CHECK_EQ(stat_root(first), 0);

	/* exported again: a new export id, so the old handle stays stale */
	REQUIRE(put_export(&f, "/second") == 0);
	REQUIRE(reload(&f) == 0);
	CHECK_EQ(stat_root(second), -ESTALE);
	struct nfs_context *again = mount_export(&f, "/second");
	CHECK(again != NULL);
	if (again)
		nfs_destroy_context(again);
	nfs_destroy_context(first);
	nfs_destroy_context(second);
	fixture_stop(&f);
}

static int64_t unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The entry of the client whose local port is port, or NULL. */
static const struct nfs_client_info *client_on(const struct nfs_client_info *list, size_t n,
					       uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].port == port)
			return &list[i];
	return NULL;
}

static void test_list_clients_shows_a_mounted_client(void)
{
	struct fixture f;
	struct nfs_client_info list[16];
	size_t count = 99;
	REQUIRE(fixture_start(&f) == 0);
	CHECK_EQ(nfs_server_list_clients(f.srv, list, 16, &count), 0);
	CHECK_EQ(count, 0);
	int64_t before = unix_ns();
	struct nfs_context *nfs = mount_as(&f, "/first", CLIENT_UID);
	REQUIRE(nfs);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(stat_root(nfs), 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	REQUIRE(getsockname(nfs_get_fd(nfs), (struct sockaddr *)&ss, &len) == 0);
	uint16_t port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

	CHECK_EQ(nfs_server_list_clients(f.srv, list, 16, &count), 0);
	REQUIRE(count >= 1 && count <= 16);
	const struct nfs_client_info *c = client_on(list, count, port);
	REQUIRE(c);
	CHECK(!strcmp(c->address, "127.0.0.1"));
	CHECK(c->calls >= 3);
	CHECK_EQ(c->uid, CLIENT_UID);
	CHECK_EQ(c->outstanding, 0);
	CHECK(c->connected_unix_ns >= before && c->connected_unix_ns <= unix_ns());
	CHECK(c->last_call_unix_ns >= c->connected_unix_ns);
	uint64_t calls = c->calls;
	CHECK_EQ(stat_root(nfs), 0);
	CHECK_EQ(nfs_server_list_clients(f.srv, list, 16, &count), 0);
	c = client_on(list, count, port);
	CHECK(c && c->calls == calls + 1);
	/* max 0 only counts */
	size_t only = 0;
	CHECK_EQ(nfs_server_list_clients(f.srv, NULL, 0, &only), 0);
	CHECK_EQ(only, count);

	nfs_destroy_context(nfs);
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		CHECK_EQ(nfs_server_list_clients(f.srv, list, 16, &count), 0);
		gone = !client_on(list, count, port);
		if (!gone)
			usleep(20000);
	}
	CHECK(gone);
	fixture_stop(&f);
}

/* ---- reloads while a client works ---------------------------------------- */

struct io_worker {
	struct fixture *f;
	atomic_bool stop;
	unsigned ops, failures;
};

static void *io_main(void *arg)
{
	struct io_worker *w = arg;
	struct nfs_context *nfs = mount_export(w->f, "/first");
	struct nfsfh *fh = NULL;
	char block[4096], back[4096];
	if (!nfs || nfs_creat(nfs, "/busy", 0644, &fh) != 0) {
		w->failures++;
		if (nfs)
			nfs_destroy_context(nfs);
		return NULL;
	}
	for (unsigned i = 0; !atomic_load(&w->stop) && i < 20000; i++) {
		memset(block, (int)(i & 0xff), sizeof(block));
		uint64_t offset = (uint64_t)(i % 64) * sizeof(block);
		if (nfs_pwrite(nfs, fh, offset, sizeof(block), block) != (int)sizeof(block) ||
		    nfs_pread(nfs, fh, offset, sizeof(back), back) != (int)sizeof(back) ||
		    memcmp(block, back, sizeof(block)) != 0 || stat_root(nfs) != 0)
			w->failures++;
		w->ops += 3;
	}
	nfs_close(nfs, fh);
	nfs_destroy_context(nfs);
	return NULL;
}

static void test_reloads_during_io(void)
{
	struct fixture f;
	struct io_worker w = { .f = &f };
	pthread_t thread;
	REQUIRE(fixture_start(&f) == 0);
	REQUIRE(pthread_create(&thread, NULL, io_main, &w) == 0);
	unsigned reloads = 0, failed = 0;
	struct nfs_client_info list[8];
	size_t count;
	time_t start = time(NULL);
	while (reloads < 1000 && time(NULL) - start < 3) {
		failed += reloads % 2 ? nfs_export_remove(f.cs, "/second") != 0
				      : put_export(&f, "/second") != 0;
		failed += reload(&f) != 0;
		failed += nfs_server_list_clients(f.srv, list, 8, &count) != 0;
		reloads++;
	}
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	printf("  %u reloads during %u operations\n", reloads, w.ops);
	CHECK_EQ(failed, 0);
	CHECK(reloads >= 10);
	CHECK(w.ops >= 30);
	CHECK_EQ(w.failures, 0);
	fixture_stop(&f);
}

/* ---- QoS windows ------------------------------------------------------------ */

/* The window each connection of 127.0.0.1 reports; -1 when not n of them. */
static int windows_of(struct fixture *f, size_t n, uint32_t *out)
{
	struct nfs_client_info list[16];
	size_t count, found = 0;
	if (nfs_server_list_clients(f->srv, list, 16, &count))
		return -1;
	for (size_t i = 0; i < count && i < 16; i++)
		if (!strcmp(list[i].address, "127.0.0.1") && found < n)
			out[found++] = list[i].window;
	return found == n ? 0 : -1;
}

static void test_client_window_is_split_over_connections(void)
{
	struct fixture f;
	uint32_t w[2];
	REQUIRE(fixture_start(&f) == 0);
	struct nfs_context *a = mount_export(&f, "/first");
	REQUIRE(a);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "127.0.0.1", 4), 0);
	CHECK(windows_of(&f, 1, w) == 0 && w[0] == 4);
	struct nfs_context *b = mount_export(&f, "/first"); /* joins: 4 over 2 */
	REQUIRE(b);
	CHECK(windows_of(&f, 2, w) == 0 && w[0] == 2 && w[1] == 2);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "127.0.0.1", 5), 0); /* rounded up */
	CHECK(windows_of(&f, 2, w) == 0 && w[0] == 3 && w[1] == 3);
	CHECK_EQ(stat_root(a), 0);
	CHECK_EQ(stat_root(b), 0);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "127.0.0.1", 0), 0); /* the default */
	CHECK(windows_of(&f, 2, w) == 0 && w[0] == 0 && w[1] == 0);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "not-an-address", 1), -EINVAL);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "::1", 7), 0); /* nobody there yet */
	char address[64];
	int rc = 0;
	for (unsigned i = 0; i < NFS_MAX_CLIENT_WINDOWS && !rc; i++) {
		snprintf(address, sizeof(address), "10.0.%u.%u", i / 250, i % 250);
		rc = nfs_server_set_client_window(f.srv, address, 1);
	}
	CHECK_EQ(rc, -ENOSPC); /* ::1 holds one slot */
	nfs_destroy_context(a);
	nfs_destroy_context(b);
	fixture_stop(&f);
}

/* A window of 1 serializes the client's calls, never stops them; windows
 * changing all the time while it works lose nothing. */
static void test_windows_change_during_io(void)
{
	struct fixture f;
	struct io_worker w = { .f = &f };
	pthread_t thread;
	REQUIRE(fixture_start(&f) == 0);
	CHECK_EQ(nfs_server_set_client_window(f.srv, "127.0.0.1", 1), 0);
	REQUIRE(pthread_create(&thread, NULL, io_main, &w) == 0);
	unsigned changes = 0, failed = 0;
	time_t start = time(NULL);
	while (w.ops < 600 && time(NULL) - start < 5) {
		failed += nfs_server_set_client_window(f.srv, "127.0.0.1", changes % 4) != 0;
		changes++;
		usleep(500);
	}
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	printf("  %u window changes during %u operations\n", changes, w.ops);
	CHECK_EQ(failed, 0);
	CHECK(w.ops >= 30);
	CHECK_EQ(w.failures, 0);
	fixture_stop(&f);
}

static const struct harness_test tests[] = {
	{ "export_put_and_reloaded_mounts", test_export_put_and_reloaded_mounts },
	{ "export_removed_refuses_mount_and_handles_go_stale",
	  test_export_removed_refuses_mount_and_handles_go_stale },
	{ "list_clients_shows_a_mounted_client", test_list_clients_shows_a_mounted_client },
	{ "reloads_during_io", test_reloads_during_io },
	{ "client_window_is_split_over_connections", test_client_window_is_split_over_connections },
	{ "windows_change_during_io", test_windows_change_during_io },
};

HARNESS_MAIN(tests)
