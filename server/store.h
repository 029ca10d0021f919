/*
 * store.h: the server's SQLite store (schema/server): users, devices,
 * sessions, participants with their field values (packed in the row, with
 * versions: shared/packed.h), change-sets, conflicts, and the server-wide
 * sequence.
 *
 * Owned by one thread (the worker): not thread-safe. Writes happen inside
 * ss_begin()/ss_commit(); the sequence counter lives in memory and is
 * written to meta at commit, so a crash rolls it back with the data.
 */
#ifndef SS_STORE_H
#define SS_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "participant.h"
#include "seal.h"
#include "wire.h"

#define SS_MAX_KOMMUNER 32
/* values (fields and Tiltak rows) one participant may hold: it must fit one pull page (SH_PAGE_MAX) */
#define SS_PARTICIPANT_VALUES_MAX 5000

struct ss_store;

struct ss_user {
	int64_t id;
	char username[65];
	char role[16];
	bool active;
	char kommuner[SS_MAX_KOMMUNER][8];
	size_t nkommuner;
	char device[SH_ID_LEN + 1]; /* the device acting for the user ("" from jsr-server itself) */
};

struct ss_device {
	char id[SH_ID_LEN + 1];
	int64_t user_id;
	unsigned char kx_pk[SH_KX_PK], sign_pk[SH_SIGN_PK];
	uint64_t acked_seq;
};

/* The current value of one field, as the merge sees it. */
struct ss_field {
	bool exists;
	char value[SH_VALUE_MAX + 1];
	uint64_t version, hlc;
	char device[SH_ID_LEN + 1];
	char author[65];
};

int ss_store_open(const char *path, struct ss_store **out, struct sh_reason *why) SH_MUST_USE;
void ss_store_close(struct ss_store *s);
sqlite3 *ss_store_db(struct ss_store *s);

/*
 * A statement of another module, prepared once per connection and kept:
 * `text` must be a string literal (its address is the key). Reset and
 * unbound; the store finalizes it. NULL (logged) when it does not prepare.
 */
sqlite3_stmt *ss_stmt(struct ss_store *s, const char *text);
/* sh_db_run() on such a statement. */
int ss_run(struct ss_store *s, const char *text, const char *types, ...) SH_MUST_USE;
int ss_begin(struct ss_store *s) SH_MUST_USE;
/* A transaction that only reads: one snapshot, without the write lock (ended by ss_commit or ss_rollback). */
int ss_begin_read(struct ss_store *s) SH_MUST_USE;
int ss_commit(struct ss_store *s) SH_MUST_USE;
void ss_rollback(struct ss_store *s);
/* SAVEPOINT around one job inside a batch. */
int ss_savepoint(struct ss_store *s) SH_MUST_USE;
int ss_release(struct ss_store *s) SH_MUST_USE;
void ss_rollback_to(struct ss_store *s);
/* The next number of the server-wide sequence (inside a transaction). */
uint64_t ss_next_seq(struct ss_store *s);
uint64_t ss_seq(const struct ss_store *s);
/* A value kept in meta (SH_ERR_NOT_FOUND, out "", when there is none); and setting one. */
int ss_meta_get(struct ss_store *s, const char *key, char *out, size_t n);
int ss_meta_put(struct ss_store *s, const char *key, const char *value) SH_MUST_USE;
/* ss_mail_queue() notes each message, so a commit wakes the mailer only when there is mail. */
void ss_store_mail_queued(struct ss_store *s);
bool ss_store_take_mail(struct ss_store *s);

/* Users */
int ss_user_add(struct ss_store *s, const char *username, const char *role,
		const char *const *kommuner, size_t n, const char *pwhash, int64_t *id,
		struct sh_reason *why) SH_MUST_USE;
/* NOT_FOUND if no such user. *pwhash (optional) is owned by the caller. */
int ss_user_by_name(struct ss_store *s, const char *name, struct ss_user *u, char **pwhash) SH_MUST_USE;
int ss_user_by_id(struct ss_store *s, int64_t id, struct ss_user *u) SH_MUST_USE;
bool ss_user_in(const struct ss_user *u, const char *kommune);

/* Devices */
int ss_device_get(struct ss_store *s, const char *id, struct ss_device *d) SH_MUST_USE;
int ss_device_add(struct ss_store *s, const struct ss_device *d, int64_t now) SH_MUST_USE;
int ss_device_acked(struct ss_store *s, const char *id, uint64_t seq) SH_MUST_USE;

/* Sessions: *token gets 64 hex digits; only its hash is stored. */
int ss_session_new(struct ss_store *s, int64_t user_id, const char *device, int64_t now,
		   int64_t ttl_ms, char token[65]) SH_MUST_USE;
/* SH_OK with *user_id if valid for device now (idle limit idle_ms); SH_ERR_AUTH otherwise. */
int ss_session_check(struct ss_store *s, const char *token, const char *device, int64_t now,
		     int64_t idle_ms, int64_t *user_id) SH_MUST_USE;
int ss_session_revoke_user(struct ss_store *s, int64_t user_id) SH_MUST_USE;

/* Change-sets already applied: NOT_FOUND, or their hash (sh_wire_changes_hash) and ack (caller frees). */
int ss_changeset_get(struct ss_store *s, const char *device, uint64_t seq,
		     unsigned char hash[32], char **ack) SH_MUST_USE;
int ss_changeset_put(struct ss_store *s, const char *device, uint64_t seq,
		     const unsigned char hash[32], size_t changes, const char *ack,
		     int64_t now) SH_MUST_USE;

/* Participants */
/* *exists false (SH_OK) if unknown; otherwise kommune and all values into p. */
int ss_participant_load(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			struct sh_participant *p) SH_MUST_USE;
/* Only its municipality and fødselsnummer ("" when it has none), from the row. */
int ss_participant_number(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			  char fnr[12]) SH_MUST_USE;
/*
 * For the merge: as ss_participant_load, plus participant.version; the
 * values come from what ss_participant_keep() was given when that is still
 * the stored version. The participant becomes the store's current one:
 * ss_field_get/put and ss_participant_move work on its values in memory,
 * and ss_participant_put writes them with its row (a field of another
 * participant makes that one current, read from the store).
 */
int ss_participant_take(struct ss_store *s, const char *id, bool *exists, char kommune[8],
			uint64_t *version, struct sh_participant *p) SH_MUST_USE;
/* Gives the participant, as stored at version (sh_participant_tidy()), to the
 * store's cache; p is left empty. */
void ss_participant_keep(struct ss_store *s, uint64_t version, struct sh_participant *p);
int ss_participant_put(struct ss_store *s, const struct sh_participant *p, const char *kommune,
		       const char *status, uint64_t version) SH_MUST_USE;
int ss_field_get(struct ss_store *s, const char *participant, const char *field, const char *row,
		 struct ss_field *out) SH_MUST_USE;
int ss_field_put(struct ss_store *s, const char *participant, const char *field, const char *row,
		 const char *value, uint64_t hlc, const char *device, const char *author,
		 uint64_t version) SH_MUST_USE;
/*
 * Before the participant is put in another municipality: every value gets
 * a new version, so that municipality pulls it all; *version the last.
 */
int ss_participant_move(struct ss_store *s, const char *id, uint64_t *version) SH_MUST_USE;
/* The number of values (entries, cleared ones too) the participant holds. */
size_t ss_participant_entries(struct ss_store *s, const char *participant);

/* Other participations of the same person: calls cb(id, kommune, start, end). */
int ss_same_person(struct ss_store *s, const char *fnr, const char *except,
		   int (*cb)(const char *id, const char *kommune, const char *start,
			     const char *end, void *arg), void *arg) SH_MUST_USE;

/* Conflicts */
int ss_conflict_add(struct ss_store *s, const struct sh_conflict *c, int64_t now) SH_MUST_USE;
/* An open duplicate conflict between a and b (either order)? id or 0. */
int64_t ss_duplicate_open(struct ss_store *s, const char *a, const char *b);
/* Marks resolved with a new seq. NOT_FOUND / DENIED (not in scope) */
int ss_conflict_resolve(struct ss_store *s, int64_t id, const struct ss_user *u,
			const char *by) SH_MUST_USE;
/* Open duplicate conflicts of a participant (ids into out, up to cap). */
size_t ss_duplicates_of(struct ss_store *s, const char *participant, int64_t *ids,
			char (*others)[SH_ID_LEN + 1], size_t cap);

/*
 * Where a device's pull stands: everything up to `since` is out, and of
 * participants changed after it, values newer than `base` are what is
 * still due (base = since once a pull reaches the end). Pages are cut by
 * whole participants in version order, so a value older than the cut may
 * belong to a participant on a later page: base keeps it due.
 */
struct ss_cursor {
	uint64_t since, base;
};

/*
 * One pull page for user u (on device, whose own writes are left out)
 * after `from`, about `limit` ops (whole participants; at least one), as
 * the sealed body text (page JSON) appended to out; the cursor after it
 * to `to`, more and count (ops and conflicts) set; the ids of the
 * participants it carries, space-separated, to ids (audit).
 */
int ss_pull_page(struct ss_store *s, const struct ss_user *u, const char *device,
		 const struct ss_cursor *from, size_t limit, struct sh_buf *out, struct ss_cursor *to,
		 bool *more, size_t *count, struct sh_buf *ids) SH_MUST_USE;

/* Content hash of one municipality's participant data (hex, 64). */
int ss_content_hash(struct ss_store *s, const char *kommune, char out[65]) SH_MUST_USE;

#endif
