/* catalog.c: the field catalogue table and per-value validation. */
#include "catalog.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "date.h"
#include "fnr.h"
#include "text.h"

#define P SH_PAGE_PERSON
#define B SH_PAGE_BAKGRUNN
#define T SH_PAGE_TILTAK
#define A SH_PAGE_AVSLUTNING

/* Keep in enum order; a unit test checks that row i has id i. */
static const struct sh_field fields[SH_F_COUNT] = {
	{.id = SH_F_FNR, .name = "fnr", .label = "Fødselsnummer", .page = P,
	 .type = SH_FT_FNR, .need = SH_NEED_MANDATORY, .pii = true},
	{.id = SH_F_NAVN, .name = "navn", .label = "Navn", .page = P,
	 .type = SH_FT_TEXT, .max = 200, .writer = SH_WRITER_SERVER, .pii = true},
	{.id = SH_F_KJONN, .name = "kjonn", .label = "Kjønn", .page = P,
	 .type = SH_FT_CODE, .codes = "kjonn", .writer = SH_WRITER_SERVER},
	{.id = SH_F_STARTDATO, .name = "startdato", .label = "Dato for oppstart", .page = P,
	 .type = SH_FT_DATE, .min = 2000, .max = 2100, .need = SH_NEED_MANDATORY},
	{.id = SH_F_KOMMUNE, .name = "kommune", .label = "Kommune", .page = P,
	 .type = SH_FT_CODE, .codes = "kommune", .need = SH_NEED_MANDATORY},
	{.id = SH_F_FINANSIERING, .name = "finansiering", .label = "Type finansiering",
	 .page = P, .type = SH_FT_CODE, .codes = "finansiering", .need = SH_NEED_MANDATORY},
	{.id = SH_F_MALGRUPPE, .name = "malgruppe", .label = "Målgruppe", .page = P,
	 .type = SH_FT_CODE, .codes = "malgruppe", .need = SH_NEED_COMPLETE},

	{.id = SH_F_FODELAND, .name = "fodeland", .label = "Fødeland", .page = B,
	 .type = SH_FT_CODE, .codes = "land", .need = SH_NEED_COMPLETE},
	{.id = SH_F_STATSBORGERSKAP, .name = "statsborgerskap", .label = "Statsborgerskap",
	 .page = B, .type = SH_FT_CODE, .codes = "land", .need = SH_NEED_COMPLETE},
	{.id = SH_F_ANKOMSTAR, .name = "ankomstar", .label = "Ankomstår til Norge", .page = B,
	 .type = SH_FT_YEAR, .min = 1940, .need = SH_NEED_COMPLETE},
	{.id = SH_F_INNVANDRINGSGRUNN, .name = "innvandringsgrunn", .label = "Innvandringsgrunn",
	 .page = B, .type = SH_FT_CODE, .codes = "innvandringsgrunn", .need = SH_NEED_COMPLETE},
	{.id = SH_F_SIVILSTAND, .name = "sivilstand", .label = "Sivilstand", .page = B,
	 .type = SH_FT_CODE, .codes = "sivilstand", .need = SH_NEED_COMPLETE},
	{.id = SH_F_ANTALL_BARN, .name = "antall_barn", .label = "Antall barn", .page = B,
	 .type = SH_FT_INT, .min = 0, .max = 20, .need = SH_NEED_COMPLETE},
	{.id = SH_F_ALDER_YNGSTE_BARN, .name = "alder_yngste_barn", .label = "Alder på yngste barn",
	 .page = B, .type = SH_FT_INT, .min = 0, .max = 50, .need = SH_NEED_COMPLETE,
	 .cond = SH_COND_POSITIVE, .cond_on = SH_F_ANTALL_BARN},
	{.id = SH_F_HOVEDINNTEKT, .name = "hovedinntekt", .label = "Hovedinntekt ved start",
	 .page = B, .type = SH_FT_CODE, .codes = "hovedinntekt", .need = SH_NEED_COMPLETE},
	{.id = SH_F_SKOLEAR, .name = "skolear", .label = "Skoleår i hjemlandet", .page = B,
	 .type = SH_FT_INT, .min = 0, .max = 30, .need = SH_NEED_COMPLETE},
	{.id = SH_F_UTDANNING, .name = "utdanning", .label = "Høyeste fullførte utdanning",
	 .page = B, .type = SH_FT_CODE, .codes = "utdanning", .need = SH_NEED_COMPLETE},
	{.id = SH_F_ARBEIDSERFARING, .name = "arbeidserfaring", .label = "Arbeidserfaring",
	 .page = B, .type = SH_FT_CODE, .codes = "arbeidserfaring", .need = SH_NEED_COMPLETE},
	{.id = SH_F_LESER_MORSMAL, .name = "leser_morsmal", .label = "Leser og skriver morsmålet",
	 .page = B, .type = SH_FT_CODE, .codes = "janei", .need = SH_NEED_COMPLETE},
	{.id = SH_F_NORSKNIVA_START, .name = "norskniva_start", .label = "Norsknivå ved start",
	 .page = B, .type = SH_FT_CODE, .codes = "norskniva", .need = SH_NEED_COMPLETE},

	{.id = SH_F_TILTAK_TYPE, .name = "tiltak.type", .label = "Tiltak", .page = T,
	 .type = SH_FT_CODE, .codes = "tiltakstype", .need = SH_NEED_COMPLETE, .repeat = true},
	{.id = SH_F_TILTAK_FRA, .name = "tiltak.fra", .label = "Tiltak fra dato", .page = T,
	 .type = SH_FT_DATE, .min = 1990, .max = 2100, .need = SH_NEED_COMPLETE, .repeat = true},
	{.id = SH_F_TILTAK_TIL, .name = "tiltak.til", .label = "Tiltak til dato", .page = T,
	 .type = SH_FT_DATE, .min = 1990, .max = 2100, .need = SH_NEED_DISCHARGE, .repeat = true},
	{.id = SH_F_TILTAK_BESKRIVELSE, .name = "tiltak.beskrivelse", .label = "Beskrivelse av tiltaket",
	 .page = T, .type = SH_FT_TEXT, .max = 200, .repeat = true},

	{.id = SH_F_SLUTTDATO, .name = "sluttdato", .label = "Sluttdato", .page = A,
	 .type = SH_FT_DATE, .min = 2000, .max = 2100, .need = SH_NEED_DISCHARGE},
	{.id = SH_F_HOVEDARSAK, .name = "hovedarsak", .label = "Hovedårsak til avslutning",
	 .page = A, .type = SH_FT_CODE, .codes = "hovedarsak", .need = SH_NEED_ON_END},
	{.id = SH_F_UNDERARSAK, .name = "underarsak", .label = "Underårsak til avslutning",
	 .page = A, .type = SH_FT_CODE, .codes = "underarsak", .need = SH_NEED_ON_END,
	 .cond = SH_COND_HAS_CHILDREN, .parent = SH_F_HOVEDARSAK, .has_parent = true},
	{.id = SH_F_NORSKNIVA_SLUTT, .name = "norskniva_slutt", .label = "Norsknivå ved slutt",
	 .page = A, .type = SH_FT_CODE, .codes = "norskniva", .need = SH_NEED_DISCHARGE},
	{.id = SH_F_NORSKPROVE, .name = "norskprove", .label = "Bestått norskprøve", .page = A,
	 .type = SH_FT_CODE, .codes = "norskprove", .need = SH_NEED_DISCHARGE},
	{.id = SH_F_UTSKREVET, .name = "utskrevet", .label = "Utskrevet dato", .page = A,
	 .type = SH_FT_DATE, .min = 2000, .max = 2100, .writer = SH_WRITER_ACTION},
};

#undef P
#undef B
#undef T
#undef A

const struct sh_field *sh_field(enum sh_field_id id)
{
	return (unsigned)id < SH_F_COUNT ? &fields[id] : NULL;
}

/*
 * Fields by name: an open-addressed table of their indexes (+1, 0 empty),
 * made once. Every value read from a page, a change-set or a record is
 * looked up here, so a scan of the catalogue was a cost of its own.
 */
enum { NAME_SLOTS = 128 };
_Static_assert(SH_F_COUNT * 2 <= NAME_SLOTS, "the name table must stay sparse");
static unsigned char by_name[NAME_SLOTS];
static pthread_once_t by_name_once = PTHREAD_ONCE_INIT;

static size_t name_slot(const char *name) { return sh_str_hash(name) & (NAME_SLOTS - 1); }

static void index_names(void)
{
	for (int f = 0; f < SH_F_COUNT; f++) {
		size_t i = name_slot(fields[f].name);

		while (by_name[i])
			i = (i + 1) & (NAME_SLOTS - 1);
		by_name[i] = (unsigned char)(f + 1);
	}
}

const struct sh_field *sh_field_by_name(const char *name)
{
	if (!name)
		return NULL;
	pthread_once(&by_name_once, index_names);
	for (size_t i = name_slot(name); by_name[i]; i = (i + 1) & (NAME_SLOTS - 1))
		if (strcmp(fields[by_name[i] - 1].name, name) == 0)
			return &fields[by_name[i] - 1];
	return NULL;
}

const char *sh_page_title(enum sh_page p)
{
	static const char *t[] = {"Person og prosjekt", "Bakgrunn", "Tiltak", "Avslutning"};

	return t[p];
}

const char *sh_page_code(enum sh_page p)
{
	static const char *t[] = {"person", "bakgrunn", "tiltak", "avslutning"};

	return t[p];
}

const char *sh_ftype_code(enum sh_ftype t)
{
	static const char *c[] = {"text", "date", "code", "int", "year", "fnr"};

	return c[t];
}

const char *sh_need_code(enum sh_need n)
{
	static const char *c[] = {"optional", "mandatory", "complete", "on_end", "discharge"};

	return c[n];
}

const char *sh_writer_code(enum sh_writer w)
{
	static const char *c[] = {"caseworker", "server", "action"};

	return c[w];
}

void sh_domain_free(struct sh_domain *d)
{
	if (!d)
		return;
	sh_codes_free(d->codes);
	sh_free(d);
}

/* Every forelder of a child list must be a code of the parent field's list. */
static int check_parents(const struct sh_domain *d, struct sh_reason *why)
{
	for (int i = 0; i < SH_F_COUNT; i++) {
		const struct sh_field *f = &fields[i];
		const struct sh_codelist *child, *parent;

		if (!f->has_parent)
			continue;
		child = sh_codes_get(d->codes, f->codes);
		parent = sh_codes_get(d->codes, fields[f->parent].codes);
		if (!sh_codelist_has_parent(child)) {
			sh_reason_set(why, "Kodelisten %s mangler kolonnen forelder.", f->codes);
			return SH_ERR_CONFIG;
		}
		for (size_t k = 0; k < sh_codelist_count(child); k++) {
			const struct sh_code *c = sh_codelist_at(child, k);

			if (!sh_codelist_find(parent, c->parent)) {
				sh_reason_set(why, "Kodelisten %s: koden %s har forelderen %s, "
					      "som ikke finnes i %s.", f->codes, c->code,
					      c->parent, fields[f->parent].codes);
				return SH_ERR_CONFIG;
			}
		}
	}
	return SH_OK;
}

int sh_domain_load(const char *codes_dir, struct sh_domain **out, struct sh_reason *why)
{
	struct sh_domain *d;
	int rc;

	*out = NULL;
	d = sh_calloc(1, sizeof(*d));
	if (!d)
		return SH_ERR_NOMEM;
	d->test_mode = sh_config_test_mode();
	d->woman_rule = sh_config_woman_rule();
	rc = sh_codes_new(&d->codes);
	for (int i = 0; rc == SH_OK && i < SH_F_COUNT; i++)
		if (fields[i].codes && !sh_codes_get(d->codes, fields[i].codes))
			rc = sh_codes_load_file(d->codes, codes_dir, fields[i].codes, why);
	if (rc == SH_OK)
		rc = check_parents(d, why);
	if (rc != SH_OK) {
		sh_domain_free(d);
		return rc;
	}
	*out = d;
	return SH_OK;
}

int sh_domain_load_default(struct sh_domain **out, struct sh_reason *why)
{
	return sh_domain_load(sh_config_str("codes_dir"), out, why);
}

/* Digits only, no sign, at most 9 of them: canonical decimal into norm. */
static bool parse_int(const char *v, long *out)
{
	size_t n = strlen(v);

	if (n == 0 || n > 9 || strspn(v, "0123456789") != n)
		return false;
	*out = strtol(v, NULL, 10);
	return true;
}

static int check_text(const struct sh_field *f, const char *v, char *norm, struct sh_reason *why)
{
	size_t len = strlen(v);
	const char *s = v, *e = v + len;

	if (!sh_utf8_valid(v, len)) {
		sh_reason_set(why, "%s: teksten er ikke gyldig UTF-8.", f->label);
		return SH_ERR_INVALID;
	}
	if (sh_has_control(v, len)) {
		sh_reason_set(why, "%s: teksten inneholder kontrolltegn.", f->label);
		return SH_ERR_INVALID;
	}
	while (s < e && *s == ' ')
		s++;
	while (e > s && e[-1] == ' ')
		e--;
	if (sh_utf8_chars(s, (size_t)(e - s)) > (size_t)f->max || (size_t)(e - s) > SH_VALUE_MAX) {
		sh_reason_set(why, "%s kan ha høyst %d tegn.", f->label, f->max);
		return SH_ERR_INVALID;
	}
	memcpy(norm, s, (size_t)(e - s));
	norm[e - s] = '\0';
	return SH_OK;
}

static int check_fnr(const struct sh_domain *d, const struct sh_field *f, const char *v,
		     char *norm, struct sh_reason *why)
{
	struct sh_fnr n;

	if (sh_fnr_parse(v, d->test_mode, &n) != SH_OK) {
		sh_reason_set(why, "%s", sh_fnr_fault_text(n.fault)); /* names the field */
		return SH_ERR_INVALID;
	}
	if (sh_fnr_eligibility(&n, d->woman_rule) == SH_ELIG_NO) {
		sh_reason_set(why, "%s: Jobbsjansen er for kvinner, og nummeret tilhører en mann.",
			      f->label);
		return SH_ERR_RULE;
	}
	memcpy(norm, n.digits, 12);
	return SH_OK;
}

int sh_field_check_value(const struct sh_domain *d, const struct sh_field *f,
			 const char *value, char *norm, struct sh_reason *why)
{
	const struct sh_codelist *l;
	long n;
	int days, y, m, dd;

	norm[0] = '\0';
	if (!value || value[0] == '\0')
		return SH_OK;
	if (strlen(value) > SH_VALUE_MAX) {
		sh_reason_set(why, "%s: verdien er for lang.", f->label);
		return SH_ERR_INVALID;
	}
	switch (f->type) {
	case SH_FT_TEXT:
		return check_text(f, value, norm, why);
	case SH_FT_FNR:
		return check_fnr(d, f, value, norm, why);
	case SH_FT_DATE:
		if (sh_date_parse(value, &days) != SH_OK) {
			sh_reason_set(why, "%s: «%s» er ikke en gyldig dato (skriv ÅÅÅÅ-MM-DD).",
				      f->label, sh_text_echo(value));
			return SH_ERR_INVALID;
		}
		sh_date_ymd(days, &y, &m, &dd);
		if (y < f->min || y > f->max) {
			sh_reason_set(why, "%s må være mellom år %d og %d.", f->label, f->min, f->max);
			return SH_ERR_INVALID;
		}
		sh_date_format(days, norm);
		return SH_OK;
	case SH_FT_INT:
	case SH_FT_YEAR: {
		int max = f->type == SH_FT_YEAR ? (sh_date_ymd(sh_today(), &y, &m, &dd), y) : f->max;

		if (!parse_int(value, &n) || n < f->min || n > max) {
			sh_reason_set(why, "%s må være et helt tall fra %d til %d.", f->label, f->min, max);
			return SH_ERR_INVALID;
		}
		while (value[0] == '0' && value[1]) /* digits only (parse_int): as %ld prints n */
			value++;
		memcpy(norm, value, strlen(value) + 1);
		return SH_OK;
	}
	case SH_FT_CODE:
		l = sh_codes_get(d->codes, f->codes);
		if (!l || !sh_codelist_find(l, value)) {
			sh_reason_set(why, "%s: «%s» er ikke en kode i listen %s.", f->label,
				      sh_text_echo(value), f->codes);
			return SH_ERR_INVALID;
		}
		memcpy(norm, value, strlen(value) + 1);
		return SH_OK;
	}
	return SH_ERR_INTERNAL;
}

const char *sh_field_display(const struct sh_domain *d, const struct sh_field *f,
			     const char *value)
{
	const struct sh_codelist *l;
	const struct sh_code *c;

	if (!value)
		return "";
	if (f->type != SH_FT_CODE)
		return value;
	l = sh_codes_get(d->codes, f->codes);
	c = l ? sh_codelist_find(l, value) : NULL;
	return c ? c->label : value;
}
