/*
 * sync.h: the client's synchronisation engine over jsr.v1 (libwebsockets
 * client): login (enrols the device, pins the server key), one sync round
 * (push every change-set, pull every page), a probe, and the daemon (stays
 * connected, pushes local changes as they appear, pulls on notify,
 * reconnects with backoff and jitter).
 *
 * Single-threaded: the lws service loop runs on the caller's thread and
 * the replica is used inline from the callbacks.
 */
#ifndef SC_SYNC_H
#define SC_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "replica.h"
#include "seal.h"

enum sc_sync_mode { SC_SYNC_ONCE, SC_SYNC_DAEMON, SC_SYNC_LOGIN, SC_SYNC_PROBE, SC_SYNC_ADMIN };

struct sc_sync_opts {
	enum sc_sync_mode mode;
	const char *url;        /* login: the server; otherwise NULL = the pinned one */
	const char *server_key; /* login: the fingerprint to pin */
	const char *user, *password; /* login */
	const char *totp;       /* login: the one-time code, if the server asks for one */
	const char *admin;      /* ADMIN: the request body (JSON: op and arguments) */
	int timeout_s;          /* ONCE/LOGIN/PROBE: give up after this long */
	const char *ca_file;    /* wss with a private CA */
};

enum sc_sync_status {
	SC_SYNC_OK,           /* in sync (or logged in, or reachable) */
	SC_SYNC_REJECTED,     /* in sync, but the server rejected some changes (ADMIN: the request) */
	SC_SYNC_LOGIN_NEEDED, /* no session, or it expired: the outbox is kept */
	SC_SYNC_OFFLINE,      /* could not reach the server */
	SC_SYNC_FAILED,       /* refused or broken (reason in why) */
	SC_SYNC_WIPED,        /* the user is deactivated: the caller deletes the replica */
};

struct sc_sync_result {
	enum sc_sync_status status;
	struct sh_reason why;
	size_t changesets, applied, superseded, conflicts, rejected, pulled, kept, pages;
	size_t lookups, lookup_states; /* Folkeregister lookups asked about; states received */
	double push_ms, pull_ms; /* time from auth_ok to the last ack; pulling */
	/* where the client's own time went (ms): building and sealing change-sets,
	 * applying acknowledgements, opening and decoding pages, applying them */
	double t_build, t_ack, t_decode, t_apply;
	char fingerprint[SH_FPR_LEN + 1];
	char user[65], role[16], role_label[48], kommuner[256];
	char *admin_result;   /* ADMIN: the server's answer (JSON, sh_free) */
};

int sc_sync_run(struct sc_replica *r, const struct sc_sync_opts *o, struct sc_sync_result *res) SH_MUST_USE;

/* Asks a running daemon (signal handler) to stop. */
void sc_sync_stop(void);

#endif
