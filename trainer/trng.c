/* trng.c: see trng.h. */
#include "trng.h"

#include <math.h>

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t l720_trng_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return mix64(*state);
}

double l720_trng_uniform(uint64_t *state)
{
    /* 53 random bits, shifted by half a step: (k + 0.5) / 2^53 */
    return ((double)(l720_trng_next(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

uint64_t l720_trng_index(uint64_t *state, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* accept [0, limit) */
    for (;;) {
        uint64_t r = l720_trng_next(state);
        if (r < limit)
            return r % n;
    }
}

double l720_trng_normal(uint64_t *state)
{
    double u1 = l720_trng_uniform(state), u2 = l720_trng_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t l720_trng_stream(uint64_t seed, uint64_t stream)
{
    return mix64(mix64(seed) ^ mix64(stream + 0x632be59bd9b4e019ull));
}
