/* train_step_cuda.c: the cuda backend (train_backend.h), built only with
 * CUDA: steps and evaluations on the GPU model (kernels/gpu_model.h). The
 * host model and optimiser are the state's mirror: uploaded at start,
 * downloaded before every checkpoint. Expert usage and the routing of an
 * evaluation forward are read back from the GPU per routed layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu_device.h"
#include "kernels/gpu_model.h"
#include "trainer/train_state.h"

typedef struct cuda_run {
    l720_gpu_model *g;
    int slot[L720_MAX_LAYERS];      /* routed layer -> its slot, or -1 */
    int per_token[L720_MAX_LAYERS]; /* by slot */
    int experts[L720_MAX_LAYERS];   /* by slot */
    int32_t *ids[L720_MAX_LAYERS];  /* by slot: [batch * T * per_token] of the last
                                       evaluation forward */
    double *usage[L720_MAX_LAYERS]; /* by slot: [experts] */
    int n_slots;
} cuda_run;

static cuda_run *state(l720_run *r) { return r->dev; }

static int cuda_fits(l720_run *r, const l720_model_cfg *mc, l720_err *err)
{
    size_t need = l720_gpu_model_bytes(mc, (int)r->cfg->batch), free_b = 0, total_b = 0;
    int rc = l720_gpu_memory(&free_b, &total_b, err);
    if (rc)
        return rc;
    if (need > free_b)
        return l720_err_set(err, L720_EINPUT, "--device cuda: the model needs %zu bytes of GPU "
                            "memory for batch %ld, %zu free of %zu on %s (make it smaller)",
                            need, r->cfg->batch, free_b, total_b, r->device_name);
    return 0;
}

/* Host buffers for the routing and usage of the routed layers. */
static int alloc_routing(cuda_run *c, const l720_model_cfg *mc, size_t tokens, l720_err *err)
{
    for (int l = 0; l < mc->n_layers; l++) {
        const l720_ffn_spec *f = &mc->ffn[l];
        c->slot[l] = -1;
        if (f->kind == L720_FFN_DENSE)
            continue;
        int s = c->slot[l] = c->n_slots++;
        c->per_token[s] = f->kind == L720_FFN_MOE ? 1 : f->heads * f->topk;
        c->experts[s] = f->n_experts;
        c->ids[s] = malloc(tokens * (size_t)c->per_token[s] * sizeof(int32_t));
        c->usage[s] = calloc((size_t)f->n_experts, sizeof(double));
        if (!c->ids[s] || !c->usage[s])
            return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    return 0;
}

/* Uploads the host model's parameters and buffers and the optimiser. */
static int upload(l720_run *r, l720_err *err)
{
    size_t nb = 0;
    float *buf = l720_model_buffers(r->model, &nb);
    return l720_gpu_model_set_state(state(r)->g, l720_model_params(r->model), nb ? buf : NULL,
                                    r->opt->m, r->opt->v, r->opt->t, err);
}

static int cuda_to_host(l720_run *r, l720_err *err)
{
    size_t nb = 0;
    float *buf = l720_model_buffers(r->model, &nb);
    r->opt->t = l720_gpu_model_steps(state(r)->g);
    return l720_gpu_model_get_state(state(r)->g, l720_model_params(r->model), nb ? buf : NULL,
                                    r->opt->m, r->opt->v, err);
}

static int cuda_start(l720_run *r, l720_err *err)
{
    cuda_run *c = calloc(1, sizeof *c);
    if (!(r->dev = c))
        return l720_err_set(err, L720_EFAIL, "out of memory");
    const l720_model_cfg *mc = l720_model_config(r->model);
    int nt, B = (int)r->cfg->batch;
    const l720_tensor *ts = l720_model_tensors(r->model, &nt);
    int rc = alloc_routing(c, mc, (size_t)B * (size_t)mc->seq_len, err);
    if (rc)
        return rc;
    if (!(c->g = l720_gpu_model_new(mc, ts, nt, B, err)))
        return err->code ? err->code : L720_EFAIL;
    return upload(r, err);
}

static void cuda_stop(l720_run *r)
{
    cuda_run *c = state(r);
    if (!c)
        return;
    l720_gpu_model_free(c->g);
    for (int s = 0; s < c->n_slots; s++) {
        free(c->ids[s]);
        free(c->usage[s]);
    }
    free(c);
    r->dev = NULL;
}

/* Reads back the routing of every routed layer and counts expert usage. */
static int read_routing(cuda_run *c, const l720_model_cfg *mc, size_t tokens, l720_err *err)
{
    for (int l = 0; l < mc->n_layers; l++) {
        int s = c->slot[l], per = 0;
        if (s < 0)
            continue;
        int rc = l720_gpu_model_routing(c->g, l, c->ids[s], &per, err);
        if (rc)
            return rc;
        if (per != c->per_token[s])
            return l720_err_set(err, L720_EFAIL, "layer %d: %d experts per token from the GPU, "
                                "expected %d", l, per, c->per_token[s]);
        for (size_t i = 0, n = tokens * (size_t)per; i < n; i++) {
            int32_t e = c->ids[s][i];
            if (e < 0 || e >= c->experts[s])
                return l720_err_set(err, L720_EFAIL, "layer %d: expert id %d from the GPU, "
                                    "expected 0..%d", l, (int)e, c->experts[s] - 1);
            c->usage[s][e] += 1.0;
        }
    }
    return 0;
}

static int cuda_forward(l720_run *r, const int32_t *tokens, const int32_t *targets, int B, int T,
                        int training, l720_forward_out *out, l720_err *err)
{
    cuda_run *c = state(r);
    int rc = l720_gpu_model_forward(c->g, tokens, targets, B, T, training, out, err);
    if (!rc && !training)
        rc = read_routing(c, l720_model_config(r->model), (size_t)B * (size_t)T, err);
    return rc;
}

static int cuda_backward(l720_run *r, int accumulate, double *norm, l720_err *err)
{
    l720_gpu_model *g = state(r)->g;
    int rc = accumulate ? l720_gpu_model_backward_add(g, err) : l720_gpu_model_backward(g, err);
    return rc || !norm ? rc : l720_gpu_model_grad_norm(g, norm, err);
}

static int cuda_update(l720_run *r, const l720_adamw_hp *hp, double scale, l720_err *err)
{
    int rc = l720_gpu_model_adamw_step(state(r)->g, hp, scale, err);
    return rc ? rc : l720_gpu_sync(err);
}

static int cuda_poison(l720_run *r, l720_err *err)
{
    int rc = cuda_to_host(r, err);
    if (rc)
        return rc;
    float *p = l720_model_params(r->model);
    for (size_t i = 0, n = l720_model_n_params(r->model); i < n; i++)
        p[i] = NAN;
    return upload(r, err);
}

static const int32_t *cuda_routing(l720_run *r, int layer, int *per_token, l720_err *err)
{
    cuda_run *c = state(r);
    if (layer < 0 || layer >= l720_model_config(r->model)->n_layers || c->slot[layer] < 0) {
        l720_err_set(err, L720_EFAIL, "trace: no routing for layer %d", layer);
        return NULL;
    }
    *per_token = c->per_token[c->slot[layer]];
    return c->ids[c->slot[layer]];
}

static int cuda_expert_stats(l720_run *r, int layer, double *frac_used, double *kl)
{
    cuda_run *c = state(r);
    if (layer < 0 || layer >= l720_model_config(r->model)->n_layers || c->slot[layer] < 0)
        return -1;
    int s = c->slot[layer];
    l720_expert_usage_stats(c->usage[s], c->experts[s], frac_used, kl);
    return 0;
}

static void cuda_reset_stats(l720_run *r)
{
    cuda_run *c = state(r);
    for (int s = 0; s < c->n_slots; s++)
        memset(c->usage[s], 0, (size_t)c->experts[s] * sizeof(double));
}

static const l720_backend cuda_backend = {
    .device = "cuda",
    .host_mirror = 1,
    .fits = cuda_fits,
    .start = cuda_start,
    .forward = cuda_forward,
    .backward = cuda_backward,
    .update = cuda_update,
    .poison = cuda_poison,
    .to_host = cuda_to_host,
    .routing = cuda_routing,
    .expert_stats = cuda_expert_stats,
    .reset_stats = cuda_reset_stats,
    .stop = cuda_stop,
};

const l720_backend *l720_backend_cuda(char *name, size_t name_len, l720_err *err)
{
    if (l720_gpu_available(name, name_len, err))
        return &cuda_backend;
    char why[sizeof err->msg];
    const char *m = err->msg, *pre = "--device cuda: ";
    snprintf(why, sizeof why, "%s", strncmp(m, pre, strlen(pre)) ? m : m + strlen(pre));
    l720_err_set(err, L720_EINPUT, "--device cuda: no GPU was found (%s)", why);
    return NULL;
}
