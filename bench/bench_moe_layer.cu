/* bench_moe_layer.cu: forward + backward time of the Switch-MoE feed-forward
 * layer (kernels/moe_gpu.h) against the dense SwiGLU feed-forward of the
 * same hidden size (equal active parameters), GPT-2-small shape: C 768,
 * H 3C = 2304, N 8 x 1024 tokens, capacity factor 1.25, E 8 and 64.
 * The dense layer is the dense model's FFN: h13 = x [W1; W3]^T as one
 * product, SwiGLU, y = act W2^T; backward dact, dW2, SwiGLU backward,
 * dW13, dx (kernels/dense_gpu.h). Inputs: x uniform with unit variance
 * (the RMSNorm output), weights and router with the model's init std 0.02.
 * Each configuration: 3 warm-up runs, then 20 runs enqueued back to back
 * with an event between runs; the median run is reported, eager and as a
 * replayed CUDA graph (where capture works: not for the `tight` layout,
 * which reads the loads back to the host). Usage: bench_moe_layer [N].
 * Prints `moe_layer_overhead_E8` and `moe_layer_overhead_E64` (MoE / dense,
 * eager medians) last. The MoE layer keeps h1, h3 and dact in bf16; the
 * dense FFN here keeps h13 and dact in fp32, as the dense model does. */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/moe_gpu.h"

#define REPS 20

static l720_err err;
static cudaStream_t st;

static void die(const char *what)
{
    printf("error: %s: %s\n", what, err.msg[0] ? err.msg : cudaGetErrorString(cudaGetLastError()));
    exit(1);
}

static uint64_t rs = 88172645463325252ull;
static float urand1() /* uniform, variance 1 */
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)(((double)(rs >> 11) / 9007199254740992.0 * 2 - 1) * 1.7320508);
}
static uint16_t f2bf(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}
static void *dev_rand(size_t n, double sd, bool bf)
{
    void *p;
    if (cudaMalloc(&p, n * (bf ? 2 : 4)) != cudaSuccess)
        die("cudaMalloc");
    if (bf) {
        std::vector<uint16_t> h(n);
        for (auto &v : h)
            v = f2bf((float)(urand1() * sd));
        cudaMemcpy(p, h.data(), n * 2, cudaMemcpyHostToDevice);
    } else {
        std::vector<float> h(n);
        for (auto &v : h)
            v = (float)(urand1() * sd);
        cudaMemcpy(p, h.data(), n * 4, cudaMemcpyHostToDevice);
    }
    return p;
}
template <typename T> static T *dev(size_t n)
{
    void *p;
    if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess)
        die("cudaMalloc");
    cudaMemset(p, 0, n * sizeof(T));
    return (T *)p;
}

struct timing {
    double fwd, bwd, total, graph; /* medians, ms; graph < 0: capture failed */
};

static double median(std::vector<float> v)
{
    std::sort(v.begin(), v.end());
    return 0.5 * (v[(v.size() - 1) / 2] + v[v.size() / 2]);
}

/* fwd and bwd enqueue one forward / backward on st. */
static timing time_layer(const std::function<int()> &fwd, const std::function<int()> &bwd,
                         bool try_graph)
{
    for (int i = 0; i < 3; i++)
        if (fwd() || bwd())
            die("warm-up");
    cudaEvent_t ev[3 * REPS];
    for (auto &e : ev)
        cudaEventCreate(&e);
    for (int i = 0; i < REPS; i++) {
        cudaEventRecord(ev[3 * i], st);
        if (fwd())
            die("forward");
        cudaEventRecord(ev[3 * i + 1], st);
        if (bwd())
            die("backward");
        cudaEventRecord(ev[3 * i + 2], st);
    }
    if (cudaStreamSynchronize(st) != cudaSuccess)
        die("run");
    std::vector<float> f(REPS), b(REPS), t(REPS);
    for (int i = 0; i < REPS; i++) {
        cudaEventElapsedTime(&f[i], ev[3 * i], ev[3 * i + 1]);
        cudaEventElapsedTime(&b[i], ev[3 * i + 1], ev[3 * i + 2]);
        cudaEventElapsedTime(&t[i], ev[3 * i], ev[3 * i + 2]);
    }
    timing r = {median(f), median(b), median(t), -1.0};
    if (try_graph) {
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        bool ok = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
        if (ok) {
            bool bad = fwd() || bwd();
            ok = cudaStreamEndCapture(st, &graph) == cudaSuccess && !bad;
        }
        if (ok && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
            cudaGraphLaunch(exec, st);
            for (int i = 0; i < REPS; i++) {
                cudaEventRecord(ev[2 * i], st);
                cudaGraphLaunch(exec, st);
                cudaEventRecord(ev[2 * i + 1], st);
            }
            cudaStreamSynchronize(st);
            for (int i = 0; i < REPS; i++)
                cudaEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1]);
            r.graph = median(t);
            cudaGraphExecDestroy(exec);
            cudaGraphDestroy(graph);
        }
        cudaGetLastError();
    }
    for (auto &e : ev)
        cudaEventDestroy(e);
    return r;
}

/* The layer's nine expert products alone (one batched call each over E
 * experts of capS rows, as the padded layout runs them, with the same
 * result types: h1, h3, dact bf16), on scratch rows. */
static timing time_products(l720_gemm *g, int E, int capS, int C, int H, const uint16_t *w1,
                            const uint16_t *w3, const uint16_t *w2, float *g1, float *g3, float *g2)
{
    size_t R = (size_t)E * capS;
    uint16_t *xs = dev<uint16_t>(R * C), *act = dev<uint16_t>(R * H), *dys = dev<uint16_t>(R * C);
    uint16_t *dh1 = dev<uint16_t>(R * H), *dh3 = dev<uint16_t>(R * H);
    uint16_t *h1 = dev<uint16_t>(R * H), *h3 = dev<uint16_t>(R * H), *dact = dev<uint16_t>(R * H);
    float *ys = dev<float>(R * C), *dxs = dev<float>(R * C);
    long HC = (long)H * C, rc = (long)capS * C, rh = (long)capS * H;
    auto fwd = [&]() {
        return l720_gemm_bf16_out(g, 0, 1, capS, H, C, 1.0f, xs, C, rc, w1, C, HC, 0.0f, h1, H, rh,
                                  E, st, &err) ||
               l720_gemm_bf16_out(g, 0, 1, capS, H, C, 1.0f, xs, C, rc, w3, C, HC, 0.0f, h3, H, rh,
                                  E, st, &err) ||
               l720_gemm_bf16(g, 0, 1, capS, C, H, 1.0f, act, H, rh, w2, H, HC, 0.0f, ys, C, rc, E,
                              st, &err);
    };
    auto bwd = [&]() {
        return l720_gemm_bf16_out(g, 0, 0, capS, H, C, 1.0f, dys, C, rc, w2, H, HC, 0.0f, dact, H,
                                  rh, E, st, &err) ||
               l720_gemm_bf16(g, 1, 0, C, H, capS, 1.0f, dys, C, rc, act, H, rh, 0.0f, g2, H, HC, E,
                              st, &err) ||
               l720_gemm_bf16(g, 1, 0, H, C, capS, 1.0f, dh1, H, rh, xs, C, rc, 0.0f, g1, C, HC, E,
                              st, &err) ||
               l720_gemm_bf16(g, 1, 0, H, C, capS, 1.0f, dh3, H, rh, xs, C, rc, 0.0f, g3, C, HC, E,
                              st, &err) ||
               l720_gemm_bf16(g, 0, 0, capS, C, H, 1.0f, dh1, H, rh, w1, C, HC, 0.0f, dxs, C, rc, E,
                              st, &err) ||
               l720_gemm_bf16(g, 0, 0, capS, C, H, 1.0f, dh3, H, rh, w3, C, HC, 1.0f, dxs, C, rc, E,
                              st, &err);
    };
    timing t = time_layer(fwd, bwd, true);
    cudaFree(xs), cudaFree(act), cudaFree(dys), cudaFree(dh1), cudaFree(dh3), cudaFree(h1);
    cudaFree(h3), cudaFree(ys), cudaFree(dact), cudaFree(dxs);
    return t;
}

static void report(const char *name, const timing &t, int rows, double dense_total)
{
    printf("%-14s rows %6d  fwd %7.3f ms  bwd %7.3f ms  fwd+bwd %7.3f ms  graph %7.3f ms  "
           "ratio %.3f\n",
           name, rows, t.fwd, t.bwd, t.total, t.graph,
           dense_total > 0 ? t.total / dense_total : 1.0);
}

int main(int argc, char **argv)
{
    const int C = 768, H = 3 * 768;
    const float cf = 1.25f;
    int N = argc > 1 ? atoi(argv[1]) : 8 * 1024;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("no GPU\n");
        return 77;
    }
    cudaStreamCreate(&st);
    l720_gemm *g = l720_gemm_new(&err);
    if (!g)
        die("gemm");
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s\n", prop.name);
    printf("shape C %d H %d N %d capacity_factor %.2f; median of %d runs after 3 warm-up\n", C, H,
           N, cf, REPS);

    uint16_t *x = (uint16_t *)dev_rand((size_t)N * C, 1.0, true);
    uint16_t *dy = (uint16_t *)dev_rand((size_t)N * C, 0.01, true);
    float *out = dev<float>((size_t)N * C), *dx = dev<float>((size_t)N * C);

    /* dense SwiGLU FFN */
    uint16_t *w13 = (uint16_t *)dev_rand((size_t)2 * H * C, 0.02, true);
    uint16_t *w2 = (uint16_t *)dev_rand((size_t)C * H, 0.02, true);
    uint16_t *h13 = dev<uint16_t>((size_t)N * 2 * H), *dact = dev<uint16_t>((size_t)N * H);
    float *dw13 = dev<float>((size_t)2 * H * C), *dw2 = dev<float>((size_t)C * H);
    uint16_t *act = dev<uint16_t>((size_t)N * H), *dh13 = dev<uint16_t>((size_t)N * 2 * H);
    auto dfwd = [&]() {
        return l720_gemm_bf16_out(g, 0, 1, N, 2 * H, C, 1.0f, x, C, 0, w13, C, 0, 0.0f, h13,
                                  2 * H, 0, 1, st, &err) ||
               l720_swiglu_fwd(act, h13, h13 + H, 2 * H, N, H, st, &err) ||
               l720_gemm_bf16(g, 0, 1, N, C, H, 1.0f, act, H, 0, w2, H, 0, 0.0f, out, C, 0, 1, st,
                              &err);
    };
    auto dbwd = [&]() {
        return l720_gemm_bf16_out(g, 0, 0, N, H, C, 1.0f, dy, C, 0, w2, H, 0, 0.0f, dact, H, 0, 1,
                                  st, &err) ||
               l720_gemm_bf16(g, 1, 0, C, H, N, 1.0f, dy, C, 0, act, H, 0, 0.0f, dw2, H, 0, 1, st,
                              &err) ||
               l720_swiglu_bwd(dh13, dh13 + H, dact, h13, h13 + H, 2 * H, N, H, st, &err) ||
               l720_gemm_bf16(g, 1, 0, 2 * H, C, N, 1.0f, dh13, 2 * H, 0, x, C, 0, 0.0f, dw13, C,
                              0, 1, st, &err) ||
               l720_gemm_bf16(g, 0, 0, N, C, 2 * H, 1.0f, dh13, 2 * H, 0, w13, C, 0, 0.0f, dx, C,
                              0, 1, st, &err);
    };
    timing dense = time_layer(dfwd, dbwd, true);
    double flops = 6.0 * 3.0 * N * C * H;
    report("dense", dense, N, dense.total);
    printf("dense_tflops %.1f (6 * 3 N C H per fwd+bwd)\n", flops / (dense.total * 1e-3) / 1e12);
    cudaFree(h13), cudaFree(dact), cudaFree(dh13), cudaFree(act);

    double ratio[2] = {0, 0};
    const int Es[2] = {8, 64};
    for (int k = 0; k < 2; k++) {
        int E = Es[k];
        size_t W = (size_t)E * H * C;
        float *router = (float *)dev_rand((size_t)E * C, 0.02, false);
        uint16_t *m1 = (uint16_t *)dev_rand(W, 0.02, true);
        uint16_t *m3 = (uint16_t *)dev_rand(W, 0.02, true);
        uint16_t *m2 = (uint16_t *)dev_rand(W, 0.02, true);
        float *g1 = dev<float>(W), *g3 = dev<float>(W), *g2 = dev<float>(W);
        float *gr = dev<float>((size_t)E * C);
        l720_moe_gpu *m = l720_moe_gpu_new(N, C, H, E, &err);
        if (!m)
            die("moe_gpu_new");
        printf("moe_E%d workspace %.1f MB, capacity %d tokens/expert\n", E,
               l720_moe_gpu_workspace_bytes(N, C, H, E) / 1e6, (int)ceil(cf * (double)N / E));
        auto mfwd = [&]() {
            return l720_moe_gpu_forward(m, g, out, x, router, m1, m3, m2, N, cf, st, &err);
        };
        auto mbwd = [&]() {
            return l720_moe_gpu_backward(m, g, dx, gr, g1, g3, g2, dy, x, router, m1, m3, m2, 0.01f,
                                         0.001f, st, &err);
        };
        for (int tight = 0; tight < 2; tight++) {
            l720_moe_gpu_set_tight(m, tight);
            timing t = time_layer(mfwd, mbwd, !tight);
            char name[32];
            snprintf(name, sizeof name, "moe_E%d%s", E, tight ? "_tight" : "");
            report(name, t, l720_moe_gpu_rows(m), dense.total);
            if (!tight) {
                ratio[k] = t.total / dense.total;
                int capS = l720_moe_gpu_rows(m) / E;
                timing pt = time_products(g, E, capS, C, H, m1, m3, m2, g1, g3, g2);
                snprintf(name, sizeof name, "products_E%d", E);
                report(name, pt, E * capS, dense.total);
                printf("moe_E%d outside the expert products: %.3f ms of %.3f (eager), %.3f of %.3f "
                       "(graph)\n",
                       E, t.total - pt.total, t.total, t.graph - pt.graph, t.graph);
            } else
                printf("moe_layer_overhead_E%d_tight %.3f\n", E, t.total / dense.total);
        }
        /* dropless evaluation forward, for reference */
        {
            std::vector<float> f(REPS);
            cudaEvent_t a, b;
            cudaEventCreate(&a);
            cudaEventCreate(&b);
            for (int i = 0; i < REPS; i++) {
                cudaEventRecord(a, st);
                if (l720_moe_gpu_forward(m, g, out, x, router, m1, m3, m2, N, 0.0f, st, &err))
                    die("dropless forward");
                cudaEventRecord(b, st);
                cudaEventSynchronize(b);
                cudaEventElapsedTime(&f[i], a, b);
            }
            printf("moe_E%d_dropless forward %.3f ms, rows %d (dense forward %.3f ms)\n", E,
                   median(f), l720_moe_gpu_rows(m), dense.fwd);
            cudaEventDestroy(a);
            cudaEventDestroy(b);
        }
        l720_moe_gpu_free(m);
        cudaFree(router), cudaFree(m1), cudaFree(m3), cudaFree(m2), cudaFree(g1), cudaFree(g3);
        cudaFree(g2), cudaFree(gr);
    }
    cudaError_t ce = cudaGetLastError();
    if (ce != cudaSuccess) {
        printf("error: %s\n", cudaGetErrorString(ce));
        return 1;
    }
    l720_gemm_free(g);
    printf("moe_layer_overhead_E8 %.3f\n", ratio[0]);
    printf("moe_layer_overhead_E64 %.3f\n", ratio[1]);
    return 0;
}
