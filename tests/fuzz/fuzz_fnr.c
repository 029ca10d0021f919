/*
 * fuzz_fnr.c: libFuzzer target for the fødselsnummer parser. Any input:
 * no crash, no UB, and for a valid number the classification is coherent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fnr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64];
	struct sh_fnr f, g;
	int days;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	for (int tm = 0; tm < 2; tm++) {
		if (sh_fnr_parse(s, tm, &f) != SH_OK) {
			if (f.fault == SH_FNR_OK || !sh_fnr_fault_text(f.fault))
				abort();
			continue;
		}
		if (strlen(s) != 11 || strcmp(f.digits, s) != 0 || (f.synthetic && !tm))
			abort();
		if (f.day < 1 || f.day > 31 || f.month < 1 || f.month > 12)
			abort();
		if (f.rule == SH_FNR_RULE_2032 && (f.gender != SH_GENDER_UNKNOWN || f.year))
			abort();
		if (f.rule == SH_FNR_RULE_OLD && f.gender == SH_GENDER_UNKNOWN)
			abort();
		if (sh_fnr_birthdate(&f, &days) != (f.year != 0))
			abort();
		/* parsing is a pure function */
		if (sh_fnr_parse(s, tm, &g) != SH_OK || memcmp(&f, &g, sizeof(f)) != 0)
			abort();
		(void)sh_fnr_eligibility(&f, true);
		(void)sh_fnr_kind_text(&f);
	}
	return 0;
}
