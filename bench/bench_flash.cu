/* bench_flash.cu: causal attention forward + backward on the GPU, the fused
 * kernels (kernels/flash_attn.h) against the batched-product path
 * (l720_dense_attn_fwd/bwd), at GPT-2-small shape by default: B 8, T 1024,
 * C 768, NH 12 (head size 64); then the fused kernels alone at head sizes 32
 * and 128 (same C). CUDA events around each call; median of 20 after 3
 * warm-up runs. Usage: bench_flash [B] [T]
 * FLOPs counted (causal: half of the T x T products):
 *   forward  4 * B * NH * T * T * hs / 2  (Q K^T and P V)
 *   backward 2.5 x forward                (dV, dP, dQ, dK and the S recompute)
 * the same count for both paths (the batched path computes the full T x T,
 * the fused one recomputes S and dP once more; neither is counted).
 * Prints `attn_fwd_bwd_speedup` (batched ms / fused ms) last. */
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/flash_attn.h"

static l720_err err;

static void need(int rc, const char *what)
{
    if (rc) {
        printf("error: %s: %s\n", what, err.msg);
        exit(1);
    }
}
static void need_cuda(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        printf("error: %s: %s\n", what, cudaGetErrorString(e));
        exit(1);
    }
}

struct timing {
    double fwd_ms, bwd_ms, total_ms;
};

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/* run(0) the forward, run(1) the backward; medians over reps */
template <typename F> static timing time_it(F run, int reps)
{
    cudaEvent_t e0, e1, e2;
    cudaEventCreate(&e0), cudaEventCreate(&e1), cudaEventCreate(&e2);
    std::vector<double> f, b, t;
    for (int i = 0; i < 3 + reps; i++) {
        cudaEventRecord(e0);
        run(0);
        cudaEventRecord(e1);
        run(1);
        cudaEventRecord(e2);
        need_cuda(cudaEventSynchronize(e2), "timed run");
        float a = 0, c = 0;
        cudaEventElapsedTime(&a, e0, e1);
        cudaEventElapsedTime(&c, e1, e2);
        if (i >= 3) {
            f.push_back(a), b.push_back(c), t.push_back(a + c);
        }
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1), cudaEventDestroy(e2);
    return timing{median(f), median(b), median(t)};
}

int main(int argc, char **argv)
{
    const int B = argc > 1 ? atoi(argv[1]) : 8, T = argc > 2 ? atoi(argv[2]) : 1024, C = 768;
    const int reps = 20;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    const size_t n3 = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, TT = (size_t)T * T;
    uint16_t *qkv, *dy, *y;
    float *lse, *dsum, *dqkv;
    need_cuda(cudaMalloc(&qkv, n3 * 2), "malloc");
    need_cuda(cudaMalloc(&dy, ny * 2), "malloc");
    need_cuda(cudaMalloc(&y, ny * 2), "malloc");
    need_cuda(cudaMalloc(&dqkv, n3 * 4), "malloc");
    need_cuda(cudaMalloc(&lse, (size_t)B * 24 * T * 4), "malloc"); /* up to 24 heads */
    need_cuda(cudaMalloc(&dsum, (size_t)B * 24 * T * 4), "malloc");
    { /* random bf16 in about (-1.5, 1.5): exponent bytes kept small */
        std::vector<uint16_t> h(n3);
        uint64_t s = 12345;
        for (auto &x : h) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float f = (float)((double)(s >> 11) / 9007199254740992.0 * 3 - 1.5);
            uint32_t u;
            memcpy(&u, &f, 4);
            x = (uint16_t)(u >> 16);
        }
        cudaMemcpy(qkv, h.data(), n3 * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dy, h.data(), ny * 2, cudaMemcpyHostToDevice);
    }
    printf("device %s\n", prop.name);
    printf("shape B %d T %d C %d (causal; median of %d after 3 warm-up)\n", B, T, C, reps);

    timing tf[3];
    const int hs_list[3] = {64, 32, 128};
    for (int i = 0; i < 3; i++) {
        const int NH = C / hs_list[i];
        tf[i] = time_it(
            [&](int bwd) {
                if (!bwd)
                    need(l720_flash_attn_fwd(y, lse, qkv, B, T, C, NH, 0, &err), "flash fwd");
                else
                    need(l720_flash_attn_bwd(dqkv, dsum, dy, y, lse, qkv, B, T, C, NH, 0, &err),
                         "flash bwd");
            },
            reps);
    }
    timing tb;
    {
        const int NH = 12;
        uint16_t *P, *dS;
        float *yf, *S;
        need_cuda(cudaMalloc(&P, (size_t)B * NH * TT * 2), "malloc");
        need_cuda(cudaMalloc(&dS, NH * TT * 2), "malloc");
        need_cuda(cudaMalloc(&yf, ny * 4), "malloc");
        need_cuda(cudaMalloc(&S, NH * TT * 4), "malloc");
        l720_gemm *g = l720_gemm_new(&err);
        need(g == NULL, "gemm");
        tb = time_it(
            [&](int bwd) {
                if (!bwd)
                    need(l720_dense_attn_fwd(g, y, yf, P, S, qkv, B, T, C, NH, 0, &err),
                         "batched fwd");
                else
                    need(l720_dense_attn_bwd(g, dqkv, S, dS, dy, P, qkv, B, T, C, NH, 0, &err),
                         "batched bwd");
            },
            reps);
        l720_gemm_free(g);
        cudaFree(P), cudaFree(dS), cudaFree(yf), cudaFree(S);
    }
    need_cuda(cudaGetLastError(), "after the runs");

    /* the same FLOP count for every head size at fixed C */
    const double ffwd = 4.0 * B * C * (double)T * T / 2, fbwd = 2.5 * ffwd;
    printf("flops_fwd %.4g flops_bwd %.4g (4 B NH T^2 hs / 2; backward 2.5x)\n", ffwd, fbwd);
    printf("%-22s %9s %9s %9s %10s %10s %10s\n", "path", "fwd_ms", "bwd_ms", "total_ms", "fwd_TF/s",
           "bwd_TF/s", "total_TF/s");
    for (int i = 0; i < 4; i++) {
        const timing &x = i < 3 ? tf[i] : tb;
        char name[40];
        snprintf(name, sizeof name, i < 3 ? "flash hs %d" : "batched hs %d", i < 3 ? hs_list[i] : 64);
        printf("%-22s %9.3f %9.3f %9.3f %10.1f %10.1f %10.1f\n", name, x.fwd_ms, x.bwd_ms,
               x.total_ms, ffwd / x.fwd_ms * 1e-9, fbwd / x.bwd_ms * 1e-9,
               (ffwd + fbwd) / x.total_ms * 1e-9);
    }
    printf("attn_fwd_bwd_tflops_flash %.1f\n", (ffwd + fbwd) / tf[0].total_ms * 1e-9);
    printf("attn_fwd_bwd_tflops_batched %.1f\n", (ffwd + fbwd) / tb.total_ms * 1e-9);
    printf("attn_fwd_bwd_ms_flash %.3f\n", tf[0].total_ms);
    printf("attn_fwd_bwd_ms_batched %.3f\n", tb.total_ms);
    printf("attn_fwd_bwd_speedup %.2f\n", tb.total_ms / tf[0].total_ms);
    cudaFree(qkv), cudaFree(dy), cudaFree(y), cudaFree(dqkv), cudaFree(lse), cudaFree(dsum);
    return 0;
}
