/* train.c: the training loop (see train.h). */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "trainer/train_state.h"

#define ENTROPY_MAX_TOKENS (256u << 20) /* unigram entropy over at most 2^28 tokens */

int l720_train_resume_config(const char *out_dir, l720_train_cfg *cfg, l720_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.bin", out_dir);
    l720_ckpt *c = l720_ckpt_read(path, err);
    if (!c)
        return err->code;
    int rc = l720_cfg_set_json(cfg, c->config, path, err);
    l720_ckpt_free(c);
    cfg->stop_after = 0; /* per invocation, never inherited */
    cfg->debug_nan_step = 0;
    return rc;
}

/* A resumed run may change training and run keys, never model keys. */
static int check_same_model(const l720_train_cfg *now, const cJSON *saved, const char *path,
                            l720_err *err)
{
    l720_train_cfg old;
    l720_cfg_defaults(&old);
    int rc = l720_cfg_set_json(&old, saved, path, err);
    if (rc)
        return rc;
    for (const l720_cfg_key *k = l720_cfg_keys; k->name; k++) {
        if (k->group != L720_KEY_MODEL)
            continue;
        char a[96], b[96];
        l720_cfg_value_text(now, k, a, sizeof a);
        l720_cfg_value_text(&old, k, b, sizeof b);
        if (strcmp(a, b))
            return l720_err_set(err, L720_EINPUT, "--resume: key '%s' is %s, the checkpoint %s "
                                "has %s (model keys cannot change)", k->name, a, path, b);
    }
    return 0;
}

static int restore(l720_run *r, l720_err *err)
{
    l720_ckpt *c = l720_ckpt_read(r->ckpt_path, err);
    if (!c)
        return err->code;
    int rc = check_same_model(r->cfg, c->config, r->ckpt_path, err);
    size_t nb = 0;
    float *buf = l720_model_buffers(r->model, &nb);
    if (!rc && (c->a.n != l720_model_n_params(r->model) || c->a.nb != nb))
        rc = l720_err_set(err, L720_EINPUT, "%s: %zu parameters and %zu buffers, the model has "
                          "%zu and %zu", r->ckpt_path, c->a.n, c->a.nb,
                          l720_model_n_params(r->model), nb);
    if (!rc) {
        memcpy(l720_model_params(r->model), c->a.params, c->a.n * sizeof(float));
        memcpy(r->opt->m, c->a.m, c->a.n * sizeof(float));
        memcpy(r->opt->v, c->a.v, c->a.n * sizeof(float));
        if (nb)
            memcpy(buf, c->a.buffers, nb * sizeof(float));
        r->meta = c->meta;
        r->opt->t = c->meta.adam_t;
        r->wall0 = c->meta.wall_seconds;
        rc = l720_loader_seek(r->loader, c->meta.data, err);
    }
    l720_ckpt_free(c);
    return rc;
}

/* The backend of cfg->device (train_backend.h). */
static int pick_backend(l720_run *r, l720_err *err)
{
    if (strcmp(r->cfg->device, "cuda")) {
        r->be = &l720_backend_cpu;
        snprintf(r->device_name, sizeof r->device_name, "cpu");
        return 0;
    }
    r->be = l720_backend_cuda(r->device_name, sizeof r->device_name, err);
    return r->be ? 0 : err->code ? err->code : L720_EINPUT;
}

static int setup(l720_run *r, l720_err *err)
{
    l720_train_cfg *cfg = r->cfg;
    int rc = l720_cfg_check(cfg, err);
    if (!rc)
        rc = pick_backend(r, err);
    if (rc)
        return rc;
    if (!(r->ds = l720_shards_open(r->o->data_dir, err)))
        return err->code;
    if (cfg->vocab == 0)
        cfg->vocab = r->ds->vocab;
    if (cfg->vocab < r->ds->vocab)
        return l720_err_set(err, L720_EINPUT, "key 'vocab': %d is smaller than the data's "
                            "vocabulary of %d (%s)", cfg->vocab, r->ds->vocab, r->o->data_dir);
    l720_model_cfg mc;
    if ((rc = l720_cfg_model(cfg, &mc, err)) || (r->be->fits && (rc = r->be->fits(r, &mc, err))))
        return rc;
    int routed[L720_MAX_LAYERS], n_routed = 0, experts = 0, per = 0;
    if (r->o->trace_path &&
        (rc = l720_run_trace_shape(&mc, routed, &n_routed, &experts, &per, err)))
        return rc;
    if ((rc = l720_mkdir_p(r->o->out_dir, err)))
        return rc;
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.bin", r->o->out_dir);
    snprintf(r->log_path, sizeof r->log_path, "%s/log.jsonl", r->o->out_dir);
    if (r->o->resume && !l720_exists(r->ckpt_path))
        return l720_err_set(err, L720_EINPUT, "--resume: %s does not exist", r->ckpt_path);
    int B = (int)cfg->batch, T = cfg->seq_len;
    if (!(r->model = l720_model_new(&mc, r->be->host_mirror ? 1 : B, (uint64_t)cfg->seed, err)))
        return err->code;
    size_t n = l720_model_n_params(r->model);
    if (!(r->opt = l720_adamw_new(n, err)) ||
        !(r->loader = l720_loader_new(r->ds, T, (uint64_t)cfg->seed, err)))
        return err->code;
    size_t max_windows = (size_t)(cfg->eval_tokens + T - 1) / (size_t)T;
    if (!(r->val = l720_val_tokens(r->ds, T, max_windows, &r->n_val, err)))
        return err->code;
    int nt;
    l720_model_tensors(r->model, &nt);
    r->tokens = malloc((size_t)B * T * sizeof *r->tokens);
    r->targets = malloc((size_t)B * T * sizeof *r->targets);
    r->touched = calloc((size_t)nt, sizeof *r->touched);
    if (!r->tokens || !r->targets || !r->touched)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    if ((rc = l720_shards_unigram_entropy(r->ds, ENTROPY_MAX_TOKENS, &r->entropy, err)))
        return rc;
    if (r->o->resume && (rc = restore(r, err)))
        return rc;
    if (r->be->start && (rc = r->be->start(r, err)))
        return rc;
    if (!(r->log = l720_runlog_open(r->log_path, r->o->resume ? r->meta.step : -1, err)))
        return err->code;
    return l720_runlog_has_header(r->log) ? 0 : l720_run_header(r, err);
}

static void teardown(l720_run *r)
{
    if (r->be && r->be->stop)
        r->be->stop(r);
    l720_runlog_close(r->log);
    free(r->touched);
    free(r->targets);
    free(r->tokens);
    free(r->val);
    l720_loader_free(r->loader);
    l720_adamw_free(r->opt);
    l720_model_free(r->model);
    l720_shards_free(r->ds);
}

static int nonfinite(l720_run *r, const char *what, double v, l720_err *err)
{
    return l720_err_set(err, L720_EFAIL, "non-finite %s (%g) at step %ld; stopped: the last good "
                        "checkpoint %s and the log %s are kept", what, v, r->meta.step + 1,
                        r->ckpt_path, r->log_path);
}

/* One optimiser step: grad_accum micro-batches of B sequences, each
 * forward + backward (the first replaces the gradients, the others add to
 * them), then one clip and AdamW on their mean. */
static int step(l720_run *r, l720_err *err)
{
    const l720_train_cfg *cfg = r->cfg;
    long s = r->meta.step;
    l720_schedule sch = {cfg->lr, cfg->steps, cfg->warmup, cfg->decay_frac, cfg->batch_ramp,
                         (int)cfg->batch_start, (int)cfg->batch};
    int B = l720_schedule_batch(&sch, s), T = cfg->seq_len, K = (int)cfg->grad_accum;
    r->lr = l720_schedule_lr(&sch, s);
    double t0 = 0, norm = 0, loss = 0;
    for (int k = 0; k < K; k++) {
        int rc = l720_loader_next(r->loader, B, r->tokens, r->targets, err);
        if (rc)
            return rc;
        /* test aid: a divergence to detect */
        if (k == 0 && s + 1 == cfg->debug_nan_step && (rc = r->be->poison(r, err)))
            return rc;
        if (k == 0)
            t0 = l720_run_now();
        l720_forward_out out;
        if ((rc = r->be->forward(r, r->tokens, r->targets, B, T, 1, &out, err)))
            return rc;
        if (!isfinite(out.loss) || !isfinite(out.aux_loss))
            return nonfinite(r, "training loss", isfinite(out.loss) ? out.aux_loss : out.loss,
                             err);
        if ((rc = r->be->backward(r, k > 0, k == K - 1 ? &norm : NULL, err)))
            return rc;
        loss += out.loss;
    }
    /* the backends hold the sum of the K micro-gradients: the mean is sum / K */
    loss /= K;
    if (!isfinite(norm))
        return nonfinite(r, "gradient norm", norm / K, err);
    l720_adamw_hp hp = {r->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay};
    int rc = r->be->update(r, &hp, l720_accum_scale(norm, K, cfg->grad_clip), err);
    if (rc)
        return rc;
    r->meta.train_seconds += l720_run_now() - t0;
    r->meta.step++;
    r->meta.tokens += (double)K * B * T;
    r->meta.loss_sum += loss;
    r->meta.loss_count++;
    if (r->o->on_step)
        r->o->on_step(r->o->ctx, r->meta.step, cfg->steps, loss);
    return 0;
}

int l720_train_run(l720_train_cfg *cfg, const l720_train_opts *o, l720_train_result *res,
                   l720_err *err)
{
    memset(res, 0, sizeof *res);
    l720_run r = {0};
    r.cfg = cfg;
    r.o = o;
    r.start = l720_run_now();
    int rc = setup(&r, err);
    long done_here = 0, saved_at = r.meta.step;
    if (!rc && r.meta.step >= cfg->steps)
        rc = l720_err_set(err, L720_EINPUT, "--resume: the checkpoint is at step %ld, --steps is "
                          "%ld: nothing to do (raise --steps)", r.meta.step, cfg->steps);
    while (!rc && r.meta.step < cfg->steps) {
        if (o->stop && *o->stop) {
            if (!(rc = l720_run_save(&r, err)))
                rc = l720_err_set(err, L720_TRAIN_INTERRUPTED, "interrupted at step %ld; "
                                  "checkpoint saved to %s (continue with --resume)", r.meta.step,
                                  r.ckpt_path);
            break;
        }
        if (cfg->stop_after && done_here >= cfg->stop_after)
            break;
        if ((rc = step(&r, err)))
            break;
        done_here++;
        long s = r.meta.step;
        int eval = s % cfg->eval_every == 0 || s == cfg->steps;
        if (eval && (rc = l720_run_eval(&r, res, err)))
            break;
        if ((cfg->ckpt_every ? s % cfg->ckpt_every == 0 : eval) || s == cfg->steps) {
            if ((rc = l720_run_save(&r, err)))
                break;
            saved_at = s;
        }
    }
    if (!rc && saved_at != r.meta.step) /* --stop-after */
        rc = l720_run_save(&r, err);
    res->step = r.meta.step;
    res->tokens = r.meta.tokens;
    res->unigram_entropy = r.entropy;
    res->vocab = cfg->vocab;
    if (r.model) {
        res->n_act = l720_model_active_params(r.model);
        res->n_total = l720_model_total_params(r.model);
    }
    if (r.meta.train_seconds > 0)
        res->tokens_per_second = r.meta.tokens / r.meta.train_seconds;
    res->wall_seconds = r.wall0 + (l720_run_now() - r.start);
    teardown(&r);
    return rc;
}
