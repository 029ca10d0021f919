/* participant.c: the in-memory participant used by rules and status. */
#include "participant.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void sh_participant_init(struct sh_participant *p) { memset(p, 0, sizeof(*p)); }

static void row_clear(struct sh_row *r)
{
	for (int i = 0; i < SH_F_COUNT; i++)
		sh_free(r->v[i]);
}

void sh_participant_clear(struct sh_participant *p)
{
	for (int i = 0; i < SH_F_COUNT; i++)
		sh_free(p->v[i]);
	for (size_t i = 0; i < p->nrows; i++)
		row_clear(&p->rows[i]);
	sh_free(p->rows);
	sh_participant_init(p);
}

struct sh_row *sh_participant_row(const struct sh_participant *p, const char *row)
{
	for (size_t i = 0; row && i < p->nrows; i++)
		if (strcmp(p->rows[i].id, row) == 0)
			return &p->rows[i];
	return NULL;
}

static int add_row(struct sh_participant *p, const char *row, struct sh_row **out)
{
	if (strlen(row) > SH_ID_LEN)
		return SH_ERR_INVALID;
	if (p->nrows == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4;
		struct sh_row *r = sh_realloc(p->rows, cap * sizeof(*r));

		if (!r)
			return SH_ERR_NOMEM;
		p->rows = r;
		p->cap = cap;
	}
	*out = &p->rows[p->nrows++];
	memset(*out, 0, sizeof(**out));
	memcpy((*out)->id, row, strlen(row) + 1);
	return SH_OK;
}

int sh_participant_set(struct sh_participant *p, enum sh_field_id f, const char *row,
		       const char *value)
{
	const struct sh_field *fd = sh_field(f);
	char **slot, *copy = NULL;
	struct sh_row *r;

	if (!fd || (fd->repeat != (row != NULL)))
		return SH_ERR_INVALID;
	if (value && *value && !(copy = sh_strdup(value)))
		return SH_ERR_NOMEM;
	if (fd->repeat) {
		r = sh_participant_row(p, row);
		if (!r) {
			int rc = add_row(p, row, &r);

			if (rc != SH_OK) {
				sh_free(copy);
				return rc;
			}
		}
		slot = &r->v[f];
	} else {
		slot = &p->v[f];
	}
	sh_free(*slot);
	*slot = copy;
	return SH_OK;
}

void sh_participant_remove_row(struct sh_participant *p, const char *row)
{
	struct sh_row *r = sh_participant_row(p, row);

	if (!r)
		return;
	row_clear(r);
	memmove(r, r + 1, (size_t)(p->rows + p->nrows - (r + 1)) * sizeof(*r));
	p->nrows--;
}

static bool row_empty(const struct sh_row *r)
{
	for (int i = 0; i < SH_F_COUNT; i++)
		if (r->v[i])
			return false;
	return true;
}

static int by_row_id(const void *a, const void *b)
{
	return strcmp(((const struct sh_row *)a)->id, ((const struct sh_row *)b)->id);
}

void sh_participant_tidy(struct sh_participant *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nrows; i++)
		if (!row_empty(&p->rows[i]))
			p->rows[n++] = p->rows[i];
	p->nrows = n;
	if (n > 1)
		qsort(p->rows, n, sizeof(*p->rows), by_row_id);
}

const char *sh_participant_get(const struct sh_participant *p, enum sh_field_id f,
			       const char *row)
{
	const struct sh_field *fd = sh_field(f);
	const struct sh_row *r;

	if (!fd)
		return NULL;
	if (!fd->repeat)
		return p->v[f];
	r = sh_participant_row(p, row);
	return r ? r->v[f] : NULL;
}

void sh_new_id(char out[SH_ID_LEN + 1])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, SH_ID_LEN + 1, raw, sizeof(raw));
}

int sh_id_valid(const char *s)
{
	/* the lowercase hex digits (the server checks every change's id) */
	static const bool hex[256] = {['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
				      ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
				      ['e'] = 1, ['f'] = 1};
	int i = 0;

	if (!s)
		return 0;
	while (i < SH_ID_LEN && hex[(unsigned char)s[i]])
		i++;
	return i == SH_ID_LEN && s[i] == '\0';
}
