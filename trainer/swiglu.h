/* swiglu.h: the SwiGLU feed-forward, y = (silu(x W1ᵀ) ⊙ x W3ᵀ) W2ᵀ, no biases.
 * The dense FFN, and each Switch-MoE expert (on its gathered tokens). */
#ifndef L720_SWIGLU_H
#define L720_SWIGLU_H

#include <stddef.h>

/* out[N, C] from inp[N, C], w1[H, C], w3[H, C], w2[C, H]; saves h1 = x W1ᵀ,
 * h3 = x W3ᵀ and act = silu(h1) ⊙ h3, all [N, H]. */
void l720_swiglu_forward(float *out, float *h1, float *h3, float *act, const float *inp,
                         const float *w1, const float *w3, const float *w2, size_t N, size_t C,
                         size_t H);

/* dinp[N, C] += ..., dw1, dw3 [H, C] += ..., dw2[C, H] += ... from dout[N, C].
 * dh1, dh3: scratch [N, H] (overwritten). dinp may be NULL. */
void l720_swiglu_backward(float *dinp, float *dw1, float *dw3, float *dw2, float *dh1,
                          float *dh3, const float *dout, const float *inp, const float *h1,
                          const float *h3, const float *act, const float *w1, const float *w3,
                          const float *w2, size_t N, size_t C, size_t H);

#endif
