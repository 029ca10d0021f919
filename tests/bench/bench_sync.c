/*
 * bench_sync.c: synchronisation on loopback against a real jsr-server, with
 * raw SQLite on the same machine for comparison.
 *  - push 10,000 new complete participants (Person og prosjekt, Bakgrunn
 *    and five Tiltak rows: 39 values each), sealed, to acknowledged;
 *  - the initial pull of all of them into a fresh replica;
 *  - 100,000 single-field edits spread over them, pushed.
 * The 10,000 are registered into the replica with synchronous=OFF to save
 * setup time; every measured part runs on the product settings. The
 * Folkeregister lookups the push asks for (10,000 at freg_rate) run to the
 * end before the pull, so pull and edits measure sync on an idle server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bench_util.h"
#include "config.h"
#include "db.h"
#include "fnr.h"
#include "replica.h"
#include "sync.h"

enum { PMAX = 10000, EDITS = 100000 };
static int P = PMAX; /* BENCH_P to try smaller */

static const char *const bg[][2] = {
	{"malgruppe", "1"}, {"fodeland", "SYR"}, {"statsborgerskap", "SYR"}, {"ankomstar", "2016"},
	{"innvandringsgrunn", "3"}, {"sivilstand", "2"}, {"antall_barn", "2"},
	{"alder_yngste_barn", "4"}, {"hovedinntekt", "4"}, {"skolear", "6"}, {"utdanning", "1"},
	{"arbeidserfaring", "0"}, {"leser_morsmal", "j"}, {"norskniva_start", "A1"},
	{"finansiering", "2"},
};

static struct sc_replica *replica(const struct sh_domain *d, const char *name, char *dir, size_t n)
{
	struct sc_replica *r;
	struct sh_reason why;

	snprintf(dir, n, "/tmp/jsr-bench-%s-XXXXXX", name);
	if (!mkdtemp(dir) || sc_replica_open(dir, d, &r, &why) != SH_OK) {
		fprintf(stderr, "bench_sync: replica: %s\n", why.text);
		exit(1);
	}
	return r;
}

static void login(struct sc_replica *r, const struct bench_server *s)
{
	struct sc_sync_opts o = {.mode = SC_SYNC_LOGIN, .url = s->url, .server_key = s->fpr,
				 .user = "kari", .password = "blå-fjord-syv-ugler-benk", .timeout_s = 30};
	struct sc_sync_result res;

	if (sc_sync_run(r, &o, &res) != SH_OK || res.status != SC_SYNC_OK) {
		fprintf(stderr, "bench_sync: login: %s\n", res.why.text);
		exit(1);
	}
}

/* One sync, the part it measures named for bench_perf. */
static void sync_once(const char *part, struct sc_replica *r, struct sc_sync_result *res)
{
	struct sc_sync_opts o = {.mode = SC_SYNC_ONCE, .timeout_s = 600};
	int rc;

	bench_perf(part, 1);
	rc = sc_sync_run(r, &o, res);
	bench_perf(part, 0);
	if (rc != SH_OK || res->status != SC_SYNC_OK) {
		fprintf(stderr, "bench_sync: sync: %s\n", res->why.text);
		exit(1);
	}
}

static void populate(struct sc_replica *r, char ids[][SH_ID_LEN + 1])
{
	struct sh_rng rng = {5};
	struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD, SH_GENDER_WOMAN, 1960, 2004};
	struct sc_report rep;

	(void)!sh_db_exec(sc_replica_db(r), "PRAGMA synchronous=OFF", NULL);
	for (int i = 0; i < P; i++) {
		char fnr[12];

		if (sc_participant_new(r, ids[i]) != SH_OK)
			exit(1);
		do {
			if (sh_fnr_generate(&rng, &spec, fnr) != SH_OK ||
			    sc_set(r, ids[i], "fnr", NULL, fnr, &rep) != SH_OK)
				exit(1);
		} while (sc_set(r, ids[i], "startdato", NULL, "2026-01-15", &rep) != SH_OK);
		if (sc_set(r, ids[i], "kommune", NULL, "0301", &rep) != SH_OK)
			exit(1);
		for (size_t k = 0; k < sizeof(bg) / sizeof(*bg); k++)
			if (sc_set(r, ids[i], bg[k][0], NULL, bg[k][1], &rep) != SH_OK)
				exit(1);
		if (i % 500 == 499)
			sc_replica_maintain(r);
		for (int t = 0; t < 5; t++) {
			const char *v[SH_F_COUNT] = {0};
			char row[SH_ID_LEN + 1];

			v[SH_F_TILTAK_TYPE] = "1";
			v[SH_F_TILTAK_FRA] = "2026-02-01";
			v[SH_F_TILTAK_TIL] = "2026-05-01";
			v[SH_F_TILTAK_BESKRIVELSE] = "Norskkurs";
			if (sc_tiltak_add(r, ids[i], v, row, &rep) != SH_OK)
				exit(1);
		}
	}
	(void)!sh_db_exec(sc_replica_db(r), "PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE)", NULL);
}

/*
 * The push asks the Folkeregister about every new number; those lookups are
 * drained before the next part, so each part measures sync alone (the
 * drain is a figure of its own). Seconds, or -1 when it did not finish.
 */
static double drain_lookups(const struct bench_server *s)
{
	char path[320];
	sqlite3 *db;
	double t0 = bench_now_ms(), done = -1;

	snprintf(path, sizeof(path), "%s/srv/store.db", s->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	while (bench_now_ms() - t0 < 300e3) {
		sqlite3_stmt *st;
		long pending = -1;

		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM lookup_job WHERE state = 'pending'", -1, &st,
				       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			pending = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (pending == 0) {
			done = (bench_now_ms() - t0) / 1000.0;
			break;
		}
		usleep(100 * 1000);
	}
	sqlite3_close(db);
	return done;
}

static long outbox_count(struct sc_replica *r)
{
	sqlite3_stmt *st;
	long n = 0;

	if (sqlite3_prepare_v2(sc_replica_db(r), "SELECT coalesce(sum(n), 0) FROM outbox_entry", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A scratch database in a new directory (dir) with `schema`; NULL if it cannot be made. */
static sqlite3 *raw_db(char *dir, const char *schema)
{
	char path[64];
	struct sh_reason why;
	sqlite3 *db;

	if (!mkdtemp(dir))
		return NULL;
	snprintf(path, sizeof(path), "%s/raw.db", dir);
	if (sh_db_open(path, &db, &why) != SH_OK)
		return NULL;
	(void)!sh_db_exec(db, schema, NULL);
	return db;
}

static void raw_db_drop(sqlite3 *db, const char *dir)
{
	char cmd[64];

	sqlite3_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* Raw SQLite: the same number of rows upserted into a field_value-like table, and read back. */
static void raw_sqlite(long rows)
{
	char dir[] = "/tmp/jsr-bench-raw-XXXXXX";
	sqlite3 *db = raw_db(dir, "CREATE TABLE fv(p TEXT, f TEXT, r TEXT, v TEXT, ver INTEGER, "
				  "PRIMARY KEY (p, f, r)) WITHOUT ROWID");
	sqlite3_stmt *st;
	double t;
	long got = 0;

	if (!db)
		return;
	t = bench_now_ms();
	(void)!sh_db_exec(db, "BEGIN", NULL);
	sqlite3_prepare_v2(db, "INSERT INTO fv VALUES (?1, ?2, '', 'verdi', ?3) ON CONFLICT DO UPDATE "
			       "SET v = excluded.v, ver = excluded.ver", -1, &st, NULL);
	for (long i = 0; i < rows; i++) {
		char p[40], f[16];

		snprintf(p, sizeof(p), "%032lx", i / 39);
		snprintf(f, sizeof(f), "felt%ld", i % 39);
		sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, f, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, i);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	(void)!sh_db_exec(db, "COMMIT", NULL);
	t = bench_now_ms() - t;
	printf("raw SQLite: upsert %ld rows, one transaction | %.0f | k rows/s\n", rows, rows / t);
	t = bench_now_ms();
	sqlite3_prepare_v2(db, "SELECT p, f, r, v, ver FROM fv ORDER BY ver", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW)
		got += sqlite3_column_bytes(st, 3) > 0;
	sqlite3_finalize(st);
	t = bench_now_ms() - t;
	printf("raw SQLite: read %ld rows in version order | %.0f | ms\n", got, t);
	raw_db_drop(db, dir);
}

enum { RAW_RECORD = 39 * 90 }; /* bytes of a packed participant, about what the replica's records hold */

/*
 * Writes each participant with write(), 130 participants a transaction as
 * the push commits them; finalizes st. The milliseconds it took.
 */
static double per_participant(sqlite3 *db, long participants, sqlite3_stmt *st,
			      void (*write)(sqlite3_stmt *st, const char *id, long p, void *arg), void *arg)
{
	double t = bench_now_ms();

	for (long p = 0; p < participants; p++) {
		char id[40];

		if (p % 130 == 0)
			(void)!sh_db_exec(db, "BEGIN", NULL);
		snprintf(id, sizeof(id), "%032lx", (unsigned long)p * 2654435761u);
		write(st, id, p, arg);
		if (p % 130 == 129 || p == participants - 1)
			(void)!sh_db_exec(db, "COMMIT", NULL);
	}
	sqlite3_finalize(st);
	return bench_now_ms() - t;
}

static void step_reset(sqlite3_stmt *st)
{
	sqlite3_step(st);
	sqlite3_reset(st);
}

/* 39 values of a participant, a row each; *arg counts them (the version). */
static void values_of(sqlite3_stmt *st, const char *id, long p, void *arg)
{
	long *ver = arg;
	char f[16];

	(void)p;
	for (int k = 0; k < 39; k++) {
		snprintf(f, sizeof(f), "felt%d", k);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, f, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, ++*ver);
		step_reset(st);
	}
}

/* The same as one packed row (arg: RAW_RECORD bytes). */
static void record_of(sqlite3_stmt *st, const char *id, long p, void *arg)
{
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, p);
	sqlite3_bind_blob(st, 3, arg, RAW_RECORD, SQLITE_STATIC);
	step_reset(st);
}

/*
 * Raw SQLite in the store's two shapes, 130 participants of 39 values per
 * transaction as the push commits them: one row per value (the server's
 * field_value before migration 005: nine columns and the pull index), then
 * the same values packed as one row per participant (participant.vals
 * since). The floor each can not go below.
 */
static void raw_store_shape(long participants)
{
	char dir[] = "/tmp/jsr-bench-raw-XXXXXX", blob[RAW_RECORD];
	sqlite3 *db = raw_db(dir, "CREATE TABLE fv(participant TEXT, field TEXT, row TEXT, value TEXT, hlc INTEGER, "
				  "device TEXT, author TEXT, version INTEGER, kommune TEXT, "
				  "PRIMARY KEY (participant, field, row)) WITHOUT ROWID;"
				  "CREATE INDEX fv_pull ON fv(kommune, version);"
				  "CREATE TABLE rec(participant TEXT PRIMARY KEY, kommune TEXT, version INTEGER, vals BLOB);"
				  "CREATE INDEX rec_pull ON rec(kommune, version)");
	sqlite3_stmt *st;
	double t;
	long ver = 0;

	if (!db)
		return;
	sqlite3_prepare_v2(db, "INSERT INTO fv VALUES (?1, ?2, '', 'en verdi', ?3, "
			       "'0123456789abcdef0123456789abcdef', 'kari.nordmann', ?3, '0301') ON CONFLICT DO UPDATE "
			       "SET value = excluded.value, hlc = excluded.hlc, version = excluded.version", -1, &st, NULL);
	t = per_participant(db, participants, st, values_of, &ver);
	printf("raw SQLite, one row per value as the store was (pull index), 130 participants a transaction: upsert %ld rows "
	       "| %.0f | k rows/s\n", ver, ver / t);
	memset(blob, 'x', sizeof(blob));
	sqlite3_prepare_v2(db, "INSERT INTO rec VALUES (?1, '0301', ?2, ?3) ON CONFLICT DO UPDATE "
			       "SET version = excluded.version, vals = excluded.vals", -1, &st, NULL);
	t = per_participant(db, participants, st, record_of, blob);
	printf("raw SQLite, the same values as one %zu-byte row per participant, as the store is: upsert %ld rows | %.0f | ms\n",
	       sizeof(blob), participants, t);
	raw_db_drop(db, dir);
}

static void push_share(const struct sc_sync_result *res)
{
	printf("  client share: build+seal %.0f ms, apply acks %.0f ms | %.0f | ms\n", res->t_build,
	       res->t_ack, res->t_build + res->t_ack);
}

/* CPU spent by each side during one sync_once (see bench_util.h). */
struct cpu {
	double self, server;
};

static struct cpu cpu_now(const struct bench_server *s)
{
	return (struct cpu){bench_self_cpu_ms(), bench_server_cpu_ms(s)};
}

static void cpu_share(const struct bench_server *s, struct cpu before)
{
	struct cpu now = cpu_now(s);

	printf("  CPU: client %.0f ms, server %.0f ms | %.0f | ms\n", now.self - before.self,
	       now.server - before.server, now.self - before.self + now.server - before.server);
}

int main(int argc, char **argv)
{
	static char ids[PMAX][SH_ID_LEN + 1];
	const char *bin = argc > 1 ? argv[1] : getenv("JSR_BIN");
	struct bench_server s;
	struct sh_domain *d;
	struct sh_reason why;
	struct sc_replica *a, *b;
	struct sc_sync_result res;
	char da[64], db_[64], cmd[200];
	long values;
	struct cpu c0;

	if (sodium_init() < 0)
		return 1;
	sh_alloc_hook_cjson(); /* as jsr does */
	if (getenv("BENCH_P"))
		P = (int)strtol(getenv("BENCH_P"), NULL, 10);
	if (P < 1 || P > PMAX)
		P = PMAX;
	setenv("JSR_PASSWORD_STRENGTH", "min", 1);
	setenv("JSR_LOG_LEVEL", getenv("BENCH_LOG") ? getenv("BENCH_LOG") : "error", 1);
	if (!bin || sh_config_init(NULL, NULL, &why) != SH_OK || sh_domain_load_default(&d, &why) != SH_OK ||
	    bench_server_start(&s, bin) != 0) {
		fprintf(stderr, "bench_sync: set-up failed (JSR_BIN?)\n");
		return 1;
	}
	a = replica(d, "a", da, sizeof(da));
	login(a, &s);
	populate(a, ids);
	values = outbox_count(a);
	c0 = cpu_now(&s);
	sync_once("push", a, &res);
	printf("push %d new participants (%ld values), sealed, to acknowledged | %.0f | ms\n", P, values,
	       res.push_ms);
	printf("  ... that is | %.0f | k changes/s\n", (double)values / res.push_ms);
	push_share(&res);
	cpu_share(&s, c0);
	printf("  then: the server's lookups of the new numbers done after | %.1f | s\n",
	       drain_lookups(&s));

	b = replica(d, "b", db_, sizeof(db_));
	login(b, &s);
	c0 = cpu_now(&s);
	sync_once("pull", b, &res);
	printf("initial pull of them into a fresh replica (%zu values, %zu pages) | %.0f | ms\n",
	       res.pulled, res.pages, res.pull_ms);
	printf("  client share: open+decode %.0f ms, apply %.0f ms | %.0f | ms\n", res.t_decode,
	       res.t_apply, res.t_decode + res.t_apply);
	cpu_share(&s, c0);

	{
		/* ten fields of every participant, so no two edits coalesce */
		static const char *const fields[] = {"malgruppe", "sivilstand", "skolear", "utdanning",
						     "arbeidserfaring", "hovedinntekt", "innvandringsgrunn",
						     "fodeland", "norskniva_start", "leser_morsmal"};
		static const char *const vals[][2] = {{"2", "3"}, {"1", "3"}, {"9", "10"}, {"2", "3"},
						      {"1", "2"}, {"1", "2"}, {"1", "2"}, {"ERI", "AFG"},
						      {"A2", "B1"}, {"n", "j"}};
		struct sc_report rep;

		(void)!sh_db_exec(sc_replica_db(a), "PRAGMA synchronous=OFF", NULL);
		for (int i = 0; i < EDITS; i++) {
			int f = (i / P) % 10;

			if (sc_set(a, ids[i % P], fields[f], NULL, vals[f][(i / P / 10) % 2], &rep) != SH_OK ||
			    !rep.changed)
				return 1;
			if (i % 5000 == 4999)
				sc_replica_maintain(a);
		}
		(void)!sh_db_exec(sc_replica_db(a), "PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE)",
				  NULL);
	}
	values = outbox_count(a);
	c0 = cpu_now(&s);
	sync_once("edits", a, &res);
	printf("push %d single-field edits (%ld changes) | %.0f | ms\n", EDITS, values, res.push_ms);
	printf("  ... that is | %.0f | k changes/s\n", (double)values / res.push_ms);
	push_share(&res);
	cpu_share(&s, c0);
	raw_sqlite((long)P * 39);
	raw_store_shape(P);
	sc_replica_close(a);
	sc_replica_close(b);
	bench_server_stop(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", da, db_);
	(void)!system(cmd);
	sh_domain_free(d);
	return 0;
}
