/*
 * auth.c - API tokens, users and passwords.
 *
 * A token is "slt_" and 64 hex digits of getrandom(2); the pool keeps only
 * its SHA-256, in the record M/token/<id> where id is the first 16 hex
 * digits of that hash (so a request finds its record in one lookup and the
 * stored hash is compared in constant time).  A token belongs to a user and
 * carries a role no higher than the user's; deleting the user disables its
 * tokens.  Passwords are kept as PBKDF2-HMAC-SHA256 (PASSWORD_ITERATIONS
 * rounds, 16-byte salt).
 *
 * First start: user "admin" (role admin) with a random password, and one
 * admin token; both are written once, mode 0600, to DATA/admin-password and
 * DATA/admin-token, and the marker record M/init/done keeps a later start
 * from doing it again (deleting those files does not bring them back).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mgmt/api.h"

#define PASSWORD_ITERATIONS 60000

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", bytes[i]);
}

static int random_hex(char *out, size_t nbytes)
{
	unsigned char buf[64];
	if (nbytes > sizeof(buf) || getrandom(buf, nbytes, 0) != (ssize_t)nbytes)
		return -EIO;
	to_hex(buf, nbytes, out);
	return 0;
}

static void sha256_hex(const char *text, char out[65])
{
	unsigned char digest[32];
	unsigned len = sizeof(digest);
	EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL);
	to_hex(digest, sizeof(digest), out);
}

const char *api_role_name(enum api_role role)
{
	return role == ROLE_ADMIN ? "admin" : "read-only";
}

int api_role_parse(const char *text, enum api_role *role)
{
	if (!strcmp(text, "admin"))
		*role = ROLE_ADMIN;
	else if (!strcmp(text, "read-only"))
		*role = ROLE_READ;
	else
		return -EINVAL;
	return 0;
}

/* ---- passwords -------------------------------------------------------------- */

static int pbkdf2_hex(const char *password, const char *salt_hex, char out[65])
{
	unsigned char key[32];
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (const unsigned char *)salt_hex,
			       (int)strlen(salt_hex), PASSWORD_ITERATIONS, EVP_sha256(),
			       sizeof(key), key))
		return -EIO;
	to_hex(key, sizeof(key), out);
	return 0;
}

int api_password_set(json_t *user, const char *password)
{
	char salt[33], hash[65];
	int rc = random_hex(salt, 16);
	if (!rc)
		rc = pbkdf2_hex(password, salt, hash);
	if (!rc && (json_object_set_new(user, "salt", json_string(salt)) ||
		    json_object_set_new(user, "password_hash", json_string(hash))))
		rc = -ENOMEM;
	return rc;
}

bool api_password_check(const json_t *user, const char *password)
{
	const char *salt = json_string_value(json_object_get(user, "salt"));
	const char *want = json_string_value(json_object_get(user, "password_hash"));
	char got[65];
	if (!salt || !want || strlen(want) != 64 || pbkdf2_hex(password, salt, got))
		return false;
	return CRYPTO_memcmp(got, want, 64) == 0;
}

/* ---- tokens ------------------------------------------------------------------ */

int api_token_create(struct mgmt *m, const char *user, const char *name, enum api_role role,
		     int64_t ttl_s, char secret[API_TOKEN_LEN + 1], json_t **record)
{
	char hash[65], id[17];
	memcpy(secret, "slt_", 4);
	int rc = random_hex(secret + 4, 32);
	if (rc)
		return rc;
	sha256_hex(secret, hash);
	memcpy(id, hash, 16);
	id[16] = '\0';
	int64_t now = api_now_ns(m);
	json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", id, "name", name,
			      "user", user, "role", api_role_name(role), "hash", hash,
			      "created_at", api_time(now), "expires_at",
			      ttl_s ? api_time(now + ttl_s * 1000000000) : json_null());
	if (!t)
		return -ENOMEM;
	rc = api_obj_put(m, "token", id, t);
	if (rc || !record)
		json_decref(t);
	else
		*record = t;
	return rc;
}

int api_auth_check(struct mgmt *m, const char *authorization, struct api_who *who)
{
	if (!authorization || !*authorization)
		return -ENOENT;
	if (strncasecmp(authorization, "Bearer ", 7))
		return -EACCES;
	const char *secret = authorization + 7;
	if (strlen(secret) != API_TOKEN_LEN || strncmp(secret, "slt_", 4))
		return -EACCES;
	char hash[65], id[17];
	sha256_hex(secret, hash);
	memcpy(id, hash, 16);
	id[16] = '\0';
	json_t *t = NULL, *u = NULL;
	int rc = api_obj_get(m, "token", id, &t);
	const char *stored = rc ? NULL : json_string_value(json_object_get(t, "hash"));
	const char *user = rc ? NULL : json_string_value(json_object_get(t, "user"));
	const char *expires = rc ? NULL : json_string_value(json_object_get(t, "expires_at"));
	const char *role = rc ? NULL : json_string_value(json_object_get(t, "role"));
	int64_t expires_ns;
	enum api_role token_role, user_role;
	rc = -EACCES;
	if (stored && user && role && strlen(stored) == 64 && !CRYPTO_memcmp(stored, hash, 64) &&
	    (!expires || (!api_time_parse(expires, &expires_ns) && expires_ns > api_now_ns(m))) &&
	    !api_role_parse(role, &token_role) && !api_obj_get(m, "user", user, &u) &&
	    !api_role_parse(json_string_value(json_object_get(u, "role")) ?: "", &user_role)) {
		who->role = token_role < user_role ? token_role : user_role;
		snprintf(who->user, sizeof(who->user), "%s", user);
		snprintf(who->token_id, sizeof(who->token_id), "%s", id);
		rc = 0;
	}
	json_decref(t);
	json_decref(u);
	return rc;
}

/* ---- first start ----------------------------------------------------------------- */

/* Write text to DATA/name, created with mode 0600 (replacing none). */
static int write_secret(struct mgmt *m, const char *name, const char *text, char *err,
			size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", m->data_dir, name);
	unlink(path); /* a file from an earlier pool in this directory */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int rc = 0;
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

int api_auth_bootstrap(struct mgmt *m, char *err, size_t errlen)
{
	json_t *done = NULL;
	if (!api_obj_get(m, "init", "done", &done)) {
		json_decref(done);
		return 0;
	}
	char password[33], secret[API_TOKEN_LEN + 1];
	json_t *admin = json_pack("{s:s, s:s, s:o}", "name", "admin", "role", "admin",
				  "created_at", api_time(api_now_ns(m)));
	int rc = admin ? random_hex(password, 16) : -ENOMEM;
	if (!rc)
		rc = api_password_set(admin, password);
	if (!rc)
		rc = api_obj_put(m, "user", "admin", admin);
	json_decref(admin);
	if (!rc)
		rc = api_token_create(m, "admin", "admin-token", ROLE_ADMIN, 0, secret, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot create the admin user and token: %s", strerror(-rc));
		return rc;
	}
	rc = write_secret(m, "admin-password", password, err, errlen);
	if (!rc)
		rc = write_secret(m, "admin-token", secret, err, errlen);
	json_t *marker = json_pack("{s:o}", "at", api_time(api_now_ns(m)));
	if (!rc)
		rc = api_obj_put(m, "init", "done", marker);
	json_decref(marker);
	return rc;
}
