/* sweep.c: see sweep.h. */
#include "sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fileio.h"

static const char *const kind_names[] = {"cache", "cache-bytes", "experts"};

int l720_sim_sweep_parse(const char *spec, l720_sim_sweep *sw, l720_err *err)
{
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : 0;
    int kind = -1;
    for (int i = 0; i < 3; i++)
        if (colon && strlen(kind_names[i]) == kl && !strncmp(spec, kind_names[i], kl))
            kind = i;
    if (kind < 0)
        return l720_err_set(err, L720_EINPUT,
                            "sim: --sweep: expected cache:F,..., cache-bytes:C,... or "
                            "experts:N,..., got '%s'",
                            spec);
    sw->kind = (l720_sweep_kind)kind;
    sw->n = 0;
    size_t n;
    for (const char *q = colon + 1, *p; (p = l720_list_next(&q, &n));) {
        char buf[64];
        double v;
        if (n == 0 || n >= sizeof buf)
            return l720_err_set(err, L720_EINPUT, "sim: --sweep %s: empty or overlong value",
                                kind_names[kind]);
        memcpy(buf, p, n);
        buf[n] = 0;
        if (l720_parse_number(buf, &v) || !isfinite(v) || v <= 0)
            return l720_err_set(err, L720_EINPUT,
                                "sim: --sweep %s: expected positive numbers, got '%s'",
                                kind_names[kind], buf);
        if (kind == L720_SWEEP_EXPERTS && (v != floor(v) || v > 4e9))
            return l720_err_set(err, L720_EINPUT,
                                "sim: --sweep experts: expected whole expert counts, got '%s'",
                                buf);
        if (sw->n == L720_SWEEP_MAX)
            return l720_err_set(err, L720_EINPUT, "sim: --sweep: more than %d values",
                                L720_SWEEP_MAX);
        sw->values[sw->n++] = v;
    }
    return 0;
}

int l720_sim_policies_parse(const char *list, l720_sim_sweep *sw, l720_err *err)
{
    sw->n_policies = 0;
    size_t n;
    for (const char *q = list, *p; (p = l720_list_next(&q, &n));) {
        char buf[32];
        int pol = -1;
        if (n < sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = 0;
            pol = l720_policy_parse(buf);
        }
        if (pol < 0)
            return l720_err_set(err, L720_EINPUT,
                                "sim: --policy: expected lru, lfu, fifo, random, static or belady "
                                "(comma-separated in a sweep), got '%.*s'",
                                (int)n, p);
        if (sw->n_policies == L720_POLICY_COUNT)
            return l720_err_set(err, L720_EINPUT, "sim: --policy: a policy named twice");
        sw->policies[sw->n_policies++] = (l720_policy)pol;
    }
    return 0;
}

cJSON *l720_sim_row_json(const l720_sim_config *cfg, const l720_sim_result *r)
{
    cJSON *o = cJSON_CreateObject();
    const l720_sim_models *m = &r->models;
    cJSON_AddStringToObject(o, "policy", l720_policy_name(cfg->policy));
    cJSON_AddNumberToObject(o, "experts", (double)cfg->experts);
    cJSON_AddNumberToObject(o, "expert_bytes", cfg->expert_bytes);
    cJSON_AddNumberToObject(o, "topk", (double)cfg->topk);
    cJSON_AddNumberToObject(o, "cache_bytes", cfg->cache_bytes);
    cJSON_AddNumberToObject(o, "cache_fraction", r->cache_fraction);
    cJSON_AddNumberToObject(o, "hit_rate", r->hit_rate);
    cJSON_AddNumberToObject(o, "token_miss_probability", r->token_miss_probability);
    cJSON_AddNumberToObject(o, "bytes_streamed", r->bytes_streamed);
    cJSON_AddNumberToObject(o, "stall_seconds", r->stall_seconds);
    cJSON_AddNumberToObject(o, "step_seconds", r->step_seconds);
    cJSON_AddNumberToObject(o, "tokens_per_second", r->tokens_per_second);
    cJSON_AddNumberToObject(o, "link_utilization", r->link_utilization);
    cJSON_AddNumberToObject(o, "accesses", r->accesses);
    cJSON_AddNumberToObject(o, "che_hit_rate", m->che_hit_rate);
    cJSON_AddNumberToObject(o, "uniform_hit_rate", m->uniform_hit_rate);
    cJSON_AddNumberToObject(o, "independent_token_miss", m->independent_token_miss);
    cJSON_AddNumberToObject(o, "paper_p_miss", m->paper_p_miss);
    cJSON_AddNumberToObject(o, "paper_exp_claim", m->paper_exp_claim);
    return o;
}

cJSON *l720_sim_sweep_run(const l720_sim_config *base, const l720_sim_sweep *sw,
                          l720_sweep_progress progress, void *ctx, l720_err *err)
{
    if (sw->kind == L720_SWEEP_EXPERTS && base->routing == L720_ROUTE_TRACE) {
        l720_err_set(err, L720_EINPUT, "sim: --sweep experts does not apply to a trace");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "sweep", kind_names[sw->kind]);
    cJSON *rows = cJSON_AddArrayToObject(out, "rows");
    double total = (double)base->experts * base->expert_bytes;
    double table = total * (double)base->layers;
    size_t done = 0, all = sw->n * sw->n_policies;
    for (size_t i = 0; i < sw->n; i++) {
        l720_sim_config cfg = *base;
        double v = sw->values[i];
        switch (sw->kind) {
        case L720_SWEEP_CACHE:
            cfg.cache_bytes = v * table;
            break;
        case L720_SWEEP_CACHE_BYTES:
            cfg.cache_bytes = v;
            break;
        case L720_SWEEP_EXPERTS:
            cfg.experts = (long)v;
            cfg.expert_bytes = total / v;
            if (sw->keep_active) {
                double k = round((double)base->topk * v / (double)base->experts);
                cfg.topk = (long)fmin(fmax(k, 1.0), v);
            }
            break;
        }
        for (size_t p = 0; p < sw->n_policies; p++) {
            cfg.policy = sw->policies[p];
            l720_sim_result *r = l720_sim_run(&cfg, err);
            if (!r) {
                l720_err_prefix(err, "sweep %s=%g", kind_names[sw->kind], v);
                cJSON_Delete(out);
                return NULL;
            }
            cJSON_AddItemToArray(rows, l720_sim_row_json(&cfg, r));
            l720_sim_result_free(r);
            if (progress)
                progress(++done, all, ctx);
        }
    }
    return out;
}

int l720_sim_sweep_csv(const cJSON *sweep, const char *path, l720_err *err)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(sweep, "rows");
    l720_atomic *w = l720_atomic_open(path, err);
    if (!w)
        return err->code;
    const cJSON *first = rows ? rows->child : NULL;
    for (const cJSON *c = first ? first->child : NULL; c; c = c->next)
        fprintf(w->fp, "%s%s", c->string, c->next ? "," : "\n");
    for (const cJSON *row = first; row; row = row->next)
        for (const cJSON *c = row->child; c; c = c->next) {
            if (cJSON_IsString(c))
                fprintf(w->fp, "%s", c->valuestring);
            else
                fprintf(w->fp, "%.10g", c->valuedouble);
            fputc(c->next ? ',' : '\n', w->fp);
        }
    return l720_atomic_commit(w, err);
}
