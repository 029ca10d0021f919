/* status.c: status_of() and the lists of missing fields. */
#include "status.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

static const struct {
	const char *code;
	const char *label;
} names[SH_STATUS_COUNT] = {
	[SH_STATUS_UTKAST] = {"utkast", "Utkast"},
	[SH_STATUS_MANGLER] = {"mangler", "Mangler registreringer"},
	[SH_STATUS_AKTIV] = {"aktiv", "Aktiv"},
	[SH_STATUS_AVSLUTTET] = {"avsluttet", "Avsluttet"},
	[SH_STATUS_UTSKREVET] = {"utskrevet", "Utskrevet"},
};

const char *sh_status_code(enum sh_status s) { return names[s].code; }
const char *sh_status_label(enum sh_status s) { return names[s].label; }

int sh_status_parse(const char *s)
{
	for (int i = 0; s && i < SH_STATUS_COUNT; i++)
		if (strcasecmp(s, names[i].code) == 0 || strcasecmp(s, names[i].label) == 0)
			return i;
	return -1;
}

/* Is a field of this need required for this purpose, given the values? */
static int needed(enum sh_need need, enum sh_purpose purpose, const struct sh_participant *p)
{
	switch (need) {
	case SH_NEED_NO:
		return 0;
	case SH_NEED_MANDATORY:
	case SH_NEED_COMPLETE:
		return 1;
	case SH_NEED_ON_END:
		return purpose == SH_FOR_DISCHARGE || p->v[SH_F_SLUTTDATO] != NULL;
	case SH_NEED_DISCHARGE:
		return purpose == SH_FOR_DISCHARGE;
	}
	return 0;
}

size_t sh_missing(const struct sh_domain *d, const struct sh_participant *p,
		  enum sh_purpose purpose, struct sh_missing *out, size_t cap)
{
	size_t n = 0;

	for (int i = 0; i < SH_F_COUNT; i++) {
		const struct sh_field *f = sh_field(i);

		if (!needed(f->need, purpose, p))
			continue;
		if (f->repeat) {
			for (size_t r = 0; r < p->nrows; r++) {
				if (p->rows[r].v[i])
					continue;
				if (n < cap)
					out[n] = (struct sh_missing){i, p->rows[r].id};
				n++;
			}
		} else if (!p->v[i] && sh_field_applies(d, p, i)) {
			if (n < cap)
				out[n] = (struct sh_missing){i, NULL};
			n++;
		}
	}
	return n;
}

enum sh_status sh_status_of(const struct sh_domain *d, const struct sh_participant *p)
{
	if (!sh_is_participant(p))
		return SH_STATUS_UTKAST;
	if (p->v[SH_F_UTSKREVET])
		return SH_STATUS_UTSKREVET;
	if (p->v[SH_F_SLUTTDATO])
		return SH_STATUS_AVSLUTTET;
	if (sh_missing(d, p, SH_FOR_COMPLETE, NULL, 0) > 0)
		return SH_STATUS_MANGLER;
	return SH_STATUS_AKTIV;
}

int sh_discharge_check(const struct sh_domain *d, const struct sh_participant *p,
		       struct sh_missing *out, size_t cap, size_t *n, struct sh_reason *why)
{
	size_t len = 0;

	*n = sh_missing(d, p, SH_FOR_DISCHARGE, out, cap);
	if (!sh_is_participant(p)) {
		sh_reason_set(why, "Et utkast kan ikke skrives ut. Fyll ut de fire obligatoriske "
			      "feltene først.");
		return SH_ERR_RULE;
	}
	if (*n == 0)
		return SH_OK;
	len = (size_t)snprintf(why->text, sizeof(why->text),
			       "Kan ikke skrive ut: %zu felt mangler:", *n);
	for (size_t i = 0; i < *n && i < cap && len < sizeof(why->text); i++)
		len += (size_t)snprintf(why->text + len, sizeof(why->text) - len, "%s %s",
					i ? "," : "", sh_field(out[i].field)->label);
	if (len < sizeof(why->text))
		snprintf(why->text + len, sizeof(why->text) - len, ".");
	return SH_ERR_RULE;
}
