/* bench_dense.cu: one dense training step (forward + backward + gradient
 * norm + AdamW) of the GPT-2-small shape on the GPU, through the whole-model
 * API (kernels/gpu_model.h) with every FFN dense: d 768, 12 layers, 12
 * heads, T 1024, vocab 50257, SwiGLU hidden 3d (the CPU model's defaults,
 * layout and initial parameters, seed 12345). Timed with events over
 * steps after warm-up (the step synchronises with the host twice: the loss
 * and the norm, as the trainer's step does). Usage: bench_dense [B] [steps]
 * [tune]: tune 0 keeps the product library's first choice of algorithm
 * (gemm.h; default 1, as the model runs), and the chosen algorithms are
 * listed per shape.
 * FLOPs per token: 6 * N_mm + 12 * L * d * T, N_mm = L (4d^2 + 3dH) + V d
 * (the weight matrices that multiply: blocks and LM head; the embedding
 * lookup is no product), 12 L d T the attention score and value products
 * counted over the full T x T (what the kernels compute). MFU against
 * 989 TFLOP/s bf16 dense. Prints `dense_mfu` last. */
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>
#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/flash_attn.h"
#include "kernels/gpu_model.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out at once: a run stopped by a time limit keeps them */
    int B = argc > 1 ? atoi(argv[1]) : 8, steps = argc > 2 ? atoi(argv[2]) : 10;
    int tune = argc > 3 ? atoi(argv[3]) : 1;
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = 50257;
    c.d_model = 768;
    c.n_layers = 12;
    c.n_heads = 12;
    c.seq_len = 1024;
    l720_err err;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    /* the defaults, the layout and the initial parameters from the CPU model */
    l720_model *host = NULL;
    if (l720_model_cfg_check(&c, &err) || !(host = l720_model_new(&c, 1, 12345, &err))) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    size_t free0 = 0, free1 = 0, total = 0;
    cudaMemGetInfo(&free0, &total);
    int nt;
    const l720_tensor *ts = l720_model_tensors(host, &nt);
    l720_gpu_model *m = l720_gpu_model_new(&c, ts, nt, B, &err);
    if (!m) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    cudaMemGetInfo(&free1, &total);
    l720_gemm_set_tune(l720_gpu_model_gemm(m), tune);
    size_t d = (size_t)c.d_model, H = (size_t)c.ffn_hidden, V = (size_t)c.vocab;
    size_t N = (size_t)B * c.seq_len;
    if (l720_gpu_model_set_state(m, l720_model_params(host), NULL, NULL, NULL, 0, &err)) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    uint64_t s = 12345;
    std::vector<int32_t> tok(N), tg(N);
    for (size_t i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((s >> 33) % V);
    }
    for (size_t i = 0; i + 1 < N; i++)
        tg[i] = tok[i + 1];
    tg[N - 1] = 0;
    const l720_adamw_hp hp = {3e-4, 0.9, 0.95, 1e-8, 0.1};
    l720_forward_out fo = {0, 0};
    double norm = 0;
    auto step = [&](int fb_only) -> int {
        if (l720_gpu_model_forward(m, tok.data(), tg.data(), B, c.seq_len, 1, &fo, &err) ||
            l720_gpu_model_backward(m, &err))
            return 1;
        if (fb_only)
            return 0;
        return l720_gpu_model_grad_norm(m, &norm, &err) ||
               l720_gpu_model_adamw_step(m, &hp, norm > 1.0 ? 1.0 / norm : 1.0, &err);
    };
    for (int i = 0; i < 2; i++) /* warm-up */
        if (step(0)) {
            printf("error: %s\n", err.msg);
            return 1;
        }
    double loss = fo.loss;
    cudaStream_t st = (cudaStream_t)l720_gpu_model_stream(m);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    /* one forward+backward alone, then the full steps */
    cudaEventRecord(e0, st);
    if (step(1)) {
        printf("error: %s\n", err.msg);
        return 1;
    }
    cudaEventRecord(e1, st);
    cudaEventSynchronize(e1);
    float fb_ms = 0;
    cudaEventElapsedTime(&fb_ms, e0, e1);
    /* the host's time to enqueue one backward (it does not wait for the GPU)
     * against the GPU's time to run it: a host slower than the GPU leaves the
     * GPU idle between kernels */
    float bwd_gpu_ms = 0;
    double bwd_host_ms = 0;
    {
        if (l720_gpu_model_forward(m, tok.data(), tg.data(), B, c.seq_len, 1, &fo, &err)) {
            printf("error: %s\n", err.msg);
            return 1;
        }
        struct timespec h0, h1;
        cudaEventRecord(e0, st);
        clock_gettime(CLOCK_MONOTONIC, &h0);
        int rc = l720_gpu_model_backward(m, &err);
        clock_gettime(CLOCK_MONOTONIC, &h1);
        cudaEventRecord(e1, st);
        cudaEventSynchronize(e1);
        if (rc) {
            printf("error: %s\n", err.msg);
            return 1;
        }
        cudaEventElapsedTime(&bwd_gpu_ms, e0, e1);
        bwd_host_ms = (h1.tv_sec - h0.tv_sec) * 1e3 + (h1.tv_nsec - h0.tv_nsec) / 1e6;
    }
    cudaEventRecord(e0, st);
    for (int i = 0; i < steps; i++)
        if (step(0)) {
            printf("error: %s\n", err.msg);
            return 1;
        }
    cudaEventRecord(e1, st);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    /* the same steps again with an event at each call's return: where the
     * step's time goes on the GPU's clock, idle time included (the forward and
     * the norm wait for the GPU before they return) */
    double ph[5] = {0, 0, 0, 0, 0}; /* forward, backward, norm, AdamW, between steps */
    {
        cudaEvent_t ev[6];
        for (auto &e : ev)
            cudaEventCreate(&e);
        for (int i = 0; i < steps; i++) {
            cudaEventRecord(ev[0], st);
            int rc = l720_gpu_model_forward(m, tok.data(), tg.data(), B, c.seq_len, 1, &fo, &err);
            cudaEventRecord(ev[1], st);
            rc = rc || l720_gpu_model_backward(m, &err);
            cudaEventRecord(ev[2], st);
            rc = rc || l720_gpu_model_grad_norm(m, &norm, &err);
            cudaEventRecord(ev[3], st);
            rc = rc || l720_gpu_model_adamw_step(m, &hp, norm > 1.0 ? 1.0 / norm : 1.0, &err);
            cudaEventRecord(ev[4], st);
            cudaEventSynchronize(ev[4]);
            if (rc) {
                printf("error: %s\n", err.msg);
                return 1;
            }
            for (int k = 0; k < 4; k++) {
                float t = 0;
                cudaEventElapsedTime(&t, ev[k], ev[k + 1]);
                ph[k] += t / steps;
            }
            if (i) {
                float t = 0;
                cudaEventElapsedTime(&t, ev[5], ev[0]);
                ph[4] += t / (steps - 1);
            }
            std::swap(ev[4], ev[5]); /* this step's end, for the next step's gap */
        }
        for (auto &e : ev)
            cudaEventDestroy(e);
    }
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) {
        printf("error: %s\n", cudaGetErrorString(ce));
        return 1;
    }
    double step_ms = ms / steps, tps = N / (step_ms * 1e-3);
    double L = 12, T = 1024, Nmm = L * (4.0 * d * d + 3.0 * d * H) + (double)V * d;
    double fpt = 6.0 * Nmm + 12.0 * L * d * T;
    double mfu = fpt * tps / 989e12;
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s\n", prop.name);
    printf("shape d 768 layers 12 heads 12 T 1024 vocab 50257 hidden 2304 batch %d tokens/step %zu\n",
           B, N);
    printf("gpu_model_bytes %zu (%.2f GiB planned; the model took %.2f GiB)\n",
           l720_gpu_model_bytes(&c, B), l720_gpu_model_bytes(&c, B) / 1073741824.0,
           (free0 - free1) / 1073741824.0);
    printf("params_matmul %.1f M  flops/token %.4g (6*N_mm + 12*L*d*T)\n", Nmm / 1e6, fpt);
    printf("loss_step2 %.4f (ln V = %.4f)\n", loss, log((double)V));
    printf("fwd_bwd_ms %.3f\n", fb_ms);
    printf("step_ms %.3f (fwd+bwd+norm+AdamW, mean of %d, eager)\n", step_ms, steps);
    printf("tokens_per_s %.0f\n", tps);
    printf("phase_ms forward %.3f backward %.3f norm %.3f adamw %.3f between_steps %.3f (GPU clock, "
           "idle included; the step timed separately)\n", ph[0], ph[1], ph[2], ph[3], ph[4]);
    printf("backward_enqueue_host_ms %.3f (GPU %.3f ms for the same backward)\n", bwd_host_ms,
           bwd_gpu_ms);
    printf("achieved_tflops %.1f\n", fpt * tps / 1e12);
    /* breakdown: the attention core alone (12 layers of the fused kernels the
     * model runs at head size 64, forward + backward) on random bf16 data */
    {
        size_t n3 = N * 3 * d, nl = (size_t)B * 12 * 1024;
        uint16_t *qkv, *yb, *dy;
        float *lse, *dsum, *dq;
        cudaMalloc(&qkv, n3 * 2);
        cudaMalloc(&yb, N * d * 2);
        cudaMalloc(&dy, N * d * 2);
        cudaMalloc(&lse, nl * 4);
        cudaMalloc(&dsum, nl * 4);
        cudaMalloc(&dq, n3 * 4);
        std::vector<uint16_t> hr(n3);
        for (auto &x : hr) { /* bf16 of uniform values in (-1.5, 1.5) */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float f = (float)(((double)(s >> 11) / 9007199254740992.0 * 2 - 1) * 1.5);
            uint32_t u;
            memcpy(&u, &f, 4);
            x = (uint16_t)(u >> 16);
        }
        cudaMemcpy(qkv, hr.data(), n3 * 2, cudaMemcpyHostToDevice);
        cudaMemcpy(dy, hr.data(), N * d * 2, cudaMemcpyHostToDevice);
        float a_ms = 0;
        for (int rep = 0; rep < 2; rep++) {
            cudaEventRecord(e0, st);
            for (int l = 0; l < 12; l++)
                if (l720_flash_attn_fwd(yb, lse, qkv, B, 1024, 768, 12, st, &err) ||
                    l720_flash_attn_bwd(dq, dsum, dy, yb, lse, qkv, B, 1024, 768, 12, st, &err)) {
                    printf("error: %s\n", err.msg);
                    return 1;
                }
            cudaEventRecord(e1, st);
            cudaEventSynchronize(e1);
            cudaEventElapsedTime(&a_ms, e0, e1);
        }
        printf("attention_ms %.3f (12 layers fwd+bwd of the fused kernels, %.1f%% of a step)\n",
               a_ms, 100.0 * a_ms / step_ms);
        cudaFree(qkv), cudaFree(yb), cudaFree(dy), cudaFree(lse), cudaFree(dsum), cudaFree(dq);
    }
    /* what the product tuning chose, per shape */
    l720_gemm *g = l720_gpu_model_gemm(m);
    double save = 0;
    printf("gemm_tune %d: %d shapes (M N K batch ta tb out-bytes: candidates, bitwise-equal, kept, "
           "ms first, ms kept)\n", tune, l720_gemm_plans(g));
    for (int i = 0; i < l720_gemm_plans(g); i++) {
        l720_gemm_info f;
        l720_gemm_plan_info(g, i, &f);
        printf("  %6d %6d %6d %3d %d %d %d: %2d %2d %2d %8.4f %8.4f\n", f.M, f.N, f.K, f.batch, f.ta,
               f.tb, f.out_bytes, f.candidates, f.equal, f.chosen, f.ms_first, f.ms_chosen);
        save += f.ms_first - f.ms_chosen;
    }
    printf("gemm_tune_saved_ms %.3f (sum over the shapes of one call each)\n", save);
    printf("dense_mfu %.4f\n", mfu);
    l720_gpu_model_free(m);
    l720_model_free(host);
    return 0;
}
