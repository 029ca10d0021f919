/*
 * rules.h: whether one proposed field assignment may be made, given the
 * participant's other values (cross-field rules), and what it implies.
 *
 * Checks, in order: who may write the field (catalogue `writer`); the value
 * on its own (sh_field_check_value); clearing rules (a mandatory field of a
 * participant, or a required field of an utskrevet participant, cannot be
 * emptied); the cross-field rules of the table in rules.c (sluttdato ≥
 * startdato, dates not in the future, tiltak til ≥ fra, ankomstår not before
 * the birth year); sub-codes (underårsak must belong to hovedårsak) and
 * conditions (alder yngste barn only with children).
 *
 * Dependent fields that an accepted change makes inapplicable (underårsak
 * after another hovedårsak, alder yngste barn after antall barn = 0) are
 * returned in `clear`: the caller clears them in the same transaction.
 */
#ifndef SH_RULES_H
#define SH_RULES_H

#include <stdbool.h>

#include "catalog.h"
#include "participant.h"

struct sh_assign {
	enum sh_field_id field;
	const char *row;       /* Tiltak row id for repeat fields, else NULL */
	const char *value;     /* proposed value; NULL or "" clears */
	enum sh_writer writer; /* who is writing */
	bool normalised;       /* value is sh_field_check_value's output for this field: not checked again */
};

struct sh_effects {
	char value[SH_VALUE_MAX + 1]; /* normalised value to store ("" = clear) */
	enum sh_field_id clear[4];    /* dependents to clear as well */
	size_t nclear;
	struct sh_reason why;         /* Norwegian reason when refused */
};

/* SH_OK, SH_ERR_INVALID (bad value) or SH_ERR_RULE (rule refused). */
int sh_rules_check(const struct sh_domain *d, const struct sh_participant *p,
		   const struct sh_assign *a, struct sh_effects *out) SH_MUST_USE;

/* True when all four mandatory fields are set (a participant, not a draft). */
bool sh_is_participant(const struct sh_participant *p);

/*
 * Two participation periods [s1, e1] and [s2, e2] (day numbers; e = -1 for
 * "no end yet") overlap. Used for "one person, two participations".
 */
bool sh_periods_overlap(int s1, int e1, int s2, int e2);

/* Whether field f applies given the other values (catalogue conditions). */
bool sh_field_applies(const struct sh_domain *d, const struct sh_participant *p,
		      enum sh_field_id f);

#endif
