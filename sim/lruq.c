/* lruq.c: see lruq.h. */
#include "lruq.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"

int l720_lruq_init(l720_lruq *q, uint32_t n, uint32_t cap, int lru)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->cap = cap;
    q->lru = lru;
    q->qcap = 4 * (size_t)cap + 1024; /* compaction after >= 3 cap appends */
    q->stamp = malloc((size_t)n * sizeof *q->stamp);
    q->q = calloc(q->qcap, sizeof *q->q); /* zeroed: prefetches may read ahead */
    q->spare = calloc(q->qcap, sizeof *q->spare);
    if (!q->stamp || !q->q || !q->spare) {
        l720_lruq_free(q);
        return -1;
    }
    l720_lruq_clear(q);
    return 0;
}

void l720_lruq_free(l720_lruq *q)
{
    free(q->stamp);
    free(q->q);
    free(q->spare);
    memset(q, 0, sizeof *q);
}

void l720_lruq_clear(l720_lruq *q)
{
    memset(q->stamp, 0, (size_t)q->n * sizeof *q->stamp);
    q->size = 0;
    q->head = q->count = 0;
    q->now = 0;
}

/* Keeps the live records, oldest first, at the start of the queue; with
 * renumber, also gives them the times 1, 2, ... (before the clock wraps). */
static void compact(l720_lruq *q, int renumber)
{
    size_t k = 0;
    for (size_t i = 0, at = q->head; i < q->count; i++) {
        size_t ahead = at + 16 < q->qcap ? at + 16 : at + 16 - q->qcap;
        __builtin_prefetch(q->stamp + q->q[ahead].id);
        l720_lruq_rec r = q->q[at];
        if (++at == q->qcap)
            at = 0;
        if (q->stamp[r.id] != r.time)
            continue;
        if (renumber) {
            r.time = (uint32_t)(k + 1);
            q->stamp[r.id] = r.time;
        }
        q->spare[k++] = r;
    }
    l720_lruq_rec *t = q->q;
    q->q = q->spare;
    q->spare = t;
    q->head = 0;
    q->count = k;
    if (renumber)
        q->now = (uint32_t)k;
}

static inline void push(l720_lruq *q, uint32_t id, uint32_t time)
{
    if (q->count == q->qcap)
        compact(q, 0);
    size_t at = q->head + q->count;
    if (at >= q->qcap)
        at -= q->qcap;
    q->q[at] = (l720_lruq_rec){id, time};
    q->count++;
}

/* Pops records until a live one, which leaves the cache. */
static inline void evict(l720_lruq *q)
{
    for (;;) {
        size_t ahead = q->head + 32 < q->qcap ? q->head + 32 : q->head + 32 - q->qcap;
        __builtin_prefetch(q->stamp + q->q[ahead].id);
        l720_lruq_rec r = q->q[q->head];
        if (++q->head == q->qcap)
            q->head = 0;
        q->count--;
        if (q->stamp[r.id] == r.time) {
            q->stamp[r.id] = 0;
            return;
        }
    }
}

static inline int access1(l720_lruq *q, uint32_t id)
{
    if (q->now == UINT32_MAX - 1)
        compact(q, 1);
    uint32_t t = ++q->now;
    if (q->stamp[id]) {
        if (q->lru) {
            q->stamp[id] = t;
            push(q, id, t);
        }
        return L720_HIT;
    }
    if (q->cap == 0)
        return L720_BYPASS;
    if (q->size == q->cap)
        evict(q);
    else
        q->size++;
    q->stamp[id] = t;
    push(q, id, t);
    return L720_MISS;
}

int l720_lruq_access(l720_lruq *q, uint32_t id) { return access1(q, id); }

/* Prefetch distance in accesses (see routing.c). */
#define AHEAD 16

void l720_lruq_access_many(l720_lruq *q, const uint32_t *ids, size_t n, uint8_t *out)
{
    for (size_t j = 0; j < n; j++) {
        if (j + AHEAD < n)
            __builtin_prefetch(q->stamp + ids[j + AHEAD]);
        if (q->count > AHEAD) {
            /* the stamps that the coming evictions will check */
            size_t at = q->head + AHEAD;
            if (at >= q->qcap)
                at -= q->qcap;
            __builtin_prefetch(q->stamp + q->q[at].id);
        }
        out[j] = (uint8_t)access1(q, ids[j]);
    }
}
