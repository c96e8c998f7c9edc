/*
 * xcopy.c - EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4,
 * 6.18), the copy offload ESXi (VAAI "full copy") and QEMU use to clone
 * disks without moving the data through the host.
 *
 * Supported: identification CSCD descriptors (E4h) and block-to-block
 * segment descriptors (02h).  A CSCD descriptor's designator is matched
 * against the NAA designators of this target's LUNs only, so a session can
 * copy only among LUNs it could address itself.  A segment runs in pieces.
 * Between LUNs of one pool a piece is a cowstore COPY request, which shares
 * extents where both ranges are 4 KiB aligned and copies data elsewhere;
 * when source and destination overlap on one LUN the pieces go in memmove
 * order and are never longer than the distance.  COPY cannot cross pools:
 * between LUNs of different pools a piece is read into a bounce buffer
 * (allocated with the first such piece) and written from it.
 *
 * In flight: while a piece runs, the task counts in lun->inflight on both
 * of its LUNs (st->lun the one it does IO on, st->lun2 the other), so a
 * LUN removed meanwhile keeps its number until the piece ends; between
 * pieces it counts on neither.  A piece that would read or write a held
 * LUN (hold.c) waits until the hold ends, and may then find its LUNs on
 * other pools.  A segment whose LUN was unmapped (or mapped again) since
 * the list was parsed is not copied: COPY ABORTED, UNREACHABLE COPY TARGET.
 *
 * Copy status: the target keeps the last XCOPY_SLOTS copies, keyed by I_T
 * nexus and list identifier, for RECEIVE COPY RESULTS.  A running copy
 * wraps its task's done() to record how it ended (slot->transport_done).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/scsi/internal.h"

#define HEADER_BYTES 16u
#define CSCD_BYTES 32u
#define SEGMENT_B2B_BYTES 28u
#define MAX_CSCD 8u
#define MAX_SEGMENTS 32u
#define MAX_DESC_LIST_BYTES 1024u /* CSCD and segment descriptors together */
#define MAX_SEGMENT_BLOCKS 0xffffu
#define BOUNCE_BLOCKS 2048u              /* a piece between pools: 1 MiB */

#define CSCD_IDENTIFICATION 0xe4
#define SEGMENT_BLOCK_TO_BLOCK 0x02
#define LIST_ID_USAGE_NONE 3     /* LIST ID USAGE 11b: no status kept */

#define COPY_STATUS_DONE 0x01
#define COPY_STATUS_ERRORS 0x02

struct xcopy_segment {
	struct scsi_lun *src, *dst;
	uint32_t src_generation, dst_generation; /* their mappings when parsed */
	uint64_t src_lba, dst_lba;
	uint32_t nblocks;
};

/* The parsed parameter list and progress; lives in the task's scratch. */
struct xcopy_job {
	struct xcopy_slot *slot;          /* NULL with LIST ID USAGE 11b */
	uint32_t nsegments, current;
	uint32_t done_blocks;             /* of the current segment */
	struct xcopy_segment seg[MAX_SEGMENTS];
	uint64_t bounce_dst_lba;          /* where the piece read into bounce goes */
	bool has_bounce;                  /* bounce[] is there (job_with_bounce) */
	uint8_t bounce[];                 /* BOUNCE_BLOCKS, for pieces between pools */
};

static struct xcopy_job *job_of(struct task_state *st)
{
	return (struct xcopy_job *)(void *)st->scratch;
}

/* ---- parsing the parameter list ------------------------------------------- */

static void copy_aborted(struct scsi_task *task, uint16_t asc_ascq)
{
	task_check(task, SENSE_COPY_ABORTED, asc_ascq);
}

/* The LUN of this target whose NAA designator the CSCD descriptor d names. */
static struct scsi_lun *resolve_cscd(struct scsi_target *t, const uint8_t *d)
{
	uint8_t naa[16];
	if ((d[4] & 0x0f) != 0x01 || (d[5] & 0x3f) != 0x03 || d[7] != sizeof(naa))
		return NULL; /* only a binary, LU-associated NAA designator names a LUN here */
	for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
		struct scsi_lun *lun = &t->luns[i];
		if (!lun->present)
			continue;
		lun_naa(lun, naa);
		if (memcmp(naa, d + 8, sizeof(naa)) == 0)
			return lun;
	}
	return NULL;
}

static bool parse_cscds(struct scsi_task *task, const uint8_t *p, uint32_t len,
			struct scsi_lun **luns)
{
	struct task_state *st = task_state(task);
	for (uint32_t i = 0; i < len / CSCD_BYTES; i++) {
		const uint8_t *d = p + i * CSCD_BYTES;
		uint16_t at = (uint16_t)(HEADER_BYTES + i * CSCD_BYTES);
		if (d[0] != CSCD_IDENTIFICATION) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_UNSUPPORTED_CSCD_TYPE);
			sense_set_field_pointer(task->sense, false, at, -1);
			return false;
		}
		if ((d[1] & 0x1f) != 0x00 || get_be(d + 29, 3) != BLOCK_BYTES) {
			task_bad_param(task, (d[1] & 0x1f) ? at + 1 : at + 29, -1);
			return false;
		}
		luns[i] = resolve_cscd(st->t, d);
		if (!luns[i]) {
			copy_aborted(task, ASC_UNREACHABLE_COPY_TARGET);
			return false;
		}
	}
	return true;
}

static bool in_lun(const struct scsi_lun *lun, uint64_t lba, uint32_t nblocks)
{
	return lba <= lun->nblocks && nblocks <= lun->nblocks - lba;
}

static bool parse_segments(struct scsi_task *task, const uint8_t *p, uint32_t len,
			   struct scsi_lun **luns, uint32_t ncscd, struct xcopy_job *job)
{
	uint32_t at = 0;
	while (at < len) {
		const uint8_t *d = p + at;
		uint16_t where = (uint16_t)(HEADER_BYTES + ncscd * CSCD_BYTES + at);
		if (len - at < 4 || (d[0] == SEGMENT_BLOCK_TO_BLOCK &&
				     (get_be16(d + 2) != SEGMENT_B2B_BYTES - 4 ||
				      len - at < SEGMENT_B2B_BYTES))) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
			return false;
		}
		if (d[0] != SEGMENT_BLOCK_TO_BLOCK) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_UNSUPPORTED_SEGMENT_TYPE);
			sense_set_field_pointer(task->sense, false, where, -1);
			return false;
		}
		if (job->nsegments == MAX_SEGMENTS) {
			task_check(task, SENSE_ILLEGAL_REQUEST, ASC_TOO_MANY_SEGMENTS);
			return false;
		}
		uint16_t src = get_be16(d + 4), dst = get_be16(d + 6);
		if (src >= ncscd || dst >= ncscd) { /* names no CSCD descriptor */
			copy_aborted(task, ASC_UNREACHABLE_COPY_TARGET);
			return false;
		}
		struct xcopy_segment *seg = &job->seg[job->nsegments++];
		seg->src = luns[src];
		seg->dst = luns[dst];
		seg->src_generation = seg->src->generation;
		seg->dst_generation = seg->dst->generation;
		seg->nblocks = get_be16(d + 10);
		seg->src_lba = get_be64(d + 12);
		seg->dst_lba = get_be64(d + 20);
		if (lun_refresh_size(seg->src) || lun_refresh_size(seg->dst) ||
		    !in_lun(seg->src, seg->src_lba, seg->nblocks) ||
		    !in_lun(seg->dst, seg->dst_lba, seg->nblocks)) {
			/* COPY ABORTED without an ASC: libiscsi accepts no other */
			copy_aborted(task, ASC_NONE);
			return false;
		}
		if (seg->dst->swp) { /* software write protect (control mode page) */
			task_check(task, SENSE_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
			return false;
		}
		at += SEGMENT_B2B_BYTES;
	}
	return true;
}

/* Checks the header and both descriptor lists into job; false when the task
 * has its answer (an error, or an empty list: nothing to do). */
static bool parse_list(struct scsi_task *task, uint32_t list_len, struct xcopy_job *job)
{
	const uint8_t *p = task->data;
	struct scsi_lun *luns[MAX_CSCD];
	if (list_len == 0) {
		task->status = SCSI_STATUS_GOOD;
		return false;
	}
	if (list_len < HEADER_BYTES || list_len > HEADER_BYTES + MAX_DESC_LIST_BYTES) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	uint32_t cscd_len = get_be16(p + 2), seg_len = get_be32(p + 8);
	uint32_t inline_len = get_be32(p + 12);
	if ((uint64_t)cscd_len + seg_len + inline_len > list_len - HEADER_BYTES ||
	    cscd_len + seg_len > MAX_DESC_LIST_BYTES) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return false;
	}
	if (p[1] & 0x20 || inline_len || cscd_len % CSCD_BYTES) { /* STR, inline data */
		task_bad_param(task, inline_len ? 12 : (p[1] & 0x20) ? 1 : 2, -1);
		return false;
	}
	if (cscd_len / CSCD_BYTES > MAX_CSCD) {
		task_check(task, SENSE_ILLEGAL_REQUEST, ASC_TOO_MANY_CSCDS);
		return false;
	}
	job->nsegments = 0;
	return parse_cscds(task, p + HEADER_BYTES, cscd_len, luns) &&
	       parse_segments(task, p + HEADER_BYTES + cscd_len, seg_len, luns,
			      cscd_len / CSCD_BYTES, job);
}

/* ---- copy status slots ---------------------------------------------------- */

static struct xcopy_slot *find_slot(struct scsi_target *t, uint64_t nexus_id, uint8_t list_id)
{
	for (unsigned i = 0; i < XCOPY_SLOTS; i++) {
		struct xcopy_slot *s = &t->xcopy[i];
		if (s->used && s->nexus_id == nexus_id && s->list_id == list_id)
			return s;
	}
	return NULL;
}

/* A slot for a new copy: the one with the same key, else an idle one, the
 * oldest first.  NULL when every slot holds a running copy. */
static struct xcopy_slot *claim_slot(struct scsi_target *t, uint64_t nexus_id, uint8_t list_id)
{
	struct xcopy_slot *s = find_slot(t, nexus_id, list_id);
	for (unsigned i = 0; !s && i < XCOPY_SLOTS; i++) {
		struct xcopy_slot *c = &t->xcopy[(t->xcopy_next + i) % XCOPY_SLOTS];
		if (!c->task) {
			s = c;
			t->xcopy_next = (unsigned)(c - t->xcopy + 1) % XCOPY_SLOTS;
		}
	}
	if (!s || s->task)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->nexus_id = nexus_id;
	s->list_id = list_id;
	return s;
}

/* Wraps the transport's done(): record how the copy ended. */
static void xcopy_done(struct scsi_task *task)
{
	struct scsi_target *t = task_state(task)->t;
	for (unsigned i = 0; i < XCOPY_SLOTS; i++) {
		struct xcopy_slot *s = &t->xcopy[i];
		if (s->task == task) {
			s->status = task->status == SCSI_STATUS_GOOD ? COPY_STATUS_DONE
								     : COPY_STATUS_ERRORS;
			s->task = NULL;
			task->done = s->transport_done;
			break;
		}
	}
	task->done(task);
}

/* ---- running the segments ------------------------------------------------- */

static bool same_pool(const struct xcopy_segment *seg)
{
	return seg->src->cs == seg->dst->cs;
}

/* The next piece of the current segment: at most max blocks, and when
 * source and destination overlap on one volume, at most their distance,
 * taken from the end when the destination lies above the source. */
static void next_piece(const struct xcopy_segment *seg, uint32_t done, uint32_t max,
		       uint64_t *src_lba, uint64_t *dst_lba, uint32_t *n)
{
	uint32_t left = seg->nblocks - done;
	bool same = same_pool(seg) && seg->src->volume_id == seg->dst->volume_id;
	uint64_t distance = seg->dst_lba > seg->src_lba ? seg->dst_lba - seg->src_lba
							: seg->src_lba - seg->dst_lba;
	bool backward = same && seg->dst_lba > seg->src_lba && distance < seg->nblocks;
	if (same && distance < seg->nblocks && distance < max)
		max = (uint32_t)distance;
	*n = left < max ? left : max;
	uint32_t offset = backward ? left - *n : done;
	*src_lba = seg->src_lba + offset;
	*dst_lba = seg->dst_lba + offset;
}

/* The task counts in flight on lun and lun2 (either may be NULL) instead
 * of the LUNs it counted on (see task_finish). */
static void count_on(struct task_state *st, struct scsi_lun *lun, struct scsi_lun *lun2)
{
	if (lun)
		lun->inflight++;
	if (lun2)
		lun2->inflight++;
	if (st->lun)
		st->lun->inflight--;
	if (st->lun2)
		st->lun2->inflight--;
	st->lun = lun;
	st->lun2 = lun2;
}

/* Are both LUNs of seg still the ones the list named? */
static bool reachable(const struct xcopy_segment *seg)
{
	return seg->src->present && seg->src->generation == seg->src_generation &&
	       seg->dst->present && seg->dst->generation == seg->dst_generation;
}

/* The job with its bounce buffer; NULL when there is no memory for it.
 * The job may move: pointers into the old one are stale. */
static struct xcopy_job *job_with_bounce(struct task_state *st)
{
	struct xcopy_job *job = job_of(st);
	if (job->has_bounce)
		return job;
	job = realloc(job, sizeof(*job) + (size_t)BOUNCE_BLOCKS * BLOCK_BYTES);
	if (!job)
		return NULL; /* the old job is still st->scratch */
	job->has_bounce = true;
	st->scratch = (uint8_t *)job;
	return job;
}

static void copy_next(struct scsi_task *task);

static void piece_done(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct xcopy_job *job = job_of(st);
	job->done_blocks += st->cursor;
	if (job->slot)
		job->slot->transfer_blocks += st->cursor;
	if (job->done_blocks == job->seg[job->current].nblocks) {
		job->current++;
		job->done_blocks = 0;
		if (job->slot)
			job->slot->segments_done++;
	}
	copy_next(task);
}

/* A piece between pools, read into the bounce buffer: now write it. */
static void bounce_write(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct xcopy_job *job = job_of(st);
	count_on(st, st->lun2, st->lun); /* IO on the destination now */
	io_run(task, COWSTORE_OP_WRITE, 0, job->bounce_dst_lba, st->cursor, job->bounce,
	       piece_done);
}

/* The next piece of segment seg, within one pool: a COPY request. */
static void copy_piece(struct scsi_task *task, const struct xcopy_segment *seg)
{
	struct task_state *st = task_state(task);
	uint64_t src_lba, dst_lba;
	uint32_t n;
	next_piece(seg, job_of(st)->done_blocks, MAX_IO_BLOCKS, &src_lba, &dst_lba, &n);
	st->cursor = n; /* piece_done reads it back */
	count_on(st, seg->dst, seg->src);
	io_copy(task, dst_lba, seg->src->volume_id, src_lba, n, piece_done);
}

/* The next piece of the current segment, between pools: read into the
 * bounce buffer, then bounce_write. */
static void bounce_piece(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct xcopy_job *job = job_with_bounce(st);
	uint64_t src_lba;
	uint32_t n;
	if (!job) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	const struct xcopy_segment *seg = &job->seg[job->current];
	next_piece(seg, job->done_blocks, BOUNCE_BLOCKS, &src_lba, &job->bounce_dst_lba, &n);
	st->cursor = n;
	count_on(st, seg->src, seg->dst);
	io_run(task, COWSTORE_OP_READ, 0, src_lba, n, job->bounce, bounce_write);
}

static void copy_next(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	struct xcopy_job *job = job_of(st);
	while (job->current < job->nsegments && job->seg[job->current].nblocks == 0) {
		job->current++;
		if (job->slot)
			job->slot->segments_done++;
	}
	if (job->current == job->nsegments) {
		task->status = SCSI_STATUS_GOOD;
		task_finish(task);
		return;
	}
	const struct xcopy_segment *seg = &job->seg[job->current];
	if (!reachable(seg)) {
		copy_aborted(task, ASC_UNREACHABLE_COPY_TARGET);
		task_finish(task);
		return;
	}
	if (lun_held(seg->src) || lun_held(seg->dst)) {
		count_on(st, NULL, NULL);
		hold_wait(task, copy_next);
		return;
	}
	if (same_pool(seg))
		copy_piece(task, seg);
	else
		bounce_piece(task); /* may move the job: seg is stale after */
}

void spc_extended_copy(struct scsi_task *task)
{
	struct task_state *st = task_state(task);
	uint32_t list_len = get_be32(task->cdb + 10);
	struct xcopy_job *job = calloc(1, sizeof(*job));
	if (!job) {
		task_fail_errno(task, -ENOMEM, 0);
		return;
	}
	st->scratch = (uint8_t *)job;
	if (!parse_list(task, list_len, job)) {
		task_finish(task);
		return;
	}
	uint8_t list_id = task->data[0], usage = (task->data[1] >> 3) & 3;
	if (usage != LIST_ID_USAGE_NONE) {
		if (!(job->slot = claim_slot(st->t, task->nexus_id, list_id))) {
			copy_aborted(task, ASC_INSUFFICIENT_RESOURCES);
			task_finish(task);
			return;
		}
		job->slot->task = task;
		job->slot->transport_done = task->done;
		task->done = xcopy_done;
	}
	copy_next(task);
}

/* ---- RECEIVE COPY RESULTS ------------------------------------------------- */

void spc_copy_status(struct scsi_task *task)
{
	uint8_t resp[12] = { 0 };
	struct xcopy_slot *s = find_slot(task_state(task)->t, task->nexus_id, task->cdb[2]);
	if (!s) {
		task_bad_cdb(task, 2, -1); /* no copy with that list identifier */
		task_finish(task);
		return;
	}
	uint64_t bytes = s->transfer_blocks * BLOCK_BYTES;
	bool in_kib = bytes > UINT32_MAX;
	put_be32(resp, sizeof(resp) - 4);
	resp[4] = s->task ? 0x00 : s->status; /* 00h: in progress */
	put_be16(resp + 5, (uint16_t)s->segments_done);
	resp[7] = in_kib ? 0xf1 : 0x00;         /* TRANSFER COUNT UNITS: KiB or bytes */
	put_be32(resp + 8, (uint32_t)(in_kib ? bytes >> 10 : bytes));
	task_data_in(task, resp, sizeof(resp), get_be32(task->cdb + 10));
}

void spc_copy_operating_parameters(struct scsi_task *task)
{
	uint8_t resp[46] = { 0 };
	put_be32(resp, sizeof(resp) - 4);
	put_be16(resp + 8, MAX_CSCD);
	put_be16(resp + 10, MAX_SEGMENTS);
	put_be32(resp + 12, MAX_DESC_LIST_BYTES);
	put_be32(resp + 16, MAX_SEGMENT_BLOCKS * BLOCK_BYTES);
	put_be16(resp + 34, XCOPY_SLOTS); /* total concurrent copies */
	resp[36] = XCOPY_SLOTS;           /* maximum concurrent copies */
	resp[37] = 9;                     /* data segment granularity: 2^9 bytes */
	resp[43] = 2;                     /* implemented descriptor types: */
	resp[44] = SEGMENT_BLOCK_TO_BLOCK;
	resp[45] = CSCD_IDENTIFICATION;
	task_data_in(task, resp, sizeof(resp), get_be32(task->cdb + 10));
}

/* ---- Third-party Copy VPD page (SPC-4 7.8.17) ----------------------------- */

uint32_t xcopy_vpd_page(uint8_t *d)
{
	uint8_t *p = d + 4;
	/* Supported commands: EXTENDED COPY(LID1); RECEIVE COPY RESULTS status
	 * and operating parameters. */
	static const uint8_t commands[] = { 0x83, 1, 0x00, 0x84, 2, 0x00, 0x03 };
	put_be16(p, 0x0001);
	put_be16(p + 2, 8);
	p[4] = sizeof(commands);
	memcpy(p + 5, commands, sizeof(commands));
	p += 12;
	put_be16(p, 0x0004);                  /* parameter data */
	put_be16(p + 2, 0x1c);
	put_be16(p + 8, MAX_CSCD);
	put_be16(p + 10, MAX_SEGMENTS);
	put_be32(p + 12, MAX_DESC_LIST_BYTES);
	p += 32;
	put_be16(p, 0x0008);                  /* supported descriptors */
	put_be16(p + 2, 4);
	p[4] = 2;
	p[5] = SEGMENT_BLOCK_TO_BLOCK;
	p[6] = CSCD_IDENTIFICATION;
	p += 8;
	put_be16(p, 0x000c);                  /* supported CSCD IDs: none */
	put_be16(p + 2, 4);
	p += 8;
	put_be16(p, 0x8001);                  /* general copy operations */
	put_be16(p + 2, 0x20);
	put_be32(p + 4, XCOPY_SLOTS);
	put_be32(p + 8, XCOPY_SLOTS);
	put_be32(p + 12, MAX_SEGMENT_BLOCKS * BLOCK_BYTES);
	p[16] = 9;                            /* data segment granularity */
	p += 36;
	return (uint32_t)(p - d);
}
