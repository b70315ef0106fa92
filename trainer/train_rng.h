/* train_rng.h: the trainer's counter-based random numbers.
 *
 * A value is a pure function of (seed, stream, counter): no hidden state, so
 * a checkpoint only keeps the seed and the counters, and the CPU reference
 * needs nothing beyond libc. The mixer is SplitMix64's finaliser applied to
 * a combination of the three inputs.
 */
#ifndef L720_TRAIN_RNG_H
#define L720_TRAIN_RNG_H

#include <stdint.h>

static inline uint64_t l720_trng_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* 64 random bits for (seed, stream, counter). */
static inline uint64_t l720_trng_u64(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return l720_trng_mix(l720_trng_mix(seed ^ l720_trng_mix(stream)) + counter);
}

/* Uniform in [0, n), n >= 1 (the modulo bias is below 2^-40 for n < 2^24). */
static inline uint64_t l720_trng_below(uint64_t seed, uint64_t stream, uint64_t counter,
                                       uint64_t n)
{
    return l720_trng_u64(seed, stream, counter) % n;
}

#endif
