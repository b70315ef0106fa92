/* stream_sched.c: see stream_sched.h. */
#include "stream_sched.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, seedable, the same on every machine. */
static uint64_t next_u64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *x) /* [0, 1) */
{
    return (double)(next_u64(x) >> 11) * (1.0 / 9007199254740992.0);
}

static int32_t below(uint64_t *x, int32_t n)
{
    return (int32_t)(next_unit(x) * n);
}

uint64_t stream_tag(int32_t key)
{
    return 0x5EED000000000000ull ^ ((uint64_t)(uint32_t)key * 0x9E3779B1ull);
}

int stream_cfg_check(const stream_cfg *c, char *why, size_t n)
{
    const char *bad = NULL;
    if (c->layers < 1 || c->experts < 1 || c->batch < 1 || c->steps < 1)
        bad = "layers, experts, batch and steps must be >= 1";
    else if (c->per_token < 1 || c->per_token > c->experts)
        bad = "per_token must be in [1, experts]";
    else if (c->expert_bytes < 16 || c->expert_bytes % 16)
        bad = "expert_bytes must be a positive multiple of 16";
    else if ((int64_t)c->layers * c->experts > INT32_MAX)
        bad = "layers * experts must fit in 32 bits";
    else if (c->cache_slots % c->layers)
        bad = "cache_slots must be a multiple of layers (each layer has an equal share)";
    else if (c->cache_slots / c->layers < c->batch * c->per_token)
        bad = "cache_slots / layers must be >= batch * per_token (a layer's experts stay resident)";
    else if (c->cache_slots > c->layers * c->experts)
        bad = "cache_slots must be <= layers * experts";
    else if (c->concurrency < 0 || c->concurrency > STREAM_MAX_CONCURRENCY)
        bad = "concurrency must be in [0, 8]";
    else if (c->zipf_s < 0 || c->compute_us < 0)
        bad = "zipf_s and compute_us must be >= 0";
    if (bad)
        snprintf(why, n, "%s: %s", c->name, bad);
    return bad != NULL;
}

/* Routing: K distinct experts per (token, layer), uniform or Zipf over a
 * per-layer random ranking of the experts. */
static int draw_route(const stream_cfg *c, int32_t *route)
{
    int N = c->experts, K = c->per_token, L = c->layers;
    uint64_t x = c->seed;
    double *cdf = NULL;
    int32_t *rank_to_id = NULL;
    if (c->zipf_s > 0) {
        cdf = malloc((size_t)N * sizeof *cdf);
        rank_to_id = malloc((size_t)L * N * sizeof *rank_to_id);
        if (!cdf || !rank_to_id) {
            free(cdf);
            free(rank_to_id);
            return -1;
        }
        double sum = 0;
        for (int r = 0; r < N; r++)
            cdf[r] = (sum += pow(r + 1.0, -c->zipf_s));
        for (int r = 0; r < N; r++)
            cdf[r] /= sum;
        for (int l = 0; l < L; l++) {
            int32_t *p = rank_to_id + (size_t)l * N;
            for (int i = 0; i < N; i++)
                p[i] = i;
            for (int i = N - 1; i > 0; i--) {
                int32_t j = below(&x, i + 1), t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
        }
    }
    int64_t T = (int64_t)c->steps * c->batch;
    for (int64_t t = 0; t < T; t++)
        for (int l = 0; l < L; l++) {
            int32_t *e = route + ((size_t)t * L + l) * K;
            for (int k = 0; k < K; k++) {
                int32_t id;
                int dup;
                do {
                    if (cdf) {
                        double u = next_unit(&x);
                        int lo = 0, hi = N - 1; /* first rank with cdf > u */
                        while (lo < hi) {
                            int mid = (lo + hi) / 2;
                            if (cdf[mid] > u)
                                hi = mid;
                            else
                                lo = mid + 1;
                        }
                        id = rank_to_id[(size_t)l * N + lo];
                    } else {
                        id = below(&x, N);
                    }
                    dup = 0;
                    for (int j = 0; j < k; j++)
                        dup |= e[j] == id;
                } while (dup);
                e[k] = id;
            }
        }
    free(cdf);
    free(rank_to_id);
    return 0;
}

/* One LRU list per layer over that layer's slots, most recent at head. */
typedef struct lru {
    int32_t *prev, *next; /* [cache_slots] */
    int32_t *key_slot;    /* [layers * experts] slot holding a key, -1 when absent */
    int32_t *slot_key;    /* [cache_slots] */
    int32_t *head, *tail, *used; /* [layers] */
} lru;

static void lru_unlink(lru *u, int l, int32_t s)
{
    if (u->prev[s] >= 0)
        u->next[u->prev[s]] = u->next[s];
    else
        u->head[l] = u->next[s];
    if (u->next[s] >= 0)
        u->prev[u->next[s]] = u->prev[s];
    else
        u->tail[l] = u->prev[s];
}

static void lru_push_front(lru *u, int l, int32_t s)
{
    u->prev[s] = -1;
    u->next[s] = u->head[l];
    if (u->head[l] >= 0)
        u->prev[u->head[l]] = s;
    u->head[l] = s;
    if (u->tail[l] < 0)
        u->tail[l] = s;
}

/* Returns the slot now holding key (a miss when *miss is set). */
static int32_t lru_access(lru *u, int l, int32_t per_layer, int32_t key, int *miss)
{
    int32_t slot = u->key_slot[key];
    *miss = slot < 0;
    if (slot >= 0) {
        lru_unlink(u, l, slot);
    } else if (u->used[l] < per_layer) {
        slot = l * per_layer + u->used[l]++;
    } else {
        slot = u->tail[l];
        u->key_slot[u->slot_key[slot]] = -1;
        lru_unlink(u, l, slot);
    }
    u->slot_key[slot] = key;
    u->key_slot[key] = slot;
    lru_push_front(u, l, slot);
    return slot;
}

int stream_sched_build(const stream_cfg *c, stream_sched *s)
{
    memset(s, 0, sizeof *s);
    int L = c->layers, K = c->per_token, C = c->cache_slots, per_layer = C / L;
    int64_t keys = (int64_t)L * c->experts;
    s->tokens = (int64_t)c->steps * c->batch;
    s->n_access = s->tokens * L * K;
    s->route = malloc((size_t)s->n_access * sizeof *s->route);
    s->miss_off = malloc(((size_t)c->steps * L + 1) * sizeof *s->miss_off);
    s->miss_key = malloc((size_t)s->n_access * sizeof *s->miss_key);
    s->miss_slot = malloc((size_t)s->n_access * sizeof *s->miss_slot);
    s->slot_key = malloc((size_t)C * sizeof *s->slot_key);
    lru u = {malloc((size_t)C * sizeof(int32_t)), malloc((size_t)C * sizeof(int32_t)),
             malloc((size_t)keys * sizeof(int32_t)), s->slot_key,
             malloc((size_t)L * sizeof(int32_t)), malloc((size_t)L * sizeof(int32_t)),
             calloc((size_t)L, sizeof(int32_t))};
    int rc = -1;
    if (!s->route || !s->miss_off || !s->miss_key || !s->miss_slot || !s->slot_key || !u.prev ||
        !u.next || !u.key_slot || !u.head || !u.tail || !u.used || draw_route(c, s->route))
        goto done;
    for (int64_t k = 0; k < keys; k++)
        u.key_slot[k] = -1;
    for (int i = 0; i < C; i++)
        s->slot_key[i] = -1;
    for (int l = 0; l < L; l++)
        u.head[l] = u.tail[l] = -1;
    int64_t m = 0;
    for (int st = 0; st < c->steps; st++)
        for (int l = 0; l < L; l++) {
            s->miss_off[(size_t)st * L + l] = m;
            for (int b = 0; b < c->batch; b++) {
                int64_t t = (int64_t)st * c->batch + b;
                const int32_t *e = s->route + ((size_t)t * L + l) * K;
                for (int k = 0; k < K; k++) {
                    int32_t key = l * c->experts + e[k];
                    int miss;
                    int32_t slot = lru_access(&u, l, per_layer, key, &miss);
                    if (miss) {
                        s->miss_key[m] = key;
                        s->miss_slot[m] = slot;
                        m++;
                    }
                }
            }
        }
    s->miss_off[(size_t)c->steps * L] = m;
    s->n_miss = m;
    rc = 0;
done:
    free(u.prev);
    free(u.next);
    free(u.key_slot);
    free(u.head);
    free(u.tail);
    free(u.used);
    if (rc)
        stream_sched_free(s);
    return rc;
}

void stream_sched_free(stream_sched *s)
{
    free(s->route);
    free(s->miss_off);
    free(s->miss_key);
    free(s->miss_slot);
    free(s->slot_key);
    memset(s, 0, sizeof *s);
}

int stream_trace_write(const char *path, const stream_cfg *c, const stream_sched *s)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "# llm720 routing trace v1\n# layers %d experts %d per_token %d\n", c->layers,
            c->experts, c->per_token);
    for (int64_t t = 0; t < s->tokens; t++)
        for (int l = 0; l < c->layers; l++) {
            const int32_t *e = s->route + ((size_t)t * c->layers + l) * c->per_token;
            fprintf(f, "%lld %d", (long long)t, l);
            for (int k = 0; k < c->per_token; k++)
                fprintf(f, " %d", (int)e[k]);
            fputc('\n', f);
        }
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        remove(tmp);
        return -1;
    }
    return 0;
}
