/* store_test.c: the server's packed values: migration from one row per value, and pull pages cut by participant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chash.h"
#include "db.h"
#include "packed.h"
#include "schema.h"
#include "store.h"
#include "test_util.h"

#define P1 "11111111111111111111111111111111"
#define P2 "22222222222222222222222222222222"
#define P3 "33333333333333333333333333333333"
#define R1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* Tiltak rows */
#define R2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A store at schema 4: values one row each (field_value), as servers held them before 005. */
static const char old_rows[] =
	"INSERT INTO participant(id, kommune, fnr, startdato, sluttdato, status, created, version) VALUES "
	"('" P1 "', '0301', NULL, '2026-01-05', NULL, 'aktiv', 1, 3),"
	/* moved here: its values were stamped anew after its own version */
	"('" P2 "', '0301', NULL, '2026-02-01', NULL, 'aktiv', 4, 5),"
	"('" P3 "', '4601', NULL, NULL, NULL, 'mangler', 9, 9);"
	"INSERT INTO field_value(participant, field, row, value, hlc, device, author, version, kommune) VALUES "
	"('" P1 "', 'startdato', '', '2026-01-05', 100, 'dev-a', 'kari', 1, '0301'),"
	"('" P1 "', 'tiltak.type', '" R2 "', '3', 101, 'dev-a', 'kari', 2, '0301'),"
	"('" P1 "', 'tiltak.type', '" R1 "', 'æøå', 102, 'dev-b', 'ola', 3, '0301'),"
	"('" P1 "', 'sivilstand', '', '', 103, 'dev-a', 'kari', 2, '0301'),"
	"('" P2 "', 'startdato', '', '2026-02-01', 104, 'dev-b', 'ola', 7, '0301'),"
	"('" P2 "', 'fodeland', '', 'IRQ', 105, 'dev-b', 'ola', 8, '0301'),"
	"('" P3 "', 'fodeland', '', 'SYR', 106, 'dev-c', 'per', 9, '4601');"
	"UPDATE meta SET value = 9 WHERE key = 'seq';";

static const char view_rows[] =
	"SELECT group_concat(participant || '|' || field || '|' || row || '|' || value || '|' || hlc || '|' || "
	"device || '|' || author || '|' || version || '|' || kommune, ';') FROM "
	"(SELECT * FROM field_value ORDER BY participant, field, row)";

static char *text_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *out;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	out = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	return out;
}

/* The content hash of 0301 as the old store's SQL made it. */
static void old_hash(sqlite3 *db, char out[65])
{
	sqlite3_stmt *st;
	struct sh_chash h;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT participant, field, row, value FROM field_value "
					    "WHERE kommune = '0301' AND value <> '' ORDER BY participant, field, row",
					    -1, &st, NULL), SQLITE_OK);
	sh_chash_init(&h);
	while (sqlite3_step(st) == SQLITE_ROW)
		sh_chash_add(&h, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
			     (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sh_chash_final(&h, out);
}

static struct ss_store *old_store(char *dir, char path[64], char **rows_before, char hash_before[65])
{
	struct sh_reason why = {{0}};
	struct ss_store *s;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	snprintf(path, 64, "%s/store.db", dir);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	assert_int_equal(sh_migrate(db, sh_migrations_server, 4, NULL, NULL, &why), SH_OK);
	assert_int_equal(sh_db_exec(db, old_rows, &why), SH_OK);
	*rows_before = text_of(db, view_rows);
	old_hash(db, hash_before);
	sqlite3_close(db);
	assert_int_equal(ss_store_open(path, &s, &why), SH_OK);
	return s;
}

static void test_migration_keeps_values(void **state)
{
	char dir[] = "/tmp/jsr-store-test-XXXXXX", path[64], hash_before[65], hash[65], kommune[8];
	struct ss_store *s;
	struct sh_participant p;
	struct ss_field f;
	char *before, *after;
	bool exists;
	uint64_t v;

	(void)state;
	s = old_store(dir, path, &before, hash_before);
	/* the view gives back every row as it was, cleared values too */
	after = text_of(ss_store_db(s), view_rows);
	assert_string_equal(after, before);
	free(after);
	free(before);
	/* a participant's version is its newest value's */
	after = text_of(ss_store_db(s), "SELECT group_concat(version, ',') FROM (SELECT version FROM participant ORDER BY id)");
	assert_string_equal(after, "3,8,9");
	free(after);
	assert_int_equal(ss_content_hash(s, "0301", hash), SH_OK);
	assert_string_equal(hash, hash_before);
	/* the merge's view of it */
	sh_participant_init(&p);
	assert_int_equal(ss_participant_take(s, P1, &exists, kommune, &v, &p), SH_OK);
	assert_true(exists);
	assert_int_equal(v, 3);
	assert_string_equal(p.v[SH_F_STARTDATO], "2026-01-05");
	assert_int_equal(p.nrows, 2);
	assert_null(p.v[SH_F_SIVILSTAND]);
	assert_int_equal(ss_field_get(s, P1, "tiltak.type", R1, &f), SH_OK);
	assert_true(f.exists);
	assert_string_equal(f.value, "æøå");
	assert_string_equal(f.device, "dev-b");
	assert_string_equal(f.author, "ola");
	assert_int_equal(f.version, 3);
	assert_int_equal(f.hlc, 102);
	assert_int_equal(ss_field_get(s, P1, "sivilstand", "", &f), SH_OK);
	assert_true(f.exists); /* cleared, with its version */
	assert_string_equal(f.value, "");
	assert_int_equal(f.version, 2);
	assert_int_equal(ss_field_get(s, P1, "fodeland", "", &f), SH_OK);
	assert_false(f.exists);
	sh_participant_clear(&p);
	/* a damaged record: that participant cannot be read, others can */
	assert_int_equal(sh_db_exec(ss_store_db(s), "UPDATE participant SET vals = x'3132' WHERE id = '" P3 "'", NULL),
			 SH_OK);
	sh_participant_init(&p);
	assert_int_equal(ss_participant_take(s, P3, &exists, kommune, &v, &p), SH_ERR_DB);
	sh_participant_clear(&p);
	assert_int_equal(ss_content_hash(s, "0301", hash), SH_OK);
	assert_int_equal(ss_content_hash(s, "4601", hash), SH_ERR_DB);
	{
		struct ss_user u = {.username = "per", .kommuner = {"4601"}, .nkommuner = 1};
		struct ss_cursor from = {0, 0}, to;
		struct sh_buf body;
		size_t count;
		bool more;

		sh_buf_init(&body, 1 << 20);
		assert_int_equal(ss_pull_page(s, &u, "dev-x", &from, 100, &body, &to, &more, &count, NULL), SH_ERR_DB);
		sh_buf_free(&body);
	}
	ss_store_close(s);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* Pulls every page as a device would, collecting "participant/field/row=value@version" of each op. */
static size_t pull_all(struct ss_store *s, const struct ss_user *u, const char *device, struct ss_cursor *c,
		       size_t limit, char *seen, size_t cap)
{
	size_t pages = 0;
	bool more = true;

	seen[0] = '\0';
	while (more) {
		struct sh_buf body, ids;
		struct sh_wire_doc doc;
		struct sh_pull_page page;
		struct sh_reason why = {{0}};
		struct ss_cursor next;
		size_t count;

		sh_buf_init(&body, (size_t)1 << 24);
		sh_buf_init(&ids, (size_t)1 << 20);
		assert_int_equal(ss_pull_page(s, u, device, c, limit, &body, &next, &more, &count, &ids), SH_OK);
		assert_int_equal(sh_wire_page_decode(body.data, body.len, &doc, &page, &why), SH_OK);
		assert_int_equal(page.next, next.since);
		assert_int_equal(page.base, next.base);
		assert_true(page.more == more);
		for (size_t i = 0; i < page.nops; i++) {
			size_t at = strlen(seen);

			snprintf(seen + at, cap - at, "%.2s/%s/%s=%s@%llu ", page.ops[i].participant, page.ops[i].field,
				 page.ops[i].row, page.ops[i].value, (unsigned long long)page.ops[i].version);
		}
		sh_wire_page_free(&page);
		sh_wire_doc_free(&doc);
		sh_buf_free(&body);
		sh_buf_free(&ids);
		*c = next;
		pages++;
		assert_true(pages < 100);
	}
	return pages;
}

static void test_pages_by_participant(void **state)
{
	char dir[] = "/tmp/jsr-store-test-XXXXXX", path[64], hash[65], seen[4096];
	struct ss_user u = {.username = "kari", .kommuner = {"0301"}, .nkommuner = 1};
	struct ss_cursor c = {0, 0};
	struct ss_store *s;
	char *before;

	(void)state;
	s = old_store(dir, path, &before, hash);
	free(before);
	/* from the start, one participant a page: all of each, in version order */
	assert_int_equal(pull_all(s, &u, "dev-x", &c, 1, seen, sizeof(seen)), 2);
	assert_string_equal(seen, "11/sivilstand/=@2 11/startdato/=2026-01-05@1 11/tiltak.type/" R1 "=æøå@3 "
				  "11/tiltak.type/" R2 "=3@2 22/fodeland/=IRQ@8 22/startdato/=2026-02-01@7 ");
	assert_int_equal(c.since, 9);
	assert_int_equal(c.base, 9);
	/*
	 * Values older than a page's cut that belong to a participant on a
	 * later page: P1 gets a value at 10, P2 one at 11, and P1 another at
	 * 12. A pull from 9 in pages of one participant takes P2 first (its
	 * version, 11, is the older); the cursor moves to 11, and P1's value
	 * at 10 is still due on the next page, through the base.
	 */
	{
		struct sh_participant p;
		char kommune[8];
		bool exists;
		uint64_t v, ver;

		assert_int_equal(ss_begin(s), SH_OK);
		for (int k = 0; k < 3; k++) {
			const char *id = k == 1 ? P2 : P1;
			const char *field = k == 0 ? "sivilstand" : k == 1 ? "sivilstand" : "fodeland";

			sh_participant_init(&p);
			assert_int_equal(ss_participant_take(s, id, &exists, kommune, &v, &p), SH_OK);
			ver = ss_next_seq(s);
			assert_int_equal(ss_field_put(s, id, field, "", k == 2 ? "POL" : "2", 200, "dev-a", "kari", ver),
					 SH_OK);
			assert_int_equal(ss_participant_put(s, &p, kommune, "aktiv", ver), SH_OK);
			ss_participant_keep(s, ver, &p);
		}
		assert_int_equal(ss_commit(s), SH_OK);
	}
	c = (struct ss_cursor){9, 9};
	assert_int_equal(pull_all(s, &u, "dev-x", &c, 1, seen, sizeof(seen)), 2);
	assert_string_equal(seen, "22/sivilstand/=2@11 11/fodeland/=POL@12 11/sivilstand/=2@10 ");
	assert_int_equal(c.since, 12);
	assert_int_equal(c.base, 12);
	/* the device that wrote them gets none of them back, and needs one page for it */
	c = (struct ss_cursor){9, 9};
	assert_int_equal(pull_all(s, &u, "dev-a", &c, 1, seen, sizeof(seen)), 1);
	assert_string_equal(seen, "");
	assert_int_equal(c.since, 12);
	/* a base above since is taken as since */
	c = (struct ss_cursor){11, 12};
	assert_int_equal(pull_all(s, &u, "dev-x", &c, 100, seen, sizeof(seen)), 1);
	assert_string_equal(seen, "11/fodeland/=POL@12 ");
	/* nothing of another municipality */
	u.kommuner[0][0] = '\0';
	snprintf(u.kommuner[0], sizeof(u.kommuner[0]), "4601");
	c = (struct ss_cursor){0, 0};
	assert_int_equal(pull_all(s, &u, "dev-x", &c, 100, seen, sizeof(seen)), 1);
	assert_string_equal(seen, "33/fodeland/=SYR@9 ");
	ss_store_close(s);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* The current participant, and a record's strings after many edits. */
static void test_current_and_compact(void **state)
{
	char dir[] = "/tmp/jsr-store-test-XXXXXX", path[64], hash[65], kommune[8], value[120];
	struct ss_store *s;
	struct sh_participant p;
	struct ss_field f;
	struct sh_record rec = {.with_device = true};
	struct sh_buf before, after;
	char *rows;
	bool exists;
	uint64_t v;

	(void)state;
	s = old_store(dir, path, &rows, hash);
	free(rows);
	/* changes not written yet: another participant must wait, and the changes stay */
	sh_participant_init(&p);
	assert_int_equal(ss_begin(s), SH_OK);
	assert_int_equal(ss_participant_take(s, P1, &exists, kommune, &v, &p), SH_OK);
	assert_int_equal(ss_field_put(s, P1, "fodeland", "", "POL", 300, "dev-a", "kari", ss_next_seq(s)), SH_OK);
	assert_int_equal(ss_field_get(s, P2, "fodeland", "", &f), SH_ERR_DB);
	assert_int_equal(ss_field_get(s, P1, "fodeland", "", &f), SH_OK);
	assert_string_equal(f.value, "POL");
	ss_rollback(s);
	sh_participant_clear(&p);
	/* a value replaced a thousand times leaves its old strings until compacted */
	for (int i = 0; i < 1000; i++) {
		snprintf(value, sizeof(value), "%0100d", i);
		assert_int_equal(sh_record_put(&rec, "fodeland", NULL, value, (uint64_t)i, "kari", "dev-a", (uint64_t)i),
				 SH_OK);
		assert_int_equal(sh_record_put(&rec, "malgruppe", NULL, "1", 1, "kari", "dev-a", 1), SH_OK);
	}
	assert_true(rec.strs.len > 100000);
	sh_buf_init(&before, 1 << 20);
	sh_buf_init(&after, 1 << 20);
	assert_int_equal(sh_record_encode(&rec, &before), SH_OK);
	sh_record_compact(&rec);
	assert_true(rec.strs.len < 300);
	assert_int_equal(sh_record_encode(&rec, &after), SH_OK);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.data, before.data, before.len);
	assert_string_equal(sh_entry_value(&rec, sh_record_find(&rec, "fodeland", NULL)), value);
	sh_record_compact(&rec); /* nothing to drop: unchanged */
	sh_buf_reset(&after);
	assert_int_equal(sh_record_encode(&rec, &after), SH_OK);
	assert_memory_equal(after.data, before.data, before.len);
	sh_buf_free(&before);
	sh_buf_free(&after);
	sh_record_clear(&rec);
	ss_store_close(s);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* A participant with more values due than a page holds (only one from before the cap can): refused, loudly. */
static void test_participant_over_a_page(void **state)
{
	char dir[] = "/tmp/jsr-store-test-XXXXXX", path[64], hash[65], row[SH_ID_LEN + 1];
	struct ss_user u = {.username = "kari", .kommuner = {"0301"}, .nkommuner = 1};
	struct ss_cursor from = {0, 0}, to;
	struct sh_record rec = {.with_device = true};
	struct sh_buf packed, body;
	sqlite3_stmt *st;
	struct ss_store *s;
	size_t count;
	bool more;
	char *rows;

	(void)state;
	s = old_store(dir, path, &rows, hash);
	free(rows);
	for (int i = 0; i <= SH_PAGE_MAX; i++) {
		snprintf(row, sizeof(row), "%032x", i);
		assert_int_equal(sh_record_put(&rec, "tiltak.type", row, "1", 1, "kari", "dev-a", 1), SH_OK);
	}
	sh_buf_init(&packed, 1 << 28);
	assert_int_equal(sh_record_encode(&rec, &packed), SH_OK);
	assert_int_equal(sqlite3_prepare_v2(ss_store_db(s), "UPDATE participant SET vals = ?1 WHERE id = '" P1 "'", -1,
					    &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, packed.data, (int)packed.len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sh_buf_init(&body, 1 << 28);
	assert_int_equal(ss_pull_page(s, &u, "dev-x", &from, 100, &body, &to, &more, &count, NULL), SH_ERR_TOO_BIG);
	sh_buf_free(&body);
	sh_buf_free(&packed);
	sh_record_clear(&rec);
	ss_store_close(s);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migration_keeps_values),
		cmocka_unit_test(test_pages_by_participant),
		cmocka_unit_test(test_current_and_compact),
		cmocka_unit_test(test_participant_over_a_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
