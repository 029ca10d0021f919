/*
 * status.h: a participant's status, a pure function of the field values
 * (DOMAIN.md §3), identical on client and server; and the discharge check.
 *
 *  utkast                  – not all four mandatory fields set (a draft)
 *  utskrevet               – «Utskriv og registrer ferdig» was done
 *  avsluttet               – a sluttdato is registered
 *  mangler registreringer  – required fields still missing
 *  aktiv                   – complete, no sluttdato
 * (checked in this order).
 */
#ifndef SH_STATUS_H
#define SH_STATUS_H

#include <stddef.h>

#include "catalog.h"
#include "participant.h"

enum sh_status {
	SH_STATUS_UTKAST,
	SH_STATUS_MANGLER,
	SH_STATUS_AKTIV,
	SH_STATUS_AVSLUTTET,
	SH_STATUS_UTSKREVET,
	SH_STATUS_COUNT
};

enum sh_status sh_status_of(const struct sh_domain *d, const struct sh_participant *p);
const char *sh_status_code(enum sh_status s);  /* utkast, mangler, aktiv ... */
const char *sh_status_label(enum sh_status s); /* «Mangler registreringer» ... */
/* From a code or a label (case-insensitive); -1 if unknown. */
int sh_status_parse(const char *s);

enum sh_purpose {
	SH_FOR_COMPLETE,  /* what «Aktiv» needs (+ ON_END fields once ended) */
	SH_FOR_DISCHARGE, /* what «Utskriv og registrer ferdig» needs */
};

struct sh_missing {
	enum sh_field_id field;
	const char *row; /* Tiltak row id, or NULL; borrowed from the participant */
};

/*
 * Lists the required fields still empty, in catalogue order, into out (up
 * to cap); returns how many are missing in all (may exceed cap).
 */
size_t sh_missing(const struct sh_domain *d, const struct sh_participant *p,
		  enum sh_purpose purpose, struct sh_missing *out, size_t cap);

/*
 * May the participant be discharged now? SH_OK, or SH_ERR_RULE with the
 * missing fields in out/n (as sh_missing) and a Norwegian sentence in why.
 */
int sh_discharge_check(const struct sh_domain *d, const struct sh_participant *p,
		       struct sh_missing *out, size_t cap, size_t *n,
		       struct sh_reason *why) SH_MUST_USE;

#endif
