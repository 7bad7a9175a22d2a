/*
 * hf_buf — growable byte buffer: appends, printf-append, big-endian puts.
 */
#include "hf_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_mem.h"

/* ==== lifecycle ==== */

void hf_buf_reserve(hf_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > ((size_t)-1) / 2)
            abort(); /* more than half the address space: not a real request */
        cap *= 2;
    }
    b->data = hf_realloc(b->data, cap);
    b->cap = cap;
}

void hf_buf_reset(hf_buf_t *b)
{
    b->len = 0;
}

void hf_buf_free(hf_buf_t *b)
{
    hf_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ==== appending ==== */

void hf_buf_append_str(hf_buf_t *b, const char *s)
{
    hf_buf_append(b, s, strlen(s));
}

void hf_buf_printf(hf_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    hf_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hf_buf_put_dec(hf_buf_t *b, int64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    /* digits of the magnitude, as unsigned: INT64_MIN has no positive twin */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        hf_buf_append(b, "-", 1);
    hf_buf_append(b, tmp + i, sizeof(tmp) - i);
}
