/*
 * codes.h: code lists (kommune, finansiering, land ...) loaded from data
 * files in schema/codes/, never C literals.
 *
 * File format: UTF-8 (an optional BOM), ';'-separated, LF or CRLF, a header
 * line whose first two columns are `kode;navn`; an optional column
 * `forelder` names the parent code (underårsak → hovedårsak). Other columns
 * are kept out of the way (ignored). Lines starting with '#' are comments.
 * The loader refuses anything else with a reason naming file and line:
 * it is fuzzed (tests/fuzz/fuzz_codes.c).
 */
#ifndef SH_CODES_H
#define SH_CODES_H

#include <stddef.h>

#include "err.h"

#define SH_CODES_MAX_FILE (1u << 20) /* 1 MiB per list */
#define SH_CODES_MAX_ENTRIES 5000
#define SH_CODE_MAX_LEN 16
#define SH_CODE_LABEL_MAX 200

struct sh_code {
	const char *code;
	const char *label;
	const char *parent; /* NULL when the list has no forelder column */
};

struct sh_codelist; /* opaque: one list, entries in file order */
struct sh_codes;    /* opaque: a set of lists by name */

/*
 * Parses one list from memory. On success *out is a new list the caller
 * frees with sh_codelist_free(). `name` is used in messages and lookups.
 */
int sh_codelist_parse(const char *name, const char *data, size_t len,
		      struct sh_codelist **out, struct sh_reason *why) SH_MUST_USE;
void sh_codelist_free(struct sh_codelist *l);

const char *sh_codelist_name(const struct sh_codelist *l);
size_t sh_codelist_count(const struct sh_codelist *l);
/* Entry i in file order; i < count. */
const struct sh_code *sh_codelist_at(const struct sh_codelist *l, size_t i);
/* Entry with that code, or NULL (binary search). */
const struct sh_code *sh_codelist_find(const struct sh_codelist *l, const char *code);
/* True if the list has a forelder column. */
int sh_codelist_has_parent(const struct sh_codelist *l);

/* An empty set; free with sh_codes_free(). */
int sh_codes_new(struct sh_codes **out) SH_MUST_USE;
void sh_codes_free(struct sh_codes *c);
/* Loads `dir`/`name`.csv into the set (replacing a list of that name). */
int sh_codes_load_file(struct sh_codes *c, const char *dir, const char *name,
		       struct sh_reason *why) SH_MUST_USE;
/* The list of that name, or NULL. Owned by the set. */
const struct sh_codelist *sh_codes_get(const struct sh_codes *c, const char *name);

#endif
