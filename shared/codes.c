/* codes.c: code-list parsing and lookup. */
#include "codes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

struct sh_codelist {
	char *name;
	char *arena;            /* copy of the file; entries point into it */
	struct sh_code *items;  /* file order */
	const struct sh_code **sorted; /* entries sorted by code */
	size_t n;
	int has_parent;
};

#define MAX_LISTS 64

struct sh_codes {
	struct sh_codelist *list[MAX_LISTS];
	size_t n;
};

static int code_char_ok(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= 'a' && ch <= 'z') || ch == '_' || ch == '-';
}

static int code_ok(const char *c)
{
	size_t n = strlen(c);

	if (n == 0 || n > SH_CODE_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!code_char_ok(c[i]))
			return 0;
	return 1;
}

/* Splits `line` in place at ';' into at most max fields; returns the count. */
static size_t split(char *line, char **field, size_t max)
{
	size_t n = 0;

	field[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == ';') {
			*p = '\0';
			field[n++] = p + 1;
		}
	}
	return n;
}

static int by_code(const void *a, const void *b)
{
	return strcmp((*(const struct sh_code *const *)a)->code,
		      (*(const struct sh_code *const *)b)->code);
}

void sh_codelist_free(struct sh_codelist *l)
{
	if (!l)
		return;
	sh_free(l->name);
	sh_free(l->arena);
	sh_free(l->items);
	sh_free(l->sorted);
	sh_free(l);
}

/* Parses the header line; sets *parent_col (or 0 when absent). */
static int parse_header(struct sh_codelist *l, char *line, size_t *parent_col,
			struct sh_reason *why)
{
	char *f[32];
	size_t n = split(line, f, 32);

	*parent_col = 0;
	if (n < 2 || strcmp(f[0], "kode") != 0 || strcmp(f[1], "navn") != 0) {
		sh_reason_set(why, "Kodelisten %s: første linje må begynne med «kode;navn».", l->name);
		return SH_ERR_CONFIG;
	}
	for (size_t i = 2; i < n; i++)
		if (strcmp(f[i], "forelder") == 0)
			*parent_col = i;
	l->has_parent = *parent_col != 0;
	return SH_OK;
}

static int parse_entry(struct sh_codelist *l, char *line, size_t lineno,
		       size_t parent_col, struct sh_reason *why)
{
	char *f[32];
	size_t n = split(line, f, 32);
	struct sh_code *e;

	if (n < 2 || (parent_col && n <= parent_col)) {
		sh_reason_set(why, "Kodelisten %s linje %zu: for få kolonner.", l->name, lineno);
		return SH_ERR_CONFIG;
	}
	if (!code_ok(f[0])) {
		sh_reason_set(why, "Kodelisten %s linje %zu: ugyldig kode.", l->name, lineno);
		return SH_ERR_CONFIG;
	}
	if (f[1][0] == '\0' || strlen(f[1]) > SH_CODE_LABEL_MAX ||
	    sh_has_control(f[1], strlen(f[1]))) {
		sh_reason_set(why, "Kodelisten %s linje %zu: navnet mangler, er for langt "
			      "eller har kontrolltegn.", l->name, lineno);
		return SH_ERR_CONFIG;
	}
	if (parent_col && !code_ok(f[parent_col])) {
		sh_reason_set(why, "Kodelisten %s linje %zu: ugyldig forelder.", l->name, lineno);
		return SH_ERR_CONFIG;
	}
	if (l->n == SH_CODES_MAX_ENTRIES) {
		sh_reason_set(why, "Kodelisten %s har for mange koder.", l->name);
		return SH_ERR_TOO_BIG;
	}
	e = &l->items[l->n++];
	e->code = f[0];
	e->label = f[1];
	e->parent = parent_col ? f[parent_col] : NULL;
	return SH_OK;
}

int sh_codelist_parse(const char *name, const char *data, size_t len,
		      struct sh_codelist **out, struct sh_reason *why)
{
	struct sh_codelist *l = NULL;
	size_t lines = 1, lineno = 0, parent_col = 0;
	int rc = SH_OK, header = 1;
	char *p, *end;

	*out = NULL;
	if (len > SH_CODES_MAX_FILE) {
		sh_reason_set(why, "Kodelisten %s er for stor.", name);
		return SH_ERR_TOO_BIG;
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (!sh_utf8_valid(data, len) || memchr(data, '\0', len)) {
		sh_reason_set(why, "Kodelisten %s er ikke gyldig UTF-8-tekst.", name);
		return SH_ERR_CONFIG;
	}
	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	l = sh_calloc(1, sizeof(*l));
	if (!l)
		return SH_ERR_NOMEM;
	l->name = sh_strdup(name);
	l->arena = sh_strndup(data, len);
	l->items = sh_calloc(lines, sizeof(*l->items));
	if (!l->name || !l->arena || !l->items) {
		rc = SH_ERR_NOMEM;
		goto out;
	}
	for (p = l->arena; rc == SH_OK && *p; p = end) {
		char *nl = strchr(p, '\n');
		char *e = nl ? nl : p + strlen(p);

		end = nl ? nl + 1 : e;
		*e = '\0';
		if (e > p && e[-1] == '\r')
			e[-1] = '\0';
		lineno++;
		if (*p == '\0' || *p == '#')
			continue;
		if (header) {
			rc = parse_header(l, p, &parent_col, why);
			header = 0;
		} else {
			rc = parse_entry(l, p, lineno, parent_col, why);
		}
	}
	if (rc == SH_OK && (header || l->n == 0)) {
		sh_reason_set(why, "Kodelisten %s har ingen koder.", name);
		rc = SH_ERR_CONFIG;
	}
	if (rc != SH_OK)
		goto out;
	l->sorted = sh_calloc(l->n ? l->n : 1, sizeof(*l->sorted));
	if (!l->sorted) {
		rc = SH_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < l->n; i++)
		l->sorted[i] = &l->items[i];
	qsort(l->sorted, l->n, sizeof(*l->sorted), by_code);
	for (size_t i = 1; i < l->n; i++) {
		if (strcmp(l->sorted[i]->code, l->sorted[i - 1]->code) == 0) {
			sh_reason_set(why, "Kodelisten %s har koden %s to ganger.", name,
				      l->sorted[i]->code);
			rc = SH_ERR_CONFIG;
			goto out;
		}
	}
	*out = l;
	l = NULL;
out:
	sh_codelist_free(l);
	return rc;
}

const char *sh_codelist_name(const struct sh_codelist *l) { return l->name; }
size_t sh_codelist_count(const struct sh_codelist *l) { return l->n; }
int sh_codelist_has_parent(const struct sh_codelist *l) { return l->has_parent; }

const struct sh_code *sh_codelist_at(const struct sh_codelist *l, size_t i)
{
	return i < l->n ? &l->items[i] : NULL;
}

const struct sh_code *sh_codelist_find(const struct sh_codelist *l, const char *code)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(code, l->sorted[mid]->code);

		if (c == 0)
			return l->sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int sh_codes_new(struct sh_codes **out)
{
	*out = sh_calloc(1, sizeof(**out));
	return *out ? SH_OK : SH_ERR_NOMEM;
}

void sh_codes_free(struct sh_codes *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		sh_codelist_free(c->list[i]);
	sh_free(c);
}

static int read_file(const char *path, char **buf, size_t *len, struct sh_reason *why,
		     const char *name)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	char *b;

	*buf = NULL;
	*len = 0;
	if (!f) {
		sh_reason_set(why, "Kan ikke lese kodelisten %s (%s): %s.", name, path, strerror(errno));
		return SH_ERR_CONFIG;
	}
	b = sh_malloc(SH_CODES_MAX_FILE + 1);
	if (!b) {
		fclose(f);
		return SH_ERR_NOMEM;
	}
	n = fread(b, 1, SH_CODES_MAX_FILE + 1, f);
	fclose(f);
	*buf = b;
	*len = n;
	return SH_OK;
}

int sh_codes_load_file(struct sh_codes *c, const char *dir, const char *name,
		       struct sh_reason *why)
{
	char path[4096];
	char *buf = NULL;
	size_t len, i;
	struct sh_codelist *l = NULL;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.csv", dir, name) >= sizeof(path)) {
		sh_reason_set(why, "For lang sti til kodelistene.");
		return SH_ERR_CONFIG;
	}
	rc = read_file(path, &buf, &len, why, name);
	if (rc == SH_OK)
		rc = sh_codelist_parse(name, buf, len, &l, why);
	sh_free(buf);
	if (rc != SH_OK)
		return rc;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->list[i]->name, name) == 0)
			break;
	if (i == MAX_LISTS) {
		sh_codelist_free(l);
		return SH_ERR_TOO_BIG;
	}
	if (i < c->n)
		sh_codelist_free(c->list[i]);
	else
		c->n++;
	c->list[i] = l;
	return SH_OK;
}

const struct sh_codelist *sh_codes_get(const struct sh_codes *c, const char *name)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->list[i]->name, name) == 0)
			return c->list[i];
	return NULL;
}
