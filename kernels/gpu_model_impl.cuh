/* gpu_model_impl.cuh: the inside of l720_gpu_model, shared by gpu_model.cu
 * (layout, memory, state), gpu_model_pass.cu (forward, backward) and
 * gpu_model_optim.cu (gradient norm, AdamW). Not part of the contract. */
#ifndef L720_GPU_MODEL_IMPL_CUH
#define L720_GPU_MODEL_IMPL_CUH

#include <cuda_runtime.h>

#include <vector>

#include "kernels/dense_gpu.h"
#include "kernels/flash_attn.h"
#include "kernels/gpu_model.h"
#include "kernels/gpu_util.cuh"
#include "kernels/moe_gpu.h"
#include "kernels/peer_gpu.h"

/* One block: offsets (floats) of its tensors in params/grads, and the
 * activations of the last forward (N = B*T tokens, d, H = ffn_hidden). */
struct gm_layer {
    l720_ffn_kind kind;
    size_t o_an, o_wqkv, o_wo, o_fn, o_ffn; /* attn_norm, wqkv, wo, ffn_norm, first FFN tensor */
    float *resid, *rstd1, *resid_mid, *rstd2; /* [N,d] [N] [N,d] [N] */
    uint16_t *ln1, *qkvbf, *attybf, *ln2;     /* [N,d] [N,3d] [N,d] [N,d] */
    float *lse;    /* fused attention: [B, NH, T] softmax log-normalisers */
    uint16_t *P;   /* batched attention (head sizes the fused kernel lacks): [B, NH, T, T] */
    uint16_t *h13;                            /* dense: [N, 2H] h1 | h3 */
    uint16_t *act;                            /* dense: [N, H] */
    l720_moe_gpu *moe;                        /* MoE: the layer's workspace */
    int E;                                    /* MoE experts */
    l720_peer_gpu *peer;                      /* PEER: the layer's workspace */
    int pn, ph, pk, pdk;                      /* PEER n, heads, top-k, d_key */
    size_t o_u, o_v, buf_off;                 /* PEER u, v tensors; running stats in buffers */
    int32_t *touched;  /* PEER: [n*n] rows of u, v holding gradient, ascending (with
                          accumulation: the union over the micro-batches) */
    int n_touched;     /* their number (host) */
};

/* A run of adjacent non-sparse tensors with one decay rule. */
struct gm_run {
    size_t off, len;
    int decay;
};

struct l720_gpu_model {
    l720_model_cfg c;
    int max_batch, max_N, Vp; /* Vp: logits row stride (vocab rounded up to 64) */
    size_t np, nbuf;          /* parameters, buffer floats */
    size_t o_embed, o_final, o_head;
    std::vector<gm_layer> L;
    std::vector<gm_run> runs; /* every non-sparse tensor, in layout order */
    std::vector<std::pair<size_t, size_t>> zero_runs; /* (offset, floats) zeroed before a backward */
    int has_dense, has_moe, has_peer;
    int flash; /* 1: fused attention (kernels/flash_attn.h) for this head size */
    /* memory: with dry = 1 the allocation calls only add up `need` */
    int dry;
    size_t need;
    std::vector<void *> allocs;  /* everything cudaMalloc'd */
    std::vector<std::pair<void *, size_t>> scratch; /* gradients and activations (poisonable) */
    cudaStream_t st;
    l720_gemm *g;
    /* state */
    float *p, *m, *v;        /* [np] */
    float *grad;             /* [np + head_pad]: the head's gradient has Vp rows, zero past V */
    uint16_t *pbf;           /* [np + head_pad] bf16 copy of p; the head's Vp - V extra rows 0 */
    size_t head_pad;         /* (Vp - V) * d: the head is the last tensor of the layout */
    float *buf;              /* [nbuf] PEER running statistics */
    uint64_t t;              /* AdamW steps taken */
    /* activations and scratch */
    float *x_out, *rstdf, *loss_rows, *qkv, *y; /* [N,d] [N] [N] [N,3d] [N,d] */
    float *S, *dsum; /* batched attention: [NH,T,T] scores; fused: [B,NH,T] rowsum(dy*y) */
    float *dresid, *dln, *dqkv;  /* [N,d] [N,d] [N,3d] */
    float *part, *cosb, *sinb;                   /* RMSNorm partials, [T, hs/2] x2 */
    uint16_t *logits; /* [N,Vp] the logits, overwritten by their gradient (cross-entropy) */
    uint16_t *lnf, *dS, *dresbf, *dattybf, *dqkvbf, *dact, *dh13, *ffn16;
    int32_t *tok, *tgt, *order, *run_start, *run_tok; /* [N] [N] [N] [N+1] [N] */
    double *norm_part;       /* gradient-norm partial sums */
    size_t n_norm_part;
    size_t *chunk_off, *chunk_len; /* [n_chunks] fixed pieces of the runs for the norm */
    int n_chunks;
    /* host scratch */
    std::vector<int32_t> h_order, h_run_start, h_run_tok, h_count;
    std::vector<float> h_loss;
    /* the last forward */
    int B, T, training, have_targets, n_runs_tok;
    size_t n_targets;
    int backward_done;  /* gradients of a backward are in grad (for norm / AdamW) */
    float acc_beta;     /* the backward running: 0 writes the gradients, 1 adds to them */
    std::vector<int32_t> h_old, h_new, h_union; /* host scratch of the touched-row union */
    int full_clear;     /* the next backward zeroes whole u, v gradients (not only old rows) */
};

/* Forward and backward (gpu_model_pass.cu). */
int gm_forward(l720_gpu_model *m, int B, int T, int training, l720_err *err);
int gm_backward(l720_gpu_model *m, l720_err *err);

#endif
