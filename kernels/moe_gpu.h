/* moe_gpu.h: the Switch feed-forward (trainer/moe.h) on the GPU: E SwiGLU
 * experts, top-1 routing, capacity drops when training, Switch balance loss
 * and router z-loss. C API over device pointers; bf16 buffers are uint16_t,
 * stream is a cudaStream_t. All calls return 0 or an l720_err.
 *
 * Function (the CPU layer's, trainer/moe.h): router logits z = x Wr^T [N, E]
 * in fp32 from the fp32 router master weights, p = softmax(z), expert
 * e = argmax p (lowest index on ties), out += p_e * SwiGLU_e(x). Training
 * (capacity_factor > 0): expert e keeps its first ceil(capacity_factor*N/E)
 * tokens in token order, a dropped token adds nothing. capacity_factor <= 0:
 * dropless (evaluation).
 *
 * Dispatch: tokens are sorted by expert (stable: token order inside an
 * expert), gathered into expert-major rows, and each matrix product of the
 * experts runs as one grouped product over the experts; outputs are
 * scattered back with their gate. Deterministic: no atomics on outputs or
 * weight gradients; two runs give bitwise-identical results.
 *
 * Parameter layouts are the CPU model's (trainer/MODEL.md):
 *   router [E, C] fp32; w1, w3 [E*H, C] (expert e: rows e*H ..);
 *   w2 [E*C, H] (expert e: rows e*C ..); bf16 working copies for w1, w3, w2.
 * C and H must be multiples of 16 and 1 <= E <= 1024 (code 2 otherwise);
 * device pointers 16-byte aligned (vector loads; x, dout, router, out and dx
 * are checked: code 2).
 */
#ifndef L720_MOE_GPU_H
#define L720_MOE_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"
#include "kernels/gemm.h"

typedef struct l720_moe_gpu l720_moe_gpu;

/* Device bytes of the workspace for up to max_N tokens (without weights). */
size_t l720_moe_gpu_workspace_bytes(int max_N, int C, int H, int E);

/* Checks the sizes (code 2 names the field) and allocates the workspace.
 * Needs a current CUDA device. */
l720_moe_gpu *l720_moe_gpu_new(int max_N, int C, int H, int E, l720_err *err);
void l720_moe_gpu_free(l720_moe_gpu *m);

/* out [N, C] fp32 += the layer's output for x [N, C] bf16 (the FFN RMSNorm
 * output). Keeps what the backward needs. Asynchronous on the stream. */
int l720_moe_gpu_forward(l720_moe_gpu *m, l720_gemm *g, float *out, const uint16_t *x,
                         const float *router, const uint16_t *w1, const uint16_t *w3,
                         const uint16_t *w2, int N, float capacity_factor, void *stream,
                         l720_err *err);

/* Auxiliary terms of the last forward, on the device: [2] floats, the
 * unweighted balance E * sum_e f_e P_e and z-loss mean_n (logsumexp z_n)^2. */
const float *l720_moe_gpu_aux(const l720_moe_gpu *m);

/* Chosen expert of each token of the last forward, on the device: [N]. */
const int32_t *l720_moe_gpu_expert(const l720_moe_gpu *m);

/* Gradient of <dout, out> + balance_coef * balance + zloss_coef * zloss for
 * the last training forward: dx [N, C] fp32 written (overwritten, not added
 * to); drouter [E, C], dw1, dw3 [E*H, C], dw2 [E*C, H] fp32 written. dout
 * [N, C] bf16. */
int l720_moe_gpu_backward(l720_moe_gpu *m, l720_gemm *g, float *dx, float *drouter, float *dw1,
                          float *dw3, float *dw2, const uint16_t *dout, const uint16_t *x,
                          const float *router, const uint16_t *w1, const uint16_t *w3,
                          const uint16_t *w2, float balance_coef, float zloss_coef, void *stream,
                          l720_err *err);

/* Gradient accumulation: add != 0 makes the next backwards ADD their
 * drouter, dw1, dw3, dw2 to what those arrays hold (beta 1 in the products;
 * nothing cleared); dx is written either way. Default 0: written. */
void l720_moe_gpu_set_grad_add(l720_moe_gpu *m, int add);

/* Layout of the expert rows (kernels/moe_gpu.cu): tight != 0 makes each
 * training forward read the largest expert load back to the host (one
 * synchronisation) and pad every expert only to it instead of to the
 * capacity (fewer rows in the products; the result is the same function).
 * Default 0: training runs without host synchronisation. */
void l720_moe_gpu_set_tight(l720_moe_gpu *m, int tight);

/* Rows the expert products ran on in the last forward (host value; padding
 * included): E * capacity rounded up to 16 when padded. */
int l720_moe_gpu_rows(const l720_moe_gpu *m);

#ifdef __cplusplus
}
#endif

#endif
