/* peer_route.cu: the PEER routing forward: query BatchNorm, top-k per
 * sub-key half, top-k of the k*k sums and the softmax gates. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"
#include "peer_topk.cuh"

#define COL_TY 16 /* rows in flight per column block */

/* One block per 32 columns; COL_TY row groups summed in a fixed order. */
__global__ void k_bn_stats(const float *q, int T, int C, float *mean, float *rstd,
                           float *run_mean, float *run_var, float mom, int training)
{
    __shared__ float part[COL_TY][32];
    __shared__ float mu_s[32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    if (!training) {
        if (ty == 0 && c < C) {
            mean[c] = run_mean[c];
            rstd[c] = rsqrtf(run_var[c] + PEER_BN_EPS);
        }
        return;
    }
    float s = 0.0f;
    if (c < C)
        for (int r = ty; r < T; r += COL_TY)
            s += q[(size_t)r * C + c];
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0) {
        float t = 0.0f;
        for (int i = 0; i < COL_TY; i++)
            t += part[i][tx];
        mu_s[tx] = t / (float)T;
    }
    __syncthreads();
    const float mu = mu_s[tx];
    s = 0.0f;
    if (c < C)
        for (int r = ty; r < T; r += COL_TY) {
            float e = q[(size_t)r * C + c] - mu;
            s += e * e;
        }
    __syncthreads();
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && c < C) {
        float t = 0.0f;
        for (int i = 0; i < COL_TY; i++)
            t += part[i][tx];
        float var = t / (float)T;
        mean[c] = mu;
        rstd[c] = rsqrtf(var + PEER_BN_EPS);
        run_mean[c] = (1.0f - mom) * run_mean[c] + mom * mu;
        run_var[c] = (1.0f - mom) * run_var[c] + mom * var * (float)T / (float)(T - 1);
    }
}

void peer_bn_stats(const float *q, int T, int C, float *mean, float *rstd, float *run_mean,
                   float *run_var, float momentum, int training, cudaStream_t s)
{
    k_bn_stats<<<(C + 31) / 32, dim3(32, COL_TY), 0, s>>>(q, T, C, mean, rstd, run_mean, run_var,
                                                          momentum, training);
}

__global__ void k_bn_apply(const float *q, const float *mean, const float *rstd,
                           const float *gamma, const float *beta, size_t total, int C, uint16_t *qn)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C);
        qn[i] = f2bf((q[i] - mean[c]) * rstd[c] * gamma[c] + beta[c]);
    }
}

void peer_bn_apply(const float *q, const float *mean, const float *rstd, const float *gamma,
                   const float *beta, int T, int C, uint16_t *qn, cudaStream_t s)
{
    size_t total = (size_t)T * C;
    int blocks = (int)((total + 255) / 256 < 8192 ? (total + 255) / 256 : 8192);
    k_bn_apply<<<blocks, 256, 0, s>>>(q, mean, rstd, gamma, beta, total, C, qn);
}

/* One warp per row of S (n <= 1024: 32 values per lane). */
__global__ void k_topk_rows(const float *S, int nb, int T, int n, int k, float *val, int *idx)
{
    const int row = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= nb * T)
        return;
    const int b = row / T, t = row % T;
    const float *s = S + (size_t)row * n;
    float v[32];
    int key[32];
#pragma unroll
    for (int i = 0; i < 32; i++) {
        int c = i * 32 + lane;
        key[i] = c < n ? c : INT_MAX;
        v[i] = c < n ? s[c] : -INFINITY;
    }
    float ov;
    int ok;
    warp_topk<32>(v, key, k, &ov, &ok);
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
    k_topk_rows<<<(unsigned)((warps * 32 + 255) / 256), 256, 0, s>>>(S, nb, T, n, k, val, idx);
}

/* One warp per (t, head): k*k <= 1024 candidate sums, 32 per lane. */
__global__ void k_topk_combine(const float *val, const int *idx, int T, int h, int n, int k,
                               int *ids, float *gates)
{
    const int tj = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (tj >= T * h)
        return;
    const int t = tj / h, j = tj % h;
    const float *v1 = val + ((size_t)t * 2 * h + 2 * j) * k, *v2 = v1 + k;
    const int *i1 = idx + ((size_t)t * 2 * h + 2 * j) * k, *i2 = i1 + k;
    float v[32];
    int key[32];
#pragma unroll
    for (int i = 0; i < 32; i++) {
        int c = i * 32 + lane;
        if (c < k * k) {
            int a = c / k, bb = c % k;
            v[i] = v1[a] + v2[bb];
            key[i] = i1[a] * n + i2[bb];
        } else {
            v[i] = -INFINITY;
            key[i] = INT_MAX;
        }
    }
    float ov;
    int ok;
    warp_topk<32>(v, key, k, &ov, &ok);
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
    k_topk_combine<<<(unsigned)((warps * 32 + 255) / 256), 256, 0, s>>>(val, idx, T, h, n, k, ids,
                                                                        gates);
}
