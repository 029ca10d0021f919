/*
 * cli.h: what every `jsr` command shares: exit codes, the lazily loaded
 * domain (code lists), option parsing helpers and output helpers.
 *
 * Contract: 0 done, 1 refused (validation, rules), 2 usage. People get
 * Norwegian text; --json on reading commands prints one stable JSON value.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "catalog.h"

enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2, CLI_FAILED = 3 };

struct cli {
	const char *prog;     /* "jsr" */
	const char *data_dir; /* --data or JSR_DATA; NULL = XDG default */
	struct sh_domain *domain;
};

struct cli_cmd {
	const char *name; /* "fnr check", "new", ... */
	int (*run)(struct cli *c, int argc, char **argv);
	const char *args; /* synopsis after the name */
	const char *help; /* one Norwegian line */
};

/* The domain, loaded on first use; prints the reason and returns NULL on error. */
const struct sh_domain *cli_domain(struct cli *c);

/* Prints "jsr NAME: message" to stderr and returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the command's --help text to stdout and returns CLI_OK. */
int cli_help(const struct cli_cmd *cmd, const char *details);
/*
 * Parses the options of a command that has only --json and --help. Returns
 * CLI_CONTINUE with *json set and optind at the first operand, or the exit
 * code to return (help printed, or a usage error). `details` goes into --help.
 */
#define CLI_CONTINUE (-1)
int cli_json_opts(const struct cli_cmd *cmd, int argc, char **argv, bool *json,
		  const char *details);
/* Prints (unformatted) and deletes `j`; returns CLI_OK. */
int cli_print_json(cJSON *j);
/* Prints a Norwegian error line to stderr: "jsr: text". */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command groups (one file each). */
extern const struct cli_cmd cli_cmds_fnr[];
extern const struct cli_cmd cli_cmds_catalog[];

#endif
