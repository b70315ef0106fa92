/* moe.c: see moe.h. Tokens are grouped by expert (a stable counting sort), so
 * each expert runs one SwiGLU on a contiguous block, and every weight
 * gradient is summed in token order (deterministic). */
#include "moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "swiglu.h"
#include "par.h"

l720_moe *l720_moe_new(size_t max_N, int C, int H, int E)
{
    l720_moe *m = calloc(1, sizeof *m);
    size_t N = max_N ? max_N : 1;
    m->max_N = max_N;
    m->C = C;
    m->H = H;
    m->E = E;
    m->probs = calloc(N * (size_t)E, sizeof(float));
    m->lse = calloc(N, sizeof(float));
    m->expert = calloc(N, sizeof(int32_t));
    m->kept = calloc(N, 1);
    m->order = calloc(N, sizeof(int32_t));
    m->offset = calloc((size_t)E + 1, sizeof(size_t));
    m->xs = calloc(N * (size_t)C, sizeof(float));
    m->h1 = calloc(N * (size_t)H, sizeof(float));
    m->h3 = calloc(N * (size_t)H, sizeof(float));
    m->act = calloc(N * (size_t)H, sizeof(float));
    m->ys = calloc(N * (size_t)C, sizeof(float));
    m->frac = calloc((size_t)E, sizeof(double));
    m->dys = calloc(N * (size_t)C, sizeof(float));
    m->dxs = calloc(N * (size_t)C, sizeof(float));
    m->dh1 = calloc(N * (size_t)H, sizeof(float));
    m->dh3 = calloc(N * (size_t)H, sizeof(float));
    m->dz = calloc(N * (size_t)E, sizeof(float));
    return m;
}

void l720_moe_free(l720_moe *m)
{
    if (!m)
        return;
    free(m->probs);
    free(m->lse);
    free(m->expert);
    free(m->kept);
    free(m->order);
    free(m->offset);
    free(m->xs);
    free(m->h1);
    free(m->h3);
    free(m->act);
    free(m->ys);
    free(m->frac);
    free(m->dys);
    free(m->dxs);
    free(m->dh1);
    free(m->dh3);
    free(m->dz);
    free(m);
}

/* Router: probs[N, E] = softmax(inp · routerᵀ), lse, argmax; and the unweighted
 * auxiliary losses. */
static void route(l720_moe *m, const float *inp, const float *router, size_t N)
{
    size_t E = (size_t)m->E;
    l720_matmul_forward(m->probs, inp, router, N, (size_t)m->C, E);
#pragma omp parallel for schedule(static) if (L720_PAR(N * E * 4))
    for (size_t n = 0; n < N; n++) {
        float *p = m->probs + n * E; /* [E] logits in, probabilities out */
        float mx = p[0];
        int32_t best = 0;
        for (size_t e = 1; e < E; e++)
            if (p[e] > mx) {
                mx = p[e];
                best = (int32_t)e;
            }
        float s = 0.0f;
        for (size_t e = 0; e < E; e++)
            s += expf(p[e] - mx);
        float l = mx + logf(s);
        for (size_t e = 0; e < E; e++)
            p[e] = expf(p[e] - l);
        m->lse[n] = l;
        m->expert[n] = best;
    }
    double bal = 0.0, z = 0.0;
    memset(m->frac, 0, sizeof(double) * E);
    for (size_t n = 0; n < N; n++) {
        m->frac[m->expert[n]] += 1.0 / (double)N;
        z += (double)m->lse[n] * m->lse[n];
    }
    for (size_t e = 0; e < E; e++) {
        double P = 0.0;
        for (size_t n = 0; n < N; n++)
            P += m->probs[n * E + e];
        bal += m->frac[e] * P / (double)N;
    }
    m->balance = (double)E * bal;
    m->zloss = z / (double)N;
}

void l720_moe_forward(l720_moe *m, float *out, const float *inp, const float *router,
                      const float *w1, const float *w3, const float *w2, size_t N,
                      double capacity_factor)
{
    size_t E = (size_t)m->E, C = (size_t)m->C, H = (size_t)m->H;
    m->N = N;
    route(m, inp, router, N);

    /* capacity, first come first served in token order */
    size_t cap = capacity_factor > 0 ? (size_t)ceil(capacity_factor * (double)N / (double)E) : N;
    size_t *cnt = m->offset; /* [E + 1] counts, then prefix sums */
    memset(cnt, 0, sizeof(size_t) * (E + 1));
    m->n_dropped = 0;
    for (size_t n = 0; n < N; n++) {
        size_t e = (size_t)m->expert[n];
        m->kept[n] = cnt[e + 1] < cap;
        if (m->kept[n])
            cnt[e + 1]++;
        else
            m->n_dropped++;
    }
    for (size_t e = 0; e < E; e++)
        cnt[e + 1] += cnt[e];
    size_t *fill = calloc(E, sizeof(size_t));
    for (size_t n = 0; n < N; n++)
        if (m->kept[n]) {
            size_t e = (size_t)m->expert[n], i = m->offset[e] + fill[e]++;
            m->order[i] = (int32_t)n;
            memcpy(m->xs + i * C, inp + n * C, sizeof(float) * C);
        }
    free(fill);

    for (size_t e = 0; e < E; e++) {
        size_t o = m->offset[e], ne = m->offset[e + 1] - o;
        if (ne)
            l720_swiglu_forward(m->ys + o * C, m->h1 + o * H, m->h3 + o * H, m->act + o * H,
                                m->xs + o * C, w1 + e * H * C, w3 + e * H * C, w2 + e * C * H,
                                ne, C, H);
    }
    memset(out, 0, sizeof(float) * N * C);
    size_t n_kept = m->offset[E];
#pragma omp parallel for schedule(static) if (L720_PAR(n_kept * C))
    for (size_t i = 0; i < n_kept; i++) {
        size_t n = (size_t)m->order[i];
        float g = m->probs[n * E + (size_t)m->expert[n]];
        for (size_t c = 0; c < C; c++)
            out[n * C + c] = g * m->ys[i * C + c];
    }
}

void l720_moe_backward(l720_moe *m, float *dinp, float *drouter, float *dw1, float *dw3,
                       float *dw2, const float *dout, const float *inp, const float *router,
                       const float *w1, const float *w3, const float *w2, float balance_coef,
                       float zloss_coef)
{
    size_t N = m->N, E = (size_t)m->E, C = (size_t)m->C, H = (size_t)m->H;
    size_t n_kept = m->offset[E];
    float *dgate = m->dz; /* dz's rows hold d gate in column 0 until the router part */
    /* experts: y_n = g_n · FFN_e(x_n) */
#pragma omp parallel for schedule(static) if (L720_PAR(n_kept * C))
    for (size_t i = 0; i < n_kept; i++) {
        size_t n = (size_t)m->order[i];
        float g = m->probs[n * E + (size_t)m->expert[n]], dg = 0.0f;
        for (size_t c = 0; c < C; c++) {
            m->dys[i * C + c] = g * dout[n * C + c];
            dg += dout[n * C + c] * m->ys[i * C + c];
        }
        dgate[n * E] = dg;
    }
    memset(m->dxs, 0, sizeof(float) * n_kept * C);
    for (size_t e = 0; e < E; e++) {
        size_t o = m->offset[e], ne = m->offset[e + 1] - o;
        if (ne)
            l720_swiglu_backward(m->dxs + o * C, dw1 + e * H * C, dw3 + e * H * C,
                                 dw2 + e * C * H, m->dh1 + o * H, m->dh3 + o * H, m->dys + o * C,
                                 m->xs + o * C, m->h1 + o * H, m->h3 + o * H, m->act + o * H,
                                 w1 + e * H * C, w3 + e * H * C, w2 + e * C * H, ne, C, H);
    }
#pragma omp parallel for schedule(static) if (L720_PAR(n_kept * C))
    for (size_t i = 0; i < n_kept; i++) {
        size_t n = (size_t)m->order[i];
        for (size_t c = 0; c < C; c++)
            dinp[n * C + c] += m->dxs[i * C + c];
    }
    /* router: d probs from the gate and the balance loss, then softmax; z-loss on
     * the logits: d (lse²)/N = 2 lse p / N */
#pragma omp parallel for schedule(static) if (L720_PAR(N * E * 4))
    for (size_t n = 0; n < N; n++) {
        const float *p = m->probs + n * E; /* [E] */
        float *dz = m->dz + n * E;         /* [E] */
        float dg = m->kept[n] ? dgate[n * E] : 0.0f;
        size_t en = (size_t)m->expert[n];
        float dot = 0.0f;
        for (size_t e = 0; e < E; e++) {
            float dp = balance_coef * (float)((double)E * m->frac[e] / (double)N);
            if (e == en)
                dp += dg;
            dz[e] = dp; /* dp for now */
            dot += p[e] * dp;
        }
        float zl = zloss_coef * 2.0f * m->lse[n] / (float)N;
        for (size_t e = 0; e < E; e++)
            dz[e] = p[e] * (dz[e] - dot) + zl * p[e];
    }
    l720_matmul_backward(dinp, drouter, m->dz, inp, router, N, C, E);
}
