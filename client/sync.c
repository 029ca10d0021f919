/*
 * sync.c: the client engine. One connection at a time; the protocol is a
 * small state machine driven by the server's messages:
 *
 *   hello ─▶ login ─▶ login_ok                         (SC_SYNC_LOGIN)
 *   hello ─▶ auth ─▶ auth_ok ─▶ push* ─▶ push_ack* ─▶ pull* ─▶ changes* ─▶ done
 *                                  ▲                              │
 *                                  └──── daemon: local change ◀───┴─ notify
 *
 * Up to WINDOW change-sets are in flight; each acknowledgement is
 * committed to the replica before the next step. Sending comes before
 * storing: what the server can work on next goes on the wire first, and
 * the acknowledgements received meanwhile are stored after it, in the
 * order received. Pages are opened, decoded and stored, each with its
 * cursor, on a thread of their own (opener.c, with its own connection to
 * the replica), while this thread asks for and receives the next. A lost
 * connection resumes from the replica (pending change-sets, cursor).
 */
#include "sync.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "hlc.h"
#include "log.h"
#include "opener.h"
#include "proto.h"
#include "sync_store.h"
#include "text.h"
#include "wire.h"

#define FRAG (64 * 1024)
#define WINDOW 4
#define NUMBER_BATCH_MAX 4 /* change-sets numbered in one transaction, at most */
#define RX_MAX ((size_t)96 << 20)

/*
 * A received acknowledgement held back until what it lets us send (the
 * next change-set) is on the wire, so the server works on that while we
 * store this. (Pages are stored on the opener's thread.)
 */
struct held {
	char *body;
	struct sh_wire_doc doc;
	uint64_t seq;
	struct sh_result *res;
	size_t n;
};

enum phase { P_CONNECTING, P_HELLO, P_AUTH, P_PUSH, P_PULL, P_LOOKUP, P_IDLE, P_DONE };

struct outmsg {
	struct outmsg *next;
	size_t len, off;
	unsigned char *buf; /* LWS_PRE + len */
};

struct eng {
	struct sc_replica *r;
	const struct sc_sync_opts *o;
	struct sc_sync_result *res;
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t sul_connect, sul_tick, sul_deadline;
	uint16_t retry_count;
	int attempts;
	bool ever_connected, finished;
	char url[512], host[256], path[256];
	int port;
	bool tls;
	struct sh_keys *keys;
	struct sh_channel ch;
	unsigned char srv_kx[SH_KX_PK], srv_sign[SH_SIGN_PK];
	char pinned[SH_FPR_LEN + 1];
	char device[SH_ID_LEN + 1];
	char session[65];
	enum phase phase;
	struct sh_buf rx;
	struct outmsg *head, *tail;
	uint64_t *pending;
	size_t npending, next_send, inflight;
	bool numbered_all;   /* this push found nothing more to number */
	size_t number_batch; /* change-sets to number next time (number_next) */
	uint64_t next_id;
	bool pull_again;
	uint64_t t_push, t_pull; /* monotonic us when the phase began */
	size_t lookups_out;      /* lookup messages not yet answered */
	bool lookups_synced;     /* this connection has asked about every unfinished lookup */
	/* Held, oldest first: up to WINDOW acknowledgements (one per change-set in flight). */
	struct held held[WINDOW];
	size_t nheld;
	/*
	 * Pages are opened, decoded and stored on the opener's thread, in its
	 * own connection to the replica (store), while the network thread
	 * receives the next. conn counts connections, so that a page of a
	 * lost one is not taken (it is stored all the same: a page and its
	 * cursor go together).
	 */
	struct sc_opener *opener;
	struct sc_replica *store;
	uint64_t conn;
	/*
	 * The pull is pipelined: when a page goes to the opener, the next is
	 * asked for at once from its box's header (sh_box_message_peek), so
	 * that the server's reply arrives while this one is opened and stored.
	 * One page per request: asked_since is the last asked for. peeks holds,
	 * oldest first, the header of each page with the opener or waiting
	 * (checked against the page once it is opened); a page that arrives
	 * while the opener still has the one before waits in waiting.
	 */
	uint64_t asked_since;
	struct peek {
		bool ahead;          /* its header says more follow, after next and base */
		bool asked;          /* the page after it was asked for (when it went to the opener) */
		uint64_t next, base;
	} peeks[2];
	size_t npeeks;
	struct {
		char *text; /* a message's text, or */
		cJSON *box; /* a box (on_changes) */
		size_t len;
	} waiting;
};

static volatile sig_atomic_t stop_requested;
static struct lws_context *running_ctx;

void sc_sync_stop(void)
{
	stop_requested = 1;
	if (running_ctx)
		lws_cancel_service(running_ctx);
}

static void finish(struct eng *e, enum sc_sync_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void drop_held(struct eng *e);

static void finish(struct eng *e, enum sc_sync_status st, const char *fmt, ...)
{
	va_list ap;

	if (e->finished)
		return;
	e->finished = true;
	e->res->status = st;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(e->res->why.text, sizeof(e->res->why.text), fmt, ap);
		va_end(ap);
	}
	e->phase = P_DONE;
	drop_held(e); /* one stored after another that was not would be out of order */
	if (e->wsi)
		lws_callback_on_writable(e->wsi); /* closes from WRITEABLE */
	lws_cancel_service(e->ctx);
}

/* ---- meta helpers ---------------------------------------------------------- */

static void meta_copy(struct eng *e, const char *key, char *out, size_t n)
{
	char *v = NULL;

	out[0] = '\0';
	if (sc_meta_get(e->r, key, &v) == SH_OK && v)
		snprintf(out, n, "%s", v);
	sh_free(v);
}

static int meta_put(struct eng *e, const char *key, const char *v)
{
	return sc_meta_set(e->r, key, v);
}

/* ---- sending ------------------------------------------------------------------- */

static void send_text(struct eng *e, char *text)
{
	struct outmsg *m;
	size_t len;

	if (!text)
		return;
	len = strlen(text);
	m = sh_calloc(1, sizeof(*m));
	if (!m || !(m->buf = sh_malloc(LWS_PRE + len + 1))) {
		sh_free(m);
		sh_free(text);
		finish(e, SC_SYNC_FAILED, "Ikke nok minne.");
		return;
	}
	memcpy(m->buf + LWS_PRE, text, len);
	m->len = len;
	sh_free(text);
	if (e->tail)
		e->tail->next = m;
	else
		e->head = m;
	e->tail = m;
	if (e->wsi)
		lws_callback_on_writable(e->wsi);
}

static void clear_queue(struct eng *e)
{
	while (e->head) {
		struct outmsg *m = e->head;

		e->head = m->next;
		sh_free(m->buf);
		sh_free(m);
	}
	e->tail = NULL;
}

/* {"t": type, "id": n, "box": sealed(header, body)} */
static char *boxed(struct eng *e, const char *type, const char *header, const char *body, size_t len)
{
	return sh_box_message(e->ch.tx, e->keys, type, ++e->next_id, header, body, len);
}

/* ---- steps ---------------------------------------------------------------------- */

/* Asks for the page after `since`, with what is due from `base` on. */
static void request_page(struct eng *e, uint64_t since, uint64_t base)
{
	char text[200];

	snprintf(text, sizeof(text), "{\"t\":\"pull\",\"id\":%llu,\"since\":%llu,\"base\":%llu,\"limit\":%d}",
		 (unsigned long long)++e->next_id, (unsigned long long)since, (unsigned long long)base,
		 SH_PAGE_MAX);
	e->asked_since = since;
	send_text(e, sh_strdup(text));
}

static void start_pull(struct eng *e)
{
	if (e->phase == P_PUSH)
		e->res->push_ms += (double)(sh_mono_us() - e->t_push) / 1000.0;
	if (e->phase != P_PULL)
		e->t_pull = sh_mono_us();
	e->phase = P_PULL;
	e->pull_again = false;
	request_page(e, sc_cursor(e->r), sc_cursor_base(e->r));
}

/* Room for another change-set, and one waiting (or changes not yet numbered into one)? */
static bool can_send(const struct eng *e)
{
	return e->phase == P_PUSH && e->inflight < WINDOW && (e->next_send < e->npending || !e->numbered_all);
}

/*
 * Numbers the next change-sets (of whole participants) out of the unsent
 * changes and adds them to those waiting: one at first, so that it goes
 * out at once, then twice as many each time up to NUMBER_BATCH_MAX (each
 * numbering is a transaction that waits for the disk; more at once would
 * hold up the acknowledgements), while the server works on those before.
 * False when nothing is left to number (or the replica failed: then
 * finished).
 */
static bool number_next(struct eng *e)
{
	uint64_t first, *g;
	size_t n;

	if (sc_freeze_outbox(e->r, e->number_batch, &first, &n) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Kunne ikke lese utboksen i replikaen.");
		return false;
	}
	if (!n) {
		e->numbered_all = true;
		return false;
	}
	if (!(g = sh_realloc(e->pending, (e->npending + n) * sizeof(*g)))) {
		finish(e, SC_SYNC_FAILED, "Ikke nok minne.");
		return false;
	}
	e->pending = g;
	for (size_t i = 0; i < n; i++)
		e->pending[e->npending++] = first + i;
	if (e->number_batch < NUMBER_BATCH_MAX)
		e->number_batch *= 2;
	return true;
}

static void push_done(struct eng *e);

/*
 * The next change-set, built when the one before it is on the wire: built
 * any earlier, it would keep that one waiting (called from WRITEABLE, and
 * to start).
 */
static void send_changeset(struct eng *e)
{
	uint64_t seq, t0;
	struct sh_buf body;
	char header[200];
	size_t count = 0;

	if (e->head || !can_send(e))
		return;
	if (e->next_send == e->npending && !number_next(e)) {
		if (!e->finished && !e->inflight && !e->nheld)
			push_done(e);
		return;
	}
	seq = e->pending[e->next_send++];
	t0 = sh_mono_us();
	sh_buf_init(&body, SH_BOX_MAX_BODY);
	if (sc_changeset_body(e->r, seq, &body, &count) != SH_OK) {
		sh_buf_free(&body);
		finish(e, SC_SYNC_FAILED, "Kunne ikke lese endringssett nr. %llu fra replikaen.", (unsigned long long)seq);
		return;
	}
	snprintf(header, sizeof(header), "{\"k\":\"changeset\",\"dev\":\"%s\",\"seq\":%llu,\"n\":%zu,\"schema\":%d}",
		 e->device, (unsigned long long)seq, count, SH_PROTO_VERSION);
	send_text(e, boxed(e, "push", header, body.data, body.len));
	sh_buf_free(&body);
	e->res->t_build += (double)(sh_mono_us() - t0) / 1000.0;
	e->inflight++;
	e->res->changesets++;
}

/*
 * The change-sets numbered before (sent, not acknowledged) go again first;
 * then the unsent changes, a change-set at a time (number_next).
 */
static void start_push(struct eng *e)
{
	if (e->phase != P_PUSH)
		e->t_push = sh_mono_us(); /* numbering the outbox is part of the push */
	sh_free(e->pending);
	e->pending = NULL;
	e->npending = e->next_send = e->inflight = 0;
	e->numbered_all = false;
	e->number_batch = 1;
	if (sc_pending_changesets(e->r, &e->pending, &e->npending) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Kunne ikke lese utboksen i replikaen.");
		return;
	}
	if (e->npending == 0 && !number_next(e)) {
		if (!e->finished)
			start_pull(e);
		return;
	}
	e->phase = P_PUSH;
	send_changeset(e); /* the rest from WRITEABLE, one at a time */
}

/* Everything sent is acknowledged and stored: push again what came back meanwhile, else pull. */
static void push_done(struct eng *e)
{
	if (sc_has_unsent(e->r))
		start_push(e); /* rejected changes given another chance, or edits made meanwhile */
	else
		start_pull(e);
}

static int send_lookups(struct sh_buf *body, size_t n, void *arg)
{
	struct eng *e = arg;
	char header[160];

	snprintf(header, sizeof(header), "{\"k\":\"lookup\",\"dev\":\"%s\"}", e->device);
	send_text(e, boxed(e, "lookup", header, body->data, body->len));
	e->lookups_out++;
	e->res->lookups += n;
	return SH_OK;
}

static void round_end(struct eng *e);
static int open_box(struct eng *e, const cJSON *msg, char **body, size_t *len);

/*
 * After the last page: the Folkeregister lookups (every unfinished one on a
 * new connection, later just the new ones; the server tells a connected
 * device of changes by itself), then done (once) or idle (daemon).
 */
static void round_done(struct eng *e)
{
	char now[32];

	e->res->pull_ms += (double)(sh_mono_us() - e->t_pull) / 1000.0;
	snprintf(now, sizeof(now), "%llu", (unsigned long long)sh_wall_ms());
	(void)!meta_put(e, "last_sync", now);
	e->phase = P_LOOKUP;
	e->lookups_out = 0;
	if (sc_lookup_bodies(e->r, e->lookups_synced, send_lookups, e) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Kunne ikke lese navneoppslagene i replikaen.");
		return;
	}
	e->lookups_synced = true;
	if (!e->lookups_out)
		round_end(e);
}

static void on_lookup_state(struct eng *e, const cJSON *msg, uint64_t id)
{
	char *body = NULL;
	size_t len, n = 0;

	if (open_box(e, msg, &body, &len) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Svar om navneoppslag kunne ikke åpnes eller bekreftes.");
		return;
	}
	if (sc_apply_lookup_states(e->r, body, len, &n) != SH_OK) {
		sh_free(body);
		finish(e, SC_SYNC_FAILED, "Kunne ikke lagre svaret om navneoppslagene.");
		return;
	}
	sh_free(body);
	e->res->lookup_states += n;
	if (id && e->lookups_out && --e->lookups_out == 0 && e->phase == P_LOOKUP)
		round_end(e);
}

static void round_end(struct eng *e)
{
	if (e->o->mode == SC_SYNC_DAEMON) {
		e->phase = P_IDLE;
		sc_replica_maintain(e->r);
		if (e->pull_again)
			start_pull(e);
		else if (sc_has_unsent(e->r))
			start_push(e);
		return;
	}
	{
		long still = 0;
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(sc_replica_db(e->r), "SELECT count(*) FROM outbox_rejected",
				       -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			still = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		e->res->rejected = (size_t)still;
		finish(e, still ? SC_SYNC_REJECTED : SC_SYNC_OK, NULL);
	}
}

/* ---- messages from the server ----------------------------------------------------- */

static int open_box(struct eng *e, const cJSON *msg, char **body, size_t *len)
{
	return sh_box_open(e->ch.rx, e->srv_sign, cJSON_GetObjectItemCaseSensitive(msg, "box"), body, len);
}

static void on_hello(struct eng *e, const cJSON *msg)
{
	const char *challenge = sh_json_str(msg, "challenge", 32);
	char fpr[SH_FPR_LEN + 1], header[512], *kx = NULL, *sig = NULL;
	uint64_t version = 0;
	struct sh_buf body;

	if (!challenge || strlen(challenge) != 32 ||
	    sh_b64_decode_fixed(sh_json_str(msg, "kx", 64), e->srv_kx, SH_KX_PK) != SH_OK ||
	    sh_b64_decode_fixed(sh_json_str(msg, "sig", 64), e->srv_sign, SH_SIGN_PK) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Serveren svarte ikke som en jobbsjanse-server.");
		return;
	}
	if (sh_json_u64(msg, "v", UINT32_MAX, &version) != SH_OK || version != SH_PROTO_VERSION) {
		finish(e, SC_SYNC_FAILED, "Serveren bruker protokollversjon %llu, denne jsr versjon %d. %s "
		       "Endringene dine er lagret på maskinen.", (unsigned long long)version, SH_PROTO_VERSION,
		       version < SH_PROTO_VERSION ? "Be den som drifter serveren om å oppdatere den."
						  : "Oppdater jsr og synkroniser på nytt.");
		return;
	}
	sh_fingerprint(e->srv_kx, e->srv_sign, fpr);
	snprintf(e->res->fingerprint, sizeof(e->res->fingerprint), "%s", fpr);
	if (sodium_memcmp(fpr, e->pinned, SH_FPR_LEN) != 0) {
		finish(e, SC_SYNC_FAILED, "Serverens nøkkel (%s) stemmer ikke med fingeravtrykket %s. "
		       "Ikke fortsett; kontakt den som drifter serveren.", fpr, e->pinned);
		return;
	}
	if (e->o->mode == SC_SYNC_PROBE) {
		finish(e, SC_SYNC_OK, NULL);
		return;
	}
	if (sh_channel_device(&e->ch, e->keys, e->srv_kx) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Nøkkelutvekslingen med serveren mislyktes.");
		return;
	}
	sh_buf_init(&body, 4096);
	if (e->o->mode == SC_SYNC_LOGIN) {
		if (sh_b64_encode(e->keys->kx_pk, SH_KX_PK, &kx) != SH_OK ||
		    sh_b64_encode(e->keys->sign_pk, SH_SIGN_PK, &sig) != SH_OK) {
			sh_free(kx);
			finish(e, SC_SYNC_FAILED, "Ikke nok minne.");
			return;
		}
		snprintf(header, sizeof(header),
			 "{\"k\":\"login\",\"dev\":\"%s\",\"kx\":\"%s\",\"sig\":\"%s\",\"challenge\":\"%s\"}",
			 e->device, kx, sig, challenge);
		sh_free(kx);
		sh_free(sig);
		sh_buf_puts(&body, "{\"user\":");
		sh_buf_json_str(&body, e->o->user);
		sh_buf_puts(&body, ",\"password\":");
		sh_buf_json_str(&body, e->o->password);
		if (e->o->totp) {
			sh_buf_puts(&body, ",\"totp\":");
			sh_buf_json_str(&body, e->o->totp);
		}
		sh_buf_puts(&body, "}");
		send_text(e, boxed(e, "login", header, body.data, body.len));
	} else {
		snprintf(header, sizeof(header), "{\"k\":\"auth\",\"dev\":\"%s\",\"challenge\":\"%s\"}",
			 e->device, challenge);
		sh_buf_printf(&body, "{\"session\":\"%s\"}", e->session);
		send_text(e, boxed(e, "auth", header, body.data, body.len));
	}
	if (body.data)
		sodium_memzero(body.data, body.len);
	sh_buf_free(&body);
	e->phase = P_AUTH;
}

/* user, role and kommuner of login_ok (sealed) or auth_ok (clear) */
static void take_identity(struct eng *e, const cJSON *j)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kommuner"), *it;
	size_t n = 0;

	const char *user = sh_json_str(j, "user", 64), *role = sh_json_str(j, "role", 15),
		   *label = sh_json_str(j, "role_label", 47);

	snprintf(e->res->user, sizeof(e->res->user), "%s", user ? user : "");
	snprintf(e->res->role, sizeof(e->res->role), "%s", role ? role : "");
	snprintf(e->res->role_label, sizeof(e->res->role_label), "%s", label ? label : e->res->role);
	e->res->kommuner[0] = '\0';
	cJSON_ArrayForEach(it, k) {
		if (cJSON_IsString(it) && strlen(it->valuestring) <= 4 && n + 6 < sizeof(e->res->kommuner))
			n += (size_t)snprintf(e->res->kommuner + n, sizeof(e->res->kommuner) - n, "%s%s",
					      n ? "," : "", it->valuestring);
	}
	(void)!meta_put(e, "role", e->res->role);
	(void)!meta_put(e, "kommuner", e->res->kommuner);
}

static void on_login_ok(struct eng *e, const cJSON *msg)
{
	char *body = NULL, *kx = NULL, *sig = NULL;
	size_t len;
	cJSON *j;
	const char *session;

	if (open_box(e, msg, &body, &len) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Svaret på innloggingen kunne ikke åpnes eller bekreftes.");
		return;
	}
	j = cJSON_ParseWithLength(body, len);
	session = sh_json_str(j, "session", 64);
	if (!session || strlen(session) != 64 || sh_b64_encode(e->srv_kx, SH_KX_PK, &kx) != SH_OK ||
	    sh_b64_encode(e->srv_sign, SH_SIGN_PK, &sig) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Svaret på innloggingen var ugyldig.");
	} else if (meta_put(e, "server_url", e->url) != SH_OK || meta_put(e, "server_fpr", e->pinned) != SH_OK ||
		   meta_put(e, "server_kx", kx) != SH_OK || meta_put(e, "server_sign", sig) != SH_OK ||
		   meta_put(e, "user", e->o->user) != SH_OK || meta_put(e, "session", session) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Kunne ikke lagre innloggingen i replikaen.");
	} else {
		take_identity(e, j);
		finish(e, SC_SYNC_OK, NULL);
	}
	sh_free(kx);
	sh_free(sig);
	cJSON_Delete(j);
	if (body)
		sodium_memzero(body, len);
	sh_free(body);
}

/* Lets go of the oldest held message (not stored: the page comes again, the change-set is acknowledged again). */
static void drop_oldest(struct eng *e)
{
	struct held *h = &e->held[0];

	if (!e->nheld)
		return;
	sh_free(h->res);
	sh_wire_doc_free(&h->doc);
	sh_free(h->body);
	memmove(h, h + 1, --e->nheld * sizeof(*e->held));
	memset(&e->held[e->nheld], 0, sizeof(*e->held));
}

static void drop_held(struct eng *e)
{
	while (e->nheld)
		drop_oldest(e);
	/* and the pages received but not yet opened (pipelined pull) */
	sh_free(e->waiting.text);
	cJSON_Delete(e->waiting.box);
	memset(&e->waiting, 0, sizeof(e->waiting));
	e->npeeks = 0;
}

/* Stores the oldest held message, an acknowledgement; then the next step of the round. */
static void store_ack(struct eng *e)
{
	struct sh_reason why = {{0}};
	struct sc_ack_stats st;
	uint64_t t0 = sh_mono_us();
	int rc = sc_apply_ack(e->r, e->held[0].seq, e->held[0].res, e->held[0].n, &st, &why);

	drop_oldest(e);
	if (rc != SH_OK) {
		finish(e, SC_SYNC_FAILED, "%s", why.text[0] ? why.text : "Kunne ikke lagre kvitteringen.");
		return;
	}
	sc_replica_maintain(e->r);
	e->res->t_ack += (double)(sh_mono_us() - t0) / 1000.0;
	e->res->applied += st.applied;
	e->res->superseded += st.superseded;
	e->res->conflicts += st.conflicts;
	e->res->rejected += st.rejected;
	if (e->inflight || e->nheld)
		return;
	if (can_send(e)) { /* more to number and send */
		if (e->wsi)
			lws_callback_on_writable(e->wsi);
		return;
	}
	push_done(e);
}

/* Stores the oldest held acknowledgement. */
static void store_oldest(struct eng *e)
{
	if (e->nheld)
		store_ack(e);
}

static void store_held(struct eng *e)
{
	while (e->nheld && !e->finished)
		store_oldest(e);
}

static bool acks_held(const struct eng *e) { return e->nheld > 0; }

/*
 * Opens an acknowledgement's box into a held slot, the newest (messages
 * are stored in the order received): it joins those held (the oldest is
 * stored first when all slots are taken). NULL when the round ended
 * meanwhile or the box did not open.
 */
static struct held *hold_ack(struct eng *e, const cJSON *msg, size_t *len)
{
	struct held *h;

	if (e->nheld == WINDOW)
		store_oldest(e);
	if (e->finished)
		return NULL;
	h = &e->held[e->nheld];
	if (open_box(e, msg, &h->body, len) != SH_OK) {
		h->body = NULL;
		finish(e, SC_SYNC_FAILED, "Kvitteringen fra serveren kunne ikke åpnes eller bekreftes.");
		return NULL;
	}
	e->nheld++;
	return h;
}

/* An acknowledgement: the next change-set goes out before this one is stored. */
static void on_push_ack(struct eng *e, const cJSON *msg)
{
	struct sh_reason why = {{0}};
	struct held *h;
	size_t len;

	if (!(h = hold_ack(e, msg, &len)))
		return;
	if (sh_wire_ack_decode(h->body, len, &h->doc, &h->seq, &h->res, &h->n, &why) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "%s", why.text[0] ? why.text : "Kvitteringen fra serveren er ugyldig.");
		return;
	}
	if (e->inflight)
		e->inflight--;
	if (e->head || can_send(e))
		lws_callback_on_writable(e->wsi); /* stored after the writes: see callback() */
	else
		store_held(e);
}

/* A page handed to the opener (rc: whether it took it). */
static void page_posted(struct eng *e, int rc)
{
	if (rc != SH_OK && !e->finished)
		finish(e, SC_SYNC_FAILED, "%s", rc == SH_ERR_BUSY ? "Serveren sendte en side som ikke var bedt om."
								 : "En side fra serveren kunne ikke åpnes eller bekreftes.");
}

/* A page's text or box to the opener. */
static int post_page(struct eng *e, char *text, size_t len, cJSON *box)
{
	return text ? sc_opener_post_message(e->opener, text, len, e->ch.rx, e->srv_sign, e->conn)
		    : sc_opener_post(e->opener, box, e->ch.rx, e->srv_sign, e->conn);
}

/*
 * What a page's box header (the message's text) says of the page after
 * it, if the page is the one last asked for. Only a hint until the page
 * is opened: page_opened checks it.
 */
static struct peek peek(const struct eng *e, const char *text, size_t len)
{
	struct peek k = {0};
	char *h = text ? sh_box_message_peek(text, len) : NULL;
	cJSON *j = h ? cJSON_Parse(h) : NULL;
	uint64_t since;

	k.ahead = j && sh_json_u64(j, "since", SH_JSON_INT_MAX, &since) == SH_OK && since == e->asked_since &&
		  sh_json_u64(j, "next", SH_JSON_INT_MAX, &k.next) == SH_OK &&
		  sh_json_u64(j, "base", k.next, &k.base) == SH_OK &&
		  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "more"));
	cJSON_Delete(j);
	sh_free(h);
	return k;
}

/* A page to the opener (the newest of peeks); the page after it is asked for now if its header says so. */
static void post_and_ask(struct eng *e, char *text, size_t len, cJSON *box)
{
	struct peek *k = &e->peeks[e->npeeks - 1];
	int rc = post_page(e, text, len, box);

	if (rc == SH_OK && k->ahead) {
		request_page(e, k->next, k->base);
		k->asked = true;
	}
	page_posted(e, rc);
}

/*
 * A page (text or box, owned from here on): it goes to the opener's
 * thread, to be opened and stored, and the page after is asked for
 * (post_and_ask). One that arrives while the opener still has the page
 * before waits for it, if that page asked for it. Opened, it comes back
 * through page_opened.
 */
static void page_arrived(struct eng *e, char *text, size_t len, cJSON *box)
{
	if (e->phase != P_PULL || !e->opener || e->npeeks == 2 || (e->npeeks == 1 && !e->peeks[0].asked)) {
		sh_free(text);
		cJSON_Delete(box);
		page_posted(e, SH_ERR_BUSY); /* not asked for */
		return;
	}
	e->peeks[e->npeeks++] = peek(e, text, len);
	if (e->npeeks == 2) { /* the opener has the page before */
		e->waiting.text = text;
		e->waiting.box = box;
		e->waiting.len = len;
		return;
	}
	post_and_ask(e, text, len, box);
}

/* A page in a message parsed here (another writer's layout): its box. */
static void on_changes(struct eng *e, cJSON *msg)
{
	page_arrived(e, NULL, 0, cJSON_DetachItemFromObjectCaseSensitive(msg, "box"));
}

/*
 * A page asked for, as the server writes it (type first): the whole
 * message goes to the opener's thread, which parses it too. Anything else
 * (another writer's key order too) is parsed here, by on_message.
 */
static bool page_posted_whole(struct eng *e)
{
	static const char prefix[] = "{\"t\":\"changes\",";
	char *text;
	size_t len = e->rx.len;

	if (e->phase != P_PULL || !e->opener || len < sizeof(prefix) || memcmp(e->rx.data, prefix, sizeof(prefix) - 1))
		return false;
	if ((text = sh_buf_take(&e->rx, &len)))
		page_arrived(e, text, len, NULL);
	else
		page_posted(e, SH_ERR_NOMEM);
	return true;
}

/* Called on the opener's thread: the network thread takes the page in EVENT_WAIT_CANCELLED. */
static void page_ready(void *arg)
{
	lws_cancel_service(((struct eng *)arg)->ctx);
}

/* A page opened and stored (or refused) on the opener's thread; the next goes there, or is asked for. */
static void page_opened(struct eng *e, struct sc_opened *p)
{
	struct peek k = e->peeks[0];
	bool more = p->page.more, mismatch = k.asked && (!more || p->page.next != k.next ||
							  p->page.base != k.base);
	uint64_t next = p->page.next, base = p->page.base;

	e->res->t_decode += p->ms;
	e->res->t_apply += p->store_ms;
	if (e->finished || p->tag != e->conn || !e->wsi || !e->npeeks) {
		sc_opened_free(p); /* of a connection lost meanwhile: stored, if it opened */
		return;
	}
	e->peeks[0] = e->peeks[1];
	e->npeeks--;
	if (p->rc != SH_OK) {
		finish(e, SC_SYNC_FAILED, "%s", p->why.text);
		sc_opened_free(p);
		return;
	}
	e->res->pulled += p->applied;
	e->res->kept += p->kept;
	e->res->pages++;
	sc_opened_free(p);
	if (mismatch) {
		/* the page after was asked for by a header that does not match the page (stored: it is the server's) */
		finish(e, SC_SYNC_FAILED, "En side fra serveren kunne ikke åpnes eller bekreftes.");
	} else if (!more) {
		round_done(e);
	} else if (e->npeeks) { /* the page after arrived meanwhile */
		char *text = e->waiting.text;
		cJSON *box = e->waiting.box;
		size_t len = e->waiting.len;

		memset(&e->waiting, 0, sizeof(e->waiting));
		post_and_ask(e, text, len, box);
	} else if (!k.asked) {
		request_page(e, next, base);
	}
}

static void send_admin(struct eng *e)
{
	char header[128];

	snprintf(header, sizeof(header), "{\"k\":\"admin\",\"dev\":\"%s\"}", e->device);
	send_text(e, boxed(e, "admin", header, e->o->admin, strlen(e->o->admin)));
}

static void on_admin_ok(struct eng *e, const cJSON *msg)
{
	char *body = NULL;
	size_t len;

	if (open_box(e, msg, &body, &len) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Svaret fra serveren kunne ikke åpnes eller bekreftes.");
		return;
	}
	e->res->admin_result = body;
	finish(e, SC_SYNC_OK, NULL);
}

/* Only a box the server signed can make us delete the replica. */
static void on_wipe(struct eng *e, const cJSON *msg)
{
	char *body = NULL;
	size_t len;

	if (open_box(e, msg, &body, &len) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "En slettebeskjed kunne ikke bekreftes og er oversett.");
		return;
	}
	sh_free(body);
	finish(e, SC_SYNC_WIPED, "Brukeren din er deaktivert. Det som var lagret før deaktiveringen er "
	       "levert til serveren, og replikaen slettes fra denne maskinen.");
}

/*
 * Every page received, opened and stored (waiting for the opener if need
 * be), and the acknowledgements held: the pull asks for a page while the
 * one before is with the opener, so an error can come meanwhile.
 */
static void store_received(struct eng *e)
{
	struct sc_opened p;

	while (e->npeeks && !e->finished && e->opener && sc_opener_wait(e->opener, &p))
		page_opened(e, &p);
	store_held(e);
}

static void on_error(struct eng *e, const cJSON *msg)
{
	const char *code = sh_json_str(msg, "code", 32);
	const char *text = sh_json_str(msg, "message", 1024);

	/* what was received before the error is good: stored, in order, before the round ends */
	store_received(e);
	if (e->finished)
		return;

	if (code && strcmp(code, "auth") == 0) {
		if (e->o->mode != SC_SYNC_LOGIN)
			(void)!meta_put(e, "session", "");
		finish(e, e->o->mode == SC_SYNC_LOGIN ? SC_SYNC_FAILED : SC_SYNC_LOGIN_NEEDED, "%s",
		       text ? text : "Logg inn på nytt.");
		return;
	}
	if (e->o->mode == SC_SYNC_ADMIN) {
		/* refused for what it asked, or the server could not do it now */
		int rc = code ? sh_err_from_code(code) : SH_ERR_INTERNAL;
		bool failed = rc == SH_ERR_BUSY || rc == SH_ERR_DB || rc == SH_ERR_IO || rc == SH_ERR_NOMEM ||
			      rc == SH_ERR_INTERNAL;

		finish(e, failed ? SC_SYNC_FAILED : SC_SYNC_REJECTED, "%s",
		       text ? text : "Serveren avviste forespørselen.");
	} else
		finish(e, SC_SYNC_FAILED, "Serveren svarte: %s", text ? text : "ukjent feil");
}

static void on_message(struct eng *e, const char *text, size_t len)
{
	struct sh_reason why = {{0}};
	enum sh_msg type;
	uint64_t id;
	cJSON *msg;

	if (sh_msg_parse(text, len, &msg, &type, &id, &why) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "Ugyldig melding fra serveren: %s", why.text);
		return;
	}
	switch (type) {
	case SH_MSG_HELLO:
		on_hello(e, msg);
		break;
	case SH_MSG_LOGIN_OK:
		on_login_ok(e, msg);
		break;
	case SH_MSG_AUTH_OK:
		take_identity(e, msg);
		e->lookups_synced = false; /* a new connection: ask about them all once */
		if (e->o->mode == SC_SYNC_LOGIN)
			finish(e, SC_SYNC_OK, NULL);
		else if (e->o->mode == SC_SYNC_ADMIN)
			send_admin(e);
		else
			start_push(e);
		break;
	case SH_MSG_ADMIN_OK:
		on_admin_ok(e, msg);
		break;
	case SH_MSG_WIPE:
		on_wipe(e, msg);
		break;
	case SH_MSG_LOOKUP_STATE:
		on_lookup_state(e, msg, id);
		break;
	case SH_MSG_PUSH_ACK:
		on_push_ack(e, msg);
		break;
	case SH_MSG_CHANGES:
		on_changes(e, msg); /* takes the box out of msg */
		break;
	case SH_MSG_NOTIFY:
		if (e->phase == P_IDLE)
			start_pull(e);
		else
			e->pull_again = true;
		break;
	case SH_MSG_ERROR:
		on_error(e, msg);
		break;
	default:
		finish(e, SC_SYNC_FAILED, "Uventet melding fra serveren (%s).", sh_msg_name(type));
		break;
	}
	cJSON_Delete(msg);
}

/* ---- connection -------------------------------------------------------------------- */

/* the daemon backs off to half a minute; a one-off sync someone waits for, to 3 s */
static const uint32_t backoff_daemon_ms[] = {500, 1000, 2000, 5000, 10000, 30000};
static const uint32_t backoff_once_ms[] = {200, 400, 800, 1600, 3000};
static const lws_retry_bo_t retry_daemon = {
	.retry_ms_table = backoff_daemon_ms,
	.retry_ms_table_count = LWS_ARRAY_SIZE(backoff_daemon_ms),
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 60,
	.jitter_percent = 20,
};
static const lws_retry_bo_t retry_once = {
	.retry_ms_table = backoff_once_ms,
	.retry_ms_table_count = LWS_ARRAY_SIZE(backoff_once_ms),
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 60,
	.jitter_percent = 20,
};

static const lws_retry_bo_t *retry_of(const struct eng *e)
{
	return e->o->mode == SC_SYNC_DAEMON ? &retry_daemon : &retry_once;
}

static void connect_cb(lws_sorted_usec_list_t *sul);

/* A lost or failed connection: resume (daemon, or once after progress) or give up. */
static void lost(struct eng *e, const char *what)
{
	e->wsi = NULL;
	e->conn++; /* a page being opened is of this connection: not taken */
	if (e->opener)
		sc_opener_drop(e->opener); /* nor left in the way of the next connection's */
	clear_queue(e);
	drop_held(e);
	sh_buf_reset(&e->rx);
	if (e->finished)
		return;
	if (e->o->mode == SC_SYNC_DAEMON || (e->ever_connected && e->o->mode == SC_SYNC_ONCE) ||
	    e->attempts < 2) {
		sh_log_info("sync: %s; trying again", what);
		e->phase = P_CONNECTING;
		lws_retry_sul_schedule(e->ctx, 0, &e->sul_connect, retry_of(e), connect_cb,
				       &e->retry_count);
		return;
	}
	finish(e, SC_SYNC_OFFLINE, "Får ikke kontakt med serveren (%s). Endringene er tatt vare på og "
	       "sendes ved neste synkronisering.", e->url);
}

static void connect_cb(lws_sorted_usec_list_t *sul)
{
	struct eng *e = lws_container_of(sul, struct eng, sul_connect);
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = e->ctx;
	i.address = e->host;
	i.port = e->port;
	i.path = e->path;
	i.host = e->host;
	i.origin = e->host;
	i.protocol = SH_PROTO;
	i.local_protocol_name = SH_PROTO;
	i.ssl_connection = e->tls ? LCCSCF_USE_SSL : 0;
	i.pwsi = &e->wsi;
	i.retry_and_idle_policy = retry_of(e);
	i.userdata = e;
	e->attempts++;
	e->phase = P_CONNECTING;
	if (!lws_client_connect_via_info(&i))
		lost(e, "connect failed");
}

static int write_one(struct eng *e, struct lws *wsi)
{
	struct outmsg *m = e->head;
	size_t chunk;
	int flags;

	if (!m)
		return 0;
	chunk = m->len - m->off > FRAG ? FRAG : m->len - m->off;
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, m->off == 0, m->off + chunk == m->len);
	if (lws_write(wsi, m->buf + LWS_PRE + m->off, chunk, (enum lws_write_protocol)flags) < (int)chunk)
		return -1;
	m->off += chunk;
	if (m->off == m->len) {
		e->head = m->next;
		if (!e->head)
			e->tail = NULL;
		sh_free(m->buf);
		sh_free(m);
	}
	if (e->head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct eng *e = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (e)
			lost(e, in ? (const char *)in : "connection error");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		e->retry_count = 0;
		e->ever_connected = true;
		e->phase = P_HELLO;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi))
			sh_buf_reset(&e->rx);
		if (sh_buf_append(&e->rx, in, len) != SH_OK) {
			finish(e, SC_SYNC_FAILED, "For stor melding fra serveren.");
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi) && !page_posted_whole(e))
			on_message(e, e->rx.data, e->rx.len);
		if (e->finished && !e->head)
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		/* one write per WRITEABLE: a fragment, else the next change-set's first, else one
		 * acknowledgement held stored */
		if (e->finished && !e->head)
			return -1;
		send_changeset(e);
		if (write_one(e, wsi) != 0)
			return -1;
		if (!e->head && !can_send(e) && !e->finished && acks_held(e))
			store_oldest(e);
		if (e->finished && !e->head)
			return -1;
		if (e->head || can_send(e) || acks_held(e))
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (e)
			lost(e, "connection closed");
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		/* woken from another thread: sc_sync_stop, or the opener with a page */
		struct eng *x = lws_context_user(lws_get_context(wsi));
		struct sc_opened p;

		if (x && x->opener && sc_opener_take(x->opener, &p))
			page_opened(x, &p);
		return 0;
	}
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{SH_PROTO, callback, 0, FRAG, 0, NULL, FRAG},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct eng *e = lws_container_of(sul, struct eng, sul_deadline);

	finish(e, e->ever_connected ? SC_SYNC_FAILED : SC_SYNC_OFFLINE,
	       "Synkroniseringen tok for lang tid (over %d s). Endringene er tatt vare på.",
	       e->o->timeout_s);
}

/* Daemon: every half second, push what was saved since. */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct eng *e = lws_container_of(sul, struct eng, sul_tick);

	if (e->phase == P_IDLE && sc_has_unsent(e->r))
		start_push(e);
	lws_sul_schedule(e->ctx, 0, &e->sul_tick, tick_cb, 500 * LWS_US_PER_MS);
}

static int parse_url(struct eng *e, const char *url)
{
	const char *p = url, *colon, *slash;

	snprintf(e->url, sizeof(e->url), "%s", url);
	if (strncmp(p, "wss://", 6) == 0) {
		e->tls = true;
		p += 6;
	} else if (strncmp(p, "ws://", 5) == 0) {
		p += 5;
	} else {
		return SH_ERR_INVALID;
	}
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (colon && slash && colon > slash)
		colon = NULL;
	snprintf(e->host, sizeof(e->host), "%.*s", (int)((colon ? colon : slash ? slash : p + strlen(p)) - p), p);
	e->port = colon ? (int)strtol(colon + 1, NULL, 10) : (e->tls ? 443 : 80);
	snprintf(e->path, sizeof(e->path), "%s", slash ? slash : "/sync");
	return e->host[0] && e->port > 0 && e->port < 65536 ? SH_OK : SH_ERR_INVALID;
}

static void lws_log(int level, const char *line)
{
	(void)level;
	(void)line; /* client connection noise: our own messages say what matters */
}

/* Device keys beside the replica; made at the first login. */
static int device_keys(struct eng *e, bool create)
{
	char path[4200];
	struct sh_reason why = {{0}};

	snprintf(path, sizeof(path), "%s/device.key", sc_replica_dir(e->r));
	if (sh_keys_load(path, &e->keys, &why) == SH_OK)
		return SH_OK;
	if (!create) {
		finish(e, SC_SYNC_LOGIN_NEEDED, "Maskinen er ikke registrert. Logg inn med «jsr login».");
		return SH_ERR_AUTH;
	}
	if (sh_keys_generate(&e->keys) != SH_OK || sh_keys_save(path, e->keys, &why) != SH_OK) {
		finish(e, SC_SYNC_FAILED, "%s", why.text[0] ? why.text : "Kunne ikke lage maskinnøkler.");
		return SH_ERR_IO;
	}
	return SH_OK;
}

int sc_sync_run(struct sc_replica *r, const struct sc_sync_opts *o, struct sc_sync_result *res)
{
	struct lws_context_creation_info info;
	struct eng *e = sh_calloc(1, sizeof(*e));
	char url[512];

	memset(res, 0, sizeof(*res));
	if (!e)
		return SH_ERR_NOMEM;
	e->r = r;
	e->o = o;
	e->res = res;
	sh_buf_init(&e->rx, RX_MAX);
	snprintf(e->device, sizeof(e->device), "%s", sc_replica_device(r));
	meta_copy(e, "server_url", url, sizeof(url));
	if (o->mode == SC_SYNC_LOGIN) {
		snprintf(url, sizeof(url), "%s", o->url);
		if (sh_fingerprint_normalise(o->server_key, e->pinned) != SH_OK) {
			sh_reason_set(&res->why, "Fingeravtrykket må være %d heksadesimale tegn.", SH_FPR_LEN);
			res->status = SC_SYNC_FAILED;
			goto out;
		}
	} else {
		meta_copy(e, "server_fpr", e->pinned, sizeof(e->pinned));
		meta_copy(e, "session", e->session, sizeof(e->session));
		if (!url[0] || !e->pinned[0]) {
			sh_reason_set(&res->why, "Ikke logget inn. Bruk «jsr login --server URL --server-key "
				      "FINGERAVTRYKK --user BRUKER».");
			res->status = SC_SYNC_LOGIN_NEEDED;
			goto out;
		}
		if (o->mode != SC_SYNC_PROBE && strlen(e->session) != 64) {
			sh_reason_set(&res->why, "Innloggingen er utløpt. Logg inn på nytt med «jsr login»; "
				      "endringene dine er tatt vare på.");
			res->status = SC_SYNC_LOGIN_NEEDED;
			goto out;
		}
	}
	if (parse_url(e, url) != SH_OK) {
		sh_reason_set(&res->why, "Ugyldig serveradresse «%s» (ws://VERT:PORT eller wss://VERT:PORT).",
			      sh_text_echo(url));
		res->status = SC_SYNC_FAILED;
		goto out;
	}
	if (o->mode != SC_SYNC_PROBE && device_keys(e, o->mode == SC_SYNC_LOGIN) != SH_OK)
		goto out;
	memset(&info, 0, sizeof(info));
	lws_set_log_level(LLL_ERR, lws_log);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.pt_serv_buf_size = 32 * 1024;
	info.user = e;
	if (e->tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.client_ssl_ca_filepath = o->ca_file;
	}
	e->ctx = lws_create_context(&info);
	if (!e->ctx) {
		sh_reason_set(&res->why, "Kunne ikke starte nettverket.");
		res->status = SC_SYNC_FAILED;
		goto out;
	}
	running_ctx = e->ctx;
	if (o->mode == SC_SYNC_ONCE || o->mode == SC_SYNC_DAEMON) {
		/* the opener's own connection to the replica, for storing pages */
		struct sh_reason why = {{0}};

		if (sc_replica_open(sc_replica_dir(r), sc_replica_domain(r), &e->store, &why) != SH_OK) {
			sh_reason_set(&res->why, "%s", why.text[0] ? why.text : "Kunne ikke åpne replikaen.");
			res->status = SC_SYNC_FAILED;
		} else if (!(e->opener = sc_opener_start(page_ready, e, e->store))) {
			sh_reason_set(&res->why, "Kunne ikke starte en tråd for synkroniseringen.");
			res->status = SC_SYNC_FAILED;
		}
		if (!e->opener) {
			running_ctx = NULL;
			lws_context_destroy(e->ctx);
			goto out;
		}
	}
	if (o->mode == SC_SYNC_DAEMON)
		lws_sul_schedule(e->ctx, 0, &e->sul_tick, tick_cb, 500 * LWS_US_PER_MS);
	else
		lws_sul_schedule(e->ctx, 0, &e->sul_deadline, deadline_cb,
				 (lws_usec_t)(o->timeout_s > 0 ? o->timeout_s : 60) * LWS_US_PER_SEC);
	lws_sul_schedule(e->ctx, 0, &e->sul_connect, connect_cb, 1);
	while (!e->finished && !stop_requested)
		if (lws_service(e->ctx, 0) < 0)
			break;
	/* let the last frames (and the close) go out */
	for (int i = 0; i < 20 && e->wsi && e->head; i++)
		lws_service(e->ctx, 0);
	if (stop_requested && !e->finished) {
		res->status = SC_SYNC_OK;
		sh_reason_set(&res->why, "Stoppet.");
	}
	sc_opener_stop(e->opener); /* before the context it wakes goes */
	e->opener = NULL;
	lws_sul_cancel(&e->sul_connect);
	lws_sul_cancel(&e->sul_tick);
	lws_sul_cancel(&e->sul_deadline);
	running_ctx = NULL;
	lws_context_destroy(e->ctx);
out:
	sc_replica_close(e->store);
	clear_queue(e);
	drop_held(e);
	sh_buf_free(&e->rx);
	sh_free(e->pending);
	sh_keys_free(e->keys);
	sh_channel_wipe(&e->ch);
	sodium_memzero(e->session, sizeof(e->session));
	sh_free(e);
	return SH_OK;
}
