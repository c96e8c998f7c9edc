/*
 * test_io_stats.c - the NFS server counts READ and WRITE in the IO
 * statistics (qos): per client address and file volume, bytes as the
 * client asked and got them, failed calls and reads of never-written files
 * not counted.
 *
 * The server runs on a throw-away pool (the default /demo export) with its
 * loop turned here; the client is the other end of a socketpair that the
 * server takes as a connection from 127.0.0.1, and speaks raw RPC.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qos/internal.h"
#include "target/nfs/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

struct fixture {
	struct test_pool pool;
	struct qos_stats *stats;
	struct nfs_server *srv;
	int fd;                        /* the client's end */
	struct xdr_out fh;             /* /demo/file's handle, XDR-encoded */
	struct xdr_out empty_fh;       /* /demo/empty's (never written) */
	uint64_t file_ino;
	uint32_t xid;
};

static int fixture_open(struct fixture *f)
{
	struct nfs_server_options opts = { .address = "127.0.0.1" }; /* never bound */
	struct cowstore_ns_create reg = { .type = COWSTORE_NS_REG, .mode = 0644 };
	struct cowstore_ns_attr demo, file, empty;
	char err[256] = "";
	bool created;
	int sv[2];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	int rc = test_pool_open(&f->pool, 64, 0);
	if (!rc)
		rc = qos_stats_create(&f->stats);
	opts.stats = f->stats;
	if (!rc)
		rc = nfs_export_default(f->pool.cs, &created);
	if (!rc)
		rc = nfs_path_lookup(f->pool.cs, "/demo", &demo);
	if (!rc)
		rc = cowstore_ns_create(f->pool.cs, demo.ino, "file", &reg, &file);
	if (!rc)
		rc = cowstore_ns_create(f->pool.cs, demo.ino, "empty", &reg, &empty);
	if (!rc)
		rc = nfs_server_create(f->pool.cs, &opts, &f->srv, err, sizeof(err));
	if (!rc)
		rc = nfs_server_open_loop(f->srv, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "  setup: %d %s\n", rc, err);
		return rc;
	}
	struct nfs_fh fh = { .export_id = f->srv->exports[0].id, .ino = file.ino, .gen = file.gen };
	xdr_out_init(&f->fh);
	nfs_fh_encode(&f->fh, &fh);
	fh.ino = empty.ino;
	fh.gen = empty.gen;
	xdr_out_init(&f->empty_fh);
	nfs_fh_encode(&f->empty_fh, &fh);
	f->file_ino = file.ino;
	struct sockaddr_storage peer = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&peer;
	in->sin_family = AF_INET;
	in->sin_port = htons(700);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	f->fd = sv[1];
	return nfs_server_adopt(f->srv, sv[0], &peer);
}

static void fixture_close(struct fixture *f)
{
	if (f->fd >= 0)
		close(f->fd);
	for (int i = 0; i < 1000 && f->srv && f->srv->conns; i++)
		nfs_server_poll(f->srv, 10);
	nfs_server_destroy(f->srv);
	qos_stats_destroy(f->stats);
	xdr_out_free(&f->fh);
	xdr_out_free(&f->empty_fh);
	test_pool_destroy(&f->pool);
}

/* One NFS call (args after the handle); returns its nfsstat3, or a
 * negative errno when no proper reply came. */
static int nfs_call(struct fixture *f, const struct xdr_out *fh, uint32_t proc,
		    const struct xdr_out *args)
{
	struct xdr_out rec;
	xdr_out_init(&rec);
	xdr_put_u32(&rec, 0); /* record mark, below */
	xdr_put_u32(&rec, ++f->xid);
	xdr_put_u32(&rec, RPC_CALL);
	xdr_put_u32(&rec, RPC_VERSION);
	xdr_put_u32(&rec, NFS_PROG);
	xdr_put_u32(&rec, NFS_V3);
	xdr_put_u32(&rec, proc);
	xdr_put_u32(&rec, RPC_AUTH_SYS);
	xdr_put_u32(&rec, 24); /* stamp, "test", uid 0, gid 0, no gids */
	xdr_put_u32(&rec, 1);
	xdr_put_string(&rec, "test");
	xdr_put_u32(&rec, 0);
	xdr_put_u32(&rec, 0);
	xdr_put_u32(&rec, 0);
	xdr_put_u32(&rec, RPC_AUTH_NONE);
	xdr_put_u32(&rec, 0);
	xdr_put_fixed(&rec, fh->buf, fh->len);
	xdr_put_fixed(&rec, args->buf, args->len);
	rpc_record_mark(rec.buf, (uint32_t)(rec.len - 4));
	ssize_t sent = write(f->fd, rec.buf, rec.len);
	bool whole = sent == (ssize_t)rec.len;
	xdr_out_free(&rec);
	if (!whole)
		return -EIO;
	/* turn the loop until the whole reply is here */
	static uint8_t reply[(2u << 20)];
	size_t have = 0, want = 4;
	for (int round = 0; round < 5000 && have < want; round++) {
		nfs_server_poll(f->srv, 1);
		struct pollfd pfd = { f->fd, POLLIN, 0 };
		while (have < want && poll(&pfd, 1, 0) == 1) {
			ssize_t n = read(f->fd, reply + have, sizeof(reply) - have);
			if (n <= 0)
				return -ECONNRESET;
			have += (size_t)n;
			if (have >= 4)
				want = 4 + (((uint32_t)reply[0] << 24 & 0x7f000000u) | (uint32_t)reply[1] << 16 |
					    (uint32_t)reply[2] << 8 | reply[3]);
		}
	}
	if (have < want || want < 4 + 28) {
		fprintf(stderr, "  reply: %zu of %zu bytes\n", have, want);
		return -ETIMEDOUT;
	}
	struct xdr_in x;
	xdr_in_init(&x, reply + 4, want - 4);
	uint32_t xid = xdr_get_u32(&x), type = xdr_get_u32(&x), accepted = xdr_get_u32(&x);
	xdr_get_u32(&x); /* verifier */
	xdr_get_u32(&x);
	uint32_t accept_stat = xdr_get_u32(&x), status = xdr_get_u32(&x);
	if (x.err || xid != f->xid || type != RPC_REPLY || accepted != 0 || accept_stat != 0)
		return -EPROTO;
	return (int)status;
}

static int nfs_write(struct fixture *f, uint64_t offset, uint32_t count, uint32_t stable)
{
	static uint8_t data[65536];
	struct xdr_out args;
	xdr_out_init(&args);
	xdr_put_u64(&args, offset);
	xdr_put_u32(&args, count);
	xdr_put_u32(&args, stable);
	xdr_put_opaque(&args, data, count);
	int rc = nfs_call(f, &f->fh, NFS3_WRITE, &args);
	xdr_out_free(&args);
	return rc;
}

static int nfs_read(struct fixture *f, const struct xdr_out *fh, uint64_t offset, uint32_t count)
{
	struct xdr_out args;
	xdr_out_init(&args);
	xdr_put_u64(&args, offset);
	xdr_put_u32(&args, count);
	int rc = nfs_call(f, fh, NFS3_READ, &args);
	xdr_out_free(&args);
	return rc;
}

static void test_reads_and_writes_are_counted_per_client_and_volume(void)
{
	struct fixture f;
	REQUIRE(fixture_open(&f) == 0);
	/* a read of a file never written reads zeros without a volume */
	CHECK_EQ(nfs_read(&f, &f.empty_fh, 0, 4096), NFS3_OK);
	CHECK_EQ(nfs_write(&f, 0, 8192, NFS3_UNSTABLE), NFS3_OK);
	CHECK_EQ(nfs_write(&f, 8192, 1000, NFS3_FILE_SYNC), NFS3_OK); /* not sector-aligned */
	CHECK_EQ(nfs_read(&f, &f.fh, 0, 4096), NFS3_OK);
	CHECK_EQ(nfs_read(&f, &f.fh, 8000, 4096), NFS3_OK); /* short: 1192 bytes to the end */
	CHECK_EQ(nfs_write(&f, COWSTORE_NS_MAX_FILE_BYTES, 512, NFS3_UNSTABLE), NFS3ERR_FBIG);
	struct cowstore_ns_attr attr;
	REQUIRE(cowstore_ns_getattr(f.pool.cs, f.file_ino, 0, &attr) == 0);
	REQUIRE(attr.volume_id != 0);
	struct qos_stream_counts c;
	qos_stream_counts(qos_stats_stream(f.stats, "127.0.0.1", attr.volume_id), &c);
	CHECK_EQ(c.write_ios, 2);
	CHECK_EQ(c.write_bytes, 8192 + 1000);
	CHECK_EQ(c.read_ios, 2);
	CHECK_EQ(c.read_bytes, 4096 + 1192);
	CHECK(c.latency_sum_ns > 0 && c.latency_sum_ns < 10000000000ull);
	/* nothing else was counted: the registry holds that one stream */
	CHECK_EQ(f.stats->nstreams, 1);
	fixture_close(&f);
}

static const struct harness_test tests[] = {
	{ "reads_and_writes_are_counted_per_client_and_volume",
	  test_reads_and_writes_are_counted_per_client_and_volume },
};

HARNESS_MAIN(tests)
