/* freg_test.c: the Folkeregister answer parser and the synthetic register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "fnr.h"
#include "freg.h"
#include "test_util.h"

static void test_parse(void **state)
{
	static const struct {
		const char *body, *navn, *kjonn, *words;
	} cases[] = {
		{"{\"navn\":[{\"erGjeldende\":false,\"fornavn\":\"Gammel\",\"etternavn\":\"X\"},"
		 "{\"erGjeldende\":true,\"fornavn\":\"Kari\",\"mellomnavn\":\"Marie\",\"etternavn\":\"Nordmann\"}],"
		 "\"kjoenn\":[{\"erGjeldende\":true,\"kjoenn\":\"kvinne\"}],\"status\":[{\"erGjeldende\":true,"
		 "\"status\":\"bosatt\"}]}", "Kari Marie Nordmann", "kvinne", NULL},
		{"{\"navn\":[{\"erGjeldende\":true,\"fornavn\":\"Zoë\",\"etternavn\":\"Ødegård\"}]}", "Zoë Ødegård", "",
		 NULL},
		{"{\"navn\":[{\"erGjeldende\":true,\"fornavn\":\"A\",\"etternavn\":\"B\"},{\"erGjeldende\":true,"
		 "\"fornavn\":\"C\",\"etternavn\":\"D\"}]}", NULL, NULL, "flere gjeldende"},
		{"{\"navn\":[{\"erGjeldende\":false,\"fornavn\":\"A\",\"etternavn\":\"B\"}]}", NULL, NULL, "ingen gjeldende"},
		{"{\"kjoenn\":[{\"erGjeldende\":true,\"kjoenn\":\"kvinne\"}]}", NULL, NULL, "mangler navn"},
		{"{\"navn\":[{\"erGjeldende\":true,\"fornavn\":\"\",\"etternavn\":\"B\"}]}", NULL, NULL, "ugyldig"},
		{"{\"navn\":[{\"erGjeldende\":true,\"fornavn\":\"A\\u0007\",\"etternavn\":\"B\"}]}", NULL, NULL, "ugyldig"},
		{"{\"navn\":[{\"erGjeldende\":true,\"fornavn\":\"A\",\"etternavn\":\"B\"}],\"kjoenn\":[{\"erGjeldende\":"
		 "true,\"kjoenn\":\"x\"}]}", NULL, NULL, "Kjønnet"},
		{"{\"navn\":\"Kari\"}", NULL, NULL, "ikke en liste"},
		{"{\"navn\": [{\"erGjeldende\": true, \"fornavn\": ", NULL, NULL, "ikke gyldig JSON"},
		{"[]", NULL, NULL, "ikke gyldig JSON"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct ss_person p;
		struct sh_reason why = {{0}};
		int rc = ss_freg_parse(cases[i].body, strlen(cases[i].body), &p, &why);

		if (cases[i].navn) {
			if (rc != SH_OK)
				fail_msg("case %zu: %s", i, why.text);
			assert_string_equal(p.navn, cases[i].navn);
			assert_string_equal(p.kjonn, cases[i].kjonn);
		} else {
			assert_int_equal(rc, SH_ERR_PROTO);
			if (!strstr(why.text, cases[i].words))
				fail_msg("case %zu: «%s» lacks «%s»", i, why.text, cases[i].words);
			assert_string_equal(p.navn, "");
		}
	}
	{
		/* a body over the cap is refused unread */
		size_t n = SS_FREG_BODY_MAX + 1;
		char *big = calloc(1, n + 1);
		struct ss_person p;
		struct sh_reason why = {{0}};

		memset(big, ' ', n);
		assert_int_equal(ss_freg_parse(big, n, &p, &why), SH_ERR_PROTO);
		assert_non_null(strstr(why.text, "for stort"));
		free(big);
	}
}

static void test_error_code(void **state)
{
	char code[24];

	(void)state;
	ss_freg_error_code("{\"kode\":\"FREG-001\",\"melding\":\"x\"}", 33, code);
	assert_string_equal(code, "FREG-001");
	ss_freg_error_code("{\"kode\":\"<script>\"}", 19, code);
	assert_string_equal(code, "");
	ss_freg_error_code("nonsense", 8, code);
	assert_string_equal(code, "");
}

static void test_register(void **state)
{
	char dir[] = "/tmp/jsr-freg-test-XXXXXX", a[64], b[64], cmd[200];
	struct sh_reason why = {{0}};
	struct ss_register *r = NULL;
	size_t women = 0, rule2032 = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.csv", dir);
	snprintf(b, sizeof(b), "%s/b.csv", dir);
	assert_int_equal(ss_register_generate(sh_config_str("codes_dir"), a, 3000, 42, &why), SH_OK);
	assert_int_equal(ss_register_generate(sh_config_str("codes_dir"), b, 3000, 42, &why), SH_OK);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
	assert_int_equal(system(cmd), 0); /* the same seed, the same register */
	assert_int_equal(ss_register_load(a, &r, &why), SH_OK);
	assert_int_equal(ss_register_count(r), 3000);
	for (size_t i = 0; i < ss_register_count(r); i++) {
		const struct ss_person *p = ss_register_at(r, i);
		struct sh_fnr f;

		/* every number valid (synthetic), unique, found again; gender agrees with the number */
		assert_int_equal(sh_fnr_parse(p->fnr, true, &f), SH_OK);
		assert_true(f.synthetic);
		assert_ptr_equal(ss_register_find(r, p->fnr), p);
		if (i)
			assert_true(strcmp(ss_register_at(r, i - 1)->fnr, p->fnr) < 0);
		if (f.rule == SH_FNR_RULE_2032)
			rule2032++;
		else
			assert_string_equal(p->kjonn, f.gender == SH_GENDER_WOMAN ? "kvinne" : "mann");
		women += strcmp(p->kjonn, "kvinne") == 0;
		assert_true(strlen(p->navn) >= 3);
	}
	assert_true(women > 1500 && women < 2100);
	assert_true(rule2032 > 100);
	{
		/* a valid synthetic number the register does not hold is not found */
		struct sh_rng rng = {7};
		struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD, SH_GENDER_WOMAN, 0, 0};
		char absent[12];
		int tries = 0;

		do
			assert_int_equal(sh_fnr_generate(&rng, &spec, absent), SH_OK);
		while (ss_register_find(r, absent) && ++tries < 100);
		assert_null(ss_register_find(r, absent));
	}
	ss_register_free(r);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_error_code),
		cmocka_unit_test(test_register),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
