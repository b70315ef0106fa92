/* test_model_layers.c: the hand-written backward of each dense layer against
 * central finite differences (matmul, RMSNorm, RoPE + causal attention,
 * SwiGLU, embedding, cross-entropy), on tiny shapes; plus properties: causal
 * masking, RoPE depends only on relative positions. */
#include <math.h>
#include <string.h>

#include "model_check.h"
#include "trainer/attention.h"
#include "trainer/crossentropy.h"
#include "trainer/matmul.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"

static uint64_t rs = 12345;

/* ---- matmul ---- */
enum { MN = 5, MC = 7, MO = 6 };
static float mm_x[MN * MC], mm_w[MO * MC], mm_y[MN * MO], mm_g[MN * MO];
static double mm_loss(void *ctx)
{
    (void)ctx;
    l720_matmul_forward(mm_y, mm_x, mm_w, MN, MC, MO);
    return gc_wsum(mm_g, mm_y, MN * MO);
}
static void test_matmul(void)
{
    float dx[MN * MC] = {0}, dw[MO * MC] = {0};
    gc_fill(mm_x, MN * MC, 0, 1, &rs);
    gc_fill(mm_w, MO * MC, 0, 1, &rs);
    gc_fill(mm_g, MN * MO, 0, 1, &rs);
    mm_loss(NULL);
    l720_matmul_backward(dx, dw, mm_g, mm_x, mm_w, MN, MC, MO);
    gc_check("matmul dinp", mm_loss, NULL, mm_x, dx, MN * MC, &rs);
    gc_check("matmul dw", mm_loss, NULL, mm_w, dw, MO * MC, &rs);
}

/* ---- rmsnorm ---- */
enum { RN = 5, RC = 8 };
static float rn_x[RN * RC], rn_w[RC], rn_y[RN * RC], rn_r[RN], rn_g[RN * RC];
static double rn_loss(void *ctx)
{
    (void)ctx;
    l720_rmsnorm_forward(rn_y, rn_r, rn_x, rn_w, RN, RC);
    return gc_wsum(rn_g, rn_y, RN * RC);
}
static void test_rmsnorm(void)
{
    float dx[RN * RC] = {0}, dw[RC] = {0};
    gc_fill(rn_x, RN * RC, 0.3, 1, &rs);
    gc_fill(rn_w, RC, 1, 0.2, &rs);
    gc_fill(rn_g, RN * RC, 0, 1, &rs);
    rn_loss(NULL);
    double ms = 0;
    for (int c = 0; c < RC; c++)
        ms += (double)rn_y[c] / rn_w[c] * rn_y[c] / rn_w[c];
    ok_near(ms / RC, 1.0, 1e-3, "rmsnorm: normalised row has mean square 1");
    l720_rmsnorm_backward(dx, dw, rn_g, rn_x, rn_w, rn_r, RN, RC);
    gc_check("rmsnorm dinp", rn_loss, NULL, rn_x, dx, RN * RC, &rs);
    gc_check("rmsnorm dw", rn_loss, NULL, rn_w, dw, RC, &rs);
}

/* ---- RoPE + attention ---- */
enum { AB = 2, AT = 5, AC = 8, AH = 2, AHS = AC / AH };
static float at_raw[AB * AT * 3 * AC], at_qkv[AB * AT * 3 * AC], at_y[AB * AT * AC],
    at_lse[AB * AH * AT], at_g[AB * AT * AC], at_cos[AT * AHS / 2], at_sin[AT * AHS / 2];
static double at_loss(void *ctx)
{
    (void)ctx;
    memcpy(at_qkv, at_raw, sizeof at_raw);
    l720_rope_forward(at_qkv, at_cos, at_sin, AB, AT, AH, AHS, 3 * AC);
    l720_rope_forward(at_qkv + AC, at_cos, at_sin, AB, AT, AH, AHS, 3 * AC);
    l720_attention_forward(at_y, at_lse, at_qkv, AB, AT, AC, AH);
    return gc_wsum(at_g, at_y, AB * AT * AC);
}
static void test_attention(void)
{
    float dqkv[AB * AT * 3 * AC] = {0};
    l720_rope_table(at_cos, at_sin, AT, AHS, 10000.0f);
    gc_fill(at_raw, sizeof at_raw / sizeof(float), 0, 1, &rs);
    gc_fill(at_g, AB * AT * AC, 0, 1, &rs);
    at_loss(NULL);
    l720_attention_backward(dqkv, at_g, at_qkv, at_lse, AB, AT, AC, AH);
    l720_rope_backward(dqkv, at_cos, at_sin, AB, AT, AH, AHS, 3 * AC);
    l720_rope_backward(dqkv + AC, at_cos, at_sin, AB, AT, AH, AHS, 3 * AC);
    gc_check("rope+attention dqkv", at_loss, NULL, at_raw, dqkv, sizeof at_raw / sizeof(float),
             &rs);
    /* causal: changing the last token of sequence 0 leaves earlier outputs alone */
    float y0[AB * AT * AC];
    at_loss(NULL);
    memcpy(y0, at_y, sizeof y0);
    for (int i = 0; i < 3 * AC; i++)
        at_raw[(AT - 1) * 3 * AC + i] += 1.0f;
    at_loss(NULL);
    int same = 1, changed = 0;
    for (int i = 0; i < (AT - 1) * AC; i++)
        same &= at_y[i] == y0[i];
    for (int i = (AT - 1) * AC; i < AT * AC; i++)
        changed |= at_y[i] != y0[i];
    ok(same && changed, "attention is causal: a later token does not change earlier outputs");
    /* RoPE: q_t·k_s depends on t − s only */
    float q[AHS], k[AHS];
    gc_fill(q, AHS, 0, 1, &rs);
    gc_fill(k, AHS, 0, 1, &rs);
    float rowq[AT * AHS], rowk[AT * AHS];
    for (int t = 0; t < AT; t++) {
        memcpy(rowq + t * AHS, q, sizeof q);
        memcpy(rowk + t * AHS, k, sizeof k);
    }
    l720_rope_forward(rowq, at_cos, at_sin, 1, AT, 1, AHS, AHS);
    l720_rope_forward(rowk, at_cos, at_sin, 1, AT, 1, AHS, AHS);
    double d1 = 0, d2 = 0;
    for (int i = 0; i < AHS; i++) {
        d1 += rowq[3 * AHS + i] * rowk[1 * AHS + i];
        d2 += rowq[4 * AHS + i] * rowk[2 * AHS + i];
    }
    ok_near(d1, d2, 1e-5, "rope: q_3.k_1 == q_4.k_2 (relative position only)");
}

/* ---- SwiGLU ---- */
enum { SN = 5, SC = 8, SH = 12 };
static float sw_x[SN * SC], sw_w1[SH * SC], sw_w3[SH * SC], sw_w2[SC * SH], sw_y[SN * SC],
    sw_h1[SN * SH], sw_h3[SN * SH], sw_a[SN * SH], sw_g[SN * SC];
static double sw_loss(void *ctx)
{
    (void)ctx;
    l720_swiglu_forward(sw_y, sw_h1, sw_h3, sw_a, sw_x, sw_w1, sw_w3, sw_w2, SN, SC, SH);
    return gc_wsum(sw_g, sw_y, SN * SC);
}
static void test_swiglu(void)
{
    float dx[SN * SC] = {0}, d1[SH * SC] = {0}, d3[SH * SC] = {0}, d2[SC * SH] = {0};
    float s1[SN * SH], s3[SN * SH];
    gc_fill(sw_x, SN * SC, 0, 1, &rs);
    gc_fill(sw_w1, SH * SC, 0, 0.5, &rs);
    gc_fill(sw_w3, SH * SC, 0, 0.5, &rs);
    gc_fill(sw_w2, SC * SH, 0, 0.5, &rs);
    gc_fill(sw_g, SN * SC, 0, 1, &rs);
    sw_loss(NULL);
    l720_swiglu_backward(dx, d1, d3, d2, s1, s3, sw_g, sw_x, sw_h1, sw_h3, sw_a, sw_w1, sw_w3,
                         sw_w2, SN, SC, SH);
    gc_check("swiglu dinp", sw_loss, NULL, sw_x, dx, SN * SC, &rs);
    gc_check("swiglu dw1", sw_loss, NULL, sw_w1, d1, SH * SC, &rs);
    gc_check("swiglu dw3", sw_loss, NULL, sw_w3, d3, SH * SC, &rs);
    gc_check("swiglu dw2", sw_loss, NULL, sw_w2, d2, SC * SH, &rs);
}

/* ---- embedding + cross-entropy ---- */
enum { CN = 6, CV = 11, CC = 4 };
static float ce_z[CN * CV], ce_lse[CN], em_tab[CV * CC], em_y[CN * CC], em_g[CN * CC];
static int32_t ce_t[CN] = {3, 0, 10, -1, 3, 7}, em_tok[CN] = {1, 5, 1, 1, 9, 0};
static double ce_loss(void *ctx)
{
    (void)ctx;
    size_t cnt;
    double s = l720_crossentropy_forward(ce_lse, ce_z, ce_t, CN, CV, &cnt);
    return s / (double)cnt;
}
static double em_loss(void *ctx)
{
    (void)ctx;
    l720_embedding_forward(em_y, em_tok, em_tab, CN, CC);
    return gc_wsum(em_g, em_y, CN * CC);
}
static void test_crossentropy(void)
{
    float dz[CN * CV];
    gc_fill(ce_z, CN * CV, 0, 2, &rs);
    double l = ce_loss(NULL);
    size_t cnt;
    l720_crossentropy_forward(ce_lse, ce_z, ce_t, CN, CV, &cnt);
    ok(cnt == 5, "cross-entropy: a negative target is ignored (5 of 6 count)");
    double ref = 0;
    for (int n = 0; n < CN; n++) {
        if (ce_t[n] < 0)
            continue;
        double s = 0;
        for (int v = 0; v < CV; v++)
            s += exp(ce_z[n * CV + v]);
        ref += log(s) - ce_z[n * CV + ce_t[n]];
    }
    ok_near(l, ref / 5, 1e-5, "cross-entropy equals -log softmax at the target");
    l720_crossentropy_backward(dz, ce_z, ce_lse, ce_t, CN, CV, 1.0f / 5);
    gc_check("cross-entropy dlogits", ce_loss, NULL, ce_z, dz, CN * CV, &rs);
    float de[CV * CC] = {0};
    gc_fill(em_tab, CV * CC, 0, 1, &rs);
    gc_fill(em_g, CN * CC, 0, 1, &rs);
    l720_embedding_backward(de, em_g, em_tok, CN, CC);
    gc_check("embedding dtable (repeated tokens)", em_loss, NULL, em_tab, de, CV * CC, &rs);
}

/* ---- the trainer's RNG ---- */
static void test_trng(void)
{
    uint64_t a = 42, b = 42;
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= l720_trng_next(&a) == l720_trng_next(&b);
    ok(same && a == b, "trng: same state, same stream; the state is one number");
    double s = 0, s2 = 0;
    uint64_t st = 7;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        double g = l720_trng_normal(&st);
        s += g;
        s2 += g * g;
    }
    ok(fabs(s / n) < 0.03 && fabs(s2 / n - 1) < 0.04, "trng: normal mean %.3f, variance %.3f",
       s / n, s2 / n);
    int inr = 1;
    for (int i = 0; i < 1000; i++)
        inr &= l720_trng_index(&st, 7) < 7;
    ok(inr, "trng: index(7) stays in 0..6");
    ok(l720_trng_stream(1, 0) != l720_trng_stream(1, 1) &&
           l720_trng_stream(1, 0) != l720_trng_stream(2, 0),
       "trng: streams differ by seed and by stream number");
}

int main(void)
{
    test_trng();
    test_matmul();
    test_rmsnorm();
    test_attention();
    test_swiglu();
    test_crossentropy();
    return tap_done();
}
