/* train_device.h: the hook between the training driver and a GPU trainer.
 *
 * l720_train_cuda_available() says whether `--device cuda` can run: 1 when it
 * can, 0 with err filled (code 2) when not. A build without CUDA answers 0
 * with "this build has no CUDA (configure found no nvcc)" (train_device.c);
 * a CUDA build takes the definition from the GPU trainer (kernels/), which
 * also checks that a device is present.
 */
#ifndef L720_TRAIN_DEVICE_H
#define L720_TRAIN_DEVICE_H

#include "err.h"

int l720_train_cuda_available(l720_err *err);

#endif
