/* dense_kernels.cu: the pointwise and row kernels of the dense model (see
 * dense_gpu.h). One thread, warp or block per output element or row, fixed
 * summation orders, no atomics. */
#include <math.h>

#include "kernels/dense_gpu.h"
#include "kernels/gpu_util.cuh"

#define RMS_ROWS 32 /* rows per block in the RMSNorm backward */

static __device__ inline float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

/* ---- RMSNorm ----
 * Rows of C floats with C % 4 == 0 and C <= 32 * 4 * RMS_VEC_MAX take the
 * vector kernels: one warp per row, each lane holding its float4 columns
 * (c4 = lane + 32 k) in registers, so a row is read once. Other widths take
 * the scalar kernels. */
#define RMS_VEC_MAX 8

static int rms_vec(int C) { return C % 4 == 0 && C <= 128 * RMS_VEC_MAX; }

static __device__ inline uint2 pack4(float4 v)
{
    uint2 w;
    w.x = pack2(v.x, v.y);
    w.y = pack2(v.z, v.w);
    return w;
}

template <int VEC>
__global__ void k_rms_fwd_v(uint16_t *out, float *rstd, const float *inp, const float *w, int N,
                            int C)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), l = threadIdx.x & 31;
    if (row >= N)
        return;
    int C4 = C >> 2;
    const float4 *x = (const float4 *)(inp + (size_t)row * C); /* [C/4] */
    float4 xv[VEC];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < VEC; k++) {
        int c4 = l + 32 * k;
        xv[k] = c4 < C4 ? x[c4] : make_float4(0.f, 0.f, 0.f, 0.f);
        s += xv[k].x * xv[k].x + xv[k].y * xv[k].y + xv[k].z * xv[k].z + xv[k].w * xv[k].w;
    }
    s = warp_sum(s);
    float r = rsqrtf(s / (float)C + 1e-5f);
    uint2 *o = (uint2 *)(out + (size_t)row * C);
#pragma unroll
    for (int k = 0; k < VEC; k++) {
        int c4 = l + 32 * k;
        if (c4 < C4) {
            float4 wv = ((const float4 *)w)[c4], y;
            y.x = xv[k].x * r * wv.x;
            y.y = xv[k].y * r * wv.y;
            y.z = xv[k].z * r * wv.z;
            y.w = xv[k].w * r * wv.w;
            o[c4] = pack4(y);
        }
    }
    if (l == 0)
        rstd[row] = r;
}

__global__ void k_rms_fwd(uint16_t *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), l = threadIdx.x & 31;
    if (row >= N)
        return;
    const float *x = inp + (size_t)row * C; /* [C] */
    float s = 0.0f;
    for (int c = l; c < C; c += 32)
        s += x[c] * x[c];
    s = warp_sum(s);
    float r = rsqrtf(s / (float)C + 1e-5f);
    for (int c = l; c < C; c += 32)
        out[(size_t)row * C + c] = f2bf(x[c] * r * w[c]);
    if (l == 0)
        rstd[row] = r;
}

/* Vector backward: each warp takes rows r0 + warp, r0 + warp + 8, ... of
 * the block's RMS_ROWS; dinp += the input gradient (and its bf16 copy), the
 * lane's dw column sums in registers, then the 8 warps' sums added in warp
 * order through shared memory into part[block, C]. */
template <int VEC>
__global__ void __launch_bounds__(256, VEC <= 6 ? 2 : 1) /* 2 blocks an SM up to C 768 */
k_rms_bwd_v(float *dinp, uint16_t *dinp_bf, float *part, const float *dout, const float *inp,
            const float *w, const float *rstd, int N, int C)
{
    extern __shared__ float sh_dw[]; /* [8, C] */
    int r0 = blockIdx.x * RMS_ROWS, r1 = min(r0 + RMS_ROWS, N);
    int wid = threadIdx.x >> 5, l = threadIdx.x & 31, C4 = C >> 2;
    const float4 *w4 = (const float4 *)w; /* [C/4], read through L1 at each use: registers for 2 blocks an SM */
    float4 acc[VEC];
#pragma unroll
    for (int k = 0; k < VEC; k++)
        acc[k] = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int row = r0 + wid; row < r1; row += 8) {
        const float4 *x = (const float4 *)(inp + (size_t)row * C);   /* [C/4] */
        const float4 *dy = (const float4 *)(dout + (size_t)row * C); /* [C/4] */
        float4 *di = (float4 *)(dinp + (size_t)row * C);             /* [C/4] */
        float4 xv[VEC], gv[VEC], ov[VEC];
        float r = rstd[row], dot = 0.0f;
        /* the three rows' loads issued together, before the row sum */
#pragma unroll
        for (int k = 0; k < VEC; k++) {
            int c4 = l + 32 * k;
            xv[k] = c4 < C4 ? x[c4] : make_float4(0.f, 0.f, 0.f, 0.f);
            gv[k] = c4 < C4 ? dy[c4] : make_float4(0.f, 0.f, 0.f, 0.f);
            ov[k] = c4 < C4 ? di[c4] : make_float4(0.f, 0.f, 0.f, 0.f);
        }
#pragma unroll
        for (int k = 0; k < VEC; k++) {
            int c4 = l + 32 * k;
            float4 wv = c4 < C4 ? __ldg(w4 + c4) : make_float4(0.f, 0.f, 0.f, 0.f);
            dot += wv.x * gv[k].x * xv[k].x + wv.y * gv[k].y * xv[k].y +
                   wv.z * gv[k].z * xv[k].z + wv.w * gv[k].w * xv[k].w;
        }
        dot = warp_sum(dot);
        float mm = dot / (float)C * r * r;
        uint2 *db = dinp_bf ? (uint2 *)(dinp_bf + (size_t)row * C) : NULL;
#pragma unroll
        for (int k = 0; k < VEC; k++) {
            int c4 = l + 32 * k;
            if (c4 >= C4)
                continue;
            float4 wv = __ldg(w4 + c4), o = ov[k];
            o.x += r * (wv.x * gv[k].x - xv[k].x * mm);
            o.y += r * (wv.y * gv[k].y - xv[k].y * mm);
            o.z += r * (wv.z * gv[k].z - xv[k].z * mm);
            o.w += r * (wv.w * gv[k].w - xv[k].w * mm);
            di[c4] = o;
            if (db)
                db[c4] = pack4(o);
            acc[k].x += gv[k].x * xv[k].x * r;
            acc[k].y += gv[k].y * xv[k].y * r;
            acc[k].z += gv[k].z * xv[k].z * r;
            acc[k].w += gv[k].w * xv[k].w * r;
        }
    }
#pragma unroll
    for (int k = 0; k < VEC; k++) {
        int c4 = l + 32 * k;
        if (c4 < C4)
            ((float4 *)(sh_dw + (size_t)wid * C))[c4] = acc[k];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int q = 0; q < 8; q++)
            s += sh_dw[q * C + c];
        part[(size_t)blockIdx.x * C + c] = s;
    }
}

/* Scalar backward: dinp rows (one warp per row) and the block's column
 * partial sums of dw. */
__global__ void k_rms_bwd(float *dinp, uint16_t *dinp_bf, float *part, const float *dout,
                          const float *inp, const float *w, const float *rstd, int N, int C)
{
    int r0 = blockIdx.x * RMS_ROWS, r1 = min(r0 + RMS_ROWS, N);
    int wid = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    for (int row = r0 + wid; row < r1; row += nw) {
        const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C; /* [C] */
        float r = rstd[row], dot = 0.0f;
        for (int c = l; c < C; c += 32)
            dot += w[c] * dy[c] * x[c];
        dot = warp_sum(dot);
        float m = dot / (float)C * r * r;
        for (int c = l; c < C; c += 32) {
            float o = dinp[(size_t)row * C + c] + r * (w[c] * dy[c] - x[c] * m);
            dinp[(size_t)row * C + c] = o;
            if (dinp_bf)
                dinp_bf[(size_t)row * C + c] = f2bf(o);
        }
    }
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int row = r0; row < r1; row++)
            s += dout[(size_t)row * C + c] * inp[(size_t)row * C + c] * rstd[row];
        part[(size_t)blockIdx.x * C + c] = s;
    }
}

/* dw[c] += the sum over blocks b of part[b, c]: a block per 32 columns, each
 * warp summing every 8th partial row, then the 8 warp sums in warp order. */
__global__ void k_rms_dw(float *dw, const float *part, int nb, int C)
{
    __shared__ float sh[8][33];
    int w = threadIdx.x >> 5, l = threadIdx.x & 31, c = blockIdx.x * 32 + l;
    float s = 0.0f;
    if (c < C)
        for (int b = w; b < nb; b += 8)
            s += part[(size_t)b * C + c];
    sh[w][l] = s;
    __syncthreads();
    if (w == 0 && c < C) {
        float t = 0.0f;
        for (int q = 0; q < 8; q++)
            t += sh[q][l];
        dw[c] += t;
    }
}

/* The smallest lane width VEC in {1, 2, 4, 8} holding a row of C floats. */
/* float4s a lane holds per row: C / 128 rounded up (at most RMS_VEC_MAX),
 * so no registers go to columns past C. */
static int rms_lanes(int C) { return (C + 127) / 128; }

#define RMS_LAUNCH(kern, C, grid, shb, s, ...)                                                     \
    switch (rms_lanes(C)) {                                                                        \
    case 1: kern<1><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 2: kern<2><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 3: kern<3><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 4: kern<4><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 5: kern<5><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 6: kern<6><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    case 7: kern<7><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                    \
    default: kern<8><<<grid, 256, shb, s>>>(__VA_ARGS__); break;                                   \
    }

extern "C" int l720_dense_rmsnorm_fwd(uint16_t *out, float *rstd, const float *inp,
                                      const float *w, int N, int C, void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    unsigned nb = (unsigned)((N + 7) / 8);
    if (!rms_vec(C))
        k_rms_fwd<<<nb, 256, 0, s>>>(out, rstd, inp, w, N, C);
    else
        RMS_LAUNCH(k_rms_fwd_v, C, nb, 0, s, out, rstd, inp, w, N, C)
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" size_t l720_dense_rmsnorm_part_len(int N, int C)
{
    return (size_t)((N + RMS_ROWS - 1) / RMS_ROWS) * (size_t)C;
}

extern "C" int l720_dense_rmsnorm_bwd(float *dinp, uint16_t *dinp_bf, float *dw, float *part,
                                      const float *dout, const float *inp, const float *w,
                                      const float *rstd, int N, int C, void *stream,
                                      l720_err *err)
{
    int nb = (N + RMS_ROWS - 1) / RMS_ROWS;
    cudaStream_t s = (cudaStream_t)stream;
    size_t shb = (size_t)8 * C * sizeof(float);
    if (!rms_vec(C))
        k_rms_bwd<<<nb, 256, 0, s>>>(dinp, dinp_bf, part, dout, inp, w, rstd, N, C);
    else
        RMS_LAUNCH(k_rms_bwd_v, C, nb, shb, s, dinp, dinp_bf, part, dout, inp, w, rstd, N, C)
    GPU_LAUNCHED();
    k_rms_dw<<<(C + 31) / 32, 256, 0, s>>>(dw, part, nb, C);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- RoPE ---- */
__global__ void k_rope_table(float *cosb, float *sinb, int T, int hs, double theta)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x, half = hs / 2;
    if (i >= T * half)
        return;
    int t = i / half, j = i % half;
    double a = t * pow(theta, -2.0 * j / hs);
    cosb[i] = (float)cos(a);
    sinb[i] = (float)sin(a);
}

/* Rotation of the pair (a, b) at row position t, pair index j of its head. */
static __device__ inline void rope_pair(float &a, float &b, const float *cosb, const float *sinb,
                                        int t, int half, int j, float dir)
{
    float c = cosb[t * half + j], s = dir * sinb[t * half + j];
    float a2 = a * c - b * s, b2 = a * s + b * c;
    a = a2;
    b = b2;
}

/* One thread per 4 elements (2 pairs) of a qkv row [3C] (hs % 4 == 0). */
__global__ void k_rope_v(uint16_t *out, const float *qkv, const float *cosb, const float *sinb,
                         long rows, int T, int C, int hs, float dir)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x, quads = 3L * C / 4;
    if (i >= rows * quads)
        return;
    long row = i / quads;
    int e = (int)(i % quads) * 4, t = (int)(row % T), half = hs / 2;
    float4 v = *(const float4 *)(qkv + row * 3L * C + e);
    if (e < 2 * C) {
        int j = (e % hs) / 2;
        rope_pair(v.x, v.y, cosb, sinb, t, half, j, dir);
        rope_pair(v.z, v.w, cosb, sinb, t, half, j + 1, dir);
    }
    *(uint2 *)(out + row * 3L * C + e) = pack4(v);
}

/* One thread per element pair (any even hs). */
__global__ void k_rope(uint16_t *out, const float *qkv, const float *cosb, const float *sinb,
                       long rows, int T, int C, int hs, float dir)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x, pairs = 3L * C / 2;
    if (i >= rows * pairs)
        return;
    long row = i / pairs;
    int e = (int)(i % pairs) * 2, t = (int)(row % T);
    const float *v = qkv + row * 3L * C + e;
    float a = v[0], b = v[1];
    if (e < 2 * C)
        rope_pair(a, b, cosb, sinb, t, hs / 2, (e % hs) / 2, dir);
    uint32_t pk = (uint32_t)f2bf(a) | ((uint32_t)f2bf(b) << 16);
    *(uint32_t *)(out + row * 3L * C + e) = pk;
}

extern "C" int l720_dense_rope_table(float *cosb, float *sinb, int T, int hs, float theta,
                                     void *stream, l720_err *err)
{
    int n = T * (hs / 2);
    k_rope_table<<<(n + 255) / 256, 256, 0, (cudaStream_t)stream>>>(cosb, sinb, T, hs, theta);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_dense_rope(uint16_t *out, const float *qkv, const float *cosb,
                               const float *sinb, int B, int T, int NH, int hs, int dir,
                               void *stream, l720_err *err)
{
    long rows = (long)B * T;
    float sg = dir > 0 ? 1.0f : -1.0f;
    cudaStream_t s = (cudaStream_t)stream;
    if (hs % 4 == 0) {
        long n = rows * 3L * NH * hs / 4;
        k_rope_v<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(out, qkv, cosb, sinb, rows, T,
                                                             NH * hs, hs, sg);
    } else {
        long n = rows * 3L * NH * hs / 2;
        k_rope<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(out, qkv, cosb, sinb, rows, T,
                                                           NH * hs, hs, sg);
    }
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- SwiGLU pointwise (the dense and the MoE layers) ---- */
/* 8 elements per thread: rows of H with H % 8 == 0 and 16-byte aligned rows. */
__global__ void k_swiglu_fwd_v(uint16_t *act, const uint16_t *h1, const uint16_t *h3, long ld,
                               long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x, per = H / 8;
    if (i >= N * per)
        return;
    long n = i / per, j = (i % per) * 8;
    float z[8], u[8], a[8];
    unpack8(*(const uint4 *)(h1 + n * ld + j), z);
    unpack8(*(const uint4 *)(h3 + n * ld + j), u);
#pragma unroll
    for (int q = 0; q < 8; q++)
        a[q] = swiglu_act(z[q], u[q]);
    *(uint4 *)(act + n * H + j) = pack8(a);
}

__global__ void k_swiglu_fwd(uint16_t *act, const uint16_t *h1, const uint16_t *h3, long ld,
                             long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * H)
        return;
    long n = i / H, j = i % H;
    act[i] = f2bf(swiglu_act(bf16_lo(h1[n * ld + j]), bf16_lo(h3[n * ld + j])));
}

__global__ void k_swiglu_bwd_v(uint16_t *dh1, uint16_t *dh3, const uint16_t *dact,
                               const uint16_t *h1, const uint16_t *h3, long ld, long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x, per = H / 8;
    if (i >= N * per)
        return;
    long n = i / per, j = (i % per) * 8;
    float z[8], u[8], da[8], g1[8], g3[8];
    unpack8(*(const uint4 *)(h1 + n * ld + j), z);
    unpack8(*(const uint4 *)(h3 + n * ld + j), u);
    unpack8(*(const uint4 *)(dact + n * H + j), da);
#pragma unroll
    for (int q = 0; q < 8; q++)
        swiglu_grad(z[q], u[q], da[q], &g1[q], &g3[q]);
    *(uint4 *)(dh1 + n * ld + j) = pack8(g1);
    *(uint4 *)(dh3 + n * ld + j) = pack8(g3);
}

__global__ void k_swiglu_bwd(uint16_t *dh1, uint16_t *dh3, const uint16_t *dact,
                             const uint16_t *h1, const uint16_t *h3, long ld, long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * H)
        return;
    long n = i / H, j = i % H;
    float g1, g3;
    swiglu_grad(bf16_lo(h1[n * ld + j]), bf16_lo(h3[n * ld + j]), bf16_lo(dact[i]), &g1, &g3);
    dh1[n * ld + j] = f2bf(g1);
    dh3[n * ld + j] = f2bf(g3);
}

static int swiglu_vec(const void *a, const void *b, const void *c, long ld, int H)
{
    return H % 8 == 0 && ld % 8 == 0 && ((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 16 == 0;
}

extern "C" int l720_swiglu_fwd(uint16_t *act, const uint16_t *h1, const uint16_t *h3, long ld,
                               int N, int H, void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (swiglu_vec(act, h1, h3, ld, H)) {
        long n = (long)N * (H / 8);
        k_swiglu_fwd_v<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(act, h1, h3, ld, N, H);
    } else {
        long n = (long)N * H;
        k_swiglu_fwd<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(act, h1, h3, ld, N, H);
    }
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_swiglu_bwd(uint16_t *dh1, uint16_t *dh3, const uint16_t *dact,
                               const uint16_t *h1, const uint16_t *h3, long ld, int N, int H,
                               void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (swiglu_vec(dh1, h1, dact, ld, H) && swiglu_vec(dh3, h3, h3, ld, H)) {
        long n = (long)N * (H / 8);
        k_swiglu_bwd_v<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(dh1, dh3, dact, h1, h3, ld, N,
                                                                   H);
    } else {
        long n = (long)N * H;
        k_swiglu_bwd<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(dh1, dh3, dact, h1, h3, ld, N,
                                                                 H);
    }
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- causal softmax: one warp per row ---- */
__global__ void k_softmax_fwd(uint16_t *P, const float *S, long rows, int T)
{
    long row = (long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int l = threadIdx.x & 31;
    if (row >= rows)
        return;
    int t = (int)(row % T);
    const float *s = S + row * T; /* [T] */
    uint16_t *p = P + row * T;
    float mx = -INFINITY;
    for (int j = l; j <= t; j += 32)
        mx = fmaxf(mx, s[j]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.0f;
    for (int j = l; j <= t; j += 32)
        sum += expf(s[j] - mx);
    sum = warp_sum(sum);
    float inv = 1.0f / sum;
    for (int j = l; j < T; j += 32)
        p[j] = j <= t ? f2bf(expf(s[j] - mx) * inv) : (uint16_t)0;
}

__global__ void k_softmax_bwd(uint16_t *dS, const uint16_t *P, const float *dP, long rows, int T,
                              float scale)
{
    long row = (long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int l = threadIdx.x & 31;
    if (row >= rows)
        return;
    int t = (int)(row % T);
    const uint16_t *p = P + row * T;
    const float *dp = dP + row * T;
    float dot = 0.0f;
    for (int j = l; j <= t; j += 32)
        dot += bf2f(p[j]) * dp[j];
    dot = warp_sum(dot);
    for (int j = l; j < T; j += 32)
        dS[row * T + j] = j <= t ? f2bf(bf2f(p[j]) * (dp[j] - dot) * scale) : (uint16_t)0;
}

extern "C" int l720_dense_softmax_fwd(uint16_t *P, const float *S, long rows, int T, void *stream,
                                      l720_err *err)
{
    k_softmax_fwd<<<(unsigned)((rows + 7) / 8), 256, 0, (cudaStream_t)stream>>>(P, S, rows, T);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_dense_softmax_bwd(uint16_t *dS, const uint16_t *P, const float *dP, long rows,
                                      int T, float scale, void *stream, l720_err *err)
{
    k_softmax_bwd<<<(unsigned)((rows + 7) / 8), 256, 0, (cudaStream_t)stream>>>(dS, P, dP, rows, T,
                                                                                 scale);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- cross-entropy: one block per row ----
 * The logits are bf16 (the head product's output). Rows with ld % 8 == 0
 * that fit XENT_SMEM_MAX bytes are read once into shared memory with 16-byte
 * loads, keeping a running max and a sum rescaled to it per thread (combined
 * in a fixed order); the gradient is then written from shared memory, so it
 * may overwrite the logits. Other rows take two passes over global memory. */
#define XENT_THREADS 512
#define XENT_SMEM_MAX (112 * 1024)
#define XENT_LOADS 4 /* 16-byte loads a thread keeps in flight while filling the row */

/* (m, s) <- the pair whose sum is s e^{m} + s2 e^{m2}, relative to the larger max. */
static __device__ inline void lse_merge(float &m, float &s, float m2, float s2)
{
    float mx = fmaxf(m, m2);
    if (mx == -INFINITY)
        return;
    s = s * __expf(m - mx) + s2 * __expf(m2 - mx);
    m = mx;
}

static __device__ inline void lse_add(float &m, float &s, float z)
{
    if (z > m) {
        s = s * __expf(m - z) + 1.0f;
        m = z;
    } else {
        s += __expf(z - m);
    }
}

/* The log-sum-exp of the block's (m, s) pairs, in a fixed order. */
static __device__ inline float block_lse(float m, float s)
{
    __shared__ float shm[XENT_THREADS / 32], shs[XENT_THREADS / 32];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    int w = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) {
        shm[w] = m;
        shs[w] = s;
    }
    __syncthreads();
    m = -INFINITY;
    s = 0.0f;
    for (int q = 0; q < XENT_THREADS / 32; q++)
        lse_merge(m, s, shm[q], shs[q]);
    return m + logf(s);
}

/* The gradient of column j of a row: (softmax - onehot) * scale, 0 past V. */
static __device__ inline float xent_grad(float z, long j, float lse, int V, int tg, float scale)
{
    return j < V ? scale * (__expf(z - lse) - (j == tg ? 1.0f : 0.0f)) : 0.0f;
}

/* A row whose target is < 0: zero gradient, zero loss. */
static __device__ inline bool xent_skip(uint16_t *d, float *loss, long n, long ld, int tg)
{
    if (tg >= 0)
        return false;
    for (long j = threadIdx.x; j < ld; j += blockDim.x)
        d[j] = 0;
    if (threadIdx.x == 0)
        loss[n] = 0.0f;
    return true;
}

/* 2^x by the special-function unit (what __expf uses after its multiply). */
static __device__ inline float ex2_approx(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* Adds 8 logits (columns c0..c0+7, those >= V left out) to the running
 * (m, s): one rescale per 8 instead of one compare per logit. */
static __device__ inline void lse_add8(float &m, float &s, uint4 w, long c0, int V)
{
    float f[8], mx = -INFINITY;
    unpack8(w, f);
#pragma unroll
    for (int u = 0; u < 8; u++) {
        if (c0 + u >= V)
            f[u] = -INFINITY;
        mx = fmaxf(mx, f[u]);
    }
    if (mx == -INFINITY)
        return;
    if (mx > m) {
        s *= __expf(m - mx);
        m = mx;
    }
#pragma unroll
    for (int u = 0; u < 8; u++)
        s += __expf(f[u] - m);
}

__global__ void __launch_bounds__(XENT_THREADS)
k_xent_smem(uint16_t *dlogits, float *loss, const uint16_t *logits, long ld,
            const int32_t *targets, int V, float scale)
{
    extern __shared__ uint4 row[]; /* [ld / 8] */
    long n = blockIdx.x;
    int tg = targets[n];
    uint16_t *d = dlogits + n * ld; /* [ld] */
    if (xent_skip(d, loss, n, ld, tg))
        return;
    const uint4 *z = (const uint4 *)(logits + n * ld); /* [ld / 8] */
    int n8 = (int)(ld / 8), bs = (int)blockDim.x;
    /* the row into shared memory, XENT_LOADS independent 16-byte loads in
     * flight a thread, and the running (max, sum) from the loaded registers */
    float m = -INFINITY, s = 0.0f;
    for (int j0 = threadIdx.x; j0 < n8; j0 += XENT_LOADS * bs) {
        uint4 w[XENT_LOADS];
#pragma unroll
        for (int u = 0; u < XENT_LOADS; u++)
            if (j0 + u * bs < n8)
                w[u] = z[j0 + u * bs];
#pragma unroll
        for (int u = 0; u < XENT_LOADS; u++)
            if (j0 + u * bs < n8) {
                row[j0 + u * bs] = w[u];
                lse_add8(m, s, w[u], 8L * (j0 + u * bs), V);
            }
    }
    float lse = block_lse(m, s); /* its barrier orders every store before the reads below */
    float ztg = bf16_lo(((const uint16_t *)row)[tg]);
    /* softmax - onehot, times scale: exp(z - lse) as one fused multiply-add and a base-2 power */
    const float l2e = 1.4426950408889634f, off = -lse * l2e;
    int j8 = (int)(V / 8); /* groups wholly inside the vocabulary */
    for (int j = threadIdx.x; j < n8; j += bs) {
        float f[8];
        unpack8(row[j], f);
        if (j < j8) {
#pragma unroll
            for (int u = 0; u < 8; u++)
                f[u] = scale * ex2_approx(fmaf(f[u], l2e, off)) - (8 * j + u == tg ? scale : 0.0f);
        } else {
#pragma unroll
            for (int u = 0; u < 8; u++)
                f[u] = xent_grad(f[u], 8L * j + u, lse, V, tg, scale);
        }
        ((uint4 *)d)[j] = pack8(f);
    }
    if (threadIdx.x == 0)
        loss[n] = lse - ztg;
}

__global__ void __launch_bounds__(XENT_THREADS)
k_xent(uint16_t *dlogits, float *loss, const uint16_t *logits, long ld, const int32_t *targets,
       int V, float scale)
{
    long n = blockIdx.x;
    int tg = targets[n];
    uint16_t *d = dlogits + n * ld; /* [ld] */
    if (xent_skip(d, loss, n, ld, tg))
        return;
    const uint16_t *z = logits + n * ld; /* [V] */
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        lse_add(m, s, bf16_lo(z[j]));
    float lse = block_lse(m, s);
    float ztg = bf16_lo(z[tg]);
    __syncthreads(); /* every thread has read z[tg] before any gradient overwrites it */
    for (long j = threadIdx.x; j < ld; j += blockDim.x)
        d[j] = f2bf(xent_grad(j < V ? bf16_lo(z[j]) : 0.0f, j, lse, V, tg, scale));
    if (threadIdx.x == 0)
        loss[n] = lse - ztg;
}

extern "C" int l720_dense_xent(uint16_t *dlogits, float *loss, const uint16_t *logits, long ld,
                               const int32_t *targets, int N, int V, float scale, void *stream,
                               l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t shb = (size_t)ld * sizeof(uint16_t);
    if (ld % 8 == 0 && shb <= XENT_SMEM_MAX && (uintptr_t)logits % 16 == 0 &&
        (uintptr_t)dlogits % 16 == 0) {
        static int opted = 0; /* the shared-memory limit raised once per process */
        if (!opted) {
            GPU_CK(cudaFuncSetAttribute(k_xent_smem, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        XENT_SMEM_MAX));
            opted = 1;
        }
        k_xent_smem<<<N, XENT_THREADS, shb, s>>>(dlogits, loss, logits, ld, targets, V, scale);
    } else {
        k_xent<<<N, XENT_THREADS, 0, s>>>(dlogits, loss, logits, ld, targets, V, scale);
    }
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- AdamW, conversions, embedding ---- */
__global__ void k_adamw(float *p, uint16_t *pbf, float *m, float *v, const float *g, size_t n,
                        float lr, float b1, float b2, float eps, float decay, float c1, float c2,
                        float gs)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    adamw_elem(p, pbf, m, v, i, gs * g[i], lr, b1, b2, eps, decay, c1, c2);
}

/* Four elements a thread with 16-byte loads: the same arithmetic per element. */
__global__ void k_adamw4(float4 *p, uint2 *pbf, float4 *m, float4 *v, const float4 *g, size_t n4,
                         float lr, float b1, float b2, float eps, float decay, float c1, float c2,
                         float gs)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n4)
        return;
    float4 P = p[i], M = m[i], V = v[i], G = g[i];
    adamw_val(P.x, M.x, V.x, gs * G.x, lr, b1, b2, eps, decay, c1, c2);
    adamw_val(P.y, M.y, V.y, gs * G.y, lr, b1, b2, eps, decay, c1, c2);
    adamw_val(P.z, M.z, V.z, gs * G.z, lr, b1, b2, eps, decay, c1, c2);
    adamw_val(P.w, M.w, V.w, gs * G.w, lr, b1, b2, eps, decay, c1, c2);
    p[i] = P;
    m[i] = M;
    v[i] = V;
    pbf[i] = make_uint2(pack2(P.x, P.y), pack2(P.z, P.w));
}

extern "C" int l720_dense_adamw(float *p, uint16_t *pbf, float *m, float *v, const float *g,
                                size_t n, float lr, float b1, float b2, float eps, float decay,
                                float c1, float c2, float gscale, void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t n4 = 0;
    if (((uintptr_t)p | (uintptr_t)m | (uintptr_t)v | (uintptr_t)g) % 16 == 0 &&
        (uintptr_t)pbf % 8 == 0)
        n4 = n / 4;
    if (n4) {
        k_adamw4<<<(unsigned)((n4 + 255) / 256), 256, 0, s>>>(
            (float4 *)p, (uint2 *)pbf, (float4 *)m, (float4 *)v, (const float4 *)g, n4, lr, b1, b2,
            eps, decay, c1, c2, gscale);
        GPU_LAUNCHED();
    }
    size_t o = 4 * n4;
    if (n > o) {
        k_adamw<<<(unsigned)((n - o + 255) / 256), 256, 0, s>>>(
            p + o, pbf + o, m + o, v + o, g + o, n - o, lr, b1, b2, eps, decay, c1, c2, gscale);
        GPU_LAUNCHED();
    }
    return L720_OK;
}

__global__ void k_to_bf16(uint16_t *out, const float *in, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = f2bf(in[i]);
}

extern "C" int l720_dense_to_bf16(uint16_t *out, const float *in, size_t n, void *stream,
                                  l720_err *err)
{
    if (!n)
        return L720_OK;
    k_to_bf16<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(out, in, n);
    GPU_LAUNCHED();
    return L720_OK;
}

__global__ void k_embed_fwd(float *out, const int32_t *tok, const float *embed, long N, int C)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * C)
        return;
    long n = i / C;
    out[i] = embed[(long)tok[n] * C + i % C];
}

/* One block per vocabulary row that occurs: the sum of the rows of dout at
 * its positions, in position order, is added to its gradient row (one
 * writer). */
__global__ void k_embed_bwd(float *dembed, const float *dout, const int32_t *order,
                            const int32_t *run_start, const int32_t *run_tok, int C)
{
    int r = blockIdx.x, i0 = run_start[r], i1 = run_start[r + 1];
    float *row = dembed + (long)run_tok[r] * C; /* [C] */
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int i = i0; i < i1; i++)
            s += dout[(long)order[i] * C + c];
        row[c] += s;
    }
}

extern "C" int l720_dense_embed_fwd(float *out, const int32_t *tok, const float *embed, int N,
                                    int C, void *stream, l720_err *err)
{
    long n = (long)N * C;
    k_embed_fwd<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(out, tok, embed, N,
                                                                                C);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_dense_embed_order(const int32_t *tok, int N, int V, int32_t *order,
                                      int32_t *run_start, int32_t *run_tok, int32_t *count)
{
    for (int v = 0; v < V; v++)
        count[v] = 0;
    for (int i = 0; i < N; i++)
        count[tok[i]]++;
    int nr = 0, pos = 0;
    for (int v = 0; v < V; v++) {
        if (!count[v])
            continue;
        run_tok[nr] = v;
        run_start[nr++] = pos;
        int c = count[v];
        count[v] = pos; /* from here: the next free slot of token v */
        pos += c;
    }
    run_start[nr] = pos;
    for (int i = 0; i < N; i++)
        order[count[tok[i]]++] = i;
    return nr;
}

extern "C" int l720_dense_embed_bwd(float *dembed, const float *dout, const int32_t *order,
                                    const int32_t *run_start, const int32_t *run_tok, int n_runs,
                                    int C, void *stream, l720_err *err)
{
    if (n_runs < 1)
        return L720_OK;
    k_embed_bwd<<<n_runs, 256, 0, (cudaStream_t)stream>>>(dembed, dout, order, run_start, run_tok,
                                                           C);
    GPU_LAUNCHED();
    return L720_OK;
}
