/* peer_expert.cu: the PEER expert part. Expert-major kernels walk the
 * (token, expert) pairs sorted by expert, one warp per expert, reading the
 * expert's row once; token-major kernels gather the h*k rows of a token.
 * The per-pair scalars the expert-major kernels read and write sit at the
 * pairs' sorted positions (contiguous per expert); small kernels move them
 * to and from pair order. (Splitting rows into column slices, so that the
 * gathered token rows stay in L2, was measured slower twice: the per-warp
 * chain of dependent loads costs more than the L2 misses saved; see
 * kernels/NOTES.md.) */
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

/* 8 columns of a gradient row, rounded to bf16, one 16-byte streaming store */
static __device__ inline void store8(uint16_t *dst, const float f[8])
{
    __stcs((uint4 *)dst, pack8(f));
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
#define EXP_UNROLL(MODE) ((MODE) == 1 ? 2 : 3) /* pairs whose rows are loaded together */
/* blocks of EXP_BLOCK an SM the register use must allow: u.x and dU, dV */
#ifndef EXP_MINB02
#define EXP_MINB02 8 /* 128 registers, no spills: 16 warps an SM */
#endif
#ifndef EXP_MINB1
#define EXP_MINB1 1 /* 166 registers (8: 128 with a few spilled, measured 0.06 ms faster) */
#endif

/* One warp per run (expert). Whole rows: lane l holds 16-byte columns
 * c*32 + l, c < CH = d/256. The run's sorted positions i (pair id sp[i],
 * per-pair scalars at i) are fetched 32 at a time, one per lane, and
 * broadcast by shuffles, so that the loads of EXP_UNROLL token rows are
 * issued together.
 * MODE 0: out[i] = u_e . x_t.
 * MODE 1: dV row = sum ca_i gelu(cb_i) dy_t (ca: gate, cb: act, sorted);
 *         out[i] = v_e . dy_t.
 * MODE 2: dU row = sum ca_i x_t (ca: da, sorted). */
template <int CH, int MODE>
__global__ void __launch_bounds__(EXP_BLOCK, MODE == 1 ? EXP_MINB1 : EXP_MINB02)
    k_expert_rows(const int *run_off, const int *run_cnt, const int *run_id, const int *nruns,
                  const int *sp, const uint4 *w, const uint4 *rows, int hk, const float *ca,
                  const float *cb, float *out, uint16_t *grad)
{
    constexpr int UNR = EXP_UNROLL(MODE);
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
        int myt = 0;
        float mya = 0.0f, myb = 0.0f, myo = 0.0f;
        if (lane < m) {
            const int i = beg + base + lane;
            myt = sp[i] / hk;
            if (MODE != 0)
                mya = ca[i];
            if (MODE == 1)
                myb = cb[i];
        }
        for (int j = 0; j < m; j += UNR) {
            uint4 xr[UNR][CH];
#pragma unroll
            for (int u = 0; u < UNR; u++) {
                const int t = __shfl_sync(0xffffffffu, myt, (j + u) & 31);
                if (j + u < m) {
#pragma unroll
                    for (int c = 0; c < CH; c++)
                        xr[u][c] = rows[(size_t)t * d8 + c * 32 + lane];
                }
            }
#pragma unroll
            for (int u = 0; u < UNR; u++) {
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
                    if (lane == j + u)
                        myo = s;
                    if (MODE == 0)
                        continue;
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
        if (MODE != 2 && lane < m)
            out[beg + base + lane] = myo;
    }
    if (MODE != 0)
#pragma unroll
        for (int c = 0; c < CH; c++)
            store8(grad + ((size_t)r * d8 + (size_t)c * 32 + lane) * 8, acc[c]);
}

static unsigned expert_blocks(int maxruns)
{
    return (unsigned)(((size_t)maxruns * 32 + EXP_BLOCK - 1) / EXP_BLOCK);
}

/* act by pair id from the sorted positions; the gate copied to them. */
__global__ void k_act_finalize(const int *sp, int P, const float *act_s, const float *gate,
                               float *act, float *gate_s)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < P; i += gridDim.x * blockDim.x) {
        const int p = sp[i];
        act[p] = act_s[i];
        gate_s[i] = gate[p];
    }
}

/* dc by pair id from the sorted positions; da = g gelu'(a) dc, by pair id and sorted. */
__global__ void k_dc_finalize(const int *sp, int P, const float *dc_s, const float *gate_s,
                              const float *act_s, float *dc, float *da, float *da_s)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < P; i += gridDim.x * blockDim.x) {
        const int p = sp[i];
        const float c = dc_s[i], a = gate_s[i] * gelu_grad_f(act_s[i]) * c;
        dc[p] = c;
        da[p] = a;
        da_s[i] = a;
    }
}

static unsigned flat_grid(int n)
{
    const int b = (n + 255) / 256;
    return (unsigned)(b < 16384 ? b : 16384);
}

int peer_expert_act(const peer_sorted *ps, const uint16_t *u, const uint16_t *x, int d, int hk,
                    const float *gate, float *act, float *act_s, float *gate_s, cudaStream_t s)
{
#define L(CH)                                                                                      \
    k_expert_rows<CH, 0><<<expert_blocks(ps->maxruns), EXP_BLOCK, 0, s>>>(ps->run_off, ps->run_cnt, ps->run_id,        \
                                                      ps->nruns, ps->sp, (const uint4 *)u,         \
                                                      (const uint4 *)x, hk, NULL, NULL, act_s,     \
                                                      NULL)
    DISPATCH_CH(d, L)
#undef L
    k_act_finalize<<<flat_grid(ps->P), 256, 0, s>>>(ps->sp, ps->P, act_s, gate, act, gate_s);
    return 0;
}

int peer_expert_dv(const peer_sorted *ps, const uint16_t *v, const uint16_t *dy, int d, int hk,
                   const float *gate_s, const float *act_s, float *dc_s, float *dc, float *da,
                   float *da_s, uint16_t *dv, cudaStream_t s)
{
#define L(CH)                                                                                      \
    k_expert_rows<CH, 1><<<expert_blocks(ps->maxruns), EXP_BLOCK, 0, s>>>(ps->run_off, ps->run_cnt, ps->run_id,        \
                                                      ps->nruns, ps->sp, (const uint4 *)v,         \
                                                      (const uint4 *)dy, hk, gate_s, act_s, dc_s,  \
                                                      dv)
    DISPATCH_CH(d, L)
#undef L
    k_dc_finalize<<<flat_grid(ps->P), 256, 0, s>>>(ps->sp, ps->P, dc_s, gate_s, act_s, dc, da,
                                                  da_s);
    return 0;
}

int peer_expert_du(const peer_sorted *ps, const uint16_t *x, int d, int hk, const float *da_s,
                   uint16_t *du, cudaStream_t s)
{
#define L(CH)                                                                                      \
    k_expert_rows<CH, 2><<<expert_blocks(ps->maxruns), EXP_BLOCK, 0, s>>>(ps->run_off, ps->run_cnt, ps->run_id,        \
                                                      ps->nruns, ps->sp, NULL, (const uint4 *)x,   \
                                                      hk, da_s, NULL, NULL, du)
    DISPATCH_CH(d, L)
#undef L
    return 0;
}
