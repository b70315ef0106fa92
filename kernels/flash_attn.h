/* flash_attn.h: fused causal attention on the GPU (flash_attn.cu forward,
 * flash_attn_bwd.cu backward): tiles of queries and keys in shared memory,
 * bf16 tensor-core products with fp32 accumulation, online softmax; no
 * T x T tensor goes through memory and fully masked tiles are skipped.
 *
 * Layout as l720_dense_attn_*: qkv [B*T, 3C] bf16 (RoPE applied) holds per
 * token q | k | v, head h at columns h*hs .. h*hs+hs-1 of each part;
 * C = NH * hs. Scale 1/sqrt(hs) (trainer/attention.c). bf16 buffers are
 * uint16_t; device pointers, 16-byte aligned; stream is a cudaStream_t.
 * Head sizes 32, 64 and 128 (l720_flash_attn_supported); any other size, or
 * a shape that does not fit, returns L720_EINPUT (2) before launching
 * anything, so that a caller can fall back to the batched path.
 *
 * Buffers (elements):
 *   qkv  [B*T, 3C] bf16     y    [B*T, C] bf16     lse  [B, NH, T] fp32
 *   dy   [B*T, C]  bf16     dsum [B, NH, T] fp32 scratch (rowsum(dy * y))
 *   dqkv [B*T, 3C] fp32, every element overwritten (dq | dk | dv, the
 *        gradient of the qkv given to the forward; what l720_dense_attn_bwd
 *        writes, before the RoPE backward).
 * Deterministic: one writer per output, fixed summation orders, no atomics;
 * a rerun gives the same bits. */
#ifndef L720_FLASH_ATTN_H
#define L720_FLASH_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"

/* 1 when the kernels are built for head size hs, else 0. */
int l720_flash_attn_supported(int hs);

/* y [B*T, C] bf16 and lse [B, NH, T] (natural log of the softmax normaliser
 * of each query, as trainer/attention.c) from qkv. */
int l720_flash_attn_fwd(uint16_t *y, float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                        void *stream, l720_err *err);

/* dqkv [B*T, 3C] fp32 from dy, and the forward's y, lse and qkv; dsum is
 * scratch of B*NH*T floats. */
int l720_flash_attn_bwd(float *dqkv, float *dsum, const uint16_t *dy, const uint16_t *y,
                        const float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                        void *stream, l720_err *err);

#ifdef __cplusplus
}
#endif

#endif
