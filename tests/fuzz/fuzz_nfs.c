/*
 * fuzz_nfs.c - libFuzzer target for the NFS v3 and MOUNT v3 argument
 * decoders and the procedures behind them, through the server's real
 * receive path (record reader, RPC header, dispatch, replies).
 *
 * The server runs on a throw-away pool whose /demo export holds a file
 * with data and a directory; its loop is turned here (no thread, no
 * listener) and a connection is a socketpair.  The input is a list of calls:
 *     [selector][procedure][args length, 2 bytes BE][args]
 * selector bit 0 picks MOUNT (else NFS), bit 1 a wrong version, bit 7
 * puts /demo's handle in front of the arguments and bit 6 /demo/file's
 * (random bytes never make a valid handle: its generation is random).  Each call gets a valid
 * RPC header with AUTH_SYS root credentials.  Every input leaves no
 * connection behind; state made by calls (files) stays, as it would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "target/nfs/internal.h"
#include "tests/unit/cowstore/testutil.h"

static struct test_pool pool;
static struct nfs_server *srv;
static struct xdr_out root_fh, file_fh; /* /demo's and /demo/file's, XDR-encoded */

static void teardown(void)
{
	nfs_server_destroy(srv);
	xdr_out_free(&root_fh);
	xdr_out_free(&file_fh);
	test_pool_destroy(&pool);
}

/* /demo with a file of 64 KiB and a directory. */
static int populate(struct cowstore *cs, struct cowstore_ns_attr *demo,
		    struct cowstore_ns_attr *file)
{
	bool created;
	struct cowstore_ns_attr dir;
	struct cowstore_ns_create reg = { .type = COWSTORE_NS_REG, .mode = 0644 };
	struct cowstore_ns_create mkdir = { .type = COWSTORE_NS_DIR, .mode = 0755 };
	static uint8_t data[65536];
	uint64_t vol;
	memset(data, 0x5a, sizeof(data));
	int rc = nfs_export_default(cs, &created);
	if (!rc)
		rc = nfs_path_lookup(cs, "/demo", demo);
	if (!rc)
		rc = cowstore_ns_create(cs, demo->ino, "file", &reg, file);
	if (!rc)
		rc = cowstore_ns_create(cs, demo->ino, "dir", &mkdir, &dir);
	if (!rc)
		rc = cowstore_ns_volume(cs, file->ino, sizeof(data), &vol);
	if (!rc)
		rc = cowstore_write(cs, vol, 0, sizeof(data) / 512, data, 0);
	if (!rc)
		rc = cowstore_ns_written(cs, file->ino, sizeof(data), file);
	return rc;
}

static void setup(void)
{
	struct nfs_server_options opts = { .address = "127.0.0.1" }; /* never bound */
	struct cowstore_ns_attr demo, file;
	char err[256] = "";
	if (test_pool_open(&pool, 256, 0) || populate(pool.cs, &demo, &file) ||
	    nfs_server_create(pool.cs, &opts, &srv, err, sizeof(err)) ||
	    nfs_server_open_loop(srv, err, sizeof(err))) {
		fprintf(stderr, "fuzz: cannot set up the server: %s\n", err);
		abort();
	}
	struct nfs_fh fh = { .export_id = srv->exports[0].id, .ino = demo.ino, .gen = demo.gen };
	xdr_out_init(&root_fh);
	nfs_fh_encode(&root_fh, &fh);
	fh.ino = file.ino;
	fh.gen = file.gen;
	xdr_out_init(&file_fh);
	nfs_fh_encode(&file_fh, &fh);
	atexit(teardown);
}

static void drain(int fd)
{
	uint8_t buf[65536];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Send one record, turning the loop while the server takes it. */
static void send_record(int fd, const struct xdr_out *rec)
{
	size_t at = 0;
	while (at < rec->len && srv->conns) {
		ssize_t n = send(fd, rec->buf + at, rec->len - at, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			at += (size_t)n;
		nfs_server_poll(srv, 0);
		drain(fd);
	}
}

static void call_record(struct xdr_out *rec, uint32_t xid, uint8_t selector, uint8_t proc,
			const uint8_t *args, size_t len)
{
	rec->len = 0;
	xdr_put_u32(rec, 0); /* record mark, below */
	xdr_put_u32(rec, xid);
	xdr_put_u32(rec, RPC_CALL);
	xdr_put_u32(rec, RPC_VERSION);
	xdr_put_u32(rec, selector & 1 ? MOUNT_PROG : NFS_PROG);
	xdr_put_u32(rec, selector & 2 ? 4 : 3);
	xdr_put_u32(rec, proc);
	xdr_put_u32(rec, RPC_AUTH_SYS);
	xdr_put_u32(rec, 20);  /* stamp, "fuzz", uid 0, gid 0, no gids */
	xdr_put_u32(rec, 1);
	xdr_put_string(rec, "fuzz");
	xdr_put_u32(rec, 0);
	xdr_put_u32(rec, 0);
	xdr_put_u32(rec, 0);
	xdr_put_u32(rec, RPC_AUTH_NONE);
	xdr_put_u32(rec, 0);
	if (selector & 0x80)
		xdr_put_fixed(rec, root_fh.buf, root_fh.len);
	if (selector & 0x40)
		xdr_put_fixed(rec, file_fh.buf, file_fh.len);
	xdr_put_fixed(rec, args, len);
	rpc_record_mark(rec->buf, (uint32_t)(rec->len - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		setup();
	int sv[2];
	struct sockaddr_storage peer = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&peer;
	in->sin_family = AF_INET;
	in->sin_port = htons(700);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    nfs_server_adopt(srv, sv[0], &peer) < 0)
		abort();
	struct xdr_out rec;
	xdr_out_init(&rec);
	for (uint32_t xid = 1; size >= 4 && srv->conns; xid++) {
		size_t len = (size_t)data[2] << 8 | data[3];
		if (len > size - 4)
			len = size - 4;
		call_record(&rec, xid, data[0], data[1], data + 4, len);
		send_record(sv[1], &rec);
		data += 4 + len;
		size -= 4 + len;
	}
	xdr_out_free(&rec);
	shutdown(sv[1], SHUT_WR);
	for (int round = 0; srv->conns; round++) {
		if (round == 10000) {
			fprintf(stderr, "fuzz: the connection was never freed\n");
			abort();
		}
		nfs_server_poll(srv, 10);
		drain(sv[1]);
	}
	close(sv[1]);
	return 0;
}
