/* result_json.c: l720_sim_result and l720_sim_config as JSON. */
#include <math.h>

#include "json_io.h"
#include "sim.h"
#include "trace.h"

static const char *const route_names[] = {"uniform", "zipf", "pk-zipf", "trace"};
static const char *const prefetch_names[] = {"none", "oracle", "predict"};
static const char *const transfer_names[] = {"copy", "zerocopy"};

cJSON *l720_sim_config_json(const l720_sim_config *cfg)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "hardware", cfg->hw.name);
    l720_json_add_finite(c, "layers", (double)cfg->layers);
    l720_json_add_finite(c, "experts", (double)cfg->experts);
    l720_json_add_finite(c, "expert_bytes", cfg->expert_bytes);
    l720_json_add_finite(c, "heads", (double)cfg->heads);
    l720_json_add_finite(c, "topk", (double)cfg->topk);
    l720_json_add_finite(c, "batch", (double)cfg->batch);
    l720_json_add_finite(c, "steps", (double)cfg->steps);
    l720_json_add_finite(c, "warmup_steps", (double)cfg->warmup_steps);
    l720_json_add_finite(c, "cache_bytes", cfg->cache_bytes);
    cJSON_AddStringToObject(c, "routing", route_names[cfg->routing]);
    if (cfg->routing == L720_ROUTE_ZIPF || cfg->routing == L720_ROUTE_PK_ZIPF)
        l720_json_add_finite(c, "zipf_s", cfg->zipf_s);
    if (cfg->routing == L720_ROUTE_TRACE && cfg->trace)
        cJSON_AddStringToObject(c, "trace", cfg->trace->name);
    l720_json_add_finite(c, "reuse", cfg->reuse);
    cJSON_AddBoolToObject(c, "decode", cfg->decode);
    cJSON_AddStringToObject(c, "policy", l720_policy_name(cfg->policy));
    cJSON_AddStringToObject(c, "access", cfg->access == L720_ACCESS_GROUPED ? "grouped" : "token");
    cJSON_AddStringToObject(c, "prefetch", prefetch_names[cfg->prefetch]);
    if (cfg->prefetch == L720_PREFETCH_PREDICT)
        l720_json_add_finite(c, "predict_q", cfg->predict_q);
    if (cfg->prefetch != L720_PREFETCH_NONE)
        l720_json_add_finite(c, "ahead", (double)cfg->ahead);
    cJSON_AddStringToObject(c, "transfer", transfer_names[cfg->transfer]);
    l720_json_add_finite(c, "concurrency", (double)cfg->concurrency);
    l720_json_add_finite(c, "compute_seconds", cfg->compute_seconds);
    l720_json_add_finite(c, "dense_flops", cfg->dense_flops);
    l720_json_add_finite(c, "bytes_per_param", cfg->bytes_per_param);
    l720_json_add_finite(c, "row_bytes", cfg->row_bytes > 0 ? cfg->row_bytes : cfg->expert_bytes);
    l720_json_add_finite(c, "seed", (double)cfg->seed);
    return c;
}

/* {"value": v, "error": v - sim} */
static cJSON *vs(double v, double sim)
{
    cJSON *o = cJSON_CreateObject();
    l720_json_add_finite(o, "value", v);
    l720_json_add_finite(o, "error", v - sim);
    return o;
}

static cJSON *models_json(const l720_sim_config *cfg, const l720_sim_result *r)
{
    const l720_sim_models *m = &r->models;
    cJSON *o = cJSON_CreateObject();
    cJSON *che = cJSON_AddObjectToObject(o, "che_lru");
    l720_json_add_finite(che, "t_c", m->che_tc);
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
    l720_json_add_finite(tt, "value", m->paper_token_seconds);
    l720_json_add_finite(tt, "simulated", m->sim_token_seconds);
    l720_json_add_finite(tt, "relative_error",
        m->sim_token_seconds > 0 ? m->paper_token_seconds / m->sim_token_seconds - 1 : NAN);
    return o;
}

cJSON *l720_sim_result_json(const l720_sim_config *cfg, const l720_sim_result *r)
{
    cJSON *o = cJSON_CreateObject();
    l720_json_add_finite(o, "hit_rate", r->hit_rate);
    l720_json_add_finite(o, "token_miss_probability", r->token_miss_probability);
    l720_json_add_finite(o, "bytes_streamed", r->bytes_streamed);
    l720_json_add_finite(o, "stall_seconds", r->stall_seconds);
    l720_json_add_finite(o, "step_seconds", r->step_seconds);
    l720_json_add_finite(o, "tokens_per_second", r->tokens_per_second);
    l720_json_add_finite(o, "accesses", r->accesses);
    l720_json_add_finite(o, "hits", r->hits);
    l720_json_add_finite(o, "misses", r->accesses - r->hits);
    l720_json_add_finite(o, "transfers", r->transfers);
    l720_json_add_finite(o, "prefetch_bytes", r->prefetch_bytes);
    l720_json_add_finite(o, "wasted_bytes", r->wasted_bytes);
    l720_json_add_finite(o, "link_busy_seconds", r->link_busy_seconds);
    l720_json_add_finite(o, "link_utilization", r->link_utilization);
    l720_json_add_finite(o, "compute_seconds", r->compute_seconds);
    l720_json_add_finite(o, "total_seconds", r->total_seconds);
    l720_json_add_finite(o, "layer_compute_seconds", r->layer_compute_seconds);
    l720_json_add_finite(o, "table_bytes", r->table_bytes);
    l720_json_add_finite(o, "cache_fraction", r->cache_fraction);
    l720_json_add_finite(o, "cache_experts_per_layer", (double)r->cache_experts);
    cJSON_AddBoolToObject(o, "all_resident", r->all_resident);
    l720_json_add_finite(o, "events", (double)r->events);
    l720_json_add_finite(o, "copy_channels", (double)r->copy_channels);
    l720_json_add_finite(o, "copy_fixed_seconds", r->copy_fixed_seconds);
    cJSON_AddItemToObject(o, "models", models_json(cfg, r));
    cJSON *pl = cJSON_AddArrayToObject(o, "per_layer");
    for (long l = 0; l < r->layers_n; l++) {
        const l720_sim_layer *ly = &r->layer[l];
        cJSON *x = cJSON_CreateObject();
        l720_json_add_finite(x, "layer", (double)l);
        l720_json_add_finite(x, "accesses", ly->accesses);
        l720_json_add_finite(x, "hit_rate", ly->accesses > 0 ? ly->hits / ly->accesses : 0);
        l720_json_add_finite(x, "token_miss_probability",
            ly->token_misses / ((double)cfg->steps * (double)cfg->batch));
        l720_json_add_finite(x, "transfers", ly->transfers);
        l720_json_add_finite(x, "bytes", ly->bytes);
        l720_json_add_finite(x, "compute_seconds", ly->compute_seconds);
        l720_json_add_finite(x, "stall_seconds", ly->stall_seconds);
        l720_json_add_finite(x, "che_hit_rate", ly->che_hit_rate);
        cJSON_AddItemToArray(pl, x);
    }
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    for (int i = 0; i < r->n_notes; i++)
        cJSON_AddItemToArray(notes, cJSON_CreateString(r->notes[i]));
    cJSON_AddItemToObject(o, "config", l720_sim_config_json(cfg));
    return o;
}
