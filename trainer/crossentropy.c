/* crossentropy.c: see crossentropy.h. */
#include "crossentropy.h"
#include "par.h"

#include <math.h>
#include <string.h>

void l720_embedding_forward(float *out, const int32_t *tokens, const float *embed, size_t N,
                            size_t C)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * C))
    for (size_t n = 0; n < N; n++)
        memcpy(out + n * C, embed + (size_t)tokens[n] * C, sizeof(float) * C);
}

void l720_embedding_backward(float *dembed, const float *dout, const int32_t *tokens, size_t N,
                             size_t C)
{
    for (size_t n = 0; n < N; n++) {
        float *d = dembed + (size_t)tokens[n] * C; /* [C] */
        const float *g = dout + n * C;             /* [C] */
        for (size_t c = 0; c < C; c++)
            d[c] += g[c];
    }
}

double l720_crossentropy_forward(float *lse, const float *logits, const int32_t *targets,
                                 size_t N, size_t V, size_t *count)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * V))
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * V; /* [V] */
        float mx = -INFINITY;
        for (size_t v = 0; v < V; v++)
            if (z[v] > mx)
                mx = z[v];
        double s = 0.0;
        for (size_t v = 0; v < V; v++)
            s += exp((double)(z[v] - mx));
        lse[n] = mx + (float)log(s);
    }
    double loss = 0.0;
    size_t cnt = 0;
    for (size_t n = 0; n < N; n++) /* fixed order */
        if (targets[n] >= 0) {
            loss += (double)lse[n] - (double)logits[n * V + (size_t)targets[n]];
            cnt++;
        }
    *count = cnt;
    return loss;
}

void l720_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                                const int32_t *targets, size_t N, size_t V, float scale)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * V))
    for (size_t n = 0; n < N; n++) {
        float *d = dlogits + n * V;            /* [V] */
        const float *z = logits + n * V;       /* [V] */
        if (targets[n] < 0) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        for (size_t v = 0; v < V; v++)
            d[v] = scale * expf(z[v] - lse[n]);
        d[targets[n]] -= scale;
    }
}
