/* dense_model.cu: a whole dense forward + backward + AdamW on the GPU, with
 * trainer/model.c's parameter layout (all FFNs dense):
 *   embed [V, d]; per layer: attn_norm [d], wqkv [3d, d], wo [d, d],
 *   ffn_norm [d], w1 [H, d], w3 [H, d], w2 [d, H]; final_norm [d];
 *   lm_head [V, d].
 * w1 and w3 are adjacent, so x [W1; W3]^T is one product into h13 [N, 2H].
 * GEMM outputs are fp32; the kernels write the bf16 copies the next product
 * reads. */
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/gpu_util.cuh"

struct dense_layer {
    float *resid, *rstd1, *resid_mid, *rstd2, *h13; /* [N,d] [N] [N,d] [N] [N,2H] */
    uint16_t *ln1, *qkvbf, *P, *attybf, *ln2, *act; /* [N,d] [N,3d] [B,NH,T,T] [N,d] [N,d] [N,H] */
};

struct l720_dense_model {
    l720_dense_cfg c;
    int B, N, Vp; /* Vp: logits row stride (V rounded up to 64) */
    size_t np;
    cudaStream_t st;
    l720_gemm *g;
    float *p, *grad, *m, *v; /* [np] */
    uint16_t *pbf;           /* [np] */
    std::vector<dense_layer> L;
    std::vector<void *> allocs;
    float *x_out, *rstdf, *logits, *loss_rows, *qkv, *y, *S, *dresid, *dln, *datty, *dqkv, *dact;
    float *part, *cosb, *sinb;
    uint16_t *lnf, *dlogits, *dS, *dresbf, *dattybf, *dqkvbf, *dh13;
    int32_t *tok, *tgt;
    float scale; /* 1 / number of targets >= 0 */
};

/* Offsets (floats) of the named tensors. */
static size_t layer_size(const l720_dense_cfg *c)
{
    size_t d = (size_t)c->d_model, H = (size_t)c->ffn_hidden;
    return 2 * d + 4 * d * d + 3 * H * d;
}
static size_t off_layer(const l720_dense_cfg *c, int l)
{
    return (size_t)c->vocab * c->d_model + (size_t)l * layer_size(c);
}
static size_t off_final(const l720_dense_cfg *c) { return off_layer(c, c->n_layers); }

extern "C" size_t l720_dense_n_params(const l720_dense_cfg *c)
{
    return off_final(c) + (size_t)c->d_model + (size_t)c->vocab * c->d_model;
}

template <typename T> static int alloc(l720_dense_model *m, T **p, size_t n, l720_err *err)
{
    void *q = NULL;
    cudaError_t e = cudaMalloc(&q, (n ? n : 1) * sizeof(T));
    if (e != cudaSuccess)
        return l720_err_set(err, L720_EFAIL, "dense: %zu bytes: %s", n * sizeof(T),
                            cudaGetErrorString(e));
    m->allocs.push_back(q);
    *p = (T *)q;
    return L720_OK;
}

extern "C" void l720_dense_free(l720_dense_model *m)
{
    if (!m)
        return;
    for (void *q : m->allocs)
        cudaFree(q);
    l720_gemm_free(m->g);
    if (m->st)
        cudaStreamDestroy(m->st);
    delete m;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) != L720_OK)                                                                        \
            goto fail;                                                                             \
    } while (0)

extern "C" l720_dense_model *l720_dense_new(const l720_dense_cfg *c, int B, l720_err *err)
{
    l720_dense_model *m = new l720_dense_model();
    m->c = *c;
    if (!m->c.ffn_hidden)
        m->c.ffn_hidden = 3 * c->d_model;
    if (m->c.rope_theta <= 0)
        m->c.rope_theta = 10000.0f;
    m->B = B;
    m->N = B * c->seq_len;
    m->Vp = (c->vocab + 63) / 64 * 64;
    m->np = l720_dense_n_params(&m->c);
    m->scale = 1.0f / (float)m->N;
    size_t N = (size_t)m->N, d = (size_t)c->d_model, H = (size_t)m->c.ffn_hidden,
           T = (size_t)c->seq_len, NH = (size_t)c->n_heads, Vp = (size_t)m->Vp;
    if (cudaStreamCreate(&m->st) != cudaSuccess) {
        l720_err_set(err, L720_EFAIL, "dense: no stream");
        delete m;
        return NULL;
    }
    m->g = l720_gemm_new(err);
    if (!m->g)
        goto fail;
    TRY(alloc(m, &m->p, m->np, err));
    TRY(alloc(m, &m->grad, m->np, err));
    TRY(alloc(m, &m->m, m->np, err));
    TRY(alloc(m, &m->v, m->np, err));
    TRY(alloc(m, &m->pbf, m->np, err));
    cudaMemset(m->m, 0, m->np * 4);
    cudaMemset(m->v, 0, m->np * 4);
    m->L.resize(c->n_layers);
    for (auto &l : m->L) {
        TRY(alloc(m, &l.resid, N * d, err));
        TRY(alloc(m, &l.rstd1, N, err));
        TRY(alloc(m, &l.resid_mid, N * d, err));
        TRY(alloc(m, &l.rstd2, N, err));
        TRY(alloc(m, &l.h13, N * 2 * H, err));
        TRY(alloc(m, &l.ln1, N * d, err));
        TRY(alloc(m, &l.qkvbf, N * 3 * d, err));
        TRY(alloc(m, &l.P, (size_t)B * NH * T * T, err));
        TRY(alloc(m, &l.attybf, N * d, err));
        TRY(alloc(m, &l.ln2, N * d, err));
        TRY(alloc(m, &l.act, N * H, err));
    }
    TRY(alloc(m, &m->x_out, N * d, err));
    TRY(alloc(m, &m->rstdf, N, err));
    TRY(alloc(m, &m->logits, N * Vp, err));
    TRY(alloc(m, &m->loss_rows, N, err));
    TRY(alloc(m, &m->qkv, N * 3 * d, err));
    TRY(alloc(m, &m->y, N * d, err));
    TRY(alloc(m, &m->S, NH * T * T, err));
    TRY(alloc(m, &m->dresid, N * d, err));
    TRY(alloc(m, &m->dln, N * d, err));
    TRY(alloc(m, &m->datty, N * d, err));
    TRY(alloc(m, &m->dqkv, N * 3 * d, err));
    TRY(alloc(m, &m->dact, N * H, err));
    TRY(alloc(m, &m->part, l720_dense_rmsnorm_part_len((int)N, (int)d), err));
    TRY(alloc(m, &m->cosb, T * d / NH / 2, err));
    TRY(alloc(m, &m->sinb, T * d / NH / 2, err));
    TRY(alloc(m, &m->lnf, N * d, err));
    TRY(alloc(m, &m->dlogits, N * Vp, err));
    TRY(alloc(m, &m->dS, NH * T * T, err));
    TRY(alloc(m, &m->dresbf, N * d, err));
    TRY(alloc(m, &m->dattybf, N * d, err));
    TRY(alloc(m, &m->dqkvbf, N * 3 * d, err));
    TRY(alloc(m, &m->dh13, N * 2 * H, err));
    TRY(alloc(m, &m->tok, N, err));
    TRY(alloc(m, &m->tgt, N, err));
    TRY(l720_dense_rope_table(m->cosb, m->sinb, (int)T, (int)(d / NH), m->c.rope_theta, m->st,
                              err));
    return m;
fail:
    l720_dense_free(m);
    return NULL;
}

extern "C" void *l720_dense_stream(l720_dense_model *m) { return m->st; }
extern "C" int32_t *l720_dense_dev_tokens(l720_dense_model *m) { return m->tok; }
extern "C" int32_t *l720_dense_dev_targets(l720_dense_model *m) { return m->tgt; }

extern "C" int l720_dense_set_params(l720_dense_model *m, const float *host, l720_err *err)
{
    GPU_CK(cudaMemcpyAsync(m->p, host, m->np * 4, cudaMemcpyHostToDevice, m->st));
    int rc = l720_dense_to_bf16(m->pbf, m->p, m->np, m->st, err);
    if (rc)
        return rc;
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

static int get(l720_dense_model *m, float *host, const float *dev, l720_err *err)
{
    GPU_CK(cudaMemcpyAsync(host, dev, m->np * 4, cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}
extern "C" int l720_dense_get_params(l720_dense_model *m, float *host, l720_err *err)
{
    return get(m, host, m->p, err);
}
extern "C" int l720_dense_get_grads(l720_dense_model *m, float *host, l720_err *err)
{
    return get(m, host, m->grad, err);
}

/* Row-major out = x W^T (x [M, K] bf16, W [N, K] bf16), fp32; beta 0 or 1. */
#define GEMM(ta, tb, M_, N_, K_, A, lda, Bm, ldb, beta, Cm, ldc)                                   \
    do {                                                                                           \
        rc = l720_gemm_bf16(m->g, ta, tb, M_, N_, K_, 1.0f, A, lda, 0, Bm, ldb, 0, beta, Cm, ldc,  \
                            0, 1, m->st, err);                                                     \
        if (rc)                                                                                    \
            return rc;                                                                             \
    } while (0)
#define CALL(x)                                                                                    \
    do {                                                                                           \
        rc = (x);                                                                                  \
        if (rc)                                                                                    \
            return rc;                                                                             \
    } while (0)

static int forward(l720_dense_model *m, l720_err *err)
{
    const l720_dense_cfg *c = &m->c;
    int rc, N = m->N, d = c->d_model, H = c->ffn_hidden, V = c->vocab, T = c->seq_len,
            NH = c->n_heads, B = m->B;
    cudaStream_t st = m->st;
    size_t Nd = (size_t)N * d;
    CALL(l720_dense_embed_fwd(m->L[0].resid, m->tok, m->p, N, d, st, err));
    for (int l = 0; l < c->n_layers; l++) {
        dense_layer *L = &m->L[l];
        size_t o = off_layer(c, l);
        const float *an = m->p + o, *fn = m->p + o + d + 4 * (size_t)d * d;
        const uint16_t *wqkv = m->pbf + o + d, *wo = wqkv + 3 * (size_t)d * d,
                       *w13 = m->pbf + o + 2 * d + 4 * (size_t)d * d, *w2 = w13 + 2 * (size_t)H * d;
        CALL(l720_dense_rmsnorm_fwd(L->ln1, L->rstd1, L->resid, an, N, d, st, err));
        GEMM(0, 1, N, 3 * d, d, L->ln1, d, wqkv, d, 0.0f, m->qkv, 3 * d);
        CALL(l720_dense_rope(L->qkvbf, m->qkv, m->cosb, m->sinb, B, T, NH, d / NH, 1, st, err));
        CALL(l720_dense_attn_fwd(m->g, L->attybf, m->y, L->P, m->S, L->qkvbf, B, T, d, NH, st,
                                 err));
        GPU_CK(cudaMemcpyAsync(L->resid_mid, L->resid, Nd * 4, cudaMemcpyDeviceToDevice, st));
        GEMM(0, 1, N, d, d, L->attybf, d, wo, d, 1.0f, L->resid_mid, d);
        CALL(l720_dense_rmsnorm_fwd(L->ln2, L->rstd2, L->resid_mid, fn, N, d, st, err));
        GEMM(0, 1, N, 2 * H, d, L->ln2, d, w13, d, 0.0f, L->h13, 2 * H);
        CALL(l720_dense_swiglu_fwd(L->act, L->h13, N, H, st, err));
        float *next = l + 1 < c->n_layers ? m->L[l + 1].resid : m->x_out;
        GPU_CK(cudaMemcpyAsync(next, L->resid_mid, Nd * 4, cudaMemcpyDeviceToDevice, st));
        GEMM(0, 1, N, d, H, L->act, H, w2, H, 1.0f, next, d);
    }
    size_t of = off_final(c);
    CALL(l720_dense_rmsnorm_fwd(m->lnf, m->rstdf, m->x_out, m->p + of, N, d, st, err));
    GEMM(0, 1, N, V, d, m->lnf, d, m->pbf + of + d, d, 0.0f, m->logits, m->Vp);
    CALL(l720_dense_xent(m->dlogits, m->loss_rows, m->logits, m->Vp, m->tgt, N, V, m->scale, st,
                         err));
    return L720_OK;
}

static int backward(l720_dense_model *m, l720_err *err)
{
    const l720_dense_cfg *c = &m->c;
    int rc, N = m->N, d = c->d_model, H = c->ffn_hidden, V = c->vocab, T = c->seq_len,
            NH = c->n_heads, B = m->B;
    cudaStream_t st = m->st;
    size_t Nd = (size_t)N * d, of = off_final(c);
    GPU_CK(cudaMemsetAsync(m->grad, 0, m->np * 4, st));
    GEMM(0, 0, N, d, V, m->dlogits, m->Vp, m->pbf + of + d, d, 0.0f, m->dln, d);
    GEMM(1, 0, V, d, N, m->dlogits, m->Vp, m->lnf, d, 0.0f, m->grad + of + d, d);
    GPU_CK(cudaMemsetAsync(m->dresid, 0, Nd * 4, st));
    CALL(l720_dense_rmsnorm_bwd(m->dresid, m->grad + of, m->part, m->dln, m->x_out, m->p + of,
                                m->rstdf, N, d, st, err));
    for (int l = c->n_layers - 1; l >= 0; l--) {
        dense_layer *L = &m->L[l];
        size_t o = off_layer(c, l), ow = o + d, of1 = o + d + 4 * (size_t)d * d,
               o13 = of1 + d, o2 = o13 + 2 * (size_t)H * d;
        /* FFN */
        CALL(l720_dense_to_bf16(m->dresbf, m->dresid, Nd, st, err));
        GEMM(0, 0, N, H, d, m->dresbf, d, m->pbf + o2, H, 0.0f, m->dact, H);
        GEMM(1, 0, d, H, N, m->dresbf, d, L->act, H, 0.0f, m->grad + o2, H);
        CALL(l720_dense_swiglu_bwd(m->dh13, m->dact, L->h13, N, H, st, err));
        GEMM(0, 0, N, d, 2 * H, m->dh13, 2 * H, m->pbf + o13, d, 0.0f, m->dln, d);
        GEMM(1, 0, 2 * H, d, N, m->dh13, 2 * H, L->ln2, d, 0.0f, m->grad + o13, d);
        CALL(l720_dense_rmsnorm_bwd(m->dresid, m->grad + of1, m->part, m->dln, L->resid_mid,
                                    m->p + of1, L->rstd2, N, d, st, err));
        /* attention */
        size_t owo = ow + 3 * (size_t)d * d;
        CALL(l720_dense_to_bf16(m->dresbf, m->dresid, Nd, st, err));
        GEMM(0, 0, N, d, d, m->dresbf, d, m->pbf + owo, d, 0.0f, m->datty, d);
        GEMM(1, 0, d, d, N, m->dresbf, d, L->attybf, d, 0.0f, m->grad + owo, d);
        CALL(l720_dense_to_bf16(m->dattybf, m->datty, Nd, st, err));
        CALL(l720_dense_attn_bwd(m->g, m->dqkv, m->S, m->dS, m->dattybf, L->P, L->qkvbf, B, T, d,
                                 NH, st, err));
        CALL(l720_dense_rope(m->dqkvbf, m->dqkv, m->cosb, m->sinb, B, T, NH, d / NH, -1, st, err));
        GEMM(0, 0, N, d, 3 * d, m->dqkvbf, 3 * d, m->pbf + ow, d, 0.0f, m->dln, d);
        GEMM(1, 0, 3 * d, d, N, m->dqkvbf, 3 * d, L->ln1, d, 0.0f, m->grad + ow, d);
        CALL(l720_dense_rmsnorm_bwd(m->dresid, m->grad + o, m->part, m->dln, L->resid, m->p + o,
                                    L->rstd1, N, d, st, err));
    }
    CALL(l720_dense_embed_bwd(m->grad, m->dresid, m->tok, N, d, st, err));
    return L720_OK;
}

extern "C" int l720_dense_fwd_bwd_dev(l720_dense_model *m, l720_err *err)
{
    int rc = forward(m, err);
    return rc ? rc : backward(m, err);
}

extern "C" int l720_dense_fwd_bwd(l720_dense_model *m, const int32_t *tokens,
                                  const int32_t *targets, double *loss, l720_err *err)
{
    size_t N = (size_t)m->N, cnt = 0;
    for (size_t i = 0; i < N; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->c.vocab || targets[i] >= m->c.vocab)
            return l720_err_set(err, L720_EINPUT, "dense: token or target %zu out of range", i);
        cnt += targets[i] >= 0;
    }
    m->scale = cnt ? 1.0f / (float)cnt : 0.0f;
    GPU_CK(cudaMemcpyAsync(m->tok, tokens, N * 4, cudaMemcpyHostToDevice, m->st));
    GPU_CK(cudaMemcpyAsync(m->tgt, targets, N * 4, cudaMemcpyHostToDevice, m->st));
    int rc = l720_dense_fwd_bwd_dev(m, err);
    if (rc)
        return rc;
    std::vector<float> lr(N);
    GPU_CK(cudaMemcpyAsync(lr.data(), m->loss_rows, N * 4, cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    double s = 0.0;
    for (size_t i = 0; i < N; i++)
        s += lr[i];
    *loss = cnt ? s / (double)cnt : 0.0;
    return L720_OK;
}

extern "C" int l720_dense_adamw_step(l720_dense_model *m, long t, double lr, double b1, double b2,
                                     double eps, double wd, l720_err *err)
{
    const l720_dense_cfg *c = &m->c;
    float c1 = (float)(1.0 - pow(b1, (double)t)), c2 = (float)(1.0 - pow(b2, (double)t));
    float dec = (float)(lr * wd);
    size_t d = (size_t)c->d_model, H = (size_t)c->ffn_hidden;
    /* (offset, length, decay) runs: norms without decay */
    std::vector<size_t> off, len;
    std::vector<int> dc;
    auto run = [&](size_t o, size_t n, int de) {
        off.push_back(o);
        len.push_back(n);
        dc.push_back(de);
    };
    run(0, (size_t)c->vocab * d, 1);
    for (int l = 0; l < c->n_layers; l++) {
        size_t o = off_layer(c, l);
        run(o, d, 0);
        run(o + d, 4 * d * d, 1);
        run(o + d + 4 * d * d, d, 0);
        run(o + 2 * d + 4 * d * d, 3 * H * d, 1);
    }
    run(off_final(c), d, 0);
    run(off_final(c) + d, (size_t)c->vocab * d, 1);
    for (size_t i = 0; i < off.size(); i++) {
        int rc = l720_dense_adamw(m->p + off[i], m->pbf + off[i], m->m + off[i], m->v + off[i],
                                  m->grad + off[i], len[i], (float)lr, (float)b1, (float)b2,
                                  (float)eps, dc[i] ? dec : 0.0f, c1, c2, 1.0f, m->st, err);
        if (rc)
            return rc;
    }
    return L720_OK;
}
