/*
 * qos_bench.c - the cost of qos_stream_record(), the one call the targets
 * make per IO: nanoseconds per call on one thread, on two threads sharing a
 * stream (sessions of one host on one volume: the counters' cache lines
 * bounce) and on two threads with a stream each.  The peer is the same
 * four additions on plain (non-atomic) per-thread counters, the least any
 * statistics could cost.
 *
 * Prints one table (figure, peer, ratio) with the machine it ran on; it
 * never passes or fails.  Usage: qos-bench [calls per thread, default 20M]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "qos/qos.h"

struct plain {
	uint64_t ios[2], bytes[2], latency_sum_ns;
	uint64_t hist[600];
};

struct job {
	struct qos_stream *stream; /* NULL: the plain peer */
	struct plain *plain;
	uint64_t calls;
	pthread_barrier_t *start;
	double ns;
};

/* Latencies spread over many buckets, as real IO would be. */
static inline uint64_t latency_of(uint64_t i)
{
	return 20000 + (i * 2654435761u & 0xfffff);
}

static void *run(void *arg)
{
	struct job *j = arg;
	pthread_barrier_wait(j->start);
	uint64_t t0 = qos_now_ns();
	if (j->stream) {
		for (uint64_t i = 0; i < j->calls; i++)
			qos_stream_record(j->stream, i & 1, 4096, latency_of(i));
	} else {
		struct plain *p = j->plain;
		for (uint64_t i = 0; i < j->calls; i++) {
			uint64_t lat = latency_of(i);
			p->ios[i & 1]++;
			p->bytes[i & 1] += 4096;
			p->latency_sum_ns += lat;
			p->hist[(63 - __builtin_clzll(lat)) * 16 % 600]++;
			__asm__ volatile("" ::: "memory"); /* keep the loop honest */
		}
	}
	j->ns = (double)(qos_now_ns() - t0) / (double)j->calls;
	return NULL;
}

/* ns per call, the slowest of nthreads threads. */
static double measure(struct qos_stream **streams, int nthreads, uint64_t calls)
{
	pthread_barrier_t start;
	pthread_t th[2];
	struct job jobs[2];
	struct plain *plain = calloc(2, sizeof(*plain));
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (int i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){ streams ? streams[i] : NULL, &plain[i], calls, &start, 0 };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	double worst = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].ns > worst)
			worst = jobs[i].ns;
	}
	pthread_barrier_destroy(&start);
	free(plain);
	return worst;
}

int main(int argc, char **argv)
{
	uint64_t calls = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
	struct qos_stats *st;
	if (qos_stats_create(&st) != 0)
		return 1;
	struct qos_stream *a = qos_stats_stream(st, "iqn.2026-01.dev.slate:host-a", 1);
	struct qos_stream *b = qos_stats_stream(st, "iqn.2026-01.dev.slate:host-b", 2);
	struct qos_stream *one[1] = { a }, *shared[2] = { a, a }, *own[2] = { a, b };
	struct utsname u;
	uname(&u);
	printf("qos_stream_record, %llu calls per thread; %s %s, %ld CPUs online\n",
	       (unsigned long long)calls, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-30s %10s %10s %8s\n", "case", "ns/call", "plain ns", "ratio");
	measure(one, 1, calls / 10); /* warm up */
	struct { const char *name; struct qos_stream **streams; int n; } cases[] = {
		{ "1 thread", one, 1 },
		{ "2 threads, one shared stream", shared, 2 },
		{ "2 threads, a stream each", own, 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double ns = measure(cases[i].streams, cases[i].n, calls);
		double peer = measure(NULL, cases[i].n, calls);
		printf("%-30s %10.2f %10.2f %8.1f\n", cases[i].name, ns, peer, ns / peer);
	}
	qos_stats_destroy(st);
	return 0;
}
