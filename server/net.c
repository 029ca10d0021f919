/*
 * net.c: libwebsockets server. Threading (STYLE.md G): everything here runs
 * on the lws service thread; the worker hands outputs over through its
 * queue and lws_cancel_service(), and this thread picks them up in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED. One lws_write per WRITEABLE, large
 * messages in 64 KiB fragments, inbound messages reassembled under a cap.
 */
#include "net.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "hlc.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "web.h"

#define FRAG (64 * 1024)
#define MAX_INFLIGHT 8
#define MAX_QUEUED ((size_t)512 << 20)

struct outmsg {
	struct outmsg *next;
	size_t len, off;
	uint64_t t0_us;
	bool close;
	uint16_t code;
	unsigned char *buf; /* LWS_PRE + len */
};

struct pss {
	struct pss *next;
	struct lws *wsi;
	uint64_t conn;
	struct sh_buf rx;
	bool binary;
	struct outmsg *head, *tail;
	size_t queued;
	int inflight;
	bool paused, closing;
	uint16_t close_code;
};

struct http_pss {
	struct http_pss *next; /* waiting for the worker */
	struct lws *wsi;
	uint64_t conn;
	char *body;
	size_t len;
	struct ss_job *job;    /* a POST being received */
	struct sh_buf post;
};

#define FORM_CAP 16384

static struct {
	struct lws_context *ctx;
	struct ss_worker *worker;
	struct pss *list;
	struct http_pss *http;
	uint64_t next_conn;
	size_t max_message;
	volatile sig_atomic_t stop;
} net;

static void wake(void *arg)
{
	(void)arg;
	if (net.ctx)
		lws_cancel_service(net.ctx);
}

static void on_signal(int sig)
{
	(void)sig;
	net.stop = 1;
	if (net.ctx)
		lws_cancel_service(net.ctx);
}

static struct ss_job *job(enum ss_job_kind kind, uint64_t conn, char *text, size_t len)
{
	struct ss_job *j = sh_calloc(1, sizeof(*j));

	if (!j) {
		sh_free(text);
		return NULL;
	}
	j->kind = kind;
	j->conn = conn;
	j->text = text;
	j->len = len;
	j->t0_us = sh_mono_us();
	return j;
}

static void post(enum ss_job_kind kind, uint64_t conn, char *text, size_t len)
{
	struct ss_job *j = job(kind, conn, text, len);

	if (j)
		ss_worker_post(net.worker, j);
}

static struct http_pss *find_http(uint64_t conn)
{
	for (struct http_pss *h = net.http; h; h = h->next)
		if (h->conn == conn)
			return h;
	return NULL;
}

static void unlink_http(struct http_pss *h)
{
	for (struct http_pss **pp = &net.http; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
}

/* The peer's address as people read it: an IPv4 peer on a dual-stack socket without "::ffff:". */
static void peer_address(struct lws *wsi, char *out, size_t cap)
{
	static const char mapped[] = "::ffff:";

	lws_get_peer_simple(wsi, out, cap);
	if (strncmp(out, mapped, sizeof(mapped) - 1) == 0 && strchr(out + sizeof(mapped) - 1, '.'))
		memmove(out, out + sizeof(mapped) - 1, strlen(out + sizeof(mapped) - 1) + 1);
}

static int http_reply(struct lws *wsi, struct http_pss *h, unsigned int status, const char *type,
		      char *body);

static struct pss *find(uint64_t conn)
{
	for (struct pss *p = net.list; p; p = p->next)
		if (p->conn == conn)
			return p;
	return NULL;
}

/* Queues text (copied) and/or a close; false if the queue is over its cap. */
static bool enqueue(struct pss *p, const char *text, size_t len, bool close, uint16_t code,
		    uint64_t t0)
{
	struct outmsg *m = sh_calloc(1, sizeof(*m));

	if (!m || p->queued + len > MAX_QUEUED || !(m->buf = sh_malloc(LWS_PRE + len + 1))) {
		if (m)
			sh_free(m);
		return false;
	}
	if (len)
		memcpy(m->buf + LWS_PRE, text, len);
	m->len = len;
	m->close = close;
	m->code = code;
	m->t0_us = t0;
	p->queued += len;
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	return true;
}

static void pop(struct pss *p)
{
	struct outmsg *m = p->head;

	p->head = m->next;
	if (!p->head)
		p->tail = NULL;
	p->queued -= m->len;
	sh_free(m->buf);
	sh_free(m);
}

static void drain_outputs(void)
{
	struct ss_out *outs = ss_worker_take(net.worker);

	for (struct ss_out *o = outs; o; o = o->next) {
		struct pss *p;

		if (o->http_status) {
			struct http_pss *h = find_http(o->conn);

			if (h) {
				unlink_http(h);
				if (http_reply(h->wsi, h, (unsigned)o->http_status, o->http_type, o->text) == 0)
					o->text = NULL; /* the reply owns it now */
				else
					lws_callback_on_writable(h->wsi);
			}
			continue;
		}
		p = find(o->conn);
		if (!p)
			continue;
		if ((o->text || o->close) &&
		    !enqueue(p, o->text, o->len, o->close, o->close_code ? o->close_code : 1000, o->t0_us)) {
			sh_log_warn("net: connection %llu is not reading; closing it",
				    (unsigned long long)p->conn);
			p->closing = true;
			p->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		}
		if (o->job_done && p->inflight > 0 && --p->inflight <= MAX_INFLIGHT / 4 && p->paused) {
			p->paused = false;
			lws_rx_flow_control(p->wsi, 1);
		}
		lws_callback_on_writable(p->wsi);
	}
	ss_out_free(outs);
}

static int write_one(struct lws *wsi, struct pss *p)
{
	struct outmsg *m = p->head;
	size_t chunk;
	int flags, n;

	if (!m) {
		if (p->closing) {
			lws_close_reason(wsi, p->close_code, NULL, 0);
			return -1;
		}
		return 0;
	}
	if (m->len == 0) { /* a close marker */
		if (m->close) {
			lws_close_reason(wsi, m->code, NULL, 0);
			return -1;
		}
		pop(p);
	} else {
		chunk = m->len - m->off > FRAG ? FRAG : m->len - m->off;
		flags = lws_write_ws_flags(LWS_WRITE_TEXT, m->off == 0, m->off + chunk == m->len);
		/* the LWS_PRE bytes before this fragment are already sent: lws may use them */
		n = lws_write(wsi, m->buf + LWS_PRE + m->off, chunk, (enum lws_write_protocol)flags);
		if (n < (int)chunk)
			return -1;
		m->off += chunk;
		if (m->off == m->len) {
			bool close = m->close;
			uint16_t code = m->code;

			if (m->t0_us)
				ss_metrics_ack_latency(sh_mono_us() - m->t0_us);
			pop(p);
			if (close) {
				p->closing = true;
				p->close_code = code;
			}
		}
	}
	if (p->head || p->closing)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback_sync(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct pss *p = user;
	char uri[64];

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/sync") != 0)
			return 1;
		break;
	case LWS_CALLBACK_ESTABLISHED: {
		struct ss_job *j;

		memset(p, 0, sizeof(*p));
		p->wsi = wsi;
		p->conn = ++net.next_conn;
		sh_buf_init(&p->rx, net.max_message);
		p->next = net.list;
		net.list = p;
		atomic_fetch_add(&ss_metrics.connections, 1);
		if ((j = job(SS_JOB_OPEN, p->conn, NULL, 0))) {
			peer_address(wsi, j->address, sizeof(j->address));
			ss_worker_post(net.worker, j);
		}
		break;
	}
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			sh_buf_reset(&p->rx);
			p->binary = lws_frame_is_binary(wsi);
		}
		if (!p->binary && sh_buf_append(&p->rx, in, len) == SH_ERR_TOO_BIG) {
			static const char why[] = "meldingen er for stor";

			atomic_fetch_add(&ss_metrics.protocol_errors, 1);
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)why, sizeof(why) - 1);
			return -1;
		}
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			break;
		if (p->binary) {
			char *e = sh_msg_error(0, SH_ERR_PROTO, "Serveren tar bare imot tekstmeldinger (JSON).",
					       "binary frame");

			atomic_fetch_add(&ss_metrics.protocol_errors, 1);
			if (e)
				enqueue(p, e, strlen(e), false, 0, 0);
			sh_free(e);
			lws_callback_on_writable(wsi);
			break;
		}
		{
			size_t n;
			char *text = sh_buf_take(&p->rx, &n);

			sh_buf_init(&p->rx, net.max_message);
			if (!text)
				return -1;
			post(SS_JOB_MSG, p->conn, text, n);
		}
		if (++p->inflight >= MAX_INFLIGHT && !p->paused) {
			p->paused = true;
			lws_rx_flow_control(wsi, 0);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_one(wsi, p);
	case LWS_CALLBACK_CLOSED:
		for (struct pss **pp = &net.list; *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		}
		while (p->head)
			pop(p);
		sh_buf_free(&p->rx);
		atomic_fetch_sub(&ss_metrics.connections, 1);
		post(SS_JOB_CLOSE, p->conn, NULL, 0);
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (net.worker)
			drain_outputs();
		return 0; /* non-zero would close the cancel pipe */
	default:
		break;
	}
	return 0;
}

static int http_reply(struct lws *wsi, struct http_pss *h, unsigned int status, const char *type,
		      char *body)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
					       *end = buf + sizeof(buf) - 1;

	static const char csp[] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
				  "frame-ancestors 'none'; base-uri 'none'";

	h->body = body;
	h->len = body ? strlen(body) : 0;
	if (lws_add_http_common_headers(wsi, status, type, h->len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
					(const unsigned char *)csp, (int)strlen(csp), &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)"nosniff", 7, &p, end) ||
	    /* the token is in the address: never send it on */
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"referrer-policy:",
					(const unsigned char *)"no-referrer", 11, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct http_pss *h = user;
	struct sh_buf b;

	if (!h && reason != LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* a WebSocket without the jsr.v1 subprotocol */
	case LWS_CALLBACK_HTTP:
		sh_buf_init(&b, 1 << 20);
		if (strcmp((const char *)in, "/healthz") == 0) {
			sh_buf_printf(&b, "{\"status\":\"ok\",\"connections\":%ld}\n",
				      atomic_load(&ss_metrics.connections));
			return http_reply(wsi, h, HTTP_STATUS_OK, "application/json", sh_buf_take(&b, NULL));
		}
		if (strcmp((const char *)in, "/metrics") == 0) {
			ss_metrics_render(&b);
			return http_reply(wsi, h, HTTP_STATUS_OK, "text/plain; version=0.0.4",
					  sh_buf_take(&b, NULL));
		}
		sh_buf_free(&b);
		if (ss_web_path((const char *)in)) {
			struct ss_job *j = job(SS_JOB_HTTP, ++net.next_conn, NULL, 0);
			bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;

			if (!j)
				return -1;
			memset(h, 0, sizeof(*h));
			h->wsi = wsi;
			h->conn = j->conn;
			snprintf(j->method, sizeof(j->method), "%s", is_post ? "POST" : "GET");
			snprintf(j->path, sizeof(j->path), "%s", (const char *)in);
			peer_address(wsi, j->address, sizeof(j->address));
			if (!is_post) {
				const char *v = lws_get_urlarg_by_name(wsi, "token=", j->token, (int)sizeof(j->token));

				if (v && v != j->token)
					memmove(j->token, v, strlen(v) + 1);
				h->next = net.http;
				net.http = h;
				ss_worker_post(net.worker, j);
				return 0;
			}
			if (lws_hdr_copy(wsi, j->ctype, sizeof(j->ctype), WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
				j->ctype[0] = '\0';
			h->job = j;
			sh_buf_init(&h->post, FORM_CAP);
			return 0; /* the body follows */
		}
		return http_reply(wsi, h, HTTP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
				  sh_strdup("Finnes ikke.\n"));
	case LWS_CALLBACK_HTTP_BODY:
		if (h->job && !h->job->too_big && sh_buf_append(&h->post, in, len) != SH_OK) {
			h->job->too_big = true; /* keep reading, drop the rest */
			sh_buf_free(&h->post);
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (h->job) {
			struct ss_job *j = h->job;

			h->job = NULL;
			if (!j->too_big)
				j->text = sh_buf_take(&h->post, &j->len);
			h->next = net.http;
			net.http = h;
			ss_worker_post(net.worker, j);
		}
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (h->body && lws_write(wsi, (unsigned char *)h->body, h->len, LWS_WRITE_HTTP_FINAL) !=
				       (int)h->len)
			return -1;
		sh_free(h->body);
		h->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		unlink_http(h);
		sh_free(h->body);
		h->body = NULL;
		if (h->job) {
			sh_free(h->job->text);
			sh_free(h->job);
			h->job = NULL;
		}
		sh_buf_free(&h->post);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"http", callback_http, sizeof(struct http_pss), 0, 0, NULL, 0},
	{SH_PROTO, callback_sync, sizeof(struct pss), FRAG, 0, NULL, FRAG},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log(int level, const char *line)
{
	char copy[512];
	size_t n = strlen(line);

	snprintf(copy, sizeof(copy), "%.*s", (int)(n && line[n - 1] == '\n' ? n - 1 : n), line);
	sh_log(level == LLL_ERR ? SH_LOG_ERROR : SH_LOG_WARN, "lws: %s", copy);
}

void ss_net_log_init(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
}

int ss_net_run(struct ss_net_cfg *cfg, struct sh_reason *why)
{
	static const lws_retry_bo_t idle = {.secs_since_valid_ping = 30, .secs_since_valid_hangup = 60};
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	static char base[300];
	int rc = SH_OK, port;

	memset(&info, 0, sizeof(info));
	ss_net_log_init();
	info.port = cfg->port;
	info.iface = cfg->host;
	info.protocols = protocols;
	info.pt_serv_buf_size = 32 * 1024;
	info.retry_and_idle_policy = &idle;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (cfg->tls_cert && cfg->tls_key) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
	}
	net.max_message = cfg->max_message;
	cfg->worker.wake = wake;
	net.ctx = lws_create_context(&info);
	if (!net.ctx) {
		sh_reason_set(why, "Kunne ikke lytte på %s:%d (opptatt, eller feil i TLS-oppsettet).",
			      cfg->host, cfg->port);
		return SH_ERR_IO;
	}
	vh = lws_get_vhost_by_name(net.ctx, "default");
	port = vh ? lws_get_vhost_listen_port(vh) : cfg->port;
	/* links in e-mails point here unless public_url says otherwise */
	if (!cfg->worker.access.base_url || !cfg->worker.access.base_url[0]) {
		snprintf(base, sizeof(base), "%s://%s:%d", cfg->tls_cert ? "https" : "http", cfg->host, port);
		cfg->worker.access.base_url = base;
	}
	if (ss_worker_start(&cfg->worker, &net.worker) != SH_OK) {
		ss_lookup_stop(cfg->worker.lookup);
		cfg->worker.lookup = NULL;
		sh_reason_set(why, "Kunne ikke starte arbeidstråden.");
		lws_context_destroy(net.ctx);
		net.ctx = NULL;
		return SH_ERR_NOMEM;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	ss_lookup_set_sink(cfg->worker.lookup, ss_worker_lookup_sink, net.worker);
	printf("jsr-server: lytter på %s://%s:%d/sync\n", cfg->tls_cert ? "wss" : "ws", cfg->host, port);
	fflush(stdout);
	sh_log_info("serving (pid %d)", (int)getpid());
	while (!net.stop)
		if (lws_service(net.ctx, 0) < 0)
			break;
	sh_log_info("stopping");
	lws_context_destroy(net.ctx);
	net.ctx = NULL;
	/* the scheduler first: it must not hand results to a worker that is gone */
	ss_lookup_stop(cfg->worker.lookup);
	cfg->worker.lookup = NULL;
	ss_worker_stop(net.worker);
	net.worker = NULL;
	return rc;
}
