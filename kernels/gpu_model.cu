/* gpu_model.cu: the whole model on the GPU (gpu_model.h): the parameter
 * layout, the memory plan (one list of allocations, counted before anything
 * is allocated), host <-> device state, and the forward / backward entry
 * points with their host-side checks. Passes: gpu_model_pass.cu; optimiser:
 * gpu_model_optim.cu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu_model_impl.cuh"

#define GM_SLACK (64u << 20)   /* CUDA context, cuBLASLt handles, allocation rounding */
#define GM_GEMM_WS (33u << 20) /* one l720_gemm: 32 MiB workspace and its handle */
#define GM_NORM_CHUNK 65536    /* floats per gradient-norm partial sum */

/* ---- layout (trainer/model.c's order; checked against the CPU tensors) ---- */

static int isqrt_exact(int N)
{
    int n = (int)floor(sqrt((double)N) + 0.5);
    return n * n == N ? n : -1;
}

struct gm_shape {
    size_t rows, cols;
    int sparse, no_decay;
};

/* The tensors of cfg in layout order (offsets follow from the shapes). */
static std::vector<gm_shape> layout_shapes(const l720_model_cfg *c)
{
    size_t d = (size_t)c->d_model, V = (size_t)c->vocab, H = (size_t)c->ffn_hidden;
    std::vector<gm_shape> s;
    s.push_back({V, d, 0, 0});
    for (int l = 0; l < c->n_layers; l++) {
        const l720_ffn_spec *f = &c->ffn[l];
        s.push_back({1, d, 0, 1});
        s.push_back({3 * d, d, 0, 0});
        s.push_back({d, d, 0, 0});
        s.push_back({1, d, 0, 1});
        if (f->kind == L720_FFN_DENSE) {
            s.push_back({H, d, 0, 0});
            s.push_back({H, d, 0, 0});
            s.push_back({d, H, 0, 0});
        } else if (f->kind == L720_FFN_MOE) {
            size_t E = (size_t)f->n_experts;
            s.push_back({E, d, 0, 0});
            s.push_back({E * H, d, 0, 0});
            s.push_back({E * H, d, 0, 0});
            s.push_back({E * d, H, 0, 0});
        } else {
            size_t n = (size_t)isqrt_exact(f->n_experts), hd = (size_t)f->heads * f->d_key;
            s.push_back({hd, d, 0, 0});
            s.push_back({1, hd, 0, 1});
            s.push_back({1, hd, 0, 1});
            s.push_back({(size_t)f->heads * 2 * n, (size_t)f->d_key / 2, 0, 0});
            s.push_back({n * n, d, 1, 0});
            s.push_back({n * n, d, 1, 0});
        }
    }
    s.push_back({1, d, 0, 1});
    s.push_back({V, d, 0, 0});
    return s;
}

/* Offsets of the named blocks, the runs of non-sparse tensors, the counts. */
static void layout(l720_gpu_model *m)
{
    const l720_model_cfg *c = &m->c;
    std::vector<gm_shape> s = layout_shapes(c);
    std::vector<size_t> off(s.size());
    size_t o = 0;
    for (size_t i = 0; i < s.size(); i++) {
        off[i] = o;
        o += s[i].rows * s[i].cols;
        /* gradients the backward sums into: the embedding rows (only those of
         * tokens that occur are written) and the norm gains (+=); every other
         * gradient is written whole by its product or kernel */
        if (i == 0 || s[i].no_decay) {
            if (!m->zero_runs.empty() && m->zero_runs.back().first + m->zero_runs.back().second == off[i])
                m->zero_runs.back().second += s[i].rows * s[i].cols;
            else
                m->zero_runs.push_back(std::make_pair(off[i], s[i].rows * s[i].cols));
        }
        if (!s[i].sparse) {
            int decay = !s[i].no_decay;
            if (!m->runs.empty() && m->runs.back().off + m->runs.back().len == off[i] &&
                m->runs.back().decay == decay)
                m->runs.back().len += s[i].rows * s[i].cols;
            else
                m->runs.push_back({off[i], s[i].rows * s[i].cols, decay});
        }
    }
    m->np = o;
    m->L.assign(c->n_layers, gm_layer());
    size_t i = 0;
    m->o_embed = off[i++];
    for (int l = 0; l < c->n_layers; l++) {
        gm_layer *L = &m->L[l];
        const l720_ffn_spec *f = &c->ffn[l];
        L->kind = f->kind;
        L->o_an = off[i++];
        L->o_wqkv = off[i++];
        L->o_wo = off[i++];
        L->o_fn = off[i++];
        L->o_ffn = off[i];
        if (f->kind == L720_FFN_DENSE) {
            m->has_dense = 1;
            i += 3;
        } else if (f->kind == L720_FFN_MOE) {
            m->has_moe = 1;
            L->E = f->n_experts;
            i += 4;
        } else {
            m->has_peer = 1;
            L->pn = isqrt_exact(f->n_experts);
            L->ph = f->heads;
            L->pk = f->topk;
            L->pdk = f->d_key;
            L->o_u = off[i + 4];
            L->o_v = off[i + 5];
            L->buf_off = m->nbuf;
            m->nbuf += 2 * (size_t)L->ph * L->pdk;
            i += 6;
        }
    }
    m->o_final = off[i++];
    m->o_head = off[i++];
    size_t nc = 0;
    for (const gm_run &r : m->runs)
        nc += (r.len + GM_NORM_CHUNK - 1) / GM_NORM_CHUNK;
    m->n_chunks = (int)nc;
    m->flash = l720_flash_attn_supported(c->d_model / c->n_heads);
}

static int check_tensors(const l720_gpu_model *m, const l720_tensor *ts, int nt, l720_err *err)
{
    if (!ts)
        return L720_OK; /* the documented layout, unchecked (benchmarks) */
    std::vector<gm_shape> s = layout_shapes(&m->c);
    if (nt != (int)s.size())
        return l720_err_set(err, L720_EINPUT, "gpu model: %d tensors, the configuration has %zu",
                            nt, s.size());
    size_t o = 0;
    for (int i = 0; i < nt; i++) {
        if (ts[i].offset != o || ts[i].rows != s[i].rows || ts[i].cols != s[i].cols ||
            ts[i].sparse_rows != s[i].sparse || ts[i].no_decay != s[i].no_decay)
            return l720_err_set(err, L720_EINPUT,
                                "gpu model: tensor %d (%s) is [%zu, %zu] at %zu, expected [%zu, "
                                "%zu] at %zu",
                                i, ts[i].name, ts[i].rows, ts[i].cols, ts[i].offset, s[i].rows,
                                s[i].cols, o);
        o += s[i].rows * s[i].cols;
    }
    return L720_OK;
}

/* ---- memory ---- */

template <typename T>
static int alloc(l720_gpu_model *m, T **p, size_t n, int scratch, l720_err *err)
{
    size_t bytes = (n ? n : 1) * sizeof(T);
    if (m->dry) {
        m->need += (bytes + 511) / 512 * 512;
        *p = NULL;
        return L720_OK;
    }
    void *q = NULL;
    cudaError_t e = cudaMalloc(&q, bytes);
    if (e != cudaSuccess)
        return l720_err_set(err, L720_EFAIL, "gpu model: %zu bytes: %s", bytes,
                            cudaGetErrorString(e));
    m->allocs.push_back(q);
    if (scratch)
        m->scratch.push_back(std::make_pair(q, bytes));
    *p = (T *)q;
    return L720_OK;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

static l720_peer_dims peer_dims(const l720_gpu_model *m, const gm_layer *L)
{
    l720_peer_dims pd = {m->max_N, m->c.d_model, L->pn, L->ph, L->pk, L->pdk};
    return pd;
}

/* Every device allocation, in one place: counted (dry) or made. */
static int plan(l720_gpu_model *m, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    size_t N = (size_t)m->max_N, d = (size_t)c->d_model, H = (size_t)c->ffn_hidden,
           T = (size_t)c->seq_len, NH = (size_t)c->n_heads, Vp = (size_t)m->Vp,
           B = (size_t)m->max_batch, np = m->np;
    TRY(alloc(m, &m->p, np, 0, err));
    TRY(alloc(m, &m->grad, np + m->head_pad, 1, err));
    TRY(alloc(m, &m->m, np, 0, err));
    TRY(alloc(m, &m->v, np, 0, err));
    TRY(alloc(m, &m->pbf, np + m->head_pad, 0, err));
    TRY(alloc(m, &m->buf, m->nbuf, 0, err));
    for (gm_layer &l : m->L) {
        TRY(alloc(m, &l.resid, N * d, 1, err));
        TRY(alloc(m, &l.rstd1, N, 1, err));
        TRY(alloc(m, &l.resid_mid, N * d, 1, err));
        TRY(alloc(m, &l.rstd2, N, 1, err));
        TRY(alloc(m, &l.ln1, N * d, 1, err));
        TRY(alloc(m, &l.qkvbf, N * 3 * d, 1, err));
        if (m->flash)
            TRY(alloc(m, &l.lse, B * NH * T, 1, err));
        else
            TRY(alloc(m, &l.P, B * NH * T * T, 1, err));
        TRY(alloc(m, &l.attybf, N * d, 1, err));
        TRY(alloc(m, &l.ln2, N * d, 1, err));
        if (l.kind == L720_FFN_DENSE) {
            TRY(alloc(m, &l.h13, N * 2 * H, 1, err));
            TRY(alloc(m, &l.act, N * H, 1, err));
        } else if (l.kind == L720_FFN_MOE) {
            if (m->dry)
                m->need += l720_moe_gpu_workspace_bytes(m->max_N, (int)d, (int)H, l.E);
        } else {
            size_t rows = (size_t)l.pn * l.pn; /* the union over micro-batches: any row */
            TRY(alloc(m, &l.touched, rows, 0, err));
            if (m->dry) {
                l720_peer_dims pd = peer_dims(m, &l);
                m->need += l720_peer_gpu_workspace_bytes(&pd) + GM_GEMM_WS;
            }
        }
    }
    TRY(alloc(m, &m->x_out, N * d, 1, err));
    TRY(alloc(m, &m->rstdf, N, 1, err));
    TRY(alloc(m, &m->logits, N * Vp, 1, err));
    TRY(alloc(m, &m->loss_rows, N, 1, err));
    TRY(alloc(m, &m->qkv, N * 3 * d, 1, err));
    TRY(alloc(m, &m->y, N * d, 1, err));
    if (m->flash)
        TRY(alloc(m, &m->dsum, B * NH * T, 1, err));
    else
        TRY(alloc(m, &m->S, NH * T * T, 1, err));
    TRY(alloc(m, &m->dresid, N * d, 1, err));
    TRY(alloc(m, &m->dln, N * d, 1, err));
    TRY(alloc(m, &m->dqkv, N * 3 * d, 1, err));
    TRY(alloc(m, &m->part, l720_dense_rmsnorm_part_len((int)N, (int)d), 1, err));
    TRY(alloc(m, &m->cosb, T * d / NH / 2, 0, err));
    TRY(alloc(m, &m->sinb, T * d / NH / 2, 0, err));
    TRY(alloc(m, &m->lnf, N * d, 1, err));
    if (!m->flash)
        TRY(alloc(m, &m->dS, NH * T * T, 1, err));
    TRY(alloc(m, &m->dresbf, N * d, 1, err));
    TRY(alloc(m, &m->dattybf, N * d, 1, err));
    TRY(alloc(m, &m->dqkvbf, N * 3 * d, 1, err));
    if (m->has_dense) {
        TRY(alloc(m, &m->dact, N * H, 1, err));
        TRY(alloc(m, &m->dh13, N * 2 * H, 1, err));
    }
    if (m->has_peer) {
        TRY(alloc(m, &m->ffn16, N * d, 1, err));
    }
    TRY(alloc(m, &m->tok, N, 0, err));
    TRY(alloc(m, &m->tgt, N, 0, err));
    TRY(alloc(m, &m->order, N, 0, err));
    TRY(alloc(m, &m->run_start, N + 1, 0, err));
    TRY(alloc(m, &m->run_tok, N, 0, err));
    size_t npart = (size_t)m->n_chunks;
    for (const gm_layer &l : m->L)
        if (l.kind == L720_FFN_PEER)
            npart += 2 * (size_t)l.pn * l.pn;
    m->n_norm_part = npart;
    TRY(alloc(m, &m->norm_part, npart + 1, 0, err));
    TRY(alloc(m, &m->chunk_off, (size_t)m->n_chunks, 0, err));
    TRY(alloc(m, &m->chunk_len, (size_t)m->n_chunks, 0, err));
    if (m->dry)
        m->need += GM_GEMM_WS + GM_SLACK;
    return L720_OK;
}

static l720_gpu_model *model_shell(const l720_model_cfg *cfg, int max_batch)
{
    l720_gpu_model *m = new l720_gpu_model();
    m->c = *cfg;
    m->max_batch = max_batch;
    m->max_N = max_batch * cfg->seq_len;
    m->Vp = (cfg->vocab + 63) / 64 * 64;
    m->head_pad = (size_t)(m->Vp - cfg->vocab) * (size_t)cfg->d_model;
    layout(m);
    m->dry = 1;
    l720_err e;
    plan(m, &e);
    m->dry = 0;
    return m;
}

extern "C" size_t l720_gpu_model_bytes(const l720_model_cfg *cfg, int max_batch)
{
    l720_gpu_model *m = model_shell(cfg, max_batch);
    size_t need = m->need;
    delete m;
    return need;
}

extern "C" void l720_gpu_model_free(l720_gpu_model *m)
{
    if (!m)
        return;
    for (gm_layer &l : m->L) {
        l720_peer_gpu_free(l.peer);
        l720_moe_gpu_free(l.moe);
    }
    for (void *q : m->allocs)
        cudaFree(q);
    l720_gemm_free(m->g);
    if (m->st)
        cudaStreamDestroy(m->st);
    delete m;
}

/* Zeroes the state and the gradients, uploads the norm chunks, builds the
 * per-layer workspaces. */
static int setup(l720_gpu_model *m, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    GPU_CK(cudaStreamCreateWithFlags(&m->st, cudaStreamNonBlocking));
    m->g = l720_gemm_new(err);
    if (!m->g)
        return err->code;
    TRY(plan(m, err));
    for (gm_layer &l : m->L) {
        if (l.kind == L720_FFN_PEER) {
            l720_peer_dims pd = peer_dims(m, &l);
            l.peer = l720_peer_gpu_new(&pd, err);
            if (!l.peer)
                return err->code;
        } else if (l.kind == L720_FFN_MOE) {
            if (l.o_ffn % 8) /* the layer's vector loads need 16-byte aligned weights */
                return l720_err_set(err, L720_EINPUT,
                                    "gpu model: the MoE tensors of a layer start at float %zu, "
                                    "the GPU layer needs a multiple of 8 (change d_key or heads "
                                    "of an earlier PEER layer)", l.o_ffn);
            l.moe = l720_moe_gpu_new(m->max_N, c->d_model, c->ffn_hidden, l.E, err);
            if (!l.moe)
                return err->code;
        }
    }
    for (float *z : {m->p, m->grad, m->m, m->v})
        GPU_CK(cudaMemsetAsync(z, 0, m->np * sizeof(float), m->st));
    GPU_CK(cudaMemsetAsync(m->pbf, 0, (m->np + m->head_pad) * sizeof(uint16_t), m->st));
    GPU_CK(cudaMemsetAsync(m->buf, 0, (m->nbuf ? m->nbuf : 1) * sizeof(float), m->st));
    std::vector<size_t> co, cl;
    for (const gm_run &r : m->runs)
        for (size_t o = 0; o < r.len; o += GM_NORM_CHUNK) {
            co.push_back(r.off + o);
            cl.push_back(r.len - o < GM_NORM_CHUNK ? r.len - o : GM_NORM_CHUNK);
        }
    GPU_CK(cudaMemcpyAsync(m->chunk_off, co.data(), co.size() * sizeof(size_t),
                           cudaMemcpyHostToDevice, m->st));
    GPU_CK(cudaMemcpyAsync(m->chunk_len, cl.data(), cl.size() * sizeof(size_t),
                           cudaMemcpyHostToDevice, m->st));
    TRY(l720_dense_rope_table(m->cosb, m->sinb, c->seq_len, c->d_model / c->n_heads,
                              c->rope_theta, m->st, err));
    m->h_order.resize(m->max_N);
    m->h_run_start.resize(m->max_N + 1);
    m->h_run_tok.resize(m->max_N);
    m->h_count.resize(c->vocab);
    m->h_loss.resize(m->max_N);
    m->full_clear = 1;
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

extern "C" l720_gpu_model *l720_gpu_model_new(const l720_model_cfg *cfg, const l720_tensor *ts,
                                              int nt, int max_batch, l720_err *err)
{
    if (max_batch < 1) {
        l720_err_set(err, L720_EINPUT, "gpu model: max_batch %d, expected >= 1", max_batch);
        return NULL;
    }
    if ((long)max_batch * cfg->seq_len > 0x7fffffffL / 64) {
        l720_err_set(err, L720_EINPUT, "gpu model: max_batch x seq_len = %ld tokens is too many",
                     (long)max_batch * cfg->seq_len);
        return NULL;
    }
    l720_gpu_model *m = model_shell(cfg, max_batch);
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        l720_err_set(err, L720_EFAIL, "gpu model: no usable CUDA device");
        delete m;
        return NULL;
    }
    if (m->need > free_b) {
        l720_err_set(err, L720_EINPUT,
                     "gpu model: needs %zu bytes of GPU memory (%.2f GiB), %zu free (%.2f GiB)",
                     m->need, m->need / 1073741824.0, free_b, free_b / 1073741824.0);
        delete m;
        return NULL;
    }
    m->need = 0;
    if (check_tensors(m, ts, nt, err)) {
        delete m;
        return NULL;
    }
    if (setup(m, err)) {
        l720_gpu_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- state ---- */

extern "C" int l720_gpu_model_set_state(l720_gpu_model *m, const float *params,
                                        const float *buffers, const float *m_adam,
                                        const float *v_adam, uint64_t step, l720_err *err)
{
    size_t nb = m->np * sizeof(float);
    GPU_CK(cudaMemcpyAsync(m->p, params, nb, cudaMemcpyHostToDevice, m->st));
    TRY(l720_dense_to_bf16(m->pbf, m->p, m->np, m->st, err));
    if (m_adam)
        GPU_CK(cudaMemcpyAsync(m->m, m_adam, nb, cudaMemcpyHostToDevice, m->st));
    else
        GPU_CK(cudaMemsetAsync(m->m, 0, nb, m->st));
    if (v_adam)
        GPU_CK(cudaMemcpyAsync(m->v, v_adam, nb, cudaMemcpyHostToDevice, m->st));
    else
        GPU_CK(cudaMemsetAsync(m->v, 0, nb, m->st));
    if (m->nbuf) {
        if (buffers)
            GPU_CK(cudaMemcpyAsync(m->buf, buffers, m->nbuf * sizeof(float),
                                   cudaMemcpyHostToDevice, m->st));
        else
            return l720_err_set(err, L720_EINPUT, "gpu model: set_state needs the %zu buffer "
                                "floats (PEER BatchNorm statistics)", m->nbuf);
    }
    m->t = step;
    m->backward_done = 0;
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

extern "C" int l720_gpu_model_get_state(l720_gpu_model *m, float *params, float *buffers,
                                        float *m_adam, float *v_adam, l720_err *err)
{
    size_t nb = m->np * sizeof(float);
    if (params)
        GPU_CK(cudaMemcpyAsync(params, m->p, nb, cudaMemcpyDeviceToHost, m->st));
    if (m_adam)
        GPU_CK(cudaMemcpyAsync(m_adam, m->m, nb, cudaMemcpyDeviceToHost, m->st));
    if (v_adam)
        GPU_CK(cudaMemcpyAsync(v_adam, m->v, nb, cudaMemcpyDeviceToHost, m->st));
    if (buffers && m->nbuf)
        GPU_CK(cudaMemcpyAsync(buffers, m->buf, m->nbuf * sizeof(float), cudaMemcpyDeviceToHost,
                               m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

extern "C" int l720_gpu_model_get_grads(l720_gpu_model *m, float *grads, l720_err *err)
{
    GPU_CK(cudaMemcpyAsync(grads, m->grad, m->np * sizeof(float), cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

extern "C" int l720_gpu_model_poison(l720_gpu_model *m, l720_err *err)
{
    for (auto &s : m->scratch)
        GPU_CK(cudaMemsetAsync(s.first, 0xff, s.second, m->st));
    m->full_clear = 1;
    m->backward_done = 0;
    GPU_CK(cudaStreamSynchronize(m->st));
    return L720_OK;
}

extern "C" void *l720_gpu_model_stream(l720_gpu_model *m) { return m->st; }
extern "C" l720_gemm *l720_gpu_model_gemm(l720_gpu_model *m) { return m->g; }
extern "C" uint64_t l720_gpu_model_steps(const l720_gpu_model *m) { return m->t; }

extern "C" int l720_gpu_model_routing(l720_gpu_model *m, int layer, int32_t *ids, int *per_token,
                                      l720_err *err)
{
    if (layer < 0 || layer >= m->c.n_layers || m->L[layer].kind == L720_FFN_DENSE)
        return l720_err_set(err, L720_EINPUT, "gpu model: layer %d has no routing", layer);
    const gm_layer *L = &m->L[layer];
    size_t N = (size_t)m->B * m->T;
    int pt = L->kind == L720_FFN_MOE ? 1 : L->ph * L->pk;
    const int32_t *src = L->kind == L720_FFN_MOE ? l720_moe_gpu_expert(L->moe)
                                                 : l720_peer_gpu_ids(L->peer);
    GPU_CK(cudaMemcpyAsync(ids, src, N * pt * sizeof(int32_t), cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    *per_token = pt;
    return L720_OK;
}

/* ---- forward / backward entry points ---- */

extern "C" int l720_gpu_model_forward(l720_gpu_model *m, const int32_t *tokens,
                                      const int32_t *targets, int B, int T, int training,
                                      l720_forward_out *out, l720_err *err)
{
    const l720_model_cfg *c = &m->c;
    if (B < 1 || B > m->max_batch)
        return l720_err_set(err, L720_EINPUT, "gpu model: batch %d, expected 1..%d", B,
                            m->max_batch);
    if (T < 1 || T > c->seq_len)
        return l720_err_set(err, L720_EINPUT, "gpu model: seq_len %d, expected 1..%d", T,
                            c->seq_len);
    if (training && m->has_peer && B * T < 2)
        return l720_err_set(err, L720_EINPUT, "gpu model: PEER training needs >= 2 tokens");
    int N = B * T;
    size_t cnt = 0;
    for (int i = 0; i < N; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return l720_err_set(err, L720_EINPUT,
                                "gpu model: token %d at position %d is outside 0..%d", tokens[i],
                                i, c->vocab - 1);
        if (targets && targets[i] >= c->vocab)
            return l720_err_set(err, L720_EINPUT,
                                "gpu model: target %d at position %d is outside 0..%d (or < 0: "
                                "ignored)", targets[i], i, c->vocab - 1);
        cnt += targets && targets[i] >= 0;
    }
    m->B = B;
    m->T = T;
    m->training = training;
    m->have_targets = targets != NULL;
    m->n_targets = cnt;
    m->n_runs_tok = l720_dense_embed_order(tokens, N, c->vocab, m->h_order.data(),
                                           m->h_run_start.data(), m->h_run_tok.data(),
                                           m->h_count.data());
    GPU_CK(cudaMemcpyAsync(m->tok, tokens, N * sizeof(int32_t), cudaMemcpyHostToDevice, m->st));
    if (targets)
        GPU_CK(cudaMemcpyAsync(m->tgt, targets, N * sizeof(int32_t), cudaMemcpyHostToDevice,
                               m->st));
    else
        GPU_CK(cudaMemsetAsync(m->tgt, 0xff, N * sizeof(int32_t), m->st)); /* -1: no target */
    GPU_CK(cudaMemcpyAsync(m->order, m->h_order.data(), N * sizeof(int32_t),
                           cudaMemcpyHostToDevice, m->st));
    GPU_CK(cudaMemcpyAsync(m->run_start, m->h_run_start.data(),
                           (m->n_runs_tok + 1) * sizeof(int32_t), cudaMemcpyHostToDevice, m->st));
    GPU_CK(cudaMemcpyAsync(m->run_tok, m->h_run_tok.data(), m->n_runs_tok * sizeof(int32_t),
                           cudaMemcpyHostToDevice, m->st));
    TRY(gm_forward(m, B, T, training, err));
    /* loss: per-row values summed in row order on the host; aux from the MoE layers */
    GPU_CK(cudaMemcpyAsync(m->h_loss.data(), m->loss_rows, N * sizeof(float),
                           cudaMemcpyDeviceToHost, m->st));
    std::vector<float> aux(2 * c->n_layers, 0.0f);
    for (int l = 0; l < c->n_layers; l++)
        if (m->L[l].kind == L720_FFN_MOE)
            GPU_CK(cudaMemcpyAsync(&aux[2 * l], l720_moe_gpu_aux(m->L[l].moe), 2 * sizeof(float),
                                   cudaMemcpyDeviceToHost, m->st));
    GPU_CK(cudaStreamSynchronize(m->st));
    double sum = 0.0, a = 0.0;
    for (int i = 0; i < N; i++)
        sum += m->h_loss[i];
    for (int l = 0; l < c->n_layers; l++)
        if (m->L[l].kind == L720_FFN_MOE)
            a += c->balance_coef * (double)aux[2 * l] + c->zloss_coef * (double)aux[2 * l + 1];
    if (out) {
        out->loss = cnt ? sum / (double)cnt : 0.0;
        out->aux_loss = a;
    }
    return L720_OK;
}

extern "C" int l720_gpu_model_backward(l720_gpu_model *m, l720_err *err)
{
    if (!m->training || !m->have_targets)
        return l720_err_set(err, L720_EINPUT,
                            "gpu model: backward needs a training forward with targets first");
    m->acc_beta = 0.0f;
    TRY(gm_backward(m, err));
    m->backward_done = 1;
    return L720_OK;
}

extern "C" int l720_gpu_model_backward_add(l720_gpu_model *m, l720_err *err)
{
    if (!m->training || !m->have_targets)
        return l720_err_set(err, L720_EINPUT,
                            "gpu model: backward_add needs a training forward with targets first");
    if (!m->backward_done)
        return l720_err_set(err, L720_EINPUT,
                            "gpu model: backward_add needs a backward first (gradients to add to)");
    m->acc_beta = 1.0f;
    int rc = gm_backward(m, err);
    m->acc_beta = 0.0f;
    return rc;
}
