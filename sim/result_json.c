/* result_json.c: l720_sim_result and l720_sim_config as JSON. */
#include <math.h>

#include "sim.h"
#include "trace.h"

static const char *const route_names[] = {"uniform", "zipf", "pk-zipf", "trace"};
static const char *const prefetch_names[] = {"none", "oracle", "predict"};
static const char *const transfer_names[] = {"copy", "zerocopy"};

/* Numbers that may be infinite print as null. */
static void num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *l720_sim_config_json(const l720_sim_config *cfg)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "hardware", cfg->hw.name);
    num(c, "layers", (double)cfg->layers);
    num(c, "experts", (double)cfg->experts);
    num(c, "expert_bytes", cfg->expert_bytes);
    num(c, "heads", (double)cfg->heads);
    num(c, "topk", (double)cfg->topk);
    num(c, "batch", (double)cfg->batch);
    num(c, "steps", (double)cfg->steps);
    num(c, "warmup_steps", (double)cfg->warmup_steps);
    num(c, "cache_bytes", cfg->cache_bytes);
    cJSON_AddStringToObject(c, "routing", route_names[cfg->routing]);
    if (cfg->routing == L720_ROUTE_ZIPF || cfg->routing == L720_ROUTE_PK_ZIPF)
        num(c, "zipf_s", cfg->zipf_s);
    if (cfg->routing == L720_ROUTE_TRACE && cfg->trace)
        cJSON_AddStringToObject(c, "trace", cfg->trace->name);
    num(c, "reuse", cfg->reuse);
    cJSON_AddBoolToObject(c, "decode", cfg->decode);
    cJSON_AddStringToObject(c, "policy", l720_policy_name(cfg->policy));
    cJSON_AddStringToObject(c, "access", cfg->access == L720_ACCESS_GROUPED ? "grouped" : "token");
    cJSON_AddStringToObject(c, "prefetch", prefetch_names[cfg->prefetch]);
    if (cfg->prefetch == L720_PREFETCH_PREDICT)
        num(c, "predict_q", cfg->predict_q);
    if (cfg->prefetch != L720_PREFETCH_NONE)
        num(c, "ahead", (double)cfg->ahead);
    cJSON_AddStringToObject(c, "transfer", transfer_names[cfg->transfer]);
    num(c, "concurrency", (double)cfg->concurrency);
    num(c, "compute_seconds", cfg->compute_seconds);
    num(c, "dense_flops", cfg->dense_flops);
    num(c, "bytes_per_param", cfg->bytes_per_param);
    num(c, "row_bytes", cfg->row_bytes > 0 ? cfg->row_bytes : cfg->expert_bytes);
    num(c, "seed", (double)cfg->seed);
    return c;
}

/* {"value": v, "error": v - sim} */
static cJSON *vs(double v, double sim)
{
    cJSON *o = cJSON_CreateObject();
    num(o, "value", v);
    num(o, "error", v - sim);
    return o;
}

static cJSON *models_json(const l720_sim_config *cfg, const l720_sim_result *r)
{
    const l720_sim_models *m = &r->models;
    cJSON *o = cJSON_CreateObject();
    cJSON *che = cJSON_AddObjectToObject(o, "che_lru");
    num(che, "t_c", m->che_tc);
    cJSON_AddItemToObject(che, "hit_rate", vs(m->che_hit_rate, r->hit_rate));
    cJSON_AddItemToObject(che, "token_miss_probability",
                          vs(m->che_token_miss, r->token_miss_probability));
    cJSON_AddBoolToObject(che, "applies", cfg->policy == L720_POLICY_LRU &&
                                              cfg->routing != L720_ROUTE_TRACE &&
                                              cfg->reuse == 0);
    cJSON *uni = cJSON_AddObjectToObject(o, "uniform");
    cJSON_AddItemToObject(uni, "hit_rate", vs(m->uniform_hit_rate, r->hit_rate));
    cJSON_AddItemToObject(uni, "token_miss_probability",
                          vs(m->uniform_token_miss, r->token_miss_probability));
    cJSON_AddBoolToObject(uni, "applies", cfg->routing == L720_ROUTE_UNIFORM && cfg->reuse == 0 &&
                                              cfg->policy != L720_POLICY_BELADY);
    cJSON *ind = cJSON_AddObjectToObject(o, "independent_slots");
    cJSON_AddItemToObject(ind, "token_miss_probability",
                          vs(m->independent_token_miss, r->token_miss_probability));
    cJSON *pap = cJSON_AddObjectToObject(o, "paper");
    cJSON_AddItemToObject(pap, "p_miss", vs(m->paper_p_miss, r->token_miss_probability));
    cJSON_AddItemToObject(pap, "exp_claim", vs(m->paper_exp_claim, r->token_miss_probability));
    cJSON *tt = cJSON_AddObjectToObject(pap, "token_seconds");
    num(tt, "value", m->paper_token_seconds);
    num(tt, "simulated", m->sim_token_seconds);
    num(tt, "relative_error",
        m->sim_token_seconds > 0 ? m->paper_token_seconds / m->sim_token_seconds - 1 : NAN);
    return o;
}

cJSON *l720_sim_result_json(const l720_sim_config *cfg, const l720_sim_result *r)
{
    cJSON *o = cJSON_CreateObject();
    num(o, "hit_rate", r->hit_rate);
    num(o, "token_miss_probability", r->token_miss_probability);
    num(o, "bytes_streamed", r->bytes_streamed);
    num(o, "stall_seconds", r->stall_seconds);
    num(o, "step_seconds", r->step_seconds);
    num(o, "tokens_per_second", r->tokens_per_second);
    num(o, "accesses", r->accesses);
    num(o, "hits", r->hits);
    num(o, "misses", r->accesses - r->hits);
    num(o, "transfers", r->transfers);
    num(o, "prefetch_bytes", r->prefetch_bytes);
    num(o, "wasted_bytes", r->wasted_bytes);
    num(o, "link_busy_seconds", r->link_busy_seconds);
    num(o, "link_utilization", r->link_utilization);
    num(o, "compute_seconds", r->compute_seconds);
    num(o, "total_seconds", r->total_seconds);
    num(o, "layer_compute_seconds", r->layer_compute_seconds);
    num(o, "table_bytes", r->table_bytes);
    num(o, "cache_fraction", r->cache_fraction);
    num(o, "cache_experts_per_layer", (double)r->cache_experts);
    cJSON_AddBoolToObject(o, "all_resident", r->all_resident);
    num(o, "events", (double)r->events);
    num(o, "copy_channels", (double)r->copy_channels);
    num(o, "copy_fixed_seconds", r->copy_fixed_seconds);
    cJSON_AddItemToObject(o, "models", models_json(cfg, r));
    cJSON *pl = cJSON_AddArrayToObject(o, "per_layer");
    for (long l = 0; l < r->layers_n; l++) {
        const l720_sim_layer *ly = &r->layer[l];
        cJSON *x = cJSON_CreateObject();
        num(x, "layer", (double)l);
        num(x, "accesses", ly->accesses);
        num(x, "hit_rate", ly->accesses > 0 ? ly->hits / ly->accesses : 0);
        num(x, "token_miss_probability",
            ly->token_misses / ((double)cfg->steps * (double)cfg->batch));
        num(x, "transfers", ly->transfers);
        num(x, "bytes", ly->bytes);
        num(x, "compute_seconds", ly->compute_seconds);
        num(x, "stall_seconds", ly->stall_seconds);
        num(x, "che_hit_rate", ly->che_hit_rate);
        cJSON_AddItemToArray(pl, x);
    }
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    for (int i = 0; i < r->n_notes; i++)
        cJSON_AddItemToArray(notes, cJSON_CreateString(r->notes[i]));
    cJSON_AddItemToObject(o, "config", l720_sim_config_json(cfg));
    return o;
}
