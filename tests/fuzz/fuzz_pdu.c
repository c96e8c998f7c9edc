/*
 * fuzz_pdu.c - libFuzzer target: arbitrary bytes from an initiator, through
 * the real receive path of a connection (conn.c: BHS, AHS and data segment
 * lengths, dispatch by phase), login, and full-feature commands on a real
 * volume (command.c, target/scsi, cowstore).
 *
 * The input is the byte stream the initiator sends, then it hangs up.  The
 * seed corpus (corpus/fuzz_pdu/) holds logins followed by commands, so the
 * fuzzer starts from sessions that reach full feature phase.
 */
#include "tests/fuzz/fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_server *srv = fuzz_server();
	int peer_fd;
	fuzz_conn_open(srv, &peer_fd);
	fuzz_send(srv, peer_fd, data, size);
	fuzz_conn_close(srv, peer_fd);
	return 0;
}
