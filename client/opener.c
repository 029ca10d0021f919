/* opener.c: pull pages parsed, opened, decoded and stored on a thread of their own. */
#include "opener.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "alloc.h"
#include "hlc.h"
#include "proto.h"
#include "sync_store.h"

struct sc_opener {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond, done; /* a page posted; a page opened */
	void (*wake)(void *arg);
	void *arg;
	struct sc_replica *store; /* this thread's own connection to the replica */
	bool stop;
	/* the page posted (box, or the message's text, set) until opened (ready), then until taken */
	cJSON *box;
	char *text;
	size_t len;
	unsigned char key[32], signer[SH_SIGN_PK];
	uint64_t tag;
	bool ready;
	struct sc_opened out;
};

void sc_opened_free(struct sc_opened *p)
{
	sh_wire_page_free(&p->page);
	sh_wire_doc_free(&p->doc);
	sh_free(p->body);
	memset(p, 0, sizeof(*p));
}

/* Opens and decodes one page (outside the lock). */
static void open_page(cJSON *box, const unsigned char *key, const unsigned char *signer, struct sc_opened *out)
{
	size_t len = 0;

	out->rc = sh_box_open(key, signer, box, &out->body, &len);
	if (out->rc != SH_OK)
		sh_reason_set(&out->why, "En side fra serveren kunne ikke åpnes eller bekreftes.");
	else if ((out->rc = sh_wire_page_decode(out->body, len, &out->doc, &out->page, &out->why)) != SH_OK &&
		 !out->why.text[0])
		sh_reason_set(&out->why, "Kunne ikke lese siden fra serveren.");
}

/* Stores an opened page, with its cursor, in one transaction (outside the lock). */
static void store_page(struct sc_replica *r, struct sc_opened *out)
{
	uint64_t t0 = sh_mono_us();

	if ((out->rc = sc_apply_page(r, &out->page, &out->applied, &out->kept)) != SH_OK)
		sh_reason_set(&out->why, "Kunne ikke lagre siden fra serveren.");
	sc_replica_maintain(r);
	out->store_ms = (double)(sh_mono_us() - t0) / 1000.0;
}

/* The box of a `changes` message's text, or NULL with out's reason (outside the lock). */
static cJSON *box_of(const char *text, size_t len, struct sc_opened *out)
{
	struct sh_reason why = {{0}};
	enum sh_msg type;
	uint64_t id;
	cJSON *msg, *box = NULL;

	if ((out->rc = sh_msg_parse(text, len, &msg, &type, &id, &why)) != SH_OK) {
		sh_reason_set(&out->why, "Ugyldig melding fra serveren: %s", why.text);
		return NULL;
	}
	if (type != SH_MSG_CHANGES || !cJSON_IsObject(box = cJSON_DetachItemFromObjectCaseSensitive(msg, "box"))) {
		out->rc = SH_ERR_PROTO;
		sh_reason_set(&out->why, "En side fra serveren kunne ikke åpnes eller bekreftes.");
		cJSON_Delete(box);
		box = NULL;
	}
	cJSON_Delete(msg);
	return box;
}

static void *run(void *arg)
{
	struct sc_opener *o = arg;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		struct sc_opened out = {0};
		uint64_t t0;

		while (!o->stop && ((!o->box && !o->text) || o->ready))
			pthread_cond_wait(&o->cond, &o->lock);
		if (o->stop)
			break;
		out.tag = o->tag;
		/* what was posted, key, signer and tag stay as they are until the page is ready: post refuses meanwhile */
		pthread_mutex_unlock(&o->lock);
		t0 = sh_mono_us();
		if (!o->text || (o->box = box_of(o->text, o->len, &out)))
			open_page(o->box, o->key, o->signer, &out);
		out.ms = (double)(sh_mono_us() - t0) / 1000.0;
		if (out.rc == SH_OK)
			store_page(o->store, &out);
		pthread_mutex_lock(&o->lock);
		cJSON_Delete(o->box);
		o->box = NULL;
		sh_free(o->text);
		o->text = NULL;
		o->out = out;
		o->ready = true;
		pthread_cond_broadcast(&o->done);
		if (!o->stop)
			o->wake(o->arg);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

struct sc_opener *sc_opener_start(void (*wake)(void *arg), void *arg, struct sc_replica *store)
{
	struct sc_opener *o = sh_calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->wake = wake;
	o->arg = arg;
	o->store = store;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	pthread_cond_init(&o->done, NULL);
	if (pthread_create(&o->thread, NULL, run, o) != 0) {
		pthread_mutex_destroy(&o->lock);
		pthread_cond_destroy(&o->cond);
		pthread_cond_destroy(&o->done);
		sh_free(o);
		return NULL;
	}
	return o;
}

void sc_opener_stop(struct sc_opener *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	cJSON_Delete(o->box);
	sh_free(o->text);
	sc_opened_free(&o->out);
	sodium_memzero(o->key, sizeof(o->key));
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	pthread_cond_destroy(&o->done);
	sh_free(o);
}

/* Posts a box or a message's text (one of them), which the opener then owns; refused: both freed. */
static int post(struct sc_opener *o, cJSON *box, char *text, size_t len, const unsigned char key[32],
		const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag)
{
	int rc = SH_OK;

	pthread_mutex_lock(&o->lock);
	if (o->box || o->text || o->ready)
		rc = SH_ERR_BUSY;
	else if (!text && !cJSON_IsObject(box)) /* a box is an object: anything else cannot be opened */
		rc = SH_ERR_PROTO;
	if (rc != SH_OK) {
		pthread_mutex_unlock(&o->lock);
		cJSON_Delete(box);
		sh_free(text);
		return rc;
	}
	o->box = box;
	o->text = text;
	o->len = len;
	memcpy(o->key, key, sizeof(o->key));
	memcpy(o->signer, signer_pk, sizeof(o->signer));
	o->tag = tag;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	return SH_OK;
}

int sc_opener_post(struct sc_opener *o, cJSON *box, const unsigned char key[32],
		   const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag)
{
	return post(o, box, NULL, 0, key, signer_pk, tag);
}

int sc_opener_post_message(struct sc_opener *o, char *text, size_t len, const unsigned char key[32],
			   const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag)
{
	return post(o, NULL, text, len, key, signer_pk, tag);
}

bool sc_opener_take(struct sc_opener *o, struct sc_opened *out)
{
	bool ready;

	pthread_mutex_lock(&o->lock);
	ready = o->ready;
	if (ready) {
		*out = o->out;
		memset(&o->out, 0, sizeof(o->out));
		o->ready = false;
	}
	pthread_mutex_unlock(&o->lock);
	return ready;
}

bool sc_opener_wait(struct sc_opener *o, struct sc_opened *out)
{
	pthread_mutex_lock(&o->lock);
	while ((o->box || o->text) && !o->ready)
		pthread_cond_wait(&o->done, &o->lock);
	pthread_mutex_unlock(&o->lock);
	return sc_opener_take(o, out);
}

void sc_opener_drop(struct sc_opener *o)
{
	struct sc_opened p;

	if (sc_opener_wait(o, &p))
		sc_opened_free(&p);
}

