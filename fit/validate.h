/* validate.h: uncertainty and held-out checks of a fit.
 *
 * Bootstrap over runs: B resamples of the fitted points with replacement,
 * each refitted by L-BFGS from the full-data optimum (a resample is a small
 * perturbation of the data, so its optimum lies near the full one); the 95%
 * interval of each named parameter is the 2.5th and 97.5th percentile of the
 * refits. Resample b draws from its own generator seeded by (seed, b), and the
 * resamples run in parallel, so intervals do not depend on the thread count.
 *
 * Holdout: the K lowest-loss points (or that fraction of them) are left out
 * of the fit, as the joint-MoE paper held out its lowest-loss runs, and the
 * RMSE of the predicted loss is reported on both sides.
 *
 * Points that carry run ids (several checkpoints of one run) are taken by
 * whole runs: the bootstrap resamples runs, the holdout leaves out the K runs
 * with the lowest losses (all their points). */
#ifndef L720_VALIDATE_H
#define L720_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "objective.h"

typedef struct l720_boot_result {
    size_t B;                   /* resamples requested */
    size_t ok;                  /* resamples whose refit converged (the intervals use these) */
    double lo[L720_LAW_MAXP];   /* 2.5th percentile of each named parameter */
    double hi[L720_LAW_MAXP];   /* 97.5th percentile */
} l720_boot_result;

/* o: the objective of the fit (its idx/n select the points resampled);
 * theta: the fit's optimum. */
int l720_bootstrap(const l720_objective *o, const double *theta, size_t B, uint64_t seed,
                   l720_boot_result *r, l720_err *err);

/* Splits points 0..n into train and held-out index lists (both owned by
 * the caller): holdout >= 1 holds out that many lowest-loss points,
 * 0 < holdout < 1 that fraction (rounded), 0 none. */
int l720_holdout_split(const l720_point *pts, size_t n, double holdout, size_t **train,
                       size_t *ntrain, size_t **held, size_t *nheld, l720_err *err);

/* Root mean square of (predicted - observed) loss over pts[idx[0..n)]. */
double l720_rmse(const l720_law *law, const double *theta, const l720_point *pts,
                 const size_t *idx, size_t n);

/* The q-quantile (0..1) of v[0..n), sorted in place (linear interpolation). */
double l720_quantile(double *v, size_t n, double q);

#endif
