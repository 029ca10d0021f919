/*
 * participant.h: the values of one participation, in memory, as the rules
 * and the status see them. Client and server fill it from their stores.
 *
 * Single fields live in v[] (indexed by enum sh_field_id); the columns of
 * the repeatable Tiltak rows live in rows[].v[]. All strings are owned
 * (sh_strdup) and freed by sh_participant_clear(). NULL means empty.
 */
#ifndef SH_PARTICIPANT_H
#define SH_PARTICIPANT_H

#include <stddef.h>

#include "catalog.h"
#include "err.h"

#define SH_ID_LEN 32 /* 128-bit ids as lowercase hex */

struct sh_row {
	char id[SH_ID_LEN + 1];
	char *v[SH_F_COUNT]; /* only repeat fields are used */
};

struct sh_participant {
	char id[SH_ID_LEN + 1];
	char *v[SH_F_COUNT]; /* only non-repeat fields are used */
	struct sh_row *rows;
	size_t nrows, cap;
};

void sh_participant_init(struct sh_participant *p);
/* Frees every value and row; p may be reused after sh_participant_init(). */
void sh_participant_clear(struct sh_participant *p);

/*
 * Sets (copies) or clears (value NULL or "") a field. For a repeat field,
 * `row` names the row, which is created on first use; for others it must be
 * NULL.
 */
int sh_participant_set(struct sh_participant *p, enum sh_field_id f, const char *row,
		       const char *value) SH_MUST_USE;
/* The row with that id, or NULL. */
struct sh_row *sh_participant_row(const struct sh_participant *p, const char *row);
/*
 * Drops rows without a value and orders the rest by id, so a participant
 * changed in memory equals the same participant read back from storage.
 */
void sh_participant_tidy(struct sh_participant *p);
/* Removes a row (no-op if absent). */
void sh_participant_remove_row(struct sh_participant *p, const char *row);
/* Value of a field (of `row` for repeat fields); NULL when empty. */
const char *sh_participant_get(const struct sh_participant *p, enum sh_field_id f,
			       const char *row);

/* Fills out (33 bytes) with a fresh random 128-bit id in hex (libsodium). */
void sh_new_id(char out[SH_ID_LEN + 1]);
/* True for exactly 32 lowercase hex digits. */
int sh_id_valid(const char *s);

#endif
