/* peer.h: the PEER feed-forward (parameter-efficient expert retrieval):
 * N = n² single-neuron experts, h heads, exact product-key top-k.
 *
 * Per token x [C] and head j:
 *   q = BN(Wq x)[j·dk .. (j+1)·dk)         query: BatchNorm, then γ ⊙ · + β
 *   s1[i] = q[0..dk/2) · K[j][0][i],  s2[i] = q[dk/2..dk) · K[j][1][i],   i < n
 *   the k best experts by score s1[i1] + s2[i2] over all n² pairs (exactly:
 *   top-k of s1, top-k of s2, then top-k of the k² sums), id = i1·n + i2;
 *   order: score descending, then id ascending (so ties are deterministic)
 *   g = softmax of the k scores
 *   f(x) += Σ_i g_i GELU(u_idᵀ x) v_id           (u, v: [N, C] shared by heads)
 * GELU is the exact one, z Φ(z). BatchNorm (per query channel, with a learned
 * scale γ and shift β as in the usual layer): training normalises with the
 * batch mean and (biased) variance over the N tokens and updates running
 * statistics (mean, unbiased variance) with momentum; evaluation uses the
 * running ones. eps = 1e-5.
 */
#ifndef L720_PEER_H
#define L720_PEER_H

#include <stddef.h>
#include <stdint.h>

#define L720_PEER_BN_EPS 1e-5f

typedef struct l720_peer {
    size_t max_N;
    int C, n, h, k, dk;  /* d_model, sqrt(experts), heads, top-k, query size */
    size_t N;            /* tokens of the last forward */
    int training;        /* the last forward used batch statistics */
    float *qpre;         /* [N, h·dk] Wq x */
    float *qhat;         /* [N, h·dk] normalised, before γ and β */
    float *q;            /* [N, h·dk] queries γ ⊙ qhat + β */
    float *bn_mean;      /* [h·dk] mean used by the last forward */
    float *bn_rstd;      /* [h·dk] 1/sqrt(var + eps) used by the last forward */
    int32_t *ids;        /* [N, h, k] expert ids, best first */
    float *scores;       /* [N, h, k] */
    float *gates;        /* [N, h, k] */
    float *z;            /* [N, h, k] u_idᵀ x */
    /* backward scratch */
    float *dq;           /* [N, h·dk] d q, then d qpre */
    float *dscore;       /* [N, h, k] d score of each retrieved expert */
    float *dz;           /* [N, h, k] d (u_idᵀ x) */
    size_t *bucket;      /* [n² + 1] start of each expert's (token, slot) pairs */
    int32_t *pairs;      /* [N·h·k] (token·h + head)·k + slot, grouped by expert */
} l720_peer;

l720_peer *l720_peer_new(size_t max_N, int C, int n, int h, int k, int dk);
void l720_peer_free(l720_peer *p);

/* Exact top-k over the n² product keys for one head: q [dk], keys1, keys2
 * [n, dk/2] (the head's K[j][0] and K[j][1]). ids[k], scores[k] best first
 * (score descending, id ascending). scratch: l720_peer_topk_scratch(n, k)
 * bytes. */
size_t l720_peer_topk_scratch(int n, int k);
void l720_peer_topk(int32_t *ids, float *scores, const float *q, const float *keys1,
                    const float *keys2, int n, int k, int dk, void *scratch);

/* The layer's parameters (layouts as in the model's tensors). */
typedef struct l720_peer_params {
    float *wq;    /* [h·dk, C] */
    float *gamma; /* [h·dk] BatchNorm scale */
    float *beta;  /* [h·dk] BatchNorm shift */
    float *keys;  /* [h, 2, n, dk/2]: head j's first-half sub-keys, then its second-half ones */
    float *u;     /* [n², C] */
    float *v;     /* [n², C] */
} l720_peer_params;

/* out[N, C] from inp[N, C]; run_mean, run_var [h·dk] (read in evaluation,
 * updated in training). */
void l720_peer_forward(l720_peer *p, float *out, const float *inp, const l720_peer_params *w,
                       float *run_mean, float *run_var, float momentum, size_t N, int training);

/* dinp[N, C] += ..., and every gradient in g += ... (same layouts as w);
 * touched [n²] set to 1 for every expert row that received a gradient (u and
 * v share it). */
void l720_peer_backward(l720_peer *p, float *dinp, const l720_peer_params *g, uint8_t *touched,
                        const float *dout, const float *inp, const l720_peer_params *w);

#endif
