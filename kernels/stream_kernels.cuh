/* stream_kernels.cuh: the device side of the expert-streaming benchmark.
 *
 *   spin_kernel    per-layer compute of known length (busy-waits on the global timer)
 *   gather_kernel  zero-copy gather: rows of mapped pinned host memory -> cache slots in HBM
 *   chase_kernel   dependent loads through mapped host memory (zero-copy latency)
 *   empty_kernel   launch overhead
 */
#ifndef L720_STREAM_KERNELS_CUH
#define L720_STREAM_KERNELS_CUH

#include <stdint.h>

static __device__ __forceinline__ uint64_t global_ns(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* One warp waits ns nanoseconds of wall time, whatever the clocks do. */
__global__ void spin_kernel(uint64_t ns)
{
    uint64_t t0 = global_ns();
    while (global_ns() - t0 < ns) {
    }
}

__global__ void empty_kernel(void) {}

/* Copies n rows of row_words 16-byte words: row list[j].x of src -> row
 * list[j].y of dst. src is mapped pinned host memory [*, row_words], dst the
 * cache [slots, row_words]. Grid-stride, UNROLL loads in flight per thread. */
#define GATHER_UNROLL 4
__global__ void gather_kernel(const uint4 *__restrict__ src, uint4 *__restrict__ dst,
                              const int2 *__restrict__ list, int64_t n, int64_t row_words)
{
    int64_t total = n * row_words;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t base = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; base < total;
         base += stride * GATHER_UNROLL) {
        uint4 v[GATHER_UNROLL];
        int64_t to[GATHER_UNROLL];
#pragma unroll
        for (int u = 0; u < GATHER_UNROLL; u++) {
            int64_t w = base + u * stride;
            to[u] = -1;
            if (w < total) {
                int64_t j = w / row_words, o = w - j * row_words;
                int2 p = list[j];
                v[u] = src[(int64_t)p.x * row_words + o];
                to[u] = (int64_t)p.y * row_words + o;
            }
        }
#pragma unroll
        for (int u = 0; u < GATHER_UNROLL; u++)
            if (to[u] >= 0)
                dst[to[u]] = v[u];
    }
}

/* One thread follows next[] for hops steps through host memory. */
__global__ void chase_kernel(const uint64_t *next, int64_t hops, uint64_t start, uint64_t *out)
{
    uint64_t i = start;
    for (int64_t h = 0; h < hops; h++)
        i = next[i];
    *out = i;
}

#endif
