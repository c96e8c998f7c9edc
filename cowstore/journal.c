/*
 * journal.c - the metadata journal of the IO path.
 *
 * A RocksDB write costs several microseconds per key on this class of
 * machine, more than a whole 4K write may.  So the IO path writes no RocksDB
 * keys: the extent changes of every request finishing in one store-loop
 * turn go to this append-only file as one transaction (one write(2)), and
 * the in-memory maps they describe are written to RocksDB in bulk by a
 * checkpoint (checkpoint.c), after which the journal starts again.
 *
 * Transaction: struct txn_hdr, then records; valid when both CRCs check
 * and its sequence number is the previous one + 1.  Replay applies whole
 * transactions in order and stops at the first invalid one (a torn tail).
 * Records: PUT (an extent into a head or snapshot layer), DEL (an extent
 * out of a head), APPLIED (persistent-log sequence whose write is in),
 * SYNCED (transactions up to this one are durable, data included).
 */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cowstore/internal.h"

#define TXN_MAGIC 0x4e58544au /* "JTXN" */

enum rec_type { REC_PUT = 1, REC_DEL = 2, REC_APPLIED = 3, REC_SYNCED = 4 };

struct txn_hdr {
	uint32_t magic;
	uint32_t len; /* payload bytes */
	uint64_t seq;
	uint32_t payload_crc;
	uint32_t hdr_crc;
};

static uint32_t crc(const void *p, size_t n)
{
	return crc32_iscsi((unsigned char *)p, (int)n, 0xffffffffu);
}

int journal_open(struct journal *j, const char *path, uint64_t checkpoint_seq)
{
	memset(j, 0, sizeof(*j));
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return -errno;
	j->seq = checkpoint_seq;
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

static int reserve(struct journal *j, size_t more)
{
	if (j->len + more <= j->cap)
		return 0;
	size_t cap = j->cap ? j->cap : 4096;
	while (cap < j->len + more)
		cap *= 2;
	uint8_t *p = realloc(j->buf, cap);
	if (!p)
		return -ENOMEM;
	j->buf = p;
	j->cap = cap;
	return 0;
}

static int append(struct journal *j, const void *p, size_t n)
{
	int rc = reserve(j, n);
	if (rc)
		return rc;
	memcpy(j->buf + j->len, p, n);
	j->len += n;
	return 0;
}

/* Records start with type and range: 1 + 8 + 8 + 2 bytes. */
enum { RANGE_LEN = 19, PUT_LEN = RANGE_LEN + 1 + 8 + 8, VALUE_LEN = 1 + 8 };

static void encode_range(uint8_t *r, uint8_t type, const struct extent *e)
{
	uint16_t n = (uint16_t)e->nblocks;
	r[0] = type;
	memcpy(r + 1, &e->layer, 8);
	memcpy(r + 9, &e->lba, 8);
	memcpy(r + 17, &n, 2);
}

static void decode_range(const uint8_t *r, struct extent *e)
{
	uint16_t n;
	memcpy(&e->layer, r + 1, 8);
	memcpy(&e->lba, r + 9, 8);
	memcpy(&n, r + 17, 2);
	e->nblocks = n;
}

int journal_put(struct journal *j, const struct extent *e)
{
	uint8_t r[PUT_LEN];
	encode_range(r, REC_PUT, e);
	r[RANGE_LEN] = e->kind;
	memcpy(r + RANGE_LEN + 1, &e->pblock, 8);
	memcpy(r + RANGE_LEN + 9, &e->birth, 8);
	return append(j, r, sizeof(r));
}

int journal_del(struct journal *j, const struct extent *e)
{
	uint8_t r[RANGE_LEN];
	encode_range(r, REC_DEL, e);
	return append(j, r, sizeof(r));
}

static int append_value(struct journal *j, uint8_t type, uint64_t value)
{
	uint8_t r[VALUE_LEN];
	r[0] = type;
	memcpy(r + 1, &value, 8);
	return append(j, r, sizeof(r));
}

int journal_applied(struct journal *j, uint64_t plog_seq)
{
	return append_value(j, REC_APPLIED, plog_seq);
}

int journal_synced(struct journal *j, uint64_t seq)
{
	return append_value(j, REC_SYNCED, seq);
}

bool journal_pending(const struct journal *j) { return j->len > 0; }

int journal_commit(struct journal *j)
{
	if (!j->len)
		return 0;
	struct txn_hdr h = { TXN_MAGIC, (uint32_t)j->len, j->seq + 1, crc(j->buf, j->len), 0 };
	h.hdr_crc = crc(&h, offsetof(struct txn_hdr, hdr_crc));
	struct iovec iov[2] = { { &h, sizeof(h) }, { j->buf, j->len } };
	ssize_t want = (ssize_t)(sizeof(h) + j->len);
	ssize_t got = pwritev(j->fd, iov, 2, (off_t)j->size);
	if (got != want)
		return got < 0 ? -errno : -EIO;
	j->seq++;
	j->size += (uint64_t)want;
	j->len = 0;
	return 0;
}

int journal_reset(struct journal *j)
{
	if (ftruncate(j->fd, 0) < 0)
		return -errno;
	j->size = 0;
	return 0;
}

/* Calls rec for each record of one transaction's payload. */
typedef int (*record_fn)(void *ctx, uint8_t type, const struct extent *e, uint64_t value);

static int each_record(const uint8_t *p, size_t len, record_fn rec, void *ctx)
{
	while (len) {
		struct extent e = { 0 };
		uint64_t value = 0;
		size_t rec_len = p[0] == REC_PUT ? PUT_LEN : p[0] == REC_DEL ? RANGE_LEN : VALUE_LEN;
		if (len < rec_len || p[0] < REC_PUT || p[0] > REC_SYNCED)
			return -EUCLEAN;
		if (p[0] == REC_PUT || p[0] == REC_DEL)
			decode_range(p, &e);
		else
			memcpy(&value, p + 1, 8);
		if (p[0] == REC_PUT) {
			e.kind = p[RANGE_LEN];
			memcpy(&e.pblock, p + RANGE_LEN + 1, 8);
			memcpy(&e.birth, p + RANGE_LEN + 9, 8);
		}
		int rc = rec(ctx, p[0], &e, value);
		if (rc)
			return rc;
		p += rec_len;
		len -= rec_len;
	}
	return 0;
}

/* Calls visit for each valid transaction after the checkpoint, in order,
 * with the offset where it starts; *end_off gets where the valid ones end. */
typedef int (*txn_fn)(void *ctx, const struct txn_hdr *h, const uint8_t *payload,
		      uint64_t off);

static int each_txn(const struct journal *j, txn_fn visit, void *ctx, uint64_t *end_off)
{
	struct stat st;
	if (fstat(j->fd, &st) < 0)
		return -errno;
	uint64_t off = 0, end = (uint64_t)st.st_size, expect = j->seq + 1;
	uint8_t *payload = NULL;
	int rc = 0;
	while (off + sizeof(struct txn_hdr) <= end) {
		struct txn_hdr h;
		if (pread(j->fd, &h, sizeof(h), (off_t)off) != (ssize_t)sizeof(h) ||
		    h.magic != TXN_MAGIC || h.hdr_crc != crc(&h, offsetof(struct txn_hdr, hdr_crc)) ||
		    off + sizeof(h) + h.len > end)
			break;
		if (h.seq >= expect) { /* older ones are in the checkpoint already */
			if (h.seq != expect)
				break;
			uint8_t *p = realloc(payload, h.len ? h.len : 1);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			payload = p;
			if (pread(j->fd, payload, h.len, (off_t)(off + sizeof(h))) != (ssize_t)h.len ||
			    crc(payload, h.len) != h.payload_crc)
				break; /* a torn last transaction: it was never acknowledged */
			rc = visit(ctx, &h, payload, off);
			if (rc)
				break;
			expect++;
		}
		off += sizeof(h) + h.len;
	}
	free(payload);
	*end_off = off;
	return rc;
}

struct replay {
	struct journal *j;
	journal_apply_fn apply;
	journal_check_fn check;
	void *arg;
	uint64_t durable; /* transactions up to this one were synced */
	uint64_t count;
	uint64_t stop_off;
};

static int note_synced(void *ctx, uint8_t type, const struct extent *e, uint64_t value)
{
	struct replay *r = ctx;
	if (type == REC_SYNCED && value > r->durable)
		r->durable = value;
	return 0;
}

static int find_durable(void *ctx, const struct txn_hdr *h, const uint8_t *p, uint64_t off)
{
	return each_record(p, h->len, note_synced, ctx);
}

static int check_data(void *ctx, uint8_t type, const struct extent *e, uint64_t value)
{
	struct replay *r = ctx;
	return type == REC_PUT && e->kind == BLK_DATA ? r->check(r->arg, e) : 0;
}

static int apply_record(void *ctx, uint8_t type, const struct extent *e, uint64_t value)
{
	struct replay *r = ctx;
	switch (type) {
	case REC_PUT:
		return r->apply(r->arg, JOURNAL_PUT, e, 0);
	case REC_DEL:
		return r->apply(r->arg, JOURNAL_DEL, e, 0);
	case REC_APPLIED:
		return r->apply(r->arg, JOURNAL_APPLIED, NULL, value);
	}
	return 0; /* REC_SYNCED: read by find_durable */
}

/* A transaction no sync covered may name data blocks whose write never
 * reached the disk (power loss): then it and all later ones are dropped,
 * as unflushed writes may be, rather than read back as checksum errors. */
static int apply_txn(void *ctx, const struct txn_hdr *h, const uint8_t *p, uint64_t off)
{
	struct replay *r = ctx;
	if (h->seq > r->durable && each_record(p, h->len, check_data, r) != 0) {
		r->stop_off = off;
		return 1;
	}
	int rc = each_record(p, h->len, apply_record, r);
	if (rc)
		return rc;
	r->j->seq = h->seq;
	r->count++;
	return 0;
}

int journal_replay(struct journal *j, journal_apply_fn apply, journal_check_fn check, void *arg,
		   uint64_t *count)
{
	struct replay r = { j, apply, check, arg, j->seq, 0, 0 };
	uint64_t end;
	int rc = each_txn(j, find_durable, &r, &end);
	if (!rc)
		rc = each_txn(j, apply_txn, &r, &end);
	*count = r.count;
	j->size = rc == 1 ? r.stop_off : end;
	return rc == 1 ? 0 : rc;
}
