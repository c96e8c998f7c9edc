/*
 * test_openapi.c - the OpenAPI document (mgmt_openapi_json) against the
 * route tables the server dispatches on: every served route is documented
 * with the same method, and every documented operation is served; a public
 * route is documented without security, a creating POST with the
 * Idempotency-Key parameter, a route that takes a body with a request body.
 * tests/integration/rest_api.py checks the answers against the schemas.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>

#include "mgmt/api.h"
#include "tests/harness.h"

static json_t *doc(void)
{
	json_error_t err;
	json_t *d = json_loads(mgmt_openapi_json, 0, &err);
	if (!d)
		fprintf(stderr, "  the document does not parse: %s (line %d)\n", err.text, err.line);
	return d;
}

static json_t *operation(json_t *d, const char *pattern, const char *method)
{
	char lower[16];
	size_t i = 0;
	for (; method[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)method[i]);
	lower[i] = '\0';
	return json_object_get(json_object_get(json_object_get(d, "paths"), pattern), lower);
}

static const struct api_route *served(const char *pattern, const char *method)
{
	for (size_t t = 0; t < api_nroute_tables; t++)
		for (size_t i = 0; i < api_all_routes[t]->count; i++) {
			const struct api_route *r = &api_all_routes[t]->routes[i];
			if (!strcmp(r->pattern, pattern) && !strcmp(r->method, method))
				return r;
		}
	return NULL;
}

static void test_document_is_openapi_3_1(void)
{
	json_t *d = doc();
	REQUIRE(d);
	CHECK(!strcmp(json_string_value(json_object_get(d, "openapi")) ?: "", "3.1.0"));
	CHECK(json_object_size(json_object_get(d, "paths")) > 40);
	json_decref(d);
}

static void test_every_served_route_is_documented(void)
{
	json_t *d = doc();
	REQUIRE(d);
	size_t n = 0;
	for (size_t t = 0; t < api_nroute_tables; t++)
		for (size_t i = 0; i < api_all_routes[t]->count; i++, n++) {
			const struct api_route *r = &api_all_routes[t]->routes[i];
			json_t *op = operation(d, r->pattern, r->method);
			if (!op) {
				fprintf(stderr, "  served but not documented: %s %s\n", r->method,
					r->pattern);
				harness_failures++;
				continue;
			}
			json_t *security = json_object_get(op, "security");
			bool documented_public = json_is_array(security) && json_array_size(security) == 0;
			if (documented_public != !!(r->flags & API_PUBLIC)) {
				fprintf(stderr, "  %s %s: public in one, not the other\n", r->method,
					r->pattern);
				harness_failures++;
			}
			json_t *body = json_object_get(op, "requestBody");
			bool takes_body = r->flags & (API_BODY | API_BODY_OPTIONAL);
			if (!!body != takes_body ||
			    (body && json_is_true(json_object_get(body, "required")) !=
					     !!(r->flags & API_BODY))) {
				fprintf(stderr, "  %s %s: request body differs\n", r->method, r->pattern);
				harness_failures++;
			}
			char *params = json_dumps(json_object_get(op, "parameters"), JSON_ENCODE_ANY);
			bool idem = params && strstr(params, "IdempotencyKey");
			free(params);
			if (idem != !!(r->flags & API_CREATES)) {
				fprintf(stderr, "  %s %s: Idempotency-Key differs\n", r->method,
					r->pattern);
				harness_failures++;
			}
		}
	CHECK(n > 40);
	json_decref(d);
}

static void test_every_documented_route_is_served(void)
{
	static const char *const methods[] = { "get", "post", "put", "patch", "delete" };
	json_t *d = doc();
	REQUIRE(d);
	const char *pattern;
	json_t *item;
	json_object_foreach(json_object_get(d, "paths"), pattern, item) {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			if (!json_object_get(item, methods[i]))
				continue;
			char upper[8];
			size_t k = 0;
			for (; methods[i][k]; k++)
				upper[k] = (char)toupper((unsigned char)methods[i][k]);
			upper[k] = '\0';
			if (!served(pattern, upper)) {
				fprintf(stderr, "  documented but not served: %s %s\n", upper, pattern);
				harness_failures++;
			}
		}
	}
	json_decref(d);
}

static const struct harness_test tests[] = {
	{ "document_is_openapi_3_1", test_document_is_openapi_3_1 },
	{ "every_served_route_is_documented", test_every_served_route_is_documented },
	{ "every_documented_route_is_served", test_every_documented_route_is_served },
};
HARNESS_MAIN(tests)
