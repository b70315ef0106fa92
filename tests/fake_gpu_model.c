/* fake_gpu_model.c: the contracts kernels/gpu_model.h and gpu_device.h
 * carried out by the CPU reference model, with a pretend device of
 * FAKE_GPU_FREE bytes, so that tests/test_train_cuda checks the training
 * driver's cuda backend (trainer/train_step_cuda.c) on a machine without a
 * GPU. Linked before the libraries, it stands in for kernels/. The device
 * bytes are the model's four fp32 arrays plus its activations, a stand-in
 * for the GPU model's own count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu_device.h"
#include "kernels/gpu_model.h"

#define FAKE_GPU_FREE ((size_t)64 << 20)

struct l720_gpu_model {
    l720_model *m;
    l720_adamw *opt;
    const uint8_t **touched; /* [nt] of the last backward */
    size_t n_tokens;         /* B * T of the last forward */
    int backward_done;       /* gradients to add to (backward_add) */
};

int l720_gpu_available(char *name, size_t name_len, l720_err *err)
{
    (void)err;
    if (name && name_len)
        snprintf(name, name_len, "fake GPU (CPU model)");
    return 1;
}

int l720_gpu_memory(size_t *free_b, size_t *total_b, l720_err *err)
{
    (void)err;
    *free_b = FAKE_GPU_FREE;
    *total_b = FAKE_GPU_FREE + (FAKE_GPU_FREE >> 2);
    return 0;
}

int l720_gpu_sync(l720_err *err)
{
    (void)err;
    return 0;
}

size_t l720_gpu_model_bytes(const l720_model_cfg *cfg, int max_batch)
{
    size_t d = (size_t)cfg->d_model, n = 2 * (size_t)cfg->vocab * d;
    for (int l = 0; l < cfg->n_layers; l++)
        n += 12 * d * d;
    return 16 * n + 64 * (size_t)max_batch * (size_t)cfg->seq_len * d * (size_t)cfg->n_layers;
}

l720_gpu_model *l720_gpu_model_new(const l720_model_cfg *cfg, const l720_tensor *ts, int nt,
                                   int max_batch, l720_err *err)
{
    size_t need = l720_gpu_model_bytes(cfg, max_batch);
    if (need > FAKE_GPU_FREE) {
        l720_err_set(err, L720_EINPUT, "needs %zu bytes, %zu free", need, FAKE_GPU_FREE);
        return NULL;
    }
    l720_gpu_model *g = calloc(1, sizeof *g);
    if (!g || !(g->m = l720_model_new(cfg, max_batch, 0, err)) ||
        !(g->opt = l720_adamw_new(l720_model_n_params(g->m), err)) ||
        !(g->touched = calloc((size_t)nt, sizeof *g->touched))) {
        if (g && !err->code)
            l720_err_set(err, L720_EFAIL, "out of memory");
        l720_gpu_model_free(g);
        return NULL;
    }
    int mnt;
    const l720_tensor *mts = l720_model_tensors(g->m, &mnt);
    if (mnt != nt || memcmp(mts, ts, (size_t)nt * sizeof *ts)) {
        l720_err_set(err, L720_EINPUT, "tensor table differs from the model's");
        l720_gpu_model_free(g);
        return NULL;
    }
    return g;
}

void l720_gpu_model_free(l720_gpu_model *g)
{
    if (!g)
        return;
    free(g->touched);
    l720_adamw_free(g->opt);
    l720_model_free(g->m);
    free(g);
}

int l720_gpu_model_set_state(l720_gpu_model *g, const float *params, const float *buffers,
                             const float *m_adam, const float *v_adam, uint64_t step,
                             l720_err *err)
{
    (void)err;
    size_t n = l720_model_n_params(g->m), nb;
    float *buf = l720_model_buffers(g->m, &nb);
    memcpy(l720_model_params(g->m), params, n * sizeof(float));
    if (nb)
        memcpy(buf, buffers, nb * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        g->opt->m[i] = m_adam ? m_adam[i] : 0.0f;
        g->opt->v[i] = v_adam ? v_adam[i] : 0.0f;
    }
    g->opt->t = step;
    g->backward_done = 0;
    return 0;
}

int l720_gpu_model_get_state(l720_gpu_model *g, float *params, float *buffers, float *m_adam,
                             float *v_adam, l720_err *err)
{
    (void)err;
    size_t n = l720_model_n_params(g->m), nb;
    const float *buf = l720_model_buffers(g->m, &nb);
    memcpy(params, l720_model_params(g->m), n * sizeof(float));
    if (nb && buffers)
        memcpy(buffers, buf, nb * sizeof(float));
    if (m_adam)
        memcpy(m_adam, g->opt->m, n * sizeof(float));
    if (v_adam)
        memcpy(v_adam, g->opt->v, n * sizeof(float));
    return 0;
}

int l720_gpu_model_get_grads(l720_gpu_model *g, float *grads, l720_err *err)
{
    (void)err;
    memcpy(grads, l720_model_grads(g->m), l720_model_n_params(g->m) * sizeof(float));
    return 0;
}

int l720_gpu_model_forward(l720_gpu_model *g, const int32_t *tokens, const int32_t *targets,
                           int B, int T, int training, l720_forward_out *out, l720_err *err)
{
    g->n_tokens = (size_t)B * (size_t)T;
    return l720_model_forward(g->m, tokens, targets, B, T, training, out, err);
}

/* The CPU model's backward adds into its gradients and touched rows. */
static int add_backward(l720_gpu_model *g)
{
    l720_model_backward(g->m);
    g->backward_done = 1;
    int nt;
    const l720_tensor *ts = l720_model_tensors(g->m, &nt);
    for (int i = 0; i < nt; i++)
        g->touched[i] = ts[i].sparse_rows ? l720_model_touched(g->m, i) : NULL;
    return 0;
}

int l720_gpu_model_backward(l720_gpu_model *g, l720_err *err)
{
    (void)err;
    l720_model_zero_grad(g->m);
    return add_backward(g);
}

int l720_gpu_model_backward_add(l720_gpu_model *g, l720_err *err)
{
    if (!g->backward_done)
        return l720_err_set(err, L720_EINPUT, "backward_add needs a backward first");
    return add_backward(g);
}

int l720_gpu_model_grad_norm(l720_gpu_model *g, double *norm, l720_err *err)
{
    (void)err;
    int nt;
    const l720_tensor *ts = l720_model_tensors(g->m, &nt);
    *norm = l720_grad_norm(l720_model_grads(g->m), ts, nt, g->touched);
    return 0;
}

int l720_gpu_model_adamw_step(l720_gpu_model *g, const l720_adamw_hp *hp, double scale,
                              l720_err *err)
{
    (void)err;
    int nt;
    const l720_tensor *ts = l720_model_tensors(g->m, &nt);
    l720_adamw_step(g->opt, l720_model_params(g->m), l720_model_grads(g->m), ts, nt, g->touched,
                    hp, scale);
    return 0;
}

int l720_gpu_model_routing(l720_gpu_model *g, int layer, int32_t *ids, int *per_token,
                           l720_err *err)
{
    const int32_t *r = l720_model_routing(g->m, layer, per_token);
    if (!r)
        return l720_err_set(err, L720_EINPUT, "layer %d is dense", layer);
    memcpy(ids, r, g->n_tokens * (size_t)*per_token * sizeof(int32_t));
    return 0;
}

uint64_t l720_gpu_model_steps(const l720_gpu_model *g)
{
    return g->opt->t;
}
