/* test_rng_progress.c: the seeded RNG is reproducible and uniform; the
 * progress bar stays silent when stderr is not a terminal. */
#include <math.h>
#include <stdlib.h>

#include "progress.h"
#include "rng.h"
#include "tap.h"

int main(void)
{
    l720_rng *a = l720_rng_new(42), *b = l720_rng_new(42), *c = l720_rng_new(43);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        double x = l720_rng_uniform(a), y = l720_rng_uniform(b), z = l720_rng_uniform(c);
        same &= x == y;
        differ |= x != z;
    }
    ok(same, "same seed, same stream");
    ok(differ, "different seed, different stream");
    double sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double g = l720_rng_gaussian(a, 2.0);
        sum += g;
        sum2 += g * g;
    }
    ok_near(sum / n, 0.0, 0.02, "gaussian mean");
    ok_near(sqrt(sum2 / n), 2.0, 0.02, "gaussian sigma");
    long hist[10] = {0};
    for (int i = 0; i < n; i++)
        hist[l720_rng_below(a, 10)]++;
    int flat = 1;
    for (int k = 0; k < 10; k++)
        flat &= fabs(hist[k] - n / 10.0) < 5 * sqrt(n / 10.0);
    ok(flat, "below(10) is uniform within 5 sigma");
    uint64_t big = 3ull << 40;
    int inrange = 1;
    for (int i = 0; i < 1000; i++)
        inrange &= l720_rng_below(a, big) < big;
    ok(inrange, "below() with a 64-bit bound");
    uint32_t idx[100];
    for (int i = 0; i < 100; i++)
        idx[i] = (uint32_t)i;
    l720_rng_shuffle(a, idx, 100);
    int seen[100] = {0}, perm = 1;
    for (int i = 0; i < 100; i++)
        seen[idx[i]]++;
    for (int i = 0; i < 100; i++)
        perm &= seen[i] == 1;
    ok(perm, "shuffle is a permutation");
    l720_rng_free(a);
    l720_rng_free(b);
    l720_rng_free(c);
    l720_rng_free(NULL);

    /* under make check, stderr is a file: no progress object, no output */
    l720_progress *p = l720_progress_new("x", 10);
    ok(p == NULL && !l720_progress_enabled(), "no progress bar when stderr is not a terminal");
    l720_progress_update(p, 5, "half");
    size_t done = 0;
#pragma omp parallel for
    for (int i = 0; i < 1000; i++)
        l720_progress_tick(p, &done);
    ok(done == 1000, "progress ticks from a parallel loop count every item (%zu)", done);
    l720_progress_free(p);
    return tap_done();
}
