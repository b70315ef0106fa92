/* plan_opt.h: optimal models under a law, for compute, memory and inference
 * budgets (the optima of Ludziejewski, Pioro et al. 2025).
 *
 * At a fixed expert count E the law is L(N, D) = m N^-mu + n D^-nu + c
 * (plan_law.h). With x = ln N on a budget curve, the loss is a sum of convex
 * functions of x, so it has one minimum and a constrained optimum is the
 * unconstrained one clipped to the feasible interval:
 *   compute-optimal:   6 N D = F. Closed form
 *                      N* = G (F/6)^(nu/(mu+nu)), G = (mu m / (nu n))^(1/(mu+nu)).
 *   memory-optimal:    also memory(d(N, E)) <= M, where memory is
 *                      N_total bytes_per_param (model memory) plus, for the
 *                      total-memory optimum, a KV cache of kv_tokens tokens
 *                      at kv_bytes per value (2 n_blocks d values per token).
 *                      Memory grows with N, so this is N <= N_max(E, M):
 *                      the optimum is min(N*, N_max).
 *   inference-optimal: 6 N D + 2 N D_inf = F (training plus inference of
 *                      D_inf tokens). Then D = F/(6N) - D_inf/3; no closed
 *                      form: the stationary point is found by bisection on
 *                      the derivative (monotone, by convexity), clipped to
 *                      N_max when memory is also limited.
 * The best E over a list is the one with the lowest loss (ties: the first).
 */
#ifndef L720_PLAN_OPT_H
#define L720_PLAN_OPT_H

#include <stddef.h>

#include "err.h"
#include "plan_law.h"

/* What a plan must fit in. */
typedef struct l720_plan_budget {
    double flops;            /* total FLOPs: training, plus inference when inference_tokens > 0 */
    double memory_bytes;     /* 0: no memory limit */
    double bytes_per_param;  /* bytes per parameter in memory (2: bf16) */
    double kv_tokens;        /* tokens of KV cache counted in memory (0: model memory only) */
    double kv_bytes;         /* bytes per KV-cache value */
    double inference_tokens; /* D_inf: tokens served after training (0: none) */
    double vocab;            /* vocabulary (embeddings count in N_act) */
} l720_plan_budget;

/* A budget of F FLOPs, no memory limit, bf16, GPT-2 vocabulary. */
l720_plan_budget l720_plan_budget_default(double flops);

/* One planned configuration. */
typedef struct l720_plan_point {
    double experts;       /* E */
    double active_params; /* N_act (with embeddings) */
    double total_params;  /* N_total */
    double tokens;        /* D, training tokens */
    double loss;          /* predicted final loss */
    double d_model;       /* continuous width of the shape calculus */
    double d_round;       /* buildable width: a multiple of 64 (rounded down when memory binds) */
    double flops;         /* training (+ inference) FLOPs actually spent: the budget */
    double memory_bytes;  /* parameters (+ KV cache) in bytes at the continuous width */
    double memory_limit_active; /* N_max(E, M): the most active params that fit (inf: no limit) */
    int memory_bound;     /* 1 when the memory limit, not compute, set N_act */
    int fits;             /* 1 when the buildable width fits the memory limit too */
} l720_plan_point;

/* The compute-optimal N for the terms at F training FLOPs (closed form). */
double l720_plan_compute_optimal_n(const l720_law_terms *t, double flops);

/* The inference-inclusive optimum: the N minimising the loss with
 * D = F/(6N) - D_inf/3, over 0 < N <= n_max (n_max may be INFINITY). */
double l720_plan_inference_optimal_n(const l720_law_terms *t, double flops, double d_inf,
                                     double n_max);

/* The most active parameters that fit the budget's memory at E (INFINITY
 * when there is no memory limit). */
double l720_plan_max_active(const l720_plan_budget *b, double E);

/* The optimum at one expert count. Errors: non-positive budget, E < 1, a law
 * without an optimum at E. */
int l720_plan_at(const l720_plan_law *law, double E, const l720_plan_budget *b,
                 l720_plan_point *p, l720_err *err);

/* The optimum for every E of experts[0..n) into all[0..n) (all may be NULL),
 * and the best of them into *best (its index into *ibest, may be NULL). */
int l720_plan_best(const l720_plan_law *law, const double *experts, size_t n,
                   const l720_plan_budget *b, l720_plan_point *all, l720_plan_point *best,
                   size_t *ibest, l720_err *err);

/* Fills the derived fields of p (tokens, total params, widths, memory, loss)
 * from p->experts and p->active_params and the budget. */
void l720_plan_point_fill(const l720_plan_law *law, const l720_plan_budget *b,
                          l720_plan_point *p);

/* The learning-rate rule of the joint-MoE paper:
 * LR = exp(8.39 - 0.81 ln N_act_nonembedding - 0.25 ln E). */
double l720_plan_lr(double active_nonembedding, double E);

/* The MoE with E experts, the same total parameters and the same training
 * FLOPs as a dense model of dense_params parameters trained on dense_tokens
 * tokens: dense (E = 1) into *dense, the MoE into *moe. From b only vocab
 * and bytes_per_param are used (memory_bytes reports the parameters' bytes). */
int l720_plan_match(const l720_plan_law *law, double dense_params, double dense_tokens, double E,
                    const l720_plan_budget *b, l720_plan_point *dense, l720_plan_point *moe,
                    l720_err *err);

#endif
