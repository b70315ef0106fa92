/* test_train_optim.c: AdamW against hand-computed steps and on a
 * quadratic, lazy rows, gradient clipping, the LR schedule and batch ramp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "trainer/optim.h"

int main(void)
{
    l720_err err;
    /* two tensors: a dense 2x3 matrix, a sparse 4x2 table */
    l720_tensor ts[2] = {{"w", 0, 2, 3, 0, 0}, {"table", 6, 4, 2, 1, 0}};
    enum { N = 14 };
    float p[N], g[N];
    for (int i = 0; i < N; i++) {
        p[i] = 1.0f + 0.1f * i;
        g[i] = 0.5f - 0.05f * i;
    }
    uint8_t rows[4] = {0, 1, 0, 1};
    for (int r = 0; r < 4; r++)
        if (!rows[r])
            g[6 + 2 * r] = g[7 + 2 * r] = 0; /* untouched rows hold no gradient */
    const uint8_t *touched[2] = {NULL, rows};

    double norm = l720_grad_norm(g, ts, 2, touched);
    double want = 0;
    for (int i = 0; i < N; i++)
        want += (double)g[i] * g[i];
    ok_near(norm, sqrt(want), 1e-9, "gradient norm");

    l720_adamw *o = l720_adamw_new(N, &err);
    float p0[N];
    memcpy(p0, p, sizeof p);
    l720_adamw_hp hp = {0.01, 0.9, 0.95, 1e-8, 0.1};
    l720_adamw_step(o, p, g, ts, 2, touched, &hp, 0.5);
    /* step 1: mhat = g', vhat = g'^2 -> update = lr * sign(g') (up to eps) */
    double e0 = p0[0] - 0.01 * 0.1 * p0[0] - 0.01 * (0.5 * g[0]) / (fabs(0.5 * g[0]) + 1e-8);
    ok_near(p[0], e0, 1e-6, "first AdamW step, with decay and clip scale");
    ok(o->t == 1, "step counter");
    int untouched_same = p[6] == p0[6] && p[7] == p0[7] && p[10] == p0[10] && o->m[6] == 0 &&
                         o->v[10] == 0;
    ok(untouched_same, "lazy rows: untouched rows keep parameters and moments (no decay)");
    ok(p[8] != p0[8] && o->m[8] != 0, "lazy rows: touched rows are updated");

    /* second step by hand on one element */
    float m1 = o->m[1], v1 = o->v[1], p1 = p[1];
    l720_adamw_step(o, p, g, ts, 2, touched, &hp, 1.0);
    double m2 = 0.9 * m1 + 0.1 * g[1], v2 = 0.95 * v1 + 0.05 * (double)g[1] * g[1];
    double e1 = p1 - 0.01 * 0.1 * p1 -
                0.01 * (m2 / (1 - 0.81)) / (sqrt(v2 / (1 - 0.95 * 0.95)) + 1e-8);
    ok_near(p[1], e1, 1e-6, "second step with bias correction");
    l720_adamw_free(o);

    /* a quadratic: f = 0.5 sum a_i (p_i - c_i)^2 converges to c */
    float q[8], qg[8], c[8], a[8];
    l720_tensor qt[1] = {{"q", 0, 1, 8, 0, 1}};
    for (int i = 0; i < 8; i++) {
        q[i] = 0;
        c[i] = (float)(i - 3);
        a[i] = 0.5f + (float)i;
    }
    o = l720_adamw_new(8, &err);
    l720_adamw_hp qhp = {0.05, 0.9, 0.999, 1e-8, 0.0};
    for (int it = 0; it < 2000; it++) {
        for (int i = 0; i < 8; i++)
            qg[i] = a[i] * (q[i] - c[i]);
        qhp.lr = 0.05 * (1.0 - it / 2000.0);
        l720_adamw_step(o, q, qg, qt, 1, NULL, &qhp, 1.0);
    }
    double err_max = 0;
    for (int i = 0; i < 8; i++)
        err_max = fmax(err_max, fabs(q[i] - c[i]));
    ok(err_max < 1e-2, "AdamW minimises a quadratic (max error %.2e)", err_max);
    l720_adamw_free(o);

    /* schedule: 100 steps, warm-up 10, decay over the last 20 */
    l720_schedule s = {1.0, 100, 10, 0.2, 0, 1, 16};
    ok_near(l720_schedule_lr(&s, 0), 0.1, 1e-12, "warm-up starts at lr/warmup");
    ok_near(l720_schedule_lr(&s, 9), 1.0, 1e-12, "warm-up ends at lr");
    ok_near(l720_schedule_lr(&s, 50), 1.0, 1e-12, "constant in the middle");
    ok_near(l720_schedule_lr(&s, 79), 1.0, 1e-12, "constant until the last 20%%");
    ok_near(l720_schedule_lr(&s, 80), 1.0, 1e-12, "decay starts at step 80");
    ok_near(l720_schedule_lr(&s, 90), 0.5, 1e-12, "half way down");
    ok_near(l720_schedule_lr(&s, 99), 0.05, 1e-12, "last step: lr/20");
    ok_near(l720_schedule_lr(&s, 100), 0.0, 1e-12, "zero at the end");
    s.decay_frac = 0;
    ok_near(l720_schedule_lr(&s, 99), 1.0, 1e-12, "no decay");
    ok(l720_schedule_batch(&s, 0) == 16, "no ramp: full batch");
    s.ramp_steps = 10;
    s.batch_start = 4;
    ok(l720_schedule_batch(&s, 0) == 4 && l720_schedule_batch(&s, 5) == 10 &&
           l720_schedule_batch(&s, 10) == 16, "batch ramp 4 -> 16 over 10 steps");
    /* the scale of a sum of K micro-gradients: clip on their mean's norm, then / K */
    ok_near(l720_accum_scale(3.0, 4, 1.0), 0.25, 1e-15, "mean norm 0.75 under clip 1: 1/K");
    ok_near(l720_accum_scale(8.0, 4, 1.0), 0.125, 1e-15, "mean norm 2 over clip 1: (1/2)/K");
    ok_near(l720_accum_scale(8.0, 4, 0.0), 0.25, 1e-15, "clip 0: no clipping");
    ok_near(l720_accum_scale(5.0, 1, 2.0), 0.4, 1e-15, "K 1: the plain clip scale");
    return tap_done();
}
