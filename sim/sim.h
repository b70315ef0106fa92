/* sim.h: the memory-hierarchy simulator's public API.
 *
 * HBM is a cache of experts in front of host memory. A workload of L MoE
 * layers, N experts of S bytes per layer, h heads x top-k experts per token
 * and steps of B tokens is routed by a generator (or a trace), each layer's
 * accesses go through that layer's share of the cache, and a discrete-event
 * timeline of GPU compute and link transfers turns the misses into stalls,
 * step time and tokens/s. sim/MODELS.md states the model; the analytic
 * models (models.h) are reported beside every run.
 *
 *   l720_sim_config cfg;
 *   l720_sim_config_default(&cfg);          // then set fields, load cfg.hw
 *   l720_sim_result *res = l720_sim_run(&cfg, &err);
 *   cJSON *j = l720_sim_result_json(&cfg, res);
 *   l720_sim_result_free(res);
 */
#ifndef L720_SIM_H
#define L720_SIM_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "hardware.h"

typedef struct l720_route_trace l720_route_trace; /* trace.h */

typedef enum {
    L720_ROUTE_UNIFORM,
    L720_ROUTE_ZIPF,    /* popularity of rank r proportional to r^-s, ranks permuted per layer */
    L720_ROUTE_PK_ZIPF, /* N = n^2, popularity of (i, j) = p1(i) p2(j), each Zipf(s) over n */
    L720_ROUTE_TRACE,   /* replay of a routing trace (sim/TRACE.md) */
} l720_route_kind;

typedef enum {
    L720_POLICY_LRU,
    L720_POLICY_LFU,
    L720_POLICY_FIFO,
    L720_POLICY_RANDOM,
    L720_POLICY_STATIC, /* the most popular experts pinned; misses stream, nothing inserted */
    L720_POLICY_BELADY, /* MIN with bypass: the offline optimum */
    L720_POLICY_COUNT
} l720_policy;

typedef enum { L720_PREFETCH_NONE, L720_PREFETCH_ORACLE, L720_PREFETCH_PREDICT } l720_prefetch;
typedef enum { L720_TRANSFER_COPY, L720_TRANSFER_ZEROCOPY } l720_transfer;

/* How a layer-step's accesses reach the cache. */
typedef enum {
    L720_ACCESS_TOKEN,   /* token by token, slot by slot; every miss is a load (a streaming
                          * runtime that serves tokens in order) */
    L720_ACCESS_GROUPED, /* each distinct expert once, resident ones first (a grouped MoE
                          * kernel); an access hits when its expert was resident */
} l720_access;

typedef struct l720_sim_config {
    l720_hardware hw;      /* link, zero-copy curve, HBM bandwidth, bf16 peak */
    long layers;           /* L routed MoE layers */
    long experts;          /* N experts per layer */
    double expert_bytes;   /* S bytes per expert */
    long heads, topk;      /* h heads x k experts per token and layer */
    long batch;            /* B tokens per step */
    long steps;            /* T measured steps */
    long warmup_steps;     /* steps simulated before measuring (caches warm up) */
    double cache_bytes;    /* C bytes of HBM for experts, all layers together */
    l720_route_kind routing;
    double zipf_s;             /* zipf / pk-zipf exponent */
    const l720_route_trace *trace;   /* borrowed; for L720_ROUTE_TRACE */
    double reuse;              /* r: a slot reuses the previous token's expert with probability r */
    int decode;                /* 1: the B tokens of a step are B sequences (previous token = same
                                * sequence, previous step); 0: tokens in stream order */
    l720_policy policy;
    l720_access access;
    l720_prefetch prefetch;
    double predict_q;      /* fraction of the next layer's misses a predictor gets right */
    long ahead;            /* prefetch this many layers ahead (>= 1) */
    l720_transfer transfer;
    long concurrency;      /* copies in flight at once (copy mode) */
    double compute_seconds;  /* > 0: compute time of one layer-step; 0: roofline */
    double dense_flops;      /* roofline: non-expert FLOPs per token and layer */
    double bytes_per_param;  /* roofline: expert FLOPs = 2 * S / bytes_per_param per access */
    double row_bytes;        /* zero-copy gather row size; 0: expert_bytes */
    uint64_t seed;
} l720_sim_config;

/* Per routed layer, over the measured steps. */
typedef struct l720_sim_layer {
    double accesses, hits, transfers, bytes;
    double token_misses;     /* (token, layer) pairs with at least one miss */
    double compute_seconds, stall_seconds;
    double che_hit_rate;     /* Che's approximation for this layer's popularity */
} l720_sim_layer;

/* The analytic models beside the simulation (models.h has the formulas). */
typedef struct l720_sim_models {
    double che_tc;              /* Che's characteristic time, in accesses to one layer */
    double che_hit_rate;        /* LRU under independent references */
    double che_token_miss;      /* 1 - che_hit^K (independent slots) */
    double uniform_hit_rate;    /* c / N */
    double uniform_token_miss;  /* 1 - (c/N)^K */
    double independent_token_miss; /* 1 - h^K with the simulated h */
    double paper_p_miss;        /* (1 - h)^K with the simulated h */
    double paper_exp_claim;     /* exp(-K * N_hot / N_tot) */
    double paper_token_seconds; /* the paper's T_tok summed over layers */
    double sim_token_seconds;   /* simulated seconds per token */
} l720_sim_models;

#define L720_SIM_MAX_NOTES 4

typedef struct l720_sim_result {
    double accesses, hits, hit_rate;
    double token_layers, token_misses, token_miss_probability;
    double transfers, bytes_streamed, prefetch_bytes, wasted_bytes;
    double link_busy_seconds, link_utilization;
    double compute_seconds, stall_seconds, total_seconds, step_seconds, tokens_per_second;
    double table_bytes, cache_fraction;
    long cache_experts;  /* per layer */
    int all_resident;    /* the cache holds the whole table */
    double layer_compute_seconds; /* mean compute time of one layer-step */
    long events;         /* discrete events processed */
    long copy_channels;  /* copies in flight at once: --concurrency, capped by the profile */
    double copy_fixed_seconds; /* fixed cost of one copy used */
    long layers_n;
    l720_sim_layer *layer; /* [layers_n] owned */
    l720_sim_models models;
    int n_notes;
    char notes[L720_SIM_MAX_NOTES][256];
} l720_sim_result;

/* Defaults (also the command line's): one PEER layer of 1024^2 experts of
 * 4 KiB, 8 heads x top-16, batch 64, 100 steps, zipf:0.9, LRU, no prefetch,
 * copies, concurrency 1, token order, roofline compute, seed 1. hw is left
 * zeroed. */
void l720_sim_config_default(l720_sim_config *cfg);

/* Checks a configuration: non-positive sizes, top-k above the expert count,
 * a trace that does not match, ... are L720_EINPUT errors naming the field. */
int l720_sim_config_check(const l720_sim_config *cfg, l720_err *err);

/* Runs one simulation. NULL and err on bad input or out of memory. */
l720_sim_result *l720_sim_run(const l720_sim_config *cfg, l720_err *err);
void l720_sim_result_free(l720_sim_result *r);

/* Names: "lru", ... and back (-1 when unknown). */
const char *l720_policy_name(l720_policy p);
int l720_policy_parse(const char *s);

/* Parses --routing ("uniform", "zipf:S", "pk-zipf:S", "trace:FILE"): sets
 * cfg->routing and cfg->zipf_s; *trace_path points into s for traces. */
int l720_sim_parse_routing(const char *s, l720_sim_config *cfg, const char **trace_path,
                           l720_err *err);
/* Parses --prefetch ("none", "oracle[:AHEAD]", "predict:Q[:AHEAD]"). */
int l720_sim_parse_prefetch(const char *s, l720_sim_config *cfg, l720_err *err);

/* The result as one JSON object (keys hit_rate, token_miss_probability,
 * bytes_streamed, stall_seconds, step_seconds, tokens_per_second, accesses,
 * ..., "config", "models", "per_layer", "notes"). Deterministic for a seed. */
cJSON *l720_sim_result_json(const l720_sim_config *cfg, const l720_sim_result *r);

/* The configuration as JSON (also inside the result). */
cJSON *l720_sim_config_json(const l720_sim_config *cfg);

#endif
