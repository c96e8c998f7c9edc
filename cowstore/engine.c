/*
 * engine.c - the store thread, the sync thread and the queues between them
 * and the callers.
 *
 * Threads: callers append requests to cs->submitted under sub_lock and kick
 * wake_fd; the store thread owns everything else (metadata, allocation,
 * io_uring) and runs requests in submission order, except that a request
 * waits while an earlier one overlapping its blocks (with a writer among the
 * two) is unfinished.  Management work runs as a control request; one that
 * frees space (quiesce) waits until no IO is in flight (including IO that
 * the emulated device of emulation.c still holds back).  The sync thread
 * does fdatasync(data) then a RocksDB WAL sync, so flushes from many writers
 * share one sync (group commit); freed blocks become reusable only after
 * the sync that covers the metadata that freed them.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cowstore/internal.h"

#define RING_ENTRIES 256
#define WAKE_TAG 1ull
#define PENDING_RUNS_SYNC 4096 /* start a sync when this many freed runs wait, */
#define PENDING_BLOCKS_SYNC 16384u /* or this many freed blocks (64 MiB): rewrites
				    * then reuse space the file already has */
#define JOURNAL_CHECKPOINT_BYTES (64u << 20)

/* ---- lists ----------------------------------------------------------- */

static void list_push(struct io_list *l, struct cowstore_io_state *st)
{
	st->next = NULL;
	if (l->tail)
		l->tail->next = st;
	else
		l->head = st;
	l->tail = st;
}

static void list_remove(struct io_list *l, struct cowstore_io_state *st)
{
	struct cowstore_io_state **pp = &l->head, *prev = NULL;
	while (*pp && *pp != st) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = st->next;
	if (l->tail == st)
		l->tail = prev;
	st->next = NULL;
}

/* ---- events ---------------------------------------------------------- */

void emit_event(struct cowstore *cs, enum cowstore_event_type type, uint64_t volume_id,
		uint64_t snapshot_id, uint64_t lba, uint64_t pblock, const char *fmt, ...)
{
	struct cowstore_event ev = { type, volume_id, snapshot_id, lba, pblock, "" };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
	va_end(ap);
	if (cs->event_fn)
		cs->event_fn(cs->event_arg, &ev);
}

void cowstore_set_event_handler(struct cowstore *cs, cowstore_event_fn fn, void *arg)
{
	cs->event_fn = fn;
	cs->event_arg = arg;
}

void check_soft_threshold(struct cowstore *cs)
{
	bool over = cs->alloc.used * 100 >= (uint64_t)cs->soft_threshold_pct * cs->alloc.nblocks;
	if (over && !cs->soft_crossed)
		emit_event(cs, COWSTORE_EVENT_SOFT_THRESHOLD, 0, 0, 0, 0,
			   "pool %s is %llu%% allocated (soft threshold %u%%)", cs->dir,
			   (unsigned long long)(cs->alloc.used * 100 / cs->alloc.nblocks),
			   cs->soft_threshold_pct);
	cs->soft_crossed = over;
}

/* ---- completion queues ----------------------------------------------- */

static void queue_init(struct cowstore_queue *q, struct cowstore *cs, int efd)
{
	memset(q, 0, sizeof(*q));
	q->cs = cs;
	q->efd = efd;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
}

static void queue_fini(struct cowstore_queue *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	if (q->efd >= 0)
		close(q->efd);
}

int cowstore_queue_create(struct cowstore *cs, struct cowstore_queue **out)
{
	if (!cs || !out)
		return -EINVAL;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	struct cowstore_queue *q = malloc(sizeof(*q));
	if (!q) {
		close(efd);
		return -ENOMEM;
	}
	queue_init(q, cs, efd);
	*out = q;
	return 0;
}

int cowstore_queue_fd(const struct cowstore_queue *q) { return q->efd; }

void cowstore_queue_destroy(struct cowstore_queue *q)
{
	if (!q)
		return;
	queue_fini(q);
	free(q);
}

static void queue_push(struct cowstore_queue *q, struct cowstore_io_state *st)
{
	/* Once unlocked, a private queue may already be gone: read efd first. */
	pthread_mutex_lock(&q->lock);
	bool was_empty = !q->done.head;
	int efd = q->efd;
	list_push(&q->done, st);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (was_empty && efd >= 0) {
		uint64_t one = 1;
		if (write(efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow here; nothing to do */
		}
	}
}

int cowstore_queue_reap(struct cowstore_queue *q, unsigned max)
{
	uint64_t count;
	int ran = 0;
	if (q->efd >= 0 && read(q->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing was signalled since the last reap */
	}
	pthread_mutex_lock(&q->lock);
	struct cowstore_io_state *st = q->done.head;
	q->done.head = q->done.tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while (st) {
		struct cowstore_io_state *next = st->next;
		struct cowstore_io *io = st->io;
		if (max && (unsigned)ran == max) { /* put the rest back, in order */
			pthread_mutex_lock(&q->lock);
			struct cowstore_io_state *tail = st;
			while (tail->next)
				tail = tail->next;
			tail->next = q->done.head;
			if (!q->done.head)
				q->done.tail = tail;
			q->done.head = st;
			pthread_mutex_unlock(&q->lock);
			if (q->efd >= 0) {
				uint64_t one = 1;
				if (write(q->efd, &one, sizeof(one)) < 0) {
					/* see queue_push */
				}
			}
			break;
		}
		io_state_free(st);
		io->state = NULL;
		if (io->done)
			io->done(io);
		ran++;
		st = next;
	}
	return ran;
}

int cowstore_queue_wait(struct cowstore_queue *q, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&q->lock);
	while (!q->done.head && rc == 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->cond, &q->lock);
		else if (timeout_ms == 0)
			rc = ETIMEDOUT;
		else
			rc = pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
	}
	pthread_mutex_unlock(&q->lock);
	return rc ? -ETIMEDOUT : 0;
}

/* ---- submission ------------------------------------------------------ */

static void wake_store(struct cowstore *cs)
{
	uint64_t one = 1;
	if (write(cs->wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd write fails only on counter overflow: already awake */
	}
}

static void submit_state(struct cowstore *cs, struct cowstore_io_state *st)
{
	pthread_mutex_lock(&cs->sub_lock);
	bool was_empty = !cs->submitted.head;
	list_push(&cs->submitted, st);
	pthread_mutex_unlock(&cs->sub_lock);
	if (was_empty)
		wake_store(cs);
}

int cowstore_submit(struct cowstore *cs, struct cowstore_io *io)
{
	if (!cs || !io || !io->queue)
		return -EINVAL;
	bool needs_buf = io->op == COWSTORE_OP_READ || io->op == COWSTORE_OP_WRITE;
	if ((unsigned)io->op > COWSTORE_OP_COPY || (needs_buf && !io->buf) ||
	    (io->op != COWSTORE_OP_FLUSH && io->nsectors == 0) ||
	    (uint64_t)io->nsectors * COWSTORE_SECTOR_SIZE > COWSTORE_MAX_IO_BYTES ||
	    (io->snapshot_id && io->op != COWSTORE_OP_READ) ||
	    (io->flags & ~COWSTORE_IO_FUA))
		return -EINVAL;
	struct cowstore_io_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->io = io;
	io->state = st;
	io->result = 0;
	io->error_lba = 0;
	io_set_locks(st);
	submit_state(cs, st);
	return 0;
}

int cowstore_io_fail(struct cowstore_io *io, int result)
{
	if (!io || !io->queue || result >= 0)
		return -EINVAL;
	struct cowstore_io_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->io = io;
	io->state = st;
	io->result = result;
	io->error_lba = 0;
	queue_push(io->queue, st);
	return 0;
}

/* Submit on a private queue and wait for the result (any thread but the
 * store thread). */
static int submit_wait(struct cowstore *cs, struct cowstore_io *io,
		       struct cowstore_io_state *prepared)
{
	struct cowstore_queue q;
	int rc;
	queue_init(&q, cs, -1);
	io->queue = &q;
	if (prepared) {
		prepared->io = io;
		io->state = prepared;
		submit_state(cs, prepared);
		rc = 0;
	} else {
		rc = cowstore_submit(cs, io);
	}
	if (rc == 0) {
		cowstore_queue_wait(&q, -1);
		cowstore_queue_reap(&q, 0);
		rc = io->result;
	}
	queue_fini(&q);
	return rc;
}

int engine_control(struct cowstore *cs, control_fn fn, void *arg, bool quiesce)
{
	struct cowstore_io io = { .op = COWSTORE_OP_FLUSH };
	if (!cs)
		return -EINVAL;
	struct cowstore_io_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->control = fn;
	st->control_arg = arg;
	st->quiesce = quiesce;
	return submit_wait(cs, &io, st);
}

static int sync_io(struct cowstore *cs, struct cowstore_io *io)
{
	return cs ? submit_wait(cs, io, NULL) : -EINVAL;
}

int cowstore_read(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		  void *buf)
{
	struct cowstore_io io = { .op = COWSTORE_OP_READ, .volume_id = volume_id, .lba = lba,
				  .nsectors = nsectors, .buf = buf };
	return sync_io(cs, &io);
}

int cowstore_read_snapshot(struct cowstore *cs, uint64_t snap_id, uint64_t lba,
			   uint32_t nsectors, void *buf)
{
	struct cowstore_io io = { .op = COWSTORE_OP_READ, .snapshot_id = snap_id, .lba = lba,
				  .nsectors = nsectors, .buf = buf };
	return snap_id ? sync_io(cs, &io) : -EINVAL;
}

int cowstore_write(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors,
		   const void *buf, unsigned flags)
{
	struct cowstore_io io = { .op = COWSTORE_OP_WRITE, .volume_id = volume_id, .lba = lba,
				  .nsectors = nsectors, .buf = (void *)buf, .flags = flags };
	return sync_io(cs, &io);
}

int cowstore_write_zeroes(struct cowstore *cs, uint64_t volume_id, uint64_t lba,
			  uint32_t nsectors)
{
	struct cowstore_io io = { .op = COWSTORE_OP_WRITE_ZEROES, .volume_id = volume_id,
				  .lba = lba, .nsectors = nsectors };
	return sync_io(cs, &io);
}

int cowstore_discard(struct cowstore *cs, uint64_t volume_id, uint64_t lba, uint32_t nsectors)
{
	struct cowstore_io io = { .op = COWSTORE_OP_DISCARD, .volume_id = volume_id, .lba = lba,
				  .nsectors = nsectors };
	return sync_io(cs, &io);
}

int cowstore_copy(struct cowstore *cs, uint64_t dst_volume_id, uint64_t dst_lba,
		  uint64_t src_volume_id, uint64_t src_lba, uint32_t nsectors)
{
	struct cowstore_io io = { .op = COWSTORE_OP_COPY, .volume_id = dst_volume_id,
				  .lba = dst_lba, .src_volume_id = src_volume_id,
				  .src_lba = src_lba, .nsectors = nsectors };
	return sync_io(cs, &io);
}

int cowstore_flush(struct cowstore *cs)
{
	struct cowstore_io io = { .op = COWSTORE_OP_FLUSH };
	return sync_io(cs, &io);
}

/* ---- completion (store thread) --------------------------------------- */

void io_complete(struct cowstore *cs, struct cowstore_io_state *st, int result)
{
	st->io->result = result;
	free(st->map);
	free(st->bounce);
	free(st->copybuf);
	st->map = NULL;
	st->bounce = st->copybuf = NULL;
	if (st->emu_admitted) { /* the emulated device delivers it (emulation.c) */
		st->emu_done = true;
		st->wants_sync = false; /* a sync finishing later must not complete it again */
		return;
	}
	io_deliver(cs, st);
}

void io_deliver(struct cowstore *cs, struct cowstore_io_state *st)
{
	list_remove(&cs->inflight, st);
	cs->ninflight--;
	queue_push(st->io->queue, st);
}

void io_state_free(struct cowstore_io_state *st)
{
	free(st->map);
	free(st->bounce);
	free(st->copybuf);
	free(st);
}

/* ---- syncs ----------------------------------------------------------- */

static int sync_data_and_meta(struct cowstore *cs)
{
	if (fdatasync(cs->data_fd) < 0 || fdatasync(cs->crc_fd) < 0 ||
	    fdatasync(cs->journal.fd) < 0)
		return -errno;
	return 0;
}

static void *sync_main(void *arg)
{
	struct cowstore *cs = arg;
	struct sync_state *s = &cs->sync;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->requested && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		s->requested = false;
		pthread_mutex_unlock(&s->lock);
		int rc = sync_data_and_meta(cs);
		pthread_mutex_lock(&s->lock);
		s->result = rc;
		s->finished = true;
		pthread_cond_broadcast(&s->cond);
		wake_store(cs);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void request_durability(struct cowstore *cs, struct cowstore_io_state *st)
{
	st->wants_sync = true;
	st->need_epoch = cs->syncs_started + 1;
	cs->sync_needed = true;
}

static void start_sync(struct cowstore *cs)
{
	cs->sync_needed = false;
	cs->sync_running = true;
	cs->syncs_started++;
	cs->alloc.sealed = cs->alloc.npending;
	cs->syncing_plog_seq = cs->plog ? plog_last_seq(cs->plog) : 0;
	cs->syncing_journal_seq = cs->journal.seq;
	pthread_mutex_lock(&cs->sync.lock);
	cs->sync.requested = true;
	pthread_cond_signal(&cs->sync.cond);
	pthread_mutex_unlock(&cs->sync.lock);
}

static void sync_finished(struct cowstore *cs, int rc)
{
	cs->sync_running = false;
	if (rc == 0) {
		alloc_release_pending(&cs->alloc, cs->alloc.sealed);
		if (cs->plog)
			plog_mark_synced(cs->plog, cs->syncing_plog_seq);
		rc = journal_synced(&cs->journal, cs->syncing_journal_seq);
	}
	for (struct cowstore_io_state *st = cs->inflight.head, *next; st; st = next) {
		next = st->next;
		if (st->wants_sync && st->need_epoch <= cs->syncs_started)
			io_complete(cs, st, rc);
	}
}

/* Take a finished background sync's result, if there is one. */
static void poll_sync(struct cowstore *cs, bool wait)
{
	int rc;
	pthread_mutex_lock(&cs->sync.lock);
	while (wait && cs->sync_running && !cs->sync.finished)
		pthread_cond_wait(&cs->sync.cond, &cs->sync.lock);
	bool finished = cs->sync.finished;
	cs->sync.finished = false;
	rc = cs->sync.result;
	pthread_mutex_unlock(&cs->sync.lock);
	if (finished)
		sync_finished(cs, rc);
}

void commit_later(struct cowstore *cs, struct cowstore_io_state *st, bool sync_after)
{
	st->sync_after_commit = sync_after;
	st->commit_next = cs->committing;
	cs->committing = st;
}

void flush_batch(struct cowstore *cs)
{
	struct cowstore_io_state *st = cs->committing;
	if (!st && !journal_pending(&cs->journal))
		return;
	int rc = journal_commit(&cs->journal);
	cs->committing = NULL;
	if (rc)
		cs->failed = true; /* memory and allocation are ahead of the metadata */
	while (st) {
		struct cowstore_io_state *next = st->commit_next;
		if (!rc && st->sync_after_commit)
			request_durability(cs, st);
		else
			io_complete(cs, st, rc);
		st = next;
	}
}

int store_sync_now(struct cowstore *cs)
{
	flush_batch(cs); /* the frees it releases must be in the synced log */
	poll_sync(cs, true);
	int rc = sync_data_and_meta(cs);
	if (rc == 0) {
		alloc_release_pending(&cs->alloc, cs->alloc.npending);
		if (cs->plog)
			plog_mark_synced(cs->plog, plog_last_seq(cs->plog));
		rc = journal_synced(&cs->journal, cs->journal.seq);
	}
	return rc;
}

/* ---- the store thread ------------------------------------------------ */

struct io_uring_sqe *get_sqe(struct cowstore *cs)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&cs->ring);
	while (!sqe) {
		io_uring_submit(&cs->ring);
		sqe = io_uring_get_sqe(&cs->ring);
	}
	return sqe;
}

static void arm_wake(struct cowstore *cs)
{
	struct io_uring_sqe *sqe = get_sqe(cs);
	io_uring_prep_poll_add(sqe, cs->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, WAKE_TAG);
}

static bool ranges_conflict(uint64_t id_a, uint64_t a0, uint64_t a1, bool wa, uint64_t id_b,
			    uint64_t b0, uint64_t b1, bool wb)
{
	return id_a && id_a == id_b && (wa || wb) && a0 < b1 && b0 < a1;
}

static bool conflicts(const struct cowstore_io_state *a, const struct cowstore_io_state *b)
{
	if (a->control || b->control)
		return false;
	return ranges_conflict(a->lock_id, a->b0, a->b1, a->writer, b->lock_id, b->b0, b->b1,
			       b->writer) ||
	       ranges_conflict(a->src_lock_id, a->src_b0, a->src_b1, false, b->lock_id, b->b0,
			       b->b1, b->writer) ||
	       ranges_conflict(a->lock_id, a->b0, a->b1, a->writer, b->src_lock_id, b->src_b0,
			       b->src_b1, false);
}

static bool blocked(struct cowstore *cs, struct cowstore_io_state *st)
{
	for (struct cowstore_io_state *o = cs->inflight.head; o; o = o->next)
		if (conflicts(st, o))
			return true;
	for (struct cowstore_io_state *o = cs->waiting.head; o && o != st; o = o->next)
		if (conflicts(st, o))
			return true;
	return false;
}

/* Control work reads and writes RocksDB directly: the requests that free
 * space start from a checkpoint, and commit (synced) what they change. */
static void run_control(struct cowstore *cs, struct cowstore_io_state *st)
{
	int rc = 0;
	flush_batch(cs);
	list_push(&cs->inflight, st);
	cs->ninflight++;
	if (st->quiesce)
		rc = checkpoint(cs);
	cs->ctl_wb = rocksdb_writebatch_create();
	cs->ctl_heads = st->quiesce;
	if (!rc)
		rc = st->control(cs, st->control_arg);
	if (!rc && rocksdb_writebatch_count(cs->ctl_wb))
		rc = control_commit(cs);
	rocksdb_writebatch_destroy(cs->ctl_wb);
	cs->ctl_wb = NULL;
	io_complete(cs, st, rc);
}

static void dispatch(struct cowstore *cs)
{
	for (struct cowstore_io_state *st = cs->waiting.head, *next; st; st = next) {
		next = st->next;
		if (st->control) {
			if (st->quiesce && cs->ninflight)
				return; /* nothing after it may start either */
			list_remove(&cs->waiting, st);
			run_control(cs, st);
			continue;
		}
		if (blocked(cs, st))
			continue;
		list_remove(&cs->waiting, st);
		list_push(&cs->inflight, st);
		cs->ninflight++;
		if (cs->failed)
			io_complete(cs, st, -EIO);
		else
			io_start(cs, st);
	}
}

static void drain_submitted(struct cowstore *cs)
{
	pthread_mutex_lock(&cs->sub_lock);
	struct cowstore_io_state *st = cs->submitted.head;
	cs->submitted.head = cs->submitted.tail = NULL;
	pthread_mutex_unlock(&cs->sub_lock);
	while (st) {
		struct cowstore_io_state *next = st->next;
		list_push(&cs->waiting, st);
		st = next;
	}
}

static void reap_cqes(struct cowstore *cs)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&cs->ring, head, cqe) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		seen++;
		if (tag == EMU_TIMER_TAG) {
			emulation_timer_fired(cs);
			continue;
		}
		if (tag == WAKE_TAG) {
			uint64_t count;
			if (read(cs->wake_fd, &count, sizeof(count)) < 0) {
				/* EAGAIN: woken by a poll that raced a read */
			}
			arm_wake(cs);
			continue;
		}
		io_uring_done(cs, (struct cowstore_io_state *)(uintptr_t)tag, res);
	}
	io_uring_cq_advance(&cs->ring, seen);
}

static int stop_control(struct cowstore *cs, void *arg)
{
	cs->stopping = true;
	return 0; /* quiesced: the checkpoint before it left everything in RocksDB */
}

static void *store_main(void *arg)
{
	struct cowstore *cs = arg;
	arm_wake(cs);
	emulation_arm_poll(cs);
	for (;;) {
		drain_submitted(cs);
		poll_sync(cs, false);
		dispatch(cs);
		flush_batch(cs);
		/* Requests the emulated device lets go may unblock waiting ones. */
		while (emulation_release(cs) && cs->waiting.head) {
			dispatch(cs);
			flush_batch(cs);
		}
		if (cs->journal.size > JOURNAL_CHECKPOINT_BYTES && !cs->failed)
			checkpoint(cs);
		if (!cs->sync_running &&
		    (cs->sync_needed || cs->alloc.npending > PENDING_RUNS_SYNC ||
		     cs->alloc.pending_blocks > PENDING_BLOCKS_SYNC))
			start_sync(cs);
		if (cs->stopping && !cs->ninflight && !cs->waiting.head)
			break;
		io_uring_submit_and_wait(&cs->ring, 1);
		reap_cqes(cs);
		flush_batch(cs);
	}
	poll_sync(cs, true);
	return NULL;
}

int engine_start(struct cowstore *cs)
{
	int rc = emulation_init(cs);
	if (rc < 0)
		return rc;
	rc = io_uring_queue_init(RING_ENTRIES, &cs->ring, 0);
	if (rc < 0) {
		emulation_fini(cs);
		return rc;
	}
	cs->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cs->wake_fd < 0) {
		rc = -errno;
		io_uring_queue_exit(&cs->ring);
		emulation_fini(cs);
		return rc;
	}
	pthread_mutex_init(&cs->sub_lock, NULL);
	pthread_mutex_init(&cs->sync.lock, NULL);
	pthread_cond_init(&cs->sync.cond, NULL);
	rc = -pthread_create(&cs->sync.thread, NULL, sync_main, cs);
	if (rc)
		goto fail;
	rc = -pthread_create(&cs->thread, NULL, store_main, cs);
	if (rc) {
		pthread_mutex_lock(&cs->sync.lock);
		cs->sync.stop = true;
		pthread_cond_signal(&cs->sync.cond);
		pthread_mutex_unlock(&cs->sync.lock);
		pthread_join(cs->sync.thread, NULL);
		goto fail;
	}
	return 0;
fail:
	close(cs->wake_fd);
	io_uring_queue_exit(&cs->ring);
	emulation_fini(cs);
	return rc;
}

void engine_stop(struct cowstore *cs)
{
	engine_control(cs, stop_control, NULL, true);
	pthread_join(cs->thread, NULL);
	pthread_mutex_lock(&cs->sync.lock);
	cs->sync.stop = true;
	pthread_cond_signal(&cs->sync.cond);
	pthread_mutex_unlock(&cs->sync.lock);
	pthread_join(cs->sync.thread, NULL);
	close(cs->wake_fd);
	io_uring_queue_exit(&cs->ring);
	emulation_fini(cs);
}
