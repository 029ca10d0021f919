/* worker.c: jobs in, protocol handled, store written, outputs out. */
#include "worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "hlc.h"
#include "log.h"
#include "merge.h"
#include "metrics.h"
#include "proto.h"
#include "text.h"
#include "lookup_store.h"
#include "web.h"
#include "wire.h"

/*
 * The page a pulling connection will most likely ask for next (the one
 * after the page it was just sent), read while the worker has nothing
 * else to do: the device opens and stores a page meanwhile, and the read
 * need not wait for its request. It is sent only if it is exactly what the
 * request would read then: the same user, device, cursor and limit, no
 * value written since (the store's sequence unchanged), the same
 * municipalities. One unasked for AHEAD_IDLE_S makes room for another.
 */
struct ahead {
	struct ss_cursor from, to;
	uint64_t limit, seq, t_us;
	int64_t user;
	char device[SH_ID_LEN + 1];
	char kommuner[SS_MAX_KOMMUNER][8];
	size_t nkommuner;
	bool ready, more;
	size_t count;
	struct sh_buf body, ids;
};

#define AHEAD_MAX 4     /* connections with a page read ahead at one time (each up to a page in memory) */
#define AHEAD_IDLE_S 10 /* an ahead not asked for this long gives way */

/* What the worker knows of one connection. */
struct conn {
	uint64_t id;
	char challenge[33];
	bool authed;
	char token[65];
	struct ss_user user;
	struct ss_device dev;
	struct sh_channel ch;
	bool notified; /* told there is more, and has not pulled since */
	char address[64];
	/* a deactivated user's device, let in only to deliver what it made
	 * before the deactivation; then told to wipe its replica */
	bool final;
	int64_t deactivated_at;
	struct ahead *ahead; /* the next page, wanted or read */
};

struct ss_worker {
	struct ss_worker_cfg cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ss_job *jobs, *jobs_tail;
	struct ss_out *outs, *outs_tail;
	bool stop;
	/* worker thread only */
	struct conn *conns; /* sorted by id */
	size_t nconns, capconns;
	struct ss_out *pending, *pending_tail; /* outputs of the batch being processed */
	struct sh_hlc clock;
	char fingerprint[SH_FPR_LEN + 1];
	char *kx_b64, *sign_b64;
	uint64_t anchored_us;  /* when the audit head was last written to the log */
	char anchor[96];       /* and what it was */
	size_t naheads;        /* connections with an ahead */
};

void ss_out_free(struct ss_out *o)
{
	while (o) {
		struct ss_out *next = o->next;

		sh_free(o->text);
		sh_free(o);
		o = next;
	}
}

/* ---- connections ------------------------------------------------------------ */

static struct conn *conn_find(struct ss_worker *w, uint64_t id)
{
	size_t lo = 0, hi = w->nconns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->conns[mid].id == id)
			return &w->conns[mid];
		if (w->conns[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct conn *conn_add(struct ss_worker *w, uint64_t id)
{
	if (w->nconns == w->capconns) {
		size_t cap = w->capconns ? w->capconns * 2 : 64;
		struct conn *c = sh_realloc(w->conns, cap * sizeof(*c));

		if (!c)
			return NULL;
		w->conns = c;
		w->capconns = cap;
	}
	/* ids only grow: appending keeps the array sorted */
	memset(&w->conns[w->nconns], 0, sizeof(struct conn));
	w->conns[w->nconns].id = id;
	return &w->conns[w->nconns++];
}

static void ahead_drop(struct ss_worker *w, struct conn *c)
{
	if (!c->ahead)
		return;
	sh_buf_free(&c->ahead->body);
	sh_buf_free(&c->ahead->ids);
	sh_free(c->ahead);
	c->ahead = NULL;
	w->naheads--;
}

static void conn_remove(struct ss_worker *w, uint64_t id)
{
	struct conn *c = conn_find(w, id);

	if (!c)
		return;
	ahead_drop(w, c);
	sodium_memzero(c, sizeof(*c));
	memmove(c, c + 1, (size_t)(w->conns + w->nconns - (c + 1)) * sizeof(*c));
	w->nconns--;
}

/* ---- outputs ------------------------------------------------------------------ */

static void emit(struct ss_worker *w, uint64_t conn, char *text, bool close, uint16_t code,
		 uint64_t t0, bool done)
{
	struct ss_out *o = sh_calloc(1, sizeof(*o));

	if (!o) {
		sh_free(text);
		return;
	}
	o->conn = conn;
	o->text = text;
	o->len = text ? strlen(text) : 0;
	o->close = close;
	o->close_code = code;
	o->t0_us = t0;
	o->job_done = done;
	if (w->pending_tail)
		w->pending_tail->next = o;
	else
		w->pending = o;
	w->pending_tail = o;
}

static void emit_error(struct ss_worker *w, uint64_t conn, uint64_t id, int err, const char *msg,
		       const char *detail)
{
	atomic_fetch_add(&ss_metrics.protocol_errors, 1);
	emit(w, conn, sh_msg_error(id, err, msg, detail), false, 0, 0, false);
}

/* Moves the batch's outputs to the shared queue and wakes the network thread. */
static void release(struct ss_worker *w)
{
	if (!w->pending)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->outs_tail)
		w->outs_tail->next = w->pending;
	else
		w->outs = w->pending;
	w->outs_tail = w->pending_tail;
	pthread_mutex_unlock(&w->lock);
	w->pending = w->pending_tail = NULL;
	w->cfg.wake(w->cfg.wake_arg);
}

/* A reply {"t": type, "id": id, "box": box}, sealed to the connection's device. */
static char *sealed_reply(struct ss_worker *w, struct conn *c, enum sh_msg type, uint64_t id,
			  const char *header, const char *body, size_t len)
{
	return sh_box_message(c->ch.tx, w->cfg.keys, sh_msg_name(type), id, header, body, len);
}

static int64_t now_ms(void) { return (int64_t)sh_wall_ms(); }

/* ---- hello ---------------------------------------------------------------------- */

static void on_open(struct ss_worker *w, uint64_t id, const char *address)
{
	struct conn *c = conn_add(w, id);
	unsigned char raw[16];
	struct sh_buf b;

	if (!c) {
		emit(w, id, NULL, true, 1011, 0, false);
		return;
	}
	snprintf(c->address, sizeof(c->address), "%s", address);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(c->challenge, sizeof(c->challenge), raw, sizeof(raw));
	sh_buf_init(&b, 4096);
	sh_buf_printf(&b, "{\"t\":\"hello\",\"v\":%d,\"protocol\":\"%s\",\"server_time\":%lld,"
			  "\"fingerprint\":\"%s\",\"kx\":\"%s\",\"sig\":\"%s\",\"challenge\":\"%s\"}",
		      SH_PROTO_VERSION, SH_PROTO, (long long)now_ms(), w->fingerprint, w->kx_b64,
		      w->sign_b64, c->challenge);
	emit(w, id, sh_buf_take(&b, NULL), false, 0, 0, false);
}

/* ---- boxes from clients ------------------------------------------------------------ */

/* The box of a message and its parsed header (caller deletes *hdr). */
static int box_of(const cJSON *msg, const char *kind, const cJSON **box, cJSON **hdr)
{
	const char *h, *k;

	*hdr = NULL;
	*box = cJSON_GetObjectItemCaseSensitive(msg, "box");
	if (sh_box_header(*box, &h) != SH_OK || strlen(h) > 4096)
		return SH_ERR_PROTO;
	*hdr = cJSON_Parse(h);
	if (!cJSON_IsObject(*hdr) || !(k = sh_json_str(*hdr, "k", 16)) || strcmp(k, kind) != 0 ||
	    !sh_id_valid(sh_json_str(*hdr, "dev", SH_ID_LEN))) {
		cJSON_Delete(*hdr);
		*hdr = NULL;
		return SH_ERR_PROTO;
	}
	return SH_OK;
}

static bool challenge_ok(const cJSON *hdr, const struct conn *c)
{
	const char *ch = sh_json_str(hdr, "challenge", 32);

	return ch && strlen(ch) == 32 && sodium_memcmp(ch, c->challenge, 32) == 0;
}

static void auth_reply(struct ss_worker *w, struct conn *c, uint64_t id, const char *token,
		       int64_t expires)
{
	struct sh_buf b;

	sh_buf_init(&b, 1 << 16);
	if (token) {
		sh_buf_puts(&b, "{\"session\":");
		sh_buf_json_str(&b, token);
		sh_buf_printf(&b, ",\"expires\":%lld,", (long long)expires);
	} else {
		sh_buf_printf(&b, "{\"t\":\"auth_ok\",\"id\":%llu,\"server_seq\":%llu,\"acked_seq\":%llu,",
			      (unsigned long long)id, (unsigned long long)ss_seq(w->cfg.store),
			      (unsigned long long)c->dev.acked_seq);
	}
	sh_buf_puts(&b, "\"user\":");
	sh_buf_json_str(&b, c->user.username);
	sh_buf_puts(&b, ",\"role\":");
	sh_buf_json_str(&b, c->user.role);
	sh_buf_puts(&b, ",\"role_label\":");
	sh_buf_json_str(&b, ss_role_label(c->user.role) ? ss_role_label(c->user.role) : c->user.role);
	sh_buf_puts(&b, ",\"kommuner\":[");
	for (size_t i = 0; i < c->user.nkommuner; i++) {
		if (i)
			sh_buf_append(&b, ",", 1);
		sh_buf_json_str(&b, c->user.kommuner[i]);
	}
	sh_buf_puts(&b, "]}");
	if (token) {
		char header[128];
		size_t len;
		char *body = sh_buf_take(&b, &len);

		snprintf(header, sizeof(header), "{\"k\":\"login_ok\",\"dev\":\"%s\"}", c->dev.id);
		emit(w, c->id, body ? sealed_reply(w, c, SH_MSG_LOGIN_OK, id, header, body, len) : NULL,
		     false, 0, 0, false);
		if (body)
			sodium_memzero(body, len);
		sh_free(body);
	} else {
		emit(w, c->id, sh_buf_take(&b, NULL), false, 0, 0, false);
	}
}

/* A username as typed, for the audit log, unless it could be personal data. */
static const char *loggable(const char *user)
{
	if (!ss_username_ok(user) || strspn(user, "0123456789") == strlen(user))
		return "(ugyldig brukernavn)";
	return user;
}

static void login_failed(struct ss_worker *w, struct conn *c, uint64_t id, int err,
			 const char *msg, const char *detail)
{
	atomic_fetch_add(&ss_metrics.login_failures, 1);
	emit_error(w, c->id, id, err, msg, detail);
}

static int on_login(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id)
{
	const cJSON *box;
	cJSON *hdr = NULL, *cred = NULL;
	struct ss_device known, dev = {0};
	char *body = NULL, token[65];
	size_t len = 0;
	const char *user, *password, *totp;
	struct ss_user u;
	bool ok = false;
	int rc = SH_OK;

	if (box_of(msg, "login", &box, &hdr) != SH_OK ||
	    sh_b64_decode_fixed(sh_json_str(hdr, "kx", 64), dev.kx_pk, SH_KX_PK) != SH_OK ||
	    sh_b64_decode_fixed(sh_json_str(hdr, "sig", 64), dev.sign_pk, SH_SIGN_PK) != SH_OK) {
		login_failed(w, c, id, SH_ERR_PROTO, "Innloggingsmeldingen er ugyldig.", "bad login box");
		goto out;
	}
	snprintf(dev.id, sizeof(dev.id), "%s", sh_json_str(hdr, "dev", SH_ID_LEN));
	if (sh_channel_server(&c->ch, w->cfg.keys, dev.kx_pk) != SH_OK ||
	    sh_box_open(c->ch.rx, dev.sign_pk, box, &body, &len) != SH_OK) {
		login_failed(w, c, id, SH_ERR_CRYPTO, NULL, "login box failed to open");
		goto out;
	}
	if (!challenge_ok(hdr, c)) {
		login_failed(w, c, id, SH_ERR_AUTH, "Innloggingen var utdatert (gjentatt melding). Prøv igjen.",
			     "login challenge mismatch");
		goto out;
	}
	cred = cJSON_ParseWithLength(body, len);
	user = sh_json_str(cred, "user", 64);
	password = sh_json_str(cred, "password", 512);
	totp = sh_json_str(cred, "totp", 16);
	if (!user || !password) {
		login_failed(w, c, id, SH_ERR_PROTO, "Innloggingsmeldingen er ugyldig.", "bad credentials");
		goto out;
	}
	rc = ss_login_attempt(w->cfg.store, &w->cfg.access, user, password, totp, c->address, now_ms(),
			      &u, &ok);
	if (rc != SH_OK)
		goto out;
	if (!ok) {
		/* the same answer whatever failed: user, password, code, lockout */
		rc = ss_audit(w->cfg.store, loggable(user), dev.id, "login_failed", c->address, "");
		login_failed(w, c, id, SH_ERR_AUTH, "Innloggingen mislyktes. Sjekk brukernavn, passord og "
			     "engangskode. Etter flere feil må du vente en stund før du prøver igjen.",
			     "login failed");
		goto out;
	}
	rc = ss_device_get(w->cfg.store, dev.id, &known);
	if (rc == SH_OK && (known.user_id != u.id || sodium_memcmp(known.kx_pk, dev.kx_pk, SH_KX_PK) ||
			    sodium_memcmp(known.sign_pk, dev.sign_pk, SH_SIGN_PK))) {
		rc = SH_OK;
		login_failed(w, c, id, SH_ERR_DENIED,
			     "Denne maskinen er registrert på en annen bruker eller med andre nøkler. "
			     "Bruk en egen datamappe for hver bruker.", "device bound to another user/keys");
		goto out;
	}
	if (rc == SH_ERR_NOT_FOUND) {
		dev.user_id = u.id;
		rc = ss_device_add(w->cfg.store, &dev, now_ms());
		known = dev;
	}
	if (rc == SH_OK)
		rc = ss_session_new(w->cfg.store, u.id, dev.id, now_ms(), w->cfg.session_ttl_ms, token);
	if (rc == SH_OK)
		rc = ss_audit(w->cfg.store, u.username, dev.id, "login", c->address, "");
	if (rc != SH_OK)
		goto out;
	c->authed = true;
	c->user = u;
	c->dev = known;
	memcpy(c->token, token, sizeof(token));
	atomic_fetch_add(&ss_metrics.logins, 1);
	auth_reply(w, c, id, token, now_ms() + w->cfg.session_ttl_ms);
	sodium_memzero(token, sizeof(token));
out:
	if (body)
		sodium_memzero(body, len);
	sh_free(body);
	cJSON_Delete(cred);
	cJSON_Delete(hdr);
	return rc;
}

/*
 * A deactivated user's device: its session was revoked with the
 * deactivation, but it may still deliver what it made before; then it is
 * told to wipe. True if token is that device's revoked session.
 */
static bool final_mode(struct ss_worker *w, struct conn *c, const char *token)
{
	unsigned char h[32];
	sqlite3_stmt *st;
	bool yes = false;

	crypto_generichash(h, 32, (const unsigned char *)token, strlen(token), NULL, 0);
	if (sqlite3_prepare_v2(ss_store_db(w->cfg.store),
			       "SELECT u.id, u.deactivated_at FROM session s JOIN device d ON d.id = s.device_id "
			       "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.device_id = ?2 "
			       "AND s.revoked = 1 AND d.wipe = 1 AND u.state = 'deactivated'", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->dev.id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && ss_user_by_id(w->cfg.store, sqlite3_column_int64(st, 0),
							    &c->user) == SH_OK) {
		c->deactivated_at = sqlite3_column_int64(st, 1);
		c->final = yes = true;
	}
	sqlite3_finalize(st);
	return yes;
}

static int on_auth(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id)
{
	const cJSON *box;
	cJSON *hdr = NULL, *b = NULL;
	char *body = NULL;
	size_t len = 0;
	const char *token;
	int64_t uid;
	int rc;

	if (box_of(msg, "auth", &box, &hdr) != SH_OK) {
		login_failed(w, c, id, SH_ERR_PROTO, "Innloggingsmeldingen er ugyldig.", "bad auth box");
		rc = SH_OK;
		goto out;
	}
	rc = ss_device_get(w->cfg.store, sh_json_str(hdr, "dev", SH_ID_LEN), &c->dev);
	if (rc == SH_ERR_NOT_FOUND) {
		rc = SH_OK;
		login_failed(w, c, id, SH_ERR_AUTH, "Ukjent maskin. Logg inn med «jsr login».", "unknown device");
		goto out;
	}
	if (rc != SH_OK)
		goto out;
	if (sh_channel_server(&c->ch, w->cfg.keys, c->dev.kx_pk) != SH_OK ||
	    sh_box_open(c->ch.rx, c->dev.sign_pk, box, &body, &len) != SH_OK) {
		login_failed(w, c, id, SH_ERR_CRYPTO, NULL, "auth box failed to open");
		goto out;
	}
	b = cJSON_ParseWithLength(body, len);
	token = sh_json_str(b, "session", 64);
	if (!challenge_ok(hdr, c) || !token || strlen(token) != 64) {
		login_failed(w, c, id, SH_ERR_AUTH, "Innloggingen var utdatert (gjentatt melding). Prøv igjen.",
			     "auth challenge mismatch");
		goto out;
	}
	rc = ss_session_check(w->cfg.store, token, c->dev.id, now_ms(), w->cfg.session_idle_ms, &uid);
	if (rc == SH_OK)
		rc = ss_user_by_id(w->cfg.store, uid, &c->user);
	if (rc == SH_ERR_AUTH && final_mode(w, c, token)) {
		rc = SH_OK;
		c->authed = true;
		memcpy(c->token, token, 65);
		auth_reply(w, c, id, NULL, 0);
		goto out;
	}
	if (rc == SH_ERR_AUTH || rc == SH_ERR_NOT_FOUND || (rc == SH_OK && !c->user.active)) {
		rc = SH_OK;
		login_failed(w, c, id, SH_ERR_AUTH, "Innloggingen er utløpt eller ugyldig. Logg inn på nytt "
			     "med «jsr login»; endringene dine er tatt vare på.", "session invalid");
		goto out;
	}
	if (rc != SH_OK)
		goto out;
	c->authed = true;
	memcpy(c->token, token, 65);
	auth_reply(w, c, id, NULL, 0);
out:
	if (body)
		sodium_memzero(body, len);
	sh_free(body);
	cJSON_Delete(b);
	cJSON_Delete(hdr);
	return rc;
}

/*
 * Every message after login re-checks the session (it may have expired or
 * been revoked since) and reloads the user (municipalities may have changed).
 */
static int session_ok(struct ss_worker *w, struct conn *c, uint64_t id)
{
	int64_t uid;
	int rc;

	if (!c->authed) {
		emit_error(w, c->id, id, SH_ERR_AUTH, "Logg inn først.", "not authenticated");
		return SH_ERR_AUTH;
	}
	if (c->final)
		return ss_device_get(w->cfg.store, c->dev.id, &c->dev);
	rc = ss_session_check(w->cfg.store, c->token, c->dev.id, now_ms(), w->cfg.session_idle_ms, &uid);
	if (rc == SH_OK)
		rc = ss_user_by_id(w->cfg.store, uid, &c->user);
	if (rc == SH_OK && c->user.active)
		return ss_device_get(w->cfg.store, c->dev.id, &c->dev);
	if (rc != SH_ERR_AUTH && rc != SH_OK && rc != SH_ERR_NOT_FOUND)
		return rc;
	c->authed = false;
	emit_error(w, c->id, id, SH_ERR_AUTH, "Innloggingen er utløpt. Logg inn på nytt med «jsr login»; "
		   "endringene dine er tatt vare på.", "session expired or revoked");
	return SH_ERR_AUTH;
}

/* session_ok, and a role that reads and writes participant data. */
static int still_authed(struct ss_worker *w, struct conn *c, uint64_t id)
{
	int rc = session_ok(w, c, id);

	if (rc == SH_OK && !ss_role_may(c->user.role, SS_MAY_PARTICIPANTS)) {
		emit_error(w, c->id, id, SH_ERR_DENIED, "Rollen din gir ikke tilgang til deltakerdata.",
			   "role may not sync");
		return SH_ERR_DENIED;
	}
	return rc;
}

/* ---- push ------------------------------------------------------------------------- */

static void notify_kommuner(struct ss_worker *w, uint64_t except, const struct ss_merge *m)
{
	char text[96];

	snprintf(text, sizeof(text), "{\"t\":\"notify\",\"server_seq\":%llu}",
		 (unsigned long long)ss_seq(w->cfg.store));
	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		bool hit = false;

		/* one notify until the connection pulls: no storm of them */
		if (!c->authed || c->id == except || c->notified)
			continue;
		for (size_t k = 0; k < m->nkommuner && !hit; k++)
			hit = ss_user_in(&c->user, m->kommuner[k]);
		if (hit) {
			emit(w, c->id, sh_strdup(text), false, 0, 0, false);
			c->notified = true;
		}
	}
}

static int lk_renumbered(struct ss_worker *w, const struct sh_buf *list);

static void ack(struct ss_worker *w, struct conn *c, uint64_t id, uint64_t seq, const char *body,
		uint64_t t0)
{
	char header[160];

	snprintf(header, sizeof(header), "{\"k\":\"push_ack\",\"dev\":\"%s\",\"seq\":%llu}", c->dev.id,
		 (unsigned long long)seq);
	emit(w, c->id, sealed_reply(w, c, SH_MSG_PUSH_ACK, id, header, body, strlen(body)), false, 0,
	     t0, false);
}

static int on_push(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id, uint64_t t0)
{
	const cJSON *box;
	cJSON *hdr = NULL;
	struct sh_wire_doc doc = {0};
	char *body = NULL, *stored = NULL, reason[400];
	unsigned char hash[32], old[32], v2[32];
	struct sh_change *changes = NULL;
	struct sh_reason why = {{0}};
	size_t len = 0, n = 0;
	uint64_t seq = 0, schema = 0;
	struct sh_buf ackb;
	int rc;

	sh_buf_init(&ackb, SH_BOX_MAX_BODY);
	if ((rc = still_authed(w, c, id)) != SH_OK)
		goto out;
	if (box_of(msg, "changeset", &box, &hdr) != SH_OK ||
	    sh_json_u64(hdr, "seq", UINT32_MAX, &seq) != SH_OK || seq == 0) {
		emit_error(w, c->id, id, SH_ERR_PROTO, "Endringssettet er ugyldig.", "bad changeset header");
		goto out;
	}
	if (strcmp(sh_json_str(hdr, "dev", SH_ID_LEN), c->dev.id) != 0) {
		emit_error(w, c->id, id, SH_ERR_DENIED,
			   "Endringssettet kommer fra en annen maskin enn den som er logget inn.",
			   "changeset device differs from session device");
		goto out;
	}
	if (sh_json_u64(hdr, "schema", UINT32_MAX, &schema) != SH_OK || schema != SH_PROTO_VERSION) {
		snprintf(reason, sizeof(reason), "Denne versjonen av jsr bruker protokollversjon %llu, serveren "
			 "versjon %d. Oppdater jsr og synkroniser på nytt; endringene er lagret på maskinen.",
			 (unsigned long long)schema, SH_PROTO_VERSION);
		emit_error(w, c->id, id, SH_ERR_PROTO, reason, "changeset of another protocol version");
		goto out;
	}
	if (sh_box_open(c->ch.rx, c->dev.sign_pk, box, &body, &len) != SH_OK) {
		emit_error(w, c->id, id, SH_ERR_CRYPTO,
			   "Endringssettet kunne ikke åpnes eller bekreftes, og ble ikke lagret.",
			   "changeset failed to open or verify");
		goto out;
	}
	if (seq > c->dev.acked_seq + 1) { /* refused unread; a re-send is known by its content (below) */
		snprintf(reason, sizeof(reason), "Endringssett nr. %llu kom i feil rekkefølge; forventet nr. %llu.",
			 (unsigned long long)seq, (unsigned long long)c->dev.acked_seq + 1);
		emit_error(w, c->id, id, SH_ERR_PROTO, reason, "changeset out of order");
		goto out;
	}
	if (sh_wire_changes_decode(body, len, &doc, &changes, &n, &why) != SH_OK) {
		emit_error(w, c->id, id, SH_ERR_PROTO, why.text, "changeset body malformed");
		goto out;
	}
	if ((rc = sh_wire_changes_hash(changes, n, hash)) != SH_OK)
		goto out;
	if (seq <= c->dev.acked_seq) {
		rc = ss_changeset_get(w->cfg.store, c->dev.id, seq, old, &stored);
		/* kept as this server keeps it, or as a server of protocol version 2 kept it */
		if (rc == SH_OK && (sodium_memcmp(old, hash, 32) == 0 ||
				    (sh_wire_changes_hash_v2(changes, n, v2) == SH_OK && sodium_memcmp(old, v2, 32) == 0))) {
			ack(w, c, id, seq, stored, t0); /* a re-send: acknowledged again */
		} else if (rc == SH_OK || rc == SH_ERR_NOT_FOUND) {
			rc = SH_OK;
			snprintf(reason, sizeof(reason), "Endringssett nr. %llu er allerede mottatt med annet "
				 "innhold (gjentatt eller forfalsket), og ble ikke lagret.",
				 (unsigned long long)seq);
			emit_error(w, c->id, id, SH_ERR_CONFLICT, reason, "changeset replayed with other content");
		}
		goto out;
	}
	{
		struct sh_buf written, renum;
		struct ss_merge m = {.store = w->cfg.store, .d = w->cfg.domain, .user = &c->user,
				     .device = c->dev.id, .clock = &w->clock, .now = now_ms(),
				     .written = &written, .renumbered = &renum,
				     .hlc_limit = c->final ? (uint64_t)c->deactivated_at << 16 | 0xffff : 0};
		uint64_t t1 = sh_mono_us();
		char detail[64];

		sh_buf_init(&written, (size_t)1 << 26);
		sh_buf_init(&renum, (size_t)1 << 24);

		sh_buf_printf(&ackb, "{\"seq\":%llu,\"results\":", (unsigned long long)seq);
		rc = ss_merge_changes(&m, changes, n, &ackb);
		sh_log_debug("push: device %.8s change-set %llu: %zu changes, %zu applied, merged in %.1f ms "
			     "(%.1f ms since received)", c->dev.id, (unsigned long long)seq, n,
			     m.stats.applied, (double)(sh_mono_us() - t1) / 1000.0,
			     (double)(sh_mono_us() - t0) / 1000.0);
		sh_buf_append(&ackb, "}", 1);
		if (rc == SH_OK)
			rc = ackb.err;
		if (rc == SH_OK)
			rc = ss_changeset_put(w->cfg.store, c->dev.id, seq, hash, n, ackb.data, now_ms());
		if (rc == SH_OK)
			rc = ss_device_acked(w->cfg.store, c->dev.id, seq);
		snprintf(detail, sizeof(detail), "endringssett %llu: %zu %s", (unsigned long long)seq, n,
			 n == 1 ? "endring" : "endringer");
		if (rc == SH_OK && written.len)
			rc = ss_audit(w->cfg.store, c->user.username, c->dev.id, "write", detail, written.data);
		if (rc == SH_OK && renum.len)
			rc = lk_renumbered(w, &renum);
		sh_buf_free(&written);
		sh_buf_free(&renum);
		if (rc != SH_OK)
			goto out;
		c->dev.acked_seq = seq;
		atomic_fetch_add(&ss_metrics.changesets, 1);
		atomic_fetch_add(&ss_metrics.changes_applied, m.stats.applied + (m.stats.conflicts));
		atomic_fetch_add(&ss_metrics.changes_superseded, m.stats.superseded);
		atomic_fetch_add(&ss_metrics.conflicts, m.stats.conflicts);
		atomic_fetch_add(&ss_metrics.duplicates, m.stats.duplicates);
		atomic_fetch_add(&ss_metrics.rejects, m.stats.rejected);
		ack(w, c, id, seq, ackb.data, t0);
		notify_kommuner(w, c->id, &m);
	}
out:
	sh_buf_free(&ackb);
	sh_free(stored);
	sh_free(changes);
	sh_wire_doc_free(&doc);
	cJSON_Delete(hdr);
	sh_free(body);
	return rc == SH_ERR_AUTH || rc == SH_ERR_DENIED ? SH_OK : rc;
}

/* ---- pull --------------------------------------------------------------------------- */

/* Tells a deactivated user's device to delete its replica (sealed: only we can). */
static int send_wipe(struct ss_worker *w, struct conn *c, uint64_t id)
{
	char header[128];
	const char *body = "{\"reason\":\"deactivated\"}";

	snprintf(header, sizeof(header), "{\"k\":\"wipe\",\"dev\":\"%s\"}", c->dev.id);
	emit(w, c->id, sealed_reply(w, c, SH_MSG_WIPE, id, header, body, strlen(body)), false, 0, 0,
	     false);
	return ss_audit(w->cfg.store, c->user.username, c->dev.id, "wipe", "maskinen bedt om å slette replikaen",
			"");
}

/* A pull page's buffers: its body, and the ids of its participants (for the audit log). */
static void page_bufs_init(struct sh_buf *body, struct sh_buf *ids)
{
	sh_buf_init(body, SH_BOX_MAX_BODY);
	sh_buf_init(ids, (size_t)1 << 26);
}

static bool same_kommuner(const struct ahead *a, const struct ss_user *u)
{
	return a->nkommuner == u->nkommuner && memcmp(a->kommuner, u->kommuner, u->nkommuner * sizeof(u->kommuner[0])) == 0;
}

/* The page read ahead, if it is what a read now would give (moved into body and ids); dropped either way. */
static bool take_ahead(struct ss_worker *w, struct conn *c, const struct ss_cursor *from, uint64_t limit,
		       struct sh_buf *body, struct sh_buf *ids, struct ss_cursor *to, bool *more, size_t *count)
{
	struct ahead *a = c->ahead;
	bool hit = a && a->ready && a->from.since == from->since && a->from.base == from->base &&
		   a->limit == limit && a->seq == ss_seq(w->cfg.store) && a->user == c->user.id &&
		   strcmp(a->device, c->dev.id) == 0 && same_kommuner(a, &c->user);

	if (hit) {
		sh_buf_free(body);
		sh_buf_free(ids);
		*body = a->body;
		*ids = a->ids;
		*to = a->to;
		*more = a->more;
		*count = a->count;
		page_bufs_init(&a->body, &a->ids); /* moved out: empty for ahead_drop */
		atomic_fetch_add(&ss_metrics.pull_pages_ahead, 1);
	}
	ahead_drop(w, c);
	return hit;
}

/* After a page with more to come: the next one is wanted ahead (read by read_ahead when idle). */
static void want_ahead(struct ss_worker *w, struct conn *c, const struct ss_cursor *next, uint64_t limit)
{
	uint64_t now = sh_mono_us();
	struct ahead *a;

	for (size_t i = 0; w->naheads >= AHEAD_MAX && i < w->nconns; i++)
		if (w->conns[i].ahead && now - w->conns[i].ahead->t_us > (uint64_t)AHEAD_IDLE_S * 1000000u)
			ahead_drop(w, &w->conns[i]); /* a device that stopped halfway */
	if (w->naheads >= AHEAD_MAX || !(a = sh_calloc(1, sizeof(*a))))
		return;
	a->from = *next;
	a->limit = limit;
	a->t_us = now;
	page_bufs_init(&a->body, &a->ids);
	c->ahead = a;
	w->naheads++;
}

static bool jobs_waiting(struct ss_worker *w)
{
	bool any;

	pthread_mutex_lock(&w->lock);
	any = w->jobs != NULL;
	pthread_mutex_unlock(&w->lock);
	return any;
}

/* Reads the pages wanted ahead, while no job waits. */
static void read_ahead(struct ss_worker *w)
{
	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		struct ahead *a = c->ahead;
		uint64_t t0 = sh_mono_us();
		int rc;

		if (!a || a->ready || !c->authed)
			continue;
		if (jobs_waiting(w))
			return;
		if (ss_begin_read(w->cfg.store) != SH_OK) {
			ahead_drop(w, c);
			continue;
		}
		rc = ss_pull_page(w->cfg.store, &c->user, c->dev.id, &a->from, (size_t)a->limit, &a->body, &a->to,
				  &a->more, &a->count, &a->ids);
		if (rc == SH_OK)
			rc = ss_commit(w->cfg.store);
		else
			ss_rollback(w->cfg.store);
		if (rc != SH_OK) {
			ahead_drop(w, c); /* read again when asked for, and reported then */
			continue;
		}
		/* what the read was for */
		a->seq = ss_seq(w->cfg.store);
		a->user = c->user.id;
		snprintf(a->device, sizeof(a->device), "%s", c->dev.id);
		memcpy(a->kommuner, c->user.kommuner, sizeof(a->kommuner));
		a->nkommuner = c->user.nkommuner;
		a->ready = true;
		sh_log_debug("pull: device %.8s page after %llu read ahead in %.1f ms", c->dev.id,
			     (unsigned long long)a->from.since, (double)(sh_mono_us() - t0) / 1000.0);
	}
}

static int on_pull(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id)
{
	uint64_t limit, t0, t1;
	struct ss_cursor from = {0, 0}, to;
	struct sh_buf body, ids;
	char header[256];
	size_t count;
	bool more;
	int rc;

	if ((rc = still_authed(w, c, id)) != SH_OK)
		return rc == SH_ERR_AUTH || rc == SH_ERR_DENIED ? SH_OK : rc;
	if (c->final)
		return send_wipe(w, c, id);
	c->notified = false;
	/* without a base, all of each participant changed after since: more, never less */
	if (sh_json_u64(msg, "since", SH_JSON_INT_MAX, &from.since) != SH_OK ||
	    sh_json_u64_or(msg, "base", from.since, 0, &from.base) != SH_OK ||
	    sh_json_u64_or(msg, "limit", SH_PAGE_MAX, w->cfg.page_limit, &limit) != SH_OK) {
		emit_error(w, c->id, id, SH_ERR_PROTO, "«since», «base» og «limit» må være ikke-negative heltall "
			   "(base høyst since, limit høyst 20000).", "bad pull arguments");
		return SH_OK;
	}
	if (limit == 0 || limit > w->cfg.page_limit)
		limit = w->cfg.page_limit;
	page_bufs_init(&body, &ids);
	t0 = sh_mono_us();
	rc = take_ahead(w, c, &from, limit, &body, &ids, &to, &more, &count)
		     ? SH_OK
		     : ss_pull_page(w->cfg.store, &c->user, c->dev.id, &from, (size_t)limit, &body, &to, &more,
				    &count, &ids);
	t1 = sh_mono_us();
	if (rc == SH_ERR_TOO_BIG) {
		emit_error(w, c->id, id, SH_ERR_TOO_BIG, "En deltaker har flere verdier enn én side kan bære, "
			   "så synkroniseringen stanser her. Kontakt driften (loggen sier hvilken deltaker).",
			   "participant over the page cap");
		rc = SH_OK;
		goto done;
	}
	if (rc == SH_OK && ids.len) {
		char detail[64];

		snprintf(detail, sizeof(detail), "side etter %llu: %zu %s", (unsigned long long)from.since,
			 count, count == 1 ? "verdi" : "verdier");
		rc = ss_audit(w->cfg.store, c->user.username, c->dev.id, "read", detail, ids.data);
	}
	if (rc == SH_OK) {
		/* next, base and more in the header too: the client asks for the next page before opening this one */
		snprintf(header, sizeof(header), "{\"k\":\"changes\",\"dev\":\"%s\",\"since\":%llu,\"next\":%llu,"
			 "\"base\":%llu,\"more\":%s}", c->dev.id, (unsigned long long)from.since,
			 (unsigned long long)to.since, (unsigned long long)to.base, more ? "true" : "false");
		emit(w, c->id, sealed_reply(w, c, SH_MSG_CHANGES, id, header, body.data, body.len), false,
		     0, 0, false);
		atomic_fetch_add(&ss_metrics.pull_pages, 1);
		if (more)
			want_ahead(w, c, &to, limit);
		sh_log_debug("pull: device %.8s page after %llu: %zu values, read in %.1f ms, sealed in %.1f ms",
			     c->dev.id, (unsigned long long)from.since, count, (double)(t1 - t0) / 1000.0,
			     (double)(sh_mono_us() - t1) / 1000.0);
	}
done:
	sh_buf_free(&ids);
	sh_buf_free(&body);
	return rc;
}

/* ---- administration ------------------------------------------------------------- */

/* Closes every connection of a user (deactivated): they come back in final mode. */
static void disconnect_user(struct ss_worker *w, int64_t uid)
{
	for (size_t i = 0; i < w->nconns; i++) {
		if (w->conns[i].authed && w->conns[i].user.id == uid) {
			w->conns[i].authed = false;
			emit(w, w->conns[i].id, NULL, true, 4001, 0, false);
		}
	}
}

static int on_admin(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id)
{
	const cJSON *box;
	cJSON *hdr = NULL, *req = NULL;
	char *body = NULL, header[128];
	size_t len = 0;
	struct sh_reason why = {{0}};
	struct sh_buf out;
	const char *op;
	int rc;

	sh_buf_init(&out, (size_t)1 << 24);
	if ((rc = session_ok(w, c, id)) != SH_OK || c->final) {
		rc = rc == SH_ERR_AUTH || rc == SH_OK ? SH_OK : rc;
		goto out;
	}
	snprintf(c->user.device, sizeof(c->user.device), "%s", c->dev.id);
	if (box_of(msg, "admin", &box, &hdr) != SH_OK || strcmp(sh_json_str(hdr, "dev", SH_ID_LEN), c->dev.id) ||
	    sh_box_open(c->ch.rx, c->dev.sign_pk, box, &body, &len) != SH_OK ||
	    !(req = cJSON_ParseWithLength(body, len)) || !(op = sh_json_str(req, "op", 16))) {
		emit_error(w, c->id, id, SH_ERR_PROTO, "Administrasjonsmeldingen er ugyldig.", "bad admin box");
		goto out;
	}
	if (strcmp(op, "invite") == 0) {
		int64_t uid;

		rc = ss_invite(w->cfg.store, &w->cfg.access, &c->user, sh_json_str(req, "name", 800),
			       sh_json_str(req, "email", 254), sh_json_str(req, "phone", 32), sh_json_str(req, "kommune", 4),
			       sh_json_str(req, "role", 16), &uid, &why);
		if (rc == SH_OK)
			sh_buf_printf(&out, "{\"op\":\"invite\",\"user\":%lld}", (long long)uid);
	} else if (strcmp(op, "resend") == 0 || strcmp(op, "deactivate") == 0) {
		const char *who = sh_json_str(req, "user", 64);
		int64_t uid = 0;

		if (!who) {
			rc = SH_ERR_INVALID;
			sh_reason_set(&why, "Oppgi brukeren.");
		} else if (op[0] == 'r') {
			rc = ss_resend(w->cfg.store, &w->cfg.access, &c->user, who, &why);
		} else if ((rc = ss_deactivate(w->cfg.store, &c->user, who, &uid, &why)) == SH_OK) {
			disconnect_user(w, uid);
		}
		if (rc == SH_OK)
			sh_buf_printf(&out, "{\"op\":\"%s\"}", op);
	} else if (strcmp(op, "users") == 0) {
		if (!ss_role_may(c->user.role, SS_MAY_ADMIN_OWN | SS_MAY_ADMIN_ANY)) {
			rc = SH_ERR_DENIED;
			sh_reason_set(&why, "Rollen din kan ikke se brukerlisten.");
		} else {
			sh_buf_puts(&out, "{\"op\":\"users\",\"users\":");
			rc = ss_users_json(w->cfg.store, &c->user, &out);
			sh_buf_puts(&out, "}");
		}
	} else {
		rc = SH_ERR_INVALID;
		sh_reason_set(&why, "Ukjent administrasjonsoperasjon.");
	}
	if (rc == SH_ERR_DENIED || rc == SH_ERR_INVALID || rc == SH_ERR_RULE || rc == SH_ERR_NOT_FOUND ||
	    rc == SH_ERR_CONFLICT) {
		emit_error(w, c->id, id, rc, why.text, "admin request refused");
		rc = SH_OK;
	} else if (rc == SH_OK) {
		snprintf(header, sizeof(header), "{\"k\":\"admin_ok\",\"dev\":\"%s\"}", c->dev.id);
		emit(w, c->id, sealed_reply(w, c, SH_MSG_ADMIN_OK, id, header, out.data, out.len), false, 0,
		     0, false);
	}
out:
	sh_buf_free(&out);
	cJSON_Delete(req);
	cJSON_Delete(hdr);
	sh_free(body);
	return rc;
}

static int on_http(struct ss_worker *w, struct ss_job *j)
{
	struct ss_http_req req = {j->method, j->path, j->token, j->ctype, j->text ? j->text : "",
				  j->len, j->too_big};
	struct ss_http_resp resp;
	int rc = ss_web_handle(w->cfg.store, &w->cfg.access, &req, &resp);
	struct ss_out *o;

	if (rc != SH_OK) {
		sh_free(resp.body);
		return rc;
	}
	emit(w, j->conn, resp.body, false, 0, 0, false);
	o = w->pending_tail;
	if (o && o->text == resp.body) {
		o->http_status = resp.status;
		o->http_type = resp.type;
	}
	return SH_OK;
}


/* ---- Folkeregister lookups ------------------------------------------------------------ */

/* State rows for clients, gathered while a message or a batch of results is handled. */
struct lk_states {
	struct sh_buf rows; /* JSON array elements, each prefixed by its kommune and a tab */
	size_t n;
};

static void lk_state_row(struct lk_states *ls, const char *kommune, const char *participant,
			 const struct ss_lk_job *j)
{
	struct sh_buf *b = &ls->rows;

	sh_buf_printf(b, "%s\t[\"%s\",\"%s\",", kommune, participant, j->fnr);
	sh_buf_json_str(b, ss_lk_client_state(j));
	sh_buf_printf(b, ",%d,%lld,", j->attempts, (long long)j->next_try);
	sh_buf_json_str(b, j->reason);
	sh_buf_puts(b, "]\n");
	ls->n++;
}

/* The rows of the user's municipalities (u NULL: every row), as {"states": [...]}; NULL: none. */
static char *lk_body_for(const struct lk_states *ls, const struct ss_user *u)
{
	struct sh_buf b;
	const char *p = ls->rows.data, *end = p ? p + ls->rows.len : NULL;
	bool any = false;

	sh_buf_init(&b, (size_t)1 << 26);
	sh_buf_puts(&b, "{\"states\":[");
	while (p && p < end) {
		const char *tab = memchr(p, '\t', (size_t)(end - p)), *nl = memchr(p, '\n', (size_t)(end - p));
		char k[8];

		if (!tab || !nl)
			break;
		snprintf(k, sizeof(k), "%.*s", (int)(tab - p), p);
		if (!u || ss_user_in(u, k)) {
			if (any)
				sh_buf_append(&b, ",", 1);
			sh_buf_append(&b, tab + 1, (size_t)(nl - tab - 1));
			any = true;
		}
		p = nl + 1;
	}
	sh_buf_puts(&b, "]}");
	if (!any || b.err) {
		sh_buf_free(&b);
		return NULL;
	}
	return sh_buf_take(&b, NULL);
}

static void lk_send(struct ss_worker *w, struct conn *c, uint64_t id, const char *body)
{
	char header[128];

	snprintf(header, sizeof(header), "{\"k\":\"lookup_state\",\"dev\":\"%s\"}", c->dev.id);
	emit(w, c->id, sealed_reply(w, c, SH_MSG_LOOKUP_STATE, id, header, body, strlen(body)), false, 0, 0,
	     false);
}

/* Tells every connected device of the municipalities concerned. */
static void lk_broadcast(struct ss_worker *w, const struct lk_states *ls)
{
	if (!ls->n)
		return;
	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		char *body;

		if (!c->authed || c->final || !ss_role_may(c->user.role, SS_MAY_PARTICIPANTS))
			continue;
		if ((body = lk_body_for(ls, &c->user))) {
			lk_send(w, c, 0, body);
			sh_free(body);
		}
	}
}

/* An answer reaches one waiting participant (found: its name is written). */
struct lk_apply {
	struct ss_worker *w;
	struct ss_merge *m;
	const struct ss_lookup_result *r;
	const struct ss_lk_job *job;
	struct lk_states *ls;
	struct sh_buf *ids;
};

static int lk_apply_one(const char *participant, const char *kommune, void *arg)
{
	struct lk_apply *a = arg;
	bool applied = false;
	int rc = SH_OK;

	if (a->r->outcome == SS_LK_FOUND)
		rc = ss_merge_lookup(a->m, participant, a->job->fnr, a->r->person.navn, a->r->person.kjonn,
				     &applied);
	if (rc == SH_OK) {
		lk_state_row(a->ls, kommune, participant, a->job);
		if (a->ids->len)
			sh_buf_append(a->ids, " ", 1);
		sh_buf_puts(a->ids, participant);
	}
	return rc;
}

static int lk_result(struct ss_worker *w, const struct ss_lookup_result *r, struct ss_merge *m,
		     struct lk_states *ls)
{
	static const char *const finals[] = {[SS_LK_FOUND] = "found", [SS_LK_NOT_FOUND] = "not_found",
					     [SS_LK_FAILED] = "failed"};
	struct ss_lk_job job;
	struct sh_buf ids;
	int64_t now = now_ms();
	int rc;

	if (r->outcome == SS_LK_HEALTH) {
		/* for jsr-server status and the operator: the alert lives in meta */
		return ss_lk_alert_put(w->cfg.store, r->reason);
	}
	if (r->outcome == SS_LK_RETRY) {
		rc = ss_lk_retry(w->cfg.store, r->fnr, r->attempts, r->next_try, r->reason, now, &job);
	} else {
		rc = ss_lk_finish(w->cfg.store, r->fnr, finals[r->outcome], r->attempts, r->person.navn,
				  r->person.kjonn, r->person.status,
				  r->outcome == SS_LK_NOT_FOUND ? "Ikke funnet i Folkeregisteret." : r->reason, now,
				  &job);
	}
	if (rc != SH_OK)
		return rc == SH_ERR_NOT_FOUND ? SH_OK : rc; /* cancelled or done meanwhile */
	sh_buf_init(&ids, (size_t)1 << 24);
	{
		struct lk_apply a = {w, m, r, &job, ls, &ids};

		rc = ss_lk_requests_each(w->cfg.store, r->fnr, lk_apply_one, &a);
	}
	if (rc == SH_OK && r->outcome != SS_LK_RETRY) {
		rc = ss_lk_requests_drop(w->cfg.store, r->fnr);
		if (rc == SH_OK && ids.len)
			rc = ss_audit(w->cfg.store, "folkeregisteret", "-", "lookup",
				      r->outcome == SS_LK_FOUND ? "navn fra Folkeregisteret" :
				      r->outcome == SS_LK_NOT_FOUND ? "ikke funnet i Folkeregisteret" :
								      "oppslaget feilet", ids.data);
	}
	sh_buf_free(&ids);
	return rc;
}

/* A batch of results from the scheduler, in the batch's transaction. */
static int on_lookup_results(struct ss_worker *w, const struct ss_job *j)
{
	static const struct ss_user freg = {.username = "folkeregisteret"};
	struct ss_merge m = {.store = w->cfg.store, .d = w->cfg.domain, .user = &freg, .device = "server",
			     .clock = &w->clock, .now = now_ms()};
	struct lk_states ls = {0};
	int rc = SH_OK;

	sh_buf_init(&ls.rows, (size_t)1 << 26);
	for (size_t i = 0; i < j->len && rc == SH_OK; i++)
		rc = lk_result(w, &j->results[i], &m, &ls);
	if (rc == SH_OK) {
		lk_broadcast(w, &ls);
		if (m.nkommuner)
			notify_kommuner(w, 0, &m);
	}
	sh_buf_free(&ls.rows);
	return rc;
}

/* A device asks for (or about) the lookups of its participants. */
static int on_lookup(struct ss_worker *w, struct conn *c, const cJSON *msg, uint64_t id)
{
	const cJSON *box, *list, *it;
	cJSON *hdr = NULL, *req = NULL;
	char *body = NULL, *reply = NULL;
	size_t len = 0;
	struct lk_states ls = {0};
	struct sh_buf ids;
	/* names answered before, written now: one notify for all of them, after the loop */
	struct ss_merge m = {.store = w->cfg.store, .d = w->cfg.domain, .clock = &w->clock, .now = now_ms()};
	int rc;

	sh_buf_init(&ids, (size_t)1 << 24);
	sh_buf_init(&ls.rows, (size_t)1 << 26);
	if ((rc = still_authed(w, c, id)) != SH_OK || c->final) {
		rc = rc == SH_ERR_AUTH || rc == SH_ERR_DENIED || rc == SH_OK ? SH_OK : rc;
		goto out;
	}
	if (box_of(msg, "lookup", &box, &hdr) != SH_OK || strcmp(sh_json_str(hdr, "dev", SH_ID_LEN), c->dev.id) ||
	    sh_box_open(c->ch.rx, c->dev.sign_pk, box, &body, &len) != SH_OK ||
	    !(req = cJSON_ParseWithLength(body, len)) ||
	    !cJSON_IsArray(list = cJSON_GetObjectItemCaseSensitive(req, "lookups")) ||
	    cJSON_GetArraySize(list) > SH_CHANGESET_MAX) {
		emit_error(w, c->id, id, SH_ERR_PROTO, "Oppslagsmeldingen er ugyldig.", "bad lookup box");
		goto out;
	}
	cJSON_ArrayForEach(it, list) {
		const char *pid = cJSON_GetStringValue(cJSON_GetArrayItem(it, 0));
		const char *fnr = cJSON_GetStringValue(cJSON_GetArrayItem(it, 1));
		struct ss_lk_job job = {0};
		char kommune[8] = "", number[12];
		bool exists = false, start = false;

		if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !sh_id_valid(pid) || !fnr ||
		    strlen(fnr) != 11 || strspn(fnr, "0123456789") != 11) {
			emit_error(w, c->id, id, SH_ERR_PROTO, "Oppslagsmeldingen er ugyldig.", "bad lookup entry");
			goto out;
		}
		rc = ss_participant_number(w->cfg.store, pid, &exists, kommune, number);
		if (rc == SH_OK && exists && ss_user_in(&c->user, kommune) && strcmp(number, fnr) == 0) {
			rc = ss_lk_request(w->cfg.store, pid, fnr, kommune, c->user.username, now_ms(), &start, &job);
			if (rc == SH_OK && start)
				ss_lookup_add(w->cfg.lookup, fnr, 0, 0);
			if (rc == SH_OK && strcmp(job.state, "found") == 0) {
				/* answered before (another participation of the same person) */
				bool applied;

				rc = ss_merge_lookup(&m, pid, fnr, job.navn, job.kjonn, &applied);
			}
			if (rc == SH_OK) {
				lk_state_row(&ls, kommune, pid, &job);
				if (ids.len)
					sh_buf_append(&ids, " ", 1);
				sh_buf_puts(&ids, pid);
			}
		} else if (rc == SH_OK) {
			/* not (yet) on the server with that number, or not the user's: nothing to look up */
			struct ss_lk_job wait = {.state = "cancelled"};

			snprintf(wait.fnr, sizeof(wait.fnr), "%s", fnr);
			snprintf(wait.reason, sizeof(wait.reason), "%s", exists && !ss_user_in(&c->user, kommune) ?
				 "Deltakeren hører til en kommune du ikke har tilgang til." :
				 "Venter til nummeret er synkronisert.");
			lk_state_row(&ls, c->user.nkommuner ? c->user.kommuner[0] : "", pid, &wait);
		}
		if (rc != SH_OK)
			goto out;
	}
	if (m.nkommuner)
		notify_kommuner(w, 0, &m);
	if (ids.len)
		rc = ss_audit(w->cfg.store, c->user.username, c->dev.id, "lookup", "ba om oppslag i Folkeregisteret",
			      ids.data);
	if (rc == SH_OK) {
		/* the reply carries every row asked about, whatever the municipality */
		reply = lk_body_for(&ls, NULL);
		lk_send(w, c, id, reply ? reply : "{\"states\":[]}");
	}
out:
	sh_free(reply);
	sh_buf_free(&ids);
	sh_buf_free(&ls.rows);
	cJSON_Delete(req);
	cJSON_Delete(hdr);
	sh_free(body);
	return rc;
}

/* After a change-set: a changed number's old lookup goes, unless someone else waits for it. */
static int lk_renumbered(struct ss_worker *w, const struct sh_buf *list)
{
	const char *p = list->data;
	int rc = SH_OK;

	while (p && *p && rc == SH_OK) {
		char pid[SH_ID_LEN + 1], fnr[12];
		bool cancelled = false;

		if (sscanf(p, "%32[0-9a-f]:%11[0-9]", pid, fnr) != 2)
			break;
		rc = ss_lk_renumbered(w->cfg.store, pid, fnr, &cancelled);
		if (rc == SH_OK && cancelled)
			ss_lookup_cancel(w->cfg.lookup, fnr);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return rc;
}

static void lk_resume_one(const char *fnr, int attempts, int64_t next_try, void *arg)
{
	ss_lookup_add(arg, fnr, attempts, next_try);
}

void ss_worker_lookup_sink(void *arg, struct ss_lookup_result *r, size_t n)
{
	struct ss_job *j = sh_calloc(1, sizeof(*j));

	if (!j) {
		sh_free(r); /* the jobs stay pending in the store and are redone after a restart */
		return;
	}
	j->kind = SS_JOB_LOOKUP;
	j->results = r;
	j->len = n;
	ss_worker_post(arg, j);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static int on_message(struct ss_worker *w, struct ss_job *j)
{
	struct conn *c = conn_find(w, j->conn);
	struct sh_reason why = {{0}};
	enum sh_msg type;
	uint64_t id = 0;
	cJSON *msg = NULL;
	int rc = SH_OK, prc;

	if (!c)
		return SH_OK;
	prc = sh_msg_parse(j->text, j->len, &msg, &type, &id, &why);
	if (prc != SH_OK) {
		emit_error(w, c->id, 0, prc, why.text, "message refused");
		return SH_OK;
	}
	switch (type) {
	case SH_MSG_LOGIN:
		rc = on_login(w, c, msg, id);
		break;
	case SH_MSG_AUTH:
		rc = on_auth(w, c, msg, id);
		break;
	case SH_MSG_PUSH:
		rc = on_push(w, c, msg, id, j->t0_us);
		break;
	case SH_MSG_PULL:
		rc = on_pull(w, c, msg, id);
		break;
	case SH_MSG_ADMIN:
		rc = on_admin(w, c, msg, id);
		break;
	case SH_MSG_LOOKUP:
		rc = on_lookup(w, c, msg, id);
		break;
	default:
		emit_error(w, c->id, id, SH_ERR_PROTO, "Denne meldingstypen kan ikke sendes til serveren.",
			   "message type not accepted from clients");
		break;
	}
	cJSON_Delete(msg);
	return rc;
}

/* Drops this batch's outputs after a failed write: nothing confirmed. */
static void drop_pending(struct ss_worker *w, struct ss_out *from)
{
	struct ss_out *o = from ? from->next : w->pending;

	if (from)
		from->next = NULL;
	else
		w->pending = NULL;
	w->pending_tail = from;
	ss_out_free(o);
}

static void process(struct ss_worker *w, struct ss_job *batch)
{
	bool in_txn = false;
	size_t jobs = 0;
	uint64_t t0;

	for (struct ss_job *j = batch; j; j = j->next) {
		struct ss_out *mark;
		int rc;

		if (j->kind == SS_JOB_OPEN) {
			on_open(w, j->conn, j->address);
			continue;
		}
		if (j->kind == SS_JOB_CLOSE) {
			conn_remove(w, j->conn);
			continue;
		}
		if (!in_txn) {
			if (ss_begin(w->cfg.store) != SH_OK) {
				emit_error(w, j->conn, 0, SH_ERR_BUSY, NULL, "store busy");
				emit(w, j->conn, NULL, false, 0, 0, true);
				continue;
			}
			in_txn = true;
		}
		mark = w->pending_tail;
		jobs++;
		if (ss_savepoint(w->cfg.store) != SH_OK) {
			rc = SH_ERR_DB;
		} else {
			rc = j->kind == SS_JOB_HTTP ? on_http(w, j) : j->kind == SS_JOB_LOOKUP ? on_lookup_results(w, j)
											  : on_message(w, j);
			if (rc == SH_OK)
				rc = ss_release(w->cfg.store);
			else
				ss_rollback_to(w->cfg.store);
		}
		if (rc != SH_OK) {
			sh_log_error("worker: a %s failed: %s", j->kind == SS_JOB_HTTP ? "page" :
				     j->kind == SS_JOB_LOOKUP ? "lookup result" : "message", sh_err_log(rc));
			drop_pending(w, mark);
			if (j->kind == SS_JOB_MSG)
				emit_error(w, j->conn, 0, SH_ERR_BUSY, "Serveren kunne ikke lagre. Prøv igjen.",
					   sh_err_log(rc));
		}
		if (rc != SH_OK && j->kind == SS_JOB_HTTP) {
			struct ss_out *o;

			emit(w, j->conn, sh_strdup("Serverfeil. Prøv igjen senere.\n"), false, 0, 0, false);
			if ((o = w->pending_tail)) {
				o->http_status = 500;
				o->http_type = "text/plain; charset=utf-8";
			}
		}
		/* one marker per message: the network thread counts them for flow control */
		if (j->kind == SS_JOB_MSG)
			emit(w, j->conn, NULL, false, 0, 0, true);
	}
	t0 = sh_mono_us();
	if (in_txn && ss_commit(w->cfg.store) != SH_OK) {
		/* nothing of this batch is confirmed; clients re-send */
		sh_log_error("worker: commit failed: %s", sqlite3_errmsg(ss_store_db(w->cfg.store)));
		ss_rollback(w->cfg.store);
		for (struct ss_out *o = w->pending; o; o = o->next) {
			sh_free(o->text);
			o->text = NULL;
			o->len = 0;
			o->close = true;
			o->close_code = 1011;
		}
	} else if (in_txn) {
		sh_log_debug("worker: %zu jobs committed in %.1f ms", jobs, (double)(sh_mono_us() - t0) / 1000.0);
		if (w->cfg.mailer && ss_store_take_mail(w->cfg.store))
			ss_mailer_wake(w->cfg.mailer); /* committed: the mailer can see the new mail */
	}
}

/*
 * The audit log's head into the server log when it moved, at most every
 * audit_anchor_s (and at start and stop): a copy outside the store that
 * «jsr-server audit verify --head» checks, so a tail cut off together with
 * meta's record of it cannot go unnoticed.
 */
static void anchor(struct ss_worker *w, bool now)
{
	char head[96];
	uint64_t t = sh_mono_us();

	if (w->cfg.audit_anchor_s <= 0 ||
	    (!now && t - w->anchored_us < (uint64_t)w->cfg.audit_anchor_s * 1000000u))
		return;
	w->anchored_us = t;
	if (ss_meta_get(w->cfg.store, "audit_head", head, sizeof(head)) != SH_OK || strcmp(head, w->anchor) == 0)
		return;
	snprintf(w->anchor, sizeof(w->anchor), "%s", head);
	sh_log_info("audit: head %s (jsr-server audit verify --head %s)", head, head);
}

static void *run(void *arg)
{
	struct ss_worker *w = arg;

	/* the jobs that were open when the server stopped go on */
	if (w->cfg.lookup && ss_lk_open_each(w->cfg.store, lk_resume_one, w->cfg.lookup) != SH_OK)
		sh_log_error("worker: could not read the open lookup jobs");
	anchor(w, true);

	for (;;) {
		struct ss_job *batch;
		bool stop;

		pthread_mutex_lock(&w->lock);
		while (!w->jobs && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		batch = w->jobs;
		w->jobs = w->jobs_tail = NULL;
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		if (!batch && stop)
			break;
		process(w, batch);
		anchor(w, false);
		while (batch) {
			struct ss_job *next = batch->next;

			sh_free(batch->text);
			sh_free(batch->results);
			sh_free(batch);
			batch = next;
		}
		release(w);
		read_ahead(w); /* after the replies are out */
	}
	anchor(w, true);
	return NULL;
}

int ss_worker_start(const struct ss_worker_cfg *cfg, struct ss_worker **out)
{
	struct ss_worker *w = sh_calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return SH_ERR_NOMEM;
	w->cfg = *cfg;
	w->clock.max_drift_ms = (uint64_t)sh_config_int("max_clock_drift_ms");
	sh_fingerprint(cfg->keys->kx_pk, cfg->keys->sign_pk, w->fingerprint);
	rc = sh_b64_encode(cfg->keys->kx_pk, SH_KX_PK, &w->kx_b64);
	if (rc == SH_OK)
		rc = sh_b64_encode(cfg->keys->sign_pk, SH_SIGN_PK, &w->sign_b64);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (rc == SH_OK && pthread_create(&w->thread, NULL, run, w) != 0)
		rc = SH_ERR_NOMEM;
	if (rc != SH_OK) {
		sh_free(w->kx_b64);
		sh_free(w->sign_b64);
		sh_free(w);
		return rc;
	}
	*out = w;
	return SH_OK;
}

void ss_worker_post(struct ss_worker *w, struct ss_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->jobs_tail)
		w->jobs_tail->next = j;
	else
		w->jobs = j;
	w->jobs_tail = j;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct ss_out *ss_worker_take(struct ss_worker *w)
{
	struct ss_out *o;

	pthread_mutex_lock(&w->lock);
	o = w->outs;
	w->outs = w->outs_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	return o;
}

void ss_worker_stop(struct ss_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	ss_out_free(w->outs);
	ss_out_free(w->pending);
	for (struct ss_job *j = w->jobs; j;) {
		struct ss_job *next = j->next;

		sh_free(j->text);
		sh_free(j->results);
		sh_free(j);
		j = next;
	}
	for (size_t i = 0; i < w->nconns; i++)
		ahead_drop(w, &w->conns[i]);
	if (w->conns)
		sodium_memzero(w->conns, w->capconns * sizeof(*w->conns));
	sh_free(w->conns);
	ss_store_close(w->cfg.store);
	sh_free(w->kx_b64);
	sh_free(w->sign_b64);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	sh_free(w);
}
