/* sweep.h: runs of one configuration over a list of values and policies.
 *
 *   cache:F1,F2,...       cache bytes = F x the expert table
 *   cache-bytes:C1,C2,... cache bytes given
 *   experts:N1,N2,...     N experts of S = (N0 S0) / N bytes: the same total
 *                         expert bytes, split finer (keep_active: top-k scaled
 *                         so that h k S stays fixed, within [1, N])
 *
 * Every value runs once per policy; each run is one row (a flat JSON object,
 * also written as CSV).
 */
#ifndef L720_SWEEP_H
#define L720_SWEEP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "sim.h"

#define L720_SWEEP_MAX 256

typedef enum { L720_SWEEP_CACHE, L720_SWEEP_CACHE_BYTES, L720_SWEEP_EXPERTS } l720_sweep_kind;

typedef struct l720_sim_sweep {
    l720_sweep_kind kind;
    double values[L720_SWEEP_MAX];
    size_t n;
    int keep_active;
    l720_policy policies[L720_POLICY_COUNT];
    size_t n_policies;
} l720_sim_sweep;

/* Parses "KIND:V1,V2,..." into sw (policies untouched). */
int l720_sim_sweep_parse(const char *spec, l720_sim_sweep *sw, l720_err *err);

/* Parses "lru,lfu,..." into sw->policies. */
int l720_sim_policies_parse(const char *list, l720_sim_sweep *sw, l720_err *err);

/* Called after each run (done of total) when not NULL. */
typedef void (*l720_sweep_progress)(size_t done, size_t total, void *ctx);

/* Runs the sweep: {"sweep": KIND, "rows": [...]} or NULL and err. */
cJSON *l720_sim_sweep_run(const l720_sim_config *base, const l720_sim_sweep *sw,
                          l720_sweep_progress progress, void *ctx, l720_err *err);

/* The row of one run (also used by the sweep). */
cJSON *l720_sim_row_json(const l720_sim_config *cfg, const l720_sim_result *r);

/* Writes the rows of a sweep as CSV, atomically. */
int l720_sim_sweep_csv(const cJSON *sweep, const char *path, l720_err *err);

#endif
