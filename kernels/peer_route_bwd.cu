/* peer_route_bwd.cu: the PEER routing backward: softmax and score
 * gradients, query gradients, sub-key gradients (one warp per touched
 * sub-key over its sorted entries) and the BatchNorm backward. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

#define COL_TY 16

/* One warp per (t, head): lane s < k holds slot s. */
__global__ void k_route_bwd(const int *ids, const float *gate, const float *act, const float *dc,
                            const uint16_t *keys, int T, int h, int n, int k, int dk, float *ds,
                            float *dqn)
{
    const int tj = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (tj >= T * h)
        return;
    const int t = tj / h, j = tj % h, dk2 = dk / 2, HD = h * dk;
    const size_t p = (size_t)tj * k + lane;
    float g = 0.0f, dg = 0.0f;
    int id = 0;
    if (lane < k) {
        g = gate[p];
        dg = gelu_f(act[p]) * dc[p];
        id = ids[p];
    }
    const float gdg = warp_sum(g * dg);
    const float dsl = g * (dg - gdg);
    if (lane < k)
        ds[p] = dsl;
    for (int half = 0; half < 2; half++) {
        const uint16_t *kb = keys + (size_t)(2 * j + half) * n * dk2;
        for (int c0 = 0; c0 < dk2; c0 += 32) { /* all lanes iterate: shuffles stay converged */
            const int c = c0 + lane;
            float acc = 0.0f;
            for (int sl = 0; sl < k; sl++) {
                const float dss = __shfl_sync(0xffffffffu, dsl, sl);
                const int ids_ = __shfl_sync(0xffffffffu, id, sl);
                const int ih = half ? ids_ % n : ids_ / n;
                if (c < dk2)
                    acc = fmaf(dss, __uint_as_float((uint32_t)kb[(size_t)ih * dk2 + c] << 16), acc);
            }
            if (c < dk2)
                dqn[(size_t)t * HD + j * dk + half * dk2 + c] = acc;
        }
    }
}

void peer_route_bwd(const int *ids, const float *gate, const float *act, const float *dc,
                    const uint16_t *keys, int T, int h, int n, int k, int dk, float *ds,
                    float *dqn, cudaStream_t s)
{
    long warps = (long)T * h;
    k_route_bwd<<<(unsigned)((warps * 32 + 255) / 256), 256, 0, s>>>(ids, gate, act, dc, keys, T,
                                                                     h, n, k, dk, ds, dqn);
}

__global__ void k_subkey_keys(const int *ids, int P, int h, int n, int k, int *key)
{
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < P; p += gridDim.x * blockDim.x) {
        const int j = (p / k) % h, id = ids[p];
        key[2 * p] = (2 * j) * n + id / n;
        key[2 * p + 1] = (2 * j + 1) * n + id % n;
    }
}

void peer_subkey_keys(const int *ids, int P, int h, int n, int k, int *key, cudaStream_t s)
{
    int blocks = (P + 255) / 256 < 4096 ? (P + 255) / 256 : 4096;
    k_subkey_keys<<<blocks, 256, 0, s>>>(ids, P, h, n, k, key);
}

/* One warp per touched sub-key row: dK[row] = sum over entries ds_p qn_t[half]. */
__global__ void k_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                              const int *nruns, const int *se, const float *ds, const uint16_t *qn,
                              int n, int h, int k, int dk, float *dkeys)
{
    const int w = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= *nruns)
        return;
    const int row = run_id[w], beg = run_off[w], end = beg + run_cnt[w];
    const int b = row / n, dk2 = dk / 2, HD = h * dk, hk = h * k;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* dk2 <= 128 */
    for (int i = beg; i < end; i++) {
        const int p = se[i] >> 1, t = p / hk;
        const float dsp = ds[p];
        const uint16_t *q = qn + (size_t)t * HD + (size_t)b * dk2;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            int c = r * 32 + lane;
            if (c < dk2)
                acc[r] = fmaf(dsp, __uint_as_float((uint32_t)q[c] << 16), acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int c = r * 32 + lane;
        if (c < dk2)
            dkeys[(size_t)row * dk2 + c] = acc[r];
    }
}

void peer_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                      const int *nruns, int maxruns, const int *se, const float *ds,
                      const uint16_t *qn, int n, int h, int k, int dk, float *dkeys,
                      cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + 255) / 256);
    k_subkey_grad<<<blocks, 256, 0, s>>>(run_id, run_off, run_cnt, nruns, se, ds, qn, n, h, k, dk,
                                         dkeys);
}

/* Column sums of dqn and dqn * xhat in a fixed order; then the input gradient. */
__global__ void k_bn_bwd(const float *q, const float *mean, const float *rstd, const float *gamma,
                         const float *dqn, int T, int C, float *dgamma, float *dbeta, uint16_t *dq)
{
    __shared__ float p1[COL_TY][32], p2[COL_TY][32];
    __shared__ float s1[32], s2[32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 32 + tx;
    float a = 0.0f, b = 0.0f;
    const float mu = c < C ? mean[c] : 0.0f, rs = c < C ? rstd[c] : 0.0f;
    if (c < C)
        for (int r = ty; r < T; r += COL_TY) {
            const size_t i = (size_t)r * C + c;
            const float g = dqn[i];
            a += g;
            b += g * (q[i] - mu) * rs;
        }
    p1[ty][tx] = a;
    p2[ty][tx] = b;
    __syncthreads();
    if (ty == 0) {
        float x1 = 0.0f, x2 = 0.0f;
        for (int i = 0; i < COL_TY; i++) {
            x1 += p1[i][tx];
            x2 += p2[i][tx];
        }
        s1[tx] = x1;
        s2[tx] = x2;
        if (c < C) {
            dbeta[c] = x1;
            dgamma[c] = x2;
        }
    }
    __syncthreads();
    if (c >= C)
        return;
    const float mb = s1[tx] / (float)T, mg = s2[tx] / (float)T, gr = gamma[c] * rs;
    for (int r = ty; r < T; r += COL_TY) {
        const size_t i = (size_t)r * C + c;
        const float xh = (q[i] - mu) * rs;
        dq[i] = f2bf(gr * (dqn[i] - mb - xh * mg));
    }
}

void peer_bn_bwd(const float *q, const float *mean, const float *rstd, const float *gamma,
                 const float *dqn, int T, int C, float *dgamma, float *dbeta, uint16_t *dq,
                 cudaStream_t s)
{
    k_bn_bwd<<<(C + 31) / 32, dim3(32, COL_TY), 0, s>>>(q, mean, rstd, gamma, dqn, T, C, dgamma,
                                                        dbeta, dq);
}

/* One block per touched row; blockDim = d/8 threads of 8 columns. */
__global__ void k_adamw_rows(const int *ids, const int *nrows, const float *grad, float *master,
                             float *m, float *v, uint16_t *w16, int d, float lr, float b1, float b2,
                             float eps, float wd, float bc1, float bc2)
{
    const int r = blockIdx.x;
    if (r >= *nrows)
        return;
    const size_t e = (size_t)ids[r];
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        const size_t i = e * d + c;
        const float g = grad[(size_t)r * d + c];
        const float mm = b1 * m[i] + (1.0f - b1) * g;
        const float vv = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mm;
        v[i] = vv;
        const float w = master[i] - lr * ((mm / bc1) / (sqrtf(vv / bc2) + eps) + wd * master[i]);
        master[i] = w;
        w16[i] = f2bf(w);
    }
}

void peer_adamw_rows(const int *ids, const int *nrows, int maxrows, const float *grad,
                     float *master, float *m, float *v, uint16_t *w16, int d, float lr, float b1,
                     float b2, float eps, float wd, float bc1, float bc2, cudaStream_t s)
{
    k_adamw_rows<<<maxrows, 256, 0, s>>>(ids, nrows, grad, master, m, v, w16, d, lr, b1, b2, eps,
                                         wd, bc1, bc2);
}
