/* bench_moe_step.cu: the training step (forward + backward + clip norm +
 * AdamW, kernels/gpu_model.h) of Switch-MoE models against the dense model of
 * equal active parameters, GPT-2-small shape: d 768, 12 layers, 12 heads,
 * T 1024, vocab 50257, SwiGLU hidden 3d, B sequences (default 8). Each MoE
 * expert has the dense FFN's hidden size, so a token's active parameters are
 * the dense model's plus the router's E x d. Configurations:
 *   dense;  E = 8 in every layer;  E = 8 and E = 64 in every other layer
 *   (the Switch Transformer's placement; E = 64 in all 12 layers needs
 *   ~74 GB of weights, gradients and moments alone).
 * Each step is timed from host to host (tokens uploaded, loss read back), as
 * the trainer runs it; median of `steps` after 2 warm-up steps.
 * Usage: bench_moe_step [B] [steps]. Prints `moe_step_overhead_E8`,
 * `moe_step_overhead_E8_alt`, `moe_step_overhead_E64_alt` (MoE step time /
 * dense step time) last. */
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/gpu_model.h"

static double now_s(void)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/* Median step time (ms) of one configuration; -1 after printing an error. */
static double time_config(const char *name, int E, int every, int B, int steps)
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
    std::vector<int32_t> tok(N + 1);
    uint64_t s = 777;
    for (auto &t : tok) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t = (int32_t)((s >> 33) % (uint64_t)c.vocab);
    }
    l720_adamw_hp hp = {3e-4, 0.9, 0.95, 1e-8, 0.1};
    std::vector<double> ms;
    double loss = 0, aux = 0;
    for (int i = 0; i < steps + 2; i++) {
        double t0 = now_s(), norm = 0;
        l720_forward_out out;
        if (l720_gpu_model_forward(m, tok.data(), tok.data() + 1, B, c.seq_len, 1, &out, &err) ||
            l720_gpu_model_backward(m, &err) || l720_gpu_model_grad_norm(m, &norm, &err) ||
            l720_gpu_model_adamw_step(m, &hp, norm > 1.0 ? 1.0 / norm : 1.0, &err)) {
            printf("%s: %s\n", name, err.msg);
            ms.clear();
            break;
        }
        cudaDeviceSynchronize();
        if (i >= 2)
            ms.push_back((now_s() - t0) * 1e3);
        loss = out.loss;
        aux = out.aux_loss;
    }
    double med = -1;
    if (!ms.empty()) {
        std::sort(ms.begin(), ms.end());
        med = ms[ms.size() / 2];
        printf("%-22s step_ms %8.2f  tokens/s %9.0f  N_act %.1f M  N_total %.1f M  loss %.4f aux %.4f\n",
               name, med, (double)N / (med * 1e-3), l720_model_active_params(host) / 1e6,
               l720_model_total_params(host) / 1e6, loss, aux);
    }
    l720_gpu_model_free(m);
    l720_model_free(host);
    return med;
}

int main(int argc, char **argv)
{
    int B = argc > 1 ? atoi(argv[1]) : 8, steps = argc > 2 ? atoi(argv[2]) : 10;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s; d 768, 12 layers, T 1024, batch %d, capacity 1.25, median of %d steps\n",
           prop.name, B, steps);
    double dense = time_config("dense", 1, 1, B, steps);
    double e8 = time_config("moe E=8 every layer", 8, 1, B, steps);
    double e8a = time_config("moe E=8 every other", 8, 2, B, steps);
    double e64a = time_config("moe E=64 every other", 64, 2, B, steps);
    if (dense <= 0 || e8 <= 0 || e8a <= 0 || e64a <= 0)
        return 1;
    printf("moe_step_overhead_E8 %.3f\n", e8 / dense);
    printf("moe_step_overhead_E8_alt %.3f\n", e8a / dense);
    printf("moe_step_overhead_E64_alt %.3f\n", e64a / dense);
    return 0;
}
