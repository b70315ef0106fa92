/* peer_route.cu: the PEER routing forward: query BatchNorm, top-k per
 * sub-key half, top-k of the k*k sums and the softmax gates. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"
#include "peer_topk.cuh"

/* Column sums over row blocks, in a fixed order (deterministic). Block
 * (x, y) sums rows [y*chunk, (y+1)*chunk) of 32 columns into part[y][c][0..1]:
 * mode 0 (statistics): a = q - q[0], b = a^2 (shifted for accuracy);
 * mode 1 (backward):   a = g, b = g * (q - mean) * rstd. */
__global__ void k_col_partial(const float *q, const float *g, const float *mean, const float *rstd,
                              int T, int C, int chunk, int mode, float *part)
{
    __shared__ float pa[PEER_COL_TY][32], pb[PEER_COL_TY][32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * chunk, r1 = min(T, r0 + chunk);
    float a = 0.0f, b = 0.0f;
    if (c < C) {
        const float sh = mode == 0 ? q[c] : mean[c], rs = mode == 0 ? 1.0f : rstd[c];
        for (int r = r0 + ty; r < r1; r += PEER_COL_TY) {
            const size_t i = (size_t)r * C + c;
            const float e = (q[i] - sh) * rs;
            if (mode == 0) {
                a += e;
                b += e * e;
            } else {
                a += g[i];
                b += g[i] * e;
            }
        }
    }
    pa[ty][tx] = a;
    pb[ty][tx] = b;
    __syncthreads();
    if (ty == 0 && c < C) {
        float x1 = 0.0f, x2 = 0.0f;
        for (int i = 0; i < PEER_COL_TY; i++) {
            x1 += pa[i][tx];
            x2 += pb[i][tx];
        }
        float *o = part + ((size_t)blockIdx.y * C + c) * 2;
        o[0] = x1;
        o[1] = x2;
    }
}

static int col_blocks(int T)
{
    int rb = (T + 255) / 256;
    return rb < PEER_COL_RB ? rb : PEER_COL_RB;
}

void peer_col_partial(const float *q, const float *g, const float *mean, const float *rstd, int T,
                      int C, int mode, float *part, cudaStream_t s)
{
    const int rb = col_blocks(T), chunk = (T + rb - 1) / rb;
    k_col_partial<<<dim3((C + 31) / 32, rb), dim3(32, PEER_COL_TY), 0, s>>>(q, g, mean, rstd, T, C,
                                                                            chunk, mode, part);
}

/* Per column: the row-block partial sums in order -> statistics. */
__global__ void k_bn_finalize(const float *q, const float *part, int rb, int T, int C, float *mean,
                              float *rstd, float *run_mean, float *run_var, float mom, int training)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    if (!training) {
        mean[c] = run_mean[c];
        rstd[c] = rsqrtf(run_var[c] + PEER_BN_EPS);
        return;
    }
    float a = 0.0f, b = 0.0f;
    for (int i = 0; i < rb; i++) {
        a += part[((size_t)i * C + c) * 2];
        b += part[((size_t)i * C + c) * 2 + 1];
    }
    const float ms = a / (float)T; /* mean of the shifted values */
    const float var = fmaxf(b / (float)T - ms * ms, 0.0f);
    const float mu = q[c] + ms;
    mean[c] = mu;
    rstd[c] = rsqrtf(var + PEER_BN_EPS);
    run_mean[c] = (1.0f - mom) * run_mean[c] + mom * mu;
    run_var[c] = (1.0f - mom) * run_var[c] + mom * var * (float)T / (float)(T - 1);
}

void peer_bn_stats(const float *q, int T, int C, float *mean, float *rstd, float *run_mean,
                   float *run_var, float momentum, int training, float *part, cudaStream_t s)
{
    if (training)
        peer_col_partial(q, NULL, NULL, NULL, T, C, 0, part, s);
    k_bn_finalize<<<(C + 255) / 256, 256, 0, s>>>(q, part, col_blocks(T), T, C, mean, rstd,
                                                  run_mean, run_var, momentum, training);
}

__global__ void k_bn_apply(const float *q, const float *mean, const float *rstd,
                           const float *gamma, const float *beta, size_t total, int C, float *qn)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        qn[i] = (q[i] - mean[c]) * rstd[c] * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
    }
}

void peer_bn_apply(const float *q, const float *mean, const float *rstd, const float *gamma,
                   const float *beta, int T, int C, float *qn, cudaStream_t s)
{
    size_t total = (size_t)T * C;
    int blocks = (int)((total + 255) / 256 < 8192 ? (total + 255) / 256 : 8192);
    k_bn_apply<<<blocks, 256, 0, s>>>(q, mean, rstd, gamma, beta, total, C, qn);
}

/* One warp per row of S (n <= 1024: 32 values per lane). VEC (n a multiple
 * of 4): 16-byte loads, lane l holding columns 128 i + 4 l .. +4 (the
 * result depends only on the (value, column) pairs, not on where they sit). */
#ifndef PEER_TOPK_MINB
#define PEER_TOPK_MINB 2 /* blocks of 256 an SM: no spills (at 3 or 4 a few spill, slower) */
#endif
template <bool VEC>
__global__ void __launch_bounds__(256, PEER_TOPK_MINB) k_topk_rows(const float *S, int nb, int T, int n, int k, float *val, int *idx)
{
    const int row = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= nb * T)
        return;
    const int b = row / T, t = row % T;
    const float *s = S + (size_t)row * n;
    float v[32];
    if (VEC) {
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const int c = i * 128 + lane * 4;
            float4 f = make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
            if (c < n)
                f = __ldcs((const float4 *)(s + c));
            v[4 * i] = f.x;
            v[4 * i + 1] = f.y;
            v[4 * i + 2] = f.z;
            v[4 * i + 3] = f.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < 32; i++) {
            int c = i * 32 + lane;
            v[i] = c < n ? s[c] : -INFINITY;
        }
    }
    __shared__ __align__(16) float sm[8][TOPK_SMEM];
    float ov;
    int ok;
    if (VEC)
        warp_topk_fast<32>(v, topk_keys_vec{lane * 4, n}, k, sm[threadIdx.x >> 5], &ov, &ok);
    else
        warp_topk_fast<32>(v, topk_keys_strided{lane, n}, k, sm[threadIdx.x >> 5], &ov, &ok);
    if (lane < k) {
        size_t o = ((size_t)t * nb + b) * k + lane;
        val[o] = ov;
        idx[o] = ok;
    }
}

void peer_topk_rows(const float *S, int nb, int T, int n, int k, float *val, int *idx,
                    cudaStream_t s)
{
    long warps = (long)nb * T;
    const unsigned blocks = (unsigned)((warps * 32 + 255) / 256);
    if (n % 4 == 0)
        k_topk_rows<true><<<blocks, 256, 0, s>>>(S, nb, T, n, k, val, idx);
    else
        k_topk_rows<false><<<blocks, 256, 0, s>>>(S, nb, T, n, k, val, idx);
}

/* One warp per (t, head). Candidates: the sums s1[a] + s2[b] of the two
 * halves' sorted top-k lists with (a + 1)(b + 1) <= k only: every other sum
 * has at least k sums at least as large (a' <= a, b' <= b), so it cannot be
 * among the k best (up to rounding ties). That is sum over a of k / a
 * candidates (50 for k = 16 instead of 256), at most 32 * MAXP, MAXP a lane;
 * the block's warp 0 lists them as (a, b) in shared memory. */
template <int MAXP>
__global__ void k_topk_combine(const float *val, const int *idx, int T, int h, int n, int k,
                               int *ids, float *gates)
{
    __shared__ unsigned short tab[32 * MAXP];
    __shared__ int s_ncand;
    const int tj = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (threadIdx.x < 32) {
        const int cnt = lane < k ? k / (lane + 1) : 0;
        int incl = cnt;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(0xffffffffu, incl, o);
            if (lane >= o)
                incl += y;
        }
        for (int b = 0; b < cnt; b++)
            tab[incl - cnt + b] = (unsigned short)(lane << 8 | b);
        if (lane == 31)
            s_ncand = incl;
    }
    __syncthreads();
    if (tj >= T * h)
        return;
    const int ncand = s_ncand;
    const int t = tj / h, j = tj % h;
    /* lane a < k holds the a-th of each half's top-k; candidates by shuffles */
    const size_t o = ((size_t)t * 2 * h + 2 * j) * k;
    const float r1 = lane < k ? val[o + lane] : 0.0f, r2 = lane < k ? val[o + k + lane] : 0.0f;
    const int q1 = lane < k ? idx[o + lane] : 0, q2 = lane < k ? idx[o + k + lane] : 0;
    float v[MAXP];
    topk_keys<MAXP> key;
#pragma unroll
    for (int i = 0; i < MAXP; i++) {
        v[i] = -INFINITY;
        key.a[i] = INT_MAX;
        if (i * 32 < ncand) { /* warp-uniform */
            const int c = i * 32 + lane, e = c < ncand ? tab[c] : 0, a = e >> 8, bb = e & 255;
            const float s1 = __shfl_sync(0xffffffffu, r1, a);
            const float s2 = __shfl_sync(0xffffffffu, r2, bb);
            const int j1 = __shfl_sync(0xffffffffu, q1, a);
            const int j2 = __shfl_sync(0xffffffffu, q2, bb);
            if (c < ncand) {
                v[i] = s1 + s2;
                key.a[i] = j1 * n + j2;
            }
        }
    }
    __shared__ __align__(16) float sm[8][TOPK_SMEM];
    float ov;
    int ok;
    warp_topk_fast<MAXP>(v, key, k, sm[threadIdx.x >> 5], &ov, &ok);
    /* softmax over the k selected (lane 0 holds the maximum) */
    float mx = __shfl_sync(0xffffffffu, ov, 0);
    float e = lane < k ? expf(ov - mx) : 0.0f;
    float z = warp_sum(e);
    if (lane < k) {
        ids[(size_t)tj * k + lane] = ok;
        gates[(size_t)tj * k + lane] = e / z;
    }
}

void peer_topk_combine(const float *val, const int *idx, int T, int h, int n, int k, int *ids,
                       float *gates, cudaStream_t s)
{
    long warps = (long)T * h;
    const unsigned blocks = (unsigned)((warps * 32 + 255) / 256);
    int ncand = 0;
    for (int a = 1; a <= k; a++)
        ncand += k / a;
    if (ncand <= 2 * 32)
        k_topk_combine<2><<<blocks, 256, 0, s>>>(val, idx, T, h, n, k, ids, gates);
    else if (ncand <= 4 * 32)
        k_topk_combine<4><<<blocks, 256, 0, s>>>(val, idx, T, h, n, k, ids, gates);
    else
        k_topk_combine<8><<<blocks, 256, 0, s>>>(val, idx, T, h, n, k, ids, gates);
}

__global__ void k_bf16_to_f32(const uint16_t *a, size_t n, float *o)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        o[i] = __uint_as_float((uint32_t)a[i] << 16);
}

void peer_bf16_to_f32(const uint16_t *a, size_t n, float *o, cudaStream_t s)
{
    k_bf16_to_f32<<<(unsigned)((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096), 256, 0, s>>>(a, n, o);
}

/* The sub-key scores on the bf16 matrix units at fp32 accuracy: each query
 * element q is split into three bf16 parts hi + mid + lo (q - hi - mid - lo
 * is below 2^-24 |q|), the keys (bf16 already) are repeated three times, so
 * that one bf16 product with fp32 accumulation over K3 = 3 dk2 (padded with
 * zeros to a multiple of 8) sums exact products of the split query. */
__global__ void k_split_query(const float *qn, int T, int nb, int dk2, int K3, uint16_t *qs)
{
    const size_t total = (size_t)T * nb * dk2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t row = i / dk2; /* t * nb + b: qn's layout is [T, nb, dk2] */
        const int c = (int)(i % dk2);
        const float v = qn[i];
        const uint16_t hi = f2bf(v);
        const float r1 = v - __uint_as_float((uint32_t)hi << 16);
        const uint16_t mid = f2bf(r1);
        const float r2 = r1 - __uint_as_float((uint32_t)mid << 16);
        uint16_t *o = qs + row * K3;
        o[c] = hi;
        o[dk2 + c] = mid;
        o[2 * dk2 + c] = f2bf(r2);
        if (c < K3 - 3 * dk2)
            o[3 * dk2 + c] = 0;
    }
}

__global__ void k_repeat_keys(const uint16_t *keys, size_t rows, int dk2, int K3, uint16_t *k3)
{
    const size_t total = rows * K3;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t row = i / K3;
        const int c = (int)(i % K3);
        k3[i] = c < 3 * dk2 ? keys[row * dk2 + c % dk2] : (uint16_t)0;
    }
}

static unsigned grid_for(size_t n)
{
    size_t b = (n + 255) / 256;
    return (unsigned)(b < 8192 ? b : 8192);
}

void peer_split_query(const float *qn, int T, int nb, int dk2, int K3, uint16_t *qs, cudaStream_t s)
{
    k_split_query<<<grid_for((size_t)T * nb * dk2), 256, 0, s>>>(qn, T, nb, dk2, K3, qs);
}

void peer_repeat_keys(const uint16_t *keys, size_t rows, int dk2, int K3, uint16_t *k3,
                      cudaStream_t s)
{
    k_repeat_keys<<<grid_for(rows * K3), 256, 0, s>>>(keys, rows, dk2, K3, k3);
}
