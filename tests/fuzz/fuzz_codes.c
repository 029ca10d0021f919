/*
 * fuzz_codes.c: libFuzzer target for the code-list loader. Any input: a
 * list or a reason, never a crash; every loaded code is found by lookup.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sh_codelist *l = NULL;
	struct sh_reason why;

	if (sh_codelist_parse("fuzz", (const char *)data, size, &l, &why) != SH_OK) {
		if (l || why.text[0] == '\0')
			abort();
		return 0;
	}
	if (sh_codelist_count(l) == 0)
		abort();
	for (size_t i = 0; i < sh_codelist_count(l); i++) {
		const struct sh_code *c = sh_codelist_at(l, i);

		if (sh_codelist_find(l, c->code) != c || !c->label[0])
			abort();
		if (sh_codelist_has_parent(l) != (c->parent != NULL))
			abort();
	}
	sh_codelist_free(l);
	return 0;
}
