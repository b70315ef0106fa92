/* test_gpu_moe.cu: the GPU Switch-MoE layer (kernels/moe_gpu.h) against the
 * CPU trainer's layer (trainer/moe.c), TAP. Without a GPU it prints a visible
 * skip. Fresh random inputs each run (seed printed; pass one as argv[1] to
 * repeat). The CPU layer gets the same bf16-rounded x, w1, w3, w2 and dout
 * the GPU reads (router fp32 on both). Every written output is poisoned with
 * NaN before each run; out (accumulated into) starts from random values.
 * Error of a tensor: ||gpu - cpu|| / ||cpu|| over the whole tensor (the
 * max-norm max |gpu - cpu| / max |cpu| is printed beside it). Tolerances:
 *   routing: expert ids equal on every token (a mismatch is only excused,
 *   and counted, when the CPU's two probabilities are within 1e-6)
 *   fp32 results: aux balance and z-loss; dx and drouter of the auxiliary
 *   terms alone (dout = 0)                                     <= 1e-5
 *   bf16 paths: out, dx, drouter, dw1, dw3, dw2                <= 1e-2
 *   a second forward + backward bitwise identical; bad sizes and a
 *   misaligned pointer refused (code 2). */
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/moe_gpu.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/host_bf16.h"
extern "C" {
#include "trainer/moe.h"
}

using std::vector;
typedef vector<float> vf;

static int tap_n, tap_failed;
static vector<std::string> table;
static l720_err err;

/* e: the checked error; mx: the max-norm error, shown (< 0: none) */
static void check(double e, double tol, const std::string &name, double mx = -1)
{
    bool pass = e <= tol; /* NaN fails */
    printf("%s %d - %s: %.3g (tolerance %.0e)\n", pass ? "ok" : "not ok", ++tap_n, name.c_str(), e,
           tol);
    fflush(stdout);
    tap_failed += !pass;
    char buf[240], m[32] = "";
    if (mx >= 0 || mx != mx)
        snprintf(m, sizeof m, "%10.3g", mx);
    snprintf(buf, sizeof buf, "%-48s %10.3g %10s %8.0e %s", name.c_str(), e, m, tol,
             pass ? "ok" : "FAIL");
    table.push_back(buf);
}


static uint64_t rs;
static double urand() { return gpu_check_uniform(&rs); }
static vf randv(size_t n, double sc, bool bf)
{
    vf v(n);
    for (auto &x : v) {
        x = (float)((2 * urand() - 1) * sc);
        if (bf)
            x = h_bf2f(h_f2bf(x));
    }
    return v;
}
/* ||a - b|| / ||b|| */
static double relerr(const vf &a, const vf &b)
{
    double n = 0, d = 0;
    for (size_t i = 0; i < a.size(); i++) {
        n += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        d += (double)b[i] * b[i];
    }
    return sqrt(n / (d > 0 ? d : 1));
}
/* max |a - b| / max |b| */
static double maxrel(const vf &a, const vf &b)
{
    double n = 0, d = 0;
    for (size_t i = 0; i < a.size(); i++) {
        double t = fabs((double)a[i] - b[i]);
        n = t > n || t != t ? t : n;
        d = fabs(b[i]) > d ? fabs(b[i]) : d;
    }
    return n / (d > 0 ? d : 1);
}
static double relabs(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-30 ? fabs(b) : 1); }

static void poison(void *p, size_t bytes) { CK(cudaMemset(p, 0xff, bytes)); }

enum route_kind { RANDOM, SKEWED, ZERO_ROUTER, DUP_ROWS };

struct tcase {
    const char *name;
    int N, max_N, C, H, E;
    float cf;
    route_kind kind;
    int tight;
};

/* GPU outputs of one forward + backward. */
struct gpu_out {
    vf out, dx, drouter, dw1, dw3, dw2, aux;
    vector<int32_t> expert;
};

struct dev_case {
    int N, C, H, E;
    uint16_t *x, *w1, *w3, *w2, *dout, *dzero;
    float *router, *out, *dx, *drouter, *dw1, *dw3, *dw2;
};

static gpu_out run_gpu(l720_moe_gpu *m, l720_gemm *g, dev_case &d, const vf &out0, float cf,
                       const uint16_t *dout, float bc, float zc)
{
    size_t NC = (size_t)d.N * d.C, W = (size_t)d.E * d.H * d.C;
    CK(cudaMemcpy(d.out, out0.data(), NC * 4, cudaMemcpyHostToDevice));
    poison(d.dx, NC * 4);
    poison(d.drouter, (size_t)d.E * d.C * 4);
    poison(d.dw1, W * 4);
    poison(d.dw3, W * 4);
    poison(d.dw2, W * 4);
    OKR(l720_moe_gpu_forward(m, g, d.out, d.x, d.router, d.w1, d.w3, d.w2, d.N, cf, 0, &err));
    OKR(l720_moe_gpu_backward(m, g, d.dx, d.drouter, d.dw1, d.dw3, d.dw2, dout, d.x, d.router,
                              d.w1, d.w3, d.w2, bc, zc, 0, &err));
    gpu_out o;
    o.out = down(d.out, NC);
    o.dx = down(d.dx, NC);
    o.drouter = down(d.drouter, (size_t)d.E * d.C);
    o.dw1 = down(d.dw1, W);
    o.dw3 = down(d.dw3, W);
    o.dw2 = down(d.dw2, W);
    o.aux = down(l720_moe_gpu_aux(m), 2);
    o.expert.resize(d.N);
    CK(cudaMemcpy(o.expert.data(), l720_moe_gpu_expert(m), 4 * (size_t)d.N,
                  cudaMemcpyDeviceToHost));
    return o;
}

static bool same_bits(const vf &a, const vf &b)
{
    return a.size() == b.size() && !memcmp(a.data(), b.data(), a.size() * 4);
}

static void test_case(l720_gemm *g, const tcase &t, bool rerun)
{
    const int N = t.N, C = t.C, H = t.H, E = t.E;
    const float bc = 0.01f, zc = 0.001f;
    size_t NC = (size_t)N * C, W = (size_t)E * H * C;
    vf x = randv(NC, 1.0, true);
    vf router = randv((size_t)E * C, t.kind == SKEWED ? 0.3 : 1.0 / sqrt((double)C), false);
    if (t.kind == SKEWED) { /* a shared positive direction in x favours expert 2 */
        for (size_t i = 0; i < NC; i++)
            x[i] = h_bf2f(h_f2bf(x[i] + 0.5f));
        for (int c = 0; c < C; c++)
            router[(size_t)2 * C + c] = fabsf(router[(size_t)2 * C + c]);
    } else if (t.kind == ZERO_ROUTER) {
        std::fill(router.begin(), router.end(), 0.0f);
    } else if (t.kind == DUP_ROWS) {
        for (int c = 0; c < C; c++)
            router[(size_t)5 * C + c] = router[(size_t)6 * C + c] = router[(size_t)2 * C + c];
    }
    vf w1 = randv(W, 1.0 / sqrt((double)C), true), w3 = randv(W, 1.0 / sqrt((double)C), true);
    vf w2 = randv(W, 1.0 / sqrt((double)H), true), dout = randv(NC, 1.0, true);
    vf out0 = randv(NC, 1.0, false), zero(NC, 0.0f);

    /* CPU: forward, backward with dout, backward with dout = 0 */
    l720_moe *cm = l720_moe_new((size_t)N, C, H, E);
    vf cout(NC), cdx(NC, 0.f), cdr((size_t)E * C, 0.f), c1(W, 0.f), c3(W, 0.f), c2(W, 0.f);
    l720_moe_forward(cm, cout.data(), x.data(), router.data(), w1.data(), w3.data(), w2.data(),
                     (size_t)N, t.cf);
    l720_moe_backward(cm, cdx.data(), cdr.data(), c1.data(), c3.data(), c2.data(), dout.data(),
                      x.data(), router.data(), w1.data(), w3.data(), w2.data(), bc, zc);
    vf adx(NC, 0.f), adr((size_t)E * C, 0.f), a1(W, 0.f), a3(W, 0.f), a2(W, 0.f);
    l720_moe_backward(cm, adx.data(), adr.data(), a1.data(), a3.data(), a2.data(), zero.data(),
                      x.data(), router.data(), w1.data(), w3.data(), w2.data(), bc, zc);

    /* GPU */
    dev_case d;
    d.N = N, d.C = C, d.H = H, d.E = E;
    d.x = dupbf(x), d.w1 = dupbf(w1), d.w3 = dupbf(w3), d.w2 = dupbf(w2), d.dout = dupbf(dout);
    d.dzero = dupbf(zero), d.router = dup(router);
    d.out = dnew<float>(NC), d.dx = dnew<float>(NC), d.drouter = dnew<float>((size_t)E * C);
    d.dw1 = dnew<float>(W), d.dw3 = dnew<float>(W), d.dw2 = dnew<float>(W);
    l720_moe_gpu *m = l720_moe_gpu_new(t.max_N, C, H, E, &err);
    if (!m) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    l720_moe_gpu_set_tight(m, t.tight);
    gpu_out o = run_gpu(m, g, d, out0, t.cf, d.dout, bc, zc);
    std::string p = std::string(t.name) + ": ";

    /* routing */
    int mism = 0, near = 0, to_dup = 0;
    for (int n = 0; n < N; n++) {
        int a = o.expert[n], b = cm->expert[n];
        to_dup += a == 5 || a == 6;
        if (a == b)
            continue;
        mism++;
        const float *pr = cm->probs + (size_t)n * E;
        near += a >= 0 && a < E && fabsf(pr[a] - pr[b]) <= 1e-6f;
    }
    printf("# %s N %d C %d H %d E %d cf %.2f: dropped %zu (CPU), rows %d, balance %.6f, "
           "zloss %.6f, routing mismatches %d (near-ties %d)\n",
           t.name, N, C, H, E, t.cf, cm->n_dropped, l720_moe_gpu_rows(m), cm->balance, cm->zloss,
           mism, near);
    check(mism - near, 0, p + "expert ids (mismatches not near-ties)");
    if (t.kind == ZERO_ROUTER || t.kind == DUP_ROWS) {
        int bad = t.kind == DUP_ROWS ? to_dup : 0;
        if (t.kind == ZERO_ROUTER)
            for (int n = 0; n < N; n++)
                bad += o.expert[n] != 0;
        check(bad, 0, p + "ties go to the lowest index");
    }
    check(relabs(o.aux[0], cm->balance), 1e-5, p + "aux balance (fp32)");
    check(relabs(o.aux[1], cm->zloss), 1e-5, p + "aux z-loss (fp32)");
    vf gout(NC);
    for (size_t i = 0; i < NC; i++)
        gout[i] = o.out[i] - out0[i];
    check(relerr(gout, cout), 1e-2, p + "out (+=)", maxrel(gout, cout));
    check(relerr(o.dx, cdx), 1e-2, p + "dx", maxrel(o.dx, cdx));
    check(relerr(o.drouter, cdr), 1e-2, p + "drouter", maxrel(o.drouter, cdr));
    check(relerr(o.dw1, c1), 1e-2, p + "dw1", maxrel(o.dw1, c1));
    check(relerr(o.dw3, c3), 1e-2, p + "dw3", maxrel(o.dw3, c3));
    check(relerr(o.dw2, c2), 1e-2, p + "dw2", maxrel(o.dw2, c2));

    /* the auxiliary terms alone: fp32 all the way */
    gpu_out z = run_gpu(m, g, d, out0, t.cf, d.dzero, bc, zc);
    check(relerr(z.dx, adx), 1e-5, p + "dx, aux terms only (fp32)", maxrel(z.dx, adx));
    check(relerr(z.drouter, adr), 1e-5, p + "drouter, aux terms only (fp32)",
          maxrel(z.drouter, adr));

    if (rerun) {
        gpu_out r = run_gpu(m, g, d, out0, t.cf, d.dout, bc, zc);
        bool same = same_bits(r.out, o.out) && same_bits(r.dx, o.dx) &&
                    same_bits(r.drouter, o.drouter) && same_bits(r.dw1, o.dw1) &&
                    same_bits(r.dw3, o.dw3) && same_bits(r.dw2, o.dw2) &&
                    same_bits(r.aux, o.aux) && r.expert == o.expert;
        check(same ? 0 : 1, 0, p + "rerun bitwise identical");
    }
    l720_moe_gpu_free(m);
    l720_moe_free(cm);
    cudaFree(d.x), cudaFree(d.w1), cudaFree(d.w3), cudaFree(d.w2), cudaFree(d.dout);
    cudaFree(d.dzero), cudaFree(d.router), cudaFree(d.out), cudaFree(d.dx), cudaFree(d.drouter);
    cudaFree(d.dw1), cudaFree(d.dw3), cudaFree(d.dw2);
}

static void test_bad_input(l720_gemm *g)
{
    l720_moe_gpu *m = l720_moe_gpu_new(64, 64, 64, 0, &err);
    check(!m && err.code == L720_EINPUT ? 0 : 1, 0, "bad input: E = 0 refused (code 2)");
    printf("# %s\n", err.msg);
    m = l720_moe_gpu_new(64, 24, 64, 4, &err);
    check(!m && err.code == L720_EINPUT ? 0 : 1, 0, "bad input: C = 24 refused (code 2)");
    m = l720_moe_gpu_new(64, 64, 64, 4, &err);
    if (!m) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    float *out = dnew<float>(65 * 64);
    int rc = l720_moe_gpu_forward(m, g, out, NULL, NULL, NULL, NULL, NULL, 65, 1.25f, 0, &err);
    printf("# %s\n", err.msg);
    check(rc == L720_EINPUT ? 0 : 1, 0, "bad input: N > max_N refused (code 2)");
    rc = l720_moe_gpu_forward(m, g, out + 1, NULL, NULL, NULL, NULL, NULL, 64, 1.25f, 0, &err);
    printf("# %s\n", err.msg);
    check(rc == L720_EINPUT ? 0 : 1, 0, "bad input: misaligned out refused (code 2)");
    l720_moe_gpu_free(m);
    cudaFree(out);
}

int main(int argc, char **argv)
{
    uint64_t seed;
    if (!gpu_check_begin(argc, argv, &seed))
        return 0;
    rs = gpu_check_rng_state(seed);
    l720_gemm *g = l720_gemm_new(&err);
    if (!g) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }
    static const tcase cases[] = {
        {"E1", 100, 128, 64, 96, 1, 1.25f, RANDOM, 0},
        {"E8 drops (skewed, cf 1)", 301, 338, 64, 128, 8, 1.0f, SKEWED, 0},
        {"E8 dropless skewed (compact)", 301, 338, 64, 128, 8, 0.0f, SKEWED, 0},
        {"E8 dropless (padded)", 301, 602, 64, 128, 8, 0.0f, RANDOM, 0},
        {"E8 multi-chunk", 2000, 2048, 256, 256, 8, 1.25f, RANDOM, 0},
        {"E64", 1000, 1037, 128, 64, 64, 1.25f, RANDOM, 0},
        {"E64 tight", 1000, 1037, 128, 64, 64, 1.25f, RANDOM, 1},
        {"E64 dropless", 1000, 1037, 128, 64, 64, 0.0f, RANDOM, 0},
        {"E8 ties: zero router", 200, 200, 64, 64, 8, 1.25f, ZERO_ROUTER, 0},
        {"E8 ties: duplicate router rows", 500, 512, 64, 64, 8, 1.25f, DUP_ROWS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_case(g, cases[i], i == 1 || i == 5);
    test_bad_input(g);
    l720_gemm_free(g);
    printf("1..%d\n", tap_n);
    printf("# %-48s %10s %10s %8s\n", "check", "error", "max-norm", "tol");
    for (auto &r : table)
        printf("# %s\n", r.c_str());
    return tap_failed ? 1 : 0;
}
