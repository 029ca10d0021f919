/*
 * bench_replica.c: the caseworker's replica on this machine.
 *  - autosave latency (sc_set: validate, value + outbox in one transaction,
 *    commit) as the product runs it (synchronous=FULL, checkpoints off the
 *    autosave path) and, for comparison, with SQLite's automatic
 *    checkpoint and with synchronous=NORMAL;
 *  - the overview (sc_list) of 20,000 participants, default filter, a
 *    status filter and a search.
 * The 20,000 are registered through sc_set with synchronous=OFF to save
 * time; the measured parts run on the product setting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "fnr.h"
#include "replica.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int count_row(const struct sc_row *row, void *arg)
{
	(void)row;
	(*(long *)arg)++;
	return 0;
}

static void latency(struct sc_replica *r, char ids[][SH_ID_LEN + 1], int nids, const char *mode,
		    int autocheckpoint, const char *label)
{
	enum { N = 2000 };
	static double t[N];
	char q[96];
	static const char *vals[] = {"1", "2", "3", "5", "9"};
	static int round;

	snprintf(q, sizeof(q), "PRAGMA synchronous=%s; PRAGMA wal_autocheckpoint=%d", mode,
		 autocheckpoint);
	if (sh_db_exec(sc_replica_db(r), q, NULL) != SH_OK)
		exit(1);
	for (int i = 0; i < N; i++) {
		struct sc_report rep;
		double t0 = now_ms();

		/* every call a real change (a value equal to the stored one writes nothing) */
		if (sc_set(r, ids[i % nids], "malgruppe", NULL, vals[(i + round) % 5], &rep) != SH_OK ||
		    !rep.changed)
			exit(1);
		t[i] = now_ms() - t0;
	}
	round++;
	qsort(t, N, sizeof(double), cmp);
	printf("autosave p50, %s | %.3f | ms\n", label, t[N / 2]);
	printf("autosave p99, %s | %.3f | ms\n", label, t[N * 99 / 100]);
	printf("autosave max, %s | %.3f | ms\n", label, t[N - 1]);
}

static void overview(struct sc_replica *r, const char *name, const struct sc_filter *f)
{
	double t[15];
	long rows = 0;

	for (int i = 0; i < 15; i++) {
		double t0 = now_ms();

		rows = 0;
		if (sc_list(r, f, count_row, &rows) != SH_OK)
			exit(1);
		t[i] = now_ms() - t0;
	}
	qsort(t, 15, sizeof(double), cmp);
	printf("overview of 20,000: %s (%ld rows) | %.1f | ms\n", name, rows, t[7]);
}

int main(void)
{
	enum { P = 20000 };
	static char ids[P][SH_ID_LEN + 1];
	char dir[] = "/tmp/jsr-bench-XXXXXX", cmd[64];
	struct sh_domain *d;
	struct sc_replica *r;
	struct sh_reason why;
	struct sh_rng rng = {99};
	struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD, SH_GENDER_WOMAN, 1960, 2004};
	double t0;

	if (!mkdtemp(dir) || sh_domain_load_default(&d, &why) != SH_OK ||
	    sc_replica_open(dir, d, &r, &why) != SH_OK) {
		fprintf(stderr, "bench_replica: %s\n", why.text);
		return 1;
	}
	(void)!sh_db_exec(sc_replica_db(r), "PRAGMA synchronous=OFF", NULL);
	t0 = now_ms();
	for (int i = 0; i < P; i++) {
		char fnr[12];
		struct sc_report rep;
		const char *status_fields[][2] = {{"sluttdato", "2026-06-01"}, {"hovedarsak", "60"}};

		if (sc_participant_new(r, ids[i]) != SH_OK)
			return 1;
		do { /* a repeated number would overlap: draw again */
			if (sh_fnr_generate(&rng, &spec, fnr) != SH_OK ||
			    sc_set(r, ids[i], "fnr", NULL, fnr, &rep) != SH_OK)
				return 1;
		} while (sc_set(r, ids[i], "startdato", NULL, "2026-01-15", &rep) != SH_OK);
		if (
		    sc_set(r, ids[i], "kommune", NULL, i % 3 ? "0301" : "1103", &rep) != SH_OK ||
		    sc_set(r, ids[i], "finansiering", NULL, "1", &rep) != SH_OK) {
			fprintf(stderr, "bench_replica: setup failed at %d: %s\n", i, rep.why.text);
			return 1;
		}
		if (i % 4 == 0) /* a quarter have ended */
			for (int k = 0; k < 2; k++)
				(void)!sc_set(r, ids[i], status_fields[k][0], NULL, status_fields[k][1], &rep);
	}
	printf("register 20,000 participants (setup, sync OFF) | %.1f | s\n", (now_ms() - t0) / 1e3);
	/* the setup's unsynced WAL goes to disk before anything is measured */
	(void)!sh_db_exec(sc_replica_db(r), "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
	latency(r, ids, P, "FULL", 0, "product (FULL, checkpoint when idle)");
	sc_replica_maintain(r);
	latency(r, ids, P, "FULL", 1000, "FULL + SQLite autocheckpoint");
	latency(r, ids, P, "NORMAL", 1000, "NORMAL + autocheckpoint (cmp.)");
	(void)!sh_db_exec(sc_replica_db(r), "PRAGMA synchronous=FULL", NULL);
	overview(r, "default", &(struct sc_filter){.status = -1});
	overview(r, "status avsluttet", &(struct sc_filter){.status = SH_STATUS_AVSLUTTET});
	overview(r, "search fnr prefix", &(struct sc_filter){.status = -1, .search = "0"});
	sc_replica_close(r);
	sh_domain_free(d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
