/*
 * catalog.h: the field catalogue, the one source of truth for every rule
 * about a participant field (DESIGN.md §2, DOMAIN.md §2–5).
 *
 * One row per field: name, Norwegian label, page, type, code list, range,
 * when it is required, who may write it. Validation (this module and
 * rules.h), status (status.h), storage, exports, the UI form and the
 * protocol all read this table. Adding a field = one enum constant, one row
 * here, and (for a coded field) one file in schema/codes/.
 */
#ifndef SH_CATALOG_H
#define SH_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "codes.h"
#include "err.h"

enum sh_field_id {
	/* Person og prosjekt */
	SH_F_FNR, SH_F_NAVN, SH_F_KJONN, SH_F_STARTDATO, SH_F_KOMMUNE,
	SH_F_FINANSIERING, SH_F_MALGRUPPE,
	/* Bakgrunn */
	SH_F_FODELAND, SH_F_STATSBORGERSKAP, SH_F_ANKOMSTAR, SH_F_INNVANDRINGSGRUNN,
	SH_F_SIVILSTAND, SH_F_ANTALL_BARN, SH_F_ALDER_YNGSTE_BARN, SH_F_HOVEDINNTEKT,
	SH_F_SKOLEAR, SH_F_UTDANNING, SH_F_ARBEIDSERFARING, SH_F_LESER_MORSMAL,
	SH_F_NORSKNIVA_START,
	/* Tiltak: columns of the repeatable rows */
	SH_F_TILTAK_TYPE, SH_F_TILTAK_FRA, SH_F_TILTAK_TIL, SH_F_TILTAK_BESKRIVELSE,
	/* Avslutning */
	SH_F_SLUTTDATO, SH_F_HOVEDARSAK, SH_F_UNDERARSAK, SH_F_NORSKNIVA_SLUTT,
	SH_F_NORSKPROVE, SH_F_UTSKREVET,
	SH_F_COUNT
};

enum sh_page { SH_PAGE_PERSON, SH_PAGE_BAKGRUNN, SH_PAGE_TILTAK, SH_PAGE_AVSLUTNING };

enum sh_ftype {
	SH_FT_TEXT, /* UTF-8, no control characters, max chars */
	SH_FT_DATE, /* YYYY-MM-DD, years min..max */
	SH_FT_CODE, /* a code of the named list */
	SH_FT_INT,  /* decimal integer min..max */
	SH_FT_YEAR, /* a year from min to the current year */
	SH_FT_FNR,  /* fødselsnummer (fnr.h) passing the eligibility check */
};

/* When a field must be filled in. */
enum sh_need {
	SH_NEED_NO,        /* optional */
	SH_NEED_MANDATORY, /* one of the four: a participant exists once all are set */
	SH_NEED_COMPLETE,  /* needed for a complete registration (status «Aktiv») */
	SH_NEED_ON_END,    /* needed once sluttdato is set */
	SH_NEED_DISCHARGE, /* needed for «Utskriv og registrer ferdig» */
};

/* Extra condition on the need (and on whether the field applies at all). */
enum sh_cond {
	SH_COND_ALWAYS,
	SH_COND_POSITIVE,     /* applies only when field `cond_on` > 0 */
	SH_COND_HAS_CHILDREN, /* applies only when the `parent` value has sub-codes */
};

enum sh_writer {
	SH_WRITER_CASEWORKER, /* typed by the caseworker */
	SH_WRITER_SERVER,     /* written by the server (Folkeregisteret) */
	SH_WRITER_ACTION,     /* written only by an action (discharge, reopen) */
};

struct sh_field {
	enum sh_field_id id;
	const char *name;  /* stable ASCII name: CLI, protocol, storage */
	const char *label; /* Norwegian, as the form shows it */
	enum sh_page page;
	enum sh_ftype type;
	const char *codes; /* code list for SH_FT_CODE */
	int min, max;      /* INT/YEAR/DATE(years) range; TEXT: max characters */
	enum sh_need need;
	enum sh_cond cond;
	enum sh_field_id cond_on; /* for SH_COND_POSITIVE */
	enum sh_field_id parent;  /* CODE: the value must be a sub-code of this field's */
	bool has_parent;
	enum sh_writer writer;
	bool repeat; /* a column of the repeatable Tiltak rows */
	bool pii;    /* identifies a person: never logged, not in pseudonymised exports */
};

#define SH_VALUE_MAX 1024 /* bytes of a stored value, after normalisation */

/* The row of a field; id < SH_F_COUNT. */
const struct sh_field *sh_field(enum sh_field_id id);
/* The row with that name, or NULL. */
const struct sh_field *sh_field_by_name(const char *name);
/* Norwegian page title («Person og prosjekt» ...). */
const char *sh_page_title(enum sh_page p);
const char *sh_page_code(enum sh_page p);   /* person, bakgrunn, tiltak, avslutning */
const char *sh_ftype_code(enum sh_ftype t); /* text, date, code, int, year, fnr */
const char *sh_need_code(enum sh_need n);
const char *sh_writer_code(enum sh_writer w);

/*
 * The domain: code lists plus the settings the rules read. Loaded once at
 * start from codes_dir (configuration), checked against the catalogue
 * (every named list present, every forelder a code of the parent's list).
 */
struct sh_domain {
	struct sh_codes *codes;
	bool test_mode;
	bool woman_rule;
};

int sh_domain_load(const char *codes_dir, struct sh_domain **out,
		   struct sh_reason *why) SH_MUST_USE;
/* Loads from configuration (codes_dir, test_mode, woman_rule). */
int sh_domain_load_default(struct sh_domain **out, struct sh_reason *why) SH_MUST_USE;
void sh_domain_free(struct sh_domain *d);

/*
 * Validates and normalises one value of one field on its own (type, code
 * list, range, length, eligibility of a fødselsnummer). `value` NULL or ""
 * means "clear" and is accepted here. On success `norm` (SH_VALUE_MAX + 1
 * bytes) holds the value to store ("" for clear). On failure `why` names the
 * field and says what is wrong, in Norwegian.
 */
int sh_field_check_value(const struct sh_domain *d, const struct sh_field *f,
			 const char *value, char *norm, struct sh_reason *why) SH_MUST_USE;

/* Label of a coded value (or the value itself for other types); never NULL. */
const char *sh_field_display(const struct sh_domain *d, const struct sh_field *f,
			     const char *value);

#endif
