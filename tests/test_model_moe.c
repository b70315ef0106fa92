/* test_model_moe.c: the Switch MoE layer against central finite differences,
 * in training (capacity 1.25, with dropped tokens) and in evaluation
 * (dropless), auxiliary losses included; and the routing bookkeeping. */
#include <math.h>
#include <string.h>

#include "model_check.h"
#include "trainer/moe.h"

enum { N = 12, C = 8, H = 6, E = 4 };
static float x[N * C], router[E * C], w1[E * H * C], w3[E * H * C], w2[E * C * H], y[N * C],
    gy[N * C];
static l720_moe *moe;
static double cf;                      /* capacity factor of the pass under test */
static const float bc = 0.5f, zc = 0.1f; /* large coefficients: their gradients show */
static int32_t base_expert[N];
static uint8_t base_kept[N];

static double loss(void *ctx)
{
    (void)ctx;
    l720_moe_forward(moe, y, x, router, w1, w3, w2, N, cf);
    if (memcmp(base_expert, moe->expert, sizeof base_expert) ||
        memcmp(base_kept, moe->kept, sizeof base_kept))
        gc_route_changed = 1;
    return gc_wsum(gy, y, N * C) + bc * moe->balance + zc * moe->zloss;
}

static void check(const char *mode, uint64_t *rs)
{
    static float dx[N * C], dr[E * C], d1[E * H * C], d3[E * H * C], d2[E * C * H];
    memset(dx, 0, sizeof dx);
    memset(dr, 0, sizeof dr);
    memset(d1, 0, sizeof d1);
    memset(d3, 0, sizeof d3);
    memset(d2, 0, sizeof d2);
    l720_moe_forward(moe, y, x, router, w1, w3, w2, N, cf);
    memcpy(base_expert, moe->expert, sizeof base_expert);
    memcpy(base_kept, moe->kept, sizeof base_kept);
    l720_moe_backward(moe, dx, dr, d1, d3, d2, gy, x, router, w1, w3, w2, bc, zc);
    char what[96];
    snprintf(what, sizeof what, "moe %s dinp", mode);
    gc_check(what, loss, NULL, x, dx, N * C, rs);
    snprintf(what, sizeof what, "moe %s drouter", mode);
    gc_check(what, loss, NULL, router, dr, E * C, rs);
    snprintf(what, sizeof what, "moe %s dw1", mode);
    gc_check(what, loss, NULL, w1, d1, E * H * C, rs);
    snprintf(what, sizeof what, "moe %s dw3", mode);
    gc_check(what, loss, NULL, w3, d3, E * H * C, rs);
    snprintf(what, sizeof what, "moe %s dw2", mode);
    gc_check(what, loss, NULL, w2, d2, E * C * H, rs);
}

int main(void)
{
    uint64_t rs = 777;
    moe = l720_moe_new(N, C, H, E);
    gc_fill(x, N * C, 0, 1, &rs);
    gc_fill(router, E * C, 0, 0.5, &rs);
    /* a biased router: expert 0 is popular, so capacity drops some tokens */
    for (int c = 0; c < C; c++)
        router[c] += 0.4f * x[c];
    gc_fill(w1, E * H * C, 0, 0.4, &rs);
    gc_fill(w3, E * H * C, 0, 0.4, &rs);
    gc_fill(w2, E * C * H, 0, 0.4, &rs);
    gc_fill(gy, N * C, 0, 1, &rs);

    /* training: capacity ceil(1.25 · 12 / 4) = 4 */
    cf = 1.25;
    l720_moe_forward(moe, y, x, router, w1, w3, w2, N, cf);
    size_t cnt[E] = {0}, kept[E] = {0};
    int argmax_ok = 1, drop_zero = 1;
    for (int n = 0; n < N; n++) {
        int e = moe->expert[n];
        cnt[e]++;
        kept[e] += moe->kept[n];
        for (int j = 0; j < E; j++)
            argmax_ok &= moe->probs[n * E + j] <= moe->probs[n * E + e];
        if (!moe->kept[n])
            for (int c = 0; c < C; c++)
                drop_zero &= y[n * C + c] == 0.0f;
    }
    int cap_ok = 1;
    for (int e = 0; e < E; e++)
        cap_ok &= kept[e] == (cnt[e] < 4 ? cnt[e] : 4);
    ok(argmax_ok, "moe: each token goes to its most probable expert");
    ok(cap_ok, "moe: each expert keeps min(routed, capacity 4) tokens, first come");
    ok(moe->n_dropped > 0, "moe: this router overflows an expert (%zu dropped)", moe->n_dropped);
    ok(drop_zero, "moe: a dropped token's output is 0");
    double bal = 0, z = 0;
    for (int e = 0; e < E; e++) {
        double P = 0;
        for (int n = 0; n < N; n++)
            P += moe->probs[n * E + e] / N;
        bal += E * ((double)cnt[e] / N) * P;
    }
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int e = 0; e < E; e++) {
            double l = 0;
            for (int c = 0; c < C; c++)
                l += (double)x[n * C + c] * router[e * C + c];
            s += exp(l);
        }
        z += log(s) * log(s) / N;
    }
    ok_near(moe->balance, bal, 1e-5, "moe: balance loss E·Σ f_e P_e");
    ok_near(moe->zloss, z, 1e-4, "moe: z-loss mean(logsumexp²)");
    check("training", &rs);

    /* evaluation: dropless */
    cf = 0;
    l720_moe_forward(moe, y, x, router, w1, w3, w2, N, cf);
    ok(moe->n_dropped == 0 && moe->offset[E] == N, "moe evaluation is dropless");
    check("evaluation", &rs);
    l720_moe_free(moe);
    return tap_done();
}
