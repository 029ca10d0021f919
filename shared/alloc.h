/*
 * alloc.h: thin allocation wrappers so tests can make the Nth allocation
 * fail (curl's torture idea). All jobbsjanse code allocates through these;
 * cJSON is hooked to them by sh_alloc_hook_cjson().
 */
#ifndef SH_ALLOC_H
#define SH_ALLOC_H

#include <stddef.h>

void *sh_malloc(size_t n);
void *sh_calloc(size_t count, size_t size);
void *sh_realloc(void *p, size_t n);
char *sh_strdup(const char *s);          /* NULL in, NULL out */
char *sh_strndup(const char *s, size_t n);
void sh_free(void *p);

/* Test hook: the allocation after `n` more succeed fails; -1 turns it off. */
void sh_alloc_fail_after(long n);

/* Route cJSON's allocations through the wrappers above. Call once. */
void sh_alloc_hook_cjson(void);

#endif
