/* store.c: the server's SQLite store. */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "chash.h"
#include "db.h"
#include "hlc.h"
#include "log.h"
#include "pcache.h"

enum st {
	ST_SEQ_GET, ST_SEQ_PUT, ST_USER_ADD, ST_USER_KOMMUNE_ADD, ST_USER_BY_NAME, ST_USER_BY_ID,
	ST_USER_KOMMUNER, ST_DEVICE_GET, ST_DEVICE_ADD, ST_DEVICE_ACKED, ST_SESSION_ADD,
	ST_SESSION_GET, ST_SESSION_TOUCH, ST_SESSION_REVOKE, ST_CS_GET, ST_CS_PUT, ST_P_GET,
	ST_P_VALUES, ST_P_PUT, ST_F_GET, ST_F_PUT, ST_F_OF, ST_F_RESTAMP, ST_SAME_PERSON,
	ST_CONFLICT_ADD, ST_DUP_OPEN, ST_CONFLICT_GET, ST_CONFLICT_RESOLVE, ST_DUPS_OF,
	ST_PULL_OPS, ST_PULL_CONFLICTS, ST_HASH, ST_META_GET, ST_META_PUT,
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
	[ST_P_GET] = "SELECT kommune, version FROM participant WHERE id = ?1",
	[ST_P_VALUES] = "SELECT field, row, value FROM field_value WHERE participant = ?1 AND value <> ''",
	[ST_P_PUT] = "INSERT INTO participant(id, kommune, fnr, startdato, sluttdato, status, created, version) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(id) DO UPDATE SET "
		     "kommune = excluded.kommune, fnr = excluded.fnr, startdato = excluded.startdato, "
		     "sluttdato = excluded.sluttdato, status = excluded.status, version = excluded.version",
	[ST_F_GET] = "SELECT value, version, hlc, device, author FROM field_value "
		     "WHERE participant = ?1 AND field = ?2 AND row = ?3",
	[ST_F_PUT] = "INSERT INTO field_value(participant, field, row, value, hlc, device, author, version, kommune) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(participant, field, row) DO UPDATE "
		     "SET value = excluded.value, hlc = excluded.hlc, device = excluded.device, "
		     "author = excluded.author, version = excluded.version, kommune = excluded.kommune",
	[ST_F_OF] = "SELECT field, row FROM field_value WHERE participant = ?1",
	[ST_F_RESTAMP] = "UPDATE field_value SET kommune = ?4, version = ?5 "
			 "WHERE participant = ?1 AND field = ?2 AND row = ?3",
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
	[ST_PULL_OPS] = "SELECT participant, field, row, value, version, hlc, author FROM field_value "
			"WHERE kommune = ?1 AND version > ?2 AND device <> ?4 ORDER BY version LIMIT ?3",
	[ST_PULL_CONFLICTS] =
		"SELECT id, seq, kind, participant, kommune, field, row, winner_value, loser_value, "
		"winner_author, loser_author, winner_hlc, loser_hlc, other, other_kommune, resolved "
		"FROM conflict WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[ST_HASH] = "SELECT participant, field, row, value FROM field_value "
		    "WHERE kommune = ?1 AND value <> '' ORDER BY participant, field, row",
};

/* participants kept by the merge: four ways each, 16,384 in all, enough for a nation's
 * active participants (~2 KB each) */
#define PCACHE_SETS 4096
/* statements of other modules kept prepared (ss_stmt) */
#define SS_STMTS 32

struct ss_store {
	sqlite3 *db;
	uint64_t seq;       /* last number handed out */
	uint64_t seq_saved; /* as in meta */
	bool mail;          /* mail queued since ss_store_take_mail() */
	struct ss_pcache *pc;
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

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

sqlite3 *ss_store_db(struct ss_store *s) { return s->db; }

int ss_store_open(const char *path, struct ss_store **out, struct sh_reason *why)
{
	struct ss_store *s = sh_calloc(1, sizeof(*s));
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if (!s)
		return SH_ERR_NOMEM;
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
	sh_free(s);
}

int ss_begin(struct ss_store *s)
{
	s->seq = s->seq_saved;
	return sh_db_exec(s->db, "BEGIN IMMEDIATE", NULL);
}

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
}

int ss_savepoint(struct ss_store *s) { return sh_db_exec(s->db, "SAVEPOINT job", NULL); }
int ss_release(struct ss_store *s) { return sh_db_exec(s->db, "RELEASE job", NULL); }

void ss_rollback_to(struct ss_store *s)
{
	/* the sequence keeps counting: a gap in versions is harmless */
	(void)!sh_db_exec(s->db, "ROLLBACK TO job; RELEASE job", NULL);
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

/* participant.kommune and .version of id; *exists false when unknown. */
static int participant_row(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			   uint64_t *version)
{
	sqlite3_stmt *st = stmt(s, ST_P_GET);

	*exists = false;
	kommune[0] = '\0';
	*version = 0;
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*exists = true;
		copy(kommune, 8, TXT(st, 0));
		*version = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return SH_OK;
}

static int participant_values(struct ss_store *s, const char *id, struct sh_participant *p)
{
	sqlite3_stmt *st = stmt(s, ST_P_VALUES);
	int rc = SH_OK;

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	while (rc == SH_OK && sqlite3_step(st) == SQLITE_ROW) {
		const struct sh_field *f = sh_field_by_name(TXT(st, 0));

		if (f)
			rc = sh_participant_set(p, f->id, f->repeat ? TXT(st, 1) : NULL, TXT(st, 2));
	}
	sqlite3_reset(st);
	sh_participant_tidy(p);
	return rc;
}

/* The participant's row, then its values: from the cache pc when kept at that version. */
static int participant_get(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			   uint64_t *version, struct sh_participant *p, struct ss_pcache *pc)
{
	int rc = participant_row(s, id, exists, kommune, version);

	if (rc == SH_OK && *exists && ss_pcache_take(pc, id, *version, p))
		return SH_OK;
	copy(p->id, sizeof(p->id), id);
	return rc != SH_OK || !*exists ? rc : participant_values(s, id, p);
}

int ss_participant_load(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			struct sh_participant *p)
{
	uint64_t version;

	return participant_get(s, id, exists, kommune, &version, p, NULL);
}

int ss_participant_take(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			uint64_t *version, struct sh_participant *p)
{
	return participant_get(s, id, exists, kommune, version, p, s->pc);
}

void ss_participant_keep(struct ss_store *s, uint64_t version, struct sh_participant *p)
{
	ss_pcache_keep(s->pc, version, p);
}

int ss_participant_put(struct ss_store *s, const struct sh_participant *p, const char *kommune,
		       const char *status, uint64_t version)
{
	sqlite3_stmt *st = stmt(s, ST_P_PUT);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, p->id);
	bt(st, 2, kommune);
	bt(st, 3, p->v[SH_F_FNR]);
	bt(st, 4, p->v[SH_F_STARTDATO]);
	bt(st, 5, p->v[SH_F_SLUTTDATO]);
	bt(st, 6, status);
	bi(st, 7, (int64_t)version);
	return done(s, st);
}

int ss_field_get(struct ss_store *s, const char *participant, const char *field, const char *row,
		 struct ss_field *out)
{
	sqlite3_stmt *st = stmt(s, ST_F_GET);

	out->exists = false;
	out->value[0] = '\0';
	out->version = out->hlc = 0;
	out->device[0] = out->author[0] = '\0';
	if (!st)
		return SH_ERR_DB;
	bt(st, 1, participant);
	bt(st, 2, field);
	bt(st, 3, row);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->exists = true;
		copy(out->value, sizeof(out->value), TXT(st, 0));
		out->version = (uint64_t)sqlite3_column_int64(st, 1);
		out->hlc = (uint64_t)sqlite3_column_int64(st, 2);
		copy(out->device, sizeof(out->device), TXT(st, 3));
		copy(out->author, sizeof(out->author), TXT(st, 4));
	}
	sqlite3_reset(st);
	return SH_OK;
}

int ss_field_put(struct ss_store *s, const char *participant, const char *field, const char *row,
		 const char *value, uint64_t hlc, const char *device, const char *author,
		 uint64_t version, const char *kommune)
{
	sqlite3_stmt *st = stmt(s, ST_F_PUT);

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, participant);
	bt(st, 2, field);
	bt(st, 3, row);
	bt(st, 4, value);
	bi(st, 5, (int64_t)hlc);
	bt(st, 6, device);
	bt(st, 7, author);
	bi(st, 8, (int64_t)version);
	bt(st, 9, kommune);
	return done(s, st);
}

int ss_participant_move(struct ss_store *s, const char *id, const char *kommune)
{
	sqlite3_stmt *st = stmt(s, ST_F_OF);
	char (*rows)[2][SH_ID_LEN + 65] = NULL;
	size_t n = 0, cap = 0;
	int rc = SH_OK;

	if (!st)
		return SH_ERR_DB;
	bt(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			void *r = sh_realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

			if (!r) {
				rc = SH_ERR_NOMEM;
				break;
			}
			rows = r;
		}
		copy(rows[n][0], sizeof(rows[n][0]), TXT(st, 0));
		copy(rows[n][1], sizeof(rows[n][1]), TXT(st, 1));
		n++;
	}
	sqlite3_reset(st);
	/* each row its own new version, so the new municipality pulls it all */
	for (size_t i = 0; rc == SH_OK && i < n; i++) {
		if (!(st = stmt(s, ST_F_RESTAMP))) {
			rc = SH_ERR_DB;
			break;
		}
		bt(st, 1, id);
		bt(st, 2, rows[i][0]);
		bt(st, 3, rows[i][1]);
		bt(st, 4, kommune);
		bi(st, 5, (int64_t)ss_next_seq(s));
		rc = done(s, st);
	}
	sh_free(rows);
	return rc;
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

struct item {
	uint64_t seq;
	bool conflict;
	size_t at, len; /* its encoded text in the scratch buffer */
	char pid[SH_ID_LEN + 1];
};

static int by_pid(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct participant ids of the first n items, space-separated. */
static void page_ids(const struct item *items, size_t n, struct sh_buf *ids)
{
	const char **p = sh_calloc(n ? n : 1, sizeof(*p));

	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		p[i] = items[i].pid;
	if (n)
		qsort(p, n, sizeof(*p), by_pid);
	for (size_t i = 0; i < n; i++) {
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
 * Reads up to limit+1 items per municipality (ops) and of conflicts in
 * scope, encodes each into a scratch buffer, sorts all by sequence and
 * takes the first `limit`: per-municipality queries keep each one an index
 * range scan even for users of several municipalities.
 */
int ss_pull_page(struct ss_store *s, const struct ss_user *u, const char *device, uint64_t since,
		 size_t limit, struct sh_buf *out, uint64_t *next, bool *more, size_t *count,
		 struct sh_buf *ids)
{
	struct sh_buf scratch;
	struct item *items = NULL;
	size_t n = 0, cap = 0, take, nops = 0;
	sqlite3_stmt *st;
	int rc = SH_OK;

	*next = since;
	*more = false;
	*count = 0;
	sh_buf_init(&scratch, (size_t)1 << 31);
#define ADD_ITEM(sq, isc)                                                                  \
	do {                                                                               \
		if (n == cap) {                                                            \
			void *r_ = sh_realloc(items, (cap = cap ? cap * 2 : 1024) * sizeof(*items)); \
			if (!r_) {                                                         \
				rc = SH_ERR_NOMEM;                                         \
				goto out;                                                  \
			}                                                                  \
			items = r_;                                                        \
		}                                                                          \
		items[n] = (struct item){(sq), (isc), at, scratch.len - at, ""};           \
		copy(items[n++].pid, SH_ID_LEN + 1, pid_);                                  \
	} while (0)
	for (size_t k = 0; k < u->nkommuner; k++) {
		if (!(st = stmt(s, ST_PULL_OPS))) {
			rc = SH_ERR_DB;
			goto out;
		}
		bt(st, 1, u->kommuner[k]);
		bi(st, 2, (int64_t)since);
		bi(st, 3, (int64_t)limit + 1);
		bt(st, 4, device);
		while (sqlite3_step(st) == SQLITE_ROW) {
			size_t at = scratch.len;
			struct sh_op o = {TXT(st, 0), TXT(st, 1), TXT(st, 2), TXT(st, 3), TXT(st, 6),
					  (uint64_t)sqlite3_column_int64(st, 4),
					  (uint64_t)sqlite3_column_int64(st, 5)};

			const char *pid_ = o.participant;

			sh_wire_op_put(&scratch, true, &o);
			ADD_ITEM(o.version, false);
		}
		sqlite3_reset(st);
	}
	if (!(st = stmt(s, ST_PULL_CONFLICTS))) {
		rc = SH_ERR_DB;
		goto out;
	}
	bi(st, 1, (int64_t)since);
	bi(st, 2, 1000000);
	while (sqlite3_step(st) == SQLITE_ROW) {
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

		if (!ss_user_in(u, c.kommune) && !ss_user_in(u, c.other_kommune))
			continue;
		{
			const char *pid_ = c.participant;

			sh_wire_conflict_put(&scratch, true, &c);
			ADD_ITEM(c.seq, true);
		}
		if (n > limit * (u->nkommuner + 1) + 1)
			break;
	}
	sqlite3_reset(st);
	if (scratch.err != SH_OK) {
		rc = scratch.err;
		goto out;
	}
	if (n)
		qsort(items, n, sizeof(*items), by_seq);
	take = n < limit ? n : limit;
	*more = n > limit;
	/* ops */
	sh_buf_puts(out, "{\"ops\":[");
	for (size_t i = 0; i < take; i++) {
		if (items[i].conflict)
			continue;
		if (nops++)
			sh_buf_append(out, ",", 1);
		sh_buf_append(out, scratch.data + items[i].at, items[i].len);
	}
	sh_buf_puts(out, "],\"conflicts\":[");
	for (size_t i = 0, first = 1; i < take; i++) {
		if (!items[i].conflict)
			continue;
		if (!first)
			sh_buf_append(out, ",", 1);
		first = 0;
		sh_buf_append(out, scratch.data + items[i].at, items[i].len);
	}
	/* with nothing more, the cursor can jump to the end of the sequence */
	*next = take ? items[take - 1].seq : since;
	if (!*more && s->seq > *next)
		*next = s->seq;
	*count = take;
	if (ids)
		page_ids(items, take, ids);
	sh_buf_printf(out, "],\"next\":%llu,\"more\":%s,\"server_seq\":%llu}",
		      (unsigned long long)*next, *more ? "true" : "false",
		      (unsigned long long)s->seq);
	rc = out->err;
out:
#undef ADD_ITEM
	sh_free(items);
	sh_buf_free(&scratch);
	return rc;
}

int ss_content_hash(struct ss_store *s, const char *kommune, char out[65])
{
	sqlite3_stmt *st = stmt(s, ST_HASH);
	struct sh_chash h;

	if (!st)
		return SH_ERR_DB;
	sh_chash_init(&h);
	bt(st, 1, kommune);
	while (sqlite3_step(st) == SQLITE_ROW)
		sh_chash_add(&h, TXT(st, 0), TXT(st, 1), TXT(st, 2), TXT(st, 3));
	sqlite3_reset(st);
	sh_chash_final(&h, out);
	return SH_OK;
}
