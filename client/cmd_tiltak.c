/*
 * cmd_tiltak.c: jsr tiltak add|set|remove (the repeatable Tiltak rows, each
 * with its own id) and jsr outbox (what has not reached the server yet).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "hlc.h"
#include "text.h"

enum { T_ADD, T_SET, T_REMOVE, T_OUTBOX };

/* "type" or "tiltak.type" → the Tiltak column, or NULL. */
static const struct sh_field *column(const char *name)
{
	char full[sizeof("tiltak.") + 64];
	const struct sh_field *f;

	snprintf(full, sizeof(full), "tiltak.%s", name);
	f = sh_field_by_name(strncmp(name, "tiltak.", 7) == 0 ? name : full);
	return f && f->repeat ? f : NULL;
}

/* Opens the replica and resolves the participant and row arguments. */
static int resolve_id_row(struct cli *c, const char *id_arg, const char *row_arg,
			  char id[SH_ID_LEN + 1], char row[SH_ID_LEN + 1])
{
	struct sh_reason why = {{0}};
	int rc;

	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, id_arg, id)) != SH_OK)
		return cli_exit(rc);
	if ((rc = sc_resolve_row(c->replica, id, row_arg, row, &why)) != SH_OK) {
		cli_err("%s", why.text);
		return cli_exit(rc);
	}
	return CLI_CONTINUE;
}

static int run_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"type", required_argument, 0, 't'}, {"fra", required_argument, 0, 'f'},
		{"til", required_argument, 0, 'T'}, {"beskrivelse", required_argument, 0, 'b'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_tiltak[T_ADD];
	const char *values[SH_F_COUNT] = {0};
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1];
	struct sc_report rep;
	bool json = false;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': values[SH_F_TILTAK_TYPE] = optarg; break;
		case 'f': values[SH_F_TILTAK_FRA] = optarg; break;
		case 'T': values[SH_F_TILTAK_TIL] = optarg; break;
		case 'b': values[SH_F_TILTAK_BESKRIVELSE] = optarg; break;
		case 'j': json = true; break;
		case 'h':
			return cli_help(cmd, "Legger til et tiltak; hele raden lagres samlet.\n"
					     "Typer: «jsr codes tiltakstype».\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "oppgi én id");
	if (!values[SH_F_TILTAK_TYPE] || !values[SH_F_TILTAK_FRA])
		return cli_usage(cmd, "--type og --fra er påkrevd");
	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, argv[optind], id)) != SH_OK)
		return cli_exit(rc);
	rc = sc_tiltak_add(c->replica, id, values, row, &rep);
	if (json) {
		cJSON *j = cli_report_json(NULL, rc == SH_OK ? row : NULL, rc, &rep);

		cJSON_DeleteItemFromObject(j, "field");
		cJSON_AddStringToObject(j, "status", sh_status_code(rep.status));
		cli_print_json(j);
		return cli_exit(rc);
	}
	if (rc != SH_OK) {
		printf("Avvist: %s\n", rep.why.text);
		return cli_exit(rc);
	}
	printf("Lagret: nytt tiltak %s\n", row);
	return CLI_OK;
}

static int run_set(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_tiltak[T_SET];
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1];
	cJSON *results = NULL;
	bool json;
	int rc, result = CLI_OK;

	rc = cli_json_opts(cmd, argc, argv, &json,
			   "FELT er type, fra, til eller beskrivelse; hvert felt lagres med en gang.\n");
	if (rc != CLI_CONTINUE)
		return rc;
	if (argc - optind < 3)
		return cli_usage(cmd, "oppgi id, tiltak og minst én FELT=VERDI");
	for (int i = optind + 2; i < argc; i++) {
		char name[64];
		const char *eq = strchr(argv[i], '=');

		if (!eq || (size_t)(eq - argv[i]) >= sizeof(name))
			return cli_usage(cmd, "«%s» er ikke FELT=VERDI", sh_text_echo(argv[i]));
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (!column(name))
			return cli_usage(cmd, "ukjent tiltaksfelt «%s» (type, fra, til, beskrivelse)",
					 sh_text_echo(name));
	}
	if ((rc = resolve_id_row(c, argv[optind], argv[optind + 1], id, row)) != CLI_CONTINUE)
		return rc;
	if (json)
		results = cJSON_CreateArray();
	for (int i = optind + 2; i < argc; i++) {
		char name[64];
		const char *eq = strchr(argv[i], '=');
		const struct sh_field *f;
		struct sc_report rep;

		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		f = column(name);
		rc = sc_set(c->replica, id, f->name, row, eq + 1, &rep);
		if (json)
			cJSON_AddItemToArray(results, cli_report_json(f, row, rc, &rep));
		else
			(void)cli_report(c->domain, f, rc, &rep);
		if (cli_exit(rc) > result)
			result = cli_exit(rc);
	}
	if (json)
		cli_print_json(results);
	return result;
}

static int run_remove(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_tiltak[T_REMOVE];
	char id[SH_ID_LEN + 1], row[SH_ID_LEN + 1];
	struct sc_report rep;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (argc - optind != 2)
		return cli_usage(cmd, "oppgi id og tiltak");
	if ((rc = resolve_id_row(c, argv[optind], argv[optind + 1], id, row)) != CLI_CONTINUE)
		return rc;
	rc = sc_tiltak_remove(c->replica, id, row, &rep);
	if (json) {
		cJSON *j = cli_report_json(NULL, row, rc, &rep);

		cJSON_DeleteItemFromObject(j, "field");
		cli_print_json(j);
	} else if (rc == SH_OK) {
		printf("Lagret: tiltaket %.8s er fjernet.\n", row);
	} else {
		printf("Avvist: %s\n", rep.why.text);
	}
	return cli_exit(rc);
}

/* ---- outbox ---------------------------------------------------------------- */

struct outbox_ctx {
	cJSON *changes, *lookups;
	long n, nlookups;
};

static int outbox_row(const struct sc_outbox_row *o, void *arg)
{
	struct outbox_ctx *oc = arg;
	char h[SH_HLC_TEXT_LEN + 1];

	oc->n++;
	sh_hlc_encode(o->hlc, h);
	if (oc->changes) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddNumberToObject(j, "seq", (double)o->seq);
		cJSON_AddStringToObject(j, "participant", o->participant);
		cJSON_AddStringToObject(j, "field", o->field);
		if (o->row[0])
			cJSON_AddStringToObject(j, "row", o->row);
		cJSON_AddStringToObject(j, "value", o->value);
		cJSON_AddStringToObject(j, "hlc", h);
		cJSON_AddStringToObject(j, "author", o->author);
		cJSON_AddNumberToObject(j, "base", (double)o->base);
		if (o->changeset)
			cJSON_AddNumberToObject(j, "changeset", (double)o->changeset);
		else
			cJSON_AddNullToObject(j, "changeset");
		if (o->rejected)
			cJSON_AddStringToObject(j, "rejected", o->rejected);
		else
			cJSON_AddNullToObject(j, "rejected");
		cJSON_AddItemToArray(oc->changes, j);
		return 0;
	}
	if (oc->n == 1)
		printf("Endringer som venter på serveren:\n");
	printf("%6lld  %.8s  %-20s %-26s %s\n", (long long)o->seq, o->participant, o->field,
	       o->rejected ? "avvist" : o->changeset ? "sendt, venter på svar" : "ikke sendt",
	       o->rejected ? o->rejected : "");
	return 0;
}

static int lookup_row(const struct sc_lookup_row *l, void *arg)
{
	struct outbox_ctx *oc = arg;
	cJSON *arr = oc->lookups;

	if (!arr && oc->nlookups++ == 0)
		printf("\nOppslag i Folkeregisteret:\n");
	if (arr) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "participant", l->participant);
		cJSON_AddStringToObject(j, "state", l->state);
		cJSON_AddNumberToObject(j, "attempts", l->attempts);
		cJSON_AddItemToArray(arr, j);
		return 0;
	}
	printf("  %.8s  %s%s%s\n", l->participant, sc_lookup_text(l->state),
	       l->reason ? ": " : "", l->reason ? l->reason : "");
	return 0;
}

static int run_outbox(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_tiltak[T_OUTBOX];
	struct outbox_ctx oc = {0};
	cJSON *j = NULL;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json,
				"Endringer som ikke er bekreftet av serveren, og oppslag i "
				"Folkeregisteret som venter.\n")) != CLI_CONTINUE)
		return rc;
	if (optind != argc)
		return cli_usage(cmd, "uventet argument «%s»", sh_text_echo(argv[optind]));
	if (!cli_replica(c))
		return CLI_FAILED;
	if (json) {
		j = cJSON_CreateObject();
		oc.changes = cJSON_AddArrayToObject(j, "changes");
		oc.lookups = cJSON_AddArrayToObject(j, "lookups");
	}
	rc = sc_outbox_each(c->replica, NULL, outbox_row, &oc);
	if (!json && oc.n)
		printf("%ld %s.\n", oc.n, oc.n == 1 ? "endring" : "endringer");
	else if (!json)
		printf("Ingen endringer venter på serveren.\n");
	if (rc == SH_OK)
		rc = sc_lookups_each(c->replica, NULL, lookup_row, &oc);
	if (rc != SH_OK) {
		cJSON_Delete(j);
		cli_err("kunne ikke lese utboksen: %s", sh_err_user(rc));
		return CLI_FAILED;
	}
	return json ? cli_print_json(j) : CLI_OK;
}

const struct cli_cmd cli_cmds_tiltak[] = {
	[T_ADD] = {"tiltak add", run_add,
		   "[--json] ID --type KODE --fra ÅÅÅÅ-MM-DD [--til ÅÅÅÅ-MM-DD] [--beskrivelse TEKST]",
		   "Legger til et tiltak for en deltaker."},
	[T_SET] = {"tiltak set", run_set, "[--json] ID TILTAK FELT=VERDI...", "Endrer et tiltak."},
	[T_REMOVE] = {"tiltak remove", run_remove, "[--json] ID TILTAK", "Fjerner et tiltak."},
	[T_OUTBOX] = {"outbox", run_outbox, "[--json]",
		      "Viser endringer og navneoppslag som ikke har nådd serveren ennå."},
	{0, 0, 0, 0},
};
