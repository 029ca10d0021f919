/*
 * db.h: opening jobbsjanse's SQLite files and migrating their schema.
 *
 * sh_db_open() creates the file 0600 (the replica holds personal data),
 * sets WAL, synchronous=FULL, foreign keys and a busy timeout. Why FULL: in
 * WAL mode NORMAL survives a process crash (kill -9) but may lose the last
 * commits on a power cut, and DESIGN.md §9 promises that a value shown as
 * «Lagret» survives both. FULL fsyncs the WAL at every commit. The one
 * exception is the client's sync transactions that can come again
 * (acknowledgements, pages, lookup states: begin_resumable in
 * client/sync_store.c), which commit with NORMAL.
 *
 * It also sets secure_delete=ON: what is deleted is overwritten in the
 * file (a draft registered by mistake leaves nothing behind), whatever the
 * SQLite build's default. The same sync transactions use FAST, as what
 * they delete is kept elsewhere in the replica (begin_resumable says why).
 *
 * sh_migrate() applies the numbered migrations (schema/schema.h) above the
 * file's PRAGMA user_version, each in its own IMMEDIATE transaction that
 * also sets user_version, so a crash leaves the file at a whole version.
 */
#ifndef SH_DB_H
#define SH_DB_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>

#include "err.h"
#include "schema.h"

/* Opens (creating 0600 if needed). On error *out is NULL. */
int sh_db_open(const char *path, sqlite3 **out, struct sh_reason *why) SH_MUST_USE;

/*
 * Brings the file to the newest version of `m[0..n)`. SH_ERR_SCHEMA if the
 * file is newer than this program; SH_ERR_DB (rolled back, file unchanged
 * at the failing version) if a migration fails. from and to may be NULL.
 */
int sh_migrate(sqlite3 *db, const struct sh_migration *m, size_t n, int *from, int *to,
	       struct sh_reason *why) SH_MUST_USE;

/* PRAGMA user_version, or -1 on error. */
int sh_db_version(sqlite3 *db);

/* sqlite3_exec without results; SH_ERR_DB with the message in why. */
int sh_db_exec(sqlite3 *db, const char *sql, struct sh_reason *why) SH_MUST_USE;
/*
 * One statement with parameters: types has a letter per parameter, "t"
 * text (const char *, NULL binds NULL) or "i" int64_t. SH_OK, SH_ERR_CONFLICT
 * on a constraint, SH_ERR_DB otherwise (logged).
 */
int sh_db_run(sqlite3 *db, const char *sql, const char *types, ...) SH_MUST_USE;
/* The parts of sh_db_run, for a statement prepared once: bind by `types`;
 * step once (SH_OK for a row or done). */
void sh_db_bindv(sqlite3_stmt *st, const char *types, va_list ap);
int sh_db_step_done(sqlite3 *db, sqlite3_stmt *st) SH_MUST_USE;
/* Steps once: SQLITE_ROW, SQLITE_DONE, or SQLite's error code (logged). */
int sh_db_step(sqlite3 *db, sqlite3_stmt *st);

/*
 * The statement kept in *slot for the connection's life: prepared on first
 * use, then reset with its bindings cleared. NULL on error (logged).
 */
sqlite3_stmt *sh_db_prepared(sqlite3 *db, sqlite3_stmt **slot, const char *sql);

#endif
