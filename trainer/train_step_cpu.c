/* train_step_cpu.c: the cpu backend (train_backend.h): steps and
 * evaluations on the host model itself. */
#include <math.h>

#include "trainer/train_state.h"

static int cpu_forward(l720_run *r, const int32_t *tokens, const int32_t *targets, int B, int T,
                       int training, l720_forward_out *out, l720_err *err)
{
    return l720_model_forward(r->model, tokens, targets, B, T, training, out, err);
}

static int cpu_backward(l720_run *r, int accumulate, double *norm, l720_err *err)
{
    (void)err;
    if (!accumulate)
        l720_model_zero_grad(r->model);
    l720_model_backward(r->model); /* adds into the gradients and the touched rows */
    if (!norm)
        return 0;
    int nt;
    const l720_tensor *ts = l720_model_tensors(r->model, &nt);
    for (int i = 0; i < nt; i++)
        r->touched[i] = ts[i].sparse_rows ? l720_model_touched(r->model, i) : NULL;
    *norm = l720_grad_norm(l720_model_grads(r->model), ts, nt, r->touched);
    return 0;
}

static int cpu_update(l720_run *r, const l720_adamw_hp *hp, double scale, l720_err *err)
{
    (void)err;
    int nt;
    const l720_tensor *ts = l720_model_tensors(r->model, &nt);
    l720_adamw_step(r->opt, l720_model_params(r->model), l720_model_grads(r->model), ts, nt,
                    r->touched, hp, scale);
    return 0;
}

static int cpu_poison(l720_run *r, l720_err *err)
{
    (void)err;
    float *p = l720_model_params(r->model);
    for (size_t i = 0, n = l720_model_n_params(r->model); i < n; i++)
        p[i] = NAN;
    return 0;
}

static const int32_t *cpu_routing(l720_run *r, int layer, int *per_token, l720_err *err)
{
    const int32_t *ids = l720_model_routing(r->model, layer, per_token);
    if (!ids)
        l720_err_set(err, L720_EFAIL, "trace: no routing for layer %d", layer);
    return ids;
}

static int cpu_expert_stats(l720_run *r, int layer, double *frac_used, double *kl)
{
    return l720_model_expert_stats(r->model, layer, frac_used, kl);
}

static void cpu_reset_stats(l720_run *r)
{
    l720_model_reset_expert_stats(r->model);
}

const l720_backend l720_backend_cpu = {
    .device = "cpu",
    .forward = cpu_forward,
    .backward = cpu_backward,
    .update = cpu_update,
    .poison = cpu_poison,
    .routing = cpu_routing,
    .expert_stats = cpu_expert_stats,
    .reset_stats = cpu_reset_stats,
};
