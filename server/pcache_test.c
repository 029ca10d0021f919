/* pcache_test.c: the merge's participant cache, alone and behind the store (real SQLite). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "participant.h"
#include "pcache.h"
#include "store.h"
#include "test_util.h"

static void person(struct sh_participant *p, const char *id, const char *sivilstand)
{
	sh_participant_init(p);
	snprintf(p->id, sizeof(p->id), "%s", id);
	assert_int_equal(sh_participant_set(p, SH_F_SIVILSTAND, NULL, sivilstand), SH_OK);
}

/* p's record, as the store keeps it beside the values */
static void record(struct sh_record *r, const char *sivilstand, uint64_t version)
{
	memset(r, 0, sizeof(*r));
	r->with_device = true;
	assert_int_equal(sh_record_put(r, "sivilstand", NULL, sivilstand, 1, "kari", "d", version), SH_OK);
}

static void test_take_and_keep(void **state)
{
	struct ss_pcache *c = ss_pcache_new(4);
	struct sh_participant p, q;
	struct sh_record r, t = {0};
	char id[SH_ID_LEN + 1];

	(void)state;
	assert_non_null(c);
	person(&p, "a1", "2");
	record(&r, "2", 7);
	ss_pcache_keep(c, 7, &p, &r);
	assert_null(p.v[SH_F_SIVILSTAND]); /* moved, not copied */
	assert_int_equal(r.n, 0);
	sh_participant_init(&q);
	assert_false(ss_pcache_take(c, "a1", 8, &q, &t)); /* another version: dropped */
	assert_false(ss_pcache_take(c, "a1", 7, &q, &t));
	person(&p, "a1", "3");
	record(&r, "3", 9);
	ss_pcache_keep(c, 9, &p, &r);
	assert_true(ss_pcache_take(c, "a1", 9, &q, &t));
	assert_string_equal(q.id, "a1");
	assert_string_equal(q.v[SH_F_SIVILSTAND], "3");
	assert_int_equal(t.n, 1);
	assert_true(t.with_device);
	assert_string_equal(sh_entry_value(&t, &t.e[0]), "3");
	assert_string_equal(sh_entry_device(&t, &t.e[0]), "d");
	assert_int_equal(t.e[0].version, 9);
	assert_false(ss_pcache_take(c, "a1", 9, &p, &r)); /* taken: gone until kept again */
	ss_pcache_keep(c, 10, &q, &t);
	/* a newer keep of the same id replaces the entry */
	person(&p, "a1", "4");
	record(&r, "4", 11);
	ss_pcache_keep(c, 11, &p, &r);
	assert_false(ss_pcache_take(c, "a1", 10, &q, &t));
	/* more participants than room: the cache stays bounded, the last one kept is there */
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		person(&p, id, "1");
		record(&r, "1", (uint64_t)i + 100);
		ss_pcache_keep(c, (uint64_t)i + 100, &p, &r);
	}
	assert_true(ss_pcache_take(c, "p99", 199, &q, &t));
	assert_int_equal(t.e[0].version, 199);
	sh_participant_clear(&q);
	sh_record_clear(&t);
	ss_pcache_free(c); /* ASan: every entry freed */
}

static void test_tidy(void **state)
{
	struct sh_participant p;

	(void)state;
	sh_participant_init(&p);
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TYPE, "r2", "1"), SH_OK);
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TYPE, "r1", "1"), SH_OK);
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TYPE, "r0", "1"), SH_OK);
	/* a removed tiltak: every field cleared */
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TYPE, "r1", ""), SH_OK);
	assert_int_equal(p.nrows, 3);
	sh_participant_tidy(&p);
	assert_int_equal(p.nrows, 2);
	assert_string_equal(p.rows[0].id, "r0");
	assert_string_equal(p.rows[1].id, "r2");
	sh_participant_clear(&p);
}

/* The store hands out a kept participant only at the version the database holds. */
static void test_store_versions(void **state)
{
	static const char id[] = "0123456789abcdef0123456789abcdef";
	char dir[] = "/tmp/jsr-pcache-test-XXXXXX", path[64], kommune[8];
	struct sh_reason why = {{0}};
	struct ss_store *s;
	struct sh_participant p;
	bool exists;
	uint64_t v;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(ss_store_open(path, &s, &why), SH_OK);
	/* committed at version 1 with sivilstand 2 */
	assert_int_equal(ss_begin(s), SH_OK);
	person(&p, id, "2");
	assert_int_equal(ss_next_seq(s), 1);
	assert_int_equal(ss_field_put(s, id, "sivilstand", "", "2", 1, "d", "kari", 1), SH_OK);
	assert_int_equal(ss_participant_put(s, &p, "0301", "mangler", 1), SH_OK);
	assert_int_equal(ss_commit(s), SH_OK);
	ss_participant_keep(s, 1, &p);
	/* changed at version 2 in a job that is rolled back (a savepoint: the
	 * version is not handed out again), then in a whole transaction that
	 * is rolled back (its versions are) */
	for (int whole = 0; whole < 2; whole++) {
		assert_int_equal(ss_begin(s), SH_OK);
		if (!whole)
			assert_int_equal(ss_savepoint(s), SH_OK);
		assert_int_equal(ss_participant_take(s, id, &exists, kommune, &v, &p), SH_OK);
		assert_true(exists);
		assert_int_equal(v, 1);
		assert_string_equal(kommune, "0301");
		assert_int_equal(sh_participant_set(&p, SH_F_SIVILSTAND, NULL, "3"), SH_OK);
		v = ss_next_seq(s);
		assert_int_equal(ss_field_put(s, id, "sivilstand", "", "3", 2, "d", "kari", v), SH_OK);
		assert_int_equal(ss_participant_put(s, &p, "0301", "mangler", v), SH_OK);
		ss_participant_keep(s, v, &p);
		if (whole) {
			ss_rollback(s);
			assert_int_equal(ss_begin(s), SH_OK);
		} else {
			ss_rollback_to(s);
		}
		/* what is stored, not what was kept */
		assert_int_equal(ss_participant_take(s, id, &exists, kommune, &v, &p), SH_OK);
		assert_int_equal(v, 1);
		assert_string_equal(p.id, id);
		assert_string_equal(p.v[SH_F_SIVILSTAND], "2");
		ss_participant_keep(s, v, &p);
		assert_int_equal(ss_commit(s), SH_OK);
	}
	/* an unknown participant */
	assert_int_equal(ss_participant_take(s, "ffffffffffffffffffffffffffffffff", &exists, kommune, &v, &p),
			 SH_OK);
	assert_false(exists);
	sh_participant_clear(&p);
	ss_store_close(s);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_and_keep),
		cmocka_unit_test(test_tidy),
		cmocka_unit_test(test_store_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
