/* test_gpu_flash.cu: the fused attention (kernels/flash_attn.h) against the
 * CPU attention (trainer/attention.c, fp32, on the same bf16-rounded qkv and
 * dy) and against the batched-product path (l720_dense_attn_fwd/bwd), TAP.
 * Without a GPU it prints a visible skip. Fresh random inputs each run (seed
 * printed; pass one as argv[1] to repeat); every output NaN-poisoned before
 * each call. Error = max|gpu - ref| / max|ref| over a tensor (for dqkv the
 * worst of its dq, dk and dv parts). Tolerances:
 *   y (bf16 output) and dqkv (bf16 P and dS in the products)   <= 1e-2
 *   lse (fp32)                                                <= 1e-5
 *   a second run of forward and backward                      bitwise equal
 * Shapes: head sizes 32, 64, 128 at T = 64, 256, 1024 and one T that is not
 * a multiple of the tiles per head size; unsupported head size 48 -> code 2.
 * Usage: test_gpu_flash [seed [small]]; "small" keeps T <= 333 (for the
 * memory and race checkers). */
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/flash_attn.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/host_bf16.h"
extern "C" {
#include "trainer/attention.h"
}

typedef std::vector<float> vf;

static int n_checks, n_failed;
static std::vector<std::string> rows;
static l720_err err;

static void report(double e, double tol, const std::string &name)
{
    bool pass = e <= tol; /* NaN fails */
    printf("%s %d - %s: %.3g (tolerance %.0e)\n", pass ? "ok" : "not ok", ++n_checks, name.c_str(),
           e, tol);
    fflush(stdout);
    n_failed += !pass;
    char buf[200];
    snprintf(buf, sizeof buf, "%-44s %10.3g %8.0e %s", name.c_str(), e, tol, pass ? "ok" : "FAIL");
    rows.push_back(buf);
}

static void must(bool cond, const char *what, int line)
{
    if (!cond) {
        printf("Bail out! line %d: %s (%s)\n", line, what, err.msg);
        exit(1);
    }
}
#define MUST(c) must((c), #c, __LINE__)
#define CUDA_MUST(c) must((c) == cudaSuccess, #c, __LINE__)

static uint64_t rng;
static float uniform(double sc) /* in (-sc, sc) */
{
    return (float)((gpu_check_uniform(&rng) * 2 - 1) * sc);
}

/* bf16-rounded random values: the exact inputs of both sides */
static vf rand_bf(size_t n, double sc)
{
    vf v(n);
    for (auto &x : v)
        x = h_bf2f(h_f2bf(uniform(sc)));
    return v;
}

/* a device buffer of n elements, NaN-poisoned */
template <typename T> struct dbuf {
    T *p = nullptr;
    size_t n = 0;
    explicit dbuf(size_t n_) : n(n_)
    {
        CUDA_MUST(cudaMalloc(&p, n * sizeof(T)));
        poison();
    }
    ~dbuf() { cudaFree(p); }
    void poison() { CUDA_MUST(cudaMemset(p, 0xff, n * sizeof(T))); }
    std::vector<T> raw() const
    {
        std::vector<T> h(n);
        CUDA_MUST(cudaDeviceSynchronize());
        CUDA_MUST(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};

static uint16_t *up_bf(dbuf<uint16_t> &d, const vf &v)
{
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); i++)
        h[i] = h_f2bf(v[i]);
    CUDA_MUST(cudaMemcpy(d.p, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    return d.p;
}
static vf as_float(const std::vector<uint16_t> &h)
{
    vf v(h.size());
    for (size_t i = 0; i < h.size(); i++)
        v[i] = h_bf2f(h[i]);
    return v;
}

/* max|a - r| / max|r| over the elements i with (i % period) / width == part
 * (part < 0: all) */
static double maxrel(const vf &a, const vf &r, size_t period = 1, size_t width = 1, long part = -1)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < r.size(); i++) {
        if (part >= 0 && (long)((i % period) / width) != part)
            continue;
        double d = fabs((double)a[i] - r[i]);
        num = d > num || d != d ? d : num;
        den = fabs(r[i]) > den ? fabs(r[i]) : den;
    }
    return num / (den > 0 ? den : 1);
}
/* the worst of the q, k and v parts of [rows, 3C] */
static double maxrel_qkv(const vf &a, const vf &r, int C)
{
    double w = 0;
    for (int part = 0; part < 3; part++) {
        double e = maxrel(a, r, 3 * (size_t)C, C, part);
        w = e > w || e != e ? e : w;
    }
    return w;
}

static void test_shape(l720_gemm *g, int B, int NH, int T, int hs)
{
    const int C = NH * hs;
    const size_t n3 = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, nl = (size_t)B * NH * T;
    char tag[64];
    snprintf(tag, sizeof tag, "hs %d T %d B %d NH %d", hs, T, B, NH);
    std::string t(tag);
    vf qkv = rand_bf(n3, 1.5), dy = rand_bf(ny, 1.0);
    vf y(ny), lse(nl), dqkv(n3, 0.0f);
    l720_attention_forward(y.data(), lse.data(), qkv.data(), B, T, C, NH);
    l720_attention_backward(dqkv.data(), dy.data(), qkv.data(), lse.data(), B, T, C, NH);

    dbuf<uint16_t> dq(n3), ddy(ny), fy(ny);
    dbuf<float> flse(nl), fd(n3), dsum(nl);
    up_bf(dq, qkv);
    up_bf(ddy, dy);
    MUST(l720_flash_attn_fwd(fy.p, flse.p, dq.p, B, T, C, NH, 0, &err) == 0);
    MUST(l720_flash_attn_bwd(fd.p, dsum.p, ddy.p, fy.p, flse.p, dq.p, B, T, C, NH, 0, &err) == 0);
    std::vector<uint16_t> y1 = fy.raw();
    std::vector<float> l1 = flse.raw(), d1 = fd.raw();
    vf yv = as_float(y1);
    report(maxrel(yv, y), 1e-2, t + ": y vs CPU");
    report(maxrel(l1, lse), 1e-5, t + ": lse vs CPU");
    report(maxrel_qkv(d1, dqkv, C), 1e-2, t + ": dqkv vs CPU");

    /* the batched-product path on the same inputs */
    dbuf<uint16_t> by(ny), P((size_t)B * NH * T * T), dS((size_t)NH * T * T);
    dbuf<float> byf(ny), S((size_t)NH * T * T), bd(n3);
    MUST(l720_dense_attn_fwd(g, by.p, byf.p, P.p, S.p, dq.p, B, T, C, NH, 0, &err) == 0);
    MUST(l720_dense_attn_bwd(g, bd.p, S.p, dS.p, ddy.p, P.p, dq.p, B, T, C, NH, 0, &err) == 0);
    report(maxrel(yv, byf.raw()), 1e-2, t + ": y vs batched");
    report(maxrel_qkv(d1, bd.raw(), C), 1e-2, t + ": dqkv vs batched");

    /* a second run on poisoned outputs: the same bits */
    fy.poison(), flse.poison(), fd.poison(), dsum.poison();
    MUST(l720_flash_attn_fwd(fy.p, flse.p, dq.p, B, T, C, NH, 0, &err) == 0);
    MUST(l720_flash_attn_bwd(fd.p, dsum.p, ddy.p, fy.p, flse.p, dq.p, B, T, C, NH, 0, &err) == 0);
    std::vector<uint16_t> y2 = fy.raw();
    std::vector<float> l2 = flse.raw(), d2 = fd.raw();
    bool same = !memcmp(y1.data(), y2.data(), ny * 2) && !memcmp(l1.data(), l2.data(), nl * 4) &&
                !memcmp(d1.data(), d2.data(), n3 * 4);
    report(same ? 0.0 : 1.0, 0.0, t + ": rerun bitwise");
}

int main(int argc, char **argv)
{
    uint64_t seed;
    if (!gpu_check_begin(argc, argv, &seed))
        return 0;
    rng = gpu_check_rng_state(seed);
    l720_gemm *g = l720_gemm_new(&err);
    MUST(g != NULL);

    static const int hs_list[3] = {32, 64, 128}, odd_T[3] = {333, 200, 77};
    const bool small = argc > 2 && !strcmp(argv[2], "small");
    for (int i = 0; i < 3; i++) {
        int hs = hs_list[i];
        test_shape(g, 2, 3, 64, hs);
        test_shape(g, 2, 2, 256, hs);
        if (!small)
            test_shape(g, 1, 2, 1024, hs);
        test_shape(g, 3, 2, odd_T[i], hs);
    }

    /* an unbuilt head size: code 2 before any launch */
    {
        dbuf<uint16_t> q(3 * 2 * 48 * 16), y(2 * 48 * 16);
        dbuf<float> l(2 * 16), d(3 * 2 * 48 * 16);
        int rf = l720_flash_attn_fwd(y.p, l.p, q.p, 1, 16, 96, 2, 0, &err);
        int rb = l720_flash_attn_bwd(d.p, l.p, y.p, y.p, l.p, q.p, 1, 16, 96, 2, 0, &err);
        report(rf == L720_EINPUT && rb == L720_EINPUT ? 0.0 : 1.0, 0.0,
               "head size 48: fwd and bwd return code 2");
        report(l720_flash_attn_supported(48) == 0 && l720_flash_attn_supported(64) == 1 ? 0.0 : 1.0,
               0.0, "l720_flash_attn_supported");
    }
    l720_gemm_free(g);
    printf("1..%d\n", n_checks);
    printf("# %-44s %10s %8s\n", "check (error = max|diff| / max|ref|)", "error", "tol");
    for (auto &r : rows)
        printf("# %s\n", r.c_str());
    return n_failed ? 1 : 0;
}
