/* test_sim_cache.c: cache policies against naive references, Belady against
 * brute force and against every online policy. */
#include <stdlib.h>
#include <string.h>

#include "sim/cache.h"
#include "sim/lruq.h"
#include "tap.h"

/* Naive reference: resident ids in an array with last-use time, insertion
 * time and in-cache count; evicts by policy. O(cap) per access. */
typedef struct ref {
    l720_policy pol;
    uint32_t cap, size;
    uint32_t id[64];
    long used[64], inserted[64], count[64];
} ref;

static int ref_access(ref *r, uint32_t id, long t)
{
    for (uint32_t i = 0; i < r->size; i++)
        if (r->id[i] == id) {
            r->used[i] = t;
            r->count[i]++;
            return L720_HIT;
        }
    uint32_t v = r->size;
    if (r->size == r->cap) {
        v = 0;
        for (uint32_t i = 1; i < r->size; i++) {
            int better = 0;
            if (r->pol == L720_POLICY_LRU)
                better = r->used[i] < r->used[v];
            else if (r->pol == L720_POLICY_FIFO)
                better = r->inserted[i] < r->inserted[v];
            else /* LFU: lowest count, then least recent */
                better = r->count[i] < r->count[v] ||
                         (r->count[i] == r->count[v] && r->used[i] < r->used[v]);
            if (better)
                v = i;
        }
    } else {
        r->size++;
    }
    r->id[v] = id;
    r->used[v] = r->inserted[v] = t;
    r->count[v] = 1;
    return L720_MISS;
}

/* Best hit count over all caching decisions with bypass (exhaustive search
 * over the resident set as a bitmask). */
static int brute_best(const uint32_t *ids, int n, uint32_t nid, uint32_t cap, int i, uint32_t set)
{
    if (i == n)
        return 0;
    uint32_t bit = 1u << ids[i];
    if (set & bit)
        return 1 + brute_best(ids, n, nid, cap, i + 1, set);
    int best = brute_best(ids, n, nid, cap, i + 1, set); /* bypass */
    if ((uint32_t)__builtin_popcount(set) < cap) {
        int v = brute_best(ids, n, nid, cap, i + 1, set | bit);
        if (v > best)
            best = v;
    } else {
        for (uint32_t e = 0; e < nid; e++)
            if (set & (1u << e)) {
                int v = brute_best(ids, n, nid, cap, i + 1, (set & ~(1u << e)) | bit);
                if (v > best)
                    best = v;
            }
    }
    return best;
}

static int count_hits(const uint8_t *f, size_t n)
{
    int h = 0;
    for (size_t i = 0; i < n; i++)
        h += f[i] == L720_HIT;
    return h;
}

int main(void)
{
    l720_rng *rng = l720_rng_new(7);

    /* hand-checked sequences: A=0 B=1 C=2, cap 2 */
    {
        uint32_t s[] = {0, 1, 0, 2, 1, 0};
        const int lru[] = {0, 0, 1, 0, 0, 0}, fifo[] = {0, 0, 1, 0, 1, 0},
                  lfu[] = {0, 0, 1, 0, 0, 1};
        const int *want[] = {lru, fifo, lfu};
        l720_policy pols[] = {L720_POLICY_LRU, L720_POLICY_FIFO, L720_POLICY_LFU};
        for (int p = 0; p < 3; p++) {
            l720_cache *c = l720_cache_new(pols[p], 3, 2, rng);
            int same = 1;
            for (int i = 0; i < 6; i++)
                same &= l720_cache_access(c, s[i]) == want[p][i];
            ok(same, "%s: hand-checked hits on A B A C B A", l720_policy_name(pols[p]));
            l720_cache_free(c);
        }
    }

    /* online policies against the naive reference on random streams */
    l720_policy pols[] = {L720_POLICY_LRU, L720_POLICY_FIFO, L720_POLICY_LFU};
    for (int p = 0; p < 3; p++) {
        int all_same = 1, within = 1;
        for (int trial = 0; trial < 50; trial++) {
            uint32_t n = 2 + (uint32_t)l720_rng_below(rng, 30);
            uint32_t cap = (uint32_t)l720_rng_below(rng, n + 1);
            if (cap > 64)
                cap = 64;
            l720_cache *c = l720_cache_new(pols[p], n, cap, rng);
            ref r = {.pol = pols[p], .cap = cap};
            for (long t = 0; t < 2000; t++) {
                /* skewed ids, so that counts and recency matter */
                uint32_t id = (uint32_t)(l720_rng_below(rng, n) * l720_rng_uniform(rng));
                int a = l720_cache_access(c, id);
                int b = cap ? ref_access(&r, id, t) : L720_BYPASS;
                if (a != b)
                    all_same = 0;
            }
            within &= l720_cache_size(c) <= cap;
            l720_cache_free(c);
        }
        ok(within, "%s: size within capacity", l720_policy_name(pols[p]));
        ok(all_same, "%s matches the naive reference on 50 random streams",
           l720_policy_name(pols[p]));
    }

    /* the stamped queue across a wrap of its clock (renumbering) */
    for (int lru = 0; lru < 2; lru++) {
        l720_lruq q;
        ref r = {.pol = lru ? L720_POLICY_LRU : L720_POLICY_FIFO, .cap = 7};
        int same = !l720_lruq_init(&q, 40, 7, lru);
        for (long t = 0; t < 3000 && same; t++) {
            if (t == 1000)
                q.now = UINT32_MAX - 500; /* the clock wraps 500 accesses later */
            uint32_t id = (uint32_t)(l720_rng_below(rng, 40) * l720_rng_uniform(rng));
            same &= l720_lruq_access(&q, id) == ref_access(&r, id, t);
        }
        ok(same && q.now < 3000, "%s queue: exact across a clock wrap", lru ? "LRU" : "FIFO");
        l720_lruq_free(&q);
    }

    /* random: never above capacity, hits only on residents */
    {
        l720_cache *c = l720_cache_new(L720_POLICY_RANDOM, 100, 10, rng);
        int good = 1;
        for (int t = 0; t < 10000; t++) {
            uint32_t id = (uint32_t)l720_rng_below(rng, 100);
            int was = l720_cache_resident(c, id);
            int f = l720_cache_access(c, id);
            good &= (f == L720_HIT) == was && l720_cache_resident(c, id) &&
                    l720_cache_size(c) <= 10;
        }
        ok(good, "random: hit iff resident, size <= capacity");
        l720_cache_free(c);
    }

    /* static: pinned ids hit, the others bypass */
    {
        l720_cache *c = l720_cache_new(L720_POLICY_STATIC, 10, 3, rng);
        uint32_t pin[] = {4, 7, 9, 1};
        l720_cache_pin(c, pin, 4);
        ok(l720_cache_size(c) == 3, "static pins at most capacity");
        ok(l720_cache_access(c, 4) == L720_MISS && l720_cache_access(c, 4) == L720_HIT &&
               l720_cache_access(c, 9) == L720_MISS && l720_cache_access(c, 9) == L720_HIT &&
               l720_cache_access(c, 1) == L720_BYPASS && l720_cache_access(c, 1) == L720_BYPASS,
           "static: pinned miss once then hit, others bypass every time");
        l720_cache_free(c);
    }

    /* access_many is access, one by one */
    {
        enum { n = 5000 };
        uint32_t ids[n];
        uint8_t a[n], b[n];
        for (int i = 0; i < n; i++)
            ids[i] = (uint32_t)(l720_rng_below(rng, 200) * l720_rng_uniform(rng));
        l720_policy all[] = {L720_POLICY_LRU, L720_POLICY_FIFO, L720_POLICY_LFU,
                             L720_POLICY_STATIC};
        for (int p = 0; p < 4; p++) {
            l720_cache *c1 = l720_cache_new(all[p], 200, 20, rng),
                       *c2 = l720_cache_new(all[p], 200, 20, rng);
            for (int i = 0; i < n; i++)
                a[i] = (uint8_t)l720_cache_access(c1, ids[i]);
            l720_cache_access_many(c2, ids, n, b);
            ok(!memcmp(a, b, n), "%s: access_many == access", l720_policy_name(all[p]));
            l720_cache_free(c1);
            l720_cache_free(c2);
        }
    }

    /* Belady: the brute-force optimum on small streams, and >= every online policy */
    {
        int opt = 1, dominates = 1;
        for (int trial = 0; trial < 200; trial++) {
            enum { n = 14 };
            uint32_t nid = 2 + (uint32_t)l720_rng_below(rng, 5);
            uint32_t cap = (uint32_t)l720_rng_below(rng, nid);
            uint32_t ids[n];
            uint8_t f[n];
            for (int i = 0; i < n; i++)
                ids[i] = (uint32_t)l720_rng_below(rng, nid);
            l720_belady(ids, n, nid, cap, f);
            int bh = count_hits(f, n);
            if (bh != brute_best(ids, n, nid, cap, 0, 0))
                opt = 0;
            for (int p = 0; p < L720_POLICY_BELADY; p++) {
                l720_cache *c = l720_cache_new((l720_policy)p, nid, cap, rng);
                if (p == L720_POLICY_STATIC) {
                    uint32_t pin[8];
                    for (uint32_t k = 0; k < cap; k++)
                        pin[k] = (uint32_t)l720_rng_below(rng, nid);
                    l720_cache_pin(c, pin, cap);
                }
                uint8_t g[n];
                l720_cache_access_many(c, ids, n, g);
                if (count_hits(g, n) > bh) {
                    dominates = 0;
                    tap_diag("policy %s: %d hits > Belady %d (cap %u of %u)",
                             l720_policy_name((l720_policy)p), count_hits(g, n), bh, cap, nid);
                }
                l720_cache_free(c);
            }
        }
        ok(opt, "Belady with bypass equals the brute-force optimum on 200 streams");
        ok(dominates, "Belady >= LRU, LFU, FIFO, random, static on the same streams");
    }
    l720_rng_free(rng);
    return tap_done();
}
