/* record.c: a participant's values packed in one row; see record.h for the form. */
#include "record.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "err.h"
#include "log.h"

/* Field widths of an entry's header. */
enum { W_NUM = 20, W_LEN = 5 };

static bool read_num(const unsigned char *p, int width, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < width; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

static char *write_num(char *p, int width, uint64_t v)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* Appends n bytes and a NUL to the record's strings; the offset, or -1. */
static int64_t keep(struct sc_record *rec, const char *s, size_t n)
{
	size_t at;

	if (!rec->strs.max) /* a zeroed record: offsets must fit 32 bits */
		sh_buf_init(&rec->strs, UINT32_MAX - 1);
	at = rec->strs.len;
	if (sh_buf_append(&rec->strs, s, n) != SH_OK || sh_buf_append(&rec->strs, "", 1) != SH_OK)
		return -1;
	return (int64_t)at;
}

/* The offset of s when it is one of the record's strings already, else -1. */
static int64_t inside(const struct sc_record *rec, const char *s)
{
	if (rec->strs.data && s >= rec->strs.data && s < rec->strs.data + rec->strs.len)
		return s - rec->strs.data;
	return -1;
}

static int grow(struct sc_record *rec)
{
	struct sc_entry *g;
	size_t cap = rec->cap ? rec->cap * 2 : 48;

	if (rec->n < rec->cap)
		return SH_OK;
	if (!(g = sh_realloc(rec->e, cap * sizeof(*g))))
		return SH_ERR_NOMEM;
	rec->e = g;
	rec->cap = cap;
	return SH_OK;
}

static int cmp_key(const struct sc_record *rec, const struct sc_entry *e, const char *field, const char *row)
{
	int c = strcmp(rec->strs.data + e->field, field);

	return c ? c : strcmp(rec->strs.data + e->row, row);
}

/* Index of (field, row), or of where it would go (then *found is false). */
static size_t locate(const struct sc_record *rec, const char *field, const char *row, bool *found)
{
	size_t lo = 0, hi = rec->n;

	*found = false;
	if (rec->made_order) {
		for (size_t i = rec->n; i-- > 0;)
			if (cmp_key(rec, &rec->e[i], field, row) == 0) {
				*found = true;
				return i;
			}
		return rec->n;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(rec, &rec->e[mid], field, row);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sc_record_decode(struct sc_record *rec, const void *blob, size_t len)
{
	const unsigned char *p = blob, *end = p + len;

	rec->n = 0;
	rec->strs.len = 0;
	rec->dirty = false;
	while (p < end) {
		uint64_t n[4], hlc, version;
		int64_t off[4];
		struct sc_entry *e;
		bool found;
		size_t at;

		if (end - p < SC_RECORD_HEADER || !read_num(p, W_NUM, &hlc) || !read_num(p + W_NUM, W_NUM, &version))
			return SH_ERR_DB;
		p += 2 * W_NUM;
		for (int i = 0; i < 4; i++)
			if (!read_num(p + i * W_LEN, W_LEN, &n[i]))
				return SH_ERR_DB;
		p += 4 * W_LEN;
		for (int i = 0; i < 4; i++) {
			if ((size_t)(end - p) < n[i])
				return SH_ERR_DB;
			if ((off[i] = keep(rec, (const char *)p, (size_t)n[i])) < 0)
				return SH_ERR_NOMEM;
			p += n[i];
		}
		if (grow(rec) != SH_OK)
			return SH_ERR_NOMEM;
		/* stored in order, so this is the end but for a record written by hand */
		at = rec->n;
		if (at && !rec->made_order && cmp_key(rec, &rec->e[at - 1], rec->strs.data + off[0], rec->strs.data + off[1]) >= 0) {
			at = locate(rec, rec->strs.data + off[0], rec->strs.data + off[1], &found);
			if (found)
				return SH_ERR_DB;
			memmove(&rec->e[at + 1], &rec->e[at], (rec->n - at) * sizeof(*rec->e));
		}
		e = &rec->e[at];
		*e = (struct sc_entry){(uint32_t)off[0], (uint32_t)off[1], (uint32_t)off[2], (uint32_t)off[3],
				       hlc, version};
		rec->n++;
	}
	return SH_OK;
}

int sc_record_encode(const struct sc_record *rec, struct sh_buf *out)
{
	return sc_record_encode_part(rec, 0, rec->n, out);
}

int sc_record_encode_part(const struct sc_record *rec, size_t from, size_t to, struct sh_buf *out)
{
	for (size_t i = from; i < to && i < rec->n; i++) {
		const struct sc_entry *e = &rec->e[i];
		const char *str[4] = {sc_entry_field(rec, e), sc_entry_row(rec, e), sc_entry_value(rec, e),
				      sc_entry_author(rec, e)};
		char head[SC_RECORD_HEADER], *p = head;
		size_t n[4];

		p = write_num(p, W_NUM, e->hlc);
		p = write_num(p, W_NUM, e->version);
		for (int k = 0; k < 4; k++) {
			if ((n[k] = strlen(str[k])) > SC_RECORD_LEN_MAX)
				return SH_ERR_TOO_BIG;
			p = write_num(p, W_LEN, n[k]);
		}
		sh_buf_append(out, head, sizeof(head));
		for (int k = 0; k < 4; k++)
			sh_buf_append(out, str[k], n[k]);
	}
	return out->err;
}

void sc_record_clear(struct sc_record *rec)
{
	sh_free(rec->e);
	sh_buf_free(&rec->strs);
	memset(rec, 0, sizeof(*rec));
}

struct sc_entry *sc_record_find(struct sc_record *rec, const char *field, const char *row)
{
	bool found;
	size_t at = locate(rec, field, row ? row : "", &found);

	return found ? &rec->e[at] : NULL;
}

int sc_record_put(struct sc_record *rec, const char *field, const char *row, const char *value,
		  uint64_t hlc, const char *author, uint64_t version)
{
	const char *str[4] = {field, row ? row : "", value ? value : "", author};
	int64_t off[4];
	struct sc_entry *e;
	bool found;
	size_t at = locate(rec, str[0], str[1], &found);

	if (found) { /* same strings: the entry's own */
		e = &rec->e[at];
		if (strcmp(sc_entry_value(rec, e), str[2]) == 0)
			str[2] = sc_entry_value(rec, e);
		if (strcmp(sc_entry_author(rec, e), str[3]) == 0)
			str[3] = sc_entry_author(rec, e);
	}
	/* strings of this record by offset, before keep() can move its buffer */
	for (int k = 0; k < 4; k++)
		off[k] = inside(rec, str[k]);
	for (int k = found ? 2 : 0; k < 4; k++)
		if (off[k] < 0 && (off[k] = keep(rec, str[k], strlen(str[k]))) < 0)
			return SH_ERR_NOMEM;
	if (!found) {
		if (grow(rec) != SH_OK)
			return SH_ERR_NOMEM;
		memmove(&rec->e[at + 1], &rec->e[at], (rec->n - at) * sizeof(*rec->e));
		rec->n++;
		rec->e[at].field = (uint32_t)off[0];
		rec->e[at].row = (uint32_t)off[1];
	}
	e = &rec->e[at];
	e->value = (uint32_t)off[2];
	e->author = (uint32_t)off[3];
	e->hlc = hlc;
	e->version = version;
	rec->dirty = true;
	return SH_OK;
}

void sc_record_set_version(struct sc_record *rec, const char *field, const char *row, uint64_t version)
{
	struct sc_entry *e = sc_record_find(rec, field, row);

	if (e && e->version != version) {
		e->version = version;
		rec->dirty = true;
	}
}

/*
 * The set: records by participant id in an open-addressed table. It holds
 * at most SET_MAX records; past that, the changed ones are written (inside
 * the caller's transaction) and all are let go, so a large acknowledgement
 * or page needs no more memory than a small one.
 */
enum { SET_MAX = 2048, SLOTS = 4096 };

struct sc_records {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
	struct sh_buf packed; /* sc_records_save: one record at a time */
	struct sc_record *slot[SLOTS];
	uint16_t used[SET_MAX]; /* the slots in use, n of them */
	size_t n;
};

struct sc_records *sc_records_new(sqlite3 *db)
{
	struct sc_records *s = sh_calloc(1, sizeof(*s));

	if (s) {
		s->db = db;
		sh_buf_init(&s->packed, INT_MAX); /* sqlite3_bind_blob takes an int */
	}
	return s;
}

static size_t hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (SLOTS - 1);
}

static int load(struct sc_records *s, struct sc_record *rec)
{
	sqlite3_stmt *st = sh_db_prepared(s->db, &s->get, "SELECT vals FROM record WHERE participant = ?1");
	int rc = SH_OK, step;

	if (!st)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = sc_record_decode(rec, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	else if (step != SQLITE_DONE)
		rc = SH_ERR_DB;
	sqlite3_reset(st);
	if (rc == SH_ERR_DB)
		sh_log_error("record: cannot read the values of participant %.8s", rec->id);
	return rc;
}

void sc_records_reset(struct sc_records *s)
{
	for (size_t i = 0; i < s->n; i++) {
		sc_record_clear(s->slot[s->used[i]]);
		sh_free(s->slot[s->used[i]]);
		s->slot[s->used[i]] = NULL;
	}
	s->n = 0;
}

struct sc_record *sc_records_get(struct sc_records *s, const char *id)
{
	size_t i = hash(id);
	struct sc_record *rec;

	for (; s->slot[i]; i = (i + 1) & (SLOTS - 1))
		if (strcmp(s->slot[i]->id, id) == 0)
			return s->slot[i];
	if (s->n == SET_MAX) {
		if (sc_records_save(s) != SH_OK)
			return NULL;
		sc_records_reset(s);
		i = hash(id);
	}
	if (strlen(id) > SH_ID_LEN || !(rec = sh_calloc(1, sizeof(*rec))))
		return NULL;
	memcpy(rec->id, id, strlen(id) + 1);
	if (load(s, rec) != SH_OK) {
		sc_record_clear(rec);
		sh_free(rec);
		return NULL;
	}
	s->slot[i] = rec;
	s->used[s->n++] = (uint16_t)i;
	return rec;
}

int sc_records_save(struct sc_records *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sc_record *rec = s->slot[s->used[i]];
		sqlite3_stmt *st;
		int rc, step;

		if (!rec->dirty)
			continue;
		if (!(st = sh_db_prepared(s->db, &s->put, "INSERT INTO record(participant, vals) VALUES (?1, ?2) "
						"ON CONFLICT(participant) DO UPDATE SET vals = excluded.vals")))
			return SH_ERR_DB;
		sh_buf_reset(&s->packed);
		if ((rc = sc_record_encode(rec, &s->packed)) != SH_OK)
			return rc;
		sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
		/* an empty record is an empty BLOB, not NULL */
		sqlite3_bind_blob(st, 2, s->packed.data ? s->packed.data : "", (int)s->packed.len, SQLITE_STATIC);
		step = sqlite3_step(st);
		sqlite3_reset(st);
		if (step != SQLITE_DONE) {
			sh_log_error("record: %s", sqlite3_errmsg(s->db));
			return SH_ERR_DB;
		}
		rec->dirty = false;
	}
	return SH_OK;
}

void sc_records_free(struct sc_records *s)
{
	if (!s)
		return;
	sc_records_reset(s);
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
	sh_buf_free(&s->packed);
	sh_free(s);
}
