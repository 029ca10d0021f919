/* config_test.c: file parsing, environment overrides, errors. */
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

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/jsr-config-test-%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const struct sh_conf_key extra[] = {
	{"listen", SH_CONF_STRING, "127.0.0.1:8443", "where to listen"},
	{"workers", SH_CONF_INT, "4", "lookup workers"},
	{NULL, 0, NULL, NULL},
};

static void defaults_file_env(void **state)
{
	struct sh_reason why = {{0}};

	(void)state;
	unsetenv("JSR_TEST_MODE");
	unsetenv("JSR_WORKERS");
	write_file("# comment\n\n  workers = 8  \nwoman_rule = nei\nlisten=0.0.0.0:1\n");
	assert_int_equal(sh_config_init(extra, path, &why), SH_OK);
	assert_false(sh_config_test_mode());
	assert_false(sh_config_woman_rule());
	assert_int_equal(sh_config_int("workers"), 8);
	assert_string_equal(sh_config_str("listen"), "0.0.0.0:1");
	assert_null(sh_config_str("nope"));
	/* environment beats the file */
	setenv("JSR_WORKERS", "16", 1);
	setenv("JSR_TEST_MODE", "1", 1);
	assert_int_equal(sh_config_init(extra, path, &why), SH_OK);
	assert_int_equal(sh_config_int("workers"), 16);
	assert_true(sh_config_test_mode());
	unsetenv("JSR_WORKERS");
	/* explicit set */
	assert_int_equal(sh_config_set("workers", "2", &why), SH_OK);
	assert_int_equal(sh_config_int("workers"), 2);
	assert_int_equal(sh_config_set("nope", "2", &why), SH_ERR_CONFIG);
	unlink(path);
}

static void errors(void **state)
{
	struct sh_reason why = {{0}};

	(void)state;
	write_file("workers = 8\nwokers = 9\n");
	assert_int_equal(sh_config_init(extra, path, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "linje 2"));
	assert_non_null(strstr(why.text, "wokers"));
	write_file("workers = åtte\n");
	assert_int_equal(sh_config_init(extra, path, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "heltall"));
	write_file("test_mode = kanskje\n");
	assert_int_equal(sh_config_init(extra, path, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "ja eller nei"));
	write_file("bare tekst\n");
	assert_int_equal(sh_config_init(extra, path, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "nøkkel = verdi"));
	unlink(path);
	assert_int_equal(sh_config_init(extra, path, &why), SH_ERR_CONFIG);
	assert_non_null(strstr(why.text, "Kan ikke lese"));
	setenv("JSR_WORKERS", "mange", 1);
	assert_int_equal(sh_config_init(extra, NULL, &why), SH_ERR_CONFIG);
	unsetenv("JSR_WORKERS");
}

static void lines(const char *line, void *arg)
{
	(*(int *)arg)++;
	assert_non_null(strstr(line, "#"));
}

static void describe(void **state)
{
	struct sh_reason why = {{0}};
	int n = 0;

	(void)state;
	assert_int_equal(sh_config_init(extra, NULL, &why), SH_OK);
	sh_config_describe(lines, &n);
	assert_int_equal(n, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_file_env), cmocka_unit_test(errors),
		cmocka_unit_test(describe),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	sh_config_reset();
	return rc;
}
