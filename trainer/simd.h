/* simd.h: the two inner loops of the model, written with GCC/Clang vector
 * types so that they run 4 floats at a time at -O2 on any x86-64 or ARM64.
 *
 * Results are defined by the code, not by the compiler's choices: element-wise
 * vector + and * are exactly the scalar operations lane by lane, and the dot
 * product sums in 8 fixed lanes (c ≡ l mod 8) joined by a fixed tree.
 */
#ifndef L720_SIMD_H
#define L720_SIMD_H

#include <stddef.h>
#include <string.h>

typedef float l720_v4f __attribute__((vector_size(16)));

static inline l720_v4f l720_load4(const float *p)
{
    l720_v4f v;
    memcpy(&v, p, sizeof v); /* unaligned */
    return v;
}

static inline void l720_store4(float *p, l720_v4f v) { memcpy(p, &v, sizeof v); }

/* Σ a[i] b[i] over n: lanes of 8, then ((0+1)+(2+3))+((4+5)+(6+7)), then the tail. */
static inline float l720_dot(const float *a, const float *b, size_t n)
{
    l720_v4f lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    size_t n8 = n / 8 * 8;
    for (size_t i = 0; i < n8; i += 8) {
        lo += l720_load4(a + i) * l720_load4(b + i);
        hi += l720_load4(a + i + 4) * l720_load4(b + i + 4);
    }
    float s = ((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
    for (size_t i = n8; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* y[i] += a x[i] over n. */
static inline void l720_axpy(float *y, float a, const float *x, size_t n)
{
    l720_v4f av = {a, a, a, a};
    size_t n4 = n / 4 * 4;
    for (size_t i = 0; i < n4; i += 4)
        l720_store4(y + i, l720_load4(y + i) + av * l720_load4(x + i));
    for (size_t i = n4; i < n; i++)
        y[i] += a * x[i];
}

#endif
