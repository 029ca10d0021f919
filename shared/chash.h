/*
 * chash.h: a content hash of participant data, computed the same way by
 * the client (its replica) and the server (one municipality), to show that
 * they hold the same data. Feed rows sorted by (participant, field, row),
 * non-empty values only.
 */
#ifndef SH_CHASH_H
#define SH_CHASH_H

#include <sodium.h>

struct sh_chash {
	crypto_generichash_state st;
	unsigned long rows;
};

void sh_chash_init(struct sh_chash *h);
void sh_chash_add(struct sh_chash *h, const char *participant, const char *field, const char *row,
		  const char *value);
/* 64 hex digits. */
void sh_chash_final(struct sh_chash *h, char out[65]);

#endif
