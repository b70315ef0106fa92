/* test_gpu_accum.cu: gradient accumulation on the GPU model
 * (l720_gpu_model_backward_add, kernels/gpu_model.h) against the CPU model,
 * TAP; a visible skip without a GPU. Model and tolerances of
 * tests/test_gpu_model.cu: vocab 256, d 256, 4 heads, 4 layers [dense, MoE
 * E=4, PEER n=16 h=2 k=4, dense], seq 64; K = 2 micro-batches of 4
 * sequences. Checks:
 *   a) the accumulated gradient (backward, then backward_add), GPU outputs
 *      poisoned first, against the CPU's (its backward adds): every tensor
 *      within max(1e-2, 2 x the CPU floor), the floor measured as in
 *      test_gpu_model (CPU runs with RMSNorm gains scaled by 1 + u,
 *      |u| <= 2^-7); the PEER touched union (u rows on one side only
 *      <= 2%); the gradient norm within 1e-2;
 *   b) the accumulated gradient = g1 + g2 of two plain backwards of the same
 *      micro-batches (relative 1e-6; the number of elements that differ at
 *      all is printed); u/v rows that hold gradient = the union of g1's and
 *      g2's rows, every other row exactly 0;
 *   c) one AdamW step after accumulation moves exactly the union's u/v rows;
 *   d) 3 optimiser steps of K = 2 (norm of the sum / 2, AdamW with scale
 *      / 2), twice from the same state: bitwise the same losses, parameters,
 *      moments and buffers.
 * Table of checks last. Seed: argv[1] (default: time, printed). */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gpu_model.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/host_bf16.h"
extern "C" {
#include "trainer/model.h"
#include "trainer/optim.h"
}

using std::vector;
typedef vector<float> vf;

static l720_err err;

enum { K = 2 };
static const int B = 4, T = 64, N = B * T, STEPS = 3;
static const l720_adamw_hp HP = {1e-3, 0.9, 0.95, 1e-8, 0.1};
static const double CLIP = 1.0;
static vector<int32_t> tok[K], tg[K];

static l720_model_cfg mixed_cfg(void)
{
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = 256;
    c.d_model = 256;
    c.n_layers = 4;
    c.n_heads = 4;
    c.seq_len = T;
    c.ffn[1].kind = L720_FFN_MOE;
    c.ffn[1].n_experts = 4;
    c.ffn[2].kind = L720_FFN_PEER;
    c.ffn[2].n_experts = 16 * 16;
    c.ffn[2].heads = 2;
    c.ffn[2].topk = 4;
    return c;
}

static l720_model *cpu_new(l720_model_cfg *c, uint64_t seed)
{
    OKR(l720_model_cfg_check(c, &err));
    l720_model *m = l720_model_new(c, B, seed, &err);
    if (!m) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    float *P = l720_model_params(m);
    for (size_t i = 0; i < l720_model_n_params(m); i++)
        P[i] = h_bf2f(h_f2bf(P[i]));
    return m;
}

/* The CPU's accumulated gradient of the K micro-batches (its backward adds). */
static void cpu_accum(l720_model *m)
{
    l720_forward_out fo;
    l720_model_zero_grad(m);
    for (int k = 0; k < K; k++) {
        OKR(l720_model_forward(m, tok[k].data(), tg[k].data(), B, T, 1, &fo, &err));
        l720_model_backward(m);
    }
}

static l720_gpu_model *gpu_from(const l720_model_cfg *c, const l720_tensor *ts, int nt,
                                const vf &p, const vf &b)
{
    l720_gpu_model *g = l720_gpu_model_new(c, ts, nt, B, &err);
    if (!g) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }
    OKR(l720_gpu_model_set_state(g, p.data(), b.empty() ? NULL : b.data(), NULL, NULL, 0, &err));
    return g;
}

/* K micro-batches into the GPU's gradients; returns the mean loss. */
static double gpu_accum(l720_gpu_model *g)
{
    double loss = 0;
    for (int k = 0; k < K; k++) {
        l720_forward_out fo;
        OKR(l720_gpu_model_forward(g, tok[k].data(), tg[k].data(), B, T, 1, &fo, &err));
        OKR(k ? l720_gpu_model_backward_add(g, &err) : l720_gpu_model_backward(g, &err));
        loss += fo.loss / K;
    }
    return loss;
}

static vf grads(l720_gpu_model *g, size_t np)
{
    vf x(np);
    OKR(l720_gpu_model_get_grads(g, x.data(), &err));
    return x;
}

static bool row_zero(const vf &x, size_t o, size_t cols)
{
    for (size_t c = 0; c < cols; c++)
        if (x[o + c] != 0.0f)
            return false;
    return true;
}

struct state {
    vf p, b, m, v;
    vector<double> loss;
};

static state run_steps(const l720_model_cfg *c, const l720_tensor *ts, int nt, const vf &p0,
                       const vf &b0, size_t nb)
{
    l720_gpu_model *g = gpu_from(c, ts, nt, p0, b0);
    state s;
    for (int i = 0; i < STEPS; i++) {
        s.loss.push_back(gpu_accum(g));
        double norm = 0;
        OKR(l720_gpu_model_grad_norm(g, &norm, &err));
        norm /= K;
        OKR(l720_gpu_model_adamw_step(g, &HP, (norm > CLIP ? CLIP / norm : 1.0) / K, &err));
    }
    size_t np = p0.size();
    s.p.resize(np), s.m.resize(np), s.v.resize(np), s.b.resize(nb ? nb : 1);
    OKR(l720_gpu_model_get_state(g, s.p.data(), s.b.data(), s.m.data(), s.v.data(), &err));
    l720_gpu_model_free(g);
    return s;
}

static bool same(const vf &a, const vf &b)
{
    return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int main(int argc, char **argv)
{
    uint64_t seed;
    if (!gpu_check_begin(argc, argv, &seed))
        return 0;
    uint64_t rs = gpu_check_rng_state(seed);
    auto urand = [&rs]() { return gpu_check_uniform(&rs); };

    l720_model_cfg cfg = mixed_cfg();
    l720_model *cm = cpu_new(&cfg, seed);
    int nt;
    const l720_tensor *ts = l720_model_tensors(cm, &nt);
    size_t np = l720_model_n_params(cm), nb = 0;
    float *cbuf = l720_model_buffers(cm, &nb);
    const vf p0(l720_model_params(cm), l720_model_params(cm) + np), b0(cbuf, cbuf + nb);
    for (int k = 0; k < K; k++) {
        tok[k].resize(N), tg[k].resize(N);
        for (int i = 0; i < N; i++)
            tok[k][i] = (int)(urand() * cfg.vocab);
        for (int i = 0; i < N; i++) /* next-token targets, a few ignored */
            tg[k][i] = i % 37 == 11 ? -1 : (i + 1 < N ? tok[k][i + 1] : tok[k][0]);
    }

    /* a) the CPU's accumulated gradient, its floor, the GPU's */
    cpu_accum(cm);
    const vf G(l720_model_grads(cm), l720_model_grads(cm) + np);
    vector<const uint8_t *> touched(nt);
    for (int t = 0; t < nt; t++)
        touched[t] = l720_model_touched(cm, t);
    double cn = l720_grad_norm(G.data(), ts, nt, touched.data());
    vector<double> floor_t(nt, 0.0);
    {
        l720_model *c2 = cpu_new(&cfg, seed);
        for (int r = 0; r < 4; r++) {
            float *P2 = l720_model_params(c2);
            memcpy(P2, p0.data(), np * sizeof(float));
            size_t nb2 = 0;
            memcpy(l720_model_buffers(c2, &nb2), b0.data(), nb * sizeof(float));
            for (int t = 0; t < nt; t++)
                if (strstr(ts[t].name, "norm") && !strstr(ts[t].name, "bn_"))
                    for (size_t q = 0; q < ts[t].cols; q++)
                        P2[ts[t].offset + q] *= (float)(1.0 + (2 * urand() - 1) / 128.0);
            cpu_accum(c2);
            const float *G2 = l720_model_grads(c2);
            for (int t = 0; t < nt; t++) {
                size_t o = ts[t].offset, n = ts[t].rows * ts[t].cols;
                floor_t[t] = std::max(floor_t[t], gpu_check_relerr(G2 + o, G.data() + o, n));
            }
        }
        l720_model_free(c2);
    }
    l720_gpu_model *g = gpu_from(&cfg, ts, nt, p0, b0);
    OKR(l720_gpu_model_poison(g, &err));
    {
        l720_forward_out fo;
        OKR(l720_gpu_model_forward(g, tok[0].data(), tg[0].data(), B, T, 1, &fo, &err));
        l720_err e2 = {};
        bool refused = l720_gpu_model_backward_add(g, &e2) == L720_EINPUT;
        gpu_check_named("a) backward_add without a backward: code 2", refused ? 0.0 : 1.0, 0.0);
    }
    gpu_accum(g);
    vf gacc = grads(g, np);
    double worst_ratio = 0;
    const char *worst_name = "";
    size_t one_side = 0, u_rows = 0;
    for (int t = 0; t < nt; t++) {
        size_t o = ts[t].offset, n = ts[t].rows * ts[t].cols;
        double e = gpu_check_relerr(gacc.data() + o, G.data() + o, n), tol = std::max(1e-2, 2 * floor_t[t]);
        printf("# grad %-24s rel. error %.3g  (CPU floor %.3g)\n", ts[t].name, e, floor_t[t]);
        if (e / tol > worst_ratio || e != e)
            worst_ratio = e / tol, worst_name = ts[t].name;
        if (ts[t].sparse_rows && strstr(ts[t].name, "peer.u"))
            for (size_t r = 0; r < ts[t].rows; r++, u_rows++)
                one_side += (bool)touched[t][r] == row_zero(gacc, o + r * ts[t].cols, ts[t].cols);
    }
    printf("# worst error / tolerance: %s\n", worst_name);
    gpu_check_named("a) K 2 gradients: worst error / max(1e-2, 2 x floor)", worst_ratio, 1.0);
    gpu_check_named("a) PEER u: union rows on one side only", (double)one_side, 0.02 * (double)u_rows);
    double gn = 0;
    OKR(l720_gpu_model_grad_norm(g, &gn, &err));
    printf("# accumulated gradient norm cpu %.6g gpu %.6g\n", cn, gn);
    gpu_check_named("a) gradient norm of the sum", gpu_check_rel(gn, cn), 1e-2);

    /* c) one AdamW step after accumulation: only the union's rows move */
    {
        OKR(l720_gpu_model_adamw_step(g, &HP, 0.5 * (gn / 2 > CLIP ? CLIP / (gn / 2) : 1.0), &err));
        vf p(np), m(np), v(np), b(nb ? nb : 1);
        OKR(l720_gpu_model_get_state(g, p.data(), b.data(), m.data(), v.data(), &err));
        size_t wrong = 0, n_union = 0, n_rows = 0;
        for (int t = 0; t < nt; t++) {
            if (!ts[t].sparse_rows)
                continue;
            size_t cols = ts[t].cols;
            for (size_t r = 0; r < ts[t].rows; r++, n_rows++) {
                size_t a = ts[t].offset + r * cols;
                bool in = !row_zero(gacc, a, cols), moved = false, zero_m = true;
                for (size_t c = 0; c < cols; c++) {
                    moved = moved || memcmp(&p[a + c], &p0[a + c], 4) != 0;
                    zero_m = zero_m && m[a + c] == 0.0f && v[a + c] == 0.0f;
                }
                n_union += in;
                wrong += in ? !moved || zero_m : moved || !zero_m;
            }
        }
        printf("# lazy rows after accumulation: %zu of %zu u/v rows in the union\n", n_union,
               n_rows);
        gpu_check_named("c) lazy AdamW: exactly the union's u/v rows move", (double)wrong, 0.0);
    }
    l720_gpu_model_free(g);

    /* b) accumulated = g1 + g2 of plain backwards; the rows */
    g = gpu_from(&cfg, ts, nt, p0, b0);
    vf gk[K];
    for (int k = 0; k < K; k++) {
        l720_forward_out fo;
        OKR(l720_gpu_model_forward(g, tok[k].data(), tg[k].data(), B, T, 1, &fo, &err));
        OKR(l720_gpu_model_backward(g, &err));
        gk[k] = grads(g, np);
    }
    gpu_accum(g);
    vf gacc2 = grads(g, np);
    l720_gpu_model_free(g);
    vf sum(np);
    size_t n_diff = 0;
    for (size_t i = 0; i < np; i++) {
        sum[i] = gk[0][i] + gk[1][i];
        n_diff += memcmp(&sum[i], &gacc2[i], 4) != 0;
    }
    printf("# accumulated vs g1 + g2: %zu of %zu elements differ at all\n", n_diff, np);
    gpu_check_named("b) accumulated = g1 + g2 (relative L2)", gpu_check_relerr(gacc2.data(), sum.data(), np), 1e-6);
    gpu_check_named("b) rerun of the accumulation: bitwise", same(gacc, gacc2) ? 0.0 : 1.0, 0.0);
    size_t bad_rows = 0, n_union = 0, only[K] = {0, 0};
    for (int t = 0; t < nt; t++) {
        if (!ts[t].sparse_rows)
            continue;
        size_t cols = ts[t].cols;
        for (size_t r = 0; r < ts[t].rows; r++) {
            size_t a = ts[t].offset + r * cols;
            bool in0 = !row_zero(gk[0], a, cols), in1 = !row_zero(gk[1], a, cols);
            bool held = !row_zero(gacc2, a, cols);
            bad_rows += held != (in0 || in1);
            n_union += in0 || in1;
            only[0] += in0 && !in1;
            only[1] += in1 && !in0;
        }
    }
    printf("# union: %zu u/v rows, %zu only in micro-batch 1, %zu only in 2\n", n_union, only[0],
           only[1]);
    gpu_check_named("b) rows held = union of g1's and g2's, others 0", (double)bad_rows, 0.0);
    gpu_check_named("b) the union is more than either micro-batch", only[0] && only[1] ? 0.0 : 1.0, 0.0);

    /* d) bitwise rerun of K 2 optimiser steps */
    state s1 = run_steps(&cfg, ts, nt, p0, b0, nb), s2 = run_steps(&cfg, ts, nt, p0, b0, nb);
    for (int i = 0; i < STEPS; i++)
        printf("# K 2 step %d mean loss %.6f\n", i + 1, s1.loss[i]);
    gpu_check_named("d) rerun of 3 K 2 steps: losses bitwise",
          memcmp(s1.loss.data(), s2.loss.data(), STEPS * sizeof(double)) ? 1.0 : 0.0, 0.0);
    gpu_check_named("d) rerun: params, moments, buffers bitwise",
          same(s1.p, s2.p) && same(s1.m, s2.m) && same(s1.v, s2.v) && same(s1.b, s2.b) ? 0.0
                                                                                     : 1.0,
          0.0);
    l720_model_free(cm);

    return gpu_check_end();
}
