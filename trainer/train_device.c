/* train_device.c: the device hook of the training driver (train_device.h).
 *
 * HOOK for the GPU trainer: in a CUDA build, replace the body of the #else
 * branch with a call into kernels/ (device present? GPU model linked?). */
#include "config.h"
#include "train_device.h"
#ifdef HAVE_CUDA
#include "kernels/gpu_device.h"
#endif

int l720_train_cuda_available(l720_err *err)
{
#ifndef HAVE_CUDA
    l720_err_set(err, L720_EINPUT, "--device cuda: this build has no CUDA (configure found no nvcc)");
#else
    char name[256];
    if (!l720_gpu_available(name, sizeof name, err))
        return 0;
    l720_err_set(err, L720_EINPUT, "--device cuda: found %s, but the GPU training loop is not "
                 "linked into this build yet (use --device cpu)", name);
#endif
    return 0;
}
