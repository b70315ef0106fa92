/* model.c: configuration checks, the parameter layout (named tensors in one
 * allocation), initialisation, counts and expert statistics. The forward and
 * backward passes are in model_pass.c.
 *
 * Parameter layout, in this order (rows x cols):
 *   embed [V, d]
 *   per layer L: layerL.attn_norm [1, d], layerL.attn.wqkv [3d, d] (q, k, v rows),
 *     layerL.attn.wo [d, d], layerL.ffn_norm [1, d], then the FFN:
 *     dense: layerL.ffn.w1 [H, d], layerL.ffn.w3 [H, d], layerL.ffn.w2 [d, H]
 *     moe:   layerL.moe.router [E, d], layerL.moe.w1 [E·H, d], layerL.moe.w3 [E·H, d],
 *            layerL.moe.w2 [E·d, H]
 *     peer:  layerL.peer.wq [h·dk, d], layerL.peer.bn_gamma [1, h·dk],
 *            layerL.peer.bn_beta [1, h·dk], layerL.peer.keys [h·2·n, dk/2]
 *            (head j: first-half sub-keys, then second-half ones),
 *            layerL.peer.u [n², d] (sparse rows), layerL.peer.v [n², d] (sparse rows)
 *   final_norm [1, d], lm_head [V, d]
 * Buffers (not trained): per PEER layer, running mean [h·dk] then running
 * variance [h·dk], in layer order.
 */
#include "model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rope.h"
#include "trng.h"

static int isqrt_exact(int N)
{
    int n = (int)floor(sqrt((double)N) + 0.5);
    return n * n == N ? n : -1;
}

int l720_model_cfg_check(l720_model_cfg *cfg, l720_err *err)
{
#define BAD(field, ...) return l720_err_at(err, L720_EINPUT, NULL, 0, field, __VA_ARGS__)
    if (cfg->vocab < 1)
        BAD("vocab", "must be >= 1, got %d", cfg->vocab);
    if (cfg->d_model < 1)
        BAD("d_model", "must be >= 1, got %d", cfg->d_model);
    if (cfg->n_layers < 1 || cfg->n_layers > L720_MAX_LAYERS)
        BAD("n_layers", "must be in 1..%d, got %d", L720_MAX_LAYERS, cfg->n_layers);
    if (cfg->n_heads < 1)
        BAD("n_heads", "must be >= 1, got %d", cfg->n_heads);
    if (cfg->d_model % cfg->n_heads != 0)
        BAD("n_heads", "d_model %d is not divisible by n_heads %d", cfg->d_model, cfg->n_heads);
    if ((cfg->d_model / cfg->n_heads) % 2 != 0)
        BAD("n_heads", "head size d_model/n_heads = %d must be even (RoPE)",
            cfg->d_model / cfg->n_heads);
    if (cfg->seq_len < 1)
        BAD("seq_len", "must be >= 1, got %d", cfg->seq_len);
    if (cfg->ffn_hidden < 0)
        BAD("ffn_hidden", "must be >= 0 (0: 3 x d_model), got %d", cfg->ffn_hidden);
    if (cfg->ffn_hidden == 0)
        cfg->ffn_hidden = 3 * cfg->d_model;
    if (cfg->capacity_factor < 0)
        BAD("capacity_factor", "must be > 0 (0: 1.25), got %g", cfg->capacity_factor);
    if (cfg->capacity_factor == 0)
        cfg->capacity_factor = 1.25f;
    if (cfg->balance_coef < 0)
        BAD("balance_coef", "must be >= 0 (0: 0.01), got %g", cfg->balance_coef);
    if (cfg->balance_coef == 0)
        cfg->balance_coef = 0.01f;
    if (cfg->zloss_coef < 0)
        BAD("zloss_coef", "must be >= 0 (0: 0.001), got %g", cfg->zloss_coef);
    if (cfg->zloss_coef == 0)
        cfg->zloss_coef = 0.001f;
    if (cfg->bn_momentum < 0 || cfg->bn_momentum > 1)
        BAD("bn_momentum", "must be in [0, 1] (0: 0.1), got %g", cfg->bn_momentum);
    if (cfg->bn_momentum == 0)
        cfg->bn_momentum = 0.1f;
    if (cfg->rope_theta < 0)
        BAD("rope_theta", "must be > 0 (0: 10000), got %g", cfg->rope_theta);
    if (cfg->rope_theta == 0)
        cfg->rope_theta = 10000.0f;
    for (int l = 0; l < cfg->n_layers; l++) {
        l720_ffn_spec *f = &cfg->ffn[l];
        char field[64];
        switch (f->kind) {
        case L720_FFN_DENSE:
            break;
        case L720_FFN_MOE:
            snprintf(field, sizeof field, "ffn[%d].n_experts", l);
            if (f->n_experts < 1)
                BAD(field, "MoE needs >= 1 experts, got %d", f->n_experts);
            snprintf(field, sizeof field, "ffn[%d].topk", l);
            if (f->topk == 0)
                f->topk = 1;
            if (f->topk != 1)
                BAD(field, "Switch MoE routes top-1, got %d", f->topk);
            break;
        case L720_FFN_PEER: {
            snprintf(field, sizeof field, "ffn[%d].n_experts", l);
            int n = f->n_experts >= 1 ? isqrt_exact(f->n_experts) : -1;
            if (n < 1)
                BAD(field, "PEER needs a perfect square number of experts n*n, got %d",
                    f->n_experts);
            snprintf(field, sizeof field, "ffn[%d].heads", l);
            if (f->heads < 1)
                BAD(field, "must be >= 1, got %d", f->heads);
            snprintf(field, sizeof field, "ffn[%d].topk", l);
            if (f->topk < 1 || f->topk > n)
                BAD(field, "top-k must be in 1..n = %d (sqrt of n_experts), got %d", n, f->topk);
            snprintf(field, sizeof field, "ffn[%d].d_key", l);
            if (f->d_key < 0)
                BAD(field, "must be >= 0 (0: d_model/2), got %d", f->d_key);
            if (f->d_key == 0)
                f->d_key = cfg->d_model / 2;
            if (f->d_key < 2 || f->d_key % 2 != 0)
                BAD(field, "query size d_key must be even and >= 2, got %d", f->d_key);
            break;
        }
        default:
            snprintf(field, sizeof field, "ffn[%d].kind", l);
            BAD(field, "unknown FFN kind %d (0 dense, 1 moe, 2 peer)", (int)f->kind);
        }
    }
    return L720_OK;
#undef BAD
}

/* ---- tensors ---------------------------------------------------------- */

static int add_tensor(l720_model *m, int *cap, const char *name, size_t rows, size_t cols,
                      int sparse_rows, int no_decay)
{
    if (m->n_tensors == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        m->tensors = realloc(m->tensors, sizeof(l720_tensor) * (size_t)*cap);
    }
    l720_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = m->n_params;
    t->rows = rows;
    t->cols = cols;
    t->sparse_rows = sparse_rows;
    t->no_decay = no_decay;
    m->n_params += rows * cols;
    return m->n_tensors++;
}

static void layout(l720_model *m)
{
    const l720_model_cfg *c = &m->cfg;
    size_t d = (size_t)c->d_model, V = (size_t)c->vocab, H = (size_t)c->ffn_hidden;
    int cap = 0;
    char nm[48];
    m->t_embed = add_tensor(m, &cap, "embed", V, d, 0, 0);
    for (int l = 0; l < c->n_layers; l++) {
        l720_layer *L = &m->layer[l];
        const l720_ffn_spec *f = &c->ffn[l];
#define T(suffix, r, cl, sp, nd) \
    (snprintf(nm, sizeof nm, "layer%d.%s", l, suffix), add_tensor(m, &cap, nm, r, cl, sp, nd))
        L->t_attn_norm = T("attn_norm", 1, d, 0, 1);
        L->t_wqkv = T("attn.wqkv", 3 * d, d, 0, 0);
        L->t_wo = T("attn.wo", d, d, 0, 0);
        L->t_ffn_norm = T("ffn_norm", 1, d, 0, 1);
        if (f->kind == L720_FFN_DENSE) {
            L->t_ffn = T("ffn.w1", H, d, 0, 0);
            T("ffn.w3", H, d, 0, 0);
            T("ffn.w2", d, H, 0, 0);
        } else if (f->kind == L720_FFN_MOE) {
            size_t E = (size_t)f->n_experts;
            L->t_ffn = T("moe.router", E, d, 0, 0);
            T("moe.w1", E * H, d, 0, 0);
            T("moe.w3", E * H, d, 0, 0);
            T("moe.w2", E * d, H, 0, 0);
        } else {
            size_t n = (size_t)isqrt_exact(f->n_experts), h = (size_t)f->heads;
            size_t dk = (size_t)f->d_key;
            L->t_ffn = T("peer.wq", h * dk, d, 0, 0);
            T("peer.bn_gamma", 1, h * dk, 0, 1);
            T("peer.bn_beta", 1, h * dk, 0, 1);
            T("peer.keys", h * 2 * n, dk / 2, 0, 0);
            T("peer.u", n * n, d, 1, 0);
            T("peer.v", n * n, d, 1, 0);
            L->buf_off = m->n_buffers;
            m->n_buffers += 2 * h * dk;
        }
#undef T
    }
    m->t_final_norm = add_tensor(m, &cap, "final_norm", 1, d, 0, 1);
    m->t_lm_head = add_tensor(m, &cap, "lm_head", V, d, 0, 0);
}

/* Standard deviation of each tensor's initial values (norms: all ones).
 * GPT-2 style: 0.02, residual projections scaled by 1/sqrt(2 n_layers).
 * PEER: u ~ 1/sqrt(d) so that u·x of a normalised x is O(1); sub-keys ~
 * 1/sqrt(dk/2) so that scores of unit-variance queries are O(1). */
static double init_std(const l720_model *m, int t)
{
    const l720_tensor *T = &m->tensors[t];
    const char *dot = strchr(T->name, '.');
    const char *s = dot ? dot + 1 : T->name;
    double resid = 0.02 / sqrt(2.0 * m->cfg.n_layers);
    if (!strcmp(s, "peer.bn_beta"))
        return 0; /* zeros */
    if (T->no_decay)
        return -1; /* ones */
    if (!strcmp(s, "attn.wo") || !strcmp(s, "ffn.w2") || !strcmp(s, "moe.w2") ||
        !strcmp(s, "peer.v"))
        return resid;
    if (!strcmp(s, "peer.u"))
        return 1.0 / sqrt((double)m->cfg.d_model);
    if (!strcmp(s, "peer.keys"))
        return 1.0 / sqrt((double)T->cols);
    return 0.02;
}

static void init_params(l720_model *m, uint64_t seed)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const l720_tensor *T = &m->tensors[t];
        float *p = m->params + T->offset;
        size_t n = T->rows * T->cols;
        double sd = init_std(m, t);
        uint64_t st = l720_trng_stream(seed, (uint64_t)t);
        for (size_t i = 0; i < n; i++)
            p[i] = sd < 0 ? 1.0f : (float)(sd * l720_trng_normal(&st));
    }
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const l720_ffn_spec *f = &m->cfg.ffn[l];
        if (f->kind != L720_FFN_PEER)
            continue;
        size_t hd = (size_t)f->heads * (size_t)f->d_key;
        for (size_t i = 0; i < hd; i++) {
            m->buffers[m->layer[l].buf_off + i] = 0.0f;      /* running mean */
            m->buffers[m->layer[l].buf_off + hd + i] = 1.0f; /* running variance */
        }
    }
}

/* ---- allocation ------------------------------------------------------- */

static float *fzalloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

l720_model *l720_model_new(const l720_model_cfg *cfg_in, int max_batch, uint64_t seed,
                           l720_err *err)
{
    l720_model_cfg cfg = *cfg_in;
    if (l720_model_cfg_check(&cfg, err))
        return NULL;
    if (max_batch < 1) {
        l720_err_at(err, L720_EINPUT, NULL, 0, "max_batch", "must be >= 1, got %d", max_batch);
        return NULL;
    }
    l720_model *m = calloc(1, sizeof *m);
    m->cfg = cfg;
    m->max_batch = max_batch;
    size_t N = (size_t)max_batch * (size_t)cfg.seq_len;
    size_t d = (size_t)cfg.d_model, V = (size_t)cfg.vocab, H = (size_t)cfg.ffn_hidden;
    m->max_tokens = N;
    layout(m);
    m->params = fzalloc(m->n_params);
    m->grads = fzalloc(m->n_params);
    m->buffers = fzalloc(m->n_buffers);
    m->touched = calloc((size_t)m->n_tensors, sizeof(uint8_t *));
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].sparse_rows)
            m->touched[t] = calloc(m->tensors[t].rows, 1);
    init_params(m, seed);

    int hs = cfg.d_model / cfg.n_heads;
    m->rope_cos = fzalloc((size_t)cfg.seq_len * (size_t)(hs / 2));
    m->rope_sin = fzalloc((size_t)cfg.seq_len * (size_t)(hs / 2));
    l720_rope_table(m->rope_cos, m->rope_sin, cfg.seq_len, hs, cfg.rope_theta);

    for (int l = 0; l < cfg.n_layers; l++) {
        l720_layer *L = &m->layer[l];
        const l720_ffn_spec *f = &cfg.ffn[l];
        L->resid = fzalloc(N * d);
        L->ln1 = fzalloc(N * d);
        L->ln1_rstd = fzalloc(N);
        L->qkv = fzalloc(N * 3 * d);
        L->att_lse = fzalloc(N * (size_t)cfg.n_heads);
        L->atty = fzalloc(N * d);
        L->resid_mid = fzalloc(N * d);
        L->ln2 = fzalloc(N * d);
        L->ln2_rstd = fzalloc(N);
        if (f->kind == L720_FFN_DENSE) {
            L->h1 = fzalloc(N * H);
            L->h3 = fzalloc(N * H);
            L->act = fzalloc(N * H);
        } else if (f->kind == L720_FFN_MOE) {
            L->moe = l720_moe_new(N, cfg.d_model, cfg.ffn_hidden, f->n_experts);
            L->per_token = 1;
        } else {
            L->peer = l720_peer_new(N, cfg.d_model, isqrt_exact(f->n_experts), f->heads,
                                    f->topk, f->d_key);
            L->per_token = f->heads * f->topk;
        }
        if (L->per_token) {
            L->usage = calloc((size_t)f->n_experts, sizeof(double));
            L->routing = calloc(N * (size_t)L->per_token, sizeof(int32_t));
        }
    }
    m->x_out = fzalloc(N * d);
    m->lnf = fzalloc(N * d);
    m->lnf_rstd = fzalloc(N);
    m->logits = fzalloc(N * V);
    m->ce_lse = fzalloc(N);
    m->ffn_out = fzalloc(N * d);
    m->tokens = calloc(N, sizeof(int32_t));
    m->targets = calloc(N, sizeof(int32_t));
    m->dresid = fzalloc(N * d);
    m->dln = fzalloc(N * d);
    m->datty = fzalloc(N * d);
    m->dqkv = fzalloc(N * 3 * d);
    m->dh1 = fzalloc(N * H);
    m->dh3 = fzalloc(N * H);
    m->dlogits = fzalloc(N * V);
    if (!m->params || !m->grads || !m->logits || !m->dlogits) {
        l720_err_set(err, L720_EFAIL, "model: out of memory (%zu parameters, %zu tokens)",
                     m->n_params, N);
        l720_model_free(m);
        return NULL;
    }
    return m;
}

void l720_model_free(l720_model *m)
{
    if (!m)
        return;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        l720_layer *L = &m->layer[l];
        free(L->resid);
        free(L->ln1);
        free(L->ln1_rstd);
        free(L->qkv);
        free(L->att_lse);
        free(L->atty);
        free(L->resid_mid);
        free(L->ln2);
        free(L->ln2_rstd);
        free(L->h1);
        free(L->h3);
        free(L->act);
        l720_moe_free(L->moe);
        l720_peer_free(L->peer);
        free(L->usage);
        free(L->routing);
    }
    if (m->touched)
        for (int t = 0; t < m->n_tensors; t++)
            free(m->touched[t]);
    free(m->touched);
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->x_out);
    free(m->lnf);
    free(m->lnf_rstd);
    free(m->logits);
    free(m->ce_lse);
    free(m->ffn_out);
    free(m->tokens);
    free(m->targets);
    free(m->dresid);
    free(m->dln);
    free(m->datty);
    free(m->dqkv);
    free(m->dh1);
    free(m->dh3);
    free(m->dlogits);
    free(m);
}

/* ---- accessors -------------------------------------------------------- */

const l720_model_cfg *l720_model_config(const l720_model *m) { return &m->cfg; }
float *l720_model_params(l720_model *m) { return m->params; }
float *l720_model_grads(l720_model *m) { return m->grads; }
size_t l720_model_n_params(const l720_model *m) { return m->n_params; }

const l720_tensor *l720_model_tensors(const l720_model *m, int *n)
{
    *n = m->n_tensors;
    return m->tensors;
}

const uint8_t *l720_model_touched(const l720_model *m, int t)
{
    return t >= 0 && t < m->n_tensors ? m->touched[t] : NULL;
}

float *l720_model_buffers(l720_model *m, size_t *n)
{
    *n = m->n_buffers;
    return m->buffers;
}

const float *l720_model_logits(const l720_model *m) { return m->logits; }

void l720_model_zero_grad(l720_model *m)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const l720_tensor *T = &m->tensors[t];
        float *g = m->grads + T->offset;
        if (!T->sparse_rows) {
            memset(g, 0, sizeof(float) * T->rows * T->cols);
            continue;
        }
        /* sparse: only touched rows can be non-zero */
        uint8_t *tc = m->touched[t];
        for (size_t r = 0; r < T->rows; r++)
            if (tc[r]) {
                memset(g + r * T->cols, 0, sizeof(float) * T->cols);
                tc[r] = 0;
            }
    }
}

/* ---- counts ------------------------------------------------------------ */

/* Feed-forward parameters per token (active) or in all (total), as the
 * joint-MoE paper counts them: weight matrices only (norms, routers and
 * BatchNorm left out), so a dense block is 4d² + 3dH = 13d² at H = 3d and a
 * Switch block is 4d² + 3dH·E in total, 4d² + 3dH active. PEER: the query
 * map and the sub-keys count in both (every token reads them all), experts
 * count 2d each, h·k of them active. */
static double ffn_params(const l720_model *m, int l, int active)
{
    const l720_ffn_spec *f = &m->cfg.ffn[l];
    double d = m->cfg.d_model, H = m->cfg.ffn_hidden;
    switch (f->kind) {
    case L720_FFN_DENSE:
        return 3 * d * H;
    case L720_FFN_MOE:
        return 3 * d * H * (active ? 1 : f->n_experts);
    default: {
        double n = isqrt_exact(f->n_experts), h = f->heads, dk = f->d_key;
        double shared = h * dk * d + h * n * dk;
        return shared + 2 * d * (active ? h * f->topk : (double)f->n_experts);
    }
    }
}

static double count_params(const l720_model *m, int active)
{
    double d = m->cfg.d_model, V = m->cfg.vocab, s = 2 * d * V;
    for (int l = 0; l < m->cfg.n_layers; l++)
        s += 4 * d * d + ffn_params(m, l, active);
    return s;
}

double l720_model_active_params(const l720_model *m) { return count_params(m, 1); }
double l720_model_total_params(const l720_model *m) { return count_params(m, 0); }

/* 6 N_act, plus attention scores and values: 12 · n_layers · d · seq_len
 * (forward 2 + backward 4, for QKᵀ and AV each, causal mask not discounted). */
double l720_model_flops_per_token(const l720_model *m)
{
    return 6 * l720_model_active_params(m) +
           12.0 * m->cfg.n_layers * m->cfg.d_model * m->cfg.seq_len;
}

/* ---- expert statistics ------------------------------------------------- */

void l720_expert_usage_stats(const double *u, int E, double *frac_used, double *kl)
{
    double total = 0;
    int used = 0;
    for (int e = 0; e < E; e++) {
        total += u[e];
        used += u[e] > 0;
    }
    double k = 0;
    if (total > 0)
        for (int e = 0; e < E; e++)
            if (u[e] > 0) {
                double p = u[e] / total;
                k += p * log(p * E);
            }
    *frac_used = (double)used / E;
    *kl = k;
}

int l720_model_expert_stats(const l720_model *m, int layer, double *frac_used, double *kl)
{
    if (layer < 0 || layer >= m->cfg.n_layers || !m->layer[layer].usage)
        return -1;
    l720_expert_usage_stats(m->layer[layer].usage, m->cfg.ffn[layer].n_experts, frac_used, kl);
    return 0;
}

void l720_model_reset_expert_stats(l720_model *m)
{
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (m->layer[l].usage)
            memset(m->layer[l].usage, 0, sizeof(double) * (size_t)m->cfg.ffn[l].n_experts);
}

const int32_t *l720_model_routing(const l720_model *m, int layer, int *per_token)
{
    if (layer < 0 || layer >= m->cfg.n_layers || !m->layer[layer].routing) {
        if (per_token)
            *per_token = 0;
        return NULL;
    }
    if (per_token)
        *per_token = m->layer[layer].per_token;
    return m->layer[layer].routing;
}
