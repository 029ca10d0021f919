/* freg.c: the Folkeregister answer parser and the synthetic register. */
#include "freg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fnr.h"
#include "proto.h"
#include "text.h"

/* ---- the answer ------------------------------------------------------------------ */

/*
 * The one current element of a versioned list, or NULL with why. A list
 * that is missing or empty gives NULL with *absent set (not an error for
 * optional parts).
 */
static const cJSON *current(const cJSON *root, const char *part, bool *absent, struct sh_reason *why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, part), *it, *found = NULL;
	int n = 0;

	*absent = !list || cJSON_IsNull(list) || (cJSON_IsArray(list) && cJSON_GetArraySize(list) == 0);
	if (*absent)
		return NULL;
	if (!cJSON_IsArray(list)) {
		sh_reason_set(why, "Svaret fra Folkeregisteret har feil form (%s er ikke en liste).", part);
		return NULL;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(it, "erGjeldende");

		if (!cJSON_IsObject(it)) {
			sh_reason_set(why, "Svaret fra Folkeregisteret har feil form (%s).", part);
			return NULL;
		}
		if (cJSON_IsTrue(g)) {
			found = it;
			n++;
		}
	}
	if (n != 1) {
		sh_reason_set(why, n ? "Svaret fra Folkeregisteret har flere gjeldende %s." :
				       "Svaret fra Folkeregisteret har ingen gjeldende %s.", part);
		return NULL;
	}
	return found;
}

/* A name part: absent is "", present must be sane text. */
static bool name_part(const cJSON *o, const char *key, bool required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = "";
	if (!v || cJSON_IsNull(v))
		return !required;
	if (!cJSON_IsString(v))
		return false;
	size_t n = strlen(v->valuestring);
	if ((required && n == 0) || n > 100 || !sh_utf8_valid(v->valuestring, n) ||
	    sh_has_control(v->valuestring, n))
		return false;
	*out = v->valuestring;
	return true;
}

int ss_freg_parse(const char *body, size_t len, struct ss_person *p, struct sh_reason *why)
{
	static const char *const genders[] = {"kvinne", "mann"};
	cJSON *root;
	const cJSON *navn, *k, *st;
	const char *fornavn, *mellom, *etter;
	bool absent;
	int rc = SH_ERR_PROTO;

	memset(p, 0, sizeof(*p));
	if (len > SS_FREG_BODY_MAX) {
		sh_reason_set(why, "Svaret fra Folkeregisteret er for stort.");
		return SH_ERR_PROTO;
	}
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		sh_reason_set(why, "Svaret fra Folkeregisteret er ikke gyldig JSON.");
		goto out;
	}
	navn = current(root, "navn", &absent, why);
	if (!navn) {
		if (absent)
			sh_reason_set(why, "Svaret fra Folkeregisteret mangler navn.");
		goto out;
	}
	if (!name_part(navn, "fornavn", true, &fornavn) || !name_part(navn, "mellomnavn", false, &mellom) ||
	    !name_part(navn, "etternavn", true, &etter)) {
		sh_reason_set(why, "Navnet i svaret fra Folkeregisteret mangler eller er ugyldig.");
		goto out;
	}
	snprintf(p->navn, sizeof(p->navn), "%s%s%s %s", fornavn, *mellom ? " " : "", mellom, etter);
	k = current(root, "kjoenn", &absent, why);
	if (k) {
		const char *g = sh_json_str(k, "kjoenn", 8);

		for (size_t i = 0; g && i < 2; i++)
			if (strcmp(g, genders[i]) == 0)
				snprintf(p->kjonn, sizeof(p->kjonn), "%s", genders[i]);
		if (!p->kjonn[0]) {
			sh_reason_set(why, "Kjønnet i svaret fra Folkeregisteret er ukjent.");
			goto out;
		}
	} else if (!absent) {
		goto out;
	}
	st = current(root, "status", &absent, why);
	if (st) {
		const char *s = sh_json_str(st, "status", sizeof(p->status) - 1);

		if (s && strspn(s, "abcdefghijklmnopqrstuvwxyz") == strlen(s))
			snprintf(p->status, sizeof(p->status), "%s", s);
	} else if (!absent) {
		goto out;
	}
	rc = SH_OK;
out:
	cJSON_Delete(root);
	if (rc != SH_OK)
		memset(p, 0, sizeof(*p));
	return rc;
}

void ss_freg_path(const char *fnr, char *out, size_t n)
{
	snprintf(out, n, "/folkeregisteret/offentlig-med-hjemmel/api/v1/personer/%s?part=navn&part=kjoenn"
			 "&part=status", fnr);
}

void ss_freg_error_code(const char *body, size_t len, char out[24])
{
	cJSON *root = len <= SS_FREG_BODY_MAX ? cJSON_ParseWithLength(body, len) : NULL;
	const char *k = root ? sh_json_str(root, "kode", 20) : NULL;

	out[0] = '\0';
	if (k && strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == strlen(k))
		snprintf(out, 24, "%s", k);
	cJSON_Delete(root);
}

/* ---- the synthetic register -------------------------------------------------------- */

struct ss_register {
	struct ss_person *p; /* sorted by fnr */
	size_t n;
};

struct names {
	char (*v)[64];
	char *gender; /* 'k', 'm' or 0 */
	size_t n;
};

static void names_free(struct names *l)
{
	sh_free(l->v);
	sh_free(l->gender);
	memset(l, 0, sizeof(*l));
}

/* A navn_*.csv list: header, then name[;kjoenn]. */
static int names_load(const char *dir, const char *file, struct names *l, struct sh_reason *why)
{
	char path[4200], line[256];
	FILE *f;
	size_t cap = 0;

	memset(l, 0, sizeof(*l));
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "r"))) {
		sh_reason_set(why, "Kan ikke lese navnelisten %s: %s.", path, strerror(errno));
		return SH_ERR_IO;
	}
	for (int ln = 0; fgets(line, sizeof(line), f); ln++) {
		char *semi;

		line[strcspn(line, "\r\n")] = '\0';
		if (ln == 0 || !line[0])
			continue;
		if (l->n == cap) {
			void *v = sh_realloc(l->v, (cap = cap ? cap * 2 : 64) * sizeof(*l->v));
			void *g = v ? sh_realloc(l->gender, cap) : NULL;

			if (v)
				l->v = v;
			if (!v || !g) {
				fclose(f);
				names_free(l);
				return SH_ERR_NOMEM;
			}
			l->gender = g;
		}
		semi = strchr(line, ';');
		l->gender[l->n] = semi ? (semi[1] == 'k' ? 'k' : 'm') : 0;
		if (semi)
			*semi = '\0';
		snprintf(l->v[l->n++], sizeof(*l->v), "%.63s", line);
	}
	fclose(f);
	if (l->n == 0) {
		sh_reason_set(why, "Navnelisten %s er tom.", path);
		return SH_ERR_INVALID;
	}
	return SH_OK;
}

static const char *pick(struct sh_rng *rng, const struct names *l, char gender)
{
	for (;;) {
		size_t i = sh_rng_below(rng, (uint32_t)l->n);

		if (!gender || !l->gender[i] || l->gender[i] == gender)
			return l->v[i];
	}
}

static int by_fnr(const void *a, const void *b)
{
	return strcmp(((const struct ss_person *)a)->fnr, ((const struct ss_person *)b)->fnr);
}

int ss_register_generate(const char *codes_dir, const char *path, unsigned count, uint64_t seed,
			 struct sh_reason *why)
{
	static const struct {
		unsigned per_mille;
		const char *status;
	} statuses[] = {{940, "bosatt"}, {970, "utflyttet"}, {985, "doed"}, {995, "forsvunnet"},
			{1000, "opphoert"}};
	struct names first = {0}, middle = {0}, last = {0};
	struct sh_rng rng = {seed ? seed : 1};
	struct ss_person *p = NULL;
	char tmp[4200];
	FILE *f = NULL;
	int rc;

	if ((rc = names_load(codes_dir, "navn_fornavn.csv", &first, why)) != SH_OK ||
	    (rc = names_load(codes_dir, "navn_mellomnavn.csv", &middle, why)) != SH_OK ||
	    (rc = names_load(codes_dir, "navn_etternavn.csv", &last, why)) != SH_OK)
		goto out;
	if (count == 0 || count > SS_FREG_PERSONS_MAX) {
		rc = SH_ERR_INVALID;
		sh_reason_set(why, "Antallet må være mellom 1 og " SS_FREG_PERSONS_MAX_TEXT ".");
		goto out;
	}
	if (!(p = sh_calloc(count, sizeof(*p)))) {
		rc = SH_ERR_NOMEM;
		sh_reason_set(why, "Ikke nok minne til %u personer.", count);
		goto out;
	}
	for (unsigned i = 0; i < count; i++) {
		/* mostly ordinary numbers; some D-numbers; some under the 2032 rules (no gender in them) */
		unsigned kind = sh_rng_below(&rng, 100), st = sh_rng_below(&rng, 1000);
		bool woman = sh_rng_below(&rng, 100) < 60;
		struct sh_fnr_spec spec = {kind < 8 ? SH_FNR_KIND_DNR : SH_FNR_KIND_FNR, true,
					   kind >= 92 ? SH_FNR_RULE_2032 : SH_FNR_RULE_OLD,
					   woman ? SH_GENDER_WOMAN : SH_GENDER_MAN, 1955, 2006};
		const char *fn = pick(&rng, &first, woman ? 'k' : 'm');
		const char *mn = sh_rng_below(&rng, 100) < 25 ? pick(&rng, &middle, 0) : "";

		if ((rc = sh_fnr_generate(&rng, &spec, p[i].fnr)) != SH_OK)
			goto out;
		snprintf(p[i].navn, sizeof(p[i].navn), "%.63s;%.63s;%.63s", fn, mn, pick(&rng, &last, 0));
		snprintf(p[i].kjonn, sizeof(p[i].kjonn), "%s", woman ? "kvinne" : "mann");
		for (size_t k = 0; k < sizeof(statuses) / sizeof(*statuses); k++)
			if (st < statuses[k].per_mille) {
				snprintf(p[i].status, sizeof(p[i].status), "%s", statuses[k].status);
				break;
			}
	}
	/* one person per number: each round gives every repeat a fresh number, then sorts once */
	for (unsigned round = 0, before = UINT_MAX;; round++) {
		char prev[12] = "";
		unsigned repeats = 0;

		qsort(p, count, sizeof(*p), by_fnr);
		for (unsigned i = 0; i < count; i++) {
			struct sh_fnr_spec spec = {SH_FNR_KIND_FNR, true, SH_FNR_RULE_OLD,
						   strcmp(p[i].kjonn, "kvinne") == 0 ? SH_GENDER_WOMAN : SH_GENDER_MAN,
						   1955, 2006};

			if (strcmp(p[i].fnr, prev) != 0) {
				memcpy(prev, p[i].fnr, sizeof(prev));
				continue;
			}
			repeats++;
			if ((rc = sh_fnr_generate(&rng, &spec, p[i].fnr)) != SH_OK)
				goto out;
		}
		if (!repeats)
			break;
		if (repeats >= before || round == 30) { /* the numbers for these births run out */
			sh_reason_set(why, "Fant ikke %u ulike syntetiske fødselsnumre; velg et mindre antall.", count);
			rc = SH_ERR_INVALID;
			goto out;
		}
		before = repeats;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w"))) {
		sh_reason_set(why, "Kan ikke skrive %s: %s.", tmp, strerror(errno));
		rc = SH_ERR_IO;
		goto out;
	}
	fprintf(f, "fnr;fornavn;mellomnavn;etternavn;kjoenn;status\n");
	for (unsigned i = 0; i < count; i++)
		fprintf(f, "%s;%s;%s;%s\n", p[i].fnr, p[i].navn, p[i].kjonn, p[i].status);
	if (fflush(f) != 0 || ferror(f) || fclose(f) != 0 || rename(tmp, path) != 0) {
		f = NULL;
		sh_reason_set(why, "Kan ikke skrive %s: %s.", path, strerror(errno));
		rc = SH_ERR_IO;
		goto out;
	}
	f = NULL;
	rc = SH_OK;
out:
	if (f)
		fclose(f);
	sh_free(p);
	names_free(&first);
	names_free(&middle);
	names_free(&last);
	return rc;
}

/* Splits s at ';' into at most n fields in place. */
static size_t split(char *s, char **fields, size_t n)
{
	size_t k = 0;

	while (k < n) {
		fields[k++] = s;
		s = strchr(s, ';');
		if (!s)
			break;
		*s++ = '\0';
	}
	return k;
}

int ss_register_load(const char *path, struct ss_register **out, struct sh_reason *why)
{
	struct ss_register *r = sh_calloc(1, sizeof(*r));
	char line[1024];
	size_t cap = 0;
	FILE *f;

	*out = NULL;
	if (!r)
		return SH_ERR_NOMEM;
	if (!(f = fopen(path, "r"))) {
		sh_reason_set(why, "Kan ikke lese registerfilen %s: %s.", path, strerror(errno));
		sh_free(r);
		return SH_ERR_IO;
	}
	for (int ln = 1; fgets(line, sizeof(line), f); ln++) {
		char *fl[6];
		struct ss_person *p;

		line[strcspn(line, "\r\n")] = '\0';
		if (ln == 1 || !line[0])
			continue;
		if (split(line, fl, 6) != 6 || strlen(fl[0]) != 11 || strspn(fl[0], "0123456789") != 11 ||
		    !fl[1][0] || !fl[3][0] || strlen(fl[4]) >= sizeof(p->kjonn) ||
		    strlen(fl[5]) >= sizeof(p->status) || !sh_utf8_valid(fl[1], strlen(fl[1]))) {
			sh_reason_set(why, "Registerfilen %s har en ugyldig linje (nr. %d).", path, ln);
			fclose(f);
			ss_register_free(r);
			return SH_ERR_INVALID;
		}
		if (r->n == cap) {
			void *v = sh_realloc(r->p, (cap = cap ? cap * 2 : 1024) * sizeof(*r->p));

			if (!v) {
				fclose(f);
				ss_register_free(r);
				return SH_ERR_NOMEM;
			}
			r->p = v;
		}
		p = &r->p[r->n++];
		memset(p, 0, sizeof(*p));
		memcpy(p->fnr, fl[0], 11);
		snprintf(p->navn, sizeof(p->navn), "%s%s%s %s", fl[1], fl[2][0] ? " " : "", fl[2], fl[3]);
		snprintf(p->kjonn, sizeof(p->kjonn), "%s", fl[4]);
		snprintf(p->status, sizeof(p->status), "%s", fl[5]);
	}
	fclose(f);
	qsort(r->p, r->n, sizeof(*r->p), by_fnr);
	*out = r;
	return SH_OK;
}

const struct ss_person *ss_register_find(const struct ss_register *r, const char *fnr)
{
	struct ss_person key;

	if (!r || !fnr || strlen(fnr) != 11)
		return NULL;
	memcpy(key.fnr, fnr, 12);
	return bsearch(&key, r->p, r->n, sizeof(*r->p), by_fnr);
}

size_t ss_register_count(const struct ss_register *r)
{
	return r ? r->n : 0;
}

const struct ss_person *ss_register_at(const struct ss_register *r, size_t i)
{
	return r && i < r->n ? &r->p[i] : NULL;
}

void ss_register_free(struct ss_register *r)
{
	if (!r)
		return;
	sh_free(r->p);
	sh_free(r);
}
