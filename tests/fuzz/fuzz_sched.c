/*
 * fuzz_sched.c - libFuzzer target for sched's parsers: cron expressions and
 * snapshot-name patterns (they will arrive in REST request bodies) and TZif
 * zone images, each followed by what uses the result (next and missed runs,
 * name expansion in the parsed zone).
 *
 * Input: [kind byte][rest]; kind % 3: 0 = a cron expression (rest, as a
 * string), 1 = a TZif image, 2 = a name pattern.  Times come from the
 * kind byte so runs cover several eras, never from the clock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

static char *as_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t kind = data[0];
	int64_t t = 1700000000 + (int64_t)kind * 86400 * 97;
	data++, size--;
	if (kind % 3 == 1) {
		struct sched_tz *tz;
		if (sched_tz_parse(data, size, "fuzz", &tz) == 0) {
			struct sched_cron c;
			char err[128], name[64];
			int64_t next;
			if (sched_cron_parse("30 2 * * *", &c, err, sizeof(err)) == 0)
				sched_next_run(&c, tz, t, &next);
			sched_snapshot_name("auto-%Y%m%d-%H%M", t, tz, name, sizeof(name));
			sched_tz_free(tz);
		}
		return 0;
	}
	char *text = as_string(data, size);
	if (kind % 3 == 0) {
		struct sched_cron c;
		char err[128];
		int64_t next, latest;
		uint32_t count;
		if (sched_cron_parse(text, &c, err, sizeof(err)) == 0) {
			sched_next_run(&c, NULL, t, &next);
			sched_missed(&c, NULL, t, t + 86400 * 3, &count, &latest);
		}
	} else {
		char name[64];
		sched_snapshot_name(text, t, NULL, name, sizeof(name));
	}
	free(text);
	return 0;
}
