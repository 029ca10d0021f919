/* wire.c: encoders and strict decoders of the sealed bodies. */
#include "wire.h"

#include <sodium.h>
#include <string.h>

#include "alloc.h"
#include "catalog.h"
#include "hlc.h"
#include "participant.h"
#include "proto.h"
#include "text.h"

bool sh_wire_id_ok(const char *s) { return sh_id_valid(s); }

enum { SH_AUTHOR_MAX = 256 }; /* bytes of an author's name in a page */

static void put_opt(struct sh_buf *b, const char *s)
{
	if (s)
		sh_buf_json_str(b, s);
	else
		sh_buf_puts(b, "null");
}

/* The JSON literals of an element's strings: their lengths measured once, then written. */
struct lits {
	const char *s[3];
	size_t n[3], enc[3];
};

/* The length of "a","b","c", (lits_at) */
static size_t lits_measure(struct lits *l, const char *a, const char *b, const char *c)
{
	l->s[0] = a, l->s[1] = b, l->s[2] = c;
	return (l->enc[0] = sh_json_str_len(a, &l->n[0])) + (l->enc[1] = sh_json_str_len(b, &l->n[1])) +
	       (l->enc[2] = sh_json_str_len(c, &l->n[2])) + 3;
}

/* "a","b","c", */
static char *lits_at(char *o, const struct lits *l)
{
	for (int i = 0; i < 3; i++) {
		o = sh_json_str_at(o, l->s[i], l->n[i], l->enc[i]);
		*o++ = ',';
	}
	return o;
}

/* "16 hex digits" */
static char *hlc_at(char *o, uint64_t h)
{
	*o = '"';
	sh_hlc_encode(h, o + 1); /* its NUL where the closing quote goes */
	o[SH_HLC_TEXT_LEN + 1] = '"';
	return o + SH_HLC_TEXT_LEN + 2;
}

enum { HLC_LIT = SH_HLC_TEXT_LEN + 2 };

static void put_hlc(struct sh_buf *b, uint64_t h)
{
	char *o = sh_buf_extend(b, HLC_LIT);

	if (o)
		hlc_at(o, h);
}

/* field, row, value, hlc, base]: the whole of it made room for at once */
static void change_rest(struct sh_buf *b, const struct sh_change *c)
{
	struct lits l;
	size_t nb = sh_u64_len(c->base), len = lits_measure(&l, c->field, c->row, c->value) + HLC_LIT + 1 + nb + 1;
	char *o = sh_buf_extend(b, len);

	if (!o)
		return;
	o = hlc_at(lits_at(o, &l), c->hlc);
	*o++ = ',';
	o = sh_put_digits(o, (int)nb, c->base);
	*o = ']';
}

void sh_wire_change_put(struct sh_buf *b, bool first, const struct sh_change *c)
{
	sh_buf_puts(b, first ? "[" : ",[");
	change_rest(b, c);
}

/* A hash as it goes: hashed and emptied whenever it holds 64 KiB. */
static void hash_flush(crypto_generichash_state *h, struct sh_buf *b, bool all)
{
	if ((all || b->len >= 1 << 16) && b->err == SH_OK) {
		crypto_generichash_update(h, (const unsigned char *)b->data, b->len);
		sh_buf_reset(b);
	}
}

static int hash_final(crypto_generichash_state *h, struct sh_buf *b, unsigned char out[32])
{
	int rc = b->err;

	hash_flush(h, b, true);
	if (rc == SH_OK)
		crypto_generichash_final(h, out, 32);
	sh_buf_free(b);
	return rc;
}

int sh_wire_changes_hash(const struct sh_change *c, size_t n, unsigned char out[32])
{
	static const char tag[] = "jsr change-set 1"; /* with its NUL: no body in JSON starts so */
	crypto_generichash_state h;
	struct sh_buf b;

	sh_buf_init(&b, SIZE_MAX);
	crypto_generichash_init(&h, NULL, 0, 32);
	sh_buf_append(&b, tag, sizeof(tag));
	for (size_t i = 0; i < n; i++) {
		unsigned char nums[16];

		/* strings with their NULs (none holds one), the numbers little-endian */
		sh_buf_append(&b, c[i].participant, strlen(c[i].participant) + 1);
		sh_buf_append(&b, c[i].field, strlen(c[i].field) + 1);
		sh_buf_append(&b, c[i].row, strlen(c[i].row) + 1);
		sh_buf_append(&b, c[i].value, strlen(c[i].value) + 1);
		for (int k = 0; k < 8; k++) {
			nums[k] = (unsigned char)(c[i].hlc >> (8 * k));
			nums[8 + k] = (unsigned char)(c[i].base >> (8 * k));
		}
		sh_buf_append(&b, nums, sizeof(nums));
		hash_flush(&h, &b, false);
	}
	return hash_final(&h, &b, out);
}

int sh_wire_changes_hash_v2(const struct sh_change *c, size_t n, unsigned char out[32])
{
	crypto_generichash_state h;
	struct sh_buf b;

	sh_buf_init(&b, SIZE_MAX);
	crypto_generichash_init(&h, NULL, 0, 32);
	sh_buf_puts(&b, "{\"changes\":[");
	for (size_t i = 0; i < n; i++) {
		sh_buf_puts(&b, i ? ",[" : "[");
		sh_buf_json_str(&b, c[i].participant);
		sh_buf_append(&b, ",", 1);
		change_rest(&b, &c[i]);
		hash_flush(&h, &b, false);
	}
	sh_buf_puts(&b, "]}");
	return hash_final(&h, &b, out);
}

static void result_put(struct sh_buf *b, bool first, const struct sh_result *r, size_t run)
{
	sh_buf_puts(b, first ? "[" : ",[");
	sh_buf_json_str(b, r->code);
	sh_buf_append(b, ",", 1);
	sh_buf_u64(b, r->version);
	sh_buf_append(b, ",", 1);
	put_opt(b, r->value);
	sh_buf_append(b, ",", 1);
	put_opt(b, r->reason);
	if (run > 1) {
		sh_buf_append(b, ",", 1);
		sh_buf_u64(b, run);
	}
	sh_buf_append(b, "]", 1);
}

void sh_wire_results_begin(struct sh_results *w, struct sh_buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->first = true;
	sh_buf_append(b, "[", 1);
}

static void results_flush(struct sh_results *w)
{
	if (!w->run.code)
		return;
	result_put(w->b, w->first, &w->run, w->n);
	w->first = false;
	w->run.code = NULL;
	w->n = 0;
}

void sh_wire_results_add(struct sh_results *w, const struct sh_result *r)
{
	bool plain = !r->value && !r->reason;

	if (plain && w->run.code && strcmp(w->run.code, r->code) == 0 && r->version == w->run.version + w->n) {
		w->n++;
		return;
	}
	results_flush(w);
	if (plain) {
		w->run = *r;
		w->n = 1;
		return;
	}
	result_put(w->b, w->first, r, 1);
	w->first = false;
}

void sh_wire_results_end(struct sh_results *w)
{
	results_flush(w);
	sh_buf_append(w->b, "]", 1);
}

void sh_wire_participant_begin(struct sh_buf *b, bool first, const char *participant, const char *author)
{
	sh_buf_puts(b, first ? "[" : ",[");
	sh_buf_json_str(b, participant);
	if (author) {
		sh_buf_append(b, ",", 1);
		sh_buf_json_str(b, author);
	}
	sh_buf_append(b, ",[", 2);
}

void sh_wire_participant_end(struct sh_buf *b) { sh_buf_append(b, "]]", 2); }

void sh_wire_op_put(struct sh_buf *b, bool first, const struct sh_op *o, const char *author)
{
	struct lits l;
	bool own = strcmp(o->author, author) != 0;
	size_t na = 0, nv = sh_u64_len(o->version), ea = own ? sh_json_str_len(o->author, &na) + 1 : 0;
	size_t len = !first + 1 + lits_measure(&l, o->field, o->row, o->value) + nv + 1 + HLC_LIT + ea + 1;
	char *w = sh_buf_extend(b, len);

	if (!w)
		return;
	if (!first)
		*w++ = ',';
	*w++ = '[';
	w = sh_put_digits(lits_at(w, &l), (int)nv, o->version);
	*w++ = ',';
	w = hlc_at(w, o->hlc);
	if (own) {
		*w++ = ',';
		w = sh_json_str_at(w, o->author, na, ea - 1);
	}
	*w = ']';
}

void sh_wire_conflict_put(struct sh_buf *b, bool first, const struct sh_conflict *c)
{
	sh_buf_printf(b, "%s{\"id\":%lld,\"seq\":%llu,\"kind\":", first ? "" : ",", (long long)c->id,
		      (unsigned long long)c->seq);
	sh_buf_json_str(b, c->kind);
	sh_buf_puts(b, ",\"participant\":");
	sh_buf_json_str(b, c->participant);
	sh_buf_puts(b, ",\"kommune\":");
	put_opt(b, c->kommune);
	sh_buf_puts(b, ",\"field\":");
	put_opt(b, c->field);
	sh_buf_puts(b, ",\"row\":");
	put_opt(b, c->row);
	sh_buf_puts(b, ",\"winner\":");
	put_opt(b, c->winner);
	sh_buf_puts(b, ",\"loser\":");
	put_opt(b, c->loser);
	sh_buf_puts(b, ",\"winner_author\":");
	put_opt(b, c->winner_author);
	sh_buf_puts(b, ",\"loser_author\":");
	put_opt(b, c->loser_author);
	sh_buf_puts(b, ",\"winner_hlc\":");
	put_hlc(b, c->winner_hlc);
	sh_buf_puts(b, ",\"loser_hlc\":");
	put_hlc(b, c->loser_hlc);
	sh_buf_puts(b, ",\"other\":");
	put_opt(b, c->other);
	sh_buf_puts(b, ",\"other_kommune\":");
	put_opt(b, c->other_kommune);
	sh_buf_printf(b, ",\"resolved\":%s}", c->resolved ? "true" : "false");
}

/* ---- decoding ------------------------------------------------------------ */

/*
 * An array of min to max elements, its elements in it[] (one walk of the
 * list: cJSON finds an element by index by walking from the first); the
 * number of them in *size, if size is not NULL.
 */
static bool tuple(const cJSON *a, const cJSON **it, int min, int max, int *size)
{
	const cJSON *v;
	int n = 0;

	if (!cJSON_IsArray(a))
		return false;
	for (v = a->child; v; v = v->next) {
		if (n == max)
			return false;
		it[n++] = v;
	}
	if (size)
		*size = n;
	return n >= min;
}

static const char *item_str(const cJSON *v, size_t max)
{
	size_t n;

	if (!cJSON_IsString(v))
		return NULL;
	n = strlen(v->valuestring);
	return n <= max && sh_utf8_valid(v->valuestring, n) ? v->valuestring : NULL;
}

static bool item_u64(const cJSON *v, uint64_t *out)
{
	return sh_json_u64_value(v, SH_JSON_INT_MAX, out) == SH_OK;
}

static bool item_hlc(const cJSON *v, uint64_t *out)
{
	const char *s = item_str(v, SH_HLC_TEXT_LEN);

	return s && sh_hlc_decode(s, out) == SH_OK;
}

/* An optional string: JSON null or a string. */
static bool item_opt(const cJSON *v, size_t max, const char **out)
{
	*out = NULL;
	if (cJSON_IsNull(v))
		return true;
	return (*out = item_str(v, max)) != NULL;
}

/* Field name and row must fit each other (repeat fields need a row id). */
static bool field_row_ok(const char *field, const char *row)
{
	const struct sh_field *f;

	if (strcmp(field, SH_RESOLVE) == 0) {
		size_t n = strlen(row);

		return n > 0 && n <= 18 && strspn(row, "0123456789") == n;
	}
	f = sh_field_by_name(field);
	if (!f)
		return false;
	return f->repeat ? sh_id_valid(row) : row[0] == '\0';
}

void sh_wire_doc_free(struct sh_wire_doc *d)
{
	sh_arena_json_free(d->root, d->arena);
	d->root = NULL;
	d->arena = NULL;
}

static int parse_body(const char *body, size_t len, struct sh_wire_doc *doc, struct sh_reason *why)
{
	doc->root = sh_arena_parse(body, len, &doc->arena);
	if (!doc->root || !cJSON_IsObject(doc->root)) {
		sh_wire_doc_free(doc);
		sh_reason_set(why, "Innholdet er ikke et gyldig JSON-objekt.");
		return SH_ERR_PROTO;
	}
	return SH_OK;
}

static const cJSON *array_of(const cJSON *root, const char *key, size_t max, size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);

	*n = 0;
	if (!cJSON_IsArray(a))
		return NULL;
	*n = (size_t)cJSON_GetArraySize(a);
	return *n <= max ? a : NULL;
}

/*
 * One participant of a change-set, [participant, [...]], or (author not
 * NULL) of a page, [participant, author, [...]]; its changes or values,
 * or NULL.
 */
static const cJSON *participant_of(const cJSON *p, const char **id, const char **author)
{
	const cJSON *it[3];
	int k = author ? 2 : 1;

	if (!tuple(p, it, k + 1, k + 1, NULL) || !(*id = item_str(it[0], SH_ID_LEN)) || !sh_id_valid(*id) ||
	    (author && !(*author = item_str(it[1], SH_AUTHOR_MAX))) || !cJSON_IsArray(it[k]))
		return NULL;
	return it[k];
}

int sh_wire_changes_decode(const char *body, size_t len, struct sh_wire_doc *doc, struct sh_change **out,
			   size_t *n, struct sh_reason *why)
{
	const cJSON *ps, *p, *e;
	struct sh_change *c;
	size_t i = 0, np;

	*out = NULL;
	*n = 0;
	if (parse_body(body, len, doc, why) != SH_OK)
		return SH_ERR_PROTO;
	ps = array_of(doc->root, "participants", SH_CHANGESET_MAX, &np);
	if (!ps) {
		sh_reason_set(why, "Endringssettet må ha 1–%d endringer.", SH_CHANGESET_MAX);
		goto bad;
	}
	/* the shape first, and the number of changes in all */
	cJSON_ArrayForEach(p, ps) {
		const char *id;
		const cJSON *changes = participant_of(p, &id, NULL);

		if (!changes || !changes->child) {
			sh_reason_set(why, "Deltaker nr. %zu i endringssettet er ugyldig.", i + 1);
			goto bad;
		}
		if ((*n += (size_t)cJSON_GetArraySize(changes)) > SH_CHANGESET_MAX)
			break;
		i++;
	}
	if (*n == 0 || *n > SH_CHANGESET_MAX) {
		sh_reason_set(why, "Endringssettet må ha 1–%d endringer.", SH_CHANGESET_MAX);
		goto bad;
	}
	if (!(c = *out = sh_calloc(*n, sizeof(*c)))) {
		*n = 0;
		sh_wire_doc_free(doc);
		return SH_ERR_NOMEM;
	}
	i = 0;
	cJSON_ArrayForEach(p, ps) {
		const char *id;

		cJSON_ArrayForEach(e, participant_of(p, &id, NULL)) {
			struct sh_change *x = &c[i];
			const cJSON *it[5];

			x->participant = id;
			if (!tuple(e, it, 5, 5, NULL) || !(x->field = item_str(it[0], 64)) ||
			    !(x->row = item_str(it[1], SH_ID_LEN)) || !field_row_ok(x->field, x->row) ||
			    !(x->value = item_str(it[2], SH_VALUE_MAX)) || !item_hlc(it[3], &x->hlc) ||
			    !item_u64(it[4], &x->base)) {
				sh_reason_set(why, "Endring nr. %zu i endringssettet er ugyldig.", i + 1);
				goto bad;
			}
			i++;
		}
	}
	return SH_OK;
bad:
	sh_free(*out);
	*out = NULL;
	*n = 0;
	sh_wire_doc_free(doc);
	return SH_ERR_PROTO;
}

int sh_wire_ack_decode(const char *body, size_t len, struct sh_wire_doc *doc, uint64_t *seq,
		       struct sh_result **out, size_t *n, struct sh_reason *why)
{
	static const char *codes[] = {"applied", "superseded", "conflict", "rejected"};
	const cJSON *a, *e;
	struct sh_result *r;
	size_t i = 0, elements;

	*out = NULL;
	*n = 0;
	if (parse_body(body, len, doc, why) != SH_OK)
		return SH_ERR_PROTO;
	a = array_of(doc->root, "results", SH_CHANGESET_MAX, &elements);
	if (!a || sh_json_u64(doc->root, "seq", UINT32_MAX, seq) != SH_OK) {
		sh_reason_set(why, "Kvitteringen er ugyldig.");
		goto bad;
	}
	/* the number of results: runs count as their length */
	cJSON_ArrayForEach(e, a) {
		const cJSON *it[5];
		uint64_t k = 1;

		if (tuple(e, it, 5, 5, NULL) && (!item_u64(it[4], &k) || k < 2 || k > SH_CHANGESET_MAX))
			goto bad_item;
		if ((*n += (size_t)k) > SH_CHANGESET_MAX) {
			sh_reason_set(why, "Kvitteringen har flere enn %d resultater.", SH_CHANGESET_MAX);
			goto bad;
		}
		i++;
	}
	i = 0;
	r = sh_calloc(*n ? *n : 1, sizeof(*r));
	if (!r) {
		sh_wire_doc_free(doc);
		*n = 0;
		return SH_ERR_NOMEM;
	}
	*out = r;
	cJSON_ArrayForEach(e, a) {
		struct sh_result *x = &r[i];
		const cJSON *it[5];
		int size;
		uint64_t k = 1;
		bool known = false;

		if (!tuple(e, it, 4, 5, &size) || !(x->code = item_str(it[0], 16)) ||
		    !item_u64(it[1], &x->version) || !item_opt(it[2], SH_VALUE_MAX, &x->value) ||
		    !item_opt(it[3], 1024, &x->reason))
			goto bad_item;
		for (size_t c = 0; c < 4; c++)
			known |= strcmp(x->code, codes[c]) == 0;
		if (!known)
			goto bad_item;
		if (size == 5) { /* a run: plain results at consecutive versions */
			(void)item_u64(it[4], &k);
			if (x->value || x->reason || x->version > SH_JSON_INT_MAX - (k - 1))
				goto bad_item;
			for (uint64_t j = 1; j < k; j++)
				r[i + j] = (struct sh_result){x->code, x->version + j, NULL, NULL};
		}
		i += (size_t)k;
	}
	return SH_OK;
bad_item:
	sh_reason_set(why, "Resultat nr. %zu i kvitteringen er ugyldig.", i + 1);
bad:
	sh_free(*out);
	*out = NULL;
	*n = 0;
	sh_wire_doc_free(doc);
	return SH_ERR_PROTO;
}

static bool conflict_decode(const cJSON *o, struct sh_conflict *c)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "resolved");
	uint64_t id;
	const char *wh, *lh;

#define OPT(key, dst)                                                                      \
	do {                                                                               \
		const cJSON *v_ = cJSON_GetObjectItemCaseSensitive(o, key);                \
		if (cJSON_IsNull(v_))                                                      \
			(dst) = NULL;                                                      \
		else if (!((dst) = sh_json_str(o, key, SH_VALUE_MAX)))                     \
			return false;                                                      \
	} while (0)
	if (!cJSON_IsObject(o) || sh_json_u64(o, "id", INT64_MAX, &id) != SH_OK ||
	    sh_json_u64(o, "seq", SH_JSON_INT_MAX, &c->seq) != SH_OK || !cJSON_IsBool(res))
		return false;
	c->id = (int64_t)id;
	c->resolved = cJSON_IsTrue(res);
	if (!(c->kind = sh_json_str(o, "kind", 16)) ||
	    (strcmp(c->kind, "field") != 0 && strcmp(c->kind, "duplicate") != 0) ||
	    !(c->participant = sh_json_str(o, "participant", SH_ID_LEN)) ||
	    !sh_id_valid(c->participant))
		return false;
	OPT("kommune", c->kommune);
	OPT("field", c->field);
	OPT("row", c->row);
	OPT("winner", c->winner);
	OPT("loser", c->loser);
	OPT("winner_author", c->winner_author);
	OPT("loser_author", c->loser_author);
	OPT("other", c->other);
	OPT("other_kommune", c->other_kommune);
#undef OPT
	wh = sh_json_str(o, "winner_hlc", SH_HLC_TEXT_LEN);
	lh = sh_json_str(o, "loser_hlc", SH_HLC_TEXT_LEN);
	return wh && lh && sh_hlc_decode(wh, &c->winner_hlc) == SH_OK &&
	       sh_hlc_decode(lh, &c->loser_hlc) == SH_OK &&
	       (!c->other || sh_id_valid(c->other));
}

void sh_wire_page_free(struct sh_pull_page *page)
{
	sh_free(page->ops);
	sh_free(page->conflicts);
	memset(page, 0, sizeof(*page));
}

int sh_wire_page_decode(const char *body, size_t len, struct sh_wire_doc *doc, struct sh_pull_page *page,
			struct sh_reason *why)
{
	const cJSON *ps, *p, *cf, *e, *more;
	size_t i = 0, np;

	memset(page, 0, sizeof(*page));
	if (parse_body(body, len, doc, why) != SH_OK)
		return SH_ERR_PROTO;
	ps = array_of(doc->root, "participants", SH_PAGE_MAX, &np);
	cf = array_of(doc->root, "conflicts", SH_PAGE_MAX, &page->nconflicts);
	more = cJSON_GetObjectItemCaseSensitive(doc->root, "more");
	if (!ps || !cf || !cJSON_IsBool(more) ||
	    sh_json_u64(doc->root, "next", SH_JSON_INT_MAX, &page->next) != SH_OK ||
	    sh_json_u64(doc->root, "server_seq", SH_JSON_INT_MAX, &page->server_seq) != SH_OK ||
	    /* none from a server of before the base: everything up to next is out */
	    sh_json_u64_or(doc->root, "base", page->next, page->next, &page->base) != SH_OK) {
		sh_reason_set(why, "Siden fra serveren er ugyldig.");
		goto bad;
	}
	page->more = cJSON_IsTrue(more);
	/* the shape first, and the number of values in all */
	cJSON_ArrayForEach(p, ps) {
		const char *id, *author;
		const cJSON *values = participant_of(p, &id, &author);

		if (!values) {
			sh_reason_set(why, "Deltaker nr. %zu fra serveren er ugyldig.", i + 1);
			goto bad;
		}
		page->nops += (size_t)cJSON_GetArraySize(values);
		if (page->nops > SH_PAGE_MAX) {
			sh_reason_set(why, "Siden fra serveren har mer enn %d verdier.", SH_PAGE_MAX);
			goto bad;
		}
		i++;
	}
	page->ops = sh_calloc(page->nops ? page->nops : 1, sizeof(*page->ops));
	page->conflicts = sh_calloc(page->nconflicts ? page->nconflicts : 1, sizeof(*page->conflicts));
	if (!page->ops || !page->conflicts) {
		sh_wire_page_free(page);
		sh_wire_doc_free(doc);
		return SH_ERR_NOMEM;
	}
	i = 0;
	cJSON_ArrayForEach(p, ps) {
		const char *id, *author;

		cJSON_ArrayForEach(e, participant_of(p, &id, &author)) {
			struct sh_op *o = &page->ops[i];
			const cJSON *it[6];
			int size;

			o->participant = id;
			o->author = author;
			if (!tuple(e, it, 5, 6, &size) || !(o->field = item_str(it[0], 64)) ||
			    !(o->row = item_str(it[1], SH_ID_LEN)) || !field_row_ok(o->field, o->row) ||
			    !(o->value = item_str(it[2], SH_VALUE_MAX)) || !item_u64(it[3], &o->version) ||
			    !item_hlc(it[4], &o->hlc) || (size == 6 && !(o->author = item_str(it[5], SH_AUTHOR_MAX)))) {
				sh_reason_set(why, "Endring nr. %zu fra serveren er ugyldig.", i + 1);
				goto bad;
			}
			i++;
		}
	}
	i = 0;
	cJSON_ArrayForEach(e, cf) {
		if (!conflict_decode(e, &page->conflicts[i])) {
			sh_reason_set(why, "Konflikt nr. %zu fra serveren er ugyldig.", i + 1);
			goto bad;
		}
		i++;
	}
	return SH_OK;
bad:
	sh_wire_page_free(page);
	sh_wire_doc_free(doc);
	return SH_ERR_PROTO;
}
