/* plan_table.h: the Table-2 style grid (best E per FLOP budget and memory),
 * and the lists the planner's commands take. */
#ifndef L720_PLAN_TABLE_H
#define L720_PLAN_TABLE_H

#include <stddef.h>

#include "err.h"
#include "plan_law.h"
#include "plan_opt.h"

/* Expert counts from text: comma-separated items, each a number (>= 1), a
 * range "A-B" (every integer from A to B) or "pow2:B" (1, 2, 4, ... up to B).
 * NULL or "" gives 1, 2, 4, ..., 1024. *out is owned by the caller (free). */
int l720_plan_parse_experts(const char *text, double **out, size_t *n, l720_err *err);

/* Positive numbers from comma-separated text ("1e18,1e19"), or "A:B" for the
 * powers of ten from A to B. what names the list in messages. */
int l720_plan_parse_numbers(const char *text, const char *what, double **out, size_t *n,
                            l720_err *err);

/* For every budget flops[i] and memory limit memory[j]: the best of
 * experts[0..ne) under tmpl (its flops and memory_bytes replaced) into
 * out[i * nm + j]. */
int l720_plan_table(const l720_plan_law *law, const double *flops, size_t nf,
                    const double *memory, size_t nm, const double *experts, size_t ne,
                    const l720_plan_budget *tmpl, l720_plan_point *out, l720_err *err);

#endif
