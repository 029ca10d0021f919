/* date_test.c: calendar arithmetic and strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "date.h"

static void roundtrip(void **state)
{
	(void)state;
	assert_int_equal(sh_date_days(1970, 1, 1), 0);
	assert_int_equal(sh_date_days(2000, 3, 1) - sh_date_days(2000, 2, 28), 2);
	assert_int_equal(sh_date_days(1900, 3, 1) - sh_date_days(1900, 2, 28), 1);
	for (int d = sh_date_days(1850, 1, 1); d < sh_date_days(2100, 1, 1); d++) {
		int y, m, dd, back;
		char out[11], want[32];

		sh_date_ymd(d, &y, &m, &dd);
		assert_int_equal(sh_date_days(y, m, dd), d);
		assert_true(dd >= 1 && dd <= sh_days_in_month(y, m));
		/* formatted as printf would, and parsed back */
		sh_date_format(d, out);
		snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, dd);
		assert_string_equal(out, want);
		assert_int_equal(sh_date_parse(out, &back), SH_OK);
		assert_int_equal(back, d);
		sh_date_format_no(d, out);
		snprintf(want, sizeof(want), "%02d.%02d.%04d", dd, m, y);
		assert_string_equal(out, want);
	}
}

static void parsing(void **state)
{
	int d;
	char out[11];

	(void)state;
	assert_int_equal(sh_date_parse("2024-02-29", &d), SH_OK);
	sh_date_format(d, out);
	assert_string_equal(out, "2024-02-29");
	sh_date_format_no(d, out);
	assert_string_equal(out, "29.02.2024");
	assert_int_equal(sh_date_parse("2026-02-29", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-02-30", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-13-01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-00-01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-01-00", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-1-01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026/01/01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse(" 2026-01-01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("2026-01-01 ", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("+026-01-01", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("1799-12-31", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse("", &d), SH_ERR_INVALID);
	assert_int_equal(sh_date_parse(NULL, &d), SH_ERR_INVALID);
	assert_false(sh_is_leap(1900));
	assert_true(sh_is_leap(2000));
	assert_int_equal(sh_days_in_month(2026, 13), 0);
}

static void today(void **state)
{
	(void)state;
	setenv("JSR_TODAY", "2026-11-26", 1);
	setenv("JSR_TEST_MODE", "1", 1);
	sh_config_reset();
	assert_int_equal(sh_today(), sh_date_days(2026, 11, 26));
	/* the pin is ignored outside test mode */
	setenv("JSR_TODAY", "2001-01-01", 1);
	setenv("JSR_TEST_MODE", "0", 1);
	sh_config_reset();
	assert_true(sh_today() > sh_date_days(2026, 1, 1));
	unsetenv("JSR_TODAY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip), cmocka_unit_test(parsing), cmocka_unit_test(today),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
