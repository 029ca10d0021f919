/*
 * cmd_participant.c: jsr new, set, show, list, drafts, discharge, reopen,
 * delete: the caseworker's work on participants and drafts, each field
 * autosaved through the replica.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "rules.h"
#include "status.h"
#include "text.h"

enum { C_NEW, C_SET, C_SHOW, C_LIST, C_DRAFTS, C_DISCHARGE, C_REOPEN, C_DELETE };

/* Autosaves one FIELD=VALUE; prints (or adds to `results`) what happened. */
static int set_one(struct cli *c, const char *id, const char *field, const char *value,
		   cJSON *results, struct sc_report *rep)
{
	const struct sh_field *f = sh_field_by_name(field);
	int rc = sc_set(c->replica, id, field, NULL, value, rep);

	if (results) {
		cJSON_AddItemToArray(results, cli_report_json(f, NULL, rc, rep));
		return cli_exit(rc);
	}
	if (!f) {
		printf("Avvist: %s\n", rep->why.text);
		return CLI_REFUSED;
	}
	return cli_report(c->domain, f, rc, rep);
}

static void print_status(struct cli *c, const char *id, const struct sc_report *rep)
{
	(void)c;
	printf("Status: %s (id %s)\n", sh_status_label(rep->status), id);
}

static int run_new(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"fnr", required_argument, 0, 'f'}, {"start", required_argument, 0, 's'},
		{"kommune", required_argument, 0, 'k'}, {"finansiering", required_argument, 0, 'F'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_participant[C_NEW];
	const char *given[4] = {0};
	static const char *const names[4] = {"fnr", "startdato", "kommune", "finansiering"};
	char id[SH_ID_LEN + 1];
	struct sc_report rep = {0};
	cJSON *j = NULL, *results = NULL;
	bool json = false;
	int o, result = CLI_OK;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f': given[0] = optarg; break;
		case 's': given[1] = optarg; break;
		case 'k': given[2] = optarg; break;
		case 'F': given[3] = optarg; break;
		case 'j': json = true; break;
		case 'h':
			return cli_help(cmd, "Lager et utkast. Når fødselsnummer, dato for oppstart, kommune\n"
					     "og type finansiering er gyldige, blir utkastet en deltaker.\n"
					     "Hvert felt lagres for seg; et ugyldig felt stopper ikke de andre.\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "uventet argument «%s»", sh_text_echo(argv[optind]));
	if (!cli_replica(c))
		return CLI_FAILED;
	if (sc_participant_new(c->replica, id) != SH_OK) {
		cli_err("kunne ikke lagre utkastet i replikaen.");
		return CLI_FAILED;
	}
	rep.status = SH_STATUS_UTKAST;
	if (json) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "id", id);
		results = cJSON_AddArrayToObject(j, "results");
	} else {
		printf("Nytt utkast: %s\n", id);
	}
	for (int i = 0; i < 4; i++) {
		struct sc_report r1;
		int rc;

		if (!given[i])
			continue;
		rc = set_one(c, id, names[i], given[i], results, &r1);
		if (rc != CLI_OK)
			result = rc > result ? rc : result;
		else
			rep = r1;
		rep.promoted |= r1.promoted;
	}
	if (json) {
		cJSON_AddStringToObject(j, "status", sh_status_code(rep.status));
		cli_print_json(j);
	} else {
		print_status(c, id, &rep);
	}
	return result;
}

static int run_set(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_participant[C_SET];
	char id[SH_ID_LEN + 1];
	struct sc_report rep = {0}, last = {0};
	cJSON *j = NULL, *results = NULL;
	bool json, any = false;
	int rc, result = CLI_OK;

	rc = cli_json_opts(cmd, argc, argv, &json,
			   "Hver FELT=VERDI lagres med en gang, hver for seg («Lagret»).\n"
			   "FELT= (tom verdi) tømmer feltet. Feltnavn: se «jsr fields».\n");
	if (rc != CLI_CONTINUE)
		return rc;
	if (argc - optind < 2)
		return cli_usage(cmd, "oppgi id og minst én FELT=VERDI");
	for (int i = optind + 1; i < argc; i++)
		if (!strchr(argv[i], '='))
			return cli_usage(cmd, "«%s» mangler «=» (skriv FELT=VERDI)", sh_text_echo(argv[i]));
	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, argv[optind], id)) != SH_OK)
		return cli_exit(rc);
	if (json) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "id", id);
		results = cJSON_AddArrayToObject(j, "results");
	}
	for (int i = optind + 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char *field = sh_strndup(argv[i], (size_t)(eq - argv[i]));

		if (!field)
			return CLI_FAILED;
		rc = set_one(c, id, field, eq + 1, results, &rep);
		sh_free(field);
		if (rc != CLI_OK)
			result = rc > result ? rc : result;
		else {
			last = rep;
			any = true;
		}
		last.promoted |= rep.promoted;
	}
	if (!any) { /* nothing saved: report the status as it is */
		struct sh_participant p;
		bool draft;

		sh_participant_init(&p);
		if (sc_participant_load(c->replica, id, &p, &draft) == SH_OK)
			last.status = sh_status_of(c->domain, &p);
		sh_participant_clear(&p);
	}
	if (json) {
		cJSON_AddStringToObject(j, "status", sh_status_code(last.status));
		cJSON_AddBoolToObject(j, "promoted", last.promoted);
		cli_print_json(j);
	} else {
		print_status(c, id, &last);
	}
	return result;
}

/* ---- show ---------------------------------------------------------------- */

struct field_sync {
	bool pending[SH_F_COUNT];
	char *rejected[SH_F_COUNT];
};

static int collect_sync(const struct sc_outbox_row *o, void *arg)
{
	struct field_sync *fs = arg;
	const struct sh_field *f = sh_field_by_name(o->field);

	if (!f)
		return 0;
	if (o->rejected) {
		sh_free(fs->rejected[f->id]);
		fs->rejected[f->id] = sh_strdup(o->rejected);
	} else {
		fs->pending[f->id] = true;
	}
	return 0;
}

struct lookup_info {
	char state[32], reason[256];
	int attempts;
	int64_t next_try;
	bool present;
};

static int collect_lookup(const struct sc_lookup_row *l, void *arg)
{
	struct lookup_info *li = arg;

	li->present = true;
	snprintf(li->state, sizeof(li->state), "%s", l->state);
	snprintf(li->reason, sizeof(li->reason), "%s", l->reason ? l->reason : "");
	li->attempts = l->attempts;
	li->next_try = l->next_try;
	return 1;
}

static cJSON *names_json(const struct sh_missing *m, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(sh_field(m[i].field)->name));
	return a;
}

static cJSON *show_json(struct cli *c, const struct sh_participant *p, bool draft,
			const struct field_sync *fs, const struct lookup_info *li,
			const char *sync)
{
	cJSON *j = cJSON_CreateObject(), *fields, *rows, *pend, *rej;
	struct sh_missing m[SC_MISSING_MAX];
	enum sh_status st = sh_status_of(c->domain, p);
	size_t n;

	cJSON_AddStringToObject(j, "id", p->id);
	cJSON_AddBoolToObject(j, "draft", draft);
	cJSON_AddStringToObject(j, "status", sh_status_code(st));
	cJSON_AddStringToObject(j, "status_label", sh_status_label(st));
	cJSON_AddStringToObject(j, "sync", sync);
	fields = cJSON_AddObjectToObject(j, "fields");
	for (int i = 0; i < SH_F_COUNT; i++) {
		if (sh_field(i)->repeat)
			continue;
		if (p->v[i])
			cJSON_AddStringToObject(fields, sh_field(i)->name, p->v[i]);
		else
			cJSON_AddNullToObject(fields, sh_field(i)->name);
	}
	rows = cJSON_AddArrayToObject(j, "tiltak");
	for (size_t r = 0; r < p->nrows; r++) {
		cJSON *row = cJSON_CreateObject();

		cJSON_AddStringToObject(row, "id", p->rows[r].id);
		for (int i = 0; i < SH_F_COUNT; i++) {
			const char *key;

			if (!sh_field(i)->repeat)
				continue;
			key = strchr(sh_field(i)->name, '.') + 1;
			if (p->rows[r].v[i])
				cJSON_AddStringToObject(row, key, p->rows[r].v[i]);
			else
				cJSON_AddNullToObject(row, key);
		}
		cJSON_AddItemToArray(rows, row);
	}
	n = sh_missing(c->domain, p, SH_FOR_COMPLETE, m, SC_MISSING_MAX);
	cJSON_AddItemToObject(j, "missing", names_json(m, n < SC_MISSING_MAX ? n : SC_MISSING_MAX));
	n = sh_missing(c->domain, p, SH_FOR_DISCHARGE, m, SC_MISSING_MAX);
	cJSON_AddItemToObject(j, "missing_for_discharge",
			      names_json(m, n < SC_MISSING_MAX ? n : SC_MISSING_MAX));
	pend = cJSON_AddArrayToObject(j, "pending");
	rej = cJSON_AddObjectToObject(j, "rejected");
	for (int i = 0; i < SH_F_COUNT; i++) {
		if (fs->pending[i])
			cJSON_AddItemToArray(pend, cJSON_CreateString(sh_field(i)->name));
		if (fs->rejected[i])
			cJSON_AddStringToObject(rej, sh_field(i)->name, fs->rejected[i]);
	}
	if (li->present) {
		cJSON *l = cJSON_AddObjectToObject(j, "lookup");

		char text[400];

		sc_lookup_describe(li->state, li->attempts, li->next_try, li->reason, text, sizeof(text));
		cJSON_AddStringToObject(l, "state", li->state);
		cJSON_AddStringToObject(l, "text", text);
		cJSON_AddNumberToObject(l, "attempts", li->attempts);
		cJSON_AddNumberToObject(l, "next_try", (double)li->next_try);
		if (li->reason[0])
			cJSON_AddStringToObject(l, "reason", li->reason);
		else
			cJSON_AddNullToObject(l, "reason");
	} else {
		cJSON_AddNullToObject(j, "lookup");
	}
	return j;
}

static void show_text(struct cli *c, const struct sh_participant *p, bool draft,
		      const struct field_sync *fs, const struct lookup_info *li, const char *sync)
{
	struct sh_missing m[SC_MISSING_MAX];
	enum sh_status st = sh_status_of(c->domain, p);
	char v[SH_VALUE_MAX + 64];
	size_t n;

	printf("%s %s\nStatus: %s · %s\n", draft ? "Utkast" : "Deltaker", p->id, sh_status_label(st),
	       sync);
	if (li->present) {
		char text[400];

		sc_lookup_describe(li->state, li->attempts, li->next_try, li->reason, text, sizeof(text));
		printf("Folkeregisteret: %s%s%s\n", text,
		       li->reason[0] && strcmp(li->state, "feil") != 0 && strcmp(li->state, "hentet") != 0 ? " – " : "",
		       strcmp(li->state, "feil") != 0 && strcmp(li->state, "hentet") != 0 ? li->reason : "");
	}
	if (p->v[SH_F_KJONN] && strcmp(p->v[SH_F_KJONN], "mann") == 0 && sh_config_woman_rule())
		printf("Merk: Folkeregisteret oppgir kjønn mann. Jobbsjansen er for kvinner.\n");
	for (int page = 0; page <= SH_PAGE_AVSLUTNING; page++) {
		printf("\n«%s»\n", sh_page_title(page));
		if (page == SH_PAGE_TILTAK) {
			if (p->nrows == 0)
				printf("  (ingen tiltak)\n");
			for (size_t r = 0; r < p->nrows; r++) {
				char fra[16], til[16], type[256];
				const char *const *rv = (const char *const *)p->rows[r].v;

				cli_value_text(c->domain, sh_field(SH_F_TILTAK_TYPE), rv[SH_F_TILTAK_TYPE],
					       type, sizeof(type));
				cli_value_text(c->domain, sh_field(SH_F_TILTAK_FRA), rv[SH_F_TILTAK_FRA],
					       fra, sizeof(fra));
				cli_value_text(c->domain, sh_field(SH_F_TILTAK_TIL), rv[SH_F_TILTAK_TIL],
					       til, sizeof(til));
				printf("  [%.8s] %s, %s – %s%s%s\n", p->rows[r].id, type, fra,
				       rv[SH_F_TILTAK_TIL] ? til : "pågår",
				       rv[SH_F_TILTAK_BESKRIVELSE] ? ": " : "",
				       rv[SH_F_TILTAK_BESKRIVELSE] ? rv[SH_F_TILTAK_BESKRIVELSE] : "");
			}
			continue;
		}
		for (int i = 0; i < SH_F_COUNT; i++) {
			const struct sh_field *f = sh_field(i);
			int pad;

			if ((int)f->page != page || (!p->v[i] && !sh_field_applies(c->domain, p, i)))
				continue;
			cli_value_text(c->domain, f, p->v[i], v, sizeof(v));
			pad = 30 - (int)sh_utf8_chars(f->label, strlen(f->label));
			printf("  %s%*s %s", f->label, pad > 0 ? pad : 0, "", v);
			if (fs->rejected[i])
				printf("  (avvist av serveren: %s)", fs->rejected[i]);
			else if (fs->pending[i])
				printf("  (ikke synkronisert)");
			putchar('\n');
		}
	}
	n = sh_missing(c->domain, p, SH_FOR_COMPLETE, m, SC_MISSING_MAX);
	if (n && !draft) {
		printf("\nMangler for fullført registrering:");
		for (size_t i = 0; i < n && i < SC_MISSING_MAX; i++)
			printf("%s %s", i ? "," : "", sh_field(m[i].field)->label);
		printf(".\n");
	}
	if (draft)
		printf("\nUtkastet blir en deltaker når fødselsnummer, dato for oppstart, kommune og "
		       "type finansiering er fylt ut.\n");
}

static int run_show(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_participant[C_SHOW];
	char id[SH_ID_LEN + 1], sync[300];
	struct sh_participant p;
	struct field_sync fs;
	struct lookup_info li;
	struct sc_row row = {0};
	bool json, draft;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json, NULL)) != CLI_CONTINUE)
		return rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "oppgi én id");
	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, argv[optind], id)) != SH_OK)
		return cli_exit(rc);
	memset(&fs, 0, sizeof(fs));
	memset(&li, 0, sizeof(li));
	sh_participant_init(&p);
	rc = sc_participant_load(c->replica, id, &p, &draft);
	if (rc == SH_OK)
		rc = sc_outbox_each(c->replica, id, collect_sync, &fs);
	if (rc == SH_OK)
		rc = sc_lookups_each(c->replica, id, collect_lookup, &li);
	if (rc == SH_OK) {
		row.draft = draft;
		for (int i = 0; i < SH_F_COUNT; i++) {
			row.pending += fs.pending[i];
			if (fs.rejected[i])
				row.rejected = fs.rejected[i];
		}
		sc_sync_text(&row, sync, sizeof(sync));
		if (json)
			cli_print_json(show_json(c, &p, draft, &fs, &li, sync));
		else
			show_text(c, &p, draft, &fs, &li, sync);
	} else {
		cli_err("kunne ikke lese deltakeren: %s", sh_err_user(rc));
	}
	for (int i = 0; i < SH_F_COUNT; i++)
		sh_free(fs.rejected[i]);
	sh_participant_clear(&p);
	return cli_exit(rc);
}

/* ---- list and drafts ------------------------------------------------------ */

struct list_ctx {
	struct cli *c;
	cJSON *arr;
	long n;
};

static void col(const char *s, int width)
{
	int n = (int)sh_utf8_chars(s, strlen(s));

	if (n > width) { /* cut on a character boundary */
		int chars = 0;
		const char *p = s;

		while (*p && chars < width - 1) {
			p++;
			while ((*p & 0xc0) == 0x80)
				p++;
			chars++;
		}
		printf("%.*s… ", (int)(p - s), s);
		return;
	}
	printf("%s%*s ", s, width - n, "");
}

static int list_row(const struct sc_row *row, void *arg)
{
	struct list_ctx *lc = arg;
	char sync[300], start[16], end[16];
	const struct sh_field *kf = sh_field(SH_F_KOMMUNE);
	int st = sh_status_parse(row->status);

	sc_sync_text(row, sync, sizeof(sync));
	lc->n++;
	if (lc->arr) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "id", row->id);
		cJSON_AddStringToObject(j, "status", row->status);
#define OPT(k, v) ((v) ? cJSON_AddStringToObject(j, k, v) : cJSON_AddNullToObject(j, k))
		OPT("fnr", row->fnr);
		OPT("navn", row->navn);
		OPT("kommune", row->kommune);
		OPT("startdato", row->startdato);
		OPT("sluttdato", row->sluttdato);
		OPT("lookup", row->lookup);
#undef OPT
		cJSON_AddStringToObject(j, "sync", sync);
		cJSON_AddNumberToObject(j, "pending", row->pending);
		cJSON_AddItemToArray(lc->arr, j);
		return 0;
	}
	cli_value_text(lc->c->domain, sh_field(SH_F_STARTDATO), row->startdato, start, sizeof(start));
	cli_value_text(lc->c->domain, sh_field(SH_F_SLUTTDATO), row->sluttdato, end, sizeof(end));
	printf("%.8s  ", row->id);
	col(row->navn ? row->navn : (row->lookup ? sc_lookup_text(row->lookup) : "–"), 24);
	col(row->fnr ? row->fnr : "–", 11);
	col(row->kommune ? sh_field_display(lc->c->domain, kf, row->kommune) : "–", 16);
	col(start, 10);
	col(end, 10);
	col(st >= 0 ? sh_status_label(st) : row->status, 22);
	printf("%s\n", sync);
	return 0;
}

static int list_common(struct cli *c, const struct sc_filter *f, bool json)
{
	struct list_ctx lc = {c, json ? cJSON_CreateArray() : NULL, 0};
	int rc;

	if (!json) {
		printf("%-8s  ", "ID");
		col("Navn", 24);
		col("Fødselsnr.", 11);
		col("Kommune", 16);
		col("Start", 10);
		col("Slutt", 10);
		col("Status", 22);
		printf("Synkronisering\n");
	}
	rc = sc_list(c->replica, f, list_row, &lc);
	if (rc != SH_OK) {
		cJSON_Delete(lc.arr);
		cli_err("kunne ikke lese oversikten: %s", sh_err_user(rc));
		return CLI_FAILED;
	}
	if (json)
		return cli_print_json(lc.arr);
	if (f->drafts)
		printf("%ld utkast.\n", lc.n);
	else
		printf("%ld %s.\n", lc.n, lc.n == 1 ? "deltaker" : "deltakere");
	return CLI_OK;
}

static int run_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"status", required_argument, 0, 's'}, {"search", required_argument, 0, 'q'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct cli_cmd *cmd = &cli_cmds_participant[C_LIST];
	struct sc_filter f = {.status = -1};
	bool json = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (strcmp(optarg, "alle") == 0) {
				f.all = true;
			} else if ((f.status = sh_status_parse(optarg)) < 0 ||
				   f.status == SH_STATUS_UTKAST) {
				return cli_usage(cmd, "ukjent status «%s» (mangler, aktiv, avsluttet, "
						 "utskrevet eller alle; utkast: se «jsr drafts»)",
						 sh_text_echo(optarg));
			}
			break;
		case 'q': f.search = optarg; break;
		case 'j': json = true; break;
		case 'h':
			return cli_help(cmd, "Uten --status vises alle deltakere unntatt utskrevne.\n"
					     "--search finner navn (del av), fødselsnummer eller id (begynnelsen).\n");
		default: return cli_usage(cmd, "ukjent valg");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "uventet argument «%s»", sh_text_echo(argv[optind]));
	if (!cli_replica(c))
		return CLI_FAILED;
	return list_common(c, &f, json);
}

static int run_drafts(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd = &cli_cmds_participant[C_DRAFTS];
	struct sc_filter f = {.status = -1, .drafts = true};
	bool json;
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, &json,
				"Utkast ligger bare på denne maskinen og synkroniseres aldri.\n")) !=
	    CLI_CONTINUE)
		return rc;
	if (optind != argc)
		return cli_usage(cmd, "uventet argument «%s»", sh_text_echo(argv[optind]));
	if (!cli_replica(c))
		return CLI_FAILED;
	return list_common(c, &f, json);
}

/* ---- actions -------------------------------------------------------------- */

/* Shared by discharge, reopen and delete: one id, optional --json. */
static int one_id(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
		  char id[SH_ID_LEN + 1], bool *json)
{
	int rc;

	if ((rc = cli_json_opts(cmd, argc, argv, json, NULL)) != CLI_CONTINUE)
		return rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "oppgi én id");
	if (!cli_replica(c))
		return CLI_FAILED;
	if ((rc = cli_resolve(c, argv[optind], id)) != SH_OK)
		return cli_exit(rc);
	return CLI_CONTINUE;
}

static int action_result(int rc, const struct sc_report *rep, bool json, const char *done)
{
	if (json) {
		cJSON *j = cJSON_CreateObject(), *m = cJSON_AddArrayToObject(j, "missing");

		cJSON_AddBoolToObject(j, "done", rc == SH_OK);
		cJSON_AddStringToObject(j, "status", sh_status_code(rep->status));
		if (rc != SH_OK)
			cJSON_AddStringToObject(j, "reason", rep->why.text);
		for (size_t i = 0; i < rep->nmissing && i < SC_MISSING_MAX; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "field", sh_field(rep->missing[i].field)->name);
			if (rep->missing[i].row[0])
				cJSON_AddStringToObject(e, "row", rep->missing[i].row);
			cJSON_AddItemToArray(m, e);
		}
		cli_print_json(j);
		return cli_exit(rc);
	}
	if (rc != SH_OK) {
		printf("Avvist: %s\n", rep->why.text[0] ? rep->why.text : sh_err_user(rc));
		for (size_t i = 0; i < rep->nmissing && i < SC_MISSING_MAX; i++) {
			const struct sh_field *f = sh_field(rep->missing[i].field);

			printf("  - %s («%s»%s%.8s)\n", f->label, sh_page_title(f->page),
			       rep->missing[i].row[0] ? ", tiltak " : "", rep->missing[i].row);
		}
		return cli_exit(rc);
	}
	printf("%s Status: %s.\n", done, sh_status_label(rep->status));
	return CLI_OK;
}

/* discharge, reopen and delete: one id in, one action, one result out. */
static int run_action(struct cli *c, int argc, char **argv, int which)
{
	static const char *const done[] = {
		[C_DISCHARGE] = "Utskrevet og registrert ferdig.",
		[C_REOPEN] = "Gjenåpnet.",
		[C_DELETE] = "Utkastet er slettet.",
	};
	char id[SH_ID_LEN + 1];
	struct sc_report rep = {0};
	bool json;
	int rc = one_id(c, &cli_cmds_participant[which], argc, argv, id, &json);

	if (rc != CLI_CONTINUE)
		return rc;
	if (which == C_DISCHARGE)
		rc = sc_discharge(c->replica, id, &rep);
	else if (which == C_REOPEN)
		rc = sc_reopen(c->replica, id, &rep);
	else
		rc = sc_draft_delete(c->replica, id, &rep.why);
	return action_result(rc, &rep, json, done[which]);
}

static int run_discharge(struct cli *c, int argc, char **argv)
{
	return run_action(c, argc, argv, C_DISCHARGE);
}

static int run_reopen(struct cli *c, int argc, char **argv)
{
	return run_action(c, argc, argv, C_REOPEN);
}

static int run_delete(struct cli *c, int argc, char **argv)
{
	return run_action(c, argc, argv, C_DELETE);
}

const struct cli_cmd cli_cmds_participant[] = {
	[C_NEW] = {"new", run_new, "[--fnr NR] [--start ÅÅÅÅ-MM-DD] [--kommune NNNN] "
				   "[--finansiering KODE] [--json]",
		   "Ny registrering: lager et utkast og lagrer feltene som er oppgitt."},
	[C_SET] = {"set", run_set, "[--json] ID FELT=VERDI...", "Endrer felt; hvert felt lagres med en gang."},
	[C_SHOW] = {"show", run_show, "[--json] ID", "Viser en deltaker eller et utkast med alle sider."},
	[C_LIST] = {"list", run_list, "[--status S] [--search TEKST] [--json]",
		    "Oversikt over deltakere (utskrevne vises med --status utskrevet)."},
	[C_DRAFTS] = {"drafts", run_drafts, "[--json]", "Viser utkastene på denne maskinen."},
	[C_DISCHARGE] = {"discharge", run_discharge, "[--json] ID",
			 "Utskriv og registrer ferdig (krever at alt påkrevd er fylt ut)."},
	[C_REOPEN] = {"reopen", run_reopen, "[--json] ID", "Gjenåpner en utskrevet deltaker."},
	[C_DELETE] = {"delete", run_delete, "[--json] ID", "Sletter et utkast (aldri en deltaker)."},
	{0, 0, 0, 0},
};
