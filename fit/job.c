/* job.c: see job.h. */
#include "job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_io.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void l720_fit_job_init(l720_fit_job *j)
{
    memset(j, 0, sizeof *j);
    j->loss = "huber";
    j->delta = 1e-3;
    j->rmse_train = j->rmse_holdout = NAN;
}

void l720_fit_job_clear(l720_fit_job *j)
{
    l720_dataset_free(j->set);
    free(j->train);
    free(j->held);
    free(j->groups);
    j->groups = NULL;
    j->set = NULL;
    j->train = j->held = NULL;
}

static int check_options(const l720_fit_job *j, l720_err *err)
{
    if (!(j->delta > 0))
        return l720_err_set(err, L720_EINPUT, "--delta: expected a positive threshold, got %g", j->delta);
    if (j->bootstrap < 0 || j->bootstrap > 1000000)
        return l720_err_set(err, L720_EINPUT, "--bootstrap: expected 0..1000000 resamples, got %ld",
                            j->bootstrap);
    if (j->per_expert && j->bootstrap)
        return l720_err_set(err, L720_EINPUT, "--per-expert and --bootstrap do not go together");
    if (j->seed < 0)
        return l720_err_set(err, L720_EINPUT, "--seed: expected a seed >= 0, got %ld", j->seed);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Indices of idx[0..n) whose point has expert count E, into out; returns the count. */
static size_t select_e(const l720_point *pts, const size_t *idx, size_t n, double E, size_t *out)
{
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (pts[idx[k]].E == E)
            out[m++] = idx[k];
    return m;
}

static double sum_sq(const l720_law *law, const double *theta, const l720_point *pts,
                     const size_t *idx, size_t n)
{
    double r = l720_rmse(law, theta, pts, idx, n);
    return n ? r * r * (double)n : 0;
}

/* --per-expert: the same law fitted separately for each expert count; RMSEs
 * pooled over every group's points. */
static int run_groups(l720_fit_job *j, const l720_objective *o, const l720_grid *g, l720_err *err)
{
    size_t n = j->set->n;
    double *es = malloc(n * sizeof *es);
    size_t *it = malloc(n * sizeof *it), *ih = malloc(n * sizeof *ih);
    j->groups = calloc(n, sizeof *j->groups);
    int rc = 0;
    if (!es || !it || !ih || !j->groups) {
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        es[i] = j->set->pts[i].E;
    qsort(es, n, sizeof *es, cmp_double);
    double sst = 0, ssh = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (i && es[i] == es[i - 1])
            continue;
        struct l720_fit_group *gr = &j->groups[j->ngroups++];
        gr->E = es[i];
        gr->ntrain = select_e(j->set->pts, j->train, j->ntrain, es[i], it);
        gr->nheld = select_e(j->set->pts, j->held, j->nheld, es[i], ih);
        if (gr->ntrain < j->law->np) {
            rc = l720_err_set(err, L720_EINPUT,
                              "--per-expert: %zu points with E = %g but law %s has %zu parameters",
                              gr->ntrain, es[i], j->law->name, j->law->np);
            break;
        }
        l720_objective og = *o;
        og.idx = it;
        og.n = gr->ntrain;
        if ((rc = l720_fit_multistart(&og, g, &gr->fit, err)))
            break;
        sst += sum_sq(j->law, gr->fit.theta, j->set->pts, it, gr->ntrain);
        ssh += sum_sq(j->law, gr->fit.theta, j->set->pts, ih, gr->nheld);
        j->fit.objective += gr->fit.objective;
        j->fit.starts += gr->fit.starts;
        j->fit.converged += gr->fit.converged;
        j->fit.evals += gr->fit.evals;
    }
    j->rmse_train = sqrt(sst / (double)j->ntrain);
    j->rmse_holdout = j->nheld ? sqrt(ssh / (double)j->nheld) : NAN;
out:
    free(es);
    free(it);
    free(ih);
    return rc;
}

int l720_fit_job_run(l720_fit_job *j, l720_err *err)
{
    double t0 = now();
    l720_loss_kind kind;
    int rc;
    if (!(j->law = l720_law_find(j->law_name, err)))
        return L720_EINPUT;
    if ((rc = l720_loss_parse(j->loss, &kind, err)) || (rc = check_options(j, err)))
        return rc;
    l720_grid *g = l720_grid_new(j->law, err);
    if (!g)
        return err->code;
    if ((rc = l720_grid_apply(g, j->law, j->grid, err)))
        goto done;
    l720_data_spec s = {j->data,     (size_t)j->ndata, j->columns,   j->where,     j->scale,
                        j->drop_highest, j->skip_nan,  j->all_evals, j->law->inputs};
    if ((rc = l720_dataset_load(&s, &j->set, err)))
        goto done;
    if ((rc = l720_holdout_split(j->set->pts, j->set->n, j->holdout, &j->train, &j->ntrain,
                                 &j->held, &j->nheld, err)))
        goto done;
    if (j->ntrain < j->law->np) {
        rc = l720_err_set(err, L720_EINPUT, "%zu points to fit but law %s has %zu parameters",
                          j->ntrain, j->law->name, j->law->np);
        goto done;
    }
    l720_objective o = l720_objective_make(j->law, j->set->pts, j->set->n, kind, j->delta);
    o.idx = j->train;
    o.n = j->ntrain;
    if (j->per_expert) {
        rc = run_groups(j, &o, g, err);
        goto done;
    }
    if (j->given) { /* evaluate a law file's coefficients on the data */
        memcpy(j->fit.params, j->given, j->law->np * sizeof *j->given);
        l720_law_from_params(j->law, j->given, j->fit.theta);
        j->fit.objective = l720_objective_eval(&o, j->fit.theta, NULL);
        j->rmse_train = l720_rmse(j->law, j->fit.theta, j->set->pts, j->train, j->ntrain);
        j->rmse_holdout =
            j->nheld ? l720_rmse(j->law, j->fit.theta, j->set->pts, j->held, j->nheld) : NAN;
        goto done;
    }
    if ((rc = l720_fit_multistart(&o, g, &j->fit, err)))
        goto done;
    if ((rc = l720_bootstrap(&o, j->fit.theta, (size_t)j->bootstrap, (uint64_t)j->seed, &j->boot,
                             err)))
        goto done;
    j->rmse_train = l720_rmse(j->law, j->fit.theta, j->set->pts, j->train, j->ntrain);
    j->rmse_holdout = j->nheld ? l720_rmse(j->law, j->fit.theta, j->set->pts, j->held, j->nheld) : NAN;
done:
    l720_grid_free(g);
    j->seconds = now() - t0;
    return rc;
}

static cJSON *named(const l720_law *law, const double *v)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < law->np; i++)
        cJSON_AddNumberToObject(o, law->param_names[i], v[i]);
    return o;
}

cJSON *l720_fit_job_json(const l720_fit_job *j)
{
    const l720_law *law = j->law;
    const l720_fit_result *f = &j->fit;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "law", law->name);
    cJSON_AddStringToObject(r, "form", law->form);
    if (j->per_expert) {
        cJSON *gs = cJSON_AddArrayToObject(r, "per_expert");
        for (size_t i = 0; i < j->ngroups; i++) {
            const struct l720_fit_group *gr = &j->groups[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "E", gr->E);
            cJSON_AddNumberToObject(o, "n_points", (double)gr->ntrain);
            cJSON_AddNumberToObject(o, "n_holdout", (double)gr->nheld);
            cJSON_AddItemToObject(o, "params", named(law, gr->fit.params));
            cJSON_AddNumberToObject(o, "objective", gr->fit.objective);
            cJSON_AddItemToArray(gs, o);
        }
    } else {
        cJSON_AddItemToObject(r, "params", named(law, f->params));
    }
    if (!j->per_expert) {
        cJSON *th = cJSON_CreateObject();
        for (size_t i = 0; i < law->np; i++)
            cJSON_AddNumberToObject(th, law->fit_names[i], f->theta[i]);
        cJSON_AddItemToObject(r, "fit_params", th);
        cJSON_AddBoolToObject(r, "in_range", l720_law_in_range(law, f->params));
    }
    cJSON_AddNumberToObject(r, "objective", f->objective);
    cJSON_AddStringToObject(r, "loss", j->loss);
    cJSON_AddNumberToObject(r, "delta", j->delta);
    cJSON_AddNumberToObject(r, "n_points", (double)j->ntrain);
    cJSON_AddNumberToObject(r, "n_holdout", (double)j->nheld);
    cJSON_AddNumberToObject(r, "skipped_nan", (double)j->set->skipped_nan);
    cJSON_AddNumberToObject(r, "filtered", (double)j->set->filtered);
    cJSON_AddNumberToObject(r, "dropped", (double)j->set->dropped);
    cJSON_AddNumberToObject(r, "starts", (double)f->starts);
    cJSON_AddNumberToObject(r, "converged", (double)f->converged);
    if (!j->per_expert) {
        cJSON_AddNumberToObject(r, "best_start", (double)f->best_start);
        if (!j->given) {
            cJSON *sp = cJSON_AddObjectToObject(r, "best_start_point");
            for (size_t i = 0; i < law->np; i++)
                cJSON_AddNumberToObject(sp, law->fit_names[i], f->start_theta[i]);
        }
        cJSON_AddNumberToObject(r, "at_best", (double)f->at_best);
        cJSON *top = cJSON_AddObjectToObject(r, "best_few");
        cJSON_AddNumberToObject(top, "count", (double)f->top);
        cJSON_AddNumberToObject(top, "objective_rel_spread", f->top_objective_spread);
        cJSON_AddNumberToObject(top, "param_rel_spread", f->top_param_spread);
    }
    cJSON_AddNumberToObject(r, "evaluations", (double)f->evals);
    if (j->boot.B) {
        cJSON *ci = cJSON_AddObjectToObject(r, "ci95");
        for (size_t i = 0; i < law->np; i++) {
            double lh[2] = {j->boot.lo[i], j->boot.hi[i]};
            cJSON_AddItemToObject(ci, law->param_names[i], l720_json_array(lh, 2));
        }
        cJSON *b = cJSON_AddObjectToObject(r, "bootstrap");
        cJSON_AddNumberToObject(b, "resamples", (double)j->boot.B);
        cJSON_AddNumberToObject(b, "converged", (double)j->boot.ok);
        cJSON_AddNumberToObject(b, "seed", (double)j->seed);
    }
    l720_json_add_finite(r, "rmse_train", j->rmse_train);
    l720_json_add_finite(r, "rmse_holdout", j->rmse_holdout);
    cJSON_AddNumberToObject(r, "seconds", j->seconds);
    return r;
}

cJSON *l720_lawfile_json(const l720_law *law, const double *params, const char *source)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "law", law->name);
    cJSON_AddStringToObject(o, "form", law->form);
    cJSON_AddStringToObject(o, "source", source);
    cJSON_AddItemToObject(o, "params", named(law, params));
    return o;
}

int l720_lawfile_read(const char *path, const l720_law **law, double *params, l720_err *err)
{
    cJSON *o = l720_json_read(path, err);
    if (!o)
        return err ? err->code : L720_EINPUT;
    const char *name;
    int rc = l720_json_string(o, "law", path, &name, err);
    if (!rc && !(*law = l720_law_find(name, err))) {
        l720_err_prefix(err, "%s", path);
        rc = L720_EINPUT;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "params");
    if (!rc && !cJSON_IsObject(p))
        rc = l720_err_set(err, L720_EINPUT, "%s: field 'params': expected an object", path);
    for (size_t i = 0; !rc && i < (*law)->np; i++) {
        char where[512];
        snprintf(where, sizeof where, "%s: params", path);
        rc = l720_json_number(p, (*law)->param_names[i], where, &params[i], err);
    }
    cJSON_Delete(o);
    return rc;
}
