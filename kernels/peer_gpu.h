/* peer_gpu.h: the PEER layer (product-key retrieval of single-neuron experts) on
 * the GPU, forward and deterministic backward. C API over device pointers.
 *
 * Function (DESIGN.md §2, He 2024), for each token x (row of X [T, d]):
 *   q      = Wq x                                  Wq [h*dk, d]
 *   qn     = (q - mu) / sqrt(var + 1e-5) * gamma + beta  (gamma, beta optional)
 *            (BatchNorm over the T tokens of the batch when training, the
 *            running statistics otherwise)
 *   head j: q1, q2 = halves of qn[j*dk : (j+1)*dk]
 *           s1 = K[j][0] q1, s2 = K[j][1] q2        K [h, 2, n, dk/2]
 *           top-k of s1 and of s2, then top-k of the k*k sums:
 *           expert e = i1*n + i2, score s_e = s1[i1] + s2[i2]
 *           g = softmax over the k scores
 *   y      = sum_j sum_e g_e * gelu(u_e . x) * v_e   U, V [N = n*n, d]
 * gelu is the exact (erf) form. Ties in a top-k go to the smaller sub-key
 * index, then the smaller expert id. Layouts and semantics are those of the
 * CPU trainer's layer (trainer/peer.h); gamma = beta = NULL stands for the
 * identity (1 and 0).
 *
 * Precision: X, Y, dY, dX, U, V, Wq, K in bf16 (uint16_t here, the top half
 * of an IEEE float); every sum accumulates in fp32; BatchNorm parameters and
 * the dense parameter gradients are fp32; the compact U/V row gradients are
 * bf16 (fp32 sums rounded once; they are most of the bytes written). The
 * normalised query and the sub-key scores are fp32-accurate (the query split
 * into three bf16 parts, exact products with the bf16 keys, fp32 sums): they
 * decide the routing, which then agrees with the fp32 CPU trainer's except
 * at near-ties.
 *
 * Determinism: no atomics anywhere. The backward sorts the (token, expert)
 * pairs by expert with a stable radix sort; each touched row of U and V gets
 * its gradient from one thread block (per column slice) that walks that
 * expert's pairs in token order and writes it once. Sub-key gradients are
 * formed the same way. Two runs on the same inputs give bitwise-identical
 * outputs.
 *
 * Sparse gradients: the U and V gradients are returned compactly, one row per
 * touched expert: rows [n_touched, d] in the order of touched_ids (ascending).
 * The lazy AdamW (l720_peer_gpu_adamw_rows) updates exactly those rows.
 *
 * Limits: d a multiple of 256 and at most 2048; n at most 1024; k at most 32
 * and at most n; dk even and at most 256; T >= 2 when training.
 */
#ifndef L720_PEER_GPU_H
#define L720_PEER_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"

typedef struct l720_peer_dims {
    int tokens; /* T: tokens per call (at most; a call may pass fewer) */
    int d;      /* model width */
    int n;      /* sub-keys per half: N = n * n experts */
    int heads;  /* h */
    int topk;   /* k */
    int d_key;  /* dk: query size per head */
} l720_peer_dims;

/* Device pointers of the layer's parameters. */
typedef struct l720_peer_weights {
    const uint16_t *wq;    /* [h*dk, d] bf16 */
    const uint16_t *keys;  /* [h, 2, n, dk/2] bf16: head j's first-half sub-keys, then its second-half ones */
    const float *gamma;    /* [h*dk] BatchNorm scale, or NULL (1) */
    const float *beta;     /* [h*dk] BatchNorm shift, or NULL (0) */
    const uint16_t *u;    /* [N, d] bf16 */
    const uint16_t *v;    /* [N, d] bf16 */
    float *run_mean;      /* [h*dk] BatchNorm running statistics (updated when training) */
    float *run_var;       /* [h*dk] */
    float momentum;       /* running-statistics momentum (0.1) */
} l720_peer_weights;

/* Device pointers of the dense parameter gradients (overwritten, or added to
 * after l720_peer_gpu_set_grad_add). */
typedef struct l720_peer_grads {
    float *wq;    /* [h*dk, d] */
    float *keys;  /* [h, 2, n, dk/2] */
    float *gamma; /* [h*dk], or NULL when the weights have none */
    float *beta;  /* [h*dk], or NULL */
} l720_peer_grads;

typedef struct l720_peer_gpu l720_peer_gpu;

/* Checks the dimensions (code 2 names the field) and allocates the workspace
 * for up to dims->tokens tokens. Needs a current CUDA device. */
l720_peer_gpu *l720_peer_gpu_new(const l720_peer_dims *dims, l720_err *err);
void l720_peer_gpu_free(l720_peer_gpu *p);

/* Device bytes the workspace of these dimensions takes (without weights). */
size_t l720_peer_gpu_workspace_bytes(const l720_peer_dims *dims);

/* y [T, d] = PEER(x [T, d]); keeps what the backward needs. stream is a
 * cudaStream_t (NULL: the default stream). Asynchronous on the stream. */
int l720_peer_gpu_forward(l720_peer_gpu *p, const l720_peer_weights *w, const uint16_t *x,
                          uint16_t *y, int T, int training, void *stream, l720_err *err);

/* From dy [T, d] of the last training forward: dx [T, d] bf16, the dense
 * gradients in g, and the compact U/V row gradients (l720_peer_gpu_rows). */
int l720_peer_gpu_backward(l720_peer_gpu *p, const l720_peer_weights *w, const uint16_t *x,
                           const uint16_t *dy, uint16_t *dx, const l720_peer_grads *g,
                           void *stream, l720_err *err);

/* add != 0: each later backward adds its dense gradients (wq, gamma, beta,
 * keys) into g instead of overwriting them (accumulating micro-batches; the
 * compact U/V row gradients are those of the last backward either way). */
void l720_peer_gpu_set_grad_add(l720_peer_gpu *p, int add);

/* Routing of the last forward (device pointers, [T, h, k]): expert ids and gates. */
const int32_t *l720_peer_gpu_ids(const l720_peer_gpu *p);
const float *l720_peer_gpu_gates(const l720_peer_gpu *p);
/* Query after BatchNorm of the last forward, [T, h*dk] fp32 (device). */
const float *l720_peer_gpu_query(const l720_peer_gpu *p);

/* Compact row gradients of the last backward (device pointers): touched
 * expert ids [n_touched] ascending, dU and dV rows [n_touched, d]. Reading
 * n_touched synchronises the stream. The rows are bf16. */
int l720_peer_gpu_rows(l720_peer_gpu *p, const int32_t **ids, const uint16_t **du,
                       const uint16_t **dv,
                       int *n_touched, void *stream, l720_err *err);

/* Lazy AdamW over the rows touched in the last backward, for one [N, d]
 * table: master (fp32), m, v (fp32) and the bf16 working copy w16 are
 * updated on those rows only; grad is the compact [n_touched, d] bf16 gradient.
 * step >= 1 is the global step (bias correction); decay is decoupled. */
typedef struct l720_adamw_cfg {
    float lr, beta1, beta2, eps, weight_decay;
    int step;
} l720_adamw_cfg;
int l720_peer_gpu_adamw_rows(l720_peer_gpu *p, const uint16_t *grad, float *master, float *m,
                             float *v, uint16_t *w16, int d, const l720_adamw_cfg *cfg,
                             void *stream, l720_err *err);

/* Benchmarks: with timing on, each forward + backward records an event after
 * each stage; stage_times returns up to max (name, milliseconds) pairs of the
 * last forward + backward (synchronises). */
int l720_peer_gpu_timing(l720_peer_gpu *p, int on, l720_err *err);
int l720_peer_gpu_stage_times(l720_peer_gpu *p, const char **names, float *ms, int max);

#ifdef __cplusplus
}
#endif

#endif
