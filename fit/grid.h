/* grid.h: the multi-start grid, a product of one list of values per fit
 * parameter. Start k is the mixed-radix number k with the last parameter
 * varying fastest, so start indices are stable and results reproducible. */
#ifndef L720_GRID_H
#define L720_GRID_H

#include <stddef.h>

#include "err.h"
#include "law.h"

typedef struct l720_grid {
    size_t np;
    size_t n[L720_LAW_MAXP];  /* values per parameter */
    double *v[L720_LAW_MAXP]; /* owned: [n[i]] values of theta[i] */
    size_t total;             /* product of n */
} l720_grid;

/* The law's default grid. */
l720_grid *l720_grid_new(const l720_law *law, l720_err *err);
void l720_grid_free(l720_grid *g);

/* Overrides parameters from a spec "NAME=LO:HI:STEP,NAME=V1/V2/V3,NAME=V"
 * (fit parameter names, e.g. a, b, e, alpha, beta for chinchilla). */
int l720_grid_apply(l720_grid *g, const l720_law *law, const char *spec, l720_err *err);

/* theta of start k < total. */
void l720_grid_point(const l720_grid *g, size_t k, double *theta);

#endif
