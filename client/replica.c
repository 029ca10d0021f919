/* replica.c: the local replica: autosave transactions, drafts, outbox, lookups. */
#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "fnr.h"
#include "hlc.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
#include "rules.h"
#include "text.h"

enum st {
	ST_DRAFT_OF, ST_DERIVED,
	ST_LOOKUP_DEL, ST_LOOKUP_PUT, ST_META_PUT, ST_META_GET,
	ST_NEW, ST_OVERLAP, ST_RESOLVE, ST_LIST, ST_OUTBOX_ALL, ST_REFUSED_ALL, ST_LOOKUPS, ST_DRAFT_DEL, ST_REDERIVED,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
	[ST_DRAFT_OF] = "SELECT draft FROM participant WHERE id = ?1",
	[ST_DERIVED] =
		"UPDATE participant SET draft = ?2, status = ?3, fnr = ?4, navn = ?5, kommune = ?6, "
		"startdato = ?7, sluttdato = ?8, updated = ?9 WHERE id = ?1",
	[ST_LOOKUP_DEL] = "DELETE FROM lookup WHERE participant = ?1",
	[ST_LOOKUP_PUT] = "INSERT INTO lookup(participant, fnr, state, created) VALUES (?1, ?2, 'venter', ?3)",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
			"ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_NEW] = "INSERT INTO participant(id, draft, status, created, updated) VALUES (?1, 1, 'utkast', ?2, ?2)",
	[ST_OVERLAP] = "SELECT id, startdato, sluttdato FROM participant "
		       "WHERE fnr = ?1 AND id <> ?2 AND draft = 0 AND startdato IS NOT NULL",
	[ST_RESOLVE] = "SELECT id FROM participant WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2",
	[ST_LIST] =
		"SELECT p.id, p.status, p.fnr, p.navn, p.kommune, p.startdato, p.sluttdato, p.draft, "
		"p.pending, p.rejected, p.lookup FROM participant p WHERE p.draft = ?1 AND (?2 OR (?3 >= 0 AND p.status = ?4) "
		"OR (?3 < 0 AND p.status <> 'utskrevet')) AND (?5 IS NULL OR p.navn LIKE '%' || ?5 "
		"|| '%' ESCAPE '\\' OR p.fnr LIKE ?5 || '%' ESCAPE '\\' OR p.id LIKE ?5 || '%' ESCAPE '\\') "
		"ORDER BY p.updated DESC",
	[ST_OUTBOX_ALL] = "SELECT changes, participant, coalesce(changeset, 0) FROM outbox_entry "
			  "WHERE ?1 IS NULL OR participant = ?1 ORDER BY seq",
	[ST_REFUSED_ALL] = "SELECT participant, field, row, value, author, reason, hlc, base, changeset "
			   "FROM outbox_rejected WHERE ?1 IS NULL OR participant = ?1 ORDER BY seq",
	[ST_LOOKUPS] = "SELECT participant, state, reason, attempts, coalesce(next_try, 0) FROM lookup "
		       "WHERE ?1 IS NULL OR participant = ?1 ORDER BY created",
	[ST_DRAFT_DEL] = "DELETE FROM participant WHERE id = ?1 AND draft = 1",
	/* a participant first seen in a pull is made with them, and is no draft */
	[ST_REDERIVED] =
		"INSERT INTO participant(id, draft, status, fnr, navn, kommune, startdato, sluttdato, created, updated) "
		"VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
		"fnr = excluded.fnr, navn = excluded.navn, kommune = excluded.kommune, startdato = excluded.startdato, "
		"sluttdato = excluded.sluttdato, updated = excluded.updated",
};

struct sc_replica {
	sqlite3 *db;
	char dir[4096];
	int wal_frames; /* WAL size after the last commit (wal hook) */
	const struct sh_domain *d;
	struct sh_hlc clock;
	char device[SH_ID_LEN + 1];
	char author[128];
	sqlite3_stmt *st[ST_COUNT];
	struct sc_records *recs; /* the values one call works on; empty between calls */
	struct sc_outbox *outbox;
};

/* A prepared statement, reset and ready for bindings. NULL on error. */
static sqlite3_stmt *stmt(struct sc_replica *r, enum st i)
{
	return sh_db_prepared(r->db, &r->st[i], sql[i]);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows. */
static int run(struct sc_replica *r, sqlite3_stmt *s)
{
	int rc;

	if (!s)
		return SH_ERR_DB;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sh_log_error("replica: %s", sqlite3_errmsg(r->db));
		return SH_ERR_DB;
	}
	return SH_OK;
}

static int exec(struct sc_replica *r, const char *q)
{
	return sh_db_exec(r->db, q, NULL);
}

sqlite3 *sc_replica_db(struct sc_replica *r) { return r->db; }
const char *sc_replica_dir(const struct sc_replica *r) { return r->dir; }
const struct sh_domain *sc_replica_domain(const struct sc_replica *r) { return r->d; }
const char *sc_replica_device(const struct sc_replica *r) { return r->device; }
uint64_t sc_replica_hlc(struct sc_replica *r) { return sh_hlc_now(&r->clock); }
struct sc_outbox *sc_replica_outbox(struct sc_replica *r) { return r->outbox; }

int sc_meta_set(struct sc_replica *r, const char *key, const char *value)
{
	sqlite3_stmt *s = stmt(r, ST_META_PUT);

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, key);
	bind_text(s, 2, value);
	return run(r, s);
}

int sc_meta_get(struct sc_replica *r, const char *key, char **out)
{
	sqlite3_stmt *s = stmt(r, ST_META_GET);
	int rc = SH_OK;

	*out = NULL;
	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, key);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sh_strdup((const char *)sqlite3_column_text(s, 0));
		if (!*out)
			rc = SH_ERR_NOMEM;
	}
	sqlite3_reset(s);
	return rc;
}

static int persist_clock(struct sc_replica *r)
{
	char h[SH_HLC_TEXT_LEN + 1];

	sh_hlc_encode(r->clock.last, h);
	return sc_meta_set(r, "hlc", h);
}

static int mkdirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(path, 0700) == 0 || errno == EEXIST) ? 0 : -1;
}

/* Device id and clock: made once, read at every open. */
static int load_identity(struct sc_replica *r)
{
	char *v = NULL;
	int rc = sc_meta_get(r, "device", &v);

	if (rc == SH_OK && !v) {
		sh_new_id(r->device);
		rc = sc_meta_set(r, "device", r->device);
	} else if (rc == SH_OK) {
		snprintf(r->device, sizeof(r->device), "%s", v);
	}
	sh_free(v);
	v = NULL;
	if (rc == SH_OK)
		rc = sc_meta_get(r, "hlc", &v);
	if (rc == SH_OK && v && sh_hlc_decode(v, &r->clock.last) != SH_OK)
		rc = SH_ERR_DB;
	sh_free(v);
	v = NULL;
	if (rc == SH_OK)
		rc = sc_meta_get(r, "user", &v);
	snprintf(r->author, sizeof(r->author), "%s", v ? v : "lokal");
	sh_free(v);
	return rc;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct sc_replica *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

void sc_replica_maintain(struct sc_replica *r)
{
	if (r->wal_frames < 8192) /* 32 MiB of WAL */
		return;
	if (sqlite3_wal_checkpoint_v2(r->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
		r->wal_frames = 0;
}

int sc_replica_open(const char *dir, const struct sh_domain *d, struct sc_replica **out,
		    struct sh_reason *why)
{
	struct sc_replica *r;
	char path[4200];
	int rc;

	*out = NULL;
	if (mkdirs(dir) != 0) {
		sh_reason_set(why, "Kan ikke lage datamappen %s: %s.", dir, strerror(errno));
		return SH_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/replica.db", dir);
	r = sh_calloc(1, sizeof(*r));
	if (!r)
		return SH_ERR_NOMEM;
	r->d = d;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	r->clock.max_drift_ms = (uint64_t)sh_config_int("max_clock_drift_ms");
	rc = sh_db_open(path, &r->db, why);
	if (rc == SH_OK && (!(r->recs = sc_records_new(r->db)) || !(r->outbox = sc_outbox_new(r->db))))
		rc = SH_ERR_NOMEM;
	if (rc == SH_OK)
		rc = sh_migrate(r->db, sh_migrations_client, sh_migrations_client_count, NULL,
				NULL, why);
	if (rc == SH_OK) {
		/* checkpoints off the autosave path: see sc_replica_maintain() */
		rc = sh_db_exec(r->db, "PRAGMA wal_autocheckpoint=0", why);
		sqlite3_wal_hook(r->db, wal_hook, r);
	}
	if (rc == SH_OK && (rc = load_identity(r)) != SH_OK)
		sh_reason_set(why, "Kan ikke lese replikaens identitet.");
	if (rc != SH_OK) {
		sc_replica_close(r);
		return rc;
	}
	*out = r;
	return SH_OK;
}

void sc_replica_close(struct sc_replica *r)
{
	if (!r)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(r->st[i]);
	sc_records_free(r->recs);
	sc_outbox_free(r->outbox);
	sqlite3_close(r->db);
	sh_free(r);
}

int sc_resolve(struct sc_replica *r, const char *prefix, char id[SH_ID_LEN + 1],
	       struct sh_reason *why)
{
	char low[SH_ID_LEN + 1];
	size_t n = prefix ? strlen(prefix) : 0;
	sqlite3_stmt *s;
	int found = 0;

	memset(id, 0, SH_ID_LEN + 1);
	if (n < 4 || n > SH_ID_LEN) {
		sh_reason_set(why, "Oppgi id-en (minst 4 tegn) fra «jsr list» eller «jsr drafts».");
		return SH_ERR_INVALID;
	}
	for (size_t i = 0; i <= n; i++) {
		char ch = prefix[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (i < n && !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
			sh_reason_set(why, "En id består av sifre og bokstavene a–f.");
			return SH_ERR_INVALID;
		}
		low[i] = ch;
	}
	if (!(s = stmt(r, ST_RESOLVE)))
		return SH_ERR_DB;
	bind_text(s, 1, low);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (found++ == 0)
			memcpy(id, sqlite3_column_text(s, 0), SH_ID_LEN);
	}
	sqlite3_reset(s);
	if (found == 1)
		return SH_OK;
	memset(id, 0, SH_ID_LEN + 1);
	if (found == 0)
		sh_reason_set(why, "Fant ingen deltaker eller utkast med id %s.", low);
	else
		sh_reason_set(why, "Flere deltakere har id-er som begynner med %s; skriv flere tegn.", low);
	return found == 0 ? SH_ERR_NOT_FOUND : SH_ERR_INVALID;
}

int sc_participant_new(struct sc_replica *r, char id[SH_ID_LEN + 1])
{
	sqlite3_stmt *s;
	int rc;

	sh_new_id(id);
	if (exec(r, "BEGIN IMMEDIATE") != SH_OK)
		return SH_ERR_DB;
	s = stmt(r, ST_NEW);
	if (s) {
		bind_text(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)sh_hlc_now(&r->clock));
	}
	rc = run(r, s);
	if (rc == SH_OK)
		rc = persist_clock(r);
	if (rc == SH_OK && exec(r, "COMMIT") == SH_OK)
		return SH_OK;
	(void)!exec(r, "ROLLBACK");
	return SH_ERR_DB;
}

int sc_draft_delete(struct sc_replica *r, const char *id, struct sh_reason *why)
{
	sqlite3_stmt *s = stmt(r, ST_DRAFT_DEL);

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, id);
	if (run(r, s) != SH_OK)
		return SH_ERR_DB;
	if (sqlite3_changes(r->db) == 1)
		return SH_OK;
	sh_reason_set(why, "Bare utkast kan slettes; en deltaker blir stående i registeret.");
	return SH_ERR_RULE;
}

/* draft: 1, participant: 0, missing: -1, error: -2 */
static int draft_of(struct sc_replica *r, const char *id)
{
	sqlite3_stmt *s = stmt(r, ST_DRAFT_OF);
	int v = -1, rc;

	if (!s)
		return -2;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	else if (rc != SQLITE_DONE)
		v = -2;
	sqlite3_reset(s);
	return v;
}

/* The values of participant id (kept in the set, for a write to change). */
static int load_values(struct sc_replica *r, struct sc_records *set, const char *id,
		       struct sh_participant *p, bool *draft, struct sh_record **out)
{
	struct sh_record *rec;
	int d = draft_of(r, id), rc = SH_OK;

	if (d == -2)
		return SH_ERR_DB;
	if (d < 0)
		return SH_ERR_NOT_FOUND;
	*draft = d == 1;
	snprintf(p->id, sizeof(p->id), "%s", id);
	if (!(rec = sc_records_get(set, id)))
		return SH_ERR_DB;
	rc = sh_record_values(rec, p);
	if (out)
		*out = rec;
	return rc;
}

int sc_participant_load(struct sc_replica *r, const char *id, struct sh_participant *p,
			bool *draft)
{
	int rc = load_values(r, r->recs, id, p, draft, NULL);

	sc_records_reset(r->recs);
	return rc;
}

/* One requested assignment inside a write transaction. */
struct op {
	enum sh_field_id f;
	const char *row;
	const char *value;
	enum sh_writer writer;
	bool new_row;   /* a Tiltak row made by this write */
	bool discharge; /* only if nothing required is missing */
};

/* The discharge check, inside the transaction that discharges. */
static int check_discharge(struct sc_replica *r, const struct sh_participant *p,
			   struct sc_report *rep)
{
	struct sh_missing m[SC_MISSING_MAX];
	int rc;

	if (p->v[SH_F_UTSKREVET]) {
		sh_reason_set(&rep->why, "Deltakeren er allerede utskrevet (%s).", p->v[SH_F_UTSKREVET]);
		return SH_ERR_RULE;
	}
	rc = sh_discharge_check(r->d, p, m, SC_MISSING_MAX, &rep->nmissing, &rep->why);
	for (size_t i = 0; i < rep->nmissing && i < SC_MISSING_MAX; i++) {
		rep->missing[i].field = m[i].field;
		snprintf(rep->missing[i].row, sizeof(rep->missing[i].row), "%s",
			 m[i].row ? m[i].row : "");
	}
	return rc;
}

/* Writes value v of field f (row) locally, and to the outbox if `outbox`. */
static int put(struct sc_replica *r, struct sh_record *rec, enum sh_field_id f, const char *row,
	       const char *v, uint64_t hlc, bool outbox, struct sh_reason *why)
{
	const char *name = sh_field(f)->name, *rw = sh_field(f)->repeat && row ? row : "";
	const struct sh_entry *e = sh_record_find(rec, name, rw);
	uint64_t base = e ? e->version : 0; /* the server version the edit is based on */
	int rc;

	if (outbox && (rc = sc_outbox_add(r->outbox, rec->id, name, rw, v, hlc, r->author, base, false)) != SH_OK) {
		if (rc == SH_ERR_DB)
			sh_reason_set(why, "Endringene som venter på serveren for deltakeren %.8s kan ikke leses "
				      "fra replikaen; ingenting ble lagret.", rec->id);
		return rc;
	}
	return sh_record_put(rec, name, rw, v, hlc, r->author, NULL, base);
}

static int by_hlc(const void *a, const void *b)
{
	const struct sh_entry *x = *(const struct sh_entry *const *)a, *y = *(const struct sh_entry *const *)b;

	return x->hlc < y->hlc ? -1 : x->hlc > y->hlc;
}

/* A draft becomes a participant: all its values go to the outbox, as typed (the server checks in order). */
static int promote(struct sc_replica *r, struct sh_record *rec)
{
	const struct sh_entry **by = sh_calloc(rec->n ? rec->n : 1, sizeof(*by));
	struct sh_record entry = {0};
	size_t n = 0;
	int rc;

	if (!by)
		return SH_ERR_NOMEM;
	for (size_t i = 0; i < rec->n; i++)
		if (*sh_entry_value(rec, &rec->e[i]))
			by[n++] = &rec->e[i];
	qsort(by, n, sizeof(*by), by_hlc);
	rc = sc_outbox_unsent(r->outbox, rec->id, &entry); /* none: a draft never syncs */
	for (size_t i = 0; i < n && rc == SH_OK; i++)
		rc = sh_record_put(&entry, sh_entry_field(rec, by[i]), sh_entry_row(rec, by[i]),
				   sh_entry_value(rec, by[i]), by[i]->hlc, sh_entry_author(rec, by[i]), NULL, by[i]->version);
	if (rc == SH_OK)
		rc = sc_outbox_store_unsent(r->outbox, &entry);
	sh_record_clear(&entry);
	sh_free(by);
	return rc;
}

/* A new number: the old lookup and the old name go, a new lookup waits. */
static int renumber(struct sc_replica *r, struct sh_record *rec, struct sh_participant *p,
		    const char *fnr, uint64_t hlc)
{
	static const enum sh_field_id from_register[] = {SH_F_NAVN, SH_F_KJONN};
	sqlite3_stmt *s = stmt(r, ST_LOOKUP_DEL);
	int rc;

	if (s)
		bind_text(s, 1, p->id);
	if ((rc = run(r, s)) != SH_OK)
		return rc;
	/* emptied locally only: the register's answer for the new number replaces them */
	for (size_t i = 0; i < sizeof(from_register) / sizeof(*from_register); i++) {
		const char *name = sh_field(from_register[i])->name;
		const struct sh_entry *e = sh_record_find(rec, name, "");

		if (e && *sh_entry_value(rec, e) &&
		    (rc = sh_record_put(rec, name, "", "", e->hlc, sh_entry_author(rec, e), NULL, e->version)) != SH_OK)
			return rc;
		(void)!sh_participant_set(p, from_register[i], NULL, NULL);
	}
	if (!fnr || !*fnr)
		return SH_OK;
	/* the value passed the eligibility check on its way in */
	s = stmt(r, ST_LOOKUP_PUT);
	if (s) {
		bind_text(s, 1, p->id);
		bind_text(s, 2, fnr);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)hlc);
	}
	return run(r, s);
}

static int date_or(const char *v, int otherwise)
{
	int d;

	return (v && sh_date_parse(v, &d) == SH_OK) ? d : otherwise;
}

/* Two participations of one person must not overlap in time. */
static int check_overlap(struct sc_replica *r, const struct sh_participant *p,
			 struct sh_reason *why)
{
	sqlite3_stmt *s;
	int start, end, rc = SH_OK;

	if (!p->v[SH_F_FNR] || !p->v[SH_F_STARTDATO])
		return SH_OK;
	start = date_or(p->v[SH_F_STARTDATO], 0);
	end = date_or(p->v[SH_F_SLUTTDATO], -1);
	if (!(s = stmt(r, ST_OVERLAP)))
		return SH_ERR_DB;
	bind_text(s, 1, p->v[SH_F_FNR]);
	bind_text(s, 2, p->id);
	while (rc == SH_OK && sqlite3_step(s) == SQLITE_ROW) {
		const char *oid = (const char *)sqlite3_column_text(s, 0);
		int os = date_or((const char *)sqlite3_column_text(s, 1), 0);
		int oe = date_or((const char *)sqlite3_column_text(s, 2), -1);
		char a[11], b[11] = "pågår";

		if (!sh_periods_overlap(start, end, os, oe))
			continue;
		sh_date_format_no(os, a);
		if (oe >= 0)
			sh_date_format_no(oe, b);
		sh_reason_set(why, "Personen har allerede en deltakelse som overlapper i tid "
			      "(id %.8s, %s–%s). Samme person kan registreres på nytt først etter "
			      "sluttdatoen for den forrige deltakelsen.", oid, a, b);
		rc = SH_ERR_RULE;
	}
	sqlite3_reset(s);
	return rc;
}

/* The columns copied from the values (fnr, navn, kommune, startdato, sluttdato), bound from parameter `at` on. */
static void bind_copied(sqlite3_stmt *s, int at, const struct sh_participant *p)
{
	static const enum sh_field_id copied[] = {SH_F_FNR, SH_F_NAVN, SH_F_KOMMUNE, SH_F_STARTDATO,
						  SH_F_SLUTTDATO};

	for (int i = 0; i < (int)(sizeof(copied) / sizeof(*copied)); i++)
		bind_text(s, at + i, p->v[copied[i]]);
}

static int update_derived(struct sc_replica *r, const struct sh_participant *p, bool draft,
			  enum sh_status st, uint64_t hlc)
{
	sqlite3_stmt *s = stmt(r, ST_DERIVED);

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, p->id);
	sqlite3_bind_int(s, 2, draft);
	bind_text(s, 3, sh_status_code(st));
	bind_copied(s, 4, p);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)hlc);
	return run(r, s);
}

int sc_participant_rederive(struct sc_replica *r, struct sc_records *set, const char *id, uint64_t hlc)
{
	struct sh_participant p;
	struct sh_record *rec;
	sqlite3_stmt *s = stmt(r, ST_REDERIVED);
	int rc;

	if (!s || !(rec = sc_records_get(set, id)))
		return SH_ERR_DB;
	sh_participant_init(&p);
	sh_str_copy(p.id, sizeof(p.id), id);
	if ((rc = sh_record_values(rec, &p)) == SH_OK) {
		bind_text(s, 1, id);
		bind_text(s, 2, sh_status_code(sh_status_of(r->d, &p)));
		bind_copied(s, 3, &p);
		sqlite3_bind_int64(s, 8, (sqlite3_int64)hlc);
		rc = run(r, s);
	}
	sh_participant_clear(&p);
	return rc;
}

static bool same(const char *cur, const char *v)
{
	return cur ? strcmp(cur, v) == 0 : v[0] == '\0';
}

/*
 * Applies ops in order, in one transaction, each checked against the values
 * as the previous ones left them. Any refusal rolls back all of them.
 */
static int apply_ops(struct sc_replica *r, const char *id, const struct op *ops, size_t n,
		     struct sc_report *rep, struct sh_participant *p, bool *draft)
{
	bool was, dates = false;
	uint64_t hlc = sh_hlc_now(&r->clock);
	struct sh_record *rec;
	int rc;

	if ((rc = load_values(r, r->recs, id, p, draft, &rec)) != SH_OK) {
		if (rc == SH_ERR_NOT_FOUND)
			sh_reason_set(&rep->why, "Fant ingen deltaker eller utkast med id %s.", id);
		else if (rc == SH_ERR_DB)
			sh_reason_set(&rep->why, "Verdiene til deltakeren %.8s kan ikke leses fra replikaen; "
				      "ingenting ble lagret.", id);
		return rc;
	}
	was = !*draft;
	for (size_t i = 0; i < n; i++) {
		struct sh_assign a = {ops[i].f, ops[i].row, ops[i].value, ops[i].writer, false};
		struct sh_effects e;

		if (ops[i].discharge && (rc = check_discharge(r, p, rep)) != SH_OK)
			return rc;
		if (sh_field(a.field)->repeat && !a.row) {
			sh_reason_set(&rep->why, "%s hører til et tiltak; bruk «jsr tiltak».",
				      sh_field(a.field)->label);
			return SH_ERR_INVALID;
		}
		if (sh_field(a.field)->repeat && !ops[i].new_row && !sh_participant_row(p, a.row)) {
			sh_reason_set(&rep->why, "Fant ikke tiltaket %.40s.", sh_text_echo(a.row));
			return SH_ERR_NOT_FOUND;
		}
		if ((rc = sh_rules_check(r->d, p, &a, &e)) != SH_OK) {
			rep->why = e.why;
			return rc;
		}
		memcpy(rep->value, e.value, sizeof(rep->value));
		if (same(sh_participant_get(p, a.field, a.row), e.value))
			continue;
		if ((rc = put(r, rec, a.field, a.row, e.value, hlc, was, &rep->why)) != SH_OK ||
		    (rc = sh_participant_set(p, a.field, a.row, e.value)) != SH_OK)
			return rc;
		for (size_t k = 0; k < e.nclear; k++) {
			if ((rc = put(r, rec, e.clear[k], NULL, "", hlc, was, &rep->why)) != SH_OK ||
			    (rc = sh_participant_set(p, e.clear[k], NULL, NULL)) != SH_OK)
				return rc;
			if (rep->ncleared < 4)
				rep->cleared[rep->ncleared++] = e.clear[k];
		}
		if (a.field == SH_F_FNR && (rc = renumber(r, rec, p, e.value, hlc)) != SH_OK)
			return rc;
		dates |= a.field == SH_F_FNR || a.field == SH_F_STARTDATO || a.field == SH_F_SLUTTDATO;
		rep->changed = true;
	}
	sh_participant_tidy(p); /* a removed tiltak is gone, not a row of missing fields */
	rep->status = sh_status_of(r->d, p);
	if (!rep->changed)
		return SH_OK;
	if (dates && (rc = check_overlap(r, p, &rep->why)) != SH_OK)
		return rc;
	if (!was && sh_is_participant(p)) {
		if ((rc = promote(r, rec)) != SH_OK)
			return rc;
		*draft = false;
		rep->promoted = true;
	}
	if ((rc = sc_records_save(r->recs)) != SH_OK)
		return rc;
	if ((rc = update_derived(r, p, *draft, rep->status, hlc)) != SH_OK)
		return rc;
	return persist_clock(r);
}

static int apply(struct sc_replica *r, const char *id, const struct op *ops, size_t n,
		 struct sc_report *rep)
{
	struct sh_participant p;
	bool draft = true;
	int rc;

	memset(rep, 0, sizeof(*rep));
	sh_participant_init(&p);
	if (exec(r, "BEGIN IMMEDIATE") != SH_OK) {
		sh_reason_set(&rep->why, "Replikaen er opptatt eller utilgjengelig.");
		return SH_ERR_DB;
	}
	rc = apply_ops(r, id, ops, n, rep, &p, &draft);
	sc_records_reset(r->recs);
	if (rc == SH_OK && rep->changed && exec(r, "COMMIT") != SH_OK)
		rc = SH_ERR_DB;
	if (rc != SH_OK || !rep->changed) {
		(void)!exec(r, "ROLLBACK");
		rep->changed = false;
		rep->promoted = false;
		if (rc == SH_ERR_DB && !rep->why.text[0])
			sh_reason_set(&rep->why, "Kunne ikke lagre i replikaen: %s",
				      sqlite3_errmsg(r->db));
	}
	sh_participant_clear(&p);
	return rc;
}

int sc_set(struct sc_replica *r, const char *id, const char *field, const char *row,
	   const char *value, struct sc_report *rep)
{
	const struct sh_field *f = sh_field_by_name(field);
	struct op op;

	memset(rep, 0, sizeof(*rep));
	if (!f) {
		sh_reason_set(&rep->why, "Ukjent felt «%s». Se «jsr fields».", sh_text_echo(field));
		return SH_ERR_INVALID;
	}
	op = (struct op){f->id, row, value, SH_WRITER_CASEWORKER, false, false};
	return apply(r, id, &op, 1, rep);
}

int sc_discharge(struct sc_replica *r, const char *id, struct sc_report *rep)
{
	char today[11];
	struct op op = {SH_F_UTSKREVET, NULL, today, SH_WRITER_ACTION, false, true};

	sh_date_format(sh_today(), today);
	return apply(r, id, &op, 1, rep);
}

int sc_reopen(struct sc_replica *r, const char *id, struct sc_report *rep)
{
	struct op op = {SH_F_UTSKREVET, NULL, "", SH_WRITER_ACTION, false, false};
	int rc = apply(r, id, &op, 1, rep);

	if (rc == SH_OK && !rep->changed) {
		sh_reason_set(&rep->why, "Deltakeren er ikke utskrevet.");
		return SH_ERR_RULE;
	}
	return rc;
}

int sc_tiltak_add(struct sc_replica *r, const char *id, const char *const values[SH_F_COUNT],
		  char row[SH_ID_LEN + 1], struct sc_report *rep)
{
	struct op ops[SH_F_COUNT];
	size_t n = 0;

	sh_new_id(row);
	for (int i = 0; i < SH_F_COUNT; i++)
		if (sh_field(i)->repeat && values[i] && values[i][0])
			ops[n++] = (struct op){i, row, values[i], SH_WRITER_CASEWORKER, true, false};
	if (n == 0) {
		memset(rep, 0, sizeof(*rep));
		sh_reason_set(&rep->why, "Et tiltak trenger minst type og fra-dato.");
		return SH_ERR_INVALID;
	}
	return apply(r, id, ops, n, rep);
}

int sc_tiltak_remove(struct sc_replica *r, const char *id, const char *row,
		     struct sc_report *rep)
{
	struct op ops[SH_F_COUNT];
	size_t n = 0;

	for (int i = 0; i < SH_F_COUNT; i++)
		if (sh_field(i)->repeat)
			ops[n++] = (struct op){i, row, "", SH_WRITER_CASEWORKER, false, false};
	return apply(r, id, ops, n, rep);
}

int sc_resolve_row(struct sc_replica *r, const char *id, const char *prefix,
		   char row[SH_ID_LEN + 1], struct sh_reason *why)
{
	struct sh_participant p;
	bool draft;
	size_t n = prefix ? strlen(prefix) : 0;
	int found = 0, rc;

	memset(row, 0, SH_ID_LEN + 1);
	sh_participant_init(&p);
	if ((rc = sc_participant_load(r, id, &p, &draft)) != SH_OK) {
		sh_reason_set(why, "Fant ingen deltaker eller utkast med id %s.", id);
		return rc;
	}
	for (size_t i = 0; n >= 4 && i < p.nrows; i++) {
		if (strncmp(p.rows[i].id, prefix, n) == 0 && found++ == 0)
			memcpy(row, p.rows[i].id, SH_ID_LEN + 1);
	}
	sh_participant_clear(&p);
	if (found == 1)
		return SH_OK;
	memset(row, 0, SH_ID_LEN + 1);
	sh_reason_set(why, found ? "Flere tiltak har id-er som begynner med %s; skriv flere tegn."
				 : "Fant ikke tiltaket %s (se «jsr show»).", sh_text_echo(prefix));
	return found ? SH_ERR_INVALID : SH_ERR_NOT_FOUND;
}

/* LIKE pattern text with %, _ and \ escaped. */
static char *like_escape(const char *s)
{
	size_t n = strlen(s);
	char *o = sh_malloc(2 * n + 1), *p = o;

	if (!o)
		return NULL;
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	return o;
}

#define COL(i) ((const char *)sqlite3_column_text(s, i))

int sc_list(struct sc_replica *r, const struct sc_filter *f,
	    int (*cb)(const struct sc_row *row, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_LIST);
	char *pat = NULL;
	int step;

	if (!s)
		return SH_ERR_DB;
	if (f->search && f->search[0] && !(pat = like_escape(f->search)))
		return SH_ERR_NOMEM;
	sqlite3_bind_int(s, 1, f->drafts);
	sqlite3_bind_int(s, 2, f->all || f->drafts);
	sqlite3_bind_int(s, 3, f->status);
	bind_text(s, 4, f->status >= 0 ? sh_status_code(f->status) : NULL);
	bind_text(s, 5, pat);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct sc_row row = {
			COL(0), COL(1), COL(2), COL(3), COL(4), COL(5), COL(6),
			sqlite3_column_int(s, 7) != 0, sqlite3_column_int(s, 8), COL(9), COL(10),
		};

		if (cb(&row, arg))
			break;
	}
	sqlite3_reset(s);
	sh_free(pat);
	return (step == SQLITE_ROW || step == SQLITE_DONE) ? SH_OK : SH_ERR_DB;
}

void sc_sync_text(const struct sc_row *row, char *buf, size_t len)
{
	if (row->draft)
		snprintf(buf, len, "lokalt utkast");
	else if (row->rejected)
		snprintf(buf, len, "feil: %s", row->rejected);
	else if (row->pending > 0)
		snprintf(buf, len, "ikke synkronisert");
	else
		snprintf(buf, len, "synkronisert");
}

/* The changes waiting in entries, each as made (stops early when cb says so). */
static int each_waiting(struct sc_replica *r, const char *participant, int64_t *nr, bool *stop,
			int (*cb)(const struct sc_outbox_row *o, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_OUTBOX_ALL);
	struct sh_record entry = {.made_order = true};
	int rc = SH_OK, step = SQLITE_DONE;

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, participant);
	while (!*stop && rc == SH_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		rc = sh_record_decode(&entry, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
		for (size_t i = 0; rc == SH_OK && !*stop && i < entry.n; i++) {
			const struct sh_entry *e = &entry.e[i];
			struct sc_outbox_row o = {
				++*nr, COL(1), sh_entry_field(&entry, e), sh_entry_row(&entry, e),
				sh_entry_value(&entry, e), sh_entry_author(&entry, e), NULL, e->hlc, e->version,
				sqlite3_column_int64(s, 2),
			};

			*stop = cb(&o, arg) != 0;
		}
	}
	sqlite3_reset(s);
	sh_record_clear(&entry);
	if (rc == SH_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SH_ERR_DB;
	return rc;
}

/* The changes the server refused. */
static int each_refused(struct sc_replica *r, const char *participant, int64_t *nr, bool *stop,
			int (*cb)(const struct sc_outbox_row *o, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_REFUSED_ALL);
	int step = SQLITE_DONE;

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, participant);
	while (!*stop && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct sc_outbox_row o = {
			++*nr, COL(0), COL(1), COL(2), COL(3), COL(4), COL(5),
			(uint64_t)sqlite3_column_int64(s, 6), (uint64_t)sqlite3_column_int64(s, 7),
			sqlite3_column_int64(s, 8),
		};

		*stop = cb(&o, arg) != 0;
	}
	sqlite3_reset(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? SH_OK : SH_ERR_DB;
}

int sc_outbox_each(struct sc_replica *r, const char *participant,
		   int (*cb)(const struct sc_outbox_row *o, void *arg), void *arg)
{
	int64_t nr = 0;
	bool stop = false;
	int rc = each_waiting(r, participant, &nr, &stop, cb, arg);

	return rc != SH_OK || stop ? rc : each_refused(r, participant, &nr, &stop, cb, arg);
}

int sc_lookups_each(struct sc_replica *r, const char *participant,
		    int (*cb)(const struct sc_lookup_row *l, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_LOOKUPS);
	int step;

	if (!s)
		return SH_ERR_DB;
	bind_text(s, 1, participant);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct sc_lookup_row l = {COL(0), COL(1), COL(2), sqlite3_column_int(s, 3),
					  sqlite3_column_int64(s, 4)};

		if (cb(&l, arg))
			break;
	}
	sqlite3_reset(s);
	return (step == SQLITE_ROW || step == SQLITE_DONE) ? SH_OK : SH_ERR_DB;
}

void sc_lookup_describe(const char *state, int attempts, int64_t next_try, const char *reason, char *buf,
			size_t len)
{
	const char *text = sc_lookup_text(state);
	int64_t wait = next_try - (int64_t)sh_wall_ms();

	if (state && strcmp(state, "henter") == 0 && attempts > 0)
		snprintf(buf, len, "%s (forsøk %d, neste om %lld s)", text, attempts + 1,
			 (long long)(wait > 0 ? (wait + 999) / 1000 : 0));
	else if (state && strcmp(state, "feil") == 0)
		snprintf(buf, len, "%s: %s", text, reason && *reason ? reason : "ukjent feil");
	else
		snprintf(buf, len, "%s", text);
}

const char *sc_lookup_text(const char *state)
{
	static const struct {
		const char *state, *text;
	} t[] = {
		{"venter", "venter på Folkeregisteret"},
		{"sendt", "venter på Folkeregisteret (serveren har oppslaget)"},
		{"henter", "henter navn"},
		{"hentet", "navn hentet"},
		{"ikke_funnet", "ikke funnet i Folkeregisteret"},
		{"feil", "feil"},
	};

	for (size_t i = 0; state && i < sizeof(t) / sizeof(*t); i++)
		if (strcmp(t[i].state, state) == 0)
			return t[i].text;
	return state ? state : "";
}
