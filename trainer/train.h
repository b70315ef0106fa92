/* train.h: the training driver: a run of the CPU reference model over a
 * data directory, with evaluations, a JSON Lines run log, checkpoints,
 * resume, an optional routing trace, and clean stops.
 *
 * RUNDIR holds log.jsonl (train_log.h) and checkpoint.bin (ckpt.h). A
 * checkpoint is written at every evaluation (or every ckpt_every steps), at
 * the end, at --stop-after, and when *stop becomes non-zero (Ctrl-C).
 * --resume restores everything a step depends on (parameters, BatchNorm
 * statistics, optimiser moments and step, data position, counters), so a
 * resumed run computes the same losses, bit for bit, as an uninterrupted one
 * on the same machine and thread count.
 *
 * A non-finite loss or gradient norm stops the run before the optimiser
 * step: the last checkpoint and the log stay as they were, and the error
 * names the step (code 1).
 */
#ifndef L720_TRAIN_H
#define L720_TRAIN_H

#include <signal.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "trainer/config_train.h"

/* Returned by l720_train_run when *stop ended the run (after the
 * checkpoint was saved): the shell's status for SIGINT. */
#define L720_TRAIN_INTERRUPTED 130

typedef struct l720_train_opts {
    const char *data_dir;
    const char *out_dir;
    const char *trace_path;          /* NULL: no trace */
    int resume;                      /* 1: continue from out_dir/checkpoint.bin */
    volatile sig_atomic_t *stop;     /* polled before every step; NULL allowed */
    void *ctx;                       /* passed to the callbacks */
    void (*on_step)(void *ctx, long step, long steps, double loss);
    void (*on_eval)(void *ctx, const cJSON *eval); /* the log line, just written */
} l720_train_opts;

typedef struct l720_train_result {
    long step;              /* steps done */
    double tokens;          /* training tokens seen */
    double train_loss;      /* mean training loss over the last evaluation interval */
    double val_loss;        /* last evaluation */
    double unigram_entropy; /* nats/token of the training tokens */
    double tokens_per_second;
    double n_act, n_total;
    double wall_seconds;
    int vocab;
} l720_train_result;

/* Reads the configuration stored in out_dir/checkpoint.bin into cfg (on
 * top of what cfg holds), for --resume: flags applied afterwards override.
 * stop-after and debug-nan-step belong to one invocation: they are reset. */
int l720_train_resume_config(const char *out_dir, l720_train_cfg *cfg, l720_err *err);

/* Runs (or resumes) training. cfg->vocab 0 is filled from the data. Returns
 * 0, L720_TRAIN_INTERRUPTED, L720_EINPUT (bad input) or L720_EFAIL. */
int l720_train_run(l720_train_cfg *cfg, const l720_train_opts *o, l720_train_result *res,
                   l720_err *err);

#endif
