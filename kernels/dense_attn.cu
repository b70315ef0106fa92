/* dense_attn.cu: causal attention as batched cuBLASLt products per sequence
 * (one batch entry per head) and the fused causal softmax (dense_kernels.cu).
 * qkv rows are [q | k | v], head h at columns h*hs of each part. The full
 * T x T scores are computed and the upper triangle masked. */
#include <math.h>

#include "kernels/dense_gpu.h"
#include "kernels/gpu_util.cuh"

extern "C" int l720_dense_attn_fwd(l720_gemm *g, uint16_t *ybf, float *y, uint16_t *P, float *S,
                                   const uint16_t *qkv, int B, int T, int C, int NH, void *stream,
                                   l720_err *err)
{
    int hs = C / NH;
    long TT = (long)T * T, ld = 3L * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++) {
        const uint16_t *q = qkv + (long)b * T * ld, *k = q + C, *v = q + 2 * C;
        uint16_t *Pb = P + (long)b * NH * TT; /* [NH, T, T] */
        int rc = l720_gemm_bf16(g, 0, 1, T, T, hs, scale, q, ld, hs, k, ld, hs, 0.0f, S, T, TT, NH,
                                stream, err);
        if (!rc)
            rc = l720_dense_softmax_fwd(Pb, S, (long)NH * T, T, stream, err);
        if (!rc)
            rc = l720_gemm_bf16(g, 0, 0, T, hs, T, 1.0f, Pb, T, TT, v, ld, hs, 0.0f,
                                y + (long)b * T * C, C, hs, NH, stream, err);
        if (rc)
            return rc;
    }
    return l720_dense_to_bf16(ybf, y, (size_t)B * T * C, stream, err);
}

extern "C" int l720_dense_attn_bwd(l720_gemm *g, float *dqkv, float *dP, uint16_t *dS,
                                   const uint16_t *dy, const uint16_t *P, const uint16_t *qkv,
                                   int B, int T, int C, int NH, void *stream, l720_err *err)
{
    int hs = C / NH;
    long TT = (long)T * T, ld = 3L * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++) {
        const uint16_t *q = qkv + (long)b * T * ld, *k = q + C, *v = q + 2 * C;
        const uint16_t *Pb = P + (long)b * NH * TT, *dyb = dy + (long)b * T * C;
        float *dq = dqkv + (long)b * T * ld, *dk = dq + C, *dv = dq + 2 * C;
        /* dP = dY V^T; dV = P^T dY */
        int rc = l720_gemm_bf16(g, 0, 1, T, T, hs, 1.0f, dyb, C, hs, v, ld, hs, 0.0f, dP, T, TT,
                                NH, stream, err);
        if (!rc)
            rc = l720_gemm_bf16(g, 1, 0, T, hs, T, 1.0f, Pb, T, TT, dyb, C, hs, 0.0f, dv, ld, hs,
                                NH, stream, err);
        if (!rc)
            rc = l720_dense_softmax_bwd(dS, Pb, dP, (long)NH * T, T, scale, stream, err);
        /* dQ = dS K; dK = dS^T Q */
        if (!rc)
            rc = l720_gemm_bf16(g, 0, 0, T, hs, T, 1.0f, dS, T, TT, k, ld, hs, 0.0f, dq, ld, hs,
                                NH, stream, err);
        if (!rc)
            rc = l720_gemm_bf16(g, 1, 0, T, hs, T, 1.0f, dS, T, TT, q, ld, hs, 0.0f, dk, ld, hs,
                                NH, stream, err);
        if (rc)
            return rc;
    }
    return L720_OK;
}
