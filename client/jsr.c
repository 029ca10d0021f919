/*
 * jsr.c: the caseworker's command-line client. Dispatches to the command
 * groups (cmd_*.c) by name; global options come before the command.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "sync_store.h"

static const struct cli_cmd *const groups[] = {cli_cmds_participant, cli_cmds_tiltak,
						cli_cmds_sync, cli_cmds_admin, cli_cmds_fnr,
						cli_cmds_catalog};

static const struct sh_conf_key client_keys[] = {
	{"ca_file", SH_CONF_STRING, NULL, "PEM CA certificate for a wss:// server with a private CA"},
	{"unlock_hours", SH_CONF_INT, "12", "how long the replica stays unlocked after a login or jsr unlock"},
	{"changeset_size", SH_CONF_INT, "10000",
	 "most changes in one change-set (1 to 10000); smaller ones are sent again sooner after a cut"},
	{"password_strength", SH_CONF_STRING, "interactive",
	 "Argon2id cost of the offline-unlock hash: interactive, or min (tests only)"},
	{NULL, 0, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "Bruk: jsr [--config FIL] [--data MAPPE] KOMMANDO [VALG]\n\n"
		     "jobbsjanse: register over deltakere i Jobbsjansen.\n\nKommandoer:\n");
	for (size_t g = 0; g < sizeof(groups) / sizeof(*groups); g++)
		for (const struct cli_cmd *c = groups[g]; c->name; c++)
			fprintf(out, "  %-17s %s\n", c->name, c->help);
	fprintf(out, "\nHver kommando har --help. Avslutningskoder: 0 utført, 1 avvist, 2 feil bruk,\n"
		     "3 mislyktes eller ingen forbindelse (ingenting er tapt), 4 innlogging trengs.\n");
}

/* «jsr admin» alone (or «jsr admin --help»): the commands of that group. */
static bool group_usage(FILE *out, const char *word)
{
	size_t n = strlen(word);
	bool any = false;

	for (size_t g = 0; g < sizeof(groups) / sizeof(*groups); g++)
		for (const struct cli_cmd *c = groups[g]; c->name; c++)
			if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ') {
				if (!any)
					fprintf(out, "Bruk: jsr %s KOMMANDO [VALG]\n\nKommandoer:\n", word);
				fprintf(out, "  %-17s %s\n", c->name, c->help);
				any = true;
			}
	return any;
}

/* Matches "fnr check" against argv[0] (+ argv[1]); returns words used. */
static int matches(const char *name, int argc, char **argv)
{
	const char *sp = strchr(name, ' ');

	if (!sp)
		return strcmp(name, argv[0]) == 0 ? 1 : 0;
	if (argc < 2 || strncmp(name, argv[0], (size_t)(sp - name)) != 0 ||
	    argv[0][sp - name] != '\0')
		return 0;
	return strcmp(sp + 1, argv[1]) == 0 ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct cli c = {.prog = "jsr"};
	struct sh_reason why = {{0}};
	const char *config = getenv("JSR_CONFIG");
	int i = 1, rc = CLI_USAGE;

	if (sodium_init() < 0) {
		fprintf(stderr, "jsr: libsodium kunne ikke starte.\n");
		return CLI_FAILED;
	}
	sh_alloc_hook_cjson();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			c.data_dir = argv[++i];
		} else {
			fprintf(stderr, "jsr: ukjent valg «%s».\n", argv[i]);
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (sh_config_init(client_keys, config, &why) != SH_OK) {
		fprintf(stderr, "jsr: %s\n", why.text);
		return CLI_USAGE;
	}
	if (sh_config_int("changeset_size") != (long)sc_changeset_size()) { /* outside the range it takes */
		fprintf(stderr, "jsr: changeset_size må være fra 1 til %d.\n", SC_CHANGESET_SIZE);
		return CLI_USAGE;
	}
	sh_log_init("jsr");
	if (i == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(*groups); g++) {
		for (const struct cli_cmd *cmd = groups[g]; cmd->name; cmd++) {
			int used = matches(cmd->name, argc - i, argv + i);

			if (used) {
				rc = cmd->run(&c, argc - i - used + 1, argv + i + used - 1);
				goto out;
			}
		}
	}
	if (i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0) &&
	    group_usage(stdout, argv[i]))
		rc = CLI_OK;
	else if (!group_usage(stderr, argv[i]))
		fprintf(stderr, "jsr: ukjent kommando «%s». Se «jsr --help».\n", argv[i]);
out:
	if (c.status)
		rc = c.status;
	sc_replica_close(c.replica);
	sh_domain_free(c.domain);
	sh_config_reset();
	return rc;
}
