/* config_train.c: see config_train.h. */
#include "config_train.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fileio.h"
#include "json_io.h"

#define KI(name, grp, field, def, help)                                                            \
    {name, L720_KEY_INT, grp, offsetof(l720_train_cfg, field), 0, def, help}
#define KD(name, grp, field, def, help)                                                            \
    {name, L720_KEY_DOUBLE, grp, offsetof(l720_train_cfg, field), 0, def, help}
#define KS(name, grp, field, def, help)                                                            \
    {name, L720_KEY_STRING, grp, offsetof(l720_train_cfg, field),                                  \
     sizeof(((l720_train_cfg *)0)->field), def, help}
#define M L720_KEY_MODEL
#define TR L720_KEY_TRAIN
#define R L720_KEY_RUN

const l720_cfg_key l720_cfg_keys[] = {
    KI("vocab", M, vocab, "0", "vocabulary size; 0: from the data (meta.json, else 50257)"),
    KI("d-model", M, d_model, "128", "model width"),
    KI("layers", M, layers, "4", "transformer blocks"),
    KI("heads", M, heads, "0", "attention heads; 0: d_model/64 (at least 1)"),
    KI("seq-len", M, seq_len, "256", "context length T"),
    KI("ffn-hidden", M, ffn_hidden, "0", "SwiGLU hidden size (dense and each MoE expert); 0: 3*d_model"),
    KS("ffn", M, ffn, "dense", "FFN kind: dense | moe:E | peer:N:h:k (N = n^2 experts)"),
    KS("ffn-layers", M, ffn_layers, "all", "layers that get --ffn: all | middle | list like 1,3 (others dense)"),
    KI("d-key", M, d_key, "0", "PEER query size d_k (even); 0: d_model/2"),
    KD("capacity-factor", M, capacity_factor, "1.25", "MoE training capacity factor"),
    KD("balance-coef", M, balance_coef, "0.01", "MoE load-balancing loss weight"),
    KD("zloss-coef", M, zloss_coef, "0.001", "MoE router z-loss weight"),
    KD("bn-momentum", M, bn_momentum, "0.1", "PEER query BatchNorm momentum"),
    KD("rope-theta", M, rope_theta, "10000", "RoPE base"),
    KI("steps", TR, steps, "1000", "total optimiser steps (the schedule spans them)"),
    KI("batch", TR, batch, "16", "sequences per micro-batch (per step without --grad-accum)"),
    KI("grad-accum", TR, grad_accum, "1", "micro-batches of --batch sequences per optimiser step; the step's gradient is their mean"),
    KD("lr", TR, lr, "0.001", "peak learning rate"),
    KI("warmup", TR, warmup, "50", "linear warm-up steps"),
    KD("decay-frac", TR, decay_frac, "0.2", "fraction of steps at the end with linear decay to zero"),
    KD("weight-decay", TR, weight_decay, "0.1", "AdamW decoupled weight decay (not on norms)"),
    KD("beta1", TR, beta1, "0.9", "AdamW beta1"),
    KD("beta2", TR, beta2, "0.95", "AdamW beta2"),
    KD("eps", TR, eps, "1e-8", "AdamW epsilon"),
    KD("grad-clip", TR, grad_clip, "1", "clip the global gradient norm to this; 0: off"),
    KI("batch-ramp", TR, batch_ramp, "0", "steps over which the batch grows from --batch-start; 0: off"),
    KI("batch-start", TR, batch_start, "1", "first batch size of the ramp"),
    KI("seed", TR, seed, "1", "seed of the initialisation and of the data order"),
    KI("stop-after", R, stop_after, "0", "stop (with a checkpoint) after this many steps in this invocation; 0: run to --steps"),
    KI("eval-every", R, eval_every, "100", "steps between evaluations (and the last step)"),
    KI("eval-tokens", R, eval_tokens, "16384", "validation tokens per evaluation"),
    KI("ckpt-every", R, ckpt_every, "0", "steps between checkpoints; 0: at every evaluation"),
    KS("device", R, device, "cpu", "cpu | cuda"),
    KI("debug-nan-step", R, debug_nan_step, "0", "test aid: poison the parameters with NaN before step N (from 1); 0: off"),
    {0},
};

static void normalise(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = in[i] == '_' ? '-' : in[i];
    out[i] = '\0';
}

const l720_cfg_key *l720_cfg_find(const char *name)
{
    char n[64];
    normalise(name, n, sizeof n);
    for (const l720_cfg_key *k = l720_cfg_keys; k->name; k++)
        if (!strcmp(k->name, n))
            return k;
    return NULL;
}

static int set_key(l720_train_cfg *cfg, const l720_cfg_key *k, const char *value,
                   const char *where, l720_err *err)
{
    char *dst = (char *)cfg + k->offset;
    double d;
    switch (k->type) {
    case L720_KEY_INT:
        if (l720_parse_number(value, &d) != 0 || !isfinite(d) || d != floor(d) || fabs(d) > 9e18)
            return l720_err_set(err, L720_EINPUT, "%s: key '%s': expected a whole number, got '%s'",
                                where, k->name, value);
        if (k->offset <= offsetof(l720_train_cfg, d_key)) { /* the int members */
            if (fabs(d) > 1e9)
                return l720_err_set(err, L720_EINPUT, "%s: key '%s': %s is out of range", where,
                                    k->name, value);
            *(int *)dst = (int)d;
        } else {
            *(long *)dst = (long)d;
        }
        return 0;
    case L720_KEY_DOUBLE:
        if (l720_parse_number(value, &d) != 0 || !isfinite(d))
            return l720_err_set(err, L720_EINPUT, "%s: key '%s': expected a finite number, got '%s'",
                                where, k->name, value);
        *(double *)dst = d;
        return 0;
    case L720_KEY_STRING:
        if (strlen(value) >= k->size)
            return l720_err_set(err, L720_EINPUT, "%s: key '%s': value longer than %zu characters",
                                where, k->name, k->size - 1);
        strcpy(dst, value);
        return 0;
    }
    return l720_err_set(err, L720_EFAIL, "key '%s': bad type", k->name);
}

void l720_cfg_defaults(l720_train_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const l720_cfg_key *k = l720_cfg_keys; k->name; k++)
        set_key(cfg, k, k->def, "defaults", NULL);
}

int l720_cfg_set(l720_train_cfg *cfg, const char *key, const char *value, const char *where,
                 l720_err *err)
{
    const l720_cfg_key *k = l720_cfg_find(key);
    if (!k)
        return l720_err_set(err, L720_EINPUT, "%s: unknown config key '%s' (see llm720 train "
                            "--help)", where, key);
    return set_key(cfg, k, value, where, err);
}

int l720_cfg_set_json(l720_train_cfg *cfg, const cJSON *obj, const char *where, l720_err *err)
{
    if (!cJSON_IsObject(obj))
        return l720_err_set(err, L720_EINPUT, "%s: expected a JSON object of config keys", where);
    for (const cJSON *it = obj->child; it; it = it->next) {
        char buf[64];
        const char *val = buf;
        if (cJSON_IsNumber(it))
            snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
        else if (cJSON_IsBool(it))
            snprintf(buf, sizeof buf, "%d", cJSON_IsTrue(it) ? 1 : 0);
        else if (cJSON_IsString(it))
            val = it->valuestring;
        else
            return l720_err_set(err, L720_EINPUT, "%s: key '%s': expected a number or a string",
                                where, it->string);
        int rc = l720_cfg_set(cfg, it->string, val, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

int l720_cfg_read_file(l720_train_cfg *cfg, const char *path, l720_err *err)
{
    size_t len;
    char *text = l720_read_file(path, &len, err);
    if (!text)
        return err->code ? err->code : L720_EINPUT;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    int rc;
    size_t pl = strlen(path);
    int is_json = pl > 5 && !strcmp(path + pl - 5, ".json");
    int is_lua = pl > 4 && !strcmp(path + pl - 4, ".lua");
    if (is_json || (!is_lua && *p == '{' && !strchr(text, '='))) {
        cJSON *j = l720_json_parse(text, len, path, err);
        rc = j ? l720_cfg_set_json(cfg, j, path, err) : err->code;
        cJSON_Delete(j);
    } else {
        rc = l720_cfg_read_lua(cfg, path, text, len, err);
    }
    free(text);
    return rc;
}

void l720_cfg_value_text(const l720_train_cfg *cfg, const l720_cfg_key *k, char *buf, size_t len)
{
    const char *src = (const char *)cfg + k->offset;
    switch (k->type) {
    case L720_KEY_INT:
        if (k->offset <= offsetof(l720_train_cfg, d_key))
            snprintf(buf, len, "%d", *(const int *)src);
        else
            snprintf(buf, len, "%ld", *(const long *)src);
        break;
    case L720_KEY_DOUBLE:
        snprintf(buf, len, "%.17g", *(const double *)src);
        break;
    case L720_KEY_STRING:
        snprintf(buf, len, "%s", src);
        break;
    }
}

cJSON *l720_cfg_to_json(const l720_train_cfg *cfg)
{
    cJSON *o = cJSON_CreateObject();
    for (const l720_cfg_key *k = l720_cfg_keys; k->name; k++) {
        char name[64], val[96];
        snprintf(name, sizeof name, "%s", k->name);
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        l720_cfg_value_text(cfg, k, val, sizeof val);
        if (k->type == L720_KEY_STRING)
            cJSON_AddStringToObject(o, name, val);
        else
            cJSON_AddNumberToObject(o, name, strtod(val, NULL));
    }
    return o;
}

int l720_cfg_check(const l720_train_cfg *cfg, l720_err *err)
{
    struct {
        const char *key;
        double v, lo, hi;
    } r[] = {
        {"steps", (double)cfg->steps, 1, 1e15},
        {"batch", (double)cfg->batch, 1, 1e6},
        {"grad-accum", (double)cfg->grad_accum, 1, 1e6},
        {"seq-len", cfg->seq_len, 1, 1e6},
        {"lr", cfg->lr, 0, 1e30},
        {"warmup", (double)cfg->warmup, 0, 1e15},
        {"decay-frac", cfg->decay_frac, 0, 1},
        {"weight-decay", cfg->weight_decay, 0, 1e6},
        {"beta1", cfg->beta1, 0, 0.999999999},
        {"beta2", cfg->beta2, 0, 0.999999999},
        {"eps", cfg->eps, 0, 1},
        {"grad-clip", cfg->grad_clip, 0, 1e30},
        {"batch-ramp", (double)cfg->batch_ramp, 0, 1e15},
        {"batch-start", (double)cfg->batch_start, 1, 1e6},
        {"seed", (double)cfg->seed, 0, 9007199254740992.0},
        {"stop-after", (double)cfg->stop_after, 0, 1e15},
        {"eval-every", (double)cfg->eval_every, 1, 1e15},
        {"eval-tokens", (double)cfg->eval_tokens, 1, 1e15},
        {"ckpt-every", (double)cfg->ckpt_every, 0, 1e15},
        {"debug-nan-step", (double)cfg->debug_nan_step, 0, 1e15},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!(r[i].v >= r[i].lo && r[i].v <= r[i].hi))
            return l720_err_set(err, L720_EINPUT, "key '%s': %g is outside [%g, %g]", r[i].key,
                                r[i].v, r[i].lo, r[i].hi);
    if (strcmp(cfg->device, "cpu") && strcmp(cfg->device, "cuda"))
        return l720_err_set(err, L720_EINPUT, "key 'device': expected cpu or cuda, got '%s'",
                            cfg->device);
    return 0;
}

int l720_ffn_parse(const char *spec, l720_ffn_spec *out, l720_err *err)
{
    memset(out, 0, sizeof *out);
    int a = 0, b = 0, c = 0, n = 0;
    char tail;
    if (!strcmp(spec, "dense")) {
        out->kind = L720_FFN_DENSE;
        return 0;
    }
    if (sscanf(spec, "moe:%d%n", &a, &n) == 1 && spec[n] == '\0' && a >= 1) {
        out->kind = L720_FFN_MOE;
        out->n_experts = a;
        out->topk = 1;
        return 0;
    }
    if (sscanf(spec, "peer:%d:%d:%d%c", &a, &b, &c, &tail) == 3 && a >= 1 && b >= 1 && c >= 1) {
        out->kind = L720_FFN_PEER;
        out->n_experts = a;
        out->heads = b;
        out->topk = c;
        return 0;
    }
    return l720_err_set(err, L720_EINPUT, "key 'ffn': expected dense, moe:E or peer:N:h:k, "
                        "got '%s'", spec);
}
