/* flash_mma.cuh: warp-level building blocks of the fused attention kernels
 * (flash_attn*.cu): bf16 tensor-core products m16n8k16 with fp32
 * accumulation, fragment loads from shared memory (ldmatrix), asynchronous
 * global -> shared tile copies, the tile copier, and the shape check shared
 * by the entry points.
 *
 * Fragment layouts (lane = 4 g + t, g = lane / 4, t = lane % 4):
 *   A 16 x 16 (row-major, 4 regs of 2 bf16): a0 (g, 2t..2t+1), a1 (g+8, 2t..),
 *     a2 (g, 2t+8..), a3 (g+8, 2t+8..)
 *   B 16 x 8 (2 regs): b0 (k 2t..2t+1, n g), b1 (k 2t+8.., n g)
 *   C 16 x 8 fp32 (4 regs): c0, c1 (g, 2t..2t+1), c2, c3 (g+8, 2t..2t+1)
 * The low half of a bf16 pair register holds the element of lower index. */
#ifndef L720_FLASH_MMA_CUH
#define L720_FLASH_MMA_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/gpu_util.cuh"

#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

static __device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* acc[4] += a[4] (16 x 16) * b[2] (16 x 8). */
static __device__ __forceinline__ void mma16816(float *acc, const uint32_t *a, const uint32_t *b)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

static __device__ __forceinline__ void ldsm_x4(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

static __device__ __forceinline__ void ldsm_x4_t(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* A fragment of rows r0..r0+15, columns k0..k0+15 of a row-major [rows][ld]
 * bf16 tile in shared memory. */
static __device__ __forceinline__ void ld_a(uint32_t *a, const uint16_t *s, int ld, int r0, int k0,
                                            int lane)
{
    ldsm_x4(a, smem_u32(s + (r0 + (lane & 15)) * ld + k0 + (lane >> 4) * 8));
}

/* B fragments of two n-blocks (n0, n0+8) at k-step k0, from a tile stored
 * [n][k] (B transposed, e.g. keys x head dims for Q K^T): b[0..1] for n0,
 * b[2..3] for n0+8. */
static __device__ __forceinline__ void ld_b_nk(uint32_t *b, const uint16_t *s, int ld, int n0,
                                               int k0, int lane)
{
    ldsm_x4(b, smem_u32(s + (n0 + (lane & 7) + ((lane >> 4) << 3)) * ld + k0 +
                        ((lane >> 3) & 1) * 8));
}

/* The same from a tile stored [k][n] (e.g. keys x head dims for P V). */
static __device__ __forceinline__ void ld_b_kn(uint32_t *b, const uint16_t *s, int ld, int k0,
                                               int n0, int lane)
{
    ldsm_x4_t(b, smem_u32(s + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * ld + n0 +
                          (lane >> 4) * 8));
}

/* 2^x: the hardware approximation (relative error about 2^-22, -inf -> 0),
 * or exp2f in a build with FLASH_EXACT_EXP2. */
static __device__ __forceinline__ float fast_exp2(float x)
{
#ifdef FLASH_EXACT_EXP2
    return exp2f(x);
#else
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
#endif
}

static __device__ __forceinline__ uint32_t pack_bf2(float lo, float hi)
{
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

/* The accumulators of n-blocks 2kk and 2kk+1 (16 x 16 fp32) as the bf16 A
 * fragment of k-step kk of the next product. */
static __device__ __forceinline__ void acc_to_a(uint32_t *a, const float *c0, const float *c1)
{
    a[0] = pack_bf2(c0[0], c0[1]);
    a[1] = pack_bf2(c0[2], c0[3]);
    a[2] = pack_bf2(c1[0], c1[1]);
    a[3] = pack_bf2(c1[2], c1[3]);
}

/* acc[MB][NB][4] (16 MB x 8 NB) += A (16 MB x K, from shared [rows][lda]
 * at row r0) * B (K x 8 NB). BNK: B stored [n][k] (else [k][n]). Each B
 * fragment loaded serves the MB row blocks. */
template <int MB, int K, int NB, bool BNK>
static __device__ __forceinline__ void warp_mm_ss(float (*acc)[NB][4], const uint16_t *sa,
                                                  int lda, int r0, const uint16_t *sb, int ldb,
                                                  int lane)
{
#pragma unroll
    for (int k = 0; k < K; k += 16) {
        uint32_t a[MB][4];
#pragma unroll
        for (int mb = 0; mb < MB; mb++)
            ld_a(a[mb], sa, lda, r0 + 16 * mb, k, lane);
#pragma unroll
        for (int nb = 0; nb < NB; nb += 2) {
            uint32_t b[4];
            if (BNK)
                ld_b_nk(b, sb, ldb, nb * 8, k, lane);
            else
                ld_b_kn(b, sb, ldb, k, nb * 8, lane);
#pragma unroll
            for (int mb = 0; mb < MB; mb++) {
                mma16816(acc[mb][nb], a[mb], b);
                mma16816(acc[mb][nb + 1], a[mb], b + 2);
            }
        }
    }
}

/* acc[MB][NB][4] += P (16 MB x K, the fp32 accumulators pacc[MB][K/8][4]
 * rounded to bf16) * B (K x 8 NB, stored [k][n] in shared). */
template <int MB, int K, int NB>
static __device__ __forceinline__ void warp_mm_rs(float (*acc)[NB][4], float (*pacc)[K / 8][4],
                                                  const uint16_t *sb, int ldb, int lane)
{
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++) {
        uint32_t a[MB][4];
#pragma unroll
        for (int mb = 0; mb < MB; mb++)
            acc_to_a(a[mb], pacc[mb][2 * kk], pacc[mb][2 * kk + 1]);
#pragma unroll
        for (int nb = 0; nb < NB; nb += 2) {
            uint32_t b[4];
            ld_b_kn(b, sb, ldb, kk * 16, nb * 8, lane);
#pragma unroll
            for (int mb = 0; mb < MB; mb++) {
                mma16816(acc[mb][nb], a[mb], b);
                mma16816(acc[mb][nb + 1], a[mb], b + 2);
            }
        }
    }
}

/* The A fragments of rows r0..r0+16 MB-1, all K columns, of a row-major
 * [rows][lda] bf16 tile in shared: a[mb][k / 16] (kept in registers by a
 * warp whose rows stay the same over the tile walk). */
template <int MB, int K>
static __device__ __forceinline__ void ld_a_rows(uint32_t (*a)[K / 16][4], const uint16_t *sa,
                                                 int lda, int r0, int lane)
{
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int k = 0; k < K / 16; k++)
            ld_a(a[mb][k], sa, lda, r0 + 16 * mb, 16 * k, lane);
}

/* acc[MB][NB][4] += A (16 MB x K, fragments a[MB][K / 16][4] in registers)
 * * B (K x 8 NB, in shared, stored [n][k] if BNK, else [k][n]). */
template <int MB, int K, int NB, bool BNK = true>
static __device__ __forceinline__ void warp_mm_as(float (*acc)[NB][4], const uint32_t (*a)[K / 16][4],
                                                  const uint16_t *sb, int ldb, int lane)
{
#pragma unroll
    for (int k = 0; k < K / 16; k++)
#pragma unroll
        for (int nb = 0; nb < NB; nb += 2) {
            uint32_t b[4];
            if (BNK)
                ld_b_nk(b, sb, ldb, nb * 8, 16 * k, lane);
            else
                ld_b_kn(b, sb, ldb, 16 * k, nb * 8, lane);
#pragma unroll
            for (int mb = 0; mb < MB; mb++) {
                mma16816(acc[mb][nb], a[mb][k], b);
                mma16816(acc[mb][nb + 1], a[mb][k], b + 2);
            }
        }
}

/* Zeroes acc[MB][NB][4]. */
template <int MB, int NB> static __device__ __forceinline__ void zero_acc(float (*acc)[NB][4])
{
#pragma unroll
    for (int mb = 0; mb < MB; mb++)
#pragma unroll
        for (int nb = 0; nb < NB; nb++)
            acc[mb][nb][0] = acc[mb][nb][1] = acc[mb][nb][2] = acc[mb][nb][3] = 0.0f;
}

/* 16-byte asynchronous copy; src_bytes 0 fills the destination with zeros. */
static __device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)),
                 "l"(src), "r"(src_bytes));
}
/* 4-byte asynchronous copy (a float); src_bytes 0 writes a zero. */
static __device__ __forceinline__ void cp_async4(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                 "r"(src_bytes));
}
static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N> static __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Copies rows r0..r0+ROWS-1 (zeros beyond T) of D bf16 columns at src
 * (row stride lds elements) into shared [ROWS][D + 8], by NT threads. */
template <int ROWS, int D, int NT>
static __device__ __forceinline__ void tile_load(uint16_t *dst, const uint16_t *src, long lds,
                                                 int r0, int T, int tid)
{
    constexpr int CH = D / 8; /* 16-byte chunks per row */
#pragma unroll
    for (int i = tid; i < ROWS * CH; i += NT) {
        int r = i / CH, c = i % CH, row = r0 + r;
        bool in = row < T;
        const uint16_t *g = src + (long)(in ? row : 0) * lds + c * 8;
        cp_async16(dst + r * (D + 8) + c * 8, g, in ? 16 : 0);
    }
}

/* The pipelined walk over key tiles of BC keys (forward, dq): K and V tiles
 * double-buffered in sK, sV [2][BC][D + 8]; kg, vg the first key's k and v
 * (row stride ld). Before tile j is used: starts the copy of tile j + 1 (if
 * j + 1 < nk) into the other buffer, waits for tile j, block barrier. Tile 0
 * is started by the caller (tile_load of both, cp_async_commit). */
template <int BC, int D, int NT>
static __device__ __forceinline__ void kv_tile_wait(uint16_t *sK, uint16_t *sV, const uint16_t *kg,
                                                    const uint16_t *vg, long ld, int j, int nk,
                                                    int T, int tid)
{
    if (j + 1 < nk) {
        const int nx = ((j + 1) & 1) * BC * (D + 8);
        tile_load<BC, D, NT>(sK + nx, kg, ld, (j + 1) * BC, T, tid);
        tile_load<BC, D, NT>(sV + nx, vg, ld, (j + 1) * BC, T, tid);
        cp_async_commit();
        cp_async_wait<1>();
    } else {
        cp_async_wait<0>();
    }
    __syncthreads();
}

/* Lets kernel k use sm bytes of dynamic shared memory, with the largest
 * shared-memory carve-out (more resident blocks per SM). */
template <typename K> static inline int flash_prepare(K *k, size_t sm, l720_err *err)
{
    GPU_CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
    GPU_CK(cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout,
                                (int)cudaSharedmemCarveoutMaxShared));
    return L720_OK;
}

/* L720_EINPUT unless hs = C / NH is built (32, 64, 128) and the shape and
 * the 16-byte alignment of the bf16 pointers p[0..np-1] fit. */
static inline int flash_shape_check(int B, int T, int C, int NH, const void *const *p, int np,
                                    l720_err *err)
{
    if (B < 1 || T < 1 || NH < 1 || C % NH || (long)B * NH > 65535 || (T + 15) / 16 > 65535)
        return l720_err_set(err, L720_EINPUT,
                            "flash attention: bad shape B %d T %d C %d NH %d", B, T, C, NH);
    int hs = C / NH;
    if (hs != 32 && hs != 64 && hs != 128)
        return l720_err_set(err, L720_EINPUT,
                            "flash attention: head size %d not built (32, 64, 128)", hs);
    for (int i = 0; i < np; i++)
        if ((uintptr_t)p[i] % 16)
            return l720_err_set(err, L720_EINPUT, "flash attention: buffer %d not 16-byte aligned",
                                i);
    return L720_OK;
}

#endif
