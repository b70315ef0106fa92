/* multistart.c: see multistart.h. */
#include "multistart.h"

#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

typedef struct {
    const l720_objective *o;
    size_t evals;
} nl_ctx;

static double nl_func(unsigned n, const double *x, double *grad, void *vctx)
{
    (void)n;
    nl_ctx *c = vctx;
    c->evals++;
    double f = l720_objective_eval(c->o, x, grad);
    return isfinite(f) ? f : HUGE_VAL;
}

int l720_lbfgs(const l720_objective *o, double *theta, int tight, double *f, size_t *evals)
{
    size_t np = o->law->np;
    nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)np);
    if (!opt) {
        *f = HUGE_VAL;
        return NLOPT_OUT_OF_MEMORY;
    }
    nl_ctx c = {o, 0};
    nlopt_set_min_objective(opt, nl_func, &c);
    nlopt_set_lower_bounds(opt, o->law->fit_lo);
    nlopt_set_upper_bounds(opt, o->law->fit_hi);
    nlopt_set_ftol_rel(opt, tight ? 1e-15 : 1e-9);
    nlopt_set_xtol_rel(opt, tight ? 1e-12 : 1e-7);
    nlopt_set_maxeval(opt, tight ? 20000 : 2000);
    for (size_t i = 0; i < np; i++) /* a start outside the bounds is moved inside */
        theta[i] = fmin(fmax(theta[i], o->law->fit_lo[i]), o->law->fit_hi[i]);
    double fx = HUGE_VAL;
    nlopt_result rc = nlopt_optimize(opt, theta, &fx);
    nlopt_destroy(opt);
    if (rc < 0 && rc != NLOPT_ROUNDOFF_LIMITED)
        fx = l720_objective_eval(o, theta, NULL); /* where it stopped */
    *f = isfinite(fx) ? fx : HUGE_VAL;
    if (evals)
        *evals = c.evals;
    return rc;
}

int l720_lbfgs_converged(int code, double f)
{
    return isfinite(f) && ((code > 0 && code != NLOPT_MAXEVAL_REACHED && code != NLOPT_MAXTIME_REACHED) ||
                           code == NLOPT_ROUNDOFF_LIMITED);
}

typedef struct {
    double theta[L720_LAW_MAXP];
    double f;
    size_t start;
    int ok;
} end_t;

/* Orders ends by (objective, start index); unconverged ends last. */
static int cmp_end(const void *pa, const void *pb)
{
    const end_t *a = pa, *b = pb;
    if (a->ok != b->ok)
        return a->ok ? -1 : 1;
    if (a->f != b->f)
        return a->f < b->f ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

int l720_fit_multistart(const l720_objective *o, const l720_grid *g, l720_fit_result *r,
                        l720_err *err)
{
    const l720_law *law = o->law;
    size_t n = g->total, np = law->np;
    memset(r, 0, sizeof *r);
    end_t *ends = calloc(n, sizeof *ends);
    if (!ends)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    size_t evals = 0, done = 0;
    l720_progress *pg = l720_progress_new("starts", (double)n); /* drawn on a terminal only */
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : evals)
    for (size_t k = 0; k < n; k++) {
        end_t *e = &ends[k];
        size_t ev = 0;
        l720_grid_point(g, k, e->theta);
        int code = l720_lbfgs(o, e->theta, 0, &e->f, &ev);
        e->ok = l720_lbfgs_converged(code, e->f);
        e->start = k;
        evals += ev;
        l720_progress_tick(pg, &done);
    }
    l720_progress_free(pg);
    qsort(ends, n, sizeof *ends, cmp_end);
    /* polish the best few, then re-rank them */
    size_t polish = n < L720_FIT_TOP ? n : L720_FIT_TOP;
#pragma omp parallel for schedule(static, 1) reduction(+ : evals)
    for (size_t k = 0; k < polish; k++) {
        size_t ev = 0;
        double f;
        double th[L720_LAW_MAXP];
        memcpy(th, ends[k].theta, sizeof th);
        /* restarting L-BFGS drops its curvature memory, which helps it along
         * flat valleys; stop when a restart no longer improves */
        for (int round = 0; round < 4; round++) {
            int code = l720_lbfgs(o, th, 1, &f, &ev);
            evals += ev;
            if (!(isfinite(f) && f <= ends[k].f))
                break;
            int better = f < ends[k].f * (1 - 1e-12);
            memcpy(ends[k].theta, th, sizeof th);
            ends[k].f = f;
            ends[k].ok = ends[k].ok || l720_lbfgs_converged(code, f);
            if (!better)
                break;
        }
    }
    qsort(ends, polish, sizeof *ends, cmp_end);
    r->starts = n;
    r->evals = evals;
    for (size_t k = 0; k < n; k++)
        r->converged += ends[k].ok;
    if (!ends[0].ok || !isfinite(ends[0].f)) {
        free(ends);
        return l720_err_set(err, L720_EFAIL, "fit failed: no start of %zu converged", n);
    }
    memcpy(r->theta, ends[0].theta, sizeof r->theta);
    l720_law_to_params(law, r->theta, r->params);
    r->objective = ends[0].f;
    r->best_start = ends[0].start;
    l720_grid_point(g, r->best_start, r->start_theta);
    for (size_t k = 0; k < n; k++)
        r->at_best += ends[k].ok && ends[k].f - r->objective <= 1e-6 * fabs(r->objective);
    r->top = polish < r->converged ? polish : r->converged;
    for (size_t k = 1; k < r->top; k++) {
        double pk[L720_LAW_MAXP];
        l720_law_to_params(law, ends[k].theta, pk);
        double df = (ends[k].f - r->objective) / fmax(fabs(r->objective), 1e-300);
        if (df > r->top_objective_spread)
            r->top_objective_spread = df;
        for (size_t j = 0; j < np; j++) {
            double d = fabs(pk[j] - r->params[j]) / fmax(fabs(r->params[j]), 1e-12);
            if (d > r->top_param_spread)
                r->top_param_spread = d;
        }
    }
    free(ends);
    return 0;
}
