/* test_sim_run.c: whole runs: determinism, Belady's bound, the event queue
 * and the timeline against hand-computed times, prefetch, sweeps, bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/eventq.h"
#include "sim/sim.h"
#include "sim/sweep.h"
#include "sim/timing.h"
#include "tap.h"

static l720_sim_config base(void)
{
    l720_sim_config cfg;
    l720_err err = {0};
    l720_sim_config_default(&cfg);
    if (l720_hardware_load("h100-sxm", &cfg.hw, &err))
        tap_diag("hardware: %s", err.msg);
    cfg.layers = 2;
    cfg.experts = 2000;
    cfg.expert_bytes = 1 << 16;
    cfg.heads = 2;
    cfg.topk = 4;
    cfg.batch = 16;
    cfg.steps = 50;
    cfg.cache_bytes = 0.1 * 2 * 2000 * 65536.0;
    return cfg;
}

static char *json_of(const l720_sim_config *cfg)
{
    l720_err err = {0};
    l720_sim_result *r = l720_sim_run(cfg, &err);
    if (!r)
        return NULL;
    cJSON *j = l720_sim_result_json(cfg, r);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    l720_sim_result_free(r);
    return s;
}

static double hits_of(l720_sim_config *cfg)
{
    l720_err err = {0};
    l720_sim_result *r = l720_sim_run(cfg, &err);
    double h = r ? r->hits : -1;
    if (!r)
        tap_diag("run failed: %s", err.msg);
    l720_sim_result_free(r);
    return h;
}

static void test_eventq(void)
{
    l720_eventq q;
    l720_eventq_init(&q);
    double t[] = {5, 1, 3, 1, 2, 5, 0, 1};
    for (int i = 0; i < 8; i++)
        l720_eventq_push(&q, t[i], 0, i);
    l720_event e;
    long order[8];
    int n = 0;
    while (l720_eventq_pop(&q, &e))
        order[n++] = e.arg;
    const long want[] = {6, 1, 3, 7, 4, 2, 0, 5};
    ok(n == 8 && !memcmp(order, want, sizeof want),
       "event queue: by time, ties in insertion order");
    l720_eventq_free(&q);
}

static void test_timing(void)
{
    /* 2 layers x 3 steps, no prefetch: each layer-step waits for its fetch */
    uint32_t fetch[6] = {4, 0, 2, 1, 0, 3};
    double tc[6] = {1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3};
    double ls[2];
    l720_timing_in in = {.layers = 2, .steps = 3, .warmup = 0, .fetch = fetch, .tc = tc,
                         .expert_bytes = 1e6, .transfer = L720_TRANSFER_COPY,
                         .link_bandwidth = 1e9, .link_latency = 1e-4, .concurrency = 1,
                         .prefetch = L720_PREFETCH_NONE, .ahead = 1};
    ok_near(l720_batch_seconds(&in, 4), 4 * (1e-4 + 1e-3), 1e-15, "4 serial copies");
    in.concurrency = 4;
    ok_near(l720_batch_seconds(&in, 4), 1e-4 + 4e-3, 1e-15, "4 copies on 4 channels: wire-bound");
    in.expert_bytes = 1e3; /* 1 us of wire, 100 us of latency: channel-bound */
    ok_near(l720_batch_seconds(&in, 8), 2 * (1e-4 + 1e-6), 1e-15, "8 small copies on 4 channels");
    in.expert_bytes = 1e6;
    in.concurrency = 1;
    l720_timing_out out = {.layer_stall = ls};
    l720_err err = {0};
    ok(!l720_timing_run(&in, &out, &err), "timeline runs");
    double fetch_s = 10 * 1.1e-3; /* 10 copies of 1.1 ms */
    ok_near(out.total_seconds, 6e-3 + fetch_s, 1e-12, "no prefetch: compute + every fetch");
    ok_near(out.stall_seconds, fetch_s, 1e-12, "stall = fetch time");
    ok_near(ls[0] + ls[1], fetch_s, 1e-12, "per-layer stalls add up");
    ok_near(ls[0], (4 + 2 + 0) * 1.1e-3, 1e-12, "layer 0's stall");
    ok(out.bytes == 10e6 && out.transfers == 10, "bytes moved");

    /* oracle prefetch with fetches shorter than compute: only the first waits */
    uint32_t small[6] = {1, 0, 0, 0, 0, 0};
    in.fetch = small;
    in.prefetch = L720_PREFETCH_ORACLE;
    ok(!l720_timing_run(&in, &out, &err), "oracle timeline runs");
    ok_near(out.total_seconds, 6e-3 + 1.1e-3, 1e-12, "oracle: the first fetch stalls");
    uint32_t later[6] = {0, 0, 0, 1, 0, 0};
    in.fetch = later;
    ok(!l720_timing_run(&in, &out, &err), "oracle timeline runs");
    ok_near(out.stall_seconds, 0.1e-3, 1e-12,
            "oracle: a 1.1 ms fetch behind 1 ms of compute stalls 0.1 ms");
    in.prefetch = L720_PREFETCH_NONE;
    ok(!l720_timing_run(&in, &out, &err), "timeline runs");
    ok_near(out.stall_seconds, 1.1e-3, 1e-12, "without prefetch it stalls 1.1 ms");
    in.ahead = 2;
    in.prefetch = L720_PREFETCH_ORACLE;
    ok(!l720_timing_run(&in, &out, &err), "2 ahead runs");
    ok_near(out.stall_seconds, 0, 1e-12, "two layers ahead hides it");

    /* zero-copy: one gather per batch */
    in.transfer = L720_TRANSFER_ZEROCOPY;
    in.gather_bandwidth = 5e8;
    in.gather_latency = 1e-6;
    ok_near(l720_batch_seconds(&in, 3), 1e-6 + 3e6 / 5e8, 1e-15, "zero-copy gather of 3 rows");
}

/* A profile with one copy engine and a per-copy curve over streams. */
static void test_copy_profile(void)
{
    char path[] = "/tmp/test_sim_hw_XXXXXX.json";
    int fd = mkstemps(path, 5);
    const char text[] =
        "{\"name\":\"t\",\"source\":\"test\",\"gpus\":1,\"memory_bytes\":1e9,"
        "\"hbm_bandwidth\":1e12,\"bf16_flops\":1e14,\"host_memory_bytes\":1e10,"
        "\"host_link\":{\"kind\":\"pcie5\",\"bandwidth\":4096e6,\"latency\":5e-6},"
        "\"measured\":{\"copy_channels\":1,\"copy_streams_4k\":[[1,3e-6],[2,4e-6],[4,2e-6]]}}";
    ok(fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1),
       "profile written");
    close(fd);
    l720_sim_config cfg = base();
    l720_err err = {0};
    ok(!l720_hardware_load(path, &cfg.hw, &err), "profile with copy_channels loads (%s)", err.msg);
    ok(cfg.hw.copy_channels == 1 && cfg.hw.n_copy_streams == 3, "copy_channels and the curve read");
    ok_near(l720_hardware_copy_seconds(&cfg.hw, 3), 3e-6, 1e-15, "4 KB copy time between points");
    ok_near(l720_hardware_copy_seconds(&cfg.hw, 8), 2e-6, 1e-15, "clamped past the last point");
    cfg.concurrency = 4;
    cfg.compute_seconds = 1e-3;
    l720_sim_result *r = l720_sim_run(&cfg, &err);
    ok(r && r->copy_channels == 1, "4 streams over one copy engine: one channel");
    ok(r && fabs(r->copy_fixed_seconds - (2e-6 - 1e-6)) < 1e-15,
       "fixed cost = 4 KB copy time over 4 streams less its wire time (%g)",
       r ? r->copy_fixed_seconds : -1);
    l720_sim_result_free(r);
    remove(path);
}

int main(void)
{
    l720_err err = {0};
    test_eventq();
    test_timing();
    test_copy_profile();

    /* same seed, byte-identical JSON; another seed differs */
    l720_sim_config cfg = base();
    char *a = json_of(&cfg), *b = json_of(&cfg);
    ok(a && b && !strcmp(a, b), "same seed: byte-identical JSON");
    cfg.seed = 2;
    char *c = json_of(&cfg);
    ok(c && strcmp(a, c), "another seed: another result");
    free(a);
    free(b);
    free(c);
    cJSON *j = NULL;
    {
        l720_sim_config k = base();
        l720_sim_result *r = l720_sim_run(&k, &err);
        j = r ? l720_sim_result_json(&k, r) : NULL;
        const char *keys[] = {"hit_rate", "token_miss_probability", "bytes_streamed",
                              "stall_seconds", "step_seconds", "tokens_per_second", "accesses",
                              "link_utilization", "per_layer", "models", "config"};
        int all = j != NULL;
        for (size_t i = 0; j && i < sizeof keys / sizeof *keys; i++)
            all &= cJSON_HasObjectItem(j, keys[i]);
        ok(all, "JSON has the issue's keys");
        ok(r && r->accesses == 2.0 * 50 * 16 * 8, "accesses = L T B h k");
        ok(r && fabs(r->bytes_streamed - r->transfers * 65536) < 1, "bytes = transfers x S");
        ok(r && r->tokens_per_second > 0 &&
               fabs(r->step_seconds * 50 - r->total_seconds) < 1e-12 * r->total_seconds,
           "step time = total / steps");
        ok(r && r->total_seconds >= r->compute_seconds + r->stall_seconds - 1e-12 &&
               r->total_seconds <= r->compute_seconds + r->stall_seconds + 1e-12,
           "total = compute + stall (one GPU stream)");
        ok(r && r->token_miss_probability >= 1 - r->hit_rate - 1e-12,
           "P(token sees a miss) >= miss rate");
        l720_sim_result_free(r);
        cJSON_Delete(j);
    }

    /* Belady >= every online policy on every workload */
    const char *names[] = {"uniform", "zipf 0.9", "zipf 1.2 with reuse 0.5", "pk-zipf 0.8",
                           "zipf 0.6 decode reuse 0.3"};
    for (int w = 0; w < 10; w++) {
        cfg = base();
        cfg.access = w >= 5 ? L720_ACCESS_GROUPED : L720_ACCESS_TOKEN;
        int k = w % 5;
        cfg.routing = k == 0 ? L720_ROUTE_UNIFORM : k == 3 ? L720_ROUTE_PK_ZIPF : L720_ROUTE_ZIPF;
        cfg.experts = k == 3 ? 2025 : 2000;
        cfg.zipf_s = k == 2 ? 1.2 : k == 3 ? 0.8 : k == 4 ? 0.6 : 0.9;
        cfg.reuse = k == 2 ? 0.5 : k == 4 ? 0.3 : 0;
        cfg.decode = k == 4;
        cfg.policy = L720_POLICY_BELADY;
        double opt = hits_of(&cfg);
        int dominated = opt >= 0;
        for (int p = 0; p < L720_POLICY_BELADY; p++) {
            cfg.policy = (l720_policy)p;
            double h = hits_of(&cfg);
            if (h > opt) {
                dominated = 0;
                tap_diag("%s: %s %g > belady %g", names[k], l720_policy_name(p), h, opt);
            }
        }
        ok(dominated, "Belady >= every online policy: %s, %s order", names[k],
           w >= 5 ? "grouped" : "token");
    }

    /* grouped steps keep c/N under uniform popularity, batches and top-k included */
    cfg = base();
    cfg.access = L720_ACCESS_GROUPED;
    cfg.routing = L720_ROUTE_UNIFORM;
    cfg.layers = 1;
    cfg.steps = 400;
    cfg.warmup_steps = 50;
    cfg.cache_bytes = 0.3 * 2000 * 65536.0;
    {
        l720_sim_result *g = l720_sim_run(&cfg, &err);
        ok(g && fabs(g->hit_rate - 0.3) < 0.01, "grouped, B = 16, 2 x top-4: hit rate %.4f ~ c/N",
           g ? g->hit_rate : -1);
        ok(g && g->transfers == g->layer[0].transfers, "per-layer transfers add up");
        l720_sim_result_free(g);
    }

    /* prefetch: the oracle stalls no more than none; predict:1 = oracle; predict:0 wastes */
    cfg = base();
    cfg.compute_seconds = 2e-3;
    l720_sim_result *none = l720_sim_run(&cfg, &err);
    cfg.prefetch = L720_PREFETCH_ORACLE;
    l720_sim_result *orc = l720_sim_run(&cfg, &err);
    cfg.prefetch = L720_PREFETCH_PREDICT;
    cfg.predict_q = 1;
    l720_sim_result *p1 = l720_sim_run(&cfg, &err);
    cfg.predict_q = 0;
    l720_sim_result *p0 = l720_sim_run(&cfg, &err);
    ok(none && orc && p1 && p0, "prefetch runs");
    if (none && orc && p1 && p0) {
        ok(orc->stall_seconds < none->stall_seconds, "oracle prefetch stalls less (%g < %g)",
           orc->stall_seconds, none->stall_seconds);
        ok(orc->hit_rate == none->hit_rate, "prefetch leaves the hit rate alone");
        ok(p1->stall_seconds == orc->stall_seconds && p1->wasted_bytes == 0,
           "predict:1 is the oracle");
        ok(p0->wasted_bytes > 0 && p0->bytes_streamed == 2 * none->bytes_streamed &&
               p0->stall_seconds >= none->stall_seconds,
           "predict:0 moves every miss twice and stalls at least as long");
    }
    l720_sim_result_free(none);
    l720_sim_result_free(orc);
    l720_sim_result_free(p1);
    l720_sim_result_free(p0);

    /* bad input and notes */
    cfg = base();
    cfg.topk = 3000;
    ok(!l720_sim_run(&cfg, &err) && err.code == L720_EINPUT && strstr(err.msg, "topk"),
       "top-k above the expert count: %s", err.msg);
    cfg = base();
    cfg.expert_bytes = 0;
    ok(!l720_sim_run(&cfg, &err) && strstr(err.msg, "expert-bytes"), "zero expert bytes");
    cfg = base();
    cfg.batch = -1;
    ok(!l720_sim_run(&cfg, &err) && strstr(err.msg, "batch"), "negative batch");
    cfg = base();
    cfg.routing = L720_ROUTE_PK_ZIPF;
    ok(!l720_sim_run(&cfg, &err) && strstr(err.msg, "square"), "pk-zipf needs n^2 experts");
    cfg = base();
    cfg.cache_bytes = 1e12;
    l720_sim_result *r = l720_sim_run(&cfg, &err);
    ok(r && r->all_resident && r->hit_rate == 1 && r->bytes_streamed == 0 && r->n_notes == 1 &&
           strstr(r->notes[0], "whole expert table"),
       "a cache above the table: all resident, with a note");
    l720_sim_result_free(r);
    cfg.cache_bytes = 10;
    r = l720_sim_run(&cfg, &err);
    ok(r && r->hit_rate == 0 && r->n_notes == 1, "a cache below one expert: all miss, a note");
    l720_sim_result_free(r);

    /* sweeps */
    cfg = base();
    l720_sim_sweep sw = {0};
    ok(!l720_sim_sweep_parse("cache:0.05,0.1,0.2", &sw, &err) &&
           !l720_sim_policies_parse("lru,belady", &sw, &err),
       "sweep spec parses");
    cJSON *s = l720_sim_sweep_run(&cfg, &sw, NULL, NULL, &err);
    const cJSON *rows = s ? cJSON_GetObjectItem(s, "rows") : NULL;
    ok(rows && cJSON_GetArraySize(rows) == 6, "3 values x 2 policies = 6 rows");
    int mono = 1;
    for (int i = 2; rows && i < 6; i += 2)
        mono &= cJSON_GetObjectItem(cJSON_GetArrayItem(rows, i), "hit_rate")->valuedouble >=
                cJSON_GetObjectItem(cJSON_GetArrayItem(rows, i - 2), "hit_rate")->valuedouble;
    ok(mono, "LRU hit rate grows with the cache");
    cJSON_Delete(s);
    ok(!l720_sim_sweep_parse("experts:500,2000,8000", &sw, &err), "experts sweep parses");
    sw.keep_active = 1;
    s = l720_sim_sweep_run(&cfg, &sw, NULL, NULL, &err);
    rows = s ? cJSON_GetObjectItem(s, "rows") : NULL;
    int same_total = rows != NULL, same_active = rows != NULL;
    for (const cJSON *row = rows ? rows->child : NULL; row; row = row->next) {
        double n = cJSON_GetObjectItem(row, "experts")->valuedouble;
        double sz = cJSON_GetObjectItem(row, "expert_bytes")->valuedouble;
        double k = cJSON_GetObjectItem(row, "topk")->valuedouble;
        same_total &= fabs(n * sz - 2000 * 65536.0) < 1;
        same_active &= fabs(k * sz - 4 * 65536.0) < 1;
    }
    ok(same_total && same_active, "experts sweep: same total bytes, same active bytes");
    cJSON_Delete(s);
    ok(l720_sim_sweep_parse("experts:10.5", &sw, &err) == L720_EINPUT, "fractional experts");
    ok(l720_sim_sweep_parse("bogus:1", &sw, &err) == L720_EINPUT, "unknown sweep");
    ok(l720_sim_policies_parse("lru,clock", &sw, &err) == L720_EINPUT &&
           strstr(err.msg, "clock"),
       "unknown policy named");
    return tap_done();
}
