/*
 * fuzz_api.c - libFuzzer target for the REST API's request decoding: JSON
 * bodies into the internal request structs (every kind in
 * api_request_specs), and the ISO 8601 duration and time parsers that
 * query strings and bodies reach.
 *
 * Input: [kind byte][JSON text]; kind picks the request kind.  The struct
 * is decoded into a buffer exactly API_REQUEST_MAX bytes long so that ASan
 * sees a write past any struct's end that stays within a table's offsets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct api_fields *spec = api_request_specs[data[0] % api_nrequest_specs];
	char *text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	json_t *body = json_loadb(text, size - 1, JSON_REJECT_DUPLICATES, NULL);
	void *out = calloc(1, API_REQUEST_MAX);
	struct api_decode_error err;
	uint32_t present;
	if (!out)
		abort();
	if (body && api_decode(body, spec, out, &present, &err) == 0 && (present >> spec->count))
		abort(); /* a bit for a field the table does not have */
	int64_t seconds, ns;
	api_duration_parse(text, &seconds);
	api_time_parse(text, &ns);
	api_name_valid(text);
	json_decref(body);
	free(out);
	free(text);
	return 0;
}
