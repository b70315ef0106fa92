/* optim.h: AdamW with global-norm gradient clipping and lazy rows, and the
 * learning-rate and batch-size schedule.
 *
 * AdamW (decoupled weight decay, as in PyTorch and llm.c), step t >= 1:
 *   g = clip_scale * grad
 *   p -= lr * wd * p                     (tensors without no_decay)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Clipping: clip_scale = min(1, clip / ||grad||_2) over all parameters.
 *
 * Lazy rows (tensors with sparse_rows, the PEER expert tables): only rows
 * touched in the step (touched[r] = 1) are updated; an untouched row keeps
 * its parameters, m and v exactly, with no decay and no momentum drift
 * (the "lazy Adam" of sparse embeddings). A touched row uses the global step
 * t for bias correction. Untouched rows hold zero gradient and are skipped in
 * the norm. So a row's moments describe the steps it was used in, and the
 * cost of a step is proportional to the rows used, not to the table.
 */
#ifndef L720_OPTIM_H
#define L720_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "trainer/model.h"

typedef struct l720_adamw_hp {
    double lr, beta1, beta2, eps, weight_decay;
} l720_adamw_hp;

typedef struct l720_adamw {
    size_t n;   /* parameters */
    float *m;   /* [n] first moments */
    float *v;   /* [n] second moments */
    uint64_t t; /* steps taken */
} l720_adamw;

l720_adamw *l720_adamw_new(size_t n, l720_err *err);
void l720_adamw_free(l720_adamw *o);

/* touched[i]: rows of tensor i updated this step ([rows] 0/1), or NULL for a
 * dense tensor (every row). */

/* L2 norm of the gradient over all tensors (skipping untouched rows),
 * summed in a fixed order (deterministic). */
double l720_grad_norm(const float *grad, const l720_tensor *ts, int nt,
                      const uint8_t *const *touched);

/* The scale for l720_adamw_step when grad holds the sum of k micro-batch
 * gradients whose norm is sum_norm: clip_scale of their mean (norm
 * sum_norm / k, clip <= 0: no clipping) divided by k. */
double l720_accum_scale(double sum_norm, int k, double clip);

/* One step: t += 1, then the update above with g = scale * grad. */
void l720_adamw_step(l720_adamw *o, float *params, const float *grad, const l720_tensor *ts,
                     int nt, const uint8_t *const *touched, const l720_adamw_hp *hp,
                     double scale);

/* Schedule over `steps` steps (step s = 0 .. steps-1):
 * warm-up: lr (s + 1) / warmup for s < warmup; then constant lr; over the
 * last decay_frac of the steps, linear decay: lr (steps - s) / n_decay, which
 * reaches zero at the end (the joint-MoE paper's schedule).
 * Batch ramp: for s < ramp_steps the batch grows linearly from batch_start to
 * batch (whole sequences); ramp_steps = 0: no ramp. */
typedef struct l720_schedule {
    double lr;
    long steps, warmup;
    double decay_frac;
    long ramp_steps;
    int batch_start, batch;
} l720_schedule;

double l720_schedule_lr(const l720_schedule *s, long step);
int l720_schedule_batch(const l720_schedule *s, long step);

#endif
