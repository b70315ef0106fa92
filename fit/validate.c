/* validate.c: see validate.h. */
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "multistart.h"
#include "progress.h"
#include "rng.h"

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

/* Points grouped by run: for the nr runs present among pts[idx[0..n)] (idx
 * NULL: all), start[r]..start[r+1] in members lists their point indices.
 * Returns 0 when the points carry no run ids (then nothing is allocated). */
typedef struct {
    size_t nr;
    size_t *start;   /* [nr + 1] */
    size_t *members; /* [n] */
} runs_t;

static int runs_of(const l720_point *pts, const size_t *idx, size_t n, runs_t *g)
{
    memset(g, 0, sizeof *g);
    long maxr = -1;
    for (size_t k = 0; k < n; k++) {
        long r = pts[idx ? idx[k] : k].run;
        if (r < 0)
            return 0;
        if (r > maxr)
            maxr = r;
    }
    if (maxr < 0)
        return 0;
    size_t m = (size_t)maxr + 1;
    size_t *count = calloc(m + 1, sizeof *count), *slot = malloc((m + 1) * sizeof *slot);
    g->members = malloc((n ? n : 1) * sizeof *g->members);
    g->start = malloc((m + 1) * sizeof *g->start);
    if (!count || !slot || !g->members || !g->start) {
        free(count);
        free(slot);
        free(g->members);
        free(g->start);
        memset(g, 0, sizeof *g);
        return -1;
    }
    for (size_t k = 0; k < n; k++)
        count[pts[idx ? idx[k] : k].run]++;
    /* compact: only runs with points, in id order */
    size_t off = 0;
    for (size_t r = 0; r < m; r++)
        if (count[r]) {
            g->start[g->nr] = off;
            slot[r] = off;
            off += count[r];
            g->nr++;
        }
    g->start[g->nr] = off;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx ? idx[k] : k;
        g->members[slot[pts[i].run]++] = i;
    }
    free(count);
    free(slot);
    return 1;
}

static void runs_free(runs_t *g)
{
    free(g->start);
    free(g->members);
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
    runs_t g;
    int by_run = runs_of(o->pts, o->idx, n, &g) > 0;
    l720_progress *pg = l720_progress_new("bootstrap", (double)B);
    size_t done = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t b = 0; b < B; b++) {
        l720_rng *rng = l720_rng_new(seed * 1000003u + b);
        size_t *ib = idx + b * n, m = 0;
        if (by_run) { /* whole runs, with replacement, up to n points (the last run drawn is cut) */
            while (rng && m < n) {
                size_t r = (size_t)l720_rng_below(rng, g.nr);
                for (size_t q = g.start[r]; q < g.start[r + 1] && m < n; q++)
                    ib[m++] = g.members[q];
            }
        } else {
            for (size_t k = 0; k < n; k++) {
                size_t j = rng ? (size_t)l720_rng_below(rng, n) : k;
                ib[m++] = o->idx ? o->idx[j] : j;
            }
        }
        l720_rng_free(rng);
        l720_objective ob = *o;
        ob.idx = ib;
        ob.n = m;
        double th[L720_LAW_MAXP], f;
        memcpy(th, theta, np * sizeof *th);
        int code = l720_lbfgs(&ob, th, 1, &f, NULL);
        ok[b] = rng && l720_lbfgs_converged(code, f);
        l720_law_to_params(o->law, th, par + b * np);
        l720_progress_tick(pg, &done);
    }
    l720_progress_free(pg);
    if (by_run)
        runs_free(&g);
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
    if (!(holdout >= 0) || !isfinite(holdout))
        return l720_err_set(err, L720_EINPUT, "--holdout: expected a count or a fraction in (0, 1), got %g",
                            holdout);
    if (holdout >= 1 && holdout != floor(holdout))
        return l720_err_set(err, L720_EINPUT, "--holdout: %g is neither a count nor a fraction below 1",
                            holdout);
    runs_t g;
    int by_run = runs_of(pts, NULL, n, &g);
    if (by_run < 0)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    /* units: runs (ranked by their lowest loss) or points */
    size_t nu = by_run ? g.nr : n;
    size_t k = holdout >= 1 ? (size_t)holdout : (size_t)floor(holdout * (double)nu + 0.5);
    if (k >= nu) {
        if (by_run)
            runs_free(&g);
        return l720_err_set(err, L720_EINPUT, "--holdout %g leaves no %s to fit (%zu %s)", holdout,
                            by_run ? "runs" : "points", nu, by_run ? "runs" : "points");
    }
    l720_point *key = malloc((nu ? nu : 1) * sizeof *key); /* lnL of each unit */
    size_t *order = malloc((nu ? nu : 1) * sizeof *order);
    unsigned char *out = calloc(n ? n : 1, 1);
    *train = malloc((n ? n : 1) * sizeof **train);
    *held = malloc((n ? n : 1) * sizeof **held);
    if (!key || !order || !out || !*train || !*held) {
        free(key);
        free(order);
        free(out);
        free(*train);
        free(*held);
        *train = *held = NULL;
        if (by_run)
            runs_free(&g);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    for (size_t u = 0; u < nu; u++) {
        order[u] = u;
        if (!by_run) {
            key[u] = pts[u];
            continue;
        }
        key[u].lnL = INFINITY;
        for (size_t q = g.start[u]; q < g.start[u + 1]; q++)
            key[u].lnL = fmin(key[u].lnL, pts[g.members[q]].lnL);
    }
    qsort_r(order, nu, sizeof *order, cmp_loss_asc, key);
    for (size_t i = 0; i < k; i++) {
        size_t u = order[i];
        if (!by_run)
            out[u] = 1;
        else
            for (size_t q = g.start[u]; q < g.start[u + 1]; q++)
                out[g.members[q]] = 1;
    }
    *ntrain = *nheld = 0;
    for (size_t i = 0; i < n; i++) { /* both lists in the original order */
        if (out[i])
            (*held)[(*nheld)++] = i;
        else
            (*train)[(*ntrain)++] = i;
    }
    free(key);
    free(order);
    free(out);
    if (by_run)
        runs_free(&g);
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
