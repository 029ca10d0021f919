/*
 * cmd_fnr.c: `jsr fnr check` (one number, many, or interactively) and
 * `jsr fnr generate` (valid synthetic numbers, test mode only).
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "fnr.h"

static const char *elig_text(enum sh_elig e)
{
	static const char *t[] = {
		[SH_ELIG_YES] = "kan delta i Jobbsjansen.",
		[SH_ELIG_NO] = "kan ikke delta: Jobbsjansen er for kvinner.",
		[SH_ELIG_UNKNOWN] = "kjønn står ikke i nummeret; Folkeregisteret avgjør før navnet hentes.",
	};

	return t[e];
}

static cJSON *verdict_json(int rc, const struct sh_fnr *f)
{
	cJSON *j = cJSON_CreateObject();
	char bd[11];
	int days;
	bool ok = rc == SH_OK;
	static const char *elig[] = {"yes", "no", "unknown"};

	cJSON_AddBoolToObject(j, "valid", ok);
	if (ok) {
		cJSON_AddStringToObject(j, "kind", sh_fnr_kind_code(f));
		cJSON_AddStringToObject(j, "rule", sh_fnr_rule_code(f->rule));
		if (sh_gender_code(f->gender))
			cJSON_AddStringToObject(j, "gender", sh_gender_code(f->gender));
		else
			cJSON_AddNullToObject(j, "gender");
		if (sh_fnr_birthdate(f, &days)) {
			sh_date_format(days, bd);
			cJSON_AddStringToObject(j, "birthdate", bd);
		} else {
			cJSON_AddNullToObject(j, "birthdate");
		}
		cJSON_AddNullToObject(j, "reason");
		cJSON_AddBoolToObject(j, "synthetic", f->synthetic);
		if (f->synthetic)
			cJSON_AddStringToObject(j, "synthetic_of", f->kind == SH_FNR_KIND_DNR ? "dnr" : "fnr");
		cJSON_AddStringToObject(j, "eligible",
					elig[sh_fnr_eligibility(f, sh_config_woman_rule())]);
	} else {
		cJSON_AddNullToObject(j, "kind");
		cJSON_AddNullToObject(j, "rule");
		cJSON_AddNullToObject(j, "gender");
		cJSON_AddNullToObject(j, "birthdate");
		cJSON_AddStringToObject(j, "reason", sh_fnr_fault_code(f->fault));
		cJSON_AddStringToObject(j, "message", sh_fnr_fault_text(f->fault));
	}
	return j;
}

static void verdict_text(const char *prefix, int rc, const struct sh_fnr *f)
{
	char bd[11];
	int days;

	if (rc != SH_OK) {
		printf("%sUgyldig: %s\n", prefix, sh_fnr_fault_text(f->fault));
		return;
	}
	printf("%sGyldig %s (%s).\n", prefix, sh_fnr_kind_text(f),
	       f->rule == SH_FNR_RULE_OLD ? "regler før 2032" : "2032-regler");
	printf("  Kjønn: %s\n", sh_gender_code(f->gender) ? sh_gender_code(f->gender)
							   : "står ikke i nummeret");
	if (sh_fnr_birthdate(f, &days)) {
		sh_date_format_no(days, bd);
		printf("  Fødselsdato: %s\n", bd);
	} else {
		printf("  Fødselsdato: %02d.%02d.%02d (århundret står ikke i nummeret)\n", f->day,
		       f->month, f->yy);
	}
	printf("  Jobbsjansen: %s\n", elig_text(sh_fnr_eligibility(f, sh_config_woman_rule())));
}

/* One verdict; with `many`, each line says which number it is about. */
static int check_one(const char *s, bool json, bool many)
{
	struct sh_fnr f;
	int rc = sh_fnr_check(s, &f);

	if (json) {
		cJSON *j = verdict_json(rc, &f);

		if (many)
			cJSON_AddStringToObject(j, "number", s);
		cli_print_json(j);
	} else if (many) {
		char prefix[80];

		snprintf(prefix, sizeof(prefix), "%.40s: ", s);
		verdict_text(prefix, rc, &f);
	} else {
		verdict_text("", rc, &f);
	}
	return rc == SH_OK ? CLI_OK : CLI_REFUSED;
}

/* Many numbers, one per line (batch from a pipe, or a person at a terminal). */
static int check_lines(bool json, bool interactive)
{
	char line[256];
	int result = CLI_OK;

	for (;;) {
		size_t n;

		if (interactive) {
			printf("Fødselsnummer (tom linje avslutter): ");
			fflush(stdout);
		}
		if (!fgets(line, sizeof(line), stdin))
			break;
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (interactive && n == 0)
			break;
		if (n == 0)
			continue;
		if (check_one(line, json, !interactive) != CLI_OK)
			result = CLI_REFUSED;
	}
	/* a conversation at the terminal ends well; a batch says if all were valid */
	return interactive ? CLI_OK : result;
}

static int run_check(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_fnr[0];
	bool json;
	int rc, result = CLI_OK;

	(void)c;
	rc = cli_json_opts(cmd, argc, argv, &json,
			   "Uten NUMMER: les ett nummer per linje fra standard inn\n"
			   "(spør etter numre når det er en terminal).\n"
			   "Avslutter med 0 når alle er gyldige, 1 ellers.\n");
	if (rc != CLI_CONTINUE)
		return rc;
	if (optind == argc || (argc - optind == 1 && strcmp(argv[optind], "-") == 0))
		return check_lines(json, optind == argc && isatty(0));
	for (int i = optind; i < argc; i++)
		if (check_one(argv[i], json, argc - optind > 1) != CLI_OK)
			result = CLI_REFUSED;
	return result;
}

static int run_generate(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"count", required_argument, 0, 'n'}, {"kind", required_argument, 0, 'k'},
		{"rule", required_argument, 0, 'r'},  {"gender", required_argument, 0, 'g'},
		{"seed", required_argument, 0, 's'},  {"from", required_argument, 0, 'f'},
		{"to", required_argument, 0, 't'},    {"plain", no_argument, 0, 'p'},
		{"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_fnr[1];
	struct sh_fnr_spec spec = {.synthetic = true};
	struct sh_rng rng;
	long count = 1;
	unsigned long long seed = 0;
	bool seeded = false;
	int o;

	(void)c;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;

		switch (o) {
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1 || count > 10000000)
				return cli_usage(cmd, "--count må være 1–10000000");
			break;
		case 'k':
			if (strcmp(optarg, "fnr") == 0)
				spec.kind = SH_FNR_KIND_FNR;
			else if (strcmp(optarg, "dnr") == 0)
				spec.kind = SH_FNR_KIND_DNR;
			else if (strcmp(optarg, "hnr") == 0)
				spec.kind = SH_FNR_KIND_HNR;
			else
				return cli_usage(cmd, "--kind er fnr, dnr eller hnr");
			break;
		case 'r':
			if (strcmp(optarg, "old") == 0)
				spec.rule = SH_FNR_RULE_OLD;
			else if (strcmp(optarg, "2032") == 0)
				spec.rule = SH_FNR_RULE_2032;
			else
				return cli_usage(cmd, "--rule er old eller 2032");
			break;
		case 'g':
			if (strcmp(optarg, "kvinne") == 0)
				spec.gender = SH_GENDER_WOMAN;
			else if (strcmp(optarg, "mann") == 0)
				spec.gender = SH_GENDER_MAN;
			else
				return cli_usage(cmd, "--gender er kvinne eller mann");
			break;
		case 's':
			seed = strtoull(optarg, &end, 10);
			if (*end)
				return cli_usage(cmd, "--seed må være et tall");
			seeded = true;
			break;
		case 'f':
		case 't': {
			long y = strtol(optarg, &end, 10);

			if (*end || y < 1854 || y > 2039)
				return cli_usage(cmd, "årstall må være 1854–2039");
			*(o == 'f' ? &spec.min_year : &spec.max_year) = (int)y;
			break;
		}
		case 'p':
			spec.synthetic = false;
			break;
		case 'h':
			return cli_help(cmd, "Lager gyldige testnumre. Som standard syntetiske\n"
					     "(Tenor: måned + 80), som aldri tilhører virkelige personer.\n"
					     "--plain lager numre uten Tenor-merket (bare for tester i minnet).\n"
					     "Krever testmodus (JSR_TEST_MODE=1).\n");
		default:
			return cli_usage(cmd, "ukjent valg");
		}
	}
	if (!sh_config_test_mode()) {
		cli_err("generering av testnumre krever testmodus (JSR_TEST_MODE=1).");
		return CLI_REFUSED;
	}
	if (spec.synthetic && spec.kind == SH_FNR_KIND_HNR) {
		cli_err("det finnes ikke syntetiske H-numre; bruk --plain.");
		return CLI_REFUSED;
	}
	rng.s = seeded ? seed : ((uint64_t)randombytes_random() << 32 | randombytes_random());
	for (long i = 0; i < count; i++) {
		char out[12];

		if (sh_fnr_generate(&rng, &spec, out) != SH_OK) {
			cli_err("fant ikke gyldige numre for disse valgene (årstall og regelsett).");
			return CLI_REFUSED;
		}
		puts(out);
	}
	return CLI_OK;
}

const struct cli_cmd cli_cmds_fnr[] = {
	{"fnr check", run_check, "[--json] [NUMMER...|-]",
	 "Kontrollerer fødselsnumre, D-numre og H-numre og sier hvorfor et nummer er ugyldig."},
	{"fnr generate", run_generate,
	 "[--count N] [--kind fnr|dnr|hnr] [--rule old|2032] [--gender kvinne|mann] "
	 "[--from ÅR] [--to ÅR] [--seed S] [--plain]",
	 "Lager gyldige syntetiske testnumre (bare i testmodus)."},
	{0, 0, 0, 0},
};
