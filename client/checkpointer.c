/* checkpointer.c: the replica's WAL checkpointed on a thread of its own. */
#include "checkpointer.h"

#include <pthread.h>
#include <sqlite3.h>

#include "alloc.h"
#include "log.h"

struct sc_checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sqlite3 *db;
	bool asked, stop;
	unsigned done;
};

static void *run(void *arg)
{
	struct sc_checkpointer *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		int rc;

		while (!c->asked && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->asked) /* stopping, nothing asked */
			break;
		c->asked = false;
		pthread_mutex_unlock(&c->lock);
		/* PASSIVE: whatever the writer does meanwhile, it is not kept waiting */
		if ((rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL)) != SQLITE_OK)
			sh_log_warn("checkpointer: %s", sqlite3_errstr(rc));
		pthread_mutex_lock(&c->lock);
		c->done++;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct sc_checkpointer *sc_checkpointer_start(const char *path)
{
	struct sc_checkpointer *c = sh_calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	/* the file exists (the replica opened it): no creating, no migrating here */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(c->db);
		sh_free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 10000);
	/* a connection that has read nothing does not know the file is in WAL mode, and checkpoints nothing */
	if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(c->db);
		sh_free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		sqlite3_close(c->db);
		sh_free(c);
		return NULL;
	}
	return c;
}

void sc_checkpointer_poke(struct sc_checkpointer *c)
{
	pthread_mutex_lock(&c->lock);
	c->asked = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

unsigned sc_checkpointer_done(struct sc_checkpointer *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->done;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void sc_checkpointer_stop(struct sc_checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	sqlite3_close(c->db);
	sh_free(c);
}
