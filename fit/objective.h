/* objective.h: what the fitter minimises.
 *
 *   f(theta) = sum_i w_i rho(r_i),   r_i = log_pred(theta, x_i) - ln L_i
 *
 * rho is Huber_delta (r^2/2 inside |r| <= delta, delta (|r| - delta/2) outside),
 * as Hoffmann et al. and Epoch fit, or r^2 ("mse"). The SUM, not the mean:
 * with the mean, L-BFGS's tolerances stop it far from the optimum. */
#ifndef L720_OBJECTIVE_H
#define L720_OBJECTIVE_H

#include <stddef.h>

#include "law.h"

typedef enum { L720_LOSS_HUBER, L720_LOSS_MSE } l720_loss_kind;

typedef struct l720_objective {
    const l720_law *law;
    const l720_point *pts; /* [npts] all points */
    size_t npts;
    const size_t *idx;     /* [n] points used (repeats allowed: bootstrap), NULL: all */
    size_t n;              /* points used (npts when idx is NULL) */
    l720_loss_kind kind;
    double delta;          /* Huber threshold (1e-3 by default) */
} l720_objective;

/* An objective over all of pts. */
l720_objective l720_objective_make(const l720_law *law, const l720_point *pts, size_t npts,
                                   l720_loss_kind kind, double delta);

/* Value at theta; grad[0..np) receives the gradient when not NULL. */
double l720_objective_eval(const l720_objective *o, const double *theta, double *grad);

/* Huber_delta(r) and its derivative. */
double l720_huber(double r, double delta, double *dr);

/* Parses "huber" or "mse". */
int l720_loss_parse(const char *s, l720_loss_kind *kind, l720_err *err);

#endif
