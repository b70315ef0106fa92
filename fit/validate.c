/* validate.c: see validate.h. */
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "multistart.h"
#include "progress.h"
#include "rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double l720_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    double h = q * (double)(n - 1);
    size_t i = (size_t)floor(h);
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

int l720_bootstrap(const l720_objective *o, const double *theta, size_t B, uint64_t seed,
                   l720_boot_result *r, l720_err *err)
{
    size_t np = o->law->np, n = o->n;
    memset(r, 0, sizeof *r);
    r->B = B;
    if (B == 0)
        return 0;
    double *par = malloc(B * np * sizeof *par); /* [B, np] refitted named parameters */
    unsigned char *ok = calloc(B, 1);
    size_t *idx = malloc(B * n * sizeof *idx); /* [B, n] resampled point indices */
    if (!par || !ok || !idx) {
        free(par);
        free(ok);
        free(idx);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    l720_progress *pg = l720_progress_new("bootstrap", (double)B);
    size_t done = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t b = 0; b < B; b++) {
        l720_rng *rng = l720_rng_new(seed * 1000003u + b);
        size_t *ib = idx + b * n;
        for (size_t k = 0; k < n; k++) {
            size_t j = rng ? (size_t)l720_rng_below(rng, n) : k;
            ib[k] = o->idx ? o->idx[j] : j;
        }
        l720_rng_free(rng);
        l720_objective ob = *o;
        ob.idx = ib;
        double th[L720_LAW_MAXP], f;
        memcpy(th, theta, np * sizeof *th);
        int code = l720_lbfgs(&ob, th, 1, &f, NULL);
        ok[b] = rng && l720_lbfgs_converged(code, f);
        o->law->to_params(th, par + b * np);
        size_t seen;
#pragma omp atomic capture
        seen = ++done;
#ifdef _OPENMP
        if (omp_get_thread_num() == 0)
#endif
            l720_progress_update(pg, (double)seen, NULL);
    }
    l720_progress_free(pg);
    double *col = malloc(B * sizeof *col);
    if (!col) {
        free(par);
        free(ok);
        free(idx);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    for (size_t b = 0; b < B; b++)
        r->ok += ok[b];
    for (size_t j = 0; j < np && r->ok; j++) {
        size_t m = 0;
        for (size_t b = 0; b < B; b++)
            if (ok[b])
                col[m++] = par[b * np + j];
        r->lo[j] = l720_quantile(col, m, 0.025);
        r->hi[j] = l720_quantile(col, m, 0.975);
    }
    free(col);
    free(par);
    free(ok);
    free(idx);
    if (!r->ok)
        return l720_err_set(err, L720_EFAIL, "bootstrap: no refit of %zu converged", B);
    return 0;
}

static int cmp_loss_asc(const void *a, const void *b, void *ctx)
{
    const l720_point *p = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (p[i].lnL != p[j].lnL)
        return p[i].lnL < p[j].lnL ? -1 : 1;
    return i < j ? -1 : 1;
}

int l720_holdout_split(const l720_point *pts, size_t n, double holdout, size_t **train,
                       size_t *ntrain, size_t **held, size_t *nheld, l720_err *err)
{
    size_t k;
    if (!(holdout >= 0) || !isfinite(holdout))
        return l720_err_set(err, L720_EINPUT, "--holdout: expected a count or a fraction in (0, 1), got %g",
                            holdout);
    if (holdout >= 1) {
        if (holdout != floor(holdout))
            return l720_err_set(err, L720_EINPUT, "--holdout: %g is neither a count nor a fraction below 1",
                                holdout);
        k = (size_t)holdout;
    } else {
        k = (size_t)floor(holdout * (double)n + 0.5);
    }
    if (k >= n)
        return l720_err_set(err, L720_EINPUT, "--holdout %g leaves no points to fit (%zu points)",
                            holdout, n);
    size_t *order = malloc(n * sizeof *order);
    *train = malloc((n - k) * sizeof **train);
    *held = malloc((k ? k : 1) * sizeof **held);
    if (!order || !*train || !*held) {
        free(order);
        free(*train);
        free(*held);
        *train = *held = NULL;
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_loss_asc, (void *)pts);
    unsigned char *out = calloc(n, 1);
    if (!out) {
        free(order);
        free(*train);
        free(*held);
        *train = *held = NULL;
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    for (size_t i = 0; i < k; i++)
        out[order[i]] = 1;
    *ntrain = *nheld = 0;
    for (size_t i = 0; i < n; i++) { /* both lists in the original order */
        if (out[i])
            (*held)[(*nheld)++] = i;
        else
            (*train)[(*ntrain)++] = i;
    }
    free(out);
    free(order);
    return 0;
}

double l720_rmse(const l720_law *law, const double *theta, const l720_point *pts,
                 const size_t *idx, size_t n)
{
    if (n == 0)
        return NAN;
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        const l720_point *p = &pts[idx ? idx[k] : k];
        double d = exp(law->log_pred(theta, p, NULL)) - exp(p->lnL);
        s += d * d;
    }
    return sqrt(s / (double)n);
}
