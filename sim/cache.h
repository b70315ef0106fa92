/* cache.h: one layer's share of HBM as a cache of experts, on dense ids.
 *
 * Every operation is O(1) (amortized for LRU and FIFO) and allocation-free
 * after l720_cache_new: LRU and FIFO keep a stamped queue (lruq.h), LFU keeps
 * frequency buckets of intrusive lists (counts since insertion; ties evict
 * the least recent), random keeps the resident ids in an array, static pins
 * a given set. Belady's MIN needs
 * the future, so it is a function over a whole access stream instead.
 */
#ifndef L720_CACHE_H
#define L720_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "sim.h"

/* Outcome of one access. */
enum { L720_MISS = 0, L720_HIT = 1, L720_BYPASS = 2 /* miss, not inserted */ };

typedef struct l720_cache l720_cache;

/* A cache of cap experts over ids [0, n). rng (borrowed) serves the random
 * policy. Belady is not an online policy: use l720_belady. */
l720_cache *l720_cache_new(l720_policy policy, uint32_t n, uint32_t cap, l720_rng *rng);
void l720_cache_free(l720_cache *c);

/* Empties the cache (LFU counts too). */
void l720_cache_clear(l720_cache *c);

/* Static policy: pins ids[0..k) (at most cap of them). A pinned expert
 * misses once, at its first use, and hits from then on. */
void l720_cache_pin(l720_cache *c, const uint32_t *ids, size_t k);

/* Accesses id: L720_HIT, L720_MISS (inserted, evicting when full) or
 * L720_BYPASS (a miss that is streamed, not cached: static's unpinned
 * experts, any policy with no room at all). */
int l720_cache_access(l720_cache *c, uint32_t id);

/* Accesses ids[0..n) in order, out[j] the outcome of ids[j]: the same as n
 * calls of l720_cache_access, with the lines of later ids fetched early. */
void l720_cache_access_many(l720_cache *c, const uint32_t *ids, size_t n, uint8_t *out);

/* Orders ids[0..n) with the resident ones first, stably (tmp holds n ids):
 * a grouped step touches what it holds before it fetches what it lacks, so
 * that (with LRU) a miss never evicts an expert the same step is about to use. */
void l720_cache_resident_first(const l720_cache *c, uint32_t *ids, size_t n, uint32_t *tmp);

/* Resident experts now. */
uint32_t l720_cache_size(const l720_cache *c);

/* 1 when id is resident. */
int l720_cache_resident(const l720_cache *c, uint32_t id);

/* Belady's MIN with bypass over ids[0..n_acc) (ids in [0, n)), a cache of cap:
 * on a miss the requested expert is cached only when it is used again sooner
 * than some resident one, which then goes. out[i] receives L720_HIT,
 * L720_MISS or L720_BYPASS. The optimum hit count over all policies, online or
 * not, with or without bypass. Returns 0, or -1 when out of memory. */
int l720_belady(const uint32_t *ids, size_t n_acc, uint32_t n, uint32_t cap, uint8_t *out);

#endif
