/* gradcheck.h: central finite differences for checking hand-written
 * backward passes (the unit tests, and the CUDA kernels against the CPU).
 *
 * A directional check compares (L(x + ε·dir) − L(x − ε·dir)) / 2ε with the
 * analytic Σ grad·dir: one number per tensor that sees every element of the
 * gradient, with far less float noise than element-by-element differences.
 */
#ifndef L720_GRADCHECK_H
#define L720_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

/* The loss as a function of whatever arrays ctx points to. */
typedef double (*l720_fd_loss)(void *ctx);

/* Central difference of f along dir for x[n] (perturbed in place, then restored
 * bit for bit). */
double l720_fd_directional(l720_fd_loss f, void *ctx, float *x, const float *dir, size_t n,
                           double eps);

/* Σ g[i] dir[i] in double. */
double l720_fd_dot(const float *g, const float *dir, size_t n);

/* dir[n] ~ N(0, 1) from *state (trng). */
void l720_fd_direction(float *dir, size_t n, uint64_t *state);

/* Relative error |a − b| / max(|a|, |b|, floor). */
double l720_fd_relerr(double a, double b, double floor);

#endif
