/* db.c: SQLite open with our pragmas, and the migration runner. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int sh_db_exec(sqlite3 *db, const char *sql, struct sh_reason *why)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return SH_OK;
	sh_reason_set(why, "Databasefeil: %s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return SH_ERR_DB;
}

int sh_db_open(const char *path, sqlite3 **out, struct sh_reason *why)
{
	sqlite3 *db = NULL;
	int fd;

	*out = NULL;
	/*
	 * Create it 0600 before SQLite does (it would honour the umask) — but
	 * only if it does not exist: closing a descriptor of a file drops every
	 * POSIX lock this process holds on it, including those of SQLite
	 * connections already open in other threads, and that corrupts a WAL
	 * database. O_EXCL never touches an existing file.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST) {
		sh_reason_set(why, "Kan ikke åpne databasen %s: %s.", path, strerror(errno));
		return SH_ERR_IO;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		sh_reason_set(why, "Kan ikke åpne databasen %s: %s.", path,
			      db ? sqlite3_errmsg(db) : "minne");
		sqlite3_close(db);
		return SH_ERR_DB;
	}
	sqlite3_busy_timeout(db, 10000);
	/* a 64 MiB page cache and memory-mapped reads: the default 2 MiB cache
	 * makes a sync of a few hundred thousand values re-read its pages;
	 * deleted personal data overwritten in the file, whatever the SQLite
	 * build's default (Debian's is ON) */
	if (sh_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			   "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
			   "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;"
			   "PRAGMA temp_store=MEMORY; PRAGMA secure_delete=ON;", why) != SH_OK) {
		sqlite3_close(db);
		return SH_ERR_DB;
	}
	*out = db;
	return SH_OK;
}

int sh_db_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int sh_migrate(sqlite3 *db, const struct sh_migration *m, size_t n, int *from, int *to,
	       struct sh_reason *why)
{
	int v = sh_db_version(db);
	int newest = (int)n;
	char pragma[64];

	if (from)
		*from = v;
	if (to)
		*to = v;
	if (v < 0) {
		sh_reason_set(why, "Kan ikke lese skjemaversjonen: %s", sqlite3_errmsg(db));
		return SH_ERR_DB;
	}
	if (v > newest) {
		sh_reason_set(why, "Databasen har skjemaversjon %d, men dette programmet kjenner "
			      "bare til versjon %d. Bruk en nyere versjon av programmet.", v, newest);
		return SH_ERR_SCHEMA;
	}
	for (size_t i = (size_t)v; i < n; i++) {
		if (m[i].version != (int)i + 1) {
			sh_reason_set(why, "Migreringene er ikke nummerert fortløpende (%s).", m[i].name);
			return SH_ERR_INTERNAL;
		}
		if (sh_db_exec(db, "BEGIN IMMEDIATE", why) != SH_OK)
			return SH_ERR_DB;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", m[i].version);
		if (sh_db_exec(db, m[i].sql, why) != SH_OK ||
		    sh_db_exec(db, pragma, why) != SH_OK ||
		    sh_db_exec(db, "COMMIT", why) != SH_OK) {
			struct sh_reason inner = *why;

			(void)!sh_db_exec(db, "ROLLBACK", NULL);
			sh_reason_set(why, "Migreringen %s feilet: %s", m[i].name, inner.text);
			return SH_ERR_DB;
		}
		if (to)
			*to = m[i].version;
	}
	return SH_OK;
}

void sh_db_bindv(sqlite3_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
}

int sh_db_step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		sh_log_error("db: %s", sqlite3_errmsg(db));
	return rc;
}

int sh_db_step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sh_db_step(db, st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return rc == SQLITE_CONSTRAINT ? SH_ERR_CONFLICT : SH_ERR_DB;
	return SH_OK;
}

sqlite3_stmt *sh_db_prepared(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
	if (!*slot && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
		sh_log_error("db: prepare «%.60s»: %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	return *slot;
}

int sh_db_run(sqlite3 *db, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sh_log_error("db: %s", sqlite3_errmsg(db));
		return SH_ERR_DB;
	}
	va_start(ap, types);
	sh_db_bindv(st, types, ap);
	va_end(ap);
	rc = sh_db_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}
