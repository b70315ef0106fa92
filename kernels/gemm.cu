/* gemm.cu: see gemm.h. Row-major products are computed as the column-major
 * product of the transposes: C^T = op(B)^T op(A)^T. */
#include <cublasLt.h>
#include <stdlib.h>

#include "gemm.h"
#include "gpu_util.cuh"

#define GEMM_WORKSPACE (32u << 20)
#define GEMM_PLANS 128 /* shapes remembered per handle */

/* What fixes a product's descriptors and algorithm. */
struct gemm_key {
    int ab, ct, ta, tb, M, N, K, batch;
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
};

struct l720_gemm {
    cublasLtHandle_t lt;
    void *ws; /* [GEMM_WORKSPACE] bytes */
    gemm_plan plans[GEMM_PLANS];
    int n_plans;
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
    return g;
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
           a->N == b->N && a->K == b->K && a->batch == b->batch && a->lda == b->lda &&
           a->ldb == b->ldb && a->ldc == b->ldc && a->sa == b->sa && a->sb == b->sb &&
           a->sc == b->sc;
}

/* Builds the descriptors of k into p and picks the algorithm. */
static int plan_build(l720_gemm *g, const gemm_key *k, gemm_plan *p, l720_err *err)
{
    int rc = L720_OK;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
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
    LT_CK(cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref, 1, &res,
                                         &nres));
    if (nres < 1) {
        rc = l720_err_set(err, L720_EFAIL, "gemm: no algorithm for %dx%dx%d", k->M, k->N, k->K);
        goto done;
    }
    p->algo = res.algo;
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
    gemm_key k = {(int)ab, (int)ct, ta, tb, M, N, K, batch, lda, ldb, ldc,
                  batch > 1 ? sa : 0, batch > 1 ? sb : 0, batch > 1 ? sc : 0};
    gemm_plan once, *p = NULL;
    for (int i = 0; i < g->n_plans && !p; i++)
        if (same_key(&g->plans[i].key, &k))
            p = &g->plans[i];
    if (!p) {
        p = g->n_plans < GEMM_PLANS ? &g->plans[g->n_plans] : &once;
        if (plan_build(g, &k, p, err))
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
