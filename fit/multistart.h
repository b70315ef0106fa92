/* multistart.h: L-BFGS (NLopt LD_LBFGS) from every start of a grid, spread
 * over the cores with OpenMP, keeping the best.
 *
 * Every start is independent and writes only its own slot; the best is
 * chosen afterwards by (objective, start index), so the answer is the same
 * whatever the thread count. The starts run with ordinary tolerances; the
 * best few ends are then polished with tight ones (also in start order). */
#ifndef L720_MULTISTART_H
#define L720_MULTISTART_H

#include <stddef.h>

#include "err.h"
#include "grid.h"
#include "objective.h"

#define L720_FIT_TOP 5 /* ends compared in the report of how far apart the best ended */

typedef struct l720_fit_result {
    double theta[L720_LAW_MAXP];  /* best fit parameters */
    double params[L720_LAW_MAXP]; /* the same, named (law->param_names) */
    double objective;
    size_t starts;     /* starts run */
    size_t converged;  /* starts whose L-BFGS stopped on a tolerance with a finite value */
    size_t best_start; /* grid index of the best start */
    double start_theta[L720_LAW_MAXP]; /* where the best start began */
    size_t evals;      /* objective evaluations over all starts */
    size_t at_best;    /* starts ending within 1e-6 (relative) of the best objective */
    size_t top;        /* ends compared below (min(L720_FIT_TOP, converged)) */
    double top_objective_spread; /* largest relative objective gap among the best `top` */
    double top_param_spread;     /* largest relative difference in a named parameter */
} l720_fit_result;

/* Local minimisation from theta (updated in place). Returns NLopt's result
 * code; *f receives the final value, *evals (may be NULL) the evaluations.
 * tight: polishing tolerances instead of the ordinary ones. */
int l720_lbfgs(const l720_objective *o, double *theta, int tight, double *f, size_t *evals);

/* 1 when an NLopt result code counts as converged. */
int l720_lbfgs_converged(int code, double f);

/* Runs every start of g. */
int l720_fit_multistart(const l720_objective *o, const l720_grid *g, l720_fit_result *r,
                        l720_err *err);

#endif
