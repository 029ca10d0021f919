/*
 * fuzz_freg.c: libFuzzer target for what the Folkeregister (or anything
 * pretending to be it) sends back: the person parser and the error-code
 * reader. Whatever the bytes, no crash, and an accepted answer is sane.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "freg.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_person p;
	struct sh_reason why = {{0}};
	char code[24];

	if (ss_freg_parse((const char *)data, size, &p, &why) == SH_OK) {
		size_t n = strlen(p.navn);

		if (n < 3 || !sh_utf8_valid(p.navn, n) || sh_has_control(p.navn, n))
			abort();
		if (p.kjonn[0] && strcmp(p.kjonn, "kvinne") != 0 && strcmp(p.kjonn, "mann") != 0)
			abort();
	} else if (!why.text[0]) {
		abort();
	}
	ss_freg_error_code((const char *)data, size, code);
	if (strlen(code) >= sizeof(code))
		abort();
	return 0;
}
