/* config.c: defaults, names and checks of l720_sim_config. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "sim.h"
#include "trace.h"

static const char *const policy_names[L720_POLICY_COUNT] = {"lru",    "lfu",    "fifo",
                                                            "random", "static", "belady"};

const char *l720_policy_name(l720_policy p)
{
    return p >= 0 && p < L720_POLICY_COUNT ? policy_names[p] : "?";
}

int l720_policy_parse(const char *s)
{
    for (int i = 0; i < L720_POLICY_COUNT; i++)
        if (!strcmp(s, policy_names[i]))
            return i;
    return -1;
}

void l720_sim_config_default(l720_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->layers = 1;
    cfg->experts = 1024 * 1024;
    cfg->expert_bytes = 4096;
    cfg->heads = 8;
    cfg->topk = 16;
    cfg->batch = 64;
    cfg->steps = 100;
    cfg->warmup_steps = 0;
    cfg->cache_bytes = 0.25 * 1024 * 1024 * 4096.0;
    cfg->routing = L720_ROUTE_ZIPF;
    cfg->zipf_s = 0.9;
    cfg->policy = L720_POLICY_LRU;
    cfg->prefetch = L720_PREFETCH_NONE;
    cfg->predict_q = 1;
    cfg->ahead = 1;
    cfg->transfer = L720_TRANSFER_COPY;
    cfg->concurrency = 1;
    cfg->bytes_per_param = 2;
    cfg->seed = 1;
}

/* "S" after "zipf:" etc.: a finite number >= 0. */
static int parse_exponent(const char *s, const char *what, double *out, l720_err *err)
{
    double v;
    if (l720_parse_number(s, &v) || !isfinite(v) || v < 0)
        return l720_err_set(err, L720_EINPUT,
                            "sim: --routing %s: expected a Zipf exponent >= 0, got '%s'", what, s);
    *out = v;
    return 0;
}

int l720_sim_parse_routing(const char *s, l720_sim_config *cfg, const char **trace_path,
                           l720_err *err)
{
    *trace_path = NULL;
    if (!strcmp(s, "uniform")) {
        cfg->routing = L720_ROUTE_UNIFORM;
        return 0;
    }
    if (!strncmp(s, "zipf:", 5)) {
        cfg->routing = L720_ROUTE_ZIPF;
        return parse_exponent(s + 5, "zipf:S", &cfg->zipf_s, err);
    }
    if (!strncmp(s, "pk-zipf:", 8)) {
        cfg->routing = L720_ROUTE_PK_ZIPF;
        return parse_exponent(s + 8, "pk-zipf:S", &cfg->zipf_s, err);
    }
    if (!strncmp(s, "trace:", 6) && s[6]) {
        cfg->routing = L720_ROUTE_TRACE;
        *trace_path = s + 6;
        return 0;
    }
    return l720_err_set(err, L720_EINPUT,
                        "sim: --routing: expected uniform, zipf:S, pk-zipf:S or trace:FILE, "
                        "got '%s'",
                        s);
}

int l720_sim_parse_prefetch(const char *s, l720_sim_config *cfg, l720_err *err)
{
    cfg->ahead = 1;
    cfg->predict_q = 1;
    const char *rest = NULL;
    if (!strcmp(s, "none")) {
        cfg->prefetch = L720_PREFETCH_NONE;
        return 0;
    }
    if (!strncmp(s, "oracle", 6) && (s[6] == 0 || s[6] == ':')) {
        cfg->prefetch = L720_PREFETCH_ORACLE;
        rest = s[6] ? s + 7 : NULL;
    } else if (!strncmp(s, "predict:", 8)) {
        cfg->prefetch = L720_PREFETCH_PREDICT;
        char buf[64];
        const char *colon = strchr(s + 8, ':');
        size_t n = colon ? (size_t)(colon - (s + 8)) : strlen(s + 8);
        double q;
        if (n == 0 || n >= sizeof buf)
            goto bad;
        memcpy(buf, s + 8, n);
        buf[n] = 0;
        if (l720_parse_number(buf, &q) || !(q >= 0 && q <= 1))
            return l720_err_set(err, L720_EINPUT,
                                "sim: --prefetch predict:Q: expected Q in [0, 1], got '%s'", buf);
        cfg->predict_q = q;
        rest = colon ? colon + 1 : NULL;
    } else {
        goto bad;
    }
    if (rest) {
        double a;
        if (l720_parse_number(rest, &a) || a != floor(a) || a < 1 || a > 1e6)
            return l720_err_set(err, L720_EINPUT,
                                "sim: --prefetch: AHEAD must be a whole number >= 1, got '%s'",
                                rest);
        cfg->ahead = (long)a;
    }
    return 0;
bad:
    return l720_err_set(err, L720_EINPUT,
                        "sim: --prefetch: expected none, oracle[:AHEAD] or predict:Q[:AHEAD], "
                        "got '%s'",
                        s);
}

static int positive_long(long v, const char *name, l720_err *err)
{
    if (v <= 0)
        return l720_err_set(err, L720_EINPUT, "sim: --%s must be positive, got %ld", name, v);
    return 0;
}

int l720_sim_config_check(const l720_sim_config *cfg, l720_err *err)
{
    int rc;
    if ((rc = positive_long(cfg->layers, "layers", err)) ||
        (rc = positive_long(cfg->experts, "experts", err)) ||
        (rc = positive_long(cfg->heads, "heads", err)) ||
        (rc = positive_long(cfg->topk, "topk", err)) ||
        (rc = positive_long(cfg->batch, "batch", err)) ||
        (rc = positive_long(cfg->steps, "steps", err)) ||
        (rc = positive_long(cfg->concurrency, "concurrency", err)))
        return rc;
    if (cfg->warmup_steps < 0)
        return l720_err_set(err, L720_EINPUT, "sim: --warmup-steps must be >= 0, got %ld",
                            cfg->warmup_steps);
    if (!(cfg->expert_bytes > 0))
        return l720_err_set(err, L720_EINPUT, "sim: --expert-bytes must be positive, got %g",
                            cfg->expert_bytes);
    if (!(cfg->cache_bytes > 0))
        return l720_err_set(err, L720_EINPUT, "sim: --cache-bytes must be positive, got %g",
                            cfg->cache_bytes);
    if (cfg->experts > 0xFFFFFFF0L)
        return l720_err_set(err, L720_EINPUT, "sim: --experts above %ld is not supported",
                            0xFFFFFFF0L);
    if (cfg->topk > cfg->experts)
        return l720_err_set(err, L720_EINPUT,
                            "sim: --topk %ld is above the expert count %ld", cfg->topk,
                            cfg->experts);
    if (cfg->heads * cfg->topk > 1000000)
        return l720_err_set(err, L720_EINPUT, "sim: --heads x --topk above 10^6 is not supported");
    if (!(cfg->reuse >= 0 && cfg->reuse <= 1))
        return l720_err_set(err, L720_EINPUT, "sim: --reuse must be in [0, 1], got %g",
                            cfg->reuse);
    if (cfg->compute_seconds < 0 || cfg->dense_flops < 0 || cfg->row_bytes < 0 ||
        !(cfg->bytes_per_param > 0))
        return l720_err_set(err, L720_EINPUT,
                            "sim: --compute-seconds, --dense-flops, --row-bytes must be >= 0 and "
                            "--bytes-per-param positive");
    if (cfg->routing == L720_ROUTE_PK_ZIPF) {
        long n = lround(sqrt((double)cfg->experts));
        if (n * n != cfg->experts)
            return l720_err_set(err, L720_EINPUT,
                                "sim: --routing pk-zipf needs a square expert count (n^2), got %ld",
                                cfg->experts);
    }
    if (cfg->routing == L720_ROUTE_TRACE) {
        const l720_route_trace *t = cfg->trace;
        if (!t)
            return l720_err_set(err, L720_EINPUT, "sim: trace routing without a trace");
        if (t->layers != cfg->layers || t->experts != cfg->experts ||
            t->per_token != cfg->heads * cfg->topk)
            return l720_err_set(err, L720_EINPUT,
                                "sim: %s: the trace has %ld layers, %ld experts, %ld per token; "
                                "the run asks for %ld, %ld, %ld x %ld",
                                t->name, t->layers, t->experts, t->per_token, cfg->layers,
                                cfg->experts, cfg->heads, cfg->topk);
        if (cfg->reuse > 0)
            return l720_err_set(err, L720_EINPUT, "sim: --reuse does not apply to a trace");
    }
    if (!(cfg->hw.link_bandwidth > 0) || !(cfg->hw.bf16_flops > 0) ||
        !(cfg->hw.hbm_bandwidth > 0))
        return l720_err_set(err, L720_EINPUT, "sim: no hardware profile loaded");
    if (cfg->policy < 0 || cfg->policy >= L720_POLICY_COUNT)
        return l720_err_set(err, L720_EINPUT, "sim: unknown policy");
    return 0;
}
