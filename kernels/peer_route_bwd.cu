/* peer_route_bwd.cu: the PEER routing backward: softmax and score
 * gradients, query gradients, sub-key gradients (one warp per touched
 * sub-key over its sorted entries) and the BatchNorm backward. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

/* 1: one sub-key entry per distinct sub-key of a (token, head) (below); 0:
 * one per pair and half */
#ifndef PEER_SUBKEY_MERGE
#define PEER_SUBKEY_MERGE 1
#endif

/* One warp per (t, head): lane s < k holds slot s. The query gradient
 * dqn[half c] = sum over slots (in slot order) ds K[half][i_half][c]: lane l
 * holds columns 2l, 2l+1 (PAIR: dk2 even, 4-byte key loads) or l; the key
 * loads of all KM >= k slots of both halves are issued before the sums.
 * Sub-key entries (2 per pair, one per half): the first slot of each
 * distinct sub-key of a half carries the sum, in slot order, of ds over the
 * slots that share it (key (2j + half) n + i); the others get the key 2 h n
 * (sorted last, skipped) and 0, so that the sub-key gradients gather each
 * query half once per (token, head) and sub-key. */
template <bool PAIR, int KM>
__global__ void k_route_bwd(const int *ids, const float *gate, const float *act, const float *dc,
                            const uint16_t *keys, int T, int h, int n, int k, int dk, int *key2,
                            float *dsk, float *dqn)
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
    const int i1l = id / n, i2l = id - i1l * n;
    {
        float s1 = 0.0f, s2 = 0.0f;
        bool first1 = true, first2 = true;
#pragma unroll
        for (int sl = 0; sl < KM; sl++) {
            const float dv = __shfl_sync(0xffffffffu, dsl, sl);
            const int a = __shfl_sync(0xffffffffu, i1l, sl), b = __shfl_sync(0xffffffffu, i2l, sl);
            if (sl < k && (PEER_SUBKEY_MERGE ? a == i1l : sl == lane)) {
                s1 += dv;
                first1 = first1 && sl >= lane;
            }
            if (sl < k && (PEER_SUBKEY_MERGE ? b == i2l : sl == lane)) {
                s2 += dv;
                first2 = first2 && sl >= lane;
            }
        }
        if (lane < k) {
            const int none = 2 * h * n;
            key2[2 * p] = first1 ? 2 * j * n + i1l : none;
            key2[2 * p + 1] = first2 ? (2 * j + 1) * n + i2l : none;
            dsk[2 * p] = first1 ? s1 : 0.0f;
            dsk[2 * p + 1] = first2 ? s2 : 0.0f;
        }
    }
    const uint16_t *ka = keys + (size_t)(2 * j) * n * dk2, *kb = ka + (size_t)n * dk2;
    float *o = dqn + (size_t)t * HD + (size_t)j * dk;
    for (int c0 = 0; c0 < dk2; c0 += PAIR ? 64 : 32) { /* all lanes iterate: shuffles converged */
        const int c = c0 + (PAIR ? 2 * lane : lane);
        const bool in = c < dk2;
        uint32_t wa[KM], wb[KM];
#pragma unroll
        for (int sl = 0; sl < KM; sl++) {
            const int i1 = __shfl_sync(0xffffffffu, i1l, sl), i2 = __shfl_sync(0xffffffffu, i2l, sl);
            wa[sl] = wb[sl] = 0u;
            if (sl < k && in) {
                if (PAIR) {
                    wa[sl] = *(const uint32_t *)(ka + (size_t)i1 * dk2 + c);
                    wb[sl] = *(const uint32_t *)(kb + (size_t)i2 * dk2 + c);
                } else {
                    wa[sl] = ka[(size_t)i1 * dk2 + c];
                    wb[sl] = kb[(size_t)i2 * dk2 + c];
                }
            }
        }
        float a0 = 0.0f, a1 = 0.0f, b0 = 0.0f, b1 = 0.0f;
#pragma unroll
        for (int sl = 0; sl < KM; sl++) {
            const float dss = __shfl_sync(0xffffffffu, dsl, sl);
            if (sl < k) {
                a0 = fmaf(dss, bf16_lo(wa[sl]), a0);
                a1 = fmaf(dss, bf16_hi(wa[sl]), a1);
                b0 = fmaf(dss, bf16_lo(wb[sl]), b0);
                b1 = fmaf(dss, bf16_hi(wb[sl]), b1);
            }
        }
        if (in) {
            if (PAIR) {
                *(float2 *)(o + c) = make_float2(a0, a1);
                *(float2 *)(o + dk2 + c) = make_float2(b0, b1);
            } else {
                o[c] = a0;
                o[dk2 + c] = b0;
            }
        }
    }
}

void peer_route_bwd(const int *ids, const float *gate, const float *act, const float *dc,
                    const uint16_t *keys, int T, int h, int n, int k, int dk, int *key2,
                    float *dsk, float *dqn, cudaStream_t s)
{
    const long warps = (long)T * h;
    const unsigned blocks = (unsigned)((warps * 32 + 255) / 256);
#define L(PAIR, KM)                                                                                \
    k_route_bwd<PAIR, KM><<<blocks, 256, 0, s>>>(ids, gate, act, dc, keys, T, h, n, k, dk, key2,  \
                                                 dsk, dqn)
    const bool pair = (dk / 2) % 2 == 0;
    if (k <= 16) {
        if (pair)
            L(true, 16);
        else
            L(false, 16);
    } else {
        if (pair)
            L(true, 32);
        else
            L(false, 32);
    }
#undef L
}

/* One warp per touched sub-key row: dK[row] = sum over entries dsk_e qn_t[half],
 * in entry order (runs of key 2 h n: none); lane l holds columns l + 32 c, c < NC. The entries' tokens
 * and ds are fetched 32 at a time, one per lane, and broadcast; the next 32
 * entries are fetched while this chunk's query rows are in flight, and
 * SUBKEY_UNROLL query rows are loaded together (a touched sub-key has ~T h k /
 * (h n) entries: 512 at T 32,768, k 16, n 1024). */
#define SUBKEY_UNROLL 16
template <int NC>
__global__ void k_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                              const int *nruns, const int *se, const float *dsk, const float *qn,
                              int n, int h, int k, int dk, int add, float *dkeys)
{
    const int w = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= *nruns)
        return;
    const int row = run_id[w], beg = run_off[w], end = beg + run_cnt[w];
    if (row >= 2 * h * n)
        return;
    const int b = row / n, dk2 = dk / 2, HD = h * dk, hk = h * k;
    float acc[NC];
#pragma unroll
    for (int c = 0; c < NC; c++)
        acc[c] = 0.0f;
    int mye = beg + lane < end ? se[beg + lane] : 0;
    for (int base = beg; base < end; base += 32) {
        const int m = min(32, end - base);
        const int myt = (mye >> 1) / hk;
        const float myd = lane < m ? dsk[mye] : 0.0f;
        mye = base + 32 + lane < end ? se[base + 32 + lane] : 0; /* next chunk */
        for (int j = 0; j < m; j += SUBKEY_UNROLL) {
            float qv[SUBKEY_UNROLL][NC];
#pragma unroll
            for (int u = 0; u < SUBKEY_UNROLL; u++) {
                const int t = __shfl_sync(0xffffffffu, myt, (j + u) & 31);
                const float *q = qn + (size_t)t * HD + (size_t)b * dk2;
#pragma unroll
                for (int c = 0; c < NC; c++) {
                    const int col = c * 32 + lane;
                    qv[u][c] = j + u < m && col < dk2 ? q[col] : 0.0f;
                }
            }
#pragma unroll
            for (int u = 0; u < SUBKEY_UNROLL; u++) {
                const float dj = __shfl_sync(0xffffffffu, myd, (j + u) & 31);
                if (j + u >= m)
                    break;
#pragma unroll
                for (int c = 0; c < NC; c++)
                    acc[c] = fmaf(dj, qv[u][c], acc[c]);
            }
        }
    }
    float *dst = dkeys + (size_t)row * dk2;
#pragma unroll
    for (int c = 0; c < NC; c++) {
        const int col = c * 32 + lane;
        if (col < dk2)
            dst[col] = add ? dst[col] + acc[c] : acc[c];
    }
}

void peer_subkey_grad(const int *run_id, const int *run_off, const int *run_cnt,
                      const int *nruns, int maxruns, const int *se, const float *dsk,
                      const float *qn, int n, int h, int k, int dk, int add, float *dkeys,
                      cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + 255) / 256);
#define L(NC)                                                                                      \
    k_subkey_grad<NC><<<blocks, 256, 0, s>>>(run_id, run_off, run_cnt, nruns, se, dsk, qn, n, h, k, \
                                             dk, add, dkeys)
    switch ((dk / 2 + 31) / 32) {
    case 1: L(1); break;
    case 2: L(2); break;
    case 3: L(3); break;
    default: L(4); break;
    }
#undef L
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

__global__ void k_bn_grads_out(const float *bnsum, int C, int add, float *gbeta, float *ggamma)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    if (gbeta)
        gbeta[c] = add ? gbeta[c] + bnsum[c] : bnsum[c];
    if (ggamma)
        ggamma[c] = add ? ggamma[c] + bnsum[C + c] : bnsum[C + c];
}

void peer_bn_grads_out(const float *bnsum, int C, int add, float *gbeta, float *ggamma,
                       cudaStream_t s)
{
    k_bn_grads_out<<<(C + 255) / 256, 256, 0, s>>>(bnsum, C, add, gbeta, ggamma);
}

/* One block per touched row; blockDim = d/8 threads of 8 columns. */
__global__ void k_adamw_rows(const int *ids, const int *nrows, const uint16_t *grad, float *master,
                             float *m, float *v, uint16_t *w16, int d, float lr, float b1, float b2,
                             float eps, float wd, float bc1, float bc2)
{
    const int r = blockIdx.x;
    if (r >= *nrows)
        return;
    const size_t e = (size_t)ids[r];
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        const size_t i = e * d + c;
        const float g = __uint_as_float((uint32_t)grad[(size_t)r * d + c] << 16);
        const float mm = b1 * m[i] + (1.0f - b1) * g;
        const float vv = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mm;
        v[i] = vv;
        const float w = master[i] - lr * ((mm / bc1) / (sqrtf(vv / bc2) + eps) + wd * master[i]);
        master[i] = w;
        w16[i] = f2bf(w);
    }
}

void peer_adamw_rows(const int *ids, const int *nrows, int maxrows, const uint16_t *grad,
                     float *master, float *m, float *v, uint16_t *w16, int d, float lr, float b1,
                     float b2, float eps, float wd, float bc1, float bc2, cudaStream_t s)
{
    k_adamw_rows<<<maxrows, 256, 0, s>>>(ids, nrows, grad, master, m, v, w16, d, lr, b1, b2, eps,
                                         wd, bc1, bc2);
}
