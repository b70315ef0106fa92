/* gemm.cu: see gemm.h. Row-major products are computed as the column-major
 * product of the transposes: C^T = op(B)^T op(A)^T. */
#include <cublasLt.h>
#include <stdlib.h>

#include "gemm.h"
#include "gpu_util.cuh"

#define GEMM_WORKSPACE (32u << 20)

struct l720_gemm {
    cublasLtHandle_t lt;
    void *ws; /* [GEMM_WORKSPACE] bytes */
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

void l720_gemm_free(l720_gemm *g)
{
    if (!g)
        return;
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

static int gemm_typed(l720_gemm *g, cudaDataType ab, cudaDataType ct, int ta, int tb, int M,
                      int N, int K, float alpha, const void *A, long lda, long sa, const void *B,
                      long ldb, long sb, float beta, void *C, long ldc, long sc, int batch,
                      void *stream, l720_err *err)
{
    int rc = L720_OK;
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    size_t wsb = GEMM_WORKSPACE;
    /* column-major: first operand is B (op = tb), second is A (op = ta) */
    cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;

    LT_CK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    LT_CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    LT_CK(layout(&la, ab, tb ? K : N, tb ? N : K, ldb, sb, batch));
    LT_CK(layout(&lb, ab, ta ? M : K, ta ? K : M, lda, sa, batch));
    LT_CK(layout(&lc, ct, N, M, ldc, sc, batch));
    LT_CK(cublasLtMatmulPreferenceCreate(&pref));
    LT_CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb,
                                               sizeof wsb));
    LT_CK(cublasLtMatmulAlgoGetHeuristic(g->lt, desc, la, lb, lc, lc, pref, 1, &res, &nres));
    if (nres < 1) {
        rc = l720_err_set(err, L720_EFAIL, "gemm: no algorithm for %dx%dx%d", M, N, K);
        goto done;
    }
    LT_CK(cublasLtMatmul(g->lt, desc, &alpha, B, la, A, lb, &beta, C, lc, C, lc, &res.algo, g->ws,
                         wsb, (cudaStream_t)stream));
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (lc)
        cublasLtMatrixLayoutDestroy(lc);
    if (lb)
        cublasLtMatrixLayoutDestroy(lb);
    if (la)
        cublasLtMatrixLayoutDestroy(la);
    if (desc)
        cublasLtMatmulDescDestroy(desc);
    return rc;
}

int l720_gemm_bf16(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha, const void *A,
                   long lda, long sa, const void *B, long ldb, long sb, float beta, float *C,
                   long ldc, long sc, int batch, void *stream, l720_err *err)
{
    return gemm_typed(g, CUDA_R_16BF, CUDA_R_32F, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, ldc, sc, batch, stream, err);
}

int l720_gemm_bf16_out(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha,
                       const void *A, long lda, long sa, const void *B, long ldb, long sb,
                       float beta, void *C, long ldc, long sc, int batch, void *stream,
                       l720_err *err)
{
    return gemm_typed(g, CUDA_R_16BF, CUDA_R_16BF, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, ldc, sc, batch, stream, err);
}

int l720_gemm_f32(l720_gemm *g, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  long lda, long sa, const float *B, long ldb, long sb, float beta, float *C,
                  long ldc, long sc, int batch, void *stream, l720_err *err)
{
    return gemm_typed(g, CUDA_R_32F, CUDA_R_32F, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb,
                      beta, C, ldc, sc, batch, stream, err);
}
