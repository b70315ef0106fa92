/* matmul.c: see matmul.h. Rows of the output are independent: one thread
 * computes a whole row; weight gradients are split over weight rows, each
 * summing over the tokens in order. */
#include "matmul.h"
#include "par.h"

void l720_matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
                         size_t OC)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C; /* [C] */
        float *o = out + n * OC;      /* [OC] */
        for (size_t j = 0; j < OC; j++) {
            const float *wr = w + j * C; /* [C] */
            float s = 0.0f;
            for (size_t c = 0; c < C; c++)
                s += x[c] * wr[c];
            o[j] = s;
        }
    }
}

void l720_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, size_t N, size_t C, size_t OC)
{
    if (dinp) {
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
        for (size_t n = 0; n < N; n++) {
            const float *g = dout + n * OC; /* [OC] */
            float *dx = dinp + n * C;       /* [C] */
            for (size_t j = 0; j < OC; j++) {
                float gj = g[j];
                const float *wr = w + j * C;
                for (size_t c = 0; c < C; c++)
                    dx[c] += gj * wr[c];
            }
        }
    }
    if (dw) {
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
        for (size_t j = 0; j < OC; j++) {
            float *dwr = dw + j * C; /* [C] */
            for (size_t n = 0; n < N; n++) {
                float gj = dout[n * OC + j];
                const float *x = inp + n * C;
                for (size_t c = 0; c < C; c++)
                    dwr[c] += gj * x[c];
            }
        }
    }
}
