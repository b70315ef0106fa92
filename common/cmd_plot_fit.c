/* cmd_plot_fit.c: llm720 plot fit: predicted vs observed loss of a fitted law
 * (or of a law file's coefficients), coloured by expert count; PNG and SVG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fit/job.h"
#include "gnuplot.h"
#include "opts.h"

/* Appends one inline data block "$NAME << EOD ... EOD" of (observed,
 * predicted, E) rows for pts[idx[0..n)]. */
static size_t block(char *buf, size_t off, size_t cap, const char *name, const l720_fit_job *j,
                    const size_t *idx, size_t n)
{
    off += (size_t)snprintf(buf + off, cap - off, "$%s << EOD\n", name);
    for (size_t k = 0; k < n && off < cap; k++) {
        const l720_point *p = &j->set->pts[idx[k]];
        double pred = exp(j->law->log_pred(j->fit.theta, p, NULL));
        off += (size_t)snprintf(buf + off, cap - off, "%.9g %.9g %g\n", exp(p->lnL), pred, p->E);
    }
    off += (size_t)snprintf(buf + off, cap - off, "EOD\n");
    return off;
}

static int render(const l720_fit_job *j, const char *base, const char *title, l720_err *err)
{
    size_t cap = 4096 + 64 * (j->ntrain + j->nheld + 2);
    char *buf = malloc(cap);
    if (!buf)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    size_t off = block(buf, 0, cap, "train", j, j->train, j->ntrain);
    off = block(buf, off, cap, "held", j, j->held, j->nheld);
    double lo = INFINITY, hi = 0, emax = 1;
    for (size_t i = 0; i < j->set->n; i++) {
        double L = exp(j->set->pts[i].lnL);
        lo = fmin(lo, L);
        hi = fmax(hi, L);
        emax = fmax(emax, j->set->pts[i].E);
    }
    off += (size_t)snprintf(
        buf + off, cap - off,
        "set title '%s'\nset xlabel 'observed loss'\nset ylabel 'predicted loss'\n"
        "set cblabel 'experts E'\nset grid\nset key top left\n"
        "set xrange [%g:%g]\nset yrange [%g:%g]\n%s"
        "set palette rgbformulae 33,13,10\n"
        "plot $train using 1:2:3 with points pt 7 ps 0.6 palette title 'fitted (RMSE %.4g)', \\\n"
        "     %s x with lines dt 2 lc rgb 'black' title 'predicted = observed'\n",
        title, 0.98 * lo, 1.02 * hi, 0.98 * lo, 1.02 * hi,
        emax > 1 ? "set logscale cb 2\n" : "set cbrange [0.5:1.5]\nunset colorbox\n", j->rmse_train,
        j->nheld ? "$held using 1:2:3 with points pt 9 ps 1.2 palette title 'held out', \\\n    " : "");
    int rc = off >= cap ? l720_err_set(err, L720_EFAIL, "plot script too long")
                        : l720_gnuplot_render(buf, base, 900, 700, err);
    free(buf);
    return rc;
}

int l720_cmd_plot_fit(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    l720_fit_job j;
    l720_fit_job_init(&j);
    const char *out = "fit", *params = NULL, *title = NULL;
    const l720_opt opts[] = {
        L720_FIT_JOB_OPTS(j),
        {"params", L720_OPT_STRING, &params, "LAW.json",
         "plot a law file's coefficients instead of fitting (--law not needed)"},
        {"out", L720_OPT_STRING, &out, "BASE", "writes BASE.png and BASE.svg (fit)"},
        {"title", L720_OPT_STRING, &title, "TEXT", "plot title (the law's name)"},
        {0},
    };
    int npos = 0;
    int rc = l720_opts_parse_or_usage(
        io->out, "plot fit", "(--law NAME | --params LAW.json) --data FILE [OPTIONS]",
        "Plots predicted against observed loss, coloured by expert count, as PNG\n"
        "and SVG. Takes the options of 'llm720 fit'.",
        opts, 0, argc, argv, (char **)j.data + 1, L720_JOB_MAXFILES - 1, &npos, err);
    if (rc)
        return rc;
    j.ndata = j.data[0] ? 1 + npos : 0;
    double given[L720_LAW_MAXP];
    if (params) {
        const l720_law *law;
        if ((rc = l720_lawfile_read(params, &law, given, err)))
            return rc;
        j.law_name = law->name;
        j.given = given;
    }
    if (j.per_expert)
        return l720_err_set(err, L720_EINPUT, "plot fit: --per-expert is not plotted");
    rc = l720_fit_job_run(&j, err);
    if (!rc)
        rc = render(&j, out, title ? title : j.law->name, err);
    if (!rc) {
        cJSON *r = l720_fit_job_json(&j);
        char path[4096];
        snprintf(path, sizeof path, "%s.png", out);
        cJSON_AddStringToObject(r, "png", path);
        snprintf(path, sizeof path, "%s.svg", out);
        cJSON_AddStringToObject(r, "svg", path);
        if (!io->json)
            fprintf(io->out, "wrote %s.png and %s.svg (%zu points, RMSE %.4g)\n", out, out,
                    j.ntrain + j.nheld, j.rmse_train);
        *result = r;
    }
    l720_fit_job_clear(&j);
    return rc;
}
