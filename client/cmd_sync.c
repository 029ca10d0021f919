/*
 * cmd_sync.c: jsr login, sync, daemon, status, conflicts, resolve, hash:
 * everything that involves the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "hlc.h"
#include "prompt.h"
#include "sync.h"
#include "sync_store.h"
#include "text.h"

enum { S_LOGIN, S_SYNC, S_DAEMON, S_STATUS, S_CONFLICTS, S_RESOLVE, S_HASH, S_UNLOCK, S_LOCK };


/*
 * Overwrites a file with zeros before it is unlinked, so that the blocks a
 * replica held do not keep personal data on a disk that is reused in place
 * (a copy-on-write or flash disk may still keep old blocks: full-disk
 * encryption is what protects a lost laptop; see README).
 */
static int shred(const char *path)
{
	static const char zeros[65536];
	struct stat sb;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), ok = 1;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		for (off_t done = 0; ok && done < sb.st_size;) {
			size_t n = (size_t)(sb.st_size - done) < sizeof(zeros) ? (size_t)(sb.st_size - done)
									       : sizeof(zeros);
			ssize_t w = pwrite(fd, zeros, n, done);

			ok = w > 0;
			done += w > 0 ? w : 0;
		}
		ok = ok && fsync(fd) == 0;
	}
	close(fd);
	return unlink(path) == 0 && ok ? 0 : -1;
}

/*
 * The server told us (in a box only it can seal) that the user is
 * deactivated: what was made before went out; now the replica goes.
 */
static int wipe(struct cli *c, const struct sc_sync_result *res)
{
	static const char *const files[] = {"replica.db", "replica.db-wal", "replica.db-shm", "device.key"};
	char dir[4096], path[4200];
	int failed = 0;

	snprintf(dir, sizeof(dir), "%s", sc_replica_dir(c->replica));
	sc_replica_close(c->replica);
	c->replica = NULL;
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (shred(path) != 0)
			failed++;
	}
	(void)rmdir(dir);
	cli_err("%s", res->why.text);
	if (failed)
		cli_err("noen filer i %s kunne ikke slettes; slett mappen for hånd.", dir);
	return CLI_LOGIN;
}

static const char *ca_file(void) { return sh_config_str("ca_file"); }

static int run_login(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, 0, 's'}, {"server-key", required_argument, 0, 'k'},
		{"user", required_argument, 0, 'u'},   {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_sync[S_LOGIN];
	struct sc_sync_opts so = {.mode = SC_SYNC_LOGIN, .timeout_s = 30};
	struct sc_sync_result res;
	struct sh_reason why = {{0}};
	char password[513], *known = NULL, *pinned = NULL, *url = NULL, totp[16];
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': so.url = optarg; break;
		case 'k': so.server_key = optarg; break;
		case 'u': so.user = optarg; break;
		case 'h':
			return cli_help(cmd, "Registrerer maskinen hos serveren og husker serverens nøkkel.\n"
					     "Fingeravtrykket får du av den som drifter serveren (jsr-server init).\n"
					     "Passordet leses fra ledeteksten, eller fra JSR_PASSWORD i skript.\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (optind != argc || !so.user)
		return cli_usage(cmd, "oppgi --user");
	c->allow_locked = true;
	if (!cli_replica(c))
		return CLI_FAILED;
	/* the replica belongs to one user on one server */
	if (sc_meta_get(c->replica, "user", &known) == SH_OK && known && strcmp(known, so.user) != 0) {
		cli_err("denne datamappen tilhører brukeren %s. Bruk en egen datamappe (--data) for %s.",
			known, sh_text_echo(so.user));
		sh_free(known);
		return CLI_REFUSED;
	}
	sh_free(known);
	(void)!sc_meta_get(c->replica, "server_fpr", &pinned);
	(void)!sc_meta_get(c->replica, "server_url", &url);
	if (!so.url)
		so.url = url;
	if (!so.server_key)
		so.server_key = pinned;
	if (!so.url || !so.server_key) {
		sh_free(pinned);
		sh_free(url);
		return cli_usage(cmd, "oppgi --server og --server-key første gang");
	}
	if (url && strcmp(url, so.url) != 0) {
		cli_err("denne datamappen hører til serveren %s. Bruk en egen datamappe for en annen server.", url);
		sh_free(pinned);
		sh_free(url);
		return CLI_REFUSED;
	}
	if (sh_read_password("Passord: ", "JSR_PASSWORD", false, password, sizeof(password), &why) != SH_OK) {
		cli_err("%s", why.text);
		sh_free(pinned);
		sh_free(url);
		return CLI_REFUSED;
	}
	so.password = password;
	so.ca_file = ca_file();
	/* the second factor: JSR_TOTP in scripts, else asked at a terminal */
	if (getenv("JSR_TOTP") && *getenv("JSR_TOTP")) {
		so.totp = getenv("JSR_TOTP");
	} else if (isatty(0)) {
		fprintf(stderr, "Engangskode fra kodeappen (6 sifre): ");
		if (fgets(totp, sizeof(totp), stdin)) {
			totp[strcspn(totp, "\r\n")] = '\0';
			so.totp = totp;
		}
	}
	rc = sc_sync_run(c->replica, &so, &res);
	if (rc == SH_OK && res.status == SC_SYNC_OK && cli_unlock_until(c, password) != SH_OK)
		cli_err("kunne ikke lagre opplåsingen for bruk uten nett.");
	sodium_memzero(password, sizeof(password));
	sh_free(pinned);
	sh_free(url);
	if (rc != SH_OK)
		return CLI_FAILED;
	if (res.status != SC_SYNC_OK) {
		cli_err("%s", res.why.text);
		return res.status == SC_SYNC_OFFLINE ? CLI_FAILED : CLI_REFUSED;
	}
	printf("Logget inn som %s (%s, kommune %s).\nServerens fingeravtrykk: %s\n"
	       "Synkroniser med «jsr sync», eller hold forbindelsen med «jsr daemon».\n",
	       res.user, res.role_label, res.kommuner[0] ? res.kommuner : "–", res.fingerprint);
	return CLI_OK;
}

static void report(const struct sc_sync_result *res)
{
	if (res->changesets)
		printf("Sendt: %zu endringssett (%zu lagret, %zu allerede der, %zu %s, %zu avvist). ",
		       res->changesets, res->applied, res->superseded, res->conflicts,
		       res->conflicts == 1 ? "konflikt" : "konflikter", res->rejected);
	else
		printf("Ingenting å sende. ");
	if (res->pulled || res->kept)
		printf("Hentet: %zu %s på %zu %s%s.\n", res->pulled, res->pulled == 1 ? "verdi" : "verdier",
		       res->pages, res->pages == 1 ? "side" : "sider",
		       res->kept ? " (noen holdt tilbake for lokale endringer)" : "");
	else
		printf("Ingenting nytt fra serveren.\n");
	if (res->lookups)
		printf("Navneoppslag: spurte om %zu, fikk svar om %zu.\n", res->lookups, res->lookup_states);
}

static int run_sync(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, 0, 't'}, {"json", no_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_sync[S_SYNC];
	struct sc_sync_opts so = {.mode = SC_SYNC_ONCE, .timeout_s = 60};
	struct sc_sync_result res;
	bool json = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 't':
			so.timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || so.timeout_s < 1 || so.timeout_s > 86400)
				return cli_usage(cmd, "--timeout må være 1–86400 sekunder");
			break;
		case 'j': json = true; break;
		case 'h':
			return cli_help(cmd, "Én runde: sender alle endringer, henter alt nytt.\n"
					     "Avslutningskoder: 0 synkronisert, 1 noen endringer avvist,\n"
					     "3 frakoblet, 4 må logge inn på nytt, 2 feil bruk.\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "uventet argument");
	c->allow_locked = true; /* the server decides: the session must be valid */
	if (!cli_replica(c))
		return CLI_FAILED;
	so.ca_file = ca_file();
	if (sc_sync_run(c->replica, &so, &res) != SH_OK)
		return CLI_FAILED;
	if (res.status == SC_SYNC_WIPED)
		return wipe(c, &res);
	if (json) {
		cJSON *j = cJSON_CreateObject();
		static const char *st[] = {"ok", "rejected", "login_needed", "offline", "failed"};

		cJSON_AddStringToObject(j, "status", st[res.status]);
		cJSON_AddNumberToObject(j, "changesets", (double)res.changesets);
		cJSON_AddNumberToObject(j, "applied", (double)res.applied);
		cJSON_AddNumberToObject(j, "superseded", (double)res.superseded);
		cJSON_AddNumberToObject(j, "conflicts", (double)res.conflicts);
		cJSON_AddNumberToObject(j, "rejected", (double)res.rejected);
		cJSON_AddNumberToObject(j, "lookups", (double)res.lookups);
		cJSON_AddNumberToObject(j, "lookup_states", (double)res.lookup_states);
		cJSON_AddNumberToObject(j, "pulled", (double)res.pulled);
		cJSON_AddNumberToObject(j, "pages", (double)res.pages);
		cJSON_AddStringToObject(j, "message", res.why.text);
		cli_print_json(j);
	} else if (res.status == SC_SYNC_OK || res.status == SC_SYNC_REJECTED) {
		report(&res);
		if (res.status == SC_SYNC_REJECTED)
			printf("Serveren avviste %zu %s; se «jsr list» og «jsr show ID». Verdiene er "
			       "beholdt her.\n", res.rejected, res.rejected == 1 ? "endring" : "endringer");
		else
			printf("Synkronisert.\n");
	} else {
		cli_err("%s", res.why.text);
	}
	return cli_sync_exit(res.status);
}

static void on_term(int sig)
{
	(void)sig;
	sc_sync_stop();
}

static int run_daemon(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_sync[S_DAEMON];
	struct sc_sync_opts so = {.mode = SC_SYNC_DAEMON};
	struct sc_sync_result res;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json,
				"Holder forbindelsen til serveren: sender hver endring straks den er lagret,\n"
				"henter det andre lagrer, og kobler til igjen når nettet kommer tilbake.\n"
				"Stopp med Ctrl-C.\n")) != CLI_CONTINUE)
		return rc;
	c->allow_locked = true;
	if (!cli_replica(c))
		return CLI_FAILED;
	signal(SIGINT, on_term);
	signal(SIGTERM, on_term);
	so.ca_file = ca_file();
	{
		char *url = NULL;

		/* announced only when there is a server to keep up with */
		if (sc_meta_get(c->replica, "server_url", &url) == SH_OK && url && *url)
			fprintf(stderr, "jsr: daemon startet mot %s (stopp med Ctrl-C).\n", url);
		sh_free(url);
	}
	if (sc_sync_run(c->replica, &so, &res) != SH_OK)
		return CLI_FAILED;
	if (res.status == SC_SYNC_WIPED)
		return wipe(c, &res);
	if (res.status != SC_SYNC_OK)
		cli_err("%s", res.why.text);
	return cli_sync_exit(res.status);
}

/* ---- status ------------------------------------------------------------------------ */

static long count(struct cli *c, const char *sql)
{
	sqlite3_stmt *st;
	long n = -1;

	if (sqlite3_prepare_v2(sc_replica_db(c->replica), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static char *meta(struct cli *c, const char *key)
{
	char *v = NULL;

	(void)!sc_meta_get(c->replica, key, &v);
	return v;
}

static int run_status(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"offline", no_argument, 0, 'o'}, {"json", no_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_sync[S_STATUS];
	struct sc_sync_opts so = {.mode = SC_SYNC_PROBE, .timeout_s = 3};
	struct sc_sync_result res = {0};
	bool json = false, probe = true, online = false;
	char *url, *user, *fpr, *session, *last, *kommuner;
	char when[64] = "aldri";
	long pending, rejected, drafts, conflicts;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'o')
			probe = false;
		else if (o == 'j')
			json = true;
		else if (o == 'h')
			return cli_help(cmd, "Uten --offline prøver kommandoen å nå serveren (høyst 3 s).\n");
		else
			return cli_usage(cmd, "ukjent valg");
	}
	c->allow_locked = true;
	if (!cli_replica(c))
		return CLI_FAILED;
	url = meta(c, "server_url");
	user = meta(c, "user");
	fpr = meta(c, "server_fpr");
	session = meta(c, "session");
	last = meta(c, "last_sync");
	kommuner = meta(c, "kommuner");
	pending = count(c, "SELECT coalesce(sum(n), 0) FROM outbox_entry");
	rejected = count(c, "SELECT count(*) FROM outbox_rejected");
	drafts = count(c, "SELECT count(*) FROM participant WHERE draft = 1");
	conflicts = count(c, "SELECT count(*) FROM conflict WHERE resolved = 0");
	if (probe && url) {
		so.ca_file = ca_file();
		if (sc_sync_run(c->replica, &so, &res) == SH_OK)
			online = res.status == SC_SYNC_OK;
	}
	if (last) {
		time_t t = (time_t)(strtoll(last, NULL, 10) / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%d.%m.%Y kl. %H:%M:%S", &tm);
	}
	if (json) {
		cJSON *j = cJSON_CreateObject();

#define OPT(k, v) ((v) ? cJSON_AddStringToObject(j, k, v) : cJSON_AddNullToObject(j, k))
		OPT("server", url);
		OPT("user", user);
		OPT("fingerprint", fpr);
		OPT("kommuner", kommuner);
#undef OPT
		cJSON_AddBoolToObject(j, "logged_in", session && strlen(session) == 64);
		if (probe && url)
			cJSON_AddBoolToObject(j, "online", online);
		else
			cJSON_AddNullToObject(j, "online");
		cJSON_AddNumberToObject(j, "pending", (double)pending);
		cJSON_AddNumberToObject(j, "rejected", (double)rejected);
		cJSON_AddNumberToObject(j, "drafts", (double)drafts);
		cJSON_AddNumberToObject(j, "conflicts", (double)conflicts);
		cJSON_AddNumberToObject(j, "cursor", (double)sc_cursor(c->replica));
		if (last)
			cJSON_AddNumberToObject(j, "last_sync", (double)strtoll(last, NULL, 10));
		else
			cJSON_AddNullToObject(j, "last_sync");
		cli_print_json(j);
	} else {
		printf("Server:            %s\n", url ? url : "ingen (ikke logget inn)");
		if (url) {
			printf("Tilkoblet:         %s\n", !probe ? "ikke sjekket" : online ? "ja" : "nei");
			printf("Fingeravtrykk:     %s\n", fpr ? fpr : "–");
			printf("Bruker:            %s (kommune %s)\n", user ? user : "–", kommuner ? kommuner : "–");
			printf("Innlogging:        %s\n", session && strlen(session) == 64
							   ? "gyldig her (serveren avgjør ved neste synkronisering)"
							   : "utløpt – logg inn på nytt med «jsr login»");
		}
		printf("Ikke synkronisert: %ld %s\n", pending, pending == 1 ? "endring" : "endringer");
		if (rejected)
			printf("Avvist av serveren: %ld %s (verdiene er beholdt her)\n", rejected,
			       rejected == 1 ? "endring" : "endringer");
		printf("Utkast:            %ld (blir bare her til de er fullført)\n", drafts);
		printf("Åpne konflikter:   %ld%s\n", conflicts, conflicts ? " (se «jsr conflicts»)" : "");
		printf("Sist synkronisert: %s\n", when);
	}
	sh_free(url);
	sh_free(user);
	sh_free(fpr);
	sh_free(session);
	sh_free(last);
	sh_free(kommuner);
	return CLI_OK;
}

/* ---- conflicts and resolve ---------------------------------------------------------------- */

static void hlc_text(uint64_t h, char *buf, size_t n)
{
	time_t t = (time_t)(sh_hlc_ms(h) / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, n, "%d.%m.%Y %H:%M", &tm);
}

static int conflict_row(const struct sc_conflict_row *k, void *arg)
{
	struct cli *c = ((void **)arg)[0];
	cJSON *arr = ((void **)arg)[1];
	size_t *shown = ((void **)arg)[2];
	const struct sh_field *f = k->field ? sh_field_by_name(k->field) : NULL;
	char a[SH_VALUE_MAX + 64], b[SH_VALUE_MAX + 64], ta[32], tb[32];

	if (!arr && (*shown)++ == 0)
		printf("Åpne konflikter:\n");
	if (arr) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddNumberToObject(j, "id", (double)k->id);
		cJSON_AddStringToObject(j, "kind", k->kind);
		cJSON_AddStringToObject(j, "participant", k->participant);
#define OPT(key, v) ((v) ? cJSON_AddStringToObject(j, key, v) : cJSON_AddNullToObject(j, key))
		OPT("field", k->field);
		OPT("row", k->row && k->row[0] ? k->row : NULL);
		OPT("winner", k->winner);
		OPT("loser", k->loser);
		OPT("winner_author", k->winner_author);
		OPT("loser_author", k->loser_author);
		OPT("other", k->other);
#undef OPT
		cJSON_AddBoolToObject(j, "resolved", k->resolved != 0);
		cJSON_AddItemToArray(arr, j);
		return 0;
	}
	if (strcmp(k->kind, "duplicate") == 0) {
		printf("#%lld  Dobbeltregistrering: %.8s og %.8s er samme person med overlappende "
		       "deltakelser.\n      Rett datoene, eller avgjør med «jsr resolve %.8s duplikat --keep».\n",
		       (long long)k->id, k->participant, k->other ? k->other : "?", k->participant);
		return 0;
	}
	if (!f)
		return 0;
	cli_value_text(c->domain, f, k->winner, a, sizeof(a));
	cli_value_text(c->domain, f, k->loser, b, sizeof(b));
	hlc_text(k->winner_hlc, ta, sizeof(ta));
	hlc_text(k->loser_hlc, tb, sizeof(tb));
	printf("#%lld  %.8s  %s: «%s» (%s, %s) vant over «%s» (%s, %s)%s\n", (long long)k->id,
	       k->participant, f->label, a, k->winner_author ? k->winner_author : "?", ta, b,
	       k->loser_author ? k->loser_author : "?", tb, k->resolved == 2 ? " – løst her, sendes" : "");
	return 0;
}

static int run_conflicts(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_sync[S_CONFLICTS];
	cJSON *arr = NULL;
	size_t shown = 0;
	void *arg[3] = {c, NULL, &shown};
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json,
				"Samtidige endringer av samme felt (verdien med senest tidsstempel vant)\n"
				"og personer registrert to ganger. Avgjør med «jsr resolve».\n")) != CLI_CONTINUE)
		return rc;
	if (!cli_replica(c))
		return CLI_FAILED;
	if (json)
		arr = cJSON_CreateArray();
	arg[1] = arr;
	if (sc_conflicts_each(c->replica, NULL, false, conflict_row, arg) != SH_OK) {
		cJSON_Delete(arr);
		return CLI_FAILED;
	}
	if (!json && !shown)
		printf("Ingen åpne konflikter.\n");
	return json ? cli_print_json(arr) : CLI_OK;
}

struct find_ctx {
	const char *field;
	int64_t ids[16];
	size_t n;
};

static int find_conflict(const struct sc_conflict_row *k, void *arg)
{
	struct find_ctx *fc = arg;
	bool dup = strcmp(fc->field, "duplikat") == 0;

	if (k->resolved == 0 && fc->n < 16 &&
	    (dup ? strcmp(k->kind, "duplicate") == 0 : (k->field && strcmp(k->field, fc->field) == 0)))
		fc->ids[fc->n++] = k->id;
	return 0;
}

static int run_resolve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"keep", no_argument, 0, 'k'}, {"value", required_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_sync[S_RESOLVE];
	struct find_ctx fc = {0};
	const char *value = NULL;
	bool keep = false;
	char id[SH_ID_LEN + 1];
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'k')
			keep = true;
		else if (o == 'v')
			value = optarg;
		else if (o == 'h')
			return cli_help(cmd, "--keep beholder verdien som vant; --value V lagrer V i stedet.\n"
					     "Begge deler synkroniseres som en vanlig endring.\n"
					     "FELT «duplikat» gjelder en dobbeltregistrering.\n");
		else
			return cli_usage(cmd, "ukjent valg");
	}
	if (argc - optind != 2 || keep == (value != NULL))
		return cli_usage(cmd, "oppgi ID FELT og enten --keep eller --value V");
	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, argv[optind], id)) != SH_OK)
		return cli_exit(rc);
	fc.field = argv[optind + 1];
	if (sc_conflicts_each(c->replica, id, false, find_conflict, &fc) != SH_OK)
		return CLI_FAILED;
	if (fc.n == 0) {
		cli_err("ingen åpen konflikt for %s på %.8s.", sh_text_echo(fc.field), id);
		return CLI_REFUSED;
	}
	if (value) {
		struct sc_report rep;

		rc = sc_set(c->replica, id, fc.field, NULL, value, &rep);
		if (cli_report(c->domain, sh_field_by_name(fc.field), rc, &rep) != CLI_OK)
			return CLI_REFUSED;
	}
	for (size_t i = 0; i < fc.n; i++) {
		struct sh_reason why = {{0}};

		if (sc_conflict_resolve(c->replica, fc.ids[i], &why) != SH_OK) {
			cli_err("%s", why.text);
			return CLI_REFUSED;
		}
	}
	printf("Konflikten er løst%s; avgjørelsen sendes ved neste synkronisering.\n",
	       keep ? " (verdien som vant beholdes)" : "");
	return CLI_OK;
}

static int run_hash(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_sync[S_HASH];
	char h[65];
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "oppgi kommunenummeret");
	if (!cli_replica(c) || sc_content_hash(c->replica, argv[optind], h) != SH_OK)
		return CLI_FAILED;
	printf("%s\n", h);
	return CLI_OK;
}

static int run_unlock(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_sync[S_UNLOCK];
	struct sh_reason why = {{0}};
	char password[513], *hash = NULL;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json,
				"Låser opp replikaen uten nett, med passordet fra siste innlogging.\n"
				"Synkronisering krever fortsatt en gyldig innlogging hos serveren.\n")) != CLI_CONTINUE)
		return rc;
	c->allow_locked = true;
	if (!cli_replica(c))
		return CLI_FAILED;
	(void)!sc_meta_get(c->replica, "unlock_hash", &hash);
	if (!hash) {
		cli_err("replikaen er ikke låst (ingen har logget inn på den).");
		return CLI_REFUSED;
	}
	if (sh_read_password("Passord: ", "JSR_PASSWORD", false, password, sizeof(password), &why) != SH_OK) {
		sh_free(hash);
		cli_err("%s", why.text);
		return CLI_REFUSED;
	}
	rc = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? SH_OK : SH_ERR_AUTH;
	sh_free(hash);
	if (rc == SH_OK)
		rc = cli_unlock_until(c, NULL); /* the hash stays: the password is the same */
	sodium_memzero(password, sizeof(password));
	if (rc == SH_ERR_AUTH) {
		cli_err("feil passord.");
		return CLI_REFUSED;
	}
	if (rc != SH_OK)
		return CLI_FAILED;
	printf("Replikaen er låst opp i %ld timer.\n", sh_config_int("unlock_hours"));
	return CLI_OK;
}

static int run_lock(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_sync[S_LOCK];
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	c->allow_locked = true;
	if (!cli_replica(c))
		return CLI_FAILED;
	if (!cli_bound(c)) {
		/* nothing to unlock it with: a lock would be a lie */
		cli_err("kan ikke låse: ingen har logget inn på denne replikaen ennå, så det finnes ikke "
			"noe passord å låse den opp med.");
		return CLI_REFUSED;
	}
	if (sc_meta_set(c->replica, "unlocked_until", "0") != SH_OK)
		return CLI_FAILED;
	printf("Replikaen er låst. Lås opp med «jsr unlock».\n");
	return CLI_OK;
}

const struct cli_cmd cli_cmds_sync[] = {
	[S_LOGIN] = {"login", run_login, "--server ws://VERT:PORT --server-key FINGERAVTRYKK --user BRUKER",
		     "Logger inn og registrerer maskinen hos serveren."},
	[S_SYNC] = {"sync", run_sync, "[--timeout S] [--json]", "Synkroniserer én runde med serveren."},
	[S_DAEMON] = {"daemon", run_daemon, "", "Holder replikaen synkronisert så lenge den kjører."},
	[S_STATUS] = {"status", run_status, "[--offline] [--json]",
		      "Viser server, innlogging, det som ikke er synkronisert og konflikter."},
	[S_CONFLICTS] = {"conflicts", run_conflicts, "[--json]", "Viser åpne konflikter."},
	[S_RESOLVE] = {"resolve", run_resolve, "ID FELT --keep|--value V", "Avgjør en konflikt."},
	[S_HASH] = {"hash", run_hash, "KOMMUNE", "Innholdssjekksum for kommunens deltakere i replikaen."},
	[S_UNLOCK] = {"unlock", run_unlock, "", "Låser opp replikaen uten nett (passordet ditt)."},
	[S_LOCK] = {"lock", run_lock, "", "Låser replikaen."},
	{0, 0, 0, 0},
};
