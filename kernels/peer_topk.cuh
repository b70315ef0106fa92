/* peer_topk.cuh: warp-wide top-k of up to 32*MAXP candidates, each lane
 * holding MAXP (value, key) pairs. Order: larger value first, then smaller
 * key; keys are unique. Empty slots carry key INT_MAX. After the call, lane
 * r < k holds the r-th best in (*ov, *ok). */
#ifndef L720_PEER_TOPK_CUH
#define L720_PEER_TOPK_CUH

#include <limits.h>
#include <math.h>

/* Keys of the candidate slots: key(i) for slot i (unrolled loops: i constant).
 * topk_keys: an array; the others computed, so that they take no registers. */
template <int MAXP> struct topk_keys {
    int a[MAXP];
    __device__ int operator()(int i) const { return a[i]; }
};
/* slot i of lane l: column 128 (i / 4) + 4 l + i % 4 (16-byte loads) */
struct topk_keys_vec {
    int lane4, n;
    __device__ int operator()(int i) const
    {
        const int c = (i >> 2) * 128 + lane4 + (i & 3);
        return c < n ? c : INT_MAX;
    }
};
/* slot i of lane l: column 32 i + l */
struct topk_keys_strided {
    int lane, n;
    __device__ int operator()(int i) const
    {
        const int c = i * 32 + lane;
        return c < n ? c : INT_MAX;
    }
};

static __device__ inline int topk_beats(float va, int ka, float vb, int kb)
{
    return va > vb || (va == vb && ka < kb);
}

template <int MAXP, class KEY>
static __device__ inline void warp_topk(const float (&v)[MAXP], const KEY &key, int k,
                                        float *ov, int *ok)
{
    const int lane = threadIdx.x & 31;
    float lastv = INFINITY;
    int lastk = INT_MIN;
    float myv = -INFINITY;
    int myk = INT_MAX;
    for (int r = 0; r < k; r++) {
        float bv = -INFINITY;
        int bk = INT_MAX;
#pragma unroll
        for (int i = 0; i < MAXP; i++) {
            /* candidates strictly after the last one taken */
            int after = key(i) != INT_MAX && topk_beats(lastv, lastk, v[i], key(i));
            if (after && topk_beats(v[i], key(i), bv, bk)) {
                bv = v[i];
                bk = key(i);
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov2 = __shfl_xor_sync(0xffffffffu, bv, o);
            int ok2 = __shfl_xor_sync(0xffffffffu, bk, o);
            if (topk_beats(ov2, ok2, bv, bk)) {
                bv = ov2;
                bk = ok2;
            }
        }
        if (lane == r) {
            myv = bv;
            myk = bk;
        }
        lastv = bv;
        lastk = bk;
    }
    *ov = myv;
    *ok = myk;
}

/* The same result, faster: the k-th best of the 32 lane maxima bounds the
 * k-th best overall from below, so only the candidates that this threshold
 * does not beat (a few dozen on typical data) are ranked, each against all
 * the others. Falls back to warp_topk when the bound lets more than
 * TOPK_CAP through. smem: TOPK_SMEM floats per warp. */
#define TOPK_CAP 128
#define TOPK_SMEM (2 * TOPK_CAP + 64)

template <int MAXP, class KEY>
static __device__ inline void warp_topk_fast(const float (&v)[MAXP], const KEY &key, int k,
                                             float *smem, float *ov, int *ok)
{
    const int lane = threadIdx.x & 31;
    float *cv = smem, *rv = smem + 2 * TOPK_CAP;
    int *ck = (int *)(smem + TOPK_CAP), *rk = (int *)(smem + 2 * TOPK_CAP + 32);
    float mv = -INFINITY;
    int mk = INT_MAX;
#pragma unroll
    for (int i = 0; i < MAXP; i++)
        if (key(i) != INT_MAX && topk_beats(v[i], key(i), mv, mk)) {
            mv = v[i];
            mk = key(i);
        }
    int rank = 0;
    for (int o = 0; o < 32; o++) {
        float v2 = __shfl_sync(0xffffffffu, mv, o);
        int k2 = __shfl_sync(0xffffffffu, mk, o);
        rank += topk_beats(v2, k2, mv, mk);
    }
    const unsigned bl = __ballot_sync(0xffffffffu, rank == k - 1 && mk != INT_MAX);
    if (!bl) {
        warp_topk<MAXP, KEY>(v, key, k, ov, ok);
        return;
    }
    const int src = __ffs(bl) - 1;
    const float tv = __shfl_sync(0xffffffffu, mv, src);
    const int tk = __shfl_sync(0xffffffffu, mk, src);
    int cnt = 0;
#pragma unroll
    for (int i = 0; i < MAXP; i++)
        cnt += key(i) != INT_MAX && !topk_beats(tv, tk, v[i], key(i));
    int incl = cnt;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        int y = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o)
            incl += y;
    }
    const int total = __shfl_sync(0xffffffffu, incl, 31);
    if (total > TOPK_CAP) {
        warp_topk<MAXP, KEY>(v, key, k, ov, ok);
        return;
    }
    int pos = incl - cnt;
#pragma unroll
    for (int i = 0; i < MAXP; i++)
        if (key(i) != INT_MAX && !topk_beats(tv, tk, v[i], key(i))) {
            cv[pos] = v[i];
            ck[pos] = key(i);
            pos++;
        }
    __syncwarp();
    for (int c = lane; c < total; c += 32) {
        const float a = cv[c];
        const int b = ck[c];
        int r = 0;
        for (int j = 0; j < total; j++)
            r += topk_beats(cv[j], ck[j], a, b);
        if (r < k) {
            rv[r] = a;
            rk[r] = b;
        }
    }
    __syncwarp();
    *ov = lane < k ? rv[lane] : -INFINITY;
    *ok = lane < k ? rk[lane] : INT_MAX;
    __syncwarp();
}

#endif
