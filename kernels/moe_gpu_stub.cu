/* moe_gpu_stub.cu: stands in for the GPU Switch-MoE layer (moe_gpu.h) until
 * its implementation is built: every model with a MoE layer is refused with
 * a code-2 error, so the whole GPU model links and runs dense and PEER
 * layers. Removed when moe_gpu.cu lands. */
#include "kernels/gpu_util.cuh"
#include "kernels/moe_gpu.h"

extern "C" size_t l720_moe_gpu_workspace_bytes(int, int, int, int) { return 0; }

extern "C" l720_moe_gpu *l720_moe_gpu_new(int, int, int, int, l720_err *err)
{
    l720_err_set(err, L720_EINPUT,
                 "the GPU model has no Switch-MoE layer in this build yet (use --device cpu "
                 "for MoE layers)");
    return NULL;
}

extern "C" void l720_moe_gpu_free(l720_moe_gpu *) {}

extern "C" int l720_moe_gpu_forward(l720_moe_gpu *, l720_gemm *, float *, const uint16_t *,
                                    const float *, const uint16_t *, const uint16_t *,
                                    const uint16_t *, int, float, void *, l720_err *err)
{
    return l720_err_set(err, L720_EINPUT, "moe: not built");
}

extern "C" const float *l720_moe_gpu_aux(const l720_moe_gpu *) { return NULL; }
extern "C" const int32_t *l720_moe_gpu_expert(const l720_moe_gpu *) { return NULL; }

extern "C" int l720_moe_gpu_backward(l720_moe_gpu *, l720_gemm *, float *, float *, float *,
                                     float *, float *, const uint16_t *, const uint16_t *,
                                     const float *, const uint16_t *, const uint16_t *,
                                     const uint16_t *, float, float, void *, l720_err *err)
{
    return l720_err_set(err, L720_EINPUT, "moe: not built");
}
