/* gpu_device.cu: see gpu_device.h. */
#include <stdio.h>

#include "gpu_device.h"
#include "gpu_util.cuh"

int l720_gpu_available(char *name, size_t name_len, l720_err *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        l720_err_set(err, L720_EINPUT, "--device cuda: no usable CUDA device (%s)",
                     cudaGetErrorString(e));
        return 0;
    }
    if (count < 1) {
        l720_err_set(err, L720_EINPUT, "--device cuda: no CUDA device found");
        return 0;
    }
    if (name && name_len) {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            snprintf(name, name_len, "%s", prop.name);
        else
            name[0] = '\0';
    }
    return 1;
}

int l720_gpu_memory(size_t *free_b, size_t *total_b, l720_err *err)
{
    GPU_CK(cudaMemGetInfo(free_b, total_b));
    return 0;
}

int l720_gpu_sync(l720_err *err)
{
    GPU_CK(cudaDeviceSynchronize());
    return 0;
}
