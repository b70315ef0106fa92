/* rng.c: see rng.h. */
#include <stddef.h>

#include "rng.h"

#include <gsl/gsl_randist.h>
#include <stdlib.h>

l720_rng *l720_rng_new(uint64_t seed)
{
    l720_rng *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->gsl = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->gsl) {
        free(r);
        return NULL;
    }
    /* MT19937 takes an unsigned long seed; 0 selects GSL's default seed, so shift it */
    gsl_rng_set(r->gsl, (unsigned long)(seed ^ (seed >> 32)) + (seed == 0));
    return r;
}

void l720_rng_free(l720_rng *r)
{
    if (!r)
        return;
    gsl_rng_free(r->gsl);
    free(r);
}

double l720_rng_uniform(l720_rng *r) { return gsl_rng_uniform(r->gsl); }

double l720_rng_uniform_pos(l720_rng *r) { return gsl_rng_uniform_pos(r->gsl); }

uint64_t l720_rng_below(l720_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (n <= 0xFFFFFFFFull)
        return gsl_rng_uniform_int(r->gsl, (unsigned long)n);
    /* 64-bit range: combine two 32-bit draws with rejection */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = ((uint64_t)gsl_rng_get(r->gsl) << 32) ^ (uint64_t)gsl_rng_get(r->gsl);
        if (x < lim)
            return x % n;
    }
}

double l720_rng_gaussian(l720_rng *r, double sigma) { return gsl_ran_gaussian(r->gsl, sigma); }

void l720_rng_shuffle(l720_rng *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)l720_rng_below(r, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
