/*
 * audit.h: the append-only, hash-chained audit log (DESIGN.md §8): every
 * login (success and failure), every read of participant data (which
 * participants a pull page carried), every write, export, lookup and admin
 * action: who, which device, when, what.
 *
 * Each entry's hash is BLAKE2b, keyed with a key derived from the server's
 * secret signing key, over the previous hash and its own fields (each
 * length-prefixed): whoever can write the database but not read the key
 * file cannot forge a chain. The newest id and hash are also kept in meta,
 * so a deleted last entry is noticed too. SQL triggers refuse UPDATE and DELETE; the
 * chain catches anything done around them. Never a fødselsnummer or a name
 * in an entry: participants are named by id.
 */
#ifndef SS_AUDIT_H
#define SS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The chain key, from the server's keys (call once before anything else). */
void ss_audit_key(const unsigned char sign_sk[64]);

/* Appends one entry (inside the caller's transaction). participants: space-separated ids or "". */
int ss_audit(struct ss_store *s, const char *actor, const char *device, const char *action,
	     const char *detail, const char *participants) SH_MUST_USE;

/*
 * Checks the whole chain. SH_OK with *count entries, or SH_ERR_CONFLICT
 * with *first_bad the first entry that does not hold (and why, Norwegian).
 */
int ss_audit_verify(struct ss_store *s, int64_t *count, int64_t *first_bad,
		    struct sh_reason *why) SH_MUST_USE;

/*
 * Checks the log against a head written elsewhere ("N:HEX", as the server
 * logs it every audit_anchor_s): entry N must still be there with that hash.
 * The chain's own check cannot see a tail cut off together with meta's
 * record of it; this can. SH_ERR_CONFLICT (why, *first_bad = N) if not,
 * SH_ERR_USAGE for a malformed head.
 */
int ss_audit_check_head(struct ss_store *s, const char *head, int64_t *first_bad,
			struct sh_reason *why) SH_MUST_USE;

struct ss_audit_row {
	int64_t id, at;
	const char *actor, *device, *action, *detail;
};
/* Entries concerning a participant, oldest first. */
int ss_audit_about(struct ss_store *s, const char *participant,
		   int (*cb)(const struct ss_audit_row *row, void *arg), void *arg) SH_MUST_USE;

#endif
