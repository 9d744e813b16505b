#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* Out-of-memory policy: report and abort. Allocation sizes derived from input are capped by
 * the callers (core_buf max, batch capacities), so reaching this means the machine itself is
 * out of memory, where no recovery would be honest. */
static void oom(size_t n)
{
    fprintf(stderr, "diorama: out of memory allocating %zu bytes\n", n);
    abort();
}

void *core_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *core_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *core_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *core_strdup(const char *s)
{
    return core_strndup(s, strlen(s));
}

char *core_strndup(const char *s, size_t n)
{
    char *p = core_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void core_free(void *p)
{
    free(p);
}
