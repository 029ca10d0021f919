/* sync_store.c: change-sets, acknowledgements, pulled pages, conflicts. */
#include "sync_store.h"

#include <cjson/cJSON.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "chash.h"
#include "config.h"
#include "db.h"
#include "hlc.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"
#include "record.h"
#include "seal.h"

#define TXT(st, i) ((const char *)sqlite3_column_text(st, i))

/*
 * The order of the changes inside a change-set (and so of the results in
 * its acknowledgement): by participant, and as made within one. The server
 * checks each participant's changes in the order they were made, and this
 * lets it take each participant once per change-set.
 */
#define CHANGESET_ORDER "participant, seq"

/* A small set of prepared statements for one call. */
struct q {
	sqlite3 *db;
	sqlite3_stmt *st[16];
	int err;
	struct sc_records *recs;              /* the values this call changes */
};

/* This call's set of records (made on first use), or NULL after an error. */
static struct sc_records *recs_of(struct q *q)
{
	if (q->err == SH_OK && !q->recs && !(q->recs = sc_records_new(q->db)))
		q->err = SH_ERR_NOMEM;
	return q->err == SH_OK ? q->recs : NULL;
}

/* The record of participant p in this call's set. */
static struct sh_record *rec_of(struct q *q, const char *p)
{
	struct sh_record *rec = NULL;

	if (recs_of(q) && !(rec = sc_records_get(q->recs, p)))
		q->err = SH_ERR_DB;
	return rec;
}

static sqlite3_stmt *Q(struct q *q, int i, const char *sql)
{
	sqlite3_stmt *st = sh_db_prepared(q->db, &q->st[i], sql);

	if (!st)
		q->err = SH_ERR_DB;
	return st;
}

static void q_done(struct q *q)
{
	for (size_t i = 0; i < sizeof(q->st) / sizeof(*q->st); i++)
		sqlite3_finalize(q->st[i]);
	sc_records_free(q->recs);
}

/* The changed records written, before the participants are re-derived from them. */
static void q_save(struct q *q)
{
	if (q->err == SH_OK && q->recs)
		q->err = sc_records_save(q->recs);
}

static void bt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Steps a statement that returns nothing; records the first error. */
static void run(struct q *q, sqlite3_stmt *st)
{
	if (!st)
		return;
	if (sqlite3_step(st) != SQLITE_DONE && q->err == SH_OK) {
		sh_log_error("sync: %s", sqlite3_errmsg(q->db));
		q->err = SH_ERR_DB;
	}
	sqlite3_reset(st);
}

/* Steps a query: true for a row; an error (not the end) is recorded, so no half-read loop commits. */
static bool next_row(struct q *q, sqlite3_stmt *st)
{
	int step = sh_db_step(q->db, st);

	if (step != SQLITE_ROW && step != SQLITE_DONE && q->err == SH_OK)
		q->err = SH_ERR_DB;
	return step == SQLITE_ROW;
}

/* A number kept in meta; 0 when there is none. */
static int64_t meta_int(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return 0;
	bt(st, 1, key);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void meta_put_int(struct q *q, const char *key, int64_t v)
{
	sqlite3_stmt *st = Q(q, 11, "INSERT INTO meta(key, value) VALUES (?1, ?2) "
				    "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	char buf[32];

	if (!st)
		return;
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	bt(st, 1, key);
	sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
	run(q, st);
}

uint64_t sc_cursor(struct sc_replica *r) { return (uint64_t)meta_int(sc_replica_db(r), "cursor"); }

/*
 * A replica of before the base has none: its cursor may come from a page
 * cut between whole participants (an older client of this server), so
 * every value of a participant changed after the cursor is due, once.
 */
uint64_t sc_cursor_base(struct sc_replica *r) { return (uint64_t)meta_int(sc_replica_db(r), "cursor_base"); }

/* The connection's settings (db.h) asserted again: a failed rollback can leave a resumable transaction's behind (below). */
#define SETTINGS "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON"

static int begin(sqlite3 *db) { return sh_db_exec(db, SETTINGS "; BEGIN IMMEDIATE", NULL); }

static int finish(struct q *q)
{
	if (q->err == SH_OK && sh_db_exec(q->db, "COMMIT", NULL) == SH_OK)
		return SH_OK;
	(void)!sh_db_exec(q->db, "ROLLBACK", NULL);
	return q->err != SH_OK ? q->err : SH_ERR_DB;
}

/*
 * What an acknowledgement, a page or lookup states store comes again when
 * a power cut takes it: the change-set stays numbered in the outbox and is
 * sent again (the server acknowledges it again from its stored
 * acknowledgement), the cursor moves only with its page, and a new
 * connection asks about every unfinished lookup. So these commit without
 * waiting for the disk (synchronous=NORMAL: a process crash loses nothing
 * and the file stays whole; a later FULL commit, such as the next field
 * saved, makes them durable too). Everything else keeps FULL (db.h): a
 * value saved, and the numbering of change-sets, which must be on disk
 * before a change-set goes out.
 *
 * What they delete is kept elsewhere in the replica (an acknowledged
 * outbox entry's values are in the participant's record; a refused change
 * retried goes back into the outbox), so they overwrite deleted content
 * only where that costs no more writes (secure_delete=FAST): a page the
 * deletion empties is not written full of zeros. Zeroing the pages of the
 * 10,000 entries a push acknowledges took 0.2 s of CPU. Everything else
 * keeps ON (db.h): a draft deleted, for one, leaves nothing in the file.
 */
static int begin_resumable(sqlite3 *db)
{
	if (sh_db_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA secure_delete=FAST; BEGIN IMMEDIATE", NULL) == SH_OK)
		return SH_OK;
	(void)!sh_db_exec(db, SETTINGS, NULL);
	return SH_ERR_DB;
}

static int finish_resumable(struct q *q)
{
	int rc = finish(q);

	if (sh_db_exec(q->db, SETTINGS, NULL) != SH_OK && rc == SH_OK)
		rc = SH_ERR_DB;
	return rc;
}

/*
 * Change-sets are cut at participant boundaries: all unsent changes of a
 * participant go into one change-set, which holds at most
 * sc_changeset_size() changes (only a participant with more than that on its
 * own is split, in the order its changes were made). The order of one
 * participant's changes is all the server relies on (CHANGESET_ORDER), and
 * grouping by participant keeps a change-set on few pages at both ends:
 * edits made round-robin over many participants would otherwise give every
 * change a page of its own in the store, its pull index and the replica.
 */
struct cut {
	char last[SH_ID_LEN + 1]; /* the change-set ends with this participant */
	bool alone;               /* it is this participant only, too big for one */
};

size_t sc_changeset_size(void)
{
	long n = sh_config_int("changeset_size");

	return n >= 1 && n <= SC_CHANGESET_SIZE ? (size_t)n : SC_CHANGESET_SIZE;
}

static int add_cut(struct q *q, struct cut **cuts, size_t *n, size_t *cap, const char *last, bool alone)
{
	if (*n == *cap) {
		struct cut *g = sh_realloc(*cuts, (*cap = *cap ? *cap * 2 : 16) * sizeof(**cuts));

		if (!g)
			return q->err = SH_ERR_NOMEM;
		*cuts = g;
	}
	snprintf((*cuts)[*n].last, SH_ID_LEN + 1, "%s", last);
	(*cuts)[(*n)++].alone = alone;
	return SH_OK;
}

/* The first `limit` cuts of the unsent entries, in participant order. */
static int freeze_cuts(struct q *q, size_t limit, struct cut **cuts, size_t *n)
{
	sqlite3_stmt *st = Q(q, 0, "SELECT participant, n FROM outbox_entry WHERE changeset IS NULL "
				   "ORDER BY participant");
	char prev[SH_ID_LEN + 1] = "";
	size_t cap = 0, in = 0, size = sc_changeset_size();
	int step = SQLITE_DONE;

	*cuts = NULL;
	*n = 0;
	if (!st)
		return q->err;
	while (q->err == SH_OK && *n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
		size_t k = (size_t)sqlite3_column_int64(st, 1);

		if (in && in + k > size) {
			add_cut(q, cuts, n, &cap, prev, false);
			in = 0;
			if (*n == limit)
				break;
		}
		snprintf(prev, sizeof(prev), "%s", TXT(st, 0));
		if (k > size)
			add_cut(q, cuts, n, &cap, prev, true);
		else
			in += k;
	}
	sqlite3_reset(st);
	if (q->err == SH_OK && *n < limit && step != SQLITE_DONE)
		q->err = SH_ERR_DB;
	if (q->err == SH_OK && *n < limit && in)
		add_cut(q, cuts, n, &cap, prev, false);
	return q->err;
}

/*
 * A participant with more unsent changes than a change-set holds: its entry
 * becomes entries of sc_changeset_size() changes, in the order made, each in
 * a change-set of its own.
 */
static void freeze_alone(struct q *q, struct sc_replica *r, const char *id, int64_t *seq, size_t *changesets)
{
	struct sh_record entry = {0};
	struct sh_buf packed;
	sqlite3_stmt *st;
	size_t size = sc_changeset_size();

	sh_buf_init(&packed, INT_MAX);
	if (sc_outbox_unsent(sc_replica_outbox(r), id, &entry) != SH_OK)
		q->err = SH_ERR_DB;
	for (size_t at = 0; q->err == SH_OK && at < entry.n; at += size) {
		size_t k = entry.n - at < size ? entry.n - at : size;

		sh_buf_reset(&packed);
		if ((q->err = sh_record_encode_part(&entry, at, at + k, &packed)) != SH_OK ||
		    !(st = Q(q, 1, "INSERT INTO outbox_entry(participant, changeset, n, changes) VALUES (?1, ?2, ?3, ?4)")))
			break;
		bt(st, 1, id);
		sqlite3_bind_int64(st, 2, ++*seq);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)k);
		sqlite3_bind_blob(st, 4, packed.data, (int)packed.len, SQLITE_STATIC);
		run(q, st);
		(*changesets)++;
	}
	if (q->err == SH_OK && (st = Q(q, 2, "DELETE FROM outbox_entry WHERE participant = ?1 AND changeset IS NULL"))) {
		bt(st, 1, id);
		run(q, st);
	}
	sh_buf_free(&packed);
	sh_record_clear(&entry);
}

int sc_freeze_outbox(struct sc_replica *r, size_t limit, uint64_t *first, size_t *changesets)
{
	struct q q = {.db = sc_replica_db(r)};
	struct cut *cuts = NULL;
	size_t ncuts = 0;
	int64_t seq;
	int rc;

	*changesets = 0;
	if (begin(q.db) != SH_OK)
		return SH_ERR_DB;
	seq = meta_int(q.db, "changeset_seq");
	*first = (uint64_t)seq + 1;
	if (freeze_cuts(&q, limit, &cuts, &ncuts) == SH_OK) {
		for (size_t i = 0; i < ncuts && q.err == SH_OK; i++) {
			sqlite3_stmt *st;

			if (cuts[i].alone) {
				freeze_alone(&q, r, cuts[i].last, &seq, changesets);
				continue;
			}
			if (!(st = Q(&q, 3, "UPDATE outbox_entry SET changeset = ?1 WHERE changeset IS NULL "
					    "AND participant > ?2 AND participant <= ?3")))
				break;
			sqlite3_bind_int64(st, 1, seq + 1);
			bt(st, 2, i ? cuts[i - 1].last : "");
			bt(st, 3, cuts[i].last);
			run(&q, st);
			if (q.err == SH_OK && sqlite3_changes(q.db) > 0) {
				seq++;
				(*changesets)++;
			}
		}
	}
	sh_free(cuts);
	meta_put_int(&q, "changeset_seq", seq);
	rc = finish(&q);
	q_done(&q);
	return rc;
}

int sc_pending_changesets(struct sc_replica *r, uint64_t **seqs, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;

	*seqs = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(sc_replica_db(r),
			       "SELECT DISTINCT changeset FROM outbox_entry WHERE changeset IS NOT NULL "
			       "ORDER BY changeset", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			uint64_t *g = sh_realloc(*seqs, (cap = cap ? cap * 2 : 16) * sizeof(**seqs));

			if (!g) {
				sqlite3_finalize(st);
				sh_free(*seqs);
				*seqs = NULL;
				return SH_ERR_NOMEM;
			}
			*seqs = g;
		}
		(*seqs)[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return SH_OK;
}

int sc_changeset_body(struct sc_replica *r, uint64_t seq, struct sh_buf *body, size_t *count)
{
	struct sh_record entry = {.made_order = true};
	sqlite3_stmt *st;
	bool first = true;
	int rc = SH_OK, step;

	*count = 0;
	if (sqlite3_prepare_v2(sc_replica_db(r),
			       "SELECT participant, changes FROM outbox_entry WHERE changeset = ?1 ORDER BY " CHANGESET_ORDER,
			       -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sh_buf_puts(body, "{\"participants\":[");
	while (rc == SH_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = sh_record_decode(&entry, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
		if (rc != SH_OK || entry.n == 0)
			continue;
		sh_wire_participant_begin(body, first, TXT(st, 0), NULL);
		first = false;
		for (size_t i = 0; i < entry.n; i++) {
			const struct sh_entry *e = &entry.e[i];
			struct sh_change c = {TXT(st, 0), sh_entry_field(&entry, e), sh_entry_row(&entry, e),
					      sh_entry_value(&entry, e), e->hlc, e->version};

			sh_wire_change_put(body, i == 0, &c);
		}
		sh_wire_participant_end(body);
		*count += entry.n;
	}
	sqlite3_finalize(st);
	sh_record_clear(&entry);
	if (rc == SH_OK && step != SQLITE_DONE)
		rc = SH_ERR_DB;
	sh_buf_puts(body, "]}");
	return rc != SH_OK ? rc : body->err;
}

/* Participants touched by a transaction, to re-derive once each at the end. */
struct touched {
	char (*id)[SH_ID_LEN + 1];
	size_t n, cap;
};

static void touch(struct touched *t, const char *id)
{
	if (t->n && strcmp(t->id[t->n - 1], id) == 0)
		return;
	if (t->n == t->cap) {
		void *g = sh_realloc(t->id, (t->cap = t->cap ? t->cap * 2 : 64) * sizeof(*t->id));

		if (!g)
			return;
		t->id = g;
	}
	snprintf(t->id[t->n++], SH_ID_LEN + 1, "%s", id);
}

static int by_id(const void *a, const void *b) { return strcmp(a, b); }

static void rederive_all(struct q *q, struct sc_replica *r, struct touched *t)
{
	uint64_t hlc = sc_replica_hlc(r);

	if (t->n)
		qsort(t->id, t->n, sizeof(*t->id), by_id);
	for (size_t i = 0; i < t->n && q->err == SH_OK; i++)
		if (i == 0 || strcmp(t->id[i], t->id[i - 1]) != 0)
			q->err = q->recs ? sc_participant_rederive(r, q->recs, t->id[i], hlc) : SH_ERR_INTERNAL;
	sh_free(t->id);
}

/* Is a change of (p, f, row) still in the outbox (other than in change-set `except`)? */
static bool local_change(struct q *q, struct sc_replica *r, const char *p, const char *f, const char *row,
			 int64_t except)
{
	bool yes = true;

	if (q->err == SH_OK && sc_outbox_has(sc_replica_outbox(r), p, f, row, except, &yes) != SH_OK)
		q->err = SH_ERR_DB;
	return yes;
}

/* The server's value and version for a field (the participant row first). */
static void put_value(struct q *q, const char *p, const char *f, const char *row, const char *v,
		      uint64_t version, uint64_t hlc, const char *author)
{
	struct sh_record *rec;

	if ((rec = rec_of(q, p)) && sh_record_put(rec, f, row, v, hlc, author, NULL, version) != SH_OK)
		q->err = SH_ERR_NOMEM;
}

/* The server's version of a field, without its value (our value, or a newer local edit that waits). */
static void set_version(struct q *q, const char *p, const char *f, const char *row, uint64_t version)
{
	struct sh_record *rec = rec_of(q, p);

	if (rec)
		sh_record_set_version(rec, f, row, version);
}

/* Does the query (with ?1 = seq, if it has a parameter) find a row? */
static bool exists(struct q *q, const char *sql, uint64_t seq)
{
	sqlite3_stmt *st;
	bool yes;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		q->err = SH_ERR_DB;
		return false;
	}
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Guards of the steps for the rare cases. */
#define UNSENT "SELECT 1 FROM outbox_entry WHERE changeset IS NULL"
#define EARLIER_REJECTED "SELECT 1 FROM outbox_rejected WHERE changeset <> ?1"
/* an unsent entry of a participant of change-set ?1 (the rest are numbered while it travels) */
#define UNSENT_OF "SELECT 1 FROM outbox_entry s JOIN outbox_entry u ON u.participant = s.participant " \
		  "AND u.changeset IS NULL WHERE s.changeset = ?1"

bool sc_has_unsent(struct sc_replica *r)
{
	struct q q = {.db = sc_replica_db(r)};

	return exists(&q, UNSENT, 0);
}

/* A result that carries the server's own value, with the change it answers. */
struct kept {
	char participant[SH_ID_LEN + 1], field[65], row[SH_ID_LEN + 1];
	const char *value; /* in the result */
	uint64_t version;
};

static int add_kept(struct q *q, struct kept **kept, size_t *nkept, size_t *cap, const char *p,
		    const struct sh_record *entry, const struct sh_entry *e, const struct sh_result *x)
{
	struct kept *k;

	if (*nkept == *cap) {
		void *g = sh_realloc(*kept, (*cap = *cap ? *cap * 2 : 16) * sizeof(**kept));

		if (!g)
			return q->err = SH_ERR_NOMEM;
		*kept = g;
	}
	k = &(*kept)[(*nkept)++];
	snprintf(k->participant, sizeof(k->participant), "%s", p);
	snprintf(k->field, sizeof(k->field), "%s", sh_entry_field(entry, e));
	snprintf(k->row, sizeof(k->row), "%s", sh_entry_row(entry, e));
	k->value = x->value;
	k->version = x->version;
	return SH_OK;
}

/* A change the server refused: a row of its own, the value stays and the field is marked. */
static void refused(struct q *q, uint64_t seq, const char *p, const struct sh_record *entry,
		    const struct sh_entry *e, const char *reason)
{
	sqlite3_stmt *st = Q(q, 5, "INSERT INTO outbox_rejected(participant, field, row, value, hlc, author, base, "
				   "changeset, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");

	if (!st)
		return;
	bt(st, 1, p);
	bt(st, 2, sh_entry_field(entry, e));
	bt(st, 3, sh_entry_row(entry, e));
	bt(st, 4, sh_entry_value(entry, e));
	sqlite3_bind_int64(st, 5, (sqlite3_int64)e->hlc);
	bt(st, 6, sh_entry_author(entry, e));
	sqlite3_bind_int64(st, 7, (sqlite3_int64)e->version);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)seq);
	bt(st, 9, reason ? reason : "avvist av serveren");
	run(q, st);
}

/* For the rare steps: a change that went through, in temp.ack. */
static void acked(struct q *q, const char *p, const struct sh_record *entry, const struct sh_entry *e,
		  const struct sh_result *x)
{
	sqlite3_stmt *st = Q(q, 6, "INSERT INTO temp.ack VALUES (?1, ?2, ?3, ?4, ?5)");

	if (!st)
		return;
	bt(st, 1, p);
	bt(st, 2, sh_entry_field(entry, e));
	bt(st, 3, sh_entry_row(entry, e));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)x->version);
	sqlite3_bind_int(st, 5, x->value != NULL);
	run(q, st);
}

/*
 * Pairs the results with the change-set's entries, change by change in
 * the order sent. Counts them, stores the version of each value that
 * stands, makes each refused change a row of its own, and keeps aside the
 * results that carry the server's value. With `slow`, the changes that
 * went through go into temp.ack for the steps that follow.
 */
static int pair(struct q *q, uint64_t seq, const struct sh_result *res, size_t n, bool slow,
		struct sc_ack_stats *stats, struct kept **kept, size_t *nkept, struct sh_reason *why)
{
	struct sh_record entry = {.made_order = true};
	struct sh_version_set *vs = NULL;
	sqlite3_stmt *rows;
	size_t i = 0, cap = 0, nvs, vcap = 0;

	if (sqlite3_prepare_v2(q->db, "SELECT participant, changes FROM outbox_entry WHERE changeset = ?1 "
				      "ORDER BY " CHANGESET_ORDER, -1, &rows, NULL) != SQLITE_OK)
		return q->err = SH_ERR_DB;
	sqlite3_bind_int64(rows, 1, (sqlite3_int64)seq);
	while (q->err == SH_OK && next_row(q, rows)) {
		const char *p = TXT(rows, 0);

		if ((q->err = sh_record_decode(&entry, sqlite3_column_blob(rows, 1),
					       (size_t)sqlite3_column_bytes(rows, 1))) != SH_OK)
			break;
		if (entry.n > vcap) {
			struct sh_version_set *g = sh_realloc(vs, (vcap = entry.n) * sizeof(*vs));

			if (!g) {
				q->err = SH_ERR_NOMEM;
				break;
			}
			vs = g;
		}
		nvs = 0;
		for (size_t k = 0; k < entry.n && q->err == SH_OK; k++) {
			const struct sh_entry *e = &entry.e[k];
			const char *field = sh_entry_field(&entry, e);
			const struct sh_result *x;

			if (i >= n) {
				sh_reason_set(why, "Kvitteringen for endringssett nr. %llu har for få resultater.",
					      (unsigned long long)seq);
				q->err = SH_ERR_PROTO;
				break;
			}
			x = &res[i++];
			if (strcmp(x->code, "rejected") == 0) {
				refused(q, seq, p, &entry, e, x->reason);
				stats->rejected++;
				continue;
			}
			if (slow)
				acked(q, p, &entry, e, x);
			if (!x->value) /* our value stands at that version */
				vs[nvs++] = (struct sh_version_set){field, sh_entry_row(&entry, e), x->version, 0};
			else if (strcmp(field, SH_RESOLVE) != 0)
				add_kept(q, kept, nkept, &cap, p, &entry, e, x);
			if (strcmp(field, SH_RESOLVE) == 0)
				continue;
			if (strcmp(x->code, "applied") == 0)
				stats->applied++;
			else if (strcmp(x->code, "conflict") == 0)
				stats->conflicts++;
			else
				stats->superseded++;
		}
		/* the versions go into the stored record as they are, without unpacking it */
		if (q->err == SH_OK && nvs && recs_of(q))
			q->err = sc_records_set_versions(q->recs, p, vs, nvs);
	}
	sqlite3_finalize(rows);
	sh_free(vs);
	sh_record_clear(&entry);
	if (q->err == SH_OK && i != n) {
		sh_reason_set(why, "Kvitteringen for endringssett nr. %llu passer ikke til det som ble sendt.",
			      (unsigned long long)seq);
		q->err = SH_ERR_PROTO;
	}
	return q->err;
}

/*
 * Our value stands on the server at the version acknowledged: an unsent
 * edit of the same field (made meanwhile) is based on it.
 */
static void rebase_unsent(struct q *q, struct sc_replica *r)
{
	struct sc_outbox *o = sc_replica_outbox(r);
	struct sh_record entry = {0};
	sqlite3_stmt *ps, *vs;

	if (!(ps = Q(q, 12, "SELECT DISTINCT a.participant FROM temp.ack a JOIN outbox_entry e "
			   "ON e.participant = a.participant AND e.changeset IS NULL")))
		return;
	while (q->err == SH_OK && next_row(q, ps)) {
		if ((q->err = sc_outbox_unsent(o, TXT(ps, 0), &entry)) != SH_OK ||
		    !(vs = Q(q, 13, "SELECT field, row, version FROM temp.ack WHERE participant = ?1 AND has_value = 0")))
			break;
		bt(vs, 1, entry.id);
		while (next_row(q, vs))
			sh_record_set_version(&entry, TXT(vs, 0), TXT(vs, 1), (uint64_t)sqlite3_column_int64(vs, 2));
		sqlite3_reset(vs);
		if (q->err == SH_OK && entry.dirty)
			q->err = sc_outbox_store_unsent(o, &entry);
	}
	sqlite3_reset(ps);
	sh_record_clear(&entry);
}

/*
 * Something of these participants went through: their earlier refused
 * changes get another chance (the reason may be gone, e.g. the
 * municipality was corrected) and go back into the unsent entry, before
 * the edits waiting there, unless one of those replaces them.
 */
static void retry_refused(struct q *q, struct sc_replica *r, uint64_t seq)
{
	struct sc_outbox *o = sc_replica_outbox(r);
	struct sh_record unsent = {0}, entry = {.made_order = true};
	sqlite3_stmt *ps, *rs;

	if (!(ps = Q(q, 14, "SELECT DISTINCT participant FROM outbox_rejected WHERE changeset <> ?1 "
			   "AND participant IN (SELECT participant FROM temp.ack)")))
		return;
	sqlite3_bind_int64(ps, 1, (sqlite3_int64)seq);
	while (q->err == SH_OK && next_row(q, ps)) {
		if ((q->err = sc_outbox_unsent(o, TXT(ps, 0), &unsent)) != SH_OK ||
		    !(rs = Q(q, 15, "SELECT field, row, value, hlc, author, base FROM outbox_rejected "
				   "WHERE participant = ?1 AND changeset <> ?2 ORDER BY seq")))
			break;
		snprintf(entry.id, sizeof(entry.id), "%s", unsent.id);
		sh_record_empty(&entry);
		bt(rs, 1, entry.id);
		sqlite3_bind_int64(rs, 2, (sqlite3_int64)seq);
		while (q->err == SH_OK && next_row(q, rs)) {
			const struct sh_entry *w = sh_record_find(&entry, TXT(rs, 0), TXT(rs, 1));

			if (!sh_record_find(&unsent, TXT(rs, 0), TXT(rs, 1)) &&
			    sh_record_put(&entry, TXT(rs, 0), TXT(rs, 1), TXT(rs, 2), (uint64_t)sqlite3_column_int64(rs, 3),
					  TXT(rs, 4), NULL, w ? w->version : (uint64_t)sqlite3_column_int64(rs, 5)) != SH_OK)
				q->err = SH_ERR_NOMEM;
		}
		sqlite3_reset(rs);
		for (size_t i = 0; q->err == SH_OK && i < unsent.n; i++) {
			const struct sh_entry *e = &unsent.e[i];

			if (sh_record_put(&entry, sh_entry_field(&unsent, e), sh_entry_row(&unsent, e),
					  sh_entry_value(&unsent, e), e->hlc, sh_entry_author(&unsent, e), NULL, e->version) != SH_OK)
				q->err = SH_ERR_NOMEM;
		}
		if (q->err == SH_OK && (rs = Q(q, 9, "DELETE FROM outbox_rejected WHERE participant = ?1 "
						     "AND changeset <> ?2"))) {
			bt(rs, 1, entry.id);
			sqlite3_bind_int64(rs, 2, (sqlite3_int64)seq);
			run(q, rs);
		}
		if (q->err == SH_OK)
			q->err = sc_outbox_store_unsent(o, &entry);
	}
	sqlite3_reset(ps);
	sh_record_clear(&unsent);
	sh_record_clear(&entry);
}

/*
 * The results are paired with the change-set's entries in C; refused
 * changes become rows of their own. When none of its participants has an
 * unsent change and no earlier refused change is in the outbox (nearly
 * always), that is all: the change-set's
 * entries leave. Otherwise the changes that went through are listed in
 * temp.ack for the steps of the rare cases. A result carrying the
 * server's own value is handled one by one (rare).
 */
int sc_apply_ack(struct sc_replica *r, uint64_t seq, const struct sh_result *res, size_t n,
		 struct sc_ack_stats *stats, struct sh_reason *why)
{
	struct q q = {.db = sc_replica_db(r)};
	struct touched t = {0};
	struct kept *kept = NULL;
	size_t nkept = 0;
	sqlite3_stmt *st;
	bool unsent, earlier;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (begin_resumable(q.db) != SH_OK)
		return SH_ERR_DB;
	unsent = exists(&q, UNSENT_OF, seq);
	earlier = exists(&q, EARLIER_REJECTED, seq);
	if ((unsent || earlier) &&
	    sh_db_exec(q.db, "CREATE TEMP TABLE IF NOT EXISTS ack(participant TEXT, field TEXT, row TEXT, "
			     "version INTEGER, has_value INTEGER);"
			     "CREATE INDEX IF NOT EXISTS temp.ack_field ON ack(participant, field, row);"
			     "DELETE FROM temp.ack", NULL) != SH_OK)
		q.err = SH_ERR_DB;
	pair(&q, seq, res, n, unsent || earlier, stats, &kept, &nkept, why);
	/* the server kept another value: take it, unless a newer local edit waits */
	for (size_t k = 0; k < nkept && q.err == SH_OK; k++) {
		const struct kept *x = &kept[k];

		if (!local_change(&q, r, x->participant, x->field, x->row, (int64_t)seq)) {
			put_value(&q, x->participant, x->field, x->row, x->value, x->version, sc_replica_hlc(r),
				  "server");
			touch(&t, x->participant);
		} else {
			/* made without the winner: its base stays old, so the
			 * server will see the conflict */
			set_version(&q, x->participant, x->field, x->row, x->version);
		}
	}
	sh_free(kept);
	if (unsent)
		rebase_unsent(&q, r);
	if (earlier && q.err == SH_OK && (st = Q(&q, 10,
		/* an older refused change of a field now acknowledged is replaced by it */
		"DELETE FROM outbox_rejected WHERE changeset <> ?1 AND EXISTS (SELECT 1 FROM temp.ack a "
		"WHERE a.participant = outbox_rejected.participant AND a.field = outbox_rejected.field "
		"AND a.row = outbox_rejected.row)"))) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
		run(&q, st);
	}
	if (earlier)
		retry_refused(&q, r, seq);
	/* acknowledged (or refused, and a row of its own now): out of the outbox */
	if (q.err == SH_OK && (st = Q(&q, 4, "DELETE FROM outbox_entry WHERE changeset = ?1"))) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
		run(&q, st);
	}
	/* the participants' rows first: a new one's record refers to its row */
	if (q.err == SH_OK)
		rederive_all(&q, r, &t);
	else
		sh_free(t.id);
	q_save(&q);
	rc = finish_resumable(&q);
	q_done(&q);
	return rc;
}

static void put_conflict(struct q *q, const struct sh_conflict *c)
{
	sqlite3_stmt *st = Q(q, 7,
		"INSERT INTO conflict(id, seq, kind, participant, kommune, field, row, winner_value, "
		"loser_value, winner_author, loser_author, winner_hlc, loser_hlc, other, other_kommune, "
		"resolved) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
		"ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, resolved = "
		"CASE WHEN excluded.resolved = 1 THEN 1 ELSE max(conflict.resolved, 0) END");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)c->seq);
	bt(st, 3, c->kind);
	bt(st, 4, c->participant);
	bt(st, 5, c->kommune);
	bt(st, 6, c->field);
	bt(st, 7, c->row);
	bt(st, 8, c->winner);
	bt(st, 9, c->loser);
	bt(st, 10, c->winner_author);
	bt(st, 11, c->loser_author);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)c->winner_hlc);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)c->loser_hlc);
	bt(st, 14, c->other);
	bt(st, 15, c->other_kommune);
	sqlite3_bind_int(st, 16, c->resolved ? 1 : 0);
	run(q, st);
}

int sc_apply_page(struct sc_replica *r, const struct sh_pull_page *page, size_t *applied,
		  size_t *kept)
{
	struct q q = {.db = sc_replica_db(r)};
	struct touched t = {0};
	bool any_local;
	int rc;

	*applied = *kept = 0;
	if (begin_resumable(q.db) != SH_OK)
		return SH_ERR_DB;
	any_local = exists(&q, "SELECT 1 FROM outbox_entry", 0) || exists(&q, "SELECT 1 FROM outbox_rejected", 0);
	for (size_t i = 0; i < page->nops && q.err == SH_OK; i++) {
		const struct sh_op *o = &page->ops[i];

		if (any_local && local_change(&q, r, o->participant, o->field, o->row, -1)) {
			(*kept)++; /* never over an unacknowledged local change */
			continue;
		}
		put_value(&q, o->participant, o->field, o->row, o->value, o->version, o->hlc, o->author);
		touch(&t, o->participant);
		(*applied)++;
	}
	for (size_t i = 0; i < page->nconflicts && q.err == SH_OK; i++)
		put_conflict(&q, &page->conflicts[i]);
	/* the participants' rows first: a new one's record refers to its row */
	if (q.err == SH_OK)
		rederive_all(&q, r, &t);
	else
		sh_free(t.id);
	q_save(&q);
	if (q.err == SH_OK) {
		meta_put_int(&q, "cursor", (int64_t)page->next);
		meta_put_int(&q, "cursor_base", (int64_t)page->base);
		meta_put_int(&q, "last_sync", (int64_t)sh_wall_ms());
	}
	rc = finish_resumable(&q);
	q_done(&q);
	return rc;
}

int sc_conflict_resolve(struct sc_replica *r, int64_t id, struct sh_reason *why)
{
	struct q q = {.db = sc_replica_db(r)};
	sqlite3_stmt *st;
	char row[24], participant[SH_ID_LEN + 1] = "";
	int rc;

	if (begin(q.db) != SH_OK)
		return SH_ERR_DB;
	if ((st = Q(&q, 8, "SELECT participant FROM conflict WHERE id = ?1 AND resolved = 0"))) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(participant, sizeof(participant), "%s", TXT(st, 0));
		sqlite3_reset(st);
	}
	if (!participant[0]) {
		(void)!sh_db_exec(q.db, "ROLLBACK", NULL);
		q_done(&q);
		sh_reason_set(why, "Fant ingen åpen konflikt nr. %lld.", (long long)id);
		return SH_ERR_NOT_FOUND;
	}
	snprintf(row, sizeof(row), "%lld", (long long)id);
	if ((st = Q(&q, 9, "SELECT coalesce((SELECT value FROM meta WHERE key = 'user'), 'lokal')"))) {
		/* a resolution waiting for this conflict already stays as it is */
		if (sqlite3_step(st) != SQLITE_ROW ||
		    sc_outbox_add(sc_replica_outbox(r), participant, SH_RESOLVE, row, "", sc_replica_hlc(r),
				  TXT(st, 0), 0, true) != SH_OK)
			q.err = SH_ERR_DB;
		sqlite3_reset(st);
	}
	if ((st = Q(&q, 10, "UPDATE conflict SET resolved = 2 WHERE id = ?1"))) {
		sqlite3_bind_int64(st, 1, id);
		run(&q, st);
	}
	rc = finish(&q);
	q_done(&q);
	return rc;
}

int sc_conflicts_each(struct sc_replica *r, const char *participant, bool all,
		      int (*cb)(const struct sc_conflict_row *c, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(sc_replica_db(r),
			       "SELECT id, kind, participant, field, row, winner_value, loser_value, "
			       "winner_author, loser_author, other, winner_hlc, loser_hlc, resolved "
			       "FROM conflict WHERE (?1 IS NULL OR participant = ?1 OR other = ?1) "
			       "AND (?2 OR resolved = 0) ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	bt(st, 1, participant);
	sqlite3_bind_int(st, 2, all);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct sc_conflict_row c = {
			sqlite3_column_int64(st, 0), TXT(st, 1), TXT(st, 2), TXT(st, 3), TXT(st, 4),
			TXT(st, 5), TXT(st, 6), TXT(st, 7), TXT(st, 8), TXT(st, 9),
			(uint64_t)sqlite3_column_int64(st, 10), (uint64_t)sqlite3_column_int64(st, 11),
			sqlite3_column_int(st, 12),
		};

		if (cb(&c, arg))
			break;
	}
	sqlite3_finalize(st);
	return (step == SQLITE_ROW || step == SQLITE_DONE) ? SH_OK : SH_ERR_DB;
}

int sc_content_hash(struct sc_replica *r, const char *kommune, char out[65])
{
	sqlite3_stmt *st;
	struct sh_chash h;
	struct sh_record rec = {0};
	int rc = SH_OK, step;

	if (sqlite3_prepare_v2(sc_replica_db(r),
			       "SELECT p.id, v.vals FROM participant p JOIN record v ON v.participant = p.id "
			       "WHERE p.draft = 0 AND p.kommune = ?1 ORDER BY p.id", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	bt(st, 1, kommune);
	sh_chash_init(&h);
	while (rc == SH_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = sh_record_decode(&rec, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
		for (size_t i = 0; rc == SH_OK && i < rec.n; i++)
			if (*sh_entry_value(&rec, &rec.e[i]))
				sh_chash_add(&h, TXT(st, 0), sh_entry_field(&rec, &rec.e[i]),
					     sh_entry_row(&rec, &rec.e[i]), sh_entry_value(&rec, &rec.e[i]));
	}
	sqlite3_finalize(st);
	sh_record_clear(&rec);
	if (rc == SH_OK && step != SQLITE_DONE)
		rc = SH_ERR_DB;
	sh_chash_final(&h, out);
	return rc;
}

int sc_lookup_bodies(struct sc_replica *r, bool only_new, int (*cb)(struct sh_buf *body, size_t n, void *arg),
		     void *arg)
{
	sqlite3_stmt *st;
	struct sh_buf b;
	size_t n = 0;
	int rc = SH_OK, step;

	if (sqlite3_prepare_v2(sc_replica_db(r), only_new ?
			       "SELECT participant, fnr FROM lookup WHERE state = 'venter' ORDER BY participant" :
			       "SELECT participant, fnr FROM lookup WHERE state IN ('venter', 'sendt', 'henter') "
			       "ORDER BY participant", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sh_buf_init(&b, SH_BOX_MAX_BODY);
	while (rc == SH_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		sh_buf_puts(&b, n ? ",[" : "{\"lookups\":[[");
		sh_buf_json_str(&b, TXT(st, 0));
		sh_buf_append(&b, ",", 1);
		sh_buf_json_str(&b, TXT(st, 1));
		sh_buf_append(&b, "]", 1);
		if (++n == SC_CHANGESET_SIZE) {
			sh_buf_puts(&b, "]}");
			rc = b.err ? b.err : cb(&b, n, arg);
			sh_buf_reset(&b);
			n = 0;
		}
	}
	sqlite3_finalize(st);
	if (rc == SH_OK && n) {
		sh_buf_puts(&b, "]}");
		rc = b.err ? b.err : cb(&b, n, arg);
	}
	sh_buf_free(&b);
	return rc;
}

int sc_apply_lookup_states(struct sc_replica *r, const char *body, size_t len, size_t *applied)
{
	static const char *const known[] = {"venter", "sendt", "henter", "hentet", "ikke_funnet", "feil"};
	struct q q = {.db = sc_replica_db(r)};
	cJSON *root = cJSON_ParseWithLength(body, len), *it;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "states");
	sqlite3_stmt *st;
	char *text;
	int rc;

	*applied = 0;
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(root);
		return SH_ERR_PROTO;
	}
	/* every state checked before any is applied: a message is taken whole or not at all */
	cJSON_ArrayForEach(it, list) {
		const char *pid = cJSON_GetStringValue(cJSON_GetArrayItem(it, 0));
		const char *fnr = cJSON_GetStringValue(cJSON_GetArrayItem(it, 1));
		const char *state = cJSON_GetStringValue(cJSON_GetArrayItem(it, 2));
		const cJSON *att = cJSON_GetArrayItem(it, 3), *next = cJSON_GetArrayItem(it, 4);
		const char *reason = cJSON_GetStringValue(cJSON_GetArrayItem(it, 5));
		bool ok = false;

		for (size_t i = 0; state && i < sizeof(known) / sizeof(*known); i++)
			ok = ok || strcmp(state, known[i]) == 0;
		if (!cJSON_IsArray(it) || !ok || !sh_id_valid(pid) || !fnr || strlen(fnr) != 11 ||
		    !cJSON_IsNumber(att) || !cJSON_IsNumber(next) || !reason || strlen(reason) > 500) {
			cJSON_Delete(root);
			return SH_ERR_PROTO;
		}
	}
	/* SQLite reads the list as cJSON wrote it: what was checked is what is applied */
	text = sh_json_print(list);
	cJSON_Delete(root);
	if (!text)
		return SH_ERR_NOMEM;
	if (begin_resumable(q.db) != SH_OK) {
		sh_free(text);
		return SH_ERR_DB;
	}
	/*
	 * All in one statement, not one a state: a statement that fires a
	 * trigger keeps a journal of its own, and copies every page it changes
	 * into it the first time; one a state copied the same pages again and
	 * again. A participant of ours with that number (registered here or
	 * pulled) learns the state; a lookup for another number (it changed
	 * meanwhile) is left alone, and so is one that already says the same
	 * (its trigger would rewrite the participant's row for nothing).
	 */
	st = Q(&q, 11, "INSERT INTO lookup(participant, fnr, state, created, attempts, next_try, reason) "
		       "SELECT p.id, p.fnr, s.value ->> 2, 0, CAST(s.value ->> 3 AS INTEGER), "
		       "CAST(s.value ->> 4 AS INTEGER), nullif(s.value ->> 5, '') "
		       "FROM json_each(?1) s JOIN participant p ON p.id = s.value ->> 0 "
		       "AND p.fnr = s.value ->> 1 WHERE true ORDER BY s.key "
		       "ON CONFLICT(participant) DO UPDATE SET state = excluded.state, attempts = "
		       "excluded.attempts, next_try = excluded.next_try, reason = excluded.reason "
		       "WHERE lookup.fnr = excluded.fnr AND (lookup.state, lookup.attempts, lookup.next_try, "
		       "lookup.reason) IS NOT (excluded.state, excluded.attempts, excluded.next_try, excluded.reason)");
	if (st) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		run(&q, st);
		*applied = (size_t)sqlite3_changes(q.db);
		sqlite3_clear_bindings(st);
	}
	sh_free(text);
	rc = finish_resumable(&q);
	q_done(&q);
	return rc;
}
