/* cmd_plot_plan.c: llm720 plot plan isoflop|memory: the planner's curves as
 * gnuplot PNG + SVG.
 *   isoflop: loss vs N_act at a fixed FLOP budget, one curve per expert count,
 *            each curve's compute optimum marked.
 *   memory:  the loss of the best plan vs the memory budget, one curve per
 *            expert count, the background shaded by which E is best there and
 *            the memory of known machines marked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fit/plan_law.h"
#include "fit/plan_opt.h"
#include "fit/plan_report.h"
#include "fit/plan_table.h"
#include "gnuplot.h"
#include "hardware.h"
#include "opts.h"

/* Line colours, cycled over the expert counts. */
static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf", "#000080", "#808000"};
#define NCOL (sizeof colours / sizeof colours[0])

typedef struct plot_args {
    double flops, kv_tokens, bytes_per_param, mem_min, mem_max;
    const char *experts, *law, *out, *hardware;
    double width, height;
} plot_args;

/* isoflop: body of the gnuplot script into f. */
static int isoflop_body(FILE *f, const l720_plan_law *law, const plot_args *a, const double *ex,
                        size_t ne, l720_err *err)
{
    l720_plan_budget b = l720_plan_budget_default(a->flops);
    for (size_t i = 0; i < ne; i++) {
        l720_plan_point p;
        int rc = l720_plan_at(law, ex[i], &b, &p, err);
        if (rc)
            return rc;
        fprintf(f, "$C%zu << EOD\n", i);
        for (int k = 0; k <= 80; k++) {
            double N = p.active_params * pow(10, -1.5 + 3.0 * k / 80);
            fprintf(f, "%.10g %.10g\n", N, l720_plan_law_loss(law, N, a->flops / (6 * N), ex[i]));
        }
        fprintf(f, "EOD\n$O%zu << EOD\n%.10g %.10g\nEOD\n", i, p.active_params, p.loss);
    }
    fprintf(f,
            "set title 'IsoFLOP curves at %.3g FLOPs (optima marked)'\n"
            "set logscale x\nset format x '1e%%L'\nset xlabel 'active parameters N_act'\n"
            "set ylabel 'predicted loss'\nset key outside right\nset grid\n",
            a->flops);
    fprintf(f, "plot ");
    for (size_t i = 0; i < ne; i++)
        fprintf(f,
                "%s$C%zu with lines lw 2 lc rgb '%s' title 'E = %g', "
                "$O%zu with points pt 7 ps 1.3 lc rgb '%s' notitle",
                i ? ", \\\n     " : "", i, colours[i % NCOL], ex[i], i, colours[i % NCOL]);
    fprintf(f, "\n");
    return 0;
}

/* memory: body of the gnuplot script into f. */
static int memory_body(FILE *f, const l720_plan_law *law, const plot_args *a, const double *ex,
                       size_t ne, const l720_hardware *hw, size_t nh, l720_err *err)
{
    enum { NPTS = 121 };
    double M[NPTS];
    size_t best[NPTS];
    double *loss = malloc(ne * NPTS * sizeof *loss); /* [ne, NPTS] */
    l720_plan_point *all = malloc(ne * sizeof *all);
    int rc = 0;
    if (!loss || !all) {
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
        goto done;
    }
    for (int k = 0; k < NPTS && !rc; k++) {
        M[k] = a->mem_min * pow(a->mem_max / a->mem_min, k / (double)(NPTS - 1));
        l720_plan_budget b = l720_plan_budget_default(a->flops);
        b.memory_bytes = M[k];
        b.kv_tokens = a->kv_tokens;
        b.bytes_per_param = b.kv_bytes = a->bytes_per_param;
        l720_plan_point bp;
        rc = l720_plan_best(law, ex, ne, &b, all, &bp, &best[k], err);
        for (size_t i = 0; i < ne && !rc; i++)
            loss[i * NPTS + k] = all[i].loss;
    }
    if (rc)
        goto done;
    for (size_t i = 0; i < ne; i++) {
        fprintf(f, "$C%zu << EOD\n", i);
        for (int k = 0; k < NPTS; k++)
            fprintf(f, "%.10g %.10g\n", M[k], loss[i * NPTS + k]);
        fprintf(f, "EOD\n");
    }
    /* shade the regions where one E is best: boundaries halfway (in log) between samples */
    int obj = 1;
    for (int k = 0; k < NPTS;) {
        int j = k;
        while (j + 1 < NPTS && best[j + 1] == best[k])
            j++;
        double x0 = k == 0 ? M[0] : sqrt(M[k - 1] * M[k]);
        double x1 = j == NPTS - 1 ? M[NPTS - 1] : sqrt(M[j] * M[j + 1]);
        const char *c = colours[best[k] % NCOL];
        fprintf(f,
                "set object %d rect from %.10g, graph 0 to %.10g, graph 1 behind "
                "fc rgb '%s' fs transparent solid 0.15 noborder\n",
                obj++, x0, x1, c);
        if (j - k >= 5) /* label regions wide enough to hold one */
            fprintf(f, "set label 'E=%g' at %.10g, graph 0.96 center textcolor rgb '%s'\n",
                    ex[best[k]], sqrt(x0 * x1), c);
        k = j + 1;
    }
    for (size_t h = 0; h < nh; h++)
        if (hw[h].memory_bytes >= a->mem_min && hw[h].memory_bytes <= a->mem_max)
            fprintf(f,
                    "set arrow from %.10g, graph 0 to %.10g, graph 0.88 nohead dt 2 lc rgb '#404040'\n"
                    "set label '%s' at %.10g, graph 0.05 rotate by 90 left offset -0.8,0 "
                    "textcolor rgb '#404040'\n",
                    hw[h].memory_bytes, hw[h].memory_bytes, hw[h].name, hw[h].memory_bytes);
    fprintf(f,
            "set title 'Loss vs memory at %.3g FLOPs (parameters at %g bytes + %g-token KV "
            "cache); shading: best E'\n"
            "set logscale x\nset format x '1e%%L'\nset xrange [%.10g:%.10g]\n"
            "set xlabel 'memory budget (bytes)'\n"
            "set ylabel 'predicted loss of the best plan'\nset key outside right\nset grid\n",
            a->flops, a->bytes_per_param, a->kv_tokens, a->mem_min, a->mem_max);
    fprintf(f, "plot ");
    for (size_t i = 0; i < ne; i++)
        fprintf(f, "%s$C%zu with lines lw 2 lc rgb '%s' title 'E = %g'", i ? ", \\\n     " : "", i,
                colours[i % NCOL], ex[i]);
    fprintf(f, "\n");
done:
    free(loss);
    free(all);
    return rc;
}

int l720_cmd_plot_plan(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plot_args A = {.flops = NAN, .kv_tokens = 16384, .bytes_per_param = 2, .mem_min = 1e9,
                   .mem_max = 1e13, .width = 900, .height = 560};
    plot_args *a = &A;
    const l720_opt opts[] = {
        {"flops", L720_OPT_DOUBLE, &a->flops, "F", "FLOP budget (required)"},
        {"experts", L720_OPT_STRING, &a->experts, "LIST", "expert counts (default 1,4,16,64,256,1024)"},
        {"out", L720_OPT_STRING, &a->out, "BASE", "writes BASE.png and BASE.svg (default plan_KIND)"},
        {"kv-tokens", L720_OPT_DOUBLE, &a->kv_tokens, "T", "memory: KV-cache tokens counted in memory (default 16384)"},
        {"bytes-per-param", L720_OPT_DOUBLE, &a->bytes_per_param, "B", "memory: bytes per parameter and KV value (default 2)"},
        {"memory-min", L720_OPT_DOUBLE, &a->mem_min, "M", "memory: smallest budget in bytes (default 1e9)"},
        {"memory-max", L720_OPT_DOUBLE, &a->mem_max, "M", "memory: largest budget in bytes (default 1e13)"},
        {"hardware", L720_OPT_STRING, &a->hardware, "LIST", "memory: machines marked (default rtx4090,h100-sxm,h200,8xh100)"},
        {"law", L720_OPT_STRING, &a->law, "FILE", "law file (default the joint MoE law)"},
        {"width", L720_OPT_DOUBLE, &a->width, "PX", "image width (default 900)"},
        {"height", L720_OPT_DOUBLE, &a->height, "PX", "image height (default 560)"},
        {0}};
    char *pos[1];
    int npos = 0;
    int rc = l720_opts_parse_or_usage(
        io->out, "plot plan", "isoflop|memory --flops F [--experts LIST]",
        "isoflop: loss vs N_act at a fixed FLOP budget, one curve per E, optima marked.\n"
        "memory:  loss of the best plan vs memory budget, one curve per E, the best E\n"
        "         shaded by region and known machines' memory marked.",
        opts, 0, argc, argv, pos, 1, &npos, err);
    if (rc)
        return rc;
    if (npos != 1 || (strcmp(pos[0], "isoflop") && strcmp(pos[0], "memory")))
        return l720_err_set(err, L720_EINPUT, "expected what to plot: isoflop or memory, got '%s'",
                            npos ? pos[0] : "");
    int is_iso = !strcmp(pos[0], "isoflop");
    if ((rc = l720_opt_positive(a->flops, "flops", err)))
        return rc;
    if (!(a->mem_min > 0) || !(a->mem_max > a->mem_min))
        return l720_err_set(err, L720_EINPUT,
                            "--memory-min must be positive and below --memory-max");
    if (!(a->kv_tokens >= 0) || !(a->bytes_per_param > 0))
        return l720_err_set(err, L720_EINPUT, "--kv-tokens must be >= 0, --bytes-per-param > 0");
    if (!(a->width >= 100 && a->width <= 10000 && a->height >= 100 && a->height <= 10000))
        return l720_err_set(err, L720_EINPUT, "--width and --height must be 100 .. 10000 pixels");
    l720_plan_law law;
    double *ex;
    size_t ne, nh = 0;
    l720_hardware hw[16];
    if ((rc = l720_plan_law_load(a->law, &law, err)) ||
        (rc = l720_plan_parse_experts(a->experts ? a->experts : "1,4,16,64,256,1024", &ex, &ne,
                                      err)))
        return rc;
    if (!is_iso &&
        (rc = l720_hardware_load_list(a->hardware ? a->hardware : "rtx4090,h100-sxm,h200,8xh100",
                                      hw, 16, &nh, err))) {
        free(ex);
        return rc;
    }
    char base[4096];
    snprintf(base, sizeof base, "%s", a->out ? a->out : is_iso ? "plan_isoflop" : "plan_memory");
    char *body = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&body, &blen);
    if (!f) {
        free(ex);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    rc = is_iso ? isoflop_body(f, &law, a, ex, ne, err)
                : memory_body(f, &law, a, ex, ne, hw, nh, err);
    fclose(f);
    free(ex);
    if (!rc)
        rc = l720_gnuplot_render(body, base, (int)a->width, (int)a->height, err);
    free(body);
    if (rc)
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "plot", pos[0]);
    cJSON *files = cJSON_AddArrayToObject(r, "files");
    char path[4200];
    snprintf(path, sizeof path, "%s.png", base);
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    snprintf(path, sizeof path, "%s.svg", base);
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    cJSON_AddNumberToObject(r, "flops", a->flops);
    *result = r;
    if (!io->json)
        fprintf(io->out, "wrote %s.png and %s.svg\n", base, base);
    return 0;
}
