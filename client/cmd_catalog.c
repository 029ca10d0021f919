/* cmd_catalog.c: `jsr fields` (the field catalogue) and `jsr codes` (code lists). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "text.h"

static const char *need_text(const struct sh_field *f)
{
	static const char *t[] = {
		[SH_NEED_NO] = "valgfritt",
		[SH_NEED_MANDATORY] = "obligatorisk",
		[SH_NEED_COMPLETE] = "for fullført registrering",
		[SH_NEED_ON_END] = "når sluttdato er satt",
		[SH_NEED_DISCHARGE] = "ved utskriving",
	};

	return t[f->need];
}

static const char *writer_text(const struct sh_field *f)
{
	static const char *t[] = {"saksbehandler", "Folkeregisteret", "handling"};

	return t[f->writer];
}

static void type_text(const struct sh_field *f, char *buf, size_t len)
{
	switch (f->type) {
	case SH_FT_TEXT:
		snprintf(buf, len, "tekst, høyst %d tegn", f->max);
		break;
	case SH_FT_DATE:
		snprintf(buf, len, "dato");
		break;
	case SH_FT_CODE:
		snprintf(buf, len, "kode fra %s", f->codes);
		break;
	case SH_FT_INT:
		snprintf(buf, len, "heltall %d–%d", f->min, f->max);
		break;
	case SH_FT_YEAR:
		snprintf(buf, len, "årstall fra %d", f->min);
		break;
	case SH_FT_FNR:
		snprintf(buf, len, "fødselsnummer/D-nummer");
		break;
	}
}

static cJSON *field_json(const struct sh_field *f)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", f->name);
	cJSON_AddStringToObject(j, "label", f->label);
	cJSON_AddStringToObject(j, "page", sh_page_code(f->page));
	cJSON_AddStringToObject(j, "type", sh_ftype_code(f->type));
	if (f->codes)
		cJSON_AddStringToObject(j, "codes", f->codes);
	else
		cJSON_AddNullToObject(j, "codes");
	if (f->type == SH_FT_INT || f->type == SH_FT_YEAR || f->type == SH_FT_DATE) {
		cJSON_AddNumberToObject(j, "min", f->min);
		if (f->type != SH_FT_YEAR)
			cJSON_AddNumberToObject(j, "max", f->max);
	}
	if (f->type == SH_FT_TEXT)
		cJSON_AddNumberToObject(j, "max_length", f->max);
	cJSON_AddStringToObject(j, "required", sh_need_code(f->need));
	if (f->cond == SH_COND_POSITIVE)
		cJSON_AddStringToObject(j, "only_when_positive", sh_field(f->cond_on)->name);
	if (f->has_parent)
		cJSON_AddStringToObject(j, "parent", sh_field(f->parent)->name);
	cJSON_AddStringToObject(j, "writer", sh_writer_code(f->writer));
	cJSON_AddBoolToObject(j, "repeat", f->repeat);
	return j;
}

static int run_fields(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_catalog[0];
	int rc, page = -1;
	bool json;

	(void)c;
	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (optind < argc) {
		for (int p = 0; p <= SH_PAGE_AVSLUTNING; p++)
			if (strcmp(argv[optind], sh_page_code(p)) == 0)
				page = p;
		if (page < 0)
			return cli_usage(cmd, "ukjent side «%s» (person, bakgrunn, tiltak, avslutning)",
					 argv[optind]);
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();

		for (int i = 0; i < SH_F_COUNT; i++)
			if (page < 0 || (int)sh_field(i)->page == page)
				cJSON_AddItemToArray(a, field_json(sh_field(i)));
		return cli_print_json(a);
	}
	printf("  ");
	cli_pad("Felt", 20);
	cli_pad("Ledetekst", 29);
	cli_pad("Type", 28);
	cli_pad("Påkrevd", 53);
	printf("Skrives av\n");
	for (int p = 0; p <= SH_PAGE_AVSLUTNING; p++) {
		if (page >= 0 && p != page)
			continue;
		printf("\n«%s»\n", sh_page_title(p));
		for (int i = 0; i < SH_F_COUNT; i++) {
			const struct sh_field *f = sh_field(i);
			char type[64], need[128];

			if ((int)f->page != p)
				continue;
			type_text(f, type, sizeof(type));
			if (f->cond == SH_COND_POSITIVE)
				snprintf(need, sizeof(need), "%s, når %s > 0", need_text(f),
					 sh_field(f->cond_on)->name);
			else if (f->cond == SH_COND_HAS_CHILDREN)
				snprintf(need, sizeof(need), "%s, når %s har underkoder",
					 need_text(f), sh_field(f->parent)->name);
			else
				snprintf(need, sizeof(need), "%s", need_text(f));
			printf("  ");
			cli_pad(f->name, 20);
			cli_pad(f->label, 29);
			cli_pad(type, 28);
			cli_pad(need, 53);
			printf("%s\n", writer_text(f));
		}
	}
	return CLI_OK;
}

static int run_codes(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_catalog[1];
	const struct sh_domain *d;
	const struct sh_codelist *l;
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "oppgi navnet på én kodeliste (se «jsr fields»)");
	if (!(d = cli_domain(c)))
		return CLI_FAILED;
	l = sh_codes_get(d->codes, argv[optind]);
	if (!l) {
		cli_err("ukjent kodeliste «%s».", argv[optind]);
		return CLI_REFUSED;
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();

		for (size_t i = 0; i < sh_codelist_count(l); i++) {
			const struct sh_code *e = sh_codelist_at(l, i);
			cJSON *j = cJSON_CreateObject();

			cJSON_AddStringToObject(j, "code", e->code);
			cJSON_AddStringToObject(j, "label", e->label);
			if (e->parent)
				cJSON_AddStringToObject(j, "parent", e->parent);
			cJSON_AddItemToArray(a, j);
		}
		return cli_print_json(a);
	}
	for (size_t i = 0; i < sh_codelist_count(l); i++) {
		const struct sh_code *e = sh_codelist_at(l, i);

		printf("%-6s %s", e->code, e->label);
		if (e->parent)
			printf("  (under %s)", e->parent);
		putchar('\n');
	}
	return CLI_OK;
}

const struct cli_cmd cli_cmds_catalog[] = {
	{"fields", run_fields, "[--json] [SIDE]",
	 "Viser feltkatalogen: alle felt, sider, typer, kodelister og når de er påkrevd."},
	{"codes", run_codes, "[--json] KODELISTE", "Viser en kodeliste (kommune, land, hovedarsak ...)."},
	{0, 0, 0, 0},
};
