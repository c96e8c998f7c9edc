/*
 * nfs3_io.c - READ, WRITE and COMMIT: file data, straight between the
 * socket buffers and the file's cowstore volume.
 *
 * READ and WRITE are asynchronous: the call is answered from the cowstore
 * completion, on the loop thread.  A READ's data is read into its own
 * buffer and sent after the reply header, so it is never copied.  cowstore
 * addresses 512-byte sectors; a WRITE that does not start and end on a
 * sector boundary first waits until no other IO is in flight, then reads
 * its partial sectors (synchronously) and writes whole ones, so two writes
 * sharing a sector never lose each other's bytes.
 *
 * Stability: UNSTABLE writes are acknowledged when cowstore has them and
 * become durable at COMMIT (or any later sync); DATA_SYNC and FILE_SYNC
 * sync data and the new size before answering, and say FILE_SYNC.  The
 * write verifier is new on every start, so a client resends what a crash
 * may have lost.
 *
 * QoS: with a gate (opts.gate), READ and WRITE requests go through it and
 * may be submitted later from another thread (qos.h); done() still runs
 * here and gives the gate its room back first.  A WRITE that drains IO
 * before reading partial sectors may so wait for this file's requests
 * held by a VM's limit (the gate's timer releases them).
 *
 * With IO statistics on (opts.stats), a READ or WRITE that succeeds on a
 * volume is counted on its (client address, volume) stream, timed from
 * dispatch to the reply; a READ of a file never written touches no volume
 * and is not counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/nfs3.h"

#define SECTOR COWSTORE_SECTOR_SIZE

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Common start of READ and WRITE: the handle must name a regular file the
 * caller may use with want. */
static enum nfsstat3 file_for_io(struct nfs3_ctx *c, const struct nfs_fh *fh,
				 struct cowstore_ns_attr *attr, uint32_t want, bool *have_attr)
{
	enum nfsstat3 st = nfs3_resolve(c, fh, attr);
	*have_attr = st == NFS3_OK;
	if (st)
		return st;
	if (attr->type == COWSTORE_NS_DIR)
		return NFS3ERR_ISDIR;
	if (attr->type != COWSTORE_NS_REG)
		return NFS3ERR_INVAL;
	if ((want & ACCESS3_MODIFY) && c->rule->read_only)
		return NFS3ERR_ROFS;
	return nfs_access_check(&c->cred, attr, want);
}

/* ---- IO statistics ----------------------------------------------------------- */

/* The client's address as bytes (IPv4-mapped IPv6 as IPv4) and as text. */
static sa_family_t peer_address(const struct sockaddr_storage *ss, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return AF_INET;
	}
	if (ss->ss_family != AF_INET6)
		return 0;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(addr, a6->s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(addr, a6->s6_addr, 16);
	return AF_INET6;
}

static void record_io(struct nfs_call *call, bool write, uint64_t volume_id, uint32_t bytes)
{
	struct nfs_server *srv = call->srv;
	uint8_t addr[16];
	sa_family_t family = peer_address(nfs_call_peer(call), addr);
	uint64_t h = volume_id * 0x9e3779b97f4a7c15ull ^ family;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 1099511628211ull;
	size_t nslots = sizeof(srv->streams) / sizeof(srv->streams[0]);
	struct nfs_stream_slot *slot = &srv->streams[(h ^ h >> 32) % nslots];
	if (!slot->stream || slot->volume_id != volume_id || slot->family != family ||
	    memcmp(slot->addr, addr, 16) != 0) {
		char host[INET6_ADDRSTRLEN] = "unknown";
		if (family)
			inet_ntop(family, addr, host, sizeof(host));
		struct qos_stream *s = qos_stats_stream(srv->opts.stats, host, volume_id);
		if (!s)
			return; /* out of memory: this IO goes uncounted */
		slot->stream = s;
		slot->volume_id = volume_id;
		slot->family = family;
		memcpy(slot->addr, addr, 16);
	}
	qos_stream_record(slot->stream, write, bytes, qos_now_ns() - call->received_ns);
}

/* ---- READ ------------------------------------------------------------------ */

static void read_done(struct cowstore_io *io)
{
	struct nfs_call *call = io->priv;
	qos_gate_done(call->srv->opts.gate, &call->gate_req);
	call->srv->io_inflight--;
	if (io->result < 0) {
		nfs_io_buf_put(call->srv, call->data);
		call->data = NULL;
		call->reply.len = call->reply_mark;
		xdr_put_u32(&call->reply, NFS3ERR_IO);
		nfs3_put_post_attr(&call->reply, NULL);
	} else if (call->received_ns) {
		record_io(call, false, io->volume_id, (uint32_t)call->data_len);
	}
	nfs_call_reply(call);
}

enum nfs3_result nfs3_proc_read(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr attr;
	enum nfsstat3 st;
	if (c->call->srv->opts.stats)
		c->call->received_ns = qos_now_ns();
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	uint64_t offset = xdr_get_u64(c->in);
	uint32_t count = xdr_get_u32(c->in);
	if (c->in->err)
		return NFS3_GARBAGE;
	bool have_attr = false;
	if (fh_ok)
		st = file_for_io(c, &fh, &attr, ACCESS3_READ, &have_attr);
	size_t mark = c->out->len;
	xdr_put_u32(c->out, st);
	nfs3_put_post_attr(c->out, have_attr ? &attr : NULL);
	if (st)
		return NFS3_DONE;
	uint64_t n = count < NFS_MAX_IO_BYTES ? count : NFS_MAX_IO_BYTES;
	if (offset >= attr.size_bytes)
		n = 0;
	else if (n > attr.size_bytes - offset)
		n = attr.size_bytes - offset;
	xdr_put_u32(c->out, (uint32_t)n);
	xdr_put_bool(c->out, offset + n >= attr.size_bytes);
	xdr_put_u32(c->out, (uint32_t)n);
	if (n == 0)
		return NFS3_DONE;
	if (attr.volume_id == 0) { /* never written: all zeros */
		xdr_reserve(c->out, n);
		return NFS3_DONE;
	}
	uint64_t first = offset / SECTOR, end = round_up(offset + n, SECTOR) / SECTOR;
	struct nfs_call *call = c->call;
	call->data = nfs_io_buf_get(call->srv);
	if (!call->data) {
		c->out->len = mark;
		xdr_put_u32(c->out, NFS3ERR_JUKEBOX);
		nfs3_put_post_attr(c->out, &attr);
		return NFS3_DONE;
	}
	call->data_skip = offset % SECTOR;
	call->data_len = n;
	call->reply_mark = mark;
	/* Past the volume's end the file reads zeros (a size set, not written). */
	uint64_t volume_end = attr.volume_bytes / SECTOR;
	uint64_t stored = end <= volume_end ? end - first : first < volume_end ? volume_end - first : 0;
	memset(call->data + stored * SECTOR, 0, (end - first - stored) * SECTOR);
	call->io = (struct cowstore_io){ .op = COWSTORE_OP_READ, .volume_id = attr.volume_id,
					 .lba = first, .nsectors = (uint32_t)stored,
					 .buf = call->data, .queue = call->srv->queue,
					 .done = read_done, .priv = call };
	call->srv->io_inflight++;
	int rc = stored ? qos_gate_submit(call->srv->opts.gate, &call->gate_req, c->cs, &call->io) : 0;
	if (rc < 0 || stored == 0) {
		call->io.result = rc;
		read_done(&call->io);
	}
	return NFS3_PENDING;
}

/* ---- WRITE ----------------------------------------------------------------- */

static void write_reply(struct nfs_call *call, enum nfsstat3 st,
			const struct cowstore_ns_attr *after)
{
	struct xdr_out *out = &call->reply;
	out->len = call->reply_mark;
	xdr_put_u32(out, st);
	nfs3_put_wcc(out, &call->attr, after);
	if (st == NFS3_OK) {
		xdr_put_u32(out, call->count);
		xdr_put_u32(out, call->stable == NFS3_UNSTABLE ? NFS3_UNSTABLE : NFS3_FILE_SYNC);
		xdr_put_fixed(out, call->srv->write_verf, NFS3_WRITEVERFSIZE);
	}
}

static void write_done(struct cowstore_io *io)
{
	struct nfs_call *call = io->priv;
	struct nfs_server *srv = call->srv;
	struct cowstore_ns_attr after;
	qos_gate_done(srv->opts.gate, &call->gate_req);
	srv->io_inflight--;
	nfs_io_buf_put(srv, call->data);
	call->data = NULL;
	int rc = io->result;
	if (rc == 0)
		rc = cowstore_ns_written(srv->cs, call->ino, call->offset + call->count, &after);
	if (rc == 0 && call->stable != NFS3_UNSTABLE)
		rc = cowstore_ns_sync(srv->cs);
	write_reply(call, nfs3_status(rc), rc == 0 ? &after : NULL);
	if (rc == 0 && call->received_ns)
		record_io(call, true, io->volume_id, call->count);
	nfs_call_reply(call);
}

/* Fill buf's partial first and last sectors from the volume. */
static int read_partial_sectors(struct nfs3_ctx *c, uint64_t volume, uint64_t offset,
				uint32_t n, uint8_t *buf, uint64_t nsectors)
{
	uint64_t first = offset / SECTOR;
	int rc = 0;
	nfs_server_drain_io(c->call->srv);
	if (offset % SECTOR)
		rc = cowstore_read(c->cs, volume, first, 1, buf);
	if (rc == 0 && (offset + n) % SECTOR && (nsectors > 1 || offset % SECTOR == 0))
		rc = cowstore_read(c->cs, volume, first + nsectors - 1, 1,
				   buf + (nsectors - 1) * SECTOR);
	return rc;
}

/* Submit the WRITE of data[0..n) at offset; the call's fields are set. */
static int write_submit(struct nfs3_ctx *c, uint64_t volume, const uint8_t *data)
{
	struct nfs_call *call = c->call;
	uint64_t first = call->offset / SECTOR;
	uint64_t nsectors = round_up(call->offset + call->count, SECTOR) / SECTOR - first;
	call->data = nfs_io_buf_get(call->srv);
	if (!call->data)
		return -ENOMEM;
	int rc = 0;
	if (call->offset % SECTOR || call->count % SECTOR)
		rc = read_partial_sectors(c, volume, call->offset, call->count, call->data, nsectors);
	if (rc < 0) {
		nfs_io_buf_put(call->srv, call->data);
		call->data = NULL;
		return rc;
	}
	memcpy(call->data + call->offset % SECTOR, data, call->count);
	call->io = (struct cowstore_io){ .op = COWSTORE_OP_WRITE, .volume_id = volume,
					 .lba = first, .nsectors = (uint32_t)nsectors,
					 .buf = call->data, .queue = call->srv->queue,
					 .done = write_done, .priv = call };
	call->srv->io_inflight++;
	rc = qos_gate_submit(call->srv->opts.gate, &call->gate_req, c->cs, &call->io);
	if (rc < 0) {
		call->io.result = rc;
		write_done(&call->io);
	}
	return 0;
}

enum nfs3_result nfs3_proc_write(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct nfs_call *call = c->call;
	enum nfsstat3 st;
	if (call->srv->opts.stats)
		call->received_ns = qos_now_ns();
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	uint64_t offset = xdr_get_u64(c->in);
	uint32_t count = xdr_get_u32(c->in);
	uint32_t stable = xdr_get_u32(c->in);
	uint32_t len;
	const uint8_t *data = xdr_get_opaque(c->in, NFS_MAX_IO_BYTES, &len);
	if (!data || stable > NFS3_FILE_SYNC)
		return NFS3_GARBAGE;
	call->reply_mark = c->out->len;
	call->offset = offset;
	call->count = count;
	call->stable = stable;
	call->ino = fh.ino;
	bool have_attr = false;
	if (fh_ok)
		st = file_for_io(c, &fh, &call->attr, ACCESS3_MODIFY, &have_attr);
	if (st == NFS3_OK && count > len)
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK && (offset > COWSTORE_NS_MAX_FILE_BYTES ||
			      count > COWSTORE_NS_MAX_FILE_BYTES - offset))
		st = NFS3ERR_FBIG;
	uint64_t volume = 0;
	if (st == NFS3_OK && count > 0)
		st = nfs3_status(cowstore_ns_volume(c->cs, fh.ino, offset + count, &volume));
	if (st == NFS3_OK && count > 0)
		st = nfs3_status(write_submit(c, volume, data));
	if (st == NFS3_OK && count > 0)
		return NFS3_PENDING;
	if (!have_attr) {
		xdr_put_u32(c->out, st);
		nfs3_put_wcc(c->out, NULL, NULL);
		return NFS3_DONE;
	}
	write_reply(call, st, &call->attr);
	return NFS3_DONE;
}

/* ---- COMMIT ---------------------------------------------------------------- */

enum nfs3_result nfs3_proc_commit(struct nfs3_ctx *c)
{
	struct nfs_fh fh;
	struct cowstore_ns_attr before, after;
	enum nfsstat3 st;
	bool fh_ok = nfs_fh_decode(c->in, &fh, &st);
	xdr_get_u64(c->in); /* offset and count: everything is committed */
	xdr_get_u32(c->in);
	if (c->in->err)
		return NFS3_GARBAGE;
	if (fh_ok)
		st = nfs3_resolve(c, &fh, &before);
	bool have = fh_ok && st == NFS3_OK;
	if (st == NFS3_OK)
		st = nfs3_status(cowstore_ns_sync(c->cs));
	have = have && cowstore_ns_getattr(c->cs, fh.ino, 0, &after) == 0;
	xdr_put_u32(c->out, st);
	nfs3_put_wcc(c->out, have ? &before : NULL, have ? &after : NULL);
	if (st == NFS3_OK)
		xdr_put_fixed(c->out, c->call->srv->write_verf, NFS3_WRITEVERFSIZE);
	return NFS3_DONE;
}
