/*
 * fnr.h: Norwegian national identity numbers (fødselsnummer, D-, H- and
 * synthetic Tenor numbers), old rules and the 2032 rules (DOMAIN.md §7).
 *
 * sh_fnr_parse() says whether an 11-digit string is valid and, if not, why;
 * for a valid one it says kind, rule set, gender and birth date where the
 * number carries them. sh_fnr_eligibility() applies the programme's "must be
 * a woman" rule. sh_fnr_generate() makes valid synthetic numbers for tests.
 *
 * How the rule set is decided. With r1 = (Σ w1·d + K1) mod 11:
 *  - old rules need r1 == 0 AND an old-rule reading of the number that can
 *    exist: the individual number gives a century (or the number is a
 *    D-number, whose century is not derivable since 2021), the date exists
 *    in that century, and it is not after today;
 *  - otherwise a number with r1 ∈ {0,1,2,3} whose date exists (with the
 *    century unknown, YY=00 counts as a leap year) is a 2032-rule number:
 *    no gender, no century.
 * So 02813299952 (synthetic; r1 = 0, but "born" 2032-01-02) is read as a
 * 2032-rule number: an old-rule number cannot carry a future birth date.
 */
#ifndef SH_FNR_H
#define SH_FNR_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum sh_fnr_fault {
	SH_FNR_OK = 0,
	SH_FNR_NOT_DIGITS, /* something other than 0-9 */
	SH_FNR_LENGTH,     /* not 11 digits */
	SH_FNR_DATE,       /* the date part is impossible */
	SH_FNR_K1,         /* first check digit wrong */
	SH_FNR_K2,         /* second check digit wrong */
	SH_FNR_SYNTHETIC,  /* a synthetic number outside test mode */
};

enum sh_fnr_kind { SH_FNR_KIND_FNR = 0, SH_FNR_KIND_DNR, SH_FNR_KIND_HNR };
enum sh_fnr_rule { SH_FNR_RULE_OLD = 0, SH_FNR_RULE_2032 };
enum sh_gender { SH_GENDER_UNKNOWN = 0, SH_GENDER_WOMAN, SH_GENDER_MAN };

struct sh_fnr {
	char digits[12];
	enum sh_fnr_fault fault;
	enum sh_fnr_kind kind;
	bool synthetic;      /* Tenor test number (month + 80) */
	enum sh_fnr_rule rule;
	enum sh_gender gender;
	int day, month, yy;  /* the date part with kind offsets removed */
	int year;            /* full birth year, 0 when not derivable */
};

/*
 * Parses `s` (exactly 11 digits; no spaces). Returns SH_OK and fills `out`
 * for a valid number; SH_ERR_INVALID with out->fault set otherwise. Synthetic
 * numbers are valid only when `test_mode` is true.
 */
int sh_fnr_parse(const char *s, bool test_mode, struct sh_fnr *out) SH_MUST_USE;

/* Same, with test mode from configuration (sh_config_test_mode()). */
int sh_fnr_check(const char *s, struct sh_fnr *out) SH_MUST_USE;

/* Norwegian explanation of a fault: "Fødselsnummeret ..." */
const char *sh_fnr_fault_text(enum sh_fnr_fault f);
/* Stable English code: "not_digits", "length", "date", "check_digit_1" ... */
const char *sh_fnr_fault_code(enum sh_fnr_fault f);
const char *sh_fnr_kind_code(const struct sh_fnr *f);  /* fnr, dnr, hnr, synthetic */
const char *sh_fnr_kind_text(const struct sh_fnr *f);  /* Norwegian */
const char *sh_fnr_rule_code(enum sh_fnr_rule r);      /* old, 2032 */
const char *sh_gender_code(enum sh_gender g);          /* kvinne, mann, NULL */
/* Birth date as a day number; false when the century is not derivable. */
bool sh_fnr_birthdate(const struct sh_fnr *f, int *days);

enum sh_elig {
	SH_ELIG_YES = 0,
	SH_ELIG_NO,      /* the number says man and the woman rule is on */
	SH_ELIG_UNKNOWN, /* 2032-rule number: wait for Folkeregisteret */
};
/* The programme's "must be a woman" rule, on a valid number. */
enum sh_elig sh_fnr_eligibility(const struct sh_fnr *f, bool woman_rule);

/* Deterministic generator state for tests (splitmix64). */
struct sh_rng {
	uint64_t s;
};
uint64_t sh_rng_next(struct sh_rng *r);
/* Uniform in [0, n). n > 0. */
uint32_t sh_rng_below(struct sh_rng *r, uint32_t n);

struct sh_fnr_spec {
	enum sh_fnr_kind kind;
	bool synthetic;
	enum sh_fnr_rule rule;
	enum sh_gender gender;  /* UNKNOWN = either; ignored for 2032 rule */
	int min_year, max_year; /* birth years; 0,0 = 1940..2005 */
};

/*
 * Writes a valid number of that specification into out (12 bytes) using
 * rng. For the old rule the result reads back as exactly that kind, rule and
 * gender; for the 2032 rule its first check sum is 1, 2 or 3, so it is valid
 * only under the 2032 rules.
 */
int sh_fnr_generate(struct sh_rng *rng, const struct sh_fnr_spec *spec,
		    char out[12]) SH_MUST_USE;

#endif
