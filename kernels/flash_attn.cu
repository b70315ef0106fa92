/* flash_attn.cu: the fused causal attention forward (flash_attn.h).
 *
 * One block of NW warps owns BR = 16 MB NW queries of one (sequence, head);
 * each warp owns 16 MB of them (MB row blocks share every K and V fragment
 * the warp loads from shared memory). The block walks the key tiles of BC keys up to its
 * last query (tiles past the diagonal are never loaded), double-buffering K
 * and V in shared memory with asynchronous copies. Per tile a warp computes
 * S = Q K^T (16 x BC, tensor cores, fp32), masks the causal part on the
 * diagonal tiles, updates the running row maximum and sum (log2 domain, the
 * scale folded into one multiply), rescales its output accumulators and adds
 * P V with P rounded to bf16 in registers. Warps whose rows all lie before a
 * tile skip it. Blocks are launched in order of decreasing work (the query
 * tile is the slow grid index, the last tiles first), so the short blocks of
 * the causal triangle fill the end of the launch. */
#include <math.h>

#include <type_traits>

#include "kernels/flash_attn.h"
#include "kernels/flash_mma.cuh"

/* Tile shapes per head size: warps per block, 16-row blocks per warp (MB),
 * keys per tile (BC), least resident blocks per SM asked of the register
 * allocator (launch bounds), Q fragments read from shared memory per key
 * tile (0), kept in registers (1), or kept in registers with the next tile's
 * scores computed during this tile's softmax (2, flash_fwd_pipe_kernel). A build may override them with a header
 * given to nvcc -include (bench/flash_tune.sh). */
#ifndef FLASH_FWD32
#define FLASH_FWD32 4, 2, 64, 1, 0
#endif
#ifndef FLASH_FWD64
#define FLASH_FWD64 4, 2, 64, 2, 1
#endif
#ifndef FLASH_FWD128
#define FLASH_FWD128 4, 1, 64, 2, 2
#endif

template <int D, int NW, int MB, int BC> static size_t fwd_smem()
{
    return (size_t)(16 * MB * NW + 4 * BC) * (D + 8) * sizeof(uint16_t);
}

/* One key tile of the online softmax for a warp's 16 MB rows (first row
 * wq0; rows g, g+8 of each block in this lane): s[MB][NB][4] holds the raw
 * scores of keys k0.. on entry and P (unnormalised, log2 domain with the
 * scale sl2) on return; the running maximum m and partial sums l are
 * updated and o rescaled. diag: some key lies after some row (masked). */
template <int MB, int NB, int DB>
static __device__ __forceinline__ void online_softmax(float (*s)[NB][4], float (*o)[DB][4],
                                                      float (*m)[2], float (*l)[2], bool diag,
                                                      int k0, int wq0, int g, int t4, float sl2)
{
#pragma unroll
    for (int mb = 0; mb < MB; mb++) {
        const int row0 = wq0 + 16 * mb + g;
        float mx[2] = {-INFINITY, -INFINITY}; /* of the raw scores */
#pragma unroll
        for (int nb = 0; nb < NB; nb++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                if (diag && k0 + nb * 8 + 2 * t4 + (e & 1) > row0 + 8 * (e >> 1))
                    s[mb][nb][e] = -INFINITY;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[mb][nb][e]);
            }
        float alpha[2], mref[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float mn = fmaxf(m[mb][r], mx[r] * sl2); /* log2 domain */
            mref[r] = mn == -INFINITY ? 0.0f : mn;
            alpha[r] = fast_exp2(m[mb][r] - mref[r]); /* 0 while m is -inf */
            m[mb][r] = mn;
            l[mb][r] *= alpha[r];
        }
#pragma unroll
        for (int nb = 0; nb < NB; nb++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float p = fast_exp2(fmaf(s[mb][nb][e], sl2, -mref[e >> 1]));
                s[mb][nb][e] = p;
                l[mb][e >> 1] += p;
            }
#pragma unroll
        for (int i = 0; i < DB; i++) {
            o[mb][i][0] *= alpha[0];
            o[mb][i][1] *= alpha[0];
            o[mb][i][2] *= alpha[1];
            o[mb][i][3] *= alpha[1];
        }
    }
}

/* y = o / l (bf16) and lse = ln 2 (m + log2 l) of a warp's rows below T. */
template <int D, int MB, int DB>
static __device__ __forceinline__ void fwd_store(uint16_t *y, float *lse, float (*o)[DB][4],
                                                 float (*m)[2], float (*l)[2], int b, int bh,
                                                 int h, int wq0, int T, int C, int g, int t4)
{
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float lr = l[mb][r];
            lr += __shfl_xor_sync(0xffffffffu, lr, 1);
            lr += __shfl_xor_sync(0xffffffffu, lr, 2);
            const int row = wq0 + 16 * mb + g + 8 * r;
            if (row >= T)
                continue;
            const float inv = 1.0f / lr;
            uint16_t *yr = y + ((long)b * T + row) * C + (long)h * D + 2 * t4;
#pragma unroll
            for (int i = 0; i < DB; i++)
                *(uint32_t *)(yr + i * 8) =
                    pack_bf2(o[mb][i][2 * r] * inv, o[mb][i][2 * r + 1] * inv);
            if (t4 == 0)
                lse[(long)bh * T + row] = (m[mb][r] + log2f(lr)) * LN2;
        }
}

template <int D, int NW, int MB, int BC, int MINB, int QR>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_fwd_kernel(uint16_t *y, float *lse, const uint16_t *qkv, int T, int C, int NH, float sl2)
{
    constexpr int RW = 16 * MB, BR = RW * NW, NT = 32 * NW, LD = D + 8, NB = BC / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem, *sK = sQ + BR * LD, *sV = sK + 2 * BC * LD; /* [BR][LD], [2][BC][LD] x2 */
    const int qt = (int)gridDim.y - 1 - (int)blockIdx.y, bh = blockIdx.x, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D;
    const int q0 = qt * BR, wq0 = q0 + warp * RW;
    const int nk = (min(q0 + BR, T) - 1) / BC + 1;

    tile_load<BR, D, NT>(sQ, base, ld, q0, T, tid);
    cp_async_commit();
    tile_load<BC, D, NT>(sK, base + C, ld, 0, T, tid);
    tile_load<BC, D, NT>(sV, base + 2 * C, ld, 0, T, tid);
    cp_async_commit();
    uint32_t qf[QR ? MB : 1][QR ? D / 16 : 1][4]; /* Q fragments when QR */
    if constexpr (QR) {
        cp_async_wait<1>();
        __syncthreads();
        ld_a_rows<MB, D>(qf, sQ, LD, warp * RW, lane);
    }

    float o[MB][DB][4];
    zero_acc<MB, DB>(o);
    float m[MB][2], l[MB][2]; /* rows g, g+8 of each block: running max, partial sum */
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
        m[mb][0] = m[mb][1] = -INFINITY, l[mb][0] = l[mb][1] = 0.0f;

    for (int j = 0; j < nk; j++) {
        const int cur = j & 1, k0 = j * BC;
        kv_tile_wait<BC, D, NT>(sK, sV, base + C, base + 2 * C, ld, j, nk, T, tid);
        if (k0 <= wq0 + RW - 1) {
            const uint16_t *kb = sK + cur * BC * LD, *vb = sV + cur * BC * LD;
            float s[MB][NB][4];
            zero_acc<MB, NB>(s);
            if constexpr (QR)
                warp_mm_as<MB, D, NB>(s, qf, kb, LD, lane);
            else
                warp_mm_ss<MB, D, NB, true>(s, sQ, LD, warp * RW, kb, LD, lane);
            online_softmax<MB, NB, DB>(s, o, m, l, k0 + BC - 1 > wq0, k0, wq0, g, t4, sl2);
            warp_mm_rs<MB, BC, DB>(o, s, vb, LD, lane);
        }
        __syncthreads();
    }

    fwd_store<D, MB, DB>(y, lse, o, m, l, b, bh, h, wq0, T, C, g, t4);
}

/* QR 2: the same with Q in registers and the next tile's scores computed
 * while this tile's softmax runs (independent instructions for the
 * scheduler to interleave: tensor products beside exp2). K runs one tile
 * ahead of V: iteration j holds S_j (computed in iteration j - 1), waits for
 * K_{j+1} and V_j, starts K_{j+2} and V_{j+1}, then softmax(S_j) and
 * S_{j+1} = Q K_{j+1}^T, then O += P_j V_j. One barrier per tile. */
template <int D, int NW, int MB, int BC, int MINB>
__global__ void __launch_bounds__(NW * 32, MINB)
    flash_fwd_pipe_kernel(uint16_t *y, float *lse, const uint16_t *qkv, int T, int C, int NH,
                          float sl2)
{
    constexpr int RW = 16 * MB, BR = RW * NW, NT = 32 * NW, LD = D + 8, NB = BC / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem, *sK = sQ + BR * LD, *sV = sK + 2 * BC * LD; /* [BR][LD], [2][BC][LD] x2 */
    const int qt = (int)gridDim.y - 1 - (int)blockIdx.y, bh = blockIdx.x, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D, *kg = base + C, *vg = base + 2 * C;
    const int q0 = qt * BR, wq0 = q0 + warp * RW;
    const int nk = (min(q0 + BR, T) - 1) / BC + 1;

    tile_load<BR, D, NT>(sQ, base, ld, q0, T, tid);
    tile_load<BC, D, NT>(sK, kg, ld, 0, T, tid);
    tile_load<BC, D, NT>(sV, vg, ld, 0, T, tid);
    cp_async_commit();
    if (nk > 1)
        tile_load<BC, D, NT>(sK + BC * LD, kg, ld, BC, T, tid);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    uint32_t qf[MB][D / 16][4];
    ld_a_rows<MB, D>(qf, sQ, LD, warp * RW, lane);

    float o[MB][DB][4];
    zero_acc<MB, DB>(o);
    float m[MB][2], l[MB][2]; /* rows g, g+8 of each block: running max, partial sum */
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
        m[mb][0] = m[mb][1] = -INFINITY, l[mb][0] = l[mb][1] = 0.0f;
    float s[MB][NB][4];
    zero_acc<MB, NB>(s);
    warp_mm_as<MB, D, NB>(s, qf, sK, LD, lane); /* S_0: every warp has key 0 */

    for (int j = 0; j < nk; j++) {
        const int k0 = j * BC;
        cp_async_wait<0>(); /* K_{j+1}, V_j */
        __syncthreads();    /* and every warp is done with K_j, V_{j-1} */
        if (j + 2 < nk)
            tile_load<BC, D, NT>(sK + (j & 1) * BC * LD, kg, ld, k0 + 2 * BC, T, tid);
        if (j + 1 < nk)
            tile_load<BC, D, NT>(sV + ((j + 1) & 1) * BC * LD, vg, ld, k0 + BC, T, tid);
        cp_async_commit();
        /* this tile, and the next one's scores in the same basic block when the
         * warp has that tile (the common case), so they can interleave */
        auto step = [&](auto next) {
            online_softmax<MB, NB, DB>(s, o, m, l, k0 + BC - 1 > wq0, k0, wq0, g, t4, sl2);
            uint32_t pf[MB][BC / 16][4]; /* P_j as bf16 A fragments */
#pragma unroll
            for (int mb = 0; mb < MB; mb++)
#pragma unroll
                for (int kk = 0; kk < BC / 16; kk++)
                    acc_to_a(pf[mb][kk], s[mb][2 * kk], s[mb][2 * kk + 1]);
            if constexpr (decltype(next)::value) {
                zero_acc<MB, NB>(s);
                warp_mm_as<MB, D, NB>(s, qf, sK + ((j + 1) & 1) * BC * LD, LD, lane);
            }
            warp_mm_as<MB, BC, DB, false>(o, pf, sV + (j & 1) * BC * LD, LD, lane);
        };
        if (j + 1 < nk && k0 + BC <= wq0 + RW - 1)
            step(std::true_type());
        else if (k0 <= wq0 + RW - 1)
            step(std::false_type());
    }
    fwd_store<D, MB, DB>(y, lse, o, m, l, b, bh, h, wq0, T, C, g, t4);
}

template <int D, int NW, int MB, int BC, int MINB, int QR>
static int fwd_launch(uint16_t *y, float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                      cudaStream_t st, l720_err *err)
{
    size_t sm = fwd_smem<D, NW, MB, BC>();
    dim3 grid(B * NH, (T + 16 * MB * NW - 1) / (16 * MB * NW));
    float sl2 = LOG2E / sqrtf((float)D);
    if constexpr (QR == 2) {
        int rc = flash_prepare(flash_fwd_pipe_kernel<D, NW, MB, BC, MINB>, sm, err);
        if (rc)
            return rc;
        flash_fwd_pipe_kernel<D, NW, MB, BC, MINB><<<grid, NW * 32, sm, st>>>(y, lse, qkv, T, C, NH,
                                                                             sl2);
    } else {
        int rc = flash_prepare(flash_fwd_kernel<D, NW, MB, BC, MINB, QR>, sm, err);
        if (rc)
            return rc;
        flash_fwd_kernel<D, NW, MB, BC, MINB, QR><<<grid, NW * 32, sm, st>>>(y, lse, qkv, T, C, NH,
                                                                            sl2);
    }
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_flash_attn_supported(int hs) { return hs == 32 || hs == 64 || hs == 128; }

extern "C" int l720_flash_attn_fwd(uint16_t *y, float *lse, const uint16_t *qkv, int B, int T,
                                   int C, int NH, void *stream, l720_err *err)
{
    const void *ptrs[2] = {y, qkv};
    int rc = flash_shape_check(B, T, C, NH, ptrs, 2, err);
    if (rc)
        return rc;
    cudaStream_t st = (cudaStream_t)stream;
    switch (C / NH) {
    case 32:
        return fwd_launch<32, FLASH_FWD32>(y, lse, qkv, B, T, C, NH, st, err);
    case 64:
        return fwd_launch<64, FLASH_FWD64>(y, lse, qkv, B, T, C, NH, st, err);
    default:
        return fwd_launch<128, FLASH_FWD128>(y, lse, qkv, B, T, C, NH, st, err);
    }
}
