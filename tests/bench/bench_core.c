/*
 * bench_core.c: throughput of the domain core on this machine: fødselsnummer
 * parsing, per-field validation, status_of(). Prints table rows
 * "name | value | unit". Not a pass/fail test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "fnr.h"
#include "participant.h"
#include "rules.h"
#include "status.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	enum { N = 1000000 };
	static char nums[N][12];
	struct sh_rng rng = {1};
	struct sh_fnr_spec spec = {.synthetic = true};
	struct sh_domain *d;
	struct sh_reason why;
	struct sh_participant p;
	struct sh_effects e;
	double t;
	long ok = 0;

	setenv("JSR_TEST_MODE", "1", 1);
	if (sh_domain_load_default(&d, &why) != SH_OK) {
		fprintf(stderr, "%s\n", why.text);
		return 1;
	}
	for (int i = 0; i < N; i++)
		if (sh_fnr_generate(&rng, &spec, nums[i]) != SH_OK)
			return 1;
	t = now_s();
	for (int i = 0; i < N; i++) {
		struct sh_fnr f;

		ok += sh_fnr_parse(nums[i], true, &f) == SH_OK;
	}
	t = now_s() - t;
	printf("fnr parse (valid numbers) | %.1f | M/s\n", N / t / 1e6);

	sh_participant_init(&p);
	(void)!sh_participant_set(&p, SH_F_FNR, NULL, nums[0]);
	(void)!sh_participant_set(&p, SH_F_STARTDATO, NULL, "2026-01-15");
	(void)!sh_participant_set(&p, SH_F_KOMMUNE, NULL, "0301");
	(void)!sh_participant_set(&p, SH_F_FINANSIERING, NULL, "1");
	t = now_s();
	for (int i = 0; i < N; i++) {
		struct sh_assign a = {SH_F_KOMMUNE, NULL, (i & 1) ? "0301" : "1103",
				      SH_WRITER_CASEWORKER, false};

		ok += sh_rules_check(d, &p, &a, &e) == SH_OK;
	}
	t = now_s() - t;
	printf("rules check (kommune) | %.2f | M/s\n", N / t / 1e6);
	t = now_s();
	for (int i = 0; i < N; i++)
		ok += sh_status_of(d, &p) == SH_STATUS_MANGLER;
	t = now_s() - t;
	printf("status_of | %.2f | M/s\n", N / t / 1e6);
	sh_participant_clear(&p);
	sh_domain_free(d);
	return ok == 3L * N ? 0 : 1;
}
