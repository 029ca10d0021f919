/*
 * cmd_admin.c: jsr admin invite|resend|deactivate|users — what a
 * kommuneadministrator (or an IMDi administrator) does from the client,
 * online. The server decides who may do what; this only asks.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "proto.h"
#include "sync.h"
#include "text.h"

enum { A_INVITE, A_RESEND, A_DEACTIVATE, A_USERS };

/* Sends one request; on success *result (sh_free) is the server's answer. */
static int ask(struct cli *c, cJSON *req, char **result)
{
	struct sc_sync_opts so = {.mode = SC_SYNC_ADMIN, .timeout_s = 30};
	struct sc_sync_result res;
	char *text = sh_json_print(req);

	*result = NULL;
	cJSON_Delete(req);
	c->allow_locked = true;
	if (!text || !cli_replica(c)) {
		sh_free(text);
		return CLI_FAILED;
	}
	so.admin = text;
	so.ca_file = sh_config_str("ca_file");
	if (sc_sync_run(c->replica, &so, &res) != SH_OK) {
		sh_free(text);
		return CLI_FAILED;
	}
	sh_free(text);
	if (res.status != SC_SYNC_OK) {
		cli_err("%s", res.why.text);
		sh_free(res.admin_result);
		return cli_sync_exit(res.status);
	}
	*result = res.admin_result;
	return CLI_OK;
}

static int run_invite(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, 0, 'n'}, {"email", required_argument, 0, 'e'},
		{"phone", required_argument, 0, 'p'}, {"kommune", required_argument, 0, 'k'},
		{"role", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_admin[A_INVITE];
	const char *name = NULL, *email = NULL, *phone = NULL, *kommune = NULL, *role = NULL;
	cJSON *req;
	char *result;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 'e': email = optarg; break;
		case 'p': phone = optarg; break;
		case 'k': kommune = optarg; break;
		case 'r': role = optarg; break;
		case 'h':
			return cli_help(cmd, "Sender en e-post med en lenke der brukeren velger brukernavn og passord\n"
					     "og setter opp tofaktor. Lenken virker i 72 timer og kan brukes én gang.\n"
					     "--role: kommune_user (standard); IMDi-administratorer kan velge andre roller.\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (optind != argc || !name || !email || !phone)
		return cli_usage(cmd, "oppgi --name, --email og --phone");
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "invite");
	cJSON_AddStringToObject(req, "name", name);
	cJSON_AddStringToObject(req, "email", email);
	cJSON_AddStringToObject(req, "phone", phone);
	if (kommune)
		cJSON_AddStringToObject(req, "kommune", kommune);
	if (role)
		cJSON_AddStringToObject(req, "role", role);
	if ((rc = ask(c, req, &result)) != CLI_OK)
		return rc;
	printf("Invitasjonen er sendt til %s.\n", sh_text_echo(email));
	sh_free(result);
	return CLI_OK;
}

static int run_user_op(struct cli *c, int argc, char **argv, int which)
{
	const struct cli_cmd *cmd = &cli_cmds_admin[which];
	const char *op = which == A_RESEND ? "resend" : "deactivate";
	cJSON *req;
	char *result;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "oppgi brukernavnet (eller nummeret fra «jsr admin users»)");
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", op);
	cJSON_AddStringToObject(req, "user", argv[optind]);
	if ((rc = ask(c, req, &result)) != CLI_OK)
		return rc;
	sh_free(result);
	if (which == A_RESEND)
		printf("En ny invitasjon er sendt; den gamle lenken virker ikke lenger.\n");
	else
		printf("Brukeren er deaktivert. Øktene er avsluttet, og maskinene sletter replikaen når de "
		       "kobler til (etter å ha levert det som ble lagret før).\n");
	return CLI_OK;
}

static int run_resend(struct cli *c, int argc, char **argv)
{
	return run_user_op(c, argc, argv, A_RESEND);
}

static int run_deactivate(struct cli *c, int argc, char **argv)
{
	return run_user_op(c, argc, argv, A_DEACTIVATE);
}

static const char *field(const cJSON *o, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	return v ? v : "";
}

static void print_user(const cJSON *u)
{
	static const char *const states[][2] = {
		{"invited", "invitert"}, {"active", "aktiv"}, {"deactivated", "deaktivert"}};
	const char *state = field(u, "state"), *inv = field(u, "invitation");
	char nr[24], until[32] = "";
	double expires = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "expires"));
	time_t t = (time_t)((expires == expires ? expires : 0) / 1000);
	struct tm tm;

	for (size_t i = 0; i < sizeof(states) / sizeof(*states); i++)
		if (strcmp(state, states[i][0]) == 0)
			state = states[i][1];
	if (t > 0 && localtime_r(&t, &tm))
		strftime(until, sizeof(until), "%d.%m.%Y kl. %H:%M", &tm);
	snprintf(nr, sizeof(nr), "%d", (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "id")));
	cli_pad(nr, 5);
	cli_pad(field(u, "username")[0] ? field(u, "username") : "–", 17);
	cli_pad(field(u, "role_label")[0] ? field(u, "role_label") : field(u, "role"), 22);
	cli_pad(state, 12);
	cli_pad(field(u, "kommuner")[0] ? field(u, "kommuner") : "–", 9);
	fputs(field(u, "name")[0] ? field(u, "name") : "–", stdout);
	if (field(u, "email")[0])
		printf(" <%s>", field(u, "email"));
	if (strcmp(inv, "expired") == 0)
		printf(" – invitasjonen gikk ut %s; send den på nytt med «jsr admin resend %s»", until, nr);
	else if (strcmp(inv, "open") == 0 || strcmp(inv, "password_set") == 0)
		printf(" – venter på aktivering (lenken virker til %s)", until);
	putchar('\n');
}

static int run_users(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_admin[A_USERS];
	cJSON *req, *res, *users, *u;
	char *result;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "users");
	if ((rc = ask(c, req, &result)) != CLI_OK)
		return rc;
	res = cJSON_Parse(result);
	sh_free(result);
	users = cJSON_GetObjectItemCaseSensitive(res, "users");
	if (!cJSON_IsArray(users)) {
		cJSON_Delete(res);
		cli_err("ugyldig svar fra serveren.");
		return CLI_FAILED;
	}
	if (json) {
		cli_print_json(cJSON_DetachItemFromObject(res, "users"));
		cJSON_Delete(res);
		return CLI_OK;
	}
	cli_pad("Nr.", 5);
	cli_pad("Brukernavn", 17);
	cli_pad("Rolle", 22);
	cli_pad("Tilstand", 12);
	cli_pad("Kommune", 9);
	puts("Navn og e-post");
	cJSON_ArrayForEach(u, users)
		print_user(u);
	cJSON_Delete(res);
	return CLI_OK;
}

const struct cli_cmd cli_cmds_admin[] = {
	[A_INVITE] = {"admin invite", run_invite,
		      "--name NAVN --email E-POST --phone TELEFON [--kommune NNNN] [--role ROLLE]",
		      "Inviterer en bruker (kommuneadministrator eller IMDi)."},
	[A_RESEND] = {"admin resend", run_resend, "BRUKER", "Sender invitasjonen på nytt (den gamle lenken slutter å virke)."},
	[A_DEACTIVATE] = {"admin deactivate", run_deactivate, "BRUKER", "Deaktiverer en bruker."},
	[A_USERS] = {"admin users", run_users, "[--json]", "Viser brukerne og invitasjonene du administrerer."},
	{0, 0, 0, 0},
};
