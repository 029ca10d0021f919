/*
 * record.h: a participant's field values in the replica, packed in one row
 * (`record.vals`) instead of one row per value.
 *
 * An entry per field (and Tiltak row): value, hlc, author and the server
 * version the value is based on. A cleared field keeps its entry (value
 * "") because its version is the base of the next edit. Entries are kept
 * sorted by (field, row), byte-wise, as SQL's ORDER BY field, row.
 *
 * The packed form (schema/client/003_records.sql, where the view
 * `field_value` reads it back in SQL): per entry, hlc and version as 20
 * decimal digits each, then the byte lengths of field, row, value and
 * author as 5 digits each, then those four strings.
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

#include "buf.h"
#include "participant.h"

#define SC_RECORD_HEADER 60
#define SC_RECORD_LEN_MAX 99999 /* bytes of one string in an entry */

struct sc_entry {
	uint32_t field, row, value, author; /* offsets of NUL-terminated strings in strs */
	uint64_t hlc, version;
};

struct sc_record {
	char id[SH_ID_LEN + 1];
	struct sc_entry *e;
	size_t n, cap;
	struct sh_buf strs; /* the entries' strings, each with its NUL */
	bool dirty;
	bool made_order; /* an outbox entry (outbox.h): entries in the order made, not sorted */
};

static inline const char *sc_entry_field(const struct sc_record *r, const struct sc_entry *e) { return r->strs.data + e->field; }
static inline const char *sc_entry_row(const struct sc_record *r, const struct sc_entry *e) { return r->strs.data + e->row; }
static inline const char *sc_entry_value(const struct sc_record *r, const struct sc_entry *e) { return r->strs.data + e->value; }
static inline const char *sc_entry_author(const struct sc_record *r, const struct sc_entry *e) { return r->strs.data + e->author; }

/*
 * Unpacks `len` bytes into an empty record; SH_ERR_DB if they are not a
 * record. A record in made order is taken in the order stored.
 */
int sc_record_decode(struct sc_record *rec, const void *blob, size_t len);
/* Packs rec onto the end of out. */
int sc_record_encode(const struct sc_record *rec, struct sh_buf *out);
/* Packs entries [from, to) of rec onto the end of out. */
int sc_record_encode_part(const struct sc_record *rec, size_t from, size_t to, struct sh_buf *out);
void sc_record_clear(struct sc_record *rec);

/* The entry of (field, row), or NULL. row "" for a single field. */
struct sc_entry *sc_record_find(struct sc_record *rec, const char *field, const char *row);
/*
 * Sets the entry of (field, row), made if missing (at its place, or at the
 * end of a record in made order); marks the record dirty.
 */
int sc_record_put(struct sc_record *rec, const char *field, const char *row, const char *value,
		  uint64_t hlc, const char *author, uint64_t version);
/* The server version of an existing entry (none: nothing happens). */
void sc_record_set_version(struct sc_record *rec, const char *field, const char *row, uint64_t version);

struct sc_records;

/* A set on db (the replica's connection); NULL when out of memory. */
struct sc_records *sc_records_new(sqlite3 *db);
/* The record of participant id, read on first use (none stored: empty). NULL on error. */
struct sc_record *sc_records_get(struct sc_records *s, const char *id);
/* Writes the records changed since the last save. The participant rows must exist. */
int sc_records_save(struct sc_records *s);
/* Lets go of every record (changes not saved are dropped: after a rollback). */
void sc_records_reset(struct sc_records *s);
void sc_records_free(struct sc_records *s);

#endif
