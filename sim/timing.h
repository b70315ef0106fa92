/* timing.h: the discrete-event timeline of one run (sim/MODELS.md, "Step time").
 *
 * Layer-steps g = step * L + layer run in order on the GPU, each for tc[g]
 * seconds, once its experts are in HBM. Misses cross one link, first come
 * first served, in batches: a layer's demand fetch is issued when the
 * previous layer-step ends (its routing is known then); with prefetch, the
 * (predicted) misses of layer-step g are issued when g - ahead starts. A
 * batch of m copies of S bytes over n channels takes
 *   max(lat + m S / bw, ceil(m / n) (lat + S / bw));
 * a zero-copy gather of m rows takes lat_zc + m S / bw_gather(row).
 * Events are per batch and per layer-step, never per access.
 */
#ifndef L720_TIMING_H
#define L720_TIMING_H

#include <stdint.h>

#include "err.h"
#include "rng.h"
#include "sim.h"

typedef struct l720_timing_in {
    long layers, steps, warmup;  /* L, measured steps, warm-up steps before them */
    const uint32_t *fetch;       /* [(warmup + steps) * L] misses that need the link */
    const double *tc;            /* [(warmup + steps) * L] compute seconds */
    double expert_bytes;
    l720_transfer transfer;
    double link_bandwidth, link_latency; /* copies */
    long concurrency;
    double gather_bandwidth, gather_latency; /* zero-copy */
    l720_prefetch prefetch;
    double predict_q;
    long ahead;
    l720_rng *rng;               /* predictor's draws */
} l720_timing_in;

typedef struct l720_timing_out {
    double total_seconds;        /* measured steps only */
    double compute_seconds, stall_seconds;
    double link_busy_seconds;
    double transfers, bytes, prefetch_bytes, wasted_bytes;
    double *layer_stall;         /* [L] caller-owned, filled */
    long events;
} l720_timing_out;

/* Seconds for one batch of m transfers (the formulas above). */
double l720_batch_seconds(const l720_timing_in *in, double m);

/* Runs the timeline. out->layer_stall must point to L doubles. */
int l720_timing_run(const l720_timing_in *in, l720_timing_out *out, l720_err *err);

#endif
