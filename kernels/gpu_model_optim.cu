/* gpu_model_optim.cu: the optimiser side of the GPU model (gpu_model.h) as
 * trainer/optim.c: the gradient norm and AdamW over every non-sparse tensor,
 * and over only the rows of PEER u and v that the last backward touched
 * (lazy rows: an untouched row keeps its parameters and moments exactly).
 * The norm is a sum of fixed pieces (fixed chunks of the non-sparse runs,
 * one piece per touched row), each summed in double in a fixed tree order,
 * then added up in one block in a fixed order: bitwise reproducible. */
#include <math.h>

#include "kernels/gpu_model_impl.cuh"

#define NORM_THREADS 256

/* Sum over the block in a fixed tree order (NORM_THREADS threads). */
static __device__ double block_sum_d(double s, double *sh)
{
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int o = NORM_THREADS / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o)
            sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    return sh[0];
}

/* part[b] = sum of squares of chunk b of g. */
__global__ void k_sumsq_chunks(double *part, const float *g, const size_t *off, const size_t *len)
{
    __shared__ double sh[NORM_THREADS];
    const float *x = g + off[blockIdx.x];
    size_t n = len[blockIdx.x];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += NORM_THREADS)
        s += (double)x[i] * x[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

/* part[r] = sum of squares of row ids[r] of g [*, d]. */
__global__ void k_sumsq_rows(double *part, const float *g, const int32_t *ids, int d)
{
    __shared__ double sh[NORM_THREADS];
    const float *x = g + (size_t)ids[blockIdx.x] * d;
    double s = 0.0;
    for (int i = threadIdx.x; i < d; i += NORM_THREADS)
        s += (double)x[i] * x[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

/* out[0] = sum of part[0 .. n) (one block). */
__global__ void k_sum_parts(double *out, const double *part, size_t n)
{
    __shared__ double sh[NORM_THREADS];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += NORM_THREADS)
        s += part[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0)
        out[0] = s;
}

extern "C" int l720_gpu_model_grad_norm(l720_gpu_model *m, double *norm, l720_err *err)
{
    if (!m->backward_done)
        return l720_err_set(err, L720_EINPUT, "gpu model: grad_norm needs a backward first");
    cudaStream_t st = m->st;
    size_t np = 0;
    if (m->n_chunks) {
        k_sumsq_chunks<<<m->n_chunks, NORM_THREADS, 0, st>>>(m->norm_part, m->grad, m->chunk_off,
                                                             m->chunk_len);
        GPU_LAUNCHED();
        np = (size_t)m->n_chunks;
    }
    for (gm_layer &L : m->L) {
        if (L.kind != L720_FFN_PEER || !L.n_touched)
            continue;
        for (size_t o : {L.o_u, L.o_v}) {
            k_sumsq_rows<<<L.n_touched, NORM_THREADS, 0, st>>>(m->norm_part + np, m->grad + o,
                                                               L.touched, m->c.d_model);
            GPU_LAUNCHED();
            np += (size_t)L.n_touched;
        }
    }
    double *total = m->norm_part + m->n_norm_part, h = 0.0;
    k_sum_parts<<<1, NORM_THREADS, 0, st>>>(total, m->norm_part, np);
    GPU_LAUNCHED();
    GPU_CK(cudaMemcpyAsync(&h, total, sizeof(double), cudaMemcpyDeviceToHost, st));
    GPU_CK(cudaStreamSynchronize(st));
    *norm = sqrt(h);
    return L720_OK;
}

/* AdamW on rows ids[r] of one [*, d] table (trainer/optim.c's update). */
__global__ void k_adamw_rows(float *p, uint16_t *pbf, float *m, float *v, const float *g,
                             const int32_t *ids, int d, float lr, float b1, float b2, float eps,
                             float decay, float c1, float c2, float gs)
{
    size_t base = (size_t)ids[blockIdx.x] * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        size_t i = base + c;
        adamw_elem(p, pbf, m, v, i, gs * g[i], lr, b1, b2, eps, decay, c1, c2);
    }
}

extern "C" int l720_gpu_model_adamw_step(l720_gpu_model *m, const l720_adamw_hp *hp, double scale,
                                         l720_err *err)
{
    if (!m->backward_done)
        return l720_err_set(err, L720_EINPUT, "gpu model: adamw_step needs a backward first");
    m->t++;
    const float b1 = (float)hp->beta1, b2 = (float)hp->beta2, eps = (float)hp->eps;
    const float lr = (float)hp->lr, sc = (float)scale;
    const float c1 = (float)(1.0 - pow(hp->beta1, (double)m->t));
    const float c2 = (float)(1.0 - pow(hp->beta2, (double)m->t));
    const float decay = lr * (float)hp->weight_decay;
    cudaStream_t st = m->st;
    for (const gm_run &r : m->runs) {
        int rc = l720_dense_adamw(m->p + r.off, m->pbf + r.off, m->m + r.off, m->v + r.off,
                                  m->grad + r.off, r.len, lr, b1, b2, eps, r.decay ? decay : 0.0f,
                                  c1, c2, sc, st, err);
        if (rc)
            return rc;
    }
    for (gm_layer &L : m->L) {
        if (L.kind != L720_FFN_PEER || !L.n_touched)
            continue;
        for (size_t o : {L.o_u, L.o_v}) {
            k_adamw_rows<<<L.n_touched, 256, 0, st>>>(m->p + o, m->pbf + o, m->m + o, m->v + o,
                                                      m->grad + o, L.touched, m->c.d_model, lr,
                                                      b1, b2, eps, decay, c1, c2, sc);
            GPU_LAUNCHED();
        }
    }
    return L720_OK;
}
