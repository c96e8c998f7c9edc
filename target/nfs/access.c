/*
 * access.c - who is asking and what they may do: export rules matched
 * against the client's address and source port, AUTH_SYS credentials
 * squashed by the rule, and POSIX permission checks on an inode.
 *
 * AUTH_NONE callers are the anonymous user of the rule.  root (uid 0 after
 * squashing) passes every check except execute, which needs some x bit.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "target/nfs/internal.h"

/* IPv4-mapped IPv6 addresses compare as IPv4. */
static int peer_bytes(const struct sockaddr_storage *addr, uint8_t out[16], uint16_t *port)
{
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)addr;
		memcpy(out, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
		return AF_INET;
	}
	const struct sockaddr_in6 *a = (const void *)addr;
	*port = ntohs(a->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
		memcpy(out, a->sin6_addr.s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, &a->sin6_addr, 16);
	return AF_INET6;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole))
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool rule_matches(const struct nfs_client_rule *rule, int family, const uint8_t *peer)
{
	if (rule->family == 0)
		return true; /* "*" */
	return rule->family == family && prefix_equal(rule->addr, peer, rule->prefix_bits);
}

const struct nfs_client_rule *nfs_export_match(const struct nfs_export *exp,
					       const struct sockaddr_storage *addr)
{
	uint8_t peer[16];
	uint16_t port;
	int family = peer_bytes(addr, peer, &port);
	for (uint32_t i = 0; i < exp->nrules; i++) {
		const struct nfs_client_rule *rule = &exp->rules[i];
		if (rule_matches(rule, family, peer))
			return rule->insecure || port < 1024 ? rule : NULL;
	}
	return NULL;
}

void nfs_cred_from_rpc(struct nfs_cred *cred, const struct rpc_cred *rc,
		       const struct nfs_client_rule *rule)
{
	bool anon = rc->flavor != RPC_AUTH_SYS || rule->squash == NFS_SQUASH_ALL ||
		    (rule->squash == NFS_SQUASH_ROOT && rc->uid == 0);
	if (anon) {
		*cred = (struct nfs_cred){ .uid = rule->anon_uid, .gid = rule->anon_gid };
		return;
	}
	cred->uid = rc->uid;
	cred->gid = rc->gid;
	cred->ngids = rc->ngids;
	memcpy(cred->gids, rc->gids, rc->ngids * sizeof(rc->gids[0]));
	if (rule->squash == NFS_SQUASH_ROOT && cred->gid == 0)
		cred->gid = rule->anon_gid;
}

static bool in_group(const struct nfs_cred *cred, uint32_t gid)
{
	if (cred->gid == gid)
		return true;
	for (uint32_t i = 0; i < cred->ngids; i++)
		if (cred->gids[i] == gid)
			return true;
	return false;
}

/* The rwx triple of mode that applies to cred. */
static uint32_t mode_bits(const struct nfs_cred *cred, const struct cowstore_ns_attr *attr)
{
	if (cred->uid == attr->uid)
		return (attr->mode >> 6) & 7;
	if (in_group(cred, attr->gid))
		return (attr->mode >> 3) & 7;
	return attr->mode & 7;
}

uint32_t nfs_access_bits(const struct nfs_cred *cred, const struct cowstore_ns_attr *attr,
			 uint32_t asked)
{
	uint32_t rwx = cred->uid == 0 ? 7 : mode_bits(cred, attr);
	if (cred->uid == 0 && !(attr->mode & 0111) && attr->type != COWSTORE_NS_DIR)
		rwx &= 6u;
	uint32_t have = 0;
	if (rwx & 4)
		have |= ACCESS3_READ;
	if (rwx & 2)
		have |= ACCESS3_MODIFY | ACCESS3_EXTEND |
			(attr->type == COWSTORE_NS_DIR ? ACCESS3_DELETE : 0);
	if (rwx & 1)
		have |= attr->type == COWSTORE_NS_DIR ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
	return have & asked;
}

enum nfsstat3 nfs_access_check(const struct nfs_cred *cred, const struct cowstore_ns_attr *attr,
			       uint32_t want)
{
	uint32_t rw = ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND;
	if (cred->uid == attr->uid && attr->type == COWSTORE_NS_REG)
		want &= ~rw;
	return nfs_access_bits(cred, attr, want) == want ? NFS3_OK : NFS3ERR_ACCES;
}
