/*
 * replica.h: the caseworker's local replica (one SQLite file per user and
 * server), drafts, autosave, the outbox and pending Folkeregister lookups.
 *
 * Every write is one IMMEDIATE transaction that (1) checks the change with
 * the shared rules, (2) writes the value, (3) appends the change to the
 * outbox (or, for a draft, nothing: drafts never leave the device), (4)
 * updates the derived columns (status ...) and the pending lookup. A
 * function returns SH_OK only after COMMIT: only then may a caller say
 * «Lagret». Refusals (SH_ERR_INVALID, SH_ERR_RULE, SH_ERR_NOT_FOUND) roll
 * back and change nothing; the Norwegian reason is in the report.
 *
 * Drafts: sc_participant_new() makes a draft with a random 128-bit id. The
 * moment its four mandatory fields are set it becomes a participant with the
 * same id, and all its values enter the outbox in that same transaction.
 *
 * Not thread-safe: one replica handle per thread. Several processes may
 * share a file (WAL, busy timeout).
 */
#ifndef SC_REPLICA_H
#define SC_REPLICA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "participant.h"
#include "status.h"

struct sc_replica;
struct sc_records; /* record.h */
struct sc_outbox;  /* outbox.h */

/*
 * Opens (creating it and its directory, 0700/0600) the replica in `dir`,
 * migrated to the newest schema. `d` must outlive the replica.
 */
int sc_replica_open(const char *dir, const struct sh_domain *d, struct sc_replica **out,
		    struct sh_reason *why) SH_MUST_USE;
/* Closes; the last connection to close checkpoints the WAL into the file. */
void sc_replica_close(struct sc_replica *r);
/*
 * Checkpoints the WAL if it has grown past 32 MiB. The replica turns off
 * SQLite's automatic checkpoint so that an autosave never pays for one
 * (a checkpoint fsyncs the whole file: 5-25 ms here against 0.3 ms for a
 * commit). Long-running owners (daemon, UI) call this when idle; short
 * commands get it for free at close.
 */
void sc_replica_maintain(struct sc_replica *r);
sqlite3 *sc_replica_db(struct sc_replica *r);
const struct sh_domain *sc_replica_domain(const struct sc_replica *r);
/* This device's id (hex, made when the replica was created). */
const char *sc_replica_device(const struct sc_replica *r);
/* A new hybrid-logical-clock value (persisted with the next write). */
uint64_t sc_replica_hlc(struct sc_replica *r);
/* The outbox on the replica's connection. */
struct sc_outbox *sc_replica_outbox(struct sc_replica *r);

/* Meta key/value (device, user, server ...). Get: *out owned by caller or NULL. */
int sc_meta_get(struct sc_replica *r, const char *key, char **out) SH_MUST_USE;
int sc_meta_set(struct sc_replica *r, const char *key, const char *value) SH_MUST_USE;

/*
 * Resolves a full id or a unique prefix (4+ hex digits) of a participant or
 * draft into id (33 bytes). SH_ERR_NOT_FOUND / SH_ERR_INVALID with a reason.
 */
int sc_resolve(struct sc_replica *r, const char *prefix, char id[SH_ID_LEN + 1],
	       struct sh_reason *why) SH_MUST_USE;

/* A new, empty draft. */
int sc_participant_new(struct sc_replica *r, char id[SH_ID_LEN + 1]) SH_MUST_USE;
/* Removes a draft (never a participant). */
int sc_draft_delete(struct sc_replica *r, const char *id, struct sh_reason *why) SH_MUST_USE;

/* Loads every value of a participant or draft into p (initialised by caller). */
int sc_participant_load(struct sc_replica *r, const char *id, struct sh_participant *p,
			bool *draft) SH_MUST_USE;

/* A required field still empty (for discharge), with its Tiltak row. */
struct sc_missing {
	enum sh_field_id field;
	char row[SH_ID_LEN + 1]; /* "" for single fields */
};
#define SC_MISSING_MAX 48

/* What one write did. */
struct sc_report {
	bool changed;                 /* false: same value, nothing written */
	bool promoted;                /* the draft became a participant */
	enum sh_status status;        /* status afterwards */
	char value[SH_VALUE_MAX + 1]; /* the normalised value stored ("" cleared) */
	enum sh_field_id cleared[4];  /* dependent fields cleared as well */
	size_t ncleared;
	struct sh_reason why;         /* when refused */
	struct sc_missing missing[SC_MISSING_MAX]; /* discharge refused: what is missing */
	size_t nmissing;              /* how many in all (may exceed SC_MISSING_MAX) */
};

/*
 * Autosaves one field (by catalogue name; `row` for Tiltak columns, else
 * NULL) of a participant or draft. `value` NULL or "" clears it.
 */
int sc_set(struct sc_replica *r, const char *id, const char *field, const char *row,
	   const char *value, struct sc_report *rep) SH_MUST_USE;

/*
 * «Utskriv og registrer ferdig»: succeeds only when nothing required is
 * missing; otherwise SH_ERR_RULE with the missing fields in rep->missing.
 */
int sc_discharge(struct sc_replica *r, const char *id, struct sc_report *rep) SH_MUST_USE;
/* Reopens an utskrevet participant (clears utskrevet). */
int sc_reopen(struct sc_replica *r, const char *id, struct sc_report *rep) SH_MUST_USE;

/*
 * Adds a Tiltak row atomically: values[] holds the row's columns by field id
 * (NULL = not given). The new row id goes to row (33 bytes).
 */
int sc_tiltak_add(struct sc_replica *r, const char *id, const char *const values[SH_F_COUNT],
		  char row[SH_ID_LEN + 1], struct sc_report *rep) SH_MUST_USE;
/* Resolves a Tiltak row id or unique prefix (4+) of participant id into row. */
int sc_resolve_row(struct sc_replica *r, const char *id, const char *prefix,
		   char row[SH_ID_LEN + 1], struct sh_reason *why) SH_MUST_USE;
/* Removes a Tiltak row (clears each of its values, one change each). */
int sc_tiltak_remove(struct sc_replica *r, const char *id, const char *row,
		     struct sc_report *rep) SH_MUST_USE;

/*
 * Recomputes a participant's derived columns (status, fnr ...) from its
 * values; creates the row (not a draft) for a participant first seen in a
 * pull. Inside the caller's transaction (sync_store.c), with the caller's
 * set of records (record.h), so the values are not read again; the row
 * must be there before the set saves a new participant's record.
 */
int sc_participant_rederive(struct sc_replica *r, struct sc_records *set, const char *id,
			    uint64_t hlc) SH_MUST_USE;
/* The directory of the replica (keys live beside it). */
const char *sc_replica_dir(const struct sc_replica *r);

/* One line of the overview. Strings are valid only inside the callback. */
struct sc_row {
	const char *id, *status, *fnr, *navn, *kommune, *startdato, *sluttdato;
	bool draft;
	int pending;          /* changes not yet acknowledged */
	const char *rejected; /* a server's reason, or NULL */
	const char *lookup;   /* lookup state, or NULL */
};

struct sc_filter {
	int status;         /* enum sh_status, or -1: all but utskrevet */
	bool all;           /* every status, utskrevet too */
	bool drafts;        /* drafts instead of participants */
	const char *search; /* substring of navn, prefix of fnr or id; NULL = all */
};

/* Calls cb for each matching row, newest change first; stops when cb returns non-zero. */
int sc_list(struct sc_replica *r, const struct sc_filter *f,
	    int (*cb)(const struct sc_row *row, void *arg), void *arg) SH_MUST_USE;

/* Sync state for people: «lokalt utkast», «ikke synkronisert», «synkronisert», «feil: …». */
void sc_sync_text(const struct sc_row *row, char *buf, size_t len);

/* One change in the outbox. */
struct sc_outbox_row {
	int64_t seq; /* its place in the listing, from 1 */
	const char *participant, *field, *row, *value, *author, *rejected;
	uint64_t hlc, base;
	int64_t changeset; /* 0 = not sent yet */
};
/* The changes in the outbox, of one participant or (NULL) all: waiting ones as made, then refused ones. */
int sc_outbox_each(struct sc_replica *r, const char *participant,
		   int (*cb)(const struct sc_outbox_row *o, void *arg), void *arg) SH_MUST_USE;

/* Norwegian text of a lookup state («venter på Folkeregisteret» ...). */
const char *sc_lookup_text(const char *state);
/* The whole story for people: «henter navn (forsøk 3, neste om 20 s)», «feil: …». */
void sc_lookup_describe(const char *state, int attempts, int64_t next_try, const char *reason, char *buf,
			size_t len);

struct sc_lookup_row {
	const char *participant, *state, *reason;
	int attempts;
	int64_t next_try;
};
int sc_lookups_each(struct sc_replica *r, const char *participant,
		    int (*cb)(const struct sc_lookup_row *l, void *arg), void *arg) SH_MUST_USE;

#endif
