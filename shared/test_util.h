/* test_util.h: helpers for the shared/ unit tests (header-only, tests only). */
#ifndef SH_TEST_UTIL_H
#define SH_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "fnr.h"
#include "participant.h"

/* Removes a test's temporary directory and all in it: 0, or -1 when it did not go. */
static inline int tu_rmtree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Test mode on, today pinned to 2026-11-26, code lists from the source tree. */
static inline struct sh_domain *tu_domain(void)
{
	struct sh_domain *d = NULL;
	struct sh_reason why = {{0}};

	setenv("JSR_TEST_MODE", "1", 1);
	setenv("JSR_TODAY", "2026-11-26", 1);
	sh_config_reset();
	if (sh_domain_load_default(&d, &why) != SH_OK)
		abort();
	return d;
}

/* A synthetic number of a woman (or a man), old rules, born 1970-2000. */
static inline void tu_fnr(unsigned seed, enum sh_gender g, char out[12])
{
	struct sh_rng rng = {seed};
	struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD, g, 1970, 2000};

	if (sh_fnr_generate(&rng, &spec, out) != SH_OK)
		abort();
}

/* Sets a field directly (no rules), aborting on failure. */
static inline void tu_set(struct sh_participant *p, enum sh_field_id f, const char *v)
{
	if (sh_participant_set(p, f, NULL, v) != SH_OK)
		abort();
}

/* The four mandatory fields. */
static inline void tu_mandatory(struct sh_participant *p, unsigned seed)
{
	char fnr[12];

	tu_fnr(seed, SH_GENDER_WOMAN, fnr);
	tu_set(p, SH_F_FNR, fnr);
	tu_set(p, SH_F_STARTDATO, "2026-01-15");
	tu_set(p, SH_F_KOMMUNE, "0301");
	tu_set(p, SH_F_FINANSIERING, "1");
}

/* Every field «Aktiv» needs. */
static inline void tu_complete(struct sh_participant *p, unsigned seed)
{
	static const struct {
		enum sh_field_id f;
		const char *v;
	} vals[] = {
		{SH_F_MALGRUPPE, "1"}, {SH_F_FODELAND, "SYR"}, {SH_F_STATSBORGERSKAP, "SYR"},
		{SH_F_ANKOMSTAR, "2016"}, {SH_F_INNVANDRINGSGRUNN, "3"}, {SH_F_SIVILSTAND, "2"},
		{SH_F_ANTALL_BARN, "2"}, {SH_F_ALDER_YNGSTE_BARN, "4"}, {SH_F_HOVEDINNTEKT, "4"},
		{SH_F_SKOLEAR, "6"}, {SH_F_UTDANNING, "1"}, {SH_F_ARBEIDSERFARING, "0"},
		{SH_F_LESER_MORSMAL, "j"}, {SH_F_NORSKNIVA_START, "A1"},
	};

	tu_mandatory(p, seed);
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++)
		tu_set(p, vals[i].f, vals[i].v);
}

#endif
