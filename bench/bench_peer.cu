/* bench_peer.cu: the GPU PEER layer, forward + backward, at the issue's
 * shape (d 1024, N 1024^2, h 8, k 16, dk 128, 32,768 tokens; options
 * override). Times with device events around each iteration (median of
 * --reps after --warmup), prints the stage breakdown and the bytes the
 * expert part moves against the measured ~3.0 TB/s, and last:
 *   peer_fwd_bwd_ms VALUE
 * Usage: bench_peer [--tokens T] [--d D] [--n N] [--heads H] [--topk K]
 *                   [--dk DK] [--reps R] [--warmup W] */
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/peer_gpu.h"

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "bench_peer: %s:%d: %s\n", __FILE__, __LINE__,                        \
                    cudaGetErrorString(e_));                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* bf16 of a hashed approximate normal (sum of 4 uniforms), scaled. */
__global__ void k_fill_bf16(uint16_t *a, size_t n, float scale, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        for (int r = 0; r < 4; r++) {
            h ^= h >> 16;
            h *= 0x7feb352du;
            h ^= h >> 15;
            h *= 0x846ca68bu;
            h ^= h >> 16;
            s += (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
        }
        float f = s * 1.7320508f * scale; /* unit variance times scale */
        uint32_t b = __float_as_uint(f);
        b += 0x7fffu + ((b >> 16) & 1u);
        a[i] = (uint16_t)(b >> 16);
    }
}

static uint16_t *rand_bf16(size_t n, float scale, uint32_t seed)
{
    uint16_t *d;
    CK(cudaMalloc(&d, n * 2));
    k_fill_bf16<<<4096, 256>>>(d, n, scale, seed);
    CK(cudaGetLastError());
    return d;
}

static float *const_f(size_t n, float v)
{
    std::vector<float> h(n, v);
    float *d;
    CK(cudaMalloc(&d, n * 4));
    CK(cudaMemcpy(d, h.data(), n * 4, cudaMemcpyHostToDevice));
    return d;
}

int main(int argc, char **argv)
{
    l720_peer_dims m = {32768, 1024, 1024, 8, 16, 128};
    int reps = 20, warmup = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--tokens")) m.tokens = v;
        else if (!strcmp(argv[i], "--d")) m.d = v;
        else if (!strcmp(argv[i], "--n")) m.n = v;
        else if (!strcmp(argv[i], "--heads")) m.heads = v;
        else if (!strcmp(argv[i], "--topk")) m.topk = v;
        else if (!strcmp(argv[i], "--dk")) m.d_key = v;
        else if (!strcmp(argv[i], "--reps")) reps = v;
        else if (!strcmp(argv[i], "--warmup")) warmup = v;
        else {
            fprintf(stderr, "bench_peer: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        fprintf(stderr, "bench_peer: no CUDA device\n");
        return 2;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    const size_t T = m.tokens, d = m.d, N = (size_t)m.n * m.n, HD = (size_t)m.heads * m.d_key;
    const size_t P = T * m.heads * m.topk;
    printf("device %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    printf("shape T %zu d %zu N %zu h %d k %d dk %d: %zu (token, expert) pairs\n", T, d, N,
           m.heads, m.topk, m.d_key, P);

    uint16_t *x = rand_bf16(T * d, 1.0f, 1), *dy = rand_bf16(T * d, 1.0f, 2);
    uint16_t *wq = rand_bf16(d * HD, 1.0f / 32, 3), *keys = rand_bf16(HD * m.n, 0.125f, 4);
    uint16_t *u = rand_bf16(N * d, 1.0f / 32, 5), *v = rand_bf16(N * d, 1.0f / 32, 6);
    float *rm = const_f(HD, 0.0f), *rv = const_f(HD, 1.0f);
    uint16_t *y, *dx;
    CK(cudaMalloc(&y, T * d * 2));
    CK(cudaMalloc(&dx, T * d * 2));
    l720_peer_grads g;
    CK(cudaMalloc(&g.wq, d * HD * 4));
    CK(cudaMalloc(&g.keys, HD * m.n * 4));
    float *gamma = const_f(HD, 1.0f), *beta = const_f(HD, 0.0f);
    CK(cudaMalloc(&g.gamma, HD * 4));
    CK(cudaMalloc(&g.beta, HD * 4));
    l720_peer_weights w = {wq, keys, gamma, beta, u, v, rm, rv, 0.1f};
    l720_err err;
    l720_peer_gpu *p = l720_peer_gpu_new(&m, &err);
    if (!p) {
        fprintf(stderr, "bench_peer: %s\n", err.msg);
        return err.code;
    }
    printf("workspace %.2f GB, weights U+V %.2f GB bf16\n", l720_peer_gpu_workspace_bytes(&m) / 1e9,
           2.0 * N * d * 2 / 1e9);
    cudaEvent_t e0, e1, e2;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaEventCreate(&e2));
    std::vector<float> tot, fwd, bwd;
    for (int it = 0; it < warmup + reps; it++) {
        CK(cudaEventRecord(e0));
        if (l720_peer_gpu_forward(p, &w, x, y, (int)T, 1, NULL, &err))
            break;
        CK(cudaEventRecord(e1));
        if (l720_peer_gpu_backward(p, &w, x, dy, dx, &g, NULL, &err))
            break;
        CK(cudaEventRecord(e2));
        CK(cudaEventSynchronize(e2));
        float a, b;
        CK(cudaEventElapsedTime(&a, e0, e1));
        CK(cudaEventElapsedTime(&b, e1, e2));
        if (it >= warmup) {
            fwd.push_back(a);
            bwd.push_back(b);
            tot.push_back(a + b);
        }
    }
    if (err.code) {
        fprintf(stderr, "bench_peer: %s\n", err.msg);
        return err.code;
    }
    CK(cudaDeviceSynchronize());
    auto med = [](std::vector<float> a) {
        std::sort(a.begin(), a.end());
        return a[a.size() / 2];
    };
    auto spread = [](std::vector<float> a) {
        std::sort(a.begin(), a.end());
        return a.back() - a.front();
    };
    /* one more iteration with stage events */
    if (l720_peer_gpu_timing(p, 1, &err) || l720_peer_gpu_forward(p, &w, x, y, (int)T, 1, NULL, &err) ||
        l720_peer_gpu_backward(p, &w, x, dy, dx, &g, NULL, &err)) {
        fprintf(stderr, "bench_peer: %s\n", err.msg);
        return err.code;
    }
    const char *names[32];
    float ms[32];
    int ns = l720_peer_gpu_stage_times(p, names, ms, 32);
    const int32_t *rid;
    const uint16_t *du, *dv;
    int nt = 0;
    if (l720_peer_gpu_rows(p, &rid, &du, &dv, &nt, NULL, &err)) {
        fprintf(stderr, "bench_peer: %s\n", err.msg);
        return err.code;
    }
    /* bytes the expert part moves (x and dy gathers counted as L2 hits) */
    const double row = d * 2.0, rowf = d * 2.0; /* bf16 gradient rows */
    double b_act = nt * row, b_y = P * row, b_dv = nt * row + nt * rowf, b_du = nt * rowf,
           b_dx = P * row;
    double floor_b = nt * (4 * row + 2 * rowf); /* each touched row read once per pass, grads once */
    printf("touched experts %d of %zu (%.1f%%), %.2f pairs per touched expert\n", nt, N,
           100.0 * nt / N, (double)P / nt);
    printf("\n%-28s %9s %9s %9s\n", "stage (one run, no overlap)", "ms", "GB", "TB/s");
    for (int i = 0; i < ns; i++) {
        double b = 0;
        if (strstr(names[i], "u.x")) b = b_act;
        else if (strstr(names[i], "y (v")) b = b_y;
        else if (strstr(names[i], "bwd dV")) b = b_dv;
        else if (strstr(names[i], "bwd dU")) b = b_du;
        else if (strstr(names[i], "dx (u")) b = b_dx;
        if (b > 0)
            printf("%-28s %9.3f %9.2f %9.2f\n", names[i], ms[i], b / 1e9, b / 1e9 / ms[i]);
        else
            printf("%-28s %9.3f\n", names[i], ms[i]);
    }
    double mt = med(tot);
    double moved = b_act + b_y + b_dv + b_du + b_dx;
    printf("\nforward %.3f ms, backward %.3f ms (medians of %d; spread of the total %.3f ms)\n",
           med(fwd), med(bwd), reps, spread(tot));
    printf("expert-part bytes as implemented %.2f GB -> %.2f TB/s over the whole step\n",
           moved / 1e9, moved / 1e9 / mt);
    printf("floor: touched rows read once per pass + bf16 row grads written once = %.2f GB = %.2f ms at 3.0 TB/s\n",
           floor_b / 1e9, floor_b / 3.0e12 * 1e3);
    printf("peer_fwd_bwd_ms %.3f\n", mt);
    l720_peer_gpu_free(p);
    return 0;
}
