/* law_chinchilla.c: Hoffmann et al. (2022), L = E + A/N^alpha + B/D^beta,
 * fitted in Hoffmann's parametrisation theta = (e, a, b, alpha, beta) with
 * E = e^e, A = e^a, B = e^b:
 *   ln L = LSE(a - alpha ln N, b - beta ln D, e). */
#include <math.h>

#include "law.h"

enum { E_, A_, B_, ALPHA, BETA, NP };

static const char *const names[NP] = {"E", "A", "B", "alpha", "beta"};
static const char *const fit_names[NP] = {"e", "a", "b", "alpha", "beta"};
static const double lo[NP] = {0, 0, 0, 0, 0};
static const double hi[NP] = {20, HUGE_VAL, HUGE_VAL, 3, 3};
static const double fit_lo[NP] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
static const double fit_hi[NP] = {HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL};

/* Hoffmann's grid: 5 x 6 x 6 x 5 x 5 = 4,500 starts. */
static const double g_e[] = {-1, -0.5, 0, 0.5, 1};
static const double g_ab[] = {0, 5, 10, 15, 20, 25};
static const double g_exp[] = {0, 0.5, 1, 1.5, 2};
static const size_t grid_n[NP] = {5, 6, 6, 5, 5};
static const double *const grid_v[NP] = {g_e, g_ab, g_ab, g_exp, g_exp};

static inline double one(const double *th, const l720_point *p, double *grad)
{
    double t[3] = {th[A_] - th[ALPHA] * p->lnN, th[B_] - th[BETA] * p->lnD, th[E_]}, w[3];
    double v = l720_lse3(t, w);
    if (grad) {
        grad[E_] = w[2];
        grad[A_] = w[0];
        grad[B_] = w[1];
        grad[ALPHA] = -w[0] * p->lnN;
        grad[BETA] = -w[1] * p->lnD;
    }
    return v;
}

static double log_pred(const double *th, const l720_point *p, double *grad)
{
    return one(th, p, grad);
}

/* The batch relative to the constant term e, which skips the search for the
 * largest term: ln L = e + ln(1 + u1 + u2), u1 = exp(t1 - e), u2 = exp(t2 - e).
 * A point where that would overflow takes the guarded path. */
static void log_pred_n(const double *th, const l720_point *pts, const size_t *idx, size_t n,
                       double *v, double *g)
{
    double e = th[E_], a = th[A_] - e, b = th[B_] - e, al = th[ALPHA], be = th[BETA];
    for (size_t k = 0; k < n; k++) {
        const l720_point *p = &pts[idx ? idx[k] : k];
        double *gk = g + k * NP;
        double x1 = a - al * p->lnN, x2 = b - be * p->lnD;
        if (x1 > 600 || x2 > 600) {
            v[k] = one(th, p, gk);
            continue;
        }
        double u1 = exp(x1), u2 = exp(x2), s = 1 + u1 + u2, inv = 1 / s;
        v[k] = e + log(s);
        gk[E_] = inv;
        gk[A_] = u1 * inv;
        gk[B_] = u2 * inv;
        gk[ALPHA] = -gk[A_] * p->lnN;
        gk[BETA] = -gk[B_] * p->lnD;
    }
}

/* Coefficients fitted on a log scale (theta = ln of the named parameter). */
static const unsigned char log_scale[NP] = {[E_] = 1, [A_] = 1, [B_] = 1};

const l720_law l720_law_chinchilla = {
    "chinchilla",
    "L(N, D) = E + A/N^alpha + B/D^beta",
    "Hoffmann et al. 2022, arXiv 2203.15556",
    NP, names, fit_names, lo, hi, fit_lo, fit_hi,
    L720_IN_N | L720_IN_D, grid_n, grid_v,
    log_pred, log_pred_n, log_scale,
};
