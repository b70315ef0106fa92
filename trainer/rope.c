/* rope.c: see rope.h. */
#include "rope.h"
#include "par.h"

#include <math.h>

void l720_rope_table(float *cosb, float *sinb, int T, int hs, float theta)
{
    int half = hs / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double freq = pow((double)theta, -2.0 * i / hs);
            double a = t * freq;
            cosb[t * half + i] = (float)cos(a);
            sinb[t * half + i] = (float)sin(a);
        }
}

/* sign = +1: rotate by the angle; −1: by its opposite (the transpose). */
static void rope_rotate(float *x, const float *cosb, const float *sinb, int B, int T, int NH,
                        int hs, size_t stride, float sign)
{
    int half = hs / 2;
#pragma omp parallel for schedule(static) if (L720_PAR((double)B * T * NH * hs * 2))
    for (long bt = 0; bt < (long)B * T; bt++) {
        int t = (int)(bt % T);
        const float *cs = cosb + (size_t)t * half, *sn = sinb + (size_t)t * half; /* [hs/2] */
        float *row = x + (size_t)bt * stride;
        for (int h = 0; h < NH; h++) {
            float *v = row + (size_t)h * hs; /* [hs] */
            for (int i = 0; i < half; i++) {
                float a = v[2 * i], b = v[2 * i + 1], c = cs[i], s = sign * sn[i];
                v[2 * i] = a * c - b * s;
                v[2 * i + 1] = a * s + b * c;
            }
        }
    }
}

void l720_rope_forward(float *x, const float *cosb, const float *sinb, int B, int T, int NH,
                       int hs, size_t stride)
{
    rope_rotate(x, cosb, sinb, B, T, NH, hs, stride, 1.0f);
}

void l720_rope_backward(float *dx, const float *cosb, const float *sinb, int B, int T, int NH,
                        int hs, size_t stride)
{
    rope_rotate(dx, cosb, sinb, B, T, NH, hs, stride, -1.0f);
}
