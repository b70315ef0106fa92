/* train_backend.h: where a run's model computes (internal to train*.c).
 *
 * The driver (train.c, train_eval.c) keeps the host model l720_run.model and
 * optimiser l720_run.opt in every case: the configuration, the tensor table,
 * the parameter counts, and the arrays a checkpoint is written from and
 * restored into. A backend runs the steps and evaluations:
 *   cpu  (train_step_cpu.c):  on the host model itself;
 *   cuda (train_step_cuda.c, CUDA builds only): on the GPU model of
 *        kernels/gpu_model.h, which takes the host state at start and gives
 *        it back before every checkpoint.
 * Both follow one step (train.c): K = grad_accum times [forward (training)
 * -> non-finite check -> backward], the first backward replacing the
 * gradients and the others adding to them; the last one also gives the
 * norm of the sum; then clip scale -> AdamW with g = scale / K * sum.
 */
#ifndef L720_TRAIN_BACKEND_H
#define L720_TRAIN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "trainer/model.h"
#include "trainer/optim.h"

struct l720_run;

typedef struct l720_backend {
    const char *device; /* the --device value: "cpu" or "cuda" */
    /* 1: the host model only mirrors the state (built for one sequence). */
    int host_mirror;
    /* Before the host model is built: can the model run here (memory)?
     * NULL: always. */
    int (*fits)(struct l720_run *r, const l720_model_cfg *mc, l720_err *err);
    /* The host model and optimiser hold the initial or restored state:
     * take it. NULL: nothing to do. */
    int (*start)(struct l720_run *r, l720_err *err);
    /* Forward of tokens/targets [B*T] (training: a micro-batch of the step;
     * the gradients are left as they are). */
    int (*forward)(struct l720_run *r, const int32_t *tokens, const int32_t *targets, int B,
                   int T, int training, l720_forward_out *out, l720_err *err);
    /* Gradient of the last training forward: accumulate 0 replaces the
     * gradients (rows of lazy tensors included), 1 adds to them (the
     * touched rows become the union). norm non-NULL: the L2 norm of the
     * gradients held afterwards (lazy tensors: over the touched rows). */
    int (*backward)(struct l720_run *r, int accumulate, double *norm, l720_err *err);
    /* One AdamW step with g = scale * grad (the optimiser's t += 1); returns
     * when the device is done (the step's time is read after it). */
    int (*update)(struct l720_run *r, const l720_adamw_hp *hp, double scale, l720_err *err);
    /* Test aid (--debug-nan-step): every parameter becomes NaN. */
    int (*poison)(struct l720_run *r, l720_err *err);
    /* Copies the state into the host model and optimiser (before a
     * checkpoint). NULL: the host model is the state. */
    int (*to_host)(struct l720_run *r, l720_err *err);
    /* Expert ids of a routed layer in the last evaluation forward:
     * [B*T*per_token], valid until the next forward. */
    const int32_t *(*routing)(struct l720_run *r, int layer, int *per_token, l720_err *err);
    /* Expert usage over evaluation forwards since the last reset
     * (l720_model_expert_stats). */
    int (*expert_stats)(struct l720_run *r, int layer, double *frac_used, double *kl);
    void (*reset_stats)(struct l720_run *r);
    /* Frees what start and fits made (also after a failed start). */
    void (*stop)(struct l720_run *r);
} l720_backend;

extern const l720_backend l720_backend_cpu;

/* The cuda backend, or NULL with err (code 2) when `--device cuda` cannot
 * run: a build without CUDA (train_device.c) or no GPU (train_step_cuda.c). */
const l720_backend *l720_backend_cuda(char *name, size_t name_len, l720_err *err);

#endif
