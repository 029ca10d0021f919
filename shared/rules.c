/* rules.c: cross-field rules as a table, and dependent-field clearing. */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "fnr.h"
#include "text.h"

enum rule_kind {
	R_NOT_FUTURE,  /* a ≤ today */
	R_NOT_BEFORE,  /* a ≥ b (same row for repeat fields) */
	R_NOT_BEFORE_BIRTH, /* year a ≥ birth year of fødselsnummer b */
};

static const struct rule {
	enum rule_kind kind;
	enum sh_field_id a, b;
} rules[] = {
	{R_NOT_FUTURE, SH_F_STARTDATO, SH_F_COUNT},
	{R_NOT_FUTURE, SH_F_SLUTTDATO, SH_F_COUNT},
	{R_NOT_BEFORE, SH_F_SLUTTDATO, SH_F_STARTDATO},
	{R_NOT_BEFORE, SH_F_TILTAK_TIL, SH_F_TILTAK_FRA},
	{R_NOT_BEFORE_BIRTH, SH_F_ANKOMSTAR, SH_F_FNR},
};

bool sh_is_participant(const struct sh_participant *p)
{
	for (int i = 0; i < SH_F_COUNT; i++)
		if (sh_field(i)->need == SH_NEED_MANDATORY && !p->v[i])
			return false;
	return true;
}

bool sh_periods_overlap(int s1, int e1, int s2, int e2)
{
	/* open end = far future */
	if (e1 < 0)
		e1 = 0x7fffffff;
	if (e2 < 0)
		e2 = 0x7fffffff;
	return s1 <= e2 && s2 <= e1;
}

static bool has_children(const struct sh_domain *d, const struct sh_field *child,
			 const char *parent_value)
{
	const struct sh_codelist *l = sh_codes_get(d->codes, child->codes);

	for (size_t i = 0; parent_value && l && i < sh_codelist_count(l); i++)
		if (strcmp(sh_codelist_at(l, i)->parent, parent_value) == 0)
			return true;
	return false;
}

static bool positive(const char *v) { return v && strtol(v, NULL, 10) > 0; }

/* Condition of field f, given a value lookup (which may be hypothetical). */
static bool applies(const struct sh_domain *d, const struct sh_field *f,
		    const char *const *v)
{
	switch (f->cond) {
	case SH_COND_POSITIVE:
		return positive(v[f->cond_on]);
	case SH_COND_HAS_CHILDREN:
		return has_children(d, f, v[f->parent]);
	case SH_COND_ALWAYS:
		break;
	}
	return true;
}

bool sh_field_applies(const struct sh_domain *d, const struct sh_participant *p,
		      enum sh_field_id f)
{
	return applies(d, sh_field(f), (const char *const *)p->v);
}

static int date_of(const char *v)
{
	int days = 0;

	return (v && sh_date_parse(v, &days) == SH_OK) ? days : -1;
}

/*
 * One rule on hypothetical values v (single fields) and row (the edited
 * Tiltak row, or NULL). Returns false with `why` set when it is broken.
 */
static bool rule_holds(const struct rule *r, const char *const *v, const char *const *row,
		       struct sh_reason *why)
{
	const struct sh_field *fa = sh_field(r->a), *fb = sh_field(r->b);
	const char *a = fa->repeat ? (row ? row[r->a] : NULL) : v[r->a];
	const char *b = !fb ? NULL : fb->repeat ? (row ? row[r->b] : NULL) : v[r->b];
	char da[11], db[11];
	struct sh_fnr n;

	if (!a)
		return true;
	switch (r->kind) {
	case R_NOT_FUTURE:
		if (date_of(a) > sh_today()) {
			sh_reason_set(why, "%s kan ikke være fram i tid.", fa->label);
			return false;
		}
		return true;
	case R_NOT_BEFORE:
		if (b && date_of(a) < date_of(b)) {
			sh_date_format_no(date_of(a), da);
			sh_date_format_no(date_of(b), db);
			sh_reason_set(why, "%s (%s) kan ikke være før %s (%s).", fa->label, da,
				      fb->label, db);
			return false;
		}
		return true;
	case R_NOT_BEFORE_BIRTH:
		if (b && sh_fnr_parse(b, true, &n) == SH_OK && n.year &&
		    strtol(a, NULL, 10) < n.year) {
			sh_reason_set(why, "%s (%s) kan ikke være før fødselsåret (%d).", fa->label,
				      a, n.year);
			return false;
		}
		return true;
	}
	return true;
}

static int check_writer(const struct sh_field *f, enum sh_writer w, struct sh_reason *why)
{
	if (f->writer == w)
		return SH_OK;
	if (f->writer == SH_WRITER_SERVER)
		sh_reason_set(why, "%s hentes fra Folkeregisteret og kan ikke endres her.", f->label);
	else if (f->writer == SH_WRITER_ACTION)
		sh_reason_set(why, "%s settes bare av handlingen «Utskriv og registrer ferdig».",
			      f->label);
	else
		sh_reason_set(why, "%s kan bare endres av saksbehandleren.", f->label);
	return SH_ERR_RULE;
}

static int check_clear(const struct sh_domain *d, const struct sh_participant *p,
		       const struct sh_field *f, const char *const *row, struct sh_reason *why)
{
	if (f->need == SH_NEED_MANDATORY && sh_is_participant(p)) {
		sh_reason_set(why, "%s er obligatorisk og kan ikke tømmes.", f->label);
		return SH_ERR_RULE;
	}
	if (p->v[SH_F_UTSKREVET] && f->need != SH_NEED_NO &&
	    (f->repeat ? row != NULL : applies(d, f, (const char *const *)p->v))) {
		sh_reason_set(why, "Deltakeren er utskrevet: %s kan rettes, men ikke tømmes. "
			      "Gjenåpne deltakeren først.", f->label);
		return SH_ERR_RULE;
	}
	return SH_OK;
}

/* Sub-code and condition checks for a non-empty value of f. */
static int check_dependency(const struct sh_domain *d, const struct sh_field *f,
			    const char *value, const char *const *v, struct sh_reason *why)
{
	if (f->has_parent) {
		const struct sh_field *pf = sh_field(f->parent);
		const struct sh_code *c = sh_codelist_find(sh_codes_get(d->codes, f->codes), value);

		if (!v[f->parent]) {
			sh_reason_set(why, "Velg %s før %s.", pf->label, f->label);
			return SH_ERR_RULE;
		}
		if (strcmp(c->parent, v[f->parent]) != 0) {
			sh_reason_set(why, "%s «%s» hører ikke til %s «%s».", f->label, c->label,
				      pf->label, sh_field_display(d, pf, v[f->parent]));
			return SH_ERR_RULE;
		}
	}
	if (f->cond == SH_COND_POSITIVE && !positive(v[f->cond_on])) {
		sh_reason_set(why, "%s kan bare fylles ut når %s er mer enn 0.", f->label,
			      sh_field(f->cond_on)->label);
		return SH_ERR_RULE;
	}
	return SH_OK;
}

/* Dependents of f that the hypothetical values v make inapplicable. */
static void find_dependents(const struct sh_domain *d, const struct sh_participant *p,
			    const struct sh_field *f, const char *const *v,
			    struct sh_effects *out)
{
	for (int i = 0; i < SH_F_COUNT && out->nclear < 4; i++) {
		const struct sh_field *g = sh_field(i);
		bool linked = (g->has_parent && g->parent == f->id) ||
			      (g->cond == SH_COND_POSITIVE && g->cond_on == f->id);

		if (!linked || !p->v[i])
			continue;
		if (g->has_parent) {
			const struct sh_code *c =
				sh_codelist_find(sh_codes_get(d->codes, g->codes), p->v[i]);

			if (v[f->id] && c && strcmp(c->parent, v[f->id]) == 0)
				continue;
		} else if (applies(d, g, v)) {
			continue;
		}
		out->clear[out->nclear++] = g->id;
	}
}

int sh_rules_check(const struct sh_domain *d, const struct sh_participant *p,
		   const struct sh_assign *a, struct sh_effects *out)
{
	const struct sh_field *f = sh_field(a->field);
	const char *v[SH_F_COUNT];
	const char *rowv[SH_F_COUNT];
	const struct sh_row *row = NULL;
	int rc;

	/* not the whole struct: this runs for every change a server merges */
	out->value[0] = '\0';
	out->nclear = 0;
	out->why.text[0] = '\0';
	if (!f)
		return SH_ERR_INVALID;
	if ((rc = check_writer(f, a->writer, &out->why)) != SH_OK)
		return rc;
	if (f->repeat && !a->row) {
		sh_reason_set(&out->why, "%s hører til en tiltaksrad; oppgi raden.", f->label);
		return SH_ERR_INVALID;
	}
	if (a->normalised)
		sh_str_copy(out->value, sizeof(out->value), a->value ? a->value : "");
	else if ((rc = sh_field_check_value(d, f, a->value, out->value, &out->why)) != SH_OK)
		return rc;

	/* the hypothetical values after the change */
	memcpy(v, p->v, sizeof(v));
	memset(rowv, 0, sizeof(rowv));
	if (f->repeat) {
		row = sh_participant_row(p, a->row);
		if (row)
			memcpy(rowv, row->v, sizeof(rowv));
		rowv[f->id] = out->value[0] ? out->value : NULL;
	} else {
		v[f->id] = out->value[0] ? out->value : NULL;
	}

	if (out->value[0] == '\0') {
		rc = check_clear(d, p, f, row ? (const char *const *)rowv : NULL, &out->why);
		if (rc != SH_OK)
			return rc;
	} else if ((rc = check_dependency(d, f, out->value, v, &out->why)) != SH_OK) {
		return rc;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		if (rules[i].a != f->id && rules[i].b != f->id)
			continue;
		if (!rule_holds(&rules[i], v, rowv, &out->why))
			return SH_ERR_RULE;
	}
	if (!f->repeat)
		find_dependents(d, p, f, v, out);
	return SH_OK;
}
