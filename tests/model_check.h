/* model_check.h: shared helpers of the model tests (tests/test_model_*.c):
 * directional finite-difference checks reported as TAP points. */
#ifndef L720_MODEL_CHECK_H
#define L720_MODEL_CHECK_H

#include <math.h>
#include <stdlib.h>

#include "tap.h"
#include "trainer/gradcheck.h"
#include "trainer/trng.h"

/* Gradient checks compare float computations: a relative error of 1e-3
 * between the analytic directional derivative and the central difference
 * (ε = 1e-3 along a unit-variance direction) is far above float noise and
 * far below any real mistake (a wrong term is off by O(1)). */
#define GC_RTOL 2e-3
#define GC_EPS 1e-3

/* Set by a loss function when the discrete routing (MoE top-1, capacity
 * drops, PEER top-k) differs from the unperturbed one: the loss is only
 * piecewise smooth, so a difference across a routing change means nothing. */
static int gc_route_changed;

/* The tolerance in force (the whole-model test loosens it, see there). */
static double gc_rtol = GC_RTOL;

/* One TAP point: directional derivative of f along a random direction in x[n]
 * against Σ g·dir. The error is relative to the larger of the two and of
 * ‖g‖₂ (the typical size of Σ g·dir for dir ~ N(0, I)), so that a direction
 * that happens to be nearly orthogonal to g does not inflate float noise.
 * ε shrinks (1e-3, 2.5e-4, 6e-5) until the routing stays put at both ends.
 * Returns the relative error. */
static inline double gc_check(const char *what, l720_fd_loss f, void *ctx, float *x,
                              const float *g, size_t n, uint64_t *rs)
{
    float *dir = malloc(sizeof(float) * (n ? n : 1));
    l720_fd_direction(dir, n, rs);
    double eps = GC_EPS, fd = 0;
    for (int tries = 0; tries < 3; tries++, eps /= 4) {
        gc_route_changed = 0;
        fd = l720_fd_directional(f, ctx, x, dir, n, eps);
        if (!gc_route_changed)
            break;
    }
    f(ctx); /* leave the unperturbed state behind */
    double an = l720_fd_dot(g, dir, n);
    double re = l720_fd_relerr(fd, an, sqrt(l720_fd_dot(g, g, n)) + 1e-6);
    ok(re <= gc_rtol && !gc_route_changed,
       "%s: directional derivative %.8g vs finite difference %.8g (rel %.2g, eps %.2g%s)", what,
       an, fd, re, eps, gc_route_changed ? ", routing changed" : "");
    free(dir);
    return re;
}

/* Fills x[n] with N(0, sd²) + mean. */
static inline void gc_fill(float *x, size_t n, double mean, double sd, uint64_t *rs)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(mean + sd * l720_trng_normal(rs));
}

/* Σ w·y in double: the scalar loss of a layer test. */
static inline double gc_wsum(const float *w, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)w[i] * y[i];
    return s;
}

#endif
