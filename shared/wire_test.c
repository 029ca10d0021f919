/* wire_test.c: change-sets, acknowledgements and pull pages, encoded as they are written and decoded as they are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "participant.h"
#include "wire.h"

#define P1 "00112233445566778899aabbccddeeff"
#define P2 "ffeeddccbbaa99887766554433221100"
#define ROW "0123456789abcdef0123456789abcdef"

static void page_of(struct sh_buf *b, const char *participants, const char *tail)
{
	sh_buf_reset(b);
	sh_buf_printf(b, "{\"participants\":[%s],\"conflicts\":[],%s}", participants,
		      tail ? tail : "\"next\":9,\"base\":9,\"more\":false,\"server_seq\":9");
}

static int decode(struct sh_buf *b, struct sh_pull_page *page, struct sh_wire_doc *doc, struct sh_reason *why)
{
	why->text[0] = '\0';
	return sh_wire_page_decode(b->data, b->len, doc, page, why);
}

static void round_trip(void **state)
{
	struct sh_op v1 = {.participant = P1, .field = "fodeland", .row = "", .value = "SYR", .version = 7, .hlc = 0x1234, .author = "kari"};
	struct sh_op v2 = {.participant = P1, .field = "tiltak.type", .row = ROW, .value = "«æøå»", .version = 8, .hlc = 0x1235, .author = "ola"};
	struct sh_op v3 = {.participant = P2, .field = "malgruppe", .row = "", .value = "", .version = 9, .hlc = 0x1236, .author = "per"};
	struct sh_buf b, ps;
	struct sh_pull_page page;
	struct sh_wire_doc doc;
	struct sh_reason why;

	(void)state;
	sh_buf_init(&b, 1 << 20);
	sh_buf_init(&ps, 1 << 20);
	sh_wire_participant_begin(&ps, true, P1, "kari");
	sh_wire_op_put(&ps, true, &v1, "kari");
	sh_wire_op_put(&ps, false, &v2, "kari");
	sh_wire_participant_end(&ps);
	sh_wire_participant_begin(&ps, false, P2, "per");
	sh_wire_op_put(&ps, true, &v3, "per");
	sh_wire_participant_end(&ps);
	page_of(&b, ps.data, "\"next\":9,\"base\":4,\"more\":true,\"server_seq\":12");
	/* the participant's author once, a value's own only where it differs */
	assert_non_null(strstr(ps.data, "[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7,\"0000000000001234\"],"));
	assert_non_null(strstr(ps.data, "\"0000000000001235\",\"ola\"]"));
	assert_null(strstr(ps.data + strlen("[\"" P1 "\",\"kari\""), "\"kari\""));
	assert_int_equal(decode(&b, &page, &doc, &why), SH_OK);
	assert_int_equal(page.nops, 3);
	assert_string_equal(page.ops[0].participant, P1);
	assert_string_equal(page.ops[0].author, "kari");
	assert_string_equal(page.ops[1].author, "ola");
	assert_string_equal(page.ops[1].participant, P1);
	assert_string_equal(page.ops[1].row, ROW);
	assert_string_equal(page.ops[1].value, "«æøå»");
	assert_int_equal(page.ops[1].hlc, 0x1235);
	assert_string_equal(page.ops[2].participant, P2);
	assert_string_equal(page.ops[2].value, "");
	assert_int_equal(page.ops[2].version, 9);
	assert_string_equal(page.ops[2].author, "per");
	assert_int_equal(page.next, 9);
	assert_int_equal(page.base, 4);
	assert_true(page.more);
	sh_wire_page_free(&page);
	sh_wire_doc_free(&doc);
	sh_buf_free(&ps);
	sh_buf_free(&b);
}

static void refused(void **state)
{
	static const char *const bad[] = {
		"[\"" P1 "\"]",                                        /* no values */
		"[\"" P1 "\",\"kari\"]",                               /* no values */
		"[\"" P1 "\",[]]",                                     /* no author (protocol version 2) */
		"[\"" P1 "\",\"kari\",[],1]",                          /* one too many */
		"[\"not-an-id\",\"kari\",[]]",
		"[1,\"kari\",[]]",
		"[\"" P1 "\",null,[]]",
		"[\"" P1 "\",7,[]]",
		"[\"" P1 "\",\"kari\",{}]",
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7]]]", /* four */
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7,\"0000000000001234\",\"kari\",1]]]", /* seven */
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7,\"0000000000001234\",null]]]", /* an author, not null */
		"[\"" P1 "\",\"kari\",[{\"fodeland\":\"SYR\"}]]",
		"[\"" P1 "\",\"kari\",[[\"nosuchfield\",\"\",\"SYR\",7,\"0000000000001234\"]]]",
		"[\"" P1 "\",\"kari\",[[\"tiltak.type\",\"\",\"1\",7,\"0000000000001234\"]]]", /* no row */
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",-7,\"0000000000001234\"]]]",
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"SYR\",7,\"xyz\"]]]",
		"[\"" P1 "\",\"kari\",[[\"fodeland\",\"\",\"\\udc00\",7,\"0000000000001234\"]]]",
	};
	struct sh_buf b, many;
	struct sh_pull_page page;
	struct sh_wire_doc doc;
	struct sh_reason why;

	(void)state;
	sh_buf_init(&b, 1 << 24);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		page_of(&b, bad[i], NULL);
		assert_int_equal(decode(&b, &page, &doc, &why), SH_ERR_PROTO);
		assert_true(why.text[0]);
	}
	/* a page of a server of before the base: everything up to next is out */
	page_of(&b, "", "\"next\":9,\"more\":false,\"server_seq\":9");
	assert_int_equal(decode(&b, &page, &doc, &why), SH_OK);
	assert_int_equal(page.base, 9);
	sh_wire_page_free(&page);
	sh_wire_doc_free(&doc);
	/* a base past next */
	page_of(&b, "", "\"next\":9,\"base\":10,\"more\":false,\"server_seq\":9");
	assert_int_equal(decode(&b, &page, &doc, &why), SH_ERR_PROTO);
	/* more values than a page may hold, spread over participants each under the cap */
	sh_buf_init(&many, 1 << 24);
	for (int p = 0; p < 3; p++) {
		sh_wire_participant_begin(&many, p == 0, p == 0 ? P1 : P2, "kari");
		for (int i = 0; i < SH_PAGE_MAX / 2; i++) {
			struct sh_op o = {.participant = NULL, .field = "fodeland", .row = "", .value = "SYR", .version = 7, .hlc = 1, .author = "kari"};

			sh_wire_op_put(&many, i == 0, &o, "kari");
		}
		sh_wire_participant_end(&many);
	}
	page_of(&b, many.data, NULL);
	assert_int_equal(decode(&b, &page, &doc, &why), SH_ERR_PROTO);
	assert_non_null(strstr(why.text, "mer enn"));
	sh_buf_free(&many);
	sh_buf_free(&b);
}

/* An ack's results: plain ones at consecutive versions go as runs, and come back one a change. */
static void results_runs(void **state)
{
	static const struct sh_result in[] = {
		{"applied", 10, NULL, NULL}, {"applied", 11, NULL, NULL}, {"applied", 12, NULL, NULL},
		{"superseded", 5, "SYR", NULL}, {"applied", 13, NULL, NULL}, {"rejected", 0, NULL, "nei"},
		{"applied", 20, NULL, NULL}, {"applied", 21, NULL, NULL}, {"conflict", 22, NULL, NULL},
		{"conflict", 23, NULL, NULL}, {"applied", 25, NULL, NULL},
	};
	const size_t nin = sizeof(in) / sizeof(*in);
	struct sh_buf b;
	struct sh_results w;
	struct sh_result *out;
	struct sh_wire_doc doc;
	struct sh_reason why;
	uint64_t seq;
	size_t n;

	(void)state;
	sh_buf_init(&b, 1 << 20);
	sh_buf_puts(&b, "{\"seq\":3,\"results\":");
	sh_wire_results_begin(&w, &b);
	for (size_t i = 0; i < nin; i++)
		sh_wire_results_add(&w, &in[i]);
	sh_wire_results_end(&w);
	sh_buf_puts(&b, "}");
	assert_string_equal(b.data, "{\"seq\":3,\"results\":[[\"applied\",10,null,null,3],[\"superseded\",5,\"SYR\",null],"
				    "[\"applied\",13,null,null],[\"rejected\",0,null,\"nei\"],[\"applied\",20,null,null,2],"
				    "[\"conflict\",22,null,null,2],[\"applied\",25,null,null]]}");
	assert_int_equal(sh_wire_ack_decode(b.data, b.len, &doc, &seq, &out, &n, &why), SH_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(n, nin);
	for (size_t i = 0; i < nin; i++) {
		assert_string_equal(out[i].code, in[i].code);
		assert_int_equal(out[i].version, in[i].version);
		assert_true((out[i].value == NULL) == (in[i].value == NULL));
		assert_true((out[i].reason == NULL) == (in[i].reason == NULL));
	}
	sh_free(out);
	sh_wire_doc_free(&doc);
	sh_buf_free(&b);
}

static void results_refused(void **state)
{
	static const char *const bad[] = {
		"[[\"applied\",1,\"x\",null,3]]",                /* a run with a value */
		"[[\"applied\",1,null,\"nei\",3]]",              /* or a reason */
		"[[\"applied\",1,null,null,1]]",                 /* a run of one */
		"[[\"applied\",1,null,null,0]]",
		"[[\"applied\",1,null,null,-2]]",
		"[[\"applied\",1,null,null,10001]]",             /* over a change-set */
		"[[\"applied\",1,null,null,6000],[\"applied\",9000,null,null,5000]]",
		"[[\"applied\",9007199254740990,null,null,3]]", /* past 2^53 */
		"[[\"frob\",1,null,null,2]]",
		"[[\"applied\",1,null,null,2,7]]",
		"[[\"applied\",1,null]]",                      /* three */
		"[{\"applied\":1}]",
	};
	struct sh_buf b;
	struct sh_result *out;
	struct sh_wire_doc doc;
	struct sh_reason why;
	uint64_t seq;
	size_t n;

	(void)state;
	sh_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		sh_buf_reset(&b);
		sh_buf_printf(&b, "{\"seq\":1,\"results\":%s}", bad[i]);
		why.text[0] = '\0';
		assert_int_equal(sh_wire_ack_decode(b.data, b.len, &doc, &seq, &out, &n, &why), SH_ERR_PROTO);
		assert_null(out);
		assert_int_equal(n, 0);
		assert_true(why.text[0]);
	}
	sh_buf_free(&b);
}

/* A change-set: [participant, [[field, row, value, hlc, base], ...]] for each participant, nothing else. */
static void changes_refused(void **state)
{
	static const char *const bad[] = {
		"[]",
		"[[\"" P1 "\",[]]]",                                                  /* a participant without changes */
		"[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\"]]]]",      /* four */
		"[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\",0,0]]]]",  /* six */
		"[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\",\"0\"]]]]", /* base a string */
		"[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",1234,0]]]]",                    /* hlc a number */
		"[[\"not-an-id\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\",0]]]]",
		"[[\"" P1 "\",[[\"tiltak.type\",\"\",\"1\",\"0000000000001234\",0]]]]",   /* no row */
		"[[\"" P1 "\",\"fodeland\",\"\",\"SYR\",\"0000000000001234\",0]]",         /* protocol version 2's change */
		"[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\",0]],1]]",   /* one too many */
		"[{\"participant\":\"" P1 "\"}]",
		"[\"" P1 "\"]",
	};
	struct sh_buf b;
	struct sh_change *out;
	struct sh_wire_doc doc;
	struct sh_reason why;
	size_t n;

	(void)state;
	sh_buf_init(&b, 1 << 20);
	sh_buf_printf(&b, "{\"participants\":[[\"" P1 "\",[[\"fodeland\",\"\",\"SYR\",\"0000000000001234\",7],"
			  "[\"tiltak.type\",\"" ROW "\",\"1\",\"0000000000001235\",0]]],"
			  "[\"" P2 "\",[[\"malgruppe\",\"\",\"2\",\"0000000000001236\",3]]]]}");
	assert_int_equal(sh_wire_changes_decode(b.data, b.len, &doc, &out, &n, &why), SH_OK);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].participant, P1);
	assert_string_equal(out[0].value, "SYR");
	assert_int_equal(out[0].hlc, 0x1234);
	assert_int_equal(out[0].base, 7);
	assert_string_equal(out[1].participant, P1);
	assert_string_equal(out[1].row, ROW);
	assert_string_equal(out[2].participant, P2);
	assert_string_equal(out[2].field, "malgruppe");
	assert_int_equal(out[2].base, 3);
	sh_free(out);
	sh_wire_doc_free(&doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		sh_buf_reset(&b);
		sh_buf_printf(&b, "{\"participants\":%s}", bad[i]);
		why.text[0] = '\0';
		if (sh_wire_changes_decode(b.data, b.len, &doc, &out, &n, &why) != SH_ERR_PROTO)
			fail_msg("taken: %s", bad[i]);
		assert_null(out);
		assert_int_equal(n, 0);
		assert_true(why.text[0]);
	}
	sh_buf_free(&b);
}

/*
 * More than SH_CHANGESET_MAX changes in all is refused, however they are
 * grouped; exactly that many are taken.
 */
static void changes_at_most(void **state)
{
	struct sh_change c = {P1, "malgruppe", "", "2", 0x1234, 0}, *out;
	struct sh_wire_doc doc;
	struct sh_reason why;
	struct sh_buf b;
	size_t n;

	(void)state;
	sh_buf_init(&b, 1 << 24);
	for (size_t total = SH_CHANGESET_MAX; total <= SH_CHANGESET_MAX + 1; total++) {
		sh_buf_reset(&b);
		sh_buf_puts(&b, "{\"participants\":[");
		for (size_t i = 0; i < total; i++) {
			if (i % 3000 == 0)
				sh_wire_participant_begin(&b, i == 0, i % 6000 ? P2 : P1, NULL);
			sh_wire_change_put(&b, i % 3000 == 0, &c);
			if (i % 3000 == 2999 || i == total - 1)
				sh_wire_participant_end(&b);
		}
		sh_buf_puts(&b, "]}");
		assert_int_equal(sh_wire_changes_decode(b.data, b.len, &doc, &out, &n, &why),
				 total <= SH_CHANGESET_MAX ? SH_OK : SH_ERR_PROTO);
		if (total <= SH_CHANGESET_MAX) {
			assert_int_equal(n, total);
			assert_string_equal(out[3000].participant, P2);
			assert_string_equal(out[6000].participant, P1);
			sh_free(out);
			sh_wire_doc_free(&doc);
		}
	}
	sh_buf_free(&b);
}

/* The documented form sh_wire_changes_hash hashes, written here again: strings with NULs, numbers little-endian. */
static void canonical_put(struct sh_buf *b, size_t i, const struct sh_change *c)
{
	const char *s[] = {c->participant, c->field, c->row, c->value};

	(void)i;
	for (int k = 0; k < 4; k++)
		sh_buf_append(b, s[k], strlen(s[k]) + 1);
	for (int k = 0; k < 8; k++)
		sh_buf_append(b, (const char[]){(char)(c->hlc >> (8 * k))}, 1);
	for (int k = 0; k < 8; k++)
		sh_buf_append(b, (const char[]){(char)(c->base >> (8 * k))}, 1);
}

/* The body protocol version 2 wrote, written here again. */
static void v2_put(struct sh_buf *b, size_t i, const struct sh_change *c)
{
	sh_buf_printf(b, "%s[\"%s\",\"%s\",\"%s\",\"%s\",\"%016llx\",%llu]", i ? "," : "", c->participant, c->field,
		      c->row, c->value, (unsigned long long)c->hlc, (unsigned long long)c->base);
}

/*
 * 20,000 changes, more than the 64 KiB hashed at a time: hash() gives the
 * hash of them written by put() between head and tail, all at once.
 */
static void hash_over_chunks(int (*hash)(const struct sh_change *, size_t, unsigned char *),
			     void (*put)(struct sh_buf *, size_t, const struct sh_change *), const char *head,
			     size_t head_len, const char *tail)
{
	unsigned char want[32], got[32];
	struct sh_change *many;
	struct sh_buf b;
	size_t n = 20000;

	many = sh_calloc(n, sizeof(*many));
	assert_non_null(many);
	sh_buf_init(&b, 1 << 24);
	sh_buf_append(&b, head, head_len);
	for (size_t i = 0; i < n; i++) {
		many[i] = (struct sh_change){P2, "malgruppe", "", i % 2 ? "1" : "2", 0x1000 + i, i};
		put(&b, i, &many[i]);
	}
	sh_buf_puts(&b, tail);
	assert_true(b.len > 3 << 16);
	crypto_generichash(want, 32, (const unsigned char *)b.data, b.len, NULL, 0);
	assert_int_equal(hash(many, n, got), SH_OK);
	assert_memory_equal(got, want, 32);
	sh_free(many);
	sh_buf_free(&b);
}

/*
 * A change-set's hash is that of its changes: the same for the same
 * changes, another when any part of any change differs, also where one
 * string ends and the next begins; of the documented form.
 */
static void changes_hash(void **state)
{
	const struct sh_change c[] = {{P1, "fodeland", "", "SYR", 0x1234, 7}, {P1, "tiltak.type", ROW, "«æøå»", 0x1235, 0}};
	const struct sh_change differ[][2] = {
		{{P2, "fodeland", "", "SYR", 0x1234, 7}, c[1]},
		{{P1, "fodelan", "", "SYR", 0x1234, 7}, c[1]},
		{{P1, "fodeland", "d", "SYR", 0x1234, 7}, c[1]},
		{{P1, "fodelan", "d", "SYR", 0x1234, 7}, c[1]}, /* one byte from field to row */
		{{P1, "fodeland", "", "SYr", 0x1234, 7}, c[1]},
		{{P1, "fodeland", "", "SYR", 0x1334, 7}, c[1]},
		{{P1, "fodeland", "", "SYR", 0x1234, 7 + (1ULL << 40)}, c[1]},
		{c[1], c[0]},
	};
	unsigned char want[32], got[32], other[32];

	(void)state;
	assert_int_equal(sh_wire_changes_hash(c, 2, want), SH_OK);
	assert_int_equal(sh_wire_changes_hash(c, 2, got), SH_OK);
	assert_memory_equal(got, want, 32);
	for (size_t i = 0; i < sizeof(differ) / sizeof(*differ); i++) {
		assert_int_equal(sh_wire_changes_hash(differ[i], 2, other), SH_OK);
		if (memcmp(other, want, 32) == 0)
			fail_msg("change-set %zu hashed as the first", i);
	}
	assert_int_equal(sh_wire_changes_hash(c, 1, other), SH_OK);
	assert_memory_not_equal(other, want, 32);
	hash_over_chunks(sh_wire_changes_hash, canonical_put, "jsr change-set 1", 17, "");
}

/*
 * What a server of protocol version 2 kept of a change-set: the hash of
 * its body as jsr of that version wrote it, byte for byte.
 */
static void changes_hash_v2(void **state)
{
	static const char v2[] = "{\"changes\":[[\"" P1 "\",\"fodeland\",\"\",\"S\\\"Y\\\\R\",\"0000000000001234\",7],"
				 "[\"" P1 "\",\"tiltak.type\",\"" ROW "\",\"«æøå»\",\"0000000000001235\",0]]}";
	struct sh_change c[] = {{P1, "fodeland", "", "S\"Y\\R", 0x1234, 7}, {P1, "tiltak.type", ROW, "«æøå»", 0x1235, 0}};
	unsigned char want[32], got[32];

	(void)state;
	crypto_generichash(want, 32, (const unsigned char *)v2, strlen(v2), NULL, 0);
	assert_int_equal(sh_wire_changes_hash_v2(c, 2, got), SH_OK);
	assert_memory_equal(got, want, 32);
	c[1].base = 1;
	assert_int_equal(sh_wire_changes_hash_v2(c, 2, got), SH_OK);
	assert_memory_not_equal(got, want, 32);
	hash_over_chunks(sh_wire_changes_hash_v2, v2_put, "{\"changes\":[", 12, "]}");
}

/* The buffer's number and printf appends: empty, with room, past the room (grows), past the cap (refused, nothing counted). */
static void buf_numbers_and_printf(void **state)
{
	struct sh_buf b;
	char big[600];

	(void)state;
	sh_buf_init(&b, 300);
	assert_int_equal(sh_buf_u64(&b, 0), SH_OK);
	assert_int_equal(sh_buf_u64(&b, 9), SH_OK);
	assert_int_equal(sh_buf_u64(&b, 10), SH_OK);
	assert_int_equal(sh_buf_u64(&b, UINT64_MAX), SH_OK);
	assert_string_equal(b.data, "091018446744073709551615");
	sh_buf_reset(&b);
	assert_int_equal(sh_buf_printf(&b, "%s-%d", "a", 7), SH_OK); /* into the room grown before */
	assert_string_equal(b.data, "a-7");
	memset(big, 'x', sizeof(big));
	big[250] = '\0';
	assert_int_equal(sh_buf_printf(&b, "%s", big), SH_OK); /* past the room: grown */
	assert_int_equal(b.len, 253);
	assert_int_equal(strlen(b.data), 253);
	big[250] = 'x';
	big[60] = '\0';
	assert_int_equal(sh_buf_printf(&b, "%s", big), SH_ERR_TOO_BIG); /* past the cap */
	assert_int_equal(b.len, 253);
	assert_int_equal(strlen(b.data), 253);
	sh_buf_free(&b);
	sh_buf_init(&b, 300);
	assert_int_equal(sh_buf_printf(&b, "%d", 42), SH_OK); /* no memory yet */
	assert_string_equal(b.data, "42");
	sh_buf_free(&b);
}

/*
 * JSON string literals: every byte but NUL, alone and amid others, read
 * back by cJSON as written; quotes, backslashes and control bytes
 * escaped as JSON has them, each class at its own length; a literal
 * that fits the cap exactly is taken, one byte more is not.
 */
static void json_strings(void **state)
{
	struct sh_buf b;
	char s[8], *big;
	size_t n;

	(void)state;
	sh_buf_init(&b, 1 << 20);
	for (int c = 1; c < 256; c++) {
		cJSON *j;

		snprintf(s, sizeof(s), "a%cb", c);
		sh_buf_reset(&b);
		assert_int_equal(sh_buf_json_str(&b, s), SH_OK);
		(void)sh_json_str_len(s, &n);
		assert_int_equal(n, 3);
		assert_int_equal(strlen(b.data), b.len);
		j = cJSON_ParseWithLength(b.data, b.len);
		if (c < 0x80) { /* alone, bytes from 0x80 are not UTF-8, which cJSON takes as they are too */
			assert_true(cJSON_IsString(j));
			assert_string_equal(j->valuestring, s);
		}
		cJSON_Delete(j);
		if (c < 0x20)
			assert_int_equal(b.len, 2 + 6 + 2);
		else if (c == '"' || c == '\\')
			assert_int_equal(b.len, 4 + 2);
		else
			assert_int_equal(b.len, 3 + 2);
	}
	sh_buf_reset(&b);
	sh_buf_json_str(&b, "\"\\\n\x1f\x7fæ");
	assert_string_equal(b.data, "\"\\\"\\\\\\u000a\\u001f\x7fæ\"");
	sh_buf_free(&b);
	big = sh_malloc(101);
	assert_non_null(big);
	memset(big, 'x', 100);
	big[100] = '\0';
	for (size_t cap = 101; cap <= 102; cap++) {
		sh_buf_init(&b, cap);
		assert_int_equal(sh_buf_json_str(&b, big), cap == 102 ? SH_OK : SH_ERR_TOO_BIG);
		assert_int_equal(b.len, cap == 102 ? 102 : 0);
		sh_buf_free(&b);
	}
	sh_free(big);
}

/* Ids (participants, rows, devices): 32 lowercase hex digits, nothing else; the bytes next to the digit ranges too. */
static void ids(void **state)
{
	static const char *const bad[] = {"", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
					  "0123456789ABCDEF0123456789abcdef", "0123456789abcdeg0123456789abcdef",
					  "0123456789abcdef/123456789abcdef", "0123456789abcdef:123456789abcdef",
					  "0123456789abcdef`123456789abcdef", "0123456789abcdef 123456789abcdef",
					  "0123456789abcdef\xc3\xa5" "123456789abcde"};
	char id[SH_ID_LEN + 1] = ROW;

	(void)state;
	assert_true(sh_id_valid(ROW));
	assert_false(sh_id_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sh_id_valid(bad[i]))
			fail_msg("«%s» taken as an id", bad[i]);
	for (int c = 1; c < 256; c++) { /* every byte at every place */
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');

		for (int at = 0; at < SH_ID_LEN; at++) {
			id[at] = (char)c;
			assert_int_equal(sh_id_valid(id), hex);
			id[at] = ROW[at];
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(ids),
		cmocka_unit_test(json_strings),
		cmocka_unit_test(buf_numbers_and_printf),
		cmocka_unit_test(refused),
		cmocka_unit_test(results_runs),
		cmocka_unit_test(results_refused),
		cmocka_unit_test(changes_refused),
		cmocka_unit_test(changes_at_most),
		cmocka_unit_test(changes_hash),
		cmocka_unit_test(changes_hash_v2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
