/*
 * metrics.h: counters and a latency histogram for /metrics (Prometheus
 * text format). Lock-free atomics: updated from the network and worker
 * threads, read by the network thread.
 */
#ifndef SS_METRICS_H
#define SS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SS_LAT_BUCKETS 12

struct ss_metrics {
	atomic_long connections;
	atomic_ulong changesets, changes_applied, changes_superseded, conflicts, duplicates;
	atomic_ulong rejects, protocol_errors, pull_pages, pull_pages_ahead, logins, login_failures;
	atomic_ulong lat_bucket[SS_LAT_BUCKETS + 1]; /* cumulative at render */
	atomic_ulong lat_count, lat_sum_us;
	/* Folkeregister lookups: answers by class (ok, not_found, bad_request, auth, throttled,
	 * server_error, network, malformed), open jobs, requests in flight, alerts */
	atomic_ulong freg_requests[8];
	atomic_long freg_jobs_open, freg_in_flight, freg_config_error, freg_breaker_open;
};

extern struct ss_metrics ss_metrics;

/* Records one push-to-ack latency. */
void ss_metrics_ack_latency(uint64_t us);
/* Appends the Prometheus text exposition. */
void ss_metrics_render(struct sh_buf *out);

#endif
