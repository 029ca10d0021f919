/* cli.c: shared helpers of the jsr commands. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "config.h"
#include "date.h"
#include "text.h"
#include "hlc.h"

const struct sh_domain *cli_domain(struct cli *c)
{
	struct sh_reason why = {{0}};

	if (!c->domain && sh_domain_load_default(&c->domain, &why) != SH_OK) {
		cli_err("kan ikke laste kodelistene: %s", why.text);
		return NULL;
	}
	return c->domain;
}

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("jsr: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "jsr %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nBruk: jsr %s %s\n", cmd->name, cmd->args);
	return CLI_USAGE;
}

int cli_help(const struct cli_cmd *cmd, const char *details)
{
	printf("Bruk: jsr %s %s\n\n%s\n", cmd->name, cmd->args, cmd->help);
	if (details)
		printf("\n%s", details);
	return CLI_OK;
}

int cli_print_json(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	if (s)
		puts(s);
	cJSON_free(s);
	cJSON_Delete(j);
	return s ? CLI_OK : CLI_FAILED;
}

int cli_json_opts(const struct cli_cmd *cmd, int argc, char **argv, bool *json,
		  const char *details)
{
	static const struct option opts[] = {
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int o;

	*json = false;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j')
			*json = true;
		else if (o == 'h')
			return cli_help(cmd, details);
		else
			return cli_usage(cmd, "ukjent valg");
	}
	return CLI_CONTINUE;
}

static bool cli_locked(struct cli *c);

struct sc_replica *cli_replica(struct cli *c)
{
	struct sh_reason why = {{0}};
	char dir[4096];
	const char *env = getenv("JSR_DATA"), *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (c->replica)
		return c->replica;
	if (!cli_domain(c))
		return NULL;
	if (c->data_dir)
		snprintf(dir, sizeof(dir), "%s", c->data_dir);
	else if (env && *env)
		snprintf(dir, sizeof(dir), "%s", env);
	else if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/jobbsjanse/lokal", xdg);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.local/share/jobbsjanse/lokal", home);
	else {
		cli_err("fant ingen datamappe; bruk --data MAPPE eller JSR_DATA.");
		return NULL;
	}
	if (sc_replica_open(dir, c->domain, &c->replica, &why) != SH_OK) {
		cli_err("kan ikke åpne replikaen: %s", why.text);
		return NULL;
	}
	if (!c->allow_locked && cli_locked(c)) {
		cli_err("replikaen er låst. Lås den opp med «jsr unlock» (passordet ditt), eller logg inn "
			"med «jsr login».");
		c->status = CLI_LOGIN;
		return NULL;
	}
	return c->replica;
}

bool cli_bound(struct cli *c)
{
	char *hash = NULL;
	bool bound;

	(void)!sc_meta_get(c->replica, "unlock_hash", &hash);
	bound = hash != NULL;
	sh_free(hash);
	return bound;
}

/* Bound to a user and past the unlock period? */
static bool cli_locked(struct cli *c)
{
	char *until = NULL;
	bool locked;

	if (!cli_bound(c))
		return false;
	(void)!sc_meta_get(c->replica, "unlocked_until", &until);
	locked = !until || strtoll(until, NULL, 10) < (long long)sh_wall_ms();
	sh_free(until);
	return locked;
}

int cli_unlock_until(struct cli *c, const char *password)
{
	char until[32];
	int rc = SH_OK;

	if (password) {
		unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		const char *strength = sh_config_str("password_strength");
		char *hash = sh_malloc(crypto_pwhash_STRBYTES);

		if (strength && strcmp(strength, "min") == 0) {
			ops = crypto_pwhash_OPSLIMIT_MIN;
			mem = crypto_pwhash_MEMLIMIT_MIN;
		}
		if (!hash || crypto_pwhash_str(hash, password, strlen(password), ops, mem) != 0) {
			sh_free(hash);
			return SH_ERR_NOMEM;
		}
		rc = sc_meta_set(c->replica, "unlock_hash", hash);
		sh_free(hash);
	}
	snprintf(until, sizeof(until), "%lld",
		 (long long)sh_wall_ms() + sh_config_int("unlock_hours") * 3600000LL);
	return rc == SH_OK ? sc_meta_set(c->replica, "unlocked_until", until) : rc;
}

int cli_resolve(struct cli *c, const char *arg, char id[SH_ID_LEN + 1])
{
	struct sh_reason why = {{0}};
	int rc = sc_resolve(c->replica, arg, id, &why);

	if (rc != SH_OK)
		cli_err("%s", why.text);
	return rc;
}

void cli_value_text(const struct sh_domain *d, const struct sh_field *f, const char *v,
		    char *buf, size_t len)
{
	int days;

	if (!v || !*v)
		snprintf(buf, len, "–");
	else if (f->type == SH_FT_CODE)
		snprintf(buf, len, "%s (%s)", sh_field_display(d, f, v), v);
	else if (f->type == SH_FT_DATE && sh_date_parse(v, &days) == SH_OK)
		sh_date_format_no(days, buf);
	else
		snprintf(buf, len, "%s", v);
}

int cli_sync_exit(enum sc_sync_status st)
{
	static const int codes[] = {
		[SC_SYNC_OK] = CLI_OK, [SC_SYNC_REJECTED] = CLI_REFUSED,
		[SC_SYNC_LOGIN_NEEDED] = CLI_LOGIN, [SC_SYNC_OFFLINE] = CLI_FAILED,
		[SC_SYNC_FAILED] = CLI_FAILED, [SC_SYNC_WIPED] = CLI_LOGIN,
	};

	return codes[st];
}

int cli_exit(int rc)
{
	switch (rc) {
	case SH_OK:
		return CLI_OK;
	case SH_ERR_INVALID:
	case SH_ERR_RULE:
	case SH_ERR_NOT_FOUND:
		return CLI_REFUSED;
	default:
		return CLI_FAILED;
	}
}

int cli_report(const struct sh_domain *d, const struct sh_field *f, int rc,
	       const struct sc_report *rep)
{
	char v[SH_VALUE_MAX + 64];

	if (rc != SH_OK) {
		printf("Avvist: %s\n", rep->why.text[0] ? rep->why.text : sh_err_user(rc));
		return cli_exit(rc);
	}
	if (!rep->changed)
		printf("Uendret: %s\n", f->label);
	else if (!rep->value[0])
		printf("Tømt og lagret: %s\n", f->label);
	else {
		cli_value_text(d, f, rep->value, v, sizeof(v));
		printf("Lagret: %s = %s\n", f->label, v);
	}
	for (size_t i = 0; i < rep->ncleared; i++)
		printf("Tømt også: %s (gjelder ikke lenger)\n", sh_field(rep->cleared[i])->label);
	if (rep->promoted)
		printf("Utkastet er nå en deltaker.\n");
	return CLI_OK;
}

cJSON *cli_report_json(const struct sh_field *f, const char *row, int rc,
		       const struct sc_report *rep)
{
	cJSON *j = cJSON_CreateObject(), *cl;

	cJSON_AddStringToObject(j, "field", f ? f->name : "");
	if (row)
		cJSON_AddStringToObject(j, "row", row);
	cJSON_AddBoolToObject(j, "saved", rc == SH_OK);
	cJSON_AddBoolToObject(j, "changed", rep->changed);
	if (rc == SH_OK) {
		cJSON_AddStringToObject(j, "value", rep->value);
		cJSON_AddNullToObject(j, "reason");
	} else {
		cJSON_AddNullToObject(j, "value");
		cJSON_AddStringToObject(j, "error", sh_err_code(rc));
		cJSON_AddStringToObject(j, "reason", rep->why.text[0] ? rep->why.text : sh_err_user(rc));
	}
	cl = cJSON_AddArrayToObject(j, "cleared");
	for (size_t i = 0; i < rep->ncleared; i++)
		cJSON_AddItemToArray(cl, cJSON_CreateString(sh_field(rep->cleared[i])->name));
	return j;
}

void cli_pad(const char *s, int width)
{
	int n = (int)sh_utf8_chars(s, strlen(s));

	fputs(s, stdout);
	for (; n < width; n++)
		putchar(' ');
}
