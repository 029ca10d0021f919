/*
 * opener.h: pull pages parsed, opened, decoded and stored on a thread of
 * their own, with its own connection to the replica, so that the network
 * thread receives the next page meanwhile. One page at a time, in the
 * order posted; each is stored with its cursor in one transaction.
 */
#ifndef SC_OPENER_H
#define SC_OPENER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "replica.h"
#include "seal.h"
#include "wire.h"

/* An opened page, or why it could not be opened (rc). */
struct sc_opened {
	uint64_t tag; /* as posted */
	int rc;
	struct sh_reason why;
	char *body;
	struct sh_wire_doc doc;
	struct sh_pull_page page;
	size_t applied, kept; /* stored: sc_apply_page's counts */
	double ms;            /* opening and decoding */
	double store_ms;      /* storing */
};

struct sc_opener;

/*
 * Starts the thread, which stores the pages it opens in store (a connection
 * of its own, used only there until sc_opener_stop); wake(arg) is called
 * from it when a page is ready (opened and stored, or refused). NULL
 * without memory or a thread.
 */
struct sc_opener *sc_opener_start(void (*wake)(void *arg), void *arg, struct sc_replica *store);
/* Stops the thread; drops a page posted or ready. */
void sc_opener_stop(struct sc_opener *o);
/*
 * Hands over a page's box (the opener frees it) to be opened with the
 * channel's key and checked against the server's signing key. Refused
 * (box freed): SH_ERR_BUSY while another page is posted or not taken,
 * SH_ERR_PROTO if it is not an object.
 */
int sc_opener_post(struct sc_opener *o, cJSON *box, const unsigned char key[32],
		   const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag) SH_MUST_USE;
/*
 * The same for a whole `changes` message as received (the opener frees
 * text): parsed as a message there too, so the network thread only
 * receives. Refused (text freed): SH_ERR_BUSY as above.
 */
int sc_opener_post_message(struct sc_opener *o, char *text, size_t len, const unsigned char key[32],
			   const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag) SH_MUST_USE;
/* The page opened and stored (or refused), if ready: moved into *out (freed with sc_opened_free). */
bool sc_opener_take(struct sc_opener *o, struct sc_opened *out);
/* The same, waiting for the page posted to be opened; false if none is posted or ready. */
bool sc_opener_wait(struct sc_opener *o, struct sc_opened *out);
/* Lets go of the page posted (waiting until it is opened and stored, if it is being opened) or ready. */
void sc_opener_drop(struct sc_opener *o);
void sc_opened_free(struct sc_opened *p);

#endif
