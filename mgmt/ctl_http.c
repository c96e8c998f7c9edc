/*
 * ctl_http.c - slatectl's side of HTTP: one libcurl handle, the bearer
 * token (--token, $SLATE_TOKEN, or DATA/admin-token), and requests.
 *
 * A request that reached no answer because the connection was reset is
 * sent once more.  Creating POSTs carry one random Idempotency-Key for
 * both tries, so the server answers the retry from its cache instead of
 * creating twice; that is the only reason the retry is safe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mgmt/ctl.h"

void ctl_reply_free(struct ctl_reply *reply)
{
	free(reply->body);
	json_decref(reply->json);
	memset(reply, 0, sizeof(*reply));
}

void ctl_escape(char *out, size_t outlen, const char *text)
{
	static const char keep[] = "-._~!$&'()*+,;=:@";
	size_t used = strlen(out);
	for (const unsigned char *p = (const unsigned char *)text; *p && used + 4 < outlen; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(keep, *p))
			out[used++] = (char)*p;
		else
			used += (size_t)snprintf(out + used, outlen - used, "%%%02X", *p);
	}
	out[used] = '\0';
}

/* The first line of path, without its newline; NULL with errno if none. */
static char *read_first_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	int saved = errno;
	fclose(f);
	if (n <= 0) {
		free(line);
		errno = n == 0 || saved == 0 ? ENODATA : saved;
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

int ctl_token_resolve(struct ctl *ctl)
{
	if (ctl->token)
		return 0;
	const char *env = getenv("SLATE_TOKEN");
	if (ctl->token_flag && *ctl->token_flag) {
		ctl->token = strdup(ctl->token_flag);
		snprintf(ctl->token_source, sizeof(ctl->token_source), "--token");
	} else if (env && *env) {
		ctl->token = strdup(env);
		snprintf(ctl->token_source, sizeof(ctl->token_source), "$SLATE_TOKEN");
	} else {
		const char *dir = ctl->data_flag, *from = "--data";
		if (!dir || !*dir) {
			dir = getenv("SLATE_DATA");
			from = "$SLATE_DATA";
		}
		if (!dir || !*dir) {
			dir = "./var";
			from = "the default data directory";
		}
		char path[1040];
		snprintf(path, sizeof(path), "%s/admin-token", dir);
		ctl->token = read_first_line(path);
		if (!ctl->token || !*ctl->token) {
			fprintf(stderr, "slatectl: no API token: no --token, no $SLATE_TOKEN, and "
				"no token in %s (%s): %s\n", path, from,
				ctl->token ? "the file is empty" : strerror(errno));
			free(ctl->token);
			ctl->token = NULL;
			return CTL_EXIT_FAIL;
		}
		snprintf(ctl->token_source, sizeof(ctl->token_source), "%s", path);
	}
	if (!ctl->token) {
		fprintf(stderr, "slatectl: out of memory\n");
		return CTL_EXIT_FAIL;
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ctl_reply *reply = arg;
	size_t n = size * nmemb;
	char *grown = realloc(reply->body, reply->len + n + 1);
	if (!grown)
		return 0; /* libcurl fails the transfer */
	reply->body = grown;
	memcpy(reply->body + reply->len, data, n);
	reply->len += n;
	reply->body[reply->len] = '\0';
	return n;
}

/* The errors of a connection that went away after the request was sent
 * (or while sending it). */
static bool was_reset(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_PARTIAL_FILE;
}

int ctl_http(struct ctl *ctl, const char *method, const char *path_query, const json_t *body,
	     bool public, bool idempotent_create, struct ctl_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	if (!public && ctl_token_resolve(ctl))
		return CTL_EXIT_FAIL;
	if (!ctl->curl && !(ctl->curl = curl_easy_init())) {
		fprintf(stderr, "slatectl: cannot start libcurl\n");
		return CTL_EXIT_FAIL;
	}
	char url[4096], header[1200], errbuf[CURL_ERROR_SIZE];
	snprintf(url, sizeof(url), "%s%s", ctl->base, path_query);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	/* a POST without a body says Content-Length: 0 and no form type */
	headers = curl_slist_append(headers, text ? "Content-Type: application/json"
						  : "Content-Type:");
	if (ctl->token) { /* public verbs never resolve one, so send none */
		snprintf(header, sizeof(header), "Authorization: Bearer %s", ctl->token);
		headers = curl_slist_append(headers, header);
	}
	if (idempotent_create) {
		unsigned char key[16];
		char hex[33];
		if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
			fprintf(stderr, "slatectl: cannot make an Idempotency-Key: %s\n",
				strerror(errno));
			free(text);
			curl_slist_free_all(headers);
			return CTL_EXIT_FAIL;
		}
		for (size_t i = 0; i < sizeof(key); i++)
			sprintf(hex + 2 * i, "%02x", key[i]);
		snprintf(header, sizeof(header), "Idempotency-Key: slatectl-%s", hex);
		headers = curl_slist_append(headers, header);
	}
	CURL *c = ctl->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "slatectl/1");
	if (text) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (!strcmp(method, "POST") || !strcmp(method, "PATCH")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (ctl->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	CURLcode rc = CURLE_OK;
	/* A retry is safe for what does not create, and for what creates
	 * under the same Idempotency-Key; DELETE's retry may find it gone
	 * (the caller takes that 404 as done). */
	for (int attempt = 0; attempt < 2; attempt++) {
		errbuf[0] = '\0';
		free(reply->body);
		reply->body = NULL;
		reply->len = 0;
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK || !was_reset(rc) ||
		    (!strcmp(method, "POST") && !idempotent_create))
			break;
		reply->retried = true;
		usleep(200 * 1000);
	}
	free(text);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		fprintf(stderr, "slatectl: cannot reach %s: %s\n", url,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(reply->body);
		reply->body = NULL;
		return CTL_EXIT_FAIL;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	if (!reply->body)
		reply->body = calloc(1, 1);
	if (reply->len)
		reply->json = json_loadb(reply->body, reply->len, 0, NULL);
	return 0;
}
