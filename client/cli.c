/* cli.c: shared helpers of the jsr commands. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"

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
