/*
 * hf_hashset — a set of fixed-size keys (event ids, packed partition keys):
 * open addressing with linear probing over a power-of-two table that
 * doubles before it is half full. Keys are compared as bytes; the set
 * copies them in, so the caller's key may go away after the call.
 *
 * Memory follows hf_mem's rule: growth goes through hf_mem (abort on OOM),
 * and a size no machine could hold (a key size outside
 * [1, HF_HASHSET_KEY_MAX], a table past the address space) is a programming
 * error that aborts too, so no call here fails and none returns NULL.
 * Not thread-safe: one owner at a time.
 */
#ifndef HF_HASHSET_H
#define HF_HASHSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HF_HASHSET_KEY_MAX 64 /* bytes; longer keys want a digest first */

typedef struct hf_hashset_s hf_hashset_t;

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit,
 * so the low bits of the result depend on the whole input. The set hashes
 * its keys with it; other hashed structures (the loader's seen filter) share
 * it from here. */
static inline uint64_t hf_hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* ==== lifecycle ==== */

/* A set of key_size-byte keys with room for `expected` keys before the
 * first growth (0 = a small default). The caller owns the result and frees
 * it with hf_hashset_destroy. */
hf_hashset_t *hf_hashset_new(size_t key_size, size_t expected) __attribute__((returns_nonnull));
/* Frees s and everything in it; NULL is a no-op. */
void hf_hashset_destroy(hf_hashset_t *s);
/* Empties s but keeps its table (no allocation on the next inserts up to
 * the capacity it grew to). */
void hf_hashset_clear(hf_hashset_t *s);

/* ==== keys ==== */

/* Adds the key_size bytes at key; true when they were not in s before. */
bool hf_hashset_insert(hf_hashset_t *s, const void *key);
bool hf_hashset_contains(const hf_hashset_t *s, const void *key);

/* ==== size ==== */

size_t hf_hashset_count(const hf_hashset_t *s);    /* keys in s */
size_t hf_hashset_capacity(const hf_hashset_t *s); /* table slots (a power of two) */

#endif /* HF_HASHSET_H */
