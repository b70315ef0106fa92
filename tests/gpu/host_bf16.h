/* host_bf16.h: bf16 <-> float on the host for the GPU tests, with the same
 * round-to-nearest-even as the device's __float2bfloat16 (finite inputs). */
#ifndef L720_HOST_BF16_H
#define L720_HOST_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t h_f2bf(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

static inline float h_bf2f(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

#endif
