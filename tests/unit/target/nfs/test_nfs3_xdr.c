/*
 * test_nfs3_xdr.c - the NFSv3 types shared by the procedures
 * (target/nfs/nfs3_xdr.c): fattr3 and wcc_data byte for byte, sattr3 with
 * every time_how and bad values, file names (too long, '/', NUL, empty),
 * diropargs, and errno to nfsstat3.
 */
#include <errno.h>

#include "target/nfs/nfs3.h"
#include "tests/harness.h"

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_fattr(void)
{
	struct cowstore_ns_attr a = { .ino = 77, .type = COWSTORE_NS_REG, .mode = 0100644,
				      .nlink = 2, .uid = 5, .gid = 6, .size_bytes = 1ull << 33,
				      .used_bytes = 4096, .atime_ns = 1500000000123456789ll,
				      .mtime_ns = 2000000001, .ctime_ns = -5 };
	struct xdr_out out;
	xdr_out_init(&out);
	nfs3_put_fattr(&out, &a);
	REQUIRE(out.len == 84);
	const uint8_t *p = out.buf;
	CHECK_EQ(be32_at(p), NF3REG);
	CHECK_EQ(be32_at(p + 4), 0644); /* only the permission bits */
	CHECK_EQ(be32_at(p + 8), 2);
	CHECK_EQ(be32_at(p + 12), 5);
	CHECK_EQ(be32_at(p + 16), 6);
	CHECK_EQ(be32_at(p + 20), 2); /* size high word */
	CHECK_EQ(be32_at(p + 24), 0);
	CHECK_EQ(be32_at(p + 32), 4096);
	CHECK_EQ(be32_at(p + 36) | be32_at(p + 40), 0); /* rdev */
	CHECK_EQ(be32_at(p + 52), 0);                 /* fileid */
	CHECK_EQ(be32_at(p + 56), 77);
	CHECK_EQ(be32_at(p + 60), 1500000000u);       /* atime */
	CHECK_EQ(be32_at(p + 64), 123456789u);
	CHECK_EQ(be32_at(p + 68), 2);                 /* mtime */
	CHECK_EQ(be32_at(p + 72), 1);
	CHECK_EQ(be32_at(p + 76), 0);                 /* a negative ctime reads as 0 */
	CHECK_EQ(be32_at(p + 80), 0);
	out.len = 0;
	nfs3_put_wcc(&out, &a, NULL);
	CHECK_EQ(out.len, 4 + 24 + 4);
	CHECK_EQ(be32_at(out.buf), 1);
	CHECK_EQ(be32_at(out.buf + 28), 0);
	out.len = 0;
	nfs3_put_post_fh(&out, 9, &a);
	CHECK_EQ(out.len, 4 + 4 + NFS_FH_BYTES);
	xdr_out_free(&out);
}

static bool sattr_of(const uint32_t *words, size_t n, struct nfs3_sattr *s)
{
	uint8_t buf[128];
	for (size_t i = 0; i < n; i++) {
		buf[4 * i] = (uint8_t)(words[i] >> 24);
		buf[4 * i + 1] = (uint8_t)(words[i] >> 16);
		buf[4 * i + 2] = (uint8_t)(words[i] >> 8);
		buf[4 * i + 3] = (uint8_t)words[i];
	}
	struct xdr_in in;
	xdr_in_init(&in, buf, 4 * n);
	return nfs3_get_sattr(&in, s) && xdr_left(&in) == 0;
}

static void test_sattr(void)
{
	struct nfs3_sattr s;
	uint32_t none[] = { 0, 0, 0, 0, 0, 0 };
	CHECK(sattr_of(none, 6, &s) && s.mask == 0);
	uint32_t all[] = { 1, 0104755, 1, 10, 1, 20, 1, 0, 4096, 1, 2, 7, 999999999 };
	REQUIRE(sattr_of(all, 13, &s));
	CHECK_EQ(s.mask, COWSTORE_NS_SET_MODE | COWSTORE_NS_SET_UID | COWSTORE_NS_SET_GID |
			 COWSTORE_NS_SET_SIZE | COWSTORE_NS_SET_ATIME_NOW | COWSTORE_NS_SET_MTIME);
	CHECK_EQ(s.values.mode, 04755);
	CHECK(s.values.uid == 10 && s.values.gid == 20 && s.values.size_bytes == 4096);
	CHECK_EQ(s.values.mtime_ns, 7999999999ll);
	uint32_t bad_nsec[] = { 0, 0, 0, 0, 2, 1, 1000000000, 0 };
	CHECK(!sattr_of(bad_nsec, 8, &s));
	uint32_t bad_how[] = { 0, 0, 0, 0, 3, 0 };
	CHECK(!sattr_of(bad_how, 6, &s));
	uint32_t bad_bool[] = { 2, 0, 0, 0, 0, 0 };
	CHECK(!sattr_of(bad_bool, 6, &s));
	uint32_t truncated[] = { 1, 0644, 0, 0, 0 };
	CHECK(!sattr_of(truncated, 5, &s));
}

/* An XDR string of n bytes of 'a', with byte special at 'at' unless special
 * is -1. */
static size_t name_xdr(uint8_t *buf, size_t n, size_t at, int special)
{
	buf[0] = (uint8_t)(n >> 24), buf[1] = (uint8_t)(n >> 16), buf[2] = (uint8_t)(n >> 8),
	buf[3] = (uint8_t)n;
	memset(buf + 4, 'a', n);
	if (special >= 0)
		buf[4 + at] = (uint8_t)special;
	size_t padded = (n + 3) & ~(size_t)3;
	memset(buf + 4 + n, 0, padded - n);
	return 4 + padded;
}

static void test_names(void)
{
	static uint8_t buf[8192];
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	struct xdr_in in;
	xdr_in_init(&in, buf, name_xdr(buf, 255, 0, -1));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3_OK && strlen(name) == 255);
	xdr_in_init(&in, buf, name_xdr(buf, 256, 0, -1));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3ERR_NAMETOOLONG && !in.err);
	xdr_in_init(&in, buf, name_xdr(buf, 10, 4, '/'));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3ERR_INVAL);
	xdr_in_init(&in, buf, name_xdr(buf, 10, 3, 0));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3ERR_INVAL);
	xdr_in_init(&in, buf, name_xdr(buf, 10, 9, 0x01));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3_OK && name[9] == 0x01);
	xdr_in_init(&in, buf, name_xdr(buf, 0, 0, -1));
	CHECK(nfs3_get_name(&in, name, &st) && st == NFS3ERR_INVAL);
	xdr_in_init(&in, buf, name_xdr(buf, NFS3_NAME_WIRE_MAX + 1, 0, -1));
	CHECK(!nfs3_get_name(&in, name, &st) && in.err); /* past any sane length: garbage */
	xdr_in_init(&in, buf, 6);
	CHECK(!nfs3_get_name(&in, name, &st) && in.err);
}

static void test_diropargs(void)
{
	struct xdr_out out;
	xdr_out_init(&out);
	struct nfs_fh fh = { .export_id = 1, .ino = 2, .gen = 3 }, got;
	nfs_fh_encode(&out, &fh);
	xdr_put_string(&out, "x");
	char name[NFS3_NAME_BUF];
	enum nfsstat3 st;
	struct xdr_in in;
	xdr_in_init(&in, out.buf, out.len);
	CHECK(nfs3_get_diropargs(&in, &got, name, &st) && st == NFS3_OK && !strcmp(name, "x"));
	CHECK(got.ino == 2 && got.gen == 3);
	out.len = 0; /* a handle that is not ours: BADHANDLE wins over the bad name */
	xdr_put_opaque(&out, "garbage-handle-bytes", 20);
	xdr_put_string(&out, "");
	xdr_in_init(&in, out.buf, out.len);
	CHECK(nfs3_get_diropargs(&in, &got, name, &st) && st == NFS3ERR_BADHANDLE);
	xdr_in_init(&in, out.buf, out.len - 2);
	CHECK(!nfs3_get_diropargs(&in, &got, name, &st));
	xdr_out_free(&out);
}

static void test_status(void)
{
	static const struct { int err; enum nfsstat3 st; } map[] = {
		{ 0, NFS3_OK }, { -ENOENT, NFS3ERR_NOENT }, { -EEXIST, NFS3ERR_EXIST },
		{ -ENOTDIR, NFS3ERR_NOTDIR }, { -EISDIR, NFS3ERR_ISDIR },
		{ -ENOTEMPTY, NFS3ERR_NOTEMPTY }, { -ESTALE, NFS3ERR_STALE },
		{ -ENOSPC, NFS3ERR_NOSPC }, { -ENAMETOOLONG, NFS3ERR_NAMETOOLONG },
		{ -EAGAIN, NFS3ERR_NOT_SYNC }, { -EFBIG, NFS3ERR_FBIG }, { -EMLINK, NFS3ERR_MLINK },
		{ -EINVAL, NFS3ERR_INVAL }, { -EIO, NFS3ERR_IO }, { -ENOMEM, NFS3ERR_IO },
		{ -EROFS, NFS3ERR_ROFS }, { -EACCES, NFS3ERR_ACCES }, { -EPERM, NFS3ERR_PERM },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		CHECK_EQ(nfs3_status(map[i].err), map[i].st);
}

static const struct harness_test tests[] = {
	{ "fattr", test_fattr }, { "sattr", test_sattr },   { "names", test_names },
	{ "diropargs", test_diropargs }, { "status", test_status },
};
HARNESS_MAIN(tests)
