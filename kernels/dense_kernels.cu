/* dense_kernels.cu: the pointwise and row kernels of the dense model (see
 * dense_gpu.h). One thread, warp or block per output element or row, fixed
 * summation orders, no atomics. */
#include <math.h>

#include "kernels/dense_gpu.h"
#include "kernels/gpu_util.cuh"

#define RMS_ROWS 64 /* rows per block in the RMSNorm backward */

static __device__ inline float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

/* Sum over a block of 256 threads (8 warps); every thread gets the result. */
static __device__ inline float block_sum(float s, float *sh)
{
    s = warp_sum(s);
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    __syncthreads();
    if (l == 0)
        sh[w] = s;
    __syncthreads();
    float t = 0.0f;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++)
        t += sh[i];
    return t;
}

static __device__ inline float block_max(float s, float *sh)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        s = fmaxf(s, __shfl_xor_sync(0xffffffffu, s, o));
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    __syncthreads();
    if (l == 0)
        sh[w] = s;
    __syncthreads();
    float t = -INFINITY;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++)
        t = fmaxf(t, sh[i]);
    return t;
}

/* ---- RMSNorm: one warp per row ---- */
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

/* dinp rows (one warp per row) and the block's column partial sums of dw. */
__global__ void k_rms_bwd(float *dinp, float *part, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int C)
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
        for (int c = l; c < C; c += 32)
            dinp[(size_t)row * C + c] += r * (w[c] * dy[c] - x[c] * m);
    }
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int row = r0; row < r1; row++)
            s += dout[(size_t)row * C + c] * inp[(size_t)row * C + c] * rstd[row];
        part[(size_t)blockIdx.x * C + c] = s;
    }
}

__global__ void k_rms_dw(float *dw, const float *part, int nb, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float s = 0.0f;
    for (int b = 0; b < nb; b++)
        s += part[(size_t)b * C + c];
    dw[c] += s;
}

extern "C" int l720_dense_rmsnorm_fwd(uint16_t *out, float *rstd, const float *inp,
                                      const float *w, int N, int C, void *stream, l720_err *err)
{
    k_rms_fwd<<<(N + 7) / 8, 256, 0, (cudaStream_t)stream>>>(out, rstd, inp, w, N, C);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" size_t l720_dense_rmsnorm_part_len(int N, int C)
{
    return (size_t)((N + RMS_ROWS - 1) / RMS_ROWS) * (size_t)C;
}

extern "C" int l720_dense_rmsnorm_bwd(float *dinp, float *dw, float *part, const float *dout,
                                      const float *inp, const float *w, const float *rstd, int N,
                                      int C, void *stream, l720_err *err)
{
    int nb = (N + RMS_ROWS - 1) / RMS_ROWS;
    cudaStream_t s = (cudaStream_t)stream;
    k_rms_bwd<<<nb, 256, 0, s>>>(dinp, part, dout, inp, w, rstd, N, C);
    GPU_LAUNCHED();
    k_rms_dw<<<(C + 255) / 256, 256, 0, s>>>(dw, part, nb, C);
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

/* One thread per element pair of a qkv row [3C]. */
__global__ void k_rope(uint16_t *out, float *qkv, const float *cosb, const float *sinb, long rows,
                       int T, int C, int hs, float dir)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x, pairs = 3L * C / 2;
    if (i >= rows * pairs)
        return;
    long row = i / pairs;
    int e = (int)(i % pairs) * 2, t = (int)(row % T), half = hs / 2;
    float *v = qkv + row * 3L * C + e;
    float a = v[0], b = v[1];
    if (e < 2 * C) {
        int j = (e % hs) / 2;
        float c = cosb[t * half + j], s = dir * sinb[t * half + j];
        float a2 = a * c - b * s, b2 = a * s + b * c;
        a = a2;
        b = b2;
        v[0] = a;
        v[1] = b;
    }
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

extern "C" int l720_dense_rope(uint16_t *out, float *qkv, const float *cosb, const float *sinb,
                               int B, int T, int NH, int hs, int dir, void *stream, l720_err *err)
{
    long rows = (long)B * T, n = rows * 3L * NH * hs / 2;
    k_rope<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(
        out, qkv, cosb, sinb, rows, T, NH * hs, hs, dir > 0 ? 1.0f : -1.0f);
    GPU_LAUNCHED();
    return L720_OK;
}

/* ---- SwiGLU pointwise ---- */
__global__ void k_swiglu_fwd(uint16_t *act, const float *h13, long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * H)
        return;
    long n = i / H;
    int j = (int)(i % H);
    float z = h13[n * 2 * H + j], u = h13[n * 2 * H + H + j], sg = 1.0f / (1.0f + expf(-z));
    act[i] = f2bf(z * sg * u);
}

__global__ void k_swiglu_bwd(uint16_t *dh13, const float *dact, const float *h13, long N, int H)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * H)
        return;
    long n = i / H;
    int j = (int)(i % H);
    float z = h13[n * 2 * H + j], u = h13[n * 2 * H + H + j], sg = 1.0f / (1.0f + expf(-z));
    float da = dact[i];
    dh13[n * 2 * H + H + j] = f2bf(da * z * sg);
    dh13[n * 2 * H + j] = f2bf(da * u * sg * (1.0f + z * (1.0f - sg)));
}

extern "C" int l720_dense_swiglu_fwd(uint16_t *act, const float *h13, int N, int H, void *stream,
                                     l720_err *err)
{
    long n = (long)N * H;
    k_swiglu_fwd<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(act, h13, N, H);
    GPU_LAUNCHED();
    return L720_OK;
}

extern "C" int l720_dense_swiglu_bwd(uint16_t *dh13, const float *dact, const float *h13, int N,
                                     int H, void *stream, l720_err *err)
{
    long n = (long)N * H;
    k_swiglu_bwd<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(dh13, dact, h13,
                                                                                  N, H);
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

/* ---- cross-entropy: one block per row ---- */
__global__ void k_xent(uint16_t *dlogits, float *loss, const float *logits, long ld,
                       const int32_t *targets, int V, float scale)
{
    __shared__ float sh[32];
    long n = blockIdx.x;
    const float *z = logits + n * ld; /* [V] */
    uint16_t *d = dlogits + n * ld;
    int tg = targets[n];
    if (tg < 0) {
        for (long j = threadIdx.x; j < ld; j += blockDim.x)
            d[j] = 0;
        if (threadIdx.x == 0)
            loss[n] = 0.0f;
        return;
    }
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        mx = fmaxf(mx, z[j]);
    mx = block_max(mx, sh);
    float s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        s += expf(z[j] - mx);
    s = block_sum(s, sh);
    float lse = mx + logf(s);
    for (long j = threadIdx.x; j < ld; j += blockDim.x)
        d[j] = j < V ? f2bf(scale * (expf(z[j] - lse) - (j == tg ? 1.0f : 0.0f))) : (uint16_t)0;
    if (threadIdx.x == 0)
        loss[n] = lse - z[tg];
}

extern "C" int l720_dense_xent(uint16_t *dlogits, float *loss, const float *logits, long ld,
                               const int32_t *targets, int N, int V, float scale, void *stream,
                               l720_err *err)
{
    k_xent<<<N, 256, 0, (cudaStream_t)stream>>>(dlogits, loss, logits, ld, targets, V, scale);
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

extern "C" int l720_dense_adamw(float *p, uint16_t *pbf, float *m, float *v, const float *g,
                                size_t n, float lr, float b1, float b2, float eps, float decay,
                                float c1, float c2, float gscale, void *stream, l720_err *err)
{
    if (!n)
        return L720_OK;
    k_adamw<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(
        p, pbf, m, v, g, n, lr, b1, b2, eps, decay, c1, c2, gscale);
    GPU_LAUNCHED();
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
