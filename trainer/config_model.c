/* config_model.c: the model part of the training configuration (see
 * config_train.h): FFN specs, the layers that get them, and the model's
 * own shape checks. */
#include "config_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks the layers that get the --ffn kind. */
static int ffn_layers(const l720_train_cfg *cfg, int *sel, l720_err *err)
{
    const char *s = cfg->ffn_layers;
    if (!strcmp(s, "all")) {
        for (int l = 0; l < cfg->layers; l++)
            sel[l] = 1;
        return 0;
    }
    if (!strcmp(s, "middle")) {
        sel[cfg->layers / 2] = 1;
        return 0;
    }
    while (*s) {
        char *end;
        long l = strtol(s, &end, 10);
        if (end == s || l < 0 || l >= cfg->layers || (*end && *end != ','))
            return l720_err_set(err, L720_EINPUT, "key 'ffn-layers': expected all, middle or "
                                "layer indices in [0, %d) separated by commas, got '%s'",
                                cfg->layers, cfg->ffn_layers);
        sel[l] = 1;
        s = *end ? end + 1 : end;
    }
    return 0;
}

int l720_cfg_model(const l720_train_cfg *cfg, l720_model_cfg *mc, l720_err *err)
{
    memset(mc, 0, sizeof *mc);
    if (cfg->layers < 1 || cfg->layers > L720_MAX_LAYERS)
        return l720_err_set(err, L720_EINPUT, "key 'layers': expected 1 to %d, got %d",
                            L720_MAX_LAYERS, cfg->layers);
    if (cfg->d_model < 2)
        return l720_err_set(err, L720_EINPUT, "key 'd-model': expected at least 2, got %d",
                            cfg->d_model);
    mc->vocab = cfg->vocab;
    mc->d_model = cfg->d_model;
    mc->n_layers = cfg->layers;
    mc->n_heads = cfg->heads > 0 ? cfg->heads : (cfg->d_model / 64 > 1 ? cfg->d_model / 64 : 1);
    mc->seq_len = cfg->seq_len;
    mc->ffn_hidden = cfg->ffn_hidden;
    mc->capacity_factor = (float)cfg->capacity_factor;
    mc->balance_coef = (float)cfg->balance_coef;
    mc->zloss_coef = (float)cfg->zloss_coef;
    mc->bn_momentum = (float)cfg->bn_momentum;
    mc->rope_theta = (float)cfg->rope_theta;
    l720_ffn_spec spec;
    int rc = l720_ffn_parse(cfg->ffn, &spec, err);
    if (rc)
        return rc;
    spec.d_key = cfg->d_key;
    int sel[L720_MAX_LAYERS] = {0};
    if ((rc = ffn_layers(cfg, sel, err)))
        return rc;
    for (int l = 0; l < cfg->layers; l++) {
        if (sel[l])
            mc->ffn[l] = spec;
        else
            mc->ffn[l].kind = L720_FFN_DENSE;
    }
    return l720_model_cfg_check(mc, err);
}

