/* dense_gpu.h: the dense transformer on the GPU (the same function and
 * parameter layout as trainer/model.h with every FFN dense): bf16 weights and
 * activations into cuBLASLt products with fp32 accumulation, fp32 master
 * weights, gradients and optimiser state. C API over device pointers
 * (kernels, dense_kernels.cu) and a whole-model step (dense_model.cu).
 * bf16 buffers are uint16_t. stream is a cudaStream_t. All return 0 or an
 * l720_err. */
#ifndef L720_DENSE_GPU_H
#define L720_DENSE_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"
#include "kernels/gemm.h"

/* out[N, C] (bf16) = RMSNorm(inp[N, C]) * w; rstd[N]. eps 1e-5. */
int l720_dense_rmsnorm_fwd(uint16_t *out, float *rstd, const float *inp, const float *w, int N,
                           int C, void *stream, l720_err *err);
/* dinp[N, C] += input gradient; dw[C] += gain gradient. part: scratch of
 * l720_dense_rmsnorm_part_len(N, C) floats (column partial sums, fixed order). */
size_t l720_dense_rmsnorm_part_len(int N, int C);
int l720_dense_rmsnorm_bwd(float *dinp, float *dw, float *part, const float *dout,
                           const float *inp, const float *w, const float *rstd, int N, int C,
                           void *stream, l720_err *err);

/* cosb, sinb [T, hs/2]: cos/sin of t * theta^(-2i/hs) (trainer/rope.c). */
int l720_dense_rope_table(float *cosb, float *sinb, int T, int hs, float theta, void *stream,
                          l720_err *err);
/* qkv[B*T, 3C] fp32: rotates the q and k parts in place (dir = +1 forward,
 * -1 backward: the transpose) and writes the whole row as bf16 to out. */
int l720_dense_rope(uint16_t *out, float *qkv, const float *cosb, const float *sinb, int B, int T,
                    int NH, int hs, int dir, void *stream, l720_err *err);

/* h13[N, 2H] = [x W1^T | x W3^T]; act[N, H] (bf16) = silu(h1) * h3. */
int l720_dense_swiglu_fwd(uint16_t *act, const float *h13, int N, int H, void *stream,
                          l720_err *err);
/* dh13[N, 2H] (bf16) from dact[N, H]. */
int l720_dense_swiglu_bwd(uint16_t *dh13, const float *dact, const float *h13, int N, int H,
                          void *stream, l720_err *err);

/* Causal softmax over rows of S[rows, T] (row r is query r % T; columns
 * beyond it get P = 0): P bf16. dS = P * (dP - sum(P dP)) * scale, bf16. */
int l720_dense_softmax_fwd(uint16_t *P, const float *S, long rows, int T, void *stream,
                           l720_err *err);
int l720_dense_softmax_bwd(uint16_t *dS, const uint16_t *P, const float *dP, long rows, int T,
                           float scale, void *stream, l720_err *err);

/* Attention of qkv[B*T, 3C] (bf16, RoPE applied): y[B*T, C] (fp32 scratch)
 * and ybf (bf16); P[B, NH, T, T] bf16 kept for backward; S [NH, T, T] fp32
 * scratch. Backward: dqkv[B*T, 3C] fp32 from dy (bf16); dP scratch like S,
 * dS like P (one batch entry). */
int l720_dense_attn_fwd(l720_gemm *g, uint16_t *ybf, float *y, uint16_t *P, float *S,
                        const uint16_t *qkv, int B, int T, int C, int NH, void *stream,
                        l720_err *err);
int l720_dense_attn_bwd(l720_gemm *g, float *dqkv, float *dP, uint16_t *dS, const uint16_t *dy,
                        const uint16_t *P, const uint16_t *qkv, int B, int T, int C, int NH,
                        void *stream, l720_err *err);

/* Cross-entropy of logits[N, V] (row stride ld): loss[N] per row (0 for
 * targets < 0), dlogits[N, ld] (bf16) = (softmax - onehot) * scale. */
int l720_dense_xent(uint16_t *dlogits, float *loss, const float *logits, long ld,
                    const int32_t *targets, int N, int V, float scale, void *stream,
                    l720_err *err);

/* AdamW as trainer/optim.c on n fp32 values, writing the bf16 copy pbf.
 * decay = lr * weight_decay (0 for no_decay tensors), c1/c2 the bias
 * corrections 1 - beta^t, gscale multiplies the gradient. */
int l720_dense_adamw(float *p, uint16_t *pbf, float *m, float *v, const float *g, size_t n,
                     float lr, float b1, float b2, float eps, float decay, float c1, float c2,
                     float gscale, void *stream, l720_err *err);

int l720_dense_to_bf16(uint16_t *out, const float *in, size_t n, void *stream, l720_err *err);
int l720_dense_embed_fwd(float *out, const int32_t *tok, const float *embed, int N, int C,
                         void *stream, l720_err *err);
/* dembed[V, C] += rows of dout (atomic adds: order not fixed). */
int l720_dense_embed_bwd(float *dembed, const float *dout, const int32_t *tok, int N, int C,
                         void *stream, l720_err *err);

/* ---- whole model (dense_model.cu) ---- */
typedef struct l720_dense_cfg {
    int vocab, d_model, n_layers, n_heads, seq_len, ffn_hidden;
    float rope_theta;
} l720_dense_cfg;

typedef struct l720_dense_model l720_dense_model;

/* Parameters in trainer/model.c's order for an all-dense model. */
size_t l720_dense_n_params(const l720_dense_cfg *c);
l720_dense_model *l720_dense_new(const l720_dense_cfg *c, int B, l720_err *err);
void l720_dense_free(l720_dense_model *m);
/* Host <-> device: params (fp32 master, also refreshes the bf16 copy), grads. */
int l720_dense_set_params(l720_dense_model *m, const float *host, l720_err *err);
int l720_dense_get_params(l720_dense_model *m, float *host, l720_err *err);
int l720_dense_get_grads(l720_dense_model *m, float *host, l720_err *err);
/* One forward + backward on host tokens/targets [B*T] (T = seq_len):
 * *loss = mean cross-entropy over targets >= 0; grads overwritten. */
int l720_dense_fwd_bwd(l720_dense_model *m, const int32_t *tokens, const int32_t *targets,
                       double *loss, l720_err *err);
/* The same with tokens/targets already on the device, loss left on the
 * device (no host synchronisation): for timing. */
int l720_dense_fwd_bwd_dev(l720_dense_model *m, l720_err *err);
int32_t *l720_dense_dev_tokens(l720_dense_model *m);  /* [B*T] */
int32_t *l720_dense_dev_targets(l720_dense_model *m); /* [B*T] */
/* AdamW step t (1-based) on all parameters (norms without decay). */
int l720_dense_adamw_step(l720_dense_model *m, long t, double lr, double b1, double b2,
                          double eps, double wd, l720_err *err);
void *l720_dense_stream(l720_dense_model *m);

#ifdef __cplusplus
}
#endif

#endif
