/* test_model_full.c: the whole model. Every parameter tensor's gradient
 * against central finite differences (dense, MoE and PEER blocks mixed);
 * determinism across thread counts; configuration errors name the field;
 * parameter counts follow the joint-MoE paper; bad tokens are refused. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model_check.h"
#include "trainer/model.h"

enum { B = 2, T = 6, V = 13 };
static int32_t tok[B * T], tgt[B * T];
static l720_model *mdl;
static int32_t *base_routing[L720_MAX_LAYERS];

static double loss(void *ctx)
{
    (void)ctx;
    l720_forward_out out;
    l720_err err;
    l720_model_forward(mdl, tok, tgt, B, T, 1, &out, &err);
    const l720_model_cfg *c = l720_model_config(mdl);
    for (int l = 0; l < c->n_layers; l++) {
        int pt;
        const int32_t *r = l720_model_routing(mdl, l, &pt);
        if (r && base_routing[l] && memcmp(r, base_routing[l], sizeof(int32_t) * B * T * (size_t)pt))
            gc_route_changed = 1;
    }
    return out.loss + out.aux_loss;
}

static l720_model_cfg tiny_cfg(void)
{
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = V;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.seq_len = T;
    c.ffn_hidden = 24;
    return c;
}

/* O(1) activations: weights ~ N(0, 1/cols), norms ~ 1 ± 0.1 */
static void scramble(l720_model *m, uint64_t *rs)
{
    int nt;
    const l720_tensor *ts = l720_model_tensors(m, &nt);
    float *p = l720_model_params(m);
    for (int t = 0; t < nt; t++) {
        size_t n = ts[t].rows * ts[t].cols;
        if (ts[t].no_decay)
            gc_fill(p + ts[t].offset, n, 1, 0.1, rs);
        else
            gc_fill(p + ts[t].offset, n, 0, 1 / sqrt((double)ts[t].cols), rs);
    }
}

static void gradcheck_model(const char *name, const l720_model_cfg *cfg, uint64_t *rs)
{
    l720_err err;
    mdl = l720_model_new(cfg, B, 99, &err);
    if (!ok(mdl != NULL, "%s: model builds (%s)", name, mdl ? "ok" : err.msg))
        return;
    scramble(mdl, rs);
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)l720_trng_index(rs, V);
        tgt[i] = (int32_t)l720_trng_index(rs, V);
    }
    tgt[3] = -1; /* an ignored position */
    l720_model_zero_grad(mdl);
    loss(NULL);
    for (int l = 0; l < cfg->n_layers; l++) {
        int pt;
        const int32_t *r = l720_model_routing(mdl, l, &pt);
        free(base_routing[l]);
        base_routing[l] = NULL;
        if (r) {
            base_routing[l] = malloc(sizeof(int32_t) * B * T * (size_t)pt);
            memcpy(base_routing[l], r, sizeof(int32_t) * B * T * (size_t)pt);
        }
    }
    l720_model_backward(mdl);
    int nt;
    const l720_tensor *ts = l720_model_tensors(mdl, &nt);
    float *p = l720_model_params(mdl), *g = l720_model_grads(mdl);
    float *gcopy = malloc(sizeof(float) * l720_model_n_params(mdl));
    memcpy(gcopy, g, sizeof(float) * l720_model_n_params(mdl));
    for (int t = 0; t < nt; t++) {
        char what[128];
        snprintf(what, sizeof what, "%s: d %s", name, ts[t].name);
        gc_check(what, loss, NULL, p + ts[t].offset, gcopy + ts[t].offset,
                 ts[t].rows * ts[t].cols, rs);
    }
    free(gcopy);
    for (int l = 0; l < cfg->n_layers; l++) {
        free(base_routing[l]);
        base_routing[l] = NULL;
    }
    l720_model_free(mdl);
}

/* Forward + backward with `threads` threads on a model big enough that every
 * layer's loops do run in parallel (see trainer/par.h): loss and gradients. */
enum { DB = 4, DT = 32 };
static void run_once(const l720_model_cfg *cfg, int threads, double *loss_out, float **grads,
                     size_t *n)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    l720_err err;
    l720_model *m = l720_model_new(cfg, DB, 5, &err);
    int32_t dtok[DB * DT], dtgt[DB * DT];
    uint64_t rs = 8;
    for (int i = 0; i < DB * DT; i++) {
        dtok[i] = (int32_t)l720_trng_index(&rs, (uint64_t)cfg->vocab);
        dtgt[i] = (int32_t)l720_trng_index(&rs, (uint64_t)cfg->vocab);
    }
    l720_forward_out out;
    l720_model_zero_grad(m);
    l720_model_forward(m, dtok, dtgt, DB, DT, 1, &out, &err);
    l720_model_backward(m);
    *loss_out = out.loss + out.aux_loss;
    *n = l720_model_n_params(m);
    *grads = malloc(sizeof(float) * *n);
    memcpy(*grads, l720_model_grads(m), sizeof(float) * *n);
    l720_model_free(m);
}

static void test_determinism(void)
{
    l720_model_cfg c = tiny_cfg();
    c.vocab = 64;
    c.d_model = 64;
    c.n_heads = 4;
    c.seq_len = DT;
    c.ffn_hidden = 0;
    c.n_layers = 3;
    c.ffn[0].kind = L720_FFN_MOE;
    c.ffn[0].n_experts = 4;
    c.ffn[1].kind = L720_FFN_PEER;
    c.ffn[1].n_experts = 64;
    c.ffn[1].heads = 2;
    c.ffn[1].topk = 4;
    double l1, l4;
    float *g1, *g4;
    size_t n1, n4;
    run_once(&c, 1, &l1, &g1, &n1);
    run_once(&c, 3, &l4, &g4, &n4);
    ok(l1 == l4 && n1 == n4 && !memcmp(g1, g4, sizeof(float) * n1),
       "1 and 3 threads: bitwise identical loss and gradients (loss %.9g)", l1);
    free(g1);
    free(g4);
#ifdef _OPENMP
    omp_set_num_threads(omp_get_num_procs());
#endif
}

/* Expert statistics and routing ids; evaluation uses the running BatchNorm. */
static void test_stats(const l720_model_cfg *cfg)
{
    l720_err err;
    l720_model *m = l720_model_new(cfg, B, 5, &err);
    l720_forward_out out;
    double frac, kl;
    ok(l720_model_expert_stats(m, 2, &frac, &kl) == -1 && !l720_model_routing(m, 2, NULL),
       "a dense layer has no expert statistics and no routing");
    l720_model_forward(m, tok, tgt, B, T, 1, &out, &err);
    int pt0, pt1;
    const int32_t *r0 = l720_model_routing(m, 0, &pt0), *r1 = l720_model_routing(m, 1, &pt1);
    int in_range = 1;
    for (int i = 0; i < B * T; i++)
        in_range &= r0[i] >= 0 && r0[i] < 4;
    for (int i = 0; i < B * T * pt1; i++)
        in_range &= r1[i] >= 0 && r1[i] < 16;
    ok(pt0 == 1 && pt1 == 4 && in_range, "routing ids: 1 per token (MoE), h*k = 4 (PEER)");
    l720_model_expert_stats(m, 1, &frac, &kl);
    int seen[16] = {0}, used = 0;
    for (int i = 0; i < B * T * pt1; i++)
        seen[r1[i]] = 1;
    for (int e = 0; e < 16; e++)
        used += seen[e];
    ok_near(frac, used / 16.0, 1e-12, "PEER fraction of experts used %.3f, KL %.3f", frac, kl);
    ok(kl >= 0 && kl <= log(16.0) + 1e-9, "KL from uniform within [0, ln N]");
    l720_model_reset_expert_stats(m);
    l720_model_expert_stats(m, 1, &frac, &kl);
    ok(frac == 0, "reset clears the statistics");
    ok(l720_model_forward(m, tok, tgt, B, T, 0, &out, &err) == 0 && isfinite(out.loss),
       "evaluation forward (running BatchNorm, dropless): loss %.4f", out.loss);
    size_t nb;
    l720_model_buffers(m, &nb);
    ok(nb == 2 * 2 * 8, "buffers: running mean and variance of the PEER layer (%zu)", nb);
    l720_model_free(m);
}

/* Gradients accumulate over backward calls; zero_grad clears them, sparse rows
 * included; a shorter sequence gives the same logits as the start of a longer
 * one (causal, positions from 0). */
static void test_accumulate(const l720_model_cfg *cfg)
{
    l720_err err;
    l720_model *m = l720_model_new(cfg, B, 11, &err);
    size_t np = l720_model_n_params(m);
    l720_forward_out out;
    l720_model_zero_grad(m);
    l720_model_forward(m, tok, tgt, B, T, 1, &out, &err);
    l720_model_backward(m);
    float *g1 = malloc(sizeof(float) * np);
    memcpy(g1, l720_model_grads(m), sizeof(float) * np);
    l720_model_backward(m);
    const float *g = l720_model_grads(m);
    double worst = 0; /* blocked sums round differently on top of a non-zero start */
    for (size_t i = 0; i < np; i++)
        worst = fmax(worst, fabs(g[i] - 2 * g1[i]) / (fabs(2 * g1[i]) + 1e-6));
    ok(worst < 1e-3, "a second backward without zero_grad doubles every gradient (rel %.2g)",
       worst);
    int nt, touched_any = 0;
    const l720_tensor *ts = l720_model_tensors(m, &nt);
    for (int t = 0; t < nt; t++)
        if (ts[t].sparse_rows)
            for (size_t r = 0; r < ts[t].rows; r++)
                touched_any |= l720_model_touched(m, t)[r];
    l720_model_zero_grad(m);
    int zero = 1, untouched = 1;
    for (size_t i = 0; i < np; i++)
        zero &= g[i] == 0.0f;
    for (int t = 0; t < nt; t++)
        if (ts[t].sparse_rows)
            for (size_t r = 0; r < ts[t].rows; r++)
                untouched &= !l720_model_touched(m, t)[r];
    ok(touched_any && zero && untouched, "zero_grad clears all gradients and the touched rows");
    /* prefix: sequences of 3 tokens against the first 3 of 6 (evaluation: the
     * running BatchNorm statistics make tokens independent of the batch) */
    int32_t tok3[B * 3];
    for (int b = 0; b < B; b++)
        memcpy(tok3 + b * 3, tok + b * T, sizeof(int32_t) * 3);
    l720_model_forward(m, tok, NULL, B, T, 0, NULL, &err);
    float *l6 = malloc(sizeof(float) * B * T * V);
    memcpy(l6, l720_model_logits(m), sizeof(float) * B * T * V);
    l720_model_forward(m, tok3, NULL, B, 3, 0, NULL, &err);
    const float *l3 = l720_model_logits(m);
    double maxd = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < 3 * V; i++)
            maxd = fmax(maxd, fabs(l3[b * 3 * V + i] - l6[b * T * V + i]));
    ok(maxd < 1e-5, "the logits of a 3-token prefix equal those of the full sequence (%.2g)", maxd);
    free(l6);
    free(g1);
    l720_model_free(m);
}

static void expect_cfg_error(l720_model_cfg c, const char *field, const char *what)
{
    l720_err err;
    l720_err_clear(&err);
    int rc = l720_model_cfg_check(&c, &err);
    ok(rc == L720_EINPUT && strstr(err.msg, field) && !strchr(err.msg, '\n'),
       "config error names '%s' for %s: %s", field, what, err.msg);
}

static void test_cfg(void)
{
    l720_model_cfg c = tiny_cfg();
    l720_err err;
    ok(l720_model_cfg_check(&c, &err) == 0 && c.capacity_factor == 1.25f &&
           c.balance_coef == 0.01f && c.zloss_coef == 0.001f && c.bn_momentum == 0.1f &&
           c.rope_theta == 10000.0f,
       "defaults filled: capacity 1.25, balance 0.01, z-loss 0.001, momentum 0.1, theta 1e4");
    c = tiny_cfg();
    c.ffn_hidden = 0;
    l720_model_cfg_check(&c, &err);
    ok(c.ffn_hidden == 48, "ffn_hidden 0 means 3 d_model");
    c = tiny_cfg();
    c.n_heads = 3;
    expect_cfg_error(c, "n_heads", "d_model 16 with 3 heads");
    c = tiny_cfg();
    c.n_heads = 16;
    expect_cfg_error(c, "n_heads", "an odd head size");
    c = tiny_cfg();
    c.ffn[1].kind = L720_FFN_PEER;
    c.ffn[1].n_experts = 15;
    c.ffn[1].heads = 1;
    c.ffn[1].topk = 1;
    expect_cfg_error(c, "ffn[1].n_experts", "15 experts (not a square)");
    c.ffn[1].n_experts = 16;
    c.ffn[1].topk = 5;
    expect_cfg_error(c, "ffn[1].topk", "top-k 5 > n = 4");
    c.ffn[1].topk = 2;
    c.ffn[1].d_key = 5;
    expect_cfg_error(c, "ffn[1].d_key", "odd d_key");
    c.ffn[1].d_key = 0;
    c.ffn[1].heads = 0;
    expect_cfg_error(c, "ffn[1].heads", "0 heads");
    c = tiny_cfg();
    c.ffn[0].kind = L720_FFN_MOE;
    c.ffn[0].n_experts = 0;
    expect_cfg_error(c, "ffn[0].n_experts", "0 MoE experts");
    c = tiny_cfg();
    c.n_layers = 65;
    expect_cfg_error(c, "n_layers", "65 layers");
}

static void test_counts(void)
{
    /* the joint-MoE paper's shapes: d = 64·n_blocks, hidden 3d, GPT-2 vocabulary */
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = 1000;
    c.d_model = 128;
    c.n_layers = 2;
    c.n_heads = 2;
    c.seq_len = 4;
    l720_err err;
    l720_model *m = l720_model_new(&c, 1, 1, &err);
    double d = 128, Vv = 1000;
    ok_near(l720_model_active_params(m), 2 * d * Vv + 13 * 2 * d * d, 0.5,
            "dense: N_act = 2dV + 13 n d^2");
    l720_model_free(m);
    c.ffn[0].kind = c.ffn[1].kind = L720_FFN_MOE;
    c.ffn[0].n_experts = c.ffn[1].n_experts = 8;
    m = l720_model_new(&c, 1, 1, &err);
    ok_near(l720_model_total_params(m), 2 * d * Vv + (4 + 9 * 8) * 2 * d * d, 0.5,
            "moe: N_total = 2dV + (4 + 9E) n d^2");
    ok_near(l720_model_active_params(m), 2 * d * Vv + 13 * 2 * d * d, 0.5,
            "moe: N_act = 2dV + 13 n d^2");
    l720_model_free(m);
}

static void test_bad_input(void)
{
    l720_model_cfg c = tiny_cfg();
    l720_err err;
    l720_model *m = l720_model_new(&c, B, 1, &err);
    int32_t bad[B * T];
    memcpy(bad, tok, sizeof bad);
    bad[4] = V;
    ok(l720_model_forward(m, bad, tgt, B, T, 1, NULL, &err) == L720_EINPUT &&
           strstr(err.msg, "tokens"),
       "a token outside the vocabulary is refused: %s", err.msg);
    ok(l720_model_forward(m, tok, tgt, B, T + 1, 1, NULL, &err) == L720_EINPUT &&
           strstr(err.msg, "seq_len"),
       "T above seq_len is refused: %s", err.msg);
    ok(l720_model_forward(m, tok, NULL, B, T, 0, NULL, &err) == 0, "forward without targets");
    l720_model_free(m);
}

int main(void)
{
    uint64_t rs = 4242;
    /* The whole model in float: the loss carries ~1e-7 of rounding noise, and
     * some tensors' directional derivatives are only ~5e-3, so the central
     * difference is good to a few 1e-3 here: tolerance 1e-2. Each layer is
     * checked at 2e-3 on its own (test_model_layers, _moe, _peer); this test
     * checks the wiring, where a mistake is off by O(1). */
    gc_rtol = 1e-2;
    l720_model_cfg dense = tiny_cfg();
    gradcheck_model("dense", &dense, &rs);

    l720_model_cfg mixed = tiny_cfg();
    mixed.n_layers = 3;
    mixed.ffn[0].kind = L720_FFN_MOE;
    mixed.ffn[0].n_experts = 4;
    mixed.ffn[1].kind = L720_FFN_PEER;
    mixed.ffn[1].n_experts = 16;
    mixed.ffn[1].heads = 2;
    mixed.ffn[1].topk = 2;
    mixed.ffn[2].kind = L720_FFN_DENSE;
    gradcheck_model("moe+peer+dense", &mixed, &rs);
    test_determinism();
    test_stats(&mixed);
    test_accumulate(&mixed);
    test_cfg();
    test_counts();
    test_bad_input();
    return tap_done();
}
