/* test_stream_sched.c: the expert-streaming benchmark's routing, LRU schedule
 * and trace files (kernels/stream_sched.c), against a brute-force LRU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/stream_sched.h"
#include "tests/tap.h"

/* Brute force: per layer, an array of (key, last use); evict the oldest. */
static int64_t brute_misses(const stream_cfg *c, const stream_sched *s, int64_t *per_layer_step)
{
    int L = c->layers, K = c->per_token, cap = c->cache_slots / L;
    int32_t *key = malloc(sizeof(int32_t) * (size_t)L * cap);
    int64_t *used = malloc(sizeof(int64_t) * (size_t)L * cap);
    int *n = calloc((size_t)L, sizeof(int));
    int64_t clock = 0, total = 0;
    for (int st = 0; st < c->steps; st++)
        for (int l = 0; l < L; l++) {
            int64_t m = 0;
            for (int b = 0; b < c->batch; b++) {
                const int32_t *e = s->route + ((size_t)(st * c->batch + b) * L + l) * K;
                for (int k = 0; k < K; k++) {
                    int32_t *kk = key + (size_t)l * cap;
                    int64_t *uu = used + (size_t)l * cap;
                    int j = 0;
                    while (j < n[l] && kk[j] != e[k])
                        j++;
                    if (j == n[l]) {
                        m++;
                        if (n[l] < cap) {
                            n[l]++;
                        } else {
                            j = 0;
                            for (int i = 1; i < cap; i++)
                                if (uu[i] < uu[j])
                                    j = i;
                        }
                        kk[j] = e[k];
                    }
                    uu[j] = clock++;
                }
            }
            per_layer_step[st * L + l] = m;
            total += m;
        }
    free(key);
    free(used);
    free(n);
    return total;
}

static void check_against_brute(const char *what, stream_cfg c)
{
    stream_sched s;
    char why[256];
    ok(!stream_cfg_check(&c, why, sizeof why), "%s: configuration is valid", what);
    if (!ok(stream_sched_build(&c, &s) == 0, "%s: schedule built", what))
        return;
    int L = c.layers, K = c.per_token, per_layer = c.cache_slots / L;
    int bad_range = 0, dup = 0;
    for (int64_t t = 0; t < s.tokens; t++)
        for (int l = 0; l < L; l++) {
            const int32_t *e = s.route + ((size_t)t * L + l) * K;
            for (int k = 0; k < K; k++) {
                bad_range += e[k] < 0 || e[k] >= c.experts;
                for (int j = 0; j < k; j++)
                    dup += e[j] == e[k];
            }
        }
    ok(!bad_range && !dup, "%s: ids in range (%d bad), distinct per token (%d repeats)", what,
       bad_range, dup);
    int64_t *want = calloc((size_t)c.steps * L, sizeof *want);
    int64_t total = brute_misses(&c, &s, want);
    int same = total == s.n_miss;
    for (int g = 0; g < c.steps * L; g++)
        same &= s.miss_off[g + 1] - s.miss_off[g] == want[g];
    ok(same, "%s: misses per (step, layer) match a brute-force LRU (%lld vs %lld)", what,
       (long long)s.n_miss, (long long)total);
    /* every miss of layer l goes to one of layer l's slots, and the final
     * slot contents are distinct keys of that layer */
    int wrong_slot = 0;
    for (int g = 0; g < c.steps * L; g++)
        for (int64_t m = s.miss_off[g]; m < s.miss_off[g + 1]; m++) {
            int l = g % L;
            wrong_slot += s.miss_slot[m] / per_layer != l || s.miss_key[m] / c.experts != l;
        }
    int held_dup = 0;
    for (int i = 0; i < c.cache_slots; i++)
        for (int j = 0; j < i; j++)
            held_dup += s.slot_key[i] >= 0 && s.slot_key[i] == s.slot_key[j];
    ok(!wrong_slot && !held_dup, "%s: loads land in the layer's own slots (%d wrong, %d twice)",
       what, wrong_slot, held_dup);
    free(want);
    stream_sched_free(&s);
}

static void check_trace_file(void)
{
    stream_cfg c = {"tiny", 2, 10, 3, 2, 3, 256, 12, 0, 0, 1, 7, 1};
    stream_sched s;
    char path[] = "/tmp/test_stream_sched_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    if (!ok(stream_sched_build(&c, &s) == 0 && stream_trace_write(path, &c, &s) == 0,
            "trace written"))
        return;
    FILE *f = fopen(path, "r");
    char line[256];
    int lines = 0, bad = 0;
    ok(fgets(line, sizeof line, f) && !strcmp(line, "# llm720 routing trace v1\n"),
       "trace: first header line");
    ok(fgets(line, sizeof line, f) && !strcmp(line, "# layers 2 experts 10 per_token 3\n"),
       "trace: second header line names L, N, K");
    while (fgets(line, sizeof line, f)) {
        long t;
        int l, e[3];
        if (sscanf(line, "%ld %d %d %d %d", &t, &l, &e[0], &e[1], &e[2]) != 5) {
            bad++;
            continue;
        }
        bad += t != lines / 2 || l != lines % 2;
        for (int k = 0; k < 3; k++)
            bad += e[k] != s.route[((size_t)t * 2 + l) * 3 + k];
        lines++;
    }
    fclose(f);
    remove(path);
    ok(lines == 2 * 2 * 3 && !bad, "trace: one line per (token, layer), t-major, ids as routed "
                                   "(%d lines, %d bad)",
       lines, bad);
    stream_sched_free(&s);
}

int main(void)
{
    check_against_brute("uniform", (stream_cfg){"u", 3, 40, 3, 4, 25, 256, 36, 0, 0, 1, 11, 1});
    check_against_brute("zipf", (stream_cfg){"z", 2, 64, 4, 3, 30, 4096, 32, 1.1, 1, 1, 12, 1});
    check_against_brute("whole layer cached",
                        (stream_cfg){"w", 2, 16, 2, 2, 20, 256, 32, 0.7, 0, 1, 13, 1});

    /* uniform routing: LRU hit rate = cache fraction */
    stream_cfg u = {"rate", 1, 1000, 1, 1, 40000, 256, 100, 0, 0, 1, 14, 1};
    stream_sched s;
    if (ok(stream_sched_build(&u, &s) == 0, "large uniform schedule built")) {
        double hit = 1.0 - (double)s.n_miss / s.n_access;
        ok_near(hit, 0.1, 0.01, "uniform routing: LRU hit rate %.4f = cache fraction 0.1", hit);
        stream_sched_free(&s);
    }
    /* Zipf: the top expert of a layer draws about 1/H_N of the picks */
    stream_cfg z = {"skew", 1, 100, 1, 1, 20000, 256, 10, 1.0, 0, 1, 15, 1};
    if (ok(stream_sched_build(&z, &s) == 0, "zipf schedule built")) {
        int count[100] = {0}, top = 0;
        for (int64_t t = 0; t < s.tokens; t++)
            count[s.route[t]]++;
        for (int i = 0; i < 100; i++)
            top = count[i] > top ? count[i] : top;
        double h = 0;
        for (int i = 1; i <= 100; i++)
            h += 1.0 / i;
        ok_rel(top / 20000.0, 1 / h, 0.05, "zipf:1 top expert share %.4f ~ 1/H_100", top / 20000.0);
        stream_sched_free(&s);
    }

    char why[256];
    stream_cfg bad = {"bad", 4, 100, 4, 8, 2, 256, 30, 0, 0, 1, 1, 1};
    ok(stream_cfg_check(&bad, why, sizeof why) && strstr(why, "multiple of layers"),
       "slots not a multiple of layers rejected: %s", why);
    bad.cache_slots = 64;
    ok(stream_cfg_check(&bad, why, sizeof why) && strstr(why, "batch * per_token"),
       "a layer's share below one batch's experts rejected: %s", why);
    bad.cache_slots = 128;
    bad.expert_bytes = 100;
    ok(stream_cfg_check(&bad, why, sizeof why) && strstr(why, "multiple of 16"),
       "expert size not a multiple of 16 rejected: %s", why);
    int all_ok = 1;
    for (int i = 0; i < stream_n_configs; i++)
        all_ok &= !stream_cfg_check(&stream_configs[i], why, sizeof why);
    ok(all_ok && stream_n_configs >= 6, "the %d benchmark workloads are valid", stream_n_configs);
    size_t lo = stream_configs[0].expert_bytes, hi = lo;
    for (int i = 1; i < stream_n_configs; i++) {
        size_t b = stream_configs[i].expert_bytes;
        lo = b < lo ? b : lo;
        hi = b > hi ? b : hi;
    }
    ok(lo == 256 && hi == 64u << 20, "workloads span 256-byte to 64 MiB experts (%zu to %zu)", lo,
       hi);
    check_trace_file();
    return tap_done();
}
