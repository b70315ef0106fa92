/* model.h: the transformer of the toolkit (the joint-MoE paper's family), CPU
 * reference. This header is the contract between the model (model*.c,
 * layer files), the training driver (train*.c) and the CUDA trainer, which
 * keeps the same parameter layout so that parameters, gradients and
 * checkpoints compare element by element.
 *
 * Model: token embedding -> n_layers x [RMSNorm -> causal MHA with RoPE ->
 * residual; RMSNorm -> FFN -> residual] -> RMSNorm -> LM head (untied) ->
 * cross-entropy. FFN per layer: dense SwiGLU (hidden = ffn_hidden), Switch MoE
 * (E SwiGLU experts of the same hidden, top-1), or PEER (N = n^2 single-neuron
 * experts, h heads, top-k, product keys, query BatchNorm).
 *
 * All parameters live in one float allocation (params) with one tensor
 * descriptor per named block; grads has the same layout. fp32 throughout.
 */
#ifndef L720_MODEL_H
#define L720_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define L720_MAX_LAYERS 64

typedef enum { L720_FFN_DENSE = 0, L720_FFN_MOE = 1, L720_FFN_PEER = 2 } l720_ffn_kind;

typedef struct l720_ffn_spec {
    l720_ffn_kind kind;
    int n_experts; /* MoE: E; PEER: N (a perfect square n*n) */
    int heads;     /* PEER: h */
    int topk;      /* MoE: 1; PEER: k (k <= n) */
    int d_key;     /* PEER: query size d_k (even); 0 means d_model/2 */
} l720_ffn_spec;

typedef struct l720_model_cfg {
    int vocab;      /* 256 for the byte-level tokenizer, 50257 for GPT-2 shards */
    int d_model;    /* multiple of n_heads */
    int n_layers;   /* <= L720_MAX_LAYERS */
    int n_heads;    /* head size d_model / n_heads, even (RoPE) */
    int seq_len;    /* maximum context T */
    int ffn_hidden; /* SwiGLU hidden size; 0 means 3 * d_model */
    l720_ffn_spec ffn[L720_MAX_LAYERS];
    float capacity_factor; /* MoE training capacity (1.25); evaluation is dropless */
    float balance_coef;    /* MoE load-balancing loss weight (0.01) */
    float zloss_coef;      /* MoE router z-loss weight (0.001) */
    float bn_momentum;     /* PEER query BatchNorm running-statistics momentum (0.1) */
    float rope_theta;      /* 10000 */
} l720_model_cfg;

/* Fills defaults (ffn_hidden, capacity 1.25, 0.01, 0.001, 0.1, 10000) and
 * checks shapes: d_model divisible by heads, even head size, N a perfect
 * square, k <= n, d_key even, ... Errors name the field (code 2). */
int l720_model_cfg_check(l720_model_cfg *cfg, l720_err *err);

/* One named block of parameters inside params/grads. */
typedef struct l720_tensor {
    char name[48];   /* e.g. "layer3.peer.u" */
    size_t offset;   /* in floats, into params and grads */
    size_t rows;     /* leading dimension (1 for vectors) */
    size_t cols;     /* row length */
    int sparse_rows; /* 1: only rows touched in a step get gradients (PEER u, v):
                        the optimiser may update them lazily, using touched[] */
    int no_decay;    /* 1: norms, biases, BatchNorm: no weight decay */
} l720_tensor;

typedef struct l720_model l720_model;

/* Builds a model for max_batch sequences of at most cfg->seq_len tokens.
 * Parameters are initialised from seed (deterministic). */
l720_model *l720_model_new(const l720_model_cfg *cfg, int max_batch, uint64_t seed,
                           l720_err *err);
void l720_model_free(l720_model *m);

const l720_model_cfg *l720_model_config(const l720_model *m);
float *l720_model_params(l720_model *m); /* [n_params] */
float *l720_model_grads(l720_model *m);  /* [n_params] */
size_t l720_model_n_params(const l720_model *m);
const l720_tensor *l720_model_tensors(const l720_model *m, int *n);

/* Rows of tensor t touched since the last zero_grad ([t.rows] bytes, 0/1),
 * or NULL for dense tensors. */
const uint8_t *l720_model_touched(const l720_model *m, int t);

/* Non-parameter state that a checkpoint must keep (PEER BatchNorm running
 * mean and variance): a float array and its length. */
float *l720_model_buffers(l720_model *m, size_t *n);

/* Parameter counts as the joint-MoE paper counts them (embeddings included):
 * active per token and total. */
double l720_model_active_params(const l720_model *m);
double l720_model_total_params(const l720_model *m);
/* Training FLOPs per token (6 x active, plus attention). */
double l720_model_flops_per_token(const l720_model *m);

typedef struct l720_forward_out {
    double loss;     /* mean cross-entropy over targets (nats/token) */
    double aux_loss; /* weighted MoE balance + z-loss (0 without MoE) */
} l720_forward_out;

/* tokens, targets: [B * T] int32 (targets NULL: no loss; a target < 0 is
 * ignored: the loss is the mean over the others). training = 1: batch
 * BatchNorm statistics and MoE capacity; 0: running statistics, dropless.
 * Returns 0, or an error for out-of-range tokens or B/T above the maximum. */
int l720_model_forward(l720_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                       int training, l720_forward_out *out, l720_err *err);

/* Logits of the last forward: [B * T * vocab]. */
const float *l720_model_logits(const l720_model *m);

void l720_model_zero_grad(l720_model *m);

/* Accumulates into grads the gradient of loss + aux_loss of the last training
 * forward with targets. */
void l720_model_backward(l720_model *m);

/* Expert statistics of one FFN layer, accumulated over forwards since the
 * last reset: fraction of experts used at least once, and KL(usage || uniform)
 * in nats as in the PEER paper's Table 2. Returns -1 for a dense layer. */
int l720_model_expert_stats(const l720_model *m, int layer, double *frac_used, double *kl);
void l720_model_reset_expert_stats(l720_model *m);
/* The same two figures from usage counts [E] (times each expert was chosen). */
void l720_expert_usage_stats(const double *usage, int E, double *frac_used, double *kl);

/* Expert ids chosen in the last forward for one layer: [B * T * per_token]
 * where per_token = 1 (MoE) or h * k (PEER); NULL for a dense layer. */
const int32_t *l720_model_routing(const l720_model *m, int layer, int *per_token);

#endif
