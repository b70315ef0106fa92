/* gpu_device.h: is there a usable CUDA device? C API, built only with CUDA. */
#ifndef L720_GPU_DEVICE_H
#define L720_GPU_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "err.h"

/* 1 when a CUDA device answers, with its name (name may be NULL); 0 with
 * err filled (code 2) naming the reason otherwise. */
int l720_gpu_available(char *name, size_t name_len, l720_err *err);

/* Free and total device memory in bytes; 0, or an error (code 1). */
int l720_gpu_memory(size_t *free_b, size_t *total_b, l720_err *err);

/* Waits until the current device has finished all its work; 0, or the
 * error of that work (code 1). */
int l720_gpu_sync(l720_err *err);

#ifdef __cplusplus
}
#endif

#endif
