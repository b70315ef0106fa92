/* sim.c: one simulation run (see sim.h): routing and caching layer by layer,
 * then the timeline, then the analytic models beside the results.
 *
 * Layers have independent caches (each holds C / L bytes) and independent
 * routing, so the run goes layer-major: one layer's cache, permutation and
 * per-expert stamps are in memory at a time, and Belady sees a layer's whole
 * access stream. What the timeline needs from each layer-step (misses that
 * cross the link, distinct experts touched) is kept in [steps, L] arrays. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "models.h"
#include "routing.h"
#include "sim.h"
#include "timing.h"

/* A seed per stream, so that a layer's routing does not depend on the policy
 * or on the other layers. */
static uint64_t stream_seed(uint64_t seed, uint64_t stream)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { STREAM_ROUTE = 0, STREAM_CACHE = 1, STREAM_PREDICT = 2 };

static void note(l720_sim_result *r, const char *fmt, double a, double b)
{
    if (r->n_notes < L720_SIM_MAX_NOTES)
        snprintf(r->notes[r->n_notes++], sizeof r->notes[0], fmt, a, b);
}

typedef struct ranked {
    double p;
    uint32_t id;
} ranked;

static int by_popularity(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Pins the cap most popular ids of pop[0..n) (ties: lower id first). */
static int pin_top(l720_cache *c, const double *pop, uint32_t n, uint32_t cap)
{
    ranked *rk = malloc((size_t)n * sizeof *rk);
    uint32_t *ids = malloc(((size_t)cap + 1) * sizeof *ids);
    if (!rk || !ids) {
        free(rk);
        free(ids);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        rk[i] = (ranked){pop[i], i};
    qsort(rk, n, sizeof *rk, by_popularity);
    for (uint32_t i = 0; i < cap; i++)
        ids[i] = rk[i].id;
    l720_cache_pin(c, ids, cap);
    free(rk);
    free(ids);
    return 0;
}

/* Per-run working state of the layer loop. */
typedef struct work {
    uint32_t N, K, B, cap;
    long L, W;
    uint16_t *stamp;  /* [N] 4 (step % STAMP_PERIOD + 1) + outcome: the step that last
                       * touched an expert and what its cache access gave; two bytes,
                       * so that it stays in the inner caches; cleared every period */
    uint64_t *seen;     /* [N / 64 + 1] token order: experts touched in this step */
    uint64_t *fetched;  /* [N / 64 + 1] token order: experts streamed in this step */
    uint32_t *touched;  /* [B K] token order: the experts set in seen */
    uint32_t *fetch;  /* [steps, L] misses that cross the link */
    uint32_t *uniq;   /* [steps, L] distinct experts touched */
} work;

#define STAMP_PERIOD 16383

static inline uint16_t step_mark(long step) { return (uint16_t)(4 * (step % STAMP_PERIOD + 1)); }

/* Keeps what the timeline needs of one layer-step, and the measured counts. */
static void store_step(work *w, l720_sim_layer *ly, long step, long layer, uint32_t fetch,
                       uint32_t uniq, double hits, double tok_miss)
{
    size_t g = (size_t)step * (size_t)w->L + (size_t)layer;
    w->fetch[g] = fetch;
    w->uniq[g] = uniq;
    if (step >= w->W) {
        ly->accesses += (double)w->B * w->K;
        ly->hits += hits;
        ly->token_misses += tok_miss;
    }
}

/* The distinct experts of one layer-step, in first-touch order, into dist;
 * returns how many. A MoE layer computes expert by expert (grouped), so the
 * cache sees each expert once per layer-step, whichever tokens picked it. */
static size_t distinct(work *w, long step, const uint32_t *ids, size_t n, uint32_t *dist)
{
    if (step % STAMP_PERIOD == 0)
        memset(w->stamp, 0, (size_t)w->N * sizeof *w->stamp);
    const uint16_t mark = step_mark(step);
    size_t nd = 0;
    for (size_t j = 0; j < n; j++) {
        if (j + 16 < n)
            __builtin_prefetch(w->stamp + ids[j + 16]);
        uint32_t id = ids[j];
        if ((w->stamp[id] & ~3u) != mark) {
            w->stamp[id] = mark;
            dist[nd++] = id;
        }
    }
    return nd;
}

/* Counts one layer-step from the outcomes of its distinct experts: an access
 * hits when its expert was resident at the step's access to it; every miss
 * (inserted or streamed past) is one transfer. */
static void tally(work *w, l720_sim_layer *ly, long step, long layer, const uint32_t *ids,
                  const uint32_t *dist, const uint8_t *dflags, size_t nd)
{
    const uint16_t mark = step_mark(step);
    uint32_t fetch = 0;
    for (size_t i = 0; i < nd; i++) {
        w->stamp[dist[i]] = (uint16_t)(mark | dflags[i]);
        fetch += dflags[i] != L720_HIT;
    }
    double hits = 0, tok_miss = 0;
    size_t n = (size_t)w->B * w->K;
    for (uint32_t b = 0; b < w->B; b++) {
        int missed = 0;
        for (uint32_t s = 0; s < w->K; s++) {
            size_t j = (size_t)b * w->K + s;
            if (j + 16 < n)
                __builtin_prefetch(w->stamp + ids[j + 16]);
            int hit = (w->stamp[ids[j]] & 3) == L720_HIT;
            hits += hit;
            missed |= !hit;
        }
        tok_miss += missed;
    }
    store_step(w, ly, step, layer, fetch, (uint32_t)nd, hits, tok_miss);
}

/* Token order: the accesses went through the cache one by one. Counts one
 * layer-step: an inserted miss is one transfer, a miss streamed past the
 * cache (bypass) one transfer the first time in the step. The step's
 * distinct experts are bits in w->seen (small enough for the inner caches),
 * cleared at the end through the list of the ones set. */
static void tally_token(work *w, l720_sim_layer *ly, long step, long layer, const uint32_t *ids,
                        const uint8_t *flags)
{
    double hits = 0, tok_miss = 0;
    uint32_t fetch = 0, uniq = 0, bypassed = 0;
    uint64_t *seen = w->seen, *fetched = w->fetched;
    for (uint32_t b = 0; b < w->B; b++) {
        int missed = 0;
        for (uint32_t s = 0; s < w->K; s++) {
            size_t j = (size_t)b * w->K + s;
            uint32_t id = ids[j];
            uint64_t bit = 1ull << (id & 63);
            if (!(seen[id >> 6] & bit)) {
                seen[id >> 6] |= bit;
                w->touched[uniq++] = id;
            }
            if (flags[j] == L720_HIT) {
                hits++;
            } else {
                missed = 1;
                if (flags[j] == L720_MISS) {
                    fetch++;
                } else if (!(fetched[id >> 6] & bit)) {
                    fetch++;
                    bypassed = 1;
                    fetched[id >> 6] |= bit;
                }
            }
        }
        tok_miss += missed;
    }
    for (uint32_t i = 0; i < uniq; i++)
        seen[w->touched[i] >> 6] = 0;
    if (bypassed)
        for (uint32_t i = 0; i < uniq; i++)
            fetched[w->touched[i] >> 6] = 0;
    store_step(w, ly, step, layer, fetch, uniq, hits, tok_miss);
}

static double roofline(const l720_sim_config *cfg, uint32_t uniq)
{
    if (cfg->compute_seconds > 0)
        return cfg->compute_seconds;
    double K = (double)cfg->heads * (double)cfg->topk;
    double flops = (double)cfg->batch * (K * 2.0 * cfg->expert_bytes / cfg->bytes_per_param +
                                         cfg->dense_flops);
    double t_flops = flops / cfg->hw.bf16_flops;
    double t_bytes = (double)uniq * cfg->expert_bytes / cfg->hw.hbm_bandwidth;
    return t_flops > t_bytes ? t_flops : t_bytes;
}

/* Routes and caches every step of one layer, in token order. */
static int run_layer_token(const l720_sim_config *cfg, work *w, l720_router *rt,
                           l720_cache *cache, long layer, int all_resident, uint32_t *ids,
                           uint8_t *flags, l720_sim_layer *ly)
{
    long steps = w->W + cfg->steps;
    size_t per_step = (size_t)w->B * w->K;
    if (cfg->policy == L720_POLICY_BELADY && !all_resident) {
        for (long s = 0; s < steps; s++)
            l720_router_step(rt, s, ids + (size_t)s * per_step);
        if (l720_belady(ids, (size_t)steps * per_step, w->N, w->cap, flags))
            return -1;
        for (long s = 0; s < steps; s++)
            tally_token(w, ly, s, layer, ids + (size_t)s * per_step, flags + (size_t)s * per_step);
        return 0;
    }
    for (long s = 0; s < steps; s++) {
        l720_router_step(rt, s, ids);
        if (all_resident)
            memset(flags, L720_HIT, per_step);
        else
            l720_cache_access_many(cache, ids, per_step, flags);
        tally_token(w, ly, s, layer, ids, flags);
    }
    return 0;
}

/* Routes and caches every step of one layer, grouped. ids, dist and flags
 * hold one step (all the layer's steps for Belady, which needs the future). */
static int run_layer_grouped(const l720_sim_config *cfg, work *w, l720_router *rt,
                             l720_cache *cache, long layer, int all_resident, uint32_t *ids,
                             uint32_t *dist, uint8_t *flags, size_t *offs, l720_sim_layer *ly)
{
    long steps = w->W + cfg->steps;
    size_t per_step = (size_t)w->B * w->K;
    if (cfg->policy == L720_POLICY_BELADY && !all_resident) {
        size_t total = 0;
        for (long s = 0; s < steps; s++) {
            uint32_t *step_ids = ids + (size_t)s * per_step;
            l720_router_step(rt, s, step_ids);
            offs[s] = total;
            total += distinct(w, s, step_ids, per_step, dist + total);
        }
        offs[steps] = total;
        if (l720_belady(dist, total, w->N, w->cap, flags))
            return -1;
        for (long s = 0; s < steps; s++)
            tally(w, ly, s, layer, ids + (size_t)s * per_step, dist + offs[s], flags + offs[s],
                  offs[s + 1] - offs[s]);
        return 0;
    }
    for (long s = 0; s < steps; s++) {
        l720_router_step(rt, s, ids);
        size_t nd = distinct(w, s, ids, per_step, dist);
        if (all_resident) {
            memset(flags, L720_HIT, nd);
        } else {
            l720_cache_resident_first(cache, dist, nd, dist + per_step);
            l720_cache_access_many(cache, dist, nd, flags);
        }
        tally(w, ly, s, layer, ids, dist, flags, nd);
    }
    return 0;
}

void l720_sim_result_free(l720_sim_result *r)
{
    if (!r)
        return;
    free(r->layer);
    free(r);
}

static void models(const l720_sim_config *cfg, l720_sim_result *r, double che_tc)
{
    l720_sim_models *m = &r->models;
    double K = (double)cfg->heads * (double)cfg->topk, h = r->hit_rate;
    double che = 0;
    for (long l = 0; l < r->layers_n; l++)
        che += r->layer[l].che_hit_rate;
    m->che_tc = che_tc;
    m->che_hit_rate = che / (double)r->layers_n;
    m->che_token_miss = l720_token_miss(m->che_hit_rate, K);
    m->uniform_hit_rate = l720_uniform_hit_rate((double)r->cache_experts, (double)cfg->experts);
    m->uniform_token_miss = l720_token_miss(m->uniform_hit_rate, K);
    m->independent_token_miss = l720_token_miss(h, K);
    m->paper_p_miss = l720_paper_p_miss(h, K);
    m->paper_exp_claim =
        l720_paper_exp_claim(K, (double)r->cache_experts, (double)cfg->experts);
    double t_gemm = r->layer_compute_seconds / ((double)cfg->batch * K);
    m->paper_token_seconds =
        (double)cfg->layers * l720_paper_token_seconds(K, t_gemm, h, cfg->expert_bytes,
                                                       cfg->hw.link_bandwidth,
                                                       cfg->hw.link_latency);
    m->sim_token_seconds = r->total_seconds / ((double)cfg->steps * (double)cfg->batch);
}

l720_sim_result *l720_sim_run(const l720_sim_config *cfg, l720_err *err)
{
    if (l720_sim_config_check(cfg, err))
        return NULL;
    l720_sim_result *r = calloc(1, sizeof *r);
    work w = {0};
    l720_router *rt = NULL;
    l720_cache *cache = NULL;
    l720_rng *rng = NULL, *crng = NULL;
    uint32_t *ids = NULL, *dist = NULL;
    uint8_t *flags = NULL;
    size_t *offs = NULL;
    double *pop = NULL, *tc = NULL;
    int ok = 0;
    if (!r || !(r->layer = calloc((size_t)cfg->layers, sizeof *r->layer)))
        goto oom;
    r->layers_n = cfg->layers;
    w.N = (uint32_t)cfg->experts;
    w.K = (uint32_t)(cfg->heads * cfg->topk);
    w.B = (uint32_t)cfg->batch;
    w.L = cfg->layers;
    w.W = cfg->warmup_steps;
    long steps = cfg->warmup_steps + cfg->steps;
    size_t G = (size_t)steps * (size_t)cfg->layers;
    size_t per_step = (size_t)w.B * w.K;

    r->table_bytes = (double)cfg->layers * (double)cfg->experts * cfg->expert_bytes;
    r->cache_fraction = fmin(1.0, cfg->cache_bytes / r->table_bytes);
    int all_resident = cfg->cache_bytes >= r->table_bytes;
    double cap = floor(cfg->cache_bytes / ((double)cfg->layers * cfg->expert_bytes));
    w.cap = all_resident ? w.N : (uint32_t)fmin(cap, (double)w.N);
    r->cache_experts = w.cap;
    r->all_resident = all_resident;
    if (all_resident)
        note(r, "the cache (%.6g bytes) holds the whole expert table (%.6g bytes): all experts "
                "resident, nothing streams", cfg->cache_bytes, r->table_bytes);
    else if (w.cap == 0)
        note(r, "the cache (%.6g bytes) holds no whole expert of a layer (%.6g bytes each): "
                "every access misses", cfg->cache_bytes, cfg->expert_bytes);

    int belady = cfg->policy == L720_POLICY_BELADY && !all_resident;
    size_t buf = belady ? (size_t)steps * per_step : per_step;
    size_t dist_buf = belady ? buf : 2 * per_step; /* online: the step and a scratch copy */
    if (!(rt = l720_router_new(cfg, err)))
        goto fail;
    if (!(w.stamp = malloc((size_t)w.N * sizeof *w.stamp)) ||
        !(w.seen = calloc((size_t)w.N / 64 + 1, sizeof *w.seen)) ||
        !(w.fetched = calloc((size_t)w.N / 64 + 1, sizeof *w.fetched)) ||
        !(w.touched = malloc(per_step * sizeof *w.touched)) ||
        !(w.fetch = calloc(G, sizeof *w.fetch)) || !(w.uniq = calloc(G, sizeof *w.uniq)) ||
        !(ids = malloc(buf * sizeof *ids)) || !(dist = malloc(dist_buf * sizeof *dist)) ||
        !(flags = malloc(buf)) || !(offs = malloc(((size_t)steps + 1) * sizeof *offs)) ||
        !(pop = malloc((size_t)w.N * sizeof *pop)) || !(tc = malloc(G * sizeof *tc)))
        goto oom;

    double che_tc = 0, che_hit = 1;
    for (long l = 0; l < cfg->layers; l++) {
        l720_rng_free(rng);
        l720_rng_free(crng);
        rng = l720_rng_new(stream_seed(cfg->seed, 3 * (uint64_t)l + STREAM_ROUTE));
        crng = l720_rng_new(stream_seed(cfg->seed, 3 * (uint64_t)l + STREAM_CACHE));
        if (!rng || !crng)
            goto oom;
        l720_router_layer(rt, l, rng);
        int need_pop = cfg->policy == L720_POLICY_STATIC || l == 0 || !l720_router_same_shape(rt);
        if (need_pop)
            l720_router_popularity(rt, pop);
        if (l == 0 || !l720_router_same_shape(rt)) {
            double tc_l = all_resident ? INFINITY : l720_che_tc(pop, w.N, w.cap);
            che_hit = l720_che_hit_rate_at(pop, w.N, tc_l);
            if (l == 0)
                che_tc = tc_l;
        }
        r->layer[l].che_hit_rate = che_hit;
        if (!all_resident && !belady) {
            l720_cache_free(cache);
            if (!(cache = l720_cache_new(cfg->policy, w.N, w.cap, crng)))
                goto oom;
            if (cfg->policy == L720_POLICY_STATIC && pin_top(cache, pop, w.N, w.cap))
                goto oom;
        }
        int rc = cfg->access == L720_ACCESS_GROUPED
                     ? run_layer_grouped(cfg, &w, rt, cache, l, all_resident, ids, dist, flags,
                                         offs, &r->layer[l])
                     : run_layer_token(cfg, &w, rt, cache, l, all_resident, ids, flags,
                                       &r->layer[l]);
        if (rc)
            goto oom;
    }

    /* the timeline */
    for (size_t g = 0; g < G; g++)
        tc[g] = roofline(cfg, w.uniq[g]);
    l720_rng_free(rng);
    rng = l720_rng_new(stream_seed(cfg->seed, 3 * (uint64_t)cfg->layers + STREAM_PREDICT));
    double *layer_stall = calloc((size_t)cfg->layers, sizeof *layer_stall);
    if (!rng || !layer_stall) {
        free(layer_stall);
        goto oom;
    }
    double row = cfg->row_bytes > 0 ? cfg->row_bytes : cfg->expert_bytes;
    /* copies: streams beyond the profile's copy engines do not add channels, and
     * the fixed cost per copy is the measured per-copy time of 4 KB copies over
     * that many streams less their wire time, when the profile has the curve */
    long channels = cfg->concurrency;
    if (cfg->hw.copy_channels > 0 && channels > cfg->hw.copy_channels)
        channels = cfg->hw.copy_channels;
    double fixed = cfg->hw.link_latency;
    double per4k = l720_hardware_copy_seconds(&cfg->hw, (double)cfg->concurrency);
    if (per4k > 0)
        fixed = fmax(0.0, per4k - 4096.0 / cfg->hw.link_bandwidth);
    r->copy_channels = channels;
    r->copy_fixed_seconds = fixed;
    l720_timing_in in = {
        .layers = cfg->layers, .steps = cfg->steps, .warmup = cfg->warmup_steps,
        .fetch = w.fetch, .tc = tc, .expert_bytes = cfg->expert_bytes,
        .transfer = cfg->transfer, .link_bandwidth = cfg->hw.link_bandwidth,
        .link_latency = fixed, .concurrency = channels,
        .gather_bandwidth = l720_hardware_gather_bandwidth(&cfg->hw, row),
        .gather_latency = cfg->hw.zero_copy_latency > 0 ? cfg->hw.zero_copy_latency
                                                        : cfg->hw.link_latency,
        .prefetch = cfg->prefetch, .predict_q = cfg->predict_q, .ahead = cfg->ahead, .rng = rng};
    l720_timing_out out = {.layer_stall = layer_stall};
    if (l720_timing_run(&in, &out, err)) {
        free(layer_stall);
        goto fail;
    }

    /* totals */
    for (long l = 0; l < cfg->layers; l++) {
        l720_sim_layer *ly = &r->layer[l];
        ly->stall_seconds = layer_stall[l];
        for (long s = cfg->warmup_steps; s < steps; s++) {
            size_t g = (size_t)s * (size_t)cfg->layers + (size_t)l;
            ly->transfers += w.fetch[g];
            ly->compute_seconds += tc[g];
        }
        ly->bytes = ly->transfers * cfg->expert_bytes;
        r->accesses += ly->accesses;
        r->hits += ly->hits;
        r->token_misses += ly->token_misses;
    }
    free(layer_stall);
    r->hit_rate = r->accesses > 0 ? r->hits / r->accesses : 0;
    r->token_layers = (double)cfg->steps * (double)cfg->batch * (double)cfg->layers;
    r->token_miss_probability = r->token_misses / r->token_layers;
    r->transfers = out.transfers;
    r->bytes_streamed = out.bytes;
    r->prefetch_bytes = out.prefetch_bytes;
    r->wasted_bytes = out.wasted_bytes;
    r->link_busy_seconds = out.link_busy_seconds;
    r->compute_seconds = out.compute_seconds;
    r->stall_seconds = out.stall_seconds;
    r->total_seconds = out.total_seconds;
    r->link_utilization = out.total_seconds > 0 ? out.link_busy_seconds / out.total_seconds : 0;
    r->step_seconds = out.total_seconds / (double)cfg->steps;
    r->tokens_per_second =
        out.total_seconds > 0 ? (double)cfg->steps * (double)cfg->batch / out.total_seconds : 0;
    r->layer_compute_seconds = out.compute_seconds / ((double)cfg->steps * (double)cfg->layers);
    r->events = out.events;
    models(cfg, r, che_tc);
    ok = 1;
    goto done;
oom:
    l720_err_set(err, L720_EFAIL, "sim: out of memory (%ld experts, %ld steps of %ld tokens)",
                 cfg->experts, cfg->steps + cfg->warmup_steps, cfg->batch);
fail:
    l720_sim_result_free(r);
    r = NULL;
done:
    l720_router_free(rt);
    l720_cache_free(cache);
    l720_rng_free(rng);
    l720_rng_free(crng);
    free(w.stamp);
    free(w.seen);
    free(w.fetched);
    free(w.touched);
    free(w.fetch);
    free(w.uniq);
    free(ids);
    free(dist);
    free(flags);
    free(offs);
    free(pop);
    free(tc);
    return ok ? r : NULL;
}
