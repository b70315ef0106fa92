/* gpu_util.cuh: small device helpers shared by the kernels: bf16 packing,
 * warp reductions, error checks that fill an l720_err. */
#ifndef L720_GPU_UTIL_CUH
#define L720_GPU_UTIL_CUH

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "err.h"
}

/* Returns from the calling function with an l720_err on a CUDA failure. */
#define GPU_CK(call)                                                                               \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return l720_err_set(err, L720_EFAIL, "%s:%d: %s", __FILE__, __LINE__,                  \
                                cudaGetErrorString(e_));                                           \
    } while (0)
/* After a launch: the launch error, if any. */
#define GPU_LAUNCHED() GPU_CK(cudaGetLastError())

static __device__ inline float bf16_lo(uint32_t w) { return __uint_as_float(w << 16); }
static __device__ inline float bf16_hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

/* Round to nearest even (finite inputs; NaN stays NaN). */
static __device__ inline uint16_t f2bf(float f)
{
    uint32_t b = __float_as_uint(f);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu))
        return (uint16_t)((b >> 16) | 0x40);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

/* One AdamW update of element i (trainer/optim.h): the moments, the fp32
 * master and its bf16 copy. gc: the scaled gradient; decay = lr * weight
 * decay; c1, c2: the bias corrections 1 - beta^t. */
static __device__ inline void adamw_val(float &pi, float &mi, float &vi, float gc, float lr,
                                        float b1, float b2, float eps, float decay, float c1,
                                        float c2)
{
    mi = b1 * mi + (1.0f - b1) * gc;
    vi = b2 * vi + (1.0f - b2) * gc * gc;
    float mhat = mi / c1, vhat = vi / c2;
    pi -= decay * pi + lr * mhat / (sqrtf(vhat) + eps);
}

static __device__ inline void adamw_elem(float *p, uint16_t *pbf, float *m, float *v, size_t i,
                                         float gc, float lr, float b1, float b2, float eps,
                                         float decay, float c1, float c2)
{
    float pi = p[i], mi = m[i], vi = v[i];
    adamw_val(pi, mi, vi, gc, lr, b1, b2, eps, decay, c1, c2);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
    pbf[i] = f2bf(pi);
}

/* 8 bf16 in a 16-byte word to floats. */
static __device__ inline void unpack8(uint4 w, float f[8])
{
    f[0] = bf16_lo(w.x); f[1] = bf16_hi(w.x);
    f[2] = bf16_lo(w.y); f[3] = bf16_hi(w.y);
    f[4] = bf16_lo(w.z); f[5] = bf16_hi(w.z);
    f[6] = bf16_lo(w.w); f[7] = bf16_hi(w.w);
}

/* Two floats to bf16 by one conversion instruction, lo in the low half:
 * round to nearest even as f2bf for every non-NaN value (a NaN stays NaN,
 * with another payload). */
static __device__ inline uint32_t pack2(float lo, float hi)
{
    uint32_t w;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo));
    return w;
}

static __device__ inline uint4 pack8(const float f[8])
{
    uint4 w;
    w.x = pack2(f[0], f[1]);
    w.y = pack2(f[2], f[3]);
    w.z = pack2(f[4], f[5]);
    w.w = pack2(f[6], f[7]);
    return w;
}

/* Loads that skip L1 allocation for data read once (weights streamed from HBM). */
static __device__ inline uint4 ld_stream(const uint4 *p) { return __ldcs(p); }

static __device__ inline float warp_sum(float s)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, o);
    return s;
}

/* SwiGLU of one element: silu(z) * u, and the gradients of z and u for an
 * output gradient da (the dense and the MoE layers). */
static __device__ inline float swiglu_act(float z, float u)
{
    float sg = 1.0f / (1.0f + expf(-z));
    return z * sg * u;
}

static __device__ inline void swiglu_grad(float z, float u, float da, float *dz, float *du)
{
    float sg = 1.0f / (1.0f + expf(-z));
    *du = da * z * sg;
    *dz = da * u * sg * (1.0f + z * (1.0f - sg));
}

/* Exact gelu and its derivative. */
static __host__ __device__ inline float gelu_f(float a) { return 0.5f * a * (1.0f + erff(a * 0.70710678118654752f)); }
static __host__ __device__ inline float gelu_grad_f(float a)
{
    return 0.5f * (1.0f + erff(a * 0.70710678118654752f)) +
           a * 0.39894228040143268f * expf(-0.5f * a * a);
}

#endif
