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

void hf_buf_append(hf_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    hf_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

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

void hf_buf_put_u16(hf_buf_t *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    hf_buf_append(b, p, 2);
}

void hf_buf_put_u32(hf_buf_t *b, uint32_t v)
{
    unsigned char p[4];
    hf_be32_store(p, v);
    hf_buf_append(b, p, 4);
}

void hf_buf_put_u64(hf_buf_t *b, uint64_t v)
{
    unsigned char p[8];
    hf_be32_store(p, (uint32_t)(v >> 32));
    hf_be32_store(p + 4, (uint32_t)v);
    hf_buf_append(b, p, 8);
}
