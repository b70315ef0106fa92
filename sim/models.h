/* models.h: closed forms the simulation is checked against (sim/MODELS.md).
 *
 * p[0..n) is the probability that one access picks each expert (sums to 1);
 * c is the cache size in experts.
 */
#ifndef L720_MODELS_H
#define L720_MODELS_H

#include <stddef.h>

/* Che's characteristic time t_C: the root of sum_i (1 - exp(-p_i t)) = c, in
 * accesses. INFINITY when c >= the number of experts with p_i > 0. */
double l720_che_tc(const double *p, size_t n, double c);

/* LRU hit rate under independent references by Che's approximation:
 * sum_i p_i (1 - exp(-p_i t_C)). */
double l720_che_hit_rate(const double *p, size_t n, double c);
/* The same for a t_C already solved. */
double l720_che_hit_rate_at(const double *p, size_t n, double t_c);

/* Uniform popularity: hit rate = c / n for LRU, FIFO, random (capped at 1). */
double l720_uniform_hit_rate(double c, double n);

/* Probability that at least one of K independent accesses misses: 1 - h^K. */
double l720_token_miss(double hit_rate, double K);

/* The LLM720 paper's miss probability: P_miss = (1 - P_hit)^C_act. */
double l720_paper_p_miss(double hit_rate, double c_act);

/* The paper's claimed shape: exp(-k N_hot / N_tot). */
double l720_paper_exp_claim(double k, double n_hot, double n_tot);

/* The paper's per-token latency of one layer:
 * T_tok = C_act (t_GEMM + (1 - P_hit) s_exp / B) + P_miss L. */
double l720_paper_token_seconds(double c_act, double t_gemm, double hit_rate, double s_exp,
                                double link_bandwidth, double link_latency);

#endif
