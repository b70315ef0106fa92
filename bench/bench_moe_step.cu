/* bench_moe_step.cu: the training step (forward + backward + clip norm +
 * AdamW, kernels/gpu_model.h) of Switch-MoE models against the dense model of
 * equal active parameters, GPT-2-small shape: d 768, 12 layers, 12 heads,
 * T 1024, vocab 50257, SwiGLU hidden 3d, B sequences (default 8). Each MoE
 * expert has the dense FFN's hidden size, so a token's active parameters are
 * the dense model's plus the router's E x d. Configurations:
 *   dense;  E = 8 in every layer;  E = 8 and E = 64 in every other layer
 *   (the Switch Transformer's placement; E = 64 in all 12 layers needs
 *   ~74 GB of weights, gradients and moments alone).
 * Each optimiser step is timed from host to host (tokens uploaded, losses
 * read back), as the trainer runs it: K micro-batches of B sequences
 * (forward, backward for the first and backward_add for the others), then
 * one gradient norm and one AdamW (train --grad-accum K). Every model is
 * timed at K = 1 and at the given K; median of `steps` optimiser steps after
 * 2 warm-up steps each.
 * Usage: bench_moe_step [B] [steps] [K] [ONLY] (defaults 8 10 8; ONLY, one
 * of dense, e8, e8alt, e64: time that configuration alone, for a kernel
 * profile, and print no ratio). Prints the
 * K = 1 overheads (MoE step time / dense step time) as
 * `moe_step_overhead_E8_k1`, `moe_step_overhead_E8_alt_k1`,
 * `moe_step_overhead_E64_alt_k1`, then those at K as
 * `moe_step_overhead_E8_alt`, and last `moe_step_overhead_E8` (E 8 in every
 * layer) and `moe_step_overhead_E64` (E 64 in every other layer). */
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/gpu_model.h"

static double now_s(void)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/* Median optimiser-step times (ms) of one configuration at K = 1 (ms[0])
 * and at K micro-batches (ms[1]); 0, or -1 after printing an error. */
static int time_config(const char *name, int E, int every, int B, int steps, int K, double *res)
{
    l720_model_cfg c = {};
    c.vocab = 50257;
    c.d_model = 768;
    c.n_layers = 12;
    c.n_heads = 12;
    c.seq_len = 1024;
    for (int l = 0; l < c.n_layers; l++) {
        c.ffn[l].kind = E > 1 && l % every == every - 1 ? L720_FFN_MOE : L720_FFN_DENSE;
        c.ffn[l].n_experts = E;
        c.ffn[l].topk = 1;
    }
    l720_err err;
    if (l720_model_cfg_check(&c, &err)) {
        printf("%s: %s\n", name, err.msg);
        return -1;
    }
    l720_model *host = l720_model_new(&c, 1, 12345, &err);
    if (!host) {
        printf("%s: %s\n", name, err.msg);
        return -1;
    }
    int nt;
    const l720_tensor *ts = l720_model_tensors(host, &nt);
    l720_gpu_model *m = l720_gpu_model_new(&c, ts, nt, B, &err);
    size_t nb = 0;
    float *buf = l720_model_buffers(host, &nb);
    if (!m || l720_gpu_model_set_state(m, l720_model_params(host), nb ? buf : NULL, NULL, NULL, 0,
                                       &err)) {
        printf("%s: %s\n", name, err.msg);
        l720_gpu_model_free(m);
        l720_model_free(host);
        return -1;
    }
    size_t N = (size_t)B * c.seq_len;
    std::vector<int32_t> tok(N + (size_t)K);
    uint64_t s = 777;
    for (auto &t : tok) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t = (int32_t)((s >> 33) % (uint64_t)c.vocab);
    }
    l720_adamw_hp hp = {3e-4, 0.9, 0.95, 1e-8, 0.1};
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        int k_n = pass ? K : 1;
        std::vector<double> ms;
        double loss = 0, aux = 0;
        for (int i = 0; i < steps + 2 && !rc; i++) {
            double t0 = now_s(), norm = 0;
            loss = aux = 0;
            for (int k = 0; k < k_n && !rc; k++) { /* micro-batch k: the tokens shifted by k */
                l720_forward_out out = {};
                const int32_t *tk = tok.data() + k;
                rc = l720_gpu_model_forward(m, tk, tk + 1, B, c.seq_len, 1, &out, &err) ||
                     (k ? l720_gpu_model_backward_add(m, &err) : l720_gpu_model_backward(m, &err));
                loss += out.loss / k_n;
                aux += out.aux_loss / k_n;
            }
            if (rc || l720_gpu_model_grad_norm(m, &norm, &err) ||
                l720_gpu_model_adamw_step(m, &hp, l720_accum_scale(norm, k_n, 1.0), &err)) {
                printf("%s: %s\n", name, err.msg);
                rc = -1;
                break;
            }
            cudaDeviceSynchronize();
            if (i >= 2)
                ms.push_back((now_s() - t0) * 1e3);
        }
        if (rc)
            break;
        std::sort(ms.begin(), ms.end());
        double med = res[pass] = ms[ms.size() / 2];
        printf("%-22s K %2d  step_ms %8.2f  tokens/s %9.0f  N_act %.1f M  N_total %.1f M  "
               "loss %.4f aux %.4f\n",
               name, k_n, med, (double)N * k_n / (med * 1e-3), l720_model_active_params(host) / 1e6,
               l720_model_total_params(host) / 1e6, loss, aux);
    }
    l720_gpu_model_free(m);
    l720_model_free(host);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out at once: a run stopped by a time limit keeps them */
    int B = argc > 1 ? atoi(argv[1]) : 8, steps = argc > 2 ? atoi(argv[2]) : 10;
    int K = argc > 3 ? atoi(argv[3]) : 8;
    int count = 0;
    if (B < 1 || steps < 1 || K < 1) {
        printf("usage: bench_moe_step [B] [steps] [K], each a positive integer\n");
        return 2;
    }
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s; d 768, 12 layers, T 1024, batch %d x K 1 and x K %d (%d tokens per "
           "optimiser step), capacity 1.25, median of %d steps\n",
           prop.name, B, K, B * K * 1024, steps);
    double d[2], e8[2], e8a[2], e64a[2];
    if (argc > 4) {
        static const struct { const char *name; int E, every; } only[] = {
            {"dense", 1, 1}, {"e8", 8, 1}, {"e8alt", 8, 2}, {"e64", 64, 2}};
        for (const auto &o : only)
            if (!strcmp(argv[4], o.name))
                return time_config(o.name, o.E, o.every, B, steps, K, d) ? 1 : 0;
        printf("bench_moe_step: ONLY is one of dense, e8, e8alt, e64, not '%s'\n", argv[4]);
        return 2;
    }
    if (time_config("dense", 1, 1, B, steps, K, d) ||
        time_config("moe E=8 every layer", 8, 1, B, steps, K, e8) ||
        time_config("moe E=8 every other", 8, 2, B, steps, K, e8a) ||
        time_config("moe E=64 every other", 64, 2, B, steps, K, e64a))
        return 1;
    printf("%-22s %12s %12s\n", "overhead vs dense", "K 1", "K");
    printf("%-22s %12.3f %12.3f\n", "E 8 every layer", e8[0] / d[0], e8[1] / d[1]);
    printf("%-22s %12.3f %12.3f\n", "E 8 every other", e8a[0] / d[0], e8a[1] / d[1]);
    printf("%-22s %12.3f %12.3f\n", "E 64 every other", e64a[0] / d[0], e64a[1] / d[1]);
    printf("moe_step_overhead_E8_k1 %.3f\n", e8[0] / d[0]);
    printf("moe_step_overhead_E8_alt_k1 %.3f\n", e8a[0] / d[0]);
    printf("moe_step_overhead_E64_alt_k1 %.3f\n", e64a[0] / d[0]);
    printf("moe_step_overhead_E8_alt %.3f\n", e8a[1] / d[1]);
    printf("moe_step_overhead_E8 %.3f\n", e8[1] / d[1]);
    printf("moe_step_overhead_E64 %.3f\n", e64a[1] / d[1]);
    return 0;
}
