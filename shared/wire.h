/*
 * wire.h: the bodies inside sealed boxes, encoded and decoded in one place
 * so client and server cannot disagree.
 *
 *  change-set  {"participants":[[participant, [[field, row, value, hlc, base], ...]], ...]}
 *              (each participant's changes in the order they were made;
 *              protocol version 2 sent {"changes":[[participant, field, row,
 *              value, hlc, base], ...]})
 *  ack         {"seq":N,"results":[[code, version, value|null, reason|null], ...]}
 *              (one result a change, in order; k ≥ 2 consecutive results of
 *              one code without value or reason, at versions v, v+1, …,
 *              as one element [code, v, null, null, k])
 *  page        {"participants":[[participant, author, [[field, row, value, version, hlc(, author)], ...]], ...],
 *               "conflicts":[{...}], "next":N, "base":B, "more":bool, "server_seq":S}
 *              (whole participants, each with its values newer than the
 *              request's base, at most SH_PAGE_MAX values in all; B ≤ N,
 *              what is due from N on; a value's author only when it is
 *              not the participant's, the author of its first value)
 *
 * hlc travels as 16 hex digits (64 bits do not fit a JSON number); field
 * "#resolve" with row = a conflict id resolves that conflict. Decoders
 * check every element's type and size; strings in the decoded structs
 * point into the returned document (struct sh_wire_doc: its cJSON tree,
 * parsed into an arena of its own), let go of last with sh_wire_doc_free().
 */
#ifndef SH_WIRE_H
#define SH_WIRE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define SH_CHANGESET_MAX 10000 /* changes in one change-set */
#define SH_PAGE_MAX 20000      /* ops in one pull page */
#define SH_RESOLVE "#resolve"

struct sh_change {
	const char *participant, *field, *row, *value;
	uint64_t hlc, base;
};

struct sh_result {
	const char *code;   /* applied, superseded, conflict, rejected */
	uint64_t version;   /* the field's version on the server afterwards */
	const char *value;  /* the server's value when it is not the sender's, else NULL */
	const char *reason; /* rejected: Norwegian reason */
};

struct sh_op {
	const char *participant, *field, *row, *value, *author;
	uint64_t version, hlc;
};

struct sh_conflict {
	int64_t id;
	uint64_t seq, winner_hlc, loser_hlc;
	const char *kind, *participant, *kommune, *field, *row, *winner, *loser;
	const char *winner_author, *loser_author, *other, *other_kommune;
	bool resolved;
};

/*
 * Encoders append one element (with a leading comma unless first). A
 * change-set's or a page's participant: sh_wire_participant_begin, its
 * changes (sh_wire_change_put) or values (sh_wire_op_put), which do not
 * write the participant, then sh_wire_participant_end.
 */
void sh_wire_change_put(struct sh_buf *b, bool first, const struct sh_change *c);
/* An ack's results array, written result by result; runs are joined as they come. */
struct sh_results {
	struct sh_buf *b;
	bool first;
	struct sh_result run; /* the run held back (code NULL: none) */
	size_t n;             /* its length */
};
void sh_wire_results_begin(struct sh_results *w, struct sh_buf *b);
void sh_wire_results_add(struct sh_results *w, const struct sh_result *r);
void sh_wire_results_end(struct sh_results *w);
/* A change-set's participant: author NULL; a page's: the author most of its values have (the server takes its first value's). */
void sh_wire_participant_begin(struct sh_buf *b, bool first, const char *participant, const char *author);
/* A page's value; its author is written only when it is not author (the participant's). */
void sh_wire_op_put(struct sh_buf *b, bool first, const struct sh_op *o, const char *author);
void sh_wire_participant_end(struct sh_buf *b);
void sh_wire_conflict_put(struct sh_buf *b, bool first, const struct sh_conflict *c);

/* A decoded body: its tree, in an arena (alloc.h) when cJSON is hooked. */
struct sh_wire_doc {
	cJSON *root;
	struct sh_arena *arena;
};
void sh_wire_doc_free(struct sh_wire_doc *d);

int sh_wire_changes_decode(const char *body, size_t len, struct sh_wire_doc *doc, struct sh_change **out,
			   size_t *n, struct sh_reason *why) SH_MUST_USE;
/*
 * What identifies a change-set's content, whatever form it travelled in:
 * BLAKE2b-256 of its changes (each string with its NUL, hlc and base as
 * eight bytes little-endian). The server keeps it with the
 * acknowledgement, so a change-set sent again after an update of jsr that
 * writes bodies otherwise is still recognised as the same.
 */
int sh_wire_changes_hash(const struct sh_change *c, size_t n, unsigned char out[32]) SH_MUST_USE;
/*
 * What the server kept before that (protocol version 2): BLAKE2b-256 of
 * the body as version 2 wrote it, {"changes":[[participant, field, row,
 * value, hlc, base], ...]}. A change-set acknowledged by such a server is
 * recognised by this when sent again.
 */
int sh_wire_changes_hash_v2(const struct sh_change *c, size_t n, unsigned char out[32]) SH_MUST_USE;
int sh_wire_ack_decode(const char *body, size_t len, struct sh_wire_doc *doc, uint64_t *seq,
		       struct sh_result **out, size_t *n, struct sh_reason *why) SH_MUST_USE;

struct sh_pull_page {
	struct sh_op *ops;
	size_t nops;
	struct sh_conflict *conflicts;
	size_t nconflicts;
	uint64_t next, base, server_seq; /* base ≤ next: server/store.h, struct ss_cursor */
	bool more;
};
int sh_wire_page_decode(const char *body, size_t len, struct sh_wire_doc *doc, struct sh_pull_page *page,
			struct sh_reason *why) SH_MUST_USE;
void sh_wire_page_free(struct sh_pull_page *page);

/* 32 lowercase hex digits (participant, device and row ids). */
bool sh_wire_id_ok(const char *s);

#endif
