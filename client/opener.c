/* opener.c: pull pages opened and decoded on a thread of their own. */
#include "opener.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "alloc.h"
#include "hlc.h"

struct sc_opener {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond, done; /* a page posted; a page opened */
	void (*wake)(void *arg);
	void *arg;
	bool stop;
	/* the page posted (box set) until opened (ready), then until taken */
	cJSON *box;
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
	uint64_t t0 = sh_mono_us();
	size_t len = 0;

	out->rc = sh_box_open(key, signer, box, &out->body, &len);
	if (out->rc != SH_OK)
		sh_reason_set(&out->why, "En side fra serveren kunne ikke åpnes eller bekreftes.");
	else if ((out->rc = sh_wire_page_decode(out->body, len, &out->doc, &out->page, &out->why)) != SH_OK &&
		 !out->why.text[0])
		sh_reason_set(&out->why, "Kunne ikke lese siden fra serveren.");
	out->ms = (double)(sh_mono_us() - t0) / 1000.0;
}

static void *run(void *arg)
{
	struct sc_opener *o = arg;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		struct sc_opened out = {0};

		while (!o->stop && (!o->box || o->ready))
			pthread_cond_wait(&o->cond, &o->lock);
		if (o->stop)
			break;
		out.tag = o->tag;
		/* box, key, signer and tag stay as they are until the page is ready: post refuses meanwhile */
		pthread_mutex_unlock(&o->lock);
		open_page(o->box, o->key, o->signer, &out);
		pthread_mutex_lock(&o->lock);
		cJSON_Delete(o->box);
		o->box = NULL;
		o->out = out;
		o->ready = true;
		pthread_cond_broadcast(&o->done);
		if (!o->stop)
			o->wake(o->arg);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

struct sc_opener *sc_opener_start(void (*wake)(void *arg), void *arg)
{
	struct sc_opener *o = sh_calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->wake = wake;
	o->arg = arg;
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
	sc_opened_free(&o->out);
	sodium_memzero(o->key, sizeof(o->key));
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	pthread_cond_destroy(&o->done);
	sh_free(o);
}

int sc_opener_post(struct sc_opener *o, cJSON *box, const unsigned char key[32],
		   const unsigned char signer_pk[SH_SIGN_PK], uint64_t tag)
{
	int rc = SH_OK;

	pthread_mutex_lock(&o->lock);
	if (o->box || o->ready)
		rc = SH_ERR_BUSY;
	else if (!cJSON_IsObject(box)) /* a box is an object: anything else cannot be opened */
		rc = SH_ERR_PROTO;
	if (rc != SH_OK) {
		pthread_mutex_unlock(&o->lock);
		cJSON_Delete(box);
		return rc;
	}
	o->box = box;
	memcpy(o->key, key, sizeof(o->key));
	memcpy(o->signer, signer_pk, sizeof(o->signer));
	o->tag = tag;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	return SH_OK;
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

void sc_opener_drop(struct sc_opener *o)
{
	pthread_mutex_lock(&o->lock);
	while (o->box && !o->ready)
		pthread_cond_wait(&o->done, &o->lock);
	if (o->ready) {
		sc_opened_free(&o->out);
		o->ready = false;
	}
	pthread_mutex_unlock(&o->lock);
}

