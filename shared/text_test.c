/* text_test.c: UTF-8 validation edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

#define V(s) sh_utf8_valid(s, sizeof(s) - 1)

static void utf8(void **state)
{
	(void)state;
	assert_true(V(""));
	assert_true(V("abc"));
	assert_true(V("Bærum, Tromsø, Ålesund"));
	assert_true(V("\xf0\x9f\x98\x80"));    /* U+1F600 */
	assert_true(V("\xf4\x8f\xbf\xbf"));    /* U+10FFFF */
	assert_false(V("\xf4\x90\x80\x80"));   /* above U+10FFFF */
	assert_false(V("\xc0\xaf"));           /* overlong '/' */
	assert_false(V("\xe0\x80\xaf"));       /* overlong */
	assert_false(V("\xed\xa0\x80"));       /* surrogate */
	assert_false(V("\xc3"));               /* truncated */
	assert_false(V("\xe2\x82"));           /* truncated */
	assert_false(V("\x80"));               /* lone continuation */
	assert_false(V("\xff"));
	assert_false(V("a\xc3(b"));
	assert_int_equal(sh_utf8_chars("æøå", 6), 3);
}

/* Long ASCII runs are skipped in steps: a sequence at any offset, valid or not, is still judged. */
static void utf8_in_long_text(void **state)
{
	static const struct {
		const char *seq;
		bool ok;
	} cases[] = {{"\xc3\xb8", true},  {"\xf0\x9f\x98\x80", true}, {"\xc3", false},
		     {"\x80", false},      {"\xed\xa0\x80", false},    {"\xff", false}};
	char text[80];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = strlen(cases[c].seq);

		for (size_t at = 0; at + n <= 48; at++) {
			memset(text, 'a', sizeof(text));
			memcpy(text + at, cases[c].seq, n);
			/* the sequence in the middle, and at the very end */
			assert_int_equal(sh_utf8_valid(text, sizeof(text)), cases[c].ok);
			assert_int_equal(sh_utf8_valid(text, at + n), cases[c].ok);
		}
	}
	/* a truncated sequence cut by the length, after a long run */
	memset(text, 'a', sizeof(text));
	memcpy(text + 40, "\xc3\xb8", 2);
	assert_false(sh_utf8_valid(text, 41));
	assert_true(sh_utf8_valid(text, 42));
}

static void controls(void **state)
{
	(void)state;
	assert_false(sh_has_control("Kari Nordmann", 13));
	assert_true(sh_has_control("a\tb", 3));
	assert_true(sh_has_control("a\x7f", 2));
	assert_true(sh_has_control("a\xc2\x9f", 3));
	assert_false(sh_has_control("\xc2\xa0", 2)); /* no-break space is text */
}

/* FNV-1a's published 32-bit values. */
static void str_hash(void **state)
{
	(void)state;
	assert_int_equal(sh_str_hash(""), 0x811c9dc5u);
	assert_int_equal(sh_str_hash("a"), 0xe40c292cu);
	assert_int_equal(sh_str_hash("foobar"), 0xbf9cf968u);
}

/* As snprintf(dst, n, "%s", src): every length against every room, and NULL as "". */
static void str_copy(void **state)
{
	const char *src = "Søndre Land";
	char want[16], got[16];

	(void)state;
	for (size_t len = 0; len <= strlen(src); len++) {
		char s[16];

		memcpy(s, src, len);
		s[len] = '\0';
		for (size_t n = 1; n <= sizeof(got); n++) {
			memset(want, 'x', sizeof(want));
			memset(got, 'x', sizeof(got));
			snprintf(want, n, "%s", s);
			sh_str_copy(got, n, s);
			assert_memory_equal(got, want, sizeof(got));
		}
	}
	memset(got, 'x', sizeof(got));
	sh_str_copy(got, sizeof(got), NULL);
	assert_int_equal(got[0], '\0');
	assert_int_equal(got[1], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(utf8), cmocka_unit_test(utf8_in_long_text), cmocka_unit_test(controls), cmocka_unit_test(str_hash),
					   cmocka_unit_test(str_copy)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
