/* access_test.c: the role table, the password rules and the lockout clock (real SQLite store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "access.h"
#include "audit.h"
#include "auth.h"
#include "config.h"
#include "store.h"
#include "test_util.h"

static char dir[64];
static struct ss_store *store;
static const char *const password = "et-langt-passord-for-test";

static int setup(void **state)
{
	static const struct sh_conf_key keys[] = {
		{"password_strength", SH_CONF_STRING, "min", "tests"}, {NULL, 0, NULL, NULL}};
	struct sh_reason why = {{0}};
	unsigned char sk[64] = {1};
	char path[96], *hash = NULL;
	const char *oslo[] = {"0301"};
	int64_t id;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	sh_config_reset();
	if (sh_config_init(keys, NULL, &why) != SH_OK)
		return -1;
	ss_audit_key(sk);
	snprintf(dir, sizeof(dir), "/tmp/jsr-access-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (ss_store_open(path, &store, &why) != SH_OK || ss_password_hash(password, &hash) != SH_OK)
		return -1;
	if (ss_user_add(store, "kari", "kommune_user", oslo, 1, hash, &id, &why) != SH_OK)
		return -1;
	free(hash);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ss_store_close(store);
	return tu_rmtree(dir);
}

/* DOMAIN.md §1, written out here independently of access.c's table. */
static void test_role_matrix(void **state)
{
	static const struct {
		const char *role;
		bool participants, export, admin_own, admin_any, national, kommune;
	} want[] = {
		{"kommune_user", true, true, false, false, false, true},
		{"kommune_admin", true, true, true, false, false, true},
		{"imdi_admin", false, false, false, true, true, false},
		{"imdi_analyst", false, false, false, false, true, false},
		{"root", false, false, false, false, false, false},
		{"", false, false, false, false, false, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		const char *r = want[i].role;

		assert_int_equal(ss_role_may(r, SS_MAY_PARTICIPANTS), want[i].participants);
		assert_int_equal(ss_role_may(r, SS_MAY_EXPORT), want[i].export);
		assert_int_equal(ss_role_may(r, SS_MAY_ADMIN_OWN), want[i].admin_own);
		assert_int_equal(ss_role_may(r, SS_MAY_ADMIN_ANY), want[i].admin_any);
		assert_int_equal(ss_role_may(r, SS_MAY_NATIONAL), want[i].national);
		assert_int_equal(ss_role_kommune(r), want[i].kommune);
		assert_int_equal(ss_role_label(r) != NULL, i < 4);
	}
	assert_false(ss_role_may(NULL, ~0u));
	assert_string_equal(ss_role_label("kommune_admin"), "kommuneadministrator");
}

static void test_password_rules(void **state)
{
	static const struct {
		const char *pw;
		bool ok;
		const char *words;
	} cases[] = {
		{"kort", false, "12 tegn"},
		{"Kari.Nordmann-2026!", false, "brukernavnet"},
		{"kari.nordmann@example.no", false, "e-post"},
		{"passwordpassword", false, "lett å gjette"},
		{"aaaaaaaaaaaaaaaa", false, "lett å gjette"},
		{"password1234", false, "lett å gjette"},
		{"Sommer2026!!", false, "lett å gjette"},
		{"Jobbsjansen2026!", false, "lett å gjette"},
		{"qwertyuiop12", false, "lett å gjette"},
		{"Sommerfugl-over-Mjøsa-42", true, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct sh_reason why = {{0}};
		int rc = ss_password_choose_ok(cases[i].pw, "kari.nordmann", "kari.nordmann@example.no", 40, &why);

		if ((rc == SH_OK) != cases[i].ok)
			fail_msg("«%s»: rc %d, «%s»", cases[i].pw, rc, why.text);
		if (cases[i].words && !strstr(why.text, cases[i].words))
			fail_msg("«%s»: «%s» lacks «%s»", cases[i].pw, why.text, cases[i].words);
	}
}

static bool attempt(const struct ss_access_cfg *cfg, const char *user, const char *pw, const char *addr,
		    int64_t now)
{
	struct ss_user u;
	bool ok = false;

	assert_int_equal(ss_login_attempt(store, cfg, user, pw, NULL, addr, now, &u, &ok), SH_OK);
	if (!ok)
		assert_int_equal(u.id, 0); /* nothing about the account leaks out of a failure */
	return ok;
}

static void test_lockout_clock(void **state)
{
	struct ss_access_cfg cfg = {.require_totp = false, .lockout_threshold = 3, .lockout_base_ms = 1000,
				    .address_threshold = 100};
	int64_t t = 1000000;

	(void)state;
	assert_true(attempt(&cfg, "kari", password, "10.0.0.1", t));
	for (int i = 0; i < 2; i++)
		assert_false(attempt(&cfg, "kari", "feil", "10.0.0.1", t));
	assert_true(attempt(&cfg, "kari", password, "10.0.0.1", t)); /* below the threshold */
	for (int i = 0; i < 3; i++)
		assert_false(attempt(&cfg, "kari", "feil", "10.0.0.1", t));
	/* locked for 1 s: the right password fails, and trying does not lengthen the lock */
	for (int i = 0; i < 5; i++)
		assert_false(attempt(&cfg, "kari", password, "10.0.0.2", t + 500));
	assert_true(attempt(&cfg, "kari", password, "10.0.0.2", t + 1001));
	/* each failure past the threshold doubles the lock: 1 s, 2 s, 4 s */
	for (int i = 0; i < 3; i++)
		assert_false(attempt(&cfg, "kari", "feil", "10.0.0.1", t + 2000));
	assert_false(attempt(&cfg, "kari", "feil", "10.0.0.1", t + 3001));  /* 4th: locks for 2 s */
	assert_false(attempt(&cfg, "kari", password, "10.0.0.2", t + 4500));
	assert_true(attempt(&cfg, "kari", password, "10.0.0.2", t + 5002));
	/* unknown users fail the same way */
	assert_false(attempt(&cfg, "ingen", password, "10.0.0.3", t));
}

static void test_address_lock(void **state)
{
	struct ss_access_cfg cfg = {.require_totp = false, .lockout_threshold = 100, .lockout_base_ms = 1000,
				    .address_threshold = 3};
	int64_t t = 2000000;
	char name[16];

	(void)state;
	/* one address guessing many usernames: the address locks, other addresses do not */
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "gjett%d", i);
		assert_false(attempt(&cfg, name, "feil", "10.9.9.9", t));
	}
	assert_false(attempt(&cfg, "kari", password, "10.9.9.9", t + 10));
	assert_true(attempt(&cfg, "kari", password, "10.1.1.1", t + 10));
	assert_true(attempt(&cfg, "kari", password, "10.9.9.9", t + 1011));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_matrix),
		cmocka_unit_test(test_password_rules),
		cmocka_unit_test_setup_teardown(test_lockout_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
