/* err_test.c: every error code has a stable name and both messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"

static void table(void **state)
{
	(void)state;
	for (int e = 0; e > -SH_ERR_COUNT; e--) {
		assert_non_null(sh_err_code(e));
		assert_true(strlen(sh_err_user(e)) > 3);
		assert_true(strlen(sh_err_log(e)) > 1);
		assert_int_equal(sh_err_from_code(sh_err_code(e)), e);
		for (int f = 0; f > e; f--)
			assert_string_not_equal(sh_err_code(f), sh_err_code(e));
	}
	/* out of range maps to internal, never NULL or out of bounds */
	assert_string_equal(sh_err_code(-999), "internal");
	assert_string_equal(sh_err_code(5), "internal");
	assert_int_equal(sh_err_from_code("nope"), SH_ERR_INTERNAL);
	assert_string_equal(sh_err_user(SH_ERR_DENIED), "Du har ikke tilgang til dette.");
}

static void reason(void **state)
{
	struct sh_reason r;
	char big[1000];

	(void)state;
	sh_reason_set(&r, "%s kan ikke være fram i tid.", "Sluttdato");
	assert_string_equal(r.text, "Sluttdato kan ikke være fram i tid.");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sh_reason_set(&r, "%s", big);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
	sh_reason_set(NULL, "ignored");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(table), cmocka_unit_test(reason)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
