/* stream_configs.c: the benchmark's workloads, 256-byte to 64 MiB experts.
 *
 * Each moves enough bytes per layer that the link, not the compute, decides
 * most of the step time, with cache shares that leave real misses: copies
 * and zero-copy gathers, uniform and Zipf routing. */
#include "stream_sched.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define KIB 1024
#define MIB (1024 * 1024)

/* name, L, N, K, batch, steps, expert bytes, cache slots, zipf s, zero-copy, compute us, seed
 * [, copy streams] */
const stream_cfg stream_configs[] = {
    {"c256b-copy-uni", 4, 65536, 8, 16, 32, 256, 2048, 0, 0, 20, 1, 1},
    {"c256b-zc-zipf", 4, 65536, 16, 64, 32, 256, 16384, 1.0, 1, 10, 2, 1},
    {"c4k-zc-uni", 4, 16384, 8, 32, 32, 4 * KIB, 2048, 0, 1, 10, 3, 1},
    {"c4k-copy-zipf", 4, 16384, 8, 32, 32, 4 * KIB, 4096, 0.9, 0, 20, 4, 1},
    {"c64k-copy-zipf", 4, 4096, 8, 16, 32, 64 * KIB, 1024, 0.8, 0, 50, 5, 1},
    {"c64k-zc-uni", 4, 4096, 8, 16, 32, 64 * KIB, 512, 0, 1, 20, 6, 1},
    {"c1m-copy-uni", 4, 256, 4, 8, 32, MIB, 128, 0, 0, 100, 7, 1},
    {"c1m-zc-zipf", 4, 256, 4, 4, 32, MIB, 64, 1.0, 1, 100, 8, 1},
    {"c16m-copy-uni", 4, 32, 2, 2, 32, 16 * (size_t)MIB, 16, 0, 0, 200, 9, 1},
    {"c16m-zc-zipf", 4, 32, 2, 2, 32, 16 * (size_t)MIB, 16, 1.0, 1, 200, 10, 1},
    {"c64m-copy-zipf", 2, 16, 2, 1, 32, 64 * (size_t)MIB, 8, 1.0, 0, 500, 11, 1},
    {"c64m-zc-uni", 2, 16, 2, 1, 32, 64 * (size_t)MIB, 4, 0, 1, 500, 12, 1},
    /* copies spread over several streams */
    {"c4k-copy4-zipf", 4, 16384, 8, 32, 32, 4 * KIB, 4096, 0.9, 0, 20, 4, 4},
    {"c64k-copy2-zipf", 4, 4096, 8, 16, 32, 64 * KIB, 1024, 0.8, 0, 50, 5, 2},
    {"c1m-copy4-uni", 4, 256, 4, 8, 32, MIB, 128, 0, 0, 100, 7, 4},
};
const int stream_n_configs = sizeof stream_configs / sizeof stream_configs[0];

int stream_configs_prepare(const char *dir, stream_sched *sched, FILE *log, char *why, size_t n)
{
    for (int i = 0; i < stream_n_configs; i++) {
        const stream_cfg *c = &stream_configs[i];
        char path[4096];
        if (stream_cfg_check(c, why, n))
            return 2;
        if (stream_sched_build(c, &sched[i])) {
            snprintf(why, n, "%s: out of memory", c->name);
            return 1;
        }
        if (snprintf(path, sizeof path, "%s/%s.trace", dir, c->name) >= (int)sizeof path ||
            stream_trace_write(path, c, &sched[i])) {
            snprintf(why, n, "%.3000s/%s.trace: %s", dir, c->name, strerror(errno));
            return 1;
        }
        if (log)
            fprintf(log, "%-16s accesses %8lld misses %8lld (%.3f)\n", c->name,
                    (long long)sched[i].n_access, (long long)sched[i].n_miss,
                    (double)sched[i].n_miss / sched[i].n_access);
    }
    return 0;
}
