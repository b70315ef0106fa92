/* train_device.c: the cuda backend of a build without CUDA (train_backend.h):
 * there is none. CUDA builds take train_step_cuda.c instead (run.mk). */
#include "trainer/train_state.h"

const l720_backend *l720_backend_cuda(char *name, size_t name_len, l720_err *err)
{
    if (name && name_len)
        name[0] = '\0';
    l720_err_set(err, L720_EINPUT, "--device cuda: this build has no CUDA (configure found no "
                 "nvcc)");
    return NULL;
}
