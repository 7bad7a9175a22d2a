/*
 * hf_sim_rng — the simulator's randomness: xoshiro256** (Blackman & Vigna)
 * seeded with splitmix64, and the few distributions the model draws from
 * (uniform, Bernoulli, integer range, a bell shape without libm, weighted
 * choice). One stream per run, used in a fixed order: same seed, same draws.
 */
#ifndef HF_SIM_RNG_H
#define HF_SIM_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hf__rng_s {
    uint64_t s[4];
} hf__rng_t;

/* ==== seeding and raw draws ==== */

void hf__rng_seed(hf__rng_t *r, uint64_t seed);
uint64_t hf__next(hf__rng_t *r);

/* ==== distributions ==== */

/* Uniform in [0, 1). */
double hf__unif(hf__rng_t *r);
/* True with probability p (no draw when p <= 0). */
bool hf__chance(hf__rng_t *r, double p);
/* Uniform integer in [lo, hi] (no draw when hi <= lo). */
int64_t hf__range(hf__rng_t *r, int64_t lo, int64_t hi);
/* Bell-shaped in [c - w, c + w] (Irwin-Hall of 4 uniforms): no libm. */
double hf__bell(hf__rng_t *r, double c, double w);
/* Index drawn from weights w[0..n). */
size_t hf__pick(hf__rng_t *r, const double *w, size_t n);

#endif /* HF_SIM_RNG_H */
