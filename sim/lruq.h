/* lruq.h: exact LRU and FIFO on dense ids with a stamped queue.
 *
 * Every access appends (id, time) to a queue and stamps stamp[id] = time; a
 * record is live while its time equals its id's stamp, so a hit leaves its
 * older record behind as garbage instead of unlinking it. The oldest live
 * record is the least recently used (LRU) or the first inserted (FIFO, which
 * appends only on a miss). Evicting pops records from the front until a live
 * one; the queue is compacted (live records only, in order) when it fills.
 * Each record is appended once and popped or compacted once: amortized O(1),
 * and every memory access is either sequential (the queue) or one random
 * read-modify-write of a 4-byte stamp, which can be prefetched.
 */
#ifndef L720_LRUQ_H
#define L720_LRUQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct l720_lruq_rec {
    uint32_t id, time;
} l720_lruq_rec;

typedef struct l720_lruq {
    uint32_t n, cap, size;
    int lru;               /* 1: a hit renews the id (LRU); 0: FIFO */
    uint32_t *stamp;       /* [n] time of id's live record; 0: not resident */
    l720_lruq_rec *q;      /* [qcap] ring of records, oldest at head */
    l720_lruq_rec *spare;  /* [qcap] compaction target */
    size_t qcap, head, count;
    uint32_t now;          /* time of the last access */
} l720_lruq;

/* Returns 0, or -1 when out of memory. */
int l720_lruq_init(l720_lruq *q, uint32_t n, uint32_t cap, int lru);
void l720_lruq_free(l720_lruq *q);
void l720_lruq_clear(l720_lruq *q);

/* L720_HIT, L720_MISS or L720_BYPASS (cap 0), as l720_cache_access. */
int l720_lruq_access(l720_lruq *q, uint32_t id);
void l720_lruq_access_many(l720_lruq *q, const uint32_t *ids, size_t n, uint8_t *out);

#endif
