/* err.c: the table behind err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *code;
	const char *user;
	const char *log;
} table[SH_ERR_COUNT] = {
	[0] = {"ok", "Utført.", "ok"},
	[1] = {"nomem", "Ikke nok minne.", "out of memory"},
	[2] = {"invalid", "Ugyldig verdi.", "invalid value"},
	[3] = {"rule", "Handlingen bryter en regel i registeret.", "business rule refused the action"},
	[4] = {"not_found", "Fant ikke det du ba om.", "not found"},
	[5] = {"usage", "Feil bruk av kommandoen.", "usage error"},
	[6] = {"db", "Databasefeil.", "database error"},
	[7] = {"io", "Feil ved lesing eller skriving.", "I/O error"},
	[8] = {"config", "Feil i oppsettet.", "configuration error"},
	[9] = {"schema", "Databasen er laget av en nyere versjon av programmet.", "database schema is newer than this program"},
	[10] = {"clock", "Klokken til motparten går for langt foran.", "remote clock too far ahead"},
	[11] = {"proto", "Ugyldig melding.", "malformed protocol message"},
	[12] = {"crypto", "Meldingen kunne ikke åpnes eller bekreftes.", "box failed to open or verify"},
	[13] = {"too_big", "For stor melding eller verdi.", "input over hard cap"},
	[14] = {"auth", "Innloggingen mislyktes eller er utløpt. Logg inn på nytt.", "authentication failed or session expired"},
	[15] = {"denied", "Du har ikke tilgang til dette.", "access denied"},
	[16] = {"conflict", "Endringen kolliderte med en annen endring.", "concurrent change"},
	[17] = {"busy", "Systemet er opptatt. Prøv igjen om litt.", "busy"},
	[18] = {"internal", "Intern feil i programmet.", "internal error"},
};

static int idx(int err)
{
	int i = -err;

	return (i >= 0 && i < SH_ERR_COUNT) ? i : -SH_ERR_INTERNAL;
}

const char *sh_err_code(int err) { return table[idx(err)].code; }
const char *sh_err_user(int err) { return table[idx(err)].user; }
const char *sh_err_log(int err) { return table[idx(err)].log; }

int sh_err_from_code(const char *code)
{
	for (int i = 0; code && i < SH_ERR_COUNT; i++)
		if (strcmp(table[i].code, code) == 0)
			return -i;
	return SH_ERR_INTERNAL;
}

void sh_reason_set(struct sh_reason *r, const char *fmt, ...)
{
	va_list ap;

	if (!r)
		return;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}
