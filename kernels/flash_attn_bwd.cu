/* flash_attn_bwd.cu: the fused causal attention backward (flash_attn.h), in
 * two kernels with one writer per output (no atomics, fixed orders):
 *   dq    a block owns 16 MB NW queries; it first computes Dsum = rowsum(dy * y)
 *         of its queries (written for dkdv), then walks the key tiles up to
 *         its last query (double-buffered K and V): S, P as forward,
 *         dP = dy V^T, dS = P (dP - Dsum), dQ += dS K;
 *   dkdv  (after dq) a block of NW warps owns 16 MB NW keys (16 MB per warp)
 *         and walks the query tiles of BR queries from its first key to T
 *         (double-buffered Q, dy, lse and Dsum): S^T = K Q^T,
 *         P^T = exp(S^T - lse), dV += P^T dy, dP^T = V dy^T,
 *         dS^T = P^T (dP^T - Dsum), dK += dS^T Q.
 * dK and dQ are scaled by 1/sqrt(hs) at the end. S and dP are computed twice
 * (once per kernel): 7 tile products instead of 5, the price of no atomics.
 * Both grids run the blocks with the most tiles first (the tile index is the
 * slow grid index). */
#include <math.h>

#include <type_traits>

#include "kernels/flash_attn.h"
#include "kernels/flash_mma.cuh"

/* Per-query lse (natural log) and Dsum of rows r0..r0+n-1 into shared by
 * asynchronous copies; zeros beyond T (those queries are masked). */
static __device__ __forceinline__ void rows_async(float *sl, float *sd, const float *lse,
                                                  const float *dsum, int r0, int n, int T, int tid,
                                                  int nt)
{
    for (int i = tid; i < 2 * n; i += nt) {
        const int k = i < n ? i : i - n, row = r0 + k, in = row < T;
        cp_async4((i < n ? sl : sd) + k, (i < n ? lse : dsum) + (in ? row : 0), in ? 4 : 0);
    }
}

/* The pointwise step of dkdv on S^T and dP^T (keys x queries of the tile at
 * q0): P^T = 2^(S^T sl2 - lse log2 e), dS^T = P^T (dP^T - Dsum) in place.
 * MASK: the tile holds queries before some key of the warp or beyond T
 * (those entries are zeroed); otherwise no entry is tested. */
template <int MB, int NB, bool MASK>
static __device__ __forceinline__ void dkdv_pointwise(float (*p)[NB][4], float (*dp)[NB][4],
                                                      const float *lb, const float *db, int q0,
                                                      int wk0, int T, int g, int t4, float sl2)
{
#pragma unroll
    for (int n = 0; n < NB; n++) {
        const int c = n * 8 + 2 * t4; /* this lane's query pair in the tile */
        const float2 l2 = *(const float2 *)(lb + c), d2 = *(const float2 *)(db + c);
        const float la[2] = {l2.x * LOG2E, l2.y * LOG2E}, da[2] = {d2.x, d2.y};
#pragma unroll
        for (int mb = 0; mb < MB; mb++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int q = q0 + c + (e & 1);
                const bool live = !MASK || (q >= wk0 + 16 * mb + g + 8 * (e >> 1) && q < T);
                const float pv = live ? fast_exp2(fmaf(p[mb][n][e], sl2, -la[e & 1])) : 0.0f;
                p[mb][n][e] = pv;
                dp[mb][n][e] = pv * (dp[mb][n][e] - da[e & 1]);
            }
    }
}

/* The pointwise step of dq on S and dP (queries x keys of the tile at k0):
 * dS = P (dP - Dsum) into dp. MASK: a diagonal tile (keys after some query
 * of the warp are zeroed; keys beyond T only occur in those). */
template <int MB, int NB, bool MASK>
static __device__ __forceinline__ void dq_pointwise(const float (*p)[NB][4], float (*dp)[NB][4],
                                                    const float (*lr)[2], const float (*dr)[2],
                                                    int k0, int wq0, int g, int t4, float sl2)
{
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int n = 0; n < NB; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int r = e >> 1;
                const bool live = !MASK || k0 + n * 8 + 2 * t4 + (e & 1) <= wq0 + 16 * mb + g + 8 * r;
                const float pv = live ? fast_exp2(fmaf(p[mb][n][e], sl2, -lr[mb][r])) : 0.0f;
                dp[mb][n][e] = pv * (dp[mb][n][e] - dr[mb][r]);
            }
}

/* Tile shapes per head size: dkdv (warps, 16-key blocks per warp, queries
 * per tile, least resident blocks per SM for the register allocator, K and V
 * fragments read from shared per tile: 0, kept in registers: 1, or read from
 * shared with the next tile's scores computed during this tile's products:
 * 2, flash_dkdv_pipe_kernel), dq
 * (warps, 16-query blocks per warp, keys per tile, the same, Q and dy
 * fragments in registers). A build may override them with a header given to
 * nvcc -include (bench/flash_tune.sh). */
#ifndef FLASH_DKDV32
#define FLASH_DKDV32 4, 1, 64, 3, 1
#endif
#ifndef FLASH_DKDV64
#define FLASH_DKDV64 2, 2, 32, 4, 0
#endif
#ifndef FLASH_DKDV128
#define FLASH_DKDV128 4, 1, 32, 1, 0
#endif
#ifndef FLASH_DQ32
#define FLASH_DQ32 4, 1, 64, 3, 1
#endif
#ifndef FLASH_DQ64
#define FLASH_DQ64 4, 1, 64, 3, 0
#endif
#ifndef FLASH_DQ128
#define FLASH_DQ128 4, 1, 64, 1, 0
#endif

template <int D, int NW, int MB, int BR> static size_t dkdv_smem()
{
    return (size_t)(2 * 16 * MB * NW + 4 * BR) * (D + 8) * sizeof(uint16_t) +
           4 * BR * sizeof(float);
}

/* dK (scaled) and dV of a warp's keys below T into dqkv. */
template <int MB, int DB>
static __device__ __forceinline__ void dkdv_store(float *dqkv, float (*dk)[DB][4],
                                                  float (*dv)[DB][4], int b, int h, int wk0,
                                                  int T, int C, int D, int g, int t4, float scale)
{
    const long ld = 3L * C;
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

template <int D, int NW, int MB, int BR, int MINB, int AR>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_dkdv_kernel(float *dqkv, const uint16_t *dy, const float *lse, const float *dsum,
                      const uint16_t *qkv, int T, int C, int NH, float sl2, float scale)
{
    constexpr int RW = 16 * MB, BK = RW * NW, NT = 32 * NW, LD = D + 8, NB = BR / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sK = smem, *sV = sK + BK * LD;                    /* [BK][LD] each */
    uint16_t *sQ = sV + BK * LD, *sG = sQ + 2 * BR * LD;        /* [2][BR][LD] each (q, dy) */
    float *sL = (float *)(sG + 2 * BR * LD), *sD = sL + 2 * BR; /* [2][BR] each (lse, Dsum) */
    /* key tile kt = blockIdx.y: the first tiles have the most work and start first */
    const int kt = blockIdx.y, bh = blockIdx.x, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *gbase = dy + (long)b * T * C + (long)h * D;
    const float *lse_bh = lse + (long)bh * T, *ds_bh = dsum + (long)bh * T;
    const int k0 = kt * BK, wk0 = k0 + warp * RW, i0 = k0 / BR, nq = (T + BR - 1) / BR;

    tile_load<BK, D, NT>(sK, base + C, ld, k0, T, tid);
    tile_load<BK, D, NT>(sV, base + 2 * C, ld, k0, T, tid);
    cp_async_commit();
    tile_load<BR, D, NT>(sQ, base, ld, i0 * BR, T, tid);
    tile_load<BR, D, NT>(sG, gbase, C, i0 * BR, T, tid);
    rows_async(sL, sD, lse_bh, ds_bh, i0 * BR, BR, T, tid, NT);
    cp_async_commit();
    uint32_t kf[AR ? MB : 1][AR ? D / 16 : 1][4], vf[AR ? MB : 1][AR ? D / 16 : 1][4];
    if constexpr (AR) {
        cp_async_wait<1>();
        __syncthreads();
        ld_a_rows<MB, D>(kf, sK, LD, warp * RW, lane);
        ld_a_rows<MB, D>(vf, sV, LD, warp * RW, lane);
    }

    float dk[MB][DB][4], dv[MB][DB][4];
    zero_acc<MB, DB>(dk);
    zero_acc<MB, DB>(dv);

    for (int i = i0; i < nq; i++) {
        const int cur = (i - i0) & 1, q0 = i * BR;
        if (i + 1 < nq) {
            const int nx = cur ^ 1;
            tile_load<BR, D, NT>(sQ + nx * BR * LD, base, ld, q0 + BR, T, tid);
            tile_load<BR, D, NT>(sG + nx * BR * LD, gbase, C, q0 + BR, T, tid);
            rows_async(sL + nx * BR, sD + nx * BR, lse_bh, ds_bh, q0 + BR, BR, T, tid, NT);
            cp_async_commit();
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
            if constexpr (AR) {
                warp_mm_as<MB, D, NB>(p, kf, qb, LD, lane);  /* S^T */
                warp_mm_as<MB, D, NB>(dp, vf, gb, LD, lane); /* dP^T */
            } else {
                warp_mm_ss<MB, D, NB, true>(p, sK, LD, warp * RW, qb, LD, lane);
                warp_mm_ss<MB, D, NB, true>(dp, sV, LD, warp * RW, gb, LD, lane);
            }
            if (q0 < wk0 + RW || q0 + BR > T)
                dkdv_pointwise<MB, NB, true>(p, dp, lb, db, q0, wk0, T, g, t4, sl2);
            else
                dkdv_pointwise<MB, NB, false>(p, dp, lb, db, q0, wk0, T, g, t4, sl2);
            warp_mm_rs<MB, BR, DB>(dv, p, gb, LD, lane);  /* dV += P^T dy */
            warp_mm_rs<MB, BR, DB>(dk, dp, qb, LD, lane); /* dK += dS^T Q */
        }
        __syncthreads();
    }

    dkdv_store<MB, DB>(dqkv, dk, dv, b, h, wk0, T, C, D, g, t4, scale);
}

/* AR 2: K, V from shared, and the next query tile's S^T and dP^T computed
 * while this tile's pointwise step and dV, dK products run (in one basic
 * block, so the scheduler can interleave tensor products with exp2). Q, dy,
 * lse and Dsum in a ring of 3 tiles: iteration i holds S^T_i and dP^T_i,
 * waits for tile i + 1, starts tile i + 2. One barrier per tile. */
template <int D, int NW, int MB, int BR> static size_t dkdv_pipe_smem()
{
    return (size_t)(2 * 16 * MB * NW + 6 * BR) * (D + 8) * sizeof(uint16_t) +
           6 * BR * sizeof(float);
}

template <int D, int NW, int MB, int BR, int MINB>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_dkdv_pipe_kernel(float *dqkv, const uint16_t *dy, const float *lse, const float *dsum,
                           const uint16_t *qkv, int T, int C, int NH, float sl2, float scale)
{
    constexpr int RW = 16 * MB, BK = RW * NW, NT = 32 * NW, LD = D + 8, NB = BR / 8, DB = D / 8;
    constexpr int QS = BR * LD; /* one Q or dy tile */
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sK = smem, *sV = sK + BK * LD;               /* [BK][LD] each */
    uint16_t *sQ = sV + BK * LD, *sG = sQ + 3 * QS;        /* [3][BR][LD] each (q, dy) */
    float *sL = (float *)(sG + 3 * QS), *sD = sL + 3 * BR; /* [3][BR] each (lse, Dsum) */
    const int kt = blockIdx.y, bh = blockIdx.x, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *gbase = dy + (long)b * T * C + (long)h * D;
    const float *lse_bh = lse + (long)bh * T, *ds_bh = dsum + (long)bh * T;
    const int k0 = kt * BK, wk0 = k0 + warp * RW, i0 = k0 / BR, nq = (T + BR - 1) / BR;
    auto load_tile = [&](int i, int buf) { /* Q, dy, lse, Dsum of query tile i */
        tile_load<BR, D, NT>(sQ + buf * QS, base, ld, i * BR, T, tid);
        tile_load<BR, D, NT>(sG + buf * QS, gbase, C, i * BR, T, tid);
        rows_async(sL + buf * BR, sD + buf * BR, lse_bh, ds_bh, i * BR, BR, T, tid, NT);
    };

    tile_load<BK, D, NT>(sK, base + C, ld, k0, T, tid);
    tile_load<BK, D, NT>(sV, base + 2 * C, ld, k0, T, tid);
    load_tile(i0, 0);
    cp_async_commit();
    if (i0 + 1 < nq)
        load_tile(i0 + 1, 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();

    float p[MB][NB][4], dp[MB][NB][4]; /* S^T, dP^T of the current tile */
    auto scores = [&](int buf) {
        zero_acc<MB, NB>(p);
        zero_acc<MB, NB>(dp);
        warp_mm_ss<MB, D, NB, true>(p, sK, LD, warp * RW, sQ + buf * QS, LD, lane);
        warp_mm_ss<MB, D, NB, true>(dp, sV, LD, warp * RW, sG + buf * QS, LD, lane);
    };
    if (wk0 <= i0 * BR + BR - 1)
        scores(0);
    float dk[MB][DB][4], dv[MB][DB][4];
    zero_acc<MB, DB>(dk);
    zero_acc<MB, DB>(dv);

    for (int i = i0; i < nq; i++) {
        const int q0 = i * BR, cur = (i - i0) % 3, nxt = (i - i0 + 1) % 3;
        cp_async_wait<0>(); /* tile i + 1 */
        __syncthreads();    /* and every warp is done with tile i - 1 */
        if (i + 2 < nq)
            load_tile(i + 2, (i - i0 + 2) % 3);
        cp_async_commit();
        auto step = [&](auto next) {
            const float *lb = sL + cur * BR, *db = sD + cur * BR;
            if (q0 < wk0 + RW || q0 + BR > T)
                dkdv_pointwise<MB, NB, true>(p, dp, lb, db, q0, wk0, T, g, t4, sl2);
            else
                dkdv_pointwise<MB, NB, false>(p, dp, lb, db, q0, wk0, T, g, t4, sl2);
            uint32_t pf[MB][BR / 16][4], sf[MB][BR / 16][4]; /* P^T, dS^T as bf16 A fragments */
#pragma unroll
            for (int mb = 0; mb < MB; mb++)
#pragma unroll
                for (int kk = 0; kk < BR / 16; kk++) {
                    acc_to_a(pf[mb][kk], p[mb][2 * kk], p[mb][2 * kk + 1]);
                    acc_to_a(sf[mb][kk], dp[mb][2 * kk], dp[mb][2 * kk + 1]);
                }
            if constexpr (decltype(next)::value)
                scores(nxt);
            warp_mm_as<MB, BR, DB, false>(dv, pf, sG + cur * QS, LD, lane); /* dV += P^T dy */
            warp_mm_as<MB, BR, DB, false>(dk, sf, sQ + cur * QS, LD, lane); /* dK += dS^T Q */
        };
        if (i + 1 < nq && wk0 <= q0 + 2 * BR - 1) {
            if (wk0 <= q0 + BR - 1)
                step(std::true_type());
            else
                scores(nxt); /* the warp's keys start in the next tile */
        } else if (wk0 <= q0 + BR - 1) {
            step(std::false_type());
        }
    }
    dkdv_store<MB, DB>(dqkv, dk, dv, b, h, wk0, T, C, D, g, t4, scale);
}

template <int D, int NW, int MB, int BC, int AR> static size_t dq_smem()
{
    constexpr int NBUF = AR == 2 ? 3 : 2; /* K and V tiles in the ring */
    return (size_t)(2 * 16 * MB * NW + 2 * NBUF * BC) * (D + 8) * sizeof(uint16_t) +
           16 * MB * NW * sizeof(float);
}

/* dq also computes Dsum = rowsum(dy * y) of its queries first (dy from the
 * tile in shared, y read while the tiles arrive) and writes it for dkdv,
 * which runs after it. AR 2: Q and dy from shared, K and V in a ring of 3
 * tiles, the next tile's S and dP computed during this tile's pointwise step
 * and dQ product (one basic block), one barrier per tile. */
template <int D, int NW, int MB, int BC, int MINB, int AR>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_dq_kernel(float *dqkv, float *dsum, const uint16_t *dy, const uint16_t *y,
                    const float *lse, const uint16_t *qkv, int T, int C, int NH, float sl2,
                    float scale)
{
    constexpr int RW = 16 * MB, BQ = RW * NW, NT = 32 * NW, LD = D + 8, NB = BC / 8, DB = D / 8;
    constexpr int CH = D / 8, YN = BQ * CH / NT; /* 16-byte chunks per row; per thread */
    constexpr int NBUF = AR == 2 ? 3 : 2, KS = BC * LD; /* ring of K and V tiles; one tile */
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem, *sG = sQ + BQ * LD;           /* [BQ][LD] each (q, dy) */
    uint16_t *sK = sG + BQ * LD, *sV = sK + NBUF * KS; /* [NBUF][BC][LD] each */
    float *sD = (float *)(sV + NBUF * KS);             /* [BQ] Dsum */
    /* query tile: the last ones have the most work and start first */
    const int qt = (int)gridDim.y - 1 - (int)blockIdx.y, bh = blockIdx.x, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *gbase = dy + (long)b * T * C + (long)h * D;
    const int q0 = qt * BQ, wq0 = q0 + warp * RW;
    const int nk = (min(q0 + BQ, T) - 1) / BC + 1;

    tile_load<BQ, D, NT>(sQ, base, ld, q0, T, tid);
    tile_load<BQ, D, NT>(sG, gbase, C, q0, T, tid);
    cp_async_commit();
    tile_load<BC, D, NT>(sK, base + C, ld, 0, T, tid);
    tile_load<BC, D, NT>(sV, base + 2 * C, ld, 0, T, tid);
    cp_async_commit();
    if constexpr (AR == 2) {
        if (nk > 1) {
            tile_load<BC, D, NT>(sK + KS, base + C, ld, BC, T, tid);
            tile_load<BC, D, NT>(sV + KS, base + 2 * C, ld, BC, T, tid);
        }
        cp_async_commit();
    }

    uint4 yv[YN]; /* y chunks of rows (tid + k NT) / CH of the tile; zeros beyond T */
#pragma unroll
    for (int k = 0; k < YN; k++) {
        const int i = tid + k * NT, row = q0 + i / CH;
        yv[k] = row < T ? *(const uint4 *)(y + ((long)b * T + row) * C + (long)h * D + (i % CH) * 8)
                        : make_uint4(0, 0, 0, 0);
    }
    float lr[MB][2], dr[MB][2]; /* lse (log2 domain) and Dsum of rows g, g+8 of each block */
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = wq0 + 16 * mb + g + 8 * r;
            lr[mb][r] = row < T ? lse[(long)bh * T + row] * LOG2E : 0.0f;
        }
    cp_async_wait<AR == 2 ? 2 : 1>(); /* Q, dy */
    __syncthreads();
#pragma unroll
    for (int k = 0; k < YN; k++) { /* CH consecutive lanes share a row */
        const int i = tid + k * NT, r = i / CH;
        float fa[8], fw[8], s = 0.0f;
        unpack8(*(const uint4 *)(sG + r * LD + (i % CH) * 8), fa);
        unpack8(yv[k], fw);
#pragma unroll
        for (int e = 0; e < 8; e++)
            s += fa[e] * fw[e];
#pragma unroll
        for (int o = 1; o < CH; o <<= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        if (i % CH == 0) {
            sD[r] = s;
            if (q0 + r < T)
                dsum[(long)bh * T + q0 + r] = s;
        }
    }
    uint32_t qf[AR == 1 ? MB : 1][AR == 1 ? D / 16 : 1][4];
    uint32_t gf[AR == 1 ? MB : 1][AR == 1 ? D / 16 : 1][4];
    if constexpr (AR == 1) {
        ld_a_rows<MB, D>(qf, sQ, LD, warp * RW, lane);
        ld_a_rows<MB, D>(gf, sG, LD, warp * RW, lane);
    }
    __syncthreads();
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++)
            dr[mb][r] = sD[warp * RW + 16 * mb + g + 8 * r];
    float dq[MB][DB][4];
    zero_acc<MB, DB>(dq);

    if constexpr (AR == 2) {
        float p[MB][NB][4], dp[MB][NB][4]; /* S, dP of the current tile */
        auto scores = [&](int buf) {
            zero_acc<MB, NB>(p);
            zero_acc<MB, NB>(dp);
            warp_mm_ss<MB, D, NB, true>(p, sQ, LD, warp * RW, sK + buf * KS, LD, lane);
            warp_mm_ss<MB, D, NB, true>(dp, sG, LD, warp * RW, sV + buf * KS, LD, lane);
        };
        cp_async_wait<1>(); /* K_0, V_0 */
        __syncthreads();
        scores(0); /* every warp has key 0 */
        for (int j = 0; j < nk; j++) {
            const int k0 = j * BC, cur = j % 3, nxt = (j + 1) % 3;
            cp_async_wait<0>(); /* K_{j+1}, V_{j+1} */
            __syncthreads();    /* and every warp is done with tile j - 1 */
            if (j + 2 < nk) {
                tile_load<BC, D, NT>(sK + ((j + 2) % 3) * KS, base + C, ld, k0 + 2 * BC, T, tid);
                tile_load<BC, D, NT>(sV + ((j + 2) % 3) * KS, base + 2 * C, ld, k0 + 2 * BC, T,
                                     tid);
            }
            cp_async_commit();
            auto step = [&](auto next) {
                if (k0 + BC - 1 > wq0)
                    dq_pointwise<MB, NB, true>(p, dp, lr, dr, k0, wq0, g, t4, sl2);
                else
                    dq_pointwise<MB, NB, false>(p, dp, lr, dr, k0, wq0, g, t4, sl2);
                uint32_t sf[MB][BC / 16][4]; /* dS as bf16 A fragments */
#pragma unroll
                for (int mb = 0; mb < MB; mb++)
#pragma unroll
                    for (int kk = 0; kk < BC / 16; kk++)
                        acc_to_a(sf[mb][kk], dp[mb][2 * kk], dp[mb][2 * kk + 1]);
                if constexpr (decltype(next)::value)
                    scores(nxt);
                warp_mm_as<MB, BC, DB, false>(dq, sf, sK + cur * KS, LD, lane); /* dQ += dS K */
            };
            if (j + 1 < nk && k0 + BC <= wq0 + RW - 1)
                step(std::true_type());
            else if (k0 <= wq0 + RW - 1)
                step(std::false_type());
        }
    } else {
        for (int j = 0; j < nk; j++) {
            const int cur = j & 1, k0 = j * BC;
            kv_tile_wait<BC, D, NT>(sK, sV, base + C, base + 2 * C, ld, j, nk, T, tid);
            if (k0 <= wq0 + RW - 1) {
                const uint16_t *kb = sK + cur * BC * LD, *vb = sV + cur * BC * LD;
                float p[MB][NB][4], dp[MB][NB][4];
                zero_acc<MB, NB>(p);
                zero_acc<MB, NB>(dp);
                if constexpr (AR) {
                    warp_mm_as<MB, D, NB>(p, qf, kb, LD, lane);  /* S */
                    warp_mm_as<MB, D, NB>(dp, gf, vb, LD, lane); /* dP */
                } else {
                    warp_mm_ss<MB, D, NB, true>(p, sQ, LD, warp * RW, kb, LD, lane);
                    warp_mm_ss<MB, D, NB, true>(dp, sG, LD, warp * RW, vb, LD, lane);
                }
                if (k0 + BC - 1 > wq0)
                    dq_pointwise<MB, NB, true>(p, dp, lr, dr, k0, wq0, g, t4, sl2);
                else
                    dq_pointwise<MB, NB, false>(p, dp, lr, dr, k0, wq0, g, t4, sl2);
                warp_mm_rs<MB, BC, DB>(dq, dp, kb, LD, lane); /* dQ += dS K */
            }
            __syncthreads();
        }
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

template <int D, int NW, int MB, int BR, int MINB, int AR, int NWQ, int MBQ, int BC, int MINBQ,
          int ARQ>
static int bwd_launch(float *dqkv, float *dsum, const uint16_t *dy, const uint16_t *y,
                      const float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                      cudaStream_t st, l720_err *err)
{
    const float scale = 1.0f / sqrtf((float)D), sl2 = LOG2E * scale;
    const int bk = 16 * MB * NW, bq = 16 * MBQ * NWQ;
    size_t sm = dq_smem<D, NWQ, MBQ, BC, ARQ>();
    int rc = flash_prepare(flash_dq_kernel<D, NWQ, MBQ, BC, MINBQ, ARQ>, sm, err);
    if (rc)
        return rc;
    flash_dq_kernel<D, NWQ, MBQ, BC, MINBQ, ARQ>
        <<<dim3(B * NH, (T + bq - 1) / bq), NWQ * 32, sm, st>>>(dqkv, dsum, dy, y, lse, qkv, T, C,
                                                                 NH, sl2, scale);
    GPU_LAUNCHED();
    const dim3 grid(B * NH, (T + bk - 1) / bk);
    if constexpr (AR == 2) {
        sm = dkdv_pipe_smem<D, NW, MB, BR>();
        rc = flash_prepare(flash_dkdv_pipe_kernel<D, NW, MB, BR, MINB>, sm, err);
        if (rc)
            return rc;
        flash_dkdv_pipe_kernel<D, NW, MB, BR, MINB><<<grid, NW * 32, sm, st>>>(
            dqkv, dy, lse, dsum, qkv, T, C, NH, sl2, scale);
    } else {
        sm = dkdv_smem<D, NW, MB, BR>();
        rc = flash_prepare(flash_dkdv_kernel<D, NW, MB, BR, MINB, AR>, sm, err);
        if (rc)
            return rc;
        flash_dkdv_kernel<D, NW, MB, BR, MINB, AR><<<grid, NW * 32, sm, st>>>(
            dqkv, dy, lse, dsum, qkv, T, C, NH, sl2, scale);
    }
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
