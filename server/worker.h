/*
 * worker.h: the server's protocol and database thread.
 *
 * The network thread (net.c) only moves frames: it posts jobs (a
 * connection opened, a message arrived, a connection closed) and takes
 * outputs (frames to send, connections to close). Everything else — JSON,
 * boxes, passwords, SQLite — happens here, on one thread that owns the
 * store. Jobs are taken in batches and their writes committed together
 * (group commit); outputs are released only after that commit, so an
 * acknowledgement never goes out for data that is not on disk.
 */
#ifndef SS_WORKER_H
#define SS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "lookup.h"
#include "catalog.h"
#include "mail.h"
#include "seal.h"
#include "store.h"

enum ss_job_kind { SS_JOB_OPEN, SS_JOB_MSG, SS_JOB_CLOSE, SS_JOB_HTTP, SS_JOB_LOOKUP };

struct ss_job {
	struct ss_job *next;
	enum ss_job_kind kind;
	uint64_t conn;
	uint64_t t0_us; /* when the message was complete (monotonic) */
	size_t len;
	char *text;     /* MSG: the frame; HTTP: the body; owned by the job */
	char address[64]; /* OPEN, HTTP: the peer's address */
	/* HTTP */
	char method[8], path[64], token[80], ctype[128];
	bool too_big;
	/* LOOKUP: results from the scheduler (len of them), owned by the job */
	struct ss_lookup_result *results;
};

struct ss_out {
	struct ss_out *next;
	uint64_t conn;
	uint64_t t0_us;    /* push: for the ack-latency histogram; 0 otherwise */
	bool job_done;     /* this output finishes one job of the connection */
	bool close;        /* close the connection after sending text (if any) */
	uint16_t close_code;
	size_t len;
	char *text;        /* may be NULL (close only) */
	int http_status;   /* an HTTP response (text is its body) when non-zero */
	const char *http_type;
};

struct ss_worker_cfg {
	struct ss_store *store;          /* owned by the worker from start */
	const struct sh_domain *domain;
	const struct sh_keys *keys;      /* the server's keys */
	int64_t session_ttl_ms, session_idle_ms;
	size_t page_limit;
	struct ss_access_cfg access;
	struct ss_mailer *mailer;        /* woken when mail is queued; may be NULL */
	struct ss_lookup *lookup;        /* the Folkeregister scheduler; may be NULL */
	int audit_anchor_s;              /* the audit head into the log this often (0: never) */
	void (*wake)(void *arg);         /* called after outputs were queued */
	void *wake_arg;
};

struct ss_worker;

int ss_worker_start(const struct ss_worker_cfg *cfg, struct ss_worker **out) SH_MUST_USE;
/* Takes ownership of j. Any thread. */
void ss_worker_post(struct ss_worker *w, struct ss_job *j);
/* All outputs ready now, oldest first (caller frees with ss_out_free). */
struct ss_out *ss_worker_take(struct ss_worker *w);
void ss_out_free(struct ss_out *o);
/* Finishes the queued jobs, stops the thread, closes the store. */
void ss_worker_stop(struct ss_worker *w);

/* The scheduler's sink (lookup.h): results become a job of this worker. arg: the worker. */
void ss_worker_lookup_sink(void *arg, struct ss_lookup_result *r, size_t n);

#endif
