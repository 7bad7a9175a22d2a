/*
 * hf_buf — the growable byte buffer every stage writes into: appends,
 * printf-append, and big-endian (network order) integer writers for the
 * PostgreSQL binary COPY format, as pgbouncer's pktbuf has
 * pktbuf_put_uint16/32/64. Growth goes through hf_mem (abort on OOM), so
 * no call here fails.
 */
#ifndef HF_BUF_H
#define HF_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hf_buf_s {
    unsigned char *data; /* owned; NULL until first append */
    size_t len;          /* bytes in use */
    size_t cap;          /* bytes allocated */
} hf_buf_t;

/* ==== lifecycle ==== */

void hf_buf_reserve(hf_buf_t *b, size_t extra); /* room for extra more bytes */
void hf_buf_reset(hf_buf_t *b);                 /* len = 0, keeps the allocation */
void hf_buf_free(hf_buf_t *b);                  /* releases the allocation; b is empty */

/* ==== appending ==== */

/* The appends and puts below are inline: the COPY row encoder calls them
 * several times per column of every row (bench/callgrind.sh measured the
 * out-of-line calls at ~2 000 instructions per event). Growth stays in
 * hf_buf_reserve. */
static inline void hf_buf_append(hf_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n)
        hf_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void hf_buf_append_str(hf_buf_t *b, const char *s);
/* Decimal text of v (as printf's %lld, without the cost of printf). */
void hf_buf_put_dec(hf_buf_t *b, int64_t v);
/* printf-append. The text is not NUL-terminated in len, but a NUL follows
 * it in data (so data can be read as a string while nothing else is
 * appended). */
void hf_buf_printf(hf_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Big-endian write into / read from 4 bytes at p (patching a length that
 * was reserved earlier, reading one back). */
static inline void hf_be32_store(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Big-endian writers. */
static inline void hf_buf_put_u16(hf_buf_t *b, uint16_t v)
{
    if (b->cap - b->len < 2)
        hf_buf_reserve(b, 2);
    b->data[b->len] = (unsigned char)(v >> 8);
    b->data[b->len + 1] = (unsigned char)v;
    b->len += 2;
}

static inline void hf_buf_put_u32(hf_buf_t *b, uint32_t v)
{
    if (b->cap - b->len < 4)
        hf_buf_reserve(b, 4);
    hf_be32_store(b->data + b->len, v);
    b->len += 4;
}

static inline void hf_buf_put_u64(hf_buf_t *b, uint64_t v)
{
    if (b->cap - b->len < 8)
        hf_buf_reserve(b, 8);
    hf_be32_store(b->data + b->len, (uint32_t)(v >> 32));
    hf_be32_store(b->data + b->len + 4, (uint32_t)v);
    b->len += 8;
}

static inline uint32_t hf_be32_load(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#endif /* HF_BUF_H */
