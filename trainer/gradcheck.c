/* gradcheck.c: see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trng.h"

double l720_fd_directional(l720_fd_loss f, void *ctx, float *x, const float *dir, size_t n,
                           double eps)
{
    float *save = malloc(sizeof(float) * (n ? n : 1));
    memcpy(save, x, sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(save[i] + eps * dir[i]);
    double lp = f(ctx);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(save[i] - eps * dir[i]);
    double lm = f(ctx);
    memcpy(x, save, sizeof(float) * n);
    free(save);
    return (lp - lm) / (2.0 * eps);
}

double l720_fd_dot(const float *g, const float *dir, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * dir[i];
    return s;
}

void l720_fd_direction(float *dir, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        dir[i] = (float)l720_trng_normal(state);
}

double l720_fd_relerr(double a, double b, double floor)
{
    double s = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / s;
}
