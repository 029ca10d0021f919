/* seal_test.c: the boxes' base64: round trips, and the strictness jsr.v1 asks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "alloc.h"
#include "seal.h"

/* Every length from 0 to 300, random bytes: ours decodes what libsodium encodes and back. */
static void round_trip(void **state)
{
	unsigned char in[300], *out;
	char ref[420], *b64;
	size_t len;

	(void)state;
	for (size_t n = 0; n <= sizeof(in); n++) {
		randombytes_buf(in, n);
		sodium_bin2base64(ref, sizeof(ref), in, n, sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(sh_b64_encode(in, n, &b64), SH_OK);
		assert_string_equal(b64, ref);
		assert_int_equal(sh_b64_decode(ref, &out, &len), SH_OK);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
		sh_free(out);
		sh_free(b64);
	}
}

/* What libsodium's strict decoder refuses, ours refuses too. */
static void strict(void **state)
{
	static const char *const bad[] = {
		"A", "AA", "AAA", "AAAAA",     /* not a multiple of 4 */
		"A===", "====", "AA=A", "=AAA", /* padding where it cannot be */
		"AA==AAAA", "QQ==QQ==",         /* padding inside */
		" AAA", "AAA ", "    AAAA", "AAAA\n", "AA\nA", "AAAA    ", /* whitespace */
		"AA-_", "AA*A",                 /* outside the alphabet */
	};
	unsigned char *out, ref[16];
	size_t len, rlen;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_not_equal(sodium_base642bin(ref, sizeof(ref), bad[i], strlen(bad[i]), NULL, &rlen, NULL,
						       sodium_base64_VARIANT_ORIGINAL), 0);
		assert_int_equal(sh_b64_decode(bad[i], &out, &len), SH_ERR_INVALID);
		assert_null(out);
	}
	/* libsodium 1.0.18 takes this one; we do not */
	assert_int_equal(sh_b64_decode("AAA\x80", &out, &len), SH_ERR_INVALID);
	assert_int_equal(sh_b64_decode("", &out, &len), SH_OK);
	assert_int_equal(len, 0);
	sh_free(out);
	assert_int_equal(sh_b64_decode("QUI=", &out, &len), SH_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "AB", 2);
	sh_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(strict),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
