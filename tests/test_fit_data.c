/* test_fit_data.c: inputs of the fitter: CSV with a column mapping, C -> D,
 * row filters, --drop-highest, NaN handling, the trainer's JSONL run logs
 * (last evaluation, every evaluation, a folder), the holdout split, and the
 * errors on bad input (naming file, line and field). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit/dataset.h"
#include "fit/multistart.h"
#include "fit/validate.h"
#include "tests/tap.h"

static char dir[] = "/tmp/test_fit_data.XXXXXX";

static const char *put(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static int load(const char *file, const char *columns, const char *where, long drop, int skip_nan,
                unsigned need, l720_dataset **d, l720_err *err)
{
    const char *files[] = {file};
    l720_data_spec s = {files, 1, columns, where, NULL, drop, skip_nan, 0, need};
    return l720_dataset_load(&s, d, err);
}

static const char *csv_text = "name,Model Size,Training FLOP,loss,k,seed,step\n"
                              "a,1e8,6e18,3.0,1,42,10\n"
                              "b,2e8,1.2e19,2.9,1,42,20\n"
                              "c,4e8,2.4e19,2.8,2,42,0\n"
                              "d,8e8,4.8e19,2.7,1,7,30\n"
                              "e,1.6e9,9.6e19,4.0,1,42,40\n";

static void test_csv(void)
{
    const char *f = put("runs.csv", csv_text);
    l720_dataset *d;
    l720_err err;
    const char *cols = "N=Model Size,C=Training FLOP,L=loss";
    ok(load(f, cols, NULL, 0, 0, L720_IN_N | L720_IN_D, &d, &err) == 0 && d->n == 5, "maps columns");
    ok_rel(exp(d->pts[0].lnD), 6e18 / (6 * 1e8), 1e-12, "D = C / (6 N) without a D column");
    ok_near(d->pts[0].E, 1, 0, "E defaults to 1");
    l720_dataset_free(d);
    ok(load(f, cols, "k=1,seed=42", 0, 0, 3, &d, &err) == 0 && d->n == 3 && d->filtered == 2,
       "--where k=1,seed=42 keeps 3 rows");
    l720_dataset_free(d);
    ok(load(f, cols, "k=1,seed=42,step>10;k=2", 0, 0, 3, &d, &err) == 0 && d->n == 3,
       "--where with '>' and an ';' alternative");
    l720_dataset_free(d);
    ok(load(f, cols, "step!=0,name!=d", 0, 0, 3, &d, &err) == 0 && d->n == 3, "--where with != on numbers and text");
    l720_dataset_free(d);
    ok(load(f, cols, NULL, 1, 0, 3, &d, &err) == 0 && d->n == 4 && d->dropped == 1, "--drop-highest 1");
    int has4 = 0;
    for (size_t i = 0; i < d->n; i++)
        has4 |= fabs(exp(d->pts[i].lnL) - 4.0) < 1e-12;
    ok(!has4, "the highest loss (4.0) is the one dropped");
    l720_dataset_free(d);
    /* identity mapping: columns named like the roles need no --columns */
    f = put("roles.csv", "N,D,E,L,W\n1e8,1e9,8,3.1,2\n2e8,2e9,1,3.0,1\n");
    ok(load(f, NULL, NULL, 0, 0, 7, &d, &err) == 0 && d->n == 2 && d->pts[0].E == 8 && d->pts[0].w == 2,
       "columns named N, D, E, L, W map themselves");
    l720_dataset_free(d);
}

static void bad(const char *what, const char *file, const char *columns, const char *where,
                unsigned need, const char *want1, const char *want2)
{
    l720_dataset *d = NULL;
    l720_err err;
    l720_err_clear(&err);
    int rc = load(file, columns, where, 0, 0, need, &d, &err);
    ok(rc == L720_EINPUT && !d && strstr(err.msg, want1) && (!want2 || strstr(err.msg, want2)) &&
           !strchr(err.msg, '\n'),
       "%s: one-line error (%s)", what, err.msg);
}

static void test_bad_csv(void)
{
    const char *f = put("runs.csv", csv_text);
    const char *cols = "N=Model Size,C=Training FLOP,L=loss";
    bad("unknown column in --columns", f, "N=Params,C=Training FLOP,L=loss", NULL, 3, "Params", NULL);
    bad("unknown role in --columns", f, "Q=loss", NULL, 3, "Q", NULL);
    bad("missing loss column", put("noloss.csv", "N,D\n1,2\n"), NULL, NULL, 3, "no column for L", NULL);
    bad("missing experts for an MoE law", f, cols, NULL, 7, "no column for E", NULL);
    bad("unknown --where column", f, cols, "flavour=1", 3, "flavour", NULL);
    const char *nn = put("nonnum.csv", "N,D,L\n1e8,1e9,3\n1e8,abc,3\n");
    bad("non-numeric value", nn, NULL, NULL, 3, "nonnum.csv:3", "'D'");
    const char *np = put("nonpos.csv", "N,D,L\n1e8,1e9,3\n-1e8,1e9,3\n");
    bad("non-positive value", np, NULL, NULL, 3, "nonpos.csv:3", "positive");
    const char *e0 = put("e0.csv", "N,D,E,L\n1e8,1e9,0.5,3\n");
    bad("expert count below 1", e0, NULL, NULL, 7, "e0.csv:2", ">= 1");
    const char *nan = put("nan.csv", "N,D,L\n1e8,1e9,3\n2e8,1e9,nan\n3e8,1e9,2.9\n");
    bad("NaN loss", nan, NULL, NULL, 3, "nan.csv:3", "--skip-nan");
    l720_dataset *d;
    l720_err err;
    ok(load(nan, NULL, NULL, 0, 1, 3, &d, &err) == 0 && d->n == 2 && d->skipped_nan == 1,
       "--skip-nan skips and counts the NaN loss");
    l720_dataset_free(d);
    bad("missing file", "/nonexistent/runs.csv", NULL, NULL, 3, "/nonexistent/runs.csv", NULL);
}

static const char *header = "{\"type\":\"header\",\"config\":{\"d_model\":64},\"n_act\":1e6,"
                            "\"n_total\":4e6,\"experts\":4,\"expert_size\":100}\n";

static void run_log(const char *name, double n_act, double experts, const double *loss, int n)
{
    char buf[4096];
    size_t off = (size_t)snprintf(buf, sizeof buf, "%s", header);
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off,
                                "{\"type\":\"eval\",\"step\":%d,\"tokens\":%g,\"train_loss\":%g,"
                                "\"val_loss\":%g,\"n_act\":%g,\"n_total\":%g,\"experts\":%g,"
                                "\"expert_size\":100,\"flops\":1e12,\"tokens_per_second\":1000,"
                                "\"wall_seconds\":%d}\n",
                                (i + 1) * 100, (i + 1) * 1e6, loss[i] + 0.1, loss[i], n_act,
                                4 * n_act, experts, i + 1);
    put(name, buf);
}

static void test_jsonl(void)
{
    char sub[600];
    snprintf(sub, sizeof sub, "%s/logs", dir);
    mkdir(sub, 0700);
    double l1[] = {5.0, 4.0, 3.5}, l2[] = {4.5, 3.2};
    run_log("logs/run1.jsonl", 1e6, 1, l1, 3);
    run_log("logs/run2.jsonl", 2e6, 8, l2, 2);
    const char *files[] = {sub};
    l720_data_spec s = {files, 1, NULL, NULL, NULL, 0, 0, 0, 7};
    l720_dataset *d;
    l720_err err;
    ok(l720_dataset_load(&s, &d, &err) == 0 && d->n == 2, "a folder of run logs: one point per run");
    ok(d->n == 2 && fabs(exp(d->pts[0].lnL) - 3.5) < 1e-12 && fabs(exp(d->pts[0].lnD) - 3e6) < 1e-6,
       "a run contributes its last evaluation (val_loss, tokens)");
    ok(d->n == 2 && d->pts[1].E == 8 && fabs(exp(d->pts[1].lnN) - 2e6) < 1e-6, "N = n_act, E = experts");
    l720_dataset_free(d);
    s.all_evals = 1;
    ok(l720_dataset_load(&s, &d, &err) == 0 && d->n == 5, "--all-evals: every evaluation");
    l720_dataset_free(d);
    s.all_evals = 0;
    s.columns = "L=train_loss";
    ok(l720_dataset_load(&s, &d, &err) == 0 && fabs(exp(d->pts[0].lnL) - 3.6) < 1e-12,
       "--columns remaps a role to another key (L=train_loss)");
    l720_dataset_free(d);
    s.columns = NULL;
    const char *bad_log = put("bad.jsonl", "{\"type\":\"header\"}\n{\"type\":\"eval\",\"tokens\":1e6,"
                                           "\"val_loss\":3,\"n_act\":-5,\"experts\":1}\n");
    const char *f1[] = {bad_log};
    s.files = f1;
    ok(l720_dataset_load(&s, &d, &err) == L720_EINPUT && strstr(err.msg, "bad.jsonl:2") &&
           strstr(err.msg, "n_act"),
       "a bad value in a run log names file, line and key (%s)", err.msg);
    const char *nan_log = put("nan.jsonl", "{\"type\":\"eval\",\"tokens\":1e6,\"val_loss\":null,"
                                           "\"n_act\":5,\"experts\":1}\n{\"type\":\"eval\",\"tokens\":2e6,"
                                           "\"val_loss\":3,\"n_act\":5,\"experts\":1}\n");
    const char *f2[] = {nan_log};
    s.files = f2;
    s.all_evals = 1;
    ok(l720_dataset_load(&s, &d, &err) == L720_EINPUT && strstr(err.msg, "nan.jsonl:1"),
       "a null (NaN) loss is an error without --skip-nan");
    s.skip_nan = 1;
    ok(l720_dataset_load(&s, &d, &err) == 0 && d->n == 1 && d->skipped_nan == 1,
       "with --skip-nan it is skipped and counted");
    l720_dataset_free(d);
}

static void test_holdout(void)
{
    l720_point p[10];
    for (int i = 0; i < 10; i++)
        p[i] = l720_point_make(1e8, 1e9, 1, 1, 3.0 - 0.1 * ((i * 7) % 10));
    size_t *tr, *he, nt, nh;
    l720_err err;
    ok(l720_holdout_split(p, 10, 3, &tr, &nt, &he, &nh, &err) == 0 && nt == 7 && nh == 3, "holdout 3");
    double maxheld = 0, mintrain = 1e9;
    for (size_t i = 0; i < nh; i++)
        maxheld = fmax(maxheld, p[he[i]].lnL);
    for (size_t i = 0; i < nt; i++)
        mintrain = fmin(mintrain, p[tr[i]].lnL);
    ok(maxheld < mintrain, "the held-out points are the lowest losses");
    free(tr);
    free(he);
    ok(l720_holdout_split(p, 10, 0.2, &tr, &nt, &he, &nh, &err) == 0 && nh == 2, "holdout fraction 0.2 of 10");
    free(tr);
    free(he);
    ok(l720_holdout_split(p, 10, 10, &tr, &nt, &he, &nh, &err) == L720_EINPUT, "holdout of everything: error");
    ok(l720_holdout_split(p, 10, 2.5, &tr, &nt, &he, &nh, &err) == L720_EINPUT, "holdout 2.5: error");
}

/* With a run id (role R), the holdout takes whole runs and the bootstrap
 * resamples runs. */
static void test_runs(void)
{
    /* 4 runs (a..d) of 3 checkpoints; run c reaches the lowest loss */
    const char *f = put("ckpt.csv", "run,N,D,L\n"
                                    "a,1e8,1e9,3.3\na,1e8,2e9,3.2\na,1e8,4e9,3.1\n"
                                    "b,2e8,1e9,3.2\nb,2e8,2e9,3.1\nb,2e8,4e9,3.0\n"
                                    "c,4e8,1e9,3.0\nc,4e8,2e9,2.8\nc,4e8,4e9,2.6\n"
                                    "d,8e8,1e9,3.1\nd,8e8,2e9,2.9\nd,8e8,4e9,2.7\n");
    l720_dataset *d;
    l720_err err;
    ok(load(f, "R=run", NULL, 0, 0, 3, &d, &err) == 0 && d->n == 12 && d->nruns == 4,
       "--columns R=run groups 12 checkpoints into 4 runs");
    size_t *tr, *he, nt, nh;
    ok(l720_holdout_split(d->pts, d->n, 1, &tr, &nt, &he, &nh, &err) == 0 && nh == 3 && nt == 9,
       "holdout 1 with run ids holds out one whole run (3 points)");
    int all_c = nh == 3;
    for (size_t i = 0; i < nh; i++)
        all_c &= d->pts[he[i]].run == d->pts[6].run;
    ok(all_c, "the held-out run is the one with the lowest loss (c)");
    free(tr);
    free(he);
    /* bootstrap over runs: 10 runs of 6 checkpoints from a Chinchilla law,
     * with a run-level offset (what makes checkpoints of a run correlated) */
    char text[8192];
    size_t off = (size_t)snprintf(text, sizeof text, "run,N,D,L\n");
    for (int r = 0; r < 10; r++)
        for (int c = 0; c < 6; c++) {
            double N = 1e7 * pow(2, r), D = 1e9 * pow(2, c);
            double L = (1.8 + 400 / pow(N, 0.34) + 400 / pow(D, 0.28)) * (1 + 0.01 * ((r * 7) % 5 - 2) / 2);
            off += (size_t)snprintf(text + off, sizeof text - off, "r%d,%g,%g,%.6f\n", r, N, D, L);
        }
    l720_dataset *d2;
    ok(load(put("boot.csv", text), "R=run", NULL, 0, 0, 3, &d2, &err) == 0 && d2->nruns == 10, "60 checkpoints of 10 runs");
    l720_objective o = l720_objective_make(&l720_law_chinchilla, d2->pts, d2->n, L720_LOSS_HUBER, 1e-3);
    double th[5] = {0.5, 6, 6, 0.34, 0.28}, fx;
    l720_lbfgs(&o, th, 1, &fx, NULL);
    l720_boot_result b1, b2;
    ok(l720_bootstrap(&o, th, 40, 5, &b1, &err) == 0 && l720_bootstrap(&o, th, 40, 5, &b2, &err) == 0 &&
           !memcmp(b1.lo, b2.lo, sizeof b1.lo) && !memcmp(b1.hi, b2.hi, sizeof b1.hi),
       "bootstrap over runs: the same seed gives the same intervals");
    ok(b1.ok >= 30 && b1.lo[3] < th[3] && th[3] < b1.hi[3],
       "bootstrap over runs: alpha %.4g inside [%.4g, %.4g] (%zu of 40 converged)", th[3], b1.lo[3],
       b1.hi[3], b1.ok);
    l720_dataset_free(d2);
    l720_dataset_free(d);
    ok(load(f, NULL, NULL, 0, 0, 3, &d, &err) == 0 && d->nruns == 0 &&
           l720_holdout_split(d->pts, d->n, 1, &tr, &nt, &he, &nh, &err) == 0 && nh == 1,
       "without run ids the holdout takes points");
    free(tr);
    free(he);
    l720_dataset_free(d);
    /* run logs: each file is a run */
    double l1[] = {5.0, 4.0, 3.5}, l2[] = {4.5, 3.2};
    run_log("r1.jsonl", 1e6, 1, l1, 3);
    run_log("r2.jsonl", 2e6, 1, l2, 2);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/r1.jsonl", dir);
    snprintf(b, sizeof b, "%s/r2.jsonl", dir);
    const char *files[] = {a, b};
    l720_data_spec s = {files, 2, NULL, NULL, NULL, 0, 0, 1, 3};
    ok(l720_dataset_load(&s, &d, &err) == 0 && d->n == 5 && d->nruns == 2 && d->pts[0].run == 0 &&
           d->pts[4].run == 1,
       "--all-evals: the evaluations of a run log share its run id");
    ok(l720_holdout_split(d->pts, d->n, 1, &tr, &nt, &he, &nh, &err) == 0 && nh == 2,
       "holdout 1 of two run logs holds out the run with the lowest loss (2 evaluations)");
    free(tr);
    free(he);
    l720_dataset_free(d);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        tap_skip_all("no temporary folder");
        return 0;
    }
    test_csv();
    test_bad_csv();
    test_jsonl();
    test_holdout();
    test_runs();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
