/* cmd_sim.c: llm720 sim: the memory-hierarchy simulator on the command line
 * (the work is in sim/; this file parses, prints and writes). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "json_io.h"
#include "opts.h"
#include "progress.h"
#include "sim/sim.h"
#include "sim/sweep.h"
#include "sim/trace.h"

#define UNSET LONG_MIN

typedef struct sim_args {
    const char *hardware, *routing, *policy, *prefetch, *transfer, *sweep, *output, *csv, *access;
    long layers, experts, heads, topk, batch, steps, warmup, concurrency, seed;
    double expert_bytes, cache_bytes, cache_fraction, reuse, compute_seconds, dense_flops,
        bytes_per_param, row_bytes;
    int decode, keep_active;
} sim_args;

static void sweep_progress(size_t done, size_t total, void *ctx)
{
    l720_progress_update(ctx, (double)done, NULL);
    (void)total;
}

/* Fills cfg from the arguments (the trace, when there is one, gives the
 * shape that was not given). */
static int build_config(const sim_args *a, l720_sim_config *cfg, l720_route_trace **trace,
                        l720_sim_sweep *sw, l720_err *err)
{
    int rc;
    const char *trace_path = NULL;
    l720_sim_config_default(cfg);
    if ((rc = l720_hardware_load(a->hardware, &cfg->hw, err)) ||
        (rc = l720_sim_parse_routing(a->routing, cfg, &trace_path, err)) ||
        (rc = l720_sim_parse_prefetch(a->prefetch, cfg, err)) ||
        (rc = l720_sim_policies_parse(a->policy, sw, err)))
        return rc;
    cfg->policy = sw->policies[0];
    if (!a->sweep && sw->n_policies > 1)
        return l720_err_set(err, L720_EINPUT,
                            "sim: --policy: several policies need --sweep (got '%s')", a->policy);
    if (!strcmp(a->transfer, "copy"))
        cfg->transfer = L720_TRANSFER_COPY;
    else if (!strcmp(a->transfer, "zerocopy"))
        cfg->transfer = L720_TRANSFER_ZEROCOPY;
    else
        return l720_err_set(err, L720_EINPUT,
                            "sim: --transfer: expected copy or zerocopy, got '%s'", a->transfer);
    if (!strcmp(a->access, "token"))
        cfg->access = L720_ACCESS_TOKEN;
    else if (!strcmp(a->access, "grouped"))
        cfg->access = L720_ACCESS_GROUPED;
    else
        return l720_err_set(err, L720_EINPUT,
                            "sim: --access: expected token or grouped, got '%s'", a->access);
    if (trace_path) {
        if (!(*trace = l720_route_trace_read(trace_path, err)))
            return err->code;
        cfg->trace = *trace;
        cfg->layers = (*trace)->layers;
        cfg->experts = (*trace)->experts;
        cfg->heads = 1;
        cfg->topk = (*trace)->per_token;
        if (a->heads != UNSET && a->heads > 0 && (*trace)->per_token % a->heads == 0) {
            cfg->heads = a->heads;
            cfg->topk = (*trace)->per_token / a->heads;
        }
    }
    if (a->layers != UNSET) cfg->layers = a->layers;
    if (a->experts != UNSET) cfg->experts = a->experts;
    if (a->heads != UNSET) cfg->heads = a->heads;
    if (a->topk != UNSET) cfg->topk = a->topk;
    if (a->batch != UNSET) cfg->batch = a->batch;
    if (a->steps != UNSET) cfg->steps = a->steps;
    if (a->warmup != UNSET) cfg->warmup_steps = a->warmup;
    if (a->concurrency != UNSET) cfg->concurrency = a->concurrency;
    if (!isnan(a->expert_bytes)) cfg->expert_bytes = a->expert_bytes;
    if (a->seed < 0)
        return l720_err_set(err, L720_EINPUT, "sim: --seed must be >= 0, got %ld", a->seed);
    cfg->seed = (uint64_t)a->seed;
    cfg->reuse = a->reuse;
    cfg->decode = a->decode;
    cfg->compute_seconds = a->compute_seconds;
    cfg->dense_flops = a->dense_flops;
    cfg->bytes_per_param = a->bytes_per_param;
    cfg->row_bytes = a->row_bytes;
    double table = (double)cfg->layers * (double)cfg->experts * cfg->expert_bytes;
    if (!isnan(a->cache_bytes) && !isnan(a->cache_fraction))
        return l720_err_set(err, L720_EINPUT,
                            "sim: give --cache-bytes or --cache-fraction, not both");
    if (!isnan(a->cache_fraction) && !(a->cache_fraction > 0))
        return l720_err_set(err, L720_EINPUT, "sim: --cache-fraction must be positive, got %g",
                            a->cache_fraction);
    cfg->cache_bytes = !isnan(a->cache_bytes)      ? a->cache_bytes
                       : !isnan(a->cache_fraction) ? a->cache_fraction * table
                                                   : 0.25 * table;
    if (a->sweep && (rc = l720_sim_sweep_parse(a->sweep, sw, err)))
        return rc;
    sw->keep_active = a->keep_active;
    return l720_sim_config_check(cfg, err);
}

static void print_report(FILE *out, const l720_sim_config *c, const l720_sim_result *r,
                         const char *routing, const char *prefetch)
{
    const l720_sim_models *m = &r->models;
    double K = (double)c->heads * (double)c->topk;
    fprintf(out, "llm720 sim on %s: %ld layer(s) x %ld experts x %.6g B = %.4g GB of experts; "
                 "cache %.4g GB (%.4g%%, %ld experts per layer)\n",
            c->hw.name, c->layers, c->experts, c->expert_bytes, r->table_bytes / 1e9,
            c->cache_bytes / 1e9, 100 * r->cache_fraction, r->cache_experts);
    fprintf(out, "routing %s%s, %ld heads x top-%ld, batch %ld, %ld steps (+%ld warm-up), policy "
                 "%s, prefetch %s, %s x%ld\n\n",
            routing, c->reuse > 0 ? " with reuse" : "", c->heads, c->topk, c->batch, c->steps,
            c->warmup_steps, l720_policy_name(c->policy), prefetch,
            c->transfer == L720_TRANSFER_COPY ? "copies" : "zero-copy gathers", c->concurrency);
    fprintf(out, "  accesses                %.0f\n", r->accesses);
    fprintf(out, "  hit rate                %.4f   Che (LRU, independent refs) %.4f (%+.4f); "
                 "uniform c/N %.4f (%+.4f)\n",
            r->hit_rate, m->che_hit_rate, m->che_hit_rate - r->hit_rate, m->uniform_hit_rate,
            m->uniform_hit_rate - r->hit_rate);
    fprintf(out, "  token miss probability  %.4f   1-h^%.0f %.4f (%+.4f); paper (1-h)^%.0f %.4g "
                 "(%+.4f); paper exp(-K c/N) %.4g\n",
            r->token_miss_probability, K, m->independent_token_miss,
            m->independent_token_miss - r->token_miss_probability, K, m->paper_p_miss,
            m->paper_p_miss - r->token_miss_probability, m->paper_exp_claim);
    fprintf(out,
            "  bytes streamed          %.4g   (%.0f transfers, prefetched %.4g, wasted %.4g)\n",
            r->bytes_streamed, r->transfers, r->prefetch_bytes, r->wasted_bytes);
    fprintf(out, "  link utilisation        %.4f\n", r->link_utilization);
    fprintf(out, "  stall                   %.6g s of %.6g s (compute %.6g s)\n", r->stall_seconds,
            r->total_seconds, r->compute_seconds);
    fprintf(out, "  step time               %.6g s\n", r->step_seconds);
    fprintf(out, "  tokens/s                %.6g\n", r->tokens_per_second);
    fprintf(out, "  paper T_tok             %.4g s/token vs simulated %.4g (%+.1f%%)\n",
            m->paper_token_seconds, m->sim_token_seconds,
            100 * (m->paper_token_seconds / m->sim_token_seconds - 1));
    if (c->layers > 1) {
        fprintf(out, "\n  layer  hit rate  token miss  bytes       stall s\n");
        for (long l = 0; l < r->layers_n; l++) {
            const l720_sim_layer *ly = &r->layer[l];
            fprintf(out, "  %5ld  %.4f    %.4f      %-10.4g  %.6g\n", l,
                    ly->accesses ? ly->hits / ly->accesses : 0,
                    ly->token_misses / ((double)c->steps * (double)c->batch), ly->bytes,
                    ly->stall_seconds);
        }
    }
}

static void print_sweep(FILE *out, const cJSON *sweep)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(sweep, "rows");
    fprintf(out, "%-7s %9s %12s %5s %9s %8s %8s %10s %12s %12s\n", "policy", "experts",
            "expert_bytes", "topk", "cache_frac", "hit_rate", "che", "token_miss", "step_s",
            "tokens/s");
    for (const cJSON *r = rows ? rows->child : NULL; r; r = r->next) {
#define F(k) cJSON_GetObjectItemCaseSensitive(r, k)->valuedouble
        fprintf(out, "%-7s %9.0f %12.6g %5.0f %9.4f %8.4f %8.4f %10.4f %12.6g %12.6g\n",
                cJSON_GetObjectItemCaseSensitive(r, "policy")->valuestring, F("experts"),
                F("expert_bytes"), F("topk"), F("cache_fraction"), F("hit_rate"),
                F("che_hit_rate"), F("token_miss_probability"), F("step_seconds"),
                F("tokens_per_second"));
#undef F
    }
}

int l720_cmd_sim(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    sim_args a = {.hardware = "h100-sxm", .routing = "zipf:0.9", .policy = "lru",
                  .prefetch = "none", .transfer = "copy", .access = "token",
                  .layers = UNSET, .experts = UNSET, .heads = UNSET, .topk = UNSET,
                  .batch = UNSET, .steps = UNSET, .warmup = UNSET, .concurrency = UNSET,
                  .seed = 1, .expert_bytes = NAN, .cache_bytes = NAN, .cache_fraction = NAN,
                  .bytes_per_param = 2};
    const l720_opt opts[] = {
        {"hardware", L720_OPT_STRING, &a.hardware, "NAME", "hardware profile (default h100-sxm)"},
        {"layers", L720_OPT_INT, &a.layers, "L", "routed MoE layers (default 1)"},
        {"experts", L720_OPT_INT, &a.experts, "N", "experts per layer (default 1048576)"},
        {"expert-bytes", L720_OPT_DOUBLE, &a.expert_bytes, "S", "bytes per expert (default 4096)"},
        {"heads", L720_OPT_INT, &a.heads, "H", "heads per token (default 8)"},
        {"topk", L720_OPT_INT, &a.topk, "K", "experts per head (default 16)"},
        {"batch", L720_OPT_INT, &a.batch, "B", "tokens per step (default 64)"},
        {"steps", L720_OPT_INT, &a.steps, "T", "measured steps (default 100)"},
        {"warmup-steps", L720_OPT_INT, &a.warmup, "W", "steps before measuring (default 0)"},
        {"cache-bytes", L720_OPT_DOUBLE, &a.cache_bytes, "C",
         "HBM bytes for experts, all layers (default a quarter of the table)"},
        {"cache-fraction", L720_OPT_DOUBLE, &a.cache_fraction, "F",
         "the cache as a fraction of the expert table"},
        {"routing", L720_OPT_STRING, &a.routing, "R",
         "uniform | zipf:S | pk-zipf:S | trace:FILE (default zipf:0.9)"},
        {"reuse", L720_OPT_DOUBLE, &a.reuse, "r",
         "probability a slot reuses the previous token's expert (default 0)"},
        {"decode", L720_OPT_FLAG, &a.decode, NULL,
         "the B tokens of a step are B sequences (for --reuse)"},
        {"policy", L720_OPT_STRING, &a.policy, "P",
         "lru | lfu | fifo | random | static | belady; a list with --sweep (default lru)"},
        {"access", L720_OPT_STRING, &a.access, "A",
         "token (accesses in turn) | grouped (each expert once per layer-step) (default token)"},
        {"prefetch", L720_OPT_STRING, &a.prefetch, "X",
         "none | oracle[:AHEAD] | predict:Q[:AHEAD] (default none)"},
        {"transfer", L720_OPT_STRING, &a.transfer, "T",
         "copy (one copy per expert) | zerocopy (gathered reads) (default copy)"},
        {"concurrency", L720_OPT_INT, &a.concurrency, "n",
         "streams of copies, capped by the profile's copy engines (default 1)"},
        {"compute-seconds", L720_OPT_DOUBLE, &a.compute_seconds, "S",
         "compute time of one layer-step (default: roofline)"},
        {"dense-flops", L720_OPT_DOUBLE, &a.dense_flops, "F",
         "roofline: non-expert FLOPs per token and layer (default 0)"},
        {"bytes-per-param", L720_OPT_DOUBLE, &a.bytes_per_param, "b",
         "roofline: bytes per expert parameter (default 2)"},
        {"row-bytes", L720_OPT_DOUBLE, &a.row_bytes, "R",
         "zero-copy gather row size (default the expert size)"},
        {"seed", L720_OPT_INT, &a.seed, "N", "random seed (default 1)"},
        {"sweep", L720_OPT_STRING, &a.sweep, "SPEC",
         "cache:F,... | cache-bytes:C,... | experts:N,... (fixed total expert bytes)"},
        {"keep-active", L720_OPT_FLAG, &a.keep_active, NULL,
         "experts sweep: scale top-k so that heads x topk x expert bytes stays fixed"},
        {"output", L720_OPT_STRING, &a.output, "FILE", "also write the JSON result to FILE"},
        {"csv", L720_OPT_STRING, &a.csv, "FILE", "also write the sweep rows (or the run) as CSV"},
        {0}};
    int rc = l720_opts_parse_or_usage(
        io->out, "sim", "[OPTIONS]",
        "Simulates HBM as a cache of experts in front of host memory: hit rate, "
        "miss probability per token,\nbytes streamed, stalls, step time and "
        "tokens/s, beside Che's, the uniform and the LLM720 paper's models.",
        opts, 0, argc, argv, NULL, 0, NULL, err);
    if (rc)
        return rc;
    l720_sim_config cfg;
    l720_sim_sweep sw = {0};
    l720_route_trace *trace = NULL;
    cJSON *res = NULL;
    if ((rc = build_config(&a, &cfg, &trace, &sw, err)))
        goto done;
    if (a.sweep) {
        l720_progress *p = l720_progress_new("sim sweep", (double)(sw.n * sw.n_policies));
        res = l720_sim_sweep_run(&cfg, &sw, sweep_progress, p, err);
        l720_progress_free(p);
        if (!res) {
            rc = err->code;
            goto done;
        }
        cJSON_AddItemToObject(res, "config", l720_sim_config_json(&cfg));
        if (!io->json)
            print_sweep(io->out, res);
    } else {
        l720_sim_result *r = l720_sim_run(&cfg, err);
        if (!r) {
            rc = err->code;
            goto done;
        }
        for (int i = 0; i < r->n_notes; i++)
            fprintf(stderr, "llm720 sim: note: %s\n", r->notes[i]);
        res = l720_sim_result_json(&cfg, r);
        if (a.csv) {
            cJSON *one = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(one, "rows");
            cJSON_AddItemToArray(rows, l720_sim_row_json(&cfg, r));
            rc = l720_sim_sweep_csv(one, a.csv, err);
            cJSON_Delete(one);
        }
        if (!io->json)
            print_report(io->out, &cfg, r, a.routing, a.prefetch);
        l720_sim_result_free(r);
        if (rc)
            goto done;
    }
    if (a.sweep && a.csv && (rc = l720_sim_sweep_csv(res, a.csv, err)))
        goto done;
    if (a.output && (rc = l720_json_write(a.output, res, err)))
        goto done;
    *result = res;
    res = NULL;
done:
    cJSON_Delete(res);
    l720_route_trace_free(trace);
    return rc;
}
