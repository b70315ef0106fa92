/* gemm.cu: see gemm.h. Row-major products are computed as the column-major
 * product of the transposes: C^T = op(B)^T op(A)^T. */
#include <cublasLt.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gpu_util.cuh"

#define GEMM_WORKSPACE (32u << 20)
#define GEMM_PLANS 128 /* shapes remembered per handle */
#define GEMM_CANDIDATES 16 /* algorithms the heuristic is asked for when tuning */
#define GEMM_TIMED_RUNS 3  /* timed runs of each candidate */
#define GEMM_TUNE_MIN_FMA 1e9 /* smaller products are bound by their launch: not tuned */

/* What fixes a product's descriptors and algorithm. */
struct gemm_key {
    int ab, ct, ta, tb, M, N, K, batch;
    int acc; /* beta != 0: tuned apart, as the output then depends on C */
    long lda, ldb, ldc, sa, sb, sc;
};

/* The descriptors and the chosen algorithm of one shape: the heuristic query
 * costs tens of microseconds of host time, more than a small product runs,
 * so it is made once per shape. */
struct gemm_plan {
    gemm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    l720_gemm_info info;
};

struct l720_gemm {
    cublasLtHandle_t lt;
    void *ws; /* [GEMM_WORKSPACE] bytes */
    gemm_plan plans[GEMM_PLANS];
    int n_plans;
    int tune; /* time the bitwise-equal candidates of each new shape (default on) */
};

#define LT_CK(call)                                                                                \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            rc = l720_err_set(err, L720_EFAIL, "%s:%d: cuBLASLt status %d", __FILE__, __LINE__,    \
                              (int)s_);                                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

l720_gemm *l720_gemm_new(l720_err *err)
{
    l720_gemm *g = (l720_gemm *)calloc(1, sizeof *g);
    if (!g) {
        l720_err_set(err, L720_EFAIL, "gemm: out of memory");
        return NULL;
    }
    if (cublasLtCreate(&g->lt) != CUBLAS_STATUS_SUCCESS) {
        l720_err_set(err, L720_EFAIL, "gemm: cuBLASLt could not start");
        free(g);
        return NULL;
    }
    cudaError_t e = cudaMalloc(&g->ws, GEMM_WORKSPACE);
    if (e != cudaSuccess) {
        l720_err_set(err, L720_EFAIL, "gemm: workspace: %s", cudaGetErrorString(e));
        cublasLtDestroy(g->lt);
        free(g);
        return NULL;
    }
    g->tune = 1;
    return g;
}

int l720_gemm_set_tune(l720_gemm *g, int on)
{
    int was = g->tune;
    g->tune = on != 0;
    return was;
}

int l720_gemm_plans(const l720_gemm *g) { return g->n_plans; }

int l720_gemm_plan_info(const l720_gemm *g, int i, l720_gemm_info *info)
{
    if (i < 0 || i >= g->n_plans)
        return L720_EINPUT;
    *info = g->plans[i].info;
    return L720_OK;
}

static void plan_destroy(gemm_plan *p)
{
    if (p->lc)
        cublasLtMatrixLayoutDestroy(p->lc);
    if (p->lb)
        cublasLtMatrixLayoutDestroy(p->lb);
    if (p->la)
        cublasLtMatrixLayoutDestroy(p->la);
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
}

void l720_gemm_free(l720_gemm *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_plans; i++)
        plan_destroy(&g->plans[i]);
    cudaFree(g->ws);
    cublasLtDestroy(g->lt);
    free(g);
}

static cublasStatus_t layout(cublasLtMatrixLayout_t *l, cudaDataType t, long rows, long cols,
                             long ld, long stride, int batch)
{
    cublasStatus_t s = cublasLtMatrixLayoutCreate(l, t, (uint64_t)rows, (uint64_t)cols, ld);
    if (s != CUBLAS_STATUS_SUCCESS || batch <= 1)
        return s;
    int64_t st = stride;
    s = cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &st,
                                             sizeof st);
    return s;
}

static int same_key(const gemm_key *a, const gemm_key *b)
{
    return a->ab == b->ab && a->ct == b->ct && a->ta == b->ta && a->tb == b->tb && a->M == b->M &&
           a->N == b->N && a->K == b->K && a->batch == b->batch && a->acc == b->acc && a->lda == b->lda &&
           a->ldb == b->ldb && a->ldc == b->ldc && a->sa == b->sa && a->sb == b->sb &&
           a->sc == b->sc;
}

/* The operands of the call that builds a plan: tuning runs on them. */
struct gemm_operands {
    const void *A, *B, *Cin;
    void *C;
    float alpha, beta;
    cudaStream_t stream; /* the call's stream: its operands are ready there */
};

/* A hash of n 16-bit words and the count of nonzero ones, summed into
 * out[0], out[1] (integer sums: the same for any order). */
__global__ void k_gemm_hash(unsigned long long *out, const uint16_t *w, size_t n)
{
    unsigned long long h = 0, nz = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long x = (unsigned long long)w[i] ^ ((unsigned long long)i << 16);
        x *= 0x9E3779B97F4A7C15ull;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        h += x;
        nz += w[i] != 0;
    }
    for (int o = 16; o > 0; o >>= 1) {
        h += __shfl_xor_sync(0xffffffffu, h, o);
        nz += __shfl_xor_sync(0xffffffffu, nz, o);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&out[0], h);
        atomicAdd(&out[1], nz);
    }
}

/* Runs candidate algo once into op->C (C restored from saved first when
 * saved is not NULL) and returns the output's hash in h[2]; 0 on success. */
static int tune_hash(l720_gemm *g, gemm_plan *p, const cublasLtMatmulAlgo_t *algo,
                     const gemm_operands *op, const void *saved, size_t bytes,
                     unsigned long long *dh, unsigned long long h[2], cudaStream_t st)
{
    if (saved && cudaMemcpyAsync(op->C, saved, bytes, cudaMemcpyDeviceToDevice, st) != cudaSuccess)
        return 1;
    if (cublasLtMatmul(g->lt, p->desc, &op->alpha, op->B, p->la, op->A, p->lb, &op->beta, op->Cin,
                       p->lc, op->C, p->lc, algo, g->ws, GEMM_WORKSPACE, st) !=
        CUBLAS_STATUS_SUCCESS)
        return 1;
    if (cudaMemsetAsync(dh, 0, 2 * sizeof *dh, st) != cudaSuccess)
        return 1;
    k_gemm_hash<<<264, 256, 0, st>>>(dh, (const uint16_t *)op->C, bytes / 2);
    if (cudaMemcpyAsync(h, dh, 2 * sizeof *dh, cudaMemcpyDeviceToHost, st) != cudaSuccess ||
        cudaStreamSynchronize(st) != cudaSuccess)
        return 1;
    return 0;
}

/* Milliseconds a run of algo takes (mean of GEMM_TIMED_RUNS); < 0 on failure. */
static float tune_time(l720_gemm *g, gemm_plan *p, const cublasLtMatmulAlgo_t *algo,
                       const gemm_operands *op, cudaEvent_t e0, cudaEvent_t e1, cudaStream_t st)
{
    float ms = -1.0f;
    cudaEventRecord(e0, st);
    for (int r = 0; r < GEMM_TIMED_RUNS; r++)
        if (cublasLtMatmul(g->lt, p->desc, &op->alpha, op->B, p->la, op->A, p->lb, &op->beta,
                           op->Cin, p->lc, op->C, p->lc, algo, g->ws, GEMM_WORKSPACE, st) !=
            CUBLAS_STATUS_SUCCESS)
            return -1.0f;
    cudaEventRecord(e1, st);
    if (cudaEventSynchronize(e1) != cudaSuccess || cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess)
        return -1.0f;
    return ms / GEMM_TIMED_RUNS;
}

/* Tuning of a new shape on the call's own operands: every candidate the
 * heuristic offers is run once and its output hashed; of those whose output
 * is bitwise the first candidate's, the fastest is kept. So tuning never
 * changes a result, only the time. Skipped (the heuristic's first choice
 * kept) when scratch memory is short or the output is all zeros (equal
 * outputs would then prove nothing). The output is left as the call will
 * overwrite it: for an in-place sum (beta != 0, Cin == C) C is saved first
 * and restored. Errors here only end the tuning, never the product. */
static void plan_tune(l720_gemm *g, gemm_plan *p, const cublasLtMatmulHeuristicResult_t *res,
                      int nres, const gemm_operands *op)
{
    const gemm_key *k = &p->key;
    cudaStream_t st = op->stream;
    size_t eb = k->ct == CUDA_R_32F ? 4 : 2;
    size_t elems = (size_t)(k->batch > 1 ? (k->batch - 1) * k->sc : 0) +
                   (size_t)(k->M - 1) * (size_t)k->ldc + (size_t)k->N;
    size_t bytes = elems * eb;
    int keep = op->beta != 0.0f && op->Cin == op->C;
    void *saved = NULL;
    unsigned long long *dh = NULL, h0[2], h[2];
    cudaEvent_t e0 = NULL, e1 = NULL;
    int best = 0;
    float best_ms = -1.0f;
    if (cudaMalloc(&dh, 2 * sizeof *dh) != cudaSuccess ||
        (keep && cudaMalloc(&saved, bytes) != cudaSuccess) || cudaEventCreate(&e0) != cudaSuccess ||
        cudaEventCreate(&e1) != cudaSuccess)
        goto done;
    if (keep && cudaMemcpyAsync(saved, op->C, bytes, cudaMemcpyDeviceToDevice, st) != cudaSuccess)
        goto done;
    if (tune_hash(g, p, &res[0].algo, op, saved, bytes, dh, h0, st) || h0[1] == 0)
        goto done;
    p->info.ms_first = best_ms = tune_time(g, p, &res[0].algo, op, e0, e1, st);
    if (best_ms < 0)
        goto done;
    p->info.candidates = nres;
    for (int i = 1; i < nres; i++) {
        if (res[i].state != CUBLAS_STATUS_SUCCESS || res[i].workspaceSize > GEMM_WORKSPACE)
            continue;
        if (tune_hash(g, p, &res[i].algo, op, saved, bytes, dh, h, st))
            break;
        if (h[0] != h0[0] || h[1] != h0[1])
            continue;
        p->info.equal++;
        float ms = tune_time(g, p, &res[i].algo, op, e0, e1, st);
        if (ms >= 0 && ms < best_ms) {
            best_ms = ms;
            best = i;
        }
    }
    p->algo = res[best].algo;
    p->info.ms_chosen = best_ms;
    p->info.chosen = best;
done:
    if (saved) {
        cudaMemcpyAsync(op->C, saved, bytes, cudaMemcpyDeviceToDevice, st);
        cudaStreamSynchronize(st);
        cudaFree(saved);
    }
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    cudaFree(dh);
    cudaGetLastError(); /* a failed scratch allocation ends only the tuning */
}

/* Builds the descriptors of k into p and picks the algorithm (tuned on op
 * when the handle tunes and op is given: not for a plan used once). */
static int plan_build(l720_gemm *g, const gemm_key *k, gemm_plan *p, const gemm_operands *op,
                      l720_err *err)
{
    int rc = L720_OK;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res[GEMM_CANDIDATES];
    int nres = 0;
    size_t wsb = GEMM_WORKSPACE;
    cudaDataType ab = (cudaDataType)k->ab, ct = (cudaDataType)k->ct;
    /* column-major: first operand is B (op = tb), second is A (op = ta) */
    cublasOperation_t opa = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    p->key = *k;
    p->desc = NULL;
    p->la = p->lb = p->lc = NULL;
    LT_CK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_CK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    LT_CK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    LT_CK(layout(&p->la, ab, k->tb ? k->K : k->N, k->tb ? k->N : k->K, k->ldb, k->sb, k->batch));
    LT_CK(layout(&p->lb, ab, k->ta ? k->M : k->K, k->ta ? k->K : k->M, k->lda, k->sa, k->batch));
    LT_CK(layout(&p->lc, ct, k->N, k->M, k->ldc, k->sc, k->batch));
    LT_CK(cublasLtMatmulPreferenceCreate(&pref));
    LT_CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb,
                                               sizeof wsb));
    LT_CK(cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref,
                                         g->tune && op ? GEMM_CANDIDATES : 1, res, &nres));
    if (nres < 1) {
        rc = l720_err_set(err, L720_EFAIL, "gemm: no algorithm for %dx%dx%d", k->M, k->N, k->K);
        goto done;
    }
    p->algo = res[0].algo;
    memset(&p->info, 0, sizeof p->info);
    p->info.M = k->M;
    p->info.N = k->N;
    p->info.K = k->K;
    p->info.batch = k->batch;
    p->info.ta = k->ta;
    p->info.tb = k->tb;
    p->info.out_bytes = k->ct == CUDA_R_32F ? 4 : 2;
    p->info.candidates = 1;
    p->info.equal = 1;
    if (g->tune && op && nres > 1 &&
        (double)k->M * (double)k->N * (double)k->K * (double)k->batch >= GEMM_TUNE_MIN_FMA)
        plan_tune(g, p, res, nres, op);
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (rc)
        plan_destroy(p);
    return rc;
}

static int gemm_typed(l720_gemm *g, cudaDataType ab, cudaDataType ct, int ta, int tb, int M,
                      int N, int K, float alpha, const void *A, long lda, long sa, const void *B,
                      long ldb, long sb, float beta, const void *Cin, void *C, long ldc, long sc,
                      int batch, void *stream, l720_err *err)
{
    int rc = L720_OK;
    gemm_key k = {(int)ab, (int)ct, ta, tb, M, N, K, batch, beta != 0.0f, lda, ldb, ldc,
                  batch > 1 ? sa : 0, batch > 1 ? sb : 0, batch > 1 ? sc : 0};
    gemm_plan once, *p = NULL;
    for (int i = 0; i < g->n_plans && !p; i++)
        if (same_key(&g->plans[i].key, &k))
            p = &g->plans[i];
    if (!p) {
        p = g->n_plans < GEMM_PLANS ? &g->plans[g->n_plans] : &once;
        gemm_operands op = {A, B, Cin, C, alpha, beta, (cudaStream_t)stream};
        if (plan_build(g, &k, p, p == &once ? NULL : &op, err))
            return err->code;
        if (p != &once)
            g->n_plans++;
    }
    LT_CK(cublasLtMatmul(g->lt, p->desc, &alpha, B, p->la, A, p->lb, &beta, Cin, p->lc, C, p->lc,
                         &p->algo, g->ws, GEMM_WORKSPACE, (cudaStream_t)stream));
done:
    if (p == &once)
        plan_destroy(&once);
    return rc;
}

int l720_gemm_bf16(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha, const void *A,
                   long lda, long sa, const void *B, long ldb, long sb, float beta, float *C,
                   long ldc, long sc, int batch, void *stream, l720_err *err)
{
    return gemm_typed(g, CUDA_R_16BF, CUDA_R_32F, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, C, ldc, sc, batch, stream, err);
}

int l720_gemm_bf16_out(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha,
                       const void *A, long lda, long sa, const void *B, long ldb, long sb,
                       float beta, void *C, long ldc, long sc, int batch, void *stream,
                       l720_err *err)
{
    return gemm_typed(g, CUDA_R_16BF, CUDA_R_16BF, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, C, ldc, sc, batch, stream, err);
}

int l720_gemm_f32(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  long lda, long sa, const float *B, long ldb, long sb, float beta, float *C,
                  long ldc, long sc, int batch, void *stream, l720_err *err)
{
    return gemm_typed(g, CUDA_R_32F, CUDA_R_32F, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, C, ldc, sc, batch, stream, err);
}

int l720_gemm_bf16_add(l720_gemm *g, int ta, int tb, int M, int N, int K, const void *A, long lda,
                       const void *B, long ldb, const float *Cin, float *D, long ldc, void *stream,
                       l720_err *err)
{
    return gemm_typed(g, CUDA_R_16BF, CUDA_R_32F, ta, tb, M, N, K, 1.0f, A, lda, 0, B, ldb, 0,
                      1.0f, Cin, D, ldc, 0, 1, stream, err);
}
