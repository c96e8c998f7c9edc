/*
 * emulation.c - the EMULATED DEVICE, for tests and benchmarks only: a model
 * of a slower device in front of the real data path (see cowstore.h for the
 * model), so that a pool on tmpfs can be contended on purpose.
 *
 * How it delays without blocking: io_start() admits each READ and WRITE
 * (emulation_admit) and gives it its finish time from the model; the real
 * IO runs at once.  When it finishes, io_complete() only marks it done; the
 * store loop then calls emulation_release(), which hands the admitted
 * requests to their queues in order of finish time, each once it is both
 * done and due, and sets a timerfd (polled through the ring like wake_fd)
 * for the next one.  Until delivered, a request stays in flight: its range
 * lock holds and quiesced control requests wait for it.
 *
 * Ownership: the model (model, channel_free_ns, the admitted list) is the
 * store thread's; `setting` is what the pool stores, under emu.lock, which
 * also serializes cowstore_emulation_set() calls.  Lock order: emu.lock,
 * then the store thread (set holds it across its control request).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cowstore/internal.h"

#define RECORD_MAX 160

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool setting_valid(const struct cowstore_emulation *e)
{
	return !e->on || (e->channels >= 1 && e->channels <= COWSTORE_EMULATION_MAX_CHANNELS &&
			  e->fixed_us <= COWSTORE_EMULATION_MAX_FIXED_US);
}

void cowstore_emulation_describe(const struct cowstore_emulation *e, char *buf, size_t len)
{
	char iops[48] = "no IOPS cap";
	if (!e || !e->on) {
		snprintf(buf, len, "off");
		return;
	}
	if (e->max_iops)
		snprintf(iops, sizeof(iops), "at most %" PRIu32 " IOPS", e->max_iops);
	if (e->bytes_per_s)
		snprintf(buf, len, "%" PRIu32 " channel%s, %" PRIu32 " us + size / %" PRIu64
			 " B/s per request, %s", e->channels, e->channels == 1 ? "" : "s",
			 e->fixed_us, e->bytes_per_s, iops);
	else
		snprintf(buf, len, "%" PRIu32 " channel%s, %" PRIu32 " us per request, %s",
			 e->channels, e->channels == 1 ? "" : "s", e->fixed_us, iops);
}

/* ---- the stored record: "channels=N fixed_us=U bytes_per_s=B max_iops=I" */

static size_t record_format(const struct cowstore_emulation *e, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "channels=%" PRIu32 " fixed_us=%" PRIu32 " bytes_per_s=%" PRIu64
			 " max_iops=%" PRIu32, e->channels, e->fixed_us, e->bytes_per_s,
			 e->max_iops);
	return n > 0 ? (size_t)n : 0;
}

/* Words it does not know are skipped (a newer writer's additions); a word
 * it knows must hold a whole number. */
static int record_parse(const char *value, size_t len, struct cowstore_emulation *e)
{
	char text[RECORD_MAX + 1], *save = NULL;
	if (len > RECORD_MAX)
		return -EUCLEAN;
	memcpy(text, value, len);
	text[len] = 0;
	memset(e, 0, sizeof(*e));
	e->on = 1;
	for (char *word = strtok_r(text, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(word, '='), *end;
		if (!eq || !eq[1])
			return -EUCLEAN;
		*eq = 0;
		errno = 0;
		unsigned long long v = strtoull(eq + 1, &end, 10);
		if (*end || errno || eq[1] == '-')
			return -EUCLEAN;
		if (!strcmp(word, "channels") && v <= UINT32_MAX)
			e->channels = (uint32_t)v;
		else if (!strcmp(word, "fixed_us") && v <= UINT32_MAX)
			e->fixed_us = (uint32_t)v;
		else if (!strcmp(word, "bytes_per_s"))
			e->bytes_per_s = v;
		else if (!strcmp(word, "max_iops") && v <= UINT32_MAX)
			e->max_iops = (uint32_t)v;
		else if (!strcmp(word, "channels") || !strcmp(word, "fixed_us") ||
			 !strcmp(word, "max_iops"))
			return -EUCLEAN;
	}
	return setting_valid(e) ? 0 : -EUCLEAN;
}

/* ---- applying a setting (store thread) -------------------------------- */

static int apply_model(struct cowstore *cs, void *arg)
{
	const struct cowstore_emulation *e = arg;
	struct emulation *m = &cs->emu;
	if (e->on) {
		uint64_t *channels = calloc(e->channels, sizeof(*channels));
		if (!channels)
			return -ENOMEM;
		free(m->channel_free_ns);
		m->channel_free_ns = channels;
	} else {
		free(m->channel_free_ns);
		m->channel_free_ns = NULL;
	}
	m->model = *e;
	m->next_start_ns = 0;
	return 0; /* admitted requests keep their finish times */
}

int cowstore_emulation_set(struct cowstore *cs, const struct cowstore_emulation *e)
{
	char record[RECORD_MAX];
	if (!cs || !e || !setting_valid(e))
		return -EINVAL;
	struct cowstore_emulation s = { 0 };
	if (e->on)
		s = *e;
	s.on = !!e->on;
	pthread_mutex_lock(&cs->emu.lock);
	int rc;
	if (s.on)
		rc = cowstore_config_put(cs, COWSTORE_EMULATION_KEY, record,
					 record_format(&s, record, sizeof(record)));
	else if ((rc = cowstore_config_delete(cs, COWSTORE_EMULATION_KEY)) == -ENOENT)
		rc = 0;
	if (!rc)
		rc = engine_control(cs, apply_model, &s, false);
	if (!rc)
		cs->emu.setting = s;
	pthread_mutex_unlock(&cs->emu.lock);
	return rc;
}

int cowstore_emulation_get(struct cowstore *cs, struct cowstore_emulation *e)
{
	if (!cs || !e)
		return -EINVAL;
	pthread_mutex_lock(&cs->emu.lock);
	*e = cs->emu.setting;
	pthread_mutex_unlock(&cs->emu.lock);
	return 0;
}

int emulation_load(struct cowstore *cs, struct cowstore_err *err)
{
	struct cowstore_emulation e;
	void *value;
	size_t len;
	int rc = cowstore_config_get(cs, COWSTORE_EMULATION_KEY, &value, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		set_err(err, "%s: cannot read the emulated device setting: %s", cs->dir,
			strerror(-rc));
		return rc;
	}
	rc = record_parse(value, len, &e);
	if (rc)
		set_err(err, "%s: the emulated device setting (record %s: '%.*s') is not valid",
			cs->dir, COWSTORE_EMULATION_KEY, len > RECORD_MAX ? RECORD_MAX : (int)len,
			(const char *)value);
	free(value);
	if (!rc)
		rc = engine_control(cs, apply_model, &e, false);
	if (!rc)
		cs->emu.setting = e;
	return rc;
}

/* ---- the model (store thread) ------------------------------------------ */

void emulation_admit(struct cowstore *cs, struct cowstore_io_state *st)
{
	struct emulation *m = &cs->emu;
	const struct cowstore_emulation *e = &m->model;
	enum cowstore_op op = st->io->op;
	if (op != COWSTORE_OP_READ && op != COWSTORE_OP_WRITE)
		return;
	uint64_t now = mono_ns(), bytes = (uint64_t)st->io->nsectors * COWSTORE_SECTOR_SIZE;
	uint32_t c = 0;
	for (uint32_t i = 1; i < e->channels; i++)
		if (m->channel_free_ns[i] < m->channel_free_ns[c])
			c = i;
	uint64_t start = m->channel_free_ns[c] > now ? m->channel_free_ns[c] : now;
	if (e->max_iops) {
		if (m->next_start_ns > start)
			start = m->next_start_ns;
		m->next_start_ns = start + 1000000000ull / e->max_iops;
	}
	uint64_t service = (uint64_t)e->fixed_us * 1000u;
	if (e->bytes_per_s) /* bytes <= 8 MiB: no overflow */
		service += bytes * 1000000000ull / e->bytes_per_s;
	st->emu_due_ns = start + service;
	m->channel_free_ns[c] = st->emu_due_ns;
	st->emu_admitted = true;
	st->emu_done = false;

	/* Insert by finish time, after equal ones; usually at the tail. */
	struct cowstore_io_state **pp = &m->admitted, *prev = NULL;
	if (m->admitted_tail && m->admitted_tail->emu_due_ns <= st->emu_due_ns) {
		prev = m->admitted_tail;
		pp = &prev->emu_next;
	} else {
		while (*pp && (*pp)->emu_due_ns <= st->emu_due_ns) {
			prev = *pp;
			pp = &(*pp)->emu_next;
		}
	}
	st->emu_next = *pp;
	*pp = st;
	if (!st->emu_next)
		m->admitted_tail = st;
}

static void arm_timer(struct emulation *m, uint64_t due_ns)
{
	if (m->armed_ns == due_ns)
		return;
	struct itimerspec its = { .it_value = { (time_t)(due_ns / 1000000000ull),
						(long)(due_ns % 1000000000ull) } };
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		m->armed_ns = due_ns;
}

unsigned emulation_release(struct cowstore *cs)
{
	struct emulation *m = &cs->emu;
	unsigned delivered = 0;
	if (!m->admitted)
		return 0;
	uint64_t now = mono_ns();
	while (m->admitted && m->admitted->emu_done && m->admitted->emu_due_ns <= now) {
		struct cowstore_io_state *st = m->admitted;
		m->admitted = st->emu_next;
		if (!m->admitted)
			m->admitted_tail = NULL;
		st->emu_next = NULL;
		st->emu_admitted = false;
		io_deliver(cs, st);
		delivered++;
	}
	/* The head not done yet: its completion comes back through the loop. */
	if (m->admitted && m->admitted->emu_done)
		arm_timer(m, m->admitted->emu_due_ns);
	return delivered;
}

void emulation_arm_poll(struct cowstore *cs)
{
	struct io_uring_sqe *sqe = get_sqe(cs);
	io_uring_prep_poll_add(sqe, cs->emu.timer_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, EMU_TIMER_TAG);
}

void emulation_timer_fired(struct cowstore *cs)
{
	uint64_t expirations;
	if (read(cs->emu.timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: already read, or re-armed later since */
	}
	cs->emu.armed_ns = 0;
	emulation_arm_poll(cs);
}

/* ---- lifetime ------------------------------------------------------------ */

int emulation_init(struct cowstore *cs)
{
	struct emulation *m = &cs->emu;
	memset(m, 0, sizeof(*m));
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0)
		return -errno;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void emulation_fini(struct cowstore *cs)
{
	struct emulation *m = &cs->emu;
	free(m->channel_free_ns);
	m->channel_free_ns = NULL;
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->timer_fd = -1;
	pthread_mutex_destroy(&m->lock);
}
