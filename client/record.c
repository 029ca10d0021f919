/* record.c: the set of packed records (shared/packed.h) one transaction of the replica works on. */
#include "record.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "text.h"

/*
 * The set: records by participant id in an open-addressed table. It holds
 * at most SET_MAX records; past that, the changed ones are written (inside
 * the caller's transaction) and all are let go, so a large acknowledgement
 * or page needs no more memory than a small one.
 */
enum { SET_MAX = 2048, SLOTS = 4096 };

#define GET_VALS "SELECT vals FROM record WHERE participant = ?1" /* the set's `get` */

struct sc_records {
	sqlite3 *db;
	sqlite3_stmt *get, *put, *patch;
	struct sh_buf packed; /* sc_records_save: one record at a time */
	struct sh_record *slot[SLOTS];
	uint16_t used[SET_MAX]; /* the slots in use, n of them */
	size_t n;
};

struct sc_records *sc_records_new(sqlite3 *db)
{
	struct sc_records *s = sh_calloc(1, sizeof(*s));

	if (s) {
		s->db = db;
		sh_buf_init(&s->packed, INT_MAX); /* sqlite3_bind_blob takes an int */
	}
	return s;
}

static size_t hash(const char *id) { return sh_str_hash(id) & (SLOTS - 1); }

static int load(struct sc_records *s, struct sh_record *rec)
{
	sqlite3_stmt *st = sh_db_prepared(s->db, &s->get, GET_VALS);
	int rc = SH_OK, step;

	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = sh_record_decode(rec, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	else if (step != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	if (rc == SH_ERR_DB)
		sh_log_error("record: cannot read the values of participant %.8s", rec->id);
	return rc;
}

void sc_records_reset(struct sc_records *s)
{
	for (size_t i = 0; i < s->n; i++) {
		sh_record_clear(s->slot[s->used[i]]);
		sh_free(s->slot[s->used[i]]);
		s->slot[s->used[i]] = NULL;
	}
	s->n = 0;
}

/* The slot of id's record, or the free one where it goes. */
static size_t slot_of(const struct sc_records *s, const char *id)
{
	size_t i = hash(id);

	while (s->slot[i] && strcmp(s->slot[i]->id, id) != 0)
		i = (i + 1) & (SLOTS - 1);
	return i;
}

struct sh_record *sc_records_get(struct sc_records *s, const char *id)
{
	size_t i = slot_of(s, id);
	struct sh_record *rec;

	if (s->slot[i])
		return s->slot[i];
	if (s->n == SET_MAX) {
		if (sc_records_save(s) != SH_OK)
			return NULL;
		sc_records_reset(s);
		i = slot_of(s, id);
	}
	if (strlen(id) > SH_ID_LEN || !(rec = sh_calloc(1, sizeof(*rec))))
		return NULL;
	memcpy(rec->id, id, strlen(id) + 1);
	if (load(s, rec) != SH_OK) {
		sh_record_clear(rec);
		sh_free(rec);
		return NULL;
	}
	s->slot[i] = rec;
	s->used[s->n++] = (uint16_t)i;
	return rec;
}

/*
 * Sets the versions in participant id's stored record, in place; none
 * stored: nothing. SH_ERR_INVALID for a record out of order, untouched.
 */
static int set_stored_versions(struct sc_records *s, const char *id, struct sh_version_set *vs, size_t n)
{
	sqlite3_stmt *st = sh_db_prepared(s->db, &s->get, GET_VALS);
	bool changed = false;
	int rc = SH_OK, step;

	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sh_buf_reset(&s->packed);
	if ((step = sqlite3_step(st)) == SQLITE_ROW)
		sh_buf_append(&s->packed, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	if (step != SQLITE_ROW)
		return step == SQLITE_DONE ? SH_OK : SH_ERR_DB;
	if (s->packed.err != SH_OK)
		return s->packed.err;
	if ((rc = sh_packed_set_versions(s->packed.data, s->packed.len, false, vs, n, &changed)) == SH_ERR_INVALID)
		return rc;
	if (rc != SH_OK) {
		sh_log_error("record: cannot read the values of participant %.8s", id);
		return SH_ERR_DB;
	}
	if (!changed)
		return SH_OK;
	if (!(st = sh_db_prepared(s->db, &s->patch, "UPDATE record SET vals = ?2 WHERE participant = ?1")))
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, s->packed.data, (int)s->packed.len, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) != SQLITE_DONE) {
		sh_log_error("record: %s", sqlite3_errmsg(s->db));
		rc = SH_ERR_DB;
	}
	sqlite3_reset(st);
	return rc;
}

int sc_records_set_versions(struct sc_records *s, const char *id, struct sh_version_set *vs, size_t n)
{
	struct sh_record *rec = s->slot[slot_of(s, id)];
	int rc;

	if (!rec && n) {
		if ((rc = set_stored_versions(s, id, vs, n)) != SH_ERR_INVALID)
			return rc;
		/* not in order (written by hand): through the set, which sorts it when it unpacks it */
		if (!(rec = sc_records_get(s, id)))
			return SH_ERR_DB;
	}
	for (size_t i = 0; rec && i < n; i++)
		sh_record_set_version(rec, vs[i].field, vs[i].row, vs[i].version);
	return SH_OK;
}

int sc_records_save(struct sc_records *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sh_record *rec = s->slot[s->used[i]];
		sqlite3_stmt *st;
		int rc, step;

		if (!rec->dirty)
			continue;
		if (!(st = sh_db_prepared(s->db, &s->put, "INSERT INTO record(participant, vals) VALUES (?1, ?2) "
						"ON CONFLICT(participant) DO UPDATE SET vals = excluded.vals")))
			return SH_ERR_DB;
		sh_buf_reset(&s->packed);
		if ((rc = sh_record_encode(rec, &s->packed)) != SH_OK)
			return rc;
		sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
		/* an empty record is an empty BLOB, not NULL */
		sqlite3_bind_blob(st, 2, s->packed.data ? s->packed.data : "", (int)s->packed.len, SQLITE_STATIC);
		step = sqlite3_step(st);
		sqlite3_reset(st);
		if (step != SQLITE_DONE) {
			sh_log_error("record: %s", sqlite3_errmsg(s->db));
			return SH_ERR_DB;
		}
		rec->dirty = false;
	}
	return SH_OK;
}

void sc_records_free(struct sc_records *s)
{
	if (!s)
		return;
	sc_records_reset(s);
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->patch);
	sh_buf_free(&s->packed);
	sh_free(s);
}
