/* peer_topk.cuh: warp-wide top-k of up to 32*MAXP candidates, each lane
 * holding MAXP (value, key) pairs. Order: larger value first, then smaller
 * key; keys are unique. Empty slots carry key INT_MAX. After the call, lane
 * r < k holds the r-th best in (*ov, *ok). */
#ifndef L720_PEER_TOPK_CUH
#define L720_PEER_TOPK_CUH

#include <limits.h>
#include <math.h>

static __device__ inline int topk_beats(float va, int ka, float vb, int kb)
{
    return va > vb || (va == vb && ka < kb);
}

template <int MAXP>
static __device__ inline void warp_topk(const float (&v)[MAXP], const int (&key)[MAXP], int k,
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
            int after = key[i] != INT_MAX && topk_beats(lastv, lastk, v[i], key[i]);
            if (after && topk_beats(v[i], key[i], bv, bk)) {
                bv = v[i];
                bk = key[i];
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

#endif
