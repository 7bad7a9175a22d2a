/*
 * hf_mem — allocation wrappers (abort on out-of-memory) and the growable
 * byte buffer used by encoders and COPY builders.
 */
#include "hf_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

static void hf__oom(size_t size)
{
    fprintf(stderr, "level=fatal event=oom msg=\"out of memory allocating %zu bytes\"\n", size);
    abort();
}

void *hf_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        hf__oom(size);
    return p;
}

void *hf_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        hf__oom(nmemb * size);
    return p;
}

void *hf_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        hf__oom(size);
    return p;
}

char *hf_strdup(const char *s)
{
    return hf_strndup(s, strlen(s));
}

char *hf_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = hf_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *hf_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        hf__oom(0);
    char *p = hf_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void hf_free(void *ptr)
{
    free(ptr);
}

void hf_mem_tune_service(void)
{
#ifdef __GLIBC__
    const char *tun = getenv("GLIBC_TUNABLES");
    if (tun && strstr(tun, "glibc.malloc."))
        return;
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}
