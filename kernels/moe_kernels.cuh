/* moe_kernels.cuh: the routing, sorting, gather/scatter and pointwise
 * kernels of the Switch-MoE layer (moe_kernels.cu), called by moe_gpu.cu.
 * Each returns 0 or an l720_err (launch failures). Every output element has
 * one writer and every sum a fixed order (no atomics on values). */
#ifndef L720_MOE_KERNELS_CUH
#define L720_MOE_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "err.h"
}

#define MOE_CHUNK 256  /* tokens per block of the stable sort */
#define MOE_MAX_E 1024 /* experts (shared memory of the sort: 8 E ints) */
#define MOE_DR_CHUNK 128 /* tokens per partial sum of the router gradient */

/* z [N, E] = x Wr^T in fp32 from x [N, C] bf16 and router [E, C] fp32. */
int moe_logits(float *z, const uint16_t *x, const float *router, int N, int E, int C,
               cudaStream_t s, l720_err *err);

/* drouter [E, C] = dz^T x in fp32 (written; add != 0: added to); part:
 * [ceil(N / MOE_DR_CHUNK), E, C] scratch of partial sums over token chunks,
 * added in chunk order. */
int moe_drouter(float *drouter, float *part, const float *dz, const uint16_t *x, int N, int E,
                int C, int add, cudaStream_t s, l720_err *err);

/* probs [N, E]: logits in, softmax out; lse [N]; expert [N] = argmax
 * (lowest index on ties). */
int moe_route(float *probs, float *lse, int *expert, int N, int E, cudaStream_t s, l720_err *err);

/* Stable counting sort, first half: lrank [N] (rank of the token among the
 * earlier tokens of its chunk with the same expert), chunk loads ccnt and
 * their exclusive prefix over chunks cbase [nch, E], loads cnt [E] and the
 * largest load cnt[E]. */
int moe_sort_counts(const int *expert, int *lrank, int *ccnt, int *cbase, int *cnt, int N, int E,
                    cudaStream_t s, l720_err *err);

/* aux[0] = E sum_e (cnt_e / N) P_e, aux[1] = mean lse^2 (double sums in a
 * fixed order; part [nch, E + 1] scratch). */
int moe_aux(float *aux, double *part, const float *probs, const float *lse, const int *cnt, int N,
            int E, cudaStream_t s, l720_err *err);

/* Second half of the sort: the token's slot in its expert is cbase + lrank;
 * slots < cap are kept at row (padded ? e * capS : roff[e]) + slot.
 * tok_row [N] (-1: dropped), row_tok [used] (-1: zero row). */
int moe_place(const int *expert, const int *lrank, const int *cbase, int N, int E, int cap,
              int padded, int capS, const int *roff, int *tok_row, int *row_tok, int used,
              cudaStream_t s, l720_err *err);

/* xs [used, C] = x rows of row_tok (zero rows for -1). C % 8 == 0. */
int moe_gather_x(uint16_t *xs, const uint16_t *x, const int *row_tok, int used, int C,
                 cudaStream_t s, l720_err *err);

/* out[n] += gate_n ys[row of n] for kept tokens. */
int moe_combine(float *out, const float *ys, const float *probs, const int *expert,
                const int *tok_row, int N, int C, int E, cudaStream_t s, l720_err *err);

/* dys [used, C] = gate dout[token] (bf16; zero rows for -1), dgate[token] =
 * <dout[token], ys[row]>. */
int moe_gather_dout(uint16_t *dys, float *dgate, const uint16_t *dout, const float *ys,
                    const float *probs, const int *expert, const int *row_tok, int used, int C,
                    int E, cudaStream_t s, l720_err *err);

/* dx[n] = dxs[row of n], 0 for dropped tokens (written, not added). */
int moe_scatter_dx(float *dx, const float *dxs, const int *tok_row, int N, int C, cudaStream_t s,
                   l720_err *err);

/* dz [N, E]: the logit gradient of gate, balance and z-loss terms (as
 * trainer/moe.c). */
int moe_router_bwd(float *dz, const float *probs, const float *lse, const int *expert,
                   const int *tok_row, const float *dgate, const int *cnt, int N, int E,
                   float balance_coef, float zloss_coef, cudaStream_t s, l720_err *err);

#endif
