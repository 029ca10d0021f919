/*
 * freg.h: the Folkeregister person lookup, apart from scheduling (lookup.h):
 *  - the API's answer for one person (DOMAIN.md §8): versioned lists of which
 *    exactly one element is current ("erGjeldende"), parsed and checked;
 *  - the synthetic register: a file of synthetic persons (valid synthetic
 *    numbers, Norwegian and international names, gender, status), made
 *    deterministically from a seed, loaded by the `local` backend and served
 *    by the simulator in tests/.
 *
 * Nothing here logs a number or a name. Pure functions; any thread.
 */
#ifndef SS_FREG_H
#define SS_FREG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SS_FREG_BODY_MAX (64 * 1024) /* a person is a few KiB; more is not an answer */
/* a synthetic register's size: well inside the synthetic numbers of women
 * born 1955–2006 (about 4.6 million), so drawing distinct ones stays quick */
#define SS_FREG_PERSONS_MAX 2000000
#define SS_FREG_PERSONS_MAX_TEXT "2 000 000"

struct ss_person {
	char fnr[12];
	char navn[304];  /* "fornavn [mellomnavn] etternavn" */
	char kjonn[8];   /* kvinne, mann, or "" */
	char status[16]; /* bosatt, utflyttet, doed, ... or "" */
};

/*
 * Parses the body of a 200 answer. SH_OK with *p (fnr left empty), or
 * SH_ERR_PROTO with a Norwegian reason: not JSON, no current name, several
 * current elements, an empty or over-long or non-UTF-8 name, an unknown gender.
 */
int ss_freg_parse(const char *body, size_t len, struct ss_person *p, struct sh_reason *why) SH_MUST_USE;

/* The request path for a number (data minimisation: only navn, kjoenn, status). */
void ss_freg_path(const char *fnr, char *out, size_t n);

/* The error body's "kode" (FREG-001 ...) if it has a sane one, else "". */
void ss_freg_error_code(const char *body, size_t len, char out[24]);

/* ---- the synthetic register ------------------------------------------------ */

struct ss_register;

/*
 * Writes `count` synthetic persons made from `seed` to path (fnr;fornavn;
 * mellomnavn;etternavn;kjoenn;status), names from the navn_*.csv lists in
 * codes_dir. The same seed and count give the same file.
 */
int ss_register_generate(const char *codes_dir, const char *path, unsigned count, uint64_t seed,
			 struct sh_reason *why) SH_MUST_USE;
int ss_register_load(const char *path, struct ss_register **out, struct sh_reason *why) SH_MUST_USE;
/* The person with that number, or NULL. */
const struct ss_person *ss_register_find(const struct ss_register *r, const char *fnr);
size_t ss_register_count(const struct ss_register *r);
const struct ss_person *ss_register_at(const struct ss_register *r, size_t i);
void ss_register_free(struct ss_register *r);

#endif
