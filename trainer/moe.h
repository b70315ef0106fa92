/* moe.h: the Switch feed-forward: E SwiGLU experts, top-1 routing.
 *
 * Router logits z = x Wrᵀ [N, E] in fp32, p = softmax(z), expert e = argmax p
 * (lowest index on ties), output y = p_e · FFN_e(x). Training: each expert
 * takes at most capacity = ceil(capacity_factor · N / E) tokens, first come in
 * token order; a dropped token's FFN output is 0 (the residual passes it on).
 * Evaluation (capacity_factor <= 0): dropless.
 * Auxiliary losses (Switch): balance = E · Σ_e f_e P_e with f_e the fraction of
 * tokens whose argmax is e (before dropping) and P_e the mean of p_e; z-loss =
 * mean_n (logsumexp z_n)². Both reach the router weights through p and z.
 */
#ifndef L720_MOE_H
#define L720_MOE_H

#include <stddef.h>
#include <stdint.h>

typedef struct l720_moe {
    size_t max_N;
    int C, H, E;       /* d_model, hidden, experts */
    size_t N;          /* tokens of the last forward */
    float *probs;      /* [N, E] router softmax */
    float *lse;        /* [N] router logsumexp */
    int32_t *expert;   /* [N] argmax expert of each token */
    uint8_t *kept;     /* [N] 0: dropped by capacity */
    int32_t *order;    /* [N] kept tokens grouped by expert, token order within */
    size_t *offset;    /* [E + 1] expert e's tokens: order[offset[e] .. offset[e+1]) */
    float *xs;         /* [N, C] inputs in `order` */
    float *h1, *h3, *act; /* [N, H] expert hidden values in `order` */
    float *ys;         /* [N, C] expert outputs before the gate, in `order` */
    double *frac;      /* [E] f_e of the last forward */
    double balance;    /* E Σ f_e P_e of the last forward (unweighted) */
    double zloss;      /* mean (logsumexp)² of the last forward (unweighted) */
    size_t n_dropped;  /* tokens dropped in the last forward */
    /* backward scratch */
    float *dys, *dxs;  /* [N, C] */
    float *dh1, *dh3;  /* [N, H] */
    float *dz;         /* [N, E] */
} l720_moe;

l720_moe *l720_moe_new(size_t max_N, int C, int H, int E);
void l720_moe_free(l720_moe *m);

/* out[N, C] from inp[N, C]; router [E, C]; w1, w3 [E·H, C] (expert e's rows
 * e·H ..); w2 [E·C, H] (expert e's rows e·C ..). capacity_factor <= 0: dropless. */
void l720_moe_forward(l720_moe *m, float *out, const float *inp, const float *router,
                      const float *w1, const float *w3, const float *w2, size_t N,
                      double capacity_factor);

/* Gradient of <dout, out> + balance_coef · balance + zloss_coef · zloss:
 * dinp[N, C] += ..., drouter, dw1, dw3, dw2 += ... (same layouts). */
void l720_moe_backward(l720_moe *m, float *dinp, float *drouter, float *dw1, float *dw3,
                       float *dw2, const float *dout, const float *inp, const float *router,
                       const float *w1, const float *w3, const float *w2, float balance_coef,
                       float zloss_coef);

#endif
