/* routing.h: which experts each token picks, one layer at a time.
 *
 * Generators: uniform; Zipf(s) over ranks with a random permutation of the
 * ids per layer; product keys (N = n^2, popularity of (i, j) = p1(i) p2(j),
 * each Zipf(s) over n, permuted per layer and side); replay of a trace. The
 * h heads of a token each pick k distinct experts. With reuse r > 0 a slot
 * takes the previous token's expert in that slot with probability r (the
 * previous token of the same sequence in decode mode, the previous token of
 * the stream otherwise). Draws are O(1) (alias tables), allocation-free.
 */
#ifndef L720_ROUTING_H
#define L720_ROUTING_H

#include <stdint.h>

#include "err.h"
#include "rng.h"
#include "sim.h"

typedef struct l720_router l720_router;

l720_router *l720_router_new(const l720_sim_config *cfg, l720_err *err);
void l720_router_free(l720_router *r);

/* Starts a layer: draws its permutations from rng (borrowed, kept for the
 * layer's draws) and forgets the previous tokens. */
void l720_router_layer(l720_router *r, long layer, l720_rng *rng);

/* Routes the B tokens of step `step` at the current layer: out is [B, h*k]. */
void l720_router_step(l720_router *r, long step, uint32_t *out);

/* Popularity of every id at the current layer (sums to 1): exact for the
 * generators, the counts over the replayed tokens for a trace. p is [N]. */
void l720_router_popularity(const l720_router *r, double *p);

/* 1 when every layer has the same popularity up to a permutation (the
 * generators), so analytic models need computing once. */
int l720_router_same_shape(const l720_router *r);

#endif
