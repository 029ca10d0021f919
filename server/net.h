/*
 * net.h: the libwebsockets side of jsr-server: one vhost with the jsr.v1
 * WebSocket protocol on /sync and plain HTTP /healthz and /metrics. Runs
 * on the calling thread; moves frames between sockets and the worker.
 */
#ifndef SS_NET_H
#define SS_NET_H

#include <stddef.h>

#include "err.h"
#include "worker.h"

struct ss_net_cfg {
	const char *host;      /* listen address */
	int port;              /* 0 = any free port */
	const char *tls_cert, *tls_key;
	size_t max_message;    /* reassembly cap */
	struct ss_worker_cfg worker;
};

/*
 * Starts the worker and serves until SIGINT/SIGTERM. Prints one line
 * "jsr-server: lytter på ws://HOST:PORT/sync" (stdout, flushed) when ready.
 */
int ss_net_run(struct ss_net_cfg *cfg, struct sh_reason *why) SH_MUST_USE;
/* libwebsockets' own messages into our log (errors and warnings only); before any lws context. */
void ss_net_log_init(void);

#endif
