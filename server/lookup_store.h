/*
 * lookup_store.h: the durable lookup jobs and requests in the store
 * (schema/server/004_lookup.sql). Worker thread only, inside its
 * transactions (and jsr-server status, read-only).
 *
 * A job per number (deduplicated) ends as found, not_found or failed (or
 * cancelled when nobody waits for it any more); a request ties a participant
 * to the number it had when it asked. The client's view of a lookup is
 * derived here, once: sendt (the server has it), henter (tries failed, the
 * next is scheduled), hentet, ikke_funnet, feil.
 */
#ifndef SS_LOOKUP_STORE_H
#define SS_LOOKUP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct ss_lk_job {
	char fnr[12];
	char state[12];   /* pending, found, not_found, failed, cancelled */
	int attempts;
	int64_t next_try; /* unix ms */
	char reason[200];
	char navn[304], kjonn[8];
};

/* The client's state word for a job. */
const char *ss_lk_client_state(const struct ss_lk_job *j);

/* The job for a number, if any (SH_ERR_NOT_FOUND otherwise). */
int ss_lk_job_get(struct ss_store *s, const char *fnr, struct ss_lk_job *j) SH_MUST_USE;
/*
 * A participant asks for its number: the request is recorded (replacing an
 * older one of the participant) and the job made or revived. *start: the
 * scheduler must be told (a new or revived job). *j: the job now. A
 * request for a number already answered is answered from the job and not
 * kept.
 */
int ss_lk_request(struct ss_store *s, const char *participant, const char *fnr, const char *kommune,
		  const char *user, int64_t now, bool *start, struct ss_lk_job *j) SH_MUST_USE;
/*
 * A pending job's next try, or its final state; *j is the job as written.
 * SH_ERR_NOT_FOUND when it is no longer pending (cancelled or done).
 */
int ss_lk_retry(struct ss_store *s, const char *fnr, int attempts, int64_t next_try, const char *reason,
		int64_t now, struct ss_lk_job *j) SH_MUST_USE;
int ss_lk_finish(struct ss_store *s, const char *fnr, const char *state, int attempts, const char *navn,
		 const char *kjonn, const char *status, const char *reason, int64_t now,
		 struct ss_lk_job *j) SH_MUST_USE;
/* The participants waiting for a number: cb(participant, kommune). */
int ss_lk_requests_each(struct ss_store *s, const char *fnr,
			int (*cb)(const char *participant, const char *kommune, void *arg), void *arg) SH_MUST_USE;
int ss_lk_requests_drop(struct ss_store *s, const char *fnr) SH_MUST_USE;
/*
 * A participant's number changed: its request for the old one goes. If
 * nobody else waits for that number, its open job is cancelled (*cancelled).
 */
int ss_lk_renumbered(struct ss_store *s, const char *participant, const char *old_fnr, bool *cancelled) SH_MUST_USE;
/* The scheduler's alert for the operator ("" when all is well), in meta freg_alert. */
int ss_lk_alert_put(struct ss_store *s, const char *text) SH_MUST_USE;
/* The alert now ("" when there is none). */
void ss_lk_alert_get(struct ss_store *s, char *out, size_t n);

/* Every open job (after a restart): cb(fnr, attempts, next_try). */
int ss_lk_open_each(struct ss_store *s, void (*cb)(const char *fnr, int attempts, int64_t next_try, void *arg),
		    void *arg) SH_MUST_USE;

#endif
