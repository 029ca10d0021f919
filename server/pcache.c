/* pcache.c: a bounded cache of merged participants (see pcache.h). */
#include "pcache.h"

#include <string.h>

#include "alloc.h"

#define WAYS 4

struct entry {
	bool used;
	uint64_t version, stamp;
	struct sh_participant p; /* p.id is the key */
	struct sh_record rec;    /* its values as stored, with versions */
};

struct ss_pcache {
	size_t sets;
	uint64_t clock;
	struct entry *e; /* sets × WAYS */
};

struct ss_pcache *ss_pcache_new(size_t sets)
{
	struct ss_pcache *c = sh_calloc(1, sizeof(*c));

	if (!c || sets == 0 || !(c->e = sh_calloc(sets * WAYS, sizeof(*c->e)))) {
		sh_free(c);
		return NULL;
	}
	c->sets = sets;
	return c;
}

static void drop(struct entry *e)
{
	sh_participant_clear(&e->p);
	sh_record_clear(&e->rec);
	e->used = false;
}

void ss_pcache_clear(struct ss_pcache *c)
{
	for (size_t i = 0; c && i < c->sets * WAYS; i++)
		if (c->e[i].used)
			drop(&c->e[i]);
}

void ss_pcache_free(struct ss_pcache *c)
{
	if (!c)
		return;
	ss_pcache_clear(c);
	sh_free(c->e);
	sh_free(c);
}

/* FNV-1a: ids are random hex, but a client chooses them. */
static struct entry *set_of(struct ss_pcache *c, const char *id)
{
	uint64_t h = 14695981039346656037ull;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return &c->e[(h % c->sets) * WAYS];
}

static struct entry *find(struct ss_pcache *c, const char *id)
{
	struct entry *s = set_of(c, id);

	for (int w = 0; w < WAYS; w++)
		if (s[w].used && strcmp(s[w].p.id, id) == 0)
			return &s[w];
	return NULL;
}

bool ss_pcache_take(struct ss_pcache *c, const char *id, uint64_t version, struct sh_participant *p,
		    struct sh_record *rec)
{
	struct entry *e = c ? find(c, id) : NULL;

	if (!e)
		return false;
	if (e->version != version) {
		drop(e);
		return false;
	}
	*p = e->p;
	sh_record_clear(rec);
	*rec = e->rec;
	e->used = false;
	sh_participant_init(&e->p);
	memset(&e->rec, 0, sizeof(e->rec));
	return true;
}

void ss_pcache_keep(struct ss_pcache *c, uint64_t version, struct sh_participant *p,
		    struct sh_record *rec)
{
	struct entry *e, *s;

	if (!c) {
		sh_participant_clear(p);
		sh_record_clear(rec);
		return;
	}
	if (!(e = find(c, p->id))) {
		s = set_of(c, p->id);
		e = &s[0];
		for (int w = 1; w < WAYS && e->used; w++)
			if (!s[w].used || s[w].stamp < e->stamp)
				e = &s[w];
	}
	if (e->used)
		drop(e);
	e->p = *p;
	e->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	e->version = version;
	e->stamp = ++c->clock;
	e->used = true;
	sh_participant_init(p);
}
