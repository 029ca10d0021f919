/*
 * lookup.h: the Folkeregister lookup scheduler (DESIGN.md §7). Works the
 * durable jobs (one per number; the table lives in the store and is
 * written only by the worker) with:
 *  - bounded concurrency and a global rate limit: never more than `rate`
 *    requests started in any window of one second;
 *  - a per-request timeout, retries with exponential backoff and jitter;
 *  - 429: everything pauses for Retry-After; 401/403: a configuration
 *    error, every job is kept and the operator alerted, one probe now and
 *    then and at once when the token file changes;
 *  - a circuit breaker: after `breaker_failures` failures in a row it opens,
 *    then lets one probe through (half-open) before closing again.
 * Backends: `local` (the synthetic register file, answered in-process) and
 * `http` (the Skatteetaten API shape, HTTP(S) through the libwebsockets
 * client, Authorization: Bearer from a token file).
 *
 * Runs its own thread with its own lws context. ss_lookup_add/cancel are
 * safe from any thread; results go to the sink (the worker) in batches.
 */
#ifndef SS_LOOKUP_H
#define SS_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "freg.h"

struct ss_lookup_cfg {
	const char *backend;       /* "local" or "http" */
	const char *register_path; /* local: the synthetic register file */
	const char *url;           /* http: http(s)://host[:port][/prefix] */
	const char *token_file;    /* http: the bearer token (Maskinporten's), re-read when changed */
	const char *ca_file;       /* http: a private CA (tests), else the system store */
	double rate;               /* requests started per second, at most */
	int concurrency;           /* requests in flight, at most */
	int timeout_ms;            /* per request */
	int max_backoff_s;         /* cap of a job's retry delay */
	int breaker_failures;      /* failures in a row that open the breaker */
	int breaker_open_s;        /* first open period (doubles, up to 16x) */
	int probe_s;               /* configuration error: probe this often */
	int malformed_max;         /* malformed 200 answers before a job fails for good */
};

enum ss_lookup_outcome {
	SS_LK_FOUND,     /* person filled */
	SS_LK_NOT_FOUND, /* final: 404 */
	SS_LK_FAILED,    /* final: 400, or malformed answers too many times; reason */
	SS_LK_RETRY,     /* not yet: attempts, next_try, reason */
	SS_LK_HEALTH,    /* no job: the scheduler's state changed (alert, breaker) */
};

struct ss_lookup_result {
	enum ss_lookup_outcome outcome;
	char fnr[12];
	int attempts;
	int64_t next_try; /* unix ms */
	struct ss_person person;
	char reason[200];  /* Norwegian, no personal data */
	/* HEALTH */
	bool config_error, breaker_open;
	int64_t paused_until;
};

/* Where results go: takes ownership of r (n results, sh_free). Called on the scheduler thread. */
typedef void (*ss_lookup_sink)(void *arg, struct ss_lookup_result *r, size_t n);

struct ss_lookup;

int ss_lookup_start(const struct ss_lookup_cfg *cfg, struct ss_lookup **out, struct sh_reason *why) SH_MUST_USE;
/* Results wait until a sink is set; NULL detaches (before the sink goes away). */
void ss_lookup_set_sink(struct ss_lookup *l, ss_lookup_sink sink, void *arg);
/* A job to work (again): attempts so far, not before next_try (unix ms). Any thread. */
void ss_lookup_add(struct ss_lookup *l, const char *fnr, int attempts, int64_t next_try);
/* Forget a job (its number is no longer wanted). Any thread. */
void ss_lookup_cancel(struct ss_lookup *l, const char *fnr);
/* Stops the thread; queued results are dropped (the jobs stay pending in the store). */
void ss_lookup_stop(struct ss_lookup *l);

#endif
