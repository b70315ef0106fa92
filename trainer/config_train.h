/* config_train.h: the training configuration: one table of keys that serves the
 * config file (JSON object or Lua table), the command-line flags (--KEY) and
 * the run log header, so the three never disagree.
 *
 * Keys are spelled with '-' or '_' alike (d-model = d_model). A key that is
 * not in the table is an error naming it. Model keys define the model: a
 * resumed run may not change them.
 */
#ifndef L720_CONFIG_TRAIN_H
#define L720_CONFIG_TRAIN_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "trainer/model.h"

typedef struct l720_train_cfg {
    /* model */
    int vocab; /* 0: from the data directory */
    int d_model, layers, heads, seq_len, ffn_hidden, d_key;
    char ffn[64];        /* dense | moe:E | peer:N:h:k */
    char ffn_layers[64]; /* all | middle | comma-separated layer indices */
    double capacity_factor, balance_coef, zloss_coef, bn_momentum, rope_theta;
    /* optimisation */
    long steps, batch, grad_accum, warmup, batch_ramp, batch_start;
    double lr, decay_frac, weight_decay, beta1, beta2, eps, grad_clip;
    long seed;
    /* run */
    long stop_after, eval_every, eval_tokens, ckpt_every;
    char device[16]; /* cpu | cuda */
    long debug_nan_step; /* > 0: poison the parameters before that step (tests) */
} l720_train_cfg;

typedef enum { L720_KEY_INT, L720_KEY_DOUBLE, L720_KEY_STRING } l720_key_type;
typedef enum { L720_KEY_MODEL, L720_KEY_TRAIN, L720_KEY_RUN } l720_key_group;

typedef struct l720_cfg_key {
    const char *name; /* with '-' */
    l720_key_type type;
    l720_key_group group;
    size_t offset;    /* into l720_train_cfg */
    size_t size;      /* string capacity */
    const char *def;  /* default, as text */
    const char *help;
} l720_cfg_key;

/* The keys, ending with {0}. */
extern const l720_cfg_key l720_cfg_keys[];

/* Finds a key ('_' or '-'), or NULL. */
const l720_cfg_key *l720_cfg_find(const char *name);

/* Every key at its default. */
void l720_cfg_defaults(l720_train_cfg *cfg);

/* Sets one key from text; where names the source in messages ("FILE" or
 * "flag"). Unknown key, bad number, string too long: code 2. */
int l720_cfg_set(l720_train_cfg *cfg, const char *key, const char *value, const char *where,
                 l720_err *err);

/* Sets every member of a JSON object (numbers, strings, booleans). */
int l720_cfg_set_json(l720_train_cfg *cfg, const cJSON *obj, const char *where, l720_err *err);

/* Reads a config file: JSON when it starts with '{' (after blanks), else a
 * Lua chunk that returns a table (or a bare table constructor). */
int l720_cfg_read_file(l720_train_cfg *cfg, const char *path, l720_err *err);

/* The whole configuration as a JSON object, keys with '_'. */
cJSON *l720_cfg_to_json(const l720_train_cfg *cfg);

/* Value of a key as text (for messages and comparisons). */
void l720_cfg_value_text(const l720_train_cfg *cfg, const l720_cfg_key *k, char *buf,
                         size_t len);

/* Fills the model configuration (ffn specs included) and checks the
 * training keys: ranges, and the model's own shape checks. */
int l720_cfg_model(const l720_train_cfg *cfg, l720_model_cfg *mc, l720_err *err);
int l720_cfg_check(const l720_train_cfg *cfg, l720_err *err);

/* Parses an FFN spec ("dense", "moe:8", "peer:16384:4:8"). */
int l720_ffn_parse(const char *spec, l720_ffn_spec *out, l720_err *err);

/* Lua table reader (config_lua.c). */
int l720_cfg_read_lua(l720_train_cfg *cfg, const char *path, const char *text, size_t len,
                      l720_err *err);

#endif
