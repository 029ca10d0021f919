/*
 * outbox.h: the changes the server has not acknowledged yet, one entry per
 * participant and change-set (schema/client/004_outbox_entries.sql).
 *
 * An entry packs its changes as a record (record.h) in made order: a
 * change is (field, row, value, hlc, author) with its base (the server
 * version the edit was based on) as the entry's version. A participant has
 * at most one unsent entry; an edit joins it, replacing a change of the
 * same field that waits there (whose base stays: the server compares it
 * with the version the device had when the field was first edited).
 * Numbering, building and acknowledging change-sets (sync_store.c) work on
 * whole entries. Changes the server refused are rows of their own
 * (outbox_rejected). The triggers of the schema keep participant.pending
 * and participant.rejected.
 *
 * One struct sc_outbox per connection: it holds the prepared statements.
 */
#ifndef SC_OUTBOX_H
#define SC_OUTBOX_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "record.h"

struct sc_outbox;

/* NULL when out of memory. */
struct sc_outbox *sc_outbox_new(sqlite3 *db);
void sc_outbox_free(struct sc_outbox *o);

/* Participant id's unsent entry into rec, in made order (empty if none). */
int sc_outbox_unsent(struct sc_outbox *o, const char *id, struct sh_record *rec) SH_MUST_USE;
/* Writes rec as its participant's unsent entry (removed when rec is empty). */
int sc_outbox_store_unsent(struct sc_outbox *o, const struct sh_record *rec) SH_MUST_USE;

/*
 * Adds a change to participant id's unsent entry. A change of the same
 * field waiting there is replaced and keeps its base; with `keep`, it is
 * left as it is instead.
 */
int sc_outbox_add(struct sc_outbox *o, const char *id, const char *field, const char *row,
		  const char *value, uint64_t hlc, const char *author, uint64_t base, bool keep) SH_MUST_USE;

/*
 * Is a change of (id, field, row) in the outbox: unsent, sent in a
 * change-set other than `except` (-1: in any), or refused?
 */
int sc_outbox_has(struct sc_outbox *o, const char *id, const char *field, const char *row, int64_t except,
		  bool *yes) SH_MUST_USE;

#endif
