/* metrics.c: Prometheus text for the counters. */
#include "metrics.h"

struct ss_metrics ss_metrics;

/* upper bounds in milliseconds */
static const double bounds_ms[SS_LAT_BUCKETS] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};

void ss_metrics_ack_latency(uint64_t us)
{
	size_t i = 0;

	while (i < SS_LAT_BUCKETS && (double)us / 1000.0 > bounds_ms[i])
		i++;
	atomic_fetch_add(&ss_metrics.lat_bucket[i], 1);
	atomic_fetch_add(&ss_metrics.lat_count, 1);
	atomic_fetch_add(&ss_metrics.lat_sum_us, us);
}

static void counter(struct sh_buf *b, const char *name, const char *help, unsigned long v)
{
	sh_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name, name, v);
}

void ss_metrics_render(struct sh_buf *b)
{
	unsigned long cum = 0;

	sh_buf_printf(b, "# HELP jsr_connections Open WebSocket connections.\n"
			 "# TYPE jsr_connections gauge\njsr_connections %ld\n",
		      atomic_load(&ss_metrics.connections));
	counter(b, "jsr_changesets_applied_total", "Change-sets applied.",
		atomic_load(&ss_metrics.changesets));
	counter(b, "jsr_changes_applied_total", "Changes written to the store.",
		atomic_load(&ss_metrics.changes_applied));
	counter(b, "jsr_changes_superseded_total", "Changes that were already there.",
		atomic_load(&ss_metrics.changes_superseded));
	counter(b, "jsr_conflicts_total", "Concurrent edits of one field.",
		atomic_load(&ss_metrics.conflicts));
	counter(b, "jsr_duplicates_total", "Overlapping registrations of one person.",
		atomic_load(&ss_metrics.duplicates));
	counter(b, "jsr_rejects_total", "Changes rejected (invalid, out of scope, rule).",
		atomic_load(&ss_metrics.rejects));
	counter(b, "jsr_protocol_errors_total", "Messages refused (malformed, forged, replayed ...).",
		atomic_load(&ss_metrics.protocol_errors));
	counter(b, "jsr_pull_pages_total", "Pull pages sent.", atomic_load(&ss_metrics.pull_pages));
	counter(b, "jsr_pull_pages_read_ahead_total", "Pull pages sent as read ahead, while the device stored the page before.",
		atomic_load(&ss_metrics.pull_pages_ahead));
	counter(b, "jsr_logins_total", "Successful logins.", atomic_load(&ss_metrics.logins));
	counter(b, "jsr_login_failures_total", "Failed logins.", atomic_load(&ss_metrics.login_failures));
	{
		static const char *const classes[] = {"ok", "not_found", "bad_request", "auth", "throttled",
						      "server_error", "network", "malformed"};

		sh_buf_puts(b, "# HELP jsr_freg_answers_total Folkeregister lookups by outcome.\n"
			       "# TYPE jsr_freg_answers_total counter\n");
		for (size_t i = 0; i < 8; i++)
			sh_buf_printf(b, "jsr_freg_answers_total{class=\"%s\"} %lu\n", classes[i],
				      atomic_load(&ss_metrics.freg_requests[i]));
	}
	sh_buf_printf(b, "# HELP jsr_freg_jobs_open Lookup jobs not yet finished.\n# TYPE jsr_freg_jobs_open gauge\n"
			 "jsr_freg_jobs_open %ld\n"
			 "# HELP jsr_freg_in_flight Lookup requests under way.\n# TYPE jsr_freg_in_flight gauge\n"
			 "jsr_freg_in_flight %ld\n"
			 "# HELP jsr_freg_config_error 1 while the register refuses our access (401/403): fix the token.\n"
			 "# TYPE jsr_freg_config_error gauge\njsr_freg_config_error %ld\n"
			 "# HELP jsr_freg_circuit_open 1 while the register is considered down.\n"
			 "# TYPE jsr_freg_circuit_open gauge\njsr_freg_circuit_open %ld\n",
		      atomic_load(&ss_metrics.freg_jobs_open), atomic_load(&ss_metrics.freg_in_flight),
		      atomic_load(&ss_metrics.freg_config_error), atomic_load(&ss_metrics.freg_breaker_open));
	sh_buf_puts(b, "# HELP jsr_ack_latency_seconds From a push received to its acknowledgement.\n"
		       "# TYPE jsr_ack_latency_seconds histogram\n");
	for (size_t i = 0; i <= SS_LAT_BUCKETS; i++) {
		cum += atomic_load(&ss_metrics.lat_bucket[i]);
		if (i < SS_LAT_BUCKETS)
			sh_buf_printf(b, "jsr_ack_latency_seconds_bucket{le=\"%g\"} %lu\n",
				      bounds_ms[i] / 1000.0, cum);
		else
			sh_buf_printf(b, "jsr_ack_latency_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
	}
	sh_buf_printf(b, "jsr_ack_latency_seconds_sum %.6f\njsr_ack_latency_seconds_count %lu\n",
		      (double)atomic_load(&ss_metrics.lat_sum_us) / 1e6,
		      atomic_load(&ss_metrics.lat_count));
}
