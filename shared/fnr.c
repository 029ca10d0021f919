/* fnr.c: fødselsnummer validation, classification and generation. */
#include "fnr.h"

#include <string.h>

#include "config.h"
#include "date.h"

static const int w1[9] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
static const int w2[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};

/* (Σ w·d) mod 11 over the first n digits, plus digit n itself. */
static int check_sum(const int *d, const int *w, int n)
{
	int s = d[n];

	for (int i = 0; i < n; i++)
		s += w[i] * d[i];
	return s % 11;
}

/* Century by the old individual-number ranges; 0 when none applies. */
static int old_century(int ind, int yy)
{
	if (ind <= 499)
		return 1900;
	if (ind <= 749 && yy >= 54)
		return 1800;
	if (yy <= 39)
		return 2000;
	if (ind >= 900)
		return 1900;
	return 0;
}

/* Old-rule reading of a number whose date part passed the lenient check. */
static bool old_reading(const struct sh_fnr *f, int ind, int *year)
{
	int c;

	*year = 0;
	if (f->kind == SH_FNR_KIND_DNR)
		return true; /* century not derivable since 2021 */
	c = old_century(ind, f->yy);
	if (c == 0 || f->day > sh_days_in_month(c + f->yy, f->month))
		return false;
	if (sh_date_days(c + f->yy, f->month, f->day) > sh_today())
		return false;
	*year = c + f->yy;
	return true;
}

/* Removes the kind offsets from the date part; false if it cannot exist. */
static bool decode_date(const int *d, struct sh_fnr *f)
{
	int dd = d[0] * 10 + d[1], mm = d[2] * 10 + d[3];

	f->yy = d[4] * 10 + d[5];
	if (dd >= 41 && dd <= 71) {
		f->kind = SH_FNR_KIND_DNR;
		dd -= 40;
	}
	if (mm >= 81 && mm <= 92) {
		f->synthetic = true;
		mm -= 80;
	} else if (mm >= 41 && mm <= 52) {
		if (f->kind == SH_FNR_KIND_DNR)
			return false; /* D- and H-number at once */
		f->kind = SH_FNR_KIND_HNR;
		mm -= 40;
	}
	f->day = dd;
	f->month = mm;
	/* century unknown yet: a year divisible by 4 (00 too) is leap */
	return mm >= 1 && mm <= 12 && dd >= 1 &&
	       dd <= sh_days_in_month(f->yy == 0 ? 2000 : 1900 + f->yy, mm);
}

int sh_fnr_parse(const char *s, bool test_mode, struct sh_fnr *out)
{
	struct sh_fnr f;
	int d[11], r1, ind;
	size_t n;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	out->fault = SH_FNR_LENGTH;
	if (!s)
		return SH_ERR_INVALID;
	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9') {
			out->fault = SH_FNR_NOT_DIGITS;
			return SH_ERR_INVALID;
		}
		if (n < 11)
			d[n] = s[n] - '0';
	}
	if (n != 11)
		return SH_ERR_INVALID;
	if (!decode_date(d, &f)) {
		out->fault = SH_FNR_DATE;
		return SH_ERR_INVALID;
	}
	r1 = check_sum(d, w1, 9);
	if (r1 > 3) {
		out->fault = SH_FNR_K1;
		return SH_ERR_INVALID;
	}
	if (check_sum(d, w2, 10) != 0) {
		out->fault = SH_FNR_K2;
		return SH_ERR_INVALID;
	}
	ind = d[6] * 100 + d[7] * 10 + d[8];
	if (r1 == 0 && old_reading(&f, ind, &f.year)) {
		f.rule = SH_FNR_RULE_OLD;
		f.gender = d[8] % 2 == 0 ? SH_GENDER_WOMAN : SH_GENDER_MAN;
	} else {
		f.rule = SH_FNR_RULE_2032;
		f.gender = SH_GENDER_UNKNOWN;
		f.year = 0;
	}
	memcpy(f.digits, s, 11);
	if (f.synthetic && !test_mode) {
		out->fault = SH_FNR_SYNTHETIC;
		return SH_ERR_INVALID;
	}
	*out = f;
	return SH_OK;
}

int sh_fnr_check(const char *s, struct sh_fnr *out)
{
	return sh_fnr_parse(s, sh_config_test_mode(), out);
}

static const struct {
	const char *code;
	const char *text;
} faults[] = {
	[SH_FNR_OK] = {"ok", "Fødselsnummeret er gyldig."},
	[SH_FNR_NOT_DIGITS] = {"not_digits", "Fødselsnummeret kan bare inneholde sifre (0–9)."},
	[SH_FNR_LENGTH] = {"length", "Fødselsnummeret må ha nøyaktig 11 sifre."},
	[SH_FNR_DATE] = {"date", "Fødselsnummeret inneholder en dato som ikke finnes."},
	[SH_FNR_K1] = {"check_digit_1", "Første kontrollsiffer i fødselsnummeret stemmer ikke (trolig en skrivefeil)."},
	[SH_FNR_K2] = {"check_digit_2", "Andre kontrollsiffer i fødselsnummeret stemmer ikke (trolig en skrivefeil)."},
	[SH_FNR_SYNTHETIC] = {"synthetic", "Fødselsnummeret er et syntetisk testnummer; slike godtas bare i testmodus."},
};

const char *sh_fnr_fault_text(enum sh_fnr_fault f) { return faults[f].text; }
const char *sh_fnr_fault_code(enum sh_fnr_fault f) { return faults[f].code; }

const char *sh_fnr_kind_code(const struct sh_fnr *f)
{
	static const char *codes[] = {"fnr", "dnr", "hnr"};

	return f->synthetic ? "synthetic" : codes[f->kind];
}

const char *sh_fnr_kind_text(const struct sh_fnr *f)
{
	static const char *plain[] = {"fødselsnummer", "D-nummer", "H-nummer"};
	static const char *synth[] = {"syntetisk fødselsnummer", "syntetisk D-nummer",
				      "syntetisk H-nummer"};

	return f->synthetic ? synth[f->kind] : plain[f->kind];
}

const char *sh_fnr_rule_code(enum sh_fnr_rule r)
{
	return r == SH_FNR_RULE_OLD ? "old" : "2032";
}

const char *sh_gender_code(enum sh_gender g)
{
	return g == SH_GENDER_WOMAN ? "kvinne" : g == SH_GENDER_MAN ? "mann" : NULL;
}

bool sh_fnr_birthdate(const struct sh_fnr *f, int *days)
{
	*days = 0;
	if (f->year == 0)
		return false;
	*days = sh_date_days(f->year, f->month, f->day);
	return true;
}

enum sh_elig sh_fnr_eligibility(const struct sh_fnr *f, bool woman_rule)
{
	if (!woman_rule || f->gender == SH_GENDER_WOMAN)
		return SH_ELIG_YES;
	return f->gender == SH_GENDER_MAN ? SH_ELIG_NO : SH_ELIG_UNKNOWN;
}

uint64_t sh_rng_next(struct sh_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t sh_rng_below(struct sh_rng *r, uint32_t n)
{
	return (uint32_t)((sh_rng_next(r) >> 32) * n >> 32);
}

/* An individual number giving `year` its century under the old rules; -1 if none. */
static int pick_individual(struct sh_rng *rng, int year)
{
	int yy = year % 100;

	if (year >= 1900 && year <= 1999)
		return (yy >= 40 && sh_rng_below(rng, 4) == 0) ? 900 + (int)sh_rng_below(rng, 100)
							       : (int)sh_rng_below(rng, 500);
	if (year >= 2000 && year <= 2039)
		return 500 + (int)sh_rng_below(rng, 500);
	if (year >= 1854 && year <= 1899)
		return 500 + (int)sh_rng_below(rng, 250);
	return -1;
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

int sh_fnr_generate(struct sh_rng *rng, const struct sh_fnr_spec *spec, char out[12])
{
	int lo = spec->min_year ? spec->min_year : 1940;
	int hi = spec->max_year ? spec->max_year : 2005;

	memset(out, 0, 12);
	if (hi < lo || (spec->kind == SH_FNR_KIND_HNR && spec->synthetic))
		return SH_ERR_INVALID;
	for (int attempt = 0; attempt < 10000; attempt++) {
		int year = lo + (int)sh_rng_below(rng, (uint32_t)(hi - lo + 1));
		int month = 1 + (int)sh_rng_below(rng, 12);
		int day = 1 + (int)sh_rng_below(rng, (uint32_t)sh_days_in_month(year, month));
		int ind = spec->rule == SH_FNR_RULE_OLD ? pick_individual(rng, year)
							: (int)sh_rng_below(rng, 1000);
		int d[11], k1 = -1;
		char s[12];
		struct sh_fnr f;

		if (ind < 0)
			continue;
		if (spec->rule == SH_FNR_RULE_OLD && spec->gender != SH_GENDER_UNKNOWN)
			ind = ind - ind % 2 + (spec->gender == SH_GENDER_MAN);
		put2(s, day + (spec->kind == SH_FNR_KIND_DNR ? 40 : 0));
		put2(s + 2, month + (spec->kind == SH_FNR_KIND_HNR ? 40 : 0) +
				    (spec->synthetic ? 80 : 0));
		put2(s + 4, year % 100);
		s[6] = (char)('0' + ind / 100);
		put2(s + 7, ind % 100);
		for (int i = 0; i < 9; i++)
			d[i] = s[i] - '0';
		d[9] = 0;
		if (spec->rule == SH_FNR_RULE_OLD) {
			k1 = (11 - check_sum(d, w1, 9)) % 11;
		} else {
			int t0 = (int)sh_rng_below(rng, 3);

			for (int j = 0; j < 3 && (k1 < 0 || k1 > 9); j++) {
				d[9] = 0;
				k1 = ((1 + (t0 + j) % 3) - check_sum(d, w1, 9) + 11) % 11;
			}
		}
		if (k1 < 0 || k1 > 9)
			continue;
		d[9] = k1;
		d[10] = 0;
		d[10] = (11 - check_sum(d, w2, 10)) % 11;
		if (d[10] == 10)
			continue;
		s[9] = (char)('0' + d[9]);
		s[10] = (char)('0' + d[10]);
		s[11] = '\0';
		if (sh_fnr_parse(s, true, &f) != SH_OK || f.kind != spec->kind ||
		    f.rule != spec->rule || f.synthetic != spec->synthetic ||
		    (spec->rule == SH_FNR_RULE_OLD && spec->gender != SH_GENDER_UNKNOWN &&
		     f.gender != spec->gender))
			continue;
		memcpy(out, s, 12);
		return SH_OK;
	}
	return SH_ERR_INTERNAL;
}
