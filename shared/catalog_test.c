/* catalog_test.c: the catalogue table's integrity and per-type validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "test_util.h"

static struct sh_domain *dom;

static void table_integrity(void **state)
{
	int mandatory = 0;

	(void)state;
	for (int i = 0; i < SH_F_COUNT; i++) {
		const struct sh_field *f = sh_field(i);

		assert_int_equal(f->id, i);
		assert_non_null(f->name);
		assert_non_null(f->label);
		assert_ptr_equal(sh_field_by_name(f->name), f);
		assert_true((f->type == SH_FT_CODE) == (f->codes != NULL));
		if (f->codes)
			assert_non_null(sh_codes_get(dom->codes, f->codes));
		if (f->type == SH_FT_TEXT)
			assert_true(f->max > 0);
		assert_true(f->repeat == (f->page == SH_PAGE_TILTAK));
		mandatory += f->need == SH_NEED_MANDATORY;
		for (int j = 0; j < i; j++)
			assert_string_not_equal(sh_field(j)->name, f->name);
	}
	assert_int_equal(mandatory, 4);
	assert_int_equal(sh_field(SH_F_FNR)->need, SH_NEED_MANDATORY);
	assert_int_equal(sh_field(SH_F_STARTDATO)->need, SH_NEED_MANDATORY);
	assert_int_equal(sh_field(SH_F_KOMMUNE)->need, SH_NEED_MANDATORY);
	assert_int_equal(sh_field(SH_F_FINANSIERING)->need, SH_NEED_MANDATORY);
	assert_null(sh_field_by_name("finnes_ikke"));
	assert_null(sh_field_by_name(""));
	assert_null(sh_field_by_name("fn"));
	assert_null(sh_field_by_name("fnrx"));
	assert_null(sh_field_by_name("FNR"));
	assert_null(sh_field_by_name(NULL));
	assert_null(sh_field(SH_F_COUNT));
}

static int check(enum sh_field_id f, const char *v, char *norm, struct sh_reason *why)
{
	return sh_field_check_value(dom, sh_field(f), v, norm, why);
}

static void ok(enum sh_field_id f, const char *v, const char *want)
{
	char norm[SH_VALUE_MAX + 1];
	struct sh_reason why = {{0}};

	assert_int_equal(check(f, v, norm, &why), SH_OK);
	assert_string_equal(norm, want);
}

static void bad(enum sh_field_id f, const char *v, int rc, const char *words)
{
	char norm[SH_VALUE_MAX + 1];
	struct sh_reason why = {{0}};

	assert_int_equal(check(f, v, norm, &why), rc);
	if (!strstr(why.text, words))
		fail_msg("«%s» lacks «%s»", why.text, words);
	/* the message names the field */
	assert_non_null(strstr(why.text, sh_field(f)->label));
}

static void values(void **state)
{
	char fnr[12], man[12];
	char longtext[420];

	(void)state;
	tu_fnr(1, SH_GENDER_WOMAN, fnr);
	tu_fnr(2, SH_GENDER_MAN, man);
	ok(SH_F_FNR, fnr, fnr);
	bad(SH_F_FNR, "12345", SH_ERR_INVALID, "11 sifre");
	bad(SH_F_FNR, man, SH_ERR_RULE, "kvinner");
	ok(SH_F_STARTDATO, "2026-01-15", "2026-01-15");
	ok(SH_F_STARTDATO, "", "");
	ok(SH_F_STARTDATO, NULL, "");
	bad(SH_F_STARTDATO, "2026-02-30", SH_ERR_INVALID, "ikke en gyldig dato");
	bad(SH_F_STARTDATO, "2026-2-3", SH_ERR_INVALID, "ÅÅÅÅ-MM-DD");
	bad(SH_F_STARTDATO, "15.01.2026", SH_ERR_INVALID, "ikke en gyldig dato");
	bad(SH_F_STARTDATO, "1999-12-31", SH_ERR_INVALID, "mellom år 2000");
	bad(SH_F_STARTDATO, "2026-01-15'; DROP TABLE participant;--", SH_ERR_INVALID, "gyldig dato");
	ok(SH_F_KOMMUNE, "0301", "0301");
	bad(SH_F_KOMMUNE, "9999", SH_ERR_INVALID, "ikke en kode i listen kommune");
	bad(SH_F_KOMMUNE, "301", SH_ERR_INVALID, "kommune");
	bad(SH_F_FINANSIERING, "5", SH_ERR_INVALID, "finansiering");
	ok(SH_F_ANTALL_BARN, "007", "7");
	ok(SH_F_ANTALL_BARN, "0", "0");
	ok(SH_F_ANTALL_BARN, "000", "0");
	ok(SH_F_ANTALL_BARN, "20", "20");
	ok(SH_F_ANTALL_BARN, "010", "10");
	bad(SH_F_ANTALL_BARN, "-1", SH_ERR_INVALID, "0 til 20");
	bad(SH_F_ANTALL_BARN, "21", SH_ERR_INVALID, "0 til 20");
	bad(SH_F_ANTALL_BARN, "2.5", SH_ERR_INVALID, "helt tall");
	bad(SH_F_ANTALL_BARN, "99999999999999999999", SH_ERR_INVALID, "helt tall");
	ok(SH_F_ANKOMSTAR, "2026", "2026");
	bad(SH_F_ANKOMSTAR, "2027", SH_ERR_INVALID, "1940 til 2026");
	bad(SH_F_ANKOMSTAR, "1939", SH_ERR_INVALID, "1940");
	ok(SH_F_TILTAK_BESKRIVELSE, "  Språkkafé på biblioteket ", "Språkkafé på biblioteket");
	memset(longtext, 'x', 201);
	longtext[201] = '\0';
	bad(SH_F_TILTAK_BESKRIVELSE, longtext, SH_ERR_INVALID, "høyst 200 tegn");
	/* 200 characters of two bytes each are fine */
	for (int i = 0; i < 200; i++)
		memcpy(longtext + 2 * i, "\xc3\xa5", 2);
	longtext[400] = '\0';
	assert_int_equal(check(SH_F_TILTAK_BESKRIVELSE, longtext, (char[SH_VALUE_MAX + 1]){0},
			       &(struct sh_reason){{0}}), SH_OK);
	bad(SH_F_TILTAK_BESKRIVELSE, "ok\xc3(", SH_ERR_INVALID, "UTF-8");
	bad(SH_F_TILTAK_BESKRIVELSE, "a\nb", SH_ERR_INVALID, "kontrolltegn");
	bad(SH_F_TILTAK_BESKRIVELSE, "a\xc2\x85" "b", SH_ERR_INVALID, "kontrolltegn");
	ok(SH_F_TILTAK_BESKRIVELSE, "'; DROP TABLE x; --", "'; DROP TABLE x; --");
}

static void oversize(void **state)
{
	char big[SH_VALUE_MAX + 10];

	(void)state;
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bad(SH_F_ANTALL_BARN, big, SH_ERR_INVALID, "for lang");
}

static void display(void **state)
{
	(void)state;
	assert_string_equal(sh_field_display(dom, sh_field(SH_F_KOMMUNE), "0301"), "Oslo");
	assert_string_equal(sh_field_display(dom, sh_field(SH_F_KOMMUNE), "x"), "x");
	assert_string_equal(sh_field_display(dom, sh_field(SH_F_STARTDATO), "2026-01-01"), "2026-01-01");
	assert_string_equal(sh_field_display(dom, sh_field(SH_F_STARTDATO), NULL), "");
}

static void domain_errors(void **state)
{
	struct sh_domain *d = NULL;
	struct sh_reason why = {{0}};
	char dir[] = "/tmp/jsr-codes-XXXXXX", cmd[512];
	FILE *f;

	(void)state;
	assert_int_equal(sh_domain_load("/nonexistent", &d, &why), SH_ERR_CONFIG);
	assert_null(d);
	assert_non_null(strstr(why.text, "Kan ikke lese kodelisten"));
	/* an underårsak whose forelder is not a hovedårsak */
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp %s/*.csv %s/", getenv("JSR_CODES_DIR"), dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/underarsak.csv", dir);
	f = fopen(cmd, "a");
	assert_non_null(f);
	fputs("77;Ukjent forelder;70\n", f);
	fclose(f);
	assert_int_equal(sh_domain_load(dir, &d, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "forelderen 70"));
	/* a child list without a forelder column */
	f = fopen(cmd, "w");
	fputs("kode;navn\n11;A\n", f);
	fclose(f);
	assert_int_equal(sh_domain_load(dir, &d, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "mangler kolonnen forelder"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_integrity), cmocka_unit_test(values),
		cmocka_unit_test(oversize), cmocka_unit_test(display),
		cmocka_unit_test(domain_errors),
	};
	int rc;

	dom = tu_domain();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_domain_free(dom);
	return rc;
}
