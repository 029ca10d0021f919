/* access.c: roles, invitations, activation, login with lockout, deactivation. */
#include "access.h"

#include <stddef.h>
#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zxcvbn.h>

#include "alloc.h"
#include "audit.h"
#include "db.h"
#include "auth.h"
#include "hlc.h"
#include "log.h"
#include "mail.h"
#include "text.h"
#include "totp.h"

#define TXT(st, i) ((const char *)sqlite3_column_text(st, i))

/* DOMAIN.md §1: the one place the role matrix lives. */
static const struct role {
	const char *name, *label;
	unsigned may;
	bool kommune; /* belongs to municipalities */
} roles[] = {
	{"kommune_user", "kommunebruker", SS_MAY_PARTICIPANTS | SS_MAY_EXPORT, true},
	{"kommune_admin", "kommuneadministrator", SS_MAY_PARTICIPANTS | SS_MAY_EXPORT | SS_MAY_ADMIN_OWN, true},
	{"imdi_admin", "IMDi-administrator", SS_MAY_ADMIN_ANY | SS_MAY_NATIONAL, false},
	{"imdi_analyst", "IMDi-analytiker", SS_MAY_NATIONAL, false},
};

static const struct role *role_of(const char *name)
{
	for (size_t i = 0; name && i < sizeof(roles) / sizeof(*roles); i++)
		if (strcmp(roles[i].name, name) == 0)
			return &roles[i];
	return NULL;
}

const char *ss_role_label(const char *role)
{
	const struct role *r = role_of(role);

	return r ? r->label : NULL;
}

bool ss_role_may(const char *role, unsigned mask)
{
	const struct role *r = role_of(role);

	return r && (r->may & mask);
}

bool ss_role_kommune(const char *role)
{
	const struct role *r = role_of(role);

	return r && r->kommune;
}

/*
 * May `by` give (or manage a user with) role `role`? An IMDi admin any role;
 * a kommune admin only the kommune roles without administration (appointing
 * administrators is IMDi's).
 */
static bool may_grant(const struct ss_user *by, const char *role)
{
	const struct role *r = role_of(role);

	if (!r)
		return false;
	if (ss_role_may(by->role, SS_MAY_ADMIN_ANY))
		return true;
	return ss_role_may(by->role, SS_MAY_ADMIN_OWN) && r->kommune &&
	       !(r->may & (SS_MAY_ADMIN_OWN | SS_MAY_ADMIN_ANY));
}

void ss_system_admin(struct ss_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = 0;
	snprintf(u->username, sizeof(u->username), "jsr-server");
	snprintf(u->role, sizeof(u->role), "imdi_admin");
	u->active = true;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

int ss_password_choose_ok(const char *password, const char *username, const char *email,
			  int min_bits, struct sh_reason *why)
{
	/* words anyone guessing at a Norwegian register would try first */
	static const char *const local[] = {"jobbsjansen", "jobbsjanse", "imdi", "passord", "kommune",
					    "norge", "oslo", "sommer", "vinter", "høst", "vår", "velkommen",
					    "hemmelig", "deltaker", "register"};
	const char *dict[sizeof(local) / sizeof(*local) + 4];
	char local_part[255] = "";
	size_t n = 0;
	double bits;

	if (ss_password_policy(password, username, email, why) != SH_OK)
		return SH_ERR_INVALID;
	if (username && strlen(username) >= 4 && contains_nocase(password, username)) {
		sh_reason_set(why, "Passordet kan ikke inneholde brukernavnet.");
		return SH_ERR_INVALID;
	}
	if (username)
		dict[n++] = username;
	if (email) {
		snprintf(local_part, sizeof(local_part), "%.*s", (int)strcspn(email, "@"), email);
		dict[n++] = local_part;
	}
	for (size_t i = 0; i < sizeof(local) / sizeof(*local); i++)
		dict[n++] = local[i];
	dict[n] = NULL;
	bits = ZxcvbnMatch(password, dict, NULL);
	if (bits < min_bits) {
		sh_reason_set(why, "Passordet er for lett å gjette (vanlige passord, ord, navn, tastaturrekker, "
			      "gjentakelser og årstall gjettes først). Velg en lengre setning av flere ord som "
			      "ikke hører sammen.");
		return SH_ERR_INVALID;
	}
	return SH_OK;
}

/* ---- login ------------------------------------------------------------------ */

static int64_t backoff(const struct ss_access_cfg *cfg, int failures, int threshold)
{
	int over = failures - threshold;

	if (over < 0)
		return 0;
	if (over > 10)
		over = 10;
	return cfg->lockout_base_ms << over;
}

int ss_login_attempt(struct ss_store *s, const struct ss_access_cfg *cfg, const char *username,
		     const char *password, const char *totp, const char *address, int64_t now,
		     struct ss_user *u, bool *ok)
{
	sqlite3 *db = ss_store_db(s);
	sqlite3_stmt *st;
	char *pwhash = NULL, secret[64] = "";
	int64_t locked = 0, addr_locked = 0, last_step = 0;
	int failures = 0, addr_failures = 0, found;
	bool good;
	uint64_t step = 0;
	int rc = SH_OK;

	*ok = false;
	if (sqlite3_prepare_v2(db, "SELECT failures, locked_until FROM address_failure WHERE address = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			addr_failures = sqlite3_column_int(st, 0);
			addr_locked = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	found = ss_user_by_name(s, username, u, &pwhash);
	if (found == SH_ERR_DB)
		return SH_ERR_DB;
	if (found == SH_OK && sqlite3_prepare_v2(db, "SELECT failures, locked_until, coalesce(totp_secret, ''), "
						     "totp_last_step FROM users WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, u->id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			failures = sqlite3_column_int(st, 0);
			locked = sqlite3_column_int64(st, 1);
			snprintf(secret, sizeof(secret), "%s", TXT(st, 2));
			last_step = sqlite3_column_int64(st, 3);
		}
		sqlite3_finalize(st);
	}
	/* the password is always checked (dummy for unknown users): the same time either way */
	good = ss_password_verify(found == SH_OK ? pwhash : NULL, password ? password : "");
	sh_free(pwhash);
	/* the second factor, unless an operator turned it off (require_totp = 0) */
	if (good && found == SH_OK && cfg->require_totp)
		good = secret[0] && sh_totp_verify(secret, totp, (uint64_t)(now / 1000), 1,
						   (uint64_t)last_step, &step);
	good = good && found == SH_OK && u->active;
	if (locked > now || addr_locked > now) {
		/* a lock runs its course: attempts during it are refused but do not lengthen it,
		 * so a stranger's guessing cannot keep an account shut for ever */
		memset(u, 0, sizeof(*u));
		return SH_OK;
	}
	if (good) {
		*ok = true;
		rc = sh_db_run(db, "UPDATE users SET failures = 0, locked_until = 0, totp_last_step = "
			      "max(totp_last_step, ?2) WHERE id = ?1", "ii", u->id, (int64_t)step);
		if (rc == SH_OK)
			rc = sh_db_run(db, "DELETE FROM address_failure WHERE address = ?1", "t", address);
		return rc;
	}
	if (found == SH_OK)
		rc = sh_db_run(db, "UPDATE users SET failures = ?2, locked_until = ?3 WHERE id = ?1", "iii", u->id,
			  (int64_t)failures + 1, now + backoff(cfg, failures + 1, cfg->lockout_threshold));
	if (rc == SH_OK)
		rc = sh_db_run(db, "INSERT INTO address_failure(address, failures, locked_until) VALUES (?1, ?2, ?3) "
			      "ON CONFLICT(address) DO UPDATE SET failures = excluded.failures, "
			      "locked_until = excluded.locked_until", "tii", address,
			  (int64_t)addr_failures + 1, now + backoff(cfg, addr_failures + 1, cfg->address_threshold));
	memset(u, 0, sizeof(*u));
	return rc;
}

/* ---- provisioning ------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= max && sh_utf8_valid(s, n) && !sh_has_control(s, n) &&
	       sh_utf8_chars(s, n) <= max;
}

static bool phone_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0, digits = 0;

	if (n < 8 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			digits++;
		else if (!(p[i] == ' ' || (p[i] == '+' && i == 0)))
			return false;
	}
	return digits >= 8;
}

/* May `by` administer users of this municipality? */
static bool can_administer(const struct ss_user *by, const char *kommune)
{
	if (ss_role_may(by->role, SS_MAY_ADMIN_ANY))
		return true;
	return ss_role_may(by->role, SS_MAY_ADMIN_OWN) && kommune && ss_user_in(by, kommune);
}

/* New token: *hash for the store, hex in link. */
static void new_token(unsigned char hash[32], char hex[65])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, 65, raw, sizeof(raw));
	crypto_generichash(hash, 32, (const unsigned char *)hex, 64, NULL, 0);
	sodium_memzero(raw, sizeof(raw));
}

static int send_invitation(struct ss_store *s, const struct ss_access_cfg *cfg, int64_t user_id,
			   const char *name, const char *email, const char *kommune, const char *role,
			   const char *by)
{
	sqlite3 *db = ss_store_db(s);
	sqlite3_stmt *st;
	unsigned char hash[32];
	char hex[65], expires_txt[64];
	const char *rt = ss_role_label(role) ? ss_role_label(role) : role;
	const struct sh_codelist *kl = sh_codes_get(cfg->domain->codes, "kommune");
	const struct sh_code *kc = kommune ? sh_codelist_find(kl, kommune) : NULL;
	int64_t now = (int64_t)sh_wall_ms(), expires = now + cfg->invite_ttl_ms;
	struct sh_buf body;
	int rc;
	time_t et = (time_t)(expires / 1000);
	struct tm tm;

	new_token(hash, hex);
	if (sqlite3_prepare_v2(db, "INSERT INTO invitation(user_id, token_hash, created, expires) VALUES "
				   "(?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, expires);
	rc = sqlite3_step(st) == SQLITE_DONE ? SH_OK : SH_ERR_DB;
	sqlite3_finalize(st);
	if (rc != SH_OK)
		return rc;
	localtime_r(&et, &tm);
	strftime(expires_txt, sizeof(expires_txt), "%d.%m.%Y kl. %H:%M", &tm);
	sh_buf_init(&body, 1 << 16);
	sh_buf_printf(&body,
		      "Hei %s,\n\n"
		      "%s har gitt deg tilgang som %s i registeret for Jobbsjansen%s%s%s.\n\n"
		      "Åpne lenken under for å velge brukernavn og passord. Deretter setter du opp\n"
		      "innlogging med en kodeapp på mobilen (tofaktor), for eksempel Microsoft\n"
		      "Authenticator, Google Authenticator eller FreeOTP.\n\n"
		      "%s/aktiver?token=%s\n\n"
		      "Lenken kan brukes én gang og virker til %s. Har den gått ut, ber du\n"
		      "administratoren din om en ny invitasjon.\n\n"
		      "Fikk du denne e-posten uten å vente den, kan du se bort fra den.\n\n"
		      "Hilsen\nJobbsjansen-registeret (IMDi)\n",
		      name, by, rt, kc ? " for " : "", kc ? kc->label : "", kc ? " kommune" : "",
		      cfg->base_url, hex, expires_txt);
	sodium_memzero(hex, sizeof(hex));
	rc = body.err == SH_OK ? ss_mail_queue(s, email, "Invitasjon til Jobbsjansen-registeret", body.data)
			       : body.err;
	if (body.data)
		sodium_memzero(body.data, body.len);
	sh_buf_free(&body);
	return rc;
}

int ss_invite(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_user *by,
	      const char *name, const char *email, const char *phone, const char *kommune,
	      const char *role, int64_t *user_id, struct sh_reason *why)
{
	sqlite3 *db = ss_store_db(s);
	bool kommune_role;
	char detail[160];
	int rc;

	*user_id = 0;
	if (!role)
		role = "kommune_user";
	/* a kommune_admin with one municipality need not name it */
	if (!kommune && !ss_role_may(by->role, SS_MAY_ADMIN_ANY) && by->nkommuner == 1)
		kommune = by->kommuner[0];
	if (!ss_role_label(role)) {
		sh_reason_set(why, "Ukjent rolle.");
		return SH_ERR_INVALID;
	}
	if (!may_grant(by, role)) {
		sh_reason_set(why, ss_role_may(by->role, SS_MAY_ADMIN_OWN)
					   ? "En kommuneadministrator kan bare invitere kommunebrukere."
					   : "Rollen din kan ikke invitere brukere.");
		return SH_ERR_DENIED;
	}
	kommune_role = ss_role_kommune(role);
	if (kommune_role ? !kommune : kommune != NULL) {
		sh_reason_set(why, kommune_role ? "Oppgi kommunen." : "IMDi-roller har ingen kommune.");
		return SH_ERR_INVALID;
	}
	if (kommune && !sh_codelist_find(sh_codes_get(cfg->domain->codes, "kommune"), kommune)) {
		sh_reason_set(why, "«%s» er ikke et kommunenummer.", sh_text_echo(kommune));
		return SH_ERR_INVALID;
	}
	if (kommune && !can_administer(by, kommune)) {
		sh_reason_set(why, "Du kan bare invitere brukere til din egen kommune.");
		return SH_ERR_DENIED;
	}
	if (!text_ok(name, 200) || !ss_email_ok(email) || !phone_ok(phone)) {
		sh_reason_set(why, !text_ok(name, 200) ? "Navnet mangler, er for langt eller har ugyldige tegn."
				   : !ss_email_ok(email) ? "Ugyldig e-postadresse."
							 : "Ugyldig telefonnummer (8–20 sifre).");
		return SH_ERR_INVALID;
	}
	rc = sh_db_run(db, "INSERT INTO users(role, active, created, name, email, phone, state, invited_by) "
		      "VALUES (?1, 0, ?2, ?3, ?4, ?5, 'invited', nullif(?6, 0))", "tittti",
		  role, (int64_t)sh_wall_ms(), name, email, phone, by->id);
	if (rc != SH_OK)
		return rc;
	*user_id = sqlite3_last_insert_rowid(db);
	if (kommune)
		rc = sh_db_run(db, "INSERT INTO user_kommune(user_id, kommune) VALUES (?1, ?2)", "it", *user_id, kommune);
	if (rc == SH_OK)
		rc = send_invitation(s, cfg, *user_id, name, email, kommune, role, by->username);
	snprintf(detail, sizeof(detail), "inviterte bruker %lld som %s, kommune %s", (long long)*user_id, role,
		 kommune ? kommune : "-");
	if (rc == SH_OK)
		rc = ss_audit(s, by->username, by->device[0] ? by->device : "-", "admin", detail, "");
	return rc;
}

/* A user by username or numeric id, with role, state and municipalities. */
static int target(struct ss_store *s, const char *who, int64_t *id, char role[16], char state[16],
		  char email[255], char name[201], struct ss_user *u)
{
	sqlite3_stmt *st;
	char *end;
	long long n = strtoll(who, &end, 10);
	int rc = SH_ERR_NOT_FOUND;

	if (sqlite3_prepare_v2(ss_store_db(s), "SELECT id, role, state, coalesce(email, ''), coalesce(name, '') "
					       "FROM users WHERE username = ?1 OR (?2 > 0 AND id = ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_text(st, 1, who, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, *end == '\0' ? n : 0);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		snprintf(role, 16, "%s", TXT(st, 1));
		snprintf(state, 16, "%s", TXT(st, 2));
		snprintf(email, 255, "%s", TXT(st, 3));
		snprintf(name, 201, "%s", TXT(st, 4));
		rc = SH_OK;
	}
	sqlite3_finalize(st);
	if (rc == SH_OK)
		rc = ss_user_by_id(s, *id, u);
	return rc;
}

/* May `by` administer user t (a role they may grant; all its municipalities theirs)? */
static bool may_manage(const struct ss_user *by, const struct ss_user *t, const char *role)
{
	if (!may_grant(by, role))
		return false;
	if (ss_role_may(by->role, SS_MAY_ADMIN_ANY))
		return true;
	if (t->nkommuner == 0)
		return false;
	for (size_t i = 0; i < t->nkommuner; i++)
		if (!ss_user_in(by, t->kommuner[i]))
			return false;
	return true;
}

/*
 * The user `who` if `by` may administer them; otherwise one answer whether
 * the user is missing or out of reach (no telling the two apart).
 */
static int managed_target(struct ss_store *s, const struct ss_user *by, const char *who, int64_t *id,
			  char role[16], char state[16], char email[255], char name[201], struct ss_user *t,
			  struct sh_reason *why)
{
	int rc = target(s, who, id, role, state, email, name, t);

	if (rc == SH_ERR_NOT_FOUND || (rc == SH_OK && !may_manage(by, t, role))) {
		sh_reason_set(why, "Fant ingen slik bruker du kan administrere.");
		return rc == SH_OK ? SH_ERR_DENIED : rc;
	}
	return rc;
}

int ss_resend(struct ss_store *s, const struct ss_access_cfg *cfg, const struct ss_user *by,
	      const char *who, struct sh_reason *why)
{
	char role[16], state[16], email[255], name[201], detail[96];
	struct ss_user t;
	int64_t id;
	int rc = managed_target(s, by, who, &id, role, state, email, name, &t, why);

	if (rc != SH_OK)
		return rc;
	if (strcmp(state, "invited") != 0) {
		sh_reason_set(why, "Brukeren har allerede tatt i bruk invitasjonen.");
		return SH_ERR_RULE;
	}
	/* the old link stops working */
	rc = sh_db_run(ss_store_db(s), "UPDATE invitation SET state = 'voided' WHERE user_id = ?1 AND state IN "
				  "('open', 'password_set')", "i", id);
	if (rc == SH_OK)
		rc = sh_db_run(ss_store_db(s), "UPDATE users SET username = NULL, pwhash = NULL, totp_secret = NULL "
					  "WHERE id = ?1", "i", id);
	if (rc == SH_OK)
		rc = send_invitation(s, cfg, id, name, email, t.nkommuner ? t.kommuner[0] : NULL, role,
				     by->username);
	snprintf(detail, sizeof(detail), "ny invitasjon til bruker %lld", (long long)id);
	if (rc == SH_OK)
		rc = ss_audit(s, by->username, by->device[0] ? by->device : "-", "admin", detail, "");
	return rc;
}

int ss_deactivate(struct ss_store *s, const struct ss_user *by, const char *who, int64_t *user_id,
		  struct sh_reason *why)
{
	char role[16], state[16], email[255], name[201], detail[96];
	struct ss_user t;
	int64_t id = 0;
	int rc = managed_target(s, by, who, &id, role, state, email, name, &t, why);

	*user_id = 0;
	if (rc != SH_OK)
		return rc;
	if (id == by->id) {
		sh_reason_set(why, "Du kan ikke deaktivere deg selv.");
		return SH_ERR_RULE;
	}
	if (strcmp(state, "deactivated") == 0) {
		sh_reason_set(why, "Brukeren er allerede deaktivert.");
		return SH_ERR_RULE;
	}
	rc = sh_db_run(ss_store_db(s), "UPDATE users SET state = 'deactivated', active = 0, deactivated_at = ?2 "
				  "WHERE id = ?1", "ii", id, (int64_t)sh_wall_ms());
	if (rc == SH_OK)
		rc = ss_session_revoke_user(s, id);
	if (rc == SH_OK)
		rc = sh_db_run(ss_store_db(s), "UPDATE device SET wipe = 1 WHERE user_id = ?1", "i", id);
	if (rc == SH_OK)
		rc = sh_db_run(ss_store_db(s), "UPDATE invitation SET state = 'voided' WHERE user_id = ?1 AND state "
					  "IN ('open', 'password_set')", "i", id);
	snprintf(detail, sizeof(detail), "deaktiverte bruker %lld", (long long)id);
	if (rc == SH_OK)
		rc = ss_audit(s, by->username, by->device[0] ? by->device : "-", "admin", detail, "");
	*user_id = id;
	return rc;
}

/* An IMDi admin sees everyone; a kommune admin everyone sharing a municipality. */
static bool may_see(const struct ss_user *by, const struct ss_user *t)
{
	if (ss_role_may(by->role, SS_MAY_ADMIN_ANY))
		return true;
	for (size_t i = 0; ss_role_may(by->role, SS_MAY_ADMIN_OWN) && i < t->nkommuner; i++)
		if (ss_user_in(by, t->kommuner[i]))
			return true;
	return false;
}

/* Enough of a user, from the listing's row, to decide whether `by` sees it. */
static const struct ss_user *user_of_row(sqlite3_stmt *st, struct ss_user *t)
{
	const char *k = TXT(st, 6);

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	snprintf(t->role, sizeof(t->role), "%s", TXT(st, 2));
	while (k && *k && t->nkommuner < SS_MAX_KOMMUNER) {
		size_t n = strcspn(k, ",");

		snprintf(t->kommuner[t->nkommuner++], sizeof(t->kommuner[0]), "%.*s", (int)n, k);
		k += n + (k[n] == ',');
	}
	return t;
}

int ss_users_json(struct ss_store *s, const struct ss_user *by, struct sh_buf *out)
{
	sqlite3_stmt *st;
	bool first = true;
	int64_t now = (int64_t)sh_wall_ms();

	if (sqlite3_prepare_v2(ss_store_db(s),
			       "SELECT u.id, coalesce(u.username, ''), u.role, u.state, coalesce(u.name, ''), "
			       "coalesce(u.email, ''), (SELECT group_concat(kommune, ',') FROM user_kommune k "
			       "WHERE k.user_id = u.id), (SELECT i.state || ' ' || i.expires FROM invitation i "
			       "WHERE i.user_id = u.id ORDER BY i.id DESC LIMIT 1) FROM users u ORDER BY u.id",
			       -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sh_buf_puts(out, "[");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ss_user t;
		const char *inv = TXT(st, 7);
		char invstate[24] = "";
		long long expires = 0;

		if (!may_see(by, user_of_row(st, &t)))
			continue;
		if (inv)
			sscanf(inv, "%23s %lld", invstate, &expires);
		if (strcmp(invstate, "open") == 0 && expires <= now)
			snprintf(invstate, sizeof(invstate), "expired");
		sh_buf_printf(out, "%s{\"id\":%lld,\"username\":", first ? "" : ",",
			      (long long)sqlite3_column_int64(st, 0));
		first = false;
		sh_buf_json_str(out, TXT(st, 1));
		sh_buf_puts(out, ",\"role\":");
		sh_buf_json_str(out, TXT(st, 2));
		sh_buf_puts(out, ",\"role_label\":");
		sh_buf_json_str(out, ss_role_label(TXT(st, 2)) ? ss_role_label(TXT(st, 2)) : TXT(st, 2));
		sh_buf_puts(out, ",\"state\":");
		sh_buf_json_str(out, TXT(st, 3));
		sh_buf_puts(out, ",\"name\":");
		sh_buf_json_str(out, TXT(st, 4));
		sh_buf_puts(out, ",\"email\":");
		sh_buf_json_str(out, TXT(st, 5));
		sh_buf_puts(out, ",\"kommuner\":");
		sh_buf_json_str(out, TXT(st, 6) ? TXT(st, 6) : "");
		sh_buf_puts(out, ",\"invitation\":");
		sh_buf_json_str(out, invstate);
		sh_buf_printf(out, ",\"expires\":%lld}", expires);
	}
	sqlite3_finalize(st);
	sh_buf_puts(out, "]");
	return out->err;
}

/* ---- activation -------------------------------------------------------------- */

int ss_invitation_find(struct ss_store *s, const char *token, int64_t now, struct ss_invitation *inv)
{
	unsigned char hash[32];
	sqlite3_stmt *st;
	size_t n = token ? strlen(token) : 0;

	memset(inv, 0, sizeof(*inv));
	if (n != 64 || strspn(token, "0123456789abcdef") != 64)
		return SH_OK; /* unknown */
	crypto_generichash(hash, 32, (const unsigned char *)token, 64, NULL, 0);
	if (sqlite3_prepare_v2(ss_store_db(s),
			       "SELECT i.id, i.user_id, i.expires, i.state, coalesce(u.name, ''), "
			       "coalesce(u.email, ''), u.role, coalesce(u.username, ''), coalesce(u.totp_secret, ''), "
			       "coalesce((SELECT group_concat(kommune, ', ') FROM user_kommune k WHERE k.user_id = u.id), '') "
			       "FROM invitation i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return SH_ERR_DB;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *state = TXT(st, 3);

		inv->id = sqlite3_column_int64(st, 0);
		inv->user_id = sqlite3_column_int64(st, 1);
		snprintf(inv->name, sizeof(inv->name), "%s", TXT(st, 4));
		snprintf(inv->email, sizeof(inv->email), "%s", TXT(st, 5));
		snprintf(inv->role, sizeof(inv->role), "%s", TXT(st, 6));
		snprintf(inv->username, sizeof(inv->username), "%s", TXT(st, 7));
		snprintf(inv->totp_secret, sizeof(inv->totp_secret), "%s", TXT(st, 8));
		snprintf(inv->kommuner, sizeof(inv->kommuner), "%s", TXT(st, 9));
		if (strcmp(state, "used") == 0 || strcmp(state, "voided") == 0)
			inv->state = SS_INV_DONE;
		else if (sqlite3_column_int64(st, 2) <= now)
			inv->state = SS_INV_EXPIRED;
		else
			inv->state = strcmp(state, "password_set") == 0 ? SS_INV_PASSWORD_SET : SS_INV_OPEN;
	}
	sqlite3_finalize(st);
	return SH_OK;
}

bool ss_username_ok(const char *u)
{
	size_t n = u ? strlen(u) : 0;

	if (n < 2 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
		      u[i] == '-' || u[i] == '_'))
			return false;
	return true;
}

int ss_activate_password(struct ss_store *s, const struct ss_access_cfg *cfg, struct ss_invitation *inv, const char *username,
			 const char *password, const char *again, struct sh_reason *why)
{
	char secret[SH_TOTP_SECRET_LEN + 1], *hash = NULL, detail[96];
	int rc;

	if (!ss_username_ok(username)) {
		sh_reason_set(why, "Brukernavnet må ha 2–64 tegn: små bokstaver a–z, sifre, punktum, "
			      "bindestrek eller understrek.");
		return SH_ERR_INVALID;
	}
	if (!password || !again || strcmp(password, again) != 0) {
		sh_reason_set(why, "Passordene er ikke like.");
		return SH_ERR_INVALID;
	}
	if (ss_password_choose_ok(password, username, inv->email, cfg->password_min_bits, why) != SH_OK)
		return SH_ERR_INVALID;
	if ((rc = ss_password_hash(password, &hash)) != SH_OK)
		return rc;
	sh_totp_secret_new(secret);
	rc = sh_db_run(ss_store_db(s), "UPDATE users SET username = ?2, pwhash = ?3, totp_secret = ?4 WHERE id = ?1",
		  "itt" "t", inv->user_id, username, hash, secret);
	sh_free(hash);
	if (rc == SH_ERR_CONFLICT) {
		sh_reason_set(why, "Brukernavnet «%s» er tatt. Velg et annet.", username);
		return SH_ERR_INVALID;
	}
	if (rc == SH_OK)
		rc = sh_db_run(ss_store_db(s), "UPDATE invitation SET state = 'password_set' WHERE id = ?1", "i", inv->id);
	snprintf(detail, sizeof(detail), "bruker %lld valgte brukernavn og passord", (long long)inv->user_id);
	if (rc == SH_OK)
		rc = ss_audit(s, username, "-", "activate", detail, "");
	if (rc == SH_OK) {
		snprintf(inv->username, sizeof(inv->username), "%s", username);
		snprintf(inv->totp_secret, sizeof(inv->totp_secret), "%s", secret);
		inv->state = SS_INV_PASSWORD_SET;
	}
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

int ss_activate_totp(struct ss_store *s, struct ss_invitation *inv, const char *code, int64_t now,
		     struct sh_reason *why)
{
	uint64_t step;
	char detail[96];
	int rc;

	if (!sh_totp_verify(inv->totp_secret, code, (uint64_t)(now / 1000), 1, 0, &step)) {
		sh_reason_set(why, "Koden stemmer ikke. Sjekk at klokken på mobilen går riktig, og skriv "
			      "inn koden som vises nå (6 sifre).");
		return SH_ERR_INVALID;
	}
	rc = sh_db_run(ss_store_db(s), "UPDATE users SET state = 'active', active = 1, totp_last_step = ?2 "
				  "WHERE id = ?1", "ii", inv->user_id, (int64_t)step);
	if (rc == SH_OK)
		rc = sh_db_run(ss_store_db(s), "UPDATE invitation SET state = 'used' WHERE id = ?1", "i", inv->id);
	snprintf(detail, sizeof(detail), "bruker %lld aktivert", (long long)inv->user_id);
	if (rc == SH_OK)
		rc = ss_audit(s, inv->username, "-", "activate", detail, "");
	return rc;
}

int ss_user_set_totp(struct ss_store *s, int64_t user_id, char secret[40])
{
	sh_totp_secret_new(secret);
	return sh_db_run(ss_store_db(s), "UPDATE users SET totp_secret = ?2 WHERE id = ?1", "it", user_id, secret);
}
