/* attention.c: see attention.h. One thread owns one (sequence, head): all the
 * sums it writes (dq, dk, dv of that head) are done in a fixed order. */
#include "attention.h"
#include "par.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>

void l720_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C,
                            int NH)
{
    int hs = C / NH;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel if (L720_PAR((double)B * NH * T * T * hs))
    {
        float *s = malloc(sizeof(float) * (size_t)T); /* [T] scores of one query */
#pragma omp for schedule(static) collapse(2)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                const float *base = qkv + (size_t)b * T * C3;
                for (int t = 0; t < T; t++) {
                    const float *q = base + (size_t)t * C3 + (size_t)h * hs; /* [hs] */
                    float mx = -INFINITY;
                    for (int t2 = 0; t2 <= t; t2++) {
                        const float *k = base + (size_t)t2 * C3 + C + (size_t)h * hs;
                        s[t2] = l720_dot(q, k, (size_t)hs) * scale;
                        if (s[t2] > mx)
                            mx = s[t2];
                    }
                    float sum = 0.0f;
                    for (int t2 = 0; t2 <= t; t2++)
                        sum += expf(s[t2] - mx);
                    float l = mx + logf(sum);
                    lse[((size_t)b * NH + h) * T + t] = l;
                    float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs; /* [hs] */
                    for (int i = 0; i < hs; i++)
                        o[i] = 0.0f;
                    for (int t2 = 0; t2 <= t; t2++) {
                        float p = expf(s[t2] - l);
                        const float *v = base + (size_t)t2 * C3 + 2 * (size_t)C + (size_t)h * hs;
                        l720_axpy(o, p, v, (size_t)hs);
                    }
                }
            }
        free(s);
    }
}

void l720_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *lse,
                             int B, int T, int C, int NH)
{
    int hs = C / NH;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel if (L720_PAR((double)B * NH * T * T * hs))
    {
        float *p = malloc(sizeof(float) * (size_t)T);  /* [T] probabilities of one query */
        float *dp = malloc(sizeof(float) * (size_t)T); /* [T] their gradient */
#pragma omp for schedule(static) collapse(2)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                const float *base = qkv + (size_t)b * T * C3;
                float *dbase = dqkv + (size_t)b * T * C3;
                for (int t = 0; t < T; t++) {
                    const float *q = base + (size_t)t * C3 + (size_t)h * hs;     /* [hs] */
                    float *dq = dbase + (size_t)t * C3 + (size_t)h * hs;         /* [hs] */
                    const float *go = dout + ((size_t)b * T + t) * C + (size_t)h * hs; /* [hs] */
                    float l = lse[((size_t)b * NH + h) * T + t];
                    float dot = 0.0f;
                    for (int t2 = 0; t2 <= t; t2++) {
                        const float *k = base + (size_t)t2 * C3 + C + (size_t)h * hs;
                        const float *v = k + C;
                        float *dv = dbase + (size_t)t2 * C3 + 2 * (size_t)C + (size_t)h * hs;
                        float g = l720_dot(go, v, (size_t)hs);
                        p[t2] = expf(l720_dot(q, k, (size_t)hs) * scale - l);
                        dp[t2] = g;
                        dot += p[t2] * g;
                        l720_axpy(dv, p[t2], go, (size_t)hs);
                    }
                    for (int t2 = 0; t2 <= t; t2++) {
                        const float *k = base + (size_t)t2 * C3 + C + (size_t)h * hs;
                        float *dk = dbase + (size_t)t2 * C3 + C + (size_t)h * hs;
                        float ds = p[t2] * (dp[t2] - dot) * scale; /* d score before scaling */
                        l720_axpy(dq, ds, k, (size_t)hs);
                        l720_axpy(dk, ds, q, (size_t)hs);
                    }
                }
            }
        free(p);
        free(dp);
    }
}
