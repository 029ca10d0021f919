/* alloc_test.c: the arena, and message bodies parsed into one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "wire.h"

static void arena_blocks(void **state)
{
	struct sh_arena *a;
	cJSON *j;
	char *big;

	(void)state;
	/* an arena is made by a parse; a small document gives one */
	j = sh_arena_parse("{\"a\":1}", 7, &a);
	assert_non_null(j);
	assert_non_null(a);
	for (size_t n = 1; n < 5000; n += 7) { /* aligned, and apart */
		unsigned char *p = sh_arena_alloc(a, n), *q = sh_arena_alloc(a, 1);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xab, n);
		assert_true(q >= p + n || q + 1 <= p);
	}
	/* more than a block holds: a block of its own */
	big = sh_arena_alloc(a, (size_t)9 << 20);
	assert_non_null(big);
	memset(big, 1, (size_t)9 << 20);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "a")->valueint, 1);
	sh_arena_json_free(j, a);
	sh_arena_free(NULL);
}

/* A change-set of n changes, one a participant, as the client builds it. */
static void changeset(struct sh_buf *b, size_t n)
{
	sh_buf_puts(b, "{\"participants\":[");
	for (size_t i = 0; i < n; i++) {
		char p[33];
		struct sh_change c = {p, "malgruppe", "", "2", 0x0001234567890abcULL + i, i};

		snprintf(p, sizeof(p), "%032zx", i);
		sh_wire_participant_begin(b, i == 0, p, NULL);
		sh_wire_change_put(b, true, &c);
		sh_wire_participant_end(b);
	}
	sh_buf_puts(b, "]}");
}

static void body_in_an_arena(void **state)
{
	struct sh_wire_doc doc = {0};
	struct sh_change *c;
	struct sh_reason why = {{0}};
	struct sh_buf b;
	size_t n;

	(void)state;
	sh_buf_init(&b, (size_t)1 << 26);
	changeset(&b, 5000);
	assert_int_equal(sh_wire_changes_decode(b.data, b.len, &doc, &c, &n, &why), SH_OK);
	assert_non_null(doc.arena);
	assert_int_equal(n, 5000);
	assert_string_equal(c[4999].participant, "00000000000000000000000000001387");
	assert_int_equal(c[4999].base, 4999);
	sh_free(c);
	sh_wire_doc_free(&doc);
	assert_null(doc.root);
	assert_null(doc.arena);
	/* not JSON, or cut off: refused, nothing kept */
	assert_int_equal(sh_wire_changes_decode(b.data, b.len - 3, &doc, &c, &n, &why), SH_ERR_PROTO);
	assert_null(doc.root);
	assert_null(doc.arena);
	/* memory running out inside the parse: refused, nothing leaks (ASan) */
	for (long k = 0; k < 4; k++) {
		sh_alloc_fail_after(k);
		assert_int_not_equal(sh_wire_changes_decode(b.data, b.len, &doc, &c, &n, &why), SH_OK);
		sh_alloc_fail_after(-1);
		assert_null(doc.arena);
	}
	sh_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arena_blocks),
		cmocka_unit_test(body_in_an_arena),
	};

	sh_alloc_hook_cjson();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
