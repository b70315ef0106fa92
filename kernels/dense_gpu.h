/* dense_gpu.h: the dense transformer on the GPU (the same function and
 * parameter layout as trainer/model.h with every FFN dense): bf16 weights and
 * activations into cuBLASLt products with fp32 accumulation, fp32 master
 * weights, gradients and optimiser state. C API over device pointers
 * (kernels: dense_kernels.cu, dense_attn.cu); the whole model with any mix
 * of FFN kinds is gpu_model.h.
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
/* dinp[N, C] += input gradient, and dinp_bf (bf16, may be NULL) = the new
 * dinp; dw[C] += gain gradient. part: scratch of
 * l720_dense_rmsnorm_part_len(N, C) floats (column partial sums, fixed order). */
size_t l720_dense_rmsnorm_part_len(int N, int C);
int l720_dense_rmsnorm_bwd(float *dinp, uint16_t *dinp_bf, float *dw, float *part,
                           const float *dout, const float *inp, const float *w, const float *rstd,
                           int N, int C, void *stream, l720_err *err);

/* cosb, sinb [T, hs/2]: cos/sin of t * theta^(-2i/hs) (trainer/rope.c). */
int l720_dense_rope_table(float *cosb, float *sinb, int T, int hs, float theta, void *stream,
                          l720_err *err);
/* out[B*T, 3C] (bf16) = qkv[B*T, 3C] (fp32) with the q and k parts rotated
 * (dir = +1 forward, -1 backward: the transpose); the v part copied. */
int l720_dense_rope(uint16_t *out, const float *qkv, const float *cosb, const float *sinb, int B,
                    int T, int NH, int hs, int dir, void *stream, l720_err *err);

/* SwiGLU pointwise over bf16 rows, for the dense layer (h1 = h13, h3 = h13 +
 * H in one [N, 2H] product, ld = 2H) and the MoE layer (separate [N, H]
 * buffers, ld = H): act[N, H] = silu(h1) * h3; backward dh1, dh3 (rows of
 * stride ld, like h1 and h3) from dact[N, H]. All bf16, math in fp32. */
int l720_swiglu_fwd(uint16_t *act, const uint16_t *h1, const uint16_t *h3, long ld, int N, int H,
                    void *stream, l720_err *err);
int l720_swiglu_bwd(uint16_t *dh1, uint16_t *dh3, const uint16_t *dact, const uint16_t *h1,
                    const uint16_t *h3, long ld, int N, int H, void *stream, l720_err *err);

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

/* Cross-entropy of bf16 logits[N, V] (row stride ld): loss[N] per row (0
 * for targets < 0), dlogits[N, ld] (bf16) = (softmax - onehot) * scale, 0 in
 * the columns past V. dlogits may be logits (the gradient overwrites them). */
int l720_dense_xent(uint16_t *dlogits, float *loss, const uint16_t *logits, long ld,
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
/* Embedding gradient without atomics. Host side: positions of tok [N]
 * (values < V) grouped by token, stable (counting sort): order [N], the runs
 * run_tok [n_runs] (ascending token ids) starting at run_start [n_runs + 1];
 * count [V] scratch. Returns n_runs. Device side: row run_tok[r] of dembed
 * [V, C] += the sum of the dout [N, C] rows at its positions, in position
 * order (added to, so zero dembed first; rows of absent tokens are not
 * touched). */
int l720_dense_embed_order(const int32_t *tok, int N, int V, int32_t *order, int32_t *run_start,
                           int32_t *run_tok, int32_t *count);
int l720_dense_embed_bwd(float *dembed, const float *dout, const int32_t *order,
                         const int32_t *run_start, const int32_t *run_tok, int n_runs, int C,
                         void *stream, l720_err *err);

#ifdef __cplusplus
}
#endif

#endif
