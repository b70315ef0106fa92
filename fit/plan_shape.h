/* plan_shape.h: parameter counting for the joint-MoE paper's model family,
 * and for the same family with PEER layers.
 *
 * The family (Ludziejewski, Pioro et al. 2025): width d, n_blocks = n_heads =
 * d/64 (head size 64), attention 4 d^2 per block, SwiGLU experts of hidden
 * size 3d (9 d^2 each), top-1 routing, tied-free input and output embeddings
 * of a V-token vocabulary (2 d V):
 *   N_total = 2 d V + (4 + 9 E) n_blocks d^2
 *   N_act   = 2 d V + 13 n_blocks d^2
 * Router weights (d E per block) are left out, as the paper counts them.
 * d is continuous here (n_blocks = d/64 may be fractional); l720_shape_round_d
 * gives the nearest buildable width (a multiple of 64).
 *
 * Per token: training 6 N_act FLOPs, inference 2 N_act FLOPs (attention over
 * the context left out, as in the law's compute axis), and a KV cache of
 * 2 n_blocks d values (one key and one value vector per block).
 */
#ifndef L720_PLAN_SHAPE_H
#define L720_PLAN_SHAPE_H

#define L720_GPT2_VOCAB 50257.0
#define L720_HEAD_DIM 64.0

/* Blocks (= heads) of a width-d model: d/64. */
double l720_shape_blocks(double d);

/* Parameters of a width-d model with E experts (E = 1: dense). */
double l720_shape_total_params(double d, double E, double vocab);
double l720_shape_active_params(double d, double vocab);
/* Active parameters without the embeddings (the learning-rate rule's N). */
double l720_shape_active_nonembedding(double d);

/* FLOPs per token: training (6 N_act) and inference (2 N_act). */
double l720_shape_train_flops_per_token(double d, double vocab);
double l720_shape_infer_flops_per_token(double d, double vocab);

/* KV-cache values per token of context: 2 n_blocks d. */
double l720_shape_kv_values_per_token(double d);

/* Bytes of a width-d model with E experts holding its parameters at
 * bytes_per_param and a KV cache of kv_tokens tokens at kv_bytes per value. */
double l720_shape_memory_bytes(double d, double E, double vocab, double bytes_per_param,
                               double kv_tokens, double kv_bytes);

/* Inverses (continuous): the width with the given total parameters, active
 * parameters, or memory footprint (as l720_shape_memory_bytes). Each is the
 * one positive root of a cubic with non-negative coefficients; 0 when the
 * target is not positive. */
double l720_shape_d_for_total(double total_params, double E, double vocab);
double l720_shape_d_for_active(double active_params, double vocab);
double l720_shape_d_for_memory(double memory_bytes, double E, double vocab,
                               double bytes_per_param, double kv_tokens, double kv_bytes);

/* The nearest multiple of 64, at least 64. */
double l720_shape_round_d(double d);

/* ---- PEER layers (He 2024) ---------------------------------------------
 * A PEER layer at width d: N = n^2 single-neuron experts (u_i, v_i in R^d),
 * h heads, top-k per head, query size d_key. Per layer:
 *   query projection d x (h d_key), BatchNorm of the queries 2 h d_key,
 *   sub-keys h x 2 x n x d_key/2 = h n d_key, experts 2 N d.
 * Active per token: the query, its BatchNorm, every sub-key (all are scored),
 * and the h k retrieved experts (2 h k d).
 * Forward FLOPs per token: query 2 d h d_key, scoring 2 h n d_key, experts
 * 4 h k d (u_i.x, then the scaled v_i added in); top-k and softmax left out. */
typedef struct l720_peer {
    double experts; /* N = n^2 */
    double heads;   /* h */
    double topk;    /* k per head */
    double d_key;   /* query size (even) */
} l720_peer;

double l720_peer_layer_total_params(const l720_peer *p, double d);
double l720_peer_layer_active_params(const l720_peer *p, double d);
double l720_peer_layer_forward_flops(const l720_peer *p, double d);

/* The family at width d with the FFN of `layers` of its blocks replaced by a
 * PEER layer (the other blocks keep one dense SwiGLU FFN, E = 1). */
double l720_peer_model_total_params(const l720_peer *p, double layers, double d, double vocab);
double l720_peer_model_active_params(const l720_peer *p, double layers, double d, double vocab);
/* Training FLOPs per token: 3 x the forward pass (6 per dense parameter,
 * 3 x the PEER layers' forward FLOPs). */
double l720_peer_model_train_flops_per_token(const l720_peer *p, double layers, double d,
                                             double vocab);
/* The width with the given total parameters (bisection: the count grows with d). */
double l720_peer_model_d_for_total(const l720_peer *p, double layers, double total_params,
                                   double vocab);

#endif
