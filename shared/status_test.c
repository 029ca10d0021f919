/* status_test.c: status_of() through a participant's life, and the discharge check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "status.h"
#include "test_util.h"

static struct sh_domain *dom;

static void life(void **state)
{
	struct sh_participant p;
	struct sh_missing m[SH_F_COUNT * 2];
	struct sh_reason why;
	size_t n;

	(void)state;
	sh_participant_init(&p);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_UTKAST);
	tu_set(&p, SH_F_KOMMUNE, "0301");
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_UTKAST);
	assert_int_equal(sh_discharge_check(dom, &p, m, 64, &n, &why), SH_ERR_RULE);
	assert_non_null(strstr(why.text, "utkast"));
	tu_mandatory(&p, 1);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_MANGLER);
	tu_complete(&p, 1);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_AKTIV);
	/* alder yngste barn is needed only with children */
	tu_set(&p, SH_F_ALDER_YNGSTE_BARN, NULL);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_MANGLER);
	tu_set(&p, SH_F_ANTALL_BARN, "0");
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_AKTIV);
	/* a Tiltak row with type and fra is complete; til is needed at discharge */
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TYPE, "r1", "1"), SH_OK);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_MANGLER);
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_FRA, "r1", "2026-02-01"), SH_OK);
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_AKTIV);

	tu_set(&p, SH_F_SLUTTDATO, "2026-10-01");
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_AVSLUTTET);
	/* once ended, hovedårsak is part of what is missing */
	n = sh_missing(dom, &p, SH_FOR_COMPLETE, m, 64);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].field, SH_F_HOVEDARSAK);

	assert_int_equal(sh_discharge_check(dom, &p, m, 64, &n, &why), SH_ERR_RULE);
	assert_int_equal(n, 4); /* tiltak til, hovedårsak, norsknivå slutt, norskprøve */
	assert_int_equal(m[0].field, SH_F_TILTAK_TIL);
	assert_string_equal(m[0].row, "r1");
	assert_int_equal(m[1].field, SH_F_HOVEDARSAK);
	assert_non_null(strstr(why.text, "4 felt mangler"));
	assert_non_null(strstr(why.text, "Norsknivå ved slutt"));

	tu_set(&p, SH_F_HOVEDARSAK, "50");
	assert_int_equal(sh_discharge_check(dom, &p, m, 64, &n, &why), SH_ERR_RULE);
	assert_int_equal(n, 4); /* now underårsak applies */
	assert_int_equal(m[1].field, SH_F_UNDERARSAK);
	tu_set(&p, SH_F_HOVEDARSAK, "60"); /* no sub-codes: underårsak does not apply */
	tu_set(&p, SH_F_NORSKNIVA_SLUTT, "B1");
	tu_set(&p, SH_F_NORSKPROVE, "B1");
	assert_int_equal(sh_participant_set(&p, SH_F_TILTAK_TIL, "r1", "2026-09-01"), SH_OK);
	assert_int_equal(sh_discharge_check(dom, &p, m, 64, &n, &why), SH_OK);
	assert_int_equal(n, 0);
	tu_set(&p, SH_F_UTSKREVET, "2026-10-02");
	assert_int_equal(sh_status_of(dom, &p), SH_STATUS_UTSKREVET);
	sh_participant_clear(&p);
}

static void missing_caps(void **state)
{
	struct sh_participant p;
	struct sh_missing m[2];

	(void)state;
	sh_participant_init(&p);
	tu_mandatory(&p, 2);
	/* more missing than room: the count is still right */
	assert_true(sh_missing(dom, &p, SH_FOR_COMPLETE, m, 2) > 2);
	assert_int_equal(m[0].field, SH_F_MALGRUPPE);
	sh_participant_clear(&p);
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(sh_status_label(SH_STATUS_MANGLER), "Mangler registreringer");
	assert_int_equal(sh_status_parse("utskrevet"), SH_STATUS_UTSKREVET);
	assert_int_equal(sh_status_parse("Mangler registreringer"), SH_STATUS_MANGLER);
	assert_int_equal(sh_status_parse("AKTIV"), SH_STATUS_AKTIV);
	assert_int_equal(sh_status_parse("x"), -1);
	assert_int_equal(sh_status_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(life), cmocka_unit_test(missing_caps), cmocka_unit_test(names),
	};
	int rc;

	dom = tu_domain();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_domain_free(dom);
	return rc;
}
