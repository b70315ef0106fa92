/* model_impl.h: the inside of l720_model, shared by model.c (allocation,
 * tensors, statistics) and model_pass.c (forward and backward). Not part of
 * the contract: other code uses model.h only. */
#ifndef L720_MODEL_IMPL_H
#define L720_MODEL_IMPL_H

#include "model.h"
#include "moe.h"
#include "peer.h"

/* One block: tensor indices into m->tensors, and the activations of the last
 * forward (N = B·T tokens, d = d_model, H = ffn_hidden). */
typedef struct l720_layer {
    int t_attn_norm, t_wqkv, t_wo, t_ffn_norm; /* [d], [3d, d], [d, d], [d] */
    int t_ffn;      /* first FFN tensor; the FFN's tensors follow in order */
    float *resid;   /* [N, d] block input */
    float *ln1;     /* [N, d] */
    float *ln1_rstd;  /* [N] */
    float *qkv;     /* [N, 3d] q and k after RoPE */
    float *att_lse; /* [B, NH, T] attention softmax normalisers */
    float *atty;    /* [N, d] attention output before the projection */
    float *resid_mid; /* [N, d] after the attention residual */
    float *ln2;     /* [N, d] */
    float *ln2_rstd;  /* [N] */
    float *h1, *h3, *act; /* dense FFN: [N, H] each */
    l720_moe *moe;  /* MoE FFN state, or NULL */
    l720_peer *peer; /* PEER FFN state, or NULL */
    size_t buf_off; /* PEER: running mean at buffers + buf_off, variance after it */
    double *usage;  /* [n_experts] routed (token, slot) counts since the last reset */
    int32_t *routing; /* [N, per_token] expert ids of the last forward */
    int per_token;  /* 1 (MoE), h·k (PEER), 0 (dense) */
} l720_layer;

struct l720_model {
    l720_model_cfg cfg;
    int max_batch;
    size_t max_tokens; /* max_batch · seq_len */
    float *params;     /* [n_params] */
    float *grads;      /* [n_params] */
    size_t n_params;
    l720_tensor *tensors;
    int n_tensors;
    uint8_t **touched; /* [n_tensors]: [rows] for sparse tensors, else NULL */
    float *buffers;    /* [n_buffers] */
    size_t n_buffers;
    int t_embed, t_final_norm, t_lm_head; /* [V, d], [d], [V, d] */
    l720_layer layer[L720_MAX_LAYERS];
    float *rope_cos, *rope_sin; /* [seq_len, hs/2] */
    float *x_out;    /* [N, d] the last block's output */
    float *lnf;      /* [N, d] final norm output */
    float *lnf_rstd; /* [N] */
    float *logits;   /* [N, V] */
    float *ce_lse;   /* [N] */
    float *ffn_out;  /* [N, d] scratch: FFN output before the residual add */
    /* the last forward */
    int B, T, training, have_targets;
    int32_t *tokens, *targets; /* [N] copies */
    size_t n_targets;
    /* backward scratch */
    float *dresid;  /* [N, d] gradient of the residual stream */
    float *dln;     /* [N, d] */
    float *datty;   /* [N, d] */
    float *dqkv;    /* [N, 3d] */
    float *dh1, *dh3; /* [N, H] */
    float *dlogits; /* [N, V] */
};

static inline float *l720_param(l720_model *m, int t) { return m->params + m->tensors[t].offset; }
static inline float *l720_grad(l720_model *m, int t) { return m->grads + m->tensors[t].offset; }

#endif
