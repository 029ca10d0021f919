/*
 * cli.h: what every `jsr` command shares: exit codes, the lazily loaded
 * domain (code lists), option parsing helpers and output helpers.
 *
 * Contract: 0 done, 1 refused (validation, rules), 2 usage, 3 failed or
 * offline (nothing was lost; try again), 4 login needed (locked replica,
 * expired session, or a replica wiped on the server's word). People get
 * Norwegian text; --json on reading commands prints one stable JSON value.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "catalog.h"
#include "replica.h"
#include "sync.h"

enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2, CLI_FAILED = 3, CLI_LOGIN = 4 };

struct cli {
	const char *prog;     /* "jsr" */
	const char *data_dir; /* --data or JSR_DATA; NULL = XDG default */
	struct sh_domain *domain;
	struct sc_replica *replica;
	bool allow_locked; /* the command works on a locked replica (login, unlock ...) */
	int status;        /* non-zero: the exit code to use instead (locked replica) */
};

struct cli_cmd {
	const char *name; /* "fnr check", "new", ... */
	int (*run)(struct cli *c, int argc, char **argv);
	const char *args; /* synopsis after the name */
	const char *help; /* one Norwegian line */
};

/* The domain, loaded on first use; prints the reason and returns NULL on error. */
const struct sh_domain *cli_domain(struct cli *c);

/*
 * The replica (--data, JSR_DATA or the XDG data directory), opened on first
 * use. A replica bound to a user is locked when its offline unlock has run
 * out (after login: unlock_hours); then NULL with c->status = 4, unless the
 * command set c->allow_locked.
 */
struct sc_replica *cli_replica(struct cli *c);
/* Bound to a user: someone has logged in here, so there is a password to unlock with. */
bool cli_bound(struct cli *c);
/*
 * Offline unlock until now + unlock_hours. After a login, password is the
 * one just used and its Argon2id hash is kept for «jsr unlock»; «jsr unlock»
 * (password NULL: already checked against that hash) only moves the time.
 */
int cli_unlock_until(struct cli *c, const char *password) SH_MUST_USE;
/* Resolves an id argument (prefix allowed); prints the reason on failure. */
int cli_resolve(struct cli *c, const char *arg, char id[SH_ID_LEN + 1]);

/* A value as people read it: "Oslo (0301)", "15.01.2026", or the text. */
void cli_value_text(const struct sh_domain *d, const struct sh_field *f, const char *v,
		    char *buf, size_t len);
/*
 * Prints what one autosave did («Lagret: …», «Avvist: …», «Tømt også: …»)
 * and returns CLI_OK, CLI_REFUSED or CLI_FAILED for rc.
 */
int cli_report(const struct sh_domain *d, const struct sh_field *f, int rc,
	       const struct sc_report *rep);
/* The same as a JSON object (caller owns). */
cJSON *cli_report_json(const struct sh_field *f, const char *row, int rc,
		       const struct sc_report *rep);
/* CLI exit code for a library result. */
int cli_exit(int rc);
/* CLI exit code for how a sync round (or an admin request) ended. */
int cli_sync_exit(enum sc_sync_status st);

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
/* printf "%-Ns" counting characters, not bytes (æ, ø, å, –). */
void cli_pad(const char *s, int width);
/* Prints a Norwegian error line to stderr: "jsr: text". */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command groups (one file each). */
extern const struct cli_cmd cli_cmds_fnr[];
extern const struct cli_cmd cli_cmds_catalog[];
extern const struct cli_cmd cli_cmds_participant[];
extern const struct cli_cmd cli_cmds_tiltak[];
extern const struct cli_cmd cli_cmds_sync[];
extern const struct cli_cmd cli_cmds_admin[];

#endif
