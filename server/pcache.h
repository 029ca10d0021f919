/*
 * pcache.h: participants as the last merge left them, so that the next
 * change-set for a participant does not read its values from the store
 * again. An entry carries the participant's version (participant.version);
 * the store hands it out only while the database still says that version,
 * so a rolled-back transaction or another writer costs a read, never a
 * stale value.
 *
 * Four-way set associative by a hash of the id, least recently used way
 * evicted: bounded memory, no list to keep. Not thread-safe (one per store
 * connection).
 */
#ifndef SS_PCACHE_H
#define SS_PCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "packed.h"
#include "participant.h"

struct ss_pcache;

/* Room for 4 × sets participants; NULL when out of memory. */
struct ss_pcache *ss_pcache_new(size_t sets);
void ss_pcache_free(struct ss_pcache *c);
/* Forgets every entry. */
void ss_pcache_clear(struct ss_pcache *c);

/*
 * Moves the cached participant `id` at exactly `version` into *p (which
 * must be empty) and its record into *rec (what rec held is let go), and
 * returns true; false (p, rec untouched) otherwise. A taken entry leaves
 * the cache: give it back with ss_pcache_keep().
 */
bool ss_pcache_take(struct ss_pcache *c, const char *id, uint64_t version, struct sh_participant *p,
		    struct sh_record *rec);

/*
 * Moves *p and its record *rec (as stored at `version`) into the cache,
 * replacing an older entry of the same id or evicting the least recently
 * used of its set. *p and *rec are left empty (zeroed) either way.
 */
void ss_pcache_keep(struct ss_pcache *c, uint64_t version, struct sh_participant *p,
		    struct sh_record *rec);

#endif
