/* seal_test.c: sealed messages, and the boxes' base64: round trips, and the strictness jsr.v1 asks for. */
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

/* A sealed message is valid JSON whose box opens with the right key and signer, and with nothing else. */
static void message_opens(void **state)
{
	static const char header[] = "{\"k\":\"changeset\",\"dev\":\"d\\\"1\",\"seq\":7}";
	struct sh_keys *dev, *srv;
	struct sh_channel a, b;
	size_t sizes[] = {0, 1, 2, 3, 1000, 300000};

	(void)state;
	assert_int_equal(sh_keys_generate(&dev), SH_OK);
	assert_int_equal(sh_keys_generate(&srv), SH_OK);
	assert_int_equal(sh_channel_device(&a, dev, srv->kx_pk), SH_OK);
	assert_int_equal(sh_channel_server(&b, srv, dev->kx_pk), SH_OK);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
		size_t n = sizes[k], len;
		char *body = sh_malloc(n + 1), *text, *opened;
		const char *h;
		cJSON *msg, *box;

		randombytes_buf(body, n);
		text = sh_box_message(a.tx, dev, "push", 9007199254740993ULL, header, body, n);
		assert_non_null(text);
		msg = cJSON_Parse(text);
		assert_non_null(msg);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(msg, "t")->valuestring, "push");
		assert_non_null(strstr(text, "\"id\":9007199254740993,"));
		box = cJSON_GetObjectItemCaseSensitive(msg, "box");
		assert_int_equal(sh_box_header(box, &h), SH_OK);
		assert_string_equal(h, header);
		assert_int_equal(sh_box_open(b.rx, dev->sign_pk, box, &opened, &len), SH_OK);
		assert_int_equal(len, n);
		assert_memory_equal(opened, body, n);
		sh_free(opened);
		/* another signer, another key: refused */
		assert_int_not_equal(sh_box_open(b.rx, srv->sign_pk, box, &opened, &len), SH_OK);
		assert_int_not_equal(sh_box_open(b.tx, dev->sign_pk, box, &opened, &len), SH_OK);
		cJSON_Delete(msg);
		sh_free(text);
		sh_free(body);
	}
	assert_null(sh_box_message(a.tx, dev, "push", 1, header, "", SH_BOX_MAX_BODY + 1));
	sh_channel_wipe(&a);
	sh_channel_wipe(&b);
	sh_keys_free(dev);
	sh_keys_free(srv);
}

/* The header peeked from a message's text as sh_box_message writes it; NULL for anything else. */
static void message_peek(void **state)
{
	static const char header[] = "{\"k\":\"changes\",\"dev\":\"d\\\"1\",\"since\":7,\"more\":true}";
	static const char *const other[] = {
		"", "{", "{\"t\":\"changes\",\"id\":1}", "{\"id\":1,\"t\":\"changes\",\"box\":{\"h\":\"x\"}}",
		"{\"t\":\"changes\",\"id\":1,\"box\":{\"h\":\"unterminated",
		"{\"t\":\"changes\",\"id\":1,\"box\":{\"h\":\"ends in an escape\\",
		"{\"t\":\"changes\",\"id\":1,\"box\":{\"h\":\"bad escape \\q\",\"n\":\"\"}}",
		"{\"t\":\"changes\",\"id\":1,\"box\":{\"n\":\"\",\"h\":\"x\"}}",
	};
	struct sh_keys *k;
	struct sh_channel a;
	char *text, *h, *big;
	size_t n, close;

	(void)state;
	assert_int_equal(sh_keys_generate(&k), SH_OK);
	assert_int_equal(sh_channel_device(&a, k, k->kx_pk), SH_OK);
	text = sh_box_message(a.tx, k, "changes", 42, header, "{}", 2);
	n = strlen(text);
	assert_non_null(h = sh_box_message_peek(text, n));
	assert_string_equal(h, header);
	sh_free(h);
	/* cut anywhere before the header's closing quote: nothing; just after it: the header */
	close = (size_t)(strstr(text, "\",\"n\":") - text);
	for (size_t cut = 0; cut <= close; cut++)
		assert_null(sh_box_message_peek(text, cut));
	assert_non_null(h = sh_box_message_peek(text, close + 1));
	assert_string_equal(h, header);
	sh_free(h);
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++)
		assert_null(sh_box_message_peek(other[i], strlen(other[i])));
	sh_free(text);
	/* a header past the first 512 bytes is not looked for */
	big = sh_malloc(700);
	memset(big, 'x', 699);
	big[699] = '\0';
	memcpy(big + 600, "\"}", 3);
	text = sh_box_message(a.tx, k, "changes", 1, big + 100, "{}", 2);
	assert_null(sh_box_message_peek(text, strlen(text)));
	sh_free(text);
	sh_free(big);
	sh_channel_wipe(&a);
	sh_keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(strict),
		cmocka_unit_test(message_opens),
		cmocka_unit_test(message_peek),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
