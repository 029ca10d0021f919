/* rules_test.c: cross-field rules, clearing rules and dependent fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rules.h"
#include "test_util.h"

static struct sh_domain *dom;

static int try(struct sh_participant *p, enum sh_field_id f, const char *row, const char *v,
	       enum sh_writer w, struct sh_effects *e)
{
	struct sh_assign a = {f, row, v, w, false};

	return sh_rules_check(dom, p, &a, e);
}

static void refused(struct sh_participant *p, enum sh_field_id f, const char *row,
		    const char *v, const char *words)
{
	struct sh_effects e;

	assert_int_not_equal(try(p, f, row, v, SH_WRITER_CASEWORKER, &e), SH_OK);
	if (!strstr(e.why.text, words))
		fail_msg("«%s» lacks «%s»", e.why.text, words);
}

static void accepted(struct sh_participant *p, enum sh_field_id f, const char *row,
		     const char *v)
{
	struct sh_assign again = {f, row, NULL, SH_WRITER_CASEWORKER, true};
	struct sh_effects e, e2;

	if (try(p, f, row, v, SH_WRITER_CASEWORKER, &e) != SH_OK)
		fail_msg("refused: %s", e.why.text);
	/* the server checks a value before the rules and gives them its normalised form: same effects */
	again.value = e.value;
	assert_int_equal(sh_rules_check(dom, p, &again, &e2), SH_OK);
	assert_string_equal(e2.value, e.value);
	assert_int_equal(e2.nclear, e.nclear);
	assert_memory_equal(e2.clear, e.clear, e.nclear * sizeof(*e.clear));
	assert_int_equal(sh_participant_set(p, f, row, e.value), SH_OK);
}

static void dates(void **state)
{
	struct sh_participant p;

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 1);
	refused(&p, SH_F_STARTDATO, NULL, "2026-11-27", "fram i tid");
	accepted(&p, SH_F_STARTDATO, NULL, "2026-11-26");
	refused(&p, SH_F_SLUTTDATO, NULL, "2026-11-25", "kan ikke være før Dato for oppstart");
	accepted(&p, SH_F_STARTDATO, NULL, "2026-03-01");
	refused(&p, SH_F_SLUTTDATO, NULL, "2026-12-01", "fram i tid");
	accepted(&p, SH_F_SLUTTDATO, NULL, "2026-03-01"); /* same day is fine */
	/* and the other way: startdato after the sluttdato */
	refused(&p, SH_F_STARTDATO, NULL, "2026-03-02", "Sluttdato (01.03.2026) kan ikke være før");
	sh_participant_clear(&p);
}

static void tiltak_rows(void **state)
{
	struct sh_participant p;
	struct sh_effects e;

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 2);
	accepted(&p, SH_F_TILTAK_FRA, "r1", "2026-02-01");
	refused(&p, SH_F_TILTAK_TIL, "r1", "2026-01-31", "kan ikke være før Tiltak fra dato");
	accepted(&p, SH_F_TILTAK_TIL, "r1", "2026-02-01");
	/* another row is judged on its own */
	accepted(&p, SH_F_TILTAK_TIL, "r2", "2025-01-01");
	refused(&p, SH_F_TILTAK_FRA, "r2", "2025-02-01", "kan ikke være før");
	/* a repeat field needs a row, a single field must not have one */
	assert_int_equal(try(&p, SH_F_TILTAK_TYPE, NULL, "1", SH_WRITER_CASEWORKER, &e),
			 SH_ERR_INVALID);
	sh_participant_clear(&p);
}

static void writers(void **state)
{
	struct sh_participant p;
	struct sh_effects e;

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 3);
	refused(&p, SH_F_NAVN, NULL, "Kari", "hentes fra Folkeregisteret");
	refused(&p, SH_F_KJONN, NULL, "kvinne", "Folkeregisteret");
	refused(&p, SH_F_UTSKREVET, NULL, "2026-05-01", "Utskriv og registrer ferdig");
	assert_int_equal(try(&p, SH_F_NAVN, NULL, "Kari Nordmann", SH_WRITER_SERVER, &e), SH_OK);
	assert_int_equal(try(&p, SH_F_UTSKREVET, NULL, "2026-05-01", SH_WRITER_ACTION, &e), SH_OK);
	assert_int_equal(try(&p, SH_F_STARTDATO, NULL, "2026-05-01", SH_WRITER_SERVER, &e),
			 SH_ERR_RULE);
	sh_participant_clear(&p);
}

static void clearing(void **state)
{
	struct sh_participant p;
	char fnr[12];

	(void)state;
	sh_participant_init(&p);
	/* a draft may be emptied again */
	tu_fnr(4, SH_GENDER_WOMAN, fnr);
	accepted(&p, SH_F_FNR, NULL, fnr);
	accepted(&p, SH_F_FNR, NULL, "");
	assert_null(p.v[SH_F_FNR]);
	/* a participant's mandatory fields cannot */
	tu_complete(&p, 4);
	refused(&p, SH_F_KOMMUNE, NULL, "", "obligatorisk og kan ikke tømmes");
	refused(&p, SH_F_FNR, NULL, NULL, "obligatorisk");
	accepted(&p, SH_F_MALGRUPPE, NULL, "");
	accepted(&p, SH_F_MALGRUPPE, NULL, "2");
	/* utskrevet: required fields can be corrected, not emptied */
	tu_set(&p, SH_F_UTSKREVET, "2026-06-01");
	accepted(&p, SH_F_MALGRUPPE, NULL, "3");
	refused(&p, SH_F_MALGRUPPE, NULL, "", "Gjenåpne");
	accepted(&p, SH_F_TILTAK_TYPE, "r9", "");  /* a row that does not exist */
	accepted(&p, SH_F_TILTAK_TYPE, "r1", "1");
	refused(&p, SH_F_TILTAK_TYPE, "r1", "", "Gjenåpne");
	sh_participant_clear(&p);
}

static void subcodes(void **state)
{
	struct sh_participant p;
	struct sh_effects e;

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 5);
	refused(&p, SH_F_UNDERARSAK, NULL, "51", "Velg Hovedårsak til avslutning før");
	accepted(&p, SH_F_HOVEDARSAK, NULL, "50");
	refused(&p, SH_F_UNDERARSAK, NULL, "11", "hører ikke til");
	refused(&p, SH_F_UNDERARSAK, NULL, "77", "ikke en kode");
	accepted(&p, SH_F_UNDERARSAK, NULL, "51");
	/* another hovedårsak makes the underårsak inapplicable: clear it too */
	assert_int_equal(try(&p, SH_F_HOVEDARSAK, NULL, "10", SH_WRITER_CASEWORKER, &e), SH_OK);
	assert_int_equal(e.nclear, 1);
	assert_int_equal(e.clear[0], SH_F_UNDERARSAK);
	/* the same hovedårsak again keeps it */
	assert_int_equal(try(&p, SH_F_HOVEDARSAK, NULL, "50", SH_WRITER_CASEWORKER, &e), SH_OK);
	assert_int_equal(e.nclear, 0);
	/* clearing hovedårsak clears underårsak */
	assert_int_equal(try(&p, SH_F_HOVEDARSAK, NULL, "", SH_WRITER_CASEWORKER, &e), SH_OK);
	assert_int_equal(e.nclear, 1);
	sh_participant_clear(&p);
}

static void children(void **state)
{
	struct sh_participant p;
	struct sh_effects e;

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 6);
	refused(&p, SH_F_ALDER_YNGSTE_BARN, NULL, "3", "bare fylles ut når Antall barn er mer enn 0");
	accepted(&p, SH_F_ANTALL_BARN, NULL, "0");
	refused(&p, SH_F_ALDER_YNGSTE_BARN, NULL, "3", "Antall barn");
	accepted(&p, SH_F_ANTALL_BARN, NULL, "2");
	accepted(&p, SH_F_ALDER_YNGSTE_BARN, NULL, "3");
	assert_int_equal(try(&p, SH_F_ANTALL_BARN, NULL, "0", SH_WRITER_CASEWORKER, &e), SH_OK);
	assert_int_equal(e.nclear, 1);
	assert_int_equal(e.clear[0], SH_F_ALDER_YNGSTE_BARN);
	assert_int_equal(try(&p, SH_F_ANTALL_BARN, NULL, "3", SH_WRITER_CASEWORKER, &e), SH_OK);
	assert_int_equal(e.nclear, 0);
	sh_participant_clear(&p);
}

static void arrival_year(void **state)
{
	struct sh_participant p;
	struct sh_fnr f;
	char y[16];

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 7);
	assert_int_equal(sh_fnr_parse(p.v[SH_F_FNR], true, &f), SH_OK);
	snprintf(y, sizeof(y), "%d", f.year - 1);
	refused(&p, SH_F_ANKOMSTAR, NULL, y, "fødselsåret");
	snprintf(y, sizeof(y), "%d", f.year);
	accepted(&p, SH_F_ANKOMSTAR, NULL, y);
	sh_participant_clear(&p);
}

static void overlap(void **state)
{
	(void)state;
	assert_true(sh_periods_overlap(10, 20, 20, 30));
	assert_false(sh_periods_overlap(10, 19, 20, 30));
	assert_true(sh_periods_overlap(10, -1, 100, 200));
	assert_false(sh_periods_overlap(300, -1, 100, 200));
	assert_true(sh_periods_overlap(150, -1, 100, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dates),     cmocka_unit_test(tiltak_rows),
		cmocka_unit_test(writers),   cmocka_unit_test(clearing),
		cmocka_unit_test(subcodes),  cmocka_unit_test(children),
		cmocka_unit_test(arrival_year), cmocka_unit_test(overlap),
	};
	int rc;

	dom = tu_domain();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_domain_free(dom);
	return rc;
}
