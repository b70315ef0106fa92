/* crossentropy.h: token embedding lookup, and the softmax cross-entropy on the
 * logits of the LM head. */
#ifndef L720_CROSSENTROPY_H
#define L720_CROSSENTROPY_H

#include <stddef.h>
#include <stdint.h>

/* out[N, C] = embed[tokens[n], :] (embed [V, C]). */
void l720_embedding_forward(float *out, const int32_t *tokens, const float *embed, size_t N,
                            size_t C);

/* dembed[V, C] += scatter of dout[N, C] (tokens in order: deterministic). */
void l720_embedding_backward(float *dembed, const float *dout, const int32_t *tokens, size_t N,
                             size_t C);

/* lse[N] = log Σ_v exp(logits[n, v]); returns the summed loss over tokens with a
 * target >= 0 (targets < 0 are ignored) and stores their count in *count. */
double l720_crossentropy_forward(float *lse, const float *logits, const int32_t *targets,
                                 size_t N, size_t V, size_t *count);

/* dlogits[N, V] = scale · (softmax(logits) − onehot(target)), 0 for ignored rows.
 * scale is 1 / count for the mean loss. */
void l720_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                                const int32_t *targets, size_t N, size_t V, float scale);

#endif
