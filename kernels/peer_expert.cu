/* peer_expert.cu: the PEER expert part. Expert-major kernels walk the
 * (token, expert) pairs sorted by expert, one warp per expert, reading the
 * expert's rows once; token-major kernels gather the h*k rows of a token.
 * (Splitting rows into column slices, to keep the gathered token rows in
 * L2, was tried and measured slower: the short dependent load chains per
 * warp, not L2 misses, bound these kernels; see bench/RESULTS.md.) */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

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

#define EXP_BLOCK 64 /* small blocks: the register-heavy warps fill the SMs better */
#define EXP_UNROLL (MODE == 1 ? 2 : 3) /* pairs whose rows are loaded together */

/* One warp per run (expert), whole rows: lane l holds columns (c*32 + l)*8
 * .. +8, c < CH = d/256. The run's pair ids (and per-pair scalars) are
 * fetched 32 at a time, one per lane, and broadcast by shuffles, so that the
 * loads of EXP_UNROLL token rows are issued together.
 * MODE 0: act[p] = u_e . x_t.
 * MODE 1: dV row = sum g gelu(a) dy_t; dc[p] = v_e . dy_t; da[p] = g gelu'(a) dc.
 * MODE 2: dU row = sum da_p x_t. */
template <int CH, int MODE>
__global__ void __launch_bounds__(EXP_BLOCK) k_expert_rows(const int *run_off, const int *run_cnt,
                                                     const int *run_id, const int *nruns,
                                                     const int *sp, const uint4 *w,
                                                     const uint4 *rows, int hk, const float *gate,
                                                     const float *act, float *o1, float *o2,
                                                     float *grad)
{
    const int r = (int)((blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= *nruns)
        return;
    const int beg = run_off[r], cnt = run_cnt[r];
    const size_t d8 = CH * 32;
    uint4 wr[CH];
    float acc[CH][8];
    if (MODE != 2) {
        const int e = run_id[r];
#pragma unroll
        for (int c = 0; c < CH; c++)
            wr[c] = ld_stream(w + (size_t)e * d8 + c * 32 + lane);
    }
#pragma unroll
    for (int c = 0; c < CH; c++)
#pragma unroll
        for (int q = 0; q < 8; q++)
            acc[c][q] = 0.0f;
    for (int base = 0; base < cnt; base += 32) {
        const int m = min(32, cnt - base);
        int myp = 0;
        float mya = 0.0f, myb = 0.0f;
        if (lane < m) {
            myp = sp[beg + base + lane];
            if (MODE == 1) {
                mya = gate[myp];
                myb = act[myp];
            } else if (MODE == 2) {
                mya = act[myp]; /* da */
            }
        }
        for (int j = 0; j < m; j += EXP_UNROLL) {
            uint4 xr[EXP_UNROLL][CH];
            int pj[EXP_UNROLL];
#pragma unroll
            for (int u = 0; u < EXP_UNROLL; u++) {
                pj[u] = __shfl_sync(0xffffffffu, myp, (j + u) & 31);
                if (j + u < m) {
                    const size_t t = (size_t)(pj[u] / hk);
#pragma unroll
                    for (int c = 0; c < CH; c++)
                        xr[u][c] = rows[t * d8 + c * 32 + lane];
                }
            }
#pragma unroll
            for (int u = 0; u < EXP_UNROLL; u++) {
                const float sa = __shfl_sync(0xffffffffu, mya, (j + u) & 31);
                const float sb = __shfl_sync(0xffffffffu, myb, (j + u) & 31);
                if (j + u >= m)
                    break;
                float cf = sa; /* MODE 2: da */
                if (MODE != 2) {
                    float s = 0.0f;
#pragma unroll
                    for (int c = 0; c < CH; c++) {
                        float fa[8], fb[8];
                        unpack8(wr[c], fa);
                        unpack8(xr[u][c], fb);
#pragma unroll
                        for (int q = 0; q < 8; q++)
                            s = fmaf(fa[q], fb[q], s);
                    }
                    s = warp_sum(s);
                    if (MODE == 0) {
                        if (lane == 0)
                            o1[pj[u]] = s;
                        continue;
                    }
                    if (lane == 0) {
                        o1[pj[u]] = s;
                        o2[pj[u]] = sa * gelu_grad_f(sb) * s;
                    }
                    cf = sa * gelu_f(sb);
                }
#pragma unroll
                for (int c = 0; c < CH; c++) {
                    float f[8];
                    unpack8(xr[u][c], f);
#pragma unroll
                    for (int q = 0; q < 8; q++)
                        acc[c][q] = fmaf(cf, f[q], acc[c][q]);
                }
            }
        }
    }
    if (MODE != 0)
#pragma unroll
        for (int c = 0; c < CH; c++)
            store8(grad + (size_t)r * d8 * 8 + ((size_t)c * 32 + lane) * 8, acc[c]);
}

int peer_expert_act(const int *run_id, const int *run_off, const int *run_cnt, const int *nruns,
                    int maxruns, const int *sp, const uint16_t *u, const uint16_t *x, int d, int hk,
                    float *act, cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + EXP_BLOCK - 1) / EXP_BLOCK);
#define L(CH)                                                                                      \
    k_expert_rows<CH, 0><<<blocks, EXP_BLOCK, 0, s>>>(run_off, run_cnt, run_id, nruns, sp,               \
                                                (const uint4 *)u, (const uint4 *)x, hk, NULL,      \
                                                NULL, act, NULL, NULL)
    DISPATCH_CH(d, L)
#undef L
    return 0;
}

int peer_expert_bwd(const int *run_id, const int *run_off, const int *run_cnt, const int *nruns,
                    int maxruns, const int *sp, const uint16_t *v, const uint16_t *x,
                    const uint16_t *dy, int d, int hk, const float *gate, const float *act,
                    float *dc, float *da, float *du, float *dv, cudaStream_t s)
{
    const unsigned blocks = (unsigned)(((size_t)maxruns * 32 + EXP_BLOCK - 1) / EXP_BLOCK);
#define L(CH)                                                                                      \
    k_expert_rows<CH, 1><<<blocks, EXP_BLOCK, 0, s>>>(run_off, run_cnt, run_id, nruns, sp,               \
                                                (const uint4 *)v, (const uint4 *)dy, hk, gate,     \
                                                act, dc, da, dv)
    DISPATCH_CH(d, L)
#undef L
#define L(CH)                                                                                      \
    k_expert_rows<CH, 2><<<blocks, EXP_BLOCK, 0, s>>>(run_off, run_cnt, run_id, nruns, sp, NULL,         \
                                                (const uint4 *)x, hk, NULL, da, NULL, NULL, du)
    DISPATCH_CH(d, L)
#undef L
    return 0;
}
