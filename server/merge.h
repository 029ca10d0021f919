/*
 * merge.h: applies one decoded change-set to the store (DESIGN.md §6).
 *
 * Per change: who may write the field, the clock guard, the user's
 * municipalities, the value itself; then the field-level merge:
 *  - base == the field's version (or a new field): applied;
 *  - otherwise the same value: superseded (nothing to do);
 *  - otherwise the sending device wrote the current value itself: its newer
 *    change is applied, an older one superseded;
 *  - otherwise the edits were concurrent: the higher (hlc, device) wins and
 *    a conflict record keeps both values, authors and times.
 * A change that would be written is checked with the shared rules against
 * the server's values; a refused one is rejected with the reason. After each
 * participant: status, a municipality move, and duplicate registrations of
 * the same person overlapping in time (a «duplicate» conflict, never a silent
 * merge). Runs inside the caller's transaction; writes nothing on its own
 * outside it.
 */
#ifndef SS_MERGE_H
#define SS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "hlc.h"
#include "store.h"
#include "wire.h"

struct ss_merge_stats {
	size_t applied, superseded, conflicts, rejected, duplicates;
};

struct ss_merge {
	struct ss_store *store;
	const struct sh_domain *d;
	const struct ss_user *user;
	const char *device;
	struct sh_hlc *clock;
	int64_t now;
	uint64_t hlc_limit;  /* non-zero: later changes are refused (a deactivated user's last push) */
	struct sh_buf *written; /* optional: ids of the participants written, space-separated */
	struct sh_buf *renumbered; /* optional: "participant:oldfnr " for each number changed */
	struct ss_merge_stats stats;
	/* municipalities whose data changed (for notify) */
	char kommuner[64][8];
	size_t nkommuner;
};

/*
 * Merges changes c[0..n) and appends the results array text (one result
 * a change, runs of plain ones in one element: shared/wire.h) to results. SH_OK unless the
 * store failed (then the caller rolls back).
 */
int ss_merge_changes(struct ss_merge *m, const struct sh_change *c, size_t n,
		     struct sh_buf *results) SH_MUST_USE;

/*
 * A Folkeregister answer for one participant, written as server-authored
 * changes (author «folkeregisteret»): navn, and kjønn when the number does
 * not carry it (2032 rules). Only if the participant still has that
 * number: *applied says whether it did. m->user and m->device are ignored.
 */
int ss_merge_lookup(struct ss_merge *m, const char *participant, const char *fnr, const char *navn,
		    const char *kjonn, bool *applied) SH_MUST_USE;

#endif
