/* cmd_fit.c: llm720 fit: fit a scaling law to run logs (fit/job.h does the work). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "fit/job.h"
#include "fileio.h"
#include "json_io.h"
#include "opts.h"

static void report(FILE *out, const l720_fit_job *j)
{
    const l720_law *law = j->law;
    const l720_fit_result *f = &j->fit;
    fprintf(out, "law %s: %s\n", law->name, law->form);
    fprintf(out, "points %zu (held out %zu, NaN skipped %zu, filtered %zu, dropped %zu)\n", j->ntrain,
            j->nheld, j->set->skipped_nan, j->set->filtered, j->set->dropped);
    for (size_t g = 0; g < j->ngroups; g++) {
        fprintf(out, "E = %g: %zu points, %zu held out, objective %.6g:", j->groups[g].E,
                j->groups[g].ntrain, j->groups[g].nheld, j->groups[g].fit.objective);
        for (size_t i = 0; i < law->np; i++)
            fprintf(out, " %s %.5g", law->param_names[i], j->groups[g].fit.params[i]);
        fprintf(out, "\n");
    }
    if (j->per_expert) {
        fprintf(out, "objective (sum over expert counts) %.9g; starts %zu, converged %zu\n",
                f->objective, f->starts, f->converged);
        goto rmse;
    }
    for (size_t i = 0; i < law->np; i++) {
        fprintf(out, "  %-8s %14.6g", law->param_names[i], f->params[i]);
        if (j->boot.B)
            fprintf(out, "   95%% [%.6g, %.6g]", j->boot.lo[i], j->boot.hi[i]);
        fprintf(out, "\n");
    }
    fprintf(out, "objective %.9g (%s, delta %g)\n", f->objective, j->loss, j->delta);
    if (!j->given) {
        fprintf(out, "best start %zu at", f->best_start);
        for (size_t i = 0; i < law->np; i++)
            fprintf(out, " %s=%g", law->fit_names[i], f->start_theta[i]);
        fprintf(out, "\n");
    }
    fprintf(out, "starts %zu, converged %zu, %zu ended at the best; "
                 "best %zu ends differ by %.2g in objective, %.2g in parameters (relative)\n",
            f->starts, f->converged, f->at_best, f->top, f->top_objective_spread,
            f->top_param_spread);
    if (j->boot.B)
        fprintf(out, "bootstrap %zu resamples (%zu converged), seed %ld\n", j->boot.B, j->boot.ok,
                j->seed);
rmse:
    fprintf(out, "rmse train %.6g", j->rmse_train);
    if (j->nheld)
        fprintf(out, ", held out %.6g", j->rmse_holdout);
    fprintf(out, "\nseconds %.3f\n", j->seconds);
}

static int write_law(const l720_fit_job *j, const char *path, l720_err *err)
{
    char source[1024];
    snprintf(source, sizeof source,
             "fitted by llm720 fit to %s%s (%zu points, %s objective %.9g)", j->data[0],
             j->ndata > 1 ? " and more" : "", j->ntrain, j->loss, j->fit.objective);
    cJSON *o = l720_lawfile_json(j->law, j->fit.params, source);
    if (j->boot.B) {
        cJSON *ci = cJSON_AddObjectToObject(o, "ci95");
        for (size_t i = 0; i < j->law->np; i++) {
            double lh[2] = {j->boot.lo[i], j->boot.hi[i]};
            cJSON_AddItemToObject(ci, j->law->param_names[i], l720_json_array(lh, 2));
        }
    }
    int rc = l720_json_write(path, o, err);
    cJSON_Delete(o);
    return rc;
}

int l720_cmd_fit(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    l720_fit_job j;
    l720_fit_job_init(&j);
    const char *out = NULL;
    const l720_opt opts[] = {
        L720_FIT_JOB_OPTS(j),
        {"out", L720_OPT_STRING, &out, "FILE.json", "write the fitted law as a law file"},
        {0},
    };
    int npos = 0;
    int rc = l720_opts_parse_or_usage(
        io->out, "fit", "--law NAME --data FILE [FILE...] [OPTIONS]",
        "Fits a scaling law: the sum of Huber losses on log residuals, L-BFGS from\n"
        "every start of a grid (on all cores), bootstrap intervals, held-out RMSE.",
        opts, 0, argc, argv, (char **)j.data + 1, L720_JOB_MAXFILES - 1, &npos, err);
    if (rc)
        return rc;
    if (!j.data[0] && npos > 0)
        return l720_err_set(err, L720_EINPUT, "fit: files given without --data");
    j.ndata = j.data[0] ? 1 + npos : 0;
    if (out && j.per_expert)
        return l720_err_set(err, L720_EINPUT, "--out writes one law; it does not go with --per-expert");
    rc = l720_fit_job_run(&j, err);
    if (!rc && out)
        rc = write_law(&j, out, err);
    if (!rc) {
        *result = l720_fit_job_json(&j);
        if (out)
            cJSON_AddStringToObject(*result, "out", out);
        if (!io->json)
            report(io->out, &j);
    }
    l720_fit_job_clear(&j);
    return rc;
}
