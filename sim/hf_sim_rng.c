/*
 * hf_sim_rng — xoshiro256** seeded with splitmix64, and the distributions
 * built on it (hf_sim_rng.h). Pure arithmetic: no libm, no rand(), no clock.
 */
#include "hf_sim_rng.h"

/* ==== PRNG: xoshiro256** (Blackman & Vigna), seeded with splitmix64 ==== */

static uint64_t hf__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void hf__rng_seed(hf__rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = hf__splitmix64(&x);
}

static uint64_t hf__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hf__next(hf__rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = hf__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = hf__rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
double hf__unif(hf__rng_t *r)
{
    return (double)(hf__next(r) >> 11) * (1.0 / 9007199254740992.0);
}

bool hf__chance(hf__rng_t *r, double p)
{
    return p > 0 && hf__unif(r) < p;
}

/* Uniform integer in [lo, hi]. */
int64_t hf__range(hf__rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(hf__next(r) % (uint64_t)(hi - lo + 1));
}

/* Bell-shaped in [c - w, c + w] (Irwin-Hall of 4 uniforms): no libm. */
double hf__bell(hf__rng_t *r, double c, double w)
{
    double s = hf__unif(r) + hf__unif(r) + hf__unif(r) + hf__unif(r);
    return c + (s - 2.0) * (w / 2.0);
}

/* Index drawn from weights w[0..n). */
size_t hf__pick(hf__rng_t *r, const double *w, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double x = hf__unif(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}
