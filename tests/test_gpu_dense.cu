/* test_gpu_dense.cu: the dense GPU kernels (kernels/dense_gpu.h) and the
 * whole GPU model with every FFN dense (kernels/gpu_model.h) against the CPU
 * trainer's layers and model (trainer/), TAP. Without a GPU
 * it prints a visible skip. Fresh random inputs each run (seed printed; pass
 * one as argv[1] to repeat); every output poisoned with NaN before each run.
 * Error: ||gpu - cpu|| / ||cpu|| over the whole tensor. Tolerances:
 *   fp32 results (rstd, RMSNorm backward, RoPE rotation and table, loss,
 *   AdamW, embedding)                                          <= 1e-5
 *   bf16 results (normalised rows, SwiGLU, attention, dlogits) <= 1e-2
 *   whole model, loss and every gradient tensor vs the CPU model (bf16
 *   activations through 2 layers)                               <= 1e-2
 * The CPU side gets the same bf16-rounded inputs where the GPU reads bf16. */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "tests/gpu/gpu_check.h"
#include "tests/gpu/host_bf16.h"
#include "kernels/dense_gpu.h"
#include "kernels/gpu_model.h"
extern "C" {
#include "trainer/attention.h"
#include "trainer/crossentropy.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"
}

using std::vector;
typedef vector<float> vf;

/* The checks here put the value first (the shared log takes the name first). */
static void check(double e, double tol, const char *name) { gpu_check_named(name, e, tol); }

/* A check name with its shape (a small ring of buffers: names live until printed). */
static const char *named(const char *fmt, ...)
{
    static char ring[16][120];
    static int k;
    char *b = ring[k++ % 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof ring[0], fmt, ap);
    va_end(ap);
    return b;
}

static uint64_t rs;
static double urand() { return gpu_check_uniform(&rs); }
static vf randv(size_t n, double sc)
{
    vf v(n);
    for (auto &x : v)
        x = (float)((2 * urand() - 1) * sc);
    return v;
}
static vf round_bf(const vf &v)
{
    vf o(v.size());
    for (size_t i = 0; i < v.size(); i++)
        o[i] = h_bf2f(h_f2bf(v[i]));
    return o;
}
static double relerr(const vf &a, const vf &b)
{
    double n = 0, d = 0;
    for (size_t i = 0; i < a.size(); i++) {
        n += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        d += (double)b[i] * b[i];
    }
    return sqrt(n / (d > 0 ? d : 1));
}

static vf downbf(const uint16_t *p, size_t n)
{
    vector<uint16_t> h(n);
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost));
    vf v(n);
    for (size_t i = 0; i < n; i++)
        v[i] = h_bf2f(h[i]);
    return v;
}

static l720_err err;

static void test_rmsnorm(int N, int C)
{
    vf x = randv((size_t)N * C, 2.0), w = randv(C, 1.0), dy = randv((size_t)N * C, 1.0);
    vf dx0 = randv((size_t)N * C, 1.0), dw0 = randv(C, 1.0);
    vf out((size_t)N * C), rstd(N), dx = dx0, dw = dw0;
    l720_rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C);
    l720_rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), N, C);
    float *dxp = dup(x), *dwp = dup(w), *ddy = dup(dy), *ddx = dup(dx0), *ddw = dup(dw0);
    float *drs = dnew<float>(N), *part = dnew<float>(l720_dense_rmsnorm_part_len(N, C));
    uint16_t *dout = dnew<uint16_t>((size_t)N * C);
    OKR(l720_dense_rmsnorm_fwd(dout, drs, dxp, dwp, N, C, 0, &err));
    check(relerr(downbf(dout, (size_t)N * C), out), 1e-2, named("rmsnorm fwd out (bf16), C %d", C));
    check(relerr(down(drs, N), rstd), 1e-5, named("rmsnorm fwd rstd, C %d", C));
    uint16_t *ddxb = dnew<uint16_t>((size_t)N * C);
    OKR(l720_dense_rmsnorm_bwd(ddx, ddxb, ddw, part, ddy, dxp, dwp, drs, N, C, 0, &err));
    check(relerr(down(ddx, (size_t)N * C), dx), 1e-5, named("rmsnorm bwd dx (+=), C %d", C));
    check(relerr(downbf(ddxb, (size_t)N * C), dx), 1e-2, named("rmsnorm bwd dx (bf16 copy), C %d", C));
    cudaFree(ddxb);
    check(relerr(down(ddw, C), dw), 1e-5, named("rmsnorm bwd dw (+=), C %d", C));
    cudaFree(dxp), cudaFree(dwp), cudaFree(ddy), cudaFree(ddx), cudaFree(ddw), cudaFree(drs);
    cudaFree(part), cudaFree(dout);
}

static void test_rope(int B, int T, int NH, int hs)
{
    int C = NH * hs, half = hs / 2;
    size_t n = (size_t)B * T * 3 * C;
    vf cs((size_t)T * half), sn((size_t)T * half);
    l720_rope_table(cs.data(), sn.data(), T, hs, 10000.0f);
    float *dc = dnew<float>(cs.size()), *ds = dnew<float>(sn.size());
    OKR(l720_dense_rope_table(dc, ds, T, hs, 10000.0f, 0, &err));
    check(relerr(down(dc, cs.size()), cs), 1e-5, named("rope table cos, hs %d", hs));
    check(relerr(down(ds, sn.size()), sn), 1e-5, named("rope table sin, hs %d", hs));
    for (int dir = 1; dir >= -1; dir -= 2) {
        vf x = randv(n, 1.0), ref = x;
        if (dir > 0) {
            l720_rope_forward(ref.data(), cs.data(), sn.data(), B, T, NH, hs, 3 * C);
            l720_rope_forward(ref.data() + C, cs.data(), sn.data(), B, T, NH, hs, 3 * C);
        } else {
            l720_rope_backward(ref.data(), cs.data(), sn.data(), B, T, NH, hs, 3 * C);
            l720_rope_backward(ref.data() + C, cs.data(), sn.data(), B, T, NH, hs, 3 * C);
        }
        float *dx = dup(x);
        uint16_t *ob = dnew<uint16_t>(n);
        OKR(l720_dense_rope(ob, dx, dc, ds, B, T, NH, hs, dir, 0, &err));
        check(relerr(down(dx, n), x), 0.0, named("rope %s input kept, hs %d", dir > 0 ? "fwd" : "bwd", hs));
        /* bf16 rounding of the exact result: at most 2^-9 relative per element */
        check(relerr(downbf(ob, n), ref), 4e-3, named("rope %s (bf16), hs %d", dir > 0 ? "fwd" : "bwd", hs));
        cudaFree(dx), cudaFree(ob);
    }
    cudaFree(dc), cudaFree(ds);
}

static void test_swiglu(int N, int C, int H)
{
    vf x = randv((size_t)N * C, 1.0), w1 = randv((size_t)H * C, 0.3), w3 = randv((size_t)H * C, 0.3),
       w2 = randv((size_t)C * H, 0.3), dy = randv((size_t)N * C, 1.0);
    vf out((size_t)N * C), h1((size_t)N * H), h3((size_t)N * H), act((size_t)N * H);
    l720_swiglu_forward(out.data(), h1.data(), h3.data(), act.data(), x.data(), w1.data(),
                        w3.data(), w2.data(), N, C, H);
    vf dx((size_t)N * C, 0.f), g1((size_t)H * C, 0.f), g3 = g1, g2 = g1, dh1((size_t)N * H),
                         dh3((size_t)N * H);
    l720_swiglu_backward(dx.data(), g1.data(), g3.data(), g2.data(), dh1.data(), dh3.data(),
                         dy.data(), x.data(), h1.data(), h3.data(), act.data(), w1.data(),
                         w3.data(), w2.data(), N, C, H);
    vf h13((size_t)N * 2 * H), dact((size_t)N * H), ref13((size_t)N * 2 * H);
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            h13[(size_t)n * 2 * H + j] = h1[(size_t)n * H + j];
            h13[(size_t)n * 2 * H + H + j] = h3[(size_t)n * H + j];
            ref13[(size_t)n * 2 * H + j] = dh1[(size_t)n * H + j];
            ref13[(size_t)n * 2 * H + H + j] = dh3[(size_t)n * H + j];
            double s = 0;
            for (int c = 0; c < C; c++)
                s += (double)dy[(size_t)n * C + c] * w2[(size_t)c * H + j];
            dact[(size_t)n * H + j] = (float)s;
        }
    /* the dense layout: h1 | h3 in one [N, 2H] buffer */
    uint16_t *d13 = dupbf(h13), *dda = dupbf(dact);
    uint16_t *da = dnew<uint16_t>((size_t)N * H), *dd13 = dnew<uint16_t>((size_t)N * 2 * H);
    OKR(l720_swiglu_fwd(da, d13, d13 + H, 2 * H, N, H, 0, &err));
    check(relerr(downbf(da, (size_t)N * H), act), 1e-2, named("swiglu fwd act, H %d", H));
    OKR(l720_swiglu_bwd(dd13, dd13 + H, dda, d13, d13 + H, 2 * H, N, H, 0, &err));
    check(relerr(downbf(dd13, (size_t)N * 2 * H), ref13), 1e-2,
          named("swiglu bwd dh1|dh3, H %d", H));
    /* the MoE layout: separate [N, H] buffers */
    uint16_t *d1 = dupbf(h1), *d3 = dupbf(h3), *dg1 = dnew<uint16_t>((size_t)N * H),
             *dg3 = dnew<uint16_t>((size_t)N * H);
    OKR(l720_swiglu_fwd(da, d1, d3, H, N, H, 0, &err));
    check(relerr(downbf(da, (size_t)N * H), act), 1e-2, named("swiglu fwd act, [N,H] rows, H %d", H));
    OKR(l720_swiglu_bwd(dg1, dg3, dda, d1, d3, H, N, H, 0, &err));
    check(relerr(downbf(dg1, (size_t)N * H), dh1), 1e-2, named("swiglu bwd dh1, [N,H] rows, H %d", H));
    check(relerr(downbf(dg3, (size_t)N * H), dh3), 1e-2, named("swiglu bwd dh3, [N,H] rows, H %d", H));
    cudaFree(d13), cudaFree(dda), cudaFree(da), cudaFree(dd13);
    cudaFree(d1), cudaFree(d3), cudaFree(dg1), cudaFree(dg3);
}

static void test_attention(l720_gemm *g, int B, int T, int NH, int hs)
{
    int C = NH * hs;
    size_t n = (size_t)B * T * 3 * C, ny = (size_t)B * T * C;
    vf qkv = round_bf(randv(n, 1.5)), dy = round_bf(randv(ny, 1.0));
    vf y(ny), lse((size_t)B * NH * T), dqkv(n, 0.f);
    l720_attention_forward(y.data(), lse.data(), qkv.data(), B, T, C, NH);
    l720_attention_backward(dqkv.data(), dy.data(), qkv.data(), lse.data(), B, T, C, NH);
    uint16_t *dq = dupbf(qkv), *ddy = dupbf(dy), *yb = dnew<uint16_t>(ny);
    uint16_t *P = dnew<uint16_t>((size_t)B * NH * T * T), *dS = dnew<uint16_t>((size_t)NH * T * T);
    float *yf = dnew<float>(ny), *S = dnew<float>((size_t)NH * T * T), *dd = dnew<float>(n);
    OKR(l720_dense_attn_fwd(g, yb, yf, P, S, dq, B, T, C, NH, 0, &err));
    check(relerr(down(yf, ny), y), 1e-2, "attention fwd y (bf16 P)");
    check(relerr(downbf(yb, ny), y), 1e-2, "attention fwd y (bf16 copy)");
    OKR(l720_dense_attn_bwd(g, dd, S, dS, ddy, P, dq, B, T, C, NH, 0, &err));
    check(relerr(down(dd, n), dqkv), 1e-2, "attention bwd dqkv");
    cudaFree(dq), cudaFree(ddy), cudaFree(yb), cudaFree(P), cudaFree(dS), cudaFree(yf);
    cudaFree(S), cudaFree(dd);
}

/* ld: the logits row stride (the model pads to a multiple of 64; ld = V odd
 * takes the two-pass path). The logits are bf16 (the CPU reference gets the
 * same rounded values); in_place: the gradient overwrites the logits. */
static void test_xent(int N, int V, int ld, int in_place)
{
    vf z = round_bf(randv((size_t)N * V, 4.0)), zp((size_t)N * ld, 0.f), lse(N), dz((size_t)N * V);
    vector<int32_t> tg(N);
    for (int i = 0; i < N; i++) {
        tg[i] = i % 7 == 3 ? -1 : (int)(urand() * V);
        memcpy(&zp[(size_t)i * ld], &z[(size_t)i * V], 4 * (size_t)V);
    }
    size_t cnt = 0;
    double sum = l720_crossentropy_forward(lse.data(), z.data(), tg.data(), N, V, &cnt);
    float sc = 1.0f / (float)cnt;
    l720_crossentropy_backward(dz.data(), z.data(), lse.data(), tg.data(), N, V, sc);
    uint16_t *dzp = dupbf(zp);
    float *dl = dnew<float>(N);
    int32_t *dt;
    CK(cudaMalloc(&dt, 4 * (size_t)N));
    CK(cudaMemcpy(dt, tg.data(), 4 * (size_t)N, cudaMemcpyHostToDevice));
    uint16_t *dd = in_place ? dzp : dnew<uint16_t>((size_t)N * ld);
    OKR(l720_dense_xent(dd, dl, dzp, ld, dt, N, V, sc, 0, &err));
    vf l = down(dl, N), g = downbf(dd, (size_t)N * ld), gv((size_t)N * V);
    double s = 0;
    for (int i = 0; i < N; i++) {
        s += l[i];
        memcpy(&gv[(size_t)i * V], &g[(size_t)i * ld], 4 * (size_t)V);
    }
    const char *how = in_place ? "in place" : "separate";
    check(fabs(s - sum) / fabs(sum), 1e-5,
          named("cross-entropy loss sum, V %d ld %d %s", V, ld, how));
    check(relerr(gv, dz), 1e-2, named("cross-entropy dlogits (bf16), V %d ld %d %s", V, ld, how));
    double pad = 0.0; /* columns past V and ignored rows: exactly 0 */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < ld; j++)
            if (j >= V || tg[i] < 0)
                pad = fmax(pad, fabs((double)g[(size_t)i * ld + j]));
    check(pad, 0.0, named("cross-entropy dlogits zero padding, ld %d %s", ld, how));
    if (!in_place)
        cudaFree(dd);
    cudaFree(dzp), cudaFree(dl), cudaFree(dt);
}

static void test_adamw(size_t n)
{
    vf p = randv(n, 1.0), g = randv(n, 0.1);
    l720_tensor t;
    memset(&t, 0, sizeof t);
    t.rows = 1;
    t.cols = n;
    l720_adamw *o = l720_adamw_new(n, &err);
    l720_adamw_hp hp = {1e-3, 0.9, 0.95, 1e-8, 0.1};
    float *dp = dup(p), *dg = dup(g), *dm = dup(vf(n, 0.f)), *dv = dup(vf(n, 0.f));
    uint16_t *pb = dnew<uint16_t>(n);
    vf ref = p;
    for (int s = 1; s <= 3; s++) {
        l720_adamw_step(o, ref.data(), g.data(), &t, 1, NULL, &hp, 1.0);
        OKR(l720_dense_adamw(dp, pb, dm, dv, dg, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 1e-4f,
                             (float)(1 - pow(0.9, s)), (float)(1 - pow(0.95, s)), 1.0f, 0, &err));
    }
    vf pg = down(dp, n), d1(n), d2(n);
    for (size_t i = 0; i < n; i++) {
        d1[i] = pg[i] - p[i];
        d2[i] = ref[i] - p[i];
    }
    check(relerr(pg, ref), 1e-5, "adamw params (3 steps)");
    check(relerr(d1, d2), 1e-5, "adamw update (3 steps)");
    check(relerr(downbf(pb, n), ref), 1e-2, "adamw bf16 copy");
    l720_adamw_free(o);
    cudaFree(dp), cudaFree(dg), cudaFree(dm), cudaFree(dv), cudaFree(pb);
}

static void test_embed(int N, int V, int C)
{
    vf e = randv((size_t)V * C, 1.0), dy = randv((size_t)N * C, 1.0);
    vf g0 = randv((size_t)V * C, 1.0), out((size_t)N * C), g = g0;
    vector<int32_t> tok(N);
    for (auto &t : tok)
        t = (int)(urand() * V);
    l720_embedding_forward(out.data(), tok.data(), e.data(), N, C);
    float *de = dup(e), *ddy = dup(dy), *dg = dup(g0), *dout = dnew<float>((size_t)N * C);
    int32_t *dt;
    CK(cudaMalloc(&dt, 4 * (size_t)N));
    CK(cudaMemcpy(dt, tok.data(), 4 * (size_t)N, cudaMemcpyHostToDevice));
    vector<int32_t> order(N), start(N + 1), rtok(N), count(V);
    int nr = l720_dense_embed_order(tok.data(), N, V, order.data(), start.data(), rtok.data(),
                                    count.data());
    int32_t *dor = dnew<int32_t>(N), *dst = dnew<int32_t>(N + 1), *drt = dnew<int32_t>(N);
    CK(cudaMemcpy(dor, order.data(), 4 * (size_t)N, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dst, start.data(), 4 * (size_t)(nr + 1), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(drt, rtok.data(), 4 * (size_t)nr, cudaMemcpyHostToDevice));
    /* the rows of absent tokens keep their values; the others are added to */
    vf gz((size_t)V * C, 0.f);
    l720_embedding_backward(gz.data(), dy.data(), tok.data(), N, C);
    for (int v = 0; v < V; v++)
        if (std::binary_search(rtok.begin(), rtok.begin() + nr, v))
            for (int c = 0; c < C; c++)
                g[(size_t)v * C + c] = g0[(size_t)v * C + c] + gz[(size_t)v * C + c];
        else
            for (int c = 0; c < C; c++)
                g[(size_t)v * C + c] = g0[(size_t)v * C + c];
    OKR(l720_dense_embed_fwd(dout, dt, de, N, C, 0, &err));
    OKR(l720_dense_embed_bwd(dg, ddy, dor, dst, drt, nr, C, 0, &err));
    check(relerr(down(dout, (size_t)N * C), out), 1e-5, "embedding fwd");
    check(relerr(down(dg, (size_t)V * C), g), 1e-5, "embedding bwd (sorted, no atomics)");
    cudaFree(de), cudaFree(ddy), cudaFree(dg), cudaFree(dout), cudaFree(dt);
    cudaFree(dor), cudaFree(dst), cudaFree(drt);
}

/* The whole model against the CPU model: loss and every gradient tensor. */
static void test_model(uint64_t seed)
{
    l720_model_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.vocab = 97;
    cfg.d_model = 64;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.seq_len = 32;
    const int B = 2;
    OKR(l720_model_cfg_check(&cfg, &err));
    l720_model *cm = l720_model_new(&cfg, B, seed, &err);
    if (!cm) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    size_t np = l720_model_n_params(cm);
    int nt;
    const l720_tensor *ts = l720_model_tensors(cm, &nt);
    /* round the weights to bf16 on both sides so that only activations differ */
    float *P = l720_model_params(cm);
    for (size_t i = 0; i < np; i++)
        P[i] = h_bf2f(h_f2bf(P[i]));
    int N = B * cfg.seq_len;
    vector<int32_t> tok(N), tg(N);
    for (int i = 0; i < N; i++) {
        tok[i] = (int)(urand() * cfg.vocab);
        tg[i] = i % 11 == 5 ? -1 : (int)(urand() * cfg.vocab);
    }
    l720_forward_out fo;
    OKR(l720_model_forward(cm, tok.data(), tg.data(), B, cfg.seq_len, 1, &fo, &err));
    l720_model_zero_grad(cm);
    l720_model_backward(cm);
    l720_gpu_model *gm = l720_gpu_model_new(&cfg, ts, nt, B, &err);
    if (!gm) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    OKR(l720_gpu_model_set_state(gm, P, NULL, NULL, NULL, 0, &err));
    OKR(l720_gpu_model_poison(gm, &err));
    l720_forward_out go;
    OKR(l720_gpu_model_forward(gm, tok.data(), tg.data(), B, cfg.seq_len, 1, &go, &err));
    OKR(l720_gpu_model_backward(gm, &err));
    double loss = go.loss;
    vf gg(np);
    OKR(l720_gpu_model_get_grads(gm, gg.data(), &err));
    check(fabs(loss - fo.loss) / fo.loss, 1e-2, "model: loss");
    const float *G = l720_model_grads(cm);
    double worst = 0;
    for (int t = 0; t < nt; t++) {
        vf a(gg.begin() + ts[t].offset, gg.begin() + ts[t].offset + ts[t].rows * ts[t].cols);
        vf b(G + ts[t].offset, G + ts[t].offset + ts[t].rows * ts[t].cols);
        double e = relerr(a, b);
        printf("# grad %-22s rel. error %.3g\n", ts[t].name, e);
        worst = e > worst || e != e ? e : worst;
    }
    check(worst, 1e-2, "model: worst gradient tensor");
    l720_gpu_model_free(gm);
    l720_model_free(cm);
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
    test_rmsnorm(300, 768);  /* vector path */
    test_rmsnorm(70, 100);   /* vector path, 1 lane-width */
    test_rmsnorm(90, 50);    /* scalar path: C % 4 != 0 */
    test_rmsnorm(40, 1100);  /* scalar path: C > 1024 */
    test_rope(2, 64, 4, 32); /* vector path */
    test_rope(2, 30, 3, 6);  /* scalar path: hs % 4 != 0 */
    test_swiglu(96, 64, 192); /* vector path */
    test_swiglu(33, 16, 36);  /* scalar path: H % 8 != 0 */
    test_attention(g, 2, 128, 4, 32);
    test_attention(g, 1, 200, 2, 64);
    test_xent(50, 1000, 1024, 0);   /* shared-memory path */
    test_xent(60, 50257, 50304, 1); /* the model's shape, in place */
    test_xent(20, 999, 999, 1);     /* two-pass path: ld % 8 != 0 */
    test_xent(9, 70000, 70016, 0);  /* two-pass path: a row over the shared memory */
    test_adamw(100000);
    test_adamw(100003); /* the 4-wide path and a scalar tail of 3 */
    test_embed(256, 97, 64);
    test_model(seed);
    l720_gemm_free(g);
    return gpu_check_end();
}
