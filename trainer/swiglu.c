/* swiglu.c: see swiglu.h. silu(z) = z σ(z), silu'(z) = σ(z) (1 + z (1 − σ(z))). */
#include "swiglu.h"

#include <math.h>
#include <string.h>

#include "matmul.h"
#include "par.h"

void l720_swiglu_forward(float *out, float *h1, float *h3, float *act, const float *inp,
                         const float *w1, const float *w3, const float *w2, size_t N, size_t C,
                         size_t H)
{
    l720_matmul_forward(h1, inp, w1, N, C, H);
    l720_matmul_forward(h3, inp, w3, N, C, H);
#pragma omp parallel for schedule(static) if (L720_PAR(N * H * 8))
    for (size_t i = 0; i < N * H; i++) {
        float z = h1[i], sg = 1.0f / (1.0f + expf(-z));
        act[i] = z * sg * h3[i];
    }
    l720_matmul_forward(out, act, w2, N, H, C);
}

void l720_swiglu_backward(float *dinp, float *dw1, float *dw3, float *dw2, float *dh1,
                          float *dh3, const float *dout, const float *inp, const float *h1,
                          const float *h3, const float *act, const float *w1, const float *w3,
                          const float *w2, size_t N, size_t C, size_t H)
{
    memset(dh1, 0, sizeof(float) * N * H);
    l720_matmul_backward(dh1, dw2, dout, act, w2, N, H, C); /* dh1 <- d act */
#pragma omp parallel for schedule(static) if (L720_PAR(N * H * 8))
    for (size_t i = 0; i < N * H; i++) {
        float z = h1[i], sg = 1.0f / (1.0f + expf(-z)), da = dh1[i];
        dh3[i] = da * z * sg;
        dh1[i] = da * h3[i] * sg * (1.0f + z * (1.0f - sg));
    }
    l720_matmul_backward(dinp, dw1, dh1, inp, w1, N, C, H);
    l720_matmul_backward(dinp, dw3, dh3, inp, w3, N, C, H);
}
