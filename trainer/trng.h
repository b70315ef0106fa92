/* trng.h: the trainer's tiny deterministic random numbers.
 *
 * A counter-based generator (splitmix64): the whole state is one uint64, so a
 * checkpoint saves it as one number, and the same seed gives the same stream on
 * every machine (the CPU reference and the CUDA trainer share it). Depends on
 * libc/libm only.
 */
#ifndef L720_TRNG_H
#define L720_TRNG_H

#include <stdint.h>

/* Next 64 random bits; advances *state by one step. */
uint64_t l720_trng_next(uint64_t *state);

/* Uniform in (0, 1): never 0, never 1 (53 bits). */
double l720_trng_uniform(uint64_t *state);

/* Uniform integer in [0, n), n >= 1 (rejection, no modulo bias). */
uint64_t l720_trng_index(uint64_t *state, uint64_t n);

/* Standard normal by Box-Muller: draws two uniforms, returns the cosine branch
 * (the sine branch is dropped so that the state stays one number). */
double l720_trng_normal(uint64_t *state);

/* A well-mixed seed for stream `stream` derived from `seed` (e.g. one stream per
 * parameter tensor, so each tensor's values do not depend on the others' sizes). */
uint64_t l720_trng_stream(uint64_t seed, uint64_t stream);

#endif
