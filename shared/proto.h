/*
 * proto.h: the jsr.v1 protocol's messages (DESIGN.md §5): WebSocket text
 * frames, each one JSON object {"t": type, "id": request id, ...}.
 *
 * sh_msg_parse() is the one gate every received frame passes: size cap,
 * UTF-8, JSON, an object, a known type, a sane id. It is fuzzed
 * (tests/fuzz/fuzz_proto.c). Typed getters refuse wrong types, so a
 * handler never trusts a field it did not check.
 */
#ifndef SH_PROTO_H
#define SH_PROTO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SH_PROTO "jsr.v1"
/*
 * The version of the bodies, in hello ("v") and in a change-set's header
 * ("schema"). 2 (2026-11-27): pull pages by participant with the cursor's
 * base, acknowledgements with runs. 3 (2026-11-27): change-sets by
 * participant too (shared/wire.h). A client or server of another version
 * is told so and syncs nothing.
 */
#define SH_PROTO_VERSION 3
#define SH_MSG_MAX (64u << 20) /* a whole reassembled message */
#define SH_JSON_INT_MAX 9007199254740991ULL /* 2^53 - 1: the largest integer a JSON number holds exactly */

enum sh_msg {
	SH_MSG_HELLO,     /* s→c: version, time, fingerprint, keys, challenge */
	SH_MSG_LOGIN,     /* c→s: box(kind login): user + password; enrols the device */
	SH_MSG_LOGIN_OK,  /* s→c: box: session token, user, role, kommuner */
	SH_MSG_AUTH,      /* c→s: box(kind auth): session token */
	SH_MSG_AUTH_OK,   /* s→c: user, role, kommuner, server_seq, acked_seq */
	SH_MSG_PUSH,      /* c→s: box(kind changeset) */
	SH_MSG_PUSH_ACK,  /* s→c: box: seq + a result per change */
	SH_MSG_PULL,      /* c→s: since, limit */
	SH_MSG_CHANGES,   /* s→c: box: ops, conflicts, next, more */
	SH_MSG_NOTIFY,    /* s→c: server_seq */
	SH_MSG_ERROR,     /* s→c: code, message (Norwegian), detail (English) */
	SH_MSG_ADMIN,     /* c→s: box(kind admin): op invite|resend|deactivate|users */
	SH_MSG_ADMIN_OK,  /* s→c: box: the op's result */
	SH_MSG_WIPE,      /* s→c: box: the user is deactivated; delete the replica */
	SH_MSG_LOOKUP,    /* c→s: box(kind lookup): {"lookups": [[participant, fnr], ...]} */
	SH_MSG_LOOKUP_STATE, /* s→c: box: {"states": [[participant, fnr, state, attempts, next_try, reason], ...]} */
	SH_MSG_COUNT
};

const char *sh_msg_name(enum sh_msg m);
/* -1 if unknown */
int sh_msg_from_name(const char *name);

/*
 * Parses one received frame. On success *out is the object (caller
 * deletes), *type its type and *id its "id" (0 when absent). On failure a
 * Norwegian reason; SH_ERR_TOO_BIG or SH_ERR_PROTO.
 */
int sh_msg_parse(const char *text, size_t len, cJSON **out, enum sh_msg *type, uint64_t *id,
		 struct sh_reason *why) SH_MUST_USE;

/* {"t":"error","id":id,"code":…,"message":…,"detail":…} as text (sh_free). */
char *sh_msg_error(uint64_t id, int err, const char *message, const char *detail);

/* A string member of at most maxlen bytes, valid UTF-8; NULL otherwise. */
const char *sh_json_str(const cJSON *o, const char *key, size_t maxlen);
/* An integral number in [0, max] (max at most SH_JSON_INT_MAX); SH_ERR_PROTO otherwise (then *out is 0). */
int sh_json_u64_value(const cJSON *v, uint64_t max, uint64_t *out) SH_MUST_USE;
/* The same of member key of o. */
int sh_json_u64(const cJSON *o, const char *key, uint64_t max, uint64_t *out) SH_MUST_USE;
/* The same for an optional member: `otherwise` when it is absent. */
int sh_json_u64_or(const cJSON *o, const char *key, uint64_t max, uint64_t otherwise, uint64_t *out) SH_MUST_USE;
/* Unformatted text of a cJSON value (sh_free); NULL on failure. */
char *sh_json_print(const cJSON *j);

#endif
