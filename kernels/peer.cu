/* peer.cu: the PEER layer object: workspace, forward and backward
 * sequences (see peer_gpu.h), sorting through CUB. */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gpu_util.cuh"
#include "peer_gpu.h"
#include "peer_kernels.cuh"

#define PEER_MAX_STAGES 16

/* Backward: the routing backward (score, query, BatchNorm, sub-key and Wq
 * gradients) on two high-priority side streams, concurrent with the dU pass
 * and the dx gathers on the caller's stream. Off while stage timing is on. */
#ifndef PEER_OVERLAP
#define PEER_OVERLAP 1
#endif
/* 1: the dU pass on the sub-key side stream, concurrent with dx */
#ifndef PEER_DU_SIDE
#define PEER_DU_SIDE 1
#endif
/* 1: sub-key scores and the top-k per half in one kernel (peer_scores.cu) where
 * the device's shared memory holds a block's keys and scores; 0: the product
 * into S, then peer_topk_rows */
#ifndef PEER_FUSED_SCORES
#define PEER_FUSED_SCORES 1
#endif

/* Runs of equal keys over a sorted array. */
typedef struct peer_runs {
    int *id, *cnt, *off; /* [max] */
    int *n;              /* [1] on the device */
    int max;
} peer_runs;

struct l720_peer_gpu {
    l720_peer_dims dm;
    int HD, dk2, N, T;          /* T: tokens of the last forward */
    long Pmax;                  /* max pairs */
    int trained;                /* last forward was a training one */
    int fused;                  /* scores and top-k per half in one kernel (no S, k3, qs) */
    int grad_add;               /* backward adds into the dense gradients */
    l720_gemm *gemm;
    float *q;                   /* [T, HD] query before BatchNorm */
    float *mean, *rstd;         /* [HD] */
    float *qn;                  /* [T, HD] after BatchNorm (fp32: it decides the routing) */
    uint16_t *k3;               /* [h, 2, n, K3] sub-keys repeated for the split-query products (not fused) */
    uint16_t *qs;               /* [T, 2h, K3] query split into three bf16 parts (not fused) */
    float *S;                   /* [2h, T, n] sub-key scores (not fused) */
    float *tv;                  /* [T, 2h, k] */
    int *ti;                    /* [T, 2h, k] */
    int *ids;                   /* [P] expert per pair */
    float *gate, *act;          /* [P] */
    float *gate_s, *act_s, *dc_s, *da_s; /* [P] at the pairs' sorted positions (act_s, dc_s: [slices, P]) */
    int *iota;                  /* [2P] 0, 1, 2, ... */
    int *skey, *sp;             /* [P] sorted expert ids, pair ids */
    peer_runs er;               /* runs of experts */
    float *dc, *da;             /* [P] */
    float *dsk;                 /* [2P] sub-key entry coefficients (summed score gradients) */
    uint16_t *du, *dv;          /* [er.max, d] bf16 row gradients */
    float *dqn;                 /* [T, HD] */
    uint16_t *dq;               /* [T, HD] bf16 */
    int *k2, *k2s, *e2s;        /* [2P] sub-key entries: keys, sorted keys, sorted entries */
    peer_runs kr;               /* runs of sub-keys */
    float *dxq;                 /* [T, d] */
    float *part;                /* [PEER_COL_RB, HD, 2] column partial sums */
    float *bnsum;               /* [2, HD] BatchNorm backward sums (dbeta, dgamma) */
    void *cub;                  /* CUB temporary storage */
    size_t cub_bytes;
    int key_bits, key2_bits;
    cudaStream_t side[2];       /* backward: routing chain, sub-key gradients */
    cudaEvent_t fork[4];        /* fork and join points of the side streams */
    int timing;                 /* record an event after each stage */
    int nev;
    cudaEvent_t ev[PEER_MAX_STAGES + 1];
    const char *evname[PEER_MAX_STAGES + 1];
};

/* Stage timing for benchmarks: an event after each stage when enabled. */
static void mark(l720_peer_gpu *p, const char *name, cudaStream_t s)
{
    if (!p->timing || p->nev > PEER_MAX_STAGES)
        return;
    p->evname[p->nev] = name;
    cudaEventRecord(p->ev[p->nev++], s);
}

static int check_dims(const l720_peer_dims *m, l720_err *err)
{
    if (m->tokens < 1)
        return l720_err_set(err, L720_EINPUT, "peer: field 'tokens': %d, expected >= 1", m->tokens);
    if (m->d < 256 || m->d > 2048 || m->d % 256)
        return l720_err_set(err, L720_EINPUT,
                            "peer: field 'd': %d, the GPU layer needs a multiple of 256 in [256, 2048]",
                            m->d);
    if (m->n < 1 || m->n > 1024)
        return l720_err_set(err, L720_EINPUT, "peer: field 'n': %d, expected 1..1024", m->n);
    if (m->heads < 1 || m->heads > 64)
        return l720_err_set(err, L720_EINPUT, "peer: field 'heads': %d, expected 1..64", m->heads);
    if (m->topk < 1 || m->topk > 32 || m->topk > m->n)
        return l720_err_set(err, L720_EINPUT, "peer: field 'topk': %d, expected 1..min(32, n)",
                            m->topk);
    if (m->d_key < 2 || m->d_key > 256 || m->d_key % 2)
        return l720_err_set(err, L720_EINPUT, "peer: field 'd_key': %d, expected even, 2..256",
                            m->d_key);
    if ((long)m->tokens * m->heads * m->topk * 2 > 0x7fffffffL)
        return l720_err_set(err, L720_EINPUT, "peer: too many pairs (tokens x heads x topk)");
    return 0;
}

static int bits_for(long x)
{
    int b = 1;
    while ((1L << b) < x)
        b++;
    return b;
}

/* Sizes of every buffer, in one place, for new() and workspace_bytes(). */
#define PEER_BUFFERS(X)                                                                            \
    X(q, float, T * HD) X(mean, float, HD) X(rstd, float, HD) X(qn, float, T * HD)           \
    X(S, float, fused ? 0 : 2 * h * T * n) X(tv, float, T * 2 * h * k) X(ti, int, T * 2 * h * k)             \
    X(ids, int, P) X(gate, float, P) X(act, float, P) X(iota, int, 2 * P) X(skey, int, P)        \
    X(sp, int, P) X(dc, float, P) X(da, float, P) X(dsk, float, 2 * P) X(du, uint16_t, er_max * d)       \
    X(dv, uint16_t, er_max * d) X(dqn, float, T * HD) X(dq, uint16_t, T * HD) X(k2, int, 2 * P)      \
    X(k2s, int, 2 * P) X(e2s, int, 2 * P) X(dxq, float, T * d)                        \
    X(part, float, PEER_COL_RB * HD * 2) X(bnsum, float, 2 * HD)                  \
    X(k3, uint16_t, fused ? 0 : 2 * h * n * K3) X(qs, uint16_t, fused ? 0 : T * 2 * h * K3)                               \
    X(gate_s, float, P) X(act_s, float, P * PEER_EXP_SLICES) X(dc_s, float, P * PEER_EXP_SLICES) \
    X(da_s, float, P)

#define PEER_LOCALS(m)                                                                             \
    const size_t T = (size_t)(m)->tokens, d = (size_t)(m)->d, n = (size_t)(m)->n,                 \
                 h = (size_t)(m)->heads, k = (size_t)(m)->topk, HD = h * (size_t)(m)->d_key;      \
    const size_t P = T * h * k, N = n * n, K3 = PEER_K3((size_t)(m)->d_key / 2);                \
    const size_t er_max = P < N ? P : N, kr_max = 2 * P < 2 * h * n + 1 ? 2 * P : 2 * h * n + 1;          \
    const int fused = PEER_FUSED_SCORES && peer_scores_fits((int)n, (m)->d_key / 2);          \
    (void)er_max;                                                                                 \
    (void)fused;                                                                                  \
    (void)K3;                                                                                     \
    (void)kr_max

static size_t cub_bytes_for(size_t P, size_t er_max)
{
    size_t a = 0, b = 0, c = 0, e = 0;
    int *ip = NULL;
    cub::DeviceRadixSort::SortPairs(NULL, a, ip, ip, ip, ip, (int)(2 * P));
    cub::DeviceRunLengthEncode::Encode(NULL, b, ip, ip, ip, ip, (int)(2 * P));
    cub::DeviceScan::ExclusiveSum(NULL, c, ip, ip, (int)(er_max > 2 * P ? er_max : 2 * P));
    e = a > b ? a : b;
    return e > c ? e : c;
}

size_t l720_peer_gpu_workspace_bytes(const l720_peer_dims *m)
{
    PEER_LOCALS(m);
    size_t total = 0;
#define SZ(name, type, count) total += ((size_t)(count) * sizeof(type) + 255) / 256 * 256;
    PEER_BUFFERS(SZ)
#undef SZ
    total += 3 * (er_max + kr_max) * sizeof(int) + cub_bytes_for(P, er_max) + (32u << 20);
    return total;
}

static int runs_alloc(peer_runs *r, size_t max, l720_err *err)
{
    r->max = (int)max;
    GPU_CK(cudaMalloc(&r->id, max * sizeof(int)));
    GPU_CK(cudaMalloc(&r->cnt, max * sizeof(int)));
    GPU_CK(cudaMalloc(&r->off, max * sizeof(int)));
    GPU_CK(cudaMalloc(&r->n, sizeof(int)));
    GPU_CK(cudaMemset(r->cnt, 0, max * sizeof(int)));
    return 0;
}

static void runs_free(peer_runs *r)
{
    cudaFree(r->id);
    cudaFree(r->cnt);
    cudaFree(r->off);
    cudaFree(r->n);
}

__global__ void k_iota(int *a, long n)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        a[i] = (int)i;
}

static int alloc_all(l720_peer_gpu *p, l720_err *err)
{
    const l720_peer_dims *m = &p->dm;
    PEER_LOCALS(m);
#define AL(name, type, count) GPU_CK(cudaMalloc(&p->name, (size_t)(count) * sizeof(type)));
    PEER_BUFFERS(AL)
#undef AL
    p->fused = fused;
    if (runs_alloc(&p->er, er_max, err) || runs_alloc(&p->kr, kr_max, err))
        return err->code;
    p->cub_bytes = cub_bytes_for(P, er_max);
    GPU_CK(cudaMalloc(&p->cub, p->cub_bytes));
    int lo = 0, hi = 0;
    GPU_CK(cudaDeviceGetStreamPriorityRange(&lo, &hi));
    for (int i = 0; i < 2; i++)
        GPU_CK(cudaStreamCreateWithPriority(&p->side[i], cudaStreamNonBlocking, hi));
    for (int i = 0; i < 4; i++)
        GPU_CK(cudaEventCreateWithFlags(&p->fork[i], cudaEventDisableTiming));
    k_iota<<<1024, 256>>>(p->iota, (long)(2 * P));
    GPU_LAUNCHED();
    GPU_CK(cudaDeviceSynchronize());
    return 0;
}

l720_peer_gpu *l720_peer_gpu_new(const l720_peer_dims *dims, l720_err *err)
{
    if (check_dims(dims, err))
        return NULL;
    l720_peer_gpu *p = (l720_peer_gpu *)calloc(1, sizeof *p);
    if (!p) {
        l720_err_set(err, L720_EFAIL, "peer: out of memory");
        return NULL;
    }
    p->dm = *dims;
    p->HD = dims->heads * dims->d_key;
    p->dk2 = dims->d_key / 2;
    p->N = dims->n * dims->n;
    p->Pmax = (long)dims->tokens * dims->heads * dims->topk;
    p->key_bits = bits_for(p->N);
    p->key2_bits = bits_for(2L * dims->heads * dims->n + 1); /* 2 h n: no sub-key */
    size_t free_b = 0, total_b = 0;
    size_t need = l720_peer_gpu_workspace_bytes(dims);
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        l720_err_set(err, L720_EFAIL, "peer: no usable CUDA device");
        free(p);
        return NULL;
    }
    if (need > free_b) {
        l720_err_set(err, L720_EINPUT,
                     "peer: the workspace needs %zu bytes of GPU memory, %zu are free", need, free_b);
        free(p);
        return NULL;
    }
    p->gemm = l720_gemm_new(err);
    if (!p->gemm || alloc_all(p, err)) {
        l720_peer_gpu_free(p);
        return NULL;
    }
    return p;
}

void l720_peer_gpu_free(l720_peer_gpu *p)
{
    if (!p)
        return;
    if (p->timing)
        for (int i = 0; i <= PEER_MAX_STAGES; i++)
            cudaEventDestroy(p->ev[i]);
#define FR(name, type, count) cudaFree(p->name);
    PEER_BUFFERS(FR)
#undef FR
    runs_free(&p->er);
    runs_free(&p->kr);
    for (int i = 0; i < 2; i++)
        if (p->side[i])
            cudaStreamDestroy(p->side[i]);
    for (int i = 0; i < 4; i++)
        if (p->fork[i])
            cudaEventDestroy(p->fork[i]);
    cudaFree(p->cub);
    l720_gemm_free(p->gemm);
    free(p);
}

/* Sorts keys (values: 0, 1, 2, ...) and finds the runs of equal keys. */
static int sort_runs(l720_peer_gpu *p, const int *keys, int *skeys, int *svals, int count, int bits,
                     peer_runs *r, cudaStream_t s, l720_err *err)
{
    size_t b = p->cub_bytes;
    GPU_CK(cub::DeviceRadixSort::SortPairs(p->cub, b, keys, skeys, p->iota, svals, count, 0, bits, s));
    b = p->cub_bytes;
    GPU_CK(cub::DeviceRunLengthEncode::Encode(p->cub, b, skeys, r->id, r->cnt, r->n, count, s));
    b = p->cub_bytes;
    GPU_CK(cub::DeviceScan::ExclusiveSum(p->cub, b, r->cnt, r->off, r->max, s));
    return 0;
}

static peer_sorted sorted_pairs(l720_peer_gpu *p, int P)
{
    peer_sorted ps = {p->er.off, p->er.n, p->er.max, p->sp, p->skey, P};
    return ps;
}

/* The two-kernel path: the scores S [2h, T, n] by one batched product, then
 * the top-k of each row. */
static int scores_topk(l720_peer_gpu *p, const l720_peer_weights *w, int T, cudaStream_t s,
                       l720_err *err)
{
    const int h = p->dm.heads, n = p->dm.n, k = p->dm.topk, dk2 = p->dk2, K3 = PEER_K3(dk2);
    peer_repeat_keys(w->keys, (size_t)2 * h * n, dk2, K3, p->k3, s);
    peer_split_query(p->qn, T, 2 * h, dk2, K3, p->qs, s);
    GPU_LAUNCHED();
    if (l720_gemm_bf16(p->gemm, 0, 1, T, n, K3, 1.0f, p->qs, 2L * h * K3, K3, p->k3, K3,
                       (long)n * K3, 0.0f, p->S, n, (long)T * n, 2 * h, s, err))
        return err->code;
    mark(p, "fwd sub-key scores", s);
    peer_topk_rows(p->S, 2 * h, T, n, k, p->tv, p->ti, s);
    GPU_LAUNCHED();
    mark(p, "fwd top-k per half", s);
    return 0;
}

int l720_peer_gpu_forward(l720_peer_gpu *p, const l720_peer_weights *w, const uint16_t *x,
                          uint16_t *y, int T, int training, void *stream, l720_err *err)
{
    const l720_peer_dims *m = &p->dm;
    cudaStream_t s = (cudaStream_t)stream;
    const int h = m->heads, k = m->topk, n = m->n, d = m->d, HD = p->HD, dk2 = p->dk2;
    if (T < 1 || T > m->tokens)
        return l720_err_set(err, L720_EINPUT, "peer: %d tokens, expected 1..%d", T, m->tokens);
    if (training && T < 2)
        return l720_err_set(err, L720_EINPUT, "peer: training needs at least 2 tokens (BatchNorm)");
    const int P = T * h * k;
    p->T = T;
    p->trained = training;
    p->nev = 0;
    mark(p, "start", s);
    if (l720_gemm_bf16(p->gemm, 0, 1, T, HD, d, 1.0f, x, d, 0, w->wq, d, 0, 0.0f, p->q, HD, 0, 1,
                       s, err))
        return err->code;
    peer_bn_stats(p->q, T, HD, p->mean, p->rstd, w->run_mean, w->run_var, w->momentum, training,
                  p->part, s);
    peer_bn_apply(p->q, p->mean, p->rstd, w->gamma, w->beta, T, HD, p->qn, s);
    GPU_LAUNCHED();
    mark(p, "fwd query+BN", s);
    /* S[b] = qn[:, b-th half-query] K[b]^T for b = 2j + half, at fp32 accuracy (split query,
     * exact bf16 products, fp32 sums) like the CPU trainer's fp32 products, so that both choose
     * the same experts up to summation order */
    if (p->fused) {
        peer_scores_topk(p->qn, w->keys, T, 2 * h, n, dk2, k, p->tv, p->ti, s);
        GPU_LAUNCHED();
        mark(p, "fwd scores + top-k per half", s);
    } else if (scores_topk(p, w, T, s, err))
        return err->code;
    peer_topk_combine(p->tv, p->ti, T, h, n, k, p->ids, p->gate, s);
    GPU_LAUNCHED();
    mark(p, "fwd top-k of k*k sums", s);
    if (sort_runs(p, p->ids, p->skey, p->sp, P, p->key_bits, &p->er, s, err))
        return err->code;
    mark(p, "fwd sort by expert", s);
    const peer_sorted ps = sorted_pairs(p, P);
    peer_expert_act(&ps, w->u, x, d, h * k, p->gate, p->act, p->act_s, p->gate_s, s);
    GPU_LAUNCHED();
    mark(p, "fwd u.x (expert-major)", s);
    peer_gather_rows(p->ids, p->gate, p->act, w->v, T, d, h * k, NULL, y, s);
    GPU_LAUNCHED();
    mark(p, "fwd y (v gathers)", s);
    return 0;
}

int l720_peer_gpu_backward(l720_peer_gpu *p, const l720_peer_weights *w, const uint16_t *x,
                           const uint16_t *dy, uint16_t *dx, const l720_peer_grads *g,
                           void *stream, l720_err *err)
{
    const l720_peer_dims *m = &p->dm;
    cudaStream_t s = (cudaStream_t)stream;
    const int h = m->heads, k = m->topk, n = m->n, d = m->d, HD = p->HD, T = p->T;
    const int P = T * h * k;
    if (!p->trained)
        return l720_err_set(err, L720_EINPUT, "peer: backward needs a training forward first");
    mark(p, "bwd start", s);
    const peer_sorted ps = sorted_pairs(p, P);
    peer_expert_dv(&ps, w->v, dy, d, h * k, p->gate_s, p->act_s, p->dc_s, p->dc, p->da, p->da_s,
                   p->dv, s);
    GPU_LAUNCHED();
    mark(p, "bwd dV dc da (expert-major)", s);
    /* with timing on, one stream, so that each stage has its own time */
    const int overlap = PEER_OVERLAP && !p->timing;
    cudaStream_t sr = overlap ? p->side[0] : s, sk = overlap ? p->side[1] : s;
    if (overlap) {
        GPU_CK(cudaEventRecord(p->fork[0], s));
        GPU_CK(cudaStreamWaitEvent(sr, p->fork[0], 0));
    }
    const int du_side = overlap && PEER_DU_SIDE;
    if (du_side)
        GPU_CK(cudaStreamWaitEvent(sk, p->fork[0], 0));
    peer_expert_du(&ps, x, d, h * k, p->da_s, p->du, du_side ? sk : s);
    GPU_LAUNCHED();
    mark(p, "bwd dU (expert-major)", s);
    peer_route_bwd(p->ids, p->gate, p->act, p->dc, w->keys, T, h, n, k, m->d_key, p->k2, p->dsk,
                   p->dqn, sr);
    GPU_LAUNCHED();
    mark(p, "bwd score + query grads", s);
    if (overlap) {
        GPU_CK(cudaEventRecord(p->fork[1], sr));
        GPU_CK(cudaStreamWaitEvent(sk, p->fork[1], 0));
    }
    if (sort_runs(p, p->k2, p->k2s, p->e2s, 2 * P, p->key2_bits, &p->kr, sk, err))
        return err->code;
    mark(p, "bwd sub-key sort", s);
    if (!p->grad_add)
        GPU_CK(cudaMemsetAsync(g->keys, 0, (size_t)2 * h * n * p->dk2 * sizeof(float), sk));
    peer_subkey_grad(p->kr.id, p->kr.off, p->kr.cnt, p->kr.n, p->kr.max, p->e2s, p->dsk, p->qn, n,
                     h, k, m->d_key, p->grad_add, g->keys, sk);
    GPU_LAUNCHED();
    mark(p, "bwd sub-key grads", s);
    peer_bn_bwd(p->q, p->mean, p->rstd, w->gamma, p->dqn, T, HD, p->bnsum + HD, p->bnsum, p->dq,
                p->part, sr);
    GPU_LAUNCHED();
    peer_bn_grads_out(p->bnsum, HD, p->grad_add, g->beta, g->gamma, sr);
    GPU_LAUNCHED();
    if (l720_gemm_bf16(p->gemm, 1, 0, HD, d, T, 1.0f, p->dq, HD, 0, x, d, 0,
                       p->grad_add ? 1.0f : 0.0f, g->wq, d, 0, 1, sr, err))
        return err->code;
    if (l720_gemm_bf16(p->gemm, 0, 0, T, d, HD, 1.0f, p->dq, HD, 0, w->wq, d, 0, 0.0f, p->dxq, d,
                       0, 1, sr, err))
        return err->code;
    mark(p, "bwd BN + Wq GEMMs", s);
    if (overlap) { /* dx needs dxq; then the sub-key stream joins */
        GPU_CK(cudaEventRecord(p->fork[2], sr));
        GPU_CK(cudaStreamWaitEvent(s, p->fork[2], 0));
    }
    peer_gather_rows(p->ids, p->da, NULL, w->u, T, d, h * k, p->dxq, dx, s);
    GPU_LAUNCHED();
    mark(p, "bwd dx (u gathers)", s);
    if (overlap) {
        GPU_CK(cudaEventRecord(p->fork[3], sk));
        GPU_CK(cudaStreamWaitEvent(s, p->fork[3], 0));
    }
    return 0;
}

void l720_peer_gpu_set_grad_add(l720_peer_gpu *p, int add) { p->grad_add = add != 0; }

const int32_t *l720_peer_gpu_ids(const l720_peer_gpu *p) { return p->ids; }
const float *l720_peer_gpu_gates(const l720_peer_gpu *p) { return p->gate; }
const float *l720_peer_gpu_query(const l720_peer_gpu *p) { return p->qn; }

int l720_peer_gpu_rows(l720_peer_gpu *p, const int32_t **ids, const uint16_t **du,
                       const uint16_t **dv,
                       int *n_touched, void *stream, l720_err *err)
{
    GPU_CK(cudaMemcpyAsync(n_touched, p->er.n, sizeof(int), cudaMemcpyDeviceToHost,
                           (cudaStream_t)stream));
    GPU_CK(cudaStreamSynchronize((cudaStream_t)stream));
    *ids = p->er.id;
    *du = p->du;
    *dv = p->dv;
    return 0;
}

int l720_peer_gpu_adamw_rows(l720_peer_gpu *p, const uint16_t *grad, float *master, float *m,
                             float *v, uint16_t *w16, int d, const l720_adamw_cfg *c, void *stream,
                             l720_err *err)
{
    if (c->step < 1)
        return l720_err_set(err, L720_EINPUT, "adamw: step %d, expected >= 1", c->step);
    const float bc1 = 1.0f - powf(c->beta1, (float)c->step);
    const float bc2 = 1.0f - powf(c->beta2, (float)c->step);
    peer_adamw_rows(p->er.id, p->er.n, p->er.max, grad, master, m, v, w16, d, c->lr, c->beta1,
                    c->beta2, c->eps, c->weight_decay, bc1, bc2, (cudaStream_t)stream);
    GPU_LAUNCHED();
    return 0;
}

int l720_peer_gpu_timing(l720_peer_gpu *p, int on, l720_err *err)
{
    if (on && !p->timing)
        for (int i = 0; i <= PEER_MAX_STAGES; i++)
            GPU_CK(cudaEventCreate(&p->ev[i]));
    if (!on && p->timing)
        for (int i = 0; i <= PEER_MAX_STAGES; i++)
            cudaEventDestroy(p->ev[i]);
    p->timing = on;
    p->nev = 0;
    return 0;
}

int l720_peer_gpu_stage_times(l720_peer_gpu *p, const char **names, float *ms, int max)
{
    int n = 0;
    if (!p->timing || cudaEventSynchronize(p->ev[p->nev - 1]) != cudaSuccess)
        return 0;
    for (int i = 1; i < p->nev && n < max; i++) {
        if (strcmp(p->evname[i], "bwd start") == 0)
            continue; /* the gap between forward and backward is the caller's */
        names[n] = p->evname[i];
        cudaEventElapsedTime(&ms[n], p->ev[i - 1], p->ev[i]);
        n++;
    }
    return n;
}
