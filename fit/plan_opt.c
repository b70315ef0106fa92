/* plan_opt.c: see plan_opt.h. */
#include "plan_opt.h"

#include <math.h>

#include "plan_shape.h"

l720_plan_budget l720_plan_budget_default(double flops)
{
    l720_plan_budget b = {0};
    b.flops = flops;
    b.bytes_per_param = 2;
    b.kv_bytes = 2;
    b.vocab = L720_GPT2_VOCAB;
    return b;
}

double l720_plan_compute_optimal_n(const l720_law_terms *t, double flops)
{
    double s = t->mu + t->nu;
    double G = pow(t->mu * t->m / (t->nu * t->n), 1 / s);
    return G * pow(flops / 6, t->nu / s);
}

/* d/dx of the loss at N = e^x with D = A e^-x - B (A = F/6, B = D_inf/3). */
static double inference_slope(const l720_law_terms *t, double A, double B, double x)
{
    double u = A * exp(-x) - B;
    return -t->mu * t->m * exp(-t->mu * x) + t->nu * t->n * A * exp(-x) * pow(u, -t->nu - 1);
}

double l720_plan_inference_optimal_n(const l720_law_terms *t, double flops, double d_inf,
                                     double n_max)
{
    double A = flops / 6, B = d_inf / 3;
    if (!(B > 0)) {
        double n = l720_plan_compute_optimal_n(t, flops);
        return n < n_max ? n : n_max;
    }
    /* D > 0 needs N < F / (2 D_inf): x < x_top, where the slope goes to +inf */
    double x_top = log(A / B);
    double hi = x_top, lo = x_top - 1;
    while (inference_slope(t, A, B, lo) >= 0 && lo > x_top - 1000)
        lo -= 2;
    for (int it = 0; it < 400 && hi - lo > 4e-16 * fabs(hi); it++) {
        double mid = 0.5 * (lo + hi);
        if (inference_slope(t, A, B, mid) < 0)
            lo = mid;
        else
            hi = mid;
    }
    double n = exp(0.5 * (lo + hi));
    return n < n_max ? n : n_max;
}

double l720_plan_max_active(const l720_plan_budget *b, double E)
{
    if (!(b->memory_bytes > 0))
        return INFINITY;
    double d = l720_shape_d_for_memory(b->memory_bytes, E, b->vocab, b->bytes_per_param,
                                       b->kv_tokens, b->kv_bytes);
    return l720_shape_active_params(d, b->vocab);
}

static double memory_at(const l720_plan_budget *b, double d, double E)
{
    return l720_shape_memory_bytes(d, E, b->vocab, b->bytes_per_param, b->kv_tokens, b->kv_bytes);
}

void l720_plan_point_fill(const l720_plan_law *law, const l720_plan_budget *b,
                          l720_plan_point *p)
{
    double N = p->active_params, E = p->experts;
    p->d_model = l720_shape_d_for_active(N, b->vocab);
    p->total_params = l720_shape_total_params(p->d_model, E, b->vocab);
    p->tokens = b->flops / (6 * N) - (b->inference_tokens > 0 ? b->inference_tokens / 3 : 0);
    p->flops = b->flops;
    p->loss = l720_plan_law_loss(law, N, p->tokens, E);
    p->memory_bytes = memory_at(b, p->d_model, E);
    p->d_round = l720_shape_round_d(p->d_model);
    p->fits = 1;
    if (b->memory_bytes > 0) {
        /* a buildable width that fits: round down when rounding overshoots */
        while (p->d_round > L720_HEAD_DIM && memory_at(b, p->d_round, E) > b->memory_bytes)
            p->d_round -= L720_HEAD_DIM;
        p->fits = memory_at(b, p->d_round, E) <= b->memory_bytes;
    }
}

static int check_budget(const l720_plan_budget *b, l720_err *err)
{
    if (!(b->flops > 0) || !isfinite(b->flops))
        return l720_err_set(err, L720_EINPUT, "the FLOP budget must be positive, got %g", b->flops);
    if (!(b->memory_bytes >= 0))
        return l720_err_set(err, L720_EINPUT, "the memory budget must be positive, got %g",
                            b->memory_bytes);
    if (!(b->bytes_per_param > 0))
        return l720_err_set(err, L720_EINPUT, "bytes per parameter must be positive, got %g",
                            b->bytes_per_param);
    if (!(b->kv_tokens >= 0) || !(b->kv_bytes >= 0))
        return l720_err_set(err, L720_EINPUT, "KV-cache tokens and bytes must be >= 0");
    if (!(b->inference_tokens >= 0))
        return l720_err_set(err, L720_EINPUT, "inference tokens must be >= 0, got %g",
                            b->inference_tokens);
    if (!(b->vocab > 0))
        return l720_err_set(err, L720_EINPUT, "the vocabulary must be positive, got %g", b->vocab);
    return 0;
}

int l720_plan_at(const l720_plan_law *law, double E, const l720_plan_budget *b,
                 l720_plan_point *p, l720_err *err)
{
    int rc;
    l720_law_terms t;
    if ((rc = check_budget(b, err)) || (rc = l720_plan_law_terms(law, E, &t, err)))
        return rc;
    double n_max = l720_plan_max_active(b, E);
    double n_free = l720_plan_inference_optimal_n(&t, b->flops, b->inference_tokens, INFINITY);
    *p = (l720_plan_point){0};
    p->experts = E;
    p->memory_limit_active = n_max;
    p->memory_bound = n_free > n_max;
    p->active_params = p->memory_bound ? n_max : n_free;
    l720_plan_point_fill(law, b, p);
    return 0;
}

int l720_plan_best(const l720_plan_law *law, const double *experts, size_t n,
                   const l720_plan_budget *b, l720_plan_point *all, l720_plan_point *best,
                   size_t *ibest, l720_err *err)
{
    if (n == 0)
        return l720_err_set(err, L720_EINPUT, "no expert counts to choose from");
    size_t ib = 0;
    for (size_t i = 0; i < n; i++) {
        l720_plan_point p;
        int rc = l720_plan_at(law, experts[i], b, &p, err);
        if (rc)
            return rc;
        if (all)
            all[i] = p;
        if (i == 0 || p.loss < best->loss) {
            *best = p;
            ib = i;
        }
    }
    if (ibest)
        *ibest = ib;
    return 0;
}

double l720_plan_lr(double active_nonembedding, double E)
{
    return exp(8.39 - 0.81 * log(active_nonembedding) - 0.25 * log(E));
}

/* A point with given E, N_act, D and width d (match: no budget search). */
static void match_point(const l720_plan_law *law, const l720_plan_budget *b, double E, double d,
                        double tokens, l720_plan_point *p)
{
    *p = (l720_plan_point){0};
    p->experts = E;
    p->d_model = d;
    p->d_round = l720_shape_round_d(d);
    p->active_params = l720_shape_active_params(d, b->vocab);
    p->total_params = l720_shape_total_params(d, E, b->vocab);
    p->tokens = tokens;
    p->flops = 6 * p->active_params * tokens;
    p->loss = l720_plan_law_loss(law, p->active_params, tokens, E);
    p->memory_bytes = p->total_params * b->bytes_per_param;
    p->memory_limit_active = INFINITY;
    p->fits = 1;
}

int l720_plan_match(const l720_plan_law *law, double dense_params, double dense_tokens, double E,
                    const l720_plan_budget *b, l720_plan_point *dense, l720_plan_point *moe,
                    l720_err *err)
{
    if (!(dense_params > 0) || !isfinite(dense_params))
        return l720_err_set(err, L720_EINPUT, "dense parameters must be positive, got %g",
                            dense_params);
    if (!(dense_tokens > 0) || !isfinite(dense_tokens))
        return l720_err_set(err, L720_EINPUT, "dense tokens must be positive, got %g",
                            dense_tokens);
    l720_law_terms t;
    int rc = l720_plan_law_terms(law, E, &t, err);
    if (rc)
        return rc;
    double d_dense = l720_shape_d_for_total(dense_params, 1, b->vocab);
    match_point(law, b, 1, d_dense, dense_tokens, dense);
    /* same total parameters, then the same 6 N_act D */
    double d_moe = l720_shape_d_for_total(dense_params, E, b->vocab);
    double n_act = l720_shape_active_params(d_moe, b->vocab);
    match_point(law, b, E, d_moe, dense->flops / (6 * n_act), moe);
    return 0;
}
