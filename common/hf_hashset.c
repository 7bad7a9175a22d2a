/*
 * hf_hashset — open-addressing set of fixed-size keys.
 *
 * The table is cap slots of key_size bytes; an all-zero slot is empty, so
 * the all-zero key itself is kept out of the table in has_zero. Probing is
 * linear from the key's hash; the load stays at most one half (grow before
 * the insert that would pass it), which keeps probe runs short and
 * guarantees every probe loop meets an empty slot. Nothing is ever removed
 * singly, so no tombstones are needed: clear zeroes the whole table.
 */
#include "hf_hashset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_mem.h"

#define HF__HASHSET_MIN_CAP 16

struct hf_hashset_s {
    unsigned char *slot; /* cap * key_size bytes, owned; all-zero = empty */
    size_t key_size;     /* bytes per key, 1..HF_HASHSET_KEY_MAX */
    size_t cap;          /* slots; a power of two >= HF__HASHSET_MIN_CAP */
    size_t n;            /* keys in slot (the all-zero key is not among them) */
    bool has_zero;       /* the all-zero key was inserted */
};

/* ==== helpers ==== */

static void hf__hashset_die(const char *what, size_t v) __attribute__((noreturn));
static void hf__hashset_die(const char *what, size_t v)
{
    fprintf(stderr, "level=fatal event=hashset msg=\"%s: %zu\"\n", what, v);
    abort();
}


/* Keys are folded 8 bytes at a time (the tail zero-padded), each word
 * mixed into the running hash, so 16-byte ids that share a half still
 * spread. */
static inline uint64_t hf__hash(const unsigned char *key, size_t size)
{
    uint64_t h = size, w;
    for (; size >= 8; key += 8, size -= 8) {
        memcpy(&w, key, 8);
        h = hf_hash_mix64(h ^ w);
    }
    if (size) {
        w = 0;
        memcpy(&w, key, size);
        h = hf_hash_mix64(h ^ w);
    }
    return h;
}

static inline bool hf__is_zero(const unsigned char *p, size_t size)
{
    uint64_t acc = 0, w;
    for (; size >= 8; p += 8, size -= 8) {
        memcpy(&w, p, 8);
        acc |= w;
    }
    for (; size; p++, size--)
        acc |= *p;
    return acc == 0;
}

/* The slot holding key, or the empty slot where it would go. key is not
 * all-zero; the table has an empty slot (load <= 1/2). */
static unsigned char *hf__find(const hf_hashset_t *s, const unsigned char *key)
{
    size_t mask = s->cap - 1;
    for (size_t i = (size_t)hf__hash(key, s->key_size) & mask;; i = (i + 1) & mask) {
        unsigned char *p = s->slot + i * s->key_size;
        if (hf__is_zero(p, s->key_size) || memcmp(p, key, s->key_size) == 0)
            return p;
    }
}

/* Largest capacity whose table size fits, halved once more so doubling it
 * can be checked without overflow. */
static size_t hf__cap_limit(size_t key_size)
{
    return SIZE_MAX / 2 / key_size;
}

static void hf__grow(hf_hashset_t *s)
{
    if (s->cap > hf__cap_limit(s->key_size))
        hf__hashset_die("table too large to double, slots", s->cap);
    hf_hashset_t old = *s;
    s->cap *= 2;
    s->slot = hf_calloc(s->cap, s->key_size);
    for (size_t i = 0; i < old.cap; i++) {
        const unsigned char *p = old.slot + i * old.key_size;
        if (!hf__is_zero(p, old.key_size))
            memcpy(hf__find(s, p), p, s->key_size);
    }
    hf_free(old.slot);
}

/* ==== lifecycle ==== */

hf_hashset_t *hf_hashset_new(size_t key_size, size_t expected)
{
    if (key_size == 0 || key_size > HF_HASHSET_KEY_MAX)
        hf__hashset_die("key size out of range", key_size);
    size_t cap = HF__HASHSET_MIN_CAP;
    while (cap / 2 < expected) {
        if (cap > hf__cap_limit(key_size))
            hf__hashset_die("too many keys expected", expected);
        cap *= 2;
    }
    hf_hashset_t *s = hf_calloc(1, sizeof(*s));
    s->slot = hf_calloc(cap, key_size);
    s->key_size = key_size;
    s->cap = cap;
    return s;
}

void hf_hashset_destroy(hf_hashset_t *s)
{
    if (!s)
        return;
    hf_free(s->slot);
    hf_free(s);
}

void hf_hashset_clear(hf_hashset_t *s)
{
    if (s->n)
        memset(s->slot, 0, s->cap * s->key_size);
    s->n = 0;
    s->has_zero = false;
}

/* ==== keys ==== */

bool hf_hashset_insert(hf_hashset_t *s, const void *key)
{
    if (hf__is_zero(key, s->key_size)) {
        bool fresh = !s->has_zero;
        s->has_zero = true;
        return fresh;
    }
    unsigned char *p = hf__find(s, key);
    if (!hf__is_zero(p, s->key_size))
        return false;
    if (s->n + 1 > s->cap / 2) {
        hf__grow(s);
        p = hf__find(s, key);
    }
    memcpy(p, key, s->key_size);
    s->n++;
    return true;
}

bool hf_hashset_contains(const hf_hashset_t *s, const void *key)
{
    if (hf__is_zero(key, s->key_size))
        return s->has_zero;
    return !hf__is_zero(hf__find(s, key), s->key_size);
}

/* ==== size ==== */

size_t hf_hashset_count(const hf_hashset_t *s)
{
    return s->n + s->has_zero;
}

size_t hf_hashset_capacity(const hf_hashset_t *s)
{
    return s->cap;
}
