/* test_train_accum.c: gradient accumulation (--grad-accum K).
 * Model level (the CPU model, whose backward adds into the gradients and
 * the touched rows): a dense model's two half batches summed and halved
 * give the whole batch's gradient and the same AdamW step; MoE and PEER
 * models: the accumulated gradient is the sum (mean x 2) of the separately
 * computed micro-gradients, the PEER touched rows are the union and every
 * other row is exactly 0. Driver level: batch 2 x K 2 = batch 4 x K 1, the
 * log counts every micro-batch, a resumed K = 2 run is bitwise the straight
 * one, and K is validated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tap.h"
#include "train_fixture.h"
#include "trainer/ckpt.h"
#include "trainer/data_prepare.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/train.h"

enum { B = 4, T = 6, V = 13, HALF = B / 2 };
static int32_t tok[B * T], tgt[B * T];

static l720_model *new_model(const char *ffn)
{
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = V;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.seq_len = T;
    c.ffn_hidden = 24;
    for (int l = 0; l < c.n_layers; l++) {
        l720_err e;
        l720_ffn_parse(ffn, &c.ffn[l], &e);
    }
    l720_err err = {0};
    if (l720_model_cfg_check(&c, &err)) {
        tap_diag("config: %s", err.msg);
        return NULL;
    }
    return l720_model_new(&c, B, 7, &err);
}

/* forward + backward of sequences [b0, b0 + nb) adding into the gradients */
static void micro(l720_model *m, int b0, int nb)
{
    l720_forward_out out;
    l720_err err;
    if (l720_model_forward(m, tok + b0 * T, tgt + b0 * T, nb, T, 1, &out, &err))
        tap_diag("forward: %s", err.msg);
    l720_model_backward(m);
}

/* ||a - s b|| / ||s b|| over n values */
static double rel_l2(const float *a, const float *b, double s, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - s * b[i];
        d += x * x;
        r += s * b[i] * s * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* The worst relative L2 error of a tensor of a against s * b. */
static double worst_tensor(l720_model *m, const float *a, const float *b, double s, int *worst)
{
    int nt;
    const l720_tensor *ts = l720_model_tensors(m, &nt);
    double w = 0;
    for (int t = 0; t < nt; t++) {
        double e = rel_l2(a + ts[t].offset, b + ts[t].offset, s, ts[t].rows * ts[t].cols);
        if (e > w)
            w = e, *worst = t;
    }
    return w;
}

static uint8_t *copy_bytes(const uint8_t *x, size_t n)
{
    uint8_t *y = malloc(n);
    memcpy(y, x, n);
    return y;
}

static float *copy(const float *x, size_t n)
{
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static void test_dense(void)
{
    l720_model *m = new_model("dense");
    size_t n = l720_model_n_params(m);
    int nt, wt = 0;
    const l720_tensor *ts = l720_model_tensors(m, &nt);
    l720_model_zero_grad(m);
    micro(m, 0, B);
    float *full = copy(l720_model_grads(m), n);
    l720_model_zero_grad(m);
    micro(m, 0, HALF);
    micro(m, HALF, HALF);
    float *acc = copy(l720_model_grads(m), n);
    double e = worst_tensor(m, full, acc, 0.5, &wt);
    ok(e < 1e-5, "dense: 2 micro-batches of %d, summed and halved = one batch of %d: worst "
       "tensor (%s) relative error %.2e < 1e-5", HALF, B, ts[wt].name, e);
    double nf = l720_grad_norm(full, ts, nt, NULL), na = l720_grad_norm(acc, ts, nt, NULL) / 2;
    ok(fabs(nf - na) <= 1e-6 * nf, "dense: the norm of the mean is the batch's (%.9g, %.9g)", na,
       nf);

    /* one clipped AdamW step from the same state: scale 1 on the batch
     * gradient, scale / 2 on the sum (what the driver passes) */
    l720_adamw_hp hp = {1e-3, 0.9, 0.95, 1e-8, 0.1};
    float *p0 = copy(l720_model_params(m), n), *p1 = copy(p0, n);
    l720_err err;
    l720_adamw *oa = l720_adamw_new(n, &err), *ob = l720_adamw_new(n, &err);
    double clip = 0.5 * nf; /* the clip acts */
    l720_adamw_step(oa, p0, full, ts, nt, NULL, &hp, clip / nf);
    l720_adamw_step(ob, p1, acc, ts, nt, NULL, &hp, clip / na / 2);
    /* step 1 moves each parameter by lr sign(g) (+ decay): a difference is a
     * gradient element that rounding moved, relative to lr */
    double dmax = 0, gap = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)p0[i] - p1[i]);
        if (d > dmax)
            dmax = d, gap = fabs((double)full[i]);
    }
    ok(dmax <= 1e-3 * hp.lr, "dense: the same parameters after the step (max difference %.2e, "
       "%.2e of lr; gradient there %.2e)", dmax, dmax / hp.lr, gap);
    l720_adamw_free(oa);
    l720_adamw_free(ob);
    free(p0), free(p1), free(full), free(acc);
    l720_model_free(m);
}

/* MoE or PEER: the accumulated gradient against g1 + g2 of the separate
 * micro-batches; for PEER also the touched union and the zero rows. */
static void test_routed(const char *ffn)
{
    l720_model *m = new_model(ffn);
    size_t n = l720_model_n_params(m);
    int nt, wt = 0;
    const l720_tensor *ts = l720_model_tensors(m, &nt);
    uint8_t *t1[64] = {0}, *t2[64] = {0};
    l720_model_zero_grad(m);
    micro(m, 0, HALF);
    float *g1 = copy(l720_model_grads(m), n);
    for (int t = 0; t < nt; t++)
        if (ts[t].sparse_rows)
            t1[t] = copy_bytes(l720_model_touched(m, t), ts[t].rows);
    l720_model_zero_grad(m);
    micro(m, HALF, HALF);
    float *g2 = copy(l720_model_grads(m), n);
    for (int t = 0; t < nt; t++)
        if (ts[t].sparse_rows)
            t2[t] = copy_bytes(l720_model_touched(m, t), ts[t].rows);
    l720_model_zero_grad(m);
    micro(m, 0, HALF);
    micro(m, HALF, HALF);
    const float *acc = l720_model_grads(m);
    float *mean = malloc(n * sizeof *mean);
    for (size_t i = 0; i < n; i++)
        mean[i] = 0.5f * (g1[i] + g2[i]);
    double e = worst_tensor(m, mean, acc, 0.5, &wt);
    ok(e < 1e-5, "%s: accumulated gradient / 2 = mean of the micro-gradients: worst tensor (%s) "
       "relative error %.2e < 1e-5", ffn, ts[wt].name, e);
    int n_sparse = 0, union_ok = 1, zeros_ok = 1;
    size_t only1 = 0, only2 = 0, both = 0;
    for (int t = 0; t < nt; t++) {
        if (!ts[t].sparse_rows)
            continue;
        n_sparse++;
        const uint8_t *tu = l720_model_touched(m, t);
        for (size_t r = 0; r < ts[t].rows; r++) {
            int want = t1[t][r] || t2[t][r];
            union_ok &= (tu[r] != 0) == want;
            only1 += t1[t][r] && !t2[t][r];
            only2 += t2[t][r] && !t1[t][r];
            both += t1[t][r] && t2[t][r];
            if (!want)
                for (size_t c = 0; c < ts[t].cols; c++)
                    zeros_ok &= acc[ts[t].offset + r * ts[t].cols + c] == 0.0f;
        }
    }
    if (n_sparse) {
        ok(union_ok && only1 && only2,
           "%s: touched rows = the union (%zu rows only in the first micro-batch, %zu only in "
           "the second, %zu in both)", ffn, only1, only2, both);
        ok(zeros_ok, "%s: rows outside the union hold exactly 0", ffn);
        double na = l720_grad_norm(acc, ts, nt, (const uint8_t *const *)t1);
        const uint8_t *tu[64];
        for (int t = 0; t < nt; t++)
            tu[t] = ts[t].sparse_rows ? l720_model_touched(m, t) : NULL;
        double nu = l720_grad_norm(acc, ts, nt, tu), nall = l720_grad_norm(acc, ts, nt, NULL);
        ok(nu == nall && na < nu, "%s: the norm over the union is the norm over all rows (%.9g) "
           "and more than over the first micro-batch's rows (%.9g)", ffn, nu, na);
    }
    for (int t = 0; t < nt; t++)
        free(t1[t]), free(t2[t]);
    free(g1), free(g2), free(mean);
    l720_model_free(m);
}

/* ---- driver ---- */

static char tmp[] = "/tmp/l720_train_accum_XXXXXX";
static char data[300];

static int run(const char *out, const char *ffn, const char *batch, const char *accum, long steps, long stop_after,
               int resume, l720_train_result *res, l720_err *err)
{
    char dir[300], num[32];
    snprintf(dir, sizeof dir, "%s/%s", tmp, out);
    l720_err_clear(err);
    l720_train_cfg cfg;
    l720_cfg_defaults(&cfg);
    if (resume && l720_train_resume_config(dir, &cfg, err))
        return err->code;
    const char *kv[][2] = {{"d-model", "16"}, {"layers", "2"},        {"heads", "1"},
                           {"seq-len", "16"}, {"batch", batch},       {"grad-accum", accum},
                           {"eval-every", "2"}, {"eval-tokens", "64"}, {"warmup", "2"},
                           {"lr", "0.01"},    {"ffn", ffn}, {"ffn-layers", "1"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (!resume && l720_cfg_set(&cfg, kv[i][0], kv[i][1], "test", err))
            return err->code;
    snprintf(num, sizeof num, "%ld", steps);
    l720_cfg_set(&cfg, "steps", num, "test", err);
    cfg.stop_after = stop_after;
    l720_train_opts o = {data, dir, NULL, resume, NULL, NULL, NULL, NULL};
    return l720_train_run(&cfg, &o, res, err);
}

static l720_ckpt *ckpt(const char *run_dir)
{
    char p[300];
    l720_err err;
    snprintf(p, sizeof p, "%s/%s/checkpoint.bin", tmp, run_dir);
    return l720_ckpt_read(p, &err);
}

static int same_state(const char *a, const char *b)
{
    l720_ckpt *x = ckpt(a), *y = ckpt(b);
    int same = x && y && x->a.n == y->a.n && x->a.nb == y->a.nb &&
               x->meta.step == y->meta.step && x->meta.tokens == y->meta.tokens &&
               x->meta.loss_sum == y->meta.loss_sum &&
               !memcmp(x->a.params, y->a.params, x->a.n * sizeof(float)) &&
               !memcmp(x->a.m, y->a.m, x->a.n * sizeof(float)) &&
               !memcmp(x->a.v, y->a.v, x->a.n * sizeof(float)) &&
               (!x->a.nb || !memcmp(x->a.buffers, y->a.buffers, x->a.nb * sizeof(float)));
    l720_ckpt_free(x);
    l720_ckpt_free(y);
    return same;
}

static int file_has(const char *run_dir, const char *what)
{
    char p[300];
    size_t len;
    l720_err err;
    snprintf(p, sizeof p, "%s/%s/log.jsonl", tmp, run_dir);
    char *text = l720_read_file(p, &len, &err);
    int has = text && strstr(text, what);
    free(text);
    return has;
}

static void test_driver(void)
{
    l720_err err = {0};
    l720_train_result r, ra;
    /* dense: batch 4 x K 1 against batch 2 x K 2: the same sequences, the
     * same mean gradient up to rounding */
    ok(run("b4", "dense", "4", "1", 2, 0, 0, &r, &err) == 0, "dense: batch 4, K 1 (%s)", err.msg);
    ok(run("d2", "dense", "2", "2", 2, 0, 0, &ra, &err) == 0, "dense: batch 2, K 2 (%s)",
       err.msg);
    ok(r.tokens == ra.tokens && ra.tokens == 2.0 * 4 * 16,
       "the log counts every micro-batch: %.0f tokens after 2 steps of 2 x 2 x 16", ra.tokens);
    ok(fabs(ra.train_loss - r.train_loss) < 1e-5 * r.train_loss,
       "the same training loss to 1e-5 (%.8f, %.8f)", ra.train_loss, r.train_loss);
    l720_ckpt *x = ckpt("b4"), *y = ckpt("d2");
    double dmax = 0;
    for (size_t i = 0; x && y && i < x->a.n; i++)
        dmax = fmax(dmax, fabs((double)x->a.params[i] - y->a.params[i]));
    ok(x && y && dmax < 1e-5, "dense: the same parameters after 2 steps (max difference %.2e, "
       "lr 0.01)", dmax);
    l720_ckpt_free(x);
    l720_ckpt_free(y);
    ok(file_has("d2", "\"grad_accum\":2") && file_has("d2", "\"tokens_per_step\":64") &&
           file_has("b4", "\"grad_accum\":1"),
       "the run-log header records grad_accum and tokens_per_step");

    /* resume: K 2 for 3 steps, then the rest: bitwise the straight run */
    ok(run("k2", "peer:16:2:2", "2", "2", 4, 0, 0, &r, &err) == 0, "peer: K 2 (%s)", err.msg);
    ok(run("k2r", "peer:16:2:2", "2", "2", 4, 3, 0, &r, &err) == 0 && r.step == 3,
       "peer: K 2, stop after 3 (%s)", err.msg);
    ok(run("k2r", "peer:16:2:2", "2", "2", 4, 0, 1, &r, &err) == 0 && r.step == 4,
       "... resumed (%s)", err.msg);
    ok(same_state("k2", "k2r"), "a resumed K 2 run is bitwise the straight one");
    l720_ckpt *c = ckpt("k2r");
    ok(c && cJSON_GetNumberValue(cJSON_GetObjectItem(c->config, "grad_accum")) == 2,
       "the checkpoint keeps grad_accum");
    l720_ckpt_free(c);

    /* validation */
    l720_train_cfg cfg;
    l720_cfg_defaults(&cfg);
    ok(cfg.grad_accum == 1, "default K 1");
    const char *bad[] = {"0", "-2", "1.5", "two"};
    for (int i = 0; i < 4; i++) {
        l720_err_clear(&err);
        l720_cfg_defaults(&cfg);
        int rc = l720_cfg_set(&cfg, "grad-accum", bad[i], "train", &err);
        if (!rc)
            rc = l720_cfg_check(&cfg, &err);
        ok(rc == L720_EINPUT && strstr(err.msg, "grad-accum") && !strchr(err.msg, '\n'),
           "--grad-accum %s: code 2 naming the key (%s)", bad[i], err.msg);
    }
}

int main(void)
{
    uint32_t s = 12345;
    for (int i = 0; i < B * T; i++) {
        s = s * 1664525u + 1013904223u;
        tok[i] = (int32_t)((s >> 8) % V);
        s = s * 1664525u + 1013904223u;
        tgt[i] = (int32_t)((s >> 8) % V);
    }
    test_dense();
    test_routed("moe:4");
    test_routed("peer:16:2:2");

    if (train_fixture_open(tmp, data, sizeof data))
        return tap_done();
    test_driver();
    train_fixture_close(tmp);
    return tap_done();
}
