/* gpu_model_pass.cu: forward and backward of the whole GPU model (see
 * gpu_model.h), block by block as trainer/model_pass.c. Products read bf16
 * (activations written by the kernels, weights from the bf16 copy pbf) and
 * write fp32 where the result is summed into or rotated (residual stream,
 * q/k/v, gradients), bf16 where it feeds a pointwise kernel or the next
 * product (SwiGLU's h1|h3 and its gradient, the attention output's gradient,
 * the logits: cross-entropy reads them in fp32 and overwrites them with
 * their gradient).
 *   dense FFN: w1, w3 adjacent, so x [W1; W3]^T is one product into h13;
 *   MoE FFN: l720_moe_gpu (adds into the residual, writes dx and gradients);
 *   PEER FFN: l720_peer_gpu (bf16 y and dx), the compact u/v row gradients
 *   expanded into the full layout (rows no token touched stay 0).
 * Accumulation (l720_gpu_model_backward_add): every gradient site takes
 * m->acc_beta (0 writes, 1 adds); see ffn_backward for MoE and PEER. */
#include "kernels/gpu_model_impl.cuh"

/* out[i] += bf16 in[i] */
__global__ void k_add_bf16(float *out, const uint16_t *in, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] += __uint_as_float((uint32_t)in[i] << 16);
}

/* out[i] = bf16 in[i] */
__global__ void k_from_bf16(float *out, const uint16_t *in, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = __uint_as_float((uint32_t)in[i] << 16);
}

/* row ids[r] of g [*, d] += compact bf16 row r of rows [n, d] (ids unique) */
__global__ void k_scatter_add_rows(float *g, const int32_t *ids, const uint16_t *rows, int d)
{
    float *row = g + (size_t)ids[blockIdx.x] * d;
    const uint16_t *src = rows + (size_t)blockIdx.x * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        row[c] += __uint_as_float((uint32_t)src[c] << 16);
}

/* rows ids[r] of g [*, d] = 0 (r < n) */
__global__ void k_zero_rows(float *g, const int32_t *ids, int d)
{
    float *row = g + (size_t)ids[blockIdx.x] * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        row[c] = 0.0f;
}

/* row ids[r] of g [*, d] = compact bf16 row r of rows [n, d] */
__global__ void k_scatter_rows(float *g, const int32_t *ids, const uint16_t *rows, int d)
{
    float *row = g + (size_t)ids[blockIdx.x] * d;
    const uint16_t *src = rows + (size_t)blockIdx.x * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        row[c] = __uint_as_float((uint32_t)src[c] << 16);
}

static unsigned blocks_for(size_t n) { return (unsigned)((n + 255) / 256); }

/* Row-major C = op(A) op(B) with bf16 operands, fp32 C; beta 0 or 1. */
#define GEMM(ta, tb, M_, N_, K_, A, lda, Bm, ldb, beta, Cm, ldc)                                   \
    CALL(l720_gemm_bf16(m->g, ta, tb, M_, N_, K_, 1.0f, A, lda, 0, Bm, ldb, 0, beta, Cm, ldc, 0,  \
                        1, m->st, err))
/* The same with C rounded to bf16. */
#define GEMM_BF(ta, tb, M_, N_, K_, A, lda, Bm, ldb, Cm, ldc)                                      \
    CALL(l720_gemm_bf16_out(m->g, ta, tb, M_, N_, K_, 1.0f, A, lda, 0, Bm, ldb, 0, 0.0f, Cm, ldc, \
                            0, 1, m->st, err))
#define CALL(x)                                                                                    \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

static l720_peer_weights peer_weights(l720_gpu_model *m, gm_layer *L)
{
    size_t d = (size_t)m->c.d_model, hd = (size_t)L->ph * L->pdk, o = L->o_ffn;
    l720_peer_weights w;
    w.wq = m->pbf + o;
    w.gamma = m->p + o + hd * d;
    w.beta = w.gamma + hd;
    w.keys = m->pbf + o + hd * d + 2 * hd;
    w.u = m->pbf + L->o_u;
    w.v = m->pbf + L->o_v;
    w.run_mean = m->buf + L->buf_off;
    w.run_var = w.run_mean + hd;
    w.momentum = m->c.bn_momentum;
    return w;
}

/* next [N, d] = resid_mid + FFN(ln2) for block L. */
static int ffn_forward(l720_gpu_model *m, gm_layer *L, float *next, int N, int training,
                       l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    int d = c->d_model, H = c->ffn_hidden;
    size_t Nd = (size_t)N * d, o = L->o_ffn;
    if (L->kind != L720_FFN_DENSE) /* the MoE and PEER layers add into next */
        GPU_CK(cudaMemcpyAsync(next, L->resid_mid, Nd * 4, cudaMemcpyDeviceToDevice, m->st));
    switch (L->kind) {
    case L720_FFN_DENSE: {
        const uint16_t *w13 = m->pbf + o, *w2 = w13 + 2 * (size_t)H * d;
        GEMM_BF(0, 1, N, 2 * H, d, L->ln2, d, w13, d, L->h13, 2 * H);
        CALL(l720_swiglu_fwd(L->act, L->h13, L->h13 + H, 2 * H, N, H, m->st, err));
        CALL(l720_gemm_bf16_add(m->g, 0, 1, N, d, H, L->act, H, w2, H, L->resid_mid, next, d,
                                m->st, err));
        break;
    }
    case L720_FFN_MOE: {
        size_t E = (size_t)L->E, EHd = E * H * d;
        const float *router = m->p + o;
        const uint16_t *w1 = m->pbf + o + E * d, *w3 = w1 + EHd, *w2 = w3 + EHd;
        CALL(l720_moe_gpu_forward(L->moe, m->g, next, L->ln2, router, w1, w3, w2, N,
                                  training ? c->capacity_factor : 0.0f, m->st, err));
        break;
    }
    case L720_FFN_PEER: {
        l720_peer_weights w = peer_weights(m, L);
        CALL(l720_peer_gpu_forward(L->peer, &w, L->ln2, m->ffn16, N, training, m->st, err));
        k_add_bf16<<<blocks_for(Nd), 256, 0, m->st>>>(next, m->ffn16, Nd);
        GPU_LAUNCHED();
        break;
    }
    }
    return L720_OK;
}

int gm_forward(l720_gpu_model *m, int B, int T, int training, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    int N = B * T, d = c->d_model, V = c->vocab, NH = c->n_heads;
    cudaStream_t st = m->st;
    CALL(l720_dense_embed_fwd(m->L[0].resid, m->tok, m->p + m->o_embed, N, d, st, err));
    for (int l = 0; l < c->n_layers; l++) {
        gm_layer *L = &m->L[l];
        const uint16_t *wqkv = m->pbf + L->o_wqkv, *wo = m->pbf + L->o_wo;
        CALL(l720_dense_rmsnorm_fwd(L->ln1, L->rstd1, L->resid, m->p + L->o_an, N, d, st, err));
        GEMM(0, 1, N, 3 * d, d, L->ln1, d, wqkv, d, 0.0f, m->qkv, 3 * d);
        CALL(l720_dense_rope(L->qkvbf, m->qkv, m->cosb, m->sinb, B, T, NH, d / NH, 1, st, err));
        if (m->flash)
            CALL(l720_flash_attn_fwd(L->attybf, L->lse, L->qkvbf, B, T, d, NH, st, err));
        else
            CALL(l720_dense_attn_fwd(m->g, L->attybf, m->y, L->P, m->S, L->qkvbf, B, T, d, NH,
                                     st, err));
        CALL(l720_gemm_bf16_add(m->g, 0, 1, N, d, d, L->attybf, d, wo, d, L->resid, L->resid_mid,
                                d, st, err));
        CALL(l720_dense_rmsnorm_fwd(L->ln2, L->rstd2, L->resid_mid, m->p + L->o_fn, N, d, st,
                                    err));
        float *next = l + 1 < c->n_layers ? m->L[l + 1].resid : m->x_out;
        CALL(ffn_forward(m, L, next, N, training, err));
    }
    CALL(l720_dense_rmsnorm_fwd(m->lnf, m->rstdf, m->x_out, m->p + m->o_final, N, d, st, err));
    /* the head's bf16 copy has Vp rows, those past V zero (gpu_model.cu) */
    GEMM_BF(0, 1, N, m->Vp, d, m->lnf, d, m->pbf + m->o_head, d, m->logits, m->Vp);
    float scale = m->n_targets ? 1.0f / (float)m->n_targets : 0.0f;
    CALL(l720_dense_xent(m->logits, m->loss_rows, m->logits, m->Vp, m->tgt, N, V, scale, st,
                         err));
    return L720_OK;
}

/* PEER u/v gradients: rows of the previous backward (or the whole tables
 * after new / poison) back to 0; the new compact rows expanded after the
 * layer's backward. */
static int peer_clear_rows(l720_gpu_model *m, gm_layer *L, l720_err *err)
{
    size_t d = (size_t)m->c.d_model, rows = (size_t)L->pn * L->pn;
    if (m->full_clear) {
        GPU_CK(cudaMemsetAsync(m->grad + L->o_u, 0, rows * d * 4, m->st));
        GPU_CK(cudaMemsetAsync(m->grad + L->o_v, 0, rows * d * 4, m->st));
    } else if (L->n_touched) {
        k_zero_rows<<<L->n_touched, 256, 0, m->st>>>(m->grad + L->o_u, L->touched, (int)d);
        k_zero_rows<<<L->n_touched, 256, 0, m->st>>>(m->grad + L->o_v, L->touched, (int)d);
        GPU_LAUNCHED();
    }
    L->n_touched = 0;
    return L720_OK;
}

/* Accumulating: the new compact rows added into the rows held, and the
 * touched list made the union of the old and the new ids (both ascending;
 * merged on the host, which already waited for n). */
static int peer_add_rows(l720_gpu_model *m, gm_layer *L, const int32_t *ids, const uint16_t *du,
                         const uint16_t *dv, int n, l720_err *err)
{
    int d = m->c.d_model, n_old = L->n_touched;
    k_scatter_add_rows<<<n, 256, 0, m->st>>>(m->grad + L->o_u, ids, du, d);
    k_scatter_add_rows<<<n, 256, 0, m->st>>>(m->grad + L->o_v, ids, dv, d);
    GPU_LAUNCHED();
    m->h_old.resize((size_t)n_old);
    m->h_new.resize((size_t)n);
    if (n_old)
        GPU_CK(cudaMemcpyAsync(m->h_old.data(), L->touched, (size_t)n_old * sizeof(int32_t),
                               cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaMemcpyAsync(m->h_new.data(), ids, (size_t)n * sizeof(int32_t),
                           cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    m->h_union.resize((size_t)n_old + n);
    size_t i = 0, j = 0, u = 0;
    while (i < (size_t)n_old || j < (size_t)n) {
        int32_t a = i < (size_t)n_old ? m->h_old[i] : INT32_MAX;
        int32_t b = j < (size_t)n ? m->h_new[j] : INT32_MAX;
        m->h_union[u++] = a < b ? a : b;
        i += a <= b;
        j += b <= a;
    }
    GPU_CK(cudaMemcpyAsync(L->touched, m->h_union.data(), u * sizeof(int32_t),
                           cudaMemcpyHostToDevice, m->st));
    GPU_CK(cudaStreamSynchronize(m->st)); /* h_union is reused by the next layer */
    L->n_touched = (int)u;
    return L720_OK;
}

static int peer_expand_rows(l720_gpu_model *m, gm_layer *L, l720_err *err)
{
    const int32_t *ids;
    const uint16_t *du, *dv;
    int n = 0, d = m->c.d_model;
    CALL(l720_peer_gpu_rows(L->peer, &ids, &du, &dv, &n, m->st, err));
    if (m->acc_beta != 0.0f)
        return n ? peer_add_rows(m, L, ids, du, dv, n, err) : L720_OK;
    L->n_touched = n;
    if (!n)
        return L720_OK;
    GPU_CK(cudaMemcpyAsync(L->touched, ids, (size_t)n * sizeof(int32_t),
                           cudaMemcpyDeviceToDevice, m->st));
    k_scatter_rows<<<n, 256, 0, m->st>>>(m->grad + L->o_u, L->touched, du, d);
    k_scatter_rows<<<n, 256, 0, m->st>>>(m->grad + L->o_v, L->touched, dv, d);
    GPU_LAUNCHED();
    return L720_OK;
}

/* dln [N, d] = gradient through block L's FFN of dresbf (bf16 dresid). */
static int ffn_backward(l720_gpu_model *m, gm_layer *L, int N, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    int d = c->d_model, H = c->ffn_hidden;
    size_t o = L->o_ffn, Nd = (size_t)N * d;
    switch (L->kind) {
    case L720_FFN_DENSE: {
        size_t o13 = o, o2 = o + 2 * (size_t)H * d;
        GEMM_BF(0, 0, N, H, d, m->dresbf, d, m->pbf + o2, H, m->dact, H);
        GEMM(1, 0, d, H, N, m->dresbf, d, L->act, H, m->acc_beta, m->grad + o2, H);
        CALL(l720_swiglu_bwd(m->dh13, m->dh13 + H, m->dact, L->h13, L->h13 + H, 2 * H, N, H,
                             m->st, err));
        GEMM(0, 0, N, d, 2 * H, m->dh13, 2 * H, m->pbf + o13, d, 0.0f, m->dln, d);
        GEMM(1, 0, 2 * H, d, N, m->dh13, 2 * H, L->ln2, d, m->acc_beta, m->grad + o13, d);
        break;
    }
    case L720_FFN_MOE: {
        size_t E = (size_t)L->E, EHd = E * H * d;
        const float *router = m->p + o;
        const uint16_t *w1 = m->pbf + o + E * d, *w3 = w1 + EHd, *w2 = w3 + EHd;
        float *gr = m->grad + o, *g1 = gr + E * d, *g3 = g1 + EHd, *g2 = g3 + EHd;
        l720_moe_gpu_set_grad_add(L->moe, m->acc_beta != 0.0f);
        CALL(l720_moe_gpu_backward(L->moe, m->g, m->dln, gr, g1, g3, g2, m->dresbf, L->ln2,
                                   router, w1, w3, w2, c->balance_coef, c->zloss_coef, m->st,
                                   err));
        break;
    }
    case L720_FFN_PEER: {
        size_t hd = (size_t)L->ph * L->pdk;
        l720_peer_weights w = peer_weights(m, L);
        int acc = m->acc_beta != 0.0f; /* the layer adds its dense gradients */
        l720_peer_grads g;
        g.wq = m->grad + o;
        g.gamma = g.wq + hd * d;
        g.beta = g.gamma + hd;
        g.keys = g.beta + hd;
        if (!acc)
            CALL(peer_clear_rows(m, L, err));
        l720_peer_gpu_set_grad_add(L->peer, acc);
        CALL(l720_peer_gpu_backward(L->peer, &w, L->ln2, m->dresbf, m->ffn16, &g, m->st, err));
        k_from_bf16<<<blocks_for(Nd), 256, 0, m->st>>>(m->dln, m->ffn16, Nd);
        GPU_LAUNCHED();
        CALL(peer_expand_rows(m, L, err));
        break;
    }
    }
    return L720_OK;
}

int gm_backward(l720_gpu_model *m, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    int N = m->B * m->T, d = c->d_model, T = m->T, NH = c->n_heads, B = m->B;
    cudaStream_t st = m->st;
    size_t Nd = (size_t)N * d;
    /* every gradient that is summed into (norm gains, embedding rows) starts at 0,
     * except when accumulating; the others are written whole */
    if (m->acc_beta == 0.0f)
        for (const auto &z : m->zero_runs)
            GPU_CK(cudaMemsetAsync(m->grad + z.first, 0, z.second * 4, st));
    /* m->logits holds dlogits now; its columns past V are 0, so the padded
     * head rows add nothing to dx and get a zero gradient in grad's tail */
    GEMM(0, 0, N, d, m->Vp, m->logits, m->Vp, m->pbf + m->o_head, d, 0.0f, m->dln, d);
    GEMM(1, 0, m->Vp, d, N, m->logits, m->Vp, m->lnf, d, m->acc_beta, m->grad + m->o_head,
         d);
    GPU_CK(cudaMemsetAsync(m->dresid, 0, Nd * 4, st));
    /* each RMSNorm backward also leaves the bf16 copy of dresid for the next products */
    CALL(l720_dense_rmsnorm_bwd(m->dresid, m->dresbf, m->grad + m->o_final, m->part, m->dln,
                                m->x_out, m->p + m->o_final, m->rstdf, N, d, st, err));
    for (int l = c->n_layers - 1; l >= 0; l--) {
        gm_layer *L = &m->L[l];
        CALL(ffn_backward(m, L, N, err));
        CALL(l720_dense_rmsnorm_bwd(m->dresid, m->dresbf, m->grad + L->o_fn, m->part, m->dln,
                                    L->resid_mid, m->p + L->o_fn, L->rstd2, N, d, st, err));
        /* attention */
        GEMM_BF(0, 0, N, d, d, m->dresbf, d, m->pbf + L->o_wo, d, m->dattybf, d);
        GEMM(1, 0, d, d, N, m->dresbf, d, L->attybf, d, m->acc_beta, m->grad + L->o_wo, d);
        if (m->flash)
            CALL(l720_flash_attn_bwd(m->dqkv, m->dsum, m->dattybf, L->attybf, L->lse, L->qkvbf, B,
                                     T, d, NH, st, err));
        else
            CALL(l720_dense_attn_bwd(m->g, m->dqkv, m->S, m->dS, m->dattybf, L->P, L->qkvbf, B, T,
                                     d, NH, st, err));
        CALL(l720_dense_rope(m->dqkvbf, m->dqkv, m->cosb, m->sinb, B, T, NH, d / NH, -1, st, err));
        GEMM(0, 0, N, d, 3 * d, m->dqkvbf, 3 * d, m->pbf + L->o_wqkv, d, 0.0f, m->dln, d);
        GEMM(1, 0, 3 * d, d, N, m->dqkvbf, 3 * d, L->ln1, d, m->acc_beta, m->grad + L->o_wqkv,
             d);
        CALL(l720_dense_rmsnorm_bwd(m->dresid, l ? m->dresbf : NULL, m->grad + L->o_an, m->part,
                                    m->dln, L->resid, m->p + L->o_an, L->rstd1, N, d, st, err));
    }
    CALL(l720_dense_embed_bwd(m->grad + m->o_embed, m->dresid, m->order, m->run_start, m->run_tok,
                              m->n_runs_tok, d, st, err));
    m->full_clear = 0;
    return L720_OK;
}
