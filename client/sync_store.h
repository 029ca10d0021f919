/*
 * sync_store.h: what synchronisation does to the replica, each step one
 * transaction: freezing the outbox into numbered change-sets, applying an
 * acknowledgement, applying a pulled page with its cursor, and conflicts.
 * Kept apart from the network code (sync.c) so it is testable on its own.
 *
 * Rules (DESIGN.md §3, §6, §9):
 *  - a change-set, once numbered, never changes: a re-send is byte-identical;
 *  - a change leaves the outbox only when the server acknowledged it; a
 *    rejected one stays, marked with the reason, and the value stays too;
 *  - a pulled value never overwrites a field with a local change still in
 *    the outbox (sent, unsent or rejected);
 *  - a page and the cursor after it are committed together.
 */
#ifndef SC_SYNC_STORE_H
#define SC_SYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "replica.h"
#include "wire.h"

#define SC_CHANGESET_SIZE SH_CHANGESET_MAX /* changes per change-set, at most */

/*
 * Changes per change-set: the setting changeset_size when it is within
 * 1..SC_CHANGESET_SIZE, else SC_CHANGESET_SIZE. Smaller change-sets are
 * sent again sooner after a cut connection.
 */
size_t sc_changeset_size(void);
/*
 * Numbers unsent changes into change-sets of at most sc_changeset_size()
 * changes, of whole participants (only one with more changes than that is
 * split), in participant order: the first `limit` such cuts (SIZE_MAX:
 * all). The change-sets made are numbered first .. first + *changesets - 1.
 * The numbering is on disk when this returns: a change-set goes out only
 * after it.
 */
int sc_freeze_outbox(struct sc_replica *r, size_t limit, uint64_t *first, size_t *changesets) SH_MUST_USE;
/* Is there a change not yet numbered into a change-set? */
bool sc_has_unsent(struct sc_replica *r);
/* Numbers of the change-sets waiting for an acknowledgement, ascending (sh_free). */
int sc_pending_changesets(struct sc_replica *r, uint64_t **seqs, size_t *n) SH_MUST_USE;
/* The body of change-set seq (byte-identical on every call) and its size. */
int sc_changeset_body(struct sc_replica *r, uint64_t seq, struct sh_buf *body, size_t *count) SH_MUST_USE;

struct sc_ack_stats {
	size_t applied, superseded, conflicts, rejected;
};
/* Applies the server's results for change-set seq (in order). */
int sc_apply_ack(struct sc_replica *r, uint64_t seq, const struct sh_result *res, size_t n,
		 struct sc_ack_stats *st, struct sh_reason *why) SH_MUST_USE;
/* Applies a pulled page and stores page->next as the cursor, in one transaction. */
int sc_apply_page(struct sc_replica *r, const struct sh_pull_page *page, size_t *applied,
		  size_t *kept) SH_MUST_USE;

/*
 * The Folkeregister lookups to ask the server about, as bodies
 * {"lookups": [[participant, fnr], ...]} of at most SC_CHANGESET_SIZE
 * entries: cb(body, entries) for each. only_new: just those never
 * answered by the server (venter); otherwise every unfinished one.
 */
int sc_lookup_bodies(struct sc_replica *r, bool only_new, int (*cb)(struct sh_buf *body, size_t n, void *arg),
		     void *arg) SH_MUST_USE;
/*
 * Applies the server's lookup states ({"states": [[participant, fnr, state,
 * attempts, next_try, reason], ...]}), each only while the participant's
 * lookup is still for that number. SH_ERR_PROTO if the body is malformed.
 */
int sc_apply_lookup_states(struct sc_replica *r, const char *body, size_t len, size_t *applied) SH_MUST_USE;

/*
 * The pull cursor (0 on a fresh replica), and its base: the values of
 * participants changed after the cursor that are newer than the base are
 * still due (server/store.h, struct ss_cursor).
 */
uint64_t sc_cursor(struct sc_replica *r);
uint64_t sc_cursor_base(struct sc_replica *r);

/* Queues a resolution of a conflict (an outbox entry that syncs). */
int sc_conflict_resolve(struct sc_replica *r, int64_t id, struct sh_reason *why) SH_MUST_USE;

struct sc_conflict_row {
	int64_t id;
	const char *kind, *participant, *field, *row, *winner, *loser, *winner_author, *loser_author;
	const char *other;
	uint64_t winner_hlc, loser_hlc;
	int resolved;
};
/* Conflicts of one participant or (NULL) all; open ones only unless all. */
int sc_conflicts_each(struct sc_replica *r, const char *participant, bool all,
		      int (*cb)(const struct sc_conflict_row *c, void *arg), void *arg) SH_MUST_USE;

/* Content hash of the replica's participants of one municipality (as the server's). */
int sc_content_hash(struct sc_replica *r, const char *kommune, char out[65]) SH_MUST_USE;

#endif
