/* test_sim_models.c: the analytic models, and the simulator against them:
 * LRU within 0.01 of Che on Zipf s = 0.6, 0.9, 1.2 with 10^4 experts;
 * uniform popularity gives the cache fraction within 0.005. */
#include <math.h>
#include <stdlib.h>

#include "sim/models.h"
#include "sim/sim.h"
#include "tap.h"

static l720_sim_result *run(l720_sim_config *cfg)
{
    l720_err err = {0};
    l720_sim_result *r = l720_sim_run(cfg, &err);
    if (!r)
        tap_diag("run failed: %s", err.msg);
    return r;
}

int main(void)
{
    /* closed forms */
    enum { n = 1000 };
    double p[n];
    for (int i = 0; i < n; i++)
        p[i] = 1.0 / n;
    ok_near(l720_che_hit_rate(p, n, 250), 0.25, 1e-9, "Che under uniform popularity is c/N");
    double tc = l720_che_tc(p, n, 250);
    ok_near(n * (1 - exp(-tc / n)), 250, 1e-6, "t_C solves sum(1 - exp(-p t)) = c");
    ok(isinf(l720_che_tc(p, n, n)), "t_C is infinite when the cache holds everything");
    ok_near(l720_che_hit_rate(p, n, 0), 0, 0, "no cache, no hits");
    ok_near(l720_uniform_hit_rate(30, 100), 0.3, 0, "uniform c/N");
    ok_near(l720_uniform_hit_rate(300, 100), 1, 0, "uniform capped at 1");
    ok_near(l720_token_miss(0.9, 2), 0.19, 1e-12, "1 - h^K");
    ok_near(l720_paper_p_miss(0.9, 2), 0.01, 1e-12, "paper (1 - h)^K");
    ok_near(l720_paper_exp_claim(2, 25, 100), exp(-0.5), 1e-12, "paper exp(-k Nhot/Ntot)");
    ok_near(l720_paper_token_seconds(2, 1e-6, 0.5, 1000, 1e9, 1e-5),
            2 * (1e-6 + 0.5 * 1e-6) + 0.25 * 1e-5, 1e-15, "paper T_tok");

    /* the simulator against Che and the uniform closed form */
    l720_sim_config cfg;
    l720_err err = {0};
    l720_sim_config_default(&cfg);
    ok(!l720_hardware_load("h100-sxm", &cfg.hw, &err), "hardware (%s)", err.msg);
    cfg.experts = 10000;
    cfg.expert_bytes = 1000;
    cfg.heads = 1;
    cfg.topk = 1;
    cfg.batch = 1; /* one access per step: the independent reference model */
    cfg.steps = 500000;
    cfg.warmup_steps = 50000;
    cfg.compute_seconds = 1e-3;
    const double s[] = {0.6, 0.9, 1.2}, frac[] = {0.02, 0.2};
    for (int i = 0; i < 3; i++)
        for (int f = 0; f < 2; f++) {
            cfg.routing = L720_ROUTE_ZIPF;
            cfg.zipf_s = s[i];
            cfg.cache_bytes = frac[f] * 1e4 * 1e3;
            l720_sim_result *r = run(&cfg);
            if (!r)
                continue;
            ok_near(r->hit_rate, r->models.che_hit_rate, 0.01,
                    "LRU vs Che: zipf %.1f, cache %.0f%% of 10^4 experts (%g accesses)", s[i],
                    100 * frac[f], r->accesses);
            l720_sim_result_free(r);
        }
    cfg.routing = L720_ROUTE_UNIFORM;
    const l720_policy online[] = {L720_POLICY_LRU, L720_POLICY_FIFO, L720_POLICY_RANDOM,
                                  L720_POLICY_LFU};
    for (int i = 0; i < 4; i++) {
        cfg.policy = online[i];
        cfg.cache_bytes = 0.3 * 1e4 * 1e3;
        l720_sim_result *r = run(&cfg);
        if (!r)
            continue;
        ok_near(r->hit_rate, 0.3, 0.005, "uniform popularity, %s: hit rate = cache fraction 0.3",
                l720_policy_name(online[i]));
        ok_near(r->hit_rate, r->models.uniform_hit_rate, 0.005, "and the model says so");
        l720_sim_result_free(r);
    }

    /* pk-zipf: Che from the product popularity */
    cfg.policy = L720_POLICY_LRU;
    cfg.routing = L720_ROUTE_PK_ZIPF;
    cfg.zipf_s = 0.9;
    cfg.cache_bytes = 0.1 * 1e4 * 1e3;
    l720_sim_result *r = run(&cfg);
    if (r) {
        ok_near(r->hit_rate, r->models.che_hit_rate, 0.01, "LRU vs Che on product keys (%.4f)",
                r->hit_rate);
        l720_sim_result_free(r);
    }
    return tap_done();
}
