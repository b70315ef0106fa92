/* law_finegrained.c: the fine-grained MoE law of Krajewski et al. (2024),
 *   L = c + (g/G^gamma + a)/N^alpha + b/D^beta,
 * fitted as ln L = LSE(ln g - gamma ln G - alpha ln N, ln a - alpha ln N,
 *                      ln b - beta ln D, ln c). */
#include <math.h>

#include "law.h"

enum { A_, ALPHA, B_, BETA, G_, GAMMA, C_, NP };

static const char *const names[NP] = {"a", "alpha", "b", "beta", "g", "gamma", "c"};
static const char *const fit_names[NP] = {"log_a", "alpha", "log_b", "beta",
                                          "log_g", "gamma", "log_c"};
static const double lo[NP] = {0, 0, 0, 0, 0, -2, 0};
static const double hi[NP] = {HUGE_VAL, 3, HUGE_VAL, 3, HUGE_VAL, 3, 20};
#define FREE -HUGE_VAL
static const double fit_lo[NP] = {FREE, FREE, FREE, FREE, FREE, FREE, FREE};
static const double fit_hi[NP] = {HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL,
                                  HUGE_VAL, HUGE_VAL, HUGE_VAL};

static const double g_l[] = {0, 2.5, 5};
static const double g_exp[] = {0.1, 0.5};
static const double g_lg[] = {-1, 1};
static const double g_lc[] = {-1, 0.5};
static const size_t grid_n[NP] = {3, 2, 3, 2, 2, 2, 2};
static const double *const grid_v[NP] = {g_l, g_exp, g_l, g_exp, g_lg, g_exp, g_lc};

static double log_pred(const double *th, const l720_point *p, double *grad)
{
    double t[4], w[4];
    t[0] = th[G_] - th[GAMMA] * p->lnG - th[ALPHA] * p->lnN;
    t[1] = th[A_] - th[ALPHA] * p->lnN;
    t[2] = th[B_] - th[BETA] * p->lnD;
    t[3] = th[C_];
    double v = l720_lse(t, w, 4);
    if (grad) {
        grad[G_] = w[0];
        grad[GAMMA] = -w[0] * p->lnG;
        grad[A_] = w[1];
        grad[ALPHA] = -(w[0] + w[1]) * p->lnN;
        grad[B_] = w[2];
        grad[BETA] = -w[2] * p->lnD;
        grad[C_] = w[3];
    }
    return v;
}

/* Coefficients fitted on a log scale (theta = ln of the named parameter). */
static const unsigned char log_scale[NP] = {[A_] = 1, [B_] = 1, [G_] = 1, [C_] = 1};

const l720_law l720_law_finegrained = {
    "finegrained",
    "L(N, D, G) = c + (g/G^gamma + a)/N^alpha + b/D^beta",
    "Krajewski et al. 2024, arXiv 2402.07871",
    NP, names, fit_names, lo, hi, fit_lo, fit_hi,
    L720_IN_N | L720_IN_D | L720_IN_G, grid_n, grid_v,
    log_pred, NULL, log_scale,
};
