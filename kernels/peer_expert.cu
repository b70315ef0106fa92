/* peer_expert.cu: the PEER expert part. Expert-major kernels walk the
 * (token, expert) pairs sorted by expert, reading each expert's row once;
 * token-major kernels gather the h*k rows of a token. The per-pair scalars
 * the expert-major kernels read and write sit at the pairs' sorted positions
 * (contiguous per expert); small kernels move them to and from pair order.
 * Measured versions and their times: kernels/NOTES.md. */
#include "gpu_util.cuh"
#include "peer_kernels.cuh"

#include <cuda_bf16.h>
#include <limits.h>
#include <string.h>

#ifndef GATHER_UNROLL
#define GATHER_UNROLL 8 /* rows loaded together a thread in the token-major gathers */
#endif

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

/* 8 columns of a gradient row, rounded to bf16 (round to nearest even, by
 * the conversion instruction), one 16-byte streaming store */
static __device__ inline void store8(uint16_t *dst, const float f[8])
{
    uint4 w;
    uint32_t *o = &w.x;
#pragma unroll
    for (int q = 0; q < 4; q++) {
        const __nv_bfloat162 b = __floats2bfloat162_rn(f[2 * q], f[2 * q + 1]);
        memcpy(&o[q], &b, 4);
    }
    __stcs((uint4 *)dst, w);
}

/* Expert-major passes: one block per group of EXPB_RUNS consecutive runs and
 * column slice (blockIdx.y); thread c holds the 16-byte columns c + q nt,
 * q < CW, of the slice (nt threads). The group's sorted positions are a
 * contiguous range of pairs; the block walks it in chunks of EXPB_CHUNK
 * (pair metadata staged in shared memory, coalesced, padded to a multiple
 * of U with pairs that add nothing) and loads the token rows of U pairs at
 * a time regardless of run boundaries, so that many rows are in flight with
 * few registers a thread (the gather kernels' pattern, which runs at the
 * copy rate). A weight row is loaded where the expert changes within the U
 * pairs and kept unpacked. Dot products: per-thread partial sums of U pairs
 * reduced over the warp in one transposing pass (lane group i ends with
 * pair i's sum), then over the warps in order through shared memory: a
 * fixed order, so reruns are bitwise identical. Row sums (dV, dU) are
 * written at the end of each run.
 * MODE 0: out[i] = u_e . x_t. MODE 1: out[i] = v_e . dy_t, dV row = sum
 * ca_i gelu(cb_i) dy_t. MODE 2: dU row = sum ca_i x_t. (out: the slice's
 * partial sums, slice-major.) */
#ifndef EXPB_RUNS
#define EXPB_RUNS 16
#endif
#ifndef EXPB_CHUNK /* pairs staged at a time (a group has ~4.2 EXPB_RUNS pairs at the issue's shape) */
#define EXPB_CHUNK 128
#endif
#ifndef EXPB_CW /* 16-byte columns a thread (where the slice has 32 CW of them) */
#define EXPB_CW 1
#endif
#ifndef EXPB_U0 /* pairs whose token rows are loaded together: u.x, dV, dU */
#define EXPB_U0 4
#endif
#ifndef EXPB_U1
#define EXPB_U1 2
#endif
#ifndef EXPB_U2
#define EXPB_U2 4
#endif

/* v[0..U) summed over the warp: afterwards lane l holds the sum of value
 * (l >> (5 - log2 U)) & (U - 1) in v[0]; U a power of two <= 32. */
template <int U> static __device__ inline void warp_sum_many(float (&v)[U], int lane)
{
    int off = 16;
#pragma unroll
    for (int half = U / 2; half >= 1; half >>= 1, off >>= 1) {
        const bool up = (lane & off) != 0;
#pragma unroll
        for (int i = 0; i < half; i++) {
            const float send = up ? v[i] : v[i + half], keep = up ? v[i + half] : v[i];
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, off);
        }
    }
    for (; off >= 1; off >>= 1)
        v[0] += __shfl_xor_sync(0xffffffffu, v[0], off);
}

template <int U> struct log2_of {
    static constexpr int v = U <= 1 ? 0 : 1 + log2_of<U / 2>::v;
};
template <> struct log2_of<1> {
    static constexpr int v = 0;
};

#ifndef EXPB_MINB0 /* blocks of 256 threads an SM that u.x, dV must allow (register caps) */
#define EXPB_MINB0 1
#endif
#ifndef EXPB_MINB1
#define EXPB_MINB1 1
#endif
template <int MODE, int U, int CW>
__global__ void __launch_bounds__(256, MODE == 0 ? EXPB_MINB0 : MODE == 1 ? EXPB_MINB1 : 1)
    k_expert_blk(const int *run_off, const int *nruns, int maxruns, int P, const int *skey,
                 const int *sp, const uint4 *w, const uint4 *rows, int d8, int hk,
                 const float *ca, const float *cb, float *out, uint16_t *grad)
{
    /* per pair: token, expert (MODE 0, 1) with bit 31 marking a run's last
     * pair (MODE 1, 2), row coefficient (MODE 1, 2) */
    constexpr int CU = EXPB_CHUNK + U;
    extern __shared__ int4 s_m[]; /* [CU], then the warps' dot products [nt / 32][CU] */
    float *s_red = (float *)(s_m + CU);
    const int nt = blockDim.x, c8 = threadIdx.x, lane = c8 & 31, wid = c8 >> 5;
    const int col0 = blockIdx.y * nt * CW + c8;
    const int r0 = blockIdx.x * EXPB_RUNS;
    /* the three loads at once: the run count and the group's two offsets */
    const int nr = *nruns, o0 = run_off[r0], o1 = run_off[min(r0 + EXPB_RUNS, maxruns - 1)];
    if (r0 >= nr)
        return;
    const int i0 = o0, i1 = r0 + EXPB_RUNS < nr ? o1 : P;
    int cur_r = r0, elast = -1;
    float fw[CW][8], acc[CW][8];
#pragma unroll
    for (int q = 0; q < CW; q++)
#pragma unroll
        for (int c = 0; c < 8; c++)
            fw[q][c] = acc[q][c] = 0.0f;
    for (int base = i0; base < i1; base += EXPB_CHUNK) {
        const int m = min(EXPB_CHUNK, i1 - base), mp = (m + U - 1) / U * U;
        __syncthreads(); /* the previous chunk is done with the shared arrays */
        for (int j = c8; j < mp; j += nt) {
            /* the padding repeats the last pair's token and expert, adds nothing, ends nothing */
            const int i = base + min(j, m - 1), e = skey[i];
            const bool last = j < m && (i + 1 == i1 || skey[i + 1] != e);
            int4 mm;
            mm.x = sp[i] / hk;
            mm.y = (MODE == 2 ? 0 : e) | (MODE != 0 && last ? INT_MIN : 0);
            float cf = 0.0f;
            if (MODE == 1 && j < m)
                cf = ca[i] * gelu_f(cb[i]);
            if (MODE == 2 && j < m)
                cf = ca[i];
            mm.z = __float_as_int(cf);
            mm.w = 0;
            s_m[j] = mm;
        }
        __syncthreads();
        for (int j = 0; j < m; j += U) {
            int4 mt[U];
            uint4 xr[U][CW], wr[U][CW];
#pragma unroll
            for (int u = 0; u < U; u++) {
                mt[u] = s_m[j + u];
                const uint4 *src = rows + (size_t)mt[u].x * d8 + col0;
#pragma unroll
                for (int q = 0; q < CW; q++)
                    xr[u][q] = __ldcg(src + q * nt);
            }
            if (MODE != 2) {
                /* a weight row where the expert changes (wr[u] unused otherwise) */
                int prev = elast;
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int e = mt[u].y & INT_MAX;
                    if (e != prev)
#pragma unroll
                        for (int q = 0; q < CW; q++)
                            wr[u][q] = ld_stream(w + (size_t)e * d8 + col0 + q * nt);
                    prev = e;
                }
            }
            float dot[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                dot[u] = 0.0f;
                if (MODE != 2) {
                    const int e = mt[u].y & INT_MAX;
                    if (e != elast) {
#pragma unroll
                        for (int q = 0; q < CW; q++)
                            unpack8(wr[u][q], fw[q]);
                        elast = e;
                    }
                }
                const float cf = __int_as_float(mt[u].z);
#pragma unroll
                for (int q = 0; q < CW; q++) {
                    float fx[8];
                    unpack8(xr[u][q], fx);
#pragma unroll
                    for (int c = 0; c < 8; c++) {
                        if (MODE != 2)
                            dot[u] = fmaf(fw[q][c], fx[c], dot[u]);
                        if (MODE != 0)
                            acc[q][c] = fmaf(cf, fx[c], acc[q][c]);
                    }
                }
                if (MODE != 0 && mt[u].y < 0) { /* the run ends: its row, written once */
#pragma unroll
                    for (int q = 0; q < CW; q++) {
                        store8(grad + ((size_t)cur_r * d8 + col0 + q * nt) * 8, acc[q]);
#pragma unroll
                        for (int c = 0; c < 8; c++)
                            acc[q][c] = 0.0f;
                    }
                    cur_r++;
                }
            }
            if (MODE != 2) {
                warp_sum_many<U>(dot, lane);
                const int sh = 5 - log2_of<U>::v, idx = (lane >> sh) & (U - 1);
                if ((lane & ((1 << sh) - 1)) == 0)
                    s_red[wid * CU + j + idx] = dot[0];
            }
        }
        if (MODE != 2) {
            __syncthreads();
            const int nw = nt >> 5;
            for (int j = c8; j < m; j += nt) {
                float s = 0.0f;
                for (int q = 0; q < nw; q++)
                    s += s_red[q * CU + j];
                out[(size_t)blockIdx.y * P + base + j] = s; /* slice partial sums */
            }
        }
    }
}

template <int MODE, int U>
static void launch_blk(const peer_sorted *ps, const uint16_t *w, const uint16_t *rows, int d,
                       int hk, const float *ca, const float *cb, float *out, uint16_t *grad,
                       cudaStream_t s)
{
    const int nsl = peer_exp_slices(d), d8 = d / 8, cw = (d8 / nsl) % (32 * EXPB_CW) ? 1 : EXPB_CW;
    const dim3 grid((unsigned)((ps->maxruns + EXPB_RUNS - 1) / EXPB_RUNS), (unsigned)nsl);
    const unsigned nt = (unsigned)(d8 / nsl / cw);
    const size_t smem = (EXPB_CHUNK + U) * (sizeof(int4) + (MODE == 2 ? 0 : nt / 32 * sizeof(float)));
    if (cw == 2)
        k_expert_blk<MODE, U, 2><<<grid, nt, smem, s>>>(ps->run_off, ps->nruns, ps->maxruns, ps->P,
                                                     ps->skey, ps->sp, (const uint4 *)w,
                                                     (const uint4 *)rows, d8, hk, ca, cb, out,
                                                     grad);
    else
        k_expert_blk<MODE, U, 1><<<grid, nt, smem, s>>>(ps->run_off, ps->nruns, ps->maxruns, ps->P,
                                                     ps->skey, ps->sp, (const uint4 *)w,
                                                     (const uint4 *)rows, d8, hk, ca, cb, out,
                                                     grad);
}

/* act by pair id from the sorted positions (the nsl column slices' partial
 * sums added in order, also kept at the sorted positions); the gate copied
 * to them. */
__global__ void k_act_finalize(const int *sp, int P, int nsl, float *act_s, const float *gate,
                               float *act, float *gate_s)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < P; i += gridDim.x * blockDim.x) {
        const int p = sp[i];
        float a = act_s[i];
        for (int q = 1; q < nsl; q++)
            a += act_s[(size_t)q * P + i];
        if (nsl > 1)
            act_s[i] = a;
        act[p] = a;
        gate_s[i] = gate[p];
    }
}

/* dc by pair id from the sorted positions; da = g gelu'(a) dc, by pair id and sorted. */
__global__ void k_dc_finalize(const int *sp, int P, int nsl, const float *dc_s,
                              const float *gate_s, const float *act_s, float *dc, float *da,
                              float *da_s)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < P; i += gridDim.x * blockDim.x) {
        const int p = sp[i];
        float c = dc_s[i];
        for (int q = 1; q < nsl; q++)
            c += dc_s[(size_t)q * P + i];
        const float a = gate_s[i] * gelu_grad_f(act_s[i]) * c;
        dc[p] = c;
        da[p] = a;
        da_s[i] = a;
    }
}

/* Column slices of the expert-major passes: the most, up to PEER_EXP_SLICES,
 * that split the d/8 16-byte columns into equal slices of whole warps. */
int peer_exp_slices(int d)
{
    int nsl = PEER_EXP_SLICES;
    while (nsl > 1 && (d / 256) % nsl)
        nsl--;
    return nsl;
}

static unsigned flat_grid(int n)
{
    const int b = (n + 255) / 256;
    return (unsigned)(b < 16384 ? b : 16384);
}

int peer_expert_act(const peer_sorted *ps, const uint16_t *u, const uint16_t *x, int d, int hk,
                    const float *gate, float *act, float *act_s, float *gate_s, cudaStream_t s)
{
    const int nsl = peer_exp_slices(d);
    launch_blk<0, EXPB_U0>(ps, u, x, d, hk, NULL, NULL, act_s, NULL, s);
    k_act_finalize<<<flat_grid(ps->P), 256, 0, s>>>(ps->sp, ps->P, nsl, act_s, gate, act,
                                                   gate_s);
    return 0;
}

int peer_expert_dv(const peer_sorted *ps, const uint16_t *v, const uint16_t *dy, int d, int hk,
                   const float *gate_s, const float *act_s, float *dc_s, float *dc, float *da,
                   float *da_s, uint16_t *dv, cudaStream_t s)
{
    const int nsl = peer_exp_slices(d);
    launch_blk<1, EXPB_U1>(ps, v, dy, d, hk, gate_s, act_s, dc_s, dv, s);
    k_dc_finalize<<<flat_grid(ps->P), 256, 0, s>>>(ps->sp, ps->P, nsl, dc_s, gate_s, act_s, dc,
                                                  da, da_s);
    return 0;
}

int peer_expert_du(const peer_sorted *ps, const uint16_t *x, int d, int hk, const float *da_s,
                   uint16_t *du, cudaStream_t s)
{
    launch_blk<2, EXPB_U2>(ps, NULL, x, d, hk, da_s, NULL, NULL, du, s);
    return 0;
}
