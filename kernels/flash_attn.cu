/* flash_attn.cu: the fused causal attention forward (flash_attn.h).
 *
 * One block of NW warps owns BR = 16 NW queries of one (sequence, head); each
 * warp owns 16 of them. The block walks the key tiles of BC keys up to its
 * last query (tiles past the diagonal are never loaded), double-buffering K
 * and V in shared memory with asynchronous copies. Per tile a warp computes
 * S = Q K^T (16 x BC, tensor cores, fp32), masks the causal part on the
 * diagonal tiles, updates the running row maximum and sum (log2 domain, the
 * scale folded into one multiply), rescales its output accumulators and adds
 * P V with P rounded to bf16 in registers. Warps whose rows all lie before a
 * tile skip it. Blocks with the most tiles start first. */
#include <math.h>

#include "kernels/flash_attn.h"
#include "kernels/flash_mma.cuh"
#include "kernels/gpu_util.cuh"

template <int D, int NW, int BC> static size_t fwd_smem()
{
    return (size_t)(16 * NW + 4 * BC) * (D + 8) * sizeof(uint16_t);
}

template <int D, int NW, int BC>
__global__ void __launch_bounds__(NW * 32)
    flash_fwd_kernel(uint16_t *y, float *lse, const uint16_t *qkv, int T, int C, int NH, float sl2)
{
    constexpr int BR = 16 * NW, NT = 32 * NW, LD = D + 8, NB = BC / 8, DB = D / 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem, *sK = sQ + BR * LD, *sV = sK + 2 * BC * LD; /* [BR][LD], [2][BC][LD] x2 */
    const int qt = (int)gridDim.x - 1 - (int)blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
    const long ld = 3L * C;
    const uint16_t *base = qkv + (long)b * T * ld + (long)h * D;
    const int q0 = qt * BR, wq0 = q0 + warp * 16;
    const int nk = (min(q0 + BR, T) - 1) / BC + 1;

    tile_load<BR, D, NT>(sQ, base, ld, q0, T, tid);
    tile_load<BC, D, NT>(sK, base + C, ld, 0, T, tid);
    tile_load<BC, D, NT>(sV, base + 2 * C, ld, 0, T, tid);
    cp_async_commit();

    float o[DB][4];
#pragma unroll
    for (int i = 0; i < DB; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; /* rows g, g+8: max, partial sum */
    const int row[2] = {wq0 + g, wq0 + g + 8};

    for (int j = 0; j < nk; j++) {
        const int cur = j & 1, k0 = j * BC;
        if (j + 1 < nk) {
            tile_load<BC, D, NT>(sK + (cur ^ 1) * BC * LD, base + C, ld, k0 + BC, T, tid);
            tile_load<BC, D, NT>(sV + (cur ^ 1) * BC * LD, base + 2 * C, ld, k0 + BC, T, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (k0 <= wq0 + 15) {
            const uint16_t *kb = sK + cur * BC * LD, *vb = sV + cur * BC * LD;
            float s[NB][4];
#pragma unroll
            for (int i = 0; i < NB; i++)
                s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
            warp_mm_ss<D, NB, true>(s, sQ, LD, warp * 16, kb, LD, lane);
            const bool diag = k0 + BC - 1 > wq0;
            float mx[2] = {m[0], m[1]};
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float v = s[nb][e] * sl2;
                    if (diag && k0 + nb * 8 + 2 * t4 + (e & 1) > row[e >> 1])
                        v = -INFINITY;
                    s[nb][e] = v;
                    mx[e >> 1] = fmaxf(mx[e >> 1], v);
                }
            float alpha[2], mref[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                mref[r] = mx[r] == -INFINITY ? 0.0f : mx[r];
                alpha[r] = exp2f(m[r] - mref[r]); /* 0 while m is -inf */
                m[r] = mx[r];
                l[r] *= alpha[r];
            }
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float p = exp2f(s[nb][e] - mref[e >> 1]);
                    s[nb][e] = p;
                    l[e >> 1] += p;
                }
#pragma unroll
            for (int i = 0; i < DB; i++) {
                o[i][0] *= alpha[0];
                o[i][1] *= alpha[0];
                o[i][2] *= alpha[1];
                o[i][3] *= alpha[1];
            }
            warp_mm_rs<BC, DB>(o, s, vb, LD, lane);
        }
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
    const float inv[2] = {1.0f / l[0], 1.0f / l[1]};
#pragma unroll
    for (int r = 0; r < 2; r++) {
        if (row[r] >= T)
            continue;
        uint16_t *yr = y + ((long)b * T + row[r]) * C + (long)h * D + 2 * t4;
#pragma unroll
        for (int i = 0; i < DB; i++)
            *(uint32_t *)(yr + i * 8) = pack_bf2(o[i][2 * r] * inv[r], o[i][2 * r + 1] * inv[r]);
        if (t4 == 0)
            lse[(long)bh * T + row[r]] = (m[r] + log2f(l[r])) * LN2;
    }
}

template <int D, int NW, int BC>
static int fwd_launch(uint16_t *y, float *lse, const uint16_t *qkv, int B, int T, int C, int NH,
                      cudaStream_t st, l720_err *err)
{
    size_t sm = fwd_smem<D, NW, BC>();
    GPU_CK(cudaFuncSetAttribute(flash_fwd_kernel<D, NW, BC>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
    dim3 grid((T + 16 * NW - 1) / (16 * NW), B * NH);
    float sl2 = LOG2E / sqrtf((float)D);
    flash_fwd_kernel<D, NW, BC><<<grid, NW * 32, sm, st>>>(y, lse, qkv, T, C, NH, sl2);
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
        return fwd_launch<32, 4, 64>(y, lse, qkv, B, T, C, NH, st, err);
    case 64:
        return fwd_launch<64, 4, 64>(y, lse, qkv, B, T, C, NH, st, err);
    default:
        return fwd_launch<128, 4, 64>(y, lse, qkv, B, T, C, NH, st, err);
    }
}
