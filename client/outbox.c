/* outbox.c: the changes waiting for the server, one entry per participant and change-set. */
#include "outbox.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "log.h"

enum { S_UNSENT, S_STORE, S_DROP, S_ENTRIES, S_REFUSED, S_COUNT };

static const char *const sql[S_COUNT] = {
	[S_UNSENT] = "SELECT changes FROM outbox_entry WHERE participant = ?1 AND changeset IS NULL",
	[S_STORE] = "INSERT INTO outbox_entry(participant, n, changes) VALUES (?1, ?2, ?3) "
		    "ON CONFLICT(participant) WHERE changeset IS NULL DO UPDATE "
		    "SET n = excluded.n, changes = excluded.changes",
	[S_DROP] = "DELETE FROM outbox_entry WHERE participant = ?1 AND changeset IS NULL",
	[S_ENTRIES] = "SELECT changes FROM outbox_entry WHERE participant = ?1 "
		      "AND (changeset IS NULL OR changeset <> ?2)",
	[S_REFUSED] = "SELECT 1 FROM outbox_rejected WHERE participant = ?1 AND field = ?2 AND row = ?3",
};

struct sc_outbox {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	struct sh_buf packed;      /* sc_outbox_store_unsent */
	struct sh_record scratch;  /* sc_outbox_add, sc_outbox_has */
};

struct sc_outbox *sc_outbox_new(sqlite3 *db)
{
	struct sc_outbox *o = sh_calloc(1, sizeof(*o));

	if (o) {
		o->db = db;
		sh_buf_init(&o->packed, INT_MAX); /* sqlite3_bind_blob takes an int */
	}
	return o;
}

void sc_outbox_free(struct sc_outbox *o)
{
	if (!o)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(o->st[i]);
	sh_buf_free(&o->packed);
	sh_record_clear(&o->scratch);
	sh_free(o);
}

static sqlite3_stmt *stmt(struct sc_outbox *o, int i) { return sh_db_prepared(o->db, &o->st[i], sql[i]); }

static int step(struct sc_outbox *o, sqlite3_stmt *st) { return sh_db_step(o->db, st); }

/* Unpacks the entry in column 0 of st's current row into rec (made order). */
static int unpack(sqlite3_stmt *st, const char *id, struct sh_record *rec)
{
	int rc;

	rec->made_order = true;
	snprintf(rec->id, sizeof(rec->id), "%s", id);
	if ((rc = sh_record_decode(rec, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0))) == SH_ERR_DB)
		sh_log_error("outbox: an entry of participant %.8s cannot be read", id);
	return rc;
}

int sc_outbox_unsent(struct sc_outbox *o, const char *id, struct sh_record *rec)
{
	sqlite3_stmt *st = stmt(o, S_UNSENT);
	int rc = SH_OK, s;

	rec->made_order = true;
	sh_record_empty(rec);
	snprintf(rec->id, sizeof(rec->id), "%s", id);
	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((s = step(o, st)) == SQLITE_ROW)
		rc = unpack(st, id, rec);
	else if (s != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	return rc;
}

int sc_outbox_store_unsent(struct sc_outbox *o, const struct sh_record *rec)
{
	sqlite3_stmt *st = stmt(o, rec->n ? S_STORE : S_DROP);
	int rc;

	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
	if (rec->n) {
		sh_buf_reset(&o->packed);
		if ((rc = sh_record_encode(rec, &o->packed)) != SH_OK)
			return rc;
		sqlite3_bind_int64(st, 2, (sqlite3_int64)rec->n);
		sqlite3_bind_blob(st, 3, o->packed.data, (int)o->packed.len, SQLITE_STATIC);
	}
	rc = step(o, st) == SQLITE_DONE ? SH_OK : SH_ERR_DB;
	sqlite3_reset(st);
	return rc;
}

int sc_outbox_add(struct sc_outbox *o, const char *id, const char *field, const char *row,
		  const char *value, uint64_t hlc, const char *author, uint64_t base, bool keep)
{
	struct sh_record *rec = &o->scratch;
	const struct sh_entry *e;
	int rc;

	if ((rc = sc_outbox_unsent(o, id, rec)) != SH_OK)
		return rc;
	if ((e = sh_record_find(rec, field, row ? row : ""))) {
		if (keep)
			return SH_OK;
		base = e->version; /* the first edit's base */
	}
	if ((rc = sh_record_put(rec, field, row, value, hlc, author, NULL, base)) != SH_OK)
		return rc;
	return sc_outbox_store_unsent(o, rec);
}

int sc_outbox_has(struct sc_outbox *o, const char *id, const char *field, const char *row, int64_t except,
		  bool *yes)
{
	sqlite3_stmt *st = stmt(o, S_ENTRIES);
	int rc = SH_OK, s = SQLITE_DONE;

	*yes = false;
	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, except);
	while (!*yes && rc == SH_OK && (s = step(o, st)) == SQLITE_ROW)
		if ((rc = unpack(st, id, &o->scratch)) == SH_OK)
			*yes = sh_record_find(&o->scratch, field, row ? row : "") != NULL;
	if (rc == SH_OK && !*yes && s != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	if (rc != SH_OK || *yes)
		return rc;
	if (!(st = stmt(o, S_REFUSED)))
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row ? row : "", -1, SQLITE_STATIC);
	if ((s = step(o, st)) == SQLITE_ROW)
		*yes = true;
	else if (s != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	return rc;
}
