/* peer_kernels.cuh: the PEER layer's kernels (launchers), shared between
 * peer_route.cu, peer_route_bwd.cu, peer_expert.cu and peer.cu. Layouts:
 * HD = h*dk, dk2 = dk/2, P = T*h*k pairs, pair p = (t*h + j)*k + slot. */
#ifndef L720_PEER_KERNELS_CUH
#define L720_PEER_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#define PEER_BN_EPS 1e-5f
#define PEER_COL_TY 8   /* row lanes per column block */
#define PEER_COL_RB 128 /* row blocks of the column sums (at most) */

/* BatchNorm statistics over T rows of q [T, C]: mean, rstd [C]. training:
 * batch statistics (biased variance) and running update; else running ones. */
void peer_bn_stats(const float *q, int T, int C, float *mean, float *rstd, float *run_mean,
                   float *run_var, float momentum, int training, float *part, cudaStream_t s);
/* Column partial sums (deterministic), [PEER_COL_RB, C, 2] into part; see peer_route.cu. */
void peer_col_partial(const float *q, const float *g, const float *mean, const float *rstd, int T,
                      int C, int mode, float *part, cudaStream_t s);
/* qn [T, C] = (q - mean) * rstd * gamma + beta (NULL: 1 and 0) */
void peer_bn_apply(const float *q, const float *mean, const float *rstd, const float *gamma,
                   const float *beta, int T, int C, float *qn, cudaStream_t s);
void peer_bf16_to_f32(const uint16_t *a, size_t n, float *o, cudaStream_t s);
/* Scores at fp32 accuracy on the bf16 matrix units (peer_route.cu): qs [T, nb, K3] =
 * the query qn [T, nb, dk2] split into three bf16 parts (then zeros), k3 [rows, K3]
 * = the bf16 keys [rows, dk2] three times (then zeros); K3 = 3 dk2 rounded up to 8. */
#define PEER_K3(dk2) ((3 * (dk2) + 7) / 8 * 8)
void peer_split_query(const float *qn, int T, int nb, int dk2, int K3, uint16_t *qs, cudaStream_t s);
void peer_repeat_keys(const uint16_t *keys, size_t rows, int dk2, int K3, uint16_t *k3,
                      cudaStream_t s);
/* The scores and the top-k per half in one kernel (peer_scores.cu), the scores
 * kept in shared memory: the same val, idx [T, nb, k] as the product and
 * peer_topk_rows, from qn [T, nb, dk2] and keys [nb, n, dk2]. fits: whether the
 * device's shared memory holds a block's keys and scores for (n, dk2). */
int peer_scores_fits(int n, int dk2);
void peer_scores_topk(const float *qn, const uint16_t *keys, int T, int nb, int n, int dk2, int k,
                      float *val, int *idx, cudaStream_t s);
/* Top-k of each row of S [nb, T, n] -> val, idx [T, nb, k]. */
void peer_topk_rows(const float *S, int nb, int T, int n, int k, float *val, int *idx,
                    cudaStream_t s);
/* Top-k of the k*k sums per (t, head) -> ids, gates [T, h, k] (softmax). */
void peer_topk_combine(const float *val, const int *idx, int T, int h, int n, int k, int *ids,
                       float *gates, cudaStream_t s);

/* The (token, expert) pairs sorted by expert: sorted position i holds pair
 * sp[i] of expert skey[i]; run r < *nruns (a touched expert, ascending)
 * starts at run_off[r]; maxruns bounds *nruns. */
typedef struct peer_sorted {
    const int *run_off, *nruns;
    int maxruns;
    const int *sp, *skey;
    int P;
} peer_sorted;

/* Column slices of the expert-major passes (the slowest grid dimension, so
 * that the slice of the gathered token rows stays in L2); act_s and dc_s
 * hold PEER_EXP_SLICES partial arrays of P. */
#ifndef PEER_EXP_SLICES
#define PEER_EXP_SLICES 4
#endif
int peer_exp_slices(int d);
/* Expert-major: act[p] = u_e . x_t; also act_s, gate_s [P] at the sorted positions. */
int peer_expert_act(const peer_sorted *ps, const uint16_t *u, const uint16_t *x, int d, int hk,
                    const float *gate, float *act, float *act_s, float *gate_s, cudaStream_t s);
/* Token-major: out_t = add_t + sum_p coef_p W[ids_p], coef_p = gate_p *
 * gelu(act_p) (act != NULL) or gate_p; out bf16 [T, d]; add fp32 or NULL. */
void peer_gather_rows(const int *ids, const float *gate, const float *act, const uint16_t *W,
                      int T, int d, int hk, const float *add, uint16_t *out, cudaStream_t s);
/* Expert-major backward, first pass: dv [maxruns, d] bf16 (row r for run r),
 * dc_p = dy.v, da_p = g gelu'(a) dc_p (by pair id; dc_s, da_s sorted). */
int peer_expert_dv(const peer_sorted *ps, const uint16_t *v, const uint16_t *dy, int d, int hk,
                   const float *gate_s, const float *act_s, float *dc_s, float *dc, float *da,
                   float *da_s, uint16_t *dv, cudaStream_t s);
/* Second pass: du [maxruns, d] bf16 = sum da_p x_t per run. */
int peer_expert_du(const peer_sorted *ps, const uint16_t *x, int d, int hk, const float *da_s,
                   uint16_t *du, cudaStream_t s);

/* Routing backward per (t, head): dqn [T, HD] and the sub-key entries
 * 2p + half of the pairs: key2 (2j + half) * n + i_half, or 2 h n where an
 * earlier slot of the same (t, head) has that sub-key, and dsk, the sum of
 * the score gradients of the slots that share it (0 for the 2 h n ones). */
void peer_route_bwd(const int *ids, const float *gate, const float *act, const float *dc,
                    const uint16_t *keys, int T, int h, int n, int k, int dk, int *key2,
                    float *dsk, float *dqn, cudaStream_t s);
/* dK rows of the touched sub-keys (runs over the sorted entries se; entry
 * key (2j + half) * n + i, which is also the row of K [h, 2, n, dk/2]; runs
 * of key 2 h n are skipped), written, or added to dkeys when add != 0. */
void peer_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                      const int *nruns, int maxruns, const int *se, const float *dsk,
                      const float *qn, int n, int h, int k, int dk, int add, float *dkeys,
                      cudaStream_t s);
/* BatchNorm backward: dgamma, dbeta [C] (always written) and dq [T, C] bf16;
 * gamma NULL: no affine part. */
void peer_bn_bwd(const float *q, const float *mean, const float *rstd, const float *gamma,
                 const float *dqn, int T, int C, float *dgamma, float *dbeta, uint16_t *dq,
                 float *part, cudaStream_t s);

/* The BatchNorm gradients bnsum [2, C] (dbeta, then dgamma) into gbeta and
 * ggamma (each may be NULL): written, or added to when add != 0. */
void peer_bn_grads_out(const float *bnsum, int C, int add, float *gbeta, float *ggamma,
                       cudaStream_t s);

/* Lazy AdamW over rows ids[r] (r < *nrows) of an [N, d] table. */
void peer_adamw_rows(const int *ids, const int *nrows, int maxrows, const uint16_t *grad,
                     float *master, float *m, float *v, uint16_t *w16, int d, float lr, float b1,
                     float b2, float eps, float wd, float bc1, float bc2, cudaStream_t s);

#endif
