/* mail.c: mail outbox, RFC 5322 formatting, spool files or sendmail, and the mailer thread. */
#include "mail.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "hlc.h"
#include "log.h"

bool ss_email_ok(const char *a)
{
	const char *at;
	size_t n = a ? strlen(a) : 0;

	if (n < 3 || n > 254 || !(at = strchr(a, '@')) || strchr(at + 1, '@') || at == a || !at[1] ||
	    !strchr(at + 1, '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= ' ' || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	return true;
}

int ss_mail_queue(struct ss_store *s, const char *to, const char *subject, const char *body)
{
	sqlite3_stmt *st;
	int64_t now = (int64_t)sh_wall_ms();
	int rc;

	if (!ss_email_ok(to))
		return SH_ERR_INVALID;
	if (sqlite3_prepare_v2(ss_store_db(s), "INSERT INTO mail(recipient, subject, body, next_try, created) "
					       "VALUES (?1, ?2, ?3, ?4, ?4)", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? SH_OK : SH_ERR_DB;
	sqlite3_finalize(st);
	if (rc == SH_OK)
		ss_store_mail_queued(s);
	return rc;
}

/* The message as RFC 5322 text: CRLF, UTF-8 body, encoded-word subject. */
static char *format(int64_t id, const char *from, const char *to, const char *subject,
		    const char *body)
{
	struct sh_buf b;
	char date[64], *subj64 = NULL;
	time_t now = time(NULL);
	struct tm tm;
	unsigned char rnd[8];
	char rhex[17];
	size_t n = strlen(subject), len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	subj64 = sh_malloc(len);
	if (!subj64)
		return NULL;
	sodium_bin2base64(subj64, len, (const unsigned char *)subject, n, sodium_base64_VARIANT_ORIGINAL);
	sh_buf_init(&b, 1 << 20);
	sh_buf_printf(&b, "From: %s\r\nTo: %s\r\nSubject: =?UTF-8?B?%s?=\r\nDate: %s\r\n"
			  "Message-ID: <%lld.%s@jobbsjanse>\r\nMIME-Version: 1.0\r\n"
			  "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
		      from, to, subj64, date, (long long)id, rhex);
	sh_free(subj64);
	for (const char *p = body; *p; p++) {
		if (*p == '\n')
			sh_buf_append(&b, "\r\n", 2);
		else if (*p != '\r')
			sh_buf_append(&b, p, 1);
	}
	sh_buf_puts(&b, "\r\n");
	return sh_buf_take(&b, NULL);
}

static int to_spool(const char *spool, int64_t id, const char *msg, char *err, size_t errlen)
{
	char tmp[4200], path[4200];
	int fd;
	size_t len = strlen(msg);

	if (mkdir(spool, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %.200s: %s", spool, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%lld.eml.tmp", spool, (long long)id);
	snprintf(path, sizeof(path), "%s/%lld.eml", spool, (long long)id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, msg, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return -1;
	}
	return 0;
}

static int to_sendmail(const char *cmd, const char *msg, char *err, size_t errlen)
{
	char line[4200];
	FILE *p;
	int st;

	snprintf(line, sizeof(line), "%s -t -i", cmd);
	p = popen(line, "w");
	if (!p) {
		snprintf(err, errlen, "popen: %s", strerror(errno));
		return -1;
	}
	fputs(msg, p);
	st = pclose(p);
	if (st != 0) {
		snprintf(err, errlen, "sendmail exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

/* Takes a message for delivery for a minute; false if someone else holds it. */
static bool claim(sqlite3 *db, int64_t id, int64_t now)
{
	sqlite3_stmt *st;
	bool mine = false;

	if (sqlite3_prepare_v2(db, "UPDATE mail SET claimed_until = ?2 + 60000 WHERE id = ?1 AND "
				   "state = 'pending' AND claimed_until <= ?2", -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	mine = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
	sqlite3_finalize(st);
	return mine;
}

/* The message's fields (sh_free each); false if it is gone. */
static bool load(sqlite3 *db, int64_t id, char **to, char **subject, char **body, int *attempts)
{
	sqlite3_stmt *st;
	bool found = false;

	*to = *subject = *body = NULL;
	if (sqlite3_prepare_v2(db, "SELECT recipient, subject, body, attempts FROM mail WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*to = sh_strdup((const char *)sqlite3_column_text(st, 0));
		*subject = sh_strdup((const char *)sqlite3_column_text(st, 1));
		*body = sh_strdup((const char *)sqlite3_column_text(st, 2));
		*attempts = sqlite3_column_int(st, 3);
		found = *to && *subject && *body;
	}
	sqlite3_finalize(st);
	return found;
}

/*
 * Every step is its own short transaction, and no statement stays open
 * across a write: a read snapshot held while the worker commits would make
 * the write fail at once (SQLITE_BUSY_SNAPSHOT), leaving a sent message
 * unrecorded.
 */
static int deliver(sqlite3 *db, const char *spool, const char *sendmail, const char *from, bool all,
		   int *sent, int *failed)
{
	sqlite3_stmt *st, *up;
	int64_t now = (int64_t)sh_wall_ms(), ids[100];
	size_t n = 0;

	*sent = *failed = 0;
	if (sqlite3_prepare_v2(db, "SELECT id FROM mail WHERE state = 'pending' AND next_try <= ?1 AND "
				   "claimed_until <= ?2 ORDER BY id LIMIT 100", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_int64(st, 1, all ? INT64_MAX : now);
	sqlite3_bind_int64(st, 2, now);
	while (n < 100 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++) {
		int64_t id = ids[i];
		char err[512] = "", *msg = NULL, *to, *subject, *body;
		int attempts = 0, ok;

		if (!claim(db, id, now))
			continue; /* another deliverer has it right now */
		if (load(db, id, &to, &subject, &body, &attempts))
			msg = format(id, from, to, subject, body);
		sh_free(to);
		sh_free(subject);
		if (body)
			sodium_memzero(body, strlen(body)); /* the activation link */
		sh_free(body);
		ok = msg && (sendmail && *sendmail ? to_sendmail(sendmail, msg, err, sizeof(err))
						   : to_spool(spool, id, msg, err, sizeof(err))) == 0;
		if (msg)
			sodium_memzero(msg, strlen(msg));
		sh_free(msg);
		if (ok)
			sqlite3_prepare_v2(db, "UPDATE mail SET state = 'sent', sent = ?2, attempts = attempts + 1, "
					       "claimed_until = 0 WHERE id = ?1", -1, &up, NULL);
		else
			sqlite3_prepare_v2(db, "UPDATE mail SET attempts = attempts + 1, next_try = ?2, "
					       "last_error = ?3, claimed_until = 0 WHERE id = ?1", -1, &up, NULL);
		sqlite3_bind_int64(up, 1, id);
		/* retry after 2, 4, 8 ... seconds, at most an hour */
		sqlite3_bind_int64(up, 2, ok ? now : now + 1000LL * (attempts < 11 ? (2LL << attempts) : 3600));
		if (!ok)
			sqlite3_bind_text(up, 3, err[0] ? err : "format failed", -1, SQLITE_TRANSIENT);
		if (sqlite3_step(up) != SQLITE_DONE)
			sh_log_error("mail: could not record delivery of %lld: %s", (long long)id, sqlite3_errmsg(db));
		sqlite3_finalize(up);
		if (ok) {
			(*sent)++;
		} else {
			(*failed)++;
			sh_log_warn("mail: message %lld not delivered (attempt %d): %s", (long long)id,
				    attempts + 1, err);
		}
	}
	return SH_OK;
}

int ss_mail_deliver(const char *db_path, const char *spool, const char *sendmail, const char *from,
		    bool all, int *sent, int *failed)
{
	struct sh_reason why;
	sqlite3 *db;
	int rc;

	*sent = *failed = 0;
	if (sh_db_open(db_path, &db, &why) != SH_OK)
		return SH_ERR_DB;
	rc = deliver(db, spool, sendmail, from, all, sent, failed);
	sqlite3_close(db);
	return rc;
}

struct ss_mailer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, wake;
	char *db_path, *spool, *sendmail, *from;
};

static void *mailer_run(void *arg)
{
	struct ss_mailer *m = arg;
	struct sh_reason why = {{0}};
	sqlite3 *db = NULL;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec until;
		int sent, failed;

		pthread_mutex_unlock(&m->lock);
		/* one connection for the mailer's life; opened again only after it failed */
		if (!db && sh_db_open(m->db_path, &db, &why) != SH_OK) {
			sh_log_error("mail: cannot open the store: %s", why.text);
			db = NULL;
		}
		if (db && deliver(db, m->spool, m->sendmail, m->from, false, &sent, &failed) != SH_OK) {
			sh_log_error("mail: cannot read the outbox: %s", sqlite3_errmsg(db));
			sqlite3_close(db);
			db = NULL;
		}
		pthread_mutex_lock(&m->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		while (!m->stop && !m->wake)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &until) != 0)
				break;
		m->wake = false;
	}
	pthread_mutex_unlock(&m->lock);
	sqlite3_close(db);
	return NULL;
}

/* What a mailer owns, whether its thread ran or could not start. */
static void mailer_free(struct ss_mailer *m)
{
	sh_free(m->db_path);
	sh_free(m->spool);
	sh_free(m->sendmail);
	sh_free(m->from);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	sh_free(m);
}

int ss_mailer_start(const char *db_path, const char *spool, const char *sendmail, const char *from,
		    struct ss_mailer **out)
{
	struct ss_mailer *m = sh_calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return SH_ERR_NOMEM;
	m->db_path = sh_strdup(db_path);
	m->spool = sh_strdup(spool);
	m->sendmail = sendmail ? sh_strdup(sendmail) : NULL;
	m->from = sh_strdup(from);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (!m->db_path || !m->spool || !m->from || pthread_create(&m->thread, NULL, mailer_run, m) != 0) {
		mailer_free(m);
		return SH_ERR_NOMEM;
	}
	*out = m;
	return SH_OK;
}

void ss_mailer_wake(struct ss_mailer *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->wake = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void ss_mailer_stop(struct ss_mailer *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	mailer_free(m);
}
