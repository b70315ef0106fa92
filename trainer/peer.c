/* peer.c: see peer.h.
 *
 * Backward: per token (in parallel) the gradients that stay with the token
 * (d gate, d score, d u_idᵀx, d x from the experts, d q); then the shared
 * tables, each summed in a fixed order: sub-keys one head per thread over the
 * tokens in order; u and v grouped by expert (a stable counting sort of the
 * (token, head, slot) pairs), one expert row per thread; the BatchNorm one
 * channel per thread; Wq through the matmul.
 */
#include "peer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "par.h"
#include "simd.h"

l720_peer *l720_peer_new(size_t max_N, int C, int n, int h, int k, int dk)
{
    l720_peer *p = calloc(1, sizeof *p);
    size_t N = max_N ? max_N : 1, hd = (size_t)h * (size_t)dk, hk = (size_t)h * (size_t)k;
    p->max_N = max_N;
    p->C = C;
    p->n = n;
    p->h = h;
    p->k = k;
    p->dk = dk;
    p->qpre = calloc(N * hd, sizeof(float));
    p->qhat = calloc(N * hd, sizeof(float));
    p->q = calloc(N * hd, sizeof(float));
    p->bn_mean = calloc(hd, sizeof(float));
    p->bn_rstd = calloc(hd, sizeof(float));
    p->ids = calloc(N * hk, sizeof(int32_t));
    p->scores = calloc(N * hk, sizeof(float));
    p->gates = calloc(N * hk, sizeof(float));
    p->z = calloc(N * hk, sizeof(float));
    p->dq = calloc(N * hd, sizeof(float));
    p->dscore = calloc(N * hk, sizeof(float));
    p->dz = calloc(N * hk, sizeof(float));
    p->bucket = calloc((size_t)n * (size_t)n + 1, sizeof(size_t));
    p->pairs = calloc(N * hk, sizeof(int32_t));
    return p;
}

void l720_peer_free(l720_peer *p)
{
    if (!p)
        return;
    free(p->qpre);
    free(p->qhat);
    free(p->q);
    free(p->bn_mean);
    free(p->bn_rstd);
    free(p->ids);
    free(p->scores);
    free(p->gates);
    free(p->z);
    free(p->dq);
    free(p->dscore);
    free(p->dz);
    free(p->bucket);
    free(p->pairs);
    free(p);
}

/* ---- exact product-key top-k ----------------------------------------- */

/* Inserts (v, id) into the sorted best-first list vals/ids of *cnt <= k
 * entries; order: value descending, then id ascending. */
static void topk_insert(float *vals, int32_t *ids, int *cnt, int k, float v, int32_t id)
{
    int c = *cnt;
    if (c == k && !(v > vals[k - 1] || (v == vals[k - 1] && id < ids[k - 1])))
        return;
    int pos = c < k ? c : k - 1;
    while (pos > 0 && (v > vals[pos - 1] || (v == vals[pos - 1] && id < ids[pos - 1]))) {
        vals[pos] = vals[pos - 1];
        ids[pos] = ids[pos - 1];
        pos--;
    }
    vals[pos] = v;
    ids[pos] = id;
    if (c < k)
        *cnt = c + 1;
}

size_t l720_peer_topk_scratch(int n, int k)
{
    return sizeof(float) * (2 * (size_t)n + 2 * (size_t)k) + sizeof(int32_t) * 2 * (size_t)k;
}

void l720_peer_topk(int32_t *ids, float *scores, const float *q, const float *keys1,
                    const float *keys2, int n, int k, int dk, void *scratch)
{
    int half = dk / 2;
    float *s1 = scratch, *s2 = s1 + n;        /* [n] half scores */
    float *v1 = s2 + n, *v2 = v1 + k;         /* [k] best half scores */
    int32_t *i1 = (int32_t *)(v2 + k), *i2 = i1 + k; /* [k] their sub-key indices */
    int c1 = 0, c2 = 0, c = 0;
    for (int i = 0; i < n; i++) {
        const float *a = keys1 + (size_t)i * half, *b = keys2 + (size_t)i * half;
        float d1 = 0.0f, d2 = 0.0f;
        for (int j = 0; j < half; j++) {
            d1 += q[j] * a[j];
            d2 += q[half + j] * b[j];
        }
        s1[i] = d1;
        s2[i] = d2;
    }
    for (int i = 0; i < n; i++) {
        topk_insert(v1, i1, &c1, k, s1[i], i);
        topk_insert(v2, i2, &c2, k, s2[i], i);
    }
    /* the best k of all n² pairs are among these k² */
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            topk_insert(scores, ids, &c, k, v1[a] + v2[b], i1[a] * n + i2[b]);
}

/* ---- forward ---------------------------------------------------------- */

static float gelu(float z) { return 0.5f * z * (1.0f + erff(z * (float)M_SQRT1_2)); }

static float gelu_grad(float z)
{
    return 0.5f * (1.0f + erff(z * (float)M_SQRT1_2)) +
           z * expf(-0.5f * z * z) * (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
}

/* q = γ BN(qpre) + β: batch statistics (and running update) or running ones. */
static void batchnorm_forward(l720_peer *p, const float *gamma, const float *beta,
                              float *run_mean, float *run_var, float momentum, size_t N,
                              int training)
{
    size_t hd = (size_t)p->h * (size_t)p->dk;
#pragma omp parallel for schedule(static) if (L720_PAR(N * hd * 3))
    for (size_t c = 0; c < hd; c++) {
        float mean, var;
        if (training) {
            double s = 0.0, s2 = 0.0;
            for (size_t n = 0; n < N; n++)
                s += p->qpre[n * hd + c];
            double mu = s / (double)N;
            for (size_t n = 0; n < N; n++) {
                double e = p->qpre[n * hd + c] - mu;
                s2 += e * e;
            }
            mean = (float)mu;
            var = (float)(s2 / (double)N);
            double unbiased = N > 1 ? s2 / (double)(N - 1) : s2;
            run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mean;
            run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
        } else {
            mean = run_mean[c];
            var = run_var[c];
        }
        float r = 1.0f / sqrtf(var + L720_PEER_BN_EPS);
        p->bn_mean[c] = mean;
        p->bn_rstd[c] = r;
        for (size_t n = 0; n < N; n++) {
            float qh = (p->qpre[n * hd + c] - mean) * r;
            p->qhat[n * hd + c] = qh;
            p->q[n * hd + c] = gamma[c] * qh + beta[c];
        }
    }
}

void l720_peer_forward(l720_peer *p, float *out, const float *inp, const l720_peer_params *w,
                       float *run_mean, float *run_var, float momentum, size_t N, int training)
{
    const float *u = w->u, *v = w->v;
    size_t C = (size_t)p->C, h = (size_t)p->h, k = (size_t)p->k, dk = (size_t)p->dk;
    size_t hd = h * dk, half = dk / 2, n = (size_t)p->n;
    p->N = N;
    p->training = training;
    l720_matmul_forward(p->qpre, inp, w->wq, N, C, hd);
    batchnorm_forward(p, w->gamma, w->beta, run_mean, run_var, momentum, N, training);
#pragma omp parallel if (L720_PAR(N * h * (n * dk + k * (k + 2 * C))))
    {
        void *scratch = malloc(l720_peer_topk_scratch(p->n, p->k));
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            const float *x = inp + t * C; /* [C] */
            float *o = out + t * C;       /* [C] */
            memset(o, 0, sizeof(float) * C);
            for (size_t j = 0; j < h; j++) {
                size_t s0 = (t * h + j) * k; /* this head's k slots */
                int32_t *id = p->ids + s0;
                float *sc = p->scores + s0, *g = p->gates + s0, *z = p->z + s0;
                l720_peer_topk(id, sc, p->q + t * hd + j * dk, w->keys + 2 * j * n * half,
                               w->keys + (2 * j + 1) * n * half, p->n, p->k, p->dk, scratch);
                float mx = sc[0], sum = 0.0f; /* sc[0] is the largest */
                for (size_t i = 0; i < k; i++) {
                    g[i] = expf(sc[i] - mx);
                    sum += g[i];
                }
                for (size_t i = 0; i < k; i++) {
                    g[i] /= sum;
                    const float *ue = u + (size_t)id[i] * C, *ve = v + (size_t)id[i] * C;
                    z[i] = l720_dot(ue, x, C);
                    l720_axpy(o, g[i] * gelu(z[i]), ve, C);
                }
            }
        }
        free(scratch);
    }
}

/* ---- backward --------------------------------------------------------- */

void l720_peer_backward(l720_peer *p, float *dinp, const l720_peer_params *g, uint8_t *touched,
                        const float *dout, const float *inp, const l720_peer_params *w)
{
    const float *u = w->u, *v = w->v;
    size_t N = p->N, C = (size_t)p->C, h = (size_t)p->h, k = (size_t)p->k, dk = (size_t)p->dk;
    size_t hd = h * dk, half = dk / 2, n = (size_t)p->n, nn = n * n, hk = h * k;

    /* per token: gates, scores, expert pre-activations, d x from the experts, d q */
#pragma omp parallel for schedule(static) if (L720_PAR(N * hk * (3 * C + dk)))
    for (size_t t = 0; t < N; t++) {
        const float *go = dout + t * C; /* [C] */
        float *dx = dinp + t * C;       /* [C] */
        float *dq = p->dq + t * hd;     /* [h·dk] */
        memset(dq, 0, sizeof(float) * hd);
        for (size_t j = 0; j < h; j++) {
            size_t s0 = (t * h + j) * k;
            const int32_t *id = p->ids + s0;
            const float *g = p->gates + s0, *z = p->z + s0;
            float *ds = p->dscore + s0, *dz = p->dz + s0;
            float dot = 0.0f;
            for (size_t i = 0; i < k; i++) {
                float gv = l720_dot(go, v + (size_t)id[i] * C, C);
                ds[i] = gelu(z[i]) * gv; /* d gate for now */
                dot += g[i] * ds[i];
                dz[i] = g[i] * gv * gelu_grad(z[i]);
                l720_axpy(dx, dz[i], u + (size_t)id[i] * C, C);
            }
            for (size_t i = 0; i < k; i++) {
                ds[i] = g[i] * (ds[i] - dot); /* softmax backward: d score */
                size_t a = (size_t)id[i] / n, b = (size_t)id[i] % n;
                const float *k1 = w->keys + (2 * j * n + a) * half;
                const float *k2 = w->keys + ((2 * j + 1) * n + b) * half;
                for (size_t c = 0; c < half; c++) {
                    dq[j * dk + c] += ds[i] * k1[c];
                    dq[j * dk + half + c] += ds[i] * k2[c];
                }
            }
        }
    }

    /* sub-keys: one head per thread, tokens in order */
#pragma omp parallel for schedule(static) if (L720_PAR(N * hk * dk))
    for (size_t j = 0; j < h; j++)
        for (size_t t = 0; t < N; t++) {
            const float *q = p->q + t * hd + j * dk;
            size_t s0 = (t * h + j) * k;
            for (size_t i = 0; i < k; i++) {
                size_t a = (size_t)p->ids[s0 + i] / n, b = (size_t)p->ids[s0 + i] % n;
                float ds = p->dscore[s0 + i];
                float *d1 = g->keys + (2 * j * n + a) * half;
                float *d2 = g->keys + ((2 * j + 1) * n + b) * half;
                for (size_t c = 0; c < half; c++) {
                    d1[c] += ds * q[c];
                    d2[c] += ds * q[half + c];
                }
            }
        }

    /* u, v: pairs grouped by expert, stable (token, head, slot) order within */
    size_t *bk = p->bucket, n_pairs = N * hk;
    memset(bk, 0, sizeof(size_t) * (nn + 1));
    for (size_t s = 0; s < n_pairs; s++)
        bk[(size_t)p->ids[s] + 1]++;
    for (size_t e = 0; e < nn; e++)
        bk[e + 1] += bk[e];
    for (size_t s = 0; s < n_pairs; s++) /* bk[e] runs up to the start of e + 1 */
        p->pairs[bk[(size_t)p->ids[s]]++] = (int32_t)s;
    for (size_t e = nn; e > 0; e--) /* shift back: bk[e] = start of e */
        bk[e] = bk[e - 1];
    bk[0] = 0;
#pragma omp parallel for schedule(dynamic, 64) if (L720_PAR(N * hk * 2 * C + nn))
    for (size_t e = 0; e < nn; e++) {
        if (bk[e] == bk[e + 1])
            continue;
        float *due = g->u + e * C, *dve = g->v + e * C; /* [C] */
        for (size_t r = bk[e]; r < bk[e + 1]; r++) {
            size_t s = (size_t)p->pairs[r], t = s / hk;
            const float *x = inp + t * C, *go = dout + t * C;
            l720_axpy(due, p->dz[s], x, C);
            l720_axpy(dve, p->gates[s] * gelu(p->z[s]), go, C);
        }
        touched[e] = 1;
    }

    /* BatchNorm: d γ, d β, then d qpre through q = γ q̂ + β; one channel per thread */
#pragma omp parallel for schedule(static) if (L720_PAR(N * hd * 4))
    for (size_t c = 0; c < hd; c++) {
        float r = p->bn_rstd[c], gm = w->gamma[c];
        float dg = 0.0f, db = 0.0f;
        for (size_t t = 0; t < N; t++) {
            dg += p->dq[t * hd + c] * p->qhat[t * hd + c];
            db += p->dq[t * hd + c];
            p->dq[t * hd + c] *= gm; /* now d q̂ */
        }
        g->gamma[c] += dg;
        g->beta[c] += db;
        if (!p->training) {
            for (size_t t = 0; t < N; t++)
                p->dq[t * hd + c] *= r;
            continue;
        }
        double m1 = 0.0, m2 = 0.0; /* mean(d q̂), mean(d q̂ · q̂) */
        for (size_t t = 0; t < N; t++) {
            m1 += p->dq[t * hd + c];
            m2 += (double)p->dq[t * hd + c] * p->qhat[t * hd + c];
        }
        float a = (float)(m1 / (double)N), b = (float)(m2 / (double)N);
        for (size_t t = 0; t < N; t++)
            p->dq[t * hd + c] = r * (p->dq[t * hd + c] - a - p->qhat[t * hd + c] * b);
    }
    l720_matmul_backward(dinp, g->wq, p->dq, inp, w->wq, N, C, hd);
}
