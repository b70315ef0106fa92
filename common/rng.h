/* rng.h: a seeded random number generator (GSL's MT19937 behind a small API). */
#ifndef L720_RNG_H
#define L720_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

typedef struct l720_rng {
    gsl_rng *gsl; /* owned */
} l720_rng;

l720_rng *l720_rng_new(uint64_t seed);
void l720_rng_free(l720_rng *r);
double l720_rng_uniform(l720_rng *r);                /* [0, 1) */
double l720_rng_uniform_pos(l720_rng *r);            /* (0, 1) */
uint64_t l720_rng_below(l720_rng *r, uint64_t n);    /* uniform in [0, n), n >= 1 */
double l720_rng_gaussian(l720_rng *r, double sigma); /* N(0, sigma^2) */
/* Fisher-Yates shuffle of idx[0..n). */
void l720_rng_shuffle(l720_rng *r, uint32_t *idx, size_t n);

#endif
