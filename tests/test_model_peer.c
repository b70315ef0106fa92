/* test_model_peer.c: the PEER layer. Product-key top-k equals brute force over
 * all n² experts (random inputs, and integer inputs full of ties); every
 * expert is reachable; BatchNorm statistics; the backward against central
 * finite differences in training (batch statistics) and evaluation (running
 * statistics); touched rows are exactly the retrieved experts. */
#include <math.h>
#include <string.h>

#include "model_check.h"
#include "trainer/peer.h"

/* ---- top-k against brute force ---- */

static float half_score(const float *q, const float *key, int half)
{
    float d = 0.0f; /* the same order of operations as the layer */
    for (int j = 0; j < half; j++)
        d += q[j] * key[j];
    return d;
}

/* Top-k of all n² pairs by (score desc, id asc), by selection. */
static void brute_topk(int32_t *ids, float *sc, const float *q, const float *k1,
                       const float *k2, int n, int k, int dk)
{
    int half = dk / 2;
    float *all = malloc(sizeof(float) * (size_t)n * n);
    uint8_t *taken = calloc((size_t)n * n, 1);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            all[a * n + b] = half_score(q, k1 + a * half, half) +
                             half_score(q + half, k2 + b * half, half);
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int e = 0; e < n * n; e++)
            if (!taken[e] && (best < 0 || all[e] > all[best]))
                best = e; /* strict >: the lowest id wins ties */
        taken[best] = 1;
        ids[r] = best;
        sc[r] = all[best];
    }
    free(all);
    free(taken);
}

static void test_topk(uint64_t *rs)
{
    int trials = 3000, same = 1, same_ties = 1;
    for (int tr = 0; tr < 2 * trials; tr++) {
        int ties = tr >= trials;
        int n = 1 + (int)l720_trng_index(rs, 12), k = 1 + (int)l720_trng_index(rs, (uint64_t)n);
        int dk = 2 * (1 + (int)l720_trng_index(rs, 4)), half = dk / 2;
        float q[8], k1[12 * 4], k2[12 * 4], sa[12], sb[12];
        int32_t ia[12], ib[12];
        for (int i = 0; i < dk; i++)
            q[i] = ties ? (float)l720_trng_index(rs, 3) - 1.0f : (float)l720_trng_normal(rs);
        for (int i = 0; i < n * half; i++) {
            k1[i] = ties ? (float)l720_trng_index(rs, 3) - 1.0f : (float)l720_trng_normal(rs);
            k2[i] = ties ? (float)l720_trng_index(rs, 3) - 1.0f : (float)l720_trng_normal(rs);
        }
        void *scratch = malloc(l720_peer_topk_scratch(n, k));
        l720_peer_topk(ia, sa, q, k1, k2, n, k, dk, scratch);
        free(scratch);
        brute_topk(ib, sb, q, k1, k2, n, k, dk);
        int eq = !memcmp(ia, ib, sizeof(int32_t) * (size_t)k) &&
                 !memcmp(sa, sb, sizeof(float) * (size_t)k);
        if (ties)
            same_ties &= eq;
        else
            same &= eq;
    }
    ok(same, "product-key top-k == brute force over all n^2 experts (%d random trials)", trials);
    ok(same_ties, "... and with integer scores full of ties (%d trials, id order)", trials);
}

/* Every expert is the top-1 of some query: unit sub-keys, q halves = the keys. */
static void test_reachable(uint64_t *rs)
{
    enum { n = 8, half = 3 };
    float k1[n * half], k2[n * half], q[2 * half], sc[1];
    int32_t id[1];
    for (int i = 0; i < n; i++) {
        float *a = k1 + i * half, *b = k2 + i * half;
        double na = 0, nb = 0;
        for (int j = 0; j < half; j++) {
            a[j] = (float)l720_trng_normal(rs);
            b[j] = (float)l720_trng_normal(rs);
            na += a[j] * a[j];
            nb += b[j] * b[j];
        }
        for (int j = 0; j < half; j++) {
            a[j] /= (float)sqrt(na);
            b[j] /= (float)sqrt(nb);
        }
    }
    void *scratch = malloc(l720_peer_topk_scratch(n, 1));
    int all = 1;
    for (int e = 0; e < n * n; e++) {
        memcpy(q, k1 + (e / n) * half, sizeof(float) * half);
        memcpy(q + half, k2 + (e % n) * half, sizeof(float) * half);
        l720_peer_topk(id, sc, q, k1, k2, n, 1, 2 * half, scratch);
        all &= id[0] == e;
    }
    ok(all, "every one of the %d experts is the top-1 of some query", n * n);
    /* random queries reach every expert too */
    static int hit[n * n];
    int32_t ids4[4];
    float sc4[4];
    free(scratch);
    scratch = malloc(l720_peer_topk_scratch(n, 4));
    for (int t = 0; t < 4000; t++) {
        for (int j = 0; j < 2 * half; j++)
            q[j] = (float)l720_trng_normal(rs);
        l720_peer_topk(ids4, sc4, q, k1, k2, n, 4, 2 * half, scratch);
        for (int i = 0; i < 4; i++)
            hit[ids4[i]] = 1;
    }
    int cover = 0;
    for (int e = 0; e < n * n; e++)
        cover += hit[e];
    ok(cover == n * n, "4000 random queries (k = 4) reach %d of %d experts", cover, n * n);
    free(scratch);
}

/* ---- the layer ---- */

enum { N = 12, C = 8, n = 4, NN = n * n, H = 2, K = 3, DK = 4, HD = H * DK };
static float x[N * C], wq[HD * C], gam[HD], bet[HD], keys[H * 2 * n * DK / 2], u[NN * C],
    v[NN * C], y[N * C], gy[N * C], rmean[HD], rvar[HD];
static l720_peer_params W = {wq, gam, bet, keys, u, v};
static l720_peer *peer;
static int training;
static int32_t base_ids[N * H * K];

static double loss(void *ctx)
{
    (void)ctx;
    float m[HD], vv[HD]; /* the running statistics are not part of the function */
    memcpy(m, rmean, sizeof m);
    memcpy(vv, rvar, sizeof vv);
    l720_peer_forward(peer, y, x, &W, m, vv, 0.1f, N, training);
    if (memcmp(base_ids, peer->ids, sizeof base_ids))
        gc_route_changed = 1;
    return gc_wsum(gy, y, N * C);
}

static void check(const char *mode, uint64_t *rs)
{
    static float dx[N * C], dwq[HD * C], dgam[HD], dbet[HD], dkeys[H * 2 * n * DK / 2],
        du[NN * C], dv[NN * C];
    l720_peer_params G = {dwq, dgam, dbet, dkeys, du, dv};
    uint8_t touched[NN] = {0};
    memset(dx, 0, sizeof dx);
    memset(dwq, 0, sizeof dwq);
    memset(dgam, 0, sizeof dgam);
    memset(dbet, 0, sizeof dbet);
    memset(dkeys, 0, sizeof dkeys);
    memset(du, 0, sizeof du);
    memset(dv, 0, sizeof dv);
    loss(NULL);
    memcpy(base_ids, peer->ids, sizeof base_ids);
    l720_peer_backward(peer, dx, &G, touched, gy, x, &W);
    char what[96];
#define CHECK(arr, g, cnt)                                                                         \
    snprintf(what, sizeof what, "peer %s d%s", mode, #arr);                                     \
    gc_check(what, loss, NULL, arr, g, cnt, rs)
    CHECK(x, dx, N * C);
    CHECK(wq, dwq, HD * C);
    CHECK(gam, dgam, HD);
    CHECK(bet, dbet, HD);
    CHECK(keys, dkeys, H * 2 * n * DK / 2);
    CHECK(u, du, NN * C);
    CHECK(v, dv, NN * C);
#undef CHECK
    uint8_t used[NN] = {0};
    for (int s = 0; s < N * H * K; s++)
        used[base_ids[s]] = 1;
    int same = 1, zero_off = 1;
    for (int e = 0; e < NN; e++) {
        same &= used[e] == touched[e];
        if (!touched[e])
            for (int c = 0; c < C; c++)
                zero_off &= du[e * C + c] == 0 && dv[e * C + c] == 0;
    }
    ok(same && zero_off, "peer %s: touched rows are exactly the retrieved experts", mode);
}

static void test_layer(uint64_t *rs)
{
    peer = l720_peer_new(N, C, n, H, K, DK);
    gc_fill(x, N * C, 0, 1, rs);
    gc_fill(wq, HD * C, 0, 0.5, rs);
    gc_fill(gam, HD, 1, 0.3, rs);
    gc_fill(bet, HD, 0, 0.3, rs);
    gc_fill(keys, H * 2 * n * DK / 2, 0, 1, rs);
    gc_fill(u, NN * C, 0, 0.5, rs);
    gc_fill(v, NN * C, 0, 0.5, rs);
    gc_fill(gy, N * C, 0, 1, rs);
    for (int c = 0; c < HD; c++) {
        rmean[c] = 0.0f;
        rvar[c] = 1.0f;
    }
    /* BatchNorm in training: zero mean, unit variance; running statistics move */
    l720_peer_forward(peer, y, x, &W, rmean, rvar, 0.1f, N, 1);
    double mu = 0, var = 0, bm = 0, aff = 0;
    for (int t = 0; t < N; t++) {
        mu += peer->qhat[t * HD + 1] / N;
        var += (double)peer->qhat[t * HD + 1] * peer->qhat[t * HD + 1] / N;
        bm += peer->qpre[t * HD + 1] / N;
        aff = fmax(aff, fabs(peer->q[t * HD + 1] - (gam[1] * peer->qhat[t * HD + 1] + bet[1])));
    }
    ok(fabs(mu) < 1e-5 && fabs(var - 1) < 1e-3, "BatchNorm: batch mean %.2g, variance %.6f",
       mu, var);
    ok(aff < 1e-6, "BatchNorm: queries are gamma * normalised + beta");
    ok_near(rmean[1], 0.1 * bm, 1e-6, "BatchNorm: running mean = 0.1 x batch mean");
    double gsum = 0;
    for (int s = 0; s < H * K; s++)
        gsum += peer->gates[s];
    ok_near(gsum, H, 1e-5, "gates of each head sum to 1");
    training = 1;
    check("training", rs);
    training = 0;
    check("evaluation", rs);
    l720_peer_free(peer);
}

int main(void)
{
    uint64_t rs = 31337;
    test_topk(&rs);
    test_reachable(&rs);
    test_layer(&rs);
    return tap_done();
}
