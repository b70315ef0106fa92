/* gemm.h: row-major bf16 matrix products with fp32 accumulation and fp32
 * output, through cuBLASLt. C API over device pointers. */
#ifndef L720_GEMM_H
#define L720_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"

typedef struct l720_gemm l720_gemm; /* a cuBLASLt handle and its workspace */

l720_gemm *l720_gemm_new(l720_err *err);
void l720_gemm_free(l720_gemm *g);

/* Tuning (on by default): the first call of each new shape runs every
 * algorithm the library's heuristic offers (up to 16) on that call's own
 * operands, hashes each output, and keeps the fastest of those whose output
 * is bitwise the heuristic's first choice's. A tuned handle therefore gives
 * the same bits as an untuned one, only sooner; the first call of a shape
 * takes longer and synchronises its stream. Products under 10^9
 * multiply-adds are not tuned (their launch bounds them). Off: the
 * heuristic's first choice, no extra work. Applies to shapes first seen
 * after the call; returns the previous setting. */
int l720_gemm_set_tune(l720_gemm *g, int on);

/* What a remembered shape got: its product, how many candidates the
 * heuristic offered, how many gave bitwise the same output, which one was
 * kept (0: the heuristic's first) and the times of the first and the kept
 * (ms a run, 0 when not tuned). */
typedef struct {
    int M, N, K, batch, ta, tb, out_bytes;
    int candidates, equal, chosen;
    float ms_first, ms_chosen;
} l720_gemm_info;

int l720_gemm_plans(const l720_gemm *g); /* shapes remembered */
int l720_gemm_plan_info(const l720_gemm *g, int i, l720_gemm_info *info); /* i < plans */

/* One row-major product per batch entry b < batch:
 *   C_b[M, N] = alpha * op(A_b)[M, K] op(B_b)[K, N] + beta * C_b
 * A, B bf16 (uint16_t storage), C fp32. ta/tb = 1: the operand is stored
 * transposed (A as [K, M], B as [N, K]). lda/ldb/ldc: row strides in
 * elements; sa/sb/sc: batch strides in elements. Deterministic for a fixed
 * shape. stream is a cudaStream_t. */
int l720_gemm_bf16(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha,
                   const void *A, long lda, long sa, const void *B, long ldb, long sb, float beta,
                   float *C, long ldc, long sc, int batch, void *stream, l720_err *err);

/* The same with the result C rounded to bf16 (uint16_t storage; the sums
 * are still fp32). */
int l720_gemm_bf16_out(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha,
                       const void *A, long lda, long sa, const void *B, long ldb, long sb,
                       float beta, void *C, long ldc, long sc, int batch, void *stream,
                       l720_err *err);

/* D[M, N] = op(A) op(B) + Cin (one product; Cin and D fp32 with row stride
 * ldc; Cin == D adds in place): a residual add without a copy. */
int l720_gemm_bf16_add(l720_gemm *g, int ta, int tb, int M, int N, int K, const void *A, long lda,
                       const void *B, long ldb, const float *Cin, float *D, long ldc, void *stream,
                       l720_err *err);

/* The same with fp32 A and B, computed in full fp32 (no reduced-precision
 * matrix modes), for products whose result decides a discrete choice. */
int l720_gemm_f32(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  long lda, long sa, const float *B, long ldb, long sb, float beta, float *C,
                  long ldc, long sc, int batch, void *stream, l720_err *err);

#ifdef __cplusplus
}
#endif

#endif
