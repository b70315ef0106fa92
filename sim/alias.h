/* alias.h: Walker/Vose alias tables: O(1) draws from a discrete distribution. */
#ifndef L720_ALIAS_H
#define L720_ALIAS_H

#include <stddef.h>
#include <stdint.h>

typedef struct l720_alias_entry {
    uint32_t keep;  /* keep this index when a 32-bit coin is below keep (else alias) */
    uint32_t alias;
} l720_alias_entry;

/* Builds the table for weights w[0..n) (non-negative, positive sum).
 * scratch: 2n uint32 and n doubles, owned by the caller. */
void l720_alias_build(const double *w, size_t n, l720_alias_entry *tab, uint32_t *scratch,
                      double *scaled);

#endif
