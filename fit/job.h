/* job.h: one fit from options to results, shared by `llm720 fit` and
 * `llm720 plot fit` (and through them the Lua host): read the data, split
 * off the held-out points, fit from every start of the grid, bootstrap, and
 * measure the RMSE on both sides. */
#ifndef L720_JOB_H
#define L720_JOB_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "dataset.h"
#include "grid.h"
#include "multistart.h"
#include "validate.h"

#define L720_JOB_MAXFILES 256

typedef struct l720_fit_job {
    /* what to do (option values; strings are borrowed) */
    const char *law_name;
    const char *data[L720_JOB_MAXFILES]; /* --data and the files that follow it */
    int ndata;
    const char *columns, *where, *scale, *grid, *loss;
    long drop_highest, bootstrap, seed;
    double holdout, delta;
    int skip_nan, all_evals;
    int per_expert; /* one fit per expert count (no interaction terms) instead of one */
    const double *given; /* named parameters of law_name to evaluate instead of fitting */
    /* what came out (owned; l720_fit_job_clear frees) */
    const l720_law *law;
    l720_dataset *set;
    size_t *train, ntrain, *held, nheld; /* point indices */
    l720_fit_result fit;
    l720_boot_result boot;
    double rmse_train, rmse_holdout; /* loss units; NaN without held-out points */
    double seconds;                  /* wall time of the whole job */
    /* per_expert: one group per distinct E, each with its own fit */
    size_t ngroups;
    struct l720_fit_group {
        double E;
        size_t ntrain, nheld;
        l720_fit_result fit;
    } *groups; /* [ngroups] owned */
} l720_fit_job;

/* Defaults: Huber, delta 1e-3, seed 0, no bootstrap, no holdout. */
void l720_fit_job_init(l720_fit_job *j);
int l720_fit_job_run(l720_fit_job *j, l720_err *err);
void l720_fit_job_clear(l720_fit_job *j);

/* The result object (keys: law, params, objective, n_points, starts,
 * converged, ci95, rmse_train, rmse_holdout, seconds, ...). */
cJSON *l720_fit_job_json(const l720_fit_job *j);

/* A law file: {"law", "form", "source", "params": {name: value}}. */
cJSON *l720_lawfile_json(const l720_law *law, const double *params, const char *source);

/* Reads a law file: its law and named parameters (every one required). */
int l720_lawfile_read(const char *path, const l720_law **law, double *params, l720_err *err);

/* Option table entries for the job's data and fit options (opts.h). */
#define L720_FIT_JOB_OPTS(j)                                                                       \
    {"law", L720_OPT_STRING, &(j).law_name, "NAME",                                                \
     "chinchilla, clark, joint_moe or finegrained"},                                               \
    {"data", L720_OPT_STRING, &(j).data[0], "FILE",                                                \
     "CSV file, .jsonl run log or folder of them (more files may follow)"},                        \
    {"columns", L720_OPT_STRING, &(j).columns, "SPEC",                                             \
     "roles to columns, e.g. 'N=Model Size,C=Training FLOP,L=loss' (N D C E G L W R)"},              \
    {"where", L720_OPT_STRING, &(j).where, "SPEC",                                                 \
     "keep CSV rows: 'k=1,seed=42,step>0' (',' and; ';' or; = != < <= > >=)"},                     \
    {"scale", L720_OPT_STRING, &(j).scale, "SPEC", "multiply roles, e.g. 'D=524288' with D=step"},  \
    {"drop-highest", L720_OPT_INT, &(j).drop_highest, "K", "drop the K highest-loss points (0)"},  \
    {"skip-nan", L720_OPT_FLAG, &(j).skip_nan, NULL, "skip and count NaN losses instead of failing"}, \
    {"all-evals", L720_OPT_FLAG, &(j).all_evals, NULL,                                             \
     "run logs: every evaluation, not only each run's last"},                                      \
    {"loss", L720_OPT_STRING, &(j).loss, "KIND", "huber (default) or mse, on log residuals"},       \
    {"delta", L720_OPT_DOUBLE, &(j).delta, "X", "Huber threshold (1e-3)"},                         \
    {"grid", L720_OPT_STRING, &(j).grid, "SPEC",                                                   \
     "override start values: 'alpha=0:2:0.5,e=-1/0/1' (fit parameter names)"},                     \
    {"bootstrap", L720_OPT_INT, &(j).bootstrap, "B", "bootstrap resamples for 95% intervals (0)"}, \
    {"seed", L720_OPT_INT, &(j).seed, "S", "bootstrap seed (0)"},                                  \
    {"per-expert", L720_OPT_FLAG, &(j).per_expert, NULL,                                          \
     "fit the law separately for each expert count (no interaction terms)"},                       \
    {"holdout", L720_OPT_DOUBLE, &(j).holdout, "K",                                                \
     "hold out the K lowest-loss points (or a fraction < 1) and report their RMSE"}

#endif
