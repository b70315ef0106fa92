/* rmsnorm.h: RMSNorm, y = x / sqrt(mean(x²) + eps) · w (no bias), eps 1e-5. */
#ifndef L720_RMSNORM_H
#define L720_RMSNORM_H

#include <stddef.h>

#define L720_RMSNORM_EPS 1e-5f

/* out[N, C], rstd[N] (saved for backward) from inp[N, C], w[C]. */
void l720_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, size_t N,
                          size_t C);

/* dinp[N, C] += ..., dw[C] += ... from dout[N, C]. */
void l720_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, const float *rstd, size_t N, size_t C);

#endif
