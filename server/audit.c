/* audit.c: the hash chain: append, verify, query by participant. */
#include "audit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "hlc.h"

#define TXT(st, i) ((const char *)sqlite3_column_text(st, i))

static unsigned char chain_key[32];

void ss_audit_key(const unsigned char sign_sk[64])
{
	crypto_generichash(chain_key, sizeof(chain_key), (const unsigned char *)"jsr-audit-chain-v1", 18,
			   sign_sk, 64);
}

static void put(crypto_generichash_state *h, const void *p, size_t n)
{
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	crypto_generichash_update(h, len, 8);
	crypto_generichash_update(h, p, n);
}

static void put_int(crypto_generichash_state *h, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%lld", (long long)v);
	put(h, t, strlen(t));
}

static void entry_hash(const unsigned char prev[32], int64_t id, int64_t at, const char *actor,
		       const char *device, const char *action, const char *detail,
		       const char *participants, unsigned char out[32])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, chain_key, sizeof(chain_key), 32);
	put(&h, prev, 32);
	put_int(&h, id);
	put_int(&h, at);
	put(&h, actor, strlen(actor));
	put(&h, device, strlen(device));
	put(&h, action, strlen(action));
	put(&h, detail, strlen(detail));
	put(&h, participants, strlen(participants));
	crypto_generichash_final(&h, out, 32);
}

/* The newest entry's id and hash (zeros for an empty log). */
static int head(struct ss_store *s, int64_t *id, unsigned char hash[32])
{
	sqlite3_stmt *st = ss_stmt(s, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
	int rc = SH_OK;

	*id = 0;
	memset(hash, 0, 32);
	if (!st)
		return SH_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(hash, sqlite3_column_blob(st, 1), 32);
		else
			rc = SH_ERR_DB;
	}
	sqlite3_reset(st);
	return rc;
}

/* Calls fn for each participant id in a space-separated list; stops when it returns false. */
static bool each_id(const char *list, bool (*fn)(const char *pid, void *arg), void *arg)
{
	for (const char *p = list; *p;) {
		char pid[SH_ID_LEN + 1];
		size_t n = strcspn(p, " ");

		if (n == SH_ID_LEN) {
			memcpy(pid, p, n);
			pid[n] = '\0';
			if (!fn(pid, arg))
				return false;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return true;
}

struct add_ctx {
	sqlite3_stmt *st; /* prepared once for the entry's whole list */
	int64_t id;
	int rc;
};

static bool add_subject(const char *pid, void *arg)
{
	struct add_ctx *a = arg;

	sqlite3_reset(a->st);
	sqlite3_bind_int64(a->st, 1, a->id);
	sqlite3_bind_text(a->st, 2, pid, -1, SQLITE_STATIC);
	a->rc = sqlite3_step(a->st) == SQLITE_DONE ? SH_OK : SH_ERR_DB;
	return a->rc == SH_OK;
}

struct has_ctx {
	sqlite3_stmt *st;
	int64_t id;
};

static bool has_subject(const char *pid, void *arg)
{
	struct has_ctx *h = arg;
	bool found;

	sqlite3_reset(h->st);
	sqlite3_bind_text(h->st, 1, pid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(h->st, 2, h->id);
	found = sqlite3_step(h->st) == SQLITE_ROW;
	sqlite3_reset(h->st);
	return found;
}

/* Is every participant an entry names in the index (so that «audit show» finds it)? */
static bool indexed(sqlite3_stmt *st, int64_t id, const char *participants)
{
	struct has_ctx h = {st, id};

	return each_id(participants, has_subject, &h);
}

int ss_audit(struct ss_store *s, const char *actor, const char *device, const char *action,
	     const char *detail, const char *participants)
{
	unsigned char prev[32], hash[32];
	char hex[65], headtxt[96];
	int64_t id, at = (int64_t)sh_wall_ms();
	struct add_ctx a = {NULL, 0, SH_OK};
	sqlite3_stmt *st;
	int rc;

	if ((rc = head(s, &id, prev)) != SH_OK)
		return rc;
	id++;
	entry_hash(prev, id, at, actor, device, action, detail, participants, hash);
	if (!(st = ss_stmt(s, "INSERT INTO audit(id, at, actor, device, action, detail, participants, hash) "
			      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")))
		return SH_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, participants, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, hash, 32, SQLITE_STATIC);
	rc = sh_db_step_done(ss_store_db(s), st);
	sqlite3_reset(st);
	if (rc != SH_OK)
		return rc;
	/* the index by participant */
	a.id = id;
	if (!(a.st = ss_stmt(s, "INSERT OR IGNORE INTO audit_subject(audit_id, participant) VALUES (?1, ?2)")))
		return SH_ERR_DB;
	each_id(participants, add_subject, &a);
	sqlite3_reset(a.st);
	if ((rc = a.rc) != SH_OK)
		return rc;
	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	snprintf(headtxt, sizeof(headtxt), "%lld:%s", (long long)id, hex);
	return ss_meta_put(s, "audit_head", headtxt);
}

int ss_audit_verify(struct ss_store *s, int64_t *count, int64_t *first_bad, struct sh_reason *why)
{
	sqlite3 *db = ss_store_db(s);
	unsigned char prev[32] = {0}, want[32];
	sqlite3_stmt *st, *idx;
	int64_t expect = 1;
	char headtxt[96] = "", hex[65];

	*count = 0;
	*first_bad = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM audit_subject WHERE participant = ?1 AND audit_id = ?2",
			       -1, &idx, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	if (sqlite3_prepare_v2(db, "SELECT id, at, actor, device, action, detail, participants, hash "
				   "FROM audit ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(idx);
		return SH_ERR_DB;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		if (id != expect) {
			*first_bad = expect;
			sh_reason_set(why, "Innslag nr. %lld mangler (slettet).", (long long)expect);
			break;
		}
		entry_hash(prev, id, sqlite3_column_int64(st, 1), TXT(st, 2) ? TXT(st, 2) : "",
			   TXT(st, 3) ? TXT(st, 3) : "", TXT(st, 4) ? TXT(st, 4) : "",
			   TXT(st, 5) ? TXT(st, 5) : "", TXT(st, 6) ? TXT(st, 6) : "", want);
		if (sqlite3_column_bytes(st, 7) != 32 || sodium_memcmp(want, sqlite3_column_blob(st, 7), 32)) {
			*first_bad = id;
			sh_reason_set(why, "Innslag nr. %lld er endret, eller et innslag foran det er "
				      "endret eller satt inn.", (long long)id);
			break;
		}
		if (!indexed(idx, id, TXT(st, 6) ? TXT(st, 6) : "")) {
			*first_bad = id;
			sh_reason_set(why, "Oppslagstabellen mangler deltakere fra innslag nr. %lld.", (long long)id);
			break;
		}
		memcpy(prev, want, 32);
		(*count)++;
		expect++;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(idx);
	if (*first_bad)
		return SH_ERR_CONFLICT;
	/* the newest entry must be the one meta remembers: a deleted tail shows here */
	(void)ss_meta_get(s, "audit_head", headtxt, sizeof(headtxt));
	sodium_bin2hex(hex, sizeof(hex), prev, 32);
	{
		char mine[96];

		snprintf(mine, sizeof(mine), "%lld:%s", (long long)*count, hex);
		if ((*count || headtxt[0]) && strcmp(mine, headtxt) != 0) {
			*first_bad = *count + 1;
			sh_reason_set(why, "Loggen slutter ved nr. %lld, men det siste innslaget var nr. %lld; "
				      "innslag er fjernet fra slutten.", (long long)*count, strtoll(headtxt, NULL, 10));
			return SH_ERR_CONFLICT;
		}
	}
	/* and the index by participant must match the entries */
	if (sqlite3_prepare_v2(db, "SELECT min(s.audit_id) FROM audit_subject s LEFT JOIN audit a "
				   "ON a.id = s.audit_id WHERE a.id IS NULL OR instr(' ' || a.participants || ' ', "
				   "' ' || s.participant || ' ') = 0", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*first_bad = sqlite3_column_int64(st, 0);
			sh_reason_set(why, "Oppslagstabellen for innslag nr. %lld stemmer ikke med loggen.",
				      (long long)*first_bad);
		}
		sqlite3_finalize(st);
	}
	return *first_bad ? SH_ERR_CONFLICT : SH_OK;
}

int ss_audit_about(struct ss_store *s, const char *participant,
		   int (*cb)(const struct ss_audit_row *row, void *arg), void *arg)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(ss_store_db(s),
			       "SELECT a.id, a.at, a.actor, a.device, a.action, a.detail FROM audit_subject s "
			       "JOIN audit a ON a.id = s.audit_id WHERE s.participant = ?1 ORDER BY a.id",
			       -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, participant, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ss_audit_row r = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
					 TXT(st, 2), TXT(st, 3), TXT(st, 4), TXT(st, 5)};

		if (cb(&r, arg))
			break;
	}
	sqlite3_finalize(st);
	return SH_OK;
}

int ss_audit_check_head(struct ss_store *s, const char *head, int64_t *first_bad, struct sh_reason *why)
{
	unsigned char want[32];
	sqlite3_stmt *st;
	char *end;
	long long id = strtoll(head, &end, 10);
	int rc;

	*first_bad = 0;
	if (id < 1 || *end != ':' || strlen(end + 1) != 64 ||
	    sodium_hex2bin(want, sizeof(want), end + 1, 64, NULL, NULL, NULL) != 0) {
		sh_reason_set(why, "Hodet skrives NR:SJEKKSUM (64 heksadesimale tegn), slik serverloggen viser det.");
		return SH_ERR_USAGE;
	}
	if (sqlite3_prepare_v2(ss_store_db(s), "SELECT hash FROM audit WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sh_reason_set(why, "Innslag nr. %lld mangler: loggen er kortet ned etter at hodet ble skrevet "
			      "i serverloggen.", id);
		rc = SH_ERR_CONFLICT;
	} else if (sqlite3_column_bytes(st, 0) != 32 || sodium_memcmp(want, sqlite3_column_blob(st, 0), 32)) {
		sh_reason_set(why, "Innslag nr. %lld er ikke det som ble skrevet i serverloggen: loggen er "
			      "skrevet om fra og med det.", id);
		rc = SH_ERR_CONFLICT;
	} else {
		rc = SH_OK;
	}
	sqlite3_finalize(st);
	if (rc == SH_ERR_CONFLICT)
		*first_bad = id;
	return rc;
}
