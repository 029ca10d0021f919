/* lookup_store.c: lookup jobs and requests in the store (see lookup_store.h). */
#include "lookup_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "log.h"
#include "text.h"

#define TXT(st, i) ((const char *)sqlite3_column_text(st, i))

const char *ss_lk_client_state(const struct ss_lk_job *j)
{
	static const char *const map[][2] = {
		{"found", "hentet"}, {"not_found", "ikke_funnet"}, {"failed", "feil"}, {"cancelled", "venter"}};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (strcmp(j->state, map[i][0]) == 0)
			return map[i][1];
	return j->attempts ? "henter" : "sendt";
}

#define JOB_COLS "state, attempts, next_try, coalesce(last_error, ''), coalesce(navn, ''), coalesce(kjonn, '')"

/* Steps st, whose row is JOB_COLS of the job for fnr, into *j; resets st. */
static int job_row(struct ss_store *s, sqlite3_stmt *st, const char *fnr, struct ss_lk_job *j)
{
	int step = sqlite3_step(st), rc = step == SQLITE_ROW ? SH_OK : SH_ERR_NOT_FOUND;

	memset(j, 0, sizeof(*j));
	if (step == SQLITE_ROW) {
		sh_str_copy(j->fnr, sizeof(j->fnr), fnr);
		sh_str_copy(j->state, sizeof(j->state), TXT(st, 0));
		j->attempts = sqlite3_column_int(st, 1);
		j->next_try = sqlite3_column_int64(st, 2);
		sh_str_copy(j->reason, sizeof(j->reason), TXT(st, 3));
		sh_str_copy(j->navn, sizeof(j->navn), TXT(st, 4));
		sh_str_copy(j->kjonn, sizeof(j->kjonn), TXT(st, 5));
	} else if (step != SQLITE_DONE) {
		sh_log_error("lookup store: %s", sqlite3_errmsg(ss_store_db(s)));
		rc = SH_ERR_DB;
	}
	sqlite3_reset(st);
	return rc;
}

int ss_lk_job_get(struct ss_store *s, const char *fnr, struct ss_lk_job *j)
{
	sqlite3_stmt *st = ss_stmt(s, "SELECT " JOB_COLS " FROM lookup_job WHERE fnr = ?1");

	memset(j, 0, sizeof(*j));
	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, fnr, -1, SQLITE_STATIC);
	return job_row(s, st, fnr, j);
}

int ss_lk_request(struct ss_store *s, const char *participant, const char *fnr, const char *kommune,
		  const char *user, int64_t now, bool *start, struct ss_lk_job *j)
{
	int rc, put;

	*start = false;
	rc = ss_lk_job_get(s, fnr, j);
	if (rc == SH_OK && strcmp(j->state, "pending") != 0 && strcmp(j->state, "cancelled") != 0)
		/* answered before: the caller answers from the job; nothing is left to wait */
		return ss_run(s, "DELETE FROM lookup_request WHERE participant = ?1", "t", participant);
	if (rc != SH_OK && rc != SH_ERR_NOT_FOUND)
		return rc;
	put = ss_run(s, "INSERT INTO lookup_request(participant, fnr, kommune, requested, by_user) "
			"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(participant) DO UPDATE SET fnr = excluded.fnr, "
			"kommune = excluded.kommune, requested = excluded.requested, by_user = excluded.by_user",
			"tttit", participant, fnr, kommune, now, user);
	if (put != SH_OK)
		return put;
	if (rc == SH_ERR_NOT_FOUND) {
		rc = ss_run(s, "INSERT INTO lookup_job(fnr, created, updated) VALUES (?1, ?2, ?2)", "ti", fnr, now);
		*start = rc == SH_OK;
	} else {
		/* cancelled, and wanted again: a fresh start */
		rc = ss_run(s, "UPDATE lookup_job SET state = 'pending', attempts = 0, next_try = 0, "
			     "last_error = NULL, updated = ?2 WHERE fnr = ?1 AND state = 'cancelled'", "ti", fnr, now);
		*start = rc == SH_OK && sqlite3_changes(ss_store_db(s)) > 0;
	}
	return rc == SH_OK ? ss_lk_job_get(s, fnr, j) : rc;
}

int ss_lk_retry(struct ss_store *s, const char *fnr, int attempts, int64_t next_try, const char *reason,
		int64_t now, struct ss_lk_job *j)
{
	sqlite3_stmt *st = ss_stmt(s, "UPDATE lookup_job SET attempts = ?2, next_try = ?3, last_error = ?4, "
				      "updated = ?5 WHERE fnr = ?1 AND state = 'pending' RETURNING " JOB_COLS);

	memset(j, 0, sizeof(*j));
	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, fnr, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, attempts);
	sqlite3_bind_int64(st, 3, next_try);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	return job_row(s, st, fnr, j);
}

int ss_lk_finish(struct ss_store *s, const char *fnr, const char *state, int attempts, const char *navn,
		 const char *kjonn, const char *status, const char *reason, int64_t now, struct ss_lk_job *j)
{
	sqlite3_stmt *st = ss_stmt(s, "UPDATE lookup_job SET state = ?2, attempts = ?3, navn = nullif(?4, ''), "
				      "kjonn = nullif(?5, ''), status = nullif(?6, ''), last_error = nullif(?7, ''), "
				      "updated = ?8, done_at = ?8 WHERE fnr = ?1 AND state = 'pending' RETURNING " JOB_COLS);
	const char *text[] = {fnr, state, NULL, navn, kjonn, status, reason};

	memset(j, 0, sizeof(*j));
	if (!st)
		return SH_ERR_DB;
	for (int i = 0; i < 7; i++)
		if (i != 2)
			sqlite3_bind_text(st, i + 1, text[i] ? text[i] : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, attempts);
	sqlite3_bind_int64(st, 8, now);
	return job_row(s, st, fnr, j);
}

int ss_lk_requests_each(struct ss_store *s, const char *fnr,
			int (*cb)(const char *participant, const char *kommune, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int rc = SH_OK, step;

	if (!(st = ss_stmt(s, "SELECT participant, kommune FROM lookup_request WHERE fnr = ?1 ORDER BY participant")))
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, fnr, -1, SQLITE_STATIC);
	/* the rows are copied out first: the callback may write to these tables */
	{
		char (*rows)[2][40] = NULL;
		size_t n = 0, cap = 0;

		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				void *v = sh_realloc(rows, (cap = cap ? cap * 2 : 8) * sizeof(*rows));

				if (!v) {
					rc = SH_ERR_NOMEM;
					break;
				}
				rows = v;
			}
			snprintf(rows[n][0], 40, "%s", TXT(st, 0));
			snprintf(rows[n][1], 40, "%s", TXT(st, 1));
			n++;
		}
		sqlite3_reset(st);
		if (rc == SH_OK && step != SQLITE_DONE && step != SQLITE_ROW)
			rc = SH_ERR_DB;
		for (size_t i = 0; rc == SH_OK && i < n; i++)
			rc = cb(rows[i][0], rows[i][1], arg);
		sh_free(rows);
	}
	return rc;
}

int ss_lk_requests_drop(struct ss_store *s, const char *fnr)
{
	return ss_run(s, "DELETE FROM lookup_request WHERE fnr = ?1", "t", fnr);
}

int ss_lk_renumbered(struct ss_store *s, const char *participant, const char *old_fnr, bool *cancelled)
{
	sqlite3_stmt *st;
	bool others = true;
	int rc;

	*cancelled = false;
	rc = ss_run(s, "DELETE FROM lookup_request WHERE participant = ?1 AND fnr = ?2", "tt", participant, old_fnr);
	if (rc != SH_OK)
		return rc;
	if (!(st = ss_stmt(s, "SELECT 1 FROM lookup_request WHERE fnr = ?1 LIMIT 1")))
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, old_fnr, -1, SQLITE_STATIC);
	others = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	if (others)
		return SH_OK;
	rc = ss_run(s, "UPDATE lookup_job SET state = 'cancelled' WHERE fnr = ?1 AND state = 'pending'", "t", old_fnr);
	*cancelled = rc == SH_OK && sqlite3_changes(ss_store_db(s)) > 0;
	return rc;
}

int ss_lk_open_each(struct ss_store *s, void (*cb)(const char *fnr, int attempts, int64_t next_try, void *arg),
		    void *arg)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(ss_store_db(s), "SELECT fnr, attempts, next_try FROM lookup_job WHERE state = "
					       "'pending' ORDER BY next_try", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		cb(TXT(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2), arg);
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? SH_OK : SH_ERR_DB;
}

int ss_lk_alert_put(struct ss_store *s, const char *text)
{
	return ss_meta_put(s, "freg_alert", text ? text : "");
}

void ss_lk_alert_get(struct ss_store *s, char *out, size_t n)
{
	(void)ss_meta_get(s, "freg_alert", out, n);
}
