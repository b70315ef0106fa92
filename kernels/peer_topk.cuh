/* peer_topk.cuh: warp-wide top-k of up to 32*MAXP candidates, each lane
 * holding MAXP (value, key) pairs. Order: larger value first, then smaller
 * key; keys are unique. Empty slots carry key INT_MAX. After the call, lane
 * r < k holds the r-th best in (*ov, *ok). */
#ifndef L720_PEER_TOPK_CUH
#define L720_PEER_TOPK_CUH

#include <limits.h>
#include <math.h>

/* Keys of the candidate slots: key(i) for slot i (unrolled loops: i constant).
 * topk_keys: an array; the others computed, so that they take no registers.
 * all_valid: no slot is empty (no INT_MAX checks). */
template <int MAXP> struct topk_keys {
    static constexpr bool all_valid = false;
    int a[MAXP];
    __device__ int operator()(int i) const { return a[i]; }
};
/* slot i of lane l: column 128 (i / 4) + 4 l + i % 4 (16-byte loads) */
struct topk_keys_vec {
    static constexpr bool all_valid = false;
    int lane4, n;
    __device__ int operator()(int i) const
    {
        const int c = (i >> 2) * 128 + lane4 + (i & 3);
        return c < n ? c : INT_MAX;
    }
};
/* the same for full rows (n = 1024) */
struct topk_keys_vec_full {
    static constexpr bool all_valid = true;
    int lane4;
    __device__ int operator()(int i) const { return (i >> 2) * 128 + lane4 + (i & 3); }
};
/* slot i of lane l: column 32 i + l */
struct topk_keys_strided {
    static constexpr bool all_valid = false;
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
            int after = (KEY::all_valid || key(i) != INT_MAX) &&
                        topk_beats(lastv, lastk, v[i], key(i));
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

/* The same result, faster. The k-th largest of the 32 lane maxima (found by a
 * bitonic sort of the maxima across the lanes) is a value t with at least k
 * values >= t, so the k best (by value, then key) are among the values >= t:
 * only those candidates (a few dozen on typical data) are ranked, each
 * against all the others, by value and key. Falls back to warp_topk when
 * more than TOPK_CAP pass. smem: TOPK_SMEM floats per warp, 8-byte aligned. */
#define TOPK_CAP 128
#define TOPK_SMEM (2 * TOPK_CAP + 64)

template <int MAXP, class KEY>
static __device__ inline void warp_topk_fast(const float (&v)[MAXP], const KEY &key, int k,
                                             float *smem, float *ov, int *ok)
{
    const int lane = threadIdx.x & 31;
    float2 *cand = (float2 *)smem, *res = cand + TOPK_CAP; /* (value, key bits) */
    float mv = -INFINITY;
#pragma unroll
    for (int i = 0; i < MAXP; i++)
        if (KEY::all_valid || key(i) != INT_MAX)
            mv = fmaxf(mv, v[i]);
    /* the lane maxima sorted in descending order over the lanes */
#pragma unroll
    for (int size = 2; size <= 32; size <<= 1)
#pragma unroll
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            const float o = __shfl_xor_sync(0xffffffffu, mv, stride);
            const bool desc = (lane & size) == 0, lower = (lane & stride) == 0;
            mv = lower == desc ? fmaxf(mv, o) : fminf(mv, o);
        }
    const float tv = __shfl_sync(0xffffffffu, mv, k - 1);
    int cnt = 0;
#pragma unroll
    for (int i = 0; i < MAXP; i++)
        cnt += (KEY::all_valid || key(i) != INT_MAX) && v[i] >= tv;
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
        if ((KEY::all_valid || key(i) != INT_MAX) && v[i] >= tv)
            cand[pos++] = make_float2(v[i], __int_as_float(key(i)));
    __syncwarp();
    for (int c = lane; c < total; c += 32) {
        const float2 a = cand[c];
        const int ak = __float_as_int(a.y);
        int r = 0;
        for (int j = 0; j < total; j++) {
            const float2 b = cand[j];
            r += topk_beats(b.x, __float_as_int(b.y), a.x, ak);
        }
        if (r < k)
            res[r] = a;
    }
    __syncwarp();
    const float2 me = lane < k ? res[lane] : make_float2(-INFINITY, __int_as_float(INT_MAX));
    *ov = me.x;
    *ok = __float_as_int(me.y);
    __syncwarp();
}

#endif
