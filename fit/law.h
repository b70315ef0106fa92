/* law.h: scaling laws behind one interface.
 *
 * A law is a table (l720_law) in the style of GSL's algorithm types: a name,
 * its parameters, the inputs it reads, a default start grid, and one function
 * that returns the log of the predicted loss at one point together with its
 * gradient in the fit parameters. The fitter and the bootstrap only see this
 * table, so every law gets the same optimiser, objective and reports.
 *
 * Two parameter vectors:
 *   theta  (fit parameters, nfit of them): what the optimiser moves, e.g.
 *          Hoffmann's (a, b, e, alpha, beta) with A = e^a. Log-scale
 *          coefficients keep the problem well conditioned and positive.
 *   params (named parameters, as in law files): e.g. (E, A, B, alpha, beta).
 * Both have the same length: params[i] = exp(theta[i]) where log_scale[i] is
 * set, theta[i] otherwise (l720_law_to_params / l720_law_from_params).
 */
#ifndef L720_LAW_H
#define L720_LAW_H

#include <math.h>
#include <stddef.h>

#include "err.h"

/* One observation: inputs in the form the laws use them, and its loss. */
typedef struct l720_point {
    double lnN; /* ln parameters (active parameters for MoE laws) */
    double lnD; /* ln training tokens */
    double E;   /* expert count (1 for dense) */
    double lnG; /* ln granularity */
    double lnL; /* ln observed loss */
    double w;   /* weight in the objective (1 by default) */
    long run;   /* run it belongs to (several checkpoints of one run), -1: none */
} l720_point;

/* Inputs a law may read (bit set in l720_law.inputs). */
enum { L720_IN_N = 1, L720_IN_D = 2, L720_IN_E = 4, L720_IN_G = 8 };

#define L720_LAW_MAXP 16

typedef struct l720_law {
    const char *name;  /* "chinchilla", "clark", "joint_moe", "finegrained" */
    const char *form;  /* the formula, in words */
    const char *about; /* one line with the reference */
    size_t np;         /* parameter count (theta and params) */
    const char *const *param_names; /* [np] names in law files */
    const char *const *fit_names;   /* [np] names of theta (used by --grid) */
    const double *lo, *hi;          /* [np] valid range of each named parameter */
    const double *fit_lo, *fit_hi;  /* [np] optimiser bounds on theta (+-HUGE_VAL: none) */
    unsigned inputs;                /* L720_IN_* bits */
    /* default start grid: for theta[i], grid_n[i] values grid_v[i][0..grid_n[i]) */
    const size_t *grid_n;
    const double *const *grid_v;
    /* ln of the predicted loss at p; grad[0..np) receives d/dtheta (grad may be NULL). */
    double (*log_pred)(const double *theta, const l720_point *p, double *grad);
    /* Optional fast path, the same for a batch: v[k] and g[k*np ..] for the
     * point pts[idx[k]] (pts[k] when idx is NULL), k < n. NULL: log_pred. */
    void (*log_pred_n)(const double *theta, const l720_point *pts, const size_t *idx, size_t n,
                       double *v, double *g);
    const unsigned char *log_scale; /* [np] 1: params[i] = exp(theta[i]) */
} l720_law;

/* The laws, NULL-terminated. */
extern const l720_law *const l720_laws[];

extern const l720_law l720_law_chinchilla;
extern const l720_law l720_law_clark;
extern const l720_law l720_law_joint_moe;
extern const l720_law l720_law_finegrained;

/* Finds a law by name; NULL and an error listing the laws when unknown. */
const l720_law *l720_law_find(const char *name, l720_err *err);

/* Index of a named parameter (params) or fit parameter (theta), or -1. */
long l720_law_param_index(const l720_law *law, const char *name);
long l720_law_fit_index(const l720_law *law, const char *name);

/* Converts fit parameters to named parameters and back (see log_scale). */
void l720_law_to_params(const l720_law *law, const double *theta, double *params);
void l720_law_from_params(const l720_law *law, const double *params, double *theta);

/* Predicted loss from named parameters at one point. */
double l720_law_predict(const l720_law *law, const double *params, const l720_point *p);

/* Fills a point from raw inputs (N, D, E, G; unused ones may be anything
 * positive) and a loss. */
l720_point l720_point_make(double N, double D, double E, double G, double L);

/* 1 when every named parameter lies in its valid range. */
int l720_law_in_range(const l720_law *law, const double *params);

/* ln of a sum of exponentials of t[0..n) with the softmax weights in p[0..n):
 * the log-sum-exp of Hoffmann's parametrisation, shared by the additive laws. */
double l720_lse(const double *t, double *p, size_t n);

/* The same for three terms, inline: the hot path of the Chinchilla and
 * joint laws. */
static inline double l720_lse3(const double *t, double *p)
{
    int im = t[1] > t[0] ? 1 : 0;
    if (t[2] > t[im])
        im = 2;
    double m = t[im], s;
    int i1 = im == 0 ? 1 : 0, i2 = im == 2 ? 1 : 2;
    p[i1] = exp(t[i1] - m);
    p[i2] = exp(t[i2] - m);
    p[im] = 1;
    s = 1 + p[i1] + p[i2];
    double inv = 1 / s;
    p[0] *= inv;
    p[1] *= inv;
    p[2] *= inv;
    return m + log(s);
}

#endif
