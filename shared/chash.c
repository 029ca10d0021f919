/* chash.c: BLAKE2b over "participant\tfield\trow\tvalue\n" lines. */
#include "chash.h"

#include <string.h>

void sh_chash_init(struct sh_chash *h)
{
	crypto_generichash_init(&h->st, NULL, 0, 32);
	h->rows = 0;
}

static void put(struct sh_chash *h, const char *s, char end)
{
	crypto_generichash_update(&h->st, (const unsigned char *)s, strlen(s));
	crypto_generichash_update(&h->st, (const unsigned char *)&end, 1);
}

void sh_chash_add(struct sh_chash *h, const char *participant, const char *field, const char *row,
		  const char *value)
{
	put(h, participant, '\t');
	put(h, field, '\t');
	put(h, row, '\t');
	put(h, value, '\n');
	h->rows++;
}

void sh_chash_final(struct sh_chash *h, char out[65])
{
	unsigned char d[32];

	crypto_generichash_final(&h->st, d, sizeof(d));
	sodium_bin2hex(out, 65, d, sizeof(d));
}
