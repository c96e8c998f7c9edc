/*
 * plog.c - the persistent write log for FUA writes, on libpmem.
 *
 * A FUA write is acknowledged as soon as its data and header are persistent
 * here, instead of waiting for fdatasync of the data file and a RocksDB WAL
 * sync.  The log is a ring of records after a 4 KiB header; the header (two
 * slots written alternately, so a torn update leaves the other valid) says
 * up to which sequence number everything is in the synced pool and where
 * the oldest record that is not yet starts.  On a plain file (this machine)
 * libpmem falls back to msync, which is still correct, only slower.
 *
 * Record: struct rec, then nsectors * 512 bytes of data, padded to 64.
 * A record is valid when its header CRC, its data CRC and its sequence
 * (previous + 1) all check; replay stops at the first that does not.
 */
#include <errno.h>
#include <isa-l/crc.h>
#include <libpmem.h>
#include <stdlib.h>
#include <string.h>

#include "cowstore/internal.h"

#define PLOG_MAGIC 0x474f4c50534c53ull /* "SLSPLOG" */
#define REC_MAGIC 0x52454331u
#define WRAP_MAGIC 0x57524150u
#define HDR_SLOT_BYTES 512u
#define RECORDS_START 4096u
#define REC_ALIGN 64u

struct hdr_slot {
	uint64_t magic;
	uint64_t size;
	uint64_t counter;    /* the newer valid slot wins */
	uint64_t synced_seq; /* everything <= is in the synced pool */
	uint64_t tail_off;   /* oldest record not yet synced (or the head) */
	uint32_t pad;
	uint32_t crc;
};

struct rec {
	uint32_t magic;
	uint32_t nsectors;
	uint64_t seq;
	uint64_t volume_id;
	uint64_t lba;
	uint32_t data_crc;
	uint32_t hdr_crc;
};

struct unsynced {
	uint64_t seq, off;
};

struct plog {
	uint8_t *base;
	size_t size;
	int is_pmem;
	uint64_t counter;
	uint64_t synced_seq;
	uint64_t next_seq;
	uint64_t head;              /* where the next record goes */
	struct unsynced *fifo;      /* records not yet synced, oldest first */
	size_t fifo_start, fifo_len, fifo_cap;
};

static uint32_t crc(const void *p, size_t n)
{
	return crc32_iscsi((unsigned char *)p, (int)n, 0xffffffffu);
}

static void persist(struct plog *pl, const void *addr, size_t len)
{
	if (pl->is_pmem)
		pmem_persist(addr, len);
	else
		pmem_msync(addr, len);
}

static uint64_t align_up(uint64_t v) { return (v + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1); }

static void write_header(struct plog *pl, uint64_t tail)
{
	struct hdr_slot h = { PLOG_MAGIC, pl->size, ++pl->counter, pl->synced_seq, tail, 0, 0 };
	h.crc = crc(&h, offsetof(struct hdr_slot, crc));
	uint8_t *slot = pl->base + (pl->counter % 2) * HDR_SLOT_BYTES;
	memcpy(slot, &h, sizeof(h));
	persist(pl, slot, sizeof(h));
}

static bool read_slot(const struct plog *pl, int i, struct hdr_slot *h)
{
	memcpy(h, pl->base + (size_t)i * HDR_SLOT_BYTES, sizeof(*h));
	return h->magic == PLOG_MAGIC && h->crc == crc(h, offsetof(struct hdr_slot, crc)) &&
	       h->size == pl->size && h->tail_off >= RECORDS_START && h->tail_off < pl->size;
}

static int map(const char *path, size_t size, int flags, struct plog **out)
{
	struct plog *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	size_t mapped;
	pl->base = pmem_map_file(path, size, flags, 0640, &mapped, &pl->is_pmem);
	if (!pl->base) {
		int rc = -errno;
		free(pl);
		return rc ? rc : -EIO;
	}
	pl->size = mapped;
	*out = pl;
	return 0;
}

int plog_create(const char *path, uint64_t bytes, struct cowstore_err *err)
{
	struct plog *pl;
	if (bytes < (1u << 20) || bytes > (1ull << 34)) {
		set_err(err, "persistent log size must be 1 MiB to 16 GiB");
		return -EINVAL;
	}
	int rc = map(path, bytes, PMEM_FILE_CREATE | PMEM_FILE_EXCL, &pl);
	if (rc) {
		set_err(err, "cannot create persistent log %s: %s", path, strerror(-rc));
		return rc;
	}
	write_header(pl, RECORDS_START);
	write_header(pl, RECORDS_START);
	plog_close(pl);
	return 0;
}

int plog_open(const char *path, struct plog **out, struct cowstore_err *err)
{
	struct plog *pl;
	struct hdr_slot a, b;
	int rc = map(path, 0, 0, &pl);
	if (rc) {
		set_err(err, "cannot open persistent log %s: %s", path, strerror(-rc));
		return rc;
	}
	bool va = read_slot(pl, 0, &a), vb = read_slot(pl, 1, &b);
	if (!va && !vb) {
		set_err(err, "persistent log %s has no valid header", path);
		plog_close(pl);
		return -EUCLEAN;
	}
	struct hdr_slot *h = (va && (!vb || a.counter > b.counter)) ? &a : &b;
	pl->counter = h->counter;
	pl->synced_seq = h->synced_seq;
	pl->next_seq = h->synced_seq + 1;
	pl->head = h->tail_off;
	*out = pl;
	return 0;
}

void plog_close(struct plog *pl)
{
	if (!pl)
		return;
	pmem_unmap(pl->base, pl->size);
	free(pl->fifo);
	free(pl);
}

uint64_t plog_last_seq(const struct plog *pl) { return pl->next_seq - 1; }

static uint64_t tail_off(const struct plog *pl)
{
	return pl->fifo_len ? pl->fifo[pl->fifo_start].off : pl->head;
}

static int fifo_push(struct plog *pl, uint64_t seq, uint64_t off)
{
	if (pl->fifo_start + pl->fifo_len == pl->fifo_cap) {
		if (pl->fifo_start) { /* slide down before growing */
			memmove(pl->fifo, pl->fifo + pl->fifo_start, pl->fifo_len * sizeof(*pl->fifo));
			pl->fifo_start = 0;
		} else {
			size_t cap = pl->fifo_cap ? pl->fifo_cap * 2 : 64;
			struct unsynced *f = realloc(pl->fifo, cap * sizeof(*f));
			if (!f)
				return -ENOMEM;
			pl->fifo = f;
			pl->fifo_cap = cap;
		}
	}
	pl->fifo[pl->fifo_start + pl->fifo_len++] = (struct unsynced){ seq, off };
	return 0;
}

/* Where a record of len bytes can go, or 0 when the ring has no room. */
static uint64_t place(struct plog *pl, uint64_t len, bool *wrap)
{
	uint64_t tail = tail_off(pl);
	bool empty = pl->fifo_len == 0;
	*wrap = false;
	if (empty || pl->head > tail) {
		if (pl->head + len <= pl->size)
			return pl->head;
		*wrap = true;
		return (empty || RECORDS_START + len < tail) ? RECORDS_START : 0;
	}
	return pl->head + len < tail ? pl->head : 0; /* head is behind the tail */
}

int plog_append(struct plog *pl, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		const void *data, uint64_t *seq)
{
	size_t data_len = (size_t)nsectors * COWSTORE_SECTOR_SIZE;
	uint64_t len = align_up(sizeof(struct rec) + data_len);
	bool wrap;
	uint64_t off = place(pl, len, &wrap);
	if (!off || len > pl->size - RECORDS_START)
		return -ENOSPC;
	if (wrap && pl->head + sizeof(struct rec) <= pl->size) {
		struct rec w = { .magic = WRAP_MAGIC, .seq = pl->next_seq };
		w.hdr_crc = crc(&w, offsetof(struct rec, hdr_crc));
		memcpy(pl->base + pl->head, &w, sizeof(w));
		persist(pl, pl->base + pl->head, sizeof(w));
	}
	struct rec r = { REC_MAGIC, nsectors, pl->next_seq, volume_id, lba, crc(data, data_len), 0 };
	r.hdr_crc = crc(&r, offsetof(struct rec, hdr_crc));
	memcpy(pl->base + off + sizeof(r), data, data_len);
	persist(pl, pl->base + off + sizeof(r), data_len);
	memcpy(pl->base + off, &r, sizeof(r));
	persist(pl, pl->base + off, sizeof(r));
	int rc = fifo_push(pl, r.seq, off);
	if (rc)
		return rc;
	pl->head = off + len;
	*seq = pl->next_seq++;
	return 0;
}

void plog_mark_synced(struct plog *pl, uint64_t seq)
{
	if (seq <= pl->synced_seq)
		return;
	while (pl->fifo_len && pl->fifo[pl->fifo_start].seq <= seq) {
		pl->fifo_start++;
		pl->fifo_len--;
	}
	pl->synced_seq = seq;
	write_header(pl, tail_off(pl));
}

int plog_replay(struct plog *pl, plog_replay_fn fn, void *arg)
{
	uint64_t off = pl->head;
	for (;;) {
		struct rec r;
		if (off + sizeof(r) > pl->size) {
			off = RECORDS_START;
			continue;
		}
		memcpy(&r, pl->base + off, sizeof(r));
		if (r.hdr_crc != crc(&r, offsetof(struct rec, hdr_crc)) || r.seq != pl->next_seq)
			break;
		if (r.magic == WRAP_MAGIC) {
			off = RECORDS_START;
			continue;
		}
		size_t data_len = (size_t)r.nsectors * COWSTORE_SECTOR_SIZE;
		uint64_t len = align_up(sizeof(r) + data_len);
		if (r.magic != REC_MAGIC || off + len > pl->size ||
		    crc(pl->base + off + sizeof(r), data_len) != r.data_crc)
			break;
		int rc = fn(arg, r.seq, r.volume_id, r.lba, r.nsectors, pl->base + off + sizeof(r));
		if (!rc)
			rc = fifo_push(pl, r.seq, off);
		if (rc)
			return rc;
		pl->next_seq++;
		off += len;
	}
	pl->head = off;
	return 0;
}
