/*
 * record.h: a participant's field values in the replica, packed in one row
 * (`record.vals`) instead of one row per value.
 *
 * The form of a record is shared/packed.h's, without devices; migration
 * 003 (schema/client/003_records.sql) packed existing replicas, and its
 * view `field_value` reads records back in SQL.
 *
 * A set (struct sc_records) holds the records one transaction works on:
 * each is read once, changed in memory, and written once by
 * sc_records_save(), which the caller runs before its commit and before
 * anything reads the values back through SQL.
 */
#ifndef SC_RECORD_H
#define SC_RECORD_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packed.h"

struct sc_records;

/* A set on db (the replica's connection); NULL when out of memory. */
struct sc_records *sc_records_new(sqlite3 *db);
/* The record of participant id, read on first use (none stored: empty). NULL on error. */
struct sh_record *sc_records_get(struct sc_records *s, const char *id);
/*
 * Sets versions of participant id's values (each of vs whose entry
 * exists; a later one for the same entry wins): in its record when the set
 * holds it, else in the stored record, in place, without unpacking it (an
 * acknowledgement's versions). vs is reordered.
 */
int sc_records_set_versions(struct sc_records *s, const char *id, struct sh_version_set *vs, size_t n);
/* Writes the records changed since the last save. The participant rows must exist. */
int sc_records_save(struct sc_records *s);
/* Lets go of every record (changes not saved are dropped: after a rollback). */
void sc_records_reset(struct sc_records *s);
void sc_records_free(struct sc_records *s);

#endif
