/*
 * decode.c - JSON request bodies into the internal request structs.
 *
 * Each request kind is a table of fields (api.h); api_decode() walks the
 * object once, so every failure names the offending member as a JSON
 * pointer: a member the table does not know, a wrong JSON type, a missing
 * required member, a number or string outside its range.  Bodies are
 * hostile: nothing here trusts a length it has not checked.  The fuzz
 * target tests/fuzz/fuzz_api.c drives every table through this file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/api.h"

static int fail(struct api_decode_error *err, const char *prefix, const char *name,
		const char *type, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct api_decode_error *err, const char *prefix, const char *name,
		const char *type, const char *fmt, ...)
{
	err->status = 422;
	snprintf(err->type, sizeof(err->type), "%s", type);
	snprintf(err->field, sizeof(err->field), "%s%s%s", prefix, name ? "/" : "",
		 name ? name : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/* Copy a string of length in [min, max] (max 0: size - 1). */
static int copy_string(const json_t *v, const struct api_field *f, char *dst, const char *ptr,
		       struct api_decode_error *err)
{
	if (!json_is_string(v))
		return fail(err, ptr, NULL, "wrong-type", "%s must be a string, not %s", f->name,
			    json_type_name(v));
	size_t len = json_string_length(v);
	size_t max = f->max ? f->max : f->size - 1;
	if (max > f->size - 1)
		max = f->size - 1;
	if (len < f->min || len > max)
		return fail(err, ptr, NULL, "invalid-value",
			    "%.64s must be %llu to %zu characters long (got %zu)", f->name,
			    (unsigned long long)f->min, max, len);
	const char *s = json_string_value(v);
	if (memchr(s, '\0', len))
		return fail(err, ptr, NULL, "invalid-value", "%s must not hold a NUL character",
			    f->name);
	memcpy(dst, s, len + 1);
	return 0;
}

static int decode_number(const json_t *v, const struct api_field *f, void *dst, const char *ptr,
			 struct api_decode_error *err)
{
	if (!json_is_integer(v))
		return fail(err, ptr, NULL, "wrong-type", "%s must be an integer, not %s", f->name,
			    json_type_name(v));
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < f->min || (uint64_t)n > f->max)
		return fail(err, ptr, NULL, "invalid-value", "%s must be between %llu and %llu",
			    f->name, (unsigned long long)f->min, (unsigned long long)f->max);
	if (f->type == API_F_U64)
		*(uint64_t *)dst = (uint64_t)n;
	else
		*(uint32_t *)dst = (uint32_t)n;
	return 0;
}

static int decode_strings(const json_t *v, const struct api_field *f, char *dst, unsigned *count,
			  const char *ptr, struct api_decode_error *err)
{
	if (!json_is_array(v))
		return fail(err, ptr, NULL, "wrong-type", "%s must be an array of strings, not %s",
			    f->name, json_type_name(v));
	size_t n = json_array_size(v);
	if (n < f->min || n > f->max)
		return fail(err, ptr, NULL, "invalid-value", "%s must have %llu to %llu entries",
			    f->name, (unsigned long long)f->min, (unsigned long long)f->max);
	struct api_field one = *f;
	one.min = 1;
	one.max = 0;
	for (size_t i = 0; i < n; i++) {
		char item_ptr[sizeof(err->field)];
		snprintf(item_ptr, sizeof(item_ptr), "%.100s/%zu", ptr, i);
		int rc = copy_string(json_array_get(v, i), &one, dst + i * f->size, item_ptr, err);
		if (rc)
			return rc;
	}
	*count = (unsigned)n;
	return 0;
}

static int decode_at(const json_t *obj, const struct api_fields *spec, char *out,
		     uint32_t *present, const char *prefix, struct api_decode_error *err);

static int decode_field(const json_t *v, const struct api_field *f, char *out, const char *ptr,
			struct api_decode_error *err)
{
	char *dst = out + f->offset;
	switch (f->type) {
	case API_F_STRING:
		return copy_string(v, f, dst, ptr, err);
	case API_F_U64:
	case API_F_U32:
		return decode_number(v, f, dst, ptr, err);
	case API_F_BOOL:
		if (!json_is_boolean(v))
			return fail(err, ptr, NULL, "wrong-type", "%s must be true or false, not %s",
				    f->name, json_type_name(v));
		*(bool *)dst = json_is_true(v);
		return 0;
	case API_F_STRINGS:
		return decode_strings(v, f, dst, (unsigned *)(out + f->count_offset), ptr, err);
	case API_F_OBJECT:
		if (!json_is_object(v))
			return fail(err, ptr, NULL, "wrong-type", "%s must be an object, not %s",
				    f->name, json_type_name(v));
		return decode_at(v, f->sub, dst, NULL, ptr, err);
	case API_F_DURATION:
		if (!json_is_string(v))
			return fail(err, ptr, NULL, "wrong-type",
				    "%s must be an ISO 8601 duration string such as \"P7D\", not %s",
				    f->name, json_type_name(v));
		if (api_duration_parse(json_string_value(v), (int64_t *)dst))
			return fail(err, ptr, NULL, "invalid-value",
				    "%s is not an ISO 8601 duration such as \"P7D\" or \"PT12H\"",
				    f->name);
		return 0;
	}
	return fail(err, ptr, NULL, "invalid-value", "%s has an unknown type", f->name);
}

static int decode_at(const json_t *obj, const struct api_fields *spec, char *out,
		     uint32_t *present, const char *prefix, struct api_decode_error *err)
{
	uint32_t seen = 0;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		size_t i = 0;
		while (i < spec->count && strcmp(spec->fields[i].name, key))
			i++;
		if (i == spec->count)
			return fail(err, prefix, key, "unknown-field", "%s has no member '%.64s'",
				    spec->what, key);
		char ptr[sizeof(err->field)];
		snprintf(ptr, sizeof(ptr), "%s/%s", prefix, key);
		int rc = decode_field(v, &spec->fields[i], out, ptr, err);
		if (rc)
			return rc;
		seen |= 1u << i;
	}
	for (size_t i = 0; i < spec->count; i++)
		if (spec->fields[i].required && !(seen & (1u << i)))
			return fail(err, prefix, spec->fields[i].name, "missing-field",
				    "%s needs '%s'", spec->what, spec->fields[i].name);
	if (present)
		*present = seen;
	return 0;
}

int api_decode(const json_t *obj, const struct api_fields *spec, void *out, uint32_t *present,
	       struct api_decode_error *err)
{
	if (!json_is_object(obj)) {
		fail(err, "", NULL, "wrong-type", "the body must be a JSON object, not %s",
		     obj ? json_type_name(obj) : "empty");
		err->status = 400;
		return -EINVAL;
	}
	return decode_at(obj, spec, out, present, "", err);
}

int api_decode_body(struct api_call *c, const struct api_fields *spec, void *out,
		    uint32_t *present)
{
	struct api_decode_error err;
	int rc = api_decode(c->body, spec, out, present, &err);
	if (rc)
		api_problem(c, err.status, err.type, err.field, "%s", err.detail);
	return rc;
}

static const struct api_field name_fields[] = {
	API_STRING(struct api_name_req, name, "name", true, 1),
};
const struct api_fields api_name_spec = API_SPEC("the request", name_fields);

static const struct api_field rollback_fields[] = {
	API_BOOL(struct api_rollback_req, delete_newer, "delete_newer", false),
};
const struct api_fields api_rollback_spec = API_SPEC("rollback", rollback_fields);

/* One number and its unit letter; the unit must come in order. */
int api_duration_parse(const char *text, int64_t *seconds)
{
	static const char date_units[] = "WD", time_units[] = "HMS";
	static const int64_t date_s[] = { 7 * 86400, 86400 }, time_s[] = { 3600, 60, 1 };
	if (!text || text[0] != 'P' || !text[1])
		return -EINVAL;
	const char *p = text + 1;
	const char *units = date_units;
	const int64_t *mult = date_s;
	size_t next_unit = 0;
	int64_t total = 0;
	bool any = false, in_time = false;
	while (*p) {
		if (*p == 'T' && !in_time) {
			in_time = true;
			units = time_units;
			mult = time_s;
			next_unit = 0;
			p++;
			if (!*p)
				return -EINVAL;
			continue;
		}
		int64_t n = 0;
		const char *digits = p;
		while (*p >= '0' && *p <= '9' && n < (INT64_C(1) << 40))
			n = n * 10 + (*p++ - '0');
		if (p == digits || !*p)
			return -EINVAL;
		const char *u = strchr(units + next_unit, *p);
		if (!u)
			return -EINVAL;
		size_t k = (size_t)(u - units);
		if (n > (INT64_C(1) << 40) / mult[k])
			return -EINVAL;
		total += n * mult[k];
		next_unit = k + 1;
		any = true;
		p++;
	}
	if (!any || total > (INT64_C(1) << 40))
		return -EINVAL;
	*seconds = total;
	return 0;
}

bool api_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 63 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("._:@-", ch)))
			return false;
	}
	return true;
}
