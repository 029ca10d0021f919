/*
 * bench_load.c: many connected clients against one jsr-server. 1,000
 * WebSocket connections log in (each its own device); 100 of them push a
 * small change-set (5 changes) every 100 ms, 20 times each, while the
 * other 900 stay connected and receive the server's notifies. Reports
 * push-to-ack latency (p50, p99, max) and the server's peak resident memory.
 * One lws client context drives all connections (sealing with shared/).
 */
#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "bench_util.h"
#include "buf.h"
#include "config.h"
#include "hlc.h"
#include "participant.h"
#include "proto.h"
#include "seal.h"
#include "wire.h"

#define CLIENTS 1000
#define PUSHERS 100
#define PUSHES 20

struct conn {
	struct lws *wsi;
	int idx;
	char dev[SH_ID_LEN + 1];
	char pid[SH_ID_LEN + 1];
	struct sh_keys *keys;
	struct sh_channel ch;
	unsigned char srv_sign[32];
	char *out;       /* one pending message */
	size_t outlen;
	int state;       /* 0 connecting, 1 logged in */
	int pushes;
	uint64_t seq;
	double sent_at;
	lws_sorted_usec_list_t sul;
};

static struct {
	struct lws_context *ctx;
	struct conn c[CLIENTS];
	struct sh_buf rx[CLIENTS];
	double lat[PUSHERS * PUSHES];
	size_t nlat;
	int logged_in, done_pushers;
	char host[64], path[32];
	int port;
	char fnr[PUSHERS][12];
} g;

static void queue(struct conn *c, char *text)
{
	sh_free(c->out);
	c->outlen = strlen(text);
	c->out = sh_malloc(LWS_PRE + c->outlen);
	memcpy(c->out + LWS_PRE, text, c->outlen);
	sh_free(text);
	lws_callback_on_writable(c->wsi);
}

static char *boxed(struct conn *c, const char *type, const char *header, const char *body)
{
	char *t = sh_box_message(c->ch.tx, c->keys, type, 1, header, body, strlen(body));

	if (!t)
		exit(1);
	return t;
}

static void push(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);
	struct sh_buf b;
	char header[200];
	uint64_t h = ((uint64_t)sh_wall_ms() << 16) | (uint64_t)c->pushes;
	static const char *const f[] = {"fnr", "startdato", "kommune", "finansiering", "malgruppe"};
	static const char *v[] = {NULL, "2026-01-15", "0301", "1", "1"};

	sh_buf_init(&b, 1 << 16);
	sh_buf_puts(&b, "{\"participants\":[");
	sh_wire_participant_begin(&b, true, c->pid, NULL);
	for (int i = 0, first = 1; i < 5; i++) {
		char val[16];
		struct sh_change ch = {c->pid, f[i], "", i == 0 ? g.fnr[c->idx] : v[i], h, 0};

		if (i == 4) { /* a different value each time: always a change */
			snprintf(val, sizeof(val), "%d", 1 + c->pushes % 5);
			ch.value = val;
		}
		/* the first push creates the participant; later ones edit it */
		if (c->pushes > 0 && i < 4)
			continue;
		sh_wire_change_put(&b, first, &ch);
		first = 0;
	}
	sh_wire_participant_end(&b);
	sh_buf_puts(&b, "]}");
	snprintf(header, sizeof(header), "{\"k\":\"changeset\",\"dev\":\"%s\",\"seq\":%llu,\"schema\":%d}",
		 c->dev, (unsigned long long)++c->seq, SH_PROTO_VERSION);
	c->sent_at = bench_now_ms();
	queue(c, boxed(c, "push", header, b.data));
	sh_buf_free(&b);
}

static void on_text(struct conn *c, const char *text, size_t len)
{
	cJSON *m;
	enum sh_msg t;
	uint64_t id;
	struct sh_reason why;

	if (sh_msg_parse(text, len, &m, &t, &id, &why) != SH_OK)
		exit(1);
	if (t == SH_MSG_HELLO) {
		char header[400], *kx, *sig, body[200];
		unsigned char kxs[32];

		if (sh_b64_decode_fixed(sh_json_str(m, "kx", 64), kxs, 32) != SH_OK ||
		    sh_b64_decode_fixed(sh_json_str(m, "sig", 64), c->srv_sign, 32) != SH_OK ||
		    sh_channel_device(&c->ch, c->keys, kxs) != SH_OK ||
		    sh_b64_encode(c->keys->kx_pk, 32, &kx) != SH_OK || sh_b64_encode(c->keys->sign_pk, 32, &sig) != SH_OK)
			exit(1);
		snprintf(header, sizeof(header), "{\"k\":\"login\",\"dev\":\"%s\",\"kx\":\"%s\",\"sig\":\"%s\","
			 "\"challenge\":\"%s\"}", c->dev, kx, sig, sh_json_str(m, "challenge", 32));
		snprintf(body, sizeof(body), "{\"user\":\"kari\",\"password\":\"blå-fjord-syv-ugler-benk\"}");
		sh_free(kx);
		sh_free(sig);
		queue(c, boxed(c, "login", header, body));
	} else if (t == SH_MSG_LOGIN_OK) {
		c->state = 1;
		if (++g.logged_in == CLIENTS) {
			/* everybody is in: the pushers start, spread over 100 ms */
			for (int i = 0; i < PUSHERS; i++)
				lws_sul_schedule(g.ctx, 0, &g.c[i].sul, push, (lws_usec_t)(i * 1000 + 1));
		}
	} else if (t == SH_MSG_PUSH_ACK) {
		g.lat[g.nlat++] = bench_now_ms() - c->sent_at;
		if (++c->pushes < PUSHES)
			lws_sul_schedule(g.ctx, 0, &c->sul, push, 100 * LWS_US_PER_MS);
		else if (++g.done_pushers == PUSHERS)
			lws_cancel_service(g.ctx);
	} else if (t == SH_MSG_ERROR) {
		fprintf(stderr, "bench_load: %s\n", sh_json_str(m, "message", 512));
		exit(1);
	}
	cJSON_Delete(m);
}

static int cb(struct lws *wsi, enum lws_callback_reasons r, void *user, void *in, size_t len)
{
	struct conn *c = user;

	switch (r) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "bench_load: connection error: %s\n", in ? (char *)in : "");
		exit(1);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi))
			sh_buf_reset(&g.rx[c->idx]);
		sh_buf_append(&g.rx[c->idx], in, len);
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
			on_text(c, g.rx[c->idx].data, g.rx[c->idx].len);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->out) {
			if (lws_write(wsi, (unsigned char *)c->out + LWS_PRE, c->outlen, LWS_WRITE_TEXT) <
			    (int)c->outlen)
				return -1;
			sh_free(c->out);
			c->out = NULL;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{SH_PROTO, cb, 0, 65536, 0, NULL, 65536}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void connect_one(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = g.ctx;
	i.address = g.host;
	i.port = g.port;
	i.path = g.path;
	i.host = g.host;
	i.origin = g.host;
	i.protocol = SH_PROTO;
	i.userdata = c;
	i.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&i)) {
		fprintf(stderr, "bench_load: connect failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : getenv("JSR_BIN");
	struct lws_context_creation_info info;
	struct bench_server s;
	struct sh_reason why;
	struct rlimit rl;
	double t0;

	if (sodium_init() < 0 || !bin)
		return 1;
	/* 1,000 sockets here and 1,000 in the server */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	setenv("JSR_PASSWORD_STRENGTH", "min", 1);
	setenv("JSR_LOG_LEVEL", "error", 1);
	if (sh_config_init(NULL, NULL, &why) != SH_OK || bench_server_start(&s, bin) != 0)
		return 1;
	sscanf(s.url, "ws://%63[^:]:%d%31s", g.host, &g.port, g.path);
	{
		/* synthetic numbers for the pushers' participants */
		char cmd[300];
		FILE *f;

		snprintf(cmd, sizeof(cmd), "JSR_TEST_MODE=1 %s/jsr fnr generate --count %d --seed 9 "
			 "--gender kvinne", bin, PUSHERS);
		if (!(f = popen(cmd, "r")))
			return 1;
		for (int k = 0; k < PUSHERS; k++)
			if (fscanf(f, "%11s", g.fnr[k]) != 1)
				return 1;
		pclose(f);
	}
	memset(&info, 0, sizeof(info));
	lws_set_log_level(LLL_ERR, NULL);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = 4096;
	g.ctx = lws_create_context(&info);
	if (!g.ctx)
		return 1;
	for (int i = 0; i < CLIENTS; i++) {
		struct conn *c = &g.c[i];

		c->idx = i;
		sh_new_id(c->dev);
		sh_new_id(c->pid);
		sh_buf_init(&g.rx[i], 1 << 20);
		if (sh_keys_generate(&c->keys) != SH_OK)
			return 1;
		lws_sul_schedule(g.ctx, 0, &c->sul, connect_one, (lws_usec_t)(i * 2000 + 1));
	}
	t0 = bench_now_ms();
	while (g.done_pushers < PUSHERS && bench_now_ms() - t0 < 300000)
		if (lws_service(g.ctx, 0) < 0)
			break;
	if (g.done_pushers < PUSHERS) {
		fprintf(stderr, "bench_load: timed out (%d logged in, %d pushers done)\n", g.logged_in,
			g.done_pushers);
		return 1;
	}
	printf("%d connected clients, %d pushing 5-change change-sets: push-to-ack p50 | %.1f | ms\n",
	       CLIENTS, PUSHERS, bench_pct(g.lat, g.nlat, 0.50));
	printf("  push-to-ack p99 (%zu pushes) | %.1f | ms\n", g.nlat, bench_pct(g.lat, g.nlat, 0.99));
	printf("  push-to-ack max | %.1f | ms\n", bench_pct(g.lat, g.nlat, 1.0));
	printf("  server peak resident memory | %.1f | MiB\n", bench_server_peak_mib(&s));
	lws_context_destroy(g.ctx);
	bench_server_stop(&s);
	for (int i = 0; i < CLIENTS; i++) {
		sh_keys_free(g.c[i].keys);
		sh_buf_free(&g.rx[i]);
		sh_free(g.c[i].out);
	}
	return 0;
}
