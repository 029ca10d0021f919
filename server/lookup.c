/* lookup.c: the Folkeregister lookup scheduler (see lookup.h). */
#define _XOPEN_SOURCE 700 /* strptime */
#include "lookup.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "date.h"
#include "hlc.h"
#include "log.h"
#include "metrics.h"

struct job {
	char fnr[12];
	int attempts, malformed;
	int64_t next_try; /* wall ms */
	size_t heap;      /* index in the heap, or NOHEAP */
	bool in_flight, cancelled;
};

#define NOHEAP ((size_t)-1)

struct req {
	struct ss_lookup *l;
	struct job *job;
	struct lws *wsi;
	lws_sorted_usec_list_t timeout;
	int status;
	char ctype[96], retry_after[64];
	struct sh_buf body; /* the answer, at most SS_FREG_BODY_MAX */
	bool too_big, completed, timed_out, finished, probe;
	bool dead; /* lws is done with it while connect was still running: freed by start() */
};

enum input_kind { IN_ADD, IN_CANCEL };

struct input {
	struct input *next;
	enum input_kind kind;
	char fnr[12];
	int attempts;
	int64_t next_try;
};

struct ss_lookup {
	struct ss_lookup_cfg cfg;
	char *backend, *register_path, *url, *token_file, *ca_file;
	bool http;
	char host[256], prefix[256];
	int port;
	bool tls;
	struct ss_register *reg;

	pthread_t thread;
	struct lws_context *ctx;
	pthread_mutex_t lock; /* inputs, results, sink */
	struct input *in, *in_tail;
	atomic_bool stop;
	ss_lookup_sink sink;
	void *sink_arg;
	struct ss_lookup_result *out;
	size_t nout, capout;
	int64_t out_since; /* mono ms when the oldest of out[] arrived */

	/* the rest belongs to the scheduler thread */
	struct job **slots; /* open addressing by fnr; NULL empty, TOMB deleted */
	size_t cap, used, tombs;
	struct job **heap;
	size_t nheap, capheap;
	int in_flight;
	int64_t *ring; /* start times (mono us) of the last `window_n` requests */
	size_t window_n, ring_head, ring_count;
	int64_t window_us;
	double tokens, burst, rate; /* a token bucket for smoothness: refills at rate, holds burst */
	int64_t tokens_at_us;
	int fails;              /* transient failures in a row */
	int64_t open_until;     /* breaker open (mono ms); 0 closed */
	int open_ms;
	bool half_open, probe_out;
	int64_t paused_until;   /* 429 (mono ms) */
	bool config_error;
	int64_t next_probe;     /* mono ms */
	char token[4096];
	struct timespec token_mtime;
	int64_t token_checked;
	bool token_changed;
	bool last_config_error, last_breaker;
	lws_sorted_usec_list_t tick;
	struct req *connecting; /* the request inside lws_client_connect_via_info() */
};

static struct job TOMB_JOB;
#define TOMB (&TOMB_JOB)

static int64_t mono_ms(void) { return (int64_t)(sh_mono_us() / 1000); }
static int64_t mono_us(void) { return (int64_t)sh_mono_us(); }

static int64_t wall_ms(void)
{
	return (int64_t)sh_wall_ms();
}

/* ---- the job table (fnr → job) -------------------------------------------------------- */

static size_t hash(const char *fnr)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = fnr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)h;
}

static struct job **slot_of(struct ss_lookup *l, const char *fnr, bool for_insert)
{
	size_t i = hash(fnr) & (l->cap - 1);
	struct job **tomb = NULL;

	for (;;) {
		struct job *j = l->slots[i];

		if (!j)
			return for_insert && tomb ? tomb : &l->slots[i];
		if (j == TOMB) {
			if (!tomb)
				tomb = &l->slots[i];
		} else if (strcmp(j->fnr, fnr) == 0) {
			return &l->slots[i];
		}
		i = (i + 1) & (l->cap - 1);
	}
}

static struct job *find(struct ss_lookup *l, const char *fnr)
{
	struct job **s = l->cap ? slot_of(l, fnr, false) : NULL;

	return s && *s && *s != TOMB ? *s : NULL;
}

static bool grow(struct ss_lookup *l)
{
	size_t cap = l->cap ? l->cap * 2 : 1024;
	struct job **old = l->slots, **slots = sh_calloc(cap, sizeof(*slots));
	size_t oldcap = l->cap;

	if (!slots)
		return false;
	l->slots = slots;
	l->cap = cap;
	l->tombs = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i] && old[i] != TOMB)
			*slot_of(l, old[i]->fnr, true) = old[i];
	sh_free(old);
	return true;
}

static bool table_put(struct ss_lookup *l, struct job *j)
{
	if ((l->used + l->tombs + 1) * 2 > l->cap && !grow(l))
		return false;
	struct job **s = slot_of(l, j->fnr, true);
	if (*s == TOMB)
		l->tombs--;
	*s = j;
	l->used++;
	return true;
}

static void table_del(struct ss_lookup *l, struct job *j)
{
	struct job **s = slot_of(l, j->fnr, false);

	if (*s == j) {
		*s = TOMB;
		l->used--;
		l->tombs++;
	}
}

/* ---- the due heap (by next_try) -------------------------------------------------------- */

static void heap_swap(struct ss_lookup *l, size_t a, size_t b)
{
	struct job *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap = a;
	l->heap[b]->heap = b;
}

static void heap_up(struct ss_lookup *l, size_t i)
{
	while (i > 0 && l->heap[(i - 1) / 2]->next_try > l->heap[i]->next_try) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct ss_lookup *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;

		if (a < l->nheap && l->heap[a]->next_try < l->heap[m]->next_try)
			m = a;
		if (b < l->nheap && l->heap[b]->next_try < l->heap[m]->next_try)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static bool heap_push(struct ss_lookup *l, struct job *j)
{
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 1024;
		void *h = sh_realloc(l->heap, cap * sizeof(*l->heap));

		if (!h)
			return false;
		l->heap = h;
		l->capheap = cap;
	}
	l->heap[l->nheap] = j;
	j->heap = l->nheap++;
	heap_up(l, j->heap);
	return true;
}

static void heap_remove(struct ss_lookup *l, struct job *j)
{
	size_t i = j->heap;

	if (i == NOHEAP)
		return;
	l->nheap--;
	if (i != l->nheap) {
		heap_swap(l, i, l->nheap);
		heap_down(l, i);
		heap_up(l, i);
	}
	j->heap = NOHEAP;
}

/* ---- results ----------------------------------------------------------------------------- */

static void emit(struct ss_lookup *l, const struct ss_lookup_result *r)
{
	pthread_mutex_lock(&l->lock);
	if (l->nout == l->capout) {
		size_t cap = l->capout ? l->capout * 2 : 256;
		void *v = sh_realloc(l->out, cap * sizeof(*l->out));

		if (!v) {
			pthread_mutex_unlock(&l->lock);
			sh_log_error("lookup: out of memory; a result waits for the next run");
			return;
		}
		l->out = v;
		l->capout = cap;
	}
	if (l->nout++ == 0)
		l->out_since = mono_ms();
	l->out[l->nout - 1] = *r;
	pthread_mutex_unlock(&l->lock);
}

/*
 * Results reach the sink in batches: each batch is one transaction in the
 * worker, which also merges the caseworkers' change-sets, so a result a
 * time (hundreds a second at the configured rate) would cost it a commit
 * each. A result waits at most DELIVER_MS.
 */
#define DELIVER_MS 100
#define DELIVER_BATCH 256

/*
 * Hands what has gathered to the sink (on the scheduler thread) once the
 * batch is full or its oldest result has waited DELIVER_MS; returns when
 * it must be called again for the rest (0: nothing waits).
 */
static int64_t deliver(struct ss_lookup *l, int64_t now)
{
	struct ss_lookup_result *r = NULL;
	size_t n = 0;
	ss_lookup_sink sink;
	void *arg;
	int64_t due = 0;

	pthread_mutex_lock(&l->lock);
	sink = l->sink;
	arg = l->sink_arg;
	if (sink && l->nout &&
	    (l->nout >= DELIVER_BATCH || now - l->out_since >= DELIVER_MS || atomic_load(&l->stop))) {
		r = l->out;
		n = l->nout;
		l->out = NULL;
		l->nout = l->capout = 0;
	} else if (l->nout) {
		due = l->out_since + DELIVER_MS;
	}
	pthread_mutex_unlock(&l->lock);
	if (n)
		sink(arg, r, n);
	return due;
}

static void health(struct ss_lookup *l)
{
	bool open = l->open_until != 0;
	struct ss_lookup_result r = {.outcome = SS_LK_HEALTH, .config_error = l->config_error,
				     .breaker_open = open};

	atomic_store(&ss_metrics.freg_config_error, l->config_error ? 1 : 0);
	atomic_store(&ss_metrics.freg_breaker_open, open ? 1 : 0);
	if (l->config_error == l->last_config_error && open == l->last_breaker)
		return;
	l->last_config_error = l->config_error;
	l->last_breaker = open;
	if (l->config_error)
		snprintf(r.reason, sizeof(r.reason), "Folkeregisteret avviser serverens tilgang (401/403). "
			 "Sjekk tokenet (freg_token_file); oppslagene venter og fortsetter når det er rettet.");
	else if (open)
		snprintf(r.reason, sizeof(r.reason), "Folkeregisteret svarer ikke; nye forsøk om litt.");
	emit(l, &r);
}

/* ---- the rules of a try ------------------------------------------------------------------ */

static int64_t backoff_ms(struct ss_lookup *l, int attempts)
{
	int64_t cap = (int64_t)l->cfg.max_backoff_s * 1000, d = 1000;

	for (int i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* equal jitter: half fixed, half random, so retries of many jobs spread out */
	return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

static void job_free_if_done(struct ss_lookup *l, struct job *j)
{
	(void)l;
	if (j->cancelled && !j->in_flight)
		sh_free(j);
}

/* Back in the queue without counting a try (429, a configuration error, a stop). */
static void requeue(struct ss_lookup *l, struct job *j, int64_t at)
{
	j->next_try = at;
	if (!j->cancelled && !heap_push(l, j))
		sh_log_error("lookup: out of memory; a job waits for the next run");
}

static void final(struct ss_lookup *l, struct job *j, struct ss_lookup_result *r)
{
	r->attempts = j->attempts;
	snprintf(r->fnr, sizeof(r->fnr), "%s", j->fnr);
	if (!j->cancelled) {
		emit(l, r);
		table_del(l, j);
		j->cancelled = true; /* freed below, once it is not in flight */
	}
}

static void retry(struct ss_lookup *l, struct job *j, const char *reason)
{
	struct ss_lookup_result r = {.outcome = SS_LK_RETRY};

	j->attempts++;
	j->next_try = wall_ms() + backoff_ms(l, j->attempts);
	if (j->cancelled)
		return;
	r.attempts = j->attempts;
	r.next_try = j->next_try;
	snprintf(r.fnr, sizeof(r.fnr), "%s", j->fnr);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	emit(l, &r);
	requeue(l, j, j->next_try);
}

enum klass { K_OK, K_NOT_FOUND, K_BAD, K_AUTH, K_THROTTLED, K_SERVER, K_NETWORK, K_MALFORMED };

static void transient(struct ss_lookup *l)
{
	int64_t now = mono_ms();

	if (l->half_open || ++l->fails >= l->cfg.breaker_failures) {
		l->open_ms = l->open_until ? l->open_ms * 2 : l->cfg.breaker_open_s * 1000;
		if (l->open_ms > l->cfg.breaker_open_s * 16000)
			l->open_ms = l->cfg.breaker_open_s * 16000;
		if (l->open_ms < 100)
			l->open_ms = 100;
		l->open_until = now + l->open_ms;
		if (!l->half_open)
			sh_log_warn("lookup: the register fails; circuit open for %d ms", l->open_ms);
		l->half_open = false;
	}
}

static void healthy(struct ss_lookup *l)
{
	if (l->open_until)
		sh_log_info("lookup: the register answers again; circuit closed");
	l->fails = 0;
	l->open_until = 0;
	l->half_open = false;
	if (l->config_error)
		sh_log_info("lookup: access to the register works again");
	l->config_error = false;
}

static int64_t retry_after_ms(const char *v)
{
	char *end;
	long s;
	time_t t;
	struct tm tm;

	if (!v || !*v)
		return 1000;
	s = strtol(v, &end, 10);
	if (end != v && *end == '\0' && s >= 0)
		return s > 300 ? 300000 : (s ? s * 1000 : 1000);
	/* an HTTP date */
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
		t = timegm(&tm) - time(NULL);
		return t <= 0 ? 1000 : t > 300 ? 300000 : (int64_t)t * 1000;
	}
	return 1000;
}

/* One answer (or its absence), classified, applied to the job. */
static void outcome(struct ss_lookup *l, struct job *j, enum klass k, const struct ss_person *p,
		    const char *detail, const char *retry_after)
{
	struct ss_lookup_result r = {0};

	atomic_fetch_add(&ss_metrics.freg_requests[k], 1);
	switch (k) {
	case K_OK:
	case K_NOT_FOUND:
	case K_BAD:
		/* an answer about this number: final */
		healthy(l);
		r.outcome = k == K_OK ? SS_LK_FOUND : k == K_NOT_FOUND ? SS_LK_NOT_FOUND : SS_LK_FAILED;
		if (k == K_OK)
			r.person = *p;
		if (k == K_BAD)
			snprintf(r.reason, sizeof(r.reason), "Folkeregisteret avviste oppslaget%s%s%s.",
				 detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
		j->attempts++;
		final(l, j, &r);
		break;
	case K_AUTH:
		/* the server's access, not this number: keep every job, alert, probe */
		if (!l->config_error)
			sh_log_error("lookup: the register refuses our access (401/403): check freg_token_file; "
				     "jobs are kept");
		l->config_error = true;
		l->next_probe = mono_ms() + (int64_t)l->cfg.probe_s * 1000;
		requeue(l, j, j->next_try);
		break;
	case K_THROTTLED:
		l->paused_until = mono_ms() + retry_after_ms(retry_after);
		sh_log_warn("lookup: throttled (429); pausing %lld ms", (long long)(l->paused_until - mono_ms()));
		requeue(l, j, j->next_try);
		break;
	case K_MALFORMED:
		healthy(l);
		if (++j->malformed >= l->cfg.malformed_max) {
			r.outcome = SS_LK_FAILED;
			j->attempts++;
			snprintf(r.reason, sizeof(r.reason), "%s", detail);
			final(l, j, &r);
		} else {
			retry(l, j, detail);
		}
		break;
	case K_SERVER:
	case K_NETWORK:
		transient(l);
		retry(l, j, k == K_SERVER ? "Folkeregisteret har en feil; nytt forsøk senere."
					  : "Fikk ikke svar fra Folkeregisteret; nytt forsøk senere.");
		break;
	}
}

/* ---- requests ---------------------------------------------------------------------------- */

static void refill(struct ss_lookup *l, int64_t now_us)
{
	l->tokens += (double)(now_us - l->tokens_at_us) * l->rate / 1e6;
	if (l->tokens > l->burst)
		l->tokens = l->burst;
	l->tokens_at_us = now_us;
}

static void limiter_note(struct ss_lookup *l, int64_t now_us)
{
	l->ring[(l->ring_head + l->ring_count) % l->window_n] = now_us;
	if (l->ring_count < l->window_n)
		l->ring_count++;
	else
		l->ring_head = (l->ring_head + 1) % l->window_n;
	refill(l, now_us);
	l->tokens -= 1;
}

/*
 * When the next request may start (mono us). Two rules: never more than
 * window_n starts in any window (the register's limit, kept exactly), and
 * a token bucket of a few milliseconds' worth (rate/50) so that the
 * register sees a steady stream, not a second's worth at once.
 */
static int64_t limiter_next(struct ss_lookup *l)
{
	int64_t now = mono_us(), at = now;

	refill(l, now);
	if (l->tokens < 1)
		at = now + (int64_t)((1 - l->tokens) * 1e6 / l->rate) + 1;
	if (l->ring_count == l->window_n && l->ring[l->ring_head] + l->window_us > at)
		at = l->ring[l->ring_head] + l->window_us;
	return at;
}

static void pump(struct ss_lookup *l);

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct ss_lookup *l = lws_container_of(sul, struct ss_lookup, tick);

	pump(l);
}

/* pump() on the next turn of the loop (never from inside a request's callbacks). */
static void soon(struct ss_lookup *l)
{
	lws_sul_schedule(l->ctx, 0, &l->tick, tick_cb, 1);
}

static void done(struct ss_lookup *l, struct req *q)
{
	struct job *j = q->job;
	enum klass k;
	struct ss_person p;
	struct sh_reason why = {{0}};
	char code[24] = "";

	if (q->finished)
		return;
	q->finished = true;
	lws_sul_cancel(&q->timeout);
	if (q->completed && q->status == 200) {
		if (q->too_big || !strstr(q->ctype, "application/json")) {
			k = K_MALFORMED;
			sh_reason_set(&why, q->too_big ? "Svaret fra Folkeregisteret er for stort." :
							 "Svaret fra Folkeregisteret er ikke JSON.");
		} else {
			k = ss_freg_parse(q->body.data, q->body.len, &p, &why) == SH_OK ? K_OK : K_MALFORMED;
		}
	} else if (q->completed && q->status == 404) {
		k = K_NOT_FOUND;
	} else if (q->completed && q->status == 400) {
		k = K_BAD;
		ss_freg_error_code(q->body.data ? q->body.data : "", q->body.len, code);
	} else if (q->completed && (q->status == 401 || q->status == 403)) {
		k = K_AUTH;
	} else if (q->completed && q->status == 429) {
		k = K_THROTTLED;
	} else if (q->completed && q->status >= 500) {
		k = K_SERVER;
	} else if (q->completed) {
		k = K_MALFORMED; /* an answer we do not understand */
		sh_reason_set(&why, "Folkeregisteret svarte med status %d.", q->status);
	} else {
		k = K_NETWORK; /* refused, reset, or timed out */
	}
	l->in_flight--;
	atomic_store(&ss_metrics.freg_in_flight, l->in_flight);
	j->in_flight = false;
	outcome(l, j, k, &p, k == K_BAD ? code : why.text, q->retry_after);
	if (q->probe) {
		l->probe_out = false;
		if (l->config_error) /* still refused, or no answer: the next probe later */
			l->next_probe = mono_ms() + (int64_t)l->cfg.probe_s * 1000;
	}
	job_free_if_done(l, j);
	sh_buf_free(&q->body);
	if (!atomic_load(&l->stop))
		soon(l);
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct req *q = lws_container_of(sul, struct req, timeout);

	q->timed_out = true;
	if (q->wsi)
		lws_set_timeout(q->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct req *q = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		struct ss_lookup *l = lws_context_user(lws_get_context(wsi));

		if (l)
			soon(l);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = (*p) + len;
		char auth[4200];
		int n;

		if (!q)
			break;
		n = snprintf(auth, sizeof(auth), "Bearer %s", q->l->token);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)auth, n, p,
						 end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCEPT,
						 (const unsigned char *)"application/json", 16, p, end))
			return -1;
		sodium_memzero(auth, sizeof(auth));
		break;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (!q)
			break;
		q->status = (int)lws_http_client_http_response(wsi);
		if (lws_hdr_copy(wsi, q->ctype, sizeof(q->ctype), WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
			q->ctype[0] = '\0';
		if (lws_hdr_copy(wsi, q->retry_after, sizeof(q->retry_after), WSI_TOKEN_HTTP_RETRY_AFTER) < 0)
			q->retry_after[0] = '\0';
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (!q)
			return 0;
		if (sh_buf_append(&q->body, in, len) == SH_ERR_TOO_BIG) {
			q->too_big = true;
			q->completed = true; /* enough of it: not an answer we take */
			done(q->l, q);
			return -1;
		}
		return q->body.err == SH_OK ? 0 : -1;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buffer[4096 + LWS_PRE], *px = buffer + LWS_PRE;
		int lenx = sizeof(buffer) - LWS_PRE;

		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	}
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (q && !q->timed_out) {
			q->completed = true;
			done(q->l, q);
		}
		return -1; /* one request per connection: close it now */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (q) {
			done(q->l, q);
			lws_set_wsi_user(wsi, NULL);
			q->wsi = NULL;
			if (q->l->connecting == q) {
				q->dead = true; /* start() frees it when connect returns */
			} else {
				sh_buf_free(&q->body);
				sh_free(q);
			}
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"freg-http", http_cb, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The token file, re-read when it changed (at most once a second). */
static void token_refresh(struct ss_lookup *l, int64_t now)
{
	struct stat sb;
	FILE *f;

	if (!l->http || now - l->token_checked < 1000)
		return;
	l->token_checked = now;
	if (!l->token_file || stat(l->token_file, &sb) != 0) {
		if (l->token[0] || !l->config_error) {
			sh_log_error("lookup: no token file (freg_token_file)");
			l->token[0] = '\0';
			l->config_error = true;
		}
		return;
	}
	if (sb.st_mtim.tv_sec == l->token_mtime.tv_sec && sb.st_mtim.tv_nsec == l->token_mtime.tv_nsec &&
	    l->token[0])
		return;
	l->token_mtime = sb.st_mtim;
	if ((f = fopen(l->token_file, "r"))) {
		size_t n = fread(l->token, 1, sizeof(l->token) - 1, f);

		fclose(f);
		l->token[n] = '\0';
		l->token[strcspn(l->token, "\r\n")] = '\0';
	}
	/* a changed token deserves a try at once */
	l->token_changed = true;
	l->next_probe = 0;
}

static void start(struct ss_lookup *l, struct job *j)
{
	struct lws_client_connect_info i;
	struct req *q;
	char path[512];

	limiter_note(l, mono_us());
	j->in_flight = true;
	l->in_flight++;
	if (!l->http) {
		const struct ss_person *p = ss_register_find(l->reg, j->fnr);

		/* the embedded register answers at once, through the same rules */
		l->in_flight--;
		j->in_flight = false;
		outcome(l, j, p ? K_OK : K_NOT_FOUND, p, "", NULL);
		job_free_if_done(l, j);
		return;
	}
	q = sh_calloc(1, sizeof(*q));
	if (!q) {
		l->in_flight--;
		j->in_flight = false;
		requeue(l, j, wall_ms() + 1000);
		return;
	}
	sh_buf_init(&q->body, SS_FREG_BODY_MAX);
	q->l = l;
	q->job = j;
	if (l->config_error || l->half_open) {
		q->probe = true;
		l->probe_out = true;
	}
	snprintf(path, sizeof(path), "%s", l->prefix);
	ss_freg_path(j->fnr, path + strlen(path), sizeof(path) - strlen(path));
	memset(&i, 0, sizeof(i));
	i.context = l->ctx;
	i.address = l->host;
	i.port = l->port;
	i.path = path;
	i.host = l->host;
	i.origin = l->host;
	i.method = "GET";
	i.protocol = protocols[0].name;
	i.local_protocol_name = protocols[0].name;
	i.ssl_connection = l->tls ? LCCSCF_USE_SSL : 0;
	i.alpn = "http/1.1";
	i.userdata = q;
	i.pwsi = &q->wsi;
	lws_sul_schedule(l->ctx, 0, &q->timeout, timeout_cb, (lws_usec_t)l->cfg.timeout_ms * LWS_US_PER_MS);
	atomic_store(&ss_metrics.freg_in_flight, l->in_flight);
	/* the error callback may run inside the connect call, or not at all when it fails at once */
	l->connecting = q;
	if (!lws_client_connect_via_info(&i) || q->dead) {
		if (!q->finished)
			done(l, q);
		sh_buf_free(&q->body);
		sh_free(q);
	}
	l->connecting = NULL;
}

/* Starts whatever may start now; arranges to be called again when more may. */
static void pump(struct ss_lookup *l)
{
	int64_t now = mono_ms(), wake = now + 1000, due;

	token_refresh(l, now);
	if (l->open_until && now >= l->open_until && !l->half_open) {
		l->half_open = true; /* one probe decides */
	}
	while (!atomic_load(&l->stop) && l->nheap) {
		struct job *j = l->heap[0];
		int64_t at, wall;

		if (l->config_error) {
			if (l->probe_out || (l->next_probe > now && !l->token_changed)) {
				if (!l->probe_out && l->next_probe < wake)
					wake = l->next_probe;
				break;
			}
			if (l->http && !l->token[0])
				break;
		}
		if (l->paused_until > now) {
			wake = l->paused_until;
			break;
		}
		if (l->open_until && !l->half_open) {
			wake = l->open_until;
			break;
		}
		if (l->half_open && l->probe_out)
			break;
		if (l->in_flight >= l->cfg.concurrency)
			break;
		if (j->next_try > (wall = wall_ms())) {
			at = now + (j->next_try - wall);
			if (at < wake)
				wake = at;
			break;
		}
		if ((at = limiter_next(l)) > mono_us()) {
			at = (at + 999) / 1000; /* in ms, rounded up */
			if (at < wake)
				wake = at;
			break;
		}
		heap_remove(l, j);
		l->token_changed = false;
		start(l, j);
	}
	atomic_store(&ss_metrics.freg_jobs_open, (long)l->used);
	health(l);
	if ((due = deliver(l, now)) && due < wake)
		wake = due;
	if (!atomic_load(&l->stop))
		lws_sul_schedule(l->ctx, 0, &l->tick, tick_cb,
				 (lws_usec_t)(wake > now ? wake - now : 1) * LWS_US_PER_MS);
}

static void drain_inputs(struct ss_lookup *l)
{
	struct input *in;

	pthread_mutex_lock(&l->lock);
	in = l->in;
	l->in = l->in_tail = NULL;
	pthread_mutex_unlock(&l->lock);
	while (in) {
		struct input *next = in->next;
		struct job *j = find(l, in->fnr);

		if (in->kind == IN_CANCEL) {
			if (j) {
				heap_remove(l, j);
				table_del(l, j);
				j->cancelled = true;
				job_free_if_done(l, j);
			}
		} else if (!j && (j = sh_calloc(1, sizeof(*j)))) {
			memcpy(j->fnr, in->fnr, 12);
			j->attempts = in->attempts;
			j->next_try = in->next_try;
			j->heap = NOHEAP;
			if (!table_put(l, j) || !heap_push(l, j)) {
				table_del(l, j);
				sh_free(j);
				sh_log_error("lookup: out of memory; a job waits for the next run");
			}
		}
		sh_free(in);
		in = next;
	}
}

static void *run(void *arg)
{
	struct ss_lookup *l = arg;

	lws_sul_schedule(l->ctx, 0, &l->tick, tick_cb, 1);
	while (!atomic_load(&l->stop)) {
		drain_inputs(l);
		if (lws_service(l->ctx, 0) < 0)
			break;
	}
	lws_sul_cancel(&l->tick);
	(void)deliver(l, mono_ms()); /* what waits for its batch goes now (stop is set) */
	return NULL;
}

static bool parse_url(struct ss_lookup *l)
{
	const char *p = l->url, *colon, *slash;

	if (!p)
		return false;
	if (strncmp(p, "https://", 8) == 0) {
		l->tls = true;
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		p += 7;
	} else {
		return false;
	}
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (colon && slash && colon > slash)
		colon = NULL;
	snprintf(l->host, sizeof(l->host), "%.*s", (int)((colon ? colon : slash ? slash : p + strlen(p)) - p), p);
	l->port = colon ? (int)strtol(colon + 1, NULL, 10) : (l->tls ? 443 : 80);
	snprintf(l->prefix, sizeof(l->prefix), "%s", slash ? slash : "");
	if (l->prefix[0] && l->prefix[strlen(l->prefix) - 1] == '/')
		l->prefix[strlen(l->prefix) - 1] = '\0';
	return l->host[0] && l->port > 0 && l->port < 65536;
}

/* What a scheduler owns, whether it ran or failed to start (then most is NULL). */
static void lookup_free(struct ss_lookup *l)
{
	sh_free(l->slots);
	sh_free(l->heap);
	sh_free(l->out);
	sh_free(l->ring);
	ss_register_free(l->reg);
	sodium_memzero(l->token, sizeof(l->token));
	sh_free(l->backend);
	sh_free(l->register_path);
	sh_free(l->url);
	sh_free(l->token_file);
	sh_free(l->ca_file);
	sh_free(l);
}

int ss_lookup_start(const struct ss_lookup_cfg *cfg, struct ss_lookup **out, struct sh_reason *why)
{
	struct ss_lookup *l = sh_calloc(1, sizeof(*l));
	struct lws_context_creation_info info;
	int rc;

	*out = NULL;
	if (!l)
		return SH_ERR_NOMEM;
	l->cfg = *cfg;
	l->backend = sh_strdup(cfg->backend ? cfg->backend : "local");
	l->register_path = cfg->register_path ? sh_strdup(cfg->register_path) : NULL;
	l->url = cfg->url ? sh_strdup(cfg->url) : NULL;
	l->token_file = cfg->token_file ? sh_strdup(cfg->token_file) : NULL;
	l->ca_file = cfg->ca_file && *cfg->ca_file ? sh_strdup(cfg->ca_file) : NULL;
	l->http = l->backend && strcmp(l->backend, "http") == 0;
	{
		/* the least each setting may be */
		const struct {
			int *v, min;
		} floors[] = {{&l->cfg.concurrency, 1},      {&l->cfg.timeout_ms, 100},
			      {&l->cfg.max_backoff_s, 1},    {&l->cfg.breaker_failures, 1},
			      {&l->cfg.breaker_open_s, 1},   {&l->cfg.probe_s, 1},
			      {&l->cfg.malformed_max, 1}};

		for (size_t i = 0; i < sizeof(floors) / sizeof(*floors); i++)
			if (*floors[i].v < floors[i].min)
				*floors[i].v = floors[i].min;
	}
	/* at most n starts in any window: n per second, or one per 1/rate seconds below 1/s */
	if (cfg->rate >= 1) {
		l->window_n = (size_t)cfg->rate;
		l->window_us = 1000000;
	} else {
		l->window_n = 1;
		l->window_us = (int64_t)(1e6 / (cfg->rate > 0.001 ? cfg->rate : 0.001));
	}
	l->rate = (cfg->rate > 0.001 ? cfg->rate : 0.001) * 0.95; /* a little under, as the window */
	l->burst = l->rate / 50 > 1 ? l->rate / 50 : 1;
	l->window_us += 100000; /* room for delays between our start and the register's clock */
	l->ring = sh_calloc(l->window_n, sizeof(*l->ring));
	/*
	 * As if a full window had just been used: a server restarted a moment
	 * after its predecessor sent its last requests must not add to them.
	 */
	for (size_t k = 0; l->ring && k < l->window_n; k++)
		l->ring[k] = mono_us();
	l->ring_count = l->window_n;
	l->tokens_at_us = mono_us();
	if (!l->backend || !l->ring || (strcmp(l->backend, "local") != 0 && !l->http)) {
		sh_reason_set(why, "Ukjent Folkeregister-oppsett freg_backend «%s» (local eller http).",
			      l->backend ? l->backend : "");
		rc = SH_ERR_INVALID;
		goto fail;
	}
	if (!l->http && (!l->register_path ||
			 (rc = ss_register_load(l->register_path, &l->reg, why)) != SH_OK)) {
		if (!l->register_path)
			sh_reason_set(why, "freg_file mangler (registerfilen for freg_backend = local).");
		rc = SH_ERR_INVALID;
		goto fail;
	}
	if (l->http && !parse_url(l)) {
		sh_reason_set(why, "Ugyldig freg_url «%s» (http(s)://VERT[:PORT][/STI]).", l->url ? l->url : "");
		rc = SH_ERR_INVALID;
		goto fail;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = l;
	info.fd_limit_per_thread = (unsigned)l->cfg.concurrency * 2 + 16;
	if (l->tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.client_ssl_ca_filepath = l->ca_file;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->ctx = lws_create_context(&info);
	if (!l->ctx) {
		sh_reason_set(why, "Kunne ikke starte nettverket for Folkeregister-oppslag.");
		rc = SH_ERR_IO;
		pthread_mutex_destroy(&l->lock);
		goto fail;
	}
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		lws_context_destroy(l->ctx);
		pthread_mutex_destroy(&l->lock);
		rc = SH_ERR_NOMEM;
		goto fail;
	}
	*out = l;
	return SH_OK;
fail:
	lookup_free(l);
	return rc;
}

void ss_lookup_set_sink(struct ss_lookup *l, ss_lookup_sink sink, void *arg)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->sink = sink;
	l->sink_arg = arg;
	pthread_mutex_unlock(&l->lock);
	if (sink)
		lws_cancel_service(l->ctx);
}

static void input(struct ss_lookup *l, enum input_kind kind, const char *fnr, int attempts, int64_t next_try)
{
	struct input *in;

	if (!l || !fnr || strlen(fnr) != 11 || !(in = sh_calloc(1, sizeof(*in))))
		return;
	in->kind = kind;
	memcpy(in->fnr, fnr, 12);
	in->attempts = attempts;
	in->next_try = next_try;
	pthread_mutex_lock(&l->lock);
	if (l->in_tail)
		l->in_tail->next = in;
	else
		l->in = in;
	l->in_tail = in;
	pthread_mutex_unlock(&l->lock);
	lws_cancel_service(l->ctx);
}

void ss_lookup_add(struct ss_lookup *l, const char *fnr, int attempts, int64_t next_try)
{
	input(l, IN_ADD, fnr, attempts, next_try);
}

void ss_lookup_cancel(struct ss_lookup *l, const char *fnr)
{
	input(l, IN_CANCEL, fnr, 0, 0);
}

void ss_lookup_stop(struct ss_lookup *l)
{
	if (!l)
		return;
	atomic_store(&l->stop, true);
	lws_cancel_service(l->ctx);
	pthread_join(l->thread, NULL);
	lws_context_destroy(l->ctx); /* closes what is in flight: their jobs stay pending in the store */
	for (size_t i = 0; i < l->cap; i++)
		if (l->slots[i] && l->slots[i] != TOMB && !l->slots[i]->in_flight)
			sh_free(l->slots[i]);
	for (struct input *in = l->in; in;) {
		struct input *next = in->next;

		sh_free(in);
		in = next;
	}
	pthread_mutex_destroy(&l->lock);
	lookup_free(l);
}
