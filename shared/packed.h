/*
 * packed.h: a participant's field values packed in one row instead of one
 * row per value: the replica's `record.vals` (client/record.h) and the
 * server's `participant.vals` (server/store.h).
 *
 * An entry per field (and Tiltak row): value, hlc, author, version, and on
 * the server the device that wrote it. A cleared field keeps its entry
 * (value "") because its version is the base of the next edit. Entries are
 * kept sorted by (field, row), byte-wise, as SQL's ORDER BY field, row.
 *
 * The packed form (schema/client/003_records.sql and
 * schema/server/005_packed_values.sql, whose views `field_value` read it
 * back in SQL): per entry, hlc and version as 20 decimal digits each, then
 * the byte lengths of field, row, value and author (and device, in a
 * record `with_device`) as 5 digits each, then those strings.
 */
#ifndef SH_PACKED_H
#define SH_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "participant.h"

#define SH_RECORD_HEADER 60        /* 65 with a device */
#define SH_RECORD_LEN_MAX 99999    /* bytes of one string in an entry */

#define SH_ENTRY_UNPACKED UINT32_MAX /* sh_entry.packed: changed since it was read or packed */

struct sh_entry {
	uint32_t field, row, value, author, device; /* offsets of NUL-terminated strings in strs */
	uint32_t packed, packed_len; /* where the entry, unchanged, lies in the record's packed bytes */
	uint64_t hlc, version;
};

struct sh_record {
	char id[SH_ID_LEN + 1];
	struct sh_entry *e;
	size_t n, cap;
	struct sh_buf strs; /* the entries' strings, each with its NUL */
	/*
	 * The bytes the record was read from or last packed into: packing
	 * copies the entries not changed since from them instead of writing
	 * their headers and strings again (most of a record, when a field or
	 * ten of its forty change).
	 */
	struct sh_buf packed;
	bool dirty;
	bool made_order;  /* an outbox entry (client/outbox.h): entries in the order made, not sorted */
	bool with_device; /* the server's form: each entry names the device that wrote it */
};

static inline const char *sh_entry_field(const struct sh_record *r, const struct sh_entry *e) { return r->strs.data + e->field; }
static inline const char *sh_entry_row(const struct sh_record *r, const struct sh_entry *e) { return r->strs.data + e->row; }
static inline const char *sh_entry_value(const struct sh_record *r, const struct sh_entry *e) { return r->strs.data + e->value; }
static inline const char *sh_entry_author(const struct sh_record *r, const struct sh_entry *e) { return r->strs.data + e->author; }
/* "" in a record without devices */
static inline const char *sh_entry_device(const struct sh_record *r, const struct sh_entry *e) { return r->strs.data + e->device; }

/*
 * Unpacks `len` bytes into an empty record (its flags set); SH_ERR_DB if
 * they are not a record. A record in made order is taken in the order stored.
 */
int sh_record_decode(struct sh_record *rec, const void *blob, size_t len);
/* Packs rec onto the end of out. */
int sh_record_encode(const struct sh_record *rec, struct sh_buf *out);
/*
 * Packs rec into its own rec->packed (what it held is replaced), where
 * the next packing copies the entries that do not change from.
 */
int sh_record_pack(struct sh_record *rec);
/* Packs entries [from, to) of rec onto the end of out. */
int sh_record_encode_part(const struct sh_record *rec, size_t from, size_t to, struct sh_buf *out);
/*
 * Drops the strings no entry uses any more (sh_record_put leaves the old
 * value's) when they are most of the record; out of memory: left as it is.
 */
void sh_record_compact(struct sh_record *rec);
/* Lets go of the entries; the flags stay. */
void sh_record_empty(struct sh_record *rec);
void sh_record_clear(struct sh_record *rec);

/* The entry of (field, row), or NULL. row "" (or NULL) for a single field. */
struct sh_entry *sh_record_find(struct sh_record *rec, const char *field, const char *row);
/*
 * Sets the entry of (field, row), made if missing (at its place, or at the
 * end of a record in made order); marks the record dirty. device is
 * ignored in a record without devices.
 */
int sh_record_put(struct sh_record *rec, const char *field, const char *row, const char *value,
		  uint64_t hlc, const char *author, const char *device, uint64_t version);
/* The version of an existing entry (none: nothing happens). */
void sh_record_set_version(struct sh_record *rec, const char *field, const char *row, uint64_t version);
/* The version of entry i; marks the record dirty. */
void sh_record_set_version_at(struct sh_record *rec, size_t i, uint64_t version);
/* A version to set in packed bytes: of the entry (field, row). */
struct sh_version_set {
	const char *field, *row;
	uint64_t version;
	size_t order; /* set by sh_packed_set_versions: of two for one entry, the later wins */
};

/*
 * Sets versions in packed bytes in place, without unpacking them (a
 * version has a fixed width): each of vs[0..n) whose (field, row) has an
 * entry; vs is sorted here. *changed tells whether a version changed.
 * SH_ERR_DB if the bytes are not a record; SH_ERR_INVALID if its entries
 * are not in order (a record written by hand: unpack it instead). On an
 * error the bytes may be changed in part.
 */
int sh_packed_set_versions(void *blob, size_t len, bool with_device, struct sh_version_set *vs, size_t n,
			   bool *changed);
/*
 * Whether packed bytes in the form with devices hold an entry newer than
 * `after` that another device than `except` wrote, read without unpacking
 * (bytes that are not a record: true, so that unpacking them tells).
 */
bool sh_record_has_news(const void *blob, size_t len, uint64_t after, const char *except);
/* The values (not cleared ones) into p, which must be empty. */
int sh_record_values(const struct sh_record *rec, struct sh_participant *p);

#endif
