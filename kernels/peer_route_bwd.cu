/* peer_route_bwd.cu: the PEER routing backward: softmax and score
 * gradients, query gradients, sub-key gradients (one warp per touched
 * sub-key over its sorted entries) and the BatchNorm backward. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

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
                              const int *nruns, const int *se, const float *ds, const float *qn,
                              int n, int h, int k, int dk, float *dkeys)
{
    const int w = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= *nruns)
        return;
    const int row = run_id[w], beg = run_off[w], end = beg + run_cnt[w];
    const int b = row / n, dk2 = dk / 2, HD = h * dk, hk = h * k;
    float *dst = dkeys + (size_t)row * dk2;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* dk2 <= 128 */
    for (int i = beg; i < end; i++) {
        const int p = se[i] >> 1, t = p / hk;
        const float dsp = ds[p];
        const float *q = qn + (size_t)t * HD + (size_t)b * dk2;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            int c = r * 32 + lane;
            if (c < dk2)
                acc[r] = fmaf(dsp, q[c], acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int c = r * 32 + lane;
        if (c < dk2)
            dst[c] = acc[r];
    }
}

void peer_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                      const int *nruns, int maxruns, const int *se, const float *ds,
                      const float *qn, int n, int h, int k, int dk, float *dkeys,
                      cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + 255) / 256);
    k_subkey_grad<<<blocks, 256, 0, s>>>(run_id, run_off, run_cnt, nruns, se, ds, qn, n, h, k, dk,
                                         dkeys);
}

/* dbeta, dgamma [C] from the row-block partial sums, in order. */
__global__ void k_bn_bwd_finalize(const float *part, int rb, int C, float *dgamma, float *dbeta)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float a = 0.0f, b = 0.0f;
    for (int i = 0; i < rb; i++) {
        a += part[((size_t)i * C + c) * 2];
        b += part[((size_t)i * C + c) * 2 + 1];
    }
    dbeta[c] = a;
    dgamma[c] = b;
}

__global__ void k_bn_bwd_apply(const float *q, const float *mean, const float *rstd,
                               const float *gamma, const float *dqn, const float *dgamma,
                               const float *dbeta, size_t total, int T, int C, uint16_t *dq)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const float rs = rstd[c], xh = (q[i] - mean[c]) * rs;
        const float g = gamma ? gamma[c] : 1.0f;
        dq[i] = f2bf(g * rs * (dqn[i] - dbeta[c] / (float)T - xh * dgamma[c] / (float)T));
    }
}

void peer_bn_bwd(const float *q, const float *mean, const float *rstd, const float *gamma,
                 const float *dqn, int T, int C, float *dgamma, float *dbeta, uint16_t *dq,
                 float *part, cudaStream_t s)
{
    peer_col_partial(q, dqn, mean, rstd, T, C, 1, part, s);
    const int rb = (T + 255) / 256 < PEER_COL_RB ? (T + 255) / 256 : PEER_COL_RB;
    k_bn_bwd_finalize<<<(C + 255) / 256, 256, 0, s>>>(part, rb, C, dgamma, dbeta);
    const size_t total = (size_t)T * C;
    const int blocks = (int)((total + 255) / 256 < 8192 ? (total + 255) / 256 : 8192);
    k_bn_bwd_apply<<<blocks, 256, 0, s>>>(q, mean, rstd, gamma, dqn, dgamma, dbeta, total, T, C, dq);
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
