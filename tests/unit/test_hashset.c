/*
 * Unit tests for hf_hashset: insert/contains/duplicates, the all-zero key,
 * growth through many doublings, clear, 8-, 16- and odd-sized keys, and a
 * comparison against a plain array over 200 000 random keys.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "hf_hashset.h"
#include "hf_mem.h"

/* splitmix64: a deterministic stream, so failures reproduce. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The 16-byte key for index i: random-looking, distinct per i. */
static void key16(uint64_t i, uint8_t out[16])
{
    uint64_t st = i, a = next_u64(&st), b = i;
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

Test(hashset, insert_contains_duplicates)
{
    hf_hashset_t *s = hf_hashset_new(8, 0);
    uint64_t k = 42, other = 43;
    cr_assert_eq(hf_hashset_count(s), 0);
    cr_assert_not(hf_hashset_contains(s, &k));
    cr_assert(hf_hashset_insert(s, &k), "first insert is new");
    cr_assert_not(hf_hashset_insert(s, &k), "second insert is a duplicate");
    cr_assert(hf_hashset_contains(s, &k));
    cr_assert_not(hf_hashset_contains(s, &other));
    cr_assert_eq(hf_hashset_count(s), 1);
    hf_hashset_destroy(s);
    hf_hashset_destroy(NULL);
}

Test(hashset, zero_key_is_a_key)
{
    for (size_t ks = 1; ks <= 16; ks *= 2) {
        hf_hashset_t *s = hf_hashset_new(ks, 4);
        uint8_t zero[16] = {0}, one[16] = {1};
        cr_assert_not(hf_hashset_contains(s, zero));
        cr_assert(hf_hashset_insert(s, zero));
        cr_assert_not(hf_hashset_insert(s, zero));
        cr_assert(hf_hashset_contains(s, zero));
        cr_assert_not(hf_hashset_contains(s, one));
        cr_assert(hf_hashset_insert(s, one));
        cr_assert_eq(hf_hashset_count(s), 2, "key size %zu", ks);
        hf_hashset_clear(s);
        cr_assert_not(hf_hashset_contains(s, zero), "clear forgets the zero key");
        cr_assert_not(hf_hashset_contains(s, one));
        cr_assert_eq(hf_hashset_count(s), 0);
        hf_hashset_destroy(s);
    }
}

Test(hashset, sized_from_expected)
{
    hf_hashset_t *s = hf_hashset_new(16, 20000);
    size_t cap = hf_hashset_capacity(s);
    cr_assert_geq(cap, 40000, "room for 20000 keys at load 1/2");
    cr_assert_eq(cap & (cap - 1), 0, "power of two");
    uint8_t k[16];
    for (uint64_t i = 0; i < 20000; i++) {
        key16(i, k);
        cr_assert(hf_hashset_insert(s, k));
    }
    cr_assert_eq(hf_hashset_capacity(s), cap, "no growth within the expected count");
    hf_hashset_destroy(s);
}

Test(hashset, growth_past_many_resizes)
{
    hf_hashset_t *s = hf_hashset_new(8, 0);
    size_t cap0 = hf_hashset_capacity(s), resizes = 0, cap = cap0;
    const uint64_t n = 1000000;
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t k = i * 4096; /* low bits all zero: the hash must spread them */
        cr_assert(hf_hashset_insert(s, &k));
        if (hf_hashset_capacity(s) != cap) {
            cr_assert_eq(hf_hashset_capacity(s), cap * 2, "doubles");
            cap = hf_hashset_capacity(s);
            resizes++;
        }
        cr_assert_leq(hf_hashset_count(s) * 2, cap, "load at most 1/2");
    }
    cr_assert_geq(resizes, 15, "%zu resizes from %zu slots", resizes, cap0);
    cr_assert_eq(hf_hashset_count(s), n);
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t k = i * 4096, miss = i * 4096 + 1;
        cr_assert(hf_hashset_contains(s, &k), "key %" PRIu64 " lost in growth", k);
        cr_assert_not(hf_hashset_contains(s, &miss));
        cr_assert_not(hf_hashset_insert(s, &k));
    }
    hf_hashset_destroy(s);
}

Test(hashset, clear_keeps_capacity)
{
    hf_hashset_t *s = hf_hashset_new(8, 0);
    for (uint64_t k = 1; k <= 5000; k++)
        hf_hashset_insert(s, &k);
    size_t cap = hf_hashset_capacity(s);
    hf_hashset_clear(s);
    cr_assert_eq(hf_hashset_count(s), 0);
    cr_assert_eq(hf_hashset_capacity(s), cap);
    for (uint64_t k = 1; k <= 5000; k++)
        cr_assert_not(hf_hashset_contains(s, &k));
    for (uint64_t k = 1; k <= 5000; k++)
        cr_assert(hf_hashset_insert(s, &k), "new again after clear");
    cr_assert_eq(hf_hashset_capacity(s), cap);
    hf_hashset_clear(s);
    hf_hashset_clear(s); /* clearing an empty set is fine */
    cr_assert_eq(hf_hashset_count(s), 0);
    hf_hashset_destroy(s);
}

Test(hashset, sixteen_byte_keys_compare_all_bytes)
{
    /* Same tail, different head; and same head, different tail. */
    hf_hashset_t *s = hf_hashset_new(16, 0);
    uint8_t k[16];
    for (unsigned i = 0; i < 3000; i++) {
        memset(k, 0xab, 16);
        memcpy(k, &i, sizeof(i));
        cr_assert(hf_hashset_insert(s, k));
        memset(k, 0xab, 16);
        memcpy(k + 12, &i, sizeof(i));
        cr_assert(hf_hashset_insert(s, k), "head/tail key %u", i);
    }
    for (unsigned i = 0; i < 3000; i++) {
        memset(k, 0xab, 16);
        memcpy(k, &i, sizeof(i));
        cr_assert(hf_hashset_contains(s, k));
        k[15] ^= 1;
        cr_assert_not(hf_hashset_contains(s, k), "one bit off is another key");
    }
    hf_hashset_destroy(s);
}

Test(hashset, odd_key_size)
{
    hf_hashset_t *s = hf_hashset_new(11, 0);
    uint8_t k[11];
    for (uint32_t i = 0; i < 10000; i++) {
        memset(k, 0, sizeof(k));
        memcpy(k + 7, &i, 4); /* the bytes past the last whole word */
        cr_assert_eq(hf_hashset_insert(s, k), true);
    }
    cr_assert_eq(hf_hashset_count(s), 10000);
    for (uint32_t i = 0; i < 10000; i++) {
        memset(k, 0, sizeof(k));
        memcpy(k + 7, &i, 4);
        cr_assert_not(hf_hashset_insert(s, k));
    }
    hf_hashset_destroy(s);
}

/* Random keys drawn from a range small enough that about half repeat; the
 * reference is a flag per index. Clears part-way, as a batch would. */
static void compare_with_reference(size_t key_size)
{
    enum { DRAWS = 200000, RANGE = 150000 };
    bool *ref = hf_calloc(RANGE, sizeof(bool));
    hf_hashset_t *s = hf_hashset_new(key_size, 1000);
    uint64_t rng = 7;
    size_t count = 0;
    for (size_t d = 0; d < DRAWS; d++) {
        if (d == DRAWS / 2) {
            hf_hashset_clear(s);
            memset(ref, 0, RANGE * sizeof(bool));
            count = 0;
        }
        uint64_t i = next_u64(&rng) % RANGE;
        uint8_t k[16];
        if (key_size == 8) {
            uint64_t st = i, v = next_u64(&st);
            memcpy(k, &v, 8);
        } else {
            key16(i, k);
        }
        bool fresh = hf_hashset_insert(s, k);
        cr_assert_eq(fresh, !ref[i], "draw %zu index %" PRIu64, d, i);
        if (fresh)
            count++;
        ref[i] = true;
        cr_assert_eq(hf_hashset_count(s), count);
    }
    for (uint64_t i = 0; i < RANGE; i++) {
        uint8_t k[16];
        if (key_size == 8) {
            uint64_t st = i, v = next_u64(&st);
            memcpy(k, &v, 8);
        } else {
            key16(i, k);
        }
        cr_assert_eq(hf_hashset_contains(s, k), ref[i], "index %" PRIu64, i);
    }
    hf_hashset_destroy(s);
    hf_free(ref);
}

Test(hashset, matches_reference_8)
{
    compare_with_reference(8);
}

Test(hashset, matches_reference_16)
{
    compare_with_reference(16);
}

Test(hashset, key_size_zero_aborts, .signal = SIGABRT)
{
    hf_hashset_new(0, 0);
}

Test(hashset, key_size_too_large_aborts, .signal = SIGABRT)
{
    hf_hashset_new(HF_HASHSET_KEY_MAX + 1, 0);
}

Test(hashset, impossible_expected_aborts, .signal = SIGABRT)
{
    hf_hashset_new(16, SIZE_MAX / 4);
}
