/* train_state.h: what a run holds while it trains (internal to train*.c). */
#ifndef L720_TRAIN_STATE_H
#define L720_TRAIN_STATE_H

#include <stdint.h>

#include "trainer/ckpt.h"
#include "trainer/config_train.h"
#include "trainer/data.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/train.h"
#include "trainer/train_backend.h"
#include "trainer/train_log.h"

typedef struct l720_run {
    l720_train_cfg *cfg;
    const l720_train_opts *o;
    l720_shards *ds;
    l720_model *model;
    l720_adamw *opt;
    l720_loader *loader;
    l720_runlog *log;
    const l720_backend *be; /* where the steps run (train_backend.h) */
    void *dev;              /* the backend's own state (cuda: the GPU model) */
    char device_name[128];  /* "cpu", or the GPU's name */
    int32_t *val;       /* [n_val * T + 1] validation tokens */
    size_t n_val;       /* validation windows */
    int32_t *tokens;    /* [batch * T] */
    int32_t *targets;   /* [batch * T] */
    const uint8_t **touched; /* [n_tensors] */
    l720_ckpt_meta meta; /* step, tokens, data position, counters */
    double lr;          /* of the last step */
    double entropy;     /* unigram, nats/token */
    double start;       /* monotonic time at the start of this invocation */
    double wall0;       /* wall seconds of earlier invocations */
    char ckpt_path[4096], log_path[4096];
} l720_run;

double l720_run_now(void);

/* Evaluates on the validation windows, writes the eval line (and the trace
 * at the last step when asked), reports it through on_eval. */
int l720_run_eval(l720_run *r, l720_train_result *res, l720_err *err);

/* The routed (MoE/PEER) layers of a model for a trace: their indices, count,
 * experts N and experts per token K; an error when there are none or they
 * differ in N or K. */
int l720_run_trace_shape(const l720_model_cfg *c, int *routed, int *n_routed, int *experts,
                         int *per_token, l720_err *err);

/* The header line of the log. */
int l720_run_header(l720_run *r, l720_err *err);

/* Saves the checkpoint of the current state. */
int l720_run_save(l720_run *r, l720_err *err);

#endif
