/* rmsnorm.c: see rmsnorm.h.
 * With r = rstd, y_c = w_c x_c r:  dx_c = r (w_c dy_c − x_c r² · mean_j(w_j dy_j x_j)),
 * dw_c = Σ_n dy_c x_c r. */
#include "rmsnorm.h"
#include "par.h"

#include <math.h>

void l720_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, size_t N,
                          size_t C)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * 2))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C; /* [C] */
        float *y = out + n * C;       /* [C] */
        float ss = 0.0f;
        for (size_t c = 0; c < C; c++)
            ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + L720_RMSNORM_EPS);
        for (size_t c = 0; c < C; c++)
            y[c] = x[c] * r * w[c];
        rstd[n] = r;
    }
}

void l720_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, const float *rstd, size_t N, size_t C)
{
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * 2))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C; /* [C] */
        float *dx = dinp + n * C;                         /* [C] */
        float r = rstd[n], dot = 0.0f;
        for (size_t c = 0; c < C; c++)
            dot += w[c] * dy[c] * x[c];
        float m = dot / (float)C * r * r;
        for (size_t c = 0; c < C; c++)
            dx[c] += r * (w[c] * dy[c] - x[c] * m);
    }
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * 2))
    for (size_t c = 0; c < C; c++) {
        float s = 0.0f;
        for (size_t n = 0; n < N; n++)
            s += dout[n * C + c] * inp[n * C + c] * rstd[n];
        dw[c] += s;
    }
}
