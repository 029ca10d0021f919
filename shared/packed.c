/* packed.c: a participant's values packed in one row; see packed.h for the form. */
#include "packed.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "err.h"
#include "text.h"

/* A record's packed bytes, at most: what sqlite3_bind_blob takes (an int) */
#define PACKED_MAX ((size_t)INT_MAX)

/* Field widths of an entry's header. */
enum { W_NUM = 20, W_LEN = 5 }; /* num20 and num5 read them */

/* Eight bytes as loaded little-endian (the first byte lowest), on any host. */
static uint64_t load8(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? v : __builtin_bswap64(v);
}

/* Zero when each of the eight bytes is a digit: high nibble 3, and low nibble + 6 not carrying. */
static uint64_t not_digits(uint64_t v)
{
	return ((v & UINT64_C(0xf0f0f0f0f0f0f0f0)) ^ UINT64_C(0x3030303030303030)) |
	       (((v & UINT64_C(0x0f0f0f0f0f0f0f0f)) + UINT64_C(0x0606060606060606)) & UINT64_C(0xf0f0f0f0f0f0f0f0));
}

/* The number of eight digits (SWAR): pairs, then fours, then the eight joined by multiplies. */
static uint64_t num8(uint64_t v)
{
	v &= UINT64_C(0x0f0f0f0f0f0f0f0f);
	v = (v * 10 + (v >> 8)) & UINT64_C(0x00ff00ff00ff00ff);
	v = (v * 100 + (v >> 16)) & UINT64_C(0x0000ffff0000ffff);
	return (v * 10000 + (v >> 32)) & UINT64_C(0xffffffff);
}

/* Are the n bytes (n ≥ 8) all digits? Eight at a time, and the eight that end them. */
static bool all_digits(const unsigned char *p, size_t n)
{
	uint64_t bad = not_digits(load8(p + n - 8));

	for (size_t i = 0; i + 8 <= n; i += 8)
		bad |= not_digits(load8(p + i));
	return !bad;
}

/*
 * A header's numbers, once all_digits has checked the header: 20 digits
 * (modulo 2^64) as eight, eight, and the low four of the eight that end
 * them; a 5-digit length as the low five of the eight that end it (the
 * three before it are the header's too: it follows the two 20-digit ones).
 */
static uint64_t num20(const unsigned char *p)
{
	return (num8(load8(p)) * 100000000u + num8(load8(p + 8))) * 10000u + num8(load8(p + 12)) % 10000u;
}

static uint64_t num5(const unsigned char *p) { return num8(load8(p - 3)) % 100000u; }

/* Room for n more bytes in the record's strings (sh_buf_extend); NULL when there is none. */
static char *strs_extend(struct sh_record *rec, size_t n)
{
	if (!rec->strs.max) /* a zeroed record: offsets must fit 32 bits */
		sh_buf_init(&rec->strs, UINT32_MAX - 1);
	return sh_buf_extend(&rec->strs, n);
}

/* Appends n bytes and a NUL to the record's strings; the offset, or -1. */
static int64_t keep(struct sh_record *rec, const char *s, size_t n)
{
	size_t at;
	char *to;

	at = rec->strs.len;
	if (!(to = strs_extend(rec, n + 1)))
		return -1;
	memcpy(to, s, n);
	to[n] = '\0';
	return (int64_t)at;
}

/* The offset of s when it is one of the record's strings already, else -1. */
static int64_t inside(const struct sh_record *rec, const char *s)
{
	if (rec->strs.data && s >= rec->strs.data && s < rec->strs.data + rec->strs.len)
		return s - rec->strs.data;
	return -1;
}

static int grow(struct sh_record *rec)
{
	struct sh_entry *g;
	size_t cap = rec->cap ? rec->cap * 2 : 48;

	if (rec->n < rec->cap)
		return SH_OK;
	if (!(g = sh_realloc(rec->e, cap * sizeof(*g))))
		return SH_ERR_NOMEM;
	rec->e = g;
	rec->cap = cap;
	return SH_OK;
}

static int cmp_key(const struct sh_record *rec, const struct sh_entry *e, const char *field, const char *row)
{
	int c = strcmp(rec->strs.data + e->field, field);

	return c ? c : strcmp(rec->strs.data + e->row, row);
}

/* Index of (field, row), or of where it would go (then *found is false). */
static size_t locate(const struct sh_record *rec, const char *field, const char *row, bool *found)
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

/* Strings per entry. */
static int nstr(const struct sh_record *rec) { return rec->with_device ? 5 : 4; }

/*
 * Reads the header of the entry at *p (ns strings) and moves *p to its
 * strings; false unless the header and the strings it announces lie
 * within end.
 */
static bool entry_header(const unsigned char **p, const unsigned char *end, int ns, uint64_t *hlc,
			 uint64_t *version, uint64_t n[5])
{
	const unsigned char *h = *p;
	uint64_t total = 0;

	size_t len = 2 * W_NUM + (size_t)ns * W_LEN;

	if ((size_t)(end - h) < len || !all_digits(h, len))
		return false;
	*hlc = num20(h);
	*version = num20(h + W_NUM);
	for (int i = 0; i < ns; i++)
		total += n[i] = num5(h + 2 * W_NUM + i * W_LEN);
	*p = h + len;
	return (uint64_t)(end - *p) >= total;
}

int sh_record_decode(struct sh_record *rec, const void *blob, size_t len)
{
	const unsigned char *p = blob, *end = len ? p + len : p;
	int ns = nstr(rec), rc = SH_OK;
	int64_t none = -1;
	size_t base, used = 0;
	char *to;

	rec->n = 0;
	rec->strs.len = 0;
	rec->dirty = false;
	rec->packed.len = 0;
	if (!rec->with_device && (none = keep(rec, "", 0)) < 0)
		return SH_ERR_NOMEM;
	if (!len) /* SQLite gives NULL for an empty BLOB */
		return SH_OK;
	/* the bytes as read, for packing the entries that stay as they are (out of memory: all are packed anew) */
	if (!rec->packed.max)
		sh_buf_init(&rec->packed, PACKED_MAX);
	sh_buf_reset(&rec->packed);
	if (sh_buf_append(&rec->packed, blob, len) != SH_OK)
		sh_buf_reset(&rec->packed);
	/* room for all strings at once: each with its NUL takes less than its share of the blob (a header is longer) */
	base = rec->strs.len;
	if (!(to = strs_extend(rec, len)))
		return SH_ERR_NOMEM;
	while (p < end) {
		const unsigned char *start = p;
		uint64_t n[5], hlc, version;
		int64_t off[5];
		struct sh_entry *e;
		bool found;
		size_t at;

		if (!entry_header(&p, end, ns, &hlc, &version, n)) {
			rc = SH_ERR_DB;
			break;
		}
		for (int i = 0; i < ns; i++) {
			memcpy(to + used, p, (size_t)n[i]);
			to[used + n[i]] = '\0';
			off[i] = (int64_t)(base + used);
			used += (size_t)n[i] + 1;
			p += n[i];
		}
		if (!rec->with_device)
			off[4] = none;
		if (grow(rec) != SH_OK) {
			rc = SH_ERR_NOMEM;
			break;
		}
		/* stored in order, so this is the end but for a record written by hand */
		at = rec->n;
		if (at && !rec->made_order && cmp_key(rec, &rec->e[at - 1], rec->strs.data + off[0], rec->strs.data + off[1]) >= 0) {
			at = locate(rec, rec->strs.data + off[0], rec->strs.data + off[1], &found);
			if (found) {
				rc = SH_ERR_DB;
				break;
			}
			memmove(&rec->e[at + 1], &rec->e[at], (rec->n - at) * sizeof(*rec->e));
		}
		e = &rec->e[at];
		*e = (struct sh_entry){(uint32_t)off[0], (uint32_t)off[1], (uint32_t)off[2], (uint32_t)off[3],
				       (uint32_t)off[4], SH_ENTRY_UNPACKED, 0, hlc, version};
		if (rec->packed.len == len) {
			e->packed = (uint32_t)(start - (const unsigned char *)blob);
			e->packed_len = (uint32_t)(p - start);
		}
		rec->n++;
	}
	rec->strs.len = base + used; /* what the strings took of the room */
	rec->strs.data[rec->strs.len] = '\0';
	return rc;
}

/*
 * Whether entry e lies unchanged in the record's packed bytes: marked so,
 * and with the numbers it has now (a number set by hand, not through
 * this file, is seen).
 */
static bool still_packed(const struct sh_record *rec, const struct sh_entry *e)
{
	const unsigned char *h;

	if (e->packed == SH_ENTRY_UNPACKED || (size_t)e->packed + e->packed_len > rec->packed.len)
		return false;
	h = (const unsigned char *)rec->packed.data + e->packed;
	return num20(h) == e->hlc && num20(h + W_NUM) == e->version;
}

/* Packs entry e onto the end of out: its header, then its strings. */
static int pack_entry(const struct sh_record *rec, const struct sh_entry *e, struct sh_buf *out)
{
	int ns = nstr(rec);
	const char *str[5] = {sh_entry_field(rec, e), sh_entry_row(rec, e), sh_entry_value(rec, e),
			      sh_entry_author(rec, e), sh_entry_device(rec, e)};
	size_t n[5], len = 2 * W_NUM + (size_t)ns * W_LEN;
	char *p;

	for (int k = 0; k < ns; k++) {
		if ((n[k] = strlen(str[k])) > SH_RECORD_LEN_MAX)
			return SH_ERR_TOO_BIG;
		len += n[k];
	}
	if (!(p = sh_buf_extend(out, len))) /* the entry at once */
		return out->err;
	p = sh_put_digits(p, W_NUM, e->hlc);
	p = sh_put_digits(p, W_NUM, e->version);
	for (int k = 0; k < ns; k++)
		p = sh_put_digits(p, W_LEN, n[k]);
	for (int k = 0; k < ns; k++) {
		memcpy(p, str[k], n[k]);
		p += n[k];
	}
	return SH_OK;
}

/* Where an entry lies in packed bytes. */
struct place {
	uint32_t at, len;
};

/*
 * Packs entries [from, to) onto the end of out: a run of entries that lie
 * unchanged one after another in the packed bytes is copied at once. With
 * `moved`, each entry's place in out (from where out started) goes into
 * moved[i - from].
 */
static int pack_range(const struct sh_record *rec, size_t from, size_t to, struct sh_buf *out,
		      struct place *moved)
{
	size_t base = out->len;
	int rc = SH_OK;

	if (to > rec->n)
		to = rec->n;
	for (size_t i = from; i < to && rc == SH_OK;) {
		const struct sh_entry *e = &rec->e[i];
		size_t at = out->len, j = i + 1, len;
		bool copied = still_packed(rec, e);

		if (!copied) {
			rc = pack_entry(rec, e, out);
		} else {
			len = e->packed_len;
			while (j < to && rec->e[j].packed == e->packed + len && still_packed(rec, &rec->e[j]))
				len += rec->e[j++].packed_len;
			rc = sh_buf_append(out, rec->packed.data + e->packed, len);
		}
		for (size_t k = i; moved && rc == SH_OK && k < j; k++) {
			moved[k - from] = (struct place){(uint32_t)(at - base),
							 copied ? rec->e[k].packed_len : (uint32_t)(out->len - at)};
			at += moved[k - from].len;
		}
		i = j;
	}
	return rc == SH_OK ? out->err : rc;
}

int sh_record_encode(const struct sh_record *rec, struct sh_buf *out)
{
	return pack_range(rec, 0, rec->n, out, NULL);
}

int sh_record_encode_part(const struct sh_record *rec, size_t from, size_t to, struct sh_buf *out)
{
	return pack_range(rec, from, to, out, NULL);
}

int sh_record_pack(struct sh_record *rec)
{
	struct sh_buf next;
	struct place *moved = NULL;
	int rc;

	sh_buf_init(&next, PACKED_MAX);
	if (rec->n && !(moved = sh_calloc(rec->n, sizeof(*moved))))
		return SH_ERR_NOMEM;
	if ((rc = pack_range(rec, 0, rec->n, &next, moved)) == SH_OK) {
		for (size_t i = 0; i < rec->n; i++) {
			rec->e[i].packed = moved[i].at;
			rec->e[i].packed_len = moved[i].len;
		}
		sh_buf_free(&rec->packed);
		rec->packed = next;
	} else {
		sh_buf_free(&next);
	}
	sh_free(moved);
	return rc;
}

void sh_record_empty(struct sh_record *rec)
{
	rec->n = 0;
	rec->strs.len = 0;
	rec->packed.len = 0;
	rec->dirty = false;
}

void sh_record_clear(struct sh_record *rec)
{
	sh_free(rec->e);
	sh_buf_free(&rec->strs);
	sh_buf_free(&rec->packed);
	memset(rec, 0, sizeof(*rec));
}

struct sh_entry *sh_record_find(struct sh_record *rec, const char *field, const char *row)
{
	bool found;
	size_t at = locate(rec, field, row ? row : "", &found);

	return found ? &rec->e[at] : NULL;
}

int sh_record_put(struct sh_record *rec, const char *field, const char *row, const char *value,
		  uint64_t hlc, const char *author, const char *device, uint64_t version)
{
	const char *str[5] = {field, row ? row : "", value ? value : "", author,
			      rec->with_device && device ? device : ""};
	int64_t off[5];
	struct sh_entry *e;
	bool found;
	size_t at = locate(rec, str[0], str[1], &found);

	if (found) { /* same strings: the entry's own */
		e = &rec->e[at];
		if (strcmp(sh_entry_value(rec, e), str[2]) == 0)
			str[2] = sh_entry_value(rec, e);
		if (strcmp(sh_entry_author(rec, e), str[3]) == 0)
			str[3] = sh_entry_author(rec, e);
		if (strcmp(sh_entry_device(rec, e), str[4]) == 0)
			str[4] = sh_entry_device(rec, e);
	}
	/* strings of this record by offset, before keep() can move its buffer */
	for (int k = 0; k < 5; k++)
		off[k] = inside(rec, str[k]);
	for (int k = found ? 2 : 0; k < 5; k++)
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
	e->device = (uint32_t)off[4];
	e->packed = SH_ENTRY_UNPACKED;
	e->hlc = hlc;
	e->version = version;
	rec->dirty = true;
	return SH_OK;
}

void sh_record_set_version_at(struct sh_record *rec, size_t i, uint64_t version)
{
	rec->e[i].version = version;
	rec->e[i].packed = SH_ENTRY_UNPACKED;
	rec->dirty = true;
}

void sh_record_set_version(struct sh_record *rec, const char *field, const char *row, uint64_t version)
{
	struct sh_entry *e = sh_record_find(rec, field, row);

	if (e && e->version != version)
		sh_record_set_version_at(rec, (size_t)(e - rec->e), version);
}

int sh_record_values(const struct sh_record *rec, struct sh_participant *p)
{
	int rc = SH_OK;

	for (size_t i = 0; rc == SH_OK && i < rec->n; i++) {
		const struct sh_entry *e = &rec->e[i];
		const struct sh_field *f = sh_field_by_name(sh_entry_field(rec, e));

		if (!f || !*sh_entry_value(rec, e)) /* a field of a newer program: kept, not interpreted */
			continue;
		rc = sh_participant_set(p, f->id, f->repeat ? sh_entry_row(rec, e) : NULL, sh_entry_value(rec, e));
	}
	sh_participant_tidy(p);
	return rc;
}

/* (field, row) byte-wise, as the entries are sorted; then the order given. */
static int by_key(const void *a, const void *b)
{
	const struct sh_version_set *x = a, *y = b;
	int c = strcmp(x->field, y->field);

	if (!c)
		c = strcmp(x->row, y->row);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Byte strings a (an bytes) and b (bn bytes), in the order strcmp gives them. */
static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* The key (field, row) of the entry whose strings (lengths ln) start at q, against field f and row r. */
static int key_cmp(const unsigned char *q, const uint64_t ln[5], const void *f, size_t fn, const void *r, size_t rn)
{
	int c = bytes_cmp(q, (size_t)ln[0], f, fn);

	return c ? c : bytes_cmp(q + ln[0], (size_t)ln[1], r, rn);
}

static int key_cmp_set(const unsigned char *q, const uint64_t ln[5], const struct sh_version_set *v)
{
	return key_cmp(q, ln, v->field, strlen(v->field), v->row, strlen(v->row));
}

int sh_packed_set_versions(void *blob, size_t len, bool with_device, struct sh_version_set *vs, size_t n,
			   bool *changed)
{
	unsigned char *p = blob;
	const unsigned char *end = len ? p + len : p, *prev = NULL;
	uint64_t prev_ln[5] = {0};
	int ns = with_device ? 5 : 4;
	size_t j = 0;

	*changed = false;
	for (size_t i = 0; i < n; i++)
		vs[i].order = i;
	if (n > 1)
		qsort(vs, n, sizeof(*vs), by_key);
	while (p < end) { /* to the end: damage anywhere is refused, as unpacking would */
		const unsigned char *q = p;
		uint64_t hlc, old, want, ln[5];
		int c = 1;

		if (!entry_header(&q, end, ns, &hlc, &old, ln))
			return SH_ERR_DB;
		if (prev && key_cmp(q, ln, prev, (size_t)prev_ln[0], prev + prev_ln[0], (size_t)prev_ln[1]) <= 0)
			return SH_ERR_INVALID; /* not in order (written by hand): unpack it instead */
		while (j < n && (c = key_cmp_set(q, ln, &vs[j])) > 0) /* no entry of that key */
			j++;
		for (want = old; j < n && c == 0; c = ++j < n ? key_cmp_set(q, ln, &vs[j]) : 1)
			want = vs[j].version; /* the last given for one entry wins */
		if (want != old) {
			sh_put_digits((char *)p + W_NUM, W_NUM, want);
			*changed = true;
		}
		prev = q;
		memcpy(prev_ln, ln, sizeof(prev_ln));
		p = (unsigned char *)q;
		for (int k = 0; k < ns; k++)
			p += ln[k];
	}
	return SH_OK;
}

bool sh_record_has_news(const void *blob, size_t len, uint64_t after, const char *except)
{
	const unsigned char *p = blob, *end = len ? p + len : p;
	size_t elen = strlen(except);

	while (p < end) {
		uint64_t hlc, version, n[5];

		if (!entry_header(&p, end, 5, &hlc, &version, n))
			return true;
		p += n[0] + n[1] + n[2] + n[3] + n[4];
		if (version > after && (n[4] != elen || memcmp(p - n[4], except, elen) != 0))
			return true;
	}
	return false;
}

void sh_record_compact(struct sh_record *rec)
{
	struct sh_buf live;
	uint32_t *moved;
	size_t need = 0;

	for (size_t i = 0; i < rec->n; i++) {
		const struct sh_entry *e = &rec->e[i];

		need += strlen(rec->strs.data + e->field) + strlen(rec->strs.data + e->row) +
			strlen(rec->strs.data + e->value) + strlen(rec->strs.data + e->author) +
			strlen(rec->strs.data + e->device) + 5;
	}
	if (rec->strs.len <= 2 * need + 1024 || !(moved = sh_calloc(rec->n * 5 + 1, sizeof(*moved))))
		return;
	sh_buf_init(&live, rec->strs.max);
	for (size_t i = 0; i < rec->n; i++) {
		const struct sh_entry *e = &rec->e[i];
		const uint32_t off[5] = {e->field, e->row, e->value, e->author, e->device};

		for (int k = 0; k < 5; k++) {
			const char *str = rec->strs.data + off[k];

			moved[i * 5 + (size_t)k] = (uint32_t)live.len;
			sh_buf_append(&live, str, strlen(str) + 1);
		}
	}
	if (live.err == SH_OK) {
		for (size_t i = 0; i < rec->n; i++) {
			struct sh_entry *e = &rec->e[i];

			e->field = moved[i * 5];
			e->row = moved[i * 5 + 1];
			e->value = moved[i * 5 + 2];
			e->author = moved[i * 5 + 3];
			e->device = moved[i * 5 + 4];
		}
		sh_buf_free(&rec->strs);
		rec->strs = live;
	} else {
		sh_buf_free(&live); /* out of memory: kept as it was, nothing is lost */
	}
	sh_free(moved);
}
