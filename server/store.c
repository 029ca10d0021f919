/* store.c: the server's SQLite store. */
#include "store.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "chash.h"
#include "db.h"
#include "hlc.h"
#include "log.h"
#include "packed.h"
#include "pcache.h"
#include "text.h"

enum st {
	ST_SEQ_GET, ST_SEQ_PUT, ST_USER_ADD, ST_USER_KOMMUNE_ADD, ST_USER_BY_NAME, ST_USER_BY_ID,
	ST_USER_KOMMUNER, ST_DEVICE_GET, ST_DEVICE_ADD, ST_DEVICE_ACKED, ST_SESSION_ADD,
	ST_SESSION_GET, ST_SESSION_TOUCH, ST_SESSION_REVOKE, ST_CS_GET, ST_CS_PUT, ST_P_GET,
	ST_P_NUMBER, ST_P_PUT, ST_SAME_PERSON,
	ST_CONFLICT_ADD, ST_DUP_OPEN, ST_CONFLICT_GET, ST_CONFLICT_RESOLVE, ST_DUPS_OF,
	ST_PULL_PARTICIPANTS, ST_PULL_CONFLICTS, ST_HASH, ST_META_GET, ST_META_PUT,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
	[ST_SEQ_GET] = "SELECT value FROM meta WHERE key = 'seq'",
	[ST_SEQ_PUT] = "UPDATE meta SET value = ?1 WHERE key = 'seq'",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_USER_ADD] = "INSERT INTO users(username, role, pwhash, created) VALUES (?1, ?2, ?3, ?4)",
	[ST_USER_KOMMUNE_ADD] = "INSERT OR IGNORE INTO user_kommune(user_id, kommune) VALUES (?1, ?2)",
	[ST_USER_BY_NAME] = "SELECT id, username, role, active, pwhash FROM users WHERE username = ?1",
	[ST_USER_BY_ID] = "SELECT id, username, role, active, pwhash FROM users WHERE id = ?1",
	[ST_USER_KOMMUNER] = "SELECT kommune FROM user_kommune WHERE user_id = ?1 ORDER BY kommune",
	[ST_DEVICE_GET] = "SELECT user_id, kx_pk, sign_pk, acked_seq, id FROM device WHERE id = ?1",
	[ST_DEVICE_ADD] = "INSERT INTO device(id, user_id, kx_pk, sign_pk, created) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_DEVICE_ACKED] = "UPDATE device SET acked_seq = ?2 WHERE id = ?1",
	[ST_SESSION_ADD] = "INSERT INTO session(token_hash, user_id, device_id, created, last_used, expires) "
			   "VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
	[ST_SESSION_GET] = "SELECT user_id, device_id, last_used, expires, revoked FROM session "
			   "WHERE token_hash = ?1",
	[ST_SESSION_TOUCH] = "UPDATE session SET last_used = ?2 WHERE token_hash = ?1",
	[ST_SESSION_REVOKE] = "UPDATE session SET revoked = 1 WHERE user_id = ?1",
	[ST_CS_GET] = "SELECT hash, ack FROM changeset WHERE device = ?1 AND seq = ?2",
	[ST_CS_PUT] = "INSERT INTO changeset(device, seq, hash, received, changes, ack) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_P_GET] = "SELECT kommune, version, vals FROM participant WHERE id = ?1",
	[ST_P_NUMBER] = "SELECT kommune, fnr FROM participant WHERE id = ?1",
	[ST_P_PUT] = "INSERT INTO participant(id, kommune, fnr, startdato, sluttdato, status, created, version, vals) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) ON CONFLICT(id) DO UPDATE SET "
		     "kommune = excluded.kommune, fnr = excluded.fnr, startdato = excluded.startdato, "
		     "sluttdato = excluded.sluttdato, status = excluded.status, version = excluded.version, "
		     "vals = excluded.vals",
	[ST_SAME_PERSON] = "SELECT id, kommune, startdato, sluttdato FROM participant WHERE fnr = ?1 AND id <> ?2",
	[ST_CONFLICT_ADD] =
		"INSERT INTO conflict(seq, kind, participant, kommune, field, row, winner_value, loser_value, "
		"winner_author, loser_author, winner_hlc, loser_hlc, other, other_kommune, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[ST_DUP_OPEN] = "SELECT id FROM conflict WHERE kind = 'duplicate' AND resolved = 0 AND "
			"((participant = ?1 AND other = ?2) OR (participant = ?2 AND other = ?1))",
	[ST_CONFLICT_GET] = "SELECT kommune, other_kommune, resolved FROM conflict WHERE id = ?1",
	[ST_CONFLICT_RESOLVE] = "UPDATE conflict SET resolved = 1, resolved_by = ?2, seq = ?3 WHERE id = ?1",
	[ST_DUPS_OF] = "SELECT id, CASE WHEN participant = ?1 THEN other ELSE participant END FROM conflict "
		       "WHERE kind = 'duplicate' AND resolved = 0 AND (participant = ?1 OR other = ?1)",
	/* a device's own writes are not sent back: it has them, and their
	 * versions came with the acknowledgement */
	[ST_PULL_PARTICIPANTS] = "SELECT id, version, vals FROM participant "
				 "WHERE kommune = ?1 AND version > ?2 ORDER BY version",
	[ST_PULL_CONFLICTS] =
		"SELECT id, seq, kind, participant, kommune, field, row, winner_value, loser_value, "
		"winner_author, loser_author, winner_hlc, loser_hlc, other, other_kommune, resolved "
		"FROM conflict WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[ST_HASH] = "SELECT id, vals FROM participant WHERE kommune = ?1 ORDER BY id",
};

/*
 * participants kept by the merge: four ways each, 8,192 in all, about the
 * participants a nation's caseworkers change in a day; each holds its
 * values and its record (~7 KB), so at most ~60 MB
 */
#define PCACHE_SETS 2048
/* statements of other modules kept prepared (ss_stmt) */
#define SS_STMTS 32

struct ss_store {
	sqlite3 *db;
	uint64_t seq;       /* last number handed out */
	uint64_t seq_saved; /* as in meta */
	bool mail;          /* mail queued since ss_store_take_mail() */
	struct ss_pcache *pc;
	struct sh_record cur;   /* the participant being merged (ss_participant_take) */
	bool live;              /* cur is that participant's, as changed so far */
	struct sh_record other; /* ss_participant_load, the pull, the content hash */
	struct {
		const char *sql; /* a literal: its address is the key */
		sqlite3_stmt *st;
	} cached[SS_STMTS];
	sqlite3_stmt *st[ST_COUNT];
};

static sqlite3_stmt *stmt(struct ss_store *s, enum st i)
{
	return sh_db_prepared(s->db, &s->st[i], sql[i]);
}

sqlite3_stmt *ss_stmt(struct ss_store *s, const char *text)
{
	int i = 0;

	while (i < SS_STMTS && s->cached[i].sql && s->cached[i].sql != text)
		i++;
	if (i == SS_STMTS) {
		sh_log_error("store: more than %d kept statements", SS_STMTS);
		return NULL;
	}
	if (!s->cached[i].sql) {
		if (sqlite3_prepare_v3(s->db, text, -1, SQLITE_PREPARE_PERSISTENT, &s->cached[i].st, NULL) !=
		    SQLITE_OK) {
			sh_log_error("store: prepare: %s", sqlite3_errmsg(s->db));
			s->cached[i].st = NULL;
			return NULL;
		}
		s->cached[i].sql = text;
	}
	sqlite3_reset(s->cached[i].st);
	sqlite3_clear_bindings(s->cached[i].st);
	return s->cached[i].st;
}

int ss_run(struct ss_store *s, const char *text, const char *types, ...)
{
	sqlite3_stmt *st = ss_stmt(s, text);
	va_list ap;
	int rc;

	if (!st)
		return SH_ERR_DB;
	va_start(ap, types);
	sh_db_bindv(st, types, ap);
	va_end(ap);
	rc = sh_db_step_done(s->db, st);
	sqlite3_reset(st);
	return rc;
}

static void bt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bi(sqlite3_stmt *st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }

static int done(struct ss_store *s, sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return SH_ERR_DB;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		sh_log_error("store: %s", sqlite3_errmsg(s->db));
		return rc == SQLITE_CONSTRAINT ? SH_ERR_CONFLICT : SH_ERR_DB;
	}
	return SH_OK;
}

#define TXT(st, i) ((const char *)sqlite3_column_text(st, i))

static void copy(char *dst, size_t n, const char *src) { sh_str_copy(dst, n, src); }

sqlite3 *ss_store_db(struct ss_store *s) { return s->db; }

int ss_store_open(const char *path, struct ss_store **out, struct sh_reason *why)
{
	struct ss_store *s = sh_calloc(1, sizeof(*s));
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if (!s)
		return SH_ERR_NOMEM;
	s->cur.with_device = s->other.with_device = true;
	rc = sh_db_open(path, &s->db, why);
	if (rc == SH_OK && !(s->pc = ss_pcache_new(PCACHE_SETS)))
		rc = SH_ERR_NOMEM;
	if (rc == SH_OK)
		rc = sh_migrate(s->db, sh_migrations_server, sh_migrations_server_count, NULL, NULL, why);
	if (rc == SH_OK && (st = stmt(s, ST_SEQ_GET)) && sqlite3_step(st) == SQLITE_ROW) {
		s->seq = s->seq_saved = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	} else if (rc == SH_OK) {
		sh_reason_set(why, "Lageret mangler sekvensnummeret.");
		rc = SH_ERR_DB;
	}
	if (rc != SH_OK) {
		ss_store_close(s);
		return rc;
	}
	*out = s;
	return SH_OK;
}

void ss_store_close(struct ss_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; i < SS_STMTS; i++)
		sqlite3_finalize(s->cached[i].st);
	sqlite3_close(s->db);
	ss_pcache_free(s->pc);
	sh_record_clear(&s->cur);
	sh_record_clear(&s->other);
	sh_free(s);
}

int ss_begin(struct ss_store *s)
{
	s->seq = s->seq_saved;
	return sh_db_exec(s->db, "BEGIN IMMEDIATE", NULL);
}

int ss_begin_read(struct ss_store *s) { return sh_db_exec(s->db, "BEGIN", NULL); }

int ss_commit(struct ss_store *s)
{
	sqlite3_stmt *st;

	if (s->seq != s->seq_saved) {
		if (!(st = stmt(s, ST_SEQ_PUT)))
			return SH_ERR_DB;
		bi(st, 1, (int64_t)s->seq);
		if (done(s, st) != SH_OK)
			return SH_ERR_DB;
	}
	if (sh_db_exec(s->db, "COMMIT", NULL) != SH_OK)
		return SH_ERR_DB;
	s->seq_saved = s->seq;
	return SH_OK;
}

void ss_rollback(struct ss_store *s)
{
	(void)!sh_db_exec(s->db, "ROLLBACK", NULL);
	/* versions of this transaction will be handed out again: nothing
	 * kept under them may be mistaken for what they will then mean */
	s->seq = s->seq_saved;
	ss_pcache_clear(s->pc);
	s->live = false;
}

int ss_savepoint(struct ss_store *s) { return sh_db_exec(s->db, "SAVEPOINT job", NULL); }
int ss_release(struct ss_store *s) { return sh_db_exec(s->db, "RELEASE job", NULL); }

void ss_rollback_to(struct ss_store *s)
{
	/* the sequence keeps counting: a gap in versions is harmless */
	(void)!sh_db_exec(s->db, "ROLLBACK TO job; RELEASE job", NULL);
	s->live = false;
}

uint64_t ss_next_seq(struct ss_store *s) { return ++s->seq; }
uint64_t ss_seq(const struct ss_store *s) { return s->seq; }
void ss_store_mail_queued(struct ss_store *s) { s->mail = true; }

int ss_meta_get(struct ss_store *s, const char *key, char *out, size_t n)
{
	sqlite3_stmt *st = stmt(s, ST_META_GET);
	int rc = SH_ERR_NOT_FOUND;

	if (n)
		out[0] = '\0';
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, key);
	if (sqlite3_step(st) == SQLITE_ROW) {
		copy(out, n, TXT(st, 0));
		rc = SH_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int ss_meta_put(struct ss_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = stmt(s, ST_META_PUT);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, key);
	bt(st, 2, value);
	return done(s, st);
}

bool ss_store_take_mail(struct ss_store *s)
{
	bool was = s->mail;

	s->mail = false;
	return was;
}

/* ---- users -------------------------------------------------------------- */

int ss_user_add(struct ss_store *s, const char *username, const char *role,
		const char *const *kommuner, size_t n, const char *pwhash, int64_t *id,
		struct sh_reason *why)
{
	sqlite3_stmt *st = stmt(s, ST_USER_ADD);
	int rc;

	*id = 0;
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, username);
	bt(st, 2, role);
	bt(st, 3, pwhash);
	bi(st, 4, (int64_t)sh_wall_ms());
	rc = done(s, st);
	if (rc == SH_ERR_CONFLICT)
		sh_reason_set(why, "Brukernavnet «%s» er tatt.", username);
	if (rc != SH_OK)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	for (size_t i = 0; i < n && rc == SH_OK; i++) {
		if (!(st = stmt(s, ST_USER_KOMMUNE_ADD)))
			return SH_ERR_DB;
		bi(st, 1, *id);
		bt(st, 2, kommuner[i]);
		rc = done(s, st);
	}
	return rc;
}

static int fill_user(struct ss_store *s, sqlite3_stmt *st, struct ss_user *u, char **pwhash)
{
	sqlite3_stmt *k;
	int rc = SH_OK;

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	copy(u->username, sizeof(u->username), TXT(st, 1));
	copy(u->role, sizeof(u->role), TXT(st, 2));
	u->active = sqlite3_column_int(st, 3) != 0;
	if (pwhash && TXT(st, 4) && !(*pwhash = sh_strdup(TXT(st, 4))))
		rc = SH_ERR_NOMEM;
	sqlite3_reset(st);
	if (rc != SH_OK || !(k = stmt(s, ST_USER_KOMMUNER)))
		return rc != SH_OK ? rc : SH_ERR_DB;
	bi(k, 1, u->id);
	while (sqlite3_step(k) == SQLITE_ROW && u->nkommuner < SS_MAX_KOMMUNER)
		copy(u->kommuner[u->nkommuner++], 8, TXT(k, 0));
	sqlite3_reset(k);
	return SH_OK;
}

int ss_user_by_name(struct ss_store *s, const char *name, struct ss_user *u, char **pwhash)
{
	sqlite3_stmt *st = stmt(s, ST_USER_BY_NAME);

	if (pwhash)
		*pwhash = NULL;
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return SH_ERR_NOT_FOUND;
	}
	return fill_user(s, st, u, pwhash);
}

int ss_user_by_id(struct ss_store *s, int64_t id, struct ss_user *u)
{
	sqlite3_stmt *st = stmt(s, ST_USER_BY_ID);

	if (!st)
		return SH_ERR_DB;
	bi(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return SH_ERR_NOT_FOUND;
	}
	return fill_user(s, st, u, NULL);
}

bool ss_user_in(const struct ss_user *u, const char *kommune)
{
	for (size_t i = 0; kommune && i < u->nkommuner; i++)
		if (strcmp(u->kommuner[i], kommune) == 0)
			return true;
	return false;
}

/* ---- devices and sessions ---------------------------------------------- */

int ss_device_get(struct ss_store *s, const char *id, struct ss_device *d)
{
	sqlite3_stmt *st = stmt(s, ST_DEVICE_GET);
	int rc = SH_ERR_NOT_FOUND;

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id); /* bound (copied) before d, which may hold id, is cleared */
	memset(d, 0, sizeof(*d));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == SH_KX_PK &&
	    sqlite3_column_bytes(st, 2) == SH_SIGN_PK) {
		copy(d->id, sizeof(d->id), (const char *)sqlite3_column_text(st, 4));
		d->user_id = sqlite3_column_int64(st, 0);
		memcpy(d->kx_pk, sqlite3_column_blob(st, 1), SH_KX_PK);
		memcpy(d->sign_pk, sqlite3_column_blob(st, 2), SH_SIGN_PK);
		d->acked_seq = (uint64_t)sqlite3_column_int64(st, 3);
		rc = SH_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int ss_device_add(struct ss_store *s, const struct ss_device *d, int64_t now)
{
	sqlite3_stmt *st = stmt(s, ST_DEVICE_ADD);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, d->id);
	bi(st, 2, d->user_id);
	sqlite3_bind_blob(st, 3, d->kx_pk, SH_KX_PK, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, d->sign_pk, SH_SIGN_PK, SQLITE_TRANSIENT);
	bi(st, 5, now);
	return done(s, st);
}

int ss_device_acked(struct ss_store *s, const char *id, uint64_t seq)
{
	sqlite3_stmt *st = stmt(s, ST_DEVICE_ACKED);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	bi(st, 2, (int64_t)seq);
	return done(s, st);
}

static void token_hash(const char *token, unsigned char h[32])
{
	crypto_generichash(h, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

int ss_session_new(struct ss_store *s, int64_t user_id, const char *device, int64_t now,
		   int64_t ttl_ms, char token[65])
{
	unsigned char raw[32], h[32];
	sqlite3_stmt *st = stmt(s, ST_SESSION_ADD);

	if (!st)
		return SH_ERR_DB;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, 65, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	token_hash(token, h);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
	bi(st, 2, user_id);
	bt(st, 3, device);
	bi(st, 4, now);
	bi(st, 5, now + ttl_ms);
	return done(s, st);
}

int ss_session_check(struct ss_store *s, const char *token, const char *device, int64_t now,
		     int64_t idle_ms, int64_t *user_id)
{
	unsigned char h[32];
	sqlite3_stmt *st = stmt(s, ST_SESSION_GET);
	bool ok = false;

	*user_id = 0;
	if (!st)
		return SH_ERR_DB;
	token_hash(token, h);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ok = TXT(st, 1) && strcmp(TXT(st, 1), device) == 0 &&
		     sqlite3_column_int64(st, 2) + idle_ms > now && sqlite3_column_int64(st, 3) > now &&
		     sqlite3_column_int(st, 4) == 0;
		*user_id = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (!ok) {
		*user_id = 0;
		return SH_ERR_AUTH;
	}
	if (!(st = stmt(s, ST_SESSION_TOUCH)))
		return SH_ERR_DB;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
	bi(st, 2, now);
	return done(s, st);
}

int ss_session_revoke_user(struct ss_store *s, int64_t user_id)
{
	sqlite3_stmt *st = stmt(s, ST_SESSION_REVOKE);

	if (!st)
		return SH_ERR_DB;
	bi(st, 1, user_id);
	return done(s, st);
}

/* ---- change-sets --------------------------------------------------------- */

int ss_changeset_get(struct ss_store *s, const char *device, uint64_t seq,
		     unsigned char hash[32], char **ack)
{
	sqlite3_stmt *st = stmt(s, ST_CS_GET);
	int rc = SH_ERR_NOT_FOUND;

	*ack = NULL;
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, device);
	bi(st, 2, (int64_t)seq);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(hash, sqlite3_column_blob(st, 0), 32);
		*ack = sh_strdup(TXT(st, 1));
		rc = *ack ? SH_OK : SH_ERR_NOMEM;
	}
	sqlite3_reset(st);
	return rc;
}

int ss_changeset_put(struct ss_store *s, const char *device, uint64_t seq,
		     const unsigned char hash[32], size_t changes, const char *ack, int64_t now)
{
	sqlite3_stmt *st = stmt(s, ST_CS_PUT);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, device);
	bi(st, 2, (int64_t)seq);
	sqlite3_bind_blob(st, 3, hash, 32, SQLITE_TRANSIENT);
	bi(st, 4, now);
	bi(st, 5, (int64_t)changes);
	bt(st, 6, ack);
	return done(s, st);
}

/* ---- participants -------------------------------------------------------- */

/*
 * participant.kommune and .version of id (*exists false when unknown), and
 * its record and values into rec and p: from the cache pc when it kept
 * them at that version, else unpacked from the row just read (a row fits a
 * page, so reading vals with the rest costs no more I/O).
 */
/* Unpacks column col of st into rec (named already); a row that is not a record is logged. */
static int unpack(struct sh_record *rec, sqlite3_stmt *st, int col)
{
	int rc = sh_record_decode(rec, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col));

	if (rc == SH_ERR_DB)
		sh_log_error("store: the values of participant %.8s cannot be read", rec->id);
	return rc;
}

static int participant_row(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			   uint64_t *version, struct sh_record *rec, struct sh_participant *p,
			   struct ss_pcache *pc)
{
	sqlite3_stmt *st = stmt(s, ST_P_GET);
	int rc = SH_OK, step;

	*exists = false;
	kommune[0] = '\0';
	*version = 0;
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*exists = true;
		copy(kommune, 8, TXT(st, 0));
		*version = (uint64_t)sqlite3_column_int64(st, 1);
		if (!ss_pcache_take(pc, id, *version, p, rec) && (rc = unpack(rec, st, 2)) == SH_OK)
			rc = sh_record_values(rec, p);
	} else if (step != SQLITE_DONE) {
		sh_log_error("store: %s", sqlite3_errmsg(s->db));
		rc = SH_ERR_DB;
	}
	sqlite3_reset(st);
	return rc;
}

/* The store's record rec made empty and named id. */
static void record_for(struct sh_record *rec, const char *id)
{
	sh_record_empty(rec);
	rec->with_device = true;
	copy(rec->id, sizeof(rec->id), id);
}

int ss_participant_load(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			struct sh_participant *p)
{
	uint64_t version;

	record_for(&s->other, id);
	copy(p->id, sizeof(p->id), id);
	return participant_row(s, id, exists, kommune, &version, &s->other, p, NULL);
}

int ss_participant_number(struct ss_store *s, const char *id, bool *exists, char kommune[8], char fnr[12])
{
	sqlite3_stmt *st = stmt(s, ST_P_NUMBER);
	int step;

	*exists = false;
	kommune[0] = fnr[0] = '\0';
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		*exists = true;
		copy(kommune, 8, TXT(st, 0));
		copy(fnr, 12, TXT(st, 1));
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? SH_OK : SH_ERR_DB;
}

int ss_participant_take(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			uint64_t *version, struct sh_participant *p)
{
	int rc;

	s->live = false;
	record_for(&s->cur, id);
	copy(p->id, sizeof(p->id), id);
	if ((rc = participant_row(s, id, exists, kommune, version, &s->cur, p, s->pc)) == SH_OK)
		s->live = true;
	return rc;
}

void ss_participant_keep(struct ss_store *s, uint64_t version, struct sh_participant *p)
{
	if (s->live && strcmp(s->cur.id, p->id) == 0) {
		sh_record_compact(&s->cur); /* values replaced while it was kept leave their strings */
		ss_pcache_keep(s->pc, version, p, &s->cur);
		s->cur.with_device = true; /* zeroed by the cache */
	} else {
		sh_participant_clear(p);
	}
	s->live = false;
}

/* The record being merged for participant, read when it is not (NULL on error). */
static struct sh_record *current(struct ss_store *s, const char *participant)
{
	struct sh_participant p;
	bool exists;
	char kommune[8];
	uint64_t version;
	int rc;

	if (s->live && strcmp(s->cur.id, participant) == 0)
		return &s->cur;
	if (s->live && s->cur.dirty) {
		/* a bug of the caller: its changes would be lost */
		sh_log_error("store: participant %.8s has changes not written; %.8s must wait", s->cur.id,
			     participant);
		return NULL;
	}
	sh_participant_init(&p);
	rc = ss_participant_take(s, participant, &exists, kommune, &version, &p);
	sh_participant_clear(&p);
	return rc == SH_OK ? &s->cur : NULL;
}

size_t ss_participant_entries(struct ss_store *s, const char *participant)
{
	struct sh_record *rec = current(s, participant);

	return rec ? rec->n : 0;
}

int ss_participant_put(struct ss_store *s, const struct sh_participant *p, const char *kommune,
		       const char *status, uint64_t version)
{
	struct sh_record *rec = current(s, p->id);
	sqlite3_stmt *st = stmt(s, ST_P_PUT);
	int rc;

	if (!rec || !st)
		return SH_ERR_DB;
	/* packed in the record itself: what the next change-set leaves as it is is copied from it */
	if ((rc = sh_record_pack(rec)) != SH_OK)
		return rc;
	bt(st, 1, p->id);
	bt(st, 2, kommune);
	bt(st, 3, p->v[SH_F_FNR]);
	bt(st, 4, p->v[SH_F_STARTDATO]);
	bt(st, 5, p->v[SH_F_SLUTTDATO]);
	bt(st, 6, status);
	bi(st, 7, (int64_t)version);
	sqlite3_bind_blob(st, 8, rec->packed.data ? rec->packed.data : "", (int)rec->packed.len, SQLITE_STATIC);
	if ((rc = done(s, st)) == SH_OK)
		rec->dirty = false;
	return rc;
}

int ss_field_get(struct ss_store *s, const char *participant, const char *field, const char *row,
		 struct ss_field *out)
{
	struct sh_record *rec = current(s, participant);
	const struct sh_entry *e;

	out->exists = false;
	out->value[0] = '\0';
	out->version = out->hlc = 0;
	out->device[0] = out->author[0] = '\0';
	if (!rec)
		return SH_ERR_DB;
	if ((e = sh_record_find(rec, field, row))) {
		out->exists = true;
		copy(out->value, sizeof(out->value), sh_entry_value(rec, e));
		out->version = e->version;
		out->hlc = e->hlc;
		copy(out->device, sizeof(out->device), sh_entry_device(rec, e));
		copy(out->author, sizeof(out->author), sh_entry_author(rec, e));
	}
	return SH_OK;
}

int ss_field_put(struct ss_store *s, const char *participant, const char *field, const char *row,
		 const char *value, uint64_t hlc, const char *device, const char *author,
		 uint64_t version)
{
	struct sh_record *rec = current(s, participant);

	return rec ? sh_record_put(rec, field, row, value, hlc, author, device, version) : SH_ERR_DB;
}

int ss_participant_move(struct ss_store *s, const char *id, uint64_t *version)
{
	struct sh_record *rec = current(s, id);

	if (!rec)
		return SH_ERR_DB;
	/* each value its own new version, so the new municipality pulls it all */
	for (size_t i = 0; i < rec->n; i++)
		sh_record_set_version_at(rec, i, *version = ss_next_seq(s));
	rec->dirty = true;
	return SH_OK;
}

int ss_same_person(struct ss_store *s, const char *fnr, const char *except,
		   int (*cb)(const char *id, const char *kommune, const char *start,
			     const char *end, void *arg), void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_SAME_PERSON);
	char (*found)[4][SH_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	int rc = SH_OK;

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, fnr);
	bt(st, 2, except);
	/* collect first: the callback may use the store */
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			void *r = sh_realloc(found, (cap = cap ? cap * 2 : 4) * sizeof(*found));

			if (!r) {
				rc = SH_ERR_NOMEM;
				break;
			}
			found = r;
		}
		for (int k = 0; k < 4; k++)
			copy(found[n][k], SH_ID_LEN + 1, TXT(st, k));
		n++;
	}
	sqlite3_reset(st);
	for (size_t i = 0; rc == SH_OK && i < n; i++)
		rc = cb(found[i][0], found[i][1], found[i][2][0] ? found[i][2] : NULL,
			found[i][3][0] ? found[i][3] : NULL, arg);
	sh_free(found);
	return rc;
}

/* ---- conflicts ------------------------------------------------------------ */

int ss_conflict_add(struct ss_store *s, const struct sh_conflict *c, int64_t now)
{
	sqlite3_stmt *st = stmt(s, ST_CONFLICT_ADD);

	if (!st)
		return SH_ERR_DB;
	bi(st, 1, (int64_t)ss_next_seq(s));
	bt(st, 2, c->kind);
	bt(st, 3, c->participant);
	bt(st, 4, c->kommune);
	bt(st, 5, c->field);
	bt(st, 6, c->row);
	bt(st, 7, c->winner);
	bt(st, 8, c->loser);
	bt(st, 9, c->winner_author);
	bt(st, 10, c->loser_author);
	bi(st, 11, (int64_t)c->winner_hlc);
	bi(st, 12, (int64_t)c->loser_hlc);
	bt(st, 13, c->other);
	bt(st, 14, c->other_kommune);
	bi(st, 15, now);
	return done(s, st);
}

int64_t ss_duplicate_open(struct ss_store *s, const char *a, const char *b)
{
	sqlite3_stmt *st = stmt(s, ST_DUP_OPEN);
	int64_t id = 0;

	if (!st)
		return 0;
	bt(st, 1, a);
	bt(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

int ss_conflict_resolve(struct ss_store *s, int64_t id, const struct ss_user *u, const char *by)
{
	sqlite3_stmt *st = stmt(s, ST_CONFLICT_GET);
	bool found = false, scope = false, open = false;

	if (!st)
		return SH_ERR_DB;
	bi(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		scope = !u || ss_user_in(u, TXT(st, 0)) || ss_user_in(u, TXT(st, 1));
		open = sqlite3_column_int(st, 2) == 0;
	}
	sqlite3_reset(st);
	if (!found)
		return SH_ERR_NOT_FOUND;
	if (!scope)
		return SH_ERR_DENIED;
	if (!open)
		return SH_OK; /* resolved already: idempotent */
	if (!(st = stmt(s, ST_CONFLICT_RESOLVE)))
		return SH_ERR_DB;
	bi(st, 1, id);
	bt(st, 2, by);
	bi(st, 3, (int64_t)ss_next_seq(s));
	return done(s, st);
}

size_t ss_duplicates_of(struct ss_store *s, const char *participant, int64_t *ids,
			char (*others)[SH_ID_LEN + 1], size_t cap)
{
	sqlite3_stmt *st = stmt(s, ST_DUPS_OF);
	size_t n = 0;

	if (!st)
		return 0;
	bt(st, 1, participant);
	while (n < cap && sqlite3_step(st) == SQLITE_ROW) {
		ids[n] = sqlite3_column_int64(st, 0);
		copy(others[n], SH_ID_LEN + 1, TXT(st, 1));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* ---- pull ------------------------------------------------------------------ */

/* A participant (its ops) or a conflict, in the order of seq. */
struct item {
	uint64_t seq;
	bool conflict;
	size_t nops;    /* ops of a participant (0: all its news came from the device itself) */
	size_t at, len; /* its encoded text in the scratch buffer */
	char pid[SH_ID_LEN + 1];
};

struct items {
	struct item *v;
	size_t n, cap;
};

static int item_add(struct items *it, uint64_t seq, bool conflict, size_t nops, size_t at,
		    size_t len, const char *pid)
{
	if (it->n == it->cap) {
		void *r = sh_realloc(it->v, (it->cap = it->cap ? it->cap * 2 : 256) * sizeof(*it->v));

		if (!r)
			return SH_ERR_NOMEM;
		it->v = r;
	}
	it->v[it->n] = (struct item){seq, conflict, nops, at, len, ""};
	copy(it->v[it->n++].pid, SH_ID_LEN + 1, pid);
	return SH_OK;
}

static int by_pid(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct participant ids of the first n items that carry something, space-separated. */
static void page_ids(const struct item *items, size_t n, struct sh_buf *ids)
{
	const char **p = sh_calloc(n ? n : 1, sizeof(*p));
	size_t k = 0;

	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		if (items[i].conflict || items[i].nops)
			p[k++] = items[i].pid;
	if (k)
		qsort(p, k, sizeof(*p), by_pid);
	for (size_t i = 0; i < k; i++) {
		if (i && strcmp(p[i], p[i - 1]) == 0)
			continue;
		if (ids->len)
			sh_buf_append(ids, " ", 1);
		sh_buf_puts(ids, p[i]);
	}
	sh_free(p);
}

static int by_seq(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Items in one page, at most: a participant whose news all came from the
 * asking device carries no ops, and the device that pushed 10,000 new
 * ones should not need a page per `limit` of them.
 */
#define PULL_ITEMS(limit) (4 * (limit))
/* conflicts read for one page, in scope or not */
#define PULL_CONFLICTS_READ 1000000

/*
 * The participants of one municipality changed after `since`, in version
 * order, each as the ops of its values newer than `base` that another
 * device wrote; read until more than `limit` ops or PULL_ITEMS are held.
 * When it stops before the end, *cut is lowered to the last one read.
 */
static int pull_participants(struct ss_store *s, const char *kommune, const char *device, uint64_t base,
			     uint64_t since, size_t limit, struct sh_buf *scratch, struct items *it, uint64_t *cut)
{
	sqlite3_stmt *st = stmt(s, ST_PULL_PARTICIPANTS);
	size_t ops = 0, items = 0;
	uint64_t last = 0;
	int rc = SH_OK, step = SQLITE_DONE;

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, kommune);
	bi(st, 2, (int64_t)since);
	while (rc == SH_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct sh_record *rec = &s->other;
		const char *pid = TXT(st, 0), *author = NULL;
		size_t at = scratch->len, n = 0;

		if (ops > limit || items > PULL_ITEMS(limit)) {
			/* stopped before the end: nothing after the last one read may go in this page */
			if (last < *cut)
				*cut = last;
			break;
		}
		record_for(rec, pid); /* empty: nothing for it (the asking device's own writes) needs no unpacking */
		if (sh_record_has_news(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), base, device) &&
		    (rc = unpack(rec, st, 2)) != SH_OK)
			break;
		for (size_t i = 0; i < rec->n; i++) {
			const struct sh_entry *e = &rec->e[i];
			/* a device's own writes are not sent back: it has them, and their
			 * versions came with the acknowledgement */
			if (e->version <= base || strcmp(sh_entry_device(rec, e), device) == 0)
				continue;
			struct sh_op o = {pid, sh_entry_field(rec, e), sh_entry_row(rec, e), sh_entry_value(rec, e),
					  sh_entry_author(rec, e), e->version, e->hlc};

			if (n == 0) {
				sh_wire_participant_begin(scratch, true, pid, o.author);
				author = o.author;
			}
			sh_wire_op_put(scratch, n++ == 0, &o, author);
		}
		if (n)
			sh_wire_participant_end(scratch);
		ops += n;
		items++;
		last = (uint64_t)sqlite3_column_int64(st, 1);
		rc = item_add(it, last, false, n, at, scratch->len - at, pid);
	}
	if (rc == SH_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
		sh_log_error("store: %s", sqlite3_errmsg(s->db));
		rc = SH_ERR_DB;
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Reads, per municipality, participants changed after `since` until more
 * than `limit` ops (or items) are held, and conflicts in scope; encodes
 * each into a scratch buffer, sorts all by sequence and takes whole items
 * in that order while they fit the limit (at least one): per-municipality
 * queries keep each one an index range scan even for users of several
 * municipalities.
 */
int ss_pull_page(struct ss_store *s, const struct ss_user *u, const char *device,
		 const struct ss_cursor *from, size_t limit, struct sh_buf *out, struct ss_cursor *to,
		 bool *more, size_t *count, struct sh_buf *ids)
{
	struct sh_buf scratch;
	struct items it = {0};
	size_t take = 0, nops = 0, nconflicts = 0, nread = 0;
	uint64_t since = from->since, base = from->base < from->since ? from->base : from->since, cut = UINT64_MAX;
	sqlite3_stmt *st;
	int rc = SH_OK;

	to->since = since;
	to->base = base;
	*more = false;
	*count = 0;
	sh_buf_init(&scratch, (size_t)1 << 31);
	for (size_t k = 0; rc == SH_OK && k < u->nkommuner; k++)
		rc = pull_participants(s, u->kommuner[k], device, base, since, limit, &scratch, &it, &cut);
	if (rc != SH_OK)
		goto out;
	if (!(st = stmt(s, ST_PULL_CONFLICTS))) {
		rc = SH_ERR_DB;
		goto out;
	}
	bi(st, 1, (int64_t)since);
	bi(st, 2, PULL_CONFLICTS_READ);
	while (rc == SH_OK && sqlite3_step(st) == SQLITE_ROW) {
		size_t at = scratch.len;
		struct sh_conflict c = {
			.id = sqlite3_column_int64(st, 0), .seq = (uint64_t)sqlite3_column_int64(st, 1),
			.kind = TXT(st, 2), .participant = TXT(st, 3), .kommune = TXT(st, 4),
			.field = TXT(st, 5), .row = TXT(st, 6), .winner = TXT(st, 7),
			.loser = TXT(st, 8), .winner_author = TXT(st, 9), .loser_author = TXT(st, 10),
			.winner_hlc = (uint64_t)sqlite3_column_int64(st, 11),
			.loser_hlc = (uint64_t)sqlite3_column_int64(st, 12), .other = TXT(st, 13),
			.other_kommune = TXT(st, 14), .resolved = sqlite3_column_int(st, 15) != 0,
		};

		/* read up to the statement's limit: nothing after the last one read may go in this page */
		if (++nread == PULL_CONFLICTS_READ && c.seq < cut)
			cut = c.seq;
		if (!ss_user_in(u, c.kommune) && !ss_user_in(u, c.other_kommune))
			continue;
		sh_wire_conflict_put(&scratch, true, &c);
		rc = item_add(&it, c.seq, true, 1, at, scratch.len - at, c.participant);
		if (++nconflicts > limit) {
			if (c.seq < cut)
				cut = c.seq;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc == SH_OK)
		rc = scratch.err;
	if (rc != SH_OK)
		goto out;
	if (it.n)
		qsort(it.v, it.n, sizeof(*it.v), by_seq);
	if (it.n && it.v[0].nops > SH_PAGE_MAX) {
		/* only a participant brought over from before the cap (SS_PARTICIPANT_VALUES_MAX) can */
		sh_log_error("store: participant %.8s has %zu values due, more than a page holds (%d)", it.v[0].pid,
			     it.v[0].nops, SH_PAGE_MAX);
		rc = SH_ERR_TOO_BIG;
		goto out;
	}
	/*
	 * Whole participants: a page holds all of a participant's news, up to
	 * where the reading of a municipality (or of conflicts) stopped.
	 */
	for (size_t held = 0; take < it.n && take < PULL_ITEMS(limit) && it.v[take].seq <= cut; take++) {
		if (take && held + it.v[take].nops > limit)
			break;
		held += it.v[take].nops;
	}
	*more = take < it.n || cut != UINT64_MAX;
	sh_buf_puts(out, "{\"participants\":[");
	for (size_t i = 0; i < take; i++) {
		if (it.v[i].conflict || !it.v[i].nops)
			continue;
		if (nops)
			sh_buf_append(out, ",", 1);
		nops += it.v[i].nops;
		sh_buf_append(out, scratch.data + it.v[i].at, it.v[i].len);
	}
	sh_buf_puts(out, "],\"conflicts\":[");
	for (size_t i = 0, first = 1; i < take; i++) {
		if (!it.v[i].conflict)
			continue;
		if (!first)
			sh_buf_append(out, ",", 1);
		first = 0;
		sh_buf_append(out, scratch.data + it.v[i].at, it.v[i].len);
		*count += 1;
	}
	*count += nops;
	to->since = take ? it.v[take - 1].seq : since;
	if (!*more) {
		/* all of the news after base is out: the cursor can jump to the end of the sequence */
		if (s->seq > to->since)
			to->since = s->seq;
		to->base = to->since;
	}
	if (ids)
		page_ids(it.v, take, ids);
	sh_buf_printf(out, "],\"next\":%llu,\"base\":%llu,\"more\":%s,\"server_seq\":%llu}",
		      (unsigned long long)to->since, (unsigned long long)to->base, *more ? "true" : "false",
		      (unsigned long long)s->seq);
	rc = out->err;
out:
	sh_free(it.v);
	sh_buf_free(&scratch);
	return rc;
}

int ss_content_hash(struct ss_store *s, const char *kommune, char out[65])
{
	sqlite3_stmt *st = stmt(s, ST_HASH);
	struct sh_record *rec = &s->other;
	struct sh_chash h;
	int rc = SH_OK, step;

	if (!st)
		return SH_ERR_DB;
	sh_chash_init(&h);
	bt(st, 1, kommune);
	while (rc == SH_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		record_for(rec, TXT(st, 0));
		if ((rc = unpack(rec, st, 1)) != SH_OK)
			break;
		/* entries are sorted by (field, row), as the replicas hash them */
		for (size_t i = 0; i < rec->n; i++)
			if (*sh_entry_value(rec, &rec->e[i]))
				sh_chash_add(&h, rec->id, sh_entry_field(rec, &rec->e[i]), sh_entry_row(rec, &rec->e[i]),
					     sh_entry_value(rec, &rec->e[i]));
	}
	if (rc == SH_OK && step != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	sh_chash_final(&h, out);
	return rc;
}
