/* belady.c: Belady's MIN with bypass (see cache.h).
 *
 * next[i] is the position of the next access to ids[i] (n_acc when none).
 * Resident ids sit in a max-heap keyed by their next use; a miss whose next
 * use is later than the heap's top is bypassed, otherwise the top goes. */
#include <stdlib.h>

#include "cache.h"

typedef struct heap {
    uint32_t *id;  /* [cap] heap order */
    uint64_t *key; /* [cap] next use, parallel to id */
    uint32_t *at;  /* [n] position of a resident id, or UINT32_MAX */
    uint32_t size;
} heap;

static void heap_set(heap *h, uint32_t i, uint32_t id, uint64_t key)
{
    h->id[i] = id;
    h->key[i] = key;
    h->at[id] = i;
}

static void sift_up(heap *h, uint32_t i)
{
    uint32_t id = h->id[i];
    uint64_t key = h->key[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->key[p] >= key)
            break;
        heap_set(h, i, h->id[p], h->key[p]);
        i = p;
    }
    heap_set(h, i, id, key);
}

static void sift_down(heap *h, uint32_t i)
{
    uint32_t id = h->id[i];
    uint64_t key = h->key[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t mk = key;
        if (l < h->size && h->key[l] > mk)
            m = l, mk = h->key[l];
        if (r < h->size && h->key[r] > mk)
            m = r, mk = h->key[r];
        if (m == i)
            break;
        heap_set(h, i, h->id[m], h->key[m]);
        i = m;
    }
    heap_set(h, i, id, key);
}

int l720_belady(const uint32_t *ids, size_t n_acc, uint32_t n, uint32_t cap, uint8_t *out)
{
    if (cap > n)
        cap = n;
    uint64_t *next = malloc((n_acc ? n_acc : 1) * sizeof *next);
    heap h = {malloc(((size_t)cap + 1) * sizeof *h.id), malloc(((size_t)cap + 1) * sizeof *h.key),
              malloc(((size_t)n + 1) * sizeof *h.at), 0};
    int rc = -1;
    if (!next || !h.id || !h.key || !h.at)
        goto done;
    /* nothing is resident yet */
    for (uint32_t i = 0; i < n; i++)
        h.at[i] = UINT32_MAX;
    {
        uint64_t *seen = malloc(((size_t)n + 1) * sizeof *seen);
        if (!seen)
            goto done;
        for (uint32_t i = 0; i < n; i++)
            seen[i] = n_acc;
        for (size_t i = n_acc; i-- > 0;) {
            next[i] = seen[ids[i]];
            seen[ids[i]] = i;
        }
        free(seen);
    }
    for (size_t i = 0; i < n_acc; i++) {
        uint32_t id = ids[i];
        uint32_t at = h.at[id];
        if (at != UINT32_MAX) {
            out[i] = L720_HIT;
            h.key[at] = next[i]; /* later than before: moves up */
            sift_up(&h, at);
            continue;
        }
        if (cap == 0 || next[i] == n_acc) {
            out[i] = L720_BYPASS; /* never used again: caching it cannot help */
            continue;
        }
        if (h.size < cap) {
            out[i] = L720_MISS;
            heap_set(&h, h.size++, id, next[i]);
            sift_up(&h, h.size - 1);
        } else if (next[i] < h.key[0]) {
            out[i] = L720_MISS;
            h.at[h.id[0]] = UINT32_MAX;
            heap_set(&h, 0, id, next[i]);
            sift_down(&h, 0);
        } else {
            out[i] = L720_BYPASS;
        }
    }
    rc = 0;
done:
    free(next);
    free(h.id);
    free(h.key);
    free(h.at);
    return rc;
}
