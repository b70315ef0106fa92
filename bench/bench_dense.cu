/* bench_dense.cu: one dense training step (forward + backward + AdamW) of the
 * GPT-2-small shape on the GPU (kernels/dense_gpu.h): d 768, 12 layers, 12
 * heads, T 1024, vocab 50257, SwiGLU hidden 3d. Timed with events over
 * steps after warm-up. Usage: bench_dense [B] [steps]
 * FLOPs per token: 6 * N_mm + 12 * L * d * T, N_mm = L (4d^2 + 3dH) + V d
 * (the weight matrices that multiply: blocks and LM head; the embedding
 * lookup is no product), 12 L d T the attention score and value products
 * counted over the full T x T (what the kernels compute). MFU against
 * 989 TFLOP/s bf16 dense. Prints `dense_mfu` last. */
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/dense_gpu.h"

int main(int argc, char **argv)
{
    int B = argc > 1 ? atoi(argv[1]) : 8, steps = argc > 2 ? atoi(argv[2]) : 10;
    l720_dense_cfg c = {50257, 768, 12, 12, 1024, 3 * 768, 10000.0f};
    l720_err err;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    l720_dense_model *m = l720_dense_new(&c, B, &err);
    if (!m) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    size_t np = l720_dense_n_params(&c), N = (size_t)B * c.seq_len;
    std::vector<float> p(np);
    uint64_t s = 12345;
    for (auto &x : p) { /* uniform with the std of N(0, 0.02^2); norms set below */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x = (float)(((double)(s >> 11) / 9007199254740992.0 * 2 - 1) * 0.02 * 1.7320508);
    }
    size_t d = 768, H = 2304, V = 50257, ls = 2 * d + 4 * d * d + 3 * H * d;
    for (int l = 0; l < 12; l++)
        for (size_t i = 0; i < d; i++) {
            p[V * d + l * ls + i] = 1.0f;
            p[V * d + l * ls + d + 4 * d * d + i] = 1.0f;
        }
    for (size_t i = 0; i < d; i++)
        p[V * d + 12 * ls + i] = 1.0f;
    if (l720_dense_set_params(m, p.data(), &err)) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    std::vector<int32_t> tok(N), tg(N);
    for (size_t i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((s >> 33) % V);
        tg[i] = i + 1 < N ? 0 : 0;
    }
    for (size_t i = 0; i + 1 < N; i++)
        tg[i] = tok[i + 1];
    double loss = 0;
    /* warm-up (and the loss once, through the host path) */
    for (int i = 0; i < 2; i++)
        if (l720_dense_fwd_bwd(m, tok.data(), tg.data(), &loss, &err) ||
            l720_dense_adamw_step(m, i + 1, 3e-4, 0.9, 0.95, 1e-8, 0.1, &err)) {
            printf("error: %s\n", err.msg);
            return 1;
        }
    cudaStream_t st = (cudaStream_t)l720_dense_stream(m);
    cudaEvent_t e0, e1, f1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaEventCreate(&f1);
    /* one forward+backward alone, then the full steps */
    cudaEventRecord(e0, st);
    if (l720_dense_fwd_bwd_dev(m, &err)) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    cudaEventRecord(f1, st);
    cudaEventSynchronize(f1);
    float fb_ms = 0;
    cudaEventElapsedTime(&fb_ms, e0, f1);
    cudaEventRecord(e0, st);
    for (int i = 0; i < steps; i++)
        if (l720_dense_fwd_bwd_dev(m, &err) ||
            l720_dense_adamw_step(m, i + 3, 3e-4, 0.9, 0.95, 1e-8, 0.1, &err)) {
            printf("error: %s\n", err.msg);
            return 1;
        }
    cudaEventRecord(e1, st);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) {
        printf("error: %s\n", cudaGetErrorString(ce));
        return 1;
    }
    /* the same steps replayed as one captured graph (no host work between
     * kernels); its time is the one reported when the capture works */
    float g_ms = -1;
    {
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        int ok = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
        if (ok) {
            int bad = l720_dense_fwd_bwd_dev(m, &err) ||
                      l720_dense_adamw_step(m, steps + 3, 3e-4, 0.9, 0.95, 1e-8, 0.1, &err);
            ok = cudaStreamEndCapture(st, &graph) == cudaSuccess && !bad;
        }
        if (ok && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
            cudaGraphLaunch(exec, st);
            cudaEventRecord(e0, st);
            for (int i = 0; i < steps; i++)
                cudaGraphLaunch(exec, st);
            cudaEventRecord(e1, st);
            cudaEventSynchronize(e1);
            cudaEventElapsedTime(&g_ms, e0, e1);
            g_ms /= steps;
        }
        cudaGetLastError();
        printf("eager_step_ms %.3f graph_step_ms %.3f%s\n", ms / steps, g_ms,
               g_ms < 0 ? " (capture failed)" : "");
    }
    double step_ms = g_ms > 0 ? g_ms : ms / steps, tps = N / (step_ms * 1e-3);
    double L = 12, T = 1024, Nmm = L * (4.0 * d * d + 3.0 * d * H) + (double)V * d;
    double fpt = 6.0 * Nmm + 12.0 * L * d * T;
    double mfu = fpt * tps / 989e12;
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s\n", prop.name);
    printf("shape d 768 layers 12 heads 12 T 1024 vocab 50257 hidden 2304 batch %d tokens/step %zu\n",
           B, N);
    printf("params_matmul %.1f M  flops/token %.4g (6*N_mm + 12*L*d*T)\n", Nmm / 1e6, fpt);
    printf("loss_step2 %.4f (ln V = %.4f)\n", loss, log((double)V));
    printf("fwd_bwd_ms %.3f\n", fb_ms);
    printf("step_ms %.3f (fwd+bwd+AdamW, mean of %d, %s)\n", step_ms, steps, g_ms > 0 ? "graph" : "eager");
    printf("tokens_per_s %.0f\n", tps);
    printf("achieved_tflops %.1f\n", fpt * tps / 1e12);
    /* breakdown: the attention core alone (12 layers' products and softmax,
     * forward + backward) on random bf16 data */
    {
        size_t n3 = N * 3 * d, NH = 12, TT = 1024 * 1024;
        uint16_t *qkv, *P, *dS, *yb, *dy;
        float *y, *S, *dq;
        cudaMalloc(&qkv, n3 * 2);
        cudaMalloc(&P, (size_t)B * NH * TT * 2);
        cudaMalloc(&dS, NH * TT * 2);
        cudaMalloc(&yb, N * d * 2);
        cudaMalloc(&dy, N * d * 2);
        cudaMalloc(&y, N * d * 4);
        cudaMalloc(&S, NH * TT * 4);
        cudaMalloc(&dq, n3 * 4);
        cudaMemsetAsync(qkv, 0x3c, n3 * 2, st);
        cudaMemsetAsync(dy, 0x3c, N * d * 2, st);
        l720_gemm *g = l720_gemm_new(&err);
        float a_ms = 0;
        for (int rep = 0; rep < 2; rep++) {
            cudaEventRecord(e0, st);
            for (int l = 0; l < 12; l++)
                if (l720_dense_attn_fwd(g, yb, y, P, S, qkv, B, 1024, 768, 12, st, &err) ||
                    l720_dense_attn_bwd(g, dq, S, dS, dy, P, qkv, B, 1024, 768, 12, st, &err)) {
                    printf("error: %s\n", err.msg);
                    return 1;
                }
            cudaEventRecord(e1, st);
            cudaEventSynchronize(e1);
            cudaEventElapsedTime(&a_ms, e0, e1);
        }
        printf("attention_core_ms %.3f (12 layers fwd+bwd: T x T products + causal softmax; %.1f%% of the step)\n",
               a_ms, 100.0 * a_ms / step_ms);
        l720_gemm_free(g);
        cudaFree(qkv), cudaFree(P), cudaFree(dS), cudaFree(yb), cudaFree(dy), cudaFree(y);
        cudaFree(S), cudaFree(dq);
    }
    printf("dense_mfu %.4f\n", mfu);
    l720_dense_free(m);
    return 0;
}
