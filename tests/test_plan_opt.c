/* test_plan_opt.c: the planner's optima against numerical minimisation (GSL
 * Brent), the memory constraint, the law files, match and the LR rule. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fit/plan_law.h"
#include "fit/plan_opt.h"
#include "fit/plan_shape.h"
#include "fit/plan_table.h"
#include "tap.h"

/* The loss on a budget curve as a function of x = ln N, with an exact
 * penalty (a steep continuous slope) beyond x_max so that a bracketing
 * minimiser finds boundary optima too. */
typedef struct curve {
    const l720_law_terms *t;
    double A, B;  /* D = A e^-x - B */
    double x_max; /* ln N_max (INFINITY: none) */
} curve;

static double curve_loss(double x, void *vp)
{
    const curve *c = vp;
    double over = x > c->x_max ? x - c->x_max : 0;
    x -= over;
    double D = c->A * exp(-x) - c->B;
    /* terms without c: smaller values, so rounding noise does not limit the argmin */
    return c->t->m * exp(-c->t->mu * x) + c->t->n * pow(D, -c->t->nu) + 10 * over;
}

/* GSL Brent on [lo, hi] from guess (which must beat both ends); returns ln N. */
static double gsl_argmin(curve *c, double lo, double guess, double hi)
{
    gsl_function f = {curve_loss, c};
    gsl_min_fminimizer *s = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    gsl_min_fminimizer_set(s, &f, guess, lo, hi);
    for (int it = 0; it < 500; it++) {
        gsl_min_fminimizer_iterate(s);
        double a = gsl_min_fminimizer_x_lower(s), b = gsl_min_fminimizer_x_upper(s);
        if (gsl_min_test_interval(a, b, 1e-12, 0) == GSL_SUCCESS)
            break;
    }
    double x = gsl_min_fminimizer_x_minimum(s);
    gsl_min_fminimizer_free(s);
    return x;
}

/* A starting point below both ends of [lo, hi] (coarse scan). */
static double scan_guess(curve *c, double lo, double hi)
{
    double best = lo + 1e-3 * (hi - lo), fb = INFINITY;
    for (int i = 1; i < 2000; i++) {
        double x = lo + (hi - lo) * i / 2000.0, f = curve_loss(x, c);
        if (f < fb)
            fb = f, best = x;
    }
    return best;
}

static void compute_optimum_vs_gsl(const l720_plan_law *law)
{
    double worst_n = 0, worst_d = 0;
    int n = 0;
    for (double E = 1; E <= 1024; E *= 2)
        for (double F = 1e18; F <= 1e25 * 1.0001; F *= 10) {
            l720_law_terms t;
            l720_plan_law_terms(law, E, &t, NULL);
            l720_plan_budget b = l720_plan_budget_default(F);
            l720_plan_point p;
            l720_plan_at(law, E, &b, &p, NULL);
            curve c = {&t, F / 6, 0, INFINITY};
            double x0 = log(p.active_params);
            double lo = x0 - 6, hi = x0 + 6;
            double x = gsl_argmin(&c, lo, scan_guess(&c, lo, hi), hi);
            double N = exp(x), D = F / (6 * N);
            worst_n = fmax(worst_n, fabs(N - p.active_params) / p.active_params);
            worst_d = fmax(worst_d, fabs(D - p.tokens) / p.tokens);
            n++;
        }
    ok(worst_n < 1e-6, "closed-form N_act = GSL minimum to 1e-6 over %d (E, F) (worst %.2g)", n,
       worst_n);
    ok(worst_d < 1e-6, "closed-form D = GSL minimum to 1e-6 (worst %.2g)", worst_d);
}

static void memory_optimum_vs_gsl(const l720_plan_law *law)
{
    static const double mem[] = {24e9, 80e9, 640e9, 2e9};
    double worst = 0, worst_over = 0;
    int n = 0, bound = 0, all_fit = 1, best_ok = 1;
    double experts[11];
    for (int i = 0; i < 11; i++)
        experts[i] = ldexp(1, i);
    for (size_t k = 0; k < sizeof mem / sizeof mem[0]; k++)
        for (double F = 1e18; F <= 1e25 * 1.0001; F *= 10)
            for (double kv = 0; kv <= 16384; kv += 16384) {
                l720_plan_budget b = l720_plan_budget_default(F);
                b.memory_bytes = mem[k];
                b.kv_tokens = kv;
                l720_plan_point all[11], best;
                l720_plan_best(law, experts, 11, &b, all, &best, NULL, NULL);
                for (int i = 0; i < 11; i++) {
                    l720_plan_point *p = &all[i];
                    l720_law_terms t;
                    l720_plan_law_terms(law, p->experts, &t, NULL);
                    curve c = {&t, F / 6, 0, log(l720_plan_max_active(&b, p->experts))};
                    double x0 = log(p->active_params);
                    double lo = x0 - 6, hi = x0 + 6;
                    double N = exp(gsl_argmin(&c, lo, scan_guess(&c, lo, hi), hi));
                    worst = fmax(worst, fabs(N - p->active_params) / p->active_params);
                    worst_over = fmax(worst_over, p->memory_bytes / mem[k] - 1);
                    all_fit &= p->fits;
                    bound += p->memory_bound;
                    if (p->loss < best.loss)
                        best_ok = 0;
                    n++;
                }
                if (!(best.memory_bytes <= mem[k] * (1 + 1e-12)))
                    best_ok = 0;
            }
    ok(bound > 0 && bound < n, "the memory limit binds in %d of %d cases", bound, n);
    ok(worst < 1e-6, "memory-constrained N_act = GSL minimum to 1e-6 over %d cases (worst %.2g)",
       n, worst);
    ok(worst_over <= 1e-12, "no plan exceeds its memory (worst excess %.2g)", worst_over);
    ok(all_fit, "every buildable width (multiple of 64) fits its memory too");
    ok(best_ok, "the best E has the lowest loss and fits its memory");
}

static void inference_optimum_vs_gsl(const l720_plan_law *law)
{
    double worst = 0, worst_f = 0;
    int n = 0;
    for (double E = 1; E <= 1024; E *= 4)
        for (double F = 1e20; F <= 1e25 * 1.0001; F *= 10)
            for (double frac = 0.1; frac < 1; frac += 0.4) {
                l720_law_terms t;
                l720_plan_law_terms(law, E, &t, NULL);
                /* D_inf large enough to matter: inference a fraction of the budget
                 * at the compute optimum */
                double n0 = l720_plan_compute_optimal_n(&t, F);
                l720_plan_budget b = l720_plan_budget_default(F);
                b.inference_tokens = frac * F / (2 * n0);
                l720_plan_point p;
                l720_plan_at(law, E, &b, &p, NULL);
                curve c = {&t, F / 6, b.inference_tokens / 3, INFINITY};
                double top = log(F / (2 * b.inference_tokens));
                double lo = top - 12, hi = top - 1e-9;
                double N = exp(gsl_argmin(&c, lo, scan_guess(&c, lo, hi), hi));
                worst = fmax(worst, fabs(N - p.active_params) / p.active_params);
                if (!(p.tokens > 0 && p.active_params < n0))
                    worst = INFINITY;
                double spent =
                    6 * p.active_params * p.tokens + 2 * p.active_params * b.inference_tokens;
                worst_f = fmax(worst_f, fabs(spent / F - 1));
                n++;
            }
    ok(worst < 1e-6, "inference-optimal N_act = GSL minimum to 1e-6 over %d cases (worst %.2g); "
       "smaller than the compute optimum", n, worst);
    ok(worst_f < 1e-12, "training + inference FLOPs = the budget (worst %.2g)", worst_f);
}

static void closed_form_identities(const l720_plan_law *law)
{
    l720_law_terms t;
    l720_plan_law_terms(law, 1, &t, NULL);
    /* E = 1: Ehat = E_start */
    double le = log(2.0732);
    ok_rel(t.m, 35.91 * pow(2.0732, -0.2285), 1e-12, "E 1: m = a E_start^delta");
    ok_rel(t.mu, 0.1889 - 0.0098 * le, 1e-12, "E 1: mu = -(alpha + gamma ln E_start)");
    ok_rel(t.nu, 0.1775 + 0.0259 * le, 1e-12, "E 1: nu = -(beta + zeta ln E_start)");
    l720_plan_budget b = l720_plan_budget_default(1e21);
    l720_plan_point p1, p8;
    l720_plan_at(law, 1, &b, &p1, NULL);
    l720_plan_at(law, 8, &b, &p8, NULL);
    ok(p8.loss < p1.loss, "at 1e21 FLOPs the compute-optimal 8-expert MoE beats dense (%.4f < %.4f)",
       p8.loss, p1.loss);
    ok_rel(6 * p1.active_params * p1.tokens, 1e21, 1e-12, "6 N D = F");
    ok_rel(l720_shape_active_params(p1.d_model, L720_GPT2_VOCAB), p1.active_params, 1e-12,
           "the width gives back N_act");
    l720_plan_point bad;
    l720_err err;
    b.flops = -1;
    ok(l720_plan_at(law, 1, &b, &bad, &err) == L720_EINPUT && strstr(err.msg, "FLOP"),
       "a non-positive budget is an error: %s", err.msg);
    b.flops = 1e20;
    ok(l720_plan_at(law, 0.5, &b, &bad, &err) == L720_EINPUT && strstr(err.msg, ">= 1"),
       "E < 1 is an error: %s", err.msg);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void law_files(const l720_plan_law *published)
{
    l720_plan_law law;
    l720_err err;
    l720_err_clear(&err);
    ok(l720_plan_law_load(NULL, &law, &err) == 0, "the default law file loads (%s)",
       err.code ? err.msg : law.path);
    ok(law.kind == L720_LAW_JOINT_MOE && law.a == published->a && law.zeta == published->zeta &&
           law.E_max == published->E_max && law.c == published->c,
       "the default file holds the published coefficients");
    char dir[] = "/tmp/l720_plan_law_XXXXXX";
    if (!mkdtemp(dir)) {
        ok(0, "temporary folder");
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/missing.json", dir);
    write_file(path, "{\"law\": \"joint_moe\", \"params\": {\"a\": 35.91, \"alpha\": -0.1889, "
                     "\"delta\": -0.2285, \"gamma\": 0.0098, \"b\": 35.98, \"beta\": -0.1775, "
                     "\"zeta\": -0.0259, \"E_start\": 2.0732, \"E_max\": 290.4521, \"c\": 1.3637}}");
    ok(l720_plan_law_load(path, &law, &err) == L720_EINPUT && strstr(err.msg, "omega") &&
           strstr(err.msg, "missing.json"),
       "a missing coefficient names itself and the file: %s", err.msg);
    unlink(path);
    snprintf(path, sizeof path, "%s/chin.json", dir);
    write_file(path, "{\"law\": \"chinchilla\", \"params\": {\"E\": 1.82, \"A\": 482.01, "
                     "\"B\": 2085.43, \"alpha\": 0.3478, \"beta\": 0.3658}}");
    ok(l720_plan_law_load(path, &law, &err) == 0, "a Chinchilla law file loads");
    unlink(path);
    /* Chinchilla closed form: N = G (C/6)^(b/(a+b)), G = (a A / (b B))^(1/(a+b)) */
    double a = 0.3478, bb = 0.3658, G = pow(a * 482.01 / (bb * 2085.43), 1 / (a + bb));
    l720_plan_budget b = l720_plan_budget_default(1e23);
    l720_plan_point p;
    l720_plan_at(&law, 1, &b, &p, NULL);
    ok_rel(p.active_params, G * pow(1e23 / 6, bb / (a + bb)), 1e-12,
           "Chinchilla law: N_opt = G (C/6)^(beta/(alpha+beta))");
    ok_rel(p.loss, 1.82 + 482.01 / pow(p.active_params, a) + 2085.43 / pow(p.tokens, bb), 1e-12,
           "Chinchilla law: loss E + A/N^alpha + B/D^beta");
    double ex[] = {1, 8, 64};
    l720_plan_point best;
    size_t ib = 9;
    b.memory_bytes = 24e9;
    l720_plan_best(&law, ex, 3, &b, NULL, &best, &ib, NULL);
    ok(ib == 0, "Chinchilla law under a memory limit: experts only cost memory, best E = 1");
    snprintf(path, sizeof path, "%s/odd.json", dir);
    write_file(path, "{\"law\": \"kaplan\", \"params\": {}}");
    ok(l720_plan_law_load(path, &law, &err) == L720_EINPUT && strstr(err.msg, "kaplan"),
       "an unknown law kind is an error: %s", err.msg);
    unlink(path);
    rmdir(dir);
}

static void match_and_lr(const l720_plan_law *law)
{
    l720_plan_budget b = l720_plan_budget_default(1);
    l720_plan_point dense, moe;
    ok(l720_plan_match(law, 1e9, 20e9, 8, &b, &dense, &moe, NULL) == 0, "match 1B dense, E 8");
    ok_rel(moe.total_params, 1e9, 1e-12, "match: same total parameters");
    ok_rel(dense.total_params, 1e9, 1e-12, "match: the dense model has the given parameters");
    ok_rel(moe.flops, dense.flops, 1e-12, "match: same training FLOPs");
    ok_rel(dense.flops, 6e9 * 20e9, 1e-12, "match: dense FLOPs 6 N D");
    ok(moe.active_params < dense.active_params && moe.tokens > dense.tokens,
       "match: the MoE has fewer active parameters and more tokens");
    ok_rel(dense.loss, l720_plan_law_loss(law, 1e9, 20e9, 1), 1e-12, "match: dense loss from the law");
    /* LR rule, by hand: N = 1e8, E = 8: exp(8.39 - 0.81 ln 1e8 - 0.25 ln 8) */
    ok_rel(l720_plan_lr(1e8, 8), exp(8.39 - 0.81 * 18.420680743952367 - 0.25 * 2.0794415416798357),
           1e-12, "LR rule at 1e8 non-embedding active params, 8 experts");
    ok_rel(l720_plan_lr(1e8, 1) / l720_plan_lr(1e8, 16), 2, 1e-12, "LR scales as E^-1/4");
}

static void lists(void)
{
    double *v;
    size_t n;
    l720_err err;
    ok(l720_plan_parse_experts(NULL, &v, &n, NULL) == 0 && n == 11 && v[10] == 1024,
       "default experts 1, 2, ..., 1024");
    free(v);
    ok(l720_plan_parse_experts("1-1024", &v, &n, NULL) == 0 && n == 1024 && v[1023] == 1024,
       "range 1-1024");
    free(v);
    ok(l720_plan_parse_experts("1,8,pow2:4", &v, &n, NULL) == 0 && n == 5 && v[4] == 4,
       "mixed list");
    free(v);
    ok(l720_plan_parse_experts("0,2", &v, &n, &err) == L720_EINPUT && strstr(err.msg, ">= 1"),
       "E 0 rejected: %s", err.msg);
    ok(l720_plan_parse_experts("4,x", &v, &n, &err) == L720_EINPUT, "junk rejected: %s", err.msg);
    ok(l720_plan_parse_numbers("1e18:1e25", "budgets", &v, &n, NULL) == 0 && n == 8 &&
           fabs(v[7] / 1e25 - 1) < 1e-9,
       "1e18:1e25 gives 8 budgets");
    free(v);
    ok(l720_plan_parse_numbers("1e20,-3", "budgets", &v, &n, &err) == L720_EINPUT &&
           strstr(err.msg, "positive"),
       "negative budget rejected: %s", err.msg);
}

int main(void)
{
    gsl_set_error_handler_off();
    l720_plan_law law;
    l720_plan_law_published(&law);
    compute_optimum_vs_gsl(&law);
    memory_optimum_vs_gsl(&law);
    inference_optimum_vs_gsl(&law);
    closed_form_identities(&law);
    law_files(&law);
    match_and_lr(&law);
    lists();
    return tap_done();
}
