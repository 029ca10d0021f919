/*
 * autosave_loop.c: the crash test's child. Registers participants field by
 * field through the replica library, forever, printing one line per commit:
 *   NEW <id>                          a draft was committed
 *   SAVED <id> <field> <row> <value>  sc_set() returned «Lagret»
 * Every (participant, field) is written once, so after any number of
 * SIGKILLs each SAVED line must match exactly one stored value (and, for a
 * participant, exactly one outbox change). Usage: autosave_loop DIR SEED
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "fnr.h"
#include "replica.h"

static const char *const choices[][6] = {
	{"malgruppe", "1", "2", "3", "5", "9"}, {"fodeland", "SYR", "ERI", "AFG", "SOM", "UKR"},
	{"statsborgerskap", "SYR", "ERI", "AFG", "SOM", "XXA"}, {"ankomstar", "2010", "2015", "2016", "2020", "2023"},
	{"innvandringsgrunn", "1", "2", "3", "4", "9"}, {"sivilstand", "1", "2", "3", "4", "5"},
	{"hovedinntekt", "1", "2", "3", "4", "9"}, {"skolear", "0", "3", "6", "9", "12"},
	{"utdanning", "0", "1", "2", "3", "9"}, {"arbeidserfaring", "0", "1", "2", "3", "9"},
	{"leser_morsmal", "j", "n", "j", "n", "j"}, {"norskniva_start", "0", "A1", "A2", "B1", "B2"},
};

static int set(struct sc_replica *r, const char *id, const char *field, const char *row,
	       const char *value)
{
	struct sc_report rep;

	if (sc_set(r, id, field, row, value, &rep) != SH_OK || !rep.changed)
		return -1;
	printf("SAVED\t%s\t%s\t%s\t%s\n", id, field, row ? row : "", rep.value);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct sh_domain *d;
	struct sc_replica *r;
	struct sh_reason why;
	struct sh_rng rng;
	struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD, SH_GENDER_WOMAN, 1960, 2004};

	if (argc != 3)
		return 2;
	rng.s = strtoull(argv[2], NULL, 10);
	if (sh_config_init(NULL, NULL, &why) != SH_OK || sh_domain_load_default(&d, &why) != SH_OK ||
	    sc_replica_open(argv[1], d, &r, &why) != SH_OK) {
		fprintf(stderr, "autosave_loop: %s\n", why.text);
		return 1;
	}
	for (;;) {
		char id[SH_ID_LEN + 1], fnr[12], start[11];
		const char *values[SH_F_COUNT] = {0};
		struct sc_report rep;
		char row[SH_ID_LEN + 1];

		if (sc_participant_new(r, id) != SH_OK)
			return 1;
		printf("NEW\t%s\n", id);
		fflush(stdout);
		if (sh_fnr_generate(&rng, &spec, fnr) != SH_OK)
			return 1;
		snprintf(start, sizeof(start), "20%02u-%02u-%02u", 20 + sh_rng_below(&rng, 6),
			 1 + sh_rng_below(&rng, 12), 1 + sh_rng_below(&rng, 28));
		if (set(r, id, "fnr", NULL, fnr) || set(r, id, "startdato", NULL, start) ||
		    set(r, id, "kommune", NULL, "0301") || set(r, id, "finansiering", NULL, "1"))
			continue; /* e.g. a repeated number overlapping: next person */
		for (size_t i = 0; i < sizeof(choices) / sizeof(*choices); i++)
			(void)set(r, id, choices[i][0], NULL, choices[i][1 + sh_rng_below(&rng, 5)]);
		values[SH_F_TILTAK_TYPE] = "1";
		values[SH_F_TILTAK_FRA] = start;
		if (sc_tiltak_add(r, id, values, row, &rep) == SH_OK) {
			printf("SAVED\t%s\ttiltak.type\t%s\t1\nSAVED\t%s\ttiltak.fra\t%s\t%s\n", id, row,
			       id, row, start);
			fflush(stdout);
		}
	}
}
