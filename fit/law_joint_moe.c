/* law_joint_moe.c: the joint MoE law of Ludziejewski, Pioro et al. (2025):
 *   L = a Ehat^delta N^(alpha + gamma ln Ehat) + b Ehat^omega D^(beta + zeta ln Ehat) + c,
 * fitted as ln L = LSE(t1, t2, ln c) with
 *   t1 = ln a + delta ln Ehat + (alpha + gamma ln Ehat) ln N,
 *   t2 = ln b + omega ln Ehat + (beta + zeta ln Ehat) ln D,
 * E_start and E_max fitted with the rest. */
#include <math.h>

#include "ehat.h"
#include "law.h"

enum { A_, ALPHA, DELTA, GAMMA, B_, BETA, OMEGA, ZETA, ES, EM, C_, NP };

static const char *const names[NP] = {"a",    "alpha", "delta",   "gamma", "b", "beta",
                                      "omega", "zeta", "E_start", "E_max", "c"};
static const char *const fit_names[NP] = {"log_a", "alpha", "delta",   "gamma", "log_b", "beta",
                                          "omega", "zeta",  "E_start", "E_max", "log_c"};
static const double lo[NP] = {0, -2, -5, -1, 0, -2, -5, -1, 1, 1, 0};
static const double hi[NP] = {HUGE_VAL, 0, 5, 1, HUGE_VAL, 0, 5, 1, 1e3, 1e6, 20};
#define FREE -HUGE_VAL
static const double fit_lo[NP] = {FREE, FREE, FREE, FREE, FREE, FREE, FREE, FREE, 1, 16, FREE};
static const double fit_hi[NP] = {HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL,
                                  HUGE_VAL, HUGE_VAL, 16,       1e6,      HUGE_VAL};

static const double g_la[] = {2, 5};
static const double g_exp[] = {-0.3, -0.1};
static const double g_d[] = {-0.3, 0};
static const double g_zero[] = {0};
static const double g_om[] = {0, 0.5};
static const double g_es[] = {2};
static const double g_em[] = {300};
static const double g_lc[] = {0, 0.5};
static const size_t grid_n[NP] = {2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 2};
static const double *const grid_v[NP] = {g_la, g_exp, g_d, g_zero, g_la, g_exp,
                                         g_om, g_zero, g_es, g_em, g_lc};

/* Ehat, ln Ehat and the derivatives of ln Ehat in E_start and E_max. */
typedef struct {
    double E, le, dle_es, dle_em;
} ehat_t;

static void ehat_at(const double *th, double E, ehat_t *h)
{
    double des, dem, eh = l720_ehat(E, th[ES], th[EM]);
    l720_ehat_grad(E, th[ES], th[EM], &des, &dem);
    h->E = E;
    h->le = log(eh);
    h->dle_es = des / eh;
    h->dle_em = dem / eh;
}

static double one(const double *th, const l720_point *p, const ehat_t *h, double *grad)
{
    double le = h->le;
    double t[3], w[3];
    t[0] = th[A_] + th[DELTA] * le + (th[ALPHA] + th[GAMMA] * le) * p->lnN;
    t[1] = th[B_] + th[OMEGA] * le + (th[BETA] + th[ZETA] * le) * p->lnD;
    t[2] = th[C_];
    double v = l720_lse3(t, w);
    if (grad) {
        grad[A_] = w[0];
        grad[ALPHA] = w[0] * p->lnN;
        grad[DELTA] = w[0] * le;
        grad[GAMMA] = w[0] * le * p->lnN;
        grad[B_] = w[1];
        grad[BETA] = w[1] * p->lnD;
        grad[OMEGA] = w[1] * le;
        grad[ZETA] = w[1] * le * p->lnD;
        grad[C_] = w[2];
        /* d v / d ln Ehat, then the chain into E_start and E_max */
        double dle = w[0] * (th[DELTA] + th[GAMMA] * p->lnN) + w[1] * (th[OMEGA] + th[ZETA] * p->lnD);
        grad[ES] = dle * h->dle_es;
        grad[EM] = dle * h->dle_em;
    }
    return v;
}

static double log_pred(const double *th, const l720_point *p, double *grad)
{
    ehat_t h;
    ehat_at(th, p->E, &h);
    return one(th, p, &h, grad);
}

/* The batch reuses Ehat while consecutive points share an expert count (run
 * logs list a run's evaluations together). */
static void log_pred_n(const double *th, const l720_point *pts, const size_t *idx, size_t n,
                       double *v, double *g)
{
    ehat_t h = {-1, 0, 0, 0};
    for (size_t k = 0; k < n; k++) {
        const l720_point *p = &pts[idx ? idx[k] : k];
        if (p->E != h.E)
            ehat_at(th, p->E, &h);
        v[k] = one(th, p, &h, g + k * NP);
    }
}

/* Coefficients fitted on a log scale (theta = ln of the named parameter). */
static const unsigned char log_scale[NP] = {[A_] = 1, [B_] = 1, [C_] = 1};

const l720_law l720_law_joint_moe = {
    "joint_moe",
    "L(N_act, D, E) = a Ehat^delta N_act^(alpha + gamma ln Ehat) + "
    "b Ehat^omega D^(beta + zeta ln Ehat) + c, "
    "1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max",
    "Ludziejewski, Pioro et al. 2025, arXiv 2502.05172",
    NP, names, fit_names, lo, hi, fit_lo, fit_hi,
    L720_IN_N | L720_IN_D | L720_IN_E, grid_n, grid_v,
    log_pred, log_pred_n, log_scale,
};
