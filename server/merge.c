/* merge.c: field-level merge, rules on the server, conflicts, duplicates. */
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "date.h"
#include "fnr.h"
#include "hlc.h"
#include "log.h"
#include "rules.h"
#include "status.h"

/* The participant being changed, kept while its changes are contiguous. */
struct pstate {
	char id[SH_ID_LEN + 1];
	bool loaded, exists, dirty, person_changed;
	char kommune[8], moved_from[8];
	uint64_t stored, version; /* as loaded; of its last write */
	struct sh_participant p;
};

static void touch_kommune(struct ss_merge *m, const char *k)
{
	for (size_t i = 0; i < m->nkommuner; i++)
		if (strcmp(m->kommuner[i], k) == 0)
			return;
	if (m->nkommuner < 64)
		snprintf(m->kommuner[m->nkommuner++], 8, "%s", k);
}

static int date_or(const char *v, int otherwise)
{
	int d;

	return (v && sh_date_parse(v, &d) == SH_OK) ? d : otherwise;
}

struct dup_ctx {
	struct ss_merge *m;
	struct pstate *ps;
	int rc;
};

static int dup_found(const char *id, const char *kommune, const char *start, const char *end,
		     void *arg)
{
	struct dup_ctx *x = arg;
	struct pstate *ps = x->ps;
	struct sh_conflict c = {0};

	if (!start || !ps->p.v[SH_F_STARTDATO] ||
	    !sh_periods_overlap(date_or(ps->p.v[SH_F_STARTDATO], 0),
				date_or(ps->p.v[SH_F_SLUTTDATO], -1), date_or(start, 0),
				date_or(end, -1)))
		return SH_OK;
	if (ss_duplicate_open(x->m->store, ps->id, id))
		return SH_OK;
	c.kind = "duplicate";
	c.participant = ps->id;
	c.kommune = ps->kommune;
	c.other = id;
	c.other_kommune = kommune;
	x->m->stats.duplicates++;
	touch_kommune(x->m, kommune);
	return ss_conflict_add(x->m->store, &c, x->m->now);
}

/*
 * Open duplicate conflicts of this participant that no longer hold (the
 * other one ended earlier, or the number changed) close by themselves.
 */
static int close_stale_duplicates(struct ss_merge *m, struct pstate *ps)
{
	int64_t ids[16];
	char others[16][SH_ID_LEN + 1];
	size_t n = ss_duplicates_of(m->store, ps->id, ids, others, 16);

	for (size_t i = 0; i < n; i++) {
		struct sh_participant o;
		bool exists;
		char k[8];
		bool still = false;
		int rc;

		sh_participant_init(&o);
		rc = ss_participant_load(m->store, others[i], &exists, k, &o);
		if (rc == SH_OK && exists && ps->p.v[SH_F_FNR] && o.v[SH_F_FNR] &&
		    strcmp(ps->p.v[SH_F_FNR], o.v[SH_F_FNR]) == 0 && ps->p.v[SH_F_STARTDATO] &&
		    o.v[SH_F_STARTDATO])
			still = sh_periods_overlap(date_or(ps->p.v[SH_F_STARTDATO], 0),
						   date_or(ps->p.v[SH_F_SLUTTDATO], -1),
						   date_or(o.v[SH_F_STARTDATO], 0),
						   date_or(o.v[SH_F_SLUTTDATO], -1));
		sh_participant_clear(&o);
		if (rc != SH_OK)
			return rc;
		if (!still && (rc = ss_conflict_resolve(m->store, ids[i], NULL, "system")) != SH_OK)
			return rc;
	}
	return SH_OK;
}

/* Writes what the participant's changes imply; forgets it. */
static int flush(struct ss_merge *m, struct pstate *ps)
{
	int rc = SH_OK;

	if (ps->loaded && ps->dirty) {
		enum sh_status st;

		sh_participant_tidy(&ps->p);
		st = sh_status_of(m->d, &ps->p);
		if (ps->moved_from[0]) {
			rc = ss_participant_move(m->store, ps->id, &ps->version);
			touch_kommune(m, ps->moved_from);
		}
		if (rc == SH_OK)
			rc = ss_participant_put(m->store, &ps->p, ps->kommune, sh_status_code(st), ps->version);
		if (rc == SH_OK && ps->person_changed) {
			struct dup_ctx x = {m, ps, SH_OK};

			rc = close_stale_duplicates(m, ps);
			if (rc == SH_OK && ps->p.v[SH_F_FNR])
				rc = ss_same_person(m->store, ps->p.v[SH_F_FNR], ps->id, dup_found, &x);
		}
		touch_kommune(m, ps->kommune);
		if (m->written) {
			if (m->written->len)
				sh_buf_append(m->written, " ", 1);
			sh_buf_puts(m->written, ps->id);
		}
	}
	/* as now stored: the next change-set for it need not read it again */
	if (rc == SH_OK && ps->loaded && (ps->exists || ps->dirty))
		ss_participant_keep(m->store, ps->dirty ? ps->version : ps->stored, &ps->p);
	sh_participant_clear(&ps->p);
	memset(ps, 0, sizeof(*ps));
	return rc;
}

/* The kommune a new participant gets: its first kommune change in c (from its first change on). */
static const char *kommune_in_set(const struct sh_change *c, size_t n, const char *pid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].participant, pid) == 0 && strcmp(c[i].field, "kommune") == 0)
			return c[i].value;
	return NULL;
}

static int load(struct ss_merge *m, struct pstate *ps, const char *pid, const struct sh_change *c,
		size_t n)
{
	int rc;

	sh_participant_init(&ps->p);
	snprintf(ps->id, sizeof(ps->id), "%s", pid);
	rc = ss_participant_take(m->store, pid, &ps->exists, ps->kommune, &ps->stored, &ps->p);
	if (rc == SH_OK && !ps->exists) {
		const char *k = kommune_in_set(c, n, pid);

		snprintf(ps->kommune, sizeof(ps->kommune), "%s", k ? k : "");
	}
	ps->loaded = true;
	return rc;
}

static void result(struct sh_results *w, const char *code, uint64_t version, const char *value,
		   const char *reason)
{
	struct sh_result r = {code, version, value, reason};

	sh_wire_results_add(w, &r);
}

static void reject(struct ss_merge *m, struct sh_results *w, const char *reason)
{
	m->stats.rejected++;
	result(w, "rejected", 0, NULL, reason);
}

/* Writes one value (and, when the rules say so, its dependents). */
static int write_value(struct ss_merge *m, struct pstate *ps, const struct sh_field *f,
		       const char *row, const char *value, uint64_t hlc, uint64_t *version)
{
	int rc;

	*version = ss_next_seq(m->store);
	rc = ss_field_put(m->store, ps->id, f->name, f->repeat ? row : "", value, hlc, m->device,
			  m->user->username, *version);
	if (rc == SH_OK)
		rc = sh_participant_set(&ps->p, f->id, f->repeat ? row : NULL, value);
	ps->version = *version;
	ps->dirty = true;
	return rc;
}

/* A new number makes the name from Folkeregisteret stale. */
static int renumbered(struct ss_merge *m, struct pstate *ps, uint64_t hlc)
{
	static const enum sh_field_id stale[] = {SH_F_NAVN, SH_F_KJONN};
	uint64_t v;
	int rc = SH_OK;

	for (size_t i = 0; rc == SH_OK && i < 2; i++) {
		if (!ps->p.v[stale[i]])
			continue;
		v = ss_next_seq(m->store);
		rc = ss_field_put(m->store, ps->id, sh_field(stale[i])->name, "", "", hlc, "server",
				  "folkeregisteret", v);
		if (rc == SH_OK)
			rc = sh_participant_set(&ps->p, stale[i], NULL, NULL);
		ps->version = v;
	}
	return rc;
}

static int one_change(struct ss_merge *m, struct pstate *ps, const struct sh_change *c,
		      struct sh_results *w)
{
	const struct sh_field *f = sh_field_by_name(c->field);
	struct ss_field cur;
	struct sh_effects e;
	struct sh_reason why = {{0}};
	char norm[SH_VALUE_MAX + 1];
	uint64_t merged, version = 0;
	bool conflict = false, wins = true;
	int rc, cmp;

	if (f->writer == SH_WRITER_SERVER) {
		sh_reason_set(&why, "%s skrives bare av serveren (Folkeregisteret).", f->label);
		reject(m, w, why.text);
		return SH_OK;
	}
	if (m->hlc_limit && c->hlc > m->hlc_limit) {
		reject(m, w, "Endringen er gjort etter at brukeren ble deaktivert, og blir ikke lagret.");
		return SH_OK;
	}
	if (sh_hlc_recv(m->clock, c->hlc, &merged) != SH_OK) {
		reject(m, w, "Klokken på maskinen går for langt foran. Rett klokken og synkroniser på nytt.");
		return SH_OK;
	}
	if (!ps->kommune[0]) {
		reject(m, w, "Ukjent deltaker: endringssettet mangler kommune for en ny deltaker.");
		return SH_OK;
	}
	if (!ss_user_in(m->user, ps->kommune)) {
		reject(m, w, "Deltakeren hører til en kommune du ikke har tilgang til.");
		return SH_OK;
	}
	if ((rc = sh_field_check_value(m->d, f, c->value, norm, &why)) != SH_OK) {
		reject(m, w, why.text);
		return SH_OK;
	}
	if (f->id == SH_F_KOMMUNE && norm[0] && !ss_user_in(m->user, norm)) {
		reject(m, w, "Du kan ikke flytte deltakeren til en kommune du ikke har tilgang til.");
		return SH_OK;
	}
	if ((rc = ss_field_get(m->store, ps->id, f->name, f->repeat ? c->row : "", &cur)) != SH_OK)
		return rc;
	if (!cur.exists && ss_participant_entries(m->store, ps->id) >= SS_PARTICIPANT_VALUES_MAX) {
		sh_reason_set(&why, "Deltakeren har nådd grensen på %d verdier; endringen ble ikke lagret.",
			      SS_PARTICIPANT_VALUES_MAX);
		reject(m, w, why.text);
		return SH_OK;
	}
	if (cur.exists && cur.version != c->base) {
		if (strcmp(cur.value, norm) == 0) {
			m->stats.superseded++;
			result(w, "superseded", cur.version, NULL, NULL);
			return SH_OK;
		}
		if (strcmp(cur.device, m->device) == 0) {
			/* its own earlier write: not a conflict */
			if (c->hlc <= cur.hlc) {
				m->stats.superseded++;
				result(w, "superseded", cur.version, cur.value, NULL);
				return SH_OK;
			}
		} else {
			conflict = true;
			cmp = sh_hlc_cmp(c->hlc, m->device, cur.hlc, cur.device);
			wins = cmp > 0;
		}
	}
	if (wins) {
		struct sh_assign a = {f->id, f->repeat ? c->row : NULL, norm,
				      f->writer == SH_WRITER_ACTION ? SH_WRITER_ACTION : SH_WRITER_CASEWORKER, true};

		if (f->id == SH_F_UTSKREVET && norm[0]) {
			struct sh_missing miss[4];
			size_t nm;

			if (sh_discharge_check(m->d, &ps->p, miss, 4, &nm, &why) != SH_OK) {
				reject(m, w, why.text);
				return SH_OK;
			}
		}
		if (sh_rules_check(m->d, &ps->p, &a, &e) != SH_OK) {
			reject(m, w, e.why.text);
			return SH_OK;
		}
		if ((rc = write_value(m, ps, f, c->row, norm, c->hlc, &version)) != SH_OK)
			return rc;
		for (size_t k = 0; k < e.nclear && rc == SH_OK; k++) {
			uint64_t v2;

			rc = write_value(m, ps, sh_field(e.clear[k]), NULL, "", c->hlc, &v2);
		}
		if (rc == SH_OK && f->id == SH_F_FNR) {
			if (m->renumbered && ps->exists && cur.exists && cur.value[0])
				sh_buf_printf(m->renumbered, "%s:%s ", ps->id, cur.value);
			rc = renumbered(m, ps, c->hlc);
		}
		if (rc != SH_OK)
			return rc;
		if (f->id == SH_F_FNR || f->id == SH_F_STARTDATO || f->id == SH_F_SLUTTDATO || !ps->exists)
			ps->person_changed = true;
		if (f->id == SH_F_KOMMUNE && ps->exists && strcmp(ps->kommune, norm) != 0) {
			snprintf(ps->moved_from, sizeof(ps->moved_from), "%s", ps->kommune);
			snprintf(ps->kommune, sizeof(ps->kommune), "%.7s", norm);
		}
	}
	if (conflict) {
		struct sh_conflict k = {
			.kind = "field", .participant = ps->id, .kommune = ps->kommune,
			.field = f->name, .row = f->repeat ? c->row : "",
			.winner = wins ? norm : cur.value, .loser = wins ? cur.value : norm,
			.winner_author = wins ? m->user->username : cur.author,
			.loser_author = wins ? cur.author : m->user->username,
			.winner_hlc = wins ? c->hlc : cur.hlc, .loser_hlc = wins ? cur.hlc : c->hlc,
		};

		if ((rc = ss_conflict_add(m->store, &k, m->now)) != SH_OK)
			return rc;
		m->stats.conflicts++;
		touch_kommune(m, ps->kommune);
		result(w, "conflict", wins ? version : cur.version, wins ? NULL : cur.value, NULL);
		return SH_OK;
	}
	m->stats.applied++;
	result(w, "applied", version, NULL, NULL);
	return SH_OK;
}

static int resolve(struct ss_merge *m, const struct sh_change *c, struct sh_results *w)
{
	int64_t id = strtoll(c->row, NULL, 10);
	int rc = ss_conflict_resolve(m->store, id, m->user, m->user->username);

	if (rc == SH_ERR_NOT_FOUND || rc == SH_ERR_DENIED) {
		reject(m, w, rc == SH_ERR_NOT_FOUND ? "Fant ikke konflikten."
							   : "Konflikten gjelder en kommune du ikke har tilgang til.");
		return SH_OK;
	}
	if (rc == SH_OK) {
		m->stats.applied++;
		result(w, "applied", ss_seq(m->store), NULL, NULL);
		for (size_t i = 0; i < m->user->nkommuner; i++)
			touch_kommune(m, m->user->kommuner[i]);
	}
	return rc;
}

int ss_merge_changes(struct ss_merge *m, const struct sh_change *c, size_t n,
		     struct sh_buf *results)
{
	struct pstate ps;
	struct sh_results w;
	int rc = SH_OK;

	memset(&ps, 0, sizeof(ps));
	sh_wire_results_begin(&w, results);
	for (size_t i = 0; i < n && rc == SH_OK; i++) {
		if (strcmp(c[i].field, SH_RESOLVE) == 0) {
			rc = resolve(m, &c[i], &w);
			continue;
		}
		if (!ps.loaded || strcmp(ps.id, c[i].participant) != 0) {
			/* its changes start here: the search for its municipality too */
			if ((rc = flush(m, &ps)) != SH_OK ||
			    (rc = load(m, &ps, c[i].participant, c + i, n - i)) != SH_OK)
				break;
		}
		rc = one_change(m, &ps, &c[i], &w);
	}
	if (rc == SH_OK)
		rc = flush(m, &ps);
	else
		sh_participant_clear(&ps.p); /* the caller rolls back */
	sh_wire_results_end(&w);
	return rc == SH_OK ? results->err : rc;
}

int ss_merge_lookup(struct ss_merge *m, const char *participant, const char *fnr, const char *navn,
		    const char *kjonn, bool *applied)
{
	static const struct ss_user freg = {.username = "folkeregisteret"};
	const struct ss_user *user = m->user;
	const char *device = m->device;
	struct pstate ps;
	struct sh_fnr f;
	uint64_t hlc = sh_hlc_now(m->clock), v;
	int rc;

	*applied = false;
	memset(&ps, 0, sizeof(ps));
	m->user = &freg;
	m->device = "server";
	rc = load(m, &ps, participant, NULL, 0);
	if (rc == SH_OK && ps.exists && ps.p.v[SH_F_FNR] && strcmp(ps.p.v[SH_F_FNR], fnr) == 0) {
		if (!ps.p.v[SH_F_NAVN] || strcmp(ps.p.v[SH_F_NAVN], navn) != 0)
			rc = write_value(m, &ps, sh_field(SH_F_NAVN), NULL, navn, hlc, &v);
		/* the number says the gender unless it follows the 2032 rules */
		if (rc == SH_OK && kjonn && *kjonn && sh_fnr_parse(fnr, true, &f) == SH_OK &&
		    f.gender == SH_GENDER_UNKNOWN && (!ps.p.v[SH_F_KJONN] || strcmp(ps.p.v[SH_F_KJONN], kjonn)))
			rc = write_value(m, &ps, sh_field(SH_F_KJONN), NULL, kjonn, hlc, &v);
		*applied = rc == SH_OK;
	}
	if (rc == SH_OK)
		rc = flush(m, &ps);
	else
		sh_participant_clear(&ps.p);
	m->user = user;
	m->device = device;
	return rc;
}
