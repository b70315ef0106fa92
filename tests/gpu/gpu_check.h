/* gpu_check.h: what the GPU checks (tests/test_gpu_*.cu) share: stopping
 * with a TAP "Bail out!" on a CUDA or library failure, the visible SKIP on a
 * machine without a GPU, the seed (argv[1], or the time) printed so a run can
 * be repeated, the xorshift generator most of them draw inputs from,
 * NaN-poisoned device buffers with their uploads and downloads, and the log
 * of named checks with its closing table. */
#ifndef L720_GPU_CHECK_H
#define L720_GPU_CHECK_H

#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>

#include <string>
#include <vector>

#include "tests/gpu/host_bf16.h"

/* A CUDA runtime call that must succeed. */
#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            printf("Bail out! %s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A project call that must return 0; its message is in the l720_err `err`. */
#define OKR(call)                                                                                  \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            printf("Bail out! %s:%d: %s\n", __FILE__, __LINE__, err.msg);                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* 0 after printing the TAP skip line when no GPU answers; otherwise 1 with
 * *seed from argv[1] (or the time), printed. */
static inline int gpu_check_begin(int argc, char **argv, uint64_t *seed)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
        printf("1..0 # SKIP no GPU\n");
        return 0;
    }
    *seed = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
    printf("# seed %llu\n", (unsigned long long)*seed);
    return 1;
}

/* xorshift64: the state for a seed, and a uniform draw in [0, 1). */
static inline uint64_t gpu_check_rng_state(uint64_t seed)
{
    return seed * 2654435761u + 88172645463325252ull;
}
static inline double gpu_check_uniform(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Device buffers of the checks: n elements filled with NaN (0xff bytes), so a
 * value the code under test should have written and did not shows; host
 * floats uploaded as fp32 or rounded to bf16; n floats downloaded after the
 * device has finished. */
template <typename T> static inline T *dnew(size_t n)
{
    T *p;
    CK(cudaMalloc(&p, (n ? n : 1) * sizeof(T)));
    CK(cudaMemset(p, 0xff, (n ? n : 1) * sizeof(T)));
    return p;
}
static inline float *dup(const std::vector<float> &v)
{
    float *p = dnew<float>(v.size());
    CK(cudaMemcpy(p, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
    return p;
}
static inline uint16_t *dupbf(const std::vector<float> &v)
{
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); i++)
        h[i] = h_f2bf(v[i]);
    uint16_t *p = dnew<uint16_t>(v.size());
    CK(cudaMemcpy(p, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    return p;
}
static inline std::vector<float> down(const float *p, size_t n)
{
    std::vector<float> v(n);
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(v.data(), p, n * 4, cudaMemcpyDeviceToHost));
    return v;
}

/* The named checks of a program: a TAP line each as it runs, and a table of
 * them after the plan, so that the end of a log sums the run up. */
struct gpu_check_log {
    int n, failed;
    std::vector<std::string> rows;
};
static gpu_check_log gpu_log;

/* Passes when e <= tol (NaN fails); note is appended to the TAP line. */
static inline void gpu_check_named(const char *name, double e, double tol, const char *note = "")
{
    bool pass = e <= tol;
    printf("%s %d - %s: %.3g (tolerance %.1e)%s\n", pass ? "ok" : "not ok", ++gpu_log.n, name, e,
           tol, note);
    fflush(stdout);
    gpu_log.failed += !pass;
    char buf[200];
    snprintf(buf, sizeof buf, "%-48s %10.3g %9.1e %s", name, e, tol, pass ? "ok" : "FAIL");
    gpu_log.rows.push_back(buf);
}

/* The plan and the table; the program's exit status. */
static inline int gpu_check_end(void)
{
    printf("1..%d\n", gpu_log.n);
    printf("# %-48s %10s %9s\n", "check", "value", "tolerance");
    for (auto &r : gpu_log.rows)
        printf("# %s\n", r.c_str());
    return gpu_log.failed ? 1 : 0;
}

/* ||a - b|| / ||b|| over n values (||b|| = 0: the norm of a - b). */
static inline double gpu_check_relerr(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static inline double gpu_check_rel(double a, double b)
{
    return fabs(a - b) / (fabs(b) > 0 ? fabs(b) : 1);
}

#endif
