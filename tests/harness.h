/*
 * harness.h - the unit-test harness: a table of named test functions, checks
 * that report file:line and keep going, and the closing line
 * "N passed, N failed" that tests/run.sh and CI read.
 *
 * A test fails when any CHECK in it fails; each test runs in the same
 * process, in table order, so tests must not depend on one another.
 */
#ifndef SLATE_TESTS_HARNESS_H
#define SLATE_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct harness_test {
	const char *name;
	void (*fn)(void);
};

static int harness_failures; /* checks failed in the running test */

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
			harness_failures++;                                    \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) {                                    \
			fprintf(stderr, "  %s:%d: %s == %lld, want %s == %lld\n", \
				__FILE__, __LINE__, #a, check_a_, #b, check_b_); \
			harness_failures++;                                    \
		}                                                              \
	} while (0)

/* Stop the running test when a check fails that later steps rely on. */
#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                    \
			harness_failures++;                                    \
			return;                                                \
		}                                                              \
	} while (0)

static inline int harness_run(const struct harness_test *tests, size_t count,
			      int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < count; i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		harness_failures = 0;
		tests[i].fn();
		if (harness_failures) {
			printf("FAIL %s\n", tests[i].name);
			failed++;
		} else {
			printf("ok   %s\n", tests[i].name);
			passed++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define HARNESS_MAIN(table)                                                    \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		return harness_run(table, sizeof(table) / sizeof(table[0]),    \
				   argc, argv);                                \
	}

#endif /* SLATE_TESTS_HARNESS_H */
