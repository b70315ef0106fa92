/* plan_report.c: see plan_report.h. */
#include "plan_report.h"

#include <math.h>
#include <stdio.h>

#include "plan_shape.h"

double l720_plan_point_lr(const l720_plan_point *p, double vocab)
{
    double nonemb = p->active_params - 2 * p->d_model * vocab;
    return l720_plan_lr(nonemb > 0 ? nonemb : l720_shape_active_nonembedding(p->d_model),
                        p->experts);
}

/* The fields of a point, in report order. */
#define POINT_FIELDS(X, p, vocab)                                                                  \
    X("experts", (p)->experts)                                                                     \
    X("active_params", (p)->active_params)                                                         \
    X("total_params", (p)->total_params)                                                           \
    X("tokens", (p)->tokens)                                                                       \
    X("loss", (p)->loss)                                                                           \
    X("d_model", (p)->d_round)                                                                     \
    X("flops", (p)->flops)                                                                         \
    X("memory_bytes", (p)->memory_bytes)                                                           \
    X("d_model_exact", (p)->d_model)                                                               \
    X("n_blocks", l720_shape_blocks((p)->d_round))                                                 \
    X("lr", l720_plan_point_lr((p), (vocab)))

cJSON *l720_plan_point_json(const l720_plan_point *p, double vocab)
{
    cJSON *o = cJSON_CreateObject();
#define ADD(key, val) cJSON_AddNumberToObject(o, key, val);
    POINT_FIELDS(ADD, p, vocab)
#undef ADD
    if (isfinite(p->memory_limit_active)) {
        cJSON_AddBoolToObject(o, "memory_bound", p->memory_bound);
        cJSON_AddBoolToObject(o, "fits", p->fits);
    }
    return o;
}

void l720_plan_points_add_arrays(cJSON *obj, const l720_plan_point *p, size_t n, double vocab)
{
#define ARR(key, val)                                                                              \
    {                                                                                              \
        cJSON *a = cJSON_AddArrayToObject(obj, key);                                               \
        for (size_t i = 0; i < n; i++) {                                                           \
            const l720_plan_point *q = &p[i];                                                      \
            (void)q;                                                                               \
            cJSON_AddItemToArray(a, cJSON_CreateNumber(val));                                      \
        }                                                                                          \
    }
    POINT_FIELDS(ARR, q, vocab)
#undef ARR
}

const char *l720_plan_human(char *buf, size_t n, double v)
{
    static const char *suffix[] = {"", "K", "M", "B", "T", "P", "E"};
    int k = 0;
    double a = fabs(v);
    while (a >= 999.5 && k < 6)
        a /= 1000, v /= 1000, k++;
    if (k == 0)
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.3g%s", v, suffix[k]);
    return buf;
}

const char *l720_plan_human_bytes(char *buf, size_t n, double bytes)
{
    static const char *unit[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    int k = 0;
    while (fabs(bytes) >= 999.5 && k < 6)
        bytes /= 1000, k++;
    snprintf(buf, n, "%.3g %s", bytes, unit[k]);
    return buf;
}
