/* peer_expert.cu: the PEER expert part. Expert-major kernels walk the
 * (token, expert) pairs sorted by expert, one warp per expert, reading the
 * expert's rows once; token-major kernels gather the h*k rows of a token.
 * A warp's lane holds elements (c*32 + lane)*8 .. +8 of a row, c < CH,
 * CH = d / 256. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

template <int CH>
__global__ void k_expert_act(const int *run_id, const int *run_off, const int *run_cnt,
                             const int *nruns, const int *sp, const uint4 *u, const uint4 *x,
                             int hk, float *act)
{
    const int w = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= *nruns)
        return;
    const size_t d8 = CH * 32;
    const int e = run_id[w], beg = run_off[w], end = beg + run_cnt[w];
    uint4 ur[CH];
#pragma unroll
    for (int c = 0; c < CH; c++)
        ur[c] = ld_stream(u + (size_t)e * d8 + c * 32 + lane);
    for (int i = beg; i < end; i++) {
        const int p = sp[i], t = p / hk;
        uint4 xr[CH];
#pragma unroll
        for (int c = 0; c < CH; c++)
            xr[c] = x[(size_t)t * d8 + c * 32 + lane];
        float s = 0.0f;
#pragma unroll
        for (int c = 0; c < CH; c++) {
            float a[8], b[8];
            unpack8(ur[c], a);
            unpack8(xr[c], b);
#pragma unroll
            for (int q = 0; q < 8; q++)
                s = fmaf(a[q], b[q], s);
        }
        s = warp_sum(s);
        if (lane == 0)
            act[p] = s;
    }
}

#define DISPATCH_CH(d, launch)                                                                     \
    switch ((d) / 256) {                                                                           \
    case 1: launch(1); break;                                                                      \
    case 2: launch(2); break;                                                                      \
    case 3: launch(3); break;                                                                      \
    case 4: launch(4); break;                                                                      \
    case 5: launch(5); break;                                                                      \
    case 6: launch(6); break;                                                                      \
    case 7: launch(7); break;                                                                      \
    case 8: launch(8); break;                                                                      \
    default: return -1;                                                                            \
    }

int peer_expert_act(const int *run_id, const int *run_off, const int *run_cnt, const int *nruns,
                    int maxruns, const int *sp, const uint16_t *u, const uint16_t *x, int d, int hk,
                    float *act, cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + 255) / 256);
#define L(CH)                                                                                      \
    k_expert_act<CH><<<blocks, 256, 0, s>>>(run_id, run_off, run_cnt, nruns, sp,                   \
                                            (const uint4 *)u, (const uint4 *)x, hk, act)
    DISPATCH_CH(d, L)
#undef L
    return 0;
}

#define GATHER_UNROLL 8

/* One block per token, one thread per 8 columns (blockDim = d/8). */
__global__ void k_gather_rows(const int *ids, const float *gate, const float *act,
                              const uint4 *W, int hk, const float *add, uint4 *out)
{
    extern __shared__ float sh[];
    float *coef = sh;                 /* [hk] */
    int *row = (int *)(sh + hk);      /* [hk] */
    const int t = blockIdx.x, d8 = blockDim.x, c8 = threadIdx.x;
    for (int i = threadIdx.x; i < hk; i += blockDim.x) {
        size_t p = (size_t)t * hk + i;
        float g = gate[p];
        coef[i] = act ? g * gelu_f(act[p]) : g;
        row[i] = ids[p];
    }
    __syncthreads();
    float acc[8];
    if (add) {
        const float4 *a4 = (const float4 *)(add + ((size_t)t * d8 + c8) * 8);
        float4 a0 = a4[0], a1 = a4[1];
        acc[0] = a0.x; acc[1] = a0.y; acc[2] = a0.z; acc[3] = a0.w;
        acc[4] = a1.x; acc[5] = a1.y; acc[6] = a1.z; acc[7] = a1.w;
    } else {
#pragma unroll
        for (int q = 0; q < 8; q++)
            acc[q] = 0.0f;
    }
    int i = 0;
    for (; i + GATHER_UNROLL <= hk; i += GATHER_UNROLL) {
        uint4 w[GATHER_UNROLL];
#pragma unroll
        for (int r = 0; r < GATHER_UNROLL; r++)
            w[r] = ld_stream(W + (size_t)row[i + r] * d8 + c8);
#pragma unroll
        for (int r = 0; r < GATHER_UNROLL; r++) {
            float f[8];
            unpack8(w[r], f);
            const float cf = coef[i + r];
#pragma unroll
            for (int q = 0; q < 8; q++)
                acc[q] = fmaf(cf, f[q], acc[q]);
        }
    }
    for (; i < hk; i++) {
        float f[8];
        unpack8(ld_stream(W + (size_t)row[i] * d8 + c8), f);
#pragma unroll
        for (int q = 0; q < 8; q++)
            acc[q] = fmaf(coef[i], f[q], acc[q]);
    }
    out[(size_t)t * d8 + c8] = pack8(acc);
}

void peer_gather_rows(const int *ids, const float *gate, const float *act, const uint16_t *W,
                      int T, int d, int hk, const float *add, uint16_t *out, cudaStream_t s)
{
    k_gather_rows<<<T, d / 8, (size_t)hk * 8, s>>>(ids, gate, act, (const uint4 *)W, hk, add,
                                                   (uint4 *)out);
}

static __device__ inline void store8(float *dst, const float f[8])
{
    __stcs((float4 *)dst, make_float4(f[0], f[1], f[2], f[3]));
    __stcs((float4 *)(dst + 4), make_float4(f[4], f[5], f[6], f[7]));
}

template <int CH>
__global__ void __launch_bounds__(256) k_expert_bwd(const int *run_id, const int *run_off,
                                                    const int *run_cnt, const int *nruns,
                                                    const int *sp, const uint4 *v, const uint4 *x,
                                                    const uint4 *dy, int hk, const float *gate,
                                                    const float *act, float *dc, float *da,
                                                    float *du, float *dv)
{
    const int w = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= *nruns)
        return;
    const size_t d8 = CH * 32;
    const int e = run_id[w], beg = run_off[w], end = beg + run_cnt[w];
    uint4 vr[CH];
    float gu[CH][8], gv[CH][8];
#pragma unroll
    for (int c = 0; c < CH; c++) {
        vr[c] = ld_stream(v + (size_t)e * d8 + c * 32 + lane);
#pragma unroll
        for (int q = 0; q < 8; q++)
            gu[c][q] = gv[c][q] = 0.0f;
    }
    for (int i = beg; i < end; i++) {
        const int p = sp[i], t = p / hk;
        uint4 yr[CH], xr[CH];
#pragma unroll
        for (int c = 0; c < CH; c++) {
            yr[c] = dy[(size_t)t * d8 + c * 32 + lane];
            xr[c] = x[(size_t)t * d8 + c * 32 + lane];
        }
        float s = 0.0f;
#pragma unroll
        for (int c = 0; c < CH; c++) {
            float a[8], b[8];
            unpack8(vr[c], a);
            unpack8(yr[c], b);
#pragma unroll
            for (int q = 0; q < 8; q++)
                s = fmaf(a[q], b[q], s);
        }
        s = warp_sum(s);
        const float g = gate[p], a = act[p];
        const float cf = g * gelu_f(a), df = g * gelu_grad_f(a) * s;
#pragma unroll
        for (int c = 0; c < CH; c++) {
            float fy[8], fx[8];
            unpack8(yr[c], fy);
            unpack8(xr[c], fx);
#pragma unroll
            for (int q = 0; q < 8; q++) {
                gv[c][q] = fmaf(cf, fy[q], gv[c][q]);
                gu[c][q] = fmaf(df, fx[q], gu[c][q]);
            }
        }
        if (lane == 0) {
            dc[p] = s;
            da[p] = df;
        }
    }
#pragma unroll
    for (int c = 0; c < CH; c++) {
        size_t o = (size_t)w * d8 * 8 + ((size_t)c * 32 + lane) * 8;
        store8(du + o, gu[c]);
        store8(dv + o, gv[c]);
    }
}

int peer_expert_bwd(const int *run_id, const int *run_off, const int *run_cnt, const int *nruns,
                    int maxruns, const int *sp, const uint16_t *v, const uint16_t *x,
                    const uint16_t *dy, int d, int hk, const float *gate, const float *act,
                    float *dc, float *da, float *du, float *dv, cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + 255) / 256);
#define L(CH)                                                                                      \
    k_expert_bwd<CH><<<blocks, 256, 0, s>>>(run_id, run_off, run_cnt, nruns, sp,                   \
                                            (const uint4 *)v, (const uint4 *)x, (const uint4 *)dy, \
                                            hk, gate, act, dc, da, du, dv)
    DISPATCH_CH(d, L)
#undef L
    return 0;
}
