/* train_eval.c: evaluation, log lines, routing trace and checkpoint saving
 * of a run (see train.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer/train_state.h"

double l720_run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* E and the size of one expert (parameters) of the first routed layer;
 * a dense model counts as one expert of the FFN's size. */
static void expert_shape(const l720_model *m, double *experts, double *size)
{
    const l720_model_cfg *c = l720_model_config(m);
    double hidden = c->ffn_hidden > 0 ? c->ffn_hidden : 3.0 * c->d_model;
    *experts = 1;
    *size = 3.0 * c->d_model * hidden;
    for (int l = 0; l < c->n_layers; l++) {
        if (c->ffn[l].kind == L720_FFN_MOE) {
            *experts = c->ffn[l].n_experts;
            return;
        }
        if (c->ffn[l].kind == L720_FFN_PEER) {
            *experts = c->ffn[l].n_experts;
            *size = 2.0 * c->d_model;
            return;
        }
    }
}

static void add_sizes(cJSON *o, const l720_model *m)
{
    double e, s;
    expert_shape(m, &e, &s);
    cJSON_AddNumberToObject(o, "n_act", l720_model_active_params(m));
    cJSON_AddNumberToObject(o, "n_total", l720_model_total_params(m));
    cJSON_AddNumberToObject(o, "experts", e);
    cJSON_AddNumberToObject(o, "expert_size", s);
}

/* Where the run computes: "cpu" or "cuda", and the GPU's name. */
static void add_device(cJSON *o, const l720_run *r)
{
    cJSON_AddStringToObject(o, "device", r->be->device);
    cJSON_AddStringToObject(o, "device_name", r->device_name);
}

int l720_run_header(l720_run *r, l720_err *err)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "header");
    cJSON_AddItemToObject(h, "config", l720_cfg_to_json(r->cfg));
    add_sizes(h, r->model);
    cJSON_AddNumberToObject(h, "unigram_entropy", r->entropy);
    cJSON_AddNumberToObject(h, "flops_per_token", l720_model_flops_per_token(r->model));
    cJSON_AddNumberToObject(h, "grad_accum", (double)r->cfg->grad_accum);
    cJSON_AddNumberToObject(h, "tokens_per_step",
                            (double)r->cfg->batch * (double)r->cfg->grad_accum * r->cfg->seq_len);
    add_device(h, r);
    int rc = l720_runlog_write(r->log, h, err);
    cJSON_Delete(h);
    return rc;
}

int l720_run_trace_shape(const l720_model_cfg *c, int *routed, int *n_routed, int *experts,
                         int *per_token, l720_err *err)
{
    int n = 0;
    for (int l = 0; l < c->n_layers; l++) {
        const l720_ffn_spec *f = &c->ffn[l];
        if (f->kind == L720_FFN_DENSE)
            continue;
        int e = f->n_experts, k = f->kind == L720_FFN_MOE ? 1 : f->heads * f->topk;
        if (n && (e != *experts || k != *per_token))
            return l720_err_set(err, L720_EINPUT, "--trace: routed layers differ (%d experts x %d "
                                "per token, then %d x %d); a trace needs one kind", *experts,
                                *per_token, e, k);
        routed[n++] = l;
        *experts = e;
        *per_token = k;
    }
    if (!n)
        return l720_err_set(err, L720_EINPUT, "--trace: the model has no MoE or PEER layer");
    *n_routed = n;
    return 0;
}

/* Opens the trace when this evaluation should write one. */
static int trace_open(l720_run *r, l720_trace **tr, int *routed, l720_err *err)
{
    int n = 0, experts = 0, per = 0;
    int rc = l720_run_trace_shape(l720_model_config(r->model), routed, &n, &experts, &per, err);
    if (rc)
        return rc;
    *tr = l720_trace_open(r->o->trace_path, n, experts, per, err);
    return *tr ? 0 : err->code;
}

static int trace_batch(l720_run *r, l720_trace *tr, const int *routed, long t0, long n,
                       l720_err *err)
{
    const int32_t *ids[L720_MAX_LAYERS];
    int nr = 0;
    const l720_model_cfg *c = l720_model_config(r->model);
    for (int l = 0; l < c->n_layers; l++)
        if (c->ffn[l].kind != L720_FFN_DENSE) {
            int per;
            if (!(ids[nr] = r->be->routing(r, routed[nr], &per, err)))
                return err->code;
            nr++;
        }
    return l720_trace_add(tr, t0, n, ids, err);
}

static cJSON *expert_stats(l720_run *r)
{
    cJSON *a = cJSON_CreateArray();
    const l720_model_cfg *c = l720_model_config(r->model);
    for (int l = 0; l < c->n_layers; l++) {
        double frac, kl;
        if (r->be->expert_stats(r, l, &frac, &kl) < 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "layer", l);
        cJSON_AddNumberToObject(o, "frac_used", frac);
        cJSON_AddNumberToObject(o, "kl", kl);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* Mean validation loss over the fixed windows; writes the trace when tr. */
static int val_loss(l720_run *r, l720_trace *tr, const int *routed, double *loss, l720_err *err)
{
    int T = r->cfg->seq_len, B = (int)r->cfg->batch;
    double sum = 0;
    for (size_t w0 = 0; w0 < r->n_val; w0 += (size_t)B) {
        int nb = (int)(r->n_val - w0 < (size_t)B ? r->n_val - w0 : (size_t)B);
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < T; t++) {
                size_t i = (w0 + (size_t)b) * (size_t)T + (size_t)t;
                r->tokens[b * T + t] = r->val[i];
                r->targets[b * T + t] = r->val[i + 1];
            }
        l720_forward_out out;
        int rc = r->be->forward(r, r->tokens, r->targets, nb, T, 0, &out, err);
        if (!rc && tr)
            rc = trace_batch(r, tr, routed, (long)w0 * T, (long)nb * T, err);
        if (rc)
            return rc;
        sum += out.loss * nb;
    }
    *loss = sum / (double)r->n_val;
    return 0;
}

int l720_run_eval(l720_run *r, l720_train_result *res, l720_err *err)
{
    l720_trace *tr = NULL;
    int routed[L720_MAX_LAYERS];
    int rc = 0;
    if (r->o->trace_path && r->meta.step == r->cfg->steps)
        rc = trace_open(r, &tr, routed, err);
    r->be->reset_stats(r);
    double vl = 0;
    if (!rc)
        rc = val_loss(r, tr, routed, &vl, err);
    if (!rc && tr) {
        rc = l720_trace_commit(tr, err);
        tr = NULL;
    }
    l720_trace_abort(tr);
    if (rc)
        return rc;
    double tl = r->meta.loss_count ? r->meta.loss_sum / (double)r->meta.loss_count : NAN;
    double tps = r->meta.train_seconds > 0 ? r->meta.tokens / r->meta.train_seconds : 0;
    double wall = r->wall0 + (l720_run_now() - r->start);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "eval");
    cJSON_AddNumberToObject(e, "step", (double)r->meta.step);
    cJSON_AddNumberToObject(e, "tokens", r->meta.tokens);
    cJSON_AddNumberToObject(e, "train_loss", tl);
    cJSON_AddNumberToObject(e, "val_loss", vl);
    add_sizes(e, r->model);
    cJSON_AddNumberToObject(e, "flops", l720_model_flops_per_token(r->model) * r->meta.tokens);
    cJSON_AddNumberToObject(e, "tokens_per_second", tps);
    cJSON_AddNumberToObject(e, "wall_seconds", wall);
    cJSON_AddNumberToObject(e, "lr", r->lr);
    cJSON_AddItemToObject(e, "expert_stats", expert_stats(r));
    add_device(e, r);
    r->be->reset_stats(r);
    rc = l720_runlog_write(r->log, e, err);
    if (!rc && r->o->on_eval)
        r->o->on_eval(r->o->ctx, e);
    cJSON_Delete(e);
    res->train_loss = tl;
    res->val_loss = vl;
    res->tokens_per_second = tps;
    r->meta.loss_sum = 0;
    r->meta.loss_count = 0;
    return rc;
}

int l720_run_save(l720_run *r, l720_err *err)
{
    int rc = r->be->to_host ? r->be->to_host(r, err) : 0;
    if (rc)
        return rc;
    size_t nb = 0;
    float *buf = l720_model_buffers(r->model, &nb);
    l720_ckpt_arrays a = {l720_model_n_params(r->model), nb, l720_model_params(r->model),
                          r->opt->m, r->opt->v, buf};
    r->meta.adam_t = r->opt->t;
    r->meta.data = l720_loader_pos(r->loader);
    r->meta.wall_seconds = r->wall0 + (l720_run_now() - r->start);
    cJSON *cfg = l720_cfg_to_json(r->cfg);
    rc = l720_ckpt_save(r->ckpt_path, cfg, &r->meta, &a, err);
    cJSON_Delete(cfg);
    return rc;
}
