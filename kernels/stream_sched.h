/* stream_sched.h: host side of the expert-streaming benchmark.
 *
 * A workload is a routing stream (which experts each token picks at each
 * layer) replayed in decoding steps of `batch` tokens: at each layer of a
 * step, the batch's accesses go, token by token and choice by choice, through
 * that layer's LRU cache: each layer owns cache_slots / layers expert slots in
 * GPU memory, and every miss loads the expert from the host table into the
 * layer's least recently used slot. The
 * schedule built here lists those loads per (step, layer), so the timed GPU
 * loop only issues them. Keys: expert e of layer l is key l * experts + e,
 * which is also its index in the host table.
 *
 * Plain C with libc only: it builds with nvcc's host compiler on the GPU
 * machine and in the unit test without CUDA.
 */
#ifndef L720_STREAM_SCHED_H
#define L720_STREAM_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STREAM_MAX_CONCURRENCY 8

typedef struct stream_cfg {
    char name[48];
    int layers;          /* L */
    int experts;         /* N, per layer */
    int per_token;       /* K distinct experts a token picks at a layer */
    int batch;           /* tokens per step */
    int steps;           /* decoding steps */
    size_t expert_bytes; /* one expert, a multiple of 16 */
    int cache_slots;     /* experts the GPU cache holds, all layers; a multiple of layers */
    double zipf_s;       /* 0: uniform routing; > 0: Zipf with this exponent */
    int zerocopy;        /* misses served by a zero-copy gather (1) or copies (0) */
    double compute_us;   /* requested per-layer compute time */
    uint64_t seed;
    int concurrency;     /* copy mode: streams the layer's copies are spread over (0: 1) */
} stream_cfg;

typedef struct stream_sched {
    int64_t tokens;     /* steps * batch */
    int32_t *route;     /* [tokens, layers, per_token] expert ids in [0, experts) */
    int64_t *miss_off;  /* [steps * layers + 1] start of each (step, layer)'s misses */
    int32_t *miss_key;  /* [n_miss] key loaded (index into the host table) */
    int32_t *miss_slot; /* [n_miss] cache slot it goes to */
    int32_t *slot_key;  /* [cache_slots] key held after the last step, -1 when empty */
    int64_t n_miss, n_access;
} stream_sched;

/* Checks a configuration; returns 0 or writes a reason into why. */
int stream_cfg_check(const stream_cfg *c, char *why, size_t n);

/* Draws the routing stream and builds the LRU schedule. 0 on success, -1 when
 * out of memory. */
int stream_sched_build(const stream_cfg *c, stream_sched *s);
void stream_sched_free(stream_sched *s);

/* Writes the routing stream in the trace format the simulator replays:
 *   # llm720 routing trace v1
 *   # layers L experts N per_token K
 *   t l e1 ... eK            (one line per token t and layer l, t-major)
 * Returns 0 or -1 (errno set). */
int stream_trace_write(const char *path, const stream_cfg *c, const stream_sched *s);

/* The 8-byte tag the benchmark writes at the start of each expert in the host
 * table, to check that every slot ends up holding the expert the schedule says. */
uint64_t stream_tag(int32_t key);

/* The benchmark's workloads (stream_configs.c). */
extern const stream_cfg stream_configs[];
extern const int stream_n_configs;

/* Builds the schedule of every workload into sched[stream_n_configs] and
 * writes DIR/NAME.trace for each; one line of counts per workload to log
 * (may be NULL). 0, or 2 (bad configuration) / 1 (out of memory, I/O) with a
 * reason in why. */
int stream_configs_prepare(const char *dir, stream_sched *sched, FILE *log, char *why, size_t n);

#ifdef __cplusplus
}
#endif

#endif
