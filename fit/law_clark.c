/* law_clark.c: Clark et al. (2022) routed law at a fixed token count:
 *   ln L = a ln N + b ln Ehat + c ln N ln Ehat + d,
 * with Ehat the transformed expert count (ehat.h). Parameters are fitted as
 * they are named. */
#include <math.h>

#include "ehat.h"
#include "law.h"

enum { A_, B_, C_, D_, ES, EM, NP };

static const char *const names[NP] = {"a", "b", "c", "d", "E_start", "E_max"};
static const double lo[NP] = {-2, -2, -1, -20, 1, 1};
static const double hi[NP] = {0, 2, 1, 20, 1e3, 1e6};
static const double fit_lo[NP] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL, 1, 16};
static const double fit_hi[NP] = {HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL, 16, 1e6};

static const double g_a[] = {-0.1, -0.03};
static const double g_b[] = {-0.1, 0};
static const double g_c[] = {0, 0.01};
static const double g_d[] = {1, 3};
static const double g_es[] = {1.5, 4};
static const double g_em[] = {64, 512};
static const size_t grid_n[NP] = {2, 2, 2, 2, 2, 2};
static const double *const grid_v[NP] = {g_a, g_b, g_c, g_d, g_es, g_em};

static double log_pred(const double *th, const l720_point *p, double *grad)
{
    double eh = l720_ehat(p->E, th[ES], th[EM]);
    double le = log(eh);
    double v = th[A_] * p->lnN + th[B_] * le + th[C_] * p->lnN * le + th[D_];
    if (grad) {
        double des, dem;
        l720_ehat_grad(p->E, th[ES], th[EM], &des, &dem);
        double dle = (th[B_] + th[C_] * p->lnN) / eh; /* d v / d Ehat */
        grad[A_] = p->lnN;
        grad[B_] = le;
        grad[C_] = p->lnN * le;
        grad[D_] = 1;
        grad[ES] = dle * des;
        grad[EM] = dle * dem;
    }
    return v;
}

/* No coefficient is fitted on a log scale. */
static const unsigned char log_scale[NP];

const l720_law l720_law_clark = {
    "clark",
    "ln L(N, E) = a ln N + b ln Ehat + c ln N ln Ehat + d, "
    "1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max",
    "Clark et al. 2022, arXiv 2202.01169 (fixed token count)",
    NP, names, names, lo, hi, fit_lo, fit_hi,
    L720_IN_N | L720_IN_E, grid_n, grid_v,
    log_pred, NULL, log_scale,
};
