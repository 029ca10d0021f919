/*
 * jsr-server.c: the central server's command line.
 *   init   create the store, the server's keys and the first IMDi administrator
 *   run    serve WebSocket sync (/sync), /healthz and /metrics
 *   user add, hash, fingerprint, config
 * User-facing text in Norwegian; logs in English on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "access.h"
#include "alloc.h"
#include "audit.h"
#include "auth.h"
#include "catalog.h"
#include "config.h"
#include "hlc.h"
#include "log.h"
#include "freg.h"
#include "lookup.h"
#include "lookup_store.h"
#include "mail.h"
#include "net.h"
#include "prompt.h"
#include "seal.h"
#include "store.h"
#include "text.h"
#include "totp.h"

enum { OK = 0, REFUSED = 1, USAGE = 2, FAILED = 3 };

static const struct sh_conf_key server_keys[] = {
	{"listen", SH_CONF_STRING, "127.0.0.1:8443", "HOST:PORT to listen on (port 0: any free port)"},
	{"tls_cert", SH_CONF_STRING, NULL, "PEM certificate chain; with tls_key the server speaks wss://"},
	{"tls_key", SH_CONF_STRING, NULL, "PEM private key for tls_cert"},
	{"session_ttl_s", SH_CONF_INT, "43200", "absolute lifetime of a login session, seconds"},
	{"session_idle_s", SH_CONF_INT, "7200", "a session unused this long expires, seconds"},
	{"password_strength", SH_CONF_STRING, "interactive",
	 "Argon2id cost: interactive, moderate, or min (tests only)"},
	{"max_message_bytes", SH_CONF_INT, "16777216", "largest WebSocket message accepted, bytes"},
	{"pull_page_limit", SH_CONF_INT, "5000", "most items in one pull page"},
	{"public_url", SH_CONF_STRING, NULL,
	 "base of the links in e-mails (default: http://LISTEN-HOST:PORT)"},
	{"require_totp", SH_CONF_BOOL, "1", "a second factor (TOTP) at every login, for every role"},
	{"lockout_threshold", SH_CONF_INT, "5", "failed logins before an account is locked for a while"},
	{"lockout_base_s", SH_CONF_INT, "60", "first lockout, seconds; doubles with each further failure"},
	{"password_min_bits", SH_CONF_INT, "40", "zxcvbn entropy (bits) a password chosen at activation must reach"},
	{"address_threshold", SH_CONF_INT, "20", "failed logins from one address before it is locked"},
	{"invite_ttl_s", SH_CONF_INT, "259200", "how long an invitation link works, seconds (72 h)"},
	{"mail_spool", SH_CONF_STRING, NULL, "folder for .eml files (default: DATA/mail-spool)"},
	{"sendmail", SH_CONF_STRING, NULL, "deliver with this sendmail command (-t -i) instead of the spool"},
	{"mail_from", SH_CONF_STRING, "Jobbsjansen <ikke-svar@jobbsjansen.invalid>", "From: of e-mails"},
	{"freg_backend", SH_CONF_STRING, "local",
	 "Folkeregister lookups: local (the synthetic register file) or http (the Skatteetaten API)"},
	{"freg_file", SH_CONF_STRING, NULL, "local: the synthetic register (default: DATA/freg.csv)"},
	{"freg_url", SH_CONF_STRING, "https://folkeregisteret.api.skatteetaten.no",
	 "http: base URL of the API (…/folkeregisteret/offentlig-med-hjemmel/api/v1/personer/NR)"},
	{"freg_token_file", SH_CONF_STRING, NULL,
	 "http: file with the Maskinporten access token, re-read when it changes (default: DATA/freg.token)"},
	{"freg_ca_file", SH_CONF_STRING, NULL, "http: PEM CA for a register with a private CA (tests)"},
	{"freg_rate", SH_CONF_INT, "500", "lookups started per second, at most (the register allows 1000)"},
	{"freg_concurrency", SH_CONF_INT, "16", "lookups under way at once, at most"},
	{"freg_timeout_ms", SH_CONF_INT, "5000", "one lookup's time limit"},
	{"freg_max_backoff_s", SH_CONF_INT, "300", "longest wait between two tries of one number"},
	{"freg_breaker_failures", SH_CONF_INT, "10", "failures in a row before lookups pause (circuit open)"},
	{"freg_breaker_open_s", SH_CONF_INT, "5", "first pause when the register fails; doubles up to 16x"},
	{"freg_probe_s", SH_CONF_INT, "60", "while the register refuses our access (401/403): try this often"},
	{"freg_malformed_max", SH_CONF_INT, "5", "malformed answers for one number before it fails for good"},
	{"audit_anchor_s", SH_CONF_INT, "600",
	 "write the audit log's head to the server log this often when it moved (0: never); "
	 "check it later with audit verify --head"},
	{NULL, 0, NULL, NULL},
};

struct opts {
	const char *data, *config, *listen, *username, *role, *admin;
	const char *name, *email, *phone, *user, *participant, *out, *head;
	long count, seed;
	const char *kommuner[32];
	size_t nkommuner;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Bruk: jsr-server KOMMANDO [VALG]\n\n"
		"Sentralserveren i jobbsjanse.\n\n"
		"Kommandoer:\n"
		"  init --data MAPPE [--admin NAVN]    lag lageret, nøklene og den første IMDi-administratoren\n"
		"                                      (passord fra ledetekst eller JSR_ADMIN_PASSWORD)\n"
		"  run --data MAPPE [--listen VERT:PORT] [--config FIL]\n"
		"                                      start serveren\n"
		"  user add --data MAPPE --username NAVN --role ROLLE --kommune NNNN [--kommune ...]\n"
		"                                      legg til en bruker (passord fra ledetekst eller JSR_PASSWORD)\n"
		"  hash --data MAPPE --kommune NNNN    innholdssjekksum for en kommunes deltakerdata\n"
		"  fingerprint --data MAPPE            serverens nøkkelfingeravtrykk\n"
		"  admin invite --data MAPPE --name NAVN --email E --phone TLF --role ROLLE [--kommune NNNN]\n"
		"  admin resend|deactivate --data MAPPE --user BRUKER\n"
		"  admin users --data MAPPE           brukere og invitasjoner\n"
		"  audit verify --data MAPPE [--head NR:SJEKKSUM]\n"
		"                                      kontroller at revisjonsloggen er urørt (og har\n"
		"                                      hodet som serverloggen viser)\n"
		"  audit show --data MAPPE --participant ID\n"
		"                                      hvem har sett eller endret denne deltakeren\n"
		"  mail flush --data MAPPE             send e-post som venter\n"
		"  status --data MAPPE                 Folkeregister-oppslag og varsler for driften\n"
		"  freg generate (--data MAPPE | --out FIL) [--count N] [--seed S]\n"
		"                                      lag et syntetisk folkeregister (personer med testnumre)\n"
		"  config [--config FIL]               alle innstillinger med forklaring\n\n"
		"Roller: imdi_admin, kommune_admin, kommune_user, imdi_analyst.\n"
		"Avslutningskoder: 0 utført, 1 avvist, 2 feil bruk, 3 feil.\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"data", required_argument, 0, 'd'},   {"config", required_argument, 0, 'c'},
		{"listen", required_argument, 0, 'l'}, {"username", required_argument, 0, 'u'},
		{"role", required_argument, 0, 'r'},   {"kommune", required_argument, 0, 'k'},
		{"admin", required_argument, 0, 'a'},  {"help", no_argument, 0, 'h'},
		{"name", required_argument, 0, 'N'},   {"email", required_argument, 0, 'E'},
		{"phone", required_argument, 0, 'P'},  {"user", required_argument, 0, 'U'},
		{"participant", required_argument, 0, 'I'},
		{"count", required_argument, 0, 'n'},  {"seed", required_argument, 0, 'S'},
		{"out", required_argument, 0, 'o'},    {"head", required_argument, 0, 'H'},
		{0, 0, 0, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'c': o->config = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'u': o->username = optarg; break;
		case 'r': o->role = optarg; break;
		case 'a': o->admin = optarg; break;
		case 'N': o->name = optarg; break;
		case 'E': o->email = optarg; break;
		case 'P': o->phone = optarg; break;
		case 'U': o->user = optarg; break;
		case 'I': o->participant = optarg; break;
		case 'o': o->out = optarg; break;
		case 'H': o->head = optarg; break;
		case 'n':
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 0)
				return USAGE;
			*(c == 'n' ? &o->count : &o->seed) = v;
			break;
		}
		case 'k':
			if (o->nkommuner == 32)
				return USAGE;
			o->kommuner[o->nkommuner++] = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(OK);
		default:
			return USAGE;
		}
	}
	return optind == argc ? OK : USAGE;
}

static void path_in(char *out, size_t n, const char *dir, const char *file)
{
	snprintf(out, n, "%s/%s", dir, file);
}

static int load_config(const struct opts *o)
{
	struct sh_reason why = {{0}};
	char auto_conf[4096];
	const char *file = o->config;
	struct stat sb;

	if (!file && o->data) {
		path_in(auto_conf, sizeof(auto_conf), o->data, "jsr-server.conf");
		if (stat(auto_conf, &sb) == 0)
			file = auto_conf;
	}
	if (sh_config_init(server_keys, file, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return USAGE;
	}
	sh_log_init("jsr-server");
	return OK;
}

/* --data names a folder made by init (OK), or says what is wrong. */
static int data_ready(const struct opts *o)
{
	char path[4096];
	struct stat sb;

	if (!o->data) {
		fprintf(stderr, "jsr-server: oppgi --data MAPPE.\n");
		return USAGE;
	}
	path_in(path, sizeof(path), o->data, "store.db");
	if (stat(path, &sb) != 0) {
		fprintf(stderr, "jsr-server: %s er ikke satt opp; kjør «jsr-server init --data %s» først.\n",
			o->data, o->data);
		return REFUSED;
	}
	return OK;
}

static int open_store(const struct opts *o, struct ss_store **s)
{
	char path[4096];
	struct sh_reason why = {{0}};
	int rc = data_ready(o);

	if (rc != OK)
		return rc;
	path_in(path, sizeof(path), o->data, "store.db");
	if (ss_store_open(path, s, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return FAILED;
	}
	return OK;
}

/* Adds a user inside its own transaction; password from env or prompt. */
static int add_user(struct ss_store *s, const char *username, const char *role,
		    const char *const *kommuner, size_t n, const char *env)
{
	struct sh_reason why = {{0}};
	char password[513], *hash = NULL, secret[40];
	int64_t id;
	int rc;

	if (sh_read_password("Passord for den nye brukeren: ", env, true, password, sizeof(password),
			     &why) != SH_OK ||
	    ss_password_choose_ok(password, username, NULL, (int)sh_config_int("password_min_bits"), &why) !=
		    SH_OK) {
		sodium_memzero(password, sizeof(password));
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return REFUSED;
	}
	rc = ss_password_hash(password, &hash);
	sodium_memzero(password, sizeof(password));
	if (rc != SH_OK)
		return FAILED;
	rc = ss_begin(s);
	if (rc == SH_OK)
		rc = ss_user_add(s, username, role, kommuner, n, hash, &id, &why);
	if (rc == SH_OK)
		rc = ss_user_set_totp(s, id, secret);
	if (rc == SH_OK)
		rc = ss_commit(s);
	else
		ss_rollback(s);
	sh_free(hash);
	if (rc == SH_OK) {
		char *uri = sh_totp_uri("Jobbsjansen", username, secret);

		printf("Engangskoder (tofaktor) for %s: legg inn nøkkelen %s i kodeappen,\n"
		       "eller åpne %s\n", username, secret, uri ? uri : "");
		sh_free(uri);
	}
	sodium_memzero(secret, sizeof(secret));
	if (rc != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text[0] ? why.text : sh_err_user(rc));
		return rc == SH_ERR_CONFLICT ? REFUSED : FAILED;
	}
	return OK;
}

static int cmd_init(struct opts *o)
{
	char path[4096], fpr[SH_FPR_LEN + 1];
	struct sh_reason why = {{0}};
	struct sh_keys *keys = NULL;
	struct ss_store *s = NULL;
	struct stat sb;
	const char *admin = o->admin ? o->admin : "admin";
	int rc;

	if (!o->data)
		return USAGE;
	if (!ss_username_ok(admin)) {
		fprintf(stderr, "jsr-server: ugyldig brukernavn «%s» (a–z, 0–9, . - _).\n", sh_text_echo(admin));
		return USAGE;
	}
	if (mkdir(o->data, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "jsr-server: kan ikke lage %s: %s\n", o->data, strerror(errno));
		return FAILED;
	}
	path_in(path, sizeof(path), o->data, "server.key");
	if (stat(path, &sb) == 0) {
		fprintf(stderr, "jsr-server: %s er allerede satt opp.\n", o->data);
		return REFUSED;
	}
	path_in(path, sizeof(path), o->data, "store.db");
	if (ss_store_open(path, &s, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return FAILED;
	}
	rc = add_user(s, admin, "imdi_admin", NULL, 0, "JSR_ADMIN_PASSWORD");
	if (rc == OK && (sh_keys_generate(&keys) != SH_OK ||
			 (path_in(path, sizeof(path), o->data, "server.key"),
			  sh_keys_save(path, keys, &why) != SH_OK))) {
		fprintf(stderr, "jsr-server: %s\n", why.text[0] ? why.text : "kunne ikke lage nøklene.");
		rc = FAILED;
	}
	if (rc == OK) {
		/* the embedded register of the default backend: synthetic persons to find */
		path_in(path, sizeof(path), o->data, "freg.csv");
		if (ss_register_generate(sh_config_str("codes_dir"), path, 2000, 1, &why) != SH_OK)
			fprintf(stderr, "jsr-server: %s (lag det med «jsr-server freg generate»)\n", why.text);
	}
	if (rc == OK) {
		sh_fingerprint(keys->kx_pk, keys->sign_pk, fpr);
		printf("Serveren er satt opp i %s.\nIMDi-administrator: %s\nFingeravtrykk: %s\n"
		       "Saksbehandlere oppgir fingeravtrykket ved «jsr login --server-key».\n"
		       "Syntetisk folkeregister (freg_backend = local): %s/freg.csv, 2000 personer.\n",
		       o->data, admin, fpr, o->data);
	}
	sh_keys_free(keys);
	ss_store_close(s);
	return rc;
}

static int load_keys(const struct opts *o, struct sh_keys **keys)
{
	char path[4096];
	struct sh_reason why = {{0}};
	int rc = data_ready(o);

	if (rc != OK)
		return rc;
	path_in(path, sizeof(path), o->data, "server.key");
	if (sh_keys_load(path, keys, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return FAILED;
	}
	return OK;
}

static int cmd_fingerprint(struct opts *o)
{
	struct sh_keys *keys;
	char fpr[SH_FPR_LEN + 1];
	int rc;

	if (!o->data)
		return USAGE;
	if ((rc = load_keys(o, &keys)) != OK)
		return rc;
	sh_fingerprint(keys->kx_pk, keys->sign_pk, fpr);
	printf("%s\n", fpr);
	sh_keys_free(keys);
	return OK;
}

static int cmd_user_add(struct opts *o)
{
	struct ss_store *s;
	int rc;

	if (!o->username || !o->role)
		return USAGE;
	if (!ss_username_ok(o->username)) {
		fprintf(stderr, "jsr-server: ugyldig brukernavn (2–64 tegn: a–z, 0–9, . - _).\n");
		return REFUSED;
	}
	if (!ss_role_label(o->role)) {
		fprintf(stderr, "jsr-server: ukjent rolle «%s».\n", sh_text_echo(o->role));
		return REFUSED;
	}
	if (ss_role_kommune(o->role) != (o->nkommuner > 0)) {
		fprintf(stderr, "jsr-server: %s\n", o->nkommuner ? "IMDi-roller har ingen kommune."
								 : "oppgi minst én --kommune for kommuneroller.");
		return REFUSED;
	}
	{
		struct sh_domain *d;
		struct sh_reason why = {{0}};

		if (sh_domain_load_default(&d, &why) != SH_OK) {
			fprintf(stderr, "jsr-server: %s\n", why.text);
			return FAILED;
		}
		for (size_t i = 0; i < o->nkommuner; i++) {
			char norm[SH_VALUE_MAX + 1];

			if (sh_field_check_value(d, sh_field(SH_F_KOMMUNE), o->kommuner[i], norm, &why) != SH_OK) {
				fprintf(stderr, "jsr-server: %s\n", why.text);
				sh_domain_free(d);
				return REFUSED;
			}
		}
		sh_domain_free(d);
	}
	if ((rc = open_store(o, &s)) != OK)
		return rc;
	rc = add_user(s, o->username, o->role, o->kommuner, o->nkommuner, "JSR_PASSWORD");
	if (rc == OK)
		printf("Brukeren %s (%s) er lagt til.\n", o->username, o->role);
	ss_store_close(s);
	return rc;
}

static int cmd_hash(struct opts *o)
{
	struct ss_store *s;
	char h[65];
	int rc;

	if (o->nkommuner != 1)
		return USAGE;
	if ((rc = open_store(o, &s)) != OK)
		return rc;
	rc = ss_content_hash(s, o->kommuner[0], h) == SH_OK ? OK : FAILED;
	if (rc == OK)
		printf("%s\n", h);
	ss_store_close(s);
	return rc;
}

static void access_cfg(struct ss_access_cfg *a, const struct sh_domain *d)
{
	memset(a, 0, sizeof(*a));
	a->domain = d;
	a->require_totp = sh_config_bool("require_totp");
	a->lockout_threshold = (int)sh_config_int("lockout_threshold");
	a->lockout_base_ms = sh_config_int("lockout_base_s") * 1000;
	a->address_threshold = (int)sh_config_int("address_threshold");
	a->invite_ttl_ms = sh_config_int("invite_ttl_s") * 1000;
	a->password_min_bits = (int)sh_config_int("password_min_bits");
	a->base_url = sh_config_str("public_url");
}

static void spool_dir(const struct opts *o, char *out, size_t n)
{
	const char *c = sh_config_str("mail_spool");

	if (c && *c)
		snprintf(out, n, "%s", c);
	else
		path_in(out, n, o->data, "mail-spool");
}

/*
 * Delivers waiting mail now. After commands that queue some, only what is
 * due; «mail flush» (all) also what waits for a retry. 0 when nothing is left.
 */
static int flush_mail(const struct opts *o, bool all)
{
	char db[4096], spool[4096];
	int sent = 0, failed = 0, total_sent = 0, rc = data_ready(o);

	if (rc != OK)
		return rc;
	path_in(db, sizeof(db), o->data, "store.db");
	spool_dir(o, spool, sizeof(spool));
	do {
		rc = ss_mail_deliver(db, spool, sh_config_str("sendmail"), sh_config_str("mail_from"), all, &sent,
				     &failed);
		total_sent += sent;
	} while (rc == SH_OK && all && sent > 0 && sent + failed >= 100);
	if (rc != SH_OK) {
		fprintf(stderr, "jsr-server: e-postkøen kunne ikke leses.\n");
		return FAILED;
	}
	if (total_sent || failed)
		printf("E-post: %d sendt, %d venter på nytt forsøk%s.\n", total_sent, failed,
		       failed ? " (se loggen for feilen)" : "");
	else if (all)
		printf("Ingen e-post venter.\n");
	return failed ? REFUSED : OK;
}

static int cmd_admin(struct opts *o, const char *op)
{
	struct ss_access_cfg a;
	struct ss_user by;
	struct sh_domain *d = NULL;
	struct sh_keys *keys = NULL;
	struct ss_store *s = NULL;
	struct sh_reason why = {{0}};
	struct sh_buf out;
	int64_t uid = 0;
	int rc;

	if (!o->data)
		return USAGE;
	if (strcmp(op, "invite") == 0 ? (!o->name || !o->email || !o->phone || !o->role || o->nkommuner > 1)
				      : strcmp(op, "users") != 0 && !o->user)
		return USAGE;
	if ((rc = load_keys(o, &keys)) != OK)
		return rc;
	ss_audit_key(keys->sign_sk);
	sh_keys_free(keys);
	if (sh_domain_load_default(&d, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return FAILED;
	}
	if ((rc = open_store(o, &s)) != OK) {
		sh_domain_free(d);
		return rc;
	}
	access_cfg(&a, d);
	if (!a.base_url)
		a.base_url = "http://127.0.0.1:8443";
	ss_system_admin(&by);
	sh_buf_init(&out, (size_t)1 << 24);
	rc = ss_begin(s);
	if (rc == SH_OK && strcmp(op, "invite") == 0)
		rc = ss_invite(s, &a, &by, o->name, o->email, o->phone, o->nkommuner ? o->kommuner[0] : NULL,
			       o->role, &uid, &why);
	else if (rc == SH_OK && strcmp(op, "resend") == 0)
		rc = ss_resend(s, &a, &by, o->user, &why);
	else if (rc == SH_OK && strcmp(op, "deactivate") == 0)
		rc = ss_deactivate(s, &by, o->user, &uid, &why);
	else if (rc == SH_OK && strcmp(op, "users") == 0)
		rc = ss_users_json(s, &by, &out);
	else if (rc == SH_OK)
		rc = SH_ERR_USAGE;
	if (rc == SH_OK)
		rc = ss_commit(s);
	else
		ss_rollback(s);
	if (rc == SH_OK) {
		if (strcmp(op, "users") == 0)
			printf("%s\n", out.data);
		else if (strcmp(op, "invite") == 0)
			printf("Invitasjonen er laget (bruker nr. %lld).\n", (long long)uid);
		else
			printf("Utført.\n");
		if (strcmp(op, "deactivate") == 0)
			printf("Øktene er trukket tilbake. Maskinene får beskjed om å slette replikaen når de "
			       "kobler til.\n");
		(void)flush_mail(o, false);
	} else if (rc != SH_ERR_USAGE) {
		fprintf(stderr, "jsr-server: %s\n", why.text[0] ? why.text : sh_err_user(rc));
	}
	sh_buf_free(&out);
	ss_store_close(s);
	sh_domain_free(d);
	return rc == SH_OK ? OK : rc == SH_ERR_USAGE ? USAGE : (rc == SH_ERR_DB ? FAILED : REFUSED);
}

static int audit_row(const struct ss_audit_row *r, void *arg)
{
	static const char *const actions[][2] = {
		{"login", "innlogging"}, {"login_failed", "mislykket innlogging"}, {"read", "lest"},
		{"write", "endret"}, {"admin", "administrasjon"}, {"wipe", "sletting"},
		{"activate", "aktivering"}, {"export", "uttrekk"}, {"lookup", "oppslag"}};
	const char *action = r->action;
	char when[40];
	time_t t = (time_t)(r->at / 1000);
	struct tm tm;

	(void)arg;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	for (size_t i = 0; i < sizeof(actions) / sizeof(*actions); i++)
		if (strcmp(action, actions[i][0]) == 0)
			action = actions[i][1];
	printf("%6lld  %s  %-16s %-15s %-8.8s  %s\n", (long long)r->id, when, r->actor, action,
	       r->device, r->detail);
	return 0;
}

static int cmd_audit(struct opts *o, const char *op)
{
	struct sh_keys *keys = NULL;
	struct ss_store *s = NULL;
	struct sh_reason why = {{0}};
	int64_t count, bad;
	int rc;

	if (!o->data || (strcmp(op, "show") == 0 && !o->participant))
		return USAGE;
	if ((rc = load_keys(o, &keys)) != OK)
		return rc;
	ss_audit_key(keys->sign_sk);
	sh_keys_free(keys);
	if ((rc = open_store(o, &s)) != OK)
		return rc;
	if (strcmp(op, "verify") == 0) {
		rc = ss_audit_verify(s, &count, &bad, &why);
		if (rc == SH_OK && o->head)
			rc = ss_audit_check_head(s, o->head, &bad, &why);
		if (rc == SH_OK)
			printf("Revisjonsloggen er hel: %lld innslag, kjeden stemmer%s.\n", (long long)count,
			       o->head ? " og har hodet fra serverloggen" : "");
		else if (rc == SH_ERR_USAGE)
			fprintf(stderr, "jsr-server: %s\n", why.text);
		else
			printf("Revisjonsloggen er BRUTT ved innslag nr. %lld: %s\n", (long long)bad, why.text);
		rc = rc == SH_OK ? OK : rc == SH_ERR_CONFLICT ? REFUSED : rc == SH_ERR_USAGE ? USAGE : FAILED;
	} else if (strcmp(op, "show") == 0) {
		if (!sh_id_valid(o->participant)) {
			fprintf(stderr, "jsr-server: oppgi deltakerens id (32 tegn).\n");
			rc = USAGE;
		} else {
			printf("Hvem har sett eller endret deltaker %s:\n", o->participant);
			rc = ss_audit_about(s, o->participant, audit_row, NULL) == SH_OK ? OK : FAILED;
		}
	} else {
		rc = USAGE;
	}
	ss_store_close(s);
	return rc;
}

static void print_line(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

static int cmd_freg_generate(struct opts *o)
{
	struct sh_reason why = {{0}};
	char path[4096];
	long count = o->count ? o->count : 1000;

	if (o->out)
		snprintf(path, sizeof(path), "%s", o->out);
	else if (o->data)
		path_in(path, sizeof(path), o->data, "freg.csv");
	else
		return USAGE;
	if (count < 1 || count > SS_FREG_PERSONS_MAX) {
		fprintf(stderr, "jsr-server: --count må være mellom 1 og " SS_FREG_PERSONS_MAX_TEXT ".\n");
		return USAGE;
	}
	if (ss_register_generate(sh_config_str("codes_dir"), path, (unsigned)count,
				 (uint64_t)(o->seed ? o->seed : 1), &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		return FAILED;
	}
	printf("Syntetisk folkeregister med %ld personer skrevet til %s.\n", count, path);
	return OK;
}

/* For the operator: the lookups and any alert. Exit 1 while there is an alert. */
static int cmd_status(struct opts *o)
{
	static const char *const states[][2] = {
		{"pending", "venter"}, {"found", "hentet"}, {"not_found", "ikke funnet"},
		{"failed", "feilet"}, {"cancelled", "avbrutt"}};
	struct ss_store *s = NULL;
	sqlite3_stmt *st;
	char alert[512] = "";
	long long retrying = 0, oldest = 0;
	int rc;

	if (!o->data)
		return USAGE;
	if ((rc = open_store(o, &s)) != OK)
		return rc;
	printf("Folkeregister-oppslag (freg_backend = %s):\n", sh_config_str("freg_backend"));
	for (size_t i = 0; i < sizeof(states) / sizeof(*states); i++) {
		long long n = 0;

		if (sqlite3_prepare_v2(ss_store_db(s), "SELECT count(*) FROM lookup_job WHERE state = ?1", -1, &st,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, states[i][0], -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				n = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		printf("  %-12s %lld\n", states[i][1], n);
	}
	if (sqlite3_prepare_v2(ss_store_db(s), "SELECT count(*) FILTER (WHERE attempts > 0), coalesce(min(created), 0) "
					       "FROM lookup_job WHERE state = 'pending'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			retrying = sqlite3_column_int64(st, 0);
			oldest = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	if (retrying)
		printf("  %lld av de ventende har feilet minst én gang og prøves igjen.\n", retrying);
	if (oldest)
		printf("  Eldste ventende oppslag er %lld minutter gammelt.\n",
		       ((long long)sh_wall_ms() - oldest) / 60000);
	ss_lk_alert_get(s, alert, sizeof(alert));
	ss_store_close(s);
	if (alert[0]) {
		printf("VARSEL: %s\n", alert);
		return REFUSED;
	}
	printf("Ingen varsler.\n");
	return OK;
}

static int cmd_run(struct opts *o)
{
	struct ss_net_cfg cfg;
	struct sh_reason why = {{0}};
	struct sh_domain *d = NULL;
	struct sh_keys *keys = NULL;
	struct ss_store *s = NULL;
	const char *listen = o->listen ? o->listen : sh_config_str("listen");
	char host[256];
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;
	int rc;

	if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
	    (port = strtol(colon + 1, &end, 10), *end || port < 0 || port > 65535)) {
		fprintf(stderr, "jsr-server: --listen må være VERT:PORT, ikke «%s».\n", sh_text_echo(listen));
		return USAGE;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
	if ((rc = load_keys(o, &keys)) != OK)
		return rc;
	if (sh_domain_load_default(&d, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		sh_keys_free(keys);
		return FAILED;
	}
	if ((rc = open_store(o, &s)) != OK) {
		sh_keys_free(keys);
		sh_domain_free(d);
		return rc;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = host;
	cfg.port = (int)port;
	cfg.tls_cert = sh_config_str("tls_cert");
	cfg.tls_key = sh_config_str("tls_key");
	cfg.max_message = (size_t)sh_config_int("max_message_bytes");
	{
		char reg[4096], tok[4096];
		struct ss_lookup_cfg lc = {
			.backend = sh_config_str("freg_backend"), .url = sh_config_str("freg_url"),
			.ca_file = sh_config_str("freg_ca_file"), .rate = (double)sh_config_int("freg_rate"),
			.concurrency = (int)sh_config_int("freg_concurrency"),
			.timeout_ms = (int)sh_config_int("freg_timeout_ms"),
			.max_backoff_s = (int)sh_config_int("freg_max_backoff_s"),
			.breaker_failures = (int)sh_config_int("freg_breaker_failures"),
			.breaker_open_s = (int)sh_config_int("freg_breaker_open_s"),
			.probe_s = (int)sh_config_int("freg_probe_s"),
			.malformed_max = (int)sh_config_int("freg_malformed_max")};

		path_in(reg, sizeof(reg), o->data, "freg.csv");
		path_in(tok, sizeof(tok), o->data, "freg.token");
		lc.register_path = sh_config_str("freg_file") ? sh_config_str("freg_file") : reg;
		lc.token_file = sh_config_str("freg_token_file") ? sh_config_str("freg_token_file") : tok;
		ss_net_log_init();
		if (ss_lookup_start(&lc, &cfg.worker.lookup, &why) != SH_OK) {
			fprintf(stderr, "jsr-server: %s\n", why.text);
			ss_store_close(s);
			sh_keys_free(keys);
			sh_domain_free(d);
			return USAGE;
		}
	}
	cfg.worker.store = s; /* the worker owns it from here */
	cfg.worker.domain = d;
	cfg.worker.keys = keys;
	cfg.worker.session_ttl_ms = sh_config_int("session_ttl_s") * 1000;
	cfg.worker.session_idle_ms = sh_config_int("session_idle_s") * 1000;
	cfg.worker.page_limit = (size_t)sh_config_int("pull_page_limit");
	cfg.worker.audit_anchor_s = (int)sh_config_int("audit_anchor_s");
	access_cfg(&cfg.worker.access, d);
	ss_audit_key(keys->sign_sk);
	{
		char db[4096], spool[4096];

		path_in(db, sizeof(db), o->data, "store.db");
		spool_dir(o, spool, sizeof(spool));
		if (ss_mailer_start(db, spool, sh_config_str("sendmail"), sh_config_str("mail_from"),
				    &cfg.worker.mailer) != SH_OK)
			sh_log_error("mail: could not start the mailer");
	}
	if (cfg.worker.page_limit < 1 || cfg.worker.page_limit > SH_PAGE_MAX)
		cfg.worker.page_limit = 5000;
	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL)) {
		fprintf(stderr, "jsr-server: tls_cert og tls_key må settes sammen.\n");
		rc = USAGE;
	} else if (ss_net_run(&cfg, &why) != SH_OK) {
		fprintf(stderr, "jsr-server: %s\n", why.text);
		rc = FAILED;
	}
	ss_mailer_stop(cfg.worker.mailer);
	sh_keys_free(keys);
	sh_domain_free(d);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc, skip;

	memset(&o, 0, sizeof(o));
	if (sodium_init() < 0) {
		fprintf(stderr, "jsr-server: libsodium kunne ikke starte.\n");
		return FAILED;
	}
	sh_alloc_hook_cjson();
	if (argc < 2) {
		usage(stderr);
		return USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return OK;
	}
	skip = ((strcmp(argv[1], "user") == 0 || strcmp(argv[1], "admin") == 0 ||
		 strcmp(argv[1], "audit") == 0 || strcmp(argv[1], "mail") == 0 || strcmp(argv[1], "freg") == 0) &&
		argc > 2) ? 2 : 1;
	if (parse(argc - skip, argv + skip, &o) != OK) {
		usage(stderr);
		return USAGE;
	}
	if ((rc = load_config(&o)) != OK)
		return rc;
	if (strcmp(argv[1], "init") == 0)
		rc = cmd_init(&o);
	else if (strcmp(argv[1], "run") == 0)
		rc = o.data ? cmd_run(&o) : USAGE;
	else if (strcmp(argv[1], "user") == 0 && argc > 2 && strcmp(argv[2], "add") == 0)
		rc = cmd_user_add(&o);
	else if (strcmp(argv[1], "admin") == 0 && argc > 2)
		rc = cmd_admin(&o, argv[2]);
	else if (strcmp(argv[1], "audit") == 0 && argc > 2)
		rc = cmd_audit(&o, argv[2]);
	else if (strcmp(argv[1], "mail") == 0 && argc > 2 && strcmp(argv[2], "flush") == 0)
		rc = o.data ? flush_mail(&o, true) : USAGE;
	else if (strcmp(argv[1], "hash") == 0)
		rc = cmd_hash(&o);
	else if (strcmp(argv[1], "status") == 0)
		rc = cmd_status(&o);
	else if (strcmp(argv[1], "freg") == 0 && argc > 2 && strcmp(argv[2], "generate") == 0)
		rc = cmd_freg_generate(&o);
	else if (strcmp(argv[1], "fingerprint") == 0)
		rc = cmd_fingerprint(&o);
	else if (strcmp(argv[1], "config") == 0) {
		sh_config_describe(print_line, NULL);
		rc = OK;
	} else {
		fprintf(stderr, "jsr-server: ukjent kommando «%s».\n", sh_text_echo(argv[1]));
		rc = USAGE;
	}
	if (rc == USAGE)
		usage(stderr);
	sh_config_reset();
	return rc;
}
