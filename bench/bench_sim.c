/* bench_sim.c: simulated expert accesses per second on one core.
 *
 * One layer of 10^6 experts, LRU, a cache of a quarter of them, 8 heads x
 * top-16, batches of 256 tokens: whole runs of l720_sim_run (routing, cache,
 * timeline and analytic models) timed in CPU seconds of the one thread. Prints a line per
 * routing and, last, `sim_accesses_per_second` (the Zipf 0.9 run).
 *   usage: bench_sim [STEPS]   (default 2000: 6.6e7 accesses per run)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim/sim.h"

/* CPU time of this process: one core's work, whatever else the machine runs */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double bench(const char *routing, long steps, l720_err *err)
{
    l720_sim_config cfg;
    const char *trace = NULL;
    l720_sim_config_default(&cfg);
    if (l720_hardware_load("h100-sxm", &cfg.hw, err) ||
        l720_sim_parse_routing(routing, &cfg, &trace, err))
        return -1;
    cfg.experts = 1000000;
    cfg.expert_bytes = 4096;
    cfg.cache_bytes = 0.25 * 1e6 * 4096;
    cfg.batch = 256;
    cfg.steps = steps;
    double t0 = now();
    l720_sim_result *r = l720_sim_run(&cfg, err);
    double dt = now() - t0;
    if (!r)
        return -1;
    double rate = r->accesses / dt;
    printf("%-10s accesses %.4g in %.3f s: %.4g accesses/s, hit rate %.4f\n", routing,
           r->accesses, dt, rate, r->hit_rate);
    l720_sim_result_free(r);
    return rate;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 2000;
    l720_err err = {0};
    double u = bench("uniform", steps, &err);
    double pk = u > 0 ? bench("pk-zipf:0.9", steps, &err) : -1;
    double z = pk > 0 ? bench("zipf:0.9", steps, &err) : -1;
    if (z < 0) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        return 1;
    }
    printf("sim_accesses_per_second %.4g\n", z);
    return 0;
}
