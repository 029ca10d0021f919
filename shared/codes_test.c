/* codes_test.c: the code-list loader, good files and every kind of bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "codes.h"

static struct sh_codelist *parse_ok(const char *text)
{
	struct sh_codelist *l = NULL;
	struct sh_reason why = {{0}};

	assert_int_equal(sh_codelist_parse("test", text, strlen(text), &l, &why), SH_OK);
	assert_non_null(l);
	return l;
}

static void parse_bad(const char *text, size_t len, int rc, const char *words)
{
	struct sh_codelist *l = (struct sh_codelist *)1;
	struct sh_reason why = {{0}};

	assert_int_equal(sh_codelist_parse("test", text, len, &l, &why), rc);
	assert_null(l);
	assert_non_null(strstr(why.text, words));
}

static void good_files(void **state)
{
	struct sh_codelist *l;

	(void)state;
	l = parse_ok("\xef\xbb\xbfkode;navn\r\n# kommentar\r\n2;To\r\n1;Én\r\n\r\n");
	assert_int_equal(sh_codelist_count(l), 2);
	assert_string_equal(sh_codelist_at(l, 0)->code, "2"); /* file order kept */
	assert_string_equal(sh_codelist_find(l, "1")->label, "Én");
	assert_null(sh_codelist_find(l, "3"));
	assert_null(sh_codelist_at(l, 2));
	assert_false(sh_codelist_has_parent(l));
	sh_codelist_free(l);

	l = parse_ok("kode;navn;forelder\n11;Heltid;10\n51;Graviditet;50");
	assert_true(sh_codelist_has_parent(l));
	assert_string_equal(sh_codelist_find(l, "51")->parent, "50");
	sh_codelist_free(l);

	l = parse_ok("kode;navn;fylkesnummer;fylkesnavn\n0301;Oslo;03;Oslo\n");
	assert_string_equal(sh_codelist_find(l, "0301")->label, "Oslo");
	assert_null(sh_codelist_find(l, "0301")->parent);
	sh_codelist_free(l);
}

static void bad_files(void **state)
{
	static const char nul[] = "kode;navn\n1;A\0B\n";
	char *big;

	(void)state;
	parse_bad("", 0, SH_ERR_CONFIG, "ingen koder");
	parse_bad("kode;navn\n", 10, SH_ERR_CONFIG, "ingen koder");
	parse_bad("code;name\n1;A\n", 14, SH_ERR_CONFIG, "kode;navn");
	parse_bad("kode;navn\n1;A\n1;B\n", 18, SH_ERR_CONFIG, "to ganger");
	parse_bad("kode;navn\n1\n", 12, SH_ERR_CONFIG, "linje 2");
	parse_bad("kode;navn\n1;\n", 13, SH_ERR_CONFIG, "navnet mangler");
	parse_bad("kode;navn\n;A\n", 13, SH_ERR_CONFIG, "ugyldig kode");
	parse_bad("kode;navn\nA B;A\n", 16, SH_ERR_CONFIG, "ugyldig kode");
	parse_bad("kode;navn\n12345678901234567;A\n", 30, SH_ERR_CONFIG, "ugyldig kode");
	parse_bad("kode;navn\n1;A\tB\n", 16, SH_ERR_CONFIG, "kontrolltegn");
	parse_bad("kode;navn\n1;\xff\xfe\n", 14, SH_ERR_CONFIG, "UTF-8");
	parse_bad(nul, sizeof(nul) - 1, SH_ERR_CONFIG, "UTF-8");
	parse_bad("kode;navn;forelder\n11;A\n", 24, SH_ERR_CONFIG, "for få kolonner");
	parse_bad("kode;navn;forelder\n11;A;\n", 25, SH_ERR_CONFIG, "forelder");
	big = malloc(SH_CODES_MAX_FILE + 2);
	memset(big, 'a', SH_CODES_MAX_FILE + 1);
	parse_bad(big, SH_CODES_MAX_FILE + 1, SH_ERR_TOO_BIG, "for stor");
	free(big);
}

static void too_many_entries(void **state)
{
	size_t cap = 16 + (SH_CODES_MAX_ENTRIES + 1) * 12;
	char *t = malloc(cap);
	size_t n = (size_t)snprintf(t, cap, "kode;navn\n");

	(void)state;
	for (int i = 0; i <= SH_CODES_MAX_ENTRIES; i++)
		n += (size_t)snprintf(t + n, cap - n, "%d;x\n", i);
	parse_bad(t, n, SH_ERR_TOO_BIG, "for mange");
	free(t);
}

static void out_of_memory(void **state)
{
	const char *text = "kode;navn\n1;A\n2;B\n";
	int ok = 0;

	(void)state;
	/* fail each allocation in turn: clean error, no leak (ASan checks) */
	for (long n = 0; n < 10; n++) {
		struct sh_codelist *l = NULL;
		struct sh_reason why;
		int rc;

		sh_alloc_fail_after(n);
		rc = sh_codelist_parse("test", text, strlen(text), &l, &why);
		sh_alloc_fail_after(-1);
		if (rc == SH_OK) {
			ok++;
			sh_codelist_free(l);
		} else {
			assert_int_equal(rc, SH_ERR_NOMEM);
			assert_null(l);
		}
	}
	assert_true(ok > 0);
}

static void real_lists(void **state)
{
	struct sh_codes *c;
	struct sh_reason why = {{0}};
	const char *dir = getenv("JSR_CODES_DIR");

	(void)state;
	assert_non_null(dir);
	assert_int_equal(sh_codes_new(&c), SH_OK);
	assert_int_equal(sh_codes_load_file(c, dir, "kommune", &why), SH_OK);
	assert_int_equal(sh_codes_load_file(c, dir, "land", &why), SH_OK);
	assert_int_equal(sh_codelist_count(sh_codes_get(c, "kommune")), 357);
	assert_string_equal(sh_codelist_find(sh_codes_get(c, "kommune"), "0301")->label, "Oslo");
	assert_string_equal(sh_codelist_find(sh_codes_get(c, "land"), "NOR")->label, "Norge");
	assert_true(sh_codelist_count(sh_codes_get(c, "land")) >= 249);
	/* reload replaces */
	assert_int_equal(sh_codes_load_file(c, dir, "kommune", &why), SH_OK);
	assert_int_equal(sh_codes_load_file(c, dir, "finnes_ikke", &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "finnes_ikke"));
	assert_null(sh_codes_get(c, "finnes_ikke"));
	sh_codes_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_files), cmocka_unit_test(bad_files),
		cmocka_unit_test(too_many_entries), cmocka_unit_test(out_of_memory),
		cmocka_unit_test(real_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
