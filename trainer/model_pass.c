/* model_pass.c: the forward and backward passes of the whole model (see
 * model.h for the architecture and model.c for the parameter layout). */
#include "model_impl.h"

#include <string.h>

#include "attention.h"
#include "crossentropy.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "rope.h"
#include "swiglu.h"

/* Block l's PEER tensors (wq, bn_gamma, bn_beta, keys, u, v, in the order of
 * model.c's layout) inside base (params or grads). */
static l720_peer_params peer_params(l720_model *m, int l, float *base)
{
    int t = m->layer[l].t_ffn;
    l720_peer_params w = {base + m->tensors[t].offset,     base + m->tensors[t + 1].offset,
                          base + m->tensors[t + 2].offset, base + m->tensors[t + 3].offset,
                          base + m->tensors[t + 4].offset, base + m->tensors[t + 5].offset};
    return w;
}

/* Block l's FFN: out[N, d] from L->ln2. */
static void ffn_forward(l720_model *m, int l, float *out, size_t N, int training)
{
    l720_layer *L = &m->layer[l];
    const l720_model_cfg *c = &m->cfg;
    size_t d = (size_t)c->d_model, H = (size_t)c->ffn_hidden;
    float *w = l720_param(m, L->t_ffn);
    switch (c->ffn[l].kind) {
    case L720_FFN_DENSE: {
        float *w1 = w, *w3 = w1 + H * d, *w2 = w3 + H * d;
        l720_swiglu_forward(out, L->h1, L->h3, L->act, L->ln2, w1, w3, w2, N, d, H);
        break;
    }
    case L720_FFN_MOE: {
        size_t E = (size_t)c->ffn[l].n_experts;
        float *router = w, *w1 = router + E * d, *w3 = w1 + E * H * d, *w2 = w3 + E * H * d;
        l720_moe_forward(L->moe, out, L->ln2, router, w1, w3, w2, N,
                         training ? c->capacity_factor : 0.0);
        memcpy(L->routing, L->moe->expert, sizeof(int32_t) * N);
        break;
    }
    case L720_FFN_PEER: {
        l720_peer *p = L->peer;
        l720_peer_params pw = peer_params(m, l, m->params);
        size_t hd = (size_t)p->h * p->dk;
        float *rm = m->buffers + L->buf_off, *rv = rm + hd;
        l720_peer_forward(p, out, L->ln2, &pw, rm, rv, c->bn_momentum, N, training);
        memcpy(L->routing, p->ids, sizeof(int32_t) * N * (size_t)L->per_token);
        break;
    }
    }
    if (L->usage) {
        size_t n_ids = N * (size_t)L->per_token;
        for (size_t i = 0; i < n_ids; i++)
            L->usage[L->routing[i]] += 1.0;
    }
}

/* dinp[N, d] += gradient through block l's FFN of dout[N, d]. */
static void ffn_backward(l720_model *m, int l, float *dinp, const float *dout, size_t N)
{
    l720_layer *L = &m->layer[l];
    const l720_model_cfg *c = &m->cfg;
    size_t d = (size_t)c->d_model, H = (size_t)c->ffn_hidden;
    float *w = l720_param(m, L->t_ffn), *g = l720_grad(m, L->t_ffn);
    switch (c->ffn[l].kind) {
    case L720_FFN_DENSE: {
        float *w1 = w, *w3 = w1 + H * d, *w2 = w3 + H * d;
        float *g1 = g, *g3 = g1 + H * d, *g2 = g3 + H * d;
        l720_swiglu_backward(dinp, g1, g3, g2, m->dh1, m->dh3, dout, L->ln2, L->h1, L->h3, L->act,
                             w1, w3, w2, N, d, H);
        break;
    }
    case L720_FFN_MOE: {
        size_t E = (size_t)c->ffn[l].n_experts;
        float *router = w, *w1 = router + E * d, *w3 = w1 + E * H * d, *w2 = w3 + E * H * d;
        float *gr = g, *g1 = gr + E * d, *g3 = g1 + E * H * d, *g2 = g3 + E * H * d;
        l720_moe_backward(L->moe, dinp, gr, g1, g3, g2, dout, L->ln2, router, w1, w3, w2,
                          c->balance_coef, c->zloss_coef);
        break;
    }
    case L720_FFN_PEER: {
        l720_peer *p = L->peer;
        size_t nn = (size_t)p->n * p->n;
        l720_peer_params pw = peer_params(m, l, m->params), pg = peer_params(m, l, m->grads);
        uint8_t *tu = m->touched[L->t_ffn + 4], *tv = m->touched[L->t_ffn + 5];
        l720_peer_backward(p, dinp, &pg, tu, dout, L->ln2, &pw);
        memcpy(tv, tu, nn);
        break;
    }
    }
}

int l720_model_forward(l720_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                       int training, l720_forward_out *out, l720_err *err)
{
    const l720_model_cfg *c = &m->cfg;
    if (B < 1 || B > m->max_batch)
        return l720_err_at(err, L720_EINPUT, NULL, 0, "batch", "must be in 1..%d, got %d",
                           m->max_batch, B);
    if (T < 1 || T > c->seq_len)
        return l720_err_at(err, L720_EINPUT, NULL, 0, "seq_len", "must be in 1..%d, got %d",
                           c->seq_len, T);
    size_t N = (size_t)B * (size_t)T, d = (size_t)c->d_model, V = (size_t)c->vocab;
    for (size_t i = 0; i < N; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return l720_err_at(err, L720_EINPUT, NULL, 0, "tokens",
                               "token %d at position %zu is outside 0..%d", tokens[i], i,
                               c->vocab - 1);
        if (targets && targets[i] >= c->vocab)
            return l720_err_at(err, L720_EINPUT, NULL, 0, "targets",
                               "target %d at position %zu is outside 0..%d (or < 0: ignored)",
                               targets[i], i, c->vocab - 1);
    }
    m->B = B;
    m->T = T;
    m->training = training;
    m->have_targets = targets != NULL;
    memcpy(m->tokens, tokens, sizeof(int32_t) * N);
    if (targets)
        memcpy(m->targets, targets, sizeof(int32_t) * N);

    int NH = c->n_heads, hs = c->d_model / NH;
    double aux = 0.0;
    l720_embedding_forward(m->layer[0].resid, tokens, l720_param(m, m->t_embed), N, d);
    for (int l = 0; l < c->n_layers; l++) {
        l720_layer *L = &m->layer[l];
        l720_rmsnorm_forward(L->ln1, L->ln1_rstd, L->resid, l720_param(m, L->t_attn_norm), N, d);
        l720_matmul_forward(L->qkv, L->ln1, l720_param(m, L->t_wqkv), N, d, 3 * d);
        l720_rope_forward(L->qkv, m->rope_cos, m->rope_sin, B, T, NH, hs, 3 * d);
        l720_rope_forward(L->qkv + d, m->rope_cos, m->rope_sin, B, T, NH, hs, 3 * d);
        l720_attention_forward(L->atty, L->att_lse, L->qkv, B, T, (int)d, NH);
        l720_matmul_forward(L->resid_mid, L->atty, l720_param(m, L->t_wo), N, d, d);
        for (size_t i = 0; i < N * d; i++)
            L->resid_mid[i] += L->resid[i];
        l720_rmsnorm_forward(L->ln2, L->ln2_rstd, L->resid_mid, l720_param(m, L->t_ffn_norm), N,
                             d);
        ffn_forward(m, l, m->ffn_out, N, training);
        if (L->moe)
            aux += c->balance_coef * L->moe->balance + c->zloss_coef * L->moe->zloss;
        float *next = l + 1 < c->n_layers ? m->layer[l + 1].resid : m->x_out;
        for (size_t i = 0; i < N * d; i++)
            next[i] = L->resid_mid[i] + m->ffn_out[i];
    }
    l720_rmsnorm_forward(m->lnf, m->lnf_rstd, m->x_out, l720_param(m, m->t_final_norm), N, d);
    l720_matmul_forward(m->logits, m->lnf, l720_param(m, m->t_lm_head), N, d, V);
    double loss = 0.0;
    m->n_targets = 0;
    if (targets) {
        double sum = l720_crossentropy_forward(m->ce_lse, m->logits, targets, N, V, &m->n_targets);
        loss = m->n_targets ? sum / (double)m->n_targets : 0.0;
    }
    if (out) {
        out->loss = loss;
        out->aux_loss = aux;
    }
    return L720_OK;
}

void l720_model_backward(l720_model *m)
{
    const l720_model_cfg *c = &m->cfg;
    if (!m->training || !m->have_targets)
        return;
    int B = m->B, T = m->T, NH = c->n_heads, hs = c->d_model / NH;
    size_t N = (size_t)B * (size_t)T, d = (size_t)c->d_model, V = (size_t)c->vocab;
    float scale = m->n_targets ? 1.0f / (float)m->n_targets : 0.0f;

    /* LM head and final norm */
    l720_crossentropy_backward(m->dlogits, m->logits, m->ce_lse, m->targets, N, V, scale);
    memset(m->dln, 0, sizeof(float) * N * d);
    l720_matmul_backward(m->dln, l720_grad(m, m->t_lm_head), m->dlogits, m->lnf,
                         l720_param(m, m->t_lm_head), N, d, V);
    memset(m->dresid, 0, sizeof(float) * N * d);
    l720_rmsnorm_backward(m->dresid, l720_grad(m, m->t_final_norm), m->dln, m->x_out,
                          l720_param(m, m->t_final_norm), m->lnf_rstd, N, d);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        l720_layer *L = &m->layer[l];
        /* FFN: resid_out = resid_mid + FFN(RMSNorm(resid_mid)) */
        memset(m->dln, 0, sizeof(float) * N * d);
        ffn_backward(m, l, m->dln, m->dresid, N);
        l720_rmsnorm_backward(m->dresid, l720_grad(m, L->t_ffn_norm), m->dln, L->resid_mid,
                              l720_param(m, L->t_ffn_norm), L->ln2_rstd, N, d);
        /* attention: resid_mid = resid + Wo · attn(RoPE(Wqkv · RMSNorm(resid))) */
        memset(m->datty, 0, sizeof(float) * N * d);
        l720_matmul_backward(m->datty, l720_grad(m, L->t_wo), m->dresid, L->atty,
                             l720_param(m, L->t_wo), N, d, d);
        memset(m->dqkv, 0, sizeof(float) * N * 3 * d);
        l720_attention_backward(m->dqkv, m->datty, L->qkv, L->att_lse, B, T, (int)d, NH);
        l720_rope_backward(m->dqkv, m->rope_cos, m->rope_sin, B, T, NH, hs, 3 * d);
        l720_rope_backward(m->dqkv + d, m->rope_cos, m->rope_sin, B, T, NH, hs, 3 * d);
        memset(m->dln, 0, sizeof(float) * N * d);
        l720_matmul_backward(m->dln, l720_grad(m, L->t_wqkv), m->dqkv, L->ln1,
                             l720_param(m, L->t_wqkv), N, d, 3 * d);
        l720_rmsnorm_backward(m->dresid, l720_grad(m, L->t_attn_norm), m->dln, L->resid,
                              l720_param(m, L->t_attn_norm), L->ln1_rstd, N, d);
    }
    l720_embedding_backward(l720_grad(m, m->t_embed), m->dresid, m->tokens, N, d);
}
