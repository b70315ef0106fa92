/* cache.c: see cache.h. */
#include "cache.h"
#include "lruq.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0xFFFFFFFFu /* end of a list */
#define OUT 0xFFFFFFFEu /* not resident (in node.prev or pos) */

typedef struct node {
    uint32_t prev, next;
} node;

/* LFU: a bucket holds the resident ids with one count, most recent first;
 * buckets are kept in ascending count order. */
typedef struct bucket {
    uint64_t count;
    uint32_t head, tail;   /* ids */
    uint32_t prev, next;   /* buckets */
} bucket;

struct l720_cache {
    l720_policy policy;
    uint32_t n, cap, size;
    l720_lruq lq;      /* LRU, FIFO */
    node *node;        /* [n] LFU: list links within a bucket; prev == OUT when not resident */
    uint32_t head, tail;
    uint32_t *bucket_of; /* [n] LFU: bucket of a resident id */
    bucket *bucket;      /* [cap + 1] LFU pool */
    uint32_t first, free_bucket;
    uint32_t *slot;      /* [cap] random: resident ids */
    uint32_t *pos;       /* [n] random: slot of id or OUT */
    uint8_t *pinned;     /* [n] static: 0 not pinned, 1 pinned, 2 pinned and loaded */
    l720_rng *rng;
};

void l720_cache_clear(l720_cache *c)
{
    c->size = 0;
    c->head = c->tail = NIL;
    if (c->lq.stamp)
        l720_lruq_clear(&c->lq);
    if (c->node)
        for (uint32_t i = 0; i < c->n; i++)
            c->node[i].prev = OUT, c->node[i].next = NIL;
    if (c->pos)
        for (uint32_t i = 0; i < c->n; i++)
            c->pos[i] = OUT;
    if (c->pinned)
        memset(c->pinned, 0, c->n);
    if (c->bucket) {
        c->first = NIL;
        c->free_bucket = 0;
        for (uint32_t b = 0; b <= c->cap; b++)
            c->bucket[b].next = b < c->cap ? b + 1 : NIL;
    }
}

l720_cache *l720_cache_new(l720_policy policy, uint32_t n, uint32_t cap, l720_rng *rng)
{
    l720_cache *c = calloc(1, sizeof *c);
    if (!c || policy == L720_POLICY_BELADY) {
        free(c);
        return NULL;
    }
    if (cap > n)
        cap = n;
    c->policy = policy;
    c->n = n;
    c->cap = cap;
    c->rng = rng;
    int ok = 1;
    switch (policy) {
    case L720_POLICY_LFU: /* lists its ids like LRU, in buckets */
        ok = (c->bucket_of = malloc((size_t)n * sizeof *c->bucket_of)) &&
             (c->bucket = malloc(((size_t)cap + 1) * sizeof *c->bucket)) &&
             (c->node = malloc((size_t)n * sizeof *c->node));
        break;
    case L720_POLICY_LRU:
    case L720_POLICY_FIFO:
        ok = !l720_lruq_init(&c->lq, n, cap, policy == L720_POLICY_LRU);
        break;
    case L720_POLICY_RANDOM:
        ok = (c->slot = malloc(((size_t)cap + 1) * sizeof *c->slot)) &&
             (c->pos = malloc((size_t)n * sizeof *c->pos));
        break;
    case L720_POLICY_STATIC:
        ok = (c->pinned = malloc(n ? n : 1)) != NULL;
        break;
    default:
        ok = 0;
    }
    if (!ok) {
        l720_cache_free(c);
        return NULL;
    }
    l720_cache_clear(c);
    return c;
}

void l720_cache_free(l720_cache *c)
{
    if (!c)
        return;
    if (c->lq.stamp)
        l720_lruq_free(&c->lq);
    free(c->node);
    free(c->bucket_of);
    free(c->bucket);
    free(c->slot);
    free(c->pos);
    free(c->pinned);
    free(c);
}

void l720_cache_pin(l720_cache *c, const uint32_t *ids, size_t k)
{
    if (!c->pinned)
        return;
    for (size_t i = 0; i < k && c->size < c->cap; i++)
        if (!c->pinned[ids[i]]) {
            c->pinned[ids[i]] = 1;
            c->size++;
        }
}

uint32_t l720_cache_size(const l720_cache *c) { return c->lq.stamp ? c->lq.size : c->size; }

int l720_cache_resident(const l720_cache *c, uint32_t id)
{
    if (c->lq.stamp)
        return c->lq.stamp[id] != 0;
    if (c->node)
        return c->node[id].prev != OUT;
    if (c->pos)
        return c->pos[id] != OUT;
    return c->pinned[id] == 2;
}

/* --- intrusive lists over node[] (head = most recent), for LFU's buckets --- */

static inline void list_unlink(node *nd, uint32_t *head, uint32_t *tail, uint32_t id)
{
    uint32_t p = nd[id].prev, n = nd[id].next;
    if (p != NIL)
        nd[p].next = n;
    else
        *head = n;
    if (n != NIL)
        nd[n].prev = p;
    else
        *tail = p;
}

static inline void list_push_front(node *nd, uint32_t *head, uint32_t *tail, uint32_t id)
{
    nd[id].prev = NIL;
    nd[id].next = *head;
    if (*head != NIL)
        nd[*head].prev = id;
    else
        *tail = id;
    *head = id;
}

/* Removes the least recent id; returns it. */
static inline uint32_t list_pop_back(node *nd, uint32_t *head, uint32_t *tail)
{
    uint32_t id = *tail;
    list_unlink(nd, head, tail, id);
    nd[id].prev = OUT;
    return id;
}

/* --- LFU: buckets of equal counts, each an intrusive list of ids --- */

static uint32_t bucket_new(l720_cache *c, uint64_t count, uint32_t after)
{
    uint32_t b = c->free_bucket;
    bucket *B = c->bucket;
    c->free_bucket = B[b].next;
    B[b].count = count;
    B[b].head = B[b].tail = NIL;
    B[b].prev = after;
    B[b].next = after == NIL ? c->first : B[after].next;
    if (B[b].next != NIL)
        B[B[b].next].prev = b;
    if (after == NIL)
        c->first = b;
    else
        B[after].next = b;
    return b;
}

static void bucket_drop_if_empty(l720_cache *c, uint32_t b)
{
    bucket *B = c->bucket;
    if (B[b].head != NIL)
        return;
    if (B[b].prev != NIL)
        B[B[b].prev].next = B[b].next;
    else
        c->first = B[b].next;
    if (B[b].next != NIL)
        B[B[b].next].prev = B[b].prev;
    B[b].next = c->free_bucket;
    c->free_bucket = b;
}

static int access_lfu(l720_cache *c, uint32_t id)
{
    node *nd = c->node;
    bucket *B = c->bucket;
    if (nd[id].prev != OUT) {
        uint32_t b = c->bucket_of[id];
        uint32_t nb = B[b].next;
        if (nb == NIL || B[nb].count != B[b].count + 1)
            nb = bucket_new(c, B[b].count + 1, b);
        list_unlink(nd, &B[b].head, &B[b].tail, id);
        list_push_front(nd, &B[nb].head, &B[nb].tail, id);
        c->bucket_of[id] = nb;
        bucket_drop_if_empty(c, b);
        return L720_HIT;
    }
    if (c->cap == 0)
        return L720_BYPASS;
    if (c->size == c->cap) {
        uint32_t b = c->first;
        list_pop_back(nd, &B[b].head, &B[b].tail);
        bucket_drop_if_empty(c, b);
    } else {
        c->size++;
    }
    uint32_t b = c->first;
    if (b == NIL || B[b].count != 1)
        b = bucket_new(c, 1, NIL);
    list_push_front(nd, &B[b].head, &B[b].tail, id);
    c->bucket_of[id] = b;
    return L720_MISS;
}

static int access_random(l720_cache *c, uint32_t id)
{
    if (c->pos[id] != OUT)
        return L720_HIT;
    if (c->cap == 0)
        return L720_BYPASS;
    uint32_t s;
    if (c->size == c->cap) {
        s = (uint32_t)l720_rng_below(c->rng, c->cap);
        c->pos[c->slot[s]] = OUT;
    } else {
        s = c->size++;
    }
    c->slot[s] = id;
    c->pos[id] = s;
    return L720_MISS;
}

int l720_cache_access(l720_cache *c, uint32_t id)
{
    switch (c->policy) {
    case L720_POLICY_LRU:
    case L720_POLICY_FIFO:
        return l720_lruq_access(&c->lq, id);
    case L720_POLICY_LFU:
        return access_lfu(c, id);
    case L720_POLICY_RANDOM:
        return access_random(c, id);
    case L720_POLICY_STATIC:
        /* a pinned expert is loaded at its first use (a compulsory miss),
         * then stays; the others stream past the cache */
        if (c->pinned[id] == 2)
            return L720_HIT;
        if (c->pinned[id] == 1) {
            c->pinned[id] = 2;
            return L720_MISS;
        }
        return L720_BYPASS;
    default:
        return L720_BYPASS;
    }
}

/* Prefetch distance in accesses (see routing.c). */
#define AHEAD 16

/* The line that l720_cache_resident reads for id. */
static inline const void *resident_line(const l720_cache *c, uint32_t id)
{
    if (c->lq.stamp)
        return c->lq.stamp + id;
    if (c->node)
        return c->node + id;
    if (c->pos)
        return c->pos + id;
    return c->pinned + id;
}

void l720_cache_access_many(l720_cache *c, const uint32_t *ids, size_t n, uint8_t *out)
{
    if (c->lq.stamp) {
        l720_lruq_access_many(&c->lq, ids, n, out);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        if (j + AHEAD < n)
            __builtin_prefetch(resident_line(c, ids[j + AHEAD]));
        out[j] = (uint8_t)l720_cache_access(c, ids[j]);
    }
}

void l720_cache_resident_first(const l720_cache *c, uint32_t *ids, size_t n, uint32_t *tmp)
{
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(resident_line(c, ids[i + AHEAD]));
        if (l720_cache_resident(c, ids[i]))
            ids[a++] = ids[i];
        else
            tmp[b++] = ids[i];
    }
    memcpy(ids + a, tmp, b * sizeof *ids);
}
