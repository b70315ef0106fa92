/* attention.h: causal multi-head self-attention (the part after the QKV
 * projection and RoPE, before the output projection).
 *
 * qkv[B, T, 3C] holds per token q (C values), k (C), v (C), each as NH heads of
 * hs = C/NH. out[B, T, C]. The softmax probabilities are not stored: forward
 * keeps lse[B, NH, T] (log of the softmax normaliser) and backward recomputes
 * p = exp(s − lse) from q and k, so memory stays O(T) per head, not O(T²).
 */
#ifndef L720_ATTENTION_H
#define L720_ATTENTION_H

/* out[B, T, C], lse[B, NH, T] from qkv[B, T, 3C]. */
void l720_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C,
                            int NH);

/* dqkv[B, T, 3C] += gradient from dout[B, T, C]. */
void l720_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *lse,
                             int B, int T, int C, int NH);

#endif
