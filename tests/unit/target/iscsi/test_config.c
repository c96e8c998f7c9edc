/*
 * test_config.c - the iSCSI configuration kept in the pool
 * (target/iscsi/config.c): round trips, the checks on what is saved, and
 * damaged records refused on load with a reason.
 */
#include <errno.h>

#include "target/iscsi/iscsi.h"
#include "tests/harness.h"
#include "tests/unit/cowstore/testutil.h"

#define Q "iqn.2026-11.dev.slate:"

static struct iscsi_config cfg, back;
static char why[256];

static void make_target(struct iscsi_target_config *t)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->iqn, Q "t1");
	strcpy(t->auth.chap.user, "alice");
	strcpy(t->auth.chap.secret, "alice-secret-1");
	strcpy(t->auth.mutual.user, "array");
	strcpy(t->auth.mutual.secret, "array-secret-1");
	t->nacl = 2;
	strcpy(t->acl[0], Q "a");
	strcpy(t->acl[1], "eui.0123456789abcdef");
	t->nluns = 2;
	t->luns[0] = (struct iscsi_lun_map){ 0, "disk0" };
	t->luns[1] = (struct iscsi_lun_map){ 7, "disk1" };
}

static void test_round_trip(void)
{
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	CHECK_EQ(iscsi_config_load(tp.cs, &back, why, sizeof(why)), 0); /* nothing stored */
	CHECK_EQ(back.ntargets, 0);
	make_target(&cfg.targets[0]);
	CHECK_EQ(iscsi_config_save_target(tp.cs, &cfg.targets[0], why, sizeof(why)), 0);
	strcpy(cfg.discovery.chap.user, "finder");
	strcpy(cfg.discovery.chap.secret, "finder-secret1");
	cfg.nportals = 2;
	strcpy(cfg.portals[0], "127.0.0.1:3260");
	strcpy(cfg.portals[1], "[::1]:3261");
	CHECK_EQ(iscsi_config_save_global(tp.cs, &cfg, why, sizeof(why)), 0);
	REQUIRE(test_pool_reopen(&tp) == 0);
	CHECK_EQ(iscsi_config_load(tp.cs, &back, why, sizeof(why)), 0);
	REQUIRE(back.ntargets == 1);
	CHECK(memcmp(&back.targets[0], &cfg.targets[0], sizeof(cfg.targets[0])) == 0);
	CHECK(memcmp(&back.discovery, &cfg.discovery, sizeof(cfg.discovery)) == 0);
	CHECK_EQ(back.nportals, 2);
	CHECK(strcmp(back.portals[1], "[::1]:3261") == 0);
	CHECK(iscsi_config_find(&back, Q "t1") != NULL);
	CHECK(iscsi_config_find(&back, Q "t2") == NULL);
	CHECK_EQ(iscsi_config_delete_target(tp.cs, Q "t1"), 0);
	CHECK_EQ(iscsi_config_delete_target(tp.cs, Q "t1"), -ENOENT);
	test_pool_destroy(&tp);
}

static void test_checks(void)
{
	struct test_pool tp;
	struct iscsi_target_config *t = &cfg.targets[0];
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	static const char *bad_names[] = { "", "iqn.2026-11", "iqn.26-11.x:y", "eui.123",
					   "naa.xyz", "iqn.2026-11.dev slate", "target" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		make_target(t);
		strcpy(t->iqn, bad_names[i]);
		CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL);
	}
	make_target(t);
	strcpy(t->auth.chap.secret, "short");
	CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "secret") != NULL);
	make_target(t);
	strcpy(t->auth.mutual.secret, t->auth.chap.secret);
	CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL);
	make_target(t);
	t->auth.chap.user[0] = 0;
	t->auth.chap.secret[0] = 0;
	CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL); /* mutual only */
	make_target(t);
	t->luns[1].lun = 0;
	CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL); /* twice */
	make_target(t);
	strcpy(t->acl[1], "nobody");
	CHECK_EQ(iscsi_config_save_target(tp.cs, t, why, sizeof(why)), -EINVAL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.nportals = 1;
	strcpy(cfg.portals[0], "localhost:3260");
	CHECK_EQ(iscsi_config_save_global(tp.cs, &cfg, why, sizeof(why)), -EINVAL);
	test_pool_destroy(&tp);
}

static void test_names(void)
{
	static const char *good[] = { "iqn.2026-11.dev.slate:demo", "iqn.1998-01.com.vmware:esx-1",
				      "IQN.1991-05.COM.MICROSOFT:HOST", "eui.02004567A425678D",
				      "naa.52004567ba64678d", "iqn.2001-04.com.example" };
	static const char *bad[] = { "iqn.2026-13.dev.slate:x", "iqn.2026-00.dev.slate:x",
				     "iqn.20a6-11.dev.slate:x", "iqn.2026-1x.dev.slate:x",
				     "iqn.2026_11.dev.slate:x", "iqn.2026-11:dev.slate",
				     "iqn.2026-11..x", "eui.02004567A425678", "naa.5200" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(iscsi_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (iscsi_name_valid(bad[i]))
			CHECK(!bad[i]); /* names the one accepted */
	/* names compare without regard to case (RFC 3722) */
	memset(&back, 0, sizeof(back));
	make_target(&back.targets[0]);
	back.ntargets = 1;
	CHECK(iscsi_config_find(&back, "IQN.2026-11.DEV.SLATE:T1") == &back.targets[0]);
	CHECK(iscsi_config_find(&back, Q "t10") == NULL);
}

static void test_damaged_records(void)
{
	static const char *records[] = {
		"",                                   /* empty */
		"version 2\n",                        /* from a newer Slate */
		"version 1\nlun 0\n",                 /* volume missing */
		"version 1\nlun x disk\n",
		"version 1\nchap a b c d\n",          /* trailing words */
		"version 1\nchap alice alice-secret-1\nchap bob bob-secret-123\n",
		"version 1\nwhatever\n",
		"lun 0 disk\n",                       /* no version line */
		"version 1\nlun 300 disk\n",          /* passes parsing, fails the checks */
	};
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		CHECK_EQ(cowstore_config_put(tp.cs, "iscsi/target/" Q "x", records[i],
					     strlen(records[i])), 0);
		why[0] = 0;
		CHECK_EQ(iscsi_config_load(tp.cs, &back, why, sizeof(why)), -EINVAL);
		CHECK(why[0] != 0);
	}
	CHECK_EQ(cowstore_config_put(tp.cs, "iscsi/target/" Q "x", "version 1\nlun 3 d\n", 18), 0);
	CHECK_EQ(iscsi_config_load(tp.cs, &back, why, sizeof(why)), 0);
	CHECK_EQ(back.targets[0].luns[0].lun, 3);
	test_pool_destroy(&tp);
}

static void test_portal_parse(void)
{
	char address[64];
	uint16_t port;
	CHECK_EQ(iscsi_portal_parse("127.0.0.1:3260", address, sizeof(address), &port), 0);
	CHECK(strcmp(address, "127.0.0.1") == 0 && port == 3260);
	CHECK_EQ(iscsi_portal_parse("[::1]:0", address, sizeof(address), &port), 0);
	CHECK(strcmp(address, "::1") == 0 && port == 0);
	static const char *bad[] = { "127.0.0.1", ":3260", "127.0.0.1:", "127.0.0.1:70000",
				     "[::1:3260", "host:3260", "[]:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(iscsi_portal_parse(bad[i], address, sizeof(address), &port), -EINVAL);
	CHECK(iscsi_portal_equal("[::1]:3260", "[0::1]:3260"));
	CHECK(iscsi_portal_equal("127.0.0.1:3260", "127.0.0.1:3260"));
	CHECK(!iscsi_portal_equal("127.0.0.1:3260", "127.0.0.1:3261"));
	CHECK(!iscsi_portal_equal("127.0.0.1:3260", "[::1]:3260"));
	CHECK(!iscsi_portal_equal("127.0.0.1:3260", "bad"));
}

/* Configured portals must all be able to listen at once. */
static void test_portal_sets(void)
{
	static const char *bad[][2] = {
		{ "127.0.0.1:3260", "127.0.0.1:3260" }, /* twice */
		{ "[::1]:3260", "[0::1]:3260" },        /* twice, written otherwise */
		{ "0.0.0.0:3260", "127.0.0.1:3260" },   /* the wildcard takes it */
		{ "127.0.0.1:3260", "[::]:3260" },      /* IPv6's takes IPv4 too */
		{ "127.0.0.1:0", NULL },                /* no port: a new one each start */
	};
	static const char *good[2] = { "0.0.0.0:3260", "127.0.0.1:3261" };
	struct test_pool tp;
	REQUIRE(test_pool_open(&tp, 64, 0) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		for (int j = 0; j < 2 && bad[i][j]; j++)
			strcpy(cfg.portals[cfg.nportals++], bad[i][j]);
		why[0] = 0;
		CHECK_EQ(iscsi_config_save_global(tp.cs, &cfg, why, sizeof(why)), -EINVAL);
		CHECK(strstr(why, "portal") != NULL);
	}
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.portals[cfg.nportals++], good[0]);
	strcpy(cfg.portals[cfg.nportals++], good[1]);
	CHECK_EQ(iscsi_config_save_global(tp.cs, &cfg, why, sizeof(why)), 0);
	test_pool_destroy(&tp);
}

static const struct harness_test tests[] = {
	{ "round_trip", test_round_trip },
	{ "checks", test_checks },
	{ "names", test_names },
	{ "damaged_records", test_damaged_records },
	{ "portal_parse", test_portal_parse },
	{ "portal_sets", test_portal_sets },
};

HARNESS_MAIN(tests)
