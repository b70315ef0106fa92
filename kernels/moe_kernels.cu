/* moe_kernels.cu: see moe_kernels.cuh. Token rows are handled by one warp
 * (router, gate gradients) or one thread per 4 or 8 columns (copies); the
 * sort is a stable counting sort in chunks of MOE_CHUNK tokens: ranks inside
 * a warp from __match_any_sync, warps of a chunk and chunks in order. */
#include <math.h>

#include "kernels/moe_kernels.cuh"
#include "kernels/gpu_util.cuh"

#define WARPS 8 /* warps per block of 256 threads */

static unsigned nblk(size_t n, unsigned per) { return (unsigned)((n + per - 1) / per); }

/* ---- router products in fp32 from the bf16 x (fixed summation orders) ---- */
#define LG_TOK 4 /* tokens a warp */
#define LG_EXP 8 /* experts a block */
#define DR_UNROLL 8

static __device__ inline float dot8(const float f[8], float4 a, float4 b)
{
    return f[0] * a.x + f[1] * a.y + f[2] * a.z + f[3] * a.w + f[4] * b.x + f[5] * b.y +
           f[6] * b.z + f[7] * b.w;
}

/* Block: 8 warps x LG_TOK tokens, experts blockIdx.y * LG_EXP ..; lanes split
 * the columns (8 a lane at a time), then a butterfly sum. */
__global__ void k_logits(float *z, const uint4 *x, const float4 *wr, int N, int E, int C8)
{
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    int t0 = (blockIdx.x * WARPS + w) * LG_TOK, e0 = blockIdx.y * LG_EXP;
    float acc[LG_TOK][LG_EXP];
#pragma unroll
    for (int j = 0; j < LG_TOK; j++)
#pragma unroll
        for (int k = 0; k < LG_EXP; k++)
            acc[j][k] = 0.0f;
    for (int c = l; c < C8; c += 32) {
        float xv[LG_TOK][8];
#pragma unroll
        for (int j = 0; j < LG_TOK; j++) {
            if (t0 + j < N)
                unpack8(x[(size_t)(t0 + j) * C8 + c], xv[j]);
            else
#pragma unroll
                for (int q = 0; q < 8; q++)
                    xv[j][q] = 0.0f;
        }
#pragma unroll
        for (int k = 0; k < LG_EXP; k++) {
            if (e0 + k >= E)
                break;
            float4 a = __ldg(wr + ((size_t)(e0 + k) * C8 + c) * 2);
            float4 b = __ldg(wr + ((size_t)(e0 + k) * C8 + c) * 2 + 1);
#pragma unroll
            for (int j = 0; j < LG_TOK; j++)
                acc[j][k] += dot8(xv[j], a, b);
        }
    }
#pragma unroll
    for (int j = 0; j < LG_TOK; j++)
#pragma unroll
        for (int k = 0; k < LG_EXP; k++) {
            float v = warp_sum(acc[j][k]);
            if (l == j * LG_EXP + k && t0 + j < N && e0 + k < E)
                z[(size_t)(t0 + j) * E + e0 + k] = v;
        }
}

int moe_logits(float *z, const uint16_t *x, const float *router, int N, int E, int C,
               cudaStream_t s, l720_err *err)
{
    dim3 grid(nblk((size_t)N, WARPS * LG_TOK), (unsigned)((E + LG_EXP - 1) / LG_EXP));
    k_logits<<<grid, 256, 0, s>>>(z, (const uint4 *)x, (const float4 *)router, N, E, C / 8);
    GPU_LAUNCHED();
    return L720_OK;
}

/* dWr partial sums: block (token chunk, LG_EXP experts); a thread holds 8
 * columns x LG_EXP experts and walks the chunk's tokens in order. */
__global__ void k_drouter_part(float *part, const float *dz, const uint4 *x, int N, int E, int C8)
{
    __shared__ float g[MOE_DR_CHUNK][LG_EXP];
    int n0 = blockIdx.x * MOE_DR_CHUNK, e0 = blockIdx.y * LG_EXP;
    int nn = min(MOE_DR_CHUNK, N - n0);
    for (int i = threadIdx.x; i < MOE_DR_CHUNK * LG_EXP; i += blockDim.x) {
        int r = i / LG_EXP, k = i % LG_EXP;
        g[r][k] = r < nn && e0 + k < E ? dz[(size_t)(n0 + r) * E + e0 + k] : 0.0f;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C8; c += blockDim.x) {
        float acc[LG_EXP][8];
#pragma unroll
        for (int k = 0; k < LG_EXP; k++)
#pragma unroll
            for (int q = 0; q < 8; q++)
                acc[k][q] = 0.0f;
        for (int r0 = 0; r0 < nn; r0 += DR_UNROLL) { /* loads issued together, sums in order */
            uint4 xr[DR_UNROLL];
#pragma unroll
            for (int u = 0; u < DR_UNROLL; u++)
                xr[u] = r0 + u < nn ? x[(size_t)(n0 + r0 + u) * C8 + c] : make_uint4(0, 0, 0, 0);
#pragma unroll
            for (int u = 0; u < DR_UNROLL; u++) {
                float f[8];
                unpack8(xr[u], f);
#pragma unroll
                for (int k = 0; k < LG_EXP; k++)
#pragma unroll
                    for (int q = 0; q < 8; q++)
                        acc[k][q] = fmaf(g[r0 + u][k], f[q], acc[k][q]);
            }
        }
#pragma unroll
        for (int k = 0; k < LG_EXP; k++) {
            if (e0 + k >= E)
                break;
            float4 *o = (float4 *)(part + ((size_t)blockIdx.x * E + e0 + k) * C8 * 8) + 2 * c;
            o[0] = make_float4(acc[k][0], acc[k][1], acc[k][2], acc[k][3]);
            o[1] = make_float4(acc[k][4], acc[k][5], acc[k][6], acc[k][7]);
        }
    }
}

__global__ void k_drouter_sum(float *dr, const float *part, int nch, size_t n, int add)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float t = 0.0f;
    for (int c = 0; c < nch; c++)
        t += part[(size_t)c * n + i];
    dr[i] = add ? dr[i] + t : t;
}

int moe_drouter(float *drouter, float *part, const float *dz, const uint16_t *x, int N, int E,
                int C, int add, cudaStream_t s, l720_err *err)
{
    int nch = (N + MOE_DR_CHUNK - 1) / MOE_DR_CHUNK;
    dim3 grid((unsigned)nch, (unsigned)((E + LG_EXP - 1) / LG_EXP));
    k_drouter_part<<<grid, 128, 0, s>>>(part, dz, (const uint4 *)x, N, E, C / 8);
    GPU_LAUNCHED();
    size_t n = (size_t)E * C;
    k_drouter_sum<<<nblk(n, 256), 256, 0, s>>>(drouter, part, nch, n, add);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- router: one warp per token ---- */
__global__ void k_route(float *probs, float *lse, int *expert, int N, int E)
{
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5), l = threadIdx.x & 31;
    if (n >= N)
        return;
    float *z = probs + (size_t)n * E; /* [E] */
    float mx = -INFINITY;
    int best = E;
    for (int e = l; e < E; e += 32)
        if (z[e] > mx) {
            mx = z[e];
            best = e;
        }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float vo = __shfl_xor_sync(0xffffffffu, mx, o);
        int bo = __shfl_xor_sync(0xffffffffu, best, o);
        if (vo > mx || (vo == mx && bo < best)) {
            mx = vo;
            best = bo;
        }
    }
    float sum = 0.0f;
    for (int e = l; e < E; e += 32)
        sum += expf(z[e] - mx);
    sum = warp_sum(sum);
    float L = mx + logf(sum);
    for (int e = l; e < E; e += 32)
        z[e] = expf(z[e] - L);
    if (l == 0) {
        lse[n] = L;
        expert[n] = best;
    }
}

int moe_route(float *probs, float *lse, int *expert, int N, int E, cudaStream_t s, l720_err *err)
{
    k_route<<<nblk((size_t)N, WARPS), 256, 0, s>>>(probs, lse, expert, N, E);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- stable counting sort ---- */
/* One block (MOE_CHUNK threads) per chunk: per-warp loads wc [WARPS, E]. */
__global__ void k_rank(const int *expert, int N, int E, int *lrank, int *ccnt)
{
    extern __shared__ int wc[]; /* [WARPS, E] */
    for (int i = threadIdx.x; i < WARPS * E; i += blockDim.x)
        wc[i] = 0;
    __syncthreads();
    int n = blockIdx.x * MOE_CHUNK + threadIdx.x, w = threadIdx.x >> 5, l = threadIdx.x & 31;
    int e = n < N ? expert[n] : -1;
    unsigned same = __match_any_sync(0xffffffffu, e);
    int wr = __popc(same & ((1u << l) - 1u));
    if (e >= 0 && wr == 0)
        wc[w * E + e] = __popc(same);
    __syncthreads();
    if (e >= 0) {
        int r = wr;
        for (int v = 0; v < w; v++)
            r += wc[v * E + e];
        lrank[n] = r;
    }
    for (int i = threadIdx.x; i < E; i += blockDim.x) {
        int t = 0;
        for (int v = 0; v < WARPS; v++)
            t += wc[v * E + i];
        ccnt[(size_t)blockIdx.x * E + i] = t;
    }
}

/* One block: thread e walks the chunks in order; cnt[E] = largest load. */
__global__ void k_scan(const int *ccnt, int *cbase, int *cnt, int nch, int E)
{
    __shared__ int sm[32];
    int mx = 0;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int run = 0;
        for (int c = 0; c < nch; c++) {
            cbase[(size_t)c * E + e] = run;
            run += ccnt[(size_t)c * E + e];
        }
        cnt[e] = run;
        mx = max(mx, run);
    }
    mx = __reduce_max_sync(0xffffffffu, mx);
    if ((threadIdx.x & 31) == 0)
        sm[threadIdx.x >> 5] = mx;
    __syncthreads();
    if (threadIdx.x == 0) {
        int t = 0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++)
            t = max(t, sm[i]);
        cnt[E] = t;
    }
}

int moe_sort_counts(const int *expert, int *lrank, int *ccnt, int *cbase, int *cnt, int N, int E,
                    cudaStream_t s, l720_err *err)
{
    int nch = (N + MOE_CHUNK - 1) / MOE_CHUNK;
    k_rank<<<nch, MOE_CHUNK, sizeof(int) * WARPS * (size_t)E, s>>>(expert, N, E, lrank, ccnt);
    GPU_LAUNCHED();
    k_scan<<<1, 1024, 0, s>>>(ccnt, cbase, cnt, nch, E);
    GPU_LAUNCHED();
    return L720_OK;
}

__global__ void k_place(const int *expert, const int *lrank, const int *cbase, int N, int E,
                        int cap, int padded, int capS, const int *roff, int *tok_row, int *row_tok)
{
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    int e = expert[n], slot = cbase[(size_t)(n / MOE_CHUNK) * E + e] + lrank[n];
    if (slot < cap) {
        int row = (padded ? e * capS : roff[e]) + slot;
        tok_row[n] = row;
        row_tok[row] = n;
    } else {
        tok_row[n] = -1;
    }
}

int moe_place(const int *expert, const int *lrank, const int *cbase, int N, int E, int cap,
              int padded, int capS, const int *roff, int *tok_row, int *row_tok, int used,
              cudaStream_t s, l720_err *err)
{
    GPU_CK(cudaMemsetAsync(row_tok, 0xff, sizeof(int) * (size_t)used, s));
    k_place<<<nblk((size_t)N, 256), 256, 0, s>>>(expert, lrank, cbase, N, E, cap, padded, capS,
                                                 roff, tok_row, row_tok);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- auxiliary losses: chunk partial sums, then one block, in order ---- */
__global__ void k_aux_part(const float *probs, const float *lse, int N, int E, double *part)
{
    __shared__ double sh[MOE_CHUNK];
    int c = blockIdx.x, n0 = c * MOE_CHUNK, n1 = min(n0 + MOE_CHUNK, N);
    double *pc = part + (size_t)c * (E + 1); /* [E + 1] */
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        double t = 0.0;
        for (int n = n0; n < n1; n++)
            t += probs[(size_t)n * E + e];
        pc[e] = t;
    }
    int n = n0 + threadIdx.x;
    sh[threadIdx.x] = n < N ? (double)lse[n] * lse[n] : 0.0;
    __syncthreads();
    for (int h = MOE_CHUNK / 2; h > 0; h >>= 1) {
        if ((int)threadIdx.x < h)
            sh[threadIdx.x] += sh[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        pc[E] = sh[0];
}

__global__ void k_aux_fin(const double *part, int nch, const int *cnt, int N, int E, float *aux)
{
    __shared__ double sh[256];
    double b = 0.0;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        double P = 0.0;
        for (int c = 0; c < nch; c++)
            P += part[(size_t)c * (E + 1) + e];
        b += (double)cnt[e] / N * P / N;
    }
    sh[threadIdx.x] = b;
    __syncthreads();
    for (int h = 128; h > 0; h >>= 1) {
        if ((int)threadIdx.x < h)
            sh[threadIdx.x] += sh[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        double z = 0.0;
        for (int c = 0; c < nch; c++)
            z += part[(size_t)c * (E + 1) + E];
        aux[0] = (float)(E * sh[0]);
        aux[1] = (float)(z / N);
    }
}

int moe_aux(float *aux, double *part, const float *probs, const float *lse, const int *cnt, int N,
            int E, cudaStream_t s, l720_err *err)
{
    int nch = (N + MOE_CHUNK - 1) / MOE_CHUNK;
    k_aux_part<<<nch, MOE_CHUNK, 0, s>>>(probs, lse, N, E, part);
    GPU_LAUNCHED();
    k_aux_fin<<<1, 256, 0, s>>>(part, nch, cnt, N, E, aux);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- gathers and scatters ---- */
__global__ void k_gather_x(uint4 *xs, const uint4 *x, const int *row_tok, size_t n8, int C8)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n8)
        return;
    size_t r = i / C8;
    int c = (int)(i % C8), n = row_tok[r];
    xs[i] = n >= 0 ? x[(size_t)n * C8 + c] : make_uint4(0, 0, 0, 0);
}

int moe_gather_x(uint16_t *xs, const uint16_t *x, const int *row_tok, int used, int C,
                 cudaStream_t s, l720_err *err)
{
    size_t n8 = (size_t)used * (C / 8);
    k_gather_x<<<nblk(n8, 256), 256, 0, s>>>((uint4 *)xs, (const uint4 *)x, row_tok, n8, C / 8);
    GPU_LAUNCHED();
    return L720_OK;
}

__global__ void k_combine(float4 *out, const float4 *ys, const float *probs, const int *expert,
                          const int *tok_row, size_t n4, int C4, int E)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n4)
        return;
    size_t n = i / C4;
    int row = tok_row[n];
    if (row < 0)
        return;
    float g = probs[n * E + expert[n]];
    float4 y = ys[(size_t)row * C4 + i % C4], o = out[i];
    o.x += g * y.x;
    o.y += g * y.y;
    o.z += g * y.z;
    o.w += g * y.w;
    out[i] = o;
}

int moe_combine(float *out, const float *ys, const float *probs, const int *expert,
                const int *tok_row, int N, int C, int E, cudaStream_t s, l720_err *err)
{
    size_t n4 = (size_t)N * (C / 4);
    k_combine<<<nblk(n4, 256), 256, 0, s>>>((float4 *)out, (const float4 *)ys, probs, expert,
                                            tok_row, n4, C / 4, E);
    GPU_LAUNCHED();
    return L720_OK;
}

/* One warp per row. */
__global__ void k_gather_dout(uint4 *dys, float *dgate, const uint4 *dout, const float4 *ys,
                              const float *probs, const int *expert, const int *row_tok, int used,
                              int C8, int E)
{
    int r = blockIdx.x * WARPS + (threadIdx.x >> 5), l = threadIdx.x & 31;
    if (r >= used)
        return;
    int n = row_tok[r];
    uint4 *d = dys + (size_t)r * C8; /* [C8] */
    if (n < 0) {
        for (int c = l; c < C8; c += 32)
            d[c] = make_uint4(0, 0, 0, 0);
        return;
    }
    float g = probs[(size_t)n * E + expert[n]], dot = 0.0f;
    for (int c = l; c < C8; c += 32) {
        float f[8];
        unpack8(dout[(size_t)n * C8 + c], f);
        float4 y0 = ys[((size_t)r * C8 + c) * 2], y1 = ys[((size_t)r * C8 + c) * 2 + 1];
        dot += f[0] * y0.x + f[1] * y0.y + f[2] * y0.z + f[3] * y0.w + f[4] * y1.x + f[5] * y1.y +
               f[6] * y1.z + f[7] * y1.w;
#pragma unroll
        for (int q = 0; q < 8; q++)
            f[q] *= g;
        d[c] = pack8(f);
    }
    dot = warp_sum(dot);
    if (l == 0)
        dgate[n] = dot;
}

int moe_gather_dout(uint16_t *dys, float *dgate, const uint16_t *dout, const float *ys,
                    const float *probs, const int *expert, const int *row_tok, int used, int C,
                    int E, cudaStream_t s, l720_err *err)
{
    k_gather_dout<<<nblk((size_t)used, WARPS), 256, 0, s>>>((uint4 *)dys, dgate,
                                                            (const uint4 *)dout,
                                                            (const float4 *)ys, probs, expert,
                                                            row_tok, used, C / 8, E);
    GPU_LAUNCHED();
    return L720_OK;
}

__global__ void k_scatter_dx(float4 *dx, const float4 *dxs, const int *tok_row, size_t n4, int C4)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n4)
        return;
    int row = tok_row[i / C4];
    dx[i] = row >= 0 ? dxs[(size_t)row * C4 + i % C4] : make_float4(0.f, 0.f, 0.f, 0.f);
}

int moe_scatter_dx(float *dx, const float *dxs, const int *tok_row, int N, int C, cudaStream_t s,
                   l720_err *err)
{
    size_t n4 = (size_t)N * (C / 4);
    k_scatter_dx<<<nblk(n4, 256), 256, 0, s>>>((float4 *)dx, (const float4 *)dxs, tok_row, n4,
                                               C / 4);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- SwiGLU pointwise on bf16 rows, 8 elements a thread ---- */
/* ---- router backward: one warp per token ---- */
__global__ void k_router_bwd(float *dz, const float *probs, const float *lse, const int *expert,
                             const int *tok_row, const float *dgate, const int *cnt, int N, int E,
                             float bc, float zc)
{
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5), l = threadIdx.x & 31;
    if (n >= N)
        return;
    const float *p = probs + (size_t)n * E; /* [E] */
    int en = expert[n];
    float dg = tok_row[n] >= 0 ? dgate[n] : 0.0f, dot = 0.0f;
    for (int e = l; e < E; e += 32) {
        float dp = bc * (float)((double)E * ((double)cnt[e] / N) / (double)N);
        if (e == en)
            dp += dg;
        dot += p[e] * dp;
    }
    dot = warp_sum(dot);
    float zl = zc * 2.0f * lse[n] / (float)N;
    for (int e = l; e < E; e += 32) {
        float dp = bc * (float)((double)E * ((double)cnt[e] / N) / (double)N);
        if (e == en)
            dp += dg;
        dz[(size_t)n * E + e] = p[e] * (dp - dot) + zl * p[e];
    }
}

int moe_router_bwd(float *dz, const float *probs, const float *lse, const int *expert,
                   const int *tok_row, const float *dgate, const int *cnt, int N, int E,
                   float balance_coef, float zloss_coef, cudaStream_t s, l720_err *err)
{
    k_router_bwd<<<nblk((size_t)N, WARPS), 256, 0, s>>>(dz, probs, lse, expert, tok_row, dgate,
                                                        cnt, N, E, balance_coef, zloss_coef);
    GPU_LAUNCHED();
    return L720_OK;
}
