/* totp_test.c: RFC 6238 appendix B vectors (SHA-1, last 6 digits), base32, replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "totp.h"

static void rfc6238(void **state)
{
	static const struct {
		uint64_t t;
		const char *code;
	} v[] = {{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"},
		 {1234567890, "005924"}, {2000000000, "279037"}, {20000000000ULL, "353130"}};
	char secret[64], code[7];

	(void)state;
	sh_base32_encode((const unsigned char *)"12345678901234567890", 20, secret);
	assert_string_equal(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		assert_int_equal(sh_totp_code(secret, v[i].t / 30, code), SH_OK);
		assert_string_equal(code, v[i].code);
	}
}

static void verify_window_and_replay(void **state)
{
	const char *secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
	uint64_t step;

	(void)state;
	assert_true(sh_totp_verify(secret, "081804", 1111111109, 1, 0, &step));
	assert_int_equal(step, 1111111109 / 30);
	/* a step late or early is fine, two are not */
	assert_true(sh_totp_verify(secret, "081804", 1111111109 + 30, 1, 0, &step));
	assert_false(sh_totp_verify(secret, "081804", 1111111109 + 61, 1, 0, &step));
	/* used once: not again */
	assert_false(sh_totp_verify(secret, "081804", 1111111109, 1, 1111111109 / 30, &step));
	assert_false(sh_totp_verify(secret, "08180", 1111111109, 1, 0, &step));
	assert_false(sh_totp_verify(secret, "08180x", 1111111109, 1, 0, &step));
	assert_false(sh_totp_verify(secret, NULL, 1111111109, 1, 0, &step));
	assert_false(sh_totp_verify("!!", "081804", 1111111109, 1, 0, &step));
}

static void base32_and_uri(void **state)
{
	unsigned char out[32];
	char s[SH_TOTP_SECRET_LEN + 1], *uri;

	(void)state;
	assert_int_equal(sh_base32_decode("MZXW6YTBOI", out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(sh_base32_decode("mzxw6ytboi", out, sizeof(out)), 6);
	assert_int_equal(sh_base32_decode("MZXW1", out, sizeof(out)), -1);
	sh_totp_secret_new(s);
	assert_int_equal(strlen(s), 32);
	assert_int_equal(sh_base32_decode(s, out, sizeof(out)), 20);
	uri = sh_totp_uri("Jobbsjansen", "kari nordmann", "ABC");
	assert_string_equal(uri, "otpauth://totp/Jobbsjansen:kari%20nordmann?secret=ABC&issuer=Jobbsjansen"
				 "&algorithm=SHA1&digits=6&period=30");
	sh_free(uri);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc6238), cmocka_unit_test(verify_window_and_replay),
		cmocka_unit_test(base32_and_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
