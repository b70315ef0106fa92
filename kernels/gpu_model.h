/* gpu_model.h: the whole transformer of trainer/model.h on the GPU, with any
 * mix of dense, Switch-MoE and PEER feed-forward layers: bf16 weights and
 * activations into cuBLASLt products with fp32 accumulation; fp32 master
 * weights, gradients and AdamW moments. Same function, parameter layout,
 * buffers (PEER BatchNorm statistics) and optimiser (trainer/optim.h: global
 * norm clipping, lazy rows for PEER u and v) as the CPU reference, so that
 * parameters, gradients and checkpoints compare element by element and a run
 * can move between the CPU and the GPU through a checkpoint.
 *
 * Deterministic: no atomics on values that are summed; the same inputs give
 * bitwise-identical losses, gradients and parameters on every run.
 *
 * Host arrays below use the CPU model's layout (l720_model_tensors): params,
 * grads, moments [n_params] floats; buffers [n_buffers] floats
 * (l720_model_buffers). Calls return 0 or an l720_err (code 2 for bad input,
 * 1 for device failures).
 */
#ifndef L720_GPU_MODEL_H
#define L720_GPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "kernels/gemm.h"

typedef struct l720_gpu_model l720_gpu_model;

/* Device bytes a model of this configuration needs for max_batch sequences
 * of cfg->seq_len tokens (weights, gradients, moments, activations, work). */
size_t l720_gpu_model_bytes(const l720_model_cfg *cfg, int max_batch);

/* Builds the model on the current device with zero parameters and moments.
 * ts [nt]: the CPU model's tensor table for cfg (l720_model_tensors), which
 * fixes the layout (kernels/ does not link the CPU model). A model that does
 * not fit is refused before anything is allocated: code 2, "needs X bytes,
 * Y free". cfg must have passed l720_model_cfg_check. ts NULL: the layout
 * documented in trainer/model.c, unchecked (for programs that do not link
 * the CPU model, such as the benchmarks). */
l720_gpu_model *l720_gpu_model_new(const l720_model_cfg *cfg, const l720_tensor *ts, int nt,
                                   int max_batch, l720_err *err);
void l720_gpu_model_free(l720_gpu_model *m);

/* Host <-> device copies of the whole state. m_adam / v_adam may be NULL
 * (zeros on set, skipped on get); buffers may be NULL when the model has
 * none. step is the optimiser's step count t. */
int l720_gpu_model_set_state(l720_gpu_model *m, const float *params, const float *buffers,
                             const float *m_adam, const float *v_adam, uint64_t step,
                             l720_err *err);
int l720_gpu_model_get_state(l720_gpu_model *m, float *params, float *buffers, float *m_adam,
                             float *v_adam, l720_err *err);

/* Gradients of the last backward in the full layout (rows of PEER u and v
 * that no token touched are 0). */
int l720_gpu_model_get_grads(l720_gpu_model *m, float *grads, l720_err *err);

/* Forward of host tokens/targets [B*T] as l720_model_forward (training: batch
 * BatchNorm statistics, which updates the running ones, and MoE capacity;
 * otherwise running statistics and dropless). Out-of-range tokens: code 2. */
int l720_gpu_model_forward(l720_gpu_model *m, const int32_t *tokens, const int32_t *targets,
                           int B, int T, int training, l720_forward_out *out, l720_err *err);

/* Gradient of loss + aux_loss of the last training forward (overwrites). */
int l720_gpu_model_backward(l720_gpu_model *m, l720_err *err);

/* Gradient accumulation: the same gradient ADDED to the gradients held
 * (those of the last l720_gpu_model_backward and of any backward_add since),
 * so that after a backward and K - 1 backward_adds over K micro-batches the
 * gradients hold the sum of the K micro-gradients (grad_norm and AdamW then
 * see that sum: scale by 1/K there for the mean). Weight-gradient products
 * run with beta 1, nothing is cleared, the embedding, MoE and PEER dense
 * gradients are summed into; PEER u and v: the rows touched in any
 * micro-batch hold the sum of their row gradients, the touched list becomes
 * the union (ascending, unique) that grad_norm and the lazy AdamW walk, and
 * every other row stays 0. Deterministic (no atomics on summed values).
 * Code 2 without an earlier backward since set_state / poison. */
int l720_gpu_model_backward_add(l720_gpu_model *m, l720_err *err);

/* L2 norm of the gradient as l720_grad_norm (untouched rows skipped). */
int l720_gpu_model_grad_norm(l720_gpu_model *m, double *norm, l720_err *err);

/* One AdamW step as l720_adamw_step with g = scale * grad (step t += 1). */
int l720_gpu_model_adamw_step(l720_gpu_model *m, const l720_adamw_hp *hp, double scale,
                              l720_err *err);

/* Expert ids of one routed layer chosen in the last forward, copied to host
 * ids [B*T*per_token] (per_token 1 for MoE, h*k for PEER). Code 2 for a
 * dense layer. */
int l720_gpu_model_routing(l720_gpu_model *m, int layer, int32_t *ids, int *per_token,
                           l720_err *err);

/* Checks: fills the gradients and every activation and scratch buffer with
 * NaN (parameters, moments and buffers are kept), so that a check sees any
 * value a pass fails to write. The next backward rewrites all gradients. */
int l720_gpu_model_poison(l720_gpu_model *m, l720_err *err);

/* AdamW steps taken (set_state's step plus the steps since). */
uint64_t l720_gpu_model_steps(const l720_gpu_model *m);

/* The cudaStream_t the model works on (for timing with events). */
void *l720_gpu_model_stream(l720_gpu_model *m);

/* The product handle of the dense, attention and MoE layers (to switch its
 * tuning or read what it chose: gemm.h); owned by the model. */
l720_gemm *l720_gpu_model_gemm(l720_gpu_model *m);

#ifdef __cplusplus
}
#endif

#endif
