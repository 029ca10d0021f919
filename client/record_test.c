/* record_test.c: the packed values of a participant, the set, the outbox entries, and the migrations to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "db.h"
#include "record.h"
#include "replica.h"
#include "schema.h"
#include "test_util.h"

static struct sh_domain *dom;

static void put(struct sh_record *rec, const char *f, const char *row, const char *v, uint64_t hlc,
		const char *author, uint64_t version)
{
	assert_int_equal(sh_record_put(rec, f, row, v, hlc, author, NULL, version), SH_OK);
}

static void expect(struct sh_record *rec, const char *f, const char *row, const char *v, uint64_t hlc,
		   const char *author, uint64_t version)
{
	const struct sh_entry *e = sh_record_find(rec, f, row);

	assert_non_null(e);
	assert_string_equal(sh_entry_value(rec, e), v);
	assert_string_equal(sh_entry_author(rec, e), author);
	assert_int_equal(e->hlc, hlc);
	assert_int_equal(e->version, version);
}

static void round_trip(void **state)
{
	struct sh_record a = {0}, b = {0};
	struct sh_buf x, y;

	(void)state;
	sh_buf_init(&x, 1 << 20);
	sh_buf_init(&y, 1 << 20);
	put(&a, "navn", "", "Blå Ørn", UINT64_C(18446744073709551615), "server", 7);
	put(&a, "fnr", "", "", 1, "kari", 0); /* cleared: kept with its version */
	put(&a, "tiltak.type", "r2", "3", 5, "kari", 9);
	put(&a, "tiltak.type", "r1", "2", 4, "ola", 8);
	put(&a, "navn", "", "Ny", 2, "kari", 7); /* replaces */
	assert_int_equal(a.n, 4);
	/* in (field, row) order, as SQL's ORDER BY field, row */
	assert_string_equal(sh_entry_field(&a, &a.e[0]), "fnr");
	assert_string_equal(sh_entry_field(&a, &a.e[1]), "navn");
	assert_string_equal(sh_entry_row(&a, &a.e[2]), "r1");
	assert_string_equal(sh_entry_row(&a, &a.e[3]), "r2");
	assert_int_equal(sh_record_encode(&a, &x), SH_OK);
	assert_int_equal(sh_record_decode(&b, x.data, x.len), SH_OK);
	assert_int_equal(b.n, 4);
	assert_false(b.dirty);
	expect(&b, "navn", "", "Ny", 2, "kari", 7);
	expect(&b, "fnr", "", "", 1, "kari", 0);
	expect(&b, "tiltak.type", "r1", "2", 4, "ola", 8);
	assert_null(sh_record_find(&b, "tiltak.type", ""));
	assert_int_equal(sh_record_encode(&b, &y), SH_OK);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	/* a version alone */
	sh_record_set_version(&b, "fnr", "", 12);
	sh_record_set_version(&b, "finnes_ikke", "", 13);
	assert_true(b.dirty);
	assert_int_equal(b.n, 4);
	expect(&b, "fnr", "", "", 1, "kari", 12);
	sh_buf_free(&x);
	sh_buf_free(&y);
	sh_record_clear(&a);
	sh_record_clear(&b);
}

/* r's entries put one by one into an empty record: packed anew, none copied. */
static void packed_anew(const struct sh_record *r, struct sh_buf *out)
{
	struct sh_record c = {.with_device = r->with_device};

	for (size_t i = 0; i < r->n; i++) {
		const struct sh_entry *e = &r->e[i];

		assert_int_equal(sh_record_put(&c, sh_entry_field(r, e), sh_entry_row(r, e), sh_entry_value(r, e),
					       e->hlc, sh_entry_author(r, e), sh_entry_device(r, e), e->version),
				 SH_OK);
	}
	sh_buf_reset(out);
	assert_int_equal(sh_record_encode(&c, out), SH_OK);
	sh_record_clear(&c);
}

/*
 * Packing copies the entries that did not change from the bytes the record
 * was read from or last packed into: after any mix of changes (a value,
 * a new entry anywhere, a version through either call or set by hand, the
 * strings compacted, a read, a packing), the bytes are those of the same
 * entries packed anew, in both forms.
 */
static void packed_again(void **state)
{
	static const char *const fields[] = {"a", "b", "c", "d", "e", "f"};
	static const char *const rows[] = {"", "r1", "r2"};
	struct sh_buf got, want;
	uint64_t seed = 88172645463325252u;

	(void)state;
	sh_buf_init(&got, 1 << 20);
	sh_buf_init(&want, 1 << 20);
	for (int form = 0; form < 2; form++) {
		struct sh_record r = {.with_device = form == 1}, back = {.with_device = form == 1};

		for (int step = 0; step < 4000; step++) {
			size_t op;
			char value[16];

			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			op = (size_t)(seed % 8);
			snprintf(value, sizeof(value), "v%llu", (unsigned long long)(seed % 1000));
			if (op <= 2) { /* a value set, or an entry made */
				assert_int_equal(sh_record_put(&r, fields[(seed >> 8) % 6], rows[(seed >> 16) % 3],
							       op == 2 ? "" : value, seed >> 20, op ? "kari" : "ola",
							       "dev1", (seed >> 24) % 100000),
						 SH_OK);
			} else if (op == 3 && r.n) {
				sh_record_set_version(&r, sh_entry_field(&r, &r.e[(seed >> 8) % r.n]),
						      sh_entry_row(&r, &r.e[(seed >> 8) % r.n]), seed >> 30);
			} else if (op == 4 && r.n) {
				sh_record_set_version_at(&r, (seed >> 8) % r.n, seed >> 28);
			} else if (op == 5 && r.n) {
				r.e[(seed >> 8) % r.n].hlc = seed >> 3; /* by hand: seen by its number */
			} else if (op == 6) {
				assert_int_equal(sh_record_pack(&r), SH_OK);
			} else if (op == 7) { /* read back what it packs into */
				sh_buf_reset(&got);
				assert_int_equal(sh_record_encode(&r, &got), SH_OK);
				memcpy(back.id, r.id, sizeof(r.id));
				assert_int_equal(sh_record_decode(&back, got.data, got.len), SH_OK);
				sh_record_clear(&r);
				r = back;
				memset(&back, 0, sizeof(back));
				back.with_device = form == 1;
			}
			if (step % 50 == 49)
				sh_record_compact(&r);
			sh_buf_reset(&got);
			assert_int_equal(sh_record_encode(&r, &got), SH_OK);
			packed_anew(&r, &want);
			assert_int_equal(got.len, want.len);
			assert_memory_equal(got.data, want.data, got.len);
			if (op == 6) {
				assert_int_equal(r.packed.len, want.len);
				assert_memory_equal(r.packed.data, want.data, want.len);
			}
		}
		sh_record_clear(&r);
		sh_record_clear(&back);
	}
	sh_buf_free(&got);
	sh_buf_free(&want);
}

/* The packed form byte for byte: numbers zero-padded to their widths, odd and even digit counts, 0 and the largest. */
static void encoded_form(void **state)
{
	static const struct {
		uint64_t hlc, version;
		const char *value, *want;
	} cases[] = {
		{UINT64_C(18446744073709551615), 1234567, "v",
		 "18446744073709551615" "00000000000001234567" "00001" "00000" "00001" "00001" "fva"},
		{0, UINT64_C(10000000000000000000), "",
		 "00000000000000000000" "10000000000000000000" "00001" "00000" "00000" "00001" "fa"},
		{9, 99, "0123456789",
		 "00000000000000000009" "00000000000000000099" "00001" "00000" "00010" "00001" "f0123456789a"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sh_record a = {0}, b = {0};
		struct sh_buf x;

		sh_buf_init(&x, 1 << 20);
		put(&a, "f", "", cases[i].value, cases[i].hlc, "a", cases[i].version);
		assert_int_equal(sh_record_encode(&a, &x), SH_OK);
		assert_string_equal(x.data, cases[i].want);
		assert_int_equal(sh_record_decode(&b, x.data, x.len), SH_OK);
		expect(&b, "f", "", cases[i].value, cases[i].hlc, "a", cases[i].version);
		sh_buf_free(&x);
		sh_record_clear(&a);
		sh_record_clear(&b);
	}
}

/*
 * The header's numbers read eight digits at a time: every byte value at
 * every place of hlc and version is taken exactly when it is a digit, and
 * then read as that digit (modulo 2^64, as digit by digit); a length
 * taken only as it was written.
 */
static void header_digits(void **state)
{
	struct sh_record a = {0}, b = {0};
	struct sh_buf x;

	(void)state;
	sh_buf_init(&x, 1 << 20);
	put(&a, "f", "", "v", UINT64_C(12345678901234567890), "a", UINT64_C(98765432109876543));
	assert_int_equal(sh_record_encode(&a, &x), SH_OK);
	for (int at = 0; at < 40; at++) {
		char keep = x.data[at];

		for (int c = 0; c < 256; c++) {
			bool digit = c >= '0' && c <= '9';
			uint64_t want = 0;

			x.data[at] = (char)c;
			for (int i = at < 20 ? 0 : 20; digit && i < (at < 20 ? 20 : 40); i++)
				want = want * 10 + (uint64_t)(x.data[i] - '0');
			sh_record_clear(&b);
			if (sh_record_decode(&b, x.data, x.len) != (digit ? SH_OK : SH_ERR_DB))
				fail_msg("byte %d at %d: %s", c, at, digit ? "refused" : "taken");
			if (digit)
				assert_int_equal(at < 20 ? b.e[0].hlc : b.e[0].version, want);
		}
		x.data[at] = keep;
	}
	/* the four strings' lengths (00001, 00000, 00001, 00001): any other byte in them is refused */
	for (int at = 40; at < 60; at++) {
		char keep = x.data[at];

		for (int c = 0; c < 256; c++) {
			x.data[at] = (char)c;
			sh_record_clear(&b);
			if (c != keep && sh_record_decode(&b, x.data, x.len) == SH_OK)
				fail_msg("byte %d at %d taken", c, at);
		}
		x.data[at] = keep;
	}
	sh_record_clear(&b);
	assert_int_equal(sh_record_decode(&b, x.data, x.len), SH_OK);
	assert_string_equal(sh_entry_value(&b, &b.e[0]), "v");
	sh_buf_free(&x);
	sh_record_clear(&a);
	sh_record_clear(&b);
}

/* A record's own strings handed back to it while its buffer grows (ASan sees a dangling one). */
/* Versions set in packed bytes in place: as sh_record_set_version would set them in the unpacked record. */
static void versions_in_place(void **state)
{
	struct sh_record a = {0}, b = {0}, d = {.with_device = true};
	struct sh_version_set vs[] = {
		{"c", "", 7, 0},  {"b", "r2", 5, 0}, {"x", "", 9, 0}, /* no entry: nothing */
		{"b", "r2", 6, 0}, /* later for the same entry: wins */
		{"a", "", 1, 0},  /* as it is */
		{"ba", "", 4, 0}, {"b", "r", 8, 0}, /* prefixes of other keys: no entry */
	};
	struct sh_buf x;
	bool changed;

	(void)state;
	sh_buf_init(&x, 1 << 20);
	put(&a, "a", "", "1", 10, "kari", 1);
	put(&a, "b", "r1", "2", 11, "kari", 2);
	put(&a, "b", "r2", "3", 12, "kari", 3);
	put(&a, "ba", "", "", 13, "kari", 0);
	put(&a, "c", "", "4", 14, "kari", 4);
	assert_int_equal(sh_record_encode(&a, &x), SH_OK);
	assert_int_equal(sh_packed_set_versions(x.data, x.len, false, vs, 7, &changed), SH_OK);
	assert_true(changed);
	assert_int_equal(sh_record_decode(&b, x.data, x.len), SH_OK);
	assert_int_equal(b.n, 5);
	expect(&b, "a", "", "1", 10, "kari", 1);
	expect(&b, "b", "r1", "2", 11, "kari", 2);
	expect(&b, "b", "r2", "3", 12, "kari", 6);
	expect(&b, "ba", "", "", 13, "kari", 4);
	expect(&b, "c", "", "4", 14, "kari", 7);
	/* nothing new: unchanged */
	assert_int_equal(sh_packed_set_versions(x.data, x.len, false, vs, 7, &changed), SH_OK);
	assert_false(changed);
	/* the form with devices */
	assert_int_equal(sh_record_put(&d, "b", "", "v", 1, "kari", "dev1", 3), SH_OK);
	assert_int_equal(sh_record_put(&d, "c", "", "w", 2, "kari", "dev2", 4), SH_OK);
	sh_buf_reset(&x);
	assert_int_equal(sh_record_encode(&d, &x), SH_OK);
	assert_int_equal(sh_packed_set_versions(x.data, x.len, true, vs, 7, &changed), SH_OK);
	assert_true(changed);
	sh_record_clear(&d);
	d.with_device = true;
	assert_int_equal(sh_record_decode(&d, x.data, x.len), SH_OK);
	assert_int_equal(sh_record_find(&d, "b", "")->version, 3);
	assert_int_equal(sh_record_find(&d, "c", "")->version, 7);
	assert_string_equal(sh_entry_device(&d, sh_record_find(&d, "c", "")), "dev2");
	/* entries out of order (a record written by hand): refused, to be unpacked instead */
	{
		struct sh_record m = {.made_order = true};

		put(&m, "c", "", "4", 14, "kari", 4);
		put(&m, "a", "", "1", 10, "kari", 1);
		sh_buf_reset(&x);
		assert_int_equal(sh_record_encode(&m, &x), SH_OK);
		assert_int_equal(sh_packed_set_versions(x.data, x.len, false, vs, 7, &changed), SH_ERR_INVALID);
		sh_record_clear(&m);
	}
	/* damage past the last key set is refused too, as unpacking refuses it */
	sh_buf_reset(&x);
	assert_int_equal(sh_record_encode(&a, &x), SH_OK);
	x.data[x.len - 2] = '\0';
	x.len -= 1;
	assert_int_equal(sh_packed_set_versions(x.data, x.len, false, vs, 1, &changed), SH_ERR_DB);
	/* bytes that are not a record: refused (the caller rolls back) */
	x.data[3] = 'x';
	assert_int_equal(sh_packed_set_versions(x.data, x.len, true, vs, 7, &changed), SH_ERR_DB);
	assert_int_equal(sh_packed_set_versions(x.data, 30, true, vs, 7, &changed), SH_ERR_DB);
	sh_buf_free(&x);
	sh_record_clear(&a);
	sh_record_clear(&b);
	sh_record_clear(&d);
}

static void own_strings(void **state)
{
	struct sh_record rec = {0};
	char field[32], author[200];

	(void)state;
	memset(author, 'a', sizeof(author) - 1);
	author[sizeof(author) - 1] = '\0';
	put(&rec, "navn", "", "x", 1, author, 1);
	for (int i = 0; i < 200; i++) {
		const struct sh_entry *e = sh_record_find(&rec, "navn", "");

		snprintf(field, sizeof(field), "f%03d", i);
		put(&rec, field, "", sh_entry_value(&rec, e), 2, sh_entry_author(&rec, e), 3);
		e = sh_record_find(&rec, "navn", "");
		put(&rec, "navn", "", sh_entry_author(&rec, e), 4, sh_entry_value(&rec, e), 5);
		e = sh_record_find(&rec, "navn", "");
		put(&rec, "navn", "", sh_entry_author(&rec, e), 4, sh_entry_value(&rec, e), 5);
	}
	expect(&rec, "f199", "", "x", 2, author, 3);
	expect(&rec, "navn", "", "x", 4, author, 5);
	assert_int_equal(rec.n, 201);
	sh_record_clear(&rec);
}

/* One packed entry, as the schema describes it. */
static size_t entry(char *out, size_t n, uint64_t hlc, uint64_t version, const char *f, const char *row,
		    const char *v, const char *a)
{
	return (size_t)snprintf(out, n, "%020llu%020llu%05zu%05zu%05zu%05zu%s%s%s%s", (unsigned long long)hlc,
				(unsigned long long)version, strlen(f), strlen(row), strlen(v), strlen(a), f, row,
				v, a);
}

static void bad_records(void **state)
{
	struct sh_record rec = {0};
	char ok[128], b[256];
	size_t n = entry(ok, sizeof(ok), 1, 2, "navn", "", "x", "kari"), m;

	(void)state;
	assert_int_equal(n, 69);
	assert_int_equal(sh_record_decode(&rec, ok, n), SH_OK);
	expect(&rec, "navn", "", "x", 1, "kari", 2);
	/* a short header */
	assert_int_equal(sh_record_decode(&rec, ok, 59), SH_ERR_DB);
	/* a string cut off */
	assert_int_equal(sh_record_decode(&rec, ok, n - 1), SH_ERR_DB);
	/* not a digit */
	memcpy(b, ok, n);
	b[45] = 'x';
	assert_int_equal(sh_record_decode(&rec, b, n), SH_ERR_DB);
	/* a length past the end */
	memcpy(b, ok, n);
	memcpy(b + 50, "00009", 5);
	assert_int_equal(sh_record_decode(&rec, b, n), SH_ERR_DB);
	/* the same field twice */
	memcpy(b, ok, n);
	memcpy(b + n, ok, n);
	assert_int_equal(sh_record_decode(&rec, b, 2 * n), SH_ERR_DB);
	/* bytes after the last entry */
	memcpy(b + n, "junk", 4);
	assert_int_equal(sh_record_decode(&rec, b, n + 4), SH_ERR_DB);
	/* empty: no values */
	assert_int_equal(sh_record_decode(&rec, "", 0), SH_OK);
	assert_int_equal(rec.n, 0);
	/* written by hand out of order: read in order */
	memcpy(b, ok, n);
	m = entry(b + n, sizeof(b) - n, 3, 4, "fnr", "", "", "ola");
	assert_int_equal(sh_record_decode(&rec, b, n + m), SH_OK);
	assert_int_equal(rec.n, 2);
	assert_string_equal(sh_entry_field(&rec, &rec.e[0]), "fnr");
	expect(&rec, "navn", "", "x", 1, "kari", 2);
	expect(&rec, "fnr", "", "", 3, "ola", 4);
	sh_record_clear(&rec);
}

/* A new, empty replica in a new directory (dir). */
static struct sc_replica *new_replica(char dir[64])
{
	struct sc_replica *r;
	struct sh_reason why;

	snprintf(dir, 64, "/tmp/jsr-record-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sc_replica_open(dir, dom, &r, &why), SH_OK);
	return r;
}

static void drop_replica(struct sc_replica *r, const char *dir)
{
	sc_replica_close(r);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* More participants in one transaction than a set keeps: the rest are written and read back. */
/* The set sets versions in the stored record in place, in its own record when it holds one, and through unpacking a record out of order. */
static void set_versions_stored(void **state)
{
	char dir[64];
	struct sc_replica *r = new_replica(dir);
	sqlite3 *db = sc_replica_db(r);
	struct sc_records *s;
	struct sh_record m = {.made_order = true}, *got;
	struct sh_buf x;
	sqlite3_stmt *st;
	const char *ids[] = {"00000000000000000000000000000001", "00000000000000000000000000000002"};

	(void)state;
	sh_buf_init(&x, 1 << 20);
	put(&m, "navn", "", "b", 2, "kari", 5);
	put(&m, "fnr", "", "a", 1, "kari", 4); /* out of order, as if written by hand */
	assert_int_equal(sh_record_encode(&m, &x), SH_OK);
	assert_int_equal(sh_db_exec(db, "BEGIN", NULL), SH_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO participant(id, status, created, updated) VALUES (?1, 'x', 0, 0);", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO record(participant, vals) VALUES (?1, ?2)", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, x.data, (int)x.len, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	/* participant 1 sorted by hand first, participant 2 left out of order */
	assert_non_null(s = sc_records_new(db));
	assert_non_null(got = sc_records_get(s, ids[0]));
	got->dirty = true;
	assert_int_equal(sc_records_save(s), SH_OK);
	sc_records_free(s);
	assert_non_null(s = sc_records_new(db));
	for (int i = 0; i < 2; i++) {
		struct sh_version_set vs[] = {{"fnr", "", 40, 0}, {"navn", "", 50, 0}, {"kjonn", "", 9, 0}};

		assert_int_equal(sc_records_set_versions(s, ids[i], vs, 3), SH_OK);
	}
	assert_int_equal(sc_records_save(s), SH_OK); /* the one unpacked */
	sc_records_free(s);
	assert_int_equal(sh_db_exec(db, "COMMIT", NULL), SH_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT participant, field, version FROM field_value ORDER BY 1, 2", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 1), "fnr");
		assert_int_equal(sqlite3_column_int(st, 2), 40);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 1), "navn");
		assert_int_equal(sqlite3_column_int(st, 2), 50);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sh_record_clear(&m);
	sh_buf_free(&x);
	drop_replica(r, dir);
}

static void large_set(void **state)
{
	char dir[64], id[SH_ID_LEN + 1];
	struct sc_replica *r = new_replica(dir);
	struct sc_records *s;
	sqlite3_stmt *st, *ins;
	sqlite3 *db = sc_replica_db(r);

	(void)state;
	assert_int_equal(sh_db_exec(db, "BEGIN", NULL), SH_OK);
	assert_non_null(s = sc_records_new(db));
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO participant(id, status, created, updated) "
					    "VALUES (?1, 'x', 0, 0)", -1, &ins, NULL), SQLITE_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%032x", i);
		sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
		put(sc_records_get(s, id), "navn", "", "a", (uint64_t)i, "kari", 1);
		/* the first ones again, after they were written and let go */
		snprintf(id, sizeof(id), "%032x", i / 2);
		put(sc_records_get(s, id), "fnr", "", "b", (uint64_t)i, "kari", 2);
	}
	sqlite3_finalize(ins);
	assert_int_equal(sc_records_save(s), SH_OK);
	sc_records_free(s);
	assert_int_equal(sh_db_exec(db, "COMMIT", NULL), SH_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT participant), sum(field = 'fnr'), "
					    "sum(value = 'a') FROM field_value", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 7500);
	assert_int_equal(sqlite3_column_int(st, 1), 5000);
	assert_int_equal(sqlite3_column_int(st, 2), 2500);
	assert_int_equal(sqlite3_column_int(st, 3), 5000);
	sqlite3_finalize(st);
	drop_replica(r, dir);
}

/* A replica at schema version `version` in a new directory (dir), with rows made by `sql`, then opened (migrated). */
static struct sc_replica *old_replica(char dir[64], int version, const char *sql)
{
	char path[128];
	struct sc_replica *r;
	struct sh_reason why;
	sqlite3 *db;

	snprintf(dir, 64, "/tmp/jsr-record-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/replica.db", dir);
	assert_int_equal(sh_db_open(path, &db, &why), SH_OK);
	assert_int_equal(sh_migrate(db, sh_migrations_client, (size_t)version, NULL, NULL, &why), SH_OK);
	assert_int_equal(sh_db_exec(db, sql, &why), SH_OK);
	sqlite3_close(db);
	assert_int_equal(sc_replica_open(dir, dom, &r, &why), SH_OK);
	return r;
}

/* The one text the query gives. */
static void expect_text(struct sc_replica *r, const char *sql, const char *want)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(sc_replica_db(r), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(st, 0), want);
	sqlite3_finalize(st);
}

/* A replica of schema version 2 (a row per value) keeps every value through the migration. */
static void migration_keeps_values(void **state)
{
	char dir[64];
	struct sc_replica *r;
	struct sh_participant p;
	bool draft;

	(void)state;
	r = old_replica(dir, 2,
		"INSERT INTO participant(id, draft, status, created, updated) VALUES "
		"('aaaa0000000000000000000000000000', 0, 'mangler', 1, 1), "
		"('bbbb0000000000000000000000000000', 1, 'utkast', 1, 1);"
		"INSERT INTO field_value VALUES "
		"('aaaa0000000000000000000000000000', 'kommune', '', '0301', 11, 'kari', 4), "
		"('aaaa0000000000000000000000000000', 'navn', '', 'Ærlig Åse', 12, 'server', 5), "
		"('aaaa0000000000000000000000000000', 'fodeland', '', '', 13, 'kari', 6), "
		"('aaaa0000000000000000000000000000', 'tiltak.type', 'r1', '2', 14, 'kari', 0), "
		"('bbbb0000000000000000000000000000', 'malgruppe', '', '1', 15, 'ola', 0);");
	expect_text(r, "SELECT group_concat(participant || field || row || value || hlc || author || version, ';') "
		       "FROM (SELECT * FROM field_value ORDER BY participant, field, row)",
		    "aaaa0000000000000000000000000000fodeland13kari6;"
		    "aaaa0000000000000000000000000000kommune030111kari4;"
		    "aaaa0000000000000000000000000000navnÆrlig Åse12server5;"
		    "aaaa0000000000000000000000000000tiltak.typer1214kari0;"
		    "bbbb0000000000000000000000000000malgruppe115ola0");
	sh_participant_init(&p);
	assert_int_equal(sc_participant_load(r, "aaaa0000000000000000000000000000", &p, &draft), SH_OK);
	assert_false(draft);
	assert_string_equal(p.v[SH_F_NAVN], "Ærlig Åse");
	assert_string_equal(p.v[SH_F_KOMMUNE], "0301");
	assert_null(p.v[SH_F_FODELAND]);
	sh_participant_clear(&p);
	drop_replica(r, dir);
}

/*
 * Damages the row `damage` picks (the one of the smaller id) and shows that
 * this participant's next edit is refused with a clear reason, while the
 * other's goes through.
 */
static void damage_is_contained(struct sc_replica *r, char id[2][SH_ID_LEN + 1], const char *damage)
{
	struct sc_report rep;

	assert_int_equal(sh_db_exec(sc_replica_db(r), damage, NULL), SH_OK);
	assert_int_equal(sqlite3_changes(sc_replica_db(r)), 1);
	if (strcmp(id[0], id[1]) > 0) { /* id[0]: the damaged one */
		char t[SH_ID_LEN + 1];

		memcpy(t, id[0], sizeof(t));
		memcpy(id[0], id[1], sizeof(t));
		memcpy(id[1], t, sizeof(t));
	}
	assert_int_equal(sc_set(r, id[0], "malgruppe", NULL, "1", &rep), SH_ERR_DB);
	assert_non_null(strstr(rep.why.text, "kan ikke leses fra replikaen"));
	assert_false(rep.changed);
	assert_int_equal(sc_set(r, id[1], "malgruppe", NULL, "1", &rep), SH_OK);
	assert_true(rep.changed);
}

/* A damaged record: that participant's edit is refused with a clear reason, the others work. */
static void damaged_record(void **state)
{
	char dir[64], id[2][SH_ID_LEN + 1];
	struct sc_replica *r = new_replica(dir);
	struct sc_report rep;

	(void)state;
	for (int i = 0; i < 2; i++) { /* drafts: their values are in the record only */
		assert_int_equal(sc_participant_new(r, id[i]), SH_OK);
		assert_int_equal(sc_set(r, id[i], "kommune", NULL, "0301", &rep), SH_OK);
	}
	damage_is_contained(r, id, "UPDATE record SET vals = substr(vals, 1, 70) "
				   "WHERE participant = (SELECT min(id) FROM participant)");
	drop_replica(r, dir);
}

/* A damaged outbox entry: that participant's edit is refused with a clear reason, the others work. */
static void damaged_outbox_entry(void **state)
{
	char dir[64], id[2][SH_ID_LEN + 1], fnr[12];
	struct sc_replica *r = new_replica(dir);
	struct sc_report rep;

	(void)state;
	for (int i = 0; i < 2; i++) { /* participants: their values are in the outbox */
		tu_fnr((unsigned)i + 3, SH_GENDER_WOMAN, fnr);
		assert_int_equal(sc_participant_new(r, id[i]), SH_OK);
		assert_int_equal(sc_set(r, id[i], "fnr", NULL, fnr, &rep), SH_OK);
		assert_int_equal(sc_set(r, id[i], "startdato", NULL, "2026-01-15", &rep), SH_OK);
		assert_int_equal(sc_set(r, id[i], "kommune", NULL, "0301", &rep), SH_OK);
		assert_int_equal(sc_set(r, id[i], "finansiering", NULL, "1", &rep), SH_OK);
		assert_true(rep.promoted);
	}
	damage_is_contained(r, id, "UPDATE outbox_entry SET changes = substr(changes, 1, 70) "
				   "WHERE participant = (SELECT min(participant) FROM outbox_entry)");
	drop_replica(r, dir);
}

/* A replica of schema version 3 (an outbox row per change) keeps every change, sent or not, through the migration. */
static void migration_keeps_outbox(void **state)
{
	char dir[64];
	struct sc_replica *r;

	(void)state;
	r = old_replica(dir, 3,
		"INSERT INTO participant(id, draft, status, created, updated) VALUES "
		"('aaaa0000000000000000000000000000', 0, 'mangler', 1, 1), "
		"('bbbb0000000000000000000000000000', 0, 'mangler', 1, 1);"
		"INSERT INTO outbox(participant, field, row, value, hlc, author, base, changeset, rejected) VALUES "
		"('bbbb0000000000000000000000000000', 'kommune', '', '1103', 10, 'ola', 0, 1, 'utenfor'), "
		"('aaaa0000000000000000000000000000', 'kommune', '', '0301', 11, 'kari', 4, 2, NULL), "
		"('aaaa0000000000000000000000000000', 'navn', '', 'Ærlig Åse', 12, 'kari', 5, 2, NULL), "
		"('aaaa0000000000000000000000000000', 'tiltak.type', 'r1', '2', 14, 'kari', 0, NULL, NULL), "
		"('aaaa0000000000000000000000000000', 'fodeland', '', '', 13, 'kari', 6, NULL, NULL), "
		"('bbbb0000000000000000000000000000', 'malgruppe', '', '1', 15, 'ola', 0, NULL, NULL);");
	/* entries in the order made, per participant and change-set; the refused change on its own */
	expect_text(r, "SELECT group_concat(participant || '/' || coalesce(changeset, '-') || '/' || field || row "
		       "|| '=' || value || hlc || author || base || coalesce(rejected, ''), ';') "
		       "FROM (SELECT * FROM outbox ORDER BY participant, seq, pos)",
		    "aaaa0000000000000000000000000000/2/kommune=030111kari4;"
		    "aaaa0000000000000000000000000000/2/navn=Ærlig Åse12kari5;"
		    "aaaa0000000000000000000000000000/-/tiltak.typer1=214kari0;"
		    "aaaa0000000000000000000000000000/-/fodeland=13kari6;"
		    "bbbb0000000000000000000000000000/1/kommune=110310ola0utenfor;"
		    "bbbb0000000000000000000000000000/-/malgruppe=115ola0");
	/* the overview's counts: changes waiting, and the latest reason */
	expect_text(r, "SELECT group_concat(id || pending || coalesce(rejected, '-'), ';') FROM "
		       "(SELECT * FROM participant ORDER BY id)",
		    "aaaa00000000000000000000000000004-;bbbb00000000000000000000000000002utenfor");
	drop_replica(r, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(encoded_form),
		cmocka_unit_test(packed_again),
		cmocka_unit_test(header_digits),
		cmocka_unit_test(own_strings),
		cmocka_unit_test(versions_in_place),
		cmocka_unit_test(set_versions_stored),
		cmocka_unit_test(bad_records),
		cmocka_unit_test(large_set),
		cmocka_unit_test(migration_keeps_values),
		cmocka_unit_test(damaged_record),
		cmocka_unit_test(damaged_outbox_entry),
		cmocka_unit_test(migration_keeps_outbox),
	};
	int rc;

	dom = tu_domain();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_domain_free(dom);
	return rc;
}
