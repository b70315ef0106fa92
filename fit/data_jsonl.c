/* data_jsonl.c: points from the trainer's JSON Lines run logs. A file is one
 * run: a header object, then one {"type":"eval",...} object per evaluation.
 * Roles read these keys of an eval object unless --columns says otherwise:
 * N=n_act, D=tokens, E=experts, L=val_loss (G and W: absent means 1). By
 * default a run contributes its last evaluation; all_evals takes them all. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "dataset.h"
#include "json_io.h"

#define NR 7 /* roles, in L720_ROLES order: N D C E G L W */

typedef struct {
    l720_dataset *d;
    const l720_data_spec *s;
    const char *path;
    const char *key[NR]; /* eval-object key of each role, NULL: not read */
    double scale[NR];
    l720_point last;
    long evals;
} jl_ctx;

static int key_map(jl_ctx *c, char *buf, l720_err *err)
{
    static const char *const def[NR] = {"n_act", "tokens", NULL, "experts", NULL, "val_loss", NULL};
    for (int k = 0; k < NR; k++)
        c->key[k] = def[k];
    if (!c->s->columns)
        return 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        const char *r = eq && eq == t + 1 ? strchr(L720_ROLES, t[0]) : NULL;
        if (!r || !eq[1])
            return l720_err_set(err, L720_EINPUT,
                                "--columns '%s': expected ROLE=KEY with a role of %s", c->s->columns,
                                L720_ROLES);
        c->key[r - L720_ROLES] = eq + 1;
        if (*r == 'C' && !strstr(c->s->columns, "D=")) /* C given without D: D = C/(6N) */
            c->key[1] = NULL;
    }
    return 0;
}

static int on_line(const cJSON *obj, long line, void *vctx, l720_err *err)
{
    jl_ctx *c = vctx;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "eval"))
        return 0; /* header and other records */
    double v[NR] = {1, 1, 1, 1, 1, 1, 1};
    for (int k = 0; k < NR; k++) {
        if (!c->key[k])
            continue;
        if (k == 2 && c->key[1]) /* C only when D is not read */
            continue;
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, c->key[k]);
        if (!cJSON_IsNumber(it)) {
            if (k == 5 && cJSON_IsNull(it)) { /* a NaN loss is written as null */
                v[k] = NAN;
                continue;
            }
            return l720_err_at(err, L720_EINPUT, c->path, line, c->key[k],
                               it ? "expected a number" : "missing");
        }
        v[k] = it->valuedouble * c->scale[k];
        int rc = l720_data_check(v[k], L720_ROLES[k], c->path, line, c->key[k], err);
        if (rc)
            return rc;
    }
    if (isnan(v[5])) {
        if (!c->s->skip_nan)
            return l720_err_at(err, L720_EINPUT, c->path, line, c->key[5],
                               "loss is NaN (use --skip-nan to skip such evaluations)");
        c->d->skipped_nan++;
        return 0;
    }
    double D = c->key[1] ? v[1] : v[2] / (6 * v[0]);
    l720_point p = l720_point_make(v[0], D, v[3], v[4], v[5]);
    p.w = v[6];
    p.run = c->d->nruns; /* a file is one run */
    c->evals++;
    if (c->s->all_evals)
        return l720_dataset_push(c->d, p, err);
    c->last = p;
    return 0;
}

int l720_data_read_jsonl(l720_dataset *d, const char *path, const l720_data_spec *s,
                         l720_err *err)
{
    if (s->where && *s->where)
        return l720_err_set(err, L720_EINPUT, "--where filters CSV rows; %s is a run log", path);
    jl_ctx c = {.d = d, .s = s, .path = path};
    char *buf = strdup(s->columns ? s->columns : "");
    if (!buf)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int rc = key_map(&c, buf, err);
    if (!rc)
        rc = l720_data_scales(s->scale, c.scale, err);
    if (!rc)
        rc = l720_jsonl_each(path, on_line, &c, err);
    if (!rc && c.evals == 0 && !c.s->skip_nan)
        rc = l720_err_set(err, L720_EINPUT, "%s: no evaluations in this run log", path);
    if (!rc && c.evals > 0 && !s->all_evals)
        rc = l720_dataset_push(d, c.last, err);
    if (!rc && c.evals > 0)
        d->nruns++;
    free(buf);
    return rc;
}
