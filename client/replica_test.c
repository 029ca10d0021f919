/* replica_test.c: the replica through its library API (real SQLite files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "alloc.h"
#include "outbox.h"
#include "replica.h"
#include "db.h"
#include "seal.h"
#include "sync_store.h"
#include "test_util.h"
#include "wire.h"

static struct sh_domain *dom;
static char dir[64];
static struct sc_replica *r;

static int setup(void **state)
{
	struct sh_reason why;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/jsr-replica-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return sc_replica_open(dir, dom, &r, &why) == SH_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	sc_replica_close(r);
	r = NULL;
	return tu_rmtree(dir);
}

static void reopen(void)
{
	struct sh_reason why;

	sc_replica_close(r);
	assert_int_equal(sc_replica_open(dir, dom, &r, &why), SH_OK);
}

/* The text of the first column of query q's first row ("" for NULL; sh_free). */
static char *text_of(const char *q)
{
	sqlite3_stmt *s;
	char *out;

	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), q, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	out = sh_strdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
	sqlite3_finalize(s);
	return out;
}

/* Everything stored, as one string: "nothing changed" means this is equal. */
static char *fingerprint(void)
{
	return text_of("SELECT (SELECT group_concat(id||draft||status||coalesce(fnr,'')||coalesce(startdato,''), ';') FROM participant) || '|' ||"
		       "(SELECT group_concat(participant||field||row||value, ';') FROM field_value) || '|' ||"
		       "(SELECT group_concat(seq||participant||field||value||base, ';') FROM outbox) || '|' ||"
		       "(SELECT group_concat(participant||fnr||state, ';') FROM lookup)");
}

static int count(const char *q)
{
	sqlite3_stmt *s;
	int n;

	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), q, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void ok_set(const char *id, const char *field, const char *v)
{
	struct sc_report rep;

	if (sc_set(r, id, field, NULL, v, &rep) != SH_OK)
		fail_msg("%s=%s refused: %s", field, v, rep.why.text);
}

static void refused(const char *id, const char *field, const char *row, const char *v,
		    const char *words)
{
	struct sc_report rep;
	char *before = fingerprint(), *after;

	assert_int_not_equal(sc_set(r, id, field, row, v, &rep), SH_OK);
	if (!strstr(rep.why.text, words))
		fail_msg("«%s» lacks «%s»", rep.why.text, words);
	assert_false(rep.changed);
	after = fingerprint();
	assert_string_equal(before, after);
	sh_free(before);
	sh_free(after);
}

static void make_participant(char id[SH_ID_LEN + 1], unsigned seed, const char *start)
{
	char fnr[12];

	tu_fnr(seed, SH_GENDER_WOMAN, fnr);
	assert_int_equal(sc_participant_new(r, id), SH_OK);
	ok_set(id, "fnr", fnr);
	ok_set(id, "startdato", start);
	ok_set(id, "kommune", "0301");
	ok_set(id, "finansiering", "1");
}

static void file_and_identity(void **state)
{
	char path[128], *dev1, *dev2;
	struct stat sb;

	(void)state;
	snprintf(path, sizeof(path), "%s/replica.db", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	dev1 = sh_strdup(sc_replica_device(r));
	assert_true(sh_id_valid(dev1));
	reopen();
	dev2 = sh_strdup(sc_replica_device(r));
	assert_string_equal(dev1, dev2);
	sh_free(dev1);
	sh_free(dev2);
}

static void draft_to_participant(void **state)
{
	char id[SH_ID_LEN + 1], fnr[12];
	struct sc_report rep;
	struct sh_participant p;
	bool draft;

	(void)state;
	tu_fnr(1, SH_GENDER_WOMAN, fnr);
	assert_int_equal(sc_participant_new(r, id), SH_OK);
	assert_true(sh_id_valid(id));
	ok_set(id, "kommune", "0301");
	ok_set(id, "fnr", fnr);
	/* a draft never enters the outbox */
	assert_int_equal(count("SELECT count(*) FROM outbox"), 0);
	/* a draft survives a restart */
	reopen();
	sh_participant_init(&p);
	assert_int_equal(sc_participant_load(r, id, &p, &draft), SH_OK);
	assert_true(draft);
	assert_string_equal(p.v[SH_F_KOMMUNE], "0301");
	sh_participant_clear(&p);
	ok_set(id, "startdato", "2026-01-15");
	assert_int_equal(count("SELECT count(*) FROM participant WHERE draft = 1"), 1);
	/* the fourth mandatory field makes it a participant with the same id */
	assert_int_equal(sc_set(r, id, "finansiering", NULL, "1", &rep), SH_OK);
	assert_true(rep.promoted);
	assert_int_equal(rep.status, SH_STATUS_MANGLER);
	assert_int_equal(count("SELECT count(*) FROM participant WHERE draft = 0"), 1);
	/* every value entered the outbox in that transaction, once */
	assert_int_equal(count("SELECT count(*) FROM outbox"), 4);
	assert_int_equal(count("SELECT count(DISTINCT field) FROM outbox"), 4);
	/* and the lookup waits */
	assert_int_equal(count("SELECT count(*) FROM lookup WHERE state = 'venter'"), 1);
}

static void outbox_coalesces(void **state)
{
	char id[SH_ID_LEN + 1];
	struct sc_report rep;

	(void)state;
	make_participant(id, 2, "2026-01-15");
	ok_set(id, "malgruppe", "1");
	ok_set(id, "malgruppe", "2");
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'malgruppe'"), 1);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'malgruppe' AND value = '2'"), 1);
	/* the same value again writes nothing */
	assert_int_equal(sc_set(r, id, "malgruppe", NULL, "2", &rep), SH_OK);
	assert_false(rep.changed);
	/* a sent change is frozen: a new edit makes a new entry */
	assert_int_equal(sh_db_exec(sc_replica_db(r), "UPDATE outbox_entry SET changeset = 1", NULL), SH_OK);
	ok_set(id, "malgruppe", "3");
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'malgruppe'"), 2);
	/* clearing is a change too */
	ok_set(id, "malgruppe", "");
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'malgruppe' AND value = ''"), 1);
}

static void bad_input_changes_nothing(void **state)
{
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1], longtext[300];
	const char *values[SH_F_COUNT] = {0};
	struct sc_report rep;

	(void)state;
	make_participant(id, 3, "2026-01-15");
	values[SH_F_TILTAK_TYPE] = "1";
	values[SH_F_TILTAK_FRA] = "2026-02-01";
	assert_int_equal(sc_tiltak_add(r, id, values, row, &rep), SH_OK);
	memset(longtext, 'x', 201);
	longtext[201] = '\0';
	refused(id, "tiltak.beskrivelse", row, "Norsk\xff\xfe kurs", "UTF-8");
	refused(id, "tiltak.beskrivelse", row, longtext, "høyst 200 tegn");
	refused(id, "finnes_ikke", NULL, "1", "Ukjent felt");
	refused(id, "kommune", NULL, "9999", "ikke en kode");
	refused(id, "startdato", NULL, "2026-02-30", "ikke en gyldig dato");
	refused(id, "kommune", NULL, "0301'; DROP TABLE participant; --", "ikke en kode");
	refused(id, "fnr", NULL, "31929956781", "kontrollsiffer"); /* a synthetic number, K2 changed */
	refused(id, "fnr", NULL, "12345678901", "dato som ikke finnes");
	refused(id, "antall_barn", NULL, "1; DELETE FROM outbox", "helt tall");
	refused(id, "navn", NULL, "Kari", "Folkeregisteret");
	refused(id, "tiltak.type", NULL, "1", "hører til et tiltak");
	refused(id, "tiltak.type", "ffffffffffffffffffffffffffffffff", "1", "Fant ikke tiltaket");
	refused("00000000000000000000000000000000", "kommune", NULL, "0301", "Fant ingen");
	/* SQL text in a free-text field is just text */
	ok_set(id, "kommune", "0301");
	assert_int_equal(sc_set(r, id, "tiltak.beskrivelse", row, "'); DROP TABLE outbox; --", &rep), SH_OK);
	assert_int_equal(count("SELECT count(*) FROM field_value WHERE value = '''); DROP TABLE outbox; --'"), 1);
}

static int count_rows(const struct sc_row *row, void *arg)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

static void discharge_and_utskrevet(void **state)
{
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1];
	const char *values[SH_F_COUNT] = {0};
	struct sc_report rep;
	struct sc_filter all = {.status = -1}, utskr = {.status = SH_STATUS_UTSKREVET};
	static const char *bg[][2] = {
		{"malgruppe", "1"}, {"fodeland", "SYR"}, {"statsborgerskap", "SYR"},
		{"ankomstar", "2016"}, {"innvandringsgrunn", "3"}, {"sivilstand", "2"},
		{"antall_barn", "0"}, {"hovedinntekt", "4"}, {"skolear", "6"}, {"utdanning", "1"},
		{"arbeidserfaring", "0"}, {"leser_morsmal", "j"}, {"norskniva_start", "A1"},
	};
	int seen;

	(void)state;
	make_participant(id, 4, "2026-01-15");
	assert_int_equal(sc_discharge(r, id, &rep), SH_ERR_RULE);
	assert_true(rep.nmissing > 10);
	assert_int_equal(rep.missing[0].field, SH_F_MALGRUPPE);
	for (size_t i = 0; i < sizeof(bg) / sizeof(*bg); i++)
		ok_set(id, bg[i][0], bg[i][1]);
	values[SH_F_TILTAK_TYPE] = "7";
	values[SH_F_TILTAK_FRA] = "2026-03-01";
	values[SH_F_TILTAK_TIL] = "2026-04-01";
	assert_int_equal(sc_tiltak_add(r, id, values, row, &rep), SH_OK);
	assert_int_equal(rep.status, SH_STATUS_AKTIV);
	{
		/* a second tiltak, removed again: the participant is as complete as before */
		char row2[SH_ID_LEN + 1];

		assert_int_equal(sc_tiltak_add(r, id, values, row2, &rep), SH_OK);
		assert_int_equal(sc_tiltak_remove(r, id, row2, &rep), SH_OK);
		assert_int_equal(rep.status, SH_STATUS_AKTIV);
		assert_int_equal(count("SELECT count(*) FROM participant WHERE status = 'aktiv'"), 1);
	}
	ok_set(id, "sluttdato", "2026-06-30");
	ok_set(id, "hovedarsak", "60");
	assert_int_equal(sc_discharge(r, id, &rep), SH_ERR_RULE);
	assert_int_equal(rep.nmissing, 2);
	assert_int_equal(rep.missing[0].field, SH_F_NORSKNIVA_SLUTT);
	ok_set(id, "norskniva_slutt", "A2");
	ok_set(id, "norskprove", "A2");
	assert_int_equal(sc_discharge(r, id, &rep), SH_OK);
	assert_int_equal(rep.status, SH_STATUS_UTSKREVET);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'utskrevet'"), 1);
	assert_int_equal(sc_discharge(r, id, &rep), SH_ERR_RULE);
	assert_non_null(strstr(rep.why.text, "allerede utskrevet"));
	/* hidden from the overview, found by the filter */
	seen = 0;
	assert_int_equal(sc_list(r, &all, count_rows, &seen), SH_OK);
	assert_int_equal(seen, 0);
	assert_int_equal(sc_list(r, &utskr, count_rows, &seen), SH_OK);
	assert_int_equal(seen, 1);
	/* still editable */
	ok_set(id, "malgruppe", "2");
	assert_int_equal(sc_reopen(r, id, &rep), SH_OK);
	assert_int_equal(rep.status, SH_STATUS_AVSLUTTET);
	assert_int_equal(sc_reopen(r, id, &rep), SH_ERR_RULE);
}

static void overlap(void **state)
{
	char a[SH_ID_LEN + 1], b[SH_ID_LEN + 1], fnr[12];
	struct sc_report rep;

	(void)state;
	make_participant(a, 5, "2026-01-15");
	tu_fnr(5, SH_GENDER_WOMAN, fnr);
	assert_int_equal(sc_participant_new(r, b), SH_OK);
	ok_set(b, "fnr", fnr);
	refused(b, "startdato", NULL, "2026-03-01", "overlapper i tid");
	/* the first participation ends; a later one is accepted */
	ok_set(a, "sluttdato", "2026-02-28");
	refused(b, "startdato", NULL, "2026-02-28", "overlapper");
	ok_set(b, "startdato", "2026-03-01");
	ok_set(b, "kommune", "1103");
	assert_int_equal(sc_set(r, b, "finansiering", NULL, "2", &rep), SH_OK);
	assert_true(rep.promoted);
	/* the old one cannot be reopened into the new one */
	refused(a, "sluttdato", NULL, "", "overlapper");
	refused(a, "sluttdato", NULL, "2026-03-01", "overlapper");
}

static void tiltak_rows(void **state)
{
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1], found[SH_ID_LEN + 1];
	const char *values[SH_F_COUNT] = {0};
	struct sc_report rep;
	struct sh_reason why;

	(void)state;
	make_participant(id, 6, "2026-01-15");
	values[SH_F_TILTAK_TYPE] = "1";
	values[SH_F_TILTAK_FRA] = "2026-02-01";
	values[SH_F_TILTAK_TIL] = "2026-01-01"; /* before fra: the whole row is refused */
	assert_int_equal(sc_tiltak_add(r, id, values, row, &rep), SH_ERR_RULE);
	assert_int_equal(count("SELECT count(*) FROM field_value WHERE field LIKE 'tiltak.%'"), 0);
	values[SH_F_TILTAK_TIL] = NULL;
	assert_int_equal(sc_tiltak_add(r, id, values, row, &rep), SH_OK);
	assert_true(sh_id_valid(row));
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field LIKE 'tiltak.%'"), 2);
	assert_int_equal(sc_resolve_row(r, id, row, found, &why), SH_OK);
	assert_string_equal(found, row);
	assert_int_equal(sc_set(r, id, "tiltak.til", row, "2026-05-01", &rep), SH_OK);
	assert_int_equal(sc_tiltak_remove(r, id, row, &rep), SH_OK);
	assert_int_equal(count("SELECT count(*) FROM field_value WHERE field LIKE 'tiltak.%' AND value <> ''"), 0);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field LIKE 'tiltak.%' AND value = ''"), 3);
	assert_int_equal(sc_resolve_row(r, id, row, found, &why), SH_ERR_NOT_FOUND);
	assert_int_equal(sc_tiltak_remove(r, id, row, &rep), SH_ERR_NOT_FOUND);
}

static void lookups_follow_the_number(void **state)
{
	char id[SH_ID_LEN + 1], other[12], man[12];

	(void)state;
	make_participant(id, 7, "2026-01-15");
	assert_int_equal(count("SELECT count(*) FROM lookup"), 1);
	tu_fnr(8, SH_GENDER_WOMAN, other);
	ok_set(id, "fnr", other);
	assert_int_equal(count("SELECT count(*) FROM lookup"), 1);
	{
		char q[128];

		snprintf(q, sizeof(q), "SELECT count(*) FROM lookup WHERE fnr = '%s'", other);
		assert_int_equal(count(q), 1);
	}
	/* a man's number is refused (woman rule) and the lookup stays */
	tu_fnr(9, SH_GENDER_MAN, man);
	refused(id, "fnr", NULL, man, "kvinner");
	/* a 2032-rule number passes the eligibility check: unknown until Folkeregisteret */
	{
		struct sh_rng rng = {3};
		struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_2032, 0, 1970, 2000};
		char n2032[12];

		assert_int_equal(sh_fnr_generate(&rng, &spec, n2032), SH_OK);
		ok_set(id, "fnr", n2032);
		assert_int_equal(count("SELECT count(*) FROM lookup WHERE state = 'venter'"), 1);
	}
}

static void dependents_are_changes(void **state)
{
	char id[SH_ID_LEN + 1];
	struct sc_report rep;

	(void)state;
	make_participant(id, 10, "2026-01-15");
	ok_set(id, "antall_barn", "2");
	ok_set(id, "alder_yngste_barn", "3");
	assert_int_equal(sc_set(r, id, "antall_barn", NULL, "0", &rep), SH_OK);
	assert_int_equal(rep.ncleared, 1);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'alder_yngste_barn' AND value = ''"), 1);
	assert_int_equal(count("SELECT count(*) FROM field_value WHERE field = 'alder_yngste_barn' AND value <> ''"), 0);
}

static void resolve_and_delete(void **state)
{
	char a[SH_ID_LEN + 1], d[SH_ID_LEN + 1], got[SH_ID_LEN + 1], up[SH_ID_LEN + 1];
	struct sh_reason why;

	(void)state;
	make_participant(a, 11, "2026-01-15");
	assert_int_equal(sc_participant_new(r, d), SH_OK);
	assert_int_equal(sc_resolve(r, a, got, &why), SH_OK);
	assert_string_equal(got, a);
	for (int i = 0; i <= SH_ID_LEN; i++)
		up[i] = (char)(a[i] >= 'a' && a[i] <= 'f' ? a[i] - 32 : a[i]);
	assert_int_equal(sc_resolve(r, up, got, &why), SH_OK);
	memcpy(up, a, 8);
	up[8] = 0;
	assert_int_equal(sc_resolve(r, up, got, &why), SH_OK);
	assert_string_equal(got, a);
	assert_int_equal(sc_resolve(r, "abc", got, &why), SH_ERR_INVALID);
	assert_int_equal(sc_resolve(r, "xyz!", got, &why), SH_ERR_INVALID);
	assert_int_equal(sc_resolve(r, "' OR 1=1 --", got, &why), SH_ERR_INVALID);
	assert_int_equal(sc_draft_delete(r, a, &why), SH_ERR_RULE);
	assert_int_equal(sc_draft_delete(r, d, &why), SH_OK);
	assert_int_equal(sc_resolve(r, d, got, &why), SH_ERR_NOT_FOUND);
}

/* Whether the n bytes of s are anywhere in the replica's file. */
static bool in_file(const char *s, size_t n)
{
	char path[128];
	FILE *f;
	char *data;
	long len;
	bool found = false;

	snprintf(path, sizeof(path), "%s/replica.db", dir);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((len = ftell(f)) > 0);
	rewind(f);
	assert_non_null(data = malloc((size_t)len));
	assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (long i = 0; !found && i + (long)n <= len; i++)
		found = memcmp(data + i, s, n) == 0;
	free(data);
	return found;
}

/*
 * A draft deleted leaves nothing in the file, not its id nor its number
 * (secure_delete, db.h), also after a sync transaction (which deletes
 * with FAST) has come and gone.
 */
static void deleted_draft_leaves_nothing(void **state)
{
	char d[SH_ID_LEN + 1], fnr[12];
	struct sh_reason why;
	struct sc_ack_stats st;

	(void)state;
	assert_int_equal(sc_participant_new(r, d), SH_OK);
	tu_fnr(77, SH_GENDER_WOMAN, fnr);
	ok_set(d, "fnr", fnr);
	ok_set(d, "startdato", "2026-02-01");
	assert_int_equal(sqlite3_exec(sc_replica_db(r), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	assert_true(in_file(d, SH_ID_LEN));
	assert_true(in_file(fnr, 11));
	/* a sync transaction (with FAST) committed: an acknowledgement of a change-set with nothing in it */
	assert_int_equal(sc_apply_ack(r, 5, NULL, 0, &st, &why), SH_OK);
	assert_int_equal(sc_draft_delete(r, d, &why), SH_OK);
	assert_int_equal(sqlite3_exec(sc_replica_db(r), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	assert_false(in_file(d, SH_ID_LEN));
	assert_false(in_file(fnr, 11));
}

/*
 * Unsent changes made straight through the outbox module: n changes of
 * each of the k participants, round-robin (hlc i for the i-th round), one
 * Tiltak row each.
 */
static void outbox_rows(const char *const *ids, size_t k, int n)
{
	for (size_t p = 0; p < k; p++) {
		struct sh_record entry = {0};
		char row[16];

		assert_int_equal(sc_outbox_unsent(sc_replica_outbox(r), ids[p], &entry), SH_OK);
		for (int i = 1; i <= n; i++) {
			snprintf(row, sizeof(row), "%d", i);
			assert_int_equal(sh_record_put(&entry, "tiltak_type", row, "1", (uint64_t)i, "test", NULL, 0), SH_OK);
		}
		assert_int_equal(sc_outbox_store_unsent(sc_replica_outbox(r), &entry), SH_OK);
		sh_record_clear(&entry);
	}
}

/*
 * Change-sets hold whole participants: edits made round-robin over three
 * participants are not spread over change-sets, and only a participant
 * with more changes than one change-set holds is split, in order.
 */
static void outbox_freezes_whole_participants(void **state)
{
	static const char *const id[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
					 "cccccccccccccccccccccccccccccccc", "dddddddddddddddddddddddddddddddd",
					 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"};
	const int part = SC_CHANGESET_SIZE * 2 / 5, big = SC_CHANGESET_SIZE * 5 / 2;
	char q[300];
	size_t n, sent = 0, k;
	uint64_t *seqs, first;
	struct sh_buf b;

	(void)state;
	outbox_rows(id, 3, part); /* a b c a b c ... */
	outbox_rows(id + 3, 1, big);
	outbox_rows(id + 4, 1, 10);
	assert_int_equal(sc_freeze_outbox(r, SIZE_MAX, &first, &n), SH_OK);
	assert_int_equal(n, 6); /* a+b, c, d in three, e */
	/* (the entries themselves: the view decodes a 10,000-change entry slowly) */
	assert_int_equal(count("SELECT count(*) FROM outbox_entry WHERE changeset IS NULL"), 0);
	assert_int_equal(count("SELECT max(n) FROM (SELECT sum(n) n FROM outbox_entry GROUP BY changeset)"),
			 SC_CHANGESET_SIZE);
	for (int i = 0; i < 5; i++) {
		snprintf(q, sizeof(q), "SELECT count(DISTINCT changeset) FROM outbox_entry WHERE participant = '%s'", id[i]);
		assert_int_equal(count(q), i == 3 ? 3 : 1);
	}
	snprintf(q, sizeof(q), "SELECT count(DISTINCT changeset) FROM outbox_entry WHERE participant IN ('%s', '%s')",
		 id[0], id[1]);
	assert_int_equal(count(q), 1);
	/* the big one in the order its changes were made (hlc 1, 2, ...): each
	 * change-set goes on where the one before it stopped */
	snprintf(q, sizeof(q), "WITH c AS (SELECT changeset, n, CAST(substr(changes, 1, 20) AS INTEGER) lo "
		 "FROM outbox_entry WHERE participant = '%s') SELECT count(*) FROM c x JOIN c y ON "
		 "y.changeset = x.changeset + 1 WHERE y.lo = x.lo + x.n", id[3]);
	assert_int_equal(count(q), 2);
	snprintf(q, sizeof(q), "SELECT min(CAST(substr(changes, 1, 20) AS INTEGER)) FROM outbox_entry "
		 "WHERE participant = '%s'", id[3]);
	assert_int_equal(count(q), 1);
	assert_int_equal(sc_pending_changesets(r, &seqs, &n), SH_OK);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		sh_buf_init(&b, SH_BOX_MAX_BODY);
		assert_int_equal(sc_changeset_body(r, seqs[i], &b, &k), SH_OK);
		assert_in_range(k, 1, SC_CHANGESET_SIZE);
		sent += k;
		sh_buf_free(&b);
	}
	sh_free(seqs);
	assert_int_equal(sent, 3 * part + big + 10);
	/* nothing left to number */
	assert_int_equal(sc_freeze_outbox(r, SIZE_MAX, &first, &n), SH_OK);
	assert_int_equal(n, 0);
}

/* The participants of change-set seq, in order, joined by spaces. */
static void members(uint64_t seq, char *out, size_t n)
{
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), "SELECT group_concat(substr(participant, 1, 1), ' ') "
					   "FROM (SELECT participant FROM outbox_entry WHERE changeset = ?1 ORDER BY participant)",
					   -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	if (sqlite3_column_text(st, 0))
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/*
 * Numbers the next cut (sc_freeze_outbox with limit 1): n change-sets,
 * numbered from `first`, each of the participants `who` (first letters).
 */
static void number_cut(uint64_t first, size_t n, const char *who)
{
	uint64_t got;
	size_t k;
	char in[40];

	assert_int_equal(sc_freeze_outbox(r, 1, &got, &k), SH_OK);
	assert_int_equal(k, n);
	if (first)
		assert_int_equal(got, first);
	for (uint64_t s = got; s < got + k; s++) {
		members(s, in, sizeof(in));
		assert_string_equal(in, who);
	}
}

/*
 * A sync numbers a change-set at a time, so that the first goes out at
 * once: the cuts are those of numbering all at once, the numbers follow
 * one another, and an edit made meanwhile (of a participant numbered
 * already) joins a later change-set.
 */
static void outbox_freezes_a_change_set_at_a_time(void **state)
{
	static const char *const id[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
					 "cccccccccccccccccccccccccccccccc", "dddddddddddddddddddddddddddddddd",
					 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"};
	const int part = SC_CHANGESET_SIZE * 2 / 5, big = SC_CHANGESET_SIZE * 5 / 2;
	uint64_t start = (uint64_t)count("SELECT coalesce(max(CAST(value AS INTEGER)), 0) + 1 FROM meta WHERE key = 'changeset_seq'"), *seqs;
	size_t n;

	(void)state;
	outbox_rows(id, 3, part);
	outbox_rows(id + 3, 1, big);
	outbox_rows(id + 4, 1, 10);
	number_cut(start, 1, "a b");
	assert_int_equal(count("SELECT count(*) FROM outbox_entry WHERE changeset IS NULL"), 3);
	number_cut(start + 1, 1, "c");
	number_cut(start + 2, 3, "d"); /* too big for one: in three at once */
	outbox_rows(id, 1, 5);          /* a again, after its change-set was numbered */
	number_cut(start + 5, 1, "a e");
	number_cut(0, 0, "");
	assert_int_equal(sc_pending_changesets(r, &seqs, &n), SH_OK);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], start + i);
	sh_free(seqs);
}

/* The number of the one change-set waiting, after numbering the outbox. */
static uint64_t freeze_one(void)
{
	uint64_t *seqs, seq, first;
	size_t n;

	assert_int_equal(sc_freeze_outbox(r, SIZE_MAX, &first, &n), SH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sc_pending_changesets(r, &seqs, &n), SH_OK);
	assert_int_equal(n, 1);
	seq = seqs[0];
	sh_free(seqs);
	return seq;
}

/* The replica's connection is back at its settings (db.h) after a sync transaction, stored or not. */
static void full_again(void)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	/* and secure_delete ON (1), not a resumable transaction's FAST (2) */
	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), "PRAGMA secure_delete", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
}

static void ack(uint64_t seq, const struct sh_result *res, size_t n, size_t applied, size_t rejected)
{
	struct sc_ack_stats st;
	struct sh_reason why = {0};

	assert_int_equal(sc_apply_ack(r, seq, res, n, &st, &why), SH_OK);
	full_again();
	assert_int_equal(st.applied, applied);
	assert_int_equal(st.rejected, rejected);
}

/* participant.pending (the overview's count) against the changes in the outbox. */
static void counted(const char *id, int pending, int refused)
{
	char q[200];

	snprintf(q, sizeof(q), "SELECT pending FROM participant WHERE id = '%s'", id);
	assert_int_equal(count(q), pending);
	snprintf(q, sizeof(q), "SELECT count(*) FROM outbox WHERE participant = '%s'", id);
	assert_int_equal(count(q), pending);
	snprintf(q, sizeof(q), "SELECT count(*) FROM outbox_rejected WHERE participant = '%s'", id);
	assert_int_equal(count(q), refused);
	snprintf(q, sizeof(q), "SELECT rejected IS NOT NULL FROM participant WHERE id = '%s'", id);
	assert_int_equal(count(q), refused > 0);
}

/*
 * Acknowledgements on the packed outbox: a refused change leaves its entry
 * and waits on its own with the reason; an edit made while its field was
 * on the way is based on the version acknowledged; once something else of
 * the participant goes through, the refused change is sent again, unless a
 * newer edit of its field replaces it.
 */
static void ack_refusals_wait_and_retry(void **state)
{
	char id[SH_ID_LEN + 1];
	uint64_t seq;

	(void)state;
	make_participant(id, 2, "2026-01-15"); /* fnr, startdato, kommune, finansiering */
	seq = freeze_one();
	ok_set(id, "startdato", "2026-02-01"); /* made while the change-set is on the way */
	counted(id, 5, 0);
	ack(seq, (const struct sh_result[]){{"applied", 1, NULL, NULL}, {"applied", 2, NULL, NULL},
					    {"rejected", 0, NULL, "nei"}, {"applied", 3, NULL, NULL}}, 4, 3, 1);
	counted(id, 2, 1);
	assert_int_equal(count("SELECT base FROM outbox WHERE field = 'startdato'"), 2);
	assert_int_equal(count("SELECT version FROM field_value WHERE field = 'startdato'"), 2);
	assert_int_equal(count("SELECT version FROM field_value WHERE field = 'finansiering'"), 3);
	assert_int_equal(count("SELECT count(*) FROM outbox_rejected WHERE field = 'kommune' AND value = '0301' "
			       "AND reason = 'nei'"), 1);
	/* a change that cannot be paired with what was sent is refused whole */
	seq = freeze_one();
	{
		struct sc_ack_stats st;
		struct sh_reason why = {0};

		assert_int_equal(sc_apply_ack(r, seq, (const struct sh_result[]){{"applied", 4, NULL, NULL},
										 {"applied", 5, NULL, NULL}},
					      2, &st, &why), SH_ERR_PROTO);
		assert_non_null(strstr(why.text, "passer ikke"));
	}
	counted(id, 2, 1);
	/* startdato goes through: the refused kommune gets another chance */
	ack(seq, (const struct sh_result[]){{"applied", 4, NULL, NULL}}, 1, 1, 0);
	counted(id, 1, 0);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE changeset IS NULL AND field = 'kommune' "
			       "AND value = '0301' AND base = 0"), 1);
	/* refused again; then an edit of kommune replaces it before it is retried */
	seq = freeze_one();
	ack(seq, (const struct sh_result[]){{"rejected", 0, NULL, "nei igjen"}}, 1, 0, 1);
	counted(id, 1, 1);
	ok_set(id, "malgruppe", "1");
	seq = freeze_one();
	ok_set(id, "kommune", "1103");
	ack(seq, (const struct sh_result[]){{"applied", 5, NULL, NULL}}, 1, 1, 0);
	counted(id, 1, 0);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE field = 'kommune' AND value = '1103' "
			       "AND changeset IS NULL"), 1);
}

/*
 * While a change-set travels, the next are numbered and edits go on: an
 * acknowledgement stores its versions, and the unsent changes of other
 * participants wait as they were (their base untouched).
 */
static void ack_leaves_others_unsent(void **state)
{
	char a[SH_ID_LEN + 1], b[SH_ID_LEN + 1], q[200];
	uint64_t seq;

	(void)state;
	make_participant(a, 5, "2026-01-15");
	seq = freeze_one();
	make_participant(b, 6, "2026-01-16");
	ack(seq, (const struct sh_result[]){{"applied", 1, NULL, NULL}, {"applied", 2, NULL, NULL},
					    {"applied", 3, NULL, NULL}, {"applied", 4, NULL, NULL}}, 4, 4, 0);
	counted(a, 0, 0);
	counted(b, 4, 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM field_value WHERE participant = '%s' AND version > 0", a);
	assert_int_equal(count(q), 4);
	snprintf(q, sizeof(q), "SELECT count(*) FROM outbox WHERE participant = '%s' AND changeset IS NULL "
		 "AND base = 0", b);
	assert_int_equal(count(q), 4);
}

/*
 * A field refused twice (two edits, two change-sets) goes back as one
 * change when something else of the participant goes through: the later
 * value, on the first one's base.
 */
static void refused_twice_retried_once(void **state)
{
	char id[SH_ID_LEN + 1];
	uint64_t seq;

	(void)state;
	make_participant(id, 4, "2026-01-15");
	seq = freeze_one();
	ack(seq, (const struct sh_result[]){{"applied", 1, NULL, NULL}, {"applied", 2, NULL, NULL},
					    {"applied", 3, NULL, NULL}, {"applied", 4, NULL, NULL}}, 4, 4, 0);
	counted(id, 0, 0);
	ok_set(id, "malgruppe", "1");
	ack(freeze_one(), (const struct sh_result[]){{"rejected", 0, NULL, "første"}}, 1, 0, 1);
	ok_set(id, "malgruppe", "2");
	ack(freeze_one(), (const struct sh_result[]){{"rejected", 0, NULL, "andre"}}, 1, 0, 1);
	counted(id, 2, 2);
	assert_int_equal(count("SELECT count(*) FROM participant WHERE rejected = 'andre'"), 1);
	ok_set(id, "finansiering", "2");
	ack(freeze_one(), (const struct sh_result[]){{"applied", 5, NULL, NULL}}, 1, 1, 0);
	counted(id, 1, 0);
	assert_int_equal(count("SELECT count(*) FROM outbox WHERE changeset IS NULL AND field = 'malgruppe' "
			       "AND value = '2' AND base = 0"), 1);
}

/* The lookup of participant id as "state attempts next_try reason" and the participant's own lookup column. */
static void lookup_is(const char *id, const char *want)
{
	char q[256];
	char *got;

	snprintf(q, sizeof(q), "SELECT l.state || ' ' || l.attempts || ' ' || ifnull(l.next_try, '-') || ' ' || "
		 "ifnull(l.reason, '-') || ' ' || p.lookup FROM lookup l JOIN participant p ON p.id = l.participant "
		 "WHERE l.participant = '%s'", id);
	got = text_of(q);
	if (strcmp(got, want) != 0)
		fail_msg("lookup of %.8s: «%s», not «%s»", id, got, want);
	sh_free(got);
}

/*
 * Lookup states from the server: applied to a participant with that number
 * (the participant's own lookup state follows), the later of two for one
 * participant wins, another number is left alone; a message with one bad
 * state, or a state that is not a list, is refused whole.
 */
static void lookup_states_applied(void **state)
{
	char a[SH_ID_LEN + 1], b[SH_ID_LEN + 1], fa[12], fb[12], other[12], body[1024];
	size_t applied = 99;

	(void)state;
	make_participant(a, 21, "2026-01-15");
	make_participant(b, 22, "2026-01-15");
	tu_fnr(21, SH_GENDER_WOMAN, fa);
	tu_fnr(22, SH_GENDER_WOMAN, fb);
	tu_fnr(23, SH_GENDER_WOMAN, other);
	lookup_is(a, "venter 0 - - venter");
	snprintf(body, sizeof(body), "{\"states\":[[\"%s\",\"%s\",\"sendt\",1,0,\"\"],"
		 "[\"%s\",\"%s\",\"hentet\",2,1764000000000,\"\"],[\"%s\",\"%s\",\"feil\",3,5,\"nede\"]]}",
		 a, fa, a, fa, b, other);
	assert_int_equal(sc_apply_lookup_states(r, body, strlen(body), &applied), SH_OK);
	assert_int_equal(applied, 2); /* a's two; b's is for another number */
	lookup_is(a, "hentet 2 1764000000000 - hentet");
	lookup_is(b, "venter 0 - - venter");
	/* one bad state (an unknown state; an object with a state's members, not a list): nothing of the message */
	for (int k = 0; k < 2; k++) {
		char bad[256];

		if (k)
			snprintf(bad, sizeof(bad), "{\"p\":\"%s\",\"f\":\"%s\",\"s\":\"feil\",\"a\":1,\"n\":0,\"r\":\"\"}", a, fa);
		else
			snprintf(bad, sizeof(bad), "[\"%s\",\"%s\",\"ukjent\",1,0,\"\"]", a, fa);
		snprintf(body, sizeof(body), "{\"states\":[[\"%s\",\"%s\",\"feil\",1,0,\"nede\"],%s]}", b, fb, bad);
		assert_int_equal(sc_apply_lookup_states(r, body, strlen(body), &applied), SH_ERR_PROTO);
		assert_int_equal(applied, 0);
		lookup_is(b, "venter 0 - - venter");
	}
	/* a reason with what JSON escapes */
	snprintf(body, sizeof(body), "{\"states\":[[\"%s\",\"%s\",\"feil\",1,0,\"«nede» \\\"i dag\\\"\"]]}", b, fb);
	assert_int_equal(sc_apply_lookup_states(r, body, strlen(body), &applied), SH_OK);
	assert_int_equal(applied, 1);
	lookup_is(b, "feil 1 0 «nede» \"i dag\" feil");
}

/* A page's cursor and base go in with it; a replica of before the base is due everything after its cursor. */
static void cursor_and_base(void **state)
{
	static const char page_text[] =
		"{\"participants\":[[\"00112233445566778899aabbccddeeff\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7,"
		"\"0000000000001234\"]]]],\"conflicts\":[],\"next\":9,\"base\":4,\"more\":true,"
		"\"server_seq\":12}";
	struct sh_reason why = {{0}};
	struct sh_wire_doc doc;
	struct sh_pull_page page;
	size_t applied, kept;

	(void)state;
	assert_int_equal(sc_cursor(r), 0);
	assert_int_equal(sc_cursor_base(r), 0);
	assert_int_equal(sh_wire_page_decode(page_text, strlen(page_text), &doc, &page, &why), SH_OK);
	assert_int_equal(sc_apply_page(r, &page, &applied, &kept), SH_OK);
	sh_wire_page_free(&page);
	sh_wire_doc_free(&doc);
	assert_int_equal(applied, 1);
	full_again();
	{
		/* an acknowledgement that does not fit: refused, and FULL again */
		struct sc_ack_stats st;
		const struct sh_result one = {"applied", 4, NULL, NULL};

		assert_int_equal(sc_apply_ack(r, 999, &one, 1, &st, &why), SH_ERR_PROTO);
		full_again();
	}
	reopen();
	assert_int_equal(sc_cursor(r), 9);
	assert_int_equal(sc_cursor_base(r), 4);
	assert_int_equal(sh_db_exec(sc_replica_db(r), "DELETE FROM meta WHERE key = 'cursor_base'", NULL), SH_OK);
	assert_int_equal(sc_cursor(r), 9);
	assert_int_equal(sc_cursor_base(r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(file_and_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(draft_to_participant, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_input_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(discharge_and_utskrevet, setup, teardown),
		cmocka_unit_test_setup_teardown(overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(tiltak_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(lookups_follow_the_number, setup, teardown),
		cmocka_unit_test_setup_teardown(dependents_are_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(resolve_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_draft_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_freezes_whole_participants, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_freezes_a_change_set_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(ack_refusals_wait_and_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_twice_retried_once, setup, teardown),
		cmocka_unit_test_setup_teardown(ack_leaves_others_unsent, setup, teardown),
		cmocka_unit_test_setup_teardown(cursor_and_base, setup, teardown),
		cmocka_unit_test_setup_teardown(lookup_states_applied, setup, teardown),
	};
	int rc;

	dom = tu_domain();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_domain_free(dom);
	return rc;
}
