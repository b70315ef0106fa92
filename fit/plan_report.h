/* plan_report.h: planned configurations as JSON and as short text.
 *
 * Every configuration is reported under the same keys: experts,
 * active_params, total_params, tokens, loss, d_model (the buildable width, a
 * multiple of 64), flops, memory_bytes; plus d_model_exact (the continuous
 * width), n_blocks, lr (the joint-MoE paper's rule at this size), and, where
 * a memory limit applies, memory_bound and fits. */
#ifndef L720_PLAN_REPORT_H
#define L720_PLAN_REPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "plan_opt.h"

/* One configuration as an object. vocab: for the LR rule's non-embedding N. */
cJSON *l720_plan_point_json(const l720_plan_point *p, double vocab);

/* n configurations as parallel arrays under the same keys, added to obj. */
void l720_plan_points_add_arrays(cJSON *obj, const l720_plan_point *p, size_t n, double vocab);

/* The LR rule at a point (non-embedding active parameters from its width). */
double l720_plan_point_lr(const l720_plan_point *p, double vocab);

/* A count in a short human form ("1.23B", "456M", "12.3T"); returns buf. */
const char *l720_plan_human(char *buf, size_t n, double v);

/* Bytes in a short human form ("24 GB", "1.31 TB"; powers of 1000); returns buf. */
const char *l720_plan_human_bytes(char *buf, size_t n, double bytes);

#endif
