/*
 * test_export.c - NFS exports and who may use them (target/nfs/export.c,
 * access.c, fh.c): client rule syntax, export records and their ids, the
 * default /demo export, address matching with CIDR and source ports,
 * credential squashing, permission bits, and file handle codecs.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "target/nfs/internal.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

static struct nfs_client_rule rule_of(const char *text)
{
	struct nfs_client_rule r;
	char err[160];
	CHECK_EQ(nfs_client_rule_parse(text, &r, err, sizeof(err)), 0);
	return r;
}

static void test_rule_parse(void)
{
	struct nfs_client_rule r = rule_of("10.0.0.0/8");
	CHECK(!r.read_only && r.squash == NFS_SQUASH_ROOT && !r.insecure);
	CHECK(r.anon_uid == 65534 && r.anon_gid == 65534);
	r = rule_of("*(ro,no_root_squash,insecure,anonuid=7,anongid=8)");
	CHECK(r.read_only && r.squash == NFS_SQUASH_NONE && r.insecure);
	CHECK(r.anon_uid == 7 && r.anon_gid == 8 && !strcmp(r.pattern, "*"));
	r = rule_of("::1(all_squash)");
	CHECK(r.squash == NFS_SQUASH_ALL);
	char text[128];
	nfs_client_rule_format(&r, text, sizeof(text));
	struct nfs_client_rule again = rule_of(text);
	CHECK(!memcmp(&again, &r, sizeof(r)));
	static const char *bad[] = { "", "(rw)", "host.example", "10.0.0.1/33", "::1/129",
				     "1.2.3.4(rw", "1.2.3.4(bogus)", "1.2.3.4(anonuid=x)",
				     "1.2.3.4(rw)x", "1.2.3.4/", "1.2.3.4(anonuid=)" };
	char err[160];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK_EQ(nfs_client_rule_parse(bad[i], &r, err, sizeof(err)), -EINVAL);
		CHECK(err[0] != 0);
	}
}

static void test_exports(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	bool created;
	CHECK_EQ(nfs_export_default(tp.cs, &created), 0);
	CHECK(created);
	struct nfs_export *list;
	size_t count;
	CHECK_EQ(nfs_export_list(tp.cs, &list, &count), 0);
	REQUIRE(count == 1);
	CHECK(!strcmp(list[0].path, "/demo") && list[0].nrules == 2 && list[0].id == 1);
	CHECK(list[0].rules[0].squash == NFS_SQUASH_NONE && list[0].rules[0].insecure);
	free(list);

	struct nfs_client_rule r = rule_of("127.0.0.1(ro)");
	char err[256];
	CHECK_EQ(nfs_export_put(tp.cs, "/a/b", &r, 1, err, sizeof(err)), 0);
	struct cowstore_ns_attr attr;
	CHECK_EQ(nfs_path_lookup(tp.cs, "/a/b", &attr), 0);
	CHECK_EQ(attr.type, COWSTORE_NS_DIR);
	CHECK_EQ(nfs_path_lookup(tp.cs, "/a/c", &attr), -ENOENT);
	/* replacing keeps the id; a removed export's id is not reused */
	CHECK_EQ(nfs_export_put(tp.cs, "/a/b", &r, 1, err, sizeof(err)), 0);
	CHECK_EQ(nfs_export_remove(tp.cs, "/demo"), 0);
	CHECK_EQ(nfs_export_remove(tp.cs, "/demo"), -ENOENT);
	CHECK_EQ(nfs_export_put(tp.cs, "/demo", &r, 1, err, sizeof(err)), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(nfs_export_default(tp.cs, &created), 0);
	CHECK(!created);
	CHECK_EQ(nfs_export_list(tp.cs, &list, &count), 0);
	REQUIRE(count == 2);
	CHECK(!strcmp(list[0].path, "/a/b") && list[0].id == 2 && list[0].rules[0].read_only);
	CHECK(!strcmp(list[1].path, "/demo") && list[1].id == 3);
	free(list);

	static const char *bad_paths[] = { "demo", "/a/", "//a", "/a/../b", "/a/./b",
					   "/sp ace", "/.." };
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		CHECK_EQ(nfs_export_put(tp.cs, bad_paths[i], &r, 1, err, sizeof(err)), -EINVAL);
	CHECK_EQ(nfs_export_put(tp.cs, "/x", &r, 0, err, sizeof(err)), -EINVAL);
	/* a file in the way of an export path */
	struct cowstore_ns_create reg = { .type = COWSTORE_NS_REG, .mode = 0644 };
	CHECK_EQ(cowstore_ns_create(tp.cs, COWSTORE_NS_ROOT, "file", &reg, &attr), 0);
	CHECK_EQ(nfs_export_put(tp.cs, "/file", &r, 1, err, sizeof(err)), -ENOTDIR);
	CHECK_EQ(nfs_export_put(tp.cs, "/file/x", &r, 1, err, sizeof(err)), -ENOTDIR);
	test_pool_destroy(&tp);
}

static struct sockaddr_storage addr_of(const char *text, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
	} else {
		CHECK(inet_pton(AF_INET6, text, &v6->sin6_addr) == 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
	}
	return ss;
}

static void test_match(void)
{
	struct nfs_export exp = { .id = 1, .nrules = 3 };
	exp.rules[0] = rule_of("10.1.0.0/16(ro,insecure)");
	exp.rules[1] = rule_of("fd00::/8");
	exp.rules[2] = rule_of("192.168.1.7(insecure)");
	struct sockaddr_storage a = addr_of("10.1.200.3", 40000);
	CHECK(nfs_export_match(&exp, &a) == &exp.rules[0]);
	a = addr_of("::ffff:10.1.0.9", 40000); /* IPv4-mapped compares as IPv4 */
	CHECK(nfs_export_match(&exp, &a) == &exp.rules[0]);
	a = addr_of("10.2.0.1", 700);
	CHECK(nfs_export_match(&exp, &a) == NULL);
	a = addr_of("fd12::1", 700);
	CHECK(nfs_export_match(&exp, &a) == &exp.rules[1]);
	a = addr_of("fd12::1", 1024); /* secure: a privileged source port only */
	CHECK(nfs_export_match(&exp, &a) == NULL);
	a = addr_of("192.168.1.7", 50000);
	CHECK(nfs_export_match(&exp, &a) == &exp.rules[2]);
	a = addr_of("192.168.1.8", 50000);
	CHECK(nfs_export_match(&exp, &a) == NULL);
}

static void test_squash(void)
{
	struct rpc_cred rc = { .flavor = RPC_AUTH_SYS, .uid = 0, .gid = 0, .ngids = 2,
			       .gids = { 5, 6 } };
	struct nfs_cred cred;
	struct nfs_client_rule squash = rule_of("*(anonuid=99,anongid=98)");
	nfs_cred_from_rpc(&cred, &rc, &squash);
	CHECK(cred.uid == 99 && cred.gid == 98 && cred.ngids == 0);
	struct nfs_client_rule trust = rule_of("*(no_root_squash)");
	nfs_cred_from_rpc(&cred, &rc, &trust);
	CHECK(cred.uid == 0 && cred.gid == 0 && cred.ngids == 2 && cred.gids[1] == 6);
	rc.uid = 1000;
	rc.gid = 0;
	nfs_cred_from_rpc(&cred, &rc, &squash); /* root's group is squashed too */
	CHECK(cred.uid == 1000 && cred.gid == 98);
	struct nfs_client_rule all = rule_of("*(all_squash,anonuid=5)");
	nfs_cred_from_rpc(&cred, &rc, &all);
	CHECK(cred.uid == 5);
	rc.flavor = RPC_AUTH_NONE;
	nfs_cred_from_rpc(&cred, &rc, &trust);
	CHECK(cred.uid == 65534 && cred.gid == 65534);
}

static void test_access(void)
{
	struct cowstore_ns_attr file = { .type = COWSTORE_NS_REG, .mode = 0640, .uid = 10,
					 .gid = 20 };
	struct cowstore_ns_attr dir = { .type = COWSTORE_NS_DIR, .mode = 0750, .uid = 10,
					.gid = 20 };
	struct nfs_cred owner = { .uid = 10, .gid = 1 }, group = { .uid = 11, .gid = 3, .ngids = 1,
								   .gids = { 20 } };
	struct nfs_cred other = { .uid = 12, .gid = 12 }, root = { 0 };
	uint32_t all = 0x3f;
	CHECK_EQ(nfs_access_bits(&owner, &file, all), ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND);
	CHECK_EQ(nfs_access_bits(&group, &file, all), ACCESS3_READ);
	CHECK_EQ(nfs_access_bits(&other, &file, all), 0);
	CHECK_EQ(nfs_access_bits(&root, &file, all), ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXTEND);
	CHECK_EQ(nfs_access_bits(&group, &dir, all), ACCESS3_READ | ACCESS3_LOOKUP);
	CHECK_EQ(nfs_access_bits(&owner, &dir, all), 0x1f);
	CHECK_EQ(nfs_access_check(&other, &file, ACCESS3_READ), NFS3ERR_ACCES);
	CHECK_EQ(nfs_access_check(&group, &file, ACCESS3_MODIFY), NFS3ERR_ACCES);
	file.mode = 0; /* the owner keeps read and write on their file */
	CHECK_EQ(nfs_access_check(&owner, &file, ACCESS3_READ | ACCESS3_MODIFY), NFS3_OK);
	CHECK_EQ(nfs_access_check(&group, &dir, ACCESS3_MODIFY), NFS3ERR_ACCES);
	CHECK_EQ(nfs_access_check(&root, &dir, ACCESS3_MODIFY | ACCESS3_LOOKUP), NFS3_OK);
}

static void test_fh(void)
{
	struct xdr_out out;
	xdr_out_init(&out);
	struct nfs_fh fh = { .export_id = 7, .ino = 0x123456789abull, .gen = 0xdeadbeef }, got;
	nfs_fh_encode(&out, &fh);
	CHECK_EQ(out.len, 4 + NFS_FH_BYTES);
	CHECK(NFS_FH_BYTES <= 56);
	struct xdr_in in;
	enum nfsstat3 st;
	xdr_in_init(&in, out.buf, out.len);
	CHECK(nfs_fh_decode(&in, &got, &st) && st == NFS3_OK);
	CHECK(got.export_id == 7 && got.ino == fh.ino && got.gen == fh.gen);
	out.buf[4] = 2; /* another version */
	xdr_in_init(&in, out.buf, out.len);
	CHECK(!nfs_fh_decode(&in, &got, &st) && st == NFS3ERR_BADHANDLE && !in.err);
	uint8_t short_fh[] = { 0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 1 };
	xdr_in_init(&in, short_fh, sizeof(short_fh));
	CHECK(!nfs_fh_decode(&in, &got, &st) && st == NFS3ERR_BADHANDLE && !in.err);
	uint8_t long_fh[4 + 68] = { 0, 0, 0, 68 }; /* over NFS3_FHSIZE: bad XDR */
	xdr_in_init(&in, long_fh, sizeof(long_fh));
	CHECK(!nfs_fh_decode(&in, &got, &st) && in.err);
	xdr_in_init(&in, out.buf, 10); /* truncated */
	CHECK(!nfs_fh_decode(&in, &got, &st) && in.err);
	xdr_out_free(&out);
}

static const struct harness_test tests[] = {
	{ "rule_parse", test_rule_parse }, { "exports", test_exports }, { "match", test_match },
	{ "squash", test_squash },         { "access", test_access },   { "fh", test_fh },
};
HARNESS_MAIN(tests)
