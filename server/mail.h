/*
 * mail.h: the durable e-mail outbox (DESIGN.md §8). Mail is queued in the
 * store inside the transaction that causes it (an invitation), so nothing
 * is sent for work that rolled back and nothing is lost on a restart. A
 * mailer thread with its own connection delivers what is due: through
 * `sendmail -t -i` when configured, otherwise (the default) as RFC 5322
 * .eml files (UTF-8) in a spool folder. A failure is retried with
 * exponential backoff; the error is kept for the operator.
 */
#ifndef SS_MAIL_H
#define SS_MAIL_H

#include <stdbool.h>

#include "store.h"

/* A plausible address: one @, no spaces, controls or header syntax, ≤ 254 bytes. */
bool ss_email_ok(const char *addr);

/* Queues a message (inside the caller's transaction). */
int ss_mail_queue(struct ss_store *s, const char *to, const char *subject, const char *body) SH_MUST_USE;

/*
 * Delivers every due message (all: also those waiting for a retry)
 * through the database at `db_path`: into
 * `spool` (.eml) or, if `sendmail` is set, through that command. Counts
 * what went out and what failed.
 */
int ss_mail_deliver(const char *db_path, const char *spool, const char *sendmail, const char *from,
		    bool all,
		    int *sent, int *failed) SH_MUST_USE;

struct ss_mailer;
int ss_mailer_start(const char *db_path, const char *spool, const char *sendmail, const char *from,
		    struct ss_mailer **out) SH_MUST_USE;
/* Any thread: deliver now rather than at the next poll. */
void ss_mailer_wake(struct ss_mailer *m);
void ss_mailer_stop(struct ss_mailer *m);

#endif
