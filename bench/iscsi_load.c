/*
 * iscsi_load.c - iscsi-load, a load generator for one iSCSI LUN on
 * libiscsi's asynchronous API (issue 6: the hosts of the QoS benchmarks).
 *
 *   iscsi-load [--initiator IQN] [--size BYTES | --sizes 4k:70,64k:30]
 *              [--qd N] [--seconds S] [--max-ios N] [--random | --sequential]
 *              [--read-pct P] [--span BYTES] [--seed N] [--json]
 *              iscsi://[USER%PASSWORD@]HOST:PORT/IQN/LUN
 *
 * Keeps QD commands (READ(16)/WRITE(16)) in flight on one session until S
 * seconds have passed (default 10) or N commands were issued, then waits for
 * the ones in flight and prints IOPS, MiB/s and the latency of each command
 * (submit to completion, in the client: average, p50, p90, p99, p99.9, max),
 * in a few lines for people or, with --json, as one JSON object.  SIGINT or
 * SIGTERM stops issuing: the figures printed are those of the run so far
 * (a second signal gives up on the commands still in flight).
 *
 * Offsets are aligned to the IO size, random (default) or sequential from
 * the start of the span (default the whole LUN), wrapping at its end.
 * Default: 4 KiB, QD 8, random, 100% reads (nothing on the LUN changes).
 * Writes send a fixed pseudo-random buffer: their data means nothing.
 *
 * Latency is kept in a histogram of logarithmic buckets 1% wide, so the
 * percentiles are within 1% of the true values; avg, min and max are exact.
 * Exit: 0 when every command succeeded, 1 on a failed command or a lost
 * connection (the figures are still printed), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.dev.slate:iscsi-load"
#define MAX_QD 1024
#define MAX_SIZES 16
#define MAX_IO_BYTES (16u << 20)
#define BUCKET_GROWTH 1.01    /* histogram buckets: 1% wide */
#define NBUCKETS 3000         /* 1.01^3000 ns: far beyond any latency */
#define DRAIN_SECONDS 30      /* waiting for commands in flight at the end */

struct size_mix {
	uint32_t bytes;
	unsigned weight;
	uint64_t ios;         /* completed, successfully or not */
	double latency_sum_us;
};

struct options {
	const char *initiator, *url;
	struct size_mix sizes[MAX_SIZES];
	unsigned nsizes, weight_total;
	unsigned qd;
	double seconds;
	uint64_t max_ios;     /* 0: only --seconds bounds the run */
	bool sequential;
	unsigned read_pct;
	uint64_t span_bytes;  /* 0: the whole LUN */
	uint64_t seed;
	bool json;
};

struct slot {
	struct load *load;
	struct slot *next_free;
	uint64_t start_ns;
	unsigned size_index;
	bool write;
};

struct load {
	struct options o;
	struct iscsi_context *iscsi;
	int lun;
	uint32_t block_bytes;
	uint64_t lun_blocks, span_blocks;
	uint64_t next_seq_block;
	uint64_t rng;
	unsigned char *write_buf;
	struct slot slots[MAX_QD], *free_slots;
	unsigned inflight;
	bool submit_failed;   /* libiscsi refused a command: stop issuing */
	uint64_t issued, completed, reads, writes, errors, bytes;
	uint64_t hist[NBUCKETS];
	double latency_sum_us, latency_min_us, latency_max_us;
	uint64_t t_start_ns, t_last_ns;
	char first_error[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The first SIGINT/SIGTERM ends the run (commands in flight drain); a second
 * one gives up on the drain.  timeout(1) sends one signal both to its child
 * and to the child's process group, so a single ^C can arrive twice at once:
 * a signal counts as the second only half a second after the first. */
#define REPEAT_SIGNAL_NS 500000000ull
static volatile sig_atomic_t signals_seen, give_up_drain;
static uint64_t first_signal_ns; /* written only by the handler */

static void on_signal(int sig)
{
	(void)sig;
	uint64_t now = now_ns();
	if (!signals_seen)
		first_signal_ns = now;
	else if (now - first_signal_ns >= REPEAT_SIGNAL_NS)
		give_up_drain = 1;
	signals_seen = 1;
}

static uint64_t next_random(struct load *l) /* xorshift64* */
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 2685821657736338717ull;
}

/* ---- the latency histogram ---------------------------------------------- */

static unsigned bucket_of(double ns)
{
	if (ns < 1.0)
		return 0;
	double b = log(ns) / log(BUCKET_GROWTH);
	return b >= NBUCKETS - 1 ? NBUCKETS - 1 : (unsigned)b;
}

/* The middle of bucket b, in µs. */
static double bucket_us(unsigned b)
{
	return pow(BUCKET_GROWTH, b + 0.5) / 1000.0;
}

/* The latency (µs) below which a fraction q of the commands completed. */
static double percentile_us(const struct load *l, double q)
{
	uint64_t total = 0, seen = 0;
	for (unsigned b = 0; b < NBUCKETS; b++)
		total += l->hist[b];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)total);
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += l->hist[b];
		if (seen >= rank) {
			double us = bucket_us(b);
			/* never outside what was measured */
			return us < l->latency_min_us ? l->latency_min_us
			       : us > l->latency_max_us ? l->latency_max_us : us;
		}
	}
	return l->latency_max_us;
}

/* ---- commands ------------------------------------------------------------ */

static void command_done(struct iscsi_context *iscsi, int status, void *command_data,
			 void *private_data)
{
	struct slot *s = private_data;
	struct load *l = s->load;
	struct scsi_task *task = command_data;
	uint64_t end = now_ns();
	double us = (double)(end - s->start_ns) / 1000.0;
	struct size_mix *m = &l->o.sizes[s->size_index];

	l->inflight--;
	l->completed++;
	l->t_last_ns = end;
	m->ios++;
	m->latency_sum_us += us;
	if (status == SCSI_STATUS_GOOD) {
		l->bytes += m->bytes;
		if (s->write)
			l->writes++;
		else
			l->reads++;
	} else {
		l->errors++;
		if (!l->first_error[0])
			snprintf(l->first_error, sizeof(l->first_error), "%s at %.0f us: %s",
				 s->write ? "WRITE(16)" : "READ(16)", us, iscsi_get_error(iscsi));
	}
	l->hist[bucket_of(us * 1000.0)]++;
	l->latency_sum_us += us;
	if (l->completed == 1 || us < l->latency_min_us)
		l->latency_min_us = us;
	if (us > l->latency_max_us)
		l->latency_max_us = us;
	if (task)
		scsi_free_scsi_task(task);
	s->next_free = l->free_slots;
	l->free_slots = s;
}

static unsigned pick_size(struct load *l)
{
	if (l->o.nsizes == 1)
		return 0;
	unsigned r = (unsigned)(next_random(l) % l->o.weight_total);
	for (unsigned i = 0; i < l->o.nsizes; i++) {
		if (r < l->o.sizes[i].weight)
			return i;
		r -= l->o.sizes[i].weight;
	}
	return l->o.nsizes - 1;
}

static void submit_one(struct load *l)
{
	struct slot *s = l->free_slots;
	unsigned si = pick_size(l);
	uint32_t bytes = l->o.sizes[si].bytes;
	uint64_t nblocks = bytes / l->block_bytes, lba;
	if (l->o.sequential) {
		if (l->next_seq_block + nblocks > l->span_blocks)
			l->next_seq_block = 0;
		lba = l->next_seq_block;
		l->next_seq_block += nblocks;
	} else {
		lba = next_random(l) % (l->span_blocks / nblocks) * nblocks;
	}
	l->free_slots = s->next_free;
	s->size_index = si;
	s->write = l->o.read_pct < 100 && next_random(l) % 100 >= l->o.read_pct;
	s->start_ns = now_ns();
	struct scsi_task *task =
		s->write ? iscsi_write16_task(l->iscsi, l->lun, lba, l->write_buf, bytes,
					      (int)l->block_bytes, 0, 0, 0, 0, 0, command_done, s)
			 : iscsi_read16_task(l->iscsi, l->lun, lba, bytes, (int)l->block_bytes, 0,
					     0, 0, 0, 0, command_done, s);
	l->issued++;
	l->inflight++;
	if (!task) { /* counted as a failed command; issue no more */
		l->submit_failed = true;
		command_done(l->iscsi, SCSI_STATUS_ERROR, NULL, s);
	}
}

/* ---- the run -------------------------------------------------------------- */

/* Issue until the time or count bound or a signal, then drain.  Returns 0,
 * or -1 when the connection failed (figures so far are still valid). */
static int run(struct load *l)
{
	uint64_t deadline = 0, drain_deadline = 0;
	l->t_start_ns = l->t_last_ns = now_ns();
	deadline = l->t_start_ns + (uint64_t)(l->o.seconds * 1e9);
	for (;;) {
		uint64_t now = now_ns();
		bool issuing = !signals_seen && !l->submit_failed && now < deadline &&
			       (!l->o.max_ios || l->issued < l->o.max_ios);
		while (issuing && l->free_slots && !l->submit_failed &&
		       (!l->o.max_ios || l->issued < l->o.max_ios))
			submit_one(l);
		if (!issuing && l->inflight == 0)
			return 0;
		if (!issuing) {
			if (!drain_deadline)
				drain_deadline = now + DRAIN_SECONDS * 1000000000ull;
			if (give_up_drain || now >= drain_deadline) {
				fprintf(stderr, "iscsi-load: gave up waiting for %u command(s) in flight\n",
					l->inflight);
				return 0;
			}
		}
		struct pollfd pfd = { .fd = iscsi_get_fd(l->iscsi),
				      .events = (short)iscsi_which_events(l->iscsi) };
		int n = poll(&pfd, 1, 100);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "iscsi-load: poll: %s\n", strerror(errno));
			return -1;
		}
		if (iscsi_service(l->iscsi, n > 0 ? pfd.revents : 0) < 0) {
			fprintf(stderr, "iscsi-load: connection failed: %s\n",
				iscsi_get_error(l->iscsi));
			return -1;
		}
	}
}

/* ---- output ---------------------------------------------------------------- */

static void size_text(uint32_t bytes, char *out, size_t len)
{
	if (bytes % (1u << 20) == 0)
		snprintf(out, len, "%uM", bytes >> 20);
	else if (bytes % 1024 == 0)
		snprintf(out, len, "%uk", bytes >> 10);
	else
		snprintf(out, len, "%u", bytes);
}

static void print_results(const struct load *l, bool interrupted, bool connection_lost)
{
	const struct options *o = &l->o;
	double seconds = (double)(l->t_last_ns - l->t_start_ns) / 1e9;
	double iops = seconds > 0 ? (double)l->completed / seconds : 0;
	double mibs = seconds > 0 ? (double)l->bytes / seconds / 1048576.0 : 0;
	double avg = l->completed ? l->latency_sum_us / (double)l->completed : 0;
	double p50 = percentile_us(l, 0.50), p90 = percentile_us(l, 0.90),
	       p99 = percentile_us(l, 0.99), p999 = percentile_us(l, 0.999);
	char sizes[256] = "", one[32];
	for (unsigned i = 0; i < o->nsizes; i++) {
		size_text(o->sizes[i].bytes, one, sizeof(one));
		size_t used = strlen(sizes);
		if (o->nsizes == 1)
			snprintf(sizes + used, sizeof(sizes) - used, "%s", one);
		else
			snprintf(sizes + used, sizeof(sizes) - used, "%s%s:%u", i ? "," : "", one,
				 o->sizes[i].weight);
	}
	if (o->json) {
		printf("{\"tool\":\"iscsi-load\",\"url\":\"%s\",\"initiator\":\"%s\","
		       "\"sizes\":\"%s\",\"pattern\":\"%s\",\"read_pct\":%u,\"qd\":%u,"
		       "\"block_bytes\":%" PRIu32 ",\"seconds\":%.3f,\"ios\":%" PRIu64
		       ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"iops\":%.1f,\"mibs\":%.2f,"
		       "\"latency_us\":{\"avg\":%.1f,\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
		       "\"p99\":%.1f,\"p99.9\":%.1f,\"max\":%.1f},\"by_size\":[",
		       o->url, o->initiator, sizes, o->sequential ? "sequential" : "random",
		       o->read_pct, o->qd, l->block_bytes, seconds, l->completed, l->reads,
		       l->writes, l->errors, l->bytes, iops, mibs, avg, l->latency_min_us, p50,
		       p90, p99, p999, l->latency_max_us);
		for (unsigned i = 0; i < o->nsizes; i++)
			printf("%s{\"bytes\":%" PRIu32 ",\"ios\":%" PRIu64 ",\"avg_us\":%.1f}",
			       i ? "," : "", o->sizes[i].bytes, o->sizes[i].ios,
			       o->sizes[i].ios ? o->sizes[i].latency_sum_us / (double)o->sizes[i].ios
					       : 0.0);
		printf("],\"interrupted\":%s,\"connection_lost\":%s}\n",
		       interrupted ? "true" : "false", connection_lost ? "true" : "false");
		return;
	}
	printf("iscsi-load: %s as %s\n", o->url, o->initiator);
	printf("  %s %s, %u%% reads, QD %u, %.2f s%s%s\n", sizes,
	       o->sequential ? "sequential" : "random", o->read_pct, o->qd, seconds,
	       interrupted ? " (interrupted)" : "", connection_lost ? " (connection lost)" : "");
	printf("  ios       %" PRIu64 " (reads %" PRIu64 ", writes %" PRIu64 ", errors %" PRIu64
	       ")\n", l->completed, l->reads, l->writes, l->errors);
	printf("  iops      %.1f\n", iops);
	printf("  MiB/s     %.2f\n", mibs);
	printf("  latency   avg %.1f us, p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f, max %.1f\n",
	       avg, p50, p90, p99, p999, l->latency_max_us);
	if (o->nsizes > 1)
		for (unsigned i = 0; i < o->nsizes; i++) {
			size_text(o->sizes[i].bytes, one, sizeof(one));
			printf("  %-8s  %" PRIu64 " ios, avg %.1f us\n", one, o->sizes[i].ios,
			       o->sizes[i].ios ? o->sizes[i].latency_sum_us / (double)o->sizes[i].ios
					       : 0.0);
		}
}

/* ---- options ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: iscsi-load [--initiator IQN] [--size BYTES | --sizes 4k:70,64k:30]\n"
		"                  [--qd N] [--seconds S] [--max-ios N] [--random | --sequential]\n"
		"                  [--read-pct P] [--span BYTES] [--seed N] [--json]\n"
		"                  iscsi://[USER%%PASSWORD@]HOST:PORT/IQN/LUN\n"
		"Defaults: 4k, QD 8, 10 s, random, 100%% reads, the whole LUN.\n"
		"BYTES take k, m or g (powers of 1024).\n");
	exit(2);
}

static bool parse_bytes(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!text || text[0] < '0' || text[0] > '9')
		return false;
	unsigned long long v = strtoull(text, &end, 10);
	unsigned shift = 0;
	if (*end) {
		const char *units = "kmg", *p = strchr(units, (char)(*end | 0x20));
		if (!p || (end[1] && strcasecmp(end + 1, "ib") && strcasecmp(end + 1, "b")))
			return false;
		shift = 10 * (unsigned)(p - units + 1);
	}
	if (errno || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_uint(const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!text || text[0] < '0' || text[0] > '9')
		return false;
	unsigned long long v = strtoull(text, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

/* "4k:70,64k:30" (or one size without a weight). */
static bool parse_sizes(const char *text, struct options *o)
{
	char copy[256], *save = NULL;
	if (strlen(text) >= sizeof(copy))
		return false;
	strcpy(copy, text);
	o->nsizes = 0;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		uint64_t bytes, weight = 1;
		if (colon)
			*colon = 0;
		if (o->nsizes == MAX_SIZES || !parse_bytes(item, &bytes) || bytes == 0 ||
		    bytes > MAX_IO_BYTES || (colon && !parse_uint(colon + 1, 1000000, &weight)) ||
		    weight == 0)
			return false;
		o->sizes[o->nsizes++] = (struct size_mix){ .bytes = (uint32_t)bytes,
							   .weight = (unsigned)weight };
	}
	return o->nsizes > 0;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	uint64_t v;
	*o = (struct options){ .initiator = DEFAULT_INITIATOR, .qd = 8, .seconds = 10,
			       .read_pct = 100, .nsizes = 1 };
	o->sizes[0] = (struct size_mix){ .bytes = 4096, .weight = 1 };
	o->seed = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true, takes = true;
		if (!strcmp(a, "--initiator")) {
			ok = val && *val;
			o->initiator = val;
		} else if (!strcmp(a, "--size") || !strcmp(a, "--sizes")) {
			ok = val && parse_sizes(val, o);
		} else if (!strcmp(a, "--qd")) {
			ok = parse_uint(val, MAX_QD, &v) && v > 0;
			o->qd = (unsigned)v;
		} else if (!strcmp(a, "--seconds")) {
			char *end;
			o->seconds = val ? strtod(val, &end) : 0;
			ok = val && !*end && o->seconds > 0 && o->seconds < 1e6;
		} else if (!strcmp(a, "--max-ios")) {
			ok = parse_uint(val, UINT64_MAX, &o->max_ios);
		} else if (!strcmp(a, "--read-pct")) {
			ok = parse_uint(val, 100, &v);
			o->read_pct = (unsigned)v;
		} else if (!strcmp(a, "--span")) {
			ok = parse_bytes(val, &o->span_bytes);
		} else if (!strcmp(a, "--seed")) {
			ok = parse_uint(val, UINT64_MAX, &o->seed);
		} else {
			takes = false;
			if (!strcmp(a, "--random"))
				o->sequential = false;
			else if (!strcmp(a, "--sequential"))
				o->sequential = true;
			else if (!strcmp(a, "--json"))
				o->json = true;
			else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
				usage();
			else if (a[0] == '-' || o->url)
				ok = false;
			else
				o->url = a;
		}
		if (!ok) {
			fprintf(stderr, "iscsi-load: bad or missing value for %s\n", a);
			usage();
		}
		if (takes)
			i++;
	}
	if (!o->url) {
		fprintf(stderr, "iscsi-load: no iscsi:// URL given\n");
		usage();
	}
	o->weight_total = 0;
	for (unsigned i = 0; i < o->nsizes; i++)
		o->weight_total += o->sizes[i].weight;
	if (!o->seed)
		o->seed = 1;
}

/* ---- connecting ------------------------------------------------------------- */

static int connect_lun(struct load *l)
{
	struct options *o = &l->o;
	l->iscsi = iscsi_create_context(o->initiator);
	if (!l->iscsi) {
		fprintf(stderr, "iscsi-load: cannot create an iSCSI context\n");
		return -1;
	}
	struct iscsi_url *url = iscsi_parse_full_url(l->iscsi, o->url);
	if (!url) {
		fprintf(stderr, "iscsi-load: bad URL %s: %s\n", o->url, iscsi_get_error(l->iscsi));
		return -1;
	}
	iscsi_set_targetname(l->iscsi, url->target);
	iscsi_set_session_type(l->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(l->iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_noautoreconnect(l->iscsi, 1);
	l->lun = url->lun;
	int rc = iscsi_full_connect_sync(l->iscsi, url->portal, url->lun);
	iscsi_destroy_url(url);
	if (rc) {
		fprintf(stderr, "iscsi-load: cannot log in to %s: %s\n", o->url,
			iscsi_get_error(l->iscsi));
		return -1;
	}
	struct scsi_task *task = iscsi_readcapacity16_sync(l->iscsi, l->lun);
	struct scsi_readcapacity16 *cap = NULL;
	if (task && task->status == SCSI_STATUS_GOOD)
		cap = scsi_datain_unmarshall(task);
	if (!cap) {
		fprintf(stderr, "iscsi-load: READ CAPACITY(16) of %s failed: %s\n", o->url,
			iscsi_get_error(l->iscsi));
		if (task)
			scsi_free_scsi_task(task);
		return -1;
	}
	l->block_bytes = cap->block_length;
	l->lun_blocks = cap->returned_lba + 1;
	scsi_free_scsi_task(task);
	if (!l->block_bytes) {
		fprintf(stderr, "iscsi-load: %s reports a block size of 0\n", o->url);
		return -1;
	}
	l->span_blocks = o->span_bytes ? o->span_bytes / l->block_bytes : l->lun_blocks;
	if (l->span_blocks > l->lun_blocks)
		l->span_blocks = l->lun_blocks;
	for (unsigned i = 0; i < o->nsizes; i++)
		if (o->sizes[i].bytes % l->block_bytes || o->sizes[i].bytes / l->block_bytes >
								  l->span_blocks) {
			fprintf(stderr, "iscsi-load: IO size %" PRIu32 " is not a multiple of the "
				"LUN's %" PRIu32 "-byte blocks or exceeds the span\n",
				o->sizes[i].bytes, l->block_bytes);
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	static struct load l; /* large (the histogram): not on the stack */
	parse_options(argc, argv, &l.o);
	l.rng = l.o.seed;
	uint32_t max_bytes = 0;
	for (unsigned i = 0; i < l.o.nsizes; i++)
		if (l.o.sizes[i].bytes > max_bytes)
			max_bytes = l.o.sizes[i].bytes;
	l.write_buf = malloc(max_bytes);
	if (!l.write_buf)
		return 1;
	for (uint32_t i = 0; i < max_bytes; i++)
		l.write_buf[i] = (unsigned char)next_random(&l);
	for (unsigned i = 0; i < l.o.qd; i++) {
		l.slots[i].load = &l;
		l.slots[i].next_free = l.free_slots;
		l.free_slots = &l.slots[i];
	}

	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll wakes */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (connect_lun(&l) < 0) {
		if (l.iscsi)
			iscsi_destroy_context(l.iscsi);
		free(l.write_buf);
		return 1;
	}
	int rc = run(&l);
	print_results(&l, signals_seen > 0, rc < 0);
	if (l.first_error[0])
		fprintf(stderr, "iscsi-load: %" PRIu64 " command(s) failed; first: %s\n", l.errors,
			l.first_error);
	int status = rc < 0 || l.errors ? 1 : 0; /* before destroy cancels what is in flight */
	if (rc == 0 && l.inflight == 0)
		iscsi_logout_sync(l.iscsi);
	iscsi_destroy_context(l.iscsi);
	free(l.write_buf);
	fflush(stdout);
	return status;
}
