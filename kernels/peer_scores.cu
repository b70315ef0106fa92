/* peer_scores.cu: the sub-key scores and the top-k per half in one kernel,
 * the scores never leaving shared memory (the two-kernel path writes 2 h T n
 * fp32 scores and reads them back).
 *
 * Persistent blocks of 16 warps walk tiles of 16 tokens of one (head, half)
 * b (items b-major, one contiguous range a block). A block holds the n
 * sub-keys of its b in shared memory (reloaded when b changes), and per tile:
 *   1. the 16 query halves split into three bf16 parts (hi + mid + lo, as the
 *      split-query product: q - hi - mid - lo is below 2^-24 |q|), then the
 *      scores [16, n] on the matrix units: exact products of the parts with
 *      the bf16 keys, fp32 sums (each k-step: hi, mid, lo), into shared;
 *   2. one warp a token: the top-k of its row by value, then key, as the
 *      two-kernel path (warp_topk_fast), reading its row from shared.
 * The next tile's query is loaded into registers while step 2 runs. */
#include "flash_mma.cuh"
#include "peer_kernels.cuh"
#include "peer_topk.cuh"

#define PS_ROWS 16  /* tokens a tile (one 16-row block of the product) */
#define PS_WARPS 16 /* warps a block: one token each in step 2 */
#define PS_THREADS (32 * PS_WARPS)
#define PS_GROUPS 4 /* 16-key groups a warp in step 1: n <= 16 * PS_WARPS * PS_GROUPS */

/* Shared memory layout: scores [16][SR] fp32 (a row is also its warp's
 * top-k scratch), keys [NK][KS] and query parts [3][16][KS] bf16; KS = KP + 8
 * (an odd number of 16-byte units: row fragment loads without conflicts). */
struct ps_geom {
    int KP, KS, NK, SR;
    size_t bytes;
};

static __host__ __device__ ps_geom ps_geometry(int n, int dk2)
{
    ps_geom g;
    g.KP = (dk2 + 15) / 16 * 16;
    g.KS = g.KP + 8;
    g.NK = (n + 15) / 16 * 16;
    g.SR = g.NK + 8 > TOPK_SMEM ? g.NK + 8 : TOPK_SMEM;
    g.bytes = (size_t)PS_ROWS * g.SR * 4 + ((size_t)g.NK + 3 * PS_ROWS) * g.KS * 2;
    return g;
}

/* Query elements of tile item it held by this thread (16 KP of them over the block). */
template <int QPER>
static __device__ __forceinline__ void ps_load_q(float (&qv)[QPER], const float *qn, long it,
                                                 int tiles, int T, int nb, int dk2, int KP)
{
    const int b = (int)(it / tiles), t0 = (int)(it % tiles) * PS_ROWS;
#pragma unroll
    for (int e = 0; e < QPER; e++) {
        const int i = threadIdx.x + e * PS_THREADS, r = i / KP, c = i % KP, t = t0 + r;
        qv[e] = r < PS_ROWS && t < T && c < dk2 ? qn[((size_t)t * nb + b) * dk2 + c] : 0.0f;
    }
}

template <int QPER>
static __device__ __forceinline__ void ps_store_q(const float (&qv)[QPER], uint16_t *A, int KP,
                                                  int KS)
{
#pragma unroll
    for (int e = 0; e < QPER; e++) {
        const int i = threadIdx.x + e * PS_THREADS, r = i / KP, c = i % KP;
        if (r >= PS_ROWS)
            continue;
        const float v = qv[e];
        const uint16_t hi = f2bf(v);
        const float r1 = v - __uint_as_float((uint32_t)hi << 16);
        const uint16_t mid = f2bf(r1);
        const float r2 = r1 - __uint_as_float((uint32_t)mid << 16);
        A[r * KS + c] = hi;
        A[(PS_ROWS + r) * KS + c] = mid;
        A[(2 * PS_ROWS + r) * KS + c] = f2bf(r2);
    }
}

/* Step 1 for one warp: the scores of the 16 rows of A against the key groups
 * (16 keys each) g0 + STRIDE i, i < NG, into S [16][SR]; groups past NK are
 * computed on the last group (no branches between the products) and not stored. */
template <int KSTEPS, int NG, int STRIDE>
static __device__ __forceinline__ void ps_scores(const uint16_t *A, const uint16_t *K, float *S,
                                                 int KS, int NK, int SR, int g0, int lane)
{
    float acc[NG][2][4];
#pragma unroll
    for (int i = 0; i < NG; i++)
#pragma unroll
        for (int e = 0; e < 2; e++)
#pragma unroll
            for (int c = 0; c < 4; c++)
                acc[i][e][c] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KSTEPS; ks++) {
        uint32_t a[3][4];
#pragma unroll
        for (int p = 0; p < 3; p++)
            ld_a(a[p], A + p * PS_ROWS * KS, KS, 0, 16 * ks, lane);
#pragma unroll
        for (int i = 0; i < NG; i++) {
            uint32_t bb[4];
            ld_b_nk(bb, K, KS, min(16 * (g0 + STRIDE * i), NK - 16), 16 * ks, lane);
#pragma unroll
            for (int p = 0; p < 3; p++) {
                mma16816(acc[i][0], a[p], bb);
                mma16816(acc[i][1], a[p], bb + 2);
            }
        }
    }
    const int gr = lane >> 2, tq = lane & 3;
#pragma unroll
    for (int i = 0; i < NG; i++) {
        const int n0 = 16 * (g0 + STRIDE * i);
        if (n0 < NK)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int c = n0 + 8 * e + 2 * tq;
                *(float2 *)(S + gr * SR + c) = make_float2(acc[i][e][0], acc[i][e][1]);
                *(float2 *)(S + (gr + 8) * SR + c) = make_float2(acc[i][e][2], acc[i][e][3]);
            }
    }
}

/* A row of scores into registers (16-byte loads: lane l holds columns 128 i + 4 l .. + 3). */
static __device__ __forceinline__ void ps_load_row(float (&v)[32], const float *row, int n,
                                                   int lane)
{
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int c = i * 128 + lane * 4;
        float4 f = make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
        if (c < n)
            f = *(const float4 *)(row + c);
        v[4 * i] = f.x;
        v[4 * i + 1] = f.y;
        v[4 * i + 2] = f.z;
        v[4 * i + 3] = f.w;
    }
}

/* Step 2 for one warp: the top-k of a row held in v (layout of ps_load_row)
 * into val, idx [o .. o + k); scratch: TOPK_SMEM floats of shared memory. */
template <bool FULL>
static __device__ __forceinline__ void ps_select(const float (&v)[32], float *scratch, int n,
                                                 int k, int lane, float *val, int *idx, size_t o)
{
    float ov;
    int ok;
    if (FULL)
        warp_topk_fast<32>(v, topk_keys_vec_full{lane * 4}, k, scratch, &ov, &ok);
    else
        warp_topk_fast<32>(v, topk_keys_vec{lane * 4, n}, k, scratch, &ov, &ok);
    if (lane < k) {
        val[o + lane] = ov;
        idx[o + lane] = ok;
    }
}

/* The keys of b into K [NK][KS] (zeros past n and dk2); 16-byte loads where
 * the rows allow them. */
template <int KP>
static __device__ __forceinline__ void ps_load_keys(uint16_t *K, const uint16_t *keys, int b,
                                                    int n, int dk2, int NK, int KS)
{
    const uint16_t *kb = keys + (size_t)b * n * dk2;
    if (dk2 % 8 == 0 && ((uintptr_t)keys & 15) == 0) {
        constexpr int CH = KP / 8; /* 16-byte chunks a row */
#pragma unroll 4
        for (int i = threadIdx.x; i < NK * CH; i += PS_THREADS) {
            const int r = i / CH, c = 8 * (i % CH);
            uint4 u = make_uint4(0u, 0u, 0u, 0u);
            if (r < n && c < dk2)
                u = *(const uint4 *)(kb + (size_t)r * dk2 + c);
            *(uint4 *)(K + r * KS + c) = u;
        }
        return;
    }
    for (int i = threadIdx.x; i < NK * KP; i += PS_THREADS) {
        const int r = i / KP, c = i % KP;
        K[r * KS + c] = r < n && c < dk2 ? kb[(size_t)r * dk2 + c] : (uint16_t)0;
    }
}

template <int KSTEPS, bool FULL>
__global__ void __launch_bounds__(PS_THREADS, 1)
    k_scores_topk(const float *qn, const uint16_t *keys, int T, int nb, int n, int dk2, int k,
                  long items, float *val, int *idx)
{
    constexpr int KP = 16 * KSTEPS, QPER = (PS_ROWS * KP + PS_THREADS - 1) / PS_THREADS;
    extern __shared__ __align__(16) unsigned char ps_smem[];
    const ps_geom g = ps_geometry(n, dk2);
    const int KS = g.KS, NK = g.NK, SR = g.SR;
    float *S = (float *)ps_smem;                       /* [16][SR] */
    uint16_t *K = (uint16_t *)(S + PS_ROWS * SR);      /* [NK][KS] */
    uint16_t *A = K + (size_t)NK * KS;                 /* [3][16][KS] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int tiles = (T + PS_ROWS - 1) / PS_ROWS;
    const long beg = items * blockIdx.x / gridDim.x, end = items * (blockIdx.x + 1) / gridDim.x;
    float qv[QPER];
    if (beg < end)
        ps_load_q<QPER>(qv, qn, beg, tiles, T, nb, dk2, KP);
    int cur_b = -1;
    for (long it = beg; it < end; it++) {
        const int b = (int)(it / tiles), t0 = (int)(it % tiles) * PS_ROWS;
        if (b != cur_b) { /* the previous tile's readers passed the barrier at its end */
            ps_load_keys<KP>(K, keys, b, n, dk2, NK, KS);
            cur_b = b;
        }
        ps_store_q<QPER>(qv, A, KP, KS);
        __syncthreads();
        /* 1. scores: warp w, key groups w + 16 i */
        ps_scores<KSTEPS, PS_GROUPS, PS_WARPS>(A, K, S, KS, NK, SR, w, lane);
        __syncthreads();
        if (it + 1 < end) /* in flight during the selection */
            ps_load_q<QPER>(qv, qn, it + 1, tiles, T, nb, dk2, KP);
        /* 2. top-k of row w */
        const int t = t0 + w;
        if (t < T) {
            float *row = S + w * SR;
            float v[32];
            ps_load_row(v, row, n, lane);
            __syncwarp(); /* the row is now the warp's scratch */
            ps_select<FULL>(v, row, n, k, lane, val, idx, ((size_t)t * nb + b) * k);
        }
        __syncthreads();
    }
}

static int smem_optin(void)
{
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
        return 48 << 10;
    return v;
}

int peer_scores_fits(int n, int dk2)
{
    return n <= 16 * PS_WARPS * PS_GROUPS && dk2 <= 128 &&
           ps_geometry(n, dk2).bytes <= (size_t)smem_optin();
}

template <int KSTEPS, bool FULL>
static void launch(const float *qn, const uint16_t *keys, int T, int nb, int n, int dk2, int k,
                   float *val, int *idx, cudaStream_t s)
{
    const size_t bytes = ps_geometry(n, dk2).bytes;
    cudaFuncSetAttribute(k_scores_topk<KSTEPS, FULL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         (int)bytes);
    int dev = 0, sms = 1, per_sm = 1;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_scores_topk<KSTEPS, FULL>,
                                                  PS_THREADS, bytes);
    long grid = (long)sms * (per_sm > 0 ? per_sm : 1);
    const long items = (long)nb * ((T + PS_ROWS - 1) / PS_ROWS); /* tiles */
    if (grid > items)
        grid = items;
    k_scores_topk<KSTEPS, FULL><<<(unsigned)grid, PS_THREADS, bytes, s>>>(qn, keys, T, nb, n, dk2,
                                                                          k, items, val, idx);
}

template <bool FULL>
static void launch_for(const float *qn, const uint16_t *keys, int T, int nb, int n, int dk2, int k,
                       float *val, int *idx, cudaStream_t s)
{
#define L(KS) launch<KS, FULL>(qn, keys, T, nb, n, dk2, k, val, idx, s)
    switch ((dk2 + 15) / 16) {
    case 1: L(1); break;
    case 2: L(2); break;
    case 3: L(3); break;
    case 4: L(4); break;
    case 5: L(5); break;
    case 6: L(6); break;
    case 7: L(7); break;
    default: L(8); break;
    }
#undef L
}

void peer_scores_topk(const float *qn, const uint16_t *keys, int T, int nb, int n, int dk2, int k,
                      float *val, int *idx, cudaStream_t s)
{
    if (n == 1024) /* full rows: no empty slots */
        launch_for<true>(qn, keys, T, nb, n, dk2, k, val, idx, s);
    else
        launch_for<false>(qn, keys, T, nb, n, dk2, k, val, idx, s);
}
