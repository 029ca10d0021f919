/* db_test.c: opening files (0600, WAL) and the migration runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/jsr-db-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_tables(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type='table'",
					    -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void open_mode_wal(void **state)
{
	sqlite3 *db;
	struct sh_reason why = {{0}};
	struct stat sb;
	sqlite3_stmt *st;

	(void)state;
	umask(022);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(sh_db_open("/nonexistent/dir/x.db", &db, &why), SH_ERR_IO);
	assert_null(db);
}

static void real_sets(void **state)
{
	sqlite3 *db;
	struct sh_reason why = {{0}};
	int from, to;

	(void)state;
	assert_true(sh_migrations_client_count >= 1);
	assert_true(sh_migrations_server_count >= 1);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	assert_int_equal(sh_migrate(db, sh_migrations_client, sh_migrations_client_count,
				    &from, &to, &why), SH_OK);
	assert_int_equal(from, 0);
	assert_int_equal(to, (int)sh_migrations_client_count);
	/* again: nothing to do */
	assert_int_equal(sh_migrate(db, sh_migrations_client, sh_migrations_client_count,
				    &from, &to, &why), SH_OK);
	assert_int_equal(from, to);
	sqlite3_close(db);
}

static const struct sh_migration good[] = {
	{1, "001_a.sql", "CREATE TABLE a (x);"},
	{2, "002_b.sql", "CREATE TABLE b (x); INSERT INTO a VALUES (1);"},
};
static const struct sh_migration broken[] = {
	{1, "001_a.sql", "CREATE TABLE a (x);"},
	{2, "002_b.sql", "CREATE TABLE b (x); INSERT INTO a VALUES (1);"},
	{3, "003_c.sql", "CREATE TABLE c (x); INSERT INTO nosuch VALUES (1);"},
};
static const struct sh_migration gap[] = {
	{1, "001_a.sql", "CREATE TABLE a (x);"},
	{3, "003_c.sql", "CREATE TABLE c (x);"},
};

static void runner(void **state)
{
	sqlite3 *db;
	struct sh_reason why = {{0}};
	int from, to;

	(void)state;
	unlink(path);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	/* step by step: first only version 1 */
	assert_int_equal(sh_migrate(db, good, 1, &from, &to, &why), SH_OK);
	assert_int_equal(sh_db_version(db), 1);
	assert_int_equal(sh_migrate(db, good, 2, &from, &to, &why), SH_OK);
	assert_int_equal(from, 1);
	assert_int_equal(to, 2);
	assert_int_equal(count_tables(db), 2);
	/* a failing migration rolls back entirely and names itself */
	assert_int_equal(sh_migrate(db, broken, 3, &from, &to, &why), SH_ERR_DB);
	assert_non_null(strstr(why.text, "003_c.sql"));
	assert_int_equal(sh_db_version(db), 2);
	assert_int_equal(count_tables(db), 2); /* table c was not left behind */
	/* a file newer than the program is refused */
	assert_int_equal(sh_migrate(db, good, 1, &from, &to, &why), SH_ERR_SCHEMA);
	assert_non_null(strstr(why.text, "nyere versjon"));
	sqlite3_close(db);
	/* numbering gaps are a programming error */
	unlink(path);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	assert_int_equal(sh_migrate(db, gap, 2, &from, &to, &why), SH_ERR_INTERNAL);
	assert_int_equal(sh_db_version(db), 1);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_mode_wal), cmocka_unit_test(real_sets), cmocka_unit_test(runner),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
