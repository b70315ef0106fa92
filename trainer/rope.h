/* rope.h: rotary position embedding on the queries and keys.
 *
 * Within each head of size hs, the pair (x[2i], x[2i+1]) at position t is
 * rotated by the angle t · theta^(−2i/hs), i < hs/2. Positions restart at 0 in
 * every sequence of the batch. Backward rotates by the opposite angle.
 */
#ifndef L720_ROPE_H
#define L720_ROPE_H

#include <stddef.h>

/* cosb, sinb: [T, hs/2] */
void l720_rope_table(float *cosb, float *sinb, int T, int hs, float theta);

/* x: B·T rows of stride `stride` floats, each holding NH heads of hs values
 * from its start: x[(b·T + t)·stride + h·hs + j]. Rotated in place. */
void l720_rope_forward(float *x, const float *cosb, const float *sinb, int B, int T, int NH,
                       int hs, size_t stride);

/* dx: same layout, gradient with respect to the rotated values on entry and
 * with respect to the unrotated values on exit (in place). */
void l720_rope_backward(float *dx, const float *cosb, const float *sinb, int B, int T, int NH,
                        int hs, size_t stride);

#endif
