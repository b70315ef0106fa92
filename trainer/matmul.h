/* matmul.h: the linear maps of the model (no bias), fp32, OpenMP.
 *
 * Every output element is computed by one thread with its sum in a fixed
 * order, so results are bitwise identical whatever the number of threads.
 */
#ifndef L720_MATMUL_H
#define L720_MATMUL_H

#include <stddef.h>

/* out[N, OC] = inp[N, C] · w[OC, C]ᵀ */
void l720_matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
                         size_t OC);

/* dinp[N, C] += dout[N, OC] · w[OC, C];  dw[OC, C] += dout[N, OC]ᵀ · inp[N, C].
 * dinp or dw may be NULL (that gradient is not wanted). */
void l720_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, size_t N, size_t C, size_t OC);

#endif
