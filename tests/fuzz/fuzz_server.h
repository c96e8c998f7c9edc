/*
 * fuzz_server.h - what the fuzz targets share: one iSCSI server per process
 * on a throw-away pool (a 64 MiB thin volume as LUN 0 of FUZZ_TARGET), whose
 * event loop the fuzzer turns itself (server_open_loop + server_poll: no
 * portal, no thread), and connections over a socketpair: the server reads
 * one end through the real receive path, the fuzzer writes the other.
 *
 * Every input must leave the server as it found it: fuzz_conn_close() waits
 * until the connection is freed, and aborts (a hang is a bug) if it is not.
 */
#ifndef SLATE_TESTS_FUZZ_SERVER_H
#define SLATE_TESTS_FUZZ_SERVER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "target/iscsi/internal.h"
#include "tests/unit/cowstore/testutil.h"

#define FUZZ_TARGET "iqn.2026-11.dev.slate:fuzz"

static struct test_pool fuzz_pool;
static struct iscsi_server *fuzz_srv;

static inline void fuzz_server_destroy(void)
{
	iscsi_server_destroy(fuzz_srv);
	test_pool_destroy(&fuzz_pool);
}

/* The process's server, created on first use; a setup failure aborts. */
static inline struct iscsi_server *fuzz_server(void)
{
	struct iscsi_server_options opts = { .address = "127.0.0.1" }; /* never bound */
	uint64_t vol;
	if (fuzz_srv)
		return fuzz_srv;
	if (test_pool_open(&fuzz_pool, 256, 0) ||
	    cowstore_volume_create(fuzz_pool.cs, "fuzz", 64u << 20, &vol, NULL) ||
	    iscsi_server_create(fuzz_pool.cs, &opts, &fuzz_srv) ||
	    iscsi_server_add_target(fuzz_srv, FUZZ_TARGET) ||
	    iscsi_server_add_lun(fuzz_srv, FUZZ_TARGET, 0, NULL, vol) ||
	    server_open_loop(fuzz_srv)) {
		fprintf(stderr, "fuzz: cannot set up the server\n");
		abort();
	}
	atexit(fuzz_server_destroy);
	return fuzz_srv;
}

/* Read and drop whatever the server sent. */
static inline void fuzz_drain(int fd)
{
	uint8_t buf[65536];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* A new connection; *peer_fd gets the initiator's end (non-blocking). */
static inline struct conn *fuzz_conn_open(struct iscsi_server *srv, int *peer_fd)
{
	int sv[2];
	struct conn *c;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    !(c = conn_new(srv, sv[0]))) {
		fprintf(stderr, "fuzz: cannot open a connection\n");
		abort();
	}
	*peer_fd = sv[1];
	return c;
}

/* Send bytes as an initiator would, turning the loop as they are taken;
 * stops early when the server has closed the connection. */
static inline void fuzz_send(struct iscsi_server *srv, int peer_fd, const uint8_t *data, size_t len)
{
	size_t at = 0;
	while (at < len && srv->conns) {
		ssize_t n = send(peer_fd, data + at, len - at, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			at += (size_t)n;
		server_poll(srv, 0);
		fuzz_drain(peer_fd);
	}
}

/* The initiator hangs up; turn the loop until the connection is freed. */
static inline void fuzz_conn_close(struct iscsi_server *srv, int peer_fd)
{
	shutdown(peer_fd, SHUT_WR);
	for (int round = 0; srv->conns; round++) {
		if (round == 10000) { /* 100 s: commands never finished */
			fprintf(stderr, "fuzz: the connection was never freed\n");
			abort();
		}
		server_poll(srv, 10);
		fuzz_drain(peer_fd);
	}
	close(peer_fd);
}

#endif /* SLATE_TESTS_FUZZ_SERVER_H */
