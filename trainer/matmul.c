/* matmul.c: see matmul.h.
 *
 * Blocked for the caches (tiles of MM_BN tokens x MM_BJ weight rows) and for
 * registers (MM_TN tokens at a time, 8 partial sums per dot product, added in
 * a fixed tree at the end). Each output element is owned by one thread and
 * summed in the same order whatever the tiling or the number of threads:
 * out[n, j] over c in lanes of 8; dinp[n, c] over j ascending and dw[j, c]
 * over n ascending, each in blocks of MM_BK terms added to the gradient in turn.
 */
#include "matmul.h"

#include <string.h>

#include "par.h"
#include "simd.h"

#define MM_TN 4   /* tokens per register tile */
#define MM_LANES 8 /* partial sums per dot product */
#define MM_BN 64  /* tokens per cache tile */
#define MM_BJ 64  /* weight rows per cache tile */
#define MM_BK 128 /* summed terms per cache tile in backward */

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* out[r, j] for the nr <= MM_TN rows x[r] (row stride C) against one weight
 * row: lanes l < 8 sum the elements c ≡ l (mod 8), then a fixed tree. */
static void dot_rows(float *out, size_t ostride, const float *x, size_t nr, const float *wr,
                     size_t C)
{
    l720_v4f lo[MM_TN], hi[MM_TN]; /* lanes 0..3 and 4..7 */
    memset(lo, 0, sizeof lo);
    memset(hi, 0, sizeof hi);
    size_t Cv = C / MM_LANES * MM_LANES;
    for (size_t c = 0; c < Cv; c += MM_LANES) {
        l720_v4f w0 = l720_load4(wr + c), w1 = l720_load4(wr + c + 4);
        for (size_t r = 0; r < nr; r++) {
            lo[r] += l720_load4(x + r * C + c) * w0;
            hi[r] += l720_load4(x + r * C + c + 4) * w1;
        }
    }
    for (size_t r = 0; r < nr; r++) {
        const float *xr = x + r * C;
        float s = ((lo[r][0] + lo[r][1]) + (lo[r][2] + lo[r][3])) +
                  ((hi[r][0] + hi[r][1]) + (hi[r][2] + hi[r][3]));
        for (size_t c = Cv; c < C; c++)
            s += xr[c] * wr[c];
        out[r * ostride] = s;
    }
}

void l720_matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
                         size_t OC)
{
    size_t nbn = (N + MM_BN - 1) / MM_BN, nbj = (OC + MM_BJ - 1) / MM_BJ;
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
    for (size_t tile = 0; tile < nbn * nbj; tile++) {
        size_t n0 = tile / nbj * MM_BN, j0 = tile % nbj * MM_BJ;
        size_t n1 = min_sz(n0 + MM_BN, N), j1 = min_sz(j0 + MM_BJ, OC);
        for (size_t n = n0; n < n1; n += MM_TN) {
            size_t nr = min_sz(MM_TN, n1 - n);
            for (size_t j = j0; j < j1; j++)
                dot_rows(out + n * OC + j, OC, inp + n * C, nr, w + j * C, C);
        }
    }
}

/* Y[r, :] += Σ_{k < K} A[r, k] · Bm[k, :] for nr <= MM_TN rows of C values,
 * with Y[r, c] = y[r·ys + c], A[r, k] = a[r·ar + k·ak], Bm[k, c] = b[k·bs + c].
 * Each Y element gets one sum over k ascending, added at the end. */
static void gemm_rows(float *y, size_t ys, const float *a, size_t ar, size_t ak, const float *b,
                      size_t bs, size_t K, size_t nr, size_t C)
{
    size_t Cv = C / MM_LANES * MM_LANES;
    for (size_t c = 0; c < Cv; c += MM_LANES) {
        l720_v4f lo[MM_TN], hi[MM_TN]; /* columns c..c+3, c+4..c+7 of each row */
        memset(lo, 0, sizeof lo);
        memset(hi, 0, sizeof hi);
        for (size_t k = 0; k < K; k++) {
            l720_v4f b0 = l720_load4(b + k * bs + c), b1 = l720_load4(b + k * bs + c + 4);
            for (size_t r = 0; r < nr; r++) {
                float s = a[r * ar + k * ak];
                l720_v4f sv = {s, s, s, s};
                lo[r] += sv * b0;
                hi[r] += sv * b1;
            }
        }
        for (size_t r = 0; r < nr; r++) {
            l720_v4f y0 = l720_load4(y + r * ys + c) + lo[r], y1 = l720_load4(y + r * ys + c + 4) + hi[r];
            l720_store4(y + r * ys + c, y0);
            l720_store4(y + r * ys + c + 4, y1);
        }
    }
    for (size_t r = 0; r < nr; r++)
        for (size_t c = Cv; c < C; c++) {
            float s = 0.0f;
            for (size_t k = 0; k < K; k++)
                s += a[r * ar + k * ak] * b[k * bs + c];
            y[r * ys + c] += s;
        }
}

void l720_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, size_t N, size_t C, size_t OC)
{
    if (dinp) { /* dinp[n, :] += Σ_j dout[n, j] w[j, :], in blocks of MM_BK j's */
        size_t nbn = (N + MM_BN - 1) / MM_BN;
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
        for (size_t b = 0; b < nbn; b++) {
            size_t n0 = b * MM_BN, n1 = min_sz(n0 + MM_BN, N);
            for (size_t j0 = 0; j0 < OC; j0 += MM_BK) {
                size_t kk = min_sz(MM_BK, OC - j0);
                for (size_t n = n0; n < n1; n += MM_TN)
                    gemm_rows(dinp + n * C, C, dout + n * OC + j0, OC, 1, w + j0 * C, C, kk,
                              min_sz(MM_TN, n1 - n), C);
            }
        }
    }
    if (dw) { /* dw[j, :] += Σ_n dout[n, j] inp[n, :], in blocks of MM_BK tokens */
        size_t nbj = (OC + MM_BJ - 1) / MM_BJ;
#pragma omp parallel for schedule(static) if (L720_PAR(N * C * OC))
        for (size_t b = 0; b < nbj; b++) {
            size_t j0 = b * MM_BJ, j1 = min_sz(j0 + MM_BJ, OC);
            for (size_t n0 = 0; n0 < N; n0 += MM_BK) {
                size_t kk = min_sz(MM_BK, N - n0);
                for (size_t j = j0; j < j1; j += MM_TN)
                    gemm_rows(dw + j * C, C, dout + n0 * OC + j, 1, OC, inp + n0 * C, C, kk,
                              min_sz(MM_TN, j1 - j), C);
            }
        }
    }
}
