/* flash_attn_bwd.cu: the fused causal attention backward (flash_attn.h), in
 * three kernels with one writer per output (no atomics, fixed orders):
 *   dsum  Dsum = rowsum(dy * y) per (query, head), a warp per token row;
 *   dkdv  a block of NW warps owns 16 MB NW keys (16 MB per warp) and walks the
 *         query tiles of BR queries from its first key to T (double-buffered
 *         Q and dy): S^T = K Q^T, P^T = exp(S^T - lse), dV += P^T dy,
 *         dP^T = V dy^T, dS^T = P^T (dP^T - Dsum), dK += dS^T Q;
 *   dq    a block owns 16 MB NW queries and walks the key tiles up to its last
 *         query (double-buffered K and V): S, P as forward, dP = dy V^T,
 *         dS = P (dP - Dsum), dQ += dS K.
 * dK and dQ are scaled by 1/sqrt(hs) at the end. S and dP are computed twice
 * (once per kernel): 7 tile products instead of 5, the price of no atomics. */
#include <math.h>

#include "kernels/flash_attn.h"
#include "kernels/flash_mma.cuh"

template <int D>
__global__ void flash_dsum_kernel(float *dsum, const uint16_t *dy, const uint16_t *y, int BT, int T,
                                  int C, int NH)
{
    constexpr int CPH = D / 8; /* 16-byte chunks per head; a power of 2 dividing 32 */
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= BT)
        return;
    const int b = row / T, t = row % T, nch = C / 8;
    const uint4 *a = (const uint4 *)(dy + (long)row * C), *w = (const uint4 *)(y + (long)row * C);
    for (int c0 = 0; c0 < nch; c0 += 32) {
        const int c = c0 + lane;
        float s = 0.0f;
        if (c < nch) {
            float fa[8], fw[8];
            unpack8(a[c], fa);
            unpack8(w[c], fw);
#pragma unroll
            for (int i = 0; i < 8; i++)
                s += fa[i] * fw[i];
        }
#pragma unroll
        for (int o = 1; o < CPH; o <<= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        if (c < nch && c % CPH == 0)
            dsum[((long)b * NH + c / CPH) * T + t] = s;
    }
}

/* Per-query lse (log2 domain) and Dsum of rows r0..r0+n-1 into shared; 0
 * beyond T (those queries are masked). */
static __device__ __forceinline__ void rows_load(float *sl, float *sd, const float *lse,
                                                 const float *dsum, int r0, int n, int T, int tid,
                                                 int nt)
{
    for (int i = tid; i < n; i += nt) {
        const bool in = r0 + i < T;
        sl[i] = in ? lse[r0 + i] * LOG2E : 0.0f;
        sd[i] = in ? dsum[r0 + i] : 0.0f;
    }
}

/* Tile shapes per head size: dkdv (warps, 16-key blocks per warp, queries
 * per tile, least resident blocks per SM for the register allocator), dq
 * (warps, 16-query blocks per warp, keys per tile, the same). A build may
 * override them with a header given to nvcc -include (bench/flash_tune.sh). */
#ifndef FLASH_DKDV32
#define FLASH_DKDV32 4, 1, 64, 3
#endif
#ifndef FLASH_DKDV64
#define FLASH_DKDV64 4, 1, 64, 3
#endif
#ifndef FLASH_DKDV128
#define FLASH_DKDV128 4, 1, 32, 1
#endif
#ifndef FLASH_DQ32
#define FLASH_DQ32 4, 1, 64, 3
#endif
#ifndef FLASH_DQ64
#define FLASH_DQ64 4, 1, 64, 3
#endif
#ifndef FLASH_DQ128
#define FLASH_DQ128 4, 1, 64, 1
#endif

template <int D, int NW, int MB, int BR> static size_t dkdv_smem()
{
    return (size_t)(2 * 16 * MB * NW + 4 * BR) * (D + 8) * sizeof(uint16_t) +
           4 * BR * sizeof(float);
}

template <int D, int NW, int MB, int BR, int MINB>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_dkdv_kernel(float *dqkv, const uint16_t *dy, const float *lse, const float *dsum,
                      const uint16_t *qkv, int T, int C, int NH, float sl2, float scale)
{
    constexpr int RW = 16 * MB, BK = RW * NW, NT = 32 * NW, LD = D + 8, NB = BR / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sK = smem, *sV = sK + BK * LD;                    /* [BK][LD] each */
    uint16_t *sQ = sV + BK * LD, *sG = sQ + 2 * BR * LD;        /* [2][BR][LD] each (q, dy) */
    float *sL = (float *)(sG + 2 * BR * LD), *sD = sL + 2 * BR; /* [2][BR] each */
    const int kt = blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH; /* first key tile: most work */
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *gbase = dy + (long)b * T * C + (long)h * D;
    const float *lse_bh = lse + (long)bh * T, *ds_bh = dsum + (long)bh * T;
    const int k0 = kt * BK, wk0 = k0 + warp * RW, i0 = k0 / BR, nq = (T + BR - 1) / BR;

    tile_load<BK, D, NT>(sK, base + C, ld, k0, T, tid);
    tile_load<BK, D, NT>(sV, base + 2 * C, ld, k0, T, tid);
    tile_load<BR, D, NT>(sQ, base, ld, i0 * BR, T, tid);
    tile_load<BR, D, NT>(sG, gbase, C, i0 * BR, T, tid);
    cp_async_commit();
    rows_load(sL, sD, lse_bh, ds_bh, i0 * BR, BR, T, tid, NT);

    float dk[MB][DB][4], dv[MB][DB][4];
    zero_acc<MB, DB>(dk);
    zero_acc<MB, DB>(dv);

    for (int i = i0; i < nq; i++) {
        const int cur = (i - i0) & 1, q0 = i * BR;
        if (i + 1 < nq) {
            const int nx = cur ^ 1;
            tile_load<BR, D, NT>(sQ + nx * BR * LD, base, ld, q0 + BR, T, tid);
            tile_load<BR, D, NT>(sG + nx * BR * LD, gbase, C, q0 + BR, T, tid);
            cp_async_commit();
            rows_load(sL + nx * BR, sD + nx * BR, lse_bh, ds_bh, q0 + BR, BR, T, tid, NT);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (wk0 <= q0 + BR - 1) {
            const uint16_t *qb = sQ + cur * BR * LD, *gb = sG + cur * BR * LD;
            const float *lb = sL + cur * BR, *db = sD + cur * BR;
            float p[MB][NB][4], dp[MB][NB][4];
            zero_acc<MB, NB>(p);
            zero_acc<MB, NB>(dp);
            warp_mm_ss<MB, D, NB, true>(p, sK, LD, warp * RW, qb, LD, lane);  /* S^T */
            warp_mm_ss<MB, D, NB, true>(dp, sV, LD, warp * RW, gb, LD, lane); /* dP^T */
#pragma unroll
            for (int n = 0; n < NB; n++) {
                const int c = n * 8 + 2 * t4; /* this lane's query pair in the tile */
                const float2 l2 = *(const float2 *)(lb + c), d2 = *(const float2 *)(db + c);
#pragma unroll
                for (int mb = 0; mb < MB; mb++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int q = q0 + c + (e & 1);
                        const bool live = q >= wk0 + 16 * mb + g + 8 * (e >> 1) && q < T;
                        const float pv =
                            live ? fast_exp2(fmaf(p[mb][n][e], sl2, -(e & 1 ? l2.y : l2.x)))
                                 : 0.0f;
                        p[mb][n][e] = pv;
                        dp[mb][n][e] = pv * (dp[mb][n][e] - (e & 1 ? d2.y : d2.x));
                    }
            }
            warp_mm_rs<MB, BR, DB>(dv, p, gb, LD, lane);  /* dV += P^T dy */
            warp_mm_rs<MB, BR, DB>(dk, dp, qb, LD, lane); /* dK += dS^T Q */
        }
        __syncthreads();
    }

    float *dkb = dqkv + (long)b * T * ld + C + (long)h * D + 2 * t4;
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int key = wk0 + 16 * mb + g + 8 * r;
            if (key >= T)
                continue;
            float *dkr = dkb + (long)key * ld, *dvr = dkr + C;
#pragma unroll
            for (int n = 0; n < DB; n++) {
                *(float2 *)(dkr + n * 8) =
                    make_float2(dk[mb][n][2 * r] * scale, dk[mb][n][2 * r + 1] * scale);
                *(float2 *)(dvr + n * 8) = make_float2(dv[mb][n][2 * r], dv[mb][n][2 * r + 1]);
            }
        }
}

template <int D, int NW, int MB, int BC> static size_t dq_smem()
{
    return (size_t)(2 * 16 * MB * NW + 4 * BC) * (D + 8) * sizeof(uint16_t);
}

template <int D, int NW, int MB, int BC, int MINB>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_dq_kernel(float *dqkv, const uint16_t *dy, const float *lse, const float *dsum,
                    const uint16_t *qkv, int T, int C, int NH, float sl2, float scale)
{
    constexpr int RW = 16 * MB, BQ = RW * NW, NT = 32 * NW, LD = D + 8, NB = BC / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem, *sG = sQ + BQ * LD;             /* [BQ][LD] each (q, dy) */
    uint16_t *sK = sG + BQ * LD, *sV = sK + 2 * BC * LD; /* [2][BC][LD] each */
    const int qt = (int)gridDim.x - 1 - (int)blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *gbase = dy + (long)b * T * C + (long)h * D;
    const int q0 = qt * BQ, wq0 = q0 + warp * RW;
    const int nk = (min(q0 + BQ, T) - 1) / BC + 1;

    tile_load<BQ, D, NT>(sQ, base, ld, q0, T, tid);
    tile_load<BQ, D, NT>(sG, gbase, C, q0, T, tid);
    tile_load<BC, D, NT>(sK, base + C, ld, 0, T, tid);
    tile_load<BC, D, NT>(sV, base + 2 * C, ld, 0, T, tid);
    cp_async_commit();

    float lr[MB][2], dr[MB][2]; /* lse (log2 domain) and Dsum of rows g, g+8 of each block */
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = wq0 + 16 * mb + g + 8 * r;
            const bool in = row < T;
            lr[mb][r] = in ? lse[(long)bh * T + row] * LOG2E : 0.0f;
            dr[mb][r] = in ? dsum[(long)bh * T + row] : 0.0f;
        }
    float dq[MB][DB][4];
    zero_acc<MB, DB>(dq);

    for (int j = 0; j < nk; j++) {
        const int cur = j & 1, k0 = j * BC;
        kv_tile_wait<BC, D, NT>(sK, sV, base + C, base + 2 * C, ld, j, nk, T, tid);
        if (k0 <= wq0 + RW - 1) {
            const uint16_t *kb = sK + cur * BC * LD, *vb = sV + cur * BC * LD;
            float p[MB][NB][4], dp[MB][NB][4];
            zero_acc<MB, NB>(p);
            zero_acc<MB, NB>(dp);
            warp_mm_ss<MB, D, NB, true>(p, sQ, LD, warp * RW, kb, LD, lane);  /* S */
            warp_mm_ss<MB, D, NB, true>(dp, sG, LD, warp * RW, vb, LD, lane); /* dP */
#pragma unroll
            for (int mb = 0; mb < MB; mb++)
#pragma unroll
                for (int n = 0; n < NB; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int r = e >> 1;
                        const bool live = k0 + n * 8 + 2 * t4 + (e & 1) <= wq0 + 16 * mb + g + 8 * r;
                        const float pv = live ? fast_exp2(fmaf(p[mb][n][e], sl2, -lr[mb][r])) : 0.0f;
                        dp[mb][n][e] = pv * (dp[mb][n][e] - dr[mb][r]);
                    }
            warp_mm_rs<MB, BC, DB>(dq, dp, kb, LD, lane); /* dQ += dS K */
        }
        __syncthreads();
    }

#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = wq0 + 16 * mb + g + 8 * r;
            if (row >= T)
                continue;
            float *dqr = dqkv + ((long)b * T + row) * ld + (long)h * D + 2 * t4;
#pragma unroll
            for (int n = 0; n < DB; n++)
                *(float2 *)(dqr + n * 8) =
                    make_float2(dq[mb][n][2 * r] * scale, dq[mb][n][2 * r + 1] * scale);
        }
}

template <int D, int NW, int MB, int BR, int MINB, int NWQ, int MBQ, int BC, int MINBQ>
static int bwd_launch(float *dqkv, float *dsum, const uint16_t *dy, const uint16_t *y,
                      const float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                      cudaStream_t st, l720_err *err)
{
    const float scale = 1.0f / sqrtf((float)D), sl2 = LOG2E * scale;
    const int BT = B * T;
    flash_dsum_kernel<D><<<(BT + 7) / 8, 256, 0, st>>>(dsum, dy, y, BT, T, C, NH);
    GPU_LAUNCHED();
    size_t sm = dkdv_smem<D, NW, MB, BR>();
    int rc = flash_prepare(flash_dkdv_kernel<D, NW, MB, BR, MINB>, sm, err);
    if (rc)
        return rc;
    const int bk = 16 * MB * NW, bq = 16 * MBQ * NWQ;
    flash_dkdv_kernel<D, NW, MB, BR, MINB><<<dim3((T + bk - 1) / bk, B * NH), NW * 32, sm, st>>>(
        dqkv, dy, lse, dsum, qkv, T, C, NH, sl2, scale);
    GPU_LAUNCHED();
    sm = dq_smem<D, NWQ, MBQ, BC>();
    rc = flash_prepare(flash_dq_kernel<D, NWQ, MBQ, BC, MINBQ>, sm, err);
    if (rc)
        return rc;
    flash_dq_kernel<D, NWQ, MBQ, BC, MINBQ><<<dim3((T + bq - 1) / bq, B * NH), NWQ * 32, sm, st>>>(
        dqkv, dy, lse, dsum, qkv, T, C, NH, sl2, scale);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_flash_attn_bwd(float *dqkv, float *dsum, const uint16_t *dy, const uint16_t *y,
                                   const float *lse, const uint16_t *qkv, int B, int T, int C,
                                   int NH, void *stream, l720_err *err)
{
    const void *ptrs[4] = {dqkv, dy, y, qkv};
    int rc = flash_shape_check(B, T, C, NH, ptrs, 4, err);
    if (rc)
        return rc;
    cudaStream_t st = (cudaStream_t)stream;
    switch (C / NH) {
    case 32:
        return bwd_launch<32, FLASH_DKDV32, FLASH_DQ32>(dqkv, dsum, dy, y, lse, qkv, B, T, C, NH,
                                                        st, err);
    case 64:
        return bwd_launch<64, FLASH_DKDV64, FLASH_DQ64>(dqkv, dsum, dy, y, lse, qkv, B, T, C, NH,
                                                        st, err);
    default:
        return bwd_launch<128, FLASH_DKDV128, FLASH_DQ128>(dqkv, dsum, dy, y, lse, qkv, B, T, C,
                                                           NH, st, err);
    }
}
