/* moe_gpu.cu: see moe_gpu.h. The host side: workspace, the order of the
 * stages and the grouped expert products (kernels in moe_kernels.cu).
 *
 * Expert-major rows: expert e owns the row block [roff_e, roff_e + rows_e)
 * of xs, h1, h3, act, ys (and their gradients); its kept tokens fill the
 * first rows in token order, the rest are zero (they add nothing to any
 * product or weight gradient). Two layouts:
 *   padded  rows_e = capS, roff_e = e * capS, capS = the capacity rounded up
 *           to 16: every product is ONE strided-batched call over the E
 *           experts. Training uses it without any host synchronisation.
 *   compact rows_e = kept_e rounded up to 16, roff_e their prefix sums: one
 *           call per expert, with the counts read back to the host. Used
 *           when the padded rows would not fit the workspace (dropless
 *           evaluation with a skewed load, capacity factors above 1.25).
 * Dropless evaluation, and training in `tight` mode, read the largest load
 * back (one synchronisation) and pad to it instead of the capacity.
 * Rounding to 16 rows keeps every per-expert block 256-byte aligned (C and H
 * are multiples of 16), as the product kernels prefer.
 * Precision: router logits, softmax, aux sums and the router gradient in
 * fp32 (aux in double); expert products bf16 x bf16 with fp32 sums; h1, h3,
 * act, dact, dh1, dh3 stored as bf16, ys and dxs fp32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dense_gpu.h"
#include "kernels/moe_gpu.h"
#include "kernels/moe_kernels.cuh"
#include "kernels/gpu_util.cuh"

struct l720_moe_gpu {
    int max_N, C, H, E, R; /* R: expert-major rows of the workspace */
    int nch;               /* token chunks of MOE_CHUNK for the sort */
    int tight;
    int grad_add;          /* 1: backward adds into the weight gradients */
    /* last forward */
    int N, padded, capS, used; /* used: rows of the products */
    int *hcnt;                 /* pinned [E + 1]: loads, largest load */
    int *hoff;                 /* pinned [E]: compact row offsets */
    int *hrows;                /* [E]: compact rows per expert */
    /* device */
    float *drpart;  /* [ceil(max_N / MOE_DR_CHUNK), E, C] router gradient partial sums */
    float *probs;   /* [max_N, E] logits, then softmax */
    float *lse;     /* [max_N] */
    float *dgate;   /* [max_N] */
    float *dz;      /* [max_N, E] */
    float *aux;     /* [2] */
    double *part;   /* [nch, E + 1] */
    int *expert;    /* [max_N] */
    int *lrank;     /* [max_N] rank among the chunk's tokens of the same expert */
    int *tok_row;   /* [max_N] row of the token, -1 when dropped */
    int *ccnt;      /* [nch, E] chunk loads */
    int *cbase;     /* [nch, E] tokens of the expert in earlier chunks */
    int *cnt;       /* [E + 1] loads, largest load */
    int *roff;      /* [E] compact row offsets */
    int *row_tok;   /* [R] token of the row, -1 for a zero row */
    uint16_t *xs;   /* [R, C] bf16 gathered inputs */
    uint16_t *h1, *h3; /* [R, H] bf16 products (the SwiGLU reads them twice) */
    uint16_t *act;  /* [R, H] */
    float *ys;      /* [R, C] expert outputs before the gate */
    uint16_t *dys;  /* [R, C] gate * dout */
    uint16_t *dact; /* [R, H] */
    uint16_t *dh1, *dh3; /* [R, H] */
    float *dxs;     /* [R, C] */
};

static int rows_budget(int max_N, int E) { return (5 * max_N + 3) / 4 + 16 * E; }
static int round16(long n) { return (int)((n + 15) / 16 * 16); }

/* The device arrays in allocation order with their sizes in bytes. */
#define MOE_BUFS(X)                                                                                \
    X(drpart, (size_t)((N + MOE_DR_CHUNK - 1) / MOE_DR_CHUNK) * E * C * 4)                         \
    X(probs, (size_t)N * E * 4)                                                                    \
    X(lse, (size_t)N * 4)                                                                          \
    X(dgate, (size_t)N * 4)                                                                        \
    X(dz, (size_t)N * E * 4)                                                                       \
    X(aux, 2 * 4)                                                                                  \
    X(part, (size_t)nch * (E + 1) * 8)                                                             \
    X(expert, (size_t)N * 4)                                                                       \
    X(lrank, (size_t)N * 4)                                                                        \
    X(tok_row, (size_t)N * 4)                                                                      \
    X(ccnt, (size_t)nch * E * 4)                                                                   \
    X(cbase, (size_t)nch * E * 4)                                                                  \
    X(cnt, (size_t)(E + 1) * 4)                                                                    \
    X(roff, (size_t)E * 4)                                                                         \
    X(row_tok, (size_t)R * 4)                                                                      \
    X(xs, (size_t)R * C * 2)                                                                       \
    X(h1, (size_t)R * H * 2)                                                                       \
    X(h3, (size_t)R * H * 2)                                                                       \
    X(act, (size_t)R * H * 2)                                                                      \
    X(ys, (size_t)R * C * 4)                                                                       \
    X(dys, (size_t)R * C * 2)                                                                      \
    X(dact, (size_t)R * H * 2)                                                                     \
    X(dh1, (size_t)R * H * 2)                                                                      \
    X(dh3, (size_t)R * H * 2)                                                                      \
    X(dxs, (size_t)R * C * 4)

static size_t align256(size_t b) { return (b + 255) / 256 * 256; }

extern "C" size_t l720_moe_gpu_workspace_bytes(int max_N, int C, int H, int E)
{
    size_t N = (size_t)(max_N > 0 ? max_N : 1);
    size_t R = (size_t)rows_budget((int)N, E), nch = (N + MOE_CHUNK - 1) / MOE_CHUNK;
    size_t total = 0;
#define MOE_SUM(name, bytes) total += align256(bytes);
    MOE_BUFS(MOE_SUM)
#undef MOE_SUM
    return total;
}

extern "C" void l720_moe_gpu_free(l720_moe_gpu *m)
{
    if (!m)
        return;
#define MOE_FREE(name, bytes) cudaFree(m->name);
    MOE_BUFS(MOE_FREE)
#undef MOE_FREE
    cudaFreeHost(m->hcnt);
    cudaFreeHost(m->hoff);
    free(m->hrows);
    free(m);
}

static int check_sizes(int max_N, int C, int H, int E, l720_err *err)
{
    if (E < 1 || E > MOE_MAX_E)
        return l720_err_set(err, L720_EINPUT,
                            "moe_gpu: field 'E': expected 1 .. %d experts, got %d", MOE_MAX_E, E);
    if (max_N < 1)
        return l720_err_set(err, L720_EINPUT, "moe_gpu: field 'max_N': expected >= 1, got %d",
                            max_N);
    if (C < 16 || C % 16)
        return l720_err_set(err, L720_EINPUT,
                            "moe_gpu: field 'C': expected a positive multiple of 16, got %d", C);
    if (H < 16 || H % 16)
        return l720_err_set(err, L720_EINPUT,
                            "moe_gpu: field 'H': expected a positive multiple of 16, got %d", H);
    return L720_OK;
}

extern "C" l720_moe_gpu *l720_moe_gpu_new(int max_N, int C, int H, int E, l720_err *err)
{
    if (check_sizes(max_N, C, H, E, err))
        return NULL;
    l720_moe_gpu *m = (l720_moe_gpu *)calloc(1, sizeof *m);
    if (!m) {
        l720_err_set(err, L720_EFAIL, "moe_gpu: out of memory");
        return NULL;
    }
    m->max_N = max_N;
    m->C = C;
    m->H = H;
    m->E = E;
    m->R = rows_budget(max_N, E);
    m->nch = (max_N + MOE_CHUNK - 1) / MOE_CHUNK;
    size_t N = (size_t)max_N, R = (size_t)m->R, nch = (size_t)m->nch;
    cudaError_t ce = cudaSuccess;
#define MOE_ALLOC(name, bytes)                                                                     \
    if (ce == cudaSuccess)                                                                         \
        ce = cudaMalloc((void **)&m->name, bytes);
    MOE_BUFS(MOE_ALLOC)
#undef MOE_ALLOC
    if (ce == cudaSuccess)
        ce = cudaMallocHost((void **)&m->hcnt, sizeof(int) * (size_t)(E + 1));
    if (ce == cudaSuccess)
        ce = cudaMallocHost((void **)&m->hoff, sizeof(int) * (size_t)E);
    m->hrows = (int *)calloc((size_t)E, sizeof(int));
    if (ce != cudaSuccess || !m->hrows) {
        l720_err_set(err, L720_EFAIL, "moe_gpu: workspace of %zu bytes: %s",
                     l720_moe_gpu_workspace_bytes(max_N, C, H, E),
                     ce != cudaSuccess ? cudaGetErrorString(ce) : "out of host memory");
        l720_moe_gpu_free(m);
        return NULL;
    }
    return m;
}

extern "C" void l720_moe_gpu_set_tight(l720_moe_gpu *m, int tight) { m->tight = tight != 0; }
extern "C" void l720_moe_gpu_set_grad_add(l720_moe_gpu *m, int add) { m->grad_add = add != 0; }
extern "C" int l720_moe_gpu_rows(const l720_moe_gpu *m) { return m->used; }
extern "C" const float *l720_moe_gpu_aux(const l720_moe_gpu *m) { return m->aux; }
extern "C" const int32_t *l720_moe_gpu_expert(const l720_moe_gpu *m) { return m->expert; }

/* The kernels read x, dout and the router and write out and dx with 16-byte
 * vector accesses. */
static int check_aligned(const void *const *p, const char *const *name, int n, l720_err *err)
{
    for (int i = 0; i < n; i++)
        if ((uintptr_t)p[i] % 16)
            return l720_err_set(err, L720_EINPUT,
                                "moe_gpu: field '%s': expected a 16-byte aligned device pointer",
                                name[i]);
    return L720_OK;
}

/* An operand of an expert product: a row buffer (wst 0: expert e's block
 * starts at row roff_e) or a weight tensor (expert e at e * wst elements). */
typedef struct eop {
    const void *p;
    long ld, wst;
    int esz; /* bytes per element */
} eop;

static const char *at(const eop *o, long off) { return (const char *)o->p + off * o->esz; }

/* A bf16 product with an fp32 (esz 4) or bf16 (esz 2) result. */
static int gemm_to(int esz, l720_gemm *g, int ta, int tb, int M, int N, int K, const void *A,
                   long lda, long sa, const void *B, long ldb, long sb, float beta, const void *C,
                   long ldc, long sc, int batch, cudaStream_t s, l720_err *err)
{
    if (esz == 2)
        return l720_gemm_bf16_out(g, ta, tb, M, N, K, 1.0f, A, lda, sa, B, ldb, sb, beta,
                                  (void *)C, ldc, sc, batch, s, err);
    return l720_gemm_bf16(g, ta, tb, M, N, K, 1.0f, A, lda, sa, B, ldb, sb, beta, (float *)C, ldc,
                          sc, batch, s, err);
}

/* C_e = op(A_e) op(B_e) + beta C_e for every expert; the expert's rows
 * are the M dimension (rows_k 0) or the K dimension (rows_k 1) of the
 * product; the other dimensions are d1, d2 ((N, K) or (M, N)). */
static int egemm(l720_moe_gpu *m, l720_gemm *g, int ta, int tb, int rows_k, int d1, int d2,
                 eop A, eop B, float beta, eop Cm, cudaStream_t s, l720_err *err)
{
    if (m->padded) {
        int rows = m->capS;
        if (!rows)
            return L720_OK;
        int M = rows_k ? d1 : rows, N = rows_k ? d2 : d1, K = rows_k ? rows : d2;
        long sa = A.wst ? A.wst : (long)rows * A.ld, sb = B.wst ? B.wst : (long)rows * B.ld;
        long sc = Cm.wst ? Cm.wst : (long)rows * Cm.ld;
        return gemm_to(Cm.esz, g, ta, tb, M, N, K, A.p, A.ld, sa, B.p, B.ld, sb, beta, Cm.p,
                       Cm.ld, sc, m->E, s, err);
    }
    /* the rows per expert change with the routing: a new shape nearly every
     * step, not worth tuning each */
    int tuned = l720_gemm_set_tune(g, 0), rc = L720_OK;
    for (int e = 0; e < m->E && !rc; e++) {
        int rows = m->hrows[e];
        long r0 = m->hoff[e];
        long oa = A.wst ? e * A.wst : r0 * A.ld, ob = B.wst ? e * B.wst : r0 * B.ld;
        long oc = Cm.wst ? e * Cm.wst : r0 * Cm.ld;
        if (!rows) {
            cudaError_t e0 = cudaSuccess;
            if (rows_k && beta == 0.0f) /* a weight gradient of an expert without tokens */
                e0 = cudaMemsetAsync((char *)at(&Cm, oc), 0, (size_t)d1 * d2 * Cm.esz, s);
            if (e0 != cudaSuccess)
                rc = l720_err_set(err, L720_EFAIL, "moe: %s", cudaGetErrorString(e0));
            continue;
        }
        int M = rows_k ? d1 : rows, N = rows_k ? d2 : d1, K = rows_k ? rows : d2;
        rc = gemm_to(Cm.esz, g, ta, tb, M, N, K, at(&A, oa), A.ld, 0, at(&B, ob), B.ld, 0, beta,
                     at(&Cm, oc), Cm.ld, 0, 1, s, err);
    }
    l720_gemm_set_tune(g, tuned);
    return rc;
}

static eop rowsb(const void *p, long ld, int esz) { return eop{p, ld, 0, esz}; }
static eop wts(const void *p, long ld, long wst, int esz) { return eop{p, ld, wst, esz}; }

/* Chooses the layout from the capacity (and, when read back, the loads). */
static int plan_rows(l720_moe_gpu *m, int N, float capacity_factor, cudaStream_t s, l720_err *err)
{
    int E = m->E;
    /* ceil(cf N / E) as the CPU layer; more than N changes nothing */
    double capd = capacity_factor > 0 ? ceil((double)capacity_factor * N / (double)E) : N;
    long cap = capd < N ? (long)capd : N;
    int need_host = capacity_factor <= 0 || m->tight || (long)E * round16(cap) > m->R;
    m->padded = 1;
    m->capS = round16(cap);
    if (need_host) {
        GPU_CK(cudaMemcpyAsync(m->hcnt, m->cnt, sizeof(int) * (size_t)(E + 1),
                               cudaMemcpyDeviceToHost, s));
        GPU_CK(cudaStreamSynchronize(s));
        long pad = m->hcnt[E] < cap ? m->hcnt[E] : cap;
        m->capS = round16(pad);
        if ((long)E * m->capS > m->R) {
            m->padded = 0;
            int off = 0;
            for (int e = 0; e < E; e++) {
                int kept = m->hcnt[e] < cap ? m->hcnt[e] : (int)cap;
                m->hoff[e] = off;
                m->hrows[e] = round16(kept);
                off += m->hrows[e];
            }
            m->used = off;
            GPU_CK(cudaMemcpyAsync(m->roff, m->hoff, sizeof(int) * (size_t)E,
                                   cudaMemcpyHostToDevice, s));
        }
    }
    if (m->padded)
        m->used = E * m->capS;
    return moe_place(m->expert, m->lrank, m->cbase, N, E, (int)cap, m->padded, m->capS, m->roff,
                     m->tok_row, m->row_tok, m->used, s, err);
}

extern "C" int l720_moe_gpu_forward(l720_moe_gpu *m, l720_gemm *g, float *out, const uint16_t *x,
                                    const float *router, const uint16_t *w1, const uint16_t *w3,
                                    const uint16_t *w2, int N, float capacity_factor,
                                    void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    int C = m->C, H = m->H, E = m->E;
    if (N < 0 || N > m->max_N)
        return l720_err_set(err, L720_EINPUT, "moe_gpu: field 'N': expected 0 .. %d tokens, got %d",
                            m->max_N, N);
    const void *ptr[3] = {out, x, router};
    const char *nm[3] = {"out", "x", "router"};
    if (check_aligned(ptr, nm, 3, err))
        return err->code;
    m->N = N;
    m->used = 0;
    if (N == 0) {
        GPU_CK(cudaMemsetAsync(m->aux, 0, 2 * sizeof(float), s));
        return L720_OK;
    }
    /* router: z = x Wr^T in fp32, softmax, argmax, logsumexp */
    if (moe_logits(m->probs, x, router, N, E, C, s, err) ||
        moe_route(m->probs, m->lse, m->expert, N, E, s, err) ||
        moe_sort_counts(m->expert, m->lrank, m->ccnt, m->cbase, m->cnt, N, E, s, err) ||
        moe_aux(m->aux, m->part, m->probs, m->lse, m->cnt, N, E, s, err) ||
        plan_rows(m, N, capacity_factor, s, err) ||
        moe_gather_x(m->xs, x, m->row_tok, m->used, C, s, err))
        return err->code;
    /* experts: h1 = xs W1_e^T, h3 = xs W3_e^T, act = silu(h1) h3, ys = act W2_e^T */
    if (egemm(m, g, 0, 1, 0, H, C, rowsb(m->xs, C, 2), wts(w1, C, (long)H * C, 2), 0.0f,
              rowsb(m->h1, H, 2), s, err) ||
        egemm(m, g, 0, 1, 0, H, C, rowsb(m->xs, C, 2), wts(w3, C, (long)H * C, 2), 0.0f,
              rowsb(m->h3, H, 2), s, err) ||
        l720_swiglu_fwd(m->act, m->h1, m->h3, H, m->used, H, s, err) ||
        egemm(m, g, 0, 1, 0, C, H, rowsb(m->act, H, 2), wts(w2, H, (long)C * H, 2), 0.0f,
              rowsb(m->ys, C, 4), s, err) ||
        moe_combine(out, m->ys, m->probs, m->expert, m->tok_row, N, C, E, s, err))
        return err->code;
    return L720_OK;
}

extern "C" int l720_moe_gpu_backward(l720_moe_gpu *m, l720_gemm *g, float *dx, float *drouter,
                                     float *dw1, float *dw3, float *dw2, const uint16_t *dout,
                                     const uint16_t *x, const float *router, const uint16_t *w1,
                                     const uint16_t *w3, const uint16_t *w2, float balance_coef,
                                     float zloss_coef, void *stream, l720_err *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    int N = m->N, C = m->C, H = m->H, E = m->E;
    size_t wsz = sizeof(float) * (size_t)E * H * C;
    const void *ptr[3] = {dx, dout, x};
    const char *nm[3] = {"dx", "dout", "x"};
    if (check_aligned(ptr, nm, 3, err))
        return err->code;
    float gb = m->grad_add ? 1.0f : 0.0f; /* beta of the weight-gradient products */
    if (N == 0 && m->grad_add)
        return L720_OK;
    if (N == 0) {
        GPU_CK(cudaMemsetAsync(dw1, 0, wsz, s));
        GPU_CK(cudaMemsetAsync(dw3, 0, wsz, s));
        GPU_CK(cudaMemsetAsync(dw2, 0, wsz, s));
        GPU_CK(cudaMemsetAsync(drouter, 0, sizeof(float) * (size_t)E * C, s));
        return L720_OK;
    }
    /* dys = gate * dout (bf16) in expert-major rows; d gate = <dout, ys> */
    if (moe_gather_dout(m->dys, m->dgate, dout, m->ys, m->probs, m->expert, m->row_tok, m->used,
                        C, E, s, err))
        return err->code;
    {
        /* dact = dys W2_e; dW2_e = dys^T act; SwiGLU backward; dW1_e, dW3_e = dh^T xs;
         * dxs = dh1 W1_e + dh3 W3_e */
        if (egemm(m, g, 0, 0, 0, H, C, rowsb(m->dys, C, 2), wts(w2, H, (long)C * H, 2), 0.0f,
                  rowsb(m->dact, H, 2), s, err) ||
            egemm(m, g, 1, 0, 1, C, H, rowsb(m->dys, C, 2), rowsb(m->act, H, 2), gb,
                  wts(dw2, H, (long)C * H, 4), s, err) ||
            l720_swiglu_bwd(m->dh1, m->dh3, m->dact, m->h1, m->h3, H, m->used, H, s, err) ||
            egemm(m, g, 1, 0, 1, H, C, rowsb(m->dh1, H, 2), rowsb(m->xs, C, 2), gb,
                  wts(dw1, C, (long)H * C, 4), s, err) ||
            egemm(m, g, 1, 0, 1, H, C, rowsb(m->dh3, H, 2), rowsb(m->xs, C, 2), gb,
                  wts(dw3, C, (long)H * C, 4), s, err) ||
            egemm(m, g, 0, 0, 0, C, H, rowsb(m->dh1, H, 2), wts(w1, C, (long)H * C, 2), 0.0f,
                  rowsb(m->dxs, C, 4), s, err) ||
            egemm(m, g, 0, 0, 0, C, H, rowsb(m->dh3, H, 2), wts(w3, C, (long)H * C, 2), 1.0f,
                  rowsb(m->dxs, C, 4), s, err))
            return err->code;
    }
    /* dx = dxs scattered back (0 for dropped tokens) + dz Wr; dWr = dz^T x */
    if (moe_scatter_dx(dx, m->dxs, m->tok_row, N, C, s, err) ||
        moe_router_bwd(m->dz, m->probs, m->lse, m->expert, m->tok_row, m->dgate, m->cnt, N, E,
                       balance_coef, zloss_coef, s, err) ||
        l720_gemm_f32(g, 0, 0, N, C, E, 1.0f, m->dz, E, 0, router, C, 0, 1.0f, dx, C, 0, 1, s,
                      err) ||
        moe_drouter(drouter, m->drpart, m->dz, x, N, E, C, m->grad_add, s, err))
        return err->code;
    return L720_OK;
}
