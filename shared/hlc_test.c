/* hlc_test.c: hybrid logical clock: monotonic, merge, drift guard, codec, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hlc.h"

static uint64_t fake_ms;
static uint64_t fake_now(void) { return fake_ms; }

static void monotonic(void **state)
{
	struct sh_hlc c = {.now_ms = fake_now};
	uint64_t a, b;

	(void)state;
	fake_ms = 1000;
	a = sh_hlc_now(&c);
	assert_int_equal(sh_hlc_ms(a), 1000);
	assert_int_equal(sh_hlc_counter(a), 0);
	b = sh_hlc_now(&c); /* same millisecond: counter */
	assert_int_equal(sh_hlc_ms(b), 1000);
	assert_int_equal(sh_hlc_counter(b), 1);
	fake_ms = 500; /* wall clock goes backwards: still increasing */
	a = sh_hlc_now(&c);
	assert_true(a > b);
	assert_int_equal(sh_hlc_ms(a), 1000);
	fake_ms = 2000;
	b = sh_hlc_now(&c);
	assert_int_equal(b, sh_hlc_pack(2000, 0));
}

static void counter_overflow(void **state)
{
	struct sh_hlc c = {.now_ms = fake_now};
	uint64_t prev = 0, h = 0;

	(void)state;
	fake_ms = 5000;
	for (int i = 0; i < 70000; i++) {
		h = sh_hlc_now(&c);
		assert_true(h > prev);
		prev = h;
	}
	/* 65536 values per millisecond, then it borrows the next one */
	assert_int_equal(sh_hlc_ms(h), 5001);
}

static void receive(void **state)
{
	struct sh_hlc c = {.now_ms = fake_now, .max_drift_ms = 1000};
	uint64_t out, local;

	(void)state;
	fake_ms = 10000;
	local = sh_hlc_now(&c);
	/* remote ahead but within drift: we move past it */
	assert_int_equal(sh_hlc_recv(&c, sh_hlc_pack(10500, 7), &out), SH_OK);
	assert_int_equal(out, sh_hlc_pack(10500, 8));
	assert_true(sh_hlc_now(&c) > out);
	/* remote behind: our clock still moves */
	assert_int_equal(sh_hlc_recv(&c, sh_hlc_pack(100, 0), &out), SH_OK);
	assert_true(out > local);
	/* too far ahead: refused, clock unchanged */
	local = c.last;
	assert_int_equal(sh_hlc_recv(&c, sh_hlc_pack(11001, 0), &out), SH_ERR_CLOCK);
	assert_int_equal(out, 0);
	assert_int_equal(c.last, local);
	assert_int_equal(sh_hlc_recv(&c, sh_hlc_pack(11000, 0), &out), SH_OK);
	/* physical clock ahead of everything wins with counter 0 */
	fake_ms = 20000;
	assert_int_equal(sh_hlc_recv(&c, sh_hlc_pack(15000, 3), &out), SH_OK);
	assert_int_equal(out, sh_hlc_pack(20000, 0));
}

static void codec(void **state)
{
	char s[SH_HLC_TEXT_LEN + 1];
	uint64_t h;

	(void)state;
	sh_hlc_encode(sh_hlc_pack(1764000000000ULL, 42), s);
	assert_int_equal(strlen(s), 16);
	assert_int_equal(sh_hlc_decode(s, &h), SH_OK);
	assert_int_equal(h, sh_hlc_pack(1764000000000ULL, 42));
	sh_hlc_encode(0, s);
	assert_string_equal(s, "0000000000000000");
	sh_hlc_encode(UINT64_MAX, s);
	assert_string_equal(s, "ffffffffffffffff");
	assert_int_equal(sh_hlc_decode("ffffffffffffffff", &h), SH_OK);
	assert_int_equal(h, UINT64_MAX);
	assert_int_equal(sh_hlc_decode("FFFFFFFFFFFFFFFF", &h), SH_ERR_INVALID);
	assert_int_equal(sh_hlc_decode("fffffffffffffff", &h), SH_ERR_INVALID);
	assert_int_equal(sh_hlc_decode("0fffffffffffffffff", &h), SH_ERR_INVALID);
	assert_int_equal(sh_hlc_decode("000000000000000g", &h), SH_ERR_INVALID);
	assert_int_equal(sh_hlc_decode(NULL, &h), SH_ERR_INVALID);
	/* text order = numeric order */
	{
		char a[17], b[17];

		sh_hlc_encode(sh_hlc_pack(999, 65535), a);
		sh_hlc_encode(sh_hlc_pack(1000, 0), b);
		assert_true(strcmp(a, b) < 0);
	}
}

static void order(void **state)
{
	(void)state;
	assert_true(sh_hlc_cmp(1, "b", 2, "a") < 0);
	assert_true(sh_hlc_cmp(2, "a", 2, "b") < 0);
	assert_true(sh_hlc_cmp(2, "b", 2, "a") > 0);
	assert_int_equal(sh_hlc_cmp(2, "a", 2, "a"), 0);
	assert_true(sh_hlc_cmp(2, NULL, 2, "a") < 0);
}

static void wall(void **state)
{
	struct sh_hlc c = {0};
	uint64_t h;

	(void)state;
	h = sh_hlc_now(&c);
	/* after 2026-01-01 and within 48 bits */
	assert_true(sh_hlc_ms(h) > 1767225600000ULL);
	assert_true(sh_hlc_ms(h) < (1ULL << 48));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(monotonic), cmocka_unit_test(counter_overflow),
		cmocka_unit_test(receive),   cmocka_unit_test(codec),
		cmocka_unit_test(order),     cmocka_unit_test(wall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
